//! Iterative reconstruction on the matched Joseph pair ([`crate::JosephProjector`]).
//!
//! * **SIRT** (Gilbert, "Iterative methods for the three-dimensional reconstruction of an
//!   object from projections", J. Theor. Biol. 1972; in the normalised form of ASTRA and
//!   TIGRE): `x += lambda C A^T R (b - A x)`, `R = 1 / (A 1)` the inverse ray lengths, `C = 1 /
//!   (A^T 1)` the inverse column sums.
//! * **OS-SART** (Andersen & Kak, "Simultaneous algebraic reconstruction technique", Ultrason.
//!   Imaging 1984, with the ordered subsets of Hudson & Larkin, IEEE TMI 1994): the SIRT step
//!   on one subset of views at a time; subsets interleave the views and are visited in
//!   bit-reversed order, so consecutive updates see distant angles.
//! * **CGLS** (Hestenes & Stiefel 1952, conjugate gradients on the normal equations): the
//!   fastest to converge on consistent data.
//! * **FISTA-TV** (Beck & Teboulle, SIAM J. Imaging Sci. 2009, and their TV denoiser, IEEE TIP
//!   2009): minimises `||A x - b||^2 / (2 L) + tv_weight TV(x)` (isotropic TV in voxel units,
//!   `L` a bound of `||A^T A||`, non-negativity inside the TV step): the method for sparse
//!   views.
//! * **PWLS** (Fessler, "Penalized weighted least-squares image reconstruction for positron
//!   emission tomography", IEEE TMI 1994): minimises `(A x - b)^T W (A x - b) / 2 + beta |D
//!   x|^2 / 2` by conjugate gradients, `W` the per-ray statistical weights (detected counts,
//!   the inverse variance of a line integral), `D` the voxel differences.
//!
//! Every method starts from zero, a given volume or FDK ([`WarmStart`]), stops after a number
//! of iterations or when the relative residual `|b - A x| / |b|` falls below a tolerance,
//! reports progress and stops on cancel, and returns a [`IterativeReport`] with the residual of
//! every iteration. The work arrays are a small fixed number of volumes and projection stacks
//! (see [`IterativeReport::work_bytes`]). Tests: `tests/iterative.rs`.

use std::time::Instant;

use ndarray::{Array3, ArrayView3, Axis, s};
use rayon::prelude::*;
use roboct_core::{CancelToken, NoProgress, Progress};
use roboct_geometry::Volume;

use crate::ReconError;
use crate::operator::{JosephProjector, JosephScratch, Projector};
use crate::plan::ReconPlan;

/// The iterative methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterativeMethod {
    /// Simultaneous iterative reconstruction (Gilbert 1972).
    Sirt,
    /// SART over ordered subsets of views (Andersen & Kak 1984; Hudson & Larkin 1994).
    OsSart,
    /// Conjugate gradients on the normal equations (Hestenes & Stiefel 1952).
    Cgls,
    /// FISTA with a total-variation penalty (Beck & Teboulle 2009).
    FistaTv,
    /// Penalised weighted least squares with per-ray statistical weights (Fessler 1994).
    Pwls,
}

impl IterativeMethod {
    /// Every method, in the order of the docs.
    pub const ALL: [IterativeMethod; 5] = [
        IterativeMethod::Sirt,
        IterativeMethod::OsSart,
        IterativeMethod::Cgls,
        IterativeMethod::FistaTv,
        IterativeMethod::Pwls,
    ];

    /// The method's name on the command line (`sirt`, `os-sart`, `cgls`, `fista-tv`, `pwls`).
    pub fn name(self) -> &'static str {
        match self {
            IterativeMethod::Sirt => "sirt",
            IterativeMethod::OsSart => "os-sart",
            IterativeMethod::Cgls => "cgls",
            IterativeMethod::FistaTv => "fista-tv",
            IterativeMethod::Pwls => "pwls",
        }
    }
}

impl std::fmt::Display for IterativeMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an iterative method starts.
#[derive(Clone, Debug, PartialEq)]
pub enum WarmStart {
    /// From zero.
    Zero,
    /// From FBP/FDK of the same projections (ram-lak; circular scans only).
    Fdk,
    /// From this volume (`[z][y][x]` on the plan's grid, mu in 1/mm).
    Volume(Array3<f32>),
}

/// Options of [`reconstruct_iterative`]; `IterativeOptions::new(method)` gives the defaults
/// and the builder methods change them.
#[derive(Clone, Debug, PartialEq)]
pub struct IterativeOptions {
    /// The method.
    pub method: IterativeMethod,
    /// Iterations (full passes over the views), at least 1.
    pub iterations: usize,
    /// Stop once `|b - A x| / |b|` (weighted for PWLS) is at most this; 0 runs every iteration.
    pub tolerance: f64,
    /// Subsets of views for OS-SART (1 makes it SIRT), at most the number of views.
    pub subsets: usize,
    /// Relaxation of SIRT and OS-SART, in (0, 2).
    pub relaxation: f32,
    /// FISTA-TV's TV weight, in the volume's unit (1/mm): the TV step's strength per iteration
    /// against a data term normalised by `L` (so that it does not depend on the number of
    /// views or the detector). 1e-5 suits mu images near 0.02/mm from exact or low-noise
    /// data; noisier data want more. 0 makes FISTA plain (projected) gradient descent.
    pub tv_weight: f32,
    /// Inner iterations of FISTA-TV's TV step.
    pub tv_iterations: usize,
    /// PWLS's roughness penalty, relative to the data term's largest curvature (0: none).
    pub pwls_beta: f32,
    /// Keep the volume non-negative (every update for SIRT, OS-SART and FISTA-TV; once at the
    /// end for CGLS and PWLS, whose conjugate directions a clip would break).
    pub nonnegative: bool,
    /// The starting volume.
    pub warm_start: WarmStart,
}

impl IterativeOptions {
    /// The defaults for `method`: 20 iterations, no tolerance, 10 subsets, relaxation 1, TV
    /// weight 1e-5/mm with 10 inner iterations, no PWLS penalty, non-negative, zero start.
    pub fn new(method: IterativeMethod) -> Self {
        Self {
            method,
            iterations: 20,
            tolerance: 0.0,
            subsets: 10,
            relaxation: 1.0,
            tv_weight: 1e-5,
            tv_iterations: 10,
            pwls_beta: 0.0,
            nonnegative: true,
            warm_start: WarmStart::Zero,
        }
    }

    /// Sets [`IterativeOptions::iterations`].
    pub fn iterations(mut self, n: usize) -> Self {
        self.iterations = n;
        self
    }

    /// Sets [`IterativeOptions::tolerance`].
    pub fn tolerance(mut self, t: f64) -> Self {
        self.tolerance = t;
        self
    }

    /// Sets [`IterativeOptions::subsets`].
    pub fn subsets(mut self, n: usize) -> Self {
        self.subsets = n;
        self
    }

    /// Sets [`IterativeOptions::relaxation`].
    pub fn relaxation(mut self, r: f32) -> Self {
        self.relaxation = r;
        self
    }

    /// Sets [`IterativeOptions::tv_weight`].
    pub fn tv_weight(mut self, w: f32) -> Self {
        self.tv_weight = w;
        self
    }

    /// Sets [`IterativeOptions::tv_iterations`].
    pub fn tv_iterations(mut self, n: usize) -> Self {
        self.tv_iterations = n;
        self
    }

    /// Sets [`IterativeOptions::pwls_beta`].
    pub fn pwls_beta(mut self, b: f32) -> Self {
        self.pwls_beta = b;
        self
    }

    /// Sets [`IterativeOptions::nonnegative`].
    pub fn nonnegative(mut self, on: bool) -> Self {
        self.nonnegative = on;
        self
    }

    /// Sets [`IterativeOptions::warm_start`].
    pub fn warm_start(mut self, w: WarmStart) -> Self {
        self.warm_start = w;
        self
    }

    fn check(&self, n_views: usize) -> Result<(), ReconError> {
        let bad =
            |name: &'static str, message: String| Err(ReconError::BadOption { name, message });
        if self.iterations == 0 {
            return bad("iterations", "0; expected at least 1".into());
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return bad(
                "tolerance",
                format!(
                    "{}; expected a finite relative residual >= 0 (0: run every iteration)",
                    self.tolerance
                ),
            );
        }
        if self.method == IterativeMethod::OsSart && !(1..=n_views).contains(&self.subsets) {
            return bad(
                "subsets",
                format!(
                    "{}; expected 1 to the number of views ({n_views})",
                    self.subsets
                ),
            );
        }
        if matches!(self.method, IterativeMethod::Sirt | IterativeMethod::OsSart)
            && !(self.relaxation > 0.0 && self.relaxation < 2.0)
        {
            return bad(
                "relaxation",
                format!("{}; expected a number in (0, 2)", self.relaxation),
            );
        }
        if self.method == IterativeMethod::FistaTv {
            if !(self.tv_weight >= 0.0 && self.tv_weight.is_finite()) {
                return bad(
                    "tv weight",
                    format!("{}; expected a finite number >= 0", self.tv_weight),
                );
            }
            if self.tv_iterations == 0 && self.tv_weight > 0.0 {
                return bad("tv iterations", "0; expected at least 1".into());
            }
        }
        if self.method == IterativeMethod::Pwls
            && !(self.pwls_beta >= 0.0 && self.pwls_beta.is_finite())
        {
            return bad(
                "pwls beta",
                format!("{}; expected a finite number >= 0", self.pwls_beta),
            );
        }
        Ok(())
    }
}

/// Why an iterative method stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// It ran the iterations asked for.
    Iterations,
    /// The relative residual reached the tolerance.
    Tolerance,
    /// The cancel token was set; the volume is the last iterate.
    Cancelled,
}

/// What an iterative reconstruction did.
#[derive(Clone, Debug, PartialEq)]
pub struct IterativeReport {
    /// The method.
    pub method: IterativeMethod,
    /// Iterations completed.
    pub iterations: usize,
    /// `|b - A x|` (PWLS: `sqrt((b - A x)^T W (b - A x))`) at the start of each iteration,
    /// and for OS-SART summed over the subsets as they were visited; FISTA-TV's is at its
    /// extrapolated point. Same unit as the projections.
    pub residuals: Vec<f64>,
    /// `|b|` (PWLS: weighted), to make the residuals relative.
    pub data_norm: f64,
    /// Why it stopped.
    pub stopped_because: StopReason,
    /// Seconds spent before the first iteration (normalisations, warm start, step size).
    pub setup_s: f64,
    /// Seconds per iteration.
    pub iteration_s: Vec<f64>,
    /// Seconds in forward projections, all told.
    pub forward_s: f64,
    /// Seconds in the transpose, all told.
    pub adjoint_s: f64,
    /// Bytes of the work arrays the method held (volumes, projection stacks, cached
    /// normalisations, the projector's scratch), not counting the input projections.
    pub work_bytes: u64,
    /// The process's peak resident memory at the end, if the system reports it.
    pub peak_rss_bytes: Option<u64>,
    /// FISTA-TV's step-size bound `L >= |A^T A|`.
    pub lipschitz: Option<f64>,
}

impl IterativeReport {
    /// The last residual over `|b|`.
    pub fn final_relative_residual(&self) -> Option<f64> {
        self.residuals
            .last()
            .map(|r| r / self.data_norm.max(f64::MIN_POSITIVE))
    }

    /// Mean wall time of one iteration, s.
    pub fn seconds_per_iteration(&self) -> f64 {
        self.iteration_s.iter().sum::<f64>() / self.iterations.max(1) as f64
    }

    /// The residual at the first and last iterations (when there are any) and the memory used,
    /// one line each, each ending in a newline.
    pub fn residual_and_memory(&self) -> String {
        let norm = self.data_norm.max(f64::MIN_POSITIVE);
        let mut text = String::new();
        if let (Some(first), Some(last)) = (self.residuals.first(), self.residuals.last()) {
            text += &format!(
                "residual |b - Ax|/|b|: {:.3e} at the first iteration, {:.3e} at the last\n",
                first / norm,
                last / norm
            );
        }
        let peak = self
            .peak_rss_bytes
            .map_or("unknown".into(), |b| format!("{:.0} MB", b as f64 / 1e6));
        text += &format!(
            "memory: work arrays {:.0} MB; peak resident {peak}\n",
            self.work_bytes as f64 / 1e6
        );
        text
    }
}

/// Reconstructs `projections` (`[view][row][col]`, line integrals) on `plan`'s grid by
/// `options.method`; `weights` (same shape, >= 0, e.g. detected counts) are PWLS's and only
/// PWLS takes them.
///
/// Input is checked before any work: shapes, finite projections and weights, the options
/// (errors name the field). A cancelled run is not an error: it returns the last iterate with
/// [`StopReason::Cancelled`].
pub fn reconstruct_iterative(
    plan: &ReconPlan,
    projections: ArrayView3<'_, f32>,
    weights: Option<ArrayView3<'_, f32>>,
    options: &IterativeOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<(Volume, IterativeReport), ReconError> {
    let start = Instant::now();
    let want = plan.projection_shape();
    if projections.dim() != want {
        return Err(ReconError::ProjectionShape {
            expected: want,
            found: projections.dim(),
        });
    }
    options.check(want.0)?;
    check_finite("projections", "(view, row, col)", projections)?;
    match (options.method, &weights) {
        (IterativeMethod::Pwls, None) => {
            return Err(ReconError::BadOption {
                name: "weights",
                message: "PWLS needs per-ray statistical weights (e.g. detected counts), one per projection value".into(),
            });
        }
        (IterativeMethod::Pwls, Some(w)) => {
            if w.dim() != want {
                return Err(ReconError::BadOption {
                    name: "weights",
                    message: format!(
                        "shape (views, rows, cols) = {:?}; the projections have {want:?}",
                        w.dim()
                    ),
                });
            }
            check_finite("weights", "(view, row, col)", w.view())?;
            if let Some((i, v)) = w.indexed_iter().find(|(_, v)| **v < 0.0) {
                return Err(ReconError::BadOption {
                    name: "weights",
                    message: format!("{v} at (view, row, col) = {i:?}; weights must be >= 0"),
                });
            }
            if !w.iter().any(|v| *v > 0.0) {
                return Err(ReconError::BadOption {
                    name: "weights",
                    message: "every weight is 0".into(),
                });
            }
        }
        (method, Some(_)) => {
            return Err(ReconError::BadOption {
                name: "weights",
                message: format!("only PWLS uses per-ray weights, not {method}"),
            });
        }
        (_, None) => {}
    }
    let shape = plan.volume_shape();
    let x0 = match &options.warm_start {
        WarmStart::Zero => Array3::<f32>::zeros(shape),
        WarmStart::Volume(v) => {
            if v.dim() != shape {
                return Err(ReconError::VolumeShape {
                    expected: shape,
                    found: v.dim(),
                });
            }
            check_finite("warm start", "(z, y, x)", v.view())?;
            v.as_standard_layout().into_owned()
        }
        WarmStart::Fdk => {
            if plan.geometry().orbit().is_none() {
                return Err(ReconError::BadOption {
                    name: "warm start",
                    message: "FDK needs a circular scan; start from zero or a volume".into(),
                });
            }
            let (v, _) = crate::fdk_volume(
                plan.geometry(),
                projections.to_owned(),
                plan.grid(),
                &crate::AnalyticOptions::default(),
                &NoProgress,
                cancel,
            )?;
            v.into_parts().1
        }
    };
    let mut x = x0;
    if options.nonnegative {
        clip(&mut x);
    }
    let projector = JosephProjector::new(plan);
    let mut ops = Ops {
        projector: &projector,
        scratch: projector.scratch(),
        cancel,
        forward_s: 0.0,
        adjoint_s: 0.0,
    };
    let mut run = Run {
        report: IterativeReport {
            method: options.method,
            iterations: 0,
            residuals: Vec::new(),
            data_norm: 0.0,
            stopped_because: StopReason::Iterations,
            setup_s: 0.0,
            iteration_s: Vec::new(),
            forward_s: 0.0,
            adjoint_s: 0.0,
            work_bytes: 0,
            peak_rss_bytes: None,
            lipschitz: None,
        },
        start,
        last: Instant::now(),
        progress,
        cancel,
        tolerance: options.tolerance,
    };
    let outcome = match options.method {
        IterativeMethod::Sirt => sirt(&mut ops, projections, &mut x, options, &mut run, None),
        IterativeMethod::OsSart => {
            let subsets = subsets(want.0, options.subsets);
            sirt(
                &mut ops,
                projections,
                &mut x,
                options,
                &mut run,
                Some(subsets),
            )
        }
        IterativeMethod::Cgls => cgls(&mut ops, projections, &mut x, options.iterations, &mut run),
        IterativeMethod::FistaTv => fista_tv(&mut ops, projections, &mut x, options, &mut run),
        IterativeMethod::Pwls => pwls(
            &mut ops,
            projections,
            weights.expect("checked above"),
            &mut x,
            options,
            &mut run,
        ),
    };
    progress.finish();
    match outcome {
        Ok(()) => {}
        Err(ReconError::Cancelled) => run.report.stopped_because = StopReason::Cancelled,
        Err(e) => return Err(e),
    }
    if options.nonnegative {
        clip(&mut x);
    }
    let mut report = run.report;
    report.forward_s = ops.forward_s;
    report.adjoint_s = ops.adjoint_s;
    report.work_bytes += ops.scratch.bytes() as u64 + 4 * x.len() as u64;
    report.peak_rss_bytes = roboct_core::memory::peak_rss_bytes();
    if report.setup_s == 0.0 {
        report.setup_s = start.elapsed().as_secs_f64();
    }
    Ok((
        Volume::from_array(plan.grid().clone(), x).expect("grid shape"),
        report,
    ))
}

/// The first non-finite value of `a`, as an error naming `field`.
fn check_finite(
    field: &'static str,
    axes: &'static str,
    a: ArrayView3<'_, f32>,
) -> Result<(), ReconError> {
    let bad = match a.as_slice() {
        Some(s) => s.par_iter().position_first(|v| !v.is_finite()).map(|i| {
            let (_, n1, n2) = a.dim();
            (i / (n1 * n2), i / n2 % n1, i % n2)
        }),
        None => a
            .indexed_iter()
            .find(|(_, v)| !v.is_finite())
            .map(|(i, _)| i),
    };
    match bad {
        Some(index) => Err(ReconError::NonFinite {
            field,
            axes,
            index,
            value: a[index],
        }),
        None => Ok(()),
    }
}

/// The projector, its scratch and the time spent in it.
struct Ops<'a> {
    projector: &'a JosephProjector,
    scratch: JosephScratch,
    cancel: &'a CancelToken,
    forward_s: f64,
    adjoint_s: f64,
}

impl Ops<'_> {
    fn forward(
        &mut self,
        x: &Array3<f32>,
        views: &[usize],
        out: ndarray::ArrayViewMut3<'_, f32>,
    ) -> Result<(), ReconError> {
        let t = Instant::now();
        self.projector
            .forward_into(x.view(), views, out, &mut self.scratch, self.cancel)?;
        self.forward_s += t.elapsed().as_secs_f64();
        Ok(())
    }

    fn adjoint(
        &mut self,
        y: ArrayView3<'_, f32>,
        views: &[usize],
        out: &mut Array3<f32>,
    ) -> Result<(), ReconError> {
        let t = Instant::now();
        self.projector
            .adjoint_into(y, views, out.view_mut(), &mut self.scratch, self.cancel)?;
        self.adjoint_s += t.elapsed().as_secs_f64();
        Ok(())
    }
}

/// Book-keeping shared by the methods: residuals, times, progress, cancel, tolerance.
struct Run<'a> {
    report: IterativeReport,
    start: Instant,
    last: Instant,
    progress: &'a dyn Progress,
    cancel: &'a CancelToken,
    tolerance: f64,
}

impl Run<'_> {
    /// Set-up is over: start the clock of the iterations.
    fn begin(&mut self, iterations: usize, work_bytes: u64) {
        self.report.setup_s = self.start.elapsed().as_secs_f64();
        self.report.work_bytes = work_bytes;
        self.last = Instant::now();
        self.progress
            .start(self.report.method.name(), iterations as u64);
    }

    /// Records the residual at the start of an iteration; `false` when the tolerance is met
    /// (the iteration should not run).
    fn residual(&mut self, r: f64) -> bool {
        self.report.residuals.push(r);
        if self.tolerance > 0.0 && r <= self.tolerance * self.report.data_norm {
            self.report.stopped_because = StopReason::Tolerance;
            return false;
        }
        true
    }

    /// An iteration is done; `Err(Cancelled)` when the caller asked to stop.
    fn done(&mut self) -> Result<(), ReconError> {
        self.report.iterations += 1;
        self.report
            .iteration_s
            .push(self.last.elapsed().as_secs_f64());
        self.last = Instant::now();
        self.progress.advance(1);
        self.cancel.check().map_err(|_| ReconError::Cancelled)
    }
}

fn bytes(n: usize) -> u64 {
    4 * n as u64
}

fn slice(a: &Array3<f32>) -> &[f32] {
    a.as_slice().expect("work arrays are in standard layout")
}

fn slice_mut(a: &mut Array3<f32>) -> &mut [f32] {
    a.as_slice_mut()
        .expect("work arrays are in standard layout")
}

const PAR_CHUNK: usize = 1 << 15;

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.par_chunks(PAR_CHUNK)
        .zip(b.par_chunks(PAR_CHUNK))
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (*x as f64) * (*y as f64))
                .sum::<f64>()
        })
        .sum()
}

fn clip(x: &mut Array3<f32>) {
    slice_mut(x).par_iter_mut().for_each(|v| *v = v.max(0.0));
}

/// `1 / v` where `v` is clearly positive, else 0 (rays that miss the volume, voxels no ray
/// sees).
fn invert(a: &mut [f32]) {
    let max = a.par_iter().cloned().reduce(|| 0.0, f32::max);
    let eps = max * 1e-6;
    a.par_iter_mut()
        .for_each(|v| *v = if *v > eps { 1.0 / *v } else { 0.0 });
}

/// Views `0..n` in `count` interleaved subsets (subset `s` holds views `s, s + count, ...`),
/// listed in bit-reversed order of `s`, so that consecutive subsets are far apart in angle.
fn subsets(n: usize, count: usize) -> Vec<Vec<usize>> {
    let bits = usize::BITS - (count.max(1) - 1).leading_zeros();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&s| {
        if bits == 0 {
            0
        } else {
            s.reverse_bits() >> (usize::BITS - bits)
        }
    });
    order
        .into_iter()
        .map(|s| (s..n).step_by(count).collect())
        .collect()
}

/// SIRT (`subsets == None`) and OS-SART.
fn sirt(
    ops: &mut Ops<'_>,
    b: ArrayView3<'_, f32>,
    x: &mut Array3<f32>,
    options: &IterativeOptions,
    run: &mut Run<'_>,
    subsets: Option<Vec<Vec<usize>>>,
) -> Result<(), ReconError> {
    let (nv, rows, cols) = b.dim();
    let shape = x.dim();
    let all: Vec<usize> = (0..nv).collect();
    let subsets = subsets.unwrap_or_else(|| vec![all.clone()]);
    let largest = subsets.iter().map(Vec::len).max().unwrap_or(0);
    run.report.data_norm = dot(
        b.as_standard_layout().as_slice().expect("standard"),
        b.as_standard_layout().as_slice().expect("standard"),
    )
    .sqrt();
    // R: inverse row sums (A 1), one per ray, whatever the subset.
    let mut g = Array3::<f32>::from_elem(shape, 1.0);
    let mut row = Array3::<f32>::zeros((nv, rows, cols));
    ops.forward(&g, &all, row.view_mut())?;
    invert(slice_mut(&mut row));
    // C_s: inverse column sums of each subset, cached for the whole run.
    let mut buf = Array3::<f32>::from_elem((largest, rows, cols), 1.0);
    let mut column = Vec::with_capacity(subsets.len());
    for set in &subsets {
        let mut c = Array3::<f32>::zeros(shape);
        ops.adjoint(buf.slice(s![..set.len(), .., ..]), set, &mut c)?;
        invert(slice_mut(&mut c));
        column.push(c);
    }
    let lambda = options.relaxation;
    run.begin(
        options.iterations,
        bytes(g.len() * (1 + column.len()) + row.len() + buf.len()),
    );
    for _ in 0..options.iterations {
        let mut residual2 = 0.0f64;
        for (set, c) in subsets.iter().zip(&column) {
            let mut r = buf.slice_mut(s![..set.len(), .., ..]);
            ops.forward(x, set, r.view_mut())?;
            // r = R (b - A x), subset rows only.
            let partial: f64 = r
                .axis_iter_mut(Axis(0))
                .into_par_iter()
                .zip(set.par_iter())
                .map(|(mut img, &v)| {
                    let bv = b.index_axis(Axis(0), v);
                    let rv = row.index_axis(Axis(0), v);
                    let mut acc = 0.0f64;
                    ndarray::Zip::from(&mut img)
                        .and(&bv)
                        .and(&rv)
                        .for_each(|o, &bb, &rr| {
                            let d = bb - *o;
                            acc += (d as f64) * (d as f64);
                            *o = d * rr;
                        });
                    acc
                })
                .sum();
            residual2 += partial;
            ops.adjoint(r.view(), set, &mut g)?;
            let nonneg = options.nonnegative;
            slice_mut(x)
                .par_iter_mut()
                .zip(slice(&g).par_iter())
                .zip(slice(c).par_iter())
                .for_each(|((xv, gv), cv)| {
                    let v = *xv + lambda * cv * gv;
                    *xv = if nonneg { v.max(0.0) } else { v };
                });
        }
        // The residual belongs to the iterates this pass started from; the pass is kept (it
        // only lowers it) whether or not the tolerance is met.
        let go_on = run.residual(residual2.sqrt());
        run.done()?;
        if !go_on {
            return Ok(());
        }
    }
    Ok(())
}

/// CGLS (Hestenes & Stiefel 1952; the form of Bjorck's "Numerical methods for least squares
/// problems", 1996).
fn cgls(
    ops: &mut Ops<'_>,
    b: ArrayView3<'_, f32>,
    x: &mut Array3<f32>,
    iterations: usize,
    run: &mut Run<'_>,
) -> Result<(), ReconError> {
    let (nv, _, _) = b.dim();
    let all: Vec<usize> = (0..nv).collect();
    let b = b.as_standard_layout();
    run.report.data_norm = dot(slice_view(&b), slice_view(&b)).sqrt();
    let mut r = Array3::<f32>::zeros(b.dim());
    ops.forward(x, &all, r.view_mut())?;
    slice_mut(&mut r)
        .par_iter_mut()
        .zip(slice_view(&b).par_iter())
        .for_each(|(rv, bv)| *rv = bv - *rv);
    let mut s_ = Array3::<f32>::zeros(x.dim());
    ops.adjoint(r.view(), &all, &mut s_)?;
    let mut p = s_.clone();
    let mut q = Array3::<f32>::zeros(b.dim());
    let mut gamma = dot(slice(&s_), slice(&s_));
    run.begin(iterations, bytes(3 * x.len() + 2 * r.len()));
    for _ in 0..iterations {
        if !run.residual(dot(slice(&r), slice(&r)).sqrt()) || gamma == 0.0 {
            return Ok(());
        }
        ops.forward(&p, &all, q.view_mut())?;
        let qq = dot(slice(&q), slice(&q));
        if qq == 0.0 {
            return Ok(());
        }
        let alpha = (gamma / qq) as f32;
        axpy(slice_mut(x), alpha, slice(&p));
        axpy(slice_mut(&mut r), -alpha, slice(&q));
        ops.adjoint(r.view(), &all, &mut s_)?;
        let next = dot(slice(&s_), slice(&s_));
        let beta = (next / gamma) as f32;
        gamma = next;
        slice_mut(&mut p)
            .par_iter_mut()
            .zip(slice(&s_).par_iter())
            .for_each(|(pv, sv)| *pv = sv + beta * *pv);
        run.done()?;
    }
    Ok(())
}

fn slice_view<'a>(a: &'a ndarray::CowArray<'_, f32, ndarray::Ix3>) -> &'a [f32] {
    a.as_slice().expect("standard layout")
}

/// `y += a x`.
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    y.par_iter_mut()
        .zip(x.par_iter())
        .for_each(|(yv, xv)| *yv += a * xv);
}

/// FISTA with the TV proximal step (Beck & Teboulle 2009).
fn fista_tv(
    ops: &mut Ops<'_>,
    b: ArrayView3<'_, f32>,
    x: &mut Array3<f32>,
    options: &IterativeOptions,
    run: &mut Run<'_>,
) -> Result<(), ReconError> {
    let (nv, _, _) = b.dim();
    let all: Vec<usize> = (0..nv).collect();
    let b = b.as_standard_layout();
    run.report.data_norm = dot(slice_view(&b), slice_view(&b)).sqrt();
    let shape = x.dim();
    // L = max_j (A^T A 1)_j bounds the spectral radius of A^T A (Collatz-Wielandt: A^T A is
    // non-negative), with one projection and one transpose.
    let mut g = Array3::<f32>::from_elem(shape, 1.0);
    let mut r = Array3::<f32>::zeros(b.dim());
    ops.forward(&g, &all, r.view_mut())?;
    ops.adjoint(r.view(), &all, &mut g)?;
    let lipschitz = slice(&g).par_iter().cloned().reduce(|| 0.0, f32::max) as f64;
    if !(lipschitz > 0.0) {
        return Err(ReconError::BadOption {
            name: "geometry",
            message: "no ray crosses the volume".into(),
        });
    }
    run.report.lipschitz = Some(lipschitz);
    let inv_l = (1.0 / lipschitz) as f32;
    let mut y = x.clone();
    let mut u = Array3::<f32>::zeros(shape);
    let mut tv = TvDual::new(shape);
    let mut t = 1.0f64;
    run.begin(
        options.iterations,
        bytes(4 * x.len() + 3 * x.len() + r.len()),
    );
    for _ in 0..options.iterations {
        ops.forward(&y, &all, r.view_mut())?;
        let res2: f64 = slice_mut(&mut r)
            .par_chunks_mut(PAR_CHUNK)
            .zip(slice_view(&b).par_chunks(PAR_CHUNK))
            .map(|(rc, bc)| {
                let mut acc = 0.0f64;
                for (rv, bv) in rc.iter_mut().zip(bc) {
                    *rv -= bv;
                    acc += (*rv as f64) * (*rv as f64);
                }
                acc
            })
            .sum();
        if !run.residual(res2.sqrt()) {
            return Ok(());
        }
        ops.adjoint(r.view(), &all, &mut g)?;
        // g = y - A^T (A y - b) / L
        slice_mut(&mut g)
            .par_iter_mut()
            .zip(slice(&y).par_iter())
            .for_each(|(gv, yv)| *gv = yv - inv_l * *gv);
        if options.tv_weight > 0.0 {
            tv.prox(
                &g,
                options.tv_weight,
                options.tv_iterations,
                options.nonnegative,
                &mut u,
            );
        } else {
            u.assign(&g);
            if options.nonnegative {
                clip(&mut u);
            }
        }
        let t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t).sqrt());
        let momentum = ((t - 1.0) / t_next) as f32;
        slice_mut(&mut y)
            .par_iter_mut()
            .zip(slice(&u).par_iter())
            .zip(slice(x).par_iter())
            .for_each(|((yv, uv), xv)| *yv = uv + momentum * (uv - xv));
        std::mem::swap(x, &mut u);
        t = t_next;
        run.done()?;
    }
    Ok(())
}

/// PWLS by conjugate gradients on `(A^T W A + beta D^T D) x = A^T W b` (Fessler 1994), `W`
/// the weights over their mean.
fn pwls(
    ops: &mut Ops<'_>,
    b: ArrayView3<'_, f32>,
    w: ArrayView3<'_, f32>,
    x: &mut Array3<f32>,
    options: &IterativeOptions,
    run: &mut Run<'_>,
) -> Result<(), ReconError> {
    let (nv, _, _) = b.dim();
    let all: Vec<usize> = (0..nv).collect();
    let b = b.as_standard_layout();
    let w = w.as_standard_layout();
    let ws = slice_view(&w);
    let mean = ws.par_iter().map(|v| *v as f64).sum::<f64>() / ws.len() as f64;
    let scale = (1.0 / mean) as f32;
    let weighted_dot = |a: &[f32], c: &[f32]| -> f64 {
        a.par_chunks(PAR_CHUNK)
            .zip(c.par_chunks(PAR_CHUNK))
            .zip(ws.par_chunks(PAR_CHUNK))
            .map(|((a, c), w)| {
                a.iter()
                    .zip(c)
                    .zip(w)
                    .map(|((x, y), w)| (*x as f64) * (*y as f64) * (*w * scale) as f64)
                    .sum::<f64>()
            })
            .sum()
    };
    run.report.data_norm = weighted_dot(slice_view(&b), slice_view(&b)).sqrt();
    let shape = x.dim();
    let mut q = Array3::<f32>::zeros(b.dim());
    let mut t = Array3::<f32>::zeros(shape);
    // beta relative to the data term's largest curvature, max_j (A^T W A 1)_j, against the
    // 12 of the 3D Laplacian's.
    let beta = if options.pwls_beta > 0.0 {
        let ones = Array3::<f32>::from_elem(shape, 1.0);
        ops.forward(&ones, &all, q.view_mut())?;
        weigh(slice_mut(&mut q), ws, scale);
        ops.adjoint(q.view(), &all, &mut t)?;
        let c = slice(&t).par_iter().cloned().reduce(|| 0.0, f32::max);
        options.pwls_beta * c / 12.0
    } else {
        0.0
    };
    // rd = b - A x; g = A^T W rd - beta L x.
    let mut rd = Array3::<f32>::zeros(b.dim());
    ops.forward(x, &all, rd.view_mut())?;
    slice_mut(&mut rd)
        .par_iter_mut()
        .zip(slice_view(&b).par_iter())
        .for_each(|(r, bv)| *r = bv - *r);
    q.assign(&rd);
    weigh(slice_mut(&mut q), ws, scale);
    let mut g = Array3::<f32>::zeros(shape);
    ops.adjoint(q.view(), &all, &mut g)?;
    if beta > 0.0 {
        add_laplacian(x, &mut g, -beta);
    }
    let mut p = g.clone();
    let mut gamma = dot(slice(&g), slice(&g));
    run.begin(options.iterations, bytes(4 * g.len() + 2 * rd.len()));
    for _ in 0..options.iterations {
        if !run.residual(weighted_dot(slice(&rd), slice(&rd)).max(0.0).sqrt()) || gamma == 0.0 {
            return Ok(());
        }
        ops.forward(&p, &all, q.view_mut())?;
        let mut denom = weighted_dot(slice(&q), slice(&q));
        // t = A^T W q + beta L p
        let mut wq = q.clone();
        weigh(slice_mut(&mut wq), ws, scale);
        ops.adjoint(wq.view(), &all, &mut t)?;
        drop(wq);
        if beta > 0.0 {
            denom += add_laplacian(&p, &mut t, beta);
        }
        if !(denom > 0.0) {
            return Ok(());
        }
        let alpha = (gamma / denom) as f32;
        axpy(slice_mut(x), alpha, slice(&p));
        axpy(slice_mut(&mut rd), -alpha, slice(&q));
        axpy(slice_mut(&mut g), -alpha, slice(&t));
        let next = dot(slice(&g), slice(&g));
        let ratio = (next / gamma) as f32;
        gamma = next;
        slice_mut(&mut p)
            .par_iter_mut()
            .zip(slice(&g).par_iter())
            .for_each(|(pv, gv)| *pv = gv + ratio * *pv);
        run.done()?;
    }
    Ok(())
}

/// `a *= w * scale`.
fn weigh(a: &mut [f32], w: &[f32], scale: f32) {
    a.par_iter_mut()
        .zip(w.par_iter())
        .for_each(|(v, wv)| *v *= wv * scale);
}

/// `out += c L p`, `L = D^T D` the 6-neighbour Laplacian with mirrored borders (a voxel only
/// differs from the neighbours it has); returns `<p, c L p>`.
fn add_laplacian(p: &Array3<f32>, out: &mut Array3<f32>, c: f32) -> f64 {
    let (nz, ny, nx) = p.dim();
    let ps = slice(p);
    let plane = nx * ny;
    slice_mut(out)
        .par_chunks_mut(plane)
        .enumerate()
        .map(|(z, o)| {
            let mut acc = 0.0f64;
            for y in 0..ny {
                for xx in 0..nx {
                    let i = z * plane + y * nx + xx;
                    let v = ps[i];
                    let mut l = 0.0f32;
                    if xx > 0 {
                        l += v - ps[i - 1];
                    }
                    if xx + 1 < nx {
                        l += v - ps[i + 1];
                    }
                    if y > 0 {
                        l += v - ps[i - nx];
                    }
                    if y + 1 < ny {
                        l += v - ps[i + nx];
                    }
                    if z > 0 {
                        l += v - ps[i - plane];
                    }
                    if z + 1 < nz {
                        l += v - ps[i + plane];
                    }
                    o[y * nx + xx] += c * l;
                    acc += (v as f64) * (c * l) as f64;
                }
            }
            acc
        })
        .sum()
}

/// The dual field of the TV step, kept from one FISTA iteration to the next (a warm start
/// that lets a few inner iterations suffice).
struct TvDual {
    px: Array3<f32>,
    py: Array3<f32>,
    pz: Array3<f32>,
}

impl TvDual {
    fn new(shape: (usize, usize, usize)) -> Self {
        Self {
            px: Array3::zeros(shape),
            py: Array3::zeros(shape),
            pz: Array3::zeros(shape),
        }
    }

    /// `u = argmin |u - f|^2 / 2 + theta TV(u)` (over `u >= 0` when `nonneg`), by Beck &
    /// Teboulle's projected gradient on the dual (IEEE TIP 2009, their GP algorithm, step
    /// `1 / (12 theta)` in 3D): `u = P_C(f + theta div p)`, `p <- P_{|p| <= 1}(p + grad u /
    /// (12 theta))`.
    fn prox(
        &mut self,
        f: &Array3<f32>,
        theta: f32,
        iterations: usize,
        nonneg: bool,
        u: &mut Array3<f32>,
    ) {
        let (nz, ny, nx) = f.dim();
        let plane = nx * ny;
        let step = 1.0 / (12.0 * theta);
        for it in 0..=iterations {
            // u = P_C(f + theta div p); div p = p[i] - p[i - 1] per axis, p[-1] = 0 and p is 0
            // at each axis' last index (the forward difference is 0 there).
            {
                let (px, py, pz) = (slice(&self.px), slice(&self.py), slice(&self.pz));
                let fs = slice(f);
                slice_mut(u)
                    .par_chunks_mut(plane)
                    .enumerate()
                    .for_each(|(z, us)| {
                        for y in 0..ny {
                            for x in 0..nx {
                                let i = z * plane + y * nx + x;
                                let mut div = px[i] + py[i] + pz[i];
                                if x > 0 {
                                    div -= px[i - 1];
                                }
                                if y > 0 {
                                    div -= py[i - nx];
                                }
                                if z > 0 {
                                    div -= pz[i - plane];
                                }
                                let v = fs[i] + theta * div;
                                us[y * nx + x] = if nonneg { v.max(0.0) } else { v };
                            }
                        }
                    });
            }
            if it == iterations {
                break;
            }
            let us = slice(u);
            let (px, py, pz) = (&mut self.px, &mut self.py, &mut self.pz);
            slice_mut(px)
                .par_chunks_mut(plane)
                .zip(slice_mut(py).par_chunks_mut(plane))
                .zip(slice_mut(pz).par_chunks_mut(plane))
                .enumerate()
                .for_each(|(z, ((qx, qy), qz))| {
                    for y in 0..ny {
                        for x in 0..nx {
                            let i = z * plane + y * nx + x;
                            let j = y * nx + x;
                            let v = us[i];
                            let gx = if x + 1 < nx { us[i + 1] - v } else { 0.0 };
                            let gy = if y + 1 < ny { us[i + nx] - v } else { 0.0 };
                            let gz = if z + 1 < nz { us[i + plane] - v } else { 0.0 };
                            let (a, b, c) =
                                (qx[j] + step * gx, qy[j] + step * gy, qz[j] + step * gz);
                            let n = (a * a + b * b + c * c).sqrt().max(1.0);
                            qx[j] = a / n;
                            qy[j] = b / n;
                            qz[j] = c / n;
                        }
                    }
                });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_cover_every_view_once_in_spread_order() {
        let s = subsets(20, 4);
        assert_eq!(s[0], vec![0, 4, 8, 12, 16]);
        assert_eq!(s[1], vec![2, 6, 10, 14, 18]);
        let mut all: Vec<usize> = s.concat();
        all.sort();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
        assert_eq!(subsets(7, 1), vec![(0..7).collect::<Vec<_>>()]);
    }

    /// The TV step flattens noise below the weight and keeps a large step edge.
    #[test]
    fn tv_prox_denoises_and_keeps_edges() {
        let shape = (8, 16, 16);
        let mut seed = 3u64;
        let mut noise = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.002
        };
        let f = Array3::from_shape_fn(shape, |(_, _, x)| if x < 8 { 0.0 } else { 0.02 })
            + Array3::from_shape_simple_fn(shape, &mut noise);
        let mut u = Array3::zeros(shape);
        TvDual::new(shape).prox(&f, 0.002, 50, true, &mut u);
        let std = |a: ndarray::ArrayView3<'_, f32>| {
            let m = a.mean().unwrap();
            (a.iter().map(|v| (v - m).powi(2)).sum::<f32>() / a.len() as f32).sqrt()
        };
        // Away from the edge the noise is mostly gone; the 0.02 step stays.
        let (before, after) = (
            std(f.slice(s![.., .., 11..])),
            std(u.slice(s![.., .., 11..])),
        );
        assert!(after < 0.3 * before, "noise {before} -> {after}");
        let (left, right) = (u.slice(s![.., .., ..5]), u.slice(s![.., .., 11..]));
        assert!((right.mean().unwrap() - left.mean().unwrap()) > 0.015);
        assert!(u.iter().all(|v| *v >= 0.0));
    }

    /// `<p, L p>` is `|D p|^2`, and L is symmetric.
    #[test]
    fn laplacian_is_the_gram_of_the_differences() {
        let shape = (3, 4, 5);
        let p = Array3::from_shape_fn(shape, |(z, y, x)| ((z * 7 + y * 3 + x) % 5) as f32);
        let q = Array3::from_shape_fn(shape, |(z, y, x)| ((z + y * 2 + x * 3) % 4) as f32);
        let mut lp = Array3::zeros(shape);
        let plp = add_laplacian(&p, &mut lp, 1.0);
        let mut d2 = 0.0f64;
        for ((z, y, x), v) in p.indexed_iter() {
            if x + 1 < 5 {
                d2 += ((p[[z, y, x + 1]] - v) as f64).powi(2);
            }
            if y + 1 < 4 {
                d2 += ((p[[z, y + 1, x]] - v) as f64).powi(2);
            }
            if z + 1 < 3 {
                d2 += ((p[[z + 1, y, x]] - v) as f64).powi(2);
            }
        }
        assert!((plp - d2).abs() < 1e-9, "{plp} vs {d2}");
        let mut lq = Array3::zeros(shape);
        add_laplacian(&q, &mut lq, 1.0);
        let a: f32 = (&q * &lp).sum();
        let b: f32 = (&p * &lq).sum();
        assert!((a - b).abs() < 1e-4);
    }
}
