//! One migration user: open both sides, plan the folders, copy each one.

use mailferry_core::folders::{plan_folders, FolderSide, ListedFolder};
use mailferry_core::state::{UserEvent, UserStatus};
use mailferry_core::{EmailAddress, Secret};
use mailferry_imap::{ImapError, Session};
use mailferry_store::{StoreError, UserCounters, UserRecord};

use super::folder::{sync_folder, FolderTotals};
use super::RunContext;
use crate::connect::{login_plan, open_session, own_login_plan, LoginPlan};

/// Why a user's sync stopped; the message becomes the user's `last_error`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    #[error("{side}: {source}")]
    Imap { side: &'static str, source: ImapError },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

impl SyncError {
    pub fn source_side(e: ImapError) -> Self {
        SyncError::Imap { side: "source", source: e }
    }
    pub fn target_side(e: ImapError) -> Self {
        SyncError::Imap { side: "target", source: e }
    }
}

/// Runs one user's sync and records its outcome; returns the final status.
pub(crate) async fn run_user(cx: &RunContext, user: UserRecord) -> UserStatus {
    let store = cx.engine.store();
    let begun = match user.status.apply(UserEvent::SyncBegan, user.was_synced) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(user = %user.email, "not synced: {e}");
            return user.status;
        }
    };
    if let Err(e) = store.transition_user(&user.id, user.status, begun, None).await {
        // Someone else changed it (stopped, or another worker took it).
        tracing::info!(user = %user.email, "not synced: {e}");
        return user.status;
    }
    cx.progress.user_started(&user.email);
    let result = sync_user(cx, &user).await;
    let (event, error) = match &result {
        Ok(()) => match limits_exceeded(cx, &user).await {
            Some(why) => (UserEvent::SyncFailed, Some(why)),
            None => (UserEvent::SyncFinished, None),
        },
        Err(e) => (UserEvent::SyncFailed, Some(e.to_string())),
    };
    let end = begun.apply(event, true).unwrap_or(UserStatus::Failed);
    let status = match store.transition_user(&user.id, begun, end, error.clone()).await {
        Ok(rec) => rec.status,
        Err(e) => {
            tracing::error!(user = %user.email, "cannot record the end of the sync: {e}");
            UserStatus::Failed
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

async fn open_source(cx: &RunContext, user: &UserRecord) -> Result<Session, SyncError> {
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
        .map_err(|e| SyncError::Other(format!("source: login {} failed: {e}", plan.describe())))
}

async fn open_target(cx: &RunContext, user: &UserRecord) -> Result<Session, SyncError> {
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
        .map_err(|e| SyncError::Other(format!("target: login {} failed: {e}", plan.describe())))
}

/// The folders of one side as the core's folder mapping wants them.
async fn folder_side(session: &mut Session) -> Result<FolderSide, ImapError> {
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

async fn sync_user(cx: &RunContext, user: &UserRecord) -> Result<(), SyncError> {
    let mut source = open_source(cx, user).await?;
    let mut target = open_target(cx, user).await?;
    let source_side = folder_side(&mut source).await.map_err(SyncError::source_side)?;
    let target_side = folder_side(&mut target).await.map_err(SyncError::target_side)?;
    let filter = cx.options.folder_filter().map_err(SyncError::Other)?;
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
                Err(e) => return Err(SyncError::Other(format!("target: cannot create folder {:?}: {e}", m.target_path))),
            }
        }
        if m.subscribed {
            if let Err(e) = target.subscribe(&m.target_wire).await {
                tracing::warn!(user = %user.email, folder = %m.target_path, "subscription not carried over: {e}");
            }
        }
    }

    let store = cx.engine.store();
    let states = store.folder_states(&user.id).await?;
    let mut totals = FolderTotals::default();
    for m in plan.mappings.iter().filter(|m| m.selectable) {
        let state = states.iter().find(|s| s.source_folder == m.source_wire).cloned();
        sync_folder(cx, user, &mut source, &mut target, m, state, &mut totals).await?;
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
        )
        .await?;
    let _ = source.logout().await;
    let _ = target.logout().await;
    Ok(())
}
