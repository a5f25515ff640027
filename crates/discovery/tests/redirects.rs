//! Autodiscover redirects (HTTP 302 probe, redirectUrl, redirectAddr), POX
//! errors, and documents that must be rejected.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use mailferry_discovery::discover;

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
            assert!(
                s.authorization.is_none(),
                "credentials over plain http: {s:?}"
            );
            Reply::Redirect(
                302,
                format!(
                    "https://autodiscover.example.test:{}/ews/autodiscover.xml",
                    p.get().unwrap()
                ),
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
        format!(
            "autodiscover:https://autodiscover.example.test:{}/ews/autodiscover.xml",
            w.https.port
        )
    );
    let plain = w.http.seen();
    assert!(!plain.is_empty());
    assert!(plain
        .iter()
        .all(|s| s.authorization.is_none() && s.method == "GET" && !s.tls));
    let post = w
        .https
        .seen()
        .into_iter()
        .find(is("autodiscover.example.test", "POST", "/ews/"))
        .unwrap();
    assert!(post.tls && post.authorization.is_some());
}

#[tokio::test]
async fn a_redirect_from_http_to_http_is_refused() {
    let http_port = Arc::new(std::sync::OnceLock::<u16>::new());
    let p = http_port.clone();
    let w = world(
        not_found(),
        Arc::new(move |_: &Seen| {
            Reply::Redirect(
                302,
                format!(
                    "http://autodiscover.example.test:{}/other",
                    p.get().unwrap()
                ),
            )
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
    assert!(w
        .http
        .seen()
        .iter()
        .all(|s| s.method == "GET" && s.authorization.is_none()));
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
                format!(
                    "https://autodiscover.other.test:{}{AD_PATH}",
                    p.get().unwrap()
                ),
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
        w.https
            .seen()
            .iter()
            .all(|s| s.host != "autodiscover.other.test"),
        "the foreign host got a request"
    );
}

#[tokio::test]
async fn a_redirect_leaving_the_domain_is_followed_with_trust() {
    let w = leaving_world().await;
    let mut config = w.config.clone();
    config.trust_hosts = vec!["autodiscover.other.test".to_owned()];
    let d = ok(discover(&alice(), creds(), &config).await);
    assert_eq!(
        d.settings.needs_trust,
        vec!["autodiscover.other.test".to_owned()]
    );
    assert!(d.source.contains("autodiscover.other.test"));
}

#[tokio::test]
async fn redirect_addr_restarts_for_the_new_address() {
    let w = world(
        Arc::new(|s: &Seen| {
            if !is("autodiscover.example.test", "POST", AD_PATH)(s) {
                Reply::Status(404)
            } else if s.body.contains("<EMailAddress>alice@example.test<") {
                Reply::Xml(pox_action(
                    "redirectAddr",
                    "RedirectAddr",
                    "alice.smith@example.test",
                ))
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
    assert!(
        t.contains("led to the address alice.smith@example.test"),
        "{t}"
    );
    let posts: Vec<Seen> = w
        .https
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST")
        .collect();
    assert!(posts.iter().all(|s| s.authorization.is_some()));
}

#[tokio::test]
async fn redirect_addr_to_the_same_address_is_invalid() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autodiscover.example.test", "POST", AD_PATH)(s) {
                Reply::Xml(pox_action(
                    "redirectAddr",
                    "RedirectAddr",
                    "Alice@Example.test",
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
                Reply::Xml(pox_action(
                    "redirectAddr",
                    "RedirectAddr",
                    "bob@example.test",
                ))
            } else {
                Reply::Xml(pox_action(
                    "redirectAddr",
                    "RedirectAddr",
                    "alice@example.test",
                ))
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
            let n: u32 = s
                .path
                .strip_prefix("/r/")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            Reply::Xml(pox_action(
                "redirectUrl",
                "RedirectUrl",
                &format!(
                    "https://autodiscover.example.test:{}/r/{}",
                    p.get().unwrap(),
                    n + 1
                ),
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
    let redirected = w
        .https
        .seen()
        .iter()
        .filter(|s| s.path.starts_with("/r/"))
        .count();
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
        assert!(
            t.contains(meaning) && t.contains("Explained by the server"),
            "{code}: {t}"
        );
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
    assert!(
        t.contains("HTTP 401") && t.contains("does not prove"),
        "{t}"
    );
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
        &format!(
            "<clientConfig version=\"1.1\"><!--{}-->",
            "x".repeat(300 * 1024)
        ),
        1,
    );
    let unclosed = good[..good.find("</clientConfig>").unwrap()].to_owned();
    let cut = good[..good.find("<incomingServer").unwrap() + 8].to_owned();
    vec![
        ("dtd", Reply::Xml(with_dtd), "DTD"),
        ("oversized", Reply::Xml(oversized), "larger than 256 KiB"),
        (
            "unclosed",
            Reply::Xml(unclosed),
            "ends before <clientConfig> is closed",
        ),
        ("cut", Reply::Xml(cut), "not well-formed"),
        (
            "mismatched",
            Reply::Xml("<clientConfig><emailProvider></clientConfig>".to_owned()),
            "not well-formed",
        ),
        (
            "html",
            Reply::Raw {
                status: 200,
                content_type: Some("text/html".to_owned()),
                body: good.clone().into_bytes(),
            },
            "not XML",
        ),
        (
            "untyped",
            Reply::Raw {
                status: 200,
                content_type: None,
                body: good.into_bytes(),
            },
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

#[tokio::test]
async fn the_autodiscover_srv_record_is_used_within_the_domain() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("ad.example.test", "POST", AD_PATH)(s) {
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
    w.dns.srv(
        "_autodiscover._tcp.example.test",
        0,
        0,
        w.https.port,
        "ad.example.test",
    );
    w.dns.a("ad.example.test");
    w.dns.a("imap.example.test");
    let d = ok(discover(&alice(), creds(), &w.config).await);
    assert_eq!(
        d.source,
        format!(
            "autodiscover:https://ad.example.test:{}{AD_PATH}",
            w.https.port
        )
    );
    assert!(
        text(&d.trace).contains("_autodiscover._tcp.example.test: led to https://ad.example.test")
    );
}

#[tokio::test]
async fn an_autodiscover_srv_target_outside_the_domain_gets_no_credentials() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("ad.other.test", "POST", AD_PATH)(s) {
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
    w.dns.srv(
        "_autodiscover._tcp.example.test",
        0,
        0,
        w.https.port,
        "ad.other.test",
    );
    w.dns.a("ad.other.test");
    w.dns.a("imap.example.test");
    let t = text(&nothing(discover(&alice(), creds(), &w.config).await));
    assert!(t.contains("--trust-host ad.other.test"), "{t}");
    assert!(w.https.seen().iter().all(|s| s.host != "ad.other.test"));
}

#[tokio::test]
async fn redirect_addr_to_another_domain_needs_trust_and_is_not_probed() {
    let w = world(
        Arc::new(|s: &Seen| {
            if is("autodiscover.example.test", "POST", AD_PATH)(s) {
                Reply::Xml(pox_action(
                    "redirectAddr",
                    "RedirectAddr",
                    "alice@other.test",
                ))
            } else if is("autodiscover.other.test", "POST", AD_PATH)(s)
                && s.body.contains("<EMailAddress>alice@other.test<")
            {
                Reply::Xml(pox_settings("imap.example.test", 993, "alice@other.test"))
            } else {
                Reply::Status(404)
            }
        }),
        not_found(),
        None,
        None,
    )
    .await;
    for h in [
        "autodiscover.example.test",
        "autodiscover.other.test",
        "other.test",
        "imap.example.test",
    ] {
        w.dns.a(h);
    }
    let t = text(&nothing(discover(&alice(), creds(), &w.config).await));
    assert!(t.contains("--trust-host autodiscover.other.test"), "{t}");
    assert!(w
        .https
        .seen()
        .iter()
        .all(|s| !s.host.ends_with("other.test")));
    assert!(w
        .http
        .seen()
        .iter()
        .all(|s| !s.host.ends_with("other.test")));
    assert!(!w
        .dns
        .queries()
        .iter()
        .any(|q| q.starts_with("_autodiscover._tcp.other.test")));

    let mut config = w.config.clone();
    config.trust_hosts = vec!["autodiscover.other.test".to_owned()];
    let d = ok(discover(&alice(), creds(), &config).await);
    assert_eq!(
        d.settings.needs_trust,
        vec!["autodiscover.other.test".to_owned()]
    );
    // The login name is for the redirected address.
    assert_eq!(d.settings.login_format.as_deref(), Some("%EMAILADDRESS%"));
}
