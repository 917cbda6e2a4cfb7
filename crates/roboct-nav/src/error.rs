//! Errors: one enum for loading maps and sites, one for option and model values, one for
//! elevator rides, one for planning on a floor, one for planning a route. Each answers
//! [`Recover::recovery`] in one exhaustive `match`.

use std::path::PathBuf;

use roboct_core::{Recover, Recovery};

use crate::fmt_m;
use crate::geom::{Point, Pose};

/// A map or site file could not be loaded, checked or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// A file could not be read.
    #[error("cannot read {file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {file}: {source}")]
    Write {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A YAML file is not valid YAML or lacks a field or has one of the wrong type.
    #[error("{file}: {message}")]
    Yaml {
        /// The file.
        file: PathBuf,
        /// The parser's message, which names the field and line.
        message: String,
    },
    /// A field has a value out of its range.
    #[error("{file}: field `{field}` must be {expected}, got {got}")]
    Field {
        /// The file.
        file: PathBuf,
        /// The field.
        field: &'static str,
        /// What was expected.
        expected: String,
        /// What the file holds.
        got: String,
    },
    /// The map image named by a YAML file is missing or cannot be decoded.
    #[error("map image {image} (named by `image` in {yaml}): {message}")]
    Image {
        /// The image file.
        image: PathBuf,
        /// The YAML file that names it.
        yaml: PathBuf,
        /// Why it cannot be used.
        message: String,
    },
    /// The map has more cells than this machine's memory allows.
    #[error(
        "map {file} is {width} x {height} cells ({cells} cells, about {gib:.1} GiB to plan on), more than the {max_cells} cells this machine's free memory allows; crop the map or lower its resolution"
    )]
    TooLarge {
        /// The image (or `<new grid>`).
        file: String,
        /// Cells along x.
        width: usize,
        /// Cells along y.
        height: usize,
        /// `width * height`.
        cells: u128,
        /// Memory the navigation stack would need.
        gib: f64,
        /// The limit.
        max_cells: u64,
    },
    /// A site (semantic layer) file has an inconsistent entry.
    #[error("{file}: {item}: {message}")]
    Site {
        /// The file.
        file: PathBuf,
        /// The entry (`place "ward-3/bed-12"`, `elevator "lift-A"`, `floor 2`).
        item: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A picture could not be written.
    #[error("cannot write {file}: {source}")]
    Picture {
        /// The file.
        file: PathBuf,
        /// Why.
        source: image::ImageError,
    },
}

impl Recover for MapError {
    fn recovery(&self) -> Recovery {
        match self {
            // A file system that failed may work again (a full disk, a mount that came back).
            MapError::Read { .. } | MapError::Write { .. } | MapError::Picture { .. } => {
                Recovery::Retry
            }
            // The files themselves are wrong: nothing to do but fix them.
            MapError::Yaml { .. }
            | MapError::Field { .. }
            | MapError::Image { .. }
            | MapError::TooLarge { .. }
            | MapError::Site { .. } => Recovery::Abort,
        }
    }
}

impl MapError {
    /// [`MapError::TooLarge`] for a `width` x `height` grid (named `file`) over `max_cells`,
    /// with the memory it would need.
    pub fn too_large(file: &str, width: usize, height: usize, max_cells: u64) -> Self {
        let cells = width as u128 * height as u128;
        Self::TooLarge {
            file: file.to_string(),
            width,
            height,
            cells,
            gib: cells as f64 * crate::map::BYTES_PER_CELL as f64 / (1u64 << 30) as f64,
            max_cells,
        }
    }
}

/// A robot model value, planner option or drive option out of its range.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionError {
    /// A field out of its range.
    #[error("{field} must be {expected}, got {got}")]
    OutOfRange {
        /// The field (`limits.max_speed_mps`, `drive.dt_s`).
        field: String,
        /// The range expected.
        expected: String,
        /// The value found.
        got: String,
    },
    /// The robot's footprint is unusable.
    #[error("footprint {0}")]
    Footprint(&'static str),
}

impl OptionError {
    pub(crate) fn out_of_range(field: &str, expected: impl Into<String>, got: String) -> Self {
        OptionError::OutOfRange {
            field: field.to_string(),
            expected: expected.into(),
            got,
        }
    }

    /// The same error with its field inside `group` (`drive` makes `dt_s` `drive.dt_s`).
    pub(crate) fn within(self, group: &str) -> Self {
        match self {
            OptionError::OutOfRange {
                field,
                expected,
                got,
            } => OptionError::OutOfRange {
                field: format!("{group}.{field}"),
                expected,
                got,
            },
            other => other,
        }
    }
}

impl Recover for OptionError {
    fn recovery(&self) -> Recovery {
        match self {
            OptionError::OutOfRange { .. } | OptionError::Footprint(_) => Recovery::Abort,
        }
    }
}

/// An elevator ride that does not fit the robot.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RideError {
    /// The site has no elevator of that number.
    #[error("no elevator number {0}")]
    NoElevator(usize),
    /// A floor of the ride is not in the site.
    #[error("floor {from} or {to} is not in the site")]
    NoFloor {
        /// The floor the ride starts from.
        from: i32,
        /// The floor it goes to.
        to: i32,
    },
    /// The elevator does not stop on a floor.
    #[error("it does not stop on floor {floor}")]
    NoStop {
        /// The floor.
        floor: i32,
    },
    /// The stop's heading line misses the car.
    #[error(
        "the robot at ({}, {}) facing {:.0} deg does not face the car (its centre is at ({}, {}))",
        fmt_m(stop.x), fmt_m(stop.y), stop.yaw_rad.to_degrees(), fmt_m(centre.x), fmt_m(centre.y)
    )]
    NotFacingCar {
        /// The stop.
        stop: Pose,
        /// The car's centroid.
        centre: Point,
    },
    /// The robot with its margin does not fit in the car.
    #[error(
        "the robot ({width_m:.2} m x {length_m:.2} m with its {margin_m:.2} m margin) does not fit in the car"
    )]
    CarTooSmall {
        /// The footprint's extent along x, metres.
        width_m: f64,
        /// The footprint's extent along y, metres.
        length_m: f64,
        /// The safety margin, metres.
        margin_m: f64,
    },
    /// The way from the stop into the car is blocked.
    #[error(
        "on floor {floor}, the way from the stop into the car is blocked near ({}, {})",
        fmt_m(near.x), fmt_m(near.y)
    )]
    EntryBlocked {
        /// The floor.
        floor: i32,
        /// Where.
        near: Point,
    },
    /// The arrival stop is inside the car.
    #[error("the stop on floor {floor} is inside the car, not in front of it")]
    StopInsideCar {
        /// The floor.
        floor: i32,
    },
    /// Neither driving out forwards nor reversing out works.
    #[error("the robot cannot leave the car on floor {floor}: {}", .why_not.join("; "))]
    NoExit {
        /// The floor.
        floor: i32,
        /// Why each way out fails.
        why_not: Vec<String>,
    },
}

impl Recover for RideError {
    fn recovery(&self) -> Recovery {
        match self {
            // Something stands in the way: it may move.
            RideError::EntryBlocked { .. } | RideError::NoExit { .. } => Recovery::Replan,
            // The site or the robot does not allow this ride at all.
            RideError::NoElevator(_)
            | RideError::NoFloor { .. }
            | RideError::NoStop { .. }
            | RideError::NotFacingCar { .. }
            | RideError::CarTooSmall { .. }
            | RideError::StopInsideCar { .. } => Recovery::Abort,
        }
    }
}

/// No path on one floor ([`crate::plan::Navigator::plan_floor`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FloorError {
    /// The site has no such floor.
    #[error("no floor {0}")]
    NoFloor(i32),
    /// No path: what blocks the way and where, as a sentence.
    #[error("{reason}")]
    NoPath {
        /// Why there is no path and where.
        reason: String,
    },
}

impl Recover for FloorError {
    fn recovery(&self) -> Recovery {
        match self {
            FloorError::NoFloor(_) => Recovery::Abort,
            FloorError::NoPath { .. } => Recovery::Replan,
        }
    }
}

/// A route could not be planned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// No place of that name in the site file.
    #[error("no place named \"{name}\" in {site}{}", suggestions_text(.suggestions))]
    UnknownPlace {
        /// The name asked for.
        name: String,
        /// The site file (or the embedded default).
        site: String,
        /// Known names close to it.
        suggestions: Vec<String>,
    },
    /// A location is neither a place name nor `x,y[,floor]`.
    #[error("cannot read location \"{text}\": {expected}")]
    BadLocation {
        /// What was given.
        text: String,
        /// What was expected.
        expected: String,
    },
    /// A floor number that the site does not have.
    #[error("{what} is on floor {floor}, but {site} has floors {known:?}")]
    UnknownFloor {
        /// `start` or `goal`.
        what: &'static str,
        /// The floor asked for.
        floor: i32,
        /// The site.
        site: String,
        /// Its floors.
        known: Vec<i32>,
    },
    /// The start or goal lies outside its floor's map.
    #[error(
        "{what} {label} at ({}, {}) is outside the map of floor {floor}, which spans x {} to {} m and y {} to {} m",
        fmt_m(*x), fmt_m(*y), fmt_m(extent[0]), fmt_m(extent[2]), fmt_m(extent[1]), fmt_m(extent[3])
    )]
    OutsideMap {
        /// `start`, `goal` or `obstacle`.
        what: &'static str,
        /// The place name or the coordinates as given.
        label: String,
        /// Map x, metres.
        x: f64,
        /// Map y, metres.
        y: f64,
        /// Floor number.
        floor: i32,
        /// The map's extent `[x_min, y_min, x_max, y_max]`, metres.
        extent: [f64; 4],
    },
    /// The start or goal is not a place the robot can stand.
    #[error("{what} {label} at ({}, {}) on floor {floor} is {reason}", fmt_m(*x), fmt_m(*y))]
    Blocked {
        /// `start` or `goal`.
        what: &'static str,
        /// The place name or the coordinates as given.
        label: String,
        /// Map x, metres.
        x: f64,
        /// Map y, metres.
        y: f64,
        /// Floor number.
        floor: i32,
        /// `inside an obstacle`, `inside keep-out zone "MRI"`, `too close to a wall for the
        /// robot's footprint`, `outside the map`, `in unknown (unmapped) space`.
        reason: String,
    },
    /// No route exists.
    #[error("no route from {from} to {to}: {reason}")]
    Unreachable {
        /// The start as given.
        from: String,
        /// The goal as given.
        to: String,
        /// Why (which floor or passage fails).
        reason: String,
    },
    /// The battery cannot carry the robot there and keep its reserve.
    #[error(
        "the route needs {need_pct:.1}% of the battery, but only {have_pct:.1}% is left above the {reserve_pct:.0}% reserve; charge first"
    )]
    Battery {
        /// Percentage the route uses.
        need_pct: f64,
        /// Percentage available above the reserve.
        have_pct: f64,
        /// The reserve that must remain.
        reserve_pct: f64,
    },
    /// Planning was cancelled.
    #[error("planning cancelled")]
    Cancelled,
}

fn suggestions_text(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", s.join(", "))
    }
}

impl Recover for PlanError {
    fn recovery(&self) -> Recovery {
        match self {
            // The request itself is wrong (no such place, a point in a wall): ask the operator.
            PlanError::UnknownPlace { .. }
            | PlanError::BadLocation { .. }
            | PlanError::UnknownFloor { .. }
            | PlanError::OutsideMap { .. }
            | PlanError::Blocked { .. } => Recovery::WaitForOperator,
            // The way may open again (a blocked corridor): plan again.
            PlanError::Unreachable { .. } => Recovery::Replan,
            // Someone must put the robot on its charger.
            PlanError::Battery { .. } => Recovery::WaitForOperator,
            // The caller cancelled: nothing left to try.
            PlanError::Cancelled => Recovery::Abort,
        }
    }
}
