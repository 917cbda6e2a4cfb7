//! The mission's phases, its failures, and what to do about each failure (decided in one
//! exhaustive `match`).

use roboct_core::{Recover, Recovery};

/// Where a mission is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// At the dock, waiting for an order.
    Docked,
    /// An order arrived (worklist, voice or text, API).
    OrderReceived,
    /// The route to the bed is planned and the battery suffices.
    RoutePlanned,
    /// On the way to the bed.
    Driving,
    /// At the bed.
    Arrived,
    /// The patient matches the order.
    PatientVerified,
    /// Docked at the bed, the gantry around the target, the scout taken and the scan planned.
    Positioned,
    /// Waiting for the explicit confirmation (and the exposure switch).
    AwaitingConfirmation,
    /// Exposing.
    Scanning,
    /// Reconstructing (slabs streamed to the PACS as they come).
    Reconstructing,
    /// The automatic reading.
    Diagnosing,
    /// Dose SR, findings SR, key images, MPPS completed.
    Reporting,
    /// On the way back to the dock.
    Returning,
    /// Back at the dock with the mission done.
    Done,
    /// Given up, the robot in a safe state.
    Failed,
}

impl Phase {
    /// Every phase in mission order.
    pub const ALL: [Phase; 15] = [
        Phase::Docked,
        Phase::OrderReceived,
        Phase::RoutePlanned,
        Phase::Driving,
        Phase::Arrived,
        Phase::PatientVerified,
        Phase::Positioned,
        Phase::AwaitingConfirmation,
        Phase::Scanning,
        Phase::Reconstructing,
        Phase::Diagnosing,
        Phase::Reporting,
        Phase::Returning,
        Phase::Done,
        Phase::Failed,
    ];

    /// The name in logs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Docked => "docked",
            Phase::OrderReceived => "order_received",
            Phase::RoutePlanned => "route_planned",
            Phase::Driving => "driving",
            Phase::Arrived => "arrived",
            Phase::PatientVerified => "patient_verified",
            Phase::Positioned => "positioned",
            Phase::AwaitingConfirmation => "awaiting_confirmation",
            Phase::Scanning => "scanning",
            Phase::Reconstructing => "reconstructing",
            Phase::Diagnosing => "diagnosing",
            Phase::Reporting => "reporting",
            Phase::Returning => "returning",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }

    /// From [`Phase::name`].
    pub fn from_name(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == s)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a mission could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MissionError {
    /// The order or the site is wrong (unknown place, impossible protocol).
    #[error("the order cannot be carried out: {0}")]
    BadOrder(String),
    /// No route to the goal.
    #[error("no route: {0}")]
    NoRoute(String),
    /// Too little battery for the route and back.
    #[error("{0}")]
    BatteryLow(String),
    /// The drive stopped for good on the way.
    #[error("the drive stopped: {0}")]
    DriveFailed(String),
    /// The patient in the bed is not the one ordered (or could not be identified).
    #[error("patient identity: {0}")]
    PatientMismatch(String),
    /// Positioning refused to plan (no patient in the scout, out of reach...): the refusal
    /// itself, so that its recovery (re-dock, the operator, abort) reaches the mission.
    #[error("positioning: {0}; {action}", action = .0.action())]
    Positioning(roboct_positioning::Refusal),
    /// Nobody confirmed in time.
    #[error("not confirmed: {0}")]
    NotConfirmed(String),
    /// The exposure stopped before the scan was complete.
    #[error("the exposure was interrupted: {0}")]
    ExposureInterrupted(String),
    /// A stop was given.
    #[error("stopped: {0}")]
    Stopped(String),
    /// A device failed.
    #[error(transparent)]
    Hardware(#[from] crate::hardware::HardwareError),
    /// The scan simulation or reconstruction failed.
    #[error("imaging: {0}")]
    Imaging(String),
    /// DICOM objects could not be made or queued.
    #[error("DICOM: {0}")]
    Dicom(String),
    /// The mission's store failed.
    #[error("mission store: {0}")]
    Store(String),
    /// The site configuration is wrong.
    #[error("site configuration: {0}")]
    Site(String),
}

impl Recover for MissionError {
    fn recovery(&self) -> Recovery {
        match self {
            MissionError::BadOrder(_) => Recovery::Abort,
            MissionError::NoRoute(_) => Recovery::Replan,
            MissionError::BatteryLow(_) => Recovery::WaitForOperator,
            MissionError::DriveFailed(_) => Recovery::Replan,
            MissionError::PatientMismatch(_) => Recovery::WaitForOperator,
            MissionError::Positioning(r) => r.recovery().into(),
            MissionError::NotConfirmed(_) => Recovery::WaitForOperator,
            MissionError::ExposureInterrupted(_) => Recovery::WaitForOperator,
            MissionError::Stopped(_) => Recovery::WaitForOperator,
            MissionError::Hardware(e) => e.recovery(),
            MissionError::Imaging(_) => Recovery::Abort,
            MissionError::Dicom(_) => Recovery::Retry,
            MissionError::Store(_) => Recovery::Abort,
            MissionError::Site(_) => Recovery::Abort,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_names_round_trip() {
        for p in Phase::ALL {
            assert_eq!(Phase::from_name(p.name()), Some(p));
        }
        assert_eq!(Phase::from_name("nowhere"), None);
    }

    #[test]
    fn a_patient_mismatch_waits_for_the_operator_and_a_bad_order_aborts() {
        assert_eq!(
            MissionError::PatientMismatch("x".into()).recovery(),
            Recovery::WaitForOperator
        );
        assert_eq!(
            MissionError::BadOrder("x".into()).recovery(),
            Recovery::Abort
        );
        assert_eq!(
            MissionError::DriveFailed("x".into()).recovery(),
            Recovery::Replan
        );
        // A refusal keeps its own class: a target out of the carriage's travel re-docks.
        let out_of_reach = roboct_positioning::Refusal::OutOfReach {
            what: "the head".into(),
            reach: roboct_positioning::gantry::Reach {
                axis: roboct_positioning::gantry::GantryAxis::Along,
                value: 900.0,
                limits: [0.0, 600.0],
            },
        };
        let e = MissionError::Positioning(out_of_reach);
        assert_eq!(e.recovery(), Recovery::Replan);
        assert!(e.to_string().contains("re-dock"), "{e}");
        let no_patient = roboct_positioning::Refusal::NoPatient {
            max_line_integral: 0.0,
            threshold: 1.0,
            threshold_water_mm: 25.0,
        };
        assert_eq!(
            MissionError::Positioning(no_patient).recovery(),
            Recovery::WaitForOperator
        );
    }
}
