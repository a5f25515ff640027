//! What every command needs: the store (from `--db` or `--data-dir`) and the
//! engine built on it.

use std::path::PathBuf;

use mailferry_engine::{ConnectionDefaults, Engine};

use crate::args::GlobalArgs;
use crate::failure::Failure;

pub struct Context {
    pub engine: Engine,
    pub json: bool,
    pub verbose: u8,
    /// `--allow-private-networks`: discovery may use loopback and private addresses.
    pub allow_private_networks: bool,
    /// The PEM of the global `--ca-file`, also stored with an endpoint by
    /// `endpoint create`/`set`.
    pub ca_pem: Option<String>,
}

impl Context {
    pub async fn open(global: &GlobalArgs) -> Result<Context, Failure> {
        let ca_pem = match &global.ca_file {
            Some(path) => Some(read_ca_file(path)?),
            None => None,
        };
        let store = mailferry_store::open_store(global.db.as_deref(), &global.data_dir)
            .await
            .map_err(|e| match e {
                mailferry_store::StoreError::Unsupported(why) => Failure::usage(format!("--db: {why}")),
                other => Failure::internal(format!("cannot open the store: {other}")),
            })?;
        let mut connection = ConnectionDefaults { extra_ca_pem: ca_pem.clone(), ..ConnectionDefaults::default() };
        // The first wait before a mailbox's sync is retried after a transient
        // failure (doubling each time); tests make it short.
        if let Some(ms) = std::env::var("MAILFERRY_RETRY_DELAY_MS").ok().and_then(|v| v.parse::<u64>().ok()) {
            connection.retry.base = std::time::Duration::from_millis(ms);
        }
        connection.resolver = global.resolver;
        if let Some(secs) = global.timeout {
            connection.connect_timeout = std::time::Duration::from_secs(secs);
            connection.response_timeout = std::time::Duration::from_secs(secs);
        }
        Ok(Context {
            engine: Engine::new(store, connection),
            json: global.json,
            verbose: global.verbose,
            allow_private_networks: global.allow_private_networks,
            ca_pem,
        })
    }
}

fn read_ca_file(path: &PathBuf) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("cannot read --ca-file {}: {e}", path.display())))?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(Failure::usage(format!(
            "--ca-file {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(text)
}
