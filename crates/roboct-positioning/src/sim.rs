//! The simulated bedside: a bed, a patient lying on it, the robot where it really stopped, the
//! gantry and the scanner. It implements [`Bedside`], so the positioning runs on it as on a
//! real device, and [`SimulatedBedside::acquire_scan`] then scans the planned range.
//!
//! Frames. The **patient frame** is anchored on the true bed at the nominal place of a target
//! ([`crate::docking::nominal_target`]): its origin there, +z towards the head end, +y down,
//! +x the patient's left (LPS for a patient supine, head first). A simulated head or chest is
//! built in it (its canonical origin at the origin) and then posed: turned and offset as a
//! real patient lies. The **scanner frame** follows the gantry, from the robot's *true* pose
//! (the docking used the robot's localisation, which may be off) and the gantry's axes. The
//! patient is seen in the scanner frame through the rigid transform between the two
//! ([`World::scanner_from_patient`]).

use roboct_core::frames::Pose;
use roboct_core::{CancelToken, NoProgress};
use roboct_geometry::vec3::{Vec3, mat_vec, sub};
use roboct_geometry::{Volume, VolumeGrid};
use roboct_phantom::patient::Patient;
use roboct_scanner::patient::{AnalyticPatient, PatientModel, VoxelPatient};
use roboct_scanner::{CtdiPhantom, Protocol, ScannerSpec, SimulatedScan, simulate_scan};

use crate::docking::{BedSite, nominal_point};
use crate::gantry::{Gantry, GantryPose, GantrySpec, SimulatedGantry};
use crate::pipeline::Bedside;
use crate::plan::ScanPlan;
use crate::scout::{ScoutImage, ScoutPass, ScoutTechnique, simulate_pass};
use crate::{PositioningError, Target};

/// A rigid transform `p -> rotation p + translation_mm`.
pub type Rigid = ([[f64; 3]; 3], Vec3);

/// A simulated patient in the patient frame.
#[derive(Clone, Debug)]
pub enum SimPatient {
    /// An analytic patient (`roboct_phantom::head`, `roboct_phantom::chest`).
    Analytic(Patient),
    /// A CT volume in HU (a user's own scan), placed as its grid says.
    Volume(Volume),
}

impl SimPatient {
    /// The patient moved rigidly.
    pub fn transformed(
        &self,
        (rotation, translation_mm): Rigid,
    ) -> Result<SimPatient, PositioningError> {
        Ok(match self {
            SimPatient::Analytic(p) => {
                SimPatient::Analytic(p.transformed(rotation, translation_mm))
            }
            SimPatient::Volume(v) => {
                let g = v.grid();
                let d = g.direction();
                let mut dir = [[0.0; 3]; 3];
                for col in 0..3 {
                    let moved = mat_vec(rotation, [d[0][col], d[1][col], d[2][col]]);
                    for row in 0..3 {
                        dir[row][col] = moved[row];
                    }
                }
                let o = mat_vec(rotation, g.origin_mm());
                let origin = [
                    o[0] + translation_mm[0],
                    o[1] + translation_mm[1],
                    o[2] + translation_mm[2],
                ];
                let grid = VolumeGrid::with_direction(g.size(), g.spacing_mm(), origin, dir)
                    .map_err(|e| PositioningError::Invalid {
                        field: "patient volume",
                        message: e.to_string(),
                    })?;
                SimPatient::Volume(Volume::from_array(grid, v.data().clone()).map_err(|e| {
                    PositioningError::Invalid {
                        field: "patient volume",
                        message: e.to_string(),
                    }
                })?)
            }
        })
    }
}

/// The patient as the scanner sees it: analytic (exact projections) or decomposed voxels.
pub enum SeenPatient {
    /// Exact projections.
    Analytic(Patient),
    /// A decomposed volume.
    Voxels(Box<VoxelPatient>),
}

impl SeenPatient {
    fn of(p: SimPatient) -> Result<Self, PositioningError> {
        Ok(match p {
            SimPatient::Analytic(p) => SeenPatient::Analytic(p),
            SimPatient::Volume(v) => SeenPatient::Voxels(Box::new(VoxelPatient::from_hu(&v)?)),
        })
    }

    fn with_model<T>(&self, supersample: usize, f: impl FnOnce(&dyn PatientModel) -> T) -> T {
        match self {
            SeenPatient::Analytic(p) => f(&AnalyticPatient {
                patient: p,
                supersample,
            }),
            SeenPatient::Voxels(v) => f(v.as_ref()),
        }
    }
}

/// The world around the robot: the true bed and robot pose, and the patient.
#[derive(Clone, Debug)]
pub struct World {
    /// The bed as it really is.
    pub bed: BedSite,
    /// Where the robot really stopped.
    pub robot: Pose,
    /// The target whose nominal place anchors the patient frame.
    pub anchor: Target,
    /// The patient, in the patient frame.
    pub patient: SimPatient,
}

impl World {
    /// The scanner frame of `pose` from the patient frame.
    pub fn scanner_from_patient(&self, spec: &GantrySpec, pose: &GantryPose) -> Rigid {
        // Both frames in a world frame of map millimetres (x, y) and height (z up), with the
        // scanner's axes: x = the right of someone facing along z, y down, z horizontal.
        let frame = |heading_rad: f64, origin: Vec3| {
            let (s, c) = heading_rad.sin_cos();
            // Columns: x = (s, -c, 0), y = (0, 0, -1), z = (c, s, 0).
            let m = [[s, 0.0, c], [-c, 0.0, s], [0.0, -1.0, 0.0]];
            (m, origin)
        };
        let (point, height) = nominal_point(&self.bed, self.anchor);
        let (m_p, o_p) = frame(
            self.bed.heading_rad,
            [point[0] * 1000.0, point[1] * 1000.0, height],
        );
        let (s, c) = self.robot.yaw_rad.sin_cos();
        let fwd = spec.park_forward_mm + pose.along_mm;
        let left = pose.lateral_mm;
        let o_g = [
            self.robot.x * 1000.0 + c * fwd - s * left,
            self.robot.y * 1000.0 + s * fwd + c * left,
            pose.height_mm,
        ];
        let (m_g, _) = frame(self.robot.yaw_rad + pose.yaw_rad, o_g);
        // p_g = M_g^T (o_p + M_p p - o_g).
        let mt = roboct_geometry::vec3::transpose(m_g);
        (
            roboct_geometry::vec3::mat_mul(mt, m_p),
            mat_vec(mt, sub(o_p, o_g)),
        )
    }

    /// The patient in the scanner frame of `pose`.
    pub fn patient_in_scanner(
        &self,
        spec: &GantrySpec,
        pose: &GantryPose,
    ) -> Result<SimPatient, PositioningError> {
        self.patient
            .transformed(self.scanner_from_patient(spec, pose))
    }
}

/// The simulated bedside: world, gantry and scanner.
pub struct SimulatedBedside {
    /// The world.
    pub world: World,
    scanner: ScannerSpec,
    gantry: SimulatedGantry,
    phantom: CtdiPhantom,
    seed: u64,
    seen: Option<(GantryPose, SeenPatient)>,
}

impl SimulatedBedside {
    /// A bedside with the gantry parked; scouts are dosed in `phantom`, noise is seeded.
    pub fn new(
        world: World,
        scanner: ScannerSpec,
        gantry: GantrySpec,
        phantom: CtdiPhantom,
        seed: u64,
    ) -> Self {
        Self {
            world,
            scanner,
            gantry: SimulatedGantry::new(gantry),
            phantom,
            seed,
            seen: None,
        }
    }

    /// The scanner.
    pub fn scanner(&self) -> &ScannerSpec {
        &self.scanner
    }

    /// The patient as the scanner at the gantry's current pose sees it (cached per pose).
    fn seen(&mut self) -> Result<&SeenPatient, PositioningError> {
        let pose = self.gantry.pose();
        if self.seen.as_ref().is_none_or(|(p, _)| *p != pose) {
            let p = self.world.patient_in_scanner(self.gantry.spec(), &pose)?;
            self.seen = Some((pose, SeenPatient::of(p)?));
        }
        Ok(&self.seen.as_ref().expect("just set").1)
    }

    /// Scans the plan: moves the gantry to each rotation's pose and simulates the rotation
    /// with `protocol`'s technique (its beam width, centre and isocentre are the plan's).
    /// Only a [`ScanPlan`] can be scanned: a refused positioning has none.
    pub fn acquire_scan(
        &mut self,
        plan: &ScanPlan,
        protocol: &Protocol,
        supersample: usize,
    ) -> Result<Vec<SimulatedScan>, PositioningError> {
        let mut scans = Vec::with_capacity(plan.rotations.len());
        for (k, rotation) in plan.rotations.iter().enumerate() {
            self.gantry.move_to(rotation.gantry)?;
            let p = Protocol {
                collimation_mm: plan.collimation_mm,
                z_center_mm: 0.0,
                isocenter_xy_mm: [0.0, 0.0],
                seed: protocol.seed.wrapping_add(k as u64),
                ..protocol.clone()
            };
            let scanner = self.scanner.clone();
            let seen = self.seen()?;
            let scan = seen.with_model(supersample, |m| {
                simulate_scan(&scanner, &p, m, &NoProgress, &CancelToken::new())
            })?;
            scans.push(scan);
        }
        Ok(scans)
    }
}

impl Gantry for SimulatedBedside {
    fn pose(&self) -> GantryPose {
        self.gantry.pose()
    }

    fn move_to(&mut self, target: GantryPose) -> Result<GantryPose, PositioningError> {
        self.gantry.move_to(target)
    }
}

impl Bedside for SimulatedBedside {
    fn scout_pass(
        &mut self,
        pass: &ScoutPass,
        technique: &ScoutTechnique,
    ) -> Result<ScoutImage, PositioningError> {
        // The sweep's ends must be within the travel.
        let here = self.gantry.pose();
        for z in [pass.z_from_mm, pass.z_to_mm] {
            let p = here.moved_by([pass.pan_mm[0], pass.pan_mm[1], z]);
            self.gantry
                .spec()
                .reach(&p)
                .map_err(PositioningError::Reach)?;
        }
        let (scanner, phantom) = (self.scanner.clone(), self.phantom);
        let seed = self
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add((pass.z_from_mm.to_bits() ^ pass.pan_mm[0].to_bits()) >> 7)
            .wrapping_add(pass.view as u64);
        let seen = self.seen()?;
        seen.with_model(technique.supersample, |m| {
            simulate_pass(&scanner, technique, pass, m, phantom, seed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roboct_geometry::vec3::{mat_mul, transpose};

    #[test]
    fn a_perfect_docking_makes_the_scanner_frame_the_patient_frame() {
        let bed = BedSite {
            head_end_m: [15.95, 4.0],
            heading_rad: std::f64::consts::PI,
            top_height_mm: 600.0,
        };
        let spec = GantrySpec::mobile();
        let nav_bed = roboct_nav::site::Bed {
            pose: Pose::new(17.0, 4.0, std::f64::consts::PI),
            length_m: 2.1,
            width_m: 1.0,
        };
        let robot = nav_bed.approach(0.8, 0.3);
        let world = World {
            bed,
            robot,
            anchor: Target::Head,
            patient: SimPatient::Analytic(Patient::new(vec![], vec![]).unwrap()),
        };
        let d = crate::docking::dock(&spec, &bed, robot, spec.park(), Target::Head)
            .unwrap()
            .unwrap();
        let (r, t) = world.scanner_from_patient(&spec, &d.pose);
        for i in 0..3 {
            for j in 0..3 {
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((r[i][j] - e).abs() < 1e-12, "{r:?}");
            }
            assert!(t[i].abs() < 1e-9, "{t:?}");
        }
        // Moving the gantry by an offset in its frame moves the patient the other way.
        let moved = d.pose.moved_by([10.0, -20.0, 30.0]);
        let (r2, t2) = world.scanner_from_patient(&spec, &moved);
        assert!(
            (t2[0] + 10.0).abs() < 1e-9
                && (t2[1] - 20.0).abs() < 1e-9
                && (t2[2] + 30.0).abs() < 1e-9
        );
        // Yawed gantries see the patient turned about the vertical (scanner y); the rotation
        // stays a rotation.
        let yawed = GantryPose {
            yaw_rad: 0.05,
            ..d.pose
        };
        let (r3, _) = world.scanner_from_patient(&spec, &yawed);
        let i = mat_mul(r3, transpose(r3));
        assert!((i[0][0] - 1.0).abs() < 1e-12 && i[0][2].abs() < 1e-12);
        assert!((r3[1][1] - 1.0).abs() < 1e-12 && (r3[0][0] - 0.05f64.cos()).abs() < 1e-12);
        assert_eq!(r2, r);
    }
}
