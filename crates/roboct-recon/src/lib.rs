//! CT reconstruction for roboct, usable on its own like RTK, ASTRA or TIGRE.
//!
//! * [`fdk`] / [`fdk_volume`]: FBP (parallel and fan beams) and FDK (cone beams) with the
//!   ram-lak, shepp-logan, cosine, hamming and hann filters and a cut-off, Parker weights for
//!   short scans, displaced-detector weights for half-fan scans, streamed in z-slabs.
//! * The operator API: a [`ReconPlan`] (geometry and grid, validated once) and the
//!   [`Projector`] trait (`forward_into` / `adjoint_into` on caller-owned buffers, any subset of
//!   views, explicit scratch, cancel), implemented by [`JosephProjector`]: Joseph's ray-driven
//!   projector in f32 and its exact transpose, the *matched* pair iterative methods need
//!   (adjoint identity tested to 1e-4 for every geometry; AVX-512 kernels with scalar twins).
//! * [`forward_project`] / [`back_project_adjoint`]: the same pair in one call (simulating a
//!   scan of a given volume takes seconds).
//! * [`reconstruct_iterative`]: SIRT, OS-SART, CGLS, FISTA-TV and PWLS ([`IterativeMethod`])
//!   with warm start, non-negativity, tolerance, progress and cancel, returning an
//!   [`IterativeReport`] with the residuals.
//! * [`back_project_voxel_driven`]: the voxel-driven back-projector FBP/FDK use (*unmatched*:
//!   not the transpose of [`forward_project`]), for any geometry.
//! * [`reference`]: the scalar f64 Joseph pair, the oracle the fast one is tested against.
//!
//! Geometry, frames and units are those of `roboct_geometry` (see its `conventions` module):
//! projections are `[view][row][col]` line integrals of mu in 1/mm, volumes `[z][y][x]` in 1/mm.
//!
//! # Example: iterative reconstruction on the operator API
//!
//! ```
//! use ndarray::Array3;
//! use roboct_core::{CancelToken, NoProgress};
//! use roboct_geometry::{Beam, CircularScan, Detector, DetectorShape, VolumeGrid, even_angles};
//! use roboct_recon::{IterativeMethod, IterativeOptions, ReconPlan, reconstruct_iterative};
//!
//! // A 2D fan beam and the exact projections of a centred disc (radius 30 mm, 0.02/mm).
//! let scan = CircularScan {
//!     beam: Beam::Divergent,
//!     sid_mm: 300.0,
//!     sdd_mm: 500.0,
//!     detector: Detector::centered(96, 1, [1.2, 1.2], [0.0, 0.0], DetectorShape::Flat),
//!     angles_rad: even_angles(0.0, std::f64::consts::TAU, 90),
//!     detector_rotation_rad: 0.0,
//! }
//! .build()?;
//! let projections = Array3::from_shape_fn((90, 1, 96), |(_, _, col)| {
//!     // The ray through column c passes the centre at distance SID sin(gamma).
//!     let u_mm = (col as f64 - 47.5) * 1.2;
//!     let p = 300.0 * (u_mm / 500.0f64).atan().sin();
//!     (2.0 * 0.02 * (30.0f64 * 30.0 - p * p).max(0.0).sqrt()) as f32
//! });
//! let grid = VolumeGrid::centered([64, 64, 1], [1.0; 3], [0.0; 3])?;
//! let plan = ReconPlan::new(&scan, &grid)?; // checked once
//! let options = IterativeOptions::new(IterativeMethod::Cgls).iterations(15);
//! let (image, report) = reconstruct_iterative(
//!     &plan,
//!     projections.view(),
//!     None, // per-ray weights: PWLS only
//!     &options,
//!     &NoProgress,
//!     &CancelToken::new(),
//! )?;
//! assert!(report.residuals.last() < report.residuals.first());
//! let centre = image.data()[[0, 32, 32]];
//! assert!((centre - 0.02).abs() < 0.001, "centre {centre}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example: FBP of a disc from its exact projections
//!
//! ```
//! use ndarray::Array3;
//! use roboct_core::{CancelToken, NoProgress};
//! use roboct_geometry::{Beam, CircularScan, Detector, DetectorShape, VolumeGrid, even_angles};
//! use roboct_recon::{AnalyticOptions, fdk_volume};
//!
//! // 2D parallel beam: 256 bins of 1 mm, 360 views over 180 degrees.
//! let scan = CircularScan {
//!     beam: Beam::Parallel,
//!     sid_mm: 0.0,
//!     sdd_mm: 0.0,
//!     detector: Detector::centered(256, 1, [1.0, 1.0], [0.0, 0.0], DetectorShape::Flat),
//!     angles_rad: even_angles(0.0, std::f64::consts::PI, 360),
//!     detector_rotation_rad: 0.0,
//! }
//! .build()?;
//! // A centred disc of radius 40 mm and mu = 0.02/mm: every view sees the chord 2 sqrt(R^2 - u^2).
//! let (radius_mm, mu) = (40.0f64, 0.02f64);
//! let projections = Array3::from_shape_fn((360, 1, 256), |(_, _, col)| {
//!     let u_mm = col as f64 - 127.5;
//!     (2.0 * mu * (radius_mm * radius_mm - u_mm * u_mm).max(0.0).sqrt()) as f32
//! });
//! let grid = VolumeGrid::centered([128, 128, 1], [1.0, 1.0, 1.0], [0.0; 3])?;
//! let (image, _report) = fdk_volume(
//!     &scan,
//!     projections,
//!     &grid,
//!     &AnalyticOptions::default(), // ram-lak
//!     &NoProgress,
//!     &CancelToken::new(),
//! )?;
//! let centre = image.data()[[0, 64, 64]];
//! let outside = image.data()[[0, 64, 120]]; // 56 mm from the centre
//! assert!((centre - 0.02).abs() < 0.0004, "centre {centre}");
//! assert!(outside.abs() < 0.0004, "outside {outside}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(clippy::undocumented_unsafe_blocks)]

mod analytic;
mod backproject;
mod choice;
mod filter;
mod iterative;
mod joseph;
mod kernels;
mod operator;
mod plan;
mod projector;
pub mod reference;
mod store;
mod tile;
mod weights;

pub use analytic::{AnalyticOptions, ReconReport, fdk, fdk_volume};
pub use backproject::{Path, Weighting};
pub use choice::{Analytic, check_analytic};
pub use filter::{Filter, UnknownFilter, Window};
pub use iterative::{
    IterativeMethod, IterativeOptions, IterativeReport, StopReason, WarmStart,
    reconstruct_iterative,
};
pub use joseph::back_project_voxel_driven;
pub use kernels::avx512_available;
pub use operator::{
    JosephProjector, JosephScratch, Projector, VIEW_CHUNK, back_project_adjoint, forward_project,
};
pub use plan::{JosephPath, ReconPlan};
pub use weights::Redundancy;

/// Why a reconstruction could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconError {
    /// The projection array does not have the shape the geometry needs.
    #[error(
        "projections have shape (views, rows, cols) = {found:?}; the geometry needs {expected:?}"
    )]
    ProjectionShape {
        /// What the geometry needs.
        expected: (usize, usize, usize),
        /// What was given.
        found: (usize, usize, usize),
    },
    /// The volume does not have the shape of its grid.
    #[error("volume has shape (z, y, x) = {found:?}; the grid needs {expected:?}")]
    VolumeShape {
        /// What the grid needs.
        expected: (usize, usize, usize),
        /// What was given.
        found: (usize, usize, usize),
    },
    /// FBP/FDK need a circular orbit.
    #[error(
        "FBP/FDK need a circular scan; this geometry has no circular orbit (use an iterative method)"
    )]
    NoOrbit,
    /// A view cannot be reconstructed from.
    #[error("view {view}: {message}")]
    BadView {
        /// The view.
        view: usize,
        /// Why.
        message: String,
    },
    /// The geometry asks for something this implementation does not do.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An option is out of range.
    #[error("{name}: {message}")]
    BadOption {
        /// The option.
        name: &'static str,
        /// What is wrong and what was expected.
        message: String,
    },
    /// FBP was asked of a cone-beam scan, or FDK of a parallel-beam or fan-beam one.
    #[error(
        "--algorithm {given} is for {fits} scans; this is a {scan} scan: use --algorithm {instead}"
    )]
    WrongAnalytic {
        /// The method asked for (`fbp`, `fdk`).
        given: &'static str,
        /// The scans it is for.
        fits: &'static str,
        /// What the scan is (`cone-beam`, `parallel-beam`, `fan-beam`).
        scan: &'static str,
        /// The method to use instead.
        instead: &'static str,
    },
    /// The slab receiver failed.
    #[error("could not take a reconstructed slab: {0}")]
    Sink(Box<dyn std::error::Error + Send + Sync>),
    /// Cancelled through the cancel token.
    #[error("cancelled")]
    Cancelled,
    /// An input array holds a value that is not a finite number.
    #[error(
        "{field}: the value at {axes} = {index:?} is {value}; every value must be a finite number"
    )]
    NonFinite {
        /// The input (`projections`, `weights`, `warm start`).
        field: &'static str,
        /// What the index counts, e.g. `(view, row, col)`.
        axes: &'static str,
        /// Where the first such value is.
        index: (usize, usize, usize),
        /// The value (NaN or an infinity).
        value: f32,
    },
}

impl roboct_core::Recover for ReconError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            ReconError::ProjectionShape { .. }
            | ReconError::VolumeShape { .. }
            | ReconError::NoOrbit
            | ReconError::BadView { .. }
            | ReconError::Unsupported(_)
            | ReconError::BadOption { .. }
            | ReconError::WrongAnalytic { .. }
            | ReconError::NonFinite { .. } => roboct_core::Recovery::Abort,
            ReconError::Sink(_) => roboct_core::Recovery::Retry,
            ReconError::Cancelled => roboct_core::Recovery::Abort,
        }
    }
}
