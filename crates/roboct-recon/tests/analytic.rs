//! FBP and FDK against exact truth: analytic phantoms projected ray by ray in closed form (no
//! inverse crime), reconstructed for every geometry, redundancy weighting and filter; the fast
//! back-projection path against the voxel-by-voxel reference; streaming; bad input.

use std::f64::consts::{PI, TAU};

use ndarray::{Array3, s};
use roboct_core::{CancelToken, NoProgress};
use roboct_geometry::{
    Beam, CircularScan, Detector, DetectorShape, RtkGeometry, RtkProjection, ScanGeometry, Volume,
    VolumeGrid, VolumeSlab, even_angles,
};
use roboct_phantom::{Ellipsoid, Phantom, rot_z_deg};
use roboct_recon::{
    AnalyticOptions, Filter, Path, ReconError, Redundancy, Window, fdk, fdk_volume,
};

const MU: f64 = 0.02;

/// An off-centre, rotated ellipsoid (an elliptic cylinder in 2D).
fn blob(two_d: bool) -> Phantom {
    Phantom {
        ellipsoids: vec![Ellipsoid {
            center_mm: [5.0, -3.0, if two_d { 0.0 } else { 1.0 }],
            semi_axes_mm: [40.0, 30.0, if two_d { 1e6 } else { 22.0 }],
            rotation: rot_z_deg(20.0),
            value: MU,
        }],
    }
}

struct Case {
    name: &'static str,
    scan: ScanGeometry,
    grid: VolumeGrid,
}

fn circular(
    beam: Beam,
    shape: DetectorShape,
    rows: usize,
    offset_u: f64,
    arc: f64,
    views: usize,
) -> ScanGeometry {
    CircularScan {
        beam,
        sid_mm: 400.0,
        sdd_mm: 700.0,
        detector: Detector::centered(160, rows, [1.5, 1.5], [offset_u, 0.0], shape),
        angles_rad: even_angles(0.3, 0.3 + arc, views),
        detector_rotation_rad: 0.0,
    }
    .build()
    .unwrap()
}

fn grid_2d() -> VolumeGrid {
    VolumeGrid::centered([64, 64, 1], [2.0, 2.0, 2.0], [0.0; 3]).unwrap()
}

fn grid_3d() -> VolumeGrid {
    VolumeGrid::centered([64, 64, 12], [2.0, 2.0, 2.0], [0.0; 3]).unwrap()
}

fn fan_half_angle() -> f64 {
    (120.0f64 / 700.0).atan()
}

fn cases() -> Vec<Case> {
    let (d, p) = (Beam::Divergent, Beam::Parallel);
    let (flat, arc) = (DetectorShape::Flat, DetectorShape::Cylindrical);
    vec![
        Case {
            name: "parallel 2D, 180 deg",
            scan: circular(p, flat, 1, 0.0, PI, 90),
            grid: grid_2d(),
        },
        Case {
            name: "parallel 2D, 360 deg",
            scan: circular(p, flat, 1, 0.0, TAU, 120),
            grid: grid_2d(),
        },
        Case {
            name: "parallel 2D, 230 deg (Parker, no fan)",
            scan: circular(p, flat, 1, 0.0, 1.28 * PI, 120),
            grid: grid_2d(),
        },
        Case {
            name: "parallel 3D",
            scan: circular(p, flat, 30, 0.0, PI, 90),
            grid: grid_3d(),
        },
        Case {
            name: "fan flat",
            scan: circular(d, flat, 1, 0.0, TAU, 180),
            grid: grid_2d(),
        },
        Case {
            name: "fan arc",
            scan: circular(d, arc, 1, 0.0, TAU, 180),
            grid: grid_2d(),
        },
        Case {
            name: "fan flat short scan",
            scan: circular(d, flat, 1, 0.0, PI + 2.0 * fan_half_angle() + 0.05, 130),
            grid: grid_2d(),
        },
        Case {
            name: "fan arc short scan",
            scan: circular(d, arc, 1, 0.0, PI + 2.0 * 120.0 / 700.0 + 0.05, 130),
            grid: grid_2d(),
        },
        Case {
            name: "cone flat",
            scan: circular(d, flat, 40, 0.0, TAU, 180),
            grid: grid_3d(),
        },
        Case {
            name: "cone arc",
            scan: circular(d, arc, 40, 0.0, TAU, 180),
            grid: grid_3d(),
        },
        Case {
            name: "cone flat short scan",
            scan: circular(d, flat, 40, 0.0, PI + 2.0 * fan_half_angle() + 0.05, 130),
            grid: grid_3d(),
        },
        Case {
            name: "cone displaced detector",
            scan: circular(d, flat, 40, 45.0, TAU, 180),
            grid: grid_3d(),
        },
        Case {
            name: "cone arc displaced detector",
            scan: circular(d, arc, 40, -45.0, TAU, 180),
            grid: grid_3d(),
        },
        Case {
            name: "cone in RTK's frame",
            scan: rtk_frame_cone(),
            grid: rtk_grid(),
        },
    ]
}

/// The flat cone scan described with RTK's parameters (rotation axis y), on a grid in RTK's
/// frame: the phantom's z axis is RTK's y.
fn rtk_frame_cone() -> ScanGeometry {
    let projections = even_angles(0.3, 0.3 + TAU, 180)
        .into_iter()
        .map(|a| RtkProjection {
            sid_mm: 400.0,
            sdd_mm: 700.0,
            gantry_rad: a,
            ..Default::default()
        })
        .collect();
    let d = Detector::centered(160, 40, [1.5, 1.5], [0.0, 0.0], DetectorShape::Flat);
    RtkGeometry {
        projections,
        cylinder_radius_mm: 0.0,
    }
    .scan(d.cols, d.rows, d.pixel_mm, d.origin_mm)
    .unwrap()
}

fn rtk_grid() -> VolumeGrid {
    VolumeGrid::centered([64, 12, 64], [2.0, 2.0, 2.0], [0.0; 3]).unwrap()
}

/// The blob in RTK's frame: points and axes map by the transpose of `RTK_TO_ROBOCT`.
fn rtk_blob() -> Phantom {
    use roboct_geometry::RTK_TO_ROBOCT;
    use roboct_geometry::vec3::{mat_mul, mat_vec, transpose};
    let back = transpose(RTK_TO_ROBOCT);
    let mut p = blob(false);
    let e = &mut p.ellipsoids[0];
    e.center_mm = mat_vec(back, e.center_mm);
    e.rotation = mat_mul(back, e.rotation);
    p
}

fn phantom_for(case: &Case) -> Phantom {
    if case.name.contains("RTK") {
        rtk_blob()
    } else {
        blob(case.grid.size()[2] == 1)
    }
}

fn rmse(a: &Volume, b: &Volume) -> f64 {
    let n = a.data().len() as f64;
    (a.data()
        .iter()
        .zip(b.data().iter())
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

fn run(
    scan: &ScanGeometry,
    p: Array3<f32>,
    grid: &VolumeGrid,
    options: &AnalyticOptions,
) -> (Volume, roboct_recon::ReconReport) {
    fdk_volume(scan, p, grid, options, &NoProgress, &CancelToken::new()).unwrap()
}

/// Every geometry reconstructs the phantom: the value inside to 1% (the scaling rung), the
/// whole volume to a few percent RMSE (the quality rung), and the fast path agrees with the
/// reference one (the fast-path rung).
#[test]
fn every_geometry_reconstructs_the_phantom() {
    for case in cases() {
        let phantom = phantom_for(&case);
        let projections = phantom.project_quiet(&case.scan, 1);
        let truth = phantom.rasterize(&case.grid, 3);
        let (fast, report) = run(
            &case.scan,
            projections.clone(),
            &case.grid,
            &AnalyticOptions::default(),
        );
        let (reference, _) = run(
            &case.scan,
            projections,
            &case.grid,
            &AnalyticOptions {
                force_generic: true,
                ..Default::default()
            },
        );

        // Mean over a block well inside the object.
        let inside = |v: &Volume| -> f64 {
            let g = v.grid();
            let c = g
                .index_from_world(phantom.ellipsoids[0].center_mm)
                .map(|x| x.round() as usize);
            let (z0, z1) = if g.size()[2] == 1 {
                (0, 1)
            } else {
                (c[2].saturating_sub(1), c[2] + 2)
            };
            let (y0, y1) = if g.size()[1] < 16 {
                (c[1].saturating_sub(1), c[1] + 2)
            } else {
                (c[1] - 4, c[1] + 5)
            };
            let block = v.data().slice(s![z0..z1, y0..y1, c[0] - 4..c[0] + 5]);
            block.iter().map(|&x| x as f64).sum::<f64>() / block.len() as f64
        };
        let m = inside(&fast);
        assert!(
            (m - MU).abs() < 0.01 * MU,
            "{}: value inside {m} (truth {MU})",
            case.name
        );
        let e = rmse(&fast, &truth);
        let bound = if case.name.contains("displaced") {
            0.07
        } else {
            0.04
        };
        assert!(
            e < bound * MU,
            "{}: RMSE {e:.2e} > {bound} x {MU}",
            case.name
        );
        let diff = fast
            .data()
            .iter()
            .zip(reference.data().iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff < 2e-6,
            "{}: fast and reference paths differ by {diff}",
            case.name
        );

        let expected_redundancy = if case.name.contains("displaced") {
            "DisplacedDetector"
        } else if case.name.contains("short") || case.name.contains("Parker") {
            "Parker"
        } else {
            "Uniform"
        };
        assert!(
            format!("{:?}", report.redundancy).starts_with(expected_redundancy),
            "{}: {:?}",
            case.name,
            report.redundancy
        );
        assert!(
            report.warnings.is_empty(),
            "{}: {:?}",
            case.name,
            report.warnings
        );
    }
}

/// The fast path is taken where the geometry allows it, and not where it does not.
#[test]
fn path_choice_follows_the_geometry() {
    let all = cases();
    let find = |n: &str| all.iter().find(|c| c.name == n).unwrap();
    let path = |c: &Case| {
        let p = phantom_for(c).project_quiet(&c.scan, 1);
        run(&c.scan, p, &c.grid, &AnalyticOptions::default()).1.path
    };
    assert_eq!(path(find("cone flat")), Path::Lines { axis: 2 });
    assert_eq!(path(find("cone arc")), Path::Lines { axis: 2 });
    assert_eq!(path(find("cone in RTK's frame")), Path::Lines { axis: 1 });
    assert_eq!(path(find("parallel 2D, 180 deg")), Path::Lines { axis: 0 });
    assert_eq!(path(find("fan flat")), Path::Generic);
    // A detector turned in its plane breaks the line structure: the generic path, still right.
    let tilted = CircularScan {
        beam: Beam::Divergent,
        sid_mm: 400.0,
        sdd_mm: 700.0,
        detector: Detector::centered(160, 60, [1.5, 1.5], [0.0, 0.0], DetectorShape::Flat),
        angles_rad: even_angles(0.0, TAU, 180),
        detector_rotation_rad: 3f64.to_radians(),
    }
    .build()
    .unwrap();
    let phantom = blob(false);
    let (v, report) = run(
        &tilted,
        phantom.project_quiet(&tilted, 1),
        &grid_3d(),
        &AnalyticOptions::default(),
    );
    assert_eq!(report.path, Path::Generic);
    let c = v
        .grid()
        .index_from_world([5.0, -3.0, 1.0])
        .map(|x| x.round() as usize);
    assert!((v.data()[[c[2], c[1], c[0]]] as f64 - MU).abs() < 0.02 * MU);
}

/// A uniform ball of value 1 reconstructs to 1 (FDK's overall scale), in the centre slice.
#[test]
fn uniform_ball_reconstructs_to_one() {
    let scan = circular(Beam::Divergent, DetectorShape::Flat, 40, 0.0, TAU, 180);
    let phantom = Phantom {
        ellipsoids: vec![Ellipsoid {
            center_mm: [0.0; 3],
            semi_axes_mm: [35.0; 3],
            rotation: rot_z_deg(0.0),
            value: 1.0,
        }],
    };
    let (v, _) = run(
        &scan,
        phantom.project_quiet(&scan, 1),
        &grid_3d(),
        &AnalyticOptions::default(),
    );
    let centre = v.data().slice(s![5..7, 24..40, 24..40]);
    let mean = centre.iter().map(|&x| x as f64).sum::<f64>() / centre.len() as f64;
    assert!((mean - 1.0).abs() < 0.01, "{mean}");
    let outside = v.data()[[6, 2, 2]];
    assert!(outside.abs() < 0.02, "{outside}");
}

/// Every filter keeps the mean (its gain at zero frequency is 1) and, on noisy data, smoother
/// windows and lower cut-offs give less noise, in the order the windows' shapes imply.
#[test]
fn filters_keep_the_mean_and_order_the_noise() {
    let scan = circular(Beam::Parallel, DetectorShape::Flat, 1, 0.0, PI, 120);
    let grid = grid_2d();
    let phantom = Phantom::shepp_logan_2d(60.0, true, MU);
    let clean = phantom.project_quiet(&scan, 2);
    let truth = phantom.rasterize(&grid, 3);
    // Seeded noise.
    let mut seed = 12345u64;
    let mut noisy = clean.clone();
    for v in noisy.iter_mut() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *v += ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.02;
    }
    let background_std = |v: &Volume| -> f64 {
        // Corners of the image, outside the phantom: only noise there.
        let block = v.data().slice(s![0, 0..10, 0..10]);
        let m = block.iter().map(|&x| x as f64).sum::<f64>() / 100.0;
        (block.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / 100.0).sqrt()
    };
    let mut noise = Vec::new();
    for (window, name) in Window::ALL {
        for cutoff in [1.0, 0.6] {
            let options = AnalyticOptions {
                filter: Filter { window, cutoff },
                ..Default::default()
            };
            let (clean_v, _) = run(&scan, clean.clone(), &grid, &options);
            let mean_ratio = clean_v.data().sum() as f64 / truth.data().sum() as f64;
            assert!(
                (mean_ratio - 1.0).abs() < 0.01,
                "{name} cutoff {cutoff}: mean ratio {mean_ratio}"
            );
            let e = rmse(&clean_v, &truth);
            assert!(e < 0.2 * MU, "{name} cutoff {cutoff}: RMSE {e}");
            let (noisy_v, _) = run(&scan, noisy.clone(), &grid, &options);
            noise.push(((name, cutoff), background_std(&noisy_v)));
        }
    }
    let get = |name: &str, cutoff: f64| {
        noise
            .iter()
            .find(|((n, c), _)| *n == name && *c == cutoff)
            .unwrap()
            .1
    };
    for cutoff in [1.0, 0.6] {
        assert!(get("ram-lak", cutoff) > get("shepp-logan", cutoff));
        assert!(get("shepp-logan", cutoff) > get("cosine", cutoff));
        assert!(get("cosine", cutoff) > get("hann", cutoff));
        assert!(get("hamming", cutoff) > get("hann", cutoff));
    }
    for (window, name) in Window::ALL {
        let _ = window;
        assert!(
            get(name, 0.6) < get(name, 1.0),
            "{name}: a lower cut-off must lower the noise"
        );
    }
}

/// Slabs come in z order, cover the volume once, and add up to the whole reconstruction.
#[test]
fn slabs_stream_in_order() {
    let scan = circular(Beam::Divergent, DetectorShape::Flat, 40, 0.0, TAU, 90);
    let grid = VolumeGrid::centered([32, 32, 21], [4.0, 4.0, 2.0], [0.0; 3]).unwrap();
    let p = blob(false).project_quiet(&scan, 1);
    let (whole, _) = run(
        &scan,
        p.clone(),
        &grid,
        &AnalyticOptions {
            slab_thickness: 64,
            ..Default::default()
        },
    );
    let mut slabs: Vec<VolumeSlab> = Vec::new();
    let options = AnalyticOptions {
        slab_thickness: 5,
        ..Default::default()
    };
    let report = fdk(
        &scan,
        p,
        &grid,
        &options,
        &NoProgress,
        &CancelToken::new(),
        |s| {
            slabs.push(s);
            Ok::<(), std::io::Error>(())
        },
    )
    .unwrap();
    assert_eq!(report.slabs, 5);
    let starts: Vec<usize> = slabs.iter().map(|s| s.z_start).collect();
    assert_eq!(starts, vec![0, 5, 10, 15, 20]);
    assert_eq!(slabs.last().unwrap().data.dim().0, 1);
    let mut joined = Volume::zeros(grid.clone());
    for s in &slabs {
        joined.insert_slab(s).unwrap();
        assert_eq!(s.grid().unwrap().origin_mm()[2], grid.slice_z_mm(s.z_start));
    }
    let diff = joined
        .data()
        .iter()
        .zip(whole.data().iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    // Slab boundaries change the f32 rounding of the set-up, nothing else.
    assert!(diff < 1e-5 * MU as f32, "{diff}");
}

/// A failing receiver stops the reconstruction with its error; so does cancelling.
#[test]
fn sink_errors_and_cancel_stop_the_work() {
    let scan = circular(Beam::Divergent, DetectorShape::Flat, 40, 0.0, TAU, 30);
    let grid = VolumeGrid::centered([16, 16, 8], [4.0; 3], [0.0; 3]).unwrap();
    let p = Array3::<f32>::zeros(scan.projection_shape());
    let mut calls = 0;
    let options = AnalyticOptions {
        slab_thickness: 2,
        ..Default::default()
    };
    let e = fdk(
        &scan,
        p.clone(),
        &grid,
        &options,
        &NoProgress,
        &CancelToken::new(),
        |_| {
            calls += 1;
            if calls == 2 {
                Err(std::io::Error::other("disk full"))
            } else {
                Ok(())
            }
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, ReconError::Sink(_)) && e.to_string().contains("disk full"),
        "{e}"
    );
    assert_eq!(calls, 2);
    let cancel = CancelToken::new();
    cancel.cancel();
    let e = fdk(&scan, p, &grid, &options, &NoProgress, &cancel, |_| {
        Ok::<(), std::io::Error>(())
    })
    .unwrap_err();
    assert!(matches!(e, ReconError::Cancelled));
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let scan = circular(Beam::Divergent, DetectorShape::Flat, 40, 0.0, TAU, 30);
    let grid = VolumeGrid::centered([16, 16, 8], [4.0; 3], [0.0; 3]).unwrap();
    let recon = |p: Array3<f32>, options: AnalyticOptions, scan: &ScanGeometry| {
        fdk(
            scan,
            p,
            &grid,
            &options,
            &NoProgress,
            &CancelToken::new(),
            |_| Ok::<(), std::io::Error>(()),
        )
        .unwrap_err()
    };
    let e = recon(
        Array3::zeros((30, 40, 159)),
        AnalyticOptions::default(),
        &scan,
    );
    assert!(
        e.to_string().contains("(30, 40, 159)") && e.to_string().contains("(30, 40, 160)"),
        "{e}"
    );
    let p = Array3::zeros(scan.projection_shape());
    let bad_cutoff = AnalyticOptions {
        filter: Filter {
            window: Window::Hann,
            cutoff: 0.0,
        },
        ..Default::default()
    };
    assert!(
        recon(p.clone(), bad_cutoff, &scan)
            .to_string()
            .contains("cutoff")
    );
    let bad_slab = AnalyticOptions {
        slab_thickness: 0,
        ..Default::default()
    };
    assert!(
        recon(p.clone(), bad_slab, &scan)
            .to_string()
            .contains("slab")
    );
    // No circular orbit: per-view vectors that wander.
    let mut views = scan.views().to_vec();
    views[3].detector_mm[2] += 7.0;
    let wandering = ScanGeometry::new(scan.detector().clone(), views, None).unwrap();
    assert!(matches!(
        recon(p, AnalyticOptions::default(), &wandering),
        ReconError::NoOrbit
    ));
    // Short scan with a displaced detector.
    let short_displaced = circular(Beam::Divergent, DetectorShape::Flat, 40, 45.0, PI + 0.8, 60);
    let e = recon(
        Array3::zeros(short_displaced.projection_shape()),
        AnalyticOptions::default(),
        &short_displaced,
    );
    assert!(e.to_string().contains("displaced"), "{e}");
}

/// Too short a scan still reconstructs, with a warning saying why the result is wrong.
#[test]
fn too_short_a_scan_warns() {
    let scan = circular(Beam::Divergent, DetectorShape::Flat, 1, 0.0, PI, 90);
    let p = blob(true).project_quiet(&scan, 1);
    let (_, report) = run(&scan, p, &grid_2d(), &AnalyticOptions::default());
    assert!(matches!(report.redundancy, Redundancy::Parker { .. }));
    assert!(
        report.warnings.iter().any(|w| w.contains("fan angle")),
        "{:?}",
        report.warnings
    );
}

/// The displaced-detector (Wang) weights on an object much wider than the overlap band, where
/// they matter (`every_geometry_reconstructs_the_phantom`'s object lies almost inside it): a naive reconstruction that gives every ray the full scan's plain 0.5 weight
/// (the same data on a centred detector wide enough for both sides, zeros where nothing was
/// measured) must fail the bound the real one meets.
#[test]
fn displaced_detector_weights_beat_plain_half_weights() {
    // The overlap band reaches about 43 mm from the axis; this object reaches 63 mm, inside
    // the 92 mm the displaced detector covers.
    let phantom = Phantom {
        ellipsoids: vec![Ellipsoid {
            center_mm: [5.0, -3.0, 1.0],
            semi_axes_mm: [58.0, 48.0, 22.0],
            rotation: rot_z_deg(20.0),
            value: MU,
        }],
    };
    let grid = VolumeGrid::centered([100, 100, 12], [2.0, 2.0, 2.0], [0.0; 3]).unwrap();
    let truth = phantom.rasterize(&grid, 3);
    let (cols, wide_cols, pad) = (160usize, 220usize, 60usize);
    for (shape, offset_u) in [
        (DetectorShape::Flat, 45.0),
        (DetectorShape::Cylindrical, -45.0),
    ] {
        let displaced = circular(Beam::Divergent, shape, 40, offset_u, TAU, 180);
        let (real, report) = run(
            &displaced,
            phantom.project_quiet(&displaced, 1),
            &grid,
            &AnalyticOptions::default(),
        );
        assert!(
            matches!(report.redundancy, Redundancy::DisplacedDetector { .. }),
            "{shape:?}: {:?}",
            report.redundancy
        );
        let wide = CircularScan {
            beam: Beam::Divergent,
            sid_mm: 400.0,
            sdd_mm: 700.0,
            detector: Detector::centered(wide_cols, 40, [1.5, 1.5], [0.0, 0.0], shape),
            angles_rad: even_angles(0.3, 0.3 + TAU, 180),
            detector_rotation_rad: 0.0,
        }
        .build()
        .unwrap();
        let mut p = phantom.project_quiet(&wide, 1);
        // The columns the displaced detector did not have: below it for a +u offset.
        let missing = if offset_u > 0.0 {
            0..pad
        } else {
            cols..wide_cols
        };
        p.slice_mut(s![.., .., missing]).fill(0.0);
        let (naive, naive_report) = run(&wide, p, &grid, &AnalyticOptions::default());
        assert!(matches!(naive_report.redundancy, Redundancy::Uniform(_)));
        let (e_real, e_naive) = (
            away_from_edges(&real, &truth),
            away_from_edges(&naive, &truth),
        );
        eprintln!("{shape:?}: RMSE Wang {e_real:.2e}, plain 0.5 {e_naive:.2e} (MU {MU})");
        // Wang's weights applied before the ramp filter are exact only in the limit of a
        // wide overlap: here (overlap to 43 mm, object to 63 mm) they leave about 7% RMSE
        // beyond the overlap band, against 1.7% from a centred detector seeing everything and
        // about 19% from plain weights.
        let bound = 0.12 * MU;
        assert!(e_real < bound, "{shape:?}: Wang weights RMSE {e_real:.2e}");
        assert!(
            e_naive > bound,
            "{shape:?}: plain weights RMSE {e_naive:.2e}"
        );
    }
}

/// RMSE over the voxels within 80 mm of the axis (inside the displaced detector's 92 mm
/// field of view) whose in-slice neighbours within 2 voxels have the same truth (the object's
/// edge is a resolution test, not a weighting test).
fn away_from_edges(a: &Volume, truth: &Volume) -> f64 {
    let t = truth.data();
    let (nz, ny, nx) = t.dim();
    let (mut sum, mut n) = (0.0f64, 0usize);
    for k in 0..nz {
        for j in 2..ny - 2 {
            for i in 2..nx - 2 {
                let w = truth
                    .grid()
                    .world_from_index([i as f64, j as f64, k as f64]);
                if w[0].hypot(w[1]) > 80.0 {
                    continue;
                }
                let v = t[[k, j, i]];
                let flat = (j - 2..=j + 2).all(|jj| (i - 2..=i + 2).all(|ii| t[[k, jj, ii]] == v));
                if flat {
                    sum += ((a.data()[[k, j, i]] - v) as f64).powi(2);
                    n += 1;
                }
            }
        }
    }
    (sum / n as f64).sqrt()
}
