//! The positioning at the bedside, end to end: dock, scout, localise, plan, and move the gantry
//! to the plan before anything is scanned ([`position`]); and the same on the simulator in one
//! call for the mission and the CLI ([`position_simulated`]).

use roboct_core::frames::Pose;
use roboct_geometry::vec3::{Vec3, mat_mul, mat_vec, sub, transpose};
use roboct_phantom::patient::Patient;
use roboct_scanner::{CtdiPhantom, ScannerSpec};

use crate::docking::{BedSite, Docking, dock};
use crate::gantry::{Gantry, GantryAxis, GantryPose, GantrySpec, Reach};
use crate::localize::{ClassicalLocalizer, Landmarks, Localizer, truncated_rows};
use crate::plan::{PlanOptions, ScanPlan, plan};
use crate::scout::{Scout, ScoutImage, ScoutPass, ScoutTechnique, ScoutView};
use crate::sim::{Rigid, SimPatient, SimulatedBedside, World};
use crate::{PositioningError, Refusal, Target};

/// The bedside hardware.
pub trait Bedside: Gantry {
    /// Takes one scout pass (the gantry sweeps along z from its current pose, panned by the
    /// pass' offset, and comes back).
    fn scout_pass(
        &mut self,
        pass: &ScoutPass,
        technique: &ScoutTechnique,
    ) -> Result<ScoutImage, PositioningError>;
}

/// How the positioning runs.
#[derive(Clone, Debug, PartialEq)]
pub struct PositionOptions {
    /// The scanner.
    pub scanner: ScannerSpec,
    /// The gantry.
    pub gantry: GantrySpec,
    /// The scout's technique.
    pub scout: ScoutTechnique,
    /// The plan's margins and technique; `None`: [`PlanOptions::for_target`].
    pub plan: Option<PlanOptions>,
}

impl Default for PositionOptions {
    fn default() -> Self {
        Self {
            scanner: ScannerSpec::mobile_head(),
            gantry: GantrySpec::mobile(),
            scout: ScoutTechnique::standard(),
            plan: None,
        }
    }
}

/// The z range the scout sweeps for a target, scout frame, mm: the target's organ wherever a
/// patient lying up to 10 cm from the nominal place, turned up to 15 degrees, may have it.
pub fn scout_range_mm(target: Target) -> [f64; 2] {
    match target {
        Target::Head => [-200.0, 250.0],
        Target::Chest => [-280.0, 300.0],
    }
}

/// What the positioning did: each step's result, and the plan or why there is none.
#[derive(Clone, Debug)]
pub struct Positioning {
    /// The target.
    pub target: Target,
    /// The docking, when it succeeded.
    pub docking: Option<Docking>,
    /// The gantry pose of the scout frame (the docked pose).
    pub scout_pose: Option<GantryPose>,
    /// The scout's passes (empty when docking was refused).
    pub scout: Scout,
    /// The landmarks, when found.
    pub landmarks: Option<Landmarks>,
    /// The plan, with the gantry already at its first rotation; or why not.
    pub outcome: Result<ScanPlan, Refusal>,
}

/// The interval of z (scout frame) over which the gantry, docked at `pose`, can sweep.
fn sweep_limits(spec: &GantrySpec, pose: &GantryPose) -> [f64; 2] {
    // along(z) = along + z cos(yaw), lateral(z) = lateral + z sin(yaw).
    let (s, c) = pose.yaw_rad.sin_cos();
    let mut lim = [f64::NEG_INFINITY, f64::INFINITY];
    for (v0, k, r) in [
        (pose.along_mm, c, spec.along_mm),
        (pose.lateral_mm, s, [-spec.lateral_mm, spec.lateral_mm]),
    ] {
        if k.abs() > 1e-9 {
            let (a, b) = ((r[0] - v0) / k, (r[1] - v0) / k);
            lim[0] = lim[0].max(a.min(b));
            lim[1] = lim[1].min(a.max(b));
        }
    }
    lim
}

/// Positions for `target` on `bedside`: docks against `bed` from the robot's `arrival` pose,
/// sweeps the scout (with panned passes where the body runs off the field), localises, plans,
/// and moves the gantry to the plan's first rotation. A refusal at any step ends the
/// positioning with the gantry where it is; no plan means no scan.
pub fn position(
    bedside: &mut dyn Bedside,
    localizer: &dyn Localizer,
    bed: &BedSite,
    arrival: Pose,
    target: Target,
    options: &PositionOptions,
) -> Result<Positioning, PositioningError> {
    let mut out = Positioning {
        target,
        docking: None,
        scout_pose: None,
        scout: Scout::default(),
        landmarks: None,
        outcome: Err(Refusal::NotFound {
            organ: target.organ().into(),
            detail: "not positioned yet".into(),
        }),
    };
    let docking = match dock(&options.gantry, bed, arrival, bedside.pose(), target)? {
        Ok(d) => d,
        Err(r) => {
            out.outcome = Err(r);
            return Ok(out);
        }
    };
    let docked = bedside.move_to(docking.pose)?;
    out.docking = Some(docking);
    out.scout_pose = Some(docked);

    // The scout's sweep, within the travel.
    let wanted = scout_range_mm(target);
    let lim = sweep_limits(&options.gantry, &docked);
    let step = options.scout.step_mm;
    let z0 = wanted[0].max(lim[0]);
    let z1 = wanted[1].min(lim[1]);
    let clamped = [wanted[0] < lim[0], wanted[1] > lim[1]];
    if z1 - z0 < 20.0 * step {
        out.outcome = Err(Refusal::OutOfReach {
            what: format!("the scout of the {target}"),
            reach: along_reach(
                &options.gantry,
                &docked,
                if clamped[1] { wanted[1] } else { wanted[0] },
            ),
        });
        return Ok(out);
    }
    // Whole steps, so that panned passes fall on the same rows.
    let z0 = z0 + ((z1 - z0) % step) * 0.5;
    let localizer_threshold = ClassicalLocalizer::default().edge_water_mm;
    for view in [ScoutView::Ap, ScoutView::Lateral] {
        let pass = ScoutPass {
            view,
            z_from_mm: z0,
            z_to_mm: z1 - 1e-9,
            pan_mm: [0.0, 0.0],
        };
        let img = bedside.scout_pass(&pass, &options.scout)?;
        let cut = truncated_rows(&img, localizer_threshold);
        let field = img.field_at_isocentre();
        out.scout.passes.push(img.clone());
        // Pan towards each side the body runs off, over the rows concerned.
        for (side, rows) in cut.iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let half = 0.5 * (field[1] - field[0]).abs();
            let across_sign = {
                // Column 0 lies at field[0] (low across) for these views.
                let low_is_col0 = field[0] < field[1];
                if (side == 0) == low_is_col0 {
                    -1.0
                } else {
                    1.0
                }
            };
            let axis = view.across_axis();
            let mut pan = [0.0, 0.0];
            pan[axis] = across_sign * pan_fields(target) * half;
            // Within the travel: the lateral slide for x, the lift for y.
            let here = docked.moved_by([pan[0], pan[1], 0.0]);
            let pan = match options.gantry.reach(&here) {
                Ok(()) => pan,
                Err(r) => {
                    // As far as the axis goes.
                    let room = match r.axis {
                        GantryAxis::Lateral => options.gantry.lateral_mm - docked.lateral_mm.abs(),
                        GantryAxis::Height => {
                            if pan[1] > 0.0 {
                                docked.height_mm - options.gantry.height_mm[0]
                            } else {
                                options.gantry.height_mm[1] - docked.height_mm
                            }
                        }
                        _ => 0.0,
                    };
                    let mut p = [0.0, 0.0];
                    p[axis] = across_sign * room.max(0.0);
                    p
                }
            };
            if pan[axis].abs() < 10.0 {
                continue;
            }
            let (ra, rb) = (rows[0], rows[rows.len() - 1]);
            let extra = ScoutPass {
                view,
                z_from_mm: img.z_mm[ra] - 0.5 * step,
                z_to_mm: img.z_mm[rb] + 0.5 * step - 1e-9,
                pan_mm: pan,
            };
            out.scout
                .passes
                .push(bedside.scout_pass(&extra, &options.scout)?);
        }
    }

    let landmarks = match localizer.localize(target, &out.scout) {
        Ok(l) => l,
        Err(r) => {
            // Anatomy lost at an end the travel cut short is out of reach, not missing.
            let at_cut_end = out.scout.of(ScoutView::Ap).next().and_then(|img| {
                let m = |row: usize| {
                    img.line_integrals
                        .row(row)
                        .iter()
                        .fold(0.0f32, |a, v| a.max(*v)) as f64
                        / img.mu_water_per_mm
                };
                let min = ClassicalLocalizer::default().min_patient_water_mm;
                if clamped[1] && m(img.rows() - 1) > min {
                    Some(z1 + 20.0)
                } else if clamped[0] && m(0) > min {
                    Some(z0 - 20.0)
                } else {
                    None
                }
            });
            out.outcome = Err(match (at_cut_end, &r) {
                (Some(z), Refusal::NotFound { .. } | Refusal::WrongAnatomy { .. }) => {
                    Refusal::OutOfReach {
                        what: format!("the {}", target.organ()),
                        reach: along_reach(&options.gantry, &docked, z),
                    }
                }
                _ => r,
            });
            return Ok(out);
        }
    };
    // An organ that runs to a sweep end the travel cut short is out of reach.
    let [lo, hi] = landmarks.organ_z_mm;
    if (clamped[1] && hi > z1 - 2.0 * step) || (clamped[0] && lo < z0 + 2.0 * step) {
        let z = if clamped[1] && hi > z1 - 2.0 * step {
            hi + 20.0
        } else {
            lo - 20.0
        };
        out.landmarks = Some(landmarks);
        out.outcome = Err(Refusal::OutOfReach {
            what: format!("the {}", target.organ()),
            reach: along_reach(&options.gantry, &docked, z),
        });
        return Ok(out);
    }
    let plan_options = options
        .plan
        .clone()
        .unwrap_or_else(|| PlanOptions::for_target(target));
    let planned = plan(
        &landmarks,
        &options.scanner,
        &options.gantry,
        docked,
        out.scout.dlp_mgycm(),
        &plan_options,
    )?;
    out.landmarks = Some(landmarks);
    out.outcome = match planned {
        Ok(p) => {
            bedside.move_to(p.gantry)?;
            Ok(p)
        }
        Err(r) => Err(r),
    };
    Ok(out)
}

/// How far a panned pass moves, in half-fields. A head (at most about 17 cm wide, up to
/// 13 cm off) is whole within 0.8 of a half-field's pan, which keeps most of the field
/// overlapping the main pass. A trunk (up to 38 cm wide) 10 cm off runs 30 cm out: it is
/// panned as far as the travel allows, up to 1.6 half-fields (a fifth of a field still
/// overlapping, for the outline and the lungs to join).
fn pan_fields(target: Target) -> f64 {
    match target {
        Target::Head => 0.8,
        Target::Chest => 1.6,
    }
}

/// The along-the-bed reach of the isocentre at `z_mm` from `docked`.
fn along_reach(spec: &GantrySpec, docked: &GantryPose, z_mm: f64) -> Reach {
    Reach {
        axis: GantryAxis::Along,
        value: docked.moved_by([0.0, 0.0, z_mm]).along_mm,
        limits: spec.along_mm,
    }
}

/// Rotation about x, then y, then z: `R = Rz Ry Rx`, angles in degrees.
pub fn rotation_xyz_deg(deg: [f64; 3]) -> [[f64; 3]; 3] {
    let [a, b, c] = deg.map(f64::to_radians);
    let rx = [
        [1.0, 0.0, 0.0],
        [0.0, a.cos(), -a.sin()],
        [0.0, a.sin(), a.cos()],
    ];
    let ry = [
        [b.cos(), 0.0, b.sin()],
        [0.0, 1.0, 0.0],
        [-b.sin(), 0.0, b.cos()],
    ];
    let rz = [
        [c.cos(), -c.sin(), 0.0],
        [c.sin(), c.cos(), 0.0],
        [0.0, 0.0, 1.0],
    ];
    mat_mul(rz, mat_mul(ry, rx))
}

/// The simulated bedside's set-up for [`position_simulated`]: how the patient lies and where
/// the robot stopped, and the devices.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationOptions {
    /// Seed of the scout's noise.
    pub seed: u64,
    /// The point of the input patient (its own frame, mm) that a nominal patient has at the
    /// target's nominal place on the bed: the phantoms' origin, a volume's centre.
    pub input_center_mm: Vec3,
    /// How the patient lies off the nominal place: (x the patient's left, y down, z towards
    /// the head), mm.
    pub offset_mm: Vec3,
    /// How the patient is turned: about x (nodding), y (the vertical: turned to a side) and z
    /// (the bed's axis: rolled), degrees, applied about the input centre.
    pub rotation_deg: Vec3,
    /// The mattress top's height above the floor, mm.
    pub bed_height_mm: f64,
    /// Where the robot really stopped against where it believes it is: forward, left (mm)
    /// and yaw (degrees).
    pub robot_error: [f64; 3],
    /// The CTDI phantom of the scout's dose record; `None`: the target's (16 cm head, 32 cm
    /// body).
    pub scout_phantom: Option<CtdiPhantom>,
    /// The devices and the plan.
    pub position: PositionOptions,
}

impl Default for SimulationOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            input_center_mm: [0.0; 3],
            offset_mm: [0.0; 3],
            rotation_deg: [0.0; 3],
            bed_height_mm: 600.0,
            robot_error: [0.0; 3],
            scout_phantom: None,
            position: PositionOptions::default(),
        }
    }
}

/// What [`position_simulated`] gives the mission: the plan or the refusal, the scout, the
/// landmarks, and the patient as the scanner sees it, everything in the **scout frame** (the
/// scanner frame at the docked gantry pose, mm; LPS for a patient supine, head first).
///
/// To scan exactly what was planned, simulate `patient_in_scanner` with a protocol centred on
/// `isocenter_mm` (its `isocenter_xy_mm` = `[x, y]`, `z_center_mm` = `z`) and a beam over
/// `scan_range_mm` (one rotation per [`ScanPlan::rotations`] entry, each
/// [`ScanPlan::collimation_mm`] wide): the gantry motion of the plan is that shift.
#[derive(Clone, Debug)]
pub struct Positioned {
    /// The target.
    pub target: Target,
    /// The plan, or why there is none (then nothing may be scanned).
    pub outcome: Result<ScanPlan, Refusal>,
    /// The scout.
    pub scout: Scout,
    /// The scout's DLP, mGy cm.
    pub scout_dlp_mgycm: f64,
    /// The planned range along z, `[inferior, superior]`, mm (with a plan).
    pub scan_range_mm: Option<[f64; 2]>,
    /// The planned isocentre (x, y, z), mm (with a plan).
    pub isocenter_mm: Option<[f64; 3]>,
    /// The landmarks found, when found.
    pub landmarks: Option<Landmarks>,
    /// The patient in the scout frame.
    pub patient_in_scanner: SimPatient,
    /// The rigid transform from the input patient's frame to the scout frame.
    pub scanner_from_input: Rigid,
    /// The gantry pose of the scout frame, when docked.
    pub scout_pose: Option<GantryPose>,
}

impl Positioned {
    /// A point of the scout frame in the input patient's frame.
    pub fn to_input(&self, p_mm: Vec3) -> Vec3 {
        let (r, t) = self.scanner_from_input;
        mat_vec(transpose(r), sub(p_mm, t))
    }

    /// Whether a plan was made.
    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// The frame [`Positioned`]'s coordinates are in.
pub const SCOUT_FRAME: &str = "scout frame: the scanner frame at the docked gantry pose, mm (x the patient's left, y posterior, z towards the head: DICOM LPS for a patient supine, head first)";

/// Positions `patient` (in its own frame) for `target` on the simulated bedside: a bed in a
/// ward, the patient laid on it at the target's nominal place moved by the options' offset
/// and rotation, the robot stopped at the bed's approach pose (off by `robot_error`), then
/// [`position`] with the [`ClassicalLocalizer`].
pub fn position_simulated(
    patient: Patient,
    target: Target,
    options: &SimulationOptions,
) -> Result<Positioned, PositioningError> {
    position_simulated_with(SimPatient::Analytic(patient), target, options)
}

/// [`position_simulated`] for any simulated patient (an analytic phantom or a HU volume).
pub fn position_simulated_with(
    patient: SimPatient,
    target: Target,
    options: &SimulationOptions,
) -> Result<Positioned, PositioningError> {
    let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
    if !(finite(&options.input_center_mm)
        && finite(&options.offset_mm)
        && finite(&options.rotation_deg)
        && finite(&options.robot_error))
    {
        return Err(PositioningError::Invalid {
            field: "simulation pose",
            message: "offsets, rotations and robot error must be finite".into(),
        });
    }
    if options.rotation_deg.iter().any(|d| d.abs() > 90.0) {
        return Err(PositioningError::Invalid {
            field: "simulation.rotation_deg",
            message: format!("{:?}; expected -90 to 90 degrees", options.rotation_deg),
        });
    }
    let nav_bed = roboct_nav::site::Bed {
        pose: Pose::new(17.0, 4.0, std::f64::consts::PI),
        length_m: 2.1,
        width_m: 1.0,
    };
    let bed = BedSite::from_nav(&nav_bed, options.bed_height_mm);
    bed.validate()?;
    let believed = nav_bed.approach(0.8, 0.3);
    let (s, c) = believed.yaw_rad.sin_cos();
    let [fwd, left, yaw] = options.robot_error;
    let robot = Pose::new(
        believed.x + (c * fwd - s * left) / 1000.0,
        believed.y + (s * fwd + c * left) / 1000.0,
        believed.yaw_rad + yaw.to_radians(),
    );
    // Input frame -> patient frame: about the input centre, then offset.
    let r = rotation_xyz_deg(options.rotation_deg);
    let rc = mat_vec(r, options.input_center_mm);
    let patient_from_input: Rigid = (r, sub(options.offset_mm, rc));
    let world = World {
        bed,
        robot,
        anchor: target,
        patient: patient.transformed(patient_from_input)?,
    };
    let phantom = options.scout_phantom.unwrap_or(match target {
        Target::Head => CtdiPhantom::Head16,
        Target::Chest => CtdiPhantom::Body32,
    });
    let popt = &options.position;
    let mut bedside = SimulatedBedside::new(
        world,
        popt.scanner.clone(),
        popt.gantry.clone(),
        phantom,
        options.seed,
    );
    let result = position(
        &mut bedside,
        &ClassicalLocalizer::default(),
        &bed,
        believed,
        target,
        popt,
    )?;
    // The scout frame (docked pose) or, without docking, the parked gantry's frame.
    let pose = result.scout_pose.unwrap_or_else(|| popt.gantry.park());
    let (rs, ts) = bedside.world.scanner_from_patient(&popt.gantry, &pose);
    let (rp, tp) = patient_from_input;
    let scanner_from_input: Rigid = (mat_mul(rs, rp), {
        let v = mat_vec(rs, tp);
        [v[0] + ts[0], v[1] + ts[1], v[2] + ts[2]]
    });
    let patient_in_scanner = bedside.world.patient_in_scanner(&popt.gantry, &pose)?;
    let (scan_range_mm, isocenter_mm) = match &result.outcome {
        Ok(p) => (Some(p.scan_range_mm), Some(p.isocenter_mm)),
        Err(_) => (None, None),
    };
    Ok(Positioned {
        target,
        scout_dlp_mgycm: result.scout.dlp_mgycm(),
        outcome: result.outcome,
        scout: result.scout,
        scan_range_mm,
        isocenter_mm,
        landmarks: result.landmarks,
        patient_in_scanner,
        scanner_from_input,
        scout_pose: result.scout_pose,
    })
}
