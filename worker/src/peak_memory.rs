//! Peak resident memory of this process, from /proc (Linux); `None` elsewhere.

pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_plausible_peak_on_linux() {
        if cfg!(target_os = "linux") {
            let rss = super::peak_rss_bytes().expect("VmHWM in /proc/self/status");
            assert!(
                rss > 1 << 20,
                "a running test binary uses over 1 MiB: {rss}"
            );
        }
    }
}
