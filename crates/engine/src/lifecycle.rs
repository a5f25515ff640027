//! The life of a batch after its first start: stop, complete, remove, add
//! users. Every change goes through the user state machine (core); a user
//! a worker is copying for is only *asked* to stop or complete, and the
//! worker settles it at a message boundary.

use std::time::Duration;

use mailferry_core::csv_input::{self, CsvOptions};
use mailferry_core::state::{BatchStatus, UserEvent, UserStatus};
use mailferry_store::{NewMigrationUser, StoreError, UserRecord};

use crate::batch::BatchState;
use crate::{Engine, EngineError};

impl Engine {
    /// Applies `event` to a user with a compare-and-set; a user that changed
    /// meanwhile (a worker settled it) is read again and tried once more.
    async fn apply_user_event(&self, user: &UserRecord, event: UserEvent) -> Result<(), EngineError> {
        let mut current = user.clone();
        for _ in 0..3 {
            let to = match current.status.apply(event, current.was_synced) {
                Ok(to) => to,
                // Not applicable (e.g. already Completed): nothing to do for this user.
                Err(_) => return Ok(()),
            };
            match self.store.transition_user(&current.id, current.status, to, None, None).await {
                Ok(_) => return Ok(()),
                Err(StoreError::StateChanged { .. }) => current = self.store.user(&current.id).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::InvalidState(format!("{} keeps changing state; try again", user.email)))
    }

    /// Stops a batch: idle users stop at once; users being copied stop at
    /// the next message boundary (their worker settles them as Stopped).
    pub async fn stop_batch(&self, name: &str) -> Result<BatchState, EngineError> {
        let state = self.batch_state(name).await?;
        if matches!(state.status, BatchStatus::Completed | BatchStatus::CompletedWithErrors | BatchStatus::Removing) {
            return Err(EngineError::InvalidState(format!("batch {} is {}: there is nothing to stop", state.batch.name, state.status)));
        }
        if !state.batch.started {
            return Err(EngineError::InvalidState(format!("batch {} was never started", state.batch.name)));
        }
        for user in &state.users {
            self.apply_user_event(user, UserEvent::StopRequested).await?;
        }
        self.batch_state(name).await
    }

    /// Completes a batch: every mailbox gets a final incremental sync, then
    /// is `Completed`; no sync runs afterwards. A mailbox being synced now
    /// gets its final sync right after.
    pub async fn complete_batch(&self, name: &str) -> Result<BatchState, EngineError> {
        let state = self.batch_state(name).await?;
        match state.status {
            BatchStatus::Completed | BatchStatus::CompletedWithErrors => {
                return Err(EngineError::InvalidState(format!("batch {} is already {}", state.batch.name, state.status)))
            }
            BatchStatus::Removing => return Err(EngineError::InvalidState(format!("batch {} is being removed", state.batch.name))),
            _ => {}
        }
        if !state.batch.started {
            self.store.set_batch_started(name, true).await?;
        }
        self.store.set_batch_complete_requested(name).await?;
        for user in &state.users {
            if !user.status.is_active() {
                self.apply_user_event(user, UserEvent::CompleteRequested).await?;
            }
        }
        self.batch_state(name).await
    }

    /// Adds users from a CSV to an existing batch (same rules as create).
    pub async fn add_users(&self, name: &str, csv: &[u8], csv_options: CsvOptions) -> Result<(BatchState, usize), EngineError> {
        let state = self.batch_state(name).await?;
        if matches!(state.status, BatchStatus::Completed | BatchStatus::CompletedWithErrors | BatchStatus::Completing | BatchStatus::Removing) {
            return Err(EngineError::InvalidState(format!("batch {} is {}: users can no longer be added", state.batch.name, state.status)));
        }
        let rows = csv_input::parse(csv, csv_options).map_err(EngineError::Csv)?;
        let source = self.store.endpoint(state.batch.source_endpoint.as_str()).await?;
        let users: Vec<NewMigrationUser> = rows
            .into_iter()
            .map(|row| NewMigrationUser {
                source_login: row.user_name.clone().unwrap_or_else(|| source.settings.login_format.render(&row.email)),
                email: row.email,
                source_secret: row.password,
                csv_line: row.line,
            })
            .collect();
        let added = self.store.add_users(name, users).await?.len();
        Ok((self.batch_state(name).await?, added))
    }

    /// Removes a batch and everything recorded for it. Users being copied
    /// are stopped first; this waits up to `wait` for them to settle.
    pub async fn remove_batch(&self, name: &str, wait: Duration) -> Result<(), EngineError> {
        let state = self.batch_state(name).await?;
        self.store.set_batch_removing(name).await?;
        for user in &state.users {
            self.apply_user_event(user, UserEvent::StopRequested).await?;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.store.remove_batch(name).await {
                Ok(()) => return Ok(()),
                Err(StoreError::StateChanged { .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(StoreError::StateChanged { .. }) => {
                    return Err(EngineError::InvalidState(format!(
                        "batch {name} is marked for removal, but a worker is still copying for it; it is removed once that work stops (run `batch remove {name}` again)"
                    )))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Users of a batch that still wait for work (for `--wait`).
    pub(crate) async fn pending_users(&self, batch: &str) -> Result<Vec<UserRecord>, EngineError> {
        Ok(self
            .batch_state(batch)
            .await?
            .users
            .into_iter()
            .filter(|u| matches!(u.status, UserStatus::Queued | UserStatus::Completing) || u.status.is_active())
            .collect())
    }
}
