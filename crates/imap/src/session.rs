//! An IMAP session: connecting (TLS, STARTTLS or plain), logging in, and the
//! commands to discover mailboxes (the copy path is in `copy`).
//!
//! Every command gets a fresh tag; responses are routed by tag (a tagged
//! response with a tag never sent is a protocol error), untagged responses
//! are gathered for the command in flight (and EXISTS, EXPUNGE, VANISHED,
//! FLAGS and FETCH noted as mailbox updates), and a `* BYE` ends the command
//! with [`ImapError::Bye`]. Commands are cut into segments where a
//! synchronizing literal or a SASL step needs the server's `+` first.
//!
//! After an error that may leave the stream out of step (timeout, I/O,
//! protocol error, limit, BYE) the session is broken and every later
//! command fails at once with [`ImapError::SessionBroken`]; NO and BAD, and
//! arguments refused before sending, leave it usable.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use mailferry_core::Security;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::codec::{Connection, ReadOpts, Stream};
use crate::command::{sasl_plain, Builder, Command, LiteralMode};
use crate::error::{excerpt, ConnectFailure, ImapError};
use crate::parse::{Code, Condition, Response, Status, Tagged, Untagged};
use crate::tls::TlsTrust;
use crate::types::{
    Capabilities, Limits, ListEntry, MailboxInfo, MailboxUpdates, Namespace, Namespaces,
};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub trust: TlsTrust,
    /// For resolving the name (unless `connect_to` is given) and for each
    /// TCP connection attempt.
    pub connect_timeout: Duration,
    /// For every awaited response (and the TLS handshake): the server must
    /// make progress within it.
    pub response_timeout: Duration,
    pub limits: Limits,
    /// The addresses to connect to instead of resolving `host` (e.g. the
    /// ones discovery checked, or ones resolved through a chosen DNS
    /// server): tried in order, each within `connect_timeout`. `host` is
    /// still the name TLS verifies the certificate against (and sends as
    /// SNI). `None` (the default) resolves `host` with the system resolver.
    pub connect_to: Option<Vec<SocketAddr>>,
}

impl ConnectOptions {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
    pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

    /// Options with the default timeouts and limits.
    pub fn new(host: impl Into<String>, port: u16, security: Security, trust: TlsTrust) -> Self {
        ConnectOptions {
            host: host.into(),
            port,
            security,
            trust,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            response_timeout: Self::DEFAULT_RESPONSE_TIMEOUT,
            limits: Limits::default(),
            connect_to: None,
        }
    }
}

/// How to log in.
pub enum Auth<'a> {
    /// `LOGIN user password`, refused up front when the server advertises
    /// LOGINDISABLED.
    Login { user: &'a str, password: &'a str },
    /// `AUTHENTICATE PLAIN` with an optional authorization identity (to act
    /// for another user); the credentials go in the command with SASL-IR,
    /// else after the server's `+`.
    Plain {
        authzid: Option<&'a str>,
        authcid: &'a str,
        password: &'a str,
    },
}

impl fmt::Debug for Auth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Login { user, .. } => f
                .debug_struct("Login")
                .field("user", user)
                .field("password", &"[redacted]")
                .finish(),
            Auth::Plain {
                authzid, authcid, ..
            } => f
                .debug_struct("Plain")
                .field("authzid", authzid)
                .field("authcid", authcid)
                .field("password", &"[redacted]")
                .finish(),
        }
    }
}

/// A command's outcome: the untagged responses gathered while it ran, and
/// its tagged completion.
pub(crate) struct Completion {
    pub(crate) untagged: Vec<Untagged>,
    pub(crate) tagged: Tagged,
}

impl Completion {
    /// The completion if OK; NO and BAD become errors naming the command.
    pub(crate) fn ok(self, command: &str) -> Result<Completion, ImapError> {
        check_status(&self.tagged, command)?;
        Ok(self)
    }
}

/// OK, or NO and BAD as errors naming the command.
pub(crate) fn check_status(tagged: &Tagged, command: &str) -> Result<(), ImapError> {
    match tagged.status {
        Status::Ok => Ok(()),
        Status::No => Err(ImapError::No {
            command: command.to_owned(),
            text: tagged.text.clone(),
            code: tagged.code.as_ref().map(|c| c.name().to_owned()),
        }),
        Status::Bad => Err(ImapError::Bad {
            command: command.to_owned(),
            text: tagged.text.clone(),
        }),
    }
}

/// What sending a command came to: sent whole, its answer still to read
/// under this tag; or refused (or answered) before it was all sent.
pub(crate) enum Sent {
    Pending(String),
    Done(Tagged),
}

/// A connection with its tag counter: sends commands and routes responses.
///
/// Once a command fails in a way that can leave the stream out of step
/// (timeout, I/O, protocol error, limit, BYE), the wire is *broken*: every
/// later command fails at once with [`ImapError::SessionBroken`]. A command
/// whose answer was left unread on purpose (a FETCH stream dropped early) is
/// *abandoned*: its remaining responses are read and thrown away before the
/// next command is sent.
pub(crate) struct Wire<S> {
    pub(crate) conn: Connection<S>,
    next_tag: u64,
    pub(crate) limits: Limits,
    pub(crate) broken: Option<String>,
    pub(crate) abandoned: Option<String>,
    pub(crate) counts: BTreeMap<String, u64>,
    /// FETCH responses seen that carried a whole message.
    pub(crate) bodies: u64,
    pub(crate) updates: MailboxUpdates,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    fn new(conn: Connection<S>, limits: Limits, next_tag: u64) -> Self {
        Wire {
            conn,
            next_tag,
            limits,
            broken: None,
            abandoned: None,
            counts: BTreeMap::new(),
            bodies: 0,
            updates: MailboxUpdates::default(),
        }
    }

    fn new_tag(&mut self) -> String {
        self.next_tag += 1;
        format!("A{}", self.next_tag)
    }

    /// Marks the wire broken (the first reason is kept) and hands `e` back.
    pub(crate) fn fail(&mut self, e: ImapError) -> ImapError {
        if self.broken.is_none() {
            tracing::debug!(error = %e, "session broken");
            self.broken = Some(e.to_string());
        }
        e
    }

    /// Fails if broken; reads away an abandoned command's answer.
    pub(crate) async fn prepare(&mut self) -> Result<(), ImapError> {
        if let Some(reason) = &self.broken {
            return Err(ImapError::SessionBroken {
                reason: reason.clone(),
            });
        }
        if let Some(tag) = self.abandoned.take() {
            if let Err(e) = self.drain(&tag).await {
                return Err(self.fail(e));
            }
        }
        Ok(())
    }

    /// Reads and throws away responses up to `tag`'s completion (over-limit
    /// literals skipped, not held).
    async fn drain(&mut self, tag: &str) -> Result<(), ImapError> {
        let opts = ReadOpts {
            skip_oversized: true,
            ..self.conn.default_opts()
        };
        tracing::debug!(tag, "draining an abandoned command");
        loop {
            let (r, _) = self
                .conn
                .read_response_with("the rest of an abandoned UID FETCH", opts)
                .await?;
            match r {
                Response::Tagged(t) if t.tag == tag => return Ok(()),
                Response::Tagged(t) => return Err(unknown_tag(&t)),
                Response::Continuation { .. } => {
                    return Err(ImapError::Protocol {
                        detail: "the server asked to continue a FETCH".to_owned(),
                    })
                }
                Response::Untagged(u) => {
                    check_bye(&u, "UID FETCH")?;
                    self.observe(&u);
                }
            }
        }
    }

    /// Notes what an untagged response tells about the mailbox.
    pub(crate) fn observe(&mut self, u: &Untagged) {
        let up = &mut self.updates;
        match u {
            Untagged::Exists(n) => up.exists = Some(*n),
            Untagged::Recent(n) => up.recent = Some(*n),
            Untagged::Expunge(_) => up.expunged += 1,
            Untagged::Flags(f) => up.flags = Some(f.clone()),
            Untagged::Vanished { uids, .. } => {
                if up.vanished.len() < self.limits.max_items {
                    up.vanished.push(uids.clone());
                } else {
                    up.vanished_truncated = true;
                }
            }
            Untagged::Fetch(f) if f.has_body() => self.bodies += 1,
            _ => {}
        }
    }

    pub(crate) async fn execute(&mut self, cmd: &Command) -> Result<Completion, ImapError> {
        let opts = self.conn.default_opts();
        self.execute_with(cmd, opts).await
    }

    /// Sends `cmd` and reads its answer, untagged responses gathered.
    pub(crate) async fn execute_with(
        &mut self,
        cmd: &Command,
        opts: ReadOpts,
    ) -> Result<Completion, ImapError> {
        self.prepare().await?;
        let mut untagged = Vec::new();
        let r = match self.send(cmd, opts, &mut untagged).await {
            Ok(Sent::Done(tagged)) => Ok(tagged),
            Ok(Sent::Pending(tag)) => self.complete(&tag, cmd, opts, &mut untagged).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(tagged) => Ok(Completion { untagged, tagged }),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Sends `cmd` (waiting for `+` where it must), without reading its
    /// completion. The caller calls [`Wire::prepare`] first and
    /// [`Wire::fail`] on an error.
    pub(crate) async fn send(
        &mut self,
        cmd: &Command,
        opts: ReadOpts,
        untagged: &mut Vec<Untagged>,
    ) -> Result<Sent, ImapError> {
        let tag = self.new_tag();
        *self.counts.entry(cmd.name.to_owned()).or_insert(0) += 1;
        let waiting = format!("the response to {}", cmd.name);
        tracing::debug!(command = cmd.name, tag = %tag, "sending");
        for (i, seg) in cmd.segments.iter().enumerate() {
            if i == 0 {
                self.conn
                    .write_parts(&[tag.as_bytes(), b" ", &seg.bytes], &waiting)
                    .await?;
            } else {
                self.conn.write_all(&seg.bytes, &waiting).await?;
            }
            if seg.then_wait {
                loop {
                    match self.conn.read_response_with(&waiting, opts).await?.0 {
                        Response::Continuation { .. } => break,
                        Response::Tagged(t) if t.tag == tag => {
                            // Refused before the rest was sent.
                            return Ok(Sent::Done(t));
                        }
                        Response::Tagged(t) => return Err(unknown_tag(&t)),
                        Response::Untagged(u) => self.gather(untagged, u, cmd.name)?,
                    }
                }
            }
        }
        Ok(Sent::Pending(tag))
    }

    /// Reads up to the completion of `tag`.
    async fn complete(
        &mut self,
        tag: &str,
        cmd: &Command,
        opts: ReadOpts,
        untagged: &mut Vec<Untagged>,
    ) -> Result<Tagged, ImapError> {
        let waiting = format!("the response to {}", cmd.name);
        loop {
            match self.conn.read_response_with(&waiting, opts).await?.0 {
                Response::Tagged(t) if t.tag == tag => {
                    tracing::debug!(command = cmd.name, tag = %tag, status = ?t.status, "completed");
                    return Ok(t);
                }
                Response::Tagged(t) => return Err(unknown_tag(&t)),
                Response::Continuation { .. } if cmd.cancel_extra_continuation => {
                    self.conn.write_all(b"*\r\n", &waiting).await?;
                }
                Response::Continuation { text } => {
                    return Err(ImapError::Protocol {
                        detail: format!(
                            "the server asked to continue {} when nothing more was due (\"{}\")",
                            cmd.name,
                            excerpt(text.as_bytes(), 100)
                        ),
                    })
                }
                Response::Untagged(u) => self.gather(untagged, u, cmd.name)?,
            }
        }
    }

    pub(crate) fn gather(
        &mut self,
        into: &mut Vec<Untagged>,
        u: Untagged,
        command: &str,
    ) -> Result<(), ImapError> {
        check_bye(&u, command)?;
        self.observe(&u);
        if matches!(u, Untagged::Fetch(_)) {
            self.updates.unsolicited_fetches += 1;
        }
        if into.len() >= self.limits.max_items {
            return Err(ImapError::LimitExceeded {
                what: format!(
                    "more than {} untagged responses to {command}",
                    self.limits.max_items
                ),
            });
        }
        into.push(u);
        Ok(())
    }

    async fn capability(&mut self) -> Result<Capabilities, ImapError> {
        let cmd = Builder::new("CAPABILITY", "CAPABILITY", LiteralMode::default()).finish();
        let done = self.execute(&cmd).await?.ok("CAPABILITY")?;
        capabilities_in(&done).ok_or_else(|| ImapError::Protocol {
            detail: "the server answered CAPABILITY without listing capabilities".to_owned(),
        })
    }
}

/// A `* BYE` ends any command but LOGOUT.
pub(crate) fn check_bye(u: &Untagged, command: &str) -> Result<(), ImapError> {
    match u {
        Untagged::Condition {
            condition: Condition::Bye,
            text,
            ..
        } if command != "LOGOUT" => Err(ImapError::Bye { text: text.clone() }),
        _ => Ok(()),
    }
}

pub(crate) fn unknown_tag(t: &Tagged) -> ImapError {
    ImapError::Protocol {
        detail: format!(
            "the server answered with the tag \"{}\", which was never sent",
            excerpt(t.tag.as_bytes(), 40)
        ),
    }
}

/// Capabilities from the completion's code, else from an untagged CAPABILITY.
fn capabilities_in(done: &Completion) -> Option<Capabilities> {
    if let Some(Code::Capability(list)) = &done.tagged.code {
        return Some(Capabilities::new(list.clone()));
    }
    done.untagged.iter().rev().find_map(|u| match u {
        Untagged::Capability(list) => Some(Capabilities::new(list.clone())),
        _ => None,
    })
}

/// A connected IMAP session.
pub struct Session {
    pub(crate) wire: Wire<Stream>,
    pub(crate) caps: Capabilities,
    greeting: String,
    peer: SocketAddr,
    authenticated: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("authenticated", &self.authenticated)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Resolves the host (or takes [`ConnectOptions::connect_to`]), connects
    /// (trying each address in order), sets up TLS as asked (verified
    /// against `host`), reads the greeting and learns the capabilities.
    pub async fn connect(opts: &ConnectOptions) -> Result<Session, ImapError> {
        let (tcp, peer) = connect_tcp(opts).await?;
        let _ = tcp.set_nodelay(true);
        let stream = match opts.security {
            Security::Tls => Stream::Tls(Box::new(
                opts.trust
                    .handshake(&opts.host, tcp, opts.response_timeout)
                    .await?,
            )),
            Security::Starttls | Security::None => Stream::Plain(tcp),
        };
        let mut wire = Wire::new(
            Connection::new(stream, opts.limits, opts.response_timeout),
            opts.limits,
            0,
        );
        let (condition, code, greeting) =
            read_greeting(&mut wire.conn, opts.response_timeout).await?;
        let preauth = condition == Condition::Preauth;
        let mut caps = match code {
            Some(Code::Capability(list)) => Capabilities::new(list),
            _ => Capabilities::default(),
        };

        if opts.security == Security::Starttls {
            if preauth {
                return Err(ImapError::Greeting {
                    detail:
                        "the server pre-authenticated the connection, so STARTTLS cannot protect it"
                            .to_owned(),
                });
            }
            if caps.is_empty() {
                caps = wire.capability().await?;
            }
            if !caps.has("STARTTLS") {
                return Err(ImapError::StartTlsNotOffered);
            }
            let cmd = Builder::new("STARTTLS", "STARTTLS", LiteralMode::default()).finish();
            let done = wire.execute(&cmd).await?;
            if done.tagged.status != Status::Ok {
                return Err(ImapError::StartTlsRefused {
                    text: done.tagged.text,
                });
            }
            let Wire {
                conn,
                next_tag,
                counts,
                ..
            } = wire;
            let tcp = match conn.into_inner()? {
                Stream::Plain(tcp) => tcp,
                Stream::Tls(_) => {
                    return Err(ImapError::Protocol {
                        detail: "STARTTLS on a connection that already uses TLS".to_owned(),
                    })
                }
            };
            let tls = opts
                .trust
                .handshake(&opts.host, tcp, opts.response_timeout)
                .await?;
            wire = Wire::new(
                Connection::new(
                    Stream::Tls(Box::new(tls)),
                    opts.limits,
                    opts.response_timeout,
                ),
                opts.limits,
                next_tag,
            );
            wire.counts = counts;
            // Capabilities seen before TLS may have been tampered with.
            caps = wire.capability().await?;
        } else if caps.is_empty() {
            caps = wire.capability().await?;
        }
        tracing::debug!(peer = %peer, preauth, "connected");
        Ok(Session {
            wire,
            caps,
            greeting,
            peer,
            authenticated: preauth,
        })
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The greeting's text (escaped, capped).
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Whether the session is logged in (or was pre-authenticated).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    pub(crate) fn literal_mode(&self) -> LiteralMode {
        LiteralMode::from_caps(&self.caps)
    }

    /// Logs in, then refreshes the capabilities (from the completion's
    /// CAPABILITY code, or by asking).
    pub async fn authenticate(&mut self, auth: Auth<'_>) -> Result<(), ImapError> {
        if self.authenticated {
            return Err(ImapError::Protocol {
                detail: "the connection is already authenticated (the server sent PREAUTH), \
                         so it cannot log in as the requested user"
                    .to_owned(),
            });
        }
        let mode = self.literal_mode();
        let cmd = match auth {
            Auth::Login { user, password } => {
                if self.caps.has("LOGINDISABLED") {
                    return Err(ImapError::AuthMechanismUnavailable {
                        mechanism: "LOGIN".to_owned(),
                    });
                }
                Builder::new("LOGIN", "LOGIN", mode)
                    .string(user.as_bytes())?
                    .string(password.as_bytes())?
                    .finish()
            }
            Auth::Plain {
                authzid,
                authcid,
                password,
            } => {
                if !self.caps.has_auth("PLAIN") {
                    return Err(ImapError::AuthMechanismUnavailable {
                        mechanism: "PLAIN".to_owned(),
                    });
                }
                if [authzid.unwrap_or(""), authcid, password]
                    .iter()
                    .any(|s| s.contains('\0'))
                {
                    return Err(ImapError::InvalidArgument {
                        what: "a login name or password contains a NUL character".to_owned(),
                    });
                }
                let b64 = sasl_plain(authzid, authcid, password);
                let name = "AUTHENTICATE PLAIN";
                let b = Builder::new(name, name, mode).cancel_extra_continuation();
                if self.caps.has("SASL-IR") {
                    b.raw(if b64.is_empty() { "=" } else { &b64 }).finish()
                } else {
                    b.line_then_wait().line(b64.as_bytes()).finish()
                }
            }
        };
        let done = self.wire.execute(&cmd).await?.ok(cmd.name)?;
        self.authenticated = true;
        self.caps = match capabilities_in(&done) {
            Some(c) => c,
            None => self.wire.capability().await?,
        };
        Ok(())
    }

    /// The NAMESPACE answer; without the NAMESPACE capability, a single
    /// personal namespace with an empty prefix and the server's delimiter.
    pub async fn namespace(&mut self) -> Result<Namespaces, ImapError> {
        if !self.caps.has("NAMESPACE") {
            let cmd = Builder::new("LIST", "LIST", self.literal_mode())
                .string(b"")?
                .string(b"")?
                .finish();
            let done = self.wire.execute(&cmd).await?.ok("LIST")?;
            let delimiter = done.untagged.iter().find_map(|u| match u {
                Untagged::List { lsub: false, entry } => Some(entry.delimiter),
                _ => None,
            });
            return Ok(Namespaces {
                personal: vec![Namespace {
                    prefix: String::new(),
                    delimiter: delimiter.flatten(),
                }],
                ..Namespaces::default()
            });
        }
        let cmd = Builder::new("NAMESPACE", "NAMESPACE", LiteralMode::default()).finish();
        let done = self.wire.execute(&cmd).await?.ok("NAMESPACE")?;
        done.untagged
            .into_iter()
            .find_map(|u| match u {
                Untagged::Namespace(ns) => Some(ns),
                _ => None,
            })
            .ok_or_else(|| ImapError::Protocol {
                detail: "the server answered NAMESPACE without namespace data".to_owned(),
            })
    }

    /// The mailboxes matching `pattern` under `reference`, with their
    /// special-use attributes (when SPECIAL-USE is advertised) and
    /// `\Subscribed` for subscribed ones (LIST-EXTENDED `RETURN
    /// (SUBSCRIBED)`, else an LSUB).
    pub async fn list(
        &mut self,
        reference: &str,
        pattern: &str,
    ) -> Result<Vec<ListEntry>, ImapError> {
        let mode = self.literal_mode();
        let extended = self.caps.has("LIST-EXTENDED");
        let mut b = Builder::new("LIST", "LIST", mode)
            .string(reference.as_bytes())?
            .string(pattern.as_bytes())?;
        if extended {
            b = b.raw(if self.caps.has("SPECIAL-USE") {
                "RETURN (SUBSCRIBED SPECIAL-USE)"
            } else {
                "RETURN (SUBSCRIBED)"
            });
        }
        let done = self.wire.execute(&b.finish()).await?.ok("LIST")?;
        let mut entries: Vec<ListEntry> = done
            .untagged
            .into_iter()
            .filter_map(|u| match u {
                Untagged::List { lsub: false, entry } => Some(entry),
                _ => None,
            })
            .collect();
        if !extended {
            let cmd = Builder::new("LSUB", "LSUB", mode)
                .string(reference.as_bytes())?
                .string(pattern.as_bytes())?
                .finish();
            let done = self.wire.execute(&cmd).await?.ok("LSUB")?;
            let subscribed: Vec<String> = done
                .untagged
                .into_iter()
                .filter_map(|u| match u {
                    Untagged::List { lsub: true, entry } => Some(entry.name),
                    _ => None,
                })
                .collect();
            for e in &mut entries {
                let is_sub = subscribed.iter().any(|s| {
                    s == &e.name
                        || (s.eq_ignore_ascii_case("INBOX") && e.name.eq_ignore_ascii_case("INBOX"))
                });
                if is_sub && !e.has_attribute("\\Subscribed") {
                    e.attributes.push("\\Subscribed".to_owned());
                }
            }
        }
        Ok(entries)
    }

    /// SELECT (`read_only == false`) or EXAMINE a mailbox (by its wire
    /// name). With CONDSTORE advertised, asks for mod-sequences too.
    pub async fn select(
        &mut self,
        mailbox: &str,
        read_only: bool,
    ) -> Result<MailboxInfo, ImapError> {
        let name = if read_only { "EXAMINE" } else { "SELECT" };
        let mut b = Builder::new(name, name, self.literal_mode()).string(mailbox.as_bytes())?;
        if self.caps.has("CONDSTORE") {
            b = b.raw("(CONDSTORE)");
        }
        let done = self.wire.execute(&b.finish()).await?.ok(name)?;
        let mut info = MailboxInfo {
            read_write: !read_only,
            ..MailboxInfo::default()
        };
        for u in done.untagged {
            match u {
                Untagged::Flags(f) => info.flags = f,
                Untagged::Exists(n) => info.exists = n,
                Untagged::Recent(n) => info.recent = n,
                Untagged::Condition {
                    condition: Condition::Ok,
                    code: Some(code),
                    ..
                } => match code {
                    Code::UidValidity(v) => info.uidvalidity = Some(v),
                    Code::UidNext(v) => info.uidnext = Some(v),
                    Code::HighestModSeq(v) => info.highestmodseq = Some(v),
                    Code::PermanentFlags(f) => info.permanentflags = Some(f),
                    _ => {}
                },
                _ => {}
            }
        }
        match done.tagged.code {
            Some(Code::ReadWrite) => info.read_write = true,
            Some(Code::ReadOnly) => info.read_write = false,
            _ => {}
        }
        Ok(info)
    }

    /// Says goodbye and closes the connection. A server that closes before
    /// completing LOGOUT is fine. A broken session, or one with an
    /// abandoned FETCH still answering, is just closed.
    pub async fn logout(mut self) -> Result<(), ImapError> {
        if self.wire.broken.is_some() || self.wire.abandoned.is_some() {
            self.wire.conn.shutdown().await;
            return Ok(());
        }
        let cmd = Builder::new("LOGOUT", "LOGOUT", LiteralMode::default()).finish();
        let result = match self.wire.execute(&cmd).await {
            Ok(done) => done.ok("LOGOUT").map(|_| ()),
            Err(ImapError::Closed) => Ok(()),
            Err(e) => Err(e),
        };
        self.wire.conn.shutdown().await;
        result
    }
}

async fn connect_tcp(opts: &ConnectOptions) -> Result<(TcpStream, SocketAddr), ImapError> {
    let host = opts.host.as_str();
    let resolve = |reason: String| ImapError::Resolve {
        host: host.to_owned(),
        reason,
    };
    let addrs: Vec<SocketAddr> = match &opts.connect_to {
        Some(addrs) if addrs.is_empty() => {
            return Err(ImapError::InvalidArgument {
                what: format!("no address was given to connect to {host}"),
            })
        }
        Some(addrs) => addrs.clone(),
        None => match tokio::time::timeout(
            opts.connect_timeout,
            tokio::net::lookup_host((host, opts.port)),
        )
        .await
        {
            Err(_) => return Err(resolve("the name lookup timed out".to_owned())),
            Ok(Err(e)) => return Err(resolve(e.to_string())),
            Ok(Ok(addrs)) => addrs.collect(),
        },
    };
    let mut last = None;
    for addr in addrs {
        let failure =
            match tokio::time::timeout(opts.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => return Ok((tcp, addr)),
                Err(_) => ConnectFailure::TimedOut,
                Ok(Err(e)) => match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => ConnectFailure::Refused,
                    std::io::ErrorKind::TimedOut => ConnectFailure::TimedOut,
                    std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable => ConnectFailure::Unreachable,
                    _ => ConnectFailure::Other(e.to_string()),
                },
            };
        tracing::debug!(%addr, %failure, "connection attempt failed");
        last = Some(ImapError::Connect {
            host: host.to_owned(),
            addr,
            failure,
        });
    }
    Err(last.unwrap_or_else(|| resolve("the name has no address".to_owned())))
}

/// Reads the greeting: `* OK`, `* PREAUTH` or `* BYE`.
async fn read_greeting<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Connection<S>,
    timeout: Duration,
) -> Result<(Condition, Option<Code>, String), ImapError> {
    let greeting = |detail: String| ImapError::Greeting { detail };
    let response = match conn.read_response("the server's greeting").await {
        Ok(r) => r,
        Err(ImapError::Timeout { .. }) => {
            return Err(greeting(format!(
                "the server sent nothing within {} s (is this an IMAP port?)",
                timeout.as_secs_f32()
            )))
        }
        Err(ImapError::Closed) => {
            return Err(greeting(
                "the server closed the connection before greeting".to_owned(),
            ))
        }
        Err(ImapError::Protocol { detail }) => {
            return Err(greeting(format!("it is not an IMAP greeting: {detail}")))
        }
        Err(ImapError::LimitExceeded { what }) => {
            return Err(greeting(format!("it is not an IMAP greeting: {what}")))
        }
        Err(e) => return Err(e),
    };
    match response {
        Response::Untagged(Untagged::Condition {
            condition: condition @ (Condition::Ok | Condition::Preauth),
            code,
            text,
        }) => Ok((condition, code, text)),
        Response::Untagged(Untagged::Condition {
            condition: Condition::Bye,
            text,
            ..
        }) => Err(greeting(format!(
            "the server refused the connection: {text}"
        ))),
        other => Err(greeting(format!(
            "expected \"* OK\", got {}",
            excerpt(format!("{other:?}").as_bytes(), 100)
        ))),
    }
}
