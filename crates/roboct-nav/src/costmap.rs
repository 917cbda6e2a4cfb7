//! The costmap of one floor: what the robot may not touch, how far every cell is from it, and
//! the cost that keeps routes in the middle of corridors.
//!
//! Layers, as in Nav2's `costmap_2d`: the static map (occupied and unknown cells), keep-out
//! zones (rasterised conservatively: every cell the zone touches), doors (cells inside a door's
//! area are passable even if the map shows the door closed), speed zones, and dynamic obstacles
//! added while driving. Inflation uses an exact Euclidean distance transform (Felzenszwalb and
//! Huttenlocher 2012) and Nav2's cost curve: lethal on obstacles, "inscribed" where the robot's
//! inscribed circle (plus the safety margin) would touch one, then
//! `252 exp(-decay (d - r_inscribed))` out to the inflation radius.

mod build;
mod distance;

use crate::geom::{Point, Polygon, Pose};
use crate::site::Site;

pub use distance::distance_transform;

/// What occupies a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CellKind {
    /// Nothing.
    Free = 0,
    /// A wall or object from the map.
    Obstacle = 1,
    /// Never observed: not traversed.
    Unknown = 2,
    /// Inside a keep-out zone.
    KeepOut = 3,
    /// An obstacle seen while driving (person, bed, cart).
    Dynamic = 4,
}

/// Cost of a cell the robot's footprint may not cover.
pub const LETHAL: u8 = 254;
/// Cost of unknown space (also not traversed).
pub const NO_INFORMATION: u8 = 255;
/// Cost of a cell where the robot's centre cannot be whatever its heading.
pub const INSCRIBED: u8 = 253;
/// Highest cost of a traversable cell.
pub const MAX_FREE_COST: u8 = 252;

/// How the costmap is inflated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostmapOptions {
    /// Distance from obstacles beyond which cost is zero, metres.
    pub inflation_radius_m: f64,
    /// Exponential decay rate of the cost with distance, 1/m.
    pub cost_decay_per_m: f64,
}

impl Default for CostmapOptions {
    fn default() -> Self {
        Self {
            inflation_radius_m: 1.3,
            cost_decay_per_m: 3.0,
        }
    }
}

/// The costmap of one floor.
#[derive(Clone, Debug)]
pub struct Costmap {
    /// Floor number.
    pub floor: i32,
    /// Cells along x.
    pub width: usize,
    /// Cells along y.
    pub height: usize,
    /// Metres per cell.
    pub resolution_m: f64,
    /// Map-frame corner of cell (0, 0).
    pub origin: Point,
    /// What occupies each cell ([`CellKind`] as `u8`).
    pub kind: Vec<u8>,
    /// Distance from each cell centre to the nearest blocked cell centre, metres.
    pub distance_m: Vec<f32>,
    /// Nav2-style cost: 0..=252 traversable, 253 inscribed, 254 lethal, 255 unknown.
    pub cost: Vec<u8>,
    /// Speed class of each cell, an index into [`Costmap::speed_table_mps`].
    pub speed_class: Vec<u8>,
    /// Speed limits, m/s; class 0 is the robot's top speed.
    pub speed_table_mps: Vec<f64>,
    /// Door of each cell (`0` none, else index into the site's doors + 1); empty when the
    /// floor has no doors.
    pub door: Vec<u16>,
    /// Extra cost from graded occupancy (`scale` maps), 0..=252; empty when there is none.
    graded: Vec<u8>,
    options: CostmapOptions,
    /// Inscribed radius plus margin, metres.
    pub inscribed_m: f64,
    /// Circumscribed radius plus margin, metres.
    pub circumscribed_m: f64,
    /// The robot's footprint grown by its margin, in the robot frame.
    pub padded_footprint: Polygon,
    /// What [`Costmap::footprint_free`] tests: the footprint grown by its margin, half a cell
    /// diagonal and [`Costmap::check_extra_m`], its corners cut close to the rounded offset
    /// ([`Polygon::grown_rounded`]).
    check_polygon: Vec<Point>,
    footprint: Polygon,
    /// Discs `(x, y, radius)` in the robot frame that together cover the checked footprint:
    /// where each is clear, the footprint is (a quick accept for long footprints).
    cover_discs: Vec<(f64, f64, f64)>,
    /// Extra margin of every footprint check, metres: half the longest step between two
    /// checked poses (a lattice move of (2, 1) cells), so that the footprint between checks
    /// is covered too.
    pub check_extra_m: f64,
    /// Blocked cells before each cell of its row (`width + 1` per row, wrapping `u16`): a
    /// row's stretch of cells is clear when the two counts at its ends are equal, so the
    /// footprint check costs one subtraction per row of the footprint.
    blocked_before: Vec<u16>,
}

/// Most vertices a footprint may have.
pub const MAX_FOOTPRINT_VERTICES: usize = 32;

impl Costmap {
    /// Recounts [`Costmap::blocked_before`] for rows `y0..y1`.
    fn count_blocked_rows(&mut self, y0: usize, y1: usize) {
        let stride = self.width + 1;
        if self.blocked_before.len() != stride * self.height {
            self.blocked_before = vec![0; stride * self.height];
        }
        for cy in y0..y1.min(self.height) {
            let row = &self.kind[cy * self.width..(cy + 1) * self.width];
            let counts = &mut self.blocked_before[cy * stride..(cy + 1) * stride];
            let mut n = 0u16;
            counts[0] = 0;
            for (c, &k) in counts[1..].iter_mut().zip(row) {
                n = n.wrapping_add(u16::from(k != CellKind::Free as u8));
                *c = n;
            }
        }
    }

    /// The robot's real footprint (no margin), robot frame.
    pub fn footprint_outline(&self) -> &Polygon {
        &self.footprint
    }

    /// Whether cell `idx` blocks the footprint.
    #[inline]
    pub fn blocked(&self, idx: usize) -> bool {
        self.kind[idx] != CellKind::Free as u8
    }

    /// The cell containing `p`, or `None` outside the map.
    pub fn cell_of(&self, p: Point) -> Option<(usize, usize)> {
        let fx = (p.x - self.origin.x) / self.resolution_m;
        let fy = (p.y - self.origin.y) / self.resolution_m;
        if !(fx >= 0.0 && fy >= 0.0) {
            return None;
        }
        let (cx, cy) = (fx as usize, fy as usize);
        (cx < self.width && cy < self.height).then_some((cx, cy))
    }

    /// Centre of cell `(cx, cy)`.
    #[inline]
    pub fn cell_centre(&self, cx: usize, cy: usize) -> Point {
        Point::new(
            self.origin.x + (cx as f64 + 0.5) * self.resolution_m,
            self.origin.y + (cy as f64 + 0.5) * self.resolution_m,
        )
    }

    /// Speed limit at `idx`, m/s.
    #[inline]
    pub fn speed_at(&self, idx: usize) -> f64 {
        self.speed_table_mps[self.speed_class[idx] as usize]
    }

    /// The costmap's options.
    pub fn options(&self) -> CostmapOptions {
        self.options
    }

    fn cost_of(&self, idx: usize) -> u8 {
        match self.kind[idx] {
            k if k == CellKind::Unknown as u8 => NO_INFORMATION,
            k if k != CellKind::Free as u8 => LETHAL,
            _ => {
                // Distance from the cell centre to the nearest face of a blocked cell.
                let d = f64::from(self.distance_m[idx]) - self.resolution_m / 2.0;
                let base = if d < self.inscribed_m {
                    INSCRIBED
                } else if d > self.options.inflation_radius_m {
                    0
                } else {
                    let c = f64::from(MAX_FREE_COST)
                        * (-self.options.cost_decay_per_m * (d - self.inscribed_m)).exp();
                    c.round().clamp(0.0, f64::from(MAX_FREE_COST)) as u8
                };
                if base < INSCRIBED && !self.graded.is_empty() {
                    base.max(self.graded[idx])
                } else {
                    base
                }
            }
        }
    }

    fn recompute_cost(&mut self, x0: usize, y0: usize, x1: usize, y1: usize) {
        for cy in y0..y1 {
            for cx in x0..x1 {
                let i = cy * self.width + cx;
                self.cost[i] = self.cost_of(i);
            }
        }
    }

    /// Marks the cells under `area` as a dynamic obstacle and updates distances and costs
    /// around it. Returns the updated window `(x0, y0, x1, y1)` in cells (exclusive ends).
    pub fn add_obstacle(&mut self, area: &Polygon) -> (usize, usize, usize, usize) {
        let (lo, hi) = area.bounds();
        let reach =
            self.options.inflation_radius_m.max(self.circumscribed_m) + 2.0 * self.resolution_m;
        let r = self.resolution_m;
        let to_cell = |v: f64, o: f64, n: usize| (((v - o) / r).floor().max(0.0) as usize).min(n);
        let x0 = to_cell(lo.x - reach, self.origin.x, self.width);
        let y0 = to_cell(lo.y - reach, self.origin.y, self.height);
        let x1 = (to_cell(hi.x + reach, self.origin.x, self.width) + 1).min(self.width);
        let y1 = (to_cell(hi.y + reach, self.origin.y, self.height) + 1).min(self.height);
        let half_diag = r * std::f64::consts::FRAC_1_SQRT_2;
        let grown = area.grown(half_diag);
        let (glo, ghi) = grown.bounds();
        let gx0 = to_cell(glo.x, self.origin.x, self.width);
        let gy0 = to_cell(glo.y, self.origin.y, self.height);
        let gx1 = (to_cell(ghi.x, self.origin.x, self.width) + 1).min(self.width);
        let gy1 = (to_cell(ghi.y, self.origin.y, self.height) + 1).min(self.height);
        let convex = area.is_convex();
        for cy in gy0..gy1 {
            for cx in gx0..gx1 {
                let c = self.cell_centre(cx, cy);
                let inside = if convex {
                    grown.contains(c)
                } else {
                    area.contains(c) || area.boundary_distance(c) <= half_diag
                };
                if inside {
                    let i = cy * self.width + cx;
                    if self.kind[i] == CellKind::Free as u8 {
                        self.kind[i] = CellKind::Dynamic as u8;
                    }
                }
            }
        }
        self.count_blocked_rows(gy0, gy1);
        if x1 <= x0 || y1 <= y0 {
            return (x0, y0, x0, y0);
        }
        // New obstacles only shorten distances, and only within `reach` of themselves: an exact
        // transform of the window, merged by minimum with the old field, is exact there.
        let (w, h) = (x1 - x0, y1 - y0);
        let mut sub = vec![0u8; w * h];
        for cy in 0..h {
            let src = (y0 + cy) * self.width + x0;
            sub[cy * w..cy * w + w].copy_from_slice(&self.kind[src..src + w]);
        }
        let local = distance_transform(&sub, w, h, r);
        for cy in 0..h {
            for cx in 0..w {
                let i = (y0 + cy) * self.width + x0 + cx;
                self.distance_m[i] = self.distance_m[i].min(local[cy * w + cx]);
            }
        }
        self.recompute_cost(x0, y0, x1, y1);
        (x0, y0, x1, y1)
    }

    /// The cells `(x0, y0)..(x1, y1)` as a costmap of their own (same frame, same robot),
    /// everything beyond them blocked; with `unknown_free`, unknown cells count as free. The
    /// planner's diagnosis asks of it whether unknown cells are what blocks a route.
    pub fn window(
        &self,
        (x0, y0, x1, y1): (usize, usize, usize, usize),
        unknown_free: bool,
    ) -> Costmap {
        let (x1, y1) = (
            x1.min(self.width).max(x0 + 1),
            y1.min(self.height).max(y0 + 1),
        );
        let (w, h) = (x1 - x0, y1 - y0);
        let copy = |v: &[u8]| -> Vec<u8> {
            if v.is_empty() {
                return Vec::new();
            }
            (y0..y1)
                .flat_map(|cy| {
                    v[cy * self.width + x0..cy * self.width + x1]
                        .iter()
                        .copied()
                })
                .collect()
        };
        let mut kind = copy(&self.kind);
        if unknown_free {
            for k in &mut kind {
                if *k == CellKind::Unknown as u8 {
                    *k = CellKind::Free as u8;
                }
            }
        }
        let door = if self.door.is_empty() {
            Vec::new()
        } else {
            (y0..y1)
                .flat_map(|cy| {
                    self.door[cy * self.width + x0..cy * self.width + x1]
                        .iter()
                        .copied()
                })
                .collect()
        };
        let mut cm = Costmap {
            floor: self.floor,
            width: w,
            height: h,
            resolution_m: self.resolution_m,
            origin: Point::new(
                self.origin.x + x0 as f64 * self.resolution_m,
                self.origin.y + y0 as f64 * self.resolution_m,
            ),
            kind,
            distance_m: Vec::new(),
            cost: vec![0u8; w * h],
            speed_class: copy(&self.speed_class),
            speed_table_mps: self.speed_table_mps.clone(),
            door,
            graded: copy(&self.graded),
            options: self.options,
            inscribed_m: self.inscribed_m,
            circumscribed_m: self.circumscribed_m,
            padded_footprint: self.padded_footprint.clone(),
            check_polygon: self.check_polygon.clone(),
            footprint: self.footprint.clone(),
            cover_discs: self.cover_discs.clone(),
            check_extra_m: self.check_extra_m,
            blocked_before: Vec::new(),
        };
        cm.count_blocked_rows(0, h);
        cm.distance_m = distance_transform(&cm.kind, w, h, self.resolution_m);
        let r = self.resolution_m as f32;
        for cy in 0..h {
            for cx in 0..w {
                let edge = (cx + 1).min(w - cx).min((cy + 1).min(h - cy)) as f32 * r;
                let d = &mut cm.distance_m[cy * w + cx];
                *d = d.min(edge);
            }
        }
        cm.recompute_cost(0, 0, w, h);
        cm
    }

    /// Why the robot cannot stand with its centre at `p` (any heading), or `None` if it can.
    ///
    /// The reasons read as the end of a sentence: `inside an obstacle`, `in unknown (unmapped)
    /// space`, `inside keep-out zone "MRI"`, `outside the map`, `too close to an obstacle for
    /// the robot's footprint (0.32 m clear, needs 0.45 m)`.
    pub fn why_blocked(&self, p: Point, site: Option<&Site>) -> Option<String> {
        let Some((cx, cy)) = self.cell_of(p) else {
            return Some("outside the map".into());
        };
        let i = cy * self.width + cx;
        if let Some(s) = site
            && let Some(k) = s
                .keep_outs
                .iter()
                .find(|k| k.floor == self.floor && k.area.contains(p))
        {
            return Some(format!("inside keep-out zone \"{}\"", k.name));
        }
        match self.kind[i] {
            k if k == CellKind::Obstacle as u8 => Some("inside an obstacle".into()),
            k if k == CellKind::Unknown as u8 => Some("in unknown (unmapped) space".into()),
            k if k == CellKind::KeepOut as u8 => Some("at the edge of a keep-out zone".into()),
            k if k == CellKind::Dynamic as u8 => Some("inside an obstacle seen on the way".into()),
            _ if self.cost[i] >= INSCRIBED => {
                // The cell's cost is for its centre; the point itself may be up to half a cell
                // diagonal farther from the nearest wall.
                let clear = self.clearance_at(p, self.inscribed_m + self.resolution_m);
                (clear < self.inscribed_m).then(|| {
                    format!(
                        "too close to an obstacle for the robot's footprint ({:.2} m clear, needs {:.2} m)",
                        clear, self.inscribed_m
                    )
                })
            }
            _ => None,
        }
    }

    /// Exact distance from `p` to the nearest blocked cell's square (or the map's edge), up
    /// to `reach`.
    pub fn clearance_at(&self, p: Point, reach: f64) -> f64 {
        let r = self.resolution_m;
        let (lo_x, lo_y) = (self.origin.x, self.origin.y);
        let (hi_x, hi_y) = (lo_x + self.width as f64 * r, lo_y + self.height as f64 * r);
        let mut best = reach
            .min(p.x - lo_x)
            .min(hi_x - p.x)
            .min(p.y - lo_y)
            .min(hi_y - p.y)
            .max(0.0);
        let cell =
            |v: f64, o: f64, n: usize| ((v - o) / r).floor().clamp(0.0, n as f64 - 1.0) as usize;
        let (x0, x1) = (
            cell(p.x - reach, lo_x, self.width),
            cell(p.x + reach, lo_x, self.width),
        );
        let (y0, y1) = (
            cell(p.y - reach, lo_y, self.height),
            cell(p.y + reach, lo_y, self.height),
        );
        for cy in y0..=y1 {
            for cx in x0..=x1 {
                if self.blocked(cy * self.width + cx) {
                    let (sx, sy) = (lo_x + cx as f64 * r, lo_y + cy as f64 * r);
                    let dx = (sx - p.x).max(p.x - (sx + r)).max(0.0);
                    let dy = (sy - p.y).max(p.y - (sy + r)).max(0.0);
                    best = best.min(dx.hypot(dy));
                }
            }
        }
        best
    }

    /// Whether the robot's footprint, grown by its safety margin and by
    /// [`Costmap::check_extra_m`], placed at `pose`, covers no blocked cell. Cells are squares:
    /// a cell counts as covered if the grown footprint comes within half a cell diagonal of its
    /// centre, so a `true` answer means the real footprint keeps at least the safety margin
    /// (plus the check's extra) from every blocked cell's square.
    pub fn footprint_free(&self, pose: Pose) -> bool {
        let r = self.resolution_m;
        let half_diag = r * std::f64::consts::FRAC_1_SQRT_2;
        let Some((cx, cy)) = self.cell_of(pose.point()) else {
            return false;
        };
        let i = cy * self.width + cx;
        if self.blocked(i) {
            return false;
        }
        // Fast path: the nearest blocked square is farther than the farthest footprint point.
        let d = f64::from(self.distance_m[i]);
        if d - 2.0 * half_diag >= self.circumscribed_m + self.check_extra_m {
            return true;
        }
        // Quick reject: an obstacle within the inscribed radius hits at any heading. The
        // nearest blocked square's nearest point is at most d + half_diag - r/2 away.
        if d + half_diag - r / 2.0 < self.inscribed_m {
            return false;
        }
        // Quick accept: every covering disc is clear.
        let covered = self.cover_discs.iter().all(|&(x, y, radius)| {
            let c = pose.map_from_robot(Point::new(x, y));
            self.cell_of(c).is_some_and(|(dx, dy)| {
                f64::from(self.distance_m[dy * self.width + dx]) - 2.0 * half_diag >= radius
            })
        });
        if covered {
            return true;
        }
        let n = self.check_polygon.len();
        let mut v = [Point::default(); MAX_FOOTPRINT_VERTICES];
        for (o, &p) in v.iter_mut().zip(&self.check_polygon) {
            *o = pose.map_from_robot(p);
        }
        let v = &v[..n];
        let (lo, hi) = crate::geom::bounds_of(v);
        if lo.x < self.origin.x
            || lo.y < self.origin.y
            || hi.x >= self.origin.x + self.width as f64 * r
            || hi.y >= self.origin.y + self.height as f64 * r
        {
            // Part of the footprint is off the map: unknown space.
            return false;
        }
        crate::geom::row_spans(v, self.origin.y, r, |row, xa, xb| {
            if row < 0 || row as usize >= self.height {
                return false;
            }
            let c0 = crate::geom::ceil_fast((xa - self.origin.x) / r - 0.5).max(0.0) as usize;
            let c1 = crate::geom::floor_fast((xb - self.origin.x) / r - 0.5);
            if c1 < 0.0 {
                return true;
            }
            let c1 = (c1 as usize).min(self.width - 1);
            if c0 > c1 {
                return true;
            }
            // Spans are far shorter than 65536 cells, so the wrapped difference is exact.
            let base = row as usize * (self.width + 1);
            self.blocked_before[base + c1 + 1] == self.blocked_before[base + c0]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::build::covering_discs;
    use super::*;
    use proptest::prelude::*;

    fn brute(kind: &[u8], w: usize, h: usize) -> Vec<f32> {
        let mut out = vec![1e20f32; w * h];
        for y in 0..h {
            for x in 0..w {
                for y2 in 0..h {
                    for x2 in 0..w {
                        if kind[y2 * w + x2] != 0 {
                            let d = ((x as f32 - x2 as f32).powi(2)
                                + (y as f32 - y2 as f32).powi(2))
                            .sqrt();
                            out[y * w + x] = out[y * w + x].min(d);
                        }
                    }
                }
            }
        }
        out
    }

    proptest! {
        /// Every point of a footprint lies in one of its covering discs (the quick accept of
        /// `footprint_free` relies on it).
        #[test]
        fn covering_discs_cover_the_footprint(
            w in 0.2f64..3.0, h in 0.2f64..3.0, u in 0.0f64..1.0, v in 0.0f64..1.0,
        ) {
            let poly = Polygon::rect(-w / 2.0, -h / 3.0, w / 2.0, 2.0 * h / 3.0);
            let discs = covering_discs(&poly.vertices);
            let p = Point::new(-w / 2.0 + u * w, -h / 3.0 + v * h);
            prop_assert!(discs.iter().any(|&(x, y, r)| Point::new(x, y).dist(p) <= r + 1e-9));
        }

        #[test]
        fn distance_transform_matches_brute_force(
            w in 1usize..24, h in 1usize..24, seed in any::<u64>(), density in 0.0f64..0.3
        ) {
            let mut s = seed;
            let kind: Vec<u8> = (0..w * h)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    u8::from(((s >> 33) as f64 / (1u64 << 31) as f64) < density)
                })
                .collect();
            let fast = distance_transform(&kind, w, h, 1.0);
            let slow = brute(&kind, w, h);
            for (a, b) in fast.iter().zip(&slow) {
                if *b < 1e19 {
                    prop_assert!((a - b).abs() < 1e-3, "{a} vs {b}");
                } else {
                    prop_assert!(*a > 1e9);
                }
            }
        }
    }
}
