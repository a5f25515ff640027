//! The SQLite store: one database file in the data directory, WAL mode,
//! foreign keys on.
//!
//! The SQL uses `$1`-style placeholders (SQLite reads `$N` as a numbered
//! parameter and sqlx-sqlite binds it by number), so the same statements can
//! serve the PostgreSQL store later.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mailferry_core::{EndpointSettings, Secret};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};

use crate::error::{is_foreign_key_violation, is_unique_violation, StoreError};
use crate::migrate;
use crate::model::{
    BatchRecord, EndpointRecord, EventFilter, EventRecord, NewBatch, NewEndpoint, NewEvent,
};
use crate::rows::{BatchRow, EndpointRow, EventRow};
use crate::secrets::{SealedAt, SecretBox};
use crate::store::Store;
use crate::util::{new_id, new_ordered_id, now_ms};

/// The database file's name inside the data directory.
pub const DB_FILE_NAME: &str = "mailferry.db";

const ENDPOINT_COLUMNS: &str = "id, name, kind, host, port, security, admin_login, \
     (admin_secret IS NOT NULL) AS has_admin_secret, impersonation, master_separator, \
     login_format, max_concurrent_migrations, max_concurrent_incremental, ca_pem, verified, \
     discovered_from, trusted_hosts, test_mailbox, created_at, updated_at";

const BATCH_SELECT: &str = "SELECT b.id, b.name, b.source_endpoint_id, s.name AS source_name, \
     b.target_endpoint_id, t.name AS target_name, b.options, b.started, b.removing, \
     b.created_at, b.updated_at \
     FROM batches b \
     JOIN endpoints s ON s.id = b.source_endpoint_id \
     JOIN endpoints t ON t.id = b.target_endpoint_id";

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

/// Creates `dir` (and missing parents) with mode 0700.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })
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

fn endpoint_row(row: &SqliteRow) -> Result<EndpointRow, StoreError> {
    let get = |e| StoreError::db("read endpoint", e);
    Ok(EndpointRow {
        id: row.try_get("id").map_err(get)?,
        name: row.try_get("name").map_err(get)?,
        kind: row.try_get("kind").map_err(get)?,
        host: row.try_get("host").map_err(get)?,
        port: row.try_get("port").map_err(get)?,
        security: row.try_get("security").map_err(get)?,
        admin_login: row.try_get("admin_login").map_err(get)?,
        has_admin_secret: row.try_get("has_admin_secret").map_err(get)?,
        impersonation: row.try_get("impersonation").map_err(get)?,
        master_separator: row.try_get("master_separator").map_err(get)?,
        login_format: row.try_get("login_format").map_err(get)?,
        max_concurrent_migrations: row.try_get("max_concurrent_migrations").map_err(get)?,
        max_concurrent_incremental: row.try_get("max_concurrent_incremental").map_err(get)?,
        ca_pem: row.try_get("ca_pem").map_err(get)?,
        verified: row.try_get("verified").map_err(get)?,
        discovered_from: row.try_get("discovered_from").map_err(get)?,
        trusted_hosts: row.try_get("trusted_hosts").map_err(get)?,
        test_mailbox: row.try_get("test_mailbox").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
    })
}

fn batch_row(row: &SqliteRow) -> Result<BatchRow, StoreError> {
    let get = |e| StoreError::db("read batch", e);
    Ok(BatchRow {
        id: row.try_get("id").map_err(get)?,
        name: row.try_get("name").map_err(get)?,
        source_endpoint_id: row.try_get("source_endpoint_id").map_err(get)?,
        source_name: row.try_get("source_name").map_err(get)?,
        target_endpoint_id: row.try_get("target_endpoint_id").map_err(get)?,
        target_name: row.try_get("target_name").map_err(get)?,
        options: row.try_get("options").map_err(get)?,
        started: row.try_get("started").map_err(get)?,
        removing: row.try_get("removing").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
    })
}

fn event_row(row: &SqliteRow) -> Result<EventRow, StoreError> {
    let get = |e| StoreError::db("read event", e);
    Ok(EventRow {
        id: row.try_get("id").map_err(get)?,
        at: row.try_get("at").map_err(get)?,
        level: row.try_get("level").map_err(get)?,
        kind: row.try_get("kind").map_err(get)?,
        message: row.try_get("message").map_err(get)?,
        endpoint_id: row.try_get("endpoint_id").map_err(get)?,
        batch_id: row.try_get("batch_id").map_err(get)?,
        user_id: row.try_get("user_id").map_err(get)?,
    })
}

/// The place of an endpoint's sealed administrator secret.
fn admin_secret_at(id: &str) -> SealedAt<'_> {
    SealedAt::new("endpoints", id, "admin_secret")
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
        let options = serde_json::to_string(&new.options_json)
            .map_err(|e| StoreError::Database(format!("encode batch options: {e}")))?;
        let id = new_id()?;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| StoreError::db("create batch", e))?;
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
        tx.commit()
            .await
            .map_err(|e| StoreError::db("create batch", e))?;
        let row = sqlx::query(&format!("{BATCH_SELECT} WHERE b.id = $1"))
            .bind(&id)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::db("read batch", e))?;
        batch_row(&row)?.into_record()
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
        let done = sqlx::query("DELETE FROM batches WHERE lower(name) = lower($1)")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db("remove batch", e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "batch",
                name: name.to_owned(),
            });
        }
        Ok(())
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
