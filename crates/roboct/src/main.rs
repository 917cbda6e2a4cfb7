//! `roboct`: the command line of the robotic mobile CT scanner.
//!
//! This crate only parses arguments and wires the libraries together; every subcommand lives
//! in its own module under `cmd/` and calls into the `roboct-*` crates.

#![warn(clippy::undocumented_unsafe_blocks)]

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod cmd;
mod progress;

/// Robotic mobile CT scanner: reconstruction, simulation, DICOM, navigation and dialogue.
#[derive(Debug, Parser)]
#[command(name = "roboct", version, about, long_about = None)]
struct Cli {
    /// Worker threads for data-parallel work (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,

    /// Hide progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version and the build's capabilities.
    Info,
    /// Run the main job on embedded defaults: route to the bed, CT chain, DICOM series.
    Demo(cmd::mission::DemoArgs),
    /// Describe a geometry file (and export it for RTK).
    Geometry(cmd::ct::GeometryArgs),
    /// Make an analytic phantom: sampled on a grid and/or its exact projections.
    Phantom(cmd::ct::PhantomArgs),
    /// Forward-project a volume (Joseph's ray-driven method).
    Project(cmd::ct::ProjectArgs),
    /// Reconstruct a volume from projections (FBP, FDK, or iterative: SIRT, OS-SART, CGLS,
    /// FISTA-TV, PWLS).
    Recon(cmd::ct::ReconArgs),
    /// Simulate a CT scan of a patient (the simulated head or chest, or any CT volume in HU):
    /// X-ray physics, noise and dose; writes projections, geometry, weights and dose.
    SimulateScan(cmd::scanner::SimulateScanArgs),
    /// Query the hospital's Modality Worklist for this scanner's orders.
    Worklist(cmd::dicom::WorklistArgs),
    /// Write a volume in HU as a DICOM CT Image Storage series.
    ExportDicom(cmd::dicom::ExportArgs),
    /// Read a CT series from a folder of DICOM files into a volume file.
    ImportDicom(cmd::dicom::ImportArgs),
    /// Send a folder of DICOM files to a PACS through the durable outbox.
    Upload(cmd::dicom::UploadArgs),
    /// Show or flush what waits in the DICOM outbox.
    Outbox {
        #[command(subcommand)]
        which: cmd::dicom::OutboxCommand,
    },
    /// Plan a route through a hospital (default: the embedded three-floor wing) and print
    /// its length, time, energy and path.
    Route(cmd::nav::RouteArgs),
    /// Export or describe maps: the embedded hospital as ROS maps, a site's contents.
    Map {
        #[command(subcommand)]
        which: cmd::nav::MapCommand,
    },
    /// Recognize the spoken command in a WAV file (pocketsphinx, offline).
    Listen(cmd::dialogue::ListenArgs),
    /// Talk to the scanner in text: runs full dialogue turns on a simulated robot and writes
    /// the spoken replies as text and WAV (espeak-ng).
    Say(cmd::dialogue::SayArgs),
    /// Read a head CT (a volume in HU or a DICOM CT series): haemorrhage by kind, volume,
    /// midline shift; JSON, text, key images and the findings SR.
    Diagnose(cmd::diagnose::DiagnoseArgs),
    /// Position the scanner at a simulated bedside for a head or chest (a phantom or any CT
    /// volume in HU): dock, low-dose scout, landmarks, scan range and isocentre, or why not.
    Position(cmd::position::PositionArgs),
    /// Measure a part of the system on reference problems and print the figures.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

/// `roboct bench <part>`: each part's reference problems.
#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Reconstruction reference problems P2 (2D parallel FBP), P3 (cone FDK) and P3's
    /// iterative rows (OS-SART, FISTA-TV): time, rates, RMSE against the phantom, peak memory.
    Recon(cmd::ct::BenchReconArgs),
    /// Upload a 256-slice 512x512 CT series to a local Orthanc by C-STORE and STOW-RS, next to
    /// dcmtk storescu, and the real-time first-slice latency.
    Upload(cmd::dicom::BenchUploadArgs),
    /// Route planning: a 4000x2000-cell floor between far corners, replanning after a blocked
    /// corridor, a three-floor route through an elevator; with the pathfinding crate's A*.
    Route(cmd::nav::BenchRouteArgs),
    /// Voice commands: every command spoken by espeak-ng in several voices and speeds, with
    /// noise at 20 and 10 dB SNR, recognized; accuracy, stop recall, false X-ray
    /// confirmations, latency.
    Voice(cmd::dialogue::BenchVoiceArgs),
    /// Automatic head CT reading on simulated cohorts (development and test): per-patient
    /// sensitivity and specificity at the standard and a quarter of the dose, by kind and
    /// volume, volume error, Dice, midline-shift error, time.
    Diagnosis(cmd::diagnose::BenchDiagnosisArgs),
    /// The demo mission's computing by phase (scan simulation, reconstruction, reading,
    /// DICOM) with the drive simulated at full speed, and when the first slice reached the
    /// PACS.
    Mission(cmd::mission::BenchMissionArgs),
    /// Bedside positioning on randomized heads and chests (development and test seeds):
    /// coverage, excess range at each end, isocentre error, scout dose, DLP saved.
    Positioning(cmd::position::BenchPositioningArgs),
    /// The dose/quality curve: one head with a 10 mL bleed at 100, 50, 25 and 10% of the
    /// standard dose (and sparse views), FDK and every iterative method; RMSE, lesion CNR,
    /// SSIM, time; the 4x dose-reduction goal; a PNG plot.
    Dose(cmd::scanner::BenchDoseArgs),
}

/// Every command takes negative numbers as values (`--level -600`), not as flags: maps,
/// volumes and windows have them everywhere. Options whose values are lists (`--from
/// -13.7,-2.6`) also say `allow_hyphen_values`.
fn with_negative_numbers(command: clap::Command) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    names
        .iter()
        .fold(command.allow_negative_numbers(true), |c, name| {
            c.mut_subcommand(name, with_negative_numbers)
        })
}

fn main() -> ExitCode {
    // Die quietly when the reader of our output goes away (`roboct ... | head`), as command-line
    // tools do, instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition at start-up, before any other thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROBOCT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::from_arg_matches(&with_negative_numbers(Cli::command()).get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(n) = cli.threads {
        if n == 0 {
            eprintln!("error: --threads must be at least 1");
            return ExitCode::from(2);
        }
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            eprintln!("error: cannot set up {n} worker threads: {e}");
            return ExitCode::FAILURE;
        }
    }
    let ctx = cmd::Context { quiet: cli.quiet };
    match cmd::run(cli.command, &ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
