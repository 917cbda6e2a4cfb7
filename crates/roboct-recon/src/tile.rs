//! The AVX-512 back-projection of tiles of voxel lines, for circular scans with flat detectors.
//!
//! A tile is up to `TILE_ROWS` x 16 lines of voxels running along the rotation axis (z in our
//! frame, y in RTK's). For each view in turn, the per-line set-up (detector column, depth,
//! first row and row step) is computed for 16 neighbouring lines at once in vector registers,
//! then each line's voxels are accumulated by [`line`]. The tile's accumulators stay in L1/L2
//! while every view streams past, and one view's detector footprint for the tile (a few dozen
//! columns) is loaded once and reused by all its lines: that keeps the memory traffic near one
//! byte per voxel update.
//!
//! The result equals `backproject::Backprojector::accumulate_line` (the reference) to float
//! rounding: `tests/analytic.rs` compares the two paths on every geometry.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use crate::projector::{Kind, ViewProjector};
use crate::store::{LineStore, Orientation, PAD};

/// Rows of 16 lines in a tile.
pub(crate) const TILE_ROWS: usize = 8;

/// Per-view coefficients in f32, structure of arrays: `col w`, `row w` and `w` as affine
/// functions of the voxel index `(q, p, k)` where `q` is index x, `p` the other outer axis and
/// `k` the line axis.
pub(crate) struct Coefficients {
    c: [Vec<f32>; 4],
    r: [Vec<f32>; 4],
    w: [Vec<f32>; 4],
    scale: Vec<f32>,
}

impl Coefficients {
    /// `None` unless every view is projective with column and depth constant along `axis`, the
    /// store holds columns, and lines run along z or y (so that lanes run along x).
    pub fn new(
        projectors: &[ViewProjector],
        store: &LineStore,
        axis: usize,
        scale: &[f32],
        inverse_square: bool,
    ) -> Option<Self> {
        if store.orientation != Orientation::Columns || axis == 0 || !inverse_square {
            return None;
        }
        let p_axis = if axis == 2 { 1 } else { 2 };
        let mut c: [Vec<f32>; 4] = Default::default();
        let mut r: [Vec<f32>; 4] = Default::default();
        let mut w: [Vec<f32>; 4] = Default::default();
        for p in projectors {
            if !matches!(p.kind, Kind::Projective) {
                return None;
            }
            for (dst, row) in [
                (&mut c, &p.rows[0]),
                (&mut r, &p.rows[1]),
                (&mut w, &p.rows[2]),
            ] {
                dst[0].push(row.c0 as f32);
                dst[1].push(row.c[0] as f32);
                dst[2].push(row.c[p_axis] as f32);
                dst[3].push(row.c[axis] as f32);
            }
        }
        Some(Self {
            c,
            r,
            w,
            scale: scale.to_vec(),
        })
    }
}

/// Accumulates one tile: lines at outer coordinates `p in p0..p0 + np`, `q in q0..q0 + nq`
/// (`nq <= 16`), each `len` voxels from `k0` along the line axis, into `acc`, laid out
/// `[p - p0][q - q0][k]` with 16 `q` slots per `p`.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512DQ; `acc` holds `np * 16 * len` values.
#[target_feature(enable = "avx512f,avx512dq")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn tile(
    coef: &Coefficients,
    store: &LineStore,
    p0: usize,
    np: usize,
    q0: usize,
    nq: usize,
    k0: usize,
    len: usize,
    acc: &mut [f32],
) {
    debug_assert!(nq <= 16 && acc.len() >= np * 16 * len);
    let data = store.data_ptr();
    let iota = _mm512_setr_ps(
        0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15.,
    );
    let q = _mm512_add_ps(_mm512_set1_ps(q0 as f32), iota);
    let lane_mask: __mmask16 = if nq >= 16 { 0xffff } else { (1u16 << nq) - 1 };
    let n_lines = _mm512_set1_ps(store.n_lines as f32);
    let minus_one = _mm512_set1_ps(-1.0);
    let zero = _mm512_setzero_ps();
    let pad = _mm512_set1_ps(PAD as f32);
    let lo = 1.0f32;
    let hi = (store.n_samples + 2 * PAD - 2) as f32;

    let mut fl = [0.0f32; 16];
    let mut s0 = [0.0f32; 16];
    let mut ds = [0.0f32; 16];
    let mut wt = [0.0f32; 16];
    let mut line_index = [0i32; 16];
    for v in 0..coef.scale.len() {
        let at = |a: &[Vec<f32>; 4], p: f32| -> __m512 {
            // a0 + a_q q + a_p p + a_k k0, with q a vector.
            let base = a[0][v] + a[2][v] * p + a[3][v] * k0 as f32;
            _mm512_fmadd_ps(_mm512_set1_ps(a[1][v]), q, _mm512_set1_ps(base))
        };
        let view_base = v * store.view_stride;
        if v + 1 < coef.scale.len() && PREFETCH.with(|p| *p) {
            // SAFETY: AVX-512F and DQ are enabled here (this function requires them).
            unsafe { prefetch_footprint(coef, store, v + 1, p0, np, q0, nq, k0, len) };
        }
        let scale = coef.scale[v];
        let rk = coef.r[3][v];
        for pp in 0..np {
            let p = (p0 + pp) as f32;
            let w = at(&coef.w, p);
            let inv = _mm512_div_ps(_mm512_set1_ps(1.0), w);
            let c = _mm512_mul_ps(at(&coef.c, p), inv);
            let valid = _mm512_mask_cmp_ps_mask::<_CMP_GT_OQ>(lane_mask, w, zero)
                & _mm512_cmp_ps_mask::<_CMP_GT_OQ>(c, minus_one)
                & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(c, n_lines);
            if valid == 0 {
                continue;
            }
            // Invalid lanes read the zero line before the first with weight 0.
            let c = _mm512_mask_blend_ps(valid, minus_one, c);
            let cf = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(c);
            let li = _mm512_cvttps_epi32(cf);
            // SAFETY: the arrays hold 16 lanes.
            unsafe {
                _mm512_storeu_ps(fl.as_mut_ptr(), _mm512_sub_ps(c, cf));
                _mm512_storeu_ps(s0.as_mut_ptr(), _mm512_fmadd_ps(at(&coef.r, p), inv, pad));
                _mm512_storeu_ps(ds.as_mut_ptr(), _mm512_mul_ps(_mm512_set1_ps(rk), inv));
                _mm512_storeu_ps(
                    wt.as_mut_ptr(),
                    _mm512_maskz_mul_ps(valid, _mm512_set1_ps(scale), _mm512_mul_ps(inv, inv)),
                );
                _mm512_storeu_si512(line_index.as_mut_ptr().cast(), li);
            }
            let mut live = valid;
            while live != 0 {
                let l = live.trailing_zeros() as usize;
                live &= live - 1;
                let dst = &mut acc[(pp * 16 + l) * len..(pp * 16 + l + 1) * len];
                // SAFETY: offsets point at a line of this view in the store (line index in
                // -1..n_lines - 1 plus the next one), clamp bounds lie inside its padding.
                unsafe {
                    let a = data.add(view_base + (line_index[l] + 1) as usize * store.line_stride);
                    line(
                        dst,
                        a,
                        a.add(store.line_stride),
                        fl[l],
                        s0[l],
                        ds[l],
                        wt[l],
                        lo,
                        hi,
                    );
                }
            }
        }
    }
}

thread_local! {
    static PREFETCH: bool = std::env::var_os("ROBOCT_NO_PREFETCH").is_none();
}

/// Asks the cache to fetch, into L2, the detector samples view `v` will need for this tile (the
/// columns and rows its four corner lines reach, one line beyond), while the current view is
/// being accumulated: a tile's footprint in one view is a few dozen short column segments that
/// the hardware prefetchers, seeing one segment at a time, would fetch late.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512DQ; `v` is a view of `store` and `coef`. Nothing is
/// read or written (a prefetch never faults), and the addresses stay inside the store's buffer.
#[target_feature(enable = "avx512f,avx512dq")]
#[allow(clippy::too_many_arguments)]
unsafe fn prefetch_footprint(
    coef: &Coefficients,
    store: &LineStore,
    v: usize,
    p0: usize,
    np: usize,
    q0: usize,
    nq: usize,
    k0: usize,
    len: usize,
) {
    let (mut cmin, mut cmax) = (f32::INFINITY, f32::NEG_INFINITY);
    let (mut smin, mut smax) = (f32::INFINITY, f32::NEG_INFINITY);
    for p in [p0 as f32, (p0 + np - 1) as f32] {
        for q in [q0 as f32, (q0 + nq - 1) as f32] {
            let eval =
                |a: &[Vec<f32>; 4], k: f32| a[0][v] + a[1][v] * q + a[2][v] * p + a[3][v] * k;
            let w = eval(&coef.w, k0 as f32);
            if w <= 0.0 {
                return;
            }
            let c = eval(&coef.c, k0 as f32) / w;
            cmin = cmin.min(c);
            cmax = cmax.max(c);
            for k in [k0 as f32, (k0 + len - 1) as f32] {
                let s = eval(&coef.r, k) / w;
                smin = smin.min(s);
                smax = smax.max(s);
            }
        }
    }
    let lines = store.n_lines as f32;
    let (c0, c1) = (
        (cmin.floor().max(-1.0)) as isize,
        (cmax.ceil().min(lines)) as isize,
    );
    let samples = (store.n_samples + 2 * PAD) as f32;
    let (s0, s1) = (
        ((smin + PAD as f32).floor().max(0.0)) as usize,
        ((smax + PAD as f32).ceil().min(samples)) as usize,
    );
    if c0 > c1 || s0 >= s1 {
        return;
    }
    let data = store.data_ptr();
    for c in c0..=c1 {
        let start = v * store.view_stride + (c + 1) as usize * store.line_stride;
        let mut s = s0;
        while s < s1 + 16 {
            // SAFETY: a prefetch never faults; the address is inside the store's buffer.
            unsafe {
                _mm_prefetch::<_MM_HINT_T1>(data.add(start + s.min(store.line_stride - 1)).cast())
            };
            s += 16;
        }
    }
}

/// One view's contribution to one line: `acc[k] += wt * interp(s0 + k ds)` between detector
/// lines `a` and `b` (fraction `fl`), positions clamped into `[lo, hi]`.
///
/// For `|ds| < 1.9` (voxels no larger than 1.9 detector rows, the usual case) 16 consecutive
/// positions span at most 30 samples, so one window of 32 samples starting at a base known from
/// lane 0 holds both neighbours of every lane: two loads and two permutes per detector line, no
/// gather and no lane extraction beyond lane 0.
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512DQ; `a` and `b` are readable from 0 to `ceil(hi) + 32`, and
/// `lo >= 1`.
#[target_feature(enable = "avx512f,avx512dq")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn line(
    acc: &mut [f32],
    a: *const f32,
    b: *const f32,
    fl: f32,
    s0: f32,
    ds: f32,
    wt: f32,
    lo: f32,
    hi: f32,
) {
    let n = acc.len();
    // The last lane computed, dead lanes of a partial last vector included.
    let last = s0 + (n.div_ceil(16) * 16 - 1) as f32 * ds;
    let (smin, smax) = if ds >= 0.0 { (s0, last) } else { (last, s0) };
    // Lines wholly inside the detector rows need no clamping (the common case).
    let inside = smin >= lo && smax <= hi;
    let job = Job {
        acc: acc.as_mut_ptr(),
        n,
        a,
        b,
        fl,
        s0,
        ds,
        wt,
        lo,
        hi,
    };
    // SAFETY: forwarded from the caller.
    unsafe {
        if ds.abs() < 1.9 {
            // The lowest of 16 indices is lane 0's, minus up to ceil(15 |ds|) + 1 when descending.
            let back = if ds >= 0.0 {
                0
            } else {
                (15.0 * -ds).ceil() as i32 + 1
            };
            if inside {
                windows::<false>(&job, back)
            } else {
                windows::<true>(&job, back)
            }
        } else {
            gathers(&job)
        }
    }
}

/// The arguments of [`line`], for its loops.
struct Job {
    acc: *mut f32,
    n: usize,
    a: *const f32,
    b: *const f32,
    fl: f32,
    s0: f32,
    ds: f32,
    wt: f32,
    lo: f32,
    hi: f32,
}

const IOTA: [f32; 16] = [
    0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15.,
];

/// The window loop of [`line`]; `CLAMP` when some positions fall outside `[lo, hi]`.
///
/// # Safety
/// As for [`line`], through `j`: the CPU supports AVX-512F and AVX-512DQ, `j.acc` holds `j.n`
/// values, `j.a` and `j.b` are readable from 0 to `ceil(j.hi) + 32` and `j.lo >= 1`; `back` is
/// at least how far below lane 0's position the lowest of 16 lanes' positions falls.
#[target_feature(enable = "avx512f,avx512dq")]
#[inline]
unsafe fn windows<const CLAMP: bool>(j: &Job, back: i32) {
    // SAFETY: IOTA holds 16 floats.
    let iota = unsafe { _mm512_loadu_ps(IOTA.as_ptr()) };
    let dsv = _mm512_set1_ps(j.ds);
    let step = _mm512_set1_ps(16.0 * j.ds);
    let (lov, hiv) = (_mm512_set1_ps(j.lo), _mm512_set1_ps(j.hi));
    let (flv, wtv) = (_mm512_set1_ps(j.fl), _mm512_set1_ps(j.wt));
    let one = _mm512_set1_epi32(1);
    let mut s = _mm512_fmadd_ps(iota, dsv, _mm512_set1_ps(j.s0));
    // Lane 0's position, tracked in scalar with the very same f32 operations as the vector (it
    // starts at s0 exactly and adds the same step), so that the window base needs no transfer
    // from a vector register.
    let step_s = 16.0 * j.ds;
    let mut s_lane0 = j.s0;
    let body = |s: __m512, s_lane0: f32, acc: *mut f32, mask: __mmask16| {
        let sc = if CLAMP {
            _mm512_min_ps(_mm512_max_ps(s, lov), hiv)
        } else {
            s
        };
        let l0 = if CLAMP {
            s_lane0.max(j.lo).min(j.hi)
        } else {
            s_lane0
        };
        let base = (l0 as i32 - back).max(0);
        // Positions relative to the window: an integer is subtracted exactly, so the integer
        // and fractional parts below are those of the absolute position.
        let t = _mm512_sub_ps(sc, _mm512_set1_ps(base as f32));
        let rel = _mm512_cvttps_epi32(t);
        let frac = _mm512_reduce_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(t);
        let rel1 = _mm512_add_epi32(rel, one);
        let base = base as usize;
        // SAFETY: 0 <= base and base + 31 <= ceil(hi) + 31: readable (caller's contract); the
        // mask limits acc to the line's own voxels.
        unsafe {
            let (a0, a1) = (
                _mm512_loadu_ps(j.a.add(base)),
                _mm512_loadu_ps(j.a.add(base + 16)),
            );
            let (b0, b1) = (
                _mm512_loadu_ps(j.b.add(base)),
                _mm512_loadu_ps(j.b.add(base + 16)),
            );
            let va0 = _mm512_permutex2var_ps(a0, rel, a1);
            let va1 = _mm512_permutex2var_ps(a0, rel1, a1);
            let vb0 = _mm512_permutex2var_ps(b0, rel, b1);
            let vb1 = _mm512_permutex2var_ps(b0, rel1, b1);
            let va = _mm512_fmadd_ps(frac, _mm512_sub_ps(va1, va0), va0);
            let vb = _mm512_fmadd_ps(frac, _mm512_sub_ps(vb1, vb0), vb0);
            let val = _mm512_fmadd_ps(flv, _mm512_sub_ps(vb, va), va);
            if mask == 0xffff {
                _mm512_storeu_ps(acc, _mm512_fmadd_ps(wtv, val, _mm512_loadu_ps(acc)));
            } else {
                let cur = _mm512_maskz_loadu_ps(mask, acc);
                _mm512_mask_storeu_ps(acc, mask, _mm512_fmadd_ps(wtv, val, cur));
            }
        }
    };
    let full = j.n / 16 * 16;
    let mut k = 0;
    while k < full {
        // SAFETY: k + 16 <= n.
        body(s, s_lane0, unsafe { j.acc.add(k) }, 0xffff);
        s = _mm512_add_ps(s, step);
        s_lane0 += step_s;
        k += 16;
    }
    if k < j.n {
        // SAFETY: the mask covers lanes k..n only.
        body(s, s_lane0, unsafe { j.acc.add(k) }, (1u16 << (j.n - k)) - 1);
    }
}

/// The gather loop of [`line`], for steps of 1.9 rows or more.
///
/// # Safety
/// As for [`line`], through `j`: the CPU supports AVX-512F and AVX-512DQ, `j.acc` holds `j.n`
/// values, `j.a` and `j.b` are readable from 0 to `ceil(j.hi) + 32` and `j.lo >= 1`.
#[target_feature(enable = "avx512f,avx512dq")]
#[inline(never)]
unsafe fn gathers(j: &Job) {
    // SAFETY: IOTA holds 16 floats.
    let iota = unsafe { _mm512_loadu_ps(IOTA.as_ptr()) };
    let (lov, hiv) = (_mm512_set1_ps(j.lo), _mm512_set1_ps(j.hi));
    let (flv, wtv) = (_mm512_set1_ps(j.fl), _mm512_set1_ps(j.wt));
    let one = _mm512_set1_epi32(1);
    let z = _mm512_setzero_ps();
    let mut k = 0;
    while k < j.n {
        let mask: __mmask16 = if j.n - k >= 16 {
            0xffff
        } else {
            (1u16 << (j.n - k)) - 1
        };
        let kv = _mm512_add_ps(_mm512_set1_ps(k as f32), iota);
        let s = _mm512_min_ps(
            _mm512_max_ps(
                _mm512_fmadd_ps(kv, _mm512_set1_ps(j.ds), _mm512_set1_ps(j.s0)),
                lov,
            ),
            hiv,
        );
        let sf = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(s);
        let frac = _mm512_sub_ps(s, sf);
        let idx = _mm512_cvttps_epi32(sf);
        let idx1 = _mm512_add_epi32(idx, one);
        // SAFETY: clamped indices lie within the readable range; the mask limits acc.
        unsafe {
            let va0 = _mm512_mask_i32gather_ps::<4>(z, mask, idx, j.a);
            let va1 = _mm512_mask_i32gather_ps::<4>(z, mask, idx1, j.a);
            let vb0 = _mm512_mask_i32gather_ps::<4>(z, mask, idx, j.b);
            let vb1 = _mm512_mask_i32gather_ps::<4>(z, mask, idx1, j.b);
            let va = _mm512_fmadd_ps(frac, _mm512_sub_ps(va1, va0), va0);
            let vb = _mm512_fmadd_ps(frac, _mm512_sub_ps(vb1, vb0), vb0);
            let val = _mm512_fmadd_ps(flv, _mm512_sub_ps(vb, va), va);
            let cur = _mm512_maskz_loadu_ps(mask, j.acc.add(k));
            _mm512_mask_storeu_ps(j.acc.add(k), mask, _mm512_fmadd_ps(wtv, val, cur));
        }
        k += 16;
    }
}
