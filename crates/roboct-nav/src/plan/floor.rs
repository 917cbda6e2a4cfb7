//! The floor planner: grid A*, footprint-aware smoothing and local lattices first, the complete
//! heading-aware lattice where those find no way.

use crate::costmap::Costmap;
use crate::error::FloorError;
use crate::geom::{Point, Pose, wrap_angle};
use crate::lattice;
use crate::search::SearchGrid;

use super::explain::{FREE_TURNS, explain_miss};
use super::smooth::{LOCAL_BUDGET, dedup, lattice_between, smooth, snap_end};
use super::{FloorPath, Navigator, PlannerOptions, Target};

impl Navigator {
    /// Plans on one floor from `start` to `goal` (same floor). `Err` says why not.
    ///
    /// First the fast pipeline (grid A*, footprint-aware smoothing, local lattices); if its
    /// greedy smoothing finds no footprint-clear way along the grid path, the heading-aware
    /// lattice from the exact start to the goal over the whole floor (or, on a floor of more
    /// than [`LATTICE_CELLS`] cells, a window around the grid path), which finds a way
    /// whenever its lattice has one. When neither finds one, the error says what blocks the
    /// way, found by relaxing one rule at a time as `tests/completeness.rs`'s oracle does:
    /// the heading required at the goal, unknown cells, turns in place; else the passage is
    /// too narrow for the footprint at any heading.
    ///
    /// # Errors
    /// [`FloorError::NoPath`] with a sentence saying why there is no path and where.
    pub fn plan_floor(&mut self, start: &Target, goal: &Target) -> Result<FloorPath, FloorError> {
        let fi = self
            .floor_index(start.floor)
            .ok_or(FloorError::NoFloor(start.floor))?;
        let options = self.options;
        match self.plan_floor_fast(fi, start, goal) {
            Ok(path) => Ok(path),
            Err(Miss::Other(reason)) => Err(FloorError::NoPath { reason }),
            Err(miss) => {
                let fnav = &self.floors[fi];
                let cm = &fnav.costmap;
                let mut free_turns = None;
                if let Miss::Footprint { raw, .. } = &miss {
                    // Cheap first: without a goal heading, the lattice can only succeed where
                    // its relaxation with free turns does.
                    let worth_it = goal.heading_rad.is_some() || {
                        let free = complete_lattice(cm, start, goal.point, None, raw, FREE_TURNS);
                        let found = free.is_some();
                        free_turns = Some(free);
                        found
                    };
                    if worth_it
                        && let Some(path) =
                            lattice_route(cm, &fnav.grid, start, goal, raw, &options)
                    {
                        return Ok(path);
                    }
                }
                Err(FloorError::NoPath {
                    reason: explain_miss(cm, start, goal, &miss, free_turns),
                })
            }
        }
    }

    /// The fast pipeline of [`Navigator::plan_floor`].
    fn plan_floor_fast(
        &mut self,
        fi: usize,
        start: &Target,
        goal: &Target,
    ) -> Result<FloorPath, Miss> {
        let options = self.options;
        let fnav = &mut self.floors[fi];
        let cm = &fnav.costmap;
        // Already there, or already on the final approach facing the goal: no search.
        if let Some(points) = already_on_approach(cm, start, goal, options.final_approach_m) {
            let final_heading = goal
                .heading_rad
                .or(start.heading_rad)
                .unwrap_or_else(|| points[0].heading_to(points[points.len() - 1]));
            if let Some(bad) = first_unclear(cm, &points, start.heading_rad, final_heading) {
                return Err(Miss::Footprint {
                    near: bad,
                    raw: points,
                });
            }
            return Ok(FloorPath {
                points,
                final_heading,
                expansions: 0,
                grid_cost: 0,
                grid_length_m: 0.0,
            });
        }
        // With a required heading, aim for a point behind the goal and finish straight in.
        let (target, final_leg) = approach_target(cm, goal, options.final_approach_m);
        let (sx, sy) = cm
            .cell_of(start.point)
            .ok_or_else(|| Miss::Other("the start is outside the map".into()))?;
        let (tx, ty) = cm
            .cell_of(target)
            .ok_or_else(|| Miss::Other("the goal is outside the map".into()))?;
        let s = nearest_open(&fnav.grid, fnav.grid.index(sx, sy));
        let t = nearest_open(&fnav.grid, fnav.grid.index(tx, ty));
        let lm = (!fnav.landmarks.is_empty()).then_some(&fnav.landmarks);
        let gp = fnav
            .state
            .weighted_astar(&fnav.grid, s, t, lm, options.heuristic_weight)
            .map_err(|_| Miss::NoCentrePath)?;
        let grid = &fnav.grid;
        let mut raw: Vec<Point> = gp.cells.iter().map(|&i| grid.centre(i, cm)).collect();
        raw[0] = start.point;
        let last = raw.len() - 1;
        raw[last] = target;
        let grid_length_m = raw.windows(2).map(|w| w[0].dist(w[1])).sum();
        let footprint_miss = |near: Point| Miss::Footprint {
            near,
            raw: raw.clone(),
        };
        let budget = std::cell::Cell::new(LOCAL_BUDGET);
        let mut points =
            smooth(cm, grid, &raw, start.heading_rad, &budget).map_err(footprint_miss)?;
        snap_end(cm, &mut points, target, start.heading_rad);
        let mut final_heading = if points.len() >= 2 {
            let n = points.len();
            points[n - 2].heading_to(points[n - 1])
        } else {
            start.heading_rad.unwrap_or(0.0)
        };
        if let Some(h) = final_leg {
            let end = *points.last().unwrap_or(&target);
            if !lattice::turn_free(cm, end, final_heading, h) && points.len() >= 2 {
                // Turning onto the approach axis needs more room: let the lattice find it.
                let n = points.len();
                let back = points[n - 2];
                // The robot arrives at `back` with the heading of the segment before it.
                let incoming = if n >= 3 {
                    points[n - 3].heading_to(back)
                } else {
                    start.heading_rad.unwrap_or_else(|| back.heading_to(end))
                };
                let m = lattice_between(cm, back, Some(incoming), end, Some(h), &budget)
                    .ok_or_else(|| footprint_miss(end))?;
                points.pop();
                points.extend(m.points.into_iter().skip(1));
            }
            points.push(goal.point);
            final_heading = h;
        } else if let Some(h) = goal.heading_rad {
            // No room for a straight final approach: turn to the heading at the goal.
            final_heading = h;
        }
        dedup(&mut points);
        // Last line of defence: the whole path, every straight move and every turn in place
        // (from the start heading to the goal heading), is checked once more with the full
        // footprint. Nothing unchecked leaves the planner.
        if let Some(bad) = first_unclear(cm, &points, start.heading_rad, final_heading) {
            return Err(footprint_miss(bad));
        }
        Ok(FloorPath {
            points,
            final_heading,
            expansions: gp.expansions,
            grid_cost: gp.cost,
            grid_length_m,
        })
    }
}

/// Why the fast pipeline of [`Navigator::plan_floor`] found no path.
#[derive(Debug)]
pub(super) enum Miss {
    /// Not a question of room (a point off the map): the message.
    Other(String),
    /// The grid search found no way for the robot's centre with its inscribed radius clear.
    NoCentrePath,
    /// The robot's centre has a way (`raw`, the grid path), but the footprint-aware stages
    /// found none near `near`.
    Footprint { near: Point, raw: Vec<Point> },
}

/// Most cells of the window in which the complete lattice runs (the fallback of
/// [`Navigator::plan_floor`] and its diagnosis): 400 000 cells (1000 m^2 at 5 cm), 192 bytes
/// each while it runs.
pub const LATTICE_CELLS: usize = 400_000;

/// Most states the complete lattice expands.
const LATTICE_EXPANSIONS: usize = 6_000_000;

/// The whole path when no search is needed: `[start]` when the start is the goal (1 mm), or
/// `[start, goal]` when the start lies on the goal's final approach (on the line up to
/// `approach_m` behind it, within 1 cm) facing the goal (or without a heading) and the way
/// is clear.
fn already_on_approach(
    cm: &Costmap,
    start: &Target,
    goal: &Target,
    approach_m: f64,
) -> Option<Vec<Point>> {
    if start.point.dist(goal.point) < 1e-3 {
        return Some(vec![start.point]);
    }
    let h = goal.heading_rad?;
    let (sn, cs) = h.sin_cos();
    let (dx, dy) = (goal.point.x - start.point.x, goal.point.y - start.point.y);
    let ahead = dx * cs + dy * sn;
    let lateral = -dx * sn + dy * cs;
    let facing = start
        .heading_rad
        .is_none_or(|s| wrap_angle(s - h).abs() < 0.02);
    (ahead > 0.0
        && ahead <= approach_m + 1e-9
        && lateral.abs() < 0.01
        && facing
        && lattice::segment_free(cm, start.point, goal.point))
    .then(|| vec![start.point, goal.point])
}

/// `i`, or the nearest open search cell within two cells of it (a downsampled block next to
/// a wall can be blocked while the exact start in it is not; the smoothing checks the short
/// way between them with the full footprint).
fn nearest_open(grid: &SearchGrid, i: usize) -> usize {
    if grid.weight[i] != crate::search::BLOCKED {
        return i;
    }
    let w = grid.w as isize;
    let mut best = i;
    let mut best_d = i64::MAX;
    for dy in -2isize..=2 {
        for dx in -2isize..=2 {
            let j = i as isize + dy * w + dx;
            if j < 0 || j as usize >= grid.weight.len() {
                continue;
            }
            let d = (dx * dx + dy * dy) as i64;
            if grid.weight[j as usize] != crate::search::BLOCKED && d < best_d {
                best = j as usize;
                best_d = d;
            }
        }
    }
    best
}

/// Where the path to a goal with a heading aims before its straight final approach, and that
/// heading; the goal itself and `None` when it has no heading or no room for the approach.
fn approach_target(cm: &Costmap, goal: &Target, approach_m: f64) -> (Point, Option<f64>) {
    if let Some(h) = goal.heading_rad {
        let mut l = approach_m;
        while l > 0.05 {
            let pre = goal.point.offset(h, -l);
            if cm.why_blocked(pre, None).is_none() && lattice::segment_free(cm, pre, goal.point) {
                return (pre, Some(h));
            }
            l -= 0.25;
        }
    }
    (goal.point, None)
}

/// The first corner or segment of `points` where the footprint is not clear, driving
/// straight between corners and turning in place at them.
fn first_unclear(
    cm: &Costmap,
    points: &[Point],
    start_heading: Option<f64>,
    final_heading: f64,
) -> Option<Point> {
    let mut heading = start_heading;
    for w in points.windows(2) {
        if w[0].dist(w[1]) < 1e-9 {
            continue;
        }
        let h = w[0].heading_to(w[1]);
        if heading.is_some_and(|from| !lattice::turn_free(cm, w[0], from, h)) {
            return Some(w[0]);
        }
        if !lattice::segment_free(cm, w[0], w[1]) {
            return Some(w[0]);
        }
        heading = Some(h);
    }
    let last = *points.last()?;
    match heading {
        Some(from) if !lattice::turn_free(cm, last, from, final_heading) => Some(last),
        None if !cm.footprint_free(Pose::new(last.x, last.y, final_heading)) => Some(last),
        _ => None,
    }
}

/// The cells the complete lattice searches: the whole floor if it has at most
/// [`LATTICE_CELLS`], else the box around `points` with 3 m to spare, if that is small
/// enough.
pub(super) fn lattice_window(
    cm: &Costmap,
    points: &[Point],
) -> Option<(usize, usize, usize, usize)> {
    if cm.width * cm.height <= LATTICE_CELLS {
        return Some((0, 0, cm.width, cm.height));
    }
    let margin = (3.0 / cm.resolution_m).ceil() as usize;
    let cells: Vec<(usize, usize)> = points.iter().filter_map(|&p| cm.cell_of(p)).collect();
    let x0 = cells.iter().map(|c| c.0).min()?.saturating_sub(margin);
    let y0 = cells.iter().map(|c| c.1).min()?.saturating_sub(margin);
    let x1 = (cells.iter().map(|c| c.0).max()? + margin + 1).min(cm.width);
    let y1 = (cells.iter().map(|c| c.1).max()? + margin + 1).min(cm.height);
    ((x1 - x0) * (y1 - y0) <= LATTICE_CELLS).then_some((x0, y0, x1, y1))
}

/// The complete lattice from the exact start to `goal` (with its heading, if any) on `cm`,
/// in `window` (`None`: [`lattice_window`] of the start, the goal and `via`).
pub(super) fn complete_lattice(
    cm: &Costmap,
    start: &Target,
    goal: Point,
    goal_heading: Option<f64>,
    via: &[Point],
    checks: lattice::Checks,
) -> Option<lattice::Manoeuvre> {
    let mut pts = vec![start.point, goal];
    pts.extend_from_slice(via);
    let window = lattice_window(cm, &pts)?;
    lattice::search_from(
        cm,
        start.point,
        start.heading_rad,
        goal,
        goal_heading,
        window,
        LATTICE_EXPANSIONS,
        checks,
    )
}

/// The fallback of [`Navigator::plan_floor`]: the complete lattice to the approach target,
/// then the final approach, the path tidied by the smoothing where it can be and checked
/// once more like every path. A goal with a heading is tried with the full straight final
/// approach, then half of it, then none (a turn in place at the goal), as the approach needs
/// room beside the way in.
fn lattice_route(
    cm: &Costmap,
    grid: &SearchGrid,
    start: &Target,
    goal: &Target,
    raw: &[Point],
    options: &PlannerOptions,
) -> Option<FloorPath> {
    let mut tried: Vec<Point> = Vec::new();
    for approach_m in [
        options.final_approach_m,
        options.final_approach_m / 2.0,
        0.0,
    ] {
        let (target, final_leg) = approach_target(cm, goal, approach_m);
        if tried.iter().any(|t| t.dist(target) < 1e-9) {
            continue;
        }
        tried.push(target);
        let Some(m) = complete_lattice(
            cm,
            start,
            target,
            goal.heading_rad,
            raw,
            lattice::Checks::default(),
        ) else {
            continue;
        };
        let finish = |mut points: Vec<Point>| -> Option<(Vec<Point>, f64)> {
            snap_end(cm, &mut points, target, start.heading_rad);
            let mut final_heading = match points.len() {
                0 | 1 => m.final_heading,
                n => points[n - 2].heading_to(points[n - 1]),
            };
            if let Some(h) = final_leg {
                points.push(goal.point);
                final_heading = h;
            } else if let Some(h) = goal.heading_rad {
                final_heading = h;
            }
            dedup(&mut points);
            first_unclear(cm, &points, start.heading_rad, final_heading)
                .is_none()
                .then_some((points, final_heading))
        };
        let budget = std::cell::Cell::new(LOCAL_BUDGET);
        let tidy = smooth(cm, grid, &m.points, start.heading_rad, &budget).ok();
        if let Some((points, final_heading)) =
            tidy.and_then(&finish).or_else(|| finish(m.points.clone()))
        {
            let grid_length_m = m.points.windows(2).map(|w| w[0].dist(w[1])).sum();
            return Some(FloorPath {
                points,
                final_heading,
                expansions: m.expansions,
                grid_cost: 0,
                grid_length_m,
            });
        }
    }
    None
}
