//! `roboct route` and `roboct map` from the command line: outputs, and clear errors with a
//! non-zero exit for bad input.

mod common;
use common::roboct;

#[test]
fn route_writes_json_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("route.json");
    let png = dir.path().join("route.png");
    let out = roboct(&[
        "route",
        "--from",
        "dock",
        "--to",
        "ward-3/bed-12",
        "--json",
        json.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("lift-"), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(v["length_m"].as_f64().unwrap() > 10.0);
    assert!(v["time_s"].as_f64().unwrap() > 10.0);
    assert!(v["energy_j"].as_f64().unwrap() > 1000.0);
    let path = v["path"].as_array().unwrap();
    assert!(path.iter().all(|p| p.as_array().unwrap().len() == 3));
    assert_eq!(path.last().unwrap()[2].as_f64(), Some(2.0));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
}

#[test]
fn exported_map_and_bare_floor_maps_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = roboct(&["map", "export", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "hospital.yaml",
        "hospital.png",
        "floor-0.pgm",
        "floor-0.yaml",
        "floor-2.yaml",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let site = dir.path().join("hospital.yaml");
    let out = roboct(&[
        "route",
        "--map",
        site.to_str().unwrap(),
        "--from",
        "dock",
        "--to",
        "ward-1/bed-3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One floor's map alone, with coordinates.
    let floor = dir.path().join("floor-1.yaml");
    let out = roboct(&[
        "route",
        "--map",
        floor.to_str().unwrap(),
        "--from",
        "10,8.4",
        "--to",
        "60,21.6",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let cases: [(&[&str], &str); 13] = [
        (
            &["route", "--from", "dock", "--to", "ward-3/bed-99"],
            "no place named \"ward-3/bed-99\"",
        ),
        (
            &[
                "route",
                "--map",
                "/nonexistent/site.yaml",
                "--from",
                "1,1",
                "--to",
                "2,2",
            ],
            "/nonexistent/site.yaml",
        ),
        (
            &["route", "--from", "63,3,0", "--to", "dock"],
            "keep-out zone \"MRI\"",
        ),
        (
            &["route", "--from", "dock", "--to", "dock", "--soc", "1.5"],
            "--soc",
        ),
        (
            &["route", "--from", "dock", "--to", "dock", "--soc", "NaN"],
            "between 0 and 1, got NaN",
        ),
        // A huge number is shown short, not as 301 digits.
        (
            &["route", "--from", "dock", "--to", "dock", "--soc", "1e300"],
            "got 1.000e300",
        ),
        (
            &["route", "--from", "1e300,8,0", "--to", "dock"],
            "(1.000e300, 8.00) is outside the map of floor 0",
        ),
        (
            &["route", "--from", "dock", "--to", "inf,8,0"],
            "finite x and y",
        ),
        (
            &[
                "route",
                "--from",
                "dock",
                "--to",
                "lobby",
                "--drive",
                "--obstacle",
                "NaN,8,0",
            ],
            "--obstacle NaN,8,0",
        ),
        (
            &[
                "route",
                "--from",
                "dock",
                "--to",
                "lobby",
                "--drive",
                "--obstacle",
                "10,8,0@NaN",
            ],
            "the time after @ must be a finite number of seconds >= 0",
        ),
        (
            &[
                "route",
                "--from",
                "dock",
                "--to",
                "lobby",
                "--drive",
                "--obstacle",
                "10,8,0@-3",
            ],
            "got \"-3\"",
        ),
        (
            &[
                "route",
                "--from",
                "dock",
                "--to",
                "lobby",
                "--drive",
                "--obstacle",
                "1e300,8,0",
            ],
            "(1.000e300, 8.00) is outside the map of floor 0",
        ),
        (
            &[
                "route",
                "--from",
                "dock",
                "--to",
                "lobby",
                "--obstacle",
                "10,8,0",
            ],
            "add --drive",
        ),
    ];
    for (args, needle) in cases {
        let out = roboct(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr
                .split(|c: char| !c.is_ascii_digit())
                .all(|run| run.len() < 20),
            "a long number: {stderr}"
        );
    }
}

#[test]
fn bench_route_checks_its_sizes() {
    for (args, needle) in [
        (
            &["bench", "route", "--width", "10"][..],
            "at least 1600 x 800",
        ),
        (
            &["bench", "route", "--landmarks", "99"][..],
            "at most 16 landmarks",
        ),
    ] {
        let out = roboct(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

/// Real ROS maps have their origin in a corner or the middle, so half of every map has
/// negative coordinates: they are taken as they are written (`--from -40,-21.6`, not only
/// `--from=-40,-21.6`), for the route, its JSON and the obstacles of a drive.
#[test]
fn negative_map_coordinates_are_values_not_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = roboct(&["map", "export", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    let yaml = dir.path().join("floor-1.yaml");
    let shifted = std::fs::read_to_string(&yaml)
        .unwrap()
        .replace("origin: [-1, -1, 0.0]", "origin: [-51, -31, 0.0]");
    assert!(shifted.contains("[-51, -31"), "{shifted}");
    let moved = dir.path().join("floor-1-shifted.yaml");
    std::fs::write(&moved, shifted).unwrap();
    let length = |map: &std::path::Path, from: &str, to: &str, extra: &[&str]| -> f64 {
        let json = dir.path().join("route.json");
        let mut args = vec![
            "route",
            "--map",
            map.to_str().unwrap(),
            "--from",
            from,
            "--to",
            to,
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = roboct(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        v["length_m"].as_f64().unwrap()
    };
    let plain = length(&yaml, "10,8.4", "60,21.6", &[]);
    let negative = length(&moved, "-40,-21.6", "10,-8.4", &[]);
    assert!((plain - negative).abs() < 0.05, "{plain} vs {negative}");
    // An obstacle at negative coordinates, away from the route, is accepted and driven past.
    let driven = length(
        &moved,
        "-40,-21.6",
        "10,-8.4",
        &["--drive", "--obstacle", "-45,-25@1"],
    );
    assert!((driven - negative).abs() < 0.05);
    // Out of the map on the negative side: a clear error naming the value.
    let out = roboct(&[
        "route",
        "--map",
        moved.to_str().unwrap(),
        "--from",
        "-90,-21.6",
        "--to",
        "10,-8.4",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-90"), "{err}");
}

/// The laser-built map of `roboct-nav/tests/oracle/laser_map.rs` (1.8 m corridors with streaks
/// of unknown cells, rooms behind doors of 0.9 to 1.6 m and a glass door, a ROS YAML + PNG
/// with negative coordinates), and its questions: every answer the oracle of
/// `roboct-nav/tests/completeness.rs` checks comes out of the binary, routes as routes and
/// refusals as clear messages that say what blocks the way, with exit status 1.
#[path = "../../roboct-nav/tests/oracle/laser_map.rs"]
mod laser_map;

#[test]
fn routes_and_refusals_on_a_laser_built_map() {
    let dir = tempfile::tempdir().unwrap();
    let grid = laser_map::laser_map(1);
    let map = laser_map::save_png_map(&grid, dir.path(), "laser");
    let site = laser_map::save_site(dir.path(), "laser-site", &map);
    let json = dir.path().join("route.json");
    for (from, to, expect) in laser_map::CASES {
        // Coordinates on the bare ROS map; named places (with headings) from the site file.
        let named = !from.contains(',') || !to.contains(',');
        let file = if named { &site } else { &map };
        let _ = std::fs::remove_file(&json);
        let out = roboct(&[
            "route",
            "--map",
            file.to_str().unwrap(),
            "--from",
            from,
            "--to",
            to,
            "--json",
            json.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{from} -> {to}: {stderr}");
        if expect == "route" {
            assert!(out.status.success(), "{from} -> {to}: {stderr}");
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
            let path = v["path"].as_array().unwrap();
            assert!(path.len() >= 2, "{from} -> {to}: {v}");
            assert!(v["length_m"].as_f64().unwrap() > 1.0, "{from} -> {to}: {v}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{from} -> {to}: {stderr}");
            assert!(
                stderr.contains(expect),
                "{from} -> {to}: expected \"{expect}\" in {stderr}"
            );
            assert!(
                !json.exists(),
                "{from} -> {to}: a refused route wrote its JSON"
            );
        }
    }
}
