//! The PostgreSQL store: one database shared by any number of processes on
//! any number of hosts (SPEC §8), through a [`PgPool`].
//!
//! The statements are those of the SQLite store wherever the dialects agree
//! (`$N` placeholders, `lower(name)`, upserts with `excluded`); where a
//! SQLite store runs a statement per row, this one sends the rows as arrays
//! and unnests them in one statement.
//!
//! ## Concurrency
//! SQLite serialises every write transaction (`BEGIN IMMEDIATE`); here
//! transactions run at READ COMMITTED side by side, and the invariants are
//! kept by row locks, taken always in the same order (endpoints, then
//! batches, then users) so that they cannot deadlock:
//! - a fenced write locks its user row (`SELECT … FOR NO KEY UPDATE`: the
//!   row lock of an UPDATE that changes no key, so foreign-key checks of
//!   inserts into `folder_states`, `uid_map`… are not blocked by it) and
//!   checks owner and token under that lock, so no claim can take the
//!   lease over between the check and the write; the sync-state writes lock
//!   the user row even without a fence, which serialises them per user as
//!   SQLite does (their counters follow from rows read in the transaction);
//! - a claim locks the endpoint rows it counts on, see [`claim`];
//! - inserting users takes a transaction-level advisory lock, see
//!   [`catalog::ADDRESS_LOCK`]; removing a batch locks its row and its users' rows.
//!
//! ## Text
//! Names, addresses, folders and the like are `COLLATE "C"` columns (see
//! the schema), so they sort and `lower()` folds them as SQLite does; a
//! value compared with `lower(column)` is folded the same way, hence
//! `lower($1::text COLLATE "C")` (a parameter has the database's default
//! collation, whose `lower()` may fold more than ASCII).
//!
//! Secrets are sealed with the same [`SecretBox`] as in SQLite (key from
//! `MAILFERRY_SECRET_KEY` or `DATA_DIR/secret.key`); every process sharing
//! the database needs the same key.

mod catalog;
mod claim;
mod log;
mod sync_state;
mod users;
mod workers;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mailferry_core::state::UserStatus;
use mailferry_core::{EndpointSettings, Secret};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Row};

use crate::common::{
    create_private_dir, lease_lost, user_not_found, BATCH_SELECT, ENDPOINT_COLUMNS, USER_SELECT,
};
use crate::error::StoreError;
use crate::migrate;
use crate::model::{
    BatchRecord, ClaimRequest, CopyDone, CopyIntent, EndpointRecord, EventFilter, EventRecord,
    FolderState, Lease, LeaseInfo, NewBatch, NewEndpoint, NewEvent, NewMigrationUser, SkippedItem,
    TokenRecord, UserCounters, UserFilter, UserRecord, WorkerInfo, WorkerRecord,
};
use crate::rows::{
    row_readers, BatchRow, EndpointRow, EventRow, FolderStateRow, IntentRow, SkippedRow, UserRow,
};
use crate::secrets::SecretBox;
use crate::store::Store;

row_readers!(PgRow);

/// How many connections one process opens at most.
const MAX_CONNECTIONS: u32 = 8;

/// The PostgreSQL implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    secrets: Arc<SecretBox>,
}

/// The connection options of a `postgres://` URL. Never echoes the URL (it
/// may carry a password).
pub fn parse_postgres_url(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url).map_err(|_| {
        StoreError::Unsupported(
            "the PostgreSQL URL does not parse (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE; \
             the URL is not shown, it may hold a password)"
                .into(),
        )
    })
}

impl PgStore {
    /// Opens the database named by a `postgres://` URL, bringing its schema
    /// up to date; the secret key comes from `data_dir` (created with mode
    /// 0700 if missing) or `MAILFERRY_SECRET_KEY`.
    pub async fn open(url: &str, data_dir: &Path) -> Result<PgStore, StoreError> {
        let options = parse_postgres_url(url)?;
        create_private_dir(data_dir)?;
        let secrets = SecretBox::load(data_dir)?;
        Self::connect_with(options, secrets).await
    }

    /// Opens the database named by `url` with this key.
    pub async fn open_with(url: &str, secrets: SecretBox) -> Result<PgStore, StoreError> {
        Self::connect_with(parse_postgres_url(url)?, secrets).await
    }

    /// Opens the database with these options and this key, and migrates it
    /// (under an advisory lock: several processes may start at once).
    pub async fn connect_with(
        options: PgConnectOptions,
        secrets: SecretBox,
    ) -> Result<PgStore, StoreError> {
        let options = options.application_name("mailferry");
        // One connection first, to fail at once on a wrong host, port or
        // password (the pool would retry until its acquire timeout).
        let probe = options
            .connect()
            .await
            .map_err(|e| StoreError::db("cannot connect to PostgreSQL", e))?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::db("cannot connect to PostgreSQL", e))?;
        migrate::migrate_postgres(&pool).await?;
        Ok(PgStore {
            pool,
            secrets: Arc::new(secrets),
        })
    }

    /// The schema version recorded in the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::db("read schema version", e))?;
        Ok(v.unwrap_or(0))
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin(
        &self,
        context: &str,
    ) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, StoreError> {
        self.pool
            .begin()
            .await
            .map_err(|e| StoreError::db(context, e))
    }

    async fn batch_by_id(&self, id: &str) -> Result<BatchRecord, StoreError> {
        let row = sqlx::query(&format!("{BATCH_SELECT} WHERE b.id = $1"))
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::db("read batch", e))?;
        batch_row(&row)?.into_record()
    }

    async fn endpoint_by_id(&self, id: &str) -> Result<EndpointRecord, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::db("read endpoint", e))?;
        endpoint_row(&row)?.into_record()
    }
}

/// The id of the endpoint named `name` (any case), its row locked with
/// `lock` (a locking clause such as `FOR UPDATE`, or empty) until the
/// transaction ends. `NotFound` if there is none.
async fn endpoint_id(
    conn: &mut PgConnection,
    name: &str,
    lock: &str,
) -> Result<String, StoreError> {
    sqlx::query_scalar(&format!(
        "SELECT id FROM endpoints WHERE lower(name) = lower($1::text COLLATE \"C\") {lock}"
    ))
    .bind(name)
    .fetch_optional(conn)
    .await
    .map_err(|e| StoreError::db("look up endpoint", e))?
    .ok_or_else(|| StoreError::NotFound {
        what: "endpoint",
        name: name.to_owned(),
    })
}

/// Locks the user's row until the transaction ends and checks the fence
/// under that lock: `LeaseLost` unless the user's lease owner and token are
/// the lease's (no fence: no check); `NotFound` for an unknown user.
async fn lock_user(
    conn: &mut PgConnection,
    user_id: &str,
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    let row: Option<(Option<String>, i64)> = sqlx::query_as(
        "SELECT lease_owner, lease_token FROM migration_users WHERE id = $1 FOR NO KEY UPDATE",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await
    .map_err(|e| StoreError::db("check the lease of a migration user", e))?;
    let (owner, token) = row.ok_or_else(|| user_not_found(user_id))?;
    let Some(lease) = fence else {
        return Ok(());
    };
    let held = lease.user_id == user_id
        && owner.as_deref() == Some(lease.owner.as_str())
        && u64::try_from(token).ok() == Some(lease.token);
    if held {
        Ok(())
    } else {
        Err(lease_lost(user_id))
    }
}

/// [`lock_user`] only when there is a fence to check.
async fn check_fence(
    conn: &mut PgConnection,
    user_id: &str,
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    match fence {
        Some(_) => lock_user(conn, user_id, fence).await,
        None => Ok(()),
    }
}

async fn user_by_id(conn: &mut PgConnection, id: &str) -> Result<UserRecord, StoreError> {
    let row = sqlx::query(&format!("{USER_SELECT} WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(|e| StoreError::db("read migration user", e))?
        .ok_or_else(|| user_not_found(id))?;
    user_row(&row)?.into_record()
}

/// The users with these ids, in this order.
async fn users_by_ids(
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<UserRecord>, StoreError> {
    let rows = sqlx::query(&format!("{USER_SELECT} WHERE u.id = ANY($1)"))
        .bind(ids)
        .fetch_all(conn)
        .await
        .map_err(|e| StoreError::db("read migration users", e))?;
    let mut by_id: HashMap<String, UserRecord> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let user = user_row(row)?.into_record()?;
        by_id.insert(user.id.clone(), user);
    }
    ids.iter()
        .map(|id| by_id.remove(id).ok_or_else(|| user_not_found(id)))
        .collect()
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn create_endpoint(&self, new: NewEndpoint) -> Result<EndpointRecord, StoreError> {
        catalog::create_endpoint(self, new).await
    }

    async fn endpoint(&self, name: &str) -> Result<EndpointRecord, StoreError> {
        catalog::endpoint(self, name).await
    }

    async fn endpoints(&self) -> Result<Vec<EndpointRecord>, StoreError> {
        catalog::endpoints(self).await
    }

    async fn update_endpoint(
        &self,
        name: &str,
        settings: EndpointSettings,
        admin_secret: Option<Secret>,
        verified: bool,
        test_mailbox: Option<String>,
    ) -> Result<EndpointRecord, StoreError> {
        catalog::update_endpoint(self, name, settings, admin_secret, verified, test_mailbox).await
    }

    async fn remove_endpoint(&self, name: &str) -> Result<(), StoreError> {
        catalog::remove_endpoint(self, name).await
    }

    async fn endpoint_secret(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        catalog::endpoint_secret(self, name).await
    }

    async fn create_batch(&self, new: NewBatch) -> Result<BatchRecord, StoreError> {
        catalog::create_batch(self, new).await
    }

    async fn create_batch_with_users(
        &self,
        new: NewBatch,
        users: Vec<NewMigrationUser>,
    ) -> Result<BatchRecord, StoreError> {
        catalog::create_batch_with_users(self, new, users).await
    }

    async fn add_users(
        &self,
        batch: &str,
        users: Vec<NewMigrationUser>,
    ) -> Result<Vec<UserRecord>, StoreError> {
        catalog::add_users(self, batch, users).await
    }

    async fn batches(&self) -> Result<Vec<BatchRecord>, StoreError> {
        catalog::batches(self).await
    }

    async fn set_batch_started(&self, batch: &str, started: bool) -> Result<(), StoreError> {
        catalog::set_batch_started(self, batch, started).await
    }

    async fn set_batch_removing(&self, batch: &str) -> Result<(), StoreError> {
        catalog::set_batch_removing(self, batch).await
    }

    async fn set_batch_complete_requested(&self, batch: &str) -> Result<(), StoreError> {
        catalog::set_batch_complete_requested(self, batch).await
    }

    async fn batch(&self, name: &str) -> Result<BatchRecord, StoreError> {
        catalog::batch(self, name).await
    }

    async fn remove_batch(&self, name: &str) -> Result<(), StoreError> {
        catalog::remove_batch(self, name).await
    }

    async fn batch_names_using_endpoint(&self, endpoint: &str) -> Result<Vec<String>, StoreError> {
        catalog::batch_names_using_endpoint(self, endpoint).await
    }

    async fn users(&self, filter: UserFilter) -> Result<Vec<UserRecord>, StoreError> {
        users::users(self, filter).await
    }

    async fn user(&self, id: &str) -> Result<UserRecord, StoreError> {
        users::user(self, id).await
    }

    async fn user_secret(&self, id: &str) -> Result<Option<Secret>, StoreError> {
        users::user_secret(self, id).await
    }

    async fn transition_user(
        &self,
        id: &str,
        from: UserStatus,
        to: UserStatus,
        error: Option<String>,
        fence: Option<&Lease>,
    ) -> Result<UserRecord, StoreError> {
        users::transition_user(self, id, from, to, error, fence).await
    }

    async fn set_user_counters(
        &self,
        id: &str,
        c: UserCounters,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        users::set_user_counters(self, id, c, fence).await
    }

    async fn set_next_sync(
        &self,
        user_id: &str,
        at: Option<DateTime<Utc>>,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        users::set_next_sync(self, user_id, at, fence).await
    }

    async fn users_due_for_sync(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<UserRecord>, StoreError> {
        users::users_due_for_sync(self, now, limit).await
    }

    async fn claim_users(
        &self,
        req: &ClaimRequest,
    ) -> Result<Vec<(UserRecord, Lease)>, StoreError> {
        claim::claim_users(self, req).await
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StoreError> {
        workers::renew_lease(self, lease, ttl).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        workers::release_lease(self, lease).await
    }

    async fn leases(&self) -> Result<Vec<LeaseInfo>, StoreError> {
        workers::leases(self).await
    }

    async fn try_lead(&self, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        workers::try_lead(self, holder, ttl).await
    }

    async fn heartbeat_worker(&self, worker: &WorkerInfo) -> Result<(), StoreError> {
        workers::heartbeat_worker(self, worker).await
    }

    async fn workers(&self) -> Result<Vec<WorkerRecord>, StoreError> {
        workers::workers(self).await
    }

    async fn forget_workers(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        workers::forget_workers(self, before).await
    }

    async fn folder_states(&self, user_id: &str) -> Result<Vec<FolderState>, StoreError> {
        sync_state::folder_states(self, user_id).await
    }

    async fn upsert_folder_state(
        &self,
        state: &FolderState,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        sync_state::upsert_folder_state(self, state, fence).await
    }

    async fn copied_uids(
        &self,
        user_id: &str,
        source_folder: &str,
        source_uidvalidity: u32,
    ) -> Result<Vec<u32>, StoreError> {
        sync_state::copied_uids(self, user_id, source_folder, source_uidvalidity).await
    }

    async fn open_intents(
        &self,
        user_id: &str,
        source_folder: &str,
    ) -> Result<Vec<CopyIntent>, StoreError> {
        sync_state::open_intents(self, user_id, source_folder).await
    }

    async fn record_intents(
        &self,
        user_id: &str,
        intents: &[CopyIntent],
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        sync_state::record_intents(self, user_id, intents, fence).await
    }

    async fn record_copies_done(
        &self,
        user_id: &str,
        done: &[CopyDone],
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        sync_state::record_copies_done(self, user_id, done, fence).await
    }

    async fn forget_folder_copies(
        &self,
        user_id: &str,
        source_folder: &str,
        fence: Option<&Lease>,
    ) -> Result<u64, StoreError> {
        sync_state::forget_folder_copies(self, user_id, source_folder, fence).await
    }

    async fn rename_folder_state(
        &self,
        user_id: &str,
        old_source_folder: &str,
        new_source_folder: &str,
        new_target_folder: &str,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        sync_state::rename_folder_state(
            self,
            user_id,
            old_source_folder,
            new_source_folder,
            new_target_folder,
            fence,
        )
        .await
    }

    async fn drop_intents(
        &self,
        user_id: &str,
        keys: &[(String, u32, u32)],
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        sync_state::drop_intents(self, user_id, keys, fence).await
    }

    async fn uid_map(
        &self,
        user_id: &str,
        source_folder: &str,
        source_uidvalidity: u32,
    ) -> Result<Vec<(u32, Option<u32>)>, StoreError> {
        sync_state::uid_map(self, user_id, source_folder, source_uidvalidity).await
    }

    async fn record_skipped(
        &self,
        user_id: &str,
        item: &SkippedItem,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        sync_state::record_skipped(self, user_id, item, fence).await
    }

    async fn skipped_items(&self, user_id: &str) -> Result<Vec<SkippedItem>, StoreError> {
        sync_state::skipped_items(self, user_id).await
    }

    async fn record_event(&self, event: NewEvent) -> Result<(), StoreError> {
        log::record_event(self, event).await
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        log::events(self, filter).await
    }

    async fn create_token(
        &self,
        name: &str,
        token_hash: &[u8; 32],
    ) -> Result<TokenRecord, StoreError> {
        log::create_token(self, name, token_hash).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        log::tokens(self).await
    }

    async fn revoke_token(&self, name: &str) -> Result<(), StoreError> {
        log::revoke_token(self, name).await
    }

    async fn token_by_hash(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<TokenRecord>, StoreError> {
        log::token_by_hash(self, token_hash).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_not_echoed() {
        let err = parse_postgres_url("postgres://u:hunter2@h:notaport/db").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(parse_postgres_url("postgres://u:pw@h:5433/db").is_ok());
    }

    fn assert_send<T: Send>(_: T) {}

    /// Opening a store can run on a spawned task (checked at compile time).
    #[allow(dead_code)]
    fn opening_is_send(pool: PgPool, options: PgConnectOptions, secrets: SecretBox) {
        assert_send(migrate::migrate_postgres(&pool));
        assert_send(PgStore::connect_with(options, secrets));
        assert_send(crate::open_store(None, Path::new("/")));
    }
}
