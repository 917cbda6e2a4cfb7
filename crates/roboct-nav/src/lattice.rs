//! Local heading-aware search for tight passages (doors, bed bays), where the robot's long
//! footprint fits only at some headings.
//!
//! States are `(cell, heading)` with 32 headings, each the direction of a grid move
//! (`(1,0)`, `(3,1)`, `(2,1)`, `(3,2)`, `(1,1)`, ... the primitive moves of up to three cells),
//! so forward moves land exactly on cells. Moves: one step forward along the heading, or a
//! turn in place to the next heading either way. The robot does not reverse. Every state and
//! every turn is checked with the full footprint ([`Costmap::footprint_free`]), turns at
//! sub-steps small enough that no footprint point moves farther than the check's extra margin
//! between two checks, and the long moves (`(3,1)`, `(3,2)`) also at their middle, so that no
//! pose of a move is farther from a checked one than half a `(2,1)` move.
//!
//! Why 32 and not 16: with the footprint check's margins, the robot fits in a 1.8 m corridor
//! at 18.4 deg (`(3,1)`) but not at 26.6 deg (`(2,1)`), the smallest angle of 16 headings, so
//! with 16 it could not move across such a corridor at all and missed the lateral position
//! from which a turn into a side door or a junction fits (found by the oracle of
//! `tests/completeness.rs`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::costmap::Costmap;
use crate::geom::{Point, Pose, wrap_angle};

/// Number of lattice headings.
pub const HEADINGS: usize = 32;

/// The heading directions as grid steps, counter-clockwise from +x.
pub const DIRS: [(i32, i32); HEADINGS] = [
    (1, 0),
    (3, 1),
    (2, 1),
    (3, 2),
    (1, 1),
    (2, 3),
    (1, 2),
    (1, 3),
    (0, 1),
    (-1, 3),
    (-1, 2),
    (-2, 3),
    (-1, 1),
    (-3, 2),
    (-2, 1),
    (-3, 1),
    (-1, 0),
    (-3, -1),
    (-2, -1),
    (-3, -2),
    (-1, -1),
    (-2, -3),
    (-1, -2),
    (-1, -3),
    (0, -1),
    (1, -3),
    (1, -2),
    (2, -3),
    (1, -1),
    (3, -2),
    (2, -1),
    (3, -1),
];

/// Heading of direction `k`, radians.
pub fn heading_of(k: usize) -> f64 {
    static TABLE: std::sync::LazyLock<[f64; HEADINGS]> =
        std::sync::LazyLock::new(|| DIRS.map(|(dx, dy)| f64::from(dy).atan2(f64::from(dx))));
    TABLE[k]
}

/// The direction nearest to `heading_rad`.
pub fn nearest_dir(heading_rad: f64) -> usize {
    (0..HEADINGS)
        .min_by(|&a, &b| {
            let da = wrap_angle(heading_of(a) - heading_rad).abs();
            let db = wrap_angle(heading_of(b) - heading_rad).abs();
            da.total_cmp(&db)
        })
        .unwrap_or(0)
}

/// Whether turning in place at `p` from `from` to `to` (the short way) keeps the footprint
/// clear. Checked at both ends and at every multiple of a fixed angle step between them (the
/// step moves no footprint point farther than twice the check's extra margin), so that a turn
/// checked in parts is also clear when checked whole, and the other way round.
pub fn turn_free(cm: &Costmap, p: Point, from: f64, to: f64) -> bool {
    let at = |yaw: f64| cm.footprint_free(Pose::new(p.x, p.y, yaw));
    at(from) && at(from + wrap_angle(to - from)) && turn_between_free(cm, p, from, to)
}

/// [`turn_free`] without its two end poses (the lattice has checked them already).
fn turn_between_free(cm: &Costmap, p: Point, from: f64, to: f64) -> bool {
    let delta = wrap_angle(to - from);
    // A whole fraction of a full turn, so that the sample angles repeat every 2 pi and do not
    // depend on how an angle is written.
    let raw_step = 2.0 * cm.check_extra_m / cm.circumscribed_m.max(1e-6);
    let step = std::f64::consts::TAU / (std::f64::consts::TAU / raw_step).ceil();
    let at = |yaw: f64| cm.footprint_free(Pose::new(p.x, p.y, yaw));
    let (lo, hi) = if delta >= 0.0 {
        (from, from + delta)
    } else {
        (from + delta, from)
    };
    let mut k = (lo / step).floor() + 1.0;
    while k * step < hi {
        if !at(k * step) {
            return false;
        }
        k += 1.0;
    }
    true
}

/// Whether driving straight from `a` to `b` (heading along the segment) keeps the footprint
/// clear; checked every twice the check's extra margin.
pub fn segment_free(cm: &Costmap, a: Point, b: Point) -> bool {
    let len = a.dist(b);
    let yaw = a.heading_to(b);
    let steps = ((len / (2.0 * cm.check_extra_m)).ceil() as usize).max(1);
    (0..=steps).all(|k| {
        let p = a.lerp(b, k as f64 / steps as f64);
        cm.footprint_free(Pose::new(p.x, p.y, yaw))
    })
}

/// A found manoeuvre: the poses where the robot stops or turns, start to goal.
#[derive(Clone, Debug)]
pub struct Manoeuvre {
    /// Positions; consecutive ones are joined by straight forward moves, with turns in place
    /// at each.
    pub points: Vec<Point>,
    /// Heading on arrival at the last point.
    pub final_heading: f64,
    /// States expanded.
    pub expansions: usize,
}

const CHECKED: u8 = 1;
const FREE: u8 = 2;
const TURN_CHECKED: u8 = 4;
const TURN_FREE: u8 = 8;
const CLOSED: u8 = 16;
const MID_CHECKED: u8 = 32;
const MID_FREE: u8 = 64;
const REACHED: u8 = 128;

// How a state was reached: from the start, by a forward move, or by a turn from the next
// heading clockwise (right) or counter-clockwise (left).
const FROM_START: u8 = 0;
const FORWARD: u8 = 1;
const FROM_RIGHT: u8 = 2;
const FROM_LEFT: u8 = 3;

/// What a lattice search checks; the relaxed settings serve the planner's diagnosis of a
/// failed plan (would it succeed if turns were free?).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    /// Turning in place needs room (else the robot may take any heading at which it fits
    /// where it stands: a search over positions, for the diagnosis only).
    pub turns: bool,
    /// Only the 16 headings of the moves of up to two cells (`(1,0)`, `(2,1)`, `(1,1)`, ...),
    /// turning two steps at a time: half the states, for the many small searches of the
    /// smoothing, which try the full 32 where these find no way.
    pub coarse: bool,
}

impl Default for Checks {
    fn default() -> Self {
        Self {
            turns: true,
            coarse: false,
        }
    }
}

/// Searches forward moves and turns in place from `start` (exact pose) to the lattice point
/// nearest `goal` (and, if given, with a heading within one direction step of
/// `goal_heading`), within the cells `window = (x0, y0, x1, y1)`. `None` if there is no such
/// manoeuvre within `max_expansions` states.
pub fn search(
    cm: &Costmap,
    start: Pose,
    goal: Point,
    goal_heading: Option<f64>,
    window: (usize, usize, usize, usize),
    max_expansions: usize,
) -> Option<Manoeuvre> {
    search_from(
        cm,
        start.point(),
        Some(start.yaw_rad),
        goal,
        goal_heading,
        window,
        max_expansions,
        Checks::default(),
    )
}

/// [`search`] from a position with a heading, or with any heading (`None`: a start given by
/// coordinates alone, where the route starts facing along its first move), and with the
/// checks `checks`.
#[allow(clippy::too_many_arguments)]
pub fn search_from(
    cm: &Costmap,
    start_point: Point,
    start_heading: Option<f64>,
    goal: Point,
    goal_heading: Option<f64>,
    window: (usize, usize, usize, usize),
    max_expansions: usize,
    checks: Checks,
) -> Option<Manoeuvre> {
    search_counted(
        cm,
        start_point,
        start_heading,
        goal,
        goal_heading,
        window,
        max_expansions,
        checks,
    )
    .0
}

/// [`search_from`], also returning the states it expanded (found or not).
#[allow(clippy::too_many_arguments)]
pub fn search_counted(
    cm: &Costmap,
    start_point: Point,
    start_heading: Option<f64>,
    goal: Point,
    goal_heading: Option<f64>,
    window: (usize, usize, usize, usize),
    max_expansions: usize,
    checks: Checks,
) -> (Option<Manoeuvre>, usize) {
    if !checks.turns {
        let m = search_positions(cm, start_point, start_heading, goal, goal_heading, window);
        let used = m.as_ref().map_or(0, |m| m.expansions);
        return (m, used);
    }
    let mut expansions = 0;
    let m = search_states(
        cm,
        (start_point, start_heading),
        (goal, goal_heading),
        window,
        (max_expansions, if checks.coarse { 2 } else { 1 }),
        &mut expansions,
    );
    (m, expansions)
}

/// The search of [`search_counted`] over `(cell, heading)` states, with every `step`-th
/// heading (1 or 2), counting the states it expands in `expansions`.
fn search_states(
    cm: &Costmap,
    (start_point, start_heading): (Point, Option<f64>),
    (goal, goal_heading): (Point, Option<f64>),
    window: (usize, usize, usize, usize),
    (max_expansions, step): (usize, usize),
    expansions: &mut usize,
) -> Option<Manoeuvre> {
    let mut search = StateSearch::new(cm, start_point, goal, window, step)?;
    search.seed(start_heading);
    while let Some(Reverse((_, k))) = search.heap.pop() {
        let k = k as usize;
        if search.flags[k] & CLOSED != 0 {
            continue;
        }
        search.flags[k] |= CLOSED;
        *expansions += 1;
        if *expansions > max_expansions {
            return None;
        }
        let d = k % HEADINGS;
        let (x, y) = search.cell_xy(k / HEADINGS);
        let at_goal = x == search.gx
            && y == search.gy
            && goal_heading.is_none_or(|gh| wrap_angle(heading_of(d) - gh).abs() < 0.47);
        if at_goal {
            return Some(Manoeuvre {
                points: search.path_to(k),
                final_heading: heading_of(d),
                expansions: *expansions,
            });
        }
        search.expand(k, (x, y, d));
    }
    None
}

/// Encodes a cost for the heap: tenths of a millimetre.
fn enc(f: f64) -> u32 {
    (f * 1e4).min(4e9) as u32
}

/// The state of [`search_states`]: the window's `(cell, heading)` states, their flags, costs
/// and how each was reached, and the open heap.
struct StateSearch<'a> {
    cm: &'a Costmap,
    /// The exact start position: the lattice is anchored at it, on cell `(sx, sy)`.
    start: Point,
    sx: usize,
    sy: usize,
    /// The lattice point nearest to the goal.
    gx: usize,
    gy: usize,
    window: (usize, usize, usize, usize),
    /// The window's width, cells.
    ww: usize,
    /// Every `step`-th heading is searched.
    step: usize,
    r: f64,
    flags: Vec<u8>,
    /// Cost of each reached state, metres; valid once its REACHED flag is set.
    g: Vec<f32>,
    /// How each state was reached (a byte, not an index, to keep large windows small).
    came: Vec<u8>,
    heap: BinaryHeap<Reverse<(u32, u32)>>,
}

impl<'a> StateSearch<'a> {
    /// The search in `window` from `start` to `goal`; `None` if the start is outside the
    /// window or either is off the map.
    fn new(
        cm: &'a Costmap,
        start: Point,
        goal: Point,
        window: (usize, usize, usize, usize),
        step: usize,
    ) -> Option<Self> {
        let (x0, y0, x1, y1) = window;
        let (sx, sy) = cm.cell_of(start)?;
        cm.cell_of(goal)?;
        if x1 <= x0 || y1 <= y0 || sx < x0 || sy < y0 || sx >= x1 || sy >= y1 {
            return None;
        }
        let r = cm.resolution_m;
        // The lattice is anchored at the exact start position, so that the manoeuvre begins
        // where the robot is; its goal is the lattice point nearest to `goal` (within half a
        // cell).
        let gx = (sx as f64 + ((goal.x - start.x) / r).round()).max(0.0) as usize;
        let gy = (sy as f64 + ((goal.y - start.y) / r).round()).max(0.0) as usize;
        let (ww, wh) = (x1 - x0, y1 - y0);
        let n = ww.checked_mul(wh)?.checked_mul(HEADINGS)?;
        // All three arrays start as zeros, which the allocator hands out without writing them
        // (large windows cost only the pages the search touches).
        Some(Self {
            cm,
            start,
            sx,
            sy,
            gx,
            gy,
            window,
            ww,
            step,
            r,
            flags: vec![0u8; n],
            g: vec![0f32; n],
            came: vec![FROM_START; n],
            heap: BinaryHeap::new(),
        })
    }

    #[inline]
    fn idx(&self, x: usize, y: usize, d: usize) -> usize {
        let (x0, y0, _, _) = self.window;
        ((y - y0) * self.ww + (x - x0)) * HEADINGS + d
    }

    #[inline]
    fn cell_xy(&self, cell: usize) -> (usize, usize) {
        let (x0, y0, _, _) = self.window;
        (x0 + cell % self.ww, y0 + cell / self.ww)
    }

    #[inline]
    fn pos(&self, x: usize, y: usize) -> Point {
        Point::new(
            self.start.x + (x as f64 - self.sx as f64) * self.r,
            self.start.y + (y as f64 - self.sy as f64) * self.r,
        )
    }

    /// The heuristic: straight-line distance to the goal, metres.
    #[inline]
    fn h(&self, x: usize, y: usize) -> f64 {
        (x.abs_diff(self.gx) as f64).hypot(y.abs_diff(self.gy) as f64) * self.r
    }

    /// Cost in metres of a turn by `a`: the arc its farthest corner sweeps, which prefers
    /// turning where there is room.
    #[inline]
    fn turn_cost(&self, a: f64) -> f64 {
        a.abs() * self.cm.circumscribed_m
    }

    /// Whether the footprint is clear at state `(x, y, d)` (checked once, cached).
    fn state_ok(&mut self, x: usize, y: usize, d: usize) -> bool {
        let k = self.idx(x, y, d);
        if self.flags[k] & CHECKED == 0 {
            let c = self.pos(x, y);
            let ok = self.cm.footprint_free(Pose::new(c.x, c.y, heading_of(d)));
            self.flags[k] |= CHECKED | if ok { FREE } else { 0 };
        }
        self.flags[k] & FREE != 0
    }

    /// Whether the turn between d and d + 1 is clear, cached on d's state.
    fn turn_ok(&mut self, x: usize, y: usize, d: usize) -> bool {
        let k = self.idx(x, y, d);
        if self.flags[k] & TURN_CHECKED == 0 {
            // Both end states are checked by the caller.
            let (p, from, to) = (
                self.pos(x, y),
                heading_of(d),
                heading_of((d + 1) % HEADINGS),
            );
            let ok = turn_between_free(self.cm, p, from, to);
            self.flags[k] |= TURN_CHECKED | if ok { TURN_FREE } else { 0 };
        }
        self.flags[k] & TURN_FREE != 0
    }

    /// Whether the middle of a long forward move from (x, y) along d is clear, cached on its
    /// start state.
    fn middle_ok(&mut self, x: usize, y: usize, d: usize) -> bool {
        let (dx, dy) = DIRS[d];
        if dx.abs() < 3 && dy.abs() < 3 {
            return true;
        }
        let k = self.idx(x, y, d);
        if self.flags[k] & MID_CHECKED == 0 {
            let (c, r) = (self.pos(x, y), self.r);
            let m = Point::new(c.x + f64::from(dx) * r / 2.0, c.y + f64::from(dy) * r / 2.0);
            let ok = self.cm.footprint_free(Pose::new(m.x, m.y, heading_of(d)));
            self.flags[k] |= MID_CHECKED | if ok { MID_FREE } else { 0 };
        }
        self.flags[k] & MID_FREE != 0
    }

    /// Reaches state `nk` (at cell `(nx, ny)`) at cost `ng`, `how`, if that is cheaper.
    #[inline]
    fn relax(&mut self, nk: usize, ng: f64, how: u8, (nx, ny): (usize, usize)) {
        if self.flags[nk] & REACHED == 0 || ng < f64::from(self.g[nk]) {
            self.g[nk] = ng as f32;
            self.flags[nk] |= REACHED;
            self.came[nk] = how;
            let f = enc(ng + self.h(nx, ny));
            self.heap.push(Reverse((f, nk as u32)));
        }
    }

    /// The first states: only the two directions either side of the exact start heading
    /// (further turns are lattice moves, checked and cached like any other); without a start
    /// heading, every direction, with no turn.
    fn seed(&mut self, start_heading: Option<f64>) {
        let (sx, sy, step) = (self.sx, self.sy, self.step);
        let yaw = start_heading.unwrap_or(0.0);
        let near = (0..HEADINGS)
            .step_by(step)
            .min_by(|&a, &b| {
                let da = wrap_angle(heading_of(a) - yaw).abs();
                let db = wrap_angle(heading_of(b) - yaw).abs();
                da.total_cmp(&db)
            })
            .unwrap_or(0);
        let other = if wrap_angle(yaw - heading_of(near)) >= 0.0 {
            (near + step) % HEADINGS
        } else {
            (near + HEADINGS - step) % HEADINGS
        };
        let first: Vec<usize> = match start_heading {
            Some(_) => vec![near, other],
            None => (0..HEADINGS).step_by(step).collect(),
        };
        for d in first {
            let a = match start_heading {
                Some(h) => wrap_angle(heading_of(d) - h),
                None => 0.0,
            };
            let turn_clear =
                start_heading.is_none_or(|h| turn_free(self.cm, self.start, h, heading_of(d)));
            if !self.state_ok(sx, sy, d) || !turn_clear {
                continue;
            }
            let k = self.idx(sx, sy, d);
            let gk = self.turn_cost(a) as f32;
            if self.flags[k] & REACHED == 0 || gk < self.g[k] {
                self.g[k] = gk;
                self.flags[k] |= REACHED;
                let f = enc(f64::from(gk) + self.h(sx, sy));
                self.heap.push(Reverse((f, k as u32)));
            }
        }
    }

    /// The moves out of state `k` at `(x, y, d)`: forward along d, and the turns in place to
    /// the next searched heading either way.
    fn expand(&mut self, k: usize, (x, y, d): (usize, usize, usize)) {
        let (x0, y0, x1, y1) = self.window;
        let (step, r) = (self.step, self.r);
        let gk = f64::from(self.g[k]);
        // Forward move.
        let (dx, dy) = DIRS[d];
        let (nx, ny) = (x as i64 + i64::from(dx), y as i64 + i64::from(dy));
        if nx >= x0 as i64 && ny >= y0 as i64 && nx < x1 as i64 && ny < y1 as i64 {
            let (nx, ny) = (nx as usize, ny as usize);
            if self.state_ok(nx, ny, d) && self.middle_ok(x, y, d) {
                let ng = gk + f64::from(dx).hypot(f64::from(dy)) * r;
                let nk = self.idx(nx, ny, d);
                self.relax(nk, ng, FORWARD, (nx, ny));
            }
        }
        // Turns in place.
        for (nd, via, how) in [
            ((d + step) % HEADINGS, d, FROM_RIGHT),
            (
                (d + HEADINGS - step) % HEADINGS,
                (d + HEADINGS - step) % HEADINGS,
                FROM_LEFT,
            ),
        ] {
            let nk = self.idx(x, y, nd);
            if self.flags[nk] & CLOSED != 0 || !self.state_ok(x, y, nd) {
                continue;
            }
            // The turn from `via` to `via + step`, one heading at a time (each step cached).
            let turn_clear = (0..step).all(|j| {
                let a = (via + j) % HEADINGS;
                (j == 0 || self.state_ok(x, y, a)) && self.turn_ok(x, y, a)
            });
            if !turn_clear {
                continue;
            }
            let ng = gk + self.turn_cost(wrap_angle(heading_of(nd) - heading_of(d)));
            self.relax(nk, ng, how, (x, y));
        }
    }

    /// The way to state `k`, walked back to the start, as the points where the robot turns
    /// (from the exact start to the lattice point at the goal).
    fn path_to(&self, k: usize) -> Vec<Point> {
        let step = self.step;
        let mut states = vec![k];
        let mut cur = k;
        while self.came[cur] != FROM_START {
            let cd = cur % HEADINGS;
            let (cx, cy) = self.cell_xy(cur / HEADINGS);
            cur = match self.came[cur] {
                FORWARD => {
                    let (dx, dy) = DIRS[cd];
                    self.idx(
                        (cx as i64 - i64::from(dx)) as usize,
                        (cy as i64 - i64::from(dy)) as usize,
                        cd,
                    )
                }
                FROM_RIGHT => self.idx(cx, cy, (cd + HEADINGS - step) % HEADINGS),
                _ => self.idx(cx, cy, (cd + step) % HEADINGS),
            };
            states.push(cur);
        }
        states.reverse();
        let mut points = vec![self.start];
        for w in states.windows(2) {
            if w[0] / HEADINGS == w[1] / HEADINGS {
                let (x, y) = self.cell_xy(w[0] / HEADINGS);
                let p = self.pos(x, y);
                if points.last().is_none_or(|&l| l.dist(p) > 1e-9) {
                    points.push(p);
                }
            }
        }
        let end = self.pos(self.gx, self.gy);
        if points.last().is_none_or(|&l| l.dist(end) > 1e-9) {
            points.push(end);
        }
        points
    }
}

/// [`search_from`] with free turns: a breadth-first search over the positions of the lattice,
/// leaving each along any direction at which the footprint fits there (the start's and the
/// goal's headings only need to fit). Whether a route would exist if turning in place needed
/// no room: the planner's diagnosis of a failed plan.
fn search_positions(
    cm: &Costmap,
    start: Point,
    start_heading: Option<f64>,
    goal: Point,
    goal_heading: Option<f64>,
    window: (usize, usize, usize, usize),
) -> Option<Manoeuvre> {
    let fits =
        |p: Point, h: Option<f64>| h.is_none_or(|h| cm.footprint_free(Pose::new(p.x, p.y, h)));
    if !fits(goal, goal_heading) {
        return None;
    }
    cm.cell_of(goal)?;
    let (m, _) = positions(cm, start, start_heading, Some(goal), window)?;
    m.map(|mut m| {
        if let Some(h) = goal_heading {
            m.final_heading = h;
        }
        m
    })
}

/// The lattice positions reachable from a start with free turns (see [`search_from`]'s
/// relaxation): where the robot could get if turning in place needed no room.
#[derive(Clone, Debug)]
pub struct Reachable {
    start: Point,
    start_cell: (usize, usize),
    window: (usize, usize, usize, usize),
    resolution_m: f64,
    seen: Vec<bool>,
}

impl Reachable {
    /// Whether a reachable lattice position lies within `radius_m` of `p`.
    pub fn near(&self, p: Point, radius_m: f64) -> bool {
        let (x0, y0, x1, y1) = self.window;
        let r = self.resolution_m;
        let cx = self.start_cell.0 as f64 + ((p.x - self.start.x) / r).round();
        let cy = self.start_cell.1 as f64 + ((p.y - self.start.y) / r).round();
        let k = (radius_m / r).ceil() as i64;
        (-k..=k).any(|dy| {
            (-k..=k).any(|dx| {
                let (x, y) = (cx + dx as f64, cy + dy as f64);
                x >= x0 as f64
                    && y >= y0 as f64
                    && x < x1 as f64
                    && y < y1 as f64
                    && ((dx * dx + dy * dy) as f64) * r * r <= radius_m * radius_m
                    && self.seen[(y as usize - y0) * (x1 - x0) + (x as usize - x0)]
            })
        })
    }
}

/// Every lattice position reachable from `start` in `window` with free turns; `None` if the
/// start is off the window or does not fit at its heading.
pub fn reachable_positions(
    cm: &Costmap,
    start: Point,
    start_heading: Option<f64>,
    window: (usize, usize, usize, usize),
) -> Option<Reachable> {
    positions(cm, start, start_heading, None, window).map(|(_, r)| r)
}

/// The breadth-first search over positions of [`search_positions`] and
/// [`reachable_positions`]: the manoeuvre to `goal` if given and reachable, and what it
/// reached.
fn positions(
    cm: &Costmap,
    start: Point,
    start_heading: Option<f64>,
    goal: Option<Point>,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
) -> Option<(Option<Manoeuvre>, Reachable)> {
    let (sx, sy) = cm.cell_of(start)?;
    if x1 <= x0 || y1 <= y0 || sx < x0 || sy < y0 || sx >= x1 || sy >= y1 {
        return None;
    }
    if start_heading.is_some_and(|h| !cm.footprint_free(Pose::new(start.x, start.y, h))) {
        return None;
    }
    let r = cm.resolution_m;
    let target = goal.map(|goal| {
        (
            (sx as f64 + ((goal.x - start.x) / r).round()).max(0.0) as usize,
            (sy as f64 + ((goal.y - start.y) / r).round()).max(0.0) as usize,
        )
    });
    let pos = |x: usize, y: usize| {
        Point::new(
            start.x + (x as f64 - sx as f64) * r,
            start.y + (y as f64 - sy as f64) * r,
        )
    };
    let ww = x1 - x0;
    let n = ww.checked_mul(y1 - y0)?;
    let mut parent = vec![u32::MAX; n];
    let mut seen = vec![false; n];
    let at = |x: usize, y: usize| (y - y0) * ww + (x - x0);
    // Footprint checks of (cell, direction): 0 unchecked, 1 clear, 2 not.
    let mut poses = vec![0u8; n * HEADINGS];
    let pose_ok = |poses: &mut [u8], x: usize, y: usize, d: usize| -> bool {
        let k = at(x, y) * HEADINGS + d;
        if poses[k] == 0 {
            let c = pos(x, y);
            poses[k] = if cm.footprint_free(Pose::new(c.x, c.y, heading_of(d))) {
                1
            } else {
                2
            };
        }
        poses[k] == 1
    };
    let mut queue = std::collections::VecDeque::new();
    seen[at(sx, sy)] = true;
    queue.push_back((sx, sy));
    let mut expansions = 0;
    let mut found = None;
    while let Some((x, y)) = queue.pop_front() {
        expansions += 1;
        if Some((x, y)) == target {
            let mut cells = vec![at(x, y)];
            while parent[cells[cells.len() - 1]] != u32::MAX {
                cells.push(parent[cells[cells.len() - 1]] as usize);
            }
            cells.reverse();
            let mut points = vec![start];
            points.extend(cells.iter().skip(1).map(|&c| pos(x0 + c % ww, y0 + c / ww)));
            let n = points.len();
            let final_heading = if n >= 2 {
                points[n - 2].heading_to(points[n - 1])
            } else {
                start_heading.unwrap_or(0.0)
            };
            found = Some(Manoeuvre {
                points,
                final_heading,
                expansions,
            });
            break;
        }
        let p = pos(x, y);
        for (d, &(dx, dy)) in DIRS.iter().enumerate() {
            let (nx, ny) = (x as i64 + i64::from(dx), y as i64 + i64::from(dy));
            if nx < x0 as i64 || ny < y0 as i64 || nx >= x1 as i64 || ny >= y1 as i64 {
                continue;
            }
            let (nx, ny) = (nx as usize, ny as usize);
            if seen[at(nx, ny)] {
                continue;
            }
            let yaw = heading_of(d);
            let q = pos(nx, ny);
            let m = Point::new((p.x + q.x) / 2.0, (p.y + q.y) / 2.0);
            // The checks of the full search's forward move (the middle of long moves only),
            // so that this search is a relaxation of it.
            let long = dx.abs() == 3 || dy.abs() == 3;
            if pose_ok(&mut poses, x, y, d)
                && pose_ok(&mut poses, nx, ny, d)
                && (!long || cm.footprint_free(Pose::new(m.x, m.y, yaw)))
            {
                seen[at(nx, ny)] = true;
                parent[at(nx, ny)] = at(x, y) as u32;
                queue.push_back((nx, ny));
            }
        }
    }
    let reached = Reachable {
        start,
        start_cell: (sx, sy),
        window: (x0, y0, x1, y1),
        resolution_m: r,
        seen,
    };
    Some((found, reached))
}
