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
            EngineError::Store(_) => "store_error",
        }
    }

    /// The process exit status for this error (SPEC section 6): 2 for bad
    /// input, 1 when the operation ran and failed.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::InvalidInput(_)
            | EngineError::NotFound { .. }
            | EngineError::AlreadyExists { .. } => 2,
            EngineError::InUse { .. } | EngineError::TestFailed(_) | EngineError::Store(_) => 1,
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, name } => EngineError::NotFound { what, name },
            StoreError::AlreadyExists { what, name } => EngineError::AlreadyExists { what, name },
            StoreError::InUse { what, name, by } => EngineError::InUse { what, name, by },
            other => EngineError::Store(other),
        }
    }
}
