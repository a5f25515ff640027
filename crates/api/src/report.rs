//! The batch report as CSV: one row per mailbox, then one row per skipped
//! item (with `SkippedKind` set), so one file holds everything. The same
//! columns as `mailferry batch report`.

use mailferry_engine::views::UserDetailView;

pub const COLUMNS: [&str; 17] = [
    "EmailAddress", "Status", "ItemsInSource", "ItemsSynced", "ItemsSkipped", "ItemsSkippedBad",
    "ItemsSkippedLarge", "BytesSynced", "LastSync", "Error", "SkippedFolder", "SkippedUid",
    "SkippedSize", "SkippedDate", "SkippedSubject", "SkippedKind", "SkippedReason",
];

pub fn csv(users: &[UserDetailView]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for d in users {
        let u = &d.user;
        let mut row = vec![
            u.email.clone(),
            u.status.clone(),
            u.items_source.to_string(),
            u.items_synced.to_string(),
            u.items_skipped.to_string(),
            u.items_skipped_bad.to_string(),
            u.items_skipped_large.to_string(),
            u.bytes_synced.to_string(),
            u.last_sync.map(|t| t.to_rfc3339()).unwrap_or_default(),
            u.error.clone().unwrap_or_default(),
        ];
        row.resize(COLUMNS.len(), String::new());
        w.write_record(&row)?;
        for s in &d.skipped_items {
            let mut row = vec![u.email.clone()];
            row.resize(10, String::new());
            row.extend([
                s.folder.clone(),
                s.uid.to_string(),
                s.size.map(|n| n.to_string()).unwrap_or_default(),
                s.date.clone().unwrap_or_default(),
                s.subject.clone().unwrap_or_default(),
                s.kind.clone(),
                s.reason.clone(),
            ]);
            w.write_record(&row)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
