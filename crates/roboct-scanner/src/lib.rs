//! The simulated CT scanner of roboct: what a photon and a milligray are.
//!
//! * [`spectrum`]: tungsten spectra from 70 to 140 kVp with added filtration, air kerma and
//!   half-value layers (checked against SpekPy's).
//! * [`physics`]: an energy-integrating CsI detector's mean signal and compound-Poisson noise
//!   behind any amount of water and bone, electronic noise, and the water beam-hardening
//!   correction.
//! * [`patient`]: what the scanner sees of a patient: exact line integrals of the analytic
//!   phantoms of `roboct_phantom`, or any HU volume decomposed into materials.
//! * [`protocol`]: the scanner as built ([`ScannerSpec::mobile_head`]) and the scan protocol
//!   (kVp, mAs, views, arc, beam width, tube-current modulation), validated once.
//! * [`acquire`]: the scan through the [`acquire::XRayTube`] and [`acquire::XRayDetector`]
//!   traits a real device implements, the simulator's tube and detector, and the
//!   preprocessing (flat field, log, beam-hardening correction, statistical weights).
//! * [`files`]: a scan on disk (projections, geometry, weights, dose and scan records) and a
//!   phantom's truth with its masks.
//! * [`dose`]: CTDIvol by Monte Carlo in the IEC CTDI phantoms with this scanner's spectrum
//!   and geometry, DLP, the per-exam [`dose::DoseRecord`].
//!
//! Everything is deterministic for a given seed. Numeric and synchronous (rayon).
//!
//! # Example: a low-dose head scan
//!
//! ```no_run
//! use roboct_core::{CancelToken, NoProgress};
//! use roboct_phantom::head::{HeadOptions, head};
//! use roboct_scanner::acquire::simulate_scan;
//! use roboct_scanner::patient::AnalyticPatient;
//! use roboct_scanner::protocol::{Protocol, ScannerSpec};
//!
//! let h = head(&HeadOptions::default())?;
//! let protocol = Protocol { mas: 75.0, ..Protocol::standard_head() }; // a quarter dose
//! let scan = simulate_scan(
//!     &ScannerSpec::mobile_head(),
//!     &protocol,
//!     &AnalyticPatient { patient: &h.patient, supersample: 1 },
//!     &NoProgress,
//!     &CancelToken::new(),
//! )?;
//! println!("CTDIvol {:.1}", scan.dose.ctdi_vol);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod acquire;
pub mod dose;
pub mod files;
pub mod patient;
pub mod physics;
pub mod protocol;
pub mod spectrum;

pub use acquire::{SimulatedScan, simulate_scan};
pub use dose::{CtdiPhantom, DoseRecord};
pub use protocol::{CurrentModulation, Protocol, ScanRequest, ScannerSpec};
pub use spectrum::{Filtration, Spectrum};

/// Why a scan could not be simulated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScannerError {
    /// A protocol or scanner field is impossible.
    #[error("{field}: {message}")]
    Protocol {
        /// The field.
        field: &'static str,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The patient cannot be scanned (values no material explains...).
    #[error("patient: {0}")]
    Patient(String),
    /// The geometry could not be built or used.
    #[error("geometry: {0}")]
    Geometry(String),
    /// Cancelled through the cancel token.
    #[error("cancelled")]
    Cancelled,
}

impl From<roboct_phantom::PhantomError> for ScannerError {
    fn from(e: roboct_phantom::PhantomError) -> Self {
        ScannerError::Patient(e.to_string())
    }
}

impl roboct_core::Recover for ScannerError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            ScannerError::Protocol { .. } | ScannerError::Geometry(_) => {
                roboct_core::Recovery::Abort
            }
            ScannerError::Patient(_) => roboct_core::Recovery::WaitForOperator,
            ScannerError::Cancelled => roboct_core::Recovery::Abort,
        }
    }
}
