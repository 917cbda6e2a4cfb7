//! `roboct route`, `roboct map` and `roboct bench route`: wiring for `roboct-nav`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use roboct_nav::drive::{self, DriveOptions, DriveStatus, DynamicObstacle};
use roboct_nav::geom::{Point, Polygon};
use roboct_nav::map::MapLimits;
use roboct_nav::plan::{Navigator, PlannerOptions};
use roboct_nav::robot::RobotModel;
use roboct_nav::search::Objective;
use roboct_nav::site::Site;
use roboct_nav::{hospital, render};

use super::Context;

/// `roboct route`.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// Site file (floors and semantic layer) or a bare ROS map YAML; default: the embedded
    /// three-floor hospital wing (`roboct map export DIR` writes it out).
    #[arg(long)]
    map: Option<PathBuf>,
    /// Start: a place name (`dock`) or map coordinates `x,y[,floor]` in metres (negative
    /// coordinates as they are: `--from -13.7,-2.6`).
    #[arg(long, allow_hyphen_values = true)]
    from: String,
    /// Goal: a place name (`ward-3/bed-12`) or map coordinates `x,y[,floor]` in metres.
    #[arg(long, allow_hyphen_values = true)]
    to: String,
    /// Minimise battery energy instead of time.
    #[arg(long)]
    least_energy: bool,
    /// Battery state of charge at the start, 0..1.
    #[arg(long, default_value_t = 1.0)]
    soc: f64,
    /// Write a picture of the route (map, keep-outs, inflation, route) as PNG.
    #[arg(long)]
    png: Option<PathBuf>,
    /// Write the route as JSON (`length_m`, `time_s`, `energy_j`, `path` as [x, y, floor]).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also drive the route in simulation (controller, doors, elevators, obstacles).
    #[arg(long)]
    drive: bool,
    /// With --drive: an obstacle (a parked bed, 1 x 2.2 m across the way) at `x,y[,floor][@t]`
    /// appearing t seconds after the start; repeatable.
    #[arg(
        long = "obstacle",
        value_name = "X,Y[,FLOOR][@T]",
        allow_hyphen_values = true
    )]
    obstacles: Vec<String>,
}

/// `roboct map`.
#[derive(Debug, Subcommand)]
pub enum MapCommand {
    /// Write the embedded hospital as ROS maps (PGM + YAML per floor), its site file
    /// `hospital.yaml` and a picture `hospital.png`.
    Export {
        /// Folder to write into (created if missing).
        dir: PathBuf,
    },
    /// Describe a site: floors, sizes, places, doors, elevators, zones.
    Info {
        /// Site file or ROS map YAML; default: the embedded hospital.
        #[arg(long)]
        map: Option<PathBuf>,
        /// List every place name.
        #[arg(long)]
        places: bool,
    },
}

/// `roboct bench route`.
#[derive(Debug, Args)]
pub struct BenchRouteArgs {
    /// Timed runs per case (best and median are printed).
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Landmarks for the ALT heuristic.
    #[arg(long, default_value_t = 4)]
    landmarks: usize,
    /// Cells of the large floor along x.
    #[arg(long, default_value_t = 4000)]
    width: usize,
    /// Cells of the large floor along y.
    #[arg(long, default_value_t = 2000)]
    height: usize,
}

fn load_site(map: Option<&Path>) -> Result<Site> {
    match map {
        None => Ok(hospital::default_hospital()),
        Some(p) => Site::load(p, MapLimits::from_available_memory())
            .with_context(|| format!("cannot load the map {}", p.display())),
    }
}

pub fn route(args: RouteArgs, ctx: &Context) -> Result<()> {
    if !(0.0..=1.0).contains(&args.soc) {
        bail!(
            "--soc must be a state of charge between 0 and 1, got {}",
            roboct_nav::fmt_num(args.soc)
        );
    }
    if !args.obstacles.is_empty() && !args.drive {
        bail!("--obstacle only applies to the simulated drive: add --drive");
    }
    let site = load_site(args.map.as_deref())?;
    let mut robot = RobotModel::default();
    robot.battery.state_of_charge = args.soc;
    let options = PlannerOptions {
        objective: if args.least_energy {
            Objective::LeastEnergy
        } else {
            Objective::Fastest
        },
        ..Default::default()
    };
    let bar = crate::progress::Bar::new(ctx.quiet);
    roboct_core::Progress::start(&bar, "costmaps", 0);
    let mut nav = Navigator::new(site, robot, options).context("cannot build the costmaps")?;
    roboct_core::Progress::finish(&bar);
    // Every input is checked before any planning.
    let obstacles = args
        .obstacles
        .iter()
        .enumerate()
        .map(|(i, s)| parse_obstacle(s, i, &nav))
        .collect::<Result<Vec<_>>>()?;
    let route = nav.route(&args.from, &args.to)?;
    print!("{route}");
    if let Some(p) = &args.json {
        let text = serde_json::to_string_pretty(&route)?;
        std::fs::write(p, text + "\n").with_context(|| format!("cannot write {}", p.display()))?;
        println!("wrote {}", p.display());
    }
    if let Some(p) = &args.png {
        render::write_png(&nav, Some(&route), p).map_err(anyhow::Error::msg)?;
        println!("wrote {}", p.display());
    }
    if args.drive {
        let goal = nav.resolve(&args.to, "goal")?;
        let report = drive::simulate(&mut nav, &route, &goal, &obstacles, DriveOptions::default());
        print!("{report}");
        if let DriveStatus::GaveUp { reason, .. } = &report.status {
            bail!("the simulated drive did not arrive: {reason}");
        }
    }
    Ok(())
}

/// `x,y[,floor][@t]` into a 1 m x 2.2 m parked bed centred there (across a corridor running
/// along x): finite coordinates on a floor's map, and a time that is finite and >= 0.
fn parse_obstacle(s: &str, i: usize, nav: &Navigator) -> Result<DynamicObstacle> {
    let (pos, t) = match s.split_once('@') {
        Some((p, t)) => {
            let t = t.trim();
            let secs = t.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
            let Some(secs) = secs else {
                bail!(
                    "--obstacle {s}: the time after @ must be a finite number of seconds >= 0, got \"{t}\""
                );
            };
            (p, secs)
        }
        None => (s, 0.0),
    };
    let target = nav
        .resolve(pos, "obstacle")
        .with_context(|| format!("--obstacle {s}"))?;
    let Point { x, y } = target.point;
    let on_map = nav
        .costmap(target.floor)
        .is_some_and(|cm| cm.cell_of(target.point).is_some());
    if !on_map {
        bail!(
            "--obstacle {s}: ({}, {}) is outside the map of floor {}",
            roboct_nav::fmt_m(x),
            roboct_nav::fmt_m(y),
            target.floor
        );
    }
    Ok(DynamicObstacle {
        name: format!("obstacle {}", i + 1),
        floor: target.floor,
        shape: Polygon::rect(x - 0.5, y - 1.1, x + 0.5, y + 1.1),
        appear_s: t,
        leave_s: None,
        velocity: Point::new(0.0, 0.0),
    })
}

pub fn map(which: MapCommand, _ctx: &Context) -> Result<()> {
    match which {
        MapCommand::Export { dir } => {
            let site = hospital::default_hospital();
            let path = site
                .save(&dir, "hospital")
                .with_context(|| format!("cannot export the hospital to {}", dir.display()))?;
            let nav = Navigator::new(site, RobotModel::default(), PlannerOptions::default())?;
            let png = dir.join("hospital.png");
            render::write_png(&nav, None, &png).map_err(anyhow::Error::msg)?;
            println!(
                "wrote {} (site file), its floor maps and {}",
                path.display(),
                png.display()
            );
            println!(
                "try: roboct route --map {} --from dock --to ward-3/bed-12 --png route.png",
                path.display()
            );
            Ok(())
        }
        MapCommand::Info { map, places } => {
            let site = load_site(map.as_deref())?;
            println!("{} ({})", site.name, site.source);
            for f in &site.floors {
                let (w, h) = f.grid.size_m();
                println!(
                    "  floor {}: {} x {} cells at {} m ({} m x {} m) {}",
                    f.number,
                    f.grid.width,
                    f.grid.height,
                    roboct_nav::fmt_num(f.grid.resolution_m),
                    roboct_nav::fmt_m(w),
                    roboct_nav::fmt_m(h),
                    f.name
                );
            }
            let beds = site.places.iter().filter(|p| p.bed.is_some()).count();
            println!(
                "  {} places ({beds} beds), {} doors, {} elevators, {} speed zones, {} keep-out zones",
                site.places.len(),
                site.doors.len(),
                site.elevators.len(),
                site.speed_zones.len(),
                site.keep_outs.len()
            );
            for e in &site.elevators {
                let floors: Vec<String> = e.stops.iter().map(|s| s.0.to_string()).collect();
                println!(
                    "  elevator {}: floors {}, {} s per floor",
                    e.name,
                    floors.join(", "),
                    roboct_nav::fmt_num(e.travel_s_per_floor)
                );
            }
            for k in &site.keep_outs {
                println!("  keep out: {} (floor {})", k.name, k.floor);
            }
            if places {
                for p in &site.places {
                    let at = p.pose.map(|q| q.point()).or(p.bed.map(|b| b.pose.point()));
                    let at = at.map_or(String::new(), |q| format!(" at ({:.2}, {:.2})", q.x, q.y));
                    println!("  place {} (floor {}){at}", p.name, p.floor);
                }
            }
            Ok(())
        }
    }
}

pub fn bench_route(args: BenchRouteArgs, ctx: &Context) -> Result<()> {
    let bar = crate::progress::Bar::new(ctx.quiet);
    let report = roboct_bench::route::run(
        roboct_bench::route::BenchOptions {
            width_cells: args.width,
            height_cells: args.height,
            runs: args.runs.max(1),
            landmarks: args.landmarks,
        },
        &bar,
    )?;
    print!("{}", report.to_text());
    println!(
        "goals: single-floor plan < 50 ms on one core, replan after a blocked corridor < 20 ms (machine: {} cores, shared)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    Ok(())
}
