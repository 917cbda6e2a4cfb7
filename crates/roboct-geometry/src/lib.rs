//! Scanner geometry, volume grids and volumes for roboct.
//!
//! The conventions (frames, angles, index orders, units) are written down once, with a picture,
//! in [`conventions`]; every other crate follows them.

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
    read_geometry_toml,
};
pub use file::{DetectorSampling, GeometryFile, GeometryFileError};
pub use grid::{GridError, VolumeGrid};
pub use rtk::{RtkError, RtkGeometry, read_rtk_xml, write_rtk_xml};
pub use scan::{Detector, DetectorShape, GeometryError, Orbit, ScanGeometry, Source, View};
pub use volume::{ShapeMismatch, Volume, VolumeSlab};
