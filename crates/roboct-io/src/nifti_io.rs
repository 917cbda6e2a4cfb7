//! NIfTI-1 (`.nii`, `.nii.gz`) through the `nifti` crate.
//!
//! NIfTI's world is RAS (+x towards the patient's right, +y anterior, +z superior); ours is ITK's
//! and DICOM's LPS (+x left, +y posterior, +z superior). The x and y rows of the affine change
//! sign between the two, exactly as ITK's NIfTI reader and writer do. We write both sform
//! (code 1, scanner) and qform (code 1) so every reader finds the same grid, and read sform
//! first, then qform, as the NIfTI-1 standard ranks them.

use std::io::Read;
use std::path::Path;

use nifti::writer::WriterOptions;
use nifti::{InMemNiftiVolume, IntoNdArray, NiftiHeader, NiftiVolume};
use roboct_geometry::{Volume, VolumeGrid};

use crate::IoError;

const FORMAT: &str = "NIfTI";

/// Size of the NIfTI-1 header; the voxels start at `vox_offset`, at least this far in.
const HEADER_BYTES: usize = 348;

fn decode_error(path: &Path, e: nifti::NiftiError) -> IoError {
    match e {
        nifti::NiftiError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            IoError::corrupt(
                path,
                FORMAT,
                "the file ends before the data its header announces",
            )
        }
        other => IoError::corrupt(path, FORMAT, other),
    }
}

/// Where the voxels start and how many bytes of them the header announces, checked against
/// the size bound ([`crate::check_announced`]) before anything is allocated for them.
fn announced(path: &Path, header: &NiftiHeader) -> Result<(usize, usize), IoError> {
    // Extensions sit between the header and the voxels; a gigabyte of them is no NIfTI file.
    if !(header.vox_offset >= HEADER_BYTES as f32 && header.vox_offset <= (1u32 << 30) as f32) {
        return Err(IoError::header(
            path,
            "vox_offset",
            format!(
                "{}; expected 348 or more, inside the file",
                header.vox_offset
            ),
        ));
    }
    let dims = header.dim().map_err(|e| decode_error(path, e))?;
    let datatype = header
        .data_type()
        .map_err(|e| IoError::header(path, "datatype", e.to_string()))?;
    let element = datatype.size_of();
    // The crate reads `bitpix / 8` bytes per voxel and converts by `datatype`: they must agree.
    if i64::from(header.bitpix) != 8 * element as i64 {
        return Err(IoError::header(
            path,
            "bitpix",
            format!(
                "{}; expected {} for datatype {datatype:?}",
                header.bitpix,
                8 * element
            ),
        ));
    }
    let values = dims.iter().map(|&d| u128::from(d)).product::<u128>();
    crate::check_announced(path, "dim", &format!("{dims:?}"), values, element)?;
    Ok((header.vox_offset as usize, values as usize * element))
}

/// Decompresses a `.nii.gz` no further than its header announces (header, extensions and
/// voxels): a small file must not expand to fill the memory.
fn gunzip(path: &Path, raw: &[u8]) -> Result<Vec<u8>, IoError> {
    let gzip_error = |e: std::io::Error| IoError::corrupt(path, FORMAT, format!("gzip data: {e}"));
    let mut decoder = flate2::read::MultiGzDecoder::new(raw);
    let mut out = Vec::with_capacity(HEADER_BYTES);
    (&mut decoder)
        .take(HEADER_BYTES as u64)
        .read_to_end(&mut out)
        .map_err(gzip_error)?;
    let header = NiftiHeader::from_reader(&out[..]).map_err(|e| decode_error(path, e))?;
    let (offset, data) = announced(path, &header)?;
    let total = (offset + data) as u64;
    (&mut decoder)
        .take(total + 1 - out.len() as u64)
        .read_to_end(&mut out)
        .map_err(gzip_error)?;
    if out.len() as u64 > total {
        return Err(IoError::corrupt(
            path,
            FORMAT,
            format!(
                "the gzip data expands beyond the {total} bytes its header announces (vox_offset {offset} + {data} bytes of voxels); the header's dim or datatype is wrong"
            ),
        ));
    }
    Ok(out)
}

pub(crate) fn read(path: &Path) -> Result<Volume, IoError> {
    let format = FORMAT;
    let raw = std::fs::read(path).map_err(|e| IoError::os(path, e))?;
    // Decide compression by content, not by name: `scan.NII.GZ` and a gzip file named `.nii`
    // both happen in the wild, and the crate's own reader goes by a lower-case `.gz` suffix.
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        gunzip(path, &raw)?
    } else {
        raw
    };
    let decode = |e: nifti::NiftiError| decode_error(path, e);
    let header = NiftiHeader::from_reader(&bytes[..]).map_err(decode)?;
    let (offset, data) = announced(path, &header)?;
    if offset > bytes.len() {
        return Err(IoError::header(
            path,
            "vox_offset",
            format!(
                "{}; expected 348 or more, inside the file",
                header.vox_offset
            ),
        ));
    }
    // Before the crate allocates what the header announces.
    if bytes.len() - offset < data {
        return Err(IoError::Truncated {
            path: path.to_path_buf(),
            expected: data as u64,
            found: (bytes.len() - offset) as u64,
        });
    }
    let volume = InMemNiftiVolume::from_reader(&bytes[offset..], &header).map_err(decode)?;
    let dims: Vec<usize> = volume.dim().iter().map(|&d| d as usize).collect();
    // Accept 2D images and 4D/5D images whose extra axes have length 1.
    let mut shape = [1usize; 3];
    for (a, &d) in dims.iter().enumerate() {
        if a < 3 {
            shape[a] = d;
        } else if d != 1 {
            return Err(IoError::Shape {
                path: path.to_path_buf(),
                shape: dims.clone(),
                expected: "a 3D volume (extra axes of length 1 at most)".into(),
            });
        }
    }
    if shape.contains(&0) {
        return Err(IoError::header(
            path,
            "dim",
            format!("{dims:?}; every size must be at least 1"),
        ));
    }
    let array = volume
        .into_ndarray::<f32>()
        .map_err(|e| IoError::corrupt(path, format, e))?;
    // The crate returns (x, y, z, ...) in Fortran order; ours is [z][y][x] in C order. Reversing
    // the axes and making the layout standard puts x fastest; extra axes have length 1.
    let data = array
        .reversed_axes()
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((shape[2], shape[1], shape[0]))
        .map_err(|e| IoError::corrupt(path, format, e))?;

    let (spacing, origin, direction) = grid_from_header(path, &header)?;
    let grid = VolumeGrid::with_direction(shape, spacing, origin, direction).map_err(|source| {
        IoError::Grid {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(Volume::from_array(grid, data).expect("grid made from the array's own shape"))
}

type GridParts = ([f64; 3], [f64; 3], [[f64; 3]; 3]);

/// Spacing, origin and direction in LPS from the header's sform, qform or pixdim.
fn grid_from_header(path: &Path, h: &NiftiHeader) -> Result<GridParts, IoError> {
    // `affine[r][c]`, RAS, columns = world step per index.
    let (affine, translation): ([[f64; 3]; 3], [f64; 3]) = if h.sform_code > 0 {
        let rows = [h.srow_x, h.srow_y, h.srow_z];
        (
            std::array::from_fn(|r| std::array::from_fn(|c| rows[r][c] as f64)),
            std::array::from_fn(|r| rows[r][3] as f64),
        )
    } else if h.qform_code > 0 {
        let (b, c, d) = (h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64);
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let rot = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let s = [
            h.pixdim[1] as f64,
            h.pixdim[2] as f64,
            h.pixdim[3] as f64 * qfac,
        ];
        (
            std::array::from_fn(|r| std::array::from_fn(|c| rot[r][c] * s[c])),
            [h.quatern_x as f64, h.quatern_y as f64, h.quatern_z as f64],
        )
    } else {
        // No orientation at all (ANALYZE-like): pixdim only, as nibabel and ITK do.
        let s = [h.pixdim[1] as f64, h.pixdim[2] as f64, h.pixdim[3] as f64];
        (
            std::array::from_fn(|r| std::array::from_fn(|c| if r == c { s[c] } else { 0.0 })),
            [0.0; 3],
        )
    };
    let mut spacing = [0.0; 3];
    let mut direction = [[0.0; 3]; 3];
    for c in 0..3 {
        let norm = (0..3)
            .map(|r| affine[r][c] * affine[r][c])
            .sum::<f64>()
            .sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            let field = if h.sform_code > 0 { "srow" } else { "pixdim" };
            return Err(IoError::header(
                path,
                field,
                format!("voxel size along axis {c} is {norm}; expected > 0"),
            ));
        }
        spacing[c] = norm;
        for r in 0..3 {
            // RAS -> LPS: x and y change sign.
            let sign = if r < 2 { -1.0 } else { 1.0 };
            direction[r][c] = sign * affine[r][c] / norm;
        }
    }
    let origin = [-translation[0], -translation[1], translation[2]];
    Ok((spacing, origin, direction))
}

pub(crate) fn write(path: &Path, volume: &Volume, compress: bool) -> Result<(), IoError> {
    let g = volume.grid();
    let spacing = g.spacing_mm();
    let d = g.direction();
    let o = g.origin_mm();
    // LPS -> RAS.
    let ras_dir: [[f64; 3]; 3] =
        std::array::from_fn(|r| std::array::from_fn(|c| if r < 2 { -d[r][c] } else { d[r][c] }));
    let ras_origin = [-o[0], -o[1], o[2]];

    let row = |r: usize| -> [f32; 4] {
        [
            (ras_dir[r][0] * spacing[0]) as f32,
            (ras_dir[r][1] * spacing[1]) as f32,
            (ras_dir[r][2] * spacing[2]) as f32,
            ras_origin[r] as f32,
        ]
    };
    let (quat, qfac) = quaternion_from_rotation(ras_dir);
    let mut h = NiftiHeader {
        pixdim: [
            qfac as f32,
            spacing[0] as f32,
            spacing[1] as f32,
            spacing[2] as f32,
            1.0,
            1.0,
            1.0,
            1.0,
        ],
        xyzt_units: 2 | 8, // mm, seconds
        sform_code: 1,
        qform_code: 1,
        srow_x: row(0),
        srow_y: row(1),
        srow_z: row(2),
        quatern_b: quat[1] as f32,
        quatern_c: quat[2] as f32,
        quatern_d: quat[3] as f32,
        quatern_x: ras_origin[0] as f32,
        quatern_y: ras_origin[1] as f32,
        quatern_z: ras_origin[2] as f32,
        ..Default::default()
    };
    h.set_description_str("roboct")
        .map_err(|e| IoError::corrupt(path, "NIfTI", e))?;

    // The crate rebuilds the output name from the stem (`a.b.nii` would become `a.nii`, and
    // `A.NII.GZ` would become `A.nii.gz`): write under a plain temporary name beside the target,
    // then rename, which also means a reader never sees a half-written file.
    let tmp = path.with_file_name(format!(
        ".roboct-{}.{}",
        std::process::id(),
        if compress { "nii.gz" } else { "nii" }
    ));
    let mut options = WriterOptions::new(&tmp).reference_header(&h);
    if compress {
        options = options.compress(true);
    }
    // The writer transposes to Fortran order itself: hand it (x, y, z).
    let written = options
        .write_nifti(&volume.data().view().reversed_axes())
        .map_err(|e| match e {
            nifti::NiftiError::Io(io) => IoError::os(path, io),
            other => IoError::corrupt(path, "NIfTI", other),
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| IoError::os(path, e))
}

/// The NIfTI quaternion (a, b, c, d) with a >= 0 and qfac for a rotation or a reflection
/// (NIfTI-1 standard, `nifti_mat44_to_quatern`: a reflection is a rotation with the third
/// column negated and qfac = -1).
fn quaternion_from_rotation(mut m: [[f64; 3]; 3]) -> ([f64; 4], f64) {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let qfac = if det < 0.0 { -1.0 } else { 1.0 };
    if det < 0.0 {
        for row in m.iter_mut() {
            row[2] = -row[2];
        }
    }
    let trace = m[0][0] + m[1][1] + m[2][2];
    let q = if trace > 0.0 {
        let s = 0.5 / (trace + 1.0).sqrt();
        [
            0.25 / s,
            (m[2][1] - m[1][2]) * s,
            (m[0][2] - m[2][0]) * s,
            (m[1][0] - m[0][1]) * s,
        ]
    } else if m[0][0] > m[1][1] && m[0][0] > m[2][2] {
        let s = 2.0 * (1.0 + m[0][0] - m[1][1] - m[2][2]).sqrt();
        [
            (m[2][1] - m[1][2]) / s,
            0.25 * s,
            (m[0][1] + m[1][0]) / s,
            (m[0][2] + m[2][0]) / s,
        ]
    } else if m[1][1] > m[2][2] {
        let s = 2.0 * (1.0 + m[1][1] - m[0][0] - m[2][2]).sqrt();
        [
            (m[0][2] - m[2][0]) / s,
            (m[0][1] + m[1][0]) / s,
            0.25 * s,
            (m[1][2] + m[2][1]) / s,
        ]
    } else {
        let s = 2.0 * (1.0 + m[2][2] - m[0][0] - m[1][1]).sqrt();
        [
            (m[1][0] - m[0][1]) / s,
            (m[0][2] + m[2][0]) / s,
            (m[1][2] + m[2][1]) / s,
            0.25 * s,
        ]
    };
    let q = if q[0] < 0.0 { q.map(|v| -v) } else { q };
    (q, qfac)
}
