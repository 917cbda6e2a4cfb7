//! The gantry as the robot carries it: its bore, its axes and their travel limits, and the
//! kinematics between a gantry pose and the scanner frame.
//!
//! The gantry rides on the robot. Its axes are a carriage that slides along the robot's
//! forward axis over the bed (`along_mm`, from the park position), a small lateral slide
//! (`lateral_mm`, positive to the robot's left), a lift that sets the isocentre's height above
//! the floor (`height_mm`) and a small yaw of the bore axis about the vertical through the
//! isocentre (`yaw_rad`, counter-clockwise seen from above). The robot arrives at the foot of
//! the bed facing its head end (`roboct_nav::site::Bed::approach`), so the bore axis points
//! from the foot to the head: with the patient supine and head first this makes the scanner
//! frame the DICOM patient frame LPS (`roboct_geometry::conventions`): +x the patient's left,
//! which is the robot's right; +y posterior, which is down; +z towards the head.

use roboct_geometry::vec3::Vec3;

use crate::PositioningError;

/// The gantry as built: bore and travel limits.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GantrySpec {
    /// Diameter of the bore, mm.
    pub bore_diameter_mm: f64,
    /// Room kept between the patient's outline and the bore all round, mm.
    pub clearance_mm: f64,
    /// Forward distance of the isocentre from the robot's centre with the carriage parked
    /// (`along_mm` = 0), mm.
    pub park_forward_mm: f64,
    /// Carriage travel along the robot's forward axis, `[min, max]` mm.
    pub along_mm: [f64; 2],
    /// Lateral slide either way, mm.
    pub lateral_mm: f64,
    /// Height of the isocentre above the floor, `[min, max]` mm.
    pub height_mm: [f64; 2],
    /// Yaw of the bore axis either way, degrees.
    pub yaw_deg: f64,
}

impl GantrySpec {
    /// roboct's gantry: a 500 mm bore (the widest simulated chest, 380 mm, fits with 20 mm
    /// all round), a carriage that reaches 2.6 m over the bed from the isocentre's park
    /// position 0.9 m ahead of the robot's centre (the robot stops 0.3 m beyond the foot of a
    /// 2.1 m bed: a head lies about 2.2 m ahead of the parked isocentre), 150 mm of lateral
    /// slide, isocentre heights 0.5 to 1.15 m (bed tops 0.4 to 1.0 m) and 5 degrees of yaw.
    pub fn mobile() -> Self {
        Self {
            bore_diameter_mm: 500.0,
            clearance_mm: 20.0,
            park_forward_mm: 900.0,
            along_mm: [0.0, 2600.0],
            lateral_mm: 150.0,
            height_mm: [500.0, 1150.0],
            yaw_deg: 5.0,
        }
    }

    /// The widest outline that fits, mm: the bore less the clearance on both sides.
    pub fn usable_diameter_mm(&self) -> f64 {
        self.bore_diameter_mm - 2.0 * self.clearance_mm
    }

    /// Checks the build; the error names the field.
    pub fn validate(&self) -> Result<(), PositioningError> {
        let bad = |field: &'static str, message: String| {
            Err(PositioningError::Invalid { field, message })
        };
        if !(self.bore_diameter_mm > 0.0 && self.bore_diameter_mm < 2000.0) {
            return bad(
                "gantry.bore_diameter_mm",
                format!("{}; expected 0 to 2000 mm", self.bore_diameter_mm),
            );
        }
        if !(self.clearance_mm >= 0.0 && 2.0 * self.clearance_mm < self.bore_diameter_mm) {
            return bad(
                "gantry.clearance_mm",
                format!(
                    "{}; expected 0 to half the bore ({} mm)",
                    self.clearance_mm,
                    self.bore_diameter_mm / 2.0
                ),
            );
        }
        let range = |r: [f64; 2]| r[0].is_finite() && r[1].is_finite() && r[0] < r[1];
        if !range(self.along_mm) {
            return bad(
                "gantry.along_mm",
                format!("{:?}; expected [min, max] with min < max", self.along_mm),
            );
        }
        if !range(self.height_mm) {
            return bad(
                "gantry.height_mm",
                format!("{:?}; expected [min, max] with min < max", self.height_mm),
            );
        }
        if !(self.lateral_mm >= 0.0 && self.lateral_mm.is_finite()) {
            return bad(
                "gantry.lateral_mm",
                format!("{}; expected a travel >= 0 mm", self.lateral_mm),
            );
        }
        if !(self.yaw_deg >= 0.0 && self.yaw_deg < 45.0) {
            return bad(
                "gantry.yaw_deg",
                format!("{}; expected 0 to 45 degrees", self.yaw_deg),
            );
        }
        if !self.park_forward_mm.is_finite() {
            return bad(
                "gantry.park_forward_mm",
                format!("{}; expected a distance in mm", self.park_forward_mm),
            );
        }
        Ok(())
    }

    /// The first axis of `pose` outside its travel, if any.
    pub fn reach(&self, pose: &GantryPose) -> Result<(), Reach> {
        let out = |axis: GantryAxis, value: f64, limits: [f64; 2]| Reach {
            axis,
            value,
            limits,
        };
        let within = |v: f64, r: [f64; 2]| v >= r[0] - 1e-6 && v <= r[1] + 1e-6;
        if !within(pose.along_mm, self.along_mm) {
            return Err(out(GantryAxis::Along, pose.along_mm, self.along_mm));
        }
        let lat = [-self.lateral_mm, self.lateral_mm];
        if !within(pose.lateral_mm, lat) {
            return Err(out(GantryAxis::Lateral, pose.lateral_mm, lat));
        }
        if !within(pose.height_mm, self.height_mm) {
            return Err(out(GantryAxis::Height, pose.height_mm, self.height_mm));
        }
        let yaw = [-self.yaw_deg, self.yaw_deg];
        if !within(pose.yaw_rad.to_degrees(), yaw) {
            return Err(out(GantryAxis::Yaw, pose.yaw_rad.to_degrees(), yaw));
        }
        Ok(())
    }

    /// Where the gantry rests while the robot drives.
    pub fn park(&self) -> GantryPose {
        GantryPose {
            along_mm: self.along_mm[0],
            lateral_mm: 0.0,
            height_mm: self.height_mm[0].max(self.height_mm[1].min(800.0)),
            yaw_rad: 0.0,
        }
    }
}

/// One of the gantry's axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GantryAxis {
    /// The carriage along the bed.
    Along,
    /// The lateral slide.
    Lateral,
    /// The lift.
    Height,
    /// The bore's yaw.
    Yaw,
}

impl GantryAxis {
    /// The axis as people say it.
    pub fn name(self) -> &'static str {
        match self {
            GantryAxis::Along => "travel along the bed",
            GantryAxis::Lateral => "lateral slide",
            GantryAxis::Height => "isocentre height",
            GantryAxis::Yaw => "yaw",
        }
    }

    /// The unit of [`Reach::value`] for this axis.
    pub fn unit(self) -> &'static str {
        match self {
            GantryAxis::Yaw => "deg",
            _ => "mm",
        }
    }
}

/// A pose outside the gantry's travel: which axis, the value asked, the limits.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reach {
    /// The axis.
    pub axis: GantryAxis,
    /// The value asked (mm, or degrees for yaw).
    pub value: f64,
    /// The axis' limits (mm, or degrees for yaw).
    pub limits: [f64; 2],
}

impl std::fmt::Display for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:.0} {} is outside its travel [{:.0}, {:.0}] {}",
            self.axis.name(),
            self.value,
            self.axis.unit(),
            self.limits[0],
            self.limits[1],
            self.axis.unit()
        )
    }
}

/// The gantry's axes.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GantryPose {
    /// Carriage travel along the robot's forward axis from the park position, mm.
    pub along_mm: f64,
    /// Lateral slide, mm, positive to the robot's left.
    pub lateral_mm: f64,
    /// Height of the isocentre above the floor, mm.
    pub height_mm: f64,
    /// Yaw of the bore axis from the robot's heading, rad, counter-clockwise seen from above.
    pub yaw_rad: f64,
}

impl GantryPose {
    /// The pose whose isocentre lies at `offset_mm` in this pose's scanner frame (x the
    /// patient's left = the robot's right turned by the yaw, y down, z along the bore), the
    /// yaw unchanged: how a planned isocentre becomes axis motions.
    pub fn moved_by(&self, offset_mm: Vec3) -> GantryPose {
        let (s, c) = self.yaw_rad.sin_cos();
        let [x, y, z] = offset_mm;
        // Scanner x is the robot's right turned by the yaw: (sin, -cos) in (forward, left);
        // scanner z is the bore axis: (cos, sin).
        GantryPose {
            along_mm: self.along_mm + x * s + z * c,
            lateral_mm: self.lateral_mm - x * c + z * s,
            height_mm: self.height_mm - y,
            yaw_rad: self.yaw_rad,
        }
    }

    /// The motion from `self` to `to`, axis by axis.
    pub fn motion_to(&self, to: &GantryPose) -> GantryMotion {
        GantryMotion {
            along_mm: to.along_mm - self.along_mm,
            lateral_mm: to.lateral_mm - self.lateral_mm,
            lift_mm: to.height_mm - self.height_mm,
            yaw_deg: (to.yaw_rad - self.yaw_rad).to_degrees(),
        }
    }
}

/// A motion of the gantry's axes.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GantryMotion {
    /// Along the robot's forward axis (over the bed towards its head end), mm.
    pub along_mm: f64,
    /// To the robot's left, mm.
    pub lateral_mm: f64,
    /// Up, mm.
    pub lift_mm: f64,
    /// Yaw, degrees counter-clockwise seen from above.
    pub yaw_deg: f64,
}

impl std::fmt::Display for GantryMotion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "along {:+.1} mm, lateral {:+.1} mm (left +), lift {:+.1} mm, yaw {:+.2} deg",
            self.along_mm, self.lateral_mm, self.lift_mm, self.yaw_deg
        )
    }
}

/// The gantry as the positioning drives it: a real device's motion controller, or
/// [`SimulatedGantry`].
pub trait Gantry {
    /// The pose now.
    fn pose(&self) -> GantryPose;
    /// Moves to `target`; refuses a pose outside the travel (and does not move).
    fn move_to(&mut self, target: GantryPose) -> Result<GantryPose, PositioningError>;
}

/// The simulator's gantry: moves exactly where asked, within its travel.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatedGantry {
    spec: GantrySpec,
    pose: GantryPose,
}

impl SimulatedGantry {
    /// A gantry at its park pose.
    pub fn new(spec: GantrySpec) -> Self {
        let pose = spec.park();
        Self { spec, pose }
    }

    /// The gantry's build.
    pub fn spec(&self) -> &GantrySpec {
        &self.spec
    }
}

impl Gantry for SimulatedGantry {
    fn pose(&self) -> GantryPose {
        self.pose
    }

    fn move_to(&mut self, target: GantryPose) -> Result<GantryPose, PositioningError> {
        self.spec.reach(&target).map_err(PositioningError::Reach)?;
        self.pose = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_in_the_scanner_frame_becomes_axis_motions() {
        let p = GantryPose {
            along_mm: 1000.0,
            lateral_mm: 0.0,
            height_mm: 800.0,
            yaw_rad: 0.0,
        };
        // +z is forward, +x (patient's left) is the robot's right, +y (posterior) is down.
        let m = p.moved_by([10.0, 20.0, 30.0]);
        assert!((m.along_mm - 1030.0).abs() < 1e-9);
        assert!((m.lateral_mm + 10.0).abs() < 1e-9);
        assert!((m.height_mm - 780.0).abs() < 1e-9);
        // Turned by 90 degrees, the bore points to the robot's left.
        let q = GantryPose {
            yaw_rad: std::f64::consts::FRAC_PI_2,
            ..p
        };
        let m = q.moved_by([0.0, 0.0, 50.0]);
        assert!((m.lateral_mm - 50.0).abs() < 1e-9 && (m.along_mm - 1000.0).abs() < 1e-9);
        let d = p.motion_to(&p.moved_by([0.0, -5.0, 0.0]));
        assert!((d.lift_mm - 5.0).abs() < 1e-9 && d.along_mm == 0.0);
    }

    #[test]
    fn poses_outside_the_travel_name_the_axis() {
        let spec = GantrySpec::mobile();
        spec.validate().unwrap();
        let mut g = SimulatedGantry::new(spec.clone());
        let park = g.pose();
        assert!(spec.reach(&park).is_ok());
        for (pose, axis) in [
            (
                GantryPose {
                    along_mm: 3000.0,
                    ..park
                },
                GantryAxis::Along,
            ),
            (
                GantryPose {
                    lateral_mm: -200.0,
                    ..park
                },
                GantryAxis::Lateral,
            ),
            (
                GantryPose {
                    height_mm: 300.0,
                    ..park
                },
                GantryAxis::Height,
            ),
            (
                GantryPose {
                    yaw_rad: 0.2,
                    ..park
                },
                GantryAxis::Yaw,
            ),
        ] {
            let e = g.move_to(pose).unwrap_err();
            match e {
                PositioningError::Reach(r) => assert_eq!(r.axis, axis),
                other => panic!("{other}"),
            }
            assert_eq!(g.pose(), park, "a refused move does not move");
        }
        let bad = GantrySpec {
            clearance_mm: 300.0,
            ..GantrySpec::mobile()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("clearance")
        );
    }
}
