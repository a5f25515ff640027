//! Endpoint operations: create (test first, store only on success), test,
//! list, show, set and remove.

use mailferry_core::endpoint::SettingsError;
use mailferry_core::{EmailAddress, EndpointSettings, Impersonation, LoginFormat, Name, Secret, Security};
use mailferry_store::{EndpointRecord, NewEndpoint};

use crate::endpoint_test::{self, TestInput, TestReport};
use crate::{Engine, EngineError};

/// Everything `endpoint create` (and `endpoint test` without a name) takes.
#[derive(Debug, Clone)]
pub struct EndpointSpec {
    pub settings: EndpointSettings,
    pub admin_secret: Option<Secret>,
    pub test_mailbox: Option<EmailAddress>,
    /// The administrator's explicit opt-in to `--security none`.
    pub allow_plaintext: bool,
    /// Store the endpoint without testing it; it is marked unverified.
    pub skip_verification: bool,
    /// How the settings were obtained, when discovered.
    pub discovered_from: Option<String>,
    /// Hosts outside the address's domain the administrator trusted for
    /// discovery (`--trust-host`); recorded with the endpoint.
    pub trusted_hosts: Vec<String>,
}

/// The changes `endpoint set` may make; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: Option<Security>,
    pub admin_login: Option<String>,
    pub admin_secret: Option<Secret>,
    pub impersonation: Option<String>,
    pub master_separator: Option<String>,
    pub login_format: Option<LoginFormat>,
    pub max_concurrent_migrations: Option<u32>,
    pub max_concurrent_incremental: Option<u32>,
    pub ca_pem: Option<String>,
    pub test_mailbox: Option<EmailAddress>,
    pub allow_plaintext: bool,
    pub skip_verification: bool,
}

impl EndpointChanges {
    /// True when only settings that cannot break a connection change, so
    /// the endpoint keeps its verified state without a new test.
    fn only_limits(&self) -> bool {
        self.host.is_none()
            && self.port.is_none()
            && self.security.is_none()
            && self.admin_login.is_none()
            && self.admin_secret.is_none()
            && self.impersonation.is_none()
            && self.master_separator.is_none()
            && self.login_format.is_none()
            && self.ca_pem.is_none()
            && self.test_mailbox.is_none()
    }
}

/// The result of `create` and `set`.
#[derive(Debug, Clone)]
pub struct EndpointSaved {
    pub endpoint: EndpointRecord,
    /// The test that allowed it; `None` when it was skipped or not needed.
    pub test: Option<TestReport>,
}

fn settings_error(e: SettingsError) -> EngineError {
    EngineError::InvalidInput(e.to_string())
}

impl Engine {
    /// Tests settings that are not stored (`endpoint test` with options).
    pub async fn test_endpoint_spec(&self, spec: &EndpointSpec) -> Result<TestReport, EngineError> {
        spec.settings.validate(spec.allow_plaintext).map_err(settings_error)?;
        let input = TestInput {
            settings: &spec.settings,
            admin_secret: spec.admin_secret.as_ref(),
            test_mailbox: spec.test_mailbox.as_ref(),
        };
        endpoint_test::run(&self.connection, &input).await
    }

    /// Tests a stored endpoint with its stored secret. `test_mailbox`
    /// overrides the stored test mailbox.
    pub async fn test_endpoint(
        &self,
        name: &str,
        test_mailbox: Option<EmailAddress>,
    ) -> Result<TestReport, EngineError> {
        let record = self.store.endpoint(name).await?;
        let secret = self.store.endpoint_secret(name).await?;
        let mailbox = match test_mailbox {
            Some(m) => Some(m),
            None => stored_test_mailbox(&record)?,
        };
        let input = TestInput {
            settings: &record.settings,
            admin_secret: secret.as_ref(),
            test_mailbox: mailbox.as_ref(),
        };
        endpoint_test::run(&self.connection, &input).await
    }

    /// Creates an endpoint: validates, tests (unless skipped) and stores it
    /// only if the test passed.
    pub async fn create_endpoint(&self, name: Name, spec: EndpointSpec) -> Result<EndpointSaved, EngineError> {
        spec.settings.validate(spec.allow_plaintext).map_err(settings_error)?;
        if self.store.endpoint(name.as_str()).await.is_ok() {
            return Err(EngineError::AlreadyExists { what: "endpoint", name: name.to_string() });
        }
        let test = if spec.skip_verification {
            None
        } else {
            let report = self.test_endpoint_spec(&spec).await?;
            if !report.passed() {
                return Err(EngineError::TestFailed(Box::new(report)));
            }
            Some(report)
        };
        let endpoint = self
            .store
            .create_endpoint(NewEndpoint {
                name,
                settings: spec.settings,
                admin_secret: spec.admin_secret,
                verified: test.is_some(),
                discovered_from: spec.discovered_from,
                trusted_hosts: spec.trusted_hosts,
                test_mailbox: spec.test_mailbox.map(|m| m.to_string()),
            })
            .await?;
        Ok(EndpointSaved { endpoint, test })
    }

    pub async fn endpoint(&self, name: &str) -> Result<EndpointRecord, EngineError> {
        Ok(self.store.endpoint(name).await?)
    }

    pub async fn endpoints(&self) -> Result<Vec<EndpointRecord>, EngineError> {
        Ok(self.store.endpoints().await?)
    }

    /// Changes an endpoint. A change that can affect the connection is
    /// tested first (unless `skip_verification`, which marks it unverified);
    /// if the test fails nothing changes.
    pub async fn set_endpoint(&self, name: &str, changes: EndpointChanges) -> Result<EndpointSaved, EngineError> {
        let record = self.store.endpoint(name).await?;
        let mut settings = record.settings.clone();
        if let Some(h) = &changes.host {
            settings.host = h.clone();
        }
        if let Some(p) = changes.port {
            settings.port = p;
        }
        if let Some(s) = changes.security {
            settings.security = s;
        }
        if let Some(a) = &changes.admin_login {
            settings.admin_login = Some(a.clone());
        }
        match (&changes.impersonation, &changes.master_separator) {
            (Some(method), sep) => {
                settings.impersonation = Impersonation::from_parts(method, sep.as_deref())
                    .map_err(EngineError::InvalidInput)?;
            }
            (None, Some(sep)) => match settings.impersonation {
                Impersonation::MasterUser { .. } => {
                    settings.impersonation = Impersonation::from_parts("master-user", Some(sep))
                        .map_err(EngineError::InvalidInput)?;
                }
                _ => {
                    return Err(EngineError::InvalidInput(
                        "--master-separator only applies with --impersonation master-user".into(),
                    ))
                }
            },
            (None, None) => {}
        }
        if let Some(f) = &changes.login_format {
            settings.login_format = f.clone();
        }
        if let Some(n) = changes.max_concurrent_migrations {
            settings.max_concurrent_migrations = n;
        }
        if let Some(n) = changes.max_concurrent_incremental {
            settings.max_concurrent_incremental = n;
        }
        if let Some(pem) = &changes.ca_pem {
            settings.ca_pem = Some(pem.clone());
        }
        // A stored plaintext endpoint was allowed once; keeping it needs no new opt-in.
        let plaintext_ok = changes.allow_plaintext || record.settings.security == Security::None;
        settings.validate(plaintext_ok).map_err(settings_error)?;

        let test_mailbox = match &changes.test_mailbox {
            Some(m) => Some(m.clone()),
            None => stored_test_mailbox(&record)?,
        };
        let (verified, test) = if changes.only_limits() {
            (record.verified, None)
        } else if changes.skip_verification {
            (false, None)
        } else {
            let stored_secret;
            let secret = match &changes.admin_secret {
                Some(s) => Some(s),
                None => {
                    stored_secret = self.store.endpoint_secret(name).await?;
                    stored_secret.as_ref()
                }
            };
            let input = TestInput { settings: &settings, admin_secret: secret, test_mailbox: test_mailbox.as_ref() };
            let report = endpoint_test::run(&self.connection, &input).await?;
            if !report.passed() {
                return Err(EngineError::TestFailed(Box::new(report)));
            }
            (true, Some(report))
        };
        let endpoint = self
            .store
            .update_endpoint(
                name,
                settings,
                changes.admin_secret,
                verified,
                test_mailbox.map(|m| m.to_string()),
            )
            .await?;
        Ok(EndpointSaved { endpoint, test })
    }

    /// Removes an endpoint; refused while a batch uses it.
    pub async fn remove_endpoint(&self, name: &str) -> Result<(), EngineError> {
        Ok(self.store.remove_endpoint(name).await?)
    }
}

fn stored_test_mailbox(record: &EndpointRecord) -> Result<Option<EmailAddress>, EngineError> {
    record
        .test_mailbox
        .as_deref()
        .map(EmailAddress::parse)
        .transpose()
        .map_err(|e| EngineError::InvalidInput(format!("the stored test mailbox is not valid: {e}")))
}
