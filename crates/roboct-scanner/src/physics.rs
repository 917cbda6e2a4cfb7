//! The physics of one detector reading: what an energy-integrating detector measures behind
//! a given amount of water and bone, its noise, and the water beam-hardening correction.
//!
//! A pixel behind `w` mm of water and `b` mm of bone (the patient's basis-material line
//! integrals, `roboct_phantom::material::Material::basis`) receives, per energy bin, `N(E)
//! exp(-w mu_w(E) - b mu_b(E))` photons; the scintillator absorbs a fraction `eta(E)` of them
//! and each absorbed photon adds its energy to the signal (an energy-integrating detector), so
//! the mean signal is `sum N eta E exp(..)` and, the counts being Poisson, its variance `sum N
//! eta E^2 exp(..)` (compound Poisson, Whiting et al., Med. Phys. 2006) plus the electronics'
//! Gaussian noise. Both are tabulated once per spectrum on a 1 mm grid of `(w, b)` and
//! interpolated (the logarithms are smooth: interpolation error below 1e-5).
//!
//! The scintillator is 1.5 mm of CsI (CT-grade: about 99% of 60 keV photons, 73% at 100), modelled with iodine's attenuation at CsI's density
//! (4.51 g/cm^3): caesium (Z = 55) is not in the NIST table here and differs from iodine
//! (Z = 53) only between their K-edges (33.2 and 36.0 keV).
//!
//! Water beam-hardening correction (the precorrection every CT scanner applies): the measured
//! `-ln(S / S0)` of a water-only path is mapped back to the water thickness that gives it, then
//! times water's attenuation at [`roboct_phantom::material::HU_REFERENCE_KEV`], so water reads
//! 0 HU at every depth; bone keeps the residual hardening a real scanner shows.

use roboct_phantom::material::{HU_REFERENCE_KEV, Material, Tissue, mu_water_reference_per_mm};

use crate::spectrum::Spectrum;

/// The detector's scintillator and electronics.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DetectorModel {
    /// CsI thickness, mm.
    pub csi_mm: f64,
    /// Electronic noise per reading, in quanta of the spectrum's mean detected energy
    /// (standard deviation).
    pub electronic_noise_quanta: f64,
}

impl Default for DetectorModel {
    fn default() -> Self {
        Self {
            csi_mm: 1.5,
            electronic_noise_quanta: 8.0,
        }
    }
}

impl DetectorModel {
    /// The fraction of photons of energy `e_kev` the scintillator absorbs.
    pub fn quantum_efficiency(&self, e_kev: f64) -> f64 {
        let csi = csi();
        1.0 - (-csi.mu_per_mm(e_kev) * self.csi_mm).exp()
    }
}

fn csi() -> &'static Material {
    static CSI: std::sync::OnceLock<Material> = std::sync::OnceLock::new();
    CSI.get_or_init(|| {
        Tissue::Iodine
            .material()
            .with_density(4.51, "CsI (as iodine)")
    })
}

/// Grid of the tables along water and bone, mm (bone's attenuation varies faster with energy:
/// a finer grid keeps the interpolation error below 1e-4).
const STEP_MM: f64 = 1.0;
const BONE_STEP_MM: f64 = 0.5;
const WATER_MAX_MM: usize = 700;
/// Bone grid points (0 to 160 mm).
const BONE_POINTS: usize = 321;

/// Tabulated detector response for one spectrum and detector.
#[derive(Clone, Debug)]
pub struct Response {
    /// ln of the mean signal per unit exposure (keV per (photon/mm^2 at 1 m units)), on the
    /// (water, bone) grid, row-major in bone.
    ln_signal: Vec<f32>,
    /// ln of the signal variance per unit exposure.
    ln_variance: Vec<f32>,
    /// Signal per unit exposure with nothing in the beam.
    open_signal: f64,
    /// Mean detected photon energy, keV.
    mean_detected_kev: f64,
    /// Polychromatic water line integral at each water thickness (the BHC table).
    water_poly: Vec<f64>,
    electronic_sigma: f64,
}

impl Response {
    /// The response of `detector` to `spectrum`, per 1 keV bin from 20 keV.
    pub fn new(spectrum: &Spectrum, detector: &DetectorModel) -> Self {
        let water = Tissue::Water.material();
        let bone = Tissue::CorticalBone.material();
        let bins: Vec<(f64, f64, f64, f64)> = spectrum
            .kev_bins(20)
            .into_iter()
            .map(|(e, phi)| {
                let q = phi * detector.quantum_efficiency(e);
                (e, q, water.mu_per_mm(e), bone.mu_per_mm(e))
            })
            .collect();
        let nw = WATER_MAX_MM + 1;
        let nb = BONE_POINTS;
        let mut ln_signal = vec![0f32; nw * nb];
        let mut ln_variance = vec![0f32; nw * nb];
        use rayon::prelude::*;
        ln_signal
            .par_chunks_mut(nb)
            .zip(ln_variance.par_chunks_mut(nb))
            .enumerate()
            .for_each(|(iw, (s_row, v_row))| {
                let w = iw as f64 * STEP_MM;
                for ib in 0..nb {
                    let b = ib as f64 * BONE_STEP_MM;
                    let (mut s, mut v) = (0.0f64, 0.0f64);
                    for &(e, q, mw, mb) in &bins {
                        let t = q * (-w * mw - b * mb).exp();
                        s += t * e;
                        v += t * e * e;
                    }
                    s_row[ib] = s.max(1e-300).ln() as f32;
                    v_row[ib] = v.max(1e-300).ln() as f32;
                }
            });
        let open_signal: f64 = bins.iter().map(|b| b.1 * b.0).sum();
        let photons: f64 = bins.iter().map(|b| b.1).sum();
        let mean_detected_kev = open_signal / photons;
        let water_poly = (0..nw)
            .map(|iw| -(ln_signal[iw * nb] as f64 - open_signal.ln()))
            .collect();
        Self {
            ln_signal,
            ln_variance,
            open_signal,
            mean_detected_kev,
            water_poly,
            electronic_sigma: detector.electronic_noise_quanta * mean_detected_kev,
        }
    }

    fn lookup(table: &[f32], w: f64, b: f64) -> f64 {
        let nb = BONE_POINTS;
        let (fw, fb) = (w.max(0.0) / STEP_MM, b.max(0.0) / BONE_STEP_MM);
        // Beyond the table the logarithm continues along its last slope.
        let iw = (fw.floor() as usize).min(WATER_MAX_MM - 1);
        let ib = (fb.floor() as usize).min(BONE_POINTS - 2);
        let (tw, tb) = (fw - iw as f64, fb - ib as f64);
        let at = |i: usize, j: usize| table[i * nb + j] as f64;
        let a = at(iw, ib) + tb * (at(iw, ib + 1) - at(iw, ib));
        let c = at(iw + 1, ib) + tb * (at(iw + 1, ib + 1) - at(iw + 1, ib));
        a + tw * (c - a)
    }

    /// Mean signal (keV) for an exposure of `photons_per_mm2_1m` (the pixel's share of the
    /// tube output: photons per mm^2 at 1 m for its solid angle) behind `w` mm water and `b`
    /// mm bone.
    pub fn mean_signal(&self, exposure: f64, w: f64, b: f64) -> f64 {
        exposure * Self::lookup(&self.ln_signal, w, b).exp()
    }

    /// Variance of the signal (keV^2), electronics included.
    pub fn variance(&self, exposure: f64, w: f64, b: f64) -> f64 {
        exposure * Self::lookup(&self.ln_variance, w, b).exp()
            + self.electronic_sigma * self.electronic_sigma
    }

    /// The signal with nothing in the beam (the flat field) for an exposure.
    pub fn open_signal(&self, exposure: f64) -> f64 {
        exposure * self.open_signal
    }

    /// Mean detected photon energy, keV.
    pub fn mean_detected_kev(&self) -> f64 {
        self.mean_detected_kev
    }

    /// Standard deviation of the electronic noise, keV.
    pub fn electronic_sigma_kev(&self) -> f64 {
        self.electronic_sigma
    }

    /// The water beam-hardening correction of a measured `-ln(S / S0)`: the water thickness
    /// that gives it times water's attenuation at the reference energy, and the derivative of
    /// that map (for the noise weights).
    pub fn water_correction(&self, p: f64) -> (f64, f64) {
        let mu_ref = mu_water_reference_per_mm();
        let t = &self.water_poly;
        if p <= 0.0 {
            // Less attenuation than air (noise): the first segment's slope.
            let slope = t[1] - t[0];
            return (mu_ref * p / slope * STEP_MM, mu_ref * STEP_MM / slope);
        }
        let i = t.partition_point(|&v| v <= p).clamp(1, t.len() - 1);
        let (p0, p1) = (t[i - 1], t[i]);
        let w = ((i - 1) as f64 + (p - p0) / (p1 - p0)) * STEP_MM;
        (mu_ref * w, mu_ref * STEP_MM / (p1 - p0))
    }

    /// The energy at which water's attenuation equals the mean attenuation of a thin water
    /// layer for this spectrum, keV (the beam's effective energy at the skin).
    pub fn effective_energy_kev(&self) -> f64 {
        let mu = self.water_poly[1] - self.water_poly[0];
        let water = Tissue::Water.material();
        let (mut lo, mut hi) = (20.0, 150.0);
        for _ in 0..50 {
            let mid = 0.5 * (lo + hi);
            if water.mu_per_mm(mid) * STEP_MM > mu {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

/// Reference energy of the corrected line integrals, keV.
pub const REFERENCE_KEV: f64 = HU_REFERENCE_KEV;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectrum::Filtration;

    fn r120() -> Response {
        Response::new(
            &Spectrum::tungsten(120.0, Filtration::default()).unwrap(),
            &DetectorModel::default(),
        )
    }

    #[test]
    fn the_table_agrees_with_the_direct_sum_between_its_points() {
        let s = Spectrum::tungsten(120.0, Filtration::default()).unwrap();
        let d = DetectorModel::default();
        let r = Response::new(&s, &d);
        let (water, bone) = (Tissue::Water.material(), Tissue::CorticalBone.material());
        for (w, b) in [(0.0, 0.0), (37.3, 2.7), (180.5, 11.2), (412.9, 33.3)] {
            let direct: f64 = s
                .kev_bins(20)
                .iter()
                .map(|&(e, phi)| {
                    phi * d.quantum_efficiency(e)
                        * e
                        * (-w * water.mu_per_mm(e) - b * bone.mu_per_mm(e)).exp()
                })
                .sum();
            let table = r.mean_signal(1.0, w, b);
            assert!(
                (table / direct - 1.0).abs() < 1e-4,
                "({w}, {b}): {table} vs {direct}"
            );
        }
    }

    #[test]
    fn water_correction_gives_water_its_reference_attenuation_at_every_depth() {
        let r = r120();
        let mu_ref = mu_water_reference_per_mm();
        for w in [5.0, 50.0, 150.0, 300.0] {
            let p = -(r.mean_signal(1.0, w, 0.0) / r.open_signal(1.0)).ln();
            // Beam hardening: the measured mean attenuation falls with depth...
            let (corrected, _) = r.water_correction(p);
            // ...and the correction restores mu_ref times the depth.
            assert!(
                (corrected / (mu_ref * w) - 1.0).abs() < 1e-3,
                "{w} mm: {corrected}"
            );
        }
        let shallow = -(r.mean_signal(1.0, 10.0, 0.0) / r.open_signal(1.0)).ln() / 10.0;
        let deep = -(r.mean_signal(1.0, 300.0, 0.0) / r.open_signal(1.0)).ln() / 300.0;
        // 120 kVp through 30 cm of water: the mean attenuation falls by several percent.
        assert!(deep < 0.95 * shallow, "no beam hardening: {shallow} {deep}");
    }

    #[test]
    fn csi_absorbs_most_of_a_ct_beam() {
        let d = DetectorModel::default();
        assert!(d.quantum_efficiency(40.0) > 0.95);
        assert!(d.quantum_efficiency(100.0) > 0.5 && d.quantum_efficiency(100.0) < 0.9);
        let r = r120();
        assert!(r.mean_detected_kev() > 50.0 && r.mean_detected_kev() < 70.0);
        let e = r.effective_energy_kev();
        assert!(e > 45.0 && e < 65.0, "{e}");
    }
}
