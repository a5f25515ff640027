//! The dashboard: `GET /` and its static assets under `/assets/{version}/…`
//! (plain HTML, CSS and ES modules from `crates/api/assets/`, embedded in the
//! binary). They carry no data and need no token (docs/decisions.md); every
//! piece of data comes from `/api/v1` with the token the page asks for once
//! and keeps in the browser's `localStorage`.
//!
//! Caching: the page itself is `no-cache` (revalidated with its ETag), and
//! names its assets under a version segment that is a hash of all of them,
//! so an asset under the current version is `immutable` for a year and a
//! new binary's page fetches new ones. An asset asked for under another
//! version is still served, but `no-cache`.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::AppState;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset { name: $name, content_type: $type, body: include_bytes!(concat!("../assets/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("ui.js", JS),
    asset!("signin.js", JS),
    asset!("batches.js", JS),
    asset!("batch.js", JS),
    asset!("user.js", JS),
    asset!("new-batch.js", JS),
    asset!("endpoints.js", JS),
    asset!("wizard.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
];

const INDEX_TEMPLATE: &str = include_str!("../assets/index.html");

/// The version segment of the asset URLs: the start of a SHA-256 over every asset.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    for a in ASSETS {
        h.update(a.name.as_bytes());
        h.update([0]);
        h.update(a.body);
    }
    hex(&h.finalize()[..6])
});

/// The page, with the asset URLs of this build.
static INDEX: LazyLock<(String, String)> = LazyLock::new(|| {
    let page = INDEX_TEMPLATE.replace("{{ASSETS}}", &format!("/assets/{}", *VERSION));
    let etag = format!("\"{}\"", hex(&Sha256::digest(page.as_bytes())[..8]));
    (page, etag)
});

/// Per asset, its ETag.
static ETAGS: LazyLock<Vec<String>> =
    LazyLock::new(|| ASSETS.iter().map(|a| format!("\"{}\"", hex(&Sha256::digest(a.body)[..8]))).collect());

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the page may load and talk to: itself only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/favicon.ico", get(favicon))
        .route("/assets/{version}/{file}", get(asset))
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn respond(headers: &HeaderMap, content_type: &'static str, cache: &'static str, etag: &str, body: Vec<u8>) -> Response {
    let etag = HeaderValue::from_str(etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    let common = [
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::ETAG, etag.clone()),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    ];
    if etag.to_str().is_ok_and(|e| not_modified(headers, e)) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ],
        body,
    )
        .into_response()
}

async fn index(headers: HeaderMap) -> Response {
    let (page, etag) = &*INDEX;
    respond(&headers, "text/html; charset=utf-8", "no-cache", etag, page.clone().into_bytes())
}

async fn favicon(headers: HeaderMap) -> Response {
    serve_asset(&headers, "favicon.svg", false)
}

async fn asset(headers: HeaderMap, Path((version, file)): Path<(String, String)>) -> Response {
    serve_asset(&headers, &file, version == *VERSION)
}

fn serve_asset(headers: &HeaderMap, file: &str, current: bool) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == file) else {
        return crate::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such dashboard asset").into_response();
    };
    let a = &ASSETS[i];
    let cache = if current { "public, max-age=31536000, immutable" } else { "no-cache" };
    respond(headers, a.content_type, cache, &ETAGS[i], a.body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_module_it_loads_and_they_exist() {
        let (page, _) = &*INDEX;
        assert!(page.contains("dashboard"));
        assert!(page.contains(&format!("/assets/{}/app.js", *VERSION)));
        assert!(!page.contains("{{ASSETS}}"));
        // Every relative import of every module names an embedded asset.
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).unwrap();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let spec = line.rsplit("from").next().unwrap().trim().trim_end_matches(';').trim_matches(['\'', '"']);
                let name = spec.trim_start_matches("./");
                assert!(ASSETS.iter().any(|x| x.name == name), "{}: imports {spec}, not embedded", a.name);
            }
        }
    }
}
