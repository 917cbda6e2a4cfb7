//! Navigation of the roboct scanner: hospital maps, a 260 kg robot's route planner and
//! simulated driver, elevators, doors, obstacles and energy.
//!
//! * [`map`]: occupancy grids in the ROS `map_server` format (PGM/PNG + YAML).
//! * [`site`]: a building's floors and semantic layer (places, beds, doors, elevators, speed
//!   and keep-out zones); [`hospital`] generates the embedded default.
//! * [`robot`]: footprint, drive limits, energy model, battery.
//! * [`costmap`]: obstacles, keep-outs, inflation, footprint collision checks.
//! * [`search`], [`lattice`], [`plan`]: grid A* (optionally with landmark heuristics),
//!   heading-aware search through tight passages, routes across floors with time and energy.
//! * [`drive`]: a simulated regulated-pure-pursuit controller with dynamic obstacles, doors,
//!   elevators, waiting and replanning.
//! * [`render`]: pictures of routes; [`bench`]: the figures of `roboct bench route`.
//!
//! ```no_run
//! use roboct_nav::{hospital, plan::{Navigator, PlannerOptions}, robot::RobotModel};
//! let mut nav = Navigator::new(hospital::default_hospital(), RobotModel::default(),
//!                              PlannerOptions::default())?;
//! let route = nav.route("dock", "ward-3/bed-12")?;
//! println!("{:.0} m, {:.0} s, {:.0} J", route.length_m, route.time_s, route.energy_j);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bench;
pub mod costmap;
pub mod drive;
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

pub use error::{MapError, PlanError, Recovery};
