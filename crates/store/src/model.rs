//! What goes into and comes out of the store.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use mailferry_core::state::UserStatus;
use mailferry_core::{EmailAddress, EndpointSettings, Name, Secret};
use serde::{Deserialize, Serialize};

/// An endpoint to create.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub name: Name,
    pub settings: EndpointSettings,
    /// The migration administrator's secret; sealed before it is stored.
    pub admin_secret: Option<Secret>,
    /// The connectivity test passed (false with `--skip-verification`).
    pub verified: bool,
    /// `None`: settings given by hand; otherwise how discovery found them
    /// (e.g. `autoconfig:https://autoconfig.example.com/...`).
    pub discovered_from: Option<String>,
    /// Hosts outside the address's domain the administrator allowed
    /// (`--trust-host`).
    pub trusted_hosts: Vec<String>,
    /// The mailbox the connectivity test acts for (`--test-mailbox`), kept
    /// so that later tests of the endpoint can use it again.
    pub test_mailbox: Option<String>,
}

/// A stored endpoint. It never carries the secret, only whether there is
/// one; [`crate::Store::endpoint_secret`] opens it on request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    pub id: String,
    pub name: Name,
    pub settings: EndpointSettings,
    pub has_admin_secret: bool,
    pub verified: bool,
    pub discovered_from: Option<String>,
    pub trusted_hosts: Vec<String>,
    pub test_mailbox: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A batch to create (the minimal form; users and the rest of the batch
/// API come later).
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub name: Name,
    /// Name of the source endpoint.
    pub source_endpoint: String,
    /// Name of the target endpoint.
    pub target_endpoint: String,
    /// The batch's options as a JSON object (folder filters, limits, ...).
    pub options_json: serde_json::Value,
}

/// A stored batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRecord {
    pub id: String,
    pub name: Name,
    pub source_endpoint_id: String,
    pub source_endpoint: Name,
    pub target_endpoint_id: String,
    pub target_endpoint: Name,
    pub options_json: serde_json::Value,
    pub started: bool,
    pub removing: bool,
    /// When the batch was last set started (kept when it is set stopped).
    pub started_at: Option<DateTime<Utc>>,
    /// When completion was first requested.
    pub complete_requested_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A migration user to add to a batch (one line of the batch CSV).
#[derive(Debug, Clone)]
pub struct NewMigrationUser {
    /// The target address: the user's key, unique (regardless of case)
    /// within the batch and among the active batches.
    pub email: EmailAddress,
    pub source_login: String,
    /// The user's own source password from the CSV; sealed before it is
    /// stored (associated data `migration_users/<id>/source_secret`).
    pub source_secret: Option<Secret>,
    /// The CSV line the user came from (for messages and ordering).
    pub csv_line: u64,
}

/// A stored migration user. It never carries the source secret, only
/// whether there is one; [`crate::Store::user_secret`] opens it on request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub batch_id: String,
    pub batch_name: Name,
    pub email: String,
    pub source_login: String,
    pub has_source_secret: bool,
    pub status: UserStatus,
    /// The mailbox finished an initial sync at least once.
    pub was_synced: bool,
    pub items_source: u64,
    pub items_synced: u64,
    pub items_skipped_bad: u64,
    pub items_skipped_large: u64,
    pub bytes_synced: u64,
    pub sync_started_at: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub csv_line: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which migration users to list: those matching every given criterion,
/// ordered by batch name, CSV line, email; `offset` rows skipped, at most
/// `limit` returned (`None`: all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Batch name (any case). An unknown batch is `NotFound`.
    pub batch: Option<String>,
    pub status: Option<UserStatus>,
    /// Exact address, compared regardless of case.
    pub email: Option<String>,
    pub limit: Option<u64>,
    pub offset: u64,
}

/// A user's counters, as absolute values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserCounters {
    pub items_source: u64,
    pub items_synced: u64,
    pub items_skipped_bad: u64,
    pub items_skipped_large: u64,
    pub bytes_synced: u64,
}

/// The sync state of one source folder of a user.
///
/// `messages_synced`, `bytes_synced` and `messages_skipped` belong to the
/// UID map and the skipped items: [`crate::Store::record_copies_done`] and
/// [`crate::Store::record_skipped`] bump them in the same transaction as
/// their rows, and [`crate::Store::upsert_folder_state`] never writes them
/// (a new folder starts at 0), so they cannot drift from the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderState {
    pub user_id: String,
    /// The source's mailbox name as the server spells it on the wire.
    pub source_folder: String,
    pub target_folder: Option<String>,
    pub source_uidvalidity: Option<u32>,
    pub target_uidvalidity: Option<u32>,
    pub highest_modseq: Option<u64>,
    pub last_seen_uid: Option<u32>,
    pub subscribed: bool,
    pub messages_source: u64,
    pub messages_synced: u64,
    pub messages_skipped: u64,
    pub bytes_synced: u64,
    pub last_sync_at: Option<DateTime<Utc>>,
}

impl FolderState {
    /// The state of a folder not synced yet: everything empty or 0.
    pub fn new(user_id: impl Into<String>, source_folder: impl Into<String>) -> Self {
        FolderState {
            user_id: user_id.into(),
            source_folder: source_folder.into(),
            ..FolderState::default()
        }
    }
}

/// The intent to copy one message, recorded before its APPEND is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyIntent {
    pub source_folder: String,
    pub source_uidvalidity: u32,
    pub source_uid: u32,
    pub target_folder: String,
    pub target_uidvalidity: Option<u32>,
    /// The target's UIDNEXT just before the APPEND was sent: any copy has a
    /// UID >= this.
    pub target_uidnext: Option<u32>,
    pub size: u64,
    /// Stored as given (the engine's unit).
    pub internal_date: Option<i64>,
    pub sha256: Option<[u8; 32]>,
}

/// A copy that is known to have happened: the intent's key and what the
/// target said about it (APPENDUID), if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyDone {
    pub source_folder: String,
    pub source_uidvalidity: u32,
    pub source_uid: u32,
    /// `None` keeps what the intent recorded.
    pub target_uidvalidity: Option<u32>,
    pub target_uid: Option<u32>,
}

/// Why a message was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SkipKind {
    /// The source could not deliver it, or the target refused it.
    Bad,
    /// Larger than the limit.
    Large,
}

impl SkipKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipKind::Bad => "bad",
            SkipKind::Large => "large",
        }
    }
}

impl fmt::Display for SkipKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SkipKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bad" => Ok(SkipKind::Bad),
            "large" => Ok(SkipKind::Large),
            other => Err(format!("unknown skip kind {other:?}")),
        }
    }
}

/// A message that was not copied, and why. Its key is (user, `folder`,
/// `source_uidvalidity`, `uid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem {
    pub folder: String,
    pub source_uidvalidity: u32,
    pub uid: u32,
    pub size: Option<u64>,
    /// The message's Date header, or its INTERNALDATE, as text (stored
    /// verbatim in `skipped_items.message_date_text`).
    pub date: Option<String>,
    pub subject: Option<String>,
    pub kind: SkipKind,
    pub reason: String,
    /// When it was first recorded; ignored by `record_skipped`, set on read.
    pub created_at: Option<DateTime<Utc>>,
}

/// Severity of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl EventLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            EventLevel::Debug => "debug",
            EventLevel::Info => "info",
            EventLevel::Warn => "warn",
            EventLevel::Error => "error",
        }
    }
}

impl fmt::Display for EventLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "debug" => Ok(EventLevel::Debug),
            "info" => Ok(EventLevel::Info),
            "warn" => Ok(EventLevel::Warn),
            "error" => Ok(EventLevel::Error),
            other => Err(format!("unknown event level {other:?}")),
        }
    }
}

/// An entry for the event log. `kind` is a short machine-readable tag
/// (`endpoint.created`, `user.sync_failed`, ...); `message` is for people
/// and must not contain secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub level: EventLevel,
    pub kind: String,
    pub message: String,
    pub endpoint_id: Option<String>,
    pub batch_id: Option<String>,
    pub user_id: Option<String>,
}

impl NewEvent {
    pub fn new(level: EventLevel, kind: impl Into<String>, message: impl Into<String>) -> Self {
        NewEvent {
            level,
            kind: kind.into(),
            message: message.into(),
            endpoint_id: None,
            batch_id: None,
            user_id: None,
        }
    }

    pub fn endpoint(mut self, id: impl Into<String>) -> Self {
        self.endpoint_id = Some(id.into());
        self
    }

    pub fn batch(mut self, id: impl Into<String>) -> Self {
        self.batch_id = Some(id.into());
        self
    }

    pub fn user(mut self, id: impl Into<String>) -> Self {
        self.user_id = Some(id.into());
        self
    }
}

/// A logged event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: String,
    pub at: DateTime<Utc>,
    pub level: EventLevel,
    pub kind: String,
    pub message: String,
    pub endpoint_id: Option<String>,
    pub batch_id: Option<String>,
    pub user_id: Option<String>,
}

/// Which events to return: those matching every given id, newest first, at
/// most `limit` (0 means the default of 100; at most 10,000).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub endpoint_id: Option<String>,
    pub batch_id: Option<String>,
    pub user_id: Option<String>,
    pub limit: u32,
}

impl EventFilter {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 10_000;

    pub(crate) fn effective_limit(&self) -> i64 {
        match self.limit {
            0 => Self::DEFAULT_LIMIT as i64,
            n => n.min(Self::MAX_LIMIT) as i64,
        }
    }
}

/// A claim on one migration user by one worker, from
/// [`crate::Store::claim_users`]. `token` grows with every claim of that
/// user (a fencing token): a write fenced with an older lease is refused
/// with [`crate::StoreError::LeaseLost`], so a worker whose lease was taken
/// over can no longer change anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub user_id: String,
    /// The worker holding it (its id, as in [`WorkerInfo::id`]).
    pub owner: String,
    pub token: u64,
    pub expires_at: DateTime<Utc>,
}

/// What a worker asks [`crate::Store::claim_users`] for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// The claiming worker's id (becomes the leases' owner).
    pub worker: String,
    /// Only users of this batch (name, any case); `None`: any batch.
    pub batch: Option<String>,
    /// At most this many users.
    pub max: usize,
    /// How long the leases last unless renewed.
    pub ttl: std::time::Duration,
}

/// A live lease, for `worker list` and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub user_id: String,
    pub email: String,
    pub batch: Name,
    pub owner: String,
    pub token: u64,
    pub expires_at: DateTime<Utc>,
}

/// A worker announcing itself ([`crate::Store::heartbeat_worker`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    /// Unique per worker process (e.g. `host:pid:random`); the owner of its leases.
    pub id: String,
    pub host: String,
    pub pid: Option<u32>,
    /// The mailferry version it runs.
    pub version: Option<String>,
}

impl LeaseInfo {
    /// The lease itself, e.g. to release it with
    /// [`crate::Store::release_lease`] for a worker known to be dead.
    pub fn to_lease(&self) -> Lease {
        Lease {
            user_id: self.user_id.clone(),
            owner: self.owner.clone(),
            token: self.token,
            expires_at: self.expires_at,
        }
    }
}

/// A registered worker, with the number of live leases it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRecord {
    pub id: String,
    pub host: String,
    pub pid: Option<u32>,
    pub version: Option<String>,
    /// Its first heartbeat (since it was last forgotten).
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// Live (unexpired) leases it holds now.
    pub leases: u64,
}

/// An API token as stored: only the SHA-256 of the token is kept; the token
/// itself is shown once, when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}
