//! Automatic head CT reading: is there bleeding, how much, and is the brain shifted?
//!
//! [`diagnose`] takes a volume in HU in the patient frame (LPS; `roboct_io` and
//! `roboct_dicom::reader` give volumes so) and returns a [`Diagnosis`]:
//!
//! 1. input checks (empty, tiny, NaN) and the reading grid ([`work`]: turned to the patient's
//!    axes, block-averaged to about 1 mm);
//! 2. calibration: air about -1000 HU, CSF about 0-15 HU (a warning when off, not assessable
//!    when far off or when the values are not HU at all);
//! 3. skull (bone above 300 HU, large components) and the cranial cavity it encloses (a flood
//!    from outside, slice by slice, through everything but the wall sealed by 2.5 mm: bone
//!    and the air of the sinuses); no cavity, lungs, or a cavity of the wrong size mean "not
//!    a head CT";
//! 4. the image smoothed without the skull ([`morph::smooth_excluding`]), the brightening
//!    reconstructions give the brain next to the skull removed (its median at each distance
//!    from the inner table, above grey matter), tissue levels (white and grey matter, CSF) and
//!    noise, measured on the scan itself;
//! 5. blood: a [`Detector`] gives a probability per voxel (the built-in
//!    [`ThresholdDetector`], or an [`OnnxDetector`] running a site's model); regions are then
//!    cleaned of calcification halos and the falx, outlined at half their contrast, extended to
//!    the inner table when they lie against it, typed (epidural lens, subdural crescent, thin
//!    subarachnoid sheets, intraventricular blood filling a ventricle's shape, otherwise
//!    intraparenchymal) and measured (volume, side, region, thickness, mean HU, confidence);
//! 6. midline shift (the septum pellucidum against the skull's midsagittal plane) and the
//!    ventricles' volume.
//!
//! Reports: [`Diagnosis::to_json`], [`Diagnosis::text`], [`keyimage::write_key_images`] (PNG,
//! blood window, findings outlined), and the DICOM crate's findings SR content
//! ([`report::findings_report`], [`report::key_images`]). `roboct diagnose` wires these to
//! files; `roboct bench diagnosis` measures the accuracy on simulated cohorts.
//!
//! Tests: unit tests beside the code; `tests/phantoms.rs` (every kind of haemorrhage, a clean
//! head with its distractors, midline shift, bad inputs, frames), `tests/onnx.rs` (the ONNX
//! runner with a model the test builds).

#![forbid(unsafe_code)]

pub mod detector;
pub mod findings;
pub mod keyimage;
pub mod morph;
mod read;
pub mod report;
pub mod work;

pub use detector::{Detector, DetectorError, OnnxDetector, OnnxLayout, Scan, ThresholdDetector};
pub use findings::{
    Calibration, Diagnosis, Finding, FindingKind, FindingMasks, Frame, Phase, Side,
};
pub use read::{ReadOptions, diagnose, diagnose_with};
