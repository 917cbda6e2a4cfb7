//! The simulated robot: every hardware trait implemented on a simulated clock with the nav,
//! scanner and phantom crates.
//!
//! * [`SimBase`]: drives a route planned by `roboct_nav` through its driving simulation
//!   (controller, doors, elevators, obstacles), computed when the drive starts and then
//!   played tick by tick, so a halt stops the base where it is and a resume continues.
//! * [`SimGantry`]: three axes moving at their speeds towards a target, within their reach.
//! * [`SimTube`]: the scanner's simulated tube with a beam switch that refuses pulses while
//!   off.
//! * [`SimSwitch`], [`SimBattery`], [`SimSpeaker`] (records what is said), [`SimRoom`]
//!   (people who walk out when asked).

use roboct_nav::drive::{DriveOptions, DriveReport, DriveStatus, DynamicObstacle, simulate};
use roboct_nav::geom::Pose;
use roboct_nav::plan::{Navigator, Route, Target};
use roboct_scanner::ScannerError;
use roboct_scanner::Spectrum;
use roboct_scanner::acquire::{SimulatedTube, XRayTube};

use crate::hardware::{
    Battery, BeamControl, DriveBase, DriveProgress, ExposureSwitch, Gantry, GantryAxes,
    GantryLimits, HardwareError, Person, RoomSensor, Speaker,
};

/// The simulated clock, seconds since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SimClock {
    /// Seconds.
    pub t_s: f64,
}

/// A drive under way.
struct Drive {
    report: DriveReport,
    /// Index of the current trajectory point.
    at: usize,
    /// Driving time since the start, halts not counted.
    t_s: f64,
    length_m: f64,
}

impl Drive {
    fn energy_so_far_j(&self) -> f64 {
        self.report.energy_j * (self.t_s / self.report.time_s.max(1e-9)).min(1.0)
    }
}

enum BaseState {
    Idle,
    Driving(Drive),
    Halted(Drive),
    Arrived,
    Failed(String),
}

/// The simulated drive base.
pub struct SimBase {
    nav: Navigator,
    /// Where it stands when not on a drive.
    standing: (i32, Pose),
    state: BaseState,
    /// Energy of the drives finished.
    energy_done_j: f64,
    options: DriveOptions,
    obstacles: Vec<DynamicObstacle>,
}

impl SimBase {
    /// A base standing at `start` on `nav`'s site.
    pub fn new(nav: Navigator, start: (i32, Pose), options: DriveOptions) -> Self {
        Self {
            nav,
            standing: start,
            state: BaseState::Idle,
            energy_done_j: 0.0,
            options,
            obstacles: Vec::new(),
        }
    }

    /// The navigator (for planning and place names).
    pub fn navigator(&mut self) -> &mut Navigator {
        &mut self.nav
    }

    /// Obstacles the next drives will meet (times from each drive's start).
    pub fn set_obstacles(&mut self, obstacles: Vec<DynamicObstacle>) {
        self.obstacles = obstacles;
    }

    /// Advances the base by `dt_s`.
    pub fn tick(&mut self, dt_s: f64) {
        let BaseState::Driving(d) = &mut self.state else {
            return;
        };
        d.t_s += dt_s;
        let traj = &d.report.trajectory;
        while d.at + 1 < traj.len() && traj[d.at + 1].t_s <= d.t_s {
            d.at += 1;
        }
        if d.at + 1 < traj.len() {
            return;
        }
        let last = traj[traj.len() - 1];
        self.standing = (last.floor, last.pose);
        self.energy_done_j += d.report.energy_j;
        self.state = match &d.report.status {
            DriveStatus::Arrived => BaseState::Arrived,
            DriveStatus::GaveUp { reason, .. } => BaseState::Failed(reason.clone()),
        };
    }
}

impl DriveBase for SimBase {
    fn location(&self) -> (i32, Pose) {
        match &self.state {
            BaseState::Driving(d) | BaseState::Halted(d) => {
                let p = d.report.trajectory[d.at];
                (p.floor, p.pose)
            }
            _ => self.standing,
        }
    }

    fn is_moving(&self) -> bool {
        matches!(self.state, BaseState::Driving(_))
    }

    fn start_route(&mut self, route: &Route, goal: &Target) -> Result<(), HardwareError> {
        if matches!(self.state, BaseState::Driving(_) | BaseState::Halted(_)) {
            return Err(HardwareError::Busy {
                device: "drive base",
                message: "already on a drive".into(),
            });
        }
        let report = simulate(&mut self.nav, route, goal, &self.obstacles, self.options);
        if report.trajectory.is_empty() {
            return Err(HardwareError::Fault {
                device: "drive base",
                message: "the drive simulation produced no trajectory".into(),
            });
        }
        self.state = BaseState::Driving(Drive {
            report,
            at: 0,
            t_s: 0.0,
            length_m: route.length_m,
        });
        Ok(())
    }

    fn resume(&mut self) -> Result<(), HardwareError> {
        match std::mem::replace(&mut self.state, BaseState::Idle) {
            BaseState::Halted(d) => {
                self.state = BaseState::Driving(d);
                Ok(())
            }
            other => {
                self.state = other;
                Err(HardwareError::Busy {
                    device: "drive base",
                    message: "no halted drive to resume".into(),
                })
            }
        }
    }

    fn halt(&mut self) {
        if let BaseState::Driving(d) = std::mem::replace(&mut self.state, BaseState::Idle) {
            self.state = BaseState::Halted(d);
        } else if let BaseState::Idle = self.state {
            // Nothing was moving.
        }
    }

    fn progress(&self) -> DriveProgress {
        match &self.state {
            BaseState::Idle => DriveProgress::Idle,
            BaseState::Arrived => DriveProgress::Arrived,
            BaseState::Failed(r) => DriveProgress::Failed(r.clone()),
            BaseState::Halted(_) => DriveProgress::Halted,
            BaseState::Driving(d) => DriveProgress::Driving {
                remaining_m: d.length_m * (1.0 - d.t_s / d.report.time_s.max(1e-9)).max(0.0),
                in_elevator: d.report.trajectory[d.at].elevator.is_some(),
            },
        }
    }

    fn energy_used_j(&self) -> f64 {
        self.energy_done_j
            + match &self.state {
                BaseState::Driving(d) | BaseState::Halted(d) => d.energy_so_far_j(),
                _ => 0.0,
            }
    }
}

/// The simulated gantry.
#[derive(Clone, Debug)]
pub struct SimGantry {
    axes: GantryAxes,
    target: GantryAxes,
    limits: GantryLimits,
}

impl SimGantry {
    /// roboct's gantry: 600 mm of travel along the bed, the bore's centre 550 to 1200 mm above
    /// the floor, +-20 degrees of yaw; 50 mm/s, 40 mm/s and 5 deg/s; parked at travel 0, lift
    /// 700 mm, yaw 0.
    pub fn roboct() -> Self {
        let parked = GantryAxes {
            travel_mm: 0.0,
            lift_mm: 700.0,
            yaw_deg: 0.0,
        };
        Self {
            axes: parked,
            target: parked,
            limits: GantryLimits {
                travel_mm: (0.0, 600.0),
                lift_mm: (550.0, 1200.0),
                yaw_deg: (-20.0, 20.0),
                speed: (50.0, 40.0, 5.0),
                parked,
            },
        }
    }

    /// Advances the axes by `dt_s` towards their target.
    pub fn tick(&mut self, dt_s: f64) {
        let step = |from: f64, to: f64, speed: f64| {
            let d = to - from;
            if d.abs() <= speed * dt_s {
                to
            } else {
                from + d.signum() * speed * dt_s
            }
        };
        let (st, sl, sy) = self.limits.speed;
        self.axes = GantryAxes {
            travel_mm: step(self.axes.travel_mm, self.target.travel_mm, st),
            lift_mm: step(self.axes.lift_mm, self.target.lift_mm, sl),
            yaw_deg: step(self.axes.yaw_deg, self.target.yaw_deg, sy),
        };
    }
}

impl Gantry for SimGantry {
    fn axes(&self) -> GantryAxes {
        self.axes
    }
    fn limits(&self) -> GantryLimits {
        self.limits
    }
    fn is_moving(&self) -> bool {
        self.axes != self.target
    }
    fn is_parked(&self) -> bool {
        self.axes == self.limits.parked
    }
    fn move_to(&mut self, target: GantryAxes) -> Result<(), HardwareError> {
        self.limits.check(&target)?;
        self.target = target;
        Ok(())
    }
    fn halt(&mut self) {
        self.target = self.axes;
    }
}

/// The simulated tube: the scanner's spectrum and mAs counter, and a beam switch.
pub struct SimTube {
    tube: SimulatedTube,
    on: bool,
    /// Seconds the beam has been on.
    pub on_s: f64,
}

impl SimTube {
    /// A tube making `spectrum`.
    pub fn new(spectrum: Spectrum) -> Self {
        Self {
            tube: SimulatedTube::new(spectrum),
            on: false,
            on_s: 0.0,
        }
    }

    /// Advances the beam clock.
    pub fn tick(&mut self, dt_s: f64) {
        if self.on {
            self.on_s += dt_s;
        }
    }
}

impl BeamControl for SimTube {
    fn beam_on(&mut self) -> Result<(), HardwareError> {
        self.on = true;
        Ok(())
    }
    fn beam_off(&mut self) {
        self.on = false;
    }
    fn is_on(&self) -> bool {
        self.on
    }
}

impl XRayTube for SimTube {
    fn spectrum(&self) -> &Spectrum {
        self.tube.spectrum()
    }
    fn expose(&mut self, mas: f64) -> Result<f64, ScannerError> {
        if !self.on {
            // The generator's own interlock: no pulse with the beam switched off.
            return Ok(0.0);
        }
        self.tube.expose(mas)
    }
    fn delivered_mas(&self) -> f64 {
        self.tube.delivered_mas()
    }
}

/// The operator's exposure switch, pressed and released by the operator's script or a test.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimSwitch {
    /// Held down.
    pub held: bool,
}

impl ExposureSwitch for SimSwitch {
    fn is_held(&self) -> bool {
        self.held
    }
}

/// The simulated battery: energy drawn by the mission's accounting.
#[derive(Clone, Copy, Debug)]
pub struct SimBattery {
    /// Capacity, J.
    pub capacity_j: f64,
    /// Drawn, J.
    pub drawn_j: f64,
}

impl SimBattery {
    /// A battery of `capacity_j` at `soc` (0..1).
    pub fn new(capacity_j: f64, soc: f64) -> Self {
        Self {
            capacity_j,
            drawn_j: capacity_j * (1.0 - soc.clamp(0.0, 1.0)),
        }
    }
}

impl Battery for SimBattery {
    fn available_j(&self) -> f64 {
        (self.capacity_j - self.drawn_j).max(0.0)
    }
    fn capacity_j(&self) -> f64 {
        self.capacity_j
    }
}

/// The simulated loudspeaker: remembers what was said and when.
#[derive(Clone, Debug, Default)]
pub struct SimSpeaker {
    /// (simulated time, text).
    pub said: Vec<(f64, String)>,
    /// The clock the lines are stamped with.
    pub now_s: f64,
}

impl Speaker for SimSpeaker {
    fn say(&mut self, text: &str) {
        self.said.push((self.now_s, text.to_string()));
    }
}

/// A simulated person near the scanner.
#[derive(Clone, Debug, PartialEq)]
pub struct SimPerson {
    /// The room sensor's view.
    pub person: Person,
    /// Walks out at this speed when asked, m/s (0: stays).
    pub leaves_at_mps: f64,
    /// Asked to leave at this time.
    pub asked_at_s: Option<f64>,
    /// Where they stop walking away, m.
    pub stops_at_m: f64,
    /// Their estimated dose from the scans made while they were near, uGy.
    pub dose_ugy: f64,
}

/// The people around the scanner.
#[derive(Clone, Debug, Default)]
pub struct SimRoom {
    /// Everyone the sensor sees.
    pub people: Vec<SimPerson>,
}

impl SimRoom {
    /// Asks everyone within `radius_m` to step out.
    pub fn ask_to_leave(&mut self, radius_m: f64, now_s: f64) {
        for p in &mut self.people {
            if p.person.distance_m < radius_m && p.asked_at_s.is_none() {
                p.asked_at_s = Some(now_s);
            }
        }
    }

    /// Advances the people by `dt_s`.
    pub fn tick(&mut self, dt_s: f64) {
        for p in &mut self.people {
            if p.asked_at_s.is_some() && p.person.distance_m < p.stops_at_m {
                p.person.distance_m =
                    (p.person.distance_m + p.leaves_at_mps * dt_s).min(p.stops_at_m);
            }
        }
    }
}

impl RoomSensor for SimRoom {
    fn people(&self) -> Vec<Person> {
        self.people.iter().map(|p| p.person.clone()).collect()
    }
}
