//! One migration user: open both sides, plan the folders, copy each one;
//! retry what is transient, settle the user's status at the end.

use std::time::Duration;

use mailferry_core::folders::{plan_folders, FolderMapping, FolderSide, ListedFolder};
use mailferry_core::state::{UserEvent, UserStatus};
use mailferry_core::{EmailAddress, Secret};
use mailferry_imap::{ImapError, Session};
use mailferry_store::{FolderState, Lease, StoreError, UserCounters, UserRecord};

use super::folder::{sync_folder, FolderTotals};
use super::RunContext;
use crate::connect::{login_plan, open_session, own_login_plan, LoginPlan};
use crate::worker::StopFlag;

/// Why a user's sync ended early; the message becomes the user's `last_error`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    #[error("{side}: {source}")]
    Imap { side: &'static str, source: ImapError },
    #[error("{side}: login {login} failed: {source}")]
    Login { side: &'static str, login: String, source: ImapError },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
    /// Work stopped at a message boundary: asked by an administrator, by
    /// the process shutting down, or because the lease was lost.
    #[error("stopped: {0:?}")]
    Stopped(StopReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    Requested,
    Shutdown,
    LeaseLost,
}

impl SyncError {
    pub fn source_side(e: ImapError) -> Self {
        SyncError::Imap { side: "source", source: e }
    }
    pub fn target_side(e: ImapError) -> Self {
        SyncError::Imap { side: "target", source: e }
    }

    /// A failure that another attempt may not meet: the connection dropped,
    /// a server restarted, a response timed out.
    fn is_transient(&self) -> bool {
        let imap = match self {
            SyncError::Imap { source, .. } => source,
            // A login refused is not transient; a login that could not connect is.
            SyncError::Login { source, .. } => match source {
                ImapError::No { .. } | ImapError::Bad { .. } | ImapError::AuthMechanismUnavailable { .. } => return false,
                other => other,
            },
            SyncError::Store(StoreError::LeaseLost { .. }) => return false,
            _ => return false,
        };
        matches!(
            imap,
            ImapError::Connect { .. }
                | ImapError::Resolve { .. }
                | ImapError::Timeout { .. }
                | ImapError::Closed
                | ImapError::Io(_)
                | ImapError::Bye { .. }
                | ImapError::Greeting { .. }
                | ImapError::SessionBroken { .. }
        )
    }
}

/// Checked at every message boundary: is the work to stop?
pub(crate) struct Checkpoint<'a> {
    pub cx: &'a RunContext,
    pub user_id: &'a str,
    pub lease: Option<&'a Lease>,
    pub lease_ttl: Duration,
    pub shutdown: &'a StopFlag,
    pub lost: &'a StopFlag,
}

impl Checkpoint<'_> {
    pub async fn check(&self) -> Result<(), SyncError> {
        if self.lost.is_raised() {
            return Err(SyncError::Stopped(StopReason::LeaseLost));
        }
        if self.shutdown.is_raised() {
            return Err(SyncError::Stopped(StopReason::Shutdown));
        }
        // An administrator (perhaps in another process) asked to stop.
        if self.cx.engine.store().user(self.user_id).await?.status == UserStatus::Stopping {
            return Err(SyncError::Stopped(StopReason::Requested));
        }
        Ok(())
    }

    /// Right before messages are sent to the target: the lease must still be
    /// ours (a worker paused past its lease must not append what another
    /// worker may be appending now). Renewing it proves it.
    pub async fn confirm_lease(&self) -> Result<(), SyncError> {
        let Some(lease) = self.lease else { return Ok(()) };
        match self.cx.engine.store().renew_lease(lease, self.lease_ttl).await {
            Ok(_) => Ok(()),
            Err(StoreError::LeaseLost { .. }) => {
                self.lost.raise();
                Err(SyncError::Stopped(StopReason::LeaseLost))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Runs one user's sync and records its outcome; returns the final status.
pub(crate) async fn run_user(
    cx: &RunContext,
    user: UserRecord,
    lease: Option<&Lease>,
    lease_ttl: Duration,
    shutdown: &StopFlag,
    lost: &StopFlag,
) -> UserStatus {
    let store = cx.engine.store();
    if user.status == UserStatus::Stopping {
        // A stop asked for while its worker was lost: settle it.
        return settle(cx, &user, UserStatus::Stopping, UserStatus::Stopped, None, lease).await;
    }
    let begun = match user.status.apply(UserEvent::SyncBegan, user.was_synced) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(user = %user.email, "not synced: {e}");
            return user.status;
        }
    };
    if let Err(e) = store.transition_user(&user.id, user.status, begun, None, lease).await {
        tracing::info!(user = %user.email, "not synced: {e}");
        return user.status;
    }
    cx.progress.user_started(&user.email);
    let checkpoint = Checkpoint { cx, user_id: &user.id, lease, lease_ttl, shutdown, lost };
    let retry = &cx.engine.connection_defaults().retry;
    let mut attempt = 0u32;
    let result = loop {
        match sync_user(cx, &user, &checkpoint).await {
            Err(e) if e.is_transient() && attempt < retry.attempts => {
                attempt += 1;
                let delay = retry.base * 2u32.saturating_pow(attempt - 1);
                tracing::warn!(user = %user.email, attempt, "transient failure, retrying in {delay:?}: {e}");
                if let Err(stop) = wait_or_stop(&checkpoint, delay).await {
                    break Err(stop);
                }
            }
            other => break other,
        }
    };
    let (end, error) = match result {
        Ok(()) => match limits_exceeded(cx, &user).await {
            Some(why) => (UserStatus::Failed, Some(why)),
            None => (begun.apply(UserEvent::SyncFinished, true).unwrap_or(UserStatus::Synced), None),
        },
        Err(SyncError::Stopped(StopReason::LeaseLost)) => {
            // Another worker owns this mailbox now; nothing may be written.
            cx.progress.user_finished(&user.email, begun, Some("lease lost to another worker"));
            return begun;
        }
        Err(SyncError::Stopped(StopReason::Requested)) => {
            return settle(cx, &user, UserStatus::Stopping, UserStatus::Stopped, None, lease).await;
        }
        Err(SyncError::Stopped(StopReason::Shutdown)) => {
            let to = begun.apply(UserEvent::Interrupted, true).unwrap_or(UserStatus::Queued);
            return settle(cx, &user, begun, to, None, lease).await;
        }
        Err(e) => (UserStatus::Failed, Some(e.to_string())),
    };
    if end == UserStatus::Synced {
        if let Some(secs) = cx.options.incremental_interval_secs {
            let at = chrono::Utc::now() + chrono::Duration::seconds(secs as i64);
            if let Err(e) = store.set_next_sync(&user.id, Some(at), lease).await {
                tracing::warn!(user = %user.email, "cannot schedule the next sync: {e}");
            }
        }
    }
    let mut status = settle(cx, &user, begun, end, error, lease).await;
    // A completion asked for while this sync ran: the final sync follows.
    if status == UserStatus::Synced {
        if let Ok(batch) = store.batch(user.batch_name.as_str()).await {
            if batch.complete_requested_at.is_some()
                && store.transition_user(&user.id, UserStatus::Synced, UserStatus::Completing, None, None).await.is_ok()
            {
                status = UserStatus::Completing;
            }
        }
    }
    status
}

async fn wait_or_stop(checkpoint: &Checkpoint<'_>, delay: Duration) -> Result<(), SyncError> {
    let deadline = tokio::time::Instant::now() + delay;
    while tokio::time::Instant::now() < deadline {
        checkpoint.check().await?;
        tokio::time::sleep(Duration::from_millis(200).min(delay)).await;
    }
    Ok(())
}

/// Records the end of a pass (`from` → `to`); if an administrator asked to
/// stop meanwhile, the user settles as Stopped instead.
async fn settle(cx: &RunContext, user: &UserRecord, from: UserStatus, to: UserStatus, error: Option<String>, lease: Option<&Lease>) -> UserStatus {
    let store = cx.engine.store();
    let mut result = store.transition_user(&user.id, from, to, error.clone(), lease).await;
    if let Err(StoreError::StateChanged { actual, .. }) = &result {
        if *actual == UserStatus::Stopping {
            result = store.transition_user(&user.id, UserStatus::Stopping, UserStatus::Stopped, error.clone(), lease).await;
        }
    }
    let status = match result {
        Ok(rec) => rec.status,
        Err(e) => {
            tracing::error!(user = %user.email, "cannot record the end of the sync: {e}");
            return from;
        }
    };
    cx.progress.user_finished(&user.email, status, error.as_deref());
    status
}

/// The skipped-item limits of the batch, checked after a pass (every other
/// message is copied first, so a limit never costs more than it must).
async fn limits_exceeded(cx: &RunContext, user: &UserRecord) -> Option<String> {
    let now = cx.engine.store().user(&user.id).await.ok()?;
    let o = &cx.options;
    if now.items_skipped_bad > o.bad_item_limit {
        return Some(format!(
            "{} bad items were skipped (the target refused them); the batch allows {} (--bad-item-limit); see `mailferry user show {}`",
            now.items_skipped_bad, o.bad_item_limit, user.email
        ));
    }
    if now.items_skipped_large > o.large_item_limit {
        return Some(format!(
            "{} large items were skipped; the batch allows {} (--large-item-limit); see `mailferry user show {}`",
            now.items_skipped_large, o.large_item_limit, user.email
        ));
    }
    None
}

pub(crate) async fn open_source(cx: &RunContext, user: &UserRecord) -> Result<Session, SyncError> {
    let settings = &cx.source.settings;
    let (plan, secret): (LoginPlan, Secret) = if user.has_source_secret {
        let secret = cx
            .engine
            .store()
            .user_secret(&user.id)
            .await?
            .ok_or_else(|| SyncError::Other("the user's source password is missing from the store".into()))?;
        (own_login_plan(&user.source_login), secret)
    } else {
        let admin = settings.admin_login.as_deref().ok_or_else(|| {
            SyncError::Other(format!(
                "the source endpoint {} has no administrator and the CSV row has no password",
                cx.source.name
            ))
        })?;
        let secret = cx.source_secret.clone().ok_or_else(|| SyncError::Other("the source endpoint has no stored password".into()))?;
        (login_plan(settings, admin, Some(user.source_login.clone())), secret)
    };
    open_session(cx.engine.connection_defaults(), settings, &plan, &secret)
        .await
        .map_err(|e| SyncError::Login { side: "source", login: plan.describe(), source: e })
}

pub(crate) async fn open_target(cx: &RunContext, user: &UserRecord) -> Result<Session, SyncError> {
    let settings = &cx.target.settings;
    let admin = settings
        .admin_login
        .as_deref()
        .ok_or_else(|| SyncError::Other(format!("the target endpoint {} has no administrator", cx.target.name)))?;
    let secret = cx.target_secret.clone().ok_or_else(|| SyncError::Other("the target endpoint has no stored password".into()))?;
    let address = EmailAddress::parse(&user.email).map_err(|e| SyncError::Other(e.to_string()))?;
    let plan = login_plan(settings, admin, Some(settings.login_format.render(&address)));
    open_session(cx.engine.connection_defaults(), settings, &plan, &secret)
        .await
        .map_err(|e| SyncError::Login { side: "target", login: plan.describe(), source: e })
}

/// The folders of one side as the core's folder mapping wants them.
pub(crate) async fn folder_side(session: &mut Session) -> Result<FolderSide, ImapError> {
    let ns = session.namespace().await?;
    let personal = ns.personal.first();
    let listed = session.list("", "*").await?;
    let delimiter = personal.and_then(|p| p.delimiter).or_else(|| listed.iter().find_map(|f| f.delimiter));
    Ok(FolderSide {
        prefix: personal.map(|p| p.prefix.clone()).unwrap_or_default(),
        delimiter,
        utf8: false,
        folders: listed
            .into_iter()
            .map(|f| ListedFolder { wire_name: f.name, delimiter: f.delimiter, attributes: f.attributes })
            .collect(),
    })
}

async fn sync_user(cx: &RunContext, user: &UserRecord, checkpoint: &Checkpoint<'_>) -> Result<(), SyncError> {
    let lease = checkpoint.lease;
    let mut source = open_source(cx, user).await?;
    let mut target = open_target(cx, user).await?;
    // CONDSTORE makes an unchanged folder cost one STATUS.
    if source.capabilities().has("CONDSTORE") {
        source.enable(&["CONDSTORE"]).await.map_err(SyncError::source_side)?;
    }
    let source_side = folder_side(&mut source).await.map_err(SyncError::source_side)?;
    let mut target_side = folder_side(&mut target).await.map_err(SyncError::target_side)?;
    let filter = cx.options.folder_filter().map_err(SyncError::Other)?;
    let store = cx.engine.store();
    let mut states = store.folder_states(&user.id).await?;

    // Folders renamed on the source since the last pass move on the target too.
    let plan = plan_folders(&source_side, &target_side, &filter);
    if follow_renames(cx, user, &mut source, &mut target, &plan.mappings, &mut states, lease).await? {
        target_side = folder_side(&mut target).await.map_err(SyncError::target_side)?;
    }
    let plan = plan_folders(&source_side, &target_side, &filter);
    for note in &plan.notes {
        tracing::warn!(user = %user.email, "{note}");
    }

    // Apply the folder plan: create what is missing, carry subscriptions.
    for m in &plan.mappings {
        if !m.target_exists {
            match target.create(&m.target_wire).await {
                Ok(()) => {}
                Err(ImapError::No { code: Some(c), .. }) if c.eq_ignore_ascii_case("ALREADYEXISTS") => {}
                Err(e @ ImapError::No { .. }) => {
                    return Err(SyncError::Other(format!("target: cannot create folder {:?}: {e}", m.target_path)))
                }
                Err(e) => return Err(SyncError::target_side(e)),
            }
        }
        if m.subscribed {
            if let Err(e) = target.subscribe(&m.target_wire).await {
                tracing::warn!(user = %user.email, folder = %m.target_path, "subscription not carried over: {e}");
                if target.is_broken() {
                    return Err(SyncError::target_side(e));
                }
            }
        }
    }

    let mut totals = FolderTotals::default();
    for m in plan.mappings.iter().filter(|m| m.selectable) {
        checkpoint.check().await?;
        let state = states.iter().find(|s| s.source_folder == m.source_wire).cloned();
        sync_folder(cx, user, &mut source, &mut target, m, state, &mut totals, checkpoint).await?;
    }
    let now = store.user(&user.id).await?;
    store
        .set_user_counters(
            &user.id,
            UserCounters {
                items_source: totals.messages_source,
                items_synced: now.items_synced,
                items_skipped_bad: now.items_skipped_bad,
                items_skipped_large: now.items_skipped_large,
                bytes_synced: now.bytes_synced,
            },
            lease,
        )
        .await?;
    let _ = source.logout().await;
    let _ = target.logout().await;
    Ok(())
}

/// A source folder that is gone, whose copies are found again under a new
/// name (same UIDVALIDITY, and the UIDs it had are still there) was renamed:
/// the target folder is renamed alike and the recorded state follows, so
/// nothing is copied twice. Returns whether anything was renamed.
async fn follow_renames(
    cx: &RunContext,
    user: &UserRecord,
    source: &mut Session,
    target: &mut Session,
    mappings: &[FolderMapping],
    states: &mut Vec<FolderState>,
    lease: Option<&Lease>,
) -> Result<bool, SyncError> {
    let store = cx.engine.store();
    let gone: Vec<FolderState> = states
        .iter()
        .filter(|s| s.source_uidvalidity.is_some() && !mappings.iter().any(|m| m.source_wire == s.source_folder))
        .cloned()
        .collect();
    if gone.is_empty() {
        return Ok(false);
    }
    let mut renamed = false;
    let new_folders: Vec<&FolderMapping> =
        mappings.iter().filter(|m| m.selectable && !states.iter().any(|s| s.source_folder == m.source_wire)).collect();
    for m in new_folders {
        let status = source.status(&m.source_wire, &["UIDVALIDITY", "MESSAGES"]).await.map_err(SyncError::source_side)?;
        let Some(uidvalidity) = status.uidvalidity else { continue };
        for old in gone.iter().filter(|s| s.source_uidvalidity == Some(uidvalidity)) {
            let copied = store.copied_uids(&user.id, &old.source_folder, uidvalidity).await?;
            if copied.is_empty() {
                continue;
            }
            source.select(&m.source_wire, true).await.map_err(SyncError::source_side)?;
            let present = source
                .uid_search(&format!("UID {}", super::folder::uid_set(copied.iter().copied())))
                .await
                .map_err(SyncError::source_side)?;
            // Most of the copied UIDs still exist there (some may have been expunged).
            if present.len() * 10 < copied.len() * 9 {
                continue;
            }
            let Some(old_target) = old.target_folder.clone() else { continue };
            if old_target != m.target_wire {
                if m.target_exists {
                    continue; // the new name is taken on the target: copy normally
                }
                target.rename(&old_target, &m.target_wire).await.map_err(SyncError::target_side)?;
            }
            store.rename_folder_state(&user.id, &old.source_folder, &m.source_wire, &m.target_wire, lease).await?;
            tracing::info!(user = %user.email, from = %old.source_folder, to = %m.source_path, "folder renamed on the source; followed on the target");
            if let Some(s) = states.iter_mut().find(|s| s.source_folder == old.source_folder) {
                s.source_folder = m.source_wire.clone();
                s.target_folder = Some(m.target_wire.clone());
            }
            renamed = true;
            break;
        }
    }
    Ok(renamed)
}
