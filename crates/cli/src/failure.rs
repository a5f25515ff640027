//! What the binary reports when a command fails: a code, a message and an
//! exit status (0 success, 1 the operation ran and failed, 2 bad input).

use mailferry_engine::EngineError;
use mailferry_engine::endpoint_test::TestReport;

#[derive(Debug)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
    pub exit: u8,
    /// A failed endpoint test, shown step by step before the error line.
    pub report: Option<Box<TestReport>>,
}

impl Failure {
    /// Bad input or usage: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure { code: "invalid_input", message: message.into(), exit: 2, report: None }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Failure { code: "internal", message: message.into(), exit: 1, report: None }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        let code = e.code();
        let exit = e.exit_code() as u8;
        let message = e.to_string();
        let report = match e {
            EngineError::TestFailed(r) => Some(r),
            _ => None,
        };
        Failure { code, message, exit, report }
    }
}
