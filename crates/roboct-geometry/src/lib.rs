//! Scanner geometry, volume grids and volumes for roboct.
//!
//! The conventions (frames, angles, index orders, units) are written down once, with a picture,
//! in [`conventions`]; every other crate follows them.
//!
//! # Example: a cone-beam geometry file, and where the isocentre lands on the panel
//!
//! ```
//! use std::path::Path;
//! use roboct_geometry::parse_geometry_toml;
//!
//! let text = r#"
//! kind = "cone"
//! source_to_isocenter_mm = 600
//! source_to_detector_mm = 1000
//! [detector]
//! cols = 512
//! rows = 384
//! pixel_mm = [1.35, 1.35]
//! offset_mm = [10, 0]
//! [angles]
//! start_deg = 0
//! stop_deg = 360
//! count = 360
//! [volume]
//! size = [256, 256, 256]
//! voxel_mm = [1, 1, 1]
//! center_mm = [0, 0, 0]
//! "#;
//! let g = parse_geometry_toml(text, Path::new("p3.toml"))?;
//! assert_eq!(g.scan.n_views(), 360);
//! // The isocentre projects 10 mm (7.4 pixels) from the panel's centre column 255.5, in every view.
//! for view in g.scan.views() {
//!     let (u_mm, v_mm, _depth) = view.project(g.scan.detector(), [0.0; 3]).unwrap();
//!     let col = g.scan.detector().col_of(u_mm);
//!     assert!((col - (255.5 - 10.0 / 1.35)).abs() < 1e-6, "{col}");
//!     assert!(v_mm.abs() < 1e-9);
//! }
//! # Ok::<(), roboct_geometry::ConfigError>(())
//! ```

#![forbid(unsafe_code)]

pub mod circular;
pub mod config;
pub mod conventions;
pub mod file;
pub mod grid;
pub mod rtk;
pub mod scan;
pub mod vec3;
pub mod volume;

pub use circular::{Beam, CircularScan, RTK_TO_ROBOCT, RtkProjection, even_angles, rtk_view};
pub use config::{
    ConfigError, GeometryConfig, Kind, circular_scan_toml, default_volume, parse_geometry_toml,
    read_geometry_toml, scan_toml,
};
pub use file::{DetectorSampling, GeometryFile, GeometryFileError};
pub use grid::{GridError, VolumeGrid};
pub use rtk::{RtkError, RtkGeometry, read_rtk_xml, write_rtk_xml};
pub use scan::{Detector, DetectorShape, GeometryError, Orbit, ScanGeometry, Source, View};
pub use volume::{ShapeMismatch, Volume, VolumeSlab};

/// The most values one projection stack (views x rows x cols) or volume grid may hold: 2^31,
/// 8 GiB as f32. A larger number in a file is almost surely a mistake, and allocating for it
/// would exhaust the machine before any error could be given, so every geometry kind (the
/// circular TOML kinds, `vec`, RTK XML), every [`VolumeGrid`] and the array file readers
/// (roboct-io) refuse more, naming the field.
pub const MAX_VALUES: u64 = 1 << 31;

/// The most detector pixels along one axis (the largest flat panels have about 4000).
pub const MAX_PIXELS_PER_AXIS: usize = 1 << 16;

/// The most views in one scan: more than any real scan takes (a helical scan of a whole body
/// has some 10^5); a larger count is a mistake in the file.
pub const MAX_VIEWS: usize = 1 << 22;
