//! The reader on phantom heads whose truth is exact ([`roboct_phantom::head`]): every kind of
//! haemorrhage found, typed, placed and measured; a clean head with its calcifications read
//! as clean; midline shift against the truth; bad inputs read as not assessable with a reason;
//! the findings SR built from a reading.
//!
//! The heads are rasterized (exact along x, no reconstruction) on the bench's reading grid,
//! 1 mm in-plane and 2 mm between slices, with 3 HU of Gaussian noise; every expected answer
//! comes from the phantom's truth. The cohort benchmark (`roboct bench diagnosis`) measures
//! the reader on simulated scans and reconstructions instead.

mod common;

use common::phantom_volume_on;
use ndarray::Array3;
use roboct_diagnosis::report::{findings_report, key_images};
use roboct_diagnosis::{Diagnosis, Finding, FindingKind, Frame, Side, diagnose};
use roboct_dicom::sr::{ImageRef, Quantity};
use roboct_geometry::{Volume, VolumeGrid};
use roboct_phantom::head::{FindingKind as Kind, Side as TruthSide};
use roboct_phantom::truth::{FindingRecord, Truth};

const GRID: [f64; 2] = [1.0, 2.0];
const NOISE_HU: f32 = 3.0;

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt()
}

fn side_of(t: &FindingRecord) -> Side {
    match t.side {
        TruthSide::Left => Side::Left,
        TruthSide::Right => Side::Right,
        TruthSide::Midline => Side::Midline,
    }
}

fn kind_of(t: &FindingRecord) -> FindingKind {
    match t.kind {
        Kind::Intraparenchymal => FindingKind::Intraparenchymal,
        Kind::Subdural => FindingKind::Subdural,
        Kind::Epidural => FindingKind::Epidural,
        Kind::Subarachnoid => FindingKind::Subarachnoid,
        Kind::Intraventricular => FindingKind::Intraventricular,
    }
}

/// The reported finding nearest the truth's centroid, within `within_mm`, with the report
/// printed when there is none.
fn matching<'a>(dx: &'a Diagnosis, t: &FindingRecord, within_mm: f64) -> &'a Finding {
    dx.findings
        .iter()
        .filter(|f| distance(f.centroid_mm, t.centroid_mm) <= within_mm)
        .min_by(|a, b| {
            distance(a.centroid_mm, t.centroid_mm)
                .total_cmp(&distance(b.centroid_mm, t.centroid_mm))
        })
        .unwrap_or_else(|| {
            panic!(
                "no finding within {within_mm} mm of the truth's {:?} {:.1} mL at {:?}:\n{}",
                t.kind,
                t.volume_ml,
                t.centroid_mm,
                dx.text()
            )
        })
}

/// Reads a head with one bleed and checks it against the truth: found (centroid within
/// `within_mm`), typed, on the right side, its volume within `volume_tolerance` (relative),
/// and nothing else reported.
fn one_bleed(
    seed: u64,
    kind: Kind,
    volume_ml: f64,
    side: TruthSide,
    hu: f64,
    within_mm: f64,
    volume_tolerance: f64,
) -> (Diagnosis, Truth) {
    let (volume, truth) = phantom_volume_on(seed, &[(kind, volume_ml, side, hu)], GRID, NOISE_HU);
    let dx = diagnose(&volume);
    assert!(dx.assessable, "{:?}", dx.reason);
    let t = &truth.findings[0];
    let f = matching(&dx, t, within_mm);
    assert_eq!(f.kind, kind_of(t), "{}", dx.text());
    assert_eq!(f.side, side_of(t), "{}", dx.text());
    let err = (f.volume_ml - t.volume_ml).abs() / t.volume_ml;
    assert!(
        err <= volume_tolerance,
        "volume {:.2} mL against the truth's {:.2} mL ({:.0}% off)",
        f.volume_ml,
        t.volume_ml,
        100.0 * err
    );
    assert_eq!(dx.findings.len(), 1, "only the bleed:\n{}", dx.text());
    assert_eq!(dx.frame, Frame::Lps);
    (dx, truth)
}

#[test]
fn intraparenchymal_haemorrhage_is_found_typed_and_measured() {
    let (dx, truth) = one_bleed(
        31,
        Kind::Intraparenchymal,
        8.0,
        TruthSide::Left,
        65.0,
        4.0,
        0.15,
    );
    // A clot's thickness is its smallest diameter by design; the reader's is the largest
    // ball that fits in it: the same to a couple of voxels.
    let f = &dx.findings[0];
    let t = &truth.findings[0];
    assert!(
        (f.max_thickness_mm - t.max_thickness_mm).abs() <= 3.0,
        "thickness {:.1} mm against {:.1} mm",
        f.max_thickness_mm,
        t.max_thickness_mm
    );
    assert!(
        (f.mean_hu - t.hu).abs() <= 10.0,
        "{} vs {}",
        f.mean_hu,
        t.hu
    );
}

#[test]
fn epidural_haematoma_is_found_typed_and_measured() {
    let (dx, truth) = one_bleed(33, Kind::Epidural, 15.0, TruthSide::Left, 75.0, 5.0, 0.2);
    let (f, t) = (&dx.findings[0], &truth.findings[0]);
    assert!(
        (f.max_thickness_mm - t.max_thickness_mm).abs() <= 3.0,
        "thickness {:.1} mm against {:.1} mm",
        f.max_thickness_mm,
        t.max_thickness_mm
    );
}

#[test]
fn subdural_haematoma_is_found_and_typed() {
    // The phantom's crescents are thin (a 50 mL one is about 5 mm at its thickest and thins
    // out to nothing): the reader keeps 3 mm off the skull when it looks for blood, so it
    // finds the thick part and misses the thin edges. Its volume is low by up to half and its
    // centroid lies towards the thick part (the README's "what it misses").
    one_bleed(32, Kind::Subdural, 50.0, TruthSide::Right, 75.0, 25.0, 0.5);
}

#[test]
fn subarachnoid_haemorrhage_is_found_and_typed() {
    // Blood in the sylvian fissure is a sheet of about 2 mm: its outline at half contrast
    // on 2 mm slices takes in the partial volume around it, so the volume is high.
    one_bleed(
        34,
        Kind::Subarachnoid,
        4.0,
        TruthSide::Right,
        75.0,
        10.0,
        0.7,
    );
}

#[test]
fn intraventricular_haemorrhage_is_found_typed_and_measured() {
    one_bleed(
        36,
        Kind::Intraventricular,
        4.0,
        TruthSide::Left,
        70.0,
        4.0,
        0.15,
    );
}

#[test]
fn a_clean_head_with_calcifications_has_no_finding() {
    // Seeds whose heads carry pineal, choroid plexus and falx calcifications (the truth says
    // which; the test fails if a seed has none, so it keeps testing what it says).
    let mut kinds = std::collections::BTreeSet::new();
    for seed in [42u64, 43] {
        let (volume, truth) = phantom_volume_on(seed, &[], GRID, NOISE_HU);
        kinds.extend(truth.distractors.iter().map(|d| format!("{:?}", d.kind)));
        let dx = diagnose(&volume);
        assert!(dx.assessable, "{:?}", dx.reason);
        assert!(
            dx.findings.is_empty(),
            "seed {seed} with {:?}:\n{}",
            truth.distractors,
            dx.text()
        );
        let shift = dx
            .midline_shift_mm
            .expect("a clean head's midline is measured");
        assert!(shift.abs() <= 2.0, "shift {shift} mm in a clean head");
        // The ventricles: the truth's volume (CSF spaces of the ventricular system).
        let v = dx.ventricle_volume_ml.unwrap();
        assert!(
            (v - truth.ventricle_volume_ml).abs() <= 0.25 * truth.ventricle_volume_ml,
            "ventricles {v:.1} mL against {:.1} mL",
            truth.ventricle_volume_ml
        );
    }
    assert!(kinds.len() >= 3, "distractors seen: {kinds:?}");
}

#[test]
fn midline_shift_is_measured_against_the_truth() {
    // A large haematoma pushes the septum away from its side.
    let (volume, truth) = phantom_volume_on(
        51,
        &[(Kind::Intraparenchymal, 45.0, TruthSide::Right, 70.0)],
        GRID,
        NOISE_HU,
    );
    assert!(
        truth.midline_shift_mm >= 3.0,
        "the phantom shifts the midline by {} mm",
        truth.midline_shift_mm
    );
    let dx = diagnose(&volume);
    let m = dx.midline_shift_mm.expect("measured");
    // Positive is towards the patient's left: away from a right-sided mass.
    assert!(m > 0.0, "shift {m} mm should point left:\n{}", dx.text());
    assert!(
        (m - truth.midline_shift_mm).abs() <= 2.0,
        "shift {m:.1} mm against the truth's {:.1} mm",
        truth.midline_shift_mm
    );
}

/// A head volume whose values are changed by `f`.
fn head_with(f: impl Fn(&mut Array3<f32>)) -> Volume {
    let (v, _) = phantom_volume_on(60, &[], [2.0, 2.0], NOISE_HU);
    let (grid, mut a) = v.into_parts();
    f(&mut a);
    Volume::from_array(grid, a).unwrap()
}

fn not_assessable(v: &Volume, words: &[&str]) {
    let dx = diagnose(v);
    assert!(!dx.assessable, "read as assessable:\n{}", dx.text());
    assert!(dx.findings.is_empty());
    let reason = dx.reason.clone().unwrap_or_default();
    assert!(
        words.iter().any(|w| reason.contains(w)),
        "reason {reason:?} names none of {words:?}"
    );
    assert!(dx.text().contains("NOT ASSESSABLE"));
    assert!(dx.to_json().contains("\"assessable\": false"));
}

#[test]
fn values_not_in_hu_are_not_assessable() {
    // Attenuation in 1/mm (a reconstruction not converted to HU).
    not_assessable(
        &head_with(|a| a.mapv_inplace(|h| 0.0192 * (1.0 + h / 1000.0))),
        &["HU"],
    );
    // HU shifted by +300 (a wrong rescale intercept): air at -700.
    not_assessable(&head_with(|a| a.mapv_inplace(|h| h + 300.0)), &["HU"]);
}

#[test]
fn empty_tiny_and_nan_volumes_are_not_assessable() {
    let grid = VolumeGrid::centered([100, 120, 90], [2.0; 3], [0.0; 3]).unwrap();
    let air = Volume::from_array(grid.clone(), Array3::from_elem((90, 120, 100), -1000.0)).unwrap();
    not_assessable(&air, &["HU", "air", "bone", "skull"]);
    let zeros = Volume::from_array(grid, Array3::zeros((90, 120, 100))).unwrap();
    not_assessable(&zeros, &["HU", "air"]);
    let tiny = Volume::from_array(
        VolumeGrid::centered([8, 8, 8], [1.0; 3], [0.0; 3]).unwrap(),
        Array3::from_elem((8, 8, 8), 30.0),
    )
    .unwrap();
    not_assessable(&tiny, &["too small"]);
    let nan = head_with(|a| a[[40, 60, 50]] = f32::NAN);
    not_assessable(&nan, &["NaN"]);
}

#[test]
fn a_chest_is_not_a_head() {
    let c = roboct_phantom::chest::chest(&roboct_phantom::chest::ChestOptions::default()).unwrap();
    let centre = c
        .landmarks
        .iter()
        .find(|(n, _)| n == "body_center")
        .unwrap()
        .1;
    let grid = VolumeGrid::centered([200, 150, 40], [2.5, 2.5, 5.0], centre).unwrap();
    let r = c.patient.rasterize(&grid, 1);
    not_assessable(&r.hu, &["chest", "not a head"]);
}

#[test]
fn the_findings_sr_carries_the_reading() {
    let (volume, truth) = phantom_volume_on(
        31,
        &[(Kind::Intraparenchymal, 8.0, TruthSide::Left, 65.0)],
        GRID,
        NOISE_HU,
    );
    let dx = diagnose(&volume);
    let f = matching(&dx, &truth.findings[0], 4.0).clone();
    let sr = findings_report(&dx, "CT head");
    assert_eq!(sr.procedure, "CT head");
    assert_eq!(sr.findings.len(), dx.findings.len());
    let s = &sr.findings[0];
    assert!(
        s.text.contains("left intraparenchymal haemorrhage"),
        "{}",
        s.text
    );
    let value = |q: Quantity| {
        s.measurements
            .iter()
            .find(|m| m.quantity == q)
            .map(|m| m.value)
    };
    assert_eq!(value(Quantity::VolumeMl), Some(f.volume_ml));
    assert_eq!(value(Quantity::ThicknessMm), Some(f.max_thickness_mm));
    assert!(
        sr.conclusion
            .as_deref()
            .unwrap()
            .contains("haemorrhage detected")
    );
    let shift = sr
        .measurements
        .iter()
        .find(|m| m.label.starts_with("Midline shift"))
        .unwrap();
    assert_eq!(shift.measurement.value, dx.midline_shift_mm.unwrap().abs());
    // Key images: the slice of the input grid at the finding's key slice.
    let slices: Vec<ImageRef> = (0..volume.grid().size()[2])
        .map(|k| ImageRef {
            sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
            sop_instance_uid: format!("1.2.3.{k}"),
            series_instance_uid: "1.2.3".into(),
        })
        .collect();
    let keys = key_images(&dx, volume.grid(), &slices);
    let k = volume.grid().index_from_world(f.centroid_mm)[2];
    let chosen: usize = keys[0].as_ref().unwrap().sop_instance_uid[6..]
        .parse()
        .unwrap();
    assert!(
        (chosen as f64 - k).abs() <= 8.0,
        "key slice {chosen}, centroid at slice {k:.1}"
    );
    // The same keys from the report in RAS.
    assert_eq!(
        key_images(&dx.clone().in_frame(Frame::Ras), volume.grid(), &slices),
        keys
    );
    // A reading that is not assessable says why.
    let bad = diagnose(&head_with(|a| a.mapv_inplace(|h| h + 300.0)));
    let sr = findings_report(&bad, "CT head");
    assert!(sr.findings.is_empty());
    assert!(sr.conclusion.unwrap().starts_with("Not assessable"));
}

#[test]
fn a_one_millimetre_head_on_a_centred_scanner_grid_is_read() {
    // The mission's volume: HU on `VolumeGrid::centered` in the scanner frame (LPS for a
    // supine head-first patient), 1 mm voxels, 200 x 200 x 170.
    let h = roboct_phantom::head::head(&roboct_phantom::head::HeadOptions {
        seed: 77,
        findings: vec![roboct_phantom::head::FindingSpec {
            kind: Kind::Intraparenchymal,
            volume_ml: 6.0,
            side: TruthSide::Right,
            hu: 70.0,
        }],
        ..Default::default()
    })
    .unwrap();
    let truth = h.truth();
    let c = truth.landmarks["head_center"];
    let grid = VolumeGrid::centered([200, 200, 170], [1.0; 3], [0.0, 0.0, c[2] - 5.0]).unwrap();
    let volume = h.patient.rasterize(&grid, 1).hu;
    let dx = diagnose(&volume);
    eprintln!(
        "200 x 200 x 170 at 1 mm read in {:.2} s: {:?}",
        dx.time_s,
        dx.phases
            .iter()
            .map(|p| format!("{} {:.2} s", p.name, p.seconds))
            .collect::<Vec<_>>()
    );
    assert!(dx.assessable, "{:?}", dx.reason);
    let f = matching(&dx, &truth.findings[0], 4.0);
    assert_eq!(f.kind, FindingKind::Intraparenchymal);
    assert_eq!(f.side, Side::Right);
    assert!(
        (f.volume_ml - truth.findings[0].volume_ml).abs() <= 0.15 * truth.findings[0].volume_ml
    );
    assert_eq!(dx.reading_voxel_mm, Some([1.0; 3]));
}
