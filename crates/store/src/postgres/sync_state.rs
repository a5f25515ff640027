//! Folder states, the UID map and skipped items in PostgreSQL. A batch of
//! rows (intents, copies done, dropped intents) goes in as arrays and is
//! written by one statement, its counters moved by the same or the next
//! one, in the transaction that checked the fence.

use std::collections::HashSet;

use crate::common::{skipped_column, user_not_found, FOLDER_COLUMNS, INTENT_COLUMNS};
use crate::error::{is_foreign_key_violation, StoreError};
use crate::model::{CopyDone, CopyIntent, FolderState, Lease, SkipKind, SkippedItem};
use crate::rows::int;
use crate::util::{new_id, now_ms, to_i64};

use super::{check_fence, folder_state_row, intent_row, lock_user, skipped_row, PgStore};

pub(super) async fn folder_states(
    store: &PgStore,
    user_id: &str,
) -> Result<Vec<FolderState>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {FOLDER_COLUMNS} FROM folder_states WHERE user_id = $1 ORDER BY source_folder"
    ))
    .bind(user_id)
    .fetch_all(&store.pool)
    .await
    .map_err(|e| StoreError::db("list folder states", e))?;
    rows.iter()
        .map(|r| folder_state_row(r)?.into_record())
        .collect()
}

pub(super) async fn upsert_folder_state(
    store: &PgStore,
    state: &FolderState,
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    let highest_modseq = state
        .highest_modseq
        .map(|m| to_i64(m, "HIGHESTMODSEQ"))
        .transpose()?;
    let messages_source = to_i64(state.messages_source, "messages_source")?;
    let mut tx = store.begin("save folder state").await?;
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

pub(super) async fn copied_uids(
    store: &PgStore,
    user_id: &str,
    source_folder: &str,
    source_uidvalidity: u32,
) -> Result<Vec<u32>, StoreError> {
    // An index-only scan of uid_map_done, in UID order; the UIDs come back
    // as one array (one row instead of 100k+ through the driver).
    let uids: Vec<i64> = sqlx::query_scalar(
        "SELECT COALESCE(array_agg(source_uid ORDER BY source_uid), '{}') FROM uid_map \
         WHERE user_id = $1 AND source_folder = $2 AND source_uidvalidity = $3 \
         AND state = 'done'",
    )
    .bind(user_id)
    .bind(source_folder)
    .bind(i64::from(source_uidvalidity))
    .fetch_one(&store.pool)
    .await
    .map_err(|e| StoreError::db("list copied UIDs", e))?;
    uids.into_iter()
        .map(|uid| int("uid map", source_folder, "source_uid", uid))
        .collect()
}

pub(super) async fn open_intents(
    store: &PgStore,
    user_id: &str,
    source_folder: &str,
) -> Result<Vec<CopyIntent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {INTENT_COLUMNS} FROM uid_map WHERE user_id = $1 AND source_folder = $2 \
         AND state = 'intent' ORDER BY source_uidvalidity, source_uid"
    ))
    .bind(user_id)
    .bind(source_folder)
    .fetch_all(&store.pool)
    .await
    .map_err(|e| StoreError::db("list open copy intents", e))?;
    rows.iter().map(|r| intent_row(r)?.into_record()).collect()
}

/// The key of a copy in the UID map (besides the user).
type CopyKey<'a> = (&'a str, u32, u32);

pub(super) async fn record_intents(
    store: &PgStore,
    user_id: &str,
    intents: &[CopyIntent],
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    if intents.is_empty() && fence.is_none() {
        return Ok(());
    }
    // One row per key, the last one given (as if written one after another;
    // one INSERT … ON CONFLICT cannot touch a row twice).
    let mut seen: HashSet<CopyKey> = HashSet::new();
    let mut rows: Vec<&CopyIntent> = intents
        .iter()
        .rev()
        .filter(|i| seen.insert((&i.source_folder, i.source_uidvalidity, i.source_uid)))
        .collect();
    rows.reverse();
    // The folders without a state get one, from their first intent.
    let mut folders: HashSet<&str> = HashSet::new();
    let new_folders: Vec<&CopyIntent> = intents
        .iter()
        .filter(|i| folders.insert(&i.source_folder))
        .collect();
    let sizes = rows
        .iter()
        .map(|i| to_i64(i.size, "message size"))
        .collect::<Result<Vec<i64>, StoreError>>()?;

    let mut tx = store.begin("record copy intents").await?;
    lock_user(&mut tx, user_id, fence).await?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO folder_states (user_id, source_folder, target_folder, source_uidvalidity, \
         updated_at) \
         SELECT $1, f.folder, f.target, f.uidvalidity, $5 \
         FROM UNNEST($2::text[], $3::text[], $4::bigint[]) AS f(folder, target, uidvalidity) \
         ON CONFLICT (user_id, source_folder) DO NOTHING",
    )
    .bind(user_id)
    .bind(
        new_folders
            .iter()
            .map(|i| i.source_folder.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        new_folders
            .iter()
            .map(|i| i.target_folder.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        new_folders
            .iter()
            .map(|i| i64::from(i.source_uidvalidity))
            .collect::<Vec<_>>(),
    )
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::db("create folder states", e))?;
    // an open intent is replaced; a copy already done stays as it is
    sqlx::query(
        "INSERT INTO uid_map (user_id, source_folder, source_uidvalidity, source_uid, \
         target_folder, target_uidvalidity, target_uidnext, state, size, internal_date, \
         sha256, updated_at) \
         SELECT $1, i.folder, i.uidvalidity, i.uid, i.target, i.target_uidvalidity, \
         i.target_uidnext, 'intent', i.size, i.internal_date, i.sha256, $11 \
         FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], \
         $7::bigint[], $8::bigint[], $9::bigint[], $10::bytea[]) \
         AS i(folder, uidvalidity, uid, target, target_uidvalidity, target_uidnext, size, \
         internal_date, sha256) \
         ON CONFLICT (user_id, source_folder, source_uidvalidity, source_uid) \
         DO UPDATE SET target_folder = excluded.target_folder, \
         target_uidvalidity = excluded.target_uidvalidity, \
         target_uidnext = excluded.target_uidnext, size = excluded.size, \
         internal_date = excluded.internal_date, sha256 = excluded.sha256, \
         updated_at = excluded.updated_at \
         WHERE uid_map.state = 'intent'",
    )
    .bind(user_id)
    .bind(
        rows.iter()
            .map(|i| i.source_folder.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|i| i64::from(i.source_uidvalidity))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|i| i64::from(i.source_uid))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|i| i.target_folder.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|i| i.target_uidvalidity.map(i64::from))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|i| i.target_uidnext.map(i64::from))
            .collect::<Vec<_>>(),
    )
    .bind(sizes)
    .bind(rows.iter().map(|i| i.internal_date).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|i| i.sha256.map(|h| h.to_vec()))
            .collect::<Vec<_>>(),
    )
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::db("record copy intents", e))?;
    tx.commit()
        .await
        .map_err(|e| StoreError::db("record copy intents", e))
}

pub(super) async fn record_copies_done(
    store: &PgStore,
    user_id: &str,
    done: &[CopyDone],
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    if done.is_empty() && fence.is_none() {
        return Ok(());
    }
    // One row per key, the first one given (a later one would find it done).
    let mut seen: HashSet<CopyKey> = HashSet::new();
    let rows: Vec<&CopyDone> = done
        .iter()
        .filter(|d| seen.insert((&d.source_folder, d.source_uidvalidity, d.source_uid)))
        .collect();
    let folders: Vec<String> = rows.iter().map(|d| d.source_folder.clone()).collect();
    let uidvalidities: Vec<i64> = rows
        .iter()
        .map(|d| i64::from(d.source_uidvalidity))
        .collect();
    let uids: Vec<i64> = rows.iter().map(|d| i64::from(d.source_uid)).collect();

    let mut tx = store.begin("record copies done").await?;
    lock_user(&mut tx, user_id, fence).await?;
    // every key needs its intent (or to be done already)
    let missing: Option<(String, i64, i64)> = sqlx::query_as(
        "SELECT d.folder, d.uidvalidity, d.uid \
         FROM UNNEST($2::text[], $3::bigint[], $4::bigint[]) WITH ORDINALITY \
         AS d(folder, uidvalidity, uid, n) \
         WHERE NOT EXISTS (SELECT 1 FROM uid_map m WHERE m.user_id = $1 \
         AND m.source_folder = d.folder AND m.source_uidvalidity = d.uidvalidity \
         AND m.source_uid = d.uid) \
         ORDER BY d.n LIMIT 1",
    )
    .bind(user_id)
    .bind(&folders)
    .bind(&uidvalidities)
    .bind(&uids)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| StoreError::db("read copy intents", e))?;
    if let Some((folder, uidvalidity, uid)) = missing {
        return Err(StoreError::NotFound {
            what: "copy intent",
            name: format!("{folder} {uidvalidity}:{uid}"),
        });
    }
    // The open intents turn done; what turned (and only that: a key done
    // already is left alone) is added to its folder's and the user's
    // counters, all in one statement.
    sqlx::query(
        "WITH d AS ( \
             SELECT * FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], \
             $6::bigint[]) AS d(folder, uidvalidity, uid, target_uidvalidity, target_uid) \
         ), marked AS ( \
             UPDATE uid_map m SET state = 'done', \
             target_uidvalidity = COALESCE(d.target_uidvalidity, m.target_uidvalidity), \
             target_uid = d.target_uid, updated_at = $7 \
             FROM d WHERE m.user_id = $1 AND m.source_folder = d.folder \
             AND m.source_uidvalidity = d.uidvalidity AND m.source_uid = d.uid \
             AND m.state = 'intent' \
             RETURNING m.source_folder, COALESCE(m.size, 0) AS size \
         ), per_folder AS ( \
             SELECT source_folder, COUNT(*) AS n, SUM(size)::BIGINT AS bytes \
             FROM marked GROUP BY source_folder \
         ), folders AS ( \
             UPDATE folder_states f SET messages_synced = f.messages_synced + p.n, \
             bytes_synced = f.bytes_synced + p.bytes, updated_at = $7 \
             FROM per_folder p WHERE f.user_id = $1 AND f.source_folder = p.source_folder \
         ) \
         UPDATE migration_users u SET items_synced = u.items_synced + t.n, \
         bytes_synced = u.bytes_synced + t.bytes, updated_at = $7 \
         FROM (SELECT SUM(n)::BIGINT AS n, SUM(bytes)::BIGINT AS bytes FROM per_folder) t \
         WHERE u.id = $1 AND t.n > 0",
    )
    .bind(user_id)
    .bind(&folders)
    .bind(&uidvalidities)
    .bind(&uids)
    .bind(
        rows.iter()
            .map(|d| d.target_uidvalidity.map(i64::from))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|d| d.target_uid.map(i64::from))
            .collect::<Vec<_>>(),
    )
    .bind(now_ms())
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::db("record copies done", e))?;
    tx.commit()
        .await
        .map_err(|e| StoreError::db("record copies done", e))
}

pub(super) async fn drop_intents(
    store: &PgStore,
    user_id: &str,
    keys: &[(String, u32, u32)],
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    if keys.is_empty() && fence.is_none() {
        return Ok(());
    }
    let mut tx = store.begin("drop copy intents").await?;
    check_fence(&mut tx, user_id, fence).await?;
    sqlx::query(
        "DELETE FROM uid_map m \
         USING UNNEST($2::text[], $3::bigint[], $4::bigint[]) AS k(folder, uidvalidity, uid) \
         WHERE m.user_id = $1 AND m.source_folder = k.folder \
         AND m.source_uidvalidity = k.uidvalidity AND m.source_uid = k.uid \
         AND m.state = 'intent'",
    )
    .bind(user_id)
    .bind(keys.iter().map(|k| k.0.clone()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| i64::from(k.1)).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| i64::from(k.2)).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::db("drop copy intents", e))?;
    tx.commit()
        .await
        .map_err(|e| StoreError::db("drop copy intents", e))
}

pub(super) async fn forget_folder_copies(
    store: &PgStore,
    user_id: &str,
    source_folder: &str,
    fence: Option<&Lease>,
) -> Result<u64, StoreError> {
    let mut tx = store.begin("forget folder copies").await?;
    lock_user(&mut tx, user_id, fence).await?;
    // what is deleted is exactly what is taken off the counters
    let forgotten: i64 = sqlx::query_scalar(
        "WITH gone AS ( \
             DELETE FROM uid_map WHERE user_id = $1 AND source_folder = $2 \
             RETURNING state, size \
         ), counted AS ( \
             SELECT COUNT(*) FILTER (WHERE state = 'done') AS n, \
             COALESCE(SUM(size) FILTER (WHERE state = 'done'), 0)::BIGINT AS bytes FROM gone \
         ), folder AS ( \
             UPDATE folder_states SET messages_synced = 0, bytes_synced = 0, \
             source_uidvalidity = NULL, target_uidvalidity = NULL, highest_modseq = NULL, \
             last_seen_uid = NULL, updated_at = $3 WHERE user_id = $1 AND source_folder = $2 \
         ), uncounted AS ( \
             UPDATE migration_users u SET items_synced = GREATEST(u.items_synced - c.n, 0), \
             bytes_synced = GREATEST(u.bytes_synced - c.bytes, 0), updated_at = $3 \
             FROM counted c WHERE u.id = $1 \
         ) \
         SELECT n FROM counted",
    )
    .bind(user_id)
    .bind(source_folder)
    .bind(now_ms())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| StoreError::db("forget folder copies", e))?;
    tx.commit()
        .await
        .map_err(|e| StoreError::db("forget folder copies", e))?;
    Ok(u64::try_from(forgotten).unwrap_or(0))
}

pub(super) async fn rename_folder_state(
    store: &PgStore,
    user_id: &str,
    old_source_folder: &str,
    new_source_folder: &str,
    new_target_folder: &str,
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    let mut tx = store.begin("rename folder state").await?;
    lock_user(&mut tx, user_id, fence).await?;
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
        return Err(StoreError::NotFound {
            what: "folder state",
            name: old_source_folder.to_owned(),
        });
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
    tx.commit()
        .await
        .map_err(|e| StoreError::db("rename folder state", e))
}

pub(super) async fn uid_map(
    store: &PgStore,
    user_id: &str,
    source_folder: &str,
    source_uidvalidity: u32,
) -> Result<Vec<(u32, Option<u32>)>, StoreError> {
    let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT source_uid, target_uid FROM uid_map \
         WHERE user_id = $1 AND source_folder = $2 AND source_uidvalidity = $3 \
         AND state = 'done' ORDER BY source_uid",
    )
    .bind(user_id)
    .bind(source_folder)
    .bind(i64::from(source_uidvalidity))
    .fetch_all(&store.pool)
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

pub(super) async fn record_skipped(
    store: &PgStore,
    user_id: &str,
    item: &SkippedItem,
    fence: Option<&Lease>,
) -> Result<(), StoreError> {
    let id = new_id()?;
    let size = item.size.map(|s| to_i64(s, "message size")).transpose()?;
    let mut tx = store.begin("record skipped message").await?;
    lock_user(&mut tx, user_id, fence).await?;
    let now = now_ms();
    // Under the user's row lock nobody else records for this user: read
    // the kind it had (if any), then write and count accordingly.
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
    let before: Option<SkipKind> = before
        .map(|old| {
            old.parse().map_err(|e: String| {
                StoreError::corrupt(format!("skipped item of {user_id:?}, column kind: {e}"))
            })
        })
        .transpose()?;
    sqlx::query(
        "INSERT INTO skipped_items (id, user_id, folder, source_uidvalidity, uid, size, \
         message_date_text, subject, kind, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (user_id, folder, source_uidvalidity, uid) DO UPDATE SET \
         size = excluded.size, message_date_text = excluded.message_date_text, \
         subject = excluded.subject, kind = excluded.kind, reason = excluded.reason",
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
    match before {
        None => {
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
        Some(old) if old != item.kind => {
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
        Some(_) => {}
    }
    tx.commit()
        .await
        .map_err(|e| StoreError::db("record skipped message", e))
}

pub(super) async fn skipped_items(
    store: &PgStore,
    user_id: &str,
) -> Result<Vec<SkippedItem>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, folder, source_uidvalidity, uid, size, message_date_text, subject, kind, \
         reason, created_at FROM skipped_items WHERE user_id = $1 \
         ORDER BY folder, source_uidvalidity, uid",
    )
    .bind(user_id)
    .fetch_all(&store.pool)
    .await
    .map_err(|e| StoreError::db("list skipped messages", e))?;
    rows.iter().map(|r| skipped_row(r)?.into_record()).collect()
}
