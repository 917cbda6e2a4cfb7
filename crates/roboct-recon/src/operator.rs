//! The operator API iterative methods share: a [`Projector`] maps volumes to projections
//! (`forward_into`) and back by its exact transpose (`adjoint_into`), in place, on buffers the
//! caller owns, with explicit scratch memory and cancellation (ASTRA's projector/algorithm
//! split; faer's explicit scratch). [`JosephProjector`] is the fast f32 implementation of
//! Joseph's method; `crate::reference` holds the scalar f64 oracle it is tested against
//! (`tests/operator.rs`: adjoint identity for every geometry, fast path against the reference
//! on random volumes, line path against ray path).
//!
//! Two paths, picked by the plan ([`crate::JosephPath`]):
//!
//! * **Lines** (circular scans about z): a detector column meets the x (or y) plane `p` of
//!   voxels at one fractional line coordinate, and its rows at z positions `s0 + r ds`; the
//!   forward projection of the column is then FDK's line kernel (`kernels::accumulate_*`,
//!   AVX-512 where available) run once per plane on a z-contiguous, zero-padded copy of the
//!   volume. The transpose runs over z-slabs: each task owns a range of z in every line of
//!   voxels, so no task needs a volume of its own and no two tasks write the same voxel.
//! * **Rays** (anything else): ray by ray in f32; the transpose runs over the planes
//!   perpendicular to each ray's main axis, one task per plane, for the same reason.

use ndarray::{Array3, ArrayView3, ArrayViewMut2, ArrayViewMut3, Axis};
use rayon::prelude::*;
use roboct_core::{CancelToken, Progress};
use roboct_geometry::{ScanGeometry, Volume, VolumeGrid};

use crate::ReconError;
use crate::kernels::LineJob;
use crate::plan::{JosephPath, ReconPlan, ViewRays, main_axis, plane_range};
use crate::store::PAD;

/// A linear projection operator `A` and its transpose, on caller-owned buffers.
///
/// Projections are `[view][row][col]` for the views listed in `views` (in that order; any
/// subset, as ordered-subset methods need), volumes `[z][y][x]` on the plan's grid. Both calls
/// overwrite `out`. `Sync`, so one projector serves many threads; the scratch is per caller.
pub trait Projector: Sync {
    /// Scratch memory the calls need; make it once with [`Projector::scratch`] and reuse it.
    type Scratch: Send;

    /// The plan (geometry and grid) this projector was built for.
    fn plan(&self) -> &ReconPlan;

    /// Fresh scratch memory for this projector.
    fn scratch(&self) -> Self::Scratch;

    /// `out = A_views volume`.
    fn forward_into(
        &self,
        volume: ArrayView3<'_, f32>,
        views: &[usize],
        out: ArrayViewMut3<'_, f32>,
        scratch: &mut Self::Scratch,
        cancel: &CancelToken,
    ) -> Result<(), ReconError>;

    /// `out = A_views^T projections`: the exact transpose of [`Projector::forward_into`] (the
    /// matched back-projector iterative methods need; FDK's voxel-driven back-projector,
    /// [`crate::back_project_voxel_driven`], is not this).
    fn adjoint_into(
        &self,
        projections: ArrayView3<'_, f32>,
        views: &[usize],
        out: ArrayViewMut3<'_, f32>,
        scratch: &mut Self::Scratch,
        cancel: &CancelToken,
    ) -> Result<(), ReconError>;
}

/// Joseph's ray-driven projector (Joseph 1982) and its exact transpose, in f32.
///
/// Each ray steps from one plane of voxel centres to the next along the axis it runs most
/// along, interpolates the volume bilinearly in the other two axes and sums times the step's
/// length in mm; rays go through pixel centres, as in `crate::reference`.
#[derive(Clone, Debug)]
pub struct JosephProjector {
    plan: ReconPlan,
}

/// Scratch memory of [`JosephProjector`]: a zero-padded, z-contiguous copy of the volume (line
/// path only: `(nx + 2)(ny + 2)(nz + 64)` floats) and the weighted projections of up to
/// [`VIEW_CHUNK`] views.
pub struct JosephScratch {
    lines: Option<ZLines>,
    columns: Vec<f32>,
}

impl JosephScratch {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        4 * (self.lines.as_ref().map_or(0, |l| l.data.len()) + self.columns.capacity())
    }
}

/// Views weighted and laid out per step of the transpose (and between cancel checks).
pub const VIEW_CHUNK: usize = 16;

impl JosephProjector {
    /// A projector for `plan`.
    pub fn new(plan: &ReconPlan) -> Self {
        Self { plan: plan.clone() }
    }

    /// The bilinear samples (ray steps inside the volume) one forward projection of `views`
    /// takes, the unit of the benchmark's rates; the transpose takes as many.
    pub fn ray_steps(&self, views: &[usize]) -> u64 {
        let plan = &self.plan;
        let size = plan.grid().size();
        let (_, rows, cols) = plan.projection_shape();
        views
            .par_iter()
            .map(|&v| {
                let view = plan.view_rays(v);
                let mut n = 0u64;
                match plan.path() {
                    JosephPath::Lines => {
                        for c in 0..cols {
                            let Some(col) = Column::new(view, c, size) else {
                                continue;
                            };
                            for p in col.planes.0..=col.planes.1 {
                                let x = col.at(p);
                                if x.line > -1.0 && x.line < size[col.o] as f64 {
                                    n += rows_inside(x.s0, x.ds, -1.0, size[2] as f64, rows);
                                }
                            }
                        }
                    }
                    JosephPath::Rays => {
                        for r in 0..rows {
                            for c in 0..cols {
                                let Some(w) = ray_walk(plan, view, r, c) else {
                                    continue;
                                };
                                for p in w.planes.0..=w.planes.1 {
                                    let pf = p as f32;
                                    let (pa, pb) = (w.pa0 + pf * w.dpa, w.pb0 + pf * w.dpb);
                                    if pa > -1.0
                                        && pa < size[w.a] as f32
                                        && pb > -1.0
                                        && pb < size[w.b] as f32
                                    {
                                        n += 1;
                                    }
                                }
                            }
                        }
                    }
                }
                n
            })
            .sum()
    }

    fn check(
        &self,
        volume: (usize, usize, usize),
        projections: (usize, usize, usize),
        views: &[usize],
    ) -> Result<(), ReconError> {
        let want = self.plan.volume_shape();
        if volume != want {
            return Err(ReconError::VolumeShape {
                expected: want,
                found: volume,
            });
        }
        let (nv, rows, cols) = self.plan.projection_shape();
        if projections != (views.len(), rows, cols) {
            return Err(ReconError::ProjectionShape {
                expected: (views.len(), rows, cols),
                found: projections,
            });
        }
        if let Some(&v) = views.iter().find(|&&v| v >= nv) {
            return Err(ReconError::BadOption {
                name: "views",
                message: format!("view {v} asked for; the geometry has {nv} views"),
            });
        }
        Ok(())
    }
}

impl Projector for JosephProjector {
    type Scratch = JosephScratch;

    fn plan(&self) -> &ReconPlan {
        &self.plan
    }

    fn scratch(&self) -> JosephScratch {
        let lines = match self.plan.path() {
            JosephPath::Lines => Some(ZLines::new(self.plan.grid().size())),
            JosephPath::Rays => None,
        };
        JosephScratch {
            lines,
            columns: Vec::new(),
        }
    }

    fn forward_into(
        &self,
        volume: ArrayView3<'_, f32>,
        views: &[usize],
        mut out: ArrayViewMut3<'_, f32>,
        scratch: &mut JosephScratch,
        cancel: &CancelToken,
    ) -> Result<(), ReconError> {
        self.check(volume.dim(), out.dim(), views)?;
        let plan = &self.plan;
        let chunk = VIEW_CHUNK.max(rayon::current_num_threads());
        match plan.path() {
            JosephPath::Lines => {
                let lines = scratch
                    .lines
                    .get_or_insert_with(|| ZLines::new(plan.grid().size()));
                lines.fill(volume);
                let lines = &*lines;
                for (k0, mut block) in out.axis_chunks_iter_mut(Axis(0), chunk).enumerate() {
                    cancel.check().map_err(|_| ReconError::Cancelled)?;
                    let ids = &views[k0 * chunk..k0 * chunk + block.dim().0];
                    block
                        .axis_iter_mut(Axis(0))
                        .into_par_iter()
                        .zip(ids.par_iter())
                        .for_each(|(img, &v)| forward_view_lines(plan, lines, v, img));
                }
            }
            JosephPath::Rays => {
                let standard = volume.as_standard_layout();
                let data = standard.as_slice().expect("standard layout");
                for (k0, mut block) in out.axis_chunks_iter_mut(Axis(0), chunk).enumerate() {
                    cancel.check().map_err(|_| ReconError::Cancelled)?;
                    let ids = &views[k0 * chunk..k0 * chunk + block.dim().0];
                    block
                        .axis_iter_mut(Axis(0))
                        .into_par_iter()
                        .zip(ids.par_iter())
                        .for_each(|(img, &v)| forward_view_rays(plan, data, v, img));
                }
            }
        }
        Ok(())
    }

    fn adjoint_into(
        &self,
        projections: ArrayView3<'_, f32>,
        views: &[usize],
        mut out: ArrayViewMut3<'_, f32>,
        scratch: &mut JosephScratch,
        cancel: &CancelToken,
    ) -> Result<(), ReconError> {
        self.check(out.dim(), projections.dim(), views)?;
        let plan = &self.plan;
        let (_, rows, cols) = plan.projection_shape();
        let per_view = rows * cols;
        let JosephScratch { lines, columns } = scratch;
        // The line path keeps each detector column with YPAD zeros on both sides, and slack.
        let per_view_padded = cols * (rows + 2 * YPAD);
        columns.resize(
            VIEW_CHUNK.min(views.len()).max(1) * per_view.max(per_view_padded) + 64,
            0.0,
        );
        match plan.path() {
            JosephPath::Lines => {
                let lines = lines.get_or_insert_with(|| ZLines::new(plan.grid().size()));
                lines.data.par_iter_mut().for_each(|x| *x = 0.0);
                for (k0, block) in projections
                    .axis_chunks_iter(Axis(0), VIEW_CHUNK)
                    .enumerate()
                {
                    cancel.check().map_err(|_| ReconError::Cancelled)?;
                    let ids = &views[k0 * VIEW_CHUNK..k0 * VIEW_CHUNK + block.dim().0];
                    let cols_buf = &mut columns[..ids.len() * per_view_padded + 64];
                    weigh_columns(plan, block, ids, cols_buf);
                    adjoint_lines(plan, lines, ids, cols_buf);
                }
                lines.unfill(out.view_mut());
            }
            JosephPath::Rays => {
                let run = |data: &mut [f32], columns: &mut Vec<f32>| -> Result<(), ReconError> {
                    data.par_iter_mut().for_each(|x| *x = 0.0);
                    for (k0, block) in projections
                        .axis_chunks_iter(Axis(0), VIEW_CHUNK)
                        .enumerate()
                    {
                        cancel.check().map_err(|_| ReconError::Cancelled)?;
                        let ids = &views[k0 * VIEW_CHUNK..k0 * VIEW_CHUNK + block.dim().0];
                        let cols_buf = &mut columns[..ids.len() * per_view];
                        weigh_rays(plan, block, ids, cols_buf);
                        adjoint_rays(plan, ids, cols_buf, data);
                    }
                    Ok(())
                };
                if let Some(data) = out.as_slice_mut() {
                    run(data, columns)?;
                } else {
                    let mut owned = ndarray::Array3::<f32>::zeros(out.dim());
                    run(owned.as_slice_mut().expect("fresh array"), columns)?;
                    out.assign(&owned);
                }
            }
        }
        Ok(())
    }
}

/// The volume as zero-padded lines along z: line `(x, y)` for `x` in `-1..=nx` and `y` in
/// `-1..=ny` holds `PAD` zeros, the `nz` voxels, `PAD` zeros; the border lines are zeros.
/// Reading never needs a bounds test: interpolation weights that fall outside the volume meet
/// zeros, exactly as Joseph's rule drops them.
pub(crate) struct ZLines {
    size: [usize; 3],
    stride: usize,
    data: Vec<f32>,
}

impl ZLines {
    fn new(size: [usize; 3]) -> Self {
        let stride = size[2] + 2 * PAD;
        // Slack at the end: the kernels may load a 32-wide window past the last line.
        let len = (size[0] + 2) * (size[1] + 2) * stride + 2 * PAD;
        Self {
            size,
            stride,
            data: vec![0.0; len],
        }
    }

    #[inline]
    fn offset(&self, x: isize, y: isize) -> usize {
        ((x + 1) as usize * (self.size[1] + 2) + (y + 1) as usize) * self.stride
    }

    /// Line `(x, y)` with its padding and enough slack for a 32-wide window past it.
    #[inline]
    fn line(&self, x: isize, y: isize) -> &[f32] {
        let o = self.offset(x, y);
        &self.data[o..o + self.stride + 2 * PAD]
    }

    /// Copies a `[z][y][x]` volume in (and zeroes the padding), 16 x-columns per task so that
    /// each read of the volume is a whole cache line.
    fn fill(&mut self, volume: ArrayView3<'_, f32>) {
        let [nx, ny, _] = self.size;
        let stride = self.stride;
        let block = (ny + 2) * stride;
        const B: usize = 16;
        let body = &mut self.data[..(nx + 2) * block];
        // Border x lines.
        body[..block].fill(0.0);
        body[(nx + 1) * block..].fill(0.0);
        body[block..(nx + 1) * block]
            .par_chunks_mut(B * block)
            .enumerate()
            .for_each(|(bi, chunk)| {
                let x0 = bi * B;
                let nb = chunk.len() / block;
                chunk.fill(0.0);
                for (z, plane) in volume.axis_iter(Axis(0)).enumerate() {
                    for (y, row) in plane.axis_iter(Axis(0)).enumerate() {
                        for dx in 0..nb {
                            chunk[dx * block + (y + 1) * stride + PAD + z] = row[x0 + dx];
                        }
                    }
                }
            });
    }

    /// Copies the voxels out into a `[z][y][x]` volume, 16 slices per task.
    fn unfill(&self, mut out: ArrayViewMut3<'_, f32>) {
        const B: usize = 16;
        out.axis_chunks_iter_mut(Axis(0), B)
            .into_par_iter()
            .enumerate()
            .for_each(|(bi, mut slab)| {
                let z0 = bi * B;
                let nb = slab.dim().0;
                let (_, ny, nx) = slab.dim();
                for y in 0..ny {
                    for x in 0..nx {
                        let line = self.line(x as isize, y as isize);
                        for dz in 0..nb {
                            slab[[dz, y, x]] = line[PAD + z0 + dz];
                        }
                    }
                }
            });
    }
}

/// Where one detector column meets plane `p` of its main axis: the fractional line coordinate
/// along the other in-plane axis, and the z position of row 0 and its step per row.
#[derive(Clone, Copy, Debug)]
struct Crossing {
    line: f64,
    s0: f64,
    ds: f64,
}

/// The geometry of one detector column on the line path: along the planes `p` of its main
/// axis, the line coordinate, the z position of row 0 and its step per row are all affine in
/// `p` (`a + b p`), so a plane's set-up is three multiply-adds.
#[derive(Clone, Copy, Debug)]
struct Column {
    /// Main axis (0: x planes, 1: y planes) and the other in-plane axis.
    m: usize,
    o: usize,
    /// Planes crossed, inclusive.
    planes: (usize, usize),
    line: (f64, f64),
    s0: (f64, f64),
    ds: (f64, f64),
}

impl Column {
    /// `None` when the column crosses no plane.
    #[inline]
    fn new(view: &ViewRays, c: usize, size: [usize; 3]) -> Option<Self> {
        let pixel = view.columns[c];
        let d = view.ray_direction(0, c);
        // On the line path rows step along z only, so the in-plane direction is the column's.
        let m = if d[0].abs() >= d[1].abs() { 0 } else { 1 };
        let o = 1 - m;
        if d[m] == 0.0 {
            return None;
        }
        let planes = plane_range(view.source.map(|s| s[m]), pixel[m], size[m])?;
        let inv = 1.0 / d[m];
        let rsz = view.row_step[2];
        // A point on the ray at parameter t(p) = (p - q_m) / d_m: the source (cone beams: row
        // r's ray is source + t (pixel_r - source), so its z step per row is t rsz) or the
        // pixel (parallel beams: the step per row is rsz).
        let (q, ds) = match view.source {
            Some(s) => (s, (-s[m] * inv * rsz, inv * rsz)),
            None => (pixel, (rsz, 0.0)),
        };
        Some(Self {
            m,
            o,
            planes,
            line: (q[o] - q[m] * inv * d[o], inv * d[o]),
            s0: (q[2] - q[m] * inv * d[2], inv * d[2]),
            ds,
        })
    }

    #[inline(always)]
    fn at(&self, p: usize) -> Crossing {
        let pf = p as f64;
        Crossing {
            line: self.line.0 + pf * self.line.1,
            s0: self.s0.0 + pf * self.s0.1,
            ds: self.ds.0 + pf * self.ds.1,
        }
    }
}

/// `floor(x)` without a call into libm (the x86-64 baseline has no rounding instruction, so
/// `f64::floor` is a function call: too slow for per-plane set-up).
#[inline(always)]
fn floor(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t > x { t - 1.0 } else { t }
}

/// `ceil(x)`, as [`floor`].
#[inline(always)]
fn ceil(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t < x { t + 1.0 } else { t }
}

/// Rows `r0..r1` whose z position `s0 + r ds` may fall in `(lo, hi)`, widened by one row on
/// each side (rows beyond read or write only padding).
#[inline]
fn row_range(s0: f64, ds: f64, lo: f64, hi: f64, rows: usize) -> (usize, usize) {
    if ds.abs() < 1e-12 {
        return if s0 > lo && s0 < hi {
            (0, rows)
        } else {
            (0, 0)
        };
    }
    let (a, b) = ((lo - s0) / ds, (hi - s0) / ds);
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    let r0 = (floor(a.max(-1e9)) - 1.0).clamp(0.0, rows as f64) as usize;
    let r1 = (ceil(b.min(1e9)) + 2.0).clamp(0.0, rows as f64) as usize;
    (r0, r1.max(r0))
}

/// How many rows `r` in `0..rows` have `lo < s0 + r ds < hi`.
fn rows_inside(s0: f64, ds: f64, lo: f64, hi: f64, rows: usize) -> u64 {
    if ds == 0.0 {
        return if s0 > lo && s0 < hi { rows as u64 } else { 0 };
    }
    let (a, b) = ((lo - s0) / ds, (hi - s0) / ds);
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    let first = (floor(a.max(-1e9)) + 1.0).max(0.0);
    let last = (ceil(b.min(1e9)) - 1.0).min(rows as f64 - 1.0);
    if last >= first {
        (last - first + 1.0) as u64
    } else {
        0
    }
}

/// One view by the line path, with the fastest kernel this CPU runs.
fn forward_view_lines(plan: &ReconPlan, lines: &ZLines, v: usize, img: ArrayViewMut2<'_, f32>) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::kernels::avx512_available() {
            // SAFETY: AVX-512F is available (checked above).
            unsafe { forward_view_lines_avx512(plan, lines, v, img) };
            return;
        }
    }
    forward_view_lines_with(plan, lines, v, img, crate::kernels::accumulate_scalar);
}

/// [`forward_view_lines_with`] compiled for AVX-512, so the set-up and the kernel inline into
/// one loop.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn forward_view_lines_avx512(
    plan: &ReconPlan,
    lines: &ZLines,
    v: usize,
    img: ArrayViewMut2<'_, f32>,
) {
    forward_view_lines_with(plan, lines, v, img, |acc, job| {
        // SAFETY: AVX-512F is enabled here; the job's lines come from `ZLines::line`, readable
        // from the clamp bound `lo = 1` to `hi + 32` and beyond.
        unsafe { crate::kernels::accumulate_avx512(acc, job) }
    });
}

#[inline(always)]
fn forward_view_lines_with(
    plan: &ReconPlan,
    lines: &ZLines,
    v: usize,
    mut img: ArrayViewMut2<'_, f32>,
    kernel: impl Fn(&mut [f32], &LineJob<'_>),
) {
    let view = plan.view_rays(v);
    let size = lines.size;
    let (rows, cols) = img.dim();
    let nz = size[2];
    let (lo, hi) = (1.0f32, (nz + 2 * PAD - 2) as f32);
    let mut acc = vec![0.0f32; rows];
    for c in 0..cols {
        let Some(col) = Column::new(view, c, size) else {
            for r in 0..rows {
                img[[r, c]] = 0.0;
            }
            continue;
        };
        acc.fill(0.0);
        let n_other = size[col.o] as f64;
        for p in col.planes.0..=col.planes.1 {
            let x = col.at(p);
            if !(x.line > -1.0 && x.line < n_other) {
                continue;
            }
            let (r0, r1) = row_range(x.s0, x.ds, -1.0, nz as f64, rows);
            if r0 >= r1 {
                continue;
            }
            let lf = floor(x.line);
            let li = lf as isize;
            let (a, b) = if col.m == 0 {
                (lines.line(p as isize, li), lines.line(p as isize, li + 1))
            } else {
                (lines.line(li, p as isize), lines.line(li + 1, p as isize))
            };
            let job = LineJob {
                a,
                b,
                fl: (x.line - lf) as f32,
                s0: (x.s0 + r0 as f64 * x.ds + PAD as f64) as f32,
                ds: x.ds as f32,
                weight: 1.0,
                lo,
                hi,
            };
            kernel(&mut acc[r0..r1], &job);
        }
        let [qa, qb, qc, inv] = plan.column_steps(view, c, col.m);
        for (r, a) in acc.iter().enumerate() {
            let rf = r as f64;
            img[[r, c]] = a * ((qa + rf * (qb + rf * qc)).sqrt() * inv) as f32;
        }
    }
}

/// Zeros before and after each detector column in the line path's transpose: a voxel's rows
/// can start up to `2 / |ds| + 1` rows before the column and the 32-wide window of the AVX-512
/// kernel can run past it.
const YPAD: usize = 24;

/// Lays out views `ids` (their projections in `block`) as `[view][col][YPAD + row + YPAD]`,
/// each ray's value times its step length in mm: what the line path's transpose spreads.
/// `out` has 64 floats of slack at the end.
fn weigh_columns(plan: &ReconPlan, block: ArrayView3<'_, f32>, ids: &[usize], out: &mut [f32]) {
    let (_, rows, cols) = plan.projection_shape();
    let stride = rows + 2 * YPAD;
    let n = ids.len() * cols * stride;
    out[n..].fill(0.0);
    out[..n]
        .par_chunks_mut(cols * stride)
        .zip(block.axis_iter(Axis(0)).into_par_iter())
        .zip(ids.par_iter())
        .for_each(|((dst, img), &v)| {
            let view = plan.view_rays(v);
            for (c, col) in dst.chunks_exact_mut(stride).enumerate() {
                let d0 = view.ray_direction(0, c);
                let m = if d0[0].abs() >= d0[1].abs() { 0 } else { 1 };
                col[..YPAD].fill(0.0);
                col[YPAD + rows..].fill(0.0);
                let [qa, qb, qc, inv] = plan.column_steps(view, c, m);
                for r in 0..rows {
                    let rf = r as f64;
                    col[YPAD + r] = img[[r, c]] * ((qa + rf * (qb + rf * qc)).sqrt() * inv) as f32;
                }
            }
        });
}

/// One (column, plane) share of the line path's transpose: for voxels `z` in `za..zb` of the
/// line pair (a, b), `a[z] += (1 - fl) g(z)` and `b[z] += fl g(z)` with `g(z) = sum_r max(0, 1 -
/// |s0 + r ds - z|) y[r]`: the transpose of sampling the line at `s0 + r ds`, as a gather over
/// the at most `k` rows each voxel sees (no two lanes write one voxel).
#[derive(Clone, Copy, Debug)]
struct SpreadJob {
    /// The column's weighted values: `y[YPAD + r]`.
    y: *const f32,
    s0: f32,
    ds: f32,
    fl: f32,
    /// Rows per voxel, at most: `ceil(2 / |ds|)`.
    k: usize,
}

/// The reference implementation of [`SpreadJob`].
///
/// # Safety
/// `a` and `b` must be valid for reads and writes at `za..zb`, and no one else may access those
/// elements meanwhile; `job.y` must be readable at `YPAD + r` for every row a voxel of
/// `za..zb` sees (`weigh_columns`' padding, with `|ds| >= 1 / 4`).
unsafe fn spread_scalar(a: *mut f32, b: *mut f32, za: usize, zb: usize, job: &SpreadJob) {
    let inv = 1.0 / job.ds;
    let h = inv.abs();
    for z in za..zb {
        let zf = z as f32;
        let u = (zf - job.s0) * inv;
        let rf = floor32(u - h) + 1.0;
        let mut g = 0.0f32;
        for q in 0..job.k {
            let r = rf + q as f32;
            let w = (1.0 - (job.s0 + r * job.ds - zf).abs()).max(0.0);
            // SAFETY: r is a row this voxel may see, inside the padded column (contract).
            g += w * unsafe { *job.y.offset(YPAD as isize + r as isize) };
        }
        // SAFETY: z in za..zb (contract).
        unsafe {
            *a.add(z) += g - job.fl * g;
            *b.add(z) += job.fl * g;
        }
    }
}

#[inline(always)]
fn floor32(x: f32) -> f32 {
    let t = x as i32 as f32;
    if t > x { t - 1.0 } else { t }
}

/// AVX-512 version of [`spread_scalar`], 16 voxels at a time: the rows they see come from two
/// 16-wide loads and two-source permutes when they span at most 32 rows, else from gathers.
///
/// # Safety
/// As [`spread_scalar`], and the CPU must support AVX-512F; `job.y` must also be readable 32
/// floats past the last row any voxel sees (the padding and the buffer's slack).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn spread_avx512(a: *mut f32, b: *mut f32, za: usize, zb: usize, job: &SpreadJob) {
    use std::arch::x86_64::*;
    if za >= zb {
        return;
    }
    let inv = 1.0 / job.ds;
    let h = inv.abs();
    let iota = _mm512_setr_ps(
        0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15.,
    );
    let (s0, ds) = (_mm512_set1_ps(job.s0), _mm512_set1_ps(job.ds));
    let (vinv, vh) = (_mm512_set1_ps(inv), _mm512_set1_ps(h));
    let one = _mm512_set1_ps(1.0);
    let zero = _mm512_setzero_ps();
    let last = _mm512_set1_ps((zb - 1) as f32);
    let (wa, wb) = (_mm512_set1_ps(1.0 - job.fl), _mm512_set1_ps(job.fl));
    // SAFETY: YPAD is inside the column buffer.
    let y = unsafe { job.y.add(YPAD) };
    let mut z = za;
    while z < zb {
        let n = (zb - z).min(16);
        let mask: __mmask16 = if n == 16 { 0xffff } else { (1u16 << n) - 1 };
        // Dead lanes repeat the last voxel, so they stay in range and keep lanes monotonic.
        let zv = _mm512_min_ps(_mm512_add_ps(_mm512_set1_ps(z as f32), iota), last);
        let u = _mm512_mul_ps(_mm512_sub_ps(zv, s0), vinv);
        let rf = _mm512_add_ps(
            _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(_mm512_sub_ps(
                u, vh,
            )),
            one,
        );
        let ri = _mm512_cvttps_epi32(rf);
        let first = _mm512_cvtsi512_si32(ri);
        let lastr = _mm_extract_epi32::<3>(_mm512_extracti32x4_epi32::<3>(ri));
        let (lo, hi) = if first <= lastr {
            (first, lastr)
        } else {
            (lastr, first)
        };
        let mut g = zero;
        if (hi - lo) as usize + job.k <= 32 {
            // SAFETY: rows lo..lo + 32 are inside the padded column or its slack (contract).
            let (w0, w1) = unsafe {
                (
                    _mm512_loadu_ps(y.offset(lo as isize)),
                    _mm512_loadu_ps(y.offset(lo as isize + 16)),
                )
            };
            let rel = _mm512_sub_epi32(ri, _mm512_set1_epi32(lo));
            for q in 0..job.k {
                let idx = _mm512_add_epi32(rel, _mm512_set1_epi32(q as i32));
                let v = _mm512_permutex2var_ps(w0, idx, w1);
                let r = _mm512_add_ps(rf, _mm512_set1_ps(q as f32));
                let d = _mm512_abs_ps(_mm512_sub_ps(_mm512_fmadd_ps(r, ds, s0), zv));
                let w = _mm512_max_ps(_mm512_sub_ps(one, d), zero);
                g = _mm512_fmadd_ps(w, v, g);
            }
        } else {
            for q in 0..job.k {
                let idx = _mm512_add_epi32(ri, _mm512_set1_epi32(q as i32));
                // SAFETY: every row a voxel sees is inside the padded column (contract).
                let v = unsafe { _mm512_i32gather_ps::<4>(idx, y) };
                let r = _mm512_add_ps(rf, _mm512_set1_ps(q as f32));
                let d = _mm512_abs_ps(_mm512_sub_ps(_mm512_fmadd_ps(r, ds, s0), zv));
                let w = _mm512_max_ps(_mm512_sub_ps(one, d), zero);
                g = _mm512_fmadd_ps(w, v, g);
            }
        }
        // SAFETY: the mask covers only z..z + n, inside za..zb (contract).
        unsafe {
            let ca = _mm512_maskz_loadu_ps(mask, a.add(z));
            _mm512_mask_storeu_ps(a.add(z), mask, _mm512_fmadd_ps(wa, g, ca));
            let cb = _mm512_maskz_loadu_ps(mask, b.add(z));
            _mm512_mask_storeu_ps(b.add(z), mask, _mm512_fmadd_ps(wb, g, cb));
        }
        z += 16;
    }
}

/// The fastest [`SpreadJob`] kernel this CPU runs.
fn spread_kernel() -> unsafe fn(*mut f32, *mut f32, usize, usize, &SpreadJob) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::kernels::avx512_available() {
            return spread_avx512;
        }
    }
    spread_scalar
}

/// A pointer that tasks writing disjoint parts of one buffer share.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
impl Shared {
    /// The pointer (a method, so that closures capture the whole `Shared`, which is `Sync`,
    /// rather than its raw field).
    #[inline(always)]
    fn ptr(&self) -> *mut f32 {
        self.0
    }
}

// SAFETY: only used by tasks that write disjoint elements (each function says why).
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

/// The line path's transpose for views `ids` (weighted columns in `weighted`), accumulated into
/// `lines`, one task per z-slab.
fn adjoint_lines(plan: &ReconPlan, lines: &mut ZLines, ids: &[usize], weighted: &[f32]) {
    let size = lines.size;
    let nz = size[2];
    let threads = rayon::current_num_threads().max(1);
    // One slab per thread: each (column, plane) pair is set up once per slab, and the slabs of
    // a circular scan carry about equal work (the scan is symmetric about its mid-plane).
    let thickness = nz.div_ceil(threads).max(16).min(nz);
    let n_slabs = nz.div_ceil(thickness);
    let (_, rows, cols) = plan.projection_shape();
    let col_stride = rows + 2 * YPAD;
    let spread: unsafe fn(*mut f32, *mut f32, usize, usize, &SpreadJob) = spread_kernel();
    let (stride, ny2) = (lines.stride, size[1] + 2);
    let offset = move |x: isize, y: isize| ((x + 1) as usize * ny2 + (y + 1) as usize) * stride;
    let base = Shared(lines.data.as_mut_ptr());
    (0..n_slabs).into_par_iter().for_each(|s| {
        let z0 = s * thickness;
        let z1 = (z0 + thickness).min(nz);
        let t = z1 - z0;
        // tmp[k] is z = z0 - 1 + k: one sample of slack on each side, one more for i + 1.
        let mut tmp = vec![0.0f32; t + 4];
        for (k, &v) in ids.iter().enumerate() {
            let view = plan.view_rays(v);
            for c in 0..cols {
                let Some(col) = Column::new(view, c, size) else {
                    continue;
                };
                let col_start = (k * cols + c) * col_stride;
                let y = &weighted[col_start..col_start + col_stride];
                let n_other = size[col.o] as f64;
                for p in col.planes.0..=col.planes.1 {
                    let x = col.at(p);
                    if !(x.line > -1.0 && x.line < n_other) {
                        continue;
                    }
                    let lf = floor(x.line);
                    let li = lf as isize;
                    let fl = (x.line - lf) as f32;
                    let (oa, ob) = if col.m == 0 {
                        (offset(p as isize, li), offset(p as isize, li + 1))
                    } else {
                        (offset(li, p as isize), offset(li + 1, p as isize))
                    };
                    if x.ds.abs() >= 0.25 {
                        // Gather form: the voxels this column's samples touch, within the slab.
                        let s_last = x.s0 + (rows - 1) as f64 * x.ds;
                        let (s_min, s_max) = (x.s0.min(s_last), x.s0.max(s_last));
                        let za = (floor(s_min).max(z0 as f64)) as usize;
                        let zb = ((floor(s_max) + 2.0).min(z1 as f64)).max(za as f64) as usize;
                        if za >= zb {
                            continue;
                        }
                        let job = SpreadJob {
                            y: y.as_ptr(),
                            s0: x.s0 as f32,
                            ds: x.ds as f32,
                            fl,
                            // The rows a voxel sees lie in an open interval of length
                            // 2 / |ds|: at most its ceiling (one more near a whole number,
                            // against rounding).
                            k: ceil(2.0 / x.ds.abs() + 1e-3) as usize,
                        };
                        // SAFETY: lines a and b at PAD + (za..zb), z in this task's slab
                        // z0..z1 (slabs are disjoint, nothing reads `lines` meanwhile); y is a
                        // padded column of `weighted`, which has slack after its last column,
                        // and |ds| >= 1/4.
                        unsafe {
                            spread(
                                base.ptr().add(oa + PAD),
                                base.ptr().add(ob + PAD),
                                za,
                                zb,
                                &job,
                            )
                        };
                        continue;
                    }
                    // Nearly flat in z (|ds| < 1/4: many rows per voxel): scatter each row.
                    let (r0, r1) = row_range(x.s0, x.ds, z0 as f64 - 1.0, z1 as f64, rows);
                    if r0 >= r1 {
                        continue;
                    }
                    // Slab-local sample positions, clamped into the slack so that rows beyond
                    // the slab only touch tmp[0] and tmp[t + 1], which are not written back.
                    let local0 = (x.s0 + r0 as f64 * x.ds - (z0 as f64 - 1.0)) as f32;
                    let ds = x.ds as f32;
                    let hi = (t + 1) as f32;
                    let (mut kmin, mut kmax) = (usize::MAX, 0usize);
                    for (j, &val) in y[YPAD + r0..YPAD + r1].iter().enumerate() {
                        let s = (local0 + j as f32 * ds).clamp(0.0, hi);
                        // s >= 0, so truncation is the floor.
                        let i = s as usize;
                        let f = s - i as f32;
                        tmp[i] += val - f * val;
                        tmp[i + 1] += f * val;
                        kmin = kmin.min(i);
                        kmax = kmax.max(i + 1);
                    }
                    let (k_lo, k_hi) = (kmin.max(1), kmax.min(t));
                    for (kk, &w) in tmp.iter().enumerate().take(k_hi + 1).skip(k_lo) {
                        let z = z0 + kk - 1;
                        // SAFETY: element PAD + z of lines a and b, z in this task's slab
                        // z0..z1; slabs are disjoint, so no other task touches these elements,
                        // and nothing reads `lines` while the tasks run.
                        unsafe {
                            *base.ptr().add(oa + PAD + z) += w - fl * w;
                            *base.ptr().add(ob + PAD + z) += fl * w;
                        }
                    }
                    tmp[kmin..=kmax].fill(0.0);
                }
            }
        }
    });
}

/// Index strides of a `[z][y][x]` volume along x, y, z.
#[inline]
fn strides(size: [usize; 3]) -> [usize; 3] {
    [1, size[0], size[0] * size[1]]
}

/// Everything the ray path needs about one ray: main axis `m`, the other two `a`, `b`, the
/// positions along `a`, `b` at plane 0 and their steps per plane, the planes crossed.
struct RayWalk {
    m: usize,
    a: usize,
    b: usize,
    pa0: f32,
    dpa: f32,
    pb0: f32,
    dpb: f32,
    planes: (usize, usize),
    step_mm: f32,
}

#[inline]
fn ray_walk(plan: &ReconPlan, view: &ViewRays, r: usize, c: usize) -> Option<RayWalk> {
    let size = plan.grid().size();
    let d = view.ray_direction(r, c);
    let m = main_axis(d);
    if d[m] == 0.0 {
        return None;
    }
    let (a, b) = match m {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let pixel = view.pixel(r, c);
    let origin = view.source.unwrap_or(pixel);
    let planes = plane_range(view.source.map(|s| s[m]), pixel[m], size[m])?;
    let (dpa, dpb) = (d[a] / d[m], d[b] / d[m]);
    Some(RayWalk {
        m,
        a,
        b,
        pa0: (origin[a] - origin[m] * dpa) as f32,
        dpa: dpa as f32,
        pb0: (origin[b] - origin[m] * dpb) as f32,
        dpb: dpb as f32,
        planes,
        step_mm: plan.step_mm(d, m) as f32,
    })
}

/// Bilinear weights of `(pa, pb)` in a plane of `na x nb` voxels: up to four (index offset,
/// weight) pairs, none for points outside.
#[inline]
fn bilinear(pa: f32, pb: f32, na: usize, nb: usize, sa: usize, sb: usize) -> [(usize, f32); 4] {
    let mut out = [(0usize, 0.0f32); 4];
    if !(pa > -1.0 && pa < na as f32 && pb > -1.0 && pb < nb as f32) {
        return out;
    }
    // pa, pb > -1: truncation of pa + 1 is floor(pa) + 1.
    let (ia, ib) = ((pa + 1.0) as isize - 1, (pb + 1.0) as isize - 1);
    let (wa, wb) = (pa - ia as f32, pb - ib as f32);
    let mut n = 0;
    for (da, wa_) in [(0isize, 1.0 - wa), (1, wa)] {
        let ja = ia + da;
        if ja < 0 || ja >= na as isize {
            continue;
        }
        for (db, wb_) in [(0isize, 1.0 - wb), (1, wb)] {
            let jb = ib + db;
            if jb < 0 || jb >= nb as isize {
                continue;
            }
            out[n] = (ja as usize * sa + jb as usize * sb, wa_ * wb_);
            n += 1;
        }
    }
    out
}

/// One view, ray by ray.
fn forward_view_rays(plan: &ReconPlan, data: &[f32], v: usize, mut img: ArrayViewMut2<'_, f32>) {
    let view = plan.view_rays(v);
    let size = plan.grid().size();
    let st = strides(size);
    let (rows, cols) = img.dim();
    for r in 0..rows {
        for c in 0..cols {
            let Some(w) = ray_walk(plan, view, r, c) else {
                img[[r, c]] = 0.0;
                continue;
            };
            let mut sum = 0.0f32;
            for p in w.planes.0..=w.planes.1 {
                let pf = p as f32;
                let base = p * st[w.m];
                for (off, wt) in bilinear(
                    w.pa0 + pf * w.dpa,
                    w.pb0 + pf * w.dpb,
                    size[w.a],
                    size[w.b],
                    st[w.a],
                    st[w.b],
                ) {
                    sum += wt * data[base + off];
                }
            }
            img[[r, c]] = sum * w.step_mm;
        }
    }
}

/// Views `ids` as `[view][row][col]`, each value times its ray's step length in mm.
fn weigh_rays(plan: &ReconPlan, block: ArrayView3<'_, f32>, ids: &[usize], out: &mut [f32]) {
    let (_, rows, cols) = plan.projection_shape();
    out.par_chunks_mut(rows * cols)
        .zip(block.axis_iter(Axis(0)).into_par_iter())
        .zip(ids.par_iter())
        .for_each(|((dst, img), &v)| {
            let view = plan.view_rays(v);
            for r in 0..rows {
                for c in 0..cols {
                    let d = view.ray_direction(r, c);
                    let m = main_axis(d);
                    dst[r * cols + c] = if d[m] == 0.0 {
                        0.0
                    } else {
                        img[[r, c]] * plan.step_mm(d, m) as f32
                    };
                }
            }
        });
}

/// The ray path's transpose for views `ids` (weighted values in `weighted`), accumulated into
/// `out` (`[z][y][x]`): for each main axis, one task per plane of voxels across that axis.
fn adjoint_rays(plan: &ReconPlan, ids: &[usize], weighted: &[f32], out: &mut [f32]) {
    let size = plan.grid().size();
    let st = strides(size);
    let (_, rows, cols) = plan.projection_shape();
    let base = Shared(out.as_mut_ptr());
    for m in 0..3 {
        (0..size[m]).into_par_iter().for_each(|p| {
            let pf = p as f32;
            for (k, &v) in ids.iter().enumerate() {
                let view = plan.view_rays(v);
                let vals = &weighted[k * rows * cols..(k + 1) * rows * cols];
                for r in 0..rows {
                    for c in 0..cols {
                        let val = vals[r * cols + c];
                        if val == 0.0 {
                            continue;
                        }
                        let d = view.ray_direction(r, c);
                        if main_axis(d) != m {
                            continue;
                        }
                        let Some(w) = ray_walk(plan, view, r, c) else {
                            continue;
                        };
                        if p < w.planes.0 || p > w.planes.1 {
                            continue;
                        }
                        let plane = p * st[m];
                        for (off, wt) in bilinear(
                            w.pa0 + pf * w.dpa,
                            w.pb0 + pf * w.dpb,
                            size[w.a],
                            size[w.b],
                            st[w.a],
                            st[w.b],
                        ) {
                            // SAFETY: the element has index p along axis m (plane + off, off
                            // along the other two axes); this task alone owns plane p of axis
                            // m, and the passes over different axes run one after the other.
                            unsafe { *base.ptr().add(plane + off) += wt * val };
                        }
                    }
                }
            }
        });
    }
}

/// Projections `[view][row][col]` of `volume` by Joseph's method (line integrals in the
/// volume's unit times mm), with the fast operator: the one call for simulating a scan of a
/// given volume (a 256^3 volume in 360 views of a 300 x 256 panel takes seconds).
pub fn forward_project(
    geometry: &ScanGeometry,
    volume: &Volume,
    progress: &dyn Progress,
) -> Result<Array3<f32>, ReconError> {
    let plan = ReconPlan::new(geometry, volume.grid())?;
    let projector = JosephProjector::new(&plan);
    let (nv, rows, cols) = plan.projection_shape();
    let mut out = Array3::<f32>::zeros((nv, rows, cols));
    let mut scratch = projector.scratch();
    let cancel = CancelToken::new();
    let all: Vec<usize> = (0..nv).collect();
    progress.start("projecting", nv as u64);
    let step = 4 * VIEW_CHUNK;
    for (k, block) in out.axis_chunks_iter_mut(Axis(0), step).enumerate() {
        let n = block.dim().0;
        projector.forward_into(
            volume.data().view(),
            &all[k * step..k * step + n],
            block,
            &mut scratch,
            &cancel,
        )?;
        progress.advance(n as u64);
    }
    progress.finish();
    Ok(out)
}

/// The exact transpose of [`forward_project`] (the matched back-projector): each ray's value
/// spread over the voxels it was summed from, with the same weights.
pub fn back_project_adjoint(
    geometry: &ScanGeometry,
    projections: &Array3<f32>,
    grid: &VolumeGrid,
    progress: &dyn Progress,
) -> Result<Volume, ReconError> {
    let want = geometry.projection_shape();
    if projections.dim() != want {
        return Err(ReconError::ProjectionShape {
            expected: want,
            found: projections.dim(),
        });
    }
    let plan = ReconPlan::new(geometry, grid)?;
    let projector = JosephProjector::new(&plan);
    let mut out = Array3::<f32>::zeros(grid.shape_zyx());
    let all: Vec<usize> = (0..want.0).collect();
    progress.start("back-projecting", 1);
    projector.adjoint_into(
        projections.view(),
        &all,
        out.view_mut(),
        &mut projector.scratch(),
        &CancelToken::new(),
    )?;
    progress.advance(1);
    progress.finish();
    Ok(Volume::from_array(grid.clone(), out).expect("grid shape"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use roboct_geometry::{Beam, CircularScan, Detector, DetectorShape, even_angles};

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32) / (1u64 << 24) as f32
    }

    /// The transpose's AVX-512 kernel equals the scalar one on random columns, slopes (steep,
    /// shallow, negative, both sides of the permute window) and voxel ranges.
    #[test]
    fn spread_fast_kernel_matches_scalar() {
        if !crate::kernels::avx512_testable() {
            return;
        }
        let mut seed = 23u64;
        let rows = 70;
        let mut y = vec![0.0f32; rows + 2 * YPAD + 64];
        for case in 0..3000 {
            for r in 0..rows {
                y[YPAD + r] = lcg(&mut seed) - 0.4;
            }
            let ds = match case % 4 {
                0 => 0.25 + lcg(&mut seed) * 0.5,
                1 => 0.6 + lcg(&mut seed) * 2.5,
                2 => -(0.25 + lcg(&mut seed) * 2.0),
                _ => 1.0,
            };
            let s0 = (lcg(&mut seed) - 0.3) * 60.0;
            let s_last = s0 + (rows - 1) as f32 * ds;
            let za = s0.min(s_last).floor().max(0.0) as usize;
            let zb = (s0.max(s_last).floor() + 2.0).clamp(za as f32, 200.0) as usize;
            let job = SpreadJob {
                y: y.as_ptr(),
                s0,
                ds,
                fl: lcg(&mut seed),
                k: (2.0 / ds.abs()).ceil() as usize + 1,
            };
            let init: Vec<f32> = (0..400).map(|_| lcg(&mut seed)).collect();
            let (mut a1, mut b1) = (init.clone(), init.clone());
            let (mut a2, mut b2) = (init.clone(), init);
            // SAFETY: za..zb < 400; y is padded and has slack; AVX-512 checked above.
            unsafe {
                spread_scalar(a1.as_mut_ptr(), b1.as_mut_ptr(), za, zb, &job);
                spread_avx512(a2.as_mut_ptr(), b2.as_mut_ptr(), za, zb, &job);
            }
            for z in 0..400 {
                assert!(
                    (a1[z] - a2[z]).abs() < 1e-4 * (1.0 + a1[z].abs())
                        && (b1[z] - b2[z]).abs() < 1e-4 * (1.0 + b1[z].abs()),
                    "case {case} z {z}: {} {} vs {} {}",
                    a1[z],
                    b1[z],
                    a2[z],
                    b2[z]
                );
            }
        }
    }

    /// The line path's forward projection with the AVX-512 kernel equals the one with the
    /// scalar kernel on a random volume (rav1e's check_asm idea).
    #[test]
    fn line_path_fast_kernel_matches_scalar() {
        if !crate::kernels::avx512_testable() {
            return;
        }
        let scan = CircularScan {
            beam: Beam::Divergent,
            sid_mm: 150.0,
            sdd_mm: 260.0,
            detector: Detector::centered(50, 40, [1.1, 0.9], [0.6, 1.3], DetectorShape::Flat),
            angles_rad: even_angles(0.2, 6.4, 9),
            detector_rotation_rad: 0.0,
        }
        .build()
        .unwrap();
        let grid = VolumeGrid::centered([30, 26, 40], [1.2, 1.3, 0.9], [1.0, 0.0, -2.0]).unwrap();
        let plan = ReconPlan::new(&scan, &grid).unwrap();
        assert_eq!(plan.path(), JosephPath::Lines);
        let mut seed = 11u64;
        let x = Array3::from_shape_simple_fn(grid.shape_zyx(), || lcg(&mut seed) - 0.2);
        let mut lines = ZLines::new(grid.size());
        lines.fill(x.view());
        let (_, rows, cols) = scan.projection_shape();
        for v in 0..scan.n_views() {
            let mut fast = ndarray::Array2::<f32>::zeros((rows, cols));
            let mut slow = ndarray::Array2::<f32>::zeros((rows, cols));
            // SAFETY: AVX-512F/DQ checked above.
            unsafe { forward_view_lines_avx512(&plan, &lines, v, fast.view_mut()) };
            forward_view_lines_with(
                &plan,
                &lines,
                v,
                slow.view_mut(),
                crate::kernels::accumulate_scalar,
            );
            for (a, b) in fast.iter().zip(slow.iter()) {
                assert!(
                    (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                    "view {v}: {a} vs {b}"
                );
            }
        }
    }
}
