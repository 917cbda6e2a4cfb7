//! Bedside docking: from the bed's pose in the map and the robot's arrival pose, the gantry
//! pose that brings the isocentre to where the target nominally lies, with the bore axis
//! along the bed.
//!
//! The target's nominal place on a bed ([`nominal_target`]) is where a patient lying supine
//! and head first, straight, with the head at the head end, has the centre of that target:
//! measured from the middle of the bed's head end along the bed and up from the mattress top.
//! The patient's actual pose differs from it (offsets up to 10 cm, a turned head): the scout
//! finds it. Docking only has to bring the gantry close enough for the scout to see it.

use roboct_core::frames::{Pose, wrap_angle};

use crate::gantry::{GantryPose, GantrySpec};
use crate::{PositioningError, Refusal, Target};

/// A bed as the docking needs it, in the map frame.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BedSite {
    /// The middle of the bed's head end, map metres (x, y).
    pub head_end_m: [f64; 2],
    /// Direction from the foot end to the head end, rad counter-clockwise from the map's +x.
    pub heading_rad: f64,
    /// Height of the mattress top above the floor, mm.
    pub top_height_mm: f64,
}

impl BedSite {
    /// A site file's bed ([`roboct_nav::site::Bed`]: centre, heading from foot to head,
    /// length) at a mattress height (site files do not hold it: a bed reports it, or the
    /// ward's default is used).
    pub fn from_nav(bed: &roboct_nav::site::Bed, top_height_mm: f64) -> Self {
        let head = bed
            .pose
            .point()
            .offset(bed.pose.yaw_rad, bed.length_m / 2.0);
        Self {
            head_end_m: [head.x, head.y],
            heading_rad: bed.pose.yaw_rad,
            top_height_mm,
        }
    }

    /// Checks the values; the error names the field.
    pub fn validate(&self) -> Result<(), PositioningError> {
        if !(self.head_end_m.iter().all(|v| v.is_finite()) && self.heading_rad.is_finite()) {
            return Err(PositioningError::Invalid {
                field: "bed.head_end_m/heading_rad",
                message: format!(
                    "{:?}, {}; expected finite map coordinates",
                    self.head_end_m, self.heading_rad
                ),
            });
        }
        if !(self.top_height_mm >= 200.0 && self.top_height_mm <= 1500.0) {
            return Err(PositioningError::Invalid {
                field: "bed.top_height_mm",
                message: format!(
                    "{} mm; expected a mattress 200 to 1500 mm above the floor",
                    self.top_height_mm
                ),
            });
        }
        Ok(())
    }
}

/// Where a target's centre nominally lies on a bed: `(along_mm, above_mm)`, the distance
/// from the head end towards the foot and the height above the mattress top. A head's
/// braincase centre 160 mm from the head end and 120 mm above the mattress (the back of the
/// skull on a 20 mm head rest, the vertex about 50 mm inside the head end); a chest's centre
/// (near the carina) 550 mm from the head end and 125 mm up.
pub fn nominal_target(target: Target) -> (f64, f64) {
    match target {
        Target::Head => (160.0, 120.0),
        Target::Chest => (550.0, 125.0),
    }
}

/// The nominal target point in the map: (x, y) metres and its height above the floor, mm.
pub fn nominal_point(bed: &BedSite, target: Target) -> ([f64; 2], f64) {
    let (along, above) = nominal_target(target);
    let (s, c) = bed.heading_rad.sin_cos();
    (
        [
            bed.head_end_m[0] - c * along / 1000.0,
            bed.head_end_m[1] - s * along / 1000.0,
        ],
        bed.top_height_mm + above,
    )
}

/// The docking: the gantry pose, and the motion from where the gantry was.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Docking {
    /// The target of the docking.
    pub target: Target,
    /// The gantry pose that puts the isocentre on the nominal target, the bore along the bed.
    pub pose: GantryPose,
    /// The motion from the gantry's pose before docking.
    pub motion: crate::gantry::GantryMotion,
    /// The nominal target point, map metres.
    pub target_in_map_m: [f64; 2],
    /// Its height above the floor, mm.
    pub target_height_mm: f64,
}

/// Docks: the gantry pose that brings the isocentre to the nominal place of `target` on
/// `bed` with the bore axis along the bed, for a robot at `arrival` (map) whose gantry is at
/// `from`. A pose the gantry cannot reach is a [`Refusal::OutOfReach`] (the robot re-docks).
pub fn dock(
    spec: &GantrySpec,
    bed: &BedSite,
    arrival: Pose,
    from: GantryPose,
    target: Target,
) -> Result<Result<Docking, Refusal>, PositioningError> {
    spec.validate()?;
    bed.validate()?;
    if !(arrival.x.is_finite() && arrival.y.is_finite() && arrival.yaw_rad.is_finite()) {
        return Err(PositioningError::Invalid {
            field: "arrival pose",
            message: format!("{arrival:?}; expected finite map coordinates"),
        });
    }
    let (point, height_mm) = nominal_point(bed, target);
    // The target in the robot's frame (x forward, y left), mm.
    let (s, c) = arrival.yaw_rad.sin_cos();
    let (dx, dy) = (
        (point[0] - arrival.x) * 1000.0,
        (point[1] - arrival.y) * 1000.0,
    );
    let forward = c * dx + s * dy;
    let left = -s * dx + c * dy;
    let pose = GantryPose {
        along_mm: forward - spec.park_forward_mm,
        lateral_mm: left,
        height_mm,
        yaw_rad: wrap_angle(bed.heading_rad - arrival.yaw_rad),
    };
    Ok(match spec.reach(&pose) {
        Ok(()) => Ok(Docking {
            target,
            pose,
            motion: from.motion_to(&pose),
            target_in_map_m: point,
            target_height_mm: height_mm,
        }),
        Err(reach) => Err(Refusal::OutOfReach {
            what: format!("the docking pose for the {target}"),
            reach,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use roboct_core::frames::Point;

    fn bed() -> roboct_nav::site::Bed {
        roboct_nav::site::Bed {
            pose: Pose::new(17.0, 4.0, std::f64::consts::PI),
            length_m: 2.1,
            width_m: 1.0,
        }
    }

    #[test]
    fn a_robot_on_the_approach_pose_slides_straight_along_the_bed() {
        let spec = GantrySpec::mobile();
        let b = bed();
        let site = BedSite::from_nav(&b, 600.0);
        // The head end of a bed heading -x from (17, 4) is at x = 15.95.
        assert!(
            (site.head_end_m[0] - 15.95).abs() < 1e-9 && (site.head_end_m[1] - 4.0).abs() < 1e-9
        );
        let arrival = b.approach(0.8, 0.3);
        let d = dock(&spec, &site, arrival, spec.park(), Target::Head)
            .unwrap()
            .unwrap();
        // From the robot's centre (0.8 + 0.3 + 1.05 m behind the bed's centre) to the head's
        // centre (1.05 - 0.16 m ahead of it), less the parked isocentre's 0.9 m.
        let expect = (2.15 + 0.89) * 1000.0 - 900.0;
        assert!((d.pose.along_mm - expect).abs() < 1e-6, "{:?}", d.pose);
        assert!(d.pose.lateral_mm.abs() < 1e-6 && d.pose.yaw_rad.abs() < 1e-9);
        assert!((d.pose.height_mm - 720.0).abs() < 1e-9);
        assert!((d.motion.lift_mm - (720.0 - spec.park().height_mm)).abs() < 1e-9);
        // The chest is 390 mm nearer.
        let c = dock(&spec, &site, arrival, spec.park(), Target::Chest)
            .unwrap()
            .unwrap();
        assert!((d.pose.along_mm - c.pose.along_mm - 390.0).abs() < 1e-6);
    }

    #[test]
    fn an_askew_or_offset_arrival_is_corrected_by_the_slide_and_the_yaw() {
        let spec = GantrySpec::mobile();
        let b = bed();
        let site = BedSite::from_nav(&b, 600.0);
        let a = b.approach(0.8, 0.3);
        // 4 cm to the robot's left of the axis (the bed heads -x: the robot's left is -y),
        // turned 2 degrees.
        let arrival = Pose::new(a.x, a.y - 0.04, a.yaw_rad + 2f64.to_radians());
        let d = dock(&spec, &site, arrival, spec.park(), Target::Head)
            .unwrap()
            .unwrap();
        assert!((d.pose.yaw_rad.to_degrees() + 2.0).abs() < 1e-9);
        // The isocentre lands on the nominal point whatever the arrival.
        let (s, c) = arrival.yaw_rad.sin_cos();
        let fwd = (spec.park_forward_mm + d.pose.along_mm) / 1000.0;
        let left = d.pose.lateral_mm / 1000.0;
        let iso = Point::new(
            arrival.x + c * fwd - s * left,
            arrival.y + s * fwd + c * left,
        );
        let (p, _) = nominal_point(&site, Target::Head);
        assert!((iso.x - p[0]).abs() < 1e-9 && (iso.y - p[1]).abs() < 1e-9);
        // Too far away: refused with the axis, and the robot re-docks.
        let far = Pose::new(a.x + 1.0, a.y, a.yaw_rad);
        let r = dock(&spec, &site, far, spec.park(), Target::Head)
            .unwrap()
            .unwrap_err();
        assert_eq!(r.recovery(), crate::Recovery::Redock, "{r}");
        assert!(r.to_string().contains("travel along the bed"), "{r}");
        // Askew beyond the yaw: refused too.
        let askew = Pose::new(a.x, a.y, a.yaw_rad + 0.2);
        assert!(
            dock(&spec, &site, askew, spec.park(), Target::Head)
                .unwrap()
                .is_err()
        );
        // A bed at an impossible height is bad input, not a refusal.
        let low = BedSite {
            top_height_mm: 50.0,
            ..site
        };
        assert!(dock(&spec, &low, a, spec.park(), Target::Head).is_err());
    }
}
