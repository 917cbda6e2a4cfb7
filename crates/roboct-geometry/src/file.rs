//! Geometry files of either kind, picked by extension: our TOML or RTK's XML.

use std::path::{Path, PathBuf};

use crate::config::{ConfigError, read_geometry_toml};
use crate::grid::VolumeGrid;
use crate::rtk::{RtkError, read_rtk_xml};
use crate::scan::{GeometryError, ScanGeometry};

/// Why a geometry file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeometryFileError {
    /// Our TOML format.
    #[error(transparent)]
    Toml(#[from] ConfigError),
    /// RTK's XML format.
    #[error(transparent)]
    Rtk(#[from] RtkError),
    /// An RTK geometry needs the detector sampling of its projection images.
    #[error(
        "{path}: an RTK geometry has no detector size, pitch or origin; give the projections as MetaImage (.mha/.mhd), whose header has them"
    )]
    RtkNeedsSampling {
        /// The geometry file.
        path: PathBuf,
    },
    /// The extension names no geometry format.
    #[error("{path}: unknown geometry file type; expected .toml (roboct) or .xml (RTK)")]
    UnknownExtension {
        /// The file.
        path: PathBuf,
    },
    /// The RTK parameters make no valid geometry with this detector.
    #[error("{path}: {source}")]
    Geometry {
        /// The file.
        path: PathBuf,
        /// Why.
        source: GeometryError,
    },
}

/// The detector sampling of a projection stack (RTK's projection image header): `(cols, rows,
/// pixel_mm, origin_mm)`.
pub type DetectorSampling = (usize, usize, [f64; 2], [f64; 2]);

/// A geometry as read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct GeometryFile {
    /// The scan.
    pub scan: ScanGeometry,
    /// The grid from the file, if it gives one (our `[volume]`).
    pub volume: Option<VolumeGrid>,
    /// Whether the file is in RTK's frame (rotation axis y).
    pub rtk_frame: bool,
    /// Whether the scan is 2D (one detector row and one slice).
    pub is_2d: bool,
    /// The circular scan's parameters (our TOML, all kinds but `vec`).
    pub circular: Option<crate::circular::CircularScan>,
}

impl GeometryFile {
    /// Reads `path`: `.toml` is ours, `.xml` RTK's (which needs `sampling` from the projection
    /// images).
    pub fn read(
        path: &Path,
        sampling: Option<DetectorSampling>,
    ) -> Result<Self, GeometryFileError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match ext.as_str() {
            "toml" => {
                let c = read_geometry_toml(path)?;
                let is_2d = c.kind.is_2d() || c.scan.detector().rows == 1;
                Ok(Self {
                    scan: c.scan,
                    volume: c.volume,
                    rtk_frame: false,
                    is_2d,
                    // A scan moved off the origin is not RTK's circular geometry as written.
                    circular: c.circular.filter(|_| c.isocenter_mm == [0.0; 3]),
                })
            }
            "xml" => {
                let rtk = read_rtk_xml(path)?;
                let (cols, rows, pixel, origin) =
                    sampling.ok_or_else(|| GeometryFileError::RtkNeedsSampling {
                        path: path.to_path_buf(),
                    })?;
                let scan = rtk.scan(cols, rows, pixel, origin).map_err(|source| {
                    GeometryFileError::Geometry {
                        path: path.to_path_buf(),
                        source,
                    }
                })?;
                Ok(Self {
                    scan,
                    volume: None,
                    rtk_frame: true,
                    is_2d: rows == 1,
                    circular: None,
                })
            }
            _ => Err(GeometryFileError::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
    }
}

impl roboct_core::Recover for GeometryFileError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            GeometryFileError::Toml(e) => roboct_core::Recover::recovery(e),
            GeometryFileError::Rtk(e) => roboct_core::Recover::recovery(e),
            GeometryFileError::RtkNeedsSampling { .. }
            | GeometryFileError::UnknownExtension { .. }
            | GeometryFileError::Geometry { .. } => roboct_core::Recovery::Abort,
        }
    }
}
