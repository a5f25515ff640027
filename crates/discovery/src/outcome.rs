//! What discovery hands back: the settings found, where they came from, and
//! the trace of every candidate tried and why it was passed over.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use mailferry_core::Security;

/// The lookup methods, in the order their results are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// Exchange Autodiscover (POX XML over HTTPS, with credentials).
    Autodiscover,
    /// Thunderbird-style autoconfig (config-v1.1.xml).
    Autoconfig,
    /// RFC 6186 SRV records.
    Srv,
    /// Connecting to well-known host names and ports.
    Probe,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Autodiscover => "autodiscover",
            Method::Autoconfig => "autoconfig",
            Method::Srv => "srv",
            Method::Probe => "probe",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// IMAP settings found for the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub host: String,
    pub port: u16,
    /// Never [`Security::None`]: plaintext settings are refused.
    pub security: Security,
    /// The login as a mailferry login-format template (e.g.
    /// `"%EMAILADDRESS%"`), when the source said how the login is formed.
    pub login_format: Option<String>,
    /// The hosts outside the address's domain that this result depends on
    /// (an Autodiscover server that got the credentials, a redirect target,
    /// the IMAP server itself, an MX-derived source). Each was accepted only
    /// because the caller listed it in `trust_hosts`; the caller should
    /// record that confirmation with the endpoint. Empty for a result wholly
    /// inside the domain.
    pub needs_trust: Vec<String>,
    /// The addresses of `host` that discovery resolved (through the
    /// configured resolver) and checked against its address rules, with
    /// `port`, in the order to try. Never empty. Connect to exactly these
    /// (e.g. `mailferry_imap::ConnectOptions::connect_to`, with TLS still
    /// verified against `host`) rather than resolving `host` again, so the
    /// connection goes where discovery looked.
    pub addresses: Vec<SocketAddr>,
}

/// What became of one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It gave the settings that were chosen.
    Found,
    /// It gave settings, but a better-ranked candidate's were chosen.
    Superseded { by: String },
    /// It led on to another candidate (an HTTP or Autodiscover redirect, an
    /// SRV or MX record), which follows it in the trace.
    Redirected(String),
    /// A security rule forbade using it.
    Refused(String),
    /// It failed or had nothing usable.
    Failed(String),
    /// It was stopped or never started.
    NotTried(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Found => f.write_str("found"),
            Outcome::Superseded { by } => write!(f, "found, but passed over for {by}"),
            Outcome::Redirected(to) => write!(f, "led to {to}"),
            Outcome::Refused(why) => write!(f, "refused: {why}"),
            Outcome::Failed(why) => write!(f, "passed over: {why}"),
            Outcome::NotTried(why) => write!(f, "not tried: {why}"),
        }
    }
}

/// One candidate tried (a URL, an SRV name, a host and port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    pub method: Method,
    /// The URL, DNS name or `host:port` tried. Never a credential.
    pub what: String,
    pub outcome: Outcome,
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.what, self.outcome)
    }
}

/// The result of a successful discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub settings: Found,
    /// Where the settings came from, as `method:what`, e.g.
    /// `autoconfig:https://autoconfig.example.test/mail/config-v1.1.xml?…`
    /// or `srv:_imaps._tcp.example.test`.
    pub source: String,
    /// Every candidate, best-ranked first.
    pub trace: Vec<TraceEntry>,
}

/// Why discovery found nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    #[error("no IMAP settings were found for {address}:{}", Lines(.trace))]
    NothingFound {
        address: String,
        trace: Vec<TraceEntry>,
    },
    #[error("the discovery budget of {}s ran out before any IMAP settings were found for {address}:{}", .budget.as_secs_f32(), Lines(.trace))]
    Budget {
        address: String,
        budget: Duration,
        trace: Vec<TraceEntry>,
    },
    #[error("cannot discover settings for {address}: {reason}")]
    InvalidAddress { address: String, reason: String },
    #[error("discovery cannot start: {0}")]
    Config(String),
}

impl DiscoveryError {
    /// The candidates tried, when there were any.
    pub fn trace(&self) -> &[TraceEntry] {
        match self {
            DiscoveryError::NothingFound { trace, .. } | DiscoveryError::Budget { trace, .. } => {
                trace
            }
            _ => &[],
        }
    }
}

/// Renders a trace one entry per line.
struct Lines<'a>(&'a [TraceEntry]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(" no candidate could be tried");
        }
        for entry in self.0 {
            write!(f, "\n  - {entry}")?;
        }
        Ok(())
    }
}

/// Server text made safe for a trace: control characters escaped, at most
/// 200 characters.
pub(crate) fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(200).flat_map(char::escape_default).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}
