//! Email addresses, as the migration uses them: the key of a migration user
//! and the input of login formats and discovery.

use std::fmt;

/// A syntactically plausible address `local@domain`. The check is deliberately
/// modest (mail servers disagree on the rest): one `@`, a non-empty local part
/// and a domain with a dot-separated label structure, no whitespace or control
/// characters, at most 254 octets. The domain is kept lower-case; the local
/// part is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    full: String,
    at: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the address is empty")]
    Empty,
    #[error("{0:?} is not an email address: it needs exactly one '@'")]
    NoAt(String),
    #[error("{0:?} is not an email address: the part before '@' is empty")]
    EmptyLocal(String),
    #[error("{0:?} is not an email address: the domain is not valid")]
    BadDomain(String),
    #[error("{0:?} is not an email address: it contains a space or a control character")]
    BadChar(String),
    #[error("the address is longer than 254 characters")]
    TooLong,
}

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if s.len() > 254 {
            return Err(AddressError::TooLong);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AddressError::BadChar(s.to_owned()));
        }
        let at = match (s.find('@'), s.rfind('@')) {
            (Some(a), Some(b)) if a == b => a,
            _ => return Err(AddressError::NoAt(s.to_owned())),
        };
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if local.is_empty() {
            return Err(AddressError::EmptyLocal(s.to_owned()));
        }
        let domain_ok = !domain.is_empty()
            && domain.len() <= 253
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return Err(AddressError::BadDomain(s.to_owned()));
        }
        let full = format!("{local}@{}", domain.to_lowercase());
        Ok(EmailAddress { full, at })
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn local_part(&self) -> &str {
        &self.full[..self.at]
    }

    pub fn domain(&self) -> &str {
        &self.full[self.at + 1..]
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_lowercases_the_domain() {
        let a = EmailAddress::parse(" Alice.B@Example.COM ").unwrap();
        assert_eq!(a.as_str(), "Alice.B@example.com");
        assert_eq!(a.local_part(), "Alice.B");
        assert_eq!(a.domain(), "example.com");
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        assert!(matches!(EmailAddress::parse(""), Err(AddressError::Empty)));
        assert!(matches!(EmailAddress::parse("alice"), Err(AddressError::NoAt(_))));
        assert!(matches!(EmailAddress::parse("a@b@c"), Err(AddressError::NoAt(_))));
        assert!(matches!(EmailAddress::parse("@x.org"), Err(AddressError::EmptyLocal(_))));
        assert!(matches!(EmailAddress::parse("a@"), Err(AddressError::BadDomain(_))));
        assert!(matches!(EmailAddress::parse("a@x..org"), Err(AddressError::BadDomain(_))));
        assert!(matches!(EmailAddress::parse("a@-x.org"), Err(AddressError::BadDomain(_))));
        assert!(matches!(EmailAddress::parse("a b@x.org"), Err(AddressError::BadChar(_))));
    }
}
