//! The caller's settings for one discovery, and the credentials for
//! Autodiscover.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// How to discover. `Default` gives the production values (system
/// resolver, system roots, public addresses only, 30 s budget).
#[derive(Clone)]
pub struct DiscoveryConfig {
    /// The DNS server to ask (`--resolver IP:PORT`, over UDP and TCP);
    /// `None` reads the system's resolver configuration.
    pub resolver: Option<SocketAddr>,
    /// PEM CA certificates trusted for HTTPS and IMAP TLS in addition to the
    /// system roots (`--ca-file`).
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Admit loopback, private, link-local, CGNAT and ULA addresses
    /// (`--allow-private-networks`). The metadata address, multicast and
    /// unspecified addresses stay refused.
    pub allow_private_networks: bool,
    /// Exact host names allowed outside the address's domain
    /// (`--trust-host`); a result that needed one says so in
    /// [`Found::needs_trust`](crate::Found::needs_trust).
    pub trust_hosts: Vec<String>,
    /// Base URL (https) of an autoconfig provider database, asked as
    /// `BASE/DOMAIN`.
    pub provider_db: Option<String>,
    /// The whole discovery's bound: when it runs out, the best result found
    /// so far is returned, or [`DiscoveryError::Budget`](crate::DiscoveryError::Budget).
    pub budget: Duration,
    /// The bound of each step (a DNS query, a connection, one HTTP exchange,
    /// a probe).
    pub step_timeout: Duration,
    /// The delay between the starts of successive candidates.
    pub stagger: Duration,
    /// The ports used for the candidates discovery builds itself
    /// (overridable for tests; SRV records bring their own).
    pub ports: Ports,
    /// Seed of the RFC 2782 weighted choice among SRV records of equal
    /// priority; `None` seeds from the operating system.
    pub srv_seed: Option<u64>,
    /// The largest response body read (256 KiB).
    pub max_body: usize,
}

/// Ports of the candidates discovery builds itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub https: u16,
    pub http: u16,
    pub imaps: u16,
    pub imap: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            https: 443,
            http: 80,
            imaps: 993,
            imap: 143,
        }
    }
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            resolver: None,
            extra_ca_pem: None,
            allow_private_networks: false,
            trust_hosts: Vec::new(),
            provider_db: None,
            budget: Duration::from_secs(30),
            step_timeout: Duration::from_secs(10),
            stagger: Duration::from_millis(100),
            ports: Ports::default(),
            srv_seed: None,
            max_body: 256 * 1024,
        }
    }
}

impl fmt::Debug for DiscoveryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscoveryConfig")
            .field("resolver", &self.resolver)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(|p| p.len()))
            .field("allow_private_networks", &self.allow_private_networks)
            .field("trust_hosts", &self.trust_hosts)
            .field("provider_db", &self.provider_db)
            .field("budget", &self.budget)
            .field("step_timeout", &self.step_timeout)
            .field("stagger", &self.stagger)
            .field("ports", &self.ports)
            .field("srv_seed", &self.srv_seed)
            .field("max_body", &self.max_body)
            .finish()
    }
}

/// The administrator's credentials, sent only to Autodiscover servers with
/// HTTP Basic over validated TLS. `Debug` never shows the password.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub login: &'a str,
    pub password: &'a str,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("login", &self.login)
            .field("password", &"[redacted]")
            .finish()
    }
}
