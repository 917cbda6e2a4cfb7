//! The positioning evaluation (`roboct bench positioning`): randomized patients positioned on
//! the simulated bedside, the plan scored against the phantom's truth.
//!
//! Each patient is a head or a chest phantom (`roboct_phantom::head`, `roboct_phantom::chest`;
//! its size varies with the seed: a head 0.92 to 1.08 times the standard one, a chest 0.85 to
//! 1.2 in each direction), laid on the bed off its nominal place by up to 100 mm along the bed
//! and across it and 30 mm up or down (a pillow), turned by up to 15 degrees about each axis
//! for a head and up to 15 degrees rolled (5 about the other axes) for a chest, on a bed
//! 450 to 950 mm high; the robot stops up to 30 mm and 1 degree off its believed pose. Every
//! draw comes from the patient's seed.
//!
//! Scores, in the scout frame (the truth measured on the posed phantom, 1 mm):
//! - **coverage**: the organ's whole extent along z (intracranial space, lungs) inside the
//!   planned range;
//! - **excess**: planned range beyond the organ at each end, mm;
//! - **isocentre error**: distance across (x, y) from the planned isocentre to the organ's
//!   centre (the intracranial space's bounding-box centre; the trunk's centre on its long
//!   axis at the isocentre's height), mm;
//! - **scout fraction**: the scout's DLP over the scan's;
//! - **DLP saved** against a fixed standard range centred on the nominal place (a head
//!   200 mm, one rotation of the standard head protocol; a chest 350 mm), and how often that
//!   fixed range would have covered the organ.
//!
//! Seeds: the development cohort ([`DEVELOPMENT_SEED_BASE`]) is the one the localiser and the
//! margins were tuned on; the test cohort ([`TEST_SEED_BASE`]) was never looked at while
//! doing so.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use rayon::prelude::*;
use roboct_geometry::vec3::{Vec3, mat_vec};
use roboct_phantom::chest::{ChestOptions, chest};
use roboct_phantom::head::{HeadOptions, head};
use roboct_phantom::patient::{Organ, Patient};
use roboct_positioning::Target;
use roboct_positioning::pipeline::{SimulationOptions, position_simulated};
use roboct_positioning::plan::{ScanTechnique, rotations_for};
use roboct_positioning::sim::SimPatient;
use roboct_scanner::ScannerSpec;

/// First seed of the development cohort.
pub const DEVELOPMENT_SEED_BASE: u64 = 300_000;
/// First seed of the test cohort (never looked at while tuning).
pub const TEST_SEED_BASE: u64 = 900_000;

/// Why the evaluation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PositioningBenchError {
    /// A phantom could not be made.
    #[error(transparent)]
    Phantom(#[from] roboct_phantom::PhantomError),
    /// The positioning failed to run (not a refusal: an error).
    #[error("patient seed {seed}: {source}")]
    Positioning {
        /// The patient.
        seed: u64,
        /// What failed.
        source: roboct_positioning::PositioningError,
    },
    /// A bad option.
    #[error("{0}")]
    Invalid(String),
}

impl roboct_core::Recover for PositioningBenchError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            PositioningBenchError::Phantom(e) => roboct_core::Recover::recovery(e),
            PositioningBenchError::Positioning { source, .. } => {
                roboct_core::Recover::recovery(source)
            }
            PositioningBenchError::Invalid(_) => roboct_core::Recovery::Abort,
        }
    }
}

/// One randomized patient.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Case {
    /// The seed of everything.
    pub seed: u64,
    /// Head or chest.
    pub target: Target,
    /// Offset from the nominal place (x, y, z), mm.
    pub offset_mm: Vec3,
    /// Rotation about x, y, z, degrees.
    pub rotation_deg: Vec3,
    /// Mattress height, mm.
    pub bed_height_mm: f64,
    /// The robot's error: forward, left (mm), yaw (degrees).
    pub robot_error: [f64; 3],
}

/// The cohort of `n` patients from `seed_base`, heads and chests alternating.
pub fn cohort(seed_base: u64, n: usize) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let seed = seed_base + i as u64;
            let mut rng = Pcg64::seed_from_u64(seed ^ 0x9051_7105);
            let mut u = |lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
            let target = if i % 2 == 0 {
                Target::Head
            } else {
                Target::Chest
            };
            let offset_mm = [u(-100.0, 100.0), u(-30.0, 30.0), u(-100.0, 100.0)];
            let rotation_deg = match target {
                Target::Head => [u(-15.0, 15.0), u(-15.0, 15.0), u(-15.0, 15.0)],
                Target::Chest => [u(-5.0, 5.0), u(-5.0, 5.0), u(-15.0, 15.0)],
            };
            Case {
                seed,
                target,
                offset_mm,
                rotation_deg,
                bed_height_mm: u(450.0, 950.0),
                robot_error: [u(-30.0, 30.0), u(-30.0, 30.0), u(-1.0, 1.0)],
            }
        })
        .collect()
}

/// The phantom of a case, unposed (its own random size, no pose of its own), and the centre
/// of the organ's truth in that frame that the isocentre should find (x, y).
fn phantom(case: &Case) -> Result<(Patient, Option<Vec3>), roboct_phantom::PhantomError> {
    Ok(match case.target {
        Target::Head => {
            let h = head(&HeadOptions {
                seed: case.seed,
                findings: Vec::new(),
                distractors: false,
                max_offset_mm: 0.0,
                max_rotation_deg: 0.0,
            })?;
            (h.patient, None)
        }
        Target::Chest => {
            let c = chest(&ChestOptions {
                seed: case.seed,
                max_offset_mm: 0.0,
                max_rotation_deg: 0.0,
            })?;
            let centre = c
                .landmarks
                .iter()
                .find(|(n, _)| n == "body_center")
                .map(|(_, p)| *p);
            (c.patient, centre)
        }
    })
}

/// One patient's score.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CaseScore {
    /// The case.
    pub case: Case,
    /// A plan was made.
    pub ok: bool,
    /// The refusal, when there was one.
    pub refusal: Option<String>,
    /// The organ's true extent along z, `[inferior, superior]`, mm (scout frame).
    pub truth_z_mm: [f64; 2],
    /// The planned range.
    pub range_mm: Option<[f64; 2]>,
    /// The organ inside the range.
    pub covered: bool,
    /// Range beyond the organ at each end (negative: organ cut), mm.
    pub excess_mm: Option<[f64; 2]>,
    /// Isocentre's distance across from the truth, mm.
    pub isocenter_error_mm: Option<f64>,
    /// The isocentre less the truth across (x, y), mm.
    pub isocenter_offset_mm: Option<[f64; 2]>,
    /// The scout's DLP, mGy cm.
    pub scout_dlp_mgycm: f64,
    /// The scan's DLP, mGy cm.
    pub scan_dlp_mgycm: Option<f64>,
    /// The fixed standard range's DLP, mGy cm.
    pub standard_dlp_mgycm: f64,
    /// Whether the fixed standard range would have covered the organ.
    pub standard_covered: bool,
}

/// The fixed standard range of a target, mm: centred on the nominal place.
pub fn standard_range_mm(target: Target) -> [f64; 2] {
    match target {
        Target::Head => [-100.0, 100.0],
        Target::Chest => [-175.0, 175.0],
    }
}

/// Positions one patient and scores it.
pub fn score(case: &Case) -> Result<CaseScore, PositioningBenchError> {
    let (patient, chest_centre) = phantom(case)?;
    let options = SimulationOptions {
        seed: case.seed,
        offset_mm: case.offset_mm,
        rotation_deg: case.rotation_deg,
        bed_height_mm: case.bed_height_mm,
        robot_error: case.robot_error,
        ..SimulationOptions::default()
    };
    let p = position_simulated(patient, case.target, &options).map_err(|source| {
        PositioningBenchError::Positioning {
            seed: case.seed,
            source,
        }
    })?;
    let SimPatient::Analytic(seen) = &p.patient_in_scanner else {
        return Err(PositioningBenchError::Invalid(
            "the simulated patient is not analytic".into(),
        ));
    };
    let organs: &[Organ] = match case.target {
        Target::Head => &[Organ::Brain, Organ::Ventricle],
        Target::Chest => &[Organ::Lung],
    };
    let m = seen
        .measure(|b| organs.contains(&b.organ), 1.0)
        .ok_or_else(|| PositioningBenchError::Invalid(format!("seed {}: no organ", case.seed)))?;
    let truth_z_mm = [m.min_mm[2], m.max_mm[2]];
    // The organ's centre across at height `z`: the intracranial space's box centre; for a
    // chest, the trunk's long axis (the phantom's z through its body centre) where it crosses
    // `z`, since a trunk tilted by 5 degrees moves its centre 1 mm across for every 11 mm
    // along.
    let centre = |z: f64| -> [f64; 2] {
        match (case.target, chest_centre) {
            (Target::Chest, Some(c)) => {
                let (r, t) = p.scanner_from_input;
                let v = mat_vec(r, c);
                let v = [v[0] + t[0], v[1] + t[1], v[2] + t[2]];
                let axis = mat_vec(r, [0.0, 0.0, 1.0]);
                let k = (z - v[2]) / axis[2];
                [v[0] + k * axis[0], v[1] + k * axis[1]]
            }
            _ => [
                0.5 * (m.min_mm[0] + m.max_mm[0]),
                0.5 * (m.min_mm[1] + m.max_mm[1]),
            ],
        }
    };
    let scanner = ScannerSpec::mobile_head();
    let technique = ScanTechnique::standard(case.target);
    let std_range = standard_range_mm(case.target);
    let (n, w) = rotations_for(&scanner, std_range[1] - std_range[0]);
    let standard_dlp_mgycm = technique.dlp_mgycm(&scanner, w, n).map_err(|source| {
        PositioningBenchError::Positioning {
            seed: case.seed,
            source,
        }
    })?;
    let standard_covered = std_range[0] <= truth_z_mm[0] && std_range[1] >= truth_z_mm[1];
    let (range_mm, excess_mm, iso, scan_dlp, refusal) = match &p.outcome {
        Ok(plan) => {
            let r = plan.scan_range_mm;
            let e = [truth_z_mm[0] - r[0], r[1] - truth_z_mm[1]];
            let c = centre(plan.isocenter_mm[2]);
            let iso = [plan.isocenter_mm[0] - c[0], plan.isocenter_mm[1] - c[1]];
            (Some(r), Some(e), Some(iso), Some(plan.scan_dlp_mgycm), None)
        }
        Err(r) => (None, None, None, None, Some(r.to_string())),
    };
    Ok(CaseScore {
        case: case.clone(),
        ok: p.ok(),
        refusal,
        truth_z_mm,
        range_mm,
        covered: excess_mm.is_some_and(|e| e[0] >= 0.0 && e[1] >= 0.0),
        excess_mm,
        isocenter_error_mm: iso.map(|d| d[0].hypot(d[1])),
        isocenter_offset_mm: iso,
        scout_dlp_mgycm: p.scout_dlp_mgycm,
        scan_dlp_mgycm: scan_dlp,
        standard_dlp_mgycm,
        standard_covered,
    })
}

/// Mean and 95th percentile.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest.
    pub max: f64,
}

fn stat(mut v: Vec<f64>) -> Stat {
    if v.is_empty() {
        return Stat::default();
    }
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let k = ((0.95 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    Stat {
        mean,
        p95: v[k],
        max: v[v.len() - 1],
    }
}

/// The figures of a group of patients.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    /// What the group is (`all`, `head`, `chest`).
    pub group: String,
    /// Patients.
    pub patients: usize,
    /// Patients with a plan.
    pub planned: usize,
    /// Fraction of all patients whose organ the plan covers (a refusal counts as a miss).
    pub coverage: f64,
    /// Excess at the inferior end, mm (planned patients).
    pub excess_inferior_mm: Stat,
    /// Excess at the superior end, mm.
    pub excess_superior_mm: Stat,
    /// Isocentre error across, mm.
    pub isocenter_error_mm: Stat,
    /// Scout DLP over scan DLP.
    pub scout_fraction: Stat,
    /// 1 - scan DLP over the fixed standard range's DLP.
    pub dlp_saved: Stat,
    /// Fraction the fixed standard range would have covered.
    pub standard_coverage: f64,
}

fn summarize(group: &str, scores: &[&CaseScore]) -> Summary {
    let planned: Vec<&&CaseScore> = scores.iter().filter(|s| s.ok).collect();
    let n = scores.len().max(1) as f64;
    Summary {
        group: group.into(),
        patients: scores.len(),
        planned: planned.len(),
        coverage: scores.iter().filter(|s| s.covered).count() as f64 / n,
        excess_inferior_mm: stat(
            planned
                .iter()
                .filter_map(|s| s.excess_mm.map(|e| e[0]))
                .collect(),
        ),
        excess_superior_mm: stat(
            planned
                .iter()
                .filter_map(|s| s.excess_mm.map(|e| e[1]))
                .collect(),
        ),
        isocenter_error_mm: stat(
            planned
                .iter()
                .filter_map(|s| s.isocenter_error_mm)
                .collect(),
        ),
        scout_fraction: stat(
            planned
                .iter()
                .filter_map(|s| s.scan_dlp_mgycm.map(|d| s.scout_dlp_mgycm / d))
                .collect(),
        ),
        dlp_saved: stat(
            planned
                .iter()
                .filter_map(|s| s.scan_dlp_mgycm.map(|d| 1.0 - d / s.standard_dlp_mgycm))
                .collect(),
        ),
        standard_coverage: scores.iter().filter(|s| s.standard_covered).count() as f64 / n,
    }
}

/// One cohort's results.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CohortReport {
    /// `development` or `test`.
    pub name: String,
    /// First seed.
    pub seed_base: u64,
    /// All, heads, chests.
    pub summaries: Vec<Summary>,
    /// Every patient.
    pub cases: Vec<CaseScore>,
    /// Wall time, s.
    pub seconds: f64,
}

/// Runs one cohort of `patients` from `seed_base` (in parallel).
pub fn run(
    name: &str,
    seed_base: u64,
    patients: usize,
    progress: &dyn roboct_core::Progress,
) -> Result<CohortReport, PositioningBenchError> {
    if patients == 0 || patients > 100_000 {
        return Err(PositioningBenchError::Invalid(format!(
            "{patients} patients; expected 1 to 100000"
        )));
    }
    let start = std::time::Instant::now();
    let cases = cohort(seed_base, patients);
    progress.start(&format!("{name} cohort"), cases.len() as u64);
    let cases: Vec<CaseScore> = cases
        .par_iter()
        .map(|c| {
            let s = score(c);
            progress.advance(1);
            s
        })
        .collect::<Result<_, _>>()?;
    progress.finish();
    let all: Vec<&CaseScore> = cases.iter().collect();
    let heads: Vec<&CaseScore> = cases
        .iter()
        .filter(|c| c.case.target == Target::Head)
        .collect();
    let chests: Vec<&CaseScore> = cases
        .iter()
        .filter(|c| c.case.target == Target::Chest)
        .collect();
    Ok(CohortReport {
        name: name.into(),
        seed_base,
        summaries: vec![
            summarize("all", &all),
            summarize("head", &heads),
            summarize("chest", &chests),
        ],
        cases: cases.clone(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The goals of the issue.
pub const GOALS: &str = "goals: coverage >= 99%, excess <= 10 mm (p95, each end), isocentre error <= 3 mm, scout <= 5% of the scan's DLP";

impl CohortReport {
    /// The report as a table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "\n{} cohort: {} patients (seeds {}..{}), {:.0} s\n",
            self.name,
            self.cases.len(),
            self.seed_base,
            self.seed_base + self.cases.len() as u64 - 1,
            self.seconds
        );
        s += &format!(
            "{:<6} {:>4} {:>7} {:>9} {:>15} {:>15} {:>15} {:>13} {:>11} {:>9}\n",
            "group",
            "n",
            "planned",
            "coverage",
            "excess inf mm",
            "excess sup mm",
            "iso error mm",
            "scout/scan %",
            "DLP saved %",
            "std cov"
        );
        s += &format!(
            "{:<6} {:>4} {:>7} {:>9} {:>15} {:>15} {:>15} {:>13} {:>11} {:>9}\n",
            "", "", "", "", "mean / p95", "mean / p95", "mean / p95", "mean / max", "mean", ""
        );
        for m in &self.summaries {
            s += &format!(
                "{:<6} {:>4} {:>7} {:>8.1}% {:>7.1} / {:>5.1} {:>7.1} / {:>5.1} {:>7.2} / {:>5.2} {:>6.2} / {:>4.2} {:>11.1} {:>8.1}%\n",
                m.group,
                m.patients,
                m.planned,
                100.0 * m.coverage,
                m.excess_inferior_mm.mean,
                m.excess_inferior_mm.p95,
                m.excess_superior_mm.mean,
                m.excess_superior_mm.p95,
                m.isocenter_error_mm.mean,
                m.isocenter_error_mm.p95,
                100.0 * m.scout_fraction.mean,
                100.0 * m.scout_fraction.max,
                100.0 * m.dlp_saved.mean,
                100.0 * m.standard_coverage,
            );
        }
        let misses: Vec<&CaseScore> = self.cases.iter().filter(|c| !c.covered).collect();
        for c in misses.iter().take(10) {
            s += &format!(
                "  miss: seed {} {}: {}\n",
                c.case.seed,
                c.case.target,
                match (&c.refusal, c.excess_mm) {
                    (Some(r), _) => format!("refused: {r}"),
                    (None, Some(e)) => format!("excess {:.1} / {:.1} mm", e[0], e[1]),
                    _ => "?".into(),
                }
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The development cohorts (up to 100 000 patients) never reach the test seeds.
    const _: () = assert!(DEVELOPMENT_SEED_BASE + 100_000 < TEST_SEED_BASE);

    #[test]
    fn cohorts_are_seeded_and_apart() {
        let a = cohort(DEVELOPMENT_SEED_BASE, 4);
        assert_eq!(a, cohort(DEVELOPMENT_SEED_BASE, 4));
        assert_ne!(a[0].offset_mm, a[2].offset_mm);
        assert!(
            a.iter()
                .all(|c| c.offset_mm[0].abs() <= 100.0 && c.rotation_deg[0].abs() <= 15.0)
        );
        let s = stat(vec![3.0, 1.0, 2.0]);
        assert!((s.mean - 2.0).abs() < 1e-12 && s.p95 == 3.0 && s.max == 3.0);
    }
}

#[cfg(test)]
mod dev {
    use super::*;

    /// The development loop: `ROBOCT_DEV_PATIENTS=40 cargo test --release -p roboct-bench
    /// positioning::dev -- --ignored --nocapture` (the development seeds only).
    #[test]
    #[ignore = "minutes: the development cohort, run while tuning"]
    fn development_cohort() {
        let n = std::env::var("ROBOCT_DEV_PATIENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(40);
        let (name, base) = match std::env::var("ROBOCT_COHORT").as_deref() {
            Ok("test") => ("test", TEST_SEED_BASE),
            _ => ("development", DEVELOPMENT_SEED_BASE),
        };
        let r = run(name, base, n, &roboct_core::NoProgress).unwrap();
        println!("{}", r.table());
        for c in &r.cases {
            println!(
                "{} {:>5} off {:?} rot {:?} truth {:>7.1} {:>7.1} range {:?} exc {:?} iso {:?} {:?}",
                c.case.seed,
                c.case.target.name(),
                c.case.offset_mm.map(|v| v.round()),
                c.case.rotation_deg.map(|v| v.round()),
                c.truth_z_mm[0],
                c.truth_z_mm[1],
                c.range_mm.map(|r| [r[0].round(), r[1].round()]),
                c.excess_mm
                    .map(|e| [(e[0] * 10.0).round() / 10.0, (e[1] * 10.0).round() / 10.0]),
                c.isocenter_offset_mm
                    .map(|e| e.map(|v| (v * 10.0).round() / 10.0)),
                c.refusal
            );
        }
    }
}
