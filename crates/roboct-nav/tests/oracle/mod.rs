//! A brute-force route oracle for the completeness tests, written apart from the planner: it
//! reads only the occupancy grid and the robot's outline, and shares no collision check,
//! costmap, distance transform or search with the crate.
//!
//! **What it searches.** Poses `(x, y, heading)` on a lattice: positions every
//! [`Oracle::step_m`] (10 cm) from the map frame's origin, and the headings of the primitive
//! grid steps `(dx, dy)` with `|dx|, |dy| <= 3` (32 headings: 0, 18.4, 26.6, 33.7, 45 deg, ...)
//! or `<= 5` (80 headings, at most 11.3 deg apart), so that every forward move lands on a
//! lattice point. The motions are the robot model's: one forward move along
//! the heading to the next lattice point, and a turn in place to the next heading either way.
//! The robot does not reverse (README, "Robot"). An exhaustive search over all of them (best
//! first, nearest the goal first) decides whether the goal can be reached.
//!
//! **What blocks.** The product's rule: a cell blocks if the map marks it occupied
//! (`>= OCCUPIED`) or unknown (`UNKNOWN`, grey 205 in a `map_saver` image); everything beyond
//! the map's edge is unknown. Cells are squares. A pose is clear if the robot's exact outline
//! (a convex polygon) keeps at least `clearance` metres from every blocked square: the exact
//! distance between two convex polygons, no sampling. A forward move sweeps exactly the
//! convex hull of the outlines at its two ends (a translated convex polygon), checked the same
//! way. A turn in place is clear if the hull of its two end outlines keeps the clearance plus
//! the largest sagitta of the arcs the outline's points travel (every arc stays within its
//! sagitta of its chord, which lies in that hull); else it is checked at sample angles at
//! most 0.5 deg apart with the clearance raised by the distance any outline point travels
//! between two samples. Either way a "clear" turn is clear all the way (sound; pessimistic
//! by at most a few millimetres).
//!
//! **Diagnosis.** When there is no route, [`Diagnoser::diagnose`] says what blocks it, by
//! relaxing one rule at a time: the start or goal pose itself, the goal's heading, unknown
//! cells (treated as free), turns in place (free: the robot may take any heading at which it
//! fits where it stands), and else the passage itself is too narrow for the footprint at any
//! heading.

#![allow(dead_code)]

pub mod laser_map;

use std::cell::{OnceCell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use roboct_nav::geom::{Point, Pose};
use roboct_nav::map::{OCCUPIED, OccupancyGrid, UNKNOWN};

/// The primitive grid steps `(dx, dy)` with `|dx|, |dy| <= max`, counter-clockwise from +x:
/// 32 headings for `max = 3` (0, 18.4, 26.6, 33.7, 45 deg, ...), 80 for `max = 5` (steps of
/// 11.3 deg and less).
pub fn directions(max: i32) -> Vec<(i32, i32)> {
    fn gcd(a: i32, b: i32) -> i32 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let mut v = Vec::new();
    for dx in -max..=max {
        for dy in -max..=max {
            if (dx, dy) != (0, 0) && gcd(dx.abs(), dy.abs()) == 1 {
                v.push((dx, dy));
            }
        }
    }
    let angle = |&(dx, dy): &(i32, i32)| {
        let a = f64::from(dy).atan2(f64::from(dx));
        if a < 0.0 {
            a + std::f64::consts::TAU
        } else {
            a
        }
    };
    v.sort_by(|a, b| angle(a).total_cmp(&angle(b)));
    v
}

fn wrap(a: f64) -> f64 {
    let t = std::f64::consts::TAU;
    let mut a = a % t;
    if a <= -std::f64::consts::PI {
        a += t;
    } else if a > std::f64::consts::PI {
        a -= t;
    }
    a
}

/// Distance from `p` to segment `a`-`b`.
fn seg_dist(p: Point, a: Point, b: Point) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let l2 = dx * dx + dy * dy;
    let t = if l2 < 1e-18 {
        0.0
    } else {
        (((p.x - a.x) * dx + (p.y - a.y) * dy) / l2).clamp(0.0, 1.0)
    };
    (p.x - a.x - t * dx).hypot(p.y - a.y - t * dy)
}

/// Whether two convex polygons overlap (separating axis theorem).
fn overlap(a: &[Point], b: &[Point]) -> bool {
    for poly in [a, b] {
        for i in 0..poly.len() {
            let (p, q) = (poly[i], poly[(i + 1) % poly.len()]);
            let (nx, ny) = (q.y - p.y, p.x - q.x);
            let proj = |s: &[Point]| {
                s.iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        let d = v.x * nx + v.y * ny;
                        (lo.min(d), hi.max(d))
                    })
            };
            let ((a0, a1), (b0, b1)) = (proj(a), proj(b));
            if a1 < b0 || b1 < a0 {
                return false;
            }
        }
    }
    true
}

/// Exact distance between two convex polygons (0 when they overlap).
pub fn poly_dist(a: &[Point], b: &[Point]) -> f64 {
    if overlap(a, b) {
        return 0.0;
    }
    let one_way = |p: &[Point], q: &[Point]| {
        p.iter()
            .flat_map(|&v| (0..q.len()).map(move |i| (v, i)))
            .map(|(v, i)| seg_dist(v, q[i], q[(i + 1) % q.len()]))
            .fold(f64::INFINITY, f64::min)
    };
    one_way(a, b).min(one_way(b, a))
}

/// Convex hull (Andrew's monotone chain), counter-clockwise.
pub fn hull(mut pts: Vec<Point>) -> Vec<Point> {
    pts.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    let cross =
        |o: Point, a: Point, b: Point| (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
    let mut lower: Vec<Point> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<Point> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// What the oracle says about one query.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// A route exists; the poses where the robot stops or turns, start to goal.
    Route(Vec<Pose>),
    /// The robot does not fit at the start (at its heading, or at any heading).
    StartBlocked,
    /// The robot does not fit at the goal (at its heading, or at any heading).
    GoalBlocked,
    /// The goal is reachable, but not facing the required heading.
    GoalHeading,
    /// With unknown cells free, a route would exist.
    Unknown,
    /// With free turns in place, a route would exist: a turn does not fit.
    Turn,
    /// Not even then: the passage is too narrow for the footprint at any heading.
    Narrow,
}

impl Verdict {
    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Route(_) => "route",
            Verdict::StartBlocked => "start-blocked",
            Verdict::GoalBlocked => "goal-blocked",
            Verdict::GoalHeading => "goal-heading",
            Verdict::Unknown => "unknown-cells",
            Verdict::Turn => "turn",
            Verdict::Narrow => "narrow",
        }
    }
}

/// One question: from where (and facing which way, if it matters) to where.
#[derive(Clone, Copy, Debug)]
pub struct Query {
    /// Start position (a lattice point: whole multiples of the lattice step).
    pub start: Point,
    /// The robot's heading at the start; `None`: it may start facing any lattice heading.
    pub start_heading: Option<f64>,
    /// Goal position (a lattice point).
    pub goal: Point,
    /// Required heading at the goal; `None`: any.
    pub goal_heading: Option<f64>,
}

/// The open states of a best-first search, nearest the goal first.
struct Frontier {
    goal: Point,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
}

impl Frontier {
    fn new(goal: Point) -> Self {
        Self {
            goal,
            heap: BinaryHeap::new(),
        }
    }

    fn push(&mut self, idx: usize, at: Point) {
        let key = (at.dist(self.goal) * 1e4) as u64;
        self.heap.push(Reverse((key, idx)));
    }

    fn pop(&mut self) -> Option<usize> {
        self.heap.pop().map(|Reverse((_, idx))| idx)
    }
}

/// How an oracle reads the map and checks turns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    /// Clearance kept from every blocked square, metres.
    pub clearance_m: f64,
    /// Largest coordinate of the heading steps ([`directions`]).
    pub max_step: i32,
    /// Unknown cells count as free (diagnosis only).
    pub unknown_free: bool,
    /// Turns in place need no room: the robot may take any heading at which it fits where it
    /// stands (diagnosis only).
    pub free_turns: bool,
}

impl Rules {
    /// The product's rules at `clearance_m`, with 32 headings.
    pub fn new(clearance_m: f64) -> Self {
        Self {
            clearance_m,
            max_step: 3,
            unknown_free: false,
            free_turns: false,
        }
    }
}

// Per-state cache bits: pose checked / clear, forward move checked / clear, turn to the next
// heading (counter-clockwise) checked / clear.
const POSE_DONE: u8 = 1;
const POSE_OK: u8 = 2;
const MOVE_DONE: u8 = 4;
const MOVE_OK: u8 = 8;
const TURN_DONE: u8 = 16;
const TURN_OK: u8 = 32;

/// The oracle for one map, robot and set of [`Rules`]. The lattice is anchored at the map
/// frame's origin (positions are whole multiples of [`Oracle::step_m`]); the checks of its
/// states and moves are cached, so many queries on one map share them.
pub struct Oracle<'a> {
    grid: &'a OccupancyGrid,
    outline: Vec<Point>,
    /// The rules.
    pub rules: Rules,
    /// Lattice spacing, metres.
    pub step_m: f64,
    dirs: Vec<(i32, i32)>,
    r_circ: f64,
    r_insc: f64,
    /// Blocked cells of the map padded by one blocked cell all round.
    blocked: Vec<bool>,
    /// Blocked cells (padded) with a free 4-neighbour: the only ones a footprint whose centre
    /// is free can reach first.
    boundary: Vec<bool>,
    /// Lattice index ranges: i in [i0, i0 + nx), j in [j0, j0 + ny).
    i0: i64,
    j0: i64,
    nx: usize,
    ny: usize,
    cache: RefCell<Vec<u8>>,
    /// Distance from each lattice point to the nearest blocked square (NaN: not computed).
    near: RefCell<Vec<f32>>,
}

/// The reach of the nearest-blocked-square distances cached per lattice point, beyond the
/// circumscribed radius and clearance: covers the longest forward move's half.
const NEAR_EXTRA_M: f64 = 0.6;

impl<'a> Oracle<'a> {
    /// An oracle for `outline` (robot frame, convex, containing the origin) on `grid`.
    pub fn new(grid: &'a OccupancyGrid, outline: &[Point], rules: Rules) -> Self {
        let o = Point::new(0.0, 0.0);
        let r_circ = outline.iter().map(|v| v.dist(o)).fold(0.0, f64::max);
        let n = outline.len();
        let r_insc = (0..n)
            .map(|i| seg_dist(o, outline[i], outline[(i + 1) % n]))
            .fold(f64::INFINITY, f64::min);
        let (pw, ph) = (grid.width + 2, grid.height + 2);
        let mut blocked = vec![true; pw * ph];
        for cy in 0..grid.height {
            for cx in 0..grid.width {
                let v = grid.cells[cy * grid.width + cx];
                blocked[(cy + 1) * pw + cx + 1] = if v == UNKNOWN {
                    !rules.unknown_free
                } else {
                    v >= OCCUPIED
                };
            }
        }
        let mut boundary = vec![false; pw * ph];
        for y in 0..ph {
            for x in 0..pw {
                let i = y * pw + x;
                boundary[i] = blocked[i]
                    && [(0i64, 1i64), (0, -1), (1, 0), (-1, 0)]
                        .iter()
                        .any(|&(dx, dy)| {
                            let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                            nx >= 0
                                && ny >= 0
                                && (nx as usize) < pw
                                && (ny as usize) < ph
                                && !blocked[ny as usize * pw + nx as usize]
                        });
            }
        }
        let step_m = 0.1;
        let (x0, y0) = (grid.origin.x, grid.origin.y);
        let (x1, y1) = (
            x0 + grid.width as f64 * grid.resolution_m,
            y0 + grid.height as f64 * grid.resolution_m,
        );
        let i0 = (x0 / step_m).ceil() as i64;
        let j0 = (y0 / step_m).ceil() as i64;
        let nx = ((x1 / step_m).floor() as i64 - i0 + 1).max(0) as usize;
        let ny = ((y1 / step_m).floor() as i64 - j0 + 1).max(0) as usize;
        let dirs = directions(rules.max_step);
        let states = nx * ny * dirs.len();
        Self {
            grid,
            outline: outline.to_vec(),
            rules,
            step_m,
            dirs,
            r_circ,
            r_insc,
            blocked,
            boundary,
            i0,
            j0,
            nx,
            ny,
            cache: RefCell::new(vec![0; states]),
            near: RefCell::new(vec![f32::NAN; nx * ny]),
        }
    }

    /// Number of lattice headings.
    pub fn headings(&self) -> usize {
        self.dirs.len()
    }

    /// Heading of lattice direction `k`, radians.
    pub fn heading(&self, k: usize) -> f64 {
        let (dx, dy) = self.dirs[k];
        f64::from(dy).atan2(f64::from(dx))
    }

    /// Padded cell index of map cell `(cx, cy)` (which may be one off the map), or `None`
    /// beyond the padding.
    #[inline]
    fn padded(&self, cx: i64, cy: i64) -> Option<usize> {
        let pw = self.grid.width as i64 + 2;
        let ph = self.grid.height as i64 + 2;
        let (x, y) = (cx + 1, cy + 1);
        (x >= 0 && y >= 0 && x < pw && y < ph).then(|| (y * pw + x) as usize)
    }

    /// Distance from `p` to the nearest blocked square within `reach` (else `reach`). The
    /// padding ring stands for everything beyond the map's edge.
    fn nearest_blocked(&self, p: Point, reach: f64) -> f64 {
        let g = self.grid;
        let r = g.resolution_m;
        let x0 = ((p.x - reach - g.origin.x) / r).floor() as i64;
        let x1 = ((p.x + reach - g.origin.x) / r).floor() as i64;
        let y0 = ((p.y - reach - g.origin.y) / r).floor() as i64;
        let y1 = ((p.y + reach - g.origin.y) / r).floor() as i64;
        let mut best = reach;
        for cy in y0..=y1 {
            for cx in x0..=x1 {
                if self.padded(cx, cy).is_none_or(|i| self.blocked[i]) {
                    let (sx, sy) = (g.origin.x + cx as f64 * r, g.origin.y + cy as f64 * r);
                    let dx = (sx - p.x).max(p.x - (sx + r)).max(0.0);
                    let dy = (sy - p.y).max(p.y - (sy + r)).max(0.0);
                    best = best.min(dx.hypot(dy));
                }
            }
        }
        best
    }

    /// Lattice point `(i, j)` in the map frame.
    pub fn point(&self, i: i64, j: i64) -> Point {
        Point::new(i as f64 * self.step_m, j as f64 * self.step_m)
    }

    /// The lattice point at `p`, if `p` is one (to a micrometre) and lies on the map.
    pub fn lattice_of(&self, p: Point) -> Option<(i64, i64)> {
        let (i, j) = (
            (p.x / self.step_m).round() as i64,
            (p.y / self.step_m).round() as i64,
        );
        let on = self.point(i, j).dist(p) < 1e-6;
        (on && i >= self.i0
            && j >= self.j0
            && i < self.i0 + self.nx as i64
            && j < self.j0 + self.ny as i64)
            .then_some((i, j))
    }

    fn cell_index(&self, i: i64, j: i64) -> Option<usize> {
        let (a, b) = (i - self.i0, j - self.j0);
        (a >= 0 && b >= 0 && (a as usize) < self.nx && (b as usize) < self.ny)
            .then(|| b as usize * self.nx + a as usize)
    }

    /// Nearest blocked square from lattice point `(i, j)`, cached (up to the reach every
    /// check here needs).
    fn near_at(&self, i: i64, j: i64) -> f64 {
        let reach = self.r_circ + self.rules.clearance_m + NEAR_EXTRA_M;
        let Some(c) = self.cell_index(i, j) else {
            return self.nearest_blocked(self.point(i, j), reach);
        };
        let v = self.near.borrow()[c];
        if !v.is_nan() {
            return f64::from(v);
        }
        // Lowered by a micrometre, so that the f32 never overstates the clearance.
        let d = (self.nearest_blocked(self.point(i, j), reach) - 1e-6) as f32;
        self.near.borrow_mut()[c] = d;
        f64::from(d)
    }

    fn near_of(&self, p: Point) -> f64 {
        match self.lattice_of(p) {
            Some((i, j)) => self.near_at(i, j),
            None => self.nearest_blocked(p, self.r_circ + self.rules.clearance_m + NEAR_EXTRA_M),
        }
    }

    /// Whether the convex polygon `poly`, whose centre `centre` lies in a free cell, keeps
    /// more than `c` metres from every blocked square. Only blocked cells next to a free one
    /// are tested: a connected shape that reaches into blocked space from a free cell crosses
    /// one of them first.
    pub fn poly_clear(&self, poly: &[Point], c: f64) -> bool {
        let g = self.grid;
        let r = g.resolution_m;
        let (mut lo, mut hi) = (
            Point::new(f64::INFINITY, f64::INFINITY),
            Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY),
        );
        for p in poly {
            lo = Point::new(lo.x.min(p.x), lo.y.min(p.y));
            hi = Point::new(hi.x.max(p.x), hi.y.max(p.y));
        }
        let x0 = ((lo.x - c - g.origin.x) / r).floor() as i64;
        let x1 = ((hi.x + c - g.origin.x) / r).floor() as i64;
        let y0 = ((lo.y - c - g.origin.y) / r).floor() as i64;
        let y1 = ((hi.y + c - g.origin.y) / r).floor() as i64;
        // Each edge's outward unit normal and offset: a square lying more than `c` beyond
        // one edge's line is farther than `c` from the polygon (a separating line with room
        // to spare), which settles most squares without the exact distance.
        let n = poly.len();
        let orient = {
            let a2: f64 = (0..n)
                .map(|i| {
                    let (a, b) = (poly[i], poly[(i + 1) % n]);
                    a.x * b.y - b.x * a.y
                })
                .sum();
            a2.signum()
        };
        let edges: Vec<(f64, f64, f64)> = (0..n)
            .filter_map(|i| {
                let (a, b) = (poly[i], poly[(i + 1) % n]);
                let len = a.dist(b);
                (len > 1e-12).then(|| {
                    let (nx, ny) = (orient * (b.y - a.y) / len, orient * (a.x - b.x) / len);
                    (nx, ny, nx * a.x + ny * a.y)
                })
            })
            .collect();
        for cy in y0..=y1 {
            for cx in x0..=x1 {
                if !self.padded(cx, cy).is_some_and(|i| self.boundary[i]) {
                    continue;
                }
                let (sx, sy) = (g.origin.x + cx as f64 * r, g.origin.y + cy as f64 * r);
                let (mx, my) = (sx + r / 2.0, sy + r / 2.0);
                let separated = edges.iter().any(|&(nx, ny, off)| {
                    nx * mx + ny * my - (nx.abs() + ny.abs()) * r / 2.0 - off > c
                });
                if separated {
                    continue;
                }
                let sq = [
                    Point::new(sx, sy),
                    Point::new(sx + r, sy),
                    Point::new(sx + r, sy + r),
                    Point::new(sx, sy + r),
                ];
                if poly_dist(poly, &sq) <= c {
                    return false;
                }
            }
        }
        true
    }

    /// The outline at `pose`, map frame.
    pub fn outline_at(&self, pose: Pose) -> Vec<Point> {
        let (s, co) = pose.yaw_rad.sin_cos();
        self.outline
            .iter()
            .map(|v| Point::new(pose.x + co * v.x - s * v.y, pose.y + s * v.x + co * v.y))
            .collect()
    }

    /// Whether the robot fits at `pose`.
    pub fn pose_clear(&self, pose: Pose) -> bool {
        let c = self.rules.clearance_m;
        let d = self.near_of(pose.point());
        if d > self.r_circ + c {
            return true;
        }
        // The inscribed disc (with the clearance) already touches a blocked square; this also
        // makes sure the centre is free, which `poly_clear` relies on.
        if d <= self.r_insc + c {
            return false;
        }
        self.poly_clear(&self.outline_at(pose), c)
    }

    /// Whether the straight forward move from `a` to `b` (heading along it) is clear, the
    /// pose at `a` included.
    pub fn segment_clear(&self, a: Point, b: Point) -> bool {
        let c = self.rules.clearance_m;
        let len = a.dist(b);
        let yaw = (b.y - a.y).atan2(b.x - a.x);
        if !self.pose_clear(Pose::new(a.x, a.y, yaw)) {
            return false;
        }
        if len < 1e-12 {
            return true;
        }
        let reach = self.r_circ + c + len / 2.0;
        if self.near_of(a) > reach && self.near_of(b) > reach {
            return true;
        }
        let mut pts = self.outline_at(Pose::new(a.x, a.y, yaw));
        pts.extend(self.outline_at(Pose::new(b.x, b.y, yaw)));
        self.poly_clear(&hull(pts), c)
    }

    /// Whether turning in place at `p` from `from` to `to` (the short way) is clear.
    pub fn turn_clear(&self, p: Point, from: f64, to: f64) -> bool {
        let c = self.rules.clearance_m;
        let delta = wrap(to - from);
        let end_ok = |yaw: f64| self.pose_clear(Pose::new(p.x, p.y, yaw));
        if !end_ok(from) || !end_ok(from + delta) {
            return false;
        }
        if self.near_of(p) > self.r_circ + c {
            return true;
        }
        // Quick accept: every outline point moves along an arc that stays within its sagitta
        // of the chord between its two end positions, and the chords lie in the hull of the
        // two end outlines.
        if delta.abs() <= std::f64::consts::FRAC_PI_2 {
            let sagitta = self.r_circ * (1.0 - (delta / 2.0).cos());
            let mut pts = self.outline_at(Pose::new(p.x, p.y, from));
            pts.extend(self.outline_at(Pose::new(p.x, p.y, from + delta)));
            if self.poly_clear(&hull(pts), c + sagitta) {
                return true;
            }
        }
        let n = (delta.abs() / 0.5f64.to_radians()).ceil().max(1.0) as usize;
        let step = delta.abs() / n as f64;
        // Between two samples no outline point moves farther than r_circ * step / 2 from the
        // nearer sample.
        let pad = self.r_circ * step / 2.0;
        (0..=n).all(|k| {
            let yaw = from + delta * k as f64 / n as f64;
            self.poly_clear(&self.outline_at(Pose::new(p.x, p.y, yaw)), c + pad)
        })
    }

    /// Whether the robot fits at `p` at some heading (sampled every degree).
    pub fn fits_somehow(&self, p: Point) -> bool {
        (0..360).any(|d| self.pose_clear(Pose::new(p.x, p.y, f64::from(d).to_radians())))
    }

    /// Whether the robot fits at `p` facing `heading` (if given) or at some heading.
    pub fn target_fits(&self, p: Point, heading: Option<f64>) -> bool {
        match heading {
            Some(h) => self.pose_clear(Pose::new(p.x, p.y, h)),
            None => self.fits_somehow(p),
        }
    }

    /// Cached check of one state, move or turn: `done`/`ok` bits of state `idx`.
    fn cached(&self, idx: usize, done: u8, ok: u8, check: impl FnOnce() -> bool) -> bool {
        let v = self.cache.borrow()[idx];
        if v & done != 0 {
            return v & ok != 0;
        }
        let r = check();
        self.cache.borrow_mut()[idx] |= done | if r { ok } else { 0 };
        r
    }

    /// The lattice headings on either side of `h` (one if `h` is one of them).
    fn bracket(&self, h: f64) -> Vec<usize> {
        let nh = self.headings();
        let step = |k: usize| wrap(self.heading(k) - h);
        if let Some(k) = (0..nh).find(|&k| step(k).abs() < 1e-9) {
            return vec![k];
        }
        (0..nh)
            .filter(|&k| step(k) > 0.0 && step((k + nh - 1) % nh) < 0.0)
            .flat_map(|k| [k, (k + nh - 1) % nh])
            .collect()
    }

    /// Exhaustive search over the lattice; `Some(poses)` (where the robot stops or
    /// turns, start to goal) if the goal is reachable. A start heading turns to the lattice
    /// headings either side of it, and the goal is reached from those either side of its
    /// heading, with a turn in place; with [`Rules::free_turns`], the search is over
    /// positions, and at each the robot may take any heading at which it fits.
    ///
    /// # Panics
    /// If the start or the goal is not a lattice point on the map.
    pub fn search(&self, q: &Query) -> Option<Vec<Pose>> {
        if self.rules.free_turns {
            return self.search_positions(q);
        }
        let nh = self.headings();
        let (si, sj) = self
            .lattice_of(q.start)
            .expect("the start must be a lattice point");
        let (gi, gj) = self
            .lattice_of(q.goal)
            .expect("the goal must be a lattice point");
        let index = |i: i64, j: i64, k: usize| self.cell_index(i, j).map(|c| c * nh + k);
        let decode = |idx: usize| {
            let (c, k) = (idx / nh, idx % nh);
            (
                (c % self.nx) as i64 + self.i0,
                (c / self.nx) as i64 + self.j0,
                k,
            )
        };
        let n = self.nx * self.ny * nh;
        let mut parent = vec![u32::MAX; n];
        let mut seen = vec![false; n];
        // Best first (nearest the goal): whether a route exists does not depend on the order,
        // and this order finds one after far fewer states than breadth first.
        let mut queue = Frontier::new(self.point(gi, gj));
        let pose_ok = |idx: usize, i: i64, j: i64, k: usize| {
            self.cached(idx, POSE_DONE, POSE_OK, || {
                let p = self.point(i, j);
                self.pose_clear(Pose::new(p.x, p.y, self.heading(k)))
            })
        };
        let first: Vec<usize> = match q.start_heading {
            Some(h) => self.bracket(h),
            None => (0..nh).collect(),
        };
        for k in first {
            let idx = index(si, sj, k)?;
            let ok = pose_ok(idx, si, sj, k)
                && q.start_heading
                    .is_none_or(|h| self.turn_clear(q.start, h, self.heading(k)));
            if ok {
                seen[idx] = true;
                queue.push(idx, q.start);
            }
        }
        let last = q.goal_heading.map(|h| self.bracket(h));
        while let Some(idx) = queue.pop() {
            let (i, j, k) = decode(idx);
            let p = self.point(i, j);
            if i == gi
                && j == gj
                && q.goal_heading.is_none_or(|h| {
                    last.as_ref().is_some_and(|l| l.contains(&k))
                        && self.turn_clear(p, self.heading(k), h)
                })
            {
                let mut poses = vec![Pose::new(
                    p.x,
                    p.y,
                    q.goal_heading.unwrap_or(self.heading(k)),
                )];
                let mut cur = idx;
                while parent[cur] != u32::MAX {
                    cur = parent[cur] as usize;
                    let (i, j, k) = decode(cur);
                    let p = self.point(i, j);
                    poses.push(Pose::new(p.x, p.y, self.heading(k)));
                }
                poses.reverse();
                return Some(poses);
            }
            // Forward.
            let (dx, dy) = self.dirs[k];
            let (ni, nj) = (i + i64::from(dx), j + i64::from(dy));
            if let Some(nidx) = index(ni, nj, k)
                && !seen[nidx]
                && pose_ok(nidx, ni, nj, k)
                && self.cached(idx, MOVE_DONE, MOVE_OK, || {
                    self.segment_clear(p, self.point(ni, nj))
                })
            {
                seen[nidx] = true;
                parent[nidx] = idx as u32;
                queue.push(nidx, self.point(ni, nj));
            }
            // Turns in place; the turn between k and k + 1 is cached on k's state.
            for (nk, via) in [((k + 1) % nh, k), ((k + nh - 1) % nh, (k + nh - 1) % nh)] {
                let nidx = idx - k + nk;
                let vidx = idx - k + via;
                if !seen[nidx]
                    && pose_ok(nidx, i, j, nk)
                    && self.cached(vidx, TURN_DONE, TURN_OK, || {
                        self.turn_clear(p, self.heading(via), self.heading((via + 1) % nh))
                    })
                {
                    seen[nidx] = true;
                    parent[nidx] = idx as u32;
                    queue.push(nidx, p);
                }
            }
        }
        None
    }

    /// [`Oracle::search`] with free turns: over positions, leaving each along any heading at
    /// which the robot fits there (the start's and the goal's headings only need to fit).
    fn search_positions(&self, q: &Query) -> Option<Vec<Pose>> {
        let nh = self.headings();
        let (si, sj) = self
            .lattice_of(q.start)
            .expect("the start must be a lattice point");
        let (gi, gj) = self
            .lattice_of(q.goal)
            .expect("the goal must be a lattice point");
        let fits =
            |p: Point, h: Option<f64>| h.is_none_or(|h| self.pose_clear(Pose::new(p.x, p.y, h)));
        if !fits(q.start, q.start_heading) || !fits(q.goal, q.goal_heading) {
            return None;
        }
        let n = self.nx * self.ny;
        let mut parent = vec![u32::MAX; n];
        let mut seen = vec![false; n];
        let mut queue = Frontier::new(self.point(gi, gj));
        let s = self.cell_index(si, sj)?;
        seen[s] = true;
        queue.push(s, q.start);
        while let Some(c) = queue.pop() {
            let (i, j) = (
                (c % self.nx) as i64 + self.i0,
                (c / self.nx) as i64 + self.j0,
            );
            if (i, j) == (gi, gj) {
                let mut cells = vec![c];
                let mut cur = c;
                while parent[cur] != u32::MAX {
                    cur = parent[cur] as usize;
                    cells.push(cur);
                }
                cells.reverse();
                let pos = |c: usize| {
                    self.point(
                        (c % self.nx) as i64 + self.i0,
                        (c / self.nx) as i64 + self.j0,
                    )
                };
                let mut poses: Vec<Pose> = cells
                    .windows(2)
                    .map(|w| {
                        let (a, b) = (pos(w[0]), pos(w[1]));
                        Pose::new(a.x, a.y, (b.y - a.y).atan2(b.x - a.x))
                    })
                    .collect();
                let g = pos(c);
                poses.push(Pose::new(g.x, g.y, q.goal_heading.unwrap_or(0.0)));
                return Some(poses);
            }
            let p = self.point(i, j);
            for k in 0..nh {
                let (dx, dy) = self.dirs[k];
                let (ni, nj) = (i + i64::from(dx), j + i64::from(dy));
                let Some(nc) = self.cell_index(ni, nj) else {
                    continue;
                };
                let idx = c * nh + k;
                let nidx = nc * nh + k;
                let ok = !seen[nc]
                    && self.cached(idx, POSE_DONE, POSE_OK, || {
                        self.pose_clear(Pose::new(p.x, p.y, self.heading(k)))
                    })
                    && self.cached(nidx, POSE_DONE, POSE_OK, || {
                        let np = self.point(ni, nj);
                        self.pose_clear(Pose::new(np.x, np.y, self.heading(k)))
                    })
                    && self.cached(idx, MOVE_DONE, MOVE_OK, || {
                        self.segment_clear(p, self.point(ni, nj))
                    });
                if ok {
                    seen[nc] = true;
                    parent[nc] = c as u32;
                    queue.push(nc, self.point(ni, nj));
                }
            }
        }
        None
    }

    /// Checks a planned polyline as the robot drives it (turn at the start from
    /// `start_heading`, straight moves between corners, turns in place at corners, the turn
    /// to `final_heading` at the end); `Err` describes the first part that is not clear.
    pub fn check_path(
        &self,
        points: &[Point],
        start_heading: Option<f64>,
        final_heading: f64,
    ) -> Result<(), String> {
        let mut heading = start_heading;
        for w in points.windows(2) {
            if w[0].dist(w[1]) < 1e-9 {
                continue;
            }
            let h = (w[1].y - w[0].y).atan2(w[1].x - w[0].x);
            if let Some(from) = heading
                && !self.turn_clear(w[0], from, h)
            {
                return Err(format!(
                    "turn at ({:.3}, {:.3}) from {:.1} to {:.1} deg",
                    w[0].x,
                    w[0].y,
                    from.to_degrees(),
                    h.to_degrees()
                ));
            }
            if !self.segment_clear(w[0], w[1]) {
                return Err(format!(
                    "move ({:.3}, {:.3}) -> ({:.3}, {:.3})",
                    w[0].x, w[0].y, w[1].x, w[1].y
                ));
            }
            heading = Some(h);
        }
        let last = *points.last().ok_or("no points")?;
        match heading {
            Some(from) if !self.turn_clear(last, from, final_heading) => Err(format!(
                "final turn at ({:.3}, {:.3}) from {:.1} to {:.1} deg",
                last.x,
                last.y,
                from.to_degrees(),
                final_heading.to_degrees()
            )),
            None if !self.pose_clear(Pose::new(last.x, last.y, final_heading)) => {
                Err("final pose".into())
            }
            _ => Ok(()),
        }
    }
}

/// An oracle and its relaxations, for the diagnosis of queries without a route; the relaxed
/// oracles are built on first use and keep their caches.
pub struct Diagnoser<'a> {
    grid: &'a OccupancyGrid,
    outline: Vec<Point>,
    /// The oracle itself.
    pub oracle: Oracle<'a>,
    free_turns: OnceCell<Oracle<'a>>,
    unknown_free: OnceCell<Oracle<'a>>,
    both_free: OnceCell<Oracle<'a>>,
}

impl<'a> Diagnoser<'a> {
    /// A diagnoser for `outline` on `grid` under `rules`.
    pub fn new(grid: &'a OccupancyGrid, outline: &[Point], rules: Rules) -> Self {
        Self {
            grid,
            outline: outline.to_vec(),
            oracle: Oracle::new(grid, outline, rules),
            free_turns: OnceCell::new(),
            unknown_free: OnceCell::new(),
            both_free: OnceCell::new(),
        }
    }

    fn relaxed<'s>(
        &'s self,
        cell: &'s OnceCell<Oracle<'a>>,
        unknown_free: bool,
        free_turns: bool,
    ) -> &'s Oracle<'a> {
        cell.get_or_init(|| {
            Oracle::new(
                self.grid,
                &self.outline,
                Rules {
                    unknown_free,
                    free_turns,
                    ..self.oracle.rules
                },
            )
        })
    }

    /// The route, or what blocks it, relaxing one rule at a time: the start and goal poses
    /// themselves, the goal's heading, unknown cells, turns in place; else the passage is too
    /// narrow for the footprint at any heading. A search runs only where its relaxation with
    /// free turns (a cheaper search over positions) finds a way, as it cannot otherwise.
    pub fn diagnose(&self, q: &Query) -> Verdict {
        let o = &self.oracle;
        if !o.target_fits(q.start, q.start_heading) {
            return Verdict::StartBlocked;
        }
        if !o.target_fits(q.goal, q.goal_heading) {
            return Verdict::GoalBlocked;
        }
        let free_turns = self.relaxed(&self.free_turns, false, true);
        let turns_free = free_turns.search(q).is_some();
        if turns_free && let Some(route) = o.search(q) {
            return Verdict::Route(route);
        }
        if q.goal_heading.is_some() {
            let any_heading = Query {
                goal_heading: None,
                ..*q
            };
            if free_turns.search(&any_heading).is_some() && o.search(&any_heading).is_some() {
                return Verdict::GoalHeading;
            }
        }
        let both_free = self.relaxed(&self.both_free, true, true);
        if both_free.search(q).is_some()
            && self
                .relaxed(&self.unknown_free, true, false)
                .search(q)
                .is_some()
        {
            return Verdict::Unknown;
        }
        if turns_free {
            return Verdict::Turn;
        }
        Verdict::Narrow
    }
}
