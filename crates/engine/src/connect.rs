//! From an endpoint's settings and credentials to an IMAP session acting for
//! one mailbox. This is the one place that knows how each impersonation
//! method turns into a login on the wire.

use mailferry_core::{EndpointSettings, Impersonation, Secret};
use mailferry_imap::{Auth, ConnectOptions, ImapError, Limits, Session, TlsTrust};

use crate::{ConnectionDefaults, EngineError};

/// The trust anchors for a connection to an endpoint: the system roots, the
/// global `--ca-file` of this command, and the endpoint's own stored CA.
pub fn trust_for(
    defaults: &ConnectionDefaults,
    settings: &EndpointSettings,
) -> Result<TlsTrust, EngineError> {
    let mut pem = String::new();
    for extra in [defaults.extra_ca_pem.as_deref(), settings.ca_pem.as_deref()]
        .into_iter()
        .flatten()
    {
        pem.push_str(extra);
        pem.push('\n');
    }
    let extra = (!pem.is_empty()).then_some(pem.as_bytes());
    TlsTrust::new(extra).map_err(|e| EngineError::InvalidInput(format!("the CA file cannot be used: {e}")))
}

/// Connection options for an endpoint. With a `--resolver`, the host is
/// looked up there (as discovery does) and connected to at those addresses;
/// TLS is still checked against the host name.
pub async fn connect_options(
    defaults: &ConnectionDefaults,
    settings: &EndpointSettings,
) -> Result<ConnectOptions, EngineError> {
    let mut options = ConnectOptions::new(settings.host.clone(), settings.port, settings.security, trust_for(defaults, settings)?);
    options.connect_timeout = defaults.connect_timeout;
    options.response_timeout = defaults.response_timeout;
    options.limits = Limits::default();
    if defaults.resolver.is_some() {
        let addrs = mailferry_discovery::resolve_host(&settings.host, defaults.resolver, defaults.connect_timeout)
            .await
            .map_err(|e| EngineError::Unreachable(e.to_string()))?;
        options.connect_to = Some(addrs.into_iter().map(|ip| std::net::SocketAddr::new(ip, settings.port)).collect());
    }
    Ok(options)
}

/// Who logs in, for whom: what the endpoint test reports and what a login
/// error names.
#[derive(Debug, Clone)]
pub struct LoginPlan {
    /// The identity that authenticates (the administrator, or the mailbox
    /// itself without impersonation; for master-user, `mailbox<sep>admin`).
    pub authenticate_as: String,
    /// The mailbox acted for, when it differs from `authenticate_as`.
    pub acting_for: Option<String>,
    pub method: &'static str,
}

impl LoginPlan {
    /// How an administrator reads it: `"admin" acting for "alice@x" (authzid)`.
    pub fn describe(&self) -> String {
        match &self.acting_for {
            Some(m) => format!("{:?} acting for {m:?} ({})", self.authenticate_as, self.method),
            None => format!("{:?} ({})", self.authenticate_as, self.method),
        }
    }
}

/// The login to use for the mailbox whose login is `mailbox_login` on an
/// endpoint with `settings`, as the administrator `admin_login` (or,
/// without impersonation, as `admin_login` itself: the mailbox's own login).
pub fn login_plan(
    settings: &EndpointSettings,
    admin_login: &str,
    mailbox_login: Option<String>,
) -> LoginPlan {
    match (&settings.impersonation, mailbox_login) {
        (Impersonation::Authzid, Some(login)) => LoginPlan {
            authenticate_as: admin_login.to_owned(),
            acting_for: Some(login),
            method: "authzid",
        },
        (Impersonation::MasterUser { separator }, Some(login)) => LoginPlan {
            authenticate_as: format!("{login}{separator}{admin_login}"),
            acting_for: Some(login),
            method: "master-user",
        },
        (imp, _) => LoginPlan {
            authenticate_as: admin_login.to_owned(),
            acting_for: None,
            method: imp.method_name(),
        },
    }
}

/// A mailbox logging in with its own credentials (a CSV row with a
/// password): no impersonation.
pub fn own_login_plan(login: &str) -> LoginPlan {
    LoginPlan { authenticate_as: login.to_owned(), acting_for: None, method: "own credentials" }
}

/// Connects and logs in as `plan` says.
pub async fn open_session(
    defaults: &ConnectionDefaults,
    settings: &EndpointSettings,
    plan: &LoginPlan,
    secret: &Secret,
) -> Result<Session, ImapError> {
    let options = connect_options(defaults, settings).await.map_err(|e| match e {
        EngineError::Unreachable(why) => ImapError::Resolve { host: settings.host.clone(), reason: why },
        other => ImapError::CaFile { reason: other.to_string() },
    })?;
    let mut session = Session::connect(&options).await?;
    session.authenticate(auth_for(plan, secret)).await?;
    Ok(session)
}

/// The wire authentication for a plan.
pub fn auth_for<'a>(plan: &'a LoginPlan, secret: &'a Secret) -> Auth<'a> {
    match (plan.method, &plan.acting_for) {
        ("authzid", Some(mailbox)) => Auth::Plain {
            authzid: Some(mailbox),
            authcid: &plan.authenticate_as,
            password: secret.expose(),
        },
        _ => Auth::Login { user: &plan.authenticate_as, password: secret.expose() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailferry_core::{EndpointKind, LoginFormat, Security};

    fn settings(imp: Impersonation) -> EndpointSettings {
        EndpointSettings {
            kind: EndpointKind::Imap,
            host: "h".into(),
            port: 993,
            security: Security::Tls,
            admin_login: Some("admin".into()),
            impersonation: imp,
            login_format: LoginFormat::parse("%EMAILLOCALPART%").unwrap(),
            max_concurrent_migrations: 20,
            max_concurrent_incremental: 10,
            ca_pem: None,
        }
    }

    use mailferry_core::EmailAddress;

    fn login_of(s: &EndpointSettings, m: &EmailAddress) -> Option<String> {
        Some(s.login_format.render(m))
    }

    #[test]
    fn each_method_builds_its_login() {
        let m = EmailAddress::parse("jane@example.org").unwrap();
        let a = settings(Impersonation::Authzid);
        let p = login_plan(&a, "admin", login_of(&a, &m));
        assert_eq!((p.authenticate_as.as_str(), p.acting_for.as_deref()), ("admin", Some("jane")));
        let s = settings(Impersonation::MasterUser { separator: "#".into() });
        let p = login_plan(&s, "admin", login_of(&s, &m));
        assert_eq!(p.authenticate_as, "jane#admin");
        let n = settings(Impersonation::None);
        let p = login_plan(&n, "jane", login_of(&n, &m));
        assert_eq!((p.authenticate_as.as_str(), p.acting_for), ("jane", None));
    }

    #[test]
    fn authzid_uses_sasl_plain_and_the_others_login() {
        let m = EmailAddress::parse("jane@example.org").unwrap();
        let secret = Secret::new("pw".into());
        let a = settings(Impersonation::Authzid);
        let p = login_plan(&a, "admin", login_of(&a, &m));
        assert!(matches!(auth_for(&p, &secret), Auth::Plain { authzid: Some("jane"), authcid: "admin", .. }));
        let s = settings(Impersonation::MasterUser { separator: "*".into() });
        let p = login_plan(&s, "admin", login_of(&s, &m));
        assert!(matches!(auth_for(&p, &secret), Auth::Login { user: "jane*admin", .. }));
    }
}
