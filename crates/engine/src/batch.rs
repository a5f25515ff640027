//! Batch operations: create (CSV validated all-or-nothing, target tested
//! writable), list, show, start, sync, report.

use mailferry_core::batch::BatchOptions;
use mailferry_core::csv_input::{self, CsvErrors, CsvOptions};
use mailferry_core::state::{derive_batch_status, BatchFacts, BatchStatus, UserEvent, UserStatus};
use mailferry_core::{EmailAddress, Name};
use mailferry_store::{BatchRecord, NewBatch, NewMigrationUser, StoreError, UserFilter, UserRecord};

use crate::endpoint_test::{self, TestInput, TestReport};
use crate::{Engine, EngineError};

/// Everything `batch create` takes.
#[derive(Debug, Clone)]
pub struct BatchSpec {
    pub name: Name,
    pub source: String,
    pub target: String,
    /// The CSV file's bytes.
    pub csv: Vec<u8>,
    pub csv_options: CsvOptions,
    pub options: BatchOptions,
}

#[derive(Debug, Clone)]
pub struct BatchCreated {
    pub batch: BatchRecord,
    pub users: usize,
    /// The test that showed the target writable for the test mailbox.
    pub target_test: TestReport,
}

/// A batch with its derived status and its users.
#[derive(Debug, Clone)]
pub struct BatchState {
    pub batch: BatchRecord,
    pub status: BatchStatus,
    pub options: BatchOptions,
    pub users: Vec<UserRecord>,
}

impl BatchState {
    fn new(batch: BatchRecord, users: Vec<UserRecord>) -> Result<Self, EngineError> {
        let statuses: Vec<UserStatus> = users.iter().map(|u| u.status).collect();
        let status = derive_batch_status(BatchFacts { started: batch.started, removing: batch.removing }, &statuses);
        let options = batch_options(&batch)?;
        Ok(BatchState { batch, status, options, users })
    }
}

pub(crate) fn batch_options(batch: &BatchRecord) -> Result<BatchOptions, EngineError> {
    serde_json::from_value(batch.options_json.clone()).map_err(|e| {
        EngineError::Store(StoreError::Corrupt { detail: format!("options of batch {}: {e}", batch.name) })
    })
}

impl Engine {
    /// Creates a batch: the CSV is validated as a whole (nothing is stored
    /// on any error), the endpoints must exist, and the target must accept
    /// writes for the test mailbox.
    pub async fn create_batch(&self, spec: BatchSpec) -> Result<BatchCreated, EngineError> {
        spec.options.folder_filter().map_err(EngineError::InvalidInput)?;
        let rows = csv_input::parse(&spec.csv, spec.csv_options).map_err(EngineError::Csv)?;
        if spec.source.eq_ignore_ascii_case(&spec.target) {
            return Err(EngineError::InvalidInput(format!(
                "the source and the target are the same endpoint ({}); a migration copies between two",
                spec.source
            )));
        }
        if self.store.batch(spec.name.as_str()).await.is_ok() {
            return Err(EngineError::AlreadyExists { what: "batch", name: spec.name.to_string() });
        }
        let source = self.store.endpoint(&spec.source).await?;
        let target = self.store.endpoint(&spec.target).await?;

        let test_mailbox = match &spec.options.test_mailbox {
            Some(m) => EmailAddress::parse(m).map_err(|e| EngineError::InvalidInput(format!("--test-mailbox: {e}")))?,
            None => rows[0].email.clone(),
        };
        let target_secret = self.store.endpoint_secret(&spec.target).await?;
        let report = endpoint_test::run(
            &self.connection,
            &TestInput { settings: &target.settings, admin_secret: target_secret.as_ref(), test_mailbox: Some(&test_mailbox) },
        )
        .await?;
        if !report.passed() {
            return Err(EngineError::TestFailed(Box::new(report)));
        }
        if report.writable != Some(true) {
            return Err(EngineError::TargetNotWritable { endpoint: spec.target.clone(), mailbox: test_mailbox.to_string() });
        }

        let users: Vec<NewMigrationUser> = rows
            .into_iter()
            .map(|row| NewMigrationUser {
                source_login: row.user_name.clone().unwrap_or_else(|| source.settings.login_format.render(&row.email)),
                email: row.email,
                source_secret: row.password,
                csv_line: row.line,
            })
            .collect();
        let count = users.len();
        let mut options = spec.options.clone();
        options.test_mailbox = Some(test_mailbox.to_string());
        let batch = self
            .store
            .create_batch_with_users(
                NewBatch {
                    name: spec.name,
                    source_endpoint: spec.source,
                    target_endpoint: spec.target,
                    options_json: serde_json::to_value(&options).expect("options serialize"),
                },
                users,
            )
            .await?;
        Ok(BatchCreated { batch, users: count, target_test: report })
    }

    pub async fn batch_state(&self, name: &str) -> Result<BatchState, EngineError> {
        let batch = self.store.batch(name).await?;
        let users = self.store.users(UserFilter { batch: Some(batch.name.to_string()), ..UserFilter::default() }).await?;
        BatchState::new(batch, users)
    }

    pub async fn batch_states(&self) -> Result<Vec<BatchState>, EngineError> {
        let mut out = Vec::new();
        for batch in self.store.batches().await? {
            let users = self.store.users(UserFilter { batch: Some(batch.name.to_string()), ..UserFilter::default() }).await?;
            out.push(BatchState::new(batch, users)?);
        }
        Ok(out)
    }

    /// Starts a batch: marks it started; its users are queued for their
    /// initial sync. Stopped and failed users are queued again.
    pub async fn start_batch(&self, name: &str) -> Result<BatchState, EngineError> {
        let state = self.batch_state(name).await?;
        if matches!(state.status, BatchStatus::Completed | BatchStatus::CompletedWithErrors | BatchStatus::Completing | BatchStatus::Removing) {
            return Err(EngineError::InvalidState(format!("batch {} is {}: it cannot be started", state.batch.name, state.status)));
        }
        self.store.set_batch_started(name, true).await?;
        for user in &state.users {
            if matches!(user.status, UserStatus::Stopped | UserStatus::Failed) {
                self.requeue(user).await?;
            }
        }
        self.batch_state(name).await
    }

    /// Queues an incremental sync of every synced (or failed) user now.
    pub async fn sync_batch(&self, name: &str) -> Result<BatchState, EngineError> {
        let state = self.batch_state(name).await?;
        if !state.batch.started {
            return Err(EngineError::InvalidState(format!("batch {} was never started: use `batch start`", state.batch.name)));
        }
        if matches!(state.status, BatchStatus::Completed | BatchStatus::CompletedWithErrors | BatchStatus::Removing) {
            return Err(EngineError::InvalidState(format!("batch {} is {}: no sync runs any more", state.batch.name, state.status)));
        }
        for user in &state.users {
            if matches!(user.status, UserStatus::Synced | UserStatus::Failed | UserStatus::Stopped) {
                self.requeue(user).await?;
            }
        }
        self.batch_state(name).await
    }

    async fn requeue(&self, user: &UserRecord) -> Result<(), EngineError> {
        let to = user.status.apply(UserEvent::Requeued, user.was_synced).map_err(|e| EngineError::InvalidState(e.to_string()))?;
        match self.store.transition_user(&user.id, user.status, to, None, None).await {
            Ok(_) | Err(StoreError::StateChanged { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Users across batches, filtered.
    pub async fn users(&self, filter: UserFilter) -> Result<Vec<UserRecord>, EngineError> {
        Ok(self.store.users(filter).await?)
    }

    /// The migration user with this address: in its newest batch when it is
    /// in several (an earlier one completed).
    pub async fn user_by_email(&self, email: &str) -> Result<UserRecord, EngineError> {
        let mut found = self.store.users(UserFilter { email: Some(email.to_owned()), ..UserFilter::default() }).await?;
        found.sort_by_key(|u| u.created_at);
        found.pop().ok_or_else(|| EngineError::NotFound { what: "migration user", name: email.to_owned() })
    }
}

impl Engine {
    /// A user with its folders and skipped items.
    pub async fn user_detail(&self, email: &str) -> Result<crate::views::UserDetailView, EngineError> {
        let user = self.user_by_email(email).await?;
        let folders = self.store.folder_states(&user.id).await?;
        let skipped = self.store.skipped_items(&user.id).await?;
        Ok(crate::views::UserDetailView {
            user: (&user).into(),
            folders: folders.iter().map(Into::into).collect(),
            skipped_items: skipped.iter().map(Into::into).collect(),
        })
    }

    /// Every user of a batch with folders and skipped items (the report).
    pub async fn batch_report(&self, name: &str) -> Result<(BatchState, Vec<crate::views::UserDetailView>), EngineError> {
        let state = self.batch_state(name).await?;
        let mut details = Vec::with_capacity(state.users.len());
        for user in &state.users {
            let folders = self.store.folder_states(&user.id).await?;
            let skipped = self.store.skipped_items(&user.id).await?;
            details.push(crate::views::UserDetailView {
                user: user.into(),
                folders: folders.iter().map(Into::into).collect(),
                skipped_items: skipped.iter().map(Into::into).collect(),
            });
        }
        Ok((state, details))
    }
}

impl From<CsvErrors> for EngineError {
    fn from(e: CsvErrors) -> Self {
        EngineError::Csv(e)
    }
}
