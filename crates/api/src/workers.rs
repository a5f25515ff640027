//! `/api/v1/workers`: the worker processes sharing the store and the
//! mailboxes they hold a lease on.

use axum::extract::State;
use axum::Json;

use crate::error::ApiError;
use crate::wire::{ErrorBody, LeaseView, WorkerView, WorkersView};
use crate::AppState;

/// Workers (with their last heartbeat) and the live leases.
#[utoipa::path(get, path = "/api/v1/workers", tag = "workers",
    responses(
        (status = 200, description = "Workers and leases", body = WorkersView),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<WorkersView>, ApiError> {
    let store = s.engine.store();
    let workers = store.workers().await.map_err(mailferry_engine::EngineError::from)?;
    let leases = store.leases().await.map_err(mailferry_engine::EngineError::from)?;
    Ok(Json(WorkersView {
        workers: workers
            .into_iter()
            .map(|w| WorkerView {
                id: w.id,
                host: w.host,
                pid: w.pid,
                version: w.version,
                started_at: w.started_at,
                heartbeat_at: w.heartbeat_at,
                leases: w.leases,
            })
            .collect(),
        leases: leases
            .into_iter()
            .map(|l| LeaseView { email: l.email, batch: l.batch.to_string(), owner: l.owner, expires_at: l.expires_at })
            .collect(),
    }))
}
