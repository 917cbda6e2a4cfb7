//! The reading itself: input checks, calibration, skull and brain, blood, findings, midline.
//!
//! Every step works on the reading grid ([`crate::work`]), whose axes run towards the
//! patient's left (x), back (y) and top (z); lengths are mm (index times spacing).

use std::time::Instant;

use roboct_geometry::Volume;
use roboct_geometry::vec3::{det3, normal_equations3, solve3};

use crate::detector::{Detector, Scan};
use crate::findings::{Diagnosis, Finding, FindingKind, FindingMasks, Frame, Phase, Side};
use crate::morph::{Dims, components, distance_mm, reached_from_border, smooth, smooth_excluding};
use crate::work::{Work, reading_grid};

/// Options of the reading.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadOptions {
    /// Findings smaller than this are dropped, mL.
    pub min_volume_ml: f64,
    /// Keep the segmentation in [`Diagnosis::masks`].
    pub keep_masks: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            min_volume_ml: 0.15,
            keep_masks: true,
        }
    }
}

/// Bone (HU) on the raw image.
const BONE_HU: f32 = 300.0;
/// Components of bone at least this large (mL) are skull; smaller dense bits are
/// calcifications.
const SKULL_MIN_ML: f64 = 3.0;
/// Closing radius that seals foramina and thin bone between the cranial cavity and outside.
const SEAL_MM: f32 = 2.5;
/// Calcification halo: blood is not looked for this close to small dense objects, mm.
const HALO_MM: f32 = 2.5;
/// Smoothed HU above which a voxel is dense (calcification or bone).
const DENSE_HU: f32 = 130.0;
/// Raw HU above which a voxel in a bright neighbourhood is calcification (acute blood is
/// 40-90 HU).
const CALCIFICATION_HU: f32 = 170.0;

struct Timer {
    start: Instant,
    last: Instant,
    phases: Vec<Phase>,
}

impl Timer {
    fn mark(&mut self, name: &str) {
        let now = Instant::now();
        self.phases.push(Phase {
            name: name.into(),
            seconds: (now - self.last).as_secs_f64(),
        });
        self.last = now;
    }
    fn total(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// Percentile `q` (0..1) of `values` (sorted in place); NaN when empty.
fn percentile(values: &mut [f32], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let k = ((values.len() - 1) as f64 * q).round() as usize;
    let (_, v, _) = values.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    *v as f64
}

/// What the input must be before anything is measured; `Some(reason)` when it is not.
fn check_input(volume: &Volume) -> Option<String> {
    let g = volume.grid();
    let [nx, ny, nz] = g.size();
    if nx == 0 || ny == 0 || nz == 0 {
        return Some(format!("the volume is empty ({nx} x {ny} x {nz} voxels)"));
    }
    let bad = volume.data().iter().filter(|v| !v.is_finite()).count();
    if bad > 0 {
        return Some(format!(
            "{bad} of {} voxels are NaN or infinite: the image cannot be read",
            volume.data().len()
        ));
    }
    let s = g.spacing_mm();
    let extent = [nx as f64 * s[0], ny as f64 * s[1], nz as f64 * s[2]];
    let mut e = extent;
    e.sort_by(f64::total_cmp);
    if nx < 16 || ny < 16 || e[1] < 100.0 || e[0] < 20.0 {
        return Some(format!(
            "the volume is too small to hold a head: {nx} x {ny} x {nz} voxels covering {:.0} x {:.0} x {:.0} mm (a head CT covers at least 100 mm across and 20 mm along the head)",
            extent[0], extent[1], extent[2]
        ));
    }
    None
}

/// Air level, HU: the median of voxels between -1200 and -700 HU (padding outside a round
/// field of view, often -1024 or -2048 and lower, is left out). `Err` when the values cannot
/// be CT numbers in HU.
fn air_level(hu: &[f32]) -> Result<f64, String> {
    let mut air: Vec<f32> = hu
        .iter()
        .copied()
        .filter(|v| (-1200.0..=-700.0).contains(v))
        .collect();
    let (lo, hi) = hu
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let soft = hu.iter().filter(|v| (-100.0..=100.0).contains(*v)).count();
    if (air.len() as f64) < 0.005 * hu.len() as f64 {
        return Err(format!(
            "no air in the image (values from {lo:.4} to {hi:.4}): the values do not look like CT numbers in HU, or the field of view holds no air around the head"
        ));
    }
    if (soft as f64) < 0.05 * hu.len() as f64 {
        return Err(format!(
            "hardly any soft tissue (-100 to 100 HU) in the image (values from {lo:.4} to {hi:.4}): not a CT in HU"
        ));
    }
    Ok(percentile(&mut air, 0.5))
}

struct Anatomy {
    skull: Vec<bool>,
    /// Distance from the cavity's wall (bone and the air of sinuses), mm.
    skull_distance: Vec<f32>,
    cavity: Vec<bool>,
    cavity_ml: f64,
    /// Halo of small dense objects (calcifications) inside the cavity.
    halo: Vec<bool>,
    /// Midsagittal plane: x_mm = a + b y_mm + c z_mm.
    plane: [f64; 3],
    warnings: Vec<String>,
}

impl Anatomy {
    fn plane_x(&self, y_mm: f64, z_mm: f64) -> f64 {
        self.plane[0] + self.plane[1] * y_mm + self.plane[2] * z_mm
    }
}

/// Finds the skull, the cranial cavity, calcifications and the midline. Returns them with
/// the image smoothed without the skull (see [`smooth_excluding`]), which every later step
/// reads: plain smoothing spreads 1200 HU bone into the first millimetres of the brain, where
/// it would make blood against the inner table look like calcification.
fn segment(
    hu: &[f32],
    smoothed: &[f32],
    d: Dims,
    along_z: bool,
) -> Result<(Anatomy, Vec<f32>), String> {
    let n = d.len();
    let voxel_ml = d.voxel_ml();
    // Lungs: much air inside the body that the outside cannot reach in-plane.
    let air: Vec<bool> = hu.iter().map(|&v| v < -400.0).collect();
    let outside_air = reached_from_border(&air, d);
    let air_inside: Vec<bool> = (0..n).map(|i| air[i] && !outside_air[i]).collect();
    let inner_air = air_inside.iter().filter(|&&b| b).count() as f64 * voxel_ml;
    if inner_air > 300.0 {
        return Err(format!(
            "{inner_air:.0} mL of air inside the body (lungs?): this looks like a chest or body CT, not a head CT"
        ));
    }
    let bone: Vec<bool> = hu.iter().map(|&v| v > BONE_HU).collect();
    let (labels, sizes) = components(&bone, d);
    let big: Vec<bool> = sizes
        .iter()
        .map(|&s| s as f64 * voxel_ml >= SKULL_MIN_ML)
        .collect();
    let skull: Vec<bool> = labels.iter().map(|&l| l != 0 && big[l as usize]).collect();
    let skull_ml = skull.iter().filter(|&&b| b).count() as f64 * voxel_ml;
    if skull_ml < 30.0 {
        return Err(format!(
            "only {skull_ml:.0} mL of bone: no skull in the image, not a head CT"
        ));
    }
    // The wall of the cranial cavity: bone, and the air of the sinuses and mastoid cells
    // (air the outside does not reach). A sinus may open the bone's ring in a slice (a frontal
    // sinus whose walls are thinner than a voxel): without its air as wall, the flood from
    // outside would pour through it into the brain.
    let wall: Vec<bool> = (0..n).map(|i| skull[i] || air_inside[i]).collect();
    let skull_distance = distance_mm(&wall, d);
    let sealed: Vec<bool> = skull_distance.iter().map(|&v| v <= SEAL_MM).collect();
    let passable: Vec<bool> = sealed.iter().map(|&b| !b).collect();
    let outside = reached_from_border(&passable, d);
    let inside: Vec<bool> = (0..n)
        .map(|i| !outside[i] && !sealed[i] && (-100.0..=200.0).contains(&smoothed[i]))
        .collect();
    let (labels, sizes) = components(&inside, d);
    let Some((best, &size)) = sizes.iter().enumerate().skip(1).max_by_key(|(_, s)| **s) else {
        return Err(
            "no cranial cavity enclosed by the skull: not a head CT (or the skull is open)".into(),
        );
    };
    let core_ml = size as f64 * voxel_ml;
    if core_ml < 100.0 {
        return Err(format!(
            "the largest space enclosed by bone holds {core_ml:.0} mL: no cranial cavity, not a head CT"
        ));
    }
    let core: Vec<bool> = labels.iter().map(|&l| l == best as u32).collect();
    // Give back the sealed rim along the inner table (where extra-axial blood lies).
    let from_core = distance_mm(&core, d);
    let cavity: Vec<bool> = (0..n)
        .map(|i| {
            core[i]
                || (from_core[i] <= SEAL_MM + 0.01
                    && !skull[i]
                    && !outside[i]
                    && hu[i] < 400.0
                    && hu[i] > -100.0)
        })
        .collect();
    let cavity_ml = cavity.iter().filter(|&&b| b).count() as f64 * voxel_ml;
    if cavity_ml > 2600.0 {
        return Err(format!(
            "the space enclosed by bone holds {cavity_ml:.0} mL, more than any cranium: not a head CT"
        ));
    }
    // Extent of the cavity across (x) and front to back (y).
    let (mut x0, mut x1, mut y0, mut y1, mut z0, mut z1) =
        (usize::MAX, 0, usize::MAX, 0, usize::MAX, 0);
    for i in (0..n).filter(|&i| cavity[i]) {
        let (z, y, x) = d.zyx(i);
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
        z0 = z0.min(z);
        z1 = z1.max(z);
    }
    let width = (x1 - x0 + 1) as f64 * d.spacing_mm[0];
    let length = (y1 - y0 + 1) as f64 * d.spacing_mm[1];
    if !(80.0..=210.0).contains(&width) || !(90.0..=240.0).contains(&length) {
        return Err(format!(
            "the space enclosed by bone is {width:.0} mm wide and {length:.0} mm long: not the shape of a cranium (about 120-160 x 150-200 mm)"
        ));
    }
    let mut warnings = Vec::new();
    if z0 == 0 || z1 + 1 == d.nz {
        warnings.push(format!(
            "the brain is cut by the scan range at the {}: findings beyond it are not seen",
            match (z0 == 0, z1 + 1 == d.nz) {
                (true, true) => "top and bottom",
                (true, false) => "bottom",
                _ => "top",
            }
        ));
    }
    if cavity_ml < 700.0 {
        warnings.push(format!(
            "the cranial cavity in the image holds only {cavity_ml:.0} mL (an adult's holds 1200-1700 mL): the scan may cover part of the head"
        ));
    }
    let soft = smooth_excluding(hu, &skull, d, 2, along_z);
    // Small dense objects inside the cavity: calcifications (pineal, choroid plexus, falx).
    let dense: Vec<bool> = (0..n)
        .map(|i| {
            // Large calcifications stand out smoothed; a small one (a voxel or two of 180-450
            // HU) is diluted by smoothing, so a raw voxel far above blood with a bright
            // neighbourhood counts too (a noise spike's neighbourhood stays at brain level).
            (soft[i] > DENSE_HU || (hu[i] > CALCIFICATION_HU && soft[i] > 50.0))
                && !skull[i]
                && from_core[i] <= 1.0
        })
        .collect();
    let halo_d = distance_mm(&dense, d);
    let halo: Vec<bool> = halo_d.iter().map(|&v| v <= HALO_MM).collect();
    let plane = midsagittal_plane(&cavity, d, (z0, z1));
    Ok((
        Anatomy {
            skull,
            skull_distance,
            cavity,
            cavity_ml,
            halo,
            plane,
            warnings,
        },
        soft,
    ))
}

/// The midsagittal plane x = a + b y + c z (mm) through the middle of the cavity in each
/// row, least squares with the rows more than 3 mm off dropped and the fit repeated.
fn midsagittal_plane(cavity: &[bool], d: Dims, (z0, z1): (usize, usize)) -> [f64; 3] {
    let s = d.spacing_mm;
    let mut rows: Vec<(f64, f64, f64, f64)> = Vec::new(); // (y, z, mid, width)
    for z in z0..=z1 {
        for y in 0..d.ny {
            let base = d.at(z, y, 0);
            let line = &cavity[base..base + d.nx];
            let (Some(a), Some(b)) = (line.iter().position(|&v| v), line.iter().rposition(|&v| v))
            else {
                continue;
            };
            rows.push((
                y as f64 * s[1],
                z as f64 * s[2],
                0.5 * (a + b) as f64 * s[0],
                (b - a) as f64 * s[0],
            ));
        }
    }
    let wmax = rows.iter().map(|r| r.3).fold(0.0, f64::max);
    let mut use_rows: Vec<(f64, f64, f64)> = rows
        .iter()
        .filter(|r| r.3 >= 0.6 * wmax)
        .map(|r| (r.0, r.1, r.2))
        .collect();
    let mut p = [
        use_rows.iter().map(|r| r.2).sum::<f64>() / use_rows.len().max(1) as f64,
        0.0,
        0.0,
    ];
    for _ in 0..3 {
        if use_rows.len() < 10 {
            break;
        }
        p = fit_plane(&use_rows).unwrap_or(p);
        use_rows.retain(|r| (r.2 - (p[0] + p[1] * r.0 + p[2] * r.1)).abs() <= 3.0);
    }
    p
}

/// Least squares x = a + b y + c z.
fn fit_plane(rows: &[(f64, f64, f64)]) -> Option<[f64; 3]> {
    let (m, v) = normal_equations3(rows.iter().map(|&(y, z, x)| ([1.0, y, z], x)));
    if det3(m).abs() < 1e-9 {
        return None;
    }
    solve3(m, v)
}

/// Tissue levels and noise from the brain.
struct Levels {
    csf: f64,
    white: f64,
    grey: f64,
    noise_raw: f64,
    noise_smoothed: f64,
}

fn levels(hu: &[f32], smoothed: &[f32], a: &Anatomy, d: Dims) -> Result<Levels, String> {
    let deep: Vec<usize> = (0..d.len())
        .filter(|&i| a.cavity[i] && a.skull_distance[i] >= 20.0 && !a.halo[i])
        .collect();
    if deep.len() < 1000 {
        return Err("too little brain away from the skull to measure its CT numbers".into());
    }
    let mut v: Vec<f32> = deep
        .iter()
        .map(|&i| smoothed[i])
        .filter(|v| (-30.0..=80.0).contains(v))
        .collect();
    let white = percentile(&mut v, 0.5);
    let mut csf: Vec<f32> = deep
        .iter()
        .map(|&i| smoothed[i])
        .filter(|&x| (x as f64) < white - 12.0 && x > -40.0)
        .collect();
    let csf = if csf.len() > 200 {
        percentile(&mut csf, 0.5)
    } else {
        f64::NAN
    };
    let mut cortex: Vec<f32> = (0..d.len())
        .filter(|&i| a.cavity[i] && (5.0..=9.0).contains(&a.skull_distance[i]))
        .map(|i| smoothed[i])
        .filter(|&x| (x as f64) >= white - 2.0 && (x as f64) <= white + 30.0)
        .collect();
    let grey = percentile(&mut cortex, 0.6).max(white + 5.0);
    // Noise: differences of voxels 3 apart along x in the deep brain (anatomy changes
    // slowly there; the median absolute difference ignores the edges it crosses).
    let step = 3;
    let noise = |img: &[f32]| {
        let mut diffs: Vec<f32> = deep
            .iter()
            .filter(|&&i| d.zyx(i).2 + step < d.nx && a.cavity[i + step])
            .map(|&i| (img[i + step] - img[i]).abs())
            .collect();
        1.4826 * percentile(&mut diffs, 0.5) / std::f64::consts::SQRT_2
    };
    Ok(Levels {
        csf,
        white,
        grey,
        noise_raw: noise(hu),
        noise_smoothed: noise(smoothed),
    })
}

/// Width of the bins of distance from the skull of [`rim_excess`], mm.
const RIM_BIN_MM: f32 = 0.5;

/// How much brighter than grey matter (`grey_hu`) the brain is, typically, at each distance
/// from the skull (bins of [`RIM_BIN_MM`] from the skull outwards): the median of the smoothed image over the whole cavity at that distance, less grey
/// matter. Blood covers a small part of any such shell, so the median is the normal brain's.
/// Empty when the rim is no brighter than grey matter (a head without this artefact).
fn rim_excess(smoothed: &[f32], a: &Anatomy, grey_hu: f64, d: Dims) -> Vec<f32> {
    const MAX_MM: f32 = 20.0;
    let bins = (MAX_MM / RIM_BIN_MM) as usize;
    // Histograms of 1 HU from -100 to 200 HU per bin.
    let mut hist = vec![[0u32; 300]; bins];
    for i in (0..d.len()).filter(|&i| a.cavity[i] && !a.halo[i]) {
        let b = (a.skull_distance[i] / RIM_BIN_MM) as usize;
        if b < bins {
            let h = (smoothed[i] + 100.0).floor();
            if (0.0..300.0).contains(&h) {
                hist[b][h as usize] += 1;
            }
        }
    }
    let mut excess = Vec::with_capacity(bins);
    for h in &hist {
        let n: u32 = h.iter().sum();
        if n < 200 {
            // Too few voxels at this distance to say (distances on a grid skip some bins).
            excess.push(excess.last().copied().unwrap_or(0.0));
            continue;
        }
        let mut acc = 0;
        let median = h
            .iter()
            .position(|&c| {
                acc += c;
                acc * 2 >= n
            })
            .unwrap_or(0) as f64
            - 100.0
            + 0.5;
        // Deeper than the cortex the brain is white matter, darker than grey: no excess.
        excess.push((median - grey_hu).max(0.0) as f32);
    }
    if excess.iter().all(|&e| e <= 0.0) {
        return Vec::new();
    }
    excess
}

/// The rim excess at `distance_mm` from the skull (0 beyond the rim).
fn excess_at(excess: &[f32], distance_mm: f32) -> f32 {
    excess
        .get((distance_mm / RIM_BIN_MM) as usize)
        .copied()
        .unwrap_or(0.0)
}

/// One region of blood while it is measured.
struct Region {
    voxels: Vec<usize>,
}

/// Reads `volume` (HU, in the patient frame LPS) with the built-in detector.
pub fn diagnose(volume: &Volume) -> Diagnosis {
    diagnose_with(
        volume,
        &crate::detector::ThresholdDetector::default(),
        &ReadOptions::default(),
    )
}

/// Reads `volume` (HU, in the patient frame LPS) with `detector`.
pub fn diagnose_with(volume: &Volume, detector: &dyn Detector, options: &ReadOptions) -> Diagnosis {
    let now = Instant::now();
    let mut t = Timer {
        start: now,
        last: now,
        phases: Vec::new(),
    };
    if let Some(reason) = check_input(volume) {
        return Diagnosis::not_assessable(reason, t.total());
    }
    let work = reading_grid(volume);
    t.mark("reading grid");
    let mut dx = Diagnosis::not_assessable("", 0.0);
    dx.detector = detector.name();
    dx.reading_voxel_mm = Some(work.dims.spacing_mm);
    match read(&work, detector, options, &mut dx, &mut t) {
        Ok(()) => {
            dx.assessable = true;
            dx.reason = None;
        }
        Err(reason) => {
            dx.assessable = false;
            dx.reason = Some(reason);
            dx.findings.clear();
            dx.midline_shift_mm = None;
            dx.ventricle_volume_ml = None;
            dx.masks = None;
        }
    }
    dx.phases = std::mem::take(&mut t.phases);
    dx.time_s = t.total();
    dx
}

fn read(
    work: &Work,
    detector: &dyn Detector,
    options: &ReadOptions,
    dx: &mut Diagnosis,
    t: &mut Timer,
) -> Result<(), String> {
    let d = work.dims;
    let hu = &work.hu;
    let air = air_level(hu)?;
    dx.calibration.air_hu = Some(air);
    if (air + 1000.0).abs() > 150.0 {
        return Err(format!(
            "air measures {air:.0} HU (expected about -1000): the CT numbers are not calibrated in HU"
        ));
    }
    if (air + 1000.0).abs() > 40.0 {
        dx.warnings.push(format!(
            "air measures {air:.0} HU (expected about -1000): calibration is off, CT numbers may be shifted"
        ));
    }
    let along_z = d.spacing_mm[2] <= 2.5;
    let smoothed = smooth(hu, d, 2, along_z);
    t.mark("calibration");
    // From here on, the skull gives nothing to the brain's smoothed values.
    let (anatomy, mut smoothed) = segment(hu, &smoothed, d, along_z)?;
    dx.warnings.extend(anatomy.warnings.iter().cloned());
    let lv0 = levels(hu, &smoothed, &anatomy, d)?;
    // Reconstructions brighten the brain next to the skull (beam hardening, the filter's
    // overshoot at 1200 HU bone); what the whole rim shares is taken out before blood is
    // looked for, so that the rim is not read as a subdural film around the brain.
    let mut hu_corrected = hu.clone();
    let excess = rim_excess(&smoothed, &anatomy, lv0.grey, d);
    if !excess.is_empty() {
        for i in (0..d.len()).filter(|&i| anatomy.cavity[i]) {
            let e = excess_at(&excess, anatomy.skull_distance[i]);
            smoothed[i] -= e;
            hu_corrected[i] -= e;
        }
    }
    let hu = &hu_corrected;
    let lv = levels(hu, &smoothed, &anatomy, d)?;
    dx.calibration.csf_hu = lv.csf.is_finite().then_some(lv.csf);
    dx.calibration.white_matter_hu = Some(lv.white);
    dx.calibration.grey_matter_hu = Some(lv.grey);
    dx.calibration.noise_hu = Some(lv.noise_raw);
    if !(-30.0..=60.0).contains(&lv.white) {
        return Err(format!(
            "brain measures {:.0} HU (expected 20-45): the CT numbers are not calibrated in HU",
            lv.white
        ));
    }
    if lv.csf.is_finite() {
        if !(-25.0..=35.0).contains(&lv.csf) {
            return Err(format!(
                "CSF measures {:.0} HU (expected about 0-15): the CT numbers are off, blood cannot be told from brain",
                lv.csf
            ));
        }
        if !(-10.0..=20.0).contains(&lv.csf) {
            dx.warnings.push(format!(
                "CSF measures {:.0} HU (expected about 0-15): calibration is off",
                lv.csf
            ));
        }
    } else {
        dx.warnings
            .push("no CSF found to check the calibration".into());
    }
    if lv.noise_raw > 60.0 {
        return Err(format!(
            "noise in the brain is {:.0} HU per voxel: too noisy to tell blood from brain",
            lv.noise_raw
        ));
    }
    t.mark("skull and brain");
    if std::env::var_os("ROBOCT_DIAGNOSIS_DEBUG").is_some() {
        eprintln!(
            "levels: csf {:.1} white {:.1} grey {:.1} noise raw {:.2} smoothed {:.2}; cavity {:.0} mL; plane {:?}",
            lv.csf,
            lv.white,
            lv.grey,
            lv.noise_raw,
            lv.noise_smoothed,
            anatomy.cavity_ml,
            anatomy.plane
        );
    }
    let scan = Scan {
        hu,
        smoothed: &smoothed,
        dims: d,
        intracranial: &anatomy.cavity,
        skull_distance_mm: &anatomy.skull_distance,
        grey_hu: lv.grey as f32,
        smoothed_noise_hu: lv.noise_smoothed as f32,
    };
    let p = detector
        .blood_probability(&scan)
        .map_err(|e| format!("the detector failed: {e}"))?;
    if p.len() != d.len() {
        return Err(format!(
            "the detector gave {} values for {} voxels",
            p.len(),
            d.len()
        ));
    }
    t.mark("detection");
    let shift = midline_shift(&smoothed, &anatomy, &lv, d);
    dx.midline_shift_mm = shift;
    let (ventricles, ventricle_ml) = ventricles(&smoothed, &anatomy, &lv, d);
    t.mark("midline and ventricles");
    let mut candidate: Vec<bool> = (0..d.len())
        .map(|i| p[i] >= 0.5 && anatomy.cavity[i] && !anatomy.halo[i])
        .collect();
    remove_falx(&mut candidate, &anatomy, d);
    let regions = regions(&candidate, d, options.min_volume_ml);
    let mut findings: Vec<(Finding, Vec<usize>)> = Vec::new();
    let grow_t = lv.grey + 7.0f64.max(2.0 * lv.noise_smoothed);
    for r in regions {
        if let Some(f) = measure(
            r,
            hu,
            &smoothed,
            &anatomy,
            &lv,
            &ventricles,
            shift.unwrap_or(0.0),
            grow_t,
            work,
            options,
        ) {
            findings.push(f);
        }
    }
    findings.sort_by(|a, b| b.0.volume_ml.total_cmp(&a.0.volume_ml));
    let ivh_ml: f64 = findings
        .iter()
        .filter(|f| f.0.kind == FindingKind::Intraventricular)
        .map(|f| f.0.volume_ml)
        .sum();
    dx.ventricle_volume_ml = Some(ventricle_ml + ivh_ml);
    if options.keep_masks {
        let mut labels = vec![0u16; d.len()];
        for (k, (_, vox)) in findings.iter().enumerate() {
            for &i in vox {
                labels[i] = (k + 1) as u16;
            }
        }
        dx.masks = Some(FindingMasks {
            grid: work.grid.clone(),
            labels,
            hu: hu.clone(),
        });
    }
    dx.findings = findings.into_iter().map(|f| f.0).collect();
    dx.frame = Frame::Lps;
    t.mark("findings");
    Ok(())
}

/// The falx is a dense (about 50 HU) sheet on the midline: candidate voxels near the
/// midsagittal plane with nothing of the candidate 3 mm to either side are the falx, not blood.
fn remove_falx(candidate: &mut [bool], a: &Anatomy, d: Dims) {
    let s = d.spacing_mm;
    let k = (3.0 / s[0]).round().max(1.0) as usize;
    let drop: Vec<usize> = (0..d.len())
        .filter(|&i| candidate[i])
        .filter(|&i| {
            let (z, y, x) = d.zyx(i);
            let xm = a.plane_x(y as f64 * s[1], z as f64 * s[2]);
            if (x as f64 * s[0] - xm).abs() > 4.0 {
                return false;
            }
            let left = x + k < d.nx && candidate[i + k];
            let right = x >= k && candidate[i - k];
            !(left && right)
        })
        .collect();
    for i in drop {
        candidate[i] = false;
    }
}

fn regions(candidate: &[bool], d: Dims, min_ml: f64) -> Vec<Region> {
    let (labels, sizes) = components(candidate, d);
    let min_voxels = (min_ml / d.voxel_ml()).ceil() as usize;
    let mut out: Vec<Region> = sizes
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, s)| **s >= min_voxels)
        .map(|(_, s)| Region {
            voxels: Vec::with_capacity(*s),
        })
        .collect();
    let mut index = vec![usize::MAX; sizes.len()];
    let mut k = 0;
    for (l, s) in sizes.iter().enumerate().skip(1) {
        if *s >= min_voxels {
            index[l] = k;
            k += 1;
        }
    }
    for (i, &l) in labels.iter().enumerate() {
        if l != 0 && index[l as usize] != usize::MAX {
            out[index[l as usize]].voxels.push(i);
        }
    }
    out
}

/// A box around some voxels, padded, and its own dims.
struct Crop {
    z0: usize,
    y0: usize,
    x0: usize,
    dims: Dims,
}

impl Crop {
    fn around(voxels: &[usize], d: Dims, pad_mm: f64) -> Self {
        let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
        for &i in voxels {
            let (z, y, x) = d.zyx(i);
            for (a, v) in [z, y, x].into_iter().enumerate() {
                lo[a] = lo[a].min(v);
                hi[a] = hi[a].max(v);
            }
        }
        let pad = [
            (pad_mm / d.spacing_mm[2]).ceil() as usize,
            (pad_mm / d.spacing_mm[1]).ceil() as usize,
            (pad_mm / d.spacing_mm[0]).ceil() as usize,
        ];
        let n = [d.nz, d.ny, d.nx];
        let l: [usize; 3] = std::array::from_fn(|a| lo[a].saturating_sub(pad[a]));
        let h: [usize; 3] = std::array::from_fn(|a| (hi[a] + pad[a]).min(n[a] - 1));
        Crop {
            z0: l[0],
            y0: l[1],
            x0: l[2],
            dims: Dims {
                nz: h[0] - l[0] + 1,
                ny: h[1] - l[1] + 1,
                nx: h[2] - l[2] + 1,
                spacing_mm: d.spacing_mm,
            },
        }
    }
    /// Global index of crop index `j`.
    fn global(&self, j: usize, d: Dims) -> usize {
        let (z, y, x) = self.dims.zyx(j);
        d.at(z + self.z0, y + self.y0, x + self.x0)
    }
    fn local(&self, i: usize, d: Dims) -> Option<usize> {
        let (z, y, x) = d.zyx(i);
        let (z, y, x) = (
            z.checked_sub(self.z0)?,
            y.checked_sub(self.y0)?,
            x.checked_sub(self.x0)?,
        );
        (z < self.dims.nz && y < self.dims.ny && x < self.dims.nx).then(|| self.dims.at(z, y, x))
    }
}

/// Measures one region: refines its outline at half its contrast, extends extra-axial blood
/// to the skull, rejects what is not blood, types it. Returns the finding and its voxels.
#[allow(clippy::too_many_arguments)]
fn measure(
    r: Region,
    hu: &[f32],
    smoothed: &[f32],
    a: &Anatomy,
    lv: &Levels,
    ventricles: &[bool],
    shift_mm: f64,
    grow_t: f64,
    work: &Work,
    options: &ReadOptions,
) -> Option<(Finding, Vec<usize>)> {
    let d = work.dims;
    let s = d.spacing_mm;
    let crop = Crop::around(&r.voxels, d, 8.0);
    let cd = crop.dims;
    let mut inside = vec![false; cd.len()];
    for &i in &r.voxels {
        inside[crop.local(i, d).expect("region lies in its crop")] = true;
    }
    let out: Vec<bool> = inside.iter().map(|&b| !b).collect();
    let depth = distance_mm(&out, cd);
    let from = distance_mm(&inside, cd);
    // Levels: blood (its core) and the background shell 3-6 mm outside.
    let mut core: Vec<f32> = (0..cd.len())
        .filter(|&j| inside[j] && depth[j] >= 1.0)
        .map(|j| smoothed[crop.global(j, d)])
        .collect();
    if core.len() < 5 {
        core = (0..cd.len())
            .filter(|&j| inside[j])
            .map(|j| smoothed[crop.global(j, d)])
            .collect();
    }
    let blood = percentile(&mut core, 0.5);
    let mut shell: Vec<f32> = (0..cd.len())
        .filter(|&j| (3.0..=6.0).contains(&from[j]))
        .map(|j| crop.global(j, d))
        .filter(|&i| a.cavity[i] && !a.halo[i] && a.skull_distance[i] >= 3.0)
        .map(|i| smoothed[i])
        .collect();
    let background = if shell.len() > 20 {
        percentile(&mut shell, 0.5)
    } else {
        lv.white
    };
    let contrast = blood - background;
    if contrast < 10.0 {
        return None;
    }
    // Outline at half the contrast (unbiased for partial volume), within 3 mm of the
    // detected region, away from the skull's partial volume; then the rim under
    // extra-axial blood.
    let half = (0.5 * (blood + background)).max(lv.grey + 2.0).min(grow_t);
    let mut mask = vec![false; cd.len()];
    for j in 0..cd.len() {
        let i = crop.global(j, d);
        mask[j] = inside[j]
            || (from[j] <= 3.0
                && a.cavity[i]
                && !a.halo[i]
                && a.skull_distance[i] >= 3.0
                && (smoothed[i] as f64) >= half
                && smoothed[i] <= 110.0);
    }
    let mask = crate::morph::grow(&inside, &mask, cd);
    let contact = (0..cd.len())
        .filter(|&j| mask[j] && a.skull_distance[crop.global(j, d)] < 3.8)
        .count();
    let n0 = mask.iter().filter(|&&b| b).count();
    // Blood in a sulcus or the sylvian fissure touches the inner table too, but runs inwards
    // from it as a thin sheet: its thickness (the largest ball in it) is small against how
    // far it reaches from the skull. A lens or a crescent is as thick as it is deep.
    let (reach_mm, ball0_mm) = {
        let mask_out: Vec<bool> = mask.iter().map(|&b| !b).collect();
        let md = distance_mm(&mask_out, cd);
        let mut reach = 0.0f64;
        let mut ball = 0.0f64;
        for j in (0..cd.len()).filter(|&j| mask[j]) {
            reach = reach.max(a.skull_distance[crop.global(j, d)] as f64);
            ball = ball.max(md[j] as f64);
        }
        (reach, 2.0 * ball)
    };
    let inward_sheet = ball0_mm <= 5.0 && reach_mm >= 12.0 && reach_mm >= 3.0 * ball0_mm;
    let extra_axial = contact >= 5.max(n0 / 50) && !inward_sheet;
    let mut full = mask.clone();
    if extra_axial {
        let from_mask = distance_mm(&mask, cd);
        for j in 0..cd.len() {
            let i = crop.global(j, d);
            if !full[j]
                && a.cavity[i]
                && !a.skull[i]
                && a.skull_distance[i] < 3.0
                && from_mask[j] <= 3.5
                && (hu[i] as f64) >= half
                && hu[i] <= 300.0
            {
                full[j] = true;
            }
        }
    }
    let voxels: Vec<usize> = (0..cd.len())
        .filter(|&j| full[j])
        .map(|j| crop.global(j, d))
        .collect();
    let volume_ml = voxels.len() as f64 * d.voxel_ml();
    if volume_ml < options.min_volume_ml {
        return None;
    }
    let mean_hu = voxels.iter().map(|&i| hu[i] as f64).sum::<f64>() / voxels.len() as f64;
    // Geometry in mm on the reading grid.
    let pos = |i: usize| {
        let (z, y, x) = d.zyx(i);
        [x as f64 * s[0], y as f64 * s[1], z as f64 * s[2]]
    };
    let mut c = [0.0f64; 3];
    for &i in &voxels {
        let p = pos(i);
        for k in 0..3 {
            c[k] += p[k];
        }
    }
    c.iter_mut().for_each(|v| *v /= voxels.len() as f64);
    let full_out: Vec<bool> = full.iter().map(|&b| !b).collect();
    let full_depth = distance_mm(&full_out, cd);
    let max_depth = full_depth
        .iter()
        .zip(&full)
        .filter(|(_, b)| **b)
        .map(|(v, _)| *v as f64)
        .fold(0.0, f64::max);
    let smin = s.iter().copied().fold(f64::INFINITY, f64::min);
    let ball_thickness = (2.0 * max_depth - 0.5 * smin).max(smin);
    let skull_thickness = voxels
        .iter()
        .map(|&i| a.skull_distance[i] as f64)
        .fold(0.0, f64::max)
        + 0.5 * smin;
    // Extent: the largest spread along the principal axis (via the bounding box diagonal
    // of the voxels, good enough to tell a lens from a crescent).
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for &i in &voxels {
        let p = pos(i);
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let extent = (0..3).map(|k| hi[k] - lo[k] + s[k]).fold(0.0, f64::max);
    let xm = a.plane_x(c[1], c[2]);
    let depth_from_skull = voxels
        .iter()
        .map(|&i| a.skull_distance[i] as f64)
        .sum::<f64>()
        / voxels.len() as f64;
    // Skull base: thin bright things low in the cranium next to dense bone are partial
    // volume and beam-hardening streaks of the petrous bones.
    let kind = if extra_axial {
        // A lens is thick for its extent; a crescent spreads thin along the inner table.
        if extent / skull_thickness.max(1.0) <= 6.0 {
            FindingKind::Epidural
        } else {
            FindingKind::Subdural
        }
    } else if inward_sheet || ball_thickness <= 4.5 && extent >= 3.0 * ball_thickness {
        FindingKind::Subarachnoid
    } else {
        // Ventricular blood fills the ventricle's shape: its mirror image (across the
        // displaced midline) lies in the other ventricle.
        let mid = xm + shift_mm;
        let mut mirrored_in = 0usize;
        let mut near = 0usize;
        for &i in &voxels {
            let (z, y, x) = d.zyx(i);
            let xmir = ((2.0 * mid - x as f64 * s[0]) / s[0]).round();
            if xmir >= 0.0 && (xmir as usize) < d.nx {
                let j = d.at(z, y, xmir as usize);
                if ventricles[j] || a.cavity[j] && smoothed[j] as f64 >= half {
                    mirrored_in += 1;
                }
            }
            if ventricles[i] {
                near += 1;
            }
        }
        let f = mirrored_in as f64 / voxels.len() as f64;
        if (f >= 0.4 || near as f64 >= 0.3 * voxels.len() as f64) && depth_from_skull >= 20.0 {
            FindingKind::Intraventricular
        } else {
            FindingKind::Intraparenchymal
        }
    };
    // Rejections: the skull base.
    if kind == FindingKind::Subarachnoid || extra_axial {
        // Petrous partial volume: thin, and most of it within 6 mm of dense bone below.
        let near_bone = voxels
            .iter()
            .filter(|&&i| a.skull_distance[i] < 6.0)
            .count() as f64
            / voxels.len() as f64;
        if ball_thickness <= 3.5 && near_bone > 0.8 && volume_ml < 1.0 {
            return None;
        }
    }
    let side = {
        let left = voxels
            .iter()
            .filter(|&&i| pos(i)[0] > a.plane_x(pos(i)[1], pos(i)[2]) + 2.0)
            .count() as f64;
        let right = voxels
            .iter()
            .filter(|&&i| pos(i)[0] < a.plane_x(pos(i)[1], pos(i)[2]) - 2.0)
            .count() as f64;
        let n = voxels.len() as f64;
        if left >= 0.2 * n && right >= 0.2 * n || (c[0] - xm).abs() < 4.0 {
            Side::Midline
        } else if c[0] > xm {
            Side::Left
        } else {
            Side::Right
        }
    };
    let region = region_words(kind, side, c, a, d);
    let thickness = if extra_axial {
        skull_thickness
    } else {
        ball_thickness
    };
    let noise = lv.noise_smoothed.max(1.0);
    let confidence = {
        let size = 1.0 - (-volume_ml / 0.5).exp();
        let cnr = ((contrast - 10.0) / (4.0 * noise)).clamp(0.0, 1.0);
        (0.3 + 0.7 * size * (0.4 + 0.6 * cnr)).clamp(0.05, 0.99)
    };
    // Key slice: the one holding most voxels.
    let mut per_z = vec![0usize; d.nz];
    for &i in &voxels {
        per_z[d.zyx(i).0] += 1;
    }
    let key_slice = per_z
        .iter()
        .enumerate()
        .max_by_key(|(_, n)| **n)
        .map_or(0, |(z, _)| z);
    let world = |p: [f64; 3]| {
        work.grid
            .world_from_index([p[0] / s[0], p[1] / s[1], p[2] / s[2]])
    };
    let key_centre = work.grid.world_from_index([
        (d.nx as f64 - 1.0) / 2.0,
        (d.ny as f64 - 1.0) / 2.0,
        key_slice as f64,
    ]);
    Some((
        Finding {
            kind,
            volume_ml,
            centroid_mm: world(c),
            side,
            region,
            max_thickness_mm: thickness,
            mean_hu,
            confidence,
            key_slice,
            key_slice_center_mm: key_centre,
        },
        voxels,
    ))
}

fn region_words(kind: FindingKind, side: Side, c: [f64; 3], a: &Anatomy, d: Dims) -> String {
    let _ = d;
    let side_word = match side {
        Side::Left => "left ",
        Side::Right => "right ",
        Side::Midline => "",
    };
    let _ = a;
    match kind {
        FindingKind::Intraventricular => format!("{side_word}lateral ventricle"),
        FindingKind::Subarachnoid if side == Side::Midline => "basal cisterns".into(),
        FindingKind::Subarachnoid => format!("{side_word}sylvian fissure or convexity sulci"),
        _ => {
            let lobe = lobe(c, a, d);
            match kind {
                FindingKind::Subdural | FindingKind::Epidural => {
                    format!("{side_word}{lobe} convexity")
                }
                _ => format!("{side_word}{lobe}"),
            }
        }
    }
}

/// The lobe by position in the cranium: front third frontal, back fifth occipital, low and
/// lateral temporal, otherwise parietal; deep and central the basal ganglia.
fn lobe(c: [f64; 3], a: &Anatomy, d: Dims) -> &'static str {
    let s = d.spacing_mm;
    let (mut y0, mut y1, mut z0, mut z1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (i, _) in a.cavity.iter().enumerate().filter(|(_, b)| **b).step_by(7) {
        let (z, y, _) = d.zyx(i);
        y0 = y0.min(y as f64 * s[1]);
        y1 = y1.max(y as f64 * s[1]);
        z0 = z0.min(z as f64 * s[2]);
        z1 = z1.max(z as f64 * s[2]);
    }
    let fy = (c[1] - y0) / (y1 - y0).max(1.0);
    let fz = (c[2] - z0) / (z1 - z0).max(1.0);
    let dx = (c[0] - a.plane_x(c[1], c[2])).abs();
    if fz < 0.3 && fy > 0.6 {
        "posterior fossa"
    } else if dx < 30.0 && (0.35..0.65).contains(&fy) && (0.3..0.6).contains(&fz) {
        "basal ganglia and thalamus"
    } else if fy < 0.35 {
        "frontal"
    } else if fy > 0.8 {
        "occipital"
    } else if fz < 0.45 {
        "temporal"
    } else {
        "parietal"
    }
}

/// The ventricles: CSF-dense voxels deep in the brain (more than 18 mm from the skull,
/// within 40 mm of the midline), in regions of at least 0.3 mL. Returns the mask and mL.
fn ventricles(smoothed: &[f32], a: &Anatomy, lv: &Levels, d: Dims) -> (Vec<bool>, f64) {
    let s = d.spacing_mm;
    let csf = if lv.csf.is_finite() {
        lv.csf
    } else {
        lv.white - 20.0
    };
    let t = 0.5 * (csf + lv.white);
    let m: Vec<bool> = (0..d.len())
        .map(|i| {
            if !a.cavity[i] || a.skull_distance[i] < 18.0 || (smoothed[i] as f64) >= t {
                return false;
            }
            let (z, y, x) = d.zyx(i);
            (x as f64 * s[0] - a.plane_x(y as f64 * s[1], z as f64 * s[2])).abs() <= 40.0
        })
        .collect();
    let (labels, sizes) = components(&m, d);
    let min = (0.3 / d.voxel_ml()).ceil() as usize;
    let keep: Vec<bool> = sizes.iter().map(|&n| n >= min).collect();
    let out: Vec<bool> = labels.iter().map(|&l| l != 0 && keep[l as usize]).collect();
    let ml = out.iter().filter(|&&b| b).count() as f64 * d.voxel_ml();
    (out, ml)
}

/// Shift of the septum pellucidum from the midsagittal plane, mm (positive towards the
/// patient's left): in each row through the frontal horns, the septum is the denser gap
/// between the two CSF runs nearest the midline; the median over rows.
fn midline_shift(smoothed: &[f32], a: &Anatomy, lv: &Levels, d: Dims) -> Option<f64> {
    let s = d.spacing_mm;
    let csf = if lv.csf.is_finite() {
        lv.csf
    } else {
        lv.white - 20.0
    };
    let t = 0.5 * (csf + lv.white);
    let mut shifts = Vec::new();
    for z in 0..d.nz {
        for y in 0..d.ny {
            let (ym, zm) = (y as f64 * s[1], z as f64 * s[2]);
            let xm = a.plane_x(ym, zm);
            // Runs of CSF within 30 mm of the plane, deep in the brain.
            let x_lo = ((xm - 30.0) / s[0]).floor().max(0.0) as usize;
            let x_hi = (((xm + 30.0) / s[0]).ceil() as usize).min(d.nx - 1);
            let mut runs: Vec<(usize, usize)> = Vec::new();
            let mut start = None;
            for x in x_lo..=x_hi {
                let i = d.at(z, y, x);
                let is = a.cavity[i] && a.skull_distance[i] >= 25.0 && (smoothed[i] as f64) < t;
                match (is, start) {
                    (true, None) => start = Some(x),
                    (false, Some(b)) => {
                        runs.push((b, x - 1));
                        start = None;
                    }
                    _ => {}
                }
            }
            if let Some(b) = start {
                runs.push((b, x_hi));
            }
            let long = |r: &(usize, usize)| (r.1 - r.0 + 1) as f64 * s[0] >= 3.0;
            let runs: Vec<(usize, usize)> = runs.into_iter().filter(long).collect();
            // The septum: a gap of 1-6 mm between two runs, the one nearest the plane.
            let best = runs
                .windows(2)
                .filter_map(|w| {
                    let gap = (w[1].0 - w[0].1 - 1) as f64 * s[0];
                    (gap > 0.0 && gap <= 6.0)
                        .then(|| 0.5 * ((w[0].1 + 1) as f64 + (w[1].0 - 1) as f64) * s[0])
                })
                .min_by(|p, q| (p - xm).abs().total_cmp(&(q - xm).abs()));
            if let Some(x) = best {
                shifts.push(x - xm);
            }
        }
    }
    if shifts.len() < 10 {
        return None;
    }
    let mut v: Vec<f32> = shifts.iter().map(|&x| x as f32).collect();
    Some(percentile(&mut v, 0.5))
}
