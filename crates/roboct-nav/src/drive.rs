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
//!
//! The parts, as in Nav2 (`nav2_core`'s controller interface, and its loopback simulator
//! standing in for the robot):
//!
//! * [`controller`]: the controller apart from the base, behind the [`Controller`] trait:
//!   odometry and the path in, a velocity or turn-in-place [`Command`] out; what it needs of
//!   the world it asks through [`Sensors`]. [`PurePursuit`] is the one used here.
//! * `leg`: one floor's leg on the simulated base: the controller asked each step, its
//!   commands integrated, its sensors served from the simulated world, waiting, planning
//!   around and giving up.
//! * `base`: the simulated base's clock, energy and track, the dynamic obstacles and doors,
//!   and the checks of each pose against them.
//! * `ride`: elevator rides: the scripted moves into and out of the car and the waits.

pub mod controller;

mod base;
mod leg;
mod ride;

use serde::Serialize;

use crate::elevator::{CarExit, Ride};
use crate::error::OptionError;
use crate::geom::{Point, Polygon, Pose};
use crate::lattice;
use crate::plan::{Leg, Navigator, Route, Target};

use base::Sim;

pub use base::{convex_overlap, footprint_clear_exact};
pub use controller::{Command, Controller, Odometry, PurePursuit, Sensors};

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

/// The drive for people, as `roboct route --drive` prints it: one line per event (its JSON),
/// then how it ended, with time, distance, energy and replans.
impl std::fmt::Display for DriveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.events {
            let what = serde_json::to_string(&e.what).map_err(|_| std::fmt::Error)?;
            writeln!(f, "  t={:7.1} s floor {}: {what}", e.t_s, e.floor)?;
        }
        writeln!(
            f,
            "drive: {} after {:.0} s, {:.1} m driven, {:.0} J, {} replans",
            match &self.status {
                DriveStatus::Arrived => "arrived".to_string(),
                DriveStatus::GaveUp {
                    reason,
                    floor,
                    x,
                    y,
                } => format!("gave up at ({x:.2}, {y:.2}) on floor {floor}: {reason}"),
            },
            self.time_s,
            self.distance_m,
            self.energy_j,
            self.replans
        )
    }
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
    let mut sim = Sim::new(obstacles, options);
    let driven = match options.validate() {
        Err(why) => Err(DriveStatus::GaveUp {
            reason: format!("invalid drive options: {why}"),
            floor: goal.floor,
            x: 0.0,
            y: 0.0,
        }),
        Ok(()) => drive_route(&mut sim, nav, route, goal),
    };
    let status = driven.err().unwrap_or(DriveStatus::Arrived);
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
    sim.into_report(status)
}

/// Drives the legs of `route` one after the other; `Err` with the status where one fails.
fn drive_route(
    sim: &mut Sim,
    nav: &mut Navigator,
    route: &Route,
    goal: &Target,
) -> Result<(), DriveStatus> {
    // The robot starts as it stands (the planner's estimate counts the turn in place from
    // there); without a start heading, facing along the first segment.
    let mut heading = route.start_heading_rad;
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
                sim.drive_leg(nav, *floor, points, start_heading, &leg_goal)?;
                heading = Some(*final_heading_rad);
            }
            Leg::Elevator {
                name,
                from_floor,
                to_floor,
                ..
            } => {
                let (ei, ride) = checked_ride(sim, nav, name, *from_floor, *to_floor)?;
                sim.ride_elevator(nav, ei, &ride)?;
                heading = Some(ride.exit_pose.yaw_rad);
            }
        }
    }
    Ok(())
}

/// The elevator named `name` and its checked ride from `from` to `to`; `Err` (giving up where
/// the robot stands) if there is none.
fn checked_ride(
    sim: &Sim,
    nav: &mut Navigator,
    name: &str,
    from: i32,
    to: i32,
) -> Result<(usize, Ride), DriveStatus> {
    nav.site()
        .elevators
        .iter()
        .position(|e| e.name == name)
        .ok_or_else(|| format!("elevator {name} is not in the site"))
        .and_then(|ei| {
            nav.ride(ei, from, to)
                .map(|r| (ei, r))
                .map_err(|e| e.to_string())
        })
        .map_err(|why| {
            let at = sim.trajectory.last().map_or(Pose::default(), |p| p.pose);
            DriveStatus::GaveUp {
                reason: format!("cannot ride elevator {name}: {why}"),
                floor: from,
                x: at.x,
                y: at.y,
            }
        })
}

/// Whether the planned path of a leg is still clear for the footprint (used by tests).
pub fn path_clear(nav: &Navigator, floor: i32, points: &[Point]) -> bool {
    nav.costmap(floor).is_some_and(|cm| {
        points
            .windows(2)
            .all(|w| lattice::segment_free(cm, w[0], w[1]))
    })
}
