//! Progress reporting from the copy engine to whoever watches (terminal
//! bars, plain lines, later the API's live view).

use mailferry_core::state::UserStatus;

pub trait Progress: Send + Sync {
    /// A user's sync began.
    fn user_started(&self, _email: &str) {}
    /// The plan of a user is known: this many messages and bytes to copy.
    fn user_planned(&self, _email: &str, _messages: u64, _bytes: u64) {}
    /// Messages were copied (or skipped) for a user.
    fn messages_done(&self, _email: &str, _messages: u64, _bytes: u64) {}
    /// A user's sync ended.
    fn user_finished(&self, _email: &str, _status: UserStatus, _error: Option<&str>) {}
}

/// No progress output.
pub struct NoProgress;

impl Progress for NoProgress {}
