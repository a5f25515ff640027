//! What goes into and comes out of the store.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use mailferry_core::{EndpointSettings, Name, Secret};
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
