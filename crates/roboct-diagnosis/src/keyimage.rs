//! Key images: for each finding, its key axial slice in the blood window (W 80, L 40) with the
//! finding outlined, as a PNG. Slices are shown as radiologists read them: the patient's
//! right on the image's left, anterior at the top.

use std::path::{Path, PathBuf};

use crate::findings::Diagnosis;

/// Why key images could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyImageError {
    /// The diagnosis holds no segmentation (not assessable, or read without masks).
    #[error(
        "the diagnosis holds no segmentation to draw (read with keep_masks, and only assessable images have one)"
    )]
    NoMasks,
    /// A file could not be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// Blood window: level 40 HU, width 80 HU.
pub const BLOOD_WINDOW: (f32, f32) = (40.0, 80.0);

/// Writes one PNG per finding into `dir` (`finding_01_subdural_z0042.png`...) and returns the
/// paths. Each image is enlarged twice; the finding's outline is drawn in red, other
/// findings on the same slice in yellow.
pub fn write_key_images(dx: &Diagnosis, dir: &Path) -> Result<Vec<PathBuf>, KeyImageError> {
    let m = dx.masks.as_ref().ok_or(KeyImageError::NoMasks)?;
    let [nx, ny, nz] = m.grid.size();
    std::fs::create_dir_all(dir).map_err(|e| KeyImageError::Write {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let (level, width) = BLOOD_WINDOW;
    let scale = 2usize;
    let mut out = Vec::new();
    for (k, f) in dx.findings.iter().enumerate() {
        let z = f.key_slice.min(nz.saturating_sub(1));
        let label = (k + 1) as u16;
        let at = |y: usize, x: usize| (z * ny + y) * nx + x;
        let mut img = image::RgbImage::new((nx * scale) as u32, (ny * scale) as u32);
        for y in 0..ny {
            for x in 0..nx {
                let v = m.hu[at(y, x)];
                let g = (((v - (level - 0.5 * width)) / width).clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
                let l = m.labels[at(y, x)];
                let edge = l != 0 && {
                    let nb = |yy: isize, xx: isize| {
                        if yy < 0 || xx < 0 || yy >= ny as isize || xx >= nx as isize {
                            0
                        } else {
                            m.labels[at(yy as usize, xx as usize)]
                        }
                    };
                    let (yi, xi) = (y as isize, x as isize);
                    [
                        nb(yi - 1, xi),
                        nb(yi + 1, xi),
                        nb(yi, xi - 1),
                        nb(yi, xi + 1),
                    ]
                    .iter()
                    .any(|&n| n != l)
                };
                let px = if edge && l == label {
                    image::Rgb([255, 0, 0])
                } else if edge {
                    image::Rgb([255, 220, 0])
                } else {
                    image::Rgb([g, g, g])
                };
                for dy in 0..scale {
                    for dx2 in 0..scale {
                        img.put_pixel((x * scale + dx2) as u32, (y * scale + dy) as u32, px);
                    }
                }
            }
        }
        let path = dir.join(format!(
            "finding_{:02}_{}_z{:04}.png",
            k + 1,
            f.kind.name(),
            z
        ));
        img.save_with_format(&path, image::ImageFormat::Png)
            .map_err(|e| KeyImageError::Write {
                path: path.clone(),
                message: e.to_string(),
            })?;
        out.push(path);
    }
    Ok(out)
}

impl roboct_core::Recover for KeyImageError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            KeyImageError::NoMasks => roboct_core::Recovery::Abort,
            KeyImageError::Write { .. } => roboct_core::Recovery::Retry,
        }
    }
}
