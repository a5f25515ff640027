//! Leases (besides claiming them), workers and leadership in PostgreSQL:
//! each one statement.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::common::{lease_lost, ttl_ms, TRY_LEAD};
use crate::error::StoreError;
use crate::model::{Lease, LeaseInfo, WorkerInfo, WorkerRecord};
use crate::rows::int;
use crate::util::{from_ms, now_ms};

use super::PgStore;

pub(super) async fn renew_lease(
    store: &PgStore,
    lease: &Lease,
    ttl: Duration,
) -> Result<Lease, StoreError> {
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
    .execute(&store.pool)
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

pub(super) async fn release_lease(store: &PgStore, lease: &Lease) -> Result<(), StoreError> {
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
    .execute(&store.pool)
    .await
    .map_err(|e| StoreError::db("release lease", e))?;
    Ok(())
}

pub(super) async fn leases(store: &PgStore) -> Result<Vec<LeaseInfo>, StoreError> {
    let rows: Vec<(String, String, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT u.id, u.email, b.id, b.name, u.lease_owner, u.lease_token, u.lease_expires_at \
         FROM migration_users u JOIN batches b ON b.id = u.batch_id \
         WHERE u.lease_owner IS NOT NULL AND u.lease_expires_at > $1 \
         ORDER BY u.lease_owner, lower(b.name), b.name, lower(u.email), u.id",
    )
    .bind(now_ms())
    .fetch_all(&store.pool)
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

pub(super) async fn try_lead(
    store: &PgStore,
    holder: &str,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let ttl = ttl_ms(ttl)?;
    let now = now_ms();
    let led: Option<String> = sqlx::query_scalar(TRY_LEAD)
        .bind(holder)
        .bind(now)
        .bind(now + ttl)
        .fetch_optional(&store.pool)
        .await
        .map_err(|e| StoreError::db("take or renew the lead", e))?;
    Ok(led.is_some())
}

pub(super) async fn heartbeat_worker(
    store: &PgStore,
    worker: &WorkerInfo,
) -> Result<(), StoreError> {
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
    .execute(&store.pool)
    .await
    .map_err(|e| StoreError::db("record worker heartbeat", e))?;
    Ok(())
}

pub(super) async fn workers(store: &PgStore) -> Result<Vec<WorkerRecord>, StoreError> {
    type Row = (String, String, Option<i64>, Option<String>, i64, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT w.id, w.host, w.pid, w.version, w.started_at, w.heartbeat_at, \
         (SELECT COUNT(*) FROM migration_users u \
          WHERE u.lease_owner = w.id AND u.lease_expires_at > $1) AS leases \
         FROM workers w ORDER BY w.id",
    )
    .bind(now_ms())
    .fetch_all(&store.pool)
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

pub(super) async fn forget_workers(
    store: &PgStore,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM workers WHERE heartbeat_at < $1")
        .bind(before.timestamp_millis())
        .execute(&store.pool)
        .await
        .map_err(|e| StoreError::db("forget workers", e))?;
    Ok(done.rows_affected())
}
