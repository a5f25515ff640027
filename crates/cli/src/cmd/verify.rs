//! `mailferry verify BATCH [--user ADDRESS]`

use std::process::ExitCode;

use crate::context::Context;
use crate::failure::Failure;
use crate::output;

pub async fn run(ctx: &Context, batch: &str, user: Option<&str>) -> Result<ExitCode, Failure> {
    let report = ctx.engine.verify(batch, user).await?;
    if ctx.json {
        output::json(&report);
    } else {
        for u in &report.users {
            if let Some(e) = &u.error {
                println!("{}: could not be verified: {e}", u.email);
                continue;
            }
            for f in &u.folders {
                let clean = f.missing_count == 0 && f.altered_count == 0 && f.extra_count == 0;
                if clean && ctx_verbose_hidden() {
                    continue;
                }
                println!(
                    "{} {:<40} -> {:<40} {:>7} source, {:>7} matched{}",
                    u.email,
                    f.folder,
                    f.target_folder,
                    f.messages_source,
                    f.matched,
                    if clean {
                        String::new()
                    } else {
                        format!(", {} missing, {} altered, {} extra", f.missing_count, f.altered_count, f.extra_count)
                    }
                );
                if !f.missing.is_empty() {
                    println!("    missing (source UIDs): {}", join(&f.missing));
                }
                for a in &f.altered {
                    println!(
                        "    altered: source UID {} / target UID {}: {} (source flags [{}], target flags [{}])",
                        a.source_uid,
                        a.target_uid,
                        a.what.join(", "),
                        a.source_flags.join(" "),
                        a.target_flags.join(" ")
                    );
                }
                if !f.extra.is_empty() {
                    println!("    extra (target UIDs): {}", join(&f.extra));
                }
            }
        }
        println!(
            "{} messages in source: {} matched, {} missing, {} altered, {} extra{}",
            report.messages_source,
            report.matched,
            report.missing,
            report.altered,
            report.extra,
            if report.errors > 0 { format!("; {} mailbox(es) could not be verified", report.errors) } else { String::new() }
        );
    }
    if report.is_clean() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failure {
            code: "verify_differences",
            message: format!(
                "the copy differs: {} missing, {} altered, {} extra, {} mailbox(es) not verified",
                report.missing, report.altered, report.extra, report.errors
            ),
            exit: 1,
            report: None,
        })
    }
}

/// Clean folders are listed too: a verification report that shows what
/// was checked is worth its length.
fn ctx_verbose_hidden() -> bool {
    false
}

fn join(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}
