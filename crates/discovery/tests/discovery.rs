//! Discovery end to end on loopback: an in-process DNS server for
//! `example.test`, HTTPS and plain-HTTP servers with a test CA, and a fake
//! IMAP server. Every host resolves to 127.0.0.1, so these tests opt in to
//! private networks — except the one that checks their refusal.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use mailferry_core::{EmailAddress, Security};
use mailferry_discovery::{
    discover, Credentials, Discovery, DiscoveryError, Found, Method, Outcome, TraceEntry,
};

const PASSWORD: &str = "hunter2-Secret";

fn alice() -> EmailAddress {
    EmailAddress::parse("alice@example.test").unwrap()
}

fn creds() -> Option<Credentials<'static>> {
    Some(Credentials {
        login: "admin@example.test",
        password: PASSWORD,
    })
}

fn text(trace: &[TraceEntry]) -> String {
    trace.iter().map(|e| format!("{e}\n")).collect()
}

fn ok(r: Result<Discovery, DiscoveryError>) -> Discovery {
    match r {
        Ok(d) => d,
        Err(e) => panic!("discovery failed: {e}"),
    }
}

fn nothing(r: Result<Discovery, DiscoveryError>) -> Vec<TraceEntry> {
    match r {
        Err(DiscoveryError::NothingFound { trace, .. }) => trace,
        other => panic!("expected NothingFound, got {other:?}"),
    }
}

fn is(host: &str, method: &str, path: &str) -> impl Fn(&Seen) -> bool + 'static {
    let (h, m, p) = (host.to_owned(), method.to_owned(), path.to_owned());
    move |s: &Seen| s.host == h && s.method == m && s.path.starts_with(&p)
}

const AD_PATH: &str = "/autodiscover/autodiscover.xml";

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
        format!("autodiscover:https://autodiscover.example.test:{}{AD_PATH}", w.https.port)
    );
    assert_eq!(
        d.settings,
        Found {
            host: "imap.example.test".to_owned(),
            port: 993,
            security: Security::Tls,
            login_format: Some("%EMAILADDRESS%".to_owned()),
            needs_trust: vec![],
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
    assert!(post.body.contains("<EMailAddress>alice@example.test</EMailAddress>"));
    assert!(d.trace.iter().any(|e| e.method == Method::Autodiscover && e.outcome == Outcome::Found));
}

#[tokio::test]
async fn autoconfig_alone_without_credentials() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autoconfig.example.test", "GET", "/mail/config-v1.1.xml?emailaddress=alice%40example.test")(s) {
                Reply::Xml(autoconfig("imap.example.test", 143, "STARTTLS", "%EMAILLOCALPART%"))
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
            if is("example.test", "GET", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=")(s) {
                Reply::Xml(autoconfig("imap.example.test", 993, "SSL", "%EMAILADDRESS%"))
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
    assert!(d.source.contains("/.well-known/autoconfig/"), "{}", d.source);
    assert_eq!((d.settings.port, d.settings.security), (993, Security::Tls));
}

#[tokio::test]
async fn autoconfig_from_a_provider_database() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("db.example.test", "GET", "/v1.1/example.test")(s) {
                Reply::Xml(autoconfig("imap.example.test", 993, "SSL", "%EMAILADDRESS%"))
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
        format!("autoconfig:https://db.example.test:{}/v1.1/example.test", w.https.port)
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
    w.dns.srv("_imap._tcp.example.test", 0, 1, 143, "imap.example.test");
    w.dns.srv("_imaps._tcp.example.test", 10, 1, 10993, "imap.example.test");
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), None, &w.config).await);
    assert_eq!(d.source, "srv:_imaps._tcp.example.test");
    assert_eq!(
        (d.settings.host.as_str(), d.settings.port, d.settings.security),
        ("imap.example.test", 10993, Security::Tls)
    );
    let imap = d.trace.iter().find(|e| e.what == "_imap._tcp.example.test").unwrap();
    assert!(
        matches!(imap.outcome, Outcome::Superseded { .. } | Outcome::NotTried(_)),
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
    assert_eq!(
        (d.settings.port, d.settings.security, d.settings.login_format.clone()),
        (port, Security::Tls, None)
    );
    // The other methods were tried first and said why they had nothing.
    assert!(d
        .trace
        .iter()
        .any(|e| e.method == Method::Autoconfig && matches!(e.outcome, Outcome::Failed(_))));
    assert!(d
        .trace
        .iter()
        .any(|e| e.method == Method::Srv && matches!(&e.outcome, Outcome::Failed(r) if r.contains("no SRV"))));
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
    let w = world(not_found(), not_found(), None, Some(ImapMode::BrokenStarttls)).await;
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

// ------------------------------------------------------------ precedence

fn everything_answers() -> Handler {
    Arc::new(|s: &Seen| {
        if is("autodiscover.example.test", "POST", AD_PATH)(s) {
            // Slower than the others: the ranking, not the speed, decides.
            Reply::Slow(
                Duration::from_millis(300),
                pox_settings("imap.example.test", 993, "alice@example.test"),
            )
        } else if is("autoconfig.example.test", "GET", "/mail/config-v1.1.xml")(s) {
            Reply::Xml(autoconfig("mail.example.test", 143, "STARTTLS", "%EMAILADDRESS%"))
        } else {
            Reply::Status(404)
        }
    })
}

#[tokio::test]
async fn autodiscover_wins_over_autoconfig_and_srv() {
    let w = world(everything_answers(), not_found(), None, None).await;
    for h in ["autodiscover.example.test", "autoconfig.example.test", "imap.example.test", "mail.example.test", "srv.example.test"] {
        w.dns.a(h);
    }
    w.dns.srv("_imaps._tcp.example.test", 0, 0, 993, "srv.example.test");
    let d = ok(discover(&alice(), creds(), &w.config).await);
    assert!(d.source.starts_with("autodiscover:"), "{}", d.source);
    assert_eq!(d.settings.host, "imap.example.test");
    let autoconfig = d
        .trace
        .iter()
        .find(|e| e.what.contains("autoconfig.example.test"))
        .unwrap();
    assert_eq!(autoconfig.outcome, Outcome::Superseded { by: d.source.clone() });
}

#[tokio::test]
async fn autoconfig_wins_over_srv() {
    let w = world(everything_answers(), not_found(), None, None).await;
    for h in ["autoconfig.example.test", "mail.example.test", "srv.example.test"] {
        w.dns.a(h);
    }
    w.dns.srv("_imaps._tcp.example.test", 0, 0, 993, "srv.example.test");
    let d = ok(discover(&alice(), None, &w.config).await);
    assert!(d.source.starts_with("autoconfig:"), "{}", d.source);
    assert_eq!(d.settings.host, "mail.example.test");
}

// ------------------------------------------------------------ redirects

#[tokio::test]
async fn the_http_redirect_probe_never_carries_credentials() {
    let https_port = Arc::new(std::sync::OnceLock::<u16>::new());
    let p = https_port.clone();
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autodiscover.example.test", "POST", "/ews/autodiscover.xml")(s) {
                Reply::Xml(pox_settings("imap.example.test", 993, "alice@example.test"))
            } else {
                Reply::Status(404)
            }
        }),
        Arc::new(move |s: &Seen| {
            assert!(s.authorization.is_none(), "credentials over plain http: {s:?}");
            Reply::Redirect(
                302,
                format!("https://autodiscover.example.test:{}/ews/autodiscover.xml", p.get().unwrap()),
            )
        }),
        None,
        None,
    )
    .await;
    https_port.set(w.https.port).unwrap();
    w.dns.a("autodiscover.example.test");
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), creds(), &w.config).await);
    assert_eq!(
        d.source,
        format!("autodiscover:https://autodiscover.example.test:{}/ews/autodiscover.xml", w.https.port)
    );
    let plain = w.http.seen();
    assert!(!plain.is_empty());
    assert!(plain.iter().all(|s| s.authorization.is_none() && s.method == "GET" && !s.tls));
    let post = w.https.seen().into_iter().find(is("autodiscover.example.test", "POST", "/ews/")).unwrap();
    assert!(post.tls && post.authorization.is_some());
}

#[tokio::test]
async fn a_redirect_from_http_to_http_is_refused() {
    let http_port = Arc::new(std::sync::OnceLock::<u16>::new());
    let p = http_port.clone();
    let w = world(
        not_found(),
        Arc::new(move |_: &Seen| {
            Reply::Redirect(302, format!("http://autodiscover.example.test:{}/other", p.get().unwrap()))
        }),
        None,
        None,
    )
    .await;
    http_port.set(w.http.port).unwrap();
    w.dns.a("autodiscover.example.test");
    let trace = nothing(discover(&alice(), creds(), &w.config).await);
    let t = text(&trace);
    assert!(t.contains("not https"), "{t}");
    assert!(w.http.seen().iter().all(|s| s.method == "GET" && s.authorization.is_none()));
}

async fn leaving_world() -> World {
    let https_port = Arc::new(std::sync::OnceLock::<u16>::new());
    let p = https_port.clone();
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autodiscover.other.test", "POST", AD_PATH)(s) {
                Reply::Xml(pox_settings("imap.example.test", 993, "alice@example.test"))
            } else {
                Reply::Status(404)
            }
        }),
        Arc::new(move |_: &Seen| {
            Reply::Redirect(
                302,
                format!("https://autodiscover.other.test:{}{AD_PATH}", p.get().unwrap()),
            )
        }),
        None,
        None,
    )
    .await;
    https_port.set(w.https.port).unwrap();
    w.dns.a("autodiscover.example.test");
    w.dns.a("autodiscover.other.test");
    w.dns.a("imap.example.test");
    w
}

#[tokio::test]
async fn a_redirect_leaving_the_domain_is_refused_without_trust() {
    let w = leaving_world().await;
    let trace = nothing(discover(&alice(), creds(), &w.config).await);
    let t = text(&trace);
    assert!(t.contains("--trust-host autodiscover.other.test"), "{t}");
    assert!(
        w.https.seen().iter().all(|s| s.host != "autodiscover.other.test"),
        "the foreign host got a request"
    );
}

#[tokio::test]
async fn a_redirect_leaving_the_domain_is_followed_with_trust() {
    let w = leaving_world().await;
    let mut config = w.config.clone();
    config.trust_hosts = vec!["autodiscover.other.test".to_owned()];
    let d = ok(discover(&alice(), creds(), &config).await);
    assert_eq!(d.settings.needs_trust, vec!["autodiscover.other.test".to_owned()]);
    assert!(d.source.contains("autodiscover.other.test"));
}

#[tokio::test]
async fn redirect_addr_restarts_for_the_new_address() {
    let w = world(
        Arc::new(|s: &Seen| {
            if !is("autodiscover.example.test", "POST", AD_PATH)(s) {
                Reply::Status(404)
            } else if s.body.contains("<EMailAddress>alice@example.test<") {
                Reply::Xml(pox_action("redirectAddr", "RedirectAddr", "alice.smith@example.test"))
            } else if s.body.contains("<EMailAddress>alice.smith@example.test<") {
                Reply::Xml(pox_settings("imap.example.test", 993, "alice.smith"))
            } else {
                Reply::Status(500)
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
    assert_eq!(d.settings.login_format.as_deref(), Some("%EMAILLOCALPART%"));
    let t = text(&d.trace);
    assert!(t.contains("led to the address alice.smith@example.test"), "{t}");
    let posts: Vec<Seen> = w.https.seen().into_iter().filter(|s| s.method == "POST").collect();
    assert!(posts.iter().all(|s| s.authorization.is_some()));
}

#[tokio::test]
async fn redirect_addr_to_the_same_address_is_invalid() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autodiscover.example.test", "POST", AD_PATH)(s) {
                Reply::Xml(pox_action("redirectAddr", "RedirectAddr", "Alice@Example.test"))
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
    let t = text(&nothing(discover(&alice(), creds(), &w.config).await));
    assert!(t.contains("same address again"), "{t}");
}

#[tokio::test]
async fn a_redirect_addr_loop_is_cut() {
    let w = world(
        Arc::new(|s: &Seen| {
            if !is("autodiscover.example.test", "POST", AD_PATH)(s) {
                Reply::Status(404)
            } else if s.body.contains("<EMailAddress>alice@") {
                Reply::Xml(pox_action("redirectAddr", "RedirectAddr", "bob@example.test"))
            } else {
                Reply::Xml(pox_action("redirectAddr", "RedirectAddr", "alice@example.test"))
            }
        }),
        not_found(),
        None,
        None,
    )
    .await;
    w.dns.a("autodiscover.example.test");
    let t = text(&nothing(discover(&alice(), creds(), &w.config).await));
    assert!(t.contains("redirect loop"), "{t}");
    let posts = w.https.seen().iter().filter(|s| s.method == "POST").count();
    assert!(posts <= 3, "{posts} POSTs");
}

#[tokio::test]
async fn at_most_ten_redirects() {
    let https_port = Arc::new(std::sync::OnceLock::<u16>::new());
    let p = https_port.clone();
    let w = world(
        Arc::new(move |s: &Seen| {
            if s.host != "autodiscover.example.test" || s.method != "POST" {
                return Reply::Status(404);
            }
            let n: u32 = s.path.strip_prefix("/r/").and_then(|n| n.parse().ok()).unwrap_or(0);
            Reply::Xml(pox_action(
                "redirectUrl",
                "RedirectUrl",
                &format!("https://autodiscover.example.test:{}/r/{}", p.get().unwrap(), n + 1),
            ))
        }),
        not_found(),
        None,
        None,
    )
    .await;
    https_port.set(w.https.port).unwrap();
    w.dns.a("autodiscover.example.test");
    let t = text(&nothing(discover(&alice(), creds(), &w.config).await));
    assert!(t.contains("more than 10 redirects"), "{t}");
    let redirected = w.https.seen().iter().filter(|s| s.path.starts_with("/r/")).count();
    assert_eq!(redirected, 10);
}

// ------------------------------------------------------------ errors and bad documents

#[tokio::test]
async fn pox_errors_are_reported_by_meaning() {
    for (code, meaning) in [
        (500, "does not know this address"),
        (600, "request is invalid"),
        (601, "no provider for the requested response schema"),
        (603, "internal error"),
    ] {
        let w = world(
            Arc::new(move |s: &Seen| {
                if is("autodiscover.example.test", "POST", AD_PATH)(s) {
                    Reply::Xml(pox_error(code, "Explained by the server"))
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
        let t = text(&nothing(discover(&alice(), creds(), &w.config).await));
        assert!(t.contains(meaning) && t.contains("Explained by the server"), "{code}: {t}");
    }
}

#[tokio::test]
async fn a_401_is_reported_without_concluding() {
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
    let t = text(&nothing(discover(&alice(), creds(), &w.config).await));
    assert!(t.contains("HTTP 401") && t.contains("does not prove"), "{t}");
}

fn bad_documents() -> Vec<(&'static str, Reply, &'static str)> {
    let good = autoconfig("imap.example.test", 993, "SSL", "%EMAILADDRESS%");
    let with_dtd = good.replacen(
        "<clientConfig",
        "<!DOCTYPE clientConfig [<!ENTITY host \"imap.example.test\">]><clientConfig",
        1,
    );
    let oversized = good.replacen(
        "<clientConfig version=\"1.1\">",
        &format!("<clientConfig version=\"1.1\"><!--{}-->", "x".repeat(300 * 1024)),
        1,
    );
    let truncated = good[..good.len() / 2].to_owned();
    vec![
        ("dtd", Reply::Xml(with_dtd), "DTD"),
        ("oversized", Reply::Xml(oversized), "larger than 256 KiB"),
        ("malformed", Reply::Xml(truncated), "ends before"),
        ("mismatched", Reply::Xml("<clientConfig><emailProvider></clientConfig>".to_owned()), "not well-formed"),
        (
            "html",
            Reply::Raw { status: 200, content_type: Some("text/html".to_owned()), body: good.clone().into_bytes() },
            "not XML",
        ),
        (
            "untyped",
            Reply::Raw { status: 200, content_type: None, body: good.into_bytes() },
            "no content type",
        ),
    ]
}

#[tokio::test]
async fn malformed_oversized_and_dtd_documents_are_rejected() {
    for (name, reply, expected) in bad_documents() {
        let reply = Arc::new(Mutex::new(Some(reply)));
        let w = world(
            Arc::new(move |s: &Seen| {
                if is("autoconfig.example.test", "GET", "/mail/")(s) {
                    reply.lock().unwrap().take().unwrap_or(Reply::Status(410))
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
        let t = text(&nothing(discover(&alice(), None, &w.config).await));
        assert!(t.contains(expected), "{name}: {t}");
    }
}

#[tokio::test]
async fn a_dtd_in_an_autodiscover_answer_is_rejected() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autodiscover.example.test", "POST", AD_PATH)(s) {
                Reply::Xml(
                    pox_settings("imap.example.test", 993, "alice@example.test").replacen(
                        "<Autodiscover",
                        "<!DOCTYPE Autodiscover SYSTEM \"http://evil.test/x.dtd\"><Autodiscover",
                        1,
                    ),
                )
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
    let t = text(&nothing(discover(&alice(), creds(), &w.config).await));
    assert!(t.contains("DTD"), "{t}");
}

// ------------------------------------------------------------ SRV

#[tokio::test]
async fn an_srv_target_of_dot_means_no_such_service_and_no_guess() {
    let w = world(not_found(), not_found(), Some(ImapMode::Tls), Some(ImapMode::Starttls)).await;
    w.dns.srv("_imaps._tcp.example.test", 0, 0, 0, ".");
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), None, &w.config).await);
    assert_eq!(d.settings.security, Security::Starttls);
    assert_eq!(w.imaps.as_ref().unwrap().connections(), 0, "port 993 was probed");
    let t = text(&d.trace);
    assert!(t.contains("does not offer this service"), "{t}");
    assert!(t.contains("offers no IMAPS service"), "{t}");
}

#[tokio::test]
async fn an_srv_target_outside_the_domain_needs_trust() {
    let w = world(not_found(), not_found(), None, None).await;
    w.dns.srv("_imaps._tcp.example.test", 0, 0, 993, "imap.provider.test");
    w.dns.a("imap.provider.test");
    let t = text(&nothing(discover(&alice(), None, &w.config).await));
    assert!(t.contains("--trust-host imap.provider.test"), "{t}");
    let mut config = w.config.clone();
    config.trust_hosts = vec!["imap.provider.test".to_owned()];
    let d = ok(discover(&alice(), None, &config).await);
    assert_eq!(d.settings.host, "imap.provider.test");
    assert_eq!(d.settings.needs_trust, vec!["imap.provider.test".to_owned()]);
}

// ------------------------------------------------------------ MX

#[tokio::test]
async fn mx_based_results_are_unconfirmed_until_trusted() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autoconfig.provider.test", "GET", "/mail/config-v1.1.xml?emailaddress=alice%40example.test")(s) {
                Reply::Xml(autoconfig("imap.provider.test", 993, "SSL", "%EMAILADDRESS%"))
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
    assert_eq!(d.settings.needs_trust, vec!["imap.provider.test".to_owned()]);
    assert!(d.source.contains("autoconfig.provider.test"), "{}", d.source);
}

// ------------------------------------------------------------ security rules

#[tokio::test]
async fn private_addresses_are_refused_without_the_opt_in() {
    let w = world(everything_answers(), not_found(), Some(ImapMode::Tls), None).await;
    for h in ["autodiscover.example.test", "autoconfig.example.test", "imap.example.test", "mail.example.test"] {
        w.dns.a(h);
    }
    w.dns.a_ip("example.test", std::net::Ipv4Addr::new(169, 254, 169, 254));
    let mut config = w.config.clone();
    config.allow_private_networks = false;
    let t = text(&nothing(discover(&alice(), creds(), &config).await));
    assert!(t.contains("--allow-private-networks"), "{t}");
    assert!(t.contains("metadata"), "{t}");
    assert!(w.https.seen().is_empty(), "a request reached a private address");
    assert!(w.http.seen().is_empty(), "a request reached a private address");
    assert_eq!(w.imaps.as_ref().unwrap().connections(), 0);
}

#[tokio::test]
async fn the_metadata_address_is_refused_even_with_the_opt_in() {
    let w = world(everything_answers(), not_found(), None, None).await;
    w.dns.a_ip("autoconfig.example.test", std::net::Ipv4Addr::new(169, 254, 169, 254));
    let t = text(&nothing(discover(&alice(), None, &w.config).await));
    assert!(t.contains("169.254.169.254 is the cloud metadata address"), "{t}");
}

#[tokio::test]
async fn credentials_go_only_over_validated_tls() {
    let w = world(everything_answers(), not_found(), None, None).await;
    w.dns.a("autodiscover.example.test");
    let mut config = w.config.clone();
    // Trust another CA: the servers' certificates no longer validate.
    config.extra_ca_pem = Some(mailferry_testkit::TestCa::new("other").cert_pem.into_bytes());
    let t = text(&nothing(discover(&alice(), creds(), &config).await));
    assert!(t.contains("TLS with autodiscover.example.test failed"), "{t}");
    assert!(w.https.seen().is_empty(), "a request was made over unvalidated TLS");
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
        assert!(name.ends_with(".example.test.") || name == "example.test.", "query for {q}");
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
                Reply::Xml(autoconfig("imap.example.test", 993, "SSL", "%EMAILADDRESS%"))
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
    assert!(start.elapsed() < Duration::from_millis(2500), "{:?}", start.elapsed());
    assert!(d.source.starts_with("autoconfig:"));
    assert!(d
        .trace
        .iter()
        .any(|e| e.method == Method::Autodiscover && matches!(&e.outcome, Outcome::NotTried(r) if r.contains("budget"))));

    // Nothing but black holes: a budget error, on time.
    let w = world(Arc::new(|_: &Seen| Reply::Hang), not_found(), None, None).await;
    w.dns.a("autoconfig.example.test");
    let mut config = w.config.clone();
    config.step_timeout = Duration::from_secs(60);
    config.budget = Duration::from_millis(1000);
    let start = Instant::now();
    let r = discover(&alice(), None, &config).await;
    assert!(start.elapsed() < Duration::from_millis(2000), "{:?}", start.elapsed());
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
    for rendered in [format!("{err}"), format!("{err:?}"), format!("{:?}", creds())] {
        assert!(!rendered.contains(PASSWORD), "{rendered}");
        // Nor the Basic header's value.
        assert!(!rendered.contains("Omh1bnRlcjItU2VjcmV0"), "{rendered}");
    }
}
