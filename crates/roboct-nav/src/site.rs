//! A site: the floors of a building (ROS maps) and their semantic layer (places, beds, doors,
//! elevators, speed zones, keep-out zones), read from one YAML file beside the maps.
//!
//! ```yaml
//! name: St. Example Hospital, east wing
//! floors:
//!   - { number: 0, name: ground floor, map: floor-0.yaml }
//! places:
//!   - { name: dock, kind: dock, floor: 0, pose: { x: 5.0, y: 3.0, yaw_deg: 90 } }
//!   - name: ward-3/bed-12
//!     kind: bed
//!     floor: 2
//!     pose: { x: 20.1, y: 4.0, yaw_deg: 180 }     # approach pose: where the robot stops
//!     bed: { x: 17.0, y: 4.0, yaw_deg: 180, length_m: 2.1, width_m: 1.0 }
//!     head_end: { x: 16.0, y: 4.0 }               # which end the patient's head is at
//! doors:
//!   - { name: ward-3/room-1, floor: 2, automatic: false, area: [[1, 7], [2.4, 7], [2.4, 7.3], [1, 7.3]] }
//! elevators:
//!   - name: lift-A
//!     car: [[25.1, 12.6], [27.7, 12.6], [27.7, 15.4], [25.1, 15.4]]   # the car's floor
//!     stops: [ { floor: 0, pose: { x: 30, y: 14, yaw_deg: 180 } }, { floor: 2, pose: { x: 30, y: 14, yaw_deg: 180 } } ]
//!     travel_s_per_floor: 6
//! speed_zones:
//!   - { name: ward-3, floor: 2, max_speed_mps: 0.3, area: [[0, 0], [40, 0], [40, 7], [0, 7]] }
//! keep_out:
//!   - { name: MRI, floor: 0, area: [[50, 0], [58, 0], [58, 7], [50, 7]] }
//! ```
//!
//! Headings in the file are degrees (`yaw_deg`), counter-clockwise from the map's +x axis.
//! An elevator's `car` is the floor of its car, from the hall side of its doors to its back
//! wall, in the frame that the floors' maps share (a shaft is vertical, so the car stands at
//! the same coordinates on every floor); each stop is where the robot waits on that floor,
//! facing the car (see [`crate::elevator`] for how the robot enters and leaves it).
//! A YAML file with an `image` key is a bare ROS map: it loads as a one-floor site (floor 0)
//! with no semantic layer, so maps from any SLAM tool work with coordinates alone.

mod check;
mod file;

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MapError;
use crate::geom::{Point, Polygon, Pose};
use crate::map::{self, MapLimits, OccupancyGrid};

pub use file::{
    BedGeometry, DoorSpec, ElevatorSpec, ElevatorStop, FloorSpec, KeepOutSpec, PlaceSpec, PoseDeg,
    SiteFile, SpeedZoneSpec,
};

/// What a named place is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlaceKind {
    /// The robot's charging dock.
    Dock,
    /// A ward (its entrance).
    Ward,
    /// A patient bed; has a [`Bed`].
    Bed,
    /// A nurses' station.
    NursesStation,
    /// Any other room.
    Room,
    /// Anything else worth a name.
    Other,
}

/// A floor with its map.
#[derive(Clone, Debug)]
pub struct Floor {
    /// Floor number.
    pub number: i32,
    /// Name.
    pub name: String,
    /// The occupancy grid.
    pub grid: OccupancyGrid,
}

/// A named place, checked.
#[derive(Clone, Debug)]
pub struct Place {
    /// Unique name.
    pub name: String,
    /// What it is.
    pub kind: PlaceKind,
    /// Floor number.
    pub floor: i32,
    /// Where the robot stops (for a bed: the approach pose, if given).
    pub pose: Option<Pose>,
    /// The bed's pose (centre; heading points from the foot end to the head end) and size.
    pub bed: Option<Bed>,
}

/// A bed, with its heading pointing from the foot end to the head end.
#[derive(Clone, Copy, Debug)]
pub struct Bed {
    /// Centre and heading (foot to head).
    pub pose: Pose,
    /// Length, metres.
    pub length_m: f64,
    /// Width, metres.
    pub width_m: f64,
}

impl Bed {
    /// The bed's outline in the map frame.
    pub fn outline(&self) -> Polygon {
        let (l, w) = (self.length_m / 2.0, self.width_m / 2.0);
        Polygon::new(
            [(-l, -w), (l, -w), (l, w), (-l, w)]
                .iter()
                .map(|&(x, y)| self.pose.map_from_robot(Point::new(x, y)))
                .collect(),
        )
    }

    /// The approach pose of a robot whose front is `front_m` ahead of its centre: coaxial with
    /// the bed, `gap_m` beyond the foot end, facing the head end, so that the gantry slides
    /// along the bed's axis.
    pub fn approach(&self, front_m: f64, gap_m: f64) -> Pose {
        let foot = self
            .pose
            .point()
            .offset(self.pose.yaw_rad, -self.length_m / 2.0);
        let p = foot.offset(self.pose.yaw_rad, -(gap_m + front_m));
        Pose::new(p.x, p.y, self.pose.yaw_rad)
    }
}

/// A door, checked.
#[derive(Clone, Debug)]
pub struct Door {
    /// Unique name.
    pub name: String,
    /// Floor number.
    pub floor: i32,
    /// The opening.
    pub area: Polygon,
    /// Opens by itself.
    pub automatic: bool,
    /// Opening time of an automatic door, seconds.
    pub open_s: f64,
    /// Expected wait for staff at a manual door, seconds.
    pub assist_s: f64,
}

impl Door {
    /// Seconds the robot expects to wait at this door when it is closed.
    pub fn expected_wait_s(&self) -> f64 {
        if self.automatic {
            self.open_s
        } else {
            self.assist_s
        }
    }
}

/// An elevator, checked.
#[derive(Clone, Debug)]
pub struct Elevator {
    /// Unique name.
    pub name: String,
    /// The car's floor area (convex), in the frame the floors' maps share.
    pub car: Polygon,
    /// `(floor, waiting pose)` for each floor served; the pose faces the car.
    pub stops: Vec<(i32, Pose)>,
    /// Seconds per floor travelled.
    pub travel_s_per_floor: f64,
    /// Expected wait for the car, seconds.
    pub wait_s: f64,
    /// Seconds the doors take to open and close at each stop.
    pub door_s: f64,
}

impl Elevator {
    /// The waiting pose on `floor`, if the elevator serves it.
    pub fn stop_on(&self, floor: i32) -> Option<Pose> {
        self.stops.iter().find(|s| s.0 == floor).map(|s| s.1)
    }

    /// Expected seconds the car itself takes from a call on `from` to open doors on `to`:
    /// the wait for the car, the doors at both stops and the travel (the robot's own drive in,
    /// turn and drive out come on top; see [`crate::elevator`]).
    pub fn car_s(&self, from: i32, to: i32) -> f64 {
        self.wait_s + 2.0 * self.door_s + self.travel_s_per_floor * f64::from((to - from).abs())
    }
}

/// A speed zone, checked.
#[derive(Clone, Debug)]
pub struct SpeedZone {
    /// Name.
    pub name: String,
    /// Floor number.
    pub floor: i32,
    /// Limit, m/s.
    pub max_speed_mps: f64,
    /// Area.
    pub area: Polygon,
}

/// A keep-out zone, checked.
#[derive(Clone, Debug)]
pub struct KeepOut {
    /// Name.
    pub name: String,
    /// Floor number.
    pub floor: i32,
    /// Area.
    pub area: Polygon,
}

/// A building: floors and their semantic layer, checked for consistency.
#[derive(Clone, Debug)]
pub struct Site {
    /// Name of the building.
    pub name: String,
    /// Where it came from (a file path or `the embedded default hospital`), for messages.
    pub source: String,
    /// Floors, in the order of the file.
    pub floors: Vec<Floor>,
    /// Named places.
    pub places: Vec<Place>,
    /// Doors.
    pub doors: Vec<Door>,
    /// Elevators.
    pub elevators: Vec<Elevator>,
    /// Speed zones.
    pub speed_zones: Vec<SpeedZone>,
    /// Keep-out zones.
    pub keep_outs: Vec<KeepOut>,
}

impl Site {
    /// A one-floor site (floor 0) without a semantic layer, from a grid.
    pub fn bare(name: &str, grid: OccupancyGrid) -> Site {
        Site {
            name: name.to_string(),
            source: name.to_string(),
            floors: vec![Floor {
                number: 0,
                name: String::new(),
                grid,
            }],
            places: vec![],
            doors: vec![],
            elevators: vec![],
            speed_zones: vec![],
            keep_outs: vec![],
        }
    }

    /// Loads a site file, or a bare ROS map as a one-floor site without semantics.
    ///
    /// # Errors
    /// A [`MapError`] naming the file, entry and field at fault.
    pub fn load(path: &Path, limits: MapLimits) -> Result<Site, MapError> {
        if map::looks_like_ros_map(path)? {
            let grid = map::load_ros_map(path, limits)?;
            let mut site = Site::bare(&path.display().to_string(), grid);
            if let Some(stem) = path.file_stem() {
                site.name = stem.to_string_lossy().into_owned();
            }
            return Ok(site);
        }
        let text = fs::read_to_string(path).map_err(|source| MapError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        let spec: SiteFile = serde_yaml_ng::from_str(&text).map_err(|e| MapError::Yaml {
            file: path.to_path_buf(),
            message: format!("{e} (a site file needs `floors`; a ROS map needs `image`)"),
        })?;
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut floors = Vec::with_capacity(spec.floors.len());
        let mut remaining = limits;
        for f in &spec.floors {
            let grid = map::load_ros_map(&dir.join(&f.map), remaining)?;
            remaining.max_cells = remaining
                .max_cells
                .saturating_sub((grid.width * grid.height) as u64);
            floors.push(Floor {
                number: f.number,
                name: f.name.clone(),
                grid,
            });
        }
        Site::from_spec(&spec, floors, path)
    }

    /// The floor with this number.
    pub fn floor(&self, number: i32) -> Option<&Floor> {
        self.floors.iter().find(|f| f.number == number)
    }

    /// The place with this name.
    pub fn place(&self, name: &str) -> Option<&Place> {
        self.places.iter().find(|p| p.name == name)
    }

    /// Up to three place names close to `name` (for "did you mean").
    pub fn similar_places(&self, name: &str) -> Vec<String> {
        let lower = name.to_lowercase();
        let mut scored: Vec<(usize, &str)> = self
            .places
            .iter()
            .map(|p| {
                let d = edit_distance(&lower, &p.name.to_lowercase());
                (d, p.name.as_str())
            })
            .filter(|&(d, n)| d <= 3.max(name.len() / 3) || n.to_lowercase().contains(&lower))
            .collect();
        scored.sort();
        scored
            .into_iter()
            .take(3)
            .map(|(_, n)| n.to_string())
            .collect()
    }

    /// Writes the site as ROS maps (`floor-<n>.pgm/.yaml`) and a site file `<name>.yaml` in
    /// `dir`; returns the site file's path.
    ///
    /// # Errors
    /// [`MapError::Write`] naming the file that could not be written.
    pub fn save(&self, dir: &Path, name: &str) -> Result<PathBuf, MapError> {
        fs::create_dir_all(dir).map_err(|source| MapError::Write {
            file: dir.to_path_buf(),
            source,
        })?;
        for f in &self.floors {
            map::save_ros_map(&f.grid, dir, &floor_map_name(f.number))?;
        }
        let path = dir.join(format!("{name}.yaml"));
        let yaml = serde_yaml_ng::to_string(&self.to_spec()).map_err(|e| MapError::Write {
            file: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let header = format!(
            "# {} (roboct site file: floors are ROS map_server maps; headings in degrees)\n",
            self.name
        );
        fs::write(&path, header + &yaml).map_err(|source| MapError::Write {
            file: path.clone(),
            source,
        })?;
        Ok(path)
    }
}

/// The file stem of floor `n`'s map: `floor-0`, `floor-2`, `floor-m1` for -1.
pub fn floor_map_name(n: i32) -> String {
    if n < 0 {
        format!("floor-m{}", -n)
    } else {
        format!("floor-{n}")
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("bed-12", "bed-12"), 0);
        assert_eq!(edit_distance("bed-12", "bed-13"), 1);
        assert_eq!(edit_distance("ward", "wards"), 1);
    }

    #[test]
    fn bed_approach_is_coaxial_beyond_the_foot() {
        let bed = Bed {
            pose: Pose::new(5.0, 2.0, std::f64::consts::PI),
            length_m: 2.0,
            width_m: 1.0,
        };
        // Head towards -x, so the foot is at x = 6 and the robot stands further along +x.
        let a = bed.approach(0.8, 0.3);
        assert!(
            (a.x - 7.1).abs() < 1e-9 && (a.y - 2.0).abs() < 1e-9,
            "{a:?}"
        );
        assert!((a.yaw_rad - std::f64::consts::PI).abs() < 1e-9);
    }
}
