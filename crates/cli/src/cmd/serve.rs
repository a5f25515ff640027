//! `mailferry serve` (HTTP API + scheduler + workers) and `mailferry worker`
//! (workers).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mailferry_engine::sync::NoProgress;
use mailferry_engine::worker::{StopFlag, WorkerConfig};

use crate::args::{ServeArgs, ServeHttpArgs};
use crate::context::Context;
use crate::failure::Failure;

/// How long the API waits for requests in flight after a stop was asked.
const HTTP_GRACE: Duration = Duration::from_secs(10);

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

/// Resolves once `stop` is raised.
async fn raised(stop: StopFlag) {
    while !stop.is_raised() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `mailferry serve`: the API on `--listen`, with the scheduler and the
/// workers; SIGTERM/SIGINT stops all of them.
pub async fn serve(ctx: &Context, args: ServeHttpArgs) -> Result<ExitCode, Failure> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::usage(format!("--listen {}: cannot listen there: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::internal(format!("--listen {}: {e}", args.listen)))?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the API listens beyond loopback; every route but /healthz needs a token, but use TLS in front of it");
    }
    let stop = stop_on_signals();
    let state = mailferry_api::AppState::new(ctx.engine.clone());
    let server_stop = stop.clone();
    let server = tokio::spawn(mailferry_api::serve(listener, state, raised(stop.clone())));
    // If the server ends by itself (it should not), the workers stop too.
    let watch = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let result = server.await;
            stop.raise();
            result
        })
    };
    eprintln!("mailferry API on http://{addr}/api/v1 (OpenAPI: /api/v1/openapi.json; token: `mailferry token create NAME`)");
    let run = run_with_stop(ctx, args.workers, true, stop).await;
    server_stop.raise();
    let served = match tokio::time::timeout(HTTP_GRACE, watch).await {
        Ok(Ok(Ok(Ok(())))) => Ok(()),
        Ok(Ok(Ok(Err(e)))) => Err(Failure::internal(format!("the API stopped: {e}"))),
        Ok(Ok(Err(e))) | Ok(Err(e)) => Err(Failure::internal(format!("the API stopped unexpectedly: {e}"))),
        Err(_) => {
            eprintln!("stopped: requests still running after {}s were cut off", HTTP_GRACE.as_secs());
            Ok(())
        }
    };
    let code = run?;
    served?;
    Ok(code)
}

/// `mailferry worker` (and the work of `serve`): until SIGTERM/SIGINT.
pub async fn run(ctx: &Context, args: ServeArgs, with_scheduler: bool) -> Result<ExitCode, Failure> {
    run_with_stop(ctx, args, with_scheduler, stop_on_signals()).await
}

async fn run_with_stop(ctx: &Context, args: ServeArgs, with_scheduler: bool, stop: StopFlag) -> Result<ExitCode, Failure> {
    let mut config = WorkerConfig::new(Arc::new(NoProgress));
    config.slots = args.slots.max(1);
    config.lease_ttl = Duration::from_secs(args.lease_ttl);
    let engine = ctx.engine.clone();
    let worker_stop = stop.clone();
    let id = config.id.clone();
    let worker = tokio::spawn(async move { engine.run_worker(config, worker_stop).await });
    tracing::info!(worker = %id, scheduler = with_scheduler, "serving");
    eprintln!("mailferry {} running (worker {id}); SIGTERM or Ctrl-C stops it cleanly", if with_scheduler { "serve" } else { "worker" });
    if with_scheduler {
        let tick = Duration::from_secs(args.tick);
        while !stop.is_raised() {
            // Exactly one scheduler acts at a time, however many `serve`
            // processes share the database: the one holding the leadership.
            match ctx.engine.store().try_lead(&id, tick * 3).await {
                Ok(true) => match ctx.engine.scheduler_tick(chrono::Utc::now()).await {
                    Ok(t) if t != Default::default() => tracing::info!(?t, "scheduler"),
                    Ok(_) => {}
                    Err(e) => tracing::error!("scheduler: {e}"),
                },
                Ok(false) => {}
                Err(e) => tracing::error!("scheduler leadership: {e}"),
            }
            let deadline = tokio::time::Instant::now() + tick;
            while !stop.is_raised() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let summary = worker.await;
    stop.raise();
    let summary = summary.map_err(|e| Failure::internal(format!("the worker stopped unexpectedly: {e}")))??;
    eprintln!("stopped: {} mailbox sync(s) run, {} failed", summary.users, summary.failed);
    Ok(ExitCode::SUCCESS)
}

/// `mailferry worker list`: the worker processes and what they hold.
pub async fn list_workers(ctx: &Context) -> Result<ExitCode, Failure> {
    let workers = ctx.engine.store().workers().await.map_err(mailferry_engine::EngineError::from)?;
    let leases = ctx.engine.store().leases().await.map_err(mailferry_engine::EngineError::from)?;
    if ctx.json {
        let list: Vec<serde_json::Value> = workers
            .iter()
            .map(|w| {
                let held: Vec<&str> = leases.iter().filter(|l| l.owner == w.id).map(|l| l.email.as_str()).collect();
                serde_json::json!({
                    "id": w.id, "host": w.host, "pid": w.pid, "version": w.version,
                    "started_at": w.started_at, "heartbeat_at": w.heartbeat_at, "leases": w.leases, "mailboxes": held,
                })
            })
            .collect();
        crate::output::json(&list);
    } else if workers.is_empty() {
        println!("No workers. `mailferry serve` or `mailferry worker` runs one.");
    } else {
        println!("{:<44} {:<8} {:<20} {:>6}  MAILBOXES", "WORKER", "PID", "HEARTBEAT", "HELD");
        for w in &workers {
            let held: Vec<&str> = leases.iter().filter(|l| l.owner == w.id).map(|l| l.email.as_str()).collect();
            println!(
                "{:<44} {:<8} {:<20} {:>6}  {}",
                w.id,
                w.pid.map(|p| p.to_string()).unwrap_or_default(),
                w.heartbeat_at.format("%Y-%m-%d %H:%M:%S"),
                w.leases,
                held.join(" ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
