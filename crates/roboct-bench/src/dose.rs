//! `roboct bench dose`: the dose/quality curve. The same simulated head with a 10 mL, 60 HU
//! intraparenchymal bleed is scanned at 100%, 50%, 25% and 10% of a standard head dose (and
//! sparse-view variants), each scan is reconstructed with FDK and every iterative method, and
//! each image is scored against the exact truth: RMSE in HU inside the brain, the lesion's
//! contrast-to-noise ratio, SSIM in the brain window, and the time.
//!
//! * The scan covers a 40 mm slab centred on the bleed (the beam's width at the isocentre):
//!   CTDIvol does not depend on the slab's width, and a slab keeps the iterative methods'
//!   volumes (which must hold everything the beam crosses) small enough to run every method
//!   at every dose in minutes.
//! * Scores are taken on the central 24 mm of the slab, where every view sees every voxel.
//!   The brain mask is the intracranial soft tissue and CSF of the truth, more than 3 mm from
//!   bone (the skull's edge is a resolution test, not a dose test). The lesion is its voxels
//!   that the bleed fills entirely, less one voxel of margin; its background is the tissue
//!   that surrounds it most (white matter, usually) 3 to 8 mm from the bleed, where the
//!   truth is that tissue alone (so the background's spread is noise, not anatomy). SSIM (Wang et al.
//!   2004) is computed in the brain window (0 to 80 HU) over the brain mask.
//! * Patients: the development seeds are the ones the reconstruction parameters were chosen
//!   on; the default (held-out) seeds were not looked at while choosing them.

use std::time::Instant;

use ndarray::Array3;
use roboct_core::{CancelToken, NoProgress, Progress};
use roboct_geometry::VolumeGrid;
use roboct_phantom::head::{FindingKind, FindingSpec, HeadOptions, Side, head};
use roboct_phantom::patient::Organ;
use roboct_recon::{
    AnalyticOptions, Filter, IterativeMethod, IterativeOptions, ReconPlan, WarmStart, Window,
    fdk_volume, reconstruct_iterative,
};
use roboct_scanner::patient::AnalyticPatient;
use roboct_scanner::{Protocol, ScannerSpec, simulate_scan};

use crate::BenchError;
use crate::metrics::{cnr, rmse, ssim_3d};
use crate::plot::{Panel, Series};

/// A reconstruction to compare.
#[derive(Clone, Debug, PartialEq)]
pub enum ReconChoice {
    /// FDK with a filter window.
    Fdk(Window),
    /// An iterative method with its options (warm start and weights are set by the bench).
    Iterative(IterativeOptions),
}

impl ReconChoice {
    /// A short name for tables.
    pub fn name(&self) -> String {
        match self {
            ReconChoice::Fdk(w) => format!("fdk-{}", w.name()),
            ReconChoice::Iterative(o) => o.method.name().to_string(),
        }
    }
}

impl std::str::FromStr for ReconChoice {
    type Err = BenchError;

    /// `fdk` or `fdk-WINDOW` (`fdk-ram-lak`, `fdk-hann`...), or an iterative method by its
    /// command-line name with optional `@ITERATIONS` and `:PARAMETER` (FISTA-TV's TV weight,
    /// PWLS's beta): `pwls@20:0.02`, `fista-tv:1e-5`, `os-sart@4`. Unspecified values are
    /// those of [`default_methods`].
    fn from_str(spec: &str) -> Result<Self, BenchError> {
        let bad = |expected: &'static str| BenchError::Invalid {
            field: "--methods",
            value: format!("{spec:?}"),
            expected,
        };
        if spec == "fdk" {
            return Ok(ReconChoice::Fdk(Window::Hann));
        }
        if let Some(window) = spec.strip_prefix("fdk-") {
            return window
                .parse::<Window>()
                .map(ReconChoice::Fdk)
                .map_err(|_| bad("fdk, or fdk-WINDOW with a filter window roboct recon knows"));
        }
        const EXPECTED: &str = "fdk[-WINDOW] or sirt|os-sart|cgls|fista-tv|pwls with optional \
             @ITERATIONS (at least 1) and :PARAMETER (TV weight or PWLS beta, finite, >= 0)";
        let (head, parameter) = match spec.split_once(':') {
            Some((h, p)) => (
                h,
                Some(
                    p.parse::<f32>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                        .ok_or_else(|| bad(EXPECTED))?,
                ),
            ),
            None => (spec, None),
        };
        let (name, iterations) = match head.split_once('@') {
            Some((n, i)) => (
                n,
                Some(
                    i.parse::<usize>()
                        .ok()
                        .filter(|&i| i >= 1)
                        .ok_or_else(|| bad(EXPECTED))?,
                ),
            ),
            None => (head, None),
        };
        let mut options = default_methods()
            .into_iter()
            .find_map(|m| match m {
                ReconChoice::Iterative(o) if o.method.name() == name => Some(o),
                _ => None,
            })
            .ok_or_else(|| bad(EXPECTED))?;
        if let Some(i) = iterations {
            options.iterations = i;
        }
        match (options.method, parameter) {
            (_, None) => {}
            (IterativeMethod::FistaTv, Some(p)) => options.tv_weight = p,
            (IterativeMethod::Pwls, Some(p)) => options.pwls_beta = p,
            (_, Some(_)) => {
                return Err(bad(
                    "a :PARAMETER only after fista-tv (TV weight) or pwls (beta)",
                ));
            }
        }
        Ok(ReconChoice::Iterative(options))
    }
}

/// The reconstructions the bench runs by default, with the parameters chosen on the
/// development seeds (FISTA-TV's weight on seed 11 at 25% dose: 1e-5 against 2e-5 and the
/// earlier 4e-5, which halved the lesion's contrast; PWLS's beta: 0.02, larger ones do not
/// converge in 20 iterations).
pub fn default_methods() -> Vec<ReconChoice> {
    vec![
        ReconChoice::Fdk(Window::Hann),
        ReconChoice::Iterative(IterativeOptions::new(IterativeMethod::Sirt).iterations(20)),
        ReconChoice::Iterative(
            IterativeOptions::new(IterativeMethod::OsSart)
                .iterations(4)
                .subsets(10),
        ),
        ReconChoice::Iterative(IterativeOptions::new(IterativeMethod::Cgls).iterations(8)),
        ReconChoice::Iterative(
            IterativeOptions::new(IterativeMethod::FistaTv)
                .iterations(20)
                .tv_weight(1e-5),
        ),
        ReconChoice::Iterative(
            IterativeOptions::new(IterativeMethod::Pwls)
                .iterations(20)
                .pwls_beta(0.02),
        ),
    ]
}

/// What to run.
#[derive(Clone, Debug)]
pub struct DoseBenchConfig {
    /// Head seeds (one patient each); the figures are means over them.
    pub seeds: Vec<u64>,
    /// mAs of the standard head dose.
    pub standard_mas: f64,
    /// Dose fractions with the full 360 views.
    pub fractions: Vec<f64>,
    /// Sparse-view protocols: (views, dose fraction).
    pub sparse: Vec<(usize, f64)>,
    /// Views of the full protocols.
    pub views: usize,
    /// Voxel size, mm.
    pub voxel_mm: f64,
    /// The reconstructions.
    pub methods: Vec<ReconChoice>,
}

/// The seeds the reconstruction parameters were chosen on.
pub const DEVELOPMENT_SEEDS: [u64; 2] = [11, 12];
/// The held-out seeds the bench reports by default.
pub const TEST_SEEDS: [u64; 3] = [9001, 9002, 9003];
/// The first development seed; a development cohort of `n` patients is `11..11 + n`.
pub const DEVELOPMENT_SEED_BASE: u64 = DEVELOPMENT_SEEDS[0];
/// The first held-out seed; a test cohort of `n` patients is `9001..9001 + n`.
pub const TEST_SEED_BASE: u64 = TEST_SEEDS[0];
// A development cohort must never reach the test seeds.
const _: () = assert!(DEVELOPMENT_SEED_BASE + 1000 < TEST_SEED_BASE);

impl DoseBenchConfig {
    /// Checks every setting, naming the first one out of range.
    pub fn validate(&self) -> Result<(), BenchError> {
        let bad = |field, value: String, expected| {
            Err(BenchError::Invalid {
                field,
                value,
                expected,
            })
        };
        if self.seeds.is_empty() || self.seeds.len() > 1000 {
            return bad("--patients", self.seeds.len().to_string(), "1 to 1000");
        }
        if !(self.standard_mas.is_finite()
            && self.standard_mas > 0.0
            && self.standard_mas <= 1000.0)
        {
            return bad(
                "--standard-mas",
                self.standard_mas.to_string(),
                "a tube current-time product in (0, 1000] mAs",
            );
        }
        for f in self
            .fractions
            .iter()
            .chain(self.sparse.iter().map(|(_, f)| f))
        {
            if !(f.is_finite() && *f > 0.0 && *f <= 4.0) {
                return bad("--fractions", f.to_string(), "dose fractions in (0, 4]");
            }
        }
        if self.fractions.is_empty() && self.sparse.is_empty() {
            return bad("--fractions", "(none)".into(), "at least one protocol");
        }
        for v in std::iter::once(self.views).chain(self.sparse.iter().map(|(v, _)| *v)) {
            if !(8..=3600).contains(&v) {
                return bad("--views", v.to_string(), "8 to 3600 views per rotation");
            }
        }
        if !(self.voxel_mm.is_finite() && (0.25..=8.0).contains(&self.voxel_mm)) {
            return bad("--voxel-mm", self.voxel_mm.to_string(), "0.25 to 8 mm");
        }
        if self.methods.is_empty() {
            return bad("--methods", "(none)".into(), "at least one reconstruction");
        }
        Ok(())
    }
}

/// Parses `--sparse VIEWS:FRACTION[,...]` (`none` for no sparse-view protocol).
pub fn parse_sparse(specs: &[String]) -> Result<Vec<(usize, f64)>, BenchError> {
    if specs.len() == 1 && specs[0] == "none" {
        return Ok(Vec::new());
    }
    specs
        .iter()
        .map(|s| {
            s.split_once(':')
                .and_then(|(v, f)| Some((v.parse().ok()?, f.parse().ok()?)))
                .ok_or_else(|| BenchError::Invalid {
                    field: "--sparse",
                    value: format!("{s:?}"),
                    expected: "VIEWS:FRACTION, e.g. 120:0.25, or none",
                })
        })
        .collect()
}

impl Default for DoseBenchConfig {
    fn default() -> Self {
        Self {
            seeds: TEST_SEEDS.to_vec(),
            standard_mas: 250.0,
            fractions: vec![1.0, 0.5, 0.25, 0.1],
            sparse: vec![(120, 0.25), (60, 0.25)],
            views: 360,
            voxel_mm: 1.0,
            methods: default_methods(),
        }
    }
}

/// One reconstruction of one protocol, averaged over the patients.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DoseRow {
    /// `100%`, `25% 120 views`...
    pub protocol: String,
    /// Dose as a fraction of the standard.
    pub dose_fraction: f64,
    /// Views.
    pub views: usize,
    /// mAs.
    pub mas: f64,
    /// CTDIvol, mGy (16 cm phantom).
    pub ctdi_vol_mgy: f64,
    /// The reconstruction.
    pub method: String,
    /// RMSE inside the brain, HU.
    pub rmse_hu: f64,
    /// Lesion contrast-to-noise ratio.
    pub cnr: f64,
    /// Lesion contrast, HU (its mean minus the background's).
    pub contrast_hu: f64,
    /// Noise (standard deviation of the background), HU.
    pub noise_hu: f64,
    /// SSIM in the brain window.
    pub ssim: f64,
    /// Reconstruction time, s.
    pub recon_s: f64,
}

/// The whole curve.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DoseReport {
    /// The cohort (`development` or `test`).
    pub cohort: String,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Rows.
    pub rows: Vec<DoseRow>,
    /// The scanner.
    pub scanner: String,
    /// Seconds in all.
    pub total_s: f64,
}

/// The truth of one patient around the lesion, and its masks.
struct Scene {
    patient: roboct_phantom::patient::Patient,
    grid: VolumeGrid,
    truth_hu: Array3<f32>,
    brain: Array3<bool>,
    lesion: Array3<bool>,
    background: Array3<bool>,
    lesion_z_mm: f64,
}

/// Chamfer distance (mm, 3-4-5 weights scaled) from every voxel to the nearest `true` one,
/// in-slice spacing `voxel_mm`.
fn distance_mm(set: &Array3<bool>, voxel_mm: f64) -> Array3<f32> {
    let (nz, ny, nx) = set.dim();
    let big = f32::MAX / 4.0;
    let mut d = set.mapv(|v| if v { 0.0f32 } else { big });
    let (a, b, c) = (1.0f32, std::f32::consts::SQRT_2, 3f32.sqrt());
    let w = |dz: i64, dy: i64, dx: i64| match (dz != 0) as u8 + (dy != 0) as u8 + (dx != 0) as u8 {
        1 => a,
        2 => b,
        _ => c,
    };
    let offsets: Vec<(i64, i64, i64)> = (-1..=1)
        .flat_map(|dz| (-1..=1).flat_map(move |dy| (-1..=1).map(move |dx| (dz, dy, dx))))
        .filter(|&(dz, dy, dx)| (dz, dy, dx) < (0, 0, 0))
        .collect();
    for pass in 0..2 {
        let sign = if pass == 0 { 1 } else { -1 };
        let zs: Vec<usize> = if pass == 0 {
            (0..nz).collect()
        } else {
            (0..nz).rev().collect()
        };
        for &z in &zs {
            let ys: Vec<usize> = if pass == 0 {
                (0..ny).collect()
            } else {
                (0..ny).rev().collect()
            };
            for &y in &ys {
                let xs: Vec<usize> = if pass == 0 {
                    (0..nx).collect()
                } else {
                    (0..nx).rev().collect()
                };
                for &x in &xs {
                    let mut best = d[[z, y, x]];
                    for &(dz, dy, dx) in &offsets {
                        let (zz, yy, xx) = (
                            z as i64 + sign * dz,
                            y as i64 + sign * dy,
                            x as i64 + sign * dx,
                        );
                        if zz < 0
                            || yy < 0
                            || xx < 0
                            || zz >= nz as i64
                            || yy >= ny as i64
                            || xx >= nx as i64
                        {
                            continue;
                        }
                        best = best.min(d[[zz as usize, yy as usize, xx as usize]] + w(dz, dy, dx));
                    }
                    d[[z, y, x]] = best;
                }
            }
        }
    }
    d.mapv(|v| v * voxel_mm as f32)
}

fn scene(seed: u64, voxel_mm: f64) -> Result<Scene, BenchError> {
    let h = head(&HeadOptions {
        seed,
        findings: vec![FindingSpec {
            kind: FindingKind::Intraparenchymal,
            volume_ml: 10.0,
            side: if seed.is_multiple_of(2) {
                Side::Right
            } else {
                Side::Left
            },
            hu: 60.0,
        }],
        ..HeadOptions::default()
    })?;
    let truth = h.truth();
    let c = truth.findings[0].centroid_mm;
    let centre = truth.landmarks["head_center"];
    let n = |mm: f64| (mm / voxel_mm).round() as usize;
    // Everything the 40 mm beam crosses (its width grows to 47 mm behind the head).
    let grid = VolumeGrid::centered(
        [n(224.0), n(240.0), n(50.0)],
        [voxel_mm; 3],
        [centre[0], centre[1], c[2]],
    )?;
    let raster = h.patient.rasterize(&grid, 2);
    let truth_hu = raster.hu.data().clone();
    let bone = truth_hu.mapv(|v| v > 200.0);
    let near_bone = distance_mm(&bone, voxel_mm).mapv(|d| d <= 3.0);
    let central = |k: usize| {
        let z = grid.world_from_index([0.0, 0.0, k as f64])[2];
        (z - c[2]).abs() <= 12.0
    };
    let mut brain = Array3::from_elem(truth_hu.dim(), false);
    for ((k, j, i), b) in brain.indexed_iter_mut() {
        let l = raster.labels[[k, j, i]];
        let organ_ok = l != u16::MAX
            && matches!(
                h.patient.bodies()[l as usize].organ,
                Organ::Brain | Organ::Ventricle
            );
        let v = truth_hu[[k, j, i]];
        *b = organ_ok && (-20.0..=120.0).contains(&v) && !near_bone[[k, j, i]] && central(k);
    }
    let full = raster.finding_fractions[0].mapv(|f| f >= 0.999);
    let not_full = full.mapv(|v| !v);
    let lesion = distance_mm(&not_full, voxel_mm).mapv(|d| d > voxel_mm as f32 * 1.01);
    let any = raster.finding_fractions[0].mapv(|f| f > 0.0);
    let from_lesion = distance_mm(&any, voxel_mm);
    // The background is the tissue that surrounds the bleed most (white matter, usually),
    // where the truth is that tissue alone: its spread is then noise and artefacts, not
    // anatomy.
    let shell = ndarray::Zip::from(&from_lesion)
        .and(&brain)
        .map_collect(|&d, &b| (3.0..=8.0).contains(&d) && b);
    let mut counts = std::collections::HashMap::<u16, usize>::new();
    for (&l, &in_shell) in raster.labels.iter().zip(shell.iter()) {
        if in_shell {
            *counts.entry(l).or_default() += 1;
        }
    }
    let modal = counts.into_iter().max_by_key(|(_, n)| *n).map(|(l, _)| l);
    let modal_hu = modal.map(|l| {
        let b = &h.patient.bodies()[l as usize];
        h.patient.materials()[b.material].hu() as f32
    });
    let mut background = Array3::from_elem(truth_hu.dim(), false);
    for ((k, j, i), b) in background.indexed_iter_mut() {
        *b = shell[[k, j, i]]
            && Some(raster.labels[[k, j, i]]) == modal
            && modal_hu.is_some_and(|m| (truth_hu[[k, j, i]] - m).abs() < 1.0);
    }
    let lesion = ndarray::Zip::from(&lesion)
        .and(&brain)
        .map_collect(|&l, &b| l && b);
    Ok(Scene {
        patient: h.patient,
        grid,
        truth_hu,
        brain,
        lesion,
        background,
        lesion_z_mm: c[2],
    })
}

/// Reconstructs `scan` on `grid` by `choice`, in HU.
fn reconstruct(
    choice: &ReconChoice,
    scan: &roboct_scanner::SimulatedScan,
    grid: &VolumeGrid,
) -> Result<Array3<f32>, BenchError> {
    let mu = match choice {
        ReconChoice::Fdk(window) => {
            let (v, _) = fdk_volume(
                &scan.geometry,
                scan.projections.clone(),
                grid,
                &AnalyticOptions {
                    filter: Filter {
                        window: *window,
                        cutoff: 1.0,
                    },
                    ..AnalyticOptions::default()
                },
                &NoProgress,
                &CancelToken::new(),
            )?;
            v
        }
        ReconChoice::Iterative(options) => {
            let plan = ReconPlan::new(&scan.geometry, grid)?;
            let weights = (options.method == IterativeMethod::Pwls).then(|| scan.weights.view());
            let (v, _) = reconstruct_iterative(
                &plan,
                scan.projections.view(),
                weights,
                &options.clone().warm_start(WarmStart::Fdk),
                &NoProgress,
                &CancelToken::new(),
            )?;
            v
        }
    };
    let mu_w = scan.mu_water_per_mm as f32;
    Ok(mu.into_parts().1.mapv(|v| 1000.0 * (v - mu_w) / mu_w))
}

/// Runs the bench on `config.seeds`, naming the report `cohort`.
pub fn run_dose_bench(
    cohort: &str,
    config: &DoseBenchConfig,
    progress: &dyn Progress,
) -> Result<DoseReport, BenchError> {
    config.validate()?;
    let start = Instant::now();
    let spec = ScannerSpec::mobile_head();
    let mut protocols: Vec<(String, f64, usize)> = config
        .fractions
        .iter()
        .map(|f| (format!("{:.0}%", 100.0 * f), *f, config.views))
        .collect();
    protocols.extend(
        config
            .sparse
            .iter()
            .map(|(v, f)| (format!("{:.0}% {v} views", 100.0 * f), *f, *v)),
    );
    let steps = (config.seeds.len() * protocols.len() * config.methods.len()) as u64;
    progress.start("dose bench", steps);
    // rows[protocol][method] accumulate over seeds.
    let mut acc: Vec<Vec<(DoseRow, usize)>> = Vec::new();
    for (si, &seed) in config.seeds.iter().enumerate() {
        let sc = scene(seed, config.voxel_mm)?;
        for (pi, (name, fraction, views)) in protocols.iter().enumerate() {
            let protocol = Protocol {
                mas: config.standard_mas * fraction,
                views: *views,
                collimation_mm: 40.0,
                z_center_mm: sc.lesion_z_mm,
                seed: seed * 1000 + pi as u64,
                ..Protocol::standard_head()
            };
            let scan = simulate_scan(
                &spec,
                &protocol,
                &AnalyticPatient {
                    patient: &sc.patient,
                    supersample: 1,
                },
                &NoProgress,
                &CancelToken::new(),
            )?;
            if si == 0 {
                acc.push(Vec::new());
            }
            for (mi, m) in config.methods.iter().enumerate() {
                let t = Instant::now();
                let hu = reconstruct(m, &scan, &sc.grid)?;
                let recon_s = t.elapsed().as_secs_f64();
                let (lm, _, _) = crate::metrics::mean_std(hu.view(), sc.lesion.view());
                let (bm, bs, _) = crate::metrics::mean_std(hu.view(), sc.background.view());
                let row = DoseRow {
                    protocol: name.clone(),
                    dose_fraction: *fraction,
                    views: *views,
                    mas: protocol.mas,
                    ctdi_vol_mgy: scan.dose.ctdi_vol.0,
                    method: m.name(),
                    rmse_hu: rmse(hu.view(), sc.truth_hu.view(), sc.brain.view()),
                    cnr: cnr(hu.view(), sc.lesion.view(), sc.background.view()),
                    contrast_hu: lm - bm,
                    noise_hu: bs,
                    ssim: ssim_3d(hu.view(), sc.truth_hu.view(), sc.brain.view(), 0.0, 80.0),
                    recon_s,
                };
                if si == 0 {
                    acc[pi].push((row, 1));
                } else {
                    let (a, n) = &mut acc[pi][mi];
                    a.rmse_hu += row.rmse_hu;
                    a.cnr += row.cnr;
                    a.contrast_hu += row.contrast_hu;
                    a.noise_hu += row.noise_hu;
                    a.ssim += row.ssim;
                    a.recon_s += row.recon_s;
                    a.ctdi_vol_mgy += row.ctdi_vol_mgy;
                    *n += 1;
                }
                progress.advance(1);
            }
        }
    }
    progress.finish();
    let rows = acc
        .into_iter()
        .flatten()
        .map(|(mut r, n)| {
            let n = n as f64;
            r.rmse_hu /= n;
            r.cnr /= n;
            r.contrast_hu /= n;
            r.noise_hu /= n;
            r.ssim /= n;
            r.recon_s /= n;
            r.ctdi_vol_mgy /= n;
            r
        })
        .collect();
    Ok(DoseReport {
        cohort: cohort.to_string(),
        seeds: config.seeds.clone(),
        rows,
        scanner: format!(
            "roboct mobile head CT: flat CsI panel {} x {} of {} mm, SID {} mm, SDD {} mm, {} kVp",
            spec.cols,
            spec.rows,
            spec.pixel_mm[0],
            spec.sid_mm,
            spec.sdd_mm,
            Protocol::standard_head().kvp
        ),
        total_s: start.elapsed().as_secs_f64(),
    })
}

/// The two goals, judged on one report.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DoseGoals {
    /// FDK at the full dose and views: the reference (absent when not run).
    pub reference: Option<DoseRow>,
    /// Iterative reconstructions at a quarter of the dose (any views) whose RMSE is at most
    /// and whose lesion CNR is at least the reference's: the 4x dose reduction.
    pub quarter_dose_matches: Vec<DoseRow>,
    /// The 4x goal: met, not met, or not run (no reference or no 25% iterative row).
    pub quarter_dose_met: Option<bool>,
    /// The reconstruction with the best lesion CNR at a tenth of the dose (full views).
    pub tenth_dose_best: Option<DoseRow>,
    /// The 10% goal (lesion CNR >= 3): met, not met, or not run.
    pub tenth_dose_met: Option<bool>,
}

/// The lesion CNR that must survive a tenth of the dose.
pub const TENTH_DOSE_CNR_GOAL: f64 = 3.0;

fn is_fraction(row: &DoseRow, f: f64) -> bool {
    (row.dose_fraction - f).abs() < 1e-9
}

impl DoseReport {
    /// The goals of the dose/quality curve on this report.
    pub fn goals(&self) -> DoseGoals {
        let full_views = self.rows.iter().map(|r| r.views).max().unwrap_or(0);
        let reference = self
            .rows
            .iter()
            .find(|r| is_fraction(r, 1.0) && r.views == full_views && r.method.starts_with("fdk"))
            .cloned();
        let quarter: Vec<&DoseRow> = self
            .rows
            .iter()
            .filter(|r| is_fraction(r, 0.25) && !r.method.starts_with("fdk"))
            .collect();
        let quarter_dose_matches: Vec<DoseRow> = reference
            .as_ref()
            .map(|f| {
                quarter
                    .iter()
                    .filter(|r| r.rmse_hu <= f.rmse_hu && r.cnr >= f.cnr)
                    .map(|r| (*r).clone())
                    .collect()
            })
            .unwrap_or_default();
        let quarter_dose_met = (reference.is_some() && !quarter.is_empty())
            .then_some(!quarter_dose_matches.is_empty());
        let tenth_dose_best = self
            .rows
            .iter()
            .filter(|r| is_fraction(r, 0.1) && r.views == full_views)
            .max_by(|a, b| a.cnr.total_cmp(&b.cnr))
            .cloned();
        let tenth_dose_met = tenth_dose_best
            .as_ref()
            .map(|r| r.cnr >= TENTH_DOSE_CNR_GOAL);
        DoseGoals {
            reference,
            quarter_dose_matches,
            quarter_dose_met,
            tenth_dose_best,
            tenth_dose_met,
        }
    }

    /// The table and the goals as text.
    pub fn table(&self) -> String {
        let mut s = format!(
            "\n{} patients: seeds {:?}, {:.0} s\n{}\n",
            self.cohort, self.seeds, self.total_s, self.scanner
        );
        s += &format!(
            "{:<16} {:>6} {:>8} {:>10} {:>8} {:>6} {:>9} {:>8} {:>6} {:>8}\n",
            "protocol",
            "mAs",
            "CTDI mGy",
            "method",
            "RMSE HU",
            "CNR",
            "contrast",
            "noise HU",
            "SSIM",
            "recon s"
        );
        for r in &self.rows {
            s += &format!(
                "{:<16} {:>6.1} {:>8.2} {:>10} {:>8.2} {:>6.2} {:>9.1} {:>8.2} {:>6.3} {:>8.1}\n",
                r.protocol,
                r.mas,
                r.ctdi_vol_mgy,
                r.method,
                r.rmse_hu,
                r.cnr,
                r.contrast_hu,
                r.noise_hu,
                r.ssim,
                r.recon_s
            );
        }
        let g = self.goals();
        let verdict = |m: Option<bool>| match m {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "not run",
        };
        s += &format!(
            "goal 1 (4x dose reduction: an iterative reconstruction at 25% with RMSE and CNR at least as good as FDK at 100%): {}\n",
            verdict(g.quarter_dose_met)
        );
        if let Some(f) = &g.reference {
            s += &format!(
                "  reference {} at {}: RMSE {:.2} HU, CNR {:.2}\n",
                f.method, f.protocol, f.rmse_hu, f.cnr
            );
        }
        for r in &g.quarter_dose_matches {
            s += &format!(
                "  {} at {}: RMSE {:.2} HU, CNR {:.2}\n",
                r.method, r.protocol, r.rmse_hu, r.cnr
            );
        }
        s += &format!(
            "goal 2 (lesion CNR >= {TENTH_DOSE_CNR_GOAL} at 10%): {}",
            verdict(g.tenth_dose_met)
        );
        if let Some(r) = &g.tenth_dose_best {
            s += &format!(" (best: {} CNR {:.2})", r.method, r.cnr);
        }
        s + "\n"
    }

    /// The plot's panels: RMSE, lesion CNR and SSIM against CTDIvol (full views, one line
    /// per reconstruction), and RMSE against the number of views at each sparse protocol's
    /// dose.
    pub fn panels(&self) -> Vec<Panel> {
        let full_views = self.rows.iter().map(|r| r.views).max().unwrap_or(0);
        let mut methods: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !methods.contains(&r.method.as_str()) {
                methods.push(&r.method);
            }
        }
        let against_dose = |value: fn(&DoseRow) -> f64| -> Vec<Series> {
            methods
                .iter()
                .map(|m| {
                    let mut points: Vec<(f64, f64)> = self
                        .rows
                        .iter()
                        .filter(|r| r.method == *m && r.views == full_views)
                        .map(|r| (r.ctdi_vol_mgy, value(r)))
                        .collect();
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    Series {
                        name: m.to_string(),
                        points,
                    }
                })
                .collect()
        };
        let goals = self.goals();
        let title = |what: &str| format!("{what} ({} seeds)", self.cohort);
        let mut panels = vec![
            Panel {
                title: title("RMSE in the brain"),
                x_label: "CTDIvol (mGy)".into(),
                y_label: "RMSE (HU)".into(),
                series: against_dose(|r| r.rmse_hu),
                references: goals
                    .reference
                    .iter()
                    .map(|f| (f.rmse_hu, "FDK at 100%".to_string()))
                    .collect(),
            },
            Panel {
                title: title("Lesion CNR"),
                x_label: "CTDIvol (mGy)".into(),
                y_label: "CNR".into(),
                series: against_dose(|r| r.cnr),
                references: std::iter::once((TENTH_DOSE_CNR_GOAL, "CNR 3".to_string()))
                    .chain(
                        goals
                            .reference
                            .iter()
                            .map(|f| (f.cnr, "FDK at 100%".to_string())),
                    )
                    .collect(),
            },
            Panel {
                title: title("SSIM, brain window"),
                x_label: "CTDIvol (mGy)".into(),
                y_label: "SSIM".into(),
                series: against_dose(|r| r.ssim),
                references: Vec::new(),
            },
        ];
        let sparse_fractions: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| r.views != full_views)
            .map(|r| r.dose_fraction)
            .fold(Vec::new(), |mut v, f| {
                if !v.iter().any(|g| (g - f).abs() < 1e-9) {
                    v.push(f);
                }
                v
            });
        for f in sparse_fractions {
            panels.push(Panel {
                title: title(&format!("RMSE at {:.0}% dose", 100.0 * f)),
                x_label: "views".into(),
                y_label: "RMSE (HU)".into(),
                series: methods
                    .iter()
                    .map(|m| {
                        let mut points: Vec<(f64, f64)> = self
                            .rows
                            .iter()
                            .filter(|r| r.method == *m && is_fraction(r, f))
                            .map(|r| (r.views as f64, r.rmse_hu))
                            .collect();
                        points.sort_by(|a, b| a.0.total_cmp(&b.0));
                        Series {
                            name: m.to_string(),
                            points,
                        }
                    })
                    .collect(),
                references: Vec::new(),
            });
        }
        panels
    }

    /// Writes [`DoseReport::panels`] as a PNG.
    pub fn write_plot(&self, path: &std::path::Path) -> Result<(), BenchError> {
        crate::plot::write_png(path, &self.panels()).map_err(|source| BenchError::Plot {
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        protocol: &str,
        fraction: f64,
        views: usize,
        method: &str,
        rmse: f64,
        cnr: f64,
    ) -> DoseRow {
        DoseRow {
            protocol: protocol.into(),
            dose_fraction: fraction,
            views,
            mas: 250.0 * fraction,
            ctdi_vol_mgy: 50.0 * fraction,
            method: method.into(),
            rmse_hu: rmse,
            cnr,
            contrast_hu: 20.0,
            noise_hu: 20.0 / cnr,
            ssim: 0.9,
            recon_s: 1.0,
        }
    }

    fn report(rows: Vec<DoseRow>) -> DoseReport {
        DoseReport {
            cohort: "test".into(),
            seeds: vec![1],
            rows,
            scanner: "s".into(),
            total_s: 1.0,
        }
    }

    #[test]
    fn the_quarter_dose_goal_needs_both_rmse_and_cnr() {
        let base = vec![
            row("100%", 1.0, 360, "fdk-hann", 10.0, 5.0),
            row("25%", 0.25, 360, "fdk-hann", 20.0, 2.5),
        ];
        // Better RMSE, worse CNR: not met.
        let mut rows = base.clone();
        rows.push(row("25%", 0.25, 360, "pwls", 9.0, 4.9));
        let g = report(rows).goals();
        assert_eq!(g.quarter_dose_met, Some(false));
        assert!(g.quarter_dose_matches.is_empty());
        // Both at least as good, at sparse views: met, and that row is named.
        let mut rows = base.clone();
        rows.push(row("25% 120 views", 0.25, 120, "fista-tv", 10.0, 5.0));
        let g = report(rows).goals();
        assert_eq!(g.quarter_dose_met, Some(true));
        assert_eq!(g.quarter_dose_matches[0].method, "fista-tv");
        // FDK at 25% never counts, however good.
        let rows = vec![
            row("100%", 1.0, 360, "fdk-hann", 10.0, 5.0),
            row("25%", 0.25, 360, "fdk-ram-lak", 1.0, 50.0),
        ];
        assert_eq!(report(rows).goals().quarter_dose_met, None);
    }

    #[test]
    fn the_tenth_dose_goal_takes_the_best_cnr_at_full_views() {
        let rows = vec![
            row("100%", 1.0, 360, "fdk-hann", 10.0, 5.0),
            row("10%", 0.1, 360, "fdk-hann", 30.0, 1.5),
            row("10%", 0.1, 360, "pwls", 12.0, 3.2),
            row("10% 60 views", 0.1, 60, "fista-tv", 12.0, 9.0),
        ];
        let g = report(rows).goals();
        assert_eq!(g.tenth_dose_best.as_ref().unwrap().method, "pwls");
        assert_eq!(g.tenth_dose_met, Some(true));
        let text = report(vec![row("10%", 0.1, 360, "pwls", 12.0, 2.9)]).table();
        assert!(
            text.contains("goal 2 (lesion CNR >= 3 at 10%): NOT met"),
            "{text}"
        );
        assert!(text.contains("goal 1 (4x dose reduction"), "{text}");
        assert!(text.contains("not run"), "{text}");
    }

    #[test]
    fn panels_have_a_line_per_method_and_a_sparse_panel() {
        let rows = vec![
            row("100%", 1.0, 360, "fdk-hann", 10.0, 5.0),
            row("100%", 1.0, 360, "pwls", 8.0, 6.0),
            row("25%", 0.25, 360, "fdk-hann", 20.0, 2.5),
            row("25%", 0.25, 360, "pwls", 10.0, 5.0),
            row("25% 60 views", 0.25, 60, "fdk-hann", 40.0, 1.0),
            row("25% 60 views", 0.25, 60, "pwls", 14.0, 4.0),
        ];
        let panels = report(rows).panels();
        assert_eq!(panels.len(), 4);
        assert_eq!(panels[0].series.len(), 2);
        // CTDIvol ascending, full views only.
        assert_eq!(panels[0].series[1].points, vec![(12.5, 10.0), (50.0, 8.0)]);
        assert_eq!(
            panels[3].series[1].points,
            vec![(60.0, 14.0), (360.0, 10.0)]
        );
        assert_eq!(
            panels[0].references,
            vec![(10.0, "FDK at 100%".to_string())]
        );
    }

    #[test]
    fn methods_parse_with_iterations_and_parameters() {
        let m: ReconChoice = "pwls@7:0.5".parse().unwrap();
        let ReconChoice::Iterative(o) = m else {
            panic!("{m:?}")
        };
        assert_eq!(
            (o.method, o.iterations, o.pwls_beta),
            (IterativeMethod::Pwls, 7, 0.5)
        );
        assert_eq!(
            "fdk".parse::<ReconChoice>().unwrap(),
            ReconChoice::Fdk(Window::Hann)
        );
        assert!(matches!(
            "fdk-ram-lak".parse::<ReconChoice>().unwrap(),
            ReconChoice::Fdk(w) if w != Window::Hann
        ));
        for bad in [
            "art", "sirt@0", "sirt@x", "sirt:1", "pwls:-1", "pwls:nan", "fdk-xyz", "",
        ] {
            let e = bad.parse::<ReconChoice>().unwrap_err().to_string();
            assert!(e.starts_with("--methods"), "{bad}: {e}");
        }
        assert_eq!(
            parse_sparse(&["120:0.25".into()]).unwrap(),
            vec![(120, 0.25)]
        );
        assert!(parse_sparse(&["none".into()]).unwrap().is_empty());
        assert!(parse_sparse(&["120".into()]).is_err());
    }

    #[test]
    fn bad_settings_are_named() {
        let error = |c: DoseBenchConfig| c.validate().unwrap_err().to_string();
        let e = error(DoseBenchConfig {
            fractions: vec![0.0],
            ..DoseBenchConfig::default()
        });
        assert!(e.starts_with("--fractions 0"), "{e}");
        let e = error(DoseBenchConfig {
            sparse: vec![(2, 0.25)],
            ..DoseBenchConfig::default()
        });
        assert!(e.starts_with("--views 2"), "{e}");
        let e = error(DoseBenchConfig {
            voxel_mm: f64::NAN,
            ..DoseBenchConfig::default()
        });
        assert!(e.starts_with("--voxel-mm"), "{e}");
        assert!(DoseBenchConfig::default().validate().is_ok());
    }
}
