//! Errors: one enum for loading maps and sites, one for planning.

use std::path::PathBuf;

use crate::fmt_m;

/// A map or site file could not be loaded, checked or written.
#[derive(Debug, thiserror::Error)]
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

/// What a caller (the mission) should do about a failed plan, decided in one exhaustive match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The request itself is wrong (no such place, a point in a wall): ask the operator.
    FixRequest,
    /// The way may open again (a blocked corridor): wait, then plan again.
    WaitAndReplan,
    /// Charge first.
    Charge,
    /// Nothing to do: the caller cancelled.
    None,
}

/// A route could not be planned.
#[derive(Debug, thiserror::Error)]
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

impl PlanError {
    /// What the mission should do about this error.
    pub fn recovery(&self) -> Recovery {
        match self {
            PlanError::UnknownPlace { .. }
            | PlanError::BadLocation { .. }
            | PlanError::UnknownFloor { .. }
            | PlanError::OutsideMap { .. }
            | PlanError::Blocked { .. } => Recovery::FixRequest,
            PlanError::Unreachable { .. } => Recovery::WaitAndReplan,
            PlanError::Battery { .. } => Recovery::Charge,
            PlanError::Cancelled => Recovery::None,
        }
    }
}
