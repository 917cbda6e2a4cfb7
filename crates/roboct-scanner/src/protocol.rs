//! The scanner's build (geometry, detector) and the scan protocol (technique, views, beam
//! width), validated once where they enter.

use roboct_geometry::vec3::Vec3;
use roboct_geometry::{Beam, CircularScan, Detector, DetectorShape, ScanGeometry, even_angles};

use crate::ScannerError;
use crate::dose::CtdiPhantom;
use crate::physics::DetectorModel;
use crate::spectrum::{Filtration, KVP_RANGE};

/// The scanner as built: its geometry and detector. A real device's calibration file.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScannerSpec {
    /// Focal spot to isocentre, mm.
    pub sid_mm: f64,
    /// Focal spot to detector, mm.
    pub sdd_mm: f64,
    /// Detector columns (across the fan).
    pub cols: usize,
    /// Detector rows (along z).
    pub rows: usize,
    /// Pixel pitch on the detector (u, v), mm.
    pub pixel_mm: [f64; 2],
    /// Flat panel or an arc about the focal spot.
    pub shape: DetectorShape,
    /// Scintillator and electronics.
    pub detector: DetectorModel,
    /// Time of one rotation, s.
    pub rotation_time_s: f64,
    /// Inherent filtration is 6 mm Al; this is added.
    pub filtration: Filtration,
}

impl ScannerSpec {
    /// roboct's mobile head scanner: a cone-beam CT with a flat CsI panel of 288 x 256 pixels
    /// of 1.6 mm (0.93 mm at the isocentre), source-isocentre 550 mm and source-detector 950 mm
    /// (the proportions of a diagnostic CT), a 258 mm field of view and up to 237 mm of
    /// coverage along z in one rotation of 1 s. Flat rather than curved: flat panels are what
    /// mobile cone-beam scanners carry, and FDK's fastest back-projection path is the flat
    /// one (3x the curved one on this machine).
    pub fn mobile_head() -> Self {
        Self {
            sid_mm: 550.0,
            sdd_mm: 950.0,
            cols: 288,
            rows: 256,
            pixel_mm: [1.6, 1.6],
            shape: DetectorShape::Flat,
            detector: DetectorModel::default(),
            rotation_time_s: 1.0,
            filtration: Filtration::default(),
        }
    }

    /// Magnification at the isocentre.
    pub fn magnification(&self) -> f64 {
        self.sdd_mm / self.sid_mm
    }

    /// The widest beam along z at the isocentre, mm.
    pub fn max_collimation_mm(&self) -> f64 {
        self.rows as f64 * self.pixel_mm[1] / self.magnification()
    }

    /// Half the fan angle the detector spans, rad.
    pub fn fan_half_angle_rad(&self) -> f64 {
        let half = 0.5 * self.cols as f64 * self.pixel_mm[0];
        self.shape.fan_angle_rad(half, self.sdd_mm)
    }

    /// Radius of the field of view at the isocentre, mm.
    pub fn fov_radius_mm(&self) -> f64 {
        self.sid_mm * self.fan_half_angle_rad().sin()
    }

    /// Checks the build.
    pub fn validate(&self) -> Result<(), ScannerError> {
        let bad =
            |field: &'static str, message: String| Err(ScannerError::Protocol { field, message });
        if !(self.sid_mm > 0.0 && self.sdd_mm > self.sid_mm && self.sdd_mm < 5000.0) {
            return bad(
                "sid_mm/sdd_mm",
                format!(
                    "{} / {}; expected 0 < SID < SDD < 5000 mm",
                    self.sid_mm, self.sdd_mm
                ),
            );
        }
        if self.cols == 0 || self.rows == 0 || self.cols > 8192 || self.rows > 8192 {
            return bad(
                "detector",
                format!(
                    "{} x {} pixels; expected 1 to 8192 each",
                    self.cols, self.rows
                ),
            );
        }
        if !(self.pixel_mm.iter().all(|p| *p > 0.0 && *p < 50.0)) {
            return bad(
                "pixel_mm",
                format!("{:?}; expected sizes in (0, 50) mm", self.pixel_mm),
            );
        }
        if !(self.rotation_time_s > 0.0 && self.rotation_time_s <= 60.0) {
            return bad(
                "rotation_time_s",
                format!("{}; expected (0, 60] s", self.rotation_time_s),
            );
        }
        Ok(())
    }
}

/// Angular tube-current modulation.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CurrentModulation {
    /// Constant current.
    #[default]
    None,
    /// The current of each view follows the patient's attenuation along it to the power
    /// `strength` (0.5: the noise-optimal square root, Gies et al., Med. Phys. 1999), the
    /// total mAs unchanged.
    Angular {
        /// Exponent, 0 to 1.
        strength: f64,
    },
}

/// One scan's protocol.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Protocol {
    /// Tube voltage, kV (70 to 140).
    pub kvp: f64,
    /// Tube current-time product of the whole rotation, mAs.
    pub mas: f64,
    /// Views over the arc.
    pub views: usize,
    /// Arc covered, degrees (360 for a full rotation; at least 180 plus the fan for a short
    /// scan).
    pub arc_deg: f64,
    /// Beam width along z at the isocentre, mm (the scan range of one rotation).
    pub collimation_mm: f64,
    /// Where the beam is centred along z, world mm (the gantry's position along the bed).
    pub z_center_mm: f64,
    /// Where the isocentre is in x and y, world mm (the gantry's lateral and vertical
    /// position).
    pub isocenter_xy_mm: [f64; 2],
    /// Current modulation.
    pub modulation: CurrentModulation,
    /// The CTDI phantom the dose refers to (16 cm head, 32 cm body).
    pub ctdi_phantom: CtdiPhantom,
    /// Seed of the quantum and electronic noise.
    pub seed: u64,
}

impl Protocol {
    /// A standard head protocol on the mobile head scanner: 120 kV, 300 mAs, 360 views, 200 mm
    /// (CTDIvol about 60 mGy in the 16 cm phantom, close to the European and US reference
    /// levels for a head CT).
    pub fn standard_head() -> Self {
        Self {
            kvp: 120.0,
            mas: 300.0,
            views: 360,
            arc_deg: 360.0,
            collimation_mm: 200.0,
            z_center_mm: 0.0,
            isocenter_xy_mm: [0.0, 0.0],
            modulation: CurrentModulation::None,
            ctdi_phantom: CtdiPhantom::Head16,
            seed: 1,
        }
    }

    /// Checks the protocol against the scanner; the error names the field.
    pub fn validate(&self, spec: &ScannerSpec) -> Result<(), ScannerError> {
        let bad =
            |field: &'static str, message: String| Err(ScannerError::Protocol { field, message });
        if !(self.kvp >= KVP_RANGE.0 && self.kvp <= KVP_RANGE.1) {
            return bad(
                "kvp",
                format!(
                    "{} kV; this tube makes {} to {} kV",
                    self.kvp, KVP_RANGE.0, KVP_RANGE.1
                ),
            );
        }
        if !(self.mas > 0.0 && self.mas <= 2000.0) {
            return bad(
                "mas",
                format!(
                    "{} mAs; expected more than 0 and at most 2000 mAs",
                    self.mas
                ),
            );
        }
        if self.views == 0 || self.views > 20_000 {
            return bad(
                "views",
                format!("{}; expected 1 to 20000 views", self.views),
            );
        }
        let min_arc = 180.0 + 2.0 * spec.fan_half_angle_rad().to_degrees();
        if !(self.arc_deg >= min_arc - 1e-9 && self.arc_deg <= 360.0) {
            return bad(
                "arc_deg",
                format!(
                    "{} degrees; expected {min_arc:.1} (180 plus the fan) to 360",
                    self.arc_deg
                ),
            );
        }
        let max = spec.max_collimation_mm();
        if !(self.collimation_mm >= 1.0 && self.collimation_mm <= max + 1e-9) {
            return bad(
                "collimation_mm",
                format!(
                    "{} mm; this detector covers 1 to {max:.0} mm at the isocentre",
                    self.collimation_mm
                ),
            );
        }
        if !self.z_center_mm.is_finite() || self.z_center_mm.abs() > 2000.0 {
            return bad(
                "z_center_mm",
                format!("{}; expected a position within 2 m", self.z_center_mm),
            );
        }
        if !self
            .isocenter_xy_mm
            .iter()
            .all(|v| v.is_finite() && v.abs() <= 500.0)
        {
            return bad(
                "isocenter_xy_mm",
                format!("{:?}; expected within 500 mm", self.isocenter_xy_mm),
            );
        }
        if let CurrentModulation::Angular { strength } = self.modulation
            && !(0.0..=1.0).contains(&strength)
        {
            return bad(
                "modulation.strength",
                format!("{strength}; expected 0 to 1"),
            );
        }
        Ok(())
    }

    /// The geometry of this scan on `spec`: the rows the collimation opens, the views over
    /// the arc, moved to the beam's centre and isocentre.
    pub fn geometry(&self, spec: &ScannerSpec) -> Result<ScanGeometry, ScannerError> {
        let (scan, shift) = self.circular_scan(spec)?;
        let g = scan
            .build()
            .map_err(|e| ScannerError::Geometry(e.to_string()))?;
        Ok(if shift == [0.0; 3] {
            g
        } else {
            g.transformed([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], shift)
        })
    }

    /// The scan about the origin and where its isocentre is moved to (for geometry files:
    /// `roboct_geometry::scan_toml`).
    pub fn circular_scan(&self, spec: &ScannerSpec) -> Result<(CircularScan, Vec3), ScannerError> {
        spec.validate()?;
        self.validate(spec)?;
        let rows = ((self.collimation_mm * spec.magnification() / spec.pixel_mm[1]).round()
            as usize)
            .clamp(1, spec.rows);
        let scan = CircularScan {
            beam: Beam::Divergent,
            sid_mm: spec.sid_mm,
            sdd_mm: spec.sdd_mm,
            detector: Detector::centered(spec.cols, rows, spec.pixel_mm, [0.0, 0.0], spec.shape),
            angles_rad: even_angles(0.0, self.arc_deg.to_radians(), self.views),
            detector_rotation_rad: 0.0,
        };
        let shift: Vec3 = [
            self.isocenter_xy_mm[0],
            self.isocenter_xy_mm[1],
            self.z_center_mm,
        ];
        Ok((scan, shift))
    }

    /// The nominal beam width actually opened (whole detector rows), mm at the isocentre.
    pub fn opened_collimation_mm(&self, spec: &ScannerSpec) -> f64 {
        let rows = ((self.collimation_mm * spec.magnification() / spec.pixel_mm[1]).round()
            as usize)
            .clamp(1, spec.rows);
        rows as f64 * spec.pixel_mm[1] / spec.magnification()
    }
}

/// What a user asks of a scan. What it leaves out follows the patient: the beam covers the
/// patient's grid along z (at most the detector), centred on it.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanRequest {
    /// Tube voltage, kV.
    pub kvp: f64,
    /// Tube current-time product of the rotation, mAs.
    pub mas: f64,
    /// Views over the arc.
    pub views: usize,
    /// Arc, degrees.
    pub arc_deg: f64,
    /// Beam width along z at the isocentre, mm (default: the grid's extent).
    pub collimation_mm: Option<f64>,
    /// Beam centre along z, mm (default: the grid's centre).
    pub z_center_mm: Option<f64>,
    /// Strength of angular tube-current modulation, if any.
    pub modulation: Option<f64>,
    /// CTDI phantom of the dose (default: the patient's).
    pub ctdi_phantom: Option<CtdiPhantom>,
    /// Seed of the noise.
    pub seed: u64,
}

impl ScanRequest {
    /// The protocol for a patient sampled on `grid`, whose dose is reported in `patient_phantom`
    /// unless the request names one.
    pub fn protocol(
        &self,
        spec: &ScannerSpec,
        grid: &roboct_geometry::VolumeGrid,
        patient_phantom: CtdiPhantom,
    ) -> Protocol {
        let (z0, z1) = {
            let a = grid.world_from_index([0.0, 0.0, -0.5])[2];
            let b = grid.world_from_index([0.0, 0.0, grid.size()[2] as f64 - 0.5])[2];
            (a.min(b), a.max(b))
        };
        Protocol {
            kvp: self.kvp,
            mas: self.mas,
            views: self.views,
            arc_deg: self.arc_deg,
            collimation_mm: self
                .collimation_mm
                .unwrap_or_else(|| (z1 - z0).min(spec.max_collimation_mm()).max(1.0)),
            z_center_mm: self.z_center_mm.unwrap_or(0.5 * (z0 + z1)),
            isocenter_xy_mm: [0.0, 0.0],
            modulation: match self.modulation {
                Some(strength) => CurrentModulation::Angular { strength },
                None => CurrentModulation::None,
            },
            ctdi_phantom: self.ctdi_phantom.unwrap_or(patient_phantom),
            seed: self.seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_covers_the_grid_unless_told_otherwise() {
        let spec = ScannerSpec::mobile_head();
        let grid =
            roboct_geometry::VolumeGrid::centered([4, 4, 40], [1.0; 3], [0.0, 0.0, -5.0]).unwrap();
        let mut request = ScanRequest {
            kvp: 120.0,
            mas: 300.0,
            views: 360,
            arc_deg: 360.0,
            collimation_mm: None,
            z_center_mm: None,
            modulation: None,
            ctdi_phantom: None,
            seed: 1,
        };
        let p = request.protocol(&spec, &grid, CtdiPhantom::Body32);
        assert!((p.collimation_mm - 40.0f64.min(spec.max_collimation_mm())).abs() < 1e-9);
        assert!((p.z_center_mm + 5.0).abs() < 1e-9);
        assert_eq!(p.ctdi_phantom, CtdiPhantom::Body32);
        request.collimation_mm = Some(10.0);
        request.z_center_mm = Some(3.0);
        request.ctdi_phantom = Some(CtdiPhantom::Head16);
        let p = request.protocol(&spec, &grid, CtdiPhantom::Body32);
        assert_eq!((p.collimation_mm, p.z_center_mm), (10.0, 3.0));
        assert_eq!(p.ctdi_phantom, CtdiPhantom::Head16);
    }

    #[test]
    fn the_mobile_head_scanner_covers_a_head() {
        let s = ScannerSpec::mobile_head();
        s.validate().unwrap();
        assert!(s.fov_radius_mm() > 120.0, "{}", s.fov_radius_mm());
        assert!(s.max_collimation_mm() > 220.0);
        let g = Protocol::standard_head().geometry(&s).unwrap();
        assert_eq!(g.projection_shape(), (360, 216, 288));
    }

    #[test]
    fn impossible_protocols_name_their_field() {
        let s = ScannerSpec::mobile_head();
        let p = Protocol::standard_head();
        for (bad, field) in [
            (
                Protocol {
                    kvp: 150.0,
                    ..p.clone()
                },
                "kvp",
            ),
            (
                Protocol {
                    kvp: 60.0,
                    ..p.clone()
                },
                "kvp",
            ),
            (
                Protocol {
                    mas: 0.0,
                    ..p.clone()
                },
                "mas",
            ),
            (
                Protocol {
                    mas: -5.0,
                    ..p.clone()
                },
                "mas",
            ),
            (
                Protocol {
                    mas: f64::NAN,
                    ..p.clone()
                },
                "mas",
            ),
            (
                Protocol {
                    views: 0,
                    ..p.clone()
                },
                "views",
            ),
            (
                Protocol {
                    arc_deg: 90.0,
                    ..p.clone()
                },
                "arc_deg",
            ),
            (
                Protocol {
                    collimation_mm: 400.0,
                    ..p.clone()
                },
                "collimation_mm",
            ),
            (
                Protocol {
                    modulation: CurrentModulation::Angular { strength: 2.0 },
                    ..p.clone()
                },
                "modulation",
            ),
        ] {
            let e = bad.geometry(&s).unwrap_err().to_string();
            assert!(e.contains(field), "{field}: {e}");
        }
    }
}
