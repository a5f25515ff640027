//! One folder of one user: resolve open intents, list the source's messages,
//! skip what is too large, copy the rest in bounded chunks.

use std::collections::{BTreeMap, HashMap};

use mailferry_core::folders::FolderMapping;
use mailferry_imap::{AppendRequest, AppendUid, Fetch, FlagsMode, ImapError, Session};
use mailferry_store::{CopyDone, CopyIntent, FolderState, Lease, SkipKind, SkippedItem, UserRecord};
use sha2::{Digest, Sha256};

use super::user::{Checkpoint, SyncError};
use super::RunContext;

/// At most this many messages per chunk of FETCH + APPEND.
const CHUNK_MESSAGES: usize = 64;
/// At most this many bytes of message bodies in memory per chunk (a single
/// larger message makes a chunk of its own).
const CHUNK_BYTES: u64 = 8 << 20;
/// How often a message the target refused is tried again before it is
/// skipped as `bad`.
const APPEND_RETRIES: usize = 1;

#[derive(Debug, Default)]
pub(crate) struct FolderTotals {
    pub messages_source: u64,
}

/// What the source says about a message before its body is fetched.
#[derive(Debug, Clone)]
struct Meta {
    uid: u32,
    size: u64,
    flags: Vec<String>,
}

/// A message fetched whole from the source.
struct Fetched {
    uid: u32,
    flags: Vec<String>,
    internal_date: Option<String>,
    body: Vec<u8>,
    sha256: [u8; 32],
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn sync_folder(
    cx: &RunContext,
    user: &UserRecord,
    source: &mut Session,
    target: &mut Session,
    m: &FolderMapping,
    state: Option<FolderState>,
    totals: &mut FolderTotals,
    checkpoint: &Checkpoint<'_>,
) -> Result<(), SyncError> {
    let store = cx.engine.store();
    let lease = checkpoint.lease;
    let condstore = source.capabilities().has("CONDSTORE");

    // An unchanged folder costs one STATUS: same UIDVALIDITY, same UIDNEXT,
    // same number of messages, same HIGHESTMODSEQ as at the start of the last
    // complete pass, and nothing left open then.
    let mut items = vec!["MESSAGES", "UIDNEXT", "UIDVALIDITY"];
    if condstore {
        items.push("HIGHESTMODSEQ");
    }
    // Both sides at once (one round trip of latency): a target folder that
    // was deleted and made again has a new UIDVALIDITY, and its copies must
    // be looked for again. A folder never synced has nothing to compare.
    if let Some(st) = &state {
        let (status, target_status) = tokio::join!(
            source.status(&m.source_wire, &items),
            target.status(&m.target_wire, &["UIDVALIDITY"])
        );
        let status = status.map_err(SyncError::source_side)?;
        let target_status = target_status.map_err(SyncError::target_side)?;
        let unchanged = condstore
            && st.target_uidvalidity.is_some()
            && st.target_uidvalidity == target_status.uidvalidity
            && st.target_folder.as_deref() == Some(m.target_wire.as_str())
            && st.source_uidvalidity.is_some()
            && st.source_uidvalidity == status.uidvalidity
            && st.last_seen_uid.is_some()
            && st.last_seen_uid.map(|u| u.saturating_add(1)) == status.uidnext
            && status.highestmodseq.is_some()
            && st.highest_modseq == status.highestmodseq
            && Some(st.messages_source) == status.messages.map(u64::from)
            && st.messages_source == st.messages_synced + st.messages_skipped;
        if unchanged && store.open_intents(&user.id, &m.source_wire).await?.is_empty() {
            totals.messages_source += st.messages_source;
            return Ok(());
        }
    }

    let info = source.select(&m.source_wire, true).await.map_err(SyncError::source_side)?;
    let uidvalidity = info
        .uidvalidity
        .ok_or_else(|| SyncError::Other(format!("source folder {:?} has no UIDVALIDITY", m.source_path)))?;
    // What this pass will record as "seen" when it completes: taken now, so
    // a change made while copying is caught by the next pass.
    let pass_uidnext = info.uidnext;
    let pass_modseq = info.highestmodseq;
    let tinfo = target.select(&m.target_wire, false).await.map_err(SyncError::target_side)?;
    if !tinfo.read_write {
        return Err(SyncError::Other(format!("target folder {:?} opened read-only", m.target_path)));
    }
    let target_uidvalidity = tinfo
        .uidvalidity
        .ok_or_else(|| SyncError::Other(format!("target folder {:?} has no UIDVALIDITY", m.target_path)))?;

    let mut state = state.unwrap_or_else(|| FolderState::new(&user.id, &m.source_wire));
    let source_changed = state.source_uidvalidity.is_some_and(|old| old != uidvalidity);
    let target_changed = state.target_folder.as_deref() == Some(m.target_wire.as_str())
        && state.target_uidvalidity.is_some_and(|old| old != target_uidvalidity);
    let rematch = source_changed || target_changed;
    if rematch {
        tracing::warn!(
            user = %user.email, folder = %m.source_path, source_changed, target_changed,
            "UIDVALIDITY changed: the recorded copies are matched again by content"
        );
        store.forget_folder_copies(&user.id, &m.source_wire, lease).await?;
        state = store
            .folder_states(&user.id)
            .await?
            .into_iter()
            .find(|s| s.source_folder == m.source_wire)
            .unwrap_or(state);
    }
    state.source_uidvalidity = Some(uidvalidity);
    state.target_folder = Some(m.target_wire.clone());
    state.target_uidvalidity = Some(target_uidvalidity);
    state.subscribed = m.subscribed;
    store.upsert_folder_state(&state, lease).await?;

    resolve_intents(cx, user, target, m, uidvalidity, target_uidvalidity, lease).await?;

    // The source's messages (metadata only, flags included for the flag sync).
    let mut metas = Vec::with_capacity(info.exists as usize);
    if info.exists > 0 {
        let mut stream = source.uid_fetch("1:*", "(UID FLAGS RFC822.SIZE)").await.map_err(SyncError::source_side)?;
        while let Some(f) = stream.next().await.map_err(SyncError::source_side)? {
            if let (Some(uid), Some(size)) = (f.uid(), f.rfc822_size()) {
                metas.push(Meta { uid, size, flags: f.flags().unwrap_or_default() });
            }
        }
    }
    metas.sort_by_key(|m| m.uid);
    let messages_source = metas.len() as u64;
    totals.messages_source += messages_source;

    if rematch {
        adopt_by_content(cx, user, source, target, m, uidvalidity, target_uidvalidity, lease).await?;
    }
    let copied = store.copied_uids(&user.id, &m.source_wire, uidvalidity).await?;

    // Flags of messages copied in earlier passes.
    if !copied.is_empty() && !rematch {
        sync_flags(cx, user, source, target, m, uidvalidity, &metas, state.highest_modseq.filter(|_| condstore)).await?;
    }

    let todo: Vec<Meta> = metas.into_iter().filter(|meta| copied.binary_search(&meta.uid).is_err()).collect();
    // A message over what one IMAP literal may carry here is `large` too.
    let literal_limit = Some(mailferry_imap::Limits::default().max_literal);
    let limit = [cx.options.max_message_size, target.capabilities().append_limit(), literal_limit].into_iter().flatten().min();
    let (large, todo): (Vec<Meta>, Vec<Meta>) = todo.into_iter().partition(|meta| limit.is_some_and(|l| meta.size > l));
    cx.progress.user_planned(&user.email, todo.len() as u64, todo.iter().map(|m| m.size).sum());
    if !large.is_empty() {
        skip_large(cx, user, source, m, uidvalidity, &large, limit.unwrap_or(0), lease).await?;
    }

    // The copy is a two-stage pipeline: while one chunk is appended to the
    // target, the next is fetched from the source (two chunks in memory at
    // most).
    let mut next_uid = tinfo.uidnext.unwrap_or(1);
    let work = chunks(&todo);
    let mut pending = match work.first() {
        Some(first) => Some(fetch_chunk(source, first).await?),
        None => None,
    };
    let mut i = 0;
    while let Some(messages) = pending.take() {
        checkpoint.check().await?;
        let upcoming = work.get(i + 1);
        let (fetched, stored) = tokio::join!(
            async {
                match upcoming {
                    Some(c) => fetch_chunk(source, c).await.map(Some),
                    None => Ok(None),
                }
            },
            store_chunk(cx, user, target, m, uidvalidity, target_uidvalidity, messages, next_uid, checkpoint)
        );
        next_uid = stored?;
        pending = fetched?;
        i += 1;
    }

    // The pass is complete: remember where it started, for the next one.
    let mut state = store
        .folder_states(&user.id)
        .await?
        .into_iter()
        .find(|s| s.source_folder == m.source_wire)
        .unwrap_or(state);
    state.messages_source = messages_source;
    state.last_seen_uid = pass_uidnext.map(|u| u.saturating_sub(1));
    state.highest_modseq = pass_modseq;
    state.last_sync_at = Some(chrono::Utc::now());
    store.upsert_folder_state(&state, lease).await?;
    Ok(())
}

/// Makes the target's flags of already-copied messages equal the source's.
/// With CONDSTORE and a known modseq only the messages changed since then
/// are looked at (`CHANGEDSINCE`); otherwise every copied message's flags
/// are compared with its copy's.
#[allow(clippy::too_many_arguments)]
async fn sync_flags(
    cx: &RunContext,
    user: &UserRecord,
    source: &mut Session,
    target: &mut Session,
    m: &FolderMapping,
    uidvalidity: u32,
    metas: &[Meta],
    since_modseq: Option<u64>,
) -> Result<(), SyncError> {
    let map: HashMap<u32, u32> = cx
        .engine
        .store()
        .uid_map(&user.id, &m.source_wire, uidvalidity)
        .await?
        .into_iter()
        .filter_map(|(s, t)| t.map(|t| (s, t)))
        .collect();
    if map.is_empty() {
        return Ok(());
    }
    // source UID -> flags that should be on the copy
    let wanted: Vec<(u32, Vec<String>)> = match since_modseq {
        Some(modseq) => {
            let mut changed = Vec::new();
            let mut stream = source
                .uid_fetch("1:*", &format!("(UID FLAGS) (CHANGEDSINCE {modseq})"))
                .await
                .map_err(SyncError::source_side)?;
            while let Some(f) = stream.next().await.map_err(SyncError::source_side)? {
                if let Some(uid) = f.uid() {
                    changed.push((uid, f.flags().unwrap_or_default()));
                }
            }
            changed
        }
        None => metas.iter().map(|m| (m.uid, m.flags.clone())).collect(),
    };
    let wanted: Vec<(u32, Vec<String>)> = wanted.into_iter().filter(|(s, _)| map.contains_key(s)).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    // The copies' current flags.
    let mut current: HashMap<u32, Vec<String>> = HashMap::new();
    {
        let set = uid_set({
            let mut t: Vec<u32> = wanted.iter().map(|(s, _)| map[s]).collect();
            t.sort_unstable();
            t
        });
        let mut stream = target.uid_fetch(&set, "(UID FLAGS)").await.map_err(SyncError::target_side)?;
        while let Some(f) = stream.next().await.map_err(SyncError::target_side)? {
            if let Some(uid) = f.uid() {
                current.insert(uid, f.flags().unwrap_or_default());
            }
        }
    }
    // Group the copies that need the same flag list: one STORE per group.
    let mut groups: BTreeMap<Vec<String>, Vec<u32>> = BTreeMap::new();
    for (s, flags) in wanted {
        let t = map[&s];
        let Some(have) = current.get(&t) else { continue }; // the copy is gone; verify reports it
        let norm = |v: &[String]| {
            let mut v: Vec<String> = v.iter().filter(|f| !f.eq_ignore_ascii_case("\\Recent")).cloned().collect();
            v.sort();
            v
        };
        let want = norm(&flags);
        if norm(have) != want {
            groups.entry(want).or_default().push(t);
        }
    }
    for (flags, mut uids) in groups {
        uids.sort_unstable();
        target
            .uid_store_flags(&uid_set(uids), FlagsMode::Replace, &flags)
            .await
            .map_err(SyncError::target_side)?;
    }
    Ok(())
}

/// After a UIDVALIDITY change: every source message whose exact copy is
/// already on the target (same SHA-256, not yet claimed by another) is
/// recorded as copied there, so only the rest is copied again.
#[allow(clippy::too_many_arguments)]
async fn adopt_by_content(
    cx: &RunContext,
    user: &UserRecord,
    source: &mut Session,
    target: &mut Session,
    m: &FolderMapping,
    uidvalidity: u32,
    target_uidvalidity: u32,
    lease: Option<&Lease>,
) -> Result<(), SyncError> {
    let mut on_target: HashMap<[u8; 32], Vec<u32>> = HashMap::new();
    {
        let mut stream = target.uid_fetch("1:*", "(UID BODY.PEEK[])").await.map_err(SyncError::target_side)?;
        while let Some(f) = stream.next().await.map_err(SyncError::target_side)? {
            if let (Some(uid), Some(body)) = (f.uid(), f.body()) {
                on_target.entry(Sha256::digest(body).into()).or_default().push(uid);
            }
        }
    }
    if on_target.is_empty() {
        return Ok(());
    }
    let mut intents = Vec::new();
    let mut done = Vec::new();
    {
        let mut stream = source.uid_fetch("1:*", "(UID BODY.PEEK[])").await.map_err(SyncError::source_side)?;
        while let Some(f) = stream.next().await.map_err(SyncError::source_side)? {
            let (Some(uid), Some(body)) = (f.uid(), f.body()) else { continue };
            let sha: [u8; 32] = Sha256::digest(body).into();
            if let Some(t) = on_target.get_mut(&sha).and_then(|v| v.pop()) {
                intents.push(CopyIntent {
                    source_folder: m.source_wire.clone(),
                    source_uidvalidity: uidvalidity,
                    source_uid: uid,
                    target_folder: m.target_wire.clone(),
                    target_uidvalidity: Some(target_uidvalidity),
                    target_uidnext: None,
                    size: body.len() as u64,
                    internal_date: None,
                    sha256: Some(sha),
                });
                done.push(CopyDone { source_folder: m.source_wire.clone(), source_uidvalidity: uidvalidity, source_uid: uid, target_uidvalidity: Some(target_uidvalidity), target_uid: Some(t) });
            }
        }
    }
    let store = cx.engine.store();
    store.record_intents(&user.id, &intents, lease).await?;
    store.record_copies_done(&user.id, &done, lease).await?;
    tracing::info!(user = %user.email, folder = %m.source_path, adopted = done.len(), "copies found again by content");
    Ok(())
}

/// Splits the work into chunks bounded by count and bytes.
fn chunks(todo: &[Meta]) -> Vec<&[Meta]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, meta) in todo.iter().enumerate() {
        if i > start && (i - start >= CHUNK_MESSAGES || bytes + meta.size > CHUNK_BYTES) {
            out.push(&todo[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += meta.size;
    }
    if start < todo.len() {
        out.push(&todo[start..]);
    }
    out
}

/// A UID set in compact form: `1:5,7,9:12`.
pub(crate) fn uid_set(uids: impl IntoIterator<Item = u32>) -> String {
    let mut out = String::new();
    let mut run: Option<(u32, u32)> = None;
    let flush = |run: (u32, u32), out: &mut String| {
        if !out.is_empty() {
            out.push(',');
        }
        if run.0 == run.1 {
            out.push_str(&run.0.to_string());
        } else {
            out.push_str(&format!("{}:{}", run.0, run.1));
        }
    };
    for uid in uids {
        run = match run {
            Some((a, b)) if uid == b + 1 => Some((a, uid)),
            Some(r) => {
                flush(r, &mut out);
                Some((uid, uid))
            }
            None => Some((uid, uid)),
        };
    }
    if let Some(r) = run {
        flush(r, &mut out);
    }
    out
}

fn fetched(f: Fetch) -> Option<Fetched> {
    let uid = f.uid()?;
    let body = f.body()?.to_vec();
    let sha256 = Sha256::digest(&body).into();
    Some(Fetched { uid, flags: f.flags().unwrap_or_default(), internal_date: f.internaldate().map(str::to_owned), body, sha256 })
}

/// Fetches a chunk of messages whole from the source.
async fn fetch_chunk(source: &mut Session, chunk: &[Meta]) -> Result<Vec<Fetched>, SyncError> {
    let mut messages = Vec::with_capacity(chunk.len());
    let set = uid_set(chunk.iter().map(|m| m.uid));
    let mut stream = source
        .uid_fetch(&set, "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        .await
        .map_err(SyncError::source_side)?;
    while let Some(f) = stream.next().await.map_err(SyncError::source_side)? {
        if let Some(msg) = fetched(f) {
            messages.push(msg);
        }
    }
    // Messages expunged since the listing are simply gone from the answer.
    messages.sort_by_key(|m| m.uid);
    messages.dedup_by_key(|m| m.uid);
    Ok(messages)
}

/// Appends a fetched chunk to the target: intents first, then the
/// pipelined APPENDs, then the results. Returns the target's next UID.
#[allow(clippy::too_many_arguments)]
async fn store_chunk(
    cx: &RunContext,
    user: &UserRecord,
    target: &mut Session,
    m: &FolderMapping,
    uidvalidity: u32,
    target_uidvalidity: u32,
    messages: Vec<Fetched>,
    next_uid: u32,
    checkpoint: &Checkpoint<'_>,
) -> Result<u32, SyncError> {
    let store = cx.engine.store();
    let lease = checkpoint.lease;
    if messages.is_empty() {
        return Ok(next_uid);
    }

    let intents: Vec<CopyIntent> = messages
        .iter()
        .map(|msg| CopyIntent {
            source_folder: m.source_wire.clone(),
            source_uidvalidity: uidvalidity,
            source_uid: msg.uid,
            target_folder: m.target_wire.clone(),
            target_uidvalidity: Some(target_uidvalidity),
            target_uidnext: Some(next_uid),
            size: msg.body.len() as u64,
            internal_date: None,
            sha256: Some(msg.sha256),
        })
        .collect();
    store.record_intents(&user.id, &intents, lease).await?;
    checkpoint.confirm_lease().await?;

    let requests: Vec<AppendRequest<'_>> = messages
        .iter()
        .map(|msg| AppendRequest { flags: &msg.flags, internal_date: msg.internal_date.as_deref(), message: &msg.body })
        .collect();
    // MULTIAPPEND saves the chunk in one transaction on the server (one
    // sync to disk instead of one per message); if the server refuses it,
    // nothing was saved and the messages go one at a time, so that only a
    // message the server really refuses is skipped.
    let multi = messages.len() > 1 && target.capabilities().has("MULTIAPPEND") && target.capabilities().has("LITERAL+");
    let results: Vec<Result<Option<AppendUid>, ImapError>> = if multi {
        match target.append_multi(&m.target_wire, &requests).await {
            Ok(Some((tv, uids))) => uids.into_iter().map(|uid| Ok(Some(AppendUid { uidvalidity: tv, uid }))).collect(),
            Ok(None) => messages.iter().map(|_| Ok(None)).collect(),
            Err(ImapError::No { .. } | ImapError::Bad { .. } | ImapError::InvalidArgument { .. }) => {
                target.append_many(&m.target_wire, &requests).await.map_err(SyncError::target_side)?
            }
            Err(e) => return Err(SyncError::target_side(e)),
        }
    } else {
        target.append_many(&m.target_wire, &requests).await.map_err(SyncError::target_side)?
    };

    let mut done = Vec::new();
    let mut without_uid = Vec::new();
    let mut next = next_uid;
    let mut bytes = 0u64;
    for (msg, result) in messages.iter().zip(results) {
        let result = match result {
            Err(ImapError::No { .. }) => retry_append(target, &m.target_wire, msg).await,
            other => other,
        };
        match result {
            Ok(Some(AppendUid { uidvalidity: tv, uid })) => {
                next = next.max(uid.saturating_add(1));
                bytes += msg.body.len() as u64;
                done.push(CopyDone { source_folder: m.source_wire.clone(), source_uidvalidity: uidvalidity, source_uid: msg.uid, target_uidvalidity: Some(tv), target_uid: Some(uid) });
            }
            Ok(None) => {
                bytes += msg.body.len() as u64;
                without_uid.push(msg.uid);
            }
            Err(e @ (ImapError::No { .. } | ImapError::Bad { .. } | ImapError::InvalidArgument { .. })) => {
                store
                    .drop_intents(&user.id, &[(m.source_wire.clone(), uidvalidity, msg.uid)], lease)
                    .await?;
                record_skip(cx, user, m, uidvalidity, msg.uid, msg.body.len() as u64, Some(&msg.body), SkipKind::Bad, format!("the target refused it: {e}"), lease).await?;
            }
            Err(e) => {
                // The connection is gone: what was answered is recorded; the
                // rest stays as intents, looked up on the next run.
                store.record_copies_done(&user.id, &done, lease).await?;
                return Err(SyncError::target_side(e));
            }
        }
    }
    if !without_uid.is_empty() {
        // No UIDPLUS: the new messages are the ones at or above the UIDNEXT
        // seen before the appends, in the order they were appended.
        let found: Vec<u32> = target
            .uid_search(&format!("UID {next}:*"))
            .await
            .map_err(SyncError::target_side)?
            .into_iter()
            .filter(|u| *u >= next)
            .collect();
        let exact = found.len() == without_uid.len();
        for (i, source_uid) in without_uid.iter().enumerate() {
            let target_uid = if exact { Some(found[i]) } else { None };
            done.push(CopyDone { source_folder: m.source_wire.clone(), source_uidvalidity: uidvalidity, source_uid: *source_uid, target_uidvalidity: Some(target_uidvalidity), target_uid });
        }
        if let Some(max) = found.iter().max() {
            next = next.max(max + 1);
        }
    }
    store.record_copies_done(&user.id, &done, lease).await?;
    cx.progress.messages_done(&user.email, messages.len() as u64, bytes);
    Ok(next)
}

async fn retry_append(target: &mut Session, mailbox: &str, msg: &Fetched) -> Result<Option<AppendUid>, ImapError> {
    let mut last = None;
    for _ in 0..APPEND_RETRIES {
        match target.append(mailbox, &msg.flags, msg.internal_date.as_deref(), &msg.body).await {
            Ok(r) => return Ok(r),
            Err(e @ (ImapError::No { .. } | ImapError::Bad { .. })) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(ImapError::Closed))
}

/// Records the `large` messages, with their subject and date for the report.
async fn skip_large(
    cx: &RunContext,
    user: &UserRecord,
    source: &mut Session,
    m: &FolderMapping,
    uidvalidity: u32,
    large: &[Meta],
    limit: u64,
    lease: Option<&Lease>,
) -> Result<(), SyncError> {
    let set = uid_set(large.iter().map(|m| m.uid));
    let mut headers = Vec::new();
    {
        let mut stream = source
            .uid_fetch(&set, "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT DATE)])")
            .await
            .map_err(SyncError::source_side)?;
        while let Some(f) = stream.next().await.map_err(SyncError::source_side)? {
            if let Some(uid) = f.uid() {
                headers.push((uid, f.header_fields().map(|h| h.to_vec())));
            }
        }
    }
    for meta in large {
        let h = headers.iter().find(|(u, _)| *u == meta.uid).and_then(|(_, h)| h.as_deref());
        record_skip(cx, user, m, uidvalidity, meta.uid, meta.size, h, SkipKind::Large, format!("{} bytes is over the limit of {limit} bytes", meta.size), lease).await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn record_skip(
    cx: &RunContext,
    user: &UserRecord,
    m: &FolderMapping,
    uidvalidity: u32,
    uid: u32,
    size: u64,
    header: Option<&[u8]>,
    kind: SkipKind,
    reason: String,
    lease: Option<&Lease>,
) -> Result<(), SyncError> {
    let (subject, date) = header.map(header_subject_date).unwrap_or((None, None));
    cx.engine
        .store()
        .record_skipped(
            &user.id,
            &SkippedItem { folder: m.source_wire.clone(), source_uidvalidity: uidvalidity, uid, size: Some(size), date, subject, kind, reason, created_at: None },
            lease,
        )
        .await?;
    cx.progress.messages_done(&user.email, 1, 0);
    Ok(())
}

/// Subject and Date of a message's header, for reports (unfolded, decoded
/// leniently; never used to change the message).
fn header_subject_date(bytes: &[u8]) -> (Option<String>, Option<String>) {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| bytes.windows(2).position(|w| w == b"\n\n")).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..end]);
    let mut subject = None;
    let mut date = None;
    let mut current: Option<(String, String)> = None;
    let mut finish = |cur: Option<(String, String)>| {
        if let Some((name, value)) = cur {
            let value = value.trim().to_owned();
            if name.eq_ignore_ascii_case("subject") && subject.is_none() {
                subject = Some(value);
            } else if name.eq_ignore_ascii_case("date") && date.is_none() {
                date = Some(value);
            }
        }
    };
    for line in text.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = current.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            finish(current.take());
            current = Some((name.to_owned(), value.to_owned()));
        }
    }
    finish(current.take());
    let cap = |s: Option<String>| s.map(|s| s.chars().take(300).collect());
    (cap(subject), cap(date))
}

/// Intents left open by an interrupted run: each message may or may not have
/// been appended. A copy has a UID at or above the UIDNEXT recorded with the
/// intent, the same size and the same SHA-256; found, the intent is done;
/// not found, it is dropped and the message is copied again.
async fn resolve_intents(
    cx: &RunContext,
    user: &UserRecord,
    target: &mut Session,
    m: &FolderMapping,
    uidvalidity: u32,
    target_uidvalidity: u32,
    lease: Option<&Lease>,
) -> Result<(), SyncError> {
    let store = cx.engine.store();
    let intents = store.open_intents(&user.id, &m.source_wire).await?;
    if intents.is_empty() {
        return Ok(());
    }
    wait_for_quiet_target(target, m).await?;
    let mapped: Vec<u32> = store
        .uid_map(&user.id, &m.source_wire, uidvalidity)
        .await?
        .into_iter()
        .filter_map(|(_, t)| t)
        .collect();
    let mut done = Vec::new();
    let mut dropped = Vec::new();
    let mut taken: Vec<u32> = Vec::new();
    for intent in intents {
        let key = (intent.source_folder.clone(), intent.source_uidvalidity, intent.source_uid);
        let comparable = intent.source_uidvalidity == uidvalidity
            && intent.target_folder == m.target_wire
            && intent.target_uidvalidity == Some(target_uidvalidity);
        let (Some(from), Some(sha), true) = (intent.target_uidnext, intent.sha256, comparable) else {
            dropped.push(key);
            continue;
        };
        let candidates: Vec<u32> = target
            .uid_search(&format!("UID {from}:*"))
            .await
            .map_err(SyncError::target_side)?
            .into_iter()
            .filter(|u| *u >= from && !mapped.contains(u) && !taken.contains(u))
            .collect();
        let mut found = None;
        if !candidates.is_empty() {
            let mut stream = target
                .uid_fetch(&uid_set(candidates), "(UID RFC822.SIZE BODY.PEEK[])")
                .await
                .map_err(SyncError::target_side)?;
            while let Some(f) = stream.next().await.map_err(SyncError::target_side)? {
                let (Some(uid), Some(body)) = (f.uid(), f.body()) else { continue };
                if found.is_none() && body.len() as u64 == intent.size && <[u8; 32]>::from(Sha256::digest(body)) == sha {
                    found = Some(uid);
                }
            }
        }
        match found {
            Some(uid) => {
                taken.push(uid);
                done.push(CopyDone { source_folder: key.0, source_uidvalidity: key.1, source_uid: key.2, target_uidvalidity: Some(target_uidvalidity), target_uid: Some(uid) });
            }
            None => dropped.push(key),
        }
    }
    tracing::info!(user = %user.email, folder = %m.source_path, found = done.len(), not_found = dropped.len(), "resolved interrupted copies");
    store.record_copies_done(&user.id, &done, lease).await?;
    store.drop_intents(&user.id, &dropped, lease).await?;
    Ok(())
}

/// After a crash the server may still be executing APPENDs the dead process
/// had pipelined (they sit in the server's receive buffer). Intents are only
/// judged once the target folder's UIDNEXT stood still for a while, so a copy
/// that lands late is not taken for missing and copied again.
async fn wait_for_quiet_target(target: &mut Session, m: &FolderMapping) -> Result<(), SyncError> {
    const QUIET: std::time::Duration = std::time::Duration::from_secs(2);
    const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
    let started = tokio::time::Instant::now();
    let mut last = target.status(&m.target_wire, &["UIDNEXT"]).await.map_err(SyncError::target_side)?.uidnext;
    let mut since = tokio::time::Instant::now();
    while since.elapsed() < QUIET && started.elapsed() < MAX_WAIT {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let now = target.status(&m.target_wire, &["UIDNEXT"]).await.map_err(SyncError::target_side)?.uidnext;
        if now != last {
            last = now;
            since = tokio::time::Instant::now();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set([1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set([9]), "9");
        assert_eq!(uid_set([]), "");
    }

    #[test]
    fn chunks_respect_count_and_bytes() {
        let todo: Vec<Meta> = (1..=200).map(|uid| Meta { uid, size: 100, flags: Vec::new() }).collect();
        let c = chunks(&todo);
        assert_eq!(c.len(), 4);
        assert!(c.iter().all(|c| c.len() <= CHUNK_MESSAGES));
        let big: Vec<Meta> = (1..=3).map(|uid| Meta { uid, size: CHUNK_BYTES, flags: Vec::new() }).collect();
        assert_eq!(chunks(&big).len(), 3, "a large message is a chunk of its own");
    }

    #[test]
    fn subject_and_date_are_read_leniently() {
        let h = b"Subject: Hello\r\n  world\r\nDate: Mon, 1 Jan 2018 10:00:00 +0100\r\n\r\n";
        let (s, d) = header_subject_date(h);
        assert_eq!(s.as_deref(), Some("Hello world"));
        assert_eq!(d.as_deref(), Some("Mon, 1 Jan 2018 10:00:00 +0100"));
        assert_eq!(header_subject_date(b"\xff\xfe"), (None, None));
    }
}
