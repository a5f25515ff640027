//! `mailferry endpoint …`

use std::process::ExitCode;

use mailferry_core::endpoint::{DEFAULT_MAX_CONCURRENT_INCREMENTAL, DEFAULT_MAX_CONCURRENT_MIGRATIONS};
use mailferry_core::{EmailAddress, EndpointKind, EndpointSettings, Impersonation, LoginFormat, Name, Secret, Security};
use mailferry_engine::discover::DiscoverRequest;
use mailferry_engine::endpoint::{EndpointChanges, EndpointSpec};
use mailferry_engine::views::EndpointView;

use crate::args::{ConnectionArgs, EndpointCommand, PasswordArgs};
use crate::context::Context;
use crate::failure::Failure;
use crate::output;
use crate::password::SecretSource;

pub async fn run(ctx: &Context, cmd: EndpointCommand) -> Result<ExitCode, Failure> {
    match cmd {
        EndpointCommand::Create(args) => {
            let name = Name::parse(&args.name)
                .map_err(|e| Failure::usage(format!("endpoint name {:?}: {e}", args.name)))?;
            let mut spec = spec_from_args(ctx, &args.connection).await?;
            spec.skip_verification = args.skip_verification;
            let saved = ctx.engine.create_endpoint(name, spec).await?;
            let view = EndpointView::from(&saved.endpoint);
            if ctx.json {
                output::json(&serde_json::json!({ "endpoint": view, "test": saved.test }));
            } else {
                if let Some(report) = &saved.test {
                    output::print_report(report);
                }
                let state = if view.verified { "verified" } else { "unverified: not tested" };
                println!("Endpoint {:?} created ({state}).", view.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        EndpointCommand::Test(args) => {
            let settings_given = args.connection.host.is_some() || args.connection.autodiscover;
            let report = match (&args.name, settings_given) {
                (Some(_), true) => {
                    return Err(Failure::usage(
                        "give either the NAME of a stored endpoint or its settings (--host …), not both",
                    ))
                }
                (Some(name), false) => {
                    reject_settings_for_stored(&args.connection)?;
                    let mailbox = parse_mailbox(args.connection.test_mailbox.as_deref())?;
                    ctx.engine.test_endpoint(name, mailbox).await?
                }
                (None, true) => {
                    let spec = spec_from_args(ctx, &args.connection).await?;
                    ctx.engine.test_endpoint_spec(&spec).await?
                }
                (None, false) => {
                    return Err(Failure::usage("give the NAME of a stored endpoint, or --host and the other settings"))
                }
            };
            let passed = report.passed();
            if ctx.json {
                output::json(&serde_json::json!({ "passed": passed, "report": report }));
            } else {
                output::print_report(&report);
                println!("{}", if passed { "Endpoint test passed." } else { "Endpoint test FAILED." });
            }
            if passed {
                Ok(ExitCode::SUCCESS)
            } else {
                // The report is already on stdout; the error line says which step failed.
                Err(Failure { code: "endpoint_test_failed", message: report.failure_summary(), exit: 1, report: None })
            }
        }
        EndpointCommand::List => {
            let endpoints = ctx.engine.endpoints().await?;
            let views: Vec<EndpointView> = endpoints.iter().map(EndpointView::from).collect();
            if ctx.json {
                output::json(&views);
            } else {
                output::endpoint_table(&views);
            }
            Ok(ExitCode::SUCCESS)
        }
        EndpointCommand::Show { name } => {
            let view = EndpointView::from(&ctx.engine.endpoint(&name).await?);
            if ctx.json {
                output::json(&view);
            } else {
                output::endpoint_details(&view);
            }
            Ok(ExitCode::SUCCESS)
        }
        EndpointCommand::Set(args) => {
            let changes = changes_from_args(ctx, &args.connection, args.skip_verification)?;
            let saved = ctx.engine.set_endpoint(&args.name, changes).await?;
            let view = EndpointView::from(&saved.endpoint);
            if ctx.json {
                output::json(&serde_json::json!({ "endpoint": view, "test": saved.test }));
            } else {
                if let Some(report) = &saved.test {
                    output::print_report(report);
                }
                let state = if view.verified { "verified" } else { "unverified" };
                println!("Endpoint {:?} updated ({state}).", view.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        EndpointCommand::Remove { name } => {
            ctx.engine.remove_endpoint(&name).await?;
            if ctx.json {
                output::json(&serde_json::json!({ "removed": name }));
            } else {
                println!("Endpoint {name:?} removed.");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_security(s: &str) -> Result<Security, Failure> {
    s.parse::<Security>().map_err(|e| Failure::usage(format!("--security: {e}")))
}

fn parse_mailbox(s: Option<&str>) -> Result<Option<EmailAddress>, Failure> {
    s.map(|m| EmailAddress::parse(m).map_err(|e| Failure::usage(format!("--test-mailbox: {e}"))))
        .transpose()
}

fn secret_source(p: &PasswordArgs) -> Result<SecretSource, Failure> {
    if p.password.is_some() {
        return Err(Failure::usage(
            "passwords are never taken on the command line (they end up in shell history and in `ps`); \
             use --password-env VAR or --password-file FILE, or type it at the prompt",
        ));
    }
    Ok(SecretSource { env: p.password_env.clone(), file: p.password_file.clone() })
}

/// Settings of a new endpoint from the options (or discovered from
/// `--email`), with the defaults of SPEC section 2, and the administrator's
/// password.
async fn spec_from_args(ctx: &Context, c: &ConnectionArgs) -> Result<EndpointSpec, Failure> {
    let source = secret_source(&c.password)?;
    let admin_secret_early = match (&c.admin, c.autodiscover) {
        (Some(admin), true) => Some(require_secret(&source, admin)?),
        _ => None,
    };
    let discovered = if c.autodiscover {
        let email = c.email.as_deref().unwrap_or_default();
        let email = EmailAddress::parse(email).map_err(|e| Failure::usage(format!("--email: {e}")))?;
        let found = ctx
            .engine
            .discover(&DiscoverRequest {
                email,
                admin_login: c.admin.clone(),
                admin_secret: admin_secret_early.clone(),
                trust_hosts: c.trust_host.clone(),
                allow_private_networks: ctx.allow_private_networks,
            })
            .await?;
        output::print_discovery(&found, ctx.json, ctx.verbose > 0);
        Some(found)
    } else {
        None
    };
    let host = match (&discovered, &c.host) {
        (Some(d), _) => d.settings.host.clone(),
        (None, Some(h)) => h.clone(),
        (None, None) => return Err(Failure::usage("--host is required (or --autodiscover --email ADDR)")),
    };
    let security = match (&c.security, &discovered) {
        (Some(s), _) => parse_security(s)?,
        (None, Some(d)) => d.settings.security,
        (None, None) => Security::Tls,
    };
    if security == Security::None && !c.allow_plaintext {
        return Err(Failure::usage(
            "--security none sends the password in clear; add --allow-plaintext to accept that",
        ));
    }
    let impersonation = Impersonation::from_parts(
        c.impersonation.as_deref().unwrap_or("authzid"),
        c.master_separator.as_deref(),
    )
    .map_err(|e| Failure::usage(format!("--impersonation: {e}")))?;
    if c.master_separator.is_some() && !matches!(impersonation, Impersonation::MasterUser { .. }) {
        return Err(Failure::usage("--master-separator only applies with --impersonation master-user"));
    }
    let login_format = match (&c.login_format, discovered.as_ref().and_then(|d| d.settings.login_format.as_deref())) {
        (Some(f), _) => LoginFormat::parse(f).map_err(|e| Failure::usage(format!("--login-format: {e}")))?,
        (None, Some(found)) => LoginFormat::parse(found).unwrap_or_default(),
        (None, None) => LoginFormat::default(),
    };
    let migrations = c.max_concurrent_migrations.unwrap_or(DEFAULT_MAX_CONCURRENT_MIGRATIONS);
    let settings = EndpointSettings {
        kind: EndpointKind::Imap,
        host,
        port: c.port.or(discovered.as_ref().map(|d| d.settings.port)).unwrap_or(security.default_port()),
        security,
        admin_login: c.admin.clone(),
        impersonation,
        login_format,
        max_concurrent_migrations: migrations,
        max_concurrent_incremental: c
            .max_concurrent_incremental
            .unwrap_or(DEFAULT_MAX_CONCURRENT_INCREMENTAL.min(migrations)),
        ca_pem: ctx.ca_pem.clone(),
    };
    settings.validate(c.allow_plaintext).map_err(|e| Failure::usage(e.to_string()))?;
    let admin_secret = match &settings.admin_login {
        Some(_) if admin_secret_early.is_some() => admin_secret_early,
        Some(admin) => Some(require_secret(&source, admin)?),
        None if source.is_given() => {
            return Err(Failure::usage("a password was given without --admin: give the login it belongs to"))
        }
        None => None,
    };
    Ok(EndpointSpec {
        settings,
        admin_secret,
        test_mailbox: parse_mailbox(c.test_mailbox.as_deref())?,
        allow_plaintext: c.allow_plaintext,
        skip_verification: false,
        discovered_from: discovered.as_ref().map(|d| d.source.clone()),
        trusted_hosts: discovered.map(|d| d.settings.needs_trust).unwrap_or_default(),
    })
}

fn require_secret(source: &SecretSource, admin: &str) -> Result<Secret, Failure> {
    source.read(&format!("Password for {admin}: "))?.ok_or_else(|| {
        Failure::usage(format!(
            "no password for {admin:?}: give --password-env VAR or --password-file FILE (or run on a terminal to be asked)"
        ))
    })
}

/// `endpoint test NAME` tests the stored settings; other options would be
/// silently ignored, so they are refused.
fn reject_settings_for_stored(c: &ConnectionArgs) -> Result<(), Failure> {
    let given = c.port.is_some()
        || c.autodiscover
        || c.email.is_some()
        || c.security.is_some()
        || c.admin.is_some()
        || c.impersonation.is_some()
        || c.master_separator.is_some()
        || c.login_format.is_some()
        || c.max_concurrent_migrations.is_some()
        || c.max_concurrent_incremental.is_some()
        || c.password.password_env.is_some()
        || c.password.password_file.is_some();
    if given {
        return Err(Failure::usage(
            "`endpoint test NAME` tests the stored settings (only --test-mailbox may be given); \
             use `endpoint set` to change them",
        ));
    }
    Ok(())
}

fn changes_from_args(ctx: &Context, c: &ConnectionArgs, skip_verification: bool) -> Result<EndpointChanges, Failure> {
    let source = secret_source(&c.password)?;
    let admin_secret = if source.is_given() {
        source.read("Password: ")?
    } else {
        None
    };
    Ok(EndpointChanges {
        host: c.host.clone(),
        port: c.port,
        security: c.security.as_deref().map(parse_security).transpose()?,
        admin_login: c.admin.clone(),
        admin_secret,
        impersonation: c.impersonation.clone(),
        master_separator: c.master_separator.clone(),
        login_format: c
            .login_format
            .as_deref()
            .map(|f| LoginFormat::parse(f).map_err(|e| Failure::usage(format!("--login-format: {e}"))))
            .transpose()?,
        max_concurrent_migrations: c.max_concurrent_migrations,
        max_concurrent_incremental: c.max_concurrent_incremental,
        ca_pem: ctx.ca_pem.clone(),
        test_mailbox: parse_mailbox(c.test_mailbox.as_deref())?,
        allow_plaintext: c.allow_plaintext,
        skip_verification,
    })
}
