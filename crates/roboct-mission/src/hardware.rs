//! The hardware traits: what a device maker implements to run roboct's mission on a real
//! robot. The simulator ([`crate::sim`]) implements every one of them.
//!
//! # Integration guide
//!
//! * Every trait is polled by the mission's control loop once per tick (50 ms): methods that
//!   start something return at once; `is_moving`, `progress` and the sensors report the
//!   device's own state, which the interlocks read every tick. A device must report motion
//!   and beam truthfully and promptly: the interlocks cut the beam and the motion on what the
//!   sensors say, not on what was commanded.
//! * `halt` and `beam_off` must act within one tick and never fail: they are the stop.
//! * The exposure switch must also be wired into the generator's own interlock chain (a
//!   dead-man switch, as on every CT console): releasing it cuts the beam in hardware, without
//!   waiting for software. The simulator does the same; the mission's tick then sees the beam
//!   off and ends the scan as interrupted.
//! * Units: the base in metres and radians in the site's map frame; the gantry in mm and
//!   degrees in its own frame (see [`GantryAxes`]); energy in joules; time in seconds.
//! * The X-ray tube and the detector are `roboct_scanner`'s [`XRayTube`] and [`XRayDetector`]
//!   (a pulse of `mas` per view, one frame per view) plus the beam switch of [`BeamControl`].
//! * Errors are [`HardwareError`], whose [`Recover::recovery`] tells the mission what to do.
//!
//! [`XRayTube`]: roboct_scanner::acquire::XRayTube
//! [`XRayDetector`]: roboct_scanner::acquire::XRayDetector

use roboct_core::frames::Pose;
use roboct_core::{Recover, Recovery};
use roboct_nav::plan::{Route, Target};

/// What went wrong in a device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HardwareError {
    /// The command is outside the device's limits (a gantry position it cannot reach).
    #[error("{device}: {message}")]
    OutOfRange {
        /// The device.
        device: &'static str,
        /// What and why.
        message: String,
    },
    /// The device refused for now (busy, moving); trying again later may work.
    #[error("{device} is busy: {message}")]
    Busy {
        /// The device.
        device: &'static str,
        /// Why.
        message: String,
    },
    /// The device reports a fault.
    #[error("{device} fault: {message}")]
    Fault {
        /// The device.
        device: &'static str,
        /// What.
        message: String,
    },
}

impl Recover for HardwareError {
    fn recovery(&self) -> Recovery {
        match self {
            HardwareError::OutOfRange { .. } => Recovery::WaitForOperator,
            HardwareError::Busy { .. } => Recovery::Retry,
            HardwareError::Fault { .. } => Recovery::Abort,
        }
    }
}

/// How a drive is going.
#[derive(Clone, Debug, PartialEq)]
pub enum DriveProgress {
    /// Not driving anywhere.
    Idle,
    /// On the way.
    Driving {
        /// Distance left, m.
        remaining_m: f64,
        /// In an elevator car (riding, or driving in or out).
        in_elevator: bool,
    },
    /// Halted on the way (a stop or a pause); `resume` continues.
    Halted,
    /// At the goal.
    Arrived,
    /// Stopped for good (an obstacle that never cleared): why.
    Failed(String),
}

/// The drive base.
pub trait DriveBase {
    /// Floor and pose in the site's map frame.
    fn location(&self) -> (i32, Pose);
    /// Whether the wheels turn.
    fn is_moving(&self) -> bool;
    /// Starts driving `route` to `goal`.
    fn start_route(&mut self, route: &Route, goal: &Target) -> Result<(), HardwareError>;
    /// Continues a halted drive.
    fn resume(&mut self) -> Result<(), HardwareError>;
    /// Brakes now (the stop: within one tick, never fails).
    fn halt(&mut self);
    /// The drive's progress.
    fn progress(&self) -> DriveProgress;
    /// Battery energy drawn by the base since power-on, J.
    fn energy_used_j(&self) -> f64;
}

/// Gantry axes: travel along the bed (mm, 0 = parked position), lift of the bore's centre
/// above the floor (mm), yaw about the vertical (degrees).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GantryAxes {
    /// Travel along the bed, mm.
    pub travel_mm: f64,
    /// Height of the bore's centre above the floor, mm.
    pub lift_mm: f64,
    /// Yaw, degrees.
    pub yaw_deg: f64,
}

/// The gantry's reach.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GantryLimits {
    /// Travel range, mm.
    pub travel_mm: (f64, f64),
    /// Lift range, mm.
    pub lift_mm: (f64, f64),
    /// Yaw range, degrees.
    pub yaw_deg: (f64, f64),
    /// Speed of each axis, mm/s (travel, lift) and deg/s (yaw).
    pub speed: (f64, f64, f64),
    /// The parked position.
    pub parked: GantryAxes,
}

impl GantryLimits {
    /// Whether `a` is within reach; `Err` names the axis.
    pub fn check(&self, a: &GantryAxes) -> Result<(), HardwareError> {
        for (name, v, (lo, hi)) in [
            ("travel_mm", a.travel_mm, self.travel_mm),
            ("lift_mm", a.lift_mm, self.lift_mm),
            ("yaw_deg", a.yaw_deg, self.yaw_deg),
        ] {
            if !(v >= lo && v <= hi) {
                return Err(HardwareError::OutOfRange {
                    device: "gantry",
                    message: format!("{name} {v:.1} is outside its reach {lo:.0} to {hi:.0}"),
                });
            }
        }
        Ok(())
    }
}

/// The gantry's motion.
pub trait Gantry {
    /// Where the axes are.
    fn axes(&self) -> GantryAxes;
    /// The reach.
    fn limits(&self) -> GantryLimits;
    /// Whether any axis moves.
    fn is_moving(&self) -> bool;
    /// Whether it is in the parked (transport) position.
    fn is_parked(&self) -> bool;
    /// Starts moving to `target`.
    fn move_to(&mut self, target: GantryAxes) -> Result<(), HardwareError>;
    /// Brakes every axis now (never fails).
    fn halt(&mut self);
}

/// The beam switch of the X-ray generator.
pub trait BeamControl {
    /// Turns the beam on (pulses may then be fired).
    fn beam_on(&mut self) -> Result<(), HardwareError>;
    /// Turns the beam off now (never fails).
    fn beam_off(&mut self);
    /// Whether the beam is on.
    fn is_on(&self) -> bool;
}

/// The operator's exposure switch (a dead-man switch).
pub trait ExposureSwitch {
    /// Whether it is held down now.
    fn is_held(&self) -> bool;
}

/// The battery.
pub trait Battery {
    /// Energy left, J.
    fn available_j(&self) -> f64;
    /// Capacity, J.
    fn capacity_j(&self) -> f64;
}

/// A loudspeaker and a voice.
pub trait Speaker {
    /// Says `text` aloud (returns when it is queued).
    fn say(&mut self, text: &str);
}

/// Someone near the scanner, as the room sensor sees them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    /// An identifier the sensor keeps while it tracks them.
    pub id: u32,
    /// Staff, visitor or another patient (the scanned patient is not reported).
    pub role: String,
    /// Distance from the isocentre, m.
    pub distance_m: f64,
}

/// The room sensor (people around the scanner).
pub trait RoomSensor {
    /// The people it sees, other than the patient being scanned.
    fn people(&self) -> Vec<Person>;
}
