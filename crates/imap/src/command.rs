//! Building commands: arguments quoted or sent as literals, and the command
//! cut into segments where the client must wait for the server's `+`.
//!
//! The tag is not part of a built command: the session puts one in front when
//! it sends it. Command bytes may hold a password, so they live in zeroized
//! buffers and are never logged.

use zeroize::Zeroizing;

use crate::error::ImapError;
use crate::types::Capabilities;

/// One piece of a command, sent in one write; with `then_wait`, the client
/// waits for a continuation (`+`) before sending the next piece.
pub(crate) struct Segment {
    pub bytes: Zeroizing<Vec<u8>>,
    pub then_wait: bool,
}

/// A command ready to be sent.
pub(crate) struct Command {
    /// The command's name for errors and logs, never its arguments.
    pub name: &'static str,
    pub segments: Vec<Segment>,
    /// A further `+` after everything was sent is answered with `*`
    /// (cancelling a SASL exchange) instead of being a protocol error.
    pub cancel_extra_continuation: bool,
}

/// How literals may be sent.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LiteralMode {
    /// LITERAL+: `{n+}` for any size, no wait.
    pub plus: bool,
    /// LITERAL-: `{n+}` up to 4096 bytes.
    pub minus: bool,
}

impl LiteralMode {
    pub fn from_caps(caps: &Capabilities) -> Self {
        LiteralMode {
            plus: caps.has("LITERAL+"),
            minus: caps.has("LITERAL-"),
        }
    }

    fn non_sync(self, len: usize) -> bool {
        self.plus || (self.minus && len <= 4096)
    }
}

pub(crate) struct Builder {
    name: &'static str,
    mode: LiteralMode,
    segments: Vec<Segment>,
    cur: Zeroizing<Vec<u8>>,
    cancel_extra_continuation: bool,
}

impl Builder {
    /// Starts a command; `verb` is its first words (e.g. `"UID FETCH"`).
    pub fn new(name: &'static str, verb: &str, mode: LiteralMode) -> Self {
        Builder {
            name,
            mode,
            segments: Vec::new(),
            cur: Zeroizing::new(verb.as_bytes().to_vec()),
            cancel_extra_continuation: false,
        }
    }

    /// Appends bytes as they are, after a space.
    pub fn raw(mut self, s: &str) -> Self {
        self.cur.push(b' ');
        self.cur.extend_from_slice(s.as_bytes());
        self
    }

    /// Appends a string argument, after a space: quoted when it can be,
    /// else a literal.
    pub fn string(mut self, s: &[u8]) -> Result<Self, ImapError> {
        self.cur.push(b' ');
        if s.contains(&0) {
            return Err(ImapError::InvalidArgument {
                what: format!(
                    "an argument of {} contains a NUL byte, which IMAP cannot carry",
                    self.name
                ),
            });
        }
        if is_quotable(s) {
            quote_into(&mut self.cur, s);
        } else if self.mode.non_sync(s.len()) {
            self.cur
                .extend_from_slice(format!("{{{}+}}\r\n", s.len()).as_bytes());
            self.cur.extend_from_slice(s);
        } else {
            self.cur
                .extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
            self.wait();
            self.cur.extend_from_slice(s);
        }
        Ok(self)
    }

    /// Ends the current line, and waits for `+` before what follows.
    pub fn line_then_wait(mut self) -> Self {
        self.cur.extend_from_slice(b"\r\n");
        self.wait();
        self
    }

    /// Appends bytes as the start of a new line (after a wait).
    pub fn line(mut self, s: &[u8]) -> Self {
        self.cur.extend_from_slice(s);
        self
    }

    pub fn cancel_extra_continuation(mut self) -> Self {
        self.cancel_extra_continuation = true;
        self
    }

    fn wait(&mut self) {
        let bytes = std::mem::replace(&mut self.cur, Zeroizing::new(Vec::new()));
        self.segments.push(Segment {
            bytes,
            then_wait: true,
        });
    }

    pub fn finish(mut self) -> Command {
        self.cur.extend_from_slice(b"\r\n");
        let bytes = std::mem::replace(&mut self.cur, Zeroizing::new(Vec::new()));
        self.segments.push(Segment {
            bytes,
            then_wait: false,
        });
        Command {
            name: self.name,
            segments: self.segments,
            cancel_extra_continuation: self.cancel_extra_continuation,
        }
    }
}

/// Whether a string can be sent quoted: 7-bit, no CR, LF or NUL.
pub(crate) fn is_quotable(s: &[u8]) -> bool {
    s.iter()
        .all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80)
}

/// Appends `s` as a quoted string, escaping `\` and `"`.
pub(crate) fn quote_into(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Standard base64 with padding.
pub(crate) fn base64(input: &[u8]) -> Zeroizing<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Zeroizing::new(String::with_capacity(input.len().div_ceil(3) * 4));
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, s) in sextets.iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[*s as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The SASL PLAIN message `authzid NUL authcid NUL password`, base64.
pub(crate) fn sasl_plain(
    authzid: Option<&str>,
    authcid: &str,
    password: &str,
) -> Zeroizing<String> {
    let mut msg = Zeroizing::new(Vec::with_capacity(authcid.len() + password.len() + 64));
    msg.extend_from_slice(authzid.unwrap_or("").as_bytes());
    msg.push(0);
    msg.extend_from_slice(authcid.as_bytes());
    msg.push(0);
    msg.extend_from_slice(password.as_bytes());
    base64(&msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(c: &Command) -> Vec<(String, bool)> {
        c.segments
            .iter()
            .map(|s| (String::from_utf8_lossy(&s.bytes).into_owned(), s.then_wait))
            .collect()
    }

    #[test]
    fn base64_known_answers() {
        assert_eq!(*base64(b""), "");
        assert_eq!(*base64(b"f"), "Zg==");
        assert_eq!(*base64(b"fo"), "Zm8=");
        assert_eq!(*base64(b"foo"), "Zm9v");
        assert_eq!(*base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(
            *sasl_plain(Some("authzid"), "authcid", "password"),
            "YXV0aHppZABhdXRoY2lkAHBhc3N3b3Jk"
        );
        assert_eq!(
            *sasl_plain(None, "tim", "tanstaaftanstaaf"),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
    }

    #[test]
    fn strings_are_quoted_with_escapes() {
        let c = Builder::new("LOGIN", "LOGIN", LiteralMode::default())
            .string(b"user")
            .unwrap()
            .string(b"p\"a\\ss")
            .unwrap()
            .finish();
        assert_eq!(
            wire(&c),
            vec![("LOGIN \"user\" \"p\\\"a\\\\ss\"\r\n".to_owned(), false)]
        );
    }

    #[test]
    fn eight_bit_or_line_breaks_become_literals() {
        let c = Builder::new("SELECT", "SELECT", LiteralMode::default())
            .string("Entw\u{fc}rfe".as_bytes())
            .unwrap()
            .finish();
        assert_eq!(
            wire(&c),
            vec![
                ("SELECT {9}\r\n".to_owned(), true),
                ("Entw\u{fc}rfe\r\n".to_owned(), false)
            ]
        );
        let plus = LiteralMode {
            plus: true,
            minus: false,
        };
        let c = Builder::new("SELECT", "SELECT", plus)
            .string(b"a\r\nb")
            .unwrap()
            .finish();
        assert_eq!(
            wire(&c),
            vec![("SELECT {4+}\r\na\r\nb\r\n".to_owned(), false)]
        );
        let minus = LiteralMode {
            plus: false,
            minus: true,
        };
        let big = vec![0x80u8; 5000];
        let c = Builder::new("SELECT", "SELECT", minus)
            .string(&big)
            .unwrap()
            .finish();
        assert_eq!(c.segments.len(), 2);
        assert!(Builder::new("SELECT", "SELECT", plus)
            .string(b"a\0b")
            .is_err());
    }
}
