//! The simulated controller: it reaches the goal pose, never lets its footprint touch an
//! obstacle, a keep-out zone or a person, stops short of obstacles, waits, plans around a
//! blocked corridor, and gives up with a clear status when there is no way.

mod common;

use roboct_nav::drive::{self, DriveOptions, DriveStatus, DynamicObstacle, EventKind};
use roboct_nav::geom::{Point, Polygon, wrap_angle};
use roboct_nav::hospital;
use roboct_nav::map::{FREE, OCCUPIED, OccupancyGrid};
use roboct_nav::plan::{Navigator, PlannerOptions};
use roboct_nav::robot::RobotModel;
use roboct_nav::site::Site;

fn hospital_nav() -> Navigator {
    Navigator::new(
        hospital::default_hospital(),
        RobotModel::default(),
        PlannerOptions::default(),
    )
    .unwrap()
}

/// No pose of the drive lets the real footprint overlap a blocked cell or an obstacle.
fn assert_never_touched(
    nav: &Navigator,
    report: &drive::DriveReport,
    obstacles: &[DynamicObstacle],
) {
    for &(t, floor, pose) in &report.trajectory {
        let cm = nav.costmap(floor).unwrap();
        if let Some(c) = common::touches_blocked(cm, pose) {
            panic!(
                "t = {t:.2} s: the footprint at {pose:?} touches blocked cell {c:?} on floor {floor}"
            );
        }
        let fp = common::outline(cm, pose);
        for o in obstacles
            .iter()
            .filter(|o| o.floor == floor && t >= o.appear_s)
        {
            if o.leave_s.is_none_or(|l| t < l) && o.velocity == Point::new(0.0, 0.0) {
                assert!(
                    !common::overlap(&fp, &o.shape.vertices),
                    "t = {t:.2}: touched {}",
                    o.name
                );
            }
        }
    }
    assert_eq!(
        report.refused_steps, 0,
        "the look-ahead should stop the robot before any contact"
    );
}

#[test]
fn drives_from_the_dock_to_a_bed_on_another_floor() {
    let mut nav = hospital_nav();
    let route = nav.route("dock", "ward-3/bed-12").unwrap();
    let goal = nav.resolve("ward-3/bed-12", "goal").unwrap();
    let report = drive::simulate(&mut nav, &route, &goal, &[], DriveOptions::default());
    assert_eq!(report.status, DriveStatus::Arrived, "{:?}", report.events);
    let &(_, floor, end) = report.trajectory.last().unwrap();
    assert_eq!(floor, 2);
    assert!(end.point().dist(goal.point) < 0.05, "{end:?}");
    assert!(wrap_angle(end.yaw_rad - goal.heading_rad.unwrap()).abs() < 2f64.to_radians());
    assert_never_touched(&nav, &report, &[]);
    let kinds: Vec<&EventKind> = report.events.iter().map(|e| &e.what).collect();
    assert!(kinds.iter().any(|k| matches!(
        k,
        EventKind::ElevatorRide {
            from_floor: 0,
            to_floor: 2,
            ..
        }
    )));
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, EventKind::DoorRequested { door } if door == "ward-3/room-3"))
    );
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, EventKind::DoorOpened { door } if door == "ward-3/room-3"))
    );
    // The plan's estimate is close to what the simulated drive took.
    assert!(
        (report.time_s - route.time_s).abs() < 0.15 * route.time_s,
        "{} vs {}",
        report.time_s,
        route.time_s
    );
    assert!(
        (report.energy_j - route.energy_j).abs() < 0.15 * route.energy_j,
        "{} vs {}",
        report.energy_j,
        route.energy_j
    );
    assert!((report.distance_m - route.length_m).abs() < 0.1 * route.length_m);
    // The robot never went faster than the zones allow: top speed overall.
    for w in report.trajectory.windows(2) {
        if w[0].1 == w[1].1 && w[1].0 > w[0].0 {
            let v = w[0].2.point().dist(w[1].2.point()) / (w[1].0 - w[0].0);
            assert!(v <= nav.robot().limits.max_speed_mps + 1e-6, "{v}");
        }
    }
}

#[test]
fn a_bed_blocking_the_corridor_stops_the_robot_which_plans_around_it() {
    let mut nav = hospital_nav();
    let route = nav.route("dock", "ward-3/bed-12").unwrap();
    let goal = nav.resolve("ward-3/bed-12", "goal").unwrap();
    // A bed parked across the second floor's south corridor between the hall and the ward.
    let bed = DynamicObstacle {
        name: "bed".into(),
        floor: 2,
        shape: Polygon::rect(29.5, 7.1, 30.5, 9.7),
        appear_s: 0.0,
        leave_s: None,
        velocity: Point::new(0.0, 0.0),
    };
    let report = drive::simulate(
        &mut nav,
        &route,
        &goal,
        std::slice::from_ref(&bed),
        DriveOptions::default(),
    );
    assert_eq!(report.status, DriveStatus::Arrived, "{:?}", report.events);
    assert_eq!(report.replans, 1);
    let stop = report
        .events
        .iter()
        .position(
            |e| matches!(&e.what, EventKind::StoppedForObstacle { obstacle } if obstacle == "bed"),
        )
        .expect("stopped for the bed");
    let replan = report
        .events
        .iter()
        .position(|e| matches!(e.what, EventKind::Replanned { .. }))
        .expect("replanned");
    assert!(replan > stop);
    // It waited the configured time before planning around.
    let waited = report.events[replan].t_s - report.events[stop].t_s;
    assert!((waited - 5.0).abs() < 0.2, "{waited}");
    assert_never_touched(&nav, &report, &[bed]);
    // The detour goes through the north corridor.
    assert!(report.trajectory.iter().any(|t| t.1 == 2 && t.2.y > 20.0));
}

#[test]
fn an_obstacle_that_leaves_is_waited_for() {
    let mut nav = hospital_nav();
    let route = nav.route("dock", "ward-3/bed-12").unwrap();
    let goal = nav.resolve("ward-3/bed-12", "goal").unwrap();
    // A cart across the ground floor corridor, wheeled away after 50 s: the robot gets there
    // after about 40 s, waits, and drives on without planning around it.
    let cart = DynamicObstacle {
        name: "cart".into(),
        floor: 0,
        shape: Polygon::rect(25.0, 7.1, 25.8, 9.7),
        appear_s: 0.0,
        leave_s: Some(50.0),
        velocity: Point::new(0.0, 0.0),
    };
    let report = drive::simulate(
        &mut nav,
        &route,
        &goal,
        std::slice::from_ref(&cart),
        DriveOptions {
            wait_before_replan_s: 30.0,
            ..Default::default()
        },
    );
    assert_eq!(report.status, DriveStatus::Arrived);
    assert_eq!(report.replans, 0);
    let kinds: Vec<&EventKind> = report.events.iter().map(|e| &e.what).collect();
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, EventKind::StoppedForObstacle { .. })),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| matches!(k, EventKind::Resumed)),
        "{kinds:?}"
    );
    assert_never_touched(&nav, &report, &[cart]);
}

#[test]
fn a_person_crossing_is_given_way() {
    let mut nav = hospital_nav();
    let route = nav.route("dock", "lobby").unwrap();
    let goal = nav.resolve("lobby", "goal").unwrap();
    // Someone walks across the south corridor at 1 m/s just ahead of the robot.
    let person = DynamicObstacle {
        name: "person".into(),
        floor: 0,
        shape: Polygon::rect(12.0, 6.6, 12.5, 7.1),
        appear_s: 18.0,
        leave_s: Some(40.0),
        velocity: Point::new(0.0, 1.0),
    };
    let report = drive::simulate(&mut nav, &route, &goal, &[person], DriveOptions::default());
    assert_eq!(report.status, DriveStatus::Arrived, "{:?}", report.events);
    assert_never_touched(&nav, &report, &[]);
}

#[test]
fn no_way_round_means_giving_up_with_a_clear_status() {
    // A dead-end corridor 3 m wide: a bed across it leaves no other way.
    let mut g = OccupancyGrid::new(400, 100, 0.05, Point::new(0.0, 0.0), OCCUPIED).unwrap();
    g.fill_rect(0.5, 1.0, 19.5, 4.0, FREE);
    let mut nav = Navigator::new(
        Site::bare("corridor", g),
        RobotModel::default(),
        PlannerOptions::default(),
    )
    .unwrap();
    let route = nav.route("2,2.5", "18,2.5").unwrap();
    let goal = nav.resolve("18,2.5", "goal").unwrap();
    let bed = DynamicObstacle {
        name: "bed".into(),
        floor: 0,
        shape: Polygon::rect(10.0, 1.0, 11.0, 4.0),
        appear_s: 0.0,
        leave_s: None,
        velocity: Point::new(0.0, 0.0),
    };
    let options = DriveOptions {
        give_up_after_s: 20.0,
        ..Default::default()
    };
    let report = drive::simulate(&mut nav, &route, &goal, std::slice::from_ref(&bed), options);
    let DriveStatus::GaveUp { reason, x, .. } = &report.status else {
        panic!("expected to give up: {:?}", report.status);
    };
    assert!(
        reason.contains("blocked by bed") && reason.contains("no other route"),
        "{reason}"
    );
    // Stopped short of the bed, within braking distance plus the gap it keeps.
    let front = x + nav.robot().front_m();
    assert!(front < 10.0 && front > 10.0 - 1.0, "front at {front}");
    assert!(
        report
            .events
            .iter()
            .any(|e| matches!(e.what, EventKind::NoDetour))
    );
    assert_never_touched(&nav, &report, &[bed]);
    // The costmap is clean again afterwards.
    assert!(nav.costmap(0).unwrap().kind.iter().all(|&k| k != 4));
}
