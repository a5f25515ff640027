//! `verify`: proves a copy message by message. For every folder of every
//! user it reads both sides (bodies streamed, one at a time; only digests
//! kept) and compares each source message with its copy: SHA-256 of the full
//! text, flags and keywords, INTERNALDATE. The copy is found through the UID
//! map; a message copied without a known target UID is matched by content.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use mailferry_core::folders::plan_folders;
use mailferry_imap::{ImapError, Session};
use mailferry_store::{UserFilter, UserRecord};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::sync::user::{folder_side, open_source, open_target};
use crate::sync::{NoProgress, RunContext};
use crate::{Engine, EngineError};

/// How many differences of each kind are listed per folder (all are counted).
const LISTED: usize = 100;

/// A message as verification sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Digest32 {
    sha256: [u8; 32],
    flags: Vec<String>,
    internal_date: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Altered {
    pub source_uid: u32,
    pub target_uid: u32,
    /// What differs: `content`, `flags`, `internaldate`.
    pub what: Vec<&'static str>,
    pub source_flags: Vec<String>,
    pub target_flags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct FolderVerify {
    pub folder: String,
    pub target_folder: String,
    pub messages_source: u64,
    pub matched: u64,
    /// Source UIDs with no copy on the target.
    pub missing: Vec<u32>,
    pub missing_count: u64,
    pub altered: Vec<Altered>,
    pub altered_count: u64,
    /// Target UIDs that are no copy of a source message.
    pub extra: Vec<u32>,
    pub extra_count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserVerify {
    pub email: String,
    pub folders: Vec<FolderVerify>,
    /// Verification of this user could not run (connection, login…).
    pub error: Option<String>,
}

/// `verify --json`: the totals of SPEC section 6, with the details.
#[derive(Debug, Clone, Serialize, Default)]
pub struct VerifyReport {
    pub messages_source: u64,
    pub matched: u64,
    pub missing: u64,
    pub altered: u64,
    pub extra: u64,
    pub errors: u64,
    pub users: Vec<UserVerify>,
}

impl VerifyReport {
    /// True when the copy is exact and every user could be verified.
    pub fn is_clean(&self) -> bool {
        self.missing == 0 && self.altered == 0 && self.extra == 0 && self.errors == 0
    }
}

impl Engine {
    /// Verifies the users of a batch (or one of them).
    pub async fn verify(&self, batch: &str, user: Option<&str>) -> Result<VerifyReport, EngineError> {
        let batch = self.store.batch(batch).await?;
        let cx = RunContext::load(self, &batch, Arc::new(NoProgress)).await?;
        let users = self
            .store
            .users(UserFilter { batch: Some(batch.name.to_string()), email: user.map(str::to_owned), ..UserFilter::default() })
            .await?;
        if let (Some(u), true) = (user, users.is_empty()) {
            return Err(EngineError::NotFound { what: "migration user in this batch", name: u.to_owned() });
        }
        let mut report = VerifyReport::default();
        for u in users {
            let result = verify_user(&cx, &u).await;
            let uv = match result {
                Ok(folders) => UserVerify { email: u.email.clone(), folders, error: None },
                Err(e) => UserVerify { email: u.email.clone(), folders: Vec::new(), error: Some(e) },
            };
            for f in &uv.folders {
                report.messages_source += f.messages_source;
                report.matched += f.matched;
                report.missing += f.missing_count;
                report.altered += f.altered_count;
                report.extra += f.extra_count;
            }
            report.errors += u64::from(uv.error.is_some());
            report.users.push(uv);
        }
        Ok(report)
    }
}

async fn verify_user(cx: &RunContext, user: &UserRecord) -> Result<Vec<FolderVerify>, String> {
    let mut source = open_source(cx, user).await.map_err(|e| e.to_string())?;
    let mut target = open_target(cx, user).await.map_err(|e| e.to_string())?;
    let source_side = folder_side(&mut source).await.map_err(|e| format!("source: {e}"))?;
    let target_side = folder_side(&mut target).await.map_err(|e| format!("target: {e}"))?;
    let filter = cx.options.folder_filter()?;
    let plan = plan_folders(&source_side, &target_side, &filter);
    let store = cx.engine.store();
    let mut out = Vec::new();
    for m in plan.mappings.iter().filter(|m| m.selectable) {
        let info = source.select(&m.source_wire, true).await.map_err(|e| format!("source folder {:?}: {e}", m.source_path))?;
        let uidvalidity = info.uidvalidity.unwrap_or(0);
        let source_msgs = read_folder(&mut source, info.exists).await.map_err(|e| format!("source folder {:?}: {e}", m.source_path))?;
        let target_msgs = if m.target_exists || target_side.folders.iter().any(|f| f.wire_name == m.target_wire) {
            let tinfo = target.select(&m.target_wire, true).await.map_err(|e| format!("target folder {:?}: {e}", m.target_path))?;
            read_folder(&mut target, tinfo.exists).await.map_err(|e| format!("target folder {:?}: {e}", m.target_path))?
        } else {
            BTreeMap::new()
        };
        let map: HashMap<u32, Option<u32>> = store
            .uid_map(&user.id, &m.source_wire, uidvalidity)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        let mut fv = compare(&source_msgs, &target_msgs, &map);
        fv.folder = m.source_path.clone();
        fv.target_folder = m.target_path.clone();
        out.push(fv);
    }
    let _ = source.logout().await;
    let _ = target.logout().await;
    Ok(out)
}

/// Every message of the selected folder: UID -> digest. Bodies are hashed
/// as they arrive and dropped.
async fn read_folder(session: &mut Session, exists: u32) -> Result<BTreeMap<u32, Digest32>, ImapError> {
    let mut out = BTreeMap::new();
    if exists == 0 {
        return Ok(out);
    }
    let mut stream = session.uid_fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])").await?;
    while let Some(f) = stream.next().await? {
        let (Some(uid), Some(body)) = (f.uid(), f.body()) else { continue };
        let mut flags: Vec<String> = f.flags().unwrap_or_default().into_iter().filter(|f| !f.eq_ignore_ascii_case("\\Recent")).collect();
        flags.sort_by_key(|f| f.to_ascii_lowercase());
        out.insert(uid, Digest32 { sha256: Sha256::digest(body).into(), flags, internal_date: f.internaldate().unwrap_or("").to_owned() });
    }
    Ok(out)
}

fn compare(source: &BTreeMap<u32, Digest32>, target: &BTreeMap<u32, Digest32>, map: &HashMap<u32, Option<u32>>) -> FolderVerify {
    let mut fv = FolderVerify { messages_source: source.len() as u64, ..FolderVerify::default() };
    let mut claimed: std::collections::HashSet<u32> = std::collections::HashSet::new();
    let mut by_content: HashMap<[u8; 32], Vec<u32>> = HashMap::new();
    for (uid, d) in target {
        by_content.entry(d.sha256).or_default().push(*uid);
    }
    let mut unmapped = Vec::new();
    for (uid, s) in source {
        match map.get(uid).copied().flatten() {
            Some(t) => match target.get(&t) {
                Some(d) => {
                    claimed.insert(t);
                    judge(&mut fv, *uid, t, s, d);
                }
                None => {
                    fv.missing_count += 1;
                    if fv.missing.len() < LISTED {
                        fv.missing.push(*uid);
                    }
                }
            },
            None => unmapped.push(*uid),
        }
    }
    // Copies without a recorded target UID (or never copied): by content.
    for uid in unmapped {
        let s = &source[&uid];
        let found = by_content.get(&s.sha256).and_then(|c| c.iter().copied().find(|t| !claimed.contains(t)));
        match found {
            Some(t) => {
                claimed.insert(t);
                judge(&mut fv, uid, t, s, &target[&t]);
            }
            None => {
                fv.missing_count += 1;
                if fv.missing.len() < LISTED {
                    fv.missing.push(uid);
                }
            }
        }
    }
    for uid in target.keys() {
        if !claimed.contains(uid) {
            fv.extra_count += 1;
            if fv.extra.len() < LISTED {
                fv.extra.push(*uid);
            }
        }
    }
    fv
}

fn judge(fv: &mut FolderVerify, su: u32, tu: u32, s: &Digest32, t: &Digest32) {
    let mut what = Vec::new();
    if s.sha256 != t.sha256 {
        what.push("content");
    }
    if s.flags != t.flags {
        what.push("flags");
    }
    if s.internal_date != t.internal_date {
        what.push("internaldate");
    }
    if what.is_empty() {
        fv.matched += 1;
    } else {
        fv.altered_count += 1;
        if fv.altered.len() < LISTED {
            fv.altered.push(Altered { source_uid: su, target_uid: tu, what, source_flags: s.flags.clone(), target_flags: t.flags.clone() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: u8, flags: &[&str]) -> Digest32 {
        Digest32 { sha256: [b; 32], flags: flags.iter().map(|f| f.to_string()).collect(), internal_date: "x".into() }
    }

    #[test]
    fn compare_finds_missing_altered_and_extra() {
        let source: BTreeMap<u32, Digest32> = [(1, d(1, &[])), (2, d(2, &["\\Seen"])), (3, d(3, &[])), (4, d(4, &[]))].into();
        let target: BTreeMap<u32, Digest32> = [(10, d(1, &[])), (11, d(2, &[])), (13, d(4, &[])), (14, d(9, &[]))].into();
        // 1 -> 10 exact; 2 -> 11 flags differ; 3 -> 12 gone; 4 unmapped but found by content.
        let map: HashMap<u32, Option<u32>> = [(1, Some(10)), (2, Some(11)), (3, Some(12)), (4, None)].into();
        let fv = compare(&source, &target, &map);
        assert_eq!((fv.matched, fv.altered_count, fv.missing_count, fv.extra_count), (2, 1, 1, 1));
        assert_eq!(fv.missing, vec![3]);
        assert_eq!(fv.extra, vec![14]);
        assert_eq!(fv.altered[0].what, vec!["flags"]);
    }

    #[test]
    fn two_identical_messages_need_two_copies() {
        let source: BTreeMap<u32, Digest32> = [(1, d(7, &[])), (2, d(7, &[]))].into();
        let target: BTreeMap<u32, Digest32> = [(5, d(7, &[]))].into();
        let fv = compare(&source, &target, &HashMap::new());
        assert_eq!((fv.matched, fv.missing_count), (1, 1));
    }
}
