//! Peak-memory measurement for the benchmarks: resetting this process's peak resident size, so
//! that `roboct_core::memory::peak_rss_bytes` afterwards measures one run. It writes to
//! `/proc/self/clear_refs`, which changes the process's state for everyone in it, so it lives
//! here and not in a library.

/// Resets the peak to the current resident size (Linux >= 4.0, `echo 5 > clear_refs`), so that
/// the next `roboct_core::memory::peak_rss_bytes` measures what happened since. Returns whether
/// it worked.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use roboct_core::memory::{peak_rss_bytes, rss_bytes};

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
