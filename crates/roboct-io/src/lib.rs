//! CT data files for roboct.
//!
//! * Projection stacks, `[view][row][col]` float32: NumPy `.npy` shaped `(views, rows, cols)`,
//!   and MetaImage `.mha`/`.mhd` stacks as RTK writes them (x = detector column, y = detector
//!   row, z = view; the header's origin and spacing give the detector pixel coordinates in mm).
//! * Volumes `[z][y][x]` float32 with their grid: NIfTI `.nii`/`.nii.gz`, MetaImage `.mha`/`.mhd`
//!   and `.npy` (array only: NumPy files carry no voxel size or position).
//! * PNG previews of slices with a window and level.
//!
//! The file's extension picks the format. World coordinates are ITK's (what RTK and DICOM call
//! LPS); NIfTI files store RAS as their standard requires, so ITK, RTK, 3D Slicer and nibabel all
//! read our files at the same physical place.
//!
//! Every error names the file and, where there is one, the field and what was expected.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use ndarray::Array3;
use roboct_geometry::{Volume, VolumeGrid};

mod agree;
mod metaimage;
mod nifti_io;
mod npy;
mod png;

pub use agree::{check_detector_agrees, check_projection_shape};
pub use png::{Window, write_png_slice, write_png_slices};

/// Why a file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The extension does not name a format we know for this kind of data.
    #[error("{path}: unknown file type; expected {expected}")]
    UnknownExtension {
        /// The file.
        path: PathBuf,
        /// The extensions accepted here.
        expected: &'static str,
    },
    /// The operating system refused to open, read or write the file.
    #[error("{path}: {source}")]
    Os {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A header field is missing or has a value we cannot use.
    #[error("{path}: header field {field}: {message}")]
    Header {
        /// The file.
        path: PathBuf,
        /// The header field.
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The file ends before all the data its header announces.
    #[error("{path}: truncated: expected {expected} bytes of data, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header announces.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The content is not a valid file of the format its extension names.
    #[error("{path}: not a valid {format} file: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The format expected from the extension.
        format: &'static str,
        /// What the decoder said.
        message: String,
    },
    /// The array has the wrong number of dimensions or an empty axis.
    #[error("{path}: array has shape {shape:?}; expected {expected}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// The array's shape.
        shape: Vec<usize>,
        /// What was expected.
        expected: String,
    },
    /// The file holds values that are not finite numbers where numbers are needed.
    #[error("{path}: {count} values are NaN or infinite (first at flat index {first})")]
    NotFinite {
        /// The file.
        path: PathBuf,
        /// How many.
        count: usize,
        /// Where the first one is.
        first: usize,
    },
    /// The grid in the file is not valid.
    #[error("{path}: {source}")]
    Grid {
        /// The file.
        path: PathBuf,
        /// Why the grid was refused.
        source: roboct_geometry::GridError,
    },
    /// A NumPy file was given where a volume with a position is needed.
    #[error(
        "{path}: a .npy file holds no voxel size or position; use .nii, .nii.gz or .mha, or give the grid"
    )]
    NoGeometry {
        /// The file.
        path: PathBuf,
    },
    /// A projection stack's header and a geometry file place the detector pixels differently.
    #[error(
        "{projections} says the detector pixel is {header_pixel_mm:?} mm with pixel (0,0) at {header_origin_mm:?} mm, but {geometry} says {file_pixel_mm:?} mm at {file_origin_mm:?} mm"
    )]
    DetectorDisagrees {
        /// The projection stack.
        projections: PathBuf,
        /// The geometry file.
        geometry: PathBuf,
        /// Pixel pitch (u, v) in the stack's header, mm.
        header_pixel_mm: [f64; 2],
        /// Centre of pixel (0, 0) in the stack's header, mm.
        header_origin_mm: [f64; 2],
        /// Pixel pitch (u, v) in the geometry file, mm.
        file_pixel_mm: [f64; 2],
        /// Centre of pixel (0, 0) in the geometry file, mm.
        file_origin_mm: [f64; 2],
    },
    /// A projection stack does not have the shape its geometry file describes.
    #[error(
        "{projections}: projections have shape (views, rows, cols) = {found:?}, but {geometry} describes {expected:?}"
    )]
    ProjectionsDisagree {
        /// The projection stack.
        projections: PathBuf,
        /// The geometry file.
        geometry: PathBuf,
        /// The stack's shape (views, rows, cols).
        found: (usize, usize, usize),
        /// The shape the geometry describes.
        expected: (usize, usize, usize),
    },
}

impl IoError {
    pub(crate) fn os(path: &Path, source: std::io::Error) -> Self {
        Self::Os {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn header(path: &Path, field: &str, message: impl Into<String>) -> Self {
        Self::Header {
            path: path.to_path_buf(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn corrupt(path: &Path, format: &'static str, message: impl ToString) -> Self {
        Self::Corrupt {
            path: path.to_path_buf(),
            format,
            message: message.to_string(),
        }
    }
}

/// The file formats, picked by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// NumPy `.npy`.
    Npy,
    /// MetaImage `.mha` (header and data in one file) or `.mhd` (header beside a raw file).
    MetaImage,
    /// NIfTI-1 `.nii`.
    Nifti,
    /// NIfTI-1 gzip-compressed `.nii.gz`.
    NiftiGz,
}

impl Format {
    /// The format named by a path's extension.
    pub fn from_path(path: &Path, expected: &'static str) -> Result<Self, IoError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let format = if name.ends_with(".npy") {
            Format::Npy
        } else if name.ends_with(".mha") || name.ends_with(".mhd") {
            Format::MetaImage
        } else if name.ends_with(".nii.gz") {
            Format::NiftiGz
        } else if name.ends_with(".nii") {
            Format::Nifti
        } else {
            return Err(IoError::UnknownExtension {
                path: path.to_path_buf(),
                expected,
            });
        };
        Ok(format)
    }
}

const VOLUME_EXTENSIONS: &str = ".nii, .nii.gz, .mha, .mhd or .npy";
const PROJECTION_EXTENSIONS: &str = ".npy, .mha or .mhd";

/// A stack of projections `[view][row][col]`, in line integrals of mu (1/mm) for
/// reconstruction, with the detector pixel coordinates when the file carries them.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionStack {
    /// Values `[view][row][col]`.
    pub data: Array3<f32>,
    /// Detector sampling from the file header (MetaImage), if any.
    pub detector: Option<DetectorSampling>,
}

impl ProjectionStack {
    /// Projections `data` of a scan with this `detector`, its sampling recorded so that a
    /// MetaImage file carries it (RTK reads the detector from there).
    pub fn for_detector(data: Array3<f32>, detector: &roboct_geometry::Detector) -> Self {
        Self {
            data,
            detector: Some(DetectorSampling {
                pixel_mm: detector.pixel_mm,
                origin_mm: detector.origin_mm,
            }),
        }
    }
}

/// Where detector pixels are, as a MetaImage stack's header says (RTK's convention: the physical
/// coordinate of pixel `(col, row)` is `origin_mm + (col, row) * pixel_mm` in the detector
/// plane, in mm).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DetectorSampling {
    /// Pixel pitch (u, v) in mm.
    pub pixel_mm: [f64; 2],
    /// Coordinate (u, v) of the centre of pixel (0, 0) in mm.
    pub origin_mm: [f64; 2],
}

/// Reads a projection stack from `.npy` (shape `(views, rows, cols)`, float32 or float64) or a
/// MetaImage stack (`.mha`/`.mhd`, 3D, x = column, y = row, z = view).
pub fn read_projections(path: &Path) -> Result<ProjectionStack, IoError> {
    let stack = match Format::from_path(path, PROJECTION_EXTENSIONS)? {
        Format::Npy => ProjectionStack {
            data: npy::read_array3(path)?,
            detector: None,
        },
        Format::MetaImage => {
            let image = metaimage::read(path)?;
            let detector = Some(DetectorSampling {
                pixel_mm: [image.spacing[0], image.spacing[1]],
                origin_mm: [image.origin[0], image.origin[1]],
            });
            ProjectionStack {
                data: image.data,
                detector,
            }
        }
        Format::Nifti | Format::NiftiGz => {
            return Err(IoError::UnknownExtension {
                path: path.to_path_buf(),
                expected: PROJECTION_EXTENSIONS,
            });
        }
    };
    check_finite(path, &stack.data)?;
    Ok(stack)
}

/// Writes a projection stack. MetaImage files get the detector sampling in their header (unit
/// spacing and a centred origin when `detector` is `None`).
pub fn write_projections(path: &Path, stack: &ProjectionStack) -> Result<(), IoError> {
    match Format::from_path(path, PROJECTION_EXTENSIONS)? {
        Format::Npy => npy::write_array3(path, &stack.data),
        Format::MetaImage => {
            let (_, rows, cols) = stack.data.dim();
            let d = stack.detector.unwrap_or(DetectorSampling {
                pixel_mm: [1.0, 1.0],
                origin_mm: [-(cols as f64 - 1.0) / 2.0, -(rows as f64 - 1.0) / 2.0],
            });
            let image = metaimage::Image {
                data: stack.data.clone(),
                spacing: [d.pixel_mm[0], d.pixel_mm[1], 1.0],
                origin: [d.origin_mm[0], d.origin_mm[1], 0.0],
                direction: IDENTITY,
            };
            metaimage::write(path, &image)
        }
        Format::Nifti | Format::NiftiGz => Err(IoError::UnknownExtension {
            path: path.to_path_buf(),
            expected: PROJECTION_EXTENSIONS,
        }),
    }
}

const IDENTITY: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// Reads a volume with its grid from `.nii`, `.nii.gz`, `.mha` or `.mhd`.
///
/// `.npy` files are refused with [`IoError::NoGeometry`]: use [`read_array3`] and give the grid.
pub fn read_volume(path: &Path) -> Result<Volume, IoError> {
    let volume = match Format::from_path(path, VOLUME_EXTENSIONS)? {
        Format::Npy => {
            return Err(IoError::NoGeometry {
                path: path.to_path_buf(),
            });
        }
        Format::MetaImage => {
            let image = metaimage::read(path)?;
            let (nz, ny, nx) = image.data.dim();
            let grid = VolumeGrid::with_direction(
                [nx, ny, nz],
                image.spacing,
                image.origin,
                image.direction,
            )
            .map_err(|source| IoError::Grid {
                path: path.to_path_buf(),
                source,
            })?;
            Volume::from_array(grid, image.data).expect("grid made from the array's own shape")
        }
        Format::Nifti | Format::NiftiGz => nifti_io::read(path)?,
    };
    check_finite(path, volume.data())?;
    Ok(volume)
}

/// Writes a volume; the extension picks the format (`.npy` keeps the values only).
pub fn write_volume(path: &Path, volume: &Volume) -> Result<(), IoError> {
    match Format::from_path(path, VOLUME_EXTENSIONS)? {
        Format::Npy => npy::write_array3(path, volume.data()),
        Format::MetaImage => {
            let g = volume.grid();
            let image = metaimage::Image {
                data: volume.data().clone(),
                spacing: g.spacing_mm(),
                origin: g.origin_mm(),
                direction: g.direction(),
            };
            metaimage::write(path, &image)
        }
        Format::Nifti => nifti_io::write(path, volume, false),
        Format::NiftiGz => nifti_io::write(path, volume, true),
    }
}

/// Reads any 3D array file (`.npy`, `.mha`, `.mhd`, `.nii`, `.nii.gz`) as `[z][y][x]` values,
/// ignoring its grid.
pub fn read_array3(path: &Path) -> Result<Array3<f32>, IoError> {
    match Format::from_path(path, VOLUME_EXTENSIONS)? {
        Format::Npy => npy::read_array3(path),
        Format::MetaImage => Ok(metaimage::read(path)?.data),
        Format::Nifti | Format::NiftiGz => Ok(nifti_io::read(path)?.into_parts().1),
    }
}

/// Refuses a header announcing more than [`roboct_geometry::MAX_VALUES`] values (2^31, 8 GiB as
/// float32), or more memory than the machine has available, before anything is allocated for
/// it. Reading needs the raw data (`element_bytes` per value) and the float32 array.
pub(crate) fn check_announced(
    path: &Path,
    field: &str,
    shape: &str,
    values: u128,
    element_bytes: usize,
) -> Result<(), IoError> {
    if values > u128::from(roboct_geometry::MAX_VALUES) {
        return Err(IoError::header(
            path,
            field,
            format!("{shape} is {values} values; expected at most 2^31 (8 GiB as float32)"),
        ));
    }
    let needed = values * (element_bytes as u128 + 4);
    if let Some(available) = roboct_core::memory::available_bytes()
        && needed > u128::from(available)
    {
        return Err(IoError::header(
            path,
            field,
            format!(
                "{shape} needs {:.1} GiB to read; only {:.1} GiB of memory is available",
                needed as f64 / GIB,
                available as f64 / GIB
            ),
        ));
    }
    Ok(())
}

const GIB: f64 = (1u64 << 30) as f64;

fn check_finite(path: &Path, data: &Array3<f32>) -> Result<(), IoError> {
    let mut count = 0;
    let mut first = usize::MAX;
    for (i, v) in data.iter().enumerate() {
        if !v.is_finite() {
            count += 1;
            first = first.min(i);
        }
    }
    if count > 0 {
        return Err(IoError::NotFinite {
            path: path.to_path_buf(),
            count,
            first,
        });
    }
    Ok(())
}

impl roboct_core::Recover for IoError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            IoError::Os { .. } => roboct_core::Recovery::Retry,
            IoError::UnknownExtension { .. }
            | IoError::Header { .. }
            | IoError::Truncated { .. }
            | IoError::Corrupt { .. }
            | IoError::Shape { .. }
            | IoError::NotFinite { .. }
            | IoError::Grid { .. }
            | IoError::NoGeometry { .. }
            | IoError::DetectorDisagrees { .. }
            | IoError::ProjectionsDisagree { .. } => roboct_core::Recovery::Abort,
        }
    }
}
