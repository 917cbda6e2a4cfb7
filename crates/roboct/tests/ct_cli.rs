//! The CT commands end to end through the real binary: phantom -> projections -> recon in every
//! file format, the RTK route (RTK geometry XML + MetaImage stack), and every kind of bad input
//! (a clear message naming the file or field, a non-zero exit, never a panic).

use std::path::{Path, PathBuf};

mod common;
use common::roboct;

const CONE: &str = r#"
kind = "cone"
source_to_isocenter_mm = 400
source_to_detector_mm = 700
[detector]
cols = 96
rows = 48
pixel_mm = 2.0
[angles]
start_deg = 0
stop_deg = 360
count = 90
[volume]
size = [48, 48, 24]
voxel_mm = 2.0
"#;

fn ok(args: &[&str]) -> String {
    let out = roboct(args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "roboct {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout.into_owned()
}

/// Runs a command that must fail, and returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = roboct(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "roboct {args:?} should have failed");
    assert_eq!(out.status.code(), Some(1), "roboct {args:?}: {stderr}");
    assert!(
        !stderr.contains("panicked"),
        "roboct {args:?} panicked: {stderr}"
    );
    stderr
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Mean of a block around the volume's centre.
fn centre_mean(v: &roboct_geometry::Volume) -> f64 {
    let (nz, ny, nx) = v.data().dim();
    let b = v.data().slice(ndarray::s![
        nz / 2 - 1..nz / 2 + 1,
        ny / 2 - 3..ny / 2 + 3,
        nx / 2 - 3..nx / 2 + 3
    ]);
    b.iter().map(|&x| x as f64).sum::<f64>() / b.len() as f64
}

#[test]
fn phantom_projections_recon_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = write(d, "cone.toml", CONE);
    let phantom = write(
        d,
        "ball.toml",
        "[[ellipsoid]]\ncenter_mm = [0, 0, 0]\nsemi_axes_mm = [30, 30, 20]\nvalue = 0.02\n",
    );
    ok(&[
        "phantom",
        "--phantom",
        s(&phantom),
        "--geometry",
        s(&g),
        "--projections",
        s(&d.join("p.npy")),
        "--volume",
        s(&d.join("truth.nii.gz")),
    ]);
    ok(&[
        "phantom",
        "--phantom",
        s(&phantom),
        "--geometry",
        s(&g),
        "--projections",
        s(&d.join("p.mha")),
    ]);
    for (proj, out) in [
        ("p.npy", "r.nii.gz"),
        ("p.mha", "r.mha"),
        ("p.npy", "r.nii"),
        ("p.npy", "r.npy"),
    ] {
        let stdout = ok(&[
            "recon",
            "--geometry",
            s(&g),
            "--projections",
            s(&d.join(proj)),
            "--algorithm",
            "fdk",
            "--out",
            s(&d.join(out)),
            "--png",
            s(&d.join("png")),
        ]);
        assert!(stdout.contains("voxel-updates/s"), "{stdout}");
    }
    for out in ["r.nii.gz", "r.mha", "r.nii"] {
        let v = roboct_io::read_volume(&d.join(out)).unwrap();
        assert_eq!(v.grid().size(), [48, 48, 24]);
        let m = centre_mean(&v);
        assert!((m - 0.02).abs() < 0.0005, "{out}: centre {m}");
    }
    assert_eq!(
        roboct_io::read_array3(&d.join("r.npy")).unwrap().dim(),
        (24, 48, 48)
    );
    for name in ["recon_axial.png", "recon_coronal.png", "recon_sagittal.png"] {
        assert!(d.join("png").join(name).exists(), "{name}");
    }
    // The Joseph forward projection of the truth looks like the exact projections.
    ok(&[
        "project",
        "--geometry",
        s(&g),
        "--volume",
        s(&d.join("truth.nii.gz")),
        "--out",
        s(&d.join("fp.npy")),
    ]);
    let exact = roboct_io::read_projections(&d.join("p.npy")).unwrap().data;
    let fp = roboct_io::read_projections(&d.join("fp.npy")).unwrap().data;
    let (ce, cf) = (exact[[0, 24, 48]], fp[[0, 24, 48]]);
    assert!(
        (ce - cf).abs() < 0.02 * ce,
        "central ray {ce} exact vs {cf} projected"
    );
}

/// The same data through RTK's geometry file and MetaImage stack reconstructs the same volume,
/// expressed in RTK's frame: RTK's (x, y, z) is our (x, z, -y).
#[test]
fn rtk_geometry_gives_the_same_volume_in_rtk_frame() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = write(d, "cone.toml", CONE);
    let phantom = write(
        d,
        "blob.toml",
        "[[ellipsoid]]\ncenter_mm = [6, -4, 3]\nsemi_axes_mm = [30, 20, 15]\nrotation_deg = 25\nvalue = 0.02\n",
    );
    ok(&[
        "phantom",
        "--phantom",
        s(&phantom),
        "--geometry",
        s(&g),
        "--projections",
        s(&d.join("p.mha")),
    ]);
    let stdout = ok(&["geometry", s(&g), "--rtk-xml", s(&d.join("g.xml"))]);
    assert!(stdout.contains("90 views"), "{stdout}");
    ok(&[
        "recon",
        "--geometry",
        s(&g),
        "--projections",
        s(&d.join("p.mha")),
        "--algorithm",
        "fdk",
        "--out",
        s(&d.join("ours.mha")),
    ]);
    // RTK's grid for the same voxels: x 48, y (our z) 24, z (our y) 48.
    ok(&[
        "recon",
        "--geometry",
        s(&d.join("g.xml")),
        "--projections",
        s(&d.join("p.mha")),
        "--algorithm",
        "fdk",
        "--out",
        s(&d.join("rtk.mha")),
        "--dimension",
        "48,24,48",
        "--spacing",
        "2,2,2",
    ]);
    let ours = roboct_io::read_volume(&d.join("ours.mha")).unwrap();
    let rtk = roboct_io::read_volume(&d.join("rtk.mha")).unwrap();
    assert_eq!(rtk.grid().size(), [48, 24, 48]);
    let (o, r) = (ours.data(), rtk.data());
    let mut worst = 0.0f32;
    for z in 0..24 {
        for y in 0..48 {
            for x in 0..48 {
                // Our y at index y is RTK's z = -y: index 47 - y on the centred grid.
                worst = worst.max((o[[z, y, x]] - r[[47 - y, z, x]]).abs());
            }
        }
    }
    assert!(worst < 1e-5, "largest difference {worst}");
}

#[test]
fn bad_geometry_files_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let proj = d.join("p.npy");
    ok(&[
        "phantom",
        "--geometry",
        s(&write(d, "good.toml", CONE)),
        "--projections",
        s(&proj),
    ]);
    let cases = [
        (
            CONE.replace("source_to_detector_mm = 700", "source_to_detector_mm = 300"),
            "source_to_detector_mm (300)",
        ),
        (
            CONE.replace("source_to_detector_mm = 700", "source_to_detector_mm = nan"),
            "source_to_detector_mm",
        ),
        (CONE.replace("count = 90", "count = 0"), "no views"),
        (
            CONE.replace("pixel_mm = 2.0", "pixel_mm = -2.0"),
            "pixel_mm",
        ),
        (CONE.replace("cols = 96", "cols = 0"), "detector.cols"),
        (
            CONE.replace("size = [48, 48, 24]", "size = [48, 0, 24]"),
            "size y",
        ),
        (CONE.replace("voxel_mm = 2.0", "voxel_mm = 0"), "voxel size"),
        (CONE.replace("[angles]", "[angels]"), "angels"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let g = write(d, &format!("bad{i}.toml"), text);
        let err = fails(&[
            "recon",
            "--geometry",
            s(&g),
            "--projections",
            s(&proj),
            "--algorithm",
            "fdk",
            "--out",
            s(&d.join("o.nii")),
        ]);
        assert!(
            err.contains(want) && err.contains(&format!("bad{i}.toml")),
            "case {i}: want {want:?} in {err}"
        );
    }
}

#[test]
fn bad_projection_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = write(d, "cone.toml", CONE);
    let out = d.join("o.nii");
    let recon = |p: &Path| {
        fails(&[
            "recon",
            "--geometry",
            s(&g),
            "--projections",
            s(p),
            "--algorithm",
            "fdk",
            "--out",
            s(&out),
        ])
    };
    // Wrong shape.
    let small = write(d, "small.toml", &CONE.replace("count = 90", "count = 45"));
    ok(&[
        "phantom",
        "--geometry",
        s(&small),
        "--projections",
        s(&d.join("p45.npy")),
    ]);
    let e = recon(&d.join("p45.npy"));
    assert!(
        e.contains("p45.npy") && e.contains("(45, 48, 96)") && e.contains("(90, 48, 96)"),
        "{e}"
    );
    // Truncated and corrupt files.
    ok(&[
        "phantom",
        "--geometry",
        s(&g),
        "--projections",
        s(&d.join("p.npy")),
    ]);
    ok(&[
        "phantom",
        "--geometry",
        s(&g),
        "--projections",
        s(&d.join("p.mha")),
    ]);
    for name in ["p.npy", "p.mha"] {
        let bytes = std::fs::read(d.join(name)).unwrap();
        let cut = d.join(format!("cut_{name}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let e = recon(&cut);
        assert!(e.contains(&format!("cut_{name}")), "{e}");
        let junk = d.join(format!("junk_{name}"));
        std::fs::write(&junk, b"\x00\x01garbage\xff\xfe not a file of this kind").unwrap();
        let e = recon(&junk);
        assert!(e.contains(&format!("junk_{name}")), "{e}");
    }
    // Unknown extensions, in and out.
    let e = recon(&write(d, "p.tif", "x"));
    assert!(e.contains("p.tif") && e.contains(".npy"), "{e}");
    let e = fails(&[
        "recon",
        "--geometry",
        s(&g),
        "--projections",
        s(&d.join("p.npy")),
        "--algorithm",
        "fdk",
        "--out",
        s(&d.join("o.dcm")),
    ]);
    assert!(e.contains("o.dcm") && e.contains(".nii"), "{e}");
    // A missing file.
    let e = recon(&d.join("absent.npy"));
    assert!(e.contains("absent.npy"), "{e}");
    // A MetaImage whose detector disagrees with the geometry's.
    let other = write(
        d,
        "other.toml",
        &CONE.replace("pixel_mm = 2.0", "pixel_mm = 2.5"),
    );
    ok(&[
        "phantom",
        "--geometry",
        s(&other),
        "--projections",
        s(&d.join("p25.mha")),
    ]);
    let e = recon(&d.join("p25.mha"));
    assert!(
        e.contains("p25.mha") && e.contains("cone.toml") && e.contains("2.5"),
        "{e}"
    );
}

#[test]
fn wrong_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = write(d, "cone.toml", CONE);
    let p = d.join("p.npy");
    ok(&["phantom", "--geometry", s(&g), "--projections", s(&p)]);
    let o = d.join("o.nii");
    let recon = |extra: &[&str]| {
        let mut args = vec![
            "recon",
            "--geometry",
            s(&g),
            "--projections",
            s(&p),
            "--out",
            s(&o),
        ];
        args.extend_from_slice(extra);
        fails(&args)
    };
    assert!(recon(&["--algorithm", "fbp"]).contains("use --algorithm fdk"));
    assert!(recon(&["--algorithm", "fdk", "--filter", "gauss"]).contains("ram-lak"));
    assert!(recon(&["--algorithm", "fdk", "--cutoff", "1.5"]).contains("cutoff"));
    assert!(recon(&["--algorithm", "fdk", "--size", "4,4"]).contains("--size"));
    // RTK geometry with projections that carry no detector sampling.
    let xml = d.join("g.xml");
    ok(&["geometry", s(&g), "--rtk-xml", s(&xml)]);
    let e = fails(&[
        "recon",
        "--geometry",
        s(&xml),
        "--projections",
        s(&p),
        "--algorithm",
        "fdk",
        "--out",
        s(&d.join("o.nii")),
    ]);
    assert!(e.contains("MetaImage") && e.contains("g.xml"), "{e}");
    // A 2D scan asked for a thick volume.
    let fan = write(
        d,
        "fan.toml",
        "kind = \"fan\"\nsource_to_isocenter_mm = 400\nsource_to_detector_mm = 700\n[detector]\ncols = 64\npixel_mm = 2\n[angles]\nstop_deg = 360\ncount = 60\n",
    );
    let fp = d.join("fan.npy");
    ok(&[
        "phantom",
        "--phantom",
        "shepp-logan-2d",
        "--geometry",
        s(&fan),
        "--projections",
        s(&fp),
    ]);
    let e = fails(&[
        "recon",
        "--geometry",
        s(&fan),
        "--projections",
        s(&fp),
        "--algorithm",
        "fbp",
        "--out",
        s(&d.join("o.nii")),
        "--size",
        "32,32,4",
    ]);
    assert!(e.contains("one-row"), "{e}");
    ok(&[
        "recon",
        "--geometry",
        s(&fan),
        "--projections",
        s(&fp),
        "--algorithm",
        "fbp",
        "--out",
        s(&d.join("fan.nii")),
    ]);
}

/// Negative numbers are values wherever a number or coordinate is taken: a volume centred at
/// negative coordinates, a window with a negative level (lung: 1500,-600 in HU).
#[test]
fn negative_centres_and_window_levels_are_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = write(d, "cone.toml", CONE);
    let phantom = write(
        d,
        "ball.toml",
        "[[ellipsoid]]\ncenter_mm = [-10, 0, 0]\nsemi_axes_mm = [20, 20, 15]\nvalue = 0.02\n",
    );
    ok(&[
        "phantom",
        "--phantom",
        s(&phantom),
        "--geometry",
        s(&g),
        "--projections",
        s(&d.join("p.npy")),
    ]);
    ok(&[
        "recon",
        "--geometry",
        s(&g),
        "--projections",
        s(&d.join("p.npy")),
        "--algorithm",
        "fdk",
        "--out",
        s(&d.join("r.nii")),
        "--center-mm",
        "-10,0,0",
        "--png",
        s(&d.join("png")),
        "--window",
        "0.04,-0.01",
    ]);
    let v = roboct_io::read_volume(&d.join("r.nii")).unwrap();
    let c = v.grid().center_mm();
    assert!((c[0] + 10.0).abs() < 1e-6 && c[1].abs() < 1e-6, "{c:?}");
    // The ball, centred at x = -10 mm, is in the middle of the shifted volume.
    let m = centre_mean(&v);
    assert!((m - 0.02).abs() < 0.0005, "centre {m}");
    // With level -0.01 and width 0.04 the window ends at 0.01 < 0.02: the ball is white.
    let png = image::open(d.join("png").join("recon_axial.png"))
        .unwrap()
        .to_luma8();
    let (w, h) = png.dimensions();
    assert_eq!(png.get_pixel(w / 2, h / 2)[0], 255);
    for bad in ["0,40", "80", "80,abc", "nan,40"] {
        // A malformed option is a usage error: exit 2, as for every option clap checks.
        let out = roboct(&[
            "recon",
            "--geometry",
            s(&g),
            "--projections",
            s(&d.join("p.npy")),
            "--algorithm",
            "fdk",
            "--out",
            s(&d.join("r2.nii")),
            "--window",
            bad,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("--window"), "{bad}: {err}");
    }
}

/// A ball's exact projections through `roboct phantom`, for the iterative tests (a vec-free
/// cone scan: the line path; 30 views keep it quick).
fn iterative_setup(d: &Path) -> (PathBuf, PathBuf) {
    let g = write(d, "cone.toml", &CONE.replace("count = 90", "count = 30"));
    let phantom = write(
        d,
        "ball.toml",
        "[[ellipsoid]]\ncenter_mm = [0, 0, 0]\nsemi_axes_mm = [30, 30, 20]\nvalue = 0.02\n",
    );
    ok(&[
        "phantom",
        "--phantom",
        s(&phantom),
        "--geometry",
        s(&g),
        "--projections",
        s(&d.join("p.npy")),
    ]);
    (g, d.join("p.npy"))
}

/// Every iterative method through the binary: it runs, prints its report (iterations,
/// residual, time per iteration, memory) and writes a volume that approaches the ball.
#[test]
fn iterative_recon_runs_every_method() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (g, p) = iterative_setup(d);
    // Counts of 1e4 photons per ray for PWLS's weights.
    let proj = roboct_io::read_projections(&p).unwrap();
    let weights = roboct_io::ProjectionStack {
        data: proj.data.mapv(|l| 1e4 * (-l).exp()),
        detector: proj.detector,
    };
    roboct_io::write_projections(&d.join("w.npy"), &weights).unwrap();
    for (algorithm, extra) in [
        ("sirt", vec!["--iterations", "12"]),
        ("os-sart", vec!["--iterations", "4", "--subsets", "5"]),
        ("cgls", vec!["--iterations", "6"]),
        (
            "fista-tv",
            vec!["--iterations", "12", "--tv-weight", "1e-5"],
        ),
        (
            "pwls",
            vec!["--iterations", "6", "--weights", s(&d.join("w.npy"))],
        ),
    ] {
        let out = d.join(format!("{algorithm}.nii"));
        let mut args = vec![
            "recon",
            "--geometry",
            s(&g),
            "--projections",
            s(&p),
            "--algorithm",
            algorithm,
            "--out",
            s(&out),
        ];
        args.extend(extra);
        let stdout = ok(&args);
        for word in ["iterations", "per iteration", "residual", "memory"] {
            assert!(
                stdout.contains(word),
                "{algorithm}: no {word:?} in {stdout}"
            );
        }
        let v = roboct_io::read_volume(&out).unwrap();
        let m = centre_mean(&v);
        assert!((m - 0.02).abs() < 0.004, "{algorithm}: centre {m}");
        assert!(
            v.data().iter().all(|x| *x >= 0.0),
            "{algorithm}: negative voxels"
        );
    }
    // Warm start from FDK and a tolerance that stops it early.
    let stdout = ok(&[
        "recon",
        "--geometry",
        s(&g),
        "--projections",
        s(&p),
        "--algorithm",
        "cgls",
        "--iterations",
        "40",
        "--tolerance",
        "0.2",
        "--warm-start",
        "fdk",
        "--out",
        s(&d.join("warm.nii")),
    ]);
    assert!(stdout.contains("Tolerance"), "{stdout}");
}

/// Bad iterative input: a clear message naming the option or the file, exit code 1, no panic.
#[test]
fn iterative_recon_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (g, p) = iterative_setup(d);
    let base = |algorithm: &'static str| -> Vec<String> {
        [
            "recon",
            "--geometry",
            s(&g),
            "--projections",
            s(&p),
            "--algorithm",
            algorithm,
            "--out",
            s(&d.join("x.nii")),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let run = |args: Vec<String>, extra: &[&str]| -> String {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend_from_slice(extra);
        fails(&all)
    };
    for n in ["0", "-3"] {
        let e = run(base("sirt"), &["--iterations", n]);
        assert!(e.contains("--iterations"), "{n}: {e}");
    }
    let e = run(base("os-sart"), &["--subsets", "0"]);
    assert!(e.contains("--subsets"), "{e}");
    let e = run(base("fista-tv"), &["--tv-weight", "-1"]);
    assert!(e.contains("--tv-weight"), "{e}");
    let e = run(base("pwls"), &[]);
    assert!(e.contains("--weights"), "{e}");
    let e = run(base("sirt"), &["--relaxation", "3"]);
    assert!(e.contains("--relaxation"), "{e}");
    // A NaN in the projections: refused when the file is read (roboct-io names the file and
    // where the value is; the library names the field and the (view, row, col) index, see
    // roboct-recon's tests/iterative.rs).
    let mut stack = roboct_io::read_projections(&p).unwrap();
    stack.data[[2, 10, 40]] = f32::NAN;
    let nan = d.join("nan.npy");
    roboct_io::write_projections(&nan, &stack).unwrap();
    let mut args = base("cgls");
    args[4] = s(&nan).to_string();
    let e = run(args, &[]);
    assert!(e.contains("NaN") && e.contains("nan.npy"), "{e}");
}

/// `bench recon --problem iterative` runs OS-SART and FISTA-TV on P3's geometry (shrunk 8
/// times here), prints the Joseph pair's rates and each method's time per iteration and RMSE,
/// and saves the data and its reconstructions for the comparison scripts.
#[test]
fn bench_recon_iterative_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let json = d.join("bench.json");
    let stdout = ok(&[
        "bench",
        "recon",
        "--problem",
        "iterative",
        "--scale",
        "8",
        "--repeat",
        "1",
        "--iterations",
        "2,2",
        "--save",
        s(d),
        "--json",
        s(&json),
        "--quiet",
    ]);
    for word in [
        "ray steps/s",
        "os-sart",
        "fista-tv",
        "per iteration",
        "RMSE",
    ] {
        assert!(stdout.contains(word), "no {word:?} in {stdout}");
    }
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert!(rows[0]["seconds_per_iteration"].as_f64().unwrap() > 0.0);
    for f in [
        "p3_8_projections.mha",
        "p3_8.xml",
        "p3_8_os-sart_recon.npy",
        "p3_8_truth.npy",
    ] {
        assert!(d.join(f).exists(), "{f}");
    }
    let e = fails(&[
        "bench",
        "recon",
        "--problem",
        "iterative",
        "--iterations",
        "0,3",
    ]);
    assert!(e.contains("--iterations"), "{e}");
}
