//! Backend-independent checks of the [`Store`] contract. Every backend's
//! test file calls each `pub async fn` here with a fresh, empty store
//! (`tests/sqlite.rs`, `tests/postgres.rs`).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use mailferry_core::state::UserStatus;
use mailferry_core::{
    EmailAddress, EndpointKind, EndpointSettings, Impersonation, LoginFormat, Name, Secret,
    Security,
};
use mailferry_store::{
    ClaimRequest, CopyDone, CopyIntent, EventFilter, EventLevel, FolderState, Lease, NewBatch,
    NewEndpoint, NewEvent, NewMigrationUser, SkipKind, SkippedItem, Store, StoreError,
    UserCounters, UserFilter, UserRecord, WorkerInfo,
};

pub fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

pub fn settings(host: &str) -> EndpointSettings {
    EndpointSettings {
        kind: EndpointKind::Imap,
        host: host.into(),
        port: 993,
        security: Security::Tls,
        admin_login: Some("admin".into()),
        impersonation: Impersonation::Authzid,
        login_format: LoginFormat::default(),
        max_concurrent_migrations: 20,
        max_concurrent_incremental: 10,
        ca_pem: None,
    }
}

pub fn new_endpoint(n: &str, password: Option<&str>) -> NewEndpoint {
    NewEndpoint {
        name: name(n),
        settings: settings(&format!("imap.{n}.example")),
        admin_secret: password.map(|p| Secret::new(p.into())),
        verified: true,
        discovered_from: None,
        trusted_hosts: vec![],
        test_mailbox: None,
    }
}

pub fn new_batch(n: &str, source: &str, target: &str) -> NewBatch {
    NewBatch {
        name: name(n),
        source_endpoint: source.into(),
        target_endpoint: target.into(),
        options_json: serde_json::json!({}),
    }
}

/// Every setting survives the round trip, in both directions of every enum.
pub async fn endpoint_round_trip_with_every_setting(store: Arc<dyn Store>) {
    let full = NewEndpoint {
        name: name("Exchange-2016.src"),
        settings: EndpointSettings {
            kind: EndpointKind::Imap,
            host: "mail.contoso.example".into(),
            port: 1143,
            security: Security::Starttls,
            admin_login: Some("migration-admin@contoso.example".into()),
            impersonation: Impersonation::MasterUser {
                separator: "%".into(),
            },
            login_format: LoginFormat::parse("%EMAILLOCALPART%@corp.%EMAILDOMAIN%").unwrap(),
            max_concurrent_migrations: 37,
            max_concurrent_incremental: 5,
            ca_pem: Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into()),
        },
        admin_secret: Some(Secret::new("s3cr3t ünïcode pässword".into())),
        verified: false,
        discovered_from: Some(
            "autoconfig:https://autoconfig.contoso.example/mail/config-v1.1.xml".into(),
        ),
        trusted_hosts: vec![
            "outlook.office365.example".into(),
            "imap.other.example".into(),
        ],
        test_mailbox: Some("probe@contoso.example".into()),
    };
    let created = store.create_endpoint(full.clone()).await.unwrap();
    assert_eq!(created.id.len(), 32);
    assert_eq!(created.name, full.name);
    assert_eq!(created.settings, full.settings);
    assert!(created.has_admin_secret);
    assert!(!created.verified);
    assert_eq!(created.discovered_from, full.discovered_from);
    assert_eq!(created.trusted_hosts, full.trusted_hosts);
    assert_eq!(created.test_mailbox, full.test_mailbox);
    assert_eq!(created.created_at, created.updated_at);
    let age = chrono::Utc::now() - created.created_at;
    assert!(age.num_seconds().abs() < 60, "created_at is now: {age}");

    let read = store.endpoint("Exchange-2016.src").await.unwrap();
    assert_eq!(read, created);
    // names are looked up regardless of case
    assert_eq!(store.endpoint("exchange-2016.SRC").await.unwrap(), created);
    assert_eq!(
        store
            .endpoint_secret("Exchange-2016.src")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "s3cr3t ünïcode pässword"
    );

    // the other variants
    for (i, (security, imp, login)) in [
        (Security::Tls, Impersonation::Authzid, Some("a".to_owned())),
        (Security::None, Impersonation::None, None),
        (
            Security::Starttls,
            Impersonation::MasterUser {
                separator: "*".into(),
            },
            Some("b".to_owned()),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = new_endpoint(&format!("variant{i}"), None);
        e.settings.security = security;
        e.settings.impersonation = imp;
        e.settings.admin_login = login;
        e.settings.port = 1 + i as u16 * 32767;
        e.verified = true;
        let rec = store.create_endpoint(e.clone()).await.unwrap();
        assert_eq!(rec.settings, e.settings);
        assert!(!rec.has_admin_secret);
        assert!(rec.verified);
        assert!(store
            .endpoint_secret(&format!("variant{i}"))
            .await
            .unwrap()
            .is_none());
    }
}

/// Listing is ordered by name (regardless of case); ids are distinct.
pub async fn endpoints_are_listed_by_name(store: Arc<dyn Store>) {
    assert!(store.endpoints().await.unwrap().is_empty());
    for n in ["zeta", "Alpha", "beta", "1st"] {
        store
            .create_endpoint(new_endpoint(n, Some("pw")))
            .await
            .unwrap();
    }
    let list = store.endpoints().await.unwrap();
    let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["1st", "Alpha", "beta", "zeta"]);
    let mut ids: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

/// A taken name, in any case, is `AlreadyExists`; the first endpoint is untouched.
pub async fn duplicate_endpoint_name_is_already_exists(store: Arc<dyn Store>) {
    let first = store
        .create_endpoint(new_endpoint("src", Some("one")))
        .await
        .unwrap();
    for dup in ["src", "SRC"] {
        let err = store
            .create_endpoint(new_endpoint(dup, Some("two")))
            .await
            .unwrap_err();
        match &err {
            StoreError::AlreadyExists { what, name } => {
                assert_eq!(*what, "endpoint");
                assert_eq!(name, dup);
            }
            other => panic!("expected AlreadyExists, got {other:?}"),
        }
        assert!(err.to_string().contains("already exists"));
        assert!(!err.to_string().contains("two"));
    }
    assert_eq!(store.endpoint("src").await.unwrap(), first);
    assert_eq!(
        store
            .endpoint_secret("src")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "one"
    );
    assert_eq!(store.endpoints().await.unwrap().len(), 1);
}

pub async fn missing_endpoint_is_not_found(store: Arc<dyn Store>) {
    let is_not_found = |r: StoreError| matches!(r, StoreError::NotFound { what: "endpoint", ref name } if name == "nope");
    assert!(is_not_found(store.endpoint("nope").await.unwrap_err()));
    assert!(is_not_found(
        store.endpoint_secret("nope").await.unwrap_err()
    ));
    assert!(is_not_found(
        store.remove_endpoint("nope").await.unwrap_err()
    ));
    assert!(is_not_found(
        store.batch_names_using_endpoint("nope").await.unwrap_err()
    ));
    assert!(is_not_found(
        store
            .update_endpoint("nope", settings("h.example"), None, true, None)
            .await
            .unwrap_err()
    ));
    let err = store.endpoint("nope").await.unwrap_err();
    assert_eq!(err.to_string(), "endpoint \"nope\" does not exist");
}

/// Update replaces the settings; `None` keeps the secret, `Some` replaces it.
pub async fn update_endpoint_keeps_or_replaces_the_secret(store: Arc<dyn Store>) {
    let before = store
        .create_endpoint(new_endpoint("src", Some("old-pw")))
        .await
        .unwrap();
    let mut s = settings("new-host.example");
    s.port = 143;
    s.security = Security::Starttls;
    s.impersonation = Impersonation::MasterUser {
        separator: "#".into(),
    };
    s.ca_pem = Some("PEM".into());
    let after = store
        .update_endpoint(
            "SRC",
            s.clone(),
            None,
            false,
            Some("probe@x.example".into()),
        )
        .await
        .unwrap();
    assert_eq!(after.test_mailbox.as_deref(), Some("probe@x.example"));
    assert_eq!(after.id, before.id);
    assert_eq!(after.name, before.name);
    assert_eq!(after.settings, s);
    assert!(!after.verified);
    assert!(after.has_admin_secret);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at >= before.updated_at);
    assert_eq!(
        store
            .endpoint_secret("src")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "old-pw"
    );

    let again = store
        .update_endpoint(
            "src",
            s.clone(),
            Some(Secret::new("new-pw".into())),
            true,
            None,
        )
        .await
        .unwrap();
    assert!(again.verified);
    assert_eq!(again.test_mailbox, None);
    assert_eq!(
        store
            .endpoint_secret("src")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "new-pw"
    );
    assert_eq!(store.endpoint("src").await.unwrap(), again);

    // an endpoint without a secret gets one
    store
        .create_endpoint(new_endpoint("tgt", None))
        .await
        .unwrap();
    assert!(store.endpoint_secret("tgt").await.unwrap().is_none());
    let t = store
        .update_endpoint(
            "tgt",
            settings("t.example"),
            Some(Secret::new("t-pw".into())),
            true,
            None,
        )
        .await
        .unwrap();
    assert!(t.has_admin_secret);
    assert_eq!(
        store
            .endpoint_secret("tgt")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "t-pw"
    );
}

/// An endpoint used by a batch cannot be removed; the error names the batches.
pub async fn remove_endpoint_in_use_names_the_batches(store: Arc<dyn Store>) {
    store
        .create_endpoint(new_endpoint("src", Some("a")))
        .await
        .unwrap();
    store
        .create_endpoint(new_endpoint("tgt", Some("b")))
        .await
        .unwrap();
    store
        .create_endpoint(new_endpoint("spare", None))
        .await
        .unwrap();
    let batch = store
        .create_batch(new_batch("wave-2", "src", "TGT"))
        .await
        .unwrap();
    assert_eq!(batch.source_endpoint.as_str(), "src");
    assert_eq!(batch.target_endpoint.as_str(), "tgt");
    assert!(!batch.started && !batch.removing);
    store
        .create_batch(new_batch("Wave-1", "tgt", "src"))
        .await
        .unwrap();

    assert_eq!(
        store.batch_names_using_endpoint("src").await.unwrap(),
        ["Wave-1", "wave-2"]
    );
    assert!(store
        .batch_names_using_endpoint("spare")
        .await
        .unwrap()
        .is_empty());

    for ep in ["src", "tgt"] {
        let err = store.remove_endpoint(ep).await.unwrap_err();
        match &err {
            StoreError::InUse { what, name, by } => {
                assert_eq!(*what, "endpoint");
                assert_eq!(name, ep);
                assert_eq!(by, &["Wave-1", "wave-2"]);
            }
            other => panic!("expected InUse, got {other:?}"),
        }
        assert!(err.to_string().contains("wave-2"), "{err}");
        store.endpoint(ep).await.expect("still there");
    }

    store.remove_batch("wave-2").await.unwrap();
    let err = store.remove_endpoint("src").await.unwrap_err();
    assert!(
        matches!(err, StoreError::InUse { ref by, .. } if by == &["Wave-1"]),
        "{err:?}"
    );
    store.remove_batch("WAVE-1").await.unwrap();
    assert!(matches!(
        store.remove_batch("wave-1").await,
        Err(StoreError::NotFound { what: "batch", .. })
    ));

    store.remove_endpoint("src").await.unwrap();
    store.remove_endpoint("Spare").await.unwrap();
    assert!(matches!(
        store.endpoint("src").await,
        Err(StoreError::NotFound { .. })
    ));
    let names: Vec<String> = store
        .endpoints()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(names, ["tgt"]);
    // the name is free again
    store
        .create_endpoint(new_endpoint("src", None))
        .await
        .unwrap();
}

pub async fn batches_need_existing_endpoints_and_unique_names(store: Arc<dyn Store>) {
    store
        .create_endpoint(new_endpoint("src", None))
        .await
        .unwrap();
    store
        .create_endpoint(new_endpoint("tgt", None))
        .await
        .unwrap();
    let err = store
        .create_batch(new_batch("b", "src", "missing"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "endpoint", ref name } if name == "missing"),
        "{err:?}"
    );
    let mut nb = new_batch("b", "src", "tgt");
    nb.options_json = serde_json::json!({"exclude_folders": ["Junk"], "max_message_size": 1000});
    let b = store.create_batch(nb.clone()).await.unwrap();
    assert_eq!(b.options_json, nb.options_json);
    assert_eq!(store.batch("B").await.unwrap(), b);
    let err = store
        .create_batch(new_batch("B", "tgt", "src"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists { what: "batch", .. }),
        "{err:?}"
    );
    assert!(matches!(
        store.batch("other").await,
        Err(StoreError::NotFound { what: "batch", .. })
    ));
}

/// Events come back newest first, filtered, limited.
pub async fn events_are_logged_and_filtered(store: Arc<dyn Store>) {
    let ep = store
        .create_endpoint(new_endpoint("src", None))
        .await
        .unwrap();
    let other = store
        .create_endpoint(new_endpoint("tgt", None))
        .await
        .unwrap();
    for i in 0..5 {
        store
            .record_event(
                NewEvent::new(EventLevel::Info, "endpoint.tested", format!("test {i}"))
                    .endpoint(&ep.id),
            )
            .await
            .unwrap();
    }
    store
        .record_event(
            NewEvent::new(EventLevel::Error, "user.sync_failed", "boom")
                .endpoint(&other.id)
                .batch("b1")
                .user("u1"),
        )
        .await
        .unwrap();

    let mine = store
        .events(EventFilter {
            endpoint_id: Some(ep.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let messages: Vec<&str> = mine.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["test 4", "test 3", "test 2", "test 1", "test 0"]);
    assert!(mine
        .iter()
        .all(|e| e.level == EventLevel::Info && e.kind == "endpoint.tested"));
    assert!(mine.windows(2).all(|w| w[0].at >= w[1].at));

    let latest2 = store
        .events(EventFilter {
            endpoint_id: Some(ep.id.clone()),
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(latest2.len(), 2);
    assert_eq!(latest2[0].message, "test 4");

    let all = store.events(EventFilter::default()).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].message, "boom");
    let by_batch = store
        .events(EventFilter {
            batch_id: Some("b1".into()),
            user_id: Some("u1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_batch.len(), 1);
    assert_eq!(by_batch[0].level, EventLevel::Error);
    assert_eq!(by_batch[0].endpoint_id.as_deref(), Some(other.id.as_str()));
    let none = store
        .events(EventFilter {
            batch_id: Some("b1".into()),
            user_id: Some("u2".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// Several tasks writing at once all succeed (one writer at a time in SQLite).
pub async fn concurrent_writes_succeed(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_endpoint(new_endpoint(&format!("ep{i:02}"), Some("pw")))
                .await
                .unwrap();
            store
                .record_event(NewEvent::new(EventLevel::Debug, "x", "y"))
                .await
                .unwrap();
            store
                .update_endpoint(
                    &format!("ep{i:02}"),
                    settings("h.example"),
                    None,
                    true,
                    None,
                )
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.endpoints().await.unwrap().len(), 16);
}

pub fn new_user(email: &str, csv_line: u64, password: Option<&str>) -> NewMigrationUser {
    NewMigrationUser {
        email: EmailAddress::parse(email).unwrap(),
        source_login: format!("login-{email}"),
        source_secret: password.map(|p| Secret::new(p.into())),
        csv_line,
    }
}

/// Endpoints `src` and `tgt`, for batches.
pub async fn two_endpoints(store: &Arc<dyn Store>) {
    for n in ["src", "tgt"] {
        store.create_endpoint(new_endpoint(n, None)).await.unwrap();
    }
}

/// A batch `b` with one user `u@x.example`; returns the user.
pub async fn one_user(store: &Arc<dyn Store>) -> UserRecord {
    two_endpoints(store).await;
    store
        .create_batch_with_users(
            new_batch("b", "src", "tgt"),
            vec![new_user("u@x.example", 2, None)],
        )
        .await
        .unwrap();
    all_users(store).await.remove(0)
}

pub async fn all_users(store: &Arc<dyn Store>) -> Vec<UserRecord> {
    store.users(UserFilter::default()).await.unwrap()
}

fn emails(users: &[UserRecord]) -> Vec<&str> {
    users.iter().map(|u| u.email.as_str()).collect()
}

fn conflict_emails(err: StoreError) -> Vec<(String, String)> {
    match err {
        StoreError::Conflict { emails, message } => {
            for (email, batch) in &emails {
                assert!(message.contains(email.as_str()), "{message}");
                assert!(message.contains(batch.as_str()), "{message}");
            }
            emails
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
}

fn pair(email: &str, batch: &str) -> (String, String) {
    (email.to_owned(), batch.to_owned())
}

/// The batch and its users are written together; a refused request
/// writes nothing.
pub async fn batch_with_users_is_created_atomically(store: Arc<dyn Store>) {
    two_endpoints(&store).await;
    let users = vec![
        new_user("carol@x.example", 4, None),
        new_user("Alice@X.example", 2, Some("alice-pw")),
        new_user("bob@x.example", 3, None),
    ];
    let b = store
        .create_batch_with_users(new_batch("wave-1", "src", "tgt"), users)
        .await
        .unwrap();
    assert!(!b.started && !b.removing);
    assert_eq!((b.started_at, b.complete_requested_at), (None, None));
    let list = all_users(&store).await;
    assert_eq!(
        emails(&list),
        ["Alice@x.example", "bob@x.example", "carol@x.example"]
    );
    for u in &list {
        assert_eq!(u.batch_id, b.id);
        assert_eq!(u.batch_name.as_str(), "wave-1");
        assert_eq!(u.status, UserStatus::Queued);
        assert!(!u.was_synced);
        assert_eq!(
            u.source_login,
            format!("login-{}", u.email.replace("Alice@x", "Alice@X"))
        );
        assert_eq!(u.items_synced + u.bytes_synced + u.items_source, 0);
        assert_eq!(u.last_error, None);
        assert_eq!(store.user(&u.id).await.unwrap(), *u);
    }
    assert_eq!(
        list.iter().map(|u| u.csv_line).collect::<Vec<_>>(),
        [Some(2), Some(3), Some(4)]
    );
    assert!(list[0].has_source_secret && !list[1].has_source_secret);
    assert_eq!(
        store
            .user_secret(&list[0].id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "alice-pw"
    );
    assert!(store.user_secret(&list[1].id).await.unwrap().is_none());
    assert!(matches!(
        store.user_secret("nope").await,
        Err(StoreError::NotFound {
            what: "migration user",
            ..
        })
    ));
    assert!(matches!(
        store.user("nope").await,
        Err(StoreError::NotFound {
            what: "migration user",
            ..
        })
    ));

    // the name is taken (in any case): AlreadyExists, no user written
    let err = store
        .create_batch_with_users(
            new_batch("WAVE-1", "src", "tgt"),
            vec![new_user("new@x.example", 2, None)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists { what: "batch", .. }),
        "{err:?}"
    );
    // an address twice in the request: Conflict, neither batch nor users written
    let err = store
        .create_batch_with_users(
            new_batch("wave-2", "src", "tgt"),
            vec![
                new_user("dup@x.example", 2, None),
                new_user("other@x.example", 3, None),
                new_user("DUP@x.example", 4, None),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(conflict_emails(err), [pair("DUP@x.example", "wave-2")]);
    // a missing endpoint: NotFound
    assert!(matches!(
        store
            .create_batch_with_users(
                new_batch("wave-3", "src", "missing"),
                vec![new_user("n@x.example", 2, None)]
            )
            .await,
        Err(StoreError::NotFound {
            what: "endpoint",
            ..
        })
    ));
    assert_eq!(all_users(&store).await, list);
    let names: Vec<String> = store
        .batches()
        .await
        .unwrap()
        .iter()
        .map(|b| b.name.to_string())
        .collect();
    assert_eq!(names, ["wave-1"]);

    // batch flags
    store
        .create_batch(new_batch("Alpha", "tgt", "src"))
        .await
        .unwrap();
    let names: Vec<String> = store
        .batches()
        .await
        .unwrap()
        .iter()
        .map(|b| b.name.to_string())
        .collect();
    assert_eq!(names, ["Alpha", "wave-1"]);
    store.set_batch_started("WAVE-1", true).await.unwrap();
    let started = store.batch("wave-1").await.unwrap();
    assert!(started.started);
    let at = started.started_at.expect("started_at");
    store.set_batch_started("wave-1", true).await.unwrap();
    assert_eq!(store.batch("wave-1").await.unwrap().started_at, Some(at));
    store.set_batch_started("wave-1", false).await.unwrap();
    let stopped = store.batch("wave-1").await.unwrap();
    assert!(!stopped.started);
    assert_eq!(stopped.started_at, Some(at));
    store.set_batch_complete_requested("wave-1").await.unwrap();
    let requested = store
        .batch("wave-1")
        .await
        .unwrap()
        .complete_requested_at
        .expect("requested");
    store.set_batch_complete_requested("wave-1").await.unwrap();
    assert_eq!(
        store.batch("wave-1").await.unwrap().complete_requested_at,
        Some(requested)
    );
    store.set_batch_removing("wave-1").await.unwrap();
    assert!(store.batch("wave-1").await.unwrap().removing);
    assert!(!store.batch("alpha").await.unwrap().removing);
    for r in [
        store.set_batch_started("nope", true).await,
        store.set_batch_removing("nope").await,
        store.set_batch_complete_requested("nope").await,
    ] {
        assert!(
            matches!(r, Err(StoreError::NotFound { what: "batch", .. })),
            "{r:?}"
        );
    }
    // removing a batch takes its users with it
    store.remove_batch("wave-1").await.unwrap();
    assert!(all_users(&store).await.is_empty());
}

/// An address already in another active batch is refused, naming the
/// address and the batch; nothing is written.
pub async fn an_address_in_another_active_batch_is_a_conflict(store: Arc<dyn Store>) {
    two_endpoints(&store).await;
    store
        .create_batch_with_users(
            new_batch("first", "src", "tgt"),
            vec![
                new_user("a@x.example", 2, None),
                new_user("b@x.example", 3, None),
            ],
        )
        .await
        .unwrap();
    let before = all_users(&store).await;
    let err = store
        .create_batch_with_users(
            new_batch("second", "src", "tgt"),
            vec![
                new_user("B@x.example", 2, Some("pw")),
                new_user("c@x.example", 3, None),
                new_user("a@X.EXAMPLE", 4, None),
            ],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("2 addresses"), "{err}");
    assert_eq!(
        conflict_emails(err),
        [pair("B@x.example", "first"), pair("a@x.example", "first")]
    );
    assert!(matches!(
        store.batch("second").await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(all_users(&store).await, before);

    // add_users: same rules, and an address already in this batch clashes too
    store
        .create_batch(new_batch("second", "src", "tgt"))
        .await
        .unwrap();
    let err = store
        .add_users(
            "second",
            vec![
                new_user("c@x.example", 2, None),
                new_user("A@x.example", 3, None),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(conflict_emails(err), [pair("A@x.example", "first")]);
    let err = store
        .add_users(
            "first",
            vec![
                new_user("d@x.example", 4, None),
                new_user("b@x.example", 5, None),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(conflict_emails(err), [pair("b@x.example", "first")]);
    let err = store
        .add_users(
            "second",
            vec![
                new_user("e@x.example", 2, None),
                new_user("E@x.example", 3, None),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(conflict_emails(err), [pair("E@x.example", "second")]);
    assert_eq!(all_users(&store).await, before);
    assert!(matches!(
        store
            .add_users("nope", vec![new_user("z@x.example", 2, None)])
            .await,
        Err(StoreError::NotFound { what: "batch", .. })
    ));

    let added = store
        .add_users(
            "SECOND",
            vec![
                new_user("d@x.example", 7, None),
                new_user("c@x.example", 6, Some("c-pw")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(emails(&added), ["d@x.example", "c@x.example"]);
    assert!(added
        .iter()
        .all(|u| u.batch_name.as_str() == "second" && u.status == UserStatus::Queued));
    assert_eq!(
        store
            .user_secret(&added[1].id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "c-pw"
    );
    assert_eq!(all_users(&store).await.len(), 4);

    // a batch being removed still holds its addresses, and takes no new users
    store.set_batch_removing("first").await.unwrap();
    let err = store
        .create_batch_with_users(
            new_batch("third", "src", "tgt"),
            vec![new_user("a@x.example", 2, None)],
        )
        .await
        .unwrap_err();
    assert_eq!(conflict_emails(err), [pair("a@x.example", "first")]);
    assert!(matches!(
        store
            .add_users("first", vec![new_user("new@x.example", 2, None)])
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(all_users(&store).await.len(), 4);
}

/// A Completed user frees its address for another batch.
pub async fn a_completed_user_does_not_clash(store: Arc<dyn Store>) {
    let user = one_user(&store).await;
    store
        .transition_user(
            &user.id,
            UserStatus::Queued,
            UserStatus::Completing,
            None,
            None,
        )
        .await
        .unwrap();
    // Completing is still active
    let err = store
        .create_batch_with_users(
            new_batch("next", "src", "tgt"),
            vec![new_user("U@x.example", 2, None)],
        )
        .await
        .unwrap_err();
    assert_eq!(conflict_emails(err), [pair("U@x.example", "b")]);
    store
        .transition_user(
            &user.id,
            UserStatus::Completing,
            UserStatus::Completed,
            None,
            None,
        )
        .await
        .unwrap();
    store
        .create_batch_with_users(
            new_batch("next", "src", "tgt"),
            vec![new_user("U@x.example", 2, None)],
        )
        .await
        .unwrap();
    let both = store
        .users(UserFilter {
            email: Some("u@X.example".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let batches: Vec<&str> = both.iter().map(|u| u.batch_name.as_str()).collect();
    assert_eq!(batches, ["b", "next"]);
    // within its own batch the address stays taken (and "next" has it now)
    let err = store
        .add_users("b", vec![new_user("u@x.example", 3, None)])
        .await
        .unwrap_err();
    assert_eq!(
        conflict_emails(err),
        [pair("u@x.example", "b"), pair("u@x.example", "next")]
    );
}

/// transition_user is a compare-and-set; a wrong `from` changes nothing.
pub async fn transition_user_is_compare_and_set(store: Arc<dyn Store>) {
    let user = one_user(&store).await;
    let syncing = store
        .transition_user(
            &user.id,
            UserStatus::Queued,
            UserStatus::Syncing,
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(syncing.status, UserStatus::Syncing);
    assert!(syncing.sync_started_at.is_some());
    assert_eq!(syncing.last_sync_at, None);
    assert!(!syncing.was_synced);
    assert_eq!(store.user(&user.id).await.unwrap(), syncing);

    let err = store
        .transition_user(
            &user.id,
            UserStatus::Queued,
            UserStatus::Failed,
            Some("x".into()),
            None,
        )
        .await
        .unwrap_err();
    match err {
        StoreError::StateChanged { expected, actual } => {
            assert_eq!(
                (expected, actual),
                (UserStatus::Queued, UserStatus::Syncing)
            );
        }
        other => panic!("expected StateChanged, got {other:?}"),
    }
    assert_eq!(store.user(&user.id).await.unwrap(), syncing);

    let failed = store
        .transition_user(
            &user.id,
            UserStatus::Syncing,
            UserStatus::Failed,
            Some("boom".into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(failed.last_error.as_deref(), Some("boom"));
    assert!(!failed.was_synced);
    let queued = store
        .transition_user(&user.id, UserStatus::Failed, UserStatus::Queued, None, None)
        .await
        .unwrap();
    assert_eq!(queued.last_error, None);
    store
        .transition_user(
            &user.id,
            UserStatus::Queued,
            UserStatus::Syncing,
            None,
            None,
        )
        .await
        .unwrap();
    let synced = store
        .transition_user(
            &user.id,
            UserStatus::Syncing,
            UserStatus::Synced,
            None,
            None,
        )
        .await
        .unwrap();
    assert!(synced.was_synced);
    assert!(synced.last_sync_at.is_some());
    assert!(synced.sync_started_at.is_some());
    assert!(matches!(
        store
            .transition_user("nope", UserStatus::Queued, UserStatus::Syncing, None, None)
            .await,
        Err(StoreError::NotFound {
            what: "migration user",
            ..
        })
    ));

    let c = UserCounters {
        items_source: 10,
        items_synced: 7,
        items_skipped_bad: 1,
        items_skipped_large: 2,
        bytes_synced: 5_000_000_000,
    };
    store.set_user_counters(&user.id, c, None).await.unwrap();
    let u = store.user(&user.id).await.unwrap();
    assert_eq!(
        (
            u.items_source,
            u.items_synced,
            u.items_skipped_bad,
            u.items_skipped_large,
            u.bytes_synced
        ),
        (10, 7, 1, 2, 5_000_000_000)
    );
    assert!(matches!(
        store.set_user_counters("nope", c, None).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub fn intent(folder: &str, uidvalidity: u32, uid: u32, size: u64) -> CopyIntent {
    CopyIntent {
        source_folder: folder.into(),
        source_uidvalidity: uidvalidity,
        source_uid: uid,
        target_folder: format!("Migrated/{folder}"),
        target_uidvalidity: Some(900),
        target_uidnext: Some(uid.saturating_add(40)),
        size,
        internal_date: Some(1_700_000_000 + i64::from(uid)),
        sha256: Some([uid as u8; 32]),
    }
}

pub fn done(folder: &str, uidvalidity: u32, uid: u32, target_uid: Option<u32>) -> CopyDone {
    CopyDone {
        source_folder: folder.into(),
        source_uidvalidity: uidvalidity,
        source_uid: uid,
        target_uidvalidity: Some(901),
        target_uid,
    }
}

async fn folder(store: &Arc<dyn Store>, user_id: &str, name: &str) -> FolderState {
    store
        .folder_states(user_id)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.source_folder == name)
        .unwrap_or_else(|| panic!("no folder state {name}"))
}

/// Intents, then done: the counters move once per message, whatever is
/// repeated.
pub async fn copies_done_count_exactly_once(store: Arc<dyn Store>) {
    let user = one_user(&store).await;
    let id = user.id.as_str();
    let intents = vec![
        intent("INBOX", 7, 3, 300),
        intent("INBOX", 7, 1, 100),
        intent("INBOX", 7, 2, 200),
        intent("Sent", 9, 1, 50),
    ];
    store.record_intents(id, &intents, None).await.unwrap();
    let open = store.open_intents(id, "INBOX").await.unwrap();
    assert_eq!(
        open,
        vec![intents[1].clone(), intents[2].clone(), intents[0].clone()]
    );
    assert!(store.copied_uids(id, "INBOX", 7).await.unwrap().is_empty());
    // folders got a state
    let inbox = folder(&store, id, "INBOX").await;
    assert_eq!(inbox.target_folder.as_deref(), Some("Migrated/INBOX"));
    assert_eq!(inbox.source_uidvalidity, Some(7));
    assert_eq!((inbox.messages_synced, inbox.bytes_synced), (0, 0));

    let batch = [
        done("INBOX", 7, 1, Some(41)),
        done("INBOX", 7, 3, None),
        done("Sent", 9, 1, Some(5)),
        done("INBOX", 7, 1, Some(41)), // repeated in the same call
    ];
    store.record_copies_done(id, &batch, None).await.unwrap();
    let check = |expect_user: (u64, u64), expect_inbox: (u64, u64), expect_sent: (u64, u64)| {
        let store = store.clone();
        async move {
            let u = store.user(id).await.unwrap();
            assert_eq!((u.items_synced, u.bytes_synced), expect_user);
            let f = folder(&store, id, "INBOX").await;
            assert_eq!((f.messages_synced, f.bytes_synced), expect_inbox);
            let f = folder(&store, id, "Sent").await;
            assert_eq!((f.messages_synced, f.bytes_synced), expect_sent);
        }
    };
    check((3, 450), (2, 400), (1, 50)).await;
    // again: idempotent
    store.record_copies_done(id, &batch, None).await.unwrap();
    check((3, 450), (2, 400), (1, 50)).await;
    // an intent for a done key does not reopen it
    store
        .record_intents(id, &[intent("INBOX", 7, 1, 999)], None)
        .await
        .unwrap();
    store
        .record_copies_done(id, &batch[..1], None)
        .await
        .unwrap();
    check((3, 450), (2, 400), (1, 50)).await;

    assert_eq!(store.copied_uids(id, "INBOX", 7).await.unwrap(), [1, 3]);
    assert_eq!(
        store.uid_map(id, "INBOX", 7).await.unwrap(),
        [(1, Some(41)), (3, None)]
    );
    assert_eq!(store.uid_map(id, "Sent", 9).await.unwrap(), [(1, Some(5))]);
    assert!(store.uid_map(id, "INBOX", 8).await.unwrap().is_empty());
    let open = store.open_intents(id, "INBOX").await.unwrap();
    assert_eq!(open, vec![intents[2].clone()]);

    // a key without an intent: NotFound, and nothing of the call is written
    let err = store
        .record_copies_done(
            id,
            &[done("INBOX", 7, 2, Some(42)), done("INBOX", 7, 77, None)],
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "copy intent",
                ..
            }
        ),
        "{err:?}"
    );
    check((3, 450), (2, 400), (1, 50)).await;
    assert_eq!(store.open_intents(id, "INBOX").await.unwrap().len(), 1);
    store
        .record_copies_done(id, &[done("INBOX", 7, 2, Some(42))], None)
        .await
        .unwrap();
    check((4, 650), (3, 600), (1, 50)).await;
    assert!(store.open_intents(id, "INBOX").await.unwrap().is_empty());

    // unknown user
    assert!(matches!(
        store.record_intents("nope", &intents, None).await,
        Err(StoreError::NotFound {
            what: "migration user",
            ..
        })
    ));
    assert!(matches!(
        store.record_copies_done("nope", &batch, None).await,
        Err(StoreError::NotFound {
            what: "migration user",
            ..
        })
    ));
}

/// Open intents are listed per folder; dropping one removes only open intents.
pub async fn open_intents_can_be_dropped(store: Arc<dyn Store>) {
    let user = one_user(&store).await;
    let id = user.id.as_str();
    let mut other = intent("INBOX", 7, 5, 10);
    other.target_uidvalidity = None;
    other.target_uidnext = None;
    other.internal_date = None;
    other.sha256 = None;
    store
        .record_intents(
            id,
            &[
                intent("INBOX", 7, 4, 10),
                other.clone(),
                intent("Drafts", 3, 1, 1),
            ],
            None,
        )
        .await
        .unwrap();
    // re-recording an open intent replaces it
    let mut again = intent("INBOX", 7, 4, 11);
    again.target_uidnext = Some(99);
    store
        .record_intents(id, &[again.clone()], None)
        .await
        .unwrap();
    assert_eq!(
        store.open_intents(id, "INBOX").await.unwrap(),
        vec![again.clone(), other.clone()]
    );
    store
        .record_copies_done(id, &[done("Drafts", 3, 1, None)], None)
        .await
        .unwrap();
    store
        .drop_intents(
            id,
            &[
                ("INBOX".into(), 7, 4),
                ("Drafts".into(), 3, 1),
                ("INBOX".into(), 7, 999),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.open_intents(id, "INBOX").await.unwrap(), vec![other]);
    assert_eq!(store.copied_uids(id, "Drafts", 3).await.unwrap(), [1]);
    assert!(store.copied_uids(id, "INBOX", 7).await.unwrap().is_empty());
    let u = store.user(id).await.unwrap();
    assert_eq!((u.items_synced, u.bytes_synced), (1, 1));
    assert!(store.open_intents(id, "Nope").await.unwrap().is_empty());
}

/// copied_uids is sorted and separated by folder and UIDVALIDITY.
pub async fn copied_uids_are_sorted(store: Arc<dyn Store>) {
    let user = one_user(&store).await;
    let id = user.id.as_str();
    // a scrambled order of 1..=500, plus the same UIDs under another UIDVALIDITY
    let uids: Vec<u32> = (0..500u32).map(|i| (i * 137) % 500 + 1).collect();
    let mut intents: Vec<CopyIntent> = uids.iter().map(|&u| intent("INBOX", 7, u, 1)).collect();
    intents.extend((1..=3).map(|u| intent("INBOX", 8, u, 1)));
    intents.push(intent("INBOX", 7, u32::MAX, 1));
    store.record_intents(id, &intents, None).await.unwrap();
    let dones: Vec<CopyDone> = intents
        .iter()
        .map(|i| done(&i.source_folder, i.source_uidvalidity, i.source_uid, None))
        .collect();
    store.record_copies_done(id, &dones, None).await.unwrap();
    let mut expected: Vec<u32> = (1..=500).collect();
    expected.push(u32::MAX);
    assert_eq!(store.copied_uids(id, "INBOX", 7).await.unwrap(), expected);
    assert_eq!(store.copied_uids(id, "INBOX", 8).await.unwrap(), [1, 2, 3]);
    assert!(store.copied_uids(id, "Other", 7).await.unwrap().is_empty());
    assert!(store
        .copied_uids("nope", "INBOX", 7)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.user(id).await.unwrap().items_synced, 504);
}

pub fn skipped(folder: &str, uid: u32, kind: SkipKind, reason: &str) -> SkippedItem {
    SkippedItem {
        folder: folder.into(),
        source_uidvalidity: 7,
        uid,
        size: Some(123_456),
        date: Some("Tue, 1 Jul 2003 10:52:37 +0200".into()),
        subject: Some("Grüße".into()),
        kind,
        reason: reason.into(),
        created_at: None,
    }
}

/// Recording the same skip again updates it and never counts it twice.
pub async fn skipped_items_are_idempotent_and_counted(store: Arc<dyn Store>) {
    let user = one_user(&store).await;
    let id = user.id.as_str();
    for f in ["INBOX", "Archive"] {
        store
            .upsert_folder_state(&FolderState::new(id, f), None)
            .await
            .unwrap();
    }
    let counts = || {
        let store = store.clone();
        async move {
            let u = store.user(id).await.unwrap();
            let rows = store.skipped_items(id).await.unwrap();
            let bad = rows.iter().filter(|r| r.kind == SkipKind::Bad).count() as u64;
            let large = rows.iter().filter(|r| r.kind == SkipKind::Large).count() as u64;
            assert_eq!(
                (u.items_skipped_bad, u.items_skipped_large),
                (bad, large),
                "counters match rows"
            );
            let in_folders: u64 = store
                .folder_states(id)
                .await
                .unwrap()
                .iter()
                .map(|f| f.messages_skipped)
                .sum();
            assert_eq!(in_folders, rows.len() as u64);
            (bad, large)
        }
    };
    store
        .record_skipped(id, &skipped("INBOX", 5, SkipKind::Bad, "unparsable"), None)
        .await
        .unwrap();
    assert_eq!(counts().await, (1, 0));
    store
        .record_skipped(
            id,
            &skipped("INBOX", 5, SkipKind::Bad, "refused by target"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(counts().await, (1, 0));
    let rows = store.skipped_items(id).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].reason, "refused by target");
    assert_eq!(
        rows[0].date.as_deref(),
        Some("Tue, 1 Jul 2003 10:52:37 +0200")
    );
    assert_eq!(rows[0].subject.as_deref(), Some("Grüße"));
    assert_eq!(rows[0].size, Some(123_456));
    assert!(rows[0].created_at.is_some());
    let mut bare = skipped("Archive", 9, SkipKind::Large, "larger than 50 MB");
    bare.size = None;
    bare.date = None;
    bare.subject = None;
    store.record_skipped(id, &bare, None).await.unwrap();
    assert_eq!(counts().await, (1, 1));
    // the same UID under another UIDVALIDITY is another message
    let mut other = skipped("INBOX", 5, SkipKind::Large, "too big");
    other.source_uidvalidity = 8;
    store.record_skipped(id, &other, None).await.unwrap();
    assert_eq!(counts().await, (1, 2));
    // a kind that changes moves the count
    store
        .record_skipped(
            id,
            &skipped("INBOX", 5, SkipKind::Large, "too big now"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(counts().await, (0, 3));
    let rows = store.skipped_items(id).await.unwrap();
    let keys: Vec<(&str, u32, u32)> = rows
        .iter()
        .map(|r| (r.folder.as_str(), r.source_uidvalidity, r.uid))
        .collect();
    assert_eq!(keys, [("Archive", 7, 9), ("INBOX", 7, 5), ("INBOX", 8, 5)]);
    let mut expect = bare.clone();
    expect.created_at = rows[0].created_at;
    assert_eq!(rows[0], expect);
    assert_eq!(folder(&store, id, "INBOX").await.messages_skipped, 2);
    assert_eq!(folder(&store, id, "Archive").await.messages_skipped, 1);
    // a folder without a state: the user counts it, no state is made up
    store
        .record_skipped(
            id,
            &skipped("Entwürfe", 1, SkipKind::Bad, "unparsable"),
            None,
        )
        .await
        .unwrap();
    let u = store.user(id).await.unwrap();
    assert_eq!((u.items_skipped_bad, u.items_skipped_large), (1, 3));
    assert_eq!(store.folder_states(id).await.unwrap().len(), 2);
    assert_eq!(store.skipped_items(id).await.unwrap().len(), 4);
    assert!(matches!(
        store.record_skipped("nope", &bare, None).await,
        Err(StoreError::NotFound {
            what: "migration user",
            ..
        })
    ));
}

/// A folder state comes back as saved; the map-owned counters are left alone.
pub async fn folder_state_round_trip(store: Arc<dyn Store>) {
    let user = one_user(&store).await;
    let id = user.id.clone();
    let t = chrono::DateTime::from_timestamp_millis(1_700_000_123_456).unwrap();
    let mut state = FolderState {
        user_id: id.clone(),
        source_folder: "Entw&APw-rfe".into(),
        target_folder: Some("Drafts".into()),
        source_uidvalidity: Some(u32::MAX),
        target_uidvalidity: Some(1),
        highest_modseq: Some(u64::from(u32::MAX) * 4),
        last_seen_uid: Some(4711),
        subscribed: true,
        messages_source: 12,
        messages_synced: 0,
        messages_skipped: 0,
        bytes_synced: 0,
        last_sync_at: Some(t),
    };
    store.upsert_folder_state(&state, None).await.unwrap();
    assert_eq!(store.folder_states(&id).await.unwrap(), vec![state.clone()]);
    let inbox = FolderState {
        user_id: id.clone(),
        source_folder: "INBOX".into(),
        ..Default::default()
    };
    store.upsert_folder_state(&inbox, None).await.unwrap();
    assert_eq!(
        store.folder_states(&id).await.unwrap(),
        vec![state.clone(), inbox.clone()]
    );

    // copies move the counters; an upsert replaces the rest, not them
    let mut i = intent("INBOX", 7, 1, 64);
    i.target_folder = "INBOX".into();
    store.record_intents(&id, &[i], None).await.unwrap();
    store
        .record_copies_done(&id, &[done("INBOX", 7, 1, Some(1))], None)
        .await
        .unwrap();
    let mut changed = inbox.clone();
    changed.source_uidvalidity = Some(7);
    changed.last_seen_uid = Some(1);
    changed.messages_source = 1;
    changed.messages_synced = 999;
    changed.bytes_synced = 999;
    changed.messages_skipped = 999;
    store.upsert_folder_state(&changed, None).await.unwrap();
    let read = folder(&store, &id, "INBOX").await;
    assert_eq!(
        (
            read.messages_synced,
            read.bytes_synced,
            read.messages_skipped
        ),
        (1, 64, 0)
    );
    assert_eq!(
        read,
        FolderState {
            messages_synced: 1,
            bytes_synced: 64,
            messages_skipped: 0,
            ..changed
        }
    );
    state.subscribed = false;
    state.last_sync_at = None;
    state.target_folder = None;
    store.upsert_folder_state(&state, None).await.unwrap();
    assert_eq!(folder(&store, &id, "Entw&APw-rfe").await, state);
    assert!(store.folder_states("nope").await.unwrap().is_empty());
    let mut orphan = inbox.clone();
    orphan.user_id = "nope".into();
    assert!(matches!(
        store.upsert_folder_state(&orphan, None).await,
        Err(StoreError::NotFound {
            what: "migration user",
            ..
        })
    ));
}

/// Users are filtered by batch, status and address, ordered and paged.
pub async fn users_are_filtered_and_paged(store: Arc<dyn Store>) {
    two_endpoints(&store).await;
    store
        .create_batch_with_users(
            new_batch("Zulu", "src", "tgt"),
            vec![
                new_user("z1@x.example", 3, None),
                new_user("z2@x.example", 2, None),
            ],
        )
        .await
        .unwrap();
    store
        .create_batch_with_users(
            new_batch("alpha", "src", "tgt"),
            (0..5)
                .map(|i| new_user(&format!("a{i}@x.example"), 10 - i, None))
                .collect(),
        )
        .await
        .unwrap();
    let all = all_users(&store).await;
    assert_eq!(
        emails(&all),
        [
            "a4@x.example",
            "a3@x.example",
            "a2@x.example",
            "a1@x.example",
            "a0@x.example",
            "z2@x.example",
            "z1@x.example"
        ]
    );
    let by = |f: UserFilter| {
        let store = store.clone();
        async move {
            store
                .users(f)
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.email)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        by(UserFilter {
            batch: Some("ZULU".into()),
            ..Default::default()
        })
        .await,
        ["z2@x.example", "z1@x.example"]
    );
    assert_eq!(
        by(UserFilter {
            email: Some("A2@X.example".into()),
            ..Default::default()
        })
        .await,
        ["a2@x.example"]
    );
    let a1 = all.iter().find(|u| u.email == "a1@x.example").unwrap();
    let z1 = all.iter().find(|u| u.email == "z1@x.example").unwrap();
    for u in [a1, z1] {
        store
            .transition_user(
                &u.id,
                UserStatus::Queued,
                UserStatus::Failed,
                Some("e".into()),
                None,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        by(UserFilter {
            status: Some(UserStatus::Failed),
            ..Default::default()
        })
        .await,
        ["a1@x.example", "z1@x.example"]
    );
    assert_eq!(
        by(UserFilter {
            status: Some(UserStatus::Failed),
            batch: Some("zulu".into()),
            ..Default::default()
        })
        .await,
        ["z1@x.example"]
    );
    assert!(by(UserFilter {
        status: Some(UserStatus::Synced),
        ..Default::default()
    })
    .await
    .is_empty());
    assert!(by(UserFilter {
        email: Some("nobody@x.example".into()),
        ..Default::default()
    })
    .await
    .is_empty());
    // paging
    let mut paged = Vec::new();
    for page in 0..4 {
        let got = by(UserFilter {
            limit: Some(2),
            offset: page * 2,
            ..Default::default()
        })
        .await;
        assert!(got.len() <= 2);
        paged.extend(got);
    }
    assert_eq!(paged, emails(&all));
    assert_eq!(
        by(UserFilter {
            batch: Some("alpha".into()),
            limit: Some(2),
            offset: 3,
            ..Default::default()
        })
        .await,
        ["a1@x.example", "a0@x.example"]
    );
    assert!(by(UserFilter {
        offset: 7,
        ..Default::default()
    })
    .await
    .is_empty());
    assert!(by(UserFilter {
        limit: Some(0),
        ..Default::default()
    })
    .await
    .is_empty());
    assert!(matches!(
        store
            .users(UserFilter {
                batch: Some("nope".into()),
                ..Default::default()
            })
            .await,
        Err(StoreError::NotFound { what: "batch", .. })
    ));
}

/// Several workers recording progress for different users at once.
pub async fn concurrent_progress_is_not_lost(store: Arc<dyn Store>) {
    two_endpoints(&store).await;
    store
        .create_batch_with_users(
            new_batch("b", "src", "tgt"),
            (0..4)
                .map(|i| new_user(&format!("u{i}@x.example"), i + 2, None))
                .collect(),
        )
        .await
        .unwrap();
    let users = all_users(&store).await;
    let mut tasks = Vec::new();
    for u in users.clone() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for uid in 1..=20u32 {
                store
                    .record_intents(&u.id, &[intent("INBOX", 1, uid, 10)], None)
                    .await
                    .unwrap();
                store
                    .record_copies_done(&u.id, &[done("INBOX", 1, uid, Some(uid))], None)
                    .await
                    .unwrap();
                store
                    .record_skipped(
                        &u.id,
                        &skipped("INBOX", 1000 + uid % 5, SkipKind::Bad, "x"),
                        None,
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for u in users {
        let u = store.user(&u.id).await.unwrap();
        assert_eq!(
            (u.items_synced, u.bytes_synced, u.items_skipped_bad),
            (20, 200, 5)
        );
    }
}

// ---- leases, fencing, scheduling ----

pub fn claim(worker: &str, batch: Option<&str>, max: usize, ttl_ms: u64) -> ClaimRequest {
    ClaimRequest {
        worker: worker.into(),
        batch: batch.map(Into::into),
        max,
        ttl: Duration::from_millis(ttl_ms),
    }
}

/// A minute: leases that outlive any test.
const LONG: u64 = 60_000;

/// Creates batch `batch` from `source` to `target` with users
/// `{prefix}{i}@x.example` (CSV lines 2..), started unless told otherwise;
/// returns the users in CSV order.
pub async fn batch_of(
    store: &Arc<dyn Store>,
    batch: &str,
    source: &str,
    target: &str,
    prefix: &str,
    users: u64,
    started: bool,
) -> Vec<UserRecord> {
    store
        .create_batch_with_users(
            new_batch(batch, source, target),
            (0..users)
                .map(|i| new_user(&format!("{prefix}{i}@x.example"), i + 2, None))
                .collect(),
        )
        .await
        .unwrap();
    if started {
        store.set_batch_started(batch, true).await.unwrap();
    }
    store
        .users(UserFilter {
            batch: Some(batch.into()),
            ..UserFilter::default()
        })
        .await
        .unwrap()
}

/// Moves a user along `path` of statuses with administrative transitions.
pub async fn walk(store: &Arc<dyn Store>, id: &str, path: &[UserStatus]) -> UserRecord {
    let mut user = store.user(id).await.unwrap();
    for w in path.windows(2) {
        user = store
            .transition_user(id, w[0], w[1], None, None)
            .await
            .unwrap();
    }
    user
}

/// Queued -> Syncing -> Synced -> Queued: a queued user with `was_synced`.
pub async fn make_was_synced(store: &Arc<dyn Store>, id: &str) {
    use UserStatus::*;
    let u = walk(store, id, &[Queued, Syncing, Synced, Queued]).await;
    assert!(u.was_synced);
}

fn ids(claims: &[(UserRecord, Lease)]) -> Vec<&str> {
    claims.iter().map(|(u, _)| u.email.as_str()).collect()
}

fn assert_lease_lost<T: std::fmt::Debug>(result: Result<T, StoreError>, user_id: &str, what: &str) {
    match result {
        Err(StoreError::LeaseLost { user_id: u }) => assert_eq!(u, user_id, "{what}"),
        other => panic!("{what}: expected LeaseLost, got {other:?}"),
    }
}

/// Only users of started batches not being removed are claimed, in status
/// Queued or Completing, Completing first, then in queue order, then CSV
/// order; a claimed user is not claimed again while its lease lives.
pub async fn claim_respects_batch_state_status_and_order(store: Arc<dyn Store>) {
    use UserStatus::*;
    two_endpoints(&store).await;
    let idle = batch_of(&store, "idle", "src", "tgt", "idle", 2, false).await;
    let gone = batch_of(&store, "gone", "src", "tgt", "gone", 2, true).await;
    store.set_batch_removing("gone").await.unwrap();
    let b = batch_of(&store, "b", "src", "tgt", "b", 6, true).await;

    // b0 is requeued later than the others: it goes behind them
    walk(&store, &b[0].id, &[Queued, Stopping, Stopped]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    walk(&store, &b[0].id, &[Stopped, Queued]).await;
    // b3 completes: first, whatever its place
    walk(&store, &b[3].id, &[Queued, Completing]).await;
    // b4 is synced, b5 failed: nothing to do for them
    walk(&store, &b[4].id, &[Queued, Syncing, Synced]).await;
    walk(&store, &b[5].id, &[Queued, Syncing, Failed]).await;

    assert!(store
        .claim_users(&claim("w1", None, 0, LONG))
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.claim_users(&claim("w1", Some("nope"), 5, LONG)).await,
        Err(StoreError::NotFound { what: "batch", .. })
    ));
    assert!(store
        .claim_users(&claim("w1", Some("idle"), 5, LONG))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .claim_users(&claim("w1", Some("GONE"), 5, LONG))
        .await
        .unwrap()
        .is_empty());

    let before = chrono::Utc::now();
    let first = store
        .claim_users(&claim("w1", None, 2, LONG))
        .await
        .unwrap();
    assert_eq!(ids(&first), ["b3@x.example", "b1@x.example"]);
    let rest = store
        .claim_users(&claim("w2", Some("B"), 10, LONG))
        .await
        .unwrap();
    assert_eq!(ids(&rest), ["b2@x.example", "b0@x.example"]);
    for (user, lease) in first.iter().chain(&rest) {
        assert_eq!(lease.user_id, user.id);
        assert_eq!(lease.token, 1);
        let ttl = lease.expires_at - before;
        assert!(
            ttl.num_milliseconds() >= LONG as i64 - 5_000
                && ttl.num_milliseconds() <= LONG as i64 + 5_000,
            "{ttl}"
        );
        // the record is the user as stored (a claim changes no status)
        assert_eq!(&store.user(&user.id).await.unwrap(), user);
    }
    assert_eq!(first[0].1.owner, "w1");
    assert_eq!(rest[0].1.owner, "w2");
    // everything due is leased now
    assert!(store
        .claim_users(&claim("w3", None, 10, LONG))
        .await
        .unwrap()
        .is_empty());

    let leases = store.leases().await.unwrap();
    let listed: Vec<(&str, &str, &str, u64)> = leases
        .iter()
        .map(|l| {
            (
                l.owner.as_str(),
                l.batch.as_str(),
                l.email.as_str(),
                l.token,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("w1", "b", "b1@x.example", 1),
            ("w1", "b", "b3@x.example", 1),
            ("w2", "b", "b0@x.example", 1),
            ("w2", "b", "b2@x.example", 1),
        ]
    );
    for l in &leases {
        let (_, lease) = first
            .iter()
            .chain(&rest)
            .find(|(u, _)| u.id == l.user_id)
            .unwrap();
        assert_eq!(l.expires_at, lease.expires_at);
    }

    // a batch that is stopped, or being removed, gives nothing more
    let (_, l0) = &rest[1];
    store.release_lease(l0).await.unwrap();
    store.set_batch_started("b", false).await.unwrap();
    assert!(store
        .claim_users(&claim("w3", None, 10, LONG))
        .await
        .unwrap()
        .is_empty());
    store.set_batch_started("b", true).await.unwrap();
    store.set_batch_removing("b").await.unwrap();
    assert!(store
        .claim_users(&claim("w3", None, 10, LONG))
        .await
        .unwrap()
        .is_empty());
    for u in idle.iter().chain(&gone) {
        assert_eq!(store.user(&u.id).await.unwrap(), *u, "untouched");
    }

    // the order holds across batches, and across users synced before or not
    let pause = || tokio::time::sleep(Duration::from_millis(20));
    let x = batch_of(&store, "x", "src", "tgt", "x", 2, true).await;
    pause().await;
    let y = batch_of(&store, "y", "src", "tgt", "y", 2, true).await;
    pause().await;
    make_was_synced(&store, &x[0].id).await;
    pause().await;
    walk(&store, &y[0].id, &[Queued, Completing]).await;
    let all = store
        .claim_users(&claim("w4", None, 10, LONG))
        .await
        .unwrap();
    assert_eq!(
        ids(&all),
        [
            "y0@x.example",
            "x1@x.example",
            "y1@x.example",
            "x0@x.example"
        ]
    );
}

/// 16 claimers at once: no user is claimed twice, and the endpoints'
/// limits hold across every live lease (both batches that use an endpoint,
/// as source or as target).
pub async fn concurrent_claims_share_nothing_and_respect_endpoint_limits(store: Arc<dyn Store>) {
    let mut src = new_endpoint("src", None);
    src.settings.max_concurrent_migrations = 5;
    src.settings.max_concurrent_incremental = 2;
    store.create_endpoint(src).await.unwrap();
    store
        .create_endpoint(new_endpoint("tgt", None))
        .await
        .unwrap();
    let a = batch_of(&store, "a", "src", "tgt", "a", 20, true).await;
    // src is this batch's target: it counts too
    let b = batch_of(&store, "b", "tgt", "src", "b", 10, true).await;
    // the first 8 of each have been synced before (incremental syncs)
    for u in a.iter().take(8).chain(b.iter().take(8)) {
        make_was_synced(&store, &u.id).await;
    }

    let race = |max: usize| {
        let store = store.clone();
        async move {
            let mut tasks = Vec::new();
            for i in 0..16 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    store
                        .claim_users(&claim(&format!("w{i:02}"), None, max, LONG))
                        .await
                        .unwrap()
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        }
    };
    let claimed = race(2).await;
    let mut users: Vec<&str> = claimed.iter().map(|(u, _)| u.id.as_str()).collect();
    users.sort();
    users.dedup();
    assert_eq!(users.len(), claimed.len(), "a user was claimed twice");
    assert_eq!(claimed.len(), 5, "src allows 5 migrations");
    let incremental = claimed.iter().filter(|(u, _)| u.was_synced).count();
    assert!(incremental <= 2, "{incremental} incremental syncs on src");
    assert_eq!(store.leases().await.unwrap().len(), 5);

    // all of them again, one claimer at a time: still no more
    assert!(store
        .claim_users(&claim("late", None, 50, LONG))
        .await
        .unwrap()
        .is_empty());

    // freed room is taken again, within the limits
    for (_, lease) in &claimed {
        store.release_lease(lease).await.unwrap();
    }
    let again = race(1).await;
    assert_eq!(again.len(), 5);
    assert!(again.iter().filter(|(u, _)| u.was_synced).count() <= 2);
    for (u, lease) in &again {
        assert!(lease.token >= 1);
        if claimed.iter().any(|(c, _)| c.id == u.id) {
            assert_eq!(
                lease.token, 2,
                "a second claim of a user gets a higher token"
            );
        }
    }

    // only incremental syncs waiting: at most 2 at once
    let mut e3 = new_endpoint("e3", None);
    e3.settings.max_concurrent_migrations = 10;
    e3.settings.max_concurrent_incremental = 3;
    store.create_endpoint(e3).await.unwrap();
    let c = batch_of(&store, "c", "e3", "e3", "c", 8, true).await;
    for u in &c {
        make_was_synced(&store, &u.id).await;
    }
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .claim_users(&claim(&format!("x{i:02}"), Some("c"), 2, LONG))
                .await
                .unwrap()
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.extend(t.await.unwrap());
    }
    assert_eq!(got.len(), 3, "e3 allows 3 incremental syncs");
    let mut users: Vec<&str> = got.iter().map(|(u, _)| u.id.as_str()).collect();
    users.sort();
    users.dedup();
    assert_eq!(users.len(), 3);
    // a user that was never synced still fits (it needs no incremental room)
    let fresh = store
        .add_users("c", vec![new_user("c-new@x.example", 99, None)])
        .await
        .unwrap();
    let next = store
        .claim_users(&claim("y", Some("c"), 5, LONG))
        .await
        .unwrap();
    assert_eq!(ids(&next), [fresh[0].email.as_str()]);
}

/// What every fenced write leaves behind, to compare.
async fn snapshot(
    store: &Arc<dyn Store>,
    id: &str,
) -> (
    UserRecord,
    Vec<FolderState>,
    Vec<CopyIntent>,
    Vec<u32>,
    Vec<SkippedItem>,
) {
    (
        store.user(id).await.unwrap(),
        store.folder_states(id).await.unwrap(),
        store.open_intents(id, "INBOX").await.unwrap(),
        store.copied_uids(id, "INBOX", 7).await.unwrap(),
        store.skipped_items(id).await.unwrap(),
    )
}

/// An expired lease is taken over with a higher token; from then on every
/// fenced write of the old lease fails with LeaseLost and changes nothing,
/// while the new holder's writes go through.
pub async fn an_expired_lease_is_taken_over_and_fences_the_old_holder(store: Arc<dyn Store>) {
    use UserStatus::*;
    two_endpoints(&store).await;
    let users = batch_of(&store, "b", "src", "tgt", "u", 2, true).await;
    let id = users[0].id.as_str();
    // the other user is not claimable: the claims below are all of users[0]
    walk(&store, &users[1].id, &[Queued, Stopping, Stopped]).await;
    let old = store
        .claim_users(&claim("old", None, 1, 30))
        .await
        .unwrap()
        .remove(0)
        .1;
    assert_eq!((old.user_id.as_str(), old.token), (id, 1));
    // a lease covers its own user only
    assert_lease_lost(
        store
            .set_user_counters(&users[1].id, UserCounters::default(), Some(&old))
            .await,
        &users[1].id,
        "a lease of another user",
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    // expired, but nobody took it over: the holder may still write
    store
        .set_user_counters(
            id,
            UserCounters {
                items_source: 50,
                ..UserCounters::default()
            },
            Some(&old),
        )
        .await
        .unwrap();
    assert!(
        store.leases().await.unwrap().is_empty(),
        "not live any more"
    );

    let (user, new) = store
        .claim_users(&claim("new", None, 1, LONG))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(user.id, id);
    assert_eq!((new.owner.as_str(), new.token), ("new", 2));
    // the new holder prepares what the old one will try to touch
    store
        .upsert_folder_state(&FolderState::new(id, "INBOX"), Some(&new))
        .await
        .unwrap();
    store
        .record_intents(id, &[intent("INBOX", 7, 1, 100)], Some(&new))
        .await
        .unwrap();

    let before = snapshot(&store, id).await;
    let stale = Some(&old);
    assert_lease_lost(
        store
            .transition_user(id, Queued, Syncing, None, stale)
            .await,
        id,
        "transition_user",
    );
    assert_lease_lost(
        store
            .set_user_counters(
                id,
                UserCounters {
                    items_source: 1,
                    items_synced: 2,
                    items_skipped_bad: 3,
                    items_skipped_large: 4,
                    bytes_synced: 5,
                },
                stale,
            )
            .await,
        id,
        "set_user_counters",
    );
    let mut changed = FolderState::new(id, "INBOX");
    changed.messages_source = 77;
    assert_lease_lost(
        store.upsert_folder_state(&changed, stale).await,
        id,
        "upsert_folder_state (existing folder)",
    );
    assert_lease_lost(
        store
            .upsert_folder_state(&FolderState::new(id, "Other"), stale)
            .await,
        id,
        "upsert_folder_state (new folder)",
    );
    assert_lease_lost(
        store
            .record_intents(id, &[intent("INBOX", 7, 2, 10)], stale)
            .await,
        id,
        "record_intents",
    );
    assert_lease_lost(
        store
            .record_copies_done(id, &[done("INBOX", 7, 1, Some(5))], stale)
            .await,
        id,
        "record_copies_done",
    );
    assert_lease_lost(
        store
            .drop_intents(id, &[("INBOX".into(), 7, 1)], stale)
            .await,
        id,
        "drop_intents",
    );
    assert_lease_lost(
        store
            .record_skipped(id, &skipped("INBOX", 9, SkipKind::Large, "big"), stale)
            .await,
        id,
        "record_skipped",
    );
    assert_lease_lost(
        store
            .set_next_sync(id, Some(chrono::Utc::now()), stale)
            .await,
        id,
        "set_next_sync",
    );
    // even with nothing to write, a lost lease is reported
    assert_lease_lost(
        store.record_intents(id, &[], stale).await,
        id,
        "record_intents (empty)",
    );
    assert_eq!(snapshot(&store, id).await, before, "nothing was written");
    assert_lease_lost(
        store.renew_lease(&old, Duration::from_secs(60)).await,
        id,
        "renew_lease",
    );
    // releasing a lost lease is no error and leaves the new one alone
    store.release_lease(&old).await.unwrap();
    let live = store.leases().await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!((live[0].owner.as_str(), live[0].token), ("new", 2));

    // the new holder writes
    let fence = Some(&new);
    store
        .transition_user(id, Queued, Syncing, None, fence)
        .await
        .unwrap();
    store
        .record_copies_done(id, &[done("INBOX", 7, 1, Some(5))], fence)
        .await
        .unwrap();
    store
        .record_intents(id, &[intent("INBOX", 7, 2, 10)], fence)
        .await
        .unwrap();
    store
        .drop_intents(id, &[("INBOX".into(), 7, 2)], fence)
        .await
        .unwrap();
    store
        .record_skipped(id, &skipped("INBOX", 9, SkipKind::Large, "big"), fence)
        .await
        .unwrap();
    changed.last_seen_uid = Some(9);
    store.upsert_folder_state(&changed, fence).await.unwrap();
    let at =
        chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis() + 3_600_000)
            .unwrap();
    store.set_next_sync(id, Some(at), fence).await.unwrap();
    let u = store.user(id).await.unwrap();
    assert_eq!(u.status, Syncing);
    assert_eq!(
        (u.items_synced, u.bytes_synced, u.items_skipped_large),
        (1, 100, 1)
    );
    assert_eq!(u.next_sync_at, Some(at));
    assert_eq!(store.copied_uids(id, "INBOX", 7).await.unwrap(), [1]);
    assert!(store.open_intents(id, "INBOX").await.unwrap().is_empty());
    let inbox = folder(&store, id, "INBOX").await;
    assert_eq!((inbox.messages_source, inbox.last_seen_uid), (77, Some(9)));
    store
        .set_user_counters(
            id,
            UserCounters {
                items_source: 3,
                ..UserCounters::default()
            },
            fence,
        )
        .await
        .unwrap();
    assert_eq!(store.user(id).await.unwrap().items_source, 3);

    // renewing extends; releasing ends it, and then the holder is fenced too
    let renewed = store
        .renew_lease(&new, Duration::from_secs(600))
        .await
        .unwrap();
    assert!(renewed.expires_at > new.expires_at);
    assert_eq!((renewed.token, renewed.owner.as_str()), (2, "new"));
    assert_eq!(
        store.leases().await.unwrap()[0].expires_at,
        renewed.expires_at
    );
    store.release_lease(&renewed).await.unwrap();
    store.release_lease(&renewed).await.unwrap();
    assert!(store.leases().await.unwrap().is_empty());
    assert_lease_lost(
        store.set_next_sync(id, None, Some(&renewed)).await,
        id,
        "write after release",
    );
    assert_lease_lost(
        store.renew_lease(&renewed, Duration::from_secs(1)).await,
        id,
        "renew after release",
    );
    // administrative writes need no lease
    store.set_next_sync(id, None, None).await.unwrap();
    assert!(matches!(
        store.set_next_sync("nope", None, None).await,
        Err(StoreError::NotFound { .. })
    ));
}

/// A fenced transition to a settled status gives the lease up in the same
/// transaction; other transitions keep it.
pub async fn a_settled_transition_clears_the_lease(store: Arc<dyn Store>) {
    use UserStatus::*;
    two_endpoints(&store).await;
    let users = batch_of(&store, "b", "src", "tgt", "u", 1, true).await;
    let id = users[0].id.as_str();
    let grab = |worker: &'static str| {
        let store = store.clone();
        async move {
            store
                .claim_users(&claim(worker, None, 1, LONG))
                .await
                .unwrap()
                .pop()
                .map(|(_, l)| l)
        }
    };
    let mut token = 0;
    for (path, settled) in [
        (&[Queued, Syncing, Synced][..], Synced),
        (&[Synced, Queued, Syncing, Failed][..], Failed),
        (&[Failed, Queued, Syncing, Stopping, Stopped][..], Stopped),
        (&[Stopped, Completing, Completed][..], Completed),
    ] {
        // the administrator requeues (no fence) up to the claimable status
        let claimable = path
            .iter()
            .position(|s| matches!(s, Queued | Completing))
            .unwrap();
        walk(&store, id, &path[..=claimable]).await;
        let lease = grab("w").await.expect("claimable");
        token += 1;
        assert_eq!(lease.token, token);
        for w in path[claimable..].windows(2) {
            assert_eq!(
                store.leases().await.unwrap().len(),
                1,
                "kept before {}",
                w[1]
            );
            store
                .transition_user(id, w[0], w[1], None, Some(&lease))
                .await
                .unwrap();
        }
        assert!(
            store.leases().await.unwrap().is_empty(),
            "{settled} clears it"
        );
        assert_eq!(store.user(id).await.unwrap().status, settled);
        assert_lease_lost(
            store.renew_lease(&lease, Duration::from_secs(60)).await,
            id,
            "renew after a settled transition",
        );
        assert_lease_lost(
            store
                .set_user_counters(id, UserCounters::default(), Some(&lease))
                .await,
            id,
            "write after a settled transition",
        );
    }
}

/// users_due_for_sync: Synced users of started batches (not being removed,
/// not completing) whose next sync time has come, most overdue first.
pub async fn users_due_for_sync_are_synced_users_whose_time_came(store: Arc<dyn Store>) {
    use UserStatus::*;
    two_endpoints(&store).await;
    let now = chrono::Utc::now();
    let ago = |s: i64| Some(now - chrono::Duration::seconds(s));
    let b = batch_of(&store, "b", "src", "tgt", "b", 5, true).await;
    for u in &b[..4] {
        walk(&store, &u.id, &[Queued, Syncing, Synced]).await;
    }
    store.set_next_sync(&b[0].id, ago(10), None).await.unwrap();
    store.set_next_sync(&b[1].id, ago(20), None).await.unwrap();
    store
        .set_next_sync(&b[2].id, ago(-3600), None)
        .await
        .unwrap(); // in an hour
                   // b3: synced, no next sync; b4: queued, its time came but it is not Synced
    store.set_next_sync(&b[4].id, ago(30), None).await.unwrap();
    assert_eq!(
        store.user(&b[1].id).await.unwrap().next_sync_at,
        ago(20).map(|t| { chrono::DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap() })
    );
    // due users of batches that are stopped, being removed or completing
    for (name, prep) in [("stopped", 0), ("removing", 1), ("completing", 2)] {
        let users = batch_of(&store, name, "src", "tgt", name, 1, true).await;
        walk(&store, &users[0].id, &[Queued, Syncing, Synced]).await;
        store
            .set_next_sync(&users[0].id, ago(60), None)
            .await
            .unwrap();
        match prep {
            0 => store.set_batch_started(name, false).await.unwrap(),
            1 => store.set_batch_removing(name).await.unwrap(),
            _ => store.set_batch_complete_requested(name).await.unwrap(),
        }
    }

    let due = store.users_due_for_sync(now, 10).await.unwrap();
    assert_eq!(emails(&due), ["b1@x.example", "b0@x.example"]);
    let due = store.users_due_for_sync(now, 1).await.unwrap();
    assert_eq!(emails(&due), ["b1@x.example"]);
    let later = now + chrono::Duration::hours(2);
    assert_eq!(
        emails(&store.users_due_for_sync(later, 10).await.unwrap()),
        ["b1@x.example", "b0@x.example", "b2@x.example"]
    );
    // the scheduler queues one (compare-and-set) and clears another's time
    store
        .transition_user(&b[1].id, Synced, Queued, None, None)
        .await
        .unwrap();
    store.set_next_sync(&b[0].id, None, None).await.unwrap();
    assert!(store.users_due_for_sync(now, 10).await.unwrap().is_empty());
    assert_eq!(store.user(&b[0].id).await.unwrap().next_sync_at, None);
}

/// Workers announce themselves; the list shows each with its live leases;
/// stale ones are forgotten.
pub async fn workers_heartbeat_and_are_listed_with_their_leases(store: Arc<dyn Store>) {
    let info = |id: &str, version: &str| WorkerInfo {
        id: id.into(),
        host: format!("{id}.example"),
        pid: Some(4242),
        version: Some(version.into()),
    };
    assert!(store.workers().await.unwrap().is_empty());
    store.heartbeat_worker(&info("stale", "0.1")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let cutoff = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(30)).await;
    store.heartbeat_worker(&info("w2", "1.0")).await.unwrap();
    store.heartbeat_worker(&info("w1", "1.0")).await.unwrap();
    let first = store.workers().await.unwrap();
    let names: Vec<&str> = first.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(names, ["stale", "w1", "w2"]);
    assert_eq!(first[1].host, "w1.example");
    assert_eq!(first[1].pid, Some(4242));
    assert_eq!(first[1].version.as_deref(), Some("1.0"));
    assert_eq!(first[1].started_at, first[1].heartbeat_at);
    assert!(first.iter().all(|w| w.leases == 0));

    two_endpoints(&store).await;
    batch_of(&store, "b", "src", "tgt", "u", 3, true).await;
    let claimed = store
        .claim_users(&claim("w1", None, 2, LONG))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    store.claim_users(&claim("w2", None, 2, 1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await; // w2's lease expires

    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut again = info("w1", "1.1");
    again.pid = None;
    store.heartbeat_worker(&again).await.unwrap();
    let list = store.workers().await.unwrap();
    let w1 = list.iter().find(|w| w.id == "w1").unwrap();
    assert_eq!(w1.leases, 2);
    assert_eq!((w1.pid, w1.version.as_deref()), (None, Some("1.1")));
    assert_eq!(w1.started_at, first[1].started_at, "first heartbeat kept");
    assert!(w1.heartbeat_at > first[1].heartbeat_at);
    assert_eq!(list.iter().find(|w| w.id == "w2").unwrap().leases, 0);

    // a dead worker's leases can be given up from the list
    for l in store.leases().await.unwrap() {
        assert_eq!(l.owner, "w1");
        store.release_lease(&l.to_lease()).await.unwrap();
    }
    let list = store.workers().await.unwrap();
    assert!(list.iter().all(|w| w.leases == 0));

    assert_eq!(store.forget_workers(cutoff).await.unwrap(), 1);
    let names: Vec<String> = store
        .workers()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(names, ["w1", "w2"]);
}

/// remove_batch refuses while a worker holds one of its users, then removes
/// the batch with everything of it, and nothing of another batch.
pub async fn remove_batch_waits_for_leases_and_removes_everything(store: Arc<dyn Store>) {
    use UserStatus::*;
    two_endpoints(&store).await;
    let users = batch_of(&store, "doomed", "src", "tgt", "d", 2, true).await;
    let keep = batch_of(&store, "kept", "src", "tgt", "k", 1, false).await;
    let mut all = users.clone();
    all.extend(keep.clone());
    for u in &all {
        let id = u.id.as_str();
        store
            .upsert_folder_state(&FolderState::new(id, "INBOX"), None)
            .await
            .unwrap();
        store
            .record_intents(
                id,
                &[intent("INBOX", 7, 1, 10), intent("INBOX", 7, 2, 10)],
                None,
            )
            .await
            .unwrap();
        store
            .record_copies_done(id, &[done("INBOX", 7, 1, Some(1))], None)
            .await
            .unwrap();
        store
            .record_skipped(id, &skipped("INBOX", 3, SkipKind::Bad, "x"), None)
            .await
            .unwrap();
    }
    let (_, lease) = store
        .claim_users(&claim("w", Some("doomed"), 1, LONG))
        .await
        .unwrap()
        .remove(0);
    store
        .transition_user(&lease.user_id, Queued, Syncing, None, Some(&lease))
        .await
        .unwrap();
    match store.remove_batch("doomed").await {
        Err(StoreError::StateChanged { expected, actual }) => {
            assert_eq!((expected, actual), (Stopped, Syncing))
        }
        other => panic!("expected StateChanged, got {other:?}"),
    }
    assert_eq!(store.batch("doomed").await.unwrap().name.as_str(), "doomed");
    assert_eq!(
        store.copied_uids(&users[0].id, "INBOX", 7).await.unwrap(),
        [1]
    );

    // the user stops; its lease goes with the settled transition
    store
        .transition_user(&lease.user_id, Syncing, Stopping, None, Some(&lease))
        .await
        .unwrap();
    store
        .transition_user(&lease.user_id, Stopping, Stopped, None, Some(&lease))
        .await
        .unwrap();
    store.set_batch_removing("doomed").await.unwrap();
    store.remove_batch("DOOMED").await.unwrap();
    assert!(matches!(
        store.batch("doomed").await,
        Err(StoreError::NotFound { what: "batch", .. })
    ));
    for u in &users {
        assert!(matches!(
            store.user(&u.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(store.folder_states(&u.id).await.unwrap().is_empty());
        assert!(store.open_intents(&u.id, "INBOX").await.unwrap().is_empty());
        assert!(store
            .copied_uids(&u.id, "INBOX", 7)
            .await
            .unwrap()
            .is_empty());
        assert!(store.skipped_items(&u.id).await.unwrap().is_empty());
    }
    let k = keep[0].id.as_str();
    assert_eq!(store.folder_states(k).await.unwrap().len(), 1);
    assert_eq!(store.open_intents(k, "INBOX").await.unwrap().len(), 1);
    assert_eq!(store.copied_uids(k, "INBOX", 7).await.unwrap(), [1]);
    assert_eq!(store.skipped_items(k).await.unwrap().len(), 1);
    assert_eq!(emails(&all_users(&store).await), ["k0@x.example"]);
    assert!(matches!(
        store.remove_batch("doomed").await,
        Err(StoreError::NotFound { what: "batch", .. })
    ));
}

pub async fn forgotten_copies_leave_the_counters_and_renames_carry_everything(store: Arc<dyn Store>) {
    let user = one_user(&store).await;
    let id = user.id.as_str();
    store
        .record_intents(id, &[intent("INBOX", 7, 1, 100), intent("INBOX", 7, 2, 200), intent("Old", 3, 1, 50)], None)
        .await
        .unwrap();
    store
        .record_copies_done(id, &[done("INBOX", 7, 1, Some(11)), done("INBOX", 7, 2, Some(12)), done("Old", 3, 1, Some(1))], None)
        .await
        .unwrap();
    assert_eq!(store.user(id).await.unwrap().items_synced, 3);

    // A UIDVALIDITY change: the folder's copies are forgotten and uncounted.
    assert_eq!(store.forget_folder_copies(id, "INBOX", None).await.unwrap(), 2);
    let u = store.user(id).await.unwrap();
    assert_eq!((u.items_synced, u.bytes_synced), (1, 50));
    assert!(store.copied_uids(id, "INBOX", 7).await.unwrap().is_empty());
    let f = folder(&store, id, "INBOX").await;
    assert_eq!((f.messages_synced, f.source_uidvalidity), (0, None));

    // A rename: state and copies follow the new name.
    store.rename_folder_state(id, "Old", "New", "Migrated/New", None).await.unwrap();
    assert_eq!(store.copied_uids(id, "New", 3).await.unwrap(), vec![1]);
    assert!(store.copied_uids(id, "Old", 3).await.unwrap().is_empty());
    assert_eq!(folder(&store, id, "New").await.target_folder.as_deref(), Some("Migrated/New"));
    assert!(matches!(
        store.rename_folder_state(id, "Old", "X", "X", None).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn api_tokens_are_stored_hashed_and_revocable(store: Arc<dyn Store>) {
    let h1 = [1u8; 32];
    let h2 = [2u8; 32];
    let t = store.create_token("ci", &h1).await.unwrap();
    assert_eq!(t.name, "ci");
    assert!(matches!(store.create_token("CI", &h2).await, Err(StoreError::AlreadyExists { .. })));
    let found = store.token_by_hash(&h1).await.unwrap().expect("live token");
    assert!(found.last_used_at.is_some());
    assert!(store.token_by_hash(&h2).await.unwrap().is_none());
    store.revoke_token("ci").await.unwrap();
    assert!(store.token_by_hash(&h1).await.unwrap().is_none(), "a revoked token opens nothing");
    assert!(matches!(store.revoke_token("ci").await, Err(StoreError::NotFound { .. })));
    // The name is free again.
    store.create_token("ci", &h2).await.unwrap();
    let all = store.tokens().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].revoked_at.is_some() && all[1].revoked_at.is_none());
}


/// One leader at a time: a second holder is refused while the lease lives
/// (the leader renews it), takes over once it expired, and of many asking
/// at once exactly one leads.
pub async fn only_one_holder_leads_until_its_lease_expires(store: Arc<dyn Store>) {
    let short = Duration::from_millis(1_000);
    let past_it = || tokio::time::sleep(Duration::from_millis(1_100));
    assert!(store.try_lead("sched-a", short).await.unwrap());
    assert!(!store.try_lead("sched-b", short).await.unwrap());
    // renewing: a keeps the lead past its first lease's end
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(store.try_lead("sched-a", short).await.unwrap(), "a renews");
        assert!(!store.try_lead("sched-b", short).await.unwrap(), "b waits");
    }
    // a stops renewing: once its lease expired, b takes over, and a is out
    past_it().await;
    assert!(store.try_lead("sched-b", short).await.unwrap());
    assert!(!store.try_lead("sched-a", short).await.unwrap());
    assert!(store.try_lead("sched-b", short).await.unwrap());
    assert!(matches!(
        store.try_lead("sched-b", Duration::from_secs(400 * 24 * 3600)).await,
        Err(StoreError::Unsupported(_))
    ));

    // many at once, after b's lease ran out: exactly one wins
    past_it().await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let holder = format!("racer-{i:02}");
            let led = store.try_lead(&holder, Duration::from_secs(60)).await.unwrap();
            (holder, led)
        }));
    }
    let mut leaders = Vec::new();
    for t in tasks {
        let (holder, led) = t.await.unwrap();
        if led {
            leaders.push(holder);
        }
    }
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    assert!(store.try_lead(&leaders[0], Duration::from_secs(60)).await.unwrap());
    assert!(!store.try_lead("sched-b", short).await.unwrap());
}


/// Addresses and token names beyond ASCII are found by what was given
/// (ASCII letters in any case), and clash with themselves.
pub async fn non_ascii_addresses_and_token_names_match(store: Arc<dyn Store>) {
    two_endpoints(&store).await;
    let email = "Ünïcode.Ä@x.example";
    store
        .create_batch_with_users(new_batch("a", "src", "tgt"), vec![new_user(email, 2, None)])
        .await
        .unwrap();
    for again in [email, "ÜNïCODE.Ä@x.example"] {
        let err = store
            .create_batch_with_users(new_batch("b", "src", "tgt"), vec![new_user(again, 2, None)])
            .await
            .unwrap_err();
        assert_eq!(conflict_emails(err), [pair(again, "a")]);
    }
    for given in [email, "ÜNïcODE.Ä@x.example"] {
        let found = store
            .users(UserFilter {
                email: Some(given.into()),
                ..UserFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(emails(&found), [email], "{given}");
    }

    store.create_token("Clé-été", &[3; 32]).await.unwrap();
    assert!(matches!(
        store.create_token("CLé-été", &[4; 32]).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    store.revoke_token("cLé-été").await.unwrap();
    assert!(store.token_by_hash(&[3; 32]).await.unwrap().is_none());
}

/// Runs every check of the suite, each with a fresh store from `make`.
#[macro_export]
macro_rules! store_suite {
    ($make:expr) => {
        store_suite!(@tests $make;
            endpoint_round_trip_with_every_setting,
            endpoints_are_listed_by_name,
            duplicate_endpoint_name_is_already_exists,
            missing_endpoint_is_not_found,
            update_endpoint_keeps_or_replaces_the_secret,
            remove_endpoint_in_use_names_the_batches,
            batches_need_existing_endpoints_and_unique_names,
            events_are_logged_and_filtered,
            concurrent_writes_succeed,
            batch_with_users_is_created_atomically,
            an_address_in_another_active_batch_is_a_conflict,
            a_completed_user_does_not_clash,
            transition_user_is_compare_and_set,
            copies_done_count_exactly_once,
            open_intents_can_be_dropped,
            copied_uids_are_sorted,
            skipped_items_are_idempotent_and_counted,
            folder_state_round_trip,
            users_are_filtered_and_paged,
            concurrent_progress_is_not_lost,
            claim_respects_batch_state_status_and_order,
            concurrent_claims_share_nothing_and_respect_endpoint_limits,
            an_expired_lease_is_taken_over_and_fences_the_old_holder,
            a_settled_transition_clears_the_lease,
            users_due_for_sync_are_synced_users_whose_time_came,
            workers_heartbeat_and_are_listed_with_their_leases,
            remove_batch_waits_for_leases_and_removes_everything,
            forgotten_copies_leave_the_counters_and_renames_carry_everything,
            api_tokens_are_stored_hashed_and_revocable,
            only_one_holder_leads_until_its_lease_expires,
            non_ascii_addresses_and_token_names_match,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        mod suite_checks {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (_guard, store) = $make.await;
                    suite::$name(store).await;
                }
            )*
        }
    };
}
