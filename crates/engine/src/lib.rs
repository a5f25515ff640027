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
//! - [`lifecycle`]: stop, complete, remove, add users.
//! - [`scheduler`]: start-after, incremental intervals, complete-after, autocomplete.
//! - [`endpoint_test`]: the step-by-step test of an endpoint (SPEC section 1.1).
//! - [`discover`]: settings from an address; a batch created from one.
//! - [`connect`]: from an endpoint's settings and credentials to a logged-in
//!   IMAP session acting for one mailbox.
//! - [`verify`]: proves a copy message by message (SHA-256, flags, INTERNALDATE).
//! - [`worker`]: claims mailboxes with a lease and runs their syncs.
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
pub mod discover;
pub mod endpoint;
pub mod endpoint_test;
pub mod error;
pub mod lifecycle;
pub mod scheduler;
pub mod sync;
pub mod verify;
pub mod views;
pub mod worker;

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
    pub retry: RetryPolicy,
    /// The DNS server every lookup asks (`--resolver`); `None`: the system's.
    pub resolver: Option<std::net::SocketAddr>,
}

/// How a mailbox's sync retries a transient failure (a dropped connection,
/// a restarting server): `attempts` more tries, waiting `base`, then twice
/// as long each time, before the mailbox is `Failed` with the cause.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 5, base: Duration::from_secs(2) }
    }
}

impl Default for ConnectionDefaults {
    fn default() -> Self {
        ConnectionDefaults {
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs(15),
            response_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            resolver: None,
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
