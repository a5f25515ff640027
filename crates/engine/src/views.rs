//! The JSON shapes returned by the CLI's `--json` and by the API (SPEC
//! section 6). Fields may be added, never renamed. No view has a field that
//! could hold a secret.

use chrono::{DateTime, Utc};
use serde::Serialize;

use mailferry_store::EndpointRecord;

/// `endpoint show` and each element of `endpoint list`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub name: String,
    pub kind: &'static str,
    pub host: String,
    pub port: u16,
    pub security: &'static str,
    pub impersonation: &'static str,
    pub verified: bool,
    pub discovered_from: Option<String>,
    pub admin: Option<String>,
    pub master_separator: Option<String>,
    pub login_format: String,
    pub test_mailbox: Option<String>,
    pub max_concurrent_migrations: u32,
    pub max_concurrent_incremental: u32,
    /// Whether an extra CA is stored for this endpoint (the PEM itself is
    /// public, but long; `true` is what an administrator needs to know).
    pub has_ca: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&EndpointRecord> for EndpointView {
    fn from(r: &EndpointRecord) -> Self {
        let s = &r.settings;
        EndpointView {
            name: r.name.to_string(),
            kind: s.kind.as_str(),
            host: s.host.clone(),
            port: s.port,
            security: s.security.as_str(),
            impersonation: s.impersonation.method_name(),
            verified: r.verified,
            discovered_from: r.discovered_from.clone(),
            admin: s.admin_login.clone(),
            master_separator: s.impersonation.separator().map(str::to_owned),
            login_format: s.login_format.as_str().to_owned(),
            test_mailbox: r.test_mailbox.clone(),
            max_concurrent_migrations: s.max_concurrent_migrations,
            max_concurrent_incremental: s.max_concurrent_incremental,
            has_ca: s.ca_pem.is_some(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

use mailferry_store::{FolderState, SkippedItem, UserRecord};

use crate::batch::BatchState;

/// A migration user in `batch show`, `user list` and the report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub email: String,
    pub batch: String,
    pub status: String,
    pub items_source: u64,
    pub items_synced: u64,
    pub items_skipped: u64,
    pub items_skipped_bad: u64,
    pub items_skipped_large: u64,
    pub bytes_synced: u64,
    pub last_sync: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub source_login: String,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            email: u.email.clone(),
            batch: u.batch_name.to_string(),
            status: u.status.to_string(),
            items_source: u.items_source,
            items_synced: u.items_synced,
            items_skipped: u.items_skipped_bad + u.items_skipped_large,
            items_skipped_bad: u.items_skipped_bad,
            items_skipped_large: u.items_skipped_large,
            bytes_synced: u.bytes_synced,
            last_sync: u.last_sync_at,
            error: u.last_error.clone(),
            source_login: u.source_login.clone(),
        }
    }
}

/// `batch show` (with users) and `batch list` (without).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchView {
    pub name: String,
    pub status: String,
    pub source: String,
    pub target: String,
    pub created_at: DateTime<Utc>,
    pub user_count: usize,
    pub items_source: u64,
    pub items_synced: u64,
    pub items_skipped: u64,
    pub bytes_synced: u64,
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserView>>,
}

impl BatchView {
    pub fn new(state: &BatchState, with_users: bool) -> Self {
        let users: Vec<UserView> = state.users.iter().map(UserView::from).collect();
        BatchView {
            name: state.batch.name.to_string(),
            status: state.status.to_string(),
            source: state.batch.source_endpoint.to_string(),
            target: state.batch.target_endpoint.to_string(),
            created_at: state.batch.created_at,
            user_count: users.len(),
            items_source: users.iter().map(|u| u.items_source).sum(),
            items_synced: users.iter().map(|u| u.items_synced).sum(),
            items_skipped: users.iter().map(|u| u.items_skipped).sum(),
            bytes_synced: users.iter().map(|u| u.bytes_synced).sum(),
            options: state.batch.options_json.clone(),
            users: with_users.then_some(users),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FolderView {
    pub source: String,
    pub target: Option<String>,
    pub messages_source: u64,
    pub messages_synced: u64,
    pub messages_skipped: u64,
    pub bytes_synced: u64,
    pub subscribed: bool,
    pub last_sync: Option<DateTime<Utc>>,
}

impl From<&FolderState> for FolderView {
    fn from(f: &FolderState) -> Self {
        let decode = |wire: &str| mailferry_core::mutf7::decode(wire).unwrap_or_else(|_| wire.to_owned());
        FolderView {
            source: decode(&f.source_folder),
            target: f.target_folder.as_deref().map(decode),
            messages_source: f.messages_source,
            messages_synced: f.messages_synced,
            messages_skipped: f.messages_skipped,
            bytes_synced: f.bytes_synced,
            subscribed: f.subscribed,
            last_sync: f.last_sync_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SkippedView {
    pub folder: String,
    pub uid: u32,
    pub size: Option<u64>,
    pub date: Option<String>,
    pub subject: Option<String>,
    pub kind: String,
    pub reason: String,
}

impl From<&SkippedItem> for SkippedView {
    fn from(s: &SkippedItem) -> Self {
        SkippedView {
            folder: mailferry_core::mutf7::decode(&s.folder).unwrap_or_else(|_| s.folder.clone()),
            uid: s.uid,
            size: s.size,
            date: s.date.clone(),
            subject: s.subject.clone(),
            kind: s.kind.as_str().to_owned(),
            reason: s.reason.clone(),
        }
    }
}

/// `user show`: the user, its folders and its skipped items.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserDetailView {
    #[serde(flatten)]
    pub user: UserView,
    pub folders: Vec<FolderView>,
    pub skipped_items: Vec<SkippedView>,
}

/// The columns of the batch report as CSV.
pub const REPORT_COLUMNS: [&str; 17] = [
    "EmailAddress", "Status", "ItemsInSource", "ItemsSynced", "ItemsSkipped", "ItemsSkippedBad",
    "ItemsSkippedLarge", "BytesSynced", "LastSync", "Error", "SkippedFolder", "SkippedUid",
    "SkippedSize", "SkippedDate", "SkippedSubject", "SkippedKind", "SkippedReason",
];

/// The batch report as CSV (`batch report`, `GET …/report?format=csv`): one
/// row per mailbox, then one row per skipped item of it (with `SkippedKind`
/// set), so one file holds everything.
pub fn report_csv(users: &[UserDetailView]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(REPORT_COLUMNS)?;
    for d in users {
        let u = &d.user;
        let mut row = vec![
            u.email.clone(),
            u.status.clone(),
            u.items_source.to_string(),
            u.items_synced.to_string(),
            u.items_skipped.to_string(),
            u.items_skipped_bad.to_string(),
            u.items_skipped_large.to_string(),
            u.bytes_synced.to_string(),
            u.last_sync.map(|t| t.to_rfc3339()).unwrap_or_default(),
            u.error.clone().unwrap_or_default(),
        ];
        row.resize(REPORT_COLUMNS.len(), String::new());
        w.write_record(&row)?;
        for s in &d.skipped_items {
            let mut row = vec![u.email.clone()];
            row.resize(10, String::new());
            row.extend([
                s.folder.clone(),
                s.uid.to_string(),
                s.size.map(|n| n.to_string()).unwrap_or_default(),
                s.date.clone().unwrap_or_default(),
                s.subject.clone().unwrap_or_default(),
                s.kind.clone(),
                s.reason.clone(),
            ]);
            w.write_record(&row)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
