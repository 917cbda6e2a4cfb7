//! Running the `roboct` binary from the integration tests.

#![allow(dead_code)]

use std::process::{Command, Output};

/// The built `roboct` binary with `args`, progress bars hidden.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roboct"));
    c.arg("--quiet").args(args);
    c
}

/// Runs `roboct args` and returns what it did.
pub fn roboct(args: &[&str]) -> Output {
    command(args).output().expect("run roboct")
}

/// The test venv's python (pydicom, pynetdicom, numpy), from `ROBOCT_TEST_VENV` or `./.venv`.
pub fn python() -> std::path::PathBuf {
    let venv = std::env::var_os("ROBOCT_TEST_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "no test venv at {}: run ./scripts/deps first",
        venv.display()
    );
    py
}
