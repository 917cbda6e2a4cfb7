//! The route planner: places and coordinates to routes across floors and elevators, with the
//! expected time and energy.
//!
//! On each floor: A* on the costmap (centre of the robot on cell centres, 8-connected, cost
//! rising near walls so that routes keep to corridor centres), then footprint-aware smoothing
//! (a shortcut replaces part of the grid path only if the full footprint stays clear along it,
//! the turn in place at its start is clear, and it costs no more than the part it replaces),
//! and a heading-aware lattice search ([`crate::lattice`]) through passages where the robot
//! fits only at some headings. A goal with a heading (a bed's approach pose) is reached by a
//! straight final approach along that heading, so the gantry arrives coaxial with the bed.
//! Where the greedy smoothing finds no way, the lattice searches from the exact start to the
//! goal over the whole floor (or a window of [`LATTICE_CELLS`] around the way), so a way is
//! found whenever the lattice has one; where there is none, the error names what blocks it
//! (a start or goal the footprint does not fit, the goal's heading, unknown cells, a turn, a
//! passage too narrow at any heading) and where. `tests/completeness.rs` checks both against a
//! brute-force oracle.
//! Across floors: a small Dijkstra over the start, the goal and the elevator stops, whose
//! same-floor legs are planned on demand.

use std::collections::HashMap;

use roboct_core::CancelToken;
use serde::Serialize;

use crate::costmap::{Costmap, CostmapOptions};
use crate::drive::DriveOptions;
use crate::elevator::{self, CarExit, Ride};
use crate::error::{FloorError, MapError, OptionError, PlanError, RideError};
use crate::geom::{Point, Pose, wrap_angle};
use crate::lattice;
use crate::robot::RobotModel;
use crate::search::{Landmarks, Objective, SearchGrid, SearchState};
use crate::site::Site;

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

    /// Reads a location: a place name, or `x,y` / `x,y,floor` in metres (floor 0 by default
    /// on a one-floor site).
    ///
    /// # Errors
    /// [`PlanError::UnknownPlace`], [`PlanError::BadLocation`] or [`PlanError::UnknownFloor`].
    pub fn resolve(&self, text: &str, what: &'static str) -> Result<Target, PlanError> {
        let t = text.trim();
        if let Some(p) = self.site.place(t) {
            // `Site::check` (run by `new`) gives every place a pose or a bed.
            let (point, heading) = match (p.pose, p.bed) {
                (Some(pose), _) => (pose.point(), Some(pose.yaw_rad)),
                (None, Some(bed)) => {
                    let a = bed.approach(self.robot.front_m(), 0.3);
                    (a.point(), Some(a.yaw_rad))
                }
                (None, None) => {
                    return Err(PlanError::BadLocation {
                        text: t.to_string(),
                        expected: "a place with a pose or a bed".into(),
                    });
                }
            };
            return Ok(Target {
                label: t.to_string(),
                floor: p.floor,
                point,
                heading_rad: heading,
            });
        }
        let parts: Vec<&str> = t.split(',').map(str::trim).collect();
        let looks_numeric = parts.len() >= 2
            && parts
                .iter()
                .all(|s| s.parse::<f64>().is_ok() || s.parse::<i32>().is_ok());
        if !looks_numeric {
            return Err(PlanError::UnknownPlace {
                name: t.to_string(),
                site: self.site.source.clone(),
                suggestions: self.site.similar_places(t),
            });
        }
        let bad = |expected: &str| PlanError::BadLocation {
            text: t.to_string(),
            expected: expected.to_string(),
        };
        if parts.len() > 3 {
            return Err(bad("a place name or x,y[,floor] in metres"));
        }
        let x: f64 = parts[0].parse().map_err(|_| bad("x in metres"))?;
        let y: f64 = parts[1].parse().map_err(|_| bad("y in metres"))?;
        if !x.is_finite() || !y.is_finite() {
            return Err(bad("finite x and y in metres"));
        }
        let floor = match parts.get(2) {
            Some(f) => f
                .parse::<i32>()
                .map_err(|_| bad("the floor as a whole number, e.g. 2"))?,
            None if self.site.floors.len() == 1 => self.site.floors[0].number,
            None => {
                return Err(bad(&format!(
                    "x,y,floor: this site has several floors {:?}",
                    self.site
                        .floors
                        .iter()
                        .map(|f| f.number)
                        .collect::<Vec<_>>()
                )));
            }
        };
        if self.site.floor(floor).is_none() {
            return Err(PlanError::UnknownFloor {
                what,
                floor,
                site: self.site.source.clone(),
                known: self.site.floors.iter().map(|f| f.number).collect(),
            });
        }
        Ok(Target {
            label: t.to_string(),
            floor,
            point: Point::new(x, y),
            heading_rad: None,
        })
    }

    /// Checks that the robot can stand at `t`; `Err` says why not.
    fn check_target(&self, t: &Target, what: &'static str) -> Result<(), PlanError> {
        if !(t.point.x.is_finite() && t.point.y.is_finite())
            || t.heading_rad.is_some_and(|h| !h.is_finite())
        {
            return Err(PlanError::BadLocation {
                text: t.label.clone(),
                expected: format!("finite coordinates and heading for the {what}"),
            });
        }
        let Some(fi) = self.floor_index(t.floor) else {
            return Err(PlanError::UnknownFloor {
                what,
                floor: t.floor,
                site: self.site.source.clone(),
                known: self.site.floors.iter().map(|f| f.number).collect(),
            });
        };
        let cm = &self.floors[fi].costmap;
        if cm.cell_of(t.point).is_none() {
            let (x0, y0) = (cm.origin.x, cm.origin.y);
            let (x1, y1) = (
                x0 + cm.width as f64 * cm.resolution_m,
                y0 + cm.height as f64 * cm.resolution_m,
            );
            return Err(PlanError::OutsideMap {
                what,
                label: t.label.clone(),
                x: t.point.x,
                y: t.point.y,
                floor: t.floor,
                extent: [x0, y0, x1, y1],
            });
        }
        let blocked = |reason: String| PlanError::Blocked {
            what,
            label: t.label.clone(),
            x: t.point.x,
            y: t.point.y,
            floor: t.floor,
            reason,
        };
        if let Some(reason) = cm.why_blocked(t.point, Some(&self.site)) {
            return Err(blocked(reason));
        }
        if let Some(h) = t.heading_rad
            && !cm.footprint_free(Pose::new(t.point.x, t.point.y, h))
        {
            return Err(blocked(format!(
                "too tight for the robot's footprint facing {:.0} deg",
                h.to_degrees()
            )));
        }
        // Without a heading the robot may stand any way round, but it must fit one way: its
        // centre can be clear of walls (above) where its 1.6 m footprint fits at no heading
        // (a nook, a short dead end). Checked every degree.
        if t.heading_rad.is_none()
            && !(0..360).any(|deg| {
                let yaw = f64::from(deg).to_radians();
                cm.footprint_free(Pose::new(t.point.x, t.point.y, yaw))
            })
        {
            return Err(blocked(
                "too tight for the robot's footprint at any heading".into(),
            ));
        }
        Ok(())
    }

    /// Plans a route from `from` to `to` (place names or coordinates).
    ///
    /// # Errors
    /// [`PlanError`] naming the place, point or floor at fault.
    pub fn route(&mut self, from: &str, to: &str) -> Result<Route, PlanError> {
        let start = self.resolve(from, "start")?;
        let goal = self.resolve(to, "goal")?;
        self.route_between(&start, &goal, &CancelToken::new())
    }

    /// Plans a route between two resolved targets.
    ///
    /// # Errors
    /// [`PlanError`] naming the point or floor at fault.
    pub fn route_between(
        &mut self,
        start: &Target,
        goal: &Target,
        cancel: &CancelToken,
    ) -> Result<Route, PlanError> {
        self.check_target(start, "start")?;
        self.check_target(goal, "goal")?;
        // Nodes: 0 start, 1 goal, then every elevator stop: (floor, point, heading, elevator).
        let mut nodes: Vec<(i32, Point, Option<f64>, Option<usize>)> = vec![
            (start.floor, start.point, start.heading_rad, None),
            (goal.floor, goal.point, goal.heading_rad, None),
        ];
        for (ei, e) in self.site.elevators.iter().enumerate() {
            for &(floor, pose) in &e.stops {
                nodes.push((floor, pose.point(), Some(pose.yaw_rad), Some(ei)));
            }
        }
        let cost_of = |est: &Estimate, objective: Objective| match objective {
            Objective::Fastest => est.time_s,
            Objective::LeastEnergy => est.energy_j,
        };
        let objective = self.options.objective;
        // Dijkstra over the small node graph; drive legs planned lazily and cached.
        let n = nodes.len();
        let mut dist = vec![f64::INFINITY; n];
        let mut prev: Vec<Option<(usize, LegPlan)>> = vec![None; n];
        let mut done = vec![false; n];
        let mut cache: HashMap<(usize, usize), Option<LegPlan>> = HashMap::new();
        let mut failures: Vec<String> = Vec::new();
        let mut expansions = 0usize;
        dist[0] = 0.0;
        loop {
            if cancel.is_cancelled() {
                return Err(PlanError::Cancelled);
            }
            let Some(u) = (0..n)
                .filter(|&i| !done[i] && dist[i].is_finite())
                .min_by(|&a, &b| dist[a].total_cmp(&dist[b]))
            else {
                break;
            };
            done[u] = true;
            if u == 1 {
                break;
            }
            // The heading the robot has on arriving at u: after a ride, the one it leaves the
            // car with.
            let arrive_heading = match &prev[u] {
                Some((_, LegPlan::Ride { ride, .. })) => Some(ride.exit_pose.yaw_rad),
                Some((_, LegPlan::Drive { path, .. })) => Some(path.final_heading),
                None => nodes[u].2,
            };
            for v in 0..n {
                if done[v] || v == u {
                    continue;
                }
                // Elevator rides between stops of one elevator.
                if let (Some(eu), Some(ev)) = (nodes[u].3, nodes[v].3)
                    && eu == ev
                    && nodes[u].0 != nodes[v].0
                    && !matches!(prev[u], Some((_, LegPlan::Ride { .. })))
                {
                    match self.ride(eu, nodes[u].0, nodes[v].0) {
                        Ok(ride) => {
                            let est = ride.estimate(&self.robot, &self.site.elevators[eu]);
                            let d = dist[u] + cost_of(&est, objective);
                            if d < dist[v] {
                                dist[v] = d;
                                prev[v] = Some((
                                    u,
                                    LegPlan::Ride {
                                        elevator: eu,
                                        ride,
                                        est,
                                    },
                                ));
                            }
                        }
                        Err(why) => failures.push(format!(
                            "elevator {} from floor {} to floor {}: {why}",
                            self.site.elevators[eu].name, nodes[u].0, nodes[v].0
                        )),
                    }
                    continue;
                }
                // Drives: on the same floor, to the goal or to another elevator's stop.
                let same_elevator = nodes[u].3.is_some() && nodes[u].3 == nodes[v].3;
                if nodes[u].0 != nodes[v].0 || !(v == 1 || nodes[v].3.is_some()) || same_elevator {
                    continue;
                }
                let key = (u, v);
                let plan = match cache.get(&key) {
                    Some(p) => p.clone(),
                    None => {
                        let s = Target {
                            label: String::new(),
                            floor: nodes[u].0,
                            point: nodes[u].1,
                            heading_rad: arrive_heading,
                        };
                        let g = Target {
                            label: String::new(),
                            floor: nodes[v].0,
                            point: nodes[v].1,
                            heading_rad: nodes[v].2,
                        };
                        let r = self.plan_floor(&s, &g);
                        let p = match r {
                            Ok(path) => {
                                expansions += path.expansions;
                                let est = self.estimate(
                                    nodes[u].0,
                                    &path.points,
                                    s.heading_rad,
                                    path.final_heading,
                                );
                                Some(LegPlan::Drive { path, est })
                            }
                            Err(why) => {
                                if v == 1 || u == 0 {
                                    failures.push(why.to_string());
                                }
                                None
                            }
                        };
                        cache.insert(key, p.clone());
                        p
                    }
                };
                if let Some(p) = plan {
                    let d = dist[u] + cost_of(p.estimate(), objective);
                    if d < dist[v] {
                        dist[v] = d;
                        prev[v] = Some((u, p));
                    }
                }
            }
        }
        if !dist[1].is_finite() {
            let reason = if start.floor != goal.floor && self.site.elevators.is_empty() {
                format!(
                    "the goal is on floor {} and the start on floor {}, and the site has no elevators",
                    goal.floor, start.floor
                )
            } else {
                failures
                    .last()
                    .cloned()
                    .unwrap_or_else(|| "no elevator connects the two floors".into())
            };
            return Err(PlanError::Unreachable {
                from: start.label.clone(),
                to: goal.label.clone(),
                reason,
            });
        }
        // Walk back and assemble the legs.
        let mut chain = Vec::new();
        let mut cur = 1;
        while let Some((p, leg)) = prev[cur].clone() {
            chain.push((p, cur, leg));
            cur = p;
        }
        chain.reverse();
        let mut legs = Vec::new();
        let mut path = Vec::new();
        for (u, v, leg) in chain {
            match leg {
                LegPlan::Drive { path: fp, est } => {
                    let floor = nodes[u].0;
                    for p in &fp.points {
                        path.push([p.x, p.y, f64::from(floor)]);
                    }
                    legs.push(Leg::Drive {
                        floor,
                        doors: self.doors_on(floor, &fp.points),
                        final_heading_rad: fp.final_heading,
                        points: fp.points,
                        length_m: est.length_m,
                        time_s: est.time_s,
                        energy_j: est.energy_j,
                    });
                }
                LegPlan::Ride {
                    elevator,
                    ride,
                    est,
                } => {
                    // Into the car on one floor, out of it on the other.
                    let c = ride.inside;
                    path.push([c.x, c.y, f64::from(nodes[u].0)]);
                    path.push([c.x, c.y, f64::from(nodes[v].0)]);
                    legs.push(Leg::Elevator {
                        name: self.site.elevators[elevator].name.clone(),
                        from_floor: nodes[u].0,
                        to_floor: nodes[v].0,
                        inside: c,
                        exit: ride.exit,
                        length_m: est.length_m,
                        time_s: est.time_s,
                        energy_j: est.energy_j,
                    });
                }
            }
        }
        let length_m = legs.iter().map(Leg::length_m).sum();
        let time_s = legs.iter().map(Leg::time_s).sum();
        let energy_j: f64 = legs.iter().map(Leg::energy_j).sum();
        let battery = self.robot.battery;
        if energy_j > battery.available_j() {
            return Err(PlanError::Battery {
                need_pct: 100.0 * energy_j / battery.capacity_j,
                have_pct: 100.0 * battery.available_j() / battery.capacity_j,
                reserve_pct: 100.0 * battery.reserve,
            });
        }
        Ok(Route {
            from: start.label.clone(),
            to: goal.label.clone(),
            objective,
            start_heading_rad: start.heading_rad,
            length_m,
            time_s,
            energy_j,
            battery_soc: [battery.state_of_charge, battery.after(energy_j)],
            path,
            legs,
            expansions,
        })
    }

    /// The checked ride of elevator `e` from `from` to `to` (planned on first use).
    ///
    /// # Errors
    /// [`RideError`] saying which part of the ride does not fit the robot.
    pub fn ride(&mut self, e: usize, from: i32, to: i32) -> Result<Ride, RideError> {
        if let Some(r) = self.rides.get(&(e, from, to)) {
            return r.clone();
        }
        let elevator = self.site.elevators.get(e).ok_or(RideError::NoElevator(e))?;
        let r = match (self.costmap(from), self.costmap(to)) {
            (Some(a), Some(b)) => elevator::plan_ride(a, b, &self.robot, elevator, from, to),
            _ => Err(RideError::NoFloor { from, to }),
        };
        self.rides.insert((e, from, to), r.clone());
        r
    }

    /// Names of the doors a path passes through, in order.
    fn doors_on(&self, floor: i32, points: &[Point]) -> Vec<String> {
        let Some(cm) = self.costmap(floor) else {
            return vec![];
        };
        if cm.door.is_empty() {
            return vec![];
        }
        let mut out: Vec<String> = Vec::new();
        let mut last = 0u16;
        for w in points.windows(2) {
            let len = w[0].dist(w[1]);
            let steps = (len / cm.resolution_m).ceil().max(1.0) as usize;
            for k in 0..=steps {
                let p = w[0].lerp(w[1], k as f64 / steps as f64);
                if let Some((cx, cy)) = cm.cell_of(p) {
                    let d = cm.door[cy * cm.width + cx];
                    if d != 0 && d != last {
                        out.push(self.site.doors[d as usize - 1].name.clone());
                    }
                    last = d;
                }
            }
        }
        out
    }

    /// Plans on one floor from `start` to `goal` (same floor). `Err` says why not.
    ///
    /// First the fast pipeline (grid A*, footprint-aware smoothing, local lattices); if its
    /// greedy smoothing finds no footprint-clear way along the grid path, the heading-aware
    /// lattice from the exact start to the goal over the whole floor (or, on a floor of more
    /// than [`LATTICE_CELLS`] cells, a window around the grid path), which finds a way
    /// whenever its lattice has one. When neither finds one, the error says what blocks the
    /// way, found by relaxing one rule at a time as `tests/completeness.rs`'s oracle does:
    /// the heading required at the goal, unknown cells, turns in place; else the passage is
    /// too narrow for the footprint at any heading.
    ///
    /// # Errors
    /// [`FloorError::NoPath`] with a sentence saying why there is no path and where.
    pub fn plan_floor(&mut self, start: &Target, goal: &Target) -> Result<FloorPath, FloorError> {
        let fi = self
            .floor_index(start.floor)
            .ok_or(FloorError::NoFloor(start.floor))?;
        let options = self.options;
        match self.plan_floor_fast(fi, start, goal) {
            Ok(path) => Ok(path),
            Err(Miss::Other(reason)) => Err(FloorError::NoPath { reason }),
            Err(miss) => {
                let fnav = &self.floors[fi];
                let cm = &fnav.costmap;
                let mut free_turns = None;
                if let Miss::Footprint { raw, .. } = &miss {
                    // Cheap first: without a goal heading, the lattice can only succeed where
                    // its relaxation with free turns does.
                    let worth_it = goal.heading_rad.is_some() || {
                        let free = complete_lattice(cm, start, goal.point, None, raw, FREE_TURNS);
                        let found = free.is_some();
                        free_turns = Some(free);
                        found
                    };
                    if worth_it
                        && let Some(path) =
                            lattice_route(cm, &fnav.grid, start, goal, raw, &options)
                    {
                        return Ok(path);
                    }
                }
                Err(FloorError::NoPath {
                    reason: explain_miss(cm, start, goal, &miss, free_turns),
                })
            }
        }
    }

    /// The fast pipeline of [`Navigator::plan_floor`].
    fn plan_floor_fast(
        &mut self,
        fi: usize,
        start: &Target,
        goal: &Target,
    ) -> Result<FloorPath, Miss> {
        let options = self.options;
        let fnav = &mut self.floors[fi];
        let cm = &fnav.costmap;
        // Already there, or already on the final approach facing the goal: no search.
        if let Some(points) = already_on_approach(cm, start, goal, options.final_approach_m) {
            let final_heading = goal
                .heading_rad
                .or(start.heading_rad)
                .unwrap_or_else(|| points[0].heading_to(points[points.len() - 1]));
            if let Some(bad) = first_unclear(cm, &points, start.heading_rad, final_heading) {
                return Err(Miss::Footprint {
                    near: bad,
                    raw: points,
                });
            }
            return Ok(FloorPath {
                points,
                final_heading,
                expansions: 0,
                grid_cost: 0,
                grid_length_m: 0.0,
            });
        }
        // With a required heading, aim for a point behind the goal and finish straight in.
        let (target, final_leg) = approach_target(cm, goal, options.final_approach_m);
        let (sx, sy) = cm
            .cell_of(start.point)
            .ok_or_else(|| Miss::Other("the start is outside the map".into()))?;
        let (tx, ty) = cm
            .cell_of(target)
            .ok_or_else(|| Miss::Other("the goal is outside the map".into()))?;
        let s = nearest_open(&fnav.grid, fnav.grid.index(sx, sy));
        let t = nearest_open(&fnav.grid, fnav.grid.index(tx, ty));
        let lm = (!fnav.landmarks.is_empty()).then_some(&fnav.landmarks);
        let gp = fnav
            .state
            .weighted_astar(&fnav.grid, s, t, lm, options.heuristic_weight)
            .map_err(|_| Miss::NoCentrePath)?;
        let grid = &fnav.grid;
        let mut raw: Vec<Point> = gp.cells.iter().map(|&i| grid.centre(i, cm)).collect();
        raw[0] = start.point;
        let last = raw.len() - 1;
        raw[last] = target;
        let grid_length_m = raw.windows(2).map(|w| w[0].dist(w[1])).sum();
        let footprint_miss = |near: Point| Miss::Footprint {
            near,
            raw: raw.clone(),
        };
        let budget = std::cell::Cell::new(LOCAL_BUDGET);
        let mut points =
            smooth(cm, grid, &raw, start.heading_rad, &budget).map_err(footprint_miss)?;
        snap_end(cm, &mut points, target, start.heading_rad);
        let mut final_heading = if points.len() >= 2 {
            let n = points.len();
            points[n - 2].heading_to(points[n - 1])
        } else {
            start.heading_rad.unwrap_or(0.0)
        };
        if let Some(h) = final_leg {
            let end = *points.last().unwrap_or(&target);
            if !lattice::turn_free(cm, end, final_heading, h) && points.len() >= 2 {
                // Turning onto the approach axis needs more room: let the lattice find it.
                let n = points.len();
                let back = points[n - 2];
                // The robot arrives at `back` with the heading of the segment before it.
                let incoming = if n >= 3 {
                    points[n - 3].heading_to(back)
                } else {
                    start.heading_rad.unwrap_or_else(|| back.heading_to(end))
                };
                let m = lattice_between(cm, back, Some(incoming), end, Some(h), &budget)
                    .ok_or_else(|| footprint_miss(end))?;
                points.pop();
                points.extend(m.points.into_iter().skip(1));
            }
            points.push(goal.point);
            final_heading = h;
        } else if let Some(h) = goal.heading_rad {
            // No room for a straight final approach: turn to the heading at the goal.
            final_heading = h;
        }
        dedup(&mut points);
        // Last line of defence: the whole path, every straight move and every turn in place
        // (from the start heading to the goal heading), is checked once more with the full
        // footprint. Nothing unchecked leaves the planner.
        if let Some(bad) = first_unclear(cm, &points, start.heading_rad, final_heading) {
            return Err(footprint_miss(bad));
        }
        Ok(FloorPath {
            points,
            final_heading,
            expansions: gp.expansions,
            grid_cost: gp.cost,
            grid_length_m,
        })
    }

    /// Expected time and energy of driving `points` on `floor` the way the simulated
    /// controller ([`crate::drive`]) drives them: a velocity profile along the path under the
    /// speed zones and the slow-down near obstacles ([`speed_limit_at`]), with the acceleration
    /// and braking limits; a stop and a turn in place at the start (from `start_heading`), at
    /// every corner sharper than [`PlannerOptions::stop_turn_rad`] and at the end (to
    /// `final_heading`), each turn timed from the turning limits; and at each door the robot
    /// passes through, the request [`DriveOptions::door_request_m`] ahead of it and, if the
    /// door is not open by the time the robot would have to brake for it, a stop
    /// [`DriveOptions::stop_gap_m`] short of it and the wait until it opens. Energy: the
    /// electronics over the whole time, rolling resistance over the length, every rise in
    /// speed (braking is not recovered) and the wheel scrub of the turns.
    pub fn estimate(
        &self,
        floor: i32,
        points: &[Point],
        start_heading: Option<f64>,
        final_heading: f64,
    ) -> Estimate {
        let Some(cm) = self.costmap(floor) else {
            return Estimate::default();
        };
        let robot = &self.robot;
        let (acc, dec) = (robot.limits.max_accel_mps2, robot.limits.max_decel_mps2);
        let e = &robot.energy;
        let m = robot.mass_kg;
        // Boundaries of samples a cell long: position, heading, distance along the path, the
        // speed cap there (0 where the robot stops) and the turn in place there; each sample
        // between two boundaries has the controller's speed limit at its middle.
        let mut at: Vec<Pose> = Vec::new();
        let mut s_at = vec![0.0f64];
        let mut cap = vec![0.0f64];
        let mut turn_at = vec![0.0f64];
        let mut step: Vec<f64> = Vec::new();
        let mut vmax: Vec<f64> = Vec::new();
        let mut heading = start_heading;
        let ds = cm.resolution_m;
        let mut first = true;
        for w in points.windows(2) {
            let len = w[0].dist(w[1]);
            if len < 1e-9 {
                continue;
            }
            let h = w[0].heading_to(w[1]);
            let turn = heading.map_or(0.0, |p| wrap_angle(h - p).abs());
            let j = cap.len() - 1;
            if first || turn > self.options.stop_turn_rad {
                cap[j] = 0.0;
                turn_at[j] += turn;
            }
            if first {
                at.push(Pose::new(w[0].x, w[0].y, h));
            }
            first = false;
            heading = Some(h);
            let n = (len / ds).ceil().max(1.0) as usize;
            for i in 0..n {
                let mid = w[0].lerp(w[1], (i as f64 + 0.5) / n as f64);
                let end = w[0].lerp(w[1], (i + 1) as f64 / n as f64);
                vmax.push(speed_limit_at(cm, mid, robot));
                step.push(len / n as f64);
                s_at.push(s_at[s_at.len() - 1] + len / n as f64);
                at.push(Pose::new(end.x, end.y, h));
                cap.push(f64::INFINITY);
                turn_at.push(0.0);
            }
        }
        let nb = cap.len();
        cap[nb - 1] = 0.0;
        if let Some(h) = heading {
            turn_at[nb - 1] += wrap_angle(final_heading - h).abs();
        }
        let length_m = s_at[nb - 1];
        // Speeds at the boundaries under the caps: forward for acceleration, backward for
        // braking.
        let profile = |cap: &[f64]| -> Vec<f64> {
            let mut v = vec![0.0f64; nb];
            for i in 0..nb - 1 {
                let next_limit = vmax.get(i + 1).copied().unwrap_or(f64::INFINITY);
                v[i + 1] = (v[i] * v[i] + 2.0 * acc * step[i])
                    .sqrt()
                    .min(vmax[i])
                    .min(next_limit)
                    .min(cap[i + 1]);
            }
            for i in (0..nb - 1).rev() {
                v[i] = v[i].min((v[i + 1] * v[i + 1] + 2.0 * dec * step[i]).sqrt());
            }
            v
        };
        // Arrival time at each boundary, before its turn and any wait.
        let arrivals = |v: &[f64], wait: &[f64]| -> Vec<f64> {
            let mut t = vec![0.0f64; nb];
            for i in 0..nb - 1 {
                let dt = if v[i] + v[i + 1] > 1e-9 {
                    2.0 * step[i] / (v[i] + v[i + 1])
                } else {
                    robot.straight_move(step[i], vmax[i]).time_s
                };
                t[i + 1] = t[i] + robot.turn_time_s(turn_at[i]) + wait[i] + dt;
            }
            t
        };
        let no_wait = vec![0.0f64; nb];
        let index_at = |s: f64| s_at.partition_point(|&x| x < s - 1e-9).min(nb - 1);
        let crossings = self.door_crossings(cm, floor, &at, &s_at);
        let v1 = profile(&cap);
        let t1 = arrivals(&v1, &no_wait);
        // Doors that would still be closed when the robot has to brake for them: it stops.
        let mut cap2 = cap.clone();
        let mut stops: Vec<(usize, usize, f64)> = Vec::new();
        for c in &crossings {
            let (j_req, j_stop) = (index_at(c.s_request), index_at(c.s_stop));
            let brake_from = c.s_stop - robot.braking_distance_m(v1[j_stop]);
            if t1[j_req] + c.delay_s > t1[index_at(brake_from.max(0.0))] {
                cap2[j_stop] = 0.0;
                stops.push((j_req, j_stop, c.delay_s));
            }
        }
        let v = profile(&cap2);
        let mut wait = vec![0.0f64; nb];
        stops.sort_by_key(|s| s.1);
        for &(j_req, j_stop, delay) in &stops {
            let t = arrivals(&v, &wait);
            wait[j_stop] += (t[j_req] + delay - t[j_stop]).max(0.0);
        }
        let t = arrivals(&v, &wait);
        let time_s = t[nb - 1] + robot.turn_time_s(turn_at[nb - 1]) + wait[nb - 1];
        let mut energy_j = e.rolling_j(m, length_m) + e.idle_power_w * time_s;
        for i in 0..nb - 1 {
            if v[i + 1] > v[i] {
                energy_j += e.accelerate_j(m, v[i + 1]) - e.accelerate_j(m, v[i]);
            }
        }
        energy_j += turn_at.iter().map(|&a| e.turn_j(m, a)).sum::<f64>();
        Estimate {
            length_m,
            time_s,
            energy_j,
        }
    }

    /// The doors a path passes through (its centre enters the door's area), in order: where
    /// the controller asks each to open ([`DriveOptions::door_request_m`] before the centre
    /// reaches it), where it would stop for it while closed ([`DriveOptions::stop_gap_m`] and
    /// the sampling of its look-ahead short of where the footprint would first touch it), and
    /// how long the door takes to open.
    fn door_crossings(&self, cm: &Costmap, floor: i32, at: &[Pose], s_at: &[f64]) -> Vec<Crossing> {
        let o = self.options.drive;
        let reach = cm.circumscribed_m;
        let mut out = Vec::new();
        for d in self.site.doors.iter().filter(|d| d.floor == floor) {
            let (lo, hi) = d.area.bounds();
            let near = |p: Pose| {
                p.x >= lo.x - reach
                    && p.x <= hi.x + reach
                    && p.y >= lo.y - reach
                    && p.y <= hi.y + reach
            };
            let Some(j_in) = at
                .iter()
                .position(|&p| near(p) && d.area.contains(p.point()))
            else {
                continue;
            };
            let j_fp = at[..=j_in]
                .iter()
                .position(|&p| {
                    near(p) && crate::drive::convex_overlap(&d.area, &footprint_at(&self.robot, p))
                })
                .unwrap_or(j_in);
            out.push(Crossing {
                s_request: (s_at[j_in] - o.door_request_m).max(0.0),
                s_stop: (s_at[j_fp] - o.stop_gap_m - 0.05).max(0.0),
                delay_s: d.expected_wait_s(),
            });
        }
        out.sort_by(|a, b| a.s_stop.total_cmp(&b.s_stop));
        out
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

/// A door on a path, as the estimate sees it.
struct Crossing {
    /// Distance along the path where the controller asks it to open, metres.
    s_request: f64,
    /// Where the robot stops if it is still closed, metres.
    s_stop: f64,
    /// Seconds it takes to open once asked.
    delay_s: f64,
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

#[derive(Clone, Debug)]
enum LegPlan {
    Drive {
        path: FloorPath,
        est: Estimate,
    },
    Ride {
        elevator: usize,
        ride: Ride,
        est: Estimate,
    },
}

impl LegPlan {
    fn estimate(&self) -> &Estimate {
        match self {
            LegPlan::Drive { est, .. } | LegPlan::Ride { est, .. } => est,
        }
    }
}

/// The speed the controller allows at `p`: the speed zone's limit, lowered near obstacles
/// (regulated pure pursuit's proximity scaling): full speed with 0.5 m to spare beyond the
/// circumscribed radius, a third of it at the inscribed radius.
pub fn speed_limit_at(cm: &Costmap, p: Point, robot: &RobotModel) -> f64 {
    let Some((cx, cy)) = cm.cell_of(p) else {
        return 0.0;
    };
    let i = cy * cm.width + cx;
    let zone = cm.speed_at(i).min(robot.limits.max_speed_mps);
    let d = f64::from(cm.distance_m[i]) - cm.resolution_m / 2.0;
    let (lo, hi) = (cm.inscribed_m, cm.circumscribed_m + 0.5);
    let f = ((d - lo) / (hi - lo)).clamp(0.0, 1.0);
    zone * (1.0 / 3.0 + 2.0 / 3.0 * f)
}

/// The whole path when no search is needed: `[start]` when the start is the goal (1 mm), or
/// `[start, goal]` when the start lies on the goal's final approach (on the line up to
/// `approach_m` behind it, within 1 cm) facing the goal (or without a heading) and the way
/// is clear.
fn already_on_approach(
    cm: &Costmap,
    start: &Target,
    goal: &Target,
    approach_m: f64,
) -> Option<Vec<Point>> {
    if start.point.dist(goal.point) < 1e-3 {
        return Some(vec![start.point]);
    }
    let h = goal.heading_rad?;
    let (sn, cs) = h.sin_cos();
    let (dx, dy) = (goal.point.x - start.point.x, goal.point.y - start.point.y);
    let ahead = dx * cs + dy * sn;
    let lateral = -dx * sn + dy * cs;
    let facing = start
        .heading_rad
        .is_none_or(|s| wrap_angle(s - h).abs() < 0.02);
    (ahead > 0.0
        && ahead <= approach_m + 1e-9
        && lateral.abs() < 0.01
        && facing
        && lattice::segment_free(cm, start.point, goal.point))
    .then(|| vec![start.point, goal.point])
}

/// `i`, or the nearest open search cell within two cells of it (a downsampled block next to
/// a wall can be blocked while the exact start in it is not; the smoothing checks the short
/// way between them with the full footprint).
fn nearest_open(grid: &SearchGrid, i: usize) -> usize {
    if grid.weight[i] != crate::search::BLOCKED {
        return i;
    }
    let w = grid.w as isize;
    let mut best = i;
    let mut best_d = i64::MAX;
    for dy in -2isize..=2 {
        for dx in -2isize..=2 {
            let j = i as isize + dy * w + dx;
            if j < 0 || j as usize >= grid.weight.len() {
                continue;
            }
            let d = (dx * dx + dy * dy) as i64;
            if grid.weight[j as usize] != crate::search::BLOCKED && d < best_d {
                best = j as usize;
                best_d = d;
            }
        }
    }
    best
}

/// The first corner or segment of `points` where the footprint is not clear, driving
/// straight between corners and turning in place at them.
fn first_unclear(
    cm: &Costmap,
    points: &[Point],
    start_heading: Option<f64>,
    final_heading: f64,
) -> Option<Point> {
    let mut heading = start_heading;
    for w in points.windows(2) {
        if w[0].dist(w[1]) < 1e-9 {
            continue;
        }
        let h = w[0].heading_to(w[1]);
        if heading.is_some_and(|from| !lattice::turn_free(cm, w[0], from, h)) {
            return Some(w[0]);
        }
        if !lattice::segment_free(cm, w[0], w[1]) {
            return Some(w[0]);
        }
        heading = Some(h);
    }
    let last = *points.last()?;
    match heading {
        Some(from) if !lattice::turn_free(cm, last, from, final_heading) => Some(last),
        None if !cm.footprint_free(Pose::new(last.x, last.y, final_heading)) => Some(last),
        _ => None,
    }
}

/// A lattice manoeuvre ends within half a cell of its goal: move the last corner onto the
/// exact `target` if the footprint stays clear on the changed last segment and through the
/// changed turn before it.
fn snap_end(cm: &Costmap, points: &mut [Point], target: Point, start_heading: Option<f64>) {
    let n = points.len();
    if n < 2 || points[n - 1].dist(target) < 1e-9 {
        return;
    }
    let prev = points[n - 2];
    if prev.dist(target) < 1e-6 || !lattice::segment_free(cm, prev, target) {
        return;
    }
    let incoming = if n >= 3 {
        Some(points[n - 3].heading_to(prev))
    } else {
        start_heading
    };
    if incoming.is_none_or(|h| lattice::turn_free(cm, prev, h, prev.heading_to(target))) {
        points[n - 1] = target;
    }
}

fn dedup(points: &mut Vec<Point>) {
    points.dedup_by(|a, b| a.dist(*b) < 1e-6);
}

/// Why the fast pipeline of [`Navigator::plan_floor`] found no path.
#[derive(Debug)]
enum Miss {
    /// Not a question of room (a point off the map): the message.
    Other(String),
    /// The grid search found no way for the robot's centre with its inscribed radius clear.
    NoCentrePath,
    /// The robot's centre has a way (`raw`, the grid path), but the footprint-aware stages
    /// found none near `near`.
    Footprint { near: Point, raw: Vec<Point> },
}

/// Most cells of the window in which the complete lattice runs (the fallback of
/// [`Navigator::plan_floor`] and its diagnosis): 400 000 cells (1000 m^2 at 5 cm), 192 bytes
/// each while it runs.
pub const LATTICE_CELLS: usize = 400_000;

/// Most states the complete lattice expands.
const LATTICE_EXPANSIONS: usize = 6_000_000;

/// Where the path to a goal with a heading aims before its straight final approach, and that
/// heading; the goal itself and `None` when it has no heading or no room for the approach.
fn approach_target(cm: &Costmap, goal: &Target, approach_m: f64) -> (Point, Option<f64>) {
    if let Some(h) = goal.heading_rad {
        let mut l = approach_m;
        while l > 0.05 {
            let pre = goal.point.offset(h, -l);
            if cm.why_blocked(pre, None).is_none() && lattice::segment_free(cm, pre, goal.point) {
                return (pre, Some(h));
            }
            l -= 0.25;
        }
    }
    (goal.point, None)
}

/// The cells the complete lattice searches: the whole floor if it has at most
/// [`LATTICE_CELLS`], else the box around `points` with 3 m to spare, if that is small
/// enough.
fn lattice_window(cm: &Costmap, points: &[Point]) -> Option<(usize, usize, usize, usize)> {
    if cm.width * cm.height <= LATTICE_CELLS {
        return Some((0, 0, cm.width, cm.height));
    }
    let margin = (3.0 / cm.resolution_m).ceil() as usize;
    let cells: Vec<(usize, usize)> = points.iter().filter_map(|&p| cm.cell_of(p)).collect();
    let x0 = cells.iter().map(|c| c.0).min()?.saturating_sub(margin);
    let y0 = cells.iter().map(|c| c.1).min()?.saturating_sub(margin);
    let x1 = (cells.iter().map(|c| c.0).max()? + margin + 1).min(cm.width);
    let y1 = (cells.iter().map(|c| c.1).max()? + margin + 1).min(cm.height);
    ((x1 - x0) * (y1 - y0) <= LATTICE_CELLS).then_some((x0, y0, x1, y1))
}

/// The complete lattice from the exact start to `goal` (with its heading, if any) on `cm`,
/// in `window` (`None`: [`lattice_window`] of the start, the goal and `via`).
fn complete_lattice(
    cm: &Costmap,
    start: &Target,
    goal: Point,
    goal_heading: Option<f64>,
    via: &[Point],
    checks: lattice::Checks,
) -> Option<lattice::Manoeuvre> {
    let mut pts = vec![start.point, goal];
    pts.extend_from_slice(via);
    let window = lattice_window(cm, &pts)?;
    lattice::search_from(
        cm,
        start.point,
        start.heading_rad,
        goal,
        goal_heading,
        window,
        LATTICE_EXPANSIONS,
        checks,
    )
}

/// The fallback of [`Navigator::plan_floor`]: the complete lattice to the approach target,
/// then the final approach, the path tidied by the smoothing where it can be and checked
/// once more like every path. A goal with a heading is tried with the full straight final
/// approach, then half of it, then none (a turn in place at the goal), as the approach needs
/// room beside the way in.
fn lattice_route(
    cm: &Costmap,
    grid: &SearchGrid,
    start: &Target,
    goal: &Target,
    raw: &[Point],
    options: &PlannerOptions,
) -> Option<FloorPath> {
    let mut tried: Vec<Point> = Vec::new();
    for approach_m in [
        options.final_approach_m,
        options.final_approach_m / 2.0,
        0.0,
    ] {
        let (target, final_leg) = approach_target(cm, goal, approach_m);
        if tried.iter().any(|t| t.dist(target) < 1e-9) {
            continue;
        }
        tried.push(target);
        let Some(m) = complete_lattice(
            cm,
            start,
            target,
            goal.heading_rad,
            raw,
            lattice::Checks::default(),
        ) else {
            continue;
        };
        let finish = |mut points: Vec<Point>| -> Option<(Vec<Point>, f64)> {
            snap_end(cm, &mut points, target, start.heading_rad);
            let mut final_heading = match points.len() {
                0 | 1 => m.final_heading,
                n => points[n - 2].heading_to(points[n - 1]),
            };
            if let Some(h) = final_leg {
                points.push(goal.point);
                final_heading = h;
            } else if let Some(h) = goal.heading_rad {
                final_heading = h;
            }
            dedup(&mut points);
            first_unclear(cm, &points, start.heading_rad, final_heading)
                .is_none()
                .then_some((points, final_heading))
        };
        let budget = std::cell::Cell::new(LOCAL_BUDGET);
        let tidy = smooth(cm, grid, &m.points, start.heading_rad, &budget).ok();
        if let Some((points, final_heading)) =
            tidy.and_then(&finish).or_else(|| finish(m.points.clone()))
        {
            let grid_length_m = m.points.windows(2).map(|w| w[0].dist(w[1])).sum();
            return Some(FloorPath {
                points,
                final_heading,
                expansions: m.expansions,
                grid_cost: 0,
                grid_length_m,
            });
        }
    }
    None
}

/// The first pose along `points` (driven as the robot drives them: a turn at each corner,
/// then straight) whose footprint is not clear on `cm`, and whether it is in a turn.
fn first_blocked_pose(
    cm: &Costmap,
    points: &[Point],
    start_heading: Option<f64>,
) -> Option<(Pose, bool)> {
    let mut heading = start_heading;
    for w in points.windows(2) {
        if w[0].dist(w[1]) < 1e-9 {
            continue;
        }
        let h = w[0].heading_to(w[1]);
        if let Some(from) = heading
            && !lattice::turn_free(cm, w[0], from, h)
        {
            return Some((Pose::new(w[0].x, w[0].y, from), true));
        }
        let steps = ((w[0].dist(w[1]) / cm.resolution_m).ceil() as usize).max(1);
        for k in 0..=steps {
            let p = w[0].lerp(w[1], k as f64 / steps as f64);
            if !cm.footprint_free(Pose::new(p.x, p.y, h)) {
                return Some((Pose::new(p.x, p.y, h), false));
            }
        }
        heading = Some(h);
    }
    None
}

/// The lattice's relaxation with free turns (diagnosis only).
const FREE_TURNS: lattice::Checks = lattice::Checks {
    turns: false,
    coarse: false,
};

/// What blocks the way when [`Navigator::plan_floor`] finds none, as a sentence starting
/// "on floor N, ": relaxing one rule at a time (like the completeness oracle of
/// `tests/completeness.rs`), the heading required at the goal, unknown cells, turns in place;
/// else the passage is too narrow for the footprint at any heading. Each relaxed search runs
/// only where its relaxation with free turns finds a way (it cannot otherwise).
/// `free_turns`: the relaxation with free turns to the goal, if already run.
fn explain_miss(
    cm: &Costmap,
    start: &Target,
    goal: &Target,
    miss: &Miss,
    free_turns: Option<Option<lattice::Manoeuvre>>,
) -> String {
    let floor = start.floor;
    let at = |p: Point| format!("({}, {})", crate::fmt_m(p.x), crate::fmt_m(p.y));
    let raw: &[Point] = match miss {
        Miss::Other(why) => return why.clone(),
        Miss::NoCentrePath => &[],
        Miss::Footprint { raw, .. } => raw,
    };
    let reachable = |cm: &Costmap, heading: Option<f64>, checks: lattice::Checks| {
        complete_lattice(cm, start, goal.point, heading, raw, checks)
    };
    // Both the relaxation with free turns and the full search.
    let reachable_fully = |cm: &Costmap, heading: Option<f64>| {
        reachable(cm, heading, FREE_TURNS)
            .and_then(|_| reachable(cm, heading, lattice::Checks::default()))
    };
    if !raw.is_empty()
        && let Some(h) = goal.heading_rad
        && reachable_fully(cm, None).is_some()
    {
        return format!(
            "on floor {floor}, the robot can reach the goal {} but not facing {:.0} deg: there is no room to turn onto that heading on the way to it",
            at(goal.point),
            h.to_degrees()
        );
    }
    // Unknown cells: would there be a way if they were free space?
    let mut pts = vec![start.point, goal.point];
    pts.extend_from_slice(raw);
    if let Some(window) = lattice_window(cm, &pts) {
        let (x0, y0, x1, y1) = window;
        let unknown = (y0..y1).any(|cy| {
            cm.kind[cy * cm.width + x0..cy * cm.width + x1]
                .contains(&(crate::costmap::CellKind::Unknown as u8))
        });
        if unknown {
            let relaxed = cm.window(window, true);
            if let Some(m) = reachable_fully(&relaxed, goal.heading_rad) {
                // The relaxed route may brush unknown cells where the robot could pass
                // anyway; name where it leaves, for good, what the robot can reach on the
                // real map (even with free turns): there the unknown cells stop it.
                let reach =
                    lattice::reachable_positions(cm, start.point, start.heading_rad, window);
                let from = reach.map_or(0, |reach| {
                    m.points
                        .iter()
                        .rposition(|&p| reach.near(p, 0.3))
                        .unwrap_or(0)
                });
                let places: Vec<String> = blocked_stretches(cm, &m.points[from..], None, 3)
                    .into_iter()
                    .map(at)
                    .collect();
                let near = match places.len() {
                    0 => at(goal.point),
                    1 => places[0].clone(),
                    n => format!("{} and {}", places[..n - 1].join(", "), places[n - 1]),
                };
                return format!(
                    "on floor {floor}, unknown (unmapped) cells block the way near {near}: the robot would fit if they were free space (map that part again, or mark it free if it is)"
                );
            }
        }
    }
    if raw.is_empty() {
        return format!(
            "on floor {floor}, no way wide enough for the robot leads from {} to {}",
            at(start.point),
            at(goal.point)
        );
    }
    // Turns: would there be a way if turning in place needed no room?
    let free = match free_turns {
        Some(free) if goal.heading_rad.is_none() => free,
        _ => reachable(cm, goal.heading_rad, FREE_TURNS),
    };
    if let Some(m) = free {
        if let Some((pose, true)) = first_blocked_pose(cm, &m.points, start.heading_rad) {
            return format!(
                "on floor {floor}, the robot cannot turn at {}: there is no room to turn in place there, and no other way avoids that turn",
                at(pose.point())
            );
        }
        return format!(
            "on floor {floor}, the robot cannot turn where it would have to on the way from {} to {}: there is no room to turn in place",
            at(start.point),
            at(goal.point)
        );
    }
    // The footprint fits at no heading somewhere along the way.
    let no_fit = raw.iter().find(|p| {
        !(0..72).any(|k| {
            let yaw = f64::from(k) * std::f64::consts::TAU / 72.0;
            cm.footprint_free(Pose::new(p.x, p.y, yaw))
        })
    });
    let near = match miss {
        Miss::Footprint { near, .. } => *near,
        _ => start.point,
    };
    match no_fit {
        Some(&p) => format!(
            "on floor {floor}, the passage near {} is too narrow for the robot's footprint at any heading",
            at(p)
        ),
        None if lattice_window(cm, &pts).is_none() => format!(
            "on floor {floor}, no footprint-clear way was found near {}; the way is too long for the complete search that would tell why (it covers at most {LATTICE_CELLS} cells around the way)",
            at(near)
        ),
        None => format!(
            "on floor {floor}, the passage near {} is too narrow for the robot's footprint",
            at(near)
        ),
    }
}

/// Where `points` (driven as the robot drives them) stop being clear on `cm`: the first pose
/// of each stretch of poses that are not, at most `most` of them.
fn blocked_stretches(
    cm: &Costmap,
    points: &[Point],
    start_heading: Option<f64>,
    most: usize,
) -> Vec<Point> {
    let mut out = Vec::new();
    let mut blocked = false;
    let mut heading = start_heading;
    let mut note = |clear: bool, p: Point, out: &mut Vec<Point>| {
        if !clear && !blocked && out.len() < most {
            out.push(p);
        }
        blocked = !clear;
    };
    for w in points.windows(2) {
        if w[0].dist(w[1]) < 1e-9 {
            continue;
        }
        let h = w[0].heading_to(w[1]);
        if let Some(from) = heading {
            note(lattice::turn_free(cm, w[0], from, h), w[0], &mut out);
        }
        let steps = ((w[0].dist(w[1]) / cm.resolution_m).ceil() as usize).max(1);
        for k in 0..=steps {
            let p = w[0].lerp(w[1], k as f64 / steps as f64);
            note(cm.footprint_free(Pose::new(p.x, p.y, h)), p, &mut out);
        }
        heading = Some(h);
    }
    out
}

/// Most states one local lattice search of the smoothing expands.
const LOCAL_EXPANSIONS: usize = 400_000;

/// Most states the local lattice searches of one floor plan expand together: where they keep
/// failing (a way the greedy smoothing cannot take), the complete lattice of
/// [`Navigator::plan_floor`] takes over rather than a local search at every point of the way.
const LOCAL_BUDGET: usize = 600_000;

/// Runs the lattice in a window around `start` and `goal`, with 16 then 32 headings, growing
/// the window twice if needed, within
/// what is left of `budget` (expansions); `start_heading` `None`: the robot may leave in any
/// direction.
fn lattice_between(
    cm: &Costmap,
    start: Point,
    start_heading: Option<f64>,
    goal: Point,
    goal_heading: Option<f64>,
    budget: &std::cell::Cell<usize>,
) -> Option<lattice::Manoeuvre> {
    // The 16 headings first (cheaper), then all 32, in each window.
    for (margin_m, coarse) in [
        (1.5, true),
        (1.5, false),
        (3.0, true),
        (3.0, false),
        (6.0, true),
        (6.0, false),
    ] {
        if budget.get() == 0 {
            return None;
        }
        let r = cm.resolution_m;
        let lo = Point::new(
            start.x.min(goal.x) - margin_m,
            start.y.min(goal.y) - margin_m,
        );
        let hi = Point::new(
            start.x.max(goal.x) + margin_m,
            start.y.max(goal.y) + margin_m,
        );
        let to = |v: f64, o: f64, n: usize| (((v - o) / r).floor().max(0.0) as usize).min(n);
        let window = (
            to(lo.x, cm.origin.x, cm.width),
            to(lo.y, cm.origin.y, cm.height),
            to(hi.x, cm.origin.x, cm.width),
            to(hi.y, cm.origin.y, cm.height),
        );
        let limit = LOCAL_EXPANSIONS.min(budget.get());
        let (found, used) = lattice::search_counted(
            cm,
            start,
            start_heading,
            goal,
            goal_heading,
            window,
            limit,
            lattice::Checks {
                coarse,
                ..Default::default()
            },
        );
        budget.set(budget.get() - used.min(budget.get()));
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Footprint-aware smoothing of a grid path. Returns the corners, or the point where no
/// footprint-feasible continuation exists.
///
/// Greedy string pulling (the farthest raw point reachable by a valid straight line, found by
/// galloping then bisecting), with three rules: a shortcut must keep the full footprint clear
/// along it and through the turn at its start; it may cost at most 2 % more than the stretch
/// of grid path it replaces (so smoothing never pulls the route to the walls); and it must end
/// where the robot can turn freely (or at the end), so the next shortcut can leave in any
/// direction. Where no such shortcut exists (a door, a bed bay), the lattice finds the
/// manoeuvre to the next point where the robot can turn freely.
fn smooth(
    cm: &Costmap,
    grid: &SearchGrid,
    raw: &[Point],
    start_heading: Option<f64>,
    budget: &std::cell::Cell<usize>,
) -> Result<Vec<Point>, Point> {
    let extra = cm.check_extra_m;
    let n = raw.len();
    let mut out = vec![raw[0]];
    if n == 1 {
        return Ok(out);
    }
    // Cost of the raw polyline up to each point, measured like the shortcuts.
    let mut cum = vec![0.0f64; n];
    for k in 1..n {
        cum[k] = cum[k - 1] + line_cost(cm, grid, raw[k - 1], raw[k]).unwrap_or(f64::INFINITY);
    }
    let turn_anywhere: Vec<bool> = raw
        .iter()
        .map(|&p| {
            cm.cell_of(p).is_some_and(|(cx, cy)| {
                let d = f64::from(cm.distance_m[cy * cm.width + cx]);
                d - cm.resolution_m * std::f64::consts::SQRT_2 >= cm.circumscribed_m + extra
            })
        })
        .collect();
    let valid = |i: usize, j: usize, heading: Option<f64>, anywhere: bool| -> bool {
        if anywhere && !(turn_anywhere[j] || j == n - 1) {
            return false;
        }
        let (a, b) = (raw[i], raw[j]);
        if a.dist(b) < 1e-9 {
            return true;
        }
        if let Some(h) = heading
            && !lattice::turn_free(cm, a, h, a.heading_to(b))
        {
            return false;
        }
        match line_cost(cm, grid, a, b) {
            Some(c) if c <= (cum[j] - cum[i]) * 1.02 + 1e-6 => {}
            _ => return false,
        }
        lattice::segment_free(cm, a, b)
    };
    let farthest = |i: usize, heading: Option<f64>, anywhere: bool| -> usize {
        let mut good = i;
        let mut step = 1;
        let mut bad = n;
        while i + step < n {
            if valid(i, i + step, heading, anywhere) {
                good = i + step;
                step *= 2;
            } else {
                bad = i + step;
                break;
            }
        }
        if bad == n && good < n - 1 {
            if valid(i, n - 1, heading, anywhere) {
                return n - 1;
            }
            bad = n - 1;
        }
        let (mut lo, mut hi) = (good, bad);
        while hi > lo + 1 {
            let mid = (lo + hi) / 2;
            if valid(i, mid, heading, anywhere) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        if lo == i {
            // The predicate is not monotone: scan the near points once.
            return (i + 1..n.min(i + 40))
                .find(|&j| valid(i, j, heading, anywhere))
                .unwrap_or(i);
        }
        lo
    };
    let mut i = 0usize;
    let mut heading = start_heading;
    while i < n - 1 {
        let good = farthest(i, heading, true);
        if good > i {
            let (a, b) = (raw[i], raw[good]);
            if a.dist(b) > 1e-9 {
                heading = Some(a.heading_to(b));
            }
            out.push(b);
            i = good;
            continue;
        }
        // A tight stretch: the manoeuvre to the next point where the robot can turn freely.
        let here = raw[i];
        let mut k = i + 1;
        while k < n - 1 && (!turn_anywhere[k] || raw[k].dist(here) < 0.3) {
            k += 1;
        }
        if let Some(m) = lattice_between(cm, here, heading, raw[k], None, budget) {
            out.extend(m.points.into_iter().skip(1));
            heading = Some(m.final_heading);
            if k == n - 1 {
                break;
            }
            let end = *out.last().unwrap_or(&raw[k]);
            // Go on from the lattice's end (within half a cell of raw[k]).
            let mut rest_raw = raw[k..].to_vec();
            rest_raw[0] = end;
            let rest = smooth(cm, grid, &rest_raw, heading, budget)?;
            out.extend(rest.into_iter().skip(1));
            break;
        }
        // Last resort: a shortcut that ends where the robot cannot turn freely.
        let good = farthest(i, heading, false);
        if good == i {
            return Err(here);
        }
        heading = Some(raw[i].heading_to(raw[good]));
        out.push(raw[good]);
        i = good;
    }
    // Merge collinear corners.
    let mut merged: Vec<Point> = Vec::with_capacity(out.len());
    for p in out {
        if merged.len() >= 2 {
            let a = merged[merged.len() - 2];
            let b = merged[merged.len() - 1];
            let cross = (b.x - a.x) * (p.y - b.y) - (b.y - a.y) * (p.x - b.x);
            let dot = (b.x - a.x) * (p.x - b.x) + (b.y - a.y) * (p.y - b.y);
            if cross.abs() < 1e-9 && dot > 0.0 {
                merged.pop();
            }
        }
        merged.push(p);
    }
    Ok(merged)
}

/// Grid cost of the straight line `a`-`b` in the units of [`SearchGrid`] weights, or `None` if
/// it crosses a blocked cell.
fn line_cost(cm: &Costmap, grid: &SearchGrid, a: Point, b: Point) -> Option<f64> {
    let len = a.dist(b);
    let half = cm.resolution_m / 2.0;
    let steps = (len / half).ceil().max(1.0) as usize;
    let mut sum = 0.0;
    for k in 0..steps {
        let p = a.lerp(b, (k as f64 + 0.5) / steps as f64);
        let (cx, cy) = cm.cell_of(p)?;
        let w = grid.weight[grid.index(cx, cy)];
        if w == crate::search::BLOCKED {
            return None;
        }
        sum += f64::from(w) / grid.factor as f64;
    }
    Some(sum * (len / half) / steps as f64)
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
