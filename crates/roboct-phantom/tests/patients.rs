//! The HU patients: anatomy where it should be, findings of the size and CT number asked for
//! and inside the skull, truth that follows the pose, exact projections, and bad options
//! refused.

use roboct_core::NoProgress;
use roboct_geometry::vec3::{add, scale};
use roboct_geometry::{Beam, CircularScan, Detector, DetectorShape, VolumeGrid, even_angles};
use roboct_phantom::chest::{ChestOptions, chest};
use roboct_phantom::head::{FindingKind, FindingSpec, HeadOptions, Side, head};
use roboct_phantom::patient::Organ;

fn spec(kind: FindingKind, volume_ml: f64, side: Side) -> FindingSpec {
    FindingSpec {
        kind,
        volume_ml,
        side,
        hu: 65.0,
    }
}

#[test]
fn every_finding_kind_is_made_inside_the_skull_at_about_the_volume_asked() {
    for (i, (kind, side, ml)) in [
        (FindingKind::Intraparenchymal, Side::Right, 12.0),
        (FindingKind::Subdural, Side::Left, 30.0),
        (FindingKind::Epidural, Side::Right, 15.0),
        (FindingKind::Subarachnoid, Side::Left, 3.0),
        (FindingKind::Subarachnoid, Side::Midline, 2.0),
        (FindingKind::Intraventricular, Side::Left, 2.0),
        (FindingKind::Intraparenchymal, Side::Left, 0.6),
        (FindingKind::Subdural, Side::Right, 4.0),
    ]
    .into_iter()
    .enumerate()
    {
        let h = head(&HeadOptions {
            seed: 100 + i as u64,
            findings: vec![spec(kind, ml, side)],
            ..HeadOptions::default()
        })
        .unwrap();
        let t = h.truth();
        let f = &t.findings[0];
        assert!(
            (f.volume_ml / ml - 1.0).abs() < 0.1,
            "{kind:?} {ml} mL asked, {} made",
            f.volume_ml
        );
        // Every point of the finding lies within the intracranial space: sample its box.
        let mut inside = 0;
        let n = 12;
        for a in 0..n {
            for b in 0..n {
                for c in 0..n {
                    let p = [
                        f.min_mm[0] + (f.max_mm[0] - f.min_mm[0]) * (a as f64 + 0.5) / n as f64,
                        f.min_mm[1] + (f.max_mm[1] - f.min_mm[1]) * (b as f64 + 0.5) / n as f64,
                        f.min_mm[2] + (f.max_mm[2] - f.min_mm[2]) * (c as f64 + 0.5) / n as f64,
                    ];
                    if let Some(body) = h.patient.body_at(p)
                        && h.patient.bodies()[body].finding == Some(0)
                    {
                        inside += 1;
                        let cavity = h
                            .patient
                            .bodies()
                            .iter()
                            .find(|b| b.name == "intracranial space")
                            .unwrap();
                        assert!(
                            cavity.solid.contains(p),
                            "{kind:?} outside the cavity at {p:?}"
                        );
                    }
                }
            }
        }
        assert!(inside > 0, "{kind:?}: no sample inside");
        // The side: left is +x of the head's midline.
        let mid = t.landmarks["head_center"][0];
        match side {
            Side::Left => assert!(f.centroid_mm[0] > mid, "{kind:?} {:?}", f.centroid_mm),
            Side::Right => assert!(f.centroid_mm[0] < mid, "{kind:?} {:?}", f.centroid_mm),
            Side::Midline => assert!((f.centroid_mm[0] - mid).abs() < 8.0),
        }
    }
}

#[test]
fn tissues_have_their_ct_numbers_in_the_truth_volume() {
    let h = head(&HeadOptions {
        seed: 5,
        findings: vec![spec(FindingKind::Intraparenchymal, 10.0, Side::Right)],
        max_offset_mm: 0.0,
        max_rotation_deg: 0.0,
        ..HeadOptions::default()
    })
    .unwrap();
    let t = h.truth();
    let grid = VolumeGrid::centered([96, 110, 120], [2.0; 3], [0.0, 5.0, 0.0]).unwrap();
    let r = h.patient.rasterize(&grid, 2);
    let at = |p: [f64; 3]| {
        let i = grid.index_from_world(p).map(|v| v.round() as usize);
        r.hu.data()[[i[2], i[1], i[0]]]
    };
    // The clot's centre reads its CT number.
    assert!((at(t.findings[0].centroid_mm) - 65.0).abs() < 1.0);
    // Air outside, bone in the vault, CSF-like fluid in the lateral ventricle.
    assert!((at([-90.0, -100.0, 110.0]) + 1000.0).abs() < 1.0);
    let vertex = t.landmarks["vertex"];
    assert!(
        at(add(vertex, [0.0, 0.0, -9.0])) > 700.0,
        "skull under the vertex"
    );
    let v = t.ventricle_volume_ml;
    assert!(v > 12.0 && v < 60.0, "ventricles {v} mL");
    assert_eq!(t.midline_shift_mm, 0.0);
    // Grey and white matter have their CT numbers somewhere in the brain.
    let labels = &r.labels;
    let (mut grey, mut white) = (Vec::new(), Vec::new());
    for ((k, j, i), &l) in labels.indexed_iter() {
        if l == u16::MAX {
            continue;
        }
        let name = &h.patient.bodies()[l as usize].name;
        let hu = r.hu.data()[[k, j, i]];
        if name == "white matter" {
            white.push(hu);
        } else if name == "cortex" {
            grey.push(hu);
        }
    }
    let median = |v: &mut Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    let (g, w) = (median(&mut grey), median(&mut white));
    assert!(
        (37.0..=44.0).contains(&g) && (24.0..=30.0).contains(&w),
        "grey {g} white {w}"
    );
}

#[test]
fn large_mass_lesions_shift_the_midline_away() {
    let h = head(&HeadOptions {
        seed: 9,
        findings: vec![spec(FindingKind::Subdural, 80.0, Side::Left)],
        max_offset_mm: 0.0,
        max_rotation_deg: 0.0,
        ..HeadOptions::default()
    })
    .unwrap();
    let t = h.truth();
    assert!(t.midline_shift_mm > 3.0, "{}", t.midline_shift_mm);
    let septum = h
        .patient
        .bodies()
        .iter()
        .find(|b| b.name == "septum pellucidum")
        .unwrap();
    // Pushed to the right (-x).
    assert!(septum.solid.outer.center_mm[0] < -3.0);
}

#[test]
fn the_same_seed_makes_the_same_head_and_another_seed_another() {
    let o = |seed| HeadOptions {
        seed,
        findings: vec![spec(FindingKind::Epidural, 20.0, Side::Left)],
        ..HeadOptions::default()
    };
    let (a, b, c) = (
        head(&o(3)).unwrap(),
        head(&o(3)).unwrap(),
        head(&o(4)).unwrap(),
    );
    assert_eq!(a.truth(), b.truth());
    assert_ne!(a.truth(), c.truth());
}

#[test]
fn projections_are_the_exact_painter_line_integrals() {
    let h = head(&HeadOptions {
        seed: 11,
        findings: vec![spec(FindingKind::Subdural, 20.0, Side::Right)],
        ..HeadOptions::default()
    })
    .unwrap();
    let g = CircularScan {
        beam: Beam::Divergent,
        sid_mm: 600.0,
        sdd_mm: 1000.0,
        detector: Detector::centered(24, 20, [16.0, 16.0], [0.0, 0.0], DetectorShape::Cylindrical),
        angles_rad: even_angles(0.0, 2.0 * std::f64::consts::PI, 3),
        detector_rotation_rad: 0.0,
    }
    .build()
    .unwrap();
    let mono = h.patient.project_mono(&g, 70.0, 1, &NoProgress);
    let det = g.detector();
    // Integrate mu at 70 keV along a few rays by point sampling the painted patient.
    for (v, r, c) in [(0, 10, 12), (1, 6, 8), (2, 12, 15)] {
        let (o, d) = g.views()[v].ray(det, det.u_mm(c as f64), det.v_mm(r as f64), 0.0);
        let n = 40000;
        let step = 1000.0 / n as f64;
        let mut sum = 0.0;
        for k in 0..n {
            let p = add(o, scale(d, (k as f64 + 0.5) * step));
            if let Some(b) = h.patient.body_at(p) {
                sum += h.patient.materials()[h.patient.bodies()[b].material].mu_per_mm(70.0) * step;
            }
        }
        let exact = mono[[v, r, c]] as f64;
        assert!(exact > 1.0, "ray {v} {r} {c} misses the head");
        assert!((sum - exact).abs() < 2e-3 * exact, "{sum} vs {exact}");
    }
}

#[test]
fn chest_has_lungs_between_apex_and_base() {
    let c = chest(&ChestOptions {
        seed: 2,
        ..ChestOptions::default()
    })
    .unwrap();
    let t = c.truth();
    let lungs = &t.organs["lungs"];
    assert!(lungs.max_mm[2] - lungs.min_mm[2] > 180.0, "{lungs:?}");
    assert!(t.landmarks["lung_apices"][2] > t.landmarks["lung_bases"][2]);
    let m = c.patient.measure(|b| b.organ == Organ::Lung, 2.0).unwrap();
    assert!(
        m.volume_ml > 2000.0 && m.volume_ml < 8000.0,
        "{}",
        m.volume_ml
    );
    let lung = c
        .patient
        .materials()
        .iter()
        .find(|m| m.name() == "inflated lung")
        .unwrap();
    assert!(lung.hu() < -780.0 && lung.hu() > -880.0);
}

#[test]
fn impossible_findings_and_poses_are_refused_naming_the_value() {
    for (f, want) in [
        (spec(FindingKind::Subdural, 0.0, Side::Left), "volume"),
        (spec(FindingKind::Subdural, 500.0, Side::Left), "volume"),
        (
            FindingSpec {
                hu: 300.0,
                ..spec(FindingKind::Epidural, 5.0, Side::Left)
            },
            "HU",
        ),
    ] {
        let e = head(&HeadOptions {
            findings: vec![f],
            ..HeadOptions::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
    let e = head(&HeadOptions {
        max_rotation_deg: 90.0,
        ..HeadOptions::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("max_rotation_deg"), "{e}");
    assert!("sdh".parse::<FindingKind>().unwrap() == FindingKind::Subdural);
    assert!(
        "bleed"
            .parse::<FindingKind>()
            .unwrap_err()
            .to_string()
            .contains("subdural")
    );
}

#[test]
fn the_sternum_and_ribs_lie_inside_the_skin_and_the_sternum_under_the_fat() {
    for seed in 1..=4 {
        let c = chest(&ChestOptions {
            seed,
            max_offset_mm: 0.0,
            max_rotation_deg: 0.0,
        })
        .unwrap();
        let bodies = c.patient.bodies();
        let named = |name: &str| &bodies.iter().find(|b| b.name == name).unwrap().solid;
        let (skin, wall) = (named("subcutaneous fat"), named("chest wall"));
        let bones: Vec<_> = bodies
            .iter()
            .filter(|b| b.name == "sternum" || b.name == "rib")
            .collect();
        // A 3 mm lattice over the largest trunk (1.15 x 165 by 1.2 x 115 mm, 1.1 x 230 mm down
        // and 1.1 x 190 mm up) and beyond it.
        let mut inside = [0usize; 2];
        for i in -80..=80 {
            for j in -60..=60 {
                for k in -90..=80 {
                    let p = scale([i as f64, j as f64, k as f64], 3.0);
                    for bone in &bones {
                        if !bone.solid.contains(p) {
                            continue;
                        }
                        let sternum = bone.name == "sternum";
                        inside[usize::from(sternum)] += 1;
                        assert!(
                            skin.contains(p),
                            "seed {seed}: {} at {p:?} is outside the skin",
                            bone.name
                        );
                        assert!(
                            !sternum || wall.contains(p),
                            "seed {seed}: sternum at {p:?} lies in the fat"
                        );
                    }
                }
            }
        }
        assert!(
            inside[0] > 1000 && inside[1] > 100,
            "seed {seed}: {inside:?}"
        );
    }
}
