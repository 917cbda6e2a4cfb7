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
