//! The scout: low-dose topograms swept along z with a slit beam, and their dose.
//!
//! A pass holds the tube still at one gantry angle, collimates the beam to a slit one step
//! wide at the isocentre, and sweeps the gantry along the bore axis, reading one detector
//! line per step: a CT topogram. Along z the image is therefore a parallel projection (a row's
//! z does not depend on depth, so the vertex and the lung bases are found at their true z),
//! across it a fan from the focal spot ([`ScoutImage::ray`]). Two views: **AP** (gantry angle
//! 0, the source at -y, anterior for a supine patient, the detector under the bed) and
//! **lateral** (gantry angle 90 degrees, the source on the patient's left, +x).
//!
//! Each pass has its own [`DoseRecord`] (`kind` "scout"): the gantry angle's stationary CTDIw
//! per 100 mAs by Monte Carlo in the CTDI phantom ([`Irradiation::Stationary`]), the mAs each
//! point along z receives (the slit passes over it once), and the swept length.
//!
//! [`simulate_pass`] acquires a pass on the simulated scanner: the patient's exact basis line
//! integrals through every step's detector line, the detector response and its noise, flat
//! field, log and water beam-hardening correction (`roboct_scanner::acquire`).

use ndarray::{Array2, Axis};
use roboct_core::{CancelToken, NoProgress};
use roboct_geometry::{Detector, ScanGeometry, Source, View};
use roboct_scanner::acquire::{SimulatedDetector, SimulatedTube, XRayTube, acquire};
use roboct_scanner::dose::{Irradiation, ctdi_w_per_100mas};
use roboct_scanner::patient::PatientModel;
use roboct_scanner::physics::Response;
use roboct_scanner::{CtdiPhantom, DoseRecord, ScannerSpec, Spectrum};

use crate::PositioningError;

/// Which way a pass looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoutView {
    /// Gantry angle 0: the source at -y (anterior), the image across x.
    Ap,
    /// Gantry angle 90 degrees: the source at +x (the patient's left), the image across y.
    Lateral,
}

impl ScoutView {
    /// The gantry angle (`roboct_geometry::conventions`), rad.
    pub fn angle_rad(self) -> f64 {
        match self {
            ScoutView::Ap => 0.0,
            ScoutView::Lateral => std::f64::consts::FRAC_PI_2,
        }
    }

    /// `AP` or `lateral`.
    pub fn name(self) -> &'static str {
        match self {
            ScoutView::Ap => "AP",
            ScoutView::Lateral => "lateral",
        }
    }

    /// The transverse axis the image spans: 0 (x) for AP, 1 (y) for lateral.
    pub fn across_axis(self) -> usize {
        match self {
            ScoutView::Ap => 0,
            ScoutView::Lateral => 1,
        }
    }
}

/// The scout's technique.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoutTechnique {
    /// Tube voltage, kV.
    pub kvp: f64,
    /// Tube current-time product per mm of sweep, mAs/mm.
    pub mas_per_mm: f64,
    /// Slit width at the isocentre, which is also the step along z, mm.
    pub step_mm: f64,
    /// Sweep speed along z, mm/s.
    pub speed_mm_s: f64,
    /// Rays per pixel edge in the simulator (2: edges as soft as a real detector's).
    pub supersample: usize,
}

impl ScoutTechnique {
    /// 120 kV, 0.45 mAs per mm of sweep (45 mA at 100 mm/s), a 2 mm slit: about 1% of a
    /// standard head scan's DLP for the AP and lateral passes over 40 cm, and under 5% of
    /// a chest scan planned to the lungs.
    pub fn standard() -> Self {
        Self {
            kvp: 120.0,
            mas_per_mm: 0.45,
            step_mm: 2.0,
            speed_mm_s: 100.0,
            supersample: 2,
        }
    }

    /// Checks the technique against the scanner; the error names the field.
    pub fn validate(&self, spec: &ScannerSpec) -> Result<(), PositioningError> {
        let bad = |field: &'static str, message: String| {
            Err(PositioningError::Invalid { field, message })
        };
        if !(self.kvp >= 70.0 && self.kvp <= 140.0) {
            return bad(
                "scout.kvp",
                format!("{} kV; the tube makes 70 to 140 kV", self.kvp),
            );
        }
        if !(self.mas_per_mm > 0.0 && self.mas_per_mm <= 20.0) {
            return bad(
                "scout.mas_per_mm",
                format!(
                    "{}; expected more than 0 and at most 20 mAs/mm",
                    self.mas_per_mm
                ),
            );
        }
        if !(self.step_mm >= 0.2 && self.step_mm <= spec.max_collimation_mm()) {
            return bad(
                "scout.step_mm",
                format!(
                    "{} mm; expected 0.2 mm to the widest beam, {:.0} mm",
                    self.step_mm,
                    spec.max_collimation_mm()
                ),
            );
        }
        if !(self.speed_mm_s > 0.0 && self.speed_mm_s <= 1000.0) {
            return bad(
                "scout.speed_mm_s",
                format!("{}; expected (0, 1000] mm/s", self.speed_mm_s),
            );
        }
        if self.supersample == 0 || self.supersample > 8 {
            return bad(
                "scout.supersample",
                format!("{}; expected 1 to 8", self.supersample),
            );
        }
        Ok(())
    }
}

/// One pass to take: a view swept over `[z_from_mm, z_to_mm]` with the gantry panned by
/// `pan_mm` (x, y) from the pose the scout frame belongs to.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoutPass {
    /// The view.
    pub view: ScoutView,
    /// Start of the sweep, mm (scout frame z).
    pub z_from_mm: f64,
    /// End of the sweep, mm.
    pub z_to_mm: f64,
    /// The isocentre's lateral (x) and vertical (y) offset during the pass, mm.
    pub pan_mm: [f64; 2],
}

impl ScoutPass {
    /// The z of each row's centre: `ceil(length / step)` rows from `z_from_mm`.
    pub fn rows_z_mm(&self, step_mm: f64) -> Vec<f64> {
        let (a, b) = (
            self.z_from_mm.min(self.z_to_mm),
            self.z_from_mm.max(self.z_to_mm),
        );
        let n = (((b - a) / step_mm).ceil() as usize).max(1);
        (0..n).map(|k| a + (k as f64 + 0.5) * step_mm).collect()
    }
}

/// One pass as acquired: water-corrected line integrals `[row][col]`, rows along z (scout
/// frame), columns across the fan, and the geometry to turn a column into a ray.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoutImage {
    /// The pass as asked.
    pub pass: ScoutPass,
    /// z of each row's centre, mm, increasing.
    pub z_mm: Vec<f64>,
    /// Line integrals of mu at the reference energy, water beam-hardening corrected.
    pub line_integrals: Array2<f32>,
    /// Focal spot to isocentre, mm.
    pub sid_mm: f64,
    /// Focal spot to detector, mm.
    pub sdd_mm: f64,
    /// Detector coordinate of column 0, mm.
    pub u0_mm: f64,
    /// Column pitch on the detector, mm.
    pub pixel_u_mm: f64,
    /// mu of water at the reference energy, 1/mm (a line integral over it is mm of water).
    pub mu_water_per_mm: f64,
    /// The pass' dose.
    pub dose: DoseRecord,
}

impl ScoutImage {
    /// Columns.
    pub fn cols(&self) -> usize {
        self.line_integrals.dim().1
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.line_integrals.dim().0
    }

    /// The row pitch along z, mm.
    pub fn step_mm(&self) -> f64 {
        if self.z_mm.len() > 1 {
            (self.z_mm[self.z_mm.len() - 1] - self.z_mm[0]) / (self.z_mm.len() - 1) as f64
        } else {
            1.0
        }
    }

    /// The (fractional) row of `z_mm`.
    pub fn row_of_z(&self, z_mm: f64) -> f64 {
        (z_mm - self.z_mm[0]) / self.step_mm()
    }

    /// The z of a (fractional) row.
    pub fn z_of_row(&self, row: f64) -> f64 {
        self.z_mm[0] + row * self.step_mm()
    }

    /// The focal spot in the transverse plane (x, y), scout frame, mm.
    pub fn source_xy(&self) -> [f64; 2] {
        let (s, c) = self.pass.view.angle_rad().sin_cos();
        [
            self.pass.pan_mm[0] + self.sid_mm * s,
            self.pass.pan_mm[1] - self.sid_mm * c,
        ]
    }

    /// The ray to (fractional) column `col` in the transverse plane: the focal spot and the
    /// unit direction towards the detector.
    pub fn ray(&self, col: f64) -> ([f64; 2], [f64; 2]) {
        let (s, c) = self.pass.view.angle_rad().sin_cos();
        let u = self.u0_mm + col * self.pixel_u_mm;
        let d = self.sdd_mm - self.sid_mm;
        let det = [
            self.pass.pan_mm[0] - d * s + u * c,
            self.pass.pan_mm[1] + d * c + u * s,
        ];
        let src = self.source_xy();
        let v = [det[0] - src[0], det[1] - src[1]];
        let n = v[0].hypot(v[1]);
        (src, [v[0] / n, v[1] / n])
    }

    /// The (fractional) column whose ray passes through the transverse point `p` (x, y).
    pub fn col_of(&self, p: [f64; 2]) -> f64 {
        let (s, c) = self.pass.view.angle_rad().sin_cos();
        let src = self.source_xy();
        let v = [p[0] - src[0], p[1] - src[1]];
        // Along the central ray and across it.
        let along = -s * v[0] + c * v[1];
        let across = c * v[0] + s * v[1];
        let u = across * self.sdd_mm / along;
        (u - self.u0_mm) / self.pixel_u_mm
    }

    /// The transverse coordinate (x for AP, y for lateral) where the ray of `col` crosses the
    /// plane through the pass' isocentre at `depth_mm` along the central ray from it (0: the
    /// isocentre's plane).
    pub fn across_at_depth(&self, col: f64, depth_mm: f64) -> f64 {
        let u = self.u0_mm + col * self.pixel_u_mm;
        let across = u * (self.sid_mm + depth_mm) / self.sdd_mm;
        self.pass.pan_mm[self.pass.view.across_axis()] + across
    }

    /// The field this pass sees at its isocentre's plane, across, mm (scout frame).
    pub fn field_at_isocentre(&self) -> [f64; 2] {
        let c1 = (self.cols() - 1) as f64;
        [
            self.across_at_depth(0.0, 0.0),
            self.across_at_depth(c1, 0.0),
        ]
    }
}

/// The scout: its passes, in the order taken.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scout {
    /// The passes.
    pub passes: Vec<ScoutImage>,
}

impl Scout {
    /// The scout's whole DLP, mGy cm.
    pub fn dlp_mgycm(&self) -> f64 {
        self.passes.iter().map(|p| p.dose.dlp.0).sum()
    }

    /// The passes of one view.
    pub fn of(&self, view: ScoutView) -> impl Iterator<Item = &ScoutImage> {
        self.passes.iter().filter(move |p| p.pass.view == view)
    }
}

/// The dose record of a pass: every point along the sweep is irradiated once by the slit
/// with `mas_per_mm * step_mm`.
pub fn pass_dose(
    spec: &ScannerSpec,
    technique: &ScoutTechnique,
    pass: &ScoutPass,
    rows: usize,
    phantom: CtdiPhantom,
) -> Result<DoseRecord, PositioningError> {
    let spectrum = Spectrum::tungsten(technique.kvp, spec.filtration)?;
    let per_100 = ctdi_w_per_100mas(
        &spectrum,
        spec.sid_mm,
        spec.fan_half_angle_rad(),
        phantom,
        Irradiation::Stationary {
            angle_rad: pass.view.angle_rad(),
        },
    );
    let length_mm = rows as f64 * technique.step_mm;
    let per_point_mas = technique.mas_per_mm * technique.step_mm;
    let time_s = length_mm / technique.speed_mm_s;
    let mut record = DoseRecord::new(
        "scout",
        &spectrum,
        per_point_mas,
        time_s,
        technique.step_mm,
        length_mm,
        spec.sid_mm,
        per_100,
        phantom,
    )?;
    // The record's CTDIvol and DLP are those of the per-point exposure over the swept length;
    // its mAs and current are the whole sweep's.
    record.mas = technique.mas_per_mm * length_mm;
    record.tube_current_ma = record.mas / time_s;
    record.method = format!(
        "{}; a {} topogram: the slit ({} mm) sweeps {:.0} mm, each point exposed once with {:.2} mAs, the tube still at gantry angle {:.0} deg",
        record.method,
        pass.view.name(),
        technique.step_mm,
        length_mm,
        per_point_mas,
        pass.view.angle_rad().to_degrees()
    );
    Ok(record)
}

/// The geometry of a pass: one view per step, each a single detector line in the plane of
/// its z (the slit), the gantry panned by the pass' offset.
pub fn pass_geometry(
    spec: &ScannerSpec,
    technique: &ScoutTechnique,
    pass: &ScoutPass,
) -> Result<ScanGeometry, PositioningError> {
    let (s, c) = pass.view.angle_rad().sin_cos();
    let m = spec.magnification();
    let detector = Detector::centered(
        spec.cols,
        1,
        [spec.pixel_mm[0], technique.step_mm * m],
        [0.0, 0.0],
        roboct_geometry::DetectorShape::Flat,
    );
    let [px, py] = pass.pan_mm;
    let d = spec.sdd_mm - spec.sid_mm;
    let views = pass
        .rows_z_mm(technique.step_mm)
        .into_iter()
        .map(|z| View {
            source: Source::Point([px + spec.sid_mm * s, py - spec.sid_mm * c, z]),
            detector_mm: [px - d * s, py + d * c, z],
            u_dir: [c, s, 0.0],
            v_dir: [0.0, 0.0, 1.0],
        })
        .collect();
    ScanGeometry::new(detector, views, None).map_err(|e| PositioningError::Invalid {
        field: "scout pass",
        message: e.to_string(),
    })
}

/// Acquires one pass of `patient` (in the scout frame) on the simulated scanner: exact basis
/// line integrals, the detector's response and noise (seeded), flat field, log and water
/// beam-hardening correction; and the pass' dose in `phantom`.
pub fn simulate_pass(
    spec: &ScannerSpec,
    technique: &ScoutTechnique,
    pass: &ScoutPass,
    patient: &dyn PatientModel,
    phantom: CtdiPhantom,
    seed: u64,
) -> Result<ScoutImage, PositioningError> {
    technique.validate(spec)?;
    let geometry = pass_geometry(spec, technique, pass)?;
    let spectrum = Spectrum::tungsten(technique.kvp, spec.filtration)?;
    let response = Response::new(&spectrum, &spec.detector);
    let mut detector =
        SimulatedDetector::new(&geometry, patient, response.clone(), seed, &NoProgress)?;
    let z_mm = pass.rows_z_mm(technique.step_mm);
    let per_row = technique.mas_per_mm * technique.step_mm;
    let mut tube = SimulatedTube::new(spectrum);
    let (projections, _weights) = acquire(
        &mut tube,
        &mut detector,
        &response,
        &vec![per_row; z_mm.len()],
        &NoProgress,
        &CancelToken::new(),
    )?;
    debug_assert!((tube.delivered_mas() - per_row * z_mm.len() as f64).abs() < 1e-6);
    let line_integrals = projections.index_axis(Axis(1), 0).to_owned();
    let det = geometry.detector();
    Ok(ScoutImage {
        pass: *pass,
        dose: pass_dose(spec, technique, pass, z_mm.len(), phantom)?,
        z_mm,
        line_integrals,
        sid_mm: spec.sid_mm,
        sdd_mm: spec.sdd_mm,
        u0_mm: det.u_mm(0.0),
        pixel_u_mm: det.pixel_mm[0],
        mu_water_per_mm: roboct_phantom::material::mu_water_reference_per_mm(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use roboct_phantom::material::Tissue;
    use roboct_phantom::patient::{Body, Organ, Patient};
    use roboct_phantom::solid::{Quadric, Solid};
    use roboct_scanner::patient::AnalyticPatient;

    fn small_spec() -> ScannerSpec {
        ScannerSpec {
            cols: 96,
            pixel_mm: [4.8, 1.6],
            ..ScannerSpec::mobile_head()
        }
    }

    fn ball(center: [f64; 3], radius_mm: f64) -> Patient {
        Patient::new(
            vec![Tissue::Water.material()],
            vec![Body {
                name: "water ball".into(),
                solid: Solid::ellipsoid(Quadric::new(center, [radius_mm; 3])),
                material: 0,
                organ: Organ::Other,
                finding: None,
            }],
        )
        .unwrap()
    }

    #[test]
    fn columns_and_rays_agree_and_rows_keep_their_z() {
        let spec = small_spec();
        let t = ScoutTechnique {
            step_mm: 4.0,
            ..ScoutTechnique::standard()
        };
        let p = ball([30.0, -20.0, 40.0], 50.0);
        for view in [ScoutView::Ap, ScoutView::Lateral] {
            let pass = ScoutPass {
                view,
                z_from_mm: -40.0,
                z_to_mm: 120.0,
                pan_mm: [10.0, -5.0],
            };
            let img = simulate_pass(
                &spec,
                &t,
                &pass,
                &AnalyticPatient {
                    patient: &p,
                    supersample: 2,
                },
                CtdiPhantom::Head16,
                3,
            )
            .unwrap();
            assert_eq!(img.rows(), 40);
            // The ray of a column passes through the point that column is of.
            for q in [[30.0, -20.0], [70.0, 10.0], [-40.0, 60.0]] {
                let col = img.col_of(q);
                let (o, d) = img.ray(col);
                let (vx, vy) = (q[0] - o[0], q[1] - o[1]);
                assert!((vx * d[1] - vy * d[0]).abs() < 1e-6, "{view:?} {q:?}");
            }
            // The ball's chord through its centre: 100 mm of water, at the row of z = 40 and
            // the column through its centre; nothing above z = 90.
            let r = img.row_of_z(40.0).round() as usize;
            let c = img.col_of([30.0, -20.0]).round() as usize;
            let water_mm = img.line_integrals[[r, c]] as f64 / img.mu_water_per_mm;
            assert!((water_mm - 100.0).abs() < 4.0, "{view:?}: {water_mm}");
            let top = img.row_of_z(96.0).round() as usize;
            let above = img
                .line_integrals
                .row(top)
                .iter()
                .fold(0.0f32, |m, v| m.max(*v));
            assert!(above < 0.05, "{view:?}: {above}");
            // The dose: a scout, a few tenths of a mGy.
            assert_eq!(img.dose.kind, "scout");
            assert!(
                img.dose.ctdi_vol.0 > 0.01 && img.dose.ctdi_vol.0 < 5.0,
                "{:?}",
                img.dose
            );
            assert!((img.dose.scan_length_mm - 160.0).abs() < 1e-9);
        }
    }
}
