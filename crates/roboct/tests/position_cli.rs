//! `roboct position` through the binary: a head phantom is planned with a range covering its
//! truth; bad input is a clear error and a non-zero exit.

use std::process::Command;

fn roboct() -> Command {
    Command::new(env!("CARGO_BIN_EXE_roboct"))
}

#[test]
fn a_head_phantom_is_planned_and_its_range_covers_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("plan.json");
    let png = dir.path().join("scout.png");
    let out = roboct()
        .args(["position", "--phantom", "head", "--seed", "7", "--json"])
        .arg(&json)
        .arg("--png")
        .arg(&png)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("plan: scan z"), "{stdout}");
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["target"], "head");
    assert!(j["reason"].is_null());
    assert!(j["frame"].as_str().unwrap().contains("head phantom"));
    let range: Vec<f64> = serde_json::from_value(j["scan_range_mm"].clone()).unwrap();
    let iso: Vec<f64> = serde_json::from_value(j["isocenter_mm"].clone()).unwrap();
    assert_eq!(iso.len(), 3);
    assert!(j["landmarks"]["vertex"].is_array());
    assert!(j["scout_dlp_mgycm"].as_f64().unwrap() > 0.0);
    assert!(j["scan_dlp_mgycm"].as_f64().unwrap() > 20.0 * j["scout_dlp_mgycm"].as_f64().unwrap());
    // The truth of the same phantom, in the same frame.
    let head = roboct_phantom::head::head(&roboct_phantom::head::HeadOptions {
        seed: 7,
        ..Default::default()
    })
    .unwrap();
    let brain = head.truth().organs["brain"].clone();
    assert!(
        range[0] <= brain.min_mm[2] && range[1] >= brain.max_mm[2],
        "range {range:?}, brain {:.1}..{:.1}",
        brain.min_mm[2],
        brain.max_mm[2]
    );
    assert!(range[1] - range[0] < brain.max_mm[2] - brain.min_mm[2] + 30.0);
    let c = [
        0.5 * (brain.min_mm[0] + brain.max_mm[0]),
        0.5 * (brain.min_mm[1] + brain.max_mm[1]),
    ];
    assert!(
        (iso[0] - c[0]).hypot(iso[1] - c[1]) < 5.0,
        "{iso:?} vs {c:?}"
    );
    let img = image::open(&png).unwrap();
    assert!(img.width() > 200 && img.height() > 200);
}

#[test]
fn bad_input_is_a_clear_error_with_a_non_zero_exit() {
    let out = roboct()
        .args(["position", "--phantom", "/no/such/volume.nii"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no such file") && err.contains("head, chest"),
        "{err}"
    );
    let out = roboct()
        .args(["position", "--phantom", "head", "--target", "knee"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("head or chest"));
    let out = roboct()
        .args(["bench", "positioning", "--patients", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 2"));
}
