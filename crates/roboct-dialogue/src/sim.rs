//! A minimal simulated machine that carries out the dialogue's [`Action`]s, for the CLI
//! (`roboct say`), the example and the tests. The mission crate owns the real simulated
//! world; this one only keeps the state a dialogue turn looks at.
//!
//! Every change of the interlock state goes through [`roboct_safety::apply`] (as an
//! operator or sensor would) and then [`roboct_safety::enforce`], so the simulation can never
//! reach a state the rules forbid.

use roboct_core::units::Seconds;
use roboct_safety::{self as safety, Origin, Request};

use crate::command::Destination;
use crate::dialogue::{Action, ScanPlan, World};

/// The simulated machine.
#[derive(Clone, Debug, PartialEq)]
pub struct SimMachine {
    /// What the dialogue sees.
    pub world: World,
    /// The scan armed by voice, if any.
    pub armed: Option<ScanPlan>,
    /// Uploads requested.
    pub uploads: usize,
}

impl SimMachine {
    /// Parked at `location` with the gantry parked, battery at 87%, nothing pending.
    pub fn parked_at(location: Destination) -> Self {
        SimMachine {
            world: World {
                // At the bedside with nobody else near (the mission's room sensor reports
                // this on the real machine).
                interlocks: safety::State {
                    room_clear: true,
                    ..safety::State::REST
                },
                location: Some(location),
                driving_to: None,
                paused: false,
                battery_pct: 87.0,
                remaining: None,
                results_pending: 0,
            },
            armed: None,
            uploads: 0,
        }
    }

    /// Carries out the dialogue's actions in order.
    pub fn apply(&mut self, actions: &[Action]) {
        for a in actions {
            self.apply_one(a);
        }
        self.world.interlocks = safety::enforce(&self.world.interlocks);
    }

    fn request(&mut self, origin: Origin, r: Request) -> bool {
        match safety::apply(&self.world.interlocks, origin, r) {
            Ok(s) => {
                self.world.interlocks = s;
                true
            }
            Err(_) => false,
        }
    }

    fn apply_one(&mut self, a: &Action) {
        match a {
            Action::ParkGantry => {
                self.request(Origin::Voice, Request::ParkGantry);
            }
            Action::DriveTo(d) => {
                if self.request(Origin::Voice, Request::Drive) {
                    self.world.driving_to = Some(*d);
                    self.world.location = None;
                    self.world.paused = false;
                    self.world.remaining = Some(Seconds(90.0));
                    self.armed = None;
                }
            }
            Action::Pause => {
                self.request(Origin::Voice, Request::Pause);
                self.world.paused = self.world.driving_to.is_some();
            }
            Action::Resume => {
                if self.world.driving_to.is_some() && self.request(Origin::Voice, Request::Drive) {
                    self.world.paused = false;
                }
            }
            Action::EmergencyStop => {
                self.request(Origin::Voice, Request::Stop);
                self.armed = None;
                self.world.paused = self.world.driving_to.is_some();
            }
            Action::PatientVerified => self.world.interlocks.patient_verified = true,
            Action::Arm(plan) => {
                if self.request(Origin::Voice, Request::Arm) {
                    self.armed = Some(*plan);
                }
            }
            Action::Disarm => {
                self.armed = None;
                self.world.interlocks.confirmed = false;
            }
            Action::Upload => {
                self.uploads += 1;
                self.world.results_pending = 0;
            }
        }
    }

    /// The drive under way arrives.
    pub fn arrive(&mut self) {
        if let Some(d) = self.world.driving_to.take() {
            self.world.location = Some(d);
            self.world.interlocks.base_moving = false;
            self.world.paused = false;
            self.world.remaining = None;
        }
    }

    /// The operator resets a latched stop at the console.
    pub fn operator_reset(&mut self) -> bool {
        self.request(Origin::Operator, Request::Reset)
    }

    /// The operator presses (or releases) the exposure switch; with it held, the beam comes
    /// on if every interlock allows it. Returns whether the beam is on.
    pub fn hold_exposure_switch(&mut self, held: bool) -> bool {
        let event = if held {
            safety::Sensed::SwitchPressed
        } else {
            safety::Sensed::SwitchReleased
        };
        self.world.interlocks = safety::sense(&self.world.interlocks, event);
        if held && self.armed.is_some() {
            self.request(Origin::Operator, Request::PositionGantry);
            self.request(Origin::Operator, Request::Expose);
        }
        self.world.interlocks = safety::enforce(&self.world.interlocks);
        self.world.interlocks.beam_on
    }
}
