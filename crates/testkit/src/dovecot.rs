//! A throwaway Dovecot 2.3 per test: own temp dir, own config, free loopback ports.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};

use crate::ca::TestCa;
use crate::tools::{find_tool, missing_tool_message};

/// How long `start` waits for both listeners to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times `start` retries with new ports when a port was taken in between.
const START_ATTEMPTS: usize = 4;
/// How long `Drop` waits for the master and its children to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Set to 1 to keep the temp dir (config, log, maildirs) after the test, for debugging.
const KEEP_ENV: &str = "MAILFERRY_KEEP_DOVECOT";

/// The special-use folders created (auto = subscribe) when `special_use_folders(true)`.
pub const SPECIAL_USE_FOLDERS: &[(&str, &str)] = &[
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
];

/// Configures a [`Dovecot`]; see [`Dovecot::builder`].
#[derive(Debug)]
pub struct DovecotBuilder {
    separator: char,
    users: Vec<(String, String)>,
    master_users: Vec<(String, String)>,
    special_use: Vec<(String, String)>,
    prefix: String,
    ca_ref: Option<(String, String, String)>, // (ca_pem, leaf_cert_pem, leaf_key_pem)
}

impl Default for DovecotBuilder {
    fn default() -> Self {
        DovecotBuilder {
            separator: '/',
            users: Vec::new(),
            master_users: Vec::new(),
            special_use: SPECIAL_USE_FOLDERS
                .iter()
                .map(|(n, a)| (n.to_string(), a.to_string()))
                .collect(),
            prefix: String::new(),
            ca_ref: None,
        }
    }
}

impl DovecotBuilder {
    /// Hierarchy separator of the inbox namespace: `'/'` (default) or `'.'`.
    pub fn separator(mut self, sep: char) -> Self {
        assert!(
            sep == '/' || sep == '.',
            "separator must be '/' or '.', got {sep:?}"
        );
        self.separator = sep;
        self
    }

    /// A regular user, `user@domain`, with a plaintext password.
    pub fn user(mut self, address: &str, password: &str) -> Self {
        check_passwd_field("user", address);
        check_passwd_field("password", password);
        self.users.push((address.to_string(), password.to_string()));
        self
    }

    /// A master user (administrator who can act for any mailbox): log in as `user*login` with
    /// this password, or SASL PLAIN with authzid `user`, authcid `login`.
    pub fn master_user(mut self, login: &str, password: &str) -> Self {
        check_passwd_field("master user", login);
        check_passwd_field("password", password);
        self.master_users
            .push((login.to_string(), password.to_string()));
        self
    }

    /// Drafts/Sent/Trash/Junk/Archive with their special-use attribute, auto-subscribed
    /// (default true).
    /// Special-use folders with names of the test's choosing, e.g.
    /// `[("Sent Items", "\\Sent"), ("Gelöschte Elemente", "\\Trash")]` (UTF-8; encoded
    /// for Dovecot's config here). Replaces the default set.
    pub fn special_use_names(mut self, folders: &[(&str, &str)]) -> Self {
        self.special_use = folders
            .iter()
            .map(|(n, a)| (n.to_string(), a.to_string()))
            .collect();
        self
    }

    /// Namespace prefix of the personal namespace (e.g. `"INBOX."` with separator `'.'`,
    /// the Courier/Cyrus style where every folder lives under INBOX). Default: none.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    pub fn special_use_folders(mut self, yes: bool) -> Self {
        self.special_use = if yes {
            DovecotBuilder::default().special_use
        } else {
            Vec::new()
        };
        self
    }

    /// Sign the server certificate with this CA (default: a fresh CA per server).
    pub fn ca(mut self, ca: &TestCa) -> Self {
        let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"]);
        self.ca_ref = Some((ca.cert_pem.clone(), cert, key));
        self
    }

    /// A server certificate (from a fresh test CA) for these names as well as
    /// `localhost` and `127.0.0.1`, e.g. `imap.example.test` for a test that
    /// reaches the server through a test DNS server.
    pub fn cert_names(mut self, names: &[&str]) -> Self {
        let ca = TestCa::new("mailferry test CA");
        let mut all = vec!["localhost", "127.0.0.1"];
        all.extend_from_slice(names);
        let (cert, key) = ca.leaf(&all);
        self.ca_ref = Some((ca.cert_pem.clone(), cert, key));
        self
    }

    /// Starts the server and waits until both listeners accept connections.
    ///
    /// Fails with a clear message when Dovecot is not installed, and with the Dovecot log when
    /// it does not come up.
    pub fn start(self) -> Result<Dovecot> {
        let dovecot_bin =
            find_tool("dovecot").ok_or_else(|| anyhow!(missing_tool_message("dovecot")))?;
        let doveadm_bin =
            find_tool("doveadm").ok_or_else(|| anyhow!(missing_tool_message("doveadm")))?;
        let version = dovecot_version(&dovecot_bin)?;
        if !version.starts_with("2.3.") {
            bail!(
                "mailferry-testkit writes a Dovecot 2.3 configuration, but {} is version {version}",
                dovecot_bin.display()
            );
        }
        let (uid, gid) = lookup_ids("dovenull").context(
            "user/group `dovenull` missing: it is created by the dovecot-core package \
             (scripts/test.sh installs dovecot-imapd)",
        )?;

        let mut tempdir = tempfile::Builder::new()
            .prefix("mf-dovecot-")
            .tempdir()
            .context("create temp dir for Dovecot")?;
        let dir = tempdir.path().to_path_buf();
        // Dovecot's unprivileged processes (auth as `dovecot`, mail as `dovenull`) must reach
        // the files inside.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
        for sub in ["run", "state", "ssl", "home"] {
            fs::create_dir(dir.join(sub))?;
            fs::set_permissions(dir.join(sub), fs::Permissions::from_mode(0o755))?;
        }

        // TLS material.
        let (ca_pem, leaf_cert, leaf_key) = match self.ca_ref {
            Some(t) => t,
            None => {
                let ca = TestCa::new("mailferry test CA");
                let (c, k) = ca.leaf(&["localhost", "127.0.0.1"]);
                (ca.cert_pem.clone(), c, k)
            }
        };
        let ca_file = dir.join("ssl/ca.pem");
        fs::write(&ca_file, &ca_pem)?;
        fs::write(dir.join("ssl/server.pem"), &leaf_cert)?;
        fs::write(dir.join("ssl/server.key"), &leaf_key)?;
        fs::set_permissions(
            dir.join("ssl/server.key"),
            fs::Permissions::from_mode(0o600),
        )?;

        // Users.
        let users_file = dir.join("users");
        let masters_file = dir.join("master-users");
        let mut users = String::new();
        for (addr, pw) in &self.users {
            users.push_str(&passwd_line(&dir, addr, pw));
            make_home(&dir, addr, uid, gid)?;
        }
        fs::write(&users_file, users)?;
        let mut masters = String::new();
        for (login, pw) in &self.master_users {
            let _ = writeln!(masters, "{login}:{{PLAIN}}{pw}::::::");
        }
        fs::write(&masters_file, masters)?;
        for f in [&users_file, &masters_file] {
            fs::set_permissions(f, fs::Permissions::from_mode(0o644))?;
        }

        let conf = dir.join("dovecot.conf");
        let mut last_err = None;
        for attempt in 0..START_ATTEMPTS {
            let (imap_port, imaps_port) = free_port_pair()?;
            fs::write(
                &conf,
                config_text(
                    &dir,
                    imap_port,
                    imaps_port,
                    self.separator,
                    &self.special_use,
                    &self.prefix,
                ),
            )?;
            let stderr = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("master.stderr"))?;
            let child = Command::new(&dovecot_bin)
                .arg("-F")
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(stderr.try_clone()?)
                .stderr(stderr)
                .env_remove("LISTEN_PID")
                .env_remove("LISTEN_FDS")
                .spawn()
                .with_context(|| format!("spawn {}", dovecot_bin.display()))?;
            let mut dc = Dovecot {
                dir: Some(tempdir),
                dir_path: dir.clone(),
                conf: conf.clone(),
                child: Some(child),
                doveadm_bin: doveadm_bin.clone(),
                imap_port,
                imaps_port,
                ca_pem: ca_pem.clone(),
                ca_file: ca_file.clone(),
                separator: self.separator,
                uid,
                gid,
                users_lock: Mutex::new(()),
            };
            match dc.wait_ready() {
                Ok(()) => return Ok(dc),
                Err(e) => {
                    dc.stop();
                    let log = dc.log();
                    tempdir = dc.dir.take().expect("tempdir");
                    let in_use = log.contains("in use") || format!("{e:#}").contains("in use");
                    let err = anyhow!(
                        "Dovecot did not start (attempt {} of {START_ATTEMPTS}, ports {imap_port}/{imaps_port}): {e:#}\n\
                         --- Dovecot log ({}) ---\n{log}--- end of Dovecot log ---",
                        attempt + 1,
                        dir.join("dovecot.log").display()
                    );
                    if !in_use {
                        return Err(err);
                    }
                    // A port was taken between picking and binding: clear the log and retry.
                    let _ = fs::write(dir.join("dovecot.log"), "");
                    let _ = fs::write(dir.join("master.stderr"), "");
                    last_err = Some(err);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("Dovecot did not start")))
    }
}

/// A running Dovecot. Dropping it stops the server (SIGTERM to the master, then waits until the
/// master and every process of this instance are gone) and removes its temp dir. When it is
/// dropped during a panic (a failing test), it prints its log to stderr first.
///
/// Set `MAILFERRY_KEEP_DOVECOT=1` to keep the temp dir for a post-mortem.
#[derive(Debug)]
pub struct Dovecot {
    dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
    doveadm_bin: PathBuf,
    imap_port: u16,
    imaps_port: u16,
    ca_pem: String,
    ca_file: PathBuf,
    separator: char,
    uid: u32,
    gid: u32,
    users_lock: Mutex<()>,
}

impl Dovecot {
    /// A builder with defaults: separator `/`, no users, special-use folders on, fresh CA.
    pub fn builder() -> DovecotBuilder {
        DovecotBuilder::default()
    }

    /// Always `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// Plaintext IMAP listener (STARTTLS offered; LOGIN and AUTHENTICATE PLAIN allowed).
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// Implicit-TLS IMAP listener.
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }

    /// `127.0.0.1:imap_port`.
    pub fn imap_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.imap_port))
    }

    /// `127.0.0.1:imaps_port`.
    pub fn imaps_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.imaps_port))
    }

    /// PEM of the CA that signed the server certificate (valid for `localhost` and `127.0.0.1`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// That CA as a PEM file.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The instance's temp dir (config, log, homes, ssl).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// The generated `dovecot.conf`.
    pub fn config_path(&self) -> &Path {
        &self.conf
    }

    /// Hierarchy separator of the inbox namespace.
    pub fn separator(&self) -> char {
        self.separator
    }

    /// Pid of the Dovecot master process, while it runs.
    pub fn master_pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The Dovecot log (plus anything the master wrote to stderr). Print it when a test fails.
    pub fn log(&self) -> String {
        let mut s = fs::read_to_string(self.dir_path.join("dovecot.log")).unwrap_or_default();
        if let Ok(e) = fs::read_to_string(self.dir_path.join("master.stderr")) {
            if !e.trim().is_empty() {
                s.push_str("--- master stderr ---\n");
                s.push_str(&e);
            }
        }
        s
    }

    /// Home directory of `user` (`user@domain`).
    pub fn home(&self, user: &str) -> PathBuf {
        self.dir_path.join("home").join(user)
    }

    /// The user's Maildir (`HOME/Maildir`; Maildir++ layout, folders are `.Name.Sub`).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.home(user).join("Maildir")
    }

    /// Runs `doveadm -c CONF args...` and returns its output whatever the exit status.
    pub fn doveadm(&self, args: &[&str]) -> Result<Output> {
        Command::new(&self.doveadm_bin)
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("run {} {}", self.doveadm_bin.display(), args.join(" ")))
    }

    /// Like [`Dovecot::doveadm`] but fails (with stderr) on a non-zero exit; returns stdout.
    pub fn doveadm_ok(&self, args: &[&str]) -> Result<String> {
        let out = self.doveadm(args)?;
        if !out.status.success() {
            bail!(
                "doveadm {} failed ({}): {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Adds a user at runtime (Dovecot re-reads the passwd-file when it changes).
    pub fn add_user(&self, address: &str, password: &str) -> Result<()> {
        check_passwd_field("user", address);
        check_passwd_field("password", password);
        let _g = self.users_lock.lock().unwrap_or_else(|e| e.into_inner());
        make_home(&self.dir_path, address, self.uid, self.gid)?;
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.dir_path.join("users"))?;
        f.write_all(passwd_line(&self.dir_path, address, password).as_bytes())?;
        Ok(())
    }

    /// Writes a message straight into `user`'s Maildir (best before the user's first login, or
    /// Dovecot may not notice it until the next sync). `folder` is `"INBOX"` or a name using
    /// this server's separator (`"Archive/2020"`); `flags` are Maildir flag letters
    /// (`"FRS"`: Flagged, Replied, Seen; `D` draft, `T` deleted); `internal_date` becomes the
    /// file's mtime, which Dovecot reports as INTERNALDATE. Creates the folder if needed (it is
    /// not subscribed). Returns the file's path.
    pub fn write_maildir_message(
        &self,
        user: &str,
        folder: &str,
        message: &[u8],
        flags: &str,
        internal_date: Option<SystemTime>,
    ) -> Result<PathBuf> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let root = self.maildir(user);
        let folder_dir = if folder.eq_ignore_ascii_case("INBOX") {
            root.clone()
        } else {
            let on_disk: String = folder
                .chars()
                .map(|c| if c == self.separator { '.' } else { c })
                .collect();
            root.join(format!(".{on_disk}"))
        };
        for d in [&root, &folder_dir] {
            for sub in ["cur", "new", "tmp"] {
                let p = d.join(sub);
                if !p.exists() {
                    fs::create_dir_all(&p)?;
                }
            }
        }
        if folder_dir != root {
            // Maildir++ marks a folder directory with this file.
            let marker = folder_dir.join("maildirfolder");
            if !marker.exists() {
                fs::write(&marker, b"")?;
            }
        }
        let mut sorted: Vec<char> = flags.chars().collect();
        sorted.sort_unstable();
        sorted.dedup();
        let flags: String = sorted.into_iter().collect();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}.M{}P{}Q{n}.mailferry-test,S={}:2,{flags}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            message.len()
        );
        let path = folder_dir.join("cur").join(name);
        fs::write(&path, message)?;
        if let Some(t) = internal_date {
            fs::File::options()
                .write(true)
                .open(&path)?
                .set_modified(t)?;
        }
        chown_recursive(&self.home(user), self.uid, self.gid)?;
        Ok(path)
    }

    /// Writes a whole [`crate::corpus::Corpus`] into `user`'s Maildir (before the user's first
    /// login): folders (names encoded in modified UTF-7, as Dovecot stores them), messages with
    /// their flags, keywords (`dovecot-keywords` per folder) and INTERNALDATEs; then gives the
    /// files to the mail user once. Folder paths use `/`; this server's separator is applied.
    pub fn seed(&self, user: &str, corpus: &crate::corpus::Corpus) -> Result<()> {
        use std::collections::BTreeMap;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let root = self.maildir(user);
        let folder_dir = |folder: &str| -> PathBuf {
            if folder.eq_ignore_ascii_case("INBOX") {
                root.clone()
            } else {
                // Maildir++ keeps every level in one directory name joined by '.'.
                let parts: Vec<String> =
                    folder.split('/').map(mailferry_core::mutf7::encode).collect();
                root.join(format!(".{}", parts.join(".")))
            }
        };
        let mut all_folders: Vec<&str> = corpus.folders.iter().map(String::as_str).collect();
        all_folders.push("INBOX");
        for f in &all_folders {
            let d = folder_dir(f);
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(d.join(sub))?;
            }
            if d != root {
                fs::write(d.join("maildirfolder"), b"")?;
            }
        }
        // Keywords: one index per name, per folder file.
        let mut keyword_index: BTreeMap<String, usize> = BTreeMap::new();
        for m in &corpus.messages {
            for k in &m.keywords {
                let n = keyword_index.len();
                keyword_index.entry(k.clone()).or_insert(n);
            }
        }
        if keyword_index.len() > 26 {
            anyhow::bail!("a Maildir holds at most 26 keywords");
        }
        let mut keywords_file = String::new();
        for (k, i) in &keyword_index {
            keywords_file.push_str(&format!("{i} {k}\n"));
        }
        for f in &all_folders {
            fs::write(folder_dir(f).join("dovecot-keywords"), &keywords_file)?;
        }
        for m in &corpus.messages {
            let mut flags: Vec<char> = m.flags.chars().collect();
            flags.extend(m.keywords.iter().map(|k| (b'a' + keyword_index[k] as u8) as char));
            flags.sort_unstable();
            flags.dedup();
            let flags: String = flags.into_iter().collect();
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!(
                "{}.M{n}P{}.mailferry-seed,S={}:2,{flags}",
                1_600_000_000 + n,
                std::process::id(),
                m.bytes.len()
            );
            let path = folder_dir(&m.folder).join("cur").join(name);
            fs::write(&path, &m.bytes)?;
            fs::File::options().write(true).open(&path)?.set_modified(m.internal_date)?;
        }
        chown_recursive(&self.home(user), self.uid, self.gid)
    }

    /// Gives every file under `user`'s home back to the mail user (after a test wrote into it
    /// as root).
    pub fn fix_ownership(&self, user: &str) -> Result<()> {
        chown_recursive(&self.home(user), self.uid, self.gid)
    }

    /// Stops the server and starts it again on the same ports with the same
    /// mail (a server restart in the middle of a migration). Sessions open
    /// at that moment are cut.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        let dovecot_bin =
            find_tool("dovecot").ok_or_else(|| anyhow!(missing_tool_message("dovecot")))?;
        let stderr = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir_path.join("master.stderr"))?;
        let child = Command::new(&dovecot_bin)
            .arg("-F")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(stderr.try_clone()?)
            .stderr(stderr)
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS")
            .spawn()
            .with_context(|| format!("spawn {}", dovecot_bin.display()))?;
        self.child = Some(child);
        self.wait_ready()
            .with_context(|| format!("Dovecot did not come back after a restart:\n{}", self.log()))
    }

    /// The most IMAP sessions that were open at the same time, read from
    /// the log (a successful login opens one; a logout or disconnect of a
    /// logged-in session closes it). Counts every user of this server.
    pub fn max_concurrent_sessions(&self) -> usize {
        let mut open: i64 = 0;
        let mut max: i64 = 0;
        for line in self.log().lines() {
            if line.contains("imap-login: Info: Login: user=<") {
                open += 1;
                max = max.max(open);
            } else if line.contains(": Info: Logged out") || (line.contains(" imap(") && line.contains(": Info: Disconnected")) {
                open -= 1;
            }
        }
        max.max(0) as usize
    }

    /// The log lines of `user`'s sessions ending (`Logged out in=… out=…
    /// body_count=…`), in order: what each session cost the server.
    pub fn logouts(&self, user: &str) -> Vec<String> {
        let needle = format!("imap({user})");
        self.log()
            .lines()
            .filter(|l| l.contains(&needle) && (l.contains("Logged out") || l.contains("Disconnected")))
            .map(str::to_owned)
            .collect()
    }

    /// Pids of every process of this instance still running (the master and the processes it
    /// started: their command line or their parent chain leads here). For tests of the harness.
    pub fn pids(&self) -> Vec<u32> {
        instance_pids(&self.dir_path, self.master_pid())
    }

    /// How many times the log shows a successful IMAP login (`imap-login: Info: Login: user=<...>`)
    /// for `user`.
    pub fn count_logins(&self, user: &str) -> usize {
        let needle = format!("imap-login: Info: Login: user=<{user}>");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut imap_ok = false;
        let mut imaps_ok = false;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    bail!("the dovecot master exited during start-up ({status})");
                }
            }
            if !imap_ok {
                imap_ok = probe_greeting(self.imap_addr()).is_ok();
            }
            if !imaps_ok {
                imaps_ok =
                    TcpStream::connect_timeout(&self.imaps_addr(), Duration::from_millis(500))
                        .is_ok();
            }
            if imap_ok && imaps_ok {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out after {START_TIMEOUT:?} waiting for the listeners (imap {}: {}, imaps {}: {})",
                    self.imap_port,
                    if imap_ok { "ready" } else { "not ready" },
                    self.imaps_port,
                    if imaps_ok { "ready" } else { "not ready" }
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Stops the server: SIGTERM to the master, wait (bounded) for it and its processes to go,
    /// SIGKILL whatever is left.
    fn stop(&mut self) {
        let master = self.child.as_ref().map(|c| c.id());
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as libc::pid_t;
            // SAFETY: plain kill(2) on our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + STOP_TIMEOUT;
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
        // The master's children notice its death and exit; wait for them, then kill leftovers.
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            let left = instance_pids(&self.dir_path, master);
            if left.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                for pid in left {
                    // SAFETY: kill(2) on a process that belongs to this test instance.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(50));
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            // The test failed while this server was alive: show what Dovecot saw (the test
            // harness captures stderr and prints it with the failure).
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let skip = lines.len().saturating_sub(300);
            eprintln!(
                "--- Dovecot log of {} (last {} lines) ---\n{}\n--- end of Dovecot log ---",
                self.dir_path.display(),
                lines.len() - skip,
                lines[skip..].join("\n")
            );
        }
        if std::env::var_os(KEEP_ENV).is_some_and(|v| v != "0" && !v.is_empty()) {
            if let Some(d) = self.dir.take() {
                eprintln!(
                    "mailferry-testkit: keeping Dovecot dir {}",
                    d.keep().display()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn check_passwd_field(what: &str, s: &str) {
    assert!(
        !s.is_empty() && !s.contains([':', '\n', '\r']),
        "{what} {s:?} cannot go into a passwd-file (empty, or contains ':' or a newline)"
    );
}

fn passwd_line(dir: &Path, address: &str, password: &str) -> String {
    // user:password:uid:gid:gecos:home:shell:extra — uid/gid empty: mail_uid/mail_gid apply.
    let home = dir.join("home").join(address);
    format!("{address}:{{PLAIN}}{password}::::{}::\n", home.display())
}

fn make_home(dir: &Path, address: &str, uid: u32, gid: u32) -> Result<()> {
    let home = dir.join("home").join(address);
    fs::create_dir_all(&home).with_context(|| format!("create {}", home.display()))?;
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700))?;
    chown_recursive(&home, uid, gid)
}

fn chown_recursive(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))?;
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_recursive(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// uid of the user and gid of the group named `name`, from /etc/passwd and /etc/group.
fn lookup_ids(name: &str) -> Result<(u32, u32)> {
    let find = |file: &str| -> Result<u32> {
        let text = fs::read_to_string(file).with_context(|| format!("read {file}"))?;
        text.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 2 && f[0] == name)
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| anyhow!("`{name}` not found in {file}"))
    };
    Ok((find("/etc/passwd")?, find("/etc/group")?))
}

fn dovecot_version(bin: &Path) -> Result<String> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .with_context(|| format!("run {} --version", bin.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Two distinct free loopback ports (bound together, then released for Dovecot to take).
fn free_port_pair() -> Result<(u16, u16)> {
    let a = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    let b = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

/// Connects and reads the IMAP greeting (`* OK ...`).
fn probe_greeting(addr: SocketAddr) -> Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n") && buf.len() < 4096 {
        if s.read(&mut byte)? == 0 {
            bail!("connection closed before the greeting");
        }
        buf.push(byte[0]);
    }
    if !buf.starts_with(b"* OK") {
        bail!("unexpected greeting {:?}", String::from_utf8_lossy(&buf));
    }
    let _ = s.write_all(b"z LOGOUT\r\n");
    Ok(())
}

/// Processes of the instance living in `dir`: the master (pid known, or `-c DIR/...` on its
/// command line), and every process whose ancestor chain reaches one of those; plus processes
/// whose working directory is inside `dir` (children that outlived the master are reparented,
/// but keep their cwd in base_dir or a home).
fn instance_pids(dir: &Path, master: Option<u32>) -> Vec<u32> {
    let dir_s = dir.to_string_lossy().into_owned();
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut procs: Vec<(u32, u32, bool)> = Vec::new(); // (pid, ppid, matches)
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let base = e.path();
        let Ok(stat) = fs::read_to_string(base.join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may contain spaces/parens: parse after the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        if state == "Z" || state == "X" {
            continue; // zombie: already dead, only waiting to be reaped
        }
        let ppid: u32 = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let cmdline = fs::read(base.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        let cwd = fs::read_link(base.join("cwd"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let own = Some(pid) == master
            || cmdline.contains(&dir_s)
            || (cwd.starts_with(&dir_s) && pid != std::process::id());
        procs.push((pid, ppid, own));
    }
    // Close over the parent relation.
    let mut mine: std::collections::HashSet<u32> =
        procs.iter().filter(|p| p.2).map(|p| p.0).collect();
    loop {
        let before = mine.len();
        for (pid, ppid, _) in &procs {
            if mine.contains(ppid) {
                mine.insert(*pid);
            }
        }
        if mine.len() == before {
            break;
        }
    }
    let mut v: Vec<u32> = mine.into_iter().collect();
    v.sort_unstable();
    v
}

fn config_text(
    dir: &Path,
    imap_port: u16,
    imaps_port: u16,
    sep: char,
    special_use: &[(String, String)],
    prefix: &str,
) -> String {
    let d = dir.display();
    let mut mailboxes = String::new();
    for (name, attr) in special_use {
        // Dovecot's config names mailboxes as UTF-8 (it encodes for storage itself).
        let _ = write!(
            mailboxes,
            "  mailbox \"{name}\" {{\n    special_use = {attr}\n    auto = subscribe\n  }}\n"
        );
    }
    format!(
        r#"# Generated by mailferry-testkit: a throwaway Dovecot 2.3 for one test.
# Nothing here comes from /etc/dovecot.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
listen = 127.0.0.1
protocols = imap
shutdown_clients = yes

ssl = yes
ssl_cert = <{d}/ssl/server.pem
ssl_key = <{d}/ssl/server.key

disable_plaintext_auth = no
auth_mechanisms = plain login
auth_master_user_separator = *
auth_verbose = yes
# Failed logins answer at once (default: 2 s delay).
auth_failure_delay = 0

mail_location = maildir:~/Maildir
mail_uid = dovenull
mail_gid = dovenull
first_valid_uid = 1
first_valid_gid = 1

# A 2-core box running many instances at once: no idle pre-forked processes, modest limits.
default_process_limit = 40
default_client_limit = 200
default_vsz_limit = 256M

service imap-login {{
  chroot =
  process_min_avail = 0
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service imap {{
  process_min_avail = 0
}}
service anvil {{
  chroot =
  # No auth penalty: failed logins from 127.0.0.1 would otherwise be answered after 2, 4, 8,
  # then 15 s (login_trusted_networks does not avoid it on 2.3.19). Documented way to disable.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}

passdb {{
  driver = passwd-file
  args = {d}/master-users
  master = yes
  pass = yes
}}
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}

namespace inbox {{
  inbox = yes
  separator = {sep}
  prefix = {prefix}
{mailboxes}}}
"#
    )
}
