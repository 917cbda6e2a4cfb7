//! The dialogue manager against the simulated machine: slot filling, identity check,
//! readback, confirmation, timeouts, refusals, and "stop" in every state.

use proptest::prelude::*;
use roboct_core::units::{Mgy, Seconds};
use roboct_dialogue::command::{BodyPart, Destination, Protocol};
use roboct_dialogue::dialogue::{Action, Dialogue, DialogueConfig, Heard, Turn};
use roboct_dialogue::order::{DoseModel, TestOrder};
use roboct_dialogue::sim::SimMachine;

const BED: Destination = Destination::Ward {
    ward: 3,
    bed: Some(12),
};

/// A scanner's dose model for the tests: the fixed figures of a site's protocol book (the
/// scanner's own model is `roboct_mission::ScannerDoses`), no abdomen protocol.
struct Doses;

impl DoseModel for Doses {
    fn planned_ctdivol(&self, body_part: BodyPart, protocol: Protocol) -> Option<Mgy> {
        let standard = match body_part {
            BodyPart::Head => 50.0,
            BodyPart::Chest => 9.0,
            BodyPart::Abdomen => return None,
        };
        let factor = match protocol {
            Protocol::Standard => 1.0,
            Protocol::LowDose => 0.3,
            Protocol::SparseView => 0.25,
        };
        Some(Mgy(standard * factor))
    }
}

/// A scanner with no protocol at all.
struct NoProtocols;

impl DoseModel for NoProtocols {
    fn planned_ctdivol(&self, _: BodyPart, _: Protocol) -> Option<Mgy> {
        None
    }
}

struct Session {
    dialogue: Dialogue<TestOrder>,
    machine: SimMachine,
    now: f64,
}

impl Session {
    fn at(place: Destination) -> Self {
        Session {
            dialogue: Dialogue::new(
                Some(TestOrder::example()),
                DialogueConfig::default(),
                Box::new(Doses),
            ),
            machine: SimMachine::parked_at(place),
            now: 0.0,
        }
    }

    fn bedside() -> Self {
        Self::at(BED)
    }

    fn say(&mut self, text: &str) -> Turn {
        self.now += 2.0;
        let turn = self
            .dialogue
            .handle_text(text, &self.machine.world, Seconds(self.now));
        self.machine.apply(&turn.actions);
        turn
    }

    fn wait(&mut self, seconds: f64) -> Option<Turn> {
        self.now += seconds;
        let turn = self.dialogue.tick(&self.machine.world, Seconds(self.now));
        if let Some(t) = &turn {
            self.machine.apply(&t.actions);
        }
        turn
    }

    /// Up to the readback of a low-dose chest scan.
    fn until_readback(&mut self) -> Turn {
        self.say("scan the chest");
        self.say("low dose");
        self.say("patient number four seven one one")
    }
}

fn text(t: &Turn) -> String {
    t.reply.speak()
}

#[test]
fn the_whole_scan_dialogue_with_slot_filling_identity_readback_and_arming() {
    let mut s = Session::bedside();
    let t = s.say("scan");
    assert!(text(&t).contains("Which body part"), "{}", text(&t));
    assert_eq!(s.dialogue.state(), "asking");
    let t = s.say("the chest");
    assert!(text(&t).contains("Which protocol"), "{}", text(&t));
    let t = s.say("low dose please");
    assert!(text(&t).contains("patient ID"), "{}", text(&t));
    assert_eq!(s.dialogue.state(), "identity");
    let t = s.say("patient number four seven one one");
    let r = text(&t);
    // The readback names patient, ID, body part, protocol and dose, and asks for "confirm".
    for part in [
        "Erika Mustermann",
        "4 7 1 1",
        "chest",
        "low dose",
        "2.7 milligray",
        "Say confirm",
    ] {
        assert!(r.contains(part), "{part} missing in {r}");
    }
    assert!(t.actions.contains(&Action::PatientVerified));
    assert!(s.machine.world.interlocks.patient_verified);
    assert_eq!(s.dialogue.state(), "confirming");
    // Nothing is armed before "confirm".
    assert!(s.machine.armed.is_none());
    let t = s.say("confirm");
    assert!(matches!(t.actions.as_slice(), [Action::Arm(_)]), "{t:?}");
    assert!(
        text(&t).contains("Hold the exposure switch"),
        "{}",
        text(&t)
    );
    assert_eq!(s.dialogue.state(), "armed");
    // Voice armed the scan; only the held switch exposes, and releasing it stops the beam.
    assert!(!s.machine.world.interlocks.beam_on);
    assert!(s.machine.hold_exposure_switch(true));
    assert!(!s.machine.hold_exposure_switch(false));
}

#[test]
fn the_readback_keeps_the_patient_out_of_debug_output() {
    let mut s = Session::bedside();
    let t = s.until_readback();
    let debug = format!("{t:?}");
    assert!(
        !debug.contains("Mustermann") && !debug.contains("4 7 1 1"),
        "{debug}"
    );
    assert!(t.reply.redacted().contains("<redacted>"));
}

#[test]
fn scan_is_refused_while_driving() {
    let mut s = Session::at(Destination::Dock);
    let t = s.say("go to ward three bed twelve");
    assert!(t.actions.contains(&Action::DriveTo(BED)), "{t:?}");
    assert!(s.machine.world.interlocks.base_moving);
    let t = s.say("scan the chest");
    assert!(text(&t).contains("while driving"), "{}", text(&t));
    assert!(t.actions.is_empty());
    // After arriving, the same request is taken.
    s.machine.arrive();
    let t = s.say("scan the chest");
    assert!(text(&t).contains("Which protocol"), "{}", text(&t));
}

#[test]
fn scan_needs_the_patient_of_the_order() {
    let mut s = Session::at(Destination::Room(7));
    let t = s.say("scan the chest");
    assert!(
        text(&t).contains("ward 3, bed 12") && text(&t).contains("room 7"),
        "{}",
        text(&t)
    );
    let mut s = Session::bedside();
    let t = s.say("scan the head");
    assert!(text(&t).contains("order is for the chest"), "{}", text(&t));
    assert_eq!(s.dialogue.state(), "idle");
    let mut none: Dialogue<TestOrder> =
        Dialogue::new(None, DialogueConfig::default(), Box::new(Doses));
    let m = SimMachine::parked_at(BED);
    let t = none.handle_text("scan the chest", &m.world, Seconds(1.0));
    assert!(text(&t).contains("no scan order"), "{}", text(&t));
}

#[test]
fn a_wrong_patient_id_is_refused_without_revealing_the_right_one() {
    let mut s = Session::bedside();
    s.say("scan the chest low dose");
    for attempt in 1..=3 {
        let t = s.say("patient number one two three four");
        let r = text(&t);
        assert!(r.contains("does not match"), "{r}");
        assert!(!r.contains("4711") && !r.contains("4 7 1 1"), "{r}");
        assert!(!t.actions.contains(&Action::PatientVerified));
        if attempt < 3 {
            assert_eq!(s.dialogue.state(), "identity");
        }
    }
    assert_eq!(
        s.dialogue.state(),
        "idle",
        "three mismatches cancel the scan"
    );
    assert!(!s.machine.world.interlocks.patient_verified);
}

#[test]
fn confirm_arms_only_after_a_readback_and_before_the_timeout() {
    let mut s = Session::bedside();
    let t = s.say("confirm");
    assert!(text(&t).contains("nothing to confirm"), "{}", text(&t));
    assert!(t.actions.is_empty());

    s.until_readback();
    let t = s.wait(31.0).expect("the confirmation times out");
    assert!(text(&t).contains("timed out"), "{}", text(&t));
    let t = s.say("confirm");
    assert!(
        !t.actions.iter().any(|a| matches!(a, Action::Arm(_))),
        "{t:?}"
    );

    // A late "confirm" without a tick in between is refused too.
    let mut s = Session::bedside();
    s.until_readback();
    s.now += 40.0;
    let t = s.say("confirm");
    assert!(text(&t).contains("timed out"), "{}", text(&t));
    assert!(s.machine.armed.is_none());
}

#[test]
fn an_armed_scan_is_disarmed_when_not_exposed_in_time() {
    let mut s = Session::bedside();
    s.until_readback();
    s.say("confirm");
    assert!(s.machine.armed.is_some());
    assert!(s.wait(60.0).is_none());
    let t = s.wait(61.0).expect("disarmed");
    assert_eq!(t.actions, vec![Action::Disarm]);
    assert!(s.machine.armed.is_none());
}

#[test]
fn questions_time_out() {
    let mut s = Session::bedside();
    s.say("scan");
    let t = s.wait(61.0).expect("the question is dropped");
    assert!(text(&t).contains("stopped waiting"), "{}", text(&t));
    assert_eq!(s.dialogue.state(), "idle");
}

#[test]
fn not_understood_keeps_the_question_and_says_what_to_say() {
    let mut s = Session::bedside();
    s.until_readback();
    let t = s.say("blorp");
    assert!(matches!(t.heard, Heard::Nothing { .. }));
    assert!(text(&t).contains("Say confirm to start"), "{}", text(&t));
    assert_eq!(s.dialogue.state(), "confirming");
    let t = s.say("yes");
    assert!(t.actions.is_empty(), "yes is not confirm");
    let t = s.say("cancel");
    assert!(text(&t).contains("Cancelled"));
    assert_eq!(s.dialogue.state(), "idle");
}

/// Puts a session into each reachable state.
fn sessions_in_every_state() -> Vec<(&'static str, Session)> {
    let mut out = Vec::new();
    out.push(("idle", Session::bedside()));
    let mut s = Session::bedside();
    s.say("scan");
    out.push(("asking", s));
    let mut s = Session::bedside();
    s.say("scan the chest low dose");
    out.push(("identity", s));
    let mut s = Session::bedside();
    s.until_readback();
    out.push(("confirming", s));
    let mut s = Session::bedside();
    s.until_readback();
    s.say("confirm");
    out.push(("armed", s));
    let mut s = Session::bedside();
    s.until_readback();
    s.say("confirm");
    s.machine.hold_exposure_switch(true);
    out.push(("exposing", s));
    let mut s = Session::at(Destination::Dock);
    s.say("go to ward three bed twelve");
    out.push(("driving", s));
    let mut s = Session::at(Destination::Dock);
    s.say("go to ward three bed twelve");
    s.say("pause");
    out.push(("paused", s));
    let mut s = Session::bedside();
    s.say("stop");
    out.push(("stopped", s));
    out
}

#[test]
fn stop_is_obeyed_in_every_state_at_once_and_never_confirmed() {
    for (name, mut s) in sessions_in_every_state() {
        for phrase in ["stop", "STOP!", "emergency stop", "please stop now", "停"] {
            let t = s.say(phrase);
            assert_eq!(t.actions, vec![Action::EmergencyStop], "{name}: {phrase}");
            assert!(text(&t).starts_with("Stopped."), "{name}: {}", text(&t));
            assert!(
                !text(&t).contains("confirm"),
                "{name}: a stop is never asked to confirm"
            );
            let i = s.machine.world.interlocks;
            assert!(
                i.stop_latched && !i.beam_on && !i.base_moving,
                "{name}: {i:?}"
            );
            assert!(s.machine.armed.is_none(), "{name}");
            assert_eq!(s.dialogue.state(), "idle", "{name}");
        }
    }
}

#[test]
fn a_latched_stop_refuses_until_the_operator_resets_it() {
    let mut s = Session::at(Destination::Dock);
    s.say("go to ward three bed twelve");
    s.say("stop");
    for phrase in ["resume", "go to ward two", "scan the chest"] {
        let t = s.say(phrase);
        assert!(t.actions.is_empty(), "{phrase}: {t:?}");
        assert!(
            text(&t).contains("stop is latched"),
            "{phrase}: {}",
            text(&t)
        );
    }
    assert!(s.machine.operator_reset());
    let t = s.say("resume");
    assert_eq!(t.actions, vec![Action::Resume], "{t:?}");
    assert!(s.machine.world.interlocks.base_moving);
}

#[test]
fn driving_parks_the_gantry_first_and_is_refused_with_the_beam_on() {
    let mut s = Session::bedside();
    s.until_readback();
    s.say("confirm");
    s.machine.hold_exposure_switch(true);
    assert!(s.machine.world.interlocks.beam_on);
    let t = s.say("cancel");
    assert_eq!(t.actions, vec![Action::Disarm]);
    // The switch is still held, but the confirmation is gone: the watchdog cut the beam.
    assert!(!s.machine.world.interlocks.beam_on);
    assert!(!s.machine.world.interlocks.gantry_parked);
    s.machine.hold_exposure_switch(false);
    let t = s.say("go to ward four");
    assert_eq!(
        t.actions,
        vec![
            Action::ParkGantry,
            Action::DriveTo(Destination::Ward { ward: 4, bed: None })
        ]
    );
    assert!(s.machine.world.interlocks.base_moving && s.machine.world.interlocks.gantry_parked);

    // With the beam on, the drive is refused with the reason.
    let mut s = Session::bedside();
    s.until_readback();
    s.say("confirm");
    s.machine.hold_exposure_switch(true);
    let t = s.say("go to ward four");
    assert!(t.actions.is_empty());
    assert!(
        text(&t).contains("waiting here") || text(&t).contains("beam is on"),
        "{}",
        text(&t)
    );
}

#[test]
fn status_repeat_help_upload_and_pause() {
    let mut s = Session::at(Destination::Dock);
    assert!(text(&s.say("where are you")).contains("at the dock"));
    assert!(text(&s.say("battery")).contains("87 percent"));
    assert!(text(&s.say("how long")).contains("No task"));
    let t = s.say("go to room 12");
    assert!(text(&t).contains("Going to room 12"));
    assert!(text(&s.say("where are you")).contains("driving to room 12"));
    assert!(text(&s.say("how long")).contains("90 seconds"));
    assert!(text(&s.say("status")).contains("battery"));
    let last = text(&s.say("what's the battery"));
    assert_eq!(text(&s.say("repeat")), last);
    assert!(text(&s.say("help")).contains("stop"));
    let t = s.say("pause");
    assert_eq!(t.actions, vec![Action::Pause]);
    assert!(text(&s.say("where are you")).contains("paused"));
    let t = s.say("resume");
    assert_eq!(t.actions, vec![Action::Resume]);
    let t = s.say("upload the results");
    assert!(text(&t).contains("no results"), "{}", text(&t));
    s.machine.world.results_pending = 2;
    let t = s.say("upload the results");
    assert_eq!(t.actions, vec![Action::Upload]);
}

#[test]
fn chinese_text_drives_the_same_dialogue() {
    let mut s = Session::bedside();
    s.say("扫描胸部");
    s.say("低剂量");
    let t = s.say("病人编号四七一一");
    assert!(text(&t).contains("Say confirm"), "{}", text(&t));
    let t = s.say("确认");
    assert!(matches!(t.actions.as_slice(), [Action::Arm(_)]));
}

fn phrase_pool() -> Vec<&'static str> {
    vec![
        "scan",
        "scan the chest",
        "scan the head",
        "chest",
        "low dose",
        "standard",
        "sparse view",
        "patient number four seven one one",
        "patient number one two three",
        "confirm",
        "cancel",
        "pause",
        "resume",
        "go to ward three bed twelve",
        "go to ward four",
        "return to the dock",
        "where are you",
        "battery",
        "how long",
        "status",
        "upload the results",
        "repeat",
        "help",
        "yes",
        "ok go ahead",
        "start",
        "blorp",
        "",
        "confirm please",
        "don't confirm",
        "stop",
        "stop the scan",
        "emergency stop",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    /// Whatever is said, in whatever order, with the operator pressing and releasing the
    /// exposure switch at random: voice never turns the beam on, a scan is armed only by
    /// "confirm" right after a readback, the beam is on only while the switch is held on an
    /// armed scan of a verified patient with the base at rest, and "stop" cuts it at once.
    #[test]
    fn voice_alone_never_exposes_and_only_confirm_arms(
        steps in proptest::collection::vec(
            (
                // The scan's own words more often, so that many sequences arm a scan and the
                // switch then meets an armed machine.
                prop_oneof![
                    3 => proptest::sample::select(vec!["scan the chest", "patient number four seven one one", "confirm"]),
                    2 => proptest::sample::select(phrase_pool()),
                ],
                0.0f64..40.0,
                any::<bool>(),
                0u8..4,
            ),
            0..30,
        )
    ) {
        let mut s = Session::bedside();
        for (phrase, wait, arrive, switch) in steps {
            if arrive {
                s.machine.arrive();
            }
            s.wait(wait);
            // The operator's hand: 0 presses, 1 releases, otherwise leaves the switch be.
            let beam_before = s.machine.world.interlocks.beam_on;
            match switch {
                0 => {
                    let on = s.machine.hold_exposure_switch(true);
                    let i = s.machine.world.interlocks;
                    if on {
                        prop_assert!(s.machine.armed.is_some() && i.patient_verified && i.confirmed);
                        prop_assert!(!i.base_moving && !i.stop_latched);
                    }
                }
                1 => {
                    prop_assert!(!s.machine.hold_exposure_switch(false), "releasing the switch stops the beam");
                }
                _ => {}
            }
            let i = s.machine.world.interlocks;
            prop_assert!(!i.beam_on || i.exposure_switch_held, "beam on without the switch: {i:?}");
            prop_assert!(!i.beam_on || beam_before || switch == 0, "beam came on without a press");
            let was_on = s.machine.world.interlocks.beam_on;
            let before = s.dialogue.state();
            let t = s.say(phrase);
            let i = s.machine.world.interlocks;
            prop_assert!(!i.beam_on || was_on, "voice turned the beam on: {phrase:?}");
            if t.actions.iter().any(|a| matches!(a, Action::EmergencyStop)) {
                prop_assert!(!i.beam_on && !i.base_moving && i.stop_latched, "{phrase:?}: {i:?}");
            }
            if t.actions.iter().any(|a| matches!(a, Action::Arm(_))) {
                prop_assert_eq!(before, "confirming");
                prop_assert!(matches!(t.heard, Heard::Command(roboct_dialogue::command::Command::Confirm)));
                prop_assert!(i.patient_verified);
            }
            prop_assert!(i.is_safe());
        }
    }
}

#[test]
fn a_protocol_the_scanner_lacks_is_refused_before_any_readback() {
    let mut s = Session::bedside();
    s.dialogue = Dialogue::new(
        Some(TestOrder::example()),
        DialogueConfig::default(),
        Box::new(NoProtocols),
    );
    let t = s.say("scan the chest low dose");
    assert!(
        text(&t).contains("no low dose protocol for the chest"),
        "{}",
        text(&t)
    );
    assert_eq!(s.dialogue.state(), "idle");
    assert!(t.actions.is_empty(), "{:?}", t.actions);
    let t = s.say("confirm");
    assert!(
        !t.actions.iter().any(|a| matches!(a, Action::Arm(_))),
        "{:?}",
        t.actions
    );
}
