//! The DICOM commands end to end through the binary, against dcmtk peers on loopback:
//! export-dicom -> import-dicom round trip, upload through the outbox with the PACS down and
//! back, outbox status, worklist, and bad input.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;

use ndarray::Array3;
use roboct_dicom::loopback::ChildGuard;
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
    roboct_dicom::loopback::free_port().unwrap()
}

/// A dcmtk peer, stopped when dropped (also when the test panics).
fn start(cmd: &mut Command, port: u16) -> ChildGuard {
    let peer = ChildGuard::spawn(
        "dcmtk peer",
        cmd.stdout(Stdio::null()).stderr(Stdio::null()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        roboct_dicom::loopback::wait_port(port, Duration::from_secs(10)),
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
    let ae = tmp.path().join("WLM");
    std::fs::create_dir(&ae).unwrap();
    std::fs::write(ae.join("lockfile"), b"").unwrap();
    let dump = "(0008,0005) CS [ISO_IR 100]\n(0008,0050) SH [ACC77]\n(0008,0090) PN [HOUSE^GREGORY]\n(0010,0010) PN [ROE^RICHARD]\n(0010,0020) LO [PID-77]\n\
(0010,0030) DA [19700101]\n(0010,0040) CS [M]\n(0020,000d) UI [1.2.3.77]\n(0032,1060) LO [CT CHEST]\n\
(0038,0300) LO [WARD 5 BED 2]\n(0040,1001) SH [RP77]\n(0040,0100) SQ (Sequence with explicit length #=1)\n\
(fffe,e000) na (Item with explicit length #=6)\n(0008,0060) CS [CT]\n(0040,0001) AE [ROBOCT]\n\
(0040,0002) DA [20261129]\n(0040,0003) TM [101500]\n(0040,0007) LO [CT CHEST]\n(0040,0009) SH [SPS77]\n\
(fffe,e00d) na (ItemDelimitationItem for re-encoding)\n(fffe,e0dd) na (SequenceDelimitationItem for re-encoding)\n";
    std::fs::write(tmp.path().join("o.dump"), dump).unwrap();
    let st = Command::new("dump2dcm")
        .arg(tmp.path().join("o.dump"))
        .arg(ae.join("o.wl"))
        .status()
        .unwrap();
    assert!(st.success());
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
    let o = roboct(&["worklist", "--date", "20261129"], Some(&cfg));
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("ROE^RICHARD") && t.contains("SPS77") && t.contains("WARD 5 BED 2"),
        "{t}"
    );
    let o = roboct(&["worklist", "--date", "20261129", "--json"], Some(&cfg));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["patient"]["id"], "PID-77");
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
