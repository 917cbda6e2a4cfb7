//! RTK geometry files written by RTK itself (`rtksimulatedgeometry` from itk-rtk 2.7.0, see
//! tests/data/MANIFEST.md) read back with their matrices checked, and our native scans survive a
//! round trip through RTK's format.

use std::path::Path;

use roboct_geometry::vec3::{mat_vec, norm, sub};
use roboct_geometry::{
    Beam, CircularScan, Detector, DetectorShape, RTK_TO_ROBOCT, Source, even_angles, read_rtk_xml,
    write_rtk_xml,
};

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn files_written_by_rtk_read_back_with_consistent_matrices() {
    // The reader checks every matrix against the parameters to 0.001, as RTK does: reading
    // these files at all proves our matrices equal RTK's for offsets, tilts and rotations.
    let g = read_rtk_xml(&data("rtk_offsets.xml")).unwrap();
    assert_eq!(g.projections.len(), 8);
    let p = &g.projections[3];
    assert_eq!(p.projection_offset_mm, [3.0, -2.0]);
    assert_eq!(p.source_offset_mm, [1.0, 0.5]);
    assert!((p.out_of_plane_rad.to_degrees() - 2.0).abs() < 1e-12);
    assert!((p.gantry_rad.to_degrees() - (5.0 + 3.0 * 45.0)).abs() < 1e-9);

    let g = read_rtk_xml(&data("rtk_shortscan.xml")).unwrap();
    assert_eq!(g.projections.len(), 12);
    let scan = g.scan(16, 8, [1.0, 1.0], [-7.5, -3.5]).unwrap();
    assert!(scan.orbit().is_some());

    let g = read_rtk_xml(&data("rtk_parallel.xml")).unwrap();
    let scan = g.scan(16, 8, [1.0, 1.0], [-7.5, -3.5]).unwrap();
    assert!(scan.is_parallel());

    let g = read_rtk_xml(&data("rtk_cyl.xml")).unwrap();
    assert_eq!(g.cylinder_radius_mm, 1000.0);
    let scan = g.scan(16, 8, [1.0, 1.0], [-7.5, -3.5]).unwrap();
    assert_eq!(scan.detector().shape, DetectorShape::Cylindrical);
}

#[test]
fn native_scans_round_trip_through_rtk_files() {
    for (beam, shape) in [
        (Beam::Divergent, DetectorShape::Flat),
        (Beam::Divergent, DetectorShape::Cylindrical),
        (Beam::Parallel, DetectorShape::Flat),
    ] {
        let scan = CircularScan {
            beam,
            sid_mm: 570.0,
            sdd_mm: 1040.0,
            detector: Detector::centered(40, 12, [1.1, 0.9], [2.0, -1.5], shape),
            angles_rad: even_angles(0.2, 0.2 + 1.3 * std::f64::consts::PI, 17),
            detector_rotation_rad: if shape == DetectorShape::Flat {
                0.03
            } else {
                0.0
            },
        };
        let native = scan.build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.xml");
        write_rtk_xml(&path, &scan.to_rtk()).unwrap();
        let d = native.detector();
        let back = read_rtk_xml(&path)
            .unwrap()
            .scan(d.cols, d.rows, d.pixel_mm, d.origin_mm)
            .unwrap();
        let in_ours = back.transformed(RTK_TO_ROBOCT, [0.0; 3]);
        for (a, b) in in_ours.views().iter().zip(native.views()) {
            let close = |x: [f64; 3], y: [f64; 3]| norm(sub(x, y)) < 1e-9;
            match (a.source, b.source) {
                (Source::Point(p), Source::Point(q))
                | (Source::Parallel(p), Source::Parallel(q)) => assert!(close(p, q)),
                _ => panic!("beam kind changed"),
            }
            assert!(
                close(a.detector_mm, b.detector_mm)
                    && close(a.u_dir, b.u_dir)
                    && close(a.v_dir, b.v_dir)
            );
        }
        assert!(close_axis(in_ours.orbit().unwrap().axis, [0.0, 0.0, 1.0]));
    }
}

fn close_axis(a: [f64; 3], b: [f64; 3]) -> bool {
    norm(sub(a, b)) < 1e-12
}

#[test]
fn rtk_frame_maps_to_ours_by_a_proper_rotation() {
    // RTK's rotation axis +y becomes our +z; RTK's source at gantry 0 (+z) becomes our -y.
    assert_eq!(mat_vec(RTK_TO_ROBOCT, [0.0, 1.0, 0.0]), [0.0, 0.0, 1.0]);
    assert_eq!(mat_vec(RTK_TO_ROBOCT, [0.0, 0.0, 1.0]), [0.0, -1.0, 0.0]);
    let m = RTK_TO_ROBOCT;
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    assert_eq!(det, 1.0);
}

/// Issue 11: an RTK geometry meets the same size bound as every other kind (at most 2^16
/// pixels per detector axis, 2^31 samples), whatever the projection images announce.
#[test]
fn rtk_scans_meet_the_size_bound() {
    let g = read_rtk_xml(&data("rtk_shortscan.xml")).unwrap();
    assert_eq!(g.projections.len(), 12);
    let e = g.scan(1 << 17, 1, [1.0, 1.0], [0.0, 0.0]).unwrap_err();
    assert!(e.to_string().contains("detector.cols"), "{e}");
    // 12 views of 2^14 x 2^14 pixels: 3 x 2^30 samples.
    let e = g
        .scan(1 << 14, 1 << 14, [1.0, 1.0], [0.0, 0.0])
        .unwrap_err();
    assert!(e.to_string().contains("at most 2^31 samples"), "{e}");
}
