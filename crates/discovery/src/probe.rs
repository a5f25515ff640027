//! Probing well-known hosts (`imap.D`, `mail.D`, `D`) on the implicit-TLS
//! port, then the STARTTLS port: greeting, CAPABILITY, LOGOUT — no login.
//!
//! This speaks the few lines of IMAP it needs itself rather than through
//! `mailferry_imap::Session::connect`, because that resolves the host name
//! again with the system resolver, and discovery must connect to exactly
//! the address it checked (and resolve through `--resolver`). A STARTTLS
//! candidate succeeds only if STARTTLS is advertised and the upgrade works.

use std::sync::Arc;

use mailferry_core::Security;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::TlsConnector;

use crate::http::tls_reason;
use crate::net::StepError;
use crate::outcome::{excerpt, Method, Outcome};
use crate::run::{to_outcome, Ctx, Hit, Lane, Settings};

const MAX_LINE: u64 = 8 * 1024;
const MAX_LINES: usize = 100;

/// The probe lanes, skipping a service an SRV record declared absent.
pub(crate) fn lanes(ctx: &Arc<Ctx>, next_id: &mut usize) -> Vec<Lane> {
    let d = ctx.scope.domain().to_owned();
    let ports = ctx.config.ports;
    let absent = ctx.absent();
    let mut lanes = Vec::new();
    for host in [format!("imap.{d}"), format!("mail.{d}"), d.clone()] {
        for (port, security, skip) in [
            (ports.imaps, Security::Tls, absent.imaps),
            (ports.imap, Security::Starttls, absent.imap),
        ] {
            let id = *next_id;
            *next_id += 1;
            let what = format!("{host}:{port} ({security})");
            if skip {
                ctx.trace.note(
                    id,
                    Method::Probe,
                    what,
                    Outcome::NotTried(format!(
                        "an SRV record with target \".\" says the domain offers no {} service",
                        if security == Security::Tls {
                            "IMAPS"
                        } else {
                            "IMAP"
                        }
                    )),
                );
                continue;
            }
            let (ctx, host) = (ctx.clone(), host.clone());
            lanes.push(Lane {
                id,
                method: Method::Probe,
                what: what.clone(),
                run: Box::pin(async move {
                    let step = ctx.trace.open(id, Method::Probe, what);
                    match probe_and_accept(&ctx, &host, port, security).await {
                        Ok(found) => {
                            ctx.trace.close(step, Outcome::Found);
                            Some(Hit {
                                found,
                                source: format!("probe:{host}:{port}"),
                            })
                        }
                        Err(outcome) => {
                            ctx.trace.close(step, outcome);
                            None
                        }
                    }
                }),
            });
        }
    }
    lanes
}

async fn probe_and_accept(
    ctx: &Ctx,
    host: &str,
    port: u16,
    security: Security,
) -> Result<crate::outcome::Found, Outcome> {
    let mut needs_trust = Vec::new();
    ctx.check_host(host, &mut needs_trust)
        .map_err(Outcome::Refused)?;
    match tokio::time::timeout(ctx.config.step_timeout, probe(ctx, host, port, security)).await {
        Err(_) => {
            return Err(Outcome::Failed(format!(
                "no complete answer within {}s",
                ctx.config.step_timeout.as_secs_f32()
            )))
        }
        Ok(Err(e)) => return Err(to_outcome(e)),
        Ok(Ok(())) => {}
    }
    ctx.accept(Settings {
        host: host.to_owned(),
        port,
        security,
        login_format: None,
        needs_trust,
        unconfirmed: None,
    })
    .await
}

/// Connects to the checked address, sets up TLS as asked, reads the
/// capabilities, logs out.
async fn probe(ctx: &Ctx, host: &str, port: u16, security: Security) -> Result<(), StepError> {
    let tcp = ctx.net.connect(host, port).await?;
    let connector = TlsConnector::from(ctx.tls.clone());
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| StepError::failed(format!("{host:?} is not a valid TLS server name")))?;
    let handshake_failed = |e: std::io::Error| {
        StepError::failed(format!("TLS with {host} failed: {}", tls_reason(&e)))
    };
    match security {
        Security::Tls => {
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(handshake_failed)?;
            let mut imap = Imap::new(tls);
            imap.greeting().await?;
            imap.check_imap4().await?;
            imap.logout().await;
            Ok(())
        }
        Security::Starttls => {
            let mut imap = Imap::new(tcp);
            imap.greeting().await?;
            let caps = imap.capability().await?;
            if !has(&caps, "STARTTLS") {
                return Err(StepError::failed("the server does not advertise STARTTLS"));
            }
            let (status, text) = imap.command("STARTTLS").await?;
            if status != "OK" {
                return Err(StepError::failed(format!(
                    "STARTTLS was refused: {status} {}",
                    excerpt(&text)
                )));
            }
            if !imap.io.buffer().is_empty() {
                return Err(StepError::failed(
                    "the server sent data after accepting STARTTLS, before TLS began",
                ));
            }
            let tcp = imap.io.into_inner();
            let tls = connector.connect(name, tcp).await.map_err(|e| {
                StepError::failed(format!(
                    "STARTTLS is advertised but the upgrade failed: {}",
                    tls_reason(&e)
                ))
            })?;
            let mut imap = Imap {
                io: BufReader::new(tls),
                tag: imap.tag,
            };
            imap.check_imap4().await?;
            imap.logout().await;
            Ok(())
        }
        Security::None => Err(StepError::Refused("plaintext is never probed".to_owned())),
    }
}

fn has(caps: &[String], name: &str) -> bool {
    caps.iter().any(|c| c.eq_ignore_ascii_case(name))
}

/// Just enough IMAP for a probe.
struct Imap<S> {
    io: BufReader<S>,
    tag: u32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Imap<S> {
    fn new(stream: S) -> Self {
        Imap {
            io: BufReader::new(stream),
            tag: 0,
        }
    }

    async fn line(&mut self) -> Result<String, StepError> {
        let mut buf = Vec::new();
        let n = (&mut self.io)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| StepError::failed(format!("reading from the server failed: {e}")))?;
        if n == 0 {
            return Err(StepError::failed("the server closed the connection"));
        }
        if !buf.ends_with(b"\n") {
            return Err(StepError::failed("the server sent an overlong line"));
        }
        Ok(String::from_utf8_lossy(&buf).trim_end().to_owned())
    }

    async fn greeting(&mut self) -> Result<(), StepError> {
        let line = self.line().await?;
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("* OK") {
            Ok(())
        } else if upper.starts_with("* PREAUTH") {
            Err(StepError::failed(
                "the server pre-authenticates connections, which discovery does not accept",
            ))
        } else {
            Err(StepError::failed(format!(
                "not an IMAP greeting: {}",
                excerpt(&line)
            )))
        }
    }

    /// Sends `cmd`; returns the tagged status and text, and keeps the
    /// untagged lines in `untagged`.
    async fn exchange(&mut self, cmd: &str) -> Result<(String, String, Vec<String>), StepError> {
        self.tag += 1;
        let tag = format!("p{}", self.tag);
        let wire = format!("{tag} {cmd}\r\n");
        let write = async {
            self.io.get_mut().write_all(wire.as_bytes()).await?;
            self.io.get_mut().flush().await
        };
        write
            .await
            .map_err(|e| StepError::failed(format!("writing to the server failed: {e}")))?;
        let mut untagged = Vec::new();
        for _ in 0..MAX_LINES {
            let line = self.line().await?;
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                let (status, text) = rest.split_once(' ').unwrap_or((rest, ""));
                return Ok((status.to_ascii_uppercase(), text.to_owned(), untagged));
            }
            untagged.push(line);
        }
        Err(StepError::failed(format!(
            "no answer to {cmd} within {MAX_LINES} lines"
        )))
    }

    async fn command(&mut self, cmd: &str) -> Result<(String, String), StepError> {
        self.exchange(cmd).await.map(|(s, t, _)| (s, t))
    }

    async fn capability(&mut self) -> Result<Vec<String>, StepError> {
        let (status, text, untagged) = self.exchange("CAPABILITY").await?;
        if status != "OK" {
            return Err(StepError::failed(format!(
                "CAPABILITY failed: {status} {}",
                excerpt(&text)
            )));
        }
        untagged
            .iter()
            .find_map(|l| {
                let upper = l.to_ascii_uppercase();
                upper.strip_prefix("* CAPABILITY ").map(|_| {
                    l["* CAPABILITY ".len()..]
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect()
                })
            })
            .ok_or_else(|| StepError::failed("the server sent no CAPABILITY list"))
    }

    async fn check_imap4(&mut self) -> Result<(), StepError> {
        let caps = self.capability().await?;
        if has(&caps, "IMAP4rev1") || has(&caps, "IMAP4rev2") {
            Ok(())
        } else {
            Err(StepError::failed(
                "the server does not speak IMAP4rev1 or IMAP4rev2",
            ))
        }
    }

    /// Best effort: the probe's answer is already known.
    async fn logout(&mut self) {
        let _ = self.exchange("LOGOUT").await;
        let _ = self.io.get_mut().shutdown().await;
    }
}
