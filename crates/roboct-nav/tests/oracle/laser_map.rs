//! A laser-built building map as a SLAM tool (gmapping, slam_toolbox) writes it, made by the
//! tests: 1.8 m corridors (an L-turn, a T-junction with a dead end), rooms behind doors of
//! 0.9 m (too narrow), 1.4 m, 1.6 m and a 1.4 m glass door, 5 cm cells, the origin off the corner so that half the coordinates are
//! negative. Walls are the thin occupied lines the laser hit, with unknown space behind them;
//! along the walls run streaks of unknown cells (grazing rays that never returned) reaching up
//! to two cells into the corridors, single unknown speckles up to three cells from the walls,
//! and one glass door the laser saw through (its doorway unknown). Saved as a
//! `map_saver` pair: an 8-bit PNG (254 free, 0 occupied, 205 unknown) and its YAML.
//!
//! Shared by `roboct-nav/tests/completeness.rs` and `roboct/tests/route_cli.rs` (included by
//! path), so both test the same map.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use roboct_nav::geom::Point;
use roboct_nav::map::{FREE, OCCUPIED, OccupancyGrid, UNKNOWN};

/// Metres per cell.
pub const RESOLUTION_M: f64 = 0.05;
/// The map's lower-left corner.
pub const ORIGIN: (f64, f64) = (-12.0, -7.0);

/// Free areas `(x0, y0, x1, y1)` in metres: corridors, rooms and the doorways between them.
pub const FREE_AREAS: [(f64, f64, f64, f64); 11] = [
    // Main corridor, west to east, 1.8 m wide.
    (-10.0, -1.0, 10.0, 0.8),
    // East corridor going north from the main one's east end: an L-turn, 1.8 m wide.
    (8.2, 0.8, 10.0, 6.0),
    // Middle corridor going north: a T-junction, a 1.8 m dead end at y = 5.
    (-1.0, 0.8, 0.8, 5.0),
    // North-west room and its 1.4 m door.
    (-9.0, 1.2, -3.0, 5.0),
    (-7.0, 0.8, -5.6, 1.2),
    // South room and its 1.6 m double door.
    (2.0, -5.0, 7.0, -1.4),
    (4.0, -1.4, 5.6, -1.0),
    // North-east room beside the east corridor, through a 1.4 m (glass) door.
    (3.0, 2.0, 7.6, 5.5),
    (7.6, 2.9, 8.2, 4.3),
    // South-west room and its 0.9 m door.
    (-9.0, -5.0, -4.0, -1.4),
    (-7.0, -1.4, -6.1, -1.0),
];

/// The doorways among [`FREE_AREAS`]: streaks and speckles keep away from them.
pub const DOORS: [(f64, f64, f64, f64); 4] = [
    (-7.0, 0.8, -5.6, 1.2),
    (4.0, -1.4, 5.6, -1.0),
    (7.6, 2.9, 8.2, 4.3),
    (-7.0, -1.4, -6.1, -1.0),
];

/// Places with headings on this map, for the questions that need one (written to a site file
/// beside the map by [`save_site`]): `(name, x, y, yaw_deg)`.
pub const PLACES: [(&str, f64, f64, f64); 5] = [
    // Facing the end of the 1.8 m dead end: it cannot turn round there.
    ("dead-end", -0.1, 3.8, 90.0),
    // Across the 1.8 m east corridor: the robot does not fit that way round.
    ("across-east", 9.1, 3.0, 0.0),
    // In the dead end, facing out of it (it drives in forwards and cannot turn round there).
    ("dead-end-out", -0.1, 3.5, 270.0),
    // In the dead end, facing in.
    ("dead-end-in", -0.1, 3.5, 90.0),
    // In the main corridor facing west: the robot comes from the west, so it turns round at
    // the T-junction first.
    ("main-west", 0.0, -0.1, 180.0),
];

/// The questions asked of the binary (`roboct/tests/route_cli.rs`) and of the oracle
/// (`roboct-nav/tests/completeness.rs`) on this map: `(from, to, what the answer says)`,
/// `route` for a route. Every one is an answer somebody will get.
pub const CASES: [(&str, &str, &str); 13] = [
    // Along 1.8 m corridors with streaks of unknown cells, round the L-turn.
    ("-8.5,-0.1", "9.1,5", "route"),
    // Into rooms through a 1.4 m door and a 1.6 m double door off 1.8 m corridors.
    ("-8.5,-0.1", "-6,3", "route"),
    ("-8.5,-0.1", "5,-3", "route"),
    // Headings at the goal that need a turn at a junction first, or none.
    ("-8.5,-0.1", "main-west", "route"),
    ("-8.5,-0.1", "dead-end-in", "route"),
    // The room behind the glass door: unknown cells in the doorway.
    (
        "-8.5,-0.1",
        "5,4",
        "unknown (unmapped) cells block the way near",
    ),
    // The room behind the 0.9 m door.
    ("-8.5,-0.1", "-6.5,-3", "no way wide enough"),
    // Goals the robot cannot stand at.
    (
        "-8.5,-0.1",
        "0.2,4.4",
        "too tight for the robot's footprint at any heading",
    ),
    ("-8.5,-0.1", "-11,6", "in unknown (unmapped) space"),
    ("-8.5,-0.1", "-9.5,-0.1", "too close to an obstacle"),
    (
        "-8.5,-0.1",
        "across-east",
        "too tight for the robot's footprint facing 0 deg",
    ),
    // A start facing the end of a dead end, and a goal facing out of one.
    ("dead-end", "-8.5,-0.1", "cannot turn at"),
    ("-8.5,-0.1", "dead-end-out", "but not facing 270 deg"),
];

/// Writes a site file `<dir>/<name>.yaml` with the map `map_yaml` (beside it) as floor 0
/// and [`PLACES`]. Returns its path.
pub fn save_site(dir: &Path, name: &str, map_yaml: &Path) -> PathBuf {
    let map = map_yaml
        .file_name()
        .expect("a map file name")
        .to_string_lossy()
        .into_owned();
    let mut text = format!(
        "name: laser-built test building\nfloors:\n  - {{ number: 0, map: {map} }}\nplaces:\n"
    );
    for (place, x, y, yaw) in PLACES {
        text.push_str(&format!(
            "  - {{ name: {place}, kind: other, floor: 0, pose: {{ x: {x}, y: {y}, yaw_deg: {yaw} }} }}\n"
        ));
    }
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("write the site file");
    path
}

/// A small deterministic generator (splitmix64), so the map is the same on every run.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The map: unknown everywhere, the free areas carved out, occupied walls where the laser
/// hit, then the laser's streaks and speckles of unknown cells along the walls.
pub fn laser_map(seed: u64) -> OccupancyGrid {
    let (w, h) = (480usize, 280usize);
    let mut g = OccupancyGrid::new(w, h, RESOLUTION_M, Point::new(ORIGIN.0, ORIGIN.1), UNKNOWN)
        .expect("a small grid");
    for &(x0, y0, x1, y1) in &FREE_AREAS {
        g.fill_rect(x0, y0, x1, y1, FREE);
    }
    // Walls: every non-free cell within two cells of a free one was hit by the laser.
    let free: Vec<bool> = g.cells.iter().map(|&v| v == FREE).collect();
    for cy in 0..h {
        for cx in 0..w {
            if free[cy * w + cx] {
                continue;
            }
            let near_free = (cy.saturating_sub(2)..(cy + 3).min(h))
                .any(|y| (cx.saturating_sub(2)..(cx + 3).min(w)).any(|x| free[y * w + x]));
            if near_free {
                g.cells[cy * w + cx] = OCCUPIED;
            }
        }
    }
    let near_door = |cx: i64, cy: i64| {
        let p = Point::new(
            ORIGIN.0 + (cx as f64 + 0.5) * RESOLUTION_M,
            ORIGIN.1 + (cy as f64 + 0.5) * RESOLUTION_M,
        );
        DOORS.iter().any(|&(x0, y0, x1, y1)| {
            p.x > x0 - 0.3 && p.x < x1 + 0.3 && p.y > y0 - 0.3 && p.y < y1 + 0.3
        })
    };
    let cell = |g: &OccupancyGrid, x: i64, y: i64| -> Option<i8> {
        (x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h)
            .then(|| g.cells[y as usize * w + x as usize])
    };
    // Free cells against a wall, with the direction of the wall: where the laser's streaks
    // and speckles lie.
    let mut at_wall: Vec<(i64, i64, i64, i64)> = Vec::new();
    for cy in 1..h as i64 - 1 {
        for cx in 1..w as i64 - 1 {
            if cell(&g, cx, cy) != Some(FREE) || near_door(cx, cy) {
                continue;
            }
            for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                if cell(&g, cx + dx, cy + dy) == Some(OCCUPIED) {
                    at_wall.push((cx, cy, dx, dy));
                    break;
                }
            }
        }
    }
    let mut rng = Rng(seed);
    // Streaks: runs of 0.3 to 2 m along a wall, 1 or 2 cells deep, of cells never seen; they
    // follow the wall and stop where it ends or near a doorway.
    for _ in 0..40 {
        let (cx, cy, wx, wy) = at_wall[rng.below(at_wall.len())];
        let (rx, ry) = if rng.unit() < 0.5 {
            (wy, wx)
        } else {
            (-wy, -wx)
        };
        let len = (rng.range(0.3, 2.0) / RESOLUTION_M) as i64;
        let depth = 1 + rng.below(2) as i64;
        for t in 0..len {
            let (bx, by) = (cx + rx * t, cy + ry * t);
            let against_wall = matches!(cell(&g, bx + wx, by + wy), Some(OCCUPIED | UNKNOWN));
            if cell(&g, bx, by).is_none_or(|v| v == OCCUPIED) || !against_wall || near_door(bx, by)
            {
                break;
            }
            // The streak's depth wanders by a cell, like a real one.
            let d = (depth + rng.below(2) as i64).min(2);
            for k in 0..d {
                let (x, y) = (bx - wx * k, by - wy * k);
                if cell(&g, x, y) == Some(FREE) {
                    g.cells[y as usize * w + x as usize] = UNKNOWN;
                }
            }
            // The wall under a streak may be unseen too (the ray never came back).
            if rng.unit() < 0.5 {
                let (x, y) = (bx + wx, by + wy);
                g.cells[y as usize * w + x as usize] = UNKNOWN;
            }
        }
    }
    // Speckles: single unknown cells up to 0.15 m from a wall.
    for _ in 0..250 {
        let (cx, cy, wx, wy) = at_wall[rng.below(at_wall.len())];
        let k = rng.below(3) as i64;
        let lateral = rng.below(5) as i64 - 2;
        let (x, y) = (cx - wx * k + wy * lateral, cy - wy * k + wx * lateral);
        if cell(&g, x, y) == Some(FREE) && !near_door(x, y) {
            g.cells[y as usize * w + x as usize] = UNKNOWN;
        }
    }
    // A glass door the laser saw through: the north-east room's doorway is unknown.
    g.fill_rect(7.7, 2.9, 8.1, 4.3, UNKNOWN);
    g
}

/// Saves `g` as `<dir>/<name>.png` and `<dir>/<name>.yaml` the way `map_saver` does
/// (trinary: 254 free, 0 occupied, 205 unknown). Returns the YAML's path.
pub fn save_png_map(g: &OccupancyGrid, dir: &Path, name: &str) -> PathBuf {
    let mut img = image::GrayImage::new(g.width as u32, g.height as u32);
    for cy in 0..g.height {
        for cx in 0..g.width {
            let v = match g.cells[cy * g.width + cx] {
                UNKNOWN => 205u8,
                v if v >= OCCUPIED => 0,
                _ => 254,
            };
            // Image row 0 is the top of the map.
            img.put_pixel(cx as u32, (g.height - 1 - cy) as u32, image::Luma([v]));
        }
    }
    img.save(dir.join(format!("{name}.png")))
        .expect("write the PNG");
    let yaml = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &yaml,
        format!(
            "image: {name}.png\nmode: trinary\nresolution: {}\norigin: [{}, {}, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n",
            g.resolution_m, g.origin.x, g.origin.y
        ),
    )
    .expect("write the YAML");
    yaml
}
