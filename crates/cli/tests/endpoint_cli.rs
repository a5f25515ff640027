//! `mailferry endpoint …` against a real Dovecot (issue 2's acceptance).

mod common;

use common::{contains_bytes, Mailferry};
use mailferry_testkit::Dovecot;

const ADMIN: &str = "migadmin";
const ADMIN_PW: &str = "Adm1n-S3cret-\"quoted\"\\pw";
const ALICE: &str = "alice@example.test";

fn dovecot(sep: char) -> Dovecot {
    Dovecot::builder()
        .separator(sep)
        .user(ALICE, "alice-pw")
        .user("bob@example.test", "bob-pw")
        .master_user(ADMIN, ADMIN_PW)
        .start()
        .expect("start dovecot")
}

/// `endpoint create NAME` over implicit TLS with the server's CA given.
fn create_args<'a>(name: &'a str, d: &'a Dovecot, port: &'a str) -> Vec<&'a str> {
    vec![
        "endpoint", "create", name,
        "--host", d.host(),
        "--port", port,
        "--security", "tls",
        "--admin", ADMIN,
        "--password-env", "ADMIN_PW",
        "--test-mailbox", ALICE,
        "--ca-file", d.ca_file().to_str().unwrap(),
    ]
}

#[test]
fn wrong_admin_password_is_refused_naming_the_login_and_nothing_is_stored() {
    let d = dovecot('/');
    let mf = Mailferry::new();
    let port = d.imaps_port().to_string();
    let run = mf.run(&create_args("src", &d, &port), &[("ADMIN_PW", "not-the-password")]);
    run.assert_code(1);
    assert!(run.stderr.contains("step login"), "{}", run.stderr);
    assert!(run.stderr.contains(ADMIN), "the refused login is named: {}", run.stderr);
    assert!(run.stdout.contains("[FAIL] login"), "{}", run.stdout);
    let list = mf.run(&["--json", "endpoint", "list"], &[]);
    list.assert_code(0);
    assert_eq!(list.json(), serde_json::json!([]));
}

#[test]
fn right_password_creates_a_verified_endpoint_and_the_secret_is_nowhere_in_clear() {
    let d = dovecot('/');
    let mf = Mailferry::new();
    let port = d.imaps_port().to_string();
    let run = mf.run(&create_args("src", &d, &port), &[("ADMIN_PW", ADMIN_PW)]);
    run.assert_code(0);
    assert!(run.stdout.contains("[ok  ] open-inbox"), "{}", run.stdout);
    assert!(run.stdout.contains("read-write"), "{}", run.stdout);

    let show = mf.run(&["endpoint", "show", "src", "--json"], &[]);
    show.assert_code(0);
    let v = show.json();
    assert_eq!(v["name"], "src");
    assert_eq!(v["kind"], "imap");
    assert_eq!(v["host"], d.host());
    assert_eq!(v["port"], d.imaps_port());
    assert_eq!(v["security"], "tls");
    assert_eq!(v["impersonation"], "authzid");
    assert_eq!(v["verified"], true);
    assert_eq!(v["discovered_from"], serde_json::Value::Null);
    assert_eq!(v["test_mailbox"], ALICE);
    assert!(!show.stdout.contains(ADMIN_PW));

    let list = mf.run(&["endpoint", "list", "--json"], &[]);
    assert_eq!(list.json().as_array().unwrap().len(), 1);
    assert!(!list.stdout.contains(ADMIN_PW));

    // The stored test mailbox and secret are enough to test it again.
    mf.run(&["endpoint", "test", "src"], &[]).assert_code(0);

    let files = mf.files();
    assert!(files.iter().any(|f| f.ends_with("mailferry.db")), "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!contains_bytes(&bytes, ADMIN_PW.as_bytes()), "password in clear in {}", f.display());
    }
}

#[test]
fn a_test_mailbox_that_does_not_exist_is_refused_naming_it() {
    let d = dovecot('/');
    let mf = Mailferry::new();
    let port = d.imaps_port().to_string();
    let mut args = create_args("src", &d, &port);
    let i = args.iter().position(|a| *a == ALICE).unwrap();
    args[i] = "nobody@example.test";
    let run = mf.run(&args, &[("ADMIN_PW", ADMIN_PW)]);
    run.assert_code(1);
    assert!(run.stderr.contains("nobody@example.test"), "{}", run.stderr);
    assert_eq!(mf.run(&["--json", "endpoint", "list"], &[]).json(), serde_json::json!([]));
}

#[test]
fn an_untrusted_certificate_is_refused_and_accepted_with_its_ca() {
    let d = dovecot('/');
    let mf = Mailferry::new();
    let port = d.imaps_port().to_string();
    let mut args = create_args("src", &d, &port);
    args.truncate(args.len() - 2); // without --ca-file
    let run = mf.run(&args, &[("ADMIN_PW", ADMIN_PW)]);
    run.assert_code(1);
    assert!(run.stderr.contains("step tls"), "{}", run.stderr);
    assert!(run.stderr.contains("certificate"), "{}", run.stderr);
    assert!(run.stderr.contains("--ca-file"), "the fix is named: {}", run.stderr);

    let run = mf.run(&create_args("src", &d, &port), &[("ADMIN_PW", ADMIN_PW)]);
    run.assert_code(0);
    let v = mf.run(&["endpoint", "show", "src", "--json"], &[]).json();
    assert_eq!(v["has_ca"], true, "the CA is stored with the endpoint");
    // Later commands trust the stored CA without --ca-file.
    mf.run(&["endpoint", "test", "src"], &[]).assert_code(0);
}

#[test]
fn master_user_and_starttls_work_with_a_dot_separator() {
    let d = dovecot('.');
    let mf = Mailferry::new();
    let port = d.imap_port().to_string();
    let ca = d.ca_file().to_str().unwrap().to_owned();
    let run = mf.run(
        &[
            "endpoint", "create", "dst", "--host", d.host(), "--port", &port, "--security", "starttls",
            "--admin", ADMIN, "--password-env", "ADMIN_PW", "--impersonation", "master-user",
            "--test-mailbox", "bob@example.test", "--ca-file", &ca, "--json",
        ],
        &[("ADMIN_PW", ADMIN_PW)],
    );
    run.assert_code(0);
    let v = run.json();
    assert_eq!(v["endpoint"]["impersonation"], "master-user");
    assert_eq!(v["endpoint"]["master_separator"], "*");
    assert_eq!(v["test"]["writable"], true);
    assert!(!run.stdout.contains(ADMIN_PW));
}

#[test]
fn plaintext_needs_the_opt_in() {
    let d = dovecot('/');
    let mf = Mailferry::new();
    let port = d.imap_port().to_string();
    let base = [
        "endpoint", "create", "plain", "--host", d.host(), "--port", &port, "--security", "none",
        "--admin", ADMIN, "--password-env", "ADMIN_PW", "--test-mailbox", ALICE,
    ];
    let run = mf.run(&base, &[("ADMIN_PW", ADMIN_PW)]);
    run.assert_code(2);
    assert!(run.stderr.contains("--allow-plaintext"), "{}", run.stderr);
    let mut with = base.to_vec();
    with.push("--allow-plaintext");
    mf.run(&with, &[("ADMIN_PW", ADMIN_PW)]).assert_code(0);
    let v = mf.run(&["endpoint", "show", "plain", "--json"], &[]).json();
    assert_eq!(v["security"], "none");
}

#[test]
fn a_password_on_the_command_line_is_refused() {
    let mf = Mailferry::new();
    let run = mf.run(
        &["endpoint", "create", "x", "--host", "127.0.0.1", "--admin", "a", "--password", "secret123", "--test-mailbox", ALICE],
        &[],
    );
    run.assert_code(2);
    assert!(run.stderr.contains("--password-env"), "{}", run.stderr);
    assert!(!run.stderr.contains("secret123"));
}

#[test]
fn connection_refused_names_the_step_and_the_port() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }
    .to_string();
    let mf = Mailferry::new();
    let run = mf.run(
        &["--json", "endpoint", "create", "x", "--host", "127.0.0.1", "--port", &port, "--admin", "a",
          "--password-env", "PW", "--test-mailbox", ALICE],
        &[("PW", "x")],
    );
    run.assert_code(1);
    let err = run.error_json();
    assert_eq!(err["error"]["code"], "endpoint_test_failed");
    let msg = err["error"]["message"].as_str().unwrap();
    assert!(msg.contains("step connect") && msg.contains("refused") && msg.contains(&port), "{msg}");
}

#[test]
fn a_server_that_never_greets_times_out_at_the_greeting() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    // Accepts connections and says nothing.
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().take(4) {
            held.push(s);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let mf = Mailferry::new();
    let run = mf.run(
        &["--timeout", "2", "endpoint", "test", "--host", "127.0.0.1", "--port", &port, "--security", "tls",
          "--admin", "a", "--password-env", "PW", "--test-mailbox", ALICE],
        &[("PW", "x")],
    );
    run.assert_code(1);
    assert!(run.stdout.contains("[FAIL]"), "{}", run.stdout);
    assert!(run.stderr.contains("in time") || run.stderr.contains("timed out"), "{}", run.stderr);
}

#[test]
fn set_retests_connection_changes_and_keeps_the_old_settings_when_the_test_fails() {
    let d = dovecot('/');
    let mf = Mailferry::new();
    let port = d.imaps_port().to_string();
    mf.run(&create_args("src", &d, &port), &[("ADMIN_PW", ADMIN_PW)]).assert_code(0);

    // A limit change needs no test and keeps the endpoint verified.
    let run = mf.run(&["endpoint", "set", "src", "--max-concurrent-migrations", "5", "--max-concurrent-incremental", "2", "--json"], &[]);
    run.assert_code(0);
    assert_eq!(run.json()["endpoint"]["max_concurrent_migrations"], 5);
    assert_eq!(run.json()["endpoint"]["verified"], true);

    // A wrong new password fails the test; nothing changes.
    let run = mf.run(&["endpoint", "set", "src", "--password-env", "PW"], &[("PW", "wrong")]);
    run.assert_code(1);
    mf.run(&["endpoint", "test", "src"], &[]).assert_code(0);

    // The same change without verification is saved and marked unverified.
    let run = mf.run(&["endpoint", "set", "src", "--port", "1", "--skip-verification", "--json"], &[]);
    run.assert_code(0);
    assert_eq!(run.json()["endpoint"]["verified"], false);
}

#[test]
fn bad_input_exits_2_with_what_and_where() {
    let mf = Mailferry::new();
    let run = mf.run(&["endpoint", "create", "bad name", "--host", "h", "--skip-verification"], &[]);
    run.assert_code(2);
    assert!(run.stderr.contains("bad name"), "{}", run.stderr);
    let run = mf.run(&["endpoint", "create", "x", "--host", "h", "--security", "ssl"], &[]);
    run.assert_code(2);
    assert!(run.stderr.contains("ssl"), "{}", run.stderr);
    let run = mf.run(&["endpoint", "create", "x", "--host", "h", "--admin", "a", "--test-mailbox", "not-an-address", "--password-env", "P"], &[("P", "x")]);
    run.assert_code(2);
    assert!(run.stderr.contains("--test-mailbox"), "{}", run.stderr);
    let run = mf.run(&["endpoint", "create", "x", "--host", "h", "--admin", "a", "--test-mailbox", ALICE], &[]);
    run.assert_code(2);
    assert!(run.stderr.contains("--password-env"), "no password and no terminal: {}", run.stderr);
    let run = mf.run(&["--json", "endpoint", "show", "nope"], &[]);
    run.assert_code(2);
    assert_eq!(run.error_json()["error"]["code"], "not_found");
    assert_eq!(mf.run(&["--json", "endpoint", "list"], &[]).json(), serde_json::json!([]));
}

#[test]
fn skip_verification_stores_an_unverified_endpoint_and_remove_deletes_it() {
    let mf = Mailferry::new();
    let run = mf.run(
        &["endpoint", "create", "later", "--host", "imap.example.invalid", "--admin", "a", "--password-env", "P", "--skip-verification"],
        &[("P", "pw")],
    );
    run.assert_code(0);
    assert!(run.stdout.contains("unverified"), "{}", run.stdout);
    let dup = mf.run(
        &["endpoint", "create", "LATER", "--host", "h", "--admin", "a", "--password-env", "P", "--skip-verification"],
        &[("P", "pw")],
    );
    dup.assert_code(2);
    assert!(dup.stderr.contains("already exists"), "{}", dup.stderr);
    mf.run(&["endpoint", "remove", "later"], &[]).assert_code(0);
    assert_eq!(mf.run(&["--json", "endpoint", "list"], &[]).json(), serde_json::json!([]));
}

#[test]
fn a_name_that_does_not_resolve_fails_at_the_resolve_step() {
    let mf = Mailferry::new();
    let run = mf.run(
        &["--timeout", "10", "endpoint", "test", "--host", "imap.mailferry-test.invalid", "--admin", "a",
          "--password-env", "P", "--test-mailbox", ALICE],
        &[("P", "x")],
    );
    run.assert_code(1);
    assert!(run.stderr.contains("step resolve"), "{}", run.stderr);
    assert!(run.stderr.contains("imap.mailferry-test.invalid"), "{}", run.stderr);
}
