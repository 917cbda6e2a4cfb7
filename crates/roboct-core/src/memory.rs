//! Process memory figures from Linux's `/proc`, for benchmarks.

/// Peak resident set size of this process in bytes (`VmHWM`), if the system reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

/// Current resident set size of this process in bytes (`VmRSS`).
pub fn rss_bytes() -> Option<u64> {
    status_kib("VmRSS:").map(|k| k * 1024)
}

/// Resets the peak to the current resident size (Linux >= 4.0, `echo 5 > clear_refs`), so that
/// the next [`peak_rss_bytes`] measures what happened since. Returns whether it worked.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_follows_a_large_allocation() {
        let Some(before) = rss_bytes() else {
            return; // not Linux
        };
        reset_peak_rss();
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let peak = peak_rss_bytes().unwrap();
        assert!(peak >= before + (60 << 20), "peak {peak} before {before}");
    }
}
