//! Footprint-aware smoothing of a grid path, with local lattice manoeuvres where no straight
//! shortcut fits.

use crate::costmap::Costmap;
use crate::geom::Point;
use crate::lattice;
use crate::search::SearchGrid;

/// Most states one local lattice search of the smoothing expands.
const LOCAL_EXPANSIONS: usize = 400_000;

/// Most states the local lattice searches of one floor plan expand together: where they keep
/// failing (a way the greedy smoothing cannot take), the complete lattice of
/// [`Navigator::plan_floor`] takes over rather than a local search at every point of the way.
pub(super) const LOCAL_BUDGET: usize = 600_000;

/// Footprint-aware smoothing of a grid path. Returns the corners, or the point where no
/// footprint-feasible continuation exists.
///
/// Greedy string pulling (the farthest raw point reachable by a valid straight line, found by
/// galloping then bisecting), with three rules: a shortcut must keep the full footprint clear
/// along it and through the turn at its start; it may cost at most 2 % more than the stretch
/// of grid path it replaces (so smoothing never pulls the route to the walls); and it must end
/// where the robot can turn freely (or at the end), so the next shortcut can leave in any
/// direction. Where no such shortcut exists (a door, a bed bay), the lattice finds the
/// manoeuvre to the next point where the robot can turn freely.
pub(super) fn smooth(
    cm: &Costmap,
    grid: &SearchGrid,
    raw: &[Point],
    start_heading: Option<f64>,
    budget: &std::cell::Cell<usize>,
) -> Result<Vec<Point>, Point> {
    let n = raw.len();
    let mut out = vec![raw[0]];
    if n == 1 {
        return Ok(out);
    }
    let cuts = Shortcuts::new(cm, grid, raw);
    let mut i = 0usize;
    let mut heading = start_heading;
    while i < n - 1 {
        let good = cuts.farthest(i, heading, true);
        if good > i {
            let (a, b) = (raw[i], raw[good]);
            if a.dist(b) > 1e-9 {
                heading = Some(a.heading_to(b));
            }
            out.push(b);
            i = good;
            continue;
        }
        // A tight stretch: the manoeuvre to the next point where the robot can turn freely.
        let here = raw[i];
        let mut k = i + 1;
        while k < n - 1 && (!cuts.turn_anywhere[k] || raw[k].dist(here) < 0.3) {
            k += 1;
        }
        if let Some(m) = lattice_between(cm, here, heading, raw[k], None, budget) {
            out.extend(m.points.into_iter().skip(1));
            heading = Some(m.final_heading);
            if k == n - 1 {
                break;
            }
            let end = *out.last().unwrap_or(&raw[k]);
            // Go on from the lattice's end (within half a cell of raw[k]).
            let mut rest_raw = raw[k..].to_vec();
            rest_raw[0] = end;
            let rest = smooth(cm, grid, &rest_raw, heading, budget)?;
            out.extend(rest.into_iter().skip(1));
            break;
        }
        // Last resort: a shortcut that ends where the robot cannot turn freely.
        let good = cuts.farthest(i, heading, false);
        if good == i {
            return Err(here);
        }
        heading = Some(raw[i].heading_to(raw[good]));
        out.push(raw[good]);
        i = good;
    }
    Ok(merge_collinear(out))
}

/// The straight shortcuts along a raw grid path that the smoothing may take.
struct Shortcuts<'a> {
    cm: &'a Costmap,
    grid: &'a SearchGrid,
    raw: &'a [Point],
    /// Cost of the raw polyline up to each point, measured like the shortcuts.
    cum: Vec<f64>,
    /// Whether the robot can turn freely (at any heading) at each raw point.
    turn_anywhere: Vec<bool>,
}

impl<'a> Shortcuts<'a> {
    fn new(cm: &'a Costmap, grid: &'a SearchGrid, raw: &'a [Point]) -> Self {
        let extra = cm.check_extra_m;
        let n = raw.len();
        let mut cum = vec![0.0f64; n];
        for k in 1..n {
            cum[k] = cum[k - 1] + line_cost(cm, grid, raw[k - 1], raw[k]).unwrap_or(f64::INFINITY);
        }
        let turn_anywhere: Vec<bool> = raw
            .iter()
            .map(|&p| {
                cm.cell_of(p).is_some_and(|(cx, cy)| {
                    let d = f64::from(cm.distance_m[cy * cm.width + cx]);
                    d - cm.resolution_m * std::f64::consts::SQRT_2 >= cm.circumscribed_m + extra
                })
            })
            .collect();
        Self {
            cm,
            grid,
            raw,
            cum,
            turn_anywhere,
        }
    }

    /// Whether the straight line from raw point `i` to raw point `j` is a valid shortcut
    /// when the robot arrives at `i` facing `heading`; `anywhere`: it must also end where the
    /// robot can turn freely (or at the end).
    fn valid(&self, i: usize, j: usize, heading: Option<f64>, anywhere: bool) -> bool {
        let (cm, n) = (self.cm, self.raw.len());
        if anywhere && !(self.turn_anywhere[j] || j == n - 1) {
            return false;
        }
        let (a, b) = (self.raw[i], self.raw[j]);
        if a.dist(b) < 1e-9 {
            return true;
        }
        if let Some(h) = heading
            && !lattice::turn_free(cm, a, h, a.heading_to(b))
        {
            return false;
        }
        match line_cost(cm, self.grid, a, b) {
            Some(c) if c <= (self.cum[j] - self.cum[i]) * 1.02 + 1e-6 => {}
            _ => return false,
        }
        lattice::segment_free(cm, a, b)
    }

    /// The farthest raw point a valid shortcut from `i` reaches (galloping, then
    /// bisecting); `i` if none does.
    fn farthest(&self, i: usize, heading: Option<f64>, anywhere: bool) -> usize {
        let n = self.raw.len();
        let valid = |j: usize| self.valid(i, j, heading, anywhere);
        let mut good = i;
        let mut step = 1;
        let mut bad = n;
        while i + step < n {
            if valid(i + step) {
                good = i + step;
                step *= 2;
            } else {
                bad = i + step;
                break;
            }
        }
        if bad == n && good < n - 1 {
            if valid(n - 1) {
                return n - 1;
            }
            bad = n - 1;
        }
        let (mut lo, mut hi) = (good, bad);
        while hi > lo + 1 {
            let mid = (lo + hi) / 2;
            if valid(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        if lo == i {
            // The predicate is not monotone: scan the near points once.
            return (i + 1..n.min(i + 40)).find(|&j| valid(j)).unwrap_or(i);
        }
        lo
    }
}

/// `out` without the corners between collinear segments that go on in the same direction.
fn merge_collinear(out: Vec<Point>) -> Vec<Point> {
    let mut merged: Vec<Point> = Vec::with_capacity(out.len());
    for p in out {
        if merged.len() >= 2 {
            let a = merged[merged.len() - 2];
            let b = merged[merged.len() - 1];
            let cross = (b.x - a.x) * (p.y - b.y) - (b.y - a.y) * (p.x - b.x);
            let dot = (b.x - a.x) * (p.x - b.x) + (b.y - a.y) * (p.y - b.y);
            if cross.abs() < 1e-9 && dot > 0.0 {
                merged.pop();
            }
        }
        merged.push(p);
    }
    merged
}

/// Grid cost of the straight line `a`-`b` in the units of [`SearchGrid`] weights, or `None` if
/// it crosses a blocked cell.
fn line_cost(cm: &Costmap, grid: &SearchGrid, a: Point, b: Point) -> Option<f64> {
    let len = a.dist(b);
    let half = cm.resolution_m / 2.0;
    let steps = (len / half).ceil().max(1.0) as usize;
    let mut sum = 0.0;
    for k in 0..steps {
        let p = a.lerp(b, (k as f64 + 0.5) / steps as f64);
        let (cx, cy) = cm.cell_of(p)?;
        let w = grid.weight[grid.index(cx, cy)];
        if w == crate::search::BLOCKED {
            return None;
        }
        sum += f64::from(w) / grid.factor as f64;
    }
    Some(sum * (len / half) / steps as f64)
}

/// A lattice manoeuvre ends within half a cell of its goal: move the last corner onto the
/// exact `target` if the footprint stays clear on the changed last segment and through the
/// changed turn before it.
pub(super) fn snap_end(
    cm: &Costmap,
    points: &mut [Point],
    target: Point,
    start_heading: Option<f64>,
) {
    let n = points.len();
    if n < 2 || points[n - 1].dist(target) < 1e-9 {
        return;
    }
    let prev = points[n - 2];
    if prev.dist(target) < 1e-6 || !lattice::segment_free(cm, prev, target) {
        return;
    }
    let incoming = if n >= 3 {
        Some(points[n - 3].heading_to(prev))
    } else {
        start_heading
    };
    if incoming.is_none_or(|h| lattice::turn_free(cm, prev, h, prev.heading_to(target))) {
        points[n - 1] = target;
    }
}

pub(super) fn dedup(points: &mut Vec<Point>) {
    points.dedup_by(|a, b| a.dist(*b) < 1e-6);
}

/// Runs the lattice in a window around `start` and `goal`, with 16 then 32 headings, growing
/// the window twice if needed, within
/// what is left of `budget` (expansions); `start_heading` `None`: the robot may leave in any
/// direction.
pub(super) fn lattice_between(
    cm: &Costmap,
    start: Point,
    start_heading: Option<f64>,
    goal: Point,
    goal_heading: Option<f64>,
    budget: &std::cell::Cell<usize>,
) -> Option<lattice::Manoeuvre> {
    // The 16 headings first (cheaper), then all 32, in each window.
    for (margin_m, coarse) in [
        (1.5, true),
        (1.5, false),
        (3.0, true),
        (3.0, false),
        (6.0, true),
        (6.0, false),
    ] {
        if budget.get() == 0 {
            return None;
        }
        let r = cm.resolution_m;
        let lo = Point::new(
            start.x.min(goal.x) - margin_m,
            start.y.min(goal.y) - margin_m,
        );
        let hi = Point::new(
            start.x.max(goal.x) + margin_m,
            start.y.max(goal.y) + margin_m,
        );
        let to = |v: f64, o: f64, n: usize| (((v - o) / r).floor().max(0.0) as usize).min(n);
        let window = (
            to(lo.x, cm.origin.x, cm.width),
            to(lo.y, cm.origin.y, cm.height),
            to(hi.x, cm.origin.x, cm.width),
            to(hi.y, cm.origin.y, cm.height),
        );
        let limit = LOCAL_EXPANSIONS.min(budget.get());
        let (found, used) = lattice::search_counted(
            cm,
            start,
            start_heading,
            goal,
            goal_heading,
            window,
            limit,
            lattice::Checks {
                coarse,
                ..Default::default()
            },
        );
        budget.set(budget.get() - used.min(budget.get()));
        if found.is_some() {
            return found;
        }
    }
    None
}
