//! The copy path of a migration, on [`Session`]: CREATE, SUBSCRIBE, STATUS,
//! UID SEARCH, UID FETCH as a stream of one message at a time, APPEND
//! (single and pipelined with LITERAL+), UID STORE of flags, ENABLE, NOOP,
//! UNSELECT, and counters of what was sent.
//!
//! Everything from the source server that goes back into a command (flags,
//! INTERNALDATE) is checked first; mailbox names are quoted or sent as
//! literals like every other string argument.

use std::collections::BTreeMap;

use crate::codec::ReadOpts;
use crate::command::{
    check_atoms, check_raw, check_set, checked_flags, internal_date, Builder, Command,
};
use crate::error::{excerpt, ImapError};
use crate::parse::{Code, Fetch, Response, Tagged, Untagged};
use crate::session::{check_bye, check_status, unknown_tag, Sent, Session};
use crate::types::{
    AppendRequest, AppendUid, FlagsMode, MailboxStatus, MailboxUpdates, OversizedMessage,
};

/// The most APPENDs sent ahead of their answers: beyond that the server's
/// answers could fill its send buffer while this side is still writing.
const APPEND_WINDOW: usize = 64;

impl Session {
    /// CREATE a mailbox (by its wire name). One that exists already is
    /// [`ImapError::No`] with code `ALREADYEXISTS` on servers that say so
    /// (RFC 5530); callers may ignore that one.
    pub async fn create(&mut self, mailbox: &str) -> Result<(), ImapError> {
        self.simple("CREATE", mailbox).await
    }

    /// SUBSCRIBE to a mailbox (by its wire name).
    pub async fn subscribe(&mut self, mailbox: &str) -> Result<(), ImapError> {
        self.simple("SUBSCRIBE", mailbox).await
    }

    /// RENAME a mailbox (its messages and UIDVALIDITY go with it on servers
    /// that keep them, as Dovecot does).
    pub async fn rename(&mut self, from: &str, to: &str) -> Result<(), ImapError> {
        let cmd = Builder::new("RENAME", "RENAME", self.literal_mode())
            .string(from.as_bytes())?
            .string(to.as_bytes())?
            .finish();
        self.wire.execute(&cmd).await?.ok("RENAME")?;
        Ok(())
    }

    /// `UID EXPUNGE <uid_set>` (UIDPLUS): removes exactly these messages,
    /// which must already carry `\Deleted`. Without UIDPLUS it is refused
    /// before anything is sent, since a plain EXPUNGE would also remove
    /// messages someone else marked deleted.
    pub async fn uid_expunge(&mut self, uid_set: &str) -> Result<(), ImapError> {
        check_set(uid_set)?;
        if !self.capabilities().has("UIDPLUS") {
            return Err(ImapError::InvalidArgument {
                what: "UID EXPUNGE needs the server's UIDPLUS extension".into(),
            });
        }
        let cmd = Builder::new("UID EXPUNGE", "UID EXPUNGE", self.literal_mode()).raw(uid_set).finish();
        self.wire.execute(&cmd).await?.ok("UID EXPUNGE")?;
        Ok(())
    }

    async fn simple(&mut self, name: &'static str, mailbox: &str) -> Result<(), ImapError> {
        let cmd = Builder::new(name, name, self.literal_mode())
            .string(mailbox.as_bytes())?
            .finish();
        self.wire.execute(&cmd).await?.ok(name)?;
        Ok(())
    }

    /// STATUS of a mailbox for `items` (e.g. `["MESSAGES", "UIDNEXT",
    /// "UIDVALIDITY"]`). MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN,
    /// HIGHESTMODSEQ, SIZE and APPENDLIMIT are read; other items are
    /// ignored.
    pub async fn status(
        &mut self,
        mailbox: &str,
        items: &[&str],
    ) -> Result<MailboxStatus, ImapError> {
        check_atoms("STATUS items", items)?;
        let cmd = Builder::new("STATUS", "STATUS", self.literal_mode())
            .string(mailbox.as_bytes())?
            .raw(&format!("({})", items.join(" ")))
            .finish();
        let done = self.wire.execute(&cmd).await?.ok("STATUS")?;
        // The answer for this mailbox; servers may spell INBOX otherwise,
        // so with no exact match the only STATUS answer is taken.
        let mut answers: Vec<(String, Vec<(String, u64)>)> = done
            .untagged
            .into_iter()
            .filter_map(|u| match u {
                Untagged::Status { mailbox, items } => Some((mailbox, items)),
                _ => None,
            })
            .collect();
        let pos = answers
            .iter()
            .position(|(m, _)| {
                m == mailbox
                    || (m.eq_ignore_ascii_case("INBOX") && mailbox.eq_ignore_ascii_case("INBOX"))
            })
            .or(if answers.len() == 1 { Some(0) } else { None })
            .ok_or_else(|| ImapError::Protocol {
                detail: "the server answered STATUS without the mailbox's status".to_owned(),
            })?;
        let (_, items) = answers.swap_remove(pos);
        let mut st = MailboxStatus::default();
        for (name, n) in items {
            let small = || {
                u32::try_from(n).map_err(|_| ImapError::Protocol {
                    detail: format!("STATUS {name} {n} is out of range"),
                })
            };
            match name.as_str() {
                "MESSAGES" => st.messages = Some(small()?),
                "UIDNEXT" => st.uidnext = Some(small()?),
                "UIDVALIDITY" => st.uidvalidity = Some(small()?),
                "UNSEEN" => st.unseen = Some(small()?),
                "HIGHESTMODSEQ" => st.highestmodseq = Some(n),
                "SIZE" => st.size = Some(n),
                "APPENDLIMIT" => st.appendlimit = Some(n),
                _ => {}
            }
        }
        Ok(st)
    }

    /// `UID SEARCH <criteria>`, the UIDs in the order the server gave them.
    /// `criteria` is sent raw (printable ASCII only): build it from trusted
    /// pieces, e.g. `"UID 100:*"` or `"ALL"`. The SEARCH answer is one line,
    /// so it may be as long as [`crate::Limits::max_literal`] (not
    /// `max_line`).
    pub async fn uid_search(&mut self, criteria: &str) -> Result<Vec<u32>, ImapError> {
        check_raw("the SEARCH criteria", criteria)?;
        let cmd = Builder::new("UID SEARCH", "UID SEARCH", self.literal_mode())
            .raw(criteria)
            .finish();
        let limits = self.wire.limits;
        let opts = ReadOpts {
            max_line: limits
                .max_line
                .max(usize::try_from(limits.max_literal).unwrap_or(usize::MAX)),
            skip_oversized: false,
        };
        let done = self.wire.execute_with(&cmd, opts).await?.ok("UID SEARCH")?;
        let mut uids = Vec::new();
        for u in done.untagged {
            if let Untagged::Search(list) = u {
                uids.extend(list);
            }
        }
        Ok(uids)
    }

    /// `UID FETCH <uid_set> <items>` (e.g. `"1:*"`, `"(UID FLAGS
    /// INTERNALDATE BODY.PEEK[])"`; items sent raw, printable ASCII only),
    /// read one message at a time through the returned stream.
    pub async fn uid_fetch(
        &mut self,
        uid_set: &str,
        items: &str,
    ) -> Result<FetchStream<'_>, ImapError> {
        check_set(uid_set)?;
        check_raw("the FETCH items", items)?;
        let cmd = Builder::new("UID FETCH", "UID FETCH", self.literal_mode())
            .raw(uid_set)
            .raw(items)
            .finish();
        let sent = self.send_alone(&cmd).await?;
        let mut stream = FetchStream {
            session: self,
            tag: String::new(),
            done: false,
            oversized: None,
        };
        match sent {
            Sent::Pending(tag) => stream.tag = tag,
            Sent::Done(t) => {
                stream.done = true;
                check_status(&t, "UID FETCH")?;
            }
        }
        Ok(stream)
    }

    /// Sends a command without reading its answer (untagged responses met
    /// while waiting for `+` are only observed).
    async fn send_alone(&mut self, cmd: &Command) -> Result<Sent, ImapError> {
        self.wire.prepare().await?;
        let opts = self.wire.conn.default_opts();
        let mut untagged = Vec::new();
        match self.wire.send(cmd, opts, &mut untagged).await {
            Ok(sent) => Ok(sent),
            Err(e) => Err(self.wire.fail(e)),
        }
    }

    /// APPEND a message: `APPEND mailbox [(flags)] ["date"] literal`, the
    /// literal as `{n+}` with LITERAL+ (or LITERAL- up to 4096 bytes), else
    /// `{n}` after the server's `+`. `\Recent` is never sent; other flags
    /// must be valid IMAP flags and the date a valid date-time, and the
    /// message may not hold a NUL byte (that needs BINARY): else
    /// [`ImapError::InvalidArgument`], nothing sent. Returns the APPENDUID
    /// when the server gives one (UIDPLUS). A refusal is [`ImapError::No`]
    /// with `command: "APPEND"` and the code (`TOOBIG`, `LIMIT`,
    /// `OVERQUOTA`, `TRYCREATE`, ...).
    pub async fn append(
        &mut self,
        mailbox: &str,
        flags: &[String],
        internal_date: Option<&str>,
        message: &[u8],
    ) -> Result<Option<AppendUid>, ImapError> {
        let cmd = self.append_command(
            mailbox,
            &AppendRequest {
                flags,
                internal_date,
                message,
            },
        )?;
        let done = self.wire.execute(&cmd).await?;
        append_result(&done.tagged)
    }

    fn append_command(&self, mailbox: &str, m: &AppendRequest<'_>) -> Result<Command, ImapError> {
        let mut b =
            Builder::new("APPEND", "APPEND", self.literal_mode()).string(mailbox.as_bytes())?;
        if !checked_flags("APPEND", m.flags)?.is_empty() {
            b = b.flag_list(m.flags)?;
        }
        if let Some(d) = m.internal_date {
            b = b.raw(&format!("\"{}\"", internal_date(d)?));
        }
        Ok(b.literal(m.message)?.finish())
    }

    /// Several APPENDs to one mailbox. When no `+` has to be awaited
    /// (LITERAL+, or LITERAL- for messages up to 4096 bytes) they are
    /// pipelined: sent without waiting (up to 64 ahead of their answers),
    /// then the answers read and matched by tag. Otherwise one after the
    /// other.
    /// One result per message, in order: a message refused (NO, BAD) or
    /// invalid (see [`Session::append`]) does not stop the others. The outer
    /// error is the connection failing, after which the session is broken.
    pub async fn append_many(
        &mut self,
        mailbox: &str,
        messages: &[AppendRequest<'_>],
    ) -> Result<Vec<Result<Option<AppendUid>, ImapError>>, ImapError> {
        let mut results: Vec<Option<Result<Option<AppendUid>, ImapError>>> =
            (0..messages.len()).map(|_| None).collect();
        let mut in_flight: Vec<(String, usize)> = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let cmd = match self.append_command(mailbox, m) {
                Ok(c) => c,
                Err(e) => {
                    results[i] = Some(Err(e));
                    continue;
                }
            };
            if cmd.waits() || in_flight.len() >= APPEND_WINDOW {
                self.collect_appends(&mut in_flight, &mut results).await?;
            }
            if cmd.waits() {
                let done = self.wire.execute(&cmd).await?;
                results[i] = Some(append_result(&done.tagged));
                continue;
            }
            match self.send_alone(&cmd).await? {
                Sent::Pending(tag) => in_flight.push((tag, i)),
                Sent::Done(t) => results[i] = Some(append_result(&t)),
            }
        }
        self.collect_appends(&mut in_flight, &mut results).await?;
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(ImapError::Protocol {
                        detail: "no answer to an APPEND".to_owned(),
                    })
                })
            })
            .collect())
    }

    /// MULTIAPPEND (RFC 3502): every message in one APPEND command, which the
    /// server saves as one transaction — all of them or none. Needs the
    /// MULTIAPPEND capability and LITERAL+ (nothing may wait for `+`);
    /// otherwise `InvalidArgument` before anything is sent. Returns the
    /// UIDVALIDITY and one UID per message, in order, when the server answers
    /// with APPENDUID (UIDPLUS). A NO or BAD means nothing was appended.
    pub async fn append_multi(
        &mut self,
        mailbox: &str,
        messages: &[AppendRequest<'_>],
    ) -> Result<Option<(u32, Vec<u32>)>, ImapError> {
        if !self.capabilities().has("MULTIAPPEND") || !self.capabilities().has("LITERAL+") {
            return Err(ImapError::InvalidArgument {
                what: "MULTIAPPEND needs the server's MULTIAPPEND and LITERAL+ extensions".into(),
            });
        }
        if messages.is_empty() {
            return Ok(Some((0, Vec::new())));
        }
        let mut b = Builder::new("APPEND", "APPEND", self.literal_mode()).string(mailbox.as_bytes())?;
        for m in messages {
            if !checked_flags("APPEND", m.flags)?.is_empty() {
                b = b.flag_list(m.flags)?;
            }
            if let Some(d) = m.internal_date {
                b = b.raw(&format!("\"{}\"", internal_date(d)?));
            }
            b = b.literal(m.message)?;
        }
        let cmd = b.finish();
        let done = self.wire.execute(&cmd).await?;
        check_status(&done.tagged, "APPEND")?;
        Ok(match &done.tagged.code {
            Some(Code::AppendUid { uidvalidity, uid }) if messages.len() == 1 => Some((*uidvalidity, vec![*uid])),
            Some(Code::AppendUids { uidvalidity, uids }) => {
                expand_uid_set(uids, messages.len()).map(|v| (*uidvalidity, v))
            }
            _ => None,
        })
    }

    /// Reads the answers of the pipelined APPENDs in flight.
    async fn collect_appends(
        &mut self,
        in_flight: &mut Vec<(String, usize)>,
        results: &mut [Option<Result<Option<AppendUid>, ImapError>>],
    ) -> Result<(), ImapError> {
        let opts = self.wire.conn.default_opts();
        while !in_flight.is_empty() {
            let r = match self
                .wire
                .conn
                .read_response_with("the response to APPEND", opts)
                .await
            {
                Ok((r, _)) => r,
                Err(e) => return Err(self.wire.fail(e)),
            };
            match r {
                Response::Tagged(t) => match in_flight.iter().position(|(tag, _)| *tag == t.tag) {
                    Some(pos) => {
                        let (_, i) = in_flight.remove(pos);
                        results[i] = Some(append_result(&t));
                    }
                    None => return Err(self.wire.fail(unknown_tag(&t))),
                },
                Response::Continuation { text } => {
                    return Err(self.wire.fail(ImapError::Protocol {
                        detail: format!(
                            "the server asked to continue APPEND sent with LITERAL+ (\"{}\")",
                            excerpt(text.as_bytes(), 100)
                        ),
                    }))
                }
                Response::Untagged(u) => {
                    if let Err(e) = check_bye(&u, "APPEND") {
                        return Err(self.wire.fail(e));
                    }
                    self.wire.observe(&u);
                }
            }
        }
        Ok(())
    }

    /// `UID STORE <uid_set> [+|-]FLAGS.SILENT (flags)`. `\Recent` is never
    /// sent; adding or removing nothing sends nothing.
    pub async fn uid_store_flags(
        &mut self,
        uid_set: &str,
        mode: FlagsMode,
        flags: &[String],
    ) -> Result<(), ImapError> {
        check_set(uid_set)?;
        let kept = checked_flags("UID STORE", flags)?;
        let item = match mode {
            FlagsMode::Replace => "FLAGS.SILENT",
            FlagsMode::Add => "+FLAGS.SILENT",
            FlagsMode::Remove => "-FLAGS.SILENT",
        };
        if kept.is_empty() && mode != FlagsMode::Replace {
            return Ok(());
        }
        let cmd = Builder::new("UID STORE", "UID STORE", self.literal_mode())
            .raw(uid_set)
            .raw(item)
            .flag_list(flags)?
            .finish();
        self.wire.execute(&cmd).await?.ok("UID STORE")?;
        Ok(())
    }

    /// ENABLE extensions (e.g. `["CONDSTORE", "QRESYNC"]`); returns those
    /// the server says it enabled. Without the ENABLE capability nothing is
    /// sent and nothing is enabled.
    pub async fn enable(&mut self, caps: &[&str]) -> Result<Vec<String>, ImapError> {
        check_atoms("ENABLE capabilities", caps)?;
        if !self.caps.has("ENABLE") {
            return Ok(Vec::new());
        }
        let cmd = Builder::new("ENABLE", "ENABLE", self.literal_mode())
            .raw(&caps.join(" "))
            .finish();
        let done = self.wire.execute(&cmd).await?.ok("ENABLE")?;
        let mut enabled = Vec::new();
        for u in done.untagged {
            if let Untagged::Enabled(list) = u {
                enabled.extend(list);
            }
        }
        Ok(enabled)
    }

    /// NOOP: gives the server a chance to report changes (see
    /// [`Session::updates`]).
    pub async fn noop(&mut self) -> Result<(), ImapError> {
        let cmd = Builder::new("NOOP", "NOOP", self.literal_mode()).finish();
        self.wire.execute(&cmd).await?.ok("NOOP")?;
        Ok(())
    }

    /// Leaves the selected mailbox with UNSELECT when the server has it.
    /// Without UNSELECT nothing is sent and the mailbox stays selected (the
    /// next SELECT or EXAMINE replaces it): CLOSE would expunge messages
    /// marked `\Deleted` in a read-write mailbox, so it is never used here.
    pub async fn unselect(&mut self) -> Result<(), ImapError> {
        if !self.caps.has("UNSELECT") {
            return Ok(());
        }
        let cmd = Builder::new("UNSELECT", "UNSELECT", self.literal_mode()).finish();
        self.wire.execute(&cmd).await?.ok("UNSELECT")?;
        Ok(())
    }

    /// How many commands this session sent, by command name (`"UID
    /// FETCH"`, `"APPEND"`, `"LOGIN"`, ...), pipelined ones included.
    pub fn command_counts(&self) -> &BTreeMap<String, u64> {
        &self.wire.counts
    }

    /// How many FETCH responses carried a whole message (`BODY[]` or
    /// `RFC822`), whatever command they came with.
    pub fn bodies_fetched(&self) -> u64 {
        self.wire.bodies
    }

    /// The server-wide APPENDLIMIT from the capabilities, if any (see
    /// [`crate::Capabilities::append_limit`]).
    pub fn append_limit(&self) -> Option<u64> {
        self.caps.append_limit()
    }

    /// What the server reported on its own since the last
    /// [`Session::take_updates`].
    pub fn updates(&self) -> &MailboxUpdates {
        &self.wire.updates
    }

    /// Takes (and clears) what the server reported on its own.
    pub fn take_updates(&mut self) -> MailboxUpdates {
        std::mem::take(&mut self.wire.updates)
    }

    /// Whether an earlier error left the connection unusable (every command
    /// then fails with [`ImapError::SessionBroken`]).
    pub fn is_broken(&self) -> bool {
        self.wire.broken.is_some()
    }
}

/// The APPENDUID of an OK, or the refusal as an error.
fn append_result(t: &Tagged) -> Result<Option<AppendUid>, ImapError> {
    check_status(t, "APPEND")?;
    Ok(match t.code {
        Some(Code::AppendUid { uidvalidity, uid }) => Some(AppendUid { uidvalidity, uid }),
        _ => None,
    })
}

/// The answer of a UID FETCH, one message at a time.
///
/// At most one response (one message) is held at a time. A message whose
/// literal is over [`crate::Limits::max_literal`] is read and thrown away in
/// chunks (up to 4 GiB; larger is taken as hostile and breaks the session):
/// [`FetchStream::next`] then returns [`ImapError::LimitExceeded`] naming it
/// (also in [`FetchStream::last_oversized`]), and the stream goes on with the
/// next message on the following call.
///
/// Dropped before [`FetchStream::next`] returned `Ok(None)` or an error, the
/// command is *abandoned*: the session reads the rest of its answer and
/// throws it away (one message at a time, never holding it) before its next
/// command, so it stays usable; `logout` just closes instead.
pub struct FetchStream<'s> {
    session: &'s mut Session,
    tag: String,
    done: bool,
    oversized: Option<OversizedMessage>,
}

impl std::fmt::Debug for FetchStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchStream")
            .field("tag", &self.tag)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl FetchStream<'_> {
    /// The next FETCH response that carries a UID; untagged responses that
    /// are not (EXISTS, EXPUNGE, FLAGS, a FETCH without UID reporting a
    /// change) are recorded on the session ([`Session::updates`]). `Ok(None)`
    /// after the tagged OK, the session then usable; a tagged NO or BAD is
    /// [`ImapError::No`] / [`ImapError::Bad`] (session usable); an
    /// over-limit message is [`ImapError::LimitExceeded`] (stream goes on);
    /// anything else ends the stream and breaks the session.
    pub async fn next(&mut self) -> Result<Option<Fetch>, ImapError> {
        if self.done {
            return Ok(None);
        }
        let wire = &mut self.session.wire;
        let opts = ReadOpts {
            skip_oversized: true,
            ..wire.conn.default_opts()
        };
        loop {
            let (r, skipped) = match wire
                .conn
                .read_response_with("the response to UID FETCH", opts)
                .await
            {
                Ok(x) => x,
                Err(e) => {
                    self.done = true;
                    return Err(wire.fail(e));
                }
            };
            match r {
                Response::Untagged(Untagged::Fetch(f)) if skipped.is_some() => {
                    let o = OversizedMessage {
                        seq: f.seq,
                        uid: f.uid(),
                        size: skipped.unwrap_or(0),
                    };
                    self.oversized = Some(o);
                    return Err(ImapError::LimitExceeded {
                        what: format!(
                            "the message {} is {} bytes (the limit is {} bytes); it was skipped",
                            match o.uid {
                                Some(uid) => format!("with UID {uid}"),
                                None => format!("number {}", o.seq),
                            },
                            o.size,
                            wire.limits.max_literal
                        ),
                    });
                }
                Response::Untagged(Untagged::Fetch(f)) if f.uid().is_some() => {
                    if f.has_body() {
                        wire.bodies += 1;
                    }
                    return Ok(Some(f));
                }
                Response::Untagged(u) => {
                    if let Err(e) = check_bye(&u, "UID FETCH") {
                        self.done = true;
                        return Err(wire.fail(e));
                    }
                    if matches!(u, Untagged::Fetch(_)) {
                        wire.updates.unsolicited_fetches += 1;
                    }
                    wire.observe(&u);
                }
                Response::Tagged(t) if t.tag == self.tag => {
                    self.done = true;
                    check_status(&t, "UID FETCH")?;
                    return Ok(None);
                }
                Response::Tagged(t) => {
                    self.done = true;
                    return Err(wire.fail(unknown_tag(&t)));
                }
                Response::Continuation { .. } => {
                    self.done = true;
                    return Err(wire.fail(ImapError::Protocol {
                        detail: "the server asked to continue a UID FETCH".to_owned(),
                    }));
                }
            }
        }
    }

    /// The last message skipped for being over the literal limit.
    pub fn last_oversized(&self) -> Option<OversizedMessage> {
        self.oversized
    }
}

impl Drop for FetchStream<'_> {
    fn drop(&mut self) {
        if !self.done && self.session.wire.broken.is_none() {
            self.session.wire.abandoned = Some(std::mem::take(&mut self.tag));
        }
    }
}

/// The UIDs of a set like `100:102,105`, in order, when it names exactly
/// `count` UIDs (a hostile `1:4294967295` is refused, not expanded).
fn expand_uid_set(set: &str, count: usize) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(count);
    for part in set.split(',') {
        let (a, b) = match part.split_once(':') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let n = part.parse::<u32>().ok()?;
                (n, n)
            }
        };
        let (lo, hi) = (a.min(b), a.max(b));
        if out.len() + (hi - lo) as usize + 1 > count {
            return None;
        }
        out.extend(lo..=hi);
    }
    (out.len() == count).then_some(out)
}

#[cfg(test)]
mod multiappend_tests {
    use super::expand_uid_set;

    #[test]
    fn uid_sets_expand_only_to_the_expected_count() {
        assert_eq!(expand_uid_set("100:102,105", 4), Some(vec![100, 101, 102, 105]));
        assert_eq!(expand_uid_set("7", 1), Some(vec![7]));
        assert_eq!(expand_uid_set("1:4294967295", 3), None);
        assert_eq!(expand_uid_set("1:2", 3), None);
        assert_eq!(expand_uid_set("x", 1), None);
    }
}
