//! Values the session hands back: capabilities, namespaces, mailbox lists,
//! the state of a selected mailbox, STATUS numbers, APPEND results, what
//! the server reported on its own, and the limits put on the server.

/// Bounds on what one server response may make this side hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest line, in bytes; for a response carrying literals, the
    /// line bytes around them are counted together.
    pub max_line: usize,
    /// The most literal bytes in one response (so the largest message that
    /// can be fetched whole).
    pub max_literal: u64,
    /// The most tokens in one response, and the most untagged responses
    /// gathered for one command.
    pub max_items: usize,
    /// The deepest nesting of parenthesized lists.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 64 * 1024,
            max_literal: 64 * 1024 * 1024,
            max_items: 100_000,
            max_depth: 64,
        }
    }
}

/// The server's capabilities, compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    list: Vec<String>,
}

impl Capabilities {
    pub fn new(list: Vec<String>) -> Self {
        Capabilities { list }
    }

    /// Whether `name` (e.g. "IMAP4rev1", "LITERAL+") is advertised.
    pub fn has(&self, name: &str) -> bool {
        self.list.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// Whether the SASL mechanism (e.g. "PLAIN") is advertised as `AUTH=…`.
    pub fn has_auth(&self, mechanism: &str) -> bool {
        self.list.iter().any(|c| {
            c.len() == 5 + mechanism.len()
                && c[..5].eq_ignore_ascii_case("AUTH=")
                && c[5..].eq_ignore_ascii_case(mechanism)
        })
    }

    /// The capabilities as the server sent them.
    pub fn list(&self) -> &[String] {
        &self.list
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The server-wide `APPENDLIMIT=n` (RFC 7889), if advertised with a
    /// value. A bare `APPENDLIMIT` means per-mailbox limits (see STATUS).
    pub fn append_limit(&self) -> Option<u64> {
        self.list.iter().find_map(|c| {
            let (name, value) = c.split_once('=')?;
            if name.eq_ignore_ascii_case("APPENDLIMIT") {
                value.parse().ok()
            } else {
                None
            }
        })
    }
}

/// One namespace: its prefix and hierarchy delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub prefix: String,
    pub delimiter: Option<char>,
}

/// The NAMESPACE answer (RFC 2342).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub personal: Vec<Namespace>,
    pub other: Vec<Namespace>,
    pub shared: Vec<Namespace>,
}

/// One mailbox of a LIST answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The name as the server sent it (modified UTF-7 on most servers).
    pub name: String,
    pub delimiter: Option<char>,
    /// Attributes such as `\HasNoChildren`, `\Sent`, `\Subscribed`.
    pub attributes: Vec<String>,
}

impl ListEntry {
    /// Whether the entry carries the attribute, compared case-insensitively.
    pub fn has_attribute(&self, attribute: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
    }
}

/// What SELECT or EXAMINE reported about a mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxInfo {
    pub exists: u32,
    pub recent: u32,
    pub uidvalidity: Option<u32>,
    pub uidnext: Option<u32>,
    pub highestmodseq: Option<u64>,
    pub flags: Vec<String>,
    pub permanentflags: Option<Vec<String>>,
    pub read_write: bool,
}

/// The numbers of a STATUS answer; an item not asked for, or not given by
/// the server, is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailboxStatus {
    pub messages: Option<u32>,
    pub uidnext: Option<u32>,
    pub uidvalidity: Option<u32>,
    pub unseen: Option<u32>,
    pub highestmodseq: Option<u64>,
    /// RFC 8438 SIZE: the total size of the mailbox in octets.
    pub size: Option<u64>,
    /// RFC 7889 APPENDLIMIT of this mailbox.
    pub appendlimit: Option<u64>,
}

/// The UIDPLUS answer to APPEND: where the message landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppendUid {
    pub uidvalidity: u32,
    pub uid: u32,
}

/// One message to APPEND.
#[derive(Debug, Clone, Copy)]
pub struct AppendRequest<'a> {
    /// Flags as the source gave them; `\Recent` is dropped.
    pub flags: &'a [String],
    /// INTERNALDATE as the source sent it (`"dd-Mon-yyyy hh:mm:ss +zzzz"`),
    /// validated before it is sent.
    pub internal_date: Option<&'a str>,
    /// The whole message, bytes as they are.
    pub message: &'a [u8],
}

/// How UID STORE changes the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsMode {
    /// `FLAGS.SILENT`: the flags become exactly these.
    Replace,
    /// `+FLAGS.SILENT`.
    Add,
    /// `-FLAGS.SILENT`.
    Remove,
}

/// What the server reported on its own about the selected mailbox (EXISTS,
/// EXPUNGE, VANISHED, FLAGS, unsolicited FETCH), gathered during any
/// command since the last [`crate::Session::take_updates`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailboxUpdates {
    /// The last `* n EXISTS`.
    pub exists: Option<u32>,
    /// The last `* n RECENT`.
    pub recent: Option<u32>,
    /// How many `* n EXPUNGE` were seen.
    pub expunged: u64,
    /// The UID sets of `* VANISHED` responses (at most `max_items` kept).
    pub vanished: Vec<String>,
    /// Whether VANISHED sets were dropped because there were too many.
    pub vanished_truncated: bool,
    /// The last `* FLAGS (...)`.
    pub flags: Option<Vec<String>>,
    /// FETCH responses not asked for (flag changes made elsewhere).
    pub unsolicited_fetches: u64,
}

/// A message a FETCH stream skipped because its literal was over
/// [`Limits::max_literal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OversizedMessage {
    pub seq: u32,
    /// The UID, when the server sent it in the same response.
    pub uid: Option<u32>,
    /// The size of the largest literal skipped, in bytes.
    pub size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_ignore_case() {
        let c = Capabilities::new(vec![
            "imap4rev1".into(),
            "AUTH=plain".into(),
            "LITERAL+".into(),
        ]);
        assert!(c.has("IMAP4rev1"));
        assert!(c.has_auth("PLAIN"));
        assert!(!c.has_auth("LOGIN"));
        assert!(!c.has("AUTH"));
        assert!(c.has("literal+"));
        assert_eq!(c.append_limit(), None);
        let c = Capabilities::new(vec!["IMAP4rev1".into(), "appendlimit=35651584".into()]);
        assert_eq!(c.append_limit(), Some(35_651_584));
        let c = Capabilities::new(vec!["APPENDLIMIT".into()]);
        assert_eq!(c.append_limit(), None);
    }
}
