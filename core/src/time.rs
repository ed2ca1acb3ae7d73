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
