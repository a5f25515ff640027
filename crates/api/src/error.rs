//! Errors as `{"error":{"code","message"}}` with a status per kind:
//! 400 bad input or CSV, 401 no or bad token, 404 not found, 409 conflict
//! (exists, in use, invalid state), 413 body too large, 415 wrong content
//! type, 422 endpoint test failed (with the report), 500 otherwise.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mailferry_engine::EngineError;

use crate::wire::{CsvRowError, ErrorBody, ErrorDetail, TestReportView};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Box<ErrorBody>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                error: ErrorDetail { code: code.to_owned(), message: message.into(), rows: None, report: None },
            }),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn code(&self) -> &str {
        &self.body.error.code
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = e.code();
        let status = match &e {
            EngineError::InvalidInput(_) | EngineError::Csv(_) => StatusCode::BAD_REQUEST,
            EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
            EngineError::AlreadyExists { .. }
            | EngineError::InUse { .. }
            | EngineError::Conflict(_)
            | EngineError::InvalidState(_) => StatusCode::CONFLICT,
            EngineError::TestFailed(_) | EngineError::TargetNotWritable { .. } | EngineError::DiscoveryFailed(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(code, "request failed: {e}");
        }
        let mut err = ApiError::new(status, code, e.to_string().trim_end());
        match &e {
            EngineError::Csv(rows) => {
                err.body.error.rows =
                    Some(rows.0.iter().map(|r| CsvRowError { line: r.line, reason: r.reason.clone() }).collect());
            }
            EngineError::TestFailed(report) => err.body.error.report = Some(TestReportView::from(report.as_ref())),
            _ => {}
        }
        err
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let mut response = (self.status, Json(*self.body)).into_response();
        if unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"mailferry\""));
        }
        response
    }
}

/// Unknown paths.
pub async fn not_found_fallback() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource; the API is under /api/v1 (see /api/v1/openapi.json)")
}
