//! roboct's benchmarks and evaluations, kept out of the libraries they measure: the
//! dose/quality curve ([`dose`]), image-quality metrics ([`metrics`]) and PNG plots
//! ([`plot`]). The `roboct bench ...` commands call these.

pub mod diagnosis;
pub mod dose;
pub mod metrics;
pub mod plot;
pub mod positioning;

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
    /// A plot could not be written.
    #[error("cannot write the plot {path}: {source}")]
    Plot {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: image::ImageError,
    },
}
