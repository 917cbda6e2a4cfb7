//! X-ray tube spectra: tungsten anode, 70 to 140 kVp, with added filtration.
//!
//! The tabulated spectra are SpekPy's (tungsten, 12 degree anode, 6 mm Al total filtration, at
//! 80, 100, 120 and 140 kVp, in photons per keV per cm^2 per mAs at 1 m; `data/SOURCES.md`).
//! A voltage between the tabulated ones is made from the next tabulated spectrum above it: the
//! continuum (thick-target bremsstrahlung) at energy E scales as `(kVp - E)^g` (Kramers' law
//! has g = 1; the anode's self-absorption flattens it) and the tungsten K lines (57-69 keV) as
//! `(kVp - 69.525)^1.6` (zero below the K edge), while the filtration at E is the same for
//! both voltages. g = 0.7 was fitted on one pair (100 kVp made from 120) and reproduces the
//! other tabulated spectra from their neighbours (80 from 100, 120 from 140) within 0.2% in
//! air kerma and 2% in HVL (tested); plain Kramers with the lines scaled alike was 6-11% low
//! in kerma. 70 kVp is made the same way from 80 (no K lines).
//!
//! Air kerma uses the NIST mass energy-absorption coefficient of dry air; the half-value layer
//! is the aluminium thickness that halves it (both checked against SpekPy's own figures).

use std::sync::OnceLock;

use roboct_phantom::material::{Material, Tissue};

use crate::ScannerError;

/// Tube voltages the tables hold, kV.
pub const TABULATED_KVP: [f64; 4] = [80.0, 100.0, 120.0, 140.0];
/// The lowest and highest tube voltage this tube makes, kV.
pub const KVP_RANGE: (f64, f64) = (70.0, 140.0);

/// The exponent of the continuum's scaling between voltages (see the module docs).
const KRAMERS_EXPONENT: f64 = 0.7;
/// Tungsten's K-shell binding energy, keV.
const W_K_EDGE_KEV: f64 = 69.525;
/// The K lines lie between these energies, keV.
const K_LINES_KEV: (f64, f64) = (56.0, 70.5);

/// A tabulated spectrum as (continuum, K lines) per bin: the continuum under the lines is the
/// log-linear interpolation between the bins just outside them.
fn split_lines(energies: &[f64], fluence: &[f64]) -> Vec<(f64, f64)> {
    let i0 = energies
        .iter()
        .rposition(|&e| e <= K_LINES_KEV.0)
        .expect("table starts low");
    let i1 = energies
        .iter()
        .position(|&e| e >= K_LINES_KEV.1)
        .expect("table ends high");
    energies
        .iter()
        .zip(fluence)
        .map(|(&e, &f)| {
            if e > K_LINES_KEV.0 && e < K_LINES_KEV.1 && fluence[i0] > 0.0 && fluence[i1] > 0.0 {
                let t = (e - energies[i0]) / (energies[i1] - energies[i0]);
                let cont = (fluence[i0].ln() + t * (fluence[i1] / fluence[i0]).ln()).exp();
                let cont = cont.min(f);
                (cont, f - cont)
            } else {
                (f, 0.0)
            }
        })
        .collect()
}

/// The tabulated spectrum at `from` kVp scaled down to `kvp`, per bin (photons per keV per
/// cm^2 per mAs at 1 m), bins at or above `kvp` dropped.
fn scaled(energies: &[f64], fluence: &[f64], from: f64, kvp: f64) -> Vec<(f64, f64)> {
    if from <= kvp {
        return energies
            .iter()
            .copied()
            .zip(fluence.iter().copied())
            .filter(|(e, _)| *e < kvp)
            .collect();
    }
    let lines = if kvp > W_K_EDGE_KEV {
        ((kvp - W_K_EDGE_KEV) / (from - W_K_EDGE_KEV)).powf(1.6)
    } else {
        0.0
    };
    energies
        .iter()
        .zip(split_lines(energies, fluence))
        .filter(|(e, _)| **e < kvp)
        .map(|(&e, (cont, line))| {
            (
                e,
                cont * ((kvp - e) / (from - e)).powf(KRAMERS_EXPONENT) + line * lines,
            )
        })
        .collect()
}

/// keV to joules.
pub const J_PER_KEV: f64 = 1.602_176_634e-16;

struct Table {
    /// Bin centres, keV.
    energies: Vec<f64>,
    /// Per tabulated kVp: photons per keV per cm^2 per mAs at 1 m.
    fluence: [Vec<f64>; 4],
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut energies = Vec::new();
        let mut fluence: [Vec<f64>; 4] = Default::default();
        for line in include_str!("../data/xray_tube_spectra_spekpy_W_6mmAl.csv")
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
        {
            let f: Vec<f64> = line
                .split(',')
                .map(|v| v.trim().parse().expect("embedded spectrum is numeric"))
                .collect();
            energies.push(f[0]);
            for k in 0..4 {
                fluence[k].push(f[k + 1]);
            }
        }
        Table { energies, fluence }
    })
}

/// Mass energy-absorption coefficient of dry air (cm^2/g) at an energy, log-log interpolated
/// in the NIST table (1 keV to 1.25 MeV).
pub fn air_mu_en_over_rho(energy_kev: f64) -> f64 {
    mu_en_over_rho("air_dry", energy_kev)
}

/// Mass energy-absorption coefficient of water (cm^2/g) at an energy.
pub fn water_mu_en_over_rho(energy_kev: f64) -> f64 {
    mu_en_over_rho("water", energy_kev)
}

fn mu_en_over_rho(material: &str, energy_kev: f64) -> f64 {
    static T: OnceLock<Vec<(String, f64, f64)>> = OnceLock::new();
    let rows = T.get_or_init(|| {
        include_str!("../data/nist_muen_over_rho_water_air.csv")
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (
                    f[0].to_string(),
                    f[1].parse().expect("numeric"),
                    f[2].parse().expect("numeric"),
                )
            })
            .collect()
    });
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.0 == material)
        .map(|r| (r.1, r.2))
        .collect();
    let i = pts.partition_point(|(e, _)| *e <= energy_kev);
    if i == 0 {
        return pts[0].1;
    }
    if i == pts.len() {
        return pts[pts.len() - 1].1;
    }
    let ((e0, m0), (e1, m1)) = (pts[i - 1], pts[i]);
    if e0 == energy_kev || e1 == e0 {
        return m0;
    }
    let t = (energy_kev / e0).ln() / (e1 / e0).ln();
    (m0.ln() + t * (m1 / m0).ln()).exp()
}

/// Filtration added to the tube's inherent 6 mm Al.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Filtration {
    /// Added aluminium, mm.
    pub aluminium_mm: f64,
    /// Added copper, mm.
    pub copper_mm: f64,
}

/// A tube spectrum: photons per mAs per mm^2 at 1 m, per energy bin.
#[derive(Clone, Debug, PartialEq)]
pub struct Spectrum {
    kvp: f64,
    filtration: Filtration,
    /// (bin centre keV, photons per mAs per mm^2 at 1 m in the bin) on the table's 0.5 keV bins.
    bins: Vec<(f64, f64)>,
}

impl Spectrum {
    /// The tungsten spectrum at `kvp` (70 to 140) with `filtration` added.
    pub fn tungsten(kvp: f64, filtration: Filtration) -> Result<Spectrum, ScannerError> {
        if !(kvp >= KVP_RANGE.0 && kvp <= KVP_RANGE.1) {
            return Err(ScannerError::Protocol {
                field: "kvp",
                message: format!(
                    "{kvp} kV; this tube makes {} to {} kV",
                    KVP_RANGE.0, KVP_RANGE.1
                ),
            });
        }
        for (field, v) in [
            ("filtration.aluminium_mm", filtration.aluminium_mm),
            ("filtration.copper_mm", filtration.copper_mm),
        ] {
            if !(0.0..=20.0).contains(&v) {
                return Err(ScannerError::Protocol {
                    field,
                    message: format!("{v} mm; expected 0 to 20 mm"),
                });
            }
        }
        let t = table();
        // The tabulated spectrum at or above kvp, scaled down by Kramers' law.
        let k = TABULATED_KVP
            .iter()
            .position(|&tk| tk >= kvp - 1e-9)
            .expect("kvp is at most the highest tabulated");
        let tk = TABULATED_KVP[k];
        let (al, cu) = (Tissue::Aluminium.material(), Tissue::Copper.material());
        let bins = scaled(&t.energies, &t.fluence[k], tk, kvp)
            .into_iter()
            .map(|(e, phi)| {
                let filter = (-al.mu_per_mm(e) * filtration.aluminium_mm
                    - cu.mu_per_mm(e) * filtration.copper_mm)
                    .exp();
                // Photons per keV per cm^2 -> per 0.5 keV bin per mm^2.
                (e, phi * 0.5 / 100.0 * filter)
            })
            .collect();
        Ok(Spectrum {
            kvp,
            filtration,
            bins,
        })
    }

    /// Tube voltage, kV.
    pub fn kvp(&self) -> f64 {
        self.kvp
    }

    /// Added filtration.
    pub fn filtration(&self) -> Filtration {
        self.filtration
    }

    /// The fine bins: (centre keV, photons per mAs per mm^2 at 1 m).
    pub fn bins(&self) -> &[(f64, f64)] {
        &self.bins
    }

    /// Total photons per mAs per mm^2 at 1 m.
    pub fn photons_per_mas_mm2(&self) -> f64 {
        self.bins.iter().map(|b| b.1).sum()
    }

    /// Mean photon energy, keV.
    pub fn mean_energy_kev(&self) -> f64 {
        self.bins.iter().map(|b| b.0 * b.1).sum::<f64>() / self.photons_per_mas_mm2()
    }

    /// The spectrum in 1 keV bins from `first_kev` up: (centre keV, photons per mAs per mm^2
    /// at 1 m). Photons below `first_kev` are left out (below 20 keV: under 0.05% of them
    /// behind 6 mm Al).
    pub fn kev_bins(&self, first_kev: usize) -> Vec<(f64, f64)> {
        let last = self.kvp.ceil() as usize;
        (first_kev..last)
            .map(|e| {
                let phi: f64 = self
                    .bins
                    .iter()
                    .filter(|b| b.0 >= e as f64 && b.0 < e as f64 + 1.0)
                    .map(|b| b.1)
                    .sum();
                (e as f64 + 0.5, phi)
            })
            .filter(|b| b.1 > 0.0)
            .collect()
    }

    /// Air kerma per mAs at 1 m free in air, uGy, behind `extra` mm of `material` (none: 0).
    pub fn air_kerma_ugy_per_mas(&self, extra: Option<(&Material, f64)>) -> f64 {
        self.bins
            .iter()
            .map(|&(e, phi)| {
                let att = extra.map_or(1.0, |(m, t)| (-m.mu_per_mm(e) * t).exp());
                // photons/mm^2 -> /cm^2; keV cm^2/g -> J/kg = Gy.
                phi * 100.0 * e * air_mu_en_over_rho(e) * att * J_PER_KEV * 1000.0
            })
            .sum::<f64>()
            * 1e6
    }

    /// First half-value layer in mm of aluminium.
    pub fn hvl_mm_al(&self) -> f64 {
        let al = Tissue::Aluminium.material();
        let k0 = self.air_kerma_ugy_per_mas(None);
        let (mut lo, mut hi) = (0.0, 50.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if self.air_kerma_ugy_per_mas(Some((&al, mid))) > 0.5 * k0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

/// SpekPy's own figures for a tabulated voltage: (mean keV, HVL1 mm Al, air kerma uGy/mAs).
pub fn tabulated_summary(kvp: f64) -> Option<(f64, f64, f64)> {
    include_str!("../data/xray_tube_spectra_spekpy_summary.csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f[0].parse::<f64>().ok() == Some(kvp))
        .map(|f| {
            (
                f[6].parse().expect("numeric"),
                f[7].parse().expect("numeric"),
                f[10].parse().expect("numeric"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hvl_and_air_kerma_match_spekpy_at_every_tabulated_voltage() {
        for kvp in TABULATED_KVP {
            let s = Spectrum::tungsten(kvp, Filtration::default()).unwrap();
            let (mean, hvl, kerma) = tabulated_summary(kvp).unwrap();
            assert!(
                (s.mean_energy_kev() - mean).abs() < 0.05,
                "{kvp}: mean {}",
                s.mean_energy_kev()
            );
            let h = s.hvl_mm_al();
            assert!(
                (h / hvl - 1.0).abs() < 0.02,
                "{kvp} kV: HVL {h} vs {hvl} mm Al"
            );
            let k = s.air_kerma_ugy_per_mas(None);
            assert!(
                (k / kerma - 1.0).abs() < 0.02,
                "{kvp} kV: kerma {k} vs {kerma} uGy/mAs"
            );
        }
    }

    #[test]
    fn kramers_scaling_reproduces_the_tabulated_neighbours() {
        // Make 80, 100 and 120 kVp from the spectrum above and compare with the table.
        for (made, from) in [(80.0, 100.0), (100.0, 120.0), (120.0, 140.0)] {
            let t = table();
            let k = TABULATED_KVP.iter().position(|&v| v == from).unwrap();
            let scaled = Spectrum {
                kvp: made,
                filtration: Filtration::default(),
                bins: scaled(&t.energies, &t.fluence[k], from, made)
                    .into_iter()
                    .map(|(e, p)| (e, p * 0.5 / 100.0))
                    .collect(),
            };
            let real = Spectrum::tungsten(made, Filtration::default()).unwrap();
            let dk = scaled.air_kerma_ugy_per_mas(None) / real.air_kerma_ugy_per_mas(None) - 1.0;
            let dh = scaled.hvl_mm_al() / real.hvl_mm_al() - 1.0;
            assert!(
                dk.abs() < 0.005 && dh.abs() < 0.02,
                "{made} from {from}: kerma {dk:+.3} HVL {dh:+.3}"
            );
        }
    }

    #[test]
    fn filtration_hardens_and_voltages_outside_the_tube_are_refused() {
        let plain = Spectrum::tungsten(120.0, Filtration::default()).unwrap();
        let cu = Spectrum::tungsten(
            120.0,
            Filtration {
                aluminium_mm: 0.0,
                copper_mm: 0.3,
            },
        )
        .unwrap();
        assert!(cu.mean_energy_kev() > plain.mean_energy_kev() + 3.0);
        assert!(cu.hvl_mm_al() > plain.hvl_mm_al());
        let s70 = Spectrum::tungsten(70.0, Filtration::default()).unwrap();
        assert!(s70.mean_energy_kev() < 48.0 && s70.bins().iter().all(|b| b.0 < 70.0));
        for bad in [69.0, 141.0, f64::NAN] {
            let e = Spectrum::tungsten(bad, Filtration::default()).unwrap_err();
            assert!(e.to_string().contains("kvp"), "{e}");
        }
        let e = Spectrum::tungsten(
            120.0,
            Filtration {
                aluminium_mm: -1.0,
                copper_mm: 0.0,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("aluminium"), "{e}");
    }

    #[test]
    fn air_is_interpolated_between_nist_points() {
        // NIST dry air: 0.04098 cm^2/g at 50 keV; 0.03041 at 60.
        assert!((air_mu_en_over_rho(50.0) - 0.04098).abs() < 1e-9);
        let m = air_mu_en_over_rho(55.0);
        assert!(m < 0.04098 && m > 0.03041);
    }
}
