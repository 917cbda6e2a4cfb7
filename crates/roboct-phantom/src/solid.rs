//! Solids with exact ray intervals: an ellipsoid, optionally intersected with a second one,
//! minus a third, and cut by half-spaces. That is enough for anatomy (a skull is an ellipsoid
//! minus a smaller one; a subdural haematoma is a crescent between two ellipsoids; an epidural
//! one a lens, a ball within the skull's inner surface; a lobe a clipped ellipsoid), as the
//! FORBILD head phantom builds a head from clipped quadrics.
//!
//! Every solid answers two questions exactly: which points it holds ([`Solid::contains`]) and
//! which stretches of a line (`origin + t dir`) it holds ([`Solid::intervals`]), so
//! projections are exact line integrals and truth volumes are sampled from the same
//! definition.

use roboct_geometry::vec3::{Vec3, add, dot, mat_mul, mat_vec, scale, sub, transpose};

/// An ellipsoid: centre, semi-axes along its own axes, and the rotation whose columns are
/// those axes in the world.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quadric {
    /// Centre, world mm.
    pub center_mm: Vec3,
    /// Semi-axes, mm.
    pub semi_axes_mm: Vec3,
    /// Columns: the ellipsoid's axes in the world.
    pub rotation: [[f64; 3]; 3],
}

const IDENTITY: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

impl Quadric {
    /// An axis-aligned ellipsoid.
    pub fn new(center_mm: Vec3, semi_axes_mm: Vec3) -> Self {
        Self {
            center_mm,
            semi_axes_mm,
            rotation: IDENTITY,
        }
    }

    /// The same ellipsoid turned by `rotation` about its own centre.
    pub fn rotated(mut self, rotation: [[f64; 3]; 3]) -> Self {
        self.rotation = mat_mul(rotation, self.rotation);
        self
    }

    /// The ellipsoid moved rigidly: `p -> rotation p + translation`.
    pub fn transformed(&self, rotation: [[f64; 3]; 3], translation_mm: Vec3) -> Self {
        Self {
            center_mm: add(mat_vec(rotation, self.center_mm), translation_mm),
            semi_axes_mm: self.semi_axes_mm,
            rotation: mat_mul(rotation, self.rotation),
        }
    }

    /// The same ellipsoid with every semi-axis shrunk by `mm` (a surface `mm` inside, exactly
    /// for a sphere and closely for a mildly eccentric ellipsoid).
    pub fn inset(&self, mm: f64) -> Self {
        Self {
            semi_axes_mm: self.semi_axes_mm.map(|a| (a - mm).max(1e-3)),
            ..*self
        }
    }

    fn unit_frame(&self, v: Vec3) -> Vec3 {
        let local = mat_vec(transpose(self.rotation), v);
        std::array::from_fn(|a| local[a] / self.semi_axes_mm[a])
    }

    /// Whether a point is inside (or on) the ellipsoid.
    pub fn contains(&self, p: Vec3) -> bool {
        let q = self.unit_frame(sub(p, self.center_mm));
        dot(q, q) <= 1.0
    }

    /// The stretch `t0 < t1` of the line `origin + t dir` inside the ellipsoid.
    pub fn interval(&self, origin: Vec3, dir: Vec3) -> Option<(f64, f64)> {
        let p = self.unit_frame(sub(origin, self.center_mm));
        let d = self.unit_frame(dir);
        let a = dot(d, d);
        let b = dot(p, d);
        let c = dot(p, p) - 1.0;
        let disc = b * b - a * c;
        if disc <= 0.0 || a == 0.0 {
            return None;
        }
        let s = disc.sqrt();
        Some(((-b - s) / a, (-b + s) / a))
    }

    /// World-axis half extents of the bounding box.
    pub fn half_extent(&self) -> Vec3 {
        std::array::from_fn(|r| {
            (0..3)
                .map(|c| (self.rotation[r][c] * self.semi_axes_mm[c]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
    }

    /// Volume in mm^3.
    pub fn volume_mm3(&self) -> f64 {
        4.0 / 3.0 * std::f64::consts::PI * self.semi_axes_mm.iter().product::<f64>()
    }
}

/// The half-space `normal . p <= offset_mm` (`normal` a unit vector).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HalfSpace {
    /// Unit outward normal.
    pub normal: Vec3,
    /// Offset along the normal, mm.
    pub offset_mm: f64,
}

impl HalfSpace {
    /// The points on the side of the plane through `point` that `normal` points away from.
    pub fn below(point_mm: Vec3, normal: Vec3) -> Self {
        let n = scale(normal, 1.0 / dot(normal, normal).sqrt());
        Self {
            normal: n,
            offset_mm: dot(n, point_mm),
        }
    }

    /// Whether a point is in the half-space.
    pub fn contains(&self, p: Vec3) -> bool {
        dot(self.normal, p) <= self.offset_mm
    }

    /// The half-space moved rigidly.
    pub fn transformed(&self, rotation: [[f64; 3]; 3], translation_mm: Vec3) -> Self {
        let n = mat_vec(rotation, self.normal);
        Self {
            normal: n,
            offset_mm: self.offset_mm + dot(n, translation_mm),
        }
    }

    /// The `t` range of `origin + t dir` in the half-space: `(-inf, inf)`, empty, or a ray.
    fn interval(&self, origin: Vec3, dir: Vec3) -> Option<(f64, f64)> {
        let dn = dot(dir, self.normal);
        let on = dot(origin, self.normal);
        if dn.abs() < 1e-300 {
            return (on <= self.offset_mm).then_some((f64::NEG_INFINITY, f64::INFINITY));
        }
        let t = (self.offset_mm - on) / dn;
        Some(if dn > 0.0 {
            (f64::NEG_INFINITY, t)
        } else {
            (t, f64::INFINITY)
        })
    }
}

/// `outer` ∩ `within` − `minus` ∩ every clip.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Solid {
    /// The ellipsoid that bounds the solid.
    pub outer: Quadric,
    /// Only what is also inside this one.
    pub within: Option<Quadric>,
    /// Except what is inside this one.
    pub minus: Option<Quadric>,
    /// Only what is in every one of these half-spaces.
    pub clips: Vec<HalfSpace>,
}

impl Solid {
    /// A plain ellipsoid.
    pub fn ellipsoid(q: Quadric) -> Self {
        Self {
            outer: q,
            within: None,
            minus: None,
            clips: Vec::new(),
        }
    }

    /// A shell: `outer` minus `inner`.
    pub fn shell(outer: Quadric, inner: Quadric) -> Self {
        Self {
            minus: Some(inner),
            ..Self::ellipsoid(outer)
        }
    }

    /// The solid also limited to `within`.
    pub fn within(mut self, q: Quadric) -> Self {
        self.within = Some(q);
        self
    }

    /// The solid also cut by a half-space.
    pub fn clip(mut self, h: HalfSpace) -> Self {
        self.clips.push(h);
        self
    }

    /// Whether the solid holds a point.
    pub fn contains(&self, p: Vec3) -> bool {
        self.outer.contains(p)
            && self.within.is_none_or(|q| q.contains(p))
            && !self.minus.is_some_and(|q| q.contains(p))
            && self.clips.iter().all(|h| h.contains(p))
    }

    /// The stretches of `origin + t dir` inside the solid (at most two), in increasing `t`.
    pub fn intervals(&self, origin: Vec3, dir: Vec3) -> Intervals {
        let mut out = Intervals::default();
        let Some((mut a, mut b)) = self.outer.interval(origin, dir) else {
            return out;
        };
        if let Some(q) = &self.within {
            let Some((c, d)) = q.interval(origin, dir) else {
                return out;
            };
            a = a.max(c);
            b = b.min(d);
        }
        for h in &self.clips {
            let Some((c, d)) = h.interval(origin, dir) else {
                return out;
            };
            a = a.max(c);
            b = b.min(d);
        }
        if a >= b {
            return out;
        }
        match self.minus.and_then(|q| q.interval(origin, dir)) {
            Some((c, d)) if c < b && d > a => {
                if c > a {
                    out.push(a, c);
                }
                if d < b {
                    out.push(d, b);
                }
            }
            _ => out.push(a, b),
        }
        out
    }

    /// The solid moved rigidly: `p -> rotation p + translation`.
    pub fn transformed(&self, rotation: [[f64; 3]; 3], translation_mm: Vec3) -> Self {
        Self {
            outer: self.outer.transformed(rotation, translation_mm),
            within: self.within.map(|q| q.transformed(rotation, translation_mm)),
            minus: self.minus.map(|q| q.transformed(rotation, translation_mm)),
            clips: self
                .clips
                .iter()
                .map(|h| h.transformed(rotation, translation_mm))
                .collect(),
        }
    }

    /// A sphere (centre, radius) holding the whole solid.
    pub fn bounding_sphere(&self) -> (Vec3, f64) {
        let q = match &self.within {
            // The smaller of the two bounds.
            Some(w)
                if w.semi_axes_mm.iter().fold(0.0f64, |m, &a| m.max(a))
                    < self
                        .outer
                        .semi_axes_mm
                        .iter()
                        .fold(0.0f64, |m, &a| m.max(a)) =>
            {
                w
            }
            _ => &self.outer,
        };
        (
            q.center_mm,
            q.semi_axes_mm.iter().fold(0.0f64, |m, &a| m.max(a)),
        )
    }

    /// World-axis bounding box `(min, max)`.
    pub fn bounding_box(&self) -> (Vec3, Vec3) {
        let mut q = &self.outer;
        if let Some(w) = &self.within {
            let (eo, ew) = (self.outer.half_extent(), w.half_extent());
            if ew.iter().product::<f64>() < eo.iter().product::<f64>() {
                q = w;
            }
        }
        let e = q.half_extent();
        (sub(q.center_mm, e), add(q.center_mm, e))
    }
}

/// A solid made ready for many rays from one point (a view's focal spot): every quadric's
/// map into its unit-ball frame is precomputed, and so is the image of the common origin, so
/// a ray costs a matrix-vector product per quadric.
#[derive(Clone, Debug)]
pub struct PreparedSolid {
    outer: PreparedQuadric,
    within: Option<PreparedQuadric>,
    minus: Option<PreparedQuadric>,
    /// (normal, offset - normal . origin).
    clips: Vec<(Vec3, f64)>,
}

#[derive(Clone, Copy, Debug)]
struct PreparedQuadric {
    /// World direction -> unit-ball frame.
    m: [[f64; 3]; 3],
    /// The origin in the unit-ball frame.
    p: Vec3,
}

impl PreparedQuadric {
    fn new(q: &Quadric, origin: Vec3) -> Self {
        let rt = transpose(q.rotation);
        let m: [[f64; 3]; 3] = std::array::from_fn(|r| rt[r].map(|v| v / q.semi_axes_mm[r]));
        Self {
            m,
            p: mat_vec(m, sub(origin, q.center_mm)),
        }
    }

    #[inline]
    fn interval(&self, dir: Vec3) -> Option<(f64, f64)> {
        let d = mat_vec(self.m, dir);
        let a = dot(d, d);
        let b = dot(self.p, d);
        let c = dot(self.p, self.p) - 1.0;
        let disc = b * b - a * c;
        if disc <= 0.0 || a == 0.0 {
            return None;
        }
        let s = disc.sqrt();
        Some(((-b - s) / a, (-b + s) / a))
    }
}

impl PreparedSolid {
    /// The solid ready for rays from `origin`.
    pub fn new(solid: &Solid, origin: Vec3) -> Self {
        Self {
            outer: PreparedQuadric::new(&solid.outer, origin),
            within: solid
                .within
                .as_ref()
                .map(|q| PreparedQuadric::new(q, origin)),
            minus: solid
                .minus
                .as_ref()
                .map(|q| PreparedQuadric::new(q, origin)),
            clips: solid
                .clips
                .iter()
                .map(|h| (h.normal, h.offset_mm - dot(h.normal, origin)))
                .collect(),
        }
    }

    /// [`Solid::intervals`] of the ray from the prepared origin along `dir`.
    #[inline]
    pub fn intervals(&self, dir: Vec3) -> Intervals {
        let mut out = Intervals::default();
        let Some((mut a, mut b)) = self.outer.interval(dir) else {
            return out;
        };
        if let Some(q) = &self.within {
            let Some((c, d)) = q.interval(dir) else {
                return out;
            };
            a = a.max(c);
            b = b.min(d);
        }
        for &(n, off) in &self.clips {
            // n . (origin + t dir) <= offset  <=>  t (n . dir) <= offset - n . origin.
            let dn = dot(dir, n);
            if dn.abs() < 1e-300 {
                if off < 0.0 {
                    return out;
                }
                continue;
            }
            let t = off / dn;
            if dn > 0.0 {
                b = b.min(t);
            } else {
                a = a.max(t);
            }
        }
        if a >= b {
            return out;
        }
        match self.minus.as_ref().and_then(|q| q.interval(dir)) {
            Some((c, d)) if c < b && d > a => {
                if c > a {
                    out.push(a, c);
                }
                if d < b {
                    out.push(d, b);
                }
            }
            _ => out.push(a, b),
        }
        out
    }
}

/// Up to two intervals along a line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Intervals {
    spans: [(f64, f64); 2],
    len: usize,
}

impl Intervals {
    fn push(&mut self, a: f64, b: f64) {
        self.spans[self.len] = (a, b);
        self.len += 1;
    }

    /// The intervals.
    pub fn as_slice(&self) -> &[(f64, f64)] {
        &self.spans[..self.len]
    }

    /// Total length.
    pub fn length(&self) -> f64 {
        self.as_slice().iter().map(|(a, b)| b - a).sum()
    }
}

/// Rotation about x by `deg` degrees.
pub fn rot_x_deg(deg: f64) -> [[f64; 3]; 3] {
    let (s, c) = deg.to_radians().sin_cos();
    [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]]
}

/// Rotation about y by `deg` degrees.
pub fn rot_y_deg(deg: f64) -> [[f64; 3]; 3] {
    let (s, c) = deg.to_radians().sin_cos();
    [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ball(c: Vec3, r: f64) -> Quadric {
        Quadric::new(c, [r; 3])
    }

    #[test]
    fn shell_chord_through_the_centre_is_twice_the_wall() {
        let s = Solid::shell(ball([0.0; 3], 10.0), ball([0.0; 3], 7.0));
        let iv = s.intervals([-50.0, 0.0, 0.0], [1.0, 0.0, 0.0]);
        assert_eq!(iv.as_slice().len(), 2);
        assert!((iv.length() - 6.0).abs() < 1e-12);
        // A tangent line to the hole: one stretch through the wall.
        let iv = s.intervals([-50.0, 8.0, 0.0], [1.0, 0.0, 0.0]);
        assert_eq!(iv.as_slice().len(), 1);
        assert!((iv.length() - 2.0 * (100.0f64 - 64.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn clipped_ball_is_a_cap() {
        // The half of a ball with x <= 0.
        let s = Solid::ellipsoid(ball([0.0; 3], 10.0))
            .clip(HalfSpace::below([0.0; 3], [1.0, 0.0, 0.0]));
        assert!((s.intervals([-50.0, 0.0, 0.0], [1.0, 0.0, 0.0]).length() - 10.0).abs() < 1e-12);
        assert!(
            s.intervals([5.0, -50.0, 0.0], [0.0, 1.0, 0.0])
                .as_slice()
                .is_empty()
        );
        assert!(s.contains([-1.0, 0.0, 0.0]) && !s.contains([1.0, 0.0, 0.0]));
    }

    proptest! {
        /// The prepared form gives the same intervals as the plain one.
        #[test]
        fn prepared_intervals_equal_the_plain_ones(
            ox in -30.0f64..30.0, th in 0.0f64..3.1, ph in 0.0f64..std::f64::consts::TAU,
            cut in -8.0f64..8.0,
        ) {
            let dir = [th.sin() * ph.cos(), th.sin() * ph.sin(), th.cos()];
            let s = Solid::shell(
                Quadric::new([1.0, 0.0, 0.0], [12.0, 9.0, 7.0]).rotated(rot_x_deg(20.0)),
                Quadric::new([2.0, 1.0, 0.0], [8.0, 6.0, 5.0]),
            )
            .within(ball([0.0, 2.0, 0.0], 10.0))
            .clip(HalfSpace::below([0.0, 0.0, cut], [0.2, 0.3, 1.0]));
            let origin = [ox - 60.0 * dir[0], 3.0 - 60.0 * dir[1], -2.0 - 60.0 * dir[2]];
            let (a, b) = (s.intervals(origin, dir), PreparedSolid::new(&s, origin).intervals(dir));
            prop_assert_eq!(a.as_slice().len(), b.as_slice().len());
            for (x, y) in a.as_slice().iter().zip(b.as_slice()) {
                prop_assert!((x.0 - y.0).abs() < 1e-9 && (x.1 - y.1).abs() < 1e-9);
            }
        }

        /// The exact intervals agree with point membership sampled along the line.
        #[test]
        fn intervals_agree_with_contains(
            ox in -30.0f64..30.0, oy in -30.0f64..30.0, oz in -30.0f64..30.0,
            th in 0.0f64..3.1, ph in 0.0f64..std::f64::consts::TAU,
            shift in -4.0f64..4.0, cut in -8.0f64..8.0,
        ) {
            let dir = [th.sin() * ph.cos(), th.sin() * ph.sin(), th.cos()];
            let s = Solid::shell(
                Quadric::new([1.0, 0.0, 0.0], [12.0, 9.0, 7.0]).rotated(rot_x_deg(20.0)),
                Quadric::new([shift, 1.0, 0.0], [8.0, 6.0, 5.0]),
            )
            .within(ball([0.0, 2.0, 0.0], 10.0))
            .clip(HalfSpace::below([0.0, 0.0, cut], [0.2, 0.3, 1.0]));
            let origin = [ox - 60.0 * dir[0], oy - 60.0 * dir[1], oz - 60.0 * dir[2]];
            let iv = s.intervals(origin, dir);
            let n = 4000;
            let mut inside = 0usize;
            for k in 0..n {
                let t = 120.0 * (k as f64 + 0.5) / n as f64;
                inside += s.contains(add(origin, scale(dir, t))) as usize;
            }
            let sampled = inside as f64 * 120.0 / n as f64;
            prop_assert!((sampled - iv.length()).abs() < 0.2, "{} vs {}", sampled, iv.length());
        }
    }
}
