//! `roboct phantom --head|--chest` and `roboct simulate-scan` through the binary: the files
//! they write, a user's own CT volume as the patient compared voxel for voxel after
//! reconstruction, and impossible protocols and volumes refused with the field named.

use std::path::Path;

mod common;
use common::roboct;

fn ok(args: &[&str]) -> String {
    let out = roboct(args);
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "roboct {args:?} failed:\n{o}\n{e}");
    o.into_owned()
}

fn fails(args: &[&str], code: i32) -> String {
    let out = roboct(args);
    let e = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "roboct {args:?}: {e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn head_phantom_writes_hu_truth_and_masks() {
    let dir = tempfile::tempdir().unwrap();
    let vol = dir.path().join("head.nii.gz");
    let out = ok(&[
        "phantom",
        "--head",
        "--seed",
        "4",
        "--bleed",
        "sdh:20:right:70",
        "--bleed",
        "iph:5",
        "--size",
        "64,64,64",
        "--voxel-mm",
        "4",
        "--volume",
        s(&vol),
    ]);
    assert!(
        out.contains("subdural") && out.contains("intraparenchymal"),
        "{out}"
    );
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
            .unwrap();
    let f = &truth["findings"][0];
    assert_eq!(f["kind"], "subdural");
    assert_eq!(f["side"], "right");
    let ml = f["volume_ml"].as_f64().unwrap();
    assert!((ml - 20.0).abs() < 2.0, "{ml}");
    // The mask, on the volume's grid, holds about the finding's volume.
    let mask = roboct_io::read_volume(&dir.path().join(f["mask"].as_str().unwrap())).unwrap();
    let mask_ml: f64 = mask.data().iter().map(|&v| v as f64).sum::<f64>() * 64.0 / 1000.0;
    assert!(
        (mask_ml / ml - 1.0).abs() < 0.35,
        "mask {mask_ml} mL vs {ml}"
    );
    let v = roboct_io::read_volume(&vol).unwrap();
    assert_eq!(v.grid().size(), [64, 64, 64]);
    let max = v.data().iter().cloned().fold(f32::MIN, f32::max);
    let min = v.data().iter().cloned().fold(f32::MAX, f32::min);
    assert!(max > 900.0 && (min + 1000.0).abs() < 1.0, "{min} {max}");
    assert!(truth["organs"]["brain"]["volume_ml"].as_f64().unwrap() > 900.0);
    // A chest: lungs in its truth; haemorrhages are refused there.
    let chest = dir.path().join("chest.mha");
    ok(&[
        "phantom",
        "--chest",
        "--size",
        "48,48,40",
        "--voxel-mm",
        "8",
        "--volume",
        s(&chest),
        "--truth",
        s(&dir.path().join("c.json")),
    ]);
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("c.json")).unwrap()).unwrap();
    assert!(
        t["landmarks"]["lung_apices"][2].as_f64().unwrap()
            > t["landmarks"]["lung_bases"][2].as_f64().unwrap()
    );
    let e = fails(
        &[
            "phantom",
            "--chest",
            "--bleed",
            "sdh:10",
            "--volume",
            s(&chest),
        ],
        1,
    );
    assert!(e.contains("--bleed"), "{e}");
    let e = fails(
        &[
            "phantom",
            "--head",
            "--bleed",
            "sdh:lots",
            "--volume",
            s(&vol),
        ],
        2,
    );
    assert!(e.contains("sdh:lots"), "{e}");
    let e = fails(
        &[
            "phantom",
            "--head",
            "--bleed",
            "clot:5",
            "--volume",
            s(&vol),
        ],
        2,
    );
    assert!(e.contains("subdural"), "{e}");
    let e = fails(
        &[
            "phantom",
            "--head",
            "--bleed",
            "sdh:500",
            "--volume",
            s(&vol),
        ],
        1,
    );
    assert!(e.contains("volume"), "{e}");
}

#[test]
fn simulate_scan_writes_projections_geometry_weights_and_dose() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scan.npy");
    let out = ok(&[
        "simulate-scan",
        "--phantom",
        "head",
        "--bleed",
        "edh:10",
        "--kvp",
        "100",
        "--mas",
        "80",
        "--views",
        "24",
        "--collimation-mm",
        "20",
        "--z-center-mm",
        "30",
        "--out",
        s(&p),
    ]);
    assert!(out.contains("CTDIvol"), "{out}");
    for f in [
        "scan.toml",
        "scan.weights.npy",
        "scan.dose.json",
        "scan.scan.json",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let proj = roboct_io::read_projections(&p).unwrap().data;
    assert_eq!(proj.dim().0, 24);
    assert_eq!(proj.dim().2, 288);
    let dose: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("scan.dose.json")).unwrap())
            .unwrap();
    assert_eq!(dose["kvp"], 100.0);
    let ctdi = dose["ctdi_vol"].as_f64().unwrap();
    // 80 mAs at 100 kV in the head phantom: a few mGy to tens of mGy.
    assert!(ctdi > 3.0 && ctdi < 30.0, "{ctdi}");
    let g = roboct_geometry::read_geometry_toml(&dir.path().join("scan.toml")).unwrap();
    assert!((g.isocenter_mm[2] - 30.0).abs() < 1e-9);
    // Twice the mAs, twice the CTDIvol.
    let p2 = dir.path().join("scan2.npy");
    ok(&[
        "simulate-scan",
        "--phantom",
        "head",
        "--kvp",
        "100",
        "--mas",
        "160",
        "--views",
        "8",
        "--collimation-mm",
        "20",
        "--out",
        s(&p2),
    ]);
    let d2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("scan2.dose.json")).unwrap())
            .unwrap();
    assert!((d2["ctdi_vol"].as_f64().unwrap() / ctdi - 2.0).abs() < 1e-6);
}

#[test]
fn impossible_protocols_and_patients_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npy");
    for (flag, value, field) in [
        ("--kvp", "150", "kvp"),
        ("--kvp", "65", "kvp"),
        ("--mas", "0", "mas"),
        ("--mas", "-20", "mas"),
        ("--views", "0", "views"),
        ("--collimation-mm", "500", "collimation_mm"),
        ("--arc-deg", "90", "arc_deg"),
    ] {
        let e = fails(
            &[
                "simulate-scan",
                "--phantom",
                "head",
                flag,
                value,
                "--out",
                s(&p),
            ],
            1,
        );
        assert!(e.contains(field), "{flag} {value}: {e}");
    }
    // A volume no tissue explains: 9000 HU is metal, not tissue.
    let grid = roboct_geometry::VolumeGrid::centered([8, 8, 4], [2.0; 3], [0.0; 3]).unwrap();
    let mut data = ndarray::Array3::<f32>::zeros((4, 8, 8));
    data[[2, 3, 5]] = 9000.0;
    let bad = dir.path().join("metal.nii");
    roboct_io::write_volume(
        &bad,
        &roboct_geometry::Volume::from_array(grid, data).unwrap(),
    )
    .unwrap();
    let e = fails(&["simulate-scan", "--phantom", s(&bad), "--out", s(&p)], 1);
    assert!(e.contains("9000") && e.contains("x 5, y 3, z 2"), "{e}");
    let e = fails(
        &[
            "simulate-scan",
            "--phantom",
            s(&dir.path().join("missing.nii")),
            "--out",
            s(&p),
        ],
        1,
    );
    assert!(e.contains("missing.nii"), "{e}");
}

#[test]
fn a_users_volume_reconstructs_onto_its_own_grid() {
    // A water cylinder with a 300 HU insert, written as NIfTI (RAS on disk, so read back with
    // a flipped direction): the scan's geometry carries that grid, and FDK on it gives the
    // same voxels back.
    let dir = tempfile::tempdir().unwrap();
    let grid =
        roboct_geometry::VolumeGrid::centered([48, 48, 12], [2.0, 2.0, 2.0], [6.0, -4.0, 10.0])
            .unwrap();
    let data = ndarray::Array3::from_shape_fn((12, 48, 48), |(_, j, i)| {
        let (x, y) = (i as f32 - 23.5, j as f32 - 23.5);
        if x * x + y * y < 18.0 * 18.0 {
            if (x - 6.0).powi(2) + y * y < 16.0 {
                300.0
            } else {
                0.0
            }
        } else {
            -1000.0
        }
    });
    let vol = dir.path().join("patient.nii");
    roboct_io::write_volume(
        &vol,
        &roboct_geometry::Volume::from_array(grid, data).unwrap(),
    )
    .unwrap();
    let p = dir.path().join("p.npy");
    ok(&[
        "simulate-scan",
        "--phantom",
        s(&vol),
        "--mas",
        "2000",
        "--views",
        "180",
        "--out",
        s(&p),
    ]);
    let r = dir.path().join("r.nii");
    ok(&[
        "recon",
        "--geometry",
        s(&dir.path().join("p.toml")),
        "--projections",
        s(&p),
        "--algorithm",
        "fdk",
        "--out",
        s(&r),
    ]);
    let (a, b) = (
        roboct_io::read_volume(&vol).unwrap(),
        roboct_io::read_volume(&r).unwrap(),
    );
    assert_eq!(a.grid().size(), b.grid().size());
    for k in 0..3 {
        assert!((a.grid().origin_mm()[k] - b.grid().origin_mm()[k]).abs() < 1e-3);
    }
    // The scan record makes the output HU: the insert's centre and the water.
    let (insert, water) = (b.data()[[6, 23, 29]], b.data()[[6, 23, 15]]);
    assert!(water.abs() < 40.0, "water {water}");
    assert!((insert - 300.0).abs() < 80.0, "insert {insert}");
    // In 1/mm on request; PWLS finds the scan's own weights.
    let m = dir.path().join("m.nii");
    ok(&[
        "recon",
        "--geometry",
        s(&dir.path().join("p.toml")),
        "--projections",
        s(&p),
        "--algorithm",
        "fdk",
        "--units",
        "mu",
        "--out",
        s(&m),
    ]);
    let mu_w = roboct_phantom::material::mu_water_reference_per_mm() as f32;
    let w = roboct_io::read_volume(&m).unwrap().data()[[6, 23, 15]];
    assert!((w / mu_w - 1.0).abs() < 0.04, "{w}");
    let pw = dir.path().join("pw.nii");
    let out = ok(&[
        "recon",
        "--geometry",
        s(&dir.path().join("p.toml")),
        "--projections",
        s(&p),
        "--algorithm",
        "pwls",
        "--iterations",
        "5",
        "--out",
        s(&pw),
    ]);
    assert!(out.contains("HU"), "{out}");
    let v = roboct_io::read_volume(&pw).unwrap().data()[[6, 23, 15]];
    assert!(v.abs() < 60.0, "pwls water {v}");
    // HU needs a scan record.
    let bare = dir.path().join("bare.npy");
    std::fs::copy(&p, &bare).unwrap();
    let e = fails(
        &[
            "recon",
            "--geometry",
            s(&dir.path().join("p.toml")),
            "--projections",
            s(&bare),
            "--algorithm",
            "fdk",
            "--units",
            "hu",
            "--out",
            s(&m),
        ],
        1,
    );
    assert!(e.contains("scan record"), "{e}");
}

#[test]
fn bench_dose_prints_the_curve_its_goals_and_a_plot() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&[
        "bench",
        "dose",
        "--cohort",
        "development",
        "--patients",
        "1",
        "--fractions",
        "1,0.25",
        "--sparse",
        "60:0.25",
        "--views",
        "120",
        // A low standard dose, where quantum noise dominates the background's spread (at
        // 250 mAs and 2 mm voxels, beam hardening and view sampling weigh as much).
        "--standard-mas",
        "10",
        "--voxel-mm",
        "2",
        "--methods",
        "fdk,sirt@3,pwls@3:0.02",
        "--png",
        s(dir.path()),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let report = &v[0]["report"];
    assert_eq!(report["cohort"], "development");
    assert_eq!(report["seeds"], serde_json::json!([11]));
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 9, "3 protocols x 3 reconstructions");
    let find = |protocol: &str, method: &str| {
        rows.iter()
            .find(|r| r["protocol"] == protocol && r["method"] == method)
            .unwrap_or_else(|| panic!("no row {protocol} {method}: {rows:?}"))
    };
    let full = find("100%", "fdk-hann");
    let quarter = find("25%", "fdk-hann");
    let sparse = find("25% 60 views", "fdk-hann");
    let f = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap();
    // CTDIvol is linear in mAs and does not depend on how the dose is split into views.
    let ratio = f(quarter, "ctdi_vol_mgy") / f(full, "ctdi_vol_mgy");
    assert!((ratio - 0.25).abs() < 0.01, "CTDIvol ratio {ratio}");
    assert!((f(sparse, "ctdi_vol_mgy") - f(quarter, "ctdi_vol_mgy")).abs() < 1e-6);
    // A quarter of the photons: about twice the FDK noise (quantum noise ~ 1/sqrt(dose)).
    let noise = f(quarter, "noise_hu") / f(full, "noise_hu");
    assert!((1.5..2.6).contains(&noise), "noise ratio {noise}");
    assert!(f(quarter, "cnr") < f(full, "cnr"));
    for r in rows {
        assert!(f(r, "rmse_hu") > 0.0 && f(r, "rmse_hu") < 200.0, "{r}");
        assert!(f(r, "ssim") > 0.0 && f(r, "ssim") <= 1.0, "{r}");
        // The 60 HU bleed over ~30 HU white matter shows as a positive contrast.
        assert!(f(r, "contrast_hu") > 10.0, "{r}");
    }
    let goals = &v[0]["goals"];
    assert_eq!(goals["reference"]["method"], "fdk-hann");
    assert!(goals["quarter_dose_met"].is_boolean(), "{goals}");
    assert!(
        goals["tenth_dose_met"].is_null(),
        "10% was not run: {goals}"
    );
    let plot = dir.path().join("dose-quality-development.png");
    assert_eq!(v[0]["plot"], s(&plot));
    let img = image::open(&plot).unwrap().to_rgb8();
    let coloured = img
        .pixels()
        .filter(|p| p.0[0] != p.0[1] || p.0[1] != p.0[2])
        .count();
    assert!(coloured > 500, "{coloured} coloured pixels in the plot");

    // The table: one FDK row at full dose, the goals it cannot judge said so.
    let text = ok(&[
        "bench",
        "dose",
        "--cohort",
        "test",
        "--patients",
        "1",
        "--fractions",
        "1",
        "--sparse",
        "none",
        "--views",
        "60",
        "--voxel-mm",
        "4",
        "--methods",
        "fdk",
        "--png",
        s(dir.path()),
    ]);
    assert!(text.contains("test patients: seeds [9001]"), "{text}");
    assert!(text.contains("100%") && text.contains("fdk-hann"), "{text}");
    assert!(
        text.contains("goal 1 (4x dose reduction") && text.contains("not run"),
        "{text}"
    );
    assert!(dir.path().join("dose-quality-test.png").exists());
}

#[test]
fn bench_dose_refuses_bad_settings_by_name() {
    for (args, expect) in [
        (vec!["--methods", "art"], "--methods \"art\""),
        (vec!["--methods", "sirt@0"], "--methods \"sirt@0\""),
        (vec!["--fractions", "0"], "--fractions 0"),
        (vec!["--sparse", "120"], "--sparse \"120\""),
        (vec!["--views", "2"], "--views 2"),
        (vec!["--patients", "0"], "--patients 0"),
        (vec!["--voxel-mm", "-1"], "--voxel-mm -1"),
        (vec!["--cohort", "all"], "--cohort \"all\""),
    ] {
        let mut a = vec!["bench", "dose"];
        a.extend(args);
        let e = fails(&a, 1);
        assert!(e.contains(expect), "{a:?}: {e}");
    }
}
