//! `mailferry user …`

use std::process::ExitCode;

use mailferry_core::state::UserStatus;
use mailferry_engine::views::UserView;
use mailferry_store::UserFilter;

use crate::args::UserCommand;
use crate::context::Context;
use crate::failure::Failure;
use crate::output;

pub async fn run(ctx: &Context, cmd: UserCommand) -> Result<ExitCode, Failure> {
    match cmd {
        UserCommand::List { batch, status } => {
            let status = status
                .map(|s| s.parse::<UserStatus>().map_err(|e| Failure::usage(format!("--status: {e}"))))
                .transpose()?;
            if let Some(b) = &batch {
                ctx.engine.batch_state(b).await?;
            }
            let users = ctx.engine.users(UserFilter { batch, status, ..UserFilter::default() }).await?;
            let views: Vec<UserView> = users.iter().map(UserView::from).collect();
            if ctx.json {
                output::json(&views);
            } else {
                output::user_table(&views);
            }
        }
        UserCommand::Show { address } => {
            let detail = ctx.engine.user_detail(&address).await?;
            if ctx.json {
                output::json(&detail);
            } else {
                output::user_details(&detail);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
