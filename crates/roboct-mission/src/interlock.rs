//! The interlocks on every actuator: the mission's only way to the drive, the gantry and the
//! beam.
//!
//! Every tick [`Interlocks::tick`] reads the sensors (wheels, gantry axes, beam, exposure
//! switch, people in the room), updates the rule state of `roboct_safety` through its
//! [`sense`](roboct_safety::sense) and [`enforce`](roboct_safety::enforce), and acts on the
//! hardware wherever a rule no longer holds: it turns the beam off and halts the base and the
//! gantry within that tick. Every command goes through [`Interlocks::request`], which asks
//! [`check`](roboct_safety::check) first and only then commands the device. A "stop" from any
//! source is [`Interlocks::stop`]: granted in every state, it halts everything at once and
//! latches.

use roboct_safety::{self as safety, Origin, Refused, Request, Sensed, State};

use crate::hardware::{GantryAxes, HardwareError};
use crate::world::Hardware;

/// Why a command did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Denied {
    /// A rule refused it.
    #[error("refused: {0}")]
    Refused(Refused),
    /// The device refused it.
    #[error(transparent)]
    Hardware(HardwareError),
}

/// Something the watchdog cut on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// The beam went off (a rule stopped holding: switch released, someone walked in...).
    Beam,
    /// The base was halted.
    Base,
    /// The gantry was halted.
    Gantry,
}

/// The interlocks' state and settings.
#[derive(Clone, Debug)]
pub struct Interlocks {
    state: State,
    switch_was_held: bool,
    /// Nobody but the patient may be within this distance of the isocentre during X-ray, m.
    pub exposure_radius_m: f64,
}

impl Interlocks {
    /// Interlocks at rest, with an exposure radius.
    pub fn new(exposure_radius_m: f64) -> Self {
        Self {
            state: State::REST,
            switch_was_held: false,
            exposure_radius_m,
        }
    }

    /// The rule state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Reads every sensor, updates the rules, and cuts what no longer may run. Returns what
    /// it cut.
    pub fn tick(&mut self, hw: &mut dyn Hardware) -> Vec<Cut> {
        let held = hw.switch_held();
        let mut s = self.state;
        if held != self.switch_was_held {
            s = safety::sense(
                &s,
                if held {
                    Sensed::SwitchPressed
                } else {
                    Sensed::SwitchReleased
                },
            );
            self.switch_was_held = held;
        }
        let clear = hw
            .people()
            .iter()
            .all(|p| p.distance_m >= self.exposure_radius_m);
        s = safety::sense(&s, Sensed::RoomClear(clear));
        s = safety::sense(&s, Sensed::BaseMoving(hw.base().is_moving()));
        s = safety::sense(&s, Sensed::GantryMoving(hw.gantry().is_moving()));
        s = safety::sense(&s, Sensed::GantryParked(hw.gantry().is_parked()));
        s.beam_on = hw.beam().is_on();
        let safe = safety::enforce(&s);
        let mut cut = Vec::new();
        if s.beam_on && !safe.beam_on {
            hw.beam().beam_off();
            cut.push(Cut::Beam);
        }
        if s.base_moving && !safe.base_moving {
            hw.base().halt();
            cut.push(Cut::Base);
        }
        // The gantry may not move while the base moves or the beam is on (R6 and R1).
        if hw.gantry().is_moving() && (hw.base().is_moving() || hw.beam().is_on()) {
            hw.gantry().halt();
            cut.push(Cut::Gantry);
        }
        self.state = State {
            base_moving: hw.base().is_moving(),
            gantry_moving: hw.gantry().is_moving(),
            beam_on: hw.beam().is_on(),
            ..safe
        };
        cut
    }

    /// Asks for `request` from `origin`; when the rules grant it, commands the hardware
    /// (`Drive` is granted here and then started by the caller with the route;
    /// `PositionGantry` needs the target).
    pub fn request(
        &mut self,
        hw: &mut dyn Hardware,
        origin: Origin,
        request: Request,
        gantry_target: Option<GantryAxes>,
    ) -> Result<(), Denied> {
        self.tick(hw);
        let next = safety::apply(&self.state, origin, request).map_err(Denied::Refused)?;
        match request {
            Request::Expose => hw.beam().beam_on().map_err(Denied::Hardware)?,
            Request::PositionGantry => {
                let t = gantry_target.ok_or_else(|| {
                    Denied::Hardware(HardwareError::OutOfRange {
                        device: "gantry",
                        message: "no target position".into(),
                    })
                })?;
                hw.gantry().move_to(t).map_err(Denied::Hardware)?;
            }
            Request::ParkGantry => {
                let parked = hw.gantry().limits().parked;
                hw.gantry().move_to(parked).map_err(Denied::Hardware)?;
            }
            Request::Pause | Request::Stop => {
                hw.beam().beam_off();
                hw.base().halt();
                hw.gantry().halt();
            }
            Request::Drive | Request::Arm | Request::Reset | Request::AcknowledgeDose => {}
        }
        self.state = next;
        self.tick(hw);
        Ok(())
    }

    /// Starts the base on `route` to `goal` only when the rules grant a drive now (R5: beam
    /// off, gantry parked, no stop latched...): the one way a drive starts, so no motion
    /// command of the route driver bypasses the rules. The watchdog ([`Interlocks::tick`])
    /// then halts the base the moment a rule fails on the way.
    pub fn start_drive(
        &mut self,
        hw: &mut dyn Hardware,
        origin: Origin,
        route: &roboct_nav::plan::Route,
        goal: &roboct_nav::plan::Target,
    ) -> Result<(), Denied> {
        self.request(hw, origin, Request::Drive, None)?;
        hw.base()
            .start_route(route, goal)
            .map_err(Denied::Hardware)?;
        self.tick(hw);
        Ok(())
    }

    /// A stop from any source: beam off, base and gantry halted in this tick, latched.
    pub fn stop(&mut self, hw: &mut dyn Hardware, origin: Origin) {
        // Stop is granted in every state (R3): act first, then record.
        hw.beam().beam_off();
        hw.base().halt();
        hw.gantry().halt();
        if let Ok(n) = safety::apply(&self.state, origin, Request::Stop) {
            self.state = n;
        }
        self.tick(hw);
    }

    /// The identity check's result.
    pub fn set_patient_verified(&mut self, verified: bool) {
        self.state = safety::sense(&self.state, Sensed::PatientVerified(verified));
    }

    /// Whether the planned dose is over the notification value.
    pub fn set_dose_notification(&mut self, over: bool) {
        self.state = safety::sense(&self.state, Sensed::DoseNotification(over));
    }

    /// Drops the confirmation (a plan changed, a scan ended).
    pub fn disarm(&mut self) {
        self.state.confirmed = false;
        self.state.switch_pressed_after_arm = false;
        self.state.dose_acknowledged = false;
    }
}
