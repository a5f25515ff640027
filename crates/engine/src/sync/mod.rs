//! The copy engine: runs the queued migration users of a batch, several at
//! once within the endpoints' limits, each one *plan, then apply*: list both
//! sides, map the folders (core), create what is missing, then copy every
//! message not yet copied, streaming, with its flags, keywords and
//! INTERNALDATE, byte for byte.
//!
//! Identity of a copied message is the source (folder, UIDVALIDITY, UID),
//! recorded in the store's UID map with the target's UID. An intent is
//! recorded before each APPEND and resolved after it, so a message whose
//! APPEND may have happened unrecorded is looked up on the target before it
//! is sent again.

mod folder;
mod progress;
mod user;

use std::sync::Arc;

use mailferry_core::batch::BatchOptions;
use mailferry_core::state::UserStatus;
use mailferry_core::Secret;
use mailferry_store::{EndpointRecord, UserFilter, UserRecord};
use tokio::sync::Semaphore;

pub use progress::{NoProgress, Progress};

use crate::batch::batch_options;
use crate::{Engine, EngineError};

/// What a run did, for the `--wait` summary.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub users: usize,
    pub succeeded: usize,
    pub failed: usize,
}

/// Everything one run shares: both endpoints with their secrets, the
/// batch's options.
pub(crate) struct RunContext {
    pub engine: Engine,
    pub source: EndpointRecord,
    pub source_secret: Option<Secret>,
    pub target: EndpointRecord,
    pub target_secret: Option<Secret>,
    pub options: BatchOptions,
    pub progress: Arc<dyn Progress>,
}

impl Engine {
    /// Runs, in this process, every user of the batch that is waiting for a
    /// sync (queued or completing), until each one settles.
    pub async fn run_batch(&self, name: &str, progress: Arc<dyn Progress>) -> Result<RunSummary, EngineError> {
        let batch = self.store.batch(name).await?;
        let options = batch_options(&batch)?;
        let source = self.store.endpoint(batch.source_endpoint.as_str()).await?;
        let target = self.store.endpoint(batch.target_endpoint.as_str()).await?;
        let source_secret = self.store.endpoint_secret(source.name.as_str()).await?;
        let target_secret = self.store.endpoint_secret(target.name.as_str()).await?;
        let users: Vec<UserRecord> = self
            .store
            .users(UserFilter { batch: Some(batch.name.to_string()), ..UserFilter::default() })
            .await?
            .into_iter()
            .filter(|u| matches!(u.status, UserStatus::Queued | UserStatus::Completing))
            .collect();
        let limit = source
            .settings
            .max_concurrent_migrations
            .min(target.settings.max_concurrent_migrations)
            .max(1) as usize;
        let cx = Arc::new(RunContext { engine: self.clone(), source, source_secret, target, target_secret, options, progress });
        let slots = Arc::new(Semaphore::new(limit));
        let mut tasks = tokio::task::JoinSet::new();
        let mut summary = RunSummary { users: users.len(), ..RunSummary::default() };
        for user in users {
            let cx = cx.clone();
            let slots = slots.clone();
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await.expect("semaphore is never closed");
                user::run_user(&cx, user).await
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(UserStatus::Failed) => summary.failed += 1,
                Ok(_) => summary.succeeded += 1,
                Err(e) => {
                    tracing::error!("a user's sync task panicked: {e}");
                    summary.failed += 1;
                }
            }
        }
        Ok(summary)
    }
}
