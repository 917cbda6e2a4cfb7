//! `roboct position` (bedside positioning on the simulator: dock, scout, landmarks, plan) and
//! `roboct bench positioning` (its coverage, excess, isocentre and dose on randomized
//! patients).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use roboct_phantom::chest::{ChestOptions, chest};
use roboct_phantom::head::{HeadOptions, head};
use roboct_positioning::Target;
use roboct_positioning::pipeline::{Positioned, SimulationOptions, position_simulated_with};
use roboct_positioning::render::render_scout;
use roboct_positioning::sim::SimPatient;

use super::Context;

/// `roboct position`.
#[derive(Debug, Args)]
pub struct PositionArgs {
    /// The patient: `head` or `chest` (the simulated phantoms, drawn from `--seed`), or a CT
    /// volume in HU (`.nii`, `.nii.gz`, `.mha`, `.mhd`, `.npy`) in the patient frame LPS.
    #[arg(long)]
    phantom: String,
    /// What to scan: `head` or `chest` (default: the phantom's kind; `head` for a volume).
    #[arg(long)]
    target: Option<String>,
    /// Seed of the phantom and of the scout's noise.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How the patient lies off the target's nominal place on the bed: x (the patient's
    /// left), y (down), z (towards the head), mm.
    #[arg(long, value_delimiter = ',', num_args = 3, allow_hyphen_values = true)]
    offset_mm: Option<Vec<f64>>,
    /// How the patient is turned about x, y and z, degrees.
    #[arg(long, value_delimiter = ',', num_args = 3, allow_hyphen_values = true)]
    rotation_deg: Option<Vec<f64>>,
    /// Height of the mattress top above the floor, mm.
    #[arg(long, default_value_t = 600.0)]
    bed_height_mm: f64,
    /// Write the plan as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the scout with the landmarks and the planned range drawn on it here.
    #[arg(long)]
    png: Option<PathBuf>,
}

/// The JSON `roboct position` writes: every coordinate in the input's own frame.
#[derive(Debug, serde::Serialize)]
struct PlanJson {
    target: Target,
    ok: bool,
    reason: Option<String>,
    action: Option<String>,
    recovery: Option<roboct_positioning::Recovery>,
    frame: String,
    scan_range_mm: Option<[f64; 2]>,
    isocenter_mm: Option<[f64; 3]>,
    landmarks: BTreeMap<String, [f64; 3]>,
    scout_dlp_mgycm: f64,
    scan_dlp_mgycm: Option<f64>,
    scout_fraction: Option<f64>,
    rotations: Option<usize>,
    collimation_mm: Option<f64>,
    gantry_motion: Option<roboct_positioning::GantryMotion>,
}

fn load(args: &PositionArgs) -> Result<(SimPatient, Target, [f64; 3], String)> {
    let target_arg = args
        .target
        .as_deref()
        .map(|t| t.parse::<Target>().map_err(anyhow::Error::msg))
        .transpose()?;
    match args.phantom.as_str() {
        "head" => {
            let h = head(&HeadOptions {
                seed: args.seed,
                ..HeadOptions::default()
            })?;
            Ok((
                SimPatient::Analytic(h.patient),
                target_arg.unwrap_or(Target::Head),
                [0.0; 3],
                "the head phantom's world frame (its truth's frame), mm, LPS".into(),
            ))
        }
        "chest" => {
            let c = chest(&ChestOptions {
                seed: args.seed,
                ..ChestOptions::default()
            })?;
            Ok((
                SimPatient::Analytic(c.patient),
                target_arg.unwrap_or(Target::Chest),
                [0.0; 3],
                "the chest phantom's world frame (its truth's frame), mm, LPS".into(),
            ))
        }
        file => {
            let path = Path::new(file);
            if !path.exists() {
                bail!(
                    "--phantom {file:?}: no such file; expected head, chest or a CT volume in HU (.nii, .nii.gz, .mha, .mhd, .npy)"
                );
            }
            let v = roboct_io::read_volume(path)
                .with_context(|| format!("reading the patient volume {}", path.display()))?;
            let centre = v.grid().center_mm();
            Ok((
                SimPatient::Volume(v),
                target_arg.unwrap_or(Target::Head),
                centre,
                format!("the world frame of {} (LPS), mm", path.display()),
            ))
        }
    }
}

fn to_json(p: &Positioned, frame: String) -> PlanJson {
    let plan = p.outcome.as_ref().ok();
    let refusal = p.outcome.as_ref().err();
    let iso = plan.map(|pl| p.to_input(pl.isocenter_mm));
    let range = plan.map(|pl| {
        let [x, y, _] = pl.isocenter_mm;
        let a = p.to_input([x, y, pl.scan_range_mm[0]])[2];
        let b = p.to_input([x, y, pl.scan_range_mm[1]])[2];
        [a.min(b), a.max(b)]
    });
    PlanJson {
        target: p.target,
        ok: p.ok(),
        reason: refusal.map(|r| r.to_string()),
        action: refusal.map(|r| r.action()),
        recovery: refusal.map(|r| r.recovery()),
        frame,
        scan_range_mm: range,
        isocenter_mm: iso,
        landmarks: p
            .landmarks
            .iter()
            .flat_map(|l| l.points.iter())
            .map(|(n, q)| (n.clone(), p.to_input(*q)))
            .collect(),
        scout_dlp_mgycm: p.scout_dlp_mgycm,
        scan_dlp_mgycm: plan.map(|pl| pl.scan_dlp_mgycm),
        scout_fraction: plan.map(|pl| pl.scout_fraction()),
        rotations: plan.map(|pl| pl.rotations.len()),
        collimation_mm: plan.map(|pl| pl.collimation_mm),
        gantry_motion: plan.map(|pl| pl.motion),
    }
}

fn vec3(v: &Option<Vec<f64>>, name: &str) -> Result<[f64; 3]> {
    match v {
        None => Ok([0.0; 3]),
        Some(v) if v.len() == 3 && v.iter().all(|x| x.is_finite()) => Ok([v[0], v[1], v[2]]),
        Some(v) => bail!("--{name} {v:?}: expected three finite numbers x,y,z"),
    }
}

/// `roboct position`.
pub fn position(args: PositionArgs, ctx: &Context) -> Result<()> {
    let _ = ctx;
    let (patient, target, centre, frame) = load(&args)?;
    let options = SimulationOptions {
        seed: args.seed,
        input_center_mm: centre,
        offset_mm: vec3(&args.offset_mm, "offset-mm")?,
        rotation_deg: vec3(&args.rotation_deg, "rotation-deg")?,
        bed_height_mm: args.bed_height_mm,
        ..SimulationOptions::default()
    };
    let p = position_simulated_with(patient, target, &options).context("positioning")?;
    let j = to_json(&p, frame);
    println!("target: {}", target);
    match &p.outcome {
        Ok(plan) => {
            let r = j.scan_range_mm.unwrap_or_default();
            let iso = j.isocenter_mm.unwrap_or_default();
            println!(
                "plan: scan z {:.1} to {:.1} mm ({:.0} mm, {} rotation(s) of {:.1} mm), isocentre ({:.1}, {:.1}, {:.1}) mm",
                r[0],
                r[1],
                plan.length_mm(),
                plan.rotations.len(),
                plan.collimation_mm,
                iso[0],
                iso[1],
                iso[2]
            );
            println!(
                "organ ({}) found over {:.0} mm; margins {:.1} mm inferior, {:.1} mm superior",
                target.organ(),
                plan.organ_z_mm[1] - plan.organ_z_mm[0],
                plan.excess_mm[0],
                plan.excess_mm[1]
            );
            println!("gantry: {}", plan.motion);
            println!(
                "dose: scout {:.2} mGy cm, scan {:.1} mGy cm (scout {:.2}% of the scan)",
                p.scout_dlp_mgycm,
                plan.scan_dlp_mgycm,
                100.0 * plan.scout_fraction()
            );
        }
        Err(r) => {
            println!("refused: {r}");
            println!("what to do: {}", r.action());
        }
    }
    for (name, q) in &j.landmarks {
        println!("  {name}: ({:.1}, {:.1}, {:.1}) mm", q[0], q[1], q[2]);
    }
    println!("frame: {}", j.frame);
    if let Some(path) = &args.png {
        let img = render_scout(&p.scout, target, p.landmarks.as_ref(), p.outcome.as_ref());
        img.save(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&j)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `roboct bench positioning`.
#[derive(Debug, Args)]
pub struct BenchPositioningArgs {
    /// Patients per cohort (heads and chests alternating).
    #[arg(long, default_value_t = 200)]
    patients: usize,
    /// `both`, `development` or `test`.
    #[arg(long, default_value = "both")]
    cohort: String,
    /// Print the reports as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// `roboct bench positioning`.
pub fn bench_positioning(args: BenchPositioningArgs, ctx: &Context) -> Result<()> {
    use roboct_bench::positioning::{DEVELOPMENT_SEED_BASE, GOALS, TEST_SEED_BASE, run};
    if args.patients < 2 {
        bail!(
            "--patients {}: expected at least 2 (heads and chests alternate)",
            args.patients
        );
    }
    let cohorts = super::cohorts(&args.cohort, DEVELOPMENT_SEED_BASE, TEST_SEED_BASE)?;
    let mut reports = Vec::new();
    for (name, base) in cohorts {
        let bar = crate::progress::Bar::new(ctx.quiet);
        let report = run(name, base, args.patients, &bar)?;
        if !args.json {
            print!("{}", report.table());
        }
        reports.push(report);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        println!("\n{GOALS}");
    }
    Ok(())
}
