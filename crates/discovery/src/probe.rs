//! Probing well-known hosts (`imap.D`, `mail.D`, `D`) on the implicit-TLS
//! port, then the STARTTLS port: greeting, CAPABILITY, LOGOUT — no login.
//!
//! The IMAP is `mailferry_imap::Session::connect`, given the addresses
//! discovery resolved (through `--resolver`) and checked as `connect_to`, so
//! it connects to exactly those and never resolves again; TLS is verified
//! against the host name. A STARTTLS candidate succeeds only if STARTTLS is
//! advertised and the upgrade works; the session refuses a PREAUTH greeting
//! before STARTTLS and data injected after the STARTTLS OK, and the probe
//! refuses PREAUTH on implicit TLS too.

use std::net::SocketAddr;
use std::sync::Arc;

use mailferry_core::Security;
use mailferry_imap::{ConnectOptions, ImapError, Session};

use crate::net::StepError;
use crate::outcome::{Method, Outcome};
use crate::run::{to_outcome, Ctx, Hit, Lane, Settings};

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

/// Connects to the checked addresses, sets up TLS as asked, reads the
/// capabilities, logs out.
async fn probe(ctx: &Ctx, host: &str, port: u16, security: Security) -> Result<(), StepError> {
    if security == Security::None {
        return Err(StepError::Refused("plaintext is never probed".to_owned()));
    }
    let addrs = ctx.net.checked_addrs(host).await?;
    let mut opts = ConnectOptions::new(host, port, security, ctx.imap_trust.clone());
    opts.connect_timeout = ctx.config.step_timeout;
    opts.response_timeout = ctx.config.step_timeout;
    opts.connect_to = Some(
        addrs
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect(),
    );
    let session = Session::connect(&opts)
        .await
        .map_err(|e| probe_failure(security, e))?;
    let verdict = if session.is_authenticated() {
        Err(StepError::failed(
            "the server pre-authenticates connections, which discovery does not accept",
        ))
    } else if !["IMAP4rev1", "IMAP4rev2"]
        .iter()
        .any(|v| session.capabilities().has(v))
    {
        Err(StepError::failed(
            "the server does not speak IMAP4rev1 or IMAP4rev2",
        ))
    } else {
        Ok(())
    };
    // Best effort: the probe's answer is already known.
    let _ = session.logout().await;
    verdict
}

/// A failed connection in the probe's words.
fn probe_failure(security: Security, e: ImapError) -> StepError {
    match e {
        ImapError::StartTlsNotOffered => {
            StepError::failed("the server does not advertise STARTTLS")
        }
        // On a STARTTLS candidate, TLS only starts with the upgrade.
        ImapError::Tls { reason, .. } if security == Security::Starttls => StepError::failed(
            format!("STARTTLS is advertised but the upgrade failed: {reason}"),
        ),
        other => StepError::failed(other.to_string()),
    }
}
