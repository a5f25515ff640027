//! Schema migrations: an ordered list of `(version, name, sql)` per dialect,
//! embedded in the binary, applied in order, each in its own transaction,
//! and recorded in `schema_migrations`.
//!
//! The SQLite and PostgreSQL lists must have the same versions and names
//! and equivalent DDL (a unit test checks the first two).

use sqlx::{Connection, PgPool, SqlitePool};

use crate::error::StoreError;
use crate::util::now_ms;

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Migrations for SQLite, oldest first.
pub const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "sync_state",
        sql: include_str!("../migrations/sqlite/0002_sync_state.sql"),
    },
    Migration {
        version: 3,
        name: "leader",
        sql: include_str!("../migrations/sqlite/0003_leader.sql"),
    },
];

/// Migrations for PostgreSQL, oldest first.
pub const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "sync_state",
        sql: include_str!("../migrations/postgres/0002_sync_state.sql"),
    },
    Migration {
        version: 3,
        name: "leader",
        sql: include_str!("../migrations/postgres/0003_leader.sql"),
    },
];

/// The table recording applied migrations (same DDL in both dialects).
pub const SCHEMA_MIGRATIONS_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version     BIGINT  PRIMARY KEY,
    name        TEXT    NOT NULL,
    applied_at  BIGINT  NOT NULL
)";

/// The newest schema version this binary knows.
pub fn latest_version(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |m| m.version)
}

/// Checks the applied migrations against the known ones: refuses a
/// database newer than this binary, or one whose history differs.
fn check_applied(applied: &[(i64, String)], known: &[Migration]) -> Result<(), StoreError> {
    let latest = latest_version(known);
    if let Some((newest, _)) = applied.iter().max_by_key(|(v, _)| *v) {
        if *newest > latest {
            return Err(StoreError::Migration(format!(
                "the database's schema is at version {newest}, but this mailferry knows only up to \
                 version {latest}; it was written by a newer mailferry, so use that version (or newer)"
            )));
        }
    }
    for (version, name) in applied {
        match known.iter().find(|m| m.version == *version) {
            Some(m) if m.name == name => {}
            Some(m) => {
                return Err(StoreError::Migration(format!(
                    "schema migration {version} is recorded as {name:?}, but this mailferry calls it {:?}; \
                     the database was not created by a compatible mailferry",
                    m.name
                )))
            }
            None => {
                return Err(StoreError::Migration(format!(
                    "schema migration {version} ({name:?}) is recorded in the database but unknown to this mailferry"
                )))
            }
        }
    }
    Ok(())
}

/// Brings a SQLite database up to the newest schema. Safe to run from
/// several processes at once: each migration runs under `BEGIN IMMEDIATE`
/// and is skipped if another process applied it meanwhile. Returns the
/// schema version afterwards.
pub(crate) async fn migrate_sqlite(pool: &SqlitePool) -> Result<i64, StoreError> {
    run_sqlite(pool, SQLITE_MIGRATIONS).await
}

pub(crate) async fn run_sqlite(pool: &SqlitePool, known: &[Migration]) -> Result<i64, StoreError> {
    let fail = |what: &str, e: sqlx::Error| {
        StoreError::Migration(format!("{what}: {}", StoreError::db("", e)))
    };
    sqlx::query(SCHEMA_MIGRATIONS_DDL)
        .execute(pool)
        .await
        .map_err(|e| fail("cannot create schema_migrations", e))?;
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, name FROM schema_migrations ORDER BY version")
            .fetch_all(pool)
            .await
            .map_err(|e| fail("cannot read schema_migrations", e))?;
    check_applied(&applied, known)?;

    for m in known {
        if applied.iter().any(|(v, _)| *v == m.version) {
            continue;
        }
        let mut tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| fail("cannot begin a transaction", e))?;
        let done: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| fail("cannot read schema_migrations", e))?;
        if done.is_some() {
            continue; // another process applied it; the transaction rolls back on drop
        }
        // Executor::execute rather than RawSql::execute, whose future is
        // not Send (see apply_postgres)
        sqlx::Executor::execute(&mut *tx, sqlx::raw_sql(m.sql))
            .await
            .map_err(|e| fail(&format!("migration {} ({}) failed", m.version, m.name), e))?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| fail("cannot record a migration", e))?;
        tx.commit().await.map_err(|e| {
            fail(
                &format!("cannot commit migration {} ({})", m.version, m.name),
                e,
            )
        })?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied schema migration"
        );
    }
    Ok(latest_version(known))
}

/// The key of the session-level advisory lock under which a PostgreSQL
/// database is migrated: processes starting at once migrate one after the
/// other (the later ones find nothing left to do).
pub const POSTGRES_MIGRATION_LOCK: i64 = 0x6d66_5f6d_6967_7261; // "mf_migra"

/// Brings a PostgreSQL database up to the newest schema, under
/// [`POSTGRES_MIGRATION_LOCK`]; each migration runs in its own transaction
/// (PostgreSQL's DDL is transactional). Returns the schema version
/// afterwards.
pub(crate) async fn migrate_postgres(pool: &PgPool) -> Result<i64, StoreError> {
    run_postgres(pool, POSTGRES_MIGRATION_LOCK, POSTGRES_MIGRATIONS).await
}

pub(crate) async fn run_postgres(
    pool: &PgPool,
    lock: i64,
    known: &[Migration],
) -> Result<i64, StoreError> {
    let fail = |what: &str, e: sqlx::Error| {
        StoreError::Migration(format!("{what}: {}", StoreError::db("", e)))
    };
    // A connection of its own, closed at the end: the advisory lock is the
    // session's, so it goes with the connection even if a step fails (a
    // pooled connection would keep it).
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| fail("cannot connect", e))?
        .detach();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock)
        .execute(&mut conn)
        .await
        .map_err(|e| fail("cannot take the migration lock", e))?;
    let result = apply_postgres(&mut conn, known).await;
    let _ = conn.close().await;
    result
}

async fn apply_postgres(
    conn: &mut sqlx::PgConnection,
    known: &[Migration],
) -> Result<i64, StoreError> {
    let fail = |what: &str, e: sqlx::Error| {
        StoreError::Migration(format!("{what}: {}", StoreError::db("", e)))
    };
    sqlx::query(SCHEMA_MIGRATIONS_DDL)
        .execute(&mut *conn)
        .await
        .map_err(|e| fail("cannot create schema_migrations", e))?;
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, name FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| fail("cannot read schema_migrations", e))?;
    check_applied(&applied, known)?;
    for m in known {
        if applied.iter().any(|(v, _)| *v == m.version) {
            continue;
        }
        let mut tx = conn
            .begin()
            .await
            .map_err(|e| fail("cannot begin a transaction", e))?;
        // Executor::execute rather than RawSql::execute: the latter's
        // future is not Send (its executor bound is not general enough)
        sqlx::Executor::execute(&mut *tx, sqlx::raw_sql(m.sql))
            .await
            .map_err(|e| fail(&format!("migration {} ({}) failed", m.version, m.name), e))?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| fail("cannot record a migration", e))?;
        tx.commit().await.map_err(|e| {
            fail(
                &format!("cannot commit migration {} ({})", m.version, m.name),
                e,
            )
        })?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied schema migration"
        );
    }
    Ok(latest_version(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_have_the_same_migrations_in_order() {
        assert_eq!(SQLITE_MIGRATIONS.len(), POSTGRES_MIGRATIONS.len());
        for (s, p) in SQLITE_MIGRATIONS.iter().zip(POSTGRES_MIGRATIONS) {
            assert_eq!((s.version, s.name), (p.version, p.name));
        }
        for list in [SQLITE_MIGRATIONS, POSTGRES_MIGRATIONS] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version));
            assert!(list.iter().all(|m| !m.sql.trim().is_empty()));
        }
    }

    /// Every table and column of one dialect exists in the other.
    #[test]
    fn dialects_define_the_same_tables_and_columns() {
        fn shape(sql: &str) -> Vec<String> {
            let mut out = Vec::new();
            let mut table = String::new();
            for line in sql.lines() {
                let line = line.trim();
                if let Some(rest) = line.strip_prefix("ALTER TABLE ") {
                    let mut words = rest.split_whitespace();
                    let t = words.next().unwrap_or("");
                    if let (Some("ADD"), Some("COLUMN"), Some(column)) =
                        (words.next(), words.next(), words.next())
                    {
                        out.push(format!("{t}.{column}"));
                    }
                } else if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
                    table = rest.split_whitespace().next().unwrap_or("").to_owned();
                } else if line.starts_with("CREATE ") && line.contains("INDEX") {
                    out.push(line.split(" ON ").next().unwrap_or("").to_owned());
                } else if !table.is_empty() && !line.starts_with("--") && !line.is_empty() {
                    let word = line.split_whitespace().next().unwrap_or("");
                    if word
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
                        && !word.is_empty()
                    {
                        out.push(format!("{table}.{word}"));
                    }
                }
            }
            out
        }
        for (s, p) in SQLITE_MIGRATIONS.iter().zip(POSTGRES_MIGRATIONS) {
            assert_eq!(shape(s.sql), shape(p.sql));
            assert!(
                !shape(s.sql).is_empty(),
                "migration {} has no DDL",
                s.version
            );
        }
        assert!(shape(SQLITE_MIGRATIONS[0].sql).len() > 100);
        assert_eq!(
            shape(SQLITE_MIGRATIONS[1].sql),
            [
                "uid_map.target_uidnext",
                "skipped_items.message_date_text",
                "CREATE INDEX uid_map_done"
            ]
        );
        // beyond the first line, each later migration is the same text in
        // both dialects unless a type differs
        for (s, p) in SQLITE_MIGRATIONS.iter().zip(POSTGRES_MIGRATIONS).skip(1) {
            let body = |sql: &'static str| -> Vec<&'static str> {
                sql.lines().filter(|l| !l.starts_with("--")).collect()
            };
            assert_eq!(body(s.sql), body(p.sql));
        }
    }

    #[test]
    fn newer_or_foreign_history_is_refused() {
        let known = SQLITE_MIGRATIONS;
        assert!(check_applied(&[], known).is_ok());
        assert!(check_applied(&[(1, "initial".into())], known).is_ok());
        assert!(check_applied(&[(1, "initial".into()), (2, "sync_state".into())], known).is_ok());
        let err =
            check_applied(&[(1, "initial".into()), (999, "future".into())], known).unwrap_err();
        assert!(err.to_string().contains("version 999"), "{err}");
        assert!(err.to_string().contains("newer mailferry"), "{err}");
        assert!(check_applied(&[(1, "other".into())], known).is_err());
    }
}
