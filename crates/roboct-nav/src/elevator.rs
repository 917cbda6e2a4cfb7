//! Elevator rides, checked like every other move of the robot.
//!
//! The robot waits at the elevator's stop on its floor, facing the car. When the doors are
//! open it drives straight in along its heading to the ride point (the point of that line
//! level with the car's centroid), where its footprint, grown by the safety margin, must lie
//! inside the car. During the ride it turns in place towards the stop of the arrival floor if
//! the car leaves room for the turn (every sampled heading of the turn keeps the grown
//! footprint inside the car), and drives out forwards. Only in a car too small to turn in does
//! it reverse: straight back out along a line whose every pose has been checked, at the car
//! speed; this is the one place where the robot ever moves backwards.
//!
//! On the way in and out the footprint (grown by the margin) may cover the car's cells, which
//! the floor map shows as occupied (the shaft behind closed doors), but no other occupied,
//! unknown or keep-out cell. Poses are checked every centimetre with the footprint grown by
//! half that step, so the footprint between two checks is covered too; headings in the car
//! every degree, with the growth that covers the arc between two of them.
//!
//! Time of a ride: the car's own time ([`Elevator::car_s`]: the wait for the car, the doors at
//! both stops, the travel) plus the drive in, the turn and the drive out, each timed from the
//! robot's limits at [`CAR_SPEED_MPS`]. Energy: the electronics over all of it plus the
//! rolling, accelerating and turning of the robot's own moves; the building lifts the robot.
//! The simulated controller ([`crate::drive`]) executes the same moves step by step, so its
//! time and energy agree with this estimate (tested in `tests/driving.rs`).

use serde::Serialize;

use crate::costmap::Costmap;
use crate::error::RideError;
use crate::geom::{Point, Polygon, Pose, wrap_angle};
use crate::plan::Estimate;
use crate::robot::RobotModel;
use crate::site::Elevator;

/// Top speed into and out of a car, m/s (a threshold is crossed at walking pace or less).
pub const CAR_SPEED_MPS: f64 = 0.3;
/// Spacing of the checked poses on the way in and out, metres.
const STEP_M: f64 = 0.01;
/// Spacing of the checked headings of a turn in the car, radians (1 degree).
const TURN_STEP_RAD: f64 = std::f64::consts::PI / 180.0;

/// How the robot leaves the car.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CarExit {
    /// It turned in the car and drives out forwards.
    Forward,
    /// The car is too small to turn in: it reverses out along the line it came in.
    Reverse,
}

/// One checked elevator ride: in from one floor's stop, out to another floor's stop.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ride {
    /// Floor of departure.
    pub from_floor: i32,
    /// Floor of arrival.
    pub to_floor: i32,
    /// The stop on the departure floor, facing the car (where the robot starts).
    pub entry: Pose,
    /// Where the robot stands in the car during the ride.
    pub inside: Point,
    /// Turn in place in the car, radians (signed, counter-clockwise positive).
    pub turn_rad: f64,
    /// How it leaves the car.
    pub exit: CarExit,
    /// The stop on the arrival floor, with the heading the robot has there.
    pub exit_pose: Pose,
    /// Length of the drive in, metres.
    pub in_m: f64,
    /// Length of the drive out, metres.
    pub out_m: f64,
}

impl Ride {
    /// Heading of the robot in the car before its turn.
    pub fn in_heading_rad(&self) -> f64 {
        self.entry.yaw_rad
    }

    /// Heading of the robot while it drives out (it faces the car when it reverses).
    pub fn out_heading_rad(&self) -> f64 {
        wrap_angle(self.in_heading_rad() + self.turn_rad)
    }

    /// Expected time and energy of the whole ride, the car's own time included.
    pub fn estimate(&self, robot: &RobotModel, elevator: &Elevator) -> Estimate {
        let e = &robot.energy;
        let m = robot.mass_kg;
        let v = CAR_SPEED_MPS.min(robot.limits.max_speed_mps);
        let drive_in = robot.straight_move(self.in_m, v);
        let drive_out = robot.straight_move(self.out_m, v);
        let time_s = elevator.car_s(self.from_floor, self.to_floor)
            + drive_in.time_s
            + robot.turn_time_s(self.turn_rad)
            + drive_out.time_s;
        let energy_j = e.idle_power_w * time_s
            + e.rolling_j(m, self.in_m + self.out_m)
            + e.accelerate_j(m, drive_in.peak_speed_mps)
            + e.accelerate_j(m, drive_out.peak_speed_mps)
            + e.turn_j(m, self.turn_rad);
        Estimate {
            length_m: self.in_m + self.out_m,
            time_s,
            energy_j,
        }
    }
}

/// Where the robot stands in the car when it drives in from `stop`: the point of the stop's
/// heading line level with the car's centroid. `Err` when that line misses the car.
///
/// # Errors
/// [`RideError::NotFacingCar`] when the stop and the car disagree.
pub fn ride_point(car: &Polygon, stop: Pose) -> Result<Point, RideError> {
    let c = centroid(car);
    let (s, co) = stop.yaw_rad.sin_cos();
    let along = (c.x - stop.x) * co + (c.y - stop.y) * s;
    let p = Point::new(stop.x + along * co, stop.y + along * s);
    if along <= 0.0 || !car.contains(p) {
        return Err(RideError::NotFacingCar { stop, centre: c });
    }
    Ok(p)
}

/// Plans and checks the ride of `elevator` from `from_floor` to `to_floor` for the robot whose
/// costmaps of the two floors are `cm_from` and `cm_to`.
///
/// # Errors
/// [`RideError`] saying which part does not fit: the way in, the robot in the car, or the
/// way out.
pub fn plan_ride(
    cm_from: &Costmap,
    cm_to: &Costmap,
    robot: &RobotModel,
    elevator: &Elevator,
    from_floor: i32,
    to_floor: i32,
) -> Result<Ride, RideError> {
    let car = &elevator.car;
    let margin = robot.safety_margin_m;
    let stop = |floor: i32| elevator.stop_on(floor).ok_or(RideError::NoStop { floor });
    let entry = stop(from_floor)?;
    let arrival = stop(to_floor)?;
    let inside = ride_point(car, entry)?;
    // The car first: a car too small is the reason, not the wall behind it.
    if !fits_in_car(
        car,
        robot,
        Pose::new(inside.x, inside.y, entry.yaw_rad),
        margin,
    ) {
        return Err(RideError::CarTooSmall {
            width_m: extent(&robot.footprint).0,
            length_m: extent(&robot.footprint).1,
            margin_m: margin,
        });
    }
    if let Some(bad) = first_unclear_line(cm_from, car, robot, entry.point(), inside, entry.yaw_rad)
    {
        return Err(RideError::EntryBlocked {
            floor: from_floor,
            near: bad,
        });
    }
    let out_m = inside.dist(arrival.point());
    if out_m < 0.05 {
        return Err(RideError::StopInsideCar { floor: to_floor });
    }
    let forward = inside.heading_to(arrival.point());
    let backward = arrival.point().heading_to(inside);
    let mut why_not = Vec::new();
    for (exit, heading) in [(CarExit::Forward, forward), (CarExit::Reverse, backward)] {
        let short = wrap_angle(heading - entry.yaw_rad);
        let long = short - std::f64::consts::TAU.copysign(short);
        let Some(turn) = [short, long]
            .into_iter()
            .find(|&t| turn_fits(car, robot, inside, entry.yaw_rad, t))
        else {
            why_not.push(format!(
                "no room in the car to turn by {:.0} deg",
                short.abs().to_degrees()
            ));
            continue;
        };
        if let Some(bad) = first_unclear_line(cm_to, car, robot, inside, arrival.point(), heading) {
            why_not.push(format!(
                "{} out onto floor {to_floor} is blocked near ({}, {})",
                if exit == CarExit::Forward {
                    "the way"
                } else {
                    "reversing"
                },
                crate::fmt_m(bad.x),
                crate::fmt_m(bad.y)
            ));
            continue;
        }
        let end_heading = if exit == CarExit::Forward {
            forward
        } else {
            backward
        };
        return Ok(Ride {
            from_floor,
            to_floor,
            entry,
            inside,
            turn_rad: turn,
            exit,
            exit_pose: Pose::new(arrival.x, arrival.y, end_heading),
            in_m: entry.point().dist(inside),
            out_m,
        });
    }
    Err(RideError::NoExit {
        floor: to_floor,
        why_not,
    })
}

/// The first pose of the straight move `a` -> `b` at `heading` (forwards or backwards) where
/// the footprint is not clear of everything but the car.
fn first_unclear_line(
    cm: &Costmap,
    car: &Polygon,
    robot: &RobotModel,
    a: Point,
    b: Point,
    heading: f64,
) -> Option<Point> {
    let n = ((a.dist(b) / STEP_M).ceil() as usize).max(1);
    let grow = robot.safety_margin_m + STEP_M / 2.0;
    (0..=n).map(|k| a.lerp(b, k as f64 / n as f64)).find(|p| {
        !pose_clear(
            cm,
            car,
            &robot.footprint,
            Pose::new(p.x, p.y, heading),
            grow,
        )
    })
}

/// Whether turning in place at `p` from `from` by `turn` keeps the footprint, grown by the
/// margin, inside the car.
fn turn_fits(car: &Polygon, robot: &RobotModel, p: Point, from: f64, turn: f64) -> bool {
    let n = ((turn.abs() / TURN_STEP_RAD).ceil() as usize).max(1);
    let r = robot.circumscribed_radius_m();
    // A point at radius r moves at most r * step / 2 away from the nearer sampled heading.
    let grow = robot.safety_margin_m + r * (turn.abs() / n as f64) / 2.0;
    (0..=n).all(|k| {
        let yaw = from + turn * k as f64 / n as f64;
        fits_in_car(car, robot, Pose::new(p.x, p.y, yaw), grow)
    })
}

/// Whether the footprint at `pose`, grown by `grow_m`, lies inside the (convex) car.
pub fn fits_in_car(car: &Polygon, robot: &RobotModel, pose: Pose, grow_m: f64) -> bool {
    let inner = car.counter_clockwise().grown(-grow_m);
    // Shrinking by more than the car's half width turns the polygon inside out.
    let sound = inner
        .vertices
        .iter()
        .all(|&v| car.boundary_distance(v) >= grow_m - 1e-9 && (grow_m < 1e-9 || car.contains(v)));
    if !sound {
        return false;
    }
    robot
        .footprint
        .vertices
        .iter()
        .all(|&v| inner.contains(pose.map_from_robot(v)))
}

/// Whether `footprint` at `pose`, grown by `grow_m`, keeps clear of every blocked cell of
/// `cm` except the cells that lie inside the car (cells as squares, tested exactly).
pub fn pose_clear(
    cm: &Costmap,
    car: &Polygon,
    footprint: &Polygon,
    pose: Pose,
    grow_m: f64,
) -> bool {
    let fp = Polygon::new(
        footprint
            .grown(grow_m)
            .vertices
            .iter()
            .map(|&v| pose.map_from_robot(v))
            .collect(),
    );
    let (lo, hi) = fp.bounds();
    let r = cm.resolution_m;
    let to = |v: f64, o: f64| ((v - o) / r).floor();
    let (x0, y0, x1, y1) = (
        to(lo.x, cm.origin.x),
        to(lo.y, cm.origin.y),
        to(hi.x, cm.origin.x),
        to(hi.y, cm.origin.y),
    );
    if !(x0 >= 0.0 && y0 >= 0.0 && x1 < cm.width as f64 && y1 < cm.height as f64) {
        return false;
    }
    // A cell counts as part of the car when its whole square is inside (to a millimetre).
    let car_out = car.counter_clockwise().grown(1e-3);
    for cy in y0 as usize..=y1 as usize {
        for cx in x0 as usize..=x1 as usize {
            if !cm.blocked(cy * cm.width + cx) {
                continue;
            }
            let (ox, oy) = (cm.origin.x + cx as f64 * r, cm.origin.y + cy as f64 * r);
            let square = Polygon::rect(ox, oy, ox + r, oy + r);
            if square.vertices.iter().all(|&v| car_out.contains(v)) {
                continue;
            }
            if crate::drive::convex_overlap(&square, &fp) {
                return false;
            }
        }
    }
    true
}

fn centroid(p: &Polygon) -> Point {
    let n = p.vertices.len().max(1) as f64;
    let (sx, sy) = p
        .vertices
        .iter()
        .fold((0.0, 0.0), |(x, y), v| (x + v.x, y + v.y));
    Point::new(sx / n, sy / n)
}

fn extent(p: &Polygon) -> (f64, f64) {
    let (lo, hi) = p.bounds();
    (hi.x - lo.x, hi.y - lo.y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ride_point_is_on_the_stop_line_level_with_the_car_centre() {
        let car = Polygon::rect(0.0, 0.0, 2.6, 2.8);
        let p = ride_point(&car, Pose::new(4.0, 1.0, std::f64::consts::PI)).unwrap();
        assert!(
            (p.x - 1.3).abs() < 1e-12 && (p.y - 1.0).abs() < 1e-12,
            "{p:?}"
        );
        // Facing away from the car, or beside it: refused.
        assert!(ride_point(&car, Pose::new(4.0, 1.0, 0.0)).is_err());
        assert!(ride_point(&car, Pose::new(4.0, 5.0, std::f64::consts::PI)).is_err());
    }

    #[test]
    fn a_car_fits_the_robot_only_if_it_is_large_enough() {
        let robot = RobotModel::default();
        let car = Polygon::rect(0.0, 0.0, 2.6, 2.8);
        let at = Pose::new(1.3, 1.4, std::f64::consts::PI);
        assert!(fits_in_car(&car, &robot, at, 0.05));
        // Turning needs a circle of radius 0.894 + 0.05 m: fits in 2.6 x 2.8 m.
        assert!(turn_fits(
            &car,
            &robot,
            at.point(),
            at.yaw_rad,
            std::f64::consts::PI
        ));
        // A bed lift 1.5 m wide and 2.7 m deep takes the robot but not its turn.
        let narrow = Polygon::rect(0.0, 0.0, 2.7, 1.5);
        let at = Pose::new(1.35, 0.75, std::f64::consts::PI);
        assert!(fits_in_car(&narrow, &robot, at, 0.05));
        assert!(!turn_fits(
            &narrow,
            &robot,
            at.point(),
            at.yaw_rad,
            std::f64::consts::PI
        ));
        // Too short for the robot at all.
        let short = Polygon::rect(0.0, 0.0, 1.6, 1.5);
        assert!(!fits_in_car(
            &short,
            &robot,
            Pose::new(0.8, 0.75, 0.0),
            0.05
        ));
    }
}
