//! Analytic phantoms for CT: sums of uniform ellipsoids, with exact line integrals.
//!
//! Projections computed here are exact per ray (a chord length through each ellipsoid, in
//! closed form), not made by a discrete projector: tests that reconstruct them compare a
//! reconstruction with the truth without the "inverse crime" of using the same discrete model
//! both ways. Rasterised truth volumes average each voxel by supersampling near the ellipsoid
//! surfaces only, so a 256^3 truth costs about as much as a few projections.
//!
//! Main items: [`Phantom`] (with [`Phantom::shepp_logan_2d`], [`Phantom::shepp_logan_3d`] and
//! [`Phantom::from_toml`]), [`Phantom::line_integral`], [`Phantom::project`],
//! [`Phantom::rasterize`].
//!
//! Patients in HU: [`material`] (tissues and any elemental composition, with energy-dependent
//! attenuation from the NIST tables), [`solid`] (clipped quadrics with exact ray intervals),
//! [`patient`] (a painter's list of solids of materials: exact polychromatic-ready projections
//! in water and bone millimetres, truth volumes and measurements), [`head`] (an anthropomorphic
//! head with haemorrhages of every type and distractors, random from a seed), [`chest`], and
//! [`truth`] (`truth.json`).

#![forbid(unsafe_code)]

use std::path::Path;

use ndarray::{Array3, Axis};
use rayon::prelude::*;
use roboct_core::{NoProgress, Progress};
use roboct_geometry::vec3::{Vec3, dot, mat_mul, mat_vec, sub, transpose};
use roboct_geometry::{ScanGeometry, Volume, VolumeGrid};

pub mod chest;
pub mod head;
pub mod material;
pub mod patient;
pub mod solid;
mod tables;
pub mod truth;

/// Why a phantom description was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhantomError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid, or a value is out of range.
    #[error("{path}: {message}")]
    Invalid {
        /// The file (or `<builtin>`).
        path: std::path::PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A phantom name that [`Phantom::named`] does not know.
    #[error(
        "unknown phantom {0:?}; expected shepp-logan-2d, shepp-logan-3d, shepp-logan-3d-odl or a .toml file of ellipsoids"
    )]
    UnknownName(String),
}

/// A uniform ellipsoid.
#[derive(Clone, Debug, PartialEq)]
pub struct Ellipsoid {
    /// Centre, world mm.
    pub center_mm: Vec3,
    /// Semi-axes along the ellipsoid's own axes, mm.
    pub semi_axes_mm: Vec3,
    /// Columns are the ellipsoid's axes in the world (a rotation matrix).
    pub rotation: [[f64; 3]; 3],
    /// Value added inside (linear attenuation in 1/mm for projections in line integrals).
    pub value: f64,
}

impl Ellipsoid {
    /// Maps a world point or direction into the frame where the ellipsoid is the unit ball.
    fn to_unit(&self, v: Vec3) -> Vec3 {
        let local = mat_vec(transpose(self.rotation), v);
        [
            local[0] / self.semi_axes_mm[0],
            local[1] / self.semi_axes_mm[1],
            local[2] / self.semi_axes_mm[2],
        ]
    }

    /// Length (mm) of the chord of the line `origin + t dir` (`dir` a unit vector) inside the
    /// ellipsoid: in the unit-ball frame the line is `p + t d`, and `|p + t d|^2 = 1` has the
    /// roots' distance `2 sqrt(b^2 - a c) / a` with `a = |d|^2, b = p.d, c = |p|^2 - 1`.
    pub fn chord_mm(&self, origin: Vec3, dir: Vec3) -> f64 {
        let p = self.to_unit(sub(origin, self.center_mm));
        let d = self.to_unit(dir);
        let a = dot(d, d);
        let b = dot(p, d);
        let c = dot(p, p) - 1.0;
        let disc = b * b - a * c;
        if disc <= 0.0 {
            0.0
        } else {
            2.0 * disc.sqrt() / a
        }
    }

    /// `|to_unit(p - centre)|`: below 1 inside, above 1 outside.
    fn radius(&self, p: Vec3) -> f64 {
        let q = self.to_unit(sub(p, self.center_mm));
        dot(q, q).sqrt()
    }

    /// World-axis-aligned half extents of the ellipsoid's bounding box.
    fn half_extent(&self) -> Vec3 {
        std::array::from_fn(|r| {
            (0..3)
                .map(|c| (self.rotation[r][c] * self.semi_axes_mm[c]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
    }
}

/// Rotation about z by `deg` degrees (counter-clockwise from +x towards +y).
pub fn rot_z_deg(deg: f64) -> [[f64; 3]; 3] {
    let (s, c) = deg.to_radians().sin_cos();
    [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
}

fn rot_x_deg(deg: f64) -> [[f64; 3]; 3] {
    let (s, c) = deg.to_radians().sin_cos();
    [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]]
}

/// Rotation by Euler angles (z, x', z'') in degrees: `Rz(phi) Rx(theta) Rz(psi)`.
pub fn euler_zxz_deg(phi: f64, theta: f64, psi: f64) -> [[f64; 3]; 3] {
    mat_mul(rot_z_deg(phi), mat_mul(rot_x_deg(theta), rot_z_deg(psi)))
}

/// Which 3D Shepp-Logan table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SheppLogan3d {
    /// Kak & Slaney's table as in Koay et al. 2007 (the common "3D Shepp-Logan").
    KakSlaney,
    /// ODL's extension of the 2D table (all centres at z = 0).
    Odl,
}

/// A sum of uniform ellipsoids.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Phantom {
    /// The ellipsoids; values add where they overlap.
    pub ellipsoids: Vec<Ellipsoid>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PhantomFile {
    #[serde(default)]
    ellipsoid: Vec<EllipsoidEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EllipsoidEntry {
    center_mm: Vec3,
    semi_axes_mm: Vec3,
    #[serde(default)]
    rotation_deg: f64,
    euler_deg: Option<Vec3>,
    value: f64,
}

impl Phantom {
    /// A phantom by the name users give it: `shepp-logan-2d`, `shepp-logan-3d` (or
    /// `shepp-logan`, Kak & Slaney's), `shepp-logan-3d-odl`, or a `.toml` file of ellipsoids
    /// (read with [`Phantom::read_toml`]). The Shepp-Logan ones map [-1, 1] to
    /// [-half_size_mm, half_size_mm] and multiply their intensities by `value_scale`;
    /// `original` picks the 1974 intensities over the modified ones.
    pub fn named(
        name: &str,
        half_size_mm: f64,
        value_scale: f64,
        original: bool,
    ) -> Result<Self, PhantomError> {
        let modified = !original;
        Ok(match name {
            "shepp-logan-2d" => Self::shepp_logan_2d(half_size_mm, modified, value_scale),
            "shepp-logan-3d" | "shepp-logan" => {
                Self::shepp_logan_3d(SheppLogan3d::KakSlaney, half_size_mm, modified, value_scale)
            }
            "shepp-logan-3d-odl" => {
                Self::shepp_logan_3d(SheppLogan3d::Odl, half_size_mm, modified, value_scale)
            }
            file if file.ends_with(".toml") => Self::read_toml(Path::new(file))?,
            other => return Err(PhantomError::UnknownName(other.to_string())),
        })
    }

    /// The 2D Shepp-Logan phantom in the plane z = 0 (each ellipse an ellipsoid elongated far
    /// along z, so its section at z = 0 is exactly the ellipse), with the table's [-1, 1]
    /// square mapped to [-half_size_mm, half_size_mm]. `modified` picks Toft's higher-contrast
    /// intensities (1, -0.8, -0.2, 0.1...), otherwise the 1974 ones (2, -0.98, -0.02, 0.01...).
    /// Values are multiplied by `value_scale`.
    pub fn shepp_logan_2d(half_size_mm: f64, modified: bool, value_scale: f64) -> Self {
        let ellipsoids = tables::shepp_logan_2d()
            .into_iter()
            .map(|e| Ellipsoid {
                center_mm: [e.center[0] * half_size_mm, e.center[1] * half_size_mm, 0.0],
                semi_axes_mm: [
                    e.axes[0] * half_size_mm,
                    e.axes[1] * half_size_mm,
                    1e6 * half_size_mm,
                ],
                rotation: rot_z_deg(e.rotation_deg),
                value: value_scale * if modified { e.modified } else { e.original },
            })
            .collect();
        Self { ellipsoids }
    }

    /// A 3D Shepp-Logan phantom, the table's [-1, 1]^3 cube mapped to
    /// [-half_size_mm, half_size_mm]^3.
    pub fn shepp_logan_3d(
        variant: SheppLogan3d,
        half_size_mm: f64,
        modified: bool,
        value_scale: f64,
    ) -> Self {
        let rows = match variant {
            SheppLogan3d::KakSlaney => tables::shepp_logan_3d_kak_slaney(),
            SheppLogan3d::Odl => tables::shepp_logan_3d_odl(),
        };
        let ellipsoids = rows
            .into_iter()
            .map(|e| Ellipsoid {
                center_mm: e.center.map(|c| c * half_size_mm),
                semi_axes_mm: e.axes.map(|a| a * half_size_mm),
                rotation: rot_z_deg(e.rotation_deg),
                value: value_scale * if modified { e.modified } else { e.original },
            })
            .collect();
        Self { ellipsoids }
    }

    /// A phantom from a TOML list of ellipsoids:
    ///
    /// ```toml
    /// [[ellipsoid]]
    /// center_mm = [0.0, 0.0, 0.0]
    /// semi_axes_mm = [80.0, 100.0, 90.0]
    /// rotation_deg = 0.0          # about z; or euler_deg = [phi, theta, psi] (z, x', z'')
    /// value = 0.02                # linear attenuation, 1/mm
    /// ```
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, PhantomError> {
        let invalid = |message: String| PhantomError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let file: PhantomFile =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
        if file.ellipsoid.is_empty() {
            return Err(invalid("no [[ellipsoid]] entries".into()));
        }
        let mut ellipsoids = Vec::new();
        for (i, e) in file.ellipsoid.into_iter().enumerate() {
            let finite = e
                .center_mm
                .iter()
                .chain(&e.semi_axes_mm)
                .all(|v| v.is_finite())
                && e.value.is_finite();
            if !finite {
                return Err(invalid(format!(
                    "ellipsoid {i}: a value is NaN or infinite"
                )));
            }
            if let Some(a) = e.semi_axes_mm.iter().find(|a| **a <= 0.0) {
                return Err(invalid(format!(
                    "ellipsoid {i}: semi_axes_mm has {a}; expected sizes > 0 mm"
                )));
            }
            let rotation = match e.euler_deg {
                Some([phi, theta, psi]) => {
                    if e.rotation_deg != 0.0 {
                        return Err(invalid(format!(
                            "ellipsoid {i}: give rotation_deg or euler_deg, not both"
                        )));
                    }
                    euler_zxz_deg(phi, theta, psi)
                }
                None => rot_z_deg(e.rotation_deg),
            };
            ellipsoids.push(Ellipsoid {
                center_mm: e.center_mm,
                semi_axes_mm: e.semi_axes_mm,
                rotation,
                value: e.value,
            });
        }
        Ok(Self { ellipsoids })
    }

    /// Reads [`Phantom::from_toml`] from a file.
    pub fn read_toml(path: &Path) -> Result<Self, PhantomError> {
        let text = std::fs::read_to_string(path).map_err(|source| PhantomError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// The line integral of the phantom along `origin + t dir` (`dir` a unit vector), over the
    /// whole line.
    pub fn line_integral(&self, origin: Vec3, dir: Vec3) -> f64 {
        self.ellipsoids
            .iter()
            .map(|e| e.value * e.chord_mm(origin, dir))
            .sum()
    }

    /// The phantom's value at a world point.
    pub fn value_at(&self, p: Vec3) -> f64 {
        self.ellipsoids
            .iter()
            .filter(|e| e.radius(p) <= 1.0)
            .map(|e| e.value)
            .sum()
    }

    /// Exact projections `[view][row][col]` for `geometry`, each pixel the mean of
    /// `supersample` x `supersample` rays spread evenly over its area (1: the ray through the
    /// pixel centre).
    pub fn project(
        &self,
        geometry: &ScanGeometry,
        supersample: usize,
        progress: &dyn Progress,
    ) -> Array3<f32> {
        let (nv, rows, cols) = geometry.projection_shape();
        let det = geometry.detector();
        let n = supersample.max(1);
        let offsets: Vec<f64> = (0..n).map(|k| (k as f64 + 0.5) / n as f64 - 0.5).collect();
        let inv = 1.0 / (n * n) as f64;
        // Start parallel rays well before anything the phantom holds.
        let back_mm = 1.0
            + self
                .ellipsoids
                .iter()
                .map(|e| {
                    dot(e.center_mm, e.center_mm).sqrt()
                        + e.semi_axes_mm.iter().cloned().fold(0.0, f64::max).min(1e7)
                })
                .fold(0.0, f64::max);
        let mut out = Array3::<f32>::zeros((nv, rows, cols));
        progress.start("projecting", nv as u64);
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(geometry.views().par_iter())
            .for_each(|(mut img, view)| {
                for r in 0..rows {
                    for c in 0..cols {
                        let mut sum = 0.0;
                        for &dr in &offsets {
                            for &dc in &offsets {
                                let (o, d) = view.ray(
                                    det,
                                    det.u_mm(c as f64 + dc),
                                    det.v_mm(r as f64 + dr),
                                    back_mm,
                                );
                                sum += self.line_integral(o, d);
                            }
                        }
                        img[[r, c]] = (sum * inv) as f32;
                    }
                }
                progress.advance(1);
            });
        progress.finish();
        out
    }

    /// The phantom sampled on `grid`: each voxel is the mean of `supersample`^3 points evenly
    /// spread over it (1: its centre). Only voxels cut by an ellipsoid's surface are
    /// supersampled; voxels wholly inside or outside are decided from their centre.
    pub fn rasterize(&self, grid: &VolumeGrid, supersample: usize) -> Volume {
        let n = supersample.max(1);
        let (nz, ny, nx) = grid.shape_zyx();
        let spacing = grid.spacing_mm();
        let half_diag = 0.5 * dot(spacing, spacing).sqrt();
        let offsets: Vec<f64> = (0..n).map(|k| (k as f64 + 0.5) / n as f64 - 0.5).collect();
        let inv = 1.0 / (n * n * n) as f64;
        let mut data = Array3::<f32>::zeros((nz, ny, nx));
        data.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(k, mut slice)| {
                for e in &self.ellipsoids {
                    // Voxels whose centre is within half a diagonal of the surface are supersampled.
                    let min_axis = e.semi_axes_mm.iter().cloned().fold(f64::INFINITY, f64::min);
                    let margin = half_diag / min_axis;
                    let ext = e.half_extent();
                    // Index-space bounding box of the world box (all 8 corners: the grid may be
                    // rotated), one voxel wider on each side.
                    let mut lo = [f64::INFINITY; 3];
                    let mut hi = [f64::NEG_INFINITY; 3];
                    for corner in 0..8 {
                        let p: Vec3 = std::array::from_fn(|a| {
                            e.center_mm[a]
                                + if corner >> a & 1 == 1 {
                                    ext[a]
                                } else {
                                    -ext[a]
                                }
                        });
                        let idx = grid.index_from_world(p);
                        for a in 0..3 {
                            lo[a] = lo[a].min(idx[a]);
                            hi[a] = hi[a].max(idx[a]);
                        }
                    }
                    let size = [nx, ny, nz];
                    let range = |a: usize| -> Option<(usize, usize)> {
                        let l = (lo[a].floor() - 1.0).max(0.0);
                        let h = (hi[a].ceil() + 1.0).min(size[a] as f64 - 1.0);
                        (l <= h).then_some((l as usize, h as usize))
                    };
                    let (Some((zl, zh)), Some((yl, yh)), Some((xl, xh))) =
                        (range(2), range(1), range(0))
                    else {
                        continue;
                    };
                    if k < zl || k > zh {
                        continue;
                    }
                    for j in yl..=yh {
                        for i in xl..=xh {
                            let centre = grid.world_from_index([i as f64, j as f64, k as f64]);
                            let r = e.radius(centre);
                            let fraction = if r < 1.0 - margin {
                                1.0
                            } else if r > 1.0 + margin {
                                0.0
                            } else {
                                let mut inside = 0usize;
                                for &dz in &offsets {
                                    for &dy in &offsets {
                                        for &dx in &offsets {
                                            let p = grid.world_from_index([
                                                i as f64 + dx,
                                                j as f64 + dy,
                                                k as f64 + dz,
                                            ]);
                                            inside += (e.radius(p) <= 1.0) as usize;
                                        }
                                    }
                                }
                                inside as f64 * inv
                            };
                            if fraction > 0.0 {
                                slice[[j, i]] += (e.value * fraction) as f32;
                            }
                        }
                    }
                }
            });
        Volume::from_array(grid.clone(), data).expect("array made with the grid's shape")
    }

    /// Projections with no progress reporting.
    pub fn project_quiet(&self, geometry: &ScanGeometry, supersample: usize) -> Array3<f32> {
        self.project(geometry, supersample, &NoProgress)
    }
}

impl roboct_core::Recover for PhantomError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            PhantomError::Read { .. }
            | PhantomError::Invalid { .. }
            | PhantomError::UnknownName(_) => roboct_core::Recovery::Abort,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn phantoms_by_name_and_an_unknown_name_refused() {
        let p = Phantom::named("shepp-logan", 100.0, 0.02, false).unwrap();
        let kak = Phantom::shepp_logan_3d(SheppLogan3d::KakSlaney, 100.0, true, 0.02);
        assert_eq!(p, kak);
        let two_d = Phantom::named("shepp-logan-2d", 100.0, 1.0, true).unwrap();
        assert_eq!(two_d, Phantom::shepp_logan_2d(100.0, false, 1.0));
        let e = Phantom::named("cube", 100.0, 1.0, false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unknown phantom \"cube\"; expected"),
            "{e}"
        );
    }

    use super::*;
    use proptest::prelude::*;

    fn ball(r: f64, value: f64) -> Ellipsoid {
        Ellipsoid {
            center_mm: [0.0; 3],
            semi_axes_mm: [r; 3],
            rotation: rot_z_deg(0.0),
            value,
        }
    }

    #[test]
    fn chord_through_a_ball_is_its_diameter_at_the_centre() {
        let b = ball(10.0, 1.0);
        assert!((b.chord_mm([-100.0, 0.0, 0.0], [1.0, 0.0, 0.0]) - 20.0).abs() < 1e-12);
        // At distance 6 from the centre: 2 sqrt(100 - 36) = 16.
        assert!((b.chord_mm([6.0, -50.0, 0.0], [0.0, 1.0, 0.0]) - 16.0).abs() < 1e-12);
        assert_eq!(b.chord_mm([11.0, -50.0, 0.0], [0.0, 1.0, 0.0]), 0.0);
    }

    #[test]
    fn rotated_ellipse_chord_matches_its_axes() {
        // Semi-axes 30 (x') and 10 (y'), turned 90 degrees: now 30 along y.
        let e = Ellipsoid {
            center_mm: [5.0, 5.0, 0.0],
            semi_axes_mm: [30.0, 10.0, 40.0],
            rotation: rot_z_deg(90.0),
            value: 1.0,
        };
        assert!((e.chord_mm([5.0, -100.0, 0.0], [0.0, 1.0, 0.0]) - 60.0).abs() < 1e-9);
        assert!((e.chord_mm([-100.0, 5.0, 0.0], [1.0, 0.0, 0.0]) - 20.0).abs() < 1e-9);
    }

    #[test]
    fn shepp_logan_tables_load() {
        let p = Phantom::shepp_logan_2d(100.0, true, 1.0);
        assert_eq!(p.ellipsoids.len(), 10);
        assert_eq!(p.value_at([0.0, 0.0, 0.0]), 1.0 - 0.8);
        let p = Phantom::shepp_logan_3d(SheppLogan3d::KakSlaney, 100.0, true, 1.0);
        assert_eq!(p.ellipsoids.len(), 10);
        // Skull (1.0) only, just inside the outer ellipsoid on the x axis.
        assert_eq!(p.value_at([68.0, 0.0, 0.0]), 1.0);
        assert_eq!(
            Phantom::shepp_logan_3d(SheppLogan3d::Odl, 100.0, false, 1.0)
                .ellipsoids
                .len(),
            10
        );
    }

    #[test]
    fn rasterized_ball_has_the_right_volume() {
        let grid = VolumeGrid::centered([24, 24, 24], [1.0; 3], [0.3, -0.2, 0.1]).unwrap();
        let p = Phantom {
            ellipsoids: vec![ball(8.0, 2.0)],
        };
        let v = p.rasterize(&grid, 4);
        let total: f64 = v.data().iter().map(|&x| x as f64).sum();
        let exact = 2.0 * 4.0 / 3.0 * std::f64::consts::PI * 512.0;
        assert!((total - exact).abs() / exact < 2e-3, "{total} vs {exact}");
    }

    #[test]
    fn toml_phantoms_validate() {
        let ok = "[[ellipsoid]]\ncenter_mm = [0, 0, 0]\nsemi_axes_mm = [1, 2, 3]\nvalue = 0.5\n";
        assert_eq!(
            Phantom::from_toml(ok, Path::new("p.toml"))
                .unwrap()
                .ellipsoids
                .len(),
            1
        );
        for (text, want) in [
            (ok.replace("[1, 2, 3]", "[1, 0, 3]"), "semi_axes_mm"),
            (ok.replace("value = 0.5", "valu = 0.5"), "valu"),
            (ok.replace("value = 0.5", "value = nan"), "NaN"),
            ("".to_string(), "no [[ellipsoid]]"),
            (
                ok.replace(
                    "value = 0.5",
                    "value = 0.5\nrotation_deg = 3\neuler_deg = [1, 2, 3]",
                ),
                "not both",
            ),
        ] {
            let e = Phantom::from_toml(&text, Path::new("p.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(want) && e.starts_with("p.toml"),
                "want {want:?}: {e}"
            );
        }
    }

    proptest! {
        /// The chord agrees with numerical integration of the indicator along the line.
        #[test]
        fn chord_matches_numeric_integration(
            c in proptest::array::uniform3(-5.0f64..5.0),
            axes in proptest::array::uniform3(2.0f64..10.0),
            phi in -180.0f64..180.0,
            theta in -90.0f64..90.0,
            o in proptest::array::uniform3(-3.0f64..3.0),
            d in proptest::array::uniform3(-1.0f64..1.0),
        ) {
            let n = dot(d, d).sqrt();
            prop_assume!(n > 0.1);
            let dir = d.map(|x| x / n);
            let e = Ellipsoid { center_mm: c, semi_axes_mm: axes, rotation: euler_zxz_deg(phi, theta, 10.0), value: 1.0 };
            let start = sub(o, dir.map(|x| x * 40.0));
            let steps = 40_000;
            let h = 80.0 / steps as f64;
            let numeric: f64 = (0..steps)
                .map(|k| {
                    let t = (k as f64 + 0.5) * h;
                    let p = [start[0] + t * dir[0], start[1] + t * dir[1], start[2] + t * dir[2]];
                    if e.radius(p) <= 1.0 { h } else { 0.0 }
                })
                .sum();
            prop_assert!((e.chord_mm(start, dir) - numeric).abs() < 3.0 * h);
        }
    }
}
