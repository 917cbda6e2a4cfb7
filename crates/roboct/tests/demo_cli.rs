//! `roboct demo` through the binary, as a user meets it: a whole mission on embedded
//! defaults, bad arguments, and a crash (kill -9) with the restart that closes the
//! interrupted mission and still delivers what it had queued.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

fn roboct() -> Command {
    Command::new(env!("CARGO_BIN_EXE_roboct"))
}

/// Fast settings: the sparse-view protocol on a 2 mm grid, a patient without findings.
const FAST: [&str; 5] = ["--voxel-mm", "2", "--protocol", "sparse view", "--clean"];

#[test]
fn the_demo_runs_a_whole_mission_and_prints_its_summary_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = roboct()
        .args(["demo", "--json", "--out"])
        .arg(&out)
        .args(FAST)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["phase"], "done", "{v}");
    // Every phase was shown.
    for phase in [
        "driving",
        "patient_verified",
        "awaiting_confirmation",
        "scanning",
        "reconstructing",
        "diagnosing",
        "reporting",
        "returning",
        "done",
    ] {
        assert!(stderr.contains(phase), "{phase} not shown:\n{stderr}");
    }
    let images = v["ct"]["images"].as_u64().unwrap();
    assert!(images > 10);
    assert_eq!(v["ct"]["sent"].as_u64().unwrap(), images + 2);
    assert_eq!(v["pacs_stored"].as_u64().unwrap(), images + 2);
    assert_eq!(v["ct"]["mpps"], "completed");
    // The artefacts are where the summary says, and the PACS folder holds the files.
    for f in [
        "route.png",
        "route.json",
        "volume.nii.gz",
        "dose_sr.dcm",
        "findings_sr.dcm",
        "events.jsonl",
        "missions.sqlite",
        "patient_truth.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The images and the two SRs, and the procedure step (MPPS) apart.
    let files = walk(&out.join("pacs"));
    let dcm = |p: &&std::path::PathBuf| p.extension().is_some_and(|e| e == "dcm");
    let mpps = files
        .iter()
        .filter(dcm)
        .filter(|p| p.parent().unwrap().ends_with("mpps"));
    assert_eq!(mpps.count(), 1);
    assert_eq!(files.iter().filter(dcm).count() as u64, images + 2 + 1);
    // The series on disk reads back (by our reader) onto the volume's grid.
    let volume = roboct_io::read_volume(&out.join("volume.nii.gz")).unwrap();
    let (back, _) = roboct_dicom::reader::read_series(&out.join("dicom"), None).unwrap();
    assert_eq!(back.grid().size(), volume.grid().size());
    assert_eq!(volume.grid().size()[2] as u64, images);
    let route: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("route.json")).unwrap()).unwrap();
    assert!((route["length_m"].as_f64().unwrap() - v["route_m"].as_f64().unwrap()).abs() < 1e-9);
    assert!(v["ledger"]["joules"]["drive"].as_f64().unwrap() > 1000.0);
    assert!(v["ledger"]["joules"]["xray"].as_f64().unwrap() > 0.0);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn bad_arguments_and_refused_missions_say_why_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (vec!["--say", "soon:stop"], "is not a time in seconds"),
        (vec!["--say", "stop"], "expected SECONDS:TEXT"),
        (vec!["--battery", "1.5"], "--battery 1.5"),
        (vec!["--place", "ward-9/bed-99"], "ward-9/bed-99"),
        (vec!["--wristband", "0815"], "patient identity"),
        (vec!["--battery", "0.05"], "battery"),
        (vec!["--say", "30:stop"], "stopped"),
    ] {
        let o = roboct()
            .args(["demo", "--out"])
            .arg(dir.path())
            .args(FAST)
            .args(&args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.status.success(), "{args:?} succeeded:\n{text}");
        assert!(
            text.to_lowercase().contains(&expected.to_lowercase()),
            "{args:?}: expected {expected:?} in:\n{text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
    // A PACS configuration that does not exist is named.
    let o = roboct()
        .args(["demo", "--pacs", "/nonexistent/pacs.toml", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/pacs.toml"));
}

#[test]
fn after_a_kill_9_the_restart_closes_the_interrupted_mission_and_delivers_its_images() {
    // The robot clock runs 40 times faster than the wall clock: the drive takes about 7 s,
    // so kills at these times land while driving, and later while scanning, reconstructing
    // or reporting (the exact phase does not matter: every phase must recover).
    for kill_after in [Duration::from_secs(3), Duration::from_millis(7800)] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = roboct()
            .args(["demo", "--time-scale", "40", "--out"])
            .arg(dir.path())
            .args(FAST)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < kill_after {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let o = roboct()
            .args(["demo", "--json", "--out"])
            .arg(dir.path())
            .args(FAST)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        if !finished {
            assert!(
                stderr.contains("mission 1 was interrupted in"),
                "after a kill at {kill_after:?}:\n{stderr}"
            );
        }
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["mission"], 2);
        assert_eq!(v["ct"]["pending"], 0, "{v}");
        // Nothing is left open in the store: check through the event log of mission 2 and
        // a third run that finds nothing to close.
        let o = roboct()
            .args(["demo", "--out"])
            .arg(dir.path())
            .args(FAST)
            .args(["--wristband", "nobody"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(!text.contains("was interrupted"), "{text}");
    }
}

#[test]
fn a_site_file_sets_the_dose_notification_and_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    // A head notification value under the fast demo scan's CTDIvol (about 14 mGy): the robot asks
    // for a second confirmation before it arms the scan.
    let site = dir.path().join("site.toml");
    std::fs::write(&site, "dock = \"dock\"\nnotification_head_mgy = 10\n").unwrap();
    let o = roboct()
        .args(["demo", "--json", "--site"])
        .arg(&site)
        .arg("--out")
        .arg(dir.path().join("out"))
        .args(FAST)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let said: Vec<String> = serde_json::from_value(v["said"].clone()).unwrap();
    assert!(
        said.iter()
            .any(|s| s.contains("over the notification value of 10")),
        "{said:?}"
    );
    // Bad site files name the file and the field.
    for (text, expected) in [
        ("notification_head_mgy = -1\n", "notification_head_mgy"),
        ("dose = 3\n", "unknown field `dose`"),
        ("map = \"missing.yaml\"\n", "missing.yaml"),
        ("dock = \"ward-9\"\n", "ward-9"),
    ] {
        std::fs::write(&site, text).unwrap();
        let o = roboct()
            .args(["demo", "--site"])
            .arg(&site)
            .arg("--out")
            .arg(dir.path().join("bad"))
            .args(FAST)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{text}");
        assert!(err.contains(expected), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn the_order_can_come_from_a_real_worklist() {
    use roboct_bench::loopback::{ChildGuard, free_port, wait_port};
    let tmp = tempfile::tempdir().unwrap();
    // A head CT for patient PID-77 in ward 3, bed 12, scheduled for our station.
    common::write_worklist(tmp.path(), "CT HEAD", "WARD 3 BED 12");
    let port = free_port().unwrap();
    let _wl = ChildGuard::spawn(
        "wlmscpfs",
        Command::new("wlmscpfs")
            .arg("-dfp")
            .arg(tmp.path())
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap();
    assert!(wait_port(port, Duration::from_secs(10)));
    let cfg = tmp.path().join("dicom.toml");
    std::fs::write(
        &cfg,
        format!("[station]\nae_title = \"ROBOCT\"\n\n[worklist]\nae_title = \"WLM\"\nhost = \"127.0.0.1\"\nport = {port}\n"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = roboct()
        .args(["demo", "--json", "--worklist"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .args(FAST)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("order from worklist: head scan"),
        "{stderr}"
    );
    assert!(stderr.contains("ward-3/bed-12"), "{stderr}");
    // The images carry the worklist's study, patient and accession.
    let first = walk(&out.join("dicom"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "dcm"))
        .unwrap();
    let dump = Command::new("dcmdump").arg(&first).output().unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    for (tag, value) in [
        ("(0020,000d)", "[1.2.3.77]"),
        ("(0010,0020)", "[PID-77]"),
        ("(0008,0050)", "[ACC77]"),
    ] {
        assert!(
            dump.lines()
                .any(|l| l.starts_with(tag) && l.contains(value)),
            "{tag} {value} not in:\n{dump}"
        );
    }
    // A worklist that cannot be reached is named.
    drop(_wl);
    let o = roboct()
        .args(["demo", "--worklist"])
        .arg(&cfg)
        .arg("--out")
        .arg(tmp.path().join("out2"))
        .args(FAST)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("polling the worklist"));
}
