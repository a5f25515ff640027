//! The SQLite store: one database file in the data directory, WAL mode,
//! foreign keys on.
//!
//! The SQL uses `$1`-style placeholders (SQLite reads `$N` as a numbered
//! parameter and sqlx-sqlite binds it by number), so the same statements
//! serve the PostgreSQL store (`crate::postgres`) where the dialects agree.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mailferry_core::state::UserStatus;
use mailferry_core::{EndpointSettings, Secret};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use crate::error::{is_foreign_key_violation, is_unique_violation, StoreError};
use crate::migrate;
use crate::model::{
    BatchRecord, ClaimRequest, CopyDone, CopyIntent, EndpointRecord, EventFilter, EventRecord,
    FolderState, Lease, LeaseInfo, NewBatch, NewEndpoint, NewEvent, NewMigrationUser, SkipKind,
    SkippedItem, UserCounters, UserFilter, UserRecord, WorkerInfo, WorkerRecord, TokenRecord,
};
use crate::common::{
    admin_secret_at, batch_endpoints, batch_updated, choose_claims, conflict, create_private_dir,
    is_settled, lease_lost, parse_status, prepare_users, skipped_column, source_secret_at,
    token_row, ttl_ms, user_not_found, TRY_LEAD, ClaimKey, ClaimStream, EndpointLoad, PreparedUser,
    BATCH_SELECT, ENDPOINT_COLUMNS, FOLDER_COLUMNS, INTENT_COLUMNS, USER_ORDER, USER_SELECT,
};
use crate::rows::{
    int, row_readers, BatchRow, EndpointRow, EventRow, FolderStateRow, IntentRow, SkippedRow,
    UserRow,
};
use crate::secrets::SecretBox;
use crate::store::Store;
use crate::util::{from_ms, new_id, new_ordered_id, now_ms, to_i64};

/// The database file's name inside the data directory.
pub const DB_FILE_NAME: &str = "mailferry.db";

row_readers!(SqliteRow);

/// The SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    secrets: Arc<SecretBox>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) `data_dir/mailferry.db` with the secret
    /// key of `data_dir` (or `MAILFERRY_SECRET_KEY`). The data directory is
    /// created with mode 0700 if it does not exist.
    pub async fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        create_private_dir(data_dir)?;
        let secrets = SecretBox::load(data_dir)?;
        Self::open_with(&data_dir.join(DB_FILE_NAME), secrets).await
    }

    /// Opens the database named by a `sqlite://PATH` (or `sqlite:PATH`) URL;
    /// the secret key comes from `data_dir` (or `MAILFERRY_SECRET_KEY`).
    pub async fn open_url(url: &str, data_dir: &Path) -> Result<SqliteStore, StoreError> {
        let path = parse_sqlite_url(url)?;
        let secrets = SecretBox::load(data_dir)?;
        Self::open_with(&path, secrets).await
    }

    /// Opens (creating if needed) the database at `path` with this key.
    pub async fn open_with(path: &Path, secrets: SecretBox) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent)?;
        }
        // Create the file ourselves, so it is 0600 from the start (SQLite
        // gives its -wal and -shm files the database file's mode).
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| StoreError::Io {
                path: path.to_owned(),
                source,
            })?;

        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::db(&format!("cannot open {}", path.display()), e))?;
        migrate::migrate_sqlite(&pool).await?;
        Ok(SqliteStore {
            pool,
            secrets: Arc::new(secrets),
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::db("read schema version", e))?;
        Ok(v.unwrap_or(0))
    }

    /// Copies the write-ahead log into the database file and truncates it.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db("checkpoint", e))?;
        Ok(())
    }

    /// Closes every connection (checkpointing the log).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn endpoint_id(
        &self,
        conn: &mut sqlx::SqliteConnection,
        name: &str,
    ) -> Result<String, StoreError> {
        sqlx::query_scalar("SELECT id FROM endpoints WHERE lower(name) = lower($1)")
            .bind(name)
            .fetch_optional(conn)
            .await
            .map_err(|e| StoreError::db("look up endpoint", e))?
            .ok_or_else(|| StoreError::NotFound {
                what: "endpoint",
                name: name.to_owned(),
            })
    }

    /// Ids, sealed secrets and stored values of new users, ready before any
    /// transaction begins (sealing is the slow part).
    fn prepare_users(&self, users: Vec<NewMigrationUser>) -> Result<Vec<PreparedUser>, StoreError> {
        prepare_users(&self.secrets, users)
    }

    async fn batch_by_id(&self, id: &str) -> Result<BatchRecord, StoreError> {
        let row = sqlx::query(&format!("{BATCH_SELECT} WHERE b.id = $1"))
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::db("read batch", e))?;
        batch_row(&row)?.into_record()
    }

    async fn begin(
        &self,
        context: &str,
    ) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| StoreError::db(context, e))
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

/// The file path in a `sqlite://PATH` or `sqlite:PATH` URL. Never echoes
/// the URL in an error (a database URL may carry a password).
pub fn parse_sqlite_url(url: &str) -> Result<PathBuf, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            StoreError::Unsupported("not a SQLite URL: expected sqlite://PATH".into())
        })?;
    if rest.contains('?') || rest.contains('#') {
        return Err(StoreError::Unsupported(
            "options in a sqlite:// URL are not supported; give just the file path".into(),
        ));
    }
    if rest.is_empty() || rest == ":memory:" {
        return Err(StoreError::Unsupported(
            "a sqlite:// URL needs a file path (in-memory databases are not supported)".into(),
        ));
    }
    Ok(PathBuf::from(rest))
}

/// Inserts users into a batch after checking that none of their addresses
/// is twice in `users`, already in this batch, or a user of another active
/// batch (one where it is not Completed). Runs inside the caller's
/// transaction; on a clash nothing is inserted.
async fn insert_users(
    conn: &mut sqlx::SqliteConnection,
    batch_id: &str,
    batch_name: &str,
    users: &[PreparedUser],
) -> Result<(), StoreError> {
    let mut clashes: Vec<(String, String)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for u in users {
        if !seen.insert(u.email.to_lowercase()) {
            clashes.push((u.email.clone(), batch_name.to_owned()));
            continue;
        }
        let others: Vec<String> = sqlx::query_scalar(
            "SELECT b.name FROM migration_users u JOIN batches b ON b.id = u.batch_id \
             WHERE lower(u.email) = lower($1) AND (u.batch_id = $2 OR u.status <> 'Completed') \
             ORDER BY lower(b.name), b.name",
        )
        .bind(&u.email)
        .bind(batch_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| StoreError::db("check addresses against the active batches", e))?;
        clashes.extend(others.into_iter().map(|b| (u.email.clone(), b)));
    }
    if !clashes.is_empty() {
        return Err(conflict(clashes));
    }
    let now = now_ms();
    for u in users {
        sqlx::query(
            "INSERT INTO migration_users (id, batch_id, email, source_login, source_secret, \
             status, csv_line, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&u.id)
        .bind(batch_id)
        .bind(&u.email)
        .bind(&u.source_login)
        .bind(&u.sealed_secret)
        .bind(UserStatus::Queued.as_str())
        .bind(u.csv_line)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::db("add migration user", e))?;
    }
    Ok(())
}

/// `NotFound` unless the user exists.
async fn require_user(conn: &mut sqlx::SqliteConnection, id: &str) -> Result<(), StoreError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM migration_users WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(|e| StoreError::db("look up migration user", e))?;
    found.map(|_| ()).ok_or_else(|| user_not_found(id))
}

/// The fence of a worker's write, checked inside the write's transaction
/// (under `BEGIN IMMEDIATE`, so nothing can change between the check and
/// the write): `LeaseLost` unless the user's lease owner and token are the
/// lease's; `NotFound` for an unknown user. No fence: no check.
async fn check_fence(
    conn: &mut sqlx::SqliteConnection,
    user_id: &str,
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    let Some(lease) = fence else {
        return Ok(());
    };
    let row: Option<(Option<String>, i64)> =
        sqlx::query_as("SELECT lease_owner, lease_token FROM migration_users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(conn)
            .await
            .map_err(|e| StoreError::db("check the lease of a migration user", e))?;
    let (owner, token) = row.ok_or_else(|| user_not_found(user_id))?;
    let held = lease.user_id == user_id
        && owner.as_deref() == Some(lease.owner.as_str())
        && u64::try_from(token).ok() == Some(lease.token);
    if held {
        Ok(())
    } else {
        Err(lease_lost(user_id))
    }
}

/// Creates the folder state of (`user_id`, `folder`) if it has none.
async fn ensure_folder(
    conn: &mut sqlx::SqliteConnection,
    user_id: &str,
    folder: &str,
    target_folder: Option<&str>,
    source_uidvalidity: u32,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO folder_states (user_id, source_folder, target_folder, source_uidvalidity, \
         updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, source_folder) DO NOTHING",
    )
    .bind(user_id)
    .bind(folder)
    .bind(target_folder)
    .bind(i64::from(source_uidvalidity))
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| StoreError::db("create folder state", e))?;
    Ok(())
}

async fn user_by_id(conn: &mut sqlx::SqliteConnection, id: &str) -> Result<UserRecord, StoreError> {
    let row = sqlx::query(&format!("{USER_SELECT} WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(|e| StoreError::db("read migration user", e))?
        .ok_or_else(|| user_not_found(id))?;
    user_row(&row)?.into_record()
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn create_endpoint(&self, new: NewEndpoint) -> Result<EndpointRecord, StoreError> {
        let id = new_id()?;
        let sealed = match &new.admin_secret {
            Some(secret) => Some(self.secrets.seal(secret, admin_secret_at(&id))?),
            None => None,
        };
        let s = &new.settings;
        let trusted_hosts = serde_json::to_string(&new.trusted_hosts)
            .map_err(|e| StoreError::Database(format!("encode trusted hosts: {e}")))?;
        let now = now_ms();
        let result = sqlx::query(
            "INSERT INTO endpoints (id, name, kind, host, port, security, admin_login, admin_secret, \
             impersonation, master_separator, login_format, max_concurrent_migrations, \
             max_concurrent_incremental, ca_pem, verified, discovered_from, trusted_hosts, \
             test_mailbox, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $19)",
        )
        .bind(&id)
        .bind(new.name.as_str())
        .bind(s.kind.as_str())
        .bind(&s.host)
        .bind(i64::from(s.port))
        .bind(s.security.as_str())
        .bind(&s.admin_login)
        .bind(sealed)
        .bind(s.impersonation.method_name())
        .bind(s.impersonation.separator())
        .bind(s.login_format.as_str())
        .bind(i64::from(s.max_concurrent_migrations))
        .bind(i64::from(s.max_concurrent_incremental))
        .bind(&s.ca_pem)
        .bind(new.verified)
        .bind(&new.discovered_from)
        .bind(trusted_hosts)
        .bind(&new.test_mailbox)
        .bind(now)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => self.endpoint_by_id(&id).await,
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: "endpoint",
                name: new.name.as_str().to_owned(),
            }),
            Err(e) => Err(StoreError::db("create endpoint", e)),
        }
    }

    async fn endpoint(&self, name: &str) -> Result<EndpointRecord, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE lower(name) = lower($1)"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StoreError::db("read endpoint", e))?
        .ok_or_else(|| StoreError::NotFound {
            what: "endpoint",
            name: name.to_owned(),
        })?;
        endpoint_row(&row)?.into_record()
    }

    async fn endpoints(&self) -> Result<Vec<EndpointRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints ORDER BY lower(name), name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db("list endpoints", e))?;
        rows.iter()
            .map(|r| endpoint_row(r)?.into_record())
            .collect()
    }

    async fn update_endpoint(
        &self,
        name: &str,
        settings: EndpointSettings,
        admin_secret: Option<Secret>,
        verified: bool,
        test_mailbox: Option<String>,
    ) -> Result<EndpointRecord, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| StoreError::db("update endpoint", e))?;
        let id = self.endpoint_id(&mut tx, name).await?;
        let sealed = match &admin_secret {
            Some(secret) => Some(self.secrets.seal(secret, admin_secret_at(&id))?),
            None => None,
        };
        let s = &settings;
        sqlx::query(
            "UPDATE endpoints SET kind = $2, host = $3, port = $4, security = $5, admin_login = $6, \
             admin_secret = COALESCE($7, admin_secret), impersonation = $8, master_separator = $9, \
             login_format = $10, max_concurrent_migrations = $11, max_concurrent_incremental = $12, \
             ca_pem = $13, verified = $14, test_mailbox = $15, updated_at = $16 \
             WHERE id = $1",
        )
        .bind(&id)
        .bind(s.kind.as_str())
        .bind(&s.host)
        .bind(i64::from(s.port))
        .bind(s.security.as_str())
        .bind(&s.admin_login)
        .bind(sealed)
        .bind(s.impersonation.method_name())
        .bind(s.impersonation.separator())
        .bind(s.login_format.as_str())
        .bind(i64::from(s.max_concurrent_migrations))
        .bind(i64::from(s.max_concurrent_incremental))
        .bind(&s.ca_pem)
        .bind(verified)
        .bind(test_mailbox)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::db("update endpoint", e))?;
        tx.commit()
            .await
            .map_err(|e| StoreError::db("update endpoint", e))?;
        self.endpoint_by_id(&id).await
    }

    async fn remove_endpoint(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| StoreError::db("remove endpoint", e))?;
        let id = self.endpoint_id(&mut tx, name).await?;
        let users = batch_names_using(&mut tx, &id).await?;
        if !users.is_empty() {
            return Err(StoreError::InUse {
                what: "endpoint",
                name: name.to_owned(),
                by: users,
            });
        }
        match sqlx::query("DELETE FROM endpoints WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await
        {
            Ok(_) => {}
            // Cannot happen under BEGIN IMMEDIATE, but the foreign key is the
            // last word: report it the same way.
            Err(e) if is_foreign_key_violation(&e) => {
                drop(tx);
                let mut conn = self
                    .pool
                    .acquire()
                    .await
                    .map_err(|e| StoreError::db("remove endpoint", e))?;
                let by = batch_names_using(&mut conn, &id).await?;
                return Err(StoreError::InUse {
                    what: "endpoint",
                    name: name.to_owned(),
                    by,
                });
            }
            Err(e) => return Err(StoreError::db("remove endpoint", e)),
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::db("remove endpoint", e))
    }

    async fn endpoint_secret(&self, name: &str) -> Result<Option<Secret>, StoreError> {
        let row: Option<(String, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT id, admin_secret FROM endpoints WHERE lower(name) = lower($1)")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| StoreError::db("read endpoint secret", e))?;
        let (id, sealed) = row.ok_or_else(|| StoreError::NotFound {
            what: "endpoint",
            name: name.to_owned(),
        })?;
        match sealed {
            Some(sealed) => Ok(Some(self.secrets.open(&sealed, admin_secret_at(&id))?)),
            None => Ok(None),
        }
    }

    async fn create_batch(&self, new: NewBatch) -> Result<BatchRecord, StoreError> {
        self.create_batch_with_users(new, Vec::new()).await
    }

    async fn create_batch_with_users(
        &self,
        new: NewBatch,
        users: Vec<NewMigrationUser>,
    ) -> Result<BatchRecord, StoreError> {
        let options = serde_json::to_string(&new.options_json)
            .map_err(|e| StoreError::Database(format!("encode batch options: {e}")))?;
        let id = new_id()?;
        let users = self.prepare_users(users)?;
        let mut tx = self.begin("create batch").await?;
        let source = self.endpoint_id(&mut tx, &new.source_endpoint).await?;
        let target = self.endpoint_id(&mut tx, &new.target_endpoint).await?;
        let now = now_ms();
        let result = sqlx::query(
            "INSERT INTO batches (id, name, source_endpoint_id, target_endpoint_id, options, \
             started, removing, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $7)",
        )
        .bind(&id)
        .bind(new.name.as_str())
        .bind(&source)
        .bind(&target)
        .bind(options)
        .bind(false)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::AlreadyExists {
                    what: "batch",
                    name: new.name.as_str().to_owned(),
                })
            }
            Err(e) => return Err(StoreError::db("create batch", e)),
        }
        insert_users(&mut tx, &id, new.name.as_str(), &users).await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::db("create batch", e))?;
        self.batch_by_id(&id).await
    }

    async fn add_users(
        &self,
        batch: &str,
        users: Vec<NewMigrationUser>,
    ) -> Result<Vec<UserRecord>, StoreError> {
        let users = self.prepare_users(users)?;
        let mut tx = self.begin("add migration users").await?;
        let found: Option<(String, String, bool)> =
            sqlx::query_as("SELECT id, name, removing FROM batches WHERE lower(name) = lower($1)")
                .bind(batch)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| StoreError::db("look up batch", e))?;
        let (batch_id, batch_name, removing) = found.ok_or_else(|| StoreError::NotFound {
            what: "batch",
            name: batch.to_owned(),
        })?;
        if removing {
            return Err(StoreError::Conflict {
                message: format!("batch {batch_name:?} is being removed; it takes no new users"),
                emails: Vec::new(),
            });
        }
        insert_users(&mut tx, &batch_id, &batch_name, &users).await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::db("add migration users", e))?;
        let rows = sqlx::query(&format!("{USER_SELECT} WHERE u.batch_id = $1"))
            .bind(&batch_id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| StoreError::db("read migration users", e))?;
        let mut by_id: HashMap<String, UserRecord> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let user = user_row(row)?.into_record()?;
            by_id.insert(user.id.clone(), user);
        }
        users
            .iter()
            .map(|u| by_id.remove(&u.id).ok_or_else(|| user_not_found(&u.id)))
            .collect()
    }

    async fn batches(&self) -> Result<Vec<BatchRecord>, StoreError> {
        let rows = sqlx::query(&format!("{BATCH_SELECT} ORDER BY lower(b.name), b.name"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| StoreError::db("list batches", e))?;
        rows.iter().map(|r| batch_row(r)?.into_record()).collect()
    }

    async fn set_batch_started(&self, batch: &str, started: bool) -> Result<(), StoreError> {
        // started_at is set when the flag goes from off to on
        let sql = if started {
            "UPDATE batches SET started_at = CASE WHEN started = $2 THEN started_at ELSE $3 END, \
             started = $2, updated_at = $3 WHERE lower(name) = lower($1)"
        } else {
            "UPDATE batches SET started = $2, updated_at = $3 WHERE lower(name) = lower($1)"
        };
        let done = sqlx::query(sql)
            .bind(batch)
            .bind(started)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db("start or stop batch", e))?;
        batch_updated(done.rows_affected(), batch)
    }

    async fn set_batch_removing(&self, batch: &str) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE batches SET removing = $2, updated_at = $3 WHERE lower(name) = lower($1)",
        )
        .bind(batch)
        .bind(true)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::db("mark batch as being removed", e))?;
        batch_updated(done.rows_affected(), batch)
    }

    async fn set_batch_complete_requested(&self, batch: &str) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE batches SET complete_requested_at = COALESCE(complete_requested_at, $2), \
             updated_at = $2 WHERE lower(name) = lower($1)",
        )
        .bind(batch)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::db("request batch completion", e))?;
        batch_updated(done.rows_affected(), batch)
    }

    async fn batch(&self, name: &str) -> Result<BatchRecord, StoreError> {
        let row = sqlx::query(&format!("{BATCH_SELECT} WHERE lower(b.name) = lower($1)"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::db("read batch", e))?
            .ok_or_else(|| StoreError::NotFound {
                what: "batch",
                name: name.to_owned(),
            })?;
        batch_row(&row)?.into_record()
    }

    async fn remove_batch(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.begin("remove batch").await?;
        let id: String = sqlx::query_scalar("SELECT id FROM batches WHERE lower(name) = lower($1)")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| StoreError::db("look up batch", e))?
            .ok_or_else(|| StoreError::NotFound {
                what: "batch",
                name: name.to_owned(),
            })?;
        // a worker still holds one of its users: refuse, remove nothing
        let leased: Option<(String, String)> = sqlx::query_as(
            "SELECT id, status FROM migration_users WHERE batch_id = $1 \
             AND lease_owner IS NOT NULL AND lease_expires_at > $2 \
             ORDER BY (csv_line IS NULL), csv_line, id LIMIT 1",
        )
        .bind(&id)
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| StoreError::db("look for leased users of the batch", e))?;
        if let Some((user_id, status)) = leased {
            return Err(StoreError::StateChanged {
                expected: UserStatus::Stopped,
                actual: parse_status(&user_id, &status)?,
            });
        }
        // folder states, the UID map and skipped items go with the users
        // (ON DELETE CASCADE), the users with the batch
        sqlx::query("DELETE FROM batches WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("remove batch", e))?;
        tx.commit()
            .await
            .map_err(|e| StoreError::db("remove batch", e))
    }

    async fn batch_names_using_endpoint(&self, endpoint: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| StoreError::db("list batches", e))?;
        let id = self.endpoint_id(&mut conn, endpoint).await?;
        batch_names_using(&mut conn, &id).await
    }

    async fn users(&self, filter: UserFilter) -> Result<Vec<UserRecord>, StoreError> {
        if let Some(batch) = &filter.batch {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM batches WHERE lower(name) = lower($1)")
                    .bind(batch)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| StoreError::db("look up batch", e))?;
            if found.is_none() {
                return Err(StoreError::NotFound {
                    what: "batch",
                    name: batch.clone(),
                });
            }
        }
        let mut sql = String::from(USER_SELECT);
        let mut binds: Vec<&str> = Vec::new();
        for (condition, value) in [
            ("lower(b.name) = lower(${})", filter.batch.as_deref()),
            ("u.status = ${}", filter.status.map(UserStatus::as_str)),
            ("lower(u.email) = lower(${})", filter.email.as_deref()),
        ] {
            if let Some(value) = value {
                binds.push(value);
                sql.push_str(if binds.len() == 1 { " WHERE " } else { " AND " });
                sql.push_str(&condition.replace("{}", &binds.len().to_string()));
            }
        }
        sql.push_str(USER_ORDER);
        sql.push_str(&format!(
            " LIMIT ${} OFFSET ${}",
            binds.len() + 1,
            binds.len() + 2
        ));
        let limit = match filter.limit {
            Some(n) => i64::try_from(n).unwrap_or(i64::MAX),
            None => i64::MAX,
        };
        let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = query.bind(value);
        }
        let rows = query
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| StoreError::db("list migration users", e))?;
        rows.iter().map(|r| user_row(r)?.into_record()).collect()
    }

    async fn user(&self, id: &str) -> Result<UserRecord, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| StoreError::db("read migration user", e))?;
        user_by_id(&mut conn, id).await
    }

    async fn user_secret(&self, id: &str) -> Result<Option<Secret>, StoreError> {
        let row: Option<(Option<Vec<u8>>,)> =
            sqlx::query_as("SELECT source_secret FROM migration_users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| StoreError::db("read migration user secret", e))?;
        match row.ok_or_else(|| user_not_found(id))? {
            (Some(sealed),) => Ok(Some(self.secrets.open(&sealed, source_secret_at(id))?)),
            (None,) => Ok(None),
        }
    }

    async fn transition_user(
        &self,
        id: &str,
        from: UserStatus,
        to: UserStatus,
        error: Option<String>,
        fence: Option<&Lease>,
    ) -> Result<UserRecord, StoreError> {
        let mut sql = String::from(
            "UPDATE migration_users SET status = $3, last_error = $4, updated_at = $5",
        );
        if fence.is_some() && is_settled(to) {
            sql.push_str(", lease_owner = NULL, lease_expires_at = NULL");
        }
        let synced = matches!(to, UserStatus::Synced | UserStatus::Completed);
        if synced {
            sql.push_str(", was_synced = $6, last_sync_at = $5");
        }
        if matches!(
            to,
            UserStatus::Syncing | UserStatus::IncrementalSyncing | UserStatus::Completing
        ) {
            sql.push_str(", sync_started_at = $5");
        }
        sql.push_str(" WHERE id = $1 AND status = $2");
        let mut tx = self.begin("change migration user status").await?;
        check_fence(&mut tx, id, fence).await?;
        let mut query = sqlx::query(&sql)
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(error)
            .bind(now_ms());
        if synced {
            query = query.bind(true);
        }
        let done = query
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("change migration user status", e))?;
        if done.rows_affected() == 0 {
            let actual: Option<String> =
                sqlx::query_scalar("SELECT status FROM migration_users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| StoreError::db("read migration user status", e))?;
            let actual = actual.ok_or_else(|| user_not_found(id))?;
            let actual = parse_status(id, &actual)?;
            return Err(StoreError::StateChanged {
                expected: from,
                actual,
            });
        }
        let user = user_by_id(&mut tx, id).await?;
        tx.commit()
            .await
            .map_err(|e| StoreError::db("change migration user status", e))?;
        Ok(user)
    }

    async fn set_user_counters(
        &self,
        id: &str,
        c: UserCounters,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin("set migration user counters").await?;
        check_fence(&mut tx, id, fence).await?;
        let done = sqlx::query(
            "UPDATE migration_users SET items_source = $2, items_synced = $3, \
             items_skipped_bad = $4, items_skipped_large = $5, bytes_synced = $6, updated_at = $7 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(to_i64(c.items_source, "items_source")?)
        .bind(to_i64(c.items_synced, "items_synced")?)
        .bind(to_i64(c.items_skipped_bad, "items_skipped_bad")?)
        .bind(to_i64(c.items_skipped_large, "items_skipped_large")?)
        .bind(to_i64(c.bytes_synced, "bytes_synced")?)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::db("set migration user counters", e))?;
        if done.rows_affected() == 0 {
            return Err(user_not_found(id));
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::db("set migration user counters", e))
    }

    async fn folder_states(&self, user_id: &str) -> Result<Vec<FolderState>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {FOLDER_COLUMNS} FROM folder_states WHERE user_id = $1 ORDER BY source_folder"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db("list folder states", e))?;
        rows.iter()
            .map(|r| folder_state_row(r)?.into_record())
            .collect()
    }

    async fn upsert_folder_state(
        &self,
        state: &FolderState,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        let highest_modseq = state
            .highest_modseq
            .map(|m| to_i64(m, "HIGHESTMODSEQ"))
            .transpose()?;
        let messages_source = to_i64(state.messages_source, "messages_source")?;
        let mut tx = self.begin("save folder state").await?;
        check_fence(&mut tx, &state.user_id, fence).await?;
        let result = sqlx::query(
            "INSERT INTO folder_states (user_id, source_folder, target_folder, source_uidvalidity, \
             target_uidvalidity, highest_modseq, last_seen_uid, subscribed, messages_source, \
             last_sync_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (user_id, source_folder) DO UPDATE SET \
             target_folder = excluded.target_folder, \
             source_uidvalidity = excluded.source_uidvalidity, \
             target_uidvalidity = excluded.target_uidvalidity, \
             highest_modseq = excluded.highest_modseq, \
             last_seen_uid = excluded.last_seen_uid, \
             subscribed = excluded.subscribed, \
             messages_source = excluded.messages_source, \
             last_sync_at = excluded.last_sync_at, \
             updated_at = excluded.updated_at",
        )
        .bind(&state.user_id)
        .bind(&state.source_folder)
        .bind(&state.target_folder)
        .bind(state.source_uidvalidity.map(i64::from))
        .bind(state.target_uidvalidity.map(i64::from))
        .bind(highest_modseq)
        .bind(state.last_seen_uid.map(i64::from))
        .bind(state.subscribed)
        .bind(messages_source)
        .bind(state.last_sync_at.map(|t| t.timestamp_millis()))
        .bind(now_ms())
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            Err(e) if is_foreign_key_violation(&e) => return Err(user_not_found(&state.user_id)),
            Err(e) => return Err(StoreError::db("save folder state", e)),
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::db("save folder state", e))
    }

    async fn copied_uids(
        &self,
        user_id: &str,
        source_folder: &str,
        source_uidvalidity: u32,
    ) -> Result<Vec<u32>, StoreError> {
        // Answered from the partial index uid_map_done alone (the primary
        // key would need a table lookup per row to check the state: ~20x
        // slower on 100k rows). SQLite's planner, without statistics, may
        // pick the primary key, hence INDEXED BY (PostgreSQL picks an
        // index-only scan by itself). The UIDs come back as one text
        // (group_concat; string_agg in PostgreSQL): one row instead of 100k+
        // through the driver. Its order is not guaranteed: sorted here.
        let list: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(source_uid) FROM uid_map INDEXED BY uid_map_done \
             WHERE user_id = $1 AND source_folder = $2 AND source_uidvalidity = $3 \
             AND state = 'done'",
        )
        .bind(user_id)
        .bind(source_folder)
        .bind(i64::from(source_uidvalidity))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::db("list copied UIDs", e))?;
        let mut uids = match list.as_deref() {
            None | Some("") => return Ok(Vec::new()),
            Some(list) => list
                .split(',')
                .map(|uid| {
                    uid.parse::<u32>().map_err(|_| {
                        StoreError::corrupt(format!(
                            "uid map of folder {source_folder:?}, column source_uid: \
                             {uid:?} is not a UID"
                        ))
                    })
                })
                .collect::<Result<Vec<u32>, StoreError>>()?,
        };
        uids.sort_unstable();
        Ok(uids)
    }

    async fn open_intents(
        &self,
        user_id: &str,
        source_folder: &str,
    ) -> Result<Vec<CopyIntent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM uid_map WHERE user_id = $1 AND source_folder = $2 \
             AND state = 'intent' ORDER BY source_uidvalidity, source_uid"
        ))
        .bind(user_id)
        .bind(source_folder)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db("list open copy intents", e))?;
        rows.iter().map(|r| intent_row(r)?.into_record()).collect()
    }

    async fn record_intents(
        &self,
        user_id: &str,
        intents: &[CopyIntent],
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        if intents.is_empty() && fence.is_none() {
            return Ok(());
        }
        let sizes = intents
            .iter()
            .map(|i| to_i64(i.size, "message size"))
            .collect::<Result<Vec<i64>, StoreError>>()?;
        let mut tx = self.begin("record copy intents").await?;
        require_user(&mut tx, user_id).await?;
        check_fence(&mut tx, user_id, fence).await?;
        let now = now_ms();
        let mut folders: HashSet<&str> = HashSet::new();
        for (intent, size) in intents.iter().zip(sizes) {
            if folders.insert(&intent.source_folder) {
                ensure_folder(
                    &mut tx,
                    user_id,
                    &intent.source_folder,
                    Some(&intent.target_folder),
                    intent.source_uidvalidity,
                    now,
                )
                .await?;
            }
            sqlx::query(
                "INSERT INTO uid_map (user_id, source_folder, source_uidvalidity, source_uid, \
                 target_folder, target_uidvalidity, target_uidnext, state, size, internal_date, \
                 sha256, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'intent', $8, $9, $10, $11) \
                 ON CONFLICT (user_id, source_folder, source_uidvalidity, source_uid) \
                 DO UPDATE SET target_folder = excluded.target_folder, \
                 target_uidvalidity = excluded.target_uidvalidity, \
                 target_uidnext = excluded.target_uidnext, size = excluded.size, \
                 internal_date = excluded.internal_date, sha256 = excluded.sha256, \
                 updated_at = excluded.updated_at \
                 WHERE uid_map.state = 'intent'",
            )
            .bind(user_id)
            .bind(&intent.source_folder)
            .bind(i64::from(intent.source_uidvalidity))
            .bind(i64::from(intent.source_uid))
            .bind(&intent.target_folder)
            .bind(intent.target_uidvalidity.map(i64::from))
            .bind(intent.target_uidnext.map(i64::from))
            .bind(size)
            .bind(intent.internal_date)
            .bind(intent.sha256.as_ref().map(|h| h.as_slice()))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("record copy intent", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::db("record copy intents", e))
    }

    async fn record_copies_done(
        &self,
        user_id: &str,
        done: &[CopyDone],
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        if done.is_empty() && fence.is_none() {
            return Ok(());
        }
        let mut tx = self.begin("record copies done").await?;
        require_user(&mut tx, user_id).await?;
        check_fence(&mut tx, user_id, fence).await?;
        let now = now_ms();
        // per folder: (messages, bytes) newly done
        let mut added: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for d in done {
            let found: Option<(String, Option<i64>)> = sqlx::query_as(
                "SELECT state, size FROM uid_map WHERE user_id = $1 AND source_folder = $2 \
                 AND source_uidvalidity = $3 AND source_uid = $4",
            )
            .bind(user_id)
            .bind(&d.source_folder)
            .bind(i64::from(d.source_uidvalidity))
            .bind(i64::from(d.source_uid))
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| StoreError::db("read copy intent", e))?;
            let size = match found {
                None => {
                    return Err(StoreError::NotFound {
                        what: "copy intent",
                        name: format!(
                            "{} {}:{}",
                            d.source_folder, d.source_uidvalidity, d.source_uid
                        ),
                    })
                }
                // already done: idempotent, not counted again
                Some((state, _)) if state == "done" => continue,
                Some((_, size)) => size.unwrap_or(0),
            };
            sqlx::query(
                "UPDATE uid_map SET state = 'done', \
                 target_uidvalidity = COALESCE($5, target_uidvalidity), target_uid = $6, \
                 updated_at = $7 \
                 WHERE user_id = $1 AND source_folder = $2 AND source_uidvalidity = $3 \
                 AND source_uid = $4",
            )
            .bind(user_id)
            .bind(&d.source_folder)
            .bind(i64::from(d.source_uidvalidity))
            .bind(i64::from(d.source_uid))
            .bind(d.target_uidvalidity.map(i64::from))
            .bind(d.target_uid.map(i64::from))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("record copy done", e))?;
            let entry = added.entry(d.source_folder.as_str()).or_default();
            entry.0 += 1;
            entry.1 += size;
        }
        let (mut messages, mut bytes) = (0i64, 0i64);
        for (folder, (n, b)) in &added {
            sqlx::query(
                "UPDATE folder_states SET messages_synced = messages_synced + $3, \
                 bytes_synced = bytes_synced + $4, updated_at = $5 \
                 WHERE user_id = $1 AND source_folder = $2",
            )
            .bind(user_id)
            .bind(*folder)
            .bind(n)
            .bind(b)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("count copies in folder state", e))?;
            messages += n;
            bytes += b;
        }
        if messages > 0 {
            sqlx::query(
                "UPDATE migration_users SET items_synced = items_synced + $2, \
                 bytes_synced = bytes_synced + $3, updated_at = $4 WHERE id = $1",
            )
            .bind(user_id)
            .bind(messages)
            .bind(bytes)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("count copies of migration user", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::db("record copies done", e))
    }

    async fn drop_intents(
        &self,
        user_id: &str,
        keys: &[(String, u32, u32)],
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        if keys.is_empty() && fence.is_none() {
            return Ok(());
        }
        let mut tx = self.begin("drop copy intents").await?;
        check_fence(&mut tx, user_id, fence).await?;
        for (folder, uidvalidity, uid) in keys {
            sqlx::query(
                "DELETE FROM uid_map WHERE user_id = $1 AND source_folder = $2 \
                 AND source_uidvalidity = $3 AND source_uid = $4 AND state = 'intent'",
            )
            .bind(user_id)
            .bind(folder)
            .bind(i64::from(*uidvalidity))
            .bind(i64::from(*uid))
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("drop copy intent", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::db("drop copy intents", e))
    }

    async fn forget_folder_copies(
        &self,
        user_id: &str,
        source_folder: &str,
        fence: Option<&Lease>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin("forget folder copies").await?;
        require_user(&mut tx, user_id).await?;
        check_fence(&mut tx, user_id, fence).await?;
        let (n, bytes): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), SUM(size) FROM uid_map WHERE user_id = $1 AND source_folder = $2 \
             AND state = 'done'",
        )
        .bind(user_id)
        .bind(source_folder)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::db("count folder copies", e))?;
        let bytes = bytes.unwrap_or(0);
        let now = now_ms();
        sqlx::query("DELETE FROM uid_map WHERE user_id = $1 AND source_folder = $2")
            .bind(user_id)
            .bind(source_folder)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("forget folder copies", e))?;
        sqlx::query(
            "UPDATE folder_states SET messages_synced = 0, bytes_synced = 0, \
             source_uidvalidity = NULL, target_uidvalidity = NULL, highest_modseq = NULL, \
             last_seen_uid = NULL, updated_at = $3 WHERE user_id = $1 AND source_folder = $2",
        )
        .bind(user_id)
        .bind(source_folder)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::db("reset folder state", e))?;
        sqlx::query(
            "UPDATE migration_users SET items_synced = MAX(items_synced - $2, 0), \
             bytes_synced = MAX(bytes_synced - $3, 0), updated_at = $4 WHERE id = $1",
        )
        .bind(user_id)
        .bind(n)
        .bind(bytes)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::db("uncount folder copies", e))?;
        tx.commit().await.map_err(|e| StoreError::db("forget folder copies", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn rename_folder_state(
        &self,
        user_id: &str,
        old_source_folder: &str,
        new_source_folder: &str,
        new_target_folder: &str,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin("rename folder state").await?;
        require_user(&mut tx, user_id).await?;
        check_fence(&mut tx, user_id, fence).await?;
        let now = now_ms();
        // uid_map follows through its ON UPDATE CASCADE foreign key.
        let done = sqlx::query(
            "UPDATE folder_states SET source_folder = $3, target_folder = $4, updated_at = $5 \
             WHERE user_id = $1 AND source_folder = $2",
        )
        .bind(user_id)
        .bind(old_source_folder)
        .bind(new_source_folder)
        .bind(new_target_folder)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::db("rename folder state", e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "folder state", name: old_source_folder.to_owned() });
        }
        sqlx::query("UPDATE uid_map SET target_folder = $3 WHERE user_id = $1 AND source_folder = $2")
            .bind(user_id)
            .bind(new_source_folder)
            .bind(new_target_folder)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("rename folder in UID map", e))?;
        sqlx::query("UPDATE skipped_items SET folder = $3 WHERE user_id = $1 AND folder = $2")
            .bind(user_id)
            .bind(old_source_folder)
            .bind(new_source_folder)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("rename folder in skipped items", e))?;
        tx.commit().await.map_err(|e| StoreError::db("rename folder state", e))
    }

    async fn uid_map(
        &self,
        user_id: &str,
        source_folder: &str,
        source_uidvalidity: u32,
    ) -> Result<Vec<(u32, Option<u32>)>, StoreError> {
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT source_uid, target_uid FROM uid_map INDEXED BY uid_map_done \
             WHERE user_id = $1 AND source_folder = $2 AND source_uidvalidity = $3 \
             AND state = 'done' ORDER BY source_uid",
        )
        .bind(user_id)
        .bind(source_folder)
        .bind(i64::from(source_uidvalidity))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db("read UID map", e))?;
        rows.into_iter()
            .map(|(s, t)| {
                Ok((
                    int("uid map", source_folder, "source_uid", s)?,
                    t.map(|t| int("uid map", source_folder, "target_uid", t))
                        .transpose()?,
                ))
            })
            .collect()
    }

    async fn record_skipped(
        &self,
        user_id: &str,
        item: &SkippedItem,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        let id = new_id()?;
        let size = item.size.map(|s| to_i64(s, "message size")).transpose()?;
        let mut tx = self.begin("record skipped message").await?;
        require_user(&mut tx, user_id).await?;
        check_fence(&mut tx, user_id, fence).await?;
        let now = now_ms();
        let before: Option<String> = sqlx::query_scalar(
            "SELECT kind FROM skipped_items WHERE user_id = $1 AND folder = $2 \
             AND source_uidvalidity = $3 AND uid = $4",
        )
        .bind(user_id)
        .bind(&item.folder)
        .bind(i64::from(item.source_uidvalidity))
        .bind(i64::from(item.uid))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| StoreError::db("read skipped message", e))?;
        match before {
            None => {
                sqlx::query(
                    "INSERT INTO skipped_items (id, user_id, folder, source_uidvalidity, uid, \
                     size, message_date_text, subject, kind, reason, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&id)
                .bind(user_id)
                .bind(&item.folder)
                .bind(i64::from(item.source_uidvalidity))
                .bind(i64::from(item.uid))
                .bind(size)
                .bind(&item.date)
                .bind(&item.subject)
                .bind(item.kind.as_str())
                .bind(&item.reason)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::db("record skipped message", e))?;
                sqlx::query(
                    "UPDATE folder_states SET messages_skipped = messages_skipped + 1, \
                     updated_at = $3 WHERE user_id = $1 AND source_folder = $2",
                )
                .bind(user_id)
                .bind(&item.folder)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::db("count skipped message in folder state", e))?;
                let column = skipped_column(item.kind);
                sqlx::query(&format!(
                    "UPDATE migration_users SET {column} = {column} + 1, updated_at = $2 \
                     WHERE id = $1"
                ))
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::db("count skipped message of migration user", e))?;
            }
            Some(old) => {
                let old: SkipKind = old.parse().map_err(|e: String| {
                    StoreError::corrupt(format!("skipped item of {user_id:?}, column kind: {e}"))
                })?;
                sqlx::query(
                    "UPDATE skipped_items SET size = $5, message_date_text = $6, subject = $7, \
                     kind = $8, reason = $9 \
                     WHERE user_id = $1 AND folder = $2 AND source_uidvalidity = $3 AND uid = $4",
                )
                .bind(user_id)
                .bind(&item.folder)
                .bind(i64::from(item.source_uidvalidity))
                .bind(i64::from(item.uid))
                .bind(size)
                .bind(&item.date)
                .bind(&item.subject)
                .bind(item.kind.as_str())
                .bind(&item.reason)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::db("update skipped message", e))?;
                if old != item.kind {
                    let (from, to) = (skipped_column(old), skipped_column(item.kind));
                    sqlx::query(&format!(
                        "UPDATE migration_users SET {from} = {from} - 1, {to} = {to} + 1, \
                         updated_at = $2 WHERE id = $1"
                    ))
                    .bind(user_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::db("recount skipped messages of migration user", e))?;
                }
            }
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::db("record skipped message", e))
    }

    async fn skipped_items(&self, user_id: &str) -> Result<Vec<SkippedItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, folder, source_uidvalidity, uid, size, message_date_text, subject, kind, \
             reason, created_at FROM skipped_items WHERE user_id = $1 \
             ORDER BY folder, source_uidvalidity, uid",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db("list skipped messages", e))?;
        rows.iter().map(|r| skipped_row(r)?.into_record()).collect()
    }

    async fn set_next_sync(
        &self,
        user_id: &str,
        at: Option<DateTime<Utc>>,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin("set next sync time").await?;
        check_fence(&mut tx, user_id, fence).await?;
        let done = sqlx::query(
            "UPDATE migration_users SET next_sync_at = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(user_id)
        .bind(at.map(|t| t.timestamp_millis()))
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::db("set next sync time", e))?;
        if done.rows_affected() == 0 {
            return Err(user_not_found(user_id));
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::db("set next sync time", e))
    }

    async fn users_due_for_sync(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<UserRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{USER_SELECT} WHERE u.status = $1 AND u.next_sync_at <= $2 \
             AND b.started = $3 AND b.removing = $4 AND b.complete_requested_at IS NULL \
             ORDER BY u.next_sync_at, (u.csv_line IS NULL), u.csv_line, u.id LIMIT $5"
        ))
        .bind(UserStatus::Synced.as_str())
        .bind(now.timestamp_millis())
        .bind(true)
        .bind(false)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db("list users due for a sync", e))?;
        rows.iter().map(|r| user_row(r)?.into_record()).collect()
    }

    async fn claim_users(
        &self,
        req: &ClaimRequest,
    ) -> Result<Vec<(UserRecord, Lease)>, StoreError> {
        let ttl = ttl_ms(req.ttl)?;
        if req.max == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.begin("claim migration users").await?;
        let now = now_ms();
        let expires = now + ttl;
        let batch_id: Option<String> = match &req.batch {
            None => None,
            Some(name) => Some(
                sqlx::query_scalar("SELECT id FROM batches WHERE lower(name) = lower($1)")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| StoreError::db("look up batch", e))?
                    .ok_or_else(|| StoreError::NotFound {
                        what: "batch",
                        name: name.clone(),
                    })?,
            ),
        };

        // what every endpoint allows, and what the live leases use of it
        let limits: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT id, max_concurrent_migrations, max_concurrent_incremental FROM endpoints",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| StoreError::db("read endpoint limits", e))?;
        let mut load: HashMap<String, EndpointLoad> = limits
            .into_iter()
            .map(|(id, m, i)| {
                let l = EndpointLoad {
                    max_migrations: m,
                    max_incremental: i,
                    ..EndpointLoad::default()
                };
                (id, l)
            })
            .collect();
        let live: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT b.source_endpoint_id, b.target_endpoint_id, u.was_synced \
             FROM migration_users u JOIN batches b ON b.id = u.batch_id \
             WHERE u.lease_owner IS NOT NULL AND u.lease_expires_at > $1",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| StoreError::db("count live leases", e))?;
        for (source, target, was_synced) in &live {
            for e in batch_endpoints(source, target) {
                let l = load.entry(e.to_owned()).or_default();
                l.migrations += 1;
                l.incremental += i64::from(*was_synced);
            }
        }

        // The candidates come in streams, one per batch and `was_synced`:
        // within a stream every user needs the same room of the same
        // endpoints, so once one does not fit, none of the rest does (a
        // claim only adds load). Each stream yields at most `max` users,
        // in claim order; the streams are merged by that order.
        let mut sql = String::from(
            "SELECT id, source_endpoint_id, target_endpoint_id FROM batches \
             WHERE started = $1 AND removing = $2",
        );
        if batch_id.is_some() {
            sql.push_str(" AND id = $3");
        }
        let mut query = sqlx::query_as::<_, (String, String, String)>(&sql)
            .bind(true)
            .bind(false);
        if let Some(id) = &batch_id {
            query = query.bind(id);
        }
        let batches = query
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| StoreError::db("list started batches", e))?;
        let max = i64::try_from(req.max).unwrap_or(i64::MAX);
        let mut streams: Vec<ClaimStream> = Vec::new();
        for (batch, source, target) in batches {
            for was_synced in [false, true] {
                let fits = batch_endpoints(&source, &target)
                    .iter()
                    .all(|e| load.get(*e).is_some_and(|l| l.has_room(was_synced)));
                if !fits {
                    continue;
                }
                let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT id, status, updated_at, csv_line FROM migration_users \
                     WHERE batch_id = $1 AND was_synced = $2 AND status IN ($3, $4, $7, $8, $9) \
                     AND (lease_owner IS NULL OR lease_expires_at IS NULL \
                     OR lease_expires_at <= $5) \
                     ORDER BY CASE WHEN status = $4 THEN 0 ELSE 1 END, updated_at, \
                     (csv_line IS NULL), csv_line, id LIMIT $6",
                )
                .bind(&batch)
                .bind(was_synced)
                .bind(UserStatus::Queued.as_str())
                .bind(UserStatus::Completing.as_str())
                .bind(now)
                .bind(max)
                // A sync whose worker was lost (its lease expired or was
                // released) is resumed; a stop it was asked for is settled.
                .bind(UserStatus::Syncing.as_str())
                .bind(UserStatus::IncrementalSyncing.as_str())
                .bind(UserStatus::Stopping.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| StoreError::db("list claimable migration users", e))?;
                let mut queue: Vec<ClaimKey> = rows
                    .into_iter()
                    .map(|(id, status, updated_at, csv_line)| ClaimKey {
                        completing_last: status != UserStatus::Completing.as_str(),
                        updated_at,
                        no_csv_line: csv_line.is_none(),
                        csv_line: csv_line.unwrap_or(0),
                        id,
                    })
                    .collect();
                queue.reverse(); // popped from the end
                if !queue.is_empty() {
                    streams.push(ClaimStream {
                        source: source.clone(),
                        target: target.clone(),
                        was_synced,
                        queue,
                    });
                }
            }
        }
        let chosen = choose_claims(streams, &mut load, req.max);

        let mut claimed = Vec::with_capacity(chosen.len());
        for user_id in chosen {
            let done = sqlx::query(
                "UPDATE migration_users SET lease_owner = $2, lease_token = lease_token + 1, \
                 lease_expires_at = $3 \
                 WHERE id = $1 AND (lease_owner IS NULL OR lease_expires_at IS NULL \
                 OR lease_expires_at <= $4)",
            )
            .bind(&user_id)
            .bind(&req.worker)
            .bind(expires)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db("claim migration user", e))?;
            if done.rows_affected() == 0 {
                continue; // cannot happen under BEGIN IMMEDIATE
            }
            let token: i64 =
                sqlx::query_scalar("SELECT lease_token FROM migration_users WHERE id = $1")
                    .bind(&user_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| StoreError::db("read lease token", e))?;
            let user = user_by_id(&mut tx, &user_id).await?;
            let lease = Lease {
                token: int("migration user", &user_id, "lease_token", token)?,
                owner: req.worker.clone(),
                expires_at: from_ms(expires, "migration_users.lease_expires_at")?,
                user_id,
            };
            claimed.push((user, lease));
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::db("claim migration users", e))?;
        Ok(claimed)
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StoreError> {
        let ttl = ttl_ms(ttl)?;
        let Ok(token) = i64::try_from(lease.token) else {
            return Err(lease_lost(&lease.user_id));
        };
        let expires = now_ms() + ttl;
        let done = sqlx::query(
            "UPDATE migration_users SET lease_expires_at = $4 \
             WHERE id = $1 AND lease_owner = $2 AND lease_token = $3",
        )
        .bind(&lease.user_id)
        .bind(&lease.owner)
        .bind(token)
        .bind(expires)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::db("renew lease", e))?;
        if done.rows_affected() == 0 {
            return Err(lease_lost(&lease.user_id));
        }
        Ok(Lease {
            expires_at: from_ms(expires, "migration_users.lease_expires_at")?,
            ..lease.clone()
        })
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        let Ok(token) = i64::try_from(lease.token) else {
            return Ok(()); // no stored token is that large: not held
        };
        sqlx::query(
            "UPDATE migration_users SET lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $1 AND lease_owner = $2 AND lease_token = $3",
        )
        .bind(&lease.user_id)
        .bind(&lease.owner)
        .bind(token)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::db("release lease", e))?;
        Ok(())
    }

    async fn leases(&self) -> Result<Vec<LeaseInfo>, StoreError> {
        let rows: Vec<(String, String, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT u.id, u.email, b.id, b.name, u.lease_owner, u.lease_token, u.lease_expires_at \
             FROM migration_users u JOIN batches b ON b.id = u.batch_id \
             WHERE u.lease_owner IS NOT NULL AND u.lease_expires_at > $1 \
             ORDER BY u.lease_owner, lower(b.name), b.name, lower(u.email), u.id",
        )
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db("list leases", e))?;
        rows.into_iter()
            .map(|(user_id, email, batch_id, batch, owner, token, expires)| {
                Ok(LeaseInfo {
                    batch: mailferry_core::Name::parse(&batch).map_err(|e| {
                        StoreError::corrupt(format!("batch {batch_id:?}, column name: {e}"))
                    })?,
                    token: int("migration user", &user_id, "lease_token", token)?,
                    expires_at: from_ms(expires, "migration_users.lease_expires_at")?,
                    user_id,
                    email,
                    owner,
                })
            })
            .collect()
    }

    async fn try_lead(&self, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let ttl = ttl_ms(ttl)?;
        let now = now_ms();
        let led: Option<String> = sqlx::query_scalar(TRY_LEAD)
            .bind(holder)
            .bind(now)
            .bind(now + ttl)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::db("take or renew the lead", e))?;
        Ok(led.is_some())
    }

    async fn heartbeat_worker(&self, worker: &WorkerInfo) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO workers (id, host, pid, version, started_at, heartbeat_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, \
             version = excluded.version, heartbeat_at = excluded.heartbeat_at",
        )
        .bind(&worker.id)
        .bind(&worker.host)
        .bind(worker.pid.map(i64::from))
        .bind(&worker.version)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::db("record worker heartbeat", e))?;
        Ok(())
    }

    async fn workers(&self) -> Result<Vec<WorkerRecord>, StoreError> {
        type Row = (String, String, Option<i64>, Option<String>, i64, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT w.id, w.host, w.pid, w.version, w.started_at, w.heartbeat_at, \
             (SELECT COUNT(*) FROM migration_users u \
              WHERE u.lease_owner = w.id AND u.lease_expires_at > $1) AS leases \
             FROM workers w ORDER BY w.id",
        )
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db("list workers", e))?;
        rows.into_iter()
            .map(
                |(id, host, pid, version, started_at, heartbeat_at, leases)| {
                    Ok(WorkerRecord {
                        pid: pid.map(|p| int("worker", &id, "pid", p)).transpose()?,
                        started_at: from_ms(started_at, "workers.started_at")?,
                        heartbeat_at: from_ms(heartbeat_at, "workers.heartbeat_at")?,
                        leases: int("worker", &id, "leases", leases)?,
                        id,
                        host,
                        version,
                    })
                },
            )
            .collect()
    }

    async fn forget_workers(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM workers WHERE heartbeat_at < $1")
            .bind(before.timestamp_millis())
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db("forget workers", e))?;
        Ok(done.rows_affected())
    }

    async fn create_token(&self, name: &str, token_hash: &[u8; 32]) -> Result<TokenRecord, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(StoreError::Unsupported("a token name is 1 to 64 characters".into()));
        }
        let id = new_id()?;
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO api_tokens (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(name)
        .bind(&token_hash[..])
        .bind(now)
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::AlreadyExists { what: "token", name: name.to_owned() })
            }
            Err(e) => return Err(StoreError::db("create token", e)),
        }
        Ok(TokenRecord { id, name: name.to_owned(), created_at: from_ms(now, "api_tokens.created_at")?, last_used_at: None, revoked_at: None })
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<(String, String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db("list tokens", e))?;
        rows.into_iter().map(token_row).collect()
    }

    async fn revoke_token(&self, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE lower(name) = lower($1) AND revoked_at IS NULL",
        )
        .bind(name)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::db("revoke token", e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "token", name: name.to_owned() });
        }
        Ok(())
    }

    async fn token_by_hash(&self, token_hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        let row: Option<(String, String, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(&token_hash[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StoreError::db("look up token", e))?;
        let Some(row) = row else { return Ok(None) };
        let now = now_ms();
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(&row.0)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db("record token use", e))?;
        let mut rec = token_row(row)?;
        rec.last_used_at = Some(from_ms(now, "api_tokens.last_used_at")?);
        Ok(Some(rec))
    }

    async fn record_event(&self, event: NewEvent) -> Result<(), StoreError> {
        let at = now_ms();
        let id = new_ordered_id(at)?;
        sqlx::query(
            "INSERT INTO events (id, at, level, kind, message, endpoint_id, batch_id, user_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $2)",
        )
        .bind(id)
        .bind(at)
        .bind(event.level.as_str())
        .bind(event.kind)
        .bind(event.message)
        .bind(event.endpoint_id)
        .bind(event.batch_id)
        .bind(event.user_id)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::db("record event", e))?;
        Ok(())
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        let mut sql = String::from(
            "SELECT id, at, level, kind, message, endpoint_id, batch_id, user_id FROM events",
        );
        let mut binds: Vec<&str> = Vec::new();
        for (column, value) in [
            ("endpoint_id", &filter.endpoint_id),
            ("batch_id", &filter.batch_id),
            ("user_id", &filter.user_id),
        ] {
            if let Some(value) = value {
                binds.push(value);
                sql.push_str(if binds.len() == 1 { " WHERE " } else { " AND " });
                sql.push_str(&format!("{column} = ${}", binds.len()));
            }
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", binds.len() + 1));
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = query.bind(value);
        }
        let rows = query
            .bind(filter.effective_limit())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| StoreError::db("list events", e))?;
        rows.iter().map(|r| event_row(r)?.into_record()).collect()
    }
}

async fn batch_names_using(
    conn: &mut sqlx::SqliteConnection,
    endpoint_id: &str,
) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT name FROM batches WHERE source_endpoint_id = $1 OR target_endpoint_id = $1 \
         ORDER BY lower(name), name",
    )
    .bind(endpoint_id)
    .fetch_all(conn)
    .await
    .map_err(|e| StoreError::db("list batches using an endpoint", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert_eq!(
            parse_sqlite_url("sqlite:///var/lib/m.db").unwrap(),
            PathBuf::from("/var/lib/m.db")
        );
        assert_eq!(
            parse_sqlite_url("sqlite://data/m.db").unwrap(),
            PathBuf::from("data/m.db")
        );
        assert_eq!(
            parse_sqlite_url("sqlite:m.db").unwrap(),
            PathBuf::from("m.db")
        );
        assert!(parse_sqlite_url("sqlite::memory:").is_err());
        assert!(parse_sqlite_url("sqlite://").is_err());
        assert!(parse_sqlite_url("sqlite://x.db?mode=ro").is_err());
        let err = parse_sqlite_url("postgres://u:hunter2@h/db").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }
}

