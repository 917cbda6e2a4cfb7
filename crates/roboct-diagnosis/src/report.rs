//! A reading as the DICOM crate's findings SR content ([`roboct_dicom::sr::FindingsReport`]),
//! so the same findings, with their measurements and units, reach the PACS.
//!
//! The mission and `roboct diagnose` both build the SR this way:
//!
//! ```no_run
//! # fn demo(volume: &roboct_geometry::Volume, study: roboct_dicom::study::StudyContext,
//! #         uids: roboct_dicom::uid::UidGenerator,
//! #         slices: Vec<roboct_dicom::sr::ImageRef>) -> Result<(), Box<dyn std::error::Error>> {
//! use roboct_diagnosis::report::{findings_report_with_key_images, key_images};
//! let dx = roboct_diagnosis::diagnose(volume);
//! // `slices`: the CT series' instances, one per slice of `volume`, in index order.
//! let keys = key_images(&dx, volume.grid(), &slices);
//! let report = findings_report_with_key_images(&dx, "CT head without contrast", &keys);
//! let writer = roboct_dicom::sr::ReportWriter::new(study, uids);
//! let sr = writer.findings_report(&report)?;
//! # let _ = sr; Ok(()) }
//! ```
//!
//! Tests: `tests/phantoms.rs` (`the_findings_sr_carries_the_reading`).

use roboct_dicom::sr::{
    Finding as SrFinding, FindingsReport, ImageRef, Measurement, Quantity, StudyMeasurement,
};
use roboct_geometry::VolumeGrid;

use crate::findings::{Diagnosis, Frame};

/// The findings SR content of `dx` with no key images: one SR finding per haemorrhage (its
/// side, kind, region and confidence in words; volume in mL, largest thickness in mm and mean
/// CT number in HU as coded measurements), the midline shift (mm) and ventricle volume (mL)
/// as study measurements, and a conclusion. A reading that is not assessable gives no
/// findings and a conclusion that says why. `procedure` is the procedure as performed
/// (protocol, dose).
pub fn findings_report(dx: &Diagnosis, procedure: &str) -> FindingsReport {
    findings_report_with_key_images(dx, procedure, &[])
}

/// As [`findings_report`], with `key_images[i]` (when present) the image that shows finding
/// `i` (see [`key_images`]).
pub fn findings_report_with_key_images(
    dx: &Diagnosis,
    procedure: &str,
    key_images: &[Option<ImageRef>],
) -> FindingsReport {
    let procedure = procedure.to_string();
    if !dx.assessable {
        return FindingsReport {
            procedure,
            findings: vec![],
            conclusion: Some(format!(
                "Not assessable by the automated reader: {}",
                dx.reason.as_deref().unwrap_or("unknown reason")
            )),
            measurements: vec![],
        };
    }
    let findings = dx
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| SrFinding {
            text: format!(
                "{} {}, {} (confidence {:.2})",
                f.side.name(),
                f.kind.words(),
                f.region,
                f.confidence
            ),
            size_mm: None,
            measurements: vec![
                Measurement::new(Quantity::VolumeMl, f.volume_ml),
                Measurement::new(Quantity::ThicknessMm, f.max_thickness_mm),
                // The SR's numeric content takes no negative CT number for blood; blood
                // is never below 0 HU, and a reading that gives less is clamped.
                Measurement::new(Quantity::MeanHu, f.mean_hu.max(0.0)),
            ],
            key_images: key_images.get(i).cloned().flatten().into_iter().collect(),
        })
        .collect();
    let mut measurements = Vec::new();
    if let Some(m) = dx.midline_shift_mm {
        measurements.push(StudyMeasurement {
            label: format!(
                "Midline shift{}",
                if m.abs() < 0.5 {
                    String::new()
                } else {
                    format!(
                        " towards the patient's {}",
                        if m > 0.0 { "left" } else { "right" }
                    )
                }
            ),
            measurement: Measurement::new(Quantity::DistanceMm, m.abs()),
        });
    }
    if let Some(v) = dx.ventricle_volume_ml {
        measurements.push(StudyMeasurement {
            label: "Ventricle volume".into(),
            measurement: Measurement::new(Quantity::VolumeMl, v),
        });
    }
    let mut conclusion = if dx.findings.is_empty() {
        "No intracranial haemorrhage detected by the automated reader; physician review required."
            .to_string()
    } else {
        format!(
            "Intracranial haemorrhage detected ({} finding{}, {:.1} mL in all): urgent physician review.",
            dx.findings.len(),
            if dx.findings.len() == 1 { "" } else { "s" },
            dx.findings.iter().map(|f| f.volume_ml).sum::<f64>()
        )
    };
    for w in &dx.warnings {
        conclusion.push_str(&format!(" Warning: {w}."));
    }
    FindingsReport {
        procedure,
        findings,
        conclusion: Some(conclusion),
        measurements,
    }
}

/// For each finding of `dx`, the image of `slices` that shows it: `slices[k]` is the image
/// of slice `k` of `grid` (the grid of the volume that was read), and the finding's key slice
/// is the slice nearest its [`crate::Finding::key_slice_center_mm`]. `None` where that slice
/// has no image. Works in either report frame ([`Diagnosis::frame`]).
pub fn key_images(dx: &Diagnosis, grid: &VolumeGrid, slices: &[ImageRef]) -> Vec<Option<ImageRef>> {
    dx.findings
        .iter()
        .map(|f| {
            let mut p = f.key_slice_center_mm;
            if dx.frame == Frame::Ras {
                // The grid is in LPS (roboct's volumes are), the report in RAS.
                p[0] = -p[0];
                p[1] = -p[1];
            }
            let k = grid.index_from_world(p)[2].round();
            (k >= 0.0 && k.is_finite())
                .then(|| slices.get(k as usize).cloned())
                .flatten()
        })
        .collect()
}
