//! `resolve_host` against the testkit's DNS server: names through the
//! chosen server only, literals without a query, errors an administrator can
//! act on, and no address policy.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mailferry_discovery::{resolve_host, ResolveError, ResolveFailure};
use mailferry_testkit::TestDns;

const T: Duration = Duration::from_secs(5);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn a_name_is_asked_of_the_given_server_only() {
    let dns = TestDns::start().unwrap();
    dns.a("imap.example.test");
    dns.a_ip("imap.example.test", Ipv4Addr::new(10, 0, 0, 7));
    let addrs = resolve_host("IMAP.Example.Test", Some(dns.addr()), T)
        .await
        .unwrap();
    // Private addresses too: refusing them is discovery's policy.
    assert_eq!(addrs, [ip("127.0.0.1"), ip("10.0.0.7")]);
    // Fully qualified: no search domain was appended.
    assert!(
        dns.queries()
            .iter()
            .all(|q| q.starts_with("imap.example.test. ")),
        "{:?}",
        dns.queries()
    );
}

#[tokio::test]
async fn ipv6_only_names_resolve() {
    let dns = TestDns::start().unwrap();
    dns.a_ip("v6.example.test", "2001:db8::25".parse::<IpAddr>().unwrap());
    let addrs = resolve_host("v6.example.test", Some(dns.addr()), T)
        .await
        .unwrap();
    assert_eq!(addrs, [ip("2001:db8::25")]);
}

#[tokio::test]
async fn literals_need_no_query() {
    let dns = TestDns::start().unwrap();
    for (host, want) in [
        ("192.0.2.10", "192.0.2.10"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
    ] {
        assert_eq!(
            resolve_host(host, Some(dns.addr()), T).await.unwrap(),
            [ip(want)]
        );
    }
    assert!(dns.queries().is_empty(), "{:?}", dns.queries());
}

#[tokio::test]
async fn a_missing_name_is_nxdomain_and_says_so() {
    let dns = TestDns::start().unwrap();
    let err = resolve_host("nothing.example.test", Some(dns.addr()), T)
        .await
        .unwrap_err();
    assert_eq!(err.failure, ResolveFailure::NoSuchName);
    assert_eq!(err.host, "nothing.example.test");
    assert_eq!(err.resolver, Some(dns.addr()));
    let text = err.to_string();
    assert!(
        text.starts_with("the name nothing.example.test could not be resolved: "),
        "{text}"
    );
    assert!(text.contains("NXDOMAIN"), "{text}");
    assert!(text.contains(&dns.addr().to_string()), "{text}");
}

#[tokio::test]
async fn a_name_without_addresses() {
    let dns = TestDns::start().unwrap();
    dns.mx("example.test", 10, "mx.example.test");
    let err = resolve_host("example.test", Some(dns.addr()), T)
        .await
        .unwrap_err();
    assert_eq!(err.failure, ResolveFailure::NoAddress, "{err}");
    assert!(err.to_string().contains("no IPv4 or IPv6 address"), "{err}");
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_bound() {
    // A UDP socket that never answers (and no TCP listener on its port).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = silent.local_addr().unwrap();
    let started = Instant::now();
    let err = resolve_host("imap.example.test", Some(addr), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(err.failure, ResolveFailure::TimedOut(_)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("no answer from the DNS server"),
        "{err}"
    );
}

#[tokio::test]
async fn an_invalid_name_is_not_asked() {
    let dns = TestDns::start().unwrap();
    let err: ResolveError = resolve_host("bad name..example", Some(dns.addr()), T)
        .await
        .unwrap_err();
    assert!(
        matches!(err.failure, ResolveFailure::InvalidName(_)),
        "{err:?}"
    );
    assert!(dns.queries().is_empty());
}

#[test]
fn usable_from_a_plain_test_with_its_own_runtime() {
    let dns = TestDns::start().unwrap();
    dns.a("imap.example.test");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addrs = rt
        .block_on(resolve_host("imap.example.test", Some(dns.addr()), T))
        .unwrap();
    assert_eq!(addrs, [ip("127.0.0.1")]);
}
