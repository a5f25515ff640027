//! Where discovery may go: the address's domain, the hosts the caller
//! trusts, and the network addresses it may connect to. Pure rules, no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The registrable domain of `host` by the Public Suffix List ("mail.example.co.uk"
/// → "example.co.uk"); `None` when `host` is itself a public suffix (or not a
/// name at all).
pub(crate) fn registrable(host: &str) -> Option<String> {
    let host = normalize(host);
    if host.parse::<IpAddr>().is_ok() {
        return None;
    }
    psl::domain_str(&host).map(str::to_owned)
}

/// Lower case, without a trailing dot.
pub(crate) fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The domain of the address being discovered, and the caller's exceptions.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// The address's domain (D), normalized.
    domain: String,
    /// D's registrable domain.
    registrable: String,
    /// Exact host names the caller allowed outside D (`--trust-host`).
    trusted: Vec<String>,
}

/// Whether a host may be used, and on what grounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostVerdict {
    /// Inside the address's registrable domain.
    InDomain,
    /// Outside it, but named in `trust_hosts`: the result must record it.
    Trusted(String),
}

impl Scope {
    /// The scope of `domain`; `Err` when the domain is itself a public suffix
    /// (discovering for `user@com` would mean asking `autodiscover.com`).
    pub(crate) fn new(domain: &str, trust_hosts: &[String]) -> Result<Scope, String> {
        let domain = normalize(domain);
        let registrable = registrable(&domain).ok_or_else(|| {
            format!(
                "the domain {domain} is a public suffix (like a top-level domain), \
                 so no host under it can be trusted to describe one mailbox's settings"
            )
        })?;
        Ok(Scope {
            domain,
            registrable,
            trusted: trust_hosts.iter().map(|h| normalize(h)).collect(),
        })
    }

    pub(crate) fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether `host`'s registrable domain is D's.
    pub(crate) fn in_domain(&self, host: &str) -> bool {
        registrable(host).as_deref() == Some(self.registrable.as_str())
    }

    pub(crate) fn is_trusted(&self, host: &str) -> bool {
        let host = normalize(host);
        self.trusted.contains(&host)
    }

    /// May `host` be used (sent credentials, or given as the result)?
    pub(crate) fn check(&self, host: &str) -> Result<HostVerdict, String> {
        if self.in_domain(host) {
            return Ok(HostVerdict::InDomain);
        }
        if self.is_trusted(host) {
            return Ok(HostVerdict::Trusted(normalize(host)));
        }
        Err(format!(
            "{} is outside the domain {} (registrable domain {}); allow it with --trust-host {}",
            normalize(host),
            self.domain,
            self.registrable,
            normalize(host)
        ))
    }
}

/// Why connecting to `ip` is refused, or `None` when it is a public unicast
/// address. `allow_private` admits loopback, private (RFC 1918), CGNAT,
/// link-local and ULA addresses; the cloud metadata address, multicast,
/// broadcast and unspecified addresses are refused always.
pub(crate) fn refused_address(ip: IpAddr, allow_private: bool) -> Option<&'static str> {
    let class = match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    };
    match class {
        Class::Public => None,
        Class::Never(why) => Some(why),
        Class::Private(_) if allow_private => None,
        Class::Private(why) => Some(why),
    }
}

enum Class {
    Public,
    /// Refused unless private networks are allowed.
    Private(&'static str),
    /// Refused always.
    Never(&'static str),
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let o = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        return Class::Never("the cloud metadata address");
    }
    if o[0] == 0 {
        return Class::Never("an unspecified (0.0.0.0/8) address");
    }
    if ip.is_broadcast() {
        return Class::Never("the broadcast address");
    }
    if ip.is_multicast() {
        return Class::Never("a multicast address");
    }
    if o[0] >= 240 {
        return Class::Never("a reserved (240.0.0.0/4) address");
    }
    if ip.is_loopback() {
        return Class::Private("a loopback address");
    }
    if ip.is_private() {
        return Class::Private("a private-network address");
    }
    if ip.is_link_local() {
        return Class::Private("a link-local address");
    }
    if o[0] == 100 && (o[1] & 0xc0) == 64 {
        return Class::Private("a carrier-grade NAT (100.64.0.0/10) address");
    }
    if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        return Class::Private("an IETF protocol assignment (192.0.0.0/24) address");
    }
    if o[0] == 198 && (o[1] & 0xfe) == 18 {
        return Class::Private("a benchmarking (198.18.0.0/15) address");
    }
    if (o[0] == 192 && o[1] == 0 && o[2] == 2)
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
    {
        return Class::Private("a documentation address");
    }
    Class::Public
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return classify_v4(Ipv4Addr::new(a, b, c, d));
    }
    if ip.is_unspecified() {
        return Class::Never("the unspecified address");
    }
    if ip.is_multicast() {
        return Class::Never("a multicast address");
    }
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Class::Never("the cloud metadata address");
    }
    if ip.is_loopback() {
        return Class::Private("a loopback address");
    }
    if (s[0] & 0xffc0) == 0xfe80 {
        return Class::Private("a link-local address");
    }
    if (s[0] & 0xffc0) == 0xfec0 {
        return Class::Private("a site-local address");
    }
    if (s[0] & 0xfe00) == 0xfc00 {
        return Class::Private("a unique local (fc00::/7) address");
    }
    if s[0] == 0x2001 && s[1] == 0xdb8 {
        return Class::Private("a documentation address");
    }
    Class::Public
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains_follow_the_public_suffix_list() {
        assert_eq!(
            registrable("mail.example.co.uk").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(
            registrable("Autodiscover.Example.COM.").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            registrable("imap.example.test").as_deref(),
            Some("example.test")
        );
        assert_eq!(registrable("co.uk"), None);
        assert_eq!(registrable("com"), None);
        assert_eq!(registrable("test"), None);
        assert_eq!(registrable("127.0.0.1"), None);
    }

    #[test]
    fn a_public_suffix_domain_has_no_scope() {
        assert!(Scope::new("com", &[]).is_err());
        assert!(Scope::new("co.uk", &[]).is_err());
        assert!(Scope::new("example.com", &[]).is_ok());
    }

    #[test]
    fn hosts_outside_the_domain_need_trust() {
        let scope = Scope::new("example.test", &["Mail.Provider.TEST".to_owned()]).unwrap();
        assert_eq!(
            scope.check("autodiscover.example.test"),
            Ok(HostVerdict::InDomain)
        );
        assert_eq!(scope.check("example.test."), Ok(HostVerdict::InDomain));
        assert_eq!(
            scope.check("mail.provider.test"),
            Ok(HostVerdict::Trusted("mail.provider.test".to_owned()))
        );
        // Trust is for the exact host, not its domain.
        assert!(scope.check("other.provider.test").is_err());
        assert!(scope.check("autodiscover.test").is_err());
        assert!(scope.check("example.test.evil.test").is_err());
        assert!(scope.check("10.0.0.1").is_err());
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        let refused = |s: &str| refused_address(s.parse().unwrap(), false).is_some();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "fd00:ec2::254",
        ] {
            assert!(refused(ip), "{ip} should be refused");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert!(!refused(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn the_opt_in_admits_private_ranges_but_never_metadata_or_multicast() {
        let refused = |s: &str| refused_address(s.parse().unwrap(), true).is_some();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "100.64.0.1",
            "fd00::1",
            "::1",
            "fe80::1",
        ] {
            assert!(!refused(ip), "{ip} should be allowed with the opt-in");
        }
        for ip in [
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "ff02::1",
            "fd00:ec2::254",
        ] {
            assert!(refused(ip), "{ip} should be refused even with the opt-in");
        }
    }
}
