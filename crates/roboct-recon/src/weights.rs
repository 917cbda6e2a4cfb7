//! Projection weights of FBP and FDK: angular steps, cosine weights and redundancy weights.
//!
//! Every view is multiplied, before ramp filtering, by
//!
//! `d_beta * (sid / sdd) * cos(ray) * redundancy(beta, gamma)`
//!
//! and back-projected with weight `1 / w^2` (`w`: voxel depth over detector depth), which is
//! Feldkamp, Davis & Kress (1984) for a flat panel written in detector millimetres, and Kak &
//! Slaney (1988, ch. 3.4.2) for equiangular detectors. `d_beta` is each view's share of the arc
//! (half the gap to its two neighbours, as RTK's `GetAngularGaps`), so uneven angle lists work.
//!
//! Redundancy weights make every ray count once in total:
//! * a full circle: 1/2 for every ray (each line is measured twice);
//! * a full circle with a displaced detector (half-fan, for a large field of view): Wang (2002)
//!   weights, `(1 + sin(pi gamma / (2 delta))) / 2` across the overlap `|gamma| < delta` and 1 or
//!   0 outside;
//! * a short scan (an arc of 180 degrees plus the fan): Parker (1982) weights, with
//!   `delta = (arc - pi) / 2` from the views themselves as RTK does;
//! * parallel beams over exactly 180 degrees: 1; over more, Parker's weights with no fan.
//!
//! `gamma` is the ray's fan angle from the central ray, positive in the direction the source
//! moves as the gantry angle grows, so a ray (beta, gamma) is measured again as
//! (beta + pi - 2 gamma, -gamma).

use std::f64::consts::PI;

use ndarray::ArrayViewMut2;
use roboct_geometry::vec3::{Vec3, cross, dot, norm, plane_coords, scale, sub};
use roboct_geometry::{DetectorShape, ScanGeometry, Source};

use crate::ReconError;

/// How rays measured more than once are weighted.
#[derive(Clone, Debug, PartialEq)]
pub enum Redundancy {
    /// The same weight for every ray.
    Uniform(f64),
    /// Parker short-scan weights.
    Parker {
        /// Half the extra arc beyond 180 degrees, rad.
        delta_rad: f64,
    },
    /// Wang displaced-detector weights.
    DisplacedDetector {
        /// Half-width of the overlap around the central ray (fan angle, rad; mm for parallel
        /// beams).
        overlap: f64,
        /// +1 when the detector extends further on the +gamma side, -1 otherwise.
        side: f64,
    },
}

/// The weights of one reconstruction, decided once from the geometry.
pub(crate) struct Preweights {
    /// Per view: `d_beta * sid / sdd` (parallel: `d_beta`).
    factor: Vec<f64>,
    /// Per view: what the cosine weight and the fan angle need.
    rays: Vec<ViewRays>,
    /// Per view: angle from the start of the arc (Parker).
    beta: Vec<f64>,
    pub redundancy: Redundancy,
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy)]
enum ViewRays {
    /// Flat panel: distance source-detector plane, principal point (u, v) mm, and the
    /// detector u of the central ray.
    Flat { sdd: f64, up: f64, vp: f64, uc: f64 },
    /// Cylindrical detector of this radius (u = radius * gamma).
    Cylindrical { radius: f64 },
    /// Parallel beam; `uc` is the detector u of the ray through the rotation axis.
    Parallel { uc: f64 },
}

/// The arc a circular scan covers.
#[derive(Clone, Debug)]
pub(crate) struct ArcCoverage {
    /// Each view's share of the arc (rad).
    pub gaps: Vec<f64>,
    /// Each view's angle from the first view of the arc, in the direction of growing angle.
    pub beta: Vec<f64>,
    /// Angle from the first to the last view of the arc.
    pub span: f64,
    /// The typical step between views.
    pub step: f64,
    /// Whether the views go round the whole circle.
    pub full: bool,
}

/// Gaps, arc and start from the views' angles.
pub(crate) fn coverage(angles: &[f64]) -> ArcCoverage {
    let n = angles.len();
    let wrapped: Vec<f64> = angles.iter().map(|a| a.rem_euclid(2.0 * PI)).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| wrapped[a].total_cmp(&wrapped[b]));
    if n == 1 {
        return ArcCoverage {
            gaps: vec![2.0 * PI],
            beta: vec![0.0],
            span: 0.0,
            step: 2.0 * PI,
            full: false,
        };
    }
    // Gap after each sorted angle (to the next, cyclically).
    let next_gap: Vec<f64> = (0..n)
        .map(|s| {
            let a = wrapped[order[s]];
            let b = if s + 1 < n {
                wrapped[order[s + 1]]
            } else {
                wrapped[order[0]] + 2.0 * PI
            };
            b - a
        })
        .collect();
    let mut sorted_gaps = next_gap.clone();
    sorted_gaps.sort_by(f64::total_cmp);
    let step = sorted_gaps[n / 2];
    let (max_pos, &max_gap) = next_gap
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("n >= 2");
    let full = max_gap <= (20f64.to_radians()).max(3.0 * step);
    // Each view's share: half the distance to each neighbour. On a partial arc the views at its
    // ends have a neighbour on one side only; they get half a typical step on the other.
    let mut gaps = vec![0.0; n];
    for s in 0..n {
        let before = next_gap[(s + n - 1) % n];
        let after = next_gap[s];
        let before = if !full && (s + n - 1) % n == max_pos {
            step
        } else {
            before
        };
        let after = if !full && s == max_pos { step } else { after };
        gaps[order[s]] = 0.5 * (before + after);
    }
    let start = wrapped[order[(max_pos + 1) % n]];
    let beta: Vec<f64> = wrapped
        .iter()
        .map(|a| (a - start).rem_euclid(2.0 * PI))
        .collect();
    let span = 2.0 * PI - max_gap;
    ArcCoverage {
        gaps,
        beta,
        span,
        step,
        full,
    }
}

impl Preweights {
    pub fn new(geometry: &ScanGeometry) -> Result<Self, ReconError> {
        let orbit = geometry.orbit().ok_or(ReconError::NoOrbit)?;
        let det = geometry.detector();
        let arc = coverage(&orbit.angles_rad);
        let axis = orbit.axis;
        let iso = orbit.isocenter_mm;
        let mut warnings = Vec::new();

        let mut factor = Vec::with_capacity(geometry.n_views());
        let mut rays = Vec::with_capacity(geometry.n_views());
        for (i, view) in geometry.views().iter().enumerate() {
            let n = cross(view.u_dir, view.v_dir);
            let n = scale(n, 1.0 / norm(n));
            match view.source {
                Source::Point(s) => {
                    let sid = norm(perp(sub(s, iso), axis));
                    match det.shape {
                        DetectorShape::Flat => {
                            let sdd = dot(sub(view.detector_mm, s), n).abs();
                            // Principal point: the foot of the source on the detector plane.
                            let foot = sub(s, scale(n, dot(sub(s, view.detector_mm), n)));
                            let (up, vp) =
                                plane_coords(sub(foot, view.detector_mm), view.u_dir, view.v_dir);
                            let (uc, _, _) = view.project(det, iso).ok_or(ReconError::BadView {
                                view: i,
                                message: "the isocentre is behind the source".into(),
                            })?;
                            factor.push(arc.gaps[i] * sid / sdd);
                            rays.push(ViewRays::Flat { sdd, up, vp, uc });
                        }
                        DetectorShape::Cylindrical => {
                            let radius = norm(sub(view.detector_mm, s));
                            factor.push(arc.gaps[i] * sid / radius);
                            rays.push(ViewRays::Cylindrical { radius });
                        }
                    }
                }
                Source::Parallel(_) => {
                    let (uc, _, _) = view
                        .project(det, iso)
                        .expect("parallel projections always exist");
                    factor.push(arc.gaps[i]);
                    rays.push(ViewRays::Parallel { uc });
                }
            }
        }

        let parallel = geometry.is_parallel();
        // Fan angles the detector spans, from its first and last column edges.
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for r in &rays {
            let g0 = gamma_of(r, det.u_mm(-0.5));
            let g1 = gamma_of(r, det.u_mm(det.cols as f64 - 0.5));
            lo = lo.min(g0.min(g1));
            hi = hi.max(g0.max(g1));
        }
        let pixel_angle = match rays[0] {
            ViewRays::Flat { sdd, .. } => det.pixel_mm[0] / sdd,
            ViewRays::Cylindrical { radius } => det.pixel_mm[0] / radius,
            ViewRays::Parallel { .. } => det.pixel_mm[0],
        };
        let displaced = (hi + lo).abs() > pixel_angle;

        let redundancy = if arc.full {
            if displaced {
                let overlap = (-lo).min(hi);
                if overlap <= 0.0 {
                    return Err(ReconError::Unsupported(
                        "the detector does not reach the central ray: no displaced-detector weighting can fill the field of view".into(),
                    ));
                }
                Redundancy::DisplacedDetector {
                    overlap,
                    side: if hi > -lo { 1.0 } else { -1.0 },
                }
            } else {
                Redundancy::Uniform(0.5)
            }
        } else {
            if displaced {
                return Err(ReconError::Unsupported(
                    "a short scan with a displaced detector: Parker and displaced-detector weights cannot be combined; use a full circle or a centred detector".into(),
                ));
            }
            if parallel {
                let delta = 0.5 * (arc.span + arc.step - PI);
                if delta < -0.5 * arc.step {
                    warnings.push(format!(
                        "the views cover {:.1} degrees, less than the 180 a parallel-beam reconstruction needs",
                        (arc.span + arc.step).to_degrees()
                    ));
                }
                if delta <= 0.5 * arc.step {
                    Redundancy::Uniform(1.0)
                } else {
                    Redundancy::Parker {
                        delta_rad: 0.5 * (arc.span - PI),
                    }
                }
            } else {
                let delta = 0.5 * (arc.span - PI);
                let half_fan = (-lo).max(hi);
                if delta < half_fan {
                    warnings.push(format!(
                        "short scan of {:.1} degrees is less than 180 plus the fan angle ({:.1}): Parker weights cannot make the data complete",
                        arc.span.to_degrees(),
                        180.0 + 2.0 * half_fan.to_degrees()
                    ));
                }
                Redundancy::Parker {
                    delta_rad: delta.max(1e-9),
                }
            }
        };
        Ok(Self {
            factor,
            rays,
            beta: arc.beta,
            redundancy,
            warnings,
        })
    }

    /// Multiplies one view `[row][col]` by its weights.
    pub fn apply(
        &self,
        view: usize,
        img: &mut ArrayViewMut2<'_, f32>,
        det: &roboct_geometry::Detector,
    ) {
        let rays = self.rays[view];
        let beta = self.beta[view];
        let (rows, cols) = img.dim();
        // Redundancy and the u part of the cosine weight depend on the column only.
        let col_weight: Vec<f64> = (0..cols)
            .map(|c| {
                let g = gamma_of(&rays, det.u_mm(c as f64));
                // Parallel rays have no fan: Parker's weights then depend on the angle only.
                let g = match (&self.redundancy, rays) {
                    (Redundancy::Parker { .. }, ViewRays::Parallel { .. }) => 0.0,
                    _ => g,
                };
                self.factor[view] * redundancy(&self.redundancy, beta, g)
            })
            .collect();
        // The cosine weight splits into a column part and, per row, a part that the compiler
        // vectorises (f32: the weights need no more).
        match rays {
            ViewRays::Flat { sdd, up, vp, .. } => {
                let du2: Vec<f32> = (0..cols)
                    .map(|c| (det.u_mm(c as f64) - up).powi(2) as f32)
                    .collect();
                let cw: Vec<f32> = col_weight.iter().map(|w| (w * sdd) as f32).collect();
                for r in 0..rows {
                    let base = (sdd * sdd + (det.v_mm(r as f64) - vp).powi(2)) as f32;
                    let mut row = img.row_mut(r);
                    let row = row.as_slice_mut().expect("views are contiguous rows");
                    for ((px, d), w) in row.iter_mut().zip(&du2).zip(&cw) {
                        *px *= w / (base + d).sqrt();
                    }
                }
            }
            ViewRays::Cylindrical { radius } => {
                let cw: Vec<f32> = (0..cols)
                    .map(|c| (col_weight[c] * (det.u_mm(c as f64) / radius).cos()) as f32)
                    .collect();
                for r in 0..rows {
                    let v = det.v_mm(r as f64);
                    let k = (radius / (radius * radius + v * v).sqrt()) as f32;
                    for (px, w) in img.row_mut(r).iter_mut().zip(&cw) {
                        *px *= w * k;
                    }
                }
            }
            ViewRays::Parallel { .. } => {
                let cw: Vec<f32> = col_weight.iter().map(|&w| w as f32).collect();
                for r in 0..rows {
                    for (px, w) in img.row_mut(r).iter_mut().zip(&cw) {
                        *px *= w;
                    }
                }
            }
        }
    }
}

/// The fan angle (rad) of the ray to detector coordinate `u_mm`, positive along +u (the
/// direction of source motion); for parallel beams, the distance (mm) from the axis' ray.
fn gamma_of(rays: &ViewRays, u_mm: f64) -> f64 {
    match *rays {
        ViewRays::Flat { sdd, up, uc, .. } => ((u_mm - up) / sdd).atan() - ((uc - up) / sdd).atan(),
        ViewRays::Cylindrical { radius } => u_mm / radius,
        ViewRays::Parallel { uc } => u_mm - uc,
    }
}

/// Redundancy weight of ray (beta, gamma).
fn redundancy(r: &Redundancy, beta: f64, gamma: f64) -> f64 {
    match *r {
        Redundancy::Uniform(w) => w,
        Redundancy::Parker { delta_rad: d } => {
            let g = gamma;
            if beta < 0.0 {
                0.0
            } else if beta <= 2.0 * (d + g) {
                (PI * beta / (4.0 * (d + g))).sin().powi(2)
            } else if beta <= PI + 2.0 * g {
                1.0
            } else if beta <= PI + 2.0 * d {
                (PI * (PI + 2.0 * d - beta) / (4.0 * (d - g))).sin().powi(2)
            } else {
                0.0
            }
        }
        Redundancy::DisplacedDetector { overlap, side } => {
            let g = side * gamma;
            if g >= overlap {
                1.0
            } else if g <= -overlap {
                0.0
            } else {
                0.5 * (1.0 + (PI * g / (2.0 * overlap)).sin())
            }
        }
    }
}

fn perp(v: Vec3, axis: Vec3) -> Vec3 {
    sub(v, scale(axis, dot(v, axis)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parker weights of a ray and its conjugate add up to one (the property they exist for).
    #[test]
    fn parker_weights_of_conjugate_rays_sum_to_one() {
        let d = 0.3;
        let r = Redundancy::Parker { delta_rad: d };
        for gi in -10..=10 {
            let g = gi as f64 / 10.0 * d * 0.99;
            for bi in 0..=100 {
                let beta = bi as f64 / 100.0 * (PI + 2.0 * d);
                let conj = beta + PI - 2.0 * g;
                if conj > PI + 2.0 * d {
                    continue;
                }
                let sum = redundancy(&r, beta, g) + redundancy(&r, conj, -g);
                assert!((sum - 1.0).abs() < 1e-12, "beta {beta} gamma {g}: {sum}");
            }
        }
    }

    #[test]
    fn displaced_detector_weights_of_conjugate_rays_sum_to_one() {
        for side in [1.0, -1.0] {
            let r = Redundancy::DisplacedDetector { overlap: 0.1, side };
            for gi in -30..=30 {
                let g = gi as f64 / 100.0;
                let sum = redundancy(&r, 0.0, g) + redundancy(&r, 0.0, -g);
                assert!((sum - 1.0).abs() < 1e-12);
            }
            assert_eq!(redundancy(&r, 0.0, side * 0.2), 1.0);
            assert_eq!(redundancy(&r, 0.0, -side * 0.2), 0.0);
        }
    }

    #[test]
    fn coverage_of_full_and_short_scans() {
        let full: Vec<f64> = (0..360).map(|i| (i as f64).to_radians()).collect();
        let c = coverage(&full);
        assert!(c.full);
        assert!(c.gaps.iter().all(|g| (g - 1f64.to_radians()).abs() < 1e-12));
        // A short scan given in decreasing order, crossing 0.
        let short: Vec<f64> = (0..100)
            .map(|i| (30.0 - 2.2 * i as f64).to_radians())
            .collect();
        let c = coverage(&short);
        assert!(!c.full);
        assert!((c.span - (99.0 * 2.2f64).to_radians()).abs() < 1e-9);
        // The last listed view (the lowest angle) starts the arc.
        assert!(c.beta[99].abs() < 1e-12);
        assert!((c.beta[0] - c.span).abs() < 1e-9);
    }
}
