//! `roboct simulate-scan`, the patients of `roboct phantom --head|--chest` and `roboct bench
//! dose`: wiring for `roboct-phantom` (patients in HU), `roboct-scanner` (the simulated
//! scanner) and `roboct-bench`'s dose/quality curve.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use roboct_core::CancelToken;
use roboct_geometry::{Volume, VolumeGrid};
use roboct_phantom::chest::{ChestOptions, chest};
use roboct_phantom::head::{FindingKind, FindingSpec, HeadOptions, Side, head};
use roboct_phantom::patient::Patient;
use roboct_phantom::truth::Truth;
use roboct_scanner::patient::{AnalyticPatient, PatientModel, VoxelPatient};
use roboct_scanner::{CtdiPhantom, ScanRequest, ScannerSpec, files, simulate_scan};

use super::Context;
use crate::progress::Bar;

/// `KIND:ML[:SIDE[:HU]]`, e.g. `sdh:30:left:65`.
pub(crate) fn parse_bleed(text: &str) -> Result<FindingSpec, String> {
    let parts: Vec<&str> = text.split(':').map(str::trim).collect();
    if parts.len() < 2 || parts.len() > 4 {
        return Err(format!(
            "{text:?}: expected KIND:ML[:SIDE[:HU]] such as sdh:30:left:65 or iph:8"
        ));
    }
    let kind: FindingKind = parts[0].parse().map_err(|e| format!("{e}"))?;
    let volume_ml: f64 = parts[1]
        .parse()
        .map_err(|_| format!("{text:?}: volume {:?} is not a number of mL", parts[1]))?;
    let side = match parts.get(2).map(|s| s.to_ascii_lowercase()) {
        None => {
            if kind == FindingKind::Subarachnoid {
                Side::Midline
            } else {
                Side::Left
            }
        }
        Some(s) if s == "left" || s == "l" => Side::Left,
        Some(s) if s == "right" || s == "r" => Side::Right,
        Some(s) if s == "midline" || s == "m" => Side::Midline,
        Some(s) => {
            return Err(format!(
                "{text:?}: side {s:?}; expected left, right or midline"
            ));
        }
    };
    let hu = match parts.get(3) {
        None => 65.0,
        Some(h) => h
            .parse()
            .map_err(|_| format!("{text:?}: CT number {h:?} is not a number of HU"))?,
    };
    Ok(FindingSpec {
        kind,
        volume_ml,
        side,
        hu,
    })
}

/// How a simulated patient is made.
#[derive(Debug, Clone, Args)]
pub struct PatientArgs {
    /// Seed of the patient's anatomy, pose and findings.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A haemorrhage to insert, KIND:ML[:SIDE[:HU]] (KIND: intraparenchymal/iph, subdural/sdh,
    /// epidural/edh, subarachnoid/sah, intraventricular/ivh; SIDE: left, right or midline;
    /// HU at 70 keV, default 65); repeatable. Head only.
    #[arg(long = "bleed", value_parser = parse_bleed)]
    bleeds: Vec<FindingSpec>,
    /// Leave out the calcifications (pineal, choroid plexus, falx). Head only.
    #[arg(long)]
    no_distractors: bool,
    /// Largest offset of the patient from the isocentre along each axis, mm.
    #[arg(long, default_value_t = 10.0)]
    max_offset_mm: f64,
    /// Largest rotation of the patient about each axis, degrees.
    #[arg(long, default_value_t = 6.0)]
    max_rotation_deg: f64,
}

/// Which simulated patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Anatomy {
    /// The adult head (brain, skull, face, neck).
    Head,
    /// The adult chest.
    Chest,
}

/// A simulated patient, its truth, and the grid its truth is sampled on by default.
pub(crate) struct MadePatient {
    pub patient: Patient,
    pub truth: Truth,
    pub default_grid: VolumeGrid,
    pub name: String,
}

pub(crate) fn make_patient(anatomy: Anatomy, args: &PatientArgs) -> Result<MadePatient> {
    Ok(match anatomy {
        Anatomy::Head => {
            let h = head(&HeadOptions {
                seed: args.seed,
                findings: args.bleeds.clone(),
                distractors: !args.no_distractors,
                max_offset_mm: args.max_offset_mm,
                max_rotation_deg: args.max_rotation_deg,
            })?;
            let truth = h.truth();
            MadePatient {
                patient: h.patient,
                truth,
                default_grid: VolumeGrid::centered([256, 256, 256], [1.0; 3], [0.0, 0.0, -5.0])?,
                name: format!("head, seed {}", args.seed),
            }
        }
        Anatomy::Chest => {
            if !args.bleeds.is_empty() {
                bail!("--bleed: haemorrhages are made in the head only (give --head)");
            }
            let c = chest(&ChestOptions {
                seed: args.seed,
                max_offset_mm: args.max_offset_mm,
                max_rotation_deg: args.max_rotation_deg,
            })?;
            let truth = c.truth();
            MadePatient {
                patient: c.patient,
                truth,
                default_grid: VolumeGrid::centered([256, 256, 160], [1.6, 1.6, 2.5], [0.0; 3])?,
                name: format!("chest, seed {}", args.seed),
            }
        }
    })
}

/// The extension of a volume file name (`nii.gz` counts as one).
fn volume_ext(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".nii.gz") {
        "nii.gz".into()
    } else {
        path.extension()
            .and_then(|e| e.to_str())
            .unwrap_or("nii.gz")
            .to_string()
    }
}

/// Writes a patient sampled in HU on `grid` to `out` and its truth (with masks) to `truth`
/// (default: `truth.json` beside `out`).
pub(crate) fn write_patient(
    made: &MadePatient,
    grid: &VolumeGrid,
    out: &Path,
    truth_path: Option<&Path>,
    supersample: usize,
) -> Result<PathBuf> {
    let raster = made.patient.rasterize(grid, supersample.max(2));
    roboct_io::write_volume(out, &raster.hu)
        .with_context(|| format!("writing {}", out.display()))?;
    let truth_path = truth_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out.parent().unwrap_or(Path::new("")).join("truth.json"));
    let mut truth = made.truth.clone();
    files::write_truth(&truth_path, &mut truth, &raster, &volume_ext(out))?;
    Ok(truth_path)
}

/// `roboct simulate-scan`.
#[derive(Debug, Args)]
pub struct SimulateScanArgs {
    /// The patient: `head`, `chest`, or a CT volume in HU (.nii, .nii.gz, .mha, .mhd, .npy) or a
    /// folder holding one DICOM CT series.
    #[arg(long)]
    phantom: String,
    #[command(flatten)]
    patient: PatientArgs,
    /// Tube voltage, kV (70 to 140).
    #[arg(long, default_value_t = 120.0)]
    kvp: f64,
    /// Tube current-time product of the rotation, mAs.
    #[arg(long, default_value_t = 300.0)]
    mas: f64,
    /// Views over the arc (60-120 for a sparse-view protocol).
    #[arg(long, default_value_t = 360)]
    views: usize,
    /// Arc, degrees.
    #[arg(long, default_value_t = 360.0)]
    arc_deg: f64,
    /// Beam width along z at the isocentre, mm (default: the patient's grid, at most the
    /// detector).
    #[arg(long)]
    collimation_mm: Option<f64>,
    /// Beam centre along z, mm (default: the patient grid's centre).
    #[arg(long, allow_hyphen_values = true)]
    z_center_mm: Option<f64>,
    /// Angular tube-current modulation with this strength (0.5: noise-optimal).
    #[arg(long)]
    modulation: Option<f64>,
    /// CTDI phantom of the dose: head (16 cm) or body (32 cm); default: body for a chest,
    /// head otherwise.
    #[arg(long)]
    ctdi_phantom: Option<CtdiChoice>,
    /// Seed of the quantum and electronic noise (default: the patient's --seed).
    #[arg(long)]
    noise_seed: Option<u64>,
    /// Rays per detector pixel edge for the analytic patients (2: softer, 4x slower).
    #[arg(long, default_value_t = 1)]
    supersample: usize,
    /// Also write the patient's truth in HU on the geometry's grid (`<stem>.truth.nii.gz`) and
    /// `truth.json` with its masks (phantoms only).
    #[arg(long)]
    truth: bool,
    /// Projections to write (.npy or .mha); the geometry (.toml), weights, dose record and scan
    /// record are written beside them.
    #[arg(long)]
    out: PathBuf,
}

/// The CTDI phantom on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CtdiChoice {
    /// 16 cm PMMA.
    Head,
    /// 32 cm PMMA.
    Body,
}

/// A patient volume from a file or a DICOM folder, in HU.
fn read_patient_volume(path: &Path) -> Result<Volume> {
    if path.is_dir() {
        let (v, summary) = roboct_dicom::reader::read_series(path, None)
            .with_context(|| format!("reading the DICOM series in {}", path.display()))?;
        if summary.modality != "CT" {
            bail!(
                "{}: the series is {}, not CT: its values are not in HU",
                path.display(),
                summary.modality
            );
        }
        Ok(v)
    } else {
        roboct_io::read_volume(path)
            .with_context(|| format!("reading the patient {}", path.display()))
    }
}

/// The patient of `--phantom`: a simulated one (with its truth) or a volume in HU, the grid
/// it is sampled on, and the CTDI phantom its dose is reported in by default.
enum Scanned {
    Made(MadePatient),
    Volume(VoxelPatient),
}

fn scanned_patient(args: &SimulateScanArgs) -> Result<(Scanned, VolumeGrid, CtdiPhantom)> {
    Ok(match args.phantom.as_str() {
        "head" | "chest" => {
            let (anatomy, phantom) = if args.phantom == "head" {
                (Anatomy::Head, CtdiPhantom::Head16)
            } else {
                (Anatomy::Chest, CtdiPhantom::Body32)
            };
            let made = make_patient(anatomy, &args.patient)?;
            let grid = made.default_grid.clone();
            (Scanned::Made(made), grid, phantom)
        }
        file => {
            if !args.patient.bleeds.is_empty() {
                bail!("--bleed: haemorrhages can be inserted in the simulated head only");
            }
            let v = read_patient_volume(Path::new(file))?;
            let grid = v.grid().clone();
            let p = VoxelPatient::from_hu(&v)
                .with_context(|| format!("decomposing {file} into materials"))?;
            let r = &p.report;
            if r.padding_voxels + r.below_air_voxels > 0 {
                println!(
                    "note: {} voxels below -1000 HU (padding outside the field of view, or noise) were taken as air",
                    r.padding_voxels + r.below_air_voxels
                );
            }
            (Scanned::Volume(p), grid, CtdiPhantom::Head16)
        }
    })
}

pub fn simulate(args: SimulateScanArgs, ctx: &Context) -> Result<()> {
    let spec = ScannerSpec::mobile_head();
    let (patient, grid, ctdi_default) = scanned_patient(&args)?;
    let request = ScanRequest {
        kvp: args.kvp,
        mas: args.mas,
        views: args.views,
        arc_deg: args.arc_deg,
        collimation_mm: args.collimation_mm,
        z_center_mm: args.z_center_mm,
        modulation: args.modulation,
        ctdi_phantom: args.ctdi_phantom.map(|c| match c {
            CtdiChoice::Head => CtdiPhantom::Head16,
            CtdiChoice::Body => CtdiPhantom::Body32,
        }),
        seed: args.noise_seed.unwrap_or(args.patient.seed),
    };
    let protocol = request.protocol(&spec, &grid, ctdi_default);
    if args.supersample == 0 || args.supersample > 8 {
        bail!(
            "--supersample {}: expected 1 to 8 rays per pixel edge",
            args.supersample
        );
    }
    let analytic;
    let (model, name): (&dyn PatientModel, String) = match &patient {
        Scanned::Made(m) => {
            analytic = AnalyticPatient {
                patient: &m.patient,
                supersample: args.supersample,
            };
            (&analytic, m.name.clone())
        }
        Scanned::Volume(v) => (v, args.phantom.clone()),
    };
    // Before the simulation, so a folder that cannot be made costs no scan.
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--out: cannot create the folder {}", dir.display()))?;
    }
    let bar = Bar::new(ctx.quiet);
    let scan = simulate_scan(&spec, &protocol, model, &bar, &CancelToken::new())?;
    let record = files::write_scan(&args.out, &scan, &spec, &protocol, &grid, &name)?;
    print!(
        "{}",
        files::scan_summary(&name, &args.out, &scan, &protocol, &record)
    );
    if args.truth {
        let Scanned::Made(m) = &patient else {
            bail!("--truth: the truth of a volume patient is the volume itself");
        };
        let stem = args
            .out
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("scan");
        let dir = args.out.parent().unwrap_or(Path::new(""));
        let out = dir.join(format!("{stem}.truth.nii.gz"));
        let t = write_patient(m, &grid, &out, Some(&dir.join("truth.json")), 2)?;
        println!("wrote the truth: {} and {}", out.display(), t.display());
    }
    Ok(())
}

/// `roboct bench dose`.
#[derive(Debug, Args)]
pub struct BenchDoseArgs {
    /// `both`, `development` (the seeds the iterative parameters were chosen on) or `test`
    /// (held out).
    #[arg(long, default_value = "both")]
    cohort: String,
    /// Patients per cohort (default: 2 development, 3 test).
    #[arg(long)]
    patients: Option<usize>,
    /// Dose fractions of the standard head dose, at full views.
    #[arg(long, value_delimiter = ',', default_value = "1,0.5,0.25,0.1")]
    fractions: Vec<f64>,
    /// Sparse-view protocols as VIEWS:FRACTION, or `none`.
    #[arg(long, value_delimiter = ',', default_value = "120:0.25,60:0.25")]
    sparse: Vec<String>,
    /// Views of the full protocols.
    #[arg(long, default_value_t = 360)]
    views: usize,
    /// The standard head dose's tube current-time product (120 kVp).
    #[arg(long, default_value_t = 250.0)]
    standard_mas: f64,
    /// The reconstructions: `fdk[-WINDOW]` or `sirt|os-sart|cgls|fista-tv|pwls` with optional
    /// `@ITERATIONS` and `:PARAMETER` (TV weight, PWLS beta), e.g. `pwls@20:0.02` (default:
    /// FDK and every iterative method with the parameters chosen on the development seeds).
    #[arg(long, value_delimiter = ',')]
    methods: Vec<String>,
    /// Voxel size of the reconstructions, mm.
    #[arg(long, default_value_t = 1.0)]
    voxel_mm: f64,
    /// Folder for the plots (`dose-quality-<cohort>.png`).
    #[arg(long, default_value = ".")]
    png: PathBuf,
    /// Print the reports and goals as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// `roboct bench dose`: the dose/quality curve on development and held-out heads.
pub fn bench_dose(args: BenchDoseArgs, ctx: &Context) -> Result<()> {
    use roboct_bench::dose::{
        DEVELOPMENT_SEED_BASE, DEVELOPMENT_SEEDS, DoseBenchConfig, ReconChoice, TEST_SEED_BASE,
        TEST_SEEDS, default_methods, parse_sparse, run_dose_bench,
    };
    let methods = if args.methods.is_empty() {
        default_methods()
    } else {
        args.methods
            .iter()
            .map(|m| m.parse::<ReconChoice>())
            .collect::<Result<_, _>>()?
    };
    let sparse = parse_sparse(&args.sparse)?;
    std::fs::create_dir_all(&args.png)
        .with_context(|| format!("cannot create the plot folder {}", args.png.display()))?;
    let mut out = Vec::new();
    for (name, base) in super::cohorts(&args.cohort, DEVELOPMENT_SEED_BASE, TEST_SEED_BASE)? {
        let n = args.patients.unwrap_or(if name == "test" {
            TEST_SEEDS.len()
        } else {
            DEVELOPMENT_SEEDS.len()
        });
        let config = DoseBenchConfig {
            seeds: (base..base + n as u64).collect(),
            standard_mas: args.standard_mas,
            fractions: args.fractions.clone(),
            sparse: sparse.clone(),
            views: args.views,
            voxel_mm: args.voxel_mm,
            methods: methods.clone(),
        };
        let bar = crate::progress::Bar::new(ctx.quiet);
        let report = run_dose_bench(name, &config, &bar)?;
        let plot = args.png.join(format!("dose-quality-{name}.png"));
        report.write_plot(&plot)?;
        if !args.json {
            print!("{}", report.table());
            println!("plot: {}", plot.display());
        }
        out.push(serde_json::json!({
            "report": report,
            "goals": report.goals(),
            "plot": plot,
        }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}
