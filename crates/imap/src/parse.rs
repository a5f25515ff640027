//! The response parser: bytes of one complete server response (its line, and
//! the literals framed by the reader) into a [`Response`].
//!
//! Pure and bounded: no I/O, no panics, no allocation sized by what the
//! server announces (a literal's size is checked against the bytes actually
//! present and against [`Limits`]), list nesting capped, tokens counted.

use crate::error::{clean_text, excerpt, ImapError};
use crate::types::{Limits, ListEntry, Namespace, Namespaces};

/// The most characters of server text kept in a response.
const MAX_TEXT_CHARS: usize = 1024;

/// One server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `TAG OK|NO|BAD [code] text`: the completion of a command.
    Tagged(Tagged),
    /// `* ...`: data or status not tied to a tag.
    Untagged(Untagged),
    /// `+ text`: the server waits for more of the command.
    Continuation { text: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub tag: String,
    pub status: Status,
    pub code: Option<Code>,
    pub text: String,
}

/// The outcome of a tagged response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// The condition of an untagged status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

/// An untagged response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Untagged {
    /// `* OK|NO|BAD|BYE|PREAUTH [code] text`.
    Condition {
        condition: Condition,
        code: Option<Code>,
        text: String,
    },
    Capability(Vec<String>),
    /// `* LIST` (`lsub == false`) or `* LSUB` (`lsub == true`).
    List {
        lsub: bool,
        entry: ListEntry,
    },
    Namespace(Namespaces),
    Flags(Vec<String>),
    Exists(u32),
    Recent(u32),
    Expunge(u32),
    Fetch(Fetch),
    /// `* SEARCH n n ...` (a trailing CONDSTORE `(MODSEQ n)` is dropped).
    Search(Vec<u32>),
    Enabled(Vec<String>),
    /// `* STATUS mailbox (NAME n ...)`: the items with a number (an item
    /// given as NIL, such as `APPENDLIMIT NIL`, is left out).
    Status {
        mailbox: String,
        items: Vec<(String, u64)>,
    },
    /// `* VANISHED [(EARLIER)] uid-set` (QRESYNC), the set kept as sent.
    Vanished {
        earlier: bool,
        uids: String,
    },
    /// Anything else, tolerated and kept raw.
    Other {
        number: Option<u32>,
        name: String,
        rest: Vec<u8>,
    },
}

/// A response code, the bracketed part of a status response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    Alert,
    ReadWrite,
    ReadOnly,
    TryCreate,
    NoModSeq,
    UidValidity(u32),
    UidNext(u32),
    Unseen(u32),
    HighestModSeq(u64),
    PermanentFlags(Vec<String>),
    Capability(Vec<String>),
    AppendUid {
        uidvalidity: u32,
        uid: u32,
    },
    /// APPENDUID with a UID set: the answer to a MULTIAPPEND (RFC 3502 with
    /// RFC 4315), one UID per appended message, in order.
    AppendUids {
        uidvalidity: u32,
        uids: String,
    },
    CopyUid {
        uidvalidity: u32,
        source: String,
        destination: String,
    },
    /// Any other code (e.g. `AUTHENTICATIONFAILED`, `NONEXISTENT`), with its
    /// arguments as cleaned text.
    Other {
        name: String,
        args: Option<String>,
    },
}

impl Code {
    /// The code's name, upper case, e.g. `"UIDVALIDITY"`.
    pub fn name(&self) -> &str {
        match self {
            Code::Alert => "ALERT",
            Code::ReadWrite => "READ-WRITE",
            Code::ReadOnly => "READ-ONLY",
            Code::TryCreate => "TRYCREATE",
            Code::NoModSeq => "NOMODSEQ",
            Code::UidValidity(_) => "UIDVALIDITY",
            Code::UidNext(_) => "UIDNEXT",
            Code::Unseen(_) => "UNSEEN",
            Code::HighestModSeq(_) => "HIGHESTMODSEQ",
            Code::PermanentFlags(_) => "PERMANENTFLAGS",
            Code::Capability(_) => "CAPABILITY",
            Code::AppendUid { .. } | Code::AppendUids { .. } => "APPENDUID",
            Code::CopyUid { .. } => "COPYUID",
            Code::Other { name, .. } => name,
        }
    }
}

/// A generic value of the IMAP grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Nil,
    Number(u64),
    /// An atom (flags, section names, …), as ASCII.
    Atom(String),
    /// A quoted string or a literal, as raw bytes.
    String(Vec<u8>),
    List(Vec<Token>),
}

impl Token {
    pub fn as_number(&self) -> Option<u64> {
        match self {
            Token::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Token::String(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Token]> {
        match self {
            Token::List(l) => Some(l),
            _ => None,
        }
    }
}

/// One `* n FETCH (...)` response: attribute names (upper case, with their
/// section, e.g. `BODY[]`) and their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub seq: u32,
    pub attributes: Vec<(String, Token)>,
}

impl Fetch {
    pub fn get(&self, name: &str) -> Option<&Token> {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub fn uid(&self) -> Option<u32> {
        self.get("UID")?
            .as_number()
            .and_then(|n| u32::try_from(n).ok())
    }

    pub fn rfc822_size(&self) -> Option<u64> {
        self.get("RFC822.SIZE")?.as_number()
    }

    pub fn modseq(&self) -> Option<u64> {
        self.get("MODSEQ")?.as_list()?.first()?.as_number()
    }

    pub fn flags(&self) -> Option<Vec<String>> {
        let list = self.get("FLAGS")?.as_list()?;
        Some(
            list.iter()
                .filter_map(|t| match t {
                    Token::Atom(a) => Some(a.clone()),
                    _ => None,
                })
                .collect(),
        )
    }

    /// INTERNALDATE exactly as the server sent it (e.g.
    /// `"17-Jul-1996 02:44:25 -0700"`); APPEND validates it before use.
    pub fn internaldate(&self) -> Option<&str> {
        let b = self.get("INTERNALDATE")?.as_bytes()?;
        std::str::from_utf8(b).ok()
    }

    /// The whole message of `BODY[]` (or `BODY.PEEK[]`, answered as `BODY[]`).
    pub fn body(&self) -> Option<&[u8]> {
        self.get("BODY[]")
            .or_else(|| self.get("RFC822"))?
            .as_bytes()
    }

    /// Whether the response carries a whole message (`BODY[]` or `RFC822`
    /// as a string).
    pub fn has_body(&self) -> bool {
        self.body().is_some()
    }

    /// The header lines of `BODY[HEADER.FIELDS (...)]` (or `.NOT`, or asked
    /// as `BODY.PEEK[...]`), the first such attribute, as sent.
    pub fn header_fields(&self) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|(n, _)| n.starts_with("BODY[HEADER.FIELDS"))?
            .1
            .as_bytes()
    }
}

/// Whether `s` is a sequence set: numbers and `*`, joined by `:` and `,`
/// (e.g. `1:4,7,9:*`).
pub fn is_sequence_set(s: &str) -> bool {
    !s.is_empty()
        && s.split(',').all(|range| {
            let mut parts = range.split(':');
            let ok = |p: Option<&str>| {
                p.is_some_and(|p| {
                    p == "*" || (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                })
            };
            let first = parts.next();
            match (parts.next(), parts.next()) {
                (None, _) => ok(first),
                (second @ Some(_), None) => ok(first) && ok(second),
                _ => false,
            }
        })
}

/// Whether a line (ending in LF) announces a literal, `{n}` or `{n+}` just
/// before its CRLF, and of what size. `None` if it does not; an error if the
/// size cannot be represented (which the reader reports as too large).
pub fn literal_announcement(line: &[u8]) -> Result<Option<u64>, ImapError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(inner) = line.strip_suffix(b"}") else {
        return Ok(None);
    };
    let Some(open) = inner.iter().rposition(|&b| b == b'{') else {
        return Ok(None);
    };
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or_else(|| ImapError::LimitExceeded {
                what: format!("a literal announced with a size of {} digits", digits.len()),
            })?;
    }
    Ok(Some(n))
}

/// Parses one complete response.
pub fn parse_response(input: &[u8], limits: &Limits) -> Result<Response, ImapError> {
    let mut p = Parser {
        input,
        pos: 0,
        limits,
        items: 0,
    };
    p.response()
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    limits: &'a Limits,
    items: usize,
}

type R<T> = Result<T, ImapError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn err(&self, what: &str) -> ImapError {
        let start = self.pos.saturating_sub(40);
        let near = self.input.get(start..).unwrap_or_default();
        ImapError::Protocol {
            detail: format!(
                "{what} (at byte {}, near \"{}\")",
                self.pos,
                excerpt(near, 100)
            ),
        }
    }

    fn expect(&mut self, b: u8, what: &str) -> R<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn sp(&mut self) -> R<()> {
        self.expect(b' ', "expected a space")
    }

    fn at_eol(&self) -> bool {
        matches!(self.peek(), None | Some(b'\r') | Some(b'\n'))
    }

    /// The end of the response: CRLF (a bare LF is tolerated) and nothing
    /// after it.
    fn end(&mut self) -> R<()> {
        if self.peek() == Some(b'\r') {
            self.pos += 1;
        }
        self.expect(b'\n', "expected the end of the line")?;
        if self.pos != self.input.len() {
            return Err(self.err("unexpected bytes after the end of the response"));
        }
        Ok(())
    }

    fn count(&mut self) -> R<()> {
        self.items += 1;
        if self.items > self.limits.max_items {
            return Err(ImapError::LimitExceeded {
                what: format!("a response with more than {} items", self.limits.max_items),
            });
        }
        Ok(())
    }

    /// A run of atom-like bytes (printable ASCII except `( ) { " [ ]` and
    /// space). With `close_bracket`, `]` is allowed (astring); with
    /// `section`, a `[...]` part is taken whole (`BODY[HEADER]<0>`).
    fn word(&mut self, close_bracket: bool, section: bool) -> R<&'a [u8]> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b'[' if section => {
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            Some(0x20..=0x7e) => self.pos += 1,
                            _ => return Err(self.err("unterminated section in an atom")),
                        }
                    }
                }
                b']' if close_bracket => self.pos += 1,
                b'(' | b')' | b'{' | b'"' | b'[' | b']' => break,
                0x21..=0x7e => self.pos += 1,
                _ => break,
            }
        }
        if self.pos == start {
            return Err(self.err("expected an atom"));
        }
        Ok(&self.input[start..self.pos])
    }

    fn upper_word(&mut self) -> R<String> {
        let w = self.word(false, false)?;
        Ok(ascii(w).to_ascii_uppercase())
    }

    fn number64(&mut self) -> R<u64> {
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or_else(|| self.err("number too large"))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err("expected a number"));
        }
        Ok(n)
    }

    fn number32(&mut self) -> R<u32> {
        let n = self.number64()?;
        u32::try_from(n).map_err(|_| self.err("number too large"))
    }

    fn quoted(&mut self) -> R<Vec<u8>> {
        self.expect(b'"', "expected a quoted string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(self.err("bad escape in a quoted string")),
                    }
                }
                Some(b'\r' | b'\n' | 0) => {
                    return Err(self.err("line break or NUL in a quoted string"))
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn literal(&mut self) -> R<Vec<u8>> {
        self.expect(b'{', "expected a literal")?;
        // Saturating: an absurd size is reported as too large, below.
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.saturating_mul(10).saturating_add(u64::from(d - b'0'));
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err("expected a literal's size"));
        }
        if self.peek() == Some(b'+') {
            self.pos += 1;
        }
        self.expect(b'}', "expected '}' after a literal's size")?;
        if n > self.limits.max_literal {
            return Err(ImapError::LimitExceeded {
                what: format!(
                    "a literal of {n} bytes (the limit is {})",
                    self.limits.max_literal
                ),
            });
        }
        if self.peek() == Some(b'\r') {
            self.pos += 1;
        }
        self.expect(b'\n', "expected a line break after a literal's size")?;
        let available = (self.input.len() - self.pos) as u64;
        if n > available {
            return Err(self.err("literal shorter than announced"));
        }
        let n = n as usize;
        let bytes = self.input[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(bytes)
    }

    fn string(&mut self) -> R<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            _ => Err(self.err("expected a string")),
        }
    }

    fn astring(&mut self) -> R<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => Ok(self.word(true, false)?.to_vec()),
        }
    }

    fn is_nil(&self) -> bool {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        rest.len() >= 3
            && rest[..3].eq_ignore_ascii_case(b"NIL")
            && matches!(rest.get(3), None | Some(b' ' | b')' | b'\r' | b'\n'))
    }

    fn token(&mut self, depth: usize) -> R<Token> {
        self.count()?;
        match self.peek() {
            Some(b'(') => Ok(Token::List(self.list(depth + 1)?)),
            Some(b'"' | b'{') => Ok(Token::String(self.string()?)),
            _ => {
                let w = self.word(false, true)?;
                if w.eq_ignore_ascii_case(b"NIL") {
                    return Ok(Token::Nil);
                }
                if w.len() <= 19 && w.iter().all(u8::is_ascii_digit) {
                    if let Ok(n) = ascii(w).parse::<u64>() {
                        return Ok(Token::Number(n));
                    }
                }
                Ok(Token::Atom(ascii(w)))
            }
        }
    }

    fn list(&mut self, depth: usize) -> R<Vec<Token>> {
        if depth > self.limits.max_depth {
            return Err(ImapError::LimitExceeded {
                what: format!("lists nested more than {} deep", self.limits.max_depth),
            });
        }
        self.expect(b'(', "expected '('")?;
        let mut out = Vec::new();
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(out);
        }
        loop {
            out.push(self.token(depth)?);
            match self.peek() {
                Some(b' ') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => return Err(self.err("expected ' ' or ')' in a list")),
            }
        }
    }

    /// `(flag flag ...)`; flags are atoms, possibly `\`-prefixed, or `\*`.
    fn flag_list(&mut self) -> R<Vec<String>> {
        self.expect(b'(', "expected '(' before flags")?;
        let mut out = Vec::new();
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(out);
        }
        loop {
            self.count()?;
            out.push(ascii(self.word(false, false)?));
            match self.peek() {
                Some(b' ') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => return Err(self.err("expected ' ' or ')' in a flag list")),
            }
        }
    }

    /// Space-separated atoms up to the end of the line or a `]`.
    fn atoms_to(&mut self, stop_at_bracket: bool) -> R<Vec<String>> {
        let mut out = Vec::new();
        loop {
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            if self.at_eol() || (stop_at_bracket && self.peek() == Some(b']')) {
                return Ok(out);
            }
            self.count()?;
            out.push(ascii(self.word(false, false)?));
        }
    }

    fn text(&mut self) -> String {
        let start = self.pos;
        while !self.at_eol() {
            self.pos += 1;
        }
        clean_text(&self.input[start..self.pos], MAX_TEXT_CHARS)
    }

    /// `[SP] ["[" code "]" [SP]] text` to the end of the line.
    fn resp_text(&mut self) -> R<(Option<Code>, String)> {
        if self.peek() == Some(b' ') {
            self.pos += 1;
        }
        let code = if self.peek() == Some(b'[') {
            let c = self.code()?;
            if self.peek() == Some(b' ') {
                self.pos += 1;
            }
            Some(c)
        } else {
            None
        };
        let text = self.text();
        self.end()?;
        Ok((code, text))
    }

    fn code(&mut self) -> R<Code> {
        self.expect(b'[', "expected '['")?;
        let name = self.upper_word()?;
        let code = match name.as_str() {
            "ALERT" => Code::Alert,
            "READ-WRITE" => Code::ReadWrite,
            "READ-ONLY" => Code::ReadOnly,
            "TRYCREATE" => Code::TryCreate,
            "NOMODSEQ" => Code::NoModSeq,
            "UIDVALIDITY" => {
                self.sp()?;
                Code::UidValidity(self.number32()?)
            }
            "UIDNEXT" => {
                self.sp()?;
                Code::UidNext(self.number32()?)
            }
            "UNSEEN" => {
                self.sp()?;
                Code::Unseen(self.number32()?)
            }
            "HIGHESTMODSEQ" => {
                self.sp()?;
                Code::HighestModSeq(self.number64()?)
            }
            "PERMANENTFLAGS" => {
                self.sp()?;
                Code::PermanentFlags(self.flag_list()?)
            }
            "CAPABILITY" => Code::Capability(self.atoms_to(true)?),
            "APPENDUID" => {
                self.sp()?;
                let uidvalidity = self.number32()?;
                self.sp()?;
                let set = ascii(self.word(false, false)?);
                match set.parse::<u32>() {
                    Ok(uid) if uid > 0 => Code::AppendUid { uidvalidity, uid },
                    _ if is_sequence_set(&set) && !set.contains('*') => Code::AppendUids { uidvalidity, uids: set },
                    _ => return Err(self.err("APPENDUID with a bad UID set")),
                }
            }
            "COPYUID" => {
                self.sp()?;
                let uidvalidity = self.number32()?;
                self.sp()?;
                let source = ascii(self.word(false, false)?);
                self.sp()?;
                let destination = ascii(self.word(false, false)?);
                Code::CopyUid {
                    uidvalidity,
                    source,
                    destination,
                }
            }
            _ => {
                let args = if self.peek() == Some(b' ') {
                    self.pos += 1;
                    let start = self.pos;
                    while !self.at_eol() && self.peek() != Some(b']') {
                        self.pos += 1;
                    }
                    Some(clean_text(&self.input[start..self.pos], MAX_TEXT_CHARS))
                } else {
                    None
                };
                Code::Other { name, args }
            }
        };
        self.expect(b']', "expected ']' to close a response code")?;
        Ok(code)
    }

    fn response(&mut self) -> R<Response> {
        match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                self.sp()?;
                Ok(Response::Untagged(self.untagged()?))
            }
            Some(b'+') => {
                self.pos += 1;
                if self.peek() == Some(b' ') {
                    self.pos += 1;
                }
                let text = self.text();
                self.end()?;
                Ok(Response::Continuation { text })
            }
            None => Err(self.err("empty response")),
            _ => {
                let tag = self.word(false, false)?;
                if tag.contains(&b'+') || tag.contains(&b'*') {
                    return Err(self.err("malformed tag"));
                }
                let tag = ascii(tag);
                self.sp()?;
                let status = match self.upper_word()?.as_str() {
                    "OK" => Status::Ok,
                    "NO" => Status::No,
                    "BAD" => Status::Bad,
                    _ => return Err(self.err("a tagged response must be OK, NO or BAD")),
                };
                let (code, text) = self.resp_text()?;
                Ok(Response::Tagged(Tagged {
                    tag,
                    status,
                    code,
                    text,
                }))
            }
        }
    }

    fn untagged(&mut self) -> R<Untagged> {
        if matches!(self.peek(), Some(b'0'..=b'9')) {
            let n = self.number32()?;
            self.sp()?;
            let name = self.upper_word()?;
            let u = match name.as_str() {
                "EXISTS" => Untagged::Exists(n),
                "RECENT" => Untagged::Recent(n),
                "EXPUNGE" => Untagged::Expunge(n),
                "FETCH" => {
                    self.sp()?;
                    Untagged::Fetch(self.fetch(n)?)
                }
                _ => return self.other(Some(n), name),
            };
            self.end()?;
            return Ok(u);
        }
        let name = self.upper_word()?;
        let condition = match name.as_str() {
            "OK" => Some(Condition::Ok),
            "NO" => Some(Condition::No),
            "BAD" => Some(Condition::Bad),
            "BYE" => Some(Condition::Bye),
            "PREAUTH" => Some(Condition::Preauth),
            _ => None,
        };
        if let Some(condition) = condition {
            let (code, text) = self.resp_text()?;
            return Ok(Untagged::Condition {
                condition,
                code,
                text,
            });
        }
        let u = match name.as_str() {
            "CAPABILITY" => Untagged::Capability(self.atoms_to(false)?),
            "ENABLED" => Untagged::Enabled(self.atoms_to(false)?),
            "LIST" | "LSUB" => {
                self.sp()?;
                Untagged::List {
                    lsub: name == "LSUB",
                    entry: self.mailbox_list()?,
                }
            }
            "FLAGS" => {
                self.sp()?;
                Untagged::Flags(self.flag_list()?)
            }
            "NAMESPACE" => {
                self.sp()?;
                let personal = self.namespace_part()?;
                self.sp()?;
                let other = self.namespace_part()?;
                self.sp()?;
                let shared = self.namespace_part()?;
                Untagged::Namespace(Namespaces {
                    personal,
                    other,
                    shared,
                })
            }
            "SEARCH" => {
                // Not counted against max_items: the line length bounds it
                // (the session reads SEARCH answers with a longer line).
                let mut out = Vec::new();
                while self.peek() == Some(b' ') {
                    self.pos += 1;
                    if self.at_eol() {
                        break;
                    }
                    if self.peek() == Some(b'(') {
                        self.token(0)?;
                        continue;
                    }
                    out.push(self.number32()?);
                }
                Untagged::Search(out)
            }
            "STATUS" => {
                self.sp()?;
                let raw = self.astring()?;
                let mailbox = String::from_utf8_lossy(&raw).into_owned();
                self.sp()?;
                let mut items = Vec::new();
                let list = self.list(1)?;
                let mut it = list.into_iter();
                while let Some(name) = it.next() {
                    let Token::Atom(name) = name else {
                        return Err(self.err("expected a STATUS item name"));
                    };
                    match it.next() {
                        Some(Token::Number(n)) => items.push((name.to_ascii_uppercase(), n)),
                        Some(Token::Nil) => {}
                        _ => return Err(self.err("expected a number after a STATUS item")),
                    }
                }
                // Some servers put a space before the end of the line.
                while self.peek() == Some(b' ') {
                    self.pos += 1;
                }
                Untagged::Status { mailbox, items }
            }
            "VANISHED" => {
                self.sp()?;
                let mut earlier = false;
                if self.peek() == Some(b'(') {
                    let tag = self.list(1)?;
                    earlier = tag
                        .iter()
                        .any(|t| matches!(t, Token::Atom(a) if a.eq_ignore_ascii_case("EARLIER")));
                    self.sp()?;
                }
                let uids = ascii(self.word(false, false)?);
                if !is_sequence_set(&uids) {
                    return Err(self.err("expected a UID set after VANISHED"));
                }
                Untagged::Vanished { earlier, uids }
            }
            _ => return self.other(None, name),
        };
        self.end()?;
        Ok(u)
    }

    fn other(&mut self, number: Option<u32>, name: String) -> R<Untagged> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
        let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
        let rest = rest.strip_prefix(b" ").unwrap_or(rest).to_vec();
        self.pos = self.input.len();
        Ok(Untagged::Other { number, name, rest })
    }

    fn delimiter(&mut self) -> R<Option<char>> {
        if self.is_nil() {
            self.pos += 3;
            return Ok(None);
        }
        let d = self.quoted()?;
        match d.as_slice() {
            [c] if c.is_ascii() && *c != 0 => Ok(Some(*c as char)),
            _ => Err(self.err("a hierarchy delimiter must be one ASCII character")),
        }
    }

    fn mailbox_list(&mut self) -> R<ListEntry> {
        let attributes = self.flag_list()?;
        self.sp()?;
        let delimiter = self.delimiter()?;
        self.sp()?;
        let raw = self.astring()?;
        let name =
            String::from_utf8(raw).map_err(|_| self.err("mailbox name is not valid UTF-8"))?;
        if name.contains(['\r', '\n', '\0']) {
            return Err(self.err("mailbox name contains a line break or NUL"));
        }
        // LIST-EXTENDED data (e.g. CHILDINFO) is read and set aside.
        while self.peek() == Some(b' ') {
            self.pos += 1;
            self.token(0)?;
        }
        Ok(ListEntry {
            name,
            delimiter,
            attributes,
        })
    }

    fn namespace_part(&mut self) -> R<Vec<Namespace>> {
        if self.is_nil() {
            self.pos += 3;
            return Ok(Vec::new());
        }
        self.expect(b'(', "expected '(' or NIL for a namespace")?;
        let mut out = Vec::new();
        loop {
            self.count()?;
            self.expect(b'(', "expected '(' for a namespace")?;
            let prefix = self.string()?;
            let prefix = String::from_utf8(prefix)
                .map_err(|_| self.err("namespace prefix is not valid UTF-8"))?;
            self.sp()?;
            let delimiter = self.delimiter()?;
            // Namespace extensions are read and set aside.
            while self.peek() == Some(b' ') {
                self.pos += 1;
                self.token(1)?;
            }
            self.expect(b')', "expected ')' after a namespace")?;
            out.push(Namespace { prefix, delimiter });
            if self.peek() == Some(b')') {
                self.pos += 1;
                return Ok(out);
            }
        }
    }

    fn fetch(&mut self, seq: u32) -> R<Fetch> {
        self.expect(b'(', "expected '(' after FETCH")?;
        let mut attributes = Vec::new();
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(Fetch { seq, attributes });
        }
        loop {
            self.count()?;
            let name = ascii(self.word(false, true)?).to_ascii_uppercase();
            self.sp()?;
            let value = self.token(1)?;
            attributes.push((name, value));
            match self.peek() {
                Some(b' ') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(Fetch { seq, attributes });
                }
                _ => return Err(self.err("expected ' ' or ')' in FETCH data")),
            }
        }
    }
}

/// Bytes known to be printable ASCII (from `word`) as a String.
fn ascii(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Response, ImapError> {
        parse_response(s, &Limits::default())
    }

    fn untagged(s: &[u8]) -> Untagged {
        match parse(s).unwrap() {
            Response::Untagged(u) => u,
            other => panic!("not untagged: {other:?}"),
        }
    }

    fn is_protocol(r: Result<Response, ImapError>) -> bool {
        matches!(r, Err(ImapError::Protocol { .. }))
    }

    fn is_limit(r: Result<Response, ImapError>) -> bool {
        matches!(r, Err(ImapError::LimitExceeded { .. }))
    }

    #[test]
    fn tagged_ok_with_code() {
        let r = parse(b"A1 OK [READ-WRITE] SELECT completed\r\n").unwrap();
        assert_eq!(
            r,
            Response::Tagged(Tagged {
                tag: "A1".into(),
                status: Status::Ok,
                code: Some(Code::ReadWrite),
                text: "SELECT completed".into()
            })
        );
    }

    #[test]
    fn tagged_no_with_generic_code_and_bad() {
        let Response::Tagged(t) =
            parse(b"a2 no [AUTHENTICATIONFAILED] Authentication failed.\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(t.status, Status::No);
        assert_eq!(
            t.code.as_ref().map(Code::name),
            Some("AUTHENTICATIONFAILED")
        );
        assert_eq!(t.text, "Authentication failed.");
        let Response::Tagged(t) = parse(b"A3 BAD Error in IMAP command\r\n").unwrap() else {
            panic!()
        };
        assert_eq!(t.status, Status::Bad);
        assert_eq!(t.code, None);
        // No text at all is tolerated.
        let Response::Tagged(t) = parse(b"A4 OK\r\n").unwrap() else {
            panic!()
        };
        assert_eq!(t.text, "");
    }

    #[test]
    fn tagged_must_be_a_status() {
        assert!(is_protocol(parse(b"A1 FETCH done\r\n")));
        assert!(is_protocol(parse(b"A+1 OK x\r\n")));
    }

    #[test]
    fn greeting_with_capabilities() {
        let u = untagged(
            b"* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.\r\n",
        );
        assert_eq!(
            u,
            Untagged::Condition {
                condition: Condition::Ok,
                code: Some(Code::Capability(vec![
                    "IMAP4rev1".into(),
                    "SASL-IR".into(),
                    "LITERAL+".into(),
                    "STARTTLS".into(),
                    "AUTH=PLAIN".into()
                ])),
                text: "Dovecot ready.".into()
            }
        );
    }

    #[test]
    fn untagged_conditions() {
        for (line, cond) in [
            (&b"* BYE Server shutting down\r\n"[..], Condition::Bye),
            (b"* PREAUTH welcome\r\n", Condition::Preauth),
            (b"* NO [ALERT] disk full\r\n", Condition::No),
            (b"* BAD what\r\n", Condition::Bad),
        ] {
            let Untagged::Condition { condition, .. } = untagged(line) else {
                panic!()
            };
            assert_eq!(condition, cond);
        }
    }

    #[test]
    fn select_codes() {
        let cases: Vec<(&[u8], Code)> = vec![
            (
                b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
                Code::UidValidity(3857529045),
            ),
            (
                b"* OK [UIDNEXT 4392] Predicted next UID\r\n",
                Code::UidNext(4392),
            ),
            (b"* OK [UNSEEN 12] first unseen\r\n", Code::Unseen(12)),
            (
                b"* OK [HIGHESTMODSEQ 715194045007] Highest\r\n",
                Code::HighestModSeq(715194045007),
            ),
            (b"* OK [NOMODSEQ] no modseqs\r\n", Code::NoModSeq),
            (
                b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
                Code::PermanentFlags(vec!["\\Deleted".into(), "\\Seen".into(), "\\*".into()]),
            ),
            (b"A5 OK [READ-ONLY] done\r\n", Code::ReadOnly),
            (
                b"A6 OK [APPENDUID 38505 3955] APPEND completed\r\n",
                Code::AppendUid {
                    uidvalidity: 38505,
                    uid: 3955,
                },
            ),
            (
                b"A7 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
                Code::CopyUid {
                    uidvalidity: 38505,
                    source: "304,319:320".into(),
                    destination: "3956:3958".into(),
                },
            ),
            (
                b"A8 NO [BADCHARSET (UTF-8 US-ASCII)] nope\r\n",
                Code::Other {
                    name: "BADCHARSET".into(),
                    args: Some("(UTF-8 US-ASCII)".into()),
                },
            ),
        ];
        for (line, want) in cases {
            let code = match parse(line).unwrap() {
                Response::Tagged(t) => t.code,
                Response::Untagged(Untagged::Condition { code, .. }) => code,
                other => panic!("{other:?}"),
            };
            assert_eq!(code, Some(want), "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn bad_known_code_arguments_are_errors() {
        assert!(is_protocol(parse(b"* OK [UIDVALIDITY abc] x\r\n")));
        assert!(is_protocol(parse(b"* OK [UIDVALIDITY 99999999999] x\r\n")));
        assert!(is_protocol(parse(b"* OK [UIDNEXT 5 x\r\n")));
    }

    #[test]
    fn capability_response() {
        assert_eq!(
            untagged(b"* CAPABILITY IMAP4rev1 ID ENABLE AUTH=PLAIN\r\n"),
            Untagged::Capability(vec![
                "IMAP4rev1".into(),
                "ID".into(),
                "ENABLE".into(),
                "AUTH=PLAIN".into()
            ])
        );
    }

    #[test]
    fn list_and_lsub() {
        assert_eq!(
            untagged(b"* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n"),
            Untagged::List {
                lsub: false,
                entry: ListEntry {
                    name: "Sent Items".into(),
                    delimiter: Some('/'),
                    attributes: vec!["\\HasNoChildren".into(), "\\Sent".into()],
                }
            }
        );
        assert_eq!(
            untagged(b"* LSUB () \".\" INBOX\r\n"),
            Untagged::List {
                lsub: true,
                entry: ListEntry {
                    name: "INBOX".into(),
                    delimiter: Some('.'),
                    attributes: vec![]
                }
            }
        );
        // Escaped delimiter, NIL delimiter, literal name, extended data.
        let Untagged::List { entry, .. } = untagged(b"* LIST () \"\\\\\" {7}\r\nA\"b\\c d\r\n")
        else {
            panic!()
        };
        assert_eq!(entry.delimiter, Some('\\'));
        assert_eq!(entry.name, "A\"b\\c d");
        let Untagged::List { entry, .. } = untagged(b"* LIST (\\Noselect) NIL \"\"\r\n") else {
            panic!()
        };
        assert_eq!(entry.delimiter, None);
        let Untagged::List { entry, .. } =
            untagged(b"* LIST (\\Subscribed) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n")
        else {
            panic!()
        };
        assert_eq!(entry.name, "Foo");
        assert!(entry.has_attribute("\\subscribed"));
        // Names that are not UTF-8 are refused.
        assert!(is_protocol(parse(b"* LIST () \"/\" {2}\r\n\xff\xfe\r\n")));
    }

    #[test]
    fn namespace_response() {
        assert_eq!(
            untagged(b"* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\" \"X-PARAM\" (\"a\")))\r\n"),
            Untagged::Namespace(Namespaces {
                personal: vec![Namespace { prefix: "".into(), delimiter: Some('/') }],
                other: vec![Namespace { prefix: "~".into(), delimiter: Some('/') }],
                shared: vec![
                    Namespace { prefix: "#shared/".into(), delimiter: Some('/') },
                    Namespace { prefix: "#public/".into(), delimiter: Some('/') }
                ],
            })
        );
        assert_eq!(
            untagged(b"* NAMESPACE ((\"INBOX.\" \".\")) NIL nil\r\n"),
            Untagged::Namespace(Namespaces {
                personal: vec![Namespace {
                    prefix: "INBOX.".into(),
                    delimiter: Some('.')
                }],
                other: vec![],
                shared: vec![],
            })
        );
    }

    #[test]
    fn numbered_responses() {
        assert_eq!(untagged(b"* 172 EXISTS\r\n"), Untagged::Exists(172));
        assert_eq!(untagged(b"* 1 RECENT\r\n"), Untagged::Recent(1));
        assert_eq!(untagged(b"* 44 EXPUNGE\r\n"), Untagged::Expunge(44));
        assert_eq!(
            untagged(b"* FLAGS (\\Answered \\Flagged $Forwarded)\r\n"),
            Untagged::Flags(vec![
                "\\Answered".into(),
                "\\Flagged".into(),
                "$Forwarded".into()
            ])
        );
        assert_eq!(
            untagged(b"* SEARCH 2 84 882\r\n"),
            Untagged::Search(vec![2, 84, 882])
        );
        assert_eq!(untagged(b"* SEARCH\r\n"), Untagged::Search(vec![]));
        assert!(is_protocol(parse(b"* 99999999999 EXISTS\r\n")));
    }

    #[test]
    fn fetch_response() {
        let u = untagged(
            b"* 12 FETCH (UID 4827 FLAGS (\\Seen $Label1) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 44827 MODSEQ (12121231000) BODY[] {11}\r\nHello\r\n\xffBin)\r\n",
        );
        let Untagged::Fetch(f) = u else { panic!() };
        assert_eq!(f.seq, 12);
        assert_eq!(f.uid(), Some(4827));
        assert_eq!(
            f.flags(),
            Some(vec!["\\Seen".to_string(), "$Label1".to_string()])
        );
        assert_eq!(f.internaldate(), Some("17-Jul-1996 02:44:25 -0700"));
        assert_eq!(f.rfc822_size(), Some(44827));
        assert_eq!(f.modseq(), Some(12121231000));
        assert_eq!(f.body(), Some(&b"Hello\r\n\xffBin"[..]));
        let Untagged::Fetch(f) =
            untagged(b"* 1 FETCH (BODY[HEADER.FIELDS (FROM SUBJECT)]<0> {2}\r\nab BODY[] NIL)\r\n")
        else {
            panic!()
        };
        assert_eq!(
            f.get("BODY[HEADER.FIELDS (FROM SUBJECT)]<0>"),
            Some(&Token::String(b"ab".to_vec()))
        );
        assert_eq!(f.get("BODY[]"), Some(&Token::Nil));
        let Untagged::Fetch(f) = untagged(b"* 3 FETCH ()\r\n") else {
            panic!()
        };
        assert!(f.attributes.is_empty());
    }

    #[test]
    fn status_vanished_search_and_header_fields() {
        assert_eq!(
            untagged(b"* STATUS \"Sent Items\" (MESSAGES 231 UIDNEXT 44292 UIDVALIDITY 1 HIGHESTMODSEQ 99999999999 APPENDLIMIT NIL X-FOO 3)\r\n"),
            Untagged::Status {
                mailbox: "Sent Items".into(),
                items: vec![
                    ("MESSAGES".into(), 231),
                    ("UIDNEXT".into(), 44292),
                    ("UIDVALIDITY".into(), 1),
                    ("HIGHESTMODSEQ".into(), 99_999_999_999),
                    ("X-FOO".into(), 3),
                ]
            }
        );
        assert_eq!(
            untagged(b"* STATUS {5}\r\nIN\"BX (messages 2) \r\n"),
            Untagged::Status {
                mailbox: "IN\"BX".into(),
                items: vec![("MESSAGES".into(), 2)]
            }
        );
        assert!(is_protocol(parse(b"* STATUS INBOX (MESSAGES)\r\n")));
        assert!(is_protocol(parse(b"* STATUS INBOX (MESSAGES x)\r\n")));
        assert!(is_protocol(parse(b"* STATUS INBOX\r\n")));
        assert_eq!(
            untagged(b"* VANISHED (EARLIER) 300:310,405\r\n"),
            Untagged::Vanished {
                earlier: true,
                uids: "300:310,405".into()
            }
        );
        assert_eq!(
            untagged(b"* VANISHED 7\r\n"),
            Untagged::Vanished {
                earlier: false,
                uids: "7".into()
            }
        );
        assert!(is_protocol(parse(b"* VANISHED x\r\n")));
        assert_eq!(
            untagged(b"* SEARCH 2 5 (MODSEQ 917162500)\r\n"),
            Untagged::Search(vec![2, 5])
        );
        // SEARCH is bounded by its line, not by max_items.
        let limits = Limits {
            max_items: 10,
            ..Limits::default()
        };
        let mut line = b"* SEARCH".to_vec();
        for i in 1..=50 {
            line.extend(format!(" {i}").as_bytes());
        }
        line.extend(b"\r\n");
        let Ok(Response::Untagged(Untagged::Search(uids))) = parse_response(&line, &limits) else {
            panic!()
        };
        assert_eq!(uids.len(), 50);
        let Untagged::Fetch(f) = untagged(
            b"* 1 FETCH (UID 9 BODY[HEADER.FIELDS (SUBJECT DATE)] {15}\r\nSubject: hi\r\n\r\n)\r\n",
        ) else {
            panic!()
        };
        assert_eq!(f.header_fields(), Some(&b"Subject: hi\r\n\r\n"[..]));
        assert!(!f.has_body());
        assert!(is_sequence_set("1:*,4,5:6"));
        assert!(is_sequence_set("*"));
        for bad in ["", ",", "1,", ":1", "1:2:3", "a", "1 2", "-1"] {
            assert!(!is_sequence_set(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_untagged_is_tolerated() {
        assert_eq!(
            untagged(b"* XAPPLEPUSH some (weird [text] {x}\r\n"),
            Untagged::Other {
                number: None,
                name: "XAPPLEPUSH".into(),
                rest: b"some (weird [text] {x}".to_vec()
            }
        );
        assert_eq!(
            untagged(b"* 5 XSTUFF\r\n"),
            Untagged::Other {
                number: Some(5),
                name: "XSTUFF".into(),
                rest: vec![]
            }
        );
        assert!(matches!(
            untagged(b"* ENABLED CONDSTORE\r\n"),
            Untagged::Enabled(_)
        ));
    }

    #[test]
    fn continuation() {
        assert_eq!(
            parse(b"+ Ready for literal data\r\n").unwrap(),
            Response::Continuation {
                text: "Ready for literal data".into()
            }
        );
        assert_eq!(
            parse(b"+\r\n").unwrap(),
            Response::Continuation { text: "".into() }
        );
        assert_eq!(
            parse(b"+ \r\n").unwrap(),
            Response::Continuation { text: "".into() }
        );
    }

    #[test]
    fn quoted_escapes_and_8bit() {
        let Untagged::List { entry, .. } =
            untagged(b"* LIST () \"/\" \"a\\\"b\\\\c \xc3\xa9\"\r\n")
        else {
            panic!()
        };
        assert_eq!(entry.name, "a\"b\\c \u{e9}");
        assert!(is_protocol(parse(b"* LIST () \"/\" \"a\\x\"\r\n")));
        assert!(is_protocol(parse(b"* LIST () \"/\" \"abc\r\n")));
    }

    #[test]
    fn hostile_unbalanced_parens() {
        assert!(is_protocol(parse(b"* 1 FETCH (UID 1 FLAGS (\\Seen)\r\n")));
        assert!(is_protocol(parse(b"* 1 FETCH UID 1)\r\n")));
        assert!(is_protocol(parse(b"* FLAGS ((\r\n")));
    }

    #[test]
    fn hostile_deep_nesting() {
        let mut line = b"* 1 FETCH (X ".to_vec();
        line.extend(std::iter::repeat_n(b'(', 10_000));
        line.extend(std::iter::repeat_n(b')', 10_000));
        line.extend(b")\r\n");
        assert!(is_limit(parse(&line)));
        let mut line = b"* 1 FETCH (X ".to_vec();
        line.extend(std::iter::repeat_n(b'(', 10_000));
        line.extend(b"\r\n");
        assert!(is_limit(parse(&line)));
    }

    #[test]
    fn hostile_literals() {
        assert!(is_limit(parse(
            b"* 1 FETCH (BODY[] {99999999999999}\r\nabc)\r\n"
        )));
        assert!(is_limit(parse(
            b"* 1 FETCH (BODY[] {999999999999999999999999999999}\r\nabc)\r\n"
        )));
        assert!(is_protocol(parse(b"* 1 FETCH (BODY[] {12a}\r\nabc)\r\n")));
        assert!(is_protocol(parse(b"* 1 FETCH (BODY[] {}\r\nabc)\r\n")));
        // Announced more than present.
        assert!(is_protocol(parse(b"* 1 FETCH (BODY[] {100}\r\nabc)\r\n")));
        assert_eq!(
            literal_announcement(b"* 1 FETCH (BODY[] {12}\r\n").unwrap(),
            Some(12)
        );
        assert_eq!(
            literal_announcement(b"A1 APPEND x {12+}\r\n").unwrap(),
            Some(12)
        );
        assert_eq!(literal_announcement(b"* OK {abc}\r\n").unwrap(), None);
        assert_eq!(literal_announcement(b"* OK {}\r\n").unwrap(), None);
        assert_eq!(literal_announcement(b"* OK done\r\n").unwrap(), None);
        assert!(literal_announcement(b"* X {999999999999999999999999}\r\n").is_err());
    }

    #[test]
    fn hostile_too_many_items() {
        let limits = Limits {
            max_items: 10,
            ..Limits::default()
        };
        let mut line = b"* FLAGS (".to_vec();
        for _ in 0..20 {
            line.extend(b"\\A ");
        }
        line.extend(b"\\B)\r\n");
        assert!(matches!(
            parse_response(&line, &limits),
            Err(ImapError::LimitExceeded { .. })
        ));
    }

    #[test]
    fn hostile_nul_and_truncation() {
        // NUL in text is escaped, in an atom it is an error.
        let Untagged::Condition { text, .. } = untagged(b"* OK hel\0lo\r\n") else {
            panic!()
        };
        assert_eq!(text, "hel\\x00lo");
        assert!(is_protocol(parse(b"* CAPABILITY IMAP4rev1 \0X\r\n")));
        assert!(is_protocol(parse(b"A1\0 OK x\r\n")));
        // Truncated inputs.
        for cut in [
            &b""[..],
            b"*",
            b"* ",
            b"* 1",
            b"* 1 FETCH (UID",
            b"A1 OK",
            b"* LIST (",
            b"* OK [UIDNEXT 4",
        ] {
            assert!(parse(cut).is_err(), "{:?}", String::from_utf8_lossy(cut));
        }
        // Garbage.
        assert!(parse(b"HTTP/1.1 400 Bad Request\r\n").is_err());
        assert!(parse(b"* \xff\xfe\r\n").is_err());
        assert!(parse(b"A1 OK x\r\nA2 OK y\r\n").is_err());
    }

    #[test]
    fn errors_carry_a_short_escaped_excerpt() {
        let mut line = b"* 1 FETCH (".to_vec();
        line.extend(std::iter::repeat_n(b'\x01', 1000));
        line.extend(b")\r\n");
        let Err(ImapError::Protocol { detail }) = parse(&line) else {
            panic!()
        };
        assert!(detail.contains("\\x01"));
        assert!(detail.len() < 600, "{detail}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_response(&bytes, &Limits::default());
            let _ = literal_announcement(&bytes);
        }

        #[test]
        fn imap_like_bytes_never_panic(parts in proptest::collection::vec(
            proptest::sample::select(vec![
                &b"* "[..], b"A1 ", b"+ ", b"OK ", b"FETCH ", b"LIST ", b"(", b")", b"[", b"]",
                b"{3}\r\n", b"{0}\r\n", b"\"", b"\\", b"NIL", b"12", b" ", b"\r\n", b"UID",
                b"NAMESPACE ", b"CAPABILITY ", b"\0", b"\xff",
            ]), 0..40)) {
            let bytes: Vec<u8> = parts.concat();
            let _ = parse_response(&bytes, &Limits::default());
        }
    }
}
