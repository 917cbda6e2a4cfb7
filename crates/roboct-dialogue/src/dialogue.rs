//! The dialogue manager: one turn at a time, from a command (typed or heard) and the state of
//! the machine to a spoken reply and the actions the machine should take.
//!
//! It never moves anything itself: it returns [`Action`]s, each checked first against the
//! interlocks of [`roboct_safety`] as a voice request, and the caller (the mission, or
//! [`crate::sim::SimMachine`] in the CLI and tests) carries them out. Voice may arm a scan,
//! never expose: the X-ray itself needs the operator's held exposure switch.
//!
//! Decisions where the issue is silent (each covered by a test in `tests/dialogue.rs`):
//! * a scan is prepared only at the bedside of the order's patient, with the base still;
//! * the body part said must match the order; the protocol said wins over the order's;
//! * the identity check compares the patient ID read from the wristband with the order; a
//!   mismatch never reveals the expected ID, and three mismatches cancel the scan;
//! * the readback names patient, ID (digit by digit), body part, protocol and planned dose,
//!   and only the word "confirm" arms, within [`DialogueConfig::confirm_timeout_s`];
//! * an armed scan not exposed within [`DialogueConfig::armed_timeout_s`] is disarmed;
//! * a question not answered within [`DialogueConfig::question_timeout_s`] is dropped;
//! * "cancel" while driving stops the drive (not latched); "stop" always stops and latches,
//!   and only an operator's reset at the console clears it.

use roboct_core::units::{Mgy, Seconds};
use roboct_safety::{self as safety, Origin, Refusal, Refused, Request};

use crate::command::{BodyPart, Command, Destination, Protocol, Topic};
use crate::language::{self, SlotKind};
use crate::order::{DoseModel, ScanOrder};
use crate::parse::{self, Understanding};
use crate::reply::{Reply, digits_apart};
use crate::speech::Outcome;

/// What the machine looks like to the dialogue at the start of a turn.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    /// The interlock state.
    pub interlocks: safety::State,
    /// Where the robot is (`None` while between places).
    pub location: Option<Destination>,
    /// Where it is driving to, if a drive is under way or paused.
    pub driving_to: Option<Destination>,
    /// Whether a task is paused.
    pub paused: bool,
    /// Battery charge in percent.
    pub battery_pct: f64,
    /// Time left for the current task, if known.
    pub remaining: Option<Seconds>,
    /// Result series waiting for upload.
    pub results_pending: usize,
}

/// A plan read back and confirmed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScanPlan {
    /// The body part.
    pub body_part: BodyPart,
    /// The protocol.
    pub protocol: Protocol,
    /// The planned CTDIvol.
    pub ctdivol: Mgy,
}

/// What the dialogue asks the machine to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Park the gantry (before driving).
    ParkGantry,
    /// Drive to a place.
    DriveTo(Destination),
    /// Pause motion and beam (not latched).
    Pause,
    /// Resume a paused drive.
    Resume,
    /// Emergency stop: halt motion and X-ray at once, latched.
    EmergencyStop,
    /// Record that the patient was verified against the order.
    PatientVerified,
    /// Arm the confirmed scan (the exposure still needs the held switch).
    Arm(ScanPlan),
    /// Drop the armed scan.
    Disarm,
    /// Upload the results waiting.
    Upload,
}

/// Timeouts and limits.
#[derive(Clone, Debug, PartialEq)]
pub struct DialogueConfig {
    /// How long a readback waits for "confirm".
    pub confirm_timeout_s: f64,
    /// How long an armed scan waits for the exposure switch.
    pub armed_timeout_s: f64,
    /// How long a question waits for an answer.
    pub question_timeout_s: f64,
    /// Wrong patient IDs allowed before the scan is cancelled.
    pub max_id_attempts: u32,
}

impl Default for DialogueConfig {
    fn default() -> Self {
        DialogueConfig {
            confirm_timeout_s: 30.0,
            armed_timeout_s: 120.0,
            question_timeout_s: 60.0,
            max_id_attempts: 3,
        }
    }
}

/// What was understood in a turn.
#[derive(Clone, Debug, PartialEq)]
pub enum Heard {
    /// A command.
    Command(Command),
    /// Nothing usable.
    Nothing {
        /// Why.
        reason: String,
        /// The closest sentences of the language.
        suggestions: Vec<String>,
    },
}

/// The result of a turn.
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    /// What was understood.
    pub heard: Heard,
    /// What to say.
    pub reply: Reply,
    /// What the machine should do, in order.
    pub actions: Vec<Action>,
}

/// Where the dialogue is.
#[derive(Clone, Debug, PartialEq)]
enum Pending {
    Idle,
    /// Filling the slots of a scan.
    Slots {
        body_part: Option<BodyPart>,
        protocol: Option<Protocol>,
        since: f64,
    },
    /// Waiting for the patient ID.
    Identity {
        plan: ScanPlan,
        since: f64,
    },
    /// Waiting for "confirm".
    Confirmation {
        plan: ScanPlan,
        since: f64,
    },
    /// Armed, waiting for the exposure switch.
    Armed {
        plan: ScanPlan,
        since: f64,
    },
}

/// The dialogue manager (see the module docs).
pub struct Dialogue<O: ScanOrder> {
    order: Option<O>,
    config: DialogueConfig,
    dose: Box<dyn DoseModel>,
    pending: Pending,
    last_reply: Option<Reply>,
    id_attempts: u32,
}

impl<O: ScanOrder> Dialogue<O> {
    /// A dialogue for the order (if any) of the patient being served; `dose` is the
    /// scanner's dose model, whose planned CTDIvol is read back before any X-ray.
    pub fn new(order: Option<O>, config: DialogueConfig, dose: Box<dyn DoseModel>) -> Self {
        Dialogue {
            order,
            config,
            dose,
            pending: Pending::Idle,
            last_reply: None,
            id_attempts: 0,
        }
    }

    /// A short name of the current state: `idle`, `asking`, `identity`, `confirming` or
    /// `armed`.
    pub fn state(&self) -> &'static str {
        match self.pending {
            Pending::Idle => "idle",
            Pending::Slots { .. } => "asking",
            Pending::Identity { .. } => "identity",
            Pending::Confirmation { .. } => "confirming",
            Pending::Armed { .. } => "armed",
        }
    }

    /// One turn for typed text (English or Chinese).
    pub fn handle_text(&mut self, text: &str, world: &World, now: Seconds) -> Turn {
        match parse::parse(text) {
            Understanding::Understood(p) => self.handle_command(p.command, world, now),
            Understanding::NotUnderstood {
                reason,
                suggestions,
            } => self.not_understood(reason, suggestions, world, now),
        }
    }

    /// One turn for what the speech recognizer heard.
    pub fn handle_speech(&mut self, outcome: &Outcome, world: &World, now: Seconds) -> Turn {
        match outcome {
            Outcome::Command { command, .. } => self.handle_command(command.clone(), world, now),
            Outcome::Nothing { reason } => self.not_understood(reason.clone(), vec![], world, now),
        }
    }

    /// Lets time pass: returns a turn when a wait ran out (a confirmation, an armed scan, a
    /// question), `None` otherwise. Call it every second or so.
    pub fn tick(&mut self, world: &World, now: Seconds) -> Option<Turn> {
        let (reply, actions) = self.expire(world, now.0)?;
        Some(self.finish(
            Heard::Nothing {
                reason: "time passed".into(),
                suggestions: vec![],
            },
            reply,
            actions,
        ))
    }

    fn expire(&mut self, world: &World, now: f64) -> Option<(Reply, Vec<Action>)> {
        let c = &self.config;
        let out = match &self.pending {
            Pending::Confirmation { since, .. } if now - since > c.confirm_timeout_s => (
                Reply::text("The confirmation timed out. The scan is not armed."),
                vec![],
            ),
            Pending::Armed { since, .. } if now - since > c.armed_timeout_s => {
                if world.interlocks.beam_on {
                    return None;
                }
                (
                    Reply::text("The armed scan was not started in time, so I disarmed it."),
                    vec![Action::Disarm],
                )
            }
            Pending::Slots { since, .. } | Pending::Identity { since, .. }
                if now - since > c.question_timeout_s =>
            {
                (
                    Reply::text("I stopped waiting for an answer. Say scan to start again."),
                    vec![],
                )
            }
            _ => return None,
        };
        self.pending = Pending::Idle;
        Some(out)
    }

    fn not_understood(
        &mut self,
        reason: String,
        suggestions: Vec<String>,
        world: &World,
        now: Seconds,
    ) -> Turn {
        let heard = Heard::Nothing {
            reason: reason.clone(),
            suggestions: suggestions.clone(),
        };
        if let Some((reply, actions)) = self.expire(world, now.0) {
            return self.finish(heard, reply, actions);
        }
        let mut text = format!("Sorry, {reason}.");
        match &self.pending {
            Pending::Confirmation { .. } => {
                text.push_str(" Say confirm to start the scan, or cancel.")
            }
            Pending::Identity { .. } => {
                text.push_str(&format!(" {}", slot_question(SlotKind::PatientId)))
            }
            Pending::Slots {
                body_part: None, ..
            } => text.push_str(&format!(" {}", slot_question(SlotKind::BodyPart))),
            Pending::Slots { .. } => {
                text.push_str(&format!(" {}", slot_question(SlotKind::Protocol)))
            }
            _ => {
                if let Some(s) = suggestions.first() {
                    text.push_str(&format!(" Did you mean: {s}?"));
                }
            }
        }
        self.finish(heard, Reply::text(text), vec![])
    }

    fn finish(&mut self, heard: Heard, reply: Reply, actions: Vec<Action>) -> Turn {
        self.last_reply = Some(reply.clone());
        Turn {
            heard,
            reply,
            actions,
        }
    }

    /// One turn for a command.
    pub fn handle_command(&mut self, command: Command, world: &World, now: Seconds) -> Turn {
        let heard = Heard::Command(command.clone());
        let now = now.0;
        if command == Command::Repeat {
            // Repeating does not replace what is repeated.
            return Turn {
                heard,
                reply: self.repeat(),
                actions: vec![],
            };
        }
        // A stop is never delayed by anything, not even by saying that a wait ran out.
        if command != Command::Stop
            && let Some((reply, actions)) = self.expire(world, now)
        {
            // A late "confirm" must not arm: the timeout is said instead.
            return self.finish(heard, reply, actions);
        }
        let (reply, actions) = match command {
            Command::Stop => {
                // In every state, never asked to confirm.
                self.pending = Pending::Idle;
                (
                    Reply::text(
                        "Stopped. Motion and X-ray are off. Reset the stop at the console to continue.",
                    ),
                    vec![Action::EmergencyStop],
                )
            }
            Command::Repeat => (self.repeat(), vec![]),
            Command::Help => (Reply::text(language::spoken_help()), vec![]),
            Command::Status(topic) => (self.status(topic, world), vec![]),
            Command::Cancel => self.cancel(world),
            Command::Pause => self.pause(world),
            Command::Resume => self.resume(world),
            Command::Go(dest) => self.go(dest, world),
            Command::Upload => upload(world),
            Command::Scan {
                body_part,
                protocol,
            } => self.scan(body_part, protocol, world, now),
            Command::Verify { patient_id } => self.verify(patient_id.expose(), world, now),
            Command::Confirm => self.confirm(world, now),
        };
        self.finish(heard, reply, actions)
    }

    fn repeat(&self) -> Reply {
        self.last_reply
            .clone()
            .unwrap_or_else(|| Reply::text("I have not said anything yet."))
    }

    fn status(&self, topic: Topic, world: &World) -> Reply {
        let place = match (world.location, world.driving_to) {
            (_, Some(d)) if world.paused => format!("I am paused on the way to {d}."),
            (_, Some(d)) => format!("I am driving to {d}."),
            (Some(l), None) => format!("I am at {l}."),
            (None, None) => "I do not know where I am.".to_string(),
        };
        let battery = format!("My battery is at {:.0} percent.", world.battery_pct);
        let time = match world.remaining {
            Some(t) => format!("About {} left.", spoken_duration(t.0)),
            None => "No task is running.".to_string(),
        };
        let state = match &self.pending {
            _ if world.interlocks.stop_latched => "The stop is latched.".to_string(),
            Pending::Armed { plan, .. } => format!("A {} scan is armed.", plan.body_part),
            Pending::Confirmation { .. } => "A scan is waiting for confirmation.".into(),
            _ => String::new(),
        };
        Reply::text(match topic {
            Topic::Location => place,
            Topic::Battery => battery,
            Topic::Time => time,
            Topic::General => [place, battery, time, state]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        })
    }

    fn cancel(&mut self, world: &World) -> (Reply, Vec<Action>) {
        let was = std::mem::replace(&mut self.pending, Pending::Idle);
        match was {
            Pending::Armed { .. } => (
                Reply::text("Cancelled. The scan is disarmed."),
                vec![Action::Disarm],
            ),
            Pending::Idle if world.interlocks.base_moving => (
                Reply::text("Cancelled. I stop driving here."),
                vec![Action::Pause],
            ),
            Pending::Idle => (Reply::text("There is nothing to cancel."), vec![]),
            _ => (Reply::text("Cancelled."), vec![]),
        }
    }

    fn pause(&mut self, world: &World) -> (Reply, Vec<Action>) {
        if world.interlocks.base_moving || world.interlocks.beam_on {
            (
                Reply::text("Paused. Say resume to continue."),
                vec![Action::Pause],
            )
        } else {
            (
                Reply::text("Nothing is moving; there is nothing to pause."),
                vec![],
            )
        }
    }

    fn resume(&mut self, world: &World) -> (Reply, Vec<Action>) {
        if world.interlocks.stop_latched {
            return (refusal("resume", Refusal::StopLatched), vec![]);
        }
        match world.driving_to {
            Some(d) if world.paused => match check_sequence(&world.interlocks, &[Request::Drive]) {
                Ok(_) => (
                    Reply::text(format!("Resuming the drive to {d}.")),
                    vec![Action::Resume],
                ),
                Err(r) => (refusal("resume driving", r.first()), vec![]),
            },
            _ => (
                Reply::text("Nothing is paused; there is nothing to resume."),
                vec![],
            ),
        }
    }

    fn go(&mut self, dest: Destination, world: &World) -> (Reply, Vec<Action>) {
        match self.pending {
            Pending::Confirmation { .. } | Pending::Armed { .. } => {
                return (
                    Reply::text(
                        "A scan is waiting here. Say cancel first, then tell me where to go.",
                    ),
                    vec![],
                );
            }
            _ => {}
        }
        if world.location == Some(dest) && world.driving_to.is_none() {
            return (Reply::text(format!("I am already at {dest}.")), vec![]);
        }
        let s = &world.interlocks;
        let mut requests = Vec::new();
        let mut actions = Vec::new();
        if !s.gantry_parked && !s.beam_on {
            requests.push(Request::ParkGantry);
            actions.push(Action::ParkGantry);
        }
        requests.push(Request::Drive);
        match check_sequence(s, &requests) {
            Ok(_) => {
                self.pending = Pending::Idle;
                actions.push(Action::DriveTo(dest));
                (Reply::text(format!("Going to {dest}.")), actions)
            }
            Err(r) => (refusal("drive", r.first()), vec![]),
        }
    }

    fn scan(
        &mut self,
        body_part: Option<BodyPart>,
        protocol: Option<Protocol>,
        world: &World,
        now: f64,
    ) -> (Reply, Vec<Action>) {
        let s = &world.interlocks;
        if s.stop_latched {
            return (refusal("prepare a scan", Refusal::StopLatched), vec![]);
        }
        if s.base_moving {
            return (
                Reply::text(
                    "I cannot prepare a scan while driving. Wait until I arrive, or say pause.",
                ),
                vec![],
            );
        }
        if matches!(self.pending, Pending::Armed { .. }) {
            return (
                Reply::text(
                    "A scan is already armed. Hold the exposure switch to start it, or say cancel.",
                ),
                vec![],
            );
        }
        let Some(order) = &self.order else {
            return (
                Reply::text("There is no scan order for this patient, so I cannot prepare a scan."),
                vec![],
            );
        };
        let here = order.location();
        if world.location != Some(here) || world.driving_to.is_some() {
            let at = world
                .location
                .map(|l| format!(" and I am at {l}"))
                .unwrap_or_default();
            return (
                Reply::text(format!(
                    "The patient of this order is at {here}{at}. Say go to {here} first."
                )),
                vec![],
            );
        }
        // Merge with the slots already given (an answer to "which body part?").
        let (mut bp, mut pr) = match self.pending {
            Pending::Slots {
                body_part,
                protocol,
                ..
            } => (body_part, protocol),
            _ => (None, None),
        };
        bp = body_part.or(bp);
        pr = protocol.or(pr).or(order.protocol());
        if let Some(b) = bp
            && b != order.body_part()
        {
            self.pending = Pending::Idle;
            return (
                Reply::text(format!(
                    "The order is for the {}, not the {b}. Say scan the {} to continue.",
                    order.body_part(),
                    order.body_part()
                )),
                vec![],
            );
        }
        let (Some(b), Some(p)) = (bp, pr) else {
            self.pending = Pending::Slots {
                body_part: bp,
                protocol: pr,
                since: now,
            };
            let q = if bp.is_none() {
                slot_question(SlotKind::BodyPart)
            } else {
                slot_question(SlotKind::Protocol)
            };
            return (Reply::text(q), vec![]);
        };
        let Some(ctdivol) = self.dose.planned_ctdivol(b, p) else {
            self.pending = Pending::Idle;
            return (
                Reply::text(format!(
                    "This scanner has no {p} protocol for the {b}. The order needs another scanner or protocol."
                )),
                vec![],
            );
        };
        let plan = ScanPlan {
            body_part: b,
            protocol: p,
            ctdivol,
        };
        if !s.patient_verified {
            self.pending = Pending::Identity { plan, since: now };
            self.id_attempts = 0;
            return (Reply::text(slot_question(SlotKind::PatientId)), vec![]);
        }
        self.read_back(plan, now)
    }

    fn read_back(&mut self, plan: ScanPlan, now: f64) -> (Reply, Vec<Action>) {
        let Some(order) = &self.order else {
            return (Reply::text("There is no scan order."), vec![]);
        };
        let mut r = Reply::text("Please check: patient ");
        r.push_phi(order.spoken_patient_name());
        r.push(", ID ");
        r.push_phi(roboct_core::Phi::new(digits_apart(
            order.patient_id().expose(),
        )));
        r.push(format!(
            ", {} scan, {}, planned dose {} milligray. Say confirm to start, or cancel.",
            plan.body_part,
            plan.protocol,
            spoken_number(plan.ctdivol.0)
        ));
        self.pending = Pending::Confirmation { plan, since: now };
        (r, vec![])
    }

    fn verify(&mut self, id: &str, world: &World, now: f64) -> (Reply, Vec<Action>) {
        let Some(order) = &self.order else {
            return (
                Reply::text("There is no order to check the patient ID against."),
                vec![],
            );
        };
        if world.location != Some(order.location()) {
            return (
                Reply::text("I am not at this order's patient, so I cannot check the ID."),
                vec![],
            );
        }
        if id != order.patient_id().expose() {
            self.id_attempts += 1;
            if self.id_attempts >= self.config.max_id_attempts {
                self.pending = Pending::Idle;
                self.id_attempts = 0;
                return (
                    Reply::text(
                        "That ID does not match the order either. The patient could not be verified, so the scan is cancelled.",
                    ),
                    vec![],
                );
            }
            return (
                Reply::text(
                    "That ID does not match the order. Please check the wristband and read the ID again.",
                ),
                vec![],
            );
        }
        self.id_attempts = 0;
        let mut actions = vec![Action::PatientVerified];
        match self.pending.clone() {
            Pending::Identity { plan, .. } => {
                let (r, more) = self.read_back(plan, now);
                actions.extend(more);
                (
                    prepend(Reply::text("The patient is verified. "), r),
                    actions,
                )
            }
            _ => (Reply::text("The patient is verified."), actions),
        }
    }

    fn confirm(&mut self, world: &World, now: f64) -> (Reply, Vec<Action>) {
        let Pending::Confirmation { plan, .. } = self.pending else {
            return (
                Reply::text("There is nothing to confirm. Say scan to prepare a scan."),
                vec![],
            );
        };
        match check_sequence(&world.interlocks, &[Request::Arm]) {
            Ok(_) => {
                self.pending = Pending::Armed { plan, since: now };
                (
                    Reply::text(
                        "Confirmed. The scan is armed. Hold the exposure switch to start the X-ray; release it to stop.",
                    ),
                    vec![Action::Arm(plan)],
                )
            }
            Err(r) => {
                self.pending = Pending::Idle;
                (refusal("arm the scan", r.first()), vec![])
            }
        }
    }
}

fn upload(world: &World) -> (Reply, Vec<Action>) {
    if world.results_pending == 0 {
        (
            Reply::text("There are no results waiting for upload."),
            vec![],
        )
    } else {
        (
            Reply::text(format!(
                "Uploading {} result series to the PACS.",
                world.results_pending
            )),
            vec![Action::Upload],
        )
    }
}

/// Checks a sequence of voice requests, each on the state the previous ones leave.
fn check_sequence(s: &safety::State, requests: &[Request]) -> Result<safety::State, Refused> {
    let mut state = *s;
    for &r in requests {
        state = safety::apply(&state, Origin::Voice, r)?;
    }
    Ok(state)
}

fn refusal(what: &str, r: Refusal) -> Reply {
    Reply::text(format!("I cannot {what}: {r}."))
}

fn slot_question(kind: SlotKind) -> String {
    language::slot_spec(kind).question.to_string()
}

fn prepend(first: Reply, rest: Reply) -> Reply {
    let mut out = first;
    out.append(rest);
    out
}

/// A duration as spoken ("about 2 minutes").
fn spoken_duration(s: f64) -> String {
    if s < 120.0 {
        format!("{:.0} seconds", s.max(0.0))
    } else {
        format!("{:.0} minutes", s / 60.0)
    }
}

/// A dose as spoken: at most one decimal, none when whole ("9", "2.7").
fn spoken_number(x: f64) -> String {
    if (x - x.round()).abs() < 0.05 {
        format!("{:.0}", x)
    } else {
        format!("{:.1}", x)
    }
}
