//! One module per subcommand family; `run` dispatches.

use anyhow::Result;

use crate::Command;

/// What every subcommand may need from the global flags.
pub struct Context {
    /// No progress bars.
    pub quiet: bool,
}

pub fn run(command: Command, ctx: &Context) -> Result<()> {
    match command {
        Command::Info => {
            let _ = ctx;
            println!("roboct {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Bench { which } => match which {},
    }
}
