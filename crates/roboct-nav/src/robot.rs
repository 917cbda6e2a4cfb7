//! The robot: footprint, differential-drive limits, mass, energy model and battery.

use serde::{Deserialize, Serialize};

use crate::error::OptionError;
use crate::geom::{Point, Polygon};

/// Standard gravity, m/s^2.
pub const G_MPS2: f64 = 9.806_65;

/// Velocity and acceleration limits of the differential drive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriveLimits {
    /// Top forward speed, m/s (where no speed zone says less).
    pub max_speed_mps: f64,
    /// Forward acceleration, m/s^2.
    pub max_accel_mps2: f64,
    /// Braking deceleration the controller plans with, m/s^2.
    pub max_decel_mps2: f64,
    /// Top turning rate, rad/s.
    pub max_yaw_rate_rps: f64,
    /// Turning acceleration, rad/s^2.
    pub max_yaw_accel_rps2: f64,
}

/// Power and losses that turn a route into joules.
///
/// Mechanical power at the wheels is rolling resistance `c_rr m g v` plus the power to
/// accelerate `m a v`; the battery supplies that divided by the drivetrain efficiency, plus the
/// electronics' constant draw. Braking energy is not recovered (no regeneration), turning in
/// place scrubs the wheels sideways (modelled as rolling resistance over the wheels' arc times
/// `turn_scrub_factor`), and the building lifts the robot in elevators, so climbing costs the
/// battery only the electronics' draw while waiting and riding.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergyModel {
    /// Rolling-resistance coefficient (0.01-0.02 for polyurethane wheels on hospital floors).
    pub rolling_resistance: f64,
    /// Battery-to-wheel efficiency of motors, gears and controllers.
    pub drivetrain_efficiency: f64,
    /// Electronics (computers, lidars, CT standby), watts, drawn all the time.
    pub idle_power_w: f64,
    /// Distance between the drive wheels, metres.
    pub track_width_m: f64,
    /// Extra resistance of wheels scrubbing while turning in place, times rolling resistance.
    pub turn_scrub_factor: f64,
}

impl EnergyModel {
    /// Battery power while rolling at constant speed `v`, watts.
    pub fn cruise_power_w(&self, mass_kg: f64, v_mps: f64) -> f64 {
        self.idle_power_w
            + self.rolling_resistance * mass_kg * G_MPS2 * v_mps / self.drivetrain_efficiency
    }

    /// Battery energy to drive `d` metres at constant speed (rolling only), joules.
    pub fn rolling_j(&self, mass_kg: f64, d_m: f64) -> f64 {
        self.rolling_resistance * mass_kg * G_MPS2 * d_m / self.drivetrain_efficiency
    }

    /// Battery energy to bring the mass from rest to `v`, joules (braking is not recovered).
    pub fn accelerate_j(&self, mass_kg: f64, v_mps: f64) -> f64 {
        0.5 * mass_kg * v_mps * v_mps / self.drivetrain_efficiency
    }

    /// Battery energy to turn in place by `angle_rad`, joules.
    pub fn turn_j(&self, mass_kg: f64, angle_rad: f64) -> f64 {
        let wheel_arc_m = self.track_width_m / 2.0 * angle_rad.abs();
        self.turn_scrub_factor * self.rolling_j(mass_kg, wheel_arc_m)
    }

    /// Battery power for an instantaneous motion state, watts: forward speed `v`, acceleration
    /// `a` and turning rate `w`. Used by the simulated controller.
    pub fn power_w(&self, mass_kg: f64, v_mps: f64, a_mps2: f64, w_rps: f64) -> f64 {
        let roll = self.rolling_resistance * mass_kg * G_MPS2;
        let wheel_speed =
            v_mps.abs() + (self.track_width_m / 2.0 * w_rps).abs() * self.turn_scrub_factor;
        let traction = roll * wheel_speed + (mass_kg * a_mps2 * v_mps).max(0.0);
        self.idle_power_w + traction / self.drivetrain_efficiency
    }
}

/// The battery: capacity, charge and the reserve a route must leave.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Battery {
    /// Usable capacity, joules.
    pub capacity_j: f64,
    /// State of charge, 0..=1.
    pub state_of_charge: f64,
    /// State of charge that must remain after any route, 0..=1.
    pub reserve: f64,
}

impl Battery {
    /// Joules above the reserve.
    pub fn available_j(&self) -> f64 {
        ((self.state_of_charge - self.reserve) * self.capacity_j).max(0.0)
    }

    /// State of charge after spending `energy_j`.
    pub fn after(&self, energy_j: f64) -> f64 {
        (self.state_of_charge - energy_j / self.capacity_j).max(0.0)
    }
}

/// The robot as navigation sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RobotModel {
    /// Outline in the robot frame (x forward, y left, origin at the turning centre); convex.
    pub footprint: Polygon,
    /// Clearance kept from every obstacle, metres.
    pub safety_margin_m: f64,
    /// Mass, kilograms.
    pub mass_kg: f64,
    /// Drive limits.
    pub limits: DriveLimits,
    /// Energy model.
    pub energy: EnergyModel,
    /// Battery.
    pub battery: Battery,
}

impl Default for RobotModel {
    /// The roboct scanner: 1.6 m long, 0.8 m wide, 260 kg, 0.8 m/s, a 48 V 60 Ah battery.
    fn default() -> Self {
        Self {
            footprint: Polygon::rect(-0.8, -0.4, 0.8, 0.4),
            safety_margin_m: 0.05,
            mass_kg: 260.0,
            limits: DriveLimits {
                max_speed_mps: 0.8,
                max_accel_mps2: 0.4,
                max_decel_mps2: 0.5,
                max_yaw_rate_rps: 0.6,
                max_yaw_accel_rps2: 0.8,
            },
            energy: EnergyModel {
                rolling_resistance: 0.015,
                drivetrain_efficiency: 0.8,
                idle_power_w: 150.0,
                track_width_m: 0.6,
                turn_scrub_factor: 3.0,
            },
            battery: Battery {
                capacity_j: 48.0 * 60.0 * 3600.0,
                state_of_charge: 1.0,
                reserve: 0.15,
            },
        }
    }
}

impl RobotModel {
    /// Checks every value of the model; `Err` names the first field out of range (as
    /// `limits.max_speed_mps`, `energy.rolling_resistance`, `battery.reserve`), the range
    /// expected and the value found.
    ///
    /// # Errors
    /// [`OptionError`] naming the field, what was expected and what was given.
    pub fn validate(&self) -> Result<(), OptionError> {
        self.check_footprint()?;
        let (l, e, b) = (&self.limits, &self.energy, &self.battery);
        let ranges: [(&str, f64, Range); 15] = [
            ("mass_kg", self.mass_kg, Range::POSITIVE),
            ("safety_margin_m", self.safety_margin_m, Range::NON_NEGATIVE),
            ("limits.max_speed_mps", l.max_speed_mps, Range::POSITIVE),
            ("limits.max_accel_mps2", l.max_accel_mps2, Range::POSITIVE),
            ("limits.max_decel_mps2", l.max_decel_mps2, Range::POSITIVE),
            (
                "limits.max_yaw_rate_rps",
                l.max_yaw_rate_rps,
                Range::POSITIVE,
            ),
            (
                "limits.max_yaw_accel_rps2",
                l.max_yaw_accel_rps2,
                Range::POSITIVE,
            ),
            (
                "energy.rolling_resistance",
                e.rolling_resistance,
                Range::BELOW_ONE,
            ),
            (
                "energy.drivetrain_efficiency",
                e.drivetrain_efficiency,
                Range::UP_TO_ONE,
            ),
            ("energy.idle_power_w", e.idle_power_w, Range::NON_NEGATIVE),
            ("energy.track_width_m", e.track_width_m, Range::POSITIVE),
            (
                "energy.turn_scrub_factor",
                e.turn_scrub_factor,
                Range::NON_NEGATIVE,
            ),
            ("battery.capacity_j", b.capacity_j, Range::POSITIVE),
            ("battery.state_of_charge", b.state_of_charge, Range::UNIT),
            ("battery.reserve", b.reserve, Range::BELOW_ONE),
        ];
        for (field, v, range) in ranges {
            range.check(field, v)?;
        }
        Ok(())
    }

    /// The footprint: finite, convex with a non-zero area, around the turning centre.
    fn check_footprint(&self) -> Result<(), OptionError> {
        if self
            .footprint
            .vertices
            .iter()
            .any(|v| !(v.x.is_finite() && v.y.is_finite()))
        {
            return Err(OptionError::Footprint(
                "vertices must be finite numbers of metres",
            ));
        }
        if !self.footprint.is_convex() {
            return Err(OptionError::Footprint(
                "must be a convex polygon with a non-zero area",
            ));
        }
        if !self.footprint.contains(Point::new(0.0, 0.0)) {
            return Err(OptionError::Footprint(
                "must contain the turning centre (0, 0)",
            ));
        }
        Ok(())
    }

    /// Distance from the turning centre to the nearest footprint edge, metres.
    pub fn inscribed_radius_m(&self) -> f64 {
        self.footprint.boundary_distance(Point::new(0.0, 0.0))
    }

    /// Distance from the turning centre to the farthest footprint vertex, metres.
    pub fn circumscribed_radius_m(&self) -> f64 {
        self.footprint
            .vertices
            .iter()
            .map(|v| v.dist(Point::new(0.0, 0.0)))
            .fold(0.0, f64::max)
    }

    /// How far the footprint reaches ahead of the turning centre, metres.
    pub fn front_m(&self) -> f64 {
        self.footprint
            .vertices
            .iter()
            .map(|v| v.x)
            .fold(0.0, f64::max)
    }

    /// Braking distance from speed `v`, metres.
    pub fn braking_distance_m(&self, v_mps: f64) -> f64 {
        v_mps * v_mps / (2.0 * self.limits.max_decel_mps2)
    }

    /// Time and distance of a straight move of `d` metres from rest to rest at top speed `v`,
    /// with the acceleration limits (a trapezoidal profile, triangular when too short).
    pub fn straight_move(&self, d_m: f64, v_mps: f64) -> StraightMove {
        let (a, b) = (self.limits.max_accel_mps2, self.limits.max_decel_mps2);
        let ramp_m = v_mps * v_mps / (2.0 * a) + v_mps * v_mps / (2.0 * b);
        if d_m >= ramp_m {
            StraightMove {
                time_s: v_mps / a + v_mps / b + (d_m - ramp_m) / v_mps,
                peak_speed_mps: v_mps,
            }
        } else {
            // Triangular: v^2 (1/2a + 1/2b) = d.
            let vp = (d_m / (1.0 / (2.0 * a) + 1.0 / (2.0 * b))).sqrt();
            StraightMove {
                time_s: vp / a + vp / b,
                peak_speed_mps: vp,
            }
        }
    }

    /// Time to turn in place by `angle_rad` from rest to rest, seconds.
    pub fn turn_time_s(&self, angle_rad: f64) -> f64 {
        let (w, a) = (self.limits.max_yaw_rate_rps, self.limits.max_yaw_accel_rps2);
        let angle = angle_rad.abs();
        if angle >= w * w / a {
            angle / w + w / a
        } else {
            2.0 * (angle / a).sqrt()
        }
    }
}

/// A rest-to-rest straight move.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StraightMove {
    /// Duration, seconds.
    pub time_s: f64,
    /// Highest speed reached, m/s.
    pub peak_speed_mps: f64,
}

/// The allowed range of a model value: the lowest and highest, each included or not.
#[derive(Clone, Copy, Debug)]
struct Range {
    lo: f64,
    lo_in: bool,
    hi: f64,
    hi_in: bool,
}

impl Range {
    /// Above 0.
    const POSITIVE: Self = Self::new(0.0, false, f64::INFINITY, false);
    /// 0 or above.
    const NON_NEGATIVE: Self = Self::new(0.0, true, f64::INFINITY, false);
    /// In [0, 1).
    const BELOW_ONE: Self = Self::new(0.0, true, 1.0, false);
    /// In (0, 1].
    const UP_TO_ONE: Self = Self::new(0.0, false, 1.0, true);
    /// In [0, 1].
    const UNIT: Self = Self::new(0.0, true, 1.0, true);

    const fn new(lo: f64, lo_in: bool, hi: f64, hi_in: bool) -> Self {
        Self {
            lo,
            lo_in,
            hi,
            hi_in,
        }
    }

    /// `Err` naming `field` if `v` is not finite or not in the range.
    fn check(self, field: &str, v: f64) -> Result<(), OptionError> {
        let Self {
            lo,
            lo_in,
            hi,
            hi_in,
        } = self;
        let above = if lo_in { v >= lo } else { v > lo };
        let below = if hi_in { v <= hi } else { v < hi };
        if v.is_finite() && above && below {
            return Ok(());
        }
        let expected = match (hi.is_finite(), lo_in, hi_in) {
            (false, true, _) => format!("a finite number >= {lo}"),
            (false, false, _) => format!("a finite number > {lo}"),
            (true, li, hi_in) => format!(
                "in {}{lo}, {hi}{}",
                if li { "[" } else { "(" },
                if hi_in { "]" } else { ")" }
            ),
        };
        Err(OptionError::out_of_range(
            field,
            expected,
            crate::fmt_num(v),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_robot_is_the_scanner() {
        let r = RobotModel::default();
        r.validate().unwrap();
        assert!((r.inscribed_radius_m() - 0.4).abs() < 1e-12);
        assert!((r.circumscribed_radius_m() - 0.8f64.hypot(0.4)).abs() < 1e-12);
        assert!((r.footprint.area() - 1.28).abs() < 1e-12);
        assert_eq!(r.mass_kg, 260.0);
    }

    #[test]
    fn trapezoid_profile_matches_kinematics() {
        let r = RobotModel::default();
        // 10 m at 0.8 m/s with a = 0.4, b = 0.5: ramps 2 s + 1.6 s over 0.8 + 0.64 m.
        let m = r.straight_move(10.0, 0.8);
        let expected = 2.0 + 1.6 + (10.0 - 1.44) / 0.8;
        assert!((m.time_s - expected).abs() < 1e-12, "{m:?}");
        // A short move never reaches top speed and is continuous at the switch-over.
        let short = r.straight_move(1.44 - 1e-9, 0.8);
        assert!((short.time_s - 3.6).abs() < 1e-6);
        assert!(short.peak_speed_mps < 0.8 + 1e-9);
    }

    #[test]
    fn rolling_energy_is_force_times_distance_over_efficiency() {
        let e = RobotModel::default().energy;
        // 0.015 * 260 kg * 9.80665 = 38.246 N over 100 m at 80 %.
        let j = e.rolling_j(260.0, 100.0);
        assert!((j - 0.015 * 260.0 * G_MPS2 * 100.0 / 0.8).abs() < 1e-9);
        assert!((j - 4780.7).abs() < 0.1, "{j}");
        assert!(e.power_w(260.0, 0.0, 0.0, 0.0) == e.idle_power_w);
    }

    #[test]
    fn invalid_models_are_named() {
        let mut r = RobotModel::default();
        r.limits.max_speed_mps = 0.0;
        assert!(
            r.validate()
                .unwrap_err()
                .to_string()
                .contains("max_speed_mps")
        );
        // Every field, one bad value at a time: the error names that field.
        type Set = fn(&mut RobotModel);
        let cases: [(&str, Set); 17] = [
            ("mass_kg", |r| r.mass_kg = -1.0),
            ("safety_margin_m", |r| r.safety_margin_m = f64::NAN),
            ("limits.max_speed_mps", |r| {
                r.limits.max_speed_mps = f64::INFINITY
            }),
            ("limits.max_accel_mps2", |r| r.limits.max_accel_mps2 = 0.0),
            ("limits.max_decel_mps2", |r| r.limits.max_decel_mps2 = -0.5),
            ("limits.max_yaw_rate_rps", |r| {
                r.limits.max_yaw_rate_rps = 0.0
            }),
            ("limits.max_yaw_accel_rps2", |r| {
                r.limits.max_yaw_accel_rps2 = f64::NAN
            }),
            ("energy.rolling_resistance", |r| {
                r.energy.rolling_resistance = -0.01
            }),
            ("energy.rolling_resistance", |r| {
                r.energy.rolling_resistance = 1.5
            }),
            ("energy.drivetrain_efficiency", |r| {
                r.energy.drivetrain_efficiency = 1.2
            }),
            ("energy.idle_power_w", |r| r.energy.idle_power_w = -150.0),
            ("energy.idle_power_w", |r| r.energy.idle_power_w = f64::NAN),
            ("energy.track_width_m", |r| r.energy.track_width_m = 0.0),
            ("energy.turn_scrub_factor", |r| {
                r.energy.turn_scrub_factor = -3.0
            }),
            ("battery.capacity_j", |r| r.battery.capacity_j = 0.0),
            ("battery.state_of_charge", |r| {
                r.battery.state_of_charge = 1.5
            }),
            ("battery.reserve", |r| r.battery.reserve = 1.0),
        ];
        for (field, set) in cases {
            let mut r = RobotModel::default();
            set(&mut r);
            let e = r.validate().unwrap_err().to_string();
            assert!(e.starts_with(field), "{field}: {e}");
        }
        // Limits are inclusive where they should be.
        let mut r = RobotModel::default();
        r.energy.rolling_resistance = 0.0;
        r.energy.idle_power_w = 0.0;
        r.battery.reserve = 0.0;
        r.battery.state_of_charge = 1.0;
        r.safety_margin_m = 0.0;
        r.validate().unwrap();
        let mut r = RobotModel::default();
        r.battery.reserve = -0.1;
        assert!(r.validate().unwrap_err().to_string().contains("in [0, 1)"));
        let r = RobotModel {
            footprint: Polygon::rect(0.1, 0.1, 1.0, 1.0),
            ..Default::default()
        };
        assert!(
            r.validate()
                .unwrap_err()
                .to_string()
                .contains("turning centre")
        );
    }
}
