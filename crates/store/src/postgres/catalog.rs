//! Endpoints, batches and the insertion of migration users in PostgreSQL.

use std::collections::{HashMap, HashSet};

use mailferry_core::state::UserStatus;
use mailferry_core::{EndpointSettings, Secret};
use sqlx::PgConnection;

use crate::common::{
    admin_secret_at, batch_updated, conflict, parse_status, prepare_users, PreparedUser,
    BATCH_SELECT, ENDPOINT_COLUMNS,
};
use crate::error::{is_foreign_key_violation, is_unique_violation, StoreError};
use crate::model::{
    BatchRecord, EndpointRecord, NewBatch, NewEndpoint, NewMigrationUser, UserRecord,
};
use crate::util::{new_id, now_ms};

use super::{batch_row, endpoint_id, endpoint_row, users_by_ids, PgStore};

/// The key of the transaction-level advisory lock that serialises the
/// insertion of migration users: an address may be a user of one active
/// batch only, which no unique index can say (it depends on the status),
/// so two transactions inserting the same address must not both pass the
/// check. Adding users is rare and quick; one lock for all is enough.
pub(super) const ADDRESS_LOCK: i64 = 0x6d66_5f61_6464_7273; // "mf_addrs"

pub(super) async fn create_endpoint(
    store: &PgStore,
    new: NewEndpoint,
) -> Result<EndpointRecord, StoreError> {
    let id = new_id()?;
    let sealed = match &new.admin_secret {
        Some(secret) => Some(store.secrets.seal(secret, admin_secret_at(&id))?),
        None => None,
    };
    let s = &new.settings;
    let trusted_hosts = serde_json::to_string(&new.trusted_hosts)
        .map_err(|e| StoreError::Database(format!("encode trusted hosts: {e}")))?;
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
    .bind(now_ms())
    .execute(&store.pool)
    .await;
    match result {
        Ok(_) => store.endpoint_by_id(&id).await,
        Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
            what: "endpoint",
            name: new.name.as_str().to_owned(),
        }),
        Err(e) => Err(StoreError::db("create endpoint", e)),
    }
}

pub(super) async fn endpoint(store: &PgStore, name: &str) -> Result<EndpointRecord, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE lower(name) = lower($1::text COLLATE \"C\")"
    ))
    .bind(name)
    .fetch_optional(&store.pool)
    .await
    .map_err(|e| StoreError::db("read endpoint", e))?
    .ok_or_else(|| StoreError::NotFound {
        what: "endpoint",
        name: name.to_owned(),
    })?;
    endpoint_row(&row)?.into_record()
}

pub(super) async fn endpoints(store: &PgStore) -> Result<Vec<EndpointRecord>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM endpoints ORDER BY lower(name), name"
    ))
    .fetch_all(&store.pool)
    .await
    .map_err(|e| StoreError::db("list endpoints", e))?;
    rows.iter()
        .map(|r| endpoint_row(r)?.into_record())
        .collect()
}

pub(super) async fn update_endpoint(
    store: &PgStore,
    name: &str,
    settings: EndpointSettings,
    admin_secret: Option<Secret>,
    verified: bool,
    test_mailbox: Option<String>,
) -> Result<EndpointRecord, StoreError> {
    let mut tx = store.begin("update endpoint").await?;
    let id = endpoint_id(&mut tx, name, "FOR NO KEY UPDATE").await?;
    let sealed = match &admin_secret {
        Some(secret) => Some(store.secrets.seal(secret, admin_secret_at(&id))?),
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
    store.endpoint_by_id(&id).await
}

pub(super) async fn remove_endpoint(store: &PgStore, name: &str) -> Result<(), StoreError> {
    let mut tx = store.begin("remove endpoint").await?;
    // The row lock waits for (and then blocks) any batch being created
    // on this endpoint: its foreign-key check locks the row too.
    let id = endpoint_id(&mut tx, name, "FOR UPDATE").await?;
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
        // Cannot happen under the row lock, but the foreign key is the
        // last word: report it the same way.
        Err(e) if is_foreign_key_violation(&e) => {
            drop(tx);
            let mut conn = store
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

pub(super) async fn endpoint_secret(
    store: &PgStore,
    name: &str,
) -> Result<Option<Secret>, StoreError> {
    let row: Option<(String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT id, admin_secret FROM endpoints WHERE lower(name) = lower($1::text COLLATE \"C\")",
    )
    .bind(name)
    .fetch_optional(&store.pool)
    .await
    .map_err(|e| StoreError::db("read endpoint secret", e))?;
    let (id, sealed) = row.ok_or_else(|| StoreError::NotFound {
        what: "endpoint",
        name: name.to_owned(),
    })?;
    match sealed {
        Some(sealed) => Ok(Some(store.secrets.open(&sealed, admin_secret_at(&id))?)),
        None => Ok(None),
    }
}

pub(super) async fn create_batch(
    store: &PgStore,
    new: NewBatch,
) -> Result<BatchRecord, StoreError> {
    create_batch_with_users(store, new, Vec::new()).await
}

pub(super) async fn create_batch_with_users(
    store: &PgStore,
    new: NewBatch,
    users: Vec<NewMigrationUser>,
) -> Result<BatchRecord, StoreError> {
    let options = serde_json::to_string(&new.options_json)
        .map_err(|e| StoreError::Database(format!("encode batch options: {e}")))?;
    let id = new_id()?;
    let users = prepare_users(&store.secrets, users)?;
    let mut tx = store.begin("create batch").await?;
    // FOR KEY SHARE: neither endpoint can be removed before this commits
    let source = endpoint_id(&mut tx, &new.source_endpoint, "FOR KEY SHARE").await?;
    let target = endpoint_id(&mut tx, &new.target_endpoint, "FOR KEY SHARE").await?;
    let result = sqlx::query(
        "INSERT INTO batches (id, name, source_endpoint_id, target_endpoint_id, options, \
         started, removing, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, FALSE, FALSE, $6, $6)",
    )
    .bind(&id)
    .bind(new.name.as_str())
    .bind(&source)
    .bind(&target)
    .bind(options)
    .bind(now_ms())
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
    store.batch_by_id(&id).await
}

pub(super) async fn add_users(
    store: &PgStore,
    batch: &str,
    users: Vec<NewMigrationUser>,
) -> Result<Vec<UserRecord>, StoreError> {
    let users = prepare_users(&store.secrets, users)?;
    let mut tx = store.begin("add migration users").await?;
    // FOR SHARE: a concurrent set_batch_removing or remove_batch waits
    // until these users are in (or refused).
    let found: Option<(String, String, bool)> = sqlx::query_as(
        "SELECT id, name, removing FROM batches WHERE lower(name) = lower($1::text COLLATE \"C\") FOR SHARE",
    )
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
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let records = users_by_ids(&mut tx, &ids).await?;
    tx.commit()
        .await
        .map_err(|e| StoreError::db("add migration users", e))?;
    Ok(records)
}

pub(super) async fn batches(store: &PgStore) -> Result<Vec<BatchRecord>, StoreError> {
    let rows = sqlx::query(&format!("{BATCH_SELECT} ORDER BY lower(b.name), b.name"))
        .fetch_all(&store.pool)
        .await
        .map_err(|e| StoreError::db("list batches", e))?;
    rows.iter().map(|r| batch_row(r)?.into_record()).collect()
}

pub(super) async fn set_batch_started(
    store: &PgStore,
    batch: &str,
    started: bool,
) -> Result<(), StoreError> {
    // started_at is set when the flag goes from off to on
    let sql = if started {
        "UPDATE batches SET started_at = CASE WHEN started = $2 THEN started_at ELSE $3 END, \
         started = $2, updated_at = $3 WHERE lower(name) = lower($1::text COLLATE \"C\")"
    } else {
        "UPDATE batches SET started = $2, updated_at = $3 WHERE lower(name) = lower($1::text COLLATE \"C\")"
    };
    let done = sqlx::query(sql)
        .bind(batch)
        .bind(started)
        .bind(now_ms())
        .execute(&store.pool)
        .await
        .map_err(|e| StoreError::db("start or stop batch", e))?;
    batch_updated(done.rows_affected(), batch)
}

pub(super) async fn set_batch_removing(store: &PgStore, batch: &str) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE batches SET removing = TRUE, updated_at = $2 WHERE lower(name) = lower($1::text COLLATE \"C\")",
    )
    .bind(batch)
    .bind(now_ms())
    .execute(&store.pool)
    .await
    .map_err(|e| StoreError::db("mark batch as being removed", e))?;
    batch_updated(done.rows_affected(), batch)
}

pub(super) async fn set_batch_complete_requested(
    store: &PgStore,
    batch: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE batches SET complete_requested_at = COALESCE(complete_requested_at, $2), \
         updated_at = $2 WHERE lower(name) = lower($1::text COLLATE \"C\")",
    )
    .bind(batch)
    .bind(now_ms())
    .execute(&store.pool)
    .await
    .map_err(|e| StoreError::db("request batch completion", e))?;
    batch_updated(done.rows_affected(), batch)
}

pub(super) async fn batch(store: &PgStore, name: &str) -> Result<BatchRecord, StoreError> {
    let row = sqlx::query(&format!(
        "{BATCH_SELECT} WHERE lower(b.name) = lower($1::text COLLATE \"C\")"
    ))
    .bind(name)
    .fetch_optional(&store.pool)
    .await
    .map_err(|e| StoreError::db("read batch", e))?
    .ok_or_else(|| StoreError::NotFound {
        what: "batch",
        name: name.to_owned(),
    })?;
    batch_row(&row)?.into_record()
}

pub(super) async fn remove_batch(store: &PgStore, name: &str) -> Result<(), StoreError> {
    let mut tx = store.begin("remove batch").await?;
    // The batch row, then its users' rows (claims skip locked users, so
    // none of them is leased between the check below and the delete).
    let id: String = sqlx::query_scalar(
        "SELECT id FROM batches WHERE lower(name) = lower($1::text COLLATE \"C\") FOR UPDATE",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| StoreError::db("look up batch", e))?
    .ok_or_else(|| StoreError::NotFound {
        what: "batch",
        name: name.to_owned(),
    })?;
    sqlx::query("SELECT id FROM migration_users WHERE batch_id = $1 ORDER BY id FOR UPDATE")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::db("lock the users of the batch", e))?;
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

pub(super) async fn batch_names_using_endpoint(
    store: &PgStore,
    endpoint: &str,
) -> Result<Vec<String>, StoreError> {
    let mut conn = store
        .pool
        .acquire()
        .await
        .map_err(|e| StoreError::db("list batches", e))?;
    let id = endpoint_id(&mut conn, endpoint, "").await?;
    batch_names_using(&mut conn, &id).await
}

/// Inserts users into a batch after checking that none of their addresses
/// is twice in `users`, already in this batch, or a user of another active
/// batch (one where it is not Completed): one statement checks them all,
/// one inserts them all. Runs inside the caller's transaction, under
/// [`ADDRESS_LOCK`]; on a clash nothing is inserted.
async fn insert_users(
    conn: &mut PgConnection,
    batch_id: &str,
    batch_name: &str,
    users: &[PreparedUser],
) -> Result<(), StoreError> {
    if users.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ADDRESS_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::db("lock the addresses of migration users", e))?;
    // lower(email) folds ASCII only (the column is COLLATE "C", as in
    // SQLite): the keys looked up are folded the same way
    let keys: Vec<String> = users.iter().map(|u| u.email.to_ascii_lowercase()).collect();
    let taken: Vec<(String, String)> = sqlx::query_as(
        "SELECT lower(u.email), b.name FROM migration_users u JOIN batches b ON b.id = u.batch_id \
         WHERE lower(u.email) = ANY($1) AND (u.batch_id = $2 OR u.status <> 'Completed') \
         ORDER BY lower(b.name), b.name",
    )
    .bind(&keys)
    .bind(batch_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| StoreError::db("check addresses against the active batches", e))?;
    let mut taken_by: HashMap<&str, Vec<&str>> = HashMap::new();
    for (email, batch) in &taken {
        taken_by.entry(email).or_default().push(batch);
    }
    let mut clashes: Vec<(String, String)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for (u, key) in users.iter().zip(&keys) {
        if !seen.insert(u.email.to_lowercase()) {
            clashes.push((u.email.clone(), batch_name.to_owned()));
            continue;
        }
        for batch in taken_by.get(key.as_str()).into_iter().flatten() {
            clashes.push((u.email.clone(), (*batch).to_owned()));
        }
    }
    if !clashes.is_empty() {
        return Err(conflict(clashes));
    }
    let column = |f: fn(&PreparedUser) -> String| users.iter().map(f).collect::<Vec<String>>();
    let secrets: Vec<Option<Vec<u8>>> = users.iter().map(|u| u.sealed_secret.clone()).collect();
    let lines: Vec<i64> = users.iter().map(|u| u.csv_line).collect();
    sqlx::query(
        "INSERT INTO migration_users (id, batch_id, email, source_login, source_secret, status, \
         csv_line, created_at, updated_at) \
         SELECT id, $5, email, login, secret, $6, line, $7, $7 \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bytea[], $8::bigint[]) \
         AS n(id, email, login, secret, line)",
    )
    .bind(column(|u| u.id.clone()))
    .bind(column(|u| u.email.clone()))
    .bind(column(|u| u.source_login.clone()))
    .bind(secrets)
    .bind(batch_id)
    .bind(UserStatus::Queued.as_str())
    .bind(now_ms())
    .bind(lines)
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::db("add migration users", e))?;
    Ok(())
}

async fn batch_names_using(
    conn: &mut PgConnection,
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
