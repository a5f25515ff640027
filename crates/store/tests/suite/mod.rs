//! Backend-independent checks of the [`Store`] contract. Every backend's
//! test file calls each `pub async fn` here with a fresh, empty store
//! (`tests/sqlite.rs` now, `tests/postgres.rs` later).

#![allow(dead_code)]

use std::sync::Arc;

use mailferry_core::{
    EndpointKind, EndpointSettings, Impersonation, LoginFormat, Name, Secret, Security,
};
use mailferry_store::{
    EventFilter, EventLevel, NewBatch, NewEndpoint, NewEvent, Store, StoreError,
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
