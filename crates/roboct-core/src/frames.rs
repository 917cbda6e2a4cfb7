//! The robot's frames, from the building's map to the patient, and the plane poses the
//! navigation, the docking and the mission share.
//!
//! The scanner's own frame (z along the bore, mm, and the detector's axes) is defined, with
//! its picture, in `roboct_geometry::conventions`; this page places it on the robot and the
//! robot in the building.
//!
//! ```text
//!   top view                                          side view (along the bore)
//!
//!   map frame (metres, ROS REP 103: x right,          scanner frame (mm), patient supine,
//!   y up on the map picture, yaw counter-clockwise    head first (DICOM LPS):
//!   from +x, origin at the map's `origin`)
//!                                                              bore
//!   y ^          bed, head end                             .-----------.
//!     |        +==========+                               /      ^ -y   \    x: patient's left
//!     |        |  patient |<-- bore axis (scanner +z)     |      |       |   y: down (posterior)
//!     |        +==========+    yawed by GantryPose.yaw    |  <---O       |   z: along the bore,
//!     |            ^                                      |  +x  iso     |      towards the head
//!     |      [ gantry ]  lateral slide (+ = robot's left)  \             /
//!     |      [  base  ]--> x forward (base frame)           '-----------'
//!     |       Pose { x, y, yaw_rad }                         height_mm: isocentre above floor
//!     +--------------------------------> x
//! ```
//!
//! | frame | units | axes | held as |
//! | --- | --- | --- | --- |
//! | map (one per floor) | m | ROS map frame: x, y on the occupancy grid; yaw counter-clockwise from +x | [`Point`], [`Pose`] (the robot base's pose) |
//! | base | m | x forward, y left, z up (ROS `base_link`) | points through [`Pose::map_from_robot`] |
//! | gantry | mm, rad | carriage along the base's forward axis, lateral slide to the left, isocentre height above the floor, yaw of the bore from the heading | `roboct_positioning::gantry::GantryPose` |
//! | scanner (the scout frame at a docked pose) | mm | z along the bore, x to the patient's left, y down; isocentre at the origin | `roboct_geometry::conventions` |
//! | patient (DICOM) | mm | LPS; equals the scanner frame for a patient supine and head first | `roboct_dicom::ct::PatientPosition` |
//!
//! Angles are stored in radians and shown in degrees; a site's YAML writes headings as
//! `yaw_deg`.

use serde::{Deserialize, Serialize};

/// A point in a floor's map frame, metres.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Metres along the map's x axis.
    pub x: f64,
    /// Metres along the map's y axis.
    pub y: f64,
}

impl Point {
    /// A point from its coordinates in metres.
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    /// Euclidean distance in metres.
    pub fn dist(self, other: Point) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }

    /// Heading in radians of the direction from `self` to `to`.
    pub fn heading_to(self, to: Point) -> f64 {
        (to.y - self.y).atan2(to.x - self.x)
    }

    /// The point `d` metres away in direction `heading_rad`.
    pub fn offset(self, heading_rad: f64, d: f64) -> Point {
        Point::new(
            self.x + d * heading_rad.cos(),
            self.y + d * heading_rad.sin(),
        )
    }

    /// Linear interpolation: `self` at `t = 0`, `to` at `t = 1`.
    pub fn lerp(self, to: Point, t: f64) -> Point {
        Point::new(self.x + (to.x - self.x) * t, self.y + (to.y - self.y) * t)
    }
}

/// A position and heading in a floor's map frame: where the robot's base is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    /// Metres along the map's x axis.
    pub x: f64,
    /// Metres along the map's y axis.
    pub y: f64,
    /// Heading, radians counter-clockwise from +x.
    pub yaw_rad: f64,
}

impl Pose {
    /// A pose from metres and radians.
    pub const fn new(x: f64, y: f64, yaw_rad: f64) -> Self {
        Self { x, y, yaw_rad }
    }

    /// The position part.
    pub fn point(self) -> Point {
        Point::new(self.x, self.y)
    }

    /// A point given in the base frame (x forward, y left), expressed in the map frame.
    pub fn map_from_robot(self, p: Point) -> Point {
        let (s, c) = self.yaw_rad.sin_cos();
        Point::new(self.x + c * p.x - s * p.y, self.y + s * p.x + c * p.y)
    }
}

/// Wraps an angle to (-pi, pi].
pub fn wrap_angle(a: f64) -> f64 {
    let mut a = a % std::f64::consts::TAU;
    if a <= -std::f64::consts::PI {
        a += std::f64::consts::TAU;
    } else if a > std::f64::consts::PI {
        a -= std::f64::consts::TAU;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::{FRAC_PI_2, PI, TAU};

    #[test]
    fn wrap_angle_stays_in_range() {
        assert!((wrap_angle(3.0 * PI) - PI).abs() < 1e-12);
        assert!((wrap_angle(-0.5) + 0.5).abs() < 1e-12);
        assert!((wrap_angle(7.0) - (7.0 - TAU)).abs() < 1e-12);
        assert_eq!(wrap_angle(-PI), PI);
    }

    #[test]
    fn the_base_frame_is_forward_and_left() {
        // Facing +y on the map, forward is +y and left is -x.
        let pose = Pose::new(2.0, 3.0, FRAC_PI_2);
        let ahead = pose.map_from_robot(Point::new(1.0, 0.0));
        let left = pose.map_from_robot(Point::new(0.0, 1.0));
        assert!(ahead.dist(Point::new(2.0, 4.0)) < 1e-12, "{ahead:?}");
        assert!(left.dist(Point::new(1.0, 3.0)) < 1e-12, "{left:?}");
        assert!((pose.point().heading_to(ahead) - FRAC_PI_2).abs() < 1e-12);
        assert!(pose.point().offset(FRAC_PI_2, 1.0).dist(ahead) < 1e-12);
        assert_eq!(pose.point().lerp(ahead, 0.5), Point::new(2.0, 3.5));
    }
}
