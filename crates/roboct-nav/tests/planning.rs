//! Routes in the embedded hospital and on small maps: collision-free for the full footprint,
//! never in a keep-out zone, multi-floor through elevators, ending at the bed's approach pose
//! coaxial with the bed; fastest and least-energy objectives; bare ROS maps with coordinates.

mod common;

use roboct_nav::geom::{Point, wrap_angle};
use roboct_nav::hospital;
use roboct_nav::map::{self, FREE, MapLimits, OCCUPIED, OccupancyGrid};
use roboct_nav::plan::{Leg, Navigator, PlannerOptions};
use roboct_nav::robot::RobotModel;
use roboct_nav::search::Objective;
use roboct_nav::site::{Site, SiteFile};

fn hospital_nav(options: PlannerOptions) -> Navigator {
    Navigator::new(hospital::default_hospital(), RobotModel::default(), options).unwrap()
}

/// Every drive leg of the route is collision-free for the real footprint, turns included.
fn assert_route_clear(
    nav: &Navigator,
    route: &roboct_nav::plan::Route,
    start_heading: Option<f64>,
) {
    let mut heading = start_heading;
    for leg in &route.legs {
        match leg {
            Leg::Drive {
                floor,
                points,
                final_heading_rad,
                ..
            } => {
                let cm = nav.costmap(*floor).unwrap();
                if let Some(bad) = common::first_collision(cm, points, heading, *final_heading_rad)
                {
                    panic!("floor {floor}: the footprint touches an obstacle at {bad:?}");
                }
                heading = Some(*final_heading_rad);
            }
            Leg::Elevator { name, to_floor, .. } => {
                let e = nav
                    .site()
                    .elevators
                    .iter()
                    .find(|e| &e.name == name)
                    .unwrap();
                heading = e
                    .stop_on(*to_floor)
                    .map(|p| wrap_angle(p.yaw_rad + std::f64::consts::PI));
            }
        }
    }
}

#[test]
fn dock_to_bed_on_another_floor_goes_through_an_elevator_and_ends_coaxial_with_the_bed() {
    let mut nav = hospital_nav(PlannerOptions::default());
    let route = nav.route("dock", "ward-3/bed-12").unwrap();
    // Floor 0, an elevator to floor 2, floor 2.
    assert_eq!(route.legs.len(), 3, "{:?}", route.legs);
    assert!(matches!(
        &route.legs[1],
        Leg::Elevator {
            from_floor: 0,
            to_floor: 2,
            ..
        }
    ));
    let dock = nav.site().place("dock").unwrap().pose.unwrap();
    assert_route_clear(&nav, &route, Some(dock.yaw_rad));
    // The end is the approach pose, and the heading there is along the bed's axis, facing
    // the head, reached by a straight final approach.
    let place = nav.site().place("ward-3/bed-12").unwrap();
    let bed = place.bed.unwrap();
    let approach = place.pose.unwrap();
    let Leg::Drive {
        points,
        final_heading_rad,
        floor,
        doors,
        ..
    } = route.legs.last().unwrap()
    else {
        panic!("the route must end driving");
    };
    assert_eq!(*floor, 2);
    let end = *points.last().unwrap();
    assert!(end.dist(approach.point()) < 1e-9, "{end:?} vs {approach:?}");
    assert!(wrap_angle(final_heading_rad - bed.pose.yaw_rad).abs() < 1e-9);
    let n = points.len();
    let last_leg = points[n - 2].heading_to(points[n - 1]);
    assert!(
        wrap_angle(last_leg - bed.pose.yaw_rad).abs() < 0.02,
        "final approach is not straight"
    );
    // The approach pose is coaxial with the bed: on the bed's axis, beyond its foot.
    let axis = bed.pose.yaw_rad;
    let off = Point::new(approach.x - bed.pose.x, approach.y - bed.pose.y);
    let lateral = -off.x * axis.sin() + off.y * axis.cos();
    let along = off.x * axis.cos() + off.y * axis.sin();
    assert!(
        lateral.abs() < 1e-9 && along < -bed.length_m / 2.0,
        "{lateral} {along}"
    );
    assert!(doors.iter().any(|d| d == "ward-3/room-3"), "{doors:?}");
    // The figures add up and are plausible for 60-80 m with a lift ride.
    assert!(
        route.length_m > 50.0 && route.length_m < 120.0,
        "{}",
        route.length_m
    );
    let leg_time: f64 = route.legs.iter().map(|l| l.time_s()).sum();
    assert!((leg_time - route.time_s).abs() < 1e-9);
    assert!(route.time_s > route.length_m / 0.8, "faster than top speed");
    // Energy: at least the electronics' draw over the time plus rolling resistance.
    let robot = nav.robot();
    let floor_j = robot.energy.idle_power_w * route.time_s
        + robot.energy.rolling_j(robot.mass_kg, route.length_m);
    assert!(
        route.energy_j >= floor_j && route.energy_j < 1.5 * floor_j,
        "{} vs {floor_j}",
        route.energy_j
    );
    assert!(route.battery_soc[1] < route.battery_soc[0]);
    // The JSON shape the CLI writes.
    let json = serde_json::to_value(&route).unwrap();
    for key in ["length_m", "time_s", "energy_j", "path"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let first = &json["path"][0];
    assert_eq!(first.as_array().unwrap().len(), 3);
    assert_eq!(first[2].as_f64(), Some(0.0));
    assert_eq!(
        json["path"].as_array().unwrap().last().unwrap()[2].as_f64(),
        Some(2.0)
    );
}

#[test]
fn routes_never_cross_keep_out_zones() {
    let mut nav = hospital_nav(PlannerOptions::default());
    // From the radiology reception to the far end of the ground floor: the straight way runs
    // past the MRI room; the route must stay out of it (and out of the stairs).
    for (from, to) in [
        ("50.0,8.4,0", "78.0,8.4,0"),
        ("dock", "lobby"),
        ("ward-4/bed-1", "ward-3/bed-30"),
    ] {
        let route = nav.route(from, to).unwrap();
        for leg in &route.legs {
            if let Leg::Drive {
                floor,
                points,
                final_heading_rad,
                ..
            } = leg
            {
                let cm = nav.costmap(*floor).unwrap();
                assert!(common::first_collision(cm, points, None, *final_heading_rad).is_none());
                for k in nav.site().keep_outs.iter().filter(|k| k.floor == *floor) {
                    for w in points.windows(2) {
                        for i in 0..=100 {
                            let p = w[0].lerp(w[1], f64::from(i) / 100.0);
                            assert!(!k.area.contains(p), "{from} -> {to} enters {}", k.name);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_bed_of_a_ward_is_reachable_from_the_dock() {
    let mut nav = hospital_nav(PlannerOptions::default());
    let beds: Vec<String> = nav
        .site()
        .places
        .iter()
        .filter(|p| p.name.starts_with("ward-1/bed-"))
        .map(|p| p.name.clone())
        .collect();
    assert!(beds.len() >= 30, "{}", beds.len());
    for bed in beds {
        let route = nav
            .route("dock", &bed)
            .unwrap_or_else(|e| panic!("{bed}: {e}"));
        assert!(route.legs.iter().any(|l| matches!(l, Leg::Elevator { .. })));
    }
}

/// Two ways between the same points: straight through a slow ward (5 m at 0.15 m/s) or a
/// detour of about 27 m at full speed. Time per metre goes as 1 / v (5.3 times more in the
/// ward), energy as P_idle / v + rolling resistance (4.5 times more), so a detour 4.5 to 5.3
/// times longer than the ward stretch is faster but costs more energy.
#[test]
fn fastest_and_least_energy_routes_differ_where_they_should() {
    let mut g = OccupancyGrid::new(360, 320, 0.05, Point::new(0.0, 0.0), OCCUPIED).unwrap();
    g.fill_rect(0.5, 1.0, 17.5, 4.0, FREE); // south lane
    g.fill_rect(3.5, 11.75, 14.5, 14.75, FREE); // north lane
    g.fill_rect(3.5, 1.0, 6.5, 14.75, FREE); // west connector
    g.fill_rect(11.5, 1.0, 14.5, 14.75, FREE); // east connector
    let dir = tempfile::tempdir().unwrap();
    map::save_ros_map(&g, dir.path(), "f").unwrap();
    let yaml = "floors:\n  - { number: 0, map: f.yaml }\nspeed_zones:\n  - { name: ward, floor: 0, max_speed_mps: 0.15, area: [[6.5, 0], [11.5, 0], [11.5, 4], [6.5, 4]] }\n";
    let site_path = dir.path().join("site.yaml");
    std::fs::write(&site_path, yaml).unwrap();
    let site = Site::load(&site_path, MapLimits { max_cells: 1 << 24 }).unwrap();
    let plan = |objective| {
        let mut nav = Navigator::new(
            site.clone(),
            RobotModel::default(),
            PlannerOptions {
                objective,
                ..Default::default()
            },
        )
        .unwrap();
        nav.route("1.5,2.5", "16.5,2.5").unwrap()
    };
    let fast = plan(Objective::Fastest);
    let eco = plan(Objective::LeastEnergy);
    let max_y = |r: &roboct_nav::plan::Route| r.path.iter().map(|p| p[1]).fold(0.0, f64::max);
    assert!(
        max_y(&fast) > 11.0,
        "the fastest route takes the detour: {:?}",
        fast.path
    );
    assert!(
        max_y(&eco) < 4.0,
        "the least-energy route goes straight: {:?}",
        eco.path
    );
    // The least-energy route does use less energy. (The grid search does not price turns in
    // place, so the fastest route's four stops and turns can make its estimated time longer
    // than the straight route's; the estimate, not the search, is what is reported.)
    assert!(
        eco.energy_j < fast.energy_j,
        "{} vs {}",
        eco.energy_j,
        fast.energy_j
    );
}

#[test]
fn a_bare_ros_map_works_with_coordinates() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = OccupancyGrid::new(200, 120, 0.05, Point::new(-2.0, -1.0), FREE).unwrap();
    g.fill_rect(2.0, -1.0, 2.2, 3.0, OCCUPIED); // a wall with a 2 m gap at the top
    let yaml = map::save_ros_map(&g, dir.path(), "lab").unwrap();
    let site = Site::load(&yaml, MapLimits { max_cells: 1 << 24 }).unwrap();
    assert!(site.places.is_empty());
    let mut nav = Navigator::new(site, RobotModel::default(), PlannerOptions::default()).unwrap();
    let route = nav.route("0,1", "5,1").unwrap();
    assert!(route.path.iter().all(|p| p[2] == 0.0));
    assert!(
        route.path.iter().any(|p| p[1] > 2.9),
        "goes round the wall: {:?}",
        route.path
    );
    let start = route.path[0];
    let end = route.path.last().unwrap();
    assert_eq!((start[0], start[1]), (0.0, 1.0));
    assert_eq!((end[0], end[1]), (5.0, 1.0));
    let cm = nav.costmap(0).unwrap();
    let Leg::Drive {
        points,
        final_heading_rad,
        ..
    } = &route.legs[0]
    else {
        panic!()
    };
    let bad = common::first_collision(cm, points, None, *final_heading_rad);
    assert!(bad.is_none(), "{bad:?} on {points:?}");
}

#[test]
fn the_exported_hospital_loads_back_identically() {
    let site = hospital::default_hospital();
    let dir = tempfile::tempdir().unwrap();
    let path = site.save(dir.path(), "hospital").unwrap();
    let back = Site::load(&path, MapLimits { max_cells: 1 << 26 }).unwrap();
    assert_eq!(back.floors.len(), 3);
    for (a, b) in site.floors.iter().zip(&back.floors) {
        assert_eq!(a.grid.cells, b.grid.cells, "floor {}", a.number);
        assert_eq!((a.grid.width, a.grid.height), (b.grid.width, b.grid.height));
    }
    assert_eq!(back.places.len(), site.places.len());
    assert_eq!(back.doors.len(), site.doors.len());
    assert_eq!(back.elevators.len(), 2);
    // Each floor map alone is a plain ROS map.
    let f2 = map::load_ros_map(
        &dir.path().join("floor-2.yaml"),
        MapLimits { max_cells: 1 << 26 },
    )
    .unwrap();
    assert_eq!(f2.cells, site.floors[2].grid.cells);
    // And the site file is what the format documents.
    let text = std::fs::read_to_string(&path).unwrap();
    let spec: SiteFile = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(spec.floors[0].map, std::path::Path::new("floor-0.yaml"));
    // Same route from the file as from the embedded site.
    let mut a = Navigator::new(site, RobotModel::default(), PlannerOptions::default()).unwrap();
    let mut b = Navigator::new(back, RobotModel::default(), PlannerOptions::default()).unwrap();
    let ra = a.route("dock", "ward-3/bed-12").unwrap();
    let rb = b.route("dock", "ward-3/bed-12").unwrap();
    assert!((ra.length_m - rb.length_m).abs() < 1e-6);
}

#[test]
fn landmarks_and_downsampling_keep_routes_valid_and_near_optimal() {
    let exact = hospital_nav(PlannerOptions::default());
    let mut exact = exact;
    let base = exact.route("ward-1/bed-1", "ward-2/bed-20").unwrap();
    for options in [
        PlannerOptions {
            landmarks: 4,
            ..Default::default()
        },
        PlannerOptions {
            downsample: 2,
            ..Default::default()
        },
    ] {
        let mut nav = hospital_nav(options);
        let r = nav.route("ward-1/bed-1", "ward-2/bed-20").unwrap();
        assert_route_clear(
            &nav,
            &r,
            nav.site()
                .place("ward-1/bed-1")
                .unwrap()
                .pose
                .map(|p| p.yaw_rad),
        );
        if options.landmarks > 0 {
            // ALT is exact: a route of the same cost (ties may break the other way).
            assert!(
                (r.length_m - base.length_m).abs() < 0.01 * base.length_m,
                "{} vs {}",
                r.length_m,
                base.length_m
            );
            assert!((r.time_s - base.time_s).abs() < 0.01 * base.time_s);
        } else {
            assert!(
                r.time_s < base.time_s * 1.05,
                "{} vs {}",
                r.time_s,
                base.time_s
            );
        }
    }
}

#[test]
fn a_route_reads_as_a_summary_then_one_block_per_leg() {
    let mut nav = hospital_nav(PlannerOptions::default());
    let route = nav.route("dock", "ward-3/bed-12").unwrap();
    let text = route.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("route dock -> ward-3/bed-12 (fastest): "),
        "{text}"
    );
    assert!(
        lines[0].contains(&format!("{:.1} m", route.length_m)),
        "{text}"
    );
    let drives = route
        .legs
        .iter()
        .filter(|l| matches!(l, Leg::Drive { .. }))
        .count();
    let rides = route.legs.len() - drives;
    assert!(drives >= 2 && rides >= 1, "{text}");
    // A drive is three lines (summary, corners, heading), a ride one.
    assert_eq!(lines.len(), 1 + 3 * drives + rides, "{text}");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("    final heading "))
            .count(),
        drives
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  lift-") && l.contains("floor 0 -> ")),
        "{text}"
    );
    assert!(text.ends_with('\n'));
}
