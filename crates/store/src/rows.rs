//! Raw column values as every backend reads them, and their conversion to
//! records. A value that does not parse is [`StoreError::Corrupt`], naming
//! the row and column.

use chrono::{DateTime, Utc};
use mailferry_core::{EndpointSettings, Impersonation, LoginFormat, Name};

use crate::error::StoreError;
use crate::model::{
    BatchRecord, CopyIntent, EndpointRecord, EventRecord, FolderState, SkippedItem, UserRecord,
};
use crate::util::from_ms;

fn corrupt(table: &str, row: &str, column: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("{table} {row:?}, column {column}: {why}"))
}

fn name(table: &str, id: &str, value: &str) -> Result<Name, StoreError> {
    Name::parse(value).map_err(|e| corrupt(table, id, "name", e))
}

fn opt_ms(v: Option<i64>, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    v.map(|ms| from_ms(ms, column)).transpose()
}

fn opt_int<T: TryFrom<i64>>(
    table: &str,
    row: &str,
    column: &str,
    v: Option<i64>,
) -> Result<Option<T>, StoreError> {
    v.map(|v| int(table, row, column, v)).transpose()
}

pub(crate) fn int<T: TryFrom<i64>>(
    table: &str,
    row: &str,
    column: &str,
    v: i64,
) -> Result<T, StoreError> {
    T::try_from(v).map_err(|_| corrupt(table, row, column, format!("{v} is out of range")))
}

pub(crate) struct EndpointRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub host: String,
    pub port: i64,
    pub security: String,
    pub admin_login: Option<String>,
    pub has_admin_secret: bool,
    pub impersonation: String,
    pub master_separator: Option<String>,
    pub login_format: String,
    pub max_concurrent_migrations: i64,
    pub max_concurrent_incremental: i64,
    pub ca_pem: Option<String>,
    pub verified: bool,
    pub discovered_from: Option<String>,
    pub trusted_hosts: String,
    pub test_mailbox: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl EndpointRow {
    pub fn into_record(self) -> Result<EndpointRecord, StoreError> {
        const T: &str = "endpoint";
        let n = self.name.as_str();
        let settings = EndpointSettings {
            kind: self
                .kind
                .parse()
                .map_err(|e: String| corrupt(T, n, "kind", e))?,
            host: self.host,
            port: int(T, n, "port", self.port)?,
            security: self
                .security
                .parse()
                .map_err(|e: String| corrupt(T, n, "security", e))?,
            admin_login: self.admin_login,
            impersonation: Impersonation::from_parts(
                &self.impersonation,
                self.master_separator.as_deref(),
            )
            .map_err(|e| corrupt(T, n, "impersonation", e))?,
            login_format: LoginFormat::parse(&self.login_format)
                .map_err(|e| corrupt(T, n, "login_format", e))?,
            max_concurrent_migrations: int(
                T,
                n,
                "max_concurrent_migrations",
                self.max_concurrent_migrations,
            )?,
            max_concurrent_incremental: int(
                T,
                n,
                "max_concurrent_incremental",
                self.max_concurrent_incremental,
            )?,
            ca_pem: self.ca_pem,
        };
        let trusted_hosts: Vec<String> =
            serde_json::from_str(&self.trusted_hosts).map_err(|e| {
                corrupt(
                    T,
                    n,
                    "trusted_hosts",
                    format!("not a JSON array of strings: {e}"),
                )
            })?;
        Ok(EndpointRecord {
            name: name(T, n, n)?,
            settings,
            has_admin_secret: self.has_admin_secret,
            verified: self.verified,
            discovered_from: self.discovered_from,
            trusted_hosts,
            test_mailbox: self.test_mailbox,
            created_at: from_ms(self.created_at, "endpoints.created_at")?,
            updated_at: from_ms(self.updated_at, "endpoints.updated_at")?,
            id: self.id,
        })
    }
}

pub(crate) struct BatchRow {
    pub id: String,
    pub name: String,
    pub source_endpoint_id: String,
    pub source_name: String,
    pub target_endpoint_id: String,
    pub target_name: String,
    pub options: String,
    pub started: bool,
    pub removing: bool,
    pub started_at: Option<i64>,
    pub complete_requested_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl BatchRow {
    pub fn into_record(self) -> Result<BatchRecord, StoreError> {
        const T: &str = "batch";
        let n = self.name.as_str();
        Ok(BatchRecord {
            name: name(T, n, n)?,
            source_endpoint: name("endpoint", &self.source_endpoint_id, &self.source_name)?,
            target_endpoint: name("endpoint", &self.target_endpoint_id, &self.target_name)?,
            options_json: serde_json::from_str(&self.options)
                .map_err(|e| corrupt(T, n, "options", format!("not JSON: {e}")))?,
            started: self.started,
            removing: self.removing,
            started_at: opt_ms(self.started_at, "batches.started_at")?,
            complete_requested_at: opt_ms(
                self.complete_requested_at,
                "batches.complete_requested_at",
            )?,
            created_at: from_ms(self.created_at, "batches.created_at")?,
            updated_at: from_ms(self.updated_at, "batches.updated_at")?,
            source_endpoint_id: self.source_endpoint_id,
            target_endpoint_id: self.target_endpoint_id,
            id: self.id,
        })
    }
}

pub(crate) struct EventRow {
    pub id: String,
    pub at: i64,
    pub level: String,
    pub kind: String,
    pub message: String,
    pub endpoint_id: Option<String>,
    pub batch_id: Option<String>,
    pub user_id: Option<String>,
}

impl EventRow {
    pub fn into_record(self) -> Result<EventRecord, StoreError> {
        Ok(EventRecord {
            at: from_ms(self.at, "events.at")?,
            level: self
                .level
                .parse()
                .map_err(|e: String| corrupt("event", &self.id, "level", e))?,
            id: self.id,
            kind: self.kind,
            message: self.message,
            endpoint_id: self.endpoint_id,
            batch_id: self.batch_id,
            user_id: self.user_id,
        })
    }
}

pub(crate) struct UserRow {
    pub id: String,
    pub batch_id: String,
    pub batch_name: String,
    pub email: String,
    pub source_login: String,
    pub has_source_secret: bool,
    pub status: String,
    pub was_synced: bool,
    pub items_source: i64,
    pub items_synced: i64,
    pub items_skipped_bad: i64,
    pub items_skipped_large: i64,
    pub bytes_synced: i64,
    pub sync_started_at: Option<i64>,
    pub last_sync_at: Option<i64>,
    pub next_sync_at: Option<i64>,
    pub last_error: Option<String>,
    pub csv_line: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserRow {
    pub fn into_record(self) -> Result<UserRecord, StoreError> {
        const T: &str = "migration user";
        let id = self.id.as_str();
        Ok(UserRecord {
            batch_name: name("batch", &self.batch_id, &self.batch_name)?,
            status: self
                .status
                .parse()
                .map_err(|e: String| corrupt(T, id, "status", e))?,
            items_source: int(T, id, "items_source", self.items_source)?,
            items_synced: int(T, id, "items_synced", self.items_synced)?,
            items_skipped_bad: int(T, id, "items_skipped_bad", self.items_skipped_bad)?,
            items_skipped_large: int(T, id, "items_skipped_large", self.items_skipped_large)?,
            bytes_synced: int(T, id, "bytes_synced", self.bytes_synced)?,
            sync_started_at: opt_ms(self.sync_started_at, "migration_users.sync_started_at")?,
            last_sync_at: opt_ms(self.last_sync_at, "migration_users.last_sync_at")?,
            next_sync_at: opt_ms(self.next_sync_at, "migration_users.next_sync_at")?,
            csv_line: opt_int(T, id, "csv_line", self.csv_line)?,
            created_at: from_ms(self.created_at, "migration_users.created_at")?,
            updated_at: from_ms(self.updated_at, "migration_users.updated_at")?,
            batch_id: self.batch_id,
            email: self.email,
            source_login: self.source_login,
            has_source_secret: self.has_source_secret,
            was_synced: self.was_synced,
            last_error: self.last_error,
            id: self.id,
        })
    }
}

pub(crate) struct FolderStateRow {
    pub user_id: String,
    pub source_folder: String,
    pub target_folder: Option<String>,
    pub source_uidvalidity: Option<i64>,
    pub target_uidvalidity: Option<i64>,
    pub highest_modseq: Option<i64>,
    pub last_seen_uid: Option<i64>,
    pub subscribed: bool,
    pub messages_source: i64,
    pub messages_synced: i64,
    pub messages_skipped: i64,
    pub bytes_synced: i64,
    pub last_sync_at: Option<i64>,
}

impl FolderStateRow {
    pub fn into_record(self) -> Result<FolderState, StoreError> {
        const T: &str = "folder state";
        let key = format!("{}/{}", self.user_id, self.source_folder);
        let k = key.as_str();
        Ok(FolderState {
            source_uidvalidity: opt_int(T, k, "source_uidvalidity", self.source_uidvalidity)?,
            target_uidvalidity: opt_int(T, k, "target_uidvalidity", self.target_uidvalidity)?,
            highest_modseq: opt_int(T, k, "highest_modseq", self.highest_modseq)?,
            last_seen_uid: opt_int(T, k, "last_seen_uid", self.last_seen_uid)?,
            messages_source: int(T, k, "messages_source", self.messages_source)?,
            messages_synced: int(T, k, "messages_synced", self.messages_synced)?,
            messages_skipped: int(T, k, "messages_skipped", self.messages_skipped)?,
            bytes_synced: int(T, k, "bytes_synced", self.bytes_synced)?,
            last_sync_at: opt_ms(self.last_sync_at, "folder_states.last_sync_at")?,
            user_id: self.user_id,
            source_folder: self.source_folder,
            target_folder: self.target_folder,
            subscribed: self.subscribed,
        })
    }
}

pub(crate) struct IntentRow {
    pub source_folder: String,
    pub source_uidvalidity: i64,
    pub source_uid: i64,
    pub target_folder: String,
    pub target_uidvalidity: Option<i64>,
    pub target_uidnext: Option<i64>,
    pub size: Option<i64>,
    pub internal_date: Option<i64>,
    pub sha256: Option<Vec<u8>>,
}

impl IntentRow {
    pub fn into_record(self) -> Result<CopyIntent, StoreError> {
        const T: &str = "uid map";
        let key = format!(
            "{}/{}/{}",
            self.source_folder, self.source_uidvalidity, self.source_uid
        );
        let k = key.as_str();
        let sha256 =
            match self.sha256 {
                None => None,
                Some(bytes) => Some(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    corrupt(T, k, "sha256", format!("{} bytes, not 32", bytes.len()))
                })?),
            };
        Ok(CopyIntent {
            source_uidvalidity: int(T, k, "source_uidvalidity", self.source_uidvalidity)?,
            source_uid: int(T, k, "source_uid", self.source_uid)?,
            target_uidvalidity: opt_int(T, k, "target_uidvalidity", self.target_uidvalidity)?,
            target_uidnext: opt_int(T, k, "target_uidnext", self.target_uidnext)?,
            size: opt_int(T, k, "size", self.size)?.unwrap_or(0),
            internal_date: self.internal_date,
            sha256,
            source_folder: self.source_folder,
            target_folder: self.target_folder,
        })
    }
}

pub(crate) struct SkippedRow {
    pub id: String,
    pub folder: String,
    pub source_uidvalidity: i64,
    pub uid: i64,
    pub size: Option<i64>,
    pub date: Option<String>,
    pub subject: Option<String>,
    pub kind: String,
    pub reason: String,
    pub created_at: i64,
}

impl SkippedRow {
    pub fn into_record(self) -> Result<SkippedItem, StoreError> {
        const T: &str = "skipped item";
        let k = self.id.as_str();
        Ok(SkippedItem {
            source_uidvalidity: int(T, k, "source_uidvalidity", self.source_uidvalidity)?,
            uid: int(T, k, "uid", self.uid)?,
            size: opt_int(T, k, "size", self.size)?,
            kind: self
                .kind
                .parse()
                .map_err(|e: String| corrupt(T, k, "kind", e))?,
            created_at: Some(from_ms(self.created_at, "skipped_items.created_at")?),
            folder: self.folder,
            date: self.date,
            subject: self.subject,
            reason: self.reason,
        })
    }
}


/// The readers of the raw rows above from a backend's row type (`SqliteRow`,
/// `PgRow`): the same column names and Rust types in both dialects.
macro_rules! row_readers {
    ($row:ty) => {
        pub(crate) fn endpoint_row(row: &$row) -> Result<EndpointRow, StoreError> {
            let get = |e| StoreError::db("read endpoint", e);
            Ok(EndpointRow {
                id: row.try_get("id").map_err(get)?,
                name: row.try_get("name").map_err(get)?,
                kind: row.try_get("kind").map_err(get)?,
                host: row.try_get("host").map_err(get)?,
                port: row.try_get("port").map_err(get)?,
                security: row.try_get("security").map_err(get)?,
                admin_login: row.try_get("admin_login").map_err(get)?,
                has_admin_secret: row.try_get("has_admin_secret").map_err(get)?,
                impersonation: row.try_get("impersonation").map_err(get)?,
                master_separator: row.try_get("master_separator").map_err(get)?,
                login_format: row.try_get("login_format").map_err(get)?,
                max_concurrent_migrations: row.try_get("max_concurrent_migrations").map_err(get)?,
                max_concurrent_incremental: row.try_get("max_concurrent_incremental").map_err(get)?,
                ca_pem: row.try_get("ca_pem").map_err(get)?,
                verified: row.try_get("verified").map_err(get)?,
                discovered_from: row.try_get("discovered_from").map_err(get)?,
                trusted_hosts: row.try_get("trusted_hosts").map_err(get)?,
                test_mailbox: row.try_get("test_mailbox").map_err(get)?,
                created_at: row.try_get("created_at").map_err(get)?,
                updated_at: row.try_get("updated_at").map_err(get)?,
            })
        }

        pub(crate) fn batch_row(row: &$row) -> Result<BatchRow, StoreError> {
            let get = |e| StoreError::db("read batch", e);
            Ok(BatchRow {
                id: row.try_get("id").map_err(get)?,
                name: row.try_get("name").map_err(get)?,
                source_endpoint_id: row.try_get("source_endpoint_id").map_err(get)?,
                source_name: row.try_get("source_name").map_err(get)?,
                target_endpoint_id: row.try_get("target_endpoint_id").map_err(get)?,
                target_name: row.try_get("target_name").map_err(get)?,
                options: row.try_get("options").map_err(get)?,
                started: row.try_get("started").map_err(get)?,
                removing: row.try_get("removing").map_err(get)?,
                started_at: row.try_get("started_at").map_err(get)?,
                complete_requested_at: row.try_get("complete_requested_at").map_err(get)?,
                created_at: row.try_get("created_at").map_err(get)?,
                updated_at: row.try_get("updated_at").map_err(get)?,
            })
        }

        pub(crate) fn event_row(row: &$row) -> Result<EventRow, StoreError> {
            let get = |e| StoreError::db("read event", e);
            Ok(EventRow {
                id: row.try_get("id").map_err(get)?,
                at: row.try_get("at").map_err(get)?,
                level: row.try_get("level").map_err(get)?,
                kind: row.try_get("kind").map_err(get)?,
                message: row.try_get("message").map_err(get)?,
                endpoint_id: row.try_get("endpoint_id").map_err(get)?,
                batch_id: row.try_get("batch_id").map_err(get)?,
                user_id: row.try_get("user_id").map_err(get)?,
            })
        }

        pub(crate) fn user_row(row: &$row) -> Result<UserRow, StoreError> {
            let get = |e| StoreError::db("read migration user", e);
            Ok(UserRow {
                id: row.try_get("id").map_err(get)?,
                batch_id: row.try_get("batch_id").map_err(get)?,
                batch_name: row.try_get("batch_name").map_err(get)?,
                email: row.try_get("email").map_err(get)?,
                source_login: row.try_get("source_login").map_err(get)?,
                has_source_secret: row.try_get("has_source_secret").map_err(get)?,
                status: row.try_get("status").map_err(get)?,
                was_synced: row.try_get("was_synced").map_err(get)?,
                items_source: row.try_get("items_source").map_err(get)?,
                items_synced: row.try_get("items_synced").map_err(get)?,
                items_skipped_bad: row.try_get("items_skipped_bad").map_err(get)?,
                items_skipped_large: row.try_get("items_skipped_large").map_err(get)?,
                bytes_synced: row.try_get("bytes_synced").map_err(get)?,
                sync_started_at: row.try_get("sync_started_at").map_err(get)?,
                last_sync_at: row.try_get("last_sync_at").map_err(get)?,
                next_sync_at: row.try_get("next_sync_at").map_err(get)?,
                last_error: row.try_get("last_error").map_err(get)?,
                csv_line: row.try_get("csv_line").map_err(get)?,
                created_at: row.try_get("created_at").map_err(get)?,
                updated_at: row.try_get("updated_at").map_err(get)?,
            })
        }

        pub(crate) fn folder_state_row(row: &$row) -> Result<FolderStateRow, StoreError> {
            let get = |e| StoreError::db("read folder state", e);
            Ok(FolderStateRow {
                user_id: row.try_get("user_id").map_err(get)?,
                source_folder: row.try_get("source_folder").map_err(get)?,
                target_folder: row.try_get("target_folder").map_err(get)?,
                source_uidvalidity: row.try_get("source_uidvalidity").map_err(get)?,
                target_uidvalidity: row.try_get("target_uidvalidity").map_err(get)?,
                highest_modseq: row.try_get("highest_modseq").map_err(get)?,
                last_seen_uid: row.try_get("last_seen_uid").map_err(get)?,
                subscribed: row.try_get("subscribed").map_err(get)?,
                messages_source: row.try_get("messages_source").map_err(get)?,
                messages_synced: row.try_get("messages_synced").map_err(get)?,
                messages_skipped: row.try_get("messages_skipped").map_err(get)?,
                bytes_synced: row.try_get("bytes_synced").map_err(get)?,
                last_sync_at: row.try_get("last_sync_at").map_err(get)?,
            })
        }

        pub(crate) fn intent_row(row: &$row) -> Result<IntentRow, StoreError> {
            let get = |e| StoreError::db("read UID map", e);
            Ok(IntentRow {
                source_folder: row.try_get("source_folder").map_err(get)?,
                source_uidvalidity: row.try_get("source_uidvalidity").map_err(get)?,
                source_uid: row.try_get("source_uid").map_err(get)?,
                target_folder: row.try_get("target_folder").map_err(get)?,
                target_uidvalidity: row.try_get("target_uidvalidity").map_err(get)?,
                target_uidnext: row.try_get("target_uidnext").map_err(get)?,
                size: row.try_get("size").map_err(get)?,
                internal_date: row.try_get("internal_date").map_err(get)?,
                sha256: row.try_get("sha256").map_err(get)?,
            })
        }

        pub(crate) fn skipped_row(row: &$row) -> Result<SkippedRow, StoreError> {
            let get = |e| StoreError::db("read skipped item", e);
            Ok(SkippedRow {
                id: row.try_get("id").map_err(get)?,
                folder: row.try_get("folder").map_err(get)?,
                source_uidvalidity: row.try_get("source_uidvalidity").map_err(get)?,
                uid: row.try_get("uid").map_err(get)?,
                size: row.try_get("size").map_err(get)?,
                date: row.try_get("message_date_text").map_err(get)?,
                subject: row.try_get("subject").map_err(get)?,
                kind: row.try_get("kind").map_err(get)?,
                reason: row.try_get("reason").map_err(get)?,
                created_at: row.try_get("created_at").map_err(get)?,
            })
        }

    };
}
pub(crate) use row_readers;
