//! Discovery of a mailbox's IMAP settings from its email address.
//!
//! [`discover`] runs, concurrently with staggered starts and ranked in this
//! order: Exchange Autodiscover (POX, with the administrator's
//! credentials), Thunderbird-style autoconfig, RFC 6186 SRV records, and —
//! only when those found nothing — probing `imap.D`, `mail.D` and `D`. It
//! returns the settings ([`Found`]), where they came from, and a trace of
//! every candidate and why it was passed over.
//!
//! # Layout
//!
//! - `config`: [`DiscoveryConfig`] (resolver, extra CA, private networks,
//!   trusted hosts, provider database, budget, timeouts, ports) and
//!   [`Credentials`].
//! - `outcome`: [`Discovery`], [`Found`], [`TraceEntry`], [`Outcome`],
//!   [`DiscoveryError`].
//! - `scope`: the security rules as pure functions: the registrable domain
//!   (Public Suffix List), hosts inside the domain or trusted, refused
//!   address ranges.
//! - `resolve`: [`resolve_host`], a plain name lookup through the same
//!   resolver choice (no address policy), for callers that connect
//!   elsewhere.
//! - `net`: DNS through one resolver (`--resolver` or the system's), each
//!   host resolved once and its addresses checked, connections to exactly
//!   those addresses; the TLS trust.
//! - `http`: a one-request HTTP/1.1 client on `net`; no automatic
//!   redirects; capped bodies; credentials only on https.
//! - `xml`: a strict XML reader (no DTD, no entities, bounded).
//! - `autodiscover`, `autoconfig`, `srv`, `probe`: the methods, each as
//!   candidate lanes (`probe` through `mailferry_imap::Session` connected
//!   to the checked addresses).
//! - `run`: the shared context, the trace, the staggered race ranked by
//!   candidate order within the budget, and the checks every result passes.
//!
//! # Invariant
//!
//! This crate sits below the engine and knows nothing of the store, batches
//! or endpoints. Credentials travel only over TLS validated against the
//! host name, only to hosts inside the address's registrable domain or named
//! in `trust_hosts`; no candidate is ever built outside the domain,
//! `autodiscover.D`, `autoconfig.D` and what SRV/MX records name; every
//! connection goes to an address that was resolved once and checked; the
//! password appears in no error, trace entry, log line or `Debug` output.

#![forbid(unsafe_code)]

mod autoconfig;
mod autodiscover;
mod config;
mod http;
mod net;
mod outcome;
mod probe;
mod resolve;
mod run;
mod scope;
mod srv;
mod xml;

use std::sync::Arc;

use mailferry_core::{EmailAddress, Secret};
use mailferry_imap::TlsTrust;
use tokio::time::Instant;

pub use config::{Credentials, DiscoveryConfig, Ports};
pub use outcome::{Discovery, DiscoveryError, Found, Method, Outcome, TraceEntry};
pub use resolve::{resolve_host, ResolveError, ResolveFailure};

use crate::http::{Http, Scheme, Url};
use crate::net::Net;
use crate::run::{race, Ctx};
use crate::scope::Scope;

/// Finds the IMAP settings of `address`. `credentials` are used for
/// Autodiscover only (without them it is skipped). Returns within
/// `config.budget` (plus a little scheduling slack): the best-ranked
/// result, or the best found when the budget ran out, or an error whose
/// `Display` lists every candidate and why it was passed over.
pub async fn discover(
    address: &EmailAddress,
    credentials: Option<Credentials<'_>>,
    config: &DiscoveryConfig,
) -> Result<Discovery, DiscoveryError> {
    let deadline = Instant::now() + config.budget;
    let scope = Scope::new(address.domain(), &config.trust_hosts).map_err(|reason| {
        DiscoveryError::InvalidAddress {
            address: address.to_string(),
            reason,
        }
    })?;
    if let Some(base) = &config.provider_db {
        match Url::parse(base) {
            Ok(u) if u.scheme == Scheme::Https => {}
            _ => {
                return Err(DiscoveryError::Config(format!(
                    "the provider database {base:?} must be an https URL"
                )))
            }
        }
    }
    let tls = net::tls_config(config.extra_ca_pem.as_deref()).map_err(DiscoveryError::Config)?;
    let net = Arc::new(
        Net::new(
            config.resolver,
            config.allow_private_networks,
            config.step_timeout,
        )
        .map_err(DiscoveryError::Config)?,
    );
    let http = Http::new(net.clone(), tls, config.step_timeout, config.max_body);
    let credentials = credentials.map(|c| (c.login.to_owned(), Secret::new(c.password.to_owned())));
    let has_credentials = credentials.is_some();
    let imap_trust = TlsTrust::new(config.extra_ca_pem.as_deref())
        .map_err(|e| DiscoveryError::Config(e.to_string()))?;
    let ctx = Arc::new(Ctx::new(
        net,
        http,
        imap_trust,
        scope,
        config.clone(),
        credentials,
        srv::Rng::new(config.srv_seed),
    ));

    let mut next_id = 0usize;
    let mut lanes = Vec::new();
    if has_credentials {
        lanes.extend(autodiscover::lanes(&ctx, address, &mut next_id));
    } else {
        ctx.trace.note(
            next_id,
            Method::Autodiscover,
            address.domain(),
            Outcome::NotTried("no credentials were given".to_owned()),
        );
        next_id += 1;
    }
    lanes.extend(autoconfig::lanes(&ctx, address, &mut next_id));
    lanes.extend(srv::lanes(&ctx, &mut next_id));
    let mut end = race(&ctx, lanes, deadline).await;
    if end.winner.is_none() && !end.budget_ran_out {
        let probes = probe::lanes(&ctx, &mut next_id);
        end = race(&ctx, probes, deadline).await;
    }
    let stopped = if end.budget_ran_out {
        "stopped: the discovery budget ran out"
    } else {
        "stopped: a better-ranked candidate answered first"
    };
    match end.winner {
        Some((lane, hit)) => {
            let trace = ctx.trace.finish(Some((lane, &hit.source)), stopped);
            tracing::debug!(source = %hit.source, host = %hit.found.host, "discovered");
            Ok(Discovery {
                settings: hit.found,
                source: hit.source,
                trace,
            })
        }
        None => {
            let trace = ctx.trace.finish(None, stopped);
            if end.budget_ran_out {
                Err(DiscoveryError::Budget {
                    address: address.to_string(),
                    budget: config.budget,
                    trace,
                })
            } else {
                Err(DiscoveryError::NothingFound {
                    address: address.to_string(),
                    trace,
                })
            }
        }
    }
}
