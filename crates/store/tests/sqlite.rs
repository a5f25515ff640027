//! The store suite against SQLite, plus what only the SQLite store has:
//! files in the data directory, the key file, the schema version on disk.

mod suite;

use std::path::Path;
use std::sync::Arc;

use mailferry_core::Secret;
use mailferry_store::migrate::{latest_version, SCHEMA_MIGRATIONS_DDL, SQLITE_MIGRATIONS};
use mailferry_store::secrets::{SecretBox, KEY_FILE_NAME};
use mailferry_store::sqlite::DB_FILE_NAME;
use mailferry_store::{SecretError, SqliteStore, Store, StoreError};
use tempfile::TempDir;
use zeroize::Zeroizing;

/// A fresh store in a temporary data directory, with a key given directly
/// (the process environment is left alone).
async fn fresh() -> (TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with(
        &dir.path().join(DB_FILE_NAME),
        SecretBox::generate().unwrap(),
    )
    .await
    .unwrap();
    (dir, Arc::new(store))
}

store_suite!(fresh());

fn key(byte: u8) -> SecretBox {
    SecretBox::from_key(Zeroizing::new([byte; 32]))
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn assert_absent(dir: &Path, needle: &[u8]) -> usize {
    let mut scanned = 0;
    for path in files(dir) {
        // SQLite may remove its -wal/-shm files just after the pool closed
        // (the last connection closes on its own thread): what is gone
        // holds nothing
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        scanned += bytes.len();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} contains the password in clear",
            path.display()
        );
    }
    scanned
}

#[tokio::test]
async fn the_password_never_reaches_a_file_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let password = "Zebra-Quartz-7731-distinctive-pässword";
    let user_password = "Okapi-Lantern-4410-user-sécret";
    let store = SqliteStore::open(&data).await.unwrap();
    let mut ep = suite::new_endpoint("src", Some(password));
    ep.settings.admin_login = Some("admin-login-marker".into());
    store.create_endpoint(ep).await.unwrap();
    let mut changed = suite::settings("h.example");
    changed.admin_login = Some("admin-login-marker".into());
    store
        .update_endpoint(
            "src",
            changed,
            Some(Secret::new(format!("{password}-2"))),
            true,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .endpoint_secret("src")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        format!("{password}-2")
    );

    // a migration user's own source password, from the CSV
    store
        .create_endpoint(suite::new_endpoint("tgt", None))
        .await
        .unwrap();
    store
        .create_batch_with_users(
            suite::new_batch("b", "src", "tgt"),
            vec![suite::new_user("u@x.example", 2, Some(user_password))],
        )
        .await
        .unwrap();
    store
        .add_users(
            "b",
            vec![suite::new_user(
                "v@x.example",
                3,
                Some(&format!("{user_password}-2")),
            )],
        )
        .await
        .unwrap();
    let users = store
        .users(mailferry_store::UserFilter::default())
        .await
        .unwrap();
    assert_eq!(
        store
            .user_secret(&users[0].id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        user_password
    );
    assert_eq!(
        store
            .user_secret(&users[1].id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        format!("{user_password}-2")
    );

    // before the checkpoint (the row is in the WAL) ...
    let scanned = assert_absent(&data, password.as_bytes());
    assert_absent(&data, user_password.as_bytes());
    assert!(scanned > 4096, "scanned only {scanned} bytes");
    // ... and after it, and after close
    store.checkpoint().await.unwrap();
    assert_absent(&data, password.as_bytes());
    assert_absent(&data, user_password.as_bytes());
    // the scan does find what is stored in clear, so it would find the password
    let found = files(&data).iter().any(|p| {
        let b = std::fs::read(p).unwrap();
        b.windows(18).any(|w| w == b"admin-login-marker")
    });
    assert!(found, "the scan does not see the database's contents");
    store.close().await;
    assert_absent(&data, password.as_bytes());
    assert_absent(&data, &password.as_bytes()[..12]);
    assert_absent(&data, user_password.as_bytes());
    assert_absent(&data, &user_password.as_bytes()[..12]);
}

#[tokio::test]
async fn open_creates_a_private_data_dir_and_reopens_idempotently() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested").join("data");
    let store = SqliteStore::open(&data).await.unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join(KEY_FILE_NAME)), 0o600);
    assert_eq!(mode(&data.join(DB_FILE_NAME)), 0o600);
    assert_eq!(store.schema_version().await.unwrap(), 3);
    assert_eq!(latest_version(SQLITE_MIGRATIONS), 3);
    assert_eq!(store.backend(), "sqlite");
    store
        .create_endpoint(suite::new_endpoint("src", Some("pw")))
        .await
        .unwrap();
    store.close().await;

    for _ in 0..2 {
        let again = SqliteStore::open(&data).await.unwrap();
        assert_eq!(again.schema_version().await.unwrap(), 3);
        let rows: i64 = count(&again, "schema_migrations").await;
        assert_eq!(rows, 3);
        assert_eq!(
            again
                .endpoint_secret("src")
                .await
                .unwrap()
                .unwrap()
                .expose(),
            "pw"
        );
        again.close().await;
    }

    // open_url and open_store reach the same database
    let url = format!("sqlite://{}", data.join(DB_FILE_NAME).display());
    let by_url = SqliteStore::open_url(&url, &data).await.unwrap();
    assert_eq!(by_url.endpoints().await.unwrap().len(), 1);
    by_url.close().await;
    let dyn_store = mailferry_store::open_store(None, &data).await.unwrap();
    assert_eq!(
        dyn_store.endpoint("src").await.unwrap().name.as_str(),
        "src"
    );
    // a postgres:// URL goes to the PostgreSQL store (nothing listens on
    // port 1); the error never shows the URL's password
    let err = mailferry_store::open_store(Some("postgres://u:hunter2@127.0.0.1:1/x"), &data)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = mailferry_store::open_store(Some("mysql://u:hunter2@h/x"), &data)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Unsupported(_)));
    assert!(!err.to_string().contains("hunter2"));
}

async fn count(store: &SqliteStore, table: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", store.path().display()))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    let store = SqliteStore::open_with(&path, key(1)).await.unwrap();
    store.close().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (42, 'from-the-future', 0)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = SqliteStore::open_with(&path, key(1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Migration(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("version 42") && msg.contains("newer mailferry"),
        "{msg}"
    );
}

#[tokio::test]
async fn every_table_of_the_schema_exists_and_foreign_keys_are_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    let store = SqliteStore::open_with(&path, key(1)).await.unwrap();
    for table in [
        "endpoints",
        "batches",
        "migration_users",
        "folder_states",
        "uid_map",
        "skipped_items",
        "events",
        "api_tokens",
        "workers",
        "leader",
        "schema_migrations",
    ] {
        count(&store, table).await;
    }
    // ON DELETE CASCADE from batches down to the UID map, through the store's own pool
    store
        .create_endpoint(suite::new_endpoint("src", None))
        .await
        .unwrap();
    let batch = store
        .create_batch(suite::new_batch("b", "src", "src"))
        .await
        .unwrap();
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    for sql in [
        "INSERT INTO migration_users (id, batch_id, email, source_login, created_at, updated_at) VALUES ('u1', $1, 'a@x.example', 'a', 0, 0)",
        "INSERT INTO folder_states (user_id, source_folder, updated_at) VALUES ('u1', 'INBOX', 0)",
        "INSERT INTO uid_map (user_id, source_folder, source_uidvalidity, source_uid, target_folder, state, updated_at) VALUES ('u1', 'INBOX', 7, 1, 'INBOX', 'intent', 0)",
        "INSERT INTO skipped_items (id, user_id, folder, source_uidvalidity, uid, kind, reason, created_at) VALUES ('s1', 'u1', 'INBOX', 7, 2, 'large', 'too big', 0)",
    ] {
        sqlx::query(sql).bind(&batch.id).execute(&pool).await.unwrap();
    }
    // a uid_map row for an unknown folder is refused
    let bad = sqlx::query("INSERT INTO uid_map (user_id, source_folder, source_uidvalidity, source_uid, target_folder, state, updated_at) VALUES ('u1', 'Nope', 7, 1, 'INBOX', 'done', 0)")
        .execute(&pool)
        .await;
    assert!(bad.is_err());
    // a bad status is refused by the CHECK
    let bad = sqlx::query("UPDATE migration_users SET status = 'Bogus' WHERE id = 'u1'")
        .execute(&pool)
        .await;
    assert!(bad.is_err());
    pool.close().await;
    store.remove_batch("b").await.unwrap();
    for table in [
        "migration_users",
        "folder_states",
        "uid_map",
        "skipped_items",
        "batches",
    ] {
        assert_eq!(
            count(&store, table).await,
            0,
            "{table} not emptied by the cascade"
        );
    }
}

#[tokio::test]
async fn another_key_cannot_open_the_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    let store = SqliteStore::open_with(&path, key(1)).await.unwrap();
    store
        .create_endpoint(suite::new_endpoint("src", Some("pw")))
        .await
        .unwrap();
    store.close().await;
    let other = SqliteStore::open_with(&path, key(2)).await.unwrap();
    // everything but the secret still reads
    assert!(other.endpoint("src").await.unwrap().has_admin_secret);
    let err = other.endpoint_secret("src").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Secret(SecretError::KeyMismatch)),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("was MAILFERRY_SECRET_KEY changed?"));
}

#[tokio::test]
async fn a_secret_moved_to_another_row_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    let store = SqliteStore::open_with(&path, key(1)).await.unwrap();
    store
        .create_endpoint(suite::new_endpoint("a", Some("pw-a")))
        .await
        .unwrap();
    store
        .create_endpoint(suite::new_endpoint("b", Some("pw-b")))
        .await
        .unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE endpoints SET admin_secret = (SELECT admin_secret FROM endpoints WHERE name = 'a') WHERE name = 'b'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(
        store.endpoint_secret("a").await.unwrap().unwrap().expose(),
        "pw-a"
    );
    let err = store.endpoint_secret("b").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Secret(SecretError::Tampered { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_corrupt_value_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    let store = SqliteStore::open_with(&path, key(1)).await.unwrap();
    store
        .create_endpoint(suite::new_endpoint("a", None))
        .await
        .unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE endpoints SET login_format = 'static-login', trusted_hosts = '[]'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = store.endpoint("a").await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("login_format"), "{err}");
}

/// A database created at schema version 1 (before the sync-state API) is
/// brought to the newest version on open, keeping its rows.
#[tokio::test]
async fn a_version_1_database_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    std::fs::File::create(&path).unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(SCHEMA_MIGRATIONS_DDL)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(SQLITE_MIGRATIONS[0].sql)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'initial', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for sql in [
        "INSERT INTO endpoints (id, name, kind, host, port, security, impersonation, login_format, \
         max_concurrent_migrations, max_concurrent_incremental, created_at, updated_at) \
         VALUES ('e1', 'src', 'imap', 'h.example', 993, 'tls', 'none', '%EMAIL%', 1, 1, 0, 0)",
        "INSERT INTO batches (id, name, source_endpoint_id, target_endpoint_id, created_at, updated_at) \
         VALUES ('b1', 'old', 'e1', 'e1', 0, 0)",
        "INSERT INTO migration_users (id, batch_id, email, source_login, csv_line, created_at, updated_at) \
         VALUES ('u1', 'b1', 'a@x.example', 'a', 2, 0, 0)",
        "INSERT INTO folder_states (user_id, source_folder, updated_at) VALUES ('u1', 'INBOX', 0)",
        "INSERT INTO uid_map (user_id, source_folder, source_uidvalidity, source_uid, target_folder, \
         state, size, updated_at) VALUES ('u1', 'INBOX', 7, 1, 'INBOX', 'intent', 10, 0)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let store = SqliteStore::open_with(&path, key(1)).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 3);
    let open = store.open_intents("u1", "INBOX").await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].target_uidnext, open[0].size), (None, 10));
    store
        .record_copies_done("u1", &[suite::done("INBOX", 7, 1, Some(3))], None)
        .await
        .unwrap();
    assert_eq!(store.copied_uids("u1", "INBOX", 7).await.unwrap(), [1]);
    assert_eq!(store.user("u1").await.unwrap().bytes_synced, 10);
    let b = store.batch("old").await.unwrap();
    assert_eq!((b.started_at, b.complete_requested_at), (None, None));
}

/// copied_uids answers from the primary key: 100k copied messages (and as
/// many in another folder and another UIDVALIDITY) come back quickly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copied_uids_of_100k_messages_is_fast() {
    let (dir, store) = fresh().await;
    suite::one_user(&store).await;
    let user = suite::all_users(&store).await.remove(0);
    // the rows go in through SQL (recording 300k copies one by one would
    // only measure the inserts)
    store
        .record_intents(
            &user.id,
            &[
                suite::intent("INBOX", 7, 1, 1),
                suite::intent("Other", 7, 1, 1),
            ],
            None,
        )
        .await
        .unwrap();
    let db = dir.path().join(DB_FILE_NAME);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    for (folder, uidvalidity) in [("INBOX", 7), ("INBOX", 8), ("Other", 7)] {
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
             INSERT INTO uid_map (user_id, source_folder, source_uidvalidity, source_uid, \
             target_folder, target_uid, state, size, updated_at) \
             SELECT $1, $2, $3, (i * 7919) % 200000 + 2, 'INBOX', i, 'done', 100, 0 FROM n",
        )
        .bind(&user.id)
        .bind(folder)
        .bind(uidvalidity)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    store
        .record_copies_done(&user.id, &[suite::done("INBOX", 7, 1, Some(1))], None)
        .await
        .unwrap();

    let started = std::time::Instant::now();
    let uids = store.copied_uids(&user.id, "INBOX", 7).await.unwrap();
    let took = started.elapsed();
    assert_eq!(uids.len(), 100_000);
    assert_eq!(uids[0], 1);
    assert!(
        uids.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );
    assert!(
        took < std::time::Duration::from_secs(1),
        "copied_uids took {took:?}"
    );
    eprintln!("copied_uids of 100k rows: {took:?}");
    // the open intent of the other folder is not counted as copied
    assert_eq!(
        store.copied_uids(&user.id, "Other", 7).await.unwrap().len(),
        99_999
    );
}
