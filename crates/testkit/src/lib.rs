//! Test harness of mailferry (dev-only).
//!
//! * [`TestCa`]: a certificate authority generated per run, issuing leaf certificates for
//!   `localhost` / `127.0.0.1` (rcgen with ring).
//! * [`Dovecot`]: a real, throwaway Dovecot 2.3 IMAP server on free loopback ports, with its own
//!   temp dir and config (nothing from `/etc/dovecot`), users in a passwd-file, an optional master
//!   user, plaintext (+STARTTLS) and implicit-TLS listeners. Dropping it stops the server.
//! * [`TestDns`]: an authoritative DNS server on loopback (UDP and TCP) for test names (A, AAAA,
//!   SRV, MX), recording every query, running on its own thread so that it keeps answering while
//!   the test blocks on a child process. Dropping it stops the server.
//! * [`require_tool`]: panic with an actionable message when a needed program is missing.
//!
//! Install Dovecot with `scripts/test.sh` (it runs `apt-get install -y dovecot-imapd` when needed).

mod ca;
pub mod corpus;
mod dns;
mod proxy;
mod dovecot;
mod tools;

pub use ca::TestCa;
pub use dns::TestDns;
pub use dovecot::{Dovecot, DovecotBuilder, SPECIAL_USE_FOLDERS};
pub use proxy::{CutPlan, FaultProxy};
pub use tools::{find_tool, require_tool};
