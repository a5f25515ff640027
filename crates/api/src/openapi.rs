//! The OpenAPI document (`GET /api/v1/openapi.json`), generated from the
//! handlers' `#[utoipa::path]` and the types' `ToSchema`. Every operation
//! needs the bearer token unless it says otherwise (`/healthz`).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::wire::ErrorBody;
use crate::{batches, endpoints, users, workers};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mailferry API",
        description = "Mailbox migration: endpoints, batches, migration users, reports, verify. \
            Every operation but /healthz needs `Authorization: Bearer TOKEN` (`mailferry token create NAME`). \
            Errors are `{\"error\":{\"code\",\"message\"}}`. Secrets are write-only: no response contains one.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::healthz,
        document,
        endpoints::list, endpoints::create, endpoints::test_settings, endpoints::show, endpoints::update,
        endpoints::remove, endpoints::test_stored,
        batches::list, batches::create, batches::show, batches::start, batches::stop, batches::sync,
        batches::complete, batches::remove, batches::add_users, batches::report, batches::verify,
        users::list, users::show,
        workers::list,
        crate::discovery::discover,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "endpoints", description = "Mail servers and the administrator who acts for their mailboxes"),
        (name = "batches", description = "Mailboxes from a CSV copied from a source to a target endpoint"),
        (name = "users", description = "Migration users: one mailbox of a batch"),
        (name = "workers", description = "Worker processes and their leases"),
        (name = "service", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `mailferry token create NAME` (stored hashed)"))
                    .build(),
            ),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
        (status = 401, description = "No or bad token", body = ErrorBody)))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
