//! The demo's world: the embedded hospital, the robot at its dock, and a patient in ward 3,
//! bed 12 with a haemorrhage that the reading should find (the truth is returned, so a test
//! or a person can compare).

use roboct_core::Phi;
use roboct_nav::hospital;
use roboct_nav::plan::{Navigator, PlannerOptions};
use roboct_nav::robot::RobotModel;
use roboct_phantom::head::{FindingKind, FindingSpec, HeadOptions, HeadTruth, Side, head};

use crate::mission::Order;
use crate::phase::MissionError;
use crate::world::SimWorld;

/// The demo patient's haemorrhage: 12 mL of intraparenchymal blood on the left, 65 HU.
pub fn demo_finding() -> FindingSpec {
    FindingSpec {
        kind: FindingKind::Intraparenchymal,
        volume_ml: 12.0,
        side: Side::Left,
        hu: 65.0,
    }
}

/// The navigator of a site loaded from `map` (ROS map_server YAML with the semantic layer)
/// with the default robot.
pub fn site_navigator(map: &std::path::Path) -> Result<Navigator, MissionError> {
    let site =
        roboct_nav::site::Site::load(map, roboct_nav::map::MapLimits::from_available_memory())
            .map_err(|e| MissionError::Site(format!("{}: {e}", map.display())))?;
    Navigator::new(site, RobotModel::default(), PlannerOptions::default())
        .map_err(|e| MissionError::Site(format!("{}: {e}", map.display())))
}

/// The navigator of the embedded hospital with the default robot.
pub fn hospital_navigator() -> Result<Navigator, MissionError> {
    Navigator::new(
        hospital::default_hospital(),
        RobotModel::default(),
        PlannerOptions::default(),
    )
    .map_err(|e| MissionError::BadOrder(format!("the embedded hospital: {e}")))
}

/// The simulated robot at the embedded hospital's dock, with `order`'s patient in the bed:
/// a head (seed `seed`, calcifications as distractors, a little off the isocentre) with
/// `findings`, wearing the order's wristband; a nurse and a visitor at the bedside.
pub fn demo_world(
    order: &Order,
    seed: u64,
    findings: Vec<FindingSpec>,
) -> Result<(SimWorld, HeadTruth), MissionError> {
    demo_world_on(hospital_navigator()?, "dock", order, seed, findings)
}

/// [`demo_world`] on another site: the robot at its place `dock`.
pub fn demo_world_on(
    navigator: Navigator,
    dock: &str,
    order: &Order,
    seed: u64,
    findings: Vec<FindingSpec>,
) -> Result<(SimWorld, HeadTruth), MissionError> {
    let h = head(&HeadOptions {
        seed,
        findings,
        distractors: true,
        max_offset_mm: 5.0,
        max_rotation_deg: 3.0,
    })
    .map_err(|e| MissionError::Imaging(format!("the demo patient: {e}")))?;
    let mut world = SimWorld::new(
        navigator,
        dock,
        Some(h.patient),
        Some(Phi::new(order.patient_id.expose().clone())),
        0.9,
    )?
    .with_bedside_people();
    // A patient never lies exactly where the bed's nominal head position is: 2 cm towards
    // the foot, 1 cm to the left, the head turned a little.
    world.pose.offset_mm = [10.0, 0.0, -20.0];
    world.pose.rotation_deg = [4.0, 6.0, 0.0];
    Ok((world, h.truth))
}
