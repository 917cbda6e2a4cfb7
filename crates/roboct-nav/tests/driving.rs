//! The simulated controller: it reaches the goal pose, never lets its footprint touch an
//! obstacle, a keep-out zone or a person, stops short of obstacles, waits, plans around a
//! blocked corridor, and gives up with a clear status when there is no way.

mod common;

use roboct_nav::drive::{self, DriveOptions, DriveStatus, DynamicObstacle, EventKind};
use roboct_nav::elevator::CarExit;
use roboct_nav::geom::{Point, Polygon, wrap_angle};
use roboct_nav::hospital;
use roboct_nav::map::{FREE, OCCUPIED, OccupancyGrid};
use roboct_nav::plan::{Leg, Navigator, PlannerOptions};
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

/// No pose of the drive lets the real footprint overlap a blocked cell (outside the car of
/// the elevator it is riding), and at no step does it overlap an obstacle, moving or not, at
/// that obstacle's position at that same step.
fn assert_never_touched(
    nav: &Navigator,
    report: &drive::DriveReport,
    obstacles: &[DynamicObstacle],
) {
    for p in &report.trajectory {
        let cm = nav.costmap(p.floor).unwrap();
        let car: Vec<Point> = p
            .elevator
            .map(|e| nav.site().elevators[e].car.vertices.clone())
            .unwrap_or_default();
        if let Some(c) = common::touches_blocked_outside(cm, p.pose, &car) {
            panic!(
                "t = {:.2} s: the footprint at {:?} touches blocked cell {c:?} on floor {}",
                p.t_s, p.pose, p.floor
            );
        }
    }
    assert_eq!(report.obstacle_tracks.len(), obstacles.len());
    for (o, track) in obstacles.iter().zip(&report.obstacle_tracks) {
        let mut met = 0;
        for (t, shape) in track {
            let Some(p) = report.trajectory.iter().find(|p| p.t_s == *t) else {
                panic!("{}: no robot pose at t = {t}", o.name);
            };
            if p.floor != o.floor {
                continue;
            }
            met += 1;
            let fp = common::outline(nav.costmap(p.floor).unwrap(), p.pose);
            assert!(
                !common::overlap(&fp, &shape.vertices),
                "t = {t:.2}: the robot at {:?} touches {} at {:?}",
                p.pose,
                o.name,
                shape.vertices
            );
        }
        assert!(met > 0 || track.is_empty(), "{} was never checked", o.name);
    }
    assert_eq!(
        report.refused_steps, 0,
        "the look-ahead should stop the robot before any contact"
    );
}

/// Relative gap of `sim` to `est`, as a fraction of `est`, beyond an absolute slack.
fn gap(sim: f64, est: f64, slack: f64) -> f64 {
    ((sim - est).abs() - slack).max(0.0) / est.max(1e-9)
}

#[test]
fn drives_from_the_dock_to_a_bed_on_another_floor() {
    let mut nav = hospital_nav();
    let route = nav.route("dock", "ward-3/bed-12").unwrap();
    let goal = nav.resolve("ward-3/bed-12", "goal").unwrap();
    let report = drive::simulate(&mut nav, &route, &goal, &[], DriveOptions::default());
    assert_eq!(report.status, DriveStatus::Arrived, "{:?}", report.events);
    let end = *report.trajectory.last().unwrap();
    assert_eq!(end.floor, 2);
    assert!(end.pose.point().dist(goal.point) < 0.05, "{end:?}");
    assert!(wrap_angle(end.pose.yaw_rad - goal.heading_rad.unwrap()).abs() < 2f64.to_radians());
    // The robot starts as it stands at the dock.
    let dock = nav.site().place("dock").unwrap().pose.unwrap();
    assert_eq!(report.trajectory[0].pose, dock);
    assert_never_touched(&nav, &report, &[]);
    let kinds: Vec<&EventKind> = report.events.iter().map(|e| &e.what).collect();
    let position = |f: &dyn Fn(&EventKind) -> bool| kinds.iter().position(|k| f(k));
    let called = position(&|k| matches!(k, EventKind::ElevatorCalled { .. })).unwrap();
    let entered = position(&|k| matches!(k, EventKind::ElevatorEntered { .. })).unwrap();
    let rode = position(&|k| {
        matches!(
            k,
            EventKind::ElevatorRide {
                from_floor: 0,
                to_floor: 2,
                ..
            }
        )
    })
    .unwrap();
    let left = position(&|k| {
        matches!(
            k,
            EventKind::ElevatorLeft {
                exit: CarExit::Forward,
                ..
            }
        )
    })
    .unwrap();
    assert!(
        called < entered && entered < rode && rode < left,
        "{kinds:?}"
    );
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
    // In the car: the robot stood at the ride point with its whole footprint inside the car,
    // turned there, and left forwards, facing away from the doors.
    let Leg::Elevator { name, inside, .. } = &route.legs[1] else {
        panic!("{:?}", route.legs[1]);
    };
    let e = nav
        .site()
        .elevators
        .iter()
        .position(|e| &e.name == name)
        .unwrap();
    let car = &nav.site().elevators[e].car.vertices;
    let at_inside: Vec<_> = report
        .trajectory
        .iter()
        .filter(|p| p.elevator == Some(e) && p.pose.point().dist(*inside) < 1e-6)
        .collect();
    assert!(at_inside.len() > 10);
    let cm = nav.costmap(0).unwrap();
    for p in &at_inside {
        for v in common::outline(cm, p.pose) {
            assert!(common::inside_convex(car, v, 1e-9), "{v:?} outside the car");
        }
    }
    let yaws: Vec<f64> = at_inside.iter().map(|p| p.pose.yaw_rad).collect();
    let turned = wrap_angle(yaws[yaws.len() - 1] - yaws[0]).abs();
    assert!((turned - std::f64::consts::PI).abs() < 0.02, "{turned}");
    let stop2 = nav.site().elevators[e].stop_on(2).unwrap();
    let out = report
        .trajectory
        .iter()
        .find(|p| p.floor == 2 && p.elevator.is_none())
        .unwrap();
    assert!(out.pose.point().dist(stop2.point()) < 0.01, "{out:?}");
    assert!(wrap_angle(out.pose.yaw_rad - stop2.yaw_rad - std::f64::consts::PI).abs() < 0.02);
    // Moving forwards only: each step goes the way the robot faces.
    for w in report.trajectory.windows(2) {
        let (a, b) = (w[0].pose, w[1].pose);
        if w[0].floor == w[1].floor && a.point().dist(b.point()) > 1e-6 {
            let along = (b.x - a.x) * a.yaw_rad.cos() + (b.y - a.y) * a.yaw_rad.sin();
            assert!(
                along > 0.0,
                "reversed at t = {}: {:?} -> {:?}",
                w[0].t_s,
                w[0],
                w[1]
            );
        }
    }
    // The robot never went faster than the top speed.
    for w in report.trajectory.windows(2) {
        if w[0].floor == w[1].floor && w[1].t_s > w[0].t_s {
            let v = w[0].pose.point().dist(w[1].pose.point()) / (w[1].t_s - w[0].t_s);
            assert!(v <= nav.robot().limits.max_speed_mps + 1e-6, "{v}");
        }
    }
}

/// The planner's time and energy estimates model the controller (speed zones and the
/// slow-down near walls, acceleration limits, stops and turns in place, door requests and
/// waits, elevator rides), so the simulated drive takes what was estimated: within 5 % plus
/// 1 s and 5 % plus 200 J (1.3 s of electronics), and the length within 2 % plus 5 cm, on a
/// zero-length route, between neighbouring beds, short routes with doors and many corners, a
/// long one, and routes across floors through either elevator.
#[test]
fn estimate_and_simulated_drive_agree_on_short_long_and_multi_floor_routes() {
    let mut nav = hospital_nav();
    let cases = [
        ("dock", "dock"),
        ("ward-3/bed-1", "ward-3/bed-2"),
        ("lobby", "elevator-hall-0"),
        ("dock", "ct-room"),
        ("ward-1/bed-20", "ward-1/nurses-station"),
        ("10,8.4,0", "70,21.6,0"),
        ("dock", "ward-3/bed-12"),
        ("ward-2/bed-5", "ward-4/bed-7"),
    ];
    for (from, to) in cases {
        let route = nav.route(from, to).unwrap();
        let goal = nav.resolve(to, "goal").unwrap();
        let report = drive::simulate(&mut nav, &route, &goal, &[], DriveOptions::default());
        assert_eq!(report.status, DriveStatus::Arrived, "{from} -> {to}");
        let (dt, de, dl) = (
            gap(report.time_s, route.time_s, 1.0),
            gap(report.energy_j, route.energy_j, 200.0),
            gap(report.distance_m, route.length_m, 0.05),
        );
        assert!(
            dt <= 0.05 && de <= 0.05 && dl <= 0.02,
            "{from} -> {to}: estimated {:.1} s {:.0} J {:.2} m, drove {:.1} s {:.0} J {:.2} m",
            route.time_s,
            route.energy_j,
            route.length_m,
            report.time_s,
            report.energy_j,
            report.distance_m
        );
    }
    // The cases are not trivially equal: the multi-floor ones include rides of a minute.
    let route = nav.route("dock", "ward-3/bed-12").unwrap();
    assert!(route.time_s > 200.0, "{}", route.time_s);
}

/// Start and goal the same: nothing to drive, nothing to spend (no out-and-back to make a
/// final approach).
#[test]
fn a_route_to_where_the_robot_stands_is_empty() {
    let mut nav = hospital_nav();
    let route = nav.route("dock", "dock").unwrap();
    assert_eq!(route.length_m, 0.0);
    assert_eq!(route.time_s, 0.0);
    assert_eq!(route.energy_j, 0.0);
    assert_eq!(route.path.len(), 1);
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
    assert!(
        report
            .trajectory
            .iter()
            .any(|t| t.floor == 2 && t.pose.y > 20.0)
    );
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

/// Someone steps out of an X-ray room and walks slowly across the corridor just in front of
/// the robot: it brakes (never harder than its deceleration limit) and stops short of them
/// within the braking distance of the speed it had, waits while they cross, then drives on
/// along the same plan; at no step does its footprint touch them or a blocked cell.
#[test]
fn a_person_crossing_is_given_way() {
    let mut nav = hospital_nav();
    // East along the south corridor, past the X-ray rooms.
    let (from, to) = ("dock", "30,8.4,0");
    let route = nav.route(from, to).unwrap();
    let goal = nav.resolve(to, "goal").unwrap();
    // When does the robot, undisturbed, pass x = 17 m in the south corridor (heading east)?
    let free = drive::simulate(&mut nav, &route, &goal, &[], DriveOptions::default());
    assert_eq!(free.status, DriveStatus::Arrived, "{:?}", free.events);
    let passes = free
        .trajectory
        .iter()
        .find(|p| p.floor == 0 && p.pose.x >= 17.0 && (7.0..9.8).contains(&p.pose.y))
        .expect("the route runs along the south corridor")
        .t_s;
    // The person leaves the x-ray-1 door (x 20.3-21.7, just south of the corridor) a second
    // before that, at 0.4 m/s towards the core opposite: they step into the robot's lane
    // 1.5 m ahead of it and take 3 s to cross it.
    let person = DynamicObstacle {
        name: "person".into(),
        floor: 0,
        shape: Polygon::rect(20.5, 6.4, 21.0, 6.9),
        appear_s: passes - 1.0,
        leave_s: Some(passes + 12.0),
        velocity: Point::new(0.0, 0.4),
    };
    let options = DriveOptions::default();
    let report = drive::simulate(
        &mut nav,
        &route,
        &goal,
        std::slice::from_ref(&person),
        options,
    );
    assert_eq!(report.status, DriveStatus::Arrived, "{:?}", report.events);
    let stop = report
        .events
        .iter()
        .find(|e| matches!(&e.what, EventKind::StoppedForObstacle { obstacle } if obstacle == "person"))
        .unwrap_or_else(|| panic!("no stop for the person: {:?}", report.events));
    let resumed = report
        .events
        .iter()
        .find(|e| matches!(e.what, EventKind::Resumed) && e.t_s > stop.t_s)
        .expect("drove on");
    let waited = resumed.t_s - stop.t_s;
    assert!((0.5..6.0).contains(&waited), "waited {waited} s");
    assert_eq!(
        report.replans, 0,
        "a person crossing is waited for, not planned around"
    );
    assert!(report.distance_m < free.distance_m + 0.05, "no detour");
    // Where it stopped, the person was ahead of it, in its lane, and at least half the stop
    // gap away.
    let i_stop = report
        .trajectory
        .iter()
        .rposition(|p| p.t_s <= stop.t_s)
        .unwrap();
    let at = report.trajectory[i_stop];
    let (_, shape) = report.obstacle_tracks[0]
        .iter()
        .rev()
        .find(|(t, _)| *t <= stop.t_s)
        .unwrap();
    let (lo, hi) = shape.bounds();
    let front = at.pose.x + nav.robot().front_m();
    assert!(
        lo.x - front > options.stop_gap_m / 2.0 && lo.x - front < 1.0,
        "person at {lo:?}, front at {front}"
    );
    assert!(
        lo.y < at.pose.y + 0.4 && hi.y > at.pose.y - 0.4,
        "{lo:?} {hi:?} {at:?}"
    );
    // The braking before the stop: speeds from the trajectory, back from the stop to the last
    // step where the robot was not slowing down.
    let dt = options.dt_s;
    let speed = |i: usize| {
        let (a, b) = (report.trajectory[i], report.trajectory[i + 1]);
        a.pose.point().dist(b.pose.point()) / (b.t_s - a.t_s)
    };
    let limits = nav.robot().limits;
    let mut k = i_stop.saturating_sub(1);
    while k > 0 && speed(k - 1) > speed(k) + 1e-9 {
        // Never harder than the deceleration limit.
        assert!(
            speed(k - 1) - speed(k) <= limits.max_decel_mps2 * dt + 1e-6,
            "braked from {} to {} m/s in one step",
            speed(k - 1),
            speed(k)
        );
        k -= 1;
    }
    let v_brake = speed(k);
    let braked_m = report.trajectory[k]
        .pose
        .point()
        .dist(report.trajectory[i_stop].pose.point());
    assert!(
        v_brake > 0.5,
        "it was driving at {v_brake} m/s before it braked"
    );
    let needed = nav.robot().braking_distance_m(v_brake);
    assert!(
        braked_m <= needed + v_brake * dt + 0.05,
        "braked over {braked_m:.2} m from {v_brake:.2} m/s (braking distance {needed:.2} m)"
    );
    // It stood still while it waited.
    let still: Vec<_> = report
        .trajectory
        .iter()
        .filter(|p| p.t_s >= stop.t_s && p.t_s <= resumed.t_s - dt)
        .collect();
    assert!(still.len() > 5);
    assert!(
        still
            .iter()
            .all(|p| p.pose.point().dist(at.pose.point()) < 0.01)
    );
    // The person was checked at every step they were there, against the robot at that step.
    assert!(report.obstacle_tracks[0].len() > 100);
    assert_never_touched(&nav, &report, &[person]);
    // Giving way took time.
    assert!(
        report.time_s > free.time_s + 0.5,
        "{} vs {}",
        report.time_s,
        free.time_s
    );
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

/// A two-floor building with one lift whose car is `car_w` m wide and `car_d` m deep; the
/// robot waits at (5.5, 3) facing the car on both floors.
fn lift_building(car_w: f64, car_d: f64) -> Site {
    let floor = |number: i32| {
        let mut g = OccupancyGrid::new(240, 120, 0.05, Point::new(0.0, 0.0), FREE).unwrap();
        g.fill_rect(0.0, 0.0, 12.0, 0.2, OCCUPIED);
        g.fill_rect(0.0, 5.8, 12.0, 6.0, OCCUPIED);
        g.fill_rect(0.0, 0.0, 0.2, 6.0, OCCUPIED);
        // The shaft and the walls around it: everything east of x = 7 m.
        g.fill_rect(7.0, 0.0, 12.0, 6.0, OCCUPIED);
        roboct_nav::site::Floor {
            number,
            name: format!("floor {number}"),
            grid: g,
        }
    };
    let (y0, y1) = (3.0 - car_w / 2.0, 3.0 + car_w / 2.0);
    Site {
        name: "lift building".into(),
        source: "lift building".into(),
        floors: vec![floor(0), floor(1)],
        places: vec![],
        doors: vec![],
        elevators: vec![roboct_nav::site::Elevator {
            name: "bed-lift".into(),
            car: Polygon::rect(7.0, y0, 7.0 + car_d, y1),
            stops: vec![
                (0, roboct_nav::geom::Pose::new(5.5, 3.0, 0.0)),
                (1, roboct_nav::geom::Pose::new(5.5, 3.0, 0.0)),
            ],
            travel_s_per_floor: 4.0,
            wait_s: 20.0,
            door_s: 5.0,
        }],
        speed_zones: vec![],
        keep_outs: vec![],
    }
}

/// In a car too narrow to turn in (1.5 m: the robot's turning circle is 1.9 m across with its
/// margin) the robot reverses out along the line it came in, every pose checked, and the ride
/// takes what was estimated; in a car too short for it the planner refuses the lift with the
/// reason.
#[test]
fn in_a_car_too_small_to_turn_in_the_robot_reverses_out() {
    let mut nav = Navigator::new(
        lift_building(1.5, 2.7),
        RobotModel::default(),
        PlannerOptions::default(),
    )
    .unwrap();
    let route = nav.route("2,3,0", "2,3,1").unwrap();
    let Leg::Elevator { exit, length_m, .. } = &route.legs[1] else {
        panic!("{:?}", route.legs);
    };
    assert_eq!(*exit, CarExit::Reverse);
    // In to the car's middle (8.35 m) and back out: 2.85 m each way.
    assert!((length_m - 2.0 * 2.85).abs() < 1e-9, "{length_m}");
    let goal = nav.resolve("2,3,1", "goal").unwrap();
    let report = drive::simulate(&mut nav, &route, &goal, &[], DriveOptions::default());
    assert_eq!(report.status, DriveStatus::Arrived, "{:?}", report.events);
    assert!(report.events.iter().any(|e| matches!(
        e.what,
        EventKind::ElevatorLeft {
            exit: CarExit::Reverse,
            ..
        }
    )));
    assert_never_touched(&nav, &report, &[]);
    // Backwards only out of the car on floor 1, facing the car; forwards everywhere else.
    let mut reversed_m = 0.0;
    for w in report.trajectory.windows(2) {
        let (a, b) = (w[0].pose, w[1].pose);
        if w[0].floor != w[1].floor || a.point().dist(b.point()) < 1e-9 {
            continue;
        }
        let along = (b.x - a.x) * a.yaw_rad.cos() + (b.y - a.y) * a.yaw_rad.sin();
        if along < 0.0 {
            assert!(
                w[0].floor == 1 && w[0].elevator.is_some() && a.yaw_rad.abs() < 1e-9,
                "reversed at {:?}",
                w[0]
            );
            reversed_m += a.point().dist(b.point());
        }
    }
    assert!((reversed_m - 2.85).abs() < 0.01, "{reversed_m}");
    // Estimate and drive agree, as on the hospital's lifts.
    assert!(
        gap(report.time_s, route.time_s, 1.0) <= 0.05,
        "{} vs {}",
        report.time_s,
        route.time_s
    );
    assert!(gap(report.energy_j, route.energy_j, 200.0) <= 0.05);

    // 1.5 m deep: shorter than the robot (1.6 m) with its margins.
    let mut nav = Navigator::new(
        lift_building(1.5, 1.5),
        RobotModel::default(),
        PlannerOptions::default(),
    )
    .unwrap();
    let e = nav.route("2,3,0", "2,3,1").unwrap_err().to_string();
    assert!(
        e.contains("bed-lift") && e.contains("does not fit in the car"),
        "{e}"
    );
}
