//! Voxel-driven back-projection of (filtered) projections into z-slabs of a volume.
//!
//! Two paths, chosen once per reconstruction from the geometry:
//! * **lines**: when, in every view, a line of voxels along one volume axis keeps one detector
//!   column (or row) and one depth (circular scans about a volume axis; parallel beams along x),
//!   each line is accumulated with [`crate::kernels::accumulate`], tiles of neighbouring lines
//!   sharing the detector data in cache;
//! * **generic**: every other geometry (helical, tilted, arbitrary per-view vectors): each voxel
//!   projected on its own and sampled bilinearly.
//!
//! Both sample the same zero-padded detector lines (`store`), so their results agree to rounding
//! (tested); the generic path is also the reference the fast one is checked against.

use ndarray::{Array3, Axis};
use rayon::prelude::*;
use roboct_geometry::VolumeGrid;

use crate::kernels::LineJob;
use crate::projector::{Kind, ViewProjector};
use crate::store::{LineStore, Orientation, PAD};

/// The weight each view's sample gets in the back-projection sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weighting {
    /// `1 / w^2`, `w` the voxel's depth over the detector's: FDK and divergent FBP.
    InverseSquareDepth,
    /// 1: the plain (unmatched) back-projector.
    One,
}

/// How a slab is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Lines of voxels along index axis `axis` (0 = x, 1 = y, 2 = z).
    Lines {
        /// The axis.
        axis: usize,
    },
    /// Voxel by voxel.
    Generic,
}

/// Picks the path and the detector layout it needs. `slab` is the z-thickness of a slab (the
/// length of z-lines).
pub(crate) fn plan(
    projectors: &[ViewProjector],
    grid: &VolumeGrid,
    slab: usize,
    force_generic: bool,
) -> (Path, Orientation) {
    if force_generic {
        return (Path::Generic, Orientation::Rows);
    }
    let size = grid.size();
    let small = |v: f64, p: &ViewProjector| {
        v.abs()
            <= 1e-9
                * (p.rows
                    .iter()
                    .map(|r| r.c.iter().map(|c| c.abs()).sum::<f64>())
                    .sum::<f64>()
                    + 1e-300)
    };
    // (axis, orientation) candidates, longest lines first.
    let mut candidates: Vec<(usize, Orientation, usize)> = Vec::new();
    for axis in [2usize, 0, 1] {
        let len = if axis == 2 {
            slab.min(size[2])
        } else {
            size[axis]
        };
        let columns = projectors.iter().all(|p| match p.kind {
            Kind::Projective => small(p.rows[0].c[axis], p) && small(p.rows[2].c[axis], p),
            Kind::Cylindrical { .. } => small(p.rows[0].c[axis], p) && small(p.rows[1].c[axis], p),
        });
        let rows = projectors.iter().all(|p| match p.kind {
            Kind::Projective => small(p.rows[1].c[axis], p) && small(p.rows[2].c[axis], p),
            Kind::Cylindrical { .. } => false,
        });
        if columns {
            candidates.push((axis, Orientation::Columns, len));
        } else if rows {
            candidates.push((axis, Orientation::Rows, len));
        }
    }
    // The longest lines win; on a tie the first candidate (z, then x) keeps the output writes
    // contiguous.
    let best =
        candidates.iter().fold(
            None,
            |best: Option<&(usize, Orientation, usize)>, c| match best {
                Some(b) if b.2 >= c.2 => Some(b),
                _ => Some(c),
            },
        );
    match best {
        Some(&(axis, orientation, len)) if len >= 8 => (Path::Lines { axis }, orientation),
        _ => (Path::Generic, Orientation::Rows),
    }
}

/// Everything a slab needs.
pub(crate) struct Backprojector<'a> {
    store: &'a LineStore,
    projectors: &'a [ViewProjector],
    /// Extra per-view factor.
    view_scale: &'a [f32],
    weighting: Weighting,
    grid: &'a VolumeGrid,
    path: Path,
    /// Coefficients for the AVX-512 tile kernel, when it applies.
    #[cfg(target_arch = "x86_64")]
    tiled: Option<crate::tile::Coefficients>,
}

impl<'a> Backprojector<'a> {
    pub fn new(
        store: &'a LineStore,
        projectors: &'a [ViewProjector],
        view_scale: &'a [f32],
        weighting: Weighting,
        grid: &'a VolumeGrid,
        path: Path,
    ) -> Self {
        #[cfg(target_arch = "x86_64")]
        let tiled = match path {
            Path::Lines { axis } if crate::kernels::avx512_available() => {
                crate::tile::Coefficients::new(
                    projectors,
                    store,
                    axis,
                    view_scale,
                    weighting == Weighting::InverseSquareDepth,
                )
            }
            _ => None,
        };
        Self {
            store,
            projectors,
            view_scale,
            weighting,
            grid,
            path,
            #[cfg(target_arch = "x86_64")]
            tiled,
        }
    }
}

/// Lines per tile side: a tile of 8 x 8 lines shares its detector data in L2 across all views.
const TILE: usize = 8;

impl Backprojector<'_> {
    /// Back-projects slices `z0..z0 + nz` into an array `[z][y][x]`.
    pub fn slab(&self, z0: usize, nz: usize) -> Array3<f32> {
        match self.path {
            Path::Generic => self.slab_generic(z0, nz),
            Path::Lines { axis } => self.slab_lines(axis, z0, nz),
        }
    }

    fn weight(&self, view: usize, w: f64) -> f32 {
        let s = self.view_scale[view];
        match self.weighting {
            Weighting::InverseSquareDepth => (s as f64 / (w * w)) as f32,
            Weighting::One => s,
        }
    }

    fn slab_generic(&self, z0: usize, nz: usize) -> Array3<f32> {
        let [nx, ny, _] = self.grid.size();
        let mut out = Array3::<f32>::zeros((nz, ny, nx));
        // One task per (z, y) row of voxels.
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(dz, mut slice)| {
                let k = (z0 + dz) as f64;
                for (j, mut row) in slice.axis_iter_mut(Axis(0)).enumerate() {
                    for (v, p) in self.projectors.iter().enumerate() {
                        for (i, px) in row.iter_mut().enumerate() {
                            if let Some((c, r, w)) = p.project([i as f64, j as f64, k]) {
                                let val = self.store.sample(v, c as f32, r as f32);
                                if val != 0.0 {
                                    *px += self.weight(v, w) * val;
                                }
                            }
                        }
                    }
                }
            });
        out
    }

    fn slab_lines(&self, axis: usize, z0: usize, nz: usize) -> Array3<f32> {
        #[cfg(target_arch = "x86_64")]
        if let Some(coef) = &self.tiled {
            return self.slab_tiles(coef, axis, z0, nz);
        }
        let [nx, ny, _] = self.grid.size();
        // Lines are indexed by two "outer" coordinates; `len` voxels each.
        let (outer, len) = match axis {
            2 => ([ny, nx], nz),
            1 => ([nz, nx], ny),
            _ => ([nz, ny], nx),
        };
        let tiles: Vec<(usize, usize)> = (0..outer[0])
            .step_by(TILE)
            .flat_map(|a| (0..outer[1]).step_by(TILE).map(move |b| (a, b)))
            .collect();
        let results: Vec<(usize, usize, Vec<f32>)> = tiles
            .par_iter()
            .map(|&(a0, b0)| {
                let (na, nb) = ((outer[0] - a0).min(TILE), (outer[1] - b0).min(TILE));
                let mut buf = vec![0.0f32; na * nb * len];
                for da in 0..na {
                    for db in 0..nb {
                        let line = &mut buf[(da * nb + db) * len..(da * nb + db + 1) * len];
                        let (a, b) = (a0 + da, b0 + db);
                        // Index of the line's first voxel.
                        let base = match axis {
                            2 => [b as f64, a as f64, z0 as f64],
                            1 => [b as f64, 0.0, (z0 + a) as f64],
                            _ => [0.0, b as f64, (z0 + a) as f64],
                        };
                        self.line(line, base, axis);
                    }
                }
                (a0, b0, buf)
            })
            .collect();
        let mut out = Array3::<f32>::zeros((nz, ny, nx));
        for (a0, b0, buf) in results {
            let nb = (outer[1] - b0).min(TILE);
            for (t, line) in buf.chunks_exact(len).enumerate() {
                let (a, b) = (a0 + t / nb, b0 + t % nb);
                for (m, v) in line.iter().enumerate() {
                    let idx = match axis {
                        2 => [m, a, b],
                        1 => [a, m, b],
                        _ => [a, b, m],
                    };
                    out[idx] = *v;
                }
            }
        }
        out
    }

    /// [`Self::slab_lines`] by the AVX-512 tile kernel (`tile`): lines along z (or y), tiles of
    /// `TILE_ROWS` x 16 lines.
    #[cfg(target_arch = "x86_64")]
    fn slab_tiles(
        &self,
        coef: &crate::tile::Coefficients,
        axis: usize,
        z0: usize,
        nz: usize,
    ) -> Array3<f32> {
        use crate::tile::{TILE_ROWS, tile};
        let [nx, ny, _] = self.grid.size();
        // p: the outer axis other than x; its index values, and the line's first index and length.
        let (p_start, p_count, k0, len) = if axis == 2 {
            (0, ny, z0, nz)
        } else {
            (z0, nz, 0, ny)
        };
        let tiles: Vec<(usize, usize)> = (0..p_count)
            .step_by(TILE_ROWS)
            .flat_map(|p| (0..nx).step_by(16).map(move |q| (p, q)))
            .collect();
        let results: Vec<(usize, usize, Vec<f32>)> = tiles
            .par_iter()
            .map(|&(p, q)| {
                let np = (p_count - p).min(TILE_ROWS);
                let nq = (nx - q).min(16);
                let mut buf = vec![0.0f32; np * 16 * len];
                // SAFETY: `tiled` is only set when AVX-512F and DQ are available; buf is sized for the tile.
                unsafe { tile(coef, self.store, p_start + p, np, q, nq, k0, len, &mut buf) };
                (p, q, buf)
            })
            .collect();
        let mut out = Array3::<f32>::zeros((nz, ny, nx));
        for (p, q, buf) in results {
            let nq = (nx - q).min(16);
            for (t, line) in buf.chunks_exact(len).enumerate() {
                let (pp, qq) = (t / 16, t % 16);
                if qq >= nq {
                    continue;
                }
                if axis == 2 {
                    for (m, v) in line.iter().enumerate() {
                        out[[m, p + pp, q + qq]] = *v;
                    }
                } else {
                    for (m, v) in line.iter().enumerate() {
                        out[[p + pp, m, q + qq]] = *v;
                    }
                }
            }
        }
        out
    }

    /// All views' contributions to one line of voxels starting at index `base`, with the
    /// fastest kernel this CPU runs.
    fn line(&self, line: &mut [f32], base: [f64; 3], axis: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            if crate::kernels::avx512_available() {
                // SAFETY: AVX-512F is available (checked above).
                unsafe { self.line_avx512(line, base, axis) };
                return;
            }
        }
        self.accumulate_line(line, base, axis, crate::kernels::accumulate_scalar);
    }

    /// [`Self::accumulate_line`] compiled for AVX-512, so the per-view set-up and the kernel
    /// inline into one loop.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn line_avx512(&self, line: &mut [f32], base: [f64; 3], axis: usize) {
        self.accumulate_line(line, base, axis, |acc, job| {
            // SAFETY: AVX-512F is enabled for this function; the job's lines come from the
            // store with clamp bounds inside its padding.
            unsafe { crate::kernels::accumulate_avx512(acc, job) }
        });
    }

    /// All views' contributions to one line of voxels starting at index `base`.
    #[inline(always)]
    fn accumulate_line(
        &self,
        line: &mut [f32],
        base: [f64; 3],
        axis: usize,
        kernel: impl Fn(&mut [f32], &LineJob<'_>),
    ) {
        let store = self.store;
        let lo = 1.0f32;
        let hi = (store.n_samples + 2 * PAD - 2) as f32;
        let columns = store.orientation == Orientation::Columns;
        for (v, p) in self.projectors.iter().enumerate() {
            let r = [p.rows[0].at(base), p.rows[1].at(base), p.rows[2].at(base)];
            // (line coordinate, first sample, step, depth)
            let (l, s0, ds, w) = match p.kind {
                Kind::Projective => {
                    let w = r[2];
                    if w <= 0.0 {
                        continue;
                    }
                    if columns {
                        (r[0] / w, r[1] / w, p.rows[1].c[axis] / w, w)
                    } else {
                        (r[1] / w, r[0] / w, p.rows[0].c[axis] / w, w)
                    }
                }
                Kind::Cylindrical {
                    radius,
                    u0,
                    pu,
                    v0,
                    pv,
                } => {
                    if r[0] <= 0.0 {
                        continue;
                    }
                    let len = (r[0] * r[0] + r[1] * r[1]).sqrt();
                    let c = (radius * r[1].atan2(r[0]) - u0) / pu;
                    let s0 = (radius * r[2] / len - v0) / pv;
                    let ds = radius * p.rows[2].c[axis] / (len * pv);
                    (c, s0, ds, len / radius)
                }
            };
            if !(l > -1.0 && l < store.n_lines as f64) {
                continue;
            }
            let lf = l.floor();
            let li = lf as isize;
            let job = LineJob {
                a: store.line(v, li),
                b: store.line(v, li + 1),
                fl: (l - lf) as f32,
                s0: (s0 + PAD as f64) as f32,
                ds: ds as f32,
                weight: self.weight(v, w),
                lo,
                hi,
            };
            kernel(line, &job);
        }
    }
}
