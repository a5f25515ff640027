//! Each discovery method alone on loopback (an in-process DNS server, HTTPS
//! with a test CA, a fake IMAP server), and the ranking when several answer.
//! Every host resolves to 127.0.0.1, so these tests allow private networks.

mod common;

use std::sync::Arc;

use common::*;
use mailferry_core::Security;
use mailferry_discovery::{discover, DiscoveryError, Found, Method, Outcome};

// ------------------------------------------------------------ each method alone

#[tokio::test]
async fn autodiscover_alone() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autodiscover.example.test", "POST", AD_PATH)(s) {
                Reply::Xml(pox_settings("imap.example.test", 993, "alice@example.test"))
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
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), creds(), &w.config).await);
    assert_eq!(
        d.source,
        format!(
            "autodiscover:https://autodiscover.example.test:{}{AD_PATH}",
            w.https.port
        )
    );
    assert_eq!(
        d.settings,
        Found {
            host: "imap.example.test".to_owned(),
            port: 993,
            security: Security::Tls,
            login_format: Some("%EMAILADDRESS%".to_owned()),
            needs_trust: vec![],
            addresses: vec![std::net::SocketAddr::from((LOCALHOST, 993))],
        }
    );
    let post = w
        .https
        .seen()
        .into_iter()
        .find(is("autodiscover.example.test", "POST", AD_PATH))
        .unwrap();
    // "admin@example.test:hunter2-Secret" in base64.
    assert_eq!(
        post.authorization.as_deref(),
        Some("Basic YWRtaW5AZXhhbXBsZS50ZXN0Omh1bnRlcjItU2VjcmV0")
    );
    assert!(post
        .body
        .contains("<EMailAddress>alice@example.test</EMailAddress>"));
    assert!(d
        .trace
        .iter()
        .any(|e| e.method == Method::Autodiscover && e.outcome == Outcome::Found));
}

#[tokio::test]
async fn autoconfig_alone_without_credentials() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is(
                "autoconfig.example.test",
                "GET",
                "/mail/config-v1.1.xml?emailaddress=alice%40example.test",
            )(s)
            {
                Reply::Xml(autoconfig(
                    "imap.example.test",
                    143,
                    "STARTTLS",
                    "%EMAILLOCALPART%",
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
    w.dns.a("autoconfig.example.test");
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), None, &w.config).await);
    assert_eq!(
        d.source,
        format!(
            "autoconfig:https://autoconfig.example.test:{}/mail/config-v1.1.xml?emailaddress=alice%40example.test",
            w.https.port
        )
    );
    assert_eq!(d.settings.security, Security::Starttls);
    assert_eq!(d.settings.port, 143);
    assert_eq!(d.settings.login_format.as_deref(), Some("%EMAILLOCALPART%"));
    assert_eq!(d.trace[0].method, Method::Autodiscover);
    assert!(matches!(&d.trace[0].outcome, Outcome::NotTried(r) if r.contains("no credentials")));
    assert!(w.https.seen().iter().all(|s| s.authorization.is_none()));
    assert!(w.http.seen().is_empty());
}

#[tokio::test]
async fn autoconfig_from_the_well_known_path() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is(
                "example.test",
                "GET",
                "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=",
            )(s)
            {
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
    w.dns.a("example.test");
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), None, &w.config).await);
    assert!(
        d.source.contains("/.well-known/autoconfig/"),
        "{}",
        d.source
    );
    assert_eq!((d.settings.port, d.settings.security), (993, Security::Tls));
}

#[tokio::test]
async fn autoconfig_from_a_provider_database() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("db.example.test", "GET", "/v1.1/example.test")(s) {
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
    w.dns.a("db.example.test");
    w.dns.a("imap.example.test");
    let mut config = w.config.clone();
    config.provider_db = Some(format!("https://db.example.test:{}/v1.1", w.https.port));
    let d = ok(discover(&alice(), None, &config).await);
    assert_eq!(
        d.source,
        format!(
            "autoconfig:https://db.example.test:{}/v1.1/example.test",
            w.https.port
        )
    );
    config.provider_db = Some("http://db.example.test/v1.1".to_owned());
    assert!(matches!(
        discover(&alice(), None, &config).await,
        Err(DiscoveryError::Config(_))
    ));
}

#[tokio::test]
async fn srv_alone_prefers_imaps() {
    let w = world(not_found(), not_found(), None, None).await;
    w.dns
        .srv("_imap._tcp.example.test", 0, 1, 143, "imap.example.test");
    w.dns.srv(
        "_imaps._tcp.example.test",
        10,
        1,
        10993,
        "imap.example.test",
    );
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), None, &w.config).await);
    assert_eq!(d.source, "srv:_imaps._tcp.example.test");
    assert_eq!(
        (
            d.settings.host.as_str(),
            d.settings.port,
            d.settings.security
        ),
        ("imap.example.test", 10993, Security::Tls)
    );
    let imap = d
        .trace
        .iter()
        .find(|e| e.what == "_imap._tcp.example.test")
        .unwrap();
    assert!(
        matches!(
            imap.outcome,
            Outcome::Superseded { .. } | Outcome::NotTried(_)
        ),
        "{imap}"
    );
}

#[tokio::test]
async fn probe_alone_implicit_tls() {
    let w = world(not_found(), not_found(), Some(ImapMode::Tls), None).await;
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), None, &w.config).await);
    let port = w.imaps.as_ref().unwrap().port;
    assert_eq!(d.source, format!("probe:imap.example.test:{port}"));
    // The address discovery checked, to connect to without resolving again.
    assert_eq!(
        d.settings.addresses,
        [std::net::SocketAddr::from((LOCALHOST, port))]
    );
    assert_eq!(
        (
            d.settings.port,
            d.settings.security,
            d.settings.login_format.clone()
        ),
        (port, Security::Tls, None)
    );
    // The other methods were tried first and said why they had nothing.
    assert!(d
        .trace
        .iter()
        .any(|e| e.method == Method::Autoconfig && matches!(e.outcome, Outcome::Failed(_))));
    assert!(d.trace.iter().any(|e| e.method == Method::Srv
        && matches!(&e.outcome, Outcome::Failed(r) if r.contains("no SRV"))));
}

#[tokio::test]
async fn probe_starttls_when_implicit_tls_is_closed() {
    let w = world(not_found(), not_found(), None, Some(ImapMode::Starttls)).await;
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), None, &w.config).await);
    assert_eq!(d.settings.security, Security::Starttls);
    assert_eq!(d.settings.port, w.imap.as_ref().unwrap().port);
}

#[tokio::test]
async fn starttls_advertised_but_broken_is_not_a_result() {
    let w = world(
        not_found(),
        not_found(),
        None,
        Some(ImapMode::BrokenStarttls),
    )
    .await;
    w.dns.a("imap.example.test");
    let trace = nothing(discover(&alice(), None, &w.config).await);
    let t = text(&trace);
    assert!(t.contains("upgrade failed"), "{t}");
}

#[tokio::test]
async fn starttls_not_advertised_is_not_a_result() {
    let w = world(not_found(), not_found(), None, Some(ImapMode::NoStarttls)).await;
    w.dns.a("imap.example.test");
    let trace = nothing(discover(&alice(), None, &w.config).await);
    let t = text(&trace);
    assert!(t.contains("does not advertise STARTTLS"), "{t}");
}

#[tokio::test]
async fn preauth_before_starttls_is_not_a_result() {
    let w = world(
        not_found(),
        not_found(),
        None,
        Some(ImapMode::PreauthStarttls),
    )
    .await;
    w.dns.a("imap.example.test");
    let trace = nothing(discover(&alice(), None, &w.config).await);
    let t = text(&trace);
    assert!(t.contains("pre-authenticated"), "{t}");
}

#[tokio::test]
async fn preauth_on_implicit_tls_is_not_a_result() {
    let w = world(not_found(), not_found(), Some(ImapMode::PreauthTls), None).await;
    w.dns.a("imap.example.test");
    let trace = nothing(discover(&alice(), None, &w.config).await);
    let t = text(&trace);
    assert!(t.contains("pre-authenticates connections"), "{t}");
}

#[tokio::test]
async fn data_injected_after_the_starttls_ok_is_not_a_result() {
    let w = world(
        not_found(),
        not_found(),
        None,
        Some(ImapMode::InjectingStarttls),
    )
    .await;
    w.dns.a("imap.example.test");
    let trace = nothing(discover(&alice(), None, &w.config).await);
    let t = text(&trace);
    assert!(t.contains("after accepting STARTTLS"), "{t}");
}

// ------------------------------------------------------------ precedence

#[tokio::test]
async fn autodiscover_wins_over_autoconfig_and_srv() {
    let w = world(everything_answers(), not_found(), None, None).await;
    for h in [
        "autodiscover.example.test",
        "autoconfig.example.test",
        "imap.example.test",
        "mail.example.test",
        "srv.example.test",
    ] {
        w.dns.a(h);
    }
    w.dns
        .srv("_imaps._tcp.example.test", 0, 0, 993, "srv.example.test");
    let d = ok(discover(&alice(), creds(), &w.config).await);
    assert!(d.source.starts_with("autodiscover:"), "{}", d.source);
    assert_eq!(d.settings.host, "imap.example.test");
    let autoconfig = d
        .trace
        .iter()
        .find(|e| e.what.contains("autoconfig.example.test"))
        .unwrap();
    assert_eq!(
        autoconfig.outcome,
        Outcome::Superseded {
            by: d.source.clone()
        }
    );
}

#[tokio::test]
async fn autoconfig_wins_over_srv() {
    let w = world(everything_answers(), not_found(), None, None).await;
    for h in [
        "autoconfig.example.test",
        "mail.example.test",
        "srv.example.test",
    ] {
        w.dns.a(h);
    }
    w.dns
        .srv("_imaps._tcp.example.test", 0, 0, 993, "srv.example.test");
    let d = ok(discover(&alice(), None, &w.config).await);
    assert!(d.source.starts_with("autoconfig:"), "{}", d.source);
    assert_eq!(d.settings.host, "mail.example.test");
}

// ------------------------------------------------------------ SRV

#[tokio::test]
async fn an_srv_target_of_dot_means_no_such_service_and_no_guess() {
    let w = world(
        not_found(),
        not_found(),
        Some(ImapMode::Tls),
        Some(ImapMode::Starttls),
    )
    .await;
    w.dns.srv("_imaps._tcp.example.test", 0, 0, 0, ".");
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), None, &w.config).await);
    assert_eq!(d.settings.security, Security::Starttls);
    assert_eq!(
        w.imaps.as_ref().unwrap().connections(),
        0,
        "port 993 was probed"
    );
    let t = text(&d.trace);
    assert!(t.contains("does not offer this service"), "{t}");
    assert!(t.contains("offers no IMAPS service"), "{t}");
}

#[tokio::test]
async fn an_srv_target_outside_the_domain_needs_trust() {
    let w = world(not_found(), not_found(), None, None).await;
    w.dns
        .srv("_imaps._tcp.example.test", 0, 0, 993, "imap.provider.test");
    w.dns.a("imap.provider.test");
    let t = text(&nothing(discover(&alice(), None, &w.config).await));
    assert!(t.contains("--trust-host imap.provider.test"), "{t}");
    let mut config = w.config.clone();
    config.trust_hosts = vec!["imap.provider.test".to_owned()];
    let d = ok(discover(&alice(), None, &config).await);
    assert_eq!(d.settings.host, "imap.provider.test");
    assert_eq!(
        d.settings.needs_trust,
        vec!["imap.provider.test".to_owned()]
    );
}

// ------------------------------------------------------------ MX

#[tokio::test]
async fn mx_based_results_are_unconfirmed_until_trusted() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is(
                "autoconfig.provider.test",
                "GET",
                "/mail/config-v1.1.xml?emailaddress=alice%40example.test",
            )(s)
            {
                Reply::Xml(autoconfig(
                    "imap.provider.test",
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
    w.dns.mx("example.test", 20, "mx.other.test");
    w.dns.mx("example.test", 10, "mx1.provider.test");
    w.dns.a("autoconfig.provider.test");
    w.dns.a("imap.provider.test");
    let t = text(&nothing(discover(&alice(), None, &w.config).await));
    assert!(t.contains("unconfirmed"), "{t}");
    let mut config = w.config.clone();
    config.trust_hosts = vec!["imap.provider.test".to_owned()];
    let d = ok(discover(&alice(), None, &config).await);
    assert_eq!(
        d.settings.needs_trust,
        vec!["imap.provider.test".to_owned()]
    );
    assert!(
        d.source.contains("autoconfig.provider.test"),
        "{}",
        d.source
    );
}
