//! Persistence of mailferry: endpoints, batches, migration users and their
//! sync state, the event log — in SQLite or PostgreSQL — and the sealing of
//! secrets at rest.
//!
//! ## Layout
//! - [`store`]: the [`Store`] trait, object-safe, held as `Arc<dyn Store>`;
//!   every backend fulfils it the same way (`tests/suite` checks that).
//! - [`model`]: what goes in and comes out ([`NewEndpoint`],
//!   [`EndpointRecord`], [`NewBatch`], [`BatchRecord`], [`NewMigrationUser`],
//!   [`UserRecord`], [`FolderState`], [`CopyIntent`], [`SkippedItem`],
//!   [`NewEvent`], ...).
//! - [`sqlite`]: [`SqliteStore`], the embedded backend (`DATA_DIR/mailferry.db`).
//! - [`postgres`]: [`PgStore`], the shared backend (`--db postgres://…`) for
//!   any number of processes on any number of hosts.
//! - `common` (private): what both backends share — column lists, claim
//!   order and endpoint accounting, error constructors; `rows` (private):
//!   raw rows and their conversion to records.
//! - [`secrets`]: [`SecretBox`], XChaCha20-Poly1305 with the key from
//!   `MAILFERRY_SECRET_KEY` or `DATA_DIR/secret.key` (mode 0600).
//! - [`migrate`]: the schema migrations per dialect
//!   (`migrations/sqlite`, `migrations/postgres`) and their runner.
//! - [`error`]: the error type, [`StoreError`].
//!
//! ## Invariant
//! This is the only crate that talks to the database. Secrets are sealed
//! before they reach SQL (with their place, `table/row-id/column`, as
//! associated data) and opened only on request (`Store::endpoint_secret`);
//! records carry only whether a secret exists. Error messages never include
//! a secret or a bound value.
//!
//! ## Conventions shared by every backend
//! Ids are TEXT generated here (128-bit random hex), so a secret's place is
//! known before its row is inserted; timestamps are BIGINT unix
//! milliseconds; every integer column is BIGINT; booleans are INTEGER 0/1
//! in SQLite and BOOLEAN in PostgreSQL; statements use `$N` placeholders.
//! Names (endpoints, batches) are unique and looked up regardless of case.
//!
//! ## Leases and fencing (scale-out)
//! A worker claims users with [`Store::claim_users`]: one short
//! transaction picks the due users (Completing first, then in queue order)
//! that fit every endpoint's concurrency limits, counted across all live
//! leases of the database (so across every process sharing it), and sets
//! `lease_owner`, `lease_token` (+1 per claim: the fencing token) and
//! `lease_expires_at`. Every write a worker makes while it copies takes
//! `fence: Option<&Lease>`: with `Some`, the owner and token are checked in
//! the write's own transaction and a mismatch is [`StoreError::LeaseLost`]
//! with nothing written; `None` is an administrative write. A settled
//! transition (Synced, Stopped, Failed, Completed) made with a fence gives
//! the lease up in the same transaction.
//!
//! ## Leadership
//! What exactly one process may run (the scheduler) is led by whoever holds
//! the lease of the one-row `leader` table ([`Store::try_lead`]), renewed
//! by its holder and taken over once expired.
//!
//! ## Sync state
//! A copied message is identified by its source (folder, UIDVALIDITY, UID)
//! in `uid_map`: an `intent` row is written before the APPEND, turned
//! `done` after it. The counters that follow from rows (`items_synced`,
//! `bytes_synced`, `items_skipped_*` of a user; `messages_synced`,
//! `bytes_synced`, `messages_skipped` of a folder state) are moved in the
//! same transaction as those rows, once per row, so they never drift.
//! A skipped item's date is text (`skipped_items.message_date_text`, since
//! schema version 2); `message_date` is unused for now.

#![forbid(unsafe_code)]

pub mod error;
mod common;
pub mod migrate;
pub mod model;
pub mod postgres;
mod rows;
pub mod secrets;
pub mod sqlite;
pub mod store;
mod util;

use std::path::Path;
use std::sync::Arc;

pub use error::StoreError;
pub use model::{
    BatchRecord, ClaimRequest, CopyDone, CopyIntent, EndpointRecord, EventFilter, EventLevel,
    EventRecord, FolderState, Lease, LeaseInfo, NewBatch, NewEndpoint, NewEvent, NewMigrationUser,
    SkipKind, SkippedItem, TokenRecord, UserCounters, UserFilter, UserRecord, WorkerInfo,
    WorkerRecord,
};
pub use secrets::{SealedAt, SecretBox, SecretError};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use store::Store;

/// Opens the store a command line or service asks for: `db_url` `None`
/// means SQLite in `data_dir`; `sqlite://PATH` a SQLite file elsewhere
/// (the secret key still comes from `data_dir` or `MAILFERRY_SECRET_KEY`);
/// `postgres://…` (or `postgresql://…`) a PostgreSQL database, shared by any
/// number of processes (they all need the same secret key). Errors never
/// include the URL: it may hold a password.
pub async fn open_store(
    db_url: Option<&str>,
    data_dir: &Path,
) -> Result<Arc<dyn Store>, StoreError> {
    match db_url {
        None => Ok(Arc::new(SqliteStore::open(data_dir).await?)),
        Some(url) if url.starts_with("sqlite:") => {
            Ok(Arc::new(SqliteStore::open_url(url, data_dir).await?))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PgStore::open(url, data_dir).await?))
        }
        // Never echo the URL: it may carry a password.
        Some(_) => Err(StoreError::Unsupported(
            "unknown database URL: expected sqlite://PATH or postgres://...".into(),
        )),
    }
}
