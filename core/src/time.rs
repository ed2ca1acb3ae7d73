//! The wall clock as Unix time, the unit in the name; 0 on a clock before 1970.

pub fn now_unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn now_unix_secs() -> u64 {
    now_unix_millis() / 1000
}

/// Time from now until `unix_ms` (zero if past). Another machine's clock (a database's) may
/// differ a little from ours: callers add a margin.
pub fn until_unix_millis(unix_ms: i64) -> std::time::Duration {
    let target = u64::try_from(unix_ms).unwrap_or(0);
    std::time::Duration::from_millis(target.saturating_sub(now_unix_millis()))
}
