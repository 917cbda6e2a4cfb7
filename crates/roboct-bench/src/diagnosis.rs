//! `roboct bench diagnosis`: the automatic head CT reader measured on simulated cohorts.
//!
//! Each patient is an anthropomorphic head ([`roboct_phantom::head`]): half of them with 1 to
//! 3 haemorrhages of 0.5 to 60 mL of every kind, at varied places, sides and densities (50 to
//! 90 HU, acute blood), the other half clean but with the calcifications that fool readers
//! (pineal, choroid plexus, falx); head size, CT numbers of the tissues, position (10 mm) and
//! rotation (6 degrees) vary with the seed. Each head is scanned on the mobile head scanner
//! at the standard head dose (300 mAs) and at a quarter of it (75 mAs), reconstructed (FDK
//! with a Hann window at the standard dose; the dose bench's best iterative method at the
//! low dose, warm-started from FDK), and read by [`roboct_diagnosis::diagnose`].
//!
//! Reading grid: 1 mm in-plane and 2 mm between slices, centred on the brain as the scout
//! places it, over the intracranial z-range (180 mm, the vertex's inner table included). The
//! beam is opened wider than the grid (about 210 mm at the isocentre) so that every view
//! covers the grid's end slices out to the cranial cavity's edge ([`scan_collimation`]); the
//! iterative reconstruction runs on the grid lengthened to hold every point of the head that
//! a ray crosses ([`beam_overhang_slices`]) and gives back the reading grid. 2 mm slices
//! instead of 1 mm halve the cost of the iterative reconstruction, which dominates, while
//! keeping 0.5 mL bleeds more than 60 voxels large; the axial slices radiologists read are
//! 2.5 to 5 mm thick.
//!
//! Scoring, from the phantom's truth only: a true finding is detected when a reported finding
//! overlaps its truth mask (fraction >= 0.5 on the reading grid) or has its centroid within
//! 10 mm of it; a reported finding that matches no truth is a false positive. A patient is
//! positive when any truth finding is >= 1 mL (the goal's threshold) - patients whose only
//! bleeds are smaller are kept out of the per-patient sensitivity and shown on their own.
//! Seeds: the development cohort (seeds from [`DEVELOPMENT_SEED_BASE`]) is the one the reader
//! was built and tuned on; the test cohort ([`TEST_SEED_BASE`]) was never looked at while doing so.

use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use roboct_core::{CancelToken, NoProgress};
use roboct_geometry::{Volume, VolumeGrid};
use roboct_phantom::head::{FindingKind, FindingSpec, HeadOptions, Side, head};
use roboct_phantom::truth::Truth;
use roboct_recon::{
    AnalyticOptions, Filter, IterativeMethod, IterativeOptions, ReconPlan, WarmStart, Window,
    fdk_volume, reconstruct_iterative,
};
use roboct_scanner::patient::AnalyticPatient;
use roboct_scanner::{Protocol, ScannerSpec, simulate_scan};

use crate::BenchError;

/// First seed of the development cohort (the reader was tuned on these patients).
pub const DEVELOPMENT_SEED_BASE: u64 = 100_000;
/// First seed of the test cohort (never looked at while building the reader).
pub const TEST_SEED_BASE: u64 = 700_000;

/// One patient of a cohort: the head's options.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The head's options (seed, findings, distractors, pose).
    pub options: HeadOptions,
}

/// The cohort of `n` patients from `seed_base`: even-numbered patients carry 1 to 3 bleeds,
/// odd-numbered ones none (with distractors). Every draw comes from the patient's seed.
pub fn cohort(seed_base: u64, n: usize) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let seed = seed_base + i as u64;
            let mut rng = Pcg64::seed_from_u64(seed ^ 0x5eed_b1ed);
            let mut findings = Vec::new();
            if i % 2 == 0 {
                let count = 1 + (rng.random::<f64>() * 3.0) as usize;
                for _ in 0..count.min(3) {
                    let kind = FindingKind::ALL[(rng.random::<f64>() * 5.0) as usize % 5];
                    // Log-uniform 0.5 to 60 mL: as many small bleeds as large ones.
                    let volume_ml =
                        (0.5f64.ln() + rng.random::<f64>() * (60.0f64 / 0.5).ln()).exp();
                    let side = match kind {
                        FindingKind::Subarachnoid if rng.random::<f64>() < 0.3 => Side::Midline,
                        _ if rng.random::<f64>() < 0.5 => Side::Left,
                        _ => Side::Right,
                    };
                    let hu = 50.0 + 40.0 * rng.random::<f64>();
                    // One bleed per kind and side: two would be drawn on the same spot.
                    if findings
                        .iter()
                        .any(|f: &FindingSpec| f.kind == kind && f.side == side)
                    {
                        continue;
                    }
                    findings.push(FindingSpec {
                        kind,
                        volume_ml,
                        side,
                        hu,
                    });
                }
            }
            Case {
                options: HeadOptions {
                    seed,
                    findings,
                    distractors: true,
                    max_offset_mm: 10.0,
                    max_rotation_deg: 6.0,
                },
            }
        })
        .collect()
}

/// How a cohort is imaged.
#[derive(Clone, Debug, PartialEq)]
pub struct Imaging {
    /// mAs of the standard head dose.
    pub standard_mas: f64,
    /// Fraction of the standard dose of the low-dose scan.
    pub low_fraction: f64,
    /// Views.
    pub views: usize,
    /// In-plane voxel size, mm.
    pub inplane_mm: f64,
    /// Slice spacing, mm.
    pub slice_mm: f64,
    /// Reading grid size in-plane (x, y), mm, and along z, mm.
    pub field_mm: [f64; 3],
    /// The iterative reconstruction of the low-dose scan.
    pub low_dose_method: IterativeOptions,
}

impl Default for Imaging {
    fn default() -> Self {
        Self {
            standard_mas: 300.0,
            low_fraction: 0.25,
            views: 360,
            inplane_mm: 1.0,
            slice_mm: 2.0,
            field_mm: [208.0, 244.0, 180.0],
            // The dose bench's choice (crates/roboct-bench/src/dose.rs, README: FISTA-TV
            // with TV weight 1e-5 beat PWLS and FDK at 25% dose on its development seeds), run
            // for 8 iterations from FDK instead of 20 to keep a patient near 3 minutes here.
            low_dose_method: IterativeOptions::new(IterativeMethod::FistaTv)
                .iterations(8)
                .tv_weight(1e-5),
        }
    }
}

/// One imaged patient: the truth, the reading grid, the reconstructions in HU.
pub struct Imaged {
    /// The phantom's truth.
    pub truth: Truth,
    /// The reading grid.
    pub grid: VolumeGrid,
    /// Truth masks of the findings on the grid (fraction >= 0.5).
    pub truth_masks: Vec<Vec<bool>>,
    /// Standard dose, FDK, HU.
    pub standard: Volume,
    /// Low dose, iterative, HU (when asked for).
    pub low: Option<Volume>,
    /// Seconds: simulation, FDK, iterative.
    pub times_s: [f64; 3],
    /// CTDIvol of the standard and low-dose scans, mGy (0 when not scanned).
    pub ctdi_vol_mgy: [f64; 2],
}

fn to_hu(v: Volume, mu_water: f64) -> Volume {
    let (g, a) = v.into_parts();
    let mu_w = mu_water as f32;
    Volume::from_array(g, a.mapv(|v| 1000.0 * (v - mu_w) / mu_w)).expect("same grid")
}

/// Half the width of the widest adult cranial cavity, mm (cavities are 120-160 mm wide).
const CAVITY_HALF_WIDTH_MM: f64 = 80.0;

/// The beam's width at the isocentre asked of the scanner (at most the detector's): wide
/// enough that every view covers the reading grid's whole z-range out to the cranial
/// cavity's half width from the rotation axis. The cone narrows towards the source: at `r`
/// from the axis on the source's side a view covers only `collimation / 2 * (sid - r) / sid`
/// from the centre slice, so a beam as wide as the grid at the isocentre leaves the ends of
/// the brain (the convexity under the vertex) seen by some views only. FDK reads those voxels
/// 10-20 HU too dark (and air beyond), an iterative method fills them with whatever the few
/// rays allow (100-200 HU bands under the vertex that read as 20-40 mL subdurals).
fn scan_collimation(grid: &VolumeGrid, spec: &ScannerSpec) -> f64 {
    let c = grid.center_mm();
    let r_mm = CAVITY_HALF_WIDTH_MM + c[0].hypot(c[1]);
    let length_mm = grid.size()[2] as f64 * grid.spacing_mm()[2];
    (length_mm * spec.sid_mm / (spec.sid_mm - r_mm)).min(spec.max_collimation_mm())
}

/// Slices to add at each end of `grid` so that it holds every point of the head that a ray
/// of a circular scan centred on it crosses (beam `collimation_mm` wide at the isocentre as
/// opened, rotating about the z axis): at `r` from the axis, on the side away from the
/// source, the cone reaches `collimation / 2 * (sid + r) / sid` from the centre slice. The
/// head lies within the ellipse inscribed in the grid's in-plane field, so within the circle
/// of the field's larger half-side about the grid's centre.
pub fn beam_overhang_slices(grid: &VolumeGrid, spec: &ScannerSpec, collimation_mm: f64) -> usize {
    let [nx, ny, nz] = grid.size();
    let [sx, sy, dz] = grid.spacing_mm();
    let c = grid.center_mm();
    let r_mm = 0.5 * (nx as f64 * sx).max(ny as f64 * sy) + c[0].hypot(c[1]);
    let half_beam = 0.5 * collimation_mm * (spec.sid_mm + r_mm) / spec.sid_mm;
    let half_grid = 0.5 * nz as f64 * dz;
    ((half_beam - half_grid) / dz).ceil().max(0.0) as usize
}

/// Scans `case` at the standard dose (and at the low dose when `low`), reconstructs both.
pub fn image(case: &Case, imaging: &Imaging, low: bool) -> Result<Imaged, BenchError> {
    let h = head(&case.options)?;
    let truth = h.truth();
    let centre = truth.landmarks["brain_center"];
    let n = |mm: f64, s: f64| (mm / s).round() as usize;
    let grid = VolumeGrid::centered(
        [
            n(imaging.field_mm[0], imaging.inplane_mm),
            n(imaging.field_mm[1], imaging.inplane_mm),
            n(imaging.field_mm[2], imaging.slice_mm),
        ],
        [imaging.inplane_mm, imaging.inplane_mm, imaging.slice_mm],
        // Centred on the brain (5 mm above the head's centre), so that the z-range holds the
        // whole cranial cavity, the skull's vertex included: centred 5 mm below the head's
        // centre (as it was), the grid stopped about 10 mm under the inner table of the
        // vertex, and the reader, seeing no bone above the last slices, took the brightening
        // that the vertex gives the brain under it for blood.
        centre,
    )?;
    let raster = h.patient.rasterize(&grid, 2);
    let truth_masks = raster
        .finding_fractions
        .iter()
        .map(|f| f.iter().map(|&v| v >= 0.5).collect())
        .collect();
    let spec = ScannerSpec::mobile_head();
    let t0 = Instant::now();
    let scan_at = |fraction: f64, k: u64| {
        simulate_scan(
            &spec,
            &Protocol {
                mas: imaging.standard_mas * fraction,
                views: imaging.views,
                collimation_mm: scan_collimation(&grid, &spec),
                z_center_mm: grid.center_mm()[2],
                isocenter_xy_mm: [0.0, 0.0],
                seed: case.options.seed * 10 + k,
                ..Protocol::standard_head()
            },
            &AnalyticPatient {
                patient: &h.patient,
                supersample: 1,
            },
            &NoProgress,
            &CancelToken::new(),
        )
    };
    let scan = scan_at(1.0, 1)?;
    let mut ctdi_vol_mgy = [scan.dose.ctdi_vol.0, 0.0];
    let mut sim_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let (v, _) = fdk_volume(
        &scan.geometry,
        scan.projections.clone(),
        &grid,
        &AnalyticOptions {
            filter: Filter {
                window: Window::Hann,
                cutoff: 1.0,
            },
            ..AnalyticOptions::default()
        },
        &NoProgress,
        &CancelToken::new(),
    )?;
    let fdk_s = t1.elapsed().as_secs_f64();
    let standard = to_hu(v, scan.mu_water_per_mm);
    let (low_volume, iter_s) = if low {
        let t = Instant::now();
        let scan = scan_at(imaging.low_fraction, 2)?;
        sim_s += t.elapsed().as_secs_f64();
        ctdi_vol_mgy[1] = scan.dose.ctdi_vol.0;
        let t2 = Instant::now();
        // The cone reaches beyond the reading grid's ends (by 10-20 mm at the far side of the
        // head): bone of the vertex and of the skull base and face that only some views cross.
        // An iterative method must hold that attenuation somewhere; on the reading grid alone
        // it piles it into the end slices (a bright band under the vertex that read as a
        // 20-40 mL subdural over the convexity of clean heads). So it reconstructs on a grid
        // long enough for every ray of the beam and gives back the reading grid's slices.
        let extra = beam_overhang_slices(&grid, &spec, scan.dose.collimation_mm);
        let [nx, ny, nz] = grid.size();
        let recon_grid = VolumeGrid::centered(
            [nx, ny, nz + 2 * extra],
            grid.spacing_mm(),
            grid.center_mm(),
        )?;
        let plan = ReconPlan::new(&scan.geometry, &recon_grid)?;
        let options = imaging.low_dose_method.clone().warm_start(WarmStart::Fdk);
        let weights = (options.method == IterativeMethod::Pwls).then(|| scan.weights.view());
        let (v, _) = reconstruct_iterative(
            &plan,
            scan.projections.view(),
            weights,
            &options,
            &NoProgress,
            &CancelToken::new(),
        )?;
        let (_, data) = v.into_parts();
        let inner = data
            .slice(ndarray::s![extra..extra + nz, .., ..])
            .to_owned();
        let v = Volume::from_array(grid.clone(), inner).expect("the reading grid's shape");
        (
            Some(to_hu(v, scan.mu_water_per_mm)),
            t2.elapsed().as_secs_f64(),
        )
    } else {
        (None, 0.0)
    };
    Ok(Imaged {
        truth,
        grid,
        truth_masks,
        standard,
        low: low_volume,
        times_s: [sim_s, fdk_s, iter_s],
        ctdi_vol_mgy,
    })
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The cohort's name (`development`, `test`).
    pub name: String,
    /// Its first seed.
    pub seed_base: u64,
    /// Patients.
    pub patients: usize,
    /// Also scan at the low dose and read the iterative reconstruction.
    pub low_dose: bool,
    /// How the patients are imaged.
    pub imaging: Imaging,
    /// Time the reader on a 512 x 512 x 300 volume made from the first patient.
    pub speed_check: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            name: "test".into(),
            seed_base: TEST_SEED_BASE,
            patients: 200,
            low_dose: true,
            imaging: Imaging::default(),
            speed_check: true,
        }
    }
}

/// Volume bands of the sensitivity table, mL.
pub const VOLUME_BANDS: [(f64, f64, &str); 4] = [
    (0.0, 1.0, "<1 mL"),
    (1.0, 5.0, "1-5 mL"),
    (5.0, 25.0, "5-25 mL"),
    (25.0, f64::INFINITY, ">25 mL"),
];

/// Detected / total in one group.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Count {
    /// The group.
    pub group: String,
    /// Detected.
    pub detected: usize,
    /// In all.
    pub total: usize,
}

impl Count {
    fn rate(&self) -> f64 {
        if self.total == 0 {
            f64::NAN
        } else {
            self.detected as f64 / self.total as f64
        }
    }
}

/// A bleed the reader missed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Miss {
    /// The patient's seed.
    pub seed: u64,
    /// Kind.
    pub kind: String,
    /// Volume, mL.
    pub volume_ml: f64,
    /// CT number, HU.
    pub hu: f64,
    /// Thickness by design, mm.
    pub thickness_mm: f64,
}

/// A finding that matches no bleed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FalsePositive {
    /// The patient's seed.
    pub seed: u64,
    /// Kind reported.
    pub kind: String,
    /// Volume, mL.
    pub volume_ml: f64,
    /// Region reported.
    pub region: String,
}

/// The figures of one dose level.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct DoseFigures {
    /// `100% dose, FDK` or `25% dose, fista-tv`.
    pub dose: String,
    /// CTDIvol, mGy (mean).
    pub ctdi_vol_mgy: f64,
    /// Patients with a bleed of at least 1 mL.
    pub positive_patients: usize,
    /// Of which flagged (any finding reported).
    pub flagged_positive: usize,
    /// Of which flagged with a finding on a true bleed.
    pub localized_positive: usize,
    /// Patients with no bleed.
    pub clean_patients: usize,
    /// Of which reported clean.
    pub clean_reported_clean: usize,
    /// Patients whose only bleeds are under 1 mL, and of which flagged.
    pub small_only: Count,
    /// Patients not assessable.
    pub not_assessable: usize,
    /// Per-finding sensitivity by kind.
    pub by_kind: Vec<Count>,
    /// Per-finding sensitivity by volume band.
    pub by_volume: Vec<Count>,
    /// Per-finding sensitivity by blood CT number.
    pub by_hu: Vec<Count>,
    /// Detected findings whose kind is right.
    pub kind_correct: Count,
    /// Median relative volume error of detected findings (|V - V_true| / V_true).
    pub median_volume_error: f64,
    /// Median relative volume error of detected findings >= 1 mL.
    pub median_volume_error_1ml: f64,
    /// Median Dice of detected findings.
    pub median_dice: f64,
    /// Midline shift error, mm: median, 95th percentile, largest.
    pub midline_error_mm: [f64; 3],
    /// Patients whose midline shift could not be measured.
    pub midline_unmeasured: usize,
    /// Reading time per patient, s: mean and largest.
    pub time_s: [f64; 2],
    /// Mean seconds per phase.
    pub phases_s: Vec<(String, f64)>,
    /// The bleeds missed.
    pub misses: Vec<Miss>,
    /// The findings that match no bleed.
    pub false_positives: Vec<FalsePositive>,
}

impl DoseFigures {
    /// Per-patient sensitivity for bleeds >= 1 mL.
    pub fn sensitivity(&self) -> f64 {
        self.flagged_positive as f64 / self.positive_patients.max(1) as f64
    }
    /// Per-patient specificity.
    pub fn specificity(&self) -> f64 {
        self.clean_reported_clean as f64 / self.clean_patients.max(1) as f64
    }
}

/// The figures of one cohort.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CohortReport {
    /// Name.
    pub name: String,
    /// First seed.
    pub seed_base: u64,
    /// Patients.
    pub patients: usize,
    /// Findings inserted.
    pub findings: usize,
    /// Standard dose.
    pub standard: DoseFigures,
    /// Low dose.
    pub low: Option<DoseFigures>,
    /// Reading a 512 x 512 x 300 volume: seconds in all and per phase.
    pub speed_512: Option<(f64, Vec<(String, f64)>)>,
    /// Imaging seconds per patient: simulation, FDK, iterative (means).
    pub imaging_s: [f64; 3],
    /// Seconds in all.
    pub total_s: f64,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// One patient's reading scored against the truth.
#[derive(Clone, Debug, serde::Serialize)]
struct PatientScore {
    seed: u64,
    dose: String,
    assessable: bool,
    reason: Option<String>,
    /// Per truth finding: detected, reported volume, Dice, kind right.
    truth: Vec<(String, f64, f64, bool, f64, f64, bool)>,
    reported: Vec<(String, f64, bool)>,
    midline_true_mm: f64,
    midline_measured_mm: Option<f64>,
    time_s: f64,
    phases: Vec<(String, f64)>,
}

fn score(im: &Imaged, volume: &Volume, dose: &str, seed: u64) -> PatientScore {
    let dx = roboct_diagnosis::diagnose(volume);
    let grid_ok = dx.masks.as_ref().is_some_and(|m| m.grid == im.grid);
    let empty = Vec::new();
    let labels = match (&dx.masks, grid_ok) {
        (Some(m), true) => &m.labels,
        _ => &empty,
    };
    let centroid_of = |f: &roboct_phantom::truth::FindingRecord| f.centroid_mm;
    let dist = |a: [f64; 3], b: [f64; 3]| {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    };
    let mut reported_matched = vec![false; dx.findings.len()];
    let mut truth_rows = Vec::new();
    for (t, f) in im.truth.findings.iter().enumerate() {
        let mask = &im.truth_masks[t];
        let mut overlapping = vec![0usize; dx.findings.len()];
        if !labels.is_empty() {
            for (i, &m) in mask.iter().enumerate() {
                if m && labels[i] != 0 {
                    overlapping[labels[i] as usize - 1] += 1;
                }
            }
        }
        let near: Vec<usize> = (0..dx.findings.len())
            .filter(|&r| {
                overlapping[r] > 0 || dist(dx.findings[r].centroid_mm, centroid_of(f)) <= 10.0
            })
            .collect();
        let detected = !near.is_empty();
        for &r in &near {
            reported_matched[r] = true;
        }
        let v_rep: f64 = near.iter().map(|&r| dx.findings[r].volume_ml).sum();
        let inter: usize = near.iter().map(|&r| overlapping[r]).sum();
        let t_n = mask.iter().filter(|&&m| m).count();
        let r_n: usize = if labels.is_empty() {
            0
        } else {
            labels
                .iter()
                .filter(|&&l| l != 0 && near.contains(&(l as usize - 1)))
                .count()
        };
        let dice = if t_n + r_n == 0 {
            f64::NAN
        } else {
            2.0 * inter as f64 / (t_n + r_n) as f64
        };
        let kind_right = near
            .iter()
            .any(|&r| dx.findings[r].kind.name() == f.kind.name());
        truth_rows.push((
            f.kind.name().to_string(),
            f.volume_ml,
            f.hu,
            detected,
            v_rep,
            dice,
            kind_right,
        ));
    }
    let reported = dx
        .findings
        .iter()
        .enumerate()
        .map(|(r, f)| {
            (
                format!("{}|{}", f.kind.name(), f.region),
                f.volume_ml,
                reported_matched[r],
            )
        })
        .collect();
    PatientScore {
        seed,
        dose: dose.into(),
        assessable: dx.assessable,
        reason: dx.reason.clone(),
        truth: truth_rows,
        reported,
        midline_true_mm: im.truth.midline_shift_mm,
        midline_measured_mm: dx.midline_shift_mm,
        time_s: dx.time_s,
        phases: dx
            .phases
            .iter()
            .map(|p| (p.name.clone(), p.seconds))
            .collect(),
    }
}

fn figures(
    dose: &str,
    scores: &[PatientScore],
    ctdi: f64,
    thickness: &dyn Fn(u64, usize) -> f64,
) -> DoseFigures {
    let mut f = DoseFigures {
        dose: dose.into(),
        ctdi_vol_mgy: ctdi,
        ..DoseFigures::default()
    };
    f.by_kind = [
        "intraparenchymal",
        "subdural",
        "epidural",
        "subarachnoid",
        "intraventricular",
    ]
    .iter()
    .map(|k| Count {
        group: k.to_string(),
        ..Count::default()
    })
    .collect();
    f.by_volume = VOLUME_BANDS
        .iter()
        .map(|b| Count {
            group: b.2.into(),
            ..Count::default()
        })
        .collect();
    let hu_bands = [
        (50.0, 60.0, "50-60 HU"),
        (60.0, 75.0, "60-75 HU"),
        (75.0, 91.0, "75-90 HU"),
    ];
    f.by_hu = hu_bands
        .iter()
        .map(|b| Count {
            group: b.2.into(),
            ..Count::default()
        })
        .collect();
    f.small_only.group = "patients with bleeds < 1 mL only".into();
    f.kind_correct.group = "kind right".into();
    let (mut verr, mut verr1, mut dices, mut mid, mut times) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut phases: Vec<(String, f64)> = Vec::new();
    for s in scores {
        if !s.assessable {
            f.not_assessable += 1;
        }
        let flagged = !s.reported.is_empty();
        let big = s.truth.iter().any(|t| t.1 >= 1.0);
        if s.truth.is_empty() {
            f.clean_patients += 1;
            if !flagged && s.assessable {
                f.clean_reported_clean += 1;
            }
        } else if big {
            f.positive_patients += 1;
            if flagged {
                f.flagged_positive += 1;
            }
            if s.truth.iter().any(|t| t.3) {
                f.localized_positive += 1;
            }
        } else {
            f.small_only.total += 1;
            if flagged {
                f.small_only.detected += 1;
            }
        }
        for (k, t) in s.truth.iter().enumerate() {
            let (kind, v, hu, det, vrep, dice, kind_right) = (&t.0, t.1, t.2, t.3, t.4, t.5, t.6);
            if let Some(c) = f.by_kind.iter_mut().find(|c| &c.group == kind) {
                c.total += 1;
                c.detected += det as usize;
            }
            if let Some(b) = VOLUME_BANDS.iter().position(|b| v >= b.0 && v < b.1) {
                f.by_volume[b].total += 1;
                f.by_volume[b].detected += det as usize;
            }
            if let Some(b) = hu_bands.iter().position(|b| hu >= b.0 && hu < b.1) {
                f.by_hu[b].total += 1;
                f.by_hu[b].detected += det as usize;
            }
            if det {
                let e = (vrep - v).abs() / v;
                verr.push(e);
                if v >= 1.0 {
                    verr1.push(e);
                }
                if dice.is_finite() {
                    dices.push(dice);
                }
                f.kind_correct.total += 1;
                f.kind_correct.detected += kind_right as usize;
            } else {
                f.misses.push(Miss {
                    seed: s.seed,
                    kind: kind.clone(),
                    volume_ml: v,
                    hu,
                    thickness_mm: thickness(s.seed, k),
                });
            }
        }
        for (what, v, matched) in &s.reported {
            if !matched {
                let (kind, region) = what.split_once('|').unwrap_or((what, ""));
                f.false_positives.push(FalsePositive {
                    seed: s.seed,
                    kind: kind.into(),
                    volume_ml: *v,
                    region: region.into(),
                });
            }
        }
        match s.midline_measured_mm {
            Some(m) => mid.push((m.abs() - s.midline_true_mm).abs()),
            None => f.midline_unmeasured += 1,
        }
        times.push(s.time_s);
        for (name, sec) in &s.phases {
            match phases.iter_mut().find(|p| &p.0 == name) {
                Some(p) => p.1 += sec,
                None => phases.push((name.clone(), *sec)),
            }
        }
    }
    let n = scores.len().max(1) as f64;
    f.phases_s = phases.into_iter().map(|(k, v)| (k, v / n)).collect();
    f.median_volume_error = median(&mut verr);
    f.median_volume_error_1ml = median(&mut verr1);
    f.median_dice = median(&mut dices);
    f.midline_error_mm = [
        median(&mut mid.clone()),
        pct(&mut mid.clone(), 0.95),
        mid.iter().copied().fold(f64::NAN, f64::max),
    ];
    f.time_s = [
        times.iter().sum::<f64>() / n,
        times.iter().copied().fold(0.0, f64::max),
    ];
    f
}

/// Runs one cohort: images every patient, reads, scores. With `rows`, each patient's score
/// is appended there as a JSON line.
pub fn run(
    config: &BenchConfig,
    progress: &dyn roboct_core::Progress,
    rows: Option<&std::path::Path>,
) -> Result<CohortReport, BenchError> {
    let start = Instant::now();
    let cases = cohort(config.seed_base, config.patients);
    progress.start(&format!("{} cohort", config.name), cases.len() as u64);
    let mut std_scores = Vec::new();
    let mut low_scores = Vec::new();
    let mut thickness: std::collections::HashMap<u64, Vec<f64>> = Default::default();
    let mut imaging_s = [0.0; 3];
    let mut speed = None;
    let mut ctdi = [0.0f64; 2];
    for case in &cases {
        let im = image(case, &config.imaging, config.low_dose)?;
        for (acc, t) in imaging_s.iter_mut().zip(im.times_s) {
            *acc += t / cases.len() as f64;
        }
        let h = head(&case.options)?;
        thickness.insert(
            case.options.seed,
            h.truth
                .findings
                .iter()
                .map(|f| f.max_thickness_mm)
                .collect(),
        );
        let s = score(&im, &im.standard, "standard", case.options.seed);
        if let Some(path) = rows {
            append_row(path, &s);
        }
        std_scores.push(s);
        if let Some(low) = &im.low {
            let s = score(&im, low, "low", case.options.seed);
            if let Some(path) = rows {
                append_row(path, &s);
            }
            low_scores.push(s);
        }
        ctdi[0] += im.ctdi_vol_mgy[0] / cases.len() as f64;
        ctdi[1] += im.ctdi_vol_mgy[1] / cases.len() as f64;
        if config.speed_check && speed.is_none() {
            speed = Some(speed_check(&im.standard));
        }
        progress.advance(1);
    }
    progress.finish();
    let th = |seed: u64, k: usize| {
        thickness
            .get(&seed)
            .and_then(|v| v.get(k))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let findings = cases.iter().map(|c| c.options.findings.len()).sum();
    let method = config.imaging.low_dose_method.method.name();
    Ok(CohortReport {
        name: config.name.clone(),
        seed_base: config.seed_base,
        patients: cases.len(),
        findings,
        standard: figures("100% dose, FDK", &std_scores, ctdi[0], &th),
        low: config.low_dose.then(|| {
            figures(
                &format!("{:.0}% dose, {method}", 100.0 * config.imaging.low_fraction),
                &low_scores,
                ctdi[1],
                &th,
            )
        }),
        speed_512: speed,
        imaging_s,
        total_s: start.elapsed().as_secs_f64(),
    })
}

fn append_row(path: &std::path::Path, s: &PatientScore) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{}", serde_json::to_string(s).unwrap_or_default());
    }
}

/// Reads a 512 x 512 x 300 volume (0.45 x 0.45 x 0.6 mm, 230 x 230 x 180 mm) made from `hu`
/// by nearest-neighbour resampling: the size of a thin-slice clinical head CT.
pub fn speed_check(hu: &Volume) -> (f64, Vec<(String, f64)>) {
    let src = hu.grid();
    let grid = VolumeGrid::centered([512, 512, 300], [0.45, 0.45, 0.6], src.center_mm())
        .expect("valid grid");
    let data = ndarray::Array3::from_shape_fn((300, 512, 512), |(k, j, i)| {
        let p = grid.world_from_index([i as f64, j as f64, k as f64]);
        let q = src.index_from_world(p);
        let [nx, ny, nz] = src.size();
        let idx = |v: f64, n: usize| v.round().clamp(0.0, (n - 1) as f64) as usize;
        let inside = (0..3).all(|a| q[a] >= -0.5 && q[a] <= [nx, ny, nz][a] as f64 - 0.5);
        if inside {
            hu.data()[[idx(q[2], nz), idx(q[1], ny), idx(q[0], nx)]]
        } else {
            -1000.0
        }
    });
    let v = Volume::from_array(grid, data).expect("grid shape");
    let dx = roboct_diagnosis::diagnose(&v);
    (
        dx.time_s,
        dx.phases
            .iter()
            .map(|p| (p.name.clone(), p.seconds))
            .collect(),
    )
}

impl CohortReport {
    /// The figures as a table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "\n{} cohort: {} patients (seeds {}..{}), {} bleeds; imaging per patient {:.1} s simulation, {:.1} s FDK, {:.1} s iterative; {:.0} s in all\n",
            self.name,
            self.patients,
            self.seed_base,
            self.seed_base + self.patients as u64 - 1,
            self.findings,
            self.imaging_s[0],
            self.imaging_s[1],
            self.imaging_s[2],
            self.total_s
        );
        for f in std::iter::once(&self.standard).chain(self.low.as_ref()) {
            let pc = |c: &Count| format!("{:>5.1}% ({}/{})", 100.0 * c.rate(), c.detected, c.total);
            s += &format!("\n  {} (CTDIvol {:.1} mGy)\n", f.dose, f.ctdi_vol_mgy);
            s += &format!(
                "    per-patient sensitivity (bleeds >= 1 mL) {:.1}% ({}/{}), with a finding on the bleed {:.1}%; specificity {:.1}% ({}/{}); not assessable {}\n",
                100.0 * f.sensitivity(),
                f.flagged_positive,
                f.positive_patients,
                100.0 * f.localized_positive as f64 / f.positive_patients.max(1) as f64,
                100.0 * f.specificity(),
                f.clean_reported_clean,
                f.clean_patients,
                f.not_assessable
            );
            s += &format!(
                "    {}: flagged {}\n",
                f.small_only.group,
                pc(&f.small_only)
            );
            s += "    sensitivity per bleed by kind:";
            for c in &f.by_kind {
                s += &format!(" {} {};", c.group, pc(c));
            }
            s += "\n    by volume:";
            for c in &f.by_volume {
                s += &format!(" {} {};", c.group, pc(c));
            }
            s += "\n    by density:";
            for c in &f.by_hu {
                s += &format!(" {} {};", c.group, pc(c));
            }
            s += &format!(
                "\n    kind right {}; median volume error {:.1}% (bleeds >= 1 mL {:.1}%); median Dice {:.2}\n",
                pc(&f.kind_correct),
                100.0 * f.median_volume_error,
                100.0 * f.median_volume_error_1ml,
                f.median_dice
            );
            s += &format!(
                "    midline shift error: median {:.1} mm, 95th percentile {:.1} mm, largest {:.1} mm ({} not measured)\n",
                f.midline_error_mm[0],
                f.midline_error_mm[1],
                f.midline_error_mm[2],
                f.midline_unmeasured
            );
            s += &format!(
                "    reading time per patient: mean {:.2} s, largest {:.2} s; phases:",
                f.time_s[0], f.time_s[1]
            );
            for (k, v) in &f.phases_s {
                s += &format!(" {k} {v:.2} s;");
            }
            s += &format!("\n    false positives: {}", f.false_positives.len());
            for fp in &f.false_positives {
                s += &format!(
                    "\n      seed {} {} {:.2} mL {}",
                    fp.seed, fp.kind, fp.volume_ml, fp.region
                );
            }
            s += &format!("\n    missed bleeds: {}", f.misses.len());
            for m in &f.misses {
                s += &format!(
                    "\n      seed {} {} {:.2} mL {:.0} HU thickness {:.1} mm",
                    m.seed, m.kind, m.volume_ml, m.hu, m.thickness_mm
                );
            }
            s += "\n";
        }
        if let Some((t, phases)) = &self.speed_512 {
            s += &format!("\n  512 x 512 x 300 volume read in {t:.2} s:");
            for (k, v) in phases {
                s += &format!(" {k} {v:.2} s;");
            }
            s += "\n";
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_beam_covers_the_reading_grid_and_the_recon_grid_every_ray() {
        let spec = ScannerSpec::mobile_head();
        // The default reading grid, its centre 10 mm off the rotation axis.
        let grid = VolumeGrid::centered([208, 244, 90], [1.0, 1.0, 2.0], [6.0, 8.0, 40.0]).unwrap();
        let c = scan_collimation(&grid, &spec);
        assert!(c <= spec.max_collimation_mm() + 1e-9);
        // Every view covers the end slices out to the cavity's half width (plus the offset)
        // on the source's side, where the cone is narrowest.
        let r = CAVITY_HALF_WIDTH_MM + 10.0;
        let covered = 0.5 * c * (spec.sid_mm - r) / spec.sid_mm;
        assert!(covered >= 90.0 - 1e-6, "{c} mm covers {covered} mm");
        // A beam as wide as the grid (the bench before) does not.
        assert!(0.5 * 180.0 * (spec.sid_mm - r) / spec.sid_mm < 80.0);
        // The lengthened grid reaches as far as the cone does at the far side of the field's
        // circle (half the longer side, 122 mm, plus the offset), and not a slice more.
        let extra = beam_overhang_slices(&grid, &spec, c);
        let reach = 0.5 * c * (spec.sid_mm + 132.0) / spec.sid_mm;
        assert!(90.0 + 2.0 * extra as f64 >= reach);
        assert!(90.0 + 2.0 * (extra as f64 - 1.0) < reach);
        // A beam shorter than the grid at the far side needs no extra slices.
        assert_eq!(beam_overhang_slices(&grid, &spec, 100.0), 0);
    }

    #[test]
    fn development_and_test_cohorts_share_no_seed() {
        // The largest cohorts the CLI would run: every seed that draws anything (the head,
        // the findings, both scans' noise) differs between the two.
        let n = 1000;
        let seeds = |base: u64| -> std::collections::BTreeSet<u64> {
            cohort(base, n)
                .iter()
                .flat_map(|c| {
                    let s = c.options.seed;
                    [s, s ^ 0x5eed_b1ed, s * 10 + 1, s * 10 + 2]
                })
                .collect()
        };
        let (dev, test) = (seeds(DEVELOPMENT_SEED_BASE), seeds(TEST_SEED_BASE));
        assert_eq!(dev.len(), 4 * n);
        assert!(dev.is_disjoint(&test));
        // Half the patients carry bleeds, the other half none.
        let c = cohort(TEST_SEED_BASE, 200);
        let with = c.iter().filter(|c| !c.options.findings.is_empty()).count();
        assert_eq!(with, 100);
        assert!(
            c.iter()
                .all(|c| c.options.findings.len() <= 3 && c.options.distractors)
        );
    }
}
