//! Iterative methods against exact truth: analytic phantoms projected in closed form (no
//! inverse crime: the data are not made by the projector that reconstructs them), every method
//! converging toward the phantom with a falling residual; warm start, non-negativity,
//! tolerance, cancel; a sparse-view case where FISTA-TV beats FBP; bad input.

use std::f64::consts::TAU;

use ndarray::Array3;
use roboct_core::{CancelToken, NoProgress, Progress};
use roboct_geometry::{
    Beam, CircularScan, Detector, DetectorShape, ScanGeometry, Volume, VolumeGrid, even_angles,
};
use roboct_phantom::{Ellipsoid, Phantom, rot_z_deg};
use roboct_recon::{
    AnalyticOptions, IterativeMethod, IterativeOptions, ReconError, ReconPlan, StopReason,
    WarmStart, fdk_volume, reconstruct_iterative,
};

const MU: f64 = 0.02;

/// Two nested ellipsoids and a dense insert: edges in every direction, values 0 to 0.03/mm.
fn phantom() -> Phantom {
    let e = |c: [f64; 3], a: [f64; 3], deg: f64, value: f64| Ellipsoid {
        center_mm: c,
        semi_axes_mm: a,
        rotation: rot_z_deg(deg),
        value,
    };
    Phantom {
        ellipsoids: vec![
            e([2.0, -1.0, 0.0], [30.0, 24.0, 20.0], 15.0, MU),
            e([-8.0, 4.0, 2.0], [9.0, 6.0, 8.0], -30.0, 0.5 * MU),
            e([10.0, 5.0, -3.0], [5.0, 5.0, 5.0], 0.0, -0.4 * MU),
        ],
    }
}

/// A cone-beam scan of the phantom (the line path), its exact projections and the truth.
struct Problem {
    scan: ScanGeometry,
    grid: VolumeGrid,
    projections: Array3<f32>,
    truth: Volume,
}

fn cone(views: usize) -> Problem {
    let scan = CircularScan {
        beam: Beam::Divergent,
        sid_mm: 300.0,
        sdd_mm: 500.0,
        detector: Detector::centered(72, 56, [1.6, 1.6], [0.0, 0.0], DetectorShape::Flat),
        angles_rad: even_angles(0.0, TAU, views),
        detector_rotation_rad: 0.0,
    }
    .build()
    .unwrap();
    let grid = VolumeGrid::centered([40, 40, 32], [1.75, 1.75, 1.75], [0.0; 3]).unwrap();
    let p = phantom();
    // Two rays per pixel edge: the data are the phantom's, not the projector's.
    let projections = p.project_quiet(&scan, 2);
    let truth = p.rasterize(&grid, 3);
    Problem {
        scan,
        grid,
        projections,
        truth,
    }
}

/// A 2D fan-beam scan of the Shepp-Logan phantom (the ray path).
fn fan(views: usize) -> Problem {
    let scan = CircularScan {
        beam: Beam::Divergent,
        sid_mm: 300.0,
        sdd_mm: 500.0,
        detector: Detector::centered(128, 1, [1.4, 1.4], [0.0, 0.0], DetectorShape::Flat),
        angles_rad: even_angles(0.0, TAU, views),
        detector_rotation_rad: 0.0,
    }
    .build()
    .unwrap();
    let grid = VolumeGrid::centered([96, 96, 1], [1.0; 3], [0.0; 3]).unwrap();
    let p = Phantom::shepp_logan_2d(45.0, true, MU);
    Problem {
        projections: p.project_quiet(&scan, 2),
        truth: p.rasterize(&grid, 3),
        scan,
        grid,
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

/// Statistical weights of a scan with `i0` photons per ray: the expected counts.
fn counts(projections: &Array3<f32>, i0: f32) -> Array3<f32> {
    projections.mapv(|l| i0 * (-l).exp())
}

fn run(p: &Problem, options: &IterativeOptions) -> (Volume, roboct_recon::IterativeReport) {
    let plan = ReconPlan::new(&p.scan, &p.grid).unwrap();
    let weights = (options.method == IterativeMethod::Pwls).then(|| counts(&p.projections, 1e4));
    reconstruct_iterative(
        &plan,
        p.projections.view(),
        weights.as_ref().map(|w| w.view()),
        options,
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap()
}

/// Every method, from zero, moves toward the phantom: the residual falls and the error against
/// the analytic truth ends well below the truth's own size.
#[test]
fn every_method_converges_on_exact_data() {
    let p = cone(72);
    let zero = Volume::zeros(p.grid.clone());
    let start = rmse(&zero, &p.truth);
    for (method, iterations, max_ratio) in [
        (IterativeMethod::Sirt, 30, 0.45),
        (IterativeMethod::OsSart, 8, 0.35),
        (IterativeMethod::Cgls, 12, 0.35),
        (IterativeMethod::FistaTv, 30, 0.35),
        (IterativeMethod::Pwls, 12, 0.35),
    ] {
        let options = IterativeOptions::new(method)
            .iterations(iterations)
            .subsets(8)
            .tv_weight(5e-5);
        let (x, report) = run(&p, &options);
        let r = &report.residuals;
        assert_eq!(report.iterations, iterations, "{method}");
        assert_eq!(report.stopped_because, StopReason::Iterations, "{method}");
        assert_eq!(r.len(), iterations, "{method}");
        assert!(
            r[r.len() - 1] < 0.2 * r[0],
            "{method}: residual {:.3e} -> {:.3e}",
            r[0],
            r[r.len() - 1]
        );
        let err = rmse(&x, &p.truth);
        assert!(
            err < max_ratio * start,
            "{method}: RMSE {err:.3e} against {start:.3e} for zero"
        );
        // Monotone methods: every residual below the one before (CG on the normal equations
        // and SIRT minimise it; FISTA is not monotone).
        if method != IterativeMethod::FistaTv {
            for w in r.windows(2) {
                assert!(w[1] <= w[0] * 1.0001, "{method}: residuals {r:?}");
            }
        }
        assert!(report.iteration_s.len() == iterations && report.work_bytes > 0);
        eprintln!(
            "{method}: RMSE {err:.3e} (zero {start:.3e}), residual {:.3e} -> {:.3e}, {:.3} s/iteration",
            r[0],
            r[r.len() - 1],
            report.iteration_s.iter().sum::<f64>() / iterations as f64
        );
    }
}

/// More iterations keep lowering the error on consistent data (SIRT, the slowest).
#[test]
fn sirt_error_keeps_falling() {
    let p = cone(48);
    let e = |n| {
        rmse(
            &run(
                &p,
                &IterativeOptions::new(IterativeMethod::Sirt).iterations(n),
            )
            .0,
            &p.truth,
        )
    };
    let (a, b, c) = (e(2), e(6), e(18));
    assert!(a > b && b > c, "{a} {b} {c}");
}

/// Starting from FDK beats starting from zero at the same number of iterations.
#[test]
fn warm_start_from_fdk_beats_zero() {
    let p = cone(72);
    for method in [
        IterativeMethod::Sirt,
        IterativeMethod::OsSart,
        IterativeMethod::Cgls,
    ] {
        let options = IterativeOptions::new(method).iterations(3).subsets(8);
        let cold = rmse(&run(&p, &options).0, &p.truth);
        let warm = rmse(
            &run(&p, &options.clone().warm_start(WarmStart::Fdk)).0,
            &p.truth,
        );
        assert!(warm < cold, "{method}: warm {warm:.3e} cold {cold:.3e}");
    }
    // A given volume is taken as is: the truth itself is (nearly) a fixed point.
    let options = IterativeOptions::new(IterativeMethod::Sirt)
        .iterations(2)
        .warm_start(WarmStart::Volume(p.truth.data().clone()));
    let err = rmse(&run(&p, &options).0, &p.truth);
    assert!(
        err < 0.15 * rmse(&Volume::zeros(p.grid.clone()), &p.truth),
        "{err}"
    );
}

/// Non-negativity holds when asked for, and lifting it lets the unconstrained solution go
/// negative (the data's discretisation error alone makes some voxels dip below 0).
#[test]
fn non_negativity_holds() {
    let p = cone(48);
    for method in IterativeMethod::ALL {
        let options = IterativeOptions::new(method).iterations(6).subsets(6);
        let (x, _) = run(&p, &options);
        let min = x.data().iter().cloned().fold(f32::INFINITY, f32::min);
        assert!(min >= 0.0, "{method}: min {min}");
    }
    let (x, _) = run(
        &p,
        &IterativeOptions::new(IterativeMethod::Cgls)
            .iterations(10)
            .nonnegative(false),
    );
    let min = x.data().iter().cloned().fold(f32::INFINITY, f32::min);
    assert!(min < 0.0, "unconstrained CGLS min {min}");
}

#[test]
fn tolerance_stops_early() {
    let p = cone(48);
    let (_, report) = run(
        &p,
        &IterativeOptions::new(IterativeMethod::Cgls)
            .iterations(50)
            .tolerance(0.05),
    );
    assert_eq!(report.stopped_because, StopReason::Tolerance);
    assert!(report.iterations < 50, "{}", report.iterations);
    assert!(report.final_relative_residual().unwrap() <= 0.05);
}

/// Cancels its token when the first iteration is reported.
struct CancelAfterOne(CancelToken);

impl Progress for CancelAfterOne {
    fn start(&self, _stage: &str, _total: u64) {}
    fn advance(&self, _n: u64) {
        self.0.cancel();
    }
}

#[test]
fn cancel_stops_after_the_current_iteration() {
    let p = cone(48);
    let plan = ReconPlan::new(&p.scan, &p.grid).unwrap();
    for method in [IterativeMethod::OsSart, IterativeMethod::FistaTv] {
        let cancel = CancelToken::new();
        let (x, report) = reconstruct_iterative(
            &plan,
            p.projections.view(),
            None,
            &IterativeOptions::new(method).iterations(20).subsets(4),
            &CancelAfterOne(cancel.clone()),
            &cancel,
        )
        .unwrap();
        assert_eq!(report.stopped_because, StopReason::Cancelled, "{method}");
        assert_eq!(report.iterations, 1, "{method}");
        assert!(
            x.data().iter().any(|v| *v > 0.0),
            "{method}: the iterate is returned"
        );
    }
}

/// Sparse views (60 over 360 degrees): FISTA-TV's image is closer to the phantom than FBP's,
/// whose streaks TV removes.
#[test]
fn sparse_view_fista_tv_beats_fbp() {
    let p = fan(60);
    let (fbp, _) = fdk_volume(
        &p.scan,
        p.projections.clone(),
        &p.grid,
        &AnalyticOptions::default(),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    let (tv, report) = run(
        &p,
        &IterativeOptions::new(IterativeMethod::FistaTv)
            .iterations(60)
            .tv_weight(1e-5),
    );
    let (e_fbp, e_tv) = (rmse(&fbp, &p.truth), rmse(&tv, &p.truth));
    eprintln!(
        "sparse view: FBP RMSE {e_fbp:.3e}, FISTA-TV {e_tv:.3e}, L {:?}",
        report.lipschitz
    );
    assert!(e_tv < 0.5 * e_fbp, "FISTA-TV {e_tv:.3e} vs FBP {e_fbp:.3e}");
}

fn error_of(
    options: IterativeOptions,
    projections: &Array3<f32>,
    weights: Option<&Array3<f32>>,
) -> ReconError {
    let p = cone(12);
    let plan = ReconPlan::new(&p.scan, &p.grid).unwrap();
    reconstruct_iterative(
        &plan,
        projections.view(),
        weights.map(|w| w.view()),
        &options,
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap_err()
}

/// Bad options and bad data: an error that names the field, before any work.
#[test]
fn bad_input_names_the_field() {
    let p = cone(12);
    let good = &p.projections;
    let m = IterativeOptions::new;
    let cases: Vec<(IterativeOptions, Option<Array3<f32>>, &str)> = vec![
        (m(IterativeMethod::Sirt).iterations(0), None, "iterations"),
        (m(IterativeMethod::OsSart).subsets(0), None, "subsets"),
        (m(IterativeMethod::OsSart).subsets(13), None, "subsets"),
        (m(IterativeMethod::Sirt).relaxation(2.5), None, "relaxation"),
        (
            m(IterativeMethod::FistaTv).tv_weight(-1.0),
            None,
            "tv weight",
        ),
        (
            m(IterativeMethod::FistaTv).tv_iterations(0),
            None,
            "tv iterations",
        ),
        (
            m(IterativeMethod::Cgls).tolerance(f64::NAN),
            None,
            "tolerance",
        ),
        (
            m(IterativeMethod::Pwls).pwls_beta(-1.0),
            Some(good.clone()),
            "pwls beta",
        ),
        (m(IterativeMethod::Pwls), None, "weights"),
        (m(IterativeMethod::Sirt), Some(good.clone()), "weights"),
        (
            m(IterativeMethod::Pwls),
            Some(good.mapv(|v| if v > 1.0 { -1.0 } else { v })),
            "weights",
        ),
        (
            m(IterativeMethod::Pwls),
            Some(good.mapv(|v| if v > 1.0 { f32::INFINITY } else { v })),
            "weights",
        ),
        (
            m(IterativeMethod::Cgls).warm_start(WarmStart::Volume(Array3::zeros((2, 2, 2)))),
            None,
            "(2, 2, 2)",
        ),
    ];
    for (options, weights, field) in cases {
        let e = error_of(options.clone(), good, weights.as_ref());
        assert!(
            e.to_string().contains(field),
            "{:?}: {e} should name {field}",
            options.method
        );
    }
    let mut nan = good.clone();
    nan[[3, 20, 30]] = f32::NAN;
    let e = error_of(m(IterativeMethod::Sirt), &nan, None);
    let text = e.to_string();
    assert!(
        text.contains("projections") && text.contains("(3, 20, 30)") && text.contains("NaN"),
        "{text}"
    );
    let wrong = Array3::<f32>::zeros((12, 5, 5));
    let e = error_of(m(IterativeMethod::Cgls), &wrong, None);
    assert!(e.to_string().contains("(12, 5, 5)"), "{e}");
}
