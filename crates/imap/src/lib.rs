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
//!   responses are routed by tag. An error that can leave the stream out of
//!   step breaks the session: later commands fail with
//!   [`ImapError::SessionBroken`] without sending anything.
//! - `copy`: the copy path on [`Session`]: CREATE, SUBSCRIBE, STATUS, UID
//!   SEARCH, UID FETCH read through a [`FetchStream`] one message at a time
//!   (an over-limit message skipped without being held; a stream dropped
//!   early is drained before the next command), APPEND (LITERAL+ or
//!   synchronizing literal; pipelined by `append_many` with LITERAL+), UID
//!   STORE of flags, ENABLE, NOOP, UNSELECT; counters of commands sent and
//!   of message bodies received, and what the server reported on its own
//!   ([`MailboxUpdates`]).
//! - `tls`: [`TlsTrust`], the handshake, rustls failures in words.
//! - `error`: [`ImapError`], worded for an administrator, never carrying a
//!   password.
//! - `types`: the values handed back ([`Capabilities`], [`ListEntry`],
//!   [`MailboxInfo`], [`Namespaces`], [`MailboxStatus`], [`AppendUid`],
//!   [`MailboxUpdates`], [`OversizedMessage`]) and taken ([`Limits`],
//!   [`AppendRequest`], [`FlagsMode`]).
//!
//! # Invariant
//!
//! This crate knows nothing of endpoints, batches or the store; every byte
//! from the server is untrusted, and what goes back from one server into a
//! command (flags, INTERNALDATE) is checked before it is sent.

#![forbid(unsafe_code)]

mod codec;
mod command;
mod copy;
mod error;
pub mod parse;
mod session;
mod tls;
mod types;

pub use copy::FetchStream;
pub use error::{ConnectFailure, ImapError, TlsFailure};
pub use parse::{Code, Condition, Fetch, Response, Status, Tagged, Token, Untagged};
pub use session::{Auth, ConnectOptions, Session};
pub use tls::TlsTrust;
pub use types::{
    AppendRequest, AppendUid, Capabilities, FlagsMode, Limits, ListEntry, MailboxInfo,
    MailboxStatus, MailboxUpdates, Namespace, Namespaces, OversizedMessage,
};
