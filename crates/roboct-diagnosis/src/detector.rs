//! What finds blood: the [`Detector`] trait, the built-in [`ThresholdDetector`] and an
//! [`OnnxDetector`] that runs a site's validated model (ONNX, through tract: pure Rust,
//! nothing downloaded at build or run time).
//!
//! A detector only says, voxel by voxel on the reading grid, how likely blood is. Everything
//! after that is the same for every detector: connected regions, rejection of bone,
//! calcifications and partial volume at the skull, typing, measurements and the report. So a
//! learned model plugs in without changing what the report means.

use std::path::{Path, PathBuf};

use crate::morph::{Dims, grow};

/// Why a detector could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectorError {
    /// The model file could not be read or is not a valid ONNX model.
    #[error("model {path}: {message}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The model ran but its output is not what this reader expects.
    #[error("model {name}: output {what}; expected {expected}")]
    Output {
        /// The model.
        name: String,
        /// What came out.
        what: String,
        /// What was expected.
        expected: String,
    },
    /// Running the model failed.
    #[error("model {name}: {message}")]
    Run {
        /// The model.
        name: String,
        /// What failed.
        message: String,
    },
}

/// What a detector sees: the volume on the reading grid (HU, x towards the patient's left, y
/// posterior, z superior) with what the reader already knows about it.
#[derive(Clone, Copy, Debug)]
pub struct Scan<'a> {
    /// HU, `[z][y][x]`.
    pub hu: &'a [f32],
    /// HU smoothed by two passes of a [1 2 1]/4 binomial filter.
    pub smoothed: &'a [f32],
    /// Shape and voxel size.
    pub dims: Dims,
    /// The intracranial space (inside the inner table of the skull).
    pub intracranial: &'a [bool],
    /// Distance from the skull, mm.
    pub skull_distance_mm: &'a [f32],
    /// The grey-matter level of this scan, HU (smoothed).
    pub grey_hu: f32,
    /// Noise of the smoothed image, HU (one standard deviation).
    pub smoothed_noise_hu: f32,
}

/// Something that finds blood in a head CT.
pub trait Detector: Send + Sync {
    /// A short name for the report (`threshold`, the model's file name...).
    fn name(&self) -> String;
    /// Probability of blood in each voxel of `scan` (0 to 1; the reader keeps voxels >= 0.5).
    fn blood_probability(&self, scan: &Scan<'_>) -> Result<Vec<f32>, DetectorError>;
}

/// The built-in detector: hysteresis thresholds on the smoothed image relative to the scan's
/// own grey matter and noise. Seeds are voxels clearly denser than grey matter (and not dense
/// as bone), the region grows to voxels above a lower level; both stay away from the skull
/// (partial volume with 1200 HU bone makes the first millimetres look like blood), and the
/// reader extends extra-axial findings back to the skull afterwards.
#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdDetector {
    /// Seeds: this many HU above grey matter, at least.
    pub seed_above_grey_hu: f32,
    /// Seeds: this many noise standard deviations above grey matter, at least.
    pub seed_noise_sigmas: f32,
    /// Growth: this many HU above grey matter.
    pub grow_above_grey_hu: f32,
    /// Growth: this many noise standard deviations above grey matter, at least.
    pub grow_noise_sigmas: f32,
    /// Above this (smoothed HU) a voxel is bone or calcification, never blood.
    pub max_blood_hu: f32,
    /// Seeds and growth keep this far from the skull, mm.
    pub skull_margin_mm: f32,
}

impl Default for ThresholdDetector {
    fn default() -> Self {
        Self {
            seed_above_grey_hu: 14.0,
            seed_noise_sigmas: 4.0,
            grow_above_grey_hu: 7.0,
            grow_noise_sigmas: 2.0,
            max_blood_hu: 110.0,
            skull_margin_mm: 3.0,
        }
    }
}

impl Detector for ThresholdDetector {
    fn name(&self) -> String {
        "threshold".into()
    }

    fn blood_probability(&self, scan: &Scan<'_>) -> Result<Vec<f32>, DetectorError> {
        let seed_t = scan.grey_hu
            + self
                .seed_above_grey_hu
                .max(self.seed_noise_sigmas * scan.smoothed_noise_hu);
        let grow_t = scan.grey_hu
            + self
                .grow_above_grey_hu
                .max(self.grow_noise_sigmas * scan.smoothed_noise_hu);
        let ok = |i: usize| {
            scan.intracranial[i]
                && scan.skull_distance_mm[i] >= self.skull_margin_mm
                && scan.smoothed[i] <= self.max_blood_hu
        };
        let within: Vec<bool> = (0..scan.hu.len())
            .map(|i| ok(i) && scan.smoothed[i] >= grow_t)
            .collect();
        let seeds: Vec<bool> = (0..scan.hu.len())
            .map(|i| within[i] && scan.smoothed[i] >= seed_t)
            .collect();
        let region = grow(&seeds, &within, scan.dims);
        Ok(region.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect())
    }
}

/// How an ONNX model sees the volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnnxLayout {
    /// One axial slice at a time: input `[1, 1, rows, cols]`, output the same shape.
    Slices,
    /// The whole volume: input `[1, 1, slices, rows, cols]`, output the same shape.
    Volume,
}

/// A site's model: ONNX, run by tract in pure Rust. The model takes HU mapped through a window
/// to 0..1 (`(hu - (level - width / 2)) / width`, clipped) and gives the probability of blood
/// per voxel.
pub struct OnnxDetector {
    name: String,
    model: tract_onnx::prelude::TypedModel,
    layout: OnnxLayout,
    window: (f32, f32),
}

impl std::fmt::Debug for OnnxDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxDetector")
            .field("name", &self.name)
            .field("layout", &self.layout)
            .field("window", &self.window)
            .finish()
    }
}

impl OnnxDetector {
    /// Loads `path` (an ONNX file); `window` is (level, width) in HU of the model's input.
    pub fn from_file(
        path: &Path,
        layout: OnnxLayout,
        window: (f32, f32),
    ) -> Result<Self, DetectorError> {
        let bytes = std::fs::read(path).map_err(|e| DetectorError::Model {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let name = path
            .file_name()
            .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
        Self::from_bytes(&bytes, &name, layout, window).map_err(|e| match e {
            DetectorError::Model { message, .. } => DetectorError::Model {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Loads a model from its bytes.
    pub fn from_bytes(
        bytes: &[u8],
        name: &str,
        layout: OnnxLayout,
        window: (f32, f32),
    ) -> Result<Self, DetectorError> {
        use tract_onnx::prelude::*;
        let model_err = |e: &dyn std::fmt::Display| DetectorError::Model {
            path: PathBuf::from(name),
            message: e.to_string(),
        };
        if !(window.1 > 0.0 && window.0.is_finite()) {
            return Err(model_err(&format!(
                "window {window:?}: expected a finite level and a width > 0"
            )));
        }
        let model = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(|e| model_err(&e))?
            .into_typed()
            .map_err(|e| model_err(&e))?
            .into_decluttered()
            .map_err(|e| model_err(&e))?;
        Ok(Self {
            name: name.to_string(),
            model,
            layout,
            window,
        })
    }

    fn run(&self, input: tract_onnx::prelude::Tensor) -> Result<Vec<f32>, DetectorError> {
        use tract_onnx::prelude::*;
        let shape = input.shape().to_vec();
        let run_err = |e: &dyn std::fmt::Display| DetectorError::Run {
            name: self.name.clone(),
            message: e.to_string(),
        };
        let plan = self
            .model
            .clone()
            .with_input_fact(0, f32::fact(&shape))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| run_err(&e))?;
        let out = plan.run(tvec!(input.into())).map_err(|e| run_err(&e))?;
        let t = out[0].to_array_view::<f32>().map_err(|e| run_err(&e))?;
        if t.shape() != shape.as_slice() {
            return Err(DetectorError::Output {
                name: self.name.clone(),
                what: format!("shape {:?}", t.shape()),
                expected: format!("the input's shape {shape:?}"),
            });
        }
        Ok(t.iter().copied().collect())
    }
}

impl Detector for OnnxDetector {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn blood_probability(&self, scan: &Scan<'_>) -> Result<Vec<f32>, DetectorError> {
        let (level, width) = self.window;
        let lo = level - 0.5 * width;
        let norm = |v: f32| ((v - lo) / width).clamp(0.0, 1.0);
        let Dims { nz, ny, nx, .. } = scan.dims;
        let mut out = match self.layout {
            OnnxLayout::Volume => {
                let data: Vec<f32> = scan.hu.iter().map(|&v| norm(v)).collect();
                let t = tract_onnx::prelude::Tensor::from_shape(&[1, 1, nz, ny, nx], &data)
                    .map_err(|e| DetectorError::Run {
                        name: self.name.clone(),
                        message: e.to_string(),
                    })?;
                self.run(t)?
            }
            OnnxLayout::Slices => {
                let plane = ny * nx;
                let mut all = Vec::with_capacity(scan.hu.len());
                for z in 0..nz {
                    let data: Vec<f32> = scan.hu[z * plane..(z + 1) * plane]
                        .iter()
                        .map(|&v| norm(v))
                        .collect();
                    let t = tract_onnx::prelude::Tensor::from_shape(&[1, 1, ny, nx], &data)
                        .map_err(|e| DetectorError::Run {
                            name: self.name.clone(),
                            message: e.to_string(),
                        })?;
                    all.extend(self.run(t)?);
                }
                all
            }
        };
        if let Some(bad) = out
            .iter()
            .find(|v| !v.is_finite() || !(-1e-3..=1.001).contains(*v))
        {
            return Err(DetectorError::Output {
                name: self.name.clone(),
                what: format!("value {bad}"),
                expected: "probabilities between 0 and 1".into(),
            });
        }
        // Outside the skull nothing is intracranial blood, whatever the model says.
        for (p, &inside) in out.iter_mut().zip(scan.intracranial) {
            if !inside {
                *p = 0.0;
            }
        }
        Ok(out)
    }
}

impl roboct_core::Recover for DetectorError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            DetectorError::Model { .. }
            | DetectorError::Output { .. }
            | DetectorError::Run { .. } => roboct_core::Recovery::Abort,
        }
    }
}
