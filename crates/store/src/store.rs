//! The store interface the engine, CLI and API hold as `Arc<dyn Store>`.

use async_trait::async_trait;
use mailferry_core::state::UserStatus;
use mailferry_core::{EndpointSettings, Secret};

use crate::error::StoreError;
use chrono::{DateTime, Utc};

use crate::model::{
    BatchRecord, ClaimRequest, CopyDone, CopyIntent, EndpointRecord, EventFilter, EventRecord,
    FolderState, Lease, LeaseInfo, NewBatch, NewEndpoint, NewEvent, NewMigrationUser, SkippedItem,
    TokenRecord, UserCounters, UserFilter, UserRecord, WorkerInfo, WorkerRecord,
};

/// Persistence of endpoints, batches, migration users and their sync state.
///
/// Every backend (SQLite, PostgreSQL) implements exactly this
/// trait with the same behaviour; `tests/suite` checks it. Names are looked
/// up case-insensitively and are unique regardless of case. Secrets go in
/// as [`Secret`] and are sealed before they reach SQL; they come out only
/// through the `*_secret` methods.
///
/// ## Fencing
/// The writes a worker makes while it copies take `fence: Option<&Lease>`
/// (last parameter). With `Some(lease)` the write happens only if the
/// user's lease owner and token still equal the lease's, checked in the
/// same transaction as the write; otherwise it is
/// [`StoreError::LeaseLost`] and nothing is written. A lease for another
/// user than the one written is `LeaseLost` too. `None` is an
/// administrative write: no check.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    // ---- endpoints ----

    /// Creates an endpoint. `AlreadyExists` if the name is taken.
    async fn create_endpoint(&self, new: NewEndpoint) -> Result<EndpointRecord, StoreError>;

    /// The endpoint named `name`. `NotFound` if there is none.
    async fn endpoint(&self, name: &str) -> Result<EndpointRecord, StoreError>;

    /// Every endpoint, ordered by name.
    async fn endpoints(&self) -> Result<Vec<EndpointRecord>, StoreError>;

    /// Replaces an endpoint's settings, verified flag and test mailbox
    /// (`test_mailbox` is stored as given: `None` clears it); `admin_secret`
    /// `None` keeps the stored secret, `Some` replaces it.
    async fn update_endpoint(
        &self,
        name: &str,
        settings: EndpointSettings,
        admin_secret: Option<Secret>,
        verified: bool,
        test_mailbox: Option<String>,
    ) -> Result<EndpointRecord, StoreError>;

    /// Removes an endpoint. `InUse` (naming the batches) while any batch
    /// uses it as source or target.
    async fn remove_endpoint(&self, name: &str) -> Result<(), StoreError>;

    /// The endpoint's administrator secret, opened; `None` if it has none.
    async fn endpoint_secret(&self, name: &str) -> Result<Option<Secret>, StoreError>;

    // ---- batches ----

    /// Creates a batch between two existing endpoints, without users (the
    /// same as `create_batch_with_users(new, vec![])`). `NotFound` if an
    /// endpoint does not exist, `AlreadyExists` if the name is taken.
    async fn create_batch(&self, new: NewBatch) -> Result<BatchRecord, StoreError>;

    /// Creates the batch and all its users in one transaction. Refuses, with
    /// nothing written: `NotFound` for a missing endpoint, `AlreadyExists`
    /// when the name is taken, `Conflict` (listing every clash) when an
    /// address appears twice in `users` or is already a user of another
    /// active batch, i.e. one where that user is not `Completed` (a batch
    /// being removed still counts). Addresses compare regardless of case.
    async fn create_batch_with_users(
        &self,
        batch: NewBatch,
        users: Vec<NewMigrationUser>,
    ) -> Result<BatchRecord, StoreError>;

    /// Adds users to an existing batch in one transaction, under the same
    /// rules; an address already in this batch is a `Conflict` too (naming
    /// this batch), and so is adding to a batch being removed. Returns the
    /// new users in the order given.
    async fn add_users(
        &self,
        batch: &str,
        users: Vec<NewMigrationUser>,
    ) -> Result<Vec<UserRecord>, StoreError>;

    /// Every batch, ordered by name.
    async fn batches(&self) -> Result<Vec<BatchRecord>, StoreError>;

    /// Sets the batch's started flag; switching it on records `started_at`
    /// (switching it off keeps the time of the last start).
    async fn set_batch_started(&self, batch: &str, started: bool) -> Result<(), StoreError>;

    /// Marks the batch as being removed (idempotent).
    async fn set_batch_removing(&self, batch: &str) -> Result<(), StoreError>;

    /// Records that completion was requested (the first request's time is kept).
    async fn set_batch_complete_requested(&self, batch: &str) -> Result<(), StoreError>;

    /// The batch named `name`. `NotFound` if there is none.
    async fn batch(&self, name: &str) -> Result<BatchRecord, StoreError>;

    /// Removes a batch with everything that belongs to it (users, folder
    /// states, UID map, skipped items; the event log stays), in one
    /// transaction. `NotFound` if there is none. Refused with
    /// `StateChanged { expected: Stopped, actual }` (`actual`: the status of
    /// such a user), nothing removed, while any of its users holds a live
    /// lease: stop the users first.
    async fn remove_batch(&self, name: &str) -> Result<(), StoreError>;

    /// Names of the batches using the endpoint as source or target, sorted.
    /// `NotFound` if the endpoint does not exist.
    async fn batch_names_using_endpoint(&self, endpoint: &str) -> Result<Vec<String>, StoreError>;

    // ---- migration users ----

    /// The users matching `filter`, ordered by batch name, CSV line, email.
    async fn users(&self, filter: UserFilter) -> Result<Vec<UserRecord>, StoreError>;

    /// The user with this id. `NotFound` if there is none.
    async fn user(&self, id: &str) -> Result<UserRecord, StoreError>;

    /// The user's own source secret, opened; `None` if it has none.
    async fn user_secret(&self, id: &str) -> Result<Option<Secret>, StoreError>;

    /// Compare-and-set of a user's status: only if it is `from` now (else
    /// `StateChanged { expected: from, actual }`, nothing changed). Sets
    /// `last_error` to `error` (`None` clears it). `to` Synced or Completed
    /// also sets `was_synced` and `last_sync_at` = now; `to` Syncing,
    /// IncrementalSyncing or Completing sets `sync_started_at` = now.
    /// Fenced (see the trait's doc; the fence is checked first): `to` a
    /// settled status (Synced, Stopped, Failed, Completed) with `Some`
    /// fence also gives the lease up in the same transaction.
    async fn transition_user(
        &self,
        id: &str,
        from: UserStatus,
        to: UserStatus,
        error: Option<String>,
        fence: Option<&Lease>,
    ) -> Result<UserRecord, StoreError>;

    /// Sets the user's counters (absolute values). Fenced.
    async fn set_user_counters(
        &self,
        id: &str,
        counters: UserCounters,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError>;

    /// Sets (`Some`) or clears (`None`) when the user's next incremental
    /// sync is due. `NotFound` for an unknown user. Fenced.
    async fn set_next_sync(
        &self,
        user_id: &str,
        at: Option<DateTime<Utc>>,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError>;

    /// Users whose next incremental sync is due: status Synced,
    /// `next_sync_at <= now`, in a batch that is started, not being removed
    /// and not asked to complete; the most overdue first (then CSV line),
    /// at most `limit`. The scheduler moves them to Queued with a
    /// compare-and-set ([`Store::transition_user`]).
    async fn users_due_for_sync(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<UserRecord>, StoreError>;

    // ---- leases (scale-out) ----

    /// Claims up to `req.max` users that are due for work, in one short
    /// transaction, and returns them (as they are after the claim) with
    /// their leases, in claim order. A user is claimable when:
    /// - its status is Queued or Completing, or Syncing,
    ///   IncrementalSyncing or Stopping without a live lease (its worker was
    ///   lost: the sync is resumed, the stop settled);
    /// - its batch is started and not being removed (and named
    ///   `req.batch`, if given);
    /// - it has no live lease (none, or `lease_expires_at <= now`: an
    ///   expired lease is taken over);
    /// - the endpoint limits hold, counted over every live lease in the
    ///   database plus the claims of this call: for each endpoint E, the
    ///   live-leased users whose batch has E as source or target stay below
    ///   E's `max_concurrent_migrations`, and those of them with
    ///   `was_synced` (incremental or final syncs) below E's
    ///   `max_concurrent_incremental` (a `was_synced` user needs room in
    ///   both counts of both its endpoints).
    ///
    /// Order: Completing first, then by the time they were queued
    /// (`updated_at`), then CSV line. Sets `lease_owner = req.worker`,
    /// `lease_token = lease_token + 1`, `lease_expires_at = now + ttl`.
    /// `NotFound` for an unknown `req.batch`; a `ttl` over a year is
    /// `Unsupported`.
    ///
    /// Backends must serialise the limit check with other claims (SQLite:
    /// `BEGIN IMMEDIATE`; PostgreSQL: lock the endpoint rows involved, then
    /// `FOR UPDATE SKIP LOCKED` on the users), or concurrent claimers could
    /// each see room for the same last slot.
    async fn claim_users(&self, req: &ClaimRequest)
        -> Result<Vec<(UserRecord, Lease)>, StoreError>;

    /// Extends a lease to now + `ttl`. `LeaseLost` if the user's lease owner
    /// or token no longer match (taken over, released, or cleared by a
    /// settled transition). A lease that expired without being taken over
    /// still matches, and is renewed.
    async fn renew_lease(
        &self,
        lease: &Lease,
        ttl: std::time::Duration,
    ) -> Result<Lease, StoreError>;

    /// Gives a lease up (the token stays, so later claims still get a
    /// higher one). No error if it was already lost or the user is gone.
    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError>;

    /// Every live lease, ordered by owner, batch name, email.
    async fn leases(&self) -> Result<Vec<LeaseInfo>, StoreError>;

    // ---- workers ----

    /// Registers a worker or records its heartbeat (now); host, pid and
    /// version are replaced, the first heartbeat's time is kept as
    /// `started_at`.
    async fn heartbeat_worker(&self, worker: &WorkerInfo) -> Result<(), StoreError>;

    /// Every registered worker with the number of live leases it holds,
    /// ordered by id.
    async fn workers(&self) -> Result<Vec<WorkerRecord>, StoreError>;

    /// Forgets the workers whose last heartbeat is older than `before`
    /// (their leases, if any, simply expire); returns how many.
    async fn forget_workers(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    // ---- leadership ----

    /// Leased leadership of what exactly one process may run at a time (the
    /// scheduler), shared by every process using the database: `holder`
    /// leads if nobody does, if it leads already (its lease is renewed), or
    /// if the leader's lease expired (it is taken over). Then the lease
    /// lasts until now + `ttl` and the answer is true; otherwise nothing
    /// changes and the answer is false. One atomic statement: of several
    /// holders asking at once, exactly one leads. A `ttl` over a year is
    /// `Unsupported`.
    async fn try_lead(&self, holder: &str, ttl: std::time::Duration)
        -> Result<bool, StoreError>;

    // ---- per-folder state ----

    /// The user's folder states, ordered by source folder (empty for an
    /// unknown user).
    async fn folder_states(&self, user_id: &str) -> Result<Vec<FolderState>, StoreError>;

    /// Creates or replaces the folder state of (`user_id`, `source_folder`),
    /// except `messages_synced`, `bytes_synced` and `messages_skipped`,
    /// which only the UID map and skipped items move (see [`FolderState`]).
    /// `NotFound` for an unknown user. Fenced.
    async fn upsert_folder_state(
        &self,
        state: &FolderState,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError>;

    // ---- the UID map: a copied message is its source (folder, UIDVALIDITY, UID) ----

    /// Source UIDs of this folder and UIDVALIDITY already copied, ascending.
    async fn copied_uids(
        &self,
        user_id: &str,
        source_folder: &str,
        source_uidvalidity: u32,
    ) -> Result<Vec<u32>, StoreError>;

    /// Intents still open in this folder (their APPEND may have happened
    /// without being recorded), ordered by UIDVALIDITY and UID.
    async fn open_intents(
        &self,
        user_id: &str,
        source_folder: &str,
    ) -> Result<Vec<CopyIntent>, StoreError>;

    /// Records intents, in one transaction, before their APPENDs are sent.
    /// A folder without a state gets one. An open intent for the same key is
    /// replaced; a key already done stays done (and is not counted again).
    /// `NotFound` for an unknown user. Fenced.
    async fn record_intents(
        &self,
        user_id: &str,
        intents: &[CopyIntent],
        fence: Option<&Lease>,
    ) -> Result<(), StoreError>;

    /// Marks copies done in one transaction and, in the same transaction,
    /// adds their number and recorded sizes to the folder states'
    /// `messages_synced`/`bytes_synced` and the user's
    /// `items_synced`/`bytes_synced`. Idempotent: a key already done is left
    /// alone and not counted again. `NotFound` (nothing written) for a key
    /// that has no intent. Fenced.
    async fn record_copies_done(
        &self,
        user_id: &str,
        done: &[CopyDone],
        fence: Option<&Lease>,
    ) -> Result<(), StoreError>;

    /// Forgets every copy recorded for a source folder (a UIDVALIDITY changed
    /// on either side: the recorded identities mean nothing any more) and
    /// takes them off the folder's and the user's counters, in one
    /// transaction. The copies are then matched again by content. Returns
    /// how many copies were forgotten. Fenced.
    async fn forget_folder_copies(
        &self,
        user_id: &str,
        source_folder: &str,
        fence: Option<&Lease>,
    ) -> Result<u64, StoreError>;

    /// A source folder was renamed: its state, copies and skipped items now
    /// belong to the new name, and it goes to `new_target_folder`. Fenced.
    async fn rename_folder_state(
        &self,
        user_id: &str,
        old_source_folder: &str,
        new_source_folder: &str,
        new_target_folder: &str,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError>;

    /// Drops open intents, keyed (source folder, UIDVALIDITY, UID), that
    /// turned out not to have been appended. Done copies and unknown keys
    /// are left alone. Fenced.
    async fn drop_intents(
        &self,
        user_id: &str,
        keys: &[(String, u32, u32)],
        fence: Option<&Lease>,
    ) -> Result<(), StoreError>;

    /// The done copies of a folder: (source UID, target UID if known),
    /// ascending by source UID.
    async fn uid_map(
        &self,
        user_id: &str,
        source_folder: &str,
        source_uidvalidity: u32,
    ) -> Result<Vec<(u32, Option<u32>)>, StoreError>;

    // ---- skipped items ----

    /// Records a skipped message, idempotent per (user, folder, UIDVALIDITY,
    /// UID): the first time it bumps the user's `items_skipped_bad` or
    /// `items_skipped_large` and the `messages_skipped` of the folder state
    /// whose `source_folder` equals `item.folder` (if there is one: none is
    /// created); again, it replaces the details (moving the count if the
    /// kind changed) without counting twice. `NotFound` for an unknown user.
    /// Fenced.
    async fn record_skipped(
        &self,
        user_id: &str,
        item: &SkippedItem,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError>;

    /// The user's skipped messages, ordered by folder, UIDVALIDITY, UID.
    async fn skipped_items(&self, user_id: &str) -> Result<Vec<SkippedItem>, StoreError>;

    // ---- event log ----

    /// Appends an event.
    async fn record_event(&self, event: NewEvent) -> Result<(), StoreError>;

    /// The newest events matching `filter`, newest first.
    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, StoreError>;

    // ---- API tokens ----

    /// Stores a token's hash under `name`. `AlreadyExists` if a token that
    /// is not revoked has that name (case-insensitive).
    async fn create_token(&self, name: &str, token_hash: &[u8; 32]) -> Result<TokenRecord, StoreError>;

    /// Every token, revoked ones included, by creation time.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Revokes the live token named `name`. `NotFound` if there is none.
    async fn revoke_token(&self, name: &str) -> Result<(), StoreError>;

    /// The live token with this hash, if any; records its use.
    async fn token_by_hash(&self, token_hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
}
