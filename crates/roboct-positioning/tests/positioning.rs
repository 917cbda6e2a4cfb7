//! The positioning end to end on the simulated bedside, scored against the phantoms' truth
//! (organ extents measured on the posed solids), and every refusal the issue names.

use roboct_geometry::vec3::mat_vec;
use roboct_phantom::chest::{ChestOptions, chest};
use roboct_phantom::head::{HeadOptions, head};
use roboct_phantom::material::Tissue;
use roboct_phantom::patient::{Body, Organ, Patient};
use roboct_phantom::solid::{HalfSpace, Quadric, Solid};
use roboct_positioning::gantry::{GantryAxis, GantrySpec};
use roboct_positioning::pipeline::{
    PositionOptions, Positioned, SimulationOptions, position_simulated,
};
use roboct_positioning::sim::SimPatient;
use roboct_positioning::{Recovery, Refusal, Target};

fn plain_head(seed: u64) -> Patient {
    head(&HeadOptions {
        seed,
        findings: vec![],
        distractors: false,
        max_offset_mm: 0.0,
        max_rotation_deg: 0.0,
    })
    .unwrap()
    .patient
}

/// The organ's extent in the scout frame: `(min, max)`.
fn truth(p: &Positioned, organs: &[Organ]) -> ([f64; 3], [f64; 3]) {
    let SimPatient::Analytic(seen) = &p.patient_in_scanner else {
        panic!("analytic patient expected");
    };
    let m = seen.measure(|b| organs.contains(&b.organ), 1.0).unwrap();
    (m.min_mm, m.max_mm)
}

fn sim(seed: u64, offset_mm: [f64; 3], rotation_deg: [f64; 3]) -> SimulationOptions {
    SimulationOptions {
        seed,
        offset_mm,
        rotation_deg,
        bed_height_mm: 700.0,
        robot_error: [20.0, -15.0, 0.5],
        ..SimulationOptions::default()
    }
}

/// A chest phantom (`seed`, unposed) positioned lying `offset_mm` off and turned by
/// `rotation_deg`; it must get a plan. Also gives the isocentre less the truth across (x, y):
/// the phantom's body centre in the scout frame.
fn positioned_chest(
    seed: u64,
    offset_mm: [f64; 3],
    rotation_deg: [f64; 3],
) -> (Positioned, [f64; 2]) {
    let c = chest(&ChestOptions {
        seed,
        max_offset_mm: 0.0,
        max_rotation_deg: 0.0,
    })
    .unwrap();
    let body_centre = c
        .landmarks
        .iter()
        .find(|(n, _)| n == "body_center")
        .unwrap()
        .1;
    let p = position_simulated(
        c.patient,
        Target::Chest,
        &sim(seed, offset_mm, rotation_deg),
    )
    .unwrap();
    let plan = p.outcome.as_ref().unwrap_or_else(|r| panic!("{r}"));
    let (rot, t) = p.scanner_from_input;
    let c = mat_vec(rot, body_centre);
    let err = [
        plan.isocenter_mm[0] - c[0] - t[0],
        plan.isocenter_mm[1] - c[1] - t[1],
    ];
    (p, err)
}

#[test]
fn heads_off_their_nominal_place_are_covered_with_a_small_margin_and_centred() {
    for (seed, offset, rot) in [
        (11, [60.0, 20.0, -80.0], [10.0, -12.0, 14.0]),
        (12, [-90.0, -25.0, 70.0], [-14.0, 8.0, -10.0]),
    ] {
        let p =
            position_simulated(plain_head(seed), Target::Head, &sim(seed, offset, rot)).unwrap();
        let plan = p
            .outcome
            .as_ref()
            .unwrap_or_else(|r| panic!("seed {seed}: {r}"));
        let (lo, hi) = truth(&p, &[Organ::Brain, Organ::Ventricle]);
        let r = plan.scan_range_mm;
        let excess = [lo[2] - r[0], r[1] - hi[2]];
        // The skull base is the weak landmark (see the README's figures): the inferior end
        // carries a wide margin.
        assert!(
            excess[0] >= 0.0 && excess[1] >= 0.0 && excess[0] < 45.0 && excess[1] < 15.0,
            "seed {seed}: range {r:?}, truth {:.1}..{:.1}",
            lo[2],
            hi[2]
        );
        let centre = [0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1])];
        let err = (plan.isocenter_mm[0] - centre[0]).hypot(plan.isocenter_mm[1] - centre[1]);
        assert!(
            err < 4.0,
            "seed {seed}: isocentre {:?} vs {centre:?}",
            plan.isocenter_mm
        );
        // The scout is a small fraction of the scan, and the gantry moved to the plan.
        assert!(plan.scout_fraction() < 0.05, "{}", plan.scout_fraction());
        assert_eq!(p.scan_range_mm, Some(r));
        // The landmarks are named and inside the range.
        let l = p.landmarks.as_ref().unwrap();
        let v = l.point("vertex").unwrap();
        assert!(v[2] > hi[2] && v[2] < hi[2] + 25.0, "vertex {v:?}");
        assert!(l.point("skull_base").is_some());
    }
}

#[test]
fn a_chest_is_covered_from_apices_to_bases() {
    let (p, iso_err) = positioned_chest(21, [70.0, 10.0, -60.0], [3.0, -2.0, 12.0]);
    let plan = p.outcome.as_ref().unwrap();
    let (lo, hi) = truth(&p, &[Organ::Lung]);
    let r = plan.scan_range_mm;
    assert!(
        r[0] <= lo[2] && r[1] >= hi[2] && lo[2] - r[0] < 20.0 && r[1] - hi[2] < 20.0,
        "range {r:?}, lungs {:.1}..{:.1}",
        lo[2],
        hi[2]
    );
    assert!(
        iso_err[0].hypot(iso_err[1]) < 4.0,
        "isocentre {:?}",
        plan.isocenter_mm
    );
    assert!(plan.scout_fraction() < 0.05, "{}", plan.scout_fraction());
    assert!(p.to_input(plan.isocenter_mm)[2].abs() < 150.0);
}

#[test]
fn an_empty_bed_is_refused_without_a_plan() {
    let empty = Patient::new(vec![], vec![]).unwrap();
    let p = position_simulated(empty, Target::Head, &sim(3, [0.0; 3], [0.0; 3])).unwrap();
    let r = p.outcome.as_ref().unwrap_err();
    assert!(matches!(r, Refusal::NoPatient { .. }), "{r}");
    assert_eq!(r.recovery(), Recovery::WaitForOperator);
    assert!(p.scan_range_mm.is_none() && p.isocenter_mm.is_none());
    assert!(p.scout_dlp_mgycm > 0.0, "the scout was taken");
}

/// A trunk 560 mm wide with lungs: too wide for the 500 mm bore.
fn wide_trunk() -> Patient {
    let water = Tissue::Water.material();
    let lung = Tissue::Lung.material().with_hu(-850.0, "lung").unwrap();
    let body = |name: &str, solid, material, organ| Body {
        name: String::from(name),
        solid,
        material,
        organ,
        finding: None,
    };
    let cut = |s: Solid| {
        s.clip(HalfSpace::below([0.0, 0.0, 200.0], [0.0, 0.0, 1.0]))
            .clip(HalfSpace::below([0.0, 0.0, -250.0], [0.0, 0.0, -1.0]))
    };
    let mut bodies = vec![body(
        "trunk",
        cut(Solid::ellipsoid(Quadric::new(
            [0.0, 10.0, 0.0],
            [280.0, 130.0, 600.0],
        ))),
        0,
        Organ::Body,
    )];
    for side in [-1.0, 1.0] {
        bodies.push(body(
            "lung",
            Solid::ellipsoid(Quadric::new([90.0 * side, 10.0, 20.0], [70.0, 80.0, 130.0])),
            1,
            Organ::Lung,
        ));
    }
    Patient::new(vec![water, lung], bodies).unwrap()
}

#[test]
fn a_patient_wider_than_the_bore_is_refused() {
    let p = position_simulated(wide_trunk(), Target::Chest, &sim(4, [0.0; 3], [0.0; 3])).unwrap();
    let r = p.outcome.as_ref().unwrap_err();
    match r {
        // The outline runs off even the panned passes: what was seen is already too wide.
        Refusal::TooLarge { width_mm, .. } => assert!(*width_mm > 460.0, "{r}"),
        other => panic!("{other}"),
    }
    assert_eq!(r.recovery(), Recovery::Abort);
    assert!(r.action().contains("fixed CT"));
}

#[test]
fn a_head_beyond_the_gantrys_travel_is_refused_and_the_robot_redocks() {
    // A carriage that reaches only 60 mm past the nominal head centre: the vertex is beyond.
    let short = GantrySpec {
        along_mm: [0.0, 2200.0],
        ..GantrySpec::mobile()
    };
    let options = SimulationOptions {
        robot_error: [0.0; 3],
        position: PositionOptions {
            gantry: short,
            ..PositionOptions::default()
        },
        ..sim(5, [0.0, 0.0, 30.0], [0.0; 3])
    };
    let p = position_simulated(plain_head(5), Target::Head, &options).unwrap();
    let r = p.outcome.as_ref().unwrap_err();
    match r {
        Refusal::OutOfReach { reach, .. } => assert_eq!(reach.axis, GantryAxis::Along),
        other => panic!("{other}"),
    }
    assert_eq!(r.recovery(), Recovery::Redock);
    // The same head within the normal travel is planned.
    let ok = position_simulated(
        plain_head(5),
        Target::Head,
        &SimulationOptions {
            robot_error: [0.0; 3],
            ..sim(5, [0.0, 0.0, 30.0], [0.0; 3])
        },
    )
    .unwrap();
    assert!(ok.ok(), "{:?}", ok.outcome.err());
}

#[test]
fn a_chest_protocol_on_a_head_is_refused() {
    let p = position_simulated(plain_head(6), Target::Chest, &sim(6, [0.0; 3], [0.0; 3])).unwrap();
    let r = p.outcome.as_ref().unwrap_err();
    match r {
        Refusal::WrongAnatomy { target, found, .. } => {
            assert_eq!(*target, Target::Chest);
            assert!(found.contains("head"), "{r}");
        }
        other => panic!("{other}"),
    }
    assert!(r.action().contains("check the order"));
}

#[test]
fn a_trunk_running_off_the_scout_is_centred_from_panned_passes() {
    // A wide trunk 10 cm to the side: it runs 30 cm out, past the main pass' field (13 cm
    // either side) and past a pan of less than the lateral travel.
    let (p, err) = positioned_chest(5, [100.0, 0.0, 0.0], [0.0, 0.0, 3.0]);
    let plan = p.outcome.as_ref().unwrap();
    assert!(err[0].hypot(err[1]) < 4.0, "isocentre off by {err:?}");
    let (lo, hi) = truth(&p, &[Organ::Lung]);
    let r = plan.scan_range_mm;
    assert!(
        r[0] <= lo[2] && r[1] >= hi[2],
        "range {r:?}, lungs {:.1}..{:.1}",
        lo[2],
        hi[2]
    );
}
