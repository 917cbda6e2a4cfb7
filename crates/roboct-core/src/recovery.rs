//! What to do about a failure: the one vocabulary every crate's errors speak to the mission.
//!
//! Each library error type answers [`Recover::recovery`] with one of four classes, decided in
//! one exhaustive `match` per error type (so a new variant cannot be added without deciding
//! its recovery: the compiler asks), the way Nav2's error codes tell its behaviour tree what
//! to try next.

use std::fmt;

/// What to do about a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// Try the same thing again (a PACS that did not answer, a busy elevator).
    Retry,
    /// Plan again around what changed (a blocked corridor, a moved patient).
    Replan,
    /// Stop in a safe state and wait for a person to decide (a patient who does not match the
    /// order, a released exposure switch, a stop).
    WaitForOperator,
    /// Give the mission up and close it cleanly (an impossible order, broken hardware).
    Abort,
}

impl Recovery {
    /// Every class.
    pub const ALL: [Recovery; 4] = [
        Recovery::Retry,
        Recovery::Replan,
        Recovery::WaitForOperator,
        Recovery::Abort,
    ];
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Recovery::Retry => "retry",
            Recovery::Replan => "replan",
            Recovery::WaitForOperator => "wait for the operator",
            Recovery::Abort => "abort",
        })
    }
}

/// An error that knows what should be done about it.
pub trait Recover {
    /// The recovery class of this error.
    fn recovery(&self) -> Recovery;
}
