//! Discovery of connection settings (SPEC section 5) for the endpoint
//! wizard: `POST /api/v1/discover` takes an address (and the
//! administrator's credentials, which only Autodiscover over validated TLS
//! receives) and answers with the settings found, where they came from, and
//! every candidate passed over and why. Nothing is stored. Merged into
//! `/api/v1` (behind the token check) by [`crate::router`].

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use mailferry_core::{EmailAddress, Secret};
use mailferry_engine::discover::DiscoverRequest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::wire::ErrorBody;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/discover", post(discover))
}

/// `POST /discover`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoverInput {
    /// An address of the mail system (e.g. the administrator's or a mailbox's).
    #[schema(example = "alice@example.com")]
    pub email: String,
    /// The administrator's login, for Exchange Autodiscover.
    pub admin: Option<String>,
    /// The administrator's password. Write-only: never returned.
    #[schema(write_only, format = Password)]
    pub password: Option<String>,
    /// Hosts outside the address's domain that may be used (and get the credentials).
    #[serde(default)]
    pub trust_hosts: Vec<String>,
    /// Accept private, loopback and link-local addresses.
    #[serde(default)]
    pub allow_private_networks: bool,
}

/// The settings found and how.
#[derive(Debug, Serialize, ToSchema)]
pub struct Discovered {
    pub host: String,
    pub port: u16,
    /// `tls` or `starttls` (plaintext settings are never proposed).
    pub security: &'static str,
    /// The login template, when the source said how a login is formed.
    pub login_format: Option<String>,
    /// Hosts outside the domain this result depends on (each was in `trust_hosts`).
    pub needs_trust: Vec<String>,
    /// Where the settings came from, as `method:what`.
    pub source: String,
    /// Every candidate tried, best-ranked first.
    pub trace: Vec<Candidate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Candidate {
    /// `autodiscover`, `autoconfig`, `srv` or `probe`.
    pub method: &'static str,
    /// The URL, DNS name or `host:port` tried.
    pub what: String,
    /// What became of it (found, passed over and why, …).
    pub outcome: String,
    /// True for the candidate whose settings were chosen.
    pub chosen: bool,
}

/// Discover the IMAP settings of an address; nothing is stored.
#[utoipa::path(post, path = "/api/v1/discover", tag = "endpoints",
    request_body(content = DiscoverInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Settings found, with their source and the candidates passed over", body = Discovered),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Nothing found (`discovery_failed`; the message lists every candidate)", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody)))]
pub async fn discover(State(s): State<AppState>, ApiJson(body): ApiJson<DiscoverInput>) -> Result<Json<Discovered>, ApiError> {
    let email = EmailAddress::parse(&body.email).map_err(|e| ApiError::bad_request(format!("email: {e}")))?;
    if body.password.is_some() && body.admin.is_none() {
        return Err(ApiError::bad_request("a password was given without \"admin\": give the login it belongs to"));
    }
    let request = DiscoverRequest {
        email,
        admin_login: body.admin,
        admin_secret: body.password.map(Secret::new),
        trust_hosts: body.trust_hosts,
        allow_private_networks: body.allow_private_networks,
    };
    let found = s.engine.discover(&request).await?;
    let chosen = found.source.clone();
    Ok(Json(Discovered {
        host: found.settings.host,
        port: found.settings.port,
        security: found.settings.security.as_str(),
        login_format: found.settings.login_format,
        needs_trust: found.settings.needs_trust,
        trace: found
            .trace
            .iter()
            .map(|t| {
                let outcome = t.outcome.to_string();
                Candidate {
                    method: t.method.as_str(),
                    chosen: outcome == "found",
                    what: t.what.clone(),
                    outcome,
                }
            })
            .collect(),
        source: chosen,
    }))
}
