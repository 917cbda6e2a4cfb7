//! The reference problems of `roboct bench route`, measured: a plan across a 4000 x 2000-cell
//! floor between far corners, replanning after a corridor is blocked, and a three-floor route
//! through an elevator; with the `pathfinding` crate's A* on the same grid for comparison.
//!
//! Everything timed here runs on one thread (the costmap and landmark builds, which are
//! preprocessing, use rayon and are reported apart). Moved here from `roboct-nav`, which no
//! longer ships it (nor depends on `pathfinding` and `libc` for it).

use std::time::Instant;

use roboct_core::Progress;
use roboct_nav::error::MapError;
use roboct_nav::geom::{Point, Polygon, Pose};
use roboct_nav::hospital;
use roboct_nav::map::MapLimits;
use roboct_nav::plan::{FloorPath, Navigator, PlannerOptions, Target};
use roboct_nav::robot::RobotModel;
use roboct_nav::search::SearchState;

use crate::BenchError;

/// Sizes and repetitions.
#[derive(Clone, Copy, Debug)]
pub struct BenchOptions {
    /// Cells along x of the large floor.
    pub width_cells: usize,
    /// Cells along y of the large floor.
    pub height_cells: usize,
    /// Timed repetitions of each case.
    pub runs: usize,
    /// Landmarks for the ALT heuristic.
    pub landmarks: usize,
}

impl BenchOptions {
    /// Smallest floor the generated layout fits on, cells along x and y (80 m x 40 m: corridors long enough for the replanning case).
    pub const MIN_CELLS: (usize, usize) = (1600, 800);
    /// Most landmark tables.
    pub const MAX_LANDMARKS: usize = 16;

    /// Checks the sizes: the floor at least [`BenchOptions::MIN_CELLS`] and within this
    /// machine's memory ([`MapLimits`]), at most [`BenchOptions::MAX_LANDMARKS`] landmarks.
    ///
    /// # Errors
    /// [`BenchError::Map`] for a floor too large for memory, [`BenchError::Case`] naming the
    /// option otherwise.
    pub fn validate(&self) -> Result<(), BenchError> {
        let (w, h) = (self.width_cells, self.height_cells);
        if w < Self::MIN_CELLS.0 || h < Self::MIN_CELLS.1 {
            return Err(BenchError::Case(format!(
                "the bench floor must be at least {} x {} cells (width x height), got {w} x {h}",
                Self::MIN_CELLS.0,
                Self::MIN_CELLS.1
            )));
        }
        let limits = MapLimits::from_available_memory();
        // Two navigators hold the floor at once.
        if (w as u128).saturating_mul(h as u128).saturating_mul(2) > u128::from(limits.max_cells) {
            return Err(MapError::too_large("<bench floor>", w, h, limits.max_cells / 2).into());
        }
        if self.landmarks > Self::MAX_LANDMARKS {
            return Err(BenchError::Case(format!(
                "at most {} landmarks, got {}",
                Self::MAX_LANDMARKS,
                self.landmarks
            )));
        }
        Ok(())
    }
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            width_cells: 4000,
            height_cells: 2000,
            runs: 7,
            landmarks: 4,
        }
    }
}

/// Best and median of repeated timings, milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    /// Fastest run.
    pub best_ms: f64,
    /// Median run.
    pub median_ms: f64,
    /// Slowest run.
    pub worst_ms: f64,
}

impl Timing {
    fn of(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Self {
            best_ms: ms.first().copied().unwrap_or(0.0),
            median_ms: ms.get(ms.len() / 2).copied().unwrap_or(0.0),
            worst_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "best {:8.2} ms  median {:8.2} ms  worst {:8.2} ms",
            self.best_ms, self.median_ms, self.worst_ms
        )
    }
}

/// One measured case.
#[derive(Clone, Debug, Default)]
pub struct Case {
    /// What was measured.
    pub name: String,
    /// Wall-clock timings.
    pub timing: Timing,
    /// CPU time of the planning thread (excludes waiting for a core on a shared machine).
    pub cpu: Timing,
    /// Cells expanded (per run).
    pub expansions: usize,
    /// Optimal grid cost found (cost units), where it applies.
    pub grid_cost: Option<u32>,
    /// Route length, metres, where it applies.
    pub length_m: Option<f64>,
}

impl Case {
    /// A whole floor plan's case: its expansions and the route's length.
    fn full_plan(name: String, timing: Timing, cpu: Timing, path: &FloorPath) -> Self {
        Self {
            name,
            timing,
            cpu,
            expansions: path.expansions,
            grid_cost: None,
            length_m: Some(path.points.windows(2).map(|w| w[0].dist(w[1])).sum()),
        }
    }
}

/// Everything `roboct bench route` prints.
#[derive(Clone, Debug, Default)]
pub struct BenchReport {
    /// Cells of the large floor.
    pub cells: (usize, usize),
    /// Costmap (distance transform, inflation, weights) build time, ms.
    pub costmap_ms: f64,
    /// Landmark tables build time, ms, and their size in MiB.
    pub landmarks_ms: f64,
    /// Landmark memory, MiB.
    pub landmarks_mib: f64,
    /// Landmarks used.
    pub landmarks: usize,
    /// Between which places the single-floor plans run.
    pub corners: (String, String),
    /// The cases, in order.
    pub cases: Vec<Case>,
}

/// CPU time this thread has used, seconds: unlike wall time it does not count the time the
/// thread waits for a core, so it measures the work on one core even on a busy machine.
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec` through a valid, exclusive pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Runs `f` `runs` times; wall-clock and thread CPU timings.
fn time_runs<T>(runs: usize, mut f: impl FnMut() -> T) -> ((Timing, Timing), T) {
    let mut ms = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let c = thread_cpu_s();
        let t = Instant::now();
        let out = f();
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        cpu.push((thread_cpu_s() - c) * 1e3);
        last = Some(out);
    }
    (
        (Timing::of(ms), Timing::of(cpu)),
        last.expect("at least one run"),
    )
}

/// Runs every case and returns the figures.
///
/// # Errors
/// [`BenchError`] if the options are out of range ([`BenchOptions::validate`]) or a reference
/// map or route cannot be built (which would be a bug): [`BenchError::Map`],
/// [`BenchError::Plan`] or [`BenchError::Case`].
pub fn run(options: BenchOptions, progress: &dyn Progress) -> Result<BenchReport, BenchError> {
    options.validate()?;
    let mut report = BenchReport {
        cells: (options.width_cells, options.height_cells),
        landmarks: options.landmarks,
        ..Default::default()
    };
    progress.start("bench route", 6);
    let (site, first, last) = hospital::bench_floor(options.width_cells, options.height_cells);
    let robot = RobotModel::default();
    // The exact planner: search at the map's resolution.
    let t = Instant::now();
    let full_opts = PlannerOptions {
        downsample: 1,
        ..Default::default()
    };
    let mut full = Navigator::new(site.clone(), robot.clone(), full_opts)?;
    report.costmap_ms = t.elapsed().as_secs_f64() * 1e3;
    progress.advance(1);
    let t = Instant::now();
    full.build_landmarks(options.landmarks);
    report.landmarks_ms = t.elapsed().as_secs_f64() * 1e3;
    report.landmarks_mib = full.landmark_bytes(0) as f64 / (1u64 << 20) as f64;
    // The default planner for a floor this size: search on 2 x 2 blocks, with landmarks.
    let mut fast = Navigator::new(
        site,
        robot.clone(),
        PlannerOptions {
            landmarks: options.landmarks,
            ..Default::default()
        },
    )?;
    report.corners = (first.clone(), last.clone());
    progress.advance(1);

    let start = full.resolve(&first, "start")?;
    let goal = full.resolve(&last, "goal")?;
    let (cs, cg) = {
        let cm = full
            .costmap(0)
            .ok_or_else(|| BenchError::Case("no floor 0".into()))?;
        let grid = full
            .search_grid(0)
            .ok_or_else(|| BenchError::Case("no floor 0".into()))?;
        let s = cm
            .cell_of(start.point)
            .ok_or_else(|| BenchError::Case("start off map".into()))?;
        let g = cm
            .cell_of(goal.point)
            .ok_or_else(|| BenchError::Case("goal off map".into()))?;
        (grid.index(s.0, s.1), grid.index(g.0, g.1))
    };

    // Grid search alone at full resolution: plain A*, ALT A*, and the pathfinding crate's A*
    // on the same graph with the same heuristic.
    {
        let grid = full
            .search_grid(0)
            .ok_or_else(|| BenchError::Case("no floor 0".into()))?;
        let mut state = SearchState::new(grid.weight.len());
        let ((timing, cpu), r) = time_runs(options.runs, || state.astar(grid, cs, cg, None));
        let r = r.map_err(|_| BenchError::Case("no path on the bench floor".into()))?;
        report.cases.push(Case {
            name: "single floor, 5 cm grid: A* (octile heuristic), search only".into(),
            timing,
            cpu,
            expansions: r.expansions,
            grid_cost: Some(r.cost),
            length_m: None,
        });
        let lm = full.landmarks(0);
        let ((timing, cpu), r2) = time_runs(options.runs, || state.astar(grid, cs, cg, lm));
        let r2 = r2.map_err(|_| BenchError::Case("no path with landmarks".into()))?;
        report.cases.push(Case {
            name: format!(
                "single floor, 5 cm grid: A* (ALT, {} landmarks), search only",
                options.landmarks
            ),
            timing,
            cpu,
            expansions: r2.expansions,
            grid_cost: Some(r2.cost),
            length_m: None,
        });
        let pf_runs = options.runs.clamp(1, 3);
        let mut pf_expansions = 0usize;
        let ((timing, cpu), pf) = time_runs(pf_runs, || {
            let mut count = 0usize;
            let goal_xy = (cg % grid.w, cg / grid.w);
            let s2 = 2 * u64::from(grid.min_weight);
            let d2 = s2 * 181 / 128;
            let out = pathfinding::prelude::astar(
                &cs,
                |&n| {
                    count += 1;
                    grid.successors(n).collect::<Vec<_>>()
                },
                |&n| {
                    let (x, y) = (n % grid.w, n / grid.w);
                    let dx = x.abs_diff(goal_xy.0) as u64;
                    let dy = y.abs_diff(goal_xy.1) as u64;
                    let (lo, hi) = if dx < dy { (dx, dy) } else { (dy, dx) };
                    (s2 * (hi - lo) + d2 * lo) as u32
                },
                |&n| n == cg,
            );
            pf_expansions = count;
            out
        });
        let pf = pf.ok_or_else(|| BenchError::Case("pathfinding found no path".into()))?;
        report.cases.push(Case {
            name: "single floor, 5 cm grid: pathfinding crate astar (same graph and heuristic)"
                .into(),
            timing,
            cpu,
            expansions: pf_expansions,
            grid_cost: Some(pf.1),
            length_m: None,
        });
    }
    progress.advance(1);

    // Whole plans: search, smoothing, footprint checks, lattice through doors.
    for (name, nav) in [
        ("5 cm grid, ALT", &mut full),
        ("10 cm search grid (default for this size), ALT", &mut fast),
    ] {
        let ((timing, cpu), r) = time_runs(options.runs, || nav.plan_floor(&start, &goal));
        let r = r.map_err(|e| BenchError::Case(e.to_string()))?;
        report.cases.push(Case::full_plan(
            format!("single floor: full plan ({name}; search, smoothing, footprint checks)"),
            timing,
            cpu,
            &r,
        ));
    }
    // Weighted A* on the default planner: bounded suboptimality for speed.
    for w in [1.1, 1.25] {
        fast.set_heuristic_weight(w);
        let ((timing, cpu), r) = time_runs(options.runs, || fast.plan_floor(&start, &goal));
        let r = r.map_err(|e| BenchError::Case(e.to_string()))?;
        report.cases.push(Case::full_plan(
            format!("single floor: full plan (10 cm search grid, ALT, heuristic weight {w})"),
            timing,
            cpu,
            &r,
        ));
    }
    fast.set_heuristic_weight(1.0);
    progress.advance(1);
    let mut alt = fast;

    // Replanning after a corridor is blocked ahead of the robot.
    let base = alt
        .plan_floor(&start, &goal)
        .map_err(|e| BenchError::Case(e.to_string()))?;
    let (robot_at, block) = corridor_block(&alt, &base.points)
        .ok_or_else(|| BenchError::Case("no straight corridor stretch on the route".into()))?;
    let from = Target {
        label: "robot".into(),
        floor: 0,
        point: robot_at.point(),
        heading_rad: Some(robot_at.yaw_rad),
    };
    let mut ms = Vec::new();
    let mut cpu = Vec::new();
    let mut last = None;
    for _ in 0..options.runs.max(1) {
        alt.clear_obstacles(0)?;
        let c = thread_cpu_s();
        let t = Instant::now();
        alt.add_obstacle(0, &block);
        let r = alt.plan_floor(&from, &goal);
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        cpu.push((thread_cpu_s() - c) * 1e3);
        last = Some(r);
    }
    let r = last
        .expect("one run")
        .map_err(|e| BenchError::Case(format!("replan failed: {e}")))?;
    report.cases.push(Case::full_plan(
        "replan after a blocked corridor (obstacle update + full plan, ALT)".into(),
        Timing::of(ms),
        Timing::of(cpu),
        &r,
    ));
    alt.clear_obstacles(0)?;
    progress.advance(1);

    // Three floors through an elevator in the embedded hospital.
    let mut hosp = Navigator::new(
        hospital::default_hospital(),
        robot,
        PlannerOptions::default(),
    )?;
    let ((timing, cpu), r) = time_runs(options.runs, || hosp.route("dock", "ward-3/bed-12"));
    let r = r?;
    report.cases.push(Case {
        name: "3 floors: dock (floor 0) to ward-3/bed-12 (floor 2) via elevator, whole route"
            .into(),
        timing,
        cpu,
        expansions: r.expansions,
        grid_cost: None,
        length_m: Some(r.length_m),
    });
    progress.advance(1);
    progress.finish();
    Ok(report)
}

/// A pose on the route about 40 % along, in a straight corridor stretch, 6 m before an
/// obstacle that spans the corridor.
fn corridor_block(nav: &Navigator, points: &[Point]) -> Option<(Pose, Polygon)> {
    let total: f64 = points.windows(2).map(|w| w[0].dist(w[1])).sum();
    let mut along = 0.0;
    for w in points.windows(2) {
        let len = w[0].dist(w[1]);
        if along + len > 0.4 * total && len > 14.0 {
            let h = w[0].heading_to(w[1]);
            let robot = w[0].offset(h, len / 2.0 - 6.0);
            let c = w[0].offset(h, len / 2.0);
            let pose = Pose::new(c.x, c.y, h);
            let block = Polygon::new(
                [(-0.5, -2.5), (0.5, -2.5), (0.5, 2.5), (-0.5, 2.5)]
                    .iter()
                    .map(|&(x, y)| pose.map_from_robot(Point::new(x, y)))
                    .collect(),
            );
            let _ = nav;
            return Some((Pose::new(robot.x, robot.y, h), block));
        }
        along += len;
    }
    None
}

impl BenchReport {
    /// The report as text, one case a line.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "large floor: {} x {} cells at 5 cm; preprocessing on all cores: costmap {:.0} ms, {} landmark tables {:.0} ms ({:.0} MiB)\n",
            self.cells.0,
            self.cells.1,
            self.costmap_ms,
            self.landmarks,
            self.landmarks_ms,
            self.landmarks_mib
        );
        s.push_str(&format!(
            "single-floor plans between far corners: {} -> {}\n",
            self.corners.0, self.corners.1
        ));
        for c in &self.cases {
            s.push_str(&format!(
                "{}\n    wall {}\n    cpu  {}  expansions {:>9}",
                c.name, c.timing, c.cpu, c.expansions
            ));
            if let Some(g) = c.grid_cost {
                s.push_str(&format!("  cost {g}"));
            }
            if let Some(l) = c.length_m {
                s.push_str(&format!("  length {l:.1} m"));
            }
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use roboct_core::progress::NoProgress as Quiet;

    #[test]
    fn sizes_are_checked_before_anything_is_built() {
        let bad = |o: BenchOptions| run(o, &Quiet).unwrap_err().to_string();
        let small = BenchOptions {
            width_cells: 0,
            ..Default::default()
        };
        assert!(bad(small).contains("at least 1600 x 800"));
        let huge = BenchOptions {
            width_cells: usize::MAX,
            height_cells: usize::MAX,
            ..Default::default()
        };
        assert!(bad(huge).contains("free memory"));
        let landmarks = BenchOptions {
            landmarks: 1000,
            ..Default::default()
        };
        assert!(bad(landmarks).contains("at most 16 landmarks"));
    }

    #[test]
    fn the_smallest_bench_floor_runs() {
        let report = run(
            BenchOptions {
                width_cells: BenchOptions::MIN_CELLS.0,
                height_cells: BenchOptions::MIN_CELLS.1,
                runs: 1,
                landmarks: 1,
            },
            &Quiet,
        )
        .unwrap();
        assert_eq!(report.cells, BenchOptions::MIN_CELLS);
    }
}
