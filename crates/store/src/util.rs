//! Ids and timestamps as the schema stores them.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use crate::error::StoreError;

/// A new row id: 128 random bits as 32 lower-case hex digits. Generated
/// before the insert so that a sealed column's place is known.
pub fn new_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(random_failed)?;
    Ok(hex::encode(bytes))
}

/// A time-ordered id (for the event log): 48 bits of milliseconds, a 16-bit
/// per-process sequence, 64 random bits; its text order is its time order
/// (and, within one process, its creation order).
pub fn new_ordered_id(at_ms: i64) -> Result<String, StoreError> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) & 0xffff;
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(random_failed)?;
    let ms = (at_ms.max(0) as u64) & 0xffff_ffff_ffff;
    Ok(format!("{ms:012x}{seq:04x}{}", hex::encode(bytes)))
}

fn random_failed(e: getrandom::Error) -> StoreError {
    StoreError::Io {
        path: "the operating system's random generator".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// A count or size as the schema stores it (BIGINT); beyond `i64::MAX` it
/// cannot be stored.
pub fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v)
        .map_err(|_| StoreError::Unsupported(format!("{what} {v} is too large to be stored")))
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A stored timestamp as a time; out-of-range values are corruption.
pub fn from_ms(ms: i64, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::corrupt(format!("{column} = {ms} is not a valid time")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_distinct() {
        let a = new_id().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(a, new_id().unwrap());
    }

    #[test]
    fn ordered_ids_sort_by_time_then_creation() {
        let a = new_ordered_id(1_000).unwrap();
        let b = new_ordered_id(1_000).unwrap();
        let c = new_ordered_id(2_000).unwrap();
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn times_round_trip() {
        let now = now_ms();
        assert_eq!(from_ms(now, "t").unwrap().timestamp_millis(), now);
        assert!(from_ms(i64::MAX, "t").is_err());
    }
}
