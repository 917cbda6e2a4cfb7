//! Shared vocabulary of roboct, at the bottom of the dependency graph.
//!
//! * [`units`]: physical quantities as newtypes (`Mm`, `Hu`, `Mgy`, `Joules`, `Seconds`) for API
//!   edges; kernels use plain `f32`/`f64` with the unit in the name (`spacing_mm`).
//! * [`Phi`]: patient data (names, IDs, birth dates) that never prints its content, so it cannot
//!   leak into a log line or an error message by accident.
//! * [`progress`]: progress reporting and cooperative cancellation for long work, shared by the
//!   CLI (progress bars) and the API (progress events).
//! * [`recovery`]: what to do about a failure ([`Recovery`]: retry, replan, wait for the
//!   operator, abort), the class every crate's errors answer.
//! * [`frames`]: the robot's frames from the building's map to the patient, with a picture,
//!   and the plane [`frames::Pose`] and [`frames::Point`] that navigation, docking and the
//!   mission share.

#![forbid(unsafe_code)]

pub mod frames;
pub mod memory;
pub mod phi;
pub mod progress;
pub mod recovery;
pub mod units;

pub use phi::Phi;
pub use progress::{CancelToken, Cancelled, NoProgress, Progress};
pub use recovery::{Recover, Recovery};
