//! The projectors: Joseph's forward projector against exact line integrals (the oracle rung),
//! its transpose against the adjoint identity `<A x, y> = <x, A^T y>` for every geometry (the
//! f64 reference and the fast f32 operator), the fast operator against the reference on random
//! volumes (both of its paths), view subsets, and the voxel-driven back-projector on cases with
//! a known answer.

use std::f64::consts::TAU;

use ndarray::Array3;
use roboct_core::{CancelToken, NoProgress};
use roboct_geometry::{
    Beam, CircularScan, Detector, DetectorShape, ScanGeometry, Source, View, Volume, VolumeGrid,
    even_angles,
};
use roboct_phantom::{Ellipsoid, Phantom, rot_z_deg};
use roboct_recon::{
    JosephPath, JosephProjector, Projector, ReconPlan, back_project_adjoint,
    back_project_voxel_driven as back_project, forward_project, reference,
};

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32) / (1u64 << 24) as f32
}

fn circular(
    beam: Beam,
    shape: DetectorShape,
    rows: usize,
    views: usize,
    tilt: f64,
) -> ScanGeometry {
    CircularScan {
        beam,
        sid_mm: 200.0,
        sdd_mm: 360.0,
        detector: Detector::centered(48, rows, [1.3, 1.1], [0.7, -0.4], shape),
        angles_rad: even_angles(0.1, 0.1 + TAU, views),
        detector_rotation_rad: tilt,
    }
    .build()
    .unwrap()
}

/// A random (seeded) trajectory of point sources and tilted detectors.
fn random_vectors(seed: &mut u64) -> ScanGeometry {
    let views = (0..7)
        .map(|_| {
            let a = lcg(seed) as f64 * TAU;
            let tilt = (lcg(seed) as f64 - 0.5) * 0.4;
            let (s, c) = a.sin_cos();
            let u = [c, s * tilt.cos(), s * tilt.sin()];
            // v perpendicular to u and to the central ray direction (-s, c, 0) tilted.
            let ray = [-s, c, 0.0];
            let v = roboct_geometry::vec3::normalize(roboct_geometry::vec3::cross(u, ray));
            let v = if v[2] < 0.0 { v.map(|x| -x) } else { v };
            View {
                source: Source::Point([190.0 * s, -190.0 * c, (lcg(seed) as f64 - 0.5) * 20.0]),
                detector_mm: [-150.0 * s, 150.0 * c, 3.0],
                u_dir: u,
                v_dir: v,
            }
        })
        .collect();
    ScanGeometry::new(
        Detector::centered(40, 30, [1.2, 1.2], [0.0, 0.0], DetectorShape::Flat),
        views,
        None,
    )
    .unwrap()
}

fn geometries() -> Vec<(&'static str, ScanGeometry, VolumeGrid)> {
    let mut seed = 99u64;
    let g3 = VolumeGrid::centered([20, 18, 14], [2.0, 2.2, 1.8], [1.0, -2.0, 0.5]).unwrap();
    let g2 = VolumeGrid::centered([20, 18, 1], [2.0, 2.2, 1.8], [1.0, -2.0, 0.0]).unwrap();
    let rotated = VolumeGrid::with_direction(
        [16, 16, 12],
        [2.0, 2.0, 2.0],
        [-10.0, -15.0, -11.0],
        [[0.8, -0.6, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]],
    )
    .unwrap();
    vec![
        (
            "parallel 2D",
            circular(Beam::Parallel, DetectorShape::Flat, 1, 24, 0.0),
            g2.clone(),
        ),
        (
            "parallel 3D",
            circular(Beam::Parallel, DetectorShape::Flat, 20, 24, 0.0),
            g3.clone(),
        ),
        (
            "fan flat",
            circular(Beam::Divergent, DetectorShape::Flat, 1, 24, 0.0),
            g2.clone(),
        ),
        (
            "fan arc",
            circular(Beam::Divergent, DetectorShape::Cylindrical, 1, 24, 0.0),
            g2,
        ),
        (
            "cone flat",
            circular(Beam::Divergent, DetectorShape::Flat, 24, 24, 0.0),
            g3.clone(),
        ),
        (
            "cone arc",
            circular(Beam::Divergent, DetectorShape::Cylindrical, 24, 24, 0.0),
            g3.clone(),
        ),
        (
            "cone tilted detector",
            circular(Beam::Divergent, DetectorShape::Flat, 24, 24, 0.2),
            g3,
        ),
        (
            "random vectors, rotated grid",
            random_vectors(&mut seed),
            rotated,
        ),
        (
            // Rows much finer than the voxels: the transpose's per-row scatter.
            "cone fine rows",
            CircularScan {
                beam: Beam::Divergent,
                sid_mm: 200.0,
                sdd_mm: 360.0,
                detector: Detector::centered(40, 90, [1.3, 0.3], [0.0, 0.0], DetectorShape::Flat),
                angles_rad: even_angles(0.0, TAU, 10),
                detector_rotation_rad: 0.0,
            }
            .build()
            .unwrap(),
            VolumeGrid::centered([16, 16, 10], [2.0, 2.0, 2.0], [0.0; 3]).unwrap(),
        ),
    ]
}

fn dot(a: &Array3<f32>, b: &Array3<f32>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum()
}

/// Relative RMS difference of `got` from `want`.
fn rel_rms(want: &Array3<f32>, got: &Array3<f32>) -> f64 {
    let num: f64 = want
        .iter()
        .zip(got.iter())
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum();
    (num / dot(want, want)).sqrt()
}

#[test]
fn reference_pair_satisfies_the_adjoint_identity() {
    adjoint_identity(
        &|scan, x| reference::forward_project(scan, x, &NoProgress).unwrap(),
        &|scan, y, grid| reference::back_project_adjoint(scan, y, grid, &NoProgress).unwrap(),
    );
}

/// The fast f32 pair, through the public one-call functions (plan, projector and scratch
/// made inside).
#[test]
fn fast_pair_satisfies_the_adjoint_identity() {
    adjoint_identity(
        &|scan, x| forward_project(scan, x, &NoProgress).unwrap(),
        &|scan, y, grid| back_project_adjoint(scan, y, grid, &NoProgress).unwrap(),
    );
}

type Forward = dyn Fn(&ScanGeometry, &Volume) -> Array3<f32>;
type Adjoint = dyn Fn(&ScanGeometry, &Array3<f32>, &VolumeGrid) -> Volume;

fn adjoint_identity(forward: &Forward, adjoint: &Adjoint) {
    let mut seed = 2024u64;
    for (name, scan, grid) in geometries() {
        let x = Volume::from_array(
            grid.clone(),
            Array3::from_shape_simple_fn(grid.shape_zyx(), || lcg(&mut seed)),
        )
        .unwrap();
        let y = Array3::from_shape_simple_fn(scan.projection_shape(), || lcg(&mut seed) - 0.3);
        let ax = forward(&scan, &x);
        let aty = adjoint(&scan, &y, &grid);
        let lhs: f64 = ax
            .iter()
            .zip(y.iter())
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum();
        let rhs: f64 = x
            .data()
            .iter()
            .zip(aty.data().iter())
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum();
        let rel = (lhs - rhs).abs() / lhs.abs();
        assert!(
            lhs.abs() > 1.0,
            "{name}: the rays must cross the volume ({lhs})"
        );
        assert!(
            rel < 1e-4,
            "{name}: <Ax,y> = {lhs}, <x,A^T y> = {rhs}, relative difference {rel:e}"
        );
    }
}

/// Forward projections of a rasterised phantom approach its exact line integrals.
#[test]
fn joseph_matches_exact_line_integrals() {
    let phantom = Phantom {
        ellipsoids: vec![Ellipsoid {
            center_mm: [4.0, -3.0, 2.0],
            semi_axes_mm: [30.0, 22.0, 18.0],
            rotation: rot_z_deg(25.0),
            value: 0.02,
        }],
    };
    let grid = VolumeGrid::centered([72, 72, 60], [1.0; 3], [0.0; 3]).unwrap();
    let volume = phantom.rasterize(&grid, 4);
    for (beam, shape) in [
        (Beam::Divergent, DetectorShape::Flat),
        (Beam::Divergent, DetectorShape::Cylindrical),
        (Beam::Parallel, DetectorShape::Flat),
    ] {
        let scan = CircularScan {
            beam,
            sid_mm: 300.0,
            sdd_mm: 500.0,
            detector: Detector::centered(60, 40, [2.0, 2.0], [0.0, 0.0], shape),
            angles_rad: even_angles(0.0, TAU, 12),
            detector_rotation_rad: 0.0,
        }
        .build()
        .unwrap();
        // Pixel-averaged truth: the discrete projector's rays sample voxels of finite size.
        let exact = phantom.project_quiet(&scan, 4);
        let ours = forward_project(&scan, &volume, &NoProgress).unwrap();
        let max = exact.iter().cloned().fold(0.0f32, f32::max);
        let rms = (exact
            .iter()
            .zip(ours.iter())
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            / exact.len() as f64)
            .sqrt();
        assert!(max > 1.0, "{beam:?}: the ellipsoid must be seen ({max})");
        assert!(
            rms < 0.01 * max as f64,
            "{beam:?} {shape:?}: RMS error {rms} of line integrals up to {max}"
        );
    }
}

/// Back-projecting a detector full of ones gives, at every voxel every view sees, the number of
/// views.
#[test]
fn voxel_driven_back_projection_of_ones_counts_views() {
    for (name, scan, grid) in geometries().into_iter().take(6) {
        let ones = Array3::from_elem(scan.projection_shape(), 1.0f32);
        let v = back_project(&scan, &ones, &grid).unwrap();
        let (nz, ny, nx) = grid.shape_zyx();
        let centre = v.data()[[nz / 2, ny / 2, nx / 2]];
        assert!(
            (centre - scan.n_views() as f32).abs() < 1e-3,
            "{name}: {centre}"
        );
    }
}

/// In a 2D scan the row's height does not matter: a rotated ellipse's projections by Joseph
/// match its exact ones even with the single detector row offset from the slice.
#[test]
fn planar_scans_ignore_the_row_height() {
    let scan = circular(Beam::Divergent, DetectorShape::Flat, 1, 24, 0.0);
    let phantom = Phantom {
        ellipsoids: vec![Ellipsoid {
            center_mm: [2.0, -1.0, 0.0],
            semi_axes_mm: [12.0, 8.0, 1e6],
            rotation: rot_z_deg(30.0),
            value: 0.02,
        }],
    };
    let grid = VolumeGrid::centered([80, 80, 1], [0.5, 0.5, 0.5], [0.0; 3]).unwrap();
    let ours = forward_project(&scan, &phantom.rasterize(&grid, 4), &NoProgress).unwrap();
    let exact = phantom.project_quiet(&scan, 1);
    let max = exact.iter().cloned().fold(0.0f32, f32::max) as f64;
    let rms = (exact
        .iter()
        .zip(ours.iter())
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum::<f64>()
        / exact.len() as f64)
        .sqrt();
    // Weighting the slice by the row's 0.4 mm offset would be off by 80%.
    assert!(rms < 0.01 * max, "RMS {rms} of {max}");
    let thick = VolumeGrid::centered([8, 8, 3], [1.0; 3], [0.0; 3]).unwrap();
    let e = forward_project(&scan, &Volume::zeros(thick), &NoProgress).unwrap_err();
    assert!(e.to_string().contains("one-row"), "{e}");
}

#[test]
fn shapes_are_checked() {
    let (_, scan, grid) = geometries().remove(4);
    let wrong = Array3::<f32>::zeros((3, 4, 5));
    let e = back_project_adjoint(&scan, &wrong, &grid, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("(3, 4, 5)"), "{e}");
    assert!(back_project(&scan, &wrong, &grid).is_err());
}

/// The fast operator agrees with the f64 reference on random volumes and projections, for
/// every geometry and both of its paths (the line path where the geometry allows it, the ray
/// path always), and the paths agree with each other.
#[test]
fn fast_operator_matches_the_reference() {
    let mut seed = 77u64;
    let cancel = CancelToken::new();
    for (name, scan, grid) in geometries() {
        let x = Volume::from_array(
            grid.clone(),
            Array3::from_shape_simple_fn(grid.shape_zyx(), || lcg(&mut seed)),
        )
        .unwrap();
        let y = Array3::from_shape_simple_fn(scan.projection_shape(), || lcg(&mut seed) - 0.3);
        let want_ax = reference::forward_project(&scan, &x, &NoProgress).unwrap();
        let want_aty = reference::back_project_adjoint(&scan, &y, &grid, &NoProgress).unwrap();
        let all: Vec<usize> = (0..scan.n_views()).collect();
        let plans = [
            ReconPlan::new(&scan, &grid).unwrap(),
            ReconPlan::new_ray_by_ray(&scan, &grid).unwrap(),
        ];
        let expect_lines = matches!(
            name,
            "parallel 3D" | "cone flat" | "cone arc" | "cone fine rows"
        );
        assert_eq!(
            plans[0].path() == JosephPath::Lines,
            expect_lines,
            "{name}: path {:?}",
            plans[0].path()
        );
        assert_eq!(plans[1].path(), JosephPath::Rays);
        for plan in &plans {
            let p = JosephProjector::new(plan);
            let mut scratch = p.scratch();
            let mut ax = Array3::<f32>::from_elem(scan.projection_shape(), f32::NAN);
            p.forward_into(x.data().view(), &all, ax.view_mut(), &mut scratch, &cancel)
                .unwrap();
            let mut aty = Array3::<f32>::from_elem(grid.shape_zyx(), f32::NAN);
            p.adjoint_into(y.view(), &all, aty.view_mut(), &mut scratch, &cancel)
                .unwrap();
            let (ef, ea) = (rel_rms(&want_ax, &ax), rel_rms(want_aty.data(), &aty));
            assert!(
                ef < 1e-5 && ea < 1e-5,
                "{name} {:?}: forward off by {ef:e}, transpose by {ea:e} (relative RMS)",
                plan.path()
            );
        }
    }
}

/// A subset of views, in any order, gives those views' projections and the transpose of
/// exactly them.
#[test]
fn view_subsets_project_and_back_project_those_views() {
    let (_, scan, grid) = geometries().remove(4);
    let plan = ReconPlan::new(&scan, &grid).unwrap();
    let p = JosephProjector::new(&plan);
    let mut scratch = p.scratch();
    let cancel = CancelToken::new();
    let mut seed = 5u64;
    let x = Array3::from_shape_simple_fn(grid.shape_zyx(), || lcg(&mut seed));
    let all: Vec<usize> = (0..scan.n_views()).collect();
    let mut full = Array3::zeros(scan.projection_shape());
    p.forward_into(x.view(), &all, full.view_mut(), &mut scratch, &cancel)
        .unwrap();
    let subset = [17usize, 3, 9];
    let (_, rows, cols) = scan.projection_shape();
    let mut part = Array3::zeros((3, rows, cols));
    p.forward_into(x.view(), &subset, part.view_mut(), &mut scratch, &cancel)
        .unwrap();
    for (k, &v) in subset.iter().enumerate() {
        assert_eq!(
            part.index_axis(ndarray::Axis(0), k),
            full.index_axis(ndarray::Axis(0), v)
        );
    }
    // The transpose of the subset is the full transpose of projections zero elsewhere.
    let mut y = Array3::zeros(scan.projection_shape());
    for (k, &v) in subset.iter().enumerate() {
        y.index_axis_mut(ndarray::Axis(0), v)
            .assign(&part.index_axis(ndarray::Axis(0), k));
    }
    let mut want = Array3::zeros(grid.shape_zyx());
    p.adjoint_into(y.view(), &all, want.view_mut(), &mut scratch, &cancel)
        .unwrap();
    let mut got = Array3::zeros(grid.shape_zyx());
    p.adjoint_into(part.view(), &subset, got.view_mut(), &mut scratch, &cancel)
        .unwrap();
    assert!(rel_rms(&want, &got) < 1e-6);
}

#[test]
fn operator_checks_shapes_views_and_cancel() {
    let (_, scan, grid) = geometries().remove(4);
    let plan = ReconPlan::new(&scan, &grid).unwrap();
    let p = JosephProjector::new(&plan);
    let mut scratch = p.scratch();
    let cancel = CancelToken::new();
    let x = Array3::<f32>::zeros(grid.shape_zyx());
    let mut out = Array3::<f32>::zeros((2, 3, 4));
    let e = p
        .forward_into(x.view(), &[0, 1], out.view_mut(), &mut scratch, &cancel)
        .unwrap_err();
    assert!(e.to_string().contains("(2, 3, 4)"), "{e}");
    let (_, rows, cols) = scan.projection_shape();
    let mut out = Array3::<f32>::zeros((1, rows, cols));
    let e = p
        .forward_into(x.view(), &[99], out.view_mut(), &mut scratch, &cancel)
        .unwrap_err();
    assert!(
        e.to_string().contains("views") && e.to_string().contains("99"),
        "{e}"
    );
    let small = Array3::<f32>::zeros((1, 2, 3));
    let e = p
        .forward_into(small.view(), &[0], out.view_mut(), &mut scratch, &cancel)
        .unwrap_err();
    assert!(e.to_string().contains("(1, 2, 3)"), "{e}");
    cancel.cancel();
    let e = p
        .forward_into(x.view(), &[0], out.view_mut(), &mut scratch, &cancel)
        .unwrap_err();
    assert!(matches!(e, roboct_recon::ReconError::Cancelled), "{e}");
}
