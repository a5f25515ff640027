//! `mailferry batch …`

use std::process::ExitCode;
use std::sync::Arc;

use mailferry_core::batch::{parse_duration_secs, parse_size, BatchOptions};
use mailferry_core::csv_input::{CsvOptions, MAX_BYTES};
use mailferry_core::{EmailAddress, Impersonation, Name};
use mailferry_engine::discover::DiscoverRequest;
use mailferry_engine::batch::{BatchSpec, BatchState};
use mailferry_engine::sync::Progress;
use mailferry_engine::views::BatchView;

use crate::args::{BatchCommand, BatchCreateArgs, WaitArgs};
use crate::context::Context;
use crate::failure::Failure;
use crate::password::SecretSource;
use crate::{output, progress};

pub async fn run(ctx: &Context, cmd: BatchCommand) -> Result<ExitCode, Failure> {
    match cmd {
        BatchCommand::Create(args) => create(ctx, args).await,
        BatchCommand::Start(args) => {
            let state = ctx.engine.start_batch(&args.name).await?;
            settle(ctx, state, &args, "started").await
        }
        BatchCommand::Sync(args) => {
            let state = ctx.engine.sync_batch(&args.name).await?;
            settle(ctx, state, &args, "queued for sync").await
        }
        BatchCommand::Complete(args) => {
            let state = ctx.engine.complete_batch(&args.name).await?;
            settle(ctx, state, &args, "completing").await
        }
        BatchCommand::Stop { name } => {
            let state = ctx.engine.stop_batch(&name).await?;
            if ctx.json {
                output::json(&BatchView::new(&state, true));
            } else {
                let stopping = state.users.iter().filter(|u| u.status == mailferry_core::state::UserStatus::Stopping).count();
                println!(
                    "Batch {:?} {}.",
                    state.batch.name.as_str(),
                    if stopping > 0 { format!("stopping: {stopping} mailbox(es) stop at the next message") } else { "stopped".to_owned() }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        BatchCommand::Remove { name } => {
            ctx.engine.remove_batch(&name, std::time::Duration::from_secs(60)).await?;
            if ctx.json {
                output::json(&serde_json::json!({ "removed": name }));
            } else {
                println!("Batch {name:?} removed (the messages already copied stay on the target).");
            }
            Ok(ExitCode::SUCCESS)
        }
        BatchCommand::AddUsers { name, csv, allow_unknown_columns } => {
            let bytes = read_csv(&csv)?;
            let (state, added) = ctx
                .engine
                .add_users(&name, &bytes, CsvOptions { allow_unknown_columns })
                .await
                .map_err(|e| csv_failure(e, &csv))?;
            if ctx.json {
                output::json(&BatchView::new(&state, true));
            } else {
                println!("{added} mailbox(es) added to batch {:?}.", state.batch.name.as_str());
            }
            Ok(ExitCode::SUCCESS)
        }
        BatchCommand::Show { name } => {
            let state = ctx.engine.batch_state(&name).await?;
            if ctx.json {
                output::json(&BatchView::new(&state, true));
            } else {
                output::batch_details(&BatchView::new(&state, true));
            }
            Ok(ExitCode::SUCCESS)
        }
        BatchCommand::List => {
            let states = ctx.engine.batch_states().await?;
            let views: Vec<BatchView> = states.iter().map(|s| BatchView::new(s, false)).collect();
            if ctx.json {
                output::json(&views);
            } else {
                output::batch_table(&views);
            }
            Ok(ExitCode::SUCCESS)
        }
        BatchCommand::Report { name, format } => {
            let (state, users) = ctx.engine.batch_report(&name).await?;
            if format == "json" || ctx.json {
                output::json(&serde_json::json!({
                    "batch": BatchView::new(&state, false),
                    "users": users,
                }));
            } else {
                output::report_csv(&users).map_err(|e| Failure::internal(format!("cannot write the report: {e}")))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn create(ctx: &Context, a: BatchCreateArgs) -> Result<ExitCode, Failure> {
    let name = Name::parse(&a.name).map_err(|e| Failure::usage(format!("batch name {:?}: {e}", a.name)))?;
    let csv = read_csv(&a.csv)?;
    let mut options = BatchOptions {
        exclude_folders: a.exclude_folder.clone(),
        include_folders: a.include_folder.clone(),
        autostart: a.autostart,
        autocomplete: a.autocomplete,
        test_mailbox: a.test_mailbox.clone(),
        start_after: a.start_after.as_deref().map(|t| parse_time(t, "--start-after")).transpose()?,
        complete_after: a.complete_after.as_deref().map(|t| parse_time(t, "--complete-after")).transpose()?,
        ..BatchOptions::default()
    };
    if let Some(s) = &a.max_message_size {
        options.max_message_size = Some(parse_size(s).map_err(|e| Failure::usage(format!("--max-message-size: {e}")))?);
    }
    if let Some(n) = a.bad_item_limit {
        options.bad_item_limit = n;
    }
    if let Some(n) = a.large_item_limit {
        options.large_item_limit = n;
    }
    if a.no_incremental {
        options.incremental_interval_secs = None;
    } else if let Some(d) = &a.incremental_interval {
        options.incremental_interval_secs =
            Some(parse_duration_secs(d).map_err(|e| Failure::usage(format!("--incremental-interval: {e}")))?);
    }
    let spec = BatchSpec {
        name,
        source: a.source.clone().unwrap_or_default(),
        target: a.target.clone(),
        csv,
        csv_options: CsvOptions { allow_unknown_columns: a.allow_unknown_columns },
        options,
    };
    let created = match &a.source_email {
        None => ctx.engine.create_batch(spec).await.map_err(|e| csv_failure(e, &a.csv))?,
        Some(email) => {
            let email = EmailAddress::parse(email).map_err(|e| Failure::usage(format!("--source-email: {e}")))?;
            let var = a.source_password_env.clone().unwrap_or_default();
            let secret = SecretSource { env: Some(var), file: None }
                .read("")?
                .ok_or_else(|| Failure::usage("--source-password-env: no password"))?;
            let impersonation = Impersonation::from_parts(&a.source_impersonation, None)
                .map_err(|e| Failure::usage(format!("--source-impersonation: {e}")))?;
            let endpoint_name = a
                .name_endpoint
                .as_deref()
                .map(|n| Name::parse(n).map_err(|e| Failure::usage(format!("--name-endpoint {n:?}: {e}"))))
                .transpose()?;
            let (created, found) = ctx
                .engine
                .create_batch_discovering_source(
                    spec,
                    DiscoverRequest {
                        email,
                        admin_login: a.source_admin.clone(),
                        admin_secret: Some(secret),
                        trust_hosts: a.trust_host.clone(),
                        allow_private_networks: ctx.allow_private_networks,
                    },
                    impersonation,
                    endpoint_name,
                )
                .await
                .map_err(|e| csv_failure(e, &a.csv))?;
            output::print_discovery(&found, ctx.json, ctx.verbose > 0);
            if !ctx.json {
                println!("Source endpoint {:?} created from the discovered settings.", created.batch.source_endpoint.as_str());
            }
            created
        }
    };
    let mut state = ctx.engine.batch_state(created.batch.name.as_str()).await?;
    if a.autostart {
        state = ctx.engine.start_batch(created.batch.name.as_str()).await?;
    }
    if ctx.json {
        output::json(&BatchView::new(&state, true));
    } else {
        println!(
            "Batch {:?} created with {} mailbox{} ({} -> {}); the target accepted writes for {}.",
            created.batch.name.as_str(),
            created.users,
            if created.users == 1 { "" } else { "es" },
            created.batch.source_endpoint,
            created.batch.target_endpoint,
            created.target_test.steps.iter().find(|s| s.step.as_str() == "open-inbox").map(|s| s.detail.as_str()).unwrap_or("the test mailbox"),
        );
        if a.autostart {
            println!("Started. Follow it with `mailferry batch show {}`.", created.batch.name);
        } else {
            println!("Start it with `mailferry batch start {} --wait`.", created.batch.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Without `--wait`: report what was queued. With it: run the work here,
/// then print the batch and exit 1 if any mailbox failed.
async fn settle(ctx: &Context, state: BatchState, args: &WaitArgs, what: &str) -> Result<ExitCode, Failure> {
    if !args.wait {
        if ctx.json {
            output::json(&BatchView::new(&state, true));
        } else {
            println!(
                "Batch {:?} {what}: {} mailbox(es) queued. Run `mailferry batch {} {} --wait` to do the work here and watch it.",
                state.batch.name.as_str(),
                state.users.iter().filter(|u| u.status == mailferry_core::state::UserStatus::Queued).count(),
                match what {
                    "started" => "start",
                    "completing" => "complete",
                    _ => "sync",
                },
                state.batch.name
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let progress: Arc<dyn Progress> = if ctx.json {
        Arc::new(mailferry_engine::sync::NoProgress)
    } else {
        Arc::from(progress::for_terminal(state.users.len() as u64))
    };
    let stop = crate::cmd::serve::stop_on_signals();
    let summary = ctx.engine.run_batch(state.batch.name.as_str(), progress, stop).await?;
    let state = ctx.engine.batch_state(state.batch.name.as_str()).await?;
    let view = BatchView::new(&state, true);
    if ctx.json {
        output::json(&view);
    } else {
        output::batch_details(&view);
    }
    if summary.failed > 0 || state.users.iter().any(|u| u.status == mailferry_core::state::UserStatus::Failed) {
        return Err(Failure {
            code: "users_failed",
            message: format!(
                "{} of {} mailbox(es) failed; see the errors above and `mailferry user show ADDRESS`",
                state.users.iter().filter(|u| u.status == mailferry_core::state::UserStatus::Failed).count(),
                state.users.len()
            ),
            exit: 1,
            report: None,
        });
    }
    Ok(ExitCode::SUCCESS)
}

fn read_csv(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    let meta = std::fs::metadata(path).map_err(|e| Failure::usage(format!("--csv {}: {e}", path.display())))?;
    if meta.len() > MAX_BYTES as u64 {
        return Err(Failure::usage(format!(
            "--csv {}: {} bytes is over the limit of {MAX_BYTES} bytes (10 MB); split it into several batches",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read(path).map_err(|e| Failure::usage(format!("--csv {}: {e}", path.display())))
}

/// CSV errors name the file they are in.
fn csv_failure(e: mailferry_engine::EngineError, path: &std::path::Path) -> Failure {
    let mut f = Failure::from(e);
    if f.code == "invalid_csv" {
        f.message = format!("--csv {}: {}", path.display(), f.message.trim_end());
    }
    f
}

/// A point in time: RFC 3339, or a delay from now (`30m`, `2h`, `7d`).
fn parse_time(s: &str, flag: &str) -> Result<i64, Failure> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.timestamp());
    }
    match parse_duration_secs(s) {
        Ok(secs) => Ok(chrono::Utc::now().timestamp() + secs as i64),
        Err(_) => Err(Failure::usage(format!(
            "{flag} {s:?}: expected a time like 2026-12-01T22:00:00Z or a delay like 2h"
        ))),
    }
}
