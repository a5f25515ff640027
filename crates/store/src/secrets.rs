//! Secrets at rest: XChaCha20-Poly1305 with a key from `MAILFERRY_SECRET_KEY`
//! or the generated key file `DATA_DIR/secret.key`.
//!
//! A sealed value is `version (1) || key id (8) || nonce (24) || ciphertext+tag`.
//! The nonce is random for every seal. The associated data is the value's
//! place, `table/row-id/column`, so a ciphertext copied to another row or
//! column does not open. The key id is a fingerprint of the key (the
//! Poly1305 tag of a fixed message under a fixed nonce), so opening with
//! another key is reported as exactly that rather than as tampering.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use mailferry_core::Secret;
use zeroize::{Zeroize, Zeroizing};

/// The environment variable holding the key as 64 hexadecimal characters.
pub const SECRET_KEY_ENV: &str = "MAILFERRY_SECRET_KEY";
/// The key file's name inside the data directory.
pub const KEY_FILE_NAME: &str = "secret.key";

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// Where a sealed value lives; its text form `table/row-id/column` is the
/// associated data of the seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedAt<'a> {
    pub table: &'a str,
    pub id: &'a str,
    pub column: &'a str,
}

impl<'a> SealedAt<'a> {
    pub fn new(table: &'a str, id: &'a str, column: &'a str) -> Self {
        SealedAt { table, id, column }
    }

    fn aad(&self) -> String {
        format!("{}/{}/{}", self.table, self.id, self.column)
    }
}

impl fmt::Display for SealedAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.table, self.id, self.column)
    }
}

/// Where the key came from (named in error messages; never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `MAILFERRY_SECRET_KEY` environment variable.
    Env,
    /// A key file.
    File(PathBuf),
    /// Given by the caller (tests, embedding).
    Given,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The environment variable is set but is not a key. Never echoes the value.
    #[error(
        "{SECRET_KEY_ENV} must be exactly 64 hexadecimal characters (a 32-byte key); {reason}"
    )]
    BadEnvKey { reason: String },
    /// The key file could not be created or read, or does not hold a key.
    #[error("secret key file {}: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    /// The key file can be read by other users.
    #[error(
        "secret key file {} has mode {mode:04o}, which lets other users read it; \
         refusing to use it (run `chmod 600 {}` if the file is trusted)",
        path.display(),
        path.display()
    )]
    KeyFilePermissions { path: PathBuf, mode: u32 },
    /// The value was sealed with another key.
    #[error(
        "the secret key does not match the one these credentials were sealed with; \
         was {SECRET_KEY_ENV} changed?"
    )]
    KeyMismatch,
    /// The value does not authenticate: it was altered, or moved from
    /// another row or column.
    #[error(
        "the sealed value at {place} failed authentication: it was altered or copied from another place"
    )]
    Tampered { place: String },
    /// The value is not in the sealed format.
    #[error("the sealed value at {place} is malformed: {detail}")]
    Malformed { place: String, detail: String },
    /// Sealing failed (the operating system's random generator, or an
    /// impossible plaintext length).
    #[error("could not seal a secret: {0}")]
    Seal(String),
}

/// Seals and opens secrets with one key. The key is wiped from memory when
/// the box is dropped (the cipher zeroizes its key on drop; every temporary
/// copy is held in [`Zeroizing`]).
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    key_id: [u8; KEY_ID_LEN],
    source: KeySource,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBox")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl SecretBox {
    /// A box with this key.
    pub fn from_key(key: Zeroizing<[u8; 32]>) -> Self {
        Self::with_source(key, KeySource::Given)
    }

    fn with_source(key: Zeroizing<[u8; 32]>, source: KeySource) -> Self {
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&key[..]));
        // Fingerprint: the tag of an empty message with a fixed associated
        // text under an all-0xff nonce. Random nonces never take this value
        // in practice (2^-192), and an empty message reveals nothing.
        let tag = cipher
            .encrypt(
                XNonce::from_slice(&[0xff; NONCE_LEN]),
                Payload {
                    msg: b"",
                    aad: b"mailferry secret key id v1",
                },
            )
            .expect("sealing an empty message cannot fail");
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&tag[..KEY_ID_LEN]);
        SecretBox {
            cipher,
            key_id,
            source,
        }
    }

    /// A fresh random key (tests).
    pub fn generate() -> Result<Self, SecretError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(&mut key[..]).map_err(|e| SecretError::Seal(e.to_string()))?;
        Ok(Self::from_key(key))
    }

    /// The key from `MAILFERRY_SECRET_KEY` if it is set, else from
    /// `data_dir/secret.key`, created (mode 0600) if missing.
    pub fn load(data_dir: &Path) -> Result<Self, SecretError> {
        match std::env::var(SECRET_KEY_ENV) {
            Ok(value) => {
                let value = Zeroizing::new(value);
                Self::load_with(Some(&value), data_dir)
            }
            Err(std::env::VarError::NotPresent) => Self::load_with(None, data_dir),
            Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::BadEnvKey {
                reason: "it is not valid UTF-8".into(),
            }),
        }
    }

    /// As [`SecretBox::load`], with the environment variable's value given
    /// (so tests need not change the process environment).
    pub fn load_with(env_value: Option<&str>, data_dir: &Path) -> Result<Self, SecretError> {
        match env_value {
            Some(value) => Ok(Self::with_source(parse_env_key(value)?, KeySource::Env)),
            None => {
                let path = data_dir.join(KEY_FILE_NAME);
                let key = load_or_create_key_file(data_dir, &path)?;
                Ok(Self::with_source(key, KeySource::File(path)))
            }
        }
    }

    /// Where this box's key came from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Seals `secret` for `place`.
    pub fn seal(&self, secret: &Secret, place: SealedAt<'_>) -> Result<Vec<u8>, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|e| SecretError::Seal(e.to_string()))?;
        let aad = place.aad();
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.expose().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Seal("the secret is too long".into()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&self.key_id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Opens a value sealed for `place`.
    pub fn open(&self, sealed: &[u8], place: SealedAt<'_>) -> Result<Secret, SecretError> {
        let malformed = |detail: &str| SecretError::Malformed {
            place: place.to_string(),
            detail: detail.to_owned(),
        };
        let (&version, rest) = sealed
            .split_first()
            .ok_or_else(|| malformed("it is empty"))?;
        if version != VERSION {
            return Err(malformed(&format!(
                "unknown format version {version} (this mailferry knows version {VERSION})"
            )));
        }
        if rest.len() < KEY_ID_LEN + NONCE_LEN + TAG_LEN {
            return Err(malformed("it is too short"));
        }
        let (key_id, rest) = rest.split_at(KEY_ID_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        if key_id != self.key_id {
            return Err(SecretError::KeyMismatch);
        }
        let aad = place.aad();
        let plaintext = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Tampered {
                place: place.to_string(),
            })?;
        match String::from_utf8(plaintext) {
            Ok(text) => Ok(Secret::new(text)),
            Err(e) => {
                e.into_bytes().zeroize();
                Err(malformed("the opened secret is not UTF-8"))
            }
        }
    }
}

/// Parses the environment variable's value. Errors say what is wrong with
/// its shape, never what it contains.
pub fn parse_env_key(value: &str) -> Result<Zeroizing<[u8; 32]>, SecretError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(SecretError::BadEnvKey {
            reason: "it is set but empty".into(),
        });
    }
    if value.len() != 64 {
        return Err(SecretError::BadEnvKey {
            reason: format!("it has {} characters", value.chars().count()),
        });
    }
    if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SecretError::BadEnvKey {
            reason: "it contains a character that is not a hexadecimal digit".into(),
        });
    }
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(value, &mut key[..]).map_err(|_| SecretError::BadEnvKey {
        reason: "it is not hexadecimal".into(),
    })?;
    Ok(key)
}

fn key_file_error(path: &Path, what: &str, e: io::Error) -> SecretError {
    SecretError::KeyFile {
        path: path.to_owned(),
        reason: format!("{what}: {e}"),
    }
}

/// Reads the key file, or creates it with a fresh key if it does not exist.
fn load_or_create_key_file(
    data_dir: &Path,
    path: &Path,
) -> Result<Zeroizing<[u8; 32]>, SecretError> {
    if let Some(key) = read_key_file(path)? {
        return Ok(key);
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .map_err(|e| key_file_error(path, "cannot create the data directory", e))?;

    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(&mut key[..]).map_err(|e| SecretError::KeyFile {
        path: path.to_owned(),
        reason: format!("the operating system's random generator failed: {e}"),
    })?;
    // Fixed-size buffers only: a growing String would leave copies of the
    // key behind in freed memory.
    let mut text = Zeroizing::new([b'\n'; 65]);
    hex::encode_to_slice(&key[..], &mut text[..64]).expect("64 hex digits fit");

    // Write a temporary file (0600 from its creation), then link it to the
    // final name: the link fails if another process created the key first,
    // and nobody ever sees a half-written key file.
    let mut suffix = [0u8; 8];
    getrandom::getrandom(&mut suffix).map_err(|e| SecretError::KeyFile {
        path: path.to_owned(),
        reason: format!("the operating system's random generator failed: {e}"),
    })?;
    let tmp = data_dir.join(format!(".{KEY_FILE_NAME}.{}.tmp", hex::encode(suffix)));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&text[..])?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(key_file_error(path, "cannot write a new key", e));
    }
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Ok(dir) = fs::File::open(data_dir) {
                let _ = dir.sync_all();
            }
            tracing::info!(path = %path.display(), "generated a new secret key");
            Ok(key)
        }
        // Another process was first: use its key.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            read_key_file(path)?.ok_or_else(|| SecretError::KeyFile {
                path: path.to_owned(),
                reason: "it vanished while being created".into(),
            })
        }
        Err(e) => Err(key_file_error(path, "cannot create the key file", e)),
    }
}

const MAX_KEY_FILE_LEN: usize = 1024;

/// The key in the key file, `None` if there is no key file.
fn read_key_file(path: &Path) -> Result<Option<Zeroizing<[u8; 32]>>, SecretError> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(key_file_error(path, "cannot open", e)),
    };
    // Check the file we opened, not the name, so a swap cannot slip by.
    let meta = file
        .metadata()
        .map_err(|e| key_file_error(path, "cannot inspect", e))?;
    if !meta.is_file() {
        return Err(SecretError::KeyFile {
            path: path.to_owned(),
            reason: "it is not a regular file".into(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretError::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    if meta.len() >= MAX_KEY_FILE_LEN as u64 {
        return Err(SecretError::KeyFile {
            path: path.to_owned(),
            reason: "it is too large to be a key file".into(),
        });
    }
    let mut buf = Zeroizing::new([0u8; MAX_KEY_FILE_LEN]);
    let mut len = 0;
    loop {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(key_file_error(path, "cannot read", e)),
        }
        if len == buf.len() {
            return Err(SecretError::KeyFile {
                path: path.to_owned(),
                reason: "it is too large to be a key file".into(),
            });
        }
    }
    let value = buf[..len].trim_ascii();
    let mut key = Zeroizing::new([0u8; 32]);
    if value.len() != 64 || hex::decode_to_slice(value, &mut key[..]).is_err() {
        return Err(SecretError::KeyFile {
            path: path.to_owned(),
            reason: "it does not hold a key (64 hexadecimal characters)".into(),
        });
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(id: &str) -> SealedAt<'_> {
        SealedAt::new("endpoints", id, "admin_secret")
    }

    fn secret(s: &str) -> Secret {
        Secret::new(s.to_owned())
    }

    #[test]
    fn round_trip() {
        let b = SecretBox::generate().unwrap();
        let sealed = b.seal(&secret("hunter2 ünïcode"), place("a1")).unwrap();
        assert_eq!(sealed[0], VERSION);
        assert_eq!(sealed.len(), HEADER_LEN + "hunter2 ünïcode".len() + TAG_LEN);
        assert_eq!(
            b.open(&sealed, place("a1")).unwrap().expose(),
            "hunter2 ünïcode"
        );
        // a fresh nonce every time
        let again = b.seal(&secret("hunter2 ünïcode"), place("a1")).unwrap();
        assert_ne!(sealed, again);
        // the empty secret works too
        let empty = b.seal(&secret(""), place("a1")).unwrap();
        assert!(b.open(&empty, place("a1")).unwrap().is_empty());
    }

    #[test]
    fn wrong_place_fails() {
        let b = SecretBox::generate().unwrap();
        let sealed = b.seal(&secret("pw"), place("a1")).unwrap();
        let err = b.open(&sealed, place("a2")).unwrap_err();
        assert!(matches!(err, SecretError::Tampered { .. }), "{err}");
        assert!(err.to_string().contains("endpoints/a2/admin_secret"));
        let other_column = SealedAt::new("endpoints", "a1", "other");
        assert!(matches!(
            b.open(&sealed, other_column),
            Err(SecretError::Tampered { .. })
        ));
    }

    #[test]
    fn wrong_key_fails_with_a_clear_error() {
        let a = SecretBox::generate().unwrap();
        let b = SecretBox::generate().unwrap();
        let sealed = a.seal(&secret("pw"), place("a1")).unwrap();
        let err = b.open(&sealed, place("a1")).unwrap_err();
        assert!(matches!(err, SecretError::KeyMismatch));
        assert!(err
            .to_string()
            .contains("was MAILFERRY_SECRET_KEY changed?"));
        // Same key, new box: opens.
        let key = Zeroizing::new([7u8; 32]);
        let c1 = SecretBox::from_key(key.clone());
        let c2 = SecretBox::from_key(key);
        let sealed = c1.seal(&secret("pw"), place("a1")).unwrap();
        assert_eq!(c2.open(&sealed, place("a1")).unwrap().expose(), "pw");
    }

    #[test]
    fn tampering_fails() {
        let b = SecretBox::generate().unwrap();
        let sealed = b.seal(&secret("password"), place("a1")).unwrap();
        for i in HEADER_LEN - NONCE_LEN..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(
                matches!(b.open(&t, place("a1")), Err(SecretError::Tampered { .. })),
                "flipping byte {i} was not detected"
            );
        }
        let mut t = sealed.clone();
        t[0] = 9;
        assert!(matches!(
            b.open(&t, place("a1")),
            Err(SecretError::Malformed { .. })
        ));
        assert!(matches!(
            b.open(&sealed[..20], place("a1")),
            Err(SecretError::Malformed { .. })
        ));
        assert!(matches!(
            b.open(&[], place("a1")),
            Err(SecretError::Malformed { .. })
        ));
        let mut t = sealed.clone();
        t.pop();
        assert!(matches!(
            b.open(&t, place("a1")),
            Err(SecretError::Tampered { .. })
        ));
    }

    #[test]
    fn key_file_is_created_with_mode_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let a = SecretBox::load_with(None, &data).unwrap();
        let path = data.join(KEY_FILE_NAME);
        assert_eq!(a.source(), &KeySource::File(path.clone()));
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        // no temporary file left behind
        assert_eq!(fs::read_dir(&data).unwrap().count(), 1);

        let b = SecretBox::load_with(None, &data).unwrap();
        let sealed = a.seal(&secret("pw"), place("x")).unwrap();
        assert_eq!(b.open(&sealed, place("x")).unwrap().expose(), "pw");

        // The file's key and the same key given through the environment agree.
        let c = SecretBox::load_with(Some(text.trim()), &data).unwrap();
        assert_eq!(c.source(), &KeySource::Env);
        assert_eq!(c.open(&sealed, place("x")).unwrap().expose(), "pw");
    }

    #[test]
    fn key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        SecretBox::load_with(None, dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = SecretBox::load_with(None, dir.path()).unwrap_err();
        assert!(
            matches!(err, SecretError::KeyFilePermissions { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("0644"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(SecretBox::load_with(None, dir.path()).is_err());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(SecretBox::load_with(None, dir.path()).is_ok());
    }

    #[test]
    fn garbage_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE_NAME);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap()
            .write_all(b"not a key\n")
            .unwrap();
        let err = SecretBox::load_with(None, dir.path()).unwrap_err();
        assert!(err.to_string().contains("does not hold a key"), "{err}");
    }

    #[test]
    fn env_key_errors_name_the_variable_but_not_the_value() {
        let good = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let dir = tempfile::tempdir().unwrap();
        assert!(SecretBox::load_with(Some(good), dir.path()).is_ok());
        // the environment key does not create a key file
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let cases = [
            ("", "empty"),
            ("deadbeef", "8 characters"),
            (&good[..63], "63 characters"),
            (
                "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                "not a hexadecimal",
            ),
            (
                "xx-secret-looking-value-that-is-not-hex-at-all-but-64-chars-long",
                "not a hexadecimal",
            ),
        ];
        for (value, expect) in cases {
            let err = SecretBox::load_with(Some(value), dir.path()).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, SecretError::BadEnvKey { .. }), "{msg}");
            assert!(msg.contains(SECRET_KEY_ENV), "{msg}");
            assert!(msg.contains(expect), "{msg} should say {expect}");
            if !value.is_empty() {
                assert!(!msg.contains(value), "the message echoes the value: {msg}");
                assert!(
                    !msg.contains(&value[..6]),
                    "the message echoes part of the value: {msg}"
                );
            }
        }
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let b = SecretBox::from_key(Zeroizing::new([0xab; 32]));
        let shown = format!("{b:?}");
        assert!(
            !shown.contains("ab, ab") && !shown.contains("171"),
            "{shown}"
        );
    }
}
