//! PNG previews of slices with a window and level, as a radiologist looks at them.

use std::path::{Path, PathBuf};

use ndarray::{ArrayView2, ArrayView3, Axis};

use crate::IoError;

/// Display window: values `center - width/2` and below are black, `center + width/2` and
/// above are white (DICOM's window centre/width, linear function).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Window centre (level), in the volume's unit.
    pub center: f32,
    /// Window width, in the volume's unit; > 0.
    pub width: f32,
}

impl Window {
    /// A window spanning the finite values of `data` (black at the minimum, white at the
    /// maximum); a constant image gets a unit-wide window around its value.
    pub fn min_max<'a>(data: impl IntoIterator<Item = &'a f32>) -> Self {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in data {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if !lo.is_finite() {
            return Self {
                center: 0.0,
                width: 1.0,
            };
        }
        let width = if hi > lo { hi - lo } else { 1.0 };
        Self {
            center: 0.5 * (lo + hi),
            width,
        }
    }

    fn gray(&self, v: f32) -> u8 {
        let t = (v - (self.center - 0.5 * self.width)) / self.width;
        if t.is_nan() {
            0
        } else {
            (t.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
        }
    }
}

/// Writes one slice `[y][x]` as an 8-bit grey PNG, row 0 at the top.
pub fn write_png_slice(
    path: &Path,
    slice: ArrayView2<'_, f32>,
    window: Window,
) -> Result<(), IoError> {
    let (h, w) = slice.dim();
    let pixels: Vec<u8> = slice.iter().map(|&v| window.gray(v)).collect();
    let img = image::GrayImage::from_raw(w as u32, h as u32, pixels)
        .expect("buffer sized from the slice");
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| match e {
            image::ImageError::IoError(io) => IoError::os(path, io),
            other => IoError::corrupt(path, "PNG", other),
        })
}

/// Writes slices `[z][y][x]` of `volume` at the given z indices into `dir` as
/// `{prefix}_z{index:04}.png`, returning the paths.
pub fn write_png_slices(
    dir: &Path,
    prefix: &str,
    volume: ArrayView3<'_, f32>,
    z_indices: &[usize],
    window: Window,
) -> Result<Vec<PathBuf>, IoError> {
    std::fs::create_dir_all(dir).map_err(|e| IoError::os(dir, e))?;
    let nz = volume.dim().0;
    let mut out = Vec::new();
    for &z in z_indices.iter().filter(|&&z| z < nz) {
        let path = dir.join(format!("{prefix}_z{z:04}.png"));
        write_png_slice(&path, volume.index_axis(Axis(0), z), window)?;
        out.push(path);
    }
    Ok(out)
}
