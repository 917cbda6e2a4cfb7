//! The mission: from the order to the dock again, phase by phase, on a control loop of ticks.
//!
//! Every phase talks to the hardware only through [`Hardware`] and to the actuators only
//! through [`Interlocks`]; every tick the interlocks read the sensors and cut what may no
//! longer run, and a "stop" typed or said is obeyed within that tick. Each phase change,
//! each interlock cut, each thing said and each failure is an event in the [`Store`]; time and
//! energy are booked per phase and per kind (drive, elevator, idle, X-ray, compute) in a
//! [`Ledger`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use roboct_core::{Phi, Recover, Recovery};
use roboct_dialogue::command::Command;
use roboct_dialogue::parse::{self, Understanding};
use roboct_safety::{Origin, Request};
use serde_json::json;

use crate::ct::{CtChain, CtOutcome};
use crate::hardware::DriveProgress;
use crate::interlock::{Cut, Denied, Interlocks};
use crate::phase::{MissionError, Phase};
use crate::store::Store;
use crate::world::{Hardware, Notice};
use roboct_positioning::Target;

/// A scan order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    /// Patient's name, DICOM form (`FAMILY^GIVEN`).
    pub patient_name: Phi<String>,
    /// Patient ID (as on the wristband).
    pub patient_id: Phi<String>,
    /// Birth date `YYYYMMDD`.
    pub birth_date: Phi<String>,
    /// Sex (`M`, `F`, `O` or empty).
    pub sex: String,
    /// Accession number.
    pub accession: Phi<String>,
    /// Where the patient is: a place name of the site (`ward-3/bed-12`).
    pub place: String,
    /// Body part: `HEAD` or `CHEST`.
    pub body_part: String,
    /// Protocol: `standard`, `low dose` or `sparse view`.
    pub protocol: String,
    /// Where the order came from (`worklist`, `voice`, `text`, `api`, `demo`).
    pub source: String,
    /// The worklist's order, when it came from one (its study, accession and step IDs are
    /// the ones the images must carry).
    #[serde(skip)]
    pub worklist: Option<roboct_dicom::worklist::WorklistItem>,
}

impl Order {
    /// The demo's order: a head scan for a made-up patient in ward 3, bed 12.
    pub fn demo() -> Self {
        Self {
            patient_name: Phi::new("MUSTERMANN^ERIKA".into()),
            patient_id: Phi::new("4711".into()),
            birth_date: Phi::new("19580412".into()),
            sex: "F".into(),
            accession: Phi::new("ACC-0001".into()),
            place: "ward-3/bed-12".into(),
            body_part: "HEAD".into(),
            protocol: "standard".into(),
            source: "demo".into(),
            worklist: None,
        }
    }

    /// The order of a scheduled worklist item: the patient, the accession, the body part
    /// from the requested procedure or step description (`CT HEAD`, `CT CHEST`...), and the
    /// place from the Current Patient Location, matched against `places` (exactly, or
    /// `WARD 3 BED 12` as `ward-3/bed-12`).
    pub fn from_worklist(
        item: &roboct_dicom::worklist::WorklistItem,
        places: &[String],
    ) -> Result<Self, MissionError> {
        let text = format!(
            "{} {}",
            item.order.requested_procedure_description, item.step.description
        )
        .to_uppercase();
        let body_part =
            if text.contains("CHEST") || text.contains("THORAX") || text.contains("LUNG") {
                "CHEST"
            } else if text.contains("HEAD") || text.contains("BRAIN") {
                "HEAD"
            } else {
                return Err(MissionError::BadOrder(format!(
                    "worklist order {}: the procedure {:?} is neither a head nor a chest scan",
                    item.order.requested_procedure_id,
                    text.trim()
                )));
            };
        let location = item.current_patient_location.trim();
        let words: Vec<String> = location
            .to_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        let guess = match words.as_slice() {
            [w, n, b, m] if w == "ward" && b == "bed" => Some(format!("ward-{n}/bed-{m}")),
            _ => None,
        };
        let place = places
            .iter()
            .find(|p| p.eq_ignore_ascii_case(location) || Some(p.to_lowercase()) == guess)
            .cloned()
            .ok_or_else(|| {
                MissionError::BadOrder(format!(
                    "worklist order {}: the patient's location {location:?} is no place of this site",
                    item.order.requested_procedure_id
                ))
            })?;
        Ok(Self {
            patient_name: item.patient.name.clone(),
            patient_id: item.patient.id.clone(),
            birth_date: item.patient.birth_date.clone(),
            sex: item.patient.sex.clone(),
            accession: item.order.accession_number.clone(),
            place,
            body_part: body_part.into(),
            protocol: "standard".into(),
            source: "worklist".into(),
            worklist: Some(item.clone()),
        })
    }
}

/// How the mission behaves; the site's and the hospital's choices.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// The dock's place name.
    pub dock: String,
    /// Control tick, s.
    pub tick_s: f64,
    /// Nobody but the patient within this distance of the isocentre during X-ray, m.
    pub exposure_radius_m: f64,
    /// CTDIvol over which a head scan needs a second confirmation, mGy (AAPM/NEMA XR-25: 80).
    pub notification_head_mgy: f64,
    /// The same for the body (AAPM: 50).
    pub notification_body_mgy: f64,
    /// Battery kept in reserve beyond the route there and back, fraction of capacity.
    pub battery_reserve: f64,
    /// Power of the electronics while on, W.
    pub idle_power_w: f64,
    /// Power of the computer while it computes, W.
    pub compute_power_w: f64,
    /// The X-ray generator's efficiency from the battery.
    pub generator_efficiency: f64,
    /// Longest wait for a confirmation, the room to clear or the switch, s (robot clock).
    pub operator_timeout_s: f64,
    /// Where images and reports are written.
    pub out_dir: PathBuf,
    /// Run the robot clock this many times faster than the wall clock (0: as fast as the
    /// computer goes).
    pub time_scale: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            dock: "dock".into(),
            tick_s: 0.05,
            exposure_radius_m: 3.0,
            notification_head_mgy: 80.0,
            notification_body_mgy: 50.0,
            battery_reserve: 0.1,
            idle_power_w: 120.0,
            compute_power_w: 65.0,
            generator_efficiency: 0.9,
            operator_timeout_s: 300.0,
            out_dir: PathBuf::from("roboct-out"),
            time_scale: 0.0,
        }
    }
}

/// What energy was spent on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Spend {
    /// Driving.
    Drive,
    /// In elevators.
    Elevator,
    /// Electronics on, waiting.
    Idle,
    /// The X-ray generator.
    Xray,
    /// Computing (simulation, reconstruction, diagnosis, DICOM).
    Compute,
}

/// Time and energy per phase and per kind.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Ledger {
    /// Robot-clock seconds per phase.
    pub seconds: BTreeMap<Phase, f64>,
    /// Joules per kind.
    pub joules: BTreeMap<Spend, f64>,
    /// Joules per phase.
    pub joules_by_phase: BTreeMap<Phase, f64>,
    /// Wall-clock seconds of computing per phase.
    pub compute_s: BTreeMap<Phase, f64>,
}

impl Ledger {
    fn book(&mut self, phase: Phase, kind: Spend, j: f64) {
        *self.joules.entry(kind).or_default() += j;
        *self.joules_by_phase.entry(phase).or_default() += j;
    }

    /// Total energy, J.
    pub fn total_j(&self) -> f64 {
        self.joules.values().sum()
    }
}

/// What a mission did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    /// The mission's id in the store.
    pub mission: i64,
    /// The last phase reached.
    pub phase: Option<Phase>,
    /// Route to the bed: length (m), expected time (s).
    pub route_m: f64,
    /// Robot-clock seconds in all.
    pub total_s: f64,
    /// Time and energy.
    pub ledger: Ledger,
    /// The imaging results, when the scan was made.
    pub ct: Option<CtOutcome>,
    /// What was said aloud.
    pub said: Vec<String>,
    /// Interlock cuts (time, what).
    pub cuts: Vec<(f64, String)>,
    /// The failure, if any, and what to do about it.
    pub failure: Option<(String, Recovery)>,
    /// The route to the bed (for its picture).
    #[serde(skip)]
    pub route: Option<roboct_nav::plan::Route>,
}

/// Something the observer is told (progress shown phase by phase).
pub trait Observer {
    /// A phase started at `t_s` with a line for people.
    fn phase(&self, phase: Phase, t_s: f64, line: &str);
    /// Something worth a line within a phase.
    fn note(&self, line: &str);
}

/// An observer that shows nothing.
pub struct Quiet;

impl Observer for Quiet {
    fn phase(&self, _: Phase, _: f64, _: &str) {}
    fn note(&self, _: &str) {}
}

/// One mission run.
pub struct Mission<'a> {
    settings: Settings,
    hw: &'a mut dyn Hardware,
    store: &'a mut Store,
    observer: &'a dyn Observer,
    interlocks: Interlocks,
    id: i64,
    phase: Phase,
    phase_started_s: f64,
    last_base_j: f64,
    summary: Summary,
    order: Order,
    /// Console input not yet consumed by a phase.
    pending_input: Vec<String>,
}

impl<'a> Mission<'a> {
    /// A mission for `order`, recorded in `store`.
    pub fn begin(
        order: Order,
        settings: Settings,
        hw: &'a mut dyn Hardware,
        store: &'a mut Store,
        observer: &'a dyn Observer,
    ) -> Result<Self, MissionError> {
        let id = store.begin(
            &serde_json::to_string(&order).map_err(|e| MissionError::Store(e.to_string()))?,
        )?;
        let last_base_j = hw.base().energy_used_j();
        let now = hw.now_s();
        Ok(Self {
            interlocks: Interlocks::new(settings.exposure_radius_m),
            settings,
            hw,
            store,
            observer,
            id,
            phase: Phase::OrderReceived,
            phase_started_s: now,
            last_base_j,
            summary: Summary {
                mission: id,
                ..Summary::default()
            },
            order,
            pending_input: Vec::new(),
        })
    }

    /// The mission's id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The interlocks' rule state (for tests).
    pub fn interlocks(&self) -> &Interlocks {
        &self.interlocks
    }

    fn event(&mut self, kind: &str, detail: serde_json::Value) -> Result<(), MissionError> {
        let t = self.hw.now_s();
        self.store.record(self.id, t, self.phase, kind, &detail)
    }

    fn enter(&mut self, phase: Phase, line: &str) -> Result<(), MissionError> {
        let now = self.hw.now_s();
        *self.summary.ledger.seconds.entry(self.phase).or_default() += now - self.phase_started_s;
        self.phase = phase;
        self.phase_started_s = now;
        self.summary.phase = Some(phase);
        self.observer.phase(phase, now, line);
        self.hw.notice(&Notice::Phase(phase));
        self.event("phase", json!({ "line": line }))
    }

    fn say(&mut self, text: &str) -> Result<(), MissionError> {
        self.hw.speaker().say(text);
        self.summary.said.push(text.to_string());
        self.event("said", json!({ "text": text }))
    }

    /// One control tick: the interlocks, the clock, energy. Returns a stop or an interlock
    /// cut for the caller to act on.
    fn tick(&mut self) -> Result<Vec<Cut>, MissionError> {
        let cuts = self.interlocks.tick(self.hw);
        for c in &cuts {
            let what = format!("{c:?}");
            self.summary.cuts.push((self.hw.now_s(), what.clone()));
            self.event("interlock", json!({ "cut": what }))?;
        }
        let dt = self.settings.tick_s;
        let in_elevator = matches!(
            self.hw.base().progress(),
            DriveProgress::Driving {
                in_elevator: true,
                ..
            }
        );
        if self.settings.time_scale > 0.0 {
            std::thread::sleep(std::time::Duration::from_secs_f64(
                dt / self.settings.time_scale,
            ));
        }
        self.hw.advance(dt);
        let base_j = self.hw.base().energy_used_j();
        let drive_j = (base_j - self.last_base_j).max(0.0);
        self.last_base_j = base_j;
        let kind = if in_elevator {
            Spend::Elevator
        } else {
            Spend::Drive
        };
        self.summary.ledger.book(self.phase, kind, drive_j);
        self.hw.draw(drive_j);
        let idle = self.settings.idle_power_w * dt;
        self.summary.ledger.book(self.phase, Spend::Idle, idle);
        self.hw.draw(idle);
        // Typed or spoken input: a stop is obeyed at once, in every phase.
        while let Some(text) = self.hw.console() {
            self.event("heard", json!({ "text": text }))?;
            if let Understanding::Understood(p) = parse::parse(&text)
                && p.command == Command::Stop
            {
                self.interlocks.stop(self.hw, Origin::Voice);
                self.say("Stopped.")?;
                return Err(MissionError::Stopped(format!(
                    "{text:?} at {:.1} s",
                    self.hw.now_s()
                )));
            } else {
                self.pending_input.push(text);
            }
        }
        Ok(cuts)
    }
}

impl Mission<'_> {
    /// Books `wall_s` of computing in the current phase (and its energy), and advances the
    /// robot clock by it: the robot waits while its computer works.
    fn computed(&mut self, wall_s: f64) {
        *self.summary.ledger.compute_s.entry(self.phase).or_default() += wall_s;
        let j = self.settings.compute_power_w * wall_s;
        self.summary.ledger.book(self.phase, Spend::Compute, j);
        self.hw.draw(j);
        let ticks = (wall_s / self.settings.tick_s).ceil() as usize;
        for _ in 0..ticks {
            self.hw.advance(self.settings.tick_s);
        }
    }

    /// Waits (ticking) until `done` holds, or fails with `on_timeout` after the operator
    /// timeout.
    fn wait_until(
        &mut self,
        what: &str,
        mut done: impl FnMut(&mut Self) -> Result<bool, MissionError>,
    ) -> Result<(), MissionError> {
        let start = self.hw.now_s();
        loop {
            if done(self)? {
                return Ok(());
            }
            if self.hw.now_s() - start > self.settings.operator_timeout_s {
                return Err(MissionError::NotConfirmed(format!(
                    "waited {:.0} s for {what}",
                    self.settings.operator_timeout_s
                )));
            }
            self.tick()?;
        }
    }

    /// Takes the next console input that parses to a command.
    fn next_command(&mut self) -> Option<Command> {
        while !self.pending_input.is_empty() {
            let text = self.pending_input.remove(0);
            if let Understanding::Understood(p) = parse::parse(&text) {
                return Some(p.command);
            }
        }
        None
    }

    /// Drives to `goal` (a place name) through the interlocks, booking drive and elevator
    /// energy.
    fn drive(&mut self, from: &str, goal: &str) -> Result<f64, MissionError> {
        let (route, target) = {
            let nav = self.hw.navigator();
            let target = nav
                .resolve(goal, "goal")
                .map_err(|e| MissionError::BadOrder(e.to_string()))?;
            let route = nav
                .route(from, goal)
                .map_err(|e| MissionError::NoRoute(e.to_string()))?;
            (route, target)
        };
        self.interlocks
            .start_drive(self.hw, Origin::Operator, &route, &target)
            .map_err(denied)?;
        loop {
            self.tick()?;
            match self.hw.base().progress() {
                DriveProgress::Arrived => break,
                DriveProgress::Failed(why) => return Err(MissionError::DriveFailed(why)),
                DriveProgress::Halted => {
                    return Err(MissionError::Stopped(
                        "the base was halted on the way".into(),
                    ));
                }
                DriveProgress::Driving { .. } | DriveProgress::Idle => {}
            }
        }
        Ok(route.length_m)
    }

    /// Runs the whole mission. On failure the robot is left safe (beam off, base and gantry
    /// halted) and the failure with its recovery class is in the summary and the store.
    pub fn run(mut self, chain: &mut CtChain) -> Summary {
        let result = self.run_phases(chain);
        let now = self.hw.now_s();
        *self.summary.ledger.seconds.entry(self.phase).or_default() += now - self.phase_started_s;
        self.summary.total_s = now;
        if let Err(e) = result {
            chain.discontinue(&self.order);
            self.hw.beam().beam_off();
            self.hw.base().halt();
            self.hw.gantry().halt();
            let recovery = e.recovery();
            let text = e.to_string();
            self.observer.note(&format!(
                "failed in {}: {text} (recovery: {recovery})",
                self.phase
            ));
            let _ = self.event("failure", json!({ "error": text, "recovery": recovery }));
            self.summary.failure = Some((text, recovery));
            let _ = self.store.close(self.id, Phase::Failed);
            self.summary.phase = Some(Phase::Failed);
        } else {
            let _ = self.store.close(self.id, Phase::Done);
        }
        self.summary
    }

    fn run_phases(&mut self, chain: &mut CtChain) -> Result<(), MissionError> {
        let order = self.order.clone();
        self.enter(
            Phase::OrderReceived,
            &format!(
                "order from {}: {} scan, {} protocol, at {}",
                order.source,
                order.body_part.to_lowercase(),
                order.protocol,
                order.place
            ),
        )?;
        // The route there and back, and the battery for both (R12).
        let dock = self.settings.dock.clone();
        let (there, back) = {
            let nav = self.hw.navigator();
            let there = nav
                .route(&dock, &order.place)
                .map_err(|e| MissionError::NoRoute(e.to_string()))?;
            let back = nav
                .route(&order.place, &dock)
                .map_err(|e| MissionError::NoRoute(e.to_string()))?;
            (there, back)
        };
        let reserve = self.settings.battery_reserve * self.hw.battery().capacity_j();
        roboct_safety::check_departure(
            there.energy_j + back.energy_j,
            self.hw.battery().available_j(),
            reserve,
        )
        .map_err(|r| {
            MissionError::BatteryLow(format!(
                "{r} (needs {:.0} kJ there and back plus {:.0} kJ reserve, has {:.0} kJ)",
                (there.energy_j + back.energy_j) / 1e3,
                reserve / 1e3,
                self.hw.battery().available_j() / 1e3
            ))
        })?;
        self.summary.route_m = there.length_m;
        self.enter(
            Phase::RoutePlanned,
            &format!(
                "route to {}: {:.1} m, {:.0} s, {:.1} kJ expected; back {:.1} kJ; battery {:.0}%",
                order.place,
                there.length_m,
                there.time_s,
                there.energy_j / 1e3,
                back.energy_j / 1e3,
                100.0 * self.hw.battery().available_j() / self.hw.battery().capacity_j()
            ),
        )?;
        self.summary.route = Some(there);
        self.enter(Phase::Driving, &format!("driving to {}", order.place))?;
        self.drive(&dock, &order.place)?;
        self.enter(Phase::Arrived, &format!("at {}", order.place))?;
        // Identity: the wristband against the order.
        let wristband = self.hw.read_wristband();
        let ok = wristband
            .as_ref()
            .is_some_and(|id| id.expose() == order.patient_id.expose());
        self.interlocks.set_patient_verified(ok);
        if !ok {
            self.say("The patient's wristband does not match the order. I will not scan.")?;
            return Err(MissionError::PatientMismatch(match wristband {
                None => "no wristband could be read".into(),
                Some(_) => "the wristband's patient ID is not the order's".into(),
            }));
        }
        self.enter(Phase::PatientVerified, "wristband matches the order")?;
        // Dock the gantry at the bed and plan the scan.
        let target = chain.docking_target(self.hw.gantry().limits());
        self.interlocks
            .request(
                self.hw,
                Origin::Operator,
                Request::PositionGantry,
                Some(target),
            )
            .map_err(denied)?;
        self.wait_until("the gantry to reach the patient", |m| {
            Ok(!m.hw.gantry().is_moving())
        })?;
        // The scout: a low-dose exposure like any other, so confirmed, armed, the room
        // cleared and the switch pressed first.
        let target = match order.body_part.as_str() {
            "HEAD" => Target::Head,
            "CHEST" => Target::Chest,
            other => {
                return Err(MissionError::BadOrder(format!(
                    "body part {other:?}: this scanner scans HEAD or CHEST"
                )));
            }
        };
        let nominal = chain.plan(&order, None)?;
        self.enter(Phase::AwaitingConfirmation, "reading the scout back")?;
        self.say(&format!(
            "{} scan for the patient on the wristband, {} protocol. First a low-dose scout to find the {}. Say confirm to arm the scout.",
            order.body_part.to_lowercase(),
            order.protocol,
            target.organ()
        ))?;
        self.arm_and_wait_for_switch(None)?;
        self.interlocks
            .request(self.hw, Origin::Operator, Request::Expose, None)
            .map_err(denied)?;
        let t = Instant::now();
        let positioned = self.hw.position(target, chain.seed());
        self.hw.beam().beam_off();
        self.interlocks.disarm();
        self.hw.notice(&Notice::ScanFinished);
        let positioned = positioned?;
        self.computed(t.elapsed().as_secs_f64());
        self.event(
            "scout",
            json!({ "dlp_mgycm": positioned.scout_dlp_mgycm, "planned": positioned.outcome.is_ok() }),
        )?;
        if let Err(r) = &positioned.outcome {
            self.say(&format!("I cannot plan the scan: {}.", r.action()))?;
            return Err(MissionError::Positioning(r.clone()));
        }
        let plan = chain.plan(&order, Some(&positioned))?;
        self.enter(Phase::Positioned, &plan.describe())?;
        // The scan's readback and confirmation.
        self.enter(Phase::AwaitingConfirmation, "reading the plan back")?;
        self.say(&format!(
            "{} scan, {} protocol: CTDIvol {:.1} milligray, DLP {:.0} milligray centimetres{}. Say confirm to arm the scan.",
            order.body_part.to_lowercase(),
            order.protocol,
            plan.ctdi_vol_mgy,
            plan.dlp_mgycm,
            if plan.dlp_mgycm < nominal.dlp_mgycm {
                format!(
                    ", {:.0} percent less than a fixed range",
                    100.0 * (1.0 - plan.dlp_mgycm / nominal.dlp_mgycm)
                )
            } else {
                String::new()
            }
        ))?;
        self.arm_and_wait_for_switch(Some(plan.ctdi_vol_mgy))?;
        // The scan.
        self.enter(Phase::Scanning, "exposing")?;
        self.interlocks
            .request(self.hw, Origin::Operator, Request::Expose, None)
            .map_err(denied)?;
        let t = Instant::now();
        let scan = chain.scan(self, &plan);
        // The scan's ticks advanced the clock already: book only the computing.
        *self
            .summary
            .ledger
            .compute_s
            .entry(Phase::Scanning)
            .or_default() += t.elapsed().as_secs_f64();
        let scan = scan?;
        self.hw.beam().beam_off();
        self.interlocks.disarm();
        self.hw.notice(&Notice::ScanFinished);
        self.event(
            "dose",
            json!({ "ctdi_vol_mgy": scan.dose.ctdi_vol.0, "dlp_mgycm": scan.dose.dlp.0 }),
        )?;
        let people = self.hw.people();
        self.event("people_dose", json!(people.iter().map(|p| json!({"id": p.id, "role": p.role, "distance_m": p.distance_m, "ugy": crate::ct::scatter_ugy(scan.dose.dlp.0, p.distance_m)})).collect::<Vec<_>>()))?;
        // Reconstruction (streamed to the PACS), diagnosis, reports.
        self.enter(
            Phase::Reconstructing,
            "reconstructing and sending slices as they come",
        )?;
        let dose = scan.dose.clone();
        let t = Instant::now();
        let mut ct = chain.reconstruct(&order, &plan, scan, self.observer)?;
        self.computed(t.elapsed().as_secs_f64());
        self.event(
            "reconstructed",
            json!({ "images": ct.images, "sent": ct.sent, "first_slice_s": ct.first_slice_s }),
        )?;
        self.enter(Phase::Diagnosing, "reading the images")?;
        let t = Instant::now();
        let dx = chain.diagnose(&order, &mut ct)?;
        self.computed(t.elapsed().as_secs_f64());
        self.observer.note(&ct.diagnosis_line());
        self.event("diagnosis", json!({ "findings": ct.findings }))?;
        self.enter(
            Phase::Reporting,
            "dose SR, findings SR, delivery to the PACS",
        )?;
        let t = Instant::now();
        chain.report(&order, &dose, dx.as_ref(), &mut ct)?;
        self.computed(t.elapsed().as_secs_f64());
        self.observer.note(&ct.reporting_line());
        self.event(
            "reported",
            json!({ "sent": ct.sent, "pending": ct.pending }),
        )?;
        if !ct.findings.is_empty() && dx.as_ref().is_some_and(|d| d.positive()) {
            self.say("The automatic reading found a possible haemorrhage. Please have a radiologist review it now.")?;
        }
        self.summary.ct = Some(ct);
        // Home.
        self.interlocks
            .request(self.hw, Origin::Operator, Request::ParkGantry, None)
            .map_err(denied)?;
        self.wait_until("the gantry to park", |m| Ok(m.hw.gantry().is_parked()))?;
        self.enter(Phase::Returning, "returning to the dock")?;
        let place = order.place.clone();
        self.drive(&place, &dock)?;
        self.enter(Phase::Done, "back at the dock")?;
        Ok(())
    }

    /// Waits for "confirm", arms (with the dose notification for `ctdi_vol_mgy`, when a scan),
    /// announces the exposure, asks the people near to step out, and waits until the room is
    /// clear and the exposure switch is pressed.
    fn arm_and_wait_for_switch(&mut self, ctdi_vol_mgy: Option<f64>) -> Result<(), MissionError> {
        self.hw.notice(&Notice::Prompt("confirm".into()));
        self.wait_for_confirm("the confirmation")?;
        self.interlocks
            .request(self.hw, Origin::Voice, Request::Arm, None)
            .map_err(denied)?;
        let limit = if self.order.body_part == "HEAD" {
            self.settings.notification_head_mgy
        } else {
            self.settings.notification_body_mgy
        };
        let over = ctdi_vol_mgy.is_some_and(|c| c > limit);
        self.interlocks.set_dose_notification(over);
        if let Some(c) = ctdi_vol_mgy.filter(|_| over) {
            self.say(&format!(
                "The planned CTDIvol of {c:.0} milligray is over the notification value of {limit:.0}. Say confirm again to accept this dose."
            ))?;
            self.hw.notice(&Notice::Prompt("confirm dose".into()));
            self.wait_for_confirm("the dose acknowledgement")?;
            self.interlocks
                .request(self.hw, Origin::Voice, Request::AcknowledgeDose, None)
                .map_err(denied)?;
        }
        self.event(
            "armed",
            json!({ "ctdi_vol_mgy": ctdi_vol_mgy, "notification": over }),
        )?;
        self.say("X-ray soon. Everyone but the patient, please step out of the room.")?;
        let radius = self.settings.exposure_radius_m;
        self.hw.ask_to_leave(radius);
        self.hw.notice(&Notice::Armed);
        self.wait_until("the room to clear and the exposure switch", |m| {
            let s = m.interlocks.state();
            Ok(s.room_clear && s.exposure_switch_held && s.switch_pressed_after_arm)
        })
    }

    fn wait_for_confirm(&mut self, what: &str) -> Result<(), MissionError> {
        let w = what.to_string();
        self.wait_until(&w, |m| match m.next_command() {
            Some(Command::Confirm) => Ok(true),
            Some(Command::Cancel) => Err(MissionError::NotConfirmed("cancelled".into())),
            _ => Ok(false),
        })
    }

    /// One tick during an exposure (called by the CT chain for every tick of the rotation).
    pub(crate) fn exposure_tick(&mut self) -> Result<bool, MissionError> {
        let cuts = self.tick()?;
        if cuts.contains(&Cut::Beam) || !self.hw.beam().is_on() {
            return Ok(false);
        }
        Ok(true)
    }

    /// The hardware (for the CT chain).
    pub(crate) fn hardware(&mut self) -> &mut dyn Hardware {
        self.hw
    }

    /// Books X-ray energy.
    pub(crate) fn book_xray(&mut self, j: f64) {
        self.summary.ledger.book(self.phase, Spend::Xray, j);
        self.hw.draw(j);
    }

    /// The settings.
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }
}

fn denied(d: Denied) -> MissionError {
    match d {
        Denied::Refused(r) => MissionError::Stopped(r.to_string()),
        Denied::Hardware(h) => MissionError::Hardware(h),
    }
}
