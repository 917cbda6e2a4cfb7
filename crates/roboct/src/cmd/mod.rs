//! One module per subcommand family; `run` dispatches.

use anyhow::Result;

use crate::{BenchCommand, Command};

pub mod ct;
pub mod diagnose;
pub mod dialogue;
pub mod dicom;
pub mod mission;
pub mod nav;
pub mod position;
pub mod scanner;

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
        Command::Worklist(args) => dicom::worklist(args, ctx),
        Command::ExportDicom(args) => dicom::export(args, ctx),
        Command::ImportDicom(args) => dicom::import(args, ctx),
        Command::Upload(args) => dicom::upload(args, ctx),
        Command::Outbox { which } => dicom::outbox(which, ctx),
        Command::Listen(args) => dialogue::listen(args, ctx),
        Command::Say(args) => dialogue::say(args, ctx),
        Command::Route(args) => nav::route(args, ctx),
        Command::Map { which } => nav::map(which, ctx),
        Command::Demo(args) => mission::demo(args, ctx),
        Command::Geometry(args) => ct::geometry(args, ctx),
        Command::Phantom(args) => ct::phantom(args, ctx),
        Command::Project(args) => ct::project(args, ctx),
        Command::Recon(args) => ct::recon(args, ctx),
        Command::SimulateScan(args) => scanner::simulate(args, ctx),
        Command::Diagnose(args) => diagnose::diagnose(args, ctx),
        Command::Position(args) => position::position(args, ctx),
        Command::Bench { which } => match which {
            BenchCommand::Recon(args) => ct::bench_recon(args, ctx),
            BenchCommand::Upload(args) => dicom::bench_upload(args, ctx),
            BenchCommand::Route(args) => nav::bench_route(args, ctx),
            BenchCommand::Voice(args) => dialogue::bench_voice(args, ctx),
            BenchCommand::Diagnosis(args) => diagnose::bench_diagnosis(args, ctx),
            BenchCommand::Mission(args) => mission::bench_mission(args, ctx),
            BenchCommand::Positioning(args) => position::bench_positioning(args, ctx),
            BenchCommand::Dose(args) => scanner::bench_dose(args, ctx),
        },
    }
}

/// `--cohort both|test|development` as (name, first seed) pairs of a bench's cohorts.
pub fn cohorts(
    cohort: &str,
    development_seed_base: u64,
    test_seed_base: u64,
) -> Result<Vec<(&'static str, u64)>> {
    Ok(match cohort {
        "both" => vec![
            ("development", development_seed_base),
            ("test", test_seed_base),
        ],
        "test" => vec![("test", test_seed_base)],
        "development" => vec![("development", development_seed_base)],
        other => anyhow::bail!("--cohort {other:?}: expected both, test or development"),
    })
}
