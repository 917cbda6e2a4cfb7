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
