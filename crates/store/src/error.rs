//! The store's error type.

use std::path::PathBuf;

use mailferry_core::state::UserStatus;

use crate::secrets::SecretError;

/// An error of a store operation. Messages name what was looked for and why
/// it failed; they never include a secret or a bound value other than the
/// name the caller gave.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{what} {name:?} does not exist")]
    NotFound { what: &'static str, name: String },
    #[error("{what} {name:?} already exists")]
    AlreadyExists { what: &'static str, name: String },
    #[error("{what} {name:?} is still in use by {}; remove those first", by.join(", "))]
    InUse {
        what: &'static str,
        name: String,
        by: Vec<String>,
    },
    /// The request clashes with what is stored: addresses already in
    /// another active batch (or twice in this one). `emails` lists every
    /// clash as (address, name of the batch that has it); nothing was written.
    #[error("{message}")]
    Conflict {
        message: String,
        emails: Vec<(String, String)>,
    },
    /// A compare-and-set found another state than the caller expected;
    /// nothing was changed.
    #[error("the migration user's status is {actual}, not {expected}; it changed meanwhile")]
    StateChanged {
        expected: UserStatus,
        actual: UserStatus,
    },
    /// A fenced write (or a lease renewal) found that the worker's lease on
    /// this user was taken over by another claim, released, or cleared by a
    /// settled transition; nothing was written.
    #[error("the lease on migration user {user_id:?} is no longer held (it was taken over or given up); nothing was written")]
    LeaseLost { user_id: String },
    /// The database failed. The text comes from the driver's error, which
    /// names constraints and tables, never bound values.
    #[error("database error: {0}")]
    Database(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A stored value does not parse (the database was edited by hand, or
    /// written by an incompatible version).
    #[error("the database holds a value mailferry cannot read: {detail}")]
    Corrupt { detail: String },
    #[error("database schema: {0}")]
    Migration(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The request names a database or feature this build does not support.
    #[error("{0}")]
    Unsupported(String),
}

impl StoreError {
    pub(crate) fn db(context: &str, e: sqlx::Error) -> StoreError {
        StoreError::Database(format!("{context}: {}", describe(&e)))
    }

    pub(crate) fn corrupt(detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            detail: detail.into(),
        }
    }
}

/// The driver's error, without anything that could carry a bound value.
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (code {code})", db.message()),
            None => db.message().to_owned(),
        },
        // Decoding errors name the column and the expected type only.
        sqlx::Error::ColumnDecode { index, .. } => format!("column {index} has an unexpected type"),
        sqlx::Error::Encode(_) => "a value could not be encoded".to_owned(),
        sqlx::Error::Decode(_) => "a value could not be decoded".to_owned(),
        other => other.to_string(),
    }
}

/// True if `e` is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// True if `e` is a foreign-key violation.
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}
