//! What the scanner sees: a patient as basis-material line integrals (mm of water and mm of
//! cortical bone along every ray).
//!
//! Two kinds of patient: the analytic phantoms of `roboct_phantom` (exact line integrals, no
//! discrete projector), and any volume in HU (a user's own CT), decomposed into materials
//! voxel by voxel and forward-projected with Joseph's method.

use ndarray::{Array3, Zip};
use roboct_core::Progress;
use roboct_geometry::{ScanGeometry, Volume};
use roboct_phantom::material::{Material, Tissue};
use roboct_phantom::patient::Patient;

use crate::ScannerError;

/// A patient the scanner can see.
pub trait PatientModel: Sync {
    /// `[water, bone]` basis-material line integrals in mm, `[view][row][col]`.
    fn basis_projections(
        &self,
        geometry: &ScanGeometry,
        progress: &dyn Progress,
    ) -> Result<[Array3<f32>; 2], ScannerError>;
}

/// An analytic patient projected exactly, each pixel the mean of `supersample`^2 rays over
/// its area (the detector integrates over its pixels; 2 makes edges as soft as a real
/// detector's).
pub struct AnalyticPatient<'a> {
    /// The patient.
    pub patient: &'a Patient,
    /// Rays per pixel edge.
    pub supersample: usize,
}

impl PatientModel for AnalyticPatient<'_> {
    fn basis_projections(
        &self,
        geometry: &ScanGeometry,
        progress: &dyn Progress,
    ) -> Result<[Array3<f32>; 2], ScannerError> {
        Ok(self
            .patient
            .project_basis(geometry, self.supersample, progress))
    }
}

/// The materials CT numbers are decomposed into, by increasing HU at 70 keV: each voxel is a
/// volume mixture of the two neighbours its HU lies between (Schneider et al., Phys. Med.
/// Biol. 2000, in spirit): air, adipose, water, muscle, cortical bone; above cortical bone,
/// cortical bone at the density that gives the HU.
fn anchors() -> &'static [(f64, [f64; 2])] {
    static A: std::sync::OnceLock<Vec<(f64, [f64; 2])>> = std::sync::OnceLock::new();
    A.get_or_init(|| {
        [
            Tissue::Air,
            Tissue::Adipose,
            Tissue::Water,
            Tissue::Muscle,
            Tissue::CorticalBone,
        ]
        .iter()
        .map(|t| {
            let m: Material = t.material();
            (m.hu(), m.basis().expect("tissues are water plus bone"))
        })
        .collect()
    })
}

/// The highest CT number a tissue here explains (the top of a 12-bit CT scale).
pub const MAX_TISSUE_HU: f64 = 3071.0;
/// Values below this are not attenuation (padding outside a scanner's field of view, often
/// -2048 or -3024) and are taken as air; values between it and -1000 are air with noise.
pub const PADDING_BELOW_HU: f64 = -1100.0;

/// What the decomposition did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecompositionReport {
    /// Voxels below [`PADDING_BELOW_HU`], taken as air.
    pub padding_voxels: usize,
    /// Voxels between -1100 and -1000 HU, taken as air.
    pub below_air_voxels: usize,
    /// Voxels denser than cortical bone (dense bone, teeth), up to [`MAX_TISSUE_HU`].
    pub denser_than_bone_voxels: usize,
}

/// The water and bone content (mm per mm) of a voxel of CT number `hu`; `None` above
/// [`MAX_TISSUE_HU`] or not a number.
pub fn basis_from_hu(hu: f64) -> Option<[f64; 2]> {
    if !hu.is_finite() || hu > MAX_TISSUE_HU {
        return None;
    }
    let a = anchors();
    if hu <= a[0].0 {
        return Some(a[0].1);
    }
    for pair in a.windows(2) {
        let ((h0, b0), (h1, b1)) = (pair[0], pair[1]);
        if hu <= h1 {
            let f = (hu - h0) / (h1 - h0);
            return Some([b0[0] + f * (b1[0] - b0[0]), b0[1] + f * (b1[1] - b0[1])]);
        }
    }
    // Denser than cortical bone: cortical bone compressed to match (water = 0 HU, air -1000:
    // mu scales with (HU + 1000)).
    let (hb, bb) = a[a.len() - 1];
    let s = (hu + 1000.0) / (hb + 1000.0);
    Some([bb[0] * s, bb[1] * s])
}

/// A patient given as a volume in HU, decomposed into water and bone volumes.
pub struct VoxelPatient {
    water: Volume,
    bone: Volume,
    /// What the decomposition met.
    pub report: DecompositionReport,
}

impl VoxelPatient {
    /// Decomposes `hu` (a CT volume in Hounsfield units); refuses values no tissue explains,
    /// naming the first such voxel.
    pub fn from_hu(hu: &Volume) -> Result<Self, ScannerError> {
        let mut water = Array3::<f32>::zeros(hu.data().dim());
        let mut bone = Array3::<f32>::zeros(hu.data().dim());
        let mut report = DecompositionReport::default();
        for ((idx, &v), (w, b)) in hu
            .data()
            .indexed_iter()
            .zip(water.iter_mut().zip(bone.iter_mut()))
        {
            let v = v as f64;
            let Some(basis) = basis_from_hu(v) else {
                let (k, j, i) = idx;
                return Err(ScannerError::Patient(format!(
                    "voxel (x {i}, y {j}, z {k}) holds {v} HU, which no tissue explains \
                     (expected a CT volume in HU from -1024 to {MAX_TISSUE_HU}; metal, or an \
                     image that is not in HU?)"
                )));
            };
            if v < PADDING_BELOW_HU {
                report.padding_voxels += 1;
            } else if v < -1000.0 {
                report.below_air_voxels += 1;
            } else if v > anchors()[anchors().len() - 1].0 {
                report.denser_than_bone_voxels += 1;
            }
            *w = basis[0] as f32;
            *b = basis[1] as f32;
        }
        let air = anchors()[0].1;
        // Padding outside the field of view is air, not below-air attenuation.
        Zip::from(&mut water)
            .and(&mut bone)
            .and(hu.data())
            .for_each(|w, b, &v| {
                if (v as f64) < -1000.0 {
                    *w = air[0] as f32;
                    *b = air[1] as f32;
                }
            });
        let grid = hu.grid().clone();
        Ok(Self {
            water: Volume::from_array(grid.clone(), water).expect("same shape"),
            bone: Volume::from_array(grid, bone).expect("same shape"),
            report,
        })
    }
}

impl PatientModel for VoxelPatient {
    fn basis_projections(
        &self,
        geometry: &ScanGeometry,
        progress: &dyn Progress,
    ) -> Result<[Array3<f32>; 2], ScannerError> {
        let project = |v: &Volume| {
            roboct_recon::forward_project(geometry, v, progress)
                .map_err(|e| ScannerError::Geometry(e.to_string()))
        };
        Ok([project(&self.water)?, project(&self.bone)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposition_keeps_the_ct_number() {
        let (water, bone) = (Tissue::Water.material(), Tissue::CorticalBone.material());
        let hu_of = |b: [f64; 2]| {
            let mu = b[0] * water.mu_per_mm(70.0) + b[1] * bone.mu_per_mm(70.0);
            let (mw, ma) = (
                water.mu_per_mm(70.0),
                Tissue::Air.material().mu_per_mm(70.0),
            );
            1000.0 * (mu - mw) / (mw - ma)
        };
        for hu in [
            -1000.0, -850.0, -100.0, -20.0, 0.0, 35.0, 60.0, 400.0, 1500.0, 2500.0,
        ] {
            let b = basis_from_hu(hu).unwrap();
            assert!((hu_of(b) - hu).abs() < 2.0, "{hu}: {}", hu_of(b));
        }
        assert!(basis_from_hu(5000.0).is_none());
        assert!(basis_from_hu(f64::NAN).is_none());
    }

    #[test]
    fn values_no_tissue_explains_are_refused_with_the_voxel() {
        let grid = roboct_geometry::VolumeGrid::centered([4, 3, 2], [1.0; 3], [0.0; 3]).unwrap();
        let mut data = Array3::<f32>::zeros((2, 3, 4));
        data[[1, 2, 3]] = 9000.0;
        data[[0, 0, 0]] = -3024.0;
        let e = VoxelPatient::from_hu(&Volume::from_array(grid.clone(), data.clone()).unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("x 3, y 2, z 1") && e.contains("9000"), "{e}");
        data[[1, 2, 3]] = 0.0;
        let p = VoxelPatient::from_hu(&Volume::from_array(grid, data).unwrap()).unwrap();
        assert_eq!(p.report.padding_voxels, 1);
    }
}
