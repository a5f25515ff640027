//! The dashboard's place: `GET /`. A placeholder until the dashboard is
//! built; it replaces [`routes`]. Static assets served here carry no data
//! and need no token (docs/decisions.md); every piece of data comes from
//! `/api/v1` with a token.

use axum::response::Html;
use axum::routing::get;
use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index))
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mailferry</title></head>\
         <body><h1>mailferry</h1><p>The dashboard comes here. Until then, use the API under \
         <code>/api/v1</code> (described by <code>/api/v1/openapi.json</code>) with a token from \
         <code>mailferry token create NAME</code>.</p></body></html>",
    )
}
