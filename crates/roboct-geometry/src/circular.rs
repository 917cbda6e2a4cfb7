//! Circular scans, built the way RTK describes a projection, in RTK's frame or in ours.
//!
//! RTK (`rtk::ThreeDCircularProjectionGeometry`) places each projection with nine numbers: the
//! gantry, out-of-plane and in-plane angles, the source-to-isocentre and source-to-detector
//! distances, and the source and detector (projection) offsets. [`rtk_view`] turns them into a
//! [`View`] in RTK's world frame (rotation axis +y), reproducing RTK's projection matrices
//! exactly (tested against matrices written by `rtksimulatedgeometry`). Our own frame has the
//! rotation axis along +z (the patient axis); [`RTK_TO_ROBOCT`] maps one to the other, and the
//! native builders are RTK's construction followed by that rotation, so the two can never drift
//! apart.

use crate::scan::{Detector, DetectorShape, GeometryError, Orbit, ScanGeometry, Source, View, bad};
use crate::vec3::{Vec3, mat_mul, mat_vec, transpose};

/// RTK's per-projection parameters (`AddProjection` in RTK; angles in degrees there, radians
/// here; lengths in mm). `sdd_mm == 0` means a parallel beam, as in RTK.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RtkProjection {
    /// Source to isocentre distance.
    pub sid_mm: f64,
    /// Source to detector distance; 0 for parallel beams.
    pub sdd_mm: f64,
    /// Gantry angle (rotation about +y), rad.
    pub gantry_rad: f64,
    /// Detector origin offset (x, y) in the rotated frame (RTK's ProjectionOffsetX/Y).
    pub projection_offset_mm: [f64; 2],
    /// Out-of-plane angle (rotation about x), rad.
    pub out_of_plane_rad: f64,
    /// In-plane angle (rotation about the detector normal), rad.
    pub in_plane_rad: f64,
    /// Source offset (x, y) in the rotated frame (RTK's SourceOffsetX/Y).
    pub source_offset_mm: [f64; 2],
}

/// Rotation taking RTK's world coordinates to roboct's: `(x, y, z)_rtk -> (x, -z, y)`, so
/// that RTK's rotation axis (+y) becomes our +z and RTK's source at gantry angle 0, on +z,
/// becomes our source at angle 0, on -y. A proper rotation (determinant +1).
pub const RTK_TO_ROBOCT: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]];

fn rot_x(a: f64) -> [[f64; 3]; 3] {
    let (s, c) = a.sin_cos();
    [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]]
}

fn rot_y(a: f64) -> [[f64; 3]; 3] {
    let (s, c) = a.sin_cos();
    [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]
}

fn rot_z(a: f64) -> [[f64; 3]; 3] {
    let (s, c) = a.sin_cos();
    [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
}

impl RtkProjection {
    /// RTK's rotation `M_R = Rz(-in) Rx(-out) Ry(-gantry)`, which takes world coordinates to
    /// the rotated (detector-aligned) frame.
    pub fn rotation(&self) -> [[f64; 3]; 3] {
        mat_mul(
            rot_z(-self.in_plane_rad),
            mat_mul(rot_x(-self.out_of_plane_rad), rot_y(-self.gantry_rad)),
        )
    }

    /// RTK's 3x4 projection matrix: world point (homogeneous) to detector (u w, v w, w),
    /// exactly as `ThreeDCircularProjectionGeometry::AddProjectionInRadians` builds it.
    pub fn matrix(&self) -> [[f64; 4]; 3] {
        let r = self.rotation();
        let [sx, sy] = self.source_offset_mm;
        let [px, py] = self.projection_offset_mm;
        // Rows of Mag * T_src applied to the rotated point (x', y', z', 1).
        let (m0, m1, m2): ([f64; 4], [f64; 4], [f64; 4]) = if self.sdd_mm == 0.0 {
            (
                [1.0, 0.0, 0.0, -sx],
                [0.0, 1.0, 0.0, -sy],
                [0.0, 0.0, 0.0, 1.0],
            )
        } else {
            let d = -self.sdd_mm;
            (
                [d, 0.0, 0.0, -d * sx],
                [0.0, d, 0.0, -d * sy],
                [0.0, 0.0, 1.0, -self.sid_mm],
            )
        };
        // M_P adds (sx - px, sy - py) times w.
        let rows = [
            std::array::from_fn::<f64, 4, _>(|k| m0[k] + (sx - px) * m2[k]),
            std::array::from_fn::<f64, 4, _>(|k| m1[k] + (sy - py) * m2[k]),
            m2,
        ];
        std::array::from_fn(|i| {
            let mut out = [0.0; 4];
            for c in 0..3 {
                out[c] = (0..3).map(|k| rows[i][k] * r[k][c]).sum();
            }
            out[3] = rows[i][3];
            out
        })
    }
}

/// The [`View`] described by RTK's parameters, in RTK's world frame.
///
/// In RTK's rotated frame the source is at `(sx, sy, sid)`, the detector origin `(u, v) = (0,
/// 0)` at `(px, py, sid - sdd)` with `u` along x and `v` along y; the world frame is the rotated
/// one turned back by `M_R^T`. For parallel beams (`sdd == 0`) the rays run along -z of the
/// rotated frame. A cylindrical detector has its axis through the source (radius = sdd).
pub fn rtk_view(p: &RtkProjection) -> View {
    let back = transpose(p.rotation());
    let [sx, sy] = p.source_offset_mm;
    let [px, py] = p.projection_offset_mm;
    let (source, detector_mm) = if p.sdd_mm == 0.0 {
        (
            Source::Parallel(mat_vec(back, [0.0, 0.0, -1.0])),
            mat_vec(back, [px, py, -p.sid_mm]),
        )
    } else {
        (
            Source::Point(mat_vec(back, [sx, sy, p.sid_mm])),
            mat_vec(back, [px, py, p.sid_mm - p.sdd_mm]),
        )
    };
    View {
        source,
        detector_mm,
        u_dir: mat_vec(back, [1.0, 0.0, 0.0]),
        v_dir: mat_vec(back, [0.0, 1.0, 0.0]),
    }
}

/// The beam of a circular scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beam {
    /// Parallel rays (synchrotron, or rebinned data).
    Parallel,
    /// A point source (fan beam with one row, cone beam with several).
    Divergent,
}

/// A circular scan in roboct's frame (rotation axis +z, source at angle 0 on -y, angles growing
/// counter-clockwise seen from +z), built by [`CircularScan::build`].
#[derive(Clone, Debug, PartialEq)]
pub struct CircularScan {
    /// Parallel or divergent.
    pub beam: Beam,
    /// Source to isocentre, mm (divergent beams).
    pub sid_mm: f64,
    /// Source to detector, mm (divergent beams).
    pub sdd_mm: f64,
    /// The detector grid (its `origin_mm` holds the detector offsets).
    pub detector: Detector,
    /// Gantry angle of each view, rad.
    pub angles_rad: Vec<f64>,
    /// In-plane rotation of the detector about its normal, rad (RTK's InPlaneAngle).
    pub detector_rotation_rad: f64,
}

impl CircularScan {
    /// Validates the numbers and builds the per-view geometry.
    pub fn build(&self) -> Result<ScanGeometry, GeometryError> {
        if self.angles_rad.is_empty() {
            return Err(GeometryError::NoViews);
        }
        if let Some(i) = self.angles_rad.iter().position(|a| !a.is_finite()) {
            return Err(bad(
                format!("angle {i}"),
                self.angles_rad[i],
                "a finite angle",
            ));
        }
        if !self.detector_rotation_rad.is_finite() {
            return Err(bad(
                "detector.rotation_deg",
                self.detector_rotation_rad,
                "a finite angle",
            ));
        }
        let sdd = match self.beam {
            Beam::Parallel => {
                if self.detector.shape == DetectorShape::Cylindrical {
                    return Err(bad("detector.shape", "arc", "flat for parallel beams"));
                }
                0.0
            }
            Beam::Divergent => {
                if !(self.sid_mm.is_finite() && self.sid_mm > 0.0) {
                    return Err(bad(
                        "source_to_isocenter_mm",
                        self.sid_mm,
                        "a finite distance > 0",
                    ));
                }
                if !(self.sdd_mm.is_finite() && self.sdd_mm > 0.0) {
                    return Err(bad(
                        "source_to_detector_mm",
                        self.sdd_mm,
                        "a finite distance > 0",
                    ));
                }
                if self.sdd_mm < self.sid_mm {
                    return Err(GeometryError::DetectorBeforeIsocenter {
                        sid_mm: self.sid_mm,
                        sdd_mm: self.sdd_mm,
                    });
                }
                self.sdd_mm
            }
        };
        let sid = if self.beam == Beam::Parallel && !(self.sid_mm > 0.0) {
            1000.0
        } else {
            self.sid_mm
        };
        let views = self
            .angles_rad
            .iter()
            .map(|&a| {
                let p = RtkProjection {
                    sid_mm: sid,
                    sdd_mm: sdd,
                    gantry_rad: a,
                    in_plane_rad: self.detector_rotation_rad,
                    ..Default::default()
                };
                to_roboct(&rtk_view(&p))
            })
            .collect();
        let orbit = Orbit {
            axis: [0.0, 0.0, 1.0],
            isocenter_mm: [0.0; 3],
            angles_rad: self.angles_rad.clone(),
        };
        ScanGeometry::new(self.detector.clone(), views, Some(orbit))
    }
}

impl CircularScan {
    /// The same scan as RTK parameters (RTK's frame: apply [`RTK_TO_ROBOCT`] to get ours back).
    /// The detector sampling is not part of an RTK geometry: it goes in the projection images'
    /// header (MetaImage origin = `detector.origin_mm`, spacing = `detector.pixel_mm`).
    pub fn to_rtk(&self) -> crate::rtk::RtkGeometry {
        let sdd = if self.beam == Beam::Parallel {
            0.0
        } else {
            self.sdd_mm
        };
        let sid = if self.beam == Beam::Parallel && !(self.sid_mm > 0.0) {
            1000.0
        } else {
            self.sid_mm
        };
        let projections = self
            .angles_rad
            .iter()
            .map(|&a| RtkProjection {
                sid_mm: sid,
                sdd_mm: sdd,
                gantry_rad: a,
                in_plane_rad: self.detector_rotation_rad,
                ..Default::default()
            })
            .collect();
        let radius = if self.detector.shape == DetectorShape::Cylindrical {
            sdd
        } else {
            0.0
        };
        crate::rtk::RtkGeometry {
            projections,
            cylinder_radius_mm: radius,
        }
    }
}

fn to_roboct(v: &View) -> View {
    let r = |p: Vec3| mat_vec(RTK_TO_ROBOCT, p);
    View {
        source: match v.source {
            Source::Point(p) => Source::Point(r(p)),
            Source::Parallel(d) => Source::Parallel(r(d)),
        },
        detector_mm: r(v.detector_mm),
        u_dir: r(v.u_dir),
        v_dir: r(v.v_dir),
    }
}

/// `count` angles from `start` (inclusive) to `stop` (exclusive), evenly spaced, as RTK's
/// `rtksimulatedgeometry --first_angle --arc --nproj` and ASTRA's usual
/// `linspace(start, stop, count, endpoint=False)`: each view stands for an equal share of the
/// arc.
pub fn even_angles(start_rad: f64, stop_rad: f64, count: usize) -> Vec<f64> {
    let step = (stop_rad - start_rad) / count as f64;
    (0..count).map(|i| start_rad + step * i as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vec3::{dot, norm, sub};

    /// Projects with a 3x4 matrix.
    fn apply(m: &[[f64; 4]; 3], p: Vec3) -> (f64, f64) {
        let h: Vec<f64> = m
            .iter()
            .map(|r| r[0] * p[0] + r[1] * p[1] + r[2] * p[2] + r[3])
            .collect();
        (h[0] / h[2], h[1] / h[2])
    }

    #[test]
    fn rtk_views_project_like_rtk_matrices() {
        let det = Detector::centered(4, 4, [1.0, 1.0], [0.0, 0.0], DetectorShape::Flat);
        let p = RtkProjection {
            sid_mm: 600.0,
            sdd_mm: 1000.0,
            gantry_rad: 0.7,
            projection_offset_mm: [3.0, -2.0],
            out_of_plane_rad: 0.05,
            in_plane_rad: 0.02,
            source_offset_mm: [1.0, 0.5],
        };
        let m = p.matrix();
        let view = rtk_view(&p);
        for x in [[0.0, 0.0, 0.0], [10.0, -20.0, 30.0], [-50.0, 5.0, -7.0]] {
            let (u, v) = apply(&m, x);
            let (pu, pv, _) = view.project(&det, x).unwrap();
            assert!(
                (u - pu).abs() < 1e-9 && (v - pv).abs() < 1e-9,
                "{x:?}: {u},{v} vs {pu},{pv}"
            );
        }
    }

    #[test]
    fn native_cone_matches_astra_vectors() {
        // ASTRA's cone -> cone_vec conversion: src = (sin, -cos, 0) SOD, det = (-sin, cos, 0) ODD,
        // u = (cos, sin, 0), v = (0, 0, 1).
        let scan = CircularScan {
            beam: Beam::Divergent,
            sid_mm: 600.0,
            sdd_mm: 1000.0,
            detector: Detector::centered(8, 4, [1.0, 1.0], [0.0, 0.0], DetectorShape::Flat),
            angles_rad: vec![0.0, 0.4, 2.5],
            detector_rotation_rad: 0.0,
        };
        let g = scan.build().unwrap();
        for (view, &a) in g.views().iter().zip(&scan.angles_rad) {
            let (s, c) = a.sin_cos();
            let Source::Point(src) = view.source else {
                panic!("cone")
            };
            let close = |a: Vec3, b: Vec3| norm(sub(a, b)) < 1e-9;
            assert!(close(src, [600.0 * s, -600.0 * c, 0.0]));
            assert!(close(view.detector_mm, [-400.0 * s, 400.0 * c, 0.0]));
            assert!(close(view.u_dir, [c, s, 0.0]));
            assert!(close(view.v_dir, [0.0, 0.0, 1.0]));
            // u points along the source's motion as the angle grows.
            assert!(dot(view.u_dir, [c, s, 0.0]) > 0.99);
        }
    }

    #[test]
    fn bad_circular_scans_are_refused() {
        let mut scan = CircularScan {
            beam: Beam::Divergent,
            sid_mm: 600.0,
            sdd_mm: 500.0,
            detector: Detector::centered(8, 4, [1.0, 1.0], [0.0, 0.0], DetectorShape::Flat),
            angles_rad: vec![0.0],
            detector_rotation_rad: 0.0,
        };
        assert!(matches!(
            scan.build(),
            Err(GeometryError::DetectorBeforeIsocenter { .. })
        ));
        scan.sdd_mm = f64::NAN;
        assert!(
            scan.build()
                .unwrap_err()
                .to_string()
                .contains("source_to_detector_mm")
        );
        scan.sdd_mm = 1000.0;
        scan.sid_mm = -1.0;
        assert!(
            scan.build()
                .unwrap_err()
                .to_string()
                .contains("source_to_isocenter_mm")
        );
        scan.sid_mm = 600.0;
        scan.angles_rad.clear();
        assert_eq!(scan.build().unwrap_err(), GeometryError::NoViews);
        scan.angles_rad = vec![f64::NAN];
        assert!(scan.build().unwrap_err().to_string().contains("angle 0"));
    }

    #[test]
    fn even_angles_exclude_the_stop() {
        let a = even_angles(0.0, std::f64::consts::PI, 4);
        assert_eq!(a.len(), 4);
        assert!((a[3] - 0.75 * std::f64::consts::PI).abs() < 1e-15);
    }
}
