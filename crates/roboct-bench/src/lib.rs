//! roboct's benchmarks and evaluations, kept out of the libraries they measure: the
//! dose/quality curve ([`dose`]), image-quality metrics ([`metrics`]) and PNG plots
//! ([`plot`]); the reconstruction reference problems and machine limits ([`recon`]), the
//! route planner's figures ([`route`]), the DICOM upload against a local Orthanc and dcmtk
//! ([`upload`]) with the loopback peers it and the tests start ([`loopback`]), and peak-memory
//! resets ([`memory`]). The `roboct bench ...` commands call these.

#![warn(clippy::undocumented_unsafe_blocks)]

pub mod diagnosis;
pub mod dose;
pub mod loopback;
pub mod memory;
pub mod metrics;
pub mod plot;
pub mod positioning;
pub mod recon;
pub mod route;
pub mod upload;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A phantom could not be made.
    #[error(transparent)]
    Phantom(#[from] roboct_phantom::PhantomError),
    /// A scan could not be simulated.
    #[error(transparent)]
    Scanner(#[from] roboct_scanner::ScannerError),
    /// A reconstruction failed.
    #[error(transparent)]
    Recon(#[from] roboct_recon::ReconError),
    /// A grid was invalid.
    #[error(transparent)]
    Grid(#[from] roboct_geometry::GridError),
    /// A map of the route benchmark could not be built, or is too large for memory.
    #[error(transparent)]
    Map(#[from] roboct_nav::error::MapError),
    /// A reference route could not be planned (a bug).
    #[error(transparent)]
    Plan(#[from] roboct_nav::error::PlanError),
    /// A peer program (Orthanc, dcmtk's storescu) is missing or failed.
    #[error("{0}")]
    Peer(String),
    /// A temporary file or folder could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A case of a benchmark could not be run or gave a wrong result (the message says which
    /// and why).
    #[error("{0}")]
    Case(String),
    /// A setting of the bench was out of range.
    #[error("{field} {value}: expected {expected}")]
    Invalid {
        /// The setting (as the command line names it).
        field: &'static str,
        /// What was given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A data file could not be written.
    #[error(transparent)]
    File(#[from] roboct_io::IoError),
    /// An RTK geometry file could not be written.
    #[error(transparent)]
    Rtk(#[from] roboct_geometry::RtkError),
    /// `roboct bench recon --problem` named no reference problem.
    #[error("unknown problem {0:?}; expected p2, p3, iterative or all")]
    UnknownProblem(String),
    /// The iteration counts of the iterative reference rows were not two counts of at least 1.
    #[error(
        "--iterations takes two counts of at least 1 (OS-SART, FISTA-TV), such as 10,20; got {0:?}"
    )]
    Iterations(Vec<usize>),
    /// A plot could not be written.
    #[error("cannot write the plot {path}: {source}")]
    Plot {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: image::ImageError,
    },
}

impl roboct_core::Recover for BenchError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            BenchError::Phantom(e) => e.recovery(),
            BenchError::Scanner(e) => e.recovery(),
            BenchError::Recon(e) => e.recovery(),
            BenchError::Grid(e) => e.recovery(),
            BenchError::Map(e) => e.recovery(),
            BenchError::Plan(e) => e.recovery(),
            BenchError::File(e) => e.recovery(),
            BenchError::Rtk(e) => e.recovery(),
            // A peer that did not start, a file system that failed: may work again.
            BenchError::Peer(_) | BenchError::Io(_) | BenchError::Plot { .. } => {
                roboct_core::Recovery::Retry
            }
            BenchError::Case(_)
            | BenchError::Invalid { .. }
            | BenchError::UnknownProblem(_)
            | BenchError::Iterations(_) => roboct_core::Recovery::Abort,
        }
    }
}
