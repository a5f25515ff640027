//! The request log: method, path (never the query string, a header or a
//! body, so no token or password), status, duration and the name of the
//! token used. Also gives an error answered by the framework itself (an
//! empty 405, …) the API's error shape.

use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::TokenName;
use crate::wire::{ErrorBody, ErrorDetail};

pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = normalize_error(next.run(request).await);
    let status = response.status().as_u16();
    let token = response.extensions().get::<TokenName>().map(|t| t.0.clone()).unwrap_or_default();
    let ms = started.elapsed().as_millis() as u64;
    if status >= 500 {
        tracing::warn!(%method, %path, status, ms, token = %token, "request");
    } else {
        tracing::info!(%method, %path, status, ms, token = %token, "request");
    }
    response
}

fn normalize_error(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this resource does not support that method".to_owned()),
        StatusCode::NOT_FOUND => ("not_found", "no such resource".to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large".to_owned()),
        s if s.is_server_error() => ("internal", "internal error; see the server's log".to_owned()),
        s => ("invalid_input", s.canonical_reason().unwrap_or("bad request").to_owned()),
    };
    let body = ErrorBody { error: ErrorDetail { code: code.to_owned(), message, rows: None, report: None } };
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Response::from_parts(parts, Body::from(bytes))
}
