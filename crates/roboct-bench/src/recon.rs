//! Reference problems for `roboct bench recon` and the comparison scripts (`bench/compare/`),
//! and the machine limits the measured rates are compared with. Moved here from `roboct-recon`,
//! which no longer ships them (nor depends on `roboct-phantom` for them).
//!
//! * **P2**: 2D parallel beam, 512 x 512 pixels of 1 mm, 720 views over 180 degrees, 768 bins of
//!   1 mm, FBP; the modified 2D Shepp-Logan phantom filling the image (half-size 256 mm). It is
//!   laid out the way scikit-image lays out a sinogram, so the very same data feed `iradon` in
//!   the comparison script: bin `k` is at `k - 384` mm, pixel `i` at `i - 256` mm (half a pixel
//!   off our centred default), and scikit-image's angle `theta` is our `-beta`.
//! * **P3**: circular cone beam, 256^3 voxels of 1 mm, 360 views over 360 degrees, a 512 x 384
//!   flat panel, source-isocentre 600 mm, source-detector 1000 mm, FDK; the modified 3D
//!   Shepp-Logan phantom of Kak & Slaney (half-size 128 mm), with the detector pixel chosen so that
//!   its bounding box projects inside the panel in every view.
//!
//! Phantom values are linear attenuation in 1/mm: Shepp-Logan's intensities times 0.02 (the
//! outer "skull" is then 0.02/mm, about water at 70 keV). Projections are the exact line
//! integrals (one ray per pixel centre).

use roboct_geometry::{
    Beam, CircularScan, Detector, DetectorShape, ScanGeometry, Source, Volume, VolumeGrid,
    even_angles,
};
use roboct_phantom::{Phantom, SheppLogan3d};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::BenchError;

/// Phantom intensities are multiplied by this to give mu in 1/mm.
pub const MU_SCALE: f64 = 0.02;

/// One reference problem.
pub struct Problem {
    /// Short name (`P2`, `P3`, or a scaled-down variant).
    pub name: String,
    /// What it is, in words.
    pub description: String,
    /// The scan.
    pub geometry: ScanGeometry,
    /// Its parameters (for writing it as a geometry file).
    pub scan: CircularScan,
    /// The reconstruction grid.
    pub grid: VolumeGrid,
    /// The object.
    pub phantom: Phantom,
}

impl Problem {
    /// P2 at full size (`scale` 1) or shrunk by an integer factor (pixels, views and bins
    /// divided by `scale`, pixel sizes multiplied), for quick runs.
    pub fn p2(scale: usize) -> Self {
        let s = scale.max(1);
        let n = 512 / s;
        let pixel = s as f64;
        let scan = CircularScan {
            beam: Beam::Parallel,
            sid_mm: 0.0,
            sdd_mm: 0.0,
            detector: Detector::centered(
                768 / s,
                1,
                [pixel, pixel],
                [-0.5 * pixel, 0.0],
                DetectorShape::Flat,
            ),
            angles_rad: even_angles(0.0, -std::f64::consts::PI, 720 / s),
            detector_rotation_rad: 0.0,
        };
        let geometry = scan.build().expect("valid reference geometry");
        let grid = VolumeGrid::centered([n, n, 1], [pixel; 3], [-0.5 * pixel, -0.5 * pixel, 0.0])
            .expect("valid grid");
        Self {
            name: if s == 1 {
                "P2".into()
            } else {
                format!("P2/{s}")
            },
            description: format!(
                "2D parallel, {n}x{n} pixels of {pixel} mm, {} views over 180 deg, {} bins, FBP",
                720 / s,
                768 / s
            ),
            geometry,
            scan,
            grid,
            phantom: Phantom::shepp_logan_2d(256.0, true, MU_SCALE),
        }
    }

    /// P3 at full size (`scale` 1) or shrunk by an integer factor.
    pub fn p3(scale: usize) -> Self {
        let s = scale.max(1);
        let n = 256 / s;
        let voxel = s as f64;
        let (cols, rows, views) = (512 / s, 384 / s, 360 / s);
        let phantom = Phantom::shepp_logan_3d(SheppLogan3d::KakSlaney, 128.0, true, MU_SCALE);
        let angles = even_angles(0.0, std::f64::consts::TAU, views);
        let pixel = fitting_pixel_mm(&phantom, 600.0, 1000.0, cols, rows, &angles);
        let scan = CircularScan {
            beam: Beam::Divergent,
            sid_mm: 600.0,
            sdd_mm: 1000.0,
            detector: Detector::centered(
                cols,
                rows,
                [pixel, pixel],
                [0.0, 0.0],
                DetectorShape::Flat,
            ),
            angles_rad: angles,
            detector_rotation_rad: 0.0,
        };
        let geometry = scan.build().expect("valid reference geometry");
        let grid = VolumeGrid::centered([n, n, n], [voxel; 3], [0.0; 3]).expect("valid grid");
        Self {
            name: if s == 1 {
                "P3".into()
            } else {
                format!("P3/{s}")
            },
            description: format!(
                "cone, {n}^3 voxels of {voxel} mm, {views} views over 360 deg, {cols}x{rows} detector of {pixel} mm, SID 600 mm, SDD 1000 mm, FDK"
            ),
            geometry,
            scan,
            grid,
            phantom,
        }
    }

    /// Exact projections of the phantom.
    pub fn projections(&self, progress: &dyn roboct_core::Progress) -> ndarray::Array3<f32> {
        self.phantom.project(&self.geometry, 1, progress)
    }

    /// The phantom on the grid, each voxel averaged over 3^3 points.
    pub fn truth(&self) -> Volume {
        self.phantom.rasterize(&self.grid, 3)
    }
}

/// The smallest pixel pitch, rounded up to 0.05 mm, at which the phantom's bounding box projects
/// inside a `cols` x `rows` flat panel in every view.
fn fitting_pixel_mm(
    phantom: &Phantom,
    sid: f64,
    sdd: f64,
    cols: usize,
    rows: usize,
    angles: &[f64],
) -> f64 {
    let probe = CircularScan {
        beam: Beam::Divergent,
        sid_mm: sid,
        sdd_mm: sdd,
        detector: Detector::centered(cols, rows, [1.0, 1.0], [0.0, 0.0], DetectorShape::Flat),
        angles_rad: angles.to_vec(),
        detector_rotation_rad: 0.0,
    }
    .build()
    .expect("valid probe geometry");
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for e in &phantom.ellipsoids {
        for a in 0..3 {
            let ext = (0..3)
                .map(|c| (e.rotation[a][c] * e.semi_axes_mm[c]).powi(2))
                .sum::<f64>()
                .sqrt();
            lo[a] = lo[a].min(e.center_mm[a] - ext);
            hi[a] = hi[a].max(e.center_mm[a] + ext);
        }
    }
    let (mut max_u, mut max_v) = (0.0f64, 0.0f64);
    for view in probe.views() {
        debug_assert!(matches!(view.source, Source::Point(_)));
        for corner in 0..8 {
            let p = std::array::from_fn(|a| if corner >> a & 1 == 1 { hi[a] } else { lo[a] });
            if let Some((u, v, _)) = view.project(probe.detector(), p) {
                max_u = max_u.max(u.abs());
                max_v = max_v.max(v.abs());
            }
        }
    }
    let pitch = (2.0 * max_u / cols as f64).max(2.0 * max_v / rows as f64);
    (pitch / 0.05).ceil() * 0.05
}

/// Root-mean-square difference, over all voxels and over the central half of the slices (where
/// cone-beam data are complete enough for FDK to be exact up to discretisation).
pub fn rmse(a: &Volume, b: &Volume) -> (f64, f64) {
    let (nz, _, _) = a.grid().shape_zyx();
    let all = rms_diff(a.data().iter(), b.data().iter());
    let (z0, z1) = (nz / 4, nz - nz / 4);
    let central = if z1 > z0 {
        let sa = a.data().slice(ndarray::s![z0..z1, .., ..]);
        let sb = b.data().slice(ndarray::s![z0..z1, .., ..]);
        rms_diff(sa.iter(), sb.iter())
    } else {
        all
    };
    (all, central)
}

fn rms_diff<'a>(a: impl Iterator<Item = &'a f32>, b: impl Iterator<Item = &'a f32>) -> f64 {
    let (mut se, mut n) = (0.0f64, 0usize);
    for (x, y) in a.zip(b) {
        se += ((x - y) as f64).powi(2);
        n += 1;
    }
    (se / n.max(1) as f64).sqrt()
}

/// What this machine can do at most, measured the same way on every run: the FP32
/// fused-multiply-add throughput of all cores (16-lane FMAs in 8 independent chains per core,
/// the pattern that saturates the FMA units) and the memory bandwidth of a parallel copy of 256
/// MB (bytes read plus bytes written per second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MachineLimits {
    /// FP32 operations per second (an FMA counts 2), all threads.
    pub flops_per_s: f64,
    /// Bytes moved per second by a large parallel copy.
    pub copy_bytes_per_s: f64,
    /// Threads used.
    pub threads: usize,
}

/// Measures [`MachineLimits`] (about half a second).
pub fn measure_machine_limits() -> MachineLimits {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads();
    let iterations = 20_000_000u64;
    let mut best_flops = 0.0f64;
    for _ in 0..2 {
        let t = std::time::Instant::now();
        let flops: f64 = (0..threads)
            .into_par_iter()
            .map(|_| fma_burst(iterations))
            .sum();
        best_flops = best_flops.max(flops / t.elapsed().as_secs_f64());
    }
    let n = 32 << 20; // 32 Mi floats = 128 MiB per buffer
    let src = vec![1.0f32; n];
    let mut dst = vec![0.0f32; n];
    let mut best_copy = 0.0f64;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        dst.par_chunks_mut(1 << 16)
            .zip(src.par_chunks(1 << 16))
            .for_each(|(d, s)| d.copy_from_slice(s));
        best_copy = best_copy.max(2.0 * 4.0 * n as f64 / t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&dst);
    MachineLimits {
        flops_per_s: best_flops,
        copy_bytes_per_s: best_copy,
        threads,
    }
}

/// Runs `iterations` rounds of 8 independent 16-lane FMA chains; returns the flops done.
fn fma_burst(iterations: u64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is available (checked above).
            return unsafe { fma_burst_avx512(iterations) };
        }
    }
    let mut acc = [[1.0f32; 16]; 8];
    let (m, c) = (
        std::hint::black_box(0.999_999_9f32),
        std::hint::black_box(1e-7f32),
    );
    for _ in 0..iterations {
        for chain in acc.iter_mut() {
            for x in chain.iter_mut() {
                *x = x.mul_add(m, c);
            }
        }
    }
    std::hint::black_box(acc);
    iterations as f64 * 8.0 * 16.0 * 2.0
}

/// [`fma_burst`] on AVX-512 registers: 8 independent chains of 16-lane FMAs.
///
/// # Safety
/// The CPU must support AVX-512F (`is_x86_feature_detected!("avx512f")`); the function is
/// compiled for it and would fault with an illegal instruction otherwise.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_burst_avx512(iterations: u64) -> f64 {
    use std::arch::x86_64::*;
    let m = _mm512_set1_ps(std::hint::black_box(0.999_999_9));
    let c = _mm512_set1_ps(std::hint::black_box(1e-7));
    let mut a = [_mm512_set1_ps(1.0); 8];
    for _ in 0..std::hint::black_box(iterations) {
        for x in a.iter_mut() {
            *x = _mm512_fmadd_ps(*x, m, c);
        }
    }
    std::hint::black_box(a);
    iterations as f64 * 8.0 * 16.0 * 2.0
}

/// Floating-point operations of one voxel update in FDK's back-projection: the bilinear
/// interpolation (three linear interpolations, a subtract and a multiply-add each) and the
/// weighted accumulation (a multiply-add): 8.
pub const FLOPS_PER_VOXEL_UPDATE: f64 = 8.0;

/// Which problems `roboct bench recon --problem NAME` runs: the analytic ones (`p2`, `p3`,
/// both for `all`) and whether the iterative rows follow (`iterative`, `all`).
pub fn problems(name: &str, scale: usize) -> Result<(Vec<Problem>, bool), BenchError> {
    Ok(match name {
        "p2" => (vec![Problem::p2(scale)], false),
        "p3" => (vec![Problem::p3(scale)], false),
        "iterative" => (vec![], true),
        "all" => (vec![Problem::p2(scale), Problem::p3(scale)], true),
        other => return Err(BenchError::UnknownProblem(other.to_string())),
    })
}

/// The iteration counts of the iterative rows: two (OS-SART, FISTA-TV), each at least 1.
pub fn check_iterations(iterations: &[usize]) -> Result<(), BenchError> {
    if iterations.len() != 2 || iterations.contains(&0) {
        return Err(BenchError::Iterations(iterations.to_vec()));
    }
    Ok(())
}

impl std::fmt::Display for MachineLimits {
    /// One line: threads, AVX-512, the FMA peak and the copy bandwidth.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "machine: {} threads, AVX-512 {}; measured FP32 FMA peak {:.0} GFLOP/s, parallel copy {:.1} GB/s",
            self.threads,
            if roboct_recon::avx512_available() {
                "yes"
            } else {
                "no"
            },
            self.flops_per_s / 1e9,
            self.copy_bytes_per_s / 1e9
        )
    }
}

/// A problem with its exact projections and the phantom on its grid, made once and shared by
/// the analytic and iterative rows.
pub struct ProblemData<'a> {
    /// The problem.
    pub problem: &'a Problem,
    /// Exact projections `[view][row][col]`.
    pub projections: ndarray::Array3<f32>,
    /// The phantom on the grid ([`Problem::truth`]).
    pub truth: Volume,
    /// Seconds the projections took.
    pub projection_s: f64,
}

impl<'a> ProblemData<'a> {
    /// Projects and rasterizes `problem`.
    pub fn new(problem: &'a Problem, progress: &dyn roboct_core::Progress) -> Self {
        let t = Instant::now();
        let projections = problem.projections(progress);
        let projection_s = t.elapsed().as_secs_f64();
        Self {
            problem,
            projections,
            truth: problem.truth(),
            projection_s,
        }
    }

    /// The file stem of the problem's files (`p3_8` for `P3/8`).
    pub fn stem(&self) -> String {
        self.problem.name.to_lowercase().replace('/', "_")
    }

    /// Writes the problem for other tools into `dir`: our TOML geometry and .npy projections,
    /// RTK's XML geometry and .mha projections (in RTK's frame for cone beams), the truth
    /// (.nii and .npy) and a JSON description.
    pub fn save(&self, dir: &Path) -> Result<(), BenchError> {
        let p = self.problem;
        std::fs::create_dir_all(dir)?;
        let stem = self.stem();
        for ext in ["npy", "mha"] {
            let stack = roboct_io::ProjectionStack::for_detector(
                self.projections.clone(),
                p.geometry.detector(),
            );
            roboct_io::write_projections(&dir.join(format!("{stem}_projections.{ext}")), &stack)?;
        }
        roboct_io::write_volume(&dir.join(format!("{stem}_truth.nii")), &self.truth)?;
        std::fs::write(
            dir.join(format!("{stem}.toml")),
            roboct_geometry::circular_scan_toml(&p.scan, Some(&p.grid)),
        )?;
        roboct_geometry::write_rtk_xml(&dir.join(format!("{stem}.xml")), &p.scan.to_rtk())?;
        roboct_io::write_volume(&dir.join(format!("{stem}_truth.npy")), &self.truth)?;
        let meta = serde_json::json!({
            "name": p.name, "description": p.description,
            "detector": p.geometry.detector(), "grid_size": p.grid.size(), "voxel_mm": p.grid.spacing_mm(),
            "angles_rad": p.geometry.orbit().map(|o| o.angles_rad.clone()),
            "views": p.geometry.n_views(),
        });
        std::fs::write(dir.join(format!("{stem}.json")), format!("{meta:#}"))?;
        Ok(())
    }
}

impl std::fmt::Display for ProblemData<'_> {
    /// How long the projections took.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "  exact projections in {:.1} s", self.projection_s)
    }
}

/// Settings of the FDK rows.
#[derive(Clone, Debug)]
pub struct FdkBenchOptions {
    /// Timed runs (at least one is made).
    pub repeat: usize,
    /// Slices per slab.
    pub slab: usize,
    /// Where to write the last run's reconstruction (`<stem>_recon.npy`), if anywhere.
    pub save: Option<PathBuf>,
}

/// One FDK row: times, rates against the machine's limits, error against the phantom, memory.
/// `Display` prints the row's lines; `Serialize` gives the `--json` row.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FdkFigures {
    /// The problem's name.
    pub problem: String,
    /// The problem in words.
    pub description: String,
    /// Fastest run, s.
    pub best_s: f64,
    /// Median run, s.
    pub median_s: f64,
    /// Runs timed.
    #[serde(skip)]
    pub runs: usize,
    /// Voxel updates per second of the whole reconstruction (best run).
    pub voxel_updates_per_s: f64,
    /// Back-projection alone, s.
    pub backproject_s: f64,
    /// Weighting and filtering, s.
    pub filter_s: f64,
    /// Voxel updates per second of the back-projection alone.
    pub backproject_voxel_updates_per_s: f64,
    /// The back-projection's code path.
    #[serde(skip)]
    pub path: String,
    /// RMSE against the phantom, 1/mm.
    pub rmse_per_mm: f64,
    /// RMSE over the central half of the slices, 1/mm.
    pub rmse_central_per_mm: f64,
    /// Peak resident memory during the last run, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Resident memory before the last run, bytes.
    pub baseline_rss_bytes: Option<u64>,
    /// The machine's FP32 FMA peak, flop/s.
    pub machine_flops_per_s: f64,
    /// The machine's copy bandwidth, bytes/s.
    pub machine_copy_bytes_per_s: f64,
    /// Slices per slab.
    pub slab_slices: usize,
    /// Sizes of the input projections, one slab and the output volume, MB.
    #[serde(skip)]
    pub sizes_mb: [f64; 3],
}

/// Times FDK on `data` (`options.repeat` runs) and scores the last run against the phantom.
pub fn time_fdk(
    data: &ProblemData<'_>,
    options: &FdkBenchOptions,
    limits: &MachineLimits,
) -> Result<FdkFigures, BenchError> {
    let p = data.problem;
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..options.repeat.max(1) {
        let baseline = roboct_core::memory::rss_bytes();
        crate::memory::reset_peak_rss();
        let t = Instant::now();
        let (volume, report) = roboct_recon::fdk_volume(
            &p.geometry,
            data.projections.clone(),
            &p.grid,
            &roboct_recon::AnalyticOptions {
                slab_thickness: options.slab,
                ..roboct_recon::AnalyticOptions::default()
            },
            &roboct_core::NoProgress,
            &roboct_core::CancelToken::new(),
        )?;
        times.push(t.elapsed().as_secs_f64());
        last = Some((
            volume,
            report,
            baseline,
            roboct_core::memory::peak_rss_bytes(),
        ));
    }
    let (volume, report, baseline, peak) = last.expect("at least one run");
    if let Some(dir) = &options.save {
        roboct_io::write_volume(&dir.join(format!("{}_recon.npy", data.stem())), &volume)?;
    }
    times.sort_by(f64::total_cmp);
    let (best, median) = (times[0], times[times.len() / 2]);
    let updates = report.voxel_updates as f64;
    let (all, central) = rmse(&volume, &data.truth);
    let (views, rows, cols) = p.geometry.projection_shape();
    let size = p.grid.size();
    Ok(FdkFigures {
        problem: p.name.clone(),
        description: p.description.clone(),
        best_s: best,
        median_s: median,
        runs: times.len(),
        voxel_updates_per_s: updates / best,
        backproject_s: report.backproject_s,
        filter_s: report.filter_s,
        backproject_voxel_updates_per_s: updates / report.backproject_s,
        path: format!("{:?}", report.path),
        rmse_per_mm: all,
        rmse_central_per_mm: central,
        peak_rss_bytes: peak,
        baseline_rss_bytes: baseline,
        machine_flops_per_s: limits.flops_per_s,
        machine_copy_bytes_per_s: limits.copy_bytes_per_s,
        slab_slices: options.slab,
        sizes_mb: [
            (views * rows * cols * 4) as f64 / 1e6,
            (size[0] * size[1] * options.slab.min(size[2]) * 4) as f64 / 1e6,
            (p.grid.len() * 4) as f64 / 1e6,
        ],
    })
}

impl std::fmt::Display for FdkFigures {
    /// The row's lines, each ending in a newline.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  time best {:.3} s, median {:.3} s ({} runs); {:.2e} voxel-updates/s (back-projection alone {:.2e}/s, path {})",
            self.best_s,
            self.median_s,
            self.runs,
            self.voxel_updates_per_s,
            self.backproject_voxel_updates_per_s,
            self.path
        )?;
        writeln!(
            f,
            "  filter {:.3} s, back-project {:.3} s",
            self.filter_s, self.backproject_s
        )?;
        let bp_flops = self.backproject_voxel_updates_per_s * FLOPS_PER_VOXEL_UPDATE;
        writeln!(
            f,
            "  back-projection runs at {:.1} GFLOP/s of useful arithmetic ({} flops per voxel update): {:.1}% of the measured FMA peak",
            bp_flops / 1e9,
            FLOPS_PER_VOXEL_UPDATE,
            100.0 * bp_flops / self.machine_flops_per_s
        )?;
        writeln!(
            f,
            "  RMSE vs phantom {:.3e} /mm ({:.2}% of the skull's 0.02), central half of slices {:.3e} /mm",
            self.rmse_per_mm,
            100.0 * self.rmse_per_mm / 0.02,
            self.rmse_central_per_mm
        )?;
        if let (Some(b), Some(pk)) = (self.baseline_rss_bytes, self.peak_rss_bytes) {
            let [proj_mb, slab_mb, volume_mb] = self.sizes_mb;
            writeln!(
                f,
                "  peak memory during reconstruction {:.0} MB above the {:.0} MB held before (input projections {proj_mb:.0} MB, one slab {slab_mb:.0} MB, output volume {volume_mb:.0} MB)",
                pk.saturating_sub(b) as f64 / 1e6,
                b as f64 / 1e6,
            )?;
        }
        Ok(())
    }
}

/// The Joseph projector pair's rates on a problem: one projection of the phantom and one
/// transpose of its projections, over all views.
#[derive(Clone, Debug)]
pub struct JosephFigures {
    /// The plan's code path.
    pub path: String,
    /// Ray steps (bilinear samples) per pass.
    pub ray_steps: f64,
    /// Best projection, s.
    pub forward_s: f64,
    /// Best transpose, s.
    pub adjoint_s: f64,
    /// Runs timed.
    pub runs: usize,
    /// Views of the problem.
    pub views: usize,
    /// Bytes of one volume.
    pub volume_bytes: f64,
    /// The machine's limits the rates are compared with.
    pub limits: MachineLimits,
}

/// Times the Joseph pair of `plan` on `data`, best of `repeat` runs.
pub fn time_joseph(
    data: &ProblemData<'_>,
    plan: &roboct_recon::ReconPlan,
    repeat: usize,
    limits: &MachineLimits,
) -> Result<JosephFigures, BenchError> {
    use roboct_recon::{JosephProjector, Projector};
    let a = JosephProjector::new(plan);
    let all: Vec<usize> = (0..plan.n_views()).collect();
    let mut scratch = a.scratch();
    let cancel = roboct_core::CancelToken::new();
    let mut y = ndarray::Array3::<f32>::zeros(plan.projection_shape());
    let mut x = ndarray::Array3::<f32>::zeros(plan.volume_shape());
    let (mut fwd, mut adj) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        a.forward_into(
            data.truth.data().view(),
            &all,
            y.view_mut(),
            &mut scratch,
            &cancel,
        )?;
        fwd = fwd.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        a.adjoint_into(
            data.projections.view(),
            &all,
            x.view_mut(),
            &mut scratch,
            &cancel,
        )?;
        adj = adj.min(t.elapsed().as_secs_f64());
    }
    Ok(JosephFigures {
        path: format!("{:?}", plan.path()),
        ray_steps: a.ray_steps(&all) as f64,
        forward_s: fwd,
        adjoint_s: adj,
        runs: repeat.max(1),
        views: plan.n_views(),
        volume_bytes: (data.problem.grid.len() * 4) as f64,
        limits: *limits,
    })
}

impl std::fmt::Display for JosephFigures {
    /// A heading and one line each for the projection and the transpose.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let steps = self.ray_steps;
        writeln!(
            f,
            "  Joseph pair ({} path), {:.3e} ray steps (bilinear samples) per pass, best of {}:",
            self.path, steps, self.runs
        )?;
        let flops = |secs: f64| steps / secs * FLOPS_PER_VOXEL_UPDATE;
        let moved = self.volume_bytes * self.views as f64;
        for (name, secs) in [
            ("projection", self.forward_s),
            ("transpose", self.adjoint_s),
        ] {
            writeln!(
                f,
                "    {name:10} {secs:.3} s: {:.2e} ray steps/s, {:.1} GFLOP/s = {:.1}% of the FMA peak; the volume once per view = {:.1} GB/s, {:.1}% of the copy bandwidth",
                steps / secs,
                flops(secs) / 1e9,
                100.0 * flops(secs) / self.limits.flops_per_s,
                moved / secs / 1e9,
                100.0 * moved / secs / self.limits.copy_bytes_per_s
            )?;
        }
        Ok(())
    }
}

/// One iterative row: an iterative method from zero on a problem's exact projections.
#[derive(Clone, Debug)]
pub struct IterativeFigures {
    /// `<problem> <method>`.
    pub name: String,
    /// The options it ran with.
    pub options: roboct_recon::IterativeOptions,
    /// The reconstruction's own report.
    pub report: roboct_recon::IterativeReport,
    /// Wall time of the whole reconstruction, s.
    pub total_s: f64,
    /// RMSE against the phantom, all slices and the central half, 1/mm.
    pub rmse_per_mm: (f64, f64),
    /// Resident memory before and at the peak, bytes.
    pub rss_bytes: (Option<u64>, Option<u64>),
    /// Bytes of the projections.
    pub projection_bytes: f64,
    /// The Joseph pair's figures on the same problem.
    pub joseph: JosephFigures,
}

/// Runs `method` for `iterations` (OS-SART with 10 subsets) on `data` and scores it; writes the
/// reconstruction to `save` (`<stem>_<method>_recon.npy`) when given.
pub fn time_iterative(
    data: &ProblemData<'_>,
    plan: &roboct_recon::ReconPlan,
    method: roboct_recon::IterativeMethod,
    iterations: usize,
    joseph: &JosephFigures,
    progress: &dyn roboct_core::Progress,
    save: Option<&Path>,
) -> Result<IterativeFigures, BenchError> {
    let options = roboct_recon::IterativeOptions::new(method)
        .iterations(iterations)
        .subsets(10);
    let baseline = roboct_core::memory::rss_bytes();
    crate::memory::reset_peak_rss();
    let t = Instant::now();
    let (volume, report) = roboct_recon::reconstruct_iterative(
        plan,
        data.projections.view(),
        None,
        &options,
        progress,
        &roboct_core::CancelToken::new(),
    )?;
    let total_s = t.elapsed().as_secs_f64();
    let peak = roboct_core::memory::peak_rss_bytes();
    if let Some(dir) = save {
        let file = format!("{}_{method}_recon.npy", data.stem());
        roboct_io::write_volume(&dir.join(file), &volume)?;
    }
    Ok(IterativeFigures {
        name: format!("{} {}", data.problem.name, method),
        options,
        rmse_per_mm: rmse(&volume, &data.truth),
        report,
        total_s,
        rss_bytes: (baseline, peak),
        projection_bytes: (data.projections.len() * 4) as f64,
        joseph: joseph.clone(),
    })
}

impl IterativeFigures {
    /// Mean seconds per iteration.
    pub fn seconds_per_iteration(&self) -> f64 {
        self.report.seconds_per_iteration()
    }

    /// The `--json` row.
    pub fn to_json(&self) -> serde_json::Value {
        let (r, j) = (&self.report, &self.joseph);
        let method = self.options.method;
        serde_json::json!({
            "problem": self.name, "method": method.name(), "iterations": r.iterations,
            "seconds_per_iteration": self.seconds_per_iteration(), "setup_s": r.setup_s, "total_s": self.total_s,
            "rmse_per_mm": self.rmse_per_mm.0, "rmse_central_per_mm": self.rmse_per_mm.1,
            "residuals": r.residuals, "data_norm": r.data_norm,
            "forward_s": j.forward_s, "adjoint_s": j.adjoint_s, "ray_steps": j.ray_steps,
            "forward_steps_per_s": j.ray_steps / j.forward_s, "adjoint_steps_per_s": j.ray_steps / j.adjoint_s,
            "machine_flops_per_s": j.limits.flops_per_s, "machine_copy_bytes_per_s": j.limits.copy_bytes_per_s,
            "work_bytes": r.work_bytes, "peak_rss_bytes": self.rss_bytes.1, "baseline_rss_bytes": self.rss_bytes.0,
            "subsets": if method == roboct_recon::IterativeMethod::OsSart { 10 } else { 0 },
            "tv_weight": self.options.tv_weight,
        })
    }
}

impl std::fmt::Display for IterativeFigures {
    /// The row's lines, each ending in a newline.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.report;
        writeln!(
            f,
            "  {}: {} iterations in {:.1} s: set-up {:.2} s, {:.2} s per iteration (projections {:.1} s, transposes {:.1} s in all)",
            self.name,
            r.iterations,
            self.total_s,
            r.setup_s,
            self.seconds_per_iteration(),
            r.forward_s,
            r.adjoint_s
        )?;
        writeln!(
            f,
            "    RMSE vs phantom {:.3e} /mm, central half of slices {:.3e} /mm; residual |b - Ax|/|b| {:.3e} -> {:.3e}",
            self.rmse_per_mm.0,
            self.rmse_per_mm.1,
            r.residuals[0] / r.data_norm,
            r.final_relative_residual().unwrap_or(f64::NAN)
        )?;
        if let (Some(b), Some(pk)) = self.rss_bytes {
            writeln!(
                f,
                "    peak memory {:.0} MB above the {:.0} MB held before (work arrays {:.0} MB: volumes of {:.0} MB, projections of {:.0} MB)",
                pk.saturating_sub(b) as f64 / 1e6,
                b as f64 / 1e6,
                r.work_bytes as f64 / 1e6,
                self.joseph.volume_bytes / 1e6,
                self.projection_bytes / 1e6
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_problems_have_the_sizes_the_issue_names() {
        let p2 = Problem::p2(1);
        assert_eq!(p2.geometry.projection_shape(), (720, 1, 768));
        assert_eq!(p2.grid.size(), [512, 512, 1]);
        let p3 = Problem::p3(1);
        assert_eq!(p3.geometry.projection_shape(), (360, 384, 512));
        assert_eq!(p3.grid.size(), [256, 256, 256]);
        let pixel = p3.geometry.detector().pixel_mm[0];
        assert!((1.0..2.0).contains(&pixel), "{pixel}");
    }

    /// The detector pixel is chosen so the phantom fits: its exact projections vanish on the
    /// border pixels of every view (checked on the problem shrunk 8 times).
    #[test]
    fn p3_phantom_fits_the_panel() {
        let p = Problem::p3(8);
        let proj = p.projections(&roboct_core::NoProgress);
        let (_, rows, cols) = proj.dim();
        let border = proj
            .indexed_iter()
            .filter(|((_, r, c), _)| *r == 0 || *c == 0 || *r == rows - 1 || *c == cols - 1);
        let worst = border.map(|(_, v)| v.abs()).fold(0.0f32, f32::max);
        assert_eq!(worst, 0.0);
        assert!(proj.iter().cloned().fold(0.0f32, f32::max) > 0.1);
    }
}
