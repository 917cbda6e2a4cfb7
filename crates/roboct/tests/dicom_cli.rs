//! The DICOM commands end to end through the binary, against dcmtk peers on loopback:
//! export-dicom -> import-dicom round trip, upload through the outbox with the PACS down and
//! back, outbox status, worklist, and bad input.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;

use ndarray::Array3;
use roboct_bench::loopback::ChildGuard;
use roboct_geometry::{Volume, VolumeGrid};

fn roboct(args: &[&str], config: Option<&Path>) -> Output {
    let mut c = common::command(args);
    if let Some(cfg) = config {
        c.env("ROBOCT_PACS_CONFIG", cfg);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn free_port() -> u16 {
    roboct_bench::loopback::free_port().unwrap()
}

/// A dcmtk peer, stopped when dropped (also when the test panics).
fn start(cmd: &mut Command, port: u16) -> ChildGuard {
    let peer = ChildGuard::spawn(
        "dcmtk peer",
        cmd.stdout(Stdio::null()).stderr(Stdio::null()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        roboct_bench::loopback::wait_port(port, Duration::from_secs(10)),
        "peer did not start"
    );
    peer
}

fn storescp(dir: &Path, port: u16) -> ChildGuard {
    start(
        Command::new("storescp")
            .args(["-aet", "PACS", "-od"])
            .arg(dir)
            .arg(port.to_string())
            .env("TCP_NODELAY", "1"),
        port,
    )
}

fn hu_volume() -> Volume {
    let grid = VolumeGrid::centered([20, 16, 6], [0.6, 0.6, 1.25], [3.0, -2.0, 10.0]).unwrap();
    let data = Array3::from_shape_fn((6, 16, 20), |(z, y, x)| {
        (z as f32) * 50.0 + (y * 20 + x) as f32 - 1000.0
    });
    Volume::from_array(grid, data).unwrap()
}

#[test]
fn export_then_import_round_trips_and_bad_volumes_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let mha = tmp.path().join("vol.mha");
    let v = hu_volume();
    roboct_io::write_volume(&mha, &v).unwrap();
    let out = tmp.path().join("dicom");
    let o = roboct(
        &[
            "export-dicom",
            mha.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 6);
    let nii = tmp.path().join("back.nii.gz");
    let o = roboct(
        &[
            "import-dicom",
            out.to_str().unwrap(),
            "--out",
            nii.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let back = roboct_io::read_volume(&nii).unwrap();
    assert_eq!(back.data(), v.data());
    for a in 0..3 {
        assert!((back.grid().origin_mm()[a] - v.grid().origin_mm()[a]).abs() < 1e-3);
        assert!((back.grid().spacing_mm()[a] - v.grid().spacing_mm()[a]).abs() < 1e-4);
    }
    // A volume without geometry (.npy) is refused with the file named.
    let npy = tmp.path().join("vol.npy");
    roboct_io::write_volume(&npy, &v).unwrap();
    let o = roboct(
        &[
            "export-dicom",
            npy.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("vol.npy"), "{}", text(&o));
    // A folder with no images.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = roboct(
        &[
            "import-dicom",
            empty.to_str().unwrap(),
            "--out",
            nii.to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("no image series"), "{}", text(&o));
}

#[test]
fn upload_survives_an_absent_pacs_and_status_tells() {
    let tmp = tempfile::tempdir().unwrap();
    let mha = tmp.path().join("vol.mha");
    roboct_io::write_volume(&mha, &hu_volume()).unwrap();
    let series = tmp.path().join("series");
    let o = roboct(
        &[
            "export-dicom",
            mha.to_str().unwrap(),
            "--out",
            series.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(series.join("notes.txt"), "not dicom").unwrap();
    let port = free_port();
    let cfg = tmp.path().join("pacs.toml");
    std::fs::write(
        &cfg,
        format!(
            "[station]\nae_title = \"ROBOCT\"\noutbox = \"box\"\n\n[pacs.main]\nae_title = \"PACS\"\nhost = \"127.0.0.1\"\nport = {port}\ntimeout_s = 5\n"
        ),
    )
    .unwrap();
    // PACS down: the upload keeps everything queued, says so, and fails.
    let o = roboct(
        &[
            "upload",
            series.to_str().unwrap(),
            "--to",
            "main",
            "--timeout-s",
            "1",
        ],
        Some(&cfg),
    );
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("6 instances are still queued") && t.contains("PACS@127.0.0.1"),
        "{t}"
    );
    let o = roboct(&["outbox", "status"], Some(&cfg));
    let t = text(&o);
    assert!(
        o.status.success() && t.contains("main: 6 pending, 0 sent, 0 failed"),
        "{t}"
    );
    assert!(t.contains("cannot connect"), "{t}");
    // PACS up: flush delivers every instance once.
    let received = tmp.path().join("received");
    std::fs::create_dir(&received).unwrap();
    let _pacs = storescp(&received, port);
    let o = roboct(&["outbox", "flush", "--to", "main"], Some(&cfg));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_dir(&received).unwrap().count(), 6);
    let o = roboct(&["outbox", "status"], Some(&cfg));
    assert!(
        text(&o).contains("main: 0 pending, 6 sent, 0 failed"),
        "{}",
        text(&o)
    );
    // Uploading the same folder again sends nothing new.
    let o = roboct(
        &["upload", series.to_str().unwrap(), "--to", "main"],
        Some(&cfg),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("queued 0 new instances"), "{}", text(&o));
    // A corrupt file in the folder is named, nothing is queued from it.
    let bad = series.join("CT000003.dcm");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let o = roboct(
        &["upload", series.to_str().unwrap(), "--to", "main"],
        Some(&cfg),
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("CT000003.dcm"), "{}", text(&o));
    // An unknown PACS name lists the configured ones.
    let o = roboct(
        &["upload", series.to_str().unwrap(), "--to", "nope"],
        Some(&cfg),
    );
    assert!(
        !o.status.success() && text(&o).contains("configured: main"),
        "{}",
        text(&o)
    );
}

#[test]
fn worklist_prints_the_orders_and_bad_configs_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_worklist(tmp.path(), "CT CHEST", "WARD 5 BED 2");
    let port = free_port();
    let _wl = start(
        Command::new("wlmscpfs")
            .arg("-dfp")
            .arg(tmp.path())
            .arg(port.to_string()),
        port,
    );
    let cfg = tmp.path().join("pacs.toml");
    std::fs::write(
        &cfg,
        format!("[station]\nae_title = \"ROBOCT\"\n\n[worklist]\nae_title = \"WLM\"\nhost = \"127.0.0.1\"\nport = {port}\n"),
    )
    .unwrap();
    // Patient identifiers are masked unless asked for: in the table and in the JSON.
    let in_clear = ["ROE", "RICHARD", "PID-77", "19700101", "ACC77", "HOUSE"];
    let o = roboct(&["worklist", "--date", "20261129"], Some(&cfg));
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("R^R")
            && t.contains("***#")
            && t.contains("SPS77")
            && t.contains("WARD 5 BED 2"),
        "{t}"
    );
    for phi in in_clear {
        assert!(!t.contains(phi), "{phi} printed without --show-phi: {t}");
    }
    let o = roboct(&["worklist", "--date", "20261129", "--json"], Some(&cfg));
    let t = text(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["patient"]["name"], "R^R", "{v}");
    assert!(
        v[0]["patient"]["id"].as_str().unwrap().starts_with("***#"),
        "{v}"
    );
    assert_eq!(v[0]["patient"]["birth_date"], "***", "{v}");
    assert_eq!(v[0]["patient"]["sex"], "M", "{v}");
    assert_eq!(v[0]["study_instance_uid"], "1.2.3.77", "{v}");
    for phi in in_clear {
        assert!(!t.contains(phi), "{phi} printed without --show-phi: {t}");
    }
    let o = roboct(
        &["worklist", "--date", "20261129", "--json", "--show-phi"],
        Some(&cfg),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["patient"]["id"], "PID-77");
    assert_eq!(v[0]["patient"]["name"], "ROE^RICHARD");
    assert_eq!(v[0]["order"]["accession_number"], "ACC77");
    let o = roboct(
        &["worklist", "--date", "20261129", "--show-phi"],
        Some(&cfg),
    );
    assert!(
        text(&o).contains("ROE^RICHARD") && text(&o).contains("PID-77"),
        "{}",
        text(&o)
    );
    // Another day: no orders, not an error.
    let o = roboct(&["worklist", "--date", "20200101"], Some(&cfg));
    assert!(
        o.status.success() && text(&o).contains("no scheduled CT orders"),
        "{}",
        text(&o)
    );
    // Bad configuration: the field is named.
    std::fs::write(&cfg, "[station]\nae_title = \"ROBOCT\"\n[worklist]\nae_title = \"WLM\"\nhost = \"127.0.0.1\"\nport = 99999\n").unwrap();
    let o = roboct(&["worklist"], Some(&cfg));
    assert!(
        !o.status.success() && text(&o).contains("port"),
        "{}",
        text(&o)
    );
    // Missing credentials name the variable, never a value.
    std::fs::write(
        &cfg,
        "[station]\nae_title = \"ROBOCT\"\noutbox = \"box\"\n[pacs.web]\ndicomweb_url = \"http://127.0.0.1:1/dicom-web\"\nusername = \"robot\"\npassword_env = \"ROBOCT_TEST_UNSET_PASSWORD\"\n",
    )
    .unwrap();
    let series = tmp.path().join("series");
    let mha = tmp.path().join("vol.mha");
    roboct_io::write_volume(&mha, &hu_volume()).unwrap();
    let o = roboct(
        &[
            "export-dicom",
            mha.to_str().unwrap(),
            "--out",
            series.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success());
    let o = roboct(
        &[
            "upload",
            series.to_str().unwrap(),
            "--to",
            "web",
            "--timeout-s",
            "0.5",
        ],
        Some(&cfg),
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("ROBOCT_TEST_UNSET_PASSWORD"),
        "{}",
        text(&o)
    );
}

#[test]
fn pacs_urls_with_credentials_or_plain_http_are_refused_when_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("pacs.toml");
    let stow = |url: &str, extra: &str| {
        std::fs::write(
            &cfg,
            format!("[station]\nae_title = \"ROBOCT\"\noutbox = \"box\"\n[pacs.web]\ndicomweb_url = \"{url}\"\n{extra}"),
        )
        .unwrap();
        roboct(&["outbox", "status"], Some(&cfg))
    };
    // Credentials in the URL: refused, the field named, the way out said, nothing echoed.
    let o = stow("https://robot:hunter2@pacs.example.org/dicom-web", "");
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("pacs.web.dicomweb_url") && t.contains("password_env"),
        "{t}"
    );
    assert!(!t.contains("hunter2"), "a credential was echoed: {t}");
    // Basic credentials over plain HTTP to another host: refused until `insecure = true`.
    let basic = "username = \"robot\"\npassword_env = \"ROBOCT_TEST_PW\"\n";
    let o = stow("http://pacs.example.org/dicom-web", basic);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("pacs.web.dicomweb_url") && t.contains("insecure = true"),
        "{t}"
    );
    let o = stow(
        "http://pacs.example.org/dicom-web",
        &format!("{basic}insecure = true\n"),
    );
    assert!(o.status.success(), "{}", text(&o));
    // This machine over plain HTTP (a local archive, a tunnel's end): accepted as is.
    let o = stow("http://127.0.0.1:8042/dicom-web", basic);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn numbers_and_positions_out_of_range_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("pacs.toml");
    std::fs::write(
        &cfg,
        "[station]\nae_title = \"ROBOCT\"\noutbox = \"box\"\n\n[pacs.main]\nae_title = \"PACS\"\nhost = \"127.0.0.1\"\nport = 1\n",
    )
    .unwrap();
    let dir = tmp.path().to_str().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (
            &[
                "outbox",
                "prune",
                "--to",
                "main",
                "--older-than-days",
                "1e300",
            ],
            "1e300",
        ),
        (
            &["outbox", "prune", "--to", "main", "--older-than-days=-1"],
            "-1",
        ),
        (
            &[
                "outbox",
                "prune",
                "--to",
                "main",
                "--older-than-days",
                "NaN",
            ],
            "NaN",
        ),
        (
            &["outbox", "flush", "--to", "main", "--timeout-s", "inf"],
            "inf",
        ),
        (
            &["outbox", "flush", "--to", "main", "--timeout-s", "0"],
            "0",
        ),
        (
            &["upload", dir, "--to", "main", "--timeout-s", "1e300"],
            "1e300",
        ),
        (
            &["upload", dir, "--to", "main", "--timeout-s", "nan"],
            "nan",
        ),
        (
            &["upload", dir, "--to", "main", "--timeout-s", "soon"],
            "soon",
        ),
        (
            &[
                "export-dicom",
                "v.nii",
                "--out",
                dir,
                "--patient-position",
                "HFX",
            ],
            "HFX",
        ),
    ];
    for (args, value) in cases {
        let o = roboct(args, Some(&cfg));
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {t}");
        assert!(!t.contains("panicked"), "{args:?}: {t}");
        assert!(
            t.contains(&format!("invalid value '{value}'")),
            "{args:?}: {t}"
        );
        assert!(
            t.contains("expected") || t.contains("not a number") || t.contains("not one of"),
            "{args:?}: {t}"
        );
    }
    // The edges of the ranges are accepted.
    let o = roboct(
        &[
            "outbox",
            "prune",
            "--to",
            "main",
            "--older-than-days",
            "36500",
        ],
        Some(&cfg),
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = roboct(
        &["outbox", "prune", "--to", "main", "--older-than-days", "0"],
        Some(&cfg),
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// An outside CT series, made by pydicom as another vendor would: tilted 15 degrees about x,
/// 12-bit unsigned pixels with slope 0.5 and intercept -1024, the given body part (or none).
const OUTSIDE_SERIES: &str = r#"
import sys, numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
out, body_part = sys.argv[1], sys.argv[2]
study, series, frame = generate_uid(), generate_uid(), generate_uid()
c, s = np.cos(np.radians(15)), np.sin(np.radians(15))
row, col = np.array([1.0, 0, 0]), np.array([0, c, s])
normal = np.cross(row, col)
for k in range(3):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    d = Dataset(); d.file_meta = meta
    d.SOPClassUID = meta.MediaStorageSOPClassUID; d.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    d.PatientName = "OUTSIDE^PATIENT"; d.PatientID = "EXT-4711"; d.PatientBirthDate = "19600101"; d.PatientSex = "F"
    d.StudyInstanceUID = study; d.StudyID = "S77"; d.StudyDate = "20260102"; d.StudyTime = "101500"
    d.AccessionNumber = "ACC-99"; d.ReferringPhysicianName = "REF^DOC"; d.StudyDescription = "OUTSIDE CT"
    d.Modality = "CT"; d.SeriesInstanceUID = series; d.SeriesNumber = 3; d.SeriesDescription = "VENDOR X AXIAL"
    d.PatientPosition = "FFS"
    if body_part != "-":
        d.BodyPartExamined = body_part
    d.FrameOfReferenceUID = frame; d.PositionReferenceIndicator = ""
    d.Manufacturer = "VendorX"; d.InstanceNumber = k + 1; d.AcquisitionNumber = 1
    d.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]; d.KVP = 100
    d.ImagePositionPatient = list(np.array([-10.0, -12.0, 40.0]) + 2.5 * k * normal)
    d.ImageOrientationPatient = list(row) + list(col)
    d.PixelSpacing = [0.8, 0.7]; d.SliceThickness = 2.5
    d.Rows, d.Columns = 20, 24
    d.SamplesPerPixel = 1; d.PhotometricInterpretation = "MONOCHROME2"
    d.BitsAllocated = 16; d.BitsStored = 12; d.HighBit = 11; d.PixelRepresentation = 0
    d.RescaleSlope = 0.5; d.RescaleIntercept = -1024; d.RescaleType = "HU"
    px = (np.arange(20 * 24).reshape(20, 24) * 3 + 2000 + 100 * k).astype(np.uint16)
    d.PixelData = px.tobytes()
    d.save_as(f"{out}/IMG{k}.dcm", enforce_file_format=True)
"#;

fn dciodvfy_errors(path: &Path) -> Vec<String> {
    let out = Command::new("dciodvfy")
        .arg(path)
        .output()
        .expect("dciodvfy");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.starts_with("Error"))
        .map(str::to_string)
        .collect()
}

fn dump(path: &Path) -> String {
    let out = Command::new("dcmdump").arg(path).output().expect("dcmdump");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A value of dcmdump's output: `(0010,0020) LO [EXT-4711]` -> `EXT-4711`.
fn dumped(dump: &str, tag: &str) -> Option<String> {
    let line = dump.lines().find(|l| l.trim_start().starts_with(tag))?;
    let v = line
        .split_once('[')
        .map(|(_, r)| r.split(']').next().unwrap_or(""));
    Some(v.unwrap_or("").to_string())
}

/// import-dicom of an outside series, then export-dicom: zero dciodvfy errors, whatever the
/// body part (none, a paired one, an unpaired one, one given on the command line), and the
/// derived series lands in the same patient and study, with the same geometry and values.
#[test]
fn outside_series_round_trip_is_dciodvfy_clean_and_keeps_the_study() {
    for (body_part, flag, want_part, want_laterality) in [
        ("-", None, None, true),
        ("KNEE", None, Some("KNEE"), true),
        ("HEAD", None, Some("HEAD"), false),
        ("-", Some("head"), Some("HEAD"), false),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("outside");
        std::fs::create_dir(&src).unwrap();
        let made = Command::new(common::python())
            .arg("-c")
            .arg(OUTSIDE_SERIES)
            .arg(&src)
            .arg(body_part)
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let vol = tmp.path().join("vol.nii.gz");
        let o = roboct(
            &[
                "import-dicom",
                src.to_str().unwrap(),
                "--out",
                vol.to_str().unwrap(),
            ],
            None,
        );
        assert!(o.status.success(), "{}", text(&o));
        assert!(tmp.path().join("vol.nii.gz.dicom.json").exists());
        // No patient value on the terminal.
        assert!(
            !text(&o).contains("EXT-4711") && !text(&o).contains("OUTSIDE"),
            "{}",
            text(&o)
        );
        let out = tmp.path().join("series");
        let mut args = vec![
            "export-dicom",
            vol.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(f) = flag {
            args.extend(["--body-part", f]);
        }
        let o = roboct(&args, None);
        assert!(o.status.success(), "{}", text(&o));
        let mut files: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 3);
        for f in &files {
            let errors = dciodvfy_errors(f);
            assert!(errors.is_empty(), "{body_part} {flag:?}: {errors:?}");
        }
        let first = dump(&files[0]);
        let original = dump(&src.join("IMG0.dcm"));
        for tag in [
            "(0010,0010)",
            "(0010,0020)",
            "(0010,0030)",
            "(0020,000d)",
            "(0008,0050)",
            "(0020,0052)",
        ] {
            assert_eq!(dumped(&first, tag), dumped(&original, tag), "{tag}");
        }
        assert_ne!(
            dumped(&first, "(0020,000e)"),
            dumped(&original, "(0020,000e)")
        );
        assert_eq!(dumped(&first, "(0018,0015)").as_deref(), want_part);
        assert_eq!(first.contains("(0020,0060)"), want_laterality, "{first}");
        assert_eq!(dumped(&first, "(0018,5100)").as_deref(), Some("FFS"));
        assert!(first.contains("DERIVED\\SECONDARY\\AXIAL"), "{first}");
        // Same tilted geometry, same values in HU.
        let iop = |d: &str| -> Vec<f64> {
            dumped(d, "(0020,0037)")
                .unwrap()
                .split('\\')
                .map(|x| x.parse().unwrap())
                .collect()
        };
        for (a, b) in iop(&first).iter().zip(iop(&original)) {
            assert!((a - b).abs() < 1e-4, "{first}");
        }
        let back = tmp.path().join("back.nii");
        let o = roboct(
            &[
                "import-dicom",
                out.to_str().unwrap(),
                "--out",
                back.to_str().unwrap(),
            ],
            None,
        );
        assert!(o.status.success(), "{}", text(&o));
        let (a, b) = (
            roboct_io::read_volume(&vol).unwrap(),
            roboct_io::read_volume(&back).unwrap(),
        );
        assert_eq!(a.grid().size(), b.grid().size());
        let centre_a = a.grid().world_from_index([0.0, 0.0, 2.0]);
        let centre_b = b.grid().world_from_index([0.0, 0.0, 2.0]);
        for i in 0..3 {
            assert!(
                (centre_a[i] - centre_b[i]).abs() < 1e-3,
                "{centre_a:?} {centre_b:?}"
            );
        }
        // 12-bit raw 2000..3700 at slope 0.5 and intercept -1024: -24..826 HU, kept exactly.
        let d = a
            .data()
            .iter()
            .zip(b.data().iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(d <= 0.5, "largest difference {d} HU");
        assert!((a.data()[[0, 0, 0]] - (2000.0 * 0.5 - 1024.0)).abs() < 1e-3);
    }
    // A context file that is not one, and a body part that is not a code string: named.
    let tmp = tempfile::tempdir().unwrap();
    let mha = tmp.path().join("v.mha");
    roboct_io::write_volume(&mha, &hu_volume()).unwrap();
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": 3}").unwrap();
    let o = roboct(
        &[
            "export-dicom",
            mha.to_str().unwrap(),
            "--out",
            tmp.path().join("s").to_str().unwrap(),
            "--context",
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("bad.json"), "{}", text(&o));
    let o = roboct(
        &[
            "export-dicom",
            mha.to_str().unwrap(),
            "--out",
            tmp.path().join("s").to_str().unwrap(),
            "--body-part",
            "knee/left",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("--body-part") && text(&o).contains("knee/left"),
        "{}",
        text(&o)
    );
}
