//! An endpoint's connection settings and how a mailbox's login is derived.
//!
//! These are the settings an administrator gives (or discovery finds); the
//! secret that goes with them is not here — it lives encrypted in the store
//! and in memory only for the time of a connection.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::address::EmailAddress;

/// What kind of mail system an endpoint is. Only IMAP exists today; the name
/// is stored so that `jmap`, `gmail` or `maildir` can be added without a
/// schema change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointKind {
    Imap,
}

impl EndpointKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointKind::Imap => "imap",
        }
    }
}

impl FromStr for EndpointKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "imap" => Ok(EndpointKind::Imap),
            other => Err(format!("unknown endpoint kind {other:?} (known: imap)")),
        }
    }
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (port 993).
    Tls,
    /// Plain connection upgraded with STARTTLS before anything else (port 143).
    Starttls,
    /// No encryption at all; only with an explicit opt-in.
    None,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::Starttls => "starttls",
            Security::None => "none",
        }
    }

    /// The IANA port for IMAP with this security.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::Starttls | Security::None => 143,
        }
    }
}

impl FromStr for Security {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tls" => Ok(Security::Tls),
            "starttls" => Ok(Security::Starttls),
            "none" => Ok(Security::None),
            other => Err(format!(
                "unknown security {other:?} (expected tls, starttls or none)"
            )),
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the migration administrator acts for a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "method")]
pub enum Impersonation {
    /// SASL PLAIN with the mailbox as authorization identity and the
    /// administrator as authentication identity.
    Authzid,
    /// The Dovecot-style `mailbox<separator>admin` login with the
    /// administrator's password.
    MasterUser { separator: String },
    /// No impersonation: every mailbox logs in with its own credentials
    /// (from the CSV).
    None,
}

pub const DEFAULT_MASTER_SEPARATOR: &str = "*";

impl Impersonation {
    pub fn method_name(&self) -> &'static str {
        match self {
            Impersonation::Authzid => "authzid",
            Impersonation::MasterUser { .. } => "master-user",
            Impersonation::None => "none",
        }
    }

    /// Builds the method from its name and, for `master-user`, a separator.
    pub fn from_parts(method: &str, separator: Option<&str>) -> Result<Self, String> {
        match method {
            "authzid" => Ok(Impersonation::Authzid),
            "master-user" => {
                let sep = separator.unwrap_or(DEFAULT_MASTER_SEPARATOR);
                if sep.is_empty() || sep.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!(
                        "the master-user separator {sep:?} must be non-empty and contain no spaces"
                    ));
                }
                Ok(Impersonation::MasterUser { separator: sep.to_owned() })
            }
            "none" => Ok(Impersonation::None),
            other => Err(format!(
                "unknown impersonation {other:?} (expected authzid, master-user or none)"
            )),
        }
    }

    pub fn separator(&self) -> Option<&str> {
        match self {
            Impersonation::MasterUser { separator } => Some(separator),
            _ => None,
        }
    }
}

/// A template deriving a mailbox's login from its address, with the
/// placeholders `%EMAILADDRESS%`, `%EMAILLOCALPART%` and `%EMAILDOMAIN%`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LoginFormat(String);

pub const DEFAULT_LOGIN_FORMAT: &str = "%EMAILADDRESS%";
const PLACEHOLDERS: [&str; 3] = ["%EMAILADDRESS%", "%EMAILLOCALPART%", "%EMAILDOMAIN%"];

impl LoginFormat {
    /// Accepts a template whose every `%…%` is a known placeholder and that
    /// uses at least one of them (a constant login would make every mailbox
    /// the same one).
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "login format {s:?} must be non-empty and contain no spaces"
            ));
        }
        let mut rest = s;
        let mut used = false;
        while let Some(start) = rest.find('%') {
            let after = &rest[start + 1..];
            let end = after
                .find('%')
                .ok_or_else(|| format!("login format {s:?} has an unclosed '%'"))?;
            let token = &rest[start..start + end + 2];
            if !PLACEHOLDERS.contains(&token) {
                return Err(format!(
                    "login format {s:?} uses unknown placeholder {token} (known: {})",
                    PLACEHOLDERS.join(", ")
                ));
            }
            used = true;
            rest = &after[end + 1..];
        }
        if !used {
            return Err(format!(
                "login format {s:?} uses no placeholder, so every mailbox would log in as the same user"
            ));
        }
        Ok(LoginFormat(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The login of the mailbox with this address.
    pub fn render(&self, address: &EmailAddress) -> String {
        self.0
            .replace("%EMAILADDRESS%", address.as_str())
            .replace("%EMAILLOCALPART%", address.local_part())
            .replace("%EMAILDOMAIN%", address.domain())
    }
}

impl Default for LoginFormat {
    fn default() -> Self {
        LoginFormat(DEFAULT_LOGIN_FORMAT.to_owned())
    }
}

impl TryFrom<String> for LoginFormat {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        LoginFormat::parse(&s)
    }
}

impl From<LoginFormat> for String {
    fn from(f: LoginFormat) -> String {
        f.0
    }
}

pub const DEFAULT_MAX_CONCURRENT_MIGRATIONS: u32 = 20;
pub const DEFAULT_MAX_CONCURRENT_INCREMENTAL: u32 = 10;

/// Everything needed to reach an endpoint and act for its mailboxes, except
/// the administrator's secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSettings {
    pub kind: EndpointKind,
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// The migration administrator's login; `None` only with
    /// `Impersonation::None`, where each mailbox brings its own.
    pub admin_login: Option<String>,
    pub impersonation: Impersonation,
    pub login_format: LoginFormat,
    pub max_concurrent_migrations: u32,
    pub max_concurrent_incremental: u32,
    /// Extra trust anchors (PEM) for this endpoint's TLS connections.
    pub ca_pem: Option<String>,
}

/// A broken rule between settings, found before anything is stored or sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the host is empty")]
    EmptyHost,
    #[error("{0:?} is not a valid host name or address")]
    BadHost(String),
    #[error("port 0 is not a valid port")]
    BadPort,
    #[error("--security none sends the password in clear; add --allow-plaintext to accept that")]
    PlaintextNotAllowed,
    #[error("impersonation {0} needs an administrator login (--admin)")]
    AdminMissing(&'static str),
    #[error("--max-concurrent-migrations must be at least 1")]
    ZeroMigrations,
    #[error("--max-concurrent-incremental must be between 1 and --max-concurrent-migrations ({0})")]
    BadIncremental(u32),
}

impl EndpointSettings {
    /// Checks the rules that hold between the settings. `allow_plaintext` is
    /// the administrator's explicit opt-in to `Security::None`.
    pub fn validate(&self, allow_plaintext: bool) -> Result<(), SettingsError> {
        validate_host(&self.host)?;
        if self.port == 0 {
            return Err(SettingsError::BadPort);
        }
        if self.security == Security::None && !allow_plaintext {
            return Err(SettingsError::PlaintextNotAllowed);
        }
        if !matches!(self.impersonation, Impersonation::None) && self.admin_login.is_none() {
            return Err(SettingsError::AdminMissing(self.impersonation.method_name()));
        }
        if self.max_concurrent_migrations == 0 {
            return Err(SettingsError::ZeroMigrations);
        }
        if self.max_concurrent_incremental == 0
            || self.max_concurrent_incremental > self.max_concurrent_migrations
        {
            return Err(SettingsError::BadIncremental(self.max_concurrent_migrations));
        }
        Ok(())
    }
}

/// A host is a DNS name (letters, digits, '-', '.', '_') or an IP address
/// literal; anything else would be passed to the resolver as garbage.
pub fn validate_host(host: &str) -> Result<(), SettingsError> {
    if host.is_empty() {
        return Err(SettingsError::EmptyHost);
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let ok = host.len() <= 253
        && host.trim_end_matches('.').split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(SettingsError::BadHost(host.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EndpointSettings {
        EndpointSettings {
            kind: EndpointKind::Imap,
            host: "imap.example.com".into(),
            port: 993,
            security: Security::Tls,
            admin_login: Some("admin".into()),
            impersonation: Impersonation::Authzid,
            login_format: LoginFormat::default(),
            max_concurrent_migrations: 20,
            max_concurrent_incremental: 10,
            ca_pem: None,
        }
    }

    #[test]
    fn login_format_renders_each_placeholder() {
        let a = EmailAddress::parse("jane.doe@Contoso.com").unwrap();
        assert_eq!(LoginFormat::default().render(&a), "jane.doe@contoso.com");
        let f = LoginFormat::parse("%EMAILDOMAIN%\\%EMAILLOCALPART%").unwrap();
        assert_eq!(f.render(&a), "contoso.com\\jane.doe");
    }

    #[test]
    fn login_format_rejects_unknown_or_missing_placeholders() {
        assert!(LoginFormat::parse("%USER%").unwrap_err().contains("%USER%"));
        assert!(LoginFormat::parse("admin").unwrap_err().contains("no placeholder"));
        assert!(LoginFormat::parse("%EMAILADDRESS").unwrap_err().contains("unclosed"));
        assert!(LoginFormat::parse("").is_err());
    }

    #[test]
    fn plaintext_needs_the_opt_in() {
        let mut s = settings();
        s.security = Security::None;
        assert_eq!(s.validate(false), Err(SettingsError::PlaintextNotAllowed));
        assert_eq!(s.validate(true), Ok(()));
    }

    #[test]
    fn limits_and_admin_are_checked() {
        let mut s = settings();
        s.max_concurrent_incremental = 21;
        assert_eq!(s.validate(false), Err(SettingsError::BadIncremental(20)));
        let mut s = settings();
        s.max_concurrent_migrations = 0;
        assert_eq!(s.validate(false), Err(SettingsError::ZeroMigrations));
        let mut s = settings();
        s.admin_login = None;
        assert_eq!(s.validate(false), Err(SettingsError::AdminMissing("authzid")));
        s.impersonation = Impersonation::None;
        assert_eq!(s.validate(false), Ok(()));
    }

    #[test]
    fn hosts_are_names_or_addresses() {
        assert!(validate_host("127.0.0.1").is_ok());
        assert!(validate_host("::1").is_ok());
        assert!(validate_host("mail.example.com.").is_ok());
        assert_eq!(validate_host(""), Err(SettingsError::EmptyHost));
        assert!(validate_host("bad host").is_err());
        assert!(validate_host("a..b").is_err());
    }

    #[test]
    fn master_separator_must_be_usable() {
        assert_eq!(
            Impersonation::from_parts("master-user", None).unwrap().separator(),
            Some("*")
        );
        assert!(Impersonation::from_parts("master-user", Some("")).is_err());
        assert!(Impersonation::from_parts("sudo", None).is_err());
    }
}
