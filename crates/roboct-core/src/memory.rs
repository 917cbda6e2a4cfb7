//! Memory figures read from Linux's `/proc`: this process's resident size and peak (reports
//! and benchmarks) and the machine's available memory (for readers that refuse a file
//! announcing more data than fits). Only reads: resetting the peak, which writes to
//! `/proc/self/clear_refs`, is the benchmarks' business (`roboct_bench::memory`).

/// Peak resident set size of this process in bytes (`VmHWM`), if the system reports it: the
/// peak since the process started, or since a benchmark last reset it.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

/// Current resident set size of this process in bytes (`VmRSS`).
pub fn rss_bytes() -> Option<u64> {
    status_kib("VmRSS:").map(|k| k * 1024)
}

/// Memory the machine can give without swapping (`MemAvailable` in `/proc/meminfo`), in bytes,
/// if the system reports it. Readers compare what a file announces with this before
/// allocating, so a damaged header gives an error instead of an aborted process.
pub fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    kib_field(&meminfo, "MemAvailable:").map(|k| k.saturating_mul(1024))
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, key)
}

/// The value of a `Key:   1234 kB` line.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
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
    fn available_memory_is_read_from_meminfo() {
        assert_eq!(
            kib_field(
                "MemTotal:  100 kB\nMemAvailable:   2048 kB\n",
                "MemAvailable:"
            ),
            Some(2048)
        );
        if std::path::Path::new("/proc/meminfo").exists() {
            assert!(available_bytes().is_some_and(|b| b > 0));
        }
    }
}
