//! Local heading-aware search for tight passages (doors, bed bays), where the robot's long
//! footprint fits only at some headings.
//!
//! States are `(cell, heading)` with 16 headings, each the direction of a grid move
//! (`(1,0)`, `(2,1)`, `(1,1)`, `(1,2)`, ... as in a 16-connected grid), so forward moves land
//! exactly on cells. Moves: one step forward along the heading, or a turn in place to the
//! next heading either way. The robot does not reverse. Every state and every turn is checked
//! with the full footprint ([`Costmap::footprint_free`]), turns at sub-steps small enough that
//! no footprint point moves farther than the check's extra margin between two checks.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::costmap::Costmap;
use crate::geom::{Point, Pose, wrap_angle};

/// The 16 heading directions as grid steps, counter-clockwise from +x.
pub const DIRS: [(i32, i32); 16] = [
    (1, 0),
    (2, 1),
    (1, 1),
    (1, 2),
    (0, 1),
    (-1, 2),
    (-1, 1),
    (-2, 1),
    (-1, 0),
    (-2, -1),
    (-1, -1),
    (-1, -2),
    (0, -1),
    (1, -2),
    (1, -1),
    (2, -1),
];

/// Heading of direction `k`, radians.
pub fn heading_of(k: usize) -> f64 {
    let (dx, dy) = DIRS[k];
    f64::from(dy).atan2(f64::from(dx))
}

/// The direction nearest to `heading_rad`.
pub fn nearest_dir(heading_rad: f64) -> usize {
    (0..16)
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
    let (x0, y0, x1, y1) = window;
    let (sx, sy) = cm.cell_of(start.point())?;
    cm.cell_of(goal)?;
    if x1 <= x0 || y1 <= y0 || sx < x0 || sy < y0 || sx >= x1 || sy >= y1 {
        return None;
    }
    let r = cm.resolution_m;
    // The lattice is anchored at the exact start position, so that the manoeuvre begins where
    // the robot is; its goal is the lattice point nearest to `goal` (within half a cell).
    let gx = (sx as f64 + ((goal.x - start.x) / r).round()).max(0.0) as usize;
    let gy = (sy as f64 + ((goal.y - start.y) / r).round()).max(0.0) as usize;
    let pos = |x: usize, y: usize| {
        Point::new(
            start.x + (x as f64 - sx as f64) * r,
            start.y + (y as f64 - sy as f64) * r,
        )
    };
    let (ww, wh) = (x1 - x0, y1 - y0);
    let idx = |x: usize, y: usize, d: usize| (((y - y0) * ww + (x - x0)) << 4) | d;
    let n = ww * wh * 16;
    let mut flags = vec![0u8; n];
    let mut g = vec![f32::INFINITY; n];
    let mut parent = vec![u32::MAX; n];
    // Cost in metres; a turn costs the arc its farthest corner sweeps, which prefers turning
    // where there is room.
    let turn_cost = |a: f64| a.abs() * cm.circumscribed_m;
    let h = |x: usize, y: usize| (x.abs_diff(gx) as f64).hypot(y.abs_diff(gy) as f64) * r;
    let state_ok = |flags: &mut [u8], x: usize, y: usize, d: usize| -> bool {
        let k = idx(x, y, d);
        if flags[k] & CHECKED == 0 {
            let c = pos(x, y);
            let ok = cm.footprint_free(Pose::new(c.x, c.y, heading_of(d)));
            flags[k] |= CHECKED | if ok { FREE } else { 0 };
        }
        flags[k] & FREE != 0
    };
    // Turn between d and d + 1, cached on d's state.
    let turn_ok = |flags: &mut [u8], x: usize, y: usize, d: usize| -> bool {
        let k = idx(x, y, d);
        if flags[k] & TURN_CHECKED == 0 {
            // Both end states are checked by the caller.
            let ok = turn_between_free(cm, pos(x, y), heading_of(d), heading_of((d + 1) % 16));
            flags[k] |= TURN_CHECKED | if ok { TURN_FREE } else { 0 };
        }
        flags[k] & TURN_FREE != 0
    };
    let mut heap: BinaryHeap<Reverse<(u32, u32)>> = BinaryHeap::new();
    let enc = |f: f64| (f * 1e4).min(4e9) as u32;
    let start_c = start.point();
    // Only the two directions either side of the exact start heading: further turns are
    // lattice moves, checked and cached like any other.
    let near = nearest_dir(start.yaw_rad);
    let other = if wrap_angle(start.yaw_rad - heading_of(near)) >= 0.0 {
        (near + 1) % 16
    } else {
        (near + 15) % 16
    };
    for d in [near, other] {
        let a = wrap_angle(heading_of(d) - start.yaw_rad);
        if !state_ok(&mut flags, sx, sy, d) || !turn_free(cm, start_c, start.yaw_rad, heading_of(d))
        {
            continue;
        }
        let k = idx(sx, sy, d);
        let gk = turn_cost(a) as f32;
        if gk < g[k] {
            g[k] = gk;
            heap.push(Reverse((enc(f64::from(gk) + h(sx, sy)), k as u32)));
        }
    }
    let mut expansions = 0;
    while let Some(Reverse((_, k))) = heap.pop() {
        let k = k as usize;
        if flags[k] & CLOSED != 0 {
            continue;
        }
        flags[k] |= CLOSED;
        expansions += 1;
        if expansions > max_expansions {
            return None;
        }
        let d = k & 15;
        let cell = k >> 4;
        let (x, y) = (x0 + cell % ww, y0 + cell / ww);
        let gk = f64::from(g[k]);
        let at_goal = x == gx
            && y == gy
            && goal_heading.is_none_or(|gh| wrap_angle(heading_of(d) - gh).abs() < 0.47);
        if at_goal {
            // Walk back, keeping the points where the robot turns.
            let mut states = vec![k];
            let mut cur = k;
            while parent[cur] != u32::MAX {
                cur = parent[cur] as usize;
                states.push(cur);
            }
            states.reverse();
            let mut points = vec![start_c];
            for w in states.windows(2) {
                if w[0] >> 4 == w[1] >> 4 {
                    let c = w[0] >> 4;
                    let p = pos(x0 + c % ww, y0 + c / ww);
                    if points.last().is_none_or(|&l| l.dist(p) > 1e-9) {
                        points.push(p);
                    }
                }
            }
            let end = pos(gx, gy);
            if points.last().is_none_or(|&l| l.dist(end) > 1e-9) {
                points.push(end);
            }
            return Some(Manoeuvre {
                points,
                final_heading: heading_of(d),
                expansions,
            });
        }
        let mut relax = |nk: usize,
                         ng: f64,
                         nx: usize,
                         ny: usize,
                         heap: &mut BinaryHeap<Reverse<(u32, u32)>>| {
            if ng < f64::from(g[nk]) {
                g[nk] = ng as f32;
                parent[nk] = k as u32;
                heap.push(Reverse((enc(ng + h(nx, ny)), nk as u32)));
            }
        };
        // Forward move.
        let (dx, dy) = DIRS[d];
        let (nx, ny) = (x as i64 + i64::from(dx), y as i64 + i64::from(dy));
        if nx >= x0 as i64 && ny >= y0 as i64 && nx < x1 as i64 && ny < y1 as i64 {
            let (nx, ny) = (nx as usize, ny as usize);
            if state_ok(&mut flags, nx, ny, d) {
                let ng = gk + f64::from(dx).hypot(f64::from(dy)) * r;
                relax(idx(nx, ny, d), ng, nx, ny, &mut heap);
            }
        }
        // Turns in place.
        for (nd, via) in [((d + 1) % 16, d), ((d + 15) % 16, (d + 15) % 16)] {
            let nk = idx(x, y, nd);
            if flags[nk] & CLOSED != 0
                || !state_ok(&mut flags, x, y, nd)
                || !turn_ok(&mut flags, x, y, via)
            {
                continue;
            }
            let ng = gk + turn_cost(wrap_angle(heading_of(nd) - heading_of(d)));
            relax(nk, ng, x, y, &mut heap);
        }
    }
    None
}
