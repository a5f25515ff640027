//! Reading a secret: from an environment variable, a file, or a terminal
//! prompt — never from a plain command-line argument, which would end up in
//! shell history and in every `ps` listing.

use std::io::IsTerminal;
use std::path::Path;

use mailferry_core::Secret;

use crate::failure::Failure;

/// Where a secret comes from, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct SecretSource {
    pub env: Option<String>,
    pub file: Option<std::path::PathBuf>,
}

impl SecretSource {
    pub fn is_given(&self) -> bool {
        self.env.is_some() || self.file.is_some()
    }

    /// Reads the secret. `prompt` is shown when neither source is given and
    /// standard input is a terminal; otherwise `Ok(None)`.
    pub fn read(&self, prompt: &str) -> Result<Option<Secret>, Failure> {
        match (&self.env, &self.file) {
            (Some(_), Some(_)) => Err(Failure::usage("give either --password-env or --password-file, not both")),
            (Some(var), None) => from_env(var).map(Some),
            (None, Some(path)) => from_file(path).map(Some),
            (None, None) if std::io::stdin().is_terminal() => {
                let value = rpassword::prompt_password(prompt)
                    .map_err(|e| Failure::usage(format!("cannot read the password from the terminal: {e}")))?;
                non_empty(Secret::new(value), "the password typed").map(Some)
            }
            (None, None) => Ok(None),
        }
    }
}

fn from_env(var: &str) -> Result<Secret, Failure> {
    match std::env::var(var) {
        Ok(v) => non_empty(Secret::new(v), &format!("environment variable {var}")),
        Err(std::env::VarError::NotPresent) => {
            Err(Failure::usage(format!("--password-env {var}: the environment variable {var} is not set")))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Failure::usage(format!("--password-env {var}: the value is not valid UTF-8")))
        }
    }
}

fn from_file(path: &Path) -> Result<Secret, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("--password-file {}: {e}", path.display())))?;
    let mut text = zeroize::Zeroizing::new(text);
    // One trailing newline is how editors and `echo` end a file; it is not
    // part of the password.
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    non_empty(Secret::new(text.to_string()), &format!("--password-file {}", path.display()))
}

fn non_empty(secret: Secret, from: &str) -> Result<Secret, Failure> {
    if secret.is_empty() {
        Err(Failure::usage(format!("{from} is empty")))
    } else {
        Ok(secret)
    }
}
