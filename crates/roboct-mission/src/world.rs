//! The robot as the mission sees it: every device behind one [`Hardware`] trait, and the
//! simulated robot ([`SimWorld`]) that implements it with the simulated devices, a simulated
//! patient and a simulated operator.

use roboct_core::Phi;
use roboct_core::frames::Pose;
use roboct_geometry::ScanGeometry;
use roboct_nav::drive::DriveOptions;
use roboct_nav::plan::Navigator;
use roboct_phantom::patient::Patient;
use roboct_positioning::Target;
use roboct_positioning::pipeline::{Positioned, SimulationOptions, position_simulated};
use roboct_positioning::sim::SimPatient;
use roboct_scanner::acquire::{SimulatedDetector, XRayDetector, XRayTube};
use roboct_scanner::patient::AnalyticPatient;
use roboct_scanner::physics::Response;
use roboct_scanner::{ScannerSpec, Spectrum};

use crate::hardware::{
    Battery, BeamControl, DriveBase, ExposureSwitch, Gantry, HardwareError, Person, RoomSensor,
    Speaker,
};
use crate::phase::MissionError;
use crate::sim::{
    SimBase, SimBattery, SimClock, SimGantry, SimPerson, SimRoom, SimSpeaker, SimSwitch, SimTube,
};

/// The simulated robot's battery: 2 kWh (a 260 kg mobile CT's pack is of this order).
pub const BATTERY_J: f64 = 7.2e6;

/// What the mission tells the people and machines around it (a real robot shows it on its
/// console; the simulated operator reacts to it).
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// A phase started.
    Phase(crate::phase::Phase),
    /// A question to the staff (`confirm`, `confirm dose`).
    Prompt(String),
    /// The scan is armed: the exposure switch may be pressed.
    Armed,
    /// The scan is done: the switch may be released.
    ScanFinished,
}

/// Every device of the robot, and its clock.
pub trait Hardware {
    /// Seconds since the mission's start, on the robot's clock.
    fn now_s(&self) -> f64;
    /// Waits one control tick of `dt_s` (a real robot sleeps; the simulator advances).
    fn advance(&mut self, dt_s: f64);
    /// The drive base.
    fn base(&mut self) -> &mut dyn DriveBase;
    /// The gantry.
    fn gantry(&mut self) -> &mut dyn Gantry;
    /// The generator's beam switch.
    fn beam(&mut self) -> &mut dyn BeamControl;
    /// The tube (pulses per view).
    fn tube(&mut self) -> &mut dyn XRayTube;
    /// The detector set up for a scan of `geometry` (a real detector is always there; the
    /// simulator makes one that sees its patient).
    fn detector(
        &mut self,
        geometry: &ScanGeometry,
        response: &Response,
        seed: u64,
    ) -> Result<Box<dyn XRayDetector>, HardwareError>;
    /// Whether the exposure switch is held.
    fn switch_held(&self) -> bool;
    /// The battery.
    fn battery(&self) -> &dyn Battery;
    /// Draws `j` from the battery for something the base does not account (compute, X-ray,
    /// idle).
    fn draw(&mut self, j: f64);
    /// The loudspeaker.
    fn speaker(&mut self) -> &mut dyn Speaker;
    /// The room sensor.
    fn people(&self) -> Vec<Person>;
    /// Asks everyone within `radius_m` to step out (the announcement was made).
    fn ask_to_leave(&mut self, radius_m: f64);
    /// Reads the patient's wristband at the bedside (None: no wristband found).
    fn read_wristband(&mut self) -> Option<Phi<String>>;
    /// The navigator of the site (planning, place names).
    fn navigator(&mut self) -> &mut Navigator;
    /// Tells the console (and the simulated operator) what happens.
    fn notice(&mut self, notice: &Notice);
    /// Text typed or recognised from speech since the last call, one utterance at a time.
    fn console(&mut self) -> Option<String>;
    /// Docks the gantry against the bed and takes the low-dose scout of `target` (an
    /// exposure: called only with the beam allowed by the interlocks), and finds the anatomy
    /// and plans the scan from it. A real device runs
    /// `roboct_positioning::pipeline::position` on its implementation of
    /// `roboct_positioning::pipeline::Bedside`; the simulator runs the same pipeline on its
    /// simulated bedside, where the patient lies as [`SimWorld::pose`] says.
    fn position(&mut self, target: Target, seed: u64) -> Result<Positioned, HardwareError>;
}

/// What the simulated operator does, so a mission runs on its own (the demo) or misbehaves
/// on purpose (tests).
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorScript {
    /// Seconds after a request to confirm until the operator says "confirm".
    pub confirm_after_s: Option<f64>,
    /// Seconds after the scan is armed until the operator presses the exposure switch.
    pub press_after_s: Option<f64>,
    /// Holds the switch this long at most, s (None: until the scan ends).
    pub release_after_s: Option<f64>,
    /// Holds the switch before the scan is armed (a mistake R9 must catch).
    pub press_before_arming: bool,
}

impl Default for OperatorScript {
    fn default() -> Self {
        Self {
            confirm_after_s: Some(2.0),
            press_after_s: Some(1.0),
            release_after_s: None,
            press_before_arming: false,
        }
    }
}

/// The simulated robot with its patient.
pub struct SimWorld {
    /// The clock.
    pub clock: SimClock,
    /// The base.
    pub base: SimBase,
    /// The gantry.
    pub gantry: SimGantry,
    /// The tube.
    pub tube: SimTube,
    /// The exposure switch.
    pub switch: SimSwitch,
    /// The battery.
    pub battery: SimBattery,
    /// The loudspeaker.
    pub speaker: SimSpeaker,
    /// The people around.
    pub room: SimRoom,
    /// The patient in the bed (in the scanner's frame once the gantry is positioned).
    pub patient: Option<Patient>,
    /// The patient's ID on the wristband.
    pub wristband: Option<Phi<String>>,
    /// The operator.
    pub operator: OperatorScript,
    /// Console input waiting to be read, with the time it is typed.
    pub console_queue: Vec<(f64, String)>,
    /// Scheduled switch changes (time, held).
    pub switch_plan: Vec<(f64, bool)>,
    /// How the patient lies on the bed and where the robot really stopped (for the scout).
    pub pose: SimulationOptions,
    /// The patient as the scanner sees it after positioning (the scan images this one).
    pub positioned: Option<Patient>,
}

impl SimWorld {
    /// A simulated robot standing at the place `dock` of `navigator`'s site, its battery at
    /// `soc` of 2 kWh, with `patient` in the bed (in the scanner's frame once the gantry is
    /// docked) wearing `wristband`, nobody else around, and the default operator.
    pub fn new(
        navigator: Navigator,
        dock: &str,
        patient: Option<Patient>,
        wristband: Option<Phi<String>>,
        soc: f64,
    ) -> Result<Self, MissionError> {
        let start = navigator
            .resolve(dock, "start")
            .map_err(|e| MissionError::BadOrder(format!("the dock {dock:?}: {e}")))?;
        let pose = Pose::new(
            start.point.x,
            start.point.y,
            start.heading_rad.unwrap_or(0.0),
        );
        let spec = ScannerSpec::mobile_head();
        let spectrum = Spectrum::tungsten(120.0, spec.filtration)
            .map_err(|e| MissionError::Imaging(e.to_string()))?;
        Ok(Self {
            clock: SimClock::default(),
            base: SimBase::new(navigator, (start.floor, pose), DriveOptions::default()),
            gantry: SimGantry::roboct(),
            tube: SimTube::new(spectrum),
            switch: SimSwitch::default(),
            battery: SimBattery::new(BATTERY_J, soc),
            speaker: SimSpeaker::default(),
            room: SimRoom::default(),
            patient,
            wristband,
            operator: OperatorScript::default(),
            console_queue: Vec::new(),
            switch_plan: Vec::new(),
            pose: SimulationOptions::default(),
            positioned: None,
        })
    }

    /// Adds the people a ward has at a bedside: a nurse at 1.2 m and a visitor at 0.8 m, who
    /// walk out at 0.8 m/s when asked and stop 5 m away.
    pub fn with_bedside_people(mut self) -> Self {
        for (id, role, distance_m) in [(1, "staff", 1.2), (2, "visitor", 0.8)] {
            self.room.people.push(SimPerson {
                person: Person {
                    id,
                    role: role.into(),
                    distance_m,
                },
                leaves_at_mps: 0.8,
                asked_at_s: None,
                stops_at_m: 5.0,
                dose_ugy: 0.0,
            });
        }
        self
    }

    /// Types (or says) `text` at robot time `at_s`.
    pub fn type_at(&mut self, at_s: f64, text: &str) {
        self.console_queue.push((at_s, text.to_string()));
    }

    /// Advances every device by `dt_s`.
    pub fn step(&mut self, dt_s: f64) {
        self.clock.t_s += dt_s;
        let now = self.clock.t_s;
        self.switch_plan.sort_by(|a, b| a.0.total_cmp(&b.0));
        while let Some(&(t, held)) = self.switch_plan.first() {
            if t > now {
                break;
            }
            self.switch.held = held;
            self.switch_plan.remove(0);
        }
        // The exposure switch is wired into the generator's interlock chain (a dead-man
        // switch, as on every CT console): letting it go cuts the beam in hardware, before
        // any software sees it.
        if !self.switch.held {
            self.tube.beam_off();
        }
        self.base.tick(dt_s);
        self.gantry.tick(dt_s);
        self.tube.tick(dt_s);
        self.room.tick(dt_s);
        self.speaker.now_s = self.clock.t_s;
    }
}

impl Hardware for SimWorld {
    fn now_s(&self) -> f64 {
        self.clock.t_s
    }
    fn advance(&mut self, dt_s: f64) {
        self.step(dt_s);
    }
    fn base(&mut self) -> &mut dyn DriveBase {
        &mut self.base
    }
    fn gantry(&mut self) -> &mut dyn Gantry {
        &mut self.gantry
    }
    fn beam(&mut self) -> &mut dyn BeamControl {
        &mut self.tube
    }
    fn tube(&mut self) -> &mut dyn XRayTube {
        &mut self.tube
    }
    fn detector(
        &mut self,
        geometry: &ScanGeometry,
        response: &Response,
        seed: u64,
    ) -> Result<Box<dyn XRayDetector>, HardwareError> {
        let patient = self
            .positioned
            .as_ref()
            .or(self.patient.as_ref())
            .ok_or_else(|| HardwareError::Fault {
                device: "detector",
                message: "no patient in the simulated bed".into(),
            })?;
        let d = SimulatedDetector::new(
            geometry,
            &AnalyticPatient {
                patient,
                supersample: 1,
            },
            response.clone(),
            seed,
            &roboct_core::NoProgress,
        )
        .map_err(|e| HardwareError::Fault {
            device: "detector",
            message: e.to_string(),
        })?;
        Ok(Box::new(d))
    }
    fn switch_held(&self) -> bool {
        self.switch.is_held()
    }
    fn battery(&self) -> &dyn Battery {
        &self.battery
    }
    fn draw(&mut self, j: f64) {
        self.battery.drawn_j += j.max(0.0);
    }
    fn speaker(&mut self) -> &mut dyn Speaker {
        &mut self.speaker
    }
    fn people(&self) -> Vec<Person> {
        self.room.people()
    }
    fn ask_to_leave(&mut self, radius_m: f64) {
        self.room.ask_to_leave(radius_m, self.clock.t_s);
    }
    fn read_wristband(&mut self) -> Option<Phi<String>> {
        self.wristband.clone()
    }
    fn navigator(&mut self) -> &mut Navigator {
        self.base.navigator()
    }
    fn notice(&mut self, notice: &Notice) {
        let now = self.clock.t_s;
        let op = self.operator.clone();
        match notice {
            Notice::Prompt(_) => {
                if let Some(d) = op.confirm_after_s {
                    self.console_queue.push((now + d, "confirm".into()));
                }
                if op.press_before_arming && !self.switch.held {
                    self.switch_plan.push((now, true));
                }
            }
            Notice::Armed => {
                if let Some(d) = op.press_after_s {
                    if self.switch.held {
                        // Release first: a switch held from before does not count (R9).
                        self.switch_plan.push((now + d, false));
                        self.switch_plan.push((now + 2.0 * d, true));
                    } else {
                        self.switch_plan.push((now + d, true));
                    }
                    if let Some(r) = op.release_after_s {
                        self.switch_plan.push((now + d + r, false));
                    }
                }
            }
            Notice::ScanFinished => self.switch_plan.push((now, false)),
            Notice::Phase(_) => {}
        }
    }
    fn console(&mut self) -> Option<String> {
        let now = self.clock.t_s;
        let i = self.console_queue.iter().position(|(t, _)| *t <= now)?;
        Some(self.console_queue.remove(i).1)
    }
    fn position(&mut self, target: Target, seed: u64) -> Result<Positioned, HardwareError> {
        let fault = |message: String| HardwareError::Fault {
            device: "bedside",
            message,
        };
        let patient = self
            .patient
            .clone()
            .ok_or_else(|| fault("no patient in the simulated bed".into()))?;
        let options = SimulationOptions {
            seed,
            ..self.pose.clone()
        };
        let p = position_simulated(patient, target, &options).map_err(|e| fault(e.to_string()))?;
        if p.outcome.is_ok()
            && let SimPatient::Analytic(seen) = &p.patient_in_scanner
        {
            self.positioned = Some(seen.clone());
        }
        Ok(p)
    }
}
