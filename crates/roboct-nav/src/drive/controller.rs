//! The path-tracking controller, apart from the base it drives: pose and path in, velocity
//! out. A regulated pure pursuit (Macenski et al., "Regulated Pure Pursuit for Robot Path
//! Tracking", Autonomous Robots 2023) for a differential-drive robot that stops and turns in
//! place at sharp corners, as the planner's estimate ([`crate::plan::Navigator::estimate`])
//! assumes.
//!
//! The seam follows Nav2's `nav2_core::Controller` (`computeVelocityCommands(pose, velocity)`):
//! a [`Controller`] is given the robot's [`Odometry`] each control period and answers with a
//! [`Command`]; what it needs to know of the world (the speed limit at a point, what blocks
//! the path ahead) it asks through [`Sensors`]. It keeps no clock and no obstacles: the base
//! (the simulated one in [`crate::drive::simulate`], or a real one) integrates the command,
//! owns time, doors and obstacles, and decides when to wait and when to plan again. Covered by
//! `tests/driving.rs`, through the simulated base.

use crate::geom::{Point, Pose, wrap_angle};
use crate::robot::RobotModel;

use super::DriveOptions;

/// The robot's state as the controller sees it: where it is and how fast it goes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Odometry {
    /// Pose on the floor's map.
    pub pose: Pose,
    /// Forward speed, m/s.
    pub v_mps: f64,
    /// Yaw rate, rad/s.
    pub w_rps: f64,
}

/// What the controller asks the base to do for one control period.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Turn in place at `w_rps` (rad/s).
    Turn {
        /// Yaw rate, rad/s.
        w_rps: f64,
    },
    /// Drive forwards at `v_mps` (m/s), turning at `w_rps` (rad/s).
    Drive {
        /// Forward speed, m/s.
        v_mps: f64,
        /// Yaw rate, rad/s.
        w_rps: f64,
        /// What stops the robot short on its path, as the sensors reported it (the base waits
        /// for it, and may plan around it).
        blocked_by: Option<String>,
    },
    /// No motion this period: the controller switches manoeuvre, and is to be asked again at
    /// once (same instant).
    Switch(Switch),
    /// At the end of the path, facing the goal's heading (if it has one).
    Arrived,
}

/// The manoeuvre switches of [`Command::Switch`], and what the base does at each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Switch {
    /// A turn in place starts (to a segment's heading, the goal's, or towards a path too far
    /// to one side to steer onto): nothing to do.
    StartTurn,
    /// The turn in place is done: the base stops turning (its yaw rate is 0).
    TurnDone,
    /// The robot has come (within 2 cm, at under 5 cm/s) to the corner `at` where it stops:
    /// the base stops there (the simulated one puts it exactly at `at`; speed 0).
    AtCorner(Point),
}

/// The path ahead of the robot: `path` from `s_on` metres along segment `seg` (from
/// `path[seg]` to `path[seg + 1]`), as far as the controller needs to look (`check_m`).
#[derive(Clone, Copy, Debug)]
pub struct PathAhead<'a> {
    /// The path's corners.
    pub path: &'a [Point],
    /// The segment the robot is on.
    pub seg: usize,
    /// How far along it, metres.
    pub s_on: f64,
    /// How far ahead the way must be checked: enough to stop, metres.
    pub check_m: f64,
}

impl PathAhead<'_> {
    /// Poses every `step` metres along the path ahead, up to `d` metres, heading along the
    /// path.
    pub fn samples(&self, d: f64, step: f64) -> Vec<Pose> {
        sample_path(self.path, self.seg, self.s_on, d, step)
    }
}

/// What the sensors report of the path ahead.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Clearance {
    /// Distance along the path to the first pose where the footprint would touch something,
    /// metres (infinite if none within [`PathAhead::check_m`]).
    pub free_m: f64,
    /// What it would touch (an obstacle's name, or `door` and the door's name).
    pub blocker: Option<String>,
}

/// What a [`Controller`] needs to know of the world around the robot.
pub trait Sensors {
    /// The speed the robot may drive at `p`, m/s: the speed zone's limit, lowered near
    /// obstacles ([`crate::plan::speed_limit_at`] on the costmap).
    fn speed_limit(&self, p: Point) -> f64;
    /// Looks along the path ahead (the base may act on what it sees: ask doors to open) and
    /// reports how far it is clear.
    fn look_ahead(&mut self, ahead: &PathAhead<'_>) -> Clearance;
}

/// A path-tracking controller: each control period, the robot's odometry and its sensors in,
/// a [`Command`] out. It keeps its progress along the path; it keeps no clock.
pub trait Controller {
    /// The command for this control period.
    fn command(&mut self, odom: Odometry, sensors: &mut dyn Sensors) -> Command;
    /// Follows `path` from its first corner on (after planning around an obstacle).
    fn set_path(&mut self, path: Vec<Point>);
}

/// Regulated pure pursuit with stops and turns in place at sharp corners.
///
/// Steers towards a carrot on the path a look-ahead ahead (longer at speed), slows on tight
/// curvature, before slower zones and narrow passages (as far ahead as braking from top speed
/// reaches), and so that it can always stop at the next sharp corner and short of what
/// blocks the path; turns in place at the start of each segment that leaves a sharp corner,
/// and to the goal's heading at the end.
#[derive(Clone, Debug)]
pub struct PurePursuit {
    path: Vec<Point>,
    /// The segment the robot is on: `path[seg]` to `path[seg + 1]`.
    seg: usize,
    /// The heading of the turn in place under way.
    rotating_to: Option<f64>,
    goal_heading: Option<f64>,
    robot: RobotModel,
    options: DriveOptions,
    /// Corners sharper than this stop the robot, radians.
    stop_turn_rad: f64,
    /// How far ahead the speed limits are read: braking from top speed, metres.
    speed_look_m: f64,
    /// The step at which they are read (the costmap's cell), metres.
    speed_step_m: f64,
}

/// Where the robot is along the path.
struct Progress {
    /// Distance along the current segment, metres.
    s_on: f64,
    /// The next corner where the robot must stop (a sharp turn, or the end).
    stop_idx: usize,
    /// Distance along the path to it, metres.
    to_stop: f64,
}

impl PurePursuit {
    /// A controller for `path` (at least one point), to arrive facing `goal_heading`; corners
    /// sharper than `stop_turn_rad` stop the robot; speed limits read every `speed_step_m`.
    pub fn new(
        path: Vec<Point>,
        goal_heading: Option<f64>,
        robot: &RobotModel,
        options: DriveOptions,
        stop_turn_rad: f64,
        speed_step_m: f64,
    ) -> Self {
        // Braking from top speed, and the step of the speed-limit look-ahead.
        let speed_look_m = robot.braking_distance_m(robot.limits.max_speed_mps) + 0.1;
        Self {
            path,
            seg: 0,
            rotating_to: None,
            goal_heading,
            robot: robot.clone(),
            options,
            stop_turn_rad,
            speed_look_m,
            speed_step_m,
        }
    }

    /// A turn in place starts at rest at the start of a segment (or at the end, to the goal's
    /// heading) when the robot does not face its way.
    fn maybe_start_turn(&mut self, odom: Odometry) {
        let (path, seg, pose) = (&self.path, self.seg, odom.pose);
        let n = path.len();
        if self.rotating_to.is_none() && odom.v_mps.abs() < 1e-6 {
            let want = if seg + 1 < n {
                Some(path[seg].heading_to(path[seg + 1]))
            } else {
                self.goal_heading
            };
            if let Some(h) = want
                && wrap_angle(h - pose.yaw_rad).abs() > 0.02
                && (seg + 1 >= n || pose.point().dist(path[seg]) < 0.08)
            {
                self.rotating_to = Some(h);
            }
        }
    }

    /// One period of the turn in place to `h`: a trapezoidal profile (accelerate, cruise,
    /// brake to land on the heading).
    fn turn_command(&mut self, h: f64, odom: Odometry) -> Command {
        let (pose, w, dt) = (odom.pose, odom.w_rps, self.options.dt_s);
        let err = wrap_angle(h - pose.yaw_rad);
        if err.abs() < 0.01 && w.abs() < 0.05 {
            self.rotating_to = None;
            if self.seg + 1 >= self.path.len() {
                return Command::Arrived;
            }
            return Command::Switch(Switch::TurnDone);
        }
        let wmax = self.robot.limits.max_yaw_rate_rps;
        let alpha = self.robot.limits.max_yaw_accel_rps2;
        let w_brake = (2.0 * alpha * err.abs()).sqrt().min(wmax);
        let target = err.signum() * w_brake;
        let nw = (target).clamp(w - alpha * dt, w + alpha * dt);
        Command::Turn { w_rps: nw }
    }

    /// Whether the robot stops at corner `k` (a turn sharper than the limit, or the end).
    fn is_stop(&self, k: usize) -> bool {
        let path = &self.path;
        k + 1 >= path.len() || {
            let h1 = path[k - 1].heading_to(path[k]);
            let h2 = path[k].heading_to(path[k + 1]);
            wrap_angle(h2 - h1).abs() > self.stop_turn_rad
        }
    }

    /// The projection of `pose` on segment `seg`: clamped, the segment's length, unclamped.
    fn project(&self, seg: usize, pose: Pose) -> (f64, f64, f64) {
        let (a, b) = (self.path[seg], self.path[seg + 1]);
        let len = a.dist(b).max(1e-9);
        let s = ((pose.x - a.x) * (b.x - a.x) + (pose.y - a.y) * (b.y - a.y)) / len;
        (s.clamp(0.0, len), len, s)
    }

    /// Where along the path the robot is: its projection on the current segment, moving on
    /// past corners where it does not stop; and the next corner where it stops.
    fn progress(&mut self, pose: Pose) -> Progress {
        let (mut s_on, mut seg_len, mut raw_s) = self.project(self.seg, pose);
        while raw_s >= seg_len - 1e-3 && !self.is_stop(self.seg + 1) {
            self.seg += 1;
            (s_on, seg_len, raw_s) = self.project(self.seg, pose);
        }
        let seg = self.seg;
        let mut stop_idx = seg + 1;
        while !self.is_stop(stop_idx) {
            stop_idx += 1;
        }
        let mut to_stop = seg_len - s_on;
        for k in seg + 1..stop_idx {
            to_stop += self.path[k].dist(self.path[k + 1]);
        }
        Progress {
            s_on,
            stop_idx,
            to_stop,
        }
    }

    /// The speed to aim for: the zone and proximity limit here and ahead (the robot slows
    /// before a slower zone or a narrow passage, not in it), curvature regulation, stopping
    /// at the corner and short of what blocks the path.
    fn target_speed(
        &self,
        pose: Pose,
        at: &Progress,
        curvature: f64,
        clear: &Clearance,
        sensors: &dyn Sensors,
    ) -> f64 {
        let o = &self.options;
        let mut v_target = sensors.speed_limit(pose.point());
        let decel = self.robot.limits.max_decel_mps2;
        let ahead_m = self.speed_look_m.min(at.to_stop);
        for (k, p) in sample_path(&self.path, self.seg, at.s_on, ahead_m, self.speed_step_m)
            .iter()
            .enumerate()
        {
            let ahead = k as f64 * self.speed_step_m;
            let limit = sensors.speed_limit(p.point());
            v_target = v_target.min((limit * limit + 2.0 * decel * ahead).sqrt());
        }
        let radius = 1.0 / curvature.abs().max(1e-9);
        if radius < o.regulated_min_radius_m {
            v_target *= radius / o.regulated_min_radius_m;
        }
        v_target = v_target.min((2.0 * decel * at.to_stop).sqrt());
        let free_m = clear.free_m;
        if free_m.is_finite() {
            v_target = v_target.min((2.0 * decel * (free_m - o.stop_gap_m).max(0.0)).sqrt());
            if free_m <= o.stop_gap_m + 0.05 {
                v_target = 0.0;
            }
        }
        v_target
    }

    /// The velocity command towards `v_target` within the acceleration limits, curving at
    /// `curvature`.
    fn velocity(
        &self,
        odom: Odometry,
        v_target: f64,
        to_stop: f64,
        curvature: f64,
        blocked: bool,
    ) -> (f64, f64) {
        let (v, dt) = (odom.v_mps, self.options.dt_s);
        let limits = &self.robot.limits;
        let mut nv = v_target
            .clamp(
                v - limits.max_decel_mps2 * dt,
                v + limits.max_accel_mps2 * dt,
            )
            .max(0.0);
        // Creep: a stopped robot close to its corner still has to get there.
        if nv < 0.02 && !blocked && to_stop > 0.02 {
            nv = (to_stop / dt).min(0.05);
        }
        // Never past the corner where it stops: arriving is not overshooting and being put
        // back.
        nv = nv.min(to_stop / dt);
        let nw = (nv * curvature).clamp(-limits.max_yaw_rate_rps, limits.max_yaw_rate_rps);
        (nv, nw)
    }
}

impl Controller for PurePursuit {
    fn command(&mut self, odom: Odometry, sensors: &mut dyn Sensors) -> Command {
        let (pose, v) = (odom.pose, odom.v_mps);
        let o = self.options;
        self.maybe_start_turn(odom);
        if let Some(h) = self.rotating_to {
            return self.turn_command(h, odom);
        }
        if self.seg + 1 >= self.path.len() {
            if self
                .goal_heading
                .is_some_and(|h| wrap_angle(h - pose.yaw_rad).abs() > 0.02)
            {
                self.rotating_to = self.goal_heading;
                return Command::Switch(Switch::StartTurn);
            }
            return Command::Arrived;
        }
        let at = self.progress(pose);
        if at.to_stop < 0.02 && v.abs() < 0.05 {
            // Arrived at the corner: on to the next segment (turning there first).
            self.seg = at.stop_idx;
            return Command::Switch(Switch::AtCorner(self.path[at.stop_idx]));
        }
        // Carrot: look-ahead distance along the path, not past the stop corner.
        let look = (v.abs() * o.lookahead_time_s).clamp(o.lookahead_min_m, o.lookahead_max_m);
        let carrot = point_along(&self.path, self.seg, at.s_on, look.min(at.to_stop));
        // Look ahead for obstacles and closed doors, as far as stopping needs.
        let check_m = (self.robot.braking_distance_m(v) + o.stop_gap_m + 1.0).min(at.to_stop + 0.5);
        let clear = sensors.look_ahead(&PathAhead {
            path: &self.path,
            seg: self.seg,
            s_on: at.s_on,
            check_m,
        });
        // Steering: the carrot in the robot's frame.
        let dx = carrot.x - pose.x;
        let dy = carrot.y - pose.y;
        let (sn, cs) = pose.yaw_rad.sin_cos();
        let (lx, ly) = (cs * dx + sn * dy, -sn * dx + cs * dy);
        let l2 = (lx * lx + ly * ly).max(1e-9);
        let curvature = 2.0 * ly / l2;
        let alpha_err = ly.atan2(lx);
        if alpha_err.abs() > std::f64::consts::FRAC_PI_4 && v.abs() < 0.05 {
            // Too far off the path's direction to steer: turn towards the carrot first.
            self.rotating_to = Some(pose.yaw_rad + alpha_err);
            return Command::Switch(Switch::StartTurn);
        }
        let v_target = self.target_speed(pose, &at, curvature, &clear, sensors);
        let blocked = clear.blocker.is_some();
        let (v_mps, w_rps) = self.velocity(odom, v_target, at.to_stop, curvature, blocked);
        Command::Drive {
            v_mps,
            w_rps,
            blocked_by: clear.blocker,
        }
    }

    fn set_path(&mut self, path: Vec<Point>) {
        self.path = path;
        self.seg = 0;
    }
}

/// The point `d` metres along the path from `s_on` on segment `seg`.
fn point_along(path: &[Point], seg: usize, s_on: f64, d: f64) -> Point {
    let mut left = d;
    let mut k = seg;
    let mut from = path[seg].offset(path[seg].heading_to(path[seg + 1]), s_on);
    while k + 1 < path.len() {
        let to = path[k + 1];
        let len = from.dist(to);
        if left <= len {
            return from.lerp(to, if len > 0.0 { left / len } else { 0.0 });
        }
        left -= len;
        from = to;
        k += 1;
    }
    *path.last().unwrap_or(&from)
}

/// Poses every `step` metres along the path ahead, up to `d` metres, heading along the path.
fn sample_path(path: &[Point], seg: usize, s_on: f64, d: f64, step: f64) -> Vec<Pose> {
    let mut out = Vec::new();
    let mut k = seg;
    let mut from = path[seg].offset(path[seg].heading_to(path[seg + 1]), s_on);
    let mut s = 0.0;
    let mut next_sample = 0.0;
    while k + 1 < path.len() && s <= d {
        let to = path[k + 1];
        let len = from.dist(to);
        let h = path[k].heading_to(to);
        while next_sample <= s + len && next_sample <= d {
            let p = from.offset(h, next_sample - s);
            out.push(Pose::new(p.x, p.y, h));
            next_sample += step;
        }
        s += len;
        from = to;
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A world with one speed limit and, optionally, a wall across the path at `wall_at_m`
    /// metres from the path's start (the sensors see it within the look-ahead).
    struct Open {
        limit_mps: f64,
        wall_at_m: Option<f64>,
    }

    impl Sensors for Open {
        fn speed_limit(&self, _: Point) -> f64 {
            self.limit_mps
        }
        fn look_ahead(&mut self, ahead: &PathAhead<'_>) -> Clearance {
            // Straight paths along +x in these tests: distance along = x.
            let here = ahead.path[ahead.seg].x + ahead.s_on;
            match self.wall_at_m {
                Some(w) if w - here <= ahead.check_m => Clearance {
                    free_m: (w - here).max(0.0),
                    blocker: Some("wall".into()),
                },
                _ => Clearance {
                    free_m: f64::INFINITY,
                    blocker: None,
                },
            }
        }
    }

    /// Runs the controller against a kinematic base (the test's own integrator, not the
    /// simulator): returns the final odometry, the commands' largest speed, the corners it
    /// stopped at, and whether it arrived within `steps`.
    fn run(
        ctrl: &mut PurePursuit,
        world: &mut Open,
        start: Pose,
        steps: usize,
    ) -> (Odometry, f64, Vec<Point>, bool) {
        let dt = DriveOptions::default().dt_s;
        let mut odom = Odometry {
            pose: start,
            ..Odometry::default()
        };
        let (mut top, mut corners) = (0.0f64, Vec::new());
        for _ in 0..steps {
            match ctrl.command(odom, world) {
                Command::Arrived => return (odom, top, corners, true),
                Command::Turn { w_rps } => {
                    odom.v_mps = 0.0;
                    odom.w_rps = w_rps;
                    odom.pose.yaw_rad = wrap_angle(odom.pose.yaw_rad + w_rps * dt);
                }
                Command::Drive { v_mps, w_rps, .. } => {
                    top = top.max(v_mps);
                    let p = odom.pose;
                    odom = Odometry {
                        pose: Pose::new(
                            p.x + v_mps * dt * p.yaw_rad.cos(),
                            p.y + v_mps * dt * p.yaw_rad.sin(),
                            wrap_angle(p.yaw_rad + w_rps * dt),
                        ),
                        v_mps,
                        w_rps,
                    };
                }
                Command::Switch(Switch::AtCorner(at)) => {
                    corners.push(at);
                    odom.v_mps = 0.0;
                }
                Command::Switch(Switch::TurnDone) => odom.w_rps = 0.0,
                Command::Switch(Switch::StartTurn) => {}
            }
        }
        (odom, top, corners, false)
    }

    fn controller(path: Vec<Point>, goal_heading: Option<f64>) -> PurePursuit {
        PurePursuit::new(
            path,
            goal_heading,
            &RobotModel::default(),
            DriveOptions::default(),
            60f64.to_radians(),
            0.05,
        )
    }

    #[test]
    fn follows_a_corner_within_the_speed_limit_and_stops_at_it_without_a_simulator() {
        let path = vec![
            Point::new(0.0, 0.0),
            Point::new(4.0, 0.0),
            Point::new(4.0, 3.0),
        ];
        let mut ctrl = controller(path, Some(std::f64::consts::FRAC_PI_2));
        let mut world = Open {
            limit_mps: 0.6,
            wall_at_m: None,
        };
        // Starting askew: the controller turns in place to the first segment first.
        let (end, top, corners, arrived) =
            run(&mut ctrl, &mut world, Pose::new(0.0, 0.0, -0.5), 20_000);
        assert!(arrived, "{end:?}");
        assert!(
            end.pose.point().dist(Point::new(4.0, 3.0)) < 0.05,
            "{end:?}"
        );
        assert!(
            wrap_angle(end.pose.yaw_rad - std::f64::consts::FRAC_PI_2).abs() < 0.03,
            "{end:?}"
        );
        assert!(top > 0.3 && top <= 0.6 + 1e-9, "top speed {top}");
        // The 90 degree corner is sharper than 60: the robot stops there.
        assert_eq!(corners.first(), Some(&Point::new(4.0, 0.0)), "{corners:?}");
    }

    #[test]
    fn a_wall_on_the_path_brings_the_robot_to_rest_short_of_it() {
        let path = vec![Point::new(0.0, 0.0), Point::new(10.0, 0.0)];
        let mut ctrl = controller(path, None);
        let mut world = Open {
            limit_mps: 1.0,
            wall_at_m: Some(5.0),
        };
        let (end, _, _, arrived) = run(&mut ctrl, &mut world, Pose::new(0.0, 0.0, 0.0), 5_000);
        assert!(!arrived);
        assert!(end.v_mps.abs() < 1e-6, "{end:?}");
        assert!(end.pose.x < 5.0 && end.pose.x > 3.0, "{end:?}");
        match ctrl.command(end, &mut world) {
            Command::Drive {
                v_mps, blocked_by, ..
            } => {
                assert_eq!(blocked_by.as_deref(), Some("wall"));
                assert!(v_mps.abs() < 1e-6, "{v_mps}");
            }
            other => panic!("{other:?}"),
        }
    }
}
