//! The simulated base: the clock, the robot's energy and track, dynamic obstacles that appear,
//! move and wait for the robot, doors, and the checks of each pose against all of them.

use crate::geom::{Point, Polygon, Pose};
use crate::plan::{Navigator, footprint_at};
use crate::robot::RobotModel;
use crate::site::Site;

use super::{
    DriveEvent, DriveOptions, DriveReport, DriveStatus, DynamicObstacle, EventKind, TrackPoint,
};

/// The simulated base: the clock, what the robot has spent and done, and the world it drives
/// in (dynamic obstacles, their positions). It integrates the controller's commands
/// ([`super::leg`]) and the scripted moves of elevator rides ([`super::ride`]).
pub(super) struct Sim {
    pub(super) t: f64,
    pub(super) energy_j: f64,
    pub(super) distance_m: f64,
    pub(super) events: Vec<DriveEvent>,
    pub(super) trajectory: Vec<TrackPoint>,
    pub(super) tracks: Vec<Vec<(f64, Polygon)>>,
    pub(super) replans: usize,
    pub(super) refused: usize,
    pub(super) obstacles: Vec<DynamicObstacle>,
    pub(super) positions: Vec<Polygon>,
    pub(super) options: DriveOptions,
}

impl Sim {
    /// A base at time 0 with `obstacles` still to appear.
    pub(super) fn new(obstacles: &[DynamicObstacle], options: DriveOptions) -> Self {
        Self {
            t: 0.0,
            energy_j: 0.0,
            distance_m: 0.0,
            events: Vec::new(),
            trajectory: Vec::new(),
            tracks: vec![Vec::new(); obstacles.len()],
            replans: 0,
            refused: 0,
            obstacles: obstacles.to_vec(),
            positions: obstacles.iter().map(|o| o.shape.clone()).collect(),
            options,
        }
    }

    /// The report of the drive, ended with `status`.
    pub(super) fn into_report(self, status: DriveStatus) -> DriveReport {
        DriveReport {
            status,
            time_s: self.t,
            energy_j: self.energy_j,
            distance_m: self.distance_m,
            replans: self.replans,
            events: self.events,
            trajectory: self.trajectory,
            obstacle_tracks: self.tracks,
            refused_steps: self.refused,
        }
    }

    pub(super) fn event(&mut self, floor: i32, what: EventKind) {
        self.events.push(DriveEvent {
            t_s: (self.t * 100.0).round() / 100.0,
            floor,
            what,
        });
    }

    /// Records the robot and the obstacles present at this instant.
    pub(super) fn record(&mut self, floor: i32, pose: Pose, elevator: Option<usize>) {
        self.trajectory.push(TrackPoint {
            t_s: self.t,
            floor,
            pose,
            elevator,
        });
        for (i, o) in self.obstacles.iter().enumerate() {
            if self.t >= o.appear_s && o.leave_s.is_none_or(|l| self.t < l) {
                self.tracks[i].push((self.t, self.positions[i].clone()));
            }
        }
    }

    /// Whether a visible obstacle overlaps the robot's footprint at `pose`.
    pub(super) fn obstacle_hit(
        &self,
        floor: i32,
        robot: &RobotModel,
        pose: Pose,
    ) -> Option<String> {
        let fp = footprint_at(robot, pose);
        (0..self.obstacles.len())
            .find(|&i| {
                self.visible(i, floor, pose.point()) && convex_overlap(&self.positions[i], &fp)
            })
            .map(|i| self.obstacles[i].name.clone())
    }

    /// Waits `seconds` in place (electronics only), people moving on.
    pub(super) fn idle(
        &mut self,
        robot: &RobotModel,
        floor: i32,
        pose: Pose,
        seconds: f64,
        elevator: Option<usize>,
    ) {
        let end = self.t + seconds;
        let dt = self.options.dt_s;
        while self.t + 1e-9 < end {
            self.record(floor, pose, elevator);
            let step = dt.min(end - self.t);
            self.energy_j += robot.energy.idle_power_w * step;
            self.t += step;
            self.move_obstacles(floor, &footprint_at(robot, pose));
        }
    }

    /// One time step spent waiting at `pose` because the next step is blocked: counted as a
    /// refused step and as idle energy; gives up (with `reason`) once the waits add up to
    /// more than `give_up_after_s`.
    pub(super) fn wait_blocked(
        &mut self,
        robot: &RobotModel,
        waited_s: &mut f64,
        reason: &str,
        floor: i32,
        pose: Pose,
    ) -> Result<(), DriveStatus> {
        let dt = self.options.dt_s;
        self.refused += 1;
        *waited_s += dt;
        self.energy_j += robot.energy.idle_power_w * dt;
        if *waited_s > self.options.give_up_after_s {
            return Err(DriveStatus::GaveUp {
                reason: reason.into(),
                floor,
                x: pose.x,
                y: pose.y,
            });
        }
        Ok(())
    }

    pub(super) fn visible(&self, i: usize, floor: i32, at: Point) -> bool {
        let o = &self.obstacles[i];
        o.floor == floor
            && self.t >= o.appear_s
            && o.leave_s.is_none_or(|l| self.t < l)
            && self.positions[i]
                .vertices
                .iter()
                .any(|v| v.dist(at) <= self.options.sensor_range_m)
    }

    /// Moves people on; a person who would walk into the robot (on its floor) waits.
    pub(super) fn move_obstacles(&mut self, floor: i32, robot_shape: &Polygon) {
        for i in 0..self.obstacles.len() {
            let o = &self.obstacles[i];
            if self.t < o.appear_s || o.leave_s.is_some_and(|l| self.t >= l) {
                continue;
            }
            if o.velocity.x == 0.0 && o.velocity.y == 0.0 {
                continue;
            }
            if o.floor != floor {
                self.positions[i] = shape_at(o, self.t);
                continue;
            }
            // The clock has moved on already: where the person is now, if free to walk.
            let next = shape_at(o, self.t);
            if !convex_overlap(&next, robot_shape) {
                self.positions[i] = next;
            } else {
                // Waiting: shift the obstacle's clock so it resumes from here.
                self.obstacles[i].appear_s += self.options.dt_s;
            }
        }
    }

    /// Whether the robot may stand at `pose`: inside the map, the footprint (with the safety
    /// margin) clear of the costmap's obstacles, of visible dynamic obstacles and of closed
    /// doors.
    pub(super) fn pose_ok(&self, nav: &Navigator, floor: i32, pose: Pose, doors: &[Door]) -> bool {
        let Some(cm) = nav.costmap(floor) else {
            return false;
        };
        if !footprint_clear_exact(cm, pose, nav.robot().safety_margin_m / 2.0) {
            return false;
        }
        let fp = footprint_at(nav.robot(), pose);
        for i in 0..self.obstacles.len() {
            if self.visible(i, floor, pose.point()) && convex_overlap(&self.positions[i], &fp) {
                return false;
            }
        }
        !doors
            .iter()
            .any(|d| d.open_at().is_none_or(|t| self.t < t) && overlaps_area(&d.area, &fp))
    }
}

/// A door of the floor being driven, and when it was asked to open.
pub(super) struct Door {
    pub(super) name: String,
    pub(super) area: Polygon,
    pub(super) automatic: bool,
    pub(super) open_s: f64,
    pub(super) assist_s: f64,
    pub(super) requested_at: Option<f64>,
}

impl Door {
    /// The doors of `floor`, none asked yet.
    pub(super) fn on_floor(site: &Site, floor: i32) -> Vec<Door> {
        site.doors
            .iter()
            .filter(|d| d.floor == floor)
            .map(|d| Door {
                name: d.name.clone(),
                area: d.area.clone(),
                automatic: d.automatic,
                open_s: d.open_s,
                assist_s: d.assist_s,
                requested_at: None,
            })
            .collect()
    }

    pub(super) fn open_at(&self) -> Option<f64> {
        self.requested_at.map(|t| {
            t + if self.automatic {
                self.open_s
            } else {
                self.assist_s
            }
        })
    }
}

/// Whether two convex polygons overlap (separating axis test).
pub fn convex_overlap(a: &Polygon, b: &Polygon) -> bool {
    for poly in [a, b] {
        let n = poly.vertices.len();
        for i in 0..n {
            let p = poly.vertices[i];
            let q = poly.vertices[(i + 1) % n];
            let axis = Point::new(q.y - p.y, p.x - q.x);
            let proj = |s: &Polygon| {
                s.vertices
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        let d = v.x * axis.x + v.y * axis.y;
                        (lo.min(d), hi.max(d))
                    })
            };
            let (a0, a1) = proj(a);
            let (b0, b1) = proj(b);
            if a1 < b0 || b1 < a0 {
                return false;
            }
        }
    }
    true
}

pub(super) fn shape_at(o: &DynamicObstacle, t: f64) -> Polygon {
    let dt = t - o.appear_s;
    Polygon::new(
        o.shape
            .vertices
            .iter()
            .map(|v| Point::new(v.x + o.velocity.x * dt, v.y + o.velocity.y * dt))
            .collect(),
    )
}

/// Whether a convex footprint overlaps a door area (doors are convex in practice; the test
/// uses the area's vertices and the footprint's as a convex pair).
pub(super) fn overlaps_area(area: &Polygon, fp: &Polygon) -> bool {
    convex_overlap(area, fp)
}

/// Whether the robot's real footprint at `pose`, grown by `margin_m`, touches no blocked cell
/// (cells as squares): an exact test, used by the controller's last check and by tests.
pub fn footprint_clear_exact(cm: &crate::costmap::Costmap, pose: Pose, margin_m: f64) -> bool {
    let fp = Polygon::new(
        cm.footprint_outline()
            .grown(margin_m)
            .vertices
            .iter()
            .map(|&p| pose.map_from_robot(p))
            .collect(),
    );
    let (lo, hi) = fp.bounds();
    let r = cm.resolution_m;
    let to = |v: f64, o: f64| ((v - o) / r).floor() as i64;
    let (x0, y0, x1, y1) = (
        to(lo.x, cm.origin.x),
        to(lo.y, cm.origin.y),
        to(hi.x, cm.origin.x),
        to(hi.y, cm.origin.y),
    );
    if x0 < 0 || y0 < 0 || x1 >= cm.width as i64 || y1 >= cm.height as i64 {
        return false;
    }
    for cy in y0..=y1 {
        for cx in x0..=x1 {
            let i = cy as usize * cm.width + cx as usize;
            if cm.kind[i] != 0 {
                let ox = cm.origin.x + cx as f64 * r;
                let oy = cm.origin.y + cy as f64 * r;
                if convex_overlap(&Polygon::rect(ox, oy, ox + r, oy + r), &fp) {
                    return false;
                }
            }
        }
    }
    true
}
