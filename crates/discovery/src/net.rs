//! The network seam: DNS (SRV, MX, addresses) through one resolver, each
//! host resolved once and its addresses checked, connections made to
//! exactly those addresses, and the TLS trust used for HTTPS and IMAP.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{Name, TokioResolver};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;

use crate::scope::{normalize, refused_address};

/// An SRV record as discovery uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SrvRecord {
    pub(crate) priority: u16,
    pub(crate) weight: u16,
    pub(crate) port: u16,
    /// Normalized (lower case, no trailing dot); empty for the root `.`.
    pub(crate) target: String,
}

/// A DNS lookup that did not give records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DnsFailure {
    /// The name does not exist or has no record of that type.
    NoRecords,
    Error(String),
}

impl std::fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DnsFailure::NoRecords => f.write_str("no such record"),
            DnsFailure::Error(e) => write!(f, "the DNS lookup failed: {e}"),
        }
    }
}

type Resolved = Result<Vec<IpAddr>, StepError>;

/// Why a step (resolving, connecting, an HTTP exchange) came to nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StepError {
    /// A security rule forbade it (e.g. every address is a refused one).
    Refused(String),
    /// It failed (no address, no connection, a protocol error, a timeout).
    Failed(String),
}

impl StepError {
    pub(crate) fn failed(s: impl Into<String>) -> StepError {
        StepError::Failed(s.into())
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Refused(s) | StepError::Failed(s) => f.write_str(s),
        }
    }
}

pub(crate) struct Net {
    resolver: TokioResolver,
    allow_private: bool,
    step_timeout: Duration,
    /// Each host's checked addresses, resolved once per discovery.
    hosts: Mutex<HashMap<String, Arc<OnceCell<Resolved>>>>,
}

impl Net {
    pub(crate) fn new(
        resolver: Option<SocketAddr>,
        allow_private: bool,
        step_timeout: Duration,
    ) -> Result<Net, String> {
        Ok(Net {
            resolver: build_resolver(resolver, step_timeout)
                .map_err(|e| format!("the system's DNS configuration cannot be read: {e}"))?,
            allow_private,
            step_timeout,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// The SRV records of `name` (a fully qualified name is made of it, so
    /// no search domain is ever appended).
    pub(crate) async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, DnsFailure> {
        let fqdn = fqdn(name)?;
        let lookup = self
            .bounded(self.resolver.srv_lookup(fqdn))
            .await
            .map_err(dns_failure)?;
        Ok(lookup
            .iter()
            .map(|r| SrvRecord {
                priority: r.priority(),
                weight: r.weight(),
                port: r.port(),
                target: normalize(&r.target().to_ascii()),
            })
            .collect())
    }

    /// The MX records of `domain` as (preference, normalized exchange).
    pub(crate) async fn mx(&self, domain: &str) -> Result<Vec<(u16, String)>, DnsFailure> {
        let fqdn = fqdn(domain)?;
        let lookup = self
            .bounded(self.resolver.mx_lookup(fqdn))
            .await
            .map_err(dns_failure)?;
        Ok(lookup
            .iter()
            .map(|r| (r.preference(), normalize(&r.exchange().to_ascii())))
            .collect())
    }

    async fn bounded<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, hickory_resolver::ResolveError>>,
    ) -> Result<T, LookupError> {
        match tokio::time::timeout(self.step_timeout, fut).await {
            Err(_) => Err(LookupError::Timeout),
            Ok(r) => r.map_err(LookupError::Resolve),
        }
    }

    /// The addresses of `host` that may be connected to: resolved once per
    /// discovery (later calls get the same answer without a query), every
    /// refused address dropped; `Err` when none is left.
    pub(crate) async fn checked_addrs(&self, host: &str) -> Result<Vec<IpAddr>, StepError> {
        let host = normalize(host);
        let cell = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            hosts.entry(host.clone()).or_default().clone()
        };
        cell.get_or_init(|| self.resolve_and_check(host.clone()))
            .await
            .clone()
    }

    async fn resolve_and_check(&self, host: String) -> Resolved {
        let all: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                let name = fqdn(&host).map_err(|e| StepError::Failed(format!("{host}: {e}")))?;
                match self.bounded(self.resolver.lookup_ip(name)).await {
                    Ok(lookup) => lookup.iter().collect(),
                    Err(e) => {
                        return Err(StepError::Failed(format!(
                            "{host} cannot be resolved: {}",
                            dns_failure(e)
                        )))
                    }
                }
            }
        };
        let mut allowed = Vec::new();
        let mut refused = Vec::new();
        for ip in all {
            match refused_address(ip, self.allow_private) {
                None => allowed.push(ip),
                Some(why) => refused.push(format!("{ip} is {why}")),
            }
        }
        if allowed.is_empty() {
            if refused.is_empty() {
                return Err(StepError::Failed(format!("{host} has no address")));
            }
            return Err(StepError::Refused(format!(
                "{host} resolves only to refused addresses ({}){}",
                refused.join(", "),
                if self.allow_private {
                    ""
                } else {
                    "; private networks are allowed only with --allow-private-networks"
                }
            )));
        }
        Ok(allowed)
    }

    /// A TCP connection to `host:port` at one of its checked addresses,
    /// trying each within the step timeout. Never resolves again.
    pub(crate) async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, StepError> {
        let addrs = self.checked_addrs(host).await?;
        let mut failures = Vec::new();
        for ip in addrs {
            let addr = SocketAddr::new(ip, port);
            match tokio::time::timeout(self.step_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => {
                    let _ = tcp.set_nodelay(true);
                    return Ok(tcp);
                }
                Ok(Err(e)) => failures.push(format!("{addr}: {e}")),
                Err(_) => failures.push(format!("{addr}: the connection timed out")),
            }
        }
        Err(StepError::Failed(format!(
            "cannot connect to {host}:{port} ({})",
            failures.join("; ")
        )))
    }
}

/// A resolver asking `resolver` only (over UDP, and TCP for truncated
/// answers; no hosts file), or the system's configuration when `None`. One
/// attempt per query, each within `timeout`. `Err`: why the system's
/// configuration cannot be read.
pub(crate) fn build_resolver(
    resolver: Option<SocketAddr>,
    timeout: Duration,
) -> Result<TokioResolver, String> {
    let provider = TokioConnectionProvider::default();
    let mut builder = match resolver {
        Some(addr) => {
            let group = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
            let mut b = TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], group),
                provider,
            );
            b.options_mut().use_hosts_file = ResolveHosts::Never;
            b
        }
        None => TokioResolver::builder(provider).map_err(|e| e.to_string())?,
    };
    let opts: &mut ResolverOpts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 1;
    Ok(builder.build())
}

enum LookupError {
    Timeout,
    Resolve(hickory_resolver::ResolveError),
}

fn dns_failure(e: LookupError) -> DnsFailure {
    match e {
        LookupError::Timeout => DnsFailure::Error("the DNS query timed out".to_owned()),
        LookupError::Resolve(e) if e.is_no_records_found() => DnsFailure::NoRecords,
        LookupError::Resolve(e) => DnsFailure::Error(e.to_string()),
    }
}

fn fqdn(name: &str) -> Result<Name, DnsFailure> {
    let mut name = Name::from_ascii(normalize(name))
        .map_err(|e| DnsFailure::Error(format!("{name:?} is not a DNS name: {e}")))?;
    name.set_fqdn(true);
    Ok(name)
}

/// The TLS client configuration: the system's roots plus `extra_ca_pem`.
pub(crate) fn tls_config(extra_ca_pem: Option<&[u8]>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let _ = roots.add_parsable_certificates(native.certs);
    if let Some(pem) = extra_ca_pem {
        let mut count = 0usize;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("the CA file cannot be read: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("a CA certificate cannot be used as a trust anchor: {e}"))?;
            count += 1;
        }
        if count == 0 {
            return Err("the CA file has no \"BEGIN CERTIFICATE\" block".to_owned());
        }
    }
    if roots.is_empty() {
        return Err(
            "this machine's system certificate store is empty or missing, and no CA was given"
                .to_owned(),
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS cannot be set up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
