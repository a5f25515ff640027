//! Request bodies and the response shapes that are not engine views, with
//! their OpenAPI schemas. Engine views (`mailferry_engine::views`) are
//! returned as they are; the endpoint test and verify reports are mirrored
//! here so that their schema is generated from the type that is sent.
//!
//! Request bodies reject unknown fields. The only secret a request carries
//! is an endpoint's `password`: write-only, turned into a `Secret` at once,
//! never part of a `Debug`, a log line or a response.

use chrono::{DateTime, Utc};
use mailferry_engine::endpoint_test::TestReport;
use mailferry_engine::verify::{Altered, FolderVerify, UserVerify, VerifyReport};
use mailferry_engine::views::{BatchView, EndpointView, UserDetailView, UserView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

// ---------------------------------------------------------------- errors

/// Every error: `{"error":{"code","message"}}`, with the bad CSV rows or the
/// failed endpoint test where they apply.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_input`, `invalid_csv`, `unauthorized`, `not_found`,
    /// `already_exists`, `in_use`, `conflict`, `invalid_state`, `endpoint_test_failed`,
    /// `target_not_writable`, `payload_too_large`, `unsupported_media_type`,
    /// `method_not_allowed`, `internal`, `store_error`.
    #[schema(example = "not_found")]
    pub code: String,
    /// What failed and what to do, for a person.
    pub message: String,
    /// `invalid_csv`: every bad row (line 0: the file as a whole; 1: the header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<CsvRowError>>,
    /// `endpoint_test_failed`: the test, step by step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<TestReportView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CsvRowError {
    #[schema(minimum = 0)]
    pub line: u64,
    pub reason: String,
}

// ---------------------------------------------------------------- endpoint test

/// The step-by-step test of an endpoint (connect, TLS, greeting,
/// capabilities, login acting for the test mailbox, open its INBOX).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestReportView {
    /// `host:port` as tested.
    pub server: String,
    /// True when every step passed.
    pub passed: bool,
    pub steps: Vec<TestStepView>,
    /// Whether the test mailbox's INBOX opened read-write; null when the test did not get that far.
    pub writable: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestStepView {
    #[schema(example = "open-inbox")]
    pub step: String,
    pub ok: bool,
    pub detail: String,
}

impl From<&TestReport> for TestReportView {
    fn from(r: &TestReport) -> Self {
        TestReportView {
            server: r.server.clone(),
            passed: r.passed(),
            steps: r
                .steps
                .iter()
                .map(|s| TestStepView { step: s.step.as_str().to_owned(), ok: s.ok, detail: s.detail.clone() })
                .collect(),
            writable: r.writable,
        }
    }
}

/// `POST /endpoints/test` and `POST /endpoints/{name}/test`: the test ran;
/// `passed` tells how it went.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub passed: bool,
    pub report: TestReportView,
}

// ---------------------------------------------------------------- endpoints

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecurityInput {
    Tls,
    Starttls,
    None,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ImpersonationInput {
    Authzid,
    MasterUser,
    None,
}

impl ImpersonationInput {
    pub fn as_str(self) -> &'static str {
        match self {
            ImpersonationInput::Authzid => "authzid",
            ImpersonationInput::MasterUser => "master-user",
            ImpersonationInput::None => "none",
        }
    }
}

/// The connection settings of an endpoint and its administrator's
/// credentials (`POST /endpoints/test`); `POST /endpoints` adds `name` and
/// `skip_verification`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointSettingsInput {
    /// The IMAP server's host name or address.
    #[schema(example = "imap.example.com", pattern = "^[A-Za-z0-9._:-]{1,253}$")]
    pub host: String,
    /// Default 993 for `tls`, 143 for `starttls` and `none`.
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<u16>,
    /// Default `tls`. `none` needs `allow_plaintext`.
    pub security: Option<SecurityInput>,
    /// Accept `security: none`: the password travels in clear.
    #[serde(default)]
    pub allow_plaintext: bool,
    /// The migration administrator's login.
    pub admin: Option<String>,
    /// The administrator's password. Write-only: never returned.
    #[schema(write_only, format = Password)]
    pub password: Option<String>,
    /// Default `authzid`.
    pub impersonation: Option<ImpersonationInput>,
    /// Separator of the master-user login (default `*`); only with `master-user`.
    pub master_separator: Option<String>,
    /// `%EMAILADDRESS%` (default), `%EMAILLOCALPART%`, `%EMAILDOMAIN%` placeholders.
    pub login_format: Option<String>,
    /// The mailbox the test acts for (its INBOX is opened); needed with impersonation.
    pub test_mailbox: Option<String>,
    /// Default 20.
    #[schema(minimum = 1)]
    pub max_concurrent_migrations: Option<u32>,
    /// Default 10, at most `max_concurrent_migrations`.
    #[schema(minimum = 1)]
    pub max_concurrent_incremental: Option<u32>,
    /// An extra trust anchor (PEM) stored with the endpoint.
    pub ca_pem: Option<String>,
}

/// `POST /endpoints`: the settings, tested before anything is stored.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointCreate {
    /// 1–64 letters, digits, `.`, `_`, `-`; unique regardless of case.
    #[schema(example = "source", pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    /// Store without testing; the endpoint is marked unverified.
    #[serde(default)]
    pub skip_verification: bool,
    #[schema(example = "imap.example.com", pattern = "^[A-Za-z0-9._:-]{1,253}$")]
    pub host: String,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<u16>,
    pub security: Option<SecurityInput>,
    #[serde(default)]
    pub allow_plaintext: bool,
    pub admin: Option<String>,
    /// Write-only: never returned.
    #[schema(write_only, format = Password)]
    pub password: Option<String>,
    pub impersonation: Option<ImpersonationInput>,
    pub master_separator: Option<String>,
    pub login_format: Option<String>,
    pub test_mailbox: Option<String>,
    #[schema(minimum = 1)]
    pub max_concurrent_migrations: Option<u32>,
    #[schema(minimum = 1)]
    pub max_concurrent_incremental: Option<u32>,
    pub ca_pem: Option<String>,
}

impl EndpointCreate {
    /// The settings part, and the name and `skip_verification`.
    pub fn split(self) -> (String, bool, EndpointSettingsInput) {
        (
            self.name,
            self.skip_verification,
            EndpointSettingsInput {
                host: self.host,
                port: self.port,
                security: self.security,
                allow_plaintext: self.allow_plaintext,
                admin: self.admin,
                password: self.password,
                impersonation: self.impersonation,
                master_separator: self.master_separator,
                login_format: self.login_format,
                test_mailbox: self.test_mailbox,
                max_concurrent_migrations: self.max_concurrent_migrations,
                max_concurrent_incremental: self.max_concurrent_incremental,
                ca_pem: self.ca_pem,
            },
        )
    }
}

/// `PATCH /endpoints/{name}`: only the fields given change. A change that can
/// break a connection is tested first (unless `skip_verification`), and
/// nothing changes if the test fails.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EndpointUpdate {
    pub host: Option<String>,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<u16>,
    pub security: Option<SecurityInput>,
    #[serde(default)]
    pub allow_plaintext: bool,
    pub admin: Option<String>,
    /// Write-only: never returned.
    #[schema(write_only, format = Password)]
    pub password: Option<String>,
    pub impersonation: Option<ImpersonationInput>,
    pub master_separator: Option<String>,
    pub login_format: Option<String>,
    pub test_mailbox: Option<String>,
    #[schema(minimum = 1)]
    pub max_concurrent_migrations: Option<u32>,
    #[schema(minimum = 1)]
    pub max_concurrent_incremental: Option<u32>,
    pub ca_pem: Option<String>,
    /// Save without testing; the endpoint becomes unverified.
    #[serde(default)]
    pub skip_verification: bool,
}

/// `POST /endpoints` and `PATCH /endpoints/{name}`: the endpoint as stored,
/// and the test that allowed it (null when skipped or not needed).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointSaved {
    pub endpoint: EndpointView,
    pub test: Option<TestReportView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StoredTestQuery {
    /// Act for this mailbox instead of the stored test mailbox.
    pub test_mailbox: Option<String>,
}

/// `DELETE` of an endpoint or a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct Removed {
    pub removed: String,
}

// ---------------------------------------------------------------- batches

/// `POST /batches` as `application/json`: the CSV as text, and the options.
/// (The same fields as form fields in `multipart/form-data`, the CSV as a file part.)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchCreate {
    /// 1–64 letters, digits, `.`, `_`, `-`; unique regardless of case.
    #[schema(example = "wave1", pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    /// The source endpoint.
    pub source: String,
    /// The target endpoint.
    pub target: String,
    /// The CSV: header `EmailAddress,UserName,Password`, at most 50,000 rows and 10 MB.
    #[schema(example = "EmailAddress,UserName,Password\nalice@example.com,,\n")]
    pub csv: String,
    /// Ignore CSV columns other than EmailAddress, UserName and Password.
    #[serde(default)]
    pub allow_unknown_columns: bool,
    /// Start right after creating it.
    #[serde(default)]
    pub autostart: bool,
    /// Complete by itself once every mailbox is synced.
    #[serde(default)]
    pub autocomplete: bool,
    /// RFC 3339 time, or a delay from now like `2h`.
    pub start_after: Option<String>,
    /// RFC 3339 time, or a delay from now like `7d`.
    pub complete_after: Option<String>,
    /// Folders left out (path from the root, `/` between levels; `Name/*` with subfolders).
    #[serde(default)]
    pub exclude_folders: Vec<String>,
    /// Only these folders (same syntax).
    #[serde(default)]
    pub include_folders: Vec<String>,
    /// Skip messages larger than this as `large`: bytes, or `25MB`, `512KB`.
    pub max_message_size: Option<String>,
    /// Fail a mailbox when more messages than this are skipped as `bad` (default 0).
    #[schema(minimum = 0)]
    pub bad_item_limit: Option<u64>,
    /// Fail a mailbox when more messages than this are skipped as `large` (default 0).
    #[schema(minimum = 0)]
    pub large_item_limit: Option<u64>,
    /// Time between incremental syncs (default 24h; e.g. `30m`, `6h`, `1d`).
    pub incremental_interval: Option<String>,
    /// No incremental syncs after the initial one.
    #[serde(default)]
    pub no_incremental: bool,
    /// The mailbox the target test writes to (default: the first CSV row).
    pub test_mailbox: Option<String>,
}

/// A new batch as read from either form.
#[derive(Default)]
pub struct BatchInput {
    pub name: String,
    pub source: String,
    pub target: String,
    pub csv: Vec<u8>,
    pub allow_unknown_columns: bool,
    pub autostart: bool,
    pub autocomplete: bool,
    pub start_after: Option<String>,
    pub complete_after: Option<String>,
    pub exclude_folders: Vec<String>,
    pub include_folders: Vec<String>,
    pub max_message_size: Option<String>,
    pub bad_item_limit: Option<u64>,
    pub large_item_limit: Option<u64>,
    pub incremental_interval: Option<String>,
    pub no_incremental: bool,
    pub test_mailbox: Option<String>,
}

impl From<BatchCreate> for BatchInput {
    fn from(b: BatchCreate) -> Self {
        BatchInput {
            name: b.name,
            source: b.source,
            target: b.target,
            csv: b.csv.into_bytes(),
            allow_unknown_columns: b.allow_unknown_columns,
            autostart: b.autostart,
            autocomplete: b.autocomplete,
            start_after: b.start_after,
            complete_after: b.complete_after,
            exclude_folders: b.exclude_folders,
            include_folders: b.include_folders,
            max_message_size: b.max_message_size,
            bad_item_limit: b.bad_item_limit,
            large_item_limit: b.large_item_limit,
            incremental_interval: b.incremental_interval,
            no_incremental: b.no_incremental,
            test_mailbox: b.test_mailbox,
        }
    }
}

/// `POST /batches` as `multipart/form-data` (for the OpenAPI document: the
/// handler reads the parts one by one).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BatchCreateForm {
    pub name: String,
    pub source: String,
    pub target: String,
    /// The CSV file.
    #[schema(value_type = String, format = Binary)]
    pub csv: Vec<u8>,
    pub allow_unknown_columns: Option<bool>,
    pub autostart: Option<bool>,
    pub autocomplete: Option<bool>,
    pub start_after: Option<String>,
    pub complete_after: Option<String>,
    pub exclude_folders: Option<Vec<String>>,
    pub include_folders: Option<Vec<String>>,
    pub max_message_size: Option<String>,
    #[schema(minimum = 0)]
    pub bad_item_limit: Option<u64>,
    #[schema(minimum = 0)]
    pub large_item_limit: Option<u64>,
    pub incremental_interval: Option<String>,
    pub no_incremental: Option<bool>,
    pub test_mailbox: Option<String>,
}

/// `POST /batches/{name}/users` as `application/json`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddUsers {
    /// The CSV of the mailboxes to add (same rules as for a new batch).
    pub csv: String,
    #[serde(default)]
    pub allow_unknown_columns: bool,
}

/// `POST /batches/{name}/users` as `multipart/form-data`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AddUsersForm {
    #[schema(value_type = String, format = Binary)]
    pub csv: Vec<u8>,
    pub allow_unknown_columns: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsersAdded {
    pub added: usize,
    pub batch: BatchView,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `json` (default) or `csv`.
    #[param(inline)]
    pub format: Option<ReportFormat>,
}

/// `GET /batches/{name}/report?format=json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    pub batch: BatchView,
    pub users: Vec<UserDetailView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// Only this mailbox of the batch.
    pub user: Option<String>,
}

/// `POST /batches/{name}/verify`: the totals of `mailferry verify --json`, with the details.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyView {
    /// No difference, and every mailbox could be verified.
    pub clean: bool,
    pub messages_source: u64,
    pub matched: u64,
    pub missing: u64,
    pub altered: u64,
    pub extra: u64,
    /// Mailboxes that could not be verified (see their `error`).
    pub errors: u64,
    pub users: Vec<UserVerifyView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserVerifyView {
    pub email: String,
    pub folders: Vec<FolderVerifyView>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FolderVerifyView {
    pub folder: String,
    pub target_folder: String,
    pub messages_source: u64,
    pub matched: u64,
    /// Source UIDs with no copy (the first 100).
    pub missing: Vec<u32>,
    pub missing_count: u64,
    pub altered: Vec<AlteredView>,
    pub altered_count: u64,
    /// Target UIDs that are no copy of a source message (the first 100).
    pub extra: Vec<u32>,
    pub extra_count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlteredView {
    pub source_uid: u32,
    pub target_uid: u32,
    /// `content`, `flags`, `internaldate`.
    pub what: Vec<String>,
    pub source_flags: Vec<String>,
    pub target_flags: Vec<String>,
}

impl From<&VerifyReport> for VerifyView {
    fn from(r: &VerifyReport) -> Self {
        VerifyView {
            clean: r.is_clean(),
            messages_source: r.messages_source,
            matched: r.matched,
            missing: r.missing,
            altered: r.altered,
            extra: r.extra,
            errors: r.errors,
            users: r.users.iter().map(UserVerifyView::from).collect(),
        }
    }
}

impl From<&UserVerify> for UserVerifyView {
    fn from(u: &UserVerify) -> Self {
        UserVerifyView { email: u.email.clone(), folders: u.folders.iter().map(Into::into).collect(), error: u.error.clone() }
    }
}

impl From<&FolderVerify> for FolderVerifyView {
    fn from(f: &FolderVerify) -> Self {
        FolderVerifyView {
            folder: f.folder.clone(),
            target_folder: f.target_folder.clone(),
            messages_source: f.messages_source,
            matched: f.matched,
            missing: f.missing.clone(),
            missing_count: f.missing_count,
            altered: f.altered.iter().map(Into::into).collect(),
            altered_count: f.altered_count,
            extra: f.extra.clone(),
            extra_count: f.extra_count,
        }
    }
}

impl From<&Altered> for AlteredView {
    fn from(a: &Altered) -> Self {
        AlteredView {
            source_uid: a.source_uid,
            target_uid: a.target_uid,
            what: a.what.iter().map(|w| (*w).to_owned()).collect(),
            source_flags: a.source_flags.clone(),
            target_flags: a.target_flags.clone(),
        }
    }
}

// ---------------------------------------------------------------- users

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only this batch's users (404 if there is no such batch).
    pub batch: Option<String>,
    /// Only users in this status: Queued, Syncing, Synced, IncrementalSyncing, Stopping,
    /// Stopped, Completing, Completed, Failed.
    pub status: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// Skip this many (default 0).
    #[param(minimum = 0, maximum = 1000000000)]
    pub offset: Option<u64>,
}

/// `GET /users`: one page, ordered by batch, CSV line, address.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub limit: u64,
    pub offset: u64,
    /// The `offset` of the next page; null on the last page.
    pub next_offset: Option<u64>,
}

// ---------------------------------------------------------------- workers

/// `GET /workers`: the registered worker processes and the mailboxes they
/// hold a lease on now.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkersView {
    pub workers: Vec<WorkerView>,
    pub leases: Vec<LeaseView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerView {
    /// `host:pid:random`.
    pub id: String,
    pub host: String,
    pub pid: Option<u32>,
    pub version: Option<String>,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// Live leases it holds.
    pub leases: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeaseView {
    pub email: String,
    pub batch: String,
    /// The worker holding it.
    pub owner: String,
    pub expires_at: DateTime<Utc>,
}
