//! Running the candidates: the shared context, the trace, the staggered
//! race ranked by candidate order, and the checks every result passes.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use mailferry_core::{Secret, Security};
use mailferry_imap::TlsTrust;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::DiscoveryConfig;
use crate::http::Http;
use crate::net::{Net, StepError};
use crate::outcome::{Found, Method, Outcome, TraceEntry};
use crate::scope::{HostVerdict, Scope};
use crate::srv::Rng;

/// The most redirects (HTTP, `redirectUrl`, `redirectAddr`) in one discovery.
pub(crate) const MAX_REDIRECTS: usize = 10;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A candidate that gave settings.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub(crate) found: Found,
    pub(crate) source: String,
}

/// One candidate lane: its place in the ranking, a label for the trace if
/// it never starts, and the work.
pub(crate) struct Lane {
    pub(crate) id: usize,
    pub(crate) method: Method,
    pub(crate) what: String,
    pub(crate) run: BoxFuture<Option<Hit>>,
}

/// Everything the lanes share for one discovery.
pub(crate) struct Ctx {
    pub(crate) net: Arc<Net>,
    pub(crate) http: Http,
    /// The TLS trust of the probes' IMAP sessions (the same roots and extra
    /// CA as `http`'s).
    pub(crate) imap_trust: TlsTrust,
    pub(crate) scope: Scope,
    pub(crate) config: DiscoveryConfig,
    /// Autodiscover's credentials (login, password).
    pub(crate) credentials: Option<(String, Secret)>,
    pub(crate) trace: Trace,
    redirects: Mutex<Redirects>,
    /// Services an SRV record with target "." declared absent.
    absent: Mutex<Absent>,
    pub(crate) rng: Mutex<Rng>,
}

#[derive(Default)]
struct Redirects {
    count: usize,
    visited: HashSet<String>,
}

#[derive(Default, Clone, Copy)]
pub(crate) struct Absent {
    pub(crate) imaps: bool,
    pub(crate) imap: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ctx {
    pub(crate) fn new(
        net: Arc<Net>,
        http: Http,
        imap_trust: TlsTrust,
        scope: Scope,
        config: DiscoveryConfig,
        credentials: Option<(String, Secret)>,
        rng: Rng,
    ) -> Ctx {
        Ctx {
            net,
            http,
            imap_trust,
            scope,
            config,
            credentials,
            trace: Trace::default(),
            redirects: Mutex::new(Redirects::default()),
            absent: Mutex::new(Absent::default()),
            rng: Mutex::new(rng),
        }
    }

    /// Marks a URL or address as the start of a chain (a later redirect to
    /// it is a loop).
    pub(crate) fn visit(&self, key: &str) {
        lock(&self.redirects)
            .visited
            .insert(key.to_ascii_lowercase());
    }

    /// Counts a redirect to `key`; refuses a loop or the 11th redirect.
    pub(crate) fn redirect(&self, key: &str) -> Result<(), String> {
        let mut r = lock(&self.redirects);
        if r.count >= MAX_REDIRECTS {
            return Err(format!(
                "more than {MAX_REDIRECTS} redirects in this discovery; {key} is not followed"
            ));
        }
        if !r.visited.insert(key.to_ascii_lowercase()) {
            return Err(format!("redirect loop: {key} was already visited"));
        }
        r.count += 1;
        Ok(())
    }

    pub(crate) fn mark_absent(&self, implicit_tls: bool) {
        let mut a = lock(&self.absent);
        if implicit_tls {
            a.imaps = true;
        } else {
            a.imap = true;
        }
    }

    pub(crate) fn absent(&self) -> Absent {
        *lock(&self.absent)
    }

    /// Adds `host` to `needs_trust` when it is outside the domain but
    /// trusted; refuses it when it is outside and not trusted.
    pub(crate) fn check_host(
        &self,
        host: &str,
        needs_trust: &mut Vec<String>,
    ) -> Result<(), String> {
        match self.scope.check(host)? {
            HostVerdict::InDomain => Ok(()),
            HostVerdict::Trusted(h) => {
                if !needs_trust.contains(&h) {
                    needs_trust.push(h);
                }
                Ok(())
            }
        }
    }

    /// The checks every result passes: TLS, the host inside the domain or
    /// trusted (always trusted for an unconfirmed MX-derived result), an
    /// address that may be connected to.
    pub(crate) async fn accept(&self, settings: Settings) -> Result<Found, Outcome> {
        let Settings {
            host,
            port,
            security,
            login_format,
            mut needs_trust,
            unconfirmed,
        } = settings;
        if security == Security::None {
            return Err(Outcome::Refused(format!(
                "{host}:{port} is offered without TLS; discovery never chooses plaintext"
            )));
        }
        if let Some(via) = unconfirmed {
            let h = crate::scope::normalize(&host);
            if !self.scope.is_trusted(&h) {
                return Err(Outcome::Refused(format!(
                    "the settings name {h}, but they come from {via}, which is unconfirmed; \
                     allow it with --trust-host {h}"
                )));
            }
            if !needs_trust.contains(&h) {
                needs_trust.push(h);
            }
        } else {
            self.check_host(&host, &mut needs_trust)
                .map_err(Outcome::Refused)?;
        }
        let addresses = match self.net.checked_addrs(&host).await {
            Ok(ips) => ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
            Err(StepError::Refused(r)) => return Err(Outcome::Refused(r)),
            Err(StepError::Failed(r)) => return Err(Outcome::Failed(r)),
        };
        Ok(Found {
            host: crate::scope::normalize(&host),
            port,
            security,
            login_format,
            needs_trust,
            addresses,
        })
    }
}

/// Settings read from a source, before [`Ctx::accept`].
pub(crate) struct Settings {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: Security,
    pub(crate) login_format: Option<String>,
    /// Hosts outside the domain already relied upon (trusted) on the way.
    pub(crate) needs_trust: Vec<String>,
    /// Set (to a description of the source) when the source is unconfirmed
    /// (MX-derived), so the resulting host needs explicit trust.
    pub(crate) unconfirmed: Option<String>,
}

pub(crate) fn to_outcome(e: StepError) -> Outcome {
    match e {
        StepError::Refused(r) => Outcome::Refused(r),
        StepError::Failed(r) => Outcome::Failed(r),
    }
}

/// The trace: entries opened as candidates start and closed with their
/// outcome, each tagged with its lane so the final trace is in rank order.
#[derive(Default)]
pub(crate) struct Trace {
    slots: Mutex<Vec<Slot>>,
}

struct Slot {
    lane: usize,
    method: Method,
    what: String,
    outcome: Option<Outcome>,
}

/// An open trace entry.
pub(crate) struct Step(usize);

impl Trace {
    pub(crate) fn open(&self, lane: usize, method: Method, what: impl Into<String>) -> Step {
        let mut slots = lock(&self.slots);
        slots.push(Slot {
            lane,
            method,
            what: what.into(),
            outcome: None,
        });
        Step(slots.len() - 1)
    }

    pub(crate) fn close(&self, step: Step, outcome: Outcome) {
        if let Some(slot) = lock(&self.slots).get_mut(step.0) {
            slot.outcome = Some(outcome);
        }
    }

    /// An entry opened and closed at once.
    pub(crate) fn note(
        &self,
        lane: usize,
        method: Method,
        what: impl Into<String>,
        outcome: Outcome,
    ) {
        let step = self.open(lane, method, what);
        self.close(step, outcome);
    }

    fn has_lane(&self, lane: usize) -> bool {
        lock(&self.slots).iter().any(|s| s.lane == lane)
    }

    /// The final trace, in rank order: the winner's `Found` kept, every
    /// other `Found` marked superseded, unfinished entries closed with
    /// `stopped`.
    pub(crate) fn finish(&self, winner: Option<(usize, &str)>, stopped: &str) -> Vec<TraceEntry> {
        let mut slots: Vec<(usize, TraceEntry)> = lock(&self.slots)
            .drain(..)
            .map(|s| {
                let outcome = match (s.outcome, winner) {
                    (Some(Outcome::Found), Some((lane, _))) if lane == s.lane => Outcome::Found,
                    (Some(Outcome::Found), Some((_, by))) => {
                        Outcome::Superseded { by: by.to_owned() }
                    }
                    (Some(o), _) => o,
                    (None, _) => Outcome::NotTried(stopped.to_owned()),
                };
                (
                    s.lane,
                    TraceEntry {
                        method: s.method,
                        what: s.what,
                        outcome,
                    },
                )
            })
            .collect();
        slots.sort_by_key(|(lane, _)| *lane);
        slots.into_iter().map(|(_, e)| e).collect()
    }
}

/// How a race ended.
pub(crate) struct RaceEnd {
    pub(crate) winner: Option<(usize, Hit)>,
    pub(crate) budget_ran_out: bool,
}

/// Runs the lanes concurrently, lane `i` starting `i × stagger` after the
/// first, and returns the best-ranked hit as soon as every better-ranked
/// lane has failed. At `deadline`, returns the best hit so far (if any)
/// and stops the rest. Lanes that never started get a trace entry.
pub(crate) async fn race(ctx: &Arc<Ctx>, lanes: Vec<Lane>, deadline: Instant) -> RaceEnd {
    let n = lanes.len();
    let mut labels = Vec::with_capacity(n);
    let mut set = JoinSet::new();
    let mut task_index = std::collections::HashMap::new();
    for (i, lane) in lanes.into_iter().enumerate() {
        labels.push((lane.id, lane.method, lane.what));
        let delay = ctx.config.stagger * u32::try_from(i).unwrap_or(u32::MAX);
        let run = lane.run;
        let handle = set.spawn(async move {
            tokio::time::sleep(delay).await;
            run.await
        });
        task_index.insert(handle.id(), i);
    }
    let mut results: Vec<Option<Option<Hit>>> = vec![None; n];
    let end = loop {
        if let Some(decided) = decide(&results) {
            let winner = decided.and_then(|i| Some((labels[i].0, results[i].clone().flatten()?)));
            break RaceEnd {
                winner,
                budget_ran_out: false,
            };
        }
        tokio::select! {
            joined = set.join_next_with_id() => match joined {
                Some(Ok((id, hit))) => {
                    if let Some(&i) = task_index.get(&id) {
                        results[i] = Some(hit);
                    }
                }
                Some(Err(e)) => {
                    if let Some(&i) = task_index.get(&e.id()) {
                        results[i] = Some(None);
                    }
                }
                None => break RaceEnd { winner: None, budget_ran_out: false },
            },
            _ = tokio::time::sleep_until(deadline) => {
                let winner = results
                    .iter()
                    .enumerate()
                    .find_map(|(i, r)| match r {
                        Some(Some(hit)) => Some((labels[i].0, hit.clone())),
                        _ => None,
                    });
                break RaceEnd { winner, budget_ran_out: true };
            }
        }
    };
    set.abort_all();
    for (id, method, what) in labels {
        if !ctx.trace.has_lane(id) {
            let why = if end.budget_ran_out {
                "the discovery budget ran out before it started"
            } else {
                "a better-ranked candidate answered first"
            };
            ctx.trace
                .note(id, method, what, Outcome::NotTried(why.to_owned()));
        }
    }
    end
}

/// The position of the winner once every better-ranked lane is done
/// (`Some(None)`: all done, none found); `None` while still waiting.
fn decide(results: &[Option<Option<Hit>>]) -> Option<Option<usize>> {
    for (i, r) in results.iter().enumerate() {
        match r {
            None => return None,
            Some(None) => continue,
            Some(Some(_)) => return Some(Some(i)),
        }
    }
    Some(None)
}
