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

pub(crate) mod folder;
mod progress;
pub(crate) mod user;

use std::sync::Arc;

use mailferry_core::batch::BatchOptions;
use mailferry_core::Secret;
use mailferry_store::EndpointRecord;

pub use progress::{NoProgress, Progress};

use crate::batch::batch_options;
use crate::worker::{StopFlag, WorkerConfig};
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

impl RunContext {
    /// Loads both endpoints of a batch with their secrets, and its options.
    pub(crate) async fn load(
        engine: &Engine,
        batch: &mailferry_store::BatchRecord,
        progress: Arc<dyn Progress>,
    ) -> Result<RunContext, EngineError> {
        let store = engine.store();
        let source = store.endpoint(batch.source_endpoint.as_str()).await?;
        let target = store.endpoint(batch.target_endpoint.as_str()).await?;
        let source_secret = store.endpoint_secret(source.name.as_str()).await?;
        let target_secret = store.endpoint_secret(target.name.as_str()).await?;
        Ok(RunContext { engine: engine.clone(), source, source_secret, target, target_secret, options: batch_options(batch)?, progress })
    }
}

impl Engine {
    /// Runs, in this process, every mailbox of the batch that waits for work
    /// (queued, completing, or left mid-sync by a lost worker) until each
    /// one settles; the work is claimed with leases like any worker's, so
    /// it never collides with a `serve` or `worker` process.
    pub async fn run_batch(&self, name: &str, progress: Arc<dyn Progress>, stop: StopFlag) -> Result<RunSummary, EngineError> {
        let batch = self.store.batch(name).await?;
        let cx = RunContext::load(self, &batch, progress.clone()).await?;
        let mut config = WorkerConfig::new(progress);
        config.batch = Some(batch.name.to_string());
        config.slots = cx
            .source
            .settings
            .max_concurrent_migrations
            .min(cx.target.settings.max_concurrent_migrations)
            .max(1) as usize;
        self.run_worker(config, stop).await
    }
}
