//! # mailferry-api
//!
//! The HTTP API of `mailferry serve` (SPEC section 7): `/healthz`, the
//! resources under `/api/v1` (endpoints, batches, users, workers), the
//! OpenAPI document at `/api/v1/openapi.json`, and the dashboard's place at
//! `/`.
//!
//! ## Layout
//! - [`router`]: the whole application, given an [`AppState`].
//! - [`auth`]: bearer tokens (made by `mailferry token create`, stored as
//!   SHA-256 only) and the middleware that checks them.
//! - [`error`]: `{"error":{"code","message"}}` with the status of each
//!   engine error.
//! - [`extract`]: JSON, query and path extractors whose rejections are
//!   rendered as that same error shape; body limits.
//! - `endpoints`, `batches`, `users`, `workers`: the handlers, one engine
//!   call each.
//! - [`wire`]: request bodies and the response shapes that are not engine
//!   views (with their OpenAPI schemas).
//! - [`openapi`]: the OpenAPI document, generated from the handlers.
//! - [`dashboard`]: `GET /` (a placeholder; replaced by the dashboard).
//! - [`discovery`]: the place for the discovery routes (to come).
//!
//! ## Invariant
//! Thin: every decision is the engine's; a handler parses, calls, renders.
//! No response carries a secret; no log line carries a token or a body.

#![forbid(unsafe_code)]

pub mod auth;
mod batches;
pub mod dashboard;
pub mod discovery;
mod endpoints;
pub mod error;
pub mod extract;
mod logging;
pub mod openapi;
mod users;
pub mod wire;
mod workers;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use mailferry_engine::Engine;

pub use error::ApiError;

/// The largest JSON body accepted (1 MiB), except where a CSV travels inside.
pub const JSON_LIMIT: usize = 1024 * 1024;
/// The largest body of a route that takes a CSV: the CSV's own limit (10 MB)
/// plus room for the multipart framing and the other fields.
pub const CSV_BODY_LIMIT: usize = mailferry_core::csv_input::MAX_BYTES + 256 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    /// How long `DELETE /batches/{name}` waits for in-flight work to stop
    /// before it answers (the removal then finishes in the scheduler).
    pub remove_wait: Duration,
}

impl AppState {
    pub fn new(engine: Engine) -> Self {
        AppState { engine, remove_wait: Duration::from_secs(30) }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("remove_wait", &self.remove_wait).finish_non_exhaustive()
    }
}

/// The whole application: `/healthz` and the dashboard's static place need
/// no token; everything under `/api/v1` does.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/endpoints", get(endpoints::list).post(endpoints::create))
        .route("/endpoints/test", post(endpoints::test_settings))
        .route("/endpoints/{name}", get(endpoints::show).patch(endpoints::update).delete(endpoints::remove))
        .route("/endpoints/{name}/test", post(endpoints::test_stored))
        .route("/batches", get(batches::list).post(batches::create).layer(DefaultBodyLimit::max(CSV_BODY_LIMIT)))
        .route("/batches/{name}", get(batches::show).delete(batches::remove))
        .route("/batches/{name}/start", post(batches::start))
        .route("/batches/{name}/stop", post(batches::stop))
        .route("/batches/{name}/sync", post(batches::sync))
        .route("/batches/{name}/complete", post(batches::complete))
        .route("/batches/{name}/users", post(batches::add_users).layer(DefaultBodyLimit::max(CSV_BODY_LIMIT)))
        .route("/batches/{name}/report", get(batches::report))
        .route("/batches/{name}/verify", post(batches::verify))
        .route("/users", get(users::list))
        .route("/users/{email}", get(users::show))
        .route("/workers", get(workers::list))
        .merge(discovery::routes())
        .route("/openapi.json", get(openapi::document))
        .fallback(error::not_found_fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token))
        .layer(DefaultBodyLimit::max(JSON_LIMIT));

    Router::new()
        .route("/healthz", get(healthz))
        .nest("/api/v1", api)
        .merge(dashboard::routes())
        .fallback(error::not_found_fallback)
        .layer(axum::middleware::from_fn(logging::log_request))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Liveness: the process serves HTTP. No token, no data.
#[utoipa::path(get, path = "/healthz", tag = "service", security(()),
    responses((status = 200, description = "The server is running", body = wire::Health)))]
pub async fn healthz() -> axum::Json<wire::Health> {
    axum::Json(wire::Health { status: "ok" })
}
