//! Navigation of the roboct scanner: hospital maps, a 260 kg robot's route planner and
//! simulated driver, elevators, doors, obstacles and energy.
//!
//! * [`map`]: occupancy grids in the ROS `map_server` format (PGM/PNG + YAML).
//! * [`site`]: a building's floors and semantic layer (places, beds, doors, elevators, speed
//!   and keep-out zones); [`hospital`] generates the embedded default.
//! * [`robot`]: footprint, drive limits, energy model, battery.
//! * [`costmap`]: obstacles, keep-outs, inflation, footprint collision checks.
//! * [`search`], [`lattice`]: grid A* (optionally with landmark heuristics), heading-aware
//!   search through tight passages.
//! * [`plan`]: the [`plan::Navigator`], owner of the planning state, and its parts: place
//!   resolution, the floor planner, smoothing, the diagnosis of a missing path, the time and
//!   energy estimate, and the route composer across floors and elevators.
//! * [`drive`]: a regulated-pure-pursuit controller ([`drive::controller`], behind the
//!   [`drive::Controller`] trait: pose and path in, velocity out) and the simulated base that
//!   integrates its commands, with dynamic obstacles, doors, elevators, waiting and replanning.
//! * [`render`]: pictures of routes.
//!
//! The figures of `roboct bench route` are measured by `roboct_bench::route`, outside this
//! crate, on its public API.
//!
//! ```no_run
//! use roboct_nav::{hospital, plan::{Navigator, PlannerOptions}, robot::RobotModel};
//! let mut nav = Navigator::new(hospital::default_hospital(), RobotModel::default(),
//!                              PlannerOptions::default())?;
//! let route = nav.route("dock", "ward-3/bed-12")?;
//! println!("{:.0} m, {:.0} s, {:.0} J", route.length_m, route.time_s, route.energy_j);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod costmap;
pub mod drive;
pub mod elevator;
pub mod error;
pub mod geom;
pub mod hospital;
pub mod lattice;
pub mod map;
pub mod plan;
pub mod render;
pub mod robot;
pub mod search;
pub mod site;

pub use error::{FloorError, MapError, OptionError, PlanError, RideError};
pub use roboct_core::{Recover, Recovery};

/// A number for a message: as written for ordinary magnitudes, in scientific notation for
/// huge or tiny ones (a user's `1e300` prints as `1.000e300`, not as 301 digits).
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 || (v.is_finite() && (1e-4..1e6).contains(&v.abs())) {
        format!("{v}")
    } else if v.is_finite() {
        format!("{v:.3e}")
    } else {
        format!("{v}")
    }
}

/// Metres for a message: two decimals for ordinary magnitudes, scientific notation for huge
/// ones.
pub fn fmt_m(v: f64) -> String {
    if v.is_finite() && v.abs() < 1e6 {
        format!("{v:.2}")
    } else {
        fmt_num(v)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_in_messages_stay_short() {
        assert_eq!(super::fmt_num(0.015), "0.015");
        assert_eq!(super::fmt_num(1e300), "1.000e300");
        assert_eq!(super::fmt_num(f64::NAN), "NaN");
        assert_eq!(super::fmt_num(-5.0), "-5");
        assert_eq!(super::fmt_m(12.345), "12.35");
        assert_eq!(super::fmt_m(-1e300), "-1.000e300");
        assert!(super::fmt_m(1e300).len() < 12);
    }
}
