//! The `mailferry` binary: parses the command line, opens the store, calls
//! the engine and renders the result. Everything it does is a thin face over
//! `mailferry-engine`; the HTTP API is the other face.

#![forbid(unsafe_code)]

mod args;
mod cmd;
mod context;
mod failure;
mod output;
mod password;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return output::fail(json, &Failure::internal(format!("cannot start the runtime: {e}"))),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(failure) => output::fail(json, &failure),
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let ctx = context::Context::open(&cli.global).await?;
    match cli.command {
        Command::Endpoint(cmd) => cmd::endpoint::run(&ctx, cmd).await,
        Command::Batch(cmd) => cmd::batch::run(&ctx, cmd).await,
        Command::User(cmd) => cmd::user::run(&ctx, cmd).await,
        Command::Verify { batch, user } => cmd::verify::run(&ctx, &batch, user.as_deref()).await,
        Command::Serve(args) => cmd::serve::serve(&ctx, args).await,
        Command::Token(cmd) => cmd::token::run(&ctx, cmd).await,
        Command::Worker(args) => match args.command {
            Some(args::WorkerCommand::List) => cmd::serve::list_workers(&ctx).await,
            None => cmd::serve::run(&ctx, args.run, false).await,
        },
    }
}

/// Logs go to stderr; warnings by default, `-v` for info, `-vv` for debug.
/// `RUST_LOG` overrides. No log line carries a secret: secrets are `Secret`
/// values whose `Debug` is redacted, and the IMAP layer never logs the
/// arguments of LOGIN or AUTHENTICATE.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
