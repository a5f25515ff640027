//! Rendering: human text on stdout, or JSON with `--json`; errors on stderr
//! (as `{"error":{"code","message"}}` with `--json`).

use std::process::ExitCode;

use mailferry_engine::endpoint_test::TestReport;
use mailferry_engine::views::EndpointView;
use serde::Serialize;

use crate::failure::Failure;

pub fn json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot render JSON: {e}"),
    }
}

/// Reports a failure and returns its exit status.
pub fn fail(json_mode: bool, failure: &Failure) -> ExitCode {
    if json_mode {
        let body = serde_json::json!({
            "error": { "code": failure.code, "message": failure.message, "report": failure.report }
        });
        eprintln!("{body}");
    } else {
        if let Some(report) = &failure.report {
            print_report(report);
        }
        eprintln!("error: {}", failure.message);
    }
    ExitCode::from(failure.exit)
}

pub fn print_report(report: &TestReport) {
    println!("Endpoint test of {}:", report.server);
    for s in &report.steps {
        let mark = if s.ok { "ok  " } else { "FAIL" };
        println!("  [{mark}] {:<13} {}", s.step.as_str(), s.detail);
    }
}

pub fn endpoint_table(views: &[EndpointView]) {
    if views.is_empty() {
        println!("No endpoints. Create one with `mailferry endpoint create NAME --host HOST --admin LOGIN --test-mailbox ADDRESS`.");
        return;
    }
    println!("{:<24} {:<32} {:<9} {:<12} {}", "NAME", "SERVER", "SECURITY", "IMPERSONATE", "VERIFIED");
    for v in views {
        println!(
            "{:<24} {:<32} {:<9} {:<12} {}",
            v.name,
            format!("{}:{}", v.host, v.port),
            v.security,
            v.impersonation,
            if v.verified { "yes" } else { "no" }
        );
    }
}

pub fn endpoint_details(v: &EndpointView) {
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    println!("Name:                       {}", v.name);
    println!("Kind:                       {}", v.kind);
    println!("Server:                     {}:{} ({})", v.host, v.port, v.security);
    println!("Administrator:              {}", opt(&v.admin));
    println!("Impersonation:              {}{}", v.impersonation,
        v.master_separator.as_deref().map(|s| format!(" (separator {s:?})")).unwrap_or_default());
    println!("Login format:               {}", v.login_format);
    println!("Test mailbox:               {}", opt(&v.test_mailbox));
    println!("Max concurrent migrations:  {}", v.max_concurrent_migrations);
    println!("Max concurrent incremental: {}", v.max_concurrent_incremental);
    println!("Extra CA stored:            {}", if v.has_ca { "yes" } else { "no" });
    println!("Verified:                   {}", if v.verified { "yes" } else { "no" });
    println!("Discovered from:            {}", v.discovered_from.as_deref().unwrap_or("- (manual)"));
    println!("Created:                    {}", v.created_at.to_rfc3339());
    println!("Updated:                    {}", v.updated_at.to_rfc3339());
}
