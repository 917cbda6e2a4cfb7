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

use crate::geom::{Point, Polygon, Pose, wrap_angle};
use crate::lattice;
use crate::plan::{Leg, Navigator, Route, Target, speed_limit_at};

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
    /// Rode an elevator.
    ElevatorRide {
        /// Elevator name.
        elevator: String,
        /// From floor.
        from_floor: i32,
        /// To floor.
        to_floor: i32,
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
    /// Poses every step: `(t_s, floor, pose)`.
    #[serde(skip)]
    pub trajectory: Vec<(f64, i32, Pose)>,
    /// Steps refused because the next pose would have touched something (0 in a good run:
    /// the look-ahead stops the robot first).
    pub refused_steps: usize,
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
        replans: 0,
        refused: 0,
        obstacles: obstacles.to_vec(),
        positions: obstacles.iter().map(|o| o.shape.clone()).collect(),
        options,
    };
    let mut status = DriveStatus::Arrived;
    let mut heading = None;
    let n_legs = route.legs.len();
    for (li, leg) in route.legs.iter().enumerate() {
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
                let Some(e) = nav
                    .site()
                    .elevators
                    .iter()
                    .find(|e| &e.name == name)
                    .cloned()
                else {
                    status = DriveStatus::GaveUp {
                        reason: format!("elevator {name} is not in the site"),
                        floor: *from_floor,
                        x: 0.0,
                        y: 0.0,
                    };
                    break;
                };
                sim.event(
                    *from_floor,
                    EventKind::ElevatorCalled {
                        elevator: name.clone(),
                    },
                );
                let t = e.ride_s(*from_floor, *to_floor);
                let robot = nav.robot();
                let manoeuvre = 2.0
                    * (robot.energy.rolling_j(robot.mass_kg, 2.5)
                        + robot.energy.accelerate_j(robot.mass_kg, 0.3));
                sim.energy_j += t * robot.energy.idle_power_w + manoeuvre;
                sim.t += t;
                sim.event(
                    *to_floor,
                    EventKind::ElevatorRide {
                        elevator: name.clone(),
                        from_floor: *from_floor,
                        to_floor: *to_floor,
                    },
                );
                // The robot backs out of the car: it faces away from the doors.
                heading = e
                    .stop_on(*to_floor)
                    .map(|p| wrap_angle(p.yaw_rad + std::f64::consts::PI));
            }
        }
    }
    let floors: Vec<i32> = nav.site().floors.iter().map(|f| f.number).collect();
    for f in floors {
        // Rebuilding only fails for lack of memory, which the first build already had.
        let _ = nav.clear_obstacles(f);
    }
    let last_floor = sim.trajectory.last().map_or(goal.floor, |t| t.1);
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
        refused_steps: sim.refused,
    }
}

struct Sim {
    t: f64,
    energy_j: f64,
    distance_m: f64,
    events: Vec<DriveEvent>,
    trajectory: Vec<(f64, i32, Pose)>,
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

    /// Moves people on; a person who would walk into the robot waits.
    fn move_obstacles(&mut self, robot_shape: &Polygon) {
        for i in 0..self.obstacles.len() {
            let o = &self.obstacles[i];
            if self.t < o.appear_s || o.leave_s.is_some_and(|l| self.t >= l) {
                continue;
            }
            if o.velocity.x == 0.0 && o.velocity.y == 0.0 {
                continue;
            }
            let next = shape_at(o, self.t + self.options.dt_s);
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
        let mut pose = Pose::new(path[0].x, path[0].y, start_heading);
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
        let footprint_at = |p: Pose| {
            Polygon::new(
                robot
                    .footprint
                    .vertices
                    .iter()
                    .map(|&q| p.map_from_robot(q))
                    .collect(),
            )
        };
        loop {
            if self.t > deadline {
                return Err(give_up(
                    self,
                    pose,
                    "the drive took more than an hour".into(),
                ));
            }
            self.trajectory.push((self.t, floor, pose));
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
                if !self.pose_ok(nav, floor, next, &footprint_at, &doors) {
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
                self.move_obstacles(&footprint_at(pose));
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
                    wrap_angle(h2 - h1).abs() > stop_turn.min(0.2)
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
                let fp = footprint_at(p);
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
            let mut v_target = speed_limit_at(
                nav.costmap(floor).expect("the leg's floor exists"),
                pose.point(),
                &robot,
            );
            let radius = 1.0 / curvature.abs().max(1e-9);
            if radius < o.regulated_min_radius_m {
                v_target *= radius / o.regulated_min_radius_m;
            }
            let decel = robot.limits.max_decel_mps2;
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
            if moving && !self.pose_ok(nav, floor, next, &footprint_at, &doors) {
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
            self.move_obstacles(&footprint_at(pose));
        }
    }

    /// Whether the robot may stand at `pose`: inside the map, the footprint (with the safety
    /// margin) clear of the costmap's obstacles, of visible dynamic obstacles and of closed
    /// doors.
    fn pose_ok(
        &self,
        nav: &Navigator,
        floor: i32,
        pose: Pose,
        footprint_at: &dyn Fn(Pose) -> Polygon,
        doors: &[Door],
    ) -> bool {
        let Some(cm) = nav.costmap(floor) else {
            return false;
        };
        if !footprint_clear_exact(cm, pose, nav.robot().safety_margin_m / 2.0) {
            return false;
        }
        let fp = footprint_at(pose);
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
