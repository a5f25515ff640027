//! Scale-out (issue 8's acceptance): three worker processes share one
//! PostgreSQL and one Dovecot pair; one is killed with SIGKILL mid-copy,
//! another is paused with SIGSTOP past its lease and resumed. Every mailbox
//! ends Synced, every message is there exactly once, and the endpoints'
//! limits hold across the processes.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Mailferry;
use mailferry_testkit::corpus::fidelity_corpus;
use mailferry_testkit::Dovecot;

const ADMIN: &str = "migadmin";
const ADMIN_PW: &str = "Adm1n-pw";
const USERS: usize = 30;
const PER_USER: usize = 60;
const LIMIT: usize = 4;

/// A fresh database on the test PostgreSQL server (`MAILFERRY_TEST_PG`,
/// default the local one); dropped at the end.
struct TestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    fn create() -> TestDb {
        let admin_url = std::env::var("MAILFERRY_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("mf_cli_{}_{}", std::process::id(), Instant::now().elapsed().as_nanos() % 100_000);
        let out = Command::new("psql")
            .arg(&admin_url)
            .args(["-v", "ON_ERROR_STOP=1", "-c", &format!("CREATE DATABASE {name}")])
            .output()
            .unwrap_or_else(|e| panic!("psql is needed for the PostgreSQL tests (scripts/test.sh installs it): {e}"));
        assert!(
            out.status.success(),
            "cannot create a test database on the PostgreSQL server (set MAILFERRY_TEST_PG, or run scripts/test.sh, which starts one): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin_url.clone());
        TestDb { url: format!("{base}/{name}"), admin_url, name }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin_url)
            .args(["-c", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .output();
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").arg(format!("-{sig}")).arg(child.id().to_string()).status().unwrap().success();
    assert!(ok, "kill -{sig}");
}

#[test]
fn three_workers_survive_a_kill_and_a_pause_with_every_message_copied_once() {
    let users: Vec<String> = (0..USERS).map(|i| format!("u{i:02}@example.test")).collect();
    let mut src = Dovecot::builder().separator('/').master_user(ADMIN, ADMIN_PW);
    let mut dst = Dovecot::builder().separator('.').master_user(ADMIN, ADMIN_PW);
    for u in &users {
        src = src.user(u, "pw");
        dst = dst.user(u, "pw");
    }
    let src = src.start().unwrap();
    let dst = dst.start().unwrap();
    for (i, u) in users.iter().enumerate() {
        src.seed(u, &fidelity_corpus(PER_USER, 900 + i as u64)).unwrap();
    }
    let db = TestDb::create();
    let mf = Mailferry::new();
    let env: &[(&str, &str)] = &[("MAILFERRY_DB", db.url.as_str()), ("PW", ADMIN_PW)];
    let limit = LIMIT.to_string();
    for (name, d) in [("src", &src), ("dst", &dst)] {
        let port = d.imaps_port().to_string();
        mf.run(
            &["endpoint", "create", name, "--host", d.host(), "--port", &port, "--admin", ADMIN, "--password-env", "PW",
              "--test-mailbox", &users[0], "--ca-file", d.ca_file().to_str().unwrap(),
              "--max-concurrent-migrations", &limit, "--max-concurrent-incremental", "2"],
            env,
        )
        .assert_code(0);
    }
    let csv = mf.data_dir().join("users.csv");
    std::fs::write(&csv, format!("EmailAddress\n{}\n", users.join("\n"))).unwrap();
    mf.run(&["batch", "create", "big", "--csv", csv.to_str().unwrap(), "--source", "src", "--target", "dst", "--no-incremental"], env)
        .assert_code(0);
    let logins_before = src.log().lines().count();
    mf.run(&["batch", "start", "big"], env).assert_code(0);

    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_mailferry"))
            .arg("--data-dir")
            .arg(mf.data_dir())
            .args(["worker", "--slots", "4", "--lease-ttl", "4"])
            .env("MAILFERRY_DB", &db.url)
            .env("MAILFERRY_RETRY_DELAY_MS", "200")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut a = spawn();
    let mut b = spawn();
    let mut c = spawn();
    let synced = |f: &dyn Fn(&serde_json::Value) -> bool| {
        let v = mf.run(&["batch", "show", "big", "--json"], env).json();
        v["users"].as_array().unwrap().iter().filter(|u| f(u)).count()
    };
    let wait = |what: &str, secs: u64, cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    // Mid-copy: some mailboxes done, several in flight.
    wait("the first mailboxes", 120, &|| synced(&|u| u["status"] == "Synced") >= 3);
    let list = mf.run(&["worker", "list", "--json"], env).json();
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    // Pause another past its lease (4 s), then let it go on.
    signal(&b, "STOP");
    let paused_at = src.log().lines().count();
    std::thread::sleep(Duration::from_secs(7));
    signal(&b, "CONT");

    wait("every mailbox to be Synced", 300, &|| synced(&|u| u["status"] == "Synced") == USERS);
    for w in [&mut b, &mut c] {
        signal(w, "TERM");
    }
    for w in [b, c] {
        let out = w.wait_with_output().unwrap();
        assert!(out.status.success(), "a worker did not stop cleanly: {}", String::from_utf8_lossy(&out.stderr));
    }

    // Every message exactly once.
    let run = mf.run(&["verify", "big", "--json"], env);
    let v = run.json();
    assert_eq!(run.code, 0, "{v}");
    assert_eq!(v["messages_source"], USERS * PER_USER);
    assert_eq!(v["matched"], USERS * PER_USER);
    assert_eq!(v["extra"], 0);

    // The endpoint limit held across the three processes up to the pause
    // (a paused process keeps its idle connections open, which no one else
    // can close; those are not counted after that point).
    let log = src.log();
    let window: Vec<&str> = log.lines().skip(logins_before).take(paused_at - logins_before).collect();
    let (mut open, mut max) = (0i64, 0i64);
    for line in window {
        if line.contains("imap-login: Info: Login: user=<") {
            open += 1;
            max = max.max(open);
        } else if line.contains(": Info: Logged out") || (line.contains(" imap(") && line.contains(": Info: Disconnected")) {
            open -= 1;
        }
    }
    assert!(max as usize <= LIMIT, "{max} simultaneous sessions on the source, the limit is {LIMIT}");
    assert!(max >= 2, "the workers ran mailboxes at the same time ({max})");
}
