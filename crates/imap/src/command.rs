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

impl Command {
    /// Whether the server's `+` must be awaited somewhere in the command.
    pub fn waits(&self) -> bool {
        self.segments.iter().any(|s| s.then_wait)
    }
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

    /// Appends `s` as a literal, after a space, whatever its bytes
    /// (a message for APPEND): `{n+}` when the server allows it for this
    /// size, else `{n}` and a wait for `+`. NUL cannot be sent (that needs
    /// BINARY's literal8).
    pub fn literal(mut self, s: &[u8]) -> Result<Self, ImapError> {
        if s.contains(&0) {
            return Err(ImapError::InvalidArgument {
                what: format!(
                    "the data for {} contains a NUL byte, which IMAP cannot carry without BINARY",
                    self.name
                ),
            });
        }
        self.cur.reserve(s.len() + 24);
        if self.mode.non_sync(s.len()) {
            self.cur
                .extend_from_slice(format!(" {{{}+}}\r\n", s.len()).as_bytes());
        } else {
            self.cur
                .extend_from_slice(format!(" {{{}}}\r\n", s.len()).as_bytes());
            self.wait();
            self.cur.reserve(s.len() + 2);
        }
        self.cur.extend_from_slice(s);
        Ok(self)
    }

    /// Appends a parenthesized flag list, after a space. `\Recent` (which
    /// only the server may set) is dropped; any other flag must be a valid
    /// flag or keyword.
    pub fn flag_list(self, flags: &[String]) -> Result<Self, ImapError> {
        let kept = checked_flags(self.name, flags)?;
        Ok(self.raw(&format!("({})", kept.join(" "))))
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

/// The flags to send: `\Recent` dropped, the others checked to be a
/// system flag (`\Seen`) or a keyword (`$Label`): an atom, at most one
/// leading backslash, none of `( ) { % * " \ ]`, space or controls.
pub(crate) fn checked_flags<'f>(
    command: &str,
    flags: &'f [String],
) -> Result<Vec<&'f str>, ImapError> {
    let mut out = Vec::with_capacity(flags.len());
    for f in flags {
        if f.eq_ignore_ascii_case("\\Recent") {
            continue;
        }
        let atom = f.strip_prefix('\\').unwrap_or(f);
        let ok = !atom.is_empty()
            && atom
                .bytes()
                .all(|b| (0x21..0x7f).contains(&b) && !b"(){%*\"\\]".contains(&b));
        if !ok {
            return Err(ImapError::InvalidArgument {
                what: format!(
                    "the flag \"{}\" cannot be sent in {command} (not a valid IMAP flag)",
                    crate::error::excerpt(f.as_bytes(), 60)
                ),
            });
        }
        out.push(f.as_str());
    }
    Ok(out)
}

/// Checks an INTERNALDATE (`"dd-Mon-yyyy hh:mm:ss +zzzz"`, the day maybe
/// space-padded or one digit) and returns it in the exact form APPEND
/// takes, rebuilt from the parsed pieces.
pub(crate) fn internal_date(s: &str) -> Result<String, ImapError> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let bad = || ImapError::InvalidArgument {
        what: format!(
            "\"{}\" is not an IMAP date-time (dd-Mon-yyyy hh:mm:ss +zzzz)",
            crate::error::excerpt(s.as_bytes(), 60)
        ),
    };
    let num = |t: &str, len: usize, max: u32| -> Option<u32> {
        if t.len() != len || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok().filter(|n| *n <= max)
    };
    let t = s.strip_prefix(' ').unwrap_or(s);
    let (date, rest) = t.split_once(' ').ok_or_else(bad)?;
    let (time, zone) = rest.split_once(' ').ok_or_else(bad)?;
    let mut d = date.split('-');
    let (Some(day), Some(mon), Some(year), None) = (d.next(), d.next(), d.next(), d.next()) else {
        return Err(bad());
    };
    // Two digits are kept as given ("01"); one becomes space-padded (" 1").
    let day = match day.len() {
        1 => num(day, 1, 9).map(|d| format!(" {d}")),
        _ => num(day, 2, 31).map(|d| format!("{d:02}")),
    }
    .filter(|d| d.trim() != "0" && d != "00")
    .ok_or_else(bad)?;
    let month = MONTHS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(mon))
        .ok_or_else(bad)?;
    let year = num(year, 4, 9999).ok_or_else(bad)?;
    let mut tm = time.split(':');
    let (Some(h), Some(m), Some(sec), None) = (tm.next(), tm.next(), tm.next(), tm.next()) else {
        return Err(bad());
    };
    let h = num(h, 2, 23).ok_or_else(bad)?;
    let m = num(m, 2, 59).ok_or_else(bad)?;
    let sec = num(sec, 2, 60).ok_or_else(bad)?;
    let (sign, zone) = match zone.as_bytes().first() {
        Some(b'+') => ('+', &zone[1..]),
        Some(b'-') => ('-', &zone[1..]),
        _ => return Err(bad()),
    };
    let zh = num(zone.get(..2).ok_or_else(bad)?, 2, 99).ok_or_else(bad)?;
    let zm = num(zone.get(2..).ok_or_else(bad)?, 2, 59).ok_or_else(bad)?;
    Ok(format!(
        "{day}-{month}-{year:04} {h:02}:{m:02}:{sec:02} {sign}{zh:02}{zm:02}"
    ))
}

/// Checks a raw argument the caller built (FETCH items, SEARCH criteria):
/// printable ASCII only, so it cannot end the line or smuggle a literal.
pub(crate) fn check_raw(what: &str, s: &str) -> Result<(), ImapError> {
    if s.is_empty() || !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(ImapError::InvalidArgument {
            what: format!(
                "{what} \"{}\" must be printable ASCII and not empty",
                crate::error::excerpt(s.as_bytes(), 60)
            ),
        });
    }
    Ok(())
}

/// Checks a sequence or UID set (`1:4,7,9:*`).
pub(crate) fn check_set(s: &str) -> Result<(), ImapError> {
    if !crate::parse::is_sequence_set(s) {
        return Err(ImapError::InvalidArgument {
            what: format!(
                "\"{}\" is not a UID set",
                crate::error::excerpt(s.as_bytes(), 60)
            ),
        });
    }
    Ok(())
}

/// Checks atoms given by the caller (STATUS items, ENABLE capabilities).
pub(crate) fn check_atoms(what: &str, atoms: &[&str]) -> Result<(), ImapError> {
    let ok = |a: &&str| {
        !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'=' | b'+'))
    };
    if atoms.is_empty() || !atoms.iter().all(ok) {
        return Err(ImapError::InvalidArgument {
            what: format!("{what} must be one or more IMAP atoms"),
        });
    }
    Ok(())
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
    fn internal_dates_are_checked_and_rebuilt() {
        for (given, want) in [
            ("17-Jul-1996 02:44:25 -0700", "17-Jul-1996 02:44:25 -0700"),
            ("01-Jan-2020 10:00:00 +0000", "01-Jan-2020 10:00:00 +0000"),
            (" 1-Jan-2020 10:00:00 +0000", " 1-Jan-2020 10:00:00 +0000"),
            ("1-jan-2020 23:59:60 +1400", " 1-Jan-2020 23:59:60 +1400"),
        ] {
            assert_eq!(internal_date(given).unwrap(), want, "{given}");
        }
        for bad in [
            "",
            "17-Jul-1996",
            "17-Jul-1996 02:44:25",
            "17-Jul-1996 02:44:25 0700",
            "32-Jul-1996 02:44:25 -0700",
            "00-Jul-1996 02:44:25 -0700",
            "17-Foo-1996 02:44:25 -0700",
            "17-Jul-96 02:44:25 -0700",
            "17-Jul-1996 24:44:25 -0700",
            "17-Jul-1996 2:44:25 -0700",
            "17-Jul-1996 02:44:25 -07000",
            "17-Jul-1996 02:44:25 -0700\" {5}",
            "17-Jul-1996 02:44:25 -0700\r\nA1 LOGOUT",
            "17-Jul-1996  02:44:25 -0700",
            "\u{ff11}7-Jul-1996 02:44:25 -0700",
        ] {
            assert!(
                matches!(internal_date(bad), Err(ImapError::InvalidArgument { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn flags_are_checked_and_recent_dropped() {
        let flags: Vec<String> = ["\\Seen", "\\Recent", "$Label", "\\recent", "Junk[x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            checked_flags("APPEND", &flags).unwrap(),
            vec!["\\Seen", "$Label", "Junk[x"]
        );
        for bad in [
            "",
            "\\",
            "a b",
            "a)",
            "\\*",
            "x\"y",
            "\\\\Seen",
            "caf\u{e9}",
            "a]",
        ] {
            assert!(
                checked_flags("APPEND", &[bad.to_string()]).is_err(),
                "{bad:?}"
            );
        }
        assert!(check_set("1:4,7,9:*").is_ok());
        assert!(check_set("1 OR 2").is_err());
        assert!(check_set("").is_err());
        assert!(check_set("1::2").is_err());
        assert!(check_raw("x", "ALL").is_ok());
        assert!(check_raw("x", "ALL\r\nA9 DELETE INBOX").is_err());
        assert!(check_atoms("x", &["MESSAGES", "X-GUID"]).is_ok());
        assert!(check_atoms("x", &["MESSAGES)"]).is_err());
        assert!(check_atoms("x", &[]).is_err());
    }

    #[test]
    fn literals_sync_or_not() {
        let plus = LiteralMode {
            plus: true,
            minus: false,
        };
        let c = Builder::new("APPEND", "APPEND", plus)
            .literal(b"a\nb\x80")
            .unwrap()
            .finish();
        assert!(!c.waits());
        assert_eq!(
            c.segments[0].bytes.as_slice(),
            b"APPEND {4+}\r\na\nb\x80\r\n"
        );
        let c = Builder::new("APPEND", "APPEND", LiteralMode::default())
            .literal(b"hi")
            .unwrap()
            .finish();
        assert!(c.waits());
        assert_eq!(
            wire(&c),
            vec![
                ("APPEND {2}\r\n".to_owned(), true),
                ("hi\r\n".to_owned(), false)
            ]
        );
        assert!(matches!(
            Builder::new("APPEND", "APPEND", plus).literal(b"a\0b"),
            Err(ImapError::InvalidArgument { .. })
        ));
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
