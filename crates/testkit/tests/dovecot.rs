//! The harness's own tests, against a real Dovecot (plain std TCP, no TLS client).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use mailferry_testkit::{Dovecot, TestCa};

/// A minimal line-based IMAP client: enough for LOGIN / AUTHENTICATE PLAIN / simple commands.
struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
    n: u32,
}

impl Raw {
    fn connect(dc: &Dovecot) -> Raw {
        let s = TcpStream::connect((dc.host(), dc.imap_port())).expect("connect imap port");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut raw = Raw {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
            n: 0,
        };
        let greeting = raw.line();
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        raw
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read line");
        assert!(!l.is_empty(), "server closed the connection");
        l.trim_end().to_string()
    }

    /// Sends `tag cmd`, returns (untagged/continuation lines, tagged line).
    fn cmd(&mut self, cmd: &str) -> (Vec<String>, String) {
        self.n += 1;
        let tag = format!("a{}", self.n);
        write!(self.w, "{tag} {cmd}\r\n").unwrap();
        self.collect(&tag)
    }

    fn collect(&mut self, tag: &str) -> (Vec<String>, String) {
        let mut untagged = Vec::new();
        loop {
            let l = self.line();
            if l.starts_with(&format!("{tag} ")) {
                return (untagged, l);
            }
            untagged.push(l);
        }
    }

    /// AUTHENTICATE PLAIN with an initial response (SASL-IR).
    fn auth_plain(
        &mut self,
        authzid: &str,
        authcid: &str,
        password: &str,
    ) -> (Vec<String>, String) {
        let blob = base64(format!("{authzid}\0{authcid}\0{password}").as_bytes());
        self.cmd(&format!("AUTHENTICATE PLAIN {blob}"))
    }
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn start(sep: char) -> Dovecot {
    Dovecot::builder()
        .separator(sep)
        .user("alice@example.test", "alicepw")
        .user("bob@example.test", "bobpw")
        .master_user("admin", "adminpw")
        .start()
        .unwrap_or_else(|e| panic!("start dovecot: {e:#}"))
}

/// One login attempt on a fresh connection: (untagged lines, tagged line).
type Attempt = dyn Fn(&mut Raw) -> (Vec<String>, String);

/// Whether a process is still alive (zombies count as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X'))
        }
        Err(_) => false,
    }
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(needle) && alive(pid) {
            v.push(pid);
        }
    }
    v
}

#[test]
fn two_instances_with_different_separators_and_clean_shutdown() {
    let slash = start('/');
    let dot = start('.');
    let ports = [
        slash.imap_port(),
        slash.imaps_port(),
        dot.imap_port(),
        dot.imaps_port(),
    ];
    let mut uniq = ports.to_vec();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(uniq.len(), 4, "ports must differ: {ports:?}");
    assert_eq!(slash.host(), "127.0.0.1");
    assert_ne!(slash.dir(), dot.dir());

    for (dc, sep) in [(&slash, "/"), (&dot, ".")] {
        {
            // Both listeners accept connections.
            TcpStream::connect((dc.host(), dc.imaps_port())).expect("imaps port accepts");
            let mut c = Raw::connect(dc);
            let (caps, ok) = c.cmd("CAPABILITY");
            assert!(ok.contains("OK"), "{ok}");
            assert!(caps[0].contains("STARTTLS"), "STARTTLS offered: {caps:?}");
            assert!(caps[0].contains("AUTH=PLAIN"), "{caps:?}");
            let (_, ok) = c.cmd("LOGIN \"alice@example.test\" \"alicepw\"");
            assert!(ok.starts_with("a2 OK"), "{ok}");
            let (caps, _) = c.cmd("CAPABILITY");
            for cap in [
                "CONDSTORE",
                "QRESYNC",
                "UIDPLUS",
                "MOVE",
                "SPECIAL-USE",
                "LIST-STATUS",
            ] {
                assert!(
                    caps[0].split(' ').any(|c| c == cap),
                    "{cap} missing: {caps:?}"
                );
            }
            let (list, ok) = c.cmd("LIST \"\" \"*\"");
            assert!(ok.contains("OK"), "{ok}");
            for (name, attr) in mailferry_testkit::SPECIAL_USE_FOLDERS {
                let want = format!("* LIST (\\HasNoChildren {attr}) \"{sep}\" {name}");
                assert!(list.contains(&want), "missing {want:?} in {list:?}");
            }
            let (lsub, _) = c.cmd("LSUB \"\" \"*\"");
            assert!(
                lsub.iter().any(|l| l.ends_with(" Sent")),
                "Sent subscribed: {lsub:?}"
            );
            let (_, ok) = c.cmd(&format!("CREATE \"Projects{sep}2024\""));
            assert!(ok.contains("OK"), "{ok}");
            let (list, _) = c.cmd("LIST \"\" \"Projects*\"");
            assert!(
                list.iter()
                    .any(|l| l.ends_with(&format!("\"{sep}\" Projects{sep}2024"))),
                "{list:?}"
            );
            c.cmd("LOGOUT");
        }
    }
    assert!(dot
        .maildir("alice@example.test")
        .join(".Projects.2024")
        .is_dir());
    assert!(slash
        .maildir("alice@example.test")
        .join(".Projects.2024")
        .is_dir());

    // Drop stops everything of that instance and nothing of the other.
    let conf = slash.config_path().to_string_lossy().into_owned();
    let dir = slash.dir().to_path_buf();
    let pids = slash.pids();
    assert!(pids.len() >= 3, "master + children expected: {pids:?}");
    assert_eq!(
        processes_mentioning(&conf).len(),
        1,
        "one master with that config"
    );
    drop(slash);
    for pid in &pids {
        assert!(!alive(*pid), "pid {pid} of the dropped instance still runs");
    }
    assert!(
        processes_mentioning(&conf).is_empty(),
        "a process with {conf} remains"
    );
    assert!(!dir.exists(), "temp dir removed");
    assert!(
        TcpStream::connect(("127.0.0.1", ports[0])).is_err(),
        "port closed after drop"
    );

    let other = dot.pids();
    assert!(
        other.iter().all(|p| alive(*p)),
        "the other instance is untouched"
    );
    Raw::connect(&dot).cmd("LOGOUT");
    drop(dot);
    assert!(other.iter().all(|p| !alive(*p)));
}

#[test]
fn regular_user_login_and_authenticate_plain() {
    let dc = start('/');
    {
        let mut c = Raw::connect(&dc);
        let (_, ok) = c.cmd("LOGIN \"bob@example.test\" \"bobpw\"");
        assert!(ok.starts_with("a1 OK"), "{ok}");
        let mut c = Raw::connect(&dc);
        let (_, ok) = c.auth_plain("", "bob@example.test", "bobpw");
        assert!(ok.starts_with("a1 OK"), "{ok}");
        // Same, without SASL-IR: wait for the continuation.
        let mut c = Raw::connect(&dc);
        write!(c.w, "x AUTHENTICATE PLAIN\r\n").unwrap();
        assert!(c.line().starts_with('+'));
        write!(c.w, "{}\r\n", base64(b"\0bob@example.test\0bobpw")).unwrap();
        let (_, ok) = c.collect("x");
        assert!(ok.starts_with("x OK"), "{ok}");
        let mut c = Raw::connect(&dc);
        let (_, ok) = c.cmd("LOGIN \"bob@example.test\" \"nope\"");
        assert_eq!(ok, "a1 NO [AUTHENTICATIONFAILED] Authentication failed.");
        assert_eq!(dc.count_logins("bob@example.test"), 3, "log:\n{}", dc.log());
    }
}

/// The master user works both ways, and Dovecot's exact answers to the failure cases (the CLI
/// words its error messages after these).
#[test]
fn master_user_both_ways_and_failure_answers() {
    let dc = start('.');
    {
        // user*admin LOGIN.
        let mut c = Raw::connect(&dc);
        let (_, ok) = c.cmd("LOGIN \"alice@example.test*admin\" \"adminpw\"");
        assert!(ok.starts_with("a1 OK"), "{ok}");
        let (_, ok) = c.cmd("SELECT INBOX");
        assert!(ok.starts_with("a2 OK"), "{ok}");
        // SASL PLAIN: authzid = user, authcid = admin.
        let mut c = Raw::connect(&dc);
        let (_, ok) = c.auth_plain("alice@example.test", "admin", "adminpw");
        assert!(ok.starts_with("a1 OK"), "{ok}");
        assert!(dc
            .log()
            .contains("Master user logging in as alice@example.test"));
        assert_eq!(dc.count_logins("alice@example.test"), 2);

        let auth_failed = "a1 NO [AUTHENTICATIONFAILED] Authentication failed.";
        let authz_failed = "a1 NO [AUTHORIZATIONFAILED] Authorization failed";
        let cases: [(&str, Box<Attempt>, &str); 6] = [
            (
                "(a) master login, wrong admin password",
                Box::new(|c| c.cmd("LOGIN \"alice@example.test*admin\" \"wrong\"")),
                auth_failed,
            ),
            (
                "(b) master login, unknown user",
                Box::new(|c| c.cmd("LOGIN \"nobody@example.test*admin\" \"adminpw\"")),
                authz_failed,
            ),
            (
                "(c) PLAIN authzid=unknown user",
                Box::new(|c| c.auth_plain("nobody@example.test", "admin", "adminpw")),
                authz_failed,
            ),
            (
                "(c') PLAIN authzid, wrong admin password",
                Box::new(|c| c.auth_plain("alice@example.test", "admin", "wrong")),
                auth_failed,
            ),
            (
                "(d) LOGIN as the admin alone",
                Box::new(|c| c.cmd("LOGIN \"admin\" \"adminpw\"")),
                auth_failed,
            ),
            (
                "(e) PLAIN with a regular user as authcid",
                Box::new(|c| c.auth_plain("alice@example.test", "bob@example.test", "bobpw")),
                auth_failed,
            ),
        ];
        for (what, f, want) in cases.iter() {
            let mut c = Raw::connect(&dc);
            let t = std::time::Instant::now();
            let (untagged, got) = f(&mut c);
            assert!(untagged.is_empty(), "{what}: {untagged:?}");
            assert_eq!(&got, want, "{what}");
            // No auth penalty: failures answer quickly even after several.
            assert!(
                t.elapsed() < std::time::Duration::from_secs(2),
                "{what} took {:?}",
                t.elapsed()
            );
        }
    }
}

#[test]
fn runtime_user_maildir_seed_and_doveadm() {
    let dc = Dovecot::builder()
        .user("alice@example.test", "alicepw")
        .special_use_folders(false)
        .start()
        .unwrap_or_else(|e| panic!("{e:#}"));
    {
        dc.add_user("carol@example.test", "carolpw").unwrap();
        let date = std::time::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        let msg = b"From: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n";
        dc.write_maildir_message("carol@example.test", "INBOX", msg, "S", Some(date))
            .unwrap();
        dc.write_maildir_message("carol@example.test", "Archive/2020", msg, "FS", None)
            .unwrap();

        let mut c = Raw::connect(&dc);
        let (_, ok) = c.cmd("LOGIN \"carol@example.test\" \"carolpw\"");
        assert!(ok.starts_with("a1 OK"), "{ok}");
        let (list, _) = c.cmd("LIST \"\" \"*\"");
        assert!(
            !list.iter().any(|l| l.contains("\\Sent")),
            "no special-use folders: {list:?}"
        );
        assert!(
            list.iter().any(|l| l.ends_with("\"/\" Archive/2020")),
            "{list:?}"
        );
        let (sel, ok) = c.cmd("SELECT INBOX");
        assert!(ok.contains("OK"), "{ok}");
        assert!(sel.contains(&"* 1 EXISTS".to_string()), "{sel:?}");
        let (f, _) = c.cmd("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)");
        assert!(
            f[0].contains("\\Seen") && f[0].contains("13-Sep-2020"),
            "{f:?}"
        );
        assert!(
            f[0].contains(&format!("RFC822.SIZE {}", msg.len())),
            "{f:?}"
        );
        let (st, _) = c.cmd("STATUS \"Archive/2020\" (MESSAGES)");
        assert!(st[0].contains("MESSAGES 1"), "{st:?}");

        let out = dc
            .doveadm_ok(&["mailbox", "list", "-u", "carol@example.test"])
            .unwrap();
        assert!(out.lines().any(|l| l == "Archive/2020"), "{out}");
        assert!(dc
            .doveadm_ok(&["mailbox", "list", "-u", "nobody@example.test"])
            .is_err());
    }
}

#[test]
fn test_ca_issues_leaf_and_server_uses_given_ca() {
    let ca = TestCa::new("mailferry test CA");
    assert!(ca.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"]);
    assert!(cert.contains("BEGIN CERTIFICATE") && key.contains("PRIVATE KEY"));
    let tmp = tempfile::tempdir().unwrap();
    let path = ca.write_cert(tmp.path());
    assert_eq!(path, tmp.path().join("ca.pem"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), ca.cert_pem);

    let dc = Dovecot::builder()
        .ca(&ca)
        .user("a@example.test", "pw")
        .start()
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(dc.ca_pem(), ca.cert_pem);
    assert_eq!(std::fs::read_to_string(dc.ca_file()).unwrap(), ca.cert_pem);
    // If openssl is there, check the chain and names for real.
    if let Some(openssl) = mailferry_testkit::find_tool("openssl") {
        // Send LOGOUT and wait for the server to close (-ign_eof), so the greeting is always read.
        let mut child = std::process::Command::new("timeout")
            .arg("20")
            .arg(openssl)
            .args(["s_client", "-crlf", "-ign_eof", "-connect"])
            .arg(format!("127.0.0.1:{}", dc.imaps_port()))
            .args(["-verify_return_error", "-verify_ip", "127.0.0.1", "-CAfile"])
            .arg(dc.ca_file())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a LOGOUT\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("Verify return code: 0 (ok)"), "{text}\n{err}");
        assert!(
            text.contains("* OK"),
            "IMAP greeting over implicit TLS: {text}\n{err}"
        );
        assert!(text.contains("a OK"), "LOGOUT answered: {text}\n{err}");
    }
}

#[test]
#[should_panic(expected = "required tool `mailferry-no-such-tool` is not installed")]
fn require_tool_fails_loudly() {
    mailferry_testkit::require_tool("mailferry-no-such-tool");
}

#[test]
fn require_tool_finds_dovecot_in_sbin() {
    let p = mailferry_testkit::require_tool("dovecot");
    assert!(p.is_file());
}
