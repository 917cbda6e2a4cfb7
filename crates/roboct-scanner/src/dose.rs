//! Dose: CTDIvol in the 16 cm head and 32 cm body CTDI phantoms by Monte Carlo photon
//! transport with the scanner's own spectrum and geometry, and the dose-length product.
//!
//! What is computed is what IEC 60601-2-44 defines and a physicist measures: air kerma in the
//! 100 mm pencil-chamber positions (the centre and 1 cm under the surface) of a 150 mm long
//! PMMA cylinder, integrated over 100 mm and divided by the nominal beam width, for a 20 mm
//! reference beam (`CTDI100`); `CTDIw = CTDI100,c / 3 + 2 CTDI100,p / 3`; a wider beam is
//! scaled by the ratio of free-in-air CTDIs (the IEC method for beams over 40 mm), and one
//! axial rotation has `CTDIvol = CTDIw` (pitch 1).
//!
//! Transport: photons leave the focal spot with the spectrum's energies into the collimated
//! fan (uniform in solid angle, the tube rotating or, for a scout, still), travel through PMMA
//! (H 8.05%, C 59.98%, O 31.96% by mass, 1.19 g/cm^3; NIST/ICRU) with its total attenuation
//! from the NIST element tables, and at each interaction either scatter (Compton, with the
//! Klein-Nishina cross-section of free electrons, sampled by Kahn's method) or are absorbed
//! (the rest of the cross-section: photoelectric absorption, and coherent scattering, which is
//! about 6% of PMMA's attenuation at CT energies and deflects photons by a few degrees only;
//! counting it as absorption lowers the dose deep in the phantom by at most a few percent).
//! Scatter is therefore transported, not estimated. Air kerma is scored with the track-length
//! estimator (fluence times `E mu_en/rho` of air) in the chamber volumes: a rod of 6.5 mm
//! radius at the centre, and, using the rotation's symmetry, a 10 mm ring at 1 cm depth for
//! the periphery (the mean of the four peripheral holes). Photons below 5 keV are absorbed.
//!
//! Checked against published figures (`tests/dose.rs`, crate README): the mean CTDIvol of 43
//! commercial scanners at 120 kVp from ImPACT data is 16.7 mGy per 100 mAs in the head phantom
//! and 7.8 in the body phantom, with the 90th percentile about twice the 10th (Huda et al.,
//! "Relationship between radiographic techniques (kV and mAs) and CTDIvol"), and CTDIvol grows
//! about as kVp^2.6 (same source).

use std::sync::{Mutex, OnceLock};

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use rayon::prelude::*;
use roboct_core::units::{Mgy, MgyCm};
use roboct_phantom::material::Material;

use crate::ScannerError;
use crate::spectrum::{J_PER_KEV, Spectrum, air_mu_en_over_rho};

/// The CTDI phantom a dose index refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CtdiPhantom {
    /// 16 cm diameter PMMA (head).
    Head16,
    /// 32 cm diameter PMMA (body).
    Body32,
}

impl CtdiPhantom {
    /// The phantom's radius, mm.
    pub fn radius_mm(self) -> f64 {
        match self {
            CtdiPhantom::Head16 => 80.0,
            CtdiPhantom::Body32 => 160.0,
        }
    }
}

/// What the tube and collimator do during the exposure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Irradiation {
    /// A full rotation (every angle equally).
    Rotation,
    /// The tube held at one angle (a scout): the source at `angle_rad` in the scanner frame
    /// (0: below the patient, on -y).
    Stationary {
        /// Gantry angle, rad.
        angle_rad: f64,
    },
}

/// CTDI per 100 mAs for a beam, in mGy.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CtdiPer100Mas {
    /// At the centre.
    pub center_mgy: f64,
    /// Mean of the periphery (1 cm deep).
    pub periphery_mgy: f64,
    /// Weighted: centre / 3 + 2 periphery / 3.
    pub weighted_mgy: f64,
    /// Relative statistical uncertainty (one standard deviation) of the weighted value.
    pub relative_uncertainty: f64,
}

/// Reference nominal beam width for the in-phantom CTDI100, mm (IEC 60601-2-44).
pub const REFERENCE_WIDTH_MM: f64 = 20.0;

/// Histories per dose computation: 1% statistics in the body phantom's centre.
const HISTORIES: usize = 1_500_000;

fn pmma() -> &'static Material {
    static M: OnceLock<Material> = OnceLock::new();
    M.get_or_init(|| {
        Material::from_composition("PMMA", 1.19, &[(1, 0.080538), (6, 0.599848), (8, 0.319614)])
            .expect("PMMA's elements are tabulated")
    })
}

/// Electrons per gram of PMMA.
fn pmma_electrons_per_g() -> f64 {
    const N_A: f64 = 6.022_140_76e23;
    N_A * (0.080538 * 1.0 / 1.008 + 0.599848 * 6.0 / 12.011 + 0.319614 * 8.0 / 15.999)
}

/// Klein-Nishina total cross-section per electron, cm^2.
fn klein_nishina_cm2(e_kev: f64) -> f64 {
    const R_E_CM: f64 = 2.817_940_326_2e-13;
    let k = e_kev / 511.0;
    let l = (1.0 + 2.0 * k).ln();
    2.0 * std::f64::consts::PI
        * R_E_CM
        * R_E_CM
        * ((1.0 + k) / (k * k) * (2.0 * (1.0 + k) / (1.0 + 2.0 * k) - l / k) + l / (2.0 * k)
            - (1.0 + 3.0 * k) / ((1.0 + 2.0 * k) * (1.0 + 2.0 * k)))
}

/// Samples the Compton scattering of a photon of `e_kev`: (new energy, cos theta), Kahn's
/// rejection method for the Klein-Nishina distribution.
fn sample_compton(e_kev: f64, rng: &mut Pcg64) -> (f64, f64) {
    let k = e_kev / 511.0;
    loop {
        let (r1, r2, r3): (f64, f64, f64) = (rng.random(), rng.random(), rng.random());
        if r1 <= (1.0 + 2.0 * k) / (9.0 + 2.0 * k) {
            let eta = 1.0 + 2.0 * k * r2;
            if r3 <= 4.0 * (1.0 / eta - 1.0 / (eta * eta)) {
                let cos = 1.0 - (eta - 1.0) / k;
                return (e_kev / eta, cos);
            }
        } else {
            let eta = (1.0 + 2.0 * k) / (1.0 + 2.0 * k * r2);
            let cos = 1.0 - (eta - 1.0) / k;
            if r3 <= 0.5 * (cos * cos + 1.0 / eta) {
                return (e_kev / eta, cos);
            }
        }
    }
}

/// Length of the segment `p + t d`, `t` in `[0, s]`, inside the set `r0 <= |xy| <= r1`,
/// `|z| <= half_z` (`d` a unit vector).
fn track_in_ring(p: [f64; 3], d: [f64; 3], s: f64, r0: f64, r1: f64, half_z: f64) -> f64 {
    // z slab.
    let (mut a, mut b) = (0.0f64, s);
    if d[2].abs() < 1e-15 {
        if p[2].abs() > half_z {
            return 0.0;
        }
    } else {
        let (t1, t2) = ((-half_z - p[2]) / d[2], (half_z - p[2]) / d[2]);
        a = a.max(t1.min(t2));
        b = b.min(t1.max(t2));
    }
    if a >= b {
        return 0.0;
    }
    let cyl = |r: f64| -> Option<(f64, f64)> {
        let qa = d[0] * d[0] + d[1] * d[1];
        let qb = p[0] * d[0] + p[1] * d[1];
        let qc = p[0] * p[0] + p[1] * p[1] - r * r;
        if qa < 1e-15 {
            return (qc <= 0.0).then_some((f64::NEG_INFINITY, f64::INFINITY));
        }
        let disc = qb * qb - qa * qc;
        (disc > 0.0).then(|| {
            let sq = disc.sqrt();
            ((-qb - sq) / qa, (-qb + sq) / qa)
        })
    };
    let overlap = |(c, e): (f64, f64)| (b.min(e) - a.max(c)).max(0.0);
    let outer = cyl(r1).map_or(0.0, overlap);
    let inner = if r0 > 0.0 {
        cyl(r0).map_or(0.0, overlap)
    } else {
        0.0
    };
    (outer - inner).max(0.0)
}

/// Distance from `p` along `d` to where the photon leaves the cylinder `|xy| <= r`,
/// `|z| <= half_z` (0 if outside).
fn exit_distance(p: [f64; 3], d: [f64; 3], r: f64, half_z: f64) -> f64 {
    let mut t = f64::INFINITY;
    if d[2] > 1e-15 {
        t = t.min((half_z - p[2]) / d[2]);
    } else if d[2] < -1e-15 {
        t = t.min((-half_z - p[2]) / d[2]);
    }
    let qa = d[0] * d[0] + d[1] * d[1];
    if qa > 1e-15 {
        let qb = p[0] * d[0] + p[1] * d[1];
        let qc = p[0] * p[0] + p[1] * p[1] - r * r;
        let disc = (qb * qb - qa * qc).max(0.0);
        t = t.min((-qb + disc.sqrt()) / qa);
    }
    t.max(0.0)
}

/// Distance along `d` from `p` (outside) to where the ray enters the cylinder, if it does.
fn entry_distance(p: [f64; 3], d: [f64; 3], r: f64, half_z: f64) -> Option<f64> {
    let qa = d[0] * d[0] + d[1] * d[1];
    let qb = p[0] * d[0] + p[1] * d[1];
    let qc = p[0] * p[0] + p[1] * p[1] - r * r;
    let disc = qb * qb - qa * qc;
    if qa < 1e-15 || disc <= 0.0 {
        return None;
    }
    let sq = disc.sqrt();
    let (t0, t1) = ((-qb - sq) / qa, (-qb + sq) / qa);
    if t1 <= 0.0 {
        return None;
    }
    let t = t0.max(0.0);
    let z = p[2] + t * d[2];
    (z.abs() <= half_z).then_some(t)
}

/// The beam: source distance, fan half-angle and the beam's half-width at the isocentre.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Beam {
    /// Source to isocentre, mm.
    pub sid_mm: f64,
    /// Fan half-angle, rad.
    pub fan_half_angle_rad: f64,
    /// Nominal beam width at the isocentre along z, mm.
    pub width_mm: f64,
}

/// CTDI100 at the centre and periphery of `phantom` per 100 mAs, for `beam` (nominal width
/// `beam.width_mm` as the divisor), by Monte Carlo with `histories` photons and `seed`.
pub fn ctdi100_per_100mas(
    spectrum: &Spectrum,
    beam: Beam,
    phantom: CtdiPhantom,
    irradiation: Irradiation,
    histories: usize,
    seed: u64,
) -> CtdiPer100Mas {
    let r = phantom.radius_mm();
    let half_z = 75.0; // a 150 mm long phantom
    let chamber_half = 50.0; // a 100 mm chamber
    let (centre_r, ring) = (6.5, (r - 15.0, r - 5.0));
    let bins = spectrum.kev_bins(20);
    let photons_per_mas_mm2_1m: f64 = bins.iter().map(|b| b.1).sum();
    let cdf: Vec<f64> = bins
        .iter()
        .scan(0.0, |acc, b| {
            *acc += b.1 / photons_per_mas_mm2_1m;
            Some(*acc)
        })
        .collect();
    // The collimated beam's solid angle: fan angle times the cone's extent in sin(elevation).
    let sin_cone = (0.5 * beam.width_mm / beam.sid_mm).atan().sin();
    let omega = 2.0 * beam.fan_half_angle_rad * 2.0 * sin_cone;
    // Photons per mAs into the beam: per mm^2 at 1 m is per (1e-6 sr).
    let photons_per_mas = photons_per_mas_mm2_1m * 1e6 * omega;
    let pmma = pmma();
    let rho = pmma.density_g_cm3();
    let ne = pmma_electrons_per_g();
    // Tables on a 0.25 keV grid from 5 keV for speed.
    let de = 0.25;
    let grid: Vec<(f64, f64, f64)> = (0..((spectrum.kvp() - 5.0) / de) as usize + 2)
        .map(|i| {
            let e = 5.0 + i as f64 * de;
            let mu = pmma.mu_per_mm(e);
            let compton = klein_nishina_cm2(e) * ne * rho / 10.0;
            (mu, (compton / mu).min(1.0), air_mu_en_over_rho(e))
        })
        .collect();
    let at = |e: f64| grid[(((e - 5.0) / de) as usize).min(grid.len() - 1)];
    let volumes = [
        std::f64::consts::PI * centre_r * centre_r * 2.0 * chamber_half,
        std::f64::consts::PI * (ring.1 * ring.1 - ring.0 * ring.0) * 2.0 * chamber_half,
    ];
    let chunks = 64usize;
    let per_chunk = histories.div_ceil(chunks);
    // Per chunk: sum of (E mu_en/rho track) in keV cm^2/g mm for centre and ring.
    let sums: Vec<[f64; 2]> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let mut rng =
                Pcg64::seed_from_u64(seed ^ (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut acc = [0.0f64; 2];
            for _ in 0..per_chunk {
                let u: f64 = rng.random();
                let bin = cdf.partition_point(|&v| v < u).min(bins.len() - 1);
                let mut e = bins[bin].0 - 0.5 + rng.random::<f64>();
                let angle = match irradiation {
                    Irradiation::Rotation => rng.random::<f64>() * std::f64::consts::TAU,
                    Irradiation::Stationary { angle_rad } => angle_rad,
                };
                let (sa, ca) = angle.sin_cos();
                // Source at SID (sin, -cos, 0) (the scanner's convention).
                let src = [beam.sid_mm * sa, -beam.sid_mm * ca, 0.0];
                let central = [-sa, ca, 0.0];
                let across = [ca, sa, 0.0];
                let gamma = (2.0 * rng.random::<f64>() - 1.0) * beam.fan_half_angle_rad;
                let sin_el = (2.0 * rng.random::<f64>() - 1.0) * sin_cone;
                let cos_el = (1.0 - sin_el * sin_el).sqrt();
                let (sg, cg) = gamma.sin_cos();
                let mut d = [
                    cos_el * (cg * central[0] + sg * across[0]),
                    cos_el * (cg * central[1] + sg * across[1]),
                    sin_el,
                ];
                let Some(t_in) = entry_distance(src, d, r, half_z) else {
                    continue;
                };
                let mut p = [
                    src[0] + t_in * d[0],
                    src[1] + t_in * d[1],
                    src[2] + t_in * d[2],
                ];
                loop {
                    let (mu, p_compton, mu_en) = at(e);
                    let exit = exit_distance(p, d, r, half_z);
                    let s = -(1.0 - rng.random::<f64>()).ln() / mu;
                    let step = s.min(exit);
                    let w = e * mu_en;
                    acc[0] += w * track_in_ring(p, d, step, 0.0, centre_r, chamber_half);
                    acc[1] += w * track_in_ring(p, d, step, ring.0, ring.1, chamber_half);
                    if s >= exit {
                        break;
                    }
                    p = [p[0] + s * d[0], p[1] + s * d[1], p[2] + s * d[2]];
                    if rng.random::<f64>() > p_compton {
                        break;
                    }
                    let (e2, cos) = sample_compton(e, &mut rng);
                    e = e2;
                    if e < 5.0 {
                        break;
                    }
                    d = rotate(d, cos, rng.random::<f64>() * std::f64::consts::TAU);
                }
            }
            acc
        })
        .collect();
    let n = (per_chunk * chunks) as f64;
    let kerma_gy_per_mas = |k: usize| -> (f64, f64) {
        let vals: Vec<f64> = sums.iter().map(|s| s[k]).collect();
        let mean_chunk = vals.iter().sum::<f64>() / chunks as f64;
        let var =
            vals.iter().map(|v| (v - mean_chunk).powi(2)).sum::<f64>() / (chunks as f64 - 1.0);
        let rel = if mean_chunk > 0.0 {
            (var / chunks as f64).sqrt() / mean_chunk
        } else {
            0.0
        };
        // keV cm^2/g mm / mm^3 per photon -> Gy: cm^2/g -> m^2/kg is 0.1; 1/mm^2 -> 1e6/m^2.
        let total: f64 = vals.iter().sum();
        (
            total / n * photons_per_mas / volumes[k] * 1e6 * 0.1 * J_PER_KEV,
            rel,
        )
    };
    let ((kc, rc), (kp, rp)) = (kerma_gy_per_mas(0), kerma_gy_per_mas(1));
    // CTDI100 = (1/NT) integral over 100 mm = mean kerma over the chamber x 100 / NT; per
    // 100 mAs, in mGy.
    let scale = 2.0 * chamber_half / beam.width_mm * 100.0 * 1e3;
    let (c, p) = (kc * scale, kp * scale);
    let w = c / 3.0 + 2.0 * p / 3.0;
    CtdiPer100Mas {
        center_mgy: c,
        periphery_mgy: p,
        weighted_mgy: w,
        relative_uncertainty: ((c / 3.0 * rc).powi(2) + (2.0 * p / 3.0 * rp).powi(2)).sqrt() / w,
    }
}

/// Turns unit direction `d` by polar angle `acos(cos)` and azimuth `phi`.
fn rotate(d: [f64; 3], cos: f64, phi: f64) -> [f64; 3] {
    let sin = (1.0 - cos * cos).max(0.0).sqrt();
    let (sp, cp) = phi.sin_cos();
    if d[2].abs() > 0.99999 {
        let s = d[2].signum();
        return [sin * cp, sin * sp, s * cos];
    }
    let k = (1.0 - d[2] * d[2]).sqrt();
    [
        d[0] * cos + sin * (d[0] * d[2] * cp - d[1] * sp) / k,
        d[1] * cos + sin * (d[1] * d[2] * cp + d[0] * sp) / k,
        d[2] * cos - sin * cp * k,
    ]
}

/// Free-in-air CTDI of a beam of width `w` over that of the reference width: the kerma on the
/// axis falls with the inverse square of the distance to the focal spot away from the central
/// plane (the IEC correction for beams over 40 mm).
pub fn free_in_air_ratio(sid_mm: f64, width_mm: f64) -> f64 {
    let mean = |w: f64| (2.0 * sid_mm / w) * (0.5 * w / sid_mm).atan();
    mean(width_mm) / mean(REFERENCE_WIDTH_MM)
}

/// The CTDIw per 100 mAs of a scanner, computed once per (kVp, filtration, geometry,
/// phantom, irradiation) and kept.
pub fn ctdi_w_per_100mas(
    spectrum: &Spectrum,
    sid_mm: f64,
    fan_half_angle_rad: f64,
    phantom: CtdiPhantom,
    irradiation: Irradiation,
) -> CtdiPer100Mas {
    type Key = (u64, u64, u64, u64, u64, CtdiPhantom, u64);
    static CACHE: OnceLock<Mutex<Vec<(Key, CtdiPer100Mas)>>> = OnceLock::new();
    let angle = match irradiation {
        Irradiation::Rotation => u64::MAX,
        Irradiation::Stationary { angle_rad } => angle_rad.to_bits(),
    };
    let f = spectrum.filtration();
    let key: Key = (
        spectrum.kvp().to_bits(),
        f.aluminium_mm.to_bits(),
        f.copper_mm.to_bits(),
        sid_mm.to_bits(),
        fan_half_angle_rad.to_bits(),
        phantom,
        angle,
    );
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    if let Some((_, v)) = cache
        .lock()
        .expect("dose cache")
        .iter()
        .find(|(k, _)| *k == key)
    {
        return *v;
    }
    let v = ctdi100_per_100mas(
        spectrum,
        Beam {
            sid_mm,
            fan_half_angle_rad,
            width_mm: REFERENCE_WIDTH_MM,
        },
        phantom,
        irradiation,
        HISTORIES,
        0x00C7_D1A5_EED5,
    );
    cache.lock().expect("dose cache").push((key, v));
    v
}

/// The dose of one exposure, as the Radiation Dose SR reports it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DoseRecord {
    /// What was irradiated: `axial` (a rotation) or `scout` (a topogram).
    pub kind: String,
    /// Tube voltage, kV.
    pub kvp: f64,
    /// Tube current-time product of the exposure, mAs.
    pub mas: f64,
    /// Mean tube current, mA.
    pub tube_current_ma: f64,
    /// Exposure time, s.
    pub exposure_time_s: f64,
    /// Nominal beam width at the isocentre along z, mm.
    pub collimation_mm: f64,
    /// Irradiated length along z, mm (the scan range).
    pub scan_length_mm: f64,
    /// The phantom CTDIvol refers to.
    pub ctdi_phantom: CtdiPhantom,
    /// CTDIvol.
    pub ctdi_vol: Mgy,
    /// Dose-length product.
    pub dlp: MgyCm,
    /// CTDIw per 100 mAs of this beam (the dose computation's own figures).
    pub ctdi_per_100mas: CtdiPer100Mas,
    /// How the numbers were obtained.
    pub method: String,
}

impl DoseRecord {
    /// The record of an exposure of `mas` with a beam `collimation_mm` wide irradiating
    /// `scan_length_mm`, from the beam's CTDIw per 100 mAs.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: &str,
        spectrum: &Spectrum,
        mas: f64,
        exposure_time_s: f64,
        collimation_mm: f64,
        scan_length_mm: f64,
        sid_mm: f64,
        per_100: CtdiPer100Mas,
        phantom: CtdiPhantom,
    ) -> Result<DoseRecord, ScannerError> {
        if !(mas > 0.0 && mas.is_finite()) {
            return Err(ScannerError::Protocol {
                field: "mas",
                message: format!("{mas}; expected a tube current-time product > 0 mAs"),
            });
        }
        let ratio = free_in_air_ratio(sid_mm, collimation_mm);
        let ctdi = per_100.weighted_mgy * mas / 100.0 * ratio;
        Ok(DoseRecord {
            kind: kind.into(),
            kvp: spectrum.kvp(),
            mas,
            tube_current_ma: mas / exposure_time_s,
            exposure_time_s,
            collimation_mm,
            scan_length_mm,
            ctdi_phantom: phantom,
            ctdi_vol: Mgy(ctdi),
            dlp: MgyCm(ctdi * scan_length_mm / 10.0),
            ctdi_per_100mas: per_100,
            method: "Monte Carlo air kerma in the IEC CTDI phantom with this scanner's spectrum \
                     and geometry (20 mm reference beam, wider beams by the free-in-air ratio)"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn klein_nishina_matches_the_thomson_limit_and_known_values() {
        // Thomson: 8 pi r_e^2 / 3 = 6.652e-25 cm^2, and sigma_T (1 - 2k + 5.2 k^2) for small
        // k = E / 511 keV; at 511 keV: 2.866e-25 cm^2.
        let k: f64 = 0.01;
        let series = 6.6524e-25 * (1.0 - 2.0 * k + 5.2 * k * k);
        assert!((klein_nishina_cm2(5.11) / series - 1.0).abs() < 1e-3);
        assert!((klein_nishina_cm2(511.0) / 2.866e-25 - 1.0).abs() < 3e-3);
    }

    #[test]
    fn compton_sampling_follows_the_kinematics() {
        let mut rng = Pcg64::seed_from_u64(1);
        let mut mean_cos = 0.0;
        for _ in 0..20000 {
            let (e, cos) = sample_compton(60.0, &mut rng);
            let expect = 60.0 / (1.0 + 60.0 / 511.0 * (1.0 - cos));
            assert!((e - expect).abs() < 1e-9 && (-1.0..=1.0).contains(&cos));
            mean_cos += cos;
        }
        // Klein-Nishina at 60 keV is mildly forward: mean cos about 0.09.
        let m = mean_cos / 20000.0;
        assert!(m > 0.03 && m < 0.16, "{m}");
    }

    #[test]
    fn ring_tracks_are_exact_for_straight_lines() {
        // Along x through the axis: the ring [5, 10] is crossed twice, 5 mm each.
        let t = track_in_ring([-100.0, 0.0, 0.0], [1.0, 0.0, 0.0], 200.0, 5.0, 10.0, 50.0);
        assert!((t - 10.0).abs() < 1e-12);
        let c = track_in_ring([-100.0, 0.0, 0.0], [1.0, 0.0, 0.0], 200.0, 0.0, 6.5, 50.0);
        assert!((c - 13.0).abs() < 1e-12);
        // Stopped inside, and outside the slab.
        assert!(
            (track_in_ring([-100.0, 0.0, 0.0], [1.0, 0.0, 0.0], 100.0, 0.0, 6.5, 50.0) - 6.5).abs()
                < 1e-12
        );
        assert_eq!(
            track_in_ring([-100.0, 0.0, 60.0], [1.0, 0.0, 0.0], 200.0, 0.0, 6.5, 50.0),
            0.0
        );
    }

    #[test]
    fn wide_beams_lose_a_little_free_in_air() {
        assert!((free_in_air_ratio(550.0, 20.0) - 1.0).abs() < 1e-12);
        let r = free_in_air_ratio(550.0, 200.0);
        assert!(r < 0.995 && r > 0.98, "{r}");
    }
}
