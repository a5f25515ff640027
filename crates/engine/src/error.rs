//! The engine's error: one kind per thing an administrator can do about it.

use mailferry_store::StoreError;

use crate::endpoint_test::TestReport;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The request itself is wrong (a flag, a value, a missing setting):
    /// nothing was attempted.
    #[error("{0}")]
    InvalidInput(String),
    #[error("{what} {name:?} does not exist")]
    NotFound { what: &'static str, name: String },
    #[error("{what} {name:?} already exists")]
    AlreadyExists { what: &'static str, name: String },
    #[error("{what} {name:?} is used by {}: {}", if by.len() == 1 { "batch" } else { "batches" }, by.join(", "))]
    InUse { what: &'static str, name: String, by: Vec<String> },
    /// The endpoint test failed; nothing was stored. The report names the
    /// failed step and its cause.
    #[error("{}", .0.failure_summary())]
    TestFailed(Box<TestReport>),
    /// The CSV of a batch has errors; every one is listed. Nothing was stored.
    #[error("{0}")]
    Csv(mailferry_core::csv_input::CsvErrors),
    /// Addresses already in another active batch (or twice in this one).
    #[error("{0}")]
    Conflict(String),
    /// The target opened the test mailbox read-only: a migration could not write.
    #[error("the target endpoint {endpoint:?} opened the INBOX of {mailbox:?} read-only: a migration needs to write there (check the administrator's rights)")]
    TargetNotWritable { endpoint: String, mailbox: String },
    /// Discovery found nothing usable, or what it found failed its test;
    /// nothing was stored. The message lists every candidate and says how to
    /// go on by hand.
    #[error("{0}")]
    DiscoveryFailed(String),
    /// A host could not be reached (its name did not resolve).
    #[error("{0}")]
    Unreachable(String),
    /// The operation does not apply in the current state.
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    Store(StoreError),
}

impl EngineError {
    /// A stable code for `{"error":{"code",…}}`.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::InvalidInput(_) => "invalid_input",
            EngineError::NotFound { .. } => "not_found",
            EngineError::AlreadyExists { .. } => "already_exists",
            EngineError::InUse { .. } => "in_use",
            EngineError::TestFailed(_) => "endpoint_test_failed",
            EngineError::Csv(_) => "invalid_csv",
            EngineError::Conflict(_) => "conflict",
            EngineError::TargetNotWritable { .. } => "target_not_writable",
            EngineError::InvalidState(_) => "invalid_state",
            EngineError::DiscoveryFailed(_) => "discovery_failed",
            EngineError::Unreachable(_) => "unreachable",
            EngineError::Store(_) => "store_error",
        }
    }

    /// The process exit status for this error (SPEC section 6): 2 for bad
    /// input, 1 when the operation ran and failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::InvalidInput(_)
            | EngineError::NotFound { .. }
            | EngineError::AlreadyExists { .. }
            | EngineError::Csv(_)
            | EngineError::Conflict(_)
            | EngineError::InvalidState(_) => 2,
            EngineError::InUse { .. }
            | EngineError::TestFailed(_)
            | EngineError::TargetNotWritable { .. }
            | EngineError::DiscoveryFailed(_)
            | EngineError::Unreachable(_)
            | EngineError::Store(_) => 1,
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, name } => EngineError::NotFound { what, name },
            StoreError::AlreadyExists { what, name } => EngineError::AlreadyExists { what, name },
            StoreError::InUse { what, name, by } => EngineError::InUse { what, name, by },
            StoreError::Conflict { message, emails } => {
                let mut text = message;
                for (email, batch) in emails.iter().take(50) {
                    text.push_str(&format!("\n  {email} is in batch {batch}"));
                }
                if emails.len() > 50 {
                    text.push_str(&format!("\n  … and {} more", emails.len() - 50));
                }
                EngineError::Conflict(text)
            }
            other => EngineError::Store(other),
        }
    }
}
