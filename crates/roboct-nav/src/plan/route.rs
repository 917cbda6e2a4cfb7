//! The route composer across floors: a small Dijkstra over the start, the goal and the
//! elevator stops, whose same-floor legs ([`Navigator::plan_floor`]) and elevator rides
//! ([`Navigator::ride`]) are planned on demand, then the legs assembled into a [`Route`] with
//! its time and energy.

use std::collections::HashMap;

use roboct_core::CancelToken;

use crate::elevator::{self, Ride};
use crate::error::{PlanError, RideError};
use crate::geom::Point;
use crate::search::Objective;

use super::{Estimate, FloorPath, Leg, Navigator, Route, Target};

impl Navigator {
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
        let nodes = self.route_nodes(start, goal);
        // Dijkstra over the small node graph; drive legs planned lazily and cached.
        let mut dj = Dijkstra::new(nodes.len());
        loop {
            if cancel.is_cancelled() {
                return Err(PlanError::Cancelled);
            }
            let Some(u) = dj.closest_open() else {
                break;
            };
            dj.done[u] = true;
            if u == GOAL {
                break;
            }
            self.relax_from(&nodes, u, &mut dj);
        }
        if !dj.dist[GOAL].is_finite() {
            return Err(self.unreachable(start, goal, &dj.failures));
        }
        let (legs, path) = self.assemble(&nodes, &dj.prev);
        self.finish_route(start, goal, legs, path, dj.expansions)
    }

    /// The route graph's nodes: the start, the goal, then every elevator stop.
    fn route_nodes(&self, start: &Target, goal: &Target) -> Vec<Node> {
        let mut nodes = vec![
            Node {
                floor: start.floor,
                point: start.point,
                heading_rad: start.heading_rad,
                elevator: None,
            },
            Node {
                floor: goal.floor,
                point: goal.point,
                heading_rad: goal.heading_rad,
                elevator: None,
            },
        ];
        for (ei, e) in self.site.elevators.iter().enumerate() {
            for &(floor, pose) in &e.stops {
                nodes.push(Node {
                    floor,
                    point: pose.point(),
                    heading_rad: Some(pose.yaw_rad),
                    elevator: Some(ei),
                });
            }
        }
        nodes
    }

    /// Relaxes the edges out of the settled node `u`: elevator rides to the stops of its
    /// elevator on other floors, and drives on its floor to the goal or another elevator's
    /// stop.
    fn relax_from(&mut self, nodes: &[Node], u: usize, dj: &mut Dijkstra) {
        let objective = self.options.objective;
        // The heading the robot has on arriving at u: after a ride, the one it leaves the
        // car with.
        let arrive_heading = match &dj.prev[u] {
            Some((_, LegPlan::Ride { ride, .. })) => Some(ride.exit_pose.yaw_rad),
            Some((_, LegPlan::Drive { path, .. })) => Some(path.final_heading),
            None => nodes[u].heading_rad,
        };
        let (a, n) = (nodes[u], nodes.len());
        for v in 0..n {
            if dj.done[v] || v == u {
                continue;
            }
            let b = nodes[v];
            // Elevator rides between stops of one elevator.
            if let (Some(eu), Some(ev)) = (a.elevator, b.elevator)
                && eu == ev
                && a.floor != b.floor
                && !matches!(dj.prev[u], Some((_, LegPlan::Ride { .. })))
            {
                match self.ride(eu, a.floor, b.floor) {
                    Ok(ride) => {
                        let est = ride.estimate(&self.robot, &self.site.elevators[eu]);
                        let plan = LegPlan::Ride {
                            elevator: eu,
                            ride,
                            est,
                        };
                        dj.relax(u, v, plan, objective);
                    }
                    Err(why) => dj.failures.push(format!(
                        "elevator {} from floor {} to floor {}: {why}",
                        self.site.elevators[eu].name, a.floor, b.floor
                    )),
                }
                continue;
            }
            // Drives: on the same floor, to the goal or to another elevator's stop.
            let same_elevator = a.elevator.is_some() && a.elevator == b.elevator;
            if a.floor != b.floor || !(v == GOAL || b.elevator.is_some()) || same_elevator {
                continue;
            }
            if let Some(plan) = self.drive_plan(nodes, (u, v), arrive_heading, dj) {
                dj.relax(u, v, plan, objective);
            }
        }
    }

    /// The drive from node `u` to node `v` (same floor), arriving at `u` with
    /// `arrive_heading`: planned and estimated on first use, then cached; `None` where there
    /// is no way (the reason noted among the failures when the drive leaves the start or
    /// reaches the goal).
    fn drive_plan(
        &mut self,
        nodes: &[Node],
        (u, v): (usize, usize),
        arrive_heading: Option<f64>,
        dj: &mut Dijkstra,
    ) -> Option<LegPlan> {
        if let Some(p) = dj.cache.get(&(u, v)) {
            return p.clone();
        }
        let s = Target {
            label: String::new(),
            floor: nodes[u].floor,
            point: nodes[u].point,
            heading_rad: arrive_heading,
        };
        let g = Target {
            label: String::new(),
            floor: nodes[v].floor,
            point: nodes[v].point,
            heading_rad: nodes[v].heading_rad,
        };
        let p = match self.plan_floor(&s, &g) {
            Ok(path) => {
                dj.expansions += path.expansions;
                let est = self.estimate(
                    nodes[u].floor,
                    &path.points,
                    s.heading_rad,
                    path.final_heading,
                );
                Some(LegPlan::Drive { path, est })
            }
            Err(why) => {
                if v == GOAL || u == START {
                    dj.failures.push(why.to_string());
                }
                None
            }
        };
        dj.cache.insert((u, v), p.clone());
        p
    }

    /// Why the goal cannot be reached: the site has no elevator between the floors, or the
    /// last failure met on the way.
    fn unreachable(&self, start: &Target, goal: &Target, failures: &[String]) -> PlanError {
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
        PlanError::Unreachable {
            from: start.label.clone(),
            to: goal.label.clone(),
            reason,
        }
    }

    /// The legs from the start to the goal, walking back from the goal, and the route as
    /// `[x, y, floor]` points.
    fn assemble(
        &self,
        nodes: &[Node],
        prev: &[Option<(usize, LegPlan)>],
    ) -> (Vec<Leg>, Vec<[f64; 3]>) {
        let mut chain = Vec::new();
        let mut cur = GOAL;
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
                    let floor = nodes[u].floor;
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
                    path.push([c.x, c.y, f64::from(nodes[u].floor)]);
                    path.push([c.x, c.y, f64::from(nodes[v].floor)]);
                    legs.push(Leg::Elevator {
                        name: self.site.elevators[elevator].name.clone(),
                        from_floor: nodes[u].floor,
                        to_floor: nodes[v].floor,
                        inside: c,
                        exit: ride.exit,
                        length_m: est.length_m,
                        time_s: est.time_s,
                        energy_j: est.energy_j,
                    });
                }
            }
        }
        (legs, path)
    }

    /// The route of `legs`, with its totals, if the battery holds the energy it needs.
    fn finish_route(
        &self,
        start: &Target,
        goal: &Target,
        legs: Vec<Leg>,
        path: Vec<[f64; 3]>,
        expansions: usize,
    ) -> Result<Route, PlanError> {
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
            objective: self.options.objective,
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

/// The route graph's start node.
const START: usize = 0;
/// The route graph's goal node.
const GOAL: usize = 1;

/// A node of the route graph: the start, the goal or an elevator stop.
#[derive(Clone, Copy, Debug)]
struct Node {
    floor: i32,
    point: Point,
    /// The start's heading, the heading required at the goal, or the heading of the stop.
    heading_rad: Option<f64>,
    /// The elevator of a stop.
    elevator: Option<usize>,
}

/// Dijkstra's state over the route graph.
struct Dijkstra {
    /// Cost (seconds or joules, by the objective) from the start.
    dist: Vec<f64>,
    /// The node before and the leg from it, on the best way found so far.
    prev: Vec<Option<(usize, LegPlan)>>,
    /// Settled nodes.
    done: Vec<bool>,
    /// Drive legs planned so far by `(from node, to node)`; `None`: no way.
    cache: HashMap<(usize, usize), Option<LegPlan>>,
    /// Why legs failed, in order.
    failures: Vec<String>,
    /// Grid cells expanded by the floor searches.
    expansions: usize,
}

impl Dijkstra {
    fn new(n: usize) -> Self {
        let mut dist = vec![f64::INFINITY; n];
        dist[START] = 0.0;
        Self {
            dist,
            prev: vec![None; n],
            done: vec![false; n],
            cache: HashMap::new(),
            failures: Vec::new(),
            expansions: 0,
        }
    }

    /// The unsettled node nearest the start, if any is reachable.
    fn closest_open(&self) -> Option<usize> {
        (0..self.dist.len())
            .filter(|&i| !self.done[i] && self.dist[i].is_finite())
            .min_by(|&a, &b| self.dist[a].total_cmp(&self.dist[b]))
    }

    /// Takes the leg `plan` from `u` to `v` if it makes `v` closer.
    fn relax(&mut self, u: usize, v: usize, plan: LegPlan, objective: Objective) {
        let cost = match objective {
            Objective::Fastest => plan.estimate().time_s,
            Objective::LeastEnergy => plan.estimate().energy_j,
        };
        let d = self.dist[u] + cost;
        if d < self.dist[v] {
            self.dist[v] = d;
            self.prev[v] = Some((u, plan));
        }
    }
}
