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

/// The reconstructions the bench runs by default, with the parameters chosen on the
/// development seeds.
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
                .tv_weight(4e-5),
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

/// Runs the bench.
pub fn run_dose_bench(
    config: &DoseBenchConfig,
    progress: &dyn Progress,
) -> Result<DoseReport, BenchError> {
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
        seeds: config.seeds.clone(),
        rows,
        scanner: "roboct mobile head CT (flat CsI panel 288 x 256 of 1.6 mm, SID 550 mm, SDD 950 mm, 120 kV)".into(),
        total_s: start.elapsed().as_secs_f64(),
    })
}
