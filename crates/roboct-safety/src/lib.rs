//! The scanner's interlocks: when X-ray and motion are allowed, and what "stop" does.
//!
//! This crate is deliberately tiny and pure (no I/O, no clock, no allocation beyond the list
//! of reasons) so that every caller (the dialogue, the mission, the server) asks the same
//! rules and every rule can be tested over every combination of the machine's state.
//!
//! The machine is described by a [`State`] of twelve flags. A caller asks [`check`] whether a
//! [`Request`] from an [`Origin`] may be granted; [`apply`] also returns the state after it.
//! Sensors report through [`sense`] (the exposure switch pressed or released, the room
//! cleared...). [`enforce`] is the continuous watchdog: given any state (for example right
//! after a sensor changed: the exposure switch was released, the base started rolling), it
//! returns the state with the beam and the motion cut wherever a rule no longer holds. It only
//! ever turns things off. [`check_departure`] is the battery rule for leaving on a drive.
//!
//! # The rules
//!
//! | rule | statement | covered by |
//! | --- | --- | --- |
//! | R1 | X-ray (`Expose`) only when: the base and every gantry axis are still, the gantry is out of its parked position, the patient is verified against the order, an explicit confirmation was given, the exposure switch is held, and no stop is latched | `tests::r1_expose_exactly_when_every_condition_holds` |
//! | R2 | Voice may prepare and arm a scan, never expose: `Expose` from [`Origin::Voice`] is always refused | `tests::r2_voice_never_exposes`, `tests::prop_voice_alone_never_turns_the_beam_on` |
//! | R3 | `Stop` is granted in every state, cuts motion and beam at once, drops the confirmation and latches | `tests::r3_stop_is_always_granted_and_latches` |
//! | R4 | While the stop is latched, everything but `Stop` and `Pause` is refused; only an operator's explicit `Reset` clears it, never voice | `tests::r4_latch_refuses_everything_until_an_operator_reset` |
//! | R5 | Base motion (`Drive`) is refused while the beam is on, the gantry is not parked, or a stop is latched; driving away drops the identity check and the confirmation | `tests::r5_drive_exactly_when_beam_off_gantry_parked_and_unlatched` |
//! | R6 | Gantry moves (`PositionGantry`, `ParkGantry`) are refused while the base moves, the beam is on or a stop is latched | `tests::r6_gantry_moves_exactly_when_still_beam_off_and_unlatched` |
//! | R7 | Arming (`Arm`, the recorded confirmation) needs a verified patient, a still base, the beam off and no latched stop | `tests::r7_arm_needs_verified_patient_still_base_no_latch` |
//! | R8 | [`enforce`] cuts the beam the moment any R1 condition fails (releasing the switch stops the beam) and stops the base the moment any R5 condition fails; it never turns anything on | `tests::r8_enforce_makes_every_state_safe_and_only_turns_off`, `tests::prop_random_sequences_keep_the_invariants` |
//! | R9 | The exposure switch counts only when pressed after the scan was armed: a switch already held when the scan is armed (or a confirmation given while it is held) does not expose until it is released and pressed again | `tests::r9_a_switch_held_before_arming_does_not_expose` |
//! | R10 | When the planned dose exceeds the notification value (NEMA XR-25: e.g. CTDIvol 80 mGy for an adult head), X-ray also needs a second, explicit acknowledgement of that dose after the confirmation | `tests::r10_a_dose_over_the_notification_value_needs_a_second_confirmation` |
//! | R11 | X-ray only when the room sensor reports nobody but the patient within the exposure radius | `tests::r11_nobody_in_the_exposure_radius` |
//! | R12 | No departure on a drive without the energy for the route there and back plus a reserve ([`check_departure`]) | `tests::r12_no_departure_without_the_energy_to_come_back` |
//!
//! A granted request never produces an unsafe state: `tests::granted_requests_keep_safe_states_safe`.

#![forbid(unsafe_code)]

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the interlocks know about the machine: twelve flags, set by the machine's sensors
/// ([`sense`]) and by granted [`Request`]s.
///
/// The default is the rest state: everything still, gantry parked, beam off, no patient
/// verified, nothing confirmed, switch released, no stop latched, no dose notification, and
/// the room not known to be clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct State {
    /// The drive base is moving.
    pub base_moving: bool,
    /// The gantry is in its parked (transport) position.
    pub gantry_parked: bool,
    /// The X-ray beam is on.
    pub beam_on: bool,
    /// The patient in the gantry was checked against the order (wristband ID or spoken ID).
    pub patient_verified: bool,
    /// An explicit confirmation of the current scan plan was given (the scan is armed).
    pub confirmed: bool,
    /// The operator holds the exposure switch (dead-man switch: releasing it stops the beam).
    pub exposure_switch_held: bool,
    /// A stop was given and not yet reset.
    pub stop_latched: bool,
    /// The exposure switch was pressed after the scan was armed (R9).
    pub switch_pressed_after_arm: bool,
    /// The planned dose exceeds the notification value (R10).
    pub dose_notification: bool,
    /// The planned dose over the notification value was acknowledged (R10).
    pub dose_acknowledged: bool,
    /// Nobody but the patient is within the exposure radius (R11).
    pub room_clear: bool,
    /// A gantry axis is moving.
    pub gantry_moving: bool,
}

impl State {
    /// The rest state (see [`State`]).
    pub const REST: State = State {
        base_moving: false,
        gantry_parked: true,
        beam_on: false,
        patient_verified: false,
        confirmed: false,
        exposure_switch_held: false,
        stop_latched: false,
        switch_pressed_after_arm: false,
        dose_notification: false,
        dose_acknowledged: false,
        room_clear: false,
        gantry_moving: false,
    };

    /// Every one of the 4096 states, for exhaustive tests here and in the callers.
    pub fn all() -> impl Iterator<Item = State> {
        (0u16..4096).map(|bits| State {
            base_moving: bits & 1 != 0,
            gantry_parked: bits & 2 != 0,
            beam_on: bits & 4 != 0,
            patient_verified: bits & 8 != 0,
            confirmed: bits & 16 != 0,
            exposure_switch_held: bits & 32 != 0,
            stop_latched: bits & 64 != 0,
            switch_pressed_after_arm: bits & 128 != 0,
            dose_notification: bits & 256 != 0,
            dose_acknowledged: bits & 512 != 0,
            room_clear: bits & 1024 != 0,
            gantry_moving: bits & 2048 != 0,
        })
    }

    /// Whether the state breaks none of the rules (no beam or motion where R1/R5 forbid it).
    pub fn is_safe(&self) -> bool {
        let beam_ok = !self.beam_on || beam_conditions(self, Origin::Operator).is_empty();
        let motion_ok = !self.base_moving || drive_conditions(self).is_empty();
        beam_ok && motion_ok
    }
}

impl Default for State {
    fn default() -> Self {
        State::REST
    }
}

/// Who asks. The distinction matters because speech and typed dialogue can be misheard or
/// mistyped, while an operator action is deliberate and physical.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The dialogue: spoken or typed commands.
    Voice,
    /// A deliberate operator action: the held exposure switch, a console or dashboard button.
    Operator,
}

/// What a caller wants the machine to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Start driving the base.
    Drive,
    /// Move the gantry out of its parked position onto the patient.
    PositionGantry,
    /// Move the gantry back into its parked position.
    ParkGantry,
    /// Record the explicit confirmation of the scan plan (arm the scan).
    Arm,
    /// Turn the X-ray beam on.
    Expose,
    /// Halt motion and beam without latching (a pause).
    Pause,
    /// Emergency stop: halt motion and beam at once and latch.
    Stop,
    /// Clear a latched stop.
    Reset,
    /// Acknowledge a planned dose over the notification value (the second confirmation).
    AcknowledgeDose,
}

impl Request {
    /// Every request, for exhaustive tests.
    pub const ALL: [Request; 9] = [
        Request::Drive,
        Request::PositionGantry,
        Request::ParkGantry,
        Request::Arm,
        Request::Expose,
        Request::Pause,
        Request::Stop,
        Request::Reset,
        Request::AcknowledgeDose,
    ];
}

/// What a sensor reports, on its own (not a request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensed {
    /// The operator pressed the exposure switch.
    SwitchPressed,
    /// The operator released the exposure switch.
    SwitchReleased,
    /// The room sensor: whether nobody but the patient is within the exposure radius.
    RoomClear(bool),
    /// The planned dose exceeds (or no longer exceeds) the notification value.
    DoseNotification(bool),
    /// The patient was (or is no longer) verified against the order.
    PatientVerified(bool),
    /// The base's wheels turn (or stopped).
    BaseMoving(bool),
    /// The gantry reached (or left) its parked position.
    GantryParked(bool),
    /// A gantry axis moves (or they all stopped).
    GantryMoving(bool),
}

/// Why a request was refused. The `Display` text is a short sentence fit to be spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// A stop is latched.
    StopLatched,
    /// Voice may not turn the beam on (R2).
    VoiceCannotExpose,
    /// Voice may not clear a latched stop (R4).
    VoiceCannotReset,
    /// The base is moving.
    BaseMoving,
    /// A gantry axis is moving.
    GantryMoving,
    /// The beam is on.
    BeamOn,
    /// The gantry is not in its parked position.
    GantryNotParked,
    /// The gantry is still parked, so there is nothing to scan.
    GantryParked,
    /// The patient was not verified against the order.
    PatientNotVerified,
    /// No explicit confirmation was given.
    NotConfirmed,
    /// The exposure switch is not held.
    SwitchNotHeld,
    /// The exposure switch was held before the scan was armed (R9).
    SwitchNotPressedAfterArming,
    /// The planned dose is over the notification value and was not acknowledged (R10).
    DoseNotAcknowledged,
    /// Someone is within the exposure radius (R11).
    PeopleInRoom,
    /// Nothing to acknowledge: the scan is not confirmed yet.
    NothingToAcknowledge,
    /// Too little energy for the route there and back (R12).
    BatteryLow,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::StopLatched => "the stop is latched; reset it at the console first",
            Refusal::VoiceCannotExpose => {
                "voice cannot start the X-ray; hold the exposure switch to expose"
            }
            Refusal::VoiceCannotReset => "voice cannot reset a stop; reset it at the console",
            Refusal::BaseMoving => "the base is moving",
            Refusal::GantryMoving => "the gantry is moving",
            Refusal::BeamOn => "the X-ray beam is on",
            Refusal::GantryNotParked => "the gantry is not parked",
            Refusal::GantryParked => "the gantry is parked, not on the patient",
            Refusal::PatientNotVerified => "the patient is not verified against the order",
            Refusal::NotConfirmed => "the scan is not confirmed",
            Refusal::SwitchNotHeld => "the exposure switch is not held",
            Refusal::SwitchNotPressedAfterArming => {
                "the exposure switch was held before the scan was armed; release it and press it again"
            }
            Refusal::DoseNotAcknowledged => {
                "the planned dose is over the notification value; confirm the dose a second time"
            }
            Refusal::PeopleInRoom => "someone is within the exposure radius; ask them to step out",
            Refusal::NothingToAcknowledge => "there is no confirmed scan to acknowledge",
            Refusal::BatteryLow => {
                "the battery has too little energy for the route there and back; charge it first"
            }
        })
    }
}

/// The reasons a request was refused, most important first (never empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(Vec<Refusal>);

impl Refused {
    /// The most important reason.
    pub fn first(&self) -> Refusal {
        self.0[0]
    }

    /// Every reason, most important first.
    pub fn reasons(&self) -> &[Refusal] {
        &self.0
    }

    /// Whether `r` is among the reasons.
    pub fn contains(&self, r: Refusal) -> bool {
        self.0.contains(&r)
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

/// The R1 conditions that fail in `s` for a beam asked by `origin` (empty: the beam may be on).
fn beam_conditions(s: &State, origin: Origin) -> Vec<Refusal> {
    let mut out = Vec::new();
    if s.stop_latched {
        out.push(Refusal::StopLatched);
    }
    if origin == Origin::Voice {
        out.push(Refusal::VoiceCannotExpose);
    }
    if s.base_moving {
        out.push(Refusal::BaseMoving);
    }
    if s.gantry_moving {
        out.push(Refusal::GantryMoving);
    }
    if s.gantry_parked {
        out.push(Refusal::GantryParked);
    }
    if !s.patient_verified {
        out.push(Refusal::PatientNotVerified);
    }
    if !s.confirmed {
        out.push(Refusal::NotConfirmed);
    }
    if !s.exposure_switch_held {
        out.push(Refusal::SwitchNotHeld);
    } else if !s.switch_pressed_after_arm {
        out.push(Refusal::SwitchNotPressedAfterArming);
    }
    if s.dose_notification && !s.dose_acknowledged {
        out.push(Refusal::DoseNotAcknowledged);
    }
    if !s.room_clear {
        out.push(Refusal::PeopleInRoom);
    }
    out
}

/// The R5 conditions that fail in `s` (empty: the base may move).
fn drive_conditions(s: &State) -> Vec<Refusal> {
    let mut out = Vec::new();
    if s.stop_latched {
        out.push(Refusal::StopLatched);
    }
    if s.beam_on {
        out.push(Refusal::BeamOn);
    }
    if !s.gantry_parked {
        out.push(Refusal::GantryNotParked);
    }
    if s.gantry_moving {
        out.push(Refusal::GantryMoving);
    }
    out
}

/// Whether `request` from `origin` may be granted in state `s`, and if not, why.
pub fn check(s: &State, origin: Origin, request: Request) -> Result<(), Refused> {
    let reasons = match request {
        Request::Stop | Request::Pause => Vec::new(),
        Request::Reset => {
            if origin == Origin::Voice {
                vec![Refusal::VoiceCannotReset]
            } else {
                Vec::new()
            }
        }
        Request::Expose => beam_conditions(s, origin),
        Request::Drive => drive_conditions(s),
        Request::PositionGantry | Request::ParkGantry => {
            let mut out = Vec::new();
            if s.stop_latched {
                out.push(Refusal::StopLatched);
            }
            if s.base_moving {
                out.push(Refusal::BaseMoving);
            }
            if s.beam_on {
                out.push(Refusal::BeamOn);
            }
            out
        }
        Request::Arm => {
            let mut out = Vec::new();
            if s.stop_latched {
                out.push(Refusal::StopLatched);
            }
            if s.base_moving {
                out.push(Refusal::BaseMoving);
            }
            if !s.patient_verified {
                out.push(Refusal::PatientNotVerified);
            }
            // A plan is confirmed before the beam, not during it.
            if s.beam_on {
                out.push(Refusal::BeamOn);
            }
            out
        }
        Request::AcknowledgeDose => {
            let mut out = Vec::new();
            if s.stop_latched {
                out.push(Refusal::StopLatched);
            }
            if !s.confirmed {
                out.push(Refusal::NothingToAcknowledge);
            }
            out
        }
    };
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Refused(reasons))
    }
}

/// [`check`]s the request and, when granted, returns the state right after it.
///
/// Effects: `Drive` sets the base moving and drops the identity check and the confirmation
/// (they hold for one stay at one bed); `PositionGantry`/`ParkGantry` set the gantry
/// position; `Arm` records the confirmation and starts R9 and R10 afresh (the switch must be
/// pressed again, a dose over the notification value acknowledged again); `Expose` turns the
/// beam on; `Pause` halts base and beam; `Stop` halts base and beam, drops the confirmation and
/// latches; `Reset` clears the latch (the confirmation stays dropped, so X-ray needs a new
/// one); `AcknowledgeDose` records the second confirmation.
pub fn apply(s: &State, origin: Origin, request: Request) -> Result<State, Refused> {
    check(s, origin, request)?;
    let mut n = *s;
    match request {
        Request::Drive => {
            n.base_moving = true;
            n.patient_verified = false;
            n.confirmed = false;
            n.switch_pressed_after_arm = false;
            n.dose_acknowledged = false;
        }
        Request::PositionGantry => n.gantry_parked = false,
        Request::ParkGantry => n.gantry_parked = true,
        Request::Arm => {
            n.confirmed = true;
            n.switch_pressed_after_arm = false;
            n.dose_acknowledged = false;
        }
        Request::AcknowledgeDose => n.dose_acknowledged = true,
        Request::Expose => n.beam_on = true,
        Request::Pause => {
            n.base_moving = false;
            n.gantry_moving = false;
            n.beam_on = false;
        }
        Request::Stop => {
            n.base_moving = false;
            n.gantry_moving = false;
            n.beam_on = false;
            n.confirmed = false;
            n.switch_pressed_after_arm = false;
            n.dose_acknowledged = false;
            n.stop_latched = true;
        }
        Request::Reset => n.stop_latched = false,
    }
    Ok(n)
}

/// A sensor's report: the state it leaves (not yet enforced: call [`enforce`] after it).
///
/// A press of the exposure switch counts for R9 only when the scan is armed at that moment;
/// a release forgets it. A change of the dose notification drops its acknowledgement.
pub fn sense(s: &State, e: Sensed) -> State {
    let mut n = *s;
    match e {
        Sensed::SwitchPressed => {
            if !s.exposure_switch_held {
                n.switch_pressed_after_arm = s.confirmed;
            }
            n.exposure_switch_held = true;
        }
        Sensed::SwitchReleased => {
            n.exposure_switch_held = false;
            n.switch_pressed_after_arm = false;
        }
        Sensed::RoomClear(clear) => n.room_clear = clear,
        Sensed::DoseNotification(over) => {
            if over != s.dose_notification {
                n.dose_acknowledged = false;
            }
            n.dose_notification = over;
        }
        Sensed::PatientVerified(v) => {
            n.patient_verified = v;
            if !v {
                n.confirmed = false;
                n.switch_pressed_after_arm = false;
            }
        }
        Sensed::BaseMoving(m) => n.base_moving = m,
        Sensed::GantryParked(p) => n.gantry_parked = p,
        Sensed::GantryMoving(m) => n.gantry_moving = m,
    }
    n
}

/// R12: whether a drive may start: the battery's `available_j` must cover `round_trip_j` (the
/// route there and back, by the planner's estimate) plus `reserve_j`.
pub fn check_departure(round_trip_j: f64, available_j: f64, reserve_j: f64) -> Result<(), Refused> {
    let enough = round_trip_j.is_finite()
        && available_j.is_finite()
        && reserve_j.is_finite()
        && available_j >= round_trip_j + reserve_j;
    if enough {
        Ok(())
    } else {
        Err(Refused(vec![Refusal::BatteryLow]))
    }
}

/// The watchdog: `s` with the beam cut if any R1 condition fails for it, and the base stopped
/// if any R5 condition fails. It only turns things off; a safe state comes back unchanged.
///
/// The beam is judged first, so that a state with both beam and motion on keeps neither:
/// motion is then judged on the state with the beam already off.
pub fn enforce(s: &State) -> State {
    let mut n = *s;
    if n.beam_on && !beam_conditions(&n, Origin::Operator).is_empty() {
        n.beam_on = false;
    }
    if n.base_moving && !drive_conditions(&n).is_empty() {
        n.base_moving = false;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ORIGINS: [Origin; 2] = [Origin::Voice, Origin::Operator];

    #[test]
    fn all_enumerates_4096_distinct_states() {
        let states: std::collections::HashSet<State> = State::all().collect();
        assert_eq!(states.len(), 4096);
        assert!(states.contains(&State::REST));
        assert!(State::REST.is_safe());
    }

    #[test]
    fn r1_expose_exactly_when_every_condition_holds() {
        for s in State::all() {
            let ok = check(&s, Origin::Operator, Request::Expose).is_ok();
            let expected = !s.base_moving
                && !s.gantry_moving
                && !s.gantry_parked
                && s.patient_verified
                && s.confirmed
                && s.exposure_switch_held
                && s.switch_pressed_after_arm
                && (!s.dose_notification || s.dose_acknowledged)
                && s.room_clear
                && !s.stop_latched;
            assert_eq!(ok, expected, "{s:?}");
            if let Err(r) = check(&s, Origin::Operator, Request::Expose) {
                assert_eq!(r.contains(Refusal::BaseMoving), s.base_moving);
                assert_eq!(r.contains(Refusal::GantryParked), s.gantry_parked);
                assert_eq!(r.contains(Refusal::PatientNotVerified), !s.patient_verified);
                assert_eq!(r.contains(Refusal::NotConfirmed), !s.confirmed);
                assert_eq!(r.contains(Refusal::SwitchNotHeld), !s.exposure_switch_held);
                assert_eq!(r.contains(Refusal::StopLatched), s.stop_latched);
            }
        }
    }

    #[test]
    fn r2_voice_never_exposes() {
        for s in State::all() {
            let r = check(&s, Origin::Voice, Request::Expose).unwrap_err();
            assert!(r.contains(Refusal::VoiceCannotExpose), "{s:?}");
        }
    }

    #[test]
    fn r3_stop_is_always_granted_and_latches() {
        for s in State::all() {
            for o in ORIGINS {
                let n = apply(&s, o, Request::Stop).unwrap();
                assert!(
                    !n.base_moving
                        && !n.gantry_moving
                        && !n.beam_on
                        && !n.confirmed
                        && n.stop_latched
                );
                assert!(n.is_safe());
                // Nothing else about the machine is changed by a stop.
                assert_eq!(n.gantry_parked, s.gantry_parked);
                assert_eq!(n.patient_verified, s.patient_verified);
                assert_eq!(n.exposure_switch_held, s.exposure_switch_held);
            }
        }
    }

    #[test]
    fn r4_latch_refuses_everything_until_an_operator_reset() {
        for s in State::all().filter(|s| s.stop_latched) {
            for o in ORIGINS {
                for r in Request::ALL {
                    let res = check(&s, o, r);
                    match r {
                        Request::Stop | Request::Pause => assert!(res.is_ok()),
                        Request::Reset => assert_eq!(res.is_ok(), o == Origin::Operator),
                        _ => {
                            let e = res.unwrap_err();
                            assert_eq!(e.first(), Refusal::StopLatched, "{r:?} {s:?}");
                        }
                    }
                }
            }
            let n = apply(&s, Origin::Operator, Request::Reset).unwrap();
            assert!(!n.stop_latched);
            assert_eq!(
                apply(&s, Origin::Voice, Request::Reset)
                    .unwrap_err()
                    .first(),
                Refusal::VoiceCannotReset
            );
        }
    }

    #[test]
    fn r5_drive_exactly_when_beam_off_gantry_parked_and_unlatched() {
        for s in State::all() {
            for o in ORIGINS {
                let res = apply(&s, o, Request::Drive);
                let expected = !s.beam_on && s.gantry_parked && !s.gantry_moving && !s.stop_latched;
                assert_eq!(res.is_ok(), expected, "{s:?}");
                if let Ok(n) = res {
                    assert!(n.base_moving && !n.patient_verified && !n.confirmed);
                }
            }
        }
    }

    #[test]
    fn r6_gantry_moves_exactly_when_still_beam_off_and_unlatched() {
        for s in State::all() {
            for o in ORIGINS {
                for r in [Request::PositionGantry, Request::ParkGantry] {
                    let res = apply(&s, o, r);
                    let expected = !s.base_moving && !s.beam_on && !s.stop_latched;
                    assert_eq!(res.is_ok(), expected, "{r:?} {s:?}");
                    if let Ok(n) = res {
                        assert_eq!(n.gantry_parked, r == Request::ParkGantry);
                    }
                }
            }
        }
    }

    #[test]
    fn r7_arm_needs_verified_patient_still_base_no_latch() {
        for s in State::all() {
            for o in ORIGINS {
                let res = apply(&s, o, Request::Arm);
                let expected =
                    s.patient_verified && !s.base_moving && !s.stop_latched && !s.beam_on;
                assert_eq!(res.is_ok(), expected, "{s:?}");
                if let Ok(n) = res {
                    assert!(n.confirmed);
                    assert_eq!(n.beam_on, s.beam_on, "arming never touches the beam");
                }
            }
        }
    }

    #[test]
    fn r8_enforce_makes_every_state_safe_and_only_turns_off() {
        for s in State::all() {
            let n = enforce(&s);
            assert!(n.is_safe(), "{s:?} -> {n:?}");
            assert_eq!(enforce(&n), n, "idempotent");
            assert!(!n.beam_on || s.beam_on);
            assert!(!n.base_moving || s.base_moving);
            let mut others = n;
            others.beam_on = s.beam_on;
            others.base_moving = s.base_moving;
            assert_eq!(others, s, "only beam and base are touched");
            if s.is_safe() {
                assert_eq!(n, s);
            }
        }
        // The dead-man switch: releasing it cuts the beam.
        let exposing = State {
            gantry_parked: false,
            beam_on: true,
            patient_verified: true,
            confirmed: true,
            exposure_switch_held: true,
            switch_pressed_after_arm: true,
            room_clear: true,
            ..State::REST
        };
        assert!(exposing.is_safe());
        let released = State {
            exposure_switch_held: false,
            ..exposing
        };
        assert!(!enforce(&released).beam_on);
    }

    #[test]
    fn granted_requests_keep_safe_states_safe() {
        for s in State::all().filter(State::is_safe) {
            for o in ORIGINS {
                for r in Request::ALL {
                    if let Ok(n) = apply(&s, o, r) {
                        assert!(n.is_safe(), "{s:?} {o:?} {r:?} -> {n:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn refusals_read_as_sentences() {
        let s = State {
            base_moving: true,
            stop_latched: true,
            ..State::REST
        };
        let e = check(&s, Origin::Voice, Request::Expose).unwrap_err();
        assert_eq!(e.first(), Refusal::StopLatched);
        let text = e.to_string();
        assert!(text.contains("stop is latched") && text.contains("base is moving"));
    }

    /// A scan ready to expose but for the switch: verified, armed, gantry out, room clear.
    fn ready() -> State {
        let s = State {
            gantry_parked: false,
            patient_verified: true,
            room_clear: true,
            ..State::REST
        };
        apply(&s, Origin::Voice, Request::Arm).unwrap()
    }

    #[test]
    fn r9_a_switch_held_before_arming_does_not_expose() {
        // Held first, then armed: no exposure until released and pressed again.
        let held = sense(
            &State {
                confirmed: false,
                ..ready()
            },
            Sensed::SwitchPressed,
        );
        let armed = apply(&held, Origin::Voice, Request::Arm).unwrap();
        let e = check(&armed, Origin::Operator, Request::Expose).unwrap_err();
        assert_eq!(e.reasons(), &[Refusal::SwitchNotPressedAfterArming]);
        let again = sense(
            &sense(&armed, Sensed::SwitchReleased),
            Sensed::SwitchPressed,
        );
        assert!(check(&again, Origin::Operator, Request::Expose).is_ok());
        // A held switch that is pressed again (no release) does not count twice.
        assert_eq!(sense(&armed, Sensed::SwitchPressed), armed);
        // Re-arming while exposing-ready forgets the press.
        let rearmed = apply(&again, Origin::Operator, Request::Arm).unwrap();
        assert!(check(&rearmed, Origin::Operator, Request::Expose).is_err());
        // Every state: a press counts only if armed at that moment.
        for s in State::all().filter(|s| !s.exposure_switch_held) {
            let n = sense(&s, Sensed::SwitchPressed);
            assert_eq!(n.switch_pressed_after_arm, s.confirmed, "{s:?}");
        }
    }

    #[test]
    fn r10_a_dose_over_the_notification_value_needs_a_second_confirmation() {
        let over = sense(&ready(), Sensed::DoseNotification(true));
        let pressed = sense(&over, Sensed::SwitchPressed);
        let e = check(&pressed, Origin::Operator, Request::Expose).unwrap_err();
        assert_eq!(e.reasons(), &[Refusal::DoseNotAcknowledged]);
        let ack = apply(&pressed, Origin::Voice, Request::AcknowledgeDose).unwrap();
        assert!(check(&ack, Origin::Operator, Request::Expose).is_ok());
        // Nothing to acknowledge before a confirmation; a new plan needs it again.
        assert!(apply(&State::REST, Origin::Voice, Request::AcknowledgeDose).is_err());
        let rearmed = apply(&ack, Origin::Voice, Request::Arm).unwrap();
        assert!(!rearmed.dose_acknowledged);
        let changed = sense(&ack, Sensed::DoseNotification(false));
        assert!(!changed.dose_acknowledged);
    }

    #[test]
    fn r11_nobody_in_the_exposure_radius() {
        let s = sense(&ready(), Sensed::SwitchPressed);
        let crowded = sense(&s, Sensed::RoomClear(false));
        let e = check(&crowded, Origin::Operator, Request::Expose).unwrap_err();
        assert_eq!(e.reasons(), &[Refusal::PeopleInRoom]);
        // Someone walking in cuts the beam.
        let on = apply(&s, Origin::Operator, Request::Expose).unwrap();
        assert!(!enforce(&sense(&on, Sensed::RoomClear(false))).beam_on);
    }

    #[test]
    fn r12_no_departure_without_the_energy_to_come_back() {
        assert!(check_departure(100.0, 200.0, 50.0).is_ok());
        assert_eq!(
            check_departure(100.0, 140.0, 50.0).unwrap_err().first(),
            Refusal::BatteryLow
        );
        assert!(check_departure(f64::NAN, 1e9, 0.0).is_err());
    }

    /// Things that happen to the machine: a request, or a sensor changing on its own.
    #[derive(Clone, Copy, Debug)]
    enum Event {
        Ask(Origin, Request),
        Sense(Sensed),
    }

    fn event() -> impl Strategy<Value = Event> {
        let origin = prop_oneof![Just(Origin::Voice), Just(Origin::Operator)];
        let request = proptest::sample::select(Request::ALL.to_vec());
        let sensed = prop_oneof![
            Just(Sensed::SwitchPressed),
            Just(Sensed::SwitchReleased),
            any::<bool>().prop_map(Sensed::RoomClear),
            any::<bool>().prop_map(Sensed::DoseNotification),
            any::<bool>().prop_map(Sensed::PatientVerified),
            Just(Sensed::BaseMoving(false)),
        ];
        prop_oneof![
            4 => (origin, request).prop_map(|(o, r)| Event::Ask(o, r)),
            3 => sensed.prop_map(Event::Sense),
        ]
    }

    /// One event as a component handles it: a request goes through [`apply`] alone (the rules
    /// must keep a safe state safe by themselves, so no [`enforce`] follows it); a sensor
    /// change is followed by the watchdog, as on the machine (the world changes on its own).
    fn step(s: State, e: Event) -> State {
        match e {
            Event::Ask(o, r) => apply(&s, o, r).unwrap_or(s),
            Event::Sense(x) => enforce(&sense(&s, x)),
        }
    }

    proptest! {
        #[test]
        fn prop_random_sequences_keep_the_invariants(events in proptest::collection::vec(event(), 0..60)) {
            let mut s = State::REST;
            for e in events {
                let before = s;
                s = step(s, e);
                prop_assert!(s.is_safe(), "{before:?} {e:?} -> {s:?}");
                if let Event::Sense(x) = e {
                    // The watchdog only ever turns things off.
                    let raw = sense(&before, x);
                    prop_assert!(!s.beam_on || raw.beam_on);
                    prop_assert!(!s.base_moving || raw.base_moving);
                }
                if s.beam_on && !before.beam_on {
                    prop_assert!(matches!(e, Event::Ask(Origin::Operator, Request::Expose)));
                }
                if before.stop_latched && !s.stop_latched {
                    prop_assert!(matches!(e, Event::Ask(Origin::Operator, Request::Reset)));
                }
                if matches!(e, Event::Ask(_, Request::Stop)) {
                    prop_assert!(s.stop_latched && !s.beam_on && !s.base_moving);
                }
            }
        }

        #[test]
        fn prop_voice_alone_never_turns_the_beam_on(
            start in proptest::sample::select(State::all().collect::<Vec<_>>()),
            requests in proptest::collection::vec(proptest::sample::select(Request::ALL.to_vec()), 0..40),
        ) {
            let mut s = enforce(&State { beam_on: false, ..start });
            for r in requests {
                let before = s;
                s = apply(&s, Origin::Voice, r).unwrap_or(s);
                prop_assert!(!s.beam_on);
                prop_assert!(!before.is_safe() || s.is_safe(), "{before:?} {r:?} -> {s:?}");
            }
        }
    }
}
