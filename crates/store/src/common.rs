//! What both backends share: the column lists and joins of their
//! statements (the same SQL in both dialects), the places of sealed
//! secrets, error constructors, and the claim order and endpoint
//! accounting of [`crate::Store::claim_users`].

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::Duration;

use mailferry_core::state::UserStatus;

use crate::error::StoreError;
use crate::model::{NewMigrationUser, SkipKind, TokenRecord};
use crate::secrets::{SealedAt, SecretBox};
use crate::util::{from_ms, new_id, to_i64};

pub(crate) const ENDPOINT_COLUMNS: &str = "id, name, kind, host, port, security, admin_login, \
     (admin_secret IS NOT NULL) AS has_admin_secret, impersonation, master_separator, \
     login_format, max_concurrent_migrations, max_concurrent_incremental, ca_pem, verified, \
     discovered_from, trusted_hosts, test_mailbox, created_at, updated_at";

pub(crate) const BATCH_SELECT: &str =
    "SELECT b.id, b.name, b.source_endpoint_id, s.name AS source_name, \
     b.target_endpoint_id, t.name AS target_name, b.options, b.started, b.removing, \
     b.started_at, b.complete_requested_at, b.created_at, b.updated_at \
     FROM batches b \
     JOIN endpoints s ON s.id = b.source_endpoint_id \
     JOIN endpoints t ON t.id = b.target_endpoint_id";

pub(crate) const USER_SELECT: &str = "SELECT u.id, u.batch_id, b.name AS batch_name, u.email, \
     u.source_login, (u.source_secret IS NOT NULL) AS has_source_secret, u.status, u.was_synced, \
     u.items_source, u.items_synced, u.items_skipped_bad, u.items_skipped_large, u.bytes_synced, \
     u.sync_started_at, u.last_sync_at, u.next_sync_at, u.last_error, u.csv_line, u.created_at, \
     u.updated_at \
     FROM migration_users u JOIN batches b ON b.id = u.batch_id";

pub(crate) const USER_ORDER: &str =
    " ORDER BY lower(b.name), b.name, (u.csv_line IS NULL), u.csv_line, lower(u.email), u.id";

pub(crate) const FOLDER_COLUMNS: &str =
    "user_id, source_folder, target_folder, source_uidvalidity, \
     target_uidvalidity, highest_modseq, last_seen_uid, subscribed, messages_source, \
     messages_synced, messages_skipped, bytes_synced, last_sync_at";

pub(crate) const INTENT_COLUMNS: &str =
    "source_folder, source_uidvalidity, source_uid, target_folder, \
     target_uidvalidity, target_uidnext, size, internal_date, sha256";

/// A user to insert, with its id and sealed secret prepared before the
/// transaction begins.
pub(crate) struct PreparedUser {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) source_login: String,
    pub(crate) sealed_secret: Option<Vec<u8>>,
    pub(crate) csv_line: i64,
}

/// Creates `dir` (and missing parents) with mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })
}

/// The place of a migration user's sealed source secret.
pub(crate) fn source_secret_at(id: &str) -> SealedAt<'_> {
    SealedAt::new("migration_users", id, "source_secret")
}

pub(crate) fn user_not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "migration user",
        name: id.to_owned(),
    }
}

/// The user's counter column for skipped items of this kind.
pub(crate) fn skipped_column(kind: SkipKind) -> &'static str {
    match kind {
        SkipKind::Bad => "items_skipped_bad",
        SkipKind::Large => "items_skipped_large",
    }
}

/// The message of a `Conflict`: how many clashes, the first few named.
pub(crate) fn conflict(emails: Vec<(String, String)>) -> StoreError {
    const SHOWN: usize = 10;
    let mut list: Vec<String> = emails
        .iter()
        .take(SHOWN)
        .map(|(email, batch)| format!("{email} (batch {batch})"))
        .collect();
    if emails.len() > SHOWN {
        list.push(format!("and {} more", emails.len() - SHOWN));
    }
    let message = format!(
        "{} already a user of an active batch: {}",
        if emails.len() == 1 {
            "1 address is".to_owned()
        } else {
            format!("{} addresses are", emails.len())
        },
        list.join(", ")
    );
    StoreError::Conflict { message, emails }
}

/// A stored status, parsed; anything else is corruption.
pub(crate) fn parse_status(user_id: &str, status: &str) -> Result<UserStatus, StoreError> {
    status.parse().map_err(|e: String| {
        StoreError::corrupt(format!("migration user {user_id:?}, column status: {e}"))
    })
}

/// A status after which no worker has anything left to do for the user:
/// a fenced transition to it gives the lease up.
pub(crate) fn is_settled(status: UserStatus) -> bool {
    matches!(
        status,
        UserStatus::Synced | UserStatus::Stopped | UserStatus::Failed | UserStatus::Completed
    )
}

pub(crate) fn lease_lost(user_id: &str) -> StoreError {
    StoreError::LeaseLost {
        user_id: user_id.to_owned(),
    }
}

/// The longest lease: beyond it a time-to-live is surely a mistake.
pub(crate) const MAX_LEASE_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

/// A lease's time-to-live in milliseconds.
pub(crate) fn ttl_ms(ttl: Duration) -> Result<i64, StoreError> {
    if ttl > MAX_LEASE_TTL {
        return Err(StoreError::Unsupported(format!(
            "a lease of {}s is too long (at most a year)",
            ttl.as_secs()
        )));
    }
    Ok(ttl.as_millis() as i64)
}

/// The concurrency of one endpoint during a claim: its limits and what the
/// live leases (plus this claim's) use of them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EndpointLoad {
    pub(crate) max_migrations: i64,
    pub(crate) max_incremental: i64,
    pub(crate) migrations: i64,
    pub(crate) incremental: i64,
}

impl EndpointLoad {
    pub(crate) fn has_room(&self, incremental: bool) -> bool {
        self.migrations < self.max_migrations
            && (!incremental || self.incremental < self.max_incremental)
    }
}

/// Where a claimable user stands in the claim order: Completing first,
/// then by the time it was queued, then CSV line (none last), then id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ClaimKey {
    pub(crate) completing_last: bool,
    pub(crate) updated_at: i64,
    pub(crate) no_csv_line: bool,
    pub(crate) csv_line: i64,
    pub(crate) id: String,
}

/// The claimable users of one batch with one `was_synced`, in claim order
/// (reversed: the next one is last).
pub(crate) struct ClaimStream {
    pub(crate) source: String,
    pub(crate) target: String,
    pub(crate) was_synced: bool,
    pub(crate) queue: Vec<ClaimKey>,
}

/// The endpoints a batch uses (one if source and target are the same).
pub(crate) fn batch_endpoints<'a>(source: &'a str, target: &'a str) -> Vec<&'a str> {
    if source == target {
        vec![source]
    } else {
        vec![source, target]
    }
}

/// The place of an endpoint's sealed administrator secret.
pub(crate) fn admin_secret_at(id: &str) -> SealedAt<'_> {
    SealedAt::new("endpoints", id, "admin_secret")
}

/// `NotFound` if an update by batch name touched no row.
pub(crate) fn batch_updated(rows: u64, batch: &str) -> Result<(), StoreError> {
    if rows == 0 {
        return Err(StoreError::NotFound {
            what: "batch",
            name: batch.to_owned(),
        });
    }
    Ok(())
}

/// An `api_tokens` row: id, name, created_at, last_used_at, revoked_at.
pub(crate) type TokenRow = (String, String, i64, Option<i64>, Option<i64>);

pub(crate) fn token_row(
    (id, name, created, used, revoked): (String, String, i64, Option<i64>, Option<i64>),
) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        created_at: from_ms(created, "api_tokens.created_at")?,
        last_used_at: used
            .map(|t| from_ms(t, "api_tokens.last_used_at"))
            .transpose()?,
        revoked_at: revoked
            .map(|t| from_ms(t, "api_tokens.revoked_at"))
            .transpose()?,
        id,
        name,
    })
}

/// Ids, sealed secrets and stored values of new users, ready before any
/// transaction begins (sealing is the slow part).
pub(crate) fn prepare_users(
    secrets: &SecretBox,
    users: Vec<NewMigrationUser>,
) -> Result<Vec<PreparedUser>, StoreError> {
    users
        .into_iter()
        .map(|u| {
            let id = new_id()?;
            let sealed_secret = match &u.source_secret {
                Some(secret) => Some(secrets.seal(secret, source_secret_at(&id))?),
                None => None,
            };
            Ok(PreparedUser {
                csv_line: to_i64(u.csv_line, "CSV line")?,
                email: u.email.as_str().to_owned(),
                source_login: u.source_login,
                sealed_secret,
                id,
            })
        })
        .collect()
}

/// Picks up to `max` users from the claimable `streams`, in claim order,
/// while every endpoint the user's batch uses has room in `load` (which
/// grows by each pick). Within a stream every user needs the same room of
/// the same endpoints, so once one does not fit, none of the rest does.
pub(crate) fn choose_claims(
    mut streams: Vec<ClaimStream>,
    load: &mut HashMap<String, EndpointLoad>,
    max: usize,
) -> Vec<String> {
    let mut chosen: Vec<String> = Vec::new();
    while chosen.len() < max {
        let Some(next) = streams
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.queue.last().map(|k| (i, k)))
            .min_by(|a, b| a.1.cmp(b.1))
            .map(|(i, _)| i)
        else {
            break;
        };
        let stream = &mut streams[next];
        let endpoints = batch_endpoints(&stream.source, &stream.target);
        let fits = endpoints
            .iter()
            .all(|e| load.get(*e).is_some_and(|l| l.has_room(stream.was_synced)));
        if !fits {
            stream.queue.clear(); // nor will the rest of this stream
            continue;
        }
        for e in endpoints {
            if let Some(l) = load.get_mut(e) {
                l.migrations += 1;
                l.incremental += i64::from(stream.was_synced);
            }
        }
        if let Some(key) = stream.queue.pop() {
            chosen.push(key.id);
        }
    }
    chosen
}

/// [`crate::Store::try_lead`] in one statement, the same in both dialects:
/// the leader row is created, renewed by its holder, or taken over once
/// expired (`$1` holder, `$2` now, `$3` the lease's end); a row comes back
/// exactly when `$1` leads afterwards.
pub(crate) const TRY_LEAD: &str = "INSERT INTO leader (id, holder, since, expires_at) \
     VALUES (1, $1, $2, $3) \
     ON CONFLICT (id) DO UPDATE SET \
     since = CASE WHEN leader.holder = excluded.holder THEN leader.since ELSE excluded.since END, \
     holder = excluded.holder, expires_at = excluded.expires_at \
     WHERE leader.holder = excluded.holder OR leader.expires_at <= excluded.since \
     RETURNING holder";
