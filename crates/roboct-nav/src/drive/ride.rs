//! Elevator rides on the simulated base: scripted moves (straight in, a turn in the car,
//! straight out, each pose checked against the car and the floor) and the waits for the car
//! and its doors, as [`crate::elevator`] plans them.

use crate::elevator::{self, Ride};
use crate::geom::{Point, Pose, wrap_angle};
use crate::plan::{Navigator, footprint_at};
use crate::robot::RobotModel;

use super::base::Sim;
use super::{DriveStatus, EventKind};

impl Sim {
    /// Drives straight from `a` to `b` facing `facing` (forwards when that is the direction
    /// of travel, else reversing), from rest to rest at up to `v_max`, each step checked with
    /// `clear` and against visible obstacles (a blocked step waits).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn straight(
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
    pub(super) fn turn(
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
    pub(super) fn ride_elevator(
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
}
