//! Discovery as the engine uses it: from an address (and the
//! administrator's credentials, for Autodiscover) to endpoint settings, with
//! where they came from and why every other candidate was passed over; and
//! a batch created from an address instead of an endpoint (SPEC section 1.2).

use mailferry_core::csv_input::{self, CsvOptions};
use mailferry_core::endpoint::{DEFAULT_MAX_CONCURRENT_INCREMENTAL, DEFAULT_MAX_CONCURRENT_MIGRATIONS};
use mailferry_core::{EmailAddress, EndpointKind, EndpointSettings, Impersonation, LoginFormat, Name, Secret};
use mailferry_discovery::{Credentials, Discovery, DiscoveryConfig};

use crate::batch::{BatchCreated, BatchSpec};
use crate::endpoint::EndpointSpec;
use crate::endpoint_test::{self, TestInput};
use crate::{Engine, EngineError};

/// What discovery needs from the caller.
#[derive(Debug, Clone)]
pub struct DiscoverRequest {
    pub email: EmailAddress,
    /// The administrator, for Autodiscover's Basic authentication (over
    /// validated TLS only).
    pub admin_login: Option<String>,
    pub admin_secret: Option<Secret>,
    /// Hosts outside the address's domain the administrator accepts
    /// (`--trust-host`).
    pub trust_hosts: Vec<String>,
    pub allow_private_networks: bool,
}

impl Engine {
    fn discovery_config(&self, req: &DiscoverRequest) -> DiscoveryConfig {
        DiscoveryConfig {
            resolver: self.connection.resolver,
            extra_ca_pem: self.connection.extra_ca_pem.as_ref().map(|p| p.as_bytes().to_vec()),
            allow_private_networks: req.allow_private_networks,
            trust_hosts: req.trust_hosts.clone(),
            ..DiscoveryConfig::default()
        }
    }

    /// Finds the IMAP settings of an address.
    pub async fn discover(&self, req: &DiscoverRequest) -> Result<Discovery, EngineError> {
        let config = self.discovery_config(req);
        let credentials = match (&req.admin_login, &req.admin_secret) {
            (Some(login), Some(secret)) => Some(Credentials { login, password: secret.expose() }),
            _ => None,
        };
        mailferry_discovery::discover(&req.email, credentials, &config)
            .await
            .map_err(|e| EngineError::DiscoveryFailed(e.to_string()))
    }

    /// Creates a batch whose source endpoint is discovered from an address
    /// (SPEC section 1.2): the CSV is checked, the settings discovered, the
    /// source tested on the batch's test mailbox (readable) and the target
    /// (writable); then the endpoint is created from the discovered settings
    /// and the batch with it. If anything fails, nothing at all is stored,
    /// and the error says what failed and how to create the endpoint by hand.
    pub async fn create_batch_discovering_source(
        &self,
        spec: BatchSpec,
        discover: DiscoverRequest,
        impersonation: Impersonation,
        endpoint_name: Option<Name>,
    ) -> Result<(BatchCreated, Discovery), EngineError> {
        spec.options.folder_filter().map_err(EngineError::InvalidInput)?;
        let rows = csv_input::parse(&spec.csv, CsvOptions { ..spec.csv_options }).map_err(EngineError::Csv)?;
        let name = match endpoint_name {
            Some(n) => n,
            None => Name::parse(discover.email.domain()).map_err(|e| {
                EngineError::InvalidInput(format!("the domain cannot name the endpoint ({e}); give --name-endpoint"))
            })?,
        };
        if self.store.endpoint(name.as_str()).await.is_ok() {
            return Err(EngineError::AlreadyExists { what: "endpoint", name: name.to_string() });
        }
        let admin = discover
            .admin_login
            .clone()
            .ok_or_else(|| EngineError::InvalidInput("--source-admin is required with --source-email".into()))?;
        let method = impersonation.method_name();
        let by_hand = |host: &str, port: &str, security: &str| {
            format!(
                "mailferry endpoint create {name} --host {host} --port {port} --security {security} --admin {admin} \
                 --password-env VAR --impersonation {} --test-mailbox {}",
                method,
                spec.options.test_mailbox.clone().unwrap_or_else(|| rows[0].email.to_string())
            )
        };
        let found = match self.discover(&discover).await {
            Ok(d) => d,
            Err(EngineError::DiscoveryFailed(why)) => {
                return Err(EngineError::DiscoveryFailed(format!(
                    "{why}\nNothing was created. Create the source endpoint by hand, then the batch with --source NAME:\n  {}",
                    by_hand("HOST", "993", "tls")
                )))
            }
            Err(e) => return Err(e),
        };
        let f = &found.settings;
        let settings = EndpointSettings {
            kind: EndpointKind::Imap,
            host: f.host.clone(),
            port: f.port,
            security: f.security,
            admin_login: Some(admin.clone()),
            impersonation,
            login_format: f
                .login_format
                .as_deref()
                .and_then(|t| LoginFormat::parse(t).ok())
                .unwrap_or_default(),
            max_concurrent_migrations: DEFAULT_MAX_CONCURRENT_MIGRATIONS,
            max_concurrent_incremental: DEFAULT_MAX_CONCURRENT_INCREMENTAL,
            ca_pem: self.connection.extra_ca_pem.clone(),
        };
        let test_mailbox = match &spec.options.test_mailbox {
            Some(m) => EmailAddress::parse(m).map_err(|e| EngineError::InvalidInput(format!("--test-mailbox: {e}")))?,
            None => rows[0].email.clone(),
        };
        let report = endpoint_test::run(
            &self.connection,
            &TestInput { settings: &settings, admin_secret: discover.admin_secret.as_ref(), test_mailbox: Some(&test_mailbox) },
        )
        .await?;
        if !report.passed() {
            return Err(EngineError::DiscoveryFailed(format!(
                "discovered {}:{} ({}) from {}, but {}\nNothing was created. Fix the cause, or create the endpoint by hand:\n  {}",
                f.host,
                f.port,
                f.security,
                found.source,
                report.failure_summary(),
                by_hand(&f.host, &f.port.to_string(), f.security.as_str())
            )));
        }
        // The endpoint first (the batch refers to it), then the batch; if the
        // batch cannot be created, the endpoint goes again.
        let created = self
            .create_endpoint(
                name.clone(),
                EndpointSpec {
                    settings,
                    admin_secret: discover.admin_secret.clone(),
                    test_mailbox: Some(test_mailbox),
                    allow_plaintext: false,
                    skip_verification: true,
                    discovered_from: Some(found.source.clone()),
                    trusted_hosts: f.needs_trust.clone(),
                },
            )
            .await?;
        // It was tested just above; record that.
        self.store
            .update_endpoint(
                name.as_str(),
                created.endpoint.settings.clone(),
                None,
                true,
                created.endpoint.test_mailbox.clone(),
            )
            .await?;
        let spec = BatchSpec { source: name.to_string(), ..spec };
        match self.create_batch(spec).await {
            Ok(batch) => Ok((batch, found)),
            Err(e) => {
                if let Err(undo) = self.store.remove_endpoint(name.as_str()).await {
                    tracing::error!("could not remove endpoint {name} after the batch failed: {undo}");
                }
                Err(e)
            }
        }
    }
}

