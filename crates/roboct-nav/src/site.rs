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

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MapError;
use crate::geom::{Point, Polygon, Pose};
use crate::map::{self, MapLimits, OccupancyGrid};

/// A pose as written in site files: metres and degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoseDeg {
    /// Metres.
    pub x: f64,
    /// Metres.
    pub y: f64,
    /// Degrees counter-clockwise from +x.
    pub yaw_deg: f64,
}

impl From<PoseDeg> for Pose {
    fn from(p: PoseDeg) -> Pose {
        Pose::new(p.x, p.y, p.yaw_deg.to_radians())
    }
}

impl From<Pose> for PoseDeg {
    fn from(p: Pose) -> PoseDeg {
        PoseDeg {
            x: p.x,
            y: p.y,
            yaw_deg: p.yaw_rad.to_degrees(),
        }
    }
}

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

/// A bed's own pose and size.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BedGeometry {
    /// Centre of the bed, metres.
    pub x: f64,
    /// Centre of the bed, metres.
    pub y: f64,
    /// Direction of the bed's long axis, degrees (either way along the axis).
    pub yaw_deg: f64,
    /// Length, metres (default 2.1).
    #[serde(default = "default_bed_length")]
    pub length_m: f64,
    /// Width, metres (default 1.0).
    #[serde(default = "default_bed_width")]
    pub width_m: f64,
}

fn default_bed_length() -> f64 {
    2.1
}
fn default_bed_width() -> f64 {
    1.0
}

/// A named place as written in the site file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceSpec {
    /// Unique name, e.g. `dock`, `ward-3`, `ward-3/bed-12`.
    pub name: String,
    /// What it is.
    pub kind: PlaceKind,
    /// Floor number.
    pub floor: i32,
    /// Where the robot stops and which way it faces. For beds: the approach pose, optional
    /// (derived from the bed and its head end when missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pose: Option<PoseDeg>,
    /// The bed (beds only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bed: Option<BedGeometry>,
    /// The middle of the bed's head end (beds only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_end: Option<Point>,
}

/// A door as written in the site file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorSpec {
    /// Unique name.
    pub name: String,
    /// Floor number.
    pub floor: i32,
    /// The door opening (the leaf's swept area is best), as `[[x, y], ...]`.
    pub area: Vec<[f64; 2]>,
    /// Opens by itself on request (`true`) or needs a person (`false`).
    pub automatic: bool,
    /// Seconds an automatic door takes to open once requested (default 3).
    #[serde(default = "default_open_s")]
    pub open_s: f64,
    /// Expected seconds until staff open a manual door (default 30).
    #[serde(default = "default_assist_s")]
    pub assist_s: f64,
}

fn default_open_s() -> f64 {
    3.0
}
fn default_assist_s() -> f64 {
    30.0
}

/// One stop of an elevator.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElevatorStop {
    /// Floor number.
    pub floor: i32,
    /// Where the robot waits on that floor, facing the car: it drives straight in along this
    /// heading.
    pub pose: PoseDeg,
}

/// An elevator as written in the site file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElevatorSpec {
    /// Unique name.
    pub name: String,
    /// The car's floor area as `[[x, y], ...]` (convex), from the hall side of its doors to its
    /// back wall, in the frame the floors' maps share.
    pub car: Vec<[f64; 2]>,
    /// Its stops, one per floor served.
    pub stops: Vec<ElevatorStop>,
    /// Seconds from one floor to the next.
    pub travel_s_per_floor: f64,
    /// Expected seconds until the car arrives after a call (default 30).
    #[serde(default = "default_lift_wait_s")]
    pub wait_s: f64,
    /// Seconds per stop that the doors take to open and close (default 8); the robot's
    /// drive into and out of the car is timed from its own limits.
    #[serde(default = "default_lift_door_s")]
    pub door_s: f64,
}

fn default_lift_wait_s() -> f64 {
    30.0
}
fn default_lift_door_s() -> f64 {
    8.0
}

/// An area with its own speed limit, as written in the site file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeedZoneSpec {
    /// Name (for pictures and messages).
    pub name: String,
    /// Floor number.
    pub floor: i32,
    /// Speed limit, metres per second.
    pub max_speed_mps: f64,
    /// The area, `[[x, y], ...]`.
    pub area: Vec<[f64; 2]>,
}

/// An area the robot must never enter, as written in the site file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepOutSpec {
    /// Name (`MRI`, `stairs`, `sterile area`), used in messages.
    pub name: String,
    /// Floor number.
    pub floor: i32,
    /// The area, `[[x, y], ...]`.
    pub area: Vec<[f64; 2]>,
}

/// A floor as written in the site file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloorSpec {
    /// Floor number (negative for basements).
    pub number: i32,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// The ROS map YAML, relative to the site file.
    pub map: PathBuf,
}

/// The site file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFile {
    /// Name of the building.
    #[serde(default)]
    pub name: String,
    /// Its floors.
    pub floors: Vec<FloorSpec>,
    /// Named places.
    #[serde(default)]
    pub places: Vec<PlaceSpec>,
    /// Doors.
    #[serde(default)]
    pub doors: Vec<DoorSpec>,
    /// Elevators.
    #[serde(default)]
    pub elevators: Vec<ElevatorSpec>,
    /// Speed zones.
    #[serde(default)]
    pub speed_zones: Vec<SpeedZoneSpec>,
    /// Keep-out zones.
    #[serde(default)]
    pub keep_out: Vec<KeepOutSpec>,
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

fn polygon(file: &Path, item: &str, area: &[[f64; 2]]) -> Result<Polygon, MapError> {
    let poly = Polygon::new(area.iter().map(|p| Point::new(p[0], p[1])).collect());
    if area.len() < 3 || poly.area() <= 0.0 || area.iter().flatten().any(|v| !v.is_finite()) {
        return Err(MapError::Site {
            file: file.to_path_buf(),
            item: item.to_string(),
            message: format!(
                "`area` must be a polygon of at least 3 [x, y] points with a non-zero area, got {area:?}"
            ),
        });
    }
    Ok(poly)
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

    /// Builds and checks a site from its file contents and already loaded floors. Here only
    /// what the file form adds is checked (place names, beds and their head ends, poses on
    /// the map, polygons); [`Site::check`] checks the rest, for loaded and built sites alike.
    ///
    /// # Errors
    /// [`MapError::Site`] for the first inconsistent entry.
    pub fn from_spec(spec: &SiteFile, floors: Vec<Floor>, file: &Path) -> Result<Site, MapError> {
        let err = |item: String, message: String| MapError::Site {
            file: file.to_path_buf(),
            item,
            message,
        };
        if floors.is_empty() {
            return Err(err(
                "floors".into(),
                "a site needs at least one floor".into(),
            ));
        }
        let known: Vec<i32> = floors.iter().map(|f| f.number).collect();
        let check_floor = |item: &str, floor: i32| {
            if known.contains(&floor) {
                Ok(())
            } else {
                Err(err(
                    item.to_string(),
                    format!("floor {floor} is not among the site's floors {known:?}"),
                ))
            }
        };
        let check_inside = |item: &str, floor: i32, p: Point| {
            let inside = floors
                .iter()
                .find(|f| f.number == floor)
                .is_some_and(|f| f.grid.cell_of(p).is_some());
            if inside {
                Ok(())
            } else {
                Err(err(
                    item.to_string(),
                    format!(
                        "({}, {}) lies outside floor {floor}'s map",
                        crate::fmt_m(p.x),
                        crate::fmt_m(p.y)
                    ),
                ))
            }
        };

        let mut places = Vec::with_capacity(spec.places.len());
        for (i, p) in spec.places.iter().enumerate() {
            let item = format!("place \"{}\"", p.name);
            if p.name.trim().is_empty() {
                return Err(err(format!("place #{}", i + 1), "`name` is empty".into()));
            }
            if spec.places[..i].iter().any(|q| q.name == p.name) {
                return Err(err(item, "place names must be unique".into()));
            }
            check_floor(&item, p.floor)?;
            let pose = p.pose.map(Pose::from);
            if let Some(pose) = pose {
                check_inside(&item, p.floor, pose.point())?;
            }
            let bed = match (p.kind, p.bed, p.head_end) {
                (PlaceKind::Bed, Some(b), Some(head)) => {
                    if !(b.length_m > 0.0 && b.width_m > 0.0) {
                        return Err(err(item, "bed `length_m` and `width_m` must be > 0".into()));
                    }
                    let centre = Point::new(b.x, b.y);
                    check_inside(&item, p.floor, centre)?;
                    let axis = b.yaw_deg.to_radians();
                    // The head end picks the direction along the axis; it must lie on the axis
                    // at half the bed's length from the centre.
                    let toward = centre.heading_to(head);
                    let along = crate::geom::wrap_angle(toward - axis);
                    let yaw = if along.abs() <= std::f64::consts::FRAC_PI_2 {
                        axis
                    } else {
                        axis + std::f64::consts::PI
                    };
                    let expected = centre.offset(yaw, b.length_m / 2.0);
                    if expected.dist(head) > 0.3 {
                        return Err(err(
                            item,
                            format!(
                                "`head_end` ({:.2}, {:.2}) is not at an end of the bed (expected within 0.3 m of ({:.2}, {:.2}) or of the other end)",
                                head.x, head.y, expected.x, expected.y
                            ),
                        ));
                    }
                    if let Some(a) = pose {
                        let off = crate::geom::wrap_angle(a.yaw_rad - yaw);
                        let off = off.abs().min(std::f64::consts::PI - off.abs());
                        if off > 10f64.to_radians() {
                            return Err(err(
                                item,
                                format!(
                                    "approach `pose` heading {:.0} deg is not aligned with the bed's axis ({:.0} deg); the gantry must slide along the bed",
                                    a.yaw_rad.to_degrees(),
                                    yaw.to_degrees()
                                ),
                            ));
                        }
                    }
                    Some(Bed {
                        pose: Pose::new(b.x, b.y, yaw),
                        length_m: b.length_m,
                        width_m: b.width_m,
                    })
                }
                (PlaceKind::Bed, _, _) => {
                    return Err(err(
                        item,
                        "a bed needs `bed` (its pose and size) and `head_end`".into(),
                    ));
                }
                (_, None, None) => {
                    if pose.is_none() {
                        return Err(err(item, "needs a `pose`".into()));
                    }
                    None
                }
                _ => {
                    return Err(err(
                        item,
                        "`bed` and `head_end` are only for places of kind `bed`".into(),
                    ));
                }
            };
            places.push(Place {
                name: p.name.clone(),
                kind: p.kind,
                floor: p.floor,
                pose,
                bed,
            });
        }

        let mut doors = Vec::with_capacity(spec.doors.len());
        for d in &spec.doors {
            let item = format!("door \"{}\"", d.name);
            doors.push(Door {
                name: d.name.clone(),
                floor: d.floor,
                area: polygon(file, &item, &d.area)?,
                automatic: d.automatic,
                open_s: d.open_s,
                assist_s: d.assist_s,
            });
        }

        let mut elevators = Vec::with_capacity(spec.elevators.len());
        for e in &spec.elevators {
            let item = format!("elevator \"{}\"", e.name);
            for s in &e.stops {
                check_floor(&item, s.floor)?;
                check_inside(&item, s.floor, Point::new(s.pose.x, s.pose.y))?;
            }
            let car = polygon(file, &format!("{item}: car"), &e.car)?;
            elevators.push(Elevator {
                name: e.name.clone(),
                car,
                stops: e.stops.iter().map(|s| (s.floor, s.pose.into())).collect(),
                travel_s_per_floor: e.travel_s_per_floor,
                wait_s: e.wait_s,
                door_s: e.door_s,
            });
        }

        let mut speed_zones = Vec::with_capacity(spec.speed_zones.len());
        for z in &spec.speed_zones {
            let item = format!("speed zone \"{}\"", z.name);
            speed_zones.push(SpeedZone {
                name: z.name.clone(),
                floor: z.floor,
                max_speed_mps: z.max_speed_mps,
                area: polygon(file, &item, &z.area)?,
            });
        }

        let mut keep_outs = Vec::with_capacity(spec.keep_out.len());
        for k in &spec.keep_out {
            let item = format!("keep-out zone \"{}\"", k.name);
            keep_outs.push(KeepOut {
                name: k.name.clone(),
                floor: k.floor,
                area: polygon(file, &item, &k.area)?,
            });
        }

        let site = Site {
            name: spec.name.clone(),
            source: file.display().to_string(),
            floors,
            places,
            doors,
            elevators,
            speed_zones,
            keep_outs,
        };
        site.check()?;
        Ok(site)
    }

    /// Checks everything the navigator relies on, for sites built in code as much as for
    /// loaded ones (the fields are public): at least one floor, unique floor numbers, grids
    /// whose cells match their size with a positive resolution, every place, door, zone and
    /// elevator stop on a known floor with finite coordinates, every place with a pose or a
    /// bed, areas with at least three points and a non-zero area, finite non-negative times,
    /// and each elevator's car convex, on the map of every floor it serves, and straight
    /// ahead of each stop. [`crate::plan::Navigator::new`] calls it.
    ///
    /// # Errors
    /// [`MapError::Site`] naming the first entry at fault and what was expected.
    pub fn check(&self) -> Result<(), MapError> {
        let err = |item: String, message: String| MapError::Site {
            file: self.source.clone().into(),
            item,
            message,
        };
        if self.floors.is_empty() {
            return Err(err(
                "floors".into(),
                "a site needs at least one floor".into(),
            ));
        }
        let finite = |p: Point| p.x.is_finite() && p.y.is_finite();
        for (i, f) in self.floors.iter().enumerate() {
            let item = format!("floor {}", f.number);
            if self.floors[..i].iter().any(|g| g.number == f.number) {
                return Err(err(item, "floor numbers must be unique".into()));
            }
            let g = &f.grid;
            if g.width == 0 || g.height == 0 || g.width.checked_mul(g.height) != Some(g.cells.len())
            {
                return Err(err(
                    item,
                    format!(
                        "the map must have width x height cells, at least one: {} x {} but {} cells",
                        g.width,
                        g.height,
                        g.cells.len()
                    ),
                ));
            }
            if !(g.resolution_m.is_finite() && g.resolution_m > 0.0 && finite(g.origin)) {
                return Err(err(
                    item,
                    format!(
                        "the map needs a finite resolution > 0 and a finite origin, got {} m at ({}, {})",
                        crate::fmt_num(g.resolution_m),
                        crate::fmt_m(g.origin.x),
                        crate::fmt_m(g.origin.y)
                    ),
                ));
            }
        }
        let floor_ok = |item: &str, floor: i32| {
            if self.floor(floor).is_some() {
                Ok(())
            } else {
                Err(err(
                    item.to_string(),
                    format!(
                        "floor {floor} is not among the site's floors {:?}",
                        self.floors.iter().map(|f| f.number).collect::<Vec<_>>()
                    ),
                ))
            }
        };
        let area_ok = |item: &str, area: &Polygon| {
            if area.vertices.len() >= 3
                && area.vertices.iter().all(|&v| finite(v))
                && area.area() > 0.0
            {
                Ok(())
            } else {
                Err(err(
                    item.to_string(),
                    "an area needs at least 3 finite points and a non-zero area".into(),
                ))
            }
        };
        let pose_ok = |item: &str, p: Pose| {
            if p.x.is_finite() && p.y.is_finite() && p.yaw_rad.is_finite() {
                Ok(())
            } else {
                Err(err(
                    item.to_string(),
                    "a pose needs finite x, y and yaw".into(),
                ))
            }
        };
        for p in &self.places {
            let item = format!("place \"{}\"", p.name);
            floor_ok(&item, p.floor)?;
            if let Some(pose) = p.pose {
                pose_ok(&item, pose)?;
            }
            match (p.kind, p.pose, p.bed) {
                (PlaceKind::Bed, _, None) => {
                    return Err(err(item, "a bed needs its `bed` geometry".into()));
                }
                (_, None, None) => return Err(err(item, "needs a `pose`".into())),
                _ => {}
            }
            if let Some(b) = p.bed {
                pose_ok(&item, b.pose)?;
                if !(b.length_m.is_finite()
                    && b.length_m > 0.0
                    && b.width_m.is_finite()
                    && b.width_m > 0.0)
                {
                    return Err(err(item, "bed `length_m` and `width_m` must be > 0".into()));
                }
            }
        }
        if self.doors.len() >= usize::from(u16::MAX) {
            return Err(err(
                "doors".into(),
                format!("at most {} doors are supported", u16::MAX - 1),
            ));
        }
        for d in &self.doors {
            let item = format!("door \"{}\"", d.name);
            floor_ok(&item, d.floor)?;
            area_ok(&item, &d.area)?;
            if !(d.open_s.is_finite()
                && d.open_s >= 0.0
                && d.assist_s.is_finite()
                && d.assist_s >= 0.0)
            {
                return Err(err(
                    item,
                    "`open_s` and `assist_s` must be finite and >= 0".into(),
                ));
            }
        }
        for e in &self.elevators {
            let item = format!("elevator \"{}\"", e.name);
            if e.stops.len() < 2 {
                return Err(err(item, "needs `stops` on at least two floors".into()));
            }
            if ![e.travel_s_per_floor, e.wait_s, e.door_s]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
            {
                return Err(err(
                    item,
                    "`travel_s_per_floor`, `wait_s` and `door_s` must be finite and >= 0".into(),
                ));
            }
            area_ok(&format!("{item}: car"), &e.car)?;
            if !e.car.is_convex() {
                return Err(err(item, "the `car` area must be convex".into()));
            }
            for (i, &(floor, pose)) in e.stops.iter().enumerate() {
                floor_ok(&item, floor)?;
                pose_ok(&item, pose)?;
                if e.stops[..i].iter().any(|t| t.0 == floor) {
                    return Err(err(item, format!("two stops on floor {floor}")));
                }
                let grid = self.floor(floor).map(|f| &f.grid);
                if let Some(v) = e
                    .car
                    .vertices
                    .iter()
                    .find(|&&v| grid.is_none_or(|g| g.cell_of(v).is_none()))
                {
                    return Err(err(
                        item,
                        format!(
                            "the car's corner ({}, {}) lies outside floor {floor}'s map",
                            crate::fmt_m(v.x),
                            crate::fmt_m(v.y)
                        ),
                    ));
                }
                crate::elevator::ride_point(&e.car, pose).map_err(|why| {
                    err(item.clone(), format!("the stop on floor {floor}: {why}"))
                })?;
            }
        }
        for z in &self.speed_zones {
            let item = format!("speed zone \"{}\"", z.name);
            floor_ok(&item, z.floor)?;
            area_ok(&item, &z.area)?;
            if !(z.max_speed_mps.is_finite() && z.max_speed_mps > 0.0) {
                return Err(err(
                    item,
                    format!(
                        "`max_speed_mps` must be > 0, got {}",
                        crate::fmt_num(z.max_speed_mps)
                    ),
                ));
            }
        }
        for k in &self.keep_outs {
            let item = format!("keep-out zone \"{}\"", k.name);
            floor_ok(&item, k.floor)?;
            area_ok(&item, &k.area)?;
        }
        Ok(())
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

    /// The site file describing this site, with floor maps named `floor-<n>.yaml`.
    pub fn to_spec(&self) -> SiteFile {
        let area = |p: &Polygon| p.vertices.iter().map(|v| [v.x, v.y]).collect::<Vec<_>>();
        SiteFile {
            name: self.name.clone(),
            floors: self
                .floors
                .iter()
                .map(|f| FloorSpec {
                    number: f.number,
                    name: f.name.clone(),
                    map: format!("{}.yaml", floor_map_name(f.number)).into(),
                })
                .collect(),
            places: self
                .places
                .iter()
                .map(|p| PlaceSpec {
                    name: p.name.clone(),
                    kind: p.kind,
                    floor: p.floor,
                    pose: p.pose.map(PoseDeg::from),
                    bed: p.bed.map(|b| BedGeometry {
                        x: b.pose.x,
                        y: b.pose.y,
                        yaw_deg: b.pose.yaw_rad.to_degrees(),
                        length_m: b.length_m,
                        width_m: b.width_m,
                    }),
                    head_end: p
                        .bed
                        .map(|b| b.pose.point().offset(b.pose.yaw_rad, b.length_m / 2.0)),
                })
                .collect(),
            doors: self
                .doors
                .iter()
                .map(|d| DoorSpec {
                    name: d.name.clone(),
                    floor: d.floor,
                    area: area(&d.area),
                    automatic: d.automatic,
                    open_s: d.open_s,
                    assist_s: d.assist_s,
                })
                .collect(),
            elevators: self
                .elevators
                .iter()
                .map(|e| ElevatorSpec {
                    name: e.name.clone(),
                    car: area(&e.car),
                    stops: e
                        .stops
                        .iter()
                        .map(|&(floor, pose)| ElevatorStop {
                            floor,
                            pose: pose.into(),
                        })
                        .collect(),
                    travel_s_per_floor: e.travel_s_per_floor,
                    wait_s: e.wait_s,
                    door_s: e.door_s,
                })
                .collect(),
            speed_zones: self
                .speed_zones
                .iter()
                .map(|z| SpeedZoneSpec {
                    name: z.name.clone(),
                    floor: z.floor,
                    max_speed_mps: z.max_speed_mps,
                    area: area(&z.area),
                })
                .collect(),
            keep_out: self
                .keep_outs
                .iter()
                .map(|k| KeepOutSpec {
                    name: k.name.clone(),
                    floor: k.floor,
                    area: area(&k.area),
                })
                .collect(),
        }
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
