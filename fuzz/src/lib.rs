//! Helpers shared by the fuzz targets: a scratch folder per process, files written into it, and
//! the split of one input into several files.
//!
//! Every parser is reached the way the CLI reaches it, through a path: the input bytes are
//! written to a file (in `$ROBOCT_FUZZ_TMP`, which `scripts/fuzz` puts on `/dev/shm`) and the
//! public reader the command uses is called on it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Separates the files of a multi-file input (a site and its maps, a DICOM folder): a line of
/// its own, so that text seeds stay readable and libFuzzer's mutations keep it.
pub const SEPARATOR: &[u8] = b"\n--8<--\n";

/// This process's scratch folder, made on first use.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::env::var_os("ROBOCT_FUZZ_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("roboct-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    })
}

/// Writes `bytes` to `name` in the scratch folder and returns its path.
pub fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("scratch subfolder");
    }
    std::fs::write(&path, bytes).expect("scratch file");
    path
}

/// An empty folder `name` in the scratch folder (emptied if it exists).
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = scratch().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch subfolder");
    dir
}

/// The parts of `data` between [`SEPARATOR`]s, at most `max` (the last keeps the rest).
pub fn split(data: &[u8], max: usize) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while parts.len() + 1 < max {
        match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + SEPARATOR.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}
