//! `mailferry token create|list|revoke`: API tokens for `serve`. A token is
//! printed once, when it is made; only its SHA-256 is stored.

use std::process::ExitCode;

use mailferry_core::Name;
use mailferry_engine::EngineError;

use crate::args::TokenCommand;
use crate::context::Context;
use crate::failure::Failure;
use crate::output;

pub async fn run(ctx: &Context, cmd: TokenCommand) -> Result<ExitCode, Failure> {
    let store = ctx.engine.store();
    match cmd {
        TokenCommand::Create { name } => {
            let name = Name::parse(&name).map_err(|e| Failure::usage(format!("token name {name:?}: {e}")))?;
            let token = mailferry_api::auth::new_token()
                .map_err(|e| Failure::internal(format!("no randomness for a token: {e}")))?;
            let record = store
                .create_token(name.as_str(), &mailferry_api::auth::token_hash(&token))
                .await
                .map_err(EngineError::from)?;
            if ctx.json {
                output::json(&serde_json::json!({ "name": record.name, "token": token, "created_at": record.created_at }));
            } else {
                println!("{token}");
                eprintln!(
                    "Token {:?} created. It is shown only now: keep it in a safe place; send it as `Authorization: Bearer TOKEN`.",
                    record.name
                );
            }
        }
        TokenCommand::List => {
            let tokens = store.tokens().await.map_err(EngineError::from)?;
            if ctx.json {
                let list: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "name": t.name, "created_at": t.created_at, "last_used_at": t.last_used_at,
                            "revoked_at": t.revoked_at, "revoked": t.revoked_at.is_some(),
                        })
                    })
                    .collect();
                output::json(&list);
            } else if tokens.is_empty() {
                println!("No tokens. Make one with `mailferry token create NAME`.");
            } else {
                let when = |t: &Option<chrono::DateTime<chrono::Utc>>| {
                    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
                };
                println!("{:<24} {:<19} {:<19} REVOKED", "NAME", "CREATED", "LAST USED");
                for t in &tokens {
                    println!("{:<24} {:<19} {:<19} {}", t.name, when(&Some(t.created_at)), when(&t.last_used_at), when(&t.revoked_at));
                }
            }
        }
        TokenCommand::Revoke { name } => {
            store.revoke_token(&name).await.map_err(EngineError::from)?;
            if ctx.json {
                output::json(&serde_json::json!({ "revoked": name }));
            } else {
                println!("Token {name:?} revoked.");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
