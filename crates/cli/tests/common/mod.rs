//! Running the real `mailferry` binary against a data directory of its own.

#![allow(dead_code)]

pub mod imap_check;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Mailferry {
    pub data: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    pub fn error_json(&self) -> serde_json::Value {
        let line = self.stderr.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| {
            panic!("no JSON error on stderr:\n{}", self.stderr)
        });
        serde_json::from_str(line).unwrap()
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

impl Mailferry {
    pub fn new() -> Self {
        Mailferry { data: tempfile::tempdir().unwrap() }
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Runs `mailferry --data-dir DIR ARGS…` with `envs` added; stdin is
    /// not a terminal, so no prompt is ever shown.
    pub fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailferry"));
        cmd.arg("--data-dir").arg(self.data.path()).args(args);
        cmd.env_remove("MAILFERRY_SECRET_KEY").env_remove("MAILFERRY_DB").env_remove("MAILFERRY_HOME");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdin(std::process::Stdio::null());
        let Output { status, stdout, stderr } = cmd.output().expect("run mailferry");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Every file under the data directory, recursively.
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.data.path(), &mut out);
        out
    }
}

/// True if `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
