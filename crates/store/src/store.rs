//! The store interface the engine, CLI and API hold as `Arc<dyn Store>`.

use async_trait::async_trait;
use mailferry_core::state::UserStatus;
use mailferry_core::{EndpointSettings, Secret};

use crate::error::StoreError;
use crate::model::{
    BatchRecord, CopyDone, CopyIntent, EndpointRecord, EventFilter, EventRecord, FolderState,
    NewBatch, NewEndpoint, NewEvent, NewMigrationUser, SkippedItem, UserCounters, UserFilter,
    UserRecord,
};

/// Persistence of endpoints, batches, migration users and their sync state.
///
/// Every backend (SQLite now, PostgreSQL later) implements exactly this
/// trait with the same behaviour; `tests/suite` checks it. Names are looked
/// up case-insensitively and are unique regardless of case. Secrets go in
/// as [`Secret`] and are sealed before they reach SQL; they come out only
/// through the `*_secret` methods.
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
    /// states, UID map, skipped items). `NotFound` if there is none.
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
    async fn transition_user(
        &self,
        id: &str,
        from: UserStatus,
        to: UserStatus,
        error: Option<String>,
    ) -> Result<UserRecord, StoreError>;

    /// Sets the user's counters (absolute values).
    async fn set_user_counters(&self, id: &str, counters: UserCounters) -> Result<(), StoreError>;

    // ---- per-folder state ----

    /// The user's folder states, ordered by source folder (empty for an
    /// unknown user).
    async fn folder_states(&self, user_id: &str) -> Result<Vec<FolderState>, StoreError>;

    /// Creates or replaces the folder state of (`user_id`, `source_folder`),
    /// except `messages_synced`, `bytes_synced` and `messages_skipped`,
    /// which only the UID map and skipped items move (see [`FolderState`]).
    /// `NotFound` for an unknown user.
    async fn upsert_folder_state(&self, state: &FolderState) -> Result<(), StoreError>;

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
    /// `NotFound` for an unknown user.
    async fn record_intents(&self, user_id: &str, intents: &[CopyIntent])
        -> Result<(), StoreError>;

    /// Marks copies done in one transaction and, in the same transaction,
    /// adds their number and recorded sizes to the folder states'
    /// `messages_synced`/`bytes_synced` and the user's
    /// `items_synced`/`bytes_synced`. Idempotent: a key already done is left
    /// alone and not counted again. `NotFound` (nothing written) for a key
    /// that has no intent.
    async fn record_copies_done(&self, user_id: &str, done: &[CopyDone]) -> Result<(), StoreError>;

    /// Drops open intents, keyed (source folder, UIDVALIDITY, UID), that
    /// turned out not to have been appended. Done copies and unknown keys
    /// are left alone.
    async fn drop_intents(
        &self,
        user_id: &str,
        keys: &[(String, u32, u32)],
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
    async fn record_skipped(&self, user_id: &str, item: &SkippedItem) -> Result<(), StoreError>;

    /// The user's skipped messages, ordered by folder, UIDVALIDITY, UID.
    async fn skipped_items(&self, user_id: &str) -> Result<Vec<SkippedItem>, StoreError>;

    // ---- event log ----

    /// Appends an event.
    async fn record_event(&self, event: NewEvent) -> Result<(), StoreError>;

    /// The newest events matching `filter`, newest first.
    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, StoreError>;
}
