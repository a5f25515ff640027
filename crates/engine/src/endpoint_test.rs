//! The test of an endpoint (SPEC section 1.1): connect with TLS validated,
//! read the capabilities, log in as the administrator acting for a test
//! mailbox, open its INBOX and tell whether it is writable. Each step is
//! reported; the first that fails stops the test and says why, in words an
//! administrator can act on.

use std::fmt;

use mailferry_core::{EmailAddress, EndpointSettings, Impersonation, Secret, Security};
use mailferry_imap::{ConnectFailure, ImapError, Session};
use serde::Serialize;

use crate::connect::{auth_for, connect_options, login_plan, LoginPlan};
use crate::{ConnectionDefaults, EngineError};

/// The steps of an endpoint test, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Resolve,
    Connect,
    Tls,
    Greeting,
    Capabilities,
    Login,
    OpenInbox,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Resolve => "resolve",
            Step::Connect => "connect",
            Step::Tls => "tls",
            Step::Greeting => "greeting",
            Step::Capabilities => "capabilities",
            Step::Login => "login",
            Step::OpenInbox => "open-inbox",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub step: Step,
    pub ok: bool,
    pub detail: String,
}

/// The outcome of an endpoint test.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// `host:port` as tested.
    pub server: String,
    pub steps: Vec<StepResult>,
    /// Whether the test mailbox's INBOX opened `[READ-WRITE]`; `None` when
    /// the test did not get that far.
    pub writable: Option<bool>,
}

impl TestReport {
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.ok) && self.writable.is_some()
    }

    pub fn failed_step(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| !s.ok)
    }

    /// One sentence for an error line: the failed step and its cause.
    pub fn failure_summary(&self) -> String {
        match self.failed_step() {
            Some(s) => format!("endpoint test failed at step {}: {}", s.step, s.detail),
            None => "endpoint test did not finish".to_owned(),
        }
    }

    fn ok(&mut self, step: Step, detail: impl Into<String>) {
        self.steps.push(StepResult { step, ok: true, detail: detail.into() });
    }

    fn fail(&mut self, step: Step, detail: impl Into<String>) {
        self.steps.push(StepResult { step, ok: false, detail: detail.into() });
    }
}

/// What to test: the settings, the administrator's secret and the mailbox to
/// act for.
pub struct TestInput<'a> {
    pub settings: &'a EndpointSettings,
    pub admin_secret: Option<&'a Secret>,
    pub test_mailbox: Option<&'a EmailAddress>,
}

/// Checks that a test can run at all with these inputs (a missing mailbox
/// or password is bad input, not a failed test).
pub fn check_input(input: &TestInput<'_>) -> Result<(), EngineError> {
    let needs_mailbox = !matches!(input.settings.impersonation, Impersonation::None);
    if needs_mailbox && input.test_mailbox.is_none() {
        return Err(EngineError::InvalidInput(format!(
            "the test acts as the administrator for a mailbox: give one with --test-mailbox ADDRESS \
             (impersonation {})",
            input.settings.impersonation.method_name()
        )));
    }
    if input.settings.admin_login.is_some() && input.admin_secret.is_none() {
        return Err(EngineError::InvalidInput(
            "the test logs in, so it needs the password: give --password-env VAR or --password-file FILE"
                .into(),
        ));
    }
    Ok(())
}

/// Runs the test. Never stores anything.
pub async fn run(defaults: &ConnectionDefaults, input: &TestInput<'_>) -> Result<TestReport, EngineError> {
    check_input(input)?;
    let settings = input.settings;
    let options = match connect_options(defaults, settings).await {
        Ok(o) => o,
        Err(EngineError::Unreachable(why)) => {
            let mut report = TestReport { server: format!("{}:{}", settings.host, settings.port), steps: Vec::new(), writable: None };
            report.fail(Step::Resolve, why);
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    let mut report = TestReport {
        server: format!("{}:{}", settings.host, settings.port),
        steps: Vec::new(),
        writable: None,
    };

    let mut session = match Session::connect(&options).await {
        Ok(s) => s,
        Err(e) => {
            report_connect_failure(&mut report, settings, &e);
            return Ok(report);
        }
    };
    let peer = session.peer_addr();
    report.ok(Step::Resolve, format!("{} is {}", settings.host, peer.ip()));
    report.ok(Step::Connect, format!("connected to {peer}"));
    match settings.security {
        Security::Tls => report.ok(Step::Tls, format!("TLS, certificate valid for {}", settings.host)),
        Security::Starttls => {
            report.ok(Step::Tls, format!("STARTTLS, certificate valid for {}", settings.host))
        }
        Security::None => report.ok(Step::Tls, "no encryption (--allow-plaintext)"),
    }
    report.ok(Step::Greeting, excerpt(session.greeting()));

    let caps = session.capabilities();
    if !caps.has("IMAP4rev1") && !caps.has("IMAP4rev2") {
        report.fail(Step::Capabilities, "the server does not announce IMAP4rev1: it is not an IMAP server mailferry can use");
        return Ok(report);
    }
    if matches!(settings.impersonation, Impersonation::Authzid) && !caps.has_auth("PLAIN") {
        report.fail(
            Step::Capabilities,
            "the server does not offer AUTHENTICATE PLAIN, which impersonation authzid needs \
             (try --impersonation master-user if it supports master users)",
        );
        return Ok(report);
    }
    report.ok(Step::Capabilities, excerpt(&caps.list().join(" ")));

    let Some(admin) = settings.admin_login.as_deref() else {
        // Without impersonation and without a test login there is nobody to log in as.
        report.writable = Some(false);
        report.ok(Step::Login, "skipped: no login given (each mailbox brings its own credentials)");
        let _ = session.logout().await;
        return Ok(report);
    };
    let secret = input.admin_secret.expect("checked by check_input");
    let plan = login_plan(settings, admin, input.test_mailbox.map(|m| settings.login_format.render(m)));
    if let Err(e) = session.authenticate(auth_for(&plan, secret)).await {
        let diagnosis = diagnose_refused_login(&options, &plan, admin, secret, &e).await;
        report.fail(Step::Login, login_failure(&plan, &e, diagnosis));
        return Ok(report);
    }
    report.ok(Step::Login, format!("logged in as {}", plan.describe()));

    let whose = plan.acting_for.as_deref().unwrap_or(&plan.authenticate_as).to_owned();
    match session.select("INBOX", false).await {
        Ok(info) => {
            report.writable = Some(info.read_write);
            let mode = if info.read_write { "read-write" } else { "read-only" };
            report.ok(Step::OpenInbox, format!("INBOX of {whose:?}: {} messages, {mode}", info.exists));
        }
        Err(e) => report.fail(
            Step::OpenInbox,
            format!("the INBOX of mailbox {whose:?} cannot be opened (does the mailbox exist?): {}", e),
        ),
    }
    let _ = session.logout().await;
    Ok(report)
}

/// Sorts a failure of `Session::connect` into its step, with the steps before
/// it marked as passed.
fn report_connect_failure(report: &mut TestReport, settings: &EndpointSettings, e: &ImapError) {
    let host = &settings.host;
    let port = settings.port;
    let passed_before = |report: &mut TestReport, upto: Step| {
        for step in [Step::Resolve, Step::Connect, Step::Tls, Step::Greeting] {
            if step == upto {
                break;
            }
            report.ok(step, "ok");
        }
    };
    let (step, detail) = match e {
        ImapError::Resolve { reason, .. } => (
            Step::Resolve,
            format!("the name {host} could not be resolved ({reason}); check the host name and DNS"),
        ),
        ImapError::Connect { addr, failure, .. } => (
            Step::Connect,
            match failure {
                ConnectFailure::Refused => format!(
                    "connection to {addr} was refused: nothing listens on port {port} there (check the port and the security setting)"
                ),
                ConnectFailure::TimedOut => format!(
                    "connection to {addr} timed out: the host does not answer on port {port} (a firewall may drop the packets)"
                ),
                other => format!("connection to {addr} failed: {other}"),
            },
        ),
        ImapError::Tls { reason, .. } => (
            Step::Tls,
            format!("TLS with {host}:{port} failed: {reason}"),
        ),
        ImapError::StartTlsNotOffered => (
            Step::Tls,
            format!("{host}:{port} does not offer STARTTLS; try --security tls with port 993"),
        ),
        ImapError::StartTlsRefused { text } => {
            (Step::Tls, format!("{host}:{port} refused STARTTLS: {text}"))
        }
        ImapError::Greeting { detail } => (
            Step::Greeting,
            format!("{host}:{port} did not greet like an IMAP server: {detail}"),
        ),
        ImapError::Timeout { waiting_for } => (
            Step::Greeting,
            format!("{host}:{port} accepted the connection but did not answer in time (waiting for {waiting_for}); is it an IMAP port, and is the security setting right?"),
        ),
        other => (Step::Greeting, format!("{host}:{port}: {other}")),
    };
    passed_before(report, step);
    report.fail(step, detail);
}

/// When the impersonated login is refused, a second login as the
/// administrator alone tells "the administrator's password is wrong" apart
/// from "the administrator may not act for this mailbox / it does not exist"
/// — on servers where the administrator can log in as itself. Returns a
/// sentence for the report, if the diagnosis learned anything.
async fn diagnose_refused_login(
    options: &mailferry_imap::ConnectOptions,
    plan: &LoginPlan,
    admin: &str,
    secret: &Secret,
    e: &ImapError,
) -> Option<String> {
    let mailbox = plan.acting_for.as_deref()?;
    if !matches!(e, ImapError::No { .. }) {
        return None;
    }
    let mut session = Session::connect(options).await.ok()?;
    let result = session
        .authenticate(mailferry_imap::Auth::Login { user: admin, password: secret.expose() })
        .await;
    let _ = session.logout().await;
    match result {
        Ok(()) => Some(format!(
            "the administrator's own login {admin:?} works, so the mailbox {mailbox:?} does not exist \
             or the administrator may not act for it"
        )),
        Err(_) => None,
    }
}

fn login_failure(plan: &LoginPlan, e: &ImapError, diagnosis: Option<String>) -> String {
    let server = match e {
        ImapError::No { text, code, .. } => match code {
            Some(c) => format!("[{c}] {text}"),
            None => text.clone(),
        },
        other => other.to_string(),
    };
    let mut msg = match (&plan.acting_for, e) {
        (Some(mailbox), ImapError::No { code: Some(c), .. }) if c.eq_ignore_ascii_case("AUTHORIZATIONFAILED") => format!(
            "the administrator's login {:?} was accepted, but acting for mailbox {mailbox:?} was refused \
             (the mailbox does not exist or the administrator may not act for it)",
            plan.authenticate_as
        ),
        (Some(mailbox), ImapError::No { .. }) => format!(
            "the server refused the login {} — the administrator's password may be wrong, the mailbox \
             {mailbox:?} may not exist, or the administrator may not act for it",
            plan.describe()
        ),
        (None, ImapError::No { .. }) => format!(
            "the server refused the login {}: the login or the password is wrong",
            plan.describe()
        ),
        _ => format!("the login {} failed", plan.describe()),
    };
    if let Some(d) = diagnosis {
        msg = format!("{msg}; {d}");
    }
    format!("{msg} (server said: {server})")
}

/// At most one line of 120 characters, for greetings and capability lists.
fn excerpt(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > 120 {
        let cut: String = line.chars().take(117).collect();
        format!("{cut}...")
    } else {
        line.to_owned()
    }
}
