//! Workers: claim migration users from the store with a lease, copy for
//! them, renew the lease while copying, and settle them. The same loop runs
//! in `mailferry serve`, in `mailferry worker`, and behind `batch start
//! --wait` (restricted to one batch, ending when it has nothing left).
//!
//! A lease carries a fencing token; every progress write carries it, so a
//! worker that lost its lease (paused past its expiry, cut off) can no
//! longer write anything. A lease of a process on this host that is no
//! longer alive is released at once rather than waited out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mailferry_store::{ClaimRequest, Lease, StoreError, UserRecord, WorkerInfo};

/// How often a worker records its heartbeat and looks for dead workers' leases.
const HEARTBEAT: Duration = Duration::from_secs(5);
use tokio::task::JoinSet;

use crate::sync::{Progress, RunContext, RunSummary};
use crate::{Engine, EngineError};

/// A flag that asks in-flight work to stop at the next message boundary.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> Self {
        StopFlag::default()
    }
    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
pub struct WorkerConfig {
    /// Unique per process: `host:pid:random`.
    pub id: String,
    /// Mailboxes this process copies at once (endpoint limits apply on top).
    pub slots: usize,
    pub lease_ttl: Duration,
    /// How often to look for work when there is none.
    pub poll: Duration,
    /// Only this batch; the worker ends when the batch has nothing left to do.
    pub batch: Option<String>,
    pub progress: Arc<dyn Progress>,
}

impl WorkerConfig {
    pub fn new(progress: Arc<dyn Progress>) -> Self {
        WorkerConfig {
            id: worker_id(),
            slots: 8,
            lease_ttl: Duration::from_secs(60),
            poll: Duration::from_millis(500),
            batch: None,
            progress,
        }
    }
}

/// `host:pid:random`: unique, and tells which process on which host holds a lease.
pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let mut r = [0u8; 4];
    let _ = getrandom_fill(&mut r);
    format!("{host}:{}:{}", std::process::id(), hex::encode(r))
}

fn getrandom_fill(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

fn this_host() -> String {
    worker_id().split(':').next().unwrap_or_default().to_owned()
}

/// True if `owner` is a process of this host that no longer runs.
fn owner_is_dead_here(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else { return false };
    let Ok(pid) = pid.parse::<u32>() else { return false };
    host == this_host() && pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl Engine {
    /// Releases the leases held by processes of this host that died (a
    /// `kill -9`), so their mailboxes are resumed now, not after the lease
    /// expires.
    pub async fn release_dead_leases(&self) -> Result<usize, EngineError> {
        let mut released = 0;
        for l in self.store.leases().await? {
            if owner_is_dead_here(&l.owner) {
                self.store.release_lease(&l.to_lease()).await?;
                released += 1;
            }
        }
        Ok(released)
    }

    /// Runs a worker until `stop` is raised (or, with `config.batch`, until
    /// the batch has nothing left to do). In-flight mailboxes stop at a
    /// message boundary with their state saved.
    pub async fn run_worker(&self, config: WorkerConfig, stop: StopFlag) -> Result<RunSummary, EngineError> {
        let mut tasks: JoinSet<mailferry_core::state::UserStatus> = JoinSet::new();
        let mut summary = RunSummary::default();
        let mut contexts: HashMap<String, Arc<RunContext>> = HashMap::new();
        self.release_dead_leases().await?;
        let info = WorkerInfo {
            host: this_host(),
            pid: Some(std::process::id()),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            id: config.id.clone(),
        };
        let mut last_beat: Option<tokio::time::Instant> = None;
        loop {
            while let Some(done) = tasks.try_join_next() {
                summary.record(done);
            }
            if stop.is_raised() {
                break;
            }
            // The heartbeat (`worker list`), and the leases of processes of
            // this host that died, released so their mailboxes go on now.
            if last_beat.is_none_or(|t| t.elapsed() >= HEARTBEAT) {
                if let Err(e) = self.store.heartbeat_worker(&info).await {
                    tracing::warn!("worker heartbeat: {e}");
                }
                if let Err(e) = self.release_dead_leases().await {
                    tracing::warn!("releasing the leases of dead workers: {e}");
                }
                last_beat = Some(tokio::time::Instant::now());
            }
            let free = config.slots.saturating_sub(tasks.len());
            let claimed = if free > 0 {
                self.store
                    .claim_users(&ClaimRequest { worker: config.id.clone(), batch: config.batch.clone(), max: free, ttl: config.lease_ttl })
                    .await?
            } else {
                Vec::new()
            };
            let got_work = !claimed.is_empty();
            for (user, lease) in claimed {
                summary.users += 1;
                let cx = match contexts.get(&user.batch_id) {
                    Some(cx) => cx.clone(),
                    None => {
                        let batch = self.store.batch(user.batch_name.as_str()).await?;
                        let cx = Arc::new(RunContext::load(self, &batch, config.progress.clone()).await?);
                        contexts.insert(user.batch_id.clone(), cx.clone());
                        cx
                    }
                };
                let stop = stop.clone();
                let ttl = config.lease_ttl;
                tasks.spawn(async move { run_claimed(cx, user, lease, ttl, stop).await });
            }
            if tasks.is_empty() && !got_work {
                if let Some(batch) = &config.batch {
                    if self.pending_users(batch).await?.is_empty() {
                        break;
                    }
                    // Waiting: blocked by endpoint limits, or by a lease of another live worker.
                    self.release_dead_leases().await?;
                }
            }
            if !got_work {
                // Wait for a task to end or for the poll interval.
                tokio::select! {
                    Some(done) = tasks.join_next(), if !tasks.is_empty() => summary.record(done),
                    _ = tokio::time::sleep(config.poll) => {}
                }
            }
        }
        while let Some(done) = tasks.join_next().await {
            summary.record(done);
        }
        Ok(summary)
    }
}

impl RunSummary {
    fn record(&mut self, done: Result<mailferry_core::state::UserStatus, tokio::task::JoinError>) {
        match done {
            Ok(mailferry_core::state::UserStatus::Failed) => self.failed += 1,
            Ok(_) => self.succeeded += 1,
            Err(e) => {
                tracing::error!("a mailbox's sync task panicked: {e}");
                self.failed += 1;
            }
        }
    }
}

/// Copies for one claimed user while a heartbeat keeps its lease alive. A
/// lost lease stops the copy at once (no further write could succeed).
async fn run_claimed(cx: Arc<RunContext>, user: UserRecord, lease: Lease, ttl: Duration, stop: StopFlag) -> mailferry_core::state::UserStatus {
    let lost = StopFlag::new();
    let heartbeat = {
        let store = cx.engine.store().clone();
        let lease = lease.clone();
        let lost = lost.clone();
        tokio::spawn(async move {
            let mut lease = lease;
            loop {
                tokio::time::sleep(ttl / 3).await;
                match store.renew_lease(&lease, ttl).await {
                    Ok(l) => lease = l,
                    Err(StoreError::LeaseLost { .. }) => {
                        tracing::warn!(user = %lease.user_id, "lease lost: another worker took this mailbox over; stopping");
                        lost.raise();
                        return;
                    }
                    Err(e) => tracing::warn!(user = %lease.user_id, "cannot renew the lease: {e}"),
                }
            }
        })
    };
    let status = crate::sync::user::run_user(&cx, user, Some(&lease), ttl, &stop, &lost).await;
    heartbeat.abort();
    if !lost.is_raised() {
        let _ = cx.engine.store().release_lease(&lease).await;
    }
    status
}
