//! What is true about a simulated patient, as `truth.json` holds it: findings with their
//! measured volume and centroid, distractors, midline shift, ventricle volume, organ extents
//! and landmarks, all in the world frame of the patient as posed.
//!
//! Volumes and centroids are measured on the exact solids ([`Patient::measure`], 0.5 mm),
//! never taken from the size asked for: they are what a perfect reader would find.

use std::collections::BTreeMap;

use roboct_geometry::vec3::Vec3;

use crate::chest::Chest;
use crate::head::{DistractorKind, FindingKind, Head, Side};
use crate::patient::{Organ, Patient};

/// Voxel size of the truth measurements, mm.
pub const MEASURE_VOXEL_MM: f64 = 0.5;

/// One finding's truth.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FindingRecord {
    /// Kind.
    pub kind: FindingKind,
    /// Side.
    pub side: Side,
    /// Volume as made, mL.
    pub volume_ml: f64,
    /// Volume asked for, mL.
    pub requested_volume_ml: f64,
    /// Centroid, world mm.
    pub centroid_mm: Vec3,
    /// Extent, world mm.
    pub min_mm: Vec3,
    /// Extent, world mm.
    pub max_mm: Vec3,
    /// Largest thickness (extra-axial) or smallest diameter (clot), mm, by design.
    pub max_thickness_mm: f64,
    /// CT number of the blood at 70 keV.
    pub hu: f64,
    /// The mask file beside `truth.json`, when one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
}

/// A distractor's truth.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DistractorRecord {
    /// Kind.
    pub kind: DistractorKind,
    /// Centre, world mm.
    pub centroid_mm: Vec3,
}

/// An organ's extent.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrganRecord {
    /// Lowest corner, world mm.
    pub min_mm: Vec3,
    /// Highest corner, world mm.
    pub max_mm: Vec3,
    /// Volume, mL.
    pub volume_ml: f64,
    /// Centroid, world mm.
    pub centroid_mm: Vec3,
}

/// `truth.json`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Truth {
    /// `head` or `chest`.
    pub phantom: String,
    /// The seed.
    pub seed: u64,
    /// The frame of every coordinate.
    pub frame: String,
    /// Findings.
    pub findings: Vec<FindingRecord>,
    /// Distractors.
    pub distractors: Vec<DistractorRecord>,
    /// Midline shift, mm (head).
    pub midline_shift_mm: f64,
    /// Ventricle volume, mL (head; CSF and any blood in them).
    pub ventricle_volume_ml: f64,
    /// Organ extents by name (`head`, `brain`, `skull`, `lungs`, `body`...).
    pub organs: BTreeMap<String, OrganRecord>,
    /// Landmarks by name, world mm.
    pub landmarks: BTreeMap<String, Vec3>,
    /// Rotation applied to the canonical patient (rows).
    pub rotation: [[f64; 3]; 3],
    /// Translation applied, mm.
    pub translation_mm: Vec3,
}

/// The frame every truth coordinate is in.
pub const FRAME: &str = "scanner frame in mm (roboct_geometry conventions); for a patient lying head first supine it is the DICOM patient frame LPS";

fn organ(patient: &Patient, organs: &[Organ]) -> Option<OrganRecord> {
    patient
        .measure(|b| organs.contains(&b.organ), 1.0)
        .map(|m| OrganRecord {
            min_mm: m.min_mm,
            max_mm: m.max_mm,
            volume_ml: m.volume_ml,
            centroid_mm: m.centroid_mm,
        })
}

impl Head {
    /// The truth of this head, measured.
    pub fn truth(&self) -> Truth {
        let p = &self.patient;
        let findings = self
            .truth
            .findings
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let m = p.measure(|b| b.finding == Some(i), MEASURE_VOXEL_MM);
                FindingRecord {
                    kind: f.kind,
                    side: f.side,
                    volume_ml: m.map_or(0.0, |m| m.volume_ml),
                    requested_volume_ml: f.requested_volume_ml,
                    centroid_mm: m.map_or([f64::NAN; 3], |m| m.centroid_mm),
                    min_mm: m.map_or([f64::NAN; 3], |m| m.min_mm),
                    max_mm: m.map_or([f64::NAN; 3], |m| m.max_mm),
                    max_thickness_mm: f.max_thickness_mm,
                    hu: f.hu,
                    mask: None,
                }
            })
            .collect();
        let ventricle_volume_ml = p
            .measure(
                |b| {
                    b.organ == Organ::Ventricle
                        || b.finding.is_some_and(|i| {
                            self.truth.findings[i].kind == FindingKind::Intraventricular
                        })
                },
                MEASURE_VOXEL_MM,
            )
            .map_or(0.0, |m| m.volume_ml);
        let mut organs = BTreeMap::new();
        for (name, which) in [
            (
                "head",
                &[
                    Organ::Head,
                    Organ::Skull,
                    Organ::Brain,
                    Organ::Ventricle,
                    Organ::Eye,
                ][..],
            ),
            ("brain", &[Organ::Brain, Organ::Ventricle][..]),
            ("skull", &[Organ::Skull][..]),
        ] {
            if let Some(o) = organ(p, which) {
                organs.insert(name.to_string(), o);
            }
        }
        Truth {
            phantom: "head".into(),
            seed: self.truth.seed,
            frame: FRAME.into(),
            findings,
            distractors: self
                .truth
                .distractors
                .iter()
                .map(|(k, c)| DistractorRecord {
                    kind: *k,
                    centroid_mm: *c,
                })
                .collect(),
            midline_shift_mm: self.truth.midline_shift_mm,
            ventricle_volume_ml,
            organs,
            landmarks: self.truth.landmarks.iter().cloned().collect(),
            rotation: self.truth.rotation,
            translation_mm: self.truth.translation_mm,
        }
    }
}

impl Chest {
    /// The truth of this chest, measured.
    pub fn truth(&self) -> Truth {
        let p = &self.patient;
        let mut organs = BTreeMap::new();
        for (name, which) in [
            ("body", &[Organ::Body][..]),
            ("lungs", &[Organ::Lung][..]),
            ("heart", &[Organ::Heart][..]),
        ] {
            if let Some(o) = organ(p, which) {
                organs.insert(name.to_string(), o);
            }
        }
        let mut landmarks: BTreeMap<String, Vec3> = self.landmarks.iter().cloned().collect();
        if let Some(l) = organs.get("lungs") {
            // The measured lung extent along z is the truth of apices and bases.
            let c = l.centroid_mm;
            landmarks.insert("lung_apices".into(), [c[0], c[1], l.max_mm[2]]);
            landmarks.insert("lung_bases".into(), [c[0], c[1], l.min_mm[2]]);
        }
        Truth {
            phantom: "chest".into(),
            seed: self.seed,
            frame: FRAME.into(),
            findings: Vec::new(),
            distractors: Vec::new(),
            midline_shift_mm: 0.0,
            ventricle_volume_ml: 0.0,
            organs,
            landmarks,
            rotation: self.rotation,
            translation_mm: self.translation_mm,
        }
    }
}
