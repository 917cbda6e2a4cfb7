//! Why the floor planner found no way: the rules relaxed one at a time, as the completeness
//! oracle of `tests/completeness.rs` does, to name what blocks the way and where.

use crate::costmap::Costmap;
use crate::geom::{Point, Pose};
use crate::lattice;

use super::Target;
use super::floor::{LATTICE_CELLS, Miss, complete_lattice, lattice_window};

/// The lattice's relaxation with free turns (diagnosis only).
pub(super) const FREE_TURNS: lattice::Checks = lattice::Checks {
    turns: false,
    coarse: false,
};

/// What blocks the way when [`Navigator::plan_floor`] finds none, as a sentence starting
/// "on floor N, ": relaxing one rule at a time (like the completeness oracle of
/// `tests/completeness.rs`), the heading required at the goal, unknown cells, turns in place;
/// else the passage is too narrow for the footprint at any heading. Each relaxed search runs
/// only where its relaxation with free turns finds a way (it cannot otherwise).
/// `free_turns`: the relaxation with free turns to the goal, if already run.
pub(super) fn explain_miss(
    cm: &Costmap,
    start: &Target,
    goal: &Target,
    miss: &Miss,
    free_turns: Option<Option<lattice::Manoeuvre>>,
) -> String {
    let floor = start.floor;
    let raw: &[Point] = match miss {
        Miss::Other(why) => return why.clone(),
        Miss::NoCentrePath => &[],
        Miss::Footprint { raw, .. } => raw,
    };
    let relax = Relax {
        cm,
        start,
        goal,
        raw,
    };
    if !raw.is_empty()
        && let Some(h) = goal.heading_rad
        && relax.fully(cm, None).is_some()
    {
        return format!(
            "on floor {floor}, the robot can reach the goal {} but not facing {:.0} deg: there is no room to turn onto that heading on the way to it",
            at(goal.point),
            h.to_degrees()
        );
    }
    if let Some(why) = relax.unknown_cells() {
        return why;
    }
    if raw.is_empty() {
        return format!(
            "on floor {floor}, no way wide enough for the robot leads from {} to {}",
            at(start.point),
            at(goal.point)
        );
    }
    // Turns: would there be a way if turning in place needed no room?
    let free = match free_turns {
        Some(free) if goal.heading_rad.is_none() => free,
        _ => relax.reachable(cm, goal.heading_rad, FREE_TURNS),
    };
    if let Some(m) = free {
        if let Some((pose, true)) = first_blocked_pose(cm, &m.points, start.heading_rad) {
            return format!(
                "on floor {floor}, the robot cannot turn at {}: there is no room to turn in place there, and no other way avoids that turn",
                at(pose.point())
            );
        }
        return format!(
            "on floor {floor}, the robot cannot turn where it would have to on the way from {} to {}: there is no room to turn in place",
            at(start.point),
            at(goal.point)
        );
    }
    relax.too_narrow(miss)
}

/// A point for a message.
fn at(p: Point) -> String {
    format!("({}, {})", crate::fmt_m(p.x), crate::fmt_m(p.y))
}

/// The complete lattice from a start to a goal, with one rule or another relaxed.
struct Relax<'a> {
    cm: &'a Costmap,
    start: &'a Target,
    goal: &'a Target,
    /// The grid path for the robot's centre, if there is one.
    raw: &'a [Point],
}

impl Relax<'_> {
    /// The lattice's way on `cm` to the goal (facing `heading`, if given) under `checks`.
    fn reachable(
        &self,
        cm: &Costmap,
        heading: Option<f64>,
        checks: lattice::Checks,
    ) -> Option<lattice::Manoeuvre> {
        complete_lattice(cm, self.start, self.goal.point, heading, self.raw, checks)
    }

    /// Both the relaxation with free turns and the full search.
    fn fully(&self, cm: &Costmap, heading: Option<f64>) -> Option<lattice::Manoeuvre> {
        self.reachable(cm, heading, FREE_TURNS)
            .and_then(|_| self.reachable(cm, heading, lattice::Checks::default()))
    }

    /// The start, the goal and the grid path: what the lattice's window must hold.
    fn points(&self) -> Vec<Point> {
        let mut pts = vec![self.start.point, self.goal.point];
        pts.extend_from_slice(self.raw);
        pts
    }

    /// Unknown cells: would there be a way if they were free space? If so, where they block it.
    fn unknown_cells(&self) -> Option<String> {
        let (cm, start, goal) = (self.cm, self.start, self.goal);
        let window = lattice_window(cm, &self.points())?;
        let (x0, y0, x1, y1) = window;
        let unknown = (y0..y1).any(|cy| {
            cm.kind[cy * cm.width + x0..cy * cm.width + x1]
                .contains(&(crate::costmap::CellKind::Unknown as u8))
        });
        if !unknown {
            return None;
        }
        let relaxed = cm.window(window, true);
        let m = self.fully(&relaxed, goal.heading_rad)?;
        // The relaxed route may brush unknown cells where the robot could pass anyway; name
        // where it leaves, for good, what the robot can reach on the real map (even with free
        // turns): there the unknown cells stop it.
        let reach = lattice::reachable_positions(cm, start.point, start.heading_rad, window);
        let from = reach.map_or(0, |reach| {
            m.points
                .iter()
                .rposition(|&p| reach.near(p, 0.3))
                .unwrap_or(0)
        });
        let places: Vec<String> = blocked_stretches(cm, &m.points[from..], None, 3)
            .into_iter()
            .map(at)
            .collect();
        let near = match places.len() {
            0 => at(goal.point),
            1 => places[0].clone(),
            n => format!("{} and {}", places[..n - 1].join(", "), places[n - 1]),
        };
        Some(format!(
            "on floor {}, unknown (unmapped) cells block the way near {near}: the robot would fit if they were free space (map that part again, or mark it free if it is)",
            start.floor
        ))
    }

    /// The last word: the footprint fits at no heading somewhere along the way, or the way is
    /// too narrow near where the planner stopped.
    fn too_narrow(&self, miss: &Miss) -> String {
        let (cm, floor) = (self.cm, self.start.floor);
        let no_fit = self.raw.iter().find(|p| {
            !(0..72).any(|k| {
                let yaw = f64::from(k) * std::f64::consts::TAU / 72.0;
                cm.footprint_free(Pose::new(p.x, p.y, yaw))
            })
        });
        let near = match miss {
            Miss::Footprint { near, .. } => *near,
            _ => self.start.point,
        };
        match no_fit {
            Some(&p) => format!(
                "on floor {floor}, the passage near {} is too narrow for the robot's footprint at any heading",
                at(p)
            ),
            None if lattice_window(cm, &self.points()).is_none() => format!(
                "on floor {floor}, no footprint-clear way was found near {}; the way is too long for the complete search that would tell why (it covers at most {LATTICE_CELLS} cells around the way)",
                at(near)
            ),
            None => format!(
                "on floor {floor}, the passage near {} is too narrow for the robot's footprint",
                at(near)
            ),
        }
    }
}

/// The first pose along `points` (driven as the robot drives them: a turn at each corner,
/// then straight) whose footprint is not clear on `cm`, and whether it is in a turn.
fn first_blocked_pose(
    cm: &Costmap,
    points: &[Point],
    start_heading: Option<f64>,
) -> Option<(Pose, bool)> {
    let mut heading = start_heading;
    for w in points.windows(2) {
        if w[0].dist(w[1]) < 1e-9 {
            continue;
        }
        let h = w[0].heading_to(w[1]);
        if let Some(from) = heading
            && !lattice::turn_free(cm, w[0], from, h)
        {
            return Some((Pose::new(w[0].x, w[0].y, from), true));
        }
        let steps = ((w[0].dist(w[1]) / cm.resolution_m).ceil() as usize).max(1);
        for k in 0..=steps {
            let p = w[0].lerp(w[1], k as f64 / steps as f64);
            if !cm.footprint_free(Pose::new(p.x, p.y, h)) {
                return Some((Pose::new(p.x, p.y, h), false));
            }
        }
        heading = Some(h);
    }
    None
}

/// Where `points` (driven as the robot drives them) stop being clear on `cm`: the first pose
/// of each stretch of poses that are not, at most `most` of them.
fn blocked_stretches(
    cm: &Costmap,
    points: &[Point],
    start_heading: Option<f64>,
    most: usize,
) -> Vec<Point> {
    let mut out = Vec::new();
    let mut blocked = false;
    let mut heading = start_heading;
    let mut note = |clear: bool, p: Point, out: &mut Vec<Point>| {
        if !clear && !blocked && out.len() < most {
            out.push(p);
        }
        blocked = !clear;
    };
    for w in points.windows(2) {
        if w[0].dist(w[1]) < 1e-9 {
            continue;
        }
        let h = w[0].heading_to(w[1]);
        if let Some(from) = heading {
            note(lattice::turn_free(cm, w[0], from, h), w[0], &mut out);
        }
        let steps = ((w[0].dist(w[1]) / cm.resolution_m).ceil() as usize).max(1);
        for k in 0..=steps {
            let p = w[0].lerp(w[1], k as f64 / steps as f64);
            note(cm.footprint_free(Pose::new(p.x, p.y, h)), p, &mut out);
        }
        heading = Some(h);
    }
    out
}
