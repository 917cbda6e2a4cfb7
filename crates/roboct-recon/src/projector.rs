//! Where a voxel lands on the detector, per view, in voxel-index space.
//!
//! For a flat detector (and parallel beams) the map from voxel index `(i, j, k)` to fractional
//! pixel `(col, row)` is projective: three affine rows give `(col w, row w, w)`, with `w` the
//! voxel's depth from the source along the detector normal over the detector's (1 for parallel
//! beams). For a cylindrical detector the three affine rows give the voxel's position relative
//! to the source along the central ray, along `u` and along `v`, and the column is an angle.
//! Kernels build these once per view and evaluate them incrementally.

use roboct_geometry::vec3::{Vec3, cross, dot, norm, scale, sub};
use roboct_geometry::{Detector, DetectorShape, ScanGeometry, Source, View, VolumeGrid};

/// A world-affine function `g . X + g0` re-expressed in voxel indices.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Affine {
    /// Coefficients of (i, j, k).
    pub c: [f64; 3],
    /// Value at index (0, 0, 0).
    pub c0: f64,
}

impl Affine {
    fn from_world(g: Vec3, g0: f64, grid: &VolumeGrid) -> Self {
        let d = grid.direction();
        let s = grid.spacing_mm();
        let o = grid.origin_mm();
        // X = o + D diag(s) idx, so g . X = g . o + sum_a (g . D[:, a]) s_a idx_a.
        let c = std::array::from_fn(|a| (0..3).map(|r| g[r] * d[r][a]).sum::<f64>() * s[a]);
        Self {
            c,
            c0: dot(g, o) + g0,
        }
    }

    #[inline]
    pub fn at(&self, idx: [f64; 3]) -> f64 {
        self.c0 + self.c[0] * idx[0] + self.c[1] * idx[1] + self.c[2] * idx[2]
    }
}

/// How the three rows turn into (col, row, w).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// Rows are `(col w, row w, w)`.
    Projective,
    /// Rows are the source-relative position along the central ray `a`, along `u` `b`, along `v`
    /// `h`; `col = (R atan2(b, a) - u0) / pu`, `row = (R h / L - v0) / pv`, `w = L / R` with
    /// `L = hypot(a, b)`.
    Cylindrical {
        radius: f64,
        u0: f64,
        pu: f64,
        v0: f64,
        pv: f64,
    },
}

/// One view's voxel-to-detector map.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ViewProjector {
    pub rows: [Affine; 3],
    pub kind: Kind,
}

impl ViewProjector {
    pub fn new(view: &View, det: &Detector, grid: &VolumeGrid) -> Self {
        let p00 = view.detector_point(det, det.u_mm(0.0), det.v_mm(0.0));
        match (view.source, det.shape) {
            (Source::Point(s), DetectorShape::Cylindrical) => {
                let c = sub(view.detector_mm, s);
                let radius = norm(c);
                let chat = scale(c, 1.0 / radius);
                let row = |dir: Vec3| Affine::from_world(dir, -dot(dir, s), grid);
                ViewProjector {
                    rows: [row(chat), row(view.u_dir), row(view.v_dir)],
                    kind: Kind::Cylindrical {
                        radius,
                        u0: det.origin_mm[0],
                        pu: det.pixel_mm[0],
                        v0: det.origin_mm[1],
                        pv: det.pixel_mm[1],
                    },
                }
            }
            (Source::Point(s), DetectorShape::Flat) => {
                let u = scale(view.u_dir, det.pixel_mm[0]);
                let v = scale(view.v_dir, det.pixel_mm[1]);
                let n = cross(u, v);
                let den = dot(sub(p00, s), n);
                let vn = cross(v, n);
                let nu = cross(n, u);
                let (uvn, vnu) = (dot(u, vn), dot(v, nu));
                // w(X) = (X - S).N / den
                let w = (scale(n, 1.0 / den), -dot(s, n) / den);
                // col w = [(S - P00).(VxN) w + (X - S).(VxN)] / (U.(VxN))
                let a = dot(sub(s, p00), vn);
                let col = (
                    std::array::from_fn(|r| (a * w.0[r] + vn[r]) / uvn),
                    (a * w.1 - dot(s, vn)) / uvn,
                );
                let b = dot(sub(s, p00), nu);
                let rowf = (
                    std::array::from_fn(|r| (b * w.0[r] + nu[r]) / vnu),
                    (b * w.1 - dot(s, nu)) / vnu,
                );
                ViewProjector {
                    rows: [
                        Affine::from_world(col.0, col.1, grid),
                        Affine::from_world(rowf.0, rowf.1, grid),
                        Affine::from_world(w.0, w.1, grid),
                    ],
                    kind: Kind::Projective,
                }
            }
            (Source::Parallel(d), _) => {
                let u = scale(view.u_dir, det.pixel_mm[0]);
                let v = scale(view.v_dir, det.pixel_mm[1]);
                let n = cross(u, v);
                let vn = cross(v, n);
                let nu = cross(n, u);
                let (uvn, vnu) = (dot(u, vn), dot(v, nu));
                let dn = dot(d, n);
                // Q = X + t d, t = (P00 - X).N / (d.N); col = (Q - P00).(VxN) / (U.(VxN)).
                let lin = |m: Vec3, scale_by: f64| -> (Vec3, f64) {
                    let dm = dot(d, m) / dn;
                    let g: Vec3 = std::array::from_fn(|r| (m[r] - dm * n[r]) / scale_by);
                    let g0 = (dm * dot(p00, n) - dot(p00, m)) / scale_by;
                    (g, g0)
                };
                let col = lin(vn, uvn);
                let rowf = lin(nu, vnu);
                ViewProjector {
                    rows: [
                        Affine::from_world(col.0, col.1, grid),
                        Affine::from_world(rowf.0, rowf.1, grid),
                        Affine {
                            c: [0.0; 3],
                            c0: 1.0,
                        },
                    ],
                    kind: Kind::Projective,
                }
            }
        }
    }

    /// `(col, row, w)` of voxel index `idx`, or `None` at or behind the source.
    #[inline]
    pub fn project(&self, idx: [f64; 3]) -> Option<(f64, f64, f64)> {
        let r0 = self.rows[0].at(idx);
        let r1 = self.rows[1].at(idx);
        let r2 = self.rows[2].at(idx);
        match self.kind {
            Kind::Projective => (r2 > 0.0).then(|| (r0 / r2, r1 / r2, r2)),
            Kind::Cylindrical {
                radius,
                u0,
                pu,
                v0,
                pv,
            } => {
                if r0 <= 0.0 {
                    return None;
                }
                let l = (r0 * r0 + r1 * r1).sqrt();
                Some((
                    (radius * r1.atan2(r0) - u0) / pu,
                    (radius * r2 / l - v0) / pv,
                    l / radius,
                ))
            }
        }
    }
}

/// Projectors for every view. A one-row detector makes a 2D (planar) problem: every voxel of
/// the single slice projects onto row 0, whatever the row's height, as in 2D FBP.
pub(crate) fn projectors(geometry: &ScanGeometry, grid: &VolumeGrid) -> Vec<ViewProjector> {
    let planar = geometry.detector().rows == 1;
    geometry
        .views()
        .iter()
        .map(|v| {
            let mut p = ViewProjector::new(v, geometry.detector(), grid);
            if planar {
                match &mut p.kind {
                    Kind::Projective => {
                        p.rows[1] = Affine {
                            c: [0.0; 3],
                            c0: 0.0,
                        }
                    }
                    Kind::Cylindrical { v0, .. } => {
                        p.rows[2] = Affine {
                            c: [0.0; 3],
                            c0: 0.0,
                        };
                        *v0 = 0.0;
                    }
                }
            }
            p
        })
        .collect()
}

/// A one-row detector reconstructs and projects one slice: refuse a thicker grid.
pub(crate) fn check_planar(
    geometry: &ScanGeometry,
    grid: &VolumeGrid,
) -> Result<(), crate::ReconError> {
    if geometry.detector().rows == 1 && grid.size()[2] != 1 {
        return Err(crate::ReconError::BadOption {
            name: "volume size",
            message: format!(
                "{} slices for a one-row (2D) detector; a 2D scan makes one slice: give size [x, y] or [x, y, 1]",
                grid.size()[2]
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use roboct_geometry::{Beam, CircularScan, Detector, DetectorShape};

    /// The index-space projector agrees with the geometry's own world-space projection.
    #[test]
    fn index_projection_matches_world_projection() {
        let grid = VolumeGrid::with_direction(
            [9, 7, 5],
            [1.5, 0.8, 2.0],
            [-6.0, -2.5, -4.0],
            [[0.6, -0.8, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]],
        )
        .unwrap();
        for (beam, shape) in [
            (Beam::Divergent, DetectorShape::Flat),
            (Beam::Divergent, DetectorShape::Cylindrical),
            (Beam::Parallel, DetectorShape::Flat),
        ] {
            let scan = CircularScan {
                beam,
                sid_mm: 300.0,
                sdd_mm: 520.0,
                detector: Detector::centered(40, 30, [0.9, 1.1], [1.5, -0.7], shape),
                angles_rad: vec![0.0, 0.9, 2.2, 4.0],
                detector_rotation_rad: if shape == DetectorShape::Flat {
                    0.1
                } else {
                    0.0
                },
            }
            .build()
            .unwrap();
            let det = scan.detector();
            for view in scan.views() {
                let p = ViewProjector::new(view, det, &grid);
                for idx in [[0.0, 0.0, 0.0], [8.0, 6.0, 4.0], [3.3, 1.7, 2.5]] {
                    let x = grid.world_from_index(idx);
                    let (u, v, depth) = view.project(det, x).unwrap();
                    let (c, r, w) = p.project(idx).unwrap();
                    assert!(
                        (det.col_of(u) - c).abs() < 1e-9,
                        "{beam:?} {shape:?} col {} vs {c}",
                        det.col_of(u)
                    );
                    assert!(
                        (det.row_of(v) - r).abs() < 1e-9,
                        "{beam:?} {shape:?} row {} vs {r}",
                        det.row_of(v)
                    );
                    assert!(
                        (depth - w).abs() < 1e-12,
                        "{beam:?} {shape:?} depth {depth} vs {w}"
                    );
                }
            }
        }
    }
}
