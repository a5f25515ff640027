//! `/api/v1/endpoints`: the same rules as `mailferry endpoint …` (defaults
//! of SPEC section 2, plaintext only with `allow_plaintext`, a password only
//! with an administrator, create/set tested first).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mailferry_core::endpoint::{DEFAULT_MAX_CONCURRENT_INCREMENTAL, DEFAULT_MAX_CONCURRENT_MIGRATIONS};
use mailferry_core::{EmailAddress, EndpointKind, EndpointSettings, Impersonation, LoginFormat, Name, Secret, Security};
use mailferry_engine::endpoint::{EndpointChanges, EndpointSpec};
use mailferry_engine::views::EndpointView;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::wire::{
    EndpointCreate, EndpointSaved, EndpointSettingsInput, EndpointUpdate, ErrorBody, ImpersonationInput, Removed,
    SecurityInput, StoredTestQuery, TestReportView, TestResult,
};
use crate::AppState;

fn security(s: SecurityInput) -> Security {
    match s {
        SecurityInput::Tls => Security::Tls,
        SecurityInput::Starttls => Security::Starttls,
        SecurityInput::None => Security::None,
    }
}

fn mailbox(s: Option<&str>) -> Result<Option<EmailAddress>, ApiError> {
    s.map(|m| EmailAddress::parse(m).map_err(|e| ApiError::bad_request(format!("test_mailbox: {e}")))).transpose()
}

fn login_format(s: &str) -> Result<LoginFormat, ApiError> {
    LoginFormat::parse(s).map_err(|e| ApiError::bad_request(format!("login_format: {e}")))
}

fn ca_pem(s: Option<String>) -> Result<Option<String>, ApiError> {
    match s {
        Some(pem) if !pem.contains("-----BEGIN CERTIFICATE-----") => {
            Err(ApiError::bad_request("ca_pem holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)"))
        }
        other => Ok(other),
    }
}

fn secret(password: Option<String>) -> Option<Secret> {
    password.map(Secret::new)
}

/// Settings of a new endpoint, with the defaults of SPEC section 2.
fn spec(input: EndpointSettingsInput) -> Result<EndpointSpec, ApiError> {
    let security = input.security.map(security).unwrap_or(Security::Tls);
    if security == Security::None && !input.allow_plaintext {
        return Err(ApiError::bad_request("security none sends the password in clear; add \"allow_plaintext\": true to accept that"));
    }
    let method = input.impersonation.unwrap_or(ImpersonationInput::Authzid);
    if input.master_separator.is_some() && method != ImpersonationInput::MasterUser {
        return Err(ApiError::bad_request("master_separator only applies with impersonation master-user"));
    }
    let impersonation = Impersonation::from_parts(method.as_str(), input.master_separator.as_deref())
        .map_err(|e| ApiError::bad_request(format!("impersonation: {e}")))?;
    let login_format = match &input.login_format {
        Some(f) => login_format(f)?,
        None => LoginFormat::default(),
    };
    let migrations = input.max_concurrent_migrations.unwrap_or(DEFAULT_MAX_CONCURRENT_MIGRATIONS);
    let settings = EndpointSettings {
        kind: EndpointKind::Imap,
        host: input.host,
        port: input.port.unwrap_or(security.default_port()),
        security,
        admin_login: input.admin,
        impersonation,
        login_format,
        max_concurrent_migrations: migrations,
        max_concurrent_incremental: input
            .max_concurrent_incremental
            .unwrap_or(DEFAULT_MAX_CONCURRENT_INCREMENTAL.min(migrations)),
        ca_pem: ca_pem(input.ca_pem)?,
    };
    settings.validate(input.allow_plaintext).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let admin_secret = match (&settings.admin_login, input.password) {
        (Some(_), Some(p)) => Some(Secret::new(p)),
        (Some(admin), None) => return Err(ApiError::bad_request(format!("no password for {admin:?}: give \"password\""))),
        (None, Some(_)) => return Err(ApiError::bad_request("a password was given without \"admin\": give the login it belongs to")),
        (None, None) => None,
    };
    Ok(EndpointSpec {
        settings,
        admin_secret,
        test_mailbox: mailbox(input.test_mailbox.as_deref())?,
        allow_plaintext: input.allow_plaintext,
        skip_verification: false,
        discovered_from: None,
        trusted_hosts: Vec::new(),
    })
}

/// List endpoints (never a secret).
#[utoipa::path(get, path = "/api/v1/endpoints", tag = "endpoints",
    responses(
        (status = 200, description = "Every endpoint", body = Vec<EndpointView>),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<Vec<EndpointView>>, ApiError> {
    Ok(Json(s.engine.endpoints().await?.iter().map(EndpointView::from).collect()))
}

/// Create an endpoint: tested first (connect, TLS, login acting for the test
/// mailbox, open its INBOX); nothing is stored unless the test passes, or
/// `skip_verification` stores it unverified.
#[utoipa::path(post, path = "/api/v1/endpoints", tag = "endpoints",
    request_body(content = EndpointCreate, content_type = "application/json"),
    responses(
        (status = 201, description = "Created (the test that allowed it, if run)", body = EndpointSaved),
        (status = 400, description = "Invalid settings", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 409, description = "An endpoint of that name exists", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "The endpoint test failed; nothing stored (the report is in `error.report`)", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<EndpointCreate>,
) -> Result<(StatusCode, Json<EndpointSaved>), ApiError> {
    let (name, skip_verification, settings) = body.split();
    let name = Name::parse(&name).map_err(|e| ApiError::bad_request(format!("endpoint name {name:?}: {e}")))?;
    let mut spec = spec(settings)?;
    spec.skip_verification = skip_verification;
    let saved = s.engine.create_endpoint(name, spec).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointSaved { endpoint: (&saved.endpoint).into(), test: saved.test.as_ref().map(TestReportView::from) }),
    ))
}

/// Test settings without storing anything; the report says step by step
/// what worked and what failed.
#[utoipa::path(post, path = "/api/v1/endpoints/test", tag = "endpoints",
    request_body(content = EndpointSettingsInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The test ran; `passed` tells its outcome", body = TestResult),
        (status = 400, description = "Invalid settings", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn test_settings(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<EndpointSettingsInput>,
) -> Result<Json<TestResult>, ApiError> {
    let spec = spec(body)?;
    let report = s.engine.test_endpoint_spec(&spec).await?;
    Ok(Json(TestResult { passed: report.passed(), report: (&report).into() }))
}

/// Show one endpoint (never its secret).
#[utoipa::path(get, path = "/api/v1/endpoints/{name}", tag = "endpoints",
    params(("name" = String, Path, description = "Endpoint name")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        (status = 400, description = "Invalid path", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn show(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json((&s.engine.endpoint(&name).await?).into()))
}

/// Change an endpoint (same rules as `endpoint set`): a change that can
/// break a connection is tested first and nothing changes if it fails;
/// changing only the concurrency limits needs no test.
#[utoipa::path(patch, path = "/api/v1/endpoints/{name}", tag = "endpoints",
    params(("name" = String, Path, description = "Endpoint name")),
    request_body(content = EndpointUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated (the test that allowed it, if run)", body = EndpointSaved),
        (status = 400, description = "Invalid settings", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "The endpoint test failed; nothing changed", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<EndpointUpdate>,
) -> Result<Json<EndpointSaved>, ApiError> {
    if body.impersonation.is_some()
        && body.master_separator.is_some()
        && body.impersonation != Some(ImpersonationInput::MasterUser)
    {
        return Err(ApiError::bad_request("master_separator only applies with impersonation master-user"));
    }
    let changes = EndpointChanges {
        host: body.host,
        port: body.port,
        security: body.security.map(security),
        admin_login: body.admin,
        admin_secret: secret(body.password),
        impersonation: body.impersonation.map(|i| i.as_str().to_owned()),
        master_separator: body.master_separator,
        login_format: body.login_format.as_deref().map(login_format).transpose()?,
        max_concurrent_migrations: body.max_concurrent_migrations,
        max_concurrent_incremental: body.max_concurrent_incremental,
        ca_pem: ca_pem(body.ca_pem)?,
        test_mailbox: mailbox(body.test_mailbox.as_deref())?,
        allow_plaintext: body.allow_plaintext,
        skip_verification: body.skip_verification,
    };
    let saved = s.engine.set_endpoint(&name, changes).await?;
    Ok(Json(EndpointSaved { endpoint: (&saved.endpoint).into(), test: saved.test.as_ref().map(TestReportView::from) }))
}

/// Remove an endpoint; refused (409) while a batch uses it.
#[utoipa::path(delete, path = "/api/v1/endpoints/{name}", tag = "endpoints",
    params(("name" = String, Path, description = "Endpoint name")),
    responses(
        (status = 200, description = "Removed", body = Removed),
        (status = 400, description = "Invalid path", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
        (status = 409, description = "A batch uses it", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn remove(State(s): State<AppState>, ApiPath(name): ApiPath<String>) -> Result<Json<Removed>, ApiError> {
    let record = s.engine.endpoint(&name).await?;
    s.engine.remove_endpoint(&name).await?;
    Ok(Json(Removed { removed: record.name.to_string() }))
}

/// Test a stored endpoint with its stored settings and secret.
#[utoipa::path(post, path = "/api/v1/endpoints/{name}/test", tag = "endpoints",
    params(("name" = String, Path, description = "Endpoint name"), StoredTestQuery),
    responses(
        (status = 200, description = "The test ran; `passed` tells its outcome", body = TestResult),
        (status = 400, description = "Invalid input (e.g. no test mailbox known)", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn test_stored(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<StoredTestQuery>,
) -> Result<Json<TestResult>, ApiError> {
    let mailbox = mailbox(q.test_mailbox.as_deref())?;
    let report = s.engine.test_endpoint(&name, mailbox).await?;
    Ok(Json(TestResult { passed: report.passed(), report: (&report).into() }))
}
