//! Target positioning at the bedside: the scanner finds its target itself.
//!
//! There is no technologist lining the patient up on a couch. The robot arrives at the foot of
//! the bed, and then:
//!
//! 1. [`docking`]: from the bed's pose in the map (its head end and height) and the robot's
//!    arrival pose, the gantry motion (travel along the bed, lateral slide, lift, small yaw)
//!    that brings the isocentre to where the target nominally lies ([`docking::dock`]);
//! 2. [`scout`]: a low-dose scout, an AP and a lateral topogram swept along z with a slit beam,
//!    with its own dose record; more passes, panned sideways or up, only where the patient
//!    runs off the field ([`scout::ScoutImage`]);
//! 3. [`localize`]: the anatomy found in the scout by classical image analysis behind the
//!    [`localize::Localizer`] trait (a learned detector can replace it): for a head the
//!    vertex, the skull base and the intracranial space's extent and centre; for a chest the
//!    lung apices and bases and the body's centre;
//! 4. [`plan`]: the scan range (the organ plus a small margin), the isocentre and the gantry
//!    motion, checked against the bore and the gantry's travel ([`plan::ScanPlan`]); or a
//!    [`Refusal`] saying why positioning failed and what the operator should do;
//! 5. [`pipeline::position`] runs the four on any [`pipeline::Bedside`] (a real device, or the
//!    simulator of [`sim`]) and moves the gantry to the plan before anything is scanned.
//!
//! Everything is in the **scout frame**: the scanner frame (`roboct_geometry::conventions`) at
//! the docked gantry pose, mm. For a patient supine and head first on the bed it is the DICOM
//! patient frame LPS. The positioning sees only the scout images and the nominal bed pose;
//! the patient's truth is for the evaluation (`roboct-bench`'s `positioning` module) alone.
//!
//! Numeric and synchronous (rayon).

#![forbid(unsafe_code)]

pub mod docking;
pub mod gantry;
pub mod localize;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod scout;
pub mod sim;

pub use docking::{BedSite, Docking, dock};
pub use gantry::{Gantry, GantryMotion, GantryPose, GantrySpec, SimulatedGantry};
pub use scout::{Scout, ScoutImage, ScoutPass, ScoutTechnique, ScoutView};

use gantry::Reach;

/// What is scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The head: the intracranial space must be covered.
    Head,
    /// The chest: both lungs must be covered.
    Chest,
}

impl Target {
    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Target::Head => "head",
            Target::Chest => "chest",
        }
    }

    /// The organ whose whole extent the scan covers.
    pub fn organ(self) -> &'static str {
        match self {
            Target::Head => "intracranial space",
            Target::Chest => "lungs",
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A scan target that is neither head nor chest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseTargetError {
    /// Not a target name.
    #[error("unknown target {text:?}; expected head or chest")]
    Unknown {
        /// What was given, trimmed and in lower case.
        text: String,
    },
}

impl std::str::FromStr for Target {
    type Err = ParseTargetError;
    fn from_str(s: &str) -> Result<Self, ParseTargetError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "head" | "brain" => Ok(Target::Head),
            "chest" | "thorax" | "lungs" => Ok(Target::Chest),
            other => Err(ParseTargetError::Unknown {
                text: other.to_string(),
            }),
        }
    }
}

/// Why a positioning step could not run at all: invalid input or a device that failed. A
/// positioning that ran and found it must not scan is a [`Refusal`], not an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PositioningError {
    /// An option or specification field is impossible.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A gantry move was asked outside the travel (the gantry did not move).
    #[error("gantry: {0}")]
    Reach(Reach),
    /// The scanner (tube, detector, simulator) failed.
    #[error(transparent)]
    Scanner(#[from] roboct_scanner::ScannerError),
}

/// What the mission does about a refusal (one exhaustive match decides it: see
/// [`Refusal::recovery`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// Drive and dock again (the robot stopped where the gantry cannot reach the target).
    Redock,
    /// Someone at the bedside must act (move the patient, check the order), then retry.
    WaitForOperator,
    /// This patient cannot be scanned on this scanner.
    Abort,
}

/// Why positioning refused to plan a scan. Every refusal says what the operator should do
/// ([`Refusal::action`]); no scan is acquired after one.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum Refusal {
    /// The scout shows no patient.
    #[error(
        "the scout shows no patient (the most attenuating ray is {max_line_integral:.2}, less than {threshold:.2} of {threshold_water_mm:.0} mm of water)"
    )]
    NoPatient {
        /// The largest line integral in the scout.
        max_line_integral: f64,
        /// The smallest a patient shows.
        threshold: f64,
        /// The same threshold in mm of water.
        threshold_water_mm: f64,
    },
    /// The patient's outline does not fit the bore.
    #[error(
        "the patient's outline, {width_mm:.0} x {height_mm:.0} mm (width x height) around the planned isocentre, needs a {needed_mm:.0} mm opening; the bore gives {usable_mm:.0} mm ({bore_mm:.0} mm less the clearance)"
    )]
    TooLarge {
        /// Widest left-right extent, mm.
        width_mm: f64,
        /// Largest anterior-posterior extent, mm.
        height_mm: f64,
        /// The diameter the outline needs about the isocentre, mm.
        needed_mm: f64,
        /// The bore less the clearance, mm.
        usable_mm: f64,
        /// The bore, mm.
        bore_mm: f64,
    },
    /// The target, or the docking pose, is outside the gantry's reach.
    #[error("{what} is outside the gantry's reach: {reach}")]
    OutOfReach {
        /// What cannot be reached (`the docking pose`, `the scout`, `the planned isocentre`...).
        what: String,
        /// The axis and its limits.
        reach: Reach,
    },
    /// The scout shows anatomy other than the target's: the wrong protocol for this patient.
    #[error("a {target} protocol on what looks like {found}: {detail}")]
    WrongAnatomy {
        /// The target ordered.
        target: Target,
        /// What the scout seems to show.
        found: String,
        /// What was looked for and not found.
        detail: String,
    },
    /// The target's anatomy was not found well enough to plan.
    #[error("the {organ} could not be localised: {detail}")]
    NotFound {
        /// The organ.
        organ: String,
        /// What failed.
        detail: String,
    },
}

impl Refusal {
    /// What the mission does about it.
    pub fn recovery(&self) -> Recovery {
        match self {
            Refusal::NoPatient { .. } => Recovery::WaitForOperator,
            Refusal::TooLarge { .. } => Recovery::Abort,
            Refusal::OutOfReach { reach, .. } => match reach.axis {
                gantry::GantryAxis::Along | gantry::GantryAxis::Yaw => Recovery::Redock,
                gantry::GantryAxis::Lateral | gantry::GantryAxis::Height => {
                    Recovery::WaitForOperator
                }
            },
            Refusal::WrongAnatomy { .. } => Recovery::WaitForOperator,
            Refusal::NotFound { .. } => Recovery::WaitForOperator,
        }
    }

    /// What the operator should do, in words.
    pub fn action(&self) -> String {
        match self {
            Refusal::NoPatient { .. } => "check that the patient lies on this bed with the \
                 target at the head end, and that the robot docked at the right bed; then \
                 retry the positioning"
                .into(),
            Refusal::TooLarge { .. } => "this patient does not fit the mobile scanner's bore: \
                 transfer the patient to a fixed CT"
                .into(),
            Refusal::OutOfReach { reach, .. } => match reach.axis {
                gantry::GantryAxis::Along => {
                    let short = if reach.value > reach.limits[1] {
                        "too far ahead"
                    } else {
                        "too close"
                    };
                    format!(
                        "the target lies {short} along the bed for the gantry: move the \
                         patient up or down the bed (or let the robot re-dock) and retry"
                    )
                }
                gantry::GantryAxis::Lateral => "move the patient towards the middle of the \
                     bed (the gantry slides only a little sideways) and retry"
                    .into(),
                gantry::GantryAxis::Height => {
                    if reach.value > reach.limits[1] {
                        "lower the bed and retry".into()
                    } else {
                        "raise the bed and retry".into()
                    }
                }
                gantry::GantryAxis::Yaw => "the robot stands askew to the bed: let it \
                     re-dock coaxially with the bed and retry"
                    .into(),
            },
            Refusal::WrongAnatomy { target, .. } => format!(
                "check the order: the scout does not show a {target}; choose the protocol of \
                 the body part on the bed, or the patient at the head end, and retry"
            ),
            Refusal::NotFound { .. } => "check the patient's position (the target lying \
                 straight at the head end, nothing dense over it) and retry the scout"
                .into(),
        }
    }
}

/// A refusal's recovery in the vocabulary every crate's errors answer: re-docking is a new
/// plan for the drive (replan); the other two are the same.
impl From<Recovery> for roboct_core::Recovery {
    fn from(r: Recovery) -> Self {
        match r {
            Recovery::Redock => roboct_core::Recovery::Replan,
            Recovery::WaitForOperator => roboct_core::Recovery::WaitForOperator,
            Recovery::Abort => roboct_core::Recovery::Abort,
        }
    }
}

impl roboct_core::Recover for Refusal {
    fn recovery(&self) -> roboct_core::Recovery {
        Refusal::recovery(self).into()
    }
}

impl roboct_core::Recover for PositioningError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            PositioningError::Invalid { .. } => roboct_core::Recovery::Abort,
            PositioningError::Reach(_) => roboct_core::Recovery::WaitForOperator,
            PositioningError::Scanner(e) => roboct_core::Recover::recovery(e),
        }
    }
}

impl roboct_core::Recover for ParseTargetError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            ParseTargetError::Unknown { .. } => roboct_core::Recovery::WaitForOperator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_an_action_and_a_recovery() {
        let reach = |axis, value| Reach {
            axis,
            value,
            limits: [0.0, 100.0],
        };
        let refusals = [
            Refusal::NoPatient {
                max_line_integral: 0.01,
                threshold: 0.5,
                threshold_water_mm: 25.0,
            },
            Refusal::TooLarge {
                width_mm: 600.0,
                height_mm: 300.0,
                needed_mm: 620.0,
                usable_mm: 460.0,
                bore_mm: 500.0,
            },
            Refusal::OutOfReach {
                what: "the head".into(),
                reach: reach(gantry::GantryAxis::Lateral, 200.0),
            },
            Refusal::OutOfReach {
                what: "the docking pose".into(),
                reach: reach(gantry::GantryAxis::Along, 200.0),
            },
            Refusal::WrongAnatomy {
                target: Target::Chest,
                found: "a head".into(),
                detail: "no lungs".into(),
            },
            Refusal::NotFound {
                organ: "lungs".into(),
                detail: "x".into(),
            },
        ];
        for r in &refusals {
            assert!(!r.action().is_empty() && !r.to_string().is_empty());
        }
        assert_eq!(refusals[1].recovery(), Recovery::Abort);
        assert_eq!(refusals[3].recovery(), Recovery::Redock);
        // The shared vocabulary: re-docking is a replan, the rest keep their class.
        use roboct_core::Recover;
        assert_eq!(
            Recover::recovery(&refusals[3]),
            roboct_core::Recovery::Replan
        );
        assert_eq!(
            Recover::recovery(&refusals[0]),
            roboct_core::Recovery::WaitForOperator
        );
        assert_eq!(
            Recover::recovery(&refusals[1]),
            roboct_core::Recovery::Abort
        );
        assert!(refusals[2].action().contains("middle of the bed"));
        assert!(refusals[4].to_string().contains("chest protocol"));
        assert_eq!("Head".parse::<Target>(), Ok(Target::Head));
        assert!(
            "knee"
                .parse::<Target>()
                .unwrap_err()
                .to_string()
                .contains("head or chest")
        );
    }
}
