//! Raw column values as every backend reads them, and their conversion to
//! records. A value that does not parse is [`StoreError::Corrupt`], naming
//! the row and column.

use mailferry_core::{EndpointSettings, Impersonation, LoginFormat, Name};

use crate::error::StoreError;
use crate::model::{BatchRecord, EndpointRecord, EventRecord};
use crate::util::from_ms;

fn corrupt(table: &str, row: &str, column: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(format!("{table} {row:?}, column {column}: {why}"))
}

fn name(table: &str, id: &str, value: &str) -> Result<Name, StoreError> {
    Name::parse(value).map_err(|e| corrupt(table, id, "name", e))
}

fn int<T: TryFrom<i64>>(table: &str, row: &str, column: &str, v: i64) -> Result<T, StoreError> {
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
