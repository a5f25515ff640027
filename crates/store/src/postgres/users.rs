//! Migration users in PostgreSQL: reading them, compare-and-set
//! transitions, counters and the next sync time (fenced writes lock the
//! user's row, see [`super::lock_user`]).

use chrono::{DateTime, Utc};
use mailferry_core::state::UserStatus;
use mailferry_core::Secret;

use crate::common::{
    is_settled, parse_status, source_secret_at, user_not_found, USER_ORDER, USER_SELECT,
};
use crate::error::StoreError;
use crate::model::{Lease, UserCounters, UserFilter, UserRecord};
use crate::util::{now_ms, to_i64};

use super::{check_fence, user_by_id, user_row, PgStore};

pub(super) async fn users(
    store: &PgStore,
    filter: UserFilter,
) -> Result<Vec<UserRecord>, StoreError> {
    if let Some(batch) = &filter.batch {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM batches WHERE lower(name) = lower($1::text COLLATE \"C\")",
        )
        .bind(batch)
        .fetch_optional(&store.pool)
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
        (
            "lower(b.name) = lower(${}::text COLLATE \"C\")",
            filter.batch.as_deref(),
        ),
        ("u.status = ${}", filter.status.map(UserStatus::as_str)),
        (
            "lower(u.email) = lower(${}::text COLLATE \"C\")",
            filter.email.as_deref(),
        ),
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
        .fetch_all(&store.pool)
        .await
        .map_err(|e| StoreError::db("list migration users", e))?;
    rows.iter().map(|r| user_row(r)?.into_record()).collect()
}

pub(super) async fn user(store: &PgStore, id: &str) -> Result<UserRecord, StoreError> {
    let mut conn = store
        .pool
        .acquire()
        .await
        .map_err(|e| StoreError::db("read migration user", e))?;
    user_by_id(&mut conn, id).await
}

pub(super) async fn user_secret(store: &PgStore, id: &str) -> Result<Option<Secret>, StoreError> {
    let row: Option<(Option<Vec<u8>>,)> =
        sqlx::query_as("SELECT source_secret FROM migration_users WHERE id = $1")
            .bind(id)
            .fetch_optional(&store.pool)
            .await
            .map_err(|e| StoreError::db("read migration user secret", e))?;
    match row.ok_or_else(|| user_not_found(id))? {
        (Some(sealed),) => Ok(Some(store.secrets.open(&sealed, source_secret_at(id))?)),
        (None,) => Ok(None),
    }
}

pub(super) async fn transition_user(
    store: &PgStore,
    id: &str,
    from: UserStatus,
    to: UserStatus,
    error: Option<String>,
    fence: Option<&Lease>,
) -> Result<UserRecord, StoreError> {
    let mut sql =
        String::from("UPDATE migration_users SET status = $3, last_error = $4, updated_at = $5");
    if fence.is_some() && is_settled(to) {
        sql.push_str(", lease_owner = NULL, lease_expires_at = NULL");
    }
    if matches!(to, UserStatus::Synced | UserStatus::Completed) {
        sql.push_str(", was_synced = TRUE, last_sync_at = $5");
    }
    if matches!(
        to,
        UserStatus::Syncing | UserStatus::IncrementalSyncing | UserStatus::Completing
    ) {
        sql.push_str(", sync_started_at = $5");
    }
    sql.push_str(" WHERE id = $1 AND status = $2");
    let mut tx = store.begin("change migration user status").await?;
    check_fence(&mut tx, id, fence).await?;
    let done = sqlx::query(&sql)
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(error)
        .bind(now_ms())
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
        return Err(StoreError::StateChanged {
            expected: from,
            actual: parse_status(id, &actual)?,
        });
    }
    let user = user_by_id(&mut tx, id).await?;
    tx.commit()
        .await
        .map_err(|e| StoreError::db("change migration user status", e))?;
    Ok(user)
}

pub(super) async fn set_user_counters(
    store: &PgStore,
    id: &str,
    c: UserCounters,
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    let mut tx = store.begin("set migration user counters").await?;
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

pub(super) async fn set_next_sync(
    store: &PgStore,
    user_id: &str,
    at: Option<DateTime<Utc>>,
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    let mut tx = store.begin("set next sync time").await?;
    check_fence(&mut tx, user_id, fence).await?;
    let done =
        sqlx::query("UPDATE migration_users SET next_sync_at = $2, updated_at = $3 WHERE id = $1")
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

pub(super) async fn users_due_for_sync(
    store: &PgStore,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<UserRecord>, StoreError> {
    let rows = sqlx::query(&format!(
        "{USER_SELECT} WHERE u.status = $1 AND u.next_sync_at <= $2 \
         AND b.started AND NOT b.removing AND b.complete_requested_at IS NULL \
         ORDER BY u.next_sync_at, (u.csv_line IS NULL), u.csv_line, u.id LIMIT $3"
    ))
    .bind(UserStatus::Synced.as_str())
    .bind(now.timestamp_millis())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&store.pool)
    .await
    .map_err(|e| StoreError::db("list users due for a sync", e))?;
    rows.iter().map(|r| user_row(r)?.into_record()).collect()
}
