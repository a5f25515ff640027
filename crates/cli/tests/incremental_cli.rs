//! Incremental syncs, completion, verification, and no loss or duplicate
//! under faults (issue 4's acceptance), against real Dovecots.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::imap_check::{count, read_mailbox, session};
use common::Mailferry;
use mailferry_imap::FlagsMode;
use mailferry_testkit::corpus::{fidelity_corpus, Corpus, Rng};
use mailferry_testkit::{CutPlan, Dovecot, FaultProxy};

const ADMIN: &str = "migadmin";
const ADMIN_PW: &str = "Adm1n-pw";
const ALICE: &str = "alice@example.test";

fn server(sep: char, users: &[&str]) -> Dovecot {
    let mut b = Dovecot::builder().separator(sep).master_user(ADMIN, ADMIN_PW);
    for u in users {
        b = b.user(u, "pw");
    }
    b.start().expect("start dovecot")
}

fn endpoint(mf: &Mailferry, name: &str, d: &Dovecot, port: u16, extra: &[&str]) {
    let port = port.to_string();
    let mut args = vec![
        "endpoint", "create", name, "--host", d.host(), "--port", &port, "--admin", ADMIN, "--password-env", "PW",
        "--test-mailbox", ALICE, "--ca-file", d.ca_file().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    mf.run(&args, &[("PW", ADMIN_PW)]).assert_code(0);
}

fn batch(mf: &Mailferry, users: &[&str], extra: &[&str]) {
    let csv = mf.data_dir().join("users.csv");
    let mut text = String::from("EmailAddress\n");
    for u in users {
        text.push_str(&format!("{u}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let mut args = vec!["batch", "create", "b", "--csv", csv.to_str().unwrap(), "--source", "src", "--target", "dst"];
    args.extend_from_slice(extra);
    mf.run(&args, &[]).assert_code(0);
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn verify_json(mf: &Mailferry) -> (i32, serde_json::Value) {
    let run = mf.run(&["verify", "b", "--json"], &[]);
    let v = run.json();
    (run.code, v)
}

/// Appends `n` new messages to `folder` of `user` on `d` over IMAP.
fn append_messages(d: &Dovecot, user: &str, folder: &str, n: usize, seed: u64) {
    let rt = rt();
    rt.block_on(async {
        let mut s = session(d, user, ADMIN, ADMIN_PW).await;
        let _ = s.create(folder).await;
        let c = fidelity_corpus(n, seed);
        for m in &c.messages {
            let body: Vec<u8> = String::from_utf8_lossy(&m.bytes).replace('\n', "\r\n").replace("\r\r\n", "\r\n").into_bytes();
            s.append(folder, &["$NewOne".to_string()], Some("01-Feb-2021 10:00:00 +0000"), &body).await.unwrap();
        }
        s.logout().await.unwrap();
    });
}

#[test]
fn incremental_sync_carries_new_messages_flag_changes_and_new_folders_and_verify_proves_it() {
    let src = server('/', &[ALICE]);
    let dst = server('.', &[ALICE]);
    src.seed(ALICE, &fidelity_corpus(300, 11)).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &[]);
    batch(&mf, &[ALICE], &[]);
    mf.run(&["batch", "start", "b", "--wait"], &[]).assert_code(0);
    let (code, v) = verify_json(&mf);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["messages_source"], 300);
    assert_eq!(v["matched"], 300);

    // The source changes while the migration runs.
    append_messages(&src, ALICE, "INBOX", 7, 500);
    append_messages(&src, ALICE, "Brand New/Child", 5, 501);
    rt().block_on(async {
        let mut s = session(&src, ALICE, ADMIN, ADMIN_PW).await;
        s.select("Archive", false).await.unwrap();
        s.uid_store_flags("1:3", FlagsMode::Add, &["\\Flagged".to_string(), "$Urgent".to_string()]).await.unwrap();
        s.uid_store_flags("4", FlagsMode::Replace, &[]).await.unwrap();
        s.logout().await.unwrap();
    });

    mf.run(&["batch", "sync", "b", "--wait"], &[]).assert_code(0);
    let (code, v) = verify_json(&mf);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["messages_source"], 312);
    assert_eq!((v["missing"].as_u64(), v["altered"].as_u64(), v["extra"].as_u64()), (Some(0), Some(0), Some(0)));
    let show = mf.run(&["batch", "show", "b", "--json"], &[]).json();
    assert_eq!(show["users"][0]["items_synced"], 312);
    assert_eq!(show["users"][0]["items_source"], 312);
    let t = rt().block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW));
    assert!(t.contains_key("Brand New.Child"), "{:?}", t.keys());
}

#[test]
fn an_unchanged_mailbox_costs_no_message_body_fetch() {
    let src = server('/', &[ALICE]);
    let dst = server('.', &[ALICE]);
    src.seed(ALICE, &fidelity_corpus(200, 12)).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &[]);
    batch(&mf, &[ALICE], &[]);
    mf.run(&["batch", "start", "b", "--wait"], &[]).assert_code(0);
    // A first incremental pass records where each folder stands.
    mf.run(&["batch", "sync", "b", "--wait"], &[]).assert_code(0);
    let before = src.logouts(ALICE).len();
    mf.run(&["batch", "sync", "b", "--wait"], &[]).assert_code(0);
    let after = src.logouts(ALICE);
    let new: Vec<&String> = after[before..].iter().collect();
    assert_eq!(new.len(), 1, "one source session for the incremental sync: {new:?}");
    // Dovecot's own accounting of the session: no message body was fetched.
    assert!(new[0].contains("body_count=0"), "{}", new[0]);
    assert!(new[0].contains("hdr_count=0"), "{}", new[0]);
}

#[test]
fn verify_finds_a_message_deleted_on_the_target_and_one_whose_flags_differ() {
    let src = server('/', &[ALICE]);
    let dst = server('.', &[ALICE]);
    src.seed(ALICE, &fidelity_corpus(40, 13)).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &[]);
    batch(&mf, &[ALICE], &[]);
    mf.run(&["batch", "start", "b", "--wait"], &[]).assert_code(0);
    rt().block_on(async {
        let mut s = session(&dst, ALICE, ADMIN, ADMIN_PW).await;
        s.select("INBOX", false).await.unwrap();
        let uids = s.uid_search("ALL").await.unwrap();
        assert!(uids.len() >= 2);
        s.uid_store_flags(&uids[0].to_string(), FlagsMode::Add, &["\\Deleted".to_string()]).await.unwrap();
        s.uid_expunge(&uids[0].to_string()).await.unwrap();
        s.uid_store_flags(&uids[1].to_string(), FlagsMode::Add, &["$Changed".to_string()]).await.unwrap();
        s.logout().await.unwrap();
    });
    let run = mf.run(&["verify", "b", "--json"], &[]);
    run.assert_code(1);
    let v = run.json();
    assert_eq!(v["missing"], 1, "{v}");
    assert_eq!(v["altered"], 1, "{v}");
    assert_eq!(v["extra"], 0, "{v}");
    let text = mf.run(&["verify", "b"], &[]);
    text.assert_code(1);
    assert!(text.stdout.contains("1 missing, 1 altered"), "{}", text.stdout);
    assert!(text.stdout.contains("flags"), "{}", text.stdout);
}

#[test]
fn complete_ends_the_batch_and_nothing_is_copied_afterwards() {
    let src = server('/', &[ALICE]);
    let dst = server('.', &[ALICE]);
    src.seed(ALICE, &fidelity_corpus(30, 14)).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &[]);
    batch(&mf, &[ALICE], &[]);
    mf.run(&["batch", "start", "b", "--wait"], &[]).assert_code(0);
    append_messages(&src, ALICE, "INBOX", 2, 600);
    // The final sync takes the two new messages.
    mf.run(&["batch", "complete", "b", "--wait"], &[]).assert_code(0);
    let v = mf.run(&["batch", "show", "b", "--json"], &[]).json();
    assert_eq!(v["status"], "Completed");
    assert_eq!(v["users"][0]["status"], "Completed");
    assert_eq!(v["users"][0]["items_synced"], 32);
    // Afterwards nothing is copied any more.
    append_messages(&src, ALICE, "INBOX", 1, 601);
    let sync = mf.run(&["batch", "sync", "b", "--wait"], &[]);
    sync.assert_code(2);
    assert!(sync.stderr.contains("Completed"), "{}", sync.stderr);
    assert_eq!(count(&rt().block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW))), 32);
}

/// Runs `mailferry ARGS` in the background and kills it with SIGKILL after `after`.
fn run_and_kill(mf: &Mailferry, args: &[&str], after: Duration) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .arg("--data-dir")
        .arg(mf.data_dir())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + after;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false; // finished before the kill
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    true
}

fn assert_exact_copy(mf: &Mailferry, expected: u64) {
    let (code, v) = verify_json(mf);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["messages_source"], expected);
    assert_eq!(v["matched"], expected, "{v}");
}

#[test]
fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let src = server('/', &[ALICE]);
    let dst = server('.', &[ALICE]);
    let corpus: Corpus = fidelity_corpus(3000, 15);
    src.seed(ALICE, &corpus).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &[]);
    batch(&mf, &[ALICE], &[]);
    let mut rng = Rng::new(99);
    let mut kills = 0;
    let mut first = true;
    for _ in 0..4 {
        let wait = Duration::from_millis(700 + rng.below(1500));
        let args: &[&str] = if first { &["batch", "start", "b", "--wait"] } else { &["batch", "sync", "b", "--wait"] };
        first = false;
        if run_and_kill(&mf, args, wait) {
            kills += 1;
        }
    }
    assert!(kills >= 2, "the copy ran long enough to be killed mid-way ({kills} kills)");
    mf.run(&["batch", "sync", "b", "--wait"], &[]).assert_code(0);
    assert_exact_copy(&mf, 3000);
    assert_eq!(count(&rt().block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW))), 3000);
}

#[test]
fn connections_cut_mid_transfer_are_retried_without_loss_or_duplicate() {
    let src = server('/', &[ALICE]);
    let dst = server('.', &[ALICE]);
    src.seed(ALICE, &fidelity_corpus(600, 16)).unwrap();
    // The target is reached through a proxy that cuts the first three
    // connections once 300 KB went through them (mid-APPEND).
    let proxy = FaultProxy::start(dst.imaps_addr(), CutPlan { after_client_bytes: 300_000, connections: 3 }).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, proxy.port(), &[]);
    batch(&mf, &[ALICE], &[]);
    mf.run(&["batch", "start", "b", "--wait"], &[("MAILFERRY_RETRY_DELAY_MS", "100")]).assert_code(0);
    assert_eq!(proxy.cuts(), 3, "the proxy cut connections mid-transfer");
    assert_exact_copy(&mf, 600);
}

#[test]
fn a_target_restart_mid_sync_loses_and_duplicates_nothing() {
    let src = server('/', &[ALICE]);
    let mut dst = server('.', &[ALICE]);
    src.seed(ALICE, &fidelity_corpus(2500, 17)).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &[]);
    batch(&mf, &[ALICE], &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .arg("--data-dir")
        .arg(mf.data_dir())
        .args(["batch", "start", "b", "--wait"])
        .env("MAILFERRY_RETRY_DELAY_MS", "300")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "the sync was still running at the restart");
    dst.restart().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_exact_copy(&mf, 2500);
}

#[test]
fn serve_runs_incremental_syncs_on_their_interval_within_the_endpoint_limits() {
    let users: Vec<String> = (1..=5).map(|i| format!("user{i}@example.test")).collect();
    let mut names: Vec<&str> = users.iter().map(String::as_str).collect();
    names.push(ALICE);
    let src = server('/', &names);
    let dst = server('.', &names);
    for (i, u) in users.iter().enumerate() {
        src.seed(u, &fidelity_corpus(150, 700 + i as u64)).unwrap();
    }
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &["--max-concurrent-migrations", "2", "--max-concurrent-incremental", "1"]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &["--max-concurrent-migrations", "2", "--max-concurrent-incremental", "1"]);
    let user_refs: Vec<&str> = users.iter().map(String::as_str).collect();
    batch(&mf, &user_refs, &["--incremental-interval", "3s", "--autostart"]);
    let logins_before = src.max_concurrent_sessions();
    assert_eq!(logins_before, 1, "only the endpoint tests so far");

    let serve = Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .arg("--data-dir")
        .arg(mf.data_dir())
        .args(["serve", "--tick", "1", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    let all_synced = || {
        let v = mf.run(&["batch", "show", "b", "--json"], &[]).json();
        v["users"].as_array().unwrap().iter().all(|u| u["status"] == "Synced")
    };
    wait_for("the initial syncs", &all_synced);

    // A message arriving on the source is copied by the next incremental
    // sync, which the scheduler starts when the interval has passed.
    append_messages(&src, &users[0], "INBOX", 1, 800);
    let copied = || {
        let v = mf.run(&["user", "show", &users[0], "--json"], &[]).json();
        v["items_synced"] == 151
    };
    wait_for("the incremental sync", &copied);

    // SIGTERM: a clean exit with the state saved.
    sigterm(serve.id());
    let out = serve.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = mf.run(&["batch", "show", "b", "--json"], &[]).json();
    assert!(v["users"].as_array().unwrap().iter().all(|u| u["status"] == "Synced" || u["status"] == "Queued"), "{v}");

    // Never more than two mailboxes at once on the source (one session each).
    let max = src.max_concurrent_sessions();
    assert_eq!(max, 2, "two mailboxes at once on the source endpoint (its limit), never more");
    assert!(dst.max_concurrent_sessions() <= 2, "target: {}", dst.max_concurrent_sessions());
}

/// SIGTERM to a child process (std only offers SIGKILL).
fn sigterm(pid: u32) {
    let status = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
    assert!(status.success());
}

#[test]
fn stop_saves_the_state_and_start_resumes_without_duplicates() {
    let src = server('/', &[ALICE]);
    let dst = server('.', &[ALICE]);
    src.seed(ALICE, &fidelity_corpus(2500, 18)).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &[]);
    batch(&mf, &[ALICE], &[]);
    let child = Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .arg("--data-dir")
        .arg(mf.data_dir())
        .args(["batch", "start", "b", "--wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let stop = mf.run(&["batch", "stop", "b"], &[]);
    stop.assert_code(0);
    let out = child.wait_with_output().unwrap();
    // The running sync stopped at a message boundary; the batch is Stopped, partly copied.
    let v = mf.run(&["batch", "show", "b", "--json"], &[]).json();
    assert_eq!(v["status"], "Stopped", "{v}\n{}", String::from_utf8_lossy(&out.stderr));
    let synced = v["users"][0]["items_synced"].as_u64().unwrap();
    assert!(synced > 0 && synced < 2500, "stopped mid-way ({synced})");
    assert_eq!(count(&rt().block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW))) as u64, synced, "the store and the target agree");
    // Starting again resumes.
    mf.run(&["batch", "start", "b", "--wait"], &[]).assert_code(0);
    assert_exact_copy(&mf, 2500);
}

#[test]
fn users_can_be_added_to_a_running_batch_and_a_batch_removed() {
    let bob = "bob@example.test";
    let src = server('/', &[ALICE, bob]);
    let dst = server('.', &[ALICE, bob]);
    src.seed(ALICE, &fidelity_corpus(20, 19)).unwrap();
    src.seed(bob, &fidelity_corpus(25, 20)).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &[]);
    batch(&mf, &[ALICE], &[]);
    mf.run(&["batch", "start", "b", "--wait"], &[]).assert_code(0);
    let more = mf.data_dir().join("more.csv");
    std::fs::write(&more, format!("EmailAddress\n{bob}\n")).unwrap();
    mf.run(&["batch", "add-users", "b", "--csv", more.to_str().unwrap()], &[]).assert_code(0);
    let again = mf.run(&["batch", "add-users", "b", "--csv", more.to_str().unwrap()], &[]);
    again.assert_code(2);
    assert!(again.stderr.contains(bob), "{}", again.stderr);
    mf.run(&["batch", "sync", "b", "--wait"], &[]).assert_code(0);
    assert_exact_copy(&mf, 45);
    mf.run(&["batch", "remove", "b"], &[]).assert_code(0);
    assert_eq!(mf.run(&["batch", "list", "--json"], &[]).json(), serde_json::json!([]));
    assert_eq!(mf.run(&["user", "list", "--json"], &[]).json(), serde_json::json!([]));
    // The endpoints are free again.
    mf.run(&["endpoint", "remove", "src"], &[]).assert_code(0);
}

#[test]
fn a_renamed_folder_and_uidvalidity_changes_are_followed_without_duplicates() {
    let src = server('/', &[ALICE]);
    let dst = server('.', &[ALICE]);
    src.seed(ALICE, &fidelity_corpus(120, 21)).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &[]);
    batch(&mf, &[ALICE], &[]);
    mf.run(&["batch", "start", "b", "--wait"], &[]).assert_code(0);
    let before = rt().block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW));

    // 1. A folder renamed on the source is renamed on the target too.
    src.doveadm_ok(&["mailbox", "rename", "-u", ALICE, "With Spaces", "Renamed Folder"]).unwrap();
    mf.run(&["batch", "sync", "b", "--wait"], &[]).assert_code(0);
    let after = rt().block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW));
    assert!(after.contains_key("Renamed Folder") && !after.contains_key("With Spaces"), "{:?}", after.keys());
    assert_eq!(count(&after), count(&before), "nothing copied twice");
    assert_exact_copy(&mf, 120);

    // 2. The source folder's UIDVALIDITY changes (as after a restore of the
    //    server): the copies are found again by content, nothing is appended.
    let dir = src.maildir(ALICE).join(".Archive");
    let uidlist = dir.join("dovecot-uidlist");
    let text = std::fs::read_to_string(&uidlist).unwrap();
    let (header, rest) = text.split_once('\n').unwrap();
    let new_header: Vec<String> = header
        .split(' ')
        .map(|f| match f.strip_prefix('V') {
            Some(v) => format!("V{}", v.parse::<u64>().unwrap() + 1000),
            None => f.to_owned(),
        })
        .collect();
    std::fs::write(&uidlist, format!("{}\n{rest}", new_header.join(" "))).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("dovecot.index") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let status = rt().block_on(async {
        let mut s = session(&src, ALICE, ADMIN, ADMIN_PW).await;
        let st = s.status("Archive", &["UIDVALIDITY"]).await.unwrap();
        s.logout().await.unwrap();
        st
    });
    assert!(text.contains(&format!("V{}", status.uidvalidity.unwrap() - 1000)), "the UIDVALIDITY changed: {header} -> {:?}", status.uidvalidity);
    mf.run(&["batch", "sync", "b", "--wait"], &[]).assert_code(0);
    assert_eq!(count(&rt().block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW))), count(&before));
    assert_exact_copy(&mf, 120);

    // 3. The target folder is deleted and made again (new UIDVALIDITY, no messages):
    //    its messages are copied again, once.
    dst.doveadm_ok(&["mailbox", "delete", "-u", ALICE, "-r", "Drafts"]).unwrap();
    dst.doveadm_ok(&["mailbox", "create", "-u", ALICE, "Drafts"]).unwrap();
    mf.run(&["batch", "sync", "b", "--wait"], &[]).assert_code(0);
    assert_eq!(count(&rt().block_on(read_mailbox(&dst, ALICE, ADMIN, ADMIN_PW))), count(&before));
    assert_exact_copy(&mf, 120);
}

#[test]
fn the_scheduler_starts_and_completes_batches_on_time() {
    let src = server('/', &[ALICE]);
    let dst = server('.', &[ALICE]);
    src.seed(ALICE, &fidelity_corpus(30, 22)).unwrap();
    let mf = Mailferry::new();
    endpoint(&mf, "src", &src, src.imaps_port(), &[]);
    endpoint(&mf, "dst", &dst, dst.imaps_port(), &[]);
    batch(&mf, &[ALICE], &["--start-after", "2s", "--autocomplete", "--no-incremental"]);
    assert_eq!(mf.run(&["batch", "show", "b", "--json"], &[]).json()["status"], "Created");
    let serve = Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .arg("--data-dir")
        .arg(mf.data_dir())
        .args(["serve", "--tick", "1", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = mf.run(&["batch", "show", "b", "--json"], &[]).json();
        if v["status"] == "Completed" {
            break;
        }
        assert!(Instant::now() < deadline, "the batch did not start and complete by itself: {v}");
        std::thread::sleep(Duration::from_millis(300));
    }
    sigterm(serve.id());
    let out = serve.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_exact_copy(&mf, 30);
}
