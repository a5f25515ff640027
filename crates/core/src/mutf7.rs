//! Modified UTF-7, the encoding of IMAP mailbox names (RFC 3501 §5.1.3).
//!
//! Printable US-ASCII except `&` stands for itself; `&` is written `&-`;
//! every other run of characters is UTF-16BE in base64 (with `,` for `/`, no
//! padding) between `&` and `-`. Decoding is strict: anything the RFC forbids
//! is an error that says what and where, so a name is never silently
//! mangled.

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutf7Error {
    /// Byte offset in the encoded name where the problem was found.
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for Mutf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid modified UTF-7 at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for Mutf7Error {}

fn is_direct(c: char) -> bool {
    ('\x20'..='\x7e').contains(&c) && c != '&'
}

/// Encodes a mailbox name for the wire.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        for chunk in bytes.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let sextets = chunk.len() + 1; // 1 byte -> 2 chars, 2 -> 3, 3 -> 4
            for i in 0..sextets {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if is_direct(c) {
            flush(&mut pending, &mut out);
            out.push(c);
        } else if c == '&' {
            flush(&mut pending, &mut out);
            out.push_str("&-");
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

fn sextet(b: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == b).map(|p| p as u32)
}

/// Decodes a mailbox name from the wire.
pub fn decode(wire: &str) -> Result<String, Mutf7Error> {
    let bytes = wire.as_bytes();
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    let mut last_was_encoded = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'&' {
            if !(0x20..=0x7e).contains(&b) {
                return Err(Mutf7Error { offset: i, reason: "a byte outside printable US-ASCII" });
            }
            out.push(b as char);
            last_was_encoded = false;
            i += 1;
            continue;
        }
        let start = i;
        let end = bytes[i + 1..]
            .iter()
            .position(|&c| c == b'-')
            .map(|p| i + 1 + p)
            .ok_or(Mutf7Error { offset: start, reason: "'&' without a closing '-'" })?;
        let run = &bytes[i + 1..end];
        i = end + 1;
        if run.is_empty() {
            out.push('&');
            last_was_encoded = false;
            continue;
        }
        if last_was_encoded {
            return Err(Mutf7Error { offset: start, reason: "two encoded runs in a row (they must be one)" });
        }
        last_was_encoded = true;
        let mut units = Vec::with_capacity(run.len() * 6 / 16);
        let (mut acc, mut bits) = (0u32, 0u32);
        for (k, &c) in run.iter().enumerate() {
            let v = sextet(c).ok_or(Mutf7Error { offset: start + 1 + k, reason: "a character outside the base64 alphabet" })?;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 16 {
                bits -= 16;
                units.push(((acc >> bits) & 0xffff) as u16);
            }
        }
        if bits >= 6 || acc & ((1 << bits) - 1) != 0 {
            return Err(Mutf7Error { offset: end, reason: "an encoded run that does not end on a whole character" });
        }
        let decoded = char::decode_utf16(units.iter().copied())
            .collect::<Result<String, _>>()
            .map_err(|_| Mutf7Error { offset: start, reason: "an unpaired UTF-16 surrogate" })?;
        if decoded.chars().any(|c| is_direct(c) || c == '&') {
            return Err(Mutf7Error { offset: start, reason: "printable ASCII encoded in base64" });
        }
        out.push_str(&decoded);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        for (plain, wire) in [
            ("INBOX", "INBOX"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("日本語", "&ZeVnLIqe-"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            ("😀", "&2D3eAA-"),
            ("", ""),
        ] {
            assert_eq!(encode(plain), wire, "encode {plain}");
            assert_eq!(decode(wire).unwrap(), plain, "decode {wire}");
        }
    }

    #[test]
    fn invalid_input_is_reported_with_its_place() {
        assert_eq!(decode("a&ZeVn").unwrap_err().offset, 1);
        assert_eq!(decode("ab\u{e9}").unwrap_err().reason, "a byte outside printable US-ASCII");
        assert_eq!(decode("&AGE-").unwrap_err().reason, "printable ASCII encoded in base64");
        assert!(decode("&ZeVnLIqe-&ZeVnLIqe-").is_err());
        assert!(decode("&Ze!-").is_err());
        assert!(decode("&ZeV-").is_err());
        assert!(decode("&2D0-").is_err(), "lone high surrogate");
        assert!(decode("a\tb").is_err());
    }

    proptest! {
        #[test]
        fn round_trips(s in "\\PC*") {
            let wire = encode(&s);
            prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(&wire).unwrap(), s);
        }

        #[test]
        fn decode_never_panics(s in ".*") {
            let _ = decode(&s);
        }
    }
}
