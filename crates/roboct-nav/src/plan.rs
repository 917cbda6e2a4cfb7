//! The route planner: places and coordinates to routes across floors and elevators, with the
//! expected time and energy.
//!
//! [`Navigator`] owns what planning needs (the site, the robot, the options and, per floor, the
//! costmap, the search grid and the landmark tables); the planning itself is in parts, each
//! its own file under `plan/`:
//!
//! * `resolve`: place resolution, a place name or coordinates to a [`Target`] the robot can
//!   stand at ([`Navigator::resolve`]).
//! * `floor`: the floor planner ([`Navigator::plan_floor`]): A* on the costmap (centre of the
//!   robot on cell centres, 8-connected, cost rising near walls so that routes keep to corridor
//!   centres), then footprint-aware smoothing, and a heading-aware lattice search
//!   ([`crate::lattice`]) through passages where the robot fits only at some headings. A goal
//!   with a heading (a bed's approach pose) is reached by a straight final approach along that
//!   heading, so the gantry arrives coaxial with the bed. Where the greedy smoothing finds no
//!   way, the lattice searches from the exact start to the goal over the whole floor (or a
//!   window of [`LATTICE_CELLS`] around the way), so a way is found whenever the lattice has
//!   one.
//! * `smooth`: the footprint-aware smoothing (a shortcut replaces part of the grid path only if
//!   the full footprint stays clear along it, the turn in place at its start is clear, and it
//!   costs no more than the part it replaces) and its local lattice manoeuvres.
//! * `explain`: where there is no way, what blocks it (a start or goal the footprint does not
//!   fit, the goal's heading, unknown cells, a turn, a passage too narrow at any heading) and
//!   where. `tests/completeness.rs` checks the floor planner and this diagnosis against a
//!   brute-force oracle.
//! * `estimate`: the expected time and energy of driving a path ([`Navigator::estimate`],
//!   [`speed_limit_at`]), modelling the controller of [`crate::drive`].
//! * `route`: the route composer across floors ([`Navigator::route`]): a small Dijkstra over
//!   the start, the goal and the elevator stops, whose same-floor legs are planned on demand.

mod estimate;
mod explain;
mod floor;
mod resolve;
mod route;
mod smooth;

use std::collections::HashMap;

use serde::Serialize;

use crate::costmap::{Costmap, CostmapOptions};
use crate::drive::DriveOptions;
use crate::elevator::{CarExit, Ride};
use crate::error::{MapError, OptionError, RideError};
use crate::geom::{Point, Pose};
use crate::robot::RobotModel;
use crate::search::{Landmarks, Objective, SearchGrid, SearchState};
use crate::site::Site;

pub use estimate::speed_limit_at;
pub use floor::LATTICE_CELLS;

/// Planner settings.
#[derive(Clone, Copy, Debug)]
pub struct PlannerOptions {
    /// What to minimise.
    pub objective: Objective,
    /// How strongly cost near walls lengthens a step (0: shortest, 3: keep to the middle).
    pub cost_weight: f64,
    /// Landmarks per floor for ALT heuristics (0: plain octile A*). Each costs one Dijkstra
    /// over the floor when the navigator is built and 4 bytes per cell.
    pub landmarks: usize,
    /// Costmap inflation.
    pub costmap: CostmapOptions,
    /// Length of the straight final approach to a goal with a heading, metres.
    pub final_approach_m: f64,
    /// Corners sharper than this stop the robot, which turns in place there, radians; the
    /// controller follows gentler ones without stopping. The estimate and the simulated
    /// controller use this one value.
    pub stop_turn_rad: f64,
    /// Costmap cells per search cell along each axis; 0 picks 1 for floors up to 4 million
    /// cells and 2 above (the route is still smoothed and checked at full resolution).
    pub downsample: usize,
    /// Heuristic weight of the grid search: 1 is exact A*; above 1 is weighted A*, faster,
    /// with a path cost at most that factor above the optimum.
    pub heuristic_weight: f64,
    /// The controller that the time and energy estimates model (door requests, the gap kept
    /// to a closed door); [`crate::drive::simulate`] with the same options drives what was
    /// estimated.
    pub drive: DriveOptions,
}

impl Default for PlannerOptions {
    fn default() -> Self {
        Self {
            objective: Objective::Fastest,
            cost_weight: 3.0,
            landmarks: 0,
            costmap: CostmapOptions::default(),
            final_approach_m: 1.0,
            stop_turn_rad: 0.2,
            downsample: 0,
            heuristic_weight: 1.0,
            drive: DriveOptions::default(),
        }
    }
}

/// Most landmark tables per floor ([`PlannerOptions::landmarks`]).
pub const MAX_LANDMARKS: usize = 64;
/// Largest search-grid downsampling factor ([`PlannerOptions::downsample`]).
pub const MAX_DOWNSAMPLE: usize = 16;

impl PlannerOptions {
    /// Checks every option; `Err` names the first one out of range.
    ///
    /// # Errors
    /// [`OptionError::OutOfRange`] naming the option, what was expected and what was given.
    pub fn validate(&self) -> Result<(), OptionError> {
        let checks = [
            ("cost_weight", self.cost_weight, 0.0, f64::INFINITY),
            (
                "final_approach_m",
                self.final_approach_m,
                0.0,
                f64::INFINITY,
            ),
            (
                "stop_turn_rad",
                self.stop_turn_rad,
                0.0,
                std::f64::consts::PI,
            ),
            (
                "heuristic_weight",
                self.heuristic_weight,
                1.0,
                f64::INFINITY,
            ),
            (
                "costmap.inflation_radius_m",
                self.costmap.inflation_radius_m,
                0.0,
                f64::INFINITY,
            ),
            (
                "costmap.cost_decay_per_m",
                self.costmap.cost_decay_per_m,
                0.0,
                f64::INFINITY,
            ),
        ];
        for (name, v, lo, hi) in checks {
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err(OptionError::out_of_range(
                    name,
                    format!("a finite number in [{lo}, {hi}]"),
                    crate::fmt_num(v),
                ));
            }
        }
        if self.landmarks > MAX_LANDMARKS {
            return Err(OptionError::out_of_range(
                "landmarks",
                format!("at most {MAX_LANDMARKS} (each is a table of 4 bytes per cell)"),
                self.landmarks.to_string(),
            ));
        }
        if self.downsample > MAX_DOWNSAMPLE {
            return Err(OptionError::out_of_range(
                "downsample",
                format!("0 (automatic) to {MAX_DOWNSAMPLE} costmap cells per search cell"),
                self.downsample.to_string(),
            ));
        }
        self.drive.validate().map_err(|e| e.within("drive"))
    }

    /// The search grid's downsampling factor for a costmap.
    pub fn factor_for(&self, cm: &Costmap) -> usize {
        match self.downsample {
            0 if cm.width * cm.height > 4_000_000 => 2,
            0 => 1,
            f => f,
        }
    }
}

/// A start or goal: where, on which floor, facing which way (if it matters).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    /// As the user wrote it (place name or coordinates).
    pub label: String,
    /// Floor number.
    pub floor: i32,
    /// Position, metres.
    pub point: Point,
    /// Required heading on arrival (goal) or current heading (start), radians.
    pub heading_rad: Option<f64>,
}

/// One floor's part of a route, or an elevator ride.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Leg {
    /// Driving on one floor.
    Drive {
        /// Floor number.
        floor: i32,
        /// The path's corners, start to end; straight lines between them.
        points: Vec<Point>,
        /// Heading at the end, radians.
        final_heading_rad: f64,
        /// Doors passed, by name.
        doors: Vec<String>,
        /// Length, metres.
        length_m: f64,
        /// Expected time, seconds.
        time_s: f64,
        /// Expected battery energy, joules.
        energy_j: f64,
    },
    /// An elevator ride: in from the stop on one floor, out to the stop on another.
    Elevator {
        /// Elevator name.
        name: String,
        /// From floor.
        from_floor: i32,
        /// To floor.
        to_floor: i32,
        /// Where the robot rides in the car, metres (the frame the floors' maps share).
        inside: Point,
        /// How it leaves the car (it turns in the car if there is room, else reverses out).
        exit: CarExit,
        /// Driven into and out of the car, metres.
        length_m: f64,
        /// Expected time (wait, doors, drive in, turn, travel, drive out), seconds.
        time_s: f64,
        /// Expected battery energy, joules.
        energy_j: f64,
    },
}

impl Leg {
    /// Expected time, seconds.
    pub fn time_s(&self) -> f64 {
        match self {
            Leg::Drive { time_s, .. } | Leg::Elevator { time_s, .. } => *time_s,
        }
    }

    /// Expected energy, joules.
    pub fn energy_j(&self) -> f64 {
        match self {
            Leg::Drive { energy_j, .. } | Leg::Elevator { energy_j, .. } => *energy_j,
        }
    }

    /// Driven length, metres.
    pub fn length_m(&self) -> f64 {
        match self {
            Leg::Drive { length_m, .. } | Leg::Elevator { length_m, .. } => *length_m,
        }
    }
}

/// A planned route.
#[derive(Clone, Debug, Serialize)]
pub struct Route {
    /// Start as given.
    pub from: String,
    /// Goal as given.
    pub to: String,
    /// What was minimised.
    pub objective: Objective,
    /// The robot's heading at the start, radians, when the start has one (a place's pose, or
    /// the robot's own pose when replanning); `None` for bare coordinates, where the route
    /// starts facing along its first segment.
    pub start_heading_rad: Option<f64>,
    /// Driven length, metres.
    pub length_m: f64,
    /// Expected time, seconds.
    pub time_s: f64,
    /// Expected battery energy, joules.
    pub energy_j: f64,
    /// Battery state of charge before and after, 0..=1.
    pub battery_soc: [f64; 2],
    /// The route as `[x, y, floor]` points in metres.
    pub path: Vec<[f64; 3]>,
    /// Its legs.
    pub legs: Vec<Leg>,
    /// Grid cells expanded by the searches.
    pub expansions: usize,
}

/// The route for people, as `roboct route` prints it: a summary line, then each leg (a
/// floor's drive with its doors, corners and final heading; an elevator ride).
impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "route {} -> {} ({}): {:.1} m, {:.0} s ({:.1} min), {:.0} J ({:.1} kJ), battery {:.1}% -> {:.1}%",
            self.from,
            self.to,
            match self.objective {
                Objective::Fastest => "fastest",
                Objective::LeastEnergy => "least energy",
            },
            self.length_m,
            self.time_s,
            self.time_s / 60.0,
            self.energy_j,
            self.energy_j / 1000.0,
            100.0 * self.battery_soc[0],
            100.0 * self.battery_soc[1]
        )?;
        for leg in &self.legs {
            write!(f, "{leg}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Leg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leg::Drive {
                floor,
                points,
                doors,
                length_m,
                time_s,
                energy_j,
                final_heading_rad,
            } => {
                write!(
                    f,
                    "  floor {floor}: drive {length_m:.1} m, {time_s:.0} s, {energy_j:.0} J"
                )?;
                if !doors.is_empty() {
                    write!(f, ", doors: {}", doors.join(", "))?;
                }
                writeln!(f)?;
                let corners: Vec<String> = points
                    .iter()
                    .map(|p| format!("({:.2}, {:.2})", p.x, p.y))
                    .collect();
                writeln!(f, "    path: {}", corners.join(" "))?;
                writeln!(
                    f,
                    "    final heading {:.0} deg",
                    final_heading_rad.to_degrees()
                )
            }
            Leg::Elevator {
                name,
                from_floor,
                to_floor,
                exit,
                time_s,
                energy_j,
                ..
            } => writeln!(
                f,
                "  {name}: floor {from_floor} -> {to_floor}, {time_s:.0} s (wait, doors, drive in, travel, {}), {energy_j:.0} J",
                match exit {
                    CarExit::Forward => "turn in the car, drive out",
                    CarExit::Reverse => "reverse out",
                }
            ),
        }
    }
}

/// Per-floor planning data.
struct FloorNav {
    costmap: Costmap,
    grid: SearchGrid,
    landmarks: Landmarks,
    state: SearchState,
}

/// A single-floor path before timing.
#[derive(Clone, Debug)]
pub struct FloorPath {
    /// Corners, start to end.
    pub points: Vec<Point>,
    /// Heading at the end.
    pub final_heading: f64,
    /// Cells expanded by the grid search.
    pub expansions: usize,
    /// Grid cost of the raw path.
    pub grid_cost: u32,
    /// The raw grid path's length, metres.
    pub grid_length_m: f64,
}

/// Expected time and energy of driving a path.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Estimate {
    /// Length, metres.
    pub length_m: f64,
    /// Seconds.
    pub time_s: f64,
    /// Joules.
    pub energy_j: f64,
}

/// Plans routes on a site for a robot.
pub struct Navigator {
    site: Site,
    robot: RobotModel,
    options: PlannerOptions,
    floors: Vec<FloorNav>,
    /// Checked elevator rides by `(elevator, from floor, to floor)`, planned on first use.
    rides: HashMap<(usize, i32, i32), Result<Ride, RideError>>,
}

impl Navigator {
    /// Builds the costmaps (and landmark tables, if asked) of every floor.
    ///
    /// # Errors
    /// [`MapError`] if the site is inconsistent ([`Site::check`]), a robot value or a
    /// planner option is invalid, or a costmap cannot be allocated.
    pub fn new(site: Site, robot: RobotModel, options: PlannerOptions) -> Result<Self, MapError> {
        use rayon::prelude::*;
        site.check()?;
        robot.validate().map_err(|e| MapError::Site {
            file: "<robot model>".into(),
            item: "robot".into(),
            message: e.to_string(),
        })?;
        options.validate().map_err(|e| MapError::Site {
            file: "<planner options>".into(),
            item: "options".into(),
            message: e.to_string(),
        })?;
        let floors = site
            .floors
            .par_iter()
            .map(|f| -> Result<FloorNav, MapError> {
                let costmap = Costmap::build(&site, f.number, &robot, options.costmap)?;
                let grid = SearchGrid::new(
                    &costmap,
                    &robot,
                    Some(&site),
                    options.objective,
                    options.cost_weight,
                    options.factor_for(&costmap),
                );
                let landmarks = Landmarks::build(&grid, options.landmarks);
                let state = SearchState::new(grid.weight.len());
                Ok(FloorNav {
                    costmap,
                    grid,
                    landmarks,
                    state,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            site,
            robot,
            options,
            floors,
            rides: HashMap::new(),
        })
    }

    /// The site.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// The robot.
    pub fn robot(&self) -> &RobotModel {
        &self.robot
    }

    /// The planner options.
    pub fn options(&self) -> &PlannerOptions {
        &self.options
    }

    /// The costmap of `floor`.
    pub fn costmap(&self, floor: i32) -> Option<&Costmap> {
        self.floor_index(floor).map(|i| &self.floors[i].costmap)
    }

    /// The search weights of `floor`.
    pub fn search_grid(&self, floor: i32) -> Option<&SearchGrid> {
        self.floor_index(floor).map(|i| &self.floors[i].grid)
    }

    /// Sets the grid search's heuristic weight (1: exact A*; values below 1 or not finite
    /// count as 1).
    pub fn set_heuristic_weight(&mut self, weight: f64) {
        self.options.heuristic_weight = if weight.is_finite() {
            weight.max(1.0)
        } else {
            1.0
        };
    }

    /// Builds (or rebuilds) `count` landmark tables on every floor.
    pub fn build_landmarks(&mut self, count: usize) {
        use rayon::prelude::*;
        self.options.landmarks = count;
        self.floors
            .par_iter_mut()
            .for_each(|f| f.landmarks = Landmarks::build(&f.grid, count));
    }

    /// The landmark tables of `floor`, if any were built.
    pub fn landmarks(&self, floor: i32) -> Option<&Landmarks> {
        self.floor_index(floor)
            .map(|i| &self.floors[i].landmarks)
            .filter(|l| !l.is_empty())
    }

    /// Bytes held by the landmark tables of `floor`.
    pub fn landmark_bytes(&self, floor: i32) -> usize {
        self.landmarks(floor).map_or(0, Landmarks::bytes)
    }

    fn floor_index(&self, floor: i32) -> Option<usize> {
        self.site.floors.iter().position(|f| f.number == floor)
    }

    /// Adds a dynamic obstacle on `floor` (seen while driving) and updates the costmap and the
    /// search weights around it. The landmark tables stay valid: obstacles only raise costs.
    pub fn add_obstacle(&mut self, floor: i32, area: &crate::geom::Polygon) {
        if let Some(fi) = self.floor_index(floor) {
            self.rides.clear();
            let f = &mut self.floors[fi];
            let window = f.costmap.add_obstacle(area);
            f.grid.update_window(&f.costmap, &self.robot, window);
        }
    }

    /// Removes every dynamic obstacle of `floor` (rebuilds its costmap and weights; the
    /// landmark tables are kept).
    ///
    /// # Errors
    /// [`MapError`] if the costmap cannot be rebuilt.
    pub fn clear_obstacles(&mut self, floor: i32) -> Result<(), MapError> {
        if let Some(fi) = self.floor_index(floor) {
            self.rides.clear();
            let costmap = Costmap::build(&self.site, floor, &self.robot, self.options.costmap)?;
            let grid = SearchGrid::new(
                &costmap,
                &self.robot,
                Some(&self.site),
                self.options.objective,
                self.options.cost_weight,
                self.options.factor_for(&costmap),
            );
            self.floors[fi].costmap = costmap;
            self.floors[fi].grid = grid;
        }
        Ok(())
    }
}

/// The robot's footprint at `pose`, map frame.
pub(crate) fn footprint_at(robot: &RobotModel, pose: Pose) -> crate::geom::Polygon {
    crate::geom::Polygon::new(
        robot
            .footprint
            .vertices
            .iter()
            .map(|&q| pose.map_from_robot(q))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::{FREE, OccupancyGrid};
    use crate::site::{Place, PlaceKind};

    fn room() -> Site {
        let g = OccupancyGrid::new(100, 80, 0.05, Point::new(0.0, 0.0), FREE).unwrap();
        Site::bare("room", g)
    }

    /// Each option out of range, one at a time: `Navigator::new` refuses it and names it.
    #[test]
    fn planner_and_drive_options_are_checked() {
        type Set = fn(&mut PlannerOptions);
        let cases: [(&str, Set); 10] = [
            ("cost_weight", |o| o.cost_weight = f64::NAN),
            ("final_approach_m", |o| o.final_approach_m = -1.0),
            ("stop_turn_rad", |o| o.stop_turn_rad = 4.0),
            ("heuristic_weight", |o| o.heuristic_weight = 0.5),
            ("costmap.inflation_radius_m", |o| {
                o.costmap.inflation_radius_m = f64::INFINITY;
            }),
            ("costmap.cost_decay_per_m", |o| {
                o.costmap.cost_decay_per_m = -3.0
            }),
            ("landmarks", |o| o.landmarks = 1000),
            ("downsample", |o| o.downsample = 1000),
            ("drive.dt_s", |o| o.drive.dt_s = 0.0),
            ("drive.lookahead_max_m", |o| {
                o.drive.lookahead_max_m = o.drive.lookahead_min_m / 2.0;
            }),
        ];
        for (name, set) in cases {
            let mut o = PlannerOptions::default();
            set(&mut o);
            let e = o.validate().unwrap_err().to_string();
            assert!(e.starts_with(name), "{name}: {e}");
            let e = Navigator::new(room(), RobotModel::default(), o)
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains(name), "{name}: {e}");
        }
        PlannerOptions::default().validate().unwrap();
        // A huge value is shown short.
        let o = PlannerOptions {
            final_approach_m: -1e300,
            ..Default::default()
        };
        assert!(
            o.validate()
                .unwrap_err()
                .to_string()
                .ends_with("got -1.000e300")
        );
    }

    /// A site built in code is checked as a loaded one is: no panic later for a place without
    /// a pose, a floor without cells or two floors with one number.
    #[test]
    fn sites_built_in_code_are_checked() {
        let mut s = room();
        s.places.push(Place {
            name: "nowhere".into(),
            kind: PlaceKind::Room,
            floor: 0,
            pose: None,
            bed: None,
        });
        let e = Navigator::new(s, RobotModel::default(), PlannerOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("place \"nowhere\"") && e.contains("pose"), "{e}");
        let mut s = room();
        s.floors.push(s.floors[0].clone());
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("unique"), "{e}");
        let mut s = room();
        s.floors[0].grid.cells.pop();
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("width x height"), "{e}");
        let mut s = room();
        s.floors.clear();
        assert!(s.check().is_err());
    }
}
