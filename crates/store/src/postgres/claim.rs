//! [`crate::Store::claim_users`] in PostgreSQL: one short transaction.
//!
//! ## How concurrent claimers are kept within the endpoint limits
//! The limit check reads every live lease on an endpoint and then adds
//! leases; two claimers doing that at once could both see room for the same
//! last slot. So a claim first locks the rows of the endpoints it may count
//! on — those of the started batches it may claim from — with
//! `SELECT … ORDER BY id FOR NO KEY UPDATE`, in id order so that claimers
//! never wait on each other in a cycle. Any claim that could add a lease on
//! an endpoint holds that endpoint's row lock until it commits, so the live
//! leases counted after taking the locks (a new statement, hence a new
//! snapshot at READ COMMITTED) include every lease another claimer added.
//!
//! Row locks rather than advisory locks: they need no key scheme (advisory
//! keys are integers, endpoint ids are text), they are released with the
//! transaction whatever happens, they show in `pg_locks` with the table
//! they belong to, and they also serialise a claim with an `update_endpoint`
//! changing the limits. `NO KEY UPDATE` rather than `UPDATE`: creating a
//! batch on the endpoint (its foreign-key check takes `KEY SHARE`) does not
//! wait for claims.
//!
//! Claims of batches on disjoint endpoints do not wait for each other.
//! The candidate users are then locked with `FOR UPDATE SKIP LOCKED`: a
//! user whose row another transaction holds (a fenced write of its worker,
//! an administrative transition, a batch being removed) is skipped rather
//! than waited for, and can change under no one's feet until the claim
//! commits.

use std::collections::HashMap;

use mailferry_core::state::UserStatus;

use crate::common::{batch_endpoints, choose_claims, ttl_ms, ClaimKey, ClaimStream, EndpointLoad};
use crate::error::StoreError;
use crate::model::{ClaimRequest, Lease, UserRecord};
use crate::rows::int;
use crate::util::{from_ms, now_ms};

use super::{users_by_ids, PgStore};

pub(super) async fn claim_users(
    store: &PgStore,
    req: &ClaimRequest,
) -> Result<Vec<(UserRecord, Lease)>, StoreError> {
    let ttl = ttl_ms(req.ttl)?;
    if req.max == 0 {
        return Ok(Vec::new());
    }
    let max = i64::try_from(req.max).unwrap_or(i64::MAX);
    let mut tx = store.begin("claim migration users").await?;
    let batch_id: Option<String> = match &req.batch {
        None => None,
        Some(name) => Some(
            sqlx::query_scalar(
                "SELECT id FROM batches WHERE lower(name) = lower($1::text COLLATE \"C\")",
            )
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

    // the batches to claim from, and the endpoints they use
    let batches: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, source_endpoint_id, target_endpoint_id FROM batches \
         WHERE started AND NOT removing AND ($1::text IS NULL OR id = $1) ORDER BY id",
    )
    .bind(&batch_id)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| StoreError::db("list started batches", e))?;
    if batches.is_empty() {
        return Ok(Vec::new());
    }
    let mut endpoint_ids: Vec<String> = batches
        .iter()
        .flat_map(|(_, s, t)| [s.clone(), t.clone()])
        .collect();
    endpoint_ids.sort();
    endpoint_ids.dedup();

    // their limits, locked against every other claim on them (module doc)
    let limits: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT id, max_concurrent_migrations, max_concurrent_incremental FROM endpoints \
         WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(&endpoint_ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| StoreError::db("lock endpoint limits", e))?;
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

    // what the live leases use of them (a batch from an endpoint to itself
    // counts once)
    let now = now_ms();
    let expires = now + ttl;
    let used: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT e.id, COUNT(*), COUNT(*) FILTER (WHERE u.was_synced) \
         FROM migration_users u JOIN batches b ON b.id = u.batch_id \
         JOIN endpoints e ON e.id IN (b.source_endpoint_id, b.target_endpoint_id) \
         WHERE u.lease_owner IS NOT NULL AND u.lease_expires_at > $1 AND e.id = ANY($2) \
         GROUP BY e.id",
    )
    .bind(now)
    .bind(&endpoint_ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| StoreError::db("count live leases", e))?;
    for (endpoint, migrations, incremental) in used {
        if let Some(l) = load.get_mut(&endpoint) {
            l.migrations = migrations;
            l.incremental = incremental;
        }
    }

    // The candidates come in streams, one per batch and `was_synced`, each
    // at most `max` users in claim order (those that do not fit from the
    // start are not asked for), locked or skipped if locked elsewhere.
    let mut streams: Vec<(String, bool)> = Vec::new();
    for (batch, source, target) in &batches {
        for was_synced in [false, true] {
            let fits = batch_endpoints(source, target)
                .iter()
                .all(|e| load.get(*e).is_some_and(|l| l.has_room(was_synced)));
            if fits {
                streams.push((batch.clone(), was_synced));
            }
        }
    }
    let rows: Vec<(String, String, bool, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT c.id, c.batch_id, c.was_synced, c.status, c.updated_at, c.csv_line \
         FROM UNNEST($1::text[], $2::boolean[]) AS s(batch_id, was_synced) \
         CROSS JOIN LATERAL ( \
             SELECT u.id, u.batch_id, u.was_synced, u.status, u.updated_at, u.csv_line \
             FROM migration_users u \
             WHERE u.batch_id = s.batch_id AND u.was_synced = s.was_synced \
             AND u.status IN ($3, $4, $5, $6, $7) \
             AND (u.lease_owner IS NULL OR u.lease_expires_at IS NULL \
             OR u.lease_expires_at <= $8) \
             ORDER BY CASE WHEN u.status = $4 THEN 0 ELSE 1 END, u.updated_at, \
             (u.csv_line IS NULL), u.csv_line, u.id \
             LIMIT $9 \
             FOR UPDATE OF u SKIP LOCKED \
         ) c",
    )
    .bind(streams.iter().map(|(b, _)| b.clone()).collect::<Vec<_>>())
    .bind(streams.iter().map(|(_, w)| *w).collect::<Vec<_>>())
    .bind(UserStatus::Queued.as_str())
    .bind(UserStatus::Completing.as_str())
    // A sync whose worker was lost (its lease expired or was released) is
    // resumed; a stop it was asked for is settled.
    .bind(UserStatus::Syncing.as_str())
    .bind(UserStatus::IncrementalSyncing.as_str())
    .bind(UserStatus::Stopping.as_str())
    .bind(now)
    .bind(max)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| StoreError::db("list claimable migration users", e))?;

    let ends: HashMap<&str, (&str, &str)> = batches
        .iter()
        .map(|(b, s, t)| (b.as_str(), (s.as_str(), t.as_str())))
        .collect();
    let mut queues: HashMap<(String, bool), Vec<ClaimKey>> = HashMap::new();
    for (id, batch, was_synced, status, updated_at, csv_line) in rows {
        queues
            .entry((batch, was_synced))
            .or_default()
            .push(ClaimKey {
                completing_last: status != UserStatus::Completing.as_str(),
                updated_at,
                no_csv_line: csv_line.is_none(),
                csv_line: csv_line.unwrap_or(0),
                id,
            });
    }
    let streams: Vec<ClaimStream> = queues
        .into_iter()
        .filter_map(|((batch, was_synced), mut queue)| {
            let (source, target) = ends.get(batch.as_str())?;
            queue.sort();
            queue.reverse(); // popped from the end
            Some(ClaimStream {
                source: (*source).to_owned(),
                target: (*target).to_owned(),
                was_synced,
                queue,
            })
        })
        .collect();
    let chosen = choose_claims(streams, &mut load, req.max);
    if chosen.is_empty() {
        return Ok(Vec::new());
    }

    let tokens: Vec<(String, i64)> = sqlx::query_as(
        "UPDATE migration_users SET lease_owner = $2, lease_token = lease_token + 1, \
         lease_expires_at = $3 WHERE id = ANY($1) RETURNING id, lease_token",
    )
    .bind(&chosen)
    .bind(&req.worker)
    .bind(expires)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| StoreError::db("claim migration users", e))?;
    let tokens: HashMap<String, i64> = tokens.into_iter().collect();
    let users = users_by_ids(&mut tx, &chosen).await?;
    tx.commit()
        .await
        .map_err(|e| StoreError::db("claim migration users", e))?;
    let expires_at = from_ms(expires, "migration_users.lease_expires_at")?;
    users
        .into_iter()
        .map(|user| {
            let token = tokens.get(&user.id).copied().unwrap_or(0);
            let lease = Lease {
                token: int("migration user", &user.id, "lease_token", token)?,
                owner: req.worker.clone(),
                expires_at,
                user_id: user.id.clone(),
            };
            Ok((user, lease))
        })
        .collect()
}
