//! # mailferry-engine
//!
//! The operations of mailferry, implemented once: the CLI and the HTTP API
//! are thin faces that parse their input, call these, and render the result.
//!
//! ## Layout
//! - [`Engine`]: holds the store and the connection settings shared by every
//!   operation (extra trust anchors, timeouts).
//! - [`endpoint`]: create, test, list, show, set and remove endpoints.
//! - [`batch`]: create (CSV validated all-or-nothing), list, show, start, sync.
//! - [`sync`]: the copy engine: plan, then apply, per migration user.
//! - [`endpoint_test`]: the step-by-step test of an endpoint (SPEC section 1.1).
//! - [`connect`]: from an endpoint's settings and credentials to a logged-in
//!   IMAP session acting for one mailbox.
//! - [`views`]: the JSON shapes the CLI's `--json` and the API return. Wire
//!   types are kept apart from domain types on purpose.
//! - [`error`]: `EngineError`, with a stable machine-readable code and an
//!   exit status for each kind.
//!
//! ## Invariant
//! The engine decides; the connectors and the store do the I/O it asks for.
//! It knows nothing of terminals, HTTP or flags. Secrets pass through it as
//! `Secret` values and never reach a log line, an error message or a view.

#![forbid(unsafe_code)]

pub mod batch;
pub mod connect;
pub mod endpoint;
pub mod endpoint_test;
pub mod error;
pub mod sync;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use mailferry_store::Store;

pub use error::EngineError;

/// Settings every connection made by this process shares.
#[derive(Debug, Clone)]
pub struct ConnectionDefaults {
    /// PEM trust anchors given with the global `--ca-file`, trusted for this
    /// command's connections in addition to the system roots.
    pub extra_ca_pem: Option<String>,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
}

impl Default for ConnectionDefaults {
    fn default() -> Self {
        ConnectionDefaults {
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs(15),
            response_timeout: Duration::from_secs(60),
        }
    }
}

/// The entry point of every operation.
#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    connection: ConnectionDefaults,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, connection: ConnectionDefaults) -> Self {
        Engine { store, connection }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn connection_defaults(&self) -> &ConnectionDefaults {
        &self.connection
    }
}
