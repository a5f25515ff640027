//! Reads every folder of a mailbox over IMAP, for comparing two sides:
//! each message as (SHA-256 of the full text, flags, INTERNALDATE).

use std::collections::BTreeMap;

use mailferry_core::Security;
use mailferry_imap::{Auth, ConnectOptions, Session, TlsTrust};
use mailferry_testkit::Dovecot;
use sha2::{Digest, Sha256};

/// One message as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub sha256: String,
    pub flags: Vec<String>,
    pub internal_date: String,
    pub size: usize,
}

/// Folder wire name -> its messages, sorted (a multiset).
pub type Mailbox = BTreeMap<String, Vec<Seen>>;

pub async fn session(d: &Dovecot, user: &str, admin: &str, admin_pw: &str) -> Session {
    let trust = TlsTrust::new(Some(d.ca_pem().as_bytes())).unwrap();
    let opts = ConnectOptions::new(d.host(), d.imaps_port(), Security::Tls, trust);
    let mut s = Session::connect(&opts).await.unwrap();
    s.authenticate(Auth::Plain { authzid: Some(user), authcid: admin, password: admin_pw }).await.unwrap();
    s
}

/// Every folder and message of `user`.
pub async fn read_mailbox(d: &Dovecot, user: &str, admin: &str, admin_pw: &str) -> Mailbox {
    let mut s = session(d, user, admin, admin_pw).await;
    let mut out = Mailbox::new();
    for f in s.list("", "*").await.unwrap() {
        if f.attributes.iter().any(|a| a.eq_ignore_ascii_case("\\Noselect")) {
            continue;
        }
        let info = s.select(&f.name, true).await.unwrap();
        let mut msgs = Vec::new();
        if info.exists > 0 {
            let mut stream = s.uid_fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])").await.unwrap();
            while let Some(m) = stream.next().await.unwrap() {
                let body = m.body().expect("body").to_vec();
                let mut flags: Vec<String> = m.flags().unwrap_or_default().into_iter().filter(|f| !f.eq_ignore_ascii_case("\\Recent")).collect();
                flags.sort();
                msgs.push(Seen {
                    sha256: hex::encode(Sha256::digest(&body)),
                    flags,
                    internal_date: m.internaldate().expect("internaldate").to_owned(),
                    size: body.len(),
                });
            }
        }
        msgs.sort();
        out.insert(f.name.clone(), msgs);
    }
    let _ = s.logout().await;
    out
}

pub fn count(m: &Mailbox) -> usize {
    m.values().map(Vec::len).sum()
}
