//! The scan plan: from the landmarks found in the scout, the z range that covers the organ
//! plus a small margin, the isocentre, the rotations that cover the range (beam width and
//! gantry pose of each), the gantry motion from the docked pose, and the dose; checked against
//! the bore and the gantry's travel. A plan that cannot be carried out is a [`Refusal`].
//!
//! Everything is in the scout frame (the scanner frame at the docked gantry pose, mm).
//!
//! The scanner is a cone-beam CT: one rotation covers up to
//! [`ScannerSpec::max_collimation_mm`] along z at the isocentre. A range longer than that is
//! scanned as `n` step-and-shoot rotations of equal width, the gantry travelling along the
//! bed between them; the width is opened to whole detector rows, so the irradiated range is
//! the planned range rounded up by less than a row per rotation. Tests:
//! `plan::tests::*`, `tests/positioning.rs`.

use roboct_scanner::dose::{Irradiation, ctdi_w_per_100mas};
use roboct_scanner::{CtdiPhantom, DoseRecord, Protocol, ScannerSpec, Spectrum};

use crate::gantry::{GantryMotion, GantryPose, GantrySpec};
use crate::localize::Landmarks;
use crate::{PositioningError, Refusal, Target};

/// The scan's technique (what the plan's dose is computed with).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScanTechnique {
    /// Tube voltage, kV.
    pub kvp: f64,
    /// Tube current-time product of each rotation, mAs.
    pub mas_per_rotation: f64,
    /// The CTDI phantom the dose refers to (16 cm for a head, 32 cm for a body).
    pub ctdi_phantom: CtdiPhantom,
}

impl ScanTechnique {
    /// The standard technique for a target: a head at 120 kV, 300 mAs per rotation
    /// ([`Protocol::standard_head`]) in the 16 cm phantom; a chest at 120 kV, 150 mAs in the
    /// 32 cm phantom.
    pub fn standard(target: Target) -> Self {
        match target {
            Target::Head => {
                let p = Protocol::standard_head();
                Self {
                    kvp: p.kvp,
                    mas_per_rotation: p.mas,
                    ctdi_phantom: p.ctdi_phantom,
                }
            }
            Target::Chest => Self {
                kvp: 120.0,
                mas_per_rotation: 150.0,
                ctdi_phantom: CtdiPhantom::Body32,
            },
        }
    }

    /// The DLP of irradiating `length_mm` with `rotations` rotations of `width_mm` each,
    /// mGy cm.
    pub fn dlp_mgycm(
        &self,
        scanner: &ScannerSpec,
        width_mm: f64,
        rotations: usize,
    ) -> Result<f64, PositioningError> {
        Ok(self.rotation_dose(scanner, width_mm)?.dlp.0 * rotations as f64)
    }

    /// The dose record of one rotation of `width_mm`.
    pub fn rotation_dose(
        &self,
        scanner: &ScannerSpec,
        width_mm: f64,
    ) -> Result<DoseRecord, PositioningError> {
        let spectrum = Spectrum::tungsten(self.kvp, scanner.filtration)?;
        let per_100 = ctdi_w_per_100mas(
            &spectrum,
            scanner.sid_mm,
            scanner.fan_half_angle_rad(),
            self.ctdi_phantom,
            Irradiation::Rotation,
        );
        Ok(DoseRecord::new(
            "axial",
            &spectrum,
            self.mas_per_rotation,
            scanner.rotation_time_s,
            width_mm,
            width_mm,
            scanner.sid_mm,
            per_100,
            self.ctdi_phantom,
        )?)
    }
}

/// How plans are made.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanOptions {
    /// Margin added beyond the organ at each end (inferior, superior), mm: what the
    /// localisation's error needs (tuned on the development seeds of `roboct bench
    /// positioning`).
    pub margin_mm: [f64; 2],
    /// The scan's technique; `None`: [`ScanTechnique::standard`] of the target.
    pub technique: Option<ScanTechnique>,
}

impl PlanOptions {
    /// The margins for a target, from the development seeds: the localisation's largest
    /// shortfall at each end there (100 heads, 100 chests), rounded up; the lung bases are
    /// the least certain. Coverage comes first: an organ cut short
    /// is a second scan.
    pub fn for_target(target: Target) -> Self {
        Self {
            margin_mm: match target {
                Target::Head => [6.0, 6.0],
                Target::Chest => [15.0, 8.0],
            },
            technique: None,
        }
    }

    /// Checks the values; the error names the field.
    pub fn validate(&self) -> Result<(), PositioningError> {
        if !self.margin_mm.iter().all(|m| (0.0..=100.0).contains(m)) {
            return Err(PositioningError::Invalid {
                field: "plan.margin_mm",
                message: format!("{:?}; expected 0 to 100 mm at each end", self.margin_mm),
            });
        }
        Ok(())
    }
}

/// One rotation of the plan.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rotation {
    /// The gantry pose: the isocentre at the plan's (x, y) and this rotation's z.
    pub gantry: GantryPose,
    /// The rotation's centre along z, mm (scout frame).
    pub z_center_mm: f64,
}

/// A scan plan: what will be scanned and how the gantry gets there.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScanPlan {
    /// The target.
    pub target: Target,
    /// The organ's extent found in the scout, `[inferior, superior]` z, mm.
    pub organ_z_mm: [f64; 2],
    /// The range irradiated, `[inferior, superior]` z, mm: the organ, the margins, and the
    /// rounding of the beam to whole detector rows.
    pub scan_range_mm: [f64; 2],
    /// Planned range beyond the organ found, at each end (inferior, superior), mm.
    pub excess_mm: [f64; 2],
    /// The isocentre (x, y, z), mm: the organ's centre across, the range's middle along z.
    pub isocenter_mm: [f64; 3],
    /// The rotations, inferior first.
    pub rotations: Vec<Rotation>,
    /// Beam width of each rotation at the isocentre (whole detector rows), mm.
    pub collimation_mm: f64,
    /// The gantry pose of the first rotation.
    pub gantry: GantryPose,
    /// The motion from the docked pose to the first rotation.
    pub motion: GantryMotion,
    /// The diameter about the isocentre the patient's outline needs (with the clearance), mm.
    pub needed_diameter_mm: f64,
    /// The technique.
    pub technique: ScanTechnique,
    /// The scan's DLP, mGy cm.
    pub scan_dlp_mgycm: f64,
    /// The scout's DLP, mGy cm.
    pub scout_dlp_mgycm: f64,
}

impl ScanPlan {
    /// The scout's DLP as a fraction of the scan's.
    pub fn scout_fraction(&self) -> f64 {
        self.scout_dlp_mgycm / self.scan_dlp_mgycm
    }

    /// The scanned length, mm.
    pub fn length_mm(&self) -> f64 {
        self.scan_range_mm[1] - self.scan_range_mm[0]
    }
}

/// The rotations that cover `length_mm`: their count and their width opened to whole detector
/// rows (at least the length over the count).
pub fn rotations_for(scanner: &ScannerSpec, length_mm: f64) -> (usize, f64) {
    let row_mm = scanner.pixel_mm[1] / scanner.magnification();
    let max_rows = scanner.rows.max(1);
    let max_mm = max_rows as f64 * row_mm;
    let n = ((length_mm / max_mm) - 1e-9).ceil().max(1.0) as usize;
    let rows = ((length_mm / n as f64 / row_mm) - 1e-9)
        .ceil()
        .clamp(1.0, max_rows as f64);
    (n, rows * row_mm)
}

/// Plans the scan of `landmarks` from the gantry at `docked` (the scout frame's pose); a plan
/// that does not fit the bore or the travel is a [`Refusal`].
pub fn plan(
    landmarks: &Landmarks,
    scanner: &ScannerSpec,
    gantry: &GantrySpec,
    docked: GantryPose,
    scout_dlp_mgycm: f64,
    options: &PlanOptions,
) -> Result<Result<ScanPlan, Refusal>, PositioningError> {
    options.validate()?;
    gantry.validate()?;
    scanner.validate()?;
    let [lo, hi] = landmarks.organ_z_mm;
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return Ok(Err(Refusal::NotFound {
            organ: landmarks.target.organ().into(),
            detail: format!("its extent along z, [{lo:.0}, {hi:.0}] mm, is empty"),
        }));
    }
    let wanted = [lo - options.margin_mm[0], hi + options.margin_mm[1]];
    let (n, width) = rotations_for(scanner, wanted[1] - wanted[0]);
    let center_z = 0.5 * (wanted[0] + wanted[1]);
    let half = 0.5 * n as f64 * width;
    let scan_range_mm = [center_z - half, center_z + half];
    let [cx, cy] = landmarks.center_xy_mm;
    let isocenter_mm = [cx, cy, center_z];

    // The bore: the outline's farthest point from the isocentre, as an ellipse about its
    // centre, with the clearance.
    let [x0, x1] = landmarks.outline_x_mm;
    let [y0, y1] = landmarks.outline_y_mm;
    let (ox, oy) = (0.5 * (x0 + x1) - cx, 0.5 * (y0 + y1) - cy);
    let (ax, ay) = (0.5 * (x1 - x0), 0.5 * (y1 - y0));
    let reach_mm = ox.hypot(oy) + ax.max(ay);
    let needed = 2.0 * reach_mm + 2.0 * gantry.clearance_mm;
    if needed > gantry.bore_diameter_mm {
        return Ok(Err(Refusal::TooLarge {
            width_mm: x1 - x0,
            height_mm: y1 - y0,
            needed_mm: 2.0 * reach_mm,
            usable_mm: gantry.usable_diameter_mm(),
            bore_mm: gantry.bore_diameter_mm,
        }));
    }

    let rotations: Vec<Rotation> = (0..n)
        .map(|k| {
            let z = scan_range_mm[0] + (k as f64 + 0.5) * width;
            Rotation {
                gantry: docked.moved_by([cx, cy, z]),
                z_center_mm: z,
            }
        })
        .collect();
    for r in &rotations {
        if let Err(reach) = gantry.reach(&r.gantry) {
            return Ok(Err(Refusal::OutOfReach {
                what: format!("the planned {} scan", landmarks.target),
                reach,
            }));
        }
    }
    let technique = options
        .technique
        .clone()
        .unwrap_or_else(|| ScanTechnique::standard(landmarks.target));
    let scan_dlp_mgycm = technique.dlp_mgycm(scanner, width, n)?;
    let first = rotations[0].gantry;
    Ok(Ok(ScanPlan {
        target: landmarks.target,
        organ_z_mm: [lo, hi],
        scan_range_mm,
        excess_mm: [lo - scan_range_mm[0], scan_range_mm[1] - hi],
        isocenter_mm,
        rotations,
        collimation_mm: width,
        gantry: first,
        motion: docked.motion_to(&first),
        needed_diameter_mm: needed,
        technique,
        scan_dlp_mgycm,
        scout_dlp_mgycm,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn landmarks(z: [f64; 2], outline_half_mm: f64) -> Landmarks {
        Landmarks {
            target: Target::Head,
            points: vec![],
            organ_z_mm: z,
            center_xy_mm: [5.0, -3.0],
            outline_x_mm: [5.0 - outline_half_mm, 5.0 + outline_half_mm],
            outline_y_mm: [-3.0 - outline_half_mm, -3.0 + outline_half_mm],
        }
    }

    fn docked() -> GantryPose {
        GantryPose {
            along_mm: 2000.0,
            lateral_mm: 0.0,
            height_mm: 800.0,
            yaw_rad: 0.0,
        }
    }

    #[test]
    fn the_range_covers_the_organ_with_the_margins_in_whole_rows() {
        let scanner = ScannerSpec::mobile_head();
        let g = GantrySpec::mobile();
        let opts = PlanOptions {
            margin_mm: [3.0, 2.0],
            technique: None,
        };
        let p = plan(
            &landmarks([-60.0, 80.0], 80.0),
            &scanner,
            &g,
            docked(),
            1.0,
            &opts,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.rotations.len(), 1);
        let row = scanner.pixel_mm[1] / scanner.magnification();
        assert!(
            p.excess_mm[0] >= 3.0 && p.excess_mm[1] >= 2.0,
            "{:?}",
            p.excess_mm
        );
        assert!(p.excess_mm[0] + p.excess_mm[1] < 5.0 + row + 1e-9);
        assert!((p.isocenter_mm[0] - 5.0).abs() < 1e-12);
        // The gantry goes to the isocentre: 5 mm to the patient's left is the robot's right.
        assert!((p.motion.lateral_mm + 5.0).abs() < 1e-9 && (p.motion.lift_mm - 3.0).abs() < 1e-9);
        assert!(p.scan_dlp_mgycm > 0.0 && p.scout_fraction() > 0.0);
        // A longer range takes two rotations of equal width, each within the detector.
        let long = plan(
            &landmarks([-200.0, 150.0], 80.0),
            &scanner,
            &g,
            docked(),
            1.0,
            &opts,
        )
        .unwrap()
        .unwrap();
        assert_eq!(long.rotations.len(), 2);
        assert!(long.collimation_mm <= scanner.max_collimation_mm() + 1e-9);
        assert!(long.scan_range_mm[0] <= -203.0 && long.scan_range_mm[1] >= 152.0);
        // Twice the length: about twice the DLP.
        assert!(long.scan_dlp_mgycm > 2.0 * p.scan_dlp_mgycm);
    }

    #[test]
    fn an_outline_wider_than_the_bore_or_a_range_beyond_the_travel_is_refused() {
        let scanner = ScannerSpec::mobile_head();
        let g = GantrySpec::mobile();
        let opts = PlanOptions::for_target(Target::Head);
        let r = plan(
            &landmarks([-60.0, 80.0], 240.0),
            &scanner,
            &g,
            docked(),
            1.0,
            &opts,
        )
        .unwrap()
        .unwrap_err();
        assert!(matches!(r, Refusal::TooLarge { .. }), "{r}");
        assert_eq!(r.recovery(), crate::Recovery::Abort);
        let far = GantryPose {
            along_mm: 2500.0,
            ..docked()
        };
        let r = plan(
            &landmarks([80.0, 220.0], 80.0),
            &scanner,
            &g,
            far,
            1.0,
            &opts,
        )
        .unwrap()
        .unwrap_err();
        assert!(matches!(r, Refusal::OutOfReach { .. }), "{r}");
        let empty = plan(
            &landmarks([10.0, 10.0], 80.0),
            &scanner,
            &g,
            docked(),
            1.0,
            &opts,
        )
        .unwrap()
        .unwrap_err();
        assert!(matches!(empty, Refusal::NotFound { .. }));
        let bad = PlanOptions {
            margin_mm: [-1.0, 0.0],
            technique: None,
        };
        assert!(
            plan(
                &landmarks([-60.0, 80.0], 80.0),
                &scanner,
                &g,
                docked(),
                1.0,
                &bad
            )
            .is_err()
        );
    }
}
