//! A simulated drive along a planned route: a regulated pure pursuit controller (Macenski et
//! al., "Regulated Pure Pursuit for Robot Path Tracking", Autonomous Robots 2023) on a
//! differential-drive robot with velocity and acceleration limits, dynamic obstacles (people,
//! beds, carts) that appear on the way, doors that open on request, and elevators.
//!
//! The controller looks ahead along the path as far as it needs to stop (braking distance plus
//! a gap) and slows so that it always can: an obstacle on the path stops the robot short of it.
//! If the way stays blocked for `wait_before_replan_s`, the obstacle goes into the costmap and
//! the rest of the leg is planned again from where the robot stands; if no route exists it
//! keeps waiting (the obstacle may go away) and gives up after `give_up_after_s` with a status
//! that says where and why. Before every step the footprint at the next pose is checked
//! against the map and the obstacles; a step that would touch anything is not taken.

use serde::Serialize;

use crate::elevator::{self, CarExit, Ride};
use crate::error::OptionError;
use crate::geom::{Point, Polygon, Pose, wrap_angle};
use crate::lattice;
use crate::plan::{Leg, Navigator, Route, Target, footprint_at, speed_limit_at};
use crate::robot::RobotModel;

/// Something that appears on the way.
#[derive(Clone, Debug)]
pub struct DynamicObstacle {
    /// What it is (`person`, `bed`, `cart`), for the report.
    pub name: String,
    /// Floor number.
    pub floor: i32,
    /// Outline at `appear_s`, map frame (convex).
    pub shape: Polygon,
    /// When it appears, seconds after the start.
    pub appear_s: f64,
    /// When it goes away (`None`: stays).
    pub leave_s: Option<f64>,
    /// Velocity, m/s (people walking; zero for parked beds and carts). A moving obstacle
    /// waits rather than walk into the robot.
    pub velocity: Point,
}

/// Controller and behaviour settings.
#[derive(Clone, Copy, Debug)]
pub struct DriveOptions {
    /// Simulation step, seconds.
    pub dt_s: f64,
    /// Shortest look-ahead, metres.
    pub lookahead_min_m: f64,
    /// Longest look-ahead, metres.
    pub lookahead_max_m: f64,
    /// Look-ahead per m/s of speed, seconds.
    pub lookahead_time_s: f64,
    /// Below this turning radius the speed is scaled down, metres.
    pub regulated_min_radius_m: f64,
    /// How far the sensors see, metres.
    pub sensor_range_m: f64,
    /// Gap kept to an obstacle when stopped, metres.
    pub stop_gap_m: f64,
    /// Waiting time before planning around an obstacle, seconds.
    pub wait_before_replan_s: f64,
    /// Total waiting time after which the robot gives up, seconds.
    pub give_up_after_s: f64,
    /// Distance ahead of a door at which the robot asks it to open, metres.
    pub door_request_m: f64,
}

impl DriveOptions {
    /// Checks every option; `Err` names the first one out of range.
    ///
    /// # Errors
    /// [`OptionError::OutOfRange`] naming the option, what was expected and what was given.
    pub fn validate(&self) -> Result<(), OptionError> {
        let checks = [
            ("dt_s", self.dt_s, 1e-4, 1.0),
            ("lookahead_min_m", self.lookahead_min_m, 0.01, 100.0),
            (
                "lookahead_max_m",
                self.lookahead_max_m,
                self.lookahead_min_m,
                100.0,
            ),
            ("lookahead_time_s", self.lookahead_time_s, 0.0, 100.0),
            (
                "regulated_min_radius_m",
                self.regulated_min_radius_m,
                0.0,
                100.0,
            ),
            ("sensor_range_m", self.sensor_range_m, 0.0, 1e4),
            ("stop_gap_m", self.stop_gap_m, 0.0, 100.0),
            ("wait_before_replan_s", self.wait_before_replan_s, 0.0, 1e6),
            ("give_up_after_s", self.give_up_after_s, 0.0, 1e6),
            ("door_request_m", self.door_request_m, 0.0, 1e4),
        ];
        for (name, v, lo, hi) in checks {
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err(OptionError::out_of_range(
                    name,
                    format!(
                        "a finite number in [{}, {}]",
                        crate::fmt_num(lo),
                        crate::fmt_num(hi)
                    ),
                    crate::fmt_num(v),
                ));
            }
        }
        Ok(())
    }
}

impl Default for DriveOptions {
    fn default() -> Self {
        Self {
            dt_s: 0.05,
            lookahead_min_m: 0.35,
            lookahead_max_m: 1.0,
            lookahead_time_s: 1.2,
            regulated_min_radius_m: 0.9,
            sensor_range_m: 6.0,
            stop_gap_m: 0.5,
            wait_before_replan_s: 5.0,
            give_up_after_s: 60.0,
            door_request_m: 4.0,
        }
    }
}

/// How a drive ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum DriveStatus {
    /// At the goal, with the goal's heading.
    Arrived,
    /// Stopped for good.
    GaveUp {
        /// Why, as a sentence.
        reason: String,
        /// Floor where it stopped.
        floor: i32,
        /// Where it stopped.
        x: f64,
        /// Where it stopped.
        y: f64,
    },
}

/// Something that happened on the way.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriveEvent {
    /// Seconds since the start.
    pub t_s: f64,
    /// Floor.
    pub floor: i32,
    /// What happened.
    pub what: EventKind,
}

/// The kinds of [`DriveEvent`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventKind {
    /// Stopped in front of an obstacle.
    StoppedForObstacle {
        /// Its name.
        obstacle: String,
    },
    /// The way cleared; driving on.
    Resumed,
    /// Planned around a blocked way.
    Replanned {
        /// Length of the new path, metres.
        length_m: f64,
    },
    /// Planning around failed; waiting on.
    NoDetour,
    /// Asked a door to open (automatic) or staff to open it.
    DoorRequested {
        /// Door name.
        door: String,
    },
    /// The door is open.
    DoorOpened {
        /// Door name.
        door: String,
    },
    /// Called an elevator.
    ElevatorCalled {
        /// Elevator name.
        elevator: String,
    },
    /// Drove into the car and its doors closed.
    ElevatorEntered {
        /// Elevator name.
        elevator: String,
    },
    /// Rode an elevator: the car has arrived and its doors are open.
    ElevatorRide {
        /// Elevator name.
        elevator: String,
        /// From floor.
        from_floor: i32,
        /// To floor.
        to_floor: i32,
    },
    /// Drove out of the car, forwards or (in a car too small to turn in) reversing.
    ElevatorLeft {
        /// Elevator name.
        elevator: String,
        /// How.
        exit: CarExit,
    },
    /// Reached the goal.
    Arrived,
    /// Gave up.
    GaveUp,
}

/// What happened on a simulated drive.
#[derive(Clone, Debug, Serialize)]
pub struct DriveReport {
    /// How it ended.
    pub status: DriveStatus,
    /// Seconds from start to end.
    pub time_s: f64,
    /// Battery energy used, joules.
    pub energy_j: f64,
    /// Distance driven, metres.
    pub distance_m: f64,
    /// Times the robot planned around an obstacle.
    pub replans: usize,
    /// The events, in order.
    pub events: Vec<DriveEvent>,
    /// The robot every step.
    #[serde(skip)]
    pub trajectory: Vec<TrackPoint>,
    /// Each obstacle (in the order given) every step while it is there: `(t_s, outline)`,
    /// recorded at the same instants as [`DriveReport::trajectory`].
    #[serde(skip)]
    pub obstacle_tracks: Vec<Vec<(f64, Polygon)>>,
    /// Steps refused because the next pose would have touched something (0 in a good run:
    /// the look-ahead stops the robot first).
    pub refused_steps: usize,
}

/// Where the robot was at one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackPoint {
    /// Seconds since the start.
    pub t_s: f64,
    /// Floor.
    pub floor: i32,
    /// Pose on that floor.
    pub pose: Pose,
    /// The elevator (index into the site's elevators) while the robot drives into, rides in
    /// or drives out of its car: then its footprint may cover the car's cells, which the
    /// floor map shows as occupied.
    pub elevator: Option<usize>,
}

struct Door {
    name: String,
    area: Polygon,
    automatic: bool,
    open_s: f64,
    assist_s: f64,
    requested_at: Option<f64>,
}

impl Door {
    fn open_at(&self) -> Option<f64> {
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

fn shape_at(o: &DynamicObstacle, t: f64) -> Polygon {
    let dt = t - o.appear_s;
    Polygon::new(
        o.shape
            .vertices
            .iter()
            .map(|v| Point::new(v.x + o.velocity.x * dt, v.y + o.velocity.y * dt))
            .collect(),
    )
}

/// Drives `route` in simulation from its start to `goal`, meeting `obstacles` on the way.
/// Obstacles the robot plans around are added to `nav`'s costmaps during the drive and removed
/// at the end.
pub fn simulate(
    nav: &mut Navigator,
    route: &Route,
    goal: &Target,
    obstacles: &[DynamicObstacle],
    options: DriveOptions,
) -> DriveReport {
    let mut sim = Sim {
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
    };
    let mut status = DriveStatus::Arrived;
    if let Err(why) = options.validate() {
        status = DriveStatus::GaveUp {
            reason: format!("invalid drive options: {why}"),
            floor: goal.floor,
            x: 0.0,
            y: 0.0,
        };
    }
    // The robot starts as it stands (the planner's estimate counts the turn in place from
    // there); without a start heading, facing along the first segment.
    let mut heading = route.start_heading_rad;
    let n_legs = route.legs.len();
    for (li, leg) in route.legs.iter().enumerate() {
        if status != DriveStatus::Arrived {
            break;
        }
        match leg {
            Leg::Drive {
                floor,
                points,
                final_heading_rad,
                ..
            } => {
                let last = li + 1 == n_legs;
                let leg_goal = Target {
                    label: if last {
                        goal.label.clone()
                    } else {
                        "elevator".into()
                    },
                    floor: *floor,
                    point: *points.last().unwrap_or(&goal.point),
                    heading_rad: Some(*final_heading_rad),
                };
                let start_heading = heading.unwrap_or_else(|| {
                    if points.len() >= 2 {
                        points[0].heading_to(points[1])
                    } else {
                        *final_heading_rad
                    }
                });
                if let Err(s) = sim.drive_leg(nav, *floor, points, start_heading, &leg_goal) {
                    status = s;
                    break;
                }
                heading = Some(*final_heading_rad);
            }
            Leg::Elevator {
                name,
                from_floor,
                to_floor,
                ..
            } => {
                let ride = nav
                    .site()
                    .elevators
                    .iter()
                    .position(|e| &e.name == name)
                    .ok_or_else(|| format!("elevator {name} is not in the site"))
                    .and_then(|ei| {
                        nav.ride(ei, *from_floor, *to_floor)
                            .map(|r| (ei, r))
                            .map_err(|e| e.to_string())
                    });
                let (ei, ride) = match ride {
                    Ok(r) => r,
                    Err(why) => {
                        let at = sim.trajectory.last().map_or(Pose::default(), |p| p.pose);
                        status = DriveStatus::GaveUp {
                            reason: format!("cannot ride elevator {name}: {why}"),
                            floor: *from_floor,
                            x: at.x,
                            y: at.y,
                        };
                        break;
                    }
                };
                if let Err(s) = sim.ride_elevator(nav, ei, &ride) {
                    status = s;
                    break;
                }
                heading = Some(ride.exit_pose.yaw_rad);
            }
        }
    }
    let floors: Vec<i32> = nav.site().floors.iter().map(|f| f.number).collect();
    for f in floors {
        // Rebuilding only fails for lack of memory, which the first build already had.
        let _ = nav.clear_obstacles(f);
    }
    let last_floor = sim.trajectory.last().map_or(goal.floor, |t| t.floor);
    match &status {
        DriveStatus::Arrived => sim.event(goal.floor, EventKind::Arrived),
        DriveStatus::GaveUp { .. } => sim.event(last_floor, EventKind::GaveUp),
    }
    DriveReport {
        status,
        time_s: sim.t,
        energy_j: sim.energy_j,
        distance_m: sim.distance_m,
        replans: sim.replans,
        events: sim.events,
        trajectory: sim.trajectory,
        obstacle_tracks: sim.tracks,
        refused_steps: sim.refused,
    }
}

struct Sim {
    t: f64,
    energy_j: f64,
    distance_m: f64,
    events: Vec<DriveEvent>,
    trajectory: Vec<TrackPoint>,
    tracks: Vec<Vec<(f64, Polygon)>>,
    replans: usize,
    refused: usize,
    obstacles: Vec<DynamicObstacle>,
    positions: Vec<Polygon>,
    options: DriveOptions,
}

impl Sim {
    fn event(&mut self, floor: i32, what: EventKind) {
        self.events.push(DriveEvent {
            t_s: (self.t * 100.0).round() / 100.0,
            floor,
            what,
        });
    }

    /// Records the robot and the obstacles present at this instant.
    fn record(&mut self, floor: i32, pose: Pose, elevator: Option<usize>) {
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
    fn obstacle_hit(&self, floor: i32, robot: &RobotModel, pose: Pose) -> Option<String> {
        let fp = footprint_at(robot, pose);
        (0..self.obstacles.len())
            .find(|&i| {
                self.visible(i, floor, pose.point()) && convex_overlap(&self.positions[i], &fp)
            })
            .map(|i| self.obstacles[i].name.clone())
    }

    /// Waits `seconds` in place (electronics only), people moving on.
    fn idle(
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
    fn wait_blocked(
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

    /// Drives straight from `a` to `b` facing `facing` (forwards when that is the direction
    /// of travel, else reversing), from rest to rest at up to `v_max`, each step checked with
    /// `clear` and against visible obstacles (a blocked step waits).
    #[allow(clippy::too_many_arguments)]
    fn straight(
        &mut self,
        robot: &RobotModel,
        floor: i32,
        a: Point,
        b: Point,
        facing: f64,
        v_max: f64,
        elevator: Option<usize>,
        clear: &dyn Fn(Pose) -> bool,
    ) -> Result<Pose, DriveStatus> {
        let len = a.dist(b);
        let dt = self.options.dt_s;
        let (acc, dec) = (robot.limits.max_accel_mps2, robot.limits.max_decel_mps2);
        let mut s = 0.0f64;
        let mut v = 0.0f64;
        let mut waited = 0.0f64;
        let mut pose = Pose::new(a.x, a.y, facing);
        while len - s > 1e-3 {
            self.record(floor, pose, elevator);
            let left = len - s;
            let target = v_max.min((2.0 * dec * left).sqrt());
            let mut nv = target.clamp(v - dec * dt, v + acc * dt).max(0.0);
            if nv < 0.02 {
                // Creep the last millimetres, as the path controller does.
                nv = (left / dt).min(0.05);
            }
            let ds = (nv * dt).min(left);
            let p = a.lerp(b, (s + ds) / len);
            let next = Pose::new(p.x, p.y, facing);
            if !clear(next) || self.obstacle_hit(floor, robot, next).is_some() {
                v = 0.0;
                self.wait_blocked(
                    robot,
                    &mut waited,
                    "the way into or out of the elevator stays blocked",
                    floor,
                    pose,
                )?;
            } else {
                let accel = (nv - v) / dt;
                self.energy_j += robot.energy.power_w(robot.mass_kg, nv, accel, 0.0) * dt;
                self.distance_m += ds;
                s += ds;
                v = nv;
                pose = next;
            }
            self.t += dt;
            self.move_obstacles(floor, &footprint_at(robot, pose));
        }
        pose = Pose::new(b.x, b.y, facing);
        Ok(pose)
    }

    /// Turns in place at `pose` by `turn` radians (either way, as signed), with the turning
    /// limits, each step checked with `clear`.
    fn turn(
        &mut self,
        robot: &RobotModel,
        floor: i32,
        pose: Pose,
        turn: f64,
        elevator: Option<usize>,
        clear: &dyn Fn(Pose) -> bool,
    ) -> Result<Pose, DriveStatus> {
        let dt = self.options.dt_s;
        let (wmax, alpha) = (
            robot.limits.max_yaw_rate_rps,
            robot.limits.max_yaw_accel_rps2,
        );
        let target = pose.yaw_rad + turn;
        let mut pose = pose;
        let mut w = 0.0f64;
        let mut waited = 0.0f64;
        loop {
            self.record(floor, pose, elevator);
            let err = target - pose.yaw_rad;
            if err.abs() < 0.01 && w.abs() < 0.05 {
                return Ok(Pose::new(pose.x, pose.y, wrap_angle(target)));
            }
            let w_brake = (2.0 * alpha * err.abs()).sqrt().min(wmax);
            let nw = (err.signum() * w_brake).clamp(w - alpha * dt, w + alpha * dt);
            let next = Pose::new(pose.x, pose.y, pose.yaw_rad + nw * dt);
            if !clear(next) {
                w = 0.0;
                self.wait_blocked(
                    robot,
                    &mut waited,
                    "cannot turn: something is in the way",
                    floor,
                    pose,
                )?;
            } else {
                self.energy_j += robot.energy.power_w(robot.mass_kg, 0.0, 0.0, nw) * dt;
                pose = next;
                w = nw;
            }
            self.t += dt;
            self.move_obstacles(floor, &footprint_at(robot, pose));
        }
    }

    /// Rides an elevator as [`crate::elevator`] plans it: waits for the car and its doors,
    /// drives in, turns in the car (if it can), rides, waits for the doors, drives out.
    fn ride_elevator(
        &mut self,
        nav: &Navigator,
        ei: usize,
        ride: &Ride,
    ) -> Result<(), DriveStatus> {
        let robot = nav.robot().clone();
        let Some(e) = nav.site().elevators.get(ei).cloned() else {
            return Err(DriveStatus::GaveUp {
                reason: format!("no elevator number {ei} in the site"),
                floor: ride.from_floor,
                x: ride.entry.x,
                y: ride.entry.y,
            });
        };
        let (Some(cm_from), Some(cm_to)) =
            (nav.costmap(ride.from_floor), nav.costmap(ride.to_floor))
        else {
            return Err(DriveStatus::GaveUp {
                reason: format!("elevator {} serves a floor the site lacks", e.name),
                floor: ride.from_floor,
                x: ride.entry.x,
                y: ride.entry.y,
            });
        };
        let half = robot.safety_margin_m / 2.0;
        let v_car = elevator::CAR_SPEED_MPS.min(robot.limits.max_speed_mps);
        let name = e.name.clone();
        self.event(
            ride.from_floor,
            EventKind::ElevatorCalled {
                elevator: name.clone(),
            },
        );
        self.idle(
            &robot,
            ride.from_floor,
            ride.entry,
            e.wait_s + e.door_s,
            None,
        );
        let clear_from = |p: Pose| elevator::pose_clear(cm_from, &e.car, &robot.footprint, p, half);
        let pose = self.straight(
            &robot,
            ride.from_floor,
            ride.entry.point(),
            ride.inside,
            ride.in_heading_rad(),
            v_car,
            Some(ei),
            &clear_from,
        )?;
        self.event(
            ride.from_floor,
            EventKind::ElevatorEntered {
                elevator: name.clone(),
            },
        );
        let in_car = |p: Pose| elevator::fits_in_car(&e.car, &robot, p, half);
        let pose = self.turn(
            &robot,
            ride.from_floor,
            pose,
            ride.turn_rad,
            Some(ei),
            &in_car,
        )?;
        let travel = e.car_s(ride.from_floor, ride.to_floor) - e.wait_s - 2.0 * e.door_s;
        self.idle(&robot, ride.from_floor, pose, travel, Some(ei));
        self.idle(&robot, ride.to_floor, pose, e.door_s, Some(ei));
        self.event(
            ride.to_floor,
            EventKind::ElevatorRide {
                elevator: name.clone(),
                from_floor: ride.from_floor,
                to_floor: ride.to_floor,
            },
        );
        let clear_to = |p: Pose| elevator::pose_clear(cm_to, &e.car, &robot.footprint, p, half);
        self.straight(
            &robot,
            ride.to_floor,
            ride.inside,
            ride.exit_pose.point(),
            ride.out_heading_rad(),
            v_car,
            Some(ei),
            &clear_to,
        )?;
        self.event(
            ride.to_floor,
            EventKind::ElevatorLeft {
                elevator: name,
                exit: ride.exit,
            },
        );
        Ok(())
    }

    fn visible(&self, i: usize, floor: i32, at: Point) -> bool {
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
    fn move_obstacles(&mut self, floor: i32, robot_shape: &Polygon) {
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

    #[allow(clippy::too_many_lines)]
    fn drive_leg(
        &mut self,
        nav: &mut Navigator,
        floor: i32,
        points: &[Point],
        start_heading: f64,
        leg_goal: &Target,
    ) -> Result<(), DriveStatus> {
        let robot = nav.robot().clone();
        let o = self.options;
        let dt = o.dt_s;
        let mut path: Vec<Point> = points.to_vec();
        let Some(&first) = path.first() else {
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
        let mut pose = Pose::new(first.x, first.y, start_heading);
        let mut v = 0.0f64;
        let mut w = 0.0f64;
        let mut seg = 0usize; // current segment path[seg] -> path[seg + 1]
        let mut rotating_to: Option<f64> = None;
        let mut waiting_s = 0.0f64;
        let mut blocked_total_s = 0.0f64;
        let mut stopped_for: Option<String> = None;
        let mut announced = false;
        let mut doors: Vec<Door> = nav
            .site()
            .doors
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
            .collect();
        let deadline = self.t + 3600.0;
        let give_up = |_: &Sim, pose: Pose, reason: String| DriveStatus::GaveUp {
            reason,
            floor,
            x: (pose.x * 100.0).round() / 100.0,
            y: (pose.y * 100.0).round() / 100.0,
        };
        let stop_turn = nav.options().stop_turn_rad;
        // Braking from top speed, and the step of the speed-limit look-ahead.
        let speed_look_m = robot.braking_distance_m(robot.limits.max_speed_mps) + 0.1;
        let speed_step_m = nav.costmap(floor).map_or(0.05, |c| c.resolution_m);
        loop {
            if self.t > deadline {
                return Err(give_up(
                    self,
                    pose,
                    "the drive took more than an hour".into(),
                ));
            }
            self.record(floor, pose, None);
            let n = path.len();
            // Turn in place at the start of a segment (or at the end, to the goal heading).
            if rotating_to.is_none() && v.abs() < 1e-6 {
                let want = if seg + 1 < n {
                    Some(path[seg].heading_to(path[seg + 1]))
                } else {
                    leg_goal.heading_rad
                };
                if let Some(h) = want
                    && wrap_angle(h - pose.yaw_rad).abs() > 0.02
                    && (seg + 1 >= n || pose.point().dist(path[seg]) < 0.08)
                {
                    rotating_to = Some(h);
                }
            }
            if let Some(h) = rotating_to {
                let err = wrap_angle(h - pose.yaw_rad);
                if err.abs() < 0.01 && w.abs() < 0.05 {
                    rotating_to = None;
                    w = 0.0;
                    if seg + 1 >= n {
                        return Ok(());
                    }
                    continue;
                }
                // Trapezoidal turn: accelerate, cruise, brake to land on the heading.
                let wmax = robot.limits.max_yaw_rate_rps;
                let alpha = robot.limits.max_yaw_accel_rps2;
                let w_brake = (2.0 * alpha * err.abs()).sqrt().min(wmax);
                let target = err.signum() * w_brake;
                let nw = (target).clamp(w - alpha * dt, w + alpha * dt);
                let next = Pose::new(pose.x, pose.y, pose.yaw_rad + nw * dt);
                if !self.pose_ok(nav, floor, next, &doors) {
                    self.refused += 1;
                    w = 0.0;
                    waiting_s += dt;
                } else {
                    self.energy_j += robot.energy.power_w(robot.mass_kg, 0.0, 0.0, nw) * dt;
                    pose = next;
                    w = nw;
                }
                if waiting_s > o.give_up_after_s {
                    return Err(give_up(
                        self,
                        pose,
                        "cannot turn: something is in the way".into(),
                    ));
                }
                self.t += dt;
                self.move_obstacles(floor, &footprint_at(&robot, pose));
                continue;
            }
            if seg + 1 >= n {
                if leg_goal
                    .heading_rad
                    .is_some_and(|h| wrap_angle(h - pose.yaw_rad).abs() > 0.02)
                {
                    rotating_to = leg_goal.heading_rad;
                    continue;
                }
                return Ok(());
            }
            // Where along the path the robot is: projection on the current segment, moving on
            // past corners where it does not stop.
            let is_stop = |k: usize| -> bool {
                k + 1 >= n || {
                    let h1 = path[k - 1].heading_to(path[k]);
                    let h2 = path[k].heading_to(path[k + 1]);
                    wrap_angle(h2 - h1).abs() > stop_turn
                }
            };
            let project = |seg: usize| {
                let (a, b) = (path[seg], path[seg + 1]);
                let len = a.dist(b).max(1e-9);
                let s = ((pose.x - a.x) * (b.x - a.x) + (pose.y - a.y) * (b.y - a.y)) / len;
                (s.clamp(0.0, len), len, s)
            };
            let (mut s_on, mut seg_len, mut raw_s) = project(seg);
            while raw_s >= seg_len - 1e-3 && !is_stop(seg + 1) {
                seg += 1;
                (s_on, seg_len, raw_s) = project(seg);
            }
            // The next vertex where the robot must stop (sharp turn or the end).
            let mut stop_idx = seg + 1;
            while !is_stop(stop_idx) {
                stop_idx += 1;
            }
            let mut to_stop = seg_len - s_on;
            for k in seg + 1..stop_idx {
                to_stop += path[k].dist(path[k + 1]);
            }
            if to_stop < 0.02 && v.abs() < 0.05 {
                // Arrived at the vertex: on to the next segment (turning there first).
                pose = Pose::new(path[stop_idx].x, path[stop_idx].y, pose.yaw_rad);
                v = 0.0;
                seg = stop_idx;
                continue;
            }
            // Carrot: look-ahead distance along the path, not past the stop vertex.
            let look = (v.abs() * o.lookahead_time_s).clamp(o.lookahead_min_m, o.lookahead_max_m);
            let carrot = point_along(&path, seg, s_on, look.min(to_stop));
            // Look ahead for obstacles and closed doors, as far as stopping needs.
            let check_m = (robot.braking_distance_m(v) + o.stop_gap_m + 1.0).min(to_stop + 0.5);
            for d in &mut doors {
                if d.requested_at.is_none() {
                    let near = sample_path(&path, seg, s_on, o.door_request_m, 0.2)
                        .iter()
                        .any(|p| d.area.contains(p.point()));
                    if near {
                        d.requested_at = Some(self.t);
                        self.events.push(DriveEvent {
                            t_s: (self.t * 100.0).round() / 100.0,
                            floor,
                            what: EventKind::DoorRequested {
                                door: d.name.clone(),
                            },
                        });
                    }
                }
                if let Some(open) = d.open_at()
                    && self.t >= open
                    && self.t - dt < open
                {
                    self.events.push(DriveEvent {
                        t_s: (self.t * 100.0).round() / 100.0,
                        floor,
                        what: EventKind::DoorOpened {
                            door: d.name.clone(),
                        },
                    });
                }
            }
            let mut free_m = f64::INFINITY;
            let mut blocker = None;
            for (k, p) in sample_path(&path, seg, s_on, check_m, 0.1)
                .into_iter()
                .enumerate()
            {
                let s = k as f64 * 0.1;
                let fp = footprint_at(&robot, p);
                let hit = (0..self.obstacles.len())
                    .find(|&i| {
                        self.visible(i, floor, pose.point())
                            && convex_overlap(&self.positions[i], &fp)
                    })
                    .map(|i| self.obstacles[i].name.clone())
                    .or_else(|| {
                        doors
                            .iter()
                            .find(|d| {
                                d.open_at().is_none_or(|t| self.t < t)
                                    && overlaps_area(&d.area, &fp)
                            })
                            .map(|d| format!("door {}", d.name))
                    });
                if let Some(h) = hit {
                    free_m = s;
                    blocker = Some(h);
                    break;
                }
            }
            // Speed: zone and proximity limit, curvature regulation, stopping at the vertex and
            // before obstacles.
            let dx = carrot.x - pose.x;
            let dy = carrot.y - pose.y;
            let (sn, cs) = pose.yaw_rad.sin_cos();
            let (lx, ly) = (cs * dx + sn * dy, -sn * dx + cs * dy);
            let l2 = (lx * lx + ly * ly).max(1e-9);
            let curvature = 2.0 * ly / l2;
            let alpha_err = ly.atan2(lx);
            if alpha_err.abs() > std::f64::consts::FRAC_PI_4 && v.abs() < 0.05 {
                // Too far off the path's direction to steer: turn towards the carrot first.
                rotating_to = Some(pose.yaw_rad + alpha_err);
                continue;
            }
            // The speed limit here and ahead, as far as braking from top speed reaches: the
            // robot slows before a slower zone or a narrow passage, not in it.
            let Some(cm) = nav.costmap(floor) else {
                return Err(give_up(self, pose, format!("floor {floor} is gone")));
            };
            let mut v_target = speed_limit_at(cm, pose.point(), &robot);
            let decel = robot.limits.max_decel_mps2;
            for (k, p) in sample_path(&path, seg, s_on, speed_look_m.min(to_stop), speed_step_m)
                .iter()
                .enumerate()
            {
                let ahead = k as f64 * speed_step_m;
                let limit = speed_limit_at(cm, p.point(), &robot);
                v_target = v_target.min((limit * limit + 2.0 * decel * ahead).sqrt());
            }
            let radius = 1.0 / curvature.abs().max(1e-9);
            if radius < o.regulated_min_radius_m {
                v_target *= radius / o.regulated_min_radius_m;
            }
            v_target = v_target.min((2.0 * decel * to_stop).sqrt());
            if free_m.is_finite() {
                v_target = v_target.min((2.0 * decel * (free_m - o.stop_gap_m).max(0.0)).sqrt());
                if free_m <= o.stop_gap_m + 0.05 {
                    v_target = 0.0;
                }
            }
            let mut nv = v_target
                .clamp(v - decel * dt, v + robot.limits.max_accel_mps2 * dt)
                .max(0.0);
            // Creep: a stopped robot close to its vertex still has to get there.
            if nv < 0.02 && blocker.is_none() && to_stop > 0.02 {
                nv = (to_stop / dt).min(0.05);
            }
            // Never past the vertex where it stops: arriving is not overshooting and being
            // put back.
            nv = nv.min(to_stop / dt);
            let nw = (nv * curvature).clamp(
                -robot.limits.max_yaw_rate_rps,
                robot.limits.max_yaw_rate_rps,
            );
            let next_yaw = pose.yaw_rad + nw * dt;
            let mid_yaw = pose.yaw_rad + nw * dt / 2.0;
            let next = Pose::new(
                pose.x + nv * dt * mid_yaw.cos(),
                pose.y + nv * dt * mid_yaw.sin(),
                next_yaw,
            );
            let moving = nv > 1e-6;
            if moving && !self.pose_ok(nav, floor, next, &doors) {
                // Never take a step that touches something.
                self.refused += 1;
                v = 0.0;
                w = 0.0;
            } else if moving {
                let a = (nv - v) / dt;
                self.energy_j += robot.energy.power_w(robot.mass_kg, nv, a, nw) * dt;
                self.distance_m += nv * dt;
                pose = next;
                v = nv;
                w = nw;
            } else {
                v = 0.0;
                w = 0.0;
                self.energy_j += robot.energy.idle_power_w * dt;
            }
            // Waiting and replanning.
            if v < 1e-3 && blocker.is_some() {
                if stopped_for.is_none() {
                    let name = blocker.clone().unwrap_or_default();
                    stopped_for = Some(name.clone());
                    if !name.starts_with("door ") {
                        announced = true;
                        self.event(floor, EventKind::StoppedForObstacle { obstacle: name });
                    }
                }
                waiting_s += dt;
                blocked_total_s += dt;
                let is_door = blocker.as_deref().is_some_and(|b| b.starts_with("door "));
                if !is_door && waiting_s >= o.wait_before_replan_s {
                    waiting_s = 0.0;
                    // Mark what blocks the way and plan around it from here.
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
                            path = p.points;
                            seg = 0;
                            stopped_for = None;
                            announced = false;
                        }
                        Err(_) => {
                            self.event(floor, EventKind::NoDetour);
                            // Forget the marks: the obstacle may leave.
                            let _ = nav.clear_obstacles(floor);
                        }
                    }
                }
                if blocked_total_s > o.give_up_after_s {
                    let what = stopped_for.clone().unwrap_or_default();
                    return Err(give_up(
                        self,
                        pose,
                        format!(
                            "the way to {} is blocked by {what} and there is no other route (waited {:.0} s)",
                            leg_goal.label, blocked_total_s
                        ),
                    ));
                }
            } else if v > 0.05 && stopped_for.is_some() {
                stopped_for = None;
                waiting_s = 0.0;
                if announced {
                    announced = false;
                    self.event(floor, EventKind::Resumed);
                }
            }
            self.t += dt;
            self.move_obstacles(floor, &footprint_at(&robot, pose));
        }
    }

    /// Whether the robot may stand at `pose`: inside the map, the footprint (with the safety
    /// margin) clear of the costmap's obstacles, of visible dynamic obstacles and of closed
    /// doors.
    fn pose_ok(&self, nav: &Navigator, floor: i32, pose: Pose, doors: &[Door]) -> bool {
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

/// Whether a convex footprint overlaps a door area (doors are convex in practice; the test
/// uses the area's vertices and the footprint's as a convex pair).
fn overlaps_area(area: &Polygon, fp: &Polygon) -> bool {
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

/// Whether the planned path of a leg is still clear for the footprint (used by tests).
pub fn path_clear(nav: &Navigator, floor: i32, points: &[Point]) -> bool {
    nav.costmap(floor).is_some_and(|cm| {
        points
            .windows(2)
            .all(|w| lattice::segment_free(cm, w[0], w[1]))
    })
}
