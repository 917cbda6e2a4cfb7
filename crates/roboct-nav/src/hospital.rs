//! The embedded default site: a three-floor hospital wing generated from a floor-plan
//! description, and the large floor that `roboct bench route` plans across.
//!
//! The wing is an 80 m x 30 m "racetrack" block, the common layout of hospital ward wings: two
//! 2.8 m corridors along the length, patient rooms (four-bed wards 7.2 m wide and single rooms
//! 3.6 m wide, 7 m deep, 1.4 m bed-width doors) along the outer walls, and a core between the
//! corridors holding the elevator hall (two bed lifts behind automatic fire doors), stairs at
//! both ends, nurses' stations, utility and staff rooms. Cross corridors at both ends close the
//! loop, so a blocked corridor has a way round.
//!
//! * Floor 0: radiology (the robot's dock, CT, X-ray, the MRI suite as a keep-out zone) and
//!   outpatients.
//! * Floor 1: ward-1 (south) and ward-2 (north).
//! * Floor 2: ward-3 (south), ward-4 (north-west) and the operating theatres (north-east,
//!   sterile: keep-out).
//!
//! Beds stand with their heads against a wall, as in real wards; each bed's approach pose is
//! coaxial with the bed, 0.3 m beyond its foot, facing the head.

use crate::geom::Point;
use crate::map::{FREE, OCCUPIED, OccupancyGrid, UNKNOWN};
use crate::site::{
    BedGeometry, DoorSpec, ElevatorSpec, ElevatorStop, Floor, FloorSpec, KeepOutSpec, PlaceKind,
    PlaceSpec, PoseDeg, Site, SiteFile, SpeedZoneSpec,
};

/// Map resolution of the generated floors, metres per cell.
pub const RESOLUTION_M: f64 = 0.05;
const WALL_M: f64 = 0.2;
const OUTER_WALL_M: f64 = 0.3;
const DOOR_M: f64 = 1.4;
const BED_L: f64 = 2.1;
const BED_W: f64 = 1.0;
/// Gap between a bed's foot and the robot's front at the approach pose, metres.
pub const APPROACH_GAP_M: f64 = 0.3;
/// Half the robot's length, used to place approach poses in the generated plan.
const ROBOT_FRONT_M: f64 = 0.8;

/// Draws one floor and collects its semantic layer.
struct FloorBuilder {
    number: i32,
    grid: OccupancyGrid,
    places: Vec<PlaceSpec>,
    doors: Vec<DoorSpec>,
    zones: Vec<SpeedZoneSpec>,
    keep_out: Vec<KeepOutSpec>,
}

/// Which wall of a room faces the corridor (where its door is).
#[derive(Clone, Copy, PartialEq)]
enum Side {
    North,
    South,
}

impl FloorBuilder {
    fn new(number: i32, w_m: f64, h_m: f64) -> Self {
        let margin = 1.0;
        let width = ((w_m + 2.0 * margin) / RESOLUTION_M).round() as usize;
        let height = ((h_m + 2.0 * margin) / RESOLUTION_M).round() as usize;
        let mut grid = OccupancyGrid::new(
            width,
            height,
            RESOLUTION_M,
            Point::new(-margin, -margin),
            UNKNOWN,
        )
        .expect("the generated floors are small");
        // Inside the building is mapped and free; the outer wall surrounds it; outside stays
        // unknown, as a SLAM map of the building would show it.
        grid.fill_rect(
            -OUTER_WALL_M,
            -OUTER_WALL_M,
            w_m + OUTER_WALL_M,
            h_m + OUTER_WALL_M,
            OCCUPIED,
        );
        grid.fill_rect(0.0, 0.0, w_m, h_m, FREE);
        Self {
            number,
            grid,
            places: vec![],
            doors: vec![],
            zones: vec![],
            keep_out: vec![],
        }
    }

    fn solid(&mut self, x0: f64, y0: f64, x1: f64, y1: f64) {
        self.grid.fill_rect(x0, y0, x1, y1, OCCUPIED);
    }

    /// The walls of a room (centred on its outline).
    fn room(&mut self, x0: f64, y0: f64, x1: f64, y1: f64) {
        let t = WALL_M / 2.0;
        self.solid(x0 - t, y0 - t, x1 + t, y0 + t);
        self.solid(x0 - t, y1 - t, x1 + t, y1 + t);
        self.solid(x0 - t, y0 - t, x0 + t, y1 + t);
        self.solid(x1 - t, y0 - t, x1 + t, y1 + t);
    }

    /// A door of width `w` centred at `(x, y)` in a horizontal wall (along x) or a vertical one.
    fn door(&mut self, name: &str, x: f64, y: f64, w: f64, horizontal: bool, automatic: bool) {
        let t = WALL_M / 2.0 + 0.06;
        let (x0, y0, x1, y1) = if horizontal {
            (x - w / 2.0, y - t, x + w / 2.0, y + t)
        } else {
            (x - t, y - w / 2.0, x + t, y + w / 2.0)
        };
        self.grid.fill_rect(x0, y0, x1, y1, FREE);
        self.doors.push(DoorSpec {
            name: name.to_string(),
            floor: self.number,
            area: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
            automatic,
            open_s: 3.0,
            assist_s: 20.0,
        });
    }

    fn zone(&mut self, name: &str, v: f64, x0: f64, y0: f64, x1: f64, y1: f64) {
        self.zones.push(SpeedZoneSpec {
            name: name.to_string(),
            floor: self.number,
            max_speed_mps: v,
            area: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
        });
    }

    fn keep_out(&mut self, name: &str, x0: f64, y0: f64, x1: f64, y1: f64) {
        self.keep_out.push(KeepOutSpec {
            name: name.to_string(),
            floor: self.number,
            area: vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
        });
    }

    fn place(&mut self, name: &str, kind: PlaceKind, x: f64, y: f64, yaw_deg: f64) {
        self.places.push(PlaceSpec {
            name: name.to_string(),
            kind,
            floor: self.number,
            pose: Some(PoseDeg { x, y, yaw_deg }),
            bed: None,
            head_end: None,
        });
    }

    /// A bed with its head at `head` and its foot towards `yaw_deg + 180`; draws it as an
    /// obstacle and adds the place with its approach pose.
    fn bed(&mut self, name: &str, head: Point, yaw_deg: f64) {
        let yaw = yaw_deg.to_radians();
        let centre = head.offset(yaw, -BED_L / 2.0);
        let (dx, dy) = (
            (BED_L / 2.0 * yaw.cos()).abs() + (BED_W / 2.0 * yaw.sin()).abs(),
            (BED_L / 2.0 * yaw.sin()).abs() + (BED_W / 2.0 * yaw.cos()).abs(),
        );
        self.solid(centre.x - dx, centre.y - dy, centre.x + dx, centre.y + dy);
        let approach = centre.offset(yaw, -(BED_L / 2.0 + APPROACH_GAP_M + ROBOT_FRONT_M));
        self.places.push(PlaceSpec {
            name: name.to_string(),
            kind: PlaceKind::Bed,
            floor: self.number,
            pose: Some(PoseDeg {
                x: approach.x,
                y: approach.y,
                yaw_deg,
            }),
            bed: Some(BedGeometry {
                x: centre.x,
                y: centre.y,
                yaw_deg,
                length_m: BED_L,
                width_m: BED_W,
            }),
            head_end: Some(head),
        });
    }

    /// A four-bed ward room `[x0, x0 + 7.2] x [y0, y1]` with its door on `side`; beds with
    /// their heads against the side walls. Returns the next bed number.
    #[allow(clippy::too_many_arguments)] // floor-plan calls read best as plain coordinates
    fn ward_room(
        &mut self,
        ward: &str,
        room: usize,
        x0: f64,
        y0: f64,
        y1: f64,
        side: Side,
        bed: usize,
    ) -> usize {
        let x1 = x0 + 7.2;
        self.room(x0, y0, x1, y1);
        let (door_y, near, far) = match side {
            Side::North => (y1, y0 + 1.8, y0 + 4.6),
            Side::South => (y0, y1 - 1.8, y1 - 4.6),
        };
        self.door(
            &format!("{ward}/room-{room}"),
            x0 + 3.6,
            door_y,
            DOOR_M,
            true,
            false,
        );
        let inner = WALL_M / 2.0 + 0.05;
        let mut n = bed;
        for y in [near, far] {
            self.bed(&format!("{ward}/bed-{n}"), Point::new(x0 + inner, y), 180.0);
            self.bed(
                &format!("{ward}/bed-{}", n + 1),
                Point::new(x1 - inner, y),
                0.0,
            );
            n += 2;
        }
        self.zone(&format!("{ward}/room-{room}"), 0.3, x0, y0, x1, y1);
        n
    }

    /// A single room `[x0, x0 + 3.6] x [y0, y1]`, bed head against the outer wall.
    #[allow(clippy::too_many_arguments)] // floor-plan calls read best as plain coordinates
    fn single_room(
        &mut self,
        ward: &str,
        room: usize,
        x0: f64,
        y0: f64,
        y1: f64,
        side: Side,
        bed: usize,
    ) -> usize {
        let x1 = x0 + 3.6;
        self.room(x0, y0, x1, y1);
        let inner = WALL_M / 2.0 + 0.05;
        let (door_y, head, yaw) = match side {
            Side::North => (y1, Point::new(x0 + 1.5, y0 + inner), -90.0),
            Side::South => (y0, Point::new(x0 + 1.5, y1 - inner), 90.0),
        };
        self.door(
            &format!("{ward}/room-{room}"),
            x0 + 2.3,
            door_y,
            1.3,
            true,
            false,
        );
        self.bed(&format!("{ward}/bed-{bed}"), head, yaw);
        self.zone(&format!("{ward}/room-{room}"), 0.3, x0, y0, x1, y1);
        bed + 1
    }

    /// A plain room with a door (offices, utility, staff rooms).
    #[allow(clippy::too_many_arguments)] // floor-plan calls read best as plain coordinates
    fn plain_room(
        &mut self,
        name: &str,
        x0: f64,
        y0: f64,
        x1: f64,
        y1: f64,
        door_x: f64,
        door_y: f64,
    ) {
        self.room(x0, y0, x1, y1);
        self.door(name, door_x, door_y, 1.2, true, false);
    }

    /// A ward's side of the wing: rooms between `x0` and `x1`, beds numbered from 1.
    fn ward_side(&mut self, ward: &str, x0: f64, x1: f64, y0: f64, y1: f64, side: Side) {
        let mut x = x0;
        let (mut room, mut bed) = (1, 1);
        // Four-bed rooms, with a pair of single rooms after every third.
        while x + 7.2 <= x1 + 1e-9 {
            bed = self.ward_room(ward, room, x, y0, y1, side, bed);
            room += 1;
            x += 7.2;
            if room % 4 == 0 && x + 7.2 <= x1 + 1e-9 {
                bed = self.single_room(ward, room, x, y0, y1, side, bed);
                bed = self.single_room(ward, room + 1, x + 3.6, y0, y1, side, bed);
                room += 2;
                x += 7.2;
            }
        }
        let entrance_y = match side {
            Side::North => y1 + 1.4,
            Side::South => y0 - 1.4,
        };
        self.place(ward, PlaceKind::Ward, x0 + 1.0, entrance_y, 0.0);
    }

    fn finish(self, name: &str) -> (Floor, FloorSpec, SiteFile) {
        let spec = FloorSpec {
            number: self.number,
            name: name.to_string(),
            map: format!("{}.yaml", crate::site::floor_map_name(self.number)).into(),
        };
        let file = SiteFile {
            name: String::new(),
            floors: vec![],
            places: self.places,
            doors: self.doors,
            elevators: vec![],
            speed_zones: self.zones,
            keep_out: self.keep_out,
        };
        (
            Floor {
                number: self.number,
                name: name.to_string(),
                grid: self.grid,
            },
            spec,
            file,
        )
    }
}

// The wing's floor plan, in metres (x along the wing, y across it).
const WING_W: f64 = 80.0;
const WING_H: f64 = 30.0;
const SOUTH_ROOMS: (f64, f64) = (0.0, 7.0);
const SOUTH_CORRIDOR: (f64, f64) = (7.0, 9.8);
const CORE: (f64, f64) = (9.8, 20.2);
const NORTH_CORRIDOR: (f64, f64) = (20.2, 23.0);
const NORTH_ROOMS: (f64, f64) = (23.0, 30.0);
const WEST_CROSS: (f64, f64) = (4.0, 6.8);
const EAST_CROSS: (f64, f64) = (73.2, 76.0);
const HALL: (f64, f64) = (34.0, 46.0);
const SHAFT_X: (f64, f64) = (34.0, 36.8);
const LIFT_A_Y: (f64, f64) = (11.0, 14.0);
const LIFT_B_Y: (f64, f64) = (16.0, 19.0);
const STAIRS_X: (f64, f64) = (43.0, 46.0);

/// The parts of the wing every floor shares: core, elevator hall, stairs, cross corridors.
fn wing_core(b: &mut FloorBuilder) {
    let n = b.number;
    // Stairs at both ends of the core (keep-out: a 260 kg robot must never roll near them).
    for (x0, x1, name) in [(0.0, WEST_CROSS.0, "west"), (EAST_CROSS.1, WING_W, "east")] {
        b.room(x0, CORE.0, x1, CORE.1);
        b.door(
            &format!("stairs-{name}-{n}"),
            (x0 + x1) / 2.0,
            CORE.0,
            1.2,
            true,
            false,
        );
        b.keep_out(&format!("stairs ({name})"), x0, CORE.0 - 0.5, x1, CORE.1);
    }
    // Core rooms between the cross corridors and the elevator hall.
    for &(cx0, cx1) in &[(WEST_CROSS.1, HALL.0), (HALL.1, EAST_CROSS.0)] {
        let mid = (CORE.0 + CORE.1) / 2.0;
        let mut x = cx0;
        let mut i = 0;
        while x + 5.0 <= cx1 + 1e-9 {
            let x1 = if cx1 - (x + 5.5) < 5.0 { cx1 } else { x + 5.5 };
            let name_s = format!("core-{n}-{}", 2 * i + 1);
            let name_n = format!("core-{n}-{}", 2 * i + 2);
            b.plain_room(&name_s, x, CORE.0, x1, mid, (x + x1) / 2.0, CORE.0);
            b.plain_room(&name_n, x, mid, x1, CORE.1, (x + x1) / 2.0, CORE.1);
            i += 1;
            x = x1;
        }
    }
    // Elevator hall: open to both corridors through automatic fire doors.
    b.room(HALL.0, CORE.0, HALL.1, CORE.1);
    let hall_mid = (SHAFT_X.1 + STAIRS_X.0) / 2.0;
    b.door(
        &format!("hall-south-{n}"),
        hall_mid,
        CORE.0,
        2.6,
        true,
        true,
    );
    b.door(
        &format!("hall-north-{n}"),
        hall_mid,
        CORE.1,
        2.6,
        true,
        true,
    );
    for (y0, y1) in [LIFT_A_Y, LIFT_B_Y] {
        // The shaft: the car's closed doors face the hall.
        b.solid(SHAFT_X.0, y0, SHAFT_X.1, y1);
    }
    b.room(STAIRS_X.0, CORE.0, STAIRS_X.1, CORE.1);
    b.keep_out(
        "stairs (hall)",
        STAIRS_X.0 - 0.3,
        CORE.0,
        STAIRS_X.1,
        CORE.1,
    );
    b.zone(
        &format!("elevator-hall-{n}"),
        0.5,
        SHAFT_X.1,
        CORE.0,
        STAIRS_X.0,
        CORE.1,
    );
    b.place(
        &format!("elevator-hall-{n}"),
        PlaceKind::Other,
        hall_mid,
        (CORE.0 + CORE.1) / 2.0,
        90.0,
    );
    // Corridors keep the robot at walking pace.
    b.zone(
        &format!("corridor-south-{n}"),
        0.8,
        0.0,
        SOUTH_CORRIDOR.0,
        WING_W,
        SOUTH_CORRIDOR.1,
    );
    b.zone(
        &format!("corridor-north-{n}"),
        0.8,
        0.0,
        NORTH_CORRIDOR.0,
        WING_W,
        NORTH_CORRIDOR.1,
    );
}

/// Radiology along the south side of the ground floor.
fn radiology(b: &mut FloorBuilder) {
    let (y0, y1) = SOUTH_ROOMS;
    // Robot garage with the dock: the robot parks facing the door.
    b.room(4.0, y0, 10.0, y1);
    b.door("garage", 7.0, y1, 1.6, true, true);
    b.place("dock", PlaceKind::Dock, 7.0, 3.0, 90.0);
    b.solid(6.2, y0, 7.8, 0.6); // charging station on the back wall
    // CT room with its gantry and table.
    b.plain_room("ct-room", 10.0, y0, 18.0, y1, 14.0, y1);
    b.solid(13.0, 2.0, 15.0, 2.8);
    b.solid(13.6, 2.8, 14.4, 5.0);
    b.place("ct-room", PlaceKind::Room, 16.5, 5.5, 90.0);
    // X-ray rooms.
    for (i, x) in [18.0, 24.0].into_iter().enumerate() {
        b.plain_room(&format!("x-ray-{}", i + 1), x, y0, x + 6.0, y1, x + 3.0, y1);
        b.solid(x + 1.0, 2.0, x + 3.0, 3.0);
    }
    // Reporting rooms opposite the elevator hall.
    for (i, x) in [30.0, 36.0, 42.0].into_iter().enumerate() {
        b.plain_room(
            &format!("reporting-{}", i + 1),
            x,
            y0,
            x + 6.0,
            y1,
            x + 3.0,
            y1,
        );
    }
    b.zone("radiology", 0.3, 4.0, y0, 48.0, y1);
    // MRI suite: control room, then the magnet room (zone IV: keep-out for anything
    // ferromagnetic, which a 260 kg robot is, reaching 0.5 m into the corridor).
    b.room(48.0, y0, 52.0, y1);
    b.door("radiology-reception", 50.0, y1, 1.2, true, true);
    b.plain_room("mri-control", 52.0, y0, 58.0, y1, 55.0, y1);
    b.room(58.0, y0, 68.0, y1);
    b.door("mri", 63.0, y1, 1.4, true, false);
    b.solid(61.0, 2.0, 65.0, 4.5);
    b.keep_out("MRI", 58.0, y0, 68.0, y1 + 0.5);
    let x = 68.0;
    b.room(x, y0, WING_W, y1);
    b.door("radiology-store", x + 2.0, y1, 1.2, true, false);
    b.room(0.0, y0, 4.0, y1);
    b.door("radiology-office", 2.0, y1, 1.2, true, false);
}

/// Outpatients along the north side of the ground floor, with the entrance lobby.
fn outpatients(b: &mut FloorBuilder) {
    let (y0, y1) = NORTH_ROOMS;
    let mut x = 0.0;
    let mut i = 1;
    while x + 4.0 <= 30.0 {
        b.plain_room(&format!("consulting-{i}"), x, y0, x + 4.0, y1, x + 2.0, y0);
        b.solid(x + 1.0, y1 - 2.0, x + 2.6, y1 - 1.2); // desk
        x += 4.0;
        i += 1;
    }
    // Lobby: open to the corridor, with rows of seats.
    b.room(30.0, y0, 50.0, y1);
    b.grid.fill_rect(31.0, y0 - 0.2, 49.0, y0 + 0.2, FREE);
    for row in 0..3 {
        let y = y0 + 2.0 + 1.5 * f64::from(row);
        b.solid(33.0, y, 38.0, y + 0.5);
        b.solid(42.0, y, 47.0, y + 0.5);
    }
    b.place("lobby", PlaceKind::Other, 40.0, y0 + 1.0, 90.0);
    b.zone("lobby", 0.5, 30.0, y0, 50.0, y1);
    let mut x = 50.0;
    while x + 4.0 <= WING_W + 1e-9 {
        b.plain_room(&format!("consulting-{i}"), x, y0, x + 4.0, y1, x + 2.0, y0);
        b.solid(x + 1.0, y1 - 2.0, x + 2.6, y1 - 1.2);
        x += 4.0;
        i += 1;
    }
}

/// A ward floor: `south` and `north` wards, or operating theatres on the north-east.
fn ward_floor(b: &mut FloorBuilder, south: &str, north: &str, theatres: bool) {
    b.room(0.0, SOUTH_ROOMS.0, WEST_CROSS.0, SOUTH_ROOMS.1);
    b.door(
        &format!("{south}/office"),
        2.0,
        SOUTH_ROOMS.1,
        1.2,
        true,
        false,
    );
    b.ward_side(
        south,
        WEST_CROSS.0,
        EAST_CROSS.1,
        SOUTH_ROOMS.0,
        SOUTH_ROOMS.1,
        Side::North,
    );
    b.room(0.0, NORTH_ROOMS.0, WEST_CROSS.0, NORTH_ROOMS.1);
    b.door(
        &format!("{north}/office"),
        2.0,
        NORTH_ROOMS.0,
        1.2,
        true,
        false,
    );
    let north_end = if theatres { HALL.1 } else { EAST_CROSS.1 };
    b.ward_side(
        north,
        WEST_CROSS.0,
        north_end,
        NORTH_ROOMS.0,
        NORTH_ROOMS.1,
        Side::South,
    );
    if theatres {
        // Operating theatres: a sterile area behind one door, off limits to the robot.
        b.room(HALL.1 + 1.0, NORTH_ROOMS.0, WING_W, NORTH_ROOMS.1);
        b.door("theatres", HALL.1 + 3.0, NORTH_ROOMS.0, 1.8, true, true);
        for i in 0..3 {
            let x = HALL.1 + 4.0 + 10.0 * f64::from(i);
            b.solid(x + 4.0, NORTH_ROOMS.0 + 3.0, x + 6.0, NORTH_ROOMS.0 + 3.8);
        }
        b.keep_out(
            "sterile area (theatres)",
            HALL.1 + 1.0,
            NORTH_ROOMS.0 - 0.6,
            WING_W,
            NORTH_ROOMS.1,
        );
    }
    // Nurses' stations: open counters in the core, facing each corridor.
    let n = b.number;
    for (ward, y, yaw) in [(south, CORE.0 + 1.5, -90.0), (north, CORE.1 - 1.5, 90.0)] {
        b.place(
            &format!("{ward}/nurses-station"),
            PlaceKind::NursesStation,
            30.0,
            y,
            yaw,
        );
    }
    let _ = n;
}

/// The embedded default site: the three-floor hospital wing (about 1 million cells a floor at
/// 5 cm), with its semantic layer.
pub fn default_hospital() -> Site {
    let floors = [
        (0, "ground floor: radiology and outpatients"),
        (1, "first floor: wards 1 and 2"),
        (2, "second floor: wards 3 and 4, operating theatres"),
    ];
    let mut site_file = SiteFile {
        name: "roboct demo hospital, east wing".into(),
        floors: vec![],
        places: vec![],
        doors: vec![],
        elevators: vec![],
        speed_zones: vec![],
        keep_out: vec![],
    };
    let mut built = Vec::new();
    for (number, name) in floors {
        let mut b = FloorBuilder::new(number, WING_W, WING_H);
        wing_core(&mut b);
        match number {
            0 => {
                radiology(&mut b);
                outpatients(&mut b);
            }
            1 => ward_floor(&mut b, "ward-1", "ward-2", false),
            _ => ward_floor(&mut b, "ward-3", "ward-4", true),
        }
        let (floor, spec, part) = b.finish(name);
        site_file.floors.push(spec);
        site_file.places.extend(part.places);
        site_file.doors.extend(part.doors);
        site_file.speed_zones.extend(part.speed_zones);
        site_file.keep_out.extend(part.keep_out);
        built.push(floor);
    }
    let stop_x = SHAFT_X.1 + WALL_M / 2.0 + 0.4 + ROBOT_FRONT_M;
    for (name, (y0, y1)) in [("lift-A", LIFT_A_Y), ("lift-B", LIFT_B_Y)] {
        // The car fills the shaft inside its 0.1 m walls, from the hall side of its doors.
        let car = vec![
            [SHAFT_X.0 + 0.1, y0 + 0.1],
            [SHAFT_X.1, y0 + 0.1],
            [SHAFT_X.1, y1 - 0.1],
            [SHAFT_X.0 + 0.1, y1 - 0.1],
        ];
        site_file.elevators.push(ElevatorSpec {
            name: name.into(),
            car,
            stops: (0..3)
                .map(|floor| ElevatorStop {
                    floor,
                    pose: PoseDeg {
                        x: stop_x,
                        y: (y0 + y1) / 2.0,
                        yaw_deg: 180.0,
                    },
                })
                .collect(),
            travel_s_per_floor: 5.0,
            wait_s: 25.0,
            door_s: 6.0,
        });
    }
    Site::from_spec(
        &site_file,
        built,
        std::path::Path::new("<embedded default hospital>"),
    )
    .expect("the embedded hospital is consistent")
}

/// The large single floor of `roboct bench route`: `width_cells x height_cells` cells at 5 cm
/// (4000 x 2000 is 200 m x 100 m), rows of wards (rooms with beds on both sides of a corridor)
/// joined by cross corridors at both ends and in the middle. Returns the site and two far
/// corners to plan between (a bed in the south-west room and one in the north-east room).
pub fn bench_floor(width_cells: usize, height_cells: usize) -> (Site, String, String) {
    let w_m = width_cells as f64 * RESOLUTION_M - 2.0;
    let h_m = height_cells as f64 * RESOLUTION_M - 2.0;
    let mut b = FloorBuilder::new(0, w_m, h_m);
    let strip = 16.8;
    let rows = ((h_m / (strip + 2.0)).floor() as usize).max(1);
    let cross: Vec<f64> = vec![2.0, w_m / 2.0 - 1.4, w_m - 4.8];
    let mut first_bed = None;
    let mut last_bed = None;
    for r in 0..rows {
        let y0 = r as f64 * (strip + 2.0);
        let corridor = (y0 + 7.0, y0 + 9.8);
        b.zone(
            &format!("corridor-{r}"),
            0.8,
            0.0,
            corridor.0,
            w_m,
            corridor.1,
        );
        // Rooms between the cross corridors, on both sides of this row's corridor.
        for seg in 0..cross.len() - 1 {
            let (sx0, sx1) = (cross[seg] + 2.8, cross[seg + 1]);
            for (side, ry0, ry1) in [
                (Side::North, y0, y0 + 7.0),
                (Side::South, y0 + 9.8, y0 + strip),
            ] {
                let ward = format!(
                    "ward-r{r}s{seg}{}",
                    if side == Side::North { "a" } else { "b" }
                );
                let before = b.places.len();
                b.ward_side(&ward, sx0, sx1, ry0, ry1, side);
                let beds: Vec<String> = b.places[before..]
                    .iter()
                    .filter(|p| p.kind == PlaceKind::Bed)
                    .map(|p| p.name.clone())
                    .collect();
                if first_bed.is_none() {
                    first_bed = beds.first().cloned();
                }
                if let Some(l) = beds.last() {
                    last_bed = Some(l.clone());
                }
            }
        }
        // Between rows: a wall with the cross corridors passing through.
        if r + 1 < rows {
            let gy0 = y0 + strip;
            let gy1 = gy0 + 2.0;
            b.solid(0.0, gy0, w_m, gy1);
            for &cx in &cross {
                b.grid.fill_rect(cx, gy0 - 0.2, cx + 2.8, gy1 + 0.2, FREE);
            }
        }
    }
    // Everything above the last row is plant rooms: solid.
    let top = rows as f64 * (strip + 2.0) - 2.0;
    if top < h_m {
        b.solid(0.0, top, w_m, h_m);
    }
    let (floor, spec, part) = b.finish("bench floor");
    let file = SiteFile {
        name: format!("bench floor {width_cells} x {height_cells} cells"),
        floors: vec![spec],
        places: part.places,
        doors: part.doors,
        elevators: vec![],
        speed_zones: part.speed_zones,
        keep_out: vec![],
    };
    let site = Site::from_spec(&file, vec![floor], std::path::Path::new("<bench floor>"))
        .expect("the bench floor is consistent");
    (
        site,
        first_bed.unwrap_or_default(),
        last_bed.unwrap_or_default(),
    )
}
