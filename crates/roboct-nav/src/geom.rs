//! Plane geometry in a floor's map frame: convex polygons, and the points and poses of
//! `roboct_core::frames` (where the frames from the map to the patient are defined), re-exported
//! here.
//!
//! Coordinates are metres in the map frame of ROS (x right, y up, origin at the map's
//! `origin`); headings are radians counter-clockwise from +x. The YAML files show headings in
//! degrees (`yaw_deg`); everything inside is radians.

use serde::{Deserialize, Serialize};

pub use roboct_core::frames::{Point, Pose, wrap_angle};

/// The axis-aligned bounding box `(min, max)` of `points` (infinite and inverted when
/// empty). Inlined into the footprint check's hot path.
#[inline]
pub fn bounds_of(points: &[Point]) -> (Point, Point) {
    let mut lo = Point::new(f64::INFINITY, f64::INFINITY);
    let mut hi = Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY);
    for p in points {
        lo.x = lo.x.min(p.x);
        lo.y = lo.y.min(p.y);
        hi.x = hi.x.max(p.x);
        hi.y = hi.y.max(p.y);
    }
    (lo, hi)
}

/// A polygon given by its vertices in order (either orientation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Polygon {
    /// The vertices; the last connects back to the first.
    pub vertices: Vec<Point>,
}

impl Polygon {
    /// A polygon from its vertices.
    pub fn new(vertices: Vec<Point>) -> Self {
        Self { vertices }
    }

    /// The axis-aligned rectangle `[x0, x1] x [y0, y1]`.
    pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        Self::new(vec![
            Point::new(x0, y0),
            Point::new(x1, y0),
            Point::new(x1, y1),
            Point::new(x0, y1),
        ])
    }

    /// Twice the signed area (positive when counter-clockwise).
    fn signed_area2(&self) -> f64 {
        let n = self.vertices.len();
        (0..n)
            .map(|i| {
                let a = self.vertices[i];
                let b = self.vertices[(i + 1) % n];
                a.x * b.y - b.x * a.y
            })
            .sum()
    }

    /// Area in square metres.
    pub fn area(&self) -> f64 {
        self.signed_area2().abs() / 2.0
    }

    /// Whether the polygon is convex with a non-zero area (collinear vertices allowed).
    pub fn is_convex(&self) -> bool {
        let n = self.vertices.len();
        if n < 3 || self.area() < 1e-12 {
            return false;
        }
        let mut sign = 0.0f64;
        for i in 0..n {
            let a = self.vertices[i];
            let b = self.vertices[(i + 1) % n];
            let c = self.vertices[(i + 2) % n];
            let cross = (b.x - a.x) * (c.y - b.y) - (b.y - a.y) * (c.x - b.x);
            if cross.abs() < 1e-12 {
                continue;
            }
            if sign == 0.0 {
                sign = cross.signum();
            } else if cross.signum() != sign {
                return false;
            }
        }
        true
    }

    /// The same polygon with counter-clockwise vertex order.
    pub fn counter_clockwise(&self) -> Polygon {
        let mut v = self.vertices.clone();
        if self.signed_area2() < 0.0 {
            v.reverse();
        }
        Polygon::new(v)
    }

    /// Whether `p` is inside (even-odd rule; points on the boundary may go either way).
    pub fn contains(&self, p: Point) -> bool {
        let n = self.vertices.len();
        let mut inside = false;
        let mut j = n.wrapping_sub(1);
        for i in 0..n {
            let a = self.vertices[i];
            let b = self.vertices[j];
            if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    /// A convex polygon grown outward by `d` metres, with mitred corners (a superset of the
    /// rounded offset, which is what a conservative collision check needs).
    ///
    /// Only meaningful for convex polygons.
    pub fn grown(&self, d: f64) -> Polygon {
        let ccw = self.counter_clockwise();
        let v = &ccw.vertices;
        let n = v.len();
        // Each edge's outward normal; for a counter-clockwise polygon it is the edge direction
        // turned clockwise.
        let mut lines = Vec::with_capacity(n);
        for i in 0..n {
            let a = v[i];
            let b = v[(i + 1) % n];
            let len = a.dist(b);
            if len < 1e-12 {
                continue;
            }
            let (dx, dy) = ((b.x - a.x) / len, (b.y - a.y) / len);
            let normal = Point::new(dy, -dx);
            let a2 = Point::new(a.x + normal.x * d, a.y + normal.y * d);
            lines.push((a2, Point::new(dx, dy)));
        }
        let m = lines.len();
        let mut out = Vec::with_capacity(m);
        for i in 0..m {
            let (p1, d1) = lines[(i + m - 1) % m];
            let (p2, d2) = lines[i];
            let cross = d1.x * d2.y - d1.y * d2.x;
            if cross.abs() < 1e-12 {
                // Collinear consecutive edges: the shifted start point is the corner.
                out.push(p2);
                continue;
            }
            let t = ((p2.x - p1.x) * d2.y - (p2.y - p1.y) * d2.x) / cross;
            out.push(Point::new(p1.x + d1.x * t, p1.y + d1.y * t));
        }
        Polygon::new(out)
    }

    /// A convex polygon grown outward by `d` metres with its corners cut: the smallest
    /// polygon around the rounded offset (every point within `d` of this one) whose corners
    /// each turn by at most `max_turn_rad`. A 90-degree corner with `max_turn_rad` = 45 deg
    /// becomes two corners that reach `d / cos(22.5 deg)` = 1.08 `d` from the original one,
    /// where a mitred corner ([`Polygon::grown`]) reaches 1.41 `d`.
    ///
    /// Only meaningful for convex polygons (tested in
    /// `tests::rounded_growth_contains_the_offset_and_cuts_the_corners`).
    pub fn grown_rounded(&self, d: f64, max_turn_rad: f64) -> Polygon {
        let ccw = self.counter_clockwise();
        let v: Vec<Point> = {
            let mut v = ccw.vertices.clone();
            v.dedup_by(|a, b| a.dist(*b) < 1e-12);
            if v.len() > 1 && v[0].dist(v[v.len() - 1]) < 1e-12 {
                v.pop();
            }
            v
        };
        let n = v.len();
        if n < 3 || d <= 0.0 {
            return self.grown(d);
        }
        // Outward normal angle of edge i (from v[i] to v[i + 1]): the direction turned
        // clockwise.
        let normal = |i: usize| {
            let (a, b) = (v[i], v[(i + 1) % n]);
            (a.x - b.x).atan2(b.y - a.y)
        };
        let mut out = Vec::new();
        for (i, &corner) in v.iter().enumerate() {
            let a_in = normal((i + n - 1) % n);
            let turn = wrap_angle(normal(i) - a_in);
            if turn.abs() < 1e-12 {
                continue;
            }
            // Split the corner's turn into k equal parts; the tangent lines at the part
            // boundaries meet at d / cos(half a part) along each part's middle direction.
            let k = (turn / max_turn_rad.max(1e-3)).ceil().max(1.0);
            let part = turn / k;
            let r = d / (part / 2.0).cos();
            for j in 0..k as usize {
                let a = a_in + (j as f64 + 0.5) * part;
                out.push(Point::new(corner.x + r * a.cos(), corner.y + r * a.sin()));
            }
        }
        Polygon::new(out)
    }

    /// Axis-aligned bounding box `(min, max)`.
    pub fn bounds(&self) -> (Point, Point) {
        bounds_of(&self.vertices)
    }

    /// Distance from `p` to the polygon's boundary.
    pub fn boundary_distance(&self, p: Point) -> f64 {
        let n = self.vertices.len();
        (0..n)
            .map(|i| segment_distance(p, self.vertices[i], self.vertices[(i + 1) % n]))
            .fold(f64::INFINITY, f64::min)
    }
}

/// For each row whose centre line crosses the convex polygon `v`, the `[x_min, x_max]` span
/// of the crossing: calls `f(row, x_min, x_max)` with x in metres, rows `step` metres apart
/// with centres at `y0 + (row + 0.5) * step`. Stops early when `f` returns `false`, and then
/// returns `false`.
pub(crate) fn row_spans(
    v: &[Point],
    y0: f64,
    step: f64,
    mut f: impl FnMut(i64, f64, f64) -> bool,
) -> bool {
    let n = v.len();
    if n == 0 {
        return true;
    }
    // The lowest and highest vertices split the convex outline into two chains, each monotone
    // in y; walking both upwards gives every row's span in one pass (the footprint check's
    // hot loop: an edge per chain per row, not every edge per row).
    let (mut bottom, mut top) = (0, 0);
    for (i, p) in v.iter().enumerate() {
        if p.y < v[bottom].y {
            bottom = i;
        }
        if p.y > v[top].y {
            top = i;
        }
    }
    let (lo, hi) = (v[bottom].y, v[top].y);
    let r0 = ceil_fast((lo - y0) / step - 0.5) as i64;
    let r1 = floor_fast((hi - y0) / step - 0.5) as i64;
    // Chain cursors: the index of the lower end of the current edge, walking forwards (+1)
    // or backwards (n - 1) from the bottom.
    let mut cur = [bottom, bottom];
    let next = |i: usize, dir: usize| (i + dir) % n;
    let dirs = [1, n - 1];
    for row in r0..=r1 {
        let y = y0 + (row as f64 + 0.5) * step;
        let mut xmin = f64::INFINITY;
        let mut xmax = f64::NEG_INFINITY;
        for c in 0..2 {
            let dir = dirs[c];
            // Advance while the edge ends below this row (never past the top).
            while cur[c] != top && v[next(cur[c], dir)].y < y {
                cur[c] = next(cur[c], dir);
            }
            let a = v[cur[c]];
            let b = v[if cur[c] == top {
                cur[c]
            } else {
                next(cur[c], dir)
            }];
            if (b.y - a.y).abs() < 1e-15 {
                xmin = xmin.min(a.x.min(b.x));
                xmax = xmax.max(a.x.max(b.x));
            } else {
                let x = a.x + (y - a.y) * (b.x - a.x) / (b.y - a.y);
                xmin = xmin.min(x);
                xmax = xmax.max(x);
            }
            // A flat edge at this very height continues the chain: take its far end too.
            let mut k = if cur[c] == top {
                cur[c]
            } else {
                next(cur[c], dir)
            };
            while k != top && (v[next(k, dir)].y - y).abs() < 1e-15 && (v[k].y - y).abs() < 1e-15 {
                k = next(k, dir);
                xmin = xmin.min(v[k].x);
                xmax = xmax.max(v[k].x);
            }
        }
        if xmin <= xmax && !f(row, xmin, xmax) {
            return false;
        }
    }
    true
}

/// `x.floor()` for `|x| < 2^52`, without the library call that `f64::floor` is on x86-64's
/// baseline instruction set (the footprint check's inner loop calls it for every row).
#[inline]
pub(crate) fn floor_fast(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t > x { t - 1.0 } else { t }
}

/// `x.ceil()` for `|x| < 2^52`; see [`floor_fast`].
#[inline]
pub(crate) fn ceil_fast(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t < x { t + 1.0 } else { t }
}

/// Distance from `p` to the segment `a`-`b`.
pub fn segment_distance(p: Point, a: Point, b: Point) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    let t = if len2 < 1e-18 {
        0.0
    } else {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0)
    };
    p.dist(Point::new(a.x + t * dx, a.y + t * dy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rectangle_facts() {
        let r = Polygon::rect(0.0, 0.0, 2.0, 1.0);
        assert!((r.area() - 2.0).abs() < 1e-12);
        assert!(r.is_convex());
        assert!(r.contains(Point::new(1.0, 0.5)));
        assert!(!r.contains(Point::new(2.5, 0.5)));
        let g = r.grown(0.5);
        let (lo, hi) = g.bounds();
        assert!(
            (lo.x + 0.5).abs() < 1e-12 && (hi.y - 1.5).abs() < 1e-12,
            "{g:?}"
        );
        let l = Polygon::new(vec![
            Point::new(0.0, 0.0),
            Point::new(2.0, 0.0),
            Point::new(2.0, 2.0),
            Point::new(1.0, 1.0),
            Point::new(0.0, 2.0),
        ]);
        assert!(!l.is_convex());
    }

    proptest! {
        /// Growing a convex polygon by d keeps every point within d of it inside.
        #[test]
        fn grown_polygon_contains_the_offset(
            w in 0.2f64..3.0, h in 0.2f64..3.0, yaw in -3.2f64..3.2, d in 0.0f64..0.5,
            u in 0.0f64..1.0, v in 0.0f64..1.0, ang in 0.0f64..6.3, r in 0.0f64..1.0,
        ) {
            let pose = Pose::new(1.0, -2.0, yaw);
            let poly = Polygon::new(
                [(-w / 2.0, -h / 2.0), (w / 2.0, -h / 2.0), (w / 2.0, h / 2.0), (-w / 2.0, h / 2.0)]
                    .iter()
                    .map(|&(x, y)| pose.map_from_robot(Point::new(x, y)))
                    .collect(),
            );
            let inside = pose.map_from_robot(Point::new((u - 0.5) * w, (v - 0.5) * h));
            let q = inside.offset(ang, r * d * 0.999);
            prop_assert!(poly.grown(d).contains(q) || poly.grown(d).boundary_distance(q) < 1e-9);
        }

        /// The rounded growth holds every point within d of the polygon, stays inside the
        /// mitred growth, and its corners reach no farther than d / cos(max_turn / 2).
        #[test]
        fn rounded_growth_contains_the_offset_and_cuts_the_corners(
            w in 0.2f64..3.0, h in 0.2f64..3.0, yaw in -3.2f64..3.2, d in 0.01f64..0.5,
            u in 0.0f64..1.0, v in 0.0f64..1.0, ang in 0.0f64..6.3, r in 0.0f64..1.0,
            skew in -0.4f64..0.4,
        ) {
            let pose = Pose::new(1.0, -2.0, yaw);
            // A convex pentagon (a rectangle with one corner cut) in any orientation.
            let c = w.min(h) * 0.3 * (0.5 + skew);
            let poly = Polygon::new(
                [(-w / 2.0, -h / 2.0), (w / 2.0, -h / 2.0), (w / 2.0, h / 2.0 - c),
                 (w / 2.0 - c, h / 2.0), (-w / 2.0, h / 2.0)]
                    .iter()
                    .map(|&(x, y)| pose.map_from_robot(Point::new(x, y)))
                    .collect(),
            );
            let max_turn = std::f64::consts::FRAC_PI_4;
            let g = poly.grown_rounded(d, max_turn);
            prop_assert!(g.is_convex());
            let inside = pose.map_from_robot(Point::new((u - 0.5) * w, (v - 0.5) * h));
            let q = inside.offset(ang, r * d * 0.999);
            if poly.contains(inside) {
                prop_assert!(g.contains(q) || g.boundary_distance(q) < 1e-9);
            }
            let mitred = poly.grown(d);
            for p in &g.vertices {
                prop_assert!(mitred.contains(*p) || mitred.boundary_distance(*p) < 1e-9);
                let reach = poly.vertices.iter().map(|c| c.dist(*p)).fold(f64::INFINITY, f64::min);
                prop_assert!(reach <= d / (max_turn / 2.0).cos() + 1e-9, "{reach} > {d}");
            }
        }

        /// The fast floor and ceiling agree with the library's.
        #[test]
        fn fast_floor_and_ceil(x in -1e9f64..1e9, k in -1000i64..1000) {
            prop_assert_eq!(floor_fast(x), x.floor());
            prop_assert_eq!(ceil_fast(x), x.ceil());
            let w = k as f64 * 0.5;
            prop_assert_eq!(floor_fast(w), w.floor());
            prop_assert_eq!(ceil_fast(w), w.ceil());
        }

        /// Row spans cover exactly the row centres inside the polygon.
        #[test]
        fn row_spans_match_contains(yaw in -3.2f64..3.2, px in 0.0f64..1.0, py in 0.0f64..1.0) {
            let pose = Pose::new(0.3, 0.2, yaw);
            let poly = Polygon::new(
                [(-0.8, -0.4), (0.8, -0.4), (0.8, 0.4), (-0.8, 0.4)]
                    .iter()
                    .map(|&(x, y)| pose.map_from_robot(Point::new(x, y)))
                    .collect(),
            );
            let step = 0.05;
            let row = ((py * 2.0 - 1.0) / step).floor() as i64;
            let y = (row as f64 + 0.5) * step;
            let x = px * 2.0 - 1.0;
            let mut in_span = false;
            row_spans(&poly.vertices, 0.0, step, |r, a, b| {
                if r == row && x >= a && x <= b { in_span = true; }
                true
            });
            let p = Point::new(x, y);
            if poly.boundary_distance(p) > 1e-9 {
                prop_assert_eq!(in_span, poly.contains(p));
            }
        }
    }
}
