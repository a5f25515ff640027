//! The IMAP connector of mailferry: session layer, response parser, TLS.
//!
//! # Layout
//!
//! - [`parse`]: pure parser, bytes of one framed response into a
//!   [`Response`]. No I/O, no panics, bounded by [`Limits`].
//! - `codec`: the wire. A plain or TLS stream and a framing reader that
//!   reads a line, then each announced literal by its byte count, within the
//!   limits and the response timeout.
//! - `command`: building commands (quoting, literals, LITERAL+, SASL PLAIN),
//!   cut into segments where the server's `+` must be awaited.
//! - `session`: [`Session`], connecting (TLS, STARTTLS, plain), logging in,
//!   NAMESPACE, LIST, SELECT, LOGOUT. Tags are generated per command and
//!   responses are routed by tag, so pipelining can be added on top.
//! - `tls`: [`TlsTrust`], the handshake, rustls failures in words.
//! - `error`: [`ImapError`], worded for an administrator, never carrying a
//!   password.
//! - `types`: the values handed back ([`Capabilities`], [`ListEntry`],
//!   [`MailboxInfo`], [`Namespaces`], [`Limits`]).
//!
//! # Invariant
//!
//! This crate knows nothing of endpoints, batches or the store; every byte
//! from the server is untrusted.

#![forbid(unsafe_code)]

mod codec;
mod command;
mod error;
pub mod parse;
mod session;
mod tls;
mod types;

pub use error::{ConnectFailure, ImapError, TlsFailure};
pub use parse::{Code, Condition, Fetch, Response, Status, Tagged, Token, Untagged};
pub use session::{Auth, ConnectOptions, Session};
pub use tls::TlsTrust;
pub use types::{Capabilities, Limits, ListEntry, MailboxInfo, Namespace, Namespaces};
