//! Batches and the initial sync against two real Dovecots (issue 3's
//! acceptance): different separators, special-use folders with other names,
//! a few thousand messages with every fidelity case, compared message by
//! message on both sides.

mod common;

use common::imap_check::{count, read_mailbox};
use common::Mailferry;
use mailferry_testkit::corpus::{fidelity_corpus, Corpus};
use mailferry_testkit::Dovecot;

const ADMIN: &str = "migadmin";
const ADMIN_PW: &str = "Adm1n-pw";
const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

fn source() -> Dovecot {
    Dovecot::builder()
        .separator('/')
        .user(ALICE, "a")
        .user(BOB, "b")
        .user("carol@example.test", "c")
        .master_user(ADMIN, ADMIN_PW)
        .start()
        .expect("start the source dovecot")
}

/// The target names its special-use folders differently, with `.` as separator.
fn target() -> Dovecot {
    Dovecot::builder()
        .separator('.')
        .special_use_names(&[("Sent Items", "\\Sent"), ("Deleted Items", "\\Trash"), ("Drafts", "\\Drafts"), ("Junk E-Mail", "\\Junk")])
        .user(ALICE, "a")
        .user(BOB, "b")
        .user("carol@example.test", "c")
        .master_user(ADMIN, ADMIN_PW)
        .start()
        .expect("start the target dovecot")
}

fn endpoints(mf: &Mailferry, src: &Dovecot, dst: &Dovecot) {
    for (name, d) in [("src", src), ("dst", dst)] {
        let port = d.imaps_port().to_string();
        mf.run(
            &["endpoint", "create", name, "--host", d.host(), "--port", &port, "--admin", ADMIN, "--password-env", "PW",
              "--test-mailbox", ALICE, "--ca-file", d.ca_file().to_str().unwrap()],
            &[("PW", ADMIN_PW)],
        )
        .assert_code(0);
    }
}

fn csv_file(mf: &Mailferry, name: &str, text: &str) -> String {
    let p = mf.data_dir().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

/// Where each source folder is expected on the target.
fn expected_target(source_folder: &str) -> String {
    match source_folder {
        "Sent" => "Sent Items".into(),
        "Trash" => "Deleted Items".into(),
        "Junk" => "Junk E-Mail".into(),
        other => mailferry_core::mutf7::encode(&other.replace('/', ".")),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn initial_sync_is_byte_identical_and_a_second_sync_appends_nothing() {
    let src = source();
    let dst = target();
    let corpus: Corpus = fidelity_corpus(2500, 42);
    src.seed(ALICE, &corpus).unwrap();
    let small = fidelity_corpus(40, 7);
    src.seed(BOB, &small).unwrap();
    src.doveadm_ok(&["mailbox", "subscribe", "-u", ALICE, "Projekte & Pläne/Über uns"]).unwrap();

    let mf = Mailferry::new();
    endpoints(&mf, &src, &dst);
    let csv = csv_file(&mf, "users.csv", &format!("EmailAddress,UserName,Password\n{ALICE},,\n{BOB},,\n"));
    mf.run(&["batch", "create", "wave1", "--csv", &csv, "--source", "src", "--target", "dst"], &[]).assert_code(0);
    let show = mf.run(&["batch", "show", "wave1", "--json"], &[]);
    assert_eq!(show.json()["status"], "Created");

    let run = mf.run(&["batch", "start", "wave1", "--wait"], &[]);
    run.assert_code(0);

    let rt = rt();
    for (user, corpus) in [(ALICE, &corpus), (BOB, &small)] {
        let s = rt.block_on(read_mailbox(&src, user, ADMIN, ADMIN_PW));
        let t = rt.block_on(read_mailbox(&dst, user, ADMIN, ADMIN_PW));
        assert_eq!(count(&s), corpus.messages.len(), "the source holds the corpus");
        if user == ALICE {
            // The awkward cases really are on the source, so the comparison covers them.
            let all: Vec<_> = s.values().flatten().collect();
            assert!(all.iter().any(|m| m.flags.iter().any(|f| f == "$Label1" || f == "ProjectX")), "keywords");
            assert!(all.iter().any(|m| m.internal_date.contains("-199")), "dates before 2000");
            assert!(s.keys().any(|k| k.contains('&')), "non-ASCII folder names");
        }
        for (folder, msgs) in &s {
            let decoded = mailferry_core::mutf7::decode(folder).unwrap();
            let tf = expected_target(&decoded);
            let got = t.get(&tf).unwrap_or_else(|| panic!("{user}: target has no folder {tf:?} for {decoded:?}; it has {:?}", t.keys()));
            assert_eq!(got.len(), msgs.len(), "{user}: message count of {decoded:?}");
            assert!(got == msgs, "{user}: folder {decoded:?} differs (sha256, flags or INTERNALDATE)");
        }
        assert_eq!(count(&t), count(&s), "{user}: nothing extra on the target");
    }

    // Per-user counts in `batch show --json` and the report.
    let v = mf.run(&["batch", "show", "wave1", "--json"], &[]).json();
    assert_eq!(v["status"], "Synced");
    let s_alice = rt.block_on(read_mailbox(&src, ALICE, ADMIN, ADMIN_PW));
    let alice_bytes: usize = s_alice.values().flatten().map(|m| m.size).sum();
    let users = v["users"].as_array().unwrap();
    let alice = users.iter().find(|u| u["email"] == ALICE).unwrap();
    assert_eq!(alice["status"], "Synced");
    assert_eq!(alice["items_source"], 2500);
    assert_eq!(alice["items_synced"], 2500);
    assert_eq!(alice["items_skipped"], 0);
    assert_eq!(alice["bytes_synced"], alice_bytes);
    assert!(alice["last_sync"].is_string());
    let report = mf.run(&["batch", "report", "wave1"], &[]);
    report.assert_code(0);
    assert!(report.stdout.lines().any(|l| l.starts_with(&format!("{ALICE},Synced,2500,2500,0,"))), "{}", report.stdout);

    // Subscriptions are carried over.
    let mut s = rt.block_on(common::imap_check::session(&dst, ALICE, ADMIN, ADMIN_PW));
    let subscribed: Vec<String> = rt.block_on(s.list("", "*")).unwrap().into_iter()
        .filter(|f| f.attributes.iter().any(|a| a.eq_ignore_ascii_case("\\Subscribed"))).map(|f| f.name).collect();
    assert!(subscribed.contains(&expected_target("Projekte & Pläne/Über uns")), "{subscribed:?}");

    // A second sync copies nothing new.
    let before = rt.block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW));
    mf.run(&["batch", "sync", "wave1", "--wait"], &[]).assert_code(0);
    let after = rt.block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW));
    assert_eq!(count(&after), count(&before), "the second sync appended something");
    let v = mf.run(&["batch", "show", "wave1", "--json"], &[]).json();
    let alice = v["users"].as_array().unwrap().iter().find(|u| u["email"] == ALICE).unwrap().clone();
    assert_eq!(alice["items_synced"], 2500);

    // user show has per-folder figures.
    let u = mf.run(&["user", "show", ALICE, "--json"], &[]).json();
    let folders = u["folders"].as_array().unwrap();
    assert_eq!(folders.len(), s_alice.len());
    let total: u64 = folders.iter().map(|f| f["messages_synced"].as_u64().unwrap()).sum();
    assert_eq!(total, 2500);
}

#[test]
fn a_bad_csv_row_exits_2_with_its_line_and_stores_nothing() {
    let src = source();
    let dst = target();
    let mf = Mailferry::new();
    endpoints(&mf, &src, &dst);
    let csv = csv_file(&mf, "bad.csv", &format!("EmailAddress,UserName,Password\n{ALICE},,\nnot-an-address,,\n{ALICE},,\n"));
    let run = mf.run(&["batch", "create", "w", "--csv", &csv, "--source", "src", "--target", "dst"], &[]);
    run.assert_code(2);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    assert!(run.stderr.contains("line 4"), "{}", run.stderr);
    assert!(run.stderr.contains("bad.csv"), "{}", run.stderr);
    assert_eq!(mf.run(&["batch", "list", "--json"], &[]).json(), serde_json::json!([]));
    assert_eq!(mf.run(&["user", "list", "--json"], &[]).json(), serde_json::json!([]));
}

#[test]
fn an_address_in_another_active_batch_is_refused() {
    let src = source();
    let dst = target();
    let mf = Mailferry::new();
    endpoints(&mf, &src, &dst);
    let one = csv_file(&mf, "one.csv", &format!("EmailAddress\n{ALICE}\n"));
    let same = mf.run(&["batch", "create", "one", "--csv", &one, "--source", "src", "--target", "src"], &[]);
    same.assert_code(2);
    assert!(same.stderr.contains("same endpoint"), "{}", same.stderr);
    mf.run(&["batch", "create", "one", "--csv", &one, "--source", "src", "--target", "dst"], &[]).assert_code(0);
    let two = csv_file(&mf, "two.csv", &format!("EmailAddress\n{BOB}\n{ALICE}\n"));
    let run = mf.run(&["batch", "create", "two", "--csv", &two, "--source", "src", "--target", "dst"], &[]);
    run.assert_code(2);
    assert!(run.stderr.contains(ALICE) && run.stderr.contains("one"), "{}", run.stderr);
    let list = mf.run(&["batch", "list", "--json"], &[]).json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    // The endpoint is in use now.
    let rm = mf.run(&["endpoint", "remove", "src"], &[]);
    rm.assert_code(1);
    assert!(rm.stderr.contains("one"), "{}", rm.stderr);
}

#[test]
fn large_messages_are_skipped_recorded_and_reported() {
    let src = source();
    let dst = target();
    let corpus = fidelity_corpus(60, 3);
    src.seed(ALICE, &corpus).unwrap();
    let limit = 5_000u64;
    let s = rt().block_on(read_mailbox(&src, ALICE, ADMIN, ADMIN_PW));
    let large = s.values().flatten().filter(|m| m.size as u64 > limit).count();
    assert!(large > 0 && large < 60, "the corpus has large and small messages ({large})");

    let mf = Mailferry::new();
    endpoints(&mf, &src, &dst);
    let csv = csv_file(&mf, "u.csv", &format!("EmailAddress\n{ALICE}\n"));
    mf.run(&["batch", "create", "w", "--csv", &csv, "--source", "src", "--target", "dst", "--max-message-size", "5000"], &[]).assert_code(0);
    // Over the default large-item limit (0): the user fails, everything else is copied.
    let run = mf.run(&["batch", "start", "w", "--wait"], &[]);
    run.assert_code(1);
    let u = mf.run(&["user", "show", ALICE, "--json"], &[]).json();
    assert_eq!(u["status"], "Failed");
    assert!(u["error"].as_str().unwrap().contains("--large-item-limit"), "{u}");
    assert_eq!(u["items_skipped_large"], large);
    assert_eq!(u["items_synced"], 60 - large);
    let items = u["skipped_items"].as_array().unwrap();
    assert_eq!(items.len(), large);
    assert!(
        items.iter().all(|i| i["kind"] == "large" && i["subject"].as_str().is_some_and(|s| !s.is_empty()) && i["date"].is_string()),
        "{items:?}"
    );
    let t = rt().block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW));
    assert_eq!(count(&t), 60 - large);
    let report = mf.run(&["batch", "report", "w"], &[]);
    assert_eq!(report.stdout.lines().filter(|l| l.contains(",large,")).count(), large, "{}", report.stdout);

    // A second run skips the same messages again without counting them twice.
    mf.run(&["batch", "sync", "w", "--wait"], &[]).assert_code(1);
    let u = mf.run(&["user", "show", ALICE, "--json"], &[]).json();
    assert_eq!(u["items_skipped_large"], large);
    assert_eq!(count(&rt().block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW))), 60 - large);
}
