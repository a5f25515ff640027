//! The benchmark's servers and helpers (`bench/run.sh`).
//!
//! ```text
//! mailferry-bench-fixture serve DIR [--users N] [--messages N] [--folders N] [--median BYTES] [--seed S]
//! mailferry-bench-fixture corpus-size [--users N] [--messages N] [--folders N] [--median BYTES] [--seed S]
//! mailferry-bench-fixture compare SOURCE_MAILDIR TARGET_MAILDIR
//! ```
//!
//! * `serve`: a fresh source Dovecot (separator `/`) whose users each hold
//!   `bench_corpus(messages, folders, median, seed + i)`, and a fresh, empty
//!   target Dovecot (separator `.`, special-use folders with other names), both
//!   with a master user, TLS with a test CA per server. Writes `DIR/fixture.env`
//!   (shell syntax) once both accept connections and runs until `DIR/stop` exists.
//! * `corpus-size`: prints `MESSAGES BYTES` of that corpus, without servers.
//! * `compare`: compares two Maildirs message by message, as files (CRLF read
//!   as LF): how many target messages are byte-identical to a source message,
//!   how many differ from one only by `X-TUID:` header lines (what mbsync adds),
//!   and how many differ otherwise. Prints shell assignments.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mailferry_testkit::corpus::bench_corpus;
use mailferry_testkit::Dovecot;

const ADMIN: &str = "migadmin";

struct Spec {
    users: usize,
    messages: usize,
    folders: usize,
    median: f64,
    seed: u64,
}

fn parse_spec(args: &[String]) -> Result<Spec> {
    let mut spec = Spec { users: 1, messages: 5000, folders: 12, median: 8000.0, seed: 6 };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--users" => spec.users = val()?.parse()?,
            "--messages" => spec.messages = val()?.parse()?,
            "--folders" => spec.folders = val()?.parse()?,
            "--median" => spec.median = val()?.parse()?,
            "--seed" => spec.seed = val()?.parse()?,
            other => bail!("unknown option {other:?}"),
        }
    }
    if spec.users == 0 || spec.folders == 0 {
        bail!("--users and --folders must be at least 1");
    }
    Ok(spec)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: mailferry-bench-fixture serve DIR [options] | corpus-size [options] | compare SOURCE_MAILDIR TARGET_MAILDIR";
    match args.first().map(String::as_str) {
        Some("serve") => {
            let dir = PathBuf::from(args.get(1).context(usage)?);
            serve(&dir, &parse_spec(&args[2..])?)
        }
        Some("corpus-size") => {
            let spec = parse_spec(&args[1..])?;
            let (mut n, mut bytes) = (0usize, 0u64);
            for i in 0..spec.users {
                let c = bench_corpus(spec.messages, spec.folders, spec.median, spec.seed + i as u64);
                n += c.messages.len();
                bytes += c.total_bytes();
            }
            println!("{n} {bytes}");
            Ok(())
        }
        Some("compare") => {
            let (Some(s), Some(t)) = (args.get(1), args.get(2)) else { bail!(usage) };
            compare(Path::new(s), Path::new(t))
        }
        _ => bail!(usage),
    }
}

fn serve(dir: &Path, spec: &Spec) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let _ = std::fs::remove_file(dir.join("stop"));
    let admin_pw = format!("bench-{}", std::process::id());
    let names: Vec<String> = (0..spec.users).map(|i| format!("user{}@example.test", i + 1)).collect();
    let mut src = Dovecot::builder().separator('/').master_user(ADMIN, &admin_pw);
    let mut dst = Dovecot::builder()
        .separator('.')
        .special_use_names(&[("Sent Items", "\\Sent"), ("Deleted Items", "\\Trash"), ("Drafts", "\\Drafts"), ("Junk E-Mail", "\\Junk")])
        .master_user(ADMIN, &admin_pw);
    for n in &names {
        src = src.user(n, "unused-user-password");
        dst = dst.user(n, "unused-user-password");
    }
    let src = src.start()?;
    let dst = dst.start()?;
    let (mut total_msgs, mut total_bytes) = (0usize, 0u64);
    for (i, n) in names.iter().enumerate() {
        let corpus = bench_corpus(spec.messages, spec.folders, spec.median, spec.seed + i as u64);
        total_msgs += corpus.messages.len();
        total_bytes += corpus.total_bytes();
        src.seed(n, &corpus)?;
    }
    let env = format!(
        "SRC_HOST={}\nSRC_PORT={}\nSRC_CA={}\nSRC_DIR={}\nSRC_MASTER_PID={}\n\
         DST_HOST={}\nDST_PORT={}\nDST_CA={}\nDST_DIR={}\nDST_MASTER_PID={}\n\
         ADMIN={ADMIN}\nADMIN_PW={admin_pw}\nUSERS=\"{}\"\nCORPUS_MESSAGES={total_msgs}\nCORPUS_BYTES={total_bytes}\n",
        src.host(),
        src.imaps_port(),
        src.ca_file().display(),
        src.dir().display(),
        src.master_pid().unwrap_or(0),
        dst.host(),
        dst.imaps_port(),
        dst.ca_file().display(),
        dst.dir().display(),
        dst.master_pid().unwrap_or(0),
        names.join(" ")
    );
    let tmp = dir.join("fixture.env.tmp");
    std::fs::write(&tmp, env)?;
    std::fs::rename(&tmp, dir.join("fixture.env"))?;
    eprintln!(
        "mailferry-bench-fixture: {} user(s), {total_msgs} messages, {total_bytes} bytes; source {}:{}, target {}:{}",
        names.len(),
        src.host(),
        src.imaps_port(),
        dst.host(),
        dst.imaps_port()
    );
    // At most two hours, so a forgotten fixture does not run forever.
    for _ in 0..72_000 {
        if dir.join("stop").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(src);
    drop(dst);
    let _ = std::fs::remove_file(dir.join("fixture.env"));
    Ok(())
}

/// Every message file (in a `cur` or `new` directory) under a Maildir.
fn message_files(root: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(root).with_context(|| format!("read {}", root.display()))? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            message_files(&p, out)?;
        } else if p.parent().and_then(|d| d.file_name()).is_some_and(|n| n == "cur" || n == "new") {
            out.push(p);
        }
    }
    Ok(())
}

fn lf(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            continue;
        }
        v.push(b);
    }
    v
}

fn digest(bytes: &[u8]) -> (u64, usize) {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    (h.finish(), bytes.len())
}

/// The message without its `X-TUID:` header lines (and their continuation lines); `None` when it has none.
fn without_xtuid(m: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(m.len());
    let mut found = false;
    let mut pos = 0;
    let mut in_xtuid = false;
    while pos < m.len() {
        let end = m[pos..].iter().position(|&b| b == b'\n').map_or(m.len(), |i| pos + i + 1);
        let line = &m[pos..end];
        if line == b"\n" {
            out.extend_from_slice(&m[pos..]);
            break;
        }
        let continuation = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        if !continuation {
            in_xtuid = line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"X-TUID:");
        }
        if in_xtuid {
            found = true;
        } else {
            out.extend_from_slice(line);
        }
        pos = end;
    }
    found.then_some(out)
}

fn compare(source: &Path, target: &Path) -> Result<()> {
    let mut files = Vec::new();
    message_files(source, &mut files)?;
    let mut src: HashMap<(u64, usize), usize> = HashMap::new();
    for f in &files {
        *src.entry(digest(&lf(&std::fs::read(f)?))).or_default() += 1;
    }
    let source_messages = files.len();
    files.clear();
    message_files(target, &mut files)?;
    let (mut identical, mut only_xtuid, mut other, mut with_xtuid, mut target_bytes) = (0, 0, 0, 0, 0u64);
    for f in &files {
        let bytes = lf(&std::fs::read(f)?);
        target_bytes += bytes.len() as u64;
        let stripped = without_xtuid(&bytes);
        with_xtuid += usize::from(stripped.is_some());
        let take = |src: &mut HashMap<(u64, usize), usize>, k: (u64, usize)| match src.get_mut(&k) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        if take(&mut src, digest(&bytes)) {
            identical += 1;
        } else if stripped.as_deref().is_some_and(|s| take(&mut src, digest(s))) {
            only_xtuid += 1;
        } else {
            other += 1;
        }
    }
    println!("SOURCE_MESSAGES={source_messages}");
    println!("TARGET_MESSAGES={}", files.len());
    println!("TARGET_BYTES={target_bytes}");
    println!("IDENTICAL={identical}");
    println!("ONLY_XTUID={only_xtuid}");
    println!("OTHER={other}");
    println!("WITH_XTUID={with_xtuid}");
    Ok(())
}
