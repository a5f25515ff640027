//! DISCOVERY ROUTES GO HERE (to come, with the discovery of connection
//! settings, SPEC section 5): e.g. `POST /api/v1/endpoints/discover`. They
//! are merged into `/api/v1` (behind the token check) by [`crate::router`];
//! add their handlers to [`crate::openapi::ApiDoc`] too.

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
