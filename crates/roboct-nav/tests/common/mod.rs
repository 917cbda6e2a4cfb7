//! Independent checks for the tests: exact geometry, written apart from the planner's own
//! conservative checks so that a bug in those cannot hide itself.

#![allow(dead_code)]

use roboct_nav::costmap::Costmap;
use roboct_nav::geom::{Point, Polygon, Pose};

/// Whether two convex polygons overlap (separating axis theorem), touching excluded.
pub fn overlap(a: &[Point], b: &[Point]) -> bool {
    for poly in [a, b] {
        for i in 0..poly.len() {
            let p = poly[i];
            let q = poly[(i + 1) % poly.len()];
            let (nx, ny) = (q.y - p.y, p.x - q.x);
            let proj = |s: &[Point]| {
                s.iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        let d = v.x * nx + v.y * ny;
                        (lo.min(d), hi.max(d))
                    })
            };
            let (a0, a1) = proj(a);
            let (b0, b1) = proj(b);
            if a1 <= b0 + 1e-12 || b1 <= a0 + 1e-12 {
                return false;
            }
        }
    }
    true
}

/// The robot's real outline (the costmap's footprint, no margin) at `pose`.
pub fn outline(cm: &Costmap, pose: Pose) -> Vec<Point> {
    cm.footprint_outline()
        .vertices
        .iter()
        .map(|&v| pose.map_from_robot(v))
        .collect()
}

/// The first blocked cell (obstacle, unknown, keep-out) whose square the real footprint at
/// `pose` overlaps, or `None`.
pub fn touches_blocked(cm: &Costmap, pose: Pose) -> Option<(usize, usize)> {
    touches_blocked_outside(cm, pose, &[])
}

/// Whether `p` lies inside or on the convex polygon `poly` (either orientation), to `tol`.
pub fn inside_convex(poly: &[Point], p: Point, tol: f64) -> bool {
    let n = poly.len();
    if n < 3 {
        return false;
    }
    let mut sign = 0.0f64;
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + 1) % n]);
        let len = a.dist(b);
        let cross = ((b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x)) / len;
        if cross.abs() <= tol {
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

/// Like [`touches_blocked`], but blocked cells whose whole square lies inside `car` (an
/// elevator car, which the map shows as the occupied shaft) do not count.
pub fn touches_blocked_outside(cm: &Costmap, pose: Pose, car: &[Point]) -> Option<(usize, usize)> {
    let fp = outline(cm, pose);
    let poly = Polygon::new(fp.clone());
    let (lo, hi) = poly.bounds();
    let r = cm.resolution_m;
    let x0 = ((lo.x - cm.origin.x) / r).floor() as i64;
    let y0 = ((lo.y - cm.origin.y) / r).floor() as i64;
    let x1 = ((hi.x - cm.origin.x) / r).floor() as i64;
    let y1 = ((hi.y - cm.origin.y) / r).floor() as i64;
    for cy in y0..=y1 {
        for cx in x0..=x1 {
            if cx < 0 || cy < 0 || cx >= cm.width as i64 || cy >= cm.height as i64 {
                return Some((0, 0));
            }
            let (cx, cy) = (cx as usize, cy as usize);
            if cm.kind[cy * cm.width + cx] != 0 {
                let (ox, oy) = (cm.origin.x + cx as f64 * r, cm.origin.y + cy as f64 * r);
                let sq = [
                    Point::new(ox, oy),
                    Point::new(ox + r, oy),
                    Point::new(ox + r, oy + r),
                    Point::new(ox, oy + r),
                ];
                if car.len() >= 3 && sq.iter().all(|&c| inside_convex(car, c, 1e-6)) {
                    continue;
                }
                if overlap(&fp, &sq) {
                    return Some((cx, cy));
                }
            }
        }
    }
    None
}

/// Checks a planned polyline the way the robot drives it: straight segments heading along
/// them (sampled every 2 cm) and turns in place at every corner (every 1 degree), starting
/// from `start_heading` and ending with `final_heading`. Returns the first pose that touches
/// a blocked cell.
pub fn first_collision(
    cm: &Costmap,
    points: &[Point],
    start_heading: Option<f64>,
    final_heading: f64,
) -> Option<Pose> {
    let mut heading = start_heading;
    let turn = |p: Point, from: f64, to: f64| -> Option<Pose> {
        let d = roboct_nav::geom::wrap_angle(to - from);
        let n = (d.abs().to_degrees().ceil() as usize).max(1);
        (0..=n)
            .map(|k| Pose::new(p.x, p.y, from + d * k as f64 / n as f64))
            .find(|&q| touches_blocked(cm, q).is_some())
    };
    for w in points.windows(2) {
        let len = w[0].dist(w[1]);
        if len < 1e-9 {
            continue;
        }
        let h = w[0].heading_to(w[1]);
        if let Some(prev) = heading
            && let Some(bad) = turn(w[0], prev, h)
        {
            return Some(bad);
        }
        let n = (len / 0.02).ceil() as usize;
        for k in 0..=n {
            let p = w[0].lerp(w[1], k as f64 / n as f64);
            let pose = Pose::new(p.x, p.y, h);
            if touches_blocked(cm, pose).is_some() {
                return Some(pose);
            }
        }
        heading = Some(h);
    }
    if let (Some(h), Some(&last)) = (heading, points.last()) {
        return turn(last, h, final_heading);
    }
    None
}
