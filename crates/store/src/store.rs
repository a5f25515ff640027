//! The store interface the engine, CLI and API hold as `Arc<dyn Store>`.

use async_trait::async_trait;
use mailferry_core::{EndpointSettings, Secret};

use crate::error::StoreError;
use crate::model::{
    BatchRecord, EndpointRecord, EventFilter, EventRecord, NewBatch, NewEndpoint, NewEvent,
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

    // ---- batches (minimal for now) ----

    /// Creates a batch between two existing endpoints. `NotFound` if an
    /// endpoint does not exist, `AlreadyExists` if the name is taken.
    async fn create_batch(&self, new: NewBatch) -> Result<BatchRecord, StoreError>;

    /// The batch named `name`. `NotFound` if there is none.
    async fn batch(&self, name: &str) -> Result<BatchRecord, StoreError>;

    /// Removes a batch with everything that belongs to it (users, folder
    /// states, UID map, skipped items). `NotFound` if there is none.
    async fn remove_batch(&self, name: &str) -> Result<(), StoreError>;

    /// Names of the batches using the endpoint as source or target, sorted.
    /// `NotFound` if the endpoint does not exist.
    async fn batch_names_using_endpoint(&self, endpoint: &str) -> Result<Vec<String>, StoreError>;

    // ---- event log ----

    /// Appends an event.
    async fn record_event(&self, event: NewEvent) -> Result<(), StoreError>;

    /// The newest events matching `filter`, newest first.
    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, StoreError>;
}
