//! # mailferry-core
//!
//! The domain of mailferry: endpoints, batches, migration users and their
//! states, and the rules that relate them. **This crate does no I/O**: it
//! cannot touch the network, the disk or the clock, so nothing in it can fail
//! for an I/O reason, and everything in it is unit- and property-testable.
//!
//! ## Layout
//! - [`endpoint`]: an endpoint's settings (security, impersonation, login format).
//! - [`address`]: email addresses as the migration sees them.
//! - [`state`]: the batch and migration-user state machines.
//! - [`csv_input`]: the CSV of a batch, validated all-or-nothing.
//! - [`batch`]: a batch's options; durations and sizes as typed on the command line.
//! - [`name`]: validated names for endpoints and batches.
//! - [`mutf7`]: modified UTF-7, the encoding of IMAP mailbox names.
//! - [`folders`]: where each source folder goes on the target (separators, prefixes, special use, filters).
//! - [`secret`]: a password in memory: zeroized on drop, never printed.

#![forbid(unsafe_code)]

pub mod address;
pub mod batch;
pub mod csv_input;
pub mod endpoint;
pub mod folders;
pub mod mutf7;
pub mod name;
pub mod secret;
pub mod state;

pub use address::EmailAddress;
pub use endpoint::{EndpointKind, EndpointSettings, Impersonation, LoginFormat, Security};
pub use name::Name;
pub use secret::Secret;
