//! Grid search on a costmap: A* with 8-connected moves and integer edge costs, optionally with
//! landmark ("ALT") heuristics, and the Dijkstra that builds the landmark tables.
//!
//! Edge costs are integers so that the search is exact and comparable with the `pathfinding`
//! crate's A* on the same graph (`roboct bench route`, in `roboct-bench`, does that). Each cell carries the cost
//! of half a straight step through it (`u32::MAX`: blocked); a straight move costs the sum of
//! both cells' halves, a diagonal `181/128` of that (sqrt 2 to 1e-4), and crossing into or out
//! of a door's area adds half that door's expected delay. Diagonals may not cut the corner of a
//! blocked cell.
//!
//! Heuristics: the octile distance at the cheapest cell weight (consistent), and with landmarks
//! the ALT bound `max_L |d(L, goal) - d(L, n)|` (Goldberg and Harrelson, "Computing the shortest
//! path: A* search meets graph theory", SODA 2005), consistent because the graph is undirected
//! and dynamic obstacles only raise costs after the tables were built.

use crate::costmap::{Costmap, INSCRIBED, MAX_FREE_COST};
use crate::robot::RobotModel;
use crate::site::Site;

/// Blocked cell.
pub const BLOCKED: u32 = u32::MAX;
/// Cost units per second of travel (fastest routes).
pub const UNITS_PER_S: f64 = 1e4;
/// Cost units per joule (least-energy routes).
pub const UNITS_PER_J: f64 = 1e2;
const DIAG_NUM: u64 = 181;
const DIAG_DEN: u64 = 128;

/// What a route minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// Shortest expected time.
    #[default]
    Fastest,
    /// Least battery energy.
    LeastEnergy,
}

/// Weights of one floor's cells for one objective, on a grid padded by one blocked cell all
/// round so that neighbour offsets need no bounds checks.
#[derive(Clone, Debug)]
pub struct SearchGrid {
    /// Padded width (costmap width + 2).
    pub w: usize,
    /// Padded height.
    pub h: usize,
    /// Cost of half a straight step through each padded cell.
    pub weight: Vec<u32>,
    /// Door id of each padded cell (empty when no doors).
    door: Vec<u16>,
    /// Half the delay of each door id, in cost units (index 0 unused).
    door_half_penalty: Vec<u32>,
    /// Smallest weight of a traversable cell.
    pub min_weight: u32,
    /// How strongly cost near walls lengthens a step: weight x (1 + cost_weight cost / 252).
    pub cost_weight: f64,
    /// Costmap cells per search cell along each axis (1: search at the map's resolution).
    pub factor: usize,
    objective: Objective,
}

impl SearchGrid {
    /// Weights for `objective` from a costmap; `site` gives door delays. With `factor` > 1
    /// the search runs on blocks of `factor x factor` costmap cells, each as costly as its
    /// costliest cell and blocked if any of its cells is (conservative), like Nav2 Smac's
    /// `downsample_costmap`; routes are still smoothed and checked on the full costmap.
    pub fn new(
        cm: &Costmap,
        robot: &RobotModel,
        site: Option<&Site>,
        objective: Objective,
        cost_weight: f64,
        factor: usize,
    ) -> Self {
        let factor = factor.max(1);
        let (cw, ch) = (cm.width.div_ceil(factor), cm.height.div_ceil(factor));
        let (w, h) = (cw + 2, ch + 2);
        let mut grid = SearchGrid {
            w,
            h,
            weight: vec![BLOCKED; w * h],
            door: Vec::new(),
            door_half_penalty: Vec::new(),
            min_weight: u32::MAX,
            cost_weight,
            factor,
            objective,
        };
        if !cm.door.is_empty() {
            grid.door = vec![0u16; w * h];
        }
        grid.update_window(cm, robot, (0, 0, cm.width, cm.height));
        grid.min_weight = grid
            .weight
            .iter()
            .copied()
            .filter(|&v| v != BLOCKED)
            .min()
            .unwrap_or(1)
            .min(u32::MAX - 1);
        if !cm.door.is_empty()
            && let Some(site) = site
        {
            grid.door_half_penalty = std::iter::once(0)
                .chain(site.doors.iter().map(|d| {
                    let units = match objective {
                        Objective::Fastest => d.expected_wait_s() * UNITS_PER_S,
                        Objective::LeastEnergy => {
                            d.expected_wait_s() * robot.energy.idle_power_w * UNITS_PER_J
                        }
                    };
                    (units / 2.0).round() as u32
                }))
                .collect();
        }
        grid
    }

    /// Cost units of half a straight step at each speed class, before the wall-distance factor.
    fn step_units(&self, robot: &RobotModel, cm: &Costmap) -> Vec<f64> {
        let half_step_m = cm.resolution_m / 2.0;
        cm.speed_table_mps
            .iter()
            .map(|&v| match self.objective {
                Objective::Fastest => half_step_m / v * UNITS_PER_S,
                Objective::LeastEnergy => {
                    let j_per_m = robot.energy.cruise_power_w(robot.mass_kg, v) / v;
                    half_step_m * j_per_m * UNITS_PER_J
                }
            })
            .collect()
    }

    /// The objective these weights serve.
    pub fn objective(&self) -> Objective {
        self.objective
    }

    /// Recomputes the weights of the search cells covering a costmap window (after
    /// [`Costmap::add_obstacle`]).
    pub fn update_window(
        &mut self,
        cm: &Costmap,
        robot: &RobotModel,
        (x0, y0, x1, y1): (usize, usize, usize, usize),
    ) {
        let f = self.factor;
        let units = self.step_units(robot, cm);
        let (bx0, by0) = (x0 / f, y0 / f);
        let (bx1, by1) = (x1.div_ceil(f), y1.div_ceil(f));
        for by in by0..by1 {
            for bx in bx0..bx1 {
                let mut worst = 0u32;
                let mut door = 0u16;
                'cells: for cy in by * f..((by + 1) * f).min(cm.height) {
                    for cx in bx * f..((bx + 1) * f).min(cm.width) {
                        let i = cy * cm.width + cx;
                        let c = cm.cost[i];
                        if c >= INSCRIBED {
                            worst = BLOCKED;
                            break 'cells;
                        }
                        let m = 1.0 + self.cost_weight * f64::from(c) / f64::from(MAX_FREE_COST);
                        let v = (units[cm.speed_class[i] as usize] * m * f as f64)
                            .round()
                            .max(1.0) as u32;
                        worst = worst.max(v);
                        if !cm.door.is_empty() {
                            door = door.max(cm.door[i]);
                        }
                    }
                }
                let pi = (by + 1) * self.w + bx + 1;
                self.weight[pi] = worst;
                if !self.door.is_empty() {
                    self.door[pi] = door;
                }
            }
        }
    }

    /// Search index of the block holding costmap cell `(cx, cy)`.
    #[inline]
    pub fn index(&self, cx: usize, cy: usize) -> usize {
        (cy / self.factor + 1) * self.w + cx / self.factor + 1
    }

    /// Centre of search cell `i` in the map frame.
    pub fn centre(&self, i: usize, cm: &Costmap) -> crate::geom::Point {
        let (bx, by) = (i % self.w - 1, i / self.w - 1);
        let half = self.factor as f64 / 2.0;
        crate::geom::Point::new(
            cm.origin.x + (bx as f64 * self.factor as f64 + half) * cm.resolution_m,
            cm.origin.y + (by as f64 * self.factor as f64 + half) * cm.resolution_m,
        )
    }

    /// The eight neighbours as `(offset, is_diagonal)`.
    fn offsets(&self) -> [(isize, bool); 8] {
        let w = self.w as isize;
        [
            (1, false),
            (-1, false),
            (w, false),
            (-w, false),
            (w + 1, true),
            (w - 1, true),
            (-w + 1, true),
            (-w - 1, true),
        ]
    }

    /// Cost of the move from `a` to its neighbour `b`, or `None` if not allowed.
    #[inline]
    pub fn edge_cost(&self, a: usize, b: usize) -> Option<u32> {
        let (wa, wb) = (self.weight[a], self.weight[b]);
        if wa == BLOCKED || wb == BLOCKED {
            return None;
        }
        let d = b as isize - a as isize;
        let wi = self.w as isize;
        let diag = d != 1 && d != -1 && d != wi && d != -wi;
        let mut c = u64::from(wa) + u64::from(wb);
        if diag {
            // No corner cutting: both orthogonal cells must be free.
            let (dx, dy) = (
                if d == wi + 1 || d == -wi + 1 { 1 } else { -1 },
                if d > 0 { wi } else { -wi },
            );
            if self.weight[(a as isize + dx) as usize] == BLOCKED
                || self.weight[(a as isize + dy) as usize] == BLOCKED
            {
                return None;
            }
            c = c * DIAG_NUM / DIAG_DEN;
        }
        if !self.door.is_empty() {
            let (da, db) = (self.door[a], self.door[b]);
            if da != db {
                let pen = |d: u16| self.door_half_penalty.get(d as usize).copied().unwrap_or(0);
                c += u64::from(pen(da)) + u64::from(pen(db));
            }
        }
        Some(c.min(u64::from(u32::MAX - 1)) as u32)
    }

    /// Octile lower bound on the cost between padded cells `a` and `b`.
    #[inline]
    pub fn octile(&self, a: usize, b: usize) -> u32 {
        let (ax, ay) = (a % self.w, a / self.w);
        let (bx, by) = (b % self.w, b / self.w);
        let dx = ax.abs_diff(bx) as u64;
        let dy = ay.abs_diff(by) as u64;
        let (lo, hi) = if dx < dy { (dx, dy) } else { (dy, dx) };
        let s = 2 * u64::from(self.min_weight);
        let d = s * DIAG_NUM / DIAG_DEN;
        (s * (hi - lo) + d * lo).min(u64::from(u32::MAX - 1)) as u32
    }

    /// All allowed moves out of `a` with their costs (used by the `pathfinding` comparison in
    /// `roboct bench route`).
    pub fn successors(&self, a: usize) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.offsets().into_iter().filter_map(move |(o, _)| {
            let b = (a as isize + o) as usize;
            self.edge_cost(a, b).map(|c| (b, c))
        })
    }
}

/// Landmark distance tables for ALT heuristics, interleaved so that the bounds of one cell
/// are one cache line: `dist[cell * count + l]`.
#[derive(Clone, Debug, Default)]
pub struct Landmarks {
    /// Cost from each landmark to each search cell (`u32::MAX` unreachable), interleaved.
    pub dist: Vec<u32>,
    /// Number of landmarks.
    pub count: usize,
    /// The landmarks' search indices.
    pub cells: Vec<usize>,
}

impl Landmarks {
    /// Builds `count` landmarks spread over the free space: the free cells nearest to the map's
    /// corners and edge midpoints, in that order (planar landmarks on the periphery, as the ALT
    /// paper recommends), each table one Dijkstra run, in parallel.
    pub fn build(grid: &SearchGrid, count: usize) -> Landmarks {
        use rayon::prelude::*;
        if count == 0 {
            return Landmarks::default();
        }
        let (w, h) = (grid.w as f64, grid.h as f64);
        let targets = [
            (0.0, 0.0),
            (w, h),
            (w, 0.0),
            (0.0, h),
            (w / 2.0, 0.0),
            (w / 2.0, h),
            (0.0, h / 2.0),
            (w, h / 2.0),
        ];
        let mut cells: Vec<usize> = Vec::new();
        for &(tx, ty) in targets.iter().take(count) {
            // The free cell nearest to the target point (a scan over the grid: preprocessing).
            let best = grid
                .weight
                .par_iter()
                .enumerate()
                .filter(|(_, wt)| **wt != BLOCKED)
                .map(|(i, _)| {
                    let (x, y) = ((i % grid.w) as f64, (i / grid.w) as f64);
                    (((x - tx).powi(2) + (y - ty).powi(2)) as u64, i)
                })
                .min();
            if let Some((_, b)) = best
                && !cells.contains(&b)
            {
                cells.push(b);
            }
        }
        let tables: Vec<Vec<u32>> = cells
            .par_iter()
            .map(|&c| {
                let mut s = SearchState::new(grid.weight.len());
                s.dijkstra_all(grid, c)
            })
            .collect();
        let k = tables.len();
        let n = grid.weight.len();
        let mut dist = vec![u32::MAX; n * k];
        dist.par_chunks_mut(k.max(1))
            .enumerate()
            .for_each(|(i, d)| {
                for (l, t) in tables.iter().enumerate() {
                    d[l] = t[i];
                }
            });
        Landmarks {
            dist,
            count: k,
            cells,
        }
    }

    /// Whether there are no tables.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// ALT lower bound on the cost from search cell `n` to `goal`; `u32::MAX` when a table
    /// proves that `n` cannot reach the goal.
    #[inline]
    pub fn bound(&self, n: usize, goal: usize) -> u32 {
        let k = self.count;
        let dn = &self.dist[n * k..n * k + k];
        let dg = &self.dist[goal * k..goal * k + k];
        let mut best = 0u32;
        for (&a, &b) in dn.iter().zip(dg) {
            if a == u32::MAX || b == u32::MAX {
                if a != b {
                    // One reaches the landmark and the other does not: different components.
                    return u32::MAX;
                }
                continue;
            }
            best = best.max(a.abs_diff(b));
        }
        best
    }

    /// Bytes held by the tables.
    pub fn bytes(&self) -> usize {
        self.dist.len() * 4
    }
}

/// The result of a grid search.
#[derive(Clone, Debug)]
pub struct GridPath {
    /// Padded cell indices from start to goal.
    pub cells: Vec<usize>,
    /// Cost from the start to each cell of `cells`.
    pub g: Vec<u32>,
    /// Total cost.
    pub cost: u32,
    /// Cells expanded (taken from the open list and closed).
    pub expansions: usize,
}

/// Reusable per-search memory: costs so far, parents, closed flags, the open list.
#[derive(Clone, Debug)]
pub struct SearchState {
    g: Vec<u32>,
    /// Bits 0-2: direction from the parent; bit 3: has a parent; bit 7: closed.
    flags: Vec<u8>,
    touched: Vec<usize>,
    heap: RadixHeap,
    /// Padded width of the grid last searched (to undo parent directions).
    w: isize,
}

impl SearchState {
    /// State for a padded grid of `n` cells.
    pub fn new(n: usize) -> Self {
        Self {
            g: vec![u32::MAX; n],
            flags: vec![0; n],
            touched: Vec::new(),
            heap: RadixHeap::new(),
            w: 0,
        }
    }

    fn reset(&mut self) {
        for &i in &self.touched {
            self.g[i] = u32::MAX;
            self.flags[i] = 0;
        }
        self.touched.clear();
        self.heap.clear();
    }

    /// A* from `start` to `goal` (padded indices), with the octile heuristic and, if given,
    /// landmarks. `Err(expansions)` when the goal cannot be reached.
    pub fn astar(
        &mut self,
        grid: &SearchGrid,
        start: usize,
        goal: usize,
        landmarks: Option<&Landmarks>,
    ) -> Result<GridPath, usize> {
        self.weighted_astar(grid, start, goal, landmarks, 1.0)
    }

    /// A* with the heuristic multiplied by `weight` >= 1 (weighted A*, Pohl 1970): fewer
    /// expansions for a path at most `weight` times the optimal cost. `weight` 1 is exact.
    pub fn weighted_astar(
        &mut self,
        grid: &SearchGrid,
        start: usize,
        goal: usize,
        landmarks: Option<&Landmarks>,
        weight: f64,
    ) -> Result<GridPath, usize> {
        let (gx, gy) = ((goal % grid.w) as i64, (goal / grid.w) as i64);
        let s = 2 * u64::from(grid.min_weight);
        let d = s * DIAG_NUM / DIAG_DEN;
        // Octile distance from coordinates, without divisions in the inner loop.
        let octile = move |x: i64, y: i64| -> u32 {
            let dx = (x - gx).unsigned_abs();
            let dy = (y - gy).unsigned_abs();
            let (lo, hi) = if dx < dy { (dx, dy) } else { (dy, dx) };
            (s * (hi - lo) + d * lo).min(u64::from(u32::MAX - 1)) as u32
        };
        // Fixed point: 1024 = 1.
        let wq = (weight.max(1.0) * 1024.0).round() as u64;
        let scale = move |h: u32| -> u32 {
            if wq == 1024 || h == u32::MAX {
                h
            } else {
                ((u64::from(h) * wq) >> 10).min(u64::from(u32::MAX - 1)) as u32
            }
        };
        match landmarks {
            Some(l) if !l.is_empty() => self.run(grid, start, Some(goal), |n, x, y| {
                let b = l.bound(n, goal);
                if b == u32::MAX {
                    b
                } else {
                    scale(b.max(octile(x, y)))
                }
            }),
            _ => self.run(grid, start, Some(goal), |_, x, y| scale(octile(x, y))),
        }
    }

    /// Dijkstra from `start` to every cell; returns the cost table (`u32::MAX` unreachable).
    pub fn dijkstra_all(&mut self, grid: &SearchGrid, start: usize) -> Vec<u32> {
        let _ = self.run(grid, start, None, |_, _, _| 0);
        let out = self.g.clone();
        self.reset();
        out
    }

    /// The search loop; `h(index, x, y)` is the heuristic of a padded cell. `Err(expansions)`
    /// when the goal is unreachable.
    fn run(
        &mut self,
        grid: &SearchGrid,
        start: usize,
        goal: Option<usize>,
        h: impl Fn(usize, i64, i64) -> u32,
    ) -> Result<GridPath, usize> {
        self.reset();
        self.w = grid.w as isize;
        if grid.weight[start] == BLOCKED {
            return Err(0);
        }
        let wi = grid.w as isize;
        // (offset, dx, dy, diagonal), in the order `trace` undoes.
        let moves: [(isize, i64, i64, bool); 8] = [
            (1, 1, 0, false),
            (-1, -1, 0, false),
            (wi, 0, 1, false),
            (-wi, 0, -1, false),
            (wi + 1, 1, 1, true),
            (wi - 1, -1, 1, true),
            (-wi + 1, 1, -1, true),
            (-wi - 1, -1, -1, true),
        ];
        let weight = &grid.weight[..];
        let doors = !grid.door.is_empty();
        self.g[start] = 0;
        self.touched.push(start);
        let h0 = h(start, (start % grid.w) as i64, (start / grid.w) as i64);
        if h0 == u32::MAX {
            return Err(0);
        }
        self.heap.push(h0, start as u32);
        let mut expansions = 0usize;
        while let Some((_, a)) = self.heap.pop() {
            let a = a as usize;
            // Closed already: a stale entry of a cell reached again more cheaply.
            if self.flags[a] & 0x80 != 0 {
                continue;
            }
            let ga = self.g[a];
            self.flags[a] |= 0x80;
            expansions += 1;
            if Some(a) == goal {
                return Ok(self.trace(start, a, expansions));
            }
            let (ax, ay) = ((a % grid.w) as i64, (a / grid.w) as i64);
            let wa = u64::from(weight[a]);
            for (dir, &(off, dx, dy, diag)) in moves.iter().enumerate() {
                let b = (a as isize + off) as usize;
                let wb = weight[b];
                if wb == BLOCKED || self.flags[b] & 0x80 != 0 {
                    continue;
                }
                let mut c = wa + u64::from(wb);
                if diag {
                    // No corner cutting: both orthogonal cells must be free.
                    if weight[(a as isize + dx as isize) as usize] == BLOCKED
                        || weight[(a as isize + dy as isize * wi) as usize] == BLOCKED
                    {
                        continue;
                    }
                    c = c * DIAG_NUM / DIAG_DEN;
                }
                if doors {
                    let (da, db) = (grid.door[a], grid.door[b]);
                    if da != db {
                        let pen =
                            |d: u16| grid.door_half_penalty.get(d as usize).copied().unwrap_or(0);
                        c += u64::from(pen(da)) + u64::from(pen(db));
                    }
                }
                let gb = (u64::from(ga) + c).min(u64::from(u32::MAX - 1)) as u32;
                if gb < self.g[b] {
                    let hb = h(b, ax + dx, ay + dy);
                    if hb == u32::MAX {
                        continue;
                    }
                    if self.g[b] == u32::MAX {
                        self.touched.push(b);
                    }
                    self.g[b] = gb;
                    self.flags[b] = 0x08 | dir as u8;
                    self.heap.push(gb.saturating_add(hb), b as u32);
                }
            }
        }
        Err(expansions)
    }

    fn trace(&self, start: usize, goal: usize, expansions: usize) -> GridPath {
        let w = self.w;
        // The offsets of `SearchGrid::offsets`, undone to walk back to the parent.
        let o: [isize; 8] = [1, -1, w, -w, w + 1, w - 1, -w + 1, -w - 1];
        let mut cells = vec![goal];
        let mut cur = goal;
        while cur != start {
            let f = self.flags[cur];
            debug_assert!(f & 0x08 != 0);
            cur = (cur as isize - o[(f & 0x07) as usize]) as usize;
            cells.push(cur);
        }
        cells.reverse();
        let g = cells.iter().map(|&c| self.g[c]).collect();
        GridPath {
            cost: self.g[goal],
            cells,
            g,
            expansions,
        }
    }
}

/// A radix heap (Ahuja, Mehlhorn, Orlin and Tarjan, "Faster algorithms for the shortest path
/// problem", JACM 1990): a priority queue for monotone integer keys, as A* with a consistent
/// heuristic produces, with amortised O(log C) work and cache-friendly buckets instead of a
/// binary heap's scattered sift-downs. Bucket 0 (keys equal to the last popped) is a stack, so
/// among equal f-values the most recently reached cell, the deepest, comes first: the usual
/// tie-breaking towards the goal, for free.
#[derive(Clone, Debug)]
pub struct RadixHeap {
    last: u32,
    len: usize,
    buckets: [Vec<(u32, u32)>; 33],
}

impl Default for RadixHeap {
    fn default() -> Self {
        Self::new()
    }
}

impl RadixHeap {
    /// An empty heap.
    pub fn new() -> Self {
        Self {
            last: 0,
            len: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        for b in &mut self.buckets {
            b.clear();
        }
        self.last = 0;
        self.len = 0;
    }

    #[inline]
    fn bucket_of(&self, key: u32) -> usize {
        (32 - (key ^ self.last).leading_zeros()) as usize
    }

    /// Adds `value` with `key`; keys below the last popped one count as equal to it.
    #[inline]
    pub fn push(&mut self, key: u32, value: u32) {
        let key = key.max(self.last);
        let b = self.bucket_of(key);
        self.buckets[b].push((key, value));
        self.len += 1;
    }

    /// Removes an entry with the smallest key.
    pub fn pop(&mut self) -> Option<(u32, u32)> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].is_empty() {
            let i = self.buckets.iter().position(|b| !b.is_empty())?;
            let min = self.buckets[i].iter().map(|e| e.0).min()?;
            self.last = min;
            let items = std::mem::take(&mut self.buckets[i]);
            for e in &items {
                let b = self.bucket_of(e.0);
                self.buckets[b].push(*e);
            }
            // Keep the allocation for next time.
            let mut items = items;
            items.clear();
            if self.buckets[i].is_empty() {
                self.buckets[i] = items;
            }
        }
        self.len -= 1;
        self.buckets[0].pop()
    }
}
