//! The state machines of migration users and batches (SPEC section 2).
//!
//! A migration user's status changes only through [`UserStatus::apply`]; an
//! event that does not apply to the current status is an error, never a
//! silent no-op. A batch's status is *derived* from its users' statuses
//! (plus the few facts only the batch knows: created but never started,
//! being removed) by [`derive_batch_status`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($name:ident { $($variant:ident),* $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),* }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = String;
            /// Case-insensitive, so `--status synced` works on the command line.
            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
                    let all: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} {s:?} (one of {})", stringify!($name), all.join(", "))
                })
            }
        }
    };
}

/// Status of one migration user (one mailbox of a batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UserStatus {
    Queued,
    Syncing,
    Synced,
    IncrementalSyncing,
    Stopping,
    Stopped,
    Completing,
    Completed,
    Failed,
}
string_enum!(UserStatus { Queued, Syncing, Synced, IncrementalSyncing, Stopping, Stopped, Completing, Completed, Failed });

/// What can happen to a migration user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserEvent {
    /// A worker began copying (initial or incremental, depending on whether
    /// the mailbox was synced before).
    SyncBegan,
    /// A sync pass finished without a fatal error.
    SyncFinished,
    /// A sync pass failed fatally (the cause is recorded with the user).
    SyncFailed,
    /// The administrator asked to stop.
    StopRequested,
    /// The in-flight work reached a message boundary and stopped.
    StopReached,
    /// The administrator asked to (re)start or sync now.
    Requeued,
    /// The administrator asked to complete; a final sync follows.
    CompleteRequested,
    /// The worker is shutting down mid-sync: the work is saved and waits
    /// for the next worker.
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a migration user in status {from} cannot take {event:?}")]
pub struct InvalidTransition {
    pub from: UserStatus,
    pub event: UserEvent,
}

impl UserStatus {
    /// The status after `event`, or an error naming the impossible transition.
    /// `was_synced` tells whether the mailbox finished an initial sync before
    /// (it picks `IncrementalSyncing` over `Syncing`).
    pub fn apply(self, event: UserEvent, was_synced: bool) -> Result<UserStatus, InvalidTransition> {
        use UserEvent as E;
        use UserStatus as S;
        let next = match (self, event) {
            (S::Queued, E::SyncBegan) if was_synced => S::IncrementalSyncing,
            (S::Queued, E::SyncBegan) => S::Syncing,
            (S::Completing, E::SyncBegan) => S::Completing,
            // A worker took over a sync whose worker was lost.
            (S::Syncing, E::SyncBegan) => S::Syncing,
            (S::IncrementalSyncing, E::SyncBegan) => S::IncrementalSyncing,
            (S::Syncing | S::IncrementalSyncing, E::SyncFinished) => S::Synced,
            (S::Completing, E::SyncFinished) => S::Completed,
            (S::Syncing | S::IncrementalSyncing | S::Completing, E::SyncFailed) => S::Failed,
            (S::Syncing | S::IncrementalSyncing | S::Completing, E::StopRequested) => S::Stopping,
            (S::Queued | S::Synced | S::Failed, E::StopRequested) => S::Stopped,
            (S::Stopping, E::StopReached | E::SyncFinished | E::SyncFailed) => S::Stopped,
            (S::Synced | S::Stopped | S::Failed, E::Requeued) => S::Queued,
            (S::Synced | S::Stopped | S::Failed | S::Queued, E::CompleteRequested) => S::Completing,
            (S::Syncing | S::IncrementalSyncing, E::Interrupted) => S::Queued,
            (S::Completing, E::Interrupted) => S::Completing,
            (S::Stopping, E::Interrupted) => S::Stopped,
            (from, event) => return Err(InvalidTransition { from, event }),
        };
        Ok(next)
    }

    /// True while a worker may be copying for this user.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            UserStatus::Syncing | UserStatus::IncrementalSyncing | UserStatus::Completing | UserStatus::Stopping
        )
    }

    /// True when no further sync will ever run.
    pub fn is_final(self) -> bool {
        matches!(self, UserStatus::Completed)
    }
}

/// Status of a batch, derived from its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BatchStatus {
    Created,
    Syncing,
    Synced,
    SyncedWithErrors,
    Stopping,
    Stopped,
    Completing,
    Completed,
    CompletedWithErrors,
    Failed,
    Removing,
}
string_enum!(BatchStatus { Created, Syncing, Synced, SyncedWithErrors, Stopping, Stopped, Completing, Completed, CompletedWithErrors, Failed, Removing });

/// The facts a batch knows besides its users' statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchFacts {
    /// The batch was started at least once.
    pub started: bool,
    /// `batch remove` is in progress.
    pub removing: bool,
}

/// Derives a batch's status from its users' statuses. Rules, first match wins:
/// removing → `Removing`; never started → `Created`; any user completing →
/// `Completing`; any user stopping → `Stopping`; any user queued or syncing →
/// `Syncing`; all users completed → `Completed`; every user completed or
/// failed → `CompletedWithErrors` (or `Failed` if none completed); any user
/// stopped → `Stopped`; all synced → `Synced`; synced and failed mixed →
/// `SyncedWithErrors`; all failed → `Failed`. A batch with no users that was
/// started is `Synced` (nothing to do).
pub fn derive_batch_status(facts: BatchFacts, users: &[UserStatus]) -> BatchStatus {
    use UserStatus as U;
    let any = |s: U| users.contains(&s);
    let all = |f: &dyn Fn(U) -> bool| users.iter().all(|s| f(*s));
    if facts.removing {
        return BatchStatus::Removing;
    }
    if !facts.started {
        return BatchStatus::Created;
    }
    if any(U::Completing) {
        return BatchStatus::Completing;
    }
    if any(U::Stopping) {
        return BatchStatus::Stopping;
    }
    if any(U::Queued) || any(U::Syncing) || any(U::IncrementalSyncing) {
        return BatchStatus::Syncing;
    }
    if users.is_empty() {
        return BatchStatus::Synced;
    }
    if any(U::Completed) && all(&|s| matches!(s, U::Completed | U::Failed)) {
        return if any(U::Failed) { BatchStatus::CompletedWithErrors } else { BatchStatus::Completed };
    }
    if any(U::Stopped) {
        return BatchStatus::Stopped;
    }
    if all(&|s| s == U::Failed) {
        return BatchStatus::Failed;
    }
    if any(U::Failed) {
        return BatchStatus::SyncedWithErrors;
    }
    BatchStatus::Synced
}

#[cfg(test)]
mod tests {
    use super::*;
    use UserEvent as E;
    use UserStatus as S;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>().unwrap(), *s);
        }
        for s in BatchStatus::ALL {
            assert_eq!(s.as_str().parse::<BatchStatus>().unwrap(), *s);
        }
        assert_eq!("synced".parse::<S>().unwrap(), S::Synced);
        assert!("Done".parse::<S>().unwrap_err().contains("Queued"));
    }

    #[test]
    fn a_mailbox_goes_through_its_life() {
        let s = S::Queued.apply(E::SyncBegan, false).unwrap();
        assert_eq!(s, S::Syncing);
        let s = s.apply(E::SyncFinished, false).unwrap();
        assert_eq!(s, S::Synced);
        let s = s.apply(E::Requeued, true).unwrap().apply(E::SyncBegan, true).unwrap();
        assert_eq!(s, S::IncrementalSyncing);
        let s = s.apply(E::SyncFinished, true).unwrap().apply(E::CompleteRequested, true).unwrap();
        assert_eq!(s, S::Completing);
        let s = s.apply(E::SyncBegan, true).unwrap().apply(E::SyncFinished, true).unwrap();
        assert_eq!(s, S::Completed);
    }

    #[test]
    fn an_interrupted_sync_waits_for_the_next_worker() {
        assert_eq!(S::Syncing.apply(E::Interrupted, false).unwrap(), S::Queued);
        assert_eq!(S::Completing.apply(E::Interrupted, true).unwrap(), S::Completing);
        assert_eq!(S::Stopping.apply(E::Interrupted, true).unwrap(), S::Stopped);
        assert!(S::Synced.apply(E::Interrupted, true).is_err());
    }

    #[test]
    fn invalid_transitions_are_errors() {
        let err = S::Completed.apply(E::Requeued, true).unwrap_err();
        assert_eq!(err, InvalidTransition { from: S::Completed, event: E::Requeued });
        assert!(err.to_string().contains("Completed"));
        assert!(S::Synced.apply(E::SyncFinished, true).is_err());
        assert!(S::Stopped.apply(E::StopRequested, true).is_err());
    }

    #[test]
    fn completed_accepts_nothing() {
        for e in [E::SyncBegan, E::SyncFinished, E::SyncFailed, E::StopRequested, E::StopReached, E::Requeued, E::CompleteRequested, E::Interrupted] {
            assert!(S::Completed.apply(e, true).is_err(), "{e:?}");
        }
    }

    #[test]
    fn stopping_settles_as_stopped() {
        assert_eq!(S::Queued.apply(E::StopRequested, false).unwrap(), S::Stopped, "nothing in flight");
        assert_eq!(S::Syncing.apply(E::SyncBegan, false).unwrap(), S::Syncing, "a sync resumed by another worker");
        let s = S::Syncing.apply(E::StopRequested, false).unwrap();
        assert_eq!(s, S::Stopping);
        assert_eq!(s.apply(E::StopReached, false).unwrap(), S::Stopped);
        assert_eq!(S::Stopped.apply(E::Requeued, false).unwrap(), S::Queued);
    }

    #[test]
    fn batch_status_is_derived_from_users() {
        let started = BatchFacts { started: true, removing: false };
        let d = |u: &[S]| derive_batch_status(started, u);
        assert_eq!(derive_batch_status(BatchFacts { started: false, removing: false }, &[S::Queued]), BatchStatus::Created);
        assert_eq!(derive_batch_status(BatchFacts { started: true, removing: true }, &[S::Synced]), BatchStatus::Removing);
        assert_eq!(d(&[S::Synced, S::Syncing]), BatchStatus::Syncing);
        assert_eq!(d(&[S::Synced, S::Queued]), BatchStatus::Syncing);
        assert_eq!(d(&[S::Synced, S::Synced]), BatchStatus::Synced);
        assert_eq!(d(&[S::Synced, S::Failed]), BatchStatus::SyncedWithErrors);
        assert_eq!(d(&[S::Failed, S::Failed]), BatchStatus::Failed);
        assert_eq!(d(&[S::Stopped, S::Synced]), BatchStatus::Stopped);
        assert_eq!(d(&[S::Stopping, S::Synced]), BatchStatus::Stopping);
        assert_eq!(d(&[S::Completing, S::Completed]), BatchStatus::Completing);
        assert_eq!(d(&[S::Completed, S::Completed]), BatchStatus::Completed);
        assert_eq!(d(&[S::Completed, S::Failed]), BatchStatus::CompletedWithErrors);
        assert_eq!(d(&[]), BatchStatus::Synced);
    }
}
