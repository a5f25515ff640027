//! A batch's options (SPEC section 2), as given on `batch create` and kept
//! with the batch.

use serde::{Deserialize, Serialize};

use crate::folders::{FolderFilter, FolderPattern};

/// Default `--incremental-interval`: 24 hours.
pub const DEFAULT_INCREMENTAL_INTERVAL_SECS: u64 = 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchOptions {
    pub exclude_folders: Vec<String>,
    pub include_folders: Vec<String>,
    /// Messages larger than this many bytes are skipped as `large`.
    pub max_message_size: Option<u64>,
    /// More `bad` skipped items than this fail the mailbox (default 0, as
    /// in Exchange: any bad item is reported as a failure to look at).
    pub bad_item_limit: u64,
    /// More `large` skipped items than this fail the mailbox (default 0).
    pub large_item_limit: u64,
    /// Seconds between incremental syncs; `None` with `--no-incremental`.
    pub incremental_interval_secs: Option<u64>,
    pub autostart: bool,
    pub autocomplete: bool,
    /// Unix seconds.
    pub start_after: Option<i64>,
    pub complete_after: Option<i64>,
    /// Messages expunged on the source are also expunged on the target.
    pub propagate_deletes: bool,
    /// The mailbox used to test the endpoints when the batch was created.
    pub test_mailbox: Option<String>,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            exclude_folders: Vec::new(),
            include_folders: Vec::new(),
            max_message_size: None,
            bad_item_limit: 0,
            large_item_limit: 0,
            incremental_interval_secs: Some(DEFAULT_INCREMENTAL_INTERVAL_SECS),
            autostart: false,
            autocomplete: false,
            start_after: None,
            complete_after: None,
            propagate_deletes: false,
            test_mailbox: None,
        }
    }
}

impl BatchOptions {
    /// The folder filter, or the first bad pattern.
    pub fn folder_filter(&self) -> Result<FolderFilter, String> {
        let parse = |v: &[String]| v.iter().map(|p| FolderPattern::parse(p)).collect::<Result<Vec<_>, _>>();
        Ok(FolderFilter { include: parse(&self.include_folders)?, exclude: parse(&self.exclude_folders)? })
    }
}

/// Parses a duration like `30s`, `15m`, `6h`, `1d` (or plain seconds).
pub fn parse_duration_secs(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a duration (e.g. 30m, 6h, 1d)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use s, m, h or d)")),
    };
    let secs = n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too long"))?;
    if secs == 0 {
        return Err("a duration must be more than 0".into());
    }
    Ok(secs)
}

/// Parses a size like `25MB`, `512KB`, `1GB` or plain bytes (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let (num, mult) = [("GB", 1u64 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1)]
        .iter()
        .find_map(|(suffix, m)| upper.strip_suffix(suffix).map(|n| (n.trim().to_owned(), *m)))
        .unwrap_or((upper.clone(), 1));
    let n: u64 = num.parse().map_err(|_| format!("{t:?} is not a size (e.g. 25MB, 512KB, 1048576)"))?;
    n.checked_mul(mult).filter(|v| *v > 0).ok_or_else(|| format!("{t:?} is not a usable size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("90").unwrap(), 90);
        assert_eq!(parse_duration_secs("15m").unwrap(), 900);
        assert_eq!(parse_duration_secs("1d").unwrap(), 86400);
        assert!(parse_duration_secs("1w").unwrap_err().contains("unit"));
        assert!(parse_duration_secs("0s").is_err());
        assert!(parse_duration_secs("soon").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("25MB").unwrap(), 25 << 20);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn options_round_trip_through_json_with_defaults() {
        let o: BatchOptions = serde_json::from_str("{\"max_message_size\": 10}").unwrap();
        assert_eq!(o.max_message_size, Some(10));
        assert_eq!(o.incremental_interval_secs, Some(DEFAULT_INCREMENTAL_INTERVAL_SECS));
        let back: BatchOptions = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }
}
