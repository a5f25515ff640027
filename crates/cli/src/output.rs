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

use mailferry_engine::views::{BatchView, UserDetailView, UserView};

/// Bytes for people: 1.2 MB.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn when(t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
}

pub fn batch_table(views: &[BatchView]) {
    if views.is_empty() {
        println!("No batches. Create one with `mailferry batch create NAME --csv FILE --source EP --target EP`.");
        return;
    }
    println!("{:<24} {:<20} {:<16} {:<16} {:>6} {:>10} {:>10} {:>8}", "NAME", "STATUS", "SOURCE", "TARGET", "USERS", "SYNCED", "IN SOURCE", "SKIPPED");
    for v in views {
        println!(
            "{:<24} {:<20} {:<16} {:<16} {:>6} {:>10} {:>10} {:>8}",
            v.name, v.status, v.source, v.target, v.user_count, v.items_synced, v.items_source, v.items_skipped
        );
    }
}

pub fn user_table(views: &[UserView]) {
    if views.is_empty() {
        println!("No migration users.");
        return;
    }
    println!("{:<36} {:<16} {:<19} {:>9} {:>9} {:>7} {:>10} {:<19} ERROR", "EMAIL", "BATCH", "STATUS", "SOURCE", "SYNCED", "SKIPPED", "BYTES", "LAST SYNC");
    for u in views {
        println!(
            "{:<36} {:<16} {:<19} {:>9} {:>9} {:>7} {:>10} {:<19} {}",
            u.email,
            u.batch,
            u.status,
            u.items_source,
            u.items_synced,
            u.items_skipped,
            human_bytes(u.bytes_synced),
            when(&u.last_sync),
            u.error.as_deref().unwrap_or("")
        );
    }
}

pub fn batch_details(v: &BatchView) {
    println!("Batch:    {}", v.name);
    println!("Status:   {}", v.status);
    println!("Source:   {}    Target: {}", v.source, v.target);
    println!(
        "Items:    {} synced of {} in source, {} skipped, {}",
        v.items_synced,
        v.items_source,
        v.items_skipped,
        human_bytes(v.bytes_synced)
    );
    if let Some(users) = &v.users {
        println!();
        user_table(users);
    }
}

pub fn user_details(d: &UserDetailView) {
    let u = &d.user;
    println!("Mailbox:     {} (batch {})", u.email, u.batch);
    println!("Source login: {}", u.source_login);
    println!("Status:      {}", u.status);
    println!("Items:       {} synced of {} in source; skipped {} bad, {} large", u.items_synced, u.items_source, u.items_skipped_bad, u.items_skipped_large);
    println!("Bytes:       {}", human_bytes(u.bytes_synced));
    println!("Last sync:   {}", when(&u.last_sync));
    if let Some(e) = &u.error {
        println!("Error:       {e}");
    }
    if !d.folders.is_empty() {
        println!("\n{:<40} {:<40} {:>8} {:>8} {:>8}", "FOLDER", "TARGET", "SOURCE", "SYNCED", "SKIPPED");
        for f in &d.folders {
            println!(
                "{:<40} {:<40} {:>8} {:>8} {:>8}",
                f.source,
                f.target.as_deref().unwrap_or("-"),
                f.messages_source,
                f.messages_synced,
                f.messages_skipped
            );
        }
    }
    if !d.skipped_items.is_empty() {
        println!("\nSkipped items:");
        for s in &d.skipped_items {
            println!(
                "  [{}] {} UID {} ({} bytes) {} — {:?}: {}",
                s.kind,
                s.folder,
                s.uid,
                s.size.map(|n| n.to_string()).unwrap_or_else(|| "?".into()),
                s.date.as_deref().unwrap_or("-"),
                s.subject.as_deref().unwrap_or(""),
                s.reason
            );
        }
    }
}

/// The report as CSV on stdout (the engine's one rendering of it).
pub fn report_csv(users: &[UserDetailView]) -> Result<(), csv::Error> {
    print!("{}", mailferry_engine::views::report_csv(users)?);
    Ok(())
}

/// What discovery found, from where, and why each other candidate was
/// passed over (every candidate with `-v`). On stderr with `--json`, so
/// stdout stays one JSON document.
pub fn print_discovery(d: &mailferry_discovery::Discovery, json_mode: bool, verbose: bool) {
    let f = &d.settings;
    let mut lines = vec![format!(
        "Discovered {}:{} ({}) from {}{}",
        f.host,
        f.port,
        f.security,
        d.source,
        f.login_format.as_deref().map(|l| format!(", login {l}")).unwrap_or_default()
    )];
    if !f.needs_trust.is_empty() {
        lines.push(format!("  relies on hosts outside the domain, trusted with --trust-host: {}", f.needs_trust.join(", ")));
    }
    for t in &d.trace {
        let interesting = !matches!(t.outcome, mailferry_discovery::Outcome::Found | mailferry_discovery::Outcome::NotTried(_));
        if verbose || interesting {
            lines.push(format!("  - {t}"));
        }
    }
    for l in lines {
        if json_mode {
            eprintln!("{l}");
        } else {
            println!("{l}");
        }
    }
}
