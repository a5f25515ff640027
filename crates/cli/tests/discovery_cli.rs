//! Endpoints and batches from an address (issue 5's acceptance through the
//! CLI): a test DNS server for `example.test`, a real Dovecot found through
//! DNS SRV records. Each discovery method alone, precedence, redirects and
//! the security rules are covered in `crates/discovery/tests`.

mod common;

use common::Mailferry;
use mailferry_testkit::{Dovecot, TestDns};

const ADMIN: &str = "migadmin";
const ADMIN_PW: &str = "Adm1n-pw";
const ALICE: &str = "alice@example.test";

fn world() -> (Dovecot, TestDns) {
    let d = Dovecot::builder()
        .cert_names(&["imap.example.test"])
        .user(ALICE, "pw")
        .master_user(ADMIN, ADMIN_PW)
        .start()
        .unwrap();
    let dns = TestDns::start().unwrap();
    dns.a("example.test");
    dns.a("imap.example.test");
    dns.srv("_imaps._tcp.example.test", 0, 1, d.imaps_port(), "imap.example.test");
    (d, dns)
}

#[test]
fn endpoint_create_from_an_address_finds_the_server_through_srv_and_records_where() {
    let (d, dns) = world();
    let mf = Mailferry::new();
    let resolver = dns.addr().to_string();
    let run = mf.run(
        &["--resolver", &resolver, "--allow-private-networks", "--ca-file", d.ca_file().to_str().unwrap(),
          "endpoint", "create", "old", "--autodiscover", "--email", ALICE, "--admin", ADMIN, "--password-env", "PW",
          "--impersonation", "master-user", "--test-mailbox", ALICE],
        &[("PW", ADMIN_PW)],
    );
    run.assert_code(0);
    assert!(run.stdout.contains(&format!("Discovered imap.example.test:{} (tls) from srv:", d.imaps_port())), "{}", run.stdout);
    let v = mf.run(&["endpoint", "show", "old", "--json"], &[]).json();
    assert_eq!(v["host"], "imap.example.test");
    assert_eq!(v["port"], d.imaps_port());
    assert_eq!(v["verified"], true);
    assert!(v["discovered_from"].as_str().unwrap().starts_with("srv:_imaps._tcp.example.test"), "{v}");
    // The endpoint keeps working through the same resolver.
    mf.run(&["--resolver", &resolver, "endpoint", "test", "old"], &[]).assert_code(0);
    // Never a query outside the domain.
    assert!(dns.queries().iter().all(|q| q.contains("example.test")), "{:?}", dns.queries());
}

#[test]
fn private_addresses_are_refused_without_the_opt_in() {
    let (d, dns) = world();
    let mf = Mailferry::new();
    let resolver = dns.addr().to_string();
    let run = mf.run(
        &["--resolver", &resolver, "--ca-file", d.ca_file().to_str().unwrap(), "endpoint", "test", "--autodiscover",
          "--email", ALICE, "--admin", ADMIN, "--password-env", "PW", "--test-mailbox", ALICE],
        &[("PW", ADMIN_PW)],
    );
    run.assert_code(1);
    assert!(run.stderr.contains("127.0.0.1") || run.stderr.contains("private") || run.stderr.contains("loopback"), "{}", run.stderr);
}

#[test]
fn batch_create_from_an_address_creates_the_batch_and_then_the_endpoint() {
    let (d, dns) = world();
    let dst = Dovecot::builder().separator('.').user(ALICE, "pw").master_user(ADMIN, ADMIN_PW).start().unwrap();
    let mf = Mailferry::new();
    let resolver = dns.addr().to_string();
    let port = dst.imaps_port().to_string();
    mf.run(
        &["endpoint", "create", "dst", "--host", dst.host(), "--port", &port, "--admin", ADMIN, "--password-env", "PW",
          "--test-mailbox", ALICE, "--ca-file", dst.ca_file().to_str().unwrap()],
        &[("PW", ADMIN_PW)],
    )
    .assert_code(0);
    let csv = mf.data_dir().join("u.csv");
    std::fs::write(&csv, format!("EmailAddress\n{ALICE}\n")).unwrap();
    let ca = d.ca_file().to_str().unwrap().to_owned();
    let args = |domain_ok: bool| -> Vec<String> {
        let email = if domain_ok { ALICE.to_string() } else { "alice@nowhere.test".to_string() };
        ["--resolver", &resolver, "--allow-private-networks", "--ca-file", &ca, "--timeout", "5", "batch", "create", "w",
         "--csv", csv.to_str().unwrap(), "--target", "dst", "--source-email", &email, "--source-admin", ADMIN,
         "--source-password-env", "PW", "--source-impersonation", "master-user"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    // Discovery made to fail: nothing at all is created, the message says what to do by hand.
    let bad: Vec<String> = args(false);
    let bad_refs: Vec<&str> = bad.iter().map(String::as_str).collect();
    let run = mf.run(&bad_refs, &[("PW", ADMIN_PW)]);
    run.assert_code(1);
    assert!(run.stderr.contains("mailferry endpoint create"), "{}", run.stderr);
    assert_eq!(mf.run(&["batch", "list", "--json"], &[]).json(), serde_json::json!([]));
    assert_eq!(mf.run(&["endpoint", "list", "--json"], &[]).json().as_array().unwrap().len(), 1);

    let good: Vec<String> = args(true);
    let good_refs: Vec<&str> = good.iter().map(String::as_str).collect();
    let run = mf.run(&good_refs, &[("PW", ADMIN_PW)]);
    run.assert_code(0);
    let v = mf.run(&["batch", "show", "w", "--json"], &[]).json();
    assert_eq!(v["source"], "example.test");
    let ep = mf.run(&["endpoint", "show", "example.test", "--json"], &[]).json();
    assert_eq!(ep["verified"], true);
    assert_eq!(ep["impersonation"], "master-user");
    assert!(ep["discovered_from"].as_str().unwrap().starts_with("srv:"));
}
