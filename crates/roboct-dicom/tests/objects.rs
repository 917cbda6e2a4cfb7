//! Every object type we write passes dciodvfy with zero errors and reads back in dcmdump and
//! pydicom with the values and geometry we put in.

mod common;

use common::*;
use ndarray::Array3;
use roboct_core::Phi;
use roboct_core::units::{Mgy, MgyCm};
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, VoxelUnits};
use roboct_dicom::sr::{
    Code, CtIrradiationEvent, CtdiPhantom, DoseReport, Finding, FindingsReport, ImageRef,
    ReportWriter,
};
use roboct_dicom::study::{OrderRef, Patient, StudyContext, UtcOffset};
use roboct_dicom::uid::UidGenerator;
use roboct_geometry::{Volume, VolumeGrid};

/// A study with an order, a patient and an MPPS reference.
pub fn study(uids: &UidGenerator) -> StudyContext {
    let mut s = StudyContext::unscheduled(uids);
    s.patient = Patient {
        name: Phi::new("DOE^JANE".into()),
        id: Phi::new("PID-001".into()),
        birth_date: Phi::new("19600101".into()),
        sex: "F".into(),
    };
    s.order = Some(OrderRef {
        accession_number: Phi::new("ACC-1".into()),
        requested_procedure_id: "RP1".into(),
        requested_procedure_description: "CT HEAD".into(),
        scheduled_procedure_step_id: "SPS1".into(),
        scheduled_procedure_step_description: "CT HEAD W/O".into(),
    });
    s.mpps_instance_uid = Some(uids.generate());
    s.body_part = "HEAD".into();
    // A site five hours behind UTC: local dates and times, and the offset written with them.
    s.utc_offset = UtcOffset(-300);
    (s.study_date, s.study_time) = s.now();
    s
}

fn oblique_volume() -> Volume {
    // Rotated 30 degrees about z, 3 slices of 6 rows x 8 columns, anisotropic voxels.
    let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
    let dir = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
    let grid =
        VolumeGrid::with_direction([8, 6, 3], [0.5, 0.75, 2.0], [-10.0, 20.0, 35.0], dir).unwrap();
    let data = Array3::from_shape_fn((3, 6, 8), |(z, y, x)| {
        (z as f32) * 100.0 - 1000.0 + (y as f32) * 10.0 + x as f32
    });
    Volume::from_array(grid, data).unwrap()
}

#[test]
fn every_object_type_validates_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let uids = UidGenerator::default();
    let study = study(&uids);
    let volume = oblique_volume();
    let writer = CtSeriesWriter::new(study.clone(), CtSeriesInfo::new(&uids), uids.clone());
    let slices = writer.volume(&volume, VoxelUnits::Hu).unwrap();
    assert_eq!(slices.len(), 3);
    let reports = ReportWriter::new(study.clone(), uids.clone());
    let event = |scout: bool| CtIrradiationEvent {
        protocol: if scout { "Scout".into() } else { "Head".into() },
        target_region: Code::new("69536005", "SCT", "Head"),
        event_uid: uids.generate(),
        is_scout: scout,
        exposure_time_s: 1.0,
        scanning_length_mm: 150.0,
        single_collimation_mm: 0.5,
        total_collimation_mm: 40.0,
        kvp: 120.0,
        max_tube_current_ma: 200.0,
        tube_current_ma: 150.0,
        rotation_time_s: 1.0,
        ctdi_vol: Mgy(if scout { 0.2 } else { 45.5 }),
        dlp: MgyCm(if scout { 3.0 } else { 682.5 }),
        phantom: CtdiPhantom::Head16,
    };
    let dose = reports
        .dose_report(&DoseReport {
            events: vec![event(true), event(false)],
        })
        .unwrap();
    let key: Vec<ImageRef> = vec![(&slices[1]).into()];
    let findings = reports
        .findings_report(&FindingsReport {
            procedure: "CT head without contrast, CTDIvol 45.5 mGy, DLP 685.5 mGy.cm".into(),
            findings: vec![Finding {
                text: "Hypodense lesion, right frontal lobe".into(),
                size_mm: Some(12.5),
                key_images: key.clone(),
                ..Finding::default()
            }],
            conclusion: Some("Suspected lesion: radiologist review".into()),
            ..FindingsReport::default()
        })
        .unwrap();
    let ko = reports.key_images(&key, "Lesion").unwrap();
    let mut paths = Vec::new();
    for (i, inst) in slices.iter().chain([&dose, &findings, &ko]).enumerate() {
        let p = dir.path().join(format!("{i:03}.dcm"));
        std::fs::write(&p, &inst.bytes).unwrap();
        if let Some(keep) = std::env::var_os("ROBOCT_KEEP_TEST_FILES") {
            std::fs::copy(&p, std::path::Path::new(&keep).join(format!("{i:03}.dcm"))).unwrap();
        }
        paths.push(p);
    }
    for p in &paths {
        let errors = dciodvfy_errors(p);
        assert!(errors.is_empty(), "{}: {errors:#?}", p.display());
        let dump = dcmdump(p);
        assert!(dump.contains("DOE^JANE"));
    }
    // pydicom: HU values and geometry of every slice.
    let code = r#"
import sys, pydicom, numpy as np
for p in sys.argv[1:4]:
    ds = pydicom.dcmread(p)
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    print(int(ds.InstanceNumber), ' '.join(f'{float(v):.4f}' for v in ds.ImagePositionPatient),
          ' '.join(f'{float(v):.4f}' for v in ds.ImageOrientationPatient),
          ' '.join(f'{float(v):.4f}' for v in ds.PixelSpacing), hu[0,0], hu[5,7], hu.shape)
for p in sys.argv[4:]:
    ds = pydicom.dcmread(p)
    print(ds.SOPClassUID, ds.Modality, ds.ContentSequence[0].ValueType)
for p in sys.argv[1:]:
    ds = pydicom.dcmread(p)
    print('TZ', ds.TimezoneOffsetFromUTC, ds.StudyDate, ds.StudyTime)
"#;
    let args: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    let out = run_python(code, &args);
    let lines: Vec<&str> = out.lines().collect();
    let grid = volume.grid();
    for (k, line) in lines.iter().take(3).enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[0], (k + 1).to_string());
        let p = grid.world_from_index([0.0, 0.0, k as f64]);
        for a in 0..3 {
            let got: f64 = f[1 + a].parse().unwrap();
            assert!(
                (got - p[a]).abs() < 1e-3,
                "slice {k} axis {a}: {got} vs {}",
                p[a]
            );
        }
        let d = grid.direction();
        let iop = [d[0][0], d[1][0], d[2][0], d[0][1], d[1][1], d[2][1]];
        for a in 0..6 {
            let got: f64 = f[4 + a].parse().unwrap();
            assert!((got - iop[a]).abs() < 1e-4);
        }
        assert_eq!(f[10], "0.7500", "row spacing is y spacing");
        assert_eq!(f[11], "0.5000", "column spacing is x spacing");
        let hu00: f64 = f[12].parse().unwrap();
        let hu57: f64 = f[13].parse().unwrap();
        assert_eq!(hu00, volume.data()[[k, 0, 0]] as f64);
        assert_eq!(hu57, volume.data()[[k, 5, 7]] as f64);
    }
    assert!(lines[3].starts_with("1.2.840.10008.5.1.4.1.1.88.67 SR CODE"));
    assert!(lines[4].starts_with("1.2.840.10008.5.1.4.1.1.88.33 SR CODE"));
    assert!(lines[5].starts_with("1.2.840.10008.5.1.4.1.1.88.59 KO"));
    let tz = format!("TZ -0500 {} {}", study.study_date, study.study_time);
    assert_eq!(
        lines[6..],
        vec![tz.as_str(); 6],
        "every object says its UTC offset"
    );
}

#[test]
fn the_validator_check_can_fail() {
    // A CT slice without its Modality and Image Position must give dciodvfy errors, so the
    // zero-error check above means something.
    let uids = UidGenerator::default();
    let writer = CtSeriesWriter::new(study(&uids), CtSeriesInfo::new(&uids), uids.clone());
    let inst = writer.volume(&oblique_volume(), VoxelUnits::Hu).unwrap();
    let (_, mut obj) = roboct_dicom::part10::decode_part10(&inst[0].bytes).unwrap();
    obj.remove_element(dicom_dictionary_std::tags::MODALITY);
    obj.remove_element(dicom_dictionary_std::tags::IMAGE_POSITION_PATIENT);
    let bytes =
        roboct_dicom::part10::encode_part10(&obj, roboct_dicom::part10::EXPLICIT_VR_LE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("broken.dcm");
    std::fs::write(&p, bytes).unwrap();
    let errors = dciodvfy_errors(&p);
    assert!(errors.len() >= 2, "{errors:?}");
}

#[test]
fn mu_volumes_become_hu_at_one_place() {
    let uids = UidGenerator::default();
    let writer = CtSeriesWriter::new(
        StudyContext::unscheduled(&uids),
        CtSeriesInfo::new(&uids),
        uids.clone(),
    );
    let grid = VolumeGrid::centered([2, 2, 1], [1.0; 3], [0.0; 3]).unwrap();
    let mu_w = roboct_core::units::MU_WATER_70KEV_PER_MM;
    let data = Array3::from_shape_vec(
        (1, 2, 2),
        vec![0.0, mu_w as f32, 2.0 * mu_w as f32, 0.5 * mu_w as f32],
    )
    .unwrap();
    let v = Volume::from_array(grid, data).unwrap();
    let inst = writer
        .volume(
            &v,
            VoxelUnits::MuPerMm {
                mu_water_per_mm: mu_w,
            },
        )
        .unwrap();
    let (_, obj) = roboct_dicom::part10::decode_part10(&inst[0].bytes).unwrap();
    let px = obj
        .element(dicom_dictionary_std::tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap();
    let values: Vec<i16> = px
        .chunks(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(values, vec![-1000, 0, 1000, -500]);
}

#[test]
fn non_finite_voxels_are_refused_with_their_place() {
    let uids = UidGenerator::default();
    let writer = CtSeriesWriter::new(
        StudyContext::unscheduled(&uids),
        CtSeriesInfo::new(&uids),
        uids.clone(),
    );
    let grid = VolumeGrid::centered([3, 2, 1], [1.0; 3], [0.0; 3]).unwrap();
    let mut data = Array3::zeros((1, 2, 3));
    data[[0, 1, 2]] = f32::NAN;
    let v = Volume::from_array(grid, data).unwrap();
    let e = writer.volume(&v, VoxelUnits::Hu).unwrap_err().to_string();
    assert!(e.contains("x 2, y 1"), "{e}");
}
