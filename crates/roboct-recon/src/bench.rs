//! Reference problems for `roboct bench recon` and the comparison scripts.
//!
//! * **P2**: 2D parallel beam, 512 x 512 pixels of 1 mm, 720 views over 180 degrees, 768 bins of
//!   1 mm, FBP; the modified 2D Shepp-Logan phantom filling the image (half-size 256 mm).
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
        let geometry = CircularScan {
            beam: Beam::Parallel,
            sid_mm: 0.0,
            sdd_mm: 0.0,
            detector: Detector::centered(
                768 / s,
                1,
                [pixel, pixel],
                [0.0, 0.0],
                DetectorShape::Flat,
            ),
            angles_rad: even_angles(0.0, std::f64::consts::PI, 720 / s),
            detector_rotation_rad: 0.0,
        }
        .build()
        .expect("valid reference geometry");
        let grid = VolumeGrid::centered([n, n, 1], [pixel; 3], [0.0; 3]).expect("valid grid");
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
        let geometry = CircularScan {
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
        }
        .build()
        .expect("valid reference geometry");
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
        // The phantom fits the panel: every exact projection is zero on the border pixels.
        let pixel = p3.geometry.detector().pixel_mm[0];
        assert!((1.0..2.0).contains(&pixel), "{pixel}");
    }
}
