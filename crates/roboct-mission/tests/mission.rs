//! The whole mission on the simulated robot: every test drives the real `Mission` with the
//! simulated hardware, and a checking wrapper verifies the safety properties on the
//! hardware's own state at every control tick (not on the interlocks' model of it).

use std::time::Duration;

use roboct_core::Phi;
use roboct_dicom::dimse::{AssociationOptions, Peer};
use roboct_dicom::outbox::Outbox;
use roboct_dicom::scp::{Scp, ScpEvent, ScpOptions};
use roboct_geometry::ScanGeometry;
use roboct_mission::ct::{CtChain, PacsTarget};
use roboct_mission::demo::{demo_finding, demo_world};
use roboct_mission::hardware::{
    Battery, BeamControl, DriveBase, Gantry, HardwareError, Person, Speaker,
};
use roboct_mission::mission::{Mission, Order, Quiet, Settings, Summary};
use roboct_mission::phase::Phase;
use roboct_mission::store::Store;
use roboct_mission::world::{Hardware, Notice, SimWorld};
use roboct_nav::plan::Navigator;
use roboct_scanner::ScannerSpec;
use roboct_scanner::acquire::{XRayDetector, XRayTube};
use roboct_scanner::physics::Response;

/// What the checker saw go wrong, with the robot time.
#[derive(Debug, Default)]
struct Checks {
    violations: Vec<(f64, String)>,
    /// Robot time of each "stop" the mission read from the console.
    stops_read_s: Vec<f64>,
    /// Ticks with the beam on.
    beam_ticks: usize,
    /// Whether the switch was released and pressed again since arming (R9), as the
    /// hardware saw it.
    switch_history: Vec<(f64, bool)>,
    first_beam_s: Option<f64>,
}

/// The simulated robot behind a wrapper that checks, after every tick, what the hardware
/// itself is doing.
struct Checked {
    world: SimWorld,
    radius_m: f64,
    checks: Checks,
    verified_patient: bool,
}

impl Checked {
    fn new(world: SimWorld) -> Self {
        Self {
            world,
            radius_m: Settings::default().exposure_radius_m,
            checks: Checks::default(),
            verified_patient: false,
        }
    }

    fn check(&mut self) {
        let t = self.world.clock.t_s;
        let beam = self.world.tube.is_on();
        let mut bad = |what: &str| self.checks.violations.push((t, what.to_string()));
        if beam {
            if self.world.base.is_moving() {
                bad("beam on while the base moves");
            }
            if self.world.gantry.is_moving() {
                bad("beam on while a gantry axis moves");
            }
            if !self.world.switch.held {
                bad("beam on without the exposure switch held");
            }
            if !self.verified_patient {
                bad("beam on before the wristband was read");
            }
            if self
                .world
                .room
                .people
                .iter()
                .any(|p| p.person.distance_m < self.radius_m)
            {
                bad("beam on with someone inside the exposure radius");
            }
            self.checks.beam_ticks += 1;
            self.checks.first_beam_s.get_or_insert(t);
        }
        // A stop is obeyed within one tick: at the tick after it was read, nothing moves
        // and the beam is off.
        if let Some(&s) = self.checks.stops_read_s.last()
            && t > s
            && (beam || self.world.base.is_moving() || self.world.gantry.is_moving())
        {
            bad("still moving or exposing a tick after a stop");
        }
        let held = self.world.switch.held;
        if self.checks.switch_history.last().map(|h| h.1) != Some(held) {
            self.checks.switch_history.push((t, held));
        }
    }
}

impl Hardware for Checked {
    fn now_s(&self) -> f64 {
        self.world.now_s()
    }
    fn advance(&mut self, dt_s: f64) {
        self.world.advance(dt_s);
        self.check();
    }
    fn base(&mut self) -> &mut dyn DriveBase {
        self.world.base()
    }
    fn gantry(&mut self) -> &mut dyn Gantry {
        self.world.gantry()
    }
    fn beam(&mut self) -> &mut dyn BeamControl {
        self.world.beam()
    }
    fn tube(&mut self) -> &mut dyn XRayTube {
        self.world.tube()
    }
    fn detector(
        &mut self,
        geometry: &ScanGeometry,
        response: &Response,
        seed: u64,
    ) -> Result<Box<dyn XRayDetector>, HardwareError> {
        self.world.detector(geometry, response, seed)
    }
    fn switch_held(&self) -> bool {
        self.world.switch_held()
    }
    fn battery(&self) -> &dyn Battery {
        self.world.battery()
    }
    fn draw(&mut self, j: f64) {
        self.world.draw(j)
    }
    fn speaker(&mut self) -> &mut dyn Speaker {
        self.world.speaker()
    }
    fn people(&self) -> Vec<Person> {
        self.world.people()
    }
    fn ask_to_leave(&mut self, radius_m: f64) {
        self.world.ask_to_leave(radius_m)
    }
    fn read_wristband(&mut self) -> Option<Phi<String>> {
        self.verified_patient = true;
        self.world.read_wristband()
    }
    fn navigator(&mut self) -> &mut Navigator {
        self.world.navigator()
    }
    fn notice(&mut self, notice: &Notice) {
        self.world.notice(notice)
    }
    fn position(
        &mut self,
        target: roboct_positioning::Target,
        seed: u64,
    ) -> Result<roboct_positioning::pipeline::Positioned, HardwareError> {
        self.world.position(target, seed)
    }
    fn console(&mut self) -> Option<String> {
        let text = self.world.console()?;
        if text.trim().eq_ignore_ascii_case("stop") {
            self.checks.stops_read_s.push(self.world.clock.t_s);
        }
        Some(text)
    }
}

/// A test's robot and its PACS.
struct Run {
    summary: Summary,
    truth: roboct_phantom::head::HeadTruth,
    checks: Checks,
    world: SimWorld,
    store: Store,
    events: Vec<ScpEvent>,
    _dir: tempfile::TempDir,
}

/// What a test changes in the world or the order before the mission starts.
type Setup = dyn Fn(&mut SimWorld, &mut Order);

/// Runs the demo mission, with the embedded PACS on loopback unless `pacs_up` is false
/// (then the PACS address is a closed port). Without findings to read, the scan is the
/// sparse-view protocol on a 2 mm grid (fast); with them, the standard protocol on the 1 mm
/// grid the reader is made for.
fn run(setup: &Setup, with_findings: bool, pacs_up: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut order = Order::demo();
    if !with_findings {
        order.protocol = "sparse view".into();
    }
    let findings = if with_findings {
        vec![demo_finding()]
    } else {
        Vec::new()
    };
    let (mut world, truth) = demo_world(&order, 3, findings).unwrap();
    setup(&mut world, &mut order);
    let mut scp = Scp::bind(
        "127.0.0.1:0",
        ScpOptions::new("TEST-PACS", dir.path().join("pacs")),
    )
    .unwrap();
    let mut peer = scp.peer();
    if !pacs_up {
        scp.shutdown();
        peer = Peer {
            port: closed_port(),
            ..peer
        };
    }
    let options = AssociationOptions::new("ROBOCT").dimse_timeout(Duration::from_secs(5));
    let outbox = Outbox::open(dir.path().join("outbox")).unwrap();
    let target = PacsTarget::dimse(outbox, "pacs", peer, options, "test PACS".into());
    let mut chain = CtChain::new(ScannerSpec::mobile_head(), dir.path(), Some(target));
    chain.voxel_mm = if with_findings { 1.0 } else { 2.0 };
    chain.pacs_deadline = Duration::from_secs(if pacs_up { 20 } else { 1 });
    let mut store = Store::open(&dir.path().join("missions.sqlite")).unwrap();
    let settings = Settings {
        out_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    let mut hw = Checked::new(world);
    let summary = {
        let mission = Mission::begin(order, settings, &mut hw, &mut store, &Quiet).unwrap();
        mission.run(&mut chain)
    };
    scp.shutdown();
    let events = scp.events();
    Run {
        summary,
        truth,
        checks: hw.checks,
        world: hw.world,
        store,
        events,
        _dir: dir,
    }
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn stored(events: &[ScpEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, ScpEvent::Stored(_)))
        .count()
}

fn failure(r: &Run) -> &str {
    r.summary.failure.as_ref().map_or("", |f| f.0.as_str())
}

fn assert_safe(r: &Run) {
    assert!(
        r.checks.violations.is_empty(),
        "safety violations: {:?}",
        r.checks.violations
    );
    assert!(!r.world.tube.is_on(), "the beam is left on");
    assert!(!r.world.base.is_moving(), "the base is left moving");
    assert!(!r.world.gantry.is_moving(), "the gantry is left moving");
}

#[test]
fn the_whole_mission_scans_reads_and_delivers_everything_to_the_pacs() {
    let r = run(&|_, _| {}, true, true);
    assert_eq!(r.summary.failure, None, "{:?}", r.summary.said);
    assert_eq!(r.summary.phase, Some(Phase::Done));
    assert_safe(&r);
    let ct = r.summary.ct.as_ref().expect("imaging outcome");
    assert!(ct.images > 50, "{} images", ct.images);
    // Every slice and both SRs acknowledged, and the PACS has exactly those.
    assert_eq!(ct.pending, 0);
    assert_eq!(ct.sent, ct.images + 2, "{ct:?}");
    assert_eq!(stored(&r.events), ct.images + 2);
    assert_eq!(ct.mpps.as_deref(), Some("completed"));
    // The first slice reached the PACS before the reconstruction had made its last slab.
    let (first, last) = (ct.first_slice_s.unwrap(), ct.last_slab_s.unwrap());
    assert!(first < last, "first slice {first} s, last slab {last} s");
    // The reading found the demo's haemorrhage where the truth has it: intraparenchymal, on
    // the left, of about its volume.
    let t = &r.truth.findings[0];
    let line = ct
        .findings
        .iter()
        .find(|f| f.starts_with("intraparenchymal") && f.contains("left"))
        .unwrap_or_else(|| panic!("no left intraparenchymal haemorrhage in {:?}", ct.findings));
    let ml: f64 = line
        .split(", ")
        .nth(1)
        .unwrap()
        .trim_end_matches(" mL")
        .parse()
        .unwrap();
    assert!(
        (ml - t.requested_volume_ml).abs() < 0.3 * t.requested_volume_ml,
        "{line} vs the truth's {} mL",
        t.requested_volume_ml
    );
    // Energy booked to driving, X-ray and computing; the route there and back.
    let j = &r.summary.ledger.joules;
    for kind in ["Drive", "Xray", "Compute", "Idle"] {
        assert!(
            j.iter().any(|(k, v)| format!("{k:?}") == kind && *v > 0.0),
            "{kind} not booked: {j:?}"
        );
    }
    assert!(r.summary.route_m > 10.0);
    // The event log has every phase in order, and the mission is closed.
    let phases: Vec<Phase> = r
        .store
        .events(r.summary.mission)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "phase")
        .map(|e| e.phase)
        .collect();
    let expected = [
        Phase::OrderReceived,
        Phase::RoutePlanned,
        Phase::Driving,
        Phase::Arrived,
        Phase::PatientVerified,
        Phase::AwaitingConfirmation,
        Phase::Positioned,
        Phase::AwaitingConfirmation,
        Phase::Scanning,
        Phase::Reconstructing,
        Phase::Diagnosing,
        Phase::Reporting,
        Phase::Returning,
        Phase::Done,
    ];
    assert_eq!(phases, expected);
    assert!(r.store.open_missions().unwrap().is_empty());
    // Everyone near the bed was asked out before the beam came on, and was outside then.
    assert!(r.checks.beam_ticks > 0);
    assert!(r.world.room.people.iter().all(|p| p.asked_at_s.is_some()));
}

#[test]
fn a_stop_while_driving_halts_the_base_within_one_tick() {
    let r = run(&|w, _| w.type_at(20.0, "stop"), false, true);
    assert!(failure(&r).contains("stop"), "{:?}", r.summary.failure);
    assert_eq!(r.checks.stops_read_s.len(), 1);
    assert_safe(&r);
    assert_eq!(r.world.tube.delivered_mas(), 0.0);
}

#[test]
fn a_wristband_that_does_not_match_the_order_means_no_xray() {
    let r = run(
        &|w, _| w.wristband = Some(Phi::new("0815".into())),
        false,
        true,
    );
    assert!(
        failure(&r).contains("patient identity"),
        "{:?}",
        r.summary.failure
    );
    assert_eq!(r.world.tube.delivered_mas(), 0.0);
    assert_eq!(r.checks.beam_ticks, 0);
    assert_safe(&r);
    assert!(r.summary.said.iter().any(|s| s.contains("does not match")));
}

#[test]
fn releasing_the_exposure_switch_stops_the_beam_and_the_scan() {
    // Pressed once the room is clear (the people walk out in about 3 s), released 0.3 s
    // into the scan.
    let r = run(
        &|w, _| {
            w.operator.press_after_s = Some(6.0);
            w.operator.release_after_s = Some(0.3);
        },
        false,
        true,
    );
    assert!(
        failure(&r).contains("interrupted"),
        "{:?}",
        r.summary.failure
    );
    assert_safe(&r);
    // Some views were exposed (the switch was held for 0.3 s), then none.
    assert!(r.world.tube.delivered_mas() > 0.0);
    assert!(
        r.checks.beam_ticks <= 8,
        "{} beam ticks",
        r.checks.beam_ticks
    );
}

#[test]
fn a_switch_held_before_arming_exposes_only_after_it_is_pressed_again() {
    let r = run(&|w, _| w.operator.press_before_arming = true, false, true);
    assert_eq!(r.summary.failure, None);
    assert_safe(&r);
    // The hardware saw: held, released, held again; the beam came on only after the second
    // press.
    let h = &r.checks.switch_history;
    let presses: Vec<f64> = h
        .iter()
        .filter(|(_, held)| *held)
        .map(|(t, _)| *t)
        .collect();
    assert!(presses.len() >= 2, "{h:?}");
    assert!(r.checks.first_beam_s.unwrap() >= presses[1], "{h:?}");
}

#[test]
fn too_little_battery_for_the_way_back_refuses_to_leave_the_dock() {
    let r = run(
        &|w, _| {
            w.battery = roboct_mission::sim::SimBattery::new(roboct_mission::world::BATTERY_J, 0.11)
        },
        false,
        true,
    );
    assert!(
        failure(&r).to_lowercase().contains("battery"),
        "{:?}",
        r.summary.failure
    );
    assert_eq!(r.summary.route_m, 0.0);
    assert!(r.world.base.location() == r.world.base.location());
    assert_safe(&r);
}

#[test]
fn an_unknown_place_is_refused_before_anything_moves() {
    let r = run(&|_, o| o.place = "ward-9/bed-99".into(), false, true);
    assert!(
        failure(&r).contains("ward-9/bed-99"),
        "{:?}",
        r.summary.failure
    );
    assert_eq!(r.summary.route_m, 0.0);
    assert_safe(&r);
}

#[test]
fn with_the_pacs_down_everything_waits_in_the_outbox_and_is_delivered_later() {
    let r = run(&|_, _| {}, false, false);
    // The mission finishes: the images are safe in the outbox.
    assert_eq!(r.summary.failure, None, "{:?}", r.summary.failure);
    let ct = r.summary.ct.as_ref().unwrap();
    assert_eq!(ct.sent, 0);
    assert_eq!(ct.pending, ct.images + 2);
    // Later, with a PACS up, one delivery sends all of it.
    let dir = r._dir.path();
    let outbox = Outbox::open(dir.join("outbox")).unwrap();
    let mut scp = Scp::bind("127.0.0.1:0", ScpOptions::new("LATER", dir.join("later"))).unwrap();
    let options = AssociationOptions::new("ROBOCT").dimse_timeout(Duration::from_secs(5));
    let uids: Vec<String> = outbox
        .records("pacs")
        .unwrap()
        .into_iter()
        .map(|r| r.sop_instance_uid)
        .collect();
    let sender = roboct_dicom::send::DimseSender::new(
        scp.peer(),
        options,
        roboct_dicom::part10::EXPLICIT_VR_LE,
    );
    let d = roboct_dicom::upload::deliver(
        &outbox,
        "pacs",
        &uids,
        Box::new(sender),
        roboct_dicom::upload::UploadPolicy::default(),
        Some(std::time::Instant::now() + Duration::from_secs(60)),
        &roboct_core::NoProgress,
    )
    .unwrap();
    assert_eq!(d.upload.sent, ct.images + 2);
    scp.shutdown();
    assert_eq!(stored(&scp.events()), ct.images + 2);
}

mod random_sequences {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Each case is a whole mission (a scan when it gets that far): few cases, each a
        // different mix of what staff and patients do.
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

        /// Stops at any time, a switch held too early or let go mid-scan, a wrong wristband,
        /// a visitor who will not leave: whatever happens, the hardware never exposes
        /// unsafely, a stop is obeyed within a tick, and the robot ends safe.
        #[test]
        fn the_hardware_stays_safe_whatever_happens(
            stop_at_s in proptest::option::of(0.0f64..600.0),
            press_before_arming in any::<bool>(),
            release_after_s in proptest::option::of(0.05f64..2.0),
            wrong_wristband in proptest::bool::weighted(0.2),
            visitor_stays in proptest::bool::weighted(0.2),
        ) {
            let r = run(
                &move |w, _| {
                    if let Some(t) = stop_at_s {
                        w.type_at(t, "stop");
                    }
                    w.operator.press_before_arming = press_before_arming;
                    w.operator.release_after_s = release_after_s;
                    w.operator.press_after_s = Some(6.0);
                    if wrong_wristband {
                        w.wristband = Some(Phi::new("0815".into()));
                    }
                    if visitor_stays {
                        w.room.people[1].leaves_at_mps = 0.0;
                    }
                },
                false,
                true,
            );
            prop_assert!(r.checks.violations.is_empty(), "{:?}", r.checks.violations);
            prop_assert!(!r.world.tube.is_on() && !r.world.base.is_moving() && !r.world.gantry.is_moving());
            if wrong_wristband || visitor_stays {
                prop_assert_eq!(r.checks.beam_ticks, 0);
            }
            if r.summary.failure.is_none() {
                prop_assert!(r.summary.ct.is_some());
            }
        }
    }
}

#[test]
fn a_patient_the_gantry_cannot_reach_is_not_scanned_and_the_operator_is_told_what_to_do() {
    // The head lies 30 cm down the bed from where the bed's head end says.
    let r = run(&|w, _| w.pose.offset_mm = [0.0, 0.0, -300.0], false, true);
    let f = failure(&r);
    assert!(f.starts_with("positioning"), "{:?}", r.summary.failure);
    assert_eq!(
        r.summary.failure.as_ref().unwrap().1,
        roboct_core::Recovery::WaitForOperator
    );
    // The scout was taken; no scan was.
    assert_eq!(r.world.tube.delivered_mas(), 0.0);
    assert!(r.summary.ct.is_none());
    assert!(
        r.summary
            .said
            .iter()
            .any(|s| s.contains("I cannot plan the scan"))
    );
    assert_safe(&r);
}

/// A drive starts only through the rules: with a stop latched, or the gantry away from its
/// park, the base is not commanded at all; once the rules allow it, it moves.
#[test]
fn a_drive_starts_only_when_the_rules_allow_it() {
    use roboct_mission::interlock::{Denied, Interlocks};
    use roboct_safety::{Origin, Refusal, Request};
    let order = Order::demo();
    let (mut world, _) = demo_world(&order, 3, Vec::new()).unwrap();
    let (route, goal) = {
        let nav = world.navigator();
        (
            nav.route("dock", &order.place).unwrap(),
            nav.resolve(&order.place, "goal").unwrap(),
        )
    };
    let mut locks = Interlocks::new(2.0);
    locks.stop(&mut world, Origin::Voice);
    match locks.start_drive(&mut world, Origin::Operator, &route, &goal) {
        Err(Denied::Refused(r)) => assert_eq!(r.first(), Refusal::StopLatched, "{r}"),
        other => panic!("a drive started with a stop latched: {other:?}"),
    }
    assert!(!world.base().is_moving());
    locks
        .request(&mut world, Origin::Operator, Request::Reset, None)
        .unwrap();
    // The gantry off its park (moved by hand at the console, say).
    let mut away = world.gantry().limits().parked;
    away.travel_mm += 100.0;
    world.gantry().move_to(away).unwrap();
    match locks.start_drive(&mut world, Origin::Operator, &route, &goal) {
        Err(Denied::Refused(_)) => {}
        other => panic!("a drive started with the gantry out: {other:?}"),
    }
    assert!(!world.base().is_moving());
    let parked = world.gantry().limits().parked;
    world.gantry().move_to(parked).unwrap();
    for _ in 0..100 {
        world.advance(0.1);
        if world.gantry().is_parked() {
            break;
        }
    }
    locks
        .start_drive(&mut world, Origin::Operator, &route, &goal)
        .unwrap();
    assert!(world.base().is_moving());
}
