//! A general name lookup through a chosen DNS server (or the system's), for
//! callers outside discovery that must resolve the way discovery does (the
//! same `--resolver`). No address policy here: private and loopback
//! addresses are returned like any other; refusing them is discovery's rule,
//! not a lookup's.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::Name;

use crate::net::build_resolver;

/// Why a name gave no address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveFailure {
    /// The text is not a host name (nothing was asked).
    InvalidName(String),
    /// The DNS says the name does not exist (NXDOMAIN).
    NoSuchName,
    /// The name exists but has no IPv4 or IPv6 address.
    NoAddress,
    /// No answer within this time.
    TimedOut(Duration),
    /// The system's resolver configuration cannot be read.
    SystemConfig(String),
    /// Any other failure (network error, SERVFAIL, REFUSED, …).
    Lookup(String),
}

/// A name that could not be resolved: the name, the DNS server asked
/// (`None`: the system's), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    pub host: String,
    pub resolver: Option<SocketAddr>,
    pub failure: ResolveFailure,
}

impl std::error::Error for ResolveError {}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the name {} could not be resolved: ", self.host)?;
        let server = Server(self.resolver);
        match &self.failure {
            ResolveFailure::InvalidName(why) => {
                write!(f, "it is not a valid host name ({why})")
            }
            ResolveFailure::NoSuchName => write!(
                f,
                "it does not exist (NXDOMAIN from {server}); check the spelling and the \
                 domain's DNS records"
            ),
            ResolveFailure::NoAddress => {
                write!(f, "it has no IPv4 or IPv6 address (asked {server})")
            }
            ResolveFailure::TimedOut(after) => write!(
                f,
                "no answer from {server} within {} s; check that it is reachable",
                after.as_secs_f32()
            ),
            ResolveFailure::SystemConfig(why) => {
                write!(f, "the system's DNS configuration cannot be read ({why})")
            }
            ResolveFailure::Lookup(why) => write!(f, "the lookup through {server} failed: {why}"),
        }
    }
}

/// "the DNS server IP:PORT" or "the system's DNS servers".
struct Server(Option<SocketAddr>);

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "the DNS server {addr}"),
            None => f.write_str("the system's DNS servers"),
        }
    }
}

/// The addresses of `host`, in the resolver's order without duplicates.
///
/// An IP literal (`192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`) is returned
/// as is, without a query. A name is asked of `resolver` only (UDP, TCP for
/// truncated answers; no hosts file, no search domains), or, with `None`,
/// through the system's configuration (`/etc/resolv.conf`, the hosts file).
/// The whole lookup is bounded by `timeout`. Every address is returned,
/// private and loopback ones included.
pub async fn resolve_host(
    host: &str,
    resolver: Option<SocketAddr>,
    timeout: Duration,
) -> Result<Vec<IpAddr>, ResolveError> {
    let fail = |failure| ResolveError {
        host: host.to_owned(),
        resolver,
        failure,
    };
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    if host.is_empty() {
        return Err(fail(ResolveFailure::InvalidName("it is empty".to_owned())));
    }
    let mut name =
        Name::from_utf8(host).map_err(|e| fail(ResolveFailure::InvalidName(e.to_string())))?;
    if resolver.is_some() {
        // Only the given server is asked, and no search domain applies.
        name.set_fqdn(true);
    }
    let dns =
        build_resolver(resolver, timeout).map_err(|e| fail(ResolveFailure::SystemConfig(e)))?;
    let lookup = match tokio::time::timeout(timeout, dns.lookup_ip(name)).await {
        Err(_) => return Err(fail(ResolveFailure::TimedOut(timeout))),
        Ok(Err(e)) if e.is_nx_domain() => return Err(fail(ResolveFailure::NoSuchName)),
        Ok(Err(e)) if e.is_no_records_found() => return Err(fail(ResolveFailure::NoAddress)),
        Ok(Err(e))
            if e.proto()
                .is_some_and(|p| matches!(p.kind(), ProtoErrorKind::Timeout)) =>
        {
            return Err(fail(ResolveFailure::TimedOut(timeout)))
        }
        Ok(Err(e)) => return Err(fail(ResolveFailure::Lookup(e.to_string()))),
        Ok(Ok(lookup)) => lookup,
    };
    let mut addrs: Vec<IpAddr> = Vec::new();
    for ip in lookup.iter() {
        if !addrs.contains(&ip) {
            addrs.push(ip);
        }
    }
    if addrs.is_empty() {
        return Err(fail(ResolveFailure::NoAddress));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(failure: ResolveFailure, resolver: Option<SocketAddr>) -> String {
        ResolveError {
            host: "imap.example.test".to_owned(),
            resolver,
            failure,
        }
        .to_string()
    }

    #[test]
    fn messages_name_the_host_and_the_server() {
        let server = Some(SocketAddr::from(([192, 0, 2, 53], 5353)));
        assert_eq!(
            err(ResolveFailure::NoSuchName, server),
            "the name imap.example.test could not be resolved: it does not exist (NXDOMAIN \
             from the DNS server 192.0.2.53:5353); check the spelling and the domain's DNS records"
        );
        assert_eq!(
            err(ResolveFailure::NoAddress, None),
            "the name imap.example.test could not be resolved: it has no IPv4 or IPv6 address \
             (asked the system's DNS servers)"
        );
        assert!(
            err(ResolveFailure::TimedOut(Duration::from_secs(5)), server)
                .contains("no answer from the DNS server 192.0.2.53:5353 within 5 s")
        );
    }

    #[tokio::test]
    async fn literals_are_returned_as_is() {
        // A resolver that cannot be asked: a literal needs no query.
        let nowhere = Some(SocketAddr::from(([192, 0, 2, 1], 9)));
        let t = Duration::from_millis(100);
        assert_eq!(
            resolve_host("10.1.2.3", nowhere, t).await.unwrap(),
            ["10.1.2.3".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            resolve_host("[::1]", nowhere, t).await.unwrap(),
            ["::1".parse::<IpAddr>().unwrap()]
        );
        assert!(matches!(
            resolve_host("", nowhere, t).await,
            Err(ResolveError {
                failure: ResolveFailure::InvalidName(_),
                ..
            })
        ));
    }
}
