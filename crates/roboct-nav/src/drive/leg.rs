//! One floor's leg on the simulated base: the [`PurePursuit`] controller asked once per step,
//! its commands integrated, its sensors served from the simulated world (doors asked to open,
//! obstacles seen within range), and the behaviour around it: waiting for what blocks the way,
//! planning around it, giving up.

use crate::costmap::Costmap;
use crate::geom::{Point, Polygon, Pose};
use crate::plan::{Navigator, Target, footprint_at, speed_limit_at};
use crate::robot::RobotModel;

use super::base::{Door, Sim, convex_overlap, overlaps_area};
use super::controller::{
    Clearance, Command, Controller, Odometry, PathAhead, PurePursuit, Sensors, Switch,
};
use super::{DriveStatus, EventKind};

/// The base's state on one leg.
struct LegState {
    floor: i32,
    /// Where the robot is and how fast it goes.
    odom: Odometry,
    /// Time waited since the robot stopped for what blocks it (or since the last attempt to
    /// plan around it), seconds.
    waiting_s: f64,
    /// Time spent blocked on this leg, seconds.
    blocked_total_s: f64,
    /// What the robot has stopped for.
    stopped_for: Option<String>,
    /// Whether that stop was announced (obstacles are, doors are not).
    announced: bool,
    /// The doors of the floor.
    doors: Vec<Door>,
    /// The clock time after which the leg gives up.
    deadline: f64,
}

impl LegState {
    /// Gives up where the robot stands.
    fn give_up(&self, reason: String) -> DriveStatus {
        let pose = self.odom.pose;
        DriveStatus::GaveUp {
            reason,
            floor: self.floor,
            x: (pose.x * 100.0).round() / 100.0,
            y: (pose.y * 100.0).round() / 100.0,
        }
    }

    /// Applies a manoeuvre switch of the controller.
    fn switch(&mut self, s: Switch) {
        match s {
            Switch::StartTurn => {}
            Switch::TurnDone => self.odom.w_rps = 0.0,
            Switch::AtCorner(p) => {
                self.odom.pose = Pose::new(p.x, p.y, self.odom.pose.yaw_rad);
                self.odom.v_mps = 0.0;
            }
        }
    }
}

impl Sim {
    /// Drives `points` on `floor` from rest facing `start_heading` to `leg_goal` (its point
    /// and heading).
    pub(super) fn drive_leg(
        &mut self,
        nav: &mut Navigator,
        floor: i32,
        points: &[Point],
        start_heading: f64,
        leg_goal: &Target,
    ) -> Result<(), DriveStatus> {
        let robot = nav.robot().clone();
        let mut leg = self.start_leg(nav, floor, points, start_heading, leg_goal)?;
        let speed_step_m = nav.costmap(floor).map_or(0.05, |c| c.resolution_m);
        let stop_turn = nav.options().stop_turn_rad;
        let mut ctrl = PurePursuit::new(
            points.to_vec(),
            leg_goal.heading_rad,
            &robot,
            self.options,
            stop_turn,
            speed_step_m,
        );
        loop {
            if self.t > leg.deadline {
                return Err(leg.give_up("the drive took more than an hour".into()));
            }
            self.record(floor, leg.odom.pose, None);
            let Some(cm) = nav.costmap(floor) else {
                return Err(leg.give_up(format!("floor {floor} is gone")));
            };
            let mut sensors = SimSensors {
                sim: self,
                doors: &mut leg.doors,
                cm,
                robot: &robot,
                floor,
                pose: leg.odom.pose,
            };
            match ctrl.command(leg.odom, &mut sensors) {
                Command::Arrived => return Ok(()),
                Command::Switch(s) => {
                    leg.switch(s);
                    continue;
                }
                Command::Turn { w_rps } => self.turn_step(nav, &mut leg, w_rps)?,
                Command::Drive {
                    v_mps,
                    w_rps,
                    blocked_by,
                } => {
                    self.drive_step(nav, &mut leg, v_mps, w_rps);
                    self.wait_or_replan(nav, &mut leg, &mut ctrl, blocked_by, leg_goal)?;
                }
            }
            self.t += self.options.dt_s;
            self.move_obstacles(floor, &footprint_at(&robot, leg.odom.pose));
        }
    }

    /// The leg's state at its start, at rest on its first point; `Err` if it has no points or
    /// its floor is not in the site.
    fn start_leg(
        &self,
        nav: &Navigator,
        floor: i32,
        points: &[Point],
        start_heading: f64,
        leg_goal: &Target,
    ) -> Result<LegState, DriveStatus> {
        let Some(&first) = points.first() else {
            return Err(DriveStatus::GaveUp {
                reason: format!("the route's leg on floor {floor} has no points"),
                floor,
                x: leg_goal.point.x,
                y: leg_goal.point.y,
            });
        };
        if nav.costmap(floor).is_none() {
            return Err(DriveStatus::GaveUp {
                reason: format!("the route drives on floor {floor}, which the site lacks"),
                floor,
                x: first.x,
                y: first.y,
            });
        }
        Ok(LegState {
            floor,
            odom: Odometry {
                pose: Pose::new(first.x, first.y, start_heading),
                v_mps: 0.0,
                w_rps: 0.0,
            },
            waiting_s: 0.0,
            blocked_total_s: 0.0,
            stopped_for: None,
            announced: false,
            doors: Door::on_floor(nav.site(), floor),
            deadline: self.t + 3600.0,
        })
    }

    /// One step of a turn in place at `nw`, unless the turned footprint would touch
    /// something; gives up when the waits add up to more than `give_up_after_s`.
    fn turn_step(
        &mut self,
        nav: &Navigator,
        leg: &mut LegState,
        nw: f64,
    ) -> Result<(), DriveStatus> {
        let (dt, robot) = (self.options.dt_s, nav.robot());
        let pose = leg.odom.pose;
        let next = Pose::new(pose.x, pose.y, pose.yaw_rad + nw * dt);
        if !self.pose_ok(nav, leg.floor, next, &leg.doors) {
            self.refused += 1;
            leg.odom.w_rps = 0.0;
            leg.waiting_s += dt;
        } else {
            self.energy_j += robot.energy.power_w(robot.mass_kg, 0.0, 0.0, nw) * dt;
            leg.odom.pose = next;
            leg.odom.w_rps = nw;
        }
        if leg.waiting_s > self.options.give_up_after_s {
            return Err(leg.give_up("cannot turn: something is in the way".into()));
        }
        Ok(())
    }

    /// One step at `nv` forwards turning at `nw` (the pose integrated at the step's middle
    /// heading), unless the next pose would touch something; at rest, the electronics' energy.
    fn drive_step(&mut self, nav: &Navigator, leg: &mut LegState, nv: f64, nw: f64) {
        let (dt, robot) = (self.options.dt_s, nav.robot());
        let (pose, v) = (leg.odom.pose, leg.odom.v_mps);
        let next_yaw = pose.yaw_rad + nw * dt;
        let mid_yaw = pose.yaw_rad + nw * dt / 2.0;
        let next = Pose::new(
            pose.x + nv * dt * mid_yaw.cos(),
            pose.y + nv * dt * mid_yaw.sin(),
            next_yaw,
        );
        let moving = nv > 1e-6;
        if moving && !self.pose_ok(nav, leg.floor, next, &leg.doors) {
            // Never take a step that touches something.
            self.refused += 1;
            leg.odom.v_mps = 0.0;
            leg.odom.w_rps = 0.0;
        } else if moving {
            let a = (nv - v) / dt;
            self.energy_j += robot.energy.power_w(robot.mass_kg, nv, a, nw) * dt;
            self.distance_m += nv * dt;
            leg.odom = Odometry {
                pose: next,
                v_mps: nv,
                w_rps: nw,
            };
        } else {
            leg.odom.v_mps = 0.0;
            leg.odom.w_rps = 0.0;
            self.energy_j += robot.energy.idle_power_w * dt;
        }
    }

    /// Waiting and replanning: stopped by `blocker`, the robot announces it (obstacles, not
    /// doors), waits `wait_before_replan_s`, then plans around it; it gives up after
    /// `give_up_after_s` blocked; driving on again, it announces that it resumes.
    fn wait_or_replan(
        &mut self,
        nav: &mut Navigator,
        leg: &mut LegState,
        ctrl: &mut dyn Controller,
        blocker: Option<String>,
        leg_goal: &Target,
    ) -> Result<(), DriveStatus> {
        let (o, floor, v) = (self.options, leg.floor, leg.odom.v_mps);
        if v < 1e-3 && blocker.is_some() {
            if leg.stopped_for.is_none() {
                let name = blocker.clone().unwrap_or_default();
                leg.stopped_for = Some(name.clone());
                if !name.starts_with("door ") {
                    leg.announced = true;
                    self.event(floor, EventKind::StoppedForObstacle { obstacle: name });
                }
            }
            leg.waiting_s += o.dt_s;
            leg.blocked_total_s += o.dt_s;
            let is_door = blocker.as_deref().is_some_and(|b| b.starts_with("door "));
            if !is_door && leg.waiting_s >= o.wait_before_replan_s {
                leg.waiting_s = 0.0;
                self.plan_around(nav, leg, ctrl, leg_goal);
            }
            if leg.blocked_total_s > o.give_up_after_s {
                let what = leg.stopped_for.clone().unwrap_or_default();
                return Err(leg.give_up(format!(
                    "the way to {} is blocked by {what} and there is no other route (waited {:.0} s)",
                    leg_goal.label, leg.blocked_total_s
                )));
            }
        } else if v > 0.05 && leg.stopped_for.is_some() {
            leg.stopped_for = None;
            leg.waiting_s = 0.0;
            if leg.announced {
                leg.announced = false;
                self.event(floor, EventKind::Resumed);
            }
        }
        Ok(())
    }

    /// Marks the obstacles in sight in the costmap and plans the rest of the leg around them
    /// from where the robot stands; without a way, forgets the marks (the obstacle may leave).
    fn plan_around(
        &mut self,
        nav: &mut Navigator,
        leg: &mut LegState,
        ctrl: &mut dyn Controller,
        leg_goal: &Target,
    ) {
        let (floor, pose) = (leg.floor, leg.odom.pose);
        let seen: Vec<Polygon> = (0..self.obstacles.len())
            .filter(|&i| self.visible(i, floor, pose.point()))
            .map(|i| self.positions[i].clone())
            .collect();
        for s in &seen {
            nav.add_obstacle(floor, s);
        }
        let from = Target {
            label: "robot".into(),
            floor,
            point: pose.point(),
            heading_rad: Some(pose.yaw_rad),
        };
        match nav.plan_floor(&from, leg_goal) {
            Ok(p) => {
                self.replans += 1;
                let len = p.points.windows(2).map(|w| w[0].dist(w[1])).sum();
                self.event(floor, EventKind::Replanned { length_m: len });
                ctrl.set_path(p.points);
                leg.stopped_for = None;
                leg.announced = false;
            }
            Err(_) => {
                self.event(floor, EventKind::NoDetour);
                // Forget the marks: the obstacle may leave.
                let _ = nav.clear_obstacles(floor);
            }
        }
    }
}

/// The simulated robot's sensors at one step: the costmap's speed limits, the doors it asks
/// to open, and the obstacles within sensor range.
struct SimSensors<'a> {
    sim: &'a mut Sim,
    doors: &'a mut [Door],
    cm: &'a Costmap,
    robot: &'a RobotModel,
    floor: i32,
    /// Where the robot stands (it sees obstacles within sensor range of it).
    pose: Pose,
}

impl Sensors for SimSensors<'_> {
    fn speed_limit(&self, p: Point) -> f64 {
        speed_limit_at(self.cm, p, self.robot)
    }

    fn look_ahead(&mut self, ahead: &PathAhead<'_>) -> Clearance {
        self.request_doors(ahead);
        self.first_blocked(ahead)
    }
}

impl SimSensors<'_> {
    /// Asks each door the path passes through within `door_request_m` to open, and notes the
    /// doors that open at this step.
    fn request_doors(&mut self, ahead: &PathAhead<'_>) {
        let (sim, floor) = (&mut *self.sim, self.floor);
        let o = sim.options;
        for d in self.doors.iter_mut() {
            if d.requested_at.is_none() {
                let near = ahead
                    .samples(o.door_request_m, 0.2)
                    .iter()
                    .any(|p| d.area.contains(p.point()));
                if near {
                    d.requested_at = Some(sim.t);
                    let door = d.name.clone();
                    sim.event(floor, EventKind::DoorRequested { door });
                }
            }
            if let Some(open) = d.open_at()
                && sim.t >= open
                && sim.t - o.dt_s < open
            {
                let door = d.name.clone();
                sim.event(floor, EventKind::DoorOpened { door });
            }
        }
    }

    /// The first pose every 10 cm along the path ahead (up to `check_m`) where the footprint
    /// would touch an obstacle in sight or a door not yet open.
    fn first_blocked(&self, ahead: &PathAhead<'_>) -> Clearance {
        let sim = &*self.sim;
        for (k, p) in ahead.samples(ahead.check_m, 0.1).into_iter().enumerate() {
            let s = k as f64 * 0.1;
            let fp = footprint_at(self.robot, p);
            let hit = (0..sim.obstacles.len())
                .find(|&i| {
                    sim.visible(i, self.floor, self.pose.point())
                        && convex_overlap(&sim.positions[i], &fp)
                })
                .map(|i| sim.obstacles[i].name.clone())
                .or_else(|| {
                    self.doors
                        .iter()
                        .find(|d| {
                            d.open_at().is_none_or(|t| sim.t < t) && overlaps_area(&d.area, &fp)
                        })
                        .map(|d| format!("door {}", d.name))
                });
            if let Some(h) = hit {
                return Clearance {
                    free_m: s,
                    blocker: Some(h),
                };
            }
        }
        Clearance {
            free_m: f64::INFINITY,
            blocker: None,
        }
    }
}
