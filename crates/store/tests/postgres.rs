//! The store suite against PostgreSQL, plus what only matters there:
//! claimers in separate processes (separate pools), secrets at rest in the
//! server's tables, migrations from processes starting at once.
//!
//! The server is `MAILFERRY_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); every test creates its
//! own database `mf_test_<random>` through the server's `postgres`
//! maintenance database and drops it at the end. Without a server the
//! tests fail, saying how to start one: they are never skipped.

mod suite;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use mailferry_core::Secret;
use mailferry_store::migrate::{latest_version, POSTGRES_MIGRATIONS};
use mailferry_store::secrets::SecretBox;
use mailferry_store::{PgStore, Store, StoreError, UserFilter};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use zeroize::Zeroizing;

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn server_url() -> String {
    std::env::var("MAILFERRY_TEST_PG").unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

fn server_options() -> PgConnectOptions {
    PgConnectOptions::from_str(&server_url())
        .unwrap_or_else(|e| panic!("MAILFERRY_TEST_PG is not a postgres:// URL: {e}"))
}

/// The server's `postgres` database, for CREATE and DROP DATABASE.
async fn maintenance() -> sqlx::PgConnection {
    let options = server_options().database("postgres");
    match options.connect().await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "\n\nThe PostgreSQL tests need a PostgreSQL server, and none answers at {host}:{port} \
             ({e}).\nStart one: `bash scripts/test.sh` starts a throwaway cluster when none runs \
             (apt-get install postgresql; or `pg_ctlcluster <version> main start`), or point \
             MAILFERRY_TEST_PG at a server (postgres://USER[:PASSWORD]@HOST:PORT/postgres) whose \
             user may create databases.\n\n",
            host = options.get_host(),
            port = options.get_port(),
        ),
    }
}

/// A database of its own for one test, dropped when this is dropped.
struct TestDb {
    name: String,
}

impl TestDb {
    async fn create() -> TestDb {
        let mut bytes = [0u8; 8];
        getrandom::getrandom(&mut bytes).unwrap();
        let name = format!("mf_test_{}", hex::encode(bytes));
        let mut conn = maintenance().await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        TestDb { name }
    }

    fn options(&self) -> PgConnectOptions {
        server_options().database(&self.name)
    }

    /// The database's URL (the server's, with this database).
    fn url(&self) -> String {
        let server = server_url();
        let (scheme, rest) = server.split_once("://").unwrap();
        let (authority, query) = match rest.split_once('/') {
            Some((authority, path)) => (
                authority,
                path.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default(),
            ),
            None => (rest, String::new()),
        };
        format!("{scheme}://{authority}/{}{query}", self.name)
    }

    async fn store(&self) -> PgStore {
        PgStore::connect_with(self.options(), SecretBox::generate().unwrap())
            .await
            .unwrap()
    }

    async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(2)
            .connect_with(self.options())
            .await
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async: a runtime of its own, on a thread of its
        // own (the test's runtime may still be running this thread).
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let mut conn = maintenance().await;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await
                })
        })
        .join();
        if !matches!(dropped, Ok(Ok(_))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

async fn fresh() -> (TestDb, Arc<dyn Store>) {
    let db = TestDb::create().await;
    let store = db.store().await;
    (db, Arc::new(store))
}

store_suite!(fresh());

#[tokio::test]
async fn open_migrates_once_and_open_store_reaches_it() {
    let db = TestDb::create().await;
    // several processes starting at once: one migrates, the others wait
    let opened = futures_join_all((0..4).map(|_| {
        let options = db.options();
        async move {
            PgStore::connect_with(options, SecretBox::from_key(Zeroizing::new([7; 32]))).await
        }
    }))
    .await;
    for store in &opened {
        let store = store.as_ref().unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 3);
        assert_eq!(store.backend(), "postgres");
    }
    assert_eq!(latest_version(POSTGRES_MIGRATIONS), 3);
    let pool = db.pool().await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 3);
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
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }

    // open_store with the URL, the key from the data directory
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = mailferry_store::open_store(Some(&db.url()), &data)
        .await
        .unwrap();
    assert_eq!(store.backend(), "postgres");
    store
        .create_endpoint(suite::new_endpoint("src", Some("pw")))
        .await
        .unwrap();
    let again = mailferry_store::open_store(Some(&db.url()), &data)
        .await
        .unwrap();
    assert_eq!(again.endpoint_secret("src").await.unwrap().unwrap().expose(), "pw");
    assert!(data.join(mailferry_store::secrets::KEY_FILE_NAME).exists());

    // a newer schema is refused
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (42, 'from-the-future', 0)")
        .execute(&pool)
        .await
        .unwrap();
    let err = PgStore::connect_with(db.options(), SecretBox::generate().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Migration(_)), "{err:?}");
    assert!(err.to_string().contains("version 42"), "{err}");
    pool.close().await;
}

/// Waits for every future (a tiny `join_all`, to need no extra crate).
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn errors_never_show_the_url_or_its_password() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        // nothing listens on port 1
        "postgres://mf:hunter2-secret@127.0.0.1:1/x",
        "postgresql://mf:hunter2-secret@127.0.0.1:1/x",
        // does not parse
        "postgres://mf:hunter2-secret@127.0.0.1:notaport/x",
    ] {
        let err = mailferry_store::open_store(Some(url), dir.path())
            .await
            .err()
            .unwrap();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains(url), "{text}");
    }
    // a wrong password for a real server: refused, not shown
    let db = TestDb::create().await;
    let options = db.options().password("hunter2-secret");
    if let Err(err) = PgStore::connect_with(options, SecretBox::generate().unwrap()).await {
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{text}");
    } // (a server with trust authentication takes any password)
}

/// Every row of every table of the store's schema, as text.
async fn every_row_as_text(pool: &PgPool) -> Vec<(String, String)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(tables.len() >= 11, "{tables:?}");
    let mut rows = Vec::new();
    for table in tables {
        let texts: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
            .fetch_all(pool)
            .await
            .unwrap();
        rows.extend(texts.into_iter().map(|t| (table.clone(), t)));
    }
    rows
}

#[tokio::test]
async fn the_password_never_reaches_a_table_in_clear() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let password = "Zebra-Quartz-7731-distinctive-pässword";
    let user_password = "Okapi-Lantern-4410-user-sécret";
    let mut ep = suite::new_endpoint("src", Some(password));
    ep.settings.admin_login = Some("admin-login-marker".into());
    store.create_endpoint(ep).await.unwrap();
    let mut changed = suite::settings("h.example");
    changed.admin_login = Some("admin-login-marker".into());
    store
        .update_endpoint("src", changed, Some(Secret::new(format!("{password}-2"))), true, None)
        .await
        .unwrap();
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
            vec![suite::new_user("v@x.example", 3, Some(&format!("{user_password}-2")))],
        )
        .await
        .unwrap();
    let users = store.users(UserFilter::default()).await.unwrap();
    assert_eq!(
        store.user_secret(&users[0].id).await.unwrap().unwrap().expose(),
        user_password
    );
    assert_eq!(
        store.endpoint_secret("src").await.unwrap().unwrap().expose(),
        format!("{password}-2")
    );

    let pool = db.pool().await;
    let rows = every_row_as_text(&pool).await;
    assert!(
        rows.iter().any(|(_, r)| r.contains("admin-login-marker")),
        "the scan does not see the tables' contents"
    );
    // in clear as text, or as the hex a BYTEA column prints
    for secret in [password, user_password] {
        let needles = [
            secret.to_owned(),
            secret[..12].to_owned(),
            hex::encode(secret.as_bytes()),
            hex::encode(&secret.as_bytes()[..12]),
        ];
        for (table, row) in &rows {
            for needle in &needles {
                assert!(
                    !row.to_lowercase().contains(&needle.to_lowercase()),
                    "table {table} holds a password in clear"
                );
            }
        }
    }
    pool.close().await;
    store.close().await;
}

/// Claimers in separate processes: each with its own pool (its own
/// connections), claiming at once, round after round. No user is ever
/// leased twice, and the endpoints' limits hold at every moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claimers_with_separate_pools_never_double_claim_and_respect_limits() {
    let db = TestDb::create().await;
    let admin: Arc<dyn Store> = Arc::new(db.store().await);
    let mut src = suite::new_endpoint("src", None);
    src.settings.max_concurrent_migrations = 6;
    src.settings.max_concurrent_incremental = 2;
    admin.create_endpoint(src).await.unwrap();
    let mut tgt = suite::new_endpoint("tgt", None);
    tgt.settings.max_concurrent_migrations = 50;
    tgt.settings.max_concurrent_incremental = 50;
    admin.create_endpoint(tgt).await.unwrap();
    let mut other = suite::new_endpoint("other", None);
    other.settings.max_concurrent_migrations = 3;
    other.settings.max_concurrent_incremental = 3;
    admin.create_endpoint(other).await.unwrap();
    let a = suite::batch_of(&admin, "a", "src", "tgt", "a", 30, true).await;
    let b = suite::batch_of(&admin, "b", "tgt", "src", "b", 10, true).await;
    suite::batch_of(&admin, "c", "other", "other", "c", 10, true).await;
    for u in a.iter().take(6).chain(b.iter().take(4)) {
        suite::make_was_synced(&admin, &u.id).await;
    }

    // the processes: 6 stores, each with its own pool
    let mut processes: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..6 {
        processes.push(Arc::new(db.store().await));
    }
    let pool = db.pool().await;
    for round in 0..5 {
        let mut tasks = Vec::new();
        for (p, store) in processes.iter().enumerate() {
            for t in 0..3 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    store
                        .claim_users(&suite::claim(&format!("p{p}-t{t}"), None, 2, 60_000))
                        .await
                        .unwrap()
                }));
            }
        }
        let mut claimed = Vec::new();
        for t in tasks {
            claimed.extend(t.await.unwrap());
        }
        let mut ids: Vec<&str> = claimed.iter().map(|(u, _)| u.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), claimed.len(), "round {round}: a user was claimed twice");

        // what the database says: per endpoint, the live leases
        let load: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT e.name::text, COUNT(u.id), COUNT(u.id) FILTER (WHERE u.was_synced) \
             FROM endpoints e \
             LEFT JOIN batches b ON e.id IN (b.source_endpoint_id, b.target_endpoint_id) \
             LEFT JOIN migration_users u ON u.batch_id = b.id AND u.lease_owner IS NOT NULL \
             AND u.lease_expires_at > (extract(epoch FROM now()) * 1000)::bigint \
             GROUP BY e.name ORDER BY e.name",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            load,
            [
                ("other".to_owned(), 3, 0),
                ("src".to_owned(), 6, load[1].2),
                ("tgt".to_owned(), 6, load[2].2),
            ],
            "round {round}"
        );
        assert!(load[1].2 <= 2, "round {round}: {} incremental syncs on src", load[1].2);
        assert_eq!(admin.leases().await.unwrap().len(), 9);

        // everyone lets go; the next round starts from free endpoints
        for (_, lease) in &claimed {
            admin.release_lease(lease).await.unwrap();
        }
    }
    pool.close().await;
}

/// Two processes share one leadership: one leads until its lease ends.
#[tokio::test]
async fn leadership_is_shared_across_processes() {
    let db = TestDb::create().await;
    let one = db.store().await;
    let two = db.store().await;
    assert!(one.try_lead("host-1", Duration::from_secs(1)).await.unwrap());
    assert!(!two.try_lead("host-2", Duration::from_secs(1)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert!(two.try_lead("host-2", Duration::from_secs(60)).await.unwrap());
    assert!(!one.try_lead("host-1", Duration::from_secs(60)).await.unwrap());
}
