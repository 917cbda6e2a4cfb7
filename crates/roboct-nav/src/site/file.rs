//! The site file: the YAML layout of a site's floors and semantic layer as written (metres and
//! degrees), read into a checked [`Site`] ([`Site::from_spec`]) and written back
//! ([`Site::to_spec`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MapError;
use crate::geom::{Point, Polygon, Pose};

use super::{
    Bed, Door, Elevator, Floor, KeepOut, Place, PlaceKind, Site, SpeedZone, floor_map_name,
};

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

impl Site {
    /// Builds and checks a site from its file contents and already loaded floors. Here only
    /// what the file form adds is checked (place names, beds and their head ends, poses on
    /// the map, polygons); [`Site::check`] checks the rest, for loaded and built sites alike.
    ///
    /// # Errors
    /// [`MapError::Site`] for the first inconsistent entry.
    pub fn from_spec(spec: &SiteFile, floors: Vec<Floor>, file: &Path) -> Result<Site, MapError> {
        if floors.is_empty() {
            return Err(MapError::Site {
                file: file.to_path_buf(),
                item: "floors".into(),
                message: "a site needs at least one floor".into(),
            });
        }
        let check = SpecCheck {
            file,
            floors: &floors,
            known: floors.iter().map(|f| f.number).collect(),
        };
        let mut places = Vec::with_capacity(spec.places.len());
        for (i, p) in spec.places.iter().enumerate() {
            places.push(check.place(p, i, &spec.places[..i])?);
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
                check.floor(&item, s.floor)?;
                check.inside(&item, s.floor, Point::new(s.pose.x, s.pose.y))?;
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

/// The checks of a site file's semantic layer against its floors, as it is read.
struct SpecCheck<'a> {
    file: &'a Path,
    floors: &'a [Floor],
    /// The floors' numbers.
    known: Vec<i32>,
}

impl SpecCheck<'_> {
    fn err(&self, item: String, message: String) -> MapError {
        MapError::Site {
            file: self.file.to_path_buf(),
            item,
            message,
        }
    }

    /// `floor` is one of the site's.
    fn floor(&self, item: &str, floor: i32) -> Result<(), MapError> {
        if self.known.contains(&floor) {
            Ok(())
        } else {
            Err(self.err(
                item.to_string(),
                format!(
                    "floor {floor} is not among the site's floors {:?}",
                    self.known
                ),
            ))
        }
    }

    /// `p` lies on `floor`'s map.
    fn inside(&self, item: &str, floor: i32, p: Point) -> Result<(), MapError> {
        let inside = self
            .floors
            .iter()
            .find(|f| f.number == floor)
            .is_some_and(|f| f.grid.cell_of(p).is_some());
        if inside {
            Ok(())
        } else {
            Err(self.err(
                item.to_string(),
                format!(
                    "({}, {}) lies outside floor {floor}'s map",
                    crate::fmt_m(p.x),
                    crate::fmt_m(p.y)
                ),
            ))
        }
    }

    /// Place number `i` (`before`: the places before it), checked.
    fn place(&self, p: &PlaceSpec, i: usize, before: &[PlaceSpec]) -> Result<Place, MapError> {
        let item = format!("place \"{}\"", p.name);
        if p.name.trim().is_empty() {
            return Err(self.err(format!("place #{}", i + 1), "`name` is empty".into()));
        }
        if before.iter().any(|q| q.name == p.name) {
            return Err(self.err(item, "place names must be unique".into()));
        }
        self.floor(&item, p.floor)?;
        let pose = p.pose.map(Pose::from);
        if let Some(pose) = pose {
            self.inside(&item, p.floor, pose.point())?;
        }
        let bed = match (p.kind, p.bed, p.head_end) {
            (PlaceKind::Bed, Some(b), Some(head)) => Some(self.bed(&item, p.floor, b, head, pose)?),
            (PlaceKind::Bed, _, _) => {
                return Err(self.err(
                    item,
                    "a bed needs `bed` (its pose and size) and `head_end`".into(),
                ));
            }
            (_, None, None) => {
                if pose.is_none() {
                    return Err(self.err(item, "needs a `pose`".into()));
                }
                None
            }
            _ => {
                return Err(self.err(
                    item,
                    "`bed` and `head_end` are only for places of kind `bed`".into(),
                ));
            }
        };
        Ok(Place {
            name: p.name.clone(),
            kind: p.kind,
            floor: p.floor,
            pose,
            bed,
        })
    }

    /// A bed: its size positive, its centre on the map, `head` at one of its ends (which
    /// orients it), and the approach `pose` (if any) along its axis.
    fn bed(
        &self,
        item: &str,
        floor: i32,
        b: BedGeometry,
        head: Point,
        pose: Option<Pose>,
    ) -> Result<Bed, MapError> {
        let item = item.to_string();
        if !(b.length_m > 0.0 && b.width_m > 0.0) {
            return Err(self.err(item, "bed `length_m` and `width_m` must be > 0".into()));
        }
        let centre = Point::new(b.x, b.y);
        self.inside(&item, floor, centre)?;
        let axis = b.yaw_deg.to_radians();
        // The head end picks the direction along the axis; it must lie on the axis at half the
        // bed's length from the centre.
        let toward = centre.heading_to(head);
        let along = crate::geom::wrap_angle(toward - axis);
        let yaw = if along.abs() <= std::f64::consts::FRAC_PI_2 {
            axis
        } else {
            axis + std::f64::consts::PI
        };
        let expected = centre.offset(yaw, b.length_m / 2.0);
        if expected.dist(head) > 0.3 {
            return Err(self.err(
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
                return Err(self.err(
                    item,
                    format!(
                        "approach `pose` heading {:.0} deg is not aligned with the bed's axis ({:.0} deg); the gantry must slide along the bed",
                        a.yaw_rad.to_degrees(),
                        yaw.to_degrees()
                    ),
                ));
            }
        }
        Ok(Bed {
            pose: Pose::new(b.x, b.y, yaw),
            length_m: b.length_m,
            width_m: b.width_m,
        })
    }
}
