//! The estimate: the expected time and energy of driving a path, the way the simulated
//! controller of [`crate::drive`] drives it.

use crate::costmap::Costmap;
use crate::geom::{Point, Pose, wrap_angle};
use crate::robot::RobotModel;

use super::{Estimate, Navigator, footprint_at};

impl Navigator {
    /// Expected time and energy of driving `points` on `floor` the way the simulated
    /// controller ([`crate::drive`]) drives them: a velocity profile along the path under the
    /// speed zones and the slow-down near obstacles ([`speed_limit_at`]), with the acceleration
    /// and braking limits; a stop and a turn in place at the start (from `start_heading`), at
    /// every corner sharper than [`PlannerOptions::stop_turn_rad`](super::PlannerOptions::stop_turn_rad) and at the end (to
    /// `final_heading`), each turn timed from the turning limits; and at each door the robot
    /// passes through, the request [`DriveOptions::door_request_m`](crate::drive::DriveOptions::door_request_m) ahead of it and, if the
    /// door is not open by the time the robot would have to brake for it, a stop
    /// [`DriveOptions::stop_gap_m`](crate::drive::DriveOptions::stop_gap_m) short of it and the wait until it opens. Energy: the
    /// electronics over the whole time, rolling resistance over the length, every rise in
    /// speed (braking is not recovered) and the wheel scrub of the turns.
    pub fn estimate(
        &self,
        floor: i32,
        points: &[Point],
        start_heading: Option<f64>,
        final_heading: f64,
    ) -> Estimate {
        let Some(cm) = self.costmap(floor) else {
            return Estimate::default();
        };
        let robot = &self.robot;
        let stop_turn = self.options.stop_turn_rad;
        let samples = Samples::along(cm, robot, points, start_heading, final_heading, stop_turn);
        let nb = samples.cap.len();
        let length_m = samples.s_at[nb - 1];
        let crossings = self.door_crossings(cm, floor, &samples.at, &samples.s_at);
        let (v, wait) = samples.door_stops(robot, &crossings);
        let t = samples.arrivals(robot, &v, &wait);
        let time_s = t[nb - 1] + robot.turn_time_s(samples.turn_at[nb - 1]) + wait[nb - 1];
        let (e, m) = (&robot.energy, robot.mass_kg);
        let mut energy_j = e.rolling_j(m, length_m) + e.idle_power_w * time_s;
        for i in 0..nb - 1 {
            if v[i + 1] > v[i] {
                energy_j += e.accelerate_j(m, v[i + 1]) - e.accelerate_j(m, v[i]);
            }
        }
        energy_j += samples.turn_at.iter().map(|&a| e.turn_j(m, a)).sum::<f64>();
        Estimate {
            length_m,
            time_s,
            energy_j,
        }
    }

    /// The doors a path passes through (its centre enters the door's area), in order: where
    /// the controller asks each to open ([`DriveOptions::door_request_m`](crate::drive::DriveOptions::door_request_m) before the centre
    /// reaches it), where it would stop for it while closed ([`DriveOptions::stop_gap_m`](crate::drive::DriveOptions::stop_gap_m) and
    /// the sampling of its look-ahead short of where the footprint would first touch it), and
    /// how long the door takes to open.
    fn door_crossings(&self, cm: &Costmap, floor: i32, at: &[Pose], s_at: &[f64]) -> Vec<Crossing> {
        let o = self.options.drive;
        let reach = cm.circumscribed_m;
        let mut out = Vec::new();
        for d in self.site.doors.iter().filter(|d| d.floor == floor) {
            let (lo, hi) = d.area.bounds();
            let near = |p: Pose| {
                p.x >= lo.x - reach
                    && p.x <= hi.x + reach
                    && p.y >= lo.y - reach
                    && p.y <= hi.y + reach
            };
            let Some(j_in) = at
                .iter()
                .position(|&p| near(p) && d.area.contains(p.point()))
            else {
                continue;
            };
            let j_fp = at[..=j_in]
                .iter()
                .position(|&p| {
                    near(p) && crate::drive::convex_overlap(&d.area, &footprint_at(&self.robot, p))
                })
                .unwrap_or(j_in);
            out.push(Crossing {
                s_request: (s_at[j_in] - o.door_request_m).max(0.0),
                s_stop: (s_at[j_fp] - o.stop_gap_m - 0.05).max(0.0),
                delay_s: d.expected_wait_s(),
            });
        }
        out.sort_by(|a, b| a.s_stop.total_cmp(&b.s_stop));
        out
    }
}

/// A path cut into samples a cell long, as the estimate times it: the boundaries between
/// samples with the position, heading, distance along the path, the speed cap there (0 where
/// the robot stops) and the turn in place there; each sample between two boundaries has the
/// controller's speed limit at its middle.
struct Samples {
    /// Pose at each boundary (the first one's heading is along the first segment).
    at: Vec<Pose>,
    /// Distance along the path at each boundary, metres.
    s_at: Vec<f64>,
    /// Speed cap at each boundary: 0 where the robot stops, else infinite.
    cap: Vec<f64>,
    /// Turn in place at each boundary, radians.
    turn_at: Vec<f64>,
    /// Length of each sample, metres.
    step: Vec<f64>,
    /// The controller's speed limit at the middle of each sample, m/s.
    vmax: Vec<f64>,
}

impl Samples {
    /// `points` cut into samples on `cm`: a stop and a turn at the start (from
    /// `start_heading`), at every corner sharper than `stop_turn` and at the end (to
    /// `final_heading`).
    fn along(
        cm: &Costmap,
        robot: &RobotModel,
        points: &[Point],
        start_heading: Option<f64>,
        final_heading: f64,
        stop_turn: f64,
    ) -> Self {
        let mut out = Self {
            at: Vec::new(),
            s_at: vec![0.0f64],
            cap: vec![0.0f64],
            turn_at: vec![0.0f64],
            step: Vec::new(),
            vmax: Vec::new(),
        };
        let mut heading = start_heading;
        let ds = cm.resolution_m;
        let mut first = true;
        for w in points.windows(2) {
            let len = w[0].dist(w[1]);
            if len < 1e-9 {
                continue;
            }
            let h = w[0].heading_to(w[1]);
            let turn = heading.map_or(0.0, |p| wrap_angle(h - p).abs());
            let j = out.cap.len() - 1;
            if first || turn > stop_turn {
                out.cap[j] = 0.0;
                out.turn_at[j] += turn;
            }
            if first {
                out.at.push(Pose::new(w[0].x, w[0].y, h));
            }
            first = false;
            heading = Some(h);
            let n = (len / ds).ceil().max(1.0) as usize;
            for i in 0..n {
                let mid = w[0].lerp(w[1], (i as f64 + 0.5) / n as f64);
                let end = w[0].lerp(w[1], (i + 1) as f64 / n as f64);
                out.vmax.push(speed_limit_at(cm, mid, robot));
                out.step.push(len / n as f64);
                out.s_at.push(out.s_at[out.s_at.len() - 1] + len / n as f64);
                out.at.push(Pose::new(end.x, end.y, h));
                out.cap.push(f64::INFINITY);
                out.turn_at.push(0.0);
            }
        }
        let nb = out.cap.len();
        out.cap[nb - 1] = 0.0;
        if let Some(h) = heading {
            out.turn_at[nb - 1] += wrap_angle(final_heading - h).abs();
        }
        out
    }

    /// Speeds at the boundaries under the caps `cap`: forward for acceleration, backward for
    /// braking.
    fn speeds(&self, robot: &RobotModel, cap: &[f64]) -> Vec<f64> {
        let (acc, dec) = (robot.limits.max_accel_mps2, robot.limits.max_decel_mps2);
        let (nb, vmax, step) = (self.cap.len(), &self.vmax, &self.step);
        let mut v = vec![0.0f64; nb];
        for i in 0..nb - 1 {
            let next_limit = vmax.get(i + 1).copied().unwrap_or(f64::INFINITY);
            v[i + 1] = (v[i] * v[i] + 2.0 * acc * step[i])
                .sqrt()
                .min(vmax[i])
                .min(next_limit)
                .min(cap[i + 1]);
        }
        for i in (0..nb - 1).rev() {
            v[i] = v[i].min((v[i + 1] * v[i + 1] + 2.0 * dec * step[i]).sqrt());
        }
        v
    }

    /// Arrival time at each boundary, before its turn and any wait, at speeds `v` and with
    /// the waits `wait`.
    fn arrivals(&self, robot: &RobotModel, v: &[f64], wait: &[f64]) -> Vec<f64> {
        let nb = self.cap.len();
        let mut t = vec![0.0f64; nb];
        for i in 0..nb - 1 {
            let dt = if v[i] + v[i + 1] > 1e-9 {
                2.0 * self.step[i] / (v[i] + v[i + 1])
            } else {
                robot.straight_move(self.step[i], self.vmax[i]).time_s
            };
            t[i + 1] = t[i] + robot.turn_time_s(self.turn_at[i]) + wait[i] + dt;
        }
        t
    }

    /// The boundary at distance `s` along the path.
    fn index_at(&self, s: f64) -> usize {
        self.s_at
            .partition_point(|&x| x < s - 1e-9)
            .min(self.cap.len() - 1)
    }

    /// The speeds and the waits at the boundaries with the doors: a door that would still be
    /// closed when the robot has to brake for it stops the robot short of it until it opens.
    fn door_stops(&self, robot: &RobotModel, crossings: &[Crossing]) -> (Vec<f64>, Vec<f64>) {
        let nb = self.cap.len();
        let no_wait = vec![0.0f64; nb];
        let v1 = self.speeds(robot, &self.cap);
        let t1 = self.arrivals(robot, &v1, &no_wait);
        let mut cap2 = self.cap.clone();
        let mut stops: Vec<(usize, usize, f64)> = Vec::new();
        for c in crossings {
            let (j_req, j_stop) = (self.index_at(c.s_request), self.index_at(c.s_stop));
            let brake_from = c.s_stop - robot.braking_distance_m(v1[j_stop]);
            if t1[j_req] + c.delay_s > t1[self.index_at(brake_from.max(0.0))] {
                cap2[j_stop] = 0.0;
                stops.push((j_req, j_stop, c.delay_s));
            }
        }
        let v = self.speeds(robot, &cap2);
        let mut wait = vec![0.0f64; nb];
        stops.sort_by_key(|s| s.1);
        for &(j_req, j_stop, delay) in &stops {
            let t = self.arrivals(robot, &v, &wait);
            wait[j_stop] += (t[j_req] + delay - t[j_stop]).max(0.0);
        }
        (v, wait)
    }
}

/// A door on a path, as the estimate sees it.
struct Crossing {
    /// Distance along the path where the controller asks it to open, metres.
    s_request: f64,
    /// Where the robot stops if it is still closed, metres.
    s_stop: f64,
    /// Seconds it takes to open once asked.
    delay_s: f64,
}

/// The speed the controller allows at `p`: the speed zone's limit, lowered near obstacles
/// (regulated pure pursuit's proximity scaling): full speed with 0.5 m to spare beyond the
/// circumscribed radius, a third of it at the inscribed radius.
pub fn speed_limit_at(cm: &Costmap, p: Point, robot: &RobotModel) -> f64 {
    let Some((cx, cy)) = cm.cell_of(p) else {
        return 0.0;
    };
    let i = cy * cm.width + cx;
    let zone = cm.speed_at(i).min(robot.limits.max_speed_mps);
    let d = f64::from(cm.distance_m[i]) - cm.resolution_m / 2.0;
    let (lo, hi) = (cm.inscribed_m, cm.circumscribed_m + 0.5);
    let f = ((d - lo) / (hi - lo)).clamp(0.0, 1.0);
    zone * (1.0 / 3.0 + 2.0 / 3.0 * f)
}
