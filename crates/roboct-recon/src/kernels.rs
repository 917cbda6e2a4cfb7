//! The inner loop of voxel-driven back-projection along a line of voxels.
//!
//! When a line of voxels runs parallel to the rotation axis of a circular scan, every voxel on
//! it projects onto the same detector column (and has the same depth), and its row moves by a
//! constant step: the bilinear interpolation of FDK collapses to a linear interpolation between
//! two detector columns (done once per line) followed by a linear interpolation along that
//! column at positions `s0 + k ds`. The same holds for lines along x in a parallel-beam scan,
//! with rows and columns swapped. [`accumulate`] does one view's share for one line; a scalar
//! version is the reference and the fallback, an AVX-512 version is the fast path (checked
//! against the scalar one on random input, see the tests).

/// One view's contribution to one line of voxels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LineJob<'a> {
    /// The detector line before the voxels' projection (padded, see `store`).
    pub a: &'a [f32],
    /// The detector line after it.
    pub b: &'a [f32],
    /// Fraction of the way from `a` to `b`.
    pub fl: f32,
    /// Sample position (padded coordinates) of the first voxel.
    pub s0: f32,
    /// Step of the sample position per voxel.
    pub ds: f32,
    /// Weight of this view for this line.
    pub weight: f32,
    /// Positions are clamped into `[lo, hi]`, which lies in the zero padding beyond the data.
    pub lo: f32,
    /// See `lo`.
    pub hi: f32,
}

/// Whether the AVX-512 kernels (F and DQ) run on this CPU (and are not disabled by setting
/// `ROBOCT_NO_AVX512`).
pub fn avx512_available() -> bool {
    use std::sync::OnceLock;
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| std::env::var_os("ROBOCT_NO_AVX512").is_none() && cpu_has_avx512())
}

/// Whether the CPU has the AVX-512 subsets the kernels use (the tile kernel needs DQ as well
/// as F: a CPU with F alone, such as Xeon Phi, must take the portable path).
fn cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// For the tests that cross-check an AVX-512 kernel against its scalar twin: whether the CPU
/// can run it (whatever `ROBOCT_NO_AVX512` says, since those tests call the kernels
/// directly). Where it cannot, the test says so loudly, and fails if `ROBOCT_REQUIRE_AVX512`
/// is set: `scripts/test` sets it on CPUs whose /proc/cpuinfo lists AVX-512, so a detection
/// bug cannot silently skip the kernels' tests.
#[cfg(test)]
pub(crate) fn avx512_testable() -> bool {
    let has = cpu_has_avx512();
    if !has {
        eprintln!(
            "WARNING: this CPU lacks AVX-512F/DQ: the AVX-512 kernels are NOT tested on this \
             machine, only the scalar ones"
        );
        assert!(
            std::env::var_os("ROBOCT_REQUIRE_AVX512").is_none(),
            "ROBOCT_REQUIRE_AVX512 is set but AVX-512F/DQ was not detected"
        );
    }
    has
}

/// The reference implementation.
pub(crate) fn accumulate_scalar(acc: &mut [f32], job: &LineJob<'_>) {
    let (a, b) = (job.a, job.b);
    for (k, out) in acc.iter_mut().enumerate() {
        let s = (job.s0 + k as f32 * job.ds).clamp(job.lo, job.hi);
        let sf = s.floor();
        let f = s - sf;
        let i = sf as usize;
        let va = a[i] + f * (a[i + 1] - a[i]);
        let vb = b[i] + f * (b[i + 1] - b[i]);
        *out += job.weight * (va + job.fl * (vb - va));
    }
}

/// AVX-512 version of [`accumulate_scalar`], 16 voxels at a time.
///
/// When the 16 sample positions span fewer than 31 samples (whenever `|ds| < 2`, the usual
/// case), two 16-wide loads from each detector line and two-source permutes fetch both
/// interpolation neighbours for all lanes, with no gather; otherwise gathers do it. Nothing is
/// copied or zeroed per call: the cost per call is a few scalar operations.
///
/// # Safety
/// The CPU must support AVX-512F. `job.a` and `job.b` must be readable from `floor(lo)` to
/// `ceil(hi) + 32`, which `store::LineStore::line` guarantees for the clamp bounds the
/// back-projector uses (`lo >= 1`, `hi <= n_samples + 2 PAD - 2`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) unsafe fn accumulate_avx512(acc: &mut [f32], job: &LineJob<'_>) {
    // A line that falls exactly on a detector line (every 2D scan, whose single row sits at
    // line 0) needs only one: half the loads and permutes.
    // SAFETY: forwarded from this function's contract.
    unsafe {
        if job.fl == 0.0 {
            accumulate_avx512_lines::<false>(acc, job)
        } else {
            accumulate_avx512_lines::<true>(acc, job)
        }
    }
}

/// [`accumulate_avx512`] interpolating between two detector lines (`TWO`) or reading line `a`
/// alone (`fl == 0`).
///
/// # Safety
/// As [`accumulate_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn accumulate_avx512_lines<const TWO: bool>(acc: &mut [f32], job: &LineJob<'_>) {
    use std::arch::x86_64::*;
    let n = acc.len();
    let (pa, pb) = (job.a.as_ptr(), job.b.as_ptr());
    let iota = _mm512_setr_ps(
        0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15.,
    );
    let one = _mm512_set1_epi32(1);
    let ds = _mm512_set1_ps(job.ds);
    let s0 = _mm512_set1_ps(job.s0);
    let lo = _mm512_set1_ps(job.lo);
    let hi = _mm512_set1_ps(job.hi);
    let weight = _mm512_set1_ps(job.weight);
    let fl = _mm512_set1_ps(job.fl);
    let mut k = 0usize;
    while k < n {
        let remaining = n - k;
        let mask: __mmask16 = if remaining >= 16 {
            0xffff
        } else {
            (1u16 << remaining) - 1
        };
        let kv = _mm512_add_ps(_mm512_set1_ps(k as f32), iota);
        // Dead lanes of the last vector are clamped like live ones, so they stay in range.
        let s = _mm512_min_ps(_mm512_max_ps(_mm512_fmadd_ps(kv, ds, s0), lo), hi);
        let sf = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(s);
        let frac = _mm512_sub_ps(s, sf);
        let idx = _mm512_cvttps_epi32(sf);
        // Positions are monotonic in the lane, so lanes 0 and 15 bound all indices.
        let first = _mm512_cvtsi512_si32(idx);
        let last = _mm_extract_epi32::<3>(_mm512_extracti32x4_epi32::<3>(idx));
        let (lo_i, hi_i) = if first <= last {
            (first, last)
        } else {
            (last, first)
        };
        let (va0, va1, vb0, vb1) = if hi_i - lo_i < 31 {
            let base = lo_i as usize;
            // SAFETY: base >= floor(lo) and base + 31 <= hi_i + 31 <= ceil(hi) + 31: readable.
            let (a0, a1) = unsafe {
                (
                    _mm512_loadu_ps(pa.add(base)),
                    _mm512_loadu_ps(pa.add(base + 16)),
                )
            };
            let rel = _mm512_sub_epi32(idx, _mm512_set1_epi32(lo_i));
            let rel1 = _mm512_add_epi32(rel, one);
            let (va0, va1) = (
                _mm512_permutex2var_ps(a0, rel, a1),
                _mm512_permutex2var_ps(a0, rel1, a1),
            );
            if TWO {
                // SAFETY: as above, for line b.
                let (b0, b1) = unsafe {
                    (
                        _mm512_loadu_ps(pb.add(base)),
                        _mm512_loadu_ps(pb.add(base + 16)),
                    )
                };
                (
                    va0,
                    va1,
                    _mm512_permutex2var_ps(b0, rel, b1),
                    _mm512_permutex2var_ps(b0, rel1, b1),
                )
            } else {
                (va0, va1, va0, va1)
            }
        } else {
            let idx1 = _mm512_add_epi32(idx, one);
            // SAFETY: every index is in [floor(lo), floor(hi)] and index + 1 is readable.
            unsafe {
                (
                    _mm512_i32gather_ps::<4>(idx, pa),
                    _mm512_i32gather_ps::<4>(idx1, pa),
                    _mm512_i32gather_ps::<4>(idx, pb),
                    _mm512_i32gather_ps::<4>(idx1, pb),
                )
            }
        };
        let va = _mm512_fmadd_ps(frac, _mm512_sub_ps(va1, va0), va0);
        let val = if TWO {
            let vb = _mm512_fmadd_ps(frac, _mm512_sub_ps(vb1, vb0), vb0);
            _mm512_fmadd_ps(fl, _mm512_sub_ps(vb, va), va)
        } else {
            va
        };
        // SAFETY: the mask covers only lanes k..n of acc.
        unsafe {
            let cur = _mm512_maskz_loadu_ps(mask, acc.as_ptr().add(k));
            _mm512_mask_storeu_ps(
                acc.as_mut_ptr().add(k),
                mask,
                _mm512_fmadd_ps(weight, val, cur),
            );
        }
        k += 16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32) / (1u64 << 24) as f32
    }

    /// The fast path agrees with the scalar reference on random lines, steps (small, large,
    /// negative) and clamping (rav1e's check_asm idea).
    #[test]
    fn fast_kernel_matches_scalar() {
        #[cfg(target_arch = "x86_64")]
        {
            if !avx512_testable() {
                return;
            }
            let mut seed = 7u64;
            let n_samples = 300;
            let stride = n_samples + 2 * crate::store::PAD;
            for case in 0..2000 {
                let line: Vec<f32> = (0..stride + 64)
                    .map(|i| {
                        if (crate::store::PAD..crate::store::PAD + n_samples).contains(&i) {
                            lcg(&mut seed) - 0.5
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let line2: Vec<f32> = line
                    .iter()
                    .rev()
                    .map(|v| v * 0.5 + 0.1 * (lcg(&mut seed) - 0.5))
                    .collect();
                let n = 1 + (lcg(&mut seed) * 90.0) as usize;
                let ds = match case % 4 {
                    0 => (lcg(&mut seed) - 0.5) * 3.8,
                    1 => (lcg(&mut seed) - 0.5) * 12.0,
                    2 => 1.0,
                    _ => (lcg(&mut seed) - 0.5) * 0.2,
                };
                let job = LineJob {
                    a: &line,
                    b: &line2,
                    // One case in eight on a detector line exactly (the one-line path).
                    fl: if case % 8 == 5 { 0.0 } else { lcg(&mut seed) },
                    s0: (lcg(&mut seed) * 1.4 - 0.2) * stride as f32,
                    ds,
                    weight: 0.5 + lcg(&mut seed),
                    lo: 1.0,
                    hi: (stride - 2) as f32,
                };
                let init: Vec<f32> = (0..n).map(|_| lcg(&mut seed)).collect();
                let mut want = init.clone();
                accumulate_scalar(&mut want, &job);
                let mut got = init.clone();
                // SAFETY: AVX-512 checked above; lines have 64 floats of slack.
                unsafe { accumulate_avx512(&mut got, &job) };
                // Positions near 400 carry f32 rounding of ~3e-5 samples, and the fast path fuses
                // the multiply-add the scalar one rounds twice: on random lines (slopes up to 1
                // per sample) that allows differences of a few 1e-5.
                for k in 0..n {
                    assert!(
                        (want[k] - got[k]).abs() < 1e-4 * (1.0 + want[k].abs()),
                        "case {case} k {k}: {} vs {}",
                        want[k],
                        got[k]
                    );
                }
            }
        }
    }
}
