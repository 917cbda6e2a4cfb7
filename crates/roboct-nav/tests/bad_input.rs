//! Every kind of bad input the issue lists gets a clear error naming the file, field or place,
//! never a panic.

use std::fs;
use std::path::Path;

use roboct_nav::Recover;
use roboct_nav::error::{MapError, PlanError};
use roboct_nav::geom::Point;
use roboct_nav::hospital;
use roboct_nav::map::{self, FREE, MapLimits, OCCUPIED, OccupancyGrid};
use roboct_nav::plan::{Navigator, PlannerOptions};
use roboct_nav::robot::RobotModel;
use roboct_nav::site::Site;

const LIMITS: MapLimits = MapLimits {
    max_cells: 10_000_000,
};

fn write_yaml(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    fs::write(&p, body).unwrap();
    p
}

/// A small valid map: a 4 m x 3 m room at 5 cm, saved as PGM + YAML.
fn small_map(dir: &Path) -> std::path::PathBuf {
    let mut g = OccupancyGrid::new(80, 60, 0.05, Point::new(0.0, 0.0), FREE).unwrap();
    g.fill_rect(0.0, 0.0, 4.0, 0.1, OCCUPIED);
    map::save_ros_map(&g, dir, "room").unwrap()
}

#[test]
fn missing_map_image_names_the_image_and_the_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = write_yaml(
        dir.path(),
        "m.yaml",
        "image: nowhere.pgm\nresolution: 0.05\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n",
    );
    let e = map::load_ros_map(&yaml, LIMITS).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, MapError::Image { .. }), "{e:?}");
    assert!(
        msg.contains("nowhere.pgm") && msg.contains("m.yaml"),
        "{msg}"
    );
}

#[test]
fn unreadable_map_image_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("junk.pgm"), b"this is not an image at all").unwrap();
    let yaml = write_yaml(
        dir.path(),
        "m.yaml",
        "image: junk.pgm\nresolution: 0.05\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n",
    );
    let e = map::load_ros_map(&yaml, LIMITS).unwrap_err();
    assert!(matches!(e, MapError::Image { .. }), "{e:?}");
    assert!(e.to_string().contains("junk.pgm"), "{e}");
    // A truncated PGM: a valid header, too few pixels.
    fs::write(dir.path().join("junk.pgm"), b"P5\n10 10\n255\nabc").unwrap();
    let e = map::load_ros_map(&yaml, LIMITS).unwrap_err();
    assert!(matches!(e, MapError::Image { .. }), "{e:?}");
}

#[test]
fn yaml_with_missing_or_wrong_fields_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    small_map(dir.path());
    let cases = [
        // (body, text the message must contain)
        (
            "image: room.pgm\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n",
            "resolution",
        ),
        (
            "image: room.pgm\nresolution: fine\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n",
            "resolution",
        ),
        (
            "resolution: 0.05\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n",
            "image",
        ),
        (
            "image: room.pgm\nresolution: 0.05\norigin: [0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n",
            "origin",
        ),
        (
            "image: room.pgm\nresolution: 0.05\norigin: [0, 0, 0]\nnegate: 3\noccupied_thresh: 0.65\nfree_thresh: 0.196\n",
            "negate",
        ),
        (
            "image: room.pgm\nresolution: 0.05\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.1\nfree_thresh: 0.5\n",
            "free_thresh",
        ),
        (
            "image: room.pgm\nresolution: 0.05\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\nmode: fancy\n",
            "mode",
        ),
        (
            "image: room.pgm\nresolution: 0.05\norigin: [0, 0, 0]\nnegate: 0\nfree_thresh: 0.196\n",
            "occupied_thresh",
        ),
    ];
    for (body, field) in cases {
        let yaml = write_yaml(dir.path(), "bad.yaml", body);
        let e = map::load_ros_map(&yaml, LIMITS).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(field), "{field}: {msg}");
        assert!(msg.contains("bad.yaml"), "{msg}");
    }
}

#[test]
fn resolution_must_be_positive() {
    let dir = tempfile::tempdir().unwrap();
    small_map(dir.path());
    for r in ["0", "-0.05", ".nan"] {
        let yaml = write_yaml(
            dir.path(),
            "r.yaml",
            &format!(
                "image: room.pgm\nresolution: {r}\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n"
            ),
        );
        let e = map::load_ros_map(&yaml, LIMITS).unwrap_err();
        assert!(
            matches!(
                e,
                MapError::Field {
                    field: "resolution",
                    ..
                }
            ),
            "{r}: {e:?}"
        );
        assert!(e.to_string().contains("> 0"), "{e}");
    }
}

#[test]
fn a_map_larger_than_memory_allows_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    // A header claiming 200000 x 200000 pixels (40 billion cells) and a few bytes of data:
    // the size is checked from the header, so nothing is allocated.
    fs::write(
        dir.path().join("huge.pgm"),
        b"P5\n200000 200000\n255\n\x00\x00\x00",
    )
    .unwrap();
    let yaml = write_yaml(
        dir.path(),
        "huge.yaml",
        "image: huge.pgm\nresolution: 0.05\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n",
    );
    let e = map::load_ros_map(&yaml, MapLimits::from_available_memory()).unwrap_err();
    assert!(matches!(e, MapError::TooLarge { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("huge.pgm") && msg.contains("200000 x 200000"),
        "{msg}"
    );
    // And a small limit refuses a small map the same way.
    small_map(dir.path());
    let e =
        map::load_ros_map(&dir.path().join("room.yaml"), MapLimits { max_cells: 100 }).unwrap_err();
    assert!(matches!(e, MapError::TooLarge { .. }), "{e:?}");
}

#[test]
fn png_maps_load_like_pgm_maps() {
    let dir = tempfile::tempdir().unwrap();
    let pgm_yaml = small_map(dir.path());
    let from_pgm = map::load_ros_map(&pgm_yaml, LIMITS).unwrap();
    let img = image::open(dir.path().join("room.pgm")).unwrap();
    img.save(dir.path().join("room.png")).unwrap();
    let yaml = fs::read_to_string(&pgm_yaml)
        .unwrap()
        .replace("room.pgm", "room.png");
    let png_yaml = write_yaml(dir.path(), "room-png.yaml", &yaml);
    let from_png = map::load_ros_map(&png_yaml, LIMITS).unwrap();
    assert_eq!(from_png.cells, from_pgm.cells);
    assert!(from_png.cells.contains(&OCCUPIED) && from_png.cells.contains(&FREE));
}

#[test]
fn site_file_errors_name_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    small_map(dir.path());
    let head = "floors:\n  - { number: 0, map: room.yaml }\n";
    let cases = [
        (
            "places:\n  - { name: dock, kind: dock, floor: 3, pose: { x: 1, y: 1, yaw_deg: 0 } }\n",
            "place \"dock\"",
            "floor 3",
        ),
        (
            "places:\n  - { name: b1, kind: bed, floor: 0, bed: { x: 2, y: 1.5, yaw_deg: 0 } }\n",
            "place \"b1\"",
            "head_end",
        ),
        (
            "places:\n  - { name: b1, kind: bed, floor: 0, pose: { x: 2, y: 1.5, yaw_deg: 45 }, bed: { x: 2, y: 1.5, yaw_deg: 0 }, head_end: { x: 3.05, y: 1.5 } }\n",
            "place \"b1\"",
            "not aligned",
        ),
        (
            "places:\n  - { name: b1, kind: bed, floor: 0, bed: { x: 2, y: 1.5, yaw_deg: 0 }, head_end: { x: 2, y: 2.5 } }\n",
            "place \"b1\"",
            "head_end",
        ),
        (
            "places:\n  - { name: a, kind: dock, floor: 0, pose: { x: 1, y: 1, yaw_deg: 0 } }\n  - { name: a, kind: room, floor: 0, pose: { x: 2, y: 1, yaw_deg: 0 } }\n",
            "place \"a\"",
            "unique",
        ),
        (
            "places:\n  - { name: far, kind: room, floor: 0, pose: { x: 50, y: 1, yaw_deg: 0 } }\n",
            "place \"far\"",
            "outside",
        ),
        (
            "speed_zones:\n  - { name: ward, floor: 0, max_speed_mps: 0, area: [[0, 0], [1, 0], [1, 1]] }\n",
            "speed zone \"ward\"",
            "max_speed_mps",
        ),
        (
            "keep_out:\n  - { name: MRI, floor: 0, area: [[0, 0], [1, 0]] }\n",
            "keep-out zone \"MRI\"",
            "area",
        ),
        (
            "elevators:\n  - { name: lift, car: [[2, 0.5], [3, 0.5], [3, 1.5], [2, 1.5]], travel_s_per_floor: 5, stops: [ { floor: 0, pose: { x: 1, y: 1, yaw_deg: 0 } } ] }\n",
            "elevator \"lift\"",
            "two floors",
        ),
        (
            "doors:\n  - { name: d1, floor: 0, area: [[0, 0], [1, 0], [1, 1]], automatic: true, open_s: -1 }\n",
            "door \"d1\"",
            "`open_s` and `assist_s` must be finite and >= 0",
        ),
        (
            "keep_out:\n  - { name: MRI, floor: 4, area: [[0, 0], [1, 0], [1, 1]] }\n",
            "keep-out zone \"MRI\"",
            "floor 4 is not among the site's floors",
        ),
        ("placez: []\n", "placez", "unknown field"),
    ];
    // Elevators need two floors: their car must be convex, on the maps, and ahead of each stop.
    let two = "floors:\n  - { number: 0, map: room.yaml }\n  - { number: 1, map: room.yaml }\n";
    let lift = |car: &str, yaw1: i32| {
        format!(
            "{two}elevators:\n  - {{ name: lift, car: {car}, travel_s_per_floor: 5, stops: [ {{ floor: 0, pose: {{ x: 1, y: 1, yaw_deg: 0 }} }}, {{ floor: 1, pose: {{ x: 1, y: 1, yaw_deg: {yaw1} }} }} ] }}\n"
        )
    };
    let square = "[[2, 0.5], [3, 0.5], [3, 1.5], [2, 1.5]]";
    let lift_cases = [
        (
            lift(square, 0).replace("travel_s_per_floor: 5", "travel_s_per_floor: 5, wait_s: -1"),
            "elevator \"lift\"",
            "must be finite and >= 0",
        ),
        (
            two.replace("number: 1", "number: 0"),
            "floor 0",
            "floor numbers must be unique",
        ),
        (
            lift(square, 180),
            "elevator \"lift\"",
            "does not face the car",
        ),
        (
            lift("[[2, 0.5], [3, 0.5], [2.5, 1], [3, 1.5], [2, 1.5]]", 0),
            "elevator \"lift\"",
            "convex",
        ),
        (
            lift("[[2, 0.5], [9, 0.5], [9, 1.5], [2, 1.5]]", 0),
            "elevator \"lift\"",
            "outside floor 0",
        ),
        (
            lift("[[2, 0.5], [3, 0.5]]", 0),
            "elevator \"lift\": car",
            "at least 3",
        ),
    ];
    // A good one loads.
    let path = write_yaml(dir.path(), "site.yaml", &lift(square, 0));
    Site::load(&path, LIMITS).unwrap();
    let cases = cases
        .into_iter()
        .map(|(b, i, w)| (format!("{head}{b}"), i, w))
        .chain(lift_cases);
    for (body, item, what) in cases {
        let path = write_yaml(dir.path(), "site.yaml", &body);
        let e = Site::load(&path, LIMITS).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(item) && msg.contains(what),
            "{item} / {what}: {msg}"
        );
        assert!(msg.contains("site.yaml"), "{msg}");
    }
}

fn hospital_nav() -> Navigator {
    Navigator::new(
        hospital::default_hospital(),
        RobotModel::default(),
        PlannerOptions::default(),
    )
    .unwrap()
}

#[test]
fn unknown_place_names_the_place_and_suggests_close_ones() {
    let mut nav = hospital_nav();
    let e = nav.route("dock", "ward-3/bed-99").unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, PlanError::UnknownPlace { .. }), "{e:?}");
    assert!(
        msg.contains("ward-3/bed-99") && msg.contains("did you mean"),
        "{msg}"
    );
    let e = nav.route("dok", "ward-3/bed-12").unwrap_err();
    assert!(e.to_string().contains("dock"), "{e}");
}

#[test]
fn malformed_coordinates_are_explained() {
    let mut nav = hospital_nav();
    // Several floors: the floor is required.
    let e = nav.route("20,8.4", "dock").unwrap_err();
    assert!(matches!(e, PlanError::BadLocation { .. }), "{e:?}");
    assert!(e.to_string().contains("floor"), "{e}");
    let e = nav.route("20,8.4,7", "dock").unwrap_err();
    assert!(
        matches!(e, PlanError::UnknownFloor { floor: 7, .. }),
        "{e:?}"
    );
    let e = nav.route("20,8.4,1.5", "dock").unwrap_err();
    assert!(matches!(e, PlanError::BadLocation { .. }), "{e:?}");
}

#[test]
fn start_or_goal_in_an_obstacle_or_keep_out_is_refused() {
    let mut nav = hospital_nav();
    // Inside the MRI room (keep-out) on the ground floor.
    let e = nav.route("63,3,0", "dock").unwrap_err();
    assert!(
        matches!(e, PlanError::Blocked { what: "start", .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("keep-out zone \"MRI\""), "{e}");
    // Inside a wall (the corridor's south wall at y = 7).
    let e = nav.route("dock", "20,7.0,0").unwrap_err();
    assert!(
        matches!(e, PlanError::Blocked { what: "goal", .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("obstacle"), "{e}");
    // Too close to a wall for the footprint.
    let e = nav.route("dock", "20,7.3,0").unwrap_err();
    assert!(e.to_string().contains("too close"), "{e}");
    // Outside the map and in unknown space.
    let e = nav.route("dock", "500,3,0").unwrap_err();
    assert!(e.to_string().contains("outside the map"), "{e}");
    let e = nav.route("dock", "-0.7,-0.7,0").unwrap_err();
    assert!(e.to_string().contains("unknown"), "{e}");
    // Stairs are keep-out too.
    let e = nav.route("dock", "44.5,15,1").unwrap_err();
    assert!(e.to_string().contains("keep-out zone \"stairs"), "{e}");
}

#[test]
fn an_unreachable_goal_is_reported() {
    // Two rooms with no door between them.
    let mut g = OccupancyGrid::new(200, 80, 0.05, Point::new(0.0, 0.0), FREE).unwrap();
    g.fill_rect(4.9, 0.0, 5.1, 4.0, OCCUPIED);
    let site = Site::bare("two-rooms", g);
    let mut nav = Navigator::new(site, RobotModel::default(), PlannerOptions::default()).unwrap();
    let e = nav.route("2,2", "8,2").unwrap_err();
    assert!(matches!(e, PlanError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("no route from 2,2 to 8,2"), "{e}");
    assert_eq!(e.recovery(), roboct_nav::Recovery::Replan);
}

#[test]
fn a_flat_battery_refuses_the_route() {
    let mut robot = RobotModel::default();
    robot.battery.state_of_charge = robot.battery.reserve + 0.001;
    let mut nav = Navigator::new(
        hospital::default_hospital(),
        robot,
        PlannerOptions::default(),
    )
    .unwrap();
    let e = nav.route("dock", "ward-3/bed-12").unwrap_err();
    assert!(matches!(e, PlanError::Battery { .. }), "{e:?}");
    assert!(e.to_string().contains("charge first"), "{e}");
}
