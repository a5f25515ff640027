//! SRV records: the RFC 2782 order (lowest priority first, weighted random
//! choice within a priority) and the RFC 6186 lanes `_imaps._tcp.D` and
//! `_imap._tcp.D`.

use std::sync::Arc;

use mailferry_core::Security;

use crate::net::{DnsFailure, SrvRecord};
use crate::outcome::{Method, Outcome};
use crate::run::{Ctx, Hit, Lane, Settings};

/// A small deterministic generator (xorshift64*) for the weighted choice;
/// seeded by the caller in tests, by the operating system otherwise.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: Option<u64>) -> Rng {
        let seed = seed.unwrap_or_else(|| {
            let mut b = [0u8; 8];
            let _ = getrandom::getrandom(&mut b);
            u64::from_le_bytes(b)
        });
        Rng(seed | 1)
    }

    /// A number in `0..=max`.
    pub(crate) fn upto(&mut self, max: u32) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (r % (u64::from(max) + 1)) as u32
    }
}

/// The records in the order to try them (RFC 2782): by priority, and within
/// a priority by repeated weighted choice; `pick(total)` returns a number in
/// `0..=total`.
pub(crate) fn order(records: &[SrvRecord], mut pick: impl FnMut(u32) -> u32) -> Vec<SrvRecord> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(sorted.len());
    let mut rest = sorted.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let (group, tail) = rest.split_at(same);
        // Zero-weight records first, as the RFC asks, then the others.
        let mut pool: Vec<SrvRecord> = group.iter().filter(|r| r.weight == 0).cloned().collect();
        pool.extend(group.iter().filter(|r| r.weight != 0).cloned());
        while !pool.is_empty() {
            let total: u32 = pool.iter().map(|r| u32::from(r.weight)).sum();
            let n = pick(total).min(total);
            let mut running = 0u32;
            let idx = pool
                .iter()
                .position(|r| {
                    running += u32::from(r.weight);
                    running >= n
                })
                .unwrap_or(0);
            out.push(pool.remove(idx));
        }
        rest = tail;
    }
    out
}

/// Looks `name` up and orders the records; `Err` with the reason for the
/// trace. A single record with target "." means the service is absent.
pub(crate) async fn lookup(ctx: &Ctx, name: &str) -> Result<Vec<SrvRecord>, Outcome> {
    let records = match ctx.net.srv(name).await {
        Ok(r) => r,
        Err(DnsFailure::NoRecords) => return Err(Outcome::Failed("no SRV record".to_owned())),
        Err(e) => return Err(Outcome::Failed(e.to_string())),
    };
    if records.iter().any(|r| r.target.is_empty()) {
        return Err(Outcome::Failed(
            "the target is \".\": the domain says it does not offer this service".to_owned(),
        ));
    }
    if records.is_empty() {
        return Err(Outcome::Failed("no SRV record".to_owned()));
    }
    let mut rng = ctx.rng.lock().unwrap_or_else(|p| p.into_inner());
    Ok(order(&records, |total| rng.upto(total)))
}

/// The RFC 6186 lanes: `_imaps._tcp.D` (implicit TLS), then `_imap._tcp.D`
/// (STARTTLS).
pub(crate) fn lanes(ctx: &Arc<Ctx>, next_id: &mut usize) -> Vec<Lane> {
    let domain = ctx.scope.domain().to_owned();
    [(true, "_imaps"), (false, "_imap")]
        .into_iter()
        .map(|(implicit_tls, service)| {
            let name = format!("{service}._tcp.{domain}");
            let id = *next_id;
            *next_id += 1;
            let ctx = ctx.clone();
            let what = name.clone();
            Lane {
                id,
                method: Method::Srv,
                what,
                run: Box::pin(async move { lane(&ctx, id, &name, implicit_tls).await }),
            }
        })
        .collect()
}

async fn lane(ctx: &Ctx, id: usize, name: &str, implicit_tls: bool) -> Option<Hit> {
    let step = ctx.trace.open(id, Method::Srv, name);
    let records = match lookup(ctx, name).await {
        Ok(r) => r,
        Err(outcome) => {
            if matches!(&outcome, Outcome::Failed(r) if r.starts_with("the target is \".\"")) {
                ctx.mark_absent(implicit_tls);
            }
            ctx.trace.close(step, outcome);
            return None;
        }
    };
    let security = if implicit_tls {
        Security::Tls
    } else {
        Security::Starttls
    };
    let mut reasons = Vec::new();
    for record in records {
        let settings = Settings {
            host: record.target.clone(),
            port: record.port,
            security,
            login_format: None,
            needs_trust: Vec::new(),
            unconfirmed: None,
        };
        match ctx.accept(settings).await {
            Ok(found) => {
                ctx.trace.close(step, Outcome::Found);
                return Some(Hit {
                    found,
                    source: format!("srv:{name}"),
                });
            }
            Err(outcome) => reasons.push(format!("{}:{} {}", record.target, record.port, outcome)),
        }
    }
    let all = reasons.join("; ");
    let outcome = if all.contains("refused:") {
        Outcome::Refused(all)
    } else {
        Outcome::Failed(all)
    };
    ctx.trace.close(step, outcome);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 993,
            target: target.to_owned(),
        }
    }

    fn targets(v: &[SrvRecord]) -> Vec<&str> {
        v.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn lowest_priority_first() {
        let records = [
            rec(20, 0, "c"),
            rec(10, 0, "a"),
            rec(30, 5, "d"),
            rec(10, 0, "b"),
        ];
        assert_eq!(targets(&order(&records, |_| 0)), ["a", "b", "c", "d"]);
    }

    #[test]
    fn weighted_choice_follows_the_running_sum() {
        let records = [rec(10, 10, "light"), rec(10, 90, "heavy")];
        // Running sums: light 10, heavy 100.
        assert_eq!(targets(&order(&records, |_| 5)), ["light", "heavy"]);
        assert_eq!(targets(&order(&records, |t| t)), ["heavy", "light"]);
        let mut calls = Vec::new();
        let _ = order(&records, |t| {
            calls.push(t);
            50
        });
        assert_eq!(calls, [100, 10]);
    }

    #[test]
    fn zero_weights_are_chosen_only_by_a_zero_draw() {
        let records = [rec(1, 50, "w"), rec(1, 0, "z")];
        assert_eq!(targets(&order(&records, |_| 0)), ["z", "w"]);
        assert_eq!(targets(&order(&records, |_| 1)), ["w", "z"]);
    }

    #[test]
    fn the_generator_is_deterministic_and_bounded() {
        let mut a = Rng::new(Some(7));
        let mut b = Rng::new(Some(7));
        for _ in 0..100 {
            let x = a.upto(9);
            assert_eq!(x, b.upto(9));
            assert!(x <= 9);
        }
        let mut r = Rng::new(Some(3));
        assert_eq!(r.upto(0), 0);
    }
}
