//! `roboct diagnose` through the binary: a phantom head written by `roboct phantom --head`
//! is read into JSON whose finding matches the phantom's truth (in the NIfTI file's RAS
//! frame); a missing file and a volume that is not in HU fail with a clear message and exit
//! status 1, the latter still writing its not-assessable report.

mod common;

use common::roboct;

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_phantom_head_with_a_bleed_is_read_into_json_matching_its_truth() {
    let dir = tempfile::tempdir().unwrap();
    let vol = dir.path().join("head.nii.gz");
    let truth_path = dir.path().join("truth.json");
    let out = roboct(&[
        "phantom",
        "--head",
        "--seed",
        "31",
        "--bleed",
        "iph:8:left:70",
        "--size",
        "208,244,100",
        "--voxel-mm",
        "1,1,2",
        "--center-mm",
        "0,0,5",
        "--volume",
        vol.to_str().unwrap(),
        "--truth",
        truth_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = dir.path().join("dx.json");
    let pngs = dir.path().join("keys");
    let out = roboct(&[
        "diagnose",
        vol.to_str().unwrap(),
        "--json",
        report.to_str().unwrap(),
        "--png",
        pngs.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Left intraparenchymal haemorrhage"),
        "{stdout}"
    );
    let dx = json(&report);
    for key in [
        "assessable",
        "reason",
        "findings",
        "midline_shift_mm",
        "ventricle_volume_ml",
        "time_s",
        "frame",
    ] {
        assert!(dx.get(key).is_some(), "no {key} in {dx}");
    }
    assert_eq!(dx["assessable"], true);
    assert!(dx["reason"].is_null());
    // A NIfTI file's world frame is RAS.
    assert_eq!(dx["frame"], "RAS");
    let truth = json(&truth_path);
    let t = &truth["findings"][0];
    let t_lps: Vec<f64> = (0..3)
        .map(|k| t["centroid_mm"][k].as_f64().unwrap())
        .collect();
    let t_ras = [-t_lps[0], -t_lps[1], t_lps[2]];
    let findings = dx["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{dx}");
    let f = &findings[0];
    for key in [
        "kind",
        "volume_ml",
        "centroid_mm",
        "side",
        "max_thickness_mm",
        "confidence",
    ] {
        assert!(f.get(key).is_some(), "no {key} in {f}");
    }
    assert_eq!(f["kind"], "intraparenchymal");
    assert_eq!(f["side"], "left");
    let c: Vec<f64> = (0..3)
        .map(|k| f["centroid_mm"][k].as_f64().unwrap())
        .collect();
    let d = (0..3)
        .map(|k| (c[k] - t_ras[k]).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(
        d <= 4.0,
        "centroid {c:?} against the truth's {t_ras:?} (RAS)"
    );
    let (v, tv) = (
        f["volume_ml"].as_f64().unwrap(),
        t["volume_ml"].as_f64().unwrap(),
    );
    assert!((v - tv).abs() <= 0.15 * tv, "{v} mL against {tv} mL");
    let confidence = f["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence));
    assert!(dx["midline_shift_mm"].as_f64().unwrap().abs() <= 2.0);
    // One key image per finding.
    let n = std::fs::read_dir(&pngs).unwrap().count();
    assert_eq!(n, 1);
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.nii.gz");
    let out = roboct(&["diagnose", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing.nii.gz"), "{err}");
}

#[test]
fn a_volume_not_in_hu_is_not_assessable() {
    let dir = tempfile::tempdir().unwrap();
    // Shepp-Logan in mu (1/mm), the size of a head.
    let vol = dir.path().join("mu.nii.gz");
    let out = roboct(&[
        "phantom",
        "--size",
        "96,96,64",
        "--voxel-mm",
        "2",
        "--volume",
        vol.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = dir.path().join("dx.json");
    let out = roboct(&[
        "diagnose",
        vol.to_str().unwrap(),
        "--json",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not assessable"), "{err}");
    assert!(err.contains("HU"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT ASSESSABLE"));
    let dx = json(&report);
    assert_eq!(dx["assessable"], false);
    assert!(dx["reason"].as_str().unwrap().contains("HU"));
    assert!(dx["findings"].as_array().unwrap().is_empty());
}
