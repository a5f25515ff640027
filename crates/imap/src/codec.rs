//! The wire: a stream (plain TCP or TLS) with a framing reader on top.
//!
//! The reader takes one response at a time: a line up to LF; when the line
//! ends in a literal announcement `{n}`, exactly `n` more bytes and then the
//! rest of the response. Every wait is bounded by the response timeout (as an
//! inactivity timeout: each read must make progress within it), every line by
//! `max_line`, every response's literal bytes by `max_literal`. Memory grows
//! only with bytes actually received. The framed bytes go to
//! [`crate::parse`].
//!
//! When asked to (a FETCH stream), a literal over `max_literal` is not an
//! error of the connection: it is read and thrown away in chunks and stands
//! in the frame as `{0}`, so the stream stays in sync and the next message
//! can be read.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::error::ImapError;
use crate::parse::{literal_announcement, parse_response, Response};
use crate::types::Limits;

/// The most bytes asked of the socket in one read.
const READ_CHUNK: usize = 64 * 1024;

/// The largest over-limit literal that is read and thrown away rather than
/// ending the connection (see [`ReadOpts::skip_oversized`]); anything larger
/// is taken as hostile.
pub(crate) const MAX_SKIPPED_LITERAL: u64 = 4 << 30;

/// How one response is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadOpts {
    /// The longest line (see [`Limits::max_line`]); raised for answers
    /// that come as one long line, such as SEARCH.
    pub max_line: usize,
    /// Whether a literal over `max_literal` is skipped (read and thrown
    /// away) instead of being an error.
    pub skip_oversized: bool,
}

/// A plain or TLS connection.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A stream with its read buffer, limits and timeout.
pub(crate) struct Connection<S> {
    stream: S,
    /// Bytes received and not yet handed out as a response.
    buf: Vec<u8>,
    limits: Limits,
    timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    pub(crate) fn new(stream: S, limits: Limits, timeout: Duration) -> Self {
        Connection {
            stream,
            buf: Vec::new(),
            limits,
            timeout,
        }
    }

    /// The stream back, for STARTTLS. Bytes the server sent ahead of the
    /// TLS handshake would be injected plaintext: they are refused.
    pub(crate) fn into_inner(self) -> Result<S, ImapError> {
        if !self.buf.is_empty() {
            return Err(ImapError::Protocol {
                detail: "the server sent data after accepting STARTTLS, before the TLS handshake \
                         (possible injection attack)"
                    .to_owned(),
            });
        }
        Ok(self.stream)
    }

    /// Reads and parses the next response.
    pub(crate) async fn read_response(&mut self, waiting_for: &str) -> Result<Response, ImapError> {
        let frame = self.read_frame(waiting_for).await?;
        parse_response(&frame, &self.limits)
    }

    /// Reads and parses the next response as `opts` say; also tells the
    /// size of the largest literal skipped (see [`ReadOpts::skip_oversized`]).
    pub(crate) async fn read_response_with(
        &mut self,
        waiting_for: &str,
        opts: ReadOpts,
    ) -> Result<(Response, Option<u64>), ImapError> {
        let (frame, skipped) = self.read_frame_with(waiting_for, opts).await?;
        Ok((parse_response(&frame, &self.limits)?, skipped))
    }

    /// Reads the bytes of one whole response (line and literals).
    pub(crate) async fn read_frame(&mut self, waiting_for: &str) -> Result<Vec<u8>, ImapError> {
        let opts = self.default_opts();
        Ok(self.read_frame_with(waiting_for, opts).await?.0)
    }

    /// The limits the connection was made with, nothing skipped.
    pub(crate) fn default_opts(&self) -> ReadOpts {
        ReadOpts {
            max_line: self.limits.max_line,
            skip_oversized: false,
        }
    }

    /// Reads one whole response. A literal that would take the response
    /// over `max_literal` is an error, or with `skip_oversized` (and when no
    /// larger than [`MAX_SKIPPED_LITERAL`]) is read and thrown away in
    /// chunks, never held, and stands in the frame as an empty literal
    /// `{0}`; the frame is then in sync with the stream again.
    pub(crate) async fn read_frame_with(
        &mut self,
        waiting_for: &str,
        opts: ReadOpts,
    ) -> Result<(Vec<u8>, Option<u64>), ImapError> {
        let mut scan = 0usize; // where to look for the next LF
        let mut line_start = 0usize; // where the current line began
        let mut line_bytes = 0usize; // line bytes of this response so far
        let mut literal_bytes = 0u64;
        let mut skipped: Option<u64> = None;
        loop {
            match self.buf[scan..].iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let line_end = scan + i + 1;
                    line_bytes += line_end - line_start;
                    if line_bytes > opts.max_line {
                        return Err(line_too_long(opts.max_line));
                    }
                    match literal_announcement(&self.buf[line_start..line_end])? {
                        None => {
                            let rest = self.buf.split_off(line_end);
                            return Ok((std::mem::replace(&mut self.buf, rest), skipped));
                        }
                        Some(n) if literal_bytes.saturating_add(n) > self.limits.max_literal => {
                            let too_large = || ImapError::LimitExceeded {
                                what: format!(
                                    "a literal of {n} bytes (the limit is {} bytes per response)",
                                    self.limits.max_literal
                                ),
                            };
                            if !opts.skip_oversized || n > MAX_SKIPPED_LITERAL {
                                return Err(too_large());
                            }
                            let Some(open) = self.buf[line_start..line_end]
                                .iter()
                                .rposition(|&b| b == b'{')
                            else {
                                return Err(too_large());
                            };
                            let open = line_start + open;
                            // What was already read past the line: the
                            // literal's first bytes, then maybe what follows.
                            let after = self.buf.split_off(line_end);
                            let in_buf =
                                usize::try_from(n).map_or(after.len(), |n| n.min(after.len()));
                            let rest = after[in_buf..].to_vec();
                            drop(after);
                            self.buf.truncate(open);
                            self.buf.extend_from_slice(b"{0}\r\n");
                            let new_end = self.buf.len();
                            self.discard(n - in_buf as u64, waiting_for).await?;
                            self.buf.extend_from_slice(&rest);
                            skipped = Some(skipped.map_or(n, |s| s.max(n)));
                            line_start = new_end;
                            scan = new_end;
                        }
                        Some(n) => {
                            literal_bytes += n;
                            // n <= max_literal, which fits in memory by construction.
                            let need = line_end + n as usize;
                            while self.buf.len() < need {
                                let want = need - self.buf.len();
                                self.fill(want, waiting_for).await?;
                            }
                            line_start = need;
                            scan = need;
                        }
                    }
                }
                None => {
                    if line_bytes + (self.buf.len() - line_start) > opts.max_line {
                        return Err(line_too_long(opts.max_line));
                    }
                    scan = self.buf.len();
                    self.fill(READ_CHUNK, waiting_for).await?;
                }
            }
        }
    }

    /// Reads `left` bytes from the stream and throws them away, a chunk at
    /// a time.
    async fn discard(&mut self, mut left: u64, waiting_for: &str) -> Result<(), ImapError> {
        if left == 0 {
            return Ok(());
        }
        let mut scratch = vec![0u8; READ_CHUNK];
        while left > 0 {
            let want = usize::try_from(left).map_or(READ_CHUNK, |l| l.min(READ_CHUNK));
            let n = tokio::time::timeout(self.timeout, self.stream.read(&mut scratch[..want]))
                .await
                .map_err(|_| ImapError::Timeout {
                    waiting_for: waiting_for.to_owned(),
                })?
                .map_err(map_io_error)?;
            if n == 0 {
                return Err(ImapError::Closed);
            }
            left -= n as u64;
        }
        Ok(())
    }

    /// Reads at least one more byte (at most `want`, at most a chunk).
    async fn fill(&mut self, want: usize, waiting_for: &str) -> Result<(), ImapError> {
        let want = want.clamp(1, READ_CHUNK);
        self.buf.reserve(want);
        let mut limited = (&mut self.stream).take(want as u64);
        let n = tokio::time::timeout(self.timeout, limited.read_buf(&mut self.buf))
            .await
            .map_err(|_| ImapError::Timeout {
                waiting_for: waiting_for.to_owned(),
            })?
            .map_err(map_io_error)?;
        if n == 0 {
            return Err(ImapError::Closed);
        }
        Ok(())
    }

    /// Writes and flushes, within the timeout.
    pub(crate) async fn write_all(
        &mut self,
        bytes: &[u8],
        waiting_for: &str,
    ) -> Result<(), ImapError> {
        self.write_parts(&[bytes], waiting_for).await
    }

    /// Writes the parts one after the other, then flushes. The timeout
    /// bounds each chunk of a write (so a large message on a slow link is
    /// fine as long as it moves).
    pub(crate) async fn write_parts(
        &mut self,
        parts: &[&[u8]],
        waiting_for: &str,
    ) -> Result<(), ImapError> {
        let timeout = |_| ImapError::Timeout {
            waiting_for: waiting_for.to_owned(),
        };
        for p in parts {
            for chunk in p.chunks(READ_CHUNK) {
                tokio::time::timeout(self.timeout, self.stream.write_all(chunk))
                    .await
                    .map_err(timeout)?
                    .map_err(map_io_error)?;
            }
        }
        tokio::time::timeout(self.timeout, self.stream.flush())
            .await
            .map_err(timeout)?
            .map_err(map_io_error)
    }

    pub(crate) async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(self.timeout, self.stream.shutdown()).await;
    }
}

fn line_too_long(max_line: usize) -> ImapError {
    ImapError::LimitExceeded {
        what: format!("a line longer than {max_line} bytes"),
    }
}

/// A connection that ends (reset, or TLS without close_notify) is `Closed`.
fn map_io_error(e: io::Error) -> ImapError {
    match e.kind() {
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::UnexpectedEof => ImapError::Closed,
        _ => ImapError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    fn conn(limits: Limits) -> (Connection<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
        let (a, b) = duplex(1 << 20);
        (Connection::new(a, limits, Duration::from_secs(5)), b)
    }

    #[tokio::test]
    async fn frames_lines_and_literals() {
        let (mut c, mut server) = conn(Limits::default());
        server
            .write_all(b"* 1 FETCH (BODY[] {5}\r\nab\ncd UID 3)\r\n* 2 EXISTS\r\nA1 OK")
            .await
            .unwrap();
        let f = c.read_frame("test").await.unwrap();
        assert_eq!(f, b"* 1 FETCH (BODY[] {5}\r\nab\ncd UID 3)\r\n");
        let f = c.read_frame("test").await.unwrap();
        assert_eq!(f, b"* 2 EXISTS\r\n");
        server.write_all(b" done\r\n").await.unwrap();
        let r = c.read_response("test").await.unwrap();
        assert!(matches!(r, Response::Tagged(_)));
    }

    #[tokio::test]
    async fn long_line_without_crlf_is_refused() {
        let limits = Limits {
            max_line: 1000,
            ..Limits::default()
        };
        let (mut c, mut server) = conn(limits);
        server.write_all(&[b'a'; 5000]).await.unwrap();
        assert!(matches!(
            c.read_frame("test").await,
            Err(ImapError::LimitExceeded { .. })
        ));
    }

    #[tokio::test]
    async fn giant_literal_is_refused_before_reading_it() {
        let (mut c, mut server) = conn(Limits::default());
        server
            .write_all(b"* 1 FETCH (BODY[] {99999999999999}\r\n")
            .await
            .unwrap();
        let Err(ImapError::LimitExceeded { what }) = c.read_frame("test").await else {
            panic!()
        };
        assert!(what.contains("99999999999999"), "{what}");
    }

    #[tokio::test]
    async fn oversized_literal_is_skipped_when_asked() {
        let limits = Limits {
            max_literal: 10,
            ..Limits::default()
        };
        let (mut c, mut server) = conn(limits);
        let opts = ReadOpts {
            skip_oversized: true,
            ..c.default_opts()
        };
        let mut big = b"* 1 FETCH (UID 4 BODY[] {100}\r\n".to_vec();
        big.extend([b'x'; 100]);
        big.extend(
            b" FLAGS (\\Seen) BODY[HEADER] {3}\r\nabc)\r\n* 2 FETCH (UID 5 BODY[] {2}\r\nok)\r\n",
        );
        // Sent in small pieces, so the skipping straddles reads.
        let writer = tokio::spawn(async move {
            for chunk in big.chunks(7) {
                server.write_all(chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
            server
        });
        let (f, skipped) = c.read_frame_with("t", opts).await.unwrap();
        assert_eq!(skipped, Some(100));
        assert_eq!(
            f,
            b"* 1 FETCH (UID 4 BODY[] {0}\r\n FLAGS (\\Seen) BODY[HEADER] {3}\r\nabc)\r\n"
        );
        let (f, skipped) = c.read_frame_with("t", opts).await.unwrap();
        assert_eq!(skipped, None);
        assert_eq!(f, b"* 2 FETCH (UID 5 BODY[] {2}\r\nok)\r\n");
        let _server = writer.await.unwrap();
        // Without asking, or beyond what is ever skipped, it is an error.
        let (mut c, mut server) = conn(limits);
        server
            .write_all(b"* 1 FETCH (BODY[] {11}\r\n")
            .await
            .unwrap();
        assert!(matches!(
            c.read_frame("t").await,
            Err(ImapError::LimitExceeded { .. })
        ));
        let (mut c, mut server) = conn(limits);
        server
            .write_all(format!("* 1 FETCH (BODY[] {{{}}}\r\n", MAX_SKIPPED_LITERAL + 1).as_bytes())
            .await
            .unwrap();
        assert!(matches!(
            c.read_frame_with("t", opts).await,
            Err(ImapError::LimitExceeded { .. })
        ));
    }

    #[tokio::test]
    async fn truncated_literal_is_closed() {
        let (mut c, mut server) = conn(Limits::default());
        server
            .write_all(b"* 1 FETCH (BODY[] {50}\r\nabc")
            .await
            .unwrap();
        drop(server);
        assert!(matches!(c.read_frame("test").await, Err(ImapError::Closed)));
    }

    #[tokio::test]
    async fn silence_times_out() {
        let (a, _server) = duplex(1024);
        let mut c = Connection::new(a, Limits::default(), Duration::from_millis(50));
        let Err(ImapError::Timeout { waiting_for }) = c.read_frame("the greeting").await else {
            panic!()
        };
        assert_eq!(waiting_for, "the greeting");
    }

    #[tokio::test]
    async fn bytes_left_before_tls_are_refused() {
        let (mut c, mut server) = conn(Limits::default());
        server
            .write_all(b"A1 OK go\r\n* injected\r\n")
            .await
            .unwrap();
        // Both lines arrive in one read, so the second one is buffered.
        c.read_frame("t").await.unwrap();
        assert!(matches!(c.into_inner(), Err(ImapError::Protocol { .. })));
    }
}
