//! A real reconstruction (roboct-recon FDK of exact cone-beam projections of a water
//! cylinder) streams to Orthanc: slices are converted mu -> HU, queued and stored while the
//! reconstruction is still running. The last slab is only handed over once the PACS holds a
//! slice, so a pipeline that waited for the whole volume would fail here instead of passing.

mod common;

use std::f64::consts::TAU;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use common::*;
use roboct_core::units::MU_WATER_70KEV_PER_MM;
use roboct_core::{CancelToken, NoProgress};
use roboct_dicom::ct::{CtSeriesInfo, CtSeriesWriter, Instance, VoxelUnits};
use roboct_dicom::outbox::Outbox;
use roboct_dicom::send::DimseSender;
use roboct_dicom::study::StudyContext;
use roboct_dicom::uid::UidGenerator;
use roboct_dicom::upload::{StreamTarget, UploadPolicy, stream_series};
use roboct_geometry::{Beam, CircularScan, Detector, DetectorShape, VolumeGrid, even_angles};
use roboct_phantom::{Ellipsoid, Phantom, rot_z_deg};
use roboct_recon::{AnalyticOptions, fdk};

#[test]
fn reconstruction_streams_to_the_pacs_while_it_runs() {
    let orthanc = Orthanc::start();
    let scan = CircularScan {
        beam: Beam::Divergent,
        sid_mm: 400.0,
        sdd_mm: 700.0,
        detector: Detector::centered(128, 48, [1.5, 1.5], [0.0, 0.0], DetectorShape::Flat),
        angles_rad: even_angles(0.0, TAU, 120),
        detector_rotation_rad: 0.0,
    }
    .build()
    .unwrap();
    // A water cylinder of radius 40 mm, long enough to cover every reconstructed slice.
    let water = Phantom {
        ellipsoids: vec![Ellipsoid {
            center_mm: [0.0, 0.0, 0.0],
            semi_axes_mm: [40.0, 40.0, 1e4],
            rotation: rot_z_deg(0.0),
            value: MU_WATER_70KEV_PER_MM,
        }],
    };
    let projections = water.project_quiet(&scan, 1);
    let grid = VolumeGrid::centered([48, 48, 16], [2.0, 2.0, 2.0], [0.0; 3]).unwrap();
    let total = grid.size()[2];
    let (tx, rx) = channel();
    let http = orthanc.url();
    let recon = std::thread::spawn(move || {
        let options = AnalyticOptions {
            slab_thickness: 4,
            ..Default::default()
        };
        fdk(
            &scan,
            projections,
            &grid,
            &options,
            &NoProgress,
            &CancelToken::new(),
            |slab| {
                if slab.z_start + slab.data.dim().0 == total {
                    // Hold the last slab back until the PACS has stored a slice.
                    let start = Instant::now();
                    while stored_count(&http) == 0 {
                        if start.elapsed() > Duration::from_secs(60) {
                            return Err(
                                "no slice reached the PACS while reconstructing".to_string()
                            );
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                tx.send(slab).map_err(|e| e.to_string())
            },
        )
    });
    let uids = UidGenerator::default();
    let writer = CtSeriesWriter::new(
        StudyContext::unscheduled(&uids),
        CtSeriesInfo::new(&uids),
        uids.clone(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(tmp.path()).unwrap();
    let report = stream_series(
        rx,
        &writer,
        VoxelUnits::MuPerMm {
            mu_water_per_mm: MU_WATER_70KEV_PER_MM,
        },
        StreamTarget {
            outbox: outbox.clone(),
            destination: "pacs".into(),
            sender: Box::new(DimseSender::new(
                orthanc.peer(),
                options(),
                roboct_dicom::part10::EXPLICIT_VR_LE,
            )),
            policy: UploadPolicy::default(),
            drain_timeout: Duration::from_secs(60),
        },
    )
    .unwrap();
    let recon_report = recon.join().unwrap().unwrap();
    assert_eq!(recon_report.slabs, 4);
    assert_eq!(report.instances.len(), total);
    assert_eq!(report.upload.sent, total);
    // Every slice arrived once, with the bytes the outbox holds.
    assert_all_arrived(&orthanc, &outbox_instances(&outbox, "pacs"));
    let stored = orthanc.stored();
    // mu -> HU on a real reconstruction: water near 0 HU in the centre, air near -1000 HU.
    let middle: &Instance = &Instance {
        sop_class_uid: String::new(),
        sop_instance_uid: report.instances[total / 2].sop_instance_uid.clone(),
        series_instance_uid: String::new(),
        bytes: stored[&report.instances[total / 2].sop_instance_uid].clone(),
    };
    let (_, obj) = roboct_dicom::part10::decode_part10(&middle.bytes).unwrap();
    let px = obj
        .element(dicom_dictionary_std::tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap();
    let hu = |x: usize, y: usize| {
        let i = 2 * (y * 48 + x);
        i16::from_le_bytes([px[i], px[i + 1]])
    };
    assert!(
        hu(24, 24).abs() < 40,
        "water at the centre: {} HU",
        hu(24, 24)
    );
    // Air 5 mm outside the cylinder, inside the field of view (radius about 55 mm).
    assert!(
        (hu(46, 24) + 1000).abs() < 100,
        "air beside the cylinder: {} HU",
        hu(46, 24)
    );
}

fn stored_count(url: &str) -> u64 {
    reqwest::blocking::Client::new()
        .get(format!("{url}/statistics"))
        .basic_auth(ORTHANC_USER, Some(ORTHANC_PASSWORD))
        .send()
        .ok()
        .and_then(|r| r.bytes().ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["CountInstances"].as_u64())
        .unwrap_or(0)
}
