//! A throwaway pair of Dovecot servers for the demo and the benchmarks:
//! a source (separator `/`) seeded with a generated mailbox, and a target
//! (separator `.`, special-use folders with other names), both with a
//! master user. Writes `DIR/fixture.env` (shell syntax) and runs until
//! `DIR/stop` exists.
//!
//! `mailferry-fixture DIR [MESSAGES_PER_USER] [USERS]`

use std::time::Duration;

use anyhow::{Context, Result};
use mailferry_testkit::corpus::fidelity_corpus;
use mailferry_testkit::Dovecot;

const ADMIN: &str = "migadmin";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().context("usage: mailferry-fixture DIR [MESSAGES] [USERS]")?);
    let messages: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(500);
    let users: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    std::fs::create_dir_all(&dir)?;
    let admin_pw = format!("demo-{}", std::process::id());
    let names: Vec<String> = (0..users).map(|i| format!("user{}@example.test", i + 1)).collect();

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
    for (i, n) in names.iter().enumerate() {
        src.seed(n, &fidelity_corpus(messages, 1000 + i as u64))?;
    }
    let env = format!(
        "SRC_HOST={}\nSRC_PORT={}\nSRC_CA={}\nDST_HOST={}\nDST_PORT={}\nDST_CA={}\nADMIN={ADMIN}\nADMIN_PW={admin_pw}\nUSERS=\"{}\"\n",
        src.host(),
        src.imaps_port(),
        src.ca_file().display(),
        dst.host(),
        dst.imaps_port(),
        dst.ca_file().display(),
        names.join(" ")
    );
    let tmp = dir.join("fixture.env.tmp");
    std::fs::write(&tmp, env)?;
    std::fs::rename(&tmp, dir.join("fixture.env"))?;
    eprintln!("mailferry-fixture: source on {}:{}, target on {}:{}; touch {} to stop", src.host(), src.imaps_port(), dst.host(), dst.imaps_port(), dir.join("stop").display());
    // At most two hours, so a forgotten fixture does not run forever.
    for _ in 0..7200 {
        if dir.join("stop").exists() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    drop(src);
    drop(dst);
    let _ = std::fs::remove_file(dir.join("fixture.env"));
    Ok(())
}
