//! The event log and API tokens in PostgreSQL.

use crate::common::{token_row, TokenRow};
use crate::error::{is_unique_violation, StoreError};
use crate::model::{EventFilter, EventRecord, NewEvent, TokenRecord};
use crate::util::{from_ms, new_id, new_ordered_id, now_ms};

use super::{event_row, PgStore};

pub(super) async fn record_event(store: &PgStore, event: NewEvent) -> Result<(), StoreError> {
    let at = now_ms();
    let id = new_ordered_id(at)?;
    sqlx::query(
        "INSERT INTO events (id, at, level, kind, message, endpoint_id, batch_id, user_id, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $2)",
    )
    .bind(id)
    .bind(at)
    .bind(event.level.as_str())
    .bind(event.kind)
    .bind(event.message)
    .bind(event.endpoint_id)
    .bind(event.batch_id)
    .bind(event.user_id)
    .execute(&store.pool)
    .await
    .map_err(|e| StoreError::db("record event", e))?;
    Ok(())
}

pub(super) async fn events(
    store: &PgStore,
    filter: EventFilter,
) -> Result<Vec<EventRecord>, StoreError> {
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
        .fetch_all(&store.pool)
        .await
        .map_err(|e| StoreError::db("list events", e))?;
    rows.iter().map(|r| event_row(r)?.into_record()).collect()
}

pub(super) async fn create_token(
    store: &PgStore,
    name: &str,
    token_hash: &[u8; 32],
) -> Result<TokenRecord, StoreError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 {
        return Err(StoreError::Unsupported(
            "a token name is 1 to 64 characters".into(),
        ));
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
    .execute(&store.pool)
    .await;
    match done {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::AlreadyExists {
                what: "token",
                name: name.to_owned(),
            })
        }
        Err(e) => return Err(StoreError::db("create token", e)),
    }
    Ok(TokenRecord {
        id,
        name: name.to_owned(),
        created_at: from_ms(now, "api_tokens.created_at")?,
        last_used_at: None,
        revoked_at: None,
    })
}

pub(super) async fn tokens(store: &PgStore) -> Result<Vec<TokenRecord>, StoreError> {
    let rows: Vec<TokenRow> = sqlx::query_as(
        "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens \
         ORDER BY created_at, id",
    )
    .fetch_all(&store.pool)
    .await
    .map_err(|e| StoreError::db("list tokens", e))?;
    rows.into_iter().map(token_row).collect()
}

pub(super) async fn revoke_token(store: &PgStore, name: &str) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $2 \
         WHERE lower(name) = lower($1::text COLLATE \"C\") AND revoked_at IS NULL",
    )
    .bind(name)
    .bind(now_ms())
    .execute(&store.pool)
    .await
    .map_err(|e| StoreError::db("revoke token", e))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "token",
            name: name.to_owned(),
        });
    }
    Ok(())
}

pub(super) async fn token_by_hash(
    store: &PgStore,
    token_hash: &[u8; 32],
) -> Result<Option<TokenRecord>, StoreError> {
    // one statement: the use is recorded where the token is found
    let row: Option<TokenRow> = sqlx::query_as(
        "UPDATE api_tokens SET last_used_at = $2 \
         WHERE token_hash = $1 AND revoked_at IS NULL \
         RETURNING id, name, created_at, last_used_at, revoked_at",
    )
    .bind(&token_hash[..])
    .bind(now_ms())
    .fetch_optional(&store.pool)
    .await
    .map_err(|e| StoreError::db("look up token", e))?;
    row.map(token_row).transpose()
}
