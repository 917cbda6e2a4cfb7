//! An anthropomorphic adult head in HU, with random anatomy from a seed and insertable
//! haemorrhages whose truth is exact.
//!
//! The design follows the FORBILD head phantom (Lauritsch & Bruder; 3D definition in
//! `RTKConsortium/Forbild` `HeadPhantom.pha`): a skull as an ellipsoidal shell, a brain inside
//! it, ventricles, eyes, sinuses and dense skull-base bone, built from clipped quadrics. Its
//! sizes and CT numbers are made anatomical where FORBILD's are not (FORBILD's skull is
//! 19 x 24 x 25 cm, its brain +50 HU and its "CSF" +45 HU): head breadth about 150 mm and length
//! about 190 mm (adult means), calvarium 5-8 mm, grey matter +37..45 HU, white matter +20..30,
//! CSF 0..15, acute blood +40..90, fat about -90, scalp, orbital fat, a falx that is slightly
//! dense, ventricles of 15-35 mL, a face with maxillary sinuses and a jaw, and a neck with the
//! cervical spine. Frames are the patient's (LPS: +x the patient's left, +y posterior, +z
//! superior), the centre of the braincase at the origin before the pose is applied.
//!
//! Findings ([`FindingKind`]): intraparenchymal (an ellipsoidal clot in white matter or the
//! basal ganglia), subdural (a crescent between the inner table and the brain, over the
//! convexity), epidural (a lens, a ball cut by the inner table), subarachnoid (blood in the
//! sylvian fissure, a convexity sulcus or the basal cisterns) and intraventricular (blood
//! layering in an occipital horn, the patient supine). Distractors real readers meet:
//! calcified pineal gland and choroid plexus, falx calcification, the dense falx itself, and
//! partial volume and beam hardening at the skull base and petrous bones. Large mass lesions
//! push the midline (septum, third ventricle, the middle of the falx) to the other side by a
//! known shift.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use roboct_geometry::vec3::{Vec3, add, mat_mul, mat_vec, norm, scale, sub};

use crate::PhantomError;
use crate::material::Tissue;
use crate::patient::{Body, Organ, Patient};
use crate::rot_z_deg;
use crate::solid::{HalfSpace, Quadric, Solid, rot_x_deg, rot_y_deg};

/// Kinds of intracranial haemorrhage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// In the brain parenchyma.
    Intraparenchymal,
    /// Between the dura and the arachnoid: a crescent over the convexity.
    Subdural,
    /// Between the skull and the dura: a lens.
    Epidural,
    /// In the subarachnoid space: sulci, fissures, cisterns.
    Subarachnoid,
    /// In the ventricles.
    Intraventricular,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: [FindingKind; 5] = [
        FindingKind::Intraparenchymal,
        FindingKind::Subdural,
        FindingKind::Epidural,
        FindingKind::Subarachnoid,
        FindingKind::Intraventricular,
    ];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Intraparenchymal => "intraparenchymal",
            FindingKind::Subdural => "subdural",
            FindingKind::Epidural => "epidural",
            FindingKind::Subarachnoid => "subarachnoid",
            FindingKind::Intraventricular => "intraventricular",
        }
    }
}

/// A haemorrhage kind that is not one of [`FindingKind::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseKindError {
    /// Neither a name nor an abbreviation.
    #[error(
        "unknown haemorrhage kind {text:?}; expected one of {} (or iph, sdh, edh, sah, ivh)",
        FindingKind::ALL.map(|k| k.name()).join(", ")
    )]
    Unknown {
        /// What was given.
        text: String,
    },
}

impl roboct_core::Recover for ParseKindError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            ParseKindError::Unknown { .. } => roboct_core::Recovery::WaitForOperator,
        }
    }
}

impl std::str::FromStr for FindingKind {
    type Err = ParseKindError;
    fn from_str(s: &str) -> Result<Self, ParseKindError> {
        let t = s.trim().to_ascii_lowercase();
        let by_abbrev = match t.as_str() {
            "iph" | "ich" => Some(FindingKind::Intraparenchymal),
            "sdh" => Some(FindingKind::Subdural),
            "edh" => Some(FindingKind::Epidural),
            "sah" => Some(FindingKind::Subarachnoid),
            "ivh" => Some(FindingKind::Intraventricular),
            _ => None,
        };
        by_abbrev
            .or_else(|| Self::ALL.into_iter().find(|k| k.name() == t))
            .ok_or_else(|| ParseKindError::Unknown {
                text: s.to_string(),
            })
    }
}

/// The patient's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The patient's left (+x).
    Left,
    /// The patient's right (-x).
    Right,
    /// On the midline.
    Midline,
}

impl Side {
    fn sign(self) -> f64 {
        match self {
            Side::Left => 1.0,
            Side::Right => -1.0,
            Side::Midline => 0.0,
        }
    }
}

/// A haemorrhage to insert.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FindingSpec {
    /// What kind.
    pub kind: FindingKind,
    /// Volume asked for, mL (the truth reports the volume actually made).
    pub volume_ml: f64,
    /// Which side (subarachnoid blood in the basal cisterns is midline).
    pub side: Side,
    /// CT number of the blood at 70 keV (acute clot: 40-90 HU).
    pub hu: f64,
}

/// Distractors: dense things in a normal head that are not blood.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistractorKind {
    /// Calcified pineal gland (midline, behind the third ventricle).
    PinealCalcification,
    /// Calcified choroid plexus in the atria of the lateral ventricles.
    ChoroidPlexusCalcification,
    /// A calcified plaque in the falx.
    FalxCalcification,
}

/// How a head varies between patients; everything is drawn from the seed.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadOptions {
    /// The seed of every random choice.
    pub seed: u64,
    /// Haemorrhages to insert.
    pub findings: Vec<FindingSpec>,
    /// Whether to add calcifications (pineal, choroid plexus, falx: each with a probability).
    pub distractors: bool,
    /// Largest translation of the head from the isocentre, mm (each axis).
    pub max_offset_mm: f64,
    /// Largest rotation about each axis, degrees.
    pub max_rotation_deg: f64,
}

impl Default for HeadOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            findings: Vec::new(),
            distractors: true,
            max_offset_mm: 10.0,
            max_rotation_deg: 6.0,
        }
    }
}

/// What is true about a generated head, in the world frame after the pose.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeadTruth {
    /// The seed.
    pub seed: u64,
    /// The findings as made.
    pub findings: Vec<FindingTruth>,
    /// The distractors present (kind and centre).
    pub distractors: Vec<(DistractorKind, Vec3)>,
    /// Shift of the septum pellucidum and third ventricle from the head's midline, mm.
    pub midline_shift_mm: f64,
    /// The head's pose: rotation (rows) and translation applied to the canonical head.
    pub rotation: [[f64; 3]; 3],
    /// Translation, mm.
    pub translation_mm: Vec3,
    /// Named points: `vertex`, `skull_base`, `left_eye`, `right_eye`, `head_center`,
    /// `brain_center` (world mm).
    pub landmarks: Vec<(String, Vec3)>,
}

/// One inserted finding.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FindingTruth {
    /// Kind.
    pub kind: FindingKind,
    /// Side.
    pub side: Side,
    /// CT number of the blood at 70 keV.
    pub hu: f64,
    /// Largest thickness across the collection (extra-axial) or smallest diameter of the clot,
    /// mm, by design.
    pub max_thickness_mm: f64,
    /// The volume asked for, mL.
    pub requested_volume_ml: f64,
}

/// A generated head: the patient and its truth.
#[derive(Clone, Debug)]
pub struct Head {
    /// The patient (materials and bodies, posed in the world).
    pub patient: Patient,
    /// The truth.
    pub truth: HeadTruth,
}

/// Material slots of the head, in [`Patient::materials`] order.
mod mat {
    pub const SOFT: usize = 0;
    pub const FAT: usize = 1;
    pub const BONE: usize = 2;
    pub const DENSE_BONE: usize = 3;
    pub const CSF: usize = 4;
    pub const GREY: usize = 5;
    pub const WHITE: usize = 6;
    pub const AIR: usize = 7;
    pub const VITREOUS: usize = 8;
    pub const DURA: usize = 9;
    pub const CALCIFICATION: usize = 10;
    pub const FIRST_BLOOD: usize = 11;
}

struct Rng(Pcg64);

impl Rng {
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.0.random::<f64>()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.0.random::<f64>() < p
    }
}

/// The canonical head's dimensions, drawn per patient.
struct Anatomy {
    /// Scale of the whole head per axis.
    s: Vec3,
    skull_mm: f64,
    csf_mm: f64,
    ventricle_scale: f64,
    grey_hu: f64,
    white_hu: f64,
    csf_hu: f64,
}

impl Anatomy {
    fn draw(rng: &mut Rng) -> Self {
        let overall = rng.uniform(0.92, 1.08);
        Anatomy {
            s: [
                overall * rng.uniform(0.95, 1.05),
                overall * rng.uniform(0.95, 1.05),
                overall * rng.uniform(0.95, 1.05),
            ],
            skull_mm: rng.uniform(5.0, 8.0),
            csf_mm: rng.uniform(1.5, 3.5),
            ventricle_scale: rng.uniform(0.8, 1.5),
            grey_hu: rng.uniform(37.0, 44.0),
            white_hu: rng.uniform(24.0, 30.0),
            csf_hu: rng.uniform(2.0, 10.0),
        }
    }

    /// A point of the canonical design scaled to this patient.
    fn p(&self, v: Vec3) -> Vec3 {
        std::array::from_fn(|a| v[a] * self.s[a])
    }

    /// Semi-axes scaled to this patient.
    fn a(&self, v: Vec3) -> Vec3 {
        self.p(v)
    }

    fn q(&self, c: Vec3, a: Vec3) -> Quadric {
        Quadric::new(self.p(c), self.a(a))
    }

    /// Outer surface of the skull.
    fn skull_outer(&self) -> Quadric {
        self.q([0.0, 5.0, 15.0], [72.0, 92.0, 91.0])
    }

    /// Inner table of the skull: the intracranial cavity's ellipsoid.
    fn cavity(&self) -> Quadric {
        self.skull_outer().inset(self.skull_mm)
    }

    /// Above the floor of the cranial cavity (anterior fossa high, posterior fossa low),
    /// raised by `raise_mm`: keeps z >= -32 - 0.33 y in the canonical head.
    fn floor(&self, raise_mm: f64) -> HalfSpace {
        HalfSpace::below(
            self.p([0.0, 0.0, -32.0 + raise_mm]),
            [0.0, -0.33 * self.s[2] / self.s[1], -1.0],
        )
    }

    /// Below the floor raised by `raise_mm` (the complement of [`Anatomy::floor`]).
    fn under_floor(&self, raise_mm: f64) -> HalfSpace {
        HalfSpace::below(
            self.p([0.0, 0.0, -32.0 + raise_mm]),
            [0.0, 0.33 * self.s[2] / self.s[1], 1.0],
        )
    }
}

fn body(name: &str, solid: Solid, material: usize, organ: Organ) -> Body {
    Body {
        name: name.to_string(),
        solid,
        material,
        organ,
        finding: None,
    }
}

/// Builds a head from the options.
pub fn head(options: &HeadOptions) -> Result<Head, PhantomError> {
    let invalid = |message: String| PhantomError::Invalid {
        path: "<head phantom>".into(),
        message,
    };
    for (i, f) in options.findings.iter().enumerate() {
        if !(f.volume_ml > 0.0 && f.volume_ml <= 150.0) {
            return Err(invalid(format!(
                "finding {i}: volume {} mL; expected more than 0 and at most 150 mL",
                f.volume_ml
            )));
        }
        if !(f.hu >= 20.0 && f.hu <= 120.0) {
            return Err(invalid(format!(
                "finding {i}: {} HU; blood is expected between 20 and 120 HU",
                f.hu
            )));
        }
    }
    if !(options.max_offset_mm >= 0.0 && options.max_offset_mm <= 200.0) {
        return Err(invalid(format!(
            "max_offset_mm {}; expected 0 to 200",
            options.max_offset_mm
        )));
    }
    if !(options.max_rotation_deg >= 0.0 && options.max_rotation_deg <= 45.0) {
        return Err(invalid(format!(
            "max_rotation_deg {}; expected 0 to 45",
            options.max_rotation_deg
        )));
    }
    let mut rng = Rng(Pcg64::seed_from_u64(options.seed));
    let an = Anatomy::draw(&mut rng);

    let mut materials = vec![
        Tissue::Muscle
            .material()
            .with_hu(45.0, "scalp and soft tissue")?,
        Tissue::Adipose.material().with_hu(-90.0, "fat")?,
        // The calvarium's average of cortical tables and diploe.
        Tissue::CorticalBone.material().with_hu(1200.0, "skull")?,
        Tissue::CorticalBone
            .material()
            .with_hu(1700.0, "dense bone")?,
        Tissue::Water.material().with_hu(an.csf_hu, "CSF")?,
        Tissue::Brain
            .material()
            .with_hu(an.grey_hu, "grey matter")?,
        Tissue::Brain
            .material()
            .with_hu(an.white_hu, "white matter")?,
        Tissue::Air.material(),
        Tissue::Water.material().with_hu(8.0, "vitreous")?,
        Tissue::Muscle.material().with_hu(50.0, "dura")?,
        Tissue::CorticalBone
            .material()
            .with_hu(rng.uniform(180.0, 450.0), "calcification")?,
    ];
    for (i, f) in options.findings.iter().enumerate() {
        materials.push(
            Tissue::Blood
                .material()
                .with_hu(f.hu, &format!("blood {i}"))?,
        );
    }

    // Neck and face first: the braincase paints over where they meet. One push per organ
    // reads as the anatomy list.
    let mut b: Vec<Body> = Vec::with_capacity(64);
    b.push(body(
        "neck",
        Solid::ellipsoid(an.q([0.0, 15.0, -135.0], [52.0, 56.0, 65.0])),
        mat::SOFT,
        Organ::Other,
    ));
    b.push(body(
        "cervical spine",
        Solid::ellipsoid(an.q([0.0, 28.0, -135.0], [13.0, 12.0, 62.0])),
        mat::BONE,
        Organ::Spine,
    ));
    b.push(body(
        "spinal canal",
        Solid::ellipsoid(an.q([0.0, 30.0, -135.0], [6.0, 6.0, 64.0])),
        mat::CSF,
        Organ::Other,
    ));
    b.push(body(
        "face",
        Solid::ellipsoid(an.q([0.0, -30.0, -45.0], [65.0, 68.0, 60.0])),
        mat::SOFT,
        Organ::Head,
    ));
    b.push(body(
        "mandible",
        Solid::shell(
            an.q([0.0, -35.0, -92.0], [52.0, 55.0, 14.0]),
            an.q([0.0, -35.0, -92.0], [44.0, 47.0, 20.0]),
        )
        .clip(HalfSpace::below(an.p([0.0, -10.0, 0.0]), [0.0, 1.0, 0.0])),
        mat::BONE,
        Organ::Other,
    ));
    b.push(body(
        "maxilla and teeth",
        Solid::ellipsoid(an.q([0.0, -55.0, -70.0], [35.0, 28.0, 8.0])),
        mat::DENSE_BONE,
        Organ::Other,
    ));
    for side in [-1.0, 1.0] {
        b.push(body(
            "maxillary sinus",
            Solid::ellipsoid(an.q([24.0 * side, -45.0, -48.0], [15.0, 17.0, 17.0])),
            mat::AIR,
            Organ::Other,
        ));
    }
    b.push(body(
        "nasal cavity",
        Solid::ellipsoid(an.q([0.0, -58.0, -48.0], [7.0, 24.0, 20.0])),
        mat::AIR,
        Organ::Other,
    ));
    // The braincase: scalp, fat, skull, then the cavity carved out of the skull.
    let outer = an.skull_outer();
    b.push(body(
        "scalp",
        Solid::ellipsoid(Quadric {
            semi_axes_mm: outer.semi_axes_mm.map(|a| a + 5.0),
            ..outer
        }),
        mat::SOFT,
        Organ::Head,
    ));
    b.push(body(
        "subcutaneous fat",
        Solid::shell(
            Quadric {
                semi_axes_mm: outer.semi_axes_mm.map(|a| a + 3.0),
                ..outer
            },
            outer,
        )
        .clip(an.floor(-10.0)),
        mat::FAT,
        Organ::Head,
    ));
    let cavity = an.cavity();
    b.push(body(
        "skull",
        Solid::shell(outer, cavity).clip(an.floor(-10.0)),
        mat::BONE,
        Organ::Skull,
    ));
    b.push(body(
        "skull base",
        Solid::ellipsoid(cavity)
            .clip(an.floor(-10.0))
            .clip(an.under_floor(0.0)),
        mat::BONE,
        Organ::Skull,
    ));
    // Frontal bone thickening with the frontal sinus (the cavity carves its inner part).
    b.push(body(
        "frontal bone",
        Solid::ellipsoid(an.q([0.0, -80.0, 22.0], [24.0, 14.0, 18.0])).within(outer),
        mat::BONE,
        Organ::Skull,
    ));
    b.push(body(
        "frontal sinus",
        Solid::ellipsoid(an.q([0.0, -83.0, 22.0], [14.0, 3.5, 10.0])),
        mat::AIR,
        Organ::Other,
    ));
    b.push(body(
        "sphenoid sinus",
        Solid::ellipsoid(an.q([0.0, -22.0, -40.0], [12.0, 11.0, 8.0])),
        mat::AIR,
        Organ::Other,
    ));
    for side in [-1.0f64, 1.0] {
        b.push(body(
            "mastoid air cells",
            Solid::ellipsoid(an.q([56.0 * side, 30.0, -42.0], [8.0, 10.0, 9.0])),
            mat::AIR,
            Organ::Other,
        ));
    }
    // Eyes and orbital fat, below the anterior fossa.
    for side in [-1.0, 1.0] {
        b.push(body(
            "orbital fat",
            Solid::ellipsoid(an.q([32.0 * side, -62.0, -20.0], [17.0, 22.0, 15.0])),
            mat::FAT,
            Organ::Other,
        ));
        b.push(body(
            "eye",
            Solid::ellipsoid(an.q([32.0 * side, -70.0, -20.0], [12.0, 12.0, 12.0])),
            mat::VITREOUS,
            Organ::Eye,
        ));
    }
    // The intracranial cavity, filled with CSF (the subarachnoid space).
    b.push(body(
        "intracranial space",
        Solid::ellipsoid(cavity).clip(an.floor(0.0)),
        mat::CSF,
        Organ::Brain,
    ));
    let brain_surface = cavity.inset(an.csf_mm);
    b.push(body(
        "cortex",
        Solid::ellipsoid(brain_surface).clip(an.floor(an.csf_mm)),
        mat::GREY,
        Organ::Brain,
    ));
    b.push(body(
        "cerebellum",
        Solid::ellipsoid(an.q([0.0, 48.0, -30.0], [52.0, 30.0, 24.0]))
            .within(brain_surface)
            .clip(an.floor(an.csf_mm)),
        mat::GREY,
        Organ::Brain,
    ));
    b.push(body(
        "white matter",
        Solid::ellipsoid(an.q([0.0, 0.0, 32.0], [52.0, 72.0, 52.0]))
            .within(brain_surface.inset(6.0)),
        mat::WHITE,
        Organ::Brain,
    ));
    b.push(body(
        "brainstem",
        Solid::ellipsoid(an.q([0.0, 22.0, -22.0], [13.0, 13.0, 32.0])).within(brain_surface),
        mat::WHITE,
        Organ::Brain,
    ));
    // The petrous ridges rise from the skull base into the cavity between the middle and
    // posterior fossae: dense bone next to brain (partial volume, beam hardening).
    for side in [-1.0f64, 1.0] {
        b.push(body(
            "petrous bone",
            Solid::ellipsoid(
                an.q([28.0 * side, 12.0, -36.0], [29.0, 8.0, 10.0])
                    .rotated(rot_z_deg(-48.0 * side)),
            ),
            mat::DENSE_BONE,
            Organ::Skull,
        ));
    }

    // Mass effect: the midline structures move away from large mass lesions.
    let mass_ml: f64 = options
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                FindingKind::Subdural | FindingKind::Epidural | FindingKind::Intraparenchymal
            )
        })
        .map(|f| f.volume_ml * -f.side.sign())
        .sum();
    // About 1 mm per 5 mL beyond 20 mL, towards the side with less mass, at most 15 mm.
    let shift_mm = (mass_ml.signum() * ((mass_ml.abs() - 20.0).max(0.0) / 5.0)).clamp(-15.0, 15.0);

    // Sylvian fissures (CSF), then the interhemispheric fissure with the falx.
    for side in [-1.0f64, 1.0] {
        b.push(body(
            "sylvian fissure",
            Solid::ellipsoid(
                an.q([50.0 * side, -10.0, 8.0], [2.5, 26.0, 10.0])
                    .rotated(rot_y_deg(-18.0 * side)),
            )
            .within(brain_surface),
            mat::CSF,
            Organ::Brain,
        ));
    }
    b.push(body(
        "interhemispheric fissure",
        Solid::ellipsoid(an.q([0.0, 0.0, 50.0], [2.5, 86.0, 52.0]))
            .within(cavity)
            .clip(an.floor(30.0)),
        mat::CSF,
        Organ::Brain,
    ));
    for (name, y0, y1, frac) in [
        ("falx (front)", -90.0, -30.0, 0.0),
        ("falx (middle)", -30.0, 30.0, 0.8),
        ("falx (back)", 30.0, 90.0, 0.0),
    ] {
        b.push(body(
            name,
            Solid::ellipsoid(an.q([shift_mm * frac / an.s[0], 0.0, 52.0], [0.9, 86.0, 50.0]))
                .within(cavity)
                .clip(an.floor(32.0))
                .clip(HalfSpace::below(an.p([0.0, y1, 0.0]), [0.0, 1.0, 0.0]))
                .clip(HalfSpace::below(an.p([0.0, y0, 0.0]), [0.0, -1.0, 0.0])),
            mat::DURA,
            Organ::Brain,
        ));
    }
    // Deep grey matter.
    for side in [-1.0, 1.0] {
        b.push(body(
            "basal ganglia and thalamus",
            Solid::ellipsoid(an.q(
                [17.0 * side + shift_mm / an.s[0], 0.0, 12.0],
                [11.0, 20.0, 13.0],
            )),
            mat::GREY,
            Organ::Brain,
        ));
    }
    // Ventricles, shifted with the midline; the side pushed against is squeezed.
    let vs = an.ventricle_scale;
    let mut ventricle_bodies = Vec::new();
    let mut ventricle_shapes = Vec::new();
    for side in [-1.0f64, 1.0] {
        let squeeze = if shift_mm * side < 0.0 {
            (1.0 - shift_mm.abs() / 25.0).max(0.5)
        } else {
            1.0
        };
        let x = side * (3.0 + 6.0 * vs) + shift_mm / an.s[0];
        let lateral = an
            .q([x, -4.0, 28.0], [6.0 * vs * squeeze, 30.0, 8.0 * vs])
            .rotated(rot_z_deg(8.0 * side));
        ventricle_bodies.push(body(
            "lateral ventricle",
            Solid::ellipsoid(lateral),
            mat::CSF,
            Organ::Ventricle,
        ));
        let horn = an
            .q(
                [x + side * (4.0 + 2.0 * vs), 34.0, 22.0],
                [5.5 * vs * squeeze, 15.0, 7.0 * vs],
            )
            .rotated(rot_z_deg(-20.0 * side));
        ventricle_shapes.push((lateral, horn));
        ventricle_bodies.push(body(
            "occipital horn",
            Solid::ellipsoid(horn),
            mat::CSF,
            Organ::Ventricle,
        ));
    }
    ventricle_bodies.push(body(
        "third ventricle",
        Solid::ellipsoid(an.q([shift_mm / an.s[0], 4.0, 8.0], [2.0 * vs, 14.0, 9.0])),
        mat::CSF,
        Organ::Ventricle,
    ));
    ventricle_bodies.push(body(
        "fourth ventricle",
        Solid::ellipsoid(an.q([0.0, 38.0, -24.0], [6.0, 5.0, 7.0])),
        mat::CSF,
        Organ::Ventricle,
    ));
    b.extend(ventricle_bodies);
    // The septum pellucidum between the lateral ventricles: the marker of midline shift.
    b.push(body(
        "septum pellucidum",
        Solid::ellipsoid(an.q([shift_mm / an.s[0], -6.0, 28.0], [0.8, 22.0, 7.0])),
        mat::WHITE,
        Organ::Brain,
    ));

    // Distractors.
    let mut distractors = Vec::new();
    if options.distractors {
        if rng.chance(0.6) {
            let c = an.p([shift_mm / an.s[0], 22.0, 14.0]);
            let r = rng.uniform(1.5, 3.5);
            b.push(body(
                "pineal calcification",
                Solid::ellipsoid(Quadric::new(c, [r; 3])),
                mat::CALCIFICATION,
                Organ::Brain,
            ));
            distractors.push((DistractorKind::PinealCalcification, c));
        }
        if rng.chance(0.5) {
            for side in [-1.0, 1.0] {
                let c = an.p([17.0 * side + shift_mm / an.s[0], 30.0, 24.0]);
                let r = rng.uniform(1.5, 3.0);
                b.push(body(
                    "choroid plexus calcification",
                    Solid::ellipsoid(Quadric::new(c, [r, r * 1.4, r])),
                    mat::CALCIFICATION,
                    Organ::Ventricle,
                ));
                distractors.push((DistractorKind::ChoroidPlexusCalcification, c));
            }
        }
        if rng.chance(0.3) {
            let c = an.p([0.0, rng.uniform(-50.0, 20.0), rng.uniform(60.0, 80.0)]);
            b.push(body(
                "falx calcification",
                Solid::ellipsoid(Quadric::new(
                    c,
                    [1.2, rng.uniform(5.0, 10.0), rng.uniform(3.0, 6.0)],
                )),
                mat::CALCIFICATION,
                Organ::Brain,
            ));
            distractors.push((DistractorKind::FalxCalcification, c));
        }
    }

    // Findings, painted over the brain.
    let mut findings = Vec::new();
    for (i, f) in options.findings.iter().enumerate() {
        let material = mat::FIRST_BLOOD + i;
        let (solids, thickness) =
            finding_solids(f, &an, cavity, brain_surface, &ventricle_shapes, &mut rng)?;
        for s in solids {
            b.push(Body {
                name: format!("{} haemorrhage", f.kind.name()),
                solid: s,
                material,
                organ: Organ::Brain,
                finding: Some(i),
            });
        }
        findings.push(FindingTruth {
            kind: f.kind,
            side: f.side,
            hu: f.hu,
            max_thickness_mm: thickness,
            requested_volume_ml: f.volume_ml,
        });
    }

    // The pose.
    let max_r = options.max_rotation_deg;
    let rotation = mat_mul(
        rot_z_deg(rng.uniform(-max_r, max_r)),
        mat_mul(
            rot_x_deg(rng.uniform(-max_r, max_r)),
            rot_y_deg(rng.uniform(-max_r, max_r)),
        ),
    );
    let m = options.max_offset_mm;
    let translation_mm = [rng.uniform(-m, m), rng.uniform(-m, m), rng.uniform(-m, m)];
    let pose = |p: Vec3| add(mat_vec(rotation, p), translation_mm);
    let landmarks = vec![
        ("vertex".to_string(), pose(an.p([0.0, 5.0, 15.0 + 96.0]))),
        ("skull_base".to_string(), pose(an.p([0.0, 20.0, -38.0]))),
        ("left_eye".to_string(), pose(an.p([32.0, -70.0, -20.0]))),
        ("right_eye".to_string(), pose(an.p([-32.0, -70.0, -20.0]))),
        ("head_center".to_string(), pose(an.p([0.0, 5.0, 15.0]))),
        ("brain_center".to_string(), pose(an.p([0.0, 5.0, 20.0]))),
    ];
    let canonical = Patient::new(materials, b)?;
    let patient = canonical.transformed(rotation, translation_mm);
    let distractors = distractors.into_iter().map(|(k, c)| (k, pose(c))).collect();
    Ok(Head {
        patient,
        truth: HeadTruth {
            seed: options.seed,
            findings,
            distractors,
            midline_shift_mm: shift_mm.abs(),
            rotation,
            translation_mm,
            landmarks,
        },
    })
}

/// The solids of one finding and its thickness by design. Each kind's shape grows with one
/// parameter; the parameter that gives the volume asked for is found by bisection on the
/// exact solids' measured volume (the truth still reports the volume measured afterwards,
/// after painting).
fn finding_solids(
    f: &FindingSpec,
    an: &Anatomy,
    cavity: Quadric,
    brain_surface: Quadric,
    ventricles: &[(Quadric, Quadric)],
    rng: &mut Rng,
) -> Result<(Vec<Solid>, f64), PhantomError> {
    let v_mm3 = f.volume_ml * 1000.0;
    let side = if f.side == Side::Midline && f.kind != FindingKind::Subarachnoid {
        // Only cisternal blood sits on the midline; others go left.
        1.0
    } else {
        f.side.sign()
    };
    Ok(match f.kind {
        FindingKind::Intraparenchymal => {
            // A clot in the white matter or basal ganglia.
            let ratios = [1.0, rng.uniform(0.65, 1.0), rng.uniform(0.55, 0.9)];
            let centre = an.p([
                side * rng.uniform(20.0, 32.0),
                rng.uniform(-30.0, 25.0),
                rng.uniform(10.0, 45.0),
            ]);
            let turn = mat_mul(
                rot_z_deg(rng.uniform(0.0, 180.0)),
                rot_x_deg(rng.uniform(-30.0, 30.0)),
            );
            let make = |a: f64| {
                vec![
                    Solid::ellipsoid(Quadric::new(centre, ratios.map(|r| r * a)).rotated(turn))
                        .within(brain_surface.inset(3.0)),
                ]
            };
            let a = fit(&make, v_mm3, 0.5, 60.0);
            (make(a), 2.0 * a * ratios[2])
        }
        FindingKind::Subdural => {
            // A crescent over the convexity: the inner table minus itself moved inwards by
            // the thickness, limited front to back and below; larger ones spread further.
            let extent = (f.volume_ml / 40.0).cbrt().clamp(0.35, 1.3);
            let half_length = 70.0 * extent;
            let y0 = rng.uniform(-20.0, 15.0);
            let z_low = 60.0 - 75.0 * extent.min(1.0);
            let make = |t: f64| {
                let inner = Quadric {
                    center_mm: sub(cavity.center_mm, [side * t, 0.0, 0.0]),
                    ..cavity
                };
                vec![
                    Solid::shell(cavity, inner)
                        .clip(an.floor(8.0))
                        .clip(HalfSpace::below(
                            an.p([0.0, y0 + half_length, 0.0]),
                            [0.0, 1.0, 0.0],
                        ))
                        .clip(HalfSpace::below(
                            an.p([0.0, y0 - half_length, 0.0]),
                            [0.0, -1.0, 0.0],
                        ))
                        .clip(HalfSpace::below(an.p([0.0, 0.0, z_low]), [0.0, 0.0, -1.0]))
                        .clip(HalfSpace::below([0.0; 3], [-side, 0.0, 0.0])),
                ]
            };
            let t = fit(&make, v_mm3, 0.3, 35.0);
            (make(t), t)
        }
        FindingKind::Epidural => {
            // A lens: a ball whose centre lies outside the inner table, cut by it; the ball
            // grows with the lens's depth.
            let dir = unit(an.p([side * 1.0, rng.uniform(-0.5, 0.3), rng.uniform(-0.1, 0.4)]));
            let surface = surface_point(cavity, dir);
            let make = |depth: f64| {
                let r = 14.0 + 1.6 * depth;
                let centre = add(surface, scale(dir, r - depth));
                vec![
                    Solid::ellipsoid(Quadric::new(centre, [r; 3]))
                        .within(cavity)
                        .clip(an.floor(4.0)),
                ]
            };
            let depth = fit(&make, v_mm3, 0.3, 40.0);
            (make(depth), depth)
        }
        FindingKind::Subarachnoid => {
            // Blood in the sylvian fissure (sided) or in the basal cisterns (midline), as
            // thin sheets.
            let thickness = rng.uniform(1.5, 3.0);
            let make = |a: f64| {
                let (centre, axes, rot) = if f.side == Side::Midline {
                    (
                        an.p([0.0, -8.0, -8.0]),
                        [a, a * 0.8, thickness / 2.0],
                        rot_x_deg(0.0),
                    )
                } else {
                    (
                        an.p([49.0 * side, -10.0, 8.0]),
                        [thickness / 2.0, a, a * 0.45],
                        rot_y_deg(-18.0 * side),
                    )
                };
                vec![
                    Solid::ellipsoid(Quadric::new(centre, axes).rotated(rot))
                        .within(brain_surface.inset(-0.5)),
                ]
            };
            let a = fit(&make, v_mm3, 1.0, 60.0);
            (make(a), thickness)
        }
        FindingKind::Intraventricular => {
            // Blood layering in the lateral ventricle and its occipital horn (posterior: the
            // patient lies supine) up to a level that gives the volume.
            let (body, horn) = ventricles[usize::from(side > 0.0)];
            let (y_top, y_bottom) = (
                body.center_mm[1] - body.half_extent()[1],
                horn.center_mm[1] + horn.half_extent()[1],
            );
            let make = |fill: f64| {
                let level = y_bottom - fill * (y_bottom - y_top);
                let cut = HalfSpace::below([0.0, level, 0.0], [0.0, -1.0, 0.0]);
                vec![
                    Solid::ellipsoid(horn).clip(cut),
                    Solid::ellipsoid(body).clip(cut),
                ]
            };
            let fill = fit(&make, v_mm3, 0.0, 1.0);
            (make(fill), 2.0 * horn.semi_axes_mm[0])
        }
    })
}

/// The parameter in `[lo, hi]` at which the solids `make(p)` hold `target_mm3` (their union,
/// measured on the exact solids at 0.5 mm); `hi` when even that is too small. Volume grows
/// with the parameter for every shape here.
fn fit(make: &dyn Fn(f64) -> Vec<Solid>, target_mm3: f64, lo: f64, hi: f64) -> f64 {
    let volume = |p: f64| -> f64 {
        let bodies = make(p)
            .into_iter()
            .map(|s| body("probe", s, 0, Organ::Other))
            .collect();
        Patient::new(vec![Tissue::Blood.material()], bodies)
            .ok()
            .and_then(|pt| pt.measure(|_| true, 0.5))
            .map_or(0.0, |m| m.volume_ml * 1000.0)
    };
    let (mut lo, mut hi) = (lo, hi);
    if volume(hi) <= target_mm3 {
        return hi;
    }
    for _ in 0..18 {
        let mid = 0.5 * (lo + hi);
        if volume(mid) < target_mm3 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn unit(v: Vec3) -> Vec3 {
    scale(v, 1.0 / norm(v))
}

/// The point of an ellipsoid's surface in direction `dir` from its centre.
fn surface_point(q: Quadric, dir: Vec3) -> Vec3 {
    let (_, t1) = q
        .interval(q.center_mm, dir)
        .expect("a line through the centre meets the ellipsoid");
    add(q.center_mm, scale(dir, t1))
}
