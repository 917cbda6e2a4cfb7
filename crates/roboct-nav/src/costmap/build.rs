//! Building a floor's costmap from the site: cell kinds, doors, keep-out and speed zones, the
//! outline the footprint checks use, the distance transform and the costs.

use crate::error::MapError;
use crate::geom::{Point, Polygon};
use crate::map::{OCCUPIED, OccupancyGrid, UNKNOWN};
use crate::robot::RobotModel;
use crate::site::Site;

use super::{CellKind, Costmap, CostmapOptions, MAX_FOOTPRINT_VERTICES, distance_transform};

impl Costmap {
    /// Builds the costmap of `floor` of `site` for `robot`.
    ///
    /// # Errors
    /// [`MapError::TooLarge`] when the layers cannot be allocated.
    pub fn build(
        site: &Site,
        floor: i32,
        robot: &RobotModel,
        options: CostmapOptions,
    ) -> Result<Costmap, MapError> {
        let f = site.floor(floor).ok_or_else(|| MapError::Site {
            file: site.source.clone().into(),
            item: format!("floor {floor}"),
            message: "no such floor".into(),
        })?;
        let g = &f.grid;
        let n = g.width * g.height;
        let alloc = |bytes: usize| -> Result<(), MapError> {
            let mut v: Vec<u8> = Vec::new();
            v.try_reserve_exact(bytes)
                .map_err(|_| MapError::too_large("costmap", g.width, g.height, 0))
        };
        alloc(n * 12)?;
        let (mut kind, graded) = cell_kinds(g);
        let door = mark_doors(site, floor, g, &mut kind);
        // Conservative: every cell the zone touches (centre within half a diagonal).
        let half_diag = g.resolution_m * std::f64::consts::FRAC_1_SQRT_2;
        for k in site.keep_outs.iter().filter(|k| k.floor == floor) {
            for_cells_in(g, &k.area, half_diag, |idx| {
                kind[idx] = CellKind::KeepOut as u8;
            });
        }
        let (speed_table_mps, speed_class) = speed_classes(site, floor, robot, g)?;
        let padded_footprint = robot.footprint.grown(robot.safety_margin_m);
        let check_extra_m = g.resolution_m * 5f64.sqrt() / 2.0;
        let check_polygon = check_outline(robot, &padded_footprint, half_diag, check_extra_m)?;
        let mut cm = Costmap {
            floor,
            width: g.width,
            height: g.height,
            resolution_m: g.resolution_m,
            origin: g.origin,
            kind,
            distance_m: Vec::new(),
            cost: Vec::new(),
            speed_class,
            speed_table_mps,
            door,
            graded,
            options,
            inscribed_m: robot.inscribed_radius_m() + robot.safety_margin_m,
            circumscribed_m: padded_footprint
                .vertices
                .iter()
                .map(|v| v.dist(Point::new(0.0, 0.0)))
                .fold(0.0, f64::max),
            padded_footprint,
            check_polygon,
            check_extra_m,
            footprint: robot.footprint.clone(),
            cover_discs: Vec::new(),
            blocked_before: Vec::new(),
        };
        cm.cover_discs = covering_discs(&cm.check_polygon);
        cm.count_blocked_rows(0, cm.height);
        cm.distance_m = distance_transform(&cm.kind, cm.width, cm.height, cm.resolution_m);
        cm.clamp_distance_to_edges();
        cm.cost = vec![0u8; n];
        cm.recompute_cost(0, 0, cm.width, cm.height);
        Ok(cm)
    }

    /// Beyond the map's edge is unknown space: each cell is at most as far from an obstacle as
    /// the virtual blocked cell just outside the edge, so that the fast paths of the
    /// footprint check see it.
    fn clamp_distance_to_edges(&mut self) {
        let (w, h, r) = (self.width, self.height, self.resolution_m as f32);
        for cy in 0..h {
            let edge_y = (cy + 1).min(h - cy);
            for cx in 0..w {
                let edge = (cx + 1).min(w - cx).min(edge_y) as f32 * r;
                let d = &mut self.distance_m[cy * w + cx];
                *d = d.min(edge);
            }
        }
    }
}

/// The kind of each cell of `g` (unknown, obstacle or free), and the graded costs of cells
/// between free and occupied (empty if there are none).
fn cell_kinds(g: &OccupancyGrid) -> (Vec<u8>, Vec<u8>) {
    let n = g.width * g.height;
    let mut kind = vec![CellKind::Free as u8; n];
    let mut graded = Vec::new();
    for (k, &v) in kind.iter_mut().zip(&g.cells) {
        *k = match v {
            UNKNOWN => CellKind::Unknown as u8,
            v if v >= OCCUPIED => CellKind::Obstacle as u8,
            _ => CellKind::Free as u8,
        };
    }
    if g.cells.iter().any(|&v| v > 0 && v < OCCUPIED) {
        graded = g
            .cells
            .iter()
            .map(|&v| {
                if v > 0 && v < OCCUPIED {
                    (f64::from(v) * 252.0 / 100.0) as u8
                } else {
                    0
                }
            })
            .collect();
    }
    (kind, graded)
}

/// The door (1 + its index in the site) of each cell of `floor` (empty if the floor has no
/// doors); a door's cells are free space even where the map shows the closed door.
fn mark_doors(site: &Site, floor: i32, g: &OccupancyGrid, kind: &mut [u8]) -> Vec<u16> {
    let mut door = Vec::new();
    let floor_doors: Vec<(usize, &crate::site::Door)> = site
        .doors
        .iter()
        .enumerate()
        .filter(|(_, d)| d.floor == floor)
        .collect();
    if !floor_doors.is_empty() {
        door = vec![0u16; g.width * g.height];
        for (i, d) in floor_doors {
            let id = u16::try_from(i + 1).unwrap_or(u16::MAX);
            for_cells_in(g, &d.area, 0.0, |idx| {
                door[idx] = id;
                if kind[idx] == CellKind::Obstacle as u8 {
                    kind[idx] = CellKind::Free as u8;
                }
            });
        }
    }
    door
}

/// The speed limits of `floor` (class 0: the robot's top speed) and each cell's class;
/// where zones overlap, the lower limit wins.
fn speed_classes(
    site: &Site,
    floor: i32,
    robot: &RobotModel,
    g: &OccupancyGrid,
) -> Result<(Vec<f64>, Vec<u8>), MapError> {
    let mut speed_table_mps = vec![robot.limits.max_speed_mps];
    let mut speed_class = vec![0u8; g.width * g.height];
    for z in site.speed_zones.iter().filter(|z| z.floor == floor) {
        let v = z.max_speed_mps.min(robot.limits.max_speed_mps);
        let class = match speed_table_mps.iter().position(|&s| s == v) {
            Some(c) => c,
            None => {
                speed_table_mps.push(v);
                speed_table_mps.len() - 1
            }
        };
        let class = u8::try_from(class).map_err(|_| MapError::Site {
            file: site.source.clone().into(),
            item: format!("speed zone \"{}\"", z.name),
            message: "more than 255 different speed limits on one floor".into(),
        })?;
        for_cells_in(g, &z.area, 0.0, |idx| {
            // Overlapping zones: the lower limit wins.
            if speed_table_mps[speed_class[idx] as usize] > v {
                speed_class[idx] = class;
            }
        });
    }
    Ok((speed_table_mps, speed_class))
}

/// The outline the footprint checks use: every point within the safety margin, the check's
/// extra and half a cell diagonal of the footprint.
fn check_outline(
    robot: &RobotModel,
    padded_footprint: &Polygon,
    half_diag: f64,
    check_extra_m: f64,
) -> Result<Vec<Point>, MapError> {
    // Its corners are cut (two per right angle), not mitred: a mitred corner would reach 41 %
    // of that growth (6 cm at 5 cm cells) farther than needed, which closes turns that fit (an
    // L-turn of two 1.6 m corridors).
    let grow = robot.safety_margin_m + half_diag + check_extra_m;
    let mut check_polygon = robot
        .footprint
        .grown_rounded(grow, std::f64::consts::FRAC_PI_4)
        .vertices;
    if check_polygon.len() > MAX_FOOTPRINT_VERTICES {
        check_polygon = padded_footprint.grown(half_diag + check_extra_m).vertices;
    }
    if check_polygon.len() > MAX_FOOTPRINT_VERTICES {
        return Err(MapError::Site {
            file: "<robot model>".into(),
            item: "footprint".into(),
            message: format!("at most {MAX_FOOTPRINT_VERTICES} vertices are supported"),
        });
    }
    Ok(check_polygon)
}

/// Discs along the longer side of the polygon's bounding box that together cover the box:
/// `ceil(length / width) + 1` of them, each covering an equal slice of the length.
pub(super) fn covering_discs(poly: &[Point]) -> Vec<(f64, f64, f64)> {
    let (lo, hi) = crate::geom::bounds_of(poly);
    let (lx, ly) = (hi.x - lo.x, hi.y - lo.y);
    let along_x = lx >= ly;
    let (long, short) = if along_x { (lx, ly) } else { (ly, lx) };
    let n = (long / short.max(1e-9)).ceil() as usize + 1;
    let slice = long / n as f64;
    let radius = (short / 2.0).hypot(slice / 2.0);
    (0..n)
        .map(|i| {
            let t = (i as f64 + 0.5) * slice;
            if along_x {
                (lo.x + t, (lo.y + hi.y) / 2.0, radius)
            } else {
                ((lo.x + hi.x) / 2.0, lo.y + t, radius)
            }
        })
        .collect()
}

/// Calls `f(index)` for every cell whose centre is inside `area` or within `pad` of it.
fn for_cells_in(g: &OccupancyGrid, area: &Polygon, pad: f64, mut f: impl FnMut(usize)) {
    let (lo, hi) = area.bounds();
    let r = g.resolution_m;
    let cx0 = (((lo.x - pad - g.origin.x) / r).floor().max(0.0)) as usize;
    let cy0 = (((lo.y - pad - g.origin.y) / r).floor().max(0.0)) as usize;
    let cx1 = ((((hi.x + pad - g.origin.x) / r).ceil()).max(0.0) as usize).min(g.width);
    let cy1 = ((((hi.y + pad - g.origin.y) / r).ceil()).max(0.0) as usize).min(g.height);
    for cy in cy0..cy1 {
        for cx in cx0..cx1 {
            let c = g.cell_centre(cx, cy);
            if area.contains(c) || (pad > 0.0 && area.boundary_distance(c) <= pad) {
                f(cy * g.width + cx);
            }
        }
    }
}
