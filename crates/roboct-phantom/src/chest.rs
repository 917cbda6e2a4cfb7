//! An adult chest in HU with random size and pose: the trunk with its fat and muscle, inflated
//! lungs, heart and great vessels, spine, ribs, sternum and the top of the liver. Made for
//! positioning (lung apices and bases, the body's centre) and dose studies, in the patient
//! frame (LPS, +z superior, the origin near the carina before the pose).

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use roboct_geometry::vec3::{Vec3, add, mat_mul, mat_vec};

use crate::PhantomError;
use crate::material::Tissue;
use crate::patient::{Body, Organ, Patient};
use crate::rot_z_deg;
use crate::solid::{HalfSpace, Quadric, Solid, rot_x_deg, rot_y_deg};

/// How a chest varies; everything is drawn from the seed.
#[derive(Clone, Debug, PartialEq)]
pub struct ChestOptions {
    /// The seed.
    pub seed: u64,
    /// Largest translation from the isocentre, mm (each axis).
    pub max_offset_mm: f64,
    /// Largest rotation about each axis, degrees.
    pub max_rotation_deg: f64,
}

impl Default for ChestOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            max_offset_mm: 10.0,
            max_rotation_deg: 4.0,
        }
    }
}

/// A generated chest and its truth.
#[derive(Clone, Debug)]
pub struct Chest {
    /// The patient, posed.
    pub patient: Patient,
    /// The seed.
    pub seed: u64,
    /// Rotation applied to the canonical chest.
    pub rotation: [[f64; 3]; 3],
    /// Translation applied, mm.
    pub translation_mm: Vec3,
    /// Named points (world mm): `left_lung_apex`, `right_lung_apex`, `lung_bases` (the lower of
    /// the two), `body_center`, `carina`.
    pub landmarks: Vec<(String, Vec3)>,
}

/// Builds a chest.
pub fn chest(options: &ChestOptions) -> Result<Chest, PhantomError> {
    let offset_ok = (0.0..=200.0).contains(&options.max_offset_mm);
    let rotation_ok = (0.0..=45.0).contains(&options.max_rotation_deg);
    if !(offset_ok && rotation_ok) {
        return Err(PhantomError::Invalid {
            path: "<chest phantom>".into(),
            message: format!(
                "max_offset_mm {} (0 to 200) or max_rotation_deg {} (0 to 45) out of range",
                options.max_offset_mm, options.max_rotation_deg
            ),
        });
    }
    let mut rng = Pcg64::seed_from_u64(options.seed ^ 0xC4E5_7000);
    let mut u = |lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
    let (sx, sy, sz) = (u(0.88, 1.15), u(0.85, 1.2), u(0.9, 1.1));
    let fat_mm = u(6.0, 25.0);
    let p = |v: Vec3| [v[0] * sx, v[1] * sy, v[2] * sz];
    let q = |c: Vec3, a: Vec3| Quadric::new(p(c), p(a));
    let materials = vec![
        Tissue::Muscle.material().with_hu(45.0, "muscle")?,
        Tissue::Adipose.material().with_hu(-95.0, "fat")?,
        Tissue::Lung
            .material()
            .with_hu(u(-870.0, -800.0), "inflated lung")?,
        Tissue::Blood.material().with_hu(45.0, "blood")?,
        Tissue::CorticalBone
            .material()
            .with_hu(300.0, "trabecular bone")?,
        Tissue::CorticalBone
            .material()
            .with_hu(900.0, "cortical bone")?,
        Tissue::Water.material().with_hu(5.0, "CSF")?,
        Tissue::SoftTissue.material().with_hu(55.0, "liver")?,
        Tissue::Air.material(),
    ];
    let (muscle, fat, lung, blood, spongy, cortical, csf, liver, air) = (0, 1, 2, 3, 4, 5, 6, 7, 8);
    let body = |name: &str, solid: Solid, material: usize, organ: Organ| Body {
        name: name.to_string(),
        solid,
        material,
        organ,
        finding: None,
    };
    // The trunk from the upper abdomen to the root of the neck: a long ellipsoid cut flat.
    let (z_lo, z_hi) = (p([0.0, 0.0, -230.0])[2], p([0.0, 0.0, 190.0])[2]);
    let trunk_cut = |s: Solid| {
        s.clip(HalfSpace::below([0.0, 0.0, z_hi], [0.0, 0.0, 1.0]))
            .clip(HalfSpace::below([0.0, 0.0, z_lo], [0.0, 0.0, -1.0]))
    };
    let trunk = q([0.0, 10.0, -20.0], [165.0, 115.0, 600.0]);
    let mut b = vec![
        body(
            "subcutaneous fat",
            trunk_cut(Solid::ellipsoid(trunk)),
            fat,
            Organ::Body,
        ),
        body(
            "chest wall",
            trunk_cut(Solid::ellipsoid(trunk.inset(fat_mm))),
            muscle,
            Organ::Body,
        ),
    ];
    b.push(body(
        "mediastinal fat",
        trunk_cut(Solid::ellipsoid(q(
            [0.0, -10.0, -20.0],
            [130.0, 85.0, 600.0],
        ))),
        fat,
        Organ::Other,
    ));
    // Ribs: thin hoops of cortical bone every 24 mm, tilted down at the front.
    for k in 0..10 {
        let zc = 150.0 - 24.0 * k as f64;
        let outer = q([0.0, 10.0, zc], [150.0, 102.0, 600.0]);
        let inner = q([0.0, 10.0, zc], [142.0, 94.0, 600.0]);
        let n = [0.0, -0.35, 1.0];
        // Cut where the trunk is: the top hoops' backs would otherwise rise above it.
        b.push(body(
            "rib",
            trunk_cut(
                Solid::shell(outer, inner)
                    .clip(HalfSpace::below(p([0.0, 0.0, zc + 5.0]), n))
                    .clip(HalfSpace::below(p([0.0, 0.0, zc - 5.0]), [0.0, 0.35, -1.0])),
            ),
            cortical,
            Organ::Other,
        ));
    }
    for side in [-1.0f64, 1.0] {
        b.push(body(
            if side < 0.0 {
                "right lung"
            } else {
                "left lung"
            },
            Solid::ellipsoid(q([68.0 * side, 12.0, 20.0], [62.0, 78.0, 135.0])).clip(
                HalfSpace::below(p([0.0, 0.0, -95.0 + 12.0 * side]), [0.0, 0.15, -1.0]),
            ),
            lung,
            Organ::Lung,
        ));
        b.push(body(
            "airway",
            Solid::ellipsoid(
                q([14.0 * side, -5.0, 55.0], [4.5, 4.5, 30.0]).rotated(rot_y_deg(-30.0 * side)),
            ),
            air,
            Organ::Other,
        ));
    }
    b.push(body(
        "trachea",
        Solid::ellipsoid(q([0.0, -15.0, 120.0], [8.0, 8.0, 55.0])),
        air,
        Organ::Other,
    ));
    b.push(body(
        "heart",
        Solid::ellipsoid(q([18.0, -28.0, -35.0], [58.0, 48.0, 62.0]).rotated(rot_z_deg(-25.0))),
        blood,
        Organ::Heart,
    ));
    b.push(body(
        "aorta",
        Solid::ellipsoid(q([22.0, 40.0, -40.0], [12.0, 12.0, 160.0])),
        blood,
        Organ::Other,
    ));
    b.push(body(
        "liver",
        Solid::ellipsoid(q([-45.0, 0.0, -185.0], [110.0, 85.0, 70.0])),
        liver,
        Organ::Other,
    ));
    b.push(body(
        "spine",
        trunk_cut(Solid::ellipsoid(q([0.0, 80.0, -20.0], [21.0, 19.0, 600.0]))),
        spongy,
        Organ::Spine,
    ));
    b.push(body(
        "spinal canal",
        trunk_cut(Solid::ellipsoid(q([0.0, 104.0, -20.0], [8.0, 7.0, 600.0]))),
        csf,
        Organ::Other,
    ));
    // The sternum lies under the subcutaneous fat, inside the chest wall: tilted, its ends
    // would otherwise poke out through the skin (up to 18 mm at its ends), a bony ridge in
    // front of the body that no patient has and that the lateral scout shows as the skin.
    let sternum_center = p([0.0, -98.0, 40.0]);
    let chest_wall = trunk.inset(fat_mm);
    b.push(body(
        "sternum",
        Solid::ellipsoid(
            Quadric::new(
                [
                    sternum_center[0],
                    sternum_center[1] + fat_mm,
                    sternum_center[2],
                ],
                p([16.0, 7.0, 85.0]),
            )
            .rotated(rot_x_deg(-12.0)),
        )
        .within(chest_wall),
        spongy,
        Organ::Other,
    ));
    let canonical = Patient::new(materials, b)?;
    let r = options.max_rotation_deg;
    let rotation = mat_mul(
        rot_z_deg(u(-r, r)),
        mat_mul(rot_x_deg(u(-r, r)), rot_y_deg(u(-r, r))),
    );
    let m = options.max_offset_mm;
    let translation_mm = [u(-m, m), u(-m, m), u(-m, m)];
    let pose = |v: Vec3| add(mat_vec(rotation, v), translation_mm);
    let landmarks = vec![
        ("left_lung_apex".into(), pose(p([68.0, 12.0, 155.0]))),
        ("right_lung_apex".into(), pose(p([-68.0, 12.0, 155.0]))),
        ("body_center".into(), pose(p([0.0, 10.0, 20.0]))),
        ("carina".into(), pose(p([0.0, -10.0, 65.0]))),
    ];
    Ok(Chest {
        patient: canonical.transformed(rotation, translation_mm),
        seed: options.seed,
        rotation,
        translation_mm,
        landmarks,
    })
}
