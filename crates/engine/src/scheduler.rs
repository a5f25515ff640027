//! The scheduler of `mailferry serve`: starts batches whose start time came
//! (`--start-after`), queues the incremental syncs that are due
//! (`--incremental-interval`), completes batches whose completion time came
//! (`--complete-after`) or that asked for it once synced (`--autocomplete`),
//! and finishes the removal of batches whose work has stopped. Each tick is
//! idempotent: every change is a compare-and-set through the state machine.

use chrono::{DateTime, Utc};
use mailferry_core::state::{BatchStatus, UserStatus};
use mailferry_store::StoreError;

use crate::{Engine, EngineError};

/// What one tick did (for logs and tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tick {
    pub started: Vec<String>,
    pub queued_for_sync: usize,
    pub completing: Vec<String>,
    pub removed: Vec<String>,
}

impl Engine {
    pub async fn scheduler_tick(&self, now: DateTime<Utc>) -> Result<Tick, EngineError> {
        let mut tick = Tick::default();
        for state in self.batch_states().await? {
            let name = state.batch.name.to_string();
            let o = &state.options;
            if state.batch.removing {
                match self.store.remove_batch(&name).await {
                    Ok(()) => tick.removed.push(name),
                    Err(StoreError::StateChanged { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                continue;
            }
            let due = |t: Option<i64>| t.is_some_and(|t| t <= now.timestamp());
            if !state.batch.started && due(o.start_after) {
                self.start_batch(&name).await?;
                tick.started.push(name.clone());
                continue;
            }
            let finished = matches!(state.status, BatchStatus::Completed | BatchStatus::CompletedWithErrors);
            if state.batch.started && state.batch.complete_requested_at.is_none() && !finished {
                let all_synced = !state.users.is_empty() && state.users.iter().all(|u| u.status == UserStatus::Synced);
                if due(o.complete_after) || (o.autocomplete && all_synced) {
                    self.complete_batch(&name).await?;
                    tick.completing.push(name);
                }
            }
        }
        // Workers that stopped sending heartbeats an hour ago are gone.
        self.store.forget_workers(now - chrono::Duration::hours(1)).await?;
        for user in self.store.users_due_for_sync(now, 1000).await? {
            let batch = self.store.batch(user.batch_name.as_str()).await?;
            if batch.complete_requested_at.is_some() {
                continue;
            }
            match self.store.transition_user(&user.id, UserStatus::Synced, UserStatus::Queued, None, None).await {
                Ok(_) => tick.queued_for_sync += 1,
                Err(StoreError::StateChanged { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(tick)
    }
}
