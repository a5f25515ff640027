//! The errors of the IMAP connector, each worded for the administrator who
//! has to act on it. No error ever carries a password: commands are named by
//! their name only, and server text is escaped and capped.

use std::fmt;
use std::net::SocketAddr;

/// Why a TCP connection could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    Refused,
    TimedOut,
    Unreachable,
    Other(String),
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectFailure::Refused => f.write_str(
                "the connection was refused (is the port right, and is the server running?)",
            ),
            ConnectFailure::TimedOut => {
                f.write_str("the connection timed out (a firewall may be dropping it)")
            }
            ConnectFailure::Unreachable => f.write_str("the network or host is unreachable"),
            ConnectFailure::Other(text) => f.write_str(text),
        }
    }
}

/// Why a TLS handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The chain does not lead to a trusted root.
    UnknownIssuer,
    /// The certificate does not name `name` (the host connected to);
    /// `presented` lists the names it does carry, when known.
    NotValidForName {
        name: String,
        presented: Vec<String>,
    },
    Expired,
    NotValidYet,
    Revoked,
    BadSignature,
    /// Any other handshake or alert failure, as text.
    Other(String),
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::UnknownIssuer => f.write_str(
                "the certificate is issued by an authority that is not trusted \
                 (give its CA with --ca-file)",
            ),
            TlsFailure::NotValidForName { name, presented } if presented.is_empty() => {
                write!(f, "the certificate is not valid for the name {name}")
            }
            TlsFailure::NotValidForName { name, presented } => write!(
                f,
                "the certificate is not valid for the name {name} (it is for {})",
                presented.join(", ")
            ),
            TlsFailure::Expired => f.write_str("the certificate has expired"),
            TlsFailure::NotValidYet => {
                f.write_str("the certificate is not valid yet (check this machine's clock)")
            }
            TlsFailure::Revoked => f.write_str("the certificate has been revoked"),
            TlsFailure::BadSignature => {
                f.write_str("the certificate's signature does not verify against its issuer")
            }
            TlsFailure::Other(text) => f.write_str(text),
        }
    }
}

/// An error of the IMAP connector.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    #[error("could not resolve host {host}: {reason}")]
    Resolve { host: String, reason: String },

    #[error("could not connect to {host} ({addr}): {failure}")]
    Connect {
        host: String,
        addr: SocketAddr,
        failure: ConnectFailure,
    },

    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: TlsFailure },

    #[error("the CA certificates could not be used: {reason}")]
    CaFile { reason: String },

    #[error("the server does not offer STARTTLS; use --security tls (port 993) if it speaks TLS from the start")]
    StartTlsNotOffered,

    #[error("the server refused STARTTLS: {text}")]
    StartTlsRefused { text: String },

    #[error("the server's greeting is not usable: {detail}")]
    Greeting { detail: String },

    #[error("timed out waiting for {waiting_for}")]
    Timeout { waiting_for: String },

    #[error("the server broke the IMAP protocol: {detail}")]
    Protocol { detail: String },

    #[error("the server sent more than this connection accepts: {what}")]
    LimitExceeded { what: String },

    #[error("the server refused {command}: {text}{}", code_suffix(.code))]
    No {
        command: String,
        text: String,
        code: Option<String>,
    },

    #[error("the server rejected {command} as invalid: {text}")]
    Bad { command: String, text: String },

    #[error("the server closed the connection: {text}")]
    Bye { text: String },

    #[error("the server closed the connection unexpectedly")]
    Closed,

    #[error("the connection cannot be used any more after an earlier error: {reason}")]
    SessionBroken { reason: String },

    #[error("the server does not allow the {mechanism} login method")]
    AuthMechanismUnavailable { mechanism: String },

    #[error("{what}")]
    InvalidArgument { what: String },

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

fn code_suffix(code: &Option<String>) -> String {
    match code {
        Some(c) => format!(" [{c}]"),
        None => String::new(),
    }
}

/// Up to `max` bytes of untrusted input, printable: anything outside
/// printable ASCII is shown as `\xNN`, and a cut is marked with `...`.
pub(crate) fn excerpt(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        out.push_str("...");
    }
    out
}

/// Server text (resp-text) made safe to show: UTF-8 kept, control
/// characters escaped, length capped.
pub(crate) fn clean_text(bytes: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i >= max_chars {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_escapes_and_caps() {
        assert_eq!(excerpt(b"a\0b\r\n", 100), "a\\x00b\\r\\n");
        assert_eq!(excerpt(b"abcdef", 3), "abc...");
    }

    #[test]
    fn messages_are_actionable() {
        let e = ImapError::Tls {
            host: "imap.example.com".into(),
            reason: TlsFailure::UnknownIssuer,
        };
        assert!(e.to_string().contains("--ca-file"));
        let e = ImapError::Tls {
            host: "imap.example.com".into(),
            reason: TlsFailure::NotValidForName {
                name: "imap.example.com".into(),
                presented: vec![],
            },
        };
        assert!(e
            .to_string()
            .contains("not valid for the name imap.example.com"));
        let e = ImapError::No {
            command: "LOGIN".into(),
            text: "Authentication failed.".into(),
            code: Some("AUTHENTICATIONFAILED".into()),
        };
        assert_eq!(
            e.to_string(),
            "the server refused LOGIN: Authentication failed. [AUTHENTICATIONFAILED]"
        );
    }
}
