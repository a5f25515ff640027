//! Names of endpoints and batches: what an administrator types on the
//! command line and sees in the dashboard.

use std::fmt;

/// Longest name allowed (SPEC section 2).
pub const MAX_NAME_LEN: usize = 64;

/// A validated endpoint or batch name: 1–64 characters from
/// `A–Z a–z 0–9 . _ -`, starting with a letter or digit. The restriction keeps
/// names safe in URLs, file names and shell commands without quoting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name cannot be empty")]
    Empty,
    #[error("a name is at most {MAX_NAME_LEN} characters long; this one has {0}")]
    TooLong(usize),
    #[error("a name must start with a letter or a digit, not {0:?}")]
    BadStart(char),
    #[error("a name may only contain letters, digits, '.', '_' and '-'; {0:?} is not allowed")]
    BadChar(char),
}

impl Name {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let len = s.chars().count();
        let first = s.chars().next().ok_or(NameError::Empty)?;
        if len > MAX_NAME_LEN {
            return Err(NameError::TooLong(len));
        }
        if !first.is_ascii_alphanumeric() {
            return Err(NameError::BadStart(first));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(NameError::BadChar(c));
        }
        Ok(Name(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["src", "Exchange-2016", "a", "contoso.com", "x_1"] {
            assert_eq!(Name::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_bad_names_with_the_reason() {
        assert_eq!(Name::parse(""), Err(NameError::Empty));
        assert_eq!(Name::parse("-x"), Err(NameError::BadStart('-')));
        assert_eq!(Name::parse("a b"), Err(NameError::BadChar(' ')));
        assert_eq!(Name::parse("é"), Err(NameError::BadStart('é')));
        let long = "a".repeat(65);
        assert_eq!(Name::parse(&long), Err(NameError::TooLong(65)));
        assert!(Name::parse(&"a".repeat(64)).is_ok());
    }
}
