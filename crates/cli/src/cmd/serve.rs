//! `mailferry serve` (scheduler + workers) and `mailferry worker` (workers).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mailferry_engine::sync::NoProgress;
use mailferry_engine::worker::{StopFlag, WorkerConfig};

use crate::args::ServeArgs;
use crate::context::Context;
use crate::failure::Failure;

/// A flag raised by SIGINT or SIGTERM: in-flight mailboxes stop at the next
/// message boundary with their state saved, and the process exits.
pub fn stop_on_signals() -> StopFlag {
    let flag = StopFlag::new();
    let raise = flag.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("stopping: in-flight mailboxes stop at the next message, their state saved");
        raise.raise();
    });
    flag
}

pub async fn run(ctx: &Context, args: ServeArgs, with_scheduler: bool) -> Result<ExitCode, Failure> {
    let stop = stop_on_signals();
    let mut config = WorkerConfig::new(Arc::new(NoProgress));
    config.slots = args.slots.max(1);
    let engine = ctx.engine.clone();
    let worker_stop = stop.clone();
    let id = config.id.clone();
    let worker = tokio::spawn(async move { engine.run_worker(config, worker_stop).await });
    tracing::info!(worker = %id, scheduler = with_scheduler, "serving");
    eprintln!("mailferry {} running (worker {id}); SIGTERM or Ctrl-C stops it cleanly", if with_scheduler { "serve" } else { "worker" });
    if with_scheduler {
        let tick = Duration::from_secs(args.tick);
        while !stop.is_raised() {
            match ctx.engine.scheduler_tick(chrono::Utc::now()).await {
                Ok(t) if t != Default::default() => tracing::info!(?t, "scheduler"),
                Ok(_) => {}
                Err(e) => tracing::error!("scheduler: {e}"),
            }
            let deadline = tokio::time::Instant::now() + tick;
            while !stop.is_raised() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let summary = worker
        .await
        .map_err(|e| Failure::internal(format!("the worker stopped unexpectedly: {e}")))??;
    eprintln!("stopped: {} mailbox sync(s) run, {} failed", summary.users, summary.failed);
    Ok(ExitCode::SUCCESS)
}
