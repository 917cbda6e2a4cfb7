//! What patients are made of: materials with their energy-dependent attenuation.
//!
//! A [`Material`] is a density and an elemental composition; its mass attenuation at any
//! energy from 1 keV to 1 MeV follows from the NIST element table by the mixture rule
//! (`mu/rho = sum_i w_i (mu/rho)_i`), interpolated log-log between the table's energies, as
//! XCOM does. The tables are NIST XCOM / Hubbell & Seltzer (coherent scattering included) and
//! the ICRU-44 / ICRP compositions, embedded from `data/physics` (see `data/SOURCES.md`); the
//! tissue curves agree with the published derived table to 0.1% (tests below).
//!
//! CT numbers are defined at one reference energy, [`HU_REFERENCE_KEV`] = 70 keV
//! (`HU = 1000 (mu - mu_water) / (mu_water - mu_air)`), so that a phantom's truth in HU is a
//! fixed property of its materials. A real scanner measures at its effective energy; after
//! the water beam-hardening correction, soft tissues reconstruct close to their 70 keV values.
//!
//! For fast polychromatic simulation every material is also written as a combination of two
//! basis materials, water and cortical bone ([`Material::basis`]): photoelectric absorption and
//! Compton scattering, the only two processes that matter between 20 and 150 keV for elements
//! up to calcium, make every such material's curve a combination of two (Alvarez & Macovski,
//! Phys. Med. Biol. 1976). The fit is within 1% from 30 to 140 keV for every tissue here
//! (tested); a material with a K-edge in the range (iodine) is not representable and is
//! refused by [`Material::basis`].

use std::sync::OnceLock;

use crate::PhantomError;

/// The energy at which CT numbers (HU) are defined, keV.
pub const HU_REFERENCE_KEV: f64 = 70.0;

/// First energy of the 1 keV tables, keV.
pub const TABLE_FIRST_KEV: usize = 20;
/// Last energy of the 1 keV tables, keV.
pub const TABLE_LAST_KEV: usize = 150;

/// Energies below 20 keV carry under 0.05% of the photons of a tungsten spectrum behind
/// 6 mm Al (and are absorbed in the first centimetre of tissue), so the 1 keV tables start
/// there.
const TABLE_LEN: usize = TABLE_LAST_KEV - TABLE_FIRST_KEV + 1;

/// The NIST element table: per element, (energy keV, mu/rho cm^2/g) in file order (energies
/// ascending, an absorption edge listed twice: below and above).
struct Elements {
    by_z: Vec<(u8, Vec<(f64, f64)>)>,
}

fn elements() -> &'static Elements {
    static TABLE: OnceLock<Elements> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut by_z: Vec<(u8, Vec<(f64, f64)>)> = Vec::new();
        for line in include_str!("../data/physics/nist_elements_mu_over_rho.csv")
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
        {
            let f: Vec<&str> = line.split(',').collect();
            let z: u8 = f[0].trim().parse().expect("embedded table: Z");
            let e: f64 = f[2].trim().parse().expect("embedded table: energy");
            let mu: f64 = f[3].trim().parse().expect("embedded table: mu/rho");
            match by_z.iter_mut().find(|(zz, _)| *zz == z) {
                Some((_, v)) => v.push((e, mu)),
                None => by_z.push((z, vec![(e, mu)])),
            }
        }
        Elements { by_z }
    })
}

/// The atomic numbers the element table holds.
pub fn known_elements() -> Vec<u8> {
    elements().by_z.iter().map(|(z, _)| *z).collect()
}

/// Mass attenuation coefficient (cm^2/g, coherent scattering included) of element `z` at
/// `energy_kev`, log-log interpolated; `None` for an element not in the table or an energy
/// outside it. At an absorption edge's energy the value above the edge is returned.
pub fn element_mu_over_rho(z: u8, energy_kev: f64) -> Option<f64> {
    let (_, table) = elements().by_z.iter().find(|(zz, _)| *zz == z)?;
    let (first, last) = (table.first()?.0, table.last()?.0);
    if !(energy_kev >= first && energy_kev <= last) {
        return None;
    }
    // The last entry at or below the energy (above-edge value at an edge), and the next one.
    let i = table
        .partition_point(|(e, _)| *e <= energy_kev)
        .saturating_sub(1);
    let (e0, m0) = table[i];
    if e0 == energy_kev || i + 1 == table.len() {
        return Some(m0);
    }
    let (e1, m1) = table[i + 1];
    let t = (energy_kev / e0).ln() / (e1 / e0).ln();
    Some((m0.ln() + t * (m1 / m0).ln()).exp())
}

/// The named tissues and reference materials whose compositions are embedded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tissue {
    /// Dry air near sea level.
    Air,
    /// Liquid water, 1.0 g/cm^3.
    Water,
    /// ICRP soft tissue.
    SoftTissue,
    /// ICRU-44 skeletal muscle.
    Muscle,
    /// ICRU-44 adipose tissue.
    Adipose,
    /// ICRU-44 whole blood.
    Blood,
    /// ICRU-44 grey and white matter.
    Brain,
    /// ICRU-44 lung tissue (the tissue's density; inflated lung is [`Material::with_density`]).
    Lung,
    /// ICRU-44 cortical bone.
    CorticalBone,
    /// Aluminium (filters, HVL).
    Aluminium,
    /// Copper (filters).
    Copper,
    /// Iodine.
    Iodine,
    /// Tungsten.
    Tungsten,
}

impl Tissue {
    /// Every tissue, in table order.
    pub const ALL: [Tissue; 13] = [
        Tissue::Air,
        Tissue::Water,
        Tissue::SoftTissue,
        Tissue::Muscle,
        Tissue::Adipose,
        Tissue::Blood,
        Tissue::Brain,
        Tissue::Lung,
        Tissue::CorticalBone,
        Tissue::Aluminium,
        Tissue::Copper,
        Tissue::Iodine,
        Tissue::Tungsten,
    ];

    /// The name in `data/physics/materials_composition.csv`.
    pub fn table_name(self) -> &'static str {
        match self {
            Tissue::Air => "air_dry",
            Tissue::Water => "water_liquid",
            Tissue::SoftTissue => "tissue_soft_icrp",
            Tissue::Muscle => "muscle_skeletal_icru44",
            Tissue::Adipose => "adipose_icru44",
            Tissue::Blood => "blood_whole_icru44",
            Tissue::Brain => "brain_grey_white_icru44",
            Tissue::Lung => "lung_icru44",
            Tissue::CorticalBone => "bone_cortical_icru44",
            Tissue::Aluminium => "aluminium",
            Tissue::Copper => "copper",
            Tissue::Iodine => "iodine",
            Tissue::Tungsten => "tungsten",
        }
    }

    /// The tissue as a material at its tabulated density.
    pub fn material(self) -> Material {
        static ALL: OnceLock<Vec<Material>> = OnceLock::new();
        let all = ALL.get_or_init(|| {
            Tissue::ALL
                .iter()
                .map(|t| {
                    let mut density = 0.0;
                    let mut composition = Vec::new();
                    for line in include_str!("../data/physics/materials_composition.csv")
                        .lines()
                        .skip(1)
                    {
                        let f: Vec<&str> = line.split(',').collect();
                        if f[0] == t.table_name() {
                            density = f[1].parse().expect("embedded table: density");
                            composition.push((
                                f[2].parse().expect("embedded table: Z"),
                                f[3].parse().expect("embedded table: fraction"),
                            ));
                        }
                    }
                    Material::from_composition(t.table_name(), density, &composition)
                        .expect("embedded compositions use tabulated elements")
                })
                .collect()
        });
        all[Tissue::ALL.iter().position(|x| *x == self).expect("in ALL")].clone()
    }
}

/// A material: a density and an elemental composition, with its attenuation tabulated from
/// 20 to 150 keV in 1 keV steps (and computed exactly at any other energy).
#[derive(Clone, Debug, PartialEq)]
pub struct Material {
    name: String,
    density_g_cm3: f64,
    /// (Z, mass fraction), fractions summing to 1.
    composition: Vec<(u8, f64)>,
    /// mu/rho in cm^2/g at 20, 21, ... 150 keV.
    mu_over_rho: Vec<f64>,
}

impl Material {
    /// A material from its density (g/cm^3) and elemental mass fractions (normalised to sum
    /// to 1). Every element must be in the NIST table ([`known_elements`]).
    pub fn from_composition(
        name: &str,
        density_g_cm3: f64,
        composition: &[(u8, f64)],
    ) -> Result<Material, PhantomError> {
        let invalid = |message: String| PhantomError::Invalid {
            path: std::path::PathBuf::from(format!("<material {name}>")),
            message,
        };
        if !(density_g_cm3 > 0.0 && density_g_cm3 < 30.0) {
            return Err(invalid(format!(
                "density {density_g_cm3} g/cm^3; expected more than 0 and less than 30"
            )));
        }
        if composition.is_empty() {
            return Err(invalid("no elements".into()));
        }
        let total: f64 = composition.iter().map(|(_, w)| w).sum();
        if let Some((z, w)) = composition
            .iter()
            .find(|(_, w)| !(*w >= 0.0 && w.is_finite()))
        {
            return Err(invalid(format!(
                "element Z={z} has mass fraction {w}; expected a fraction >= 0"
            )));
        }
        if !(total > 0.0) {
            return Err(invalid("mass fractions sum to 0".into()));
        }
        let known = known_elements();
        if let Some((z, _)) = composition.iter().find(|(z, _)| !known.contains(z)) {
            return Err(invalid(format!(
                "element Z={z} is not in the NIST table here (known: {known:?})"
            )));
        }
        let composition: Vec<(u8, f64)> =
            composition.iter().map(|&(z, w)| (z, w / total)).collect();
        let mu_over_rho = (0..TABLE_LEN)
            .map(|i| mixture(&composition, (TABLE_FIRST_KEV + i) as f64))
            .collect();
        Ok(Material {
            name: name.to_string(),
            density_g_cm3,
            composition,
            mu_over_rho,
        })
    }

    /// The material's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Density in g/cm^3.
    pub fn density_g_cm3(&self) -> f64 {
        self.density_g_cm3
    }

    /// Elemental mass fractions.
    pub fn composition(&self) -> &[(u8, f64)] {
        &self.composition
    }

    /// The same composition at another density (inflated lung, clotted blood, thinner bone).
    pub fn with_density(mut self, density_g_cm3: f64, name: &str) -> Material {
        self.density_g_cm3 = density_g_cm3;
        self.name = name.to_string();
        self
    }

    /// The same composition at the density that gives `hu` at [`HU_REFERENCE_KEV`] (CT
    /// numbers are linear in density for a fixed composition).
    pub fn with_hu(self, hu: f64, name: &str) -> Result<Material, PhantomError> {
        let water = reference_mu_per_mm(Tissue::Water);
        let air = reference_mu_per_mm(Tissue::Air);
        let target = water + hu / 1000.0 * (water - air);
        let per_density = self.mu_per_mm(HU_REFERENCE_KEV) / self.density_g_cm3;
        let density = target / per_density;
        if !(density > 0.0) {
            return Err(PhantomError::Invalid {
                path: std::path::PathBuf::from(format!("<material {name}>")),
                message: format!("{hu} HU is below air for {}", self.name),
            });
        }
        Ok(self.with_density(density, name))
    }

    /// Mass attenuation coefficient (cm^2/g) at an energy (exact mixture rule, any energy the
    /// NIST table covers; 0 outside it).
    pub fn mu_over_rho(&self, energy_kev: f64) -> f64 {
        let k = energy_kev.round();
        if k == energy_kev && (TABLE_FIRST_KEV as f64..=TABLE_LAST_KEV as f64).contains(&k) {
            return self.mu_over_rho[k as usize - TABLE_FIRST_KEV];
        }
        mixture(&self.composition, energy_kev)
    }

    /// Linear attenuation coefficient in 1/mm at an energy.
    pub fn mu_per_mm(&self, energy_kev: f64) -> f64 {
        self.mu_over_rho(energy_kev) * self.density_g_cm3 / 10.0
    }

    /// The CT number at [`HU_REFERENCE_KEV`].
    pub fn hu(&self) -> f64 {
        let water = reference_mu_per_mm(Tissue::Water);
        let air = reference_mu_per_mm(Tissue::Air);
        1000.0 * (self.mu_per_mm(HU_REFERENCE_KEV) - water) / (water - air)
    }

    /// The material as `a` mm of water plus `b` mm of cortical bone per mm, `[a, b]`:
    /// `mu(E) ~ a mu_water(E) + b mu_bone(E)`, fitted in relative terms from 30 to 140 keV.
    /// Refused (with the worst relative error) when the fit is worse than 2% anywhere in that
    /// range, as for a material with a K-edge there.
    pub fn basis(&self) -> Result<[f64; 2], PhantomError> {
        let w = Tissue::Water.material();
        let b = Tissue::CorticalBone.material();
        // Least squares on the relative residual (mu - a w - b c) / mu.
        let (mut s_ww, mut s_wb, mut s_bb, mut s_wy, mut s_by) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let energies = 30..=140usize;
        for e in energies.clone() {
            let e = e as f64;
            let y = self.mu_per_mm(e);
            if y <= 0.0 {
                continue;
            }
            let (xw, xb) = (w.mu_per_mm(e) / y, b.mu_per_mm(e) / y);
            s_ww += xw * xw;
            s_wb += xw * xb;
            s_bb += xb * xb;
            s_wy += xw;
            s_by += xb;
        }
        let det = s_ww * s_bb - s_wb * s_wb;
        let a = (s_wy * s_bb - s_by * s_wb) / det;
        let c = (s_ww * s_by - s_wb * s_wy) / det;
        let worst = energies
            .map(|e| {
                let e = e as f64;
                let y = self.mu_per_mm(e);
                ((a * w.mu_per_mm(e) + c * b.mu_per_mm(e)) / y - 1.0).abs()
            })
            .fold(0.0, f64::max);
        if !(worst <= 0.02) {
            return Err(PhantomError::Invalid {
                path: std::path::PathBuf::from(format!("<material {}>", self.name)),
                message: format!(
                    "cannot be written as water plus bone (worst error {:.1}% between 30 and \
                     140 keV): an element with an absorption edge in the CT range?",
                    100.0 * worst
                ),
            });
        }
        Ok([a, c])
    }
}

/// mu/rho of a normalised composition at an energy (0 where the table has no value).
fn mixture(composition: &[(u8, f64)], energy_kev: f64) -> f64 {
    composition
        .iter()
        .map(|&(z, w)| w * element_mu_over_rho(z, energy_kev).unwrap_or(0.0))
        .sum()
}

/// mu (1/mm) at the HU reference energy of water or air, computed once.
fn reference_mu_per_mm(t: Tissue) -> f64 {
    static REF: OnceLock<(f64, f64)> = OnceLock::new();
    let (w, a) = *REF.get_or_init(|| {
        (
            Tissue::Water.material().mu_per_mm(HU_REFERENCE_KEV),
            Tissue::Air.material().mu_per_mm(HU_REFERENCE_KEV),
        )
    });
    if t == Tissue::Water { w } else { a }
}

/// Linear attenuation of water at [`HU_REFERENCE_KEV`] in 1/mm (from the tables: 0.019364).
pub fn mu_water_reference_per_mm() -> f64 {
    reference_mu_per_mm(Tissue::Water)
}

/// Linear attenuation of air at [`HU_REFERENCE_KEV`] in 1/mm.
pub fn mu_air_reference_per_mm() -> f64 {
    reference_mu_per_mm(Tissue::Air)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published derived table (linear attenuation, 1/cm, 20..150 keV).
    fn published() -> (Vec<String>, Vec<Vec<f64>>) {
        let text = include_str!("../data/physics/linear_attenuation_20-150keV.csv");
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .unwrap()
            .split(',')
            .map(|s| s.trim_end_matches("_per_cm").to_string())
            .collect();
        let rows = lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect();
        (header, rows)
    }

    #[test]
    fn every_tissue_matches_the_published_attenuation_table() {
        let (header, rows) = published();
        for t in Tissue::ALL {
            let col = header
                .iter()
                .position(|h| h == t.table_name())
                .unwrap_or_else(|| panic!("{} not in table", t.table_name()));
            let m = t.material();
            for row in &rows {
                let e = row[0];
                let ours = m.mu_per_mm(e) * 10.0;
                let rel = (ours - row[col]).abs() / row[col];
                assert!(
                    rel < 2e-3,
                    "{} at {e} keV: {ours} vs {}",
                    t.table_name(),
                    row[col]
                );
            }
        }
    }

    #[test]
    fn water_at_60_kev_is_nist() {
        // NIST XCOM water: 0.2059 cm^2/g at 60 keV.
        let w = Tissue::Water.material();
        assert!(
            (w.mu_over_rho(60.0) - 0.2059).abs() < 5e-4,
            "{}",
            w.mu_over_rho(60.0)
        );
        assert!((mu_water_reference_per_mm() - 0.019364).abs() < 2e-5);
    }

    #[test]
    fn ct_numbers_match_the_published_table_at_70_kev() {
        // shared/reference: blood 56.1, brain 37.8, muscle 42.9, adipose -78.5, bone 1579.6.
        for (t, hu) in [
            (Tissue::Blood, 56.1),
            (Tissue::Brain, 37.8),
            (Tissue::Muscle, 42.9),
            (Tissue::Adipose, -78.5),
            (Tissue::CorticalBone, 1579.6),
            (Tissue::Water, 0.0),
            (Tissue::Air, -1000.0),
        ] {
            let ours = t.material().hu();
            assert!((ours - hu).abs() < 0.5, "{t:?}: {ours} vs {hu}");
        }
    }

    #[test]
    fn with_hu_sets_the_density_that_gives_the_ct_number() {
        let m = Tissue::Blood.material().with_hu(75.0, "clot").unwrap();
        assert!((m.hu() - 75.0).abs() < 1e-9);
        assert!(m.density_g_cm3() > Tissue::Blood.material().density_g_cm3());
        assert!(Tissue::Brain.material().with_hu(-2000.0, "x").is_err());
    }

    #[test]
    fn iodine_k_edge_is_kept() {
        // 33 keV: 6.64, 34 keV: 33.6 cm^2/g (shared/reference).
        let i = Tissue::Iodine.material();
        assert!((i.mu_over_rho(33.0) - 6.64).abs() < 0.05);
        assert!((i.mu_over_rho(34.0) - 33.6).abs() < 0.3);
        assert!(i.basis().is_err(), "iodine's K-edge is not water + bone");
    }

    #[test]
    fn tissues_are_water_plus_bone_within_one_percent() {
        for t in [
            Tissue::Air,
            Tissue::SoftTissue,
            Tissue::Muscle,
            Tissue::Adipose,
            Tissue::Blood,
            Tissue::Brain,
            Tissue::Lung,
        ] {
            let m = t.material();
            let [a, b] = m.basis().unwrap();
            let (w, c) = (Tissue::Water.material(), Tissue::CorticalBone.material());
            for e in 30..=140 {
                let e = e as f64;
                let fit = a * w.mu_per_mm(e) + b * c.mu_per_mm(e);
                let rel = (fit / m.mu_per_mm(e) - 1.0).abs();
                assert!(rel < 0.01, "{t:?} at {e} keV: {:.3}%", 100.0 * rel);
            }
        }
        // The basis materials are themselves.
        let [a, b] = Tissue::Water.material().basis().unwrap();
        assert!((a - 1.0).abs() < 1e-9 && b.abs() < 1e-9);
        let [a, b] = Tissue::CorticalBone.material().basis().unwrap();
        assert!(a.abs() < 1e-9 && (b - 1.0).abs() < 1e-9);
    }

    #[test]
    fn bad_compositions_are_refused_with_the_reason() {
        let e = Material::from_composition("x", 1.0, &[(92, 1.0)]).unwrap_err();
        assert!(e.to_string().contains("Z=92"), "{e}");
        let e = Material::from_composition("x", -1.0, &[(1, 1.0)]).unwrap_err();
        assert!(e.to_string().contains("density"), "{e}");
        let e = Material::from_composition("x", 1.0, &[(1, f64::NAN)]).unwrap_err();
        assert!(e.to_string().contains("fraction"), "{e}");
        assert!(Material::from_composition("x", 1.0, &[]).is_err());
        // Hydroxyapatite Ca10(PO4)6(OH)2 from its elements.
        let ha = Material::from_composition(
            "hydroxyapatite",
            3.16,
            &[(1, 0.002), (8, 0.414), (15, 0.185), (20, 0.399)],
        )
        .unwrap();
        assert!(ha.hu() > 3000.0, "{}", ha.hu());
    }
}
