//! The security rules: private addresses, validated TLS, no query outside
//! the domain, resolving once, the budget, no password in any output.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use mailferry_core::EmailAddress;
use mailferry_discovery::{discover, DiscoveryError, Method, Outcome};

// ------------------------------------------------------------ security rules

#[tokio::test]
async fn private_addresses_are_refused_without_the_opt_in() {
    let w = world(everything_answers(), not_found(), Some(ImapMode::Tls), None).await;
    for h in [
        "autodiscover.example.test",
        "autoconfig.example.test",
        "imap.example.test",
        "mail.example.test",
    ] {
        w.dns.a(h);
    }
    w.dns
        .a_ip("example.test", std::net::Ipv4Addr::new(169, 254, 169, 254));
    let mut config = w.config.clone();
    config.allow_private_networks = false;
    let t = text(&nothing(discover(&alice(), creds(), &config).await));
    assert!(t.contains("--allow-private-networks"), "{t}");
    assert!(t.contains("metadata"), "{t}");
    assert!(
        w.https.seen().is_empty(),
        "a request reached a private address"
    );
    assert!(
        w.http.seen().is_empty(),
        "a request reached a private address"
    );
    assert_eq!(w.imaps.as_ref().unwrap().connections(), 0);
}

#[tokio::test]
async fn the_metadata_address_is_refused_even_with_the_opt_in() {
    let w = world(everything_answers(), not_found(), None, None).await;
    w.dns.a_ip(
        "autoconfig.example.test",
        std::net::Ipv4Addr::new(169, 254, 169, 254),
    );
    let t = text(&nothing(discover(&alice(), None, &w.config).await));
    assert!(
        t.contains("169.254.169.254 is the cloud metadata address"),
        "{t}"
    );
}

#[tokio::test]
async fn credentials_go_only_over_validated_tls() {
    let w = world(everything_answers(), not_found(), None, None).await;
    w.dns.a("autodiscover.example.test");
    let mut config = w.config.clone();
    // Trust another CA: the servers' certificates no longer validate.
    config.extra_ca_pem = Some(
        mailferry_testkit::TestCa::new("other")
            .cert_pem
            .into_bytes(),
    );
    let t = text(&nothing(discover(&alice(), creds(), &config).await));
    assert!(
        t.contains("TLS with autodiscover.example.test failed"),
        "{t}"
    );
    assert!(
        w.https.seen().is_empty(),
        "a request was made over unvalidated TLS"
    );
}

#[tokio::test]
async fn no_query_is_ever_made_for_autodiscover_under_a_public_suffix() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autodiscover.example.test", "POST", AD_PATH)(s) {
                Reply::Xml(pox_action("redirectAddr", "RedirectAddr", "bob@test"))
            } else {
                Reply::Status(404)
            }
        }),
        not_found(),
        None,
        None,
    )
    .await;
    w.dns.a("autodiscover.example.test");
    // An address directly under a public suffix is refused before any query.
    let bare = EmailAddress::parse("alice@test").unwrap();
    assert!(matches!(
        discover(&bare, creds(), &w.config).await,
        Err(DiscoveryError::InvalidAddress { .. })
    ));
    assert!(w.dns.queries().is_empty(), "{:?}", w.dns.queries());
    // A full discovery (with a redirectAddr to a public-suffix domain) asks
    // only about names inside example.test.
    let t = text(&nothing(discover(&alice(), creds(), &w.config).await));
    assert!(t.contains("public suffix"), "{t}");
    let queries = w.dns.queries();
    assert!(!queries.is_empty());
    for q in &queries {
        let name = q.split(' ').next().unwrap();
        assert!(
            name.ends_with(".example.test.") || name == "example.test.",
            "query for {q}"
        );
        assert!(!name.starts_with("autodiscover.test"), "query for {q}");
    }
}

#[tokio::test]
async fn each_host_is_resolved_once() {
    let w = world(everything_answers(), not_found(), None, None).await;
    w.dns.a("autodiscover.example.test");
    let _ = discover(&alice(), creds(), &w.config).await;
    let a_queries = w
        .dns
        .queries()
        .into_iter()
        .filter(|q| q == "autodiscover.example.test. A")
        .count();
    // Asked by the https POST and the http redirect probe: resolved once.
    assert_eq!(a_queries, 1);
}

#[tokio::test]
async fn the_budget_bounds_a_black_hole() {
    let w = world(
        Arc::new(|s: &Seen| {
            if s.host == "autodiscover.example.test" {
                Reply::Hang
            } else if is("autoconfig.example.test", "GET", "/mail/")(s) {
                Reply::Xml(autoconfig(
                    "imap.example.test",
                    993,
                    "SSL",
                    "%EMAILADDRESS%",
                ))
            } else {
                Reply::Status(404)
            }
        }),
        not_found(),
        None,
        None,
    )
    .await;
    w.dns.a("autodiscover.example.test");
    w.dns.a("autoconfig.example.test");
    w.dns.a("imap.example.test");
    let mut config = w.config.clone();
    config.step_timeout = Duration::from_secs(60);
    config.budget = Duration::from_millis(1500);
    let start = Instant::now();
    let d = ok(discover(&alice(), creds(), &config).await);
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "{:?}",
        start.elapsed()
    );
    assert!(d.source.starts_with("autoconfig:"));
    assert!(d.trace.iter().any(|e| e.method == Method::Autodiscover
        && matches!(&e.outcome, Outcome::NotTried(r) if r.contains("budget"))));

    // Nothing but black holes: a budget error, on time.
    let w = world(Arc::new(|_: &Seen| Reply::Hang), not_found(), None, None).await;
    w.dns.a("autoconfig.example.test");
    let mut config = w.config.clone();
    config.step_timeout = Duration::from_secs(60);
    config.budget = Duration::from_millis(1000);
    let start = Instant::now();
    let r = discover(&alice(), None, &config).await;
    assert!(
        start.elapsed() < Duration::from_millis(2000),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(r, Err(DiscoveryError::Budget { .. })), "{r:?}");
}

#[tokio::test]
async fn the_password_never_appears_in_errors_or_traces() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autodiscover.example.test", "POST", AD_PATH)(s) {
                Reply::Status(401)
            } else {
                Reply::Status(404)
            }
        }),
        not_found(),
        None,
        None,
    )
    .await;
    w.dns.a("autodiscover.example.test");
    let err = discover(&alice(), creds(), &w.config).await.unwrap_err();
    for rendered in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{:?}", creds()),
    ] {
        assert!(!rendered.contains(PASSWORD), "{rendered}");
        // Nor the Basic header's value.
        assert!(!rendered.contains("Omh1bnRlcjItU2VjcmV0"), "{rendered}");
    }
}

#[test]
fn the_discovery_future_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let config = mailferry_discovery::DiscoveryConfig::default();
    let address = alice();
    let fut = discover(&address, creds(), &config);
    assert_send(&fut);
}
