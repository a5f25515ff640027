//! The JSON shapes returned by the CLI's `--json` and by the API (SPEC
//! section 6). Fields may be added, never renamed. No view has a field that
//! could hold a secret.

use chrono::{DateTime, Utc};
use serde::Serialize;

use mailferry_store::EndpointRecord;

/// `endpoint show` and each element of `endpoint list`.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    pub name: String,
    pub kind: &'static str,
    pub host: String,
    pub port: u16,
    pub security: &'static str,
    pub impersonation: &'static str,
    pub verified: bool,
    pub discovered_from: Option<String>,
    pub admin: Option<String>,
    pub master_separator: Option<String>,
    pub login_format: String,
    pub test_mailbox: Option<String>,
    pub max_concurrent_migrations: u32,
    pub max_concurrent_incremental: u32,
    /// Whether an extra CA is stored for this endpoint (the PEM itself is
    /// public, but long; `true` is what an administrator needs to know).
    pub has_ca: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&EndpointRecord> for EndpointView {
    fn from(r: &EndpointRecord) -> Self {
        let s = &r.settings;
        EndpointView {
            name: r.name.to_string(),
            kind: s.kind.as_str(),
            host: s.host.clone(),
            port: s.port,
            security: s.security.as_str(),
            impersonation: s.impersonation.method_name(),
            verified: r.verified,
            discovered_from: r.discovered_from.clone(),
            admin: s.admin_login.clone(),
            master_separator: s.impersonation.separator().map(str::to_owned),
            login_format: s.login_format.as_str().to_owned(),
            test_mailbox: r.test_mailbox.clone(),
            max_concurrent_migrations: s.max_concurrent_migrations,
            max_concurrent_incremental: s.max_concurrent_incremental,
            has_ca: s.ca_pem.is_some(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
