//! Anatomy localisation from the scout, behind the [`Localizer`] trait (a learned detector can
//! replace [`ClassicalLocalizer`]).
//!
//! The classical localiser reads water-equivalent thickness (line integral over mu of water)
//! from the AP and lateral topograms:
//!
//! - **Outline.** In each row the body is where the thickness exceeds a few millimetres of
//!   water; its edges, interpolated between columns, are turned into x (AP) or y (lateral) at
//!   the depth of the body's centre found in the other view (the fan's magnification). An
//!   edge at the field's border is *truncated*; the pipeline then pans the gantry and takes
//!   another pass of the rows concerned ([`truncated_rows`]), and edges are merged over the
//!   passes of a view.
//! - **Head.** The skull's calvarium is a shell: along the rays that graze the inner table at
//!   the top of the head the bone chord is longest, so the row maximum of the AP and lateral
//!   topograms has a cusp at the inner table's highest point (the top of the intracranial
//!   space), a few millimetres below the vertex. The skull base is a plate of bone under the
//!   cranial floor: in the lateral topogram rays run along it through the whole width of the
//!   head, and its upper edge (the floor) is the steepest rise of each column's thickness
//!   going down; the lowest point of the floor within the head's outline is the bottom of the
//!   intracranial space. The head's centre across is the middle of its widest rows (the
//!   longest chord of an ellipse runs through its centre).
//! - **Chest.** Against an elliptic water body fitted to the outline in each row (width from
//!   the AP view, depth from the lateral), inflated lung is a deficit of more than half its
//!   chord; the lungs' cross-section per row is the summed deficit, and the apices and bases
//!   are where that profile, extrapolated linearly from its rising flanks, reaches zero (an
//!   ellipsoid's section grows linearly from its tip). The body's centre is the outline's
//!   middle at the lungs' mid-height.
//!
//! Anatomy of another target is refused ([`Refusal::WrongAnatomy`]): a chest ordered on a
//! scout without lungs, a head ordered on a trunk. Tests: `localize::tests::*`,
//! `tests/positioning.rs`.

use roboct_geometry::vec3::Vec3;

use crate::scout::{Scout, ScoutImage, ScoutView};
use crate::{Refusal, Target};

/// What the localiser found: named points and what the plan needs, all in the scout frame,
/// mm.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Landmarks {
    /// The target.
    pub target: Target,
    /// Named points (x, y, z): for a head `vertex`, `intracranial_top`, `skull_base`,
    /// `head_center`; for a chest `lung_apices`, `lung_bases`, `body_center`.
    pub points: Vec<(String, Vec3)>,
    /// The organ's extent along z, `[inferior, superior]`.
    pub organ_z_mm: [f64; 2],
    /// The organ's centre across (x, y): the isocentre's place.
    pub center_xy_mm: [f64; 2],
    /// The body outline over the organ's rows, x `[right, left]`.
    pub outline_x_mm: [f64; 2],
    /// The body outline over the organ's rows, y `[anterior, posterior]`.
    pub outline_y_mm: [f64; 2],
}

impl Landmarks {
    /// A named point.
    pub fn point(&self, name: &str) -> Option<Vec3> {
        self.points.iter().find(|(n, _)| n == name).map(|(_, p)| *p)
    }
}

/// Finds the target's anatomy in a scout.
pub trait Localizer {
    /// The landmarks of `target` in `scout`, or why they cannot be given.
    fn localize(&self, target: Target, scout: &Scout) -> Result<Landmarks, Refusal>;
}

/// The classical localiser (see the module's documentation); thresholds in mm of water.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassicalLocalizer {
    /// A ray through less than this is air, mm of water.
    pub edge_water_mm: f64,
    /// A scout whose thickest ray is under this shows no patient, mm of water.
    pub min_patient_water_mm: f64,
}

impl Default for ClassicalLocalizer {
    fn default() -> Self {
        Self {
            edge_water_mm: 4.0,
            min_patient_water_mm: 25.0,
        }
    }
}

/// The body's edges in one row of one pass: fractional columns, and whether each side ran
/// into the field's border.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowEdges {
    /// First column inside the body (fractional).
    pub first_col: f64,
    /// Last column inside the body (fractional).
    pub last_col: f64,
    /// The body reaches column 0.
    pub truncated_low: bool,
    /// The body reaches the last column.
    pub truncated_high: bool,
}

/// Water-equivalent thickness of a pixel, mm.
fn water(img: &ScoutImage, row: usize, col: usize) -> f64 {
    img.line_integrals[[row, col]] as f64 / img.mu_water_per_mm
}

/// Smoothed water thickness of a row (3 columns), mm.
fn row_profile(img: &ScoutImage, row: usize) -> Vec<f64> {
    let n = img.cols();
    (0..n)
        .map(|c| {
            let a = c.saturating_sub(1);
            let b = (c + 1).min(n - 1);
            (water(img, row, a) + 2.0 * water(img, row, c) + water(img, row, b)) / 4.0
        })
        .collect()
}

/// The body's edges in `row`, where the thickness crosses `threshold_mm`; `None` when the
/// row has no body.
pub fn row_edges(img: &ScoutImage, row: usize, threshold_mm: f64) -> Option<RowEdges> {
    let p = row_profile(img, row);
    let n = p.len();
    let first = p.iter().position(|v| *v > threshold_mm)?;
    let last = p.iter().rposition(|v| *v > threshold_mm)?;
    let cross = |a: usize, b: usize| {
        // Between columns a (outside) and b (inside).
        let (va, vb) = (p[a], p[b]);
        let t = ((threshold_mm - va) / (vb - va)).clamp(0.0, 1.0);
        a as f64 + t * (b as f64 - a as f64)
    };
    Some(RowEdges {
        first_col: if first == 0 {
            0.0
        } else {
            cross(first - 1, first)
        },
        last_col: if last == n - 1 {
            (n - 1) as f64
        } else {
            cross(last + 1, last)
        },
        truncated_low: first == 0,
        truncated_high: last == n - 1,
    })
}

/// The rows of a pass whose body outline runs into the field's border on the low-column and
/// the high-column side: what the pipeline pans for. Rows with too little body are ignored.
pub fn truncated_rows(img: &ScoutImage, threshold_mm: f64) -> [Vec<usize>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    for r in 0..img.rows() {
        if let Some(e) = row_edges(img, r, threshold_mm) {
            if e.truncated_low {
                out[0].push(r);
            }
            if e.truncated_high {
                out[1].push(r);
            }
        }
    }
    out
}

/// The depth along a pass' central ray from its isocentre to the point `centre` (x, y).
fn depth_of(img: &ScoutImage, centre: [f64; 2]) -> f64 {
    match img.pass.view {
        // The AP source is at -y: depth grows with y.
        ScoutView::Ap => centre[1] - img.pass.pan_mm[1],
        // The lateral source is at +x: depth grows towards -x.
        ScoutView::Lateral => img.pass.pan_mm[0] - centre[0],
    }
}

/// The row of `img` at `z_mm`, if it has one.
fn row_at(img: &ScoutImage, z_mm: f64) -> Option<usize> {
    let r = img.row_of_z(z_mm).round();
    (r >= 0.0
        && (r as usize) < img.rows()
        && (img.z_mm[r as usize] - z_mm).abs() < 0.25 * img.step_mm())
    .then_some(r as usize)
}

/// The outline of a view across (x for AP, y for lateral) at `z_mm`, merged over the view's
/// passes, at the depth of `centre`: `([low, high], truncated)`. `None` when no pass sees
/// body in that row.
fn outline_at(
    scout: &Scout,
    view: ScoutView,
    z_mm: f64,
    centre: [f64; 2],
    threshold_mm: f64,
) -> Option<([f64; 2], bool)> {
    let mut low: Option<f64> = None;
    let mut high: Option<f64> = None;
    let mut low_cut: Option<f64> = None;
    let mut high_cut: Option<f64> = None;
    for img in scout.of(view) {
        let Some(r) = row_at(img, z_mm) else { continue };
        let Some(e) = row_edges(img, r, threshold_mm) else {
            continue;
        };
        let d = depth_of(img, centre);
        let a = img.across_at_depth(e.first_col, d);
        let b = img.across_at_depth(e.last_col, d);
        let (lo, hi, lo_cut, hi_cut) = if a <= b {
            (a, b, e.truncated_low, e.truncated_high)
        } else {
            (b, a, e.truncated_high, e.truncated_low)
        };
        if lo_cut {
            low_cut = Some(low_cut.map_or(lo, |v: f64| v.min(lo)));
        } else {
            low = Some(low.map_or(lo, |v: f64| v.min(lo)));
        }
        if hi_cut {
            high_cut = Some(high_cut.map_or(hi, |v: f64| v.max(hi)));
        } else {
            high = Some(high.map_or(hi, |v: f64| v.max(hi)));
        }
    }
    let truncated = low.is_none() || high.is_none();
    let lo = low.or(low_cut)?;
    let hi = high.or(high_cut)?;
    Some(([lo, hi], truncated))
}

/// The first pass of a view (the unpanned sweep over the whole range).
fn main_pass(scout: &Scout, view: ScoutView) -> Option<&ScoutImage> {
    scout.of(view).next()
}

/// Per-row maximum thickness of a pass, mm of water.
fn row_max(img: &ScoutImage) -> Vec<f64> {
    (0..img.rows())
        .map(|r| row_profile(img, r).into_iter().fold(0.0, f64::max))
        .collect()
}

/// Where a monotone step of `profile` (indexed by row) crosses `level` going from row `from`
/// in direction `dir`: the fractional row.
fn crossing(profile: &[f64], from: usize, dir: isize, level: f64) -> Option<f64> {
    let mut r = from as isize;
    while r + dir >= 0 && ((r + dir) as usize) < profile.len() {
        let (a, b) = (profile[r as usize], profile[(r + dir) as usize]);
        if (a - level) * (b - level) <= 0.0 && a != b {
            let t = (level - a) / (b - a);
            return Some(r as f64 + t * dir as f64);
        }
        r += dir;
    }
    None
}

/// The per-view body centre and outline over `z_range` (rows of the main passes), at the
/// depth of `centre`: `(centre_x_or_y, [low, high] extreme)`, using rows whose width is
/// within `widest_fraction` of the widest.
fn centre_and_extent(
    scout: &Scout,
    view: ScoutView,
    z_range: [f64; 2],
    centre: [f64; 2],
    threshold_mm: f64,
    widest_fraction: f64,
) -> Option<(f64, [f64; 2])> {
    let img = main_pass(scout, view)?;
    let mut rows = Vec::new();
    for (r, &z) in img.z_mm.iter().enumerate() {
        let _ = r;
        if z < z_range[0] || z > z_range[1] {
            continue;
        }
        if let Some((o, _)) = outline_at(scout, view, z, centre, threshold_mm) {
            rows.push(o);
        }
    }
    let widest = rows.iter().map(|o| o[1] - o[0]).fold(0.0, f64::max);
    if widest <= 0.0 {
        return None;
    }
    let chosen: Vec<&[f64; 2]> = rows
        .iter()
        .filter(|o| o[1] - o[0] >= widest_fraction * widest)
        .collect();
    let mid = chosen.iter().map(|o| 0.5 * (o[0] + o[1])).sum::<f64>() / chosen.len() as f64;
    let lo = rows.iter().map(|o| o[0]).fold(f64::INFINITY, f64::min);
    let hi = rows.iter().map(|o| o[1]).fold(f64::NEG_INFINITY, f64::max);
    Some((mid, [lo, hi]))
}

impl ClassicalLocalizer {
    fn no_patient(&self, scout: &Scout) -> Option<Refusal> {
        let max = scout
            .passes
            .iter()
            .map(|p| p.line_integrals.iter().fold(0.0f32, |m, v| m.max(*v)) as f64)
            .fold(0.0, f64::max);
        let mu = scout.passes.first().map_or(1.0, |p| p.mu_water_per_mm);
        (max < self.min_patient_water_mm * mu).then_some(Refusal::NoPatient {
            max_line_integral: max,
            threshold: self.min_patient_water_mm * mu,
            threshold_water_mm: self.min_patient_water_mm,
        })
    }

    /// The z extent of the body in the main AP pass (rows with body), `[lowest, highest]`
    /// row centres.
    fn body_rows(&self, img: &ScoutImage) -> Option<(usize, usize)> {
        let m = row_max(img);
        let thr = self.min_patient_water_mm;
        let first = m.iter().position(|v| *v > thr)?;
        let last = m.iter().rposition(|v| *v > thr)?;
        Some((first, last))
    }

    /// The body's centre across and its outline over `z_range`, iterated once so that each
    /// view's magnification uses the other's centre.
    fn centre(
        &self,
        scout: &Scout,
        z_range: [f64; 2],
        widest_fraction: f64,
    ) -> Option<([f64; 2], [f64; 2], [f64; 2])> {
        let mut c = [0.0, 0.0];
        let mut ox = [0.0; 2];
        let mut oy = [0.0; 2];
        for _ in 0..2 {
            let (x, ex) = centre_and_extent(
                scout,
                ScoutView::Ap,
                z_range,
                c,
                self.edge_water_mm,
                widest_fraction,
            )?;
            let (y, ey) = centre_and_extent(
                scout,
                ScoutView::Lateral,
                z_range,
                [x, c[1]],
                self.edge_water_mm,
                widest_fraction,
            )?;
            c = [x, y];
            ox = ex;
            oy = ey;
        }
        Some((c, ox, oy))
    }

    fn head(&self, scout: &Scout) -> Result<Landmarks, Refusal> {
        let not_found = |detail: &str| Refusal::NotFound {
            organ: Target::Head.organ().into(),
            detail: detail.into(),
        };
        let ap = main_pass(scout, ScoutView::Ap).ok_or_else(|| not_found("no AP topogram"))?;
        let lat =
            main_pass(scout, ScoutView::Lateral).ok_or_else(|| not_found("no lateral topogram"))?;
        let (_, r1) = self
            .body_rows(ap)
            .ok_or_else(|| not_found("no body in the AP topogram"))?;
        if r1 + 1 >= ap.rows() {
            return Err(not_found(
                "the body runs off the scout's superior end: no vertex",
            ));
        }
        // The vertex: the skin's top, where the row maximum leaves the air.
        let m_ap = row_max(ap);
        let vertex_row = crossing(&m_ap, r1, 1, self.edge_water_mm).unwrap_or(r1 as f64);
        let vertex_z = ap.z_of_row(vertex_row);
        // A head is narrow: a trunk is wider than any head all along.
        let c0 = self.centre(scout, [vertex_z - 80.0, vertex_z], 0.985);
        let Some((c_top, ox_top, _)) = c0 else {
            return Err(not_found("no outline below the vertex"));
        };
        let width_top = ox_top[1] - ox_top[0];
        let m_lat = row_max(lat);
        // Trunk check: lungs (a thick body with a deep deficit) or a body wider than a head.
        if width_top > 260.0 {
            return Err(Refusal::WrongAnatomy {
                target: Target::Head,
                found: "a trunk".into(),
                detail: format!(
                    "the body 80 mm below its top is {width_top:.0} mm wide; a head is at most 200 mm"
                ),
            });
        }
        // The inner table's top: the cusp of the row maximum just below the vertex, in both
        // views.
        let cusp = |m: &[f64], img: &ScoutImage| -> Option<f64> {
            let top = img.row_of_z(vertex_z).floor() as isize;
            let lowest = img.row_of_z(vertex_z - 30.0).floor().max(1.0) as isize;
            let mut best: Option<(f64, f64)> = None;
            let mut r = top;
            while r > lowest {
                let ru = r as usize;
                if ru + 1 < m.len() && m[ru] >= m[ru - 1] && m[ru] >= m[ru + 1] {
                    // Parabolic refinement.
                    let (a, b, c) = (m[ru - 1], m[ru], m[ru + 1]);
                    let den = a - 2.0 * b + c;
                    let off = if den.abs() > 1e-9 {
                        0.5 * (a - c) / den
                    } else {
                        0.0
                    };
                    best = Some((img.z_of_row(ru as f64 + off.clamp(-0.5, 0.5)), b));
                    break;
                }
                r -= 1;
            }
            best.map(|(z, _)| z)
        };
        let top_ap = cusp(&m_ap, ap);
        let top_lat = cusp(&m_lat, lat);
        let inner_top = match (top_ap, top_lat) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return Err(not_found("no skull under the vertex")),
        };
        // The cranial floor: in the lateral topogram, below the head's centre, the steepest
        // rise of each column's thickness going down.
        let floor = self
            .floor(scout, lat, c_top, vertex_z)
            .ok_or_else(|| not_found("no skull base in the lateral topogram"))?;
        // The skull base is the least certain landmark: where the floor's edge is lost among
        // the face's bones it is held to what the braincase's size predicts (a cavity about
        // 150 mm high in a head 154 mm wide and 194 mm deep), within 20 mm.
        let depth_top = centre_and_extent(
            scout,
            ScoutView::Lateral,
            [vertex_z - 80.0, vertex_z],
            c_top,
            self.edge_water_mm,
            0.985,
        )
        .map_or(194.0, |(_, e)| e[1] - e[0]);
        let scale = 0.5 * (width_top / 154.0 + depth_top / 194.0);
        let predicted = inner_top - 150.0 * scale;
        let bottom = floor.lowest_z.clamp(predicted - 20.0, predicted + 20.0);
        if !(inner_top - bottom > 60.0 && inner_top - bottom < 220.0) {
            return Err(not_found(&format!(
                "the intracranial space found from z {bottom:.0} to {inner_top:.0} mm is not a head's"
            )));
        }
        let (c, ox, oy) = self
            .centre(scout, [bottom + 10.0, inner_top], 0.985)
            .ok_or_else(|| not_found("no outline"))?;
        // Across y the face reaches as far as the braincase: the y centre is the mean middle
        // of the braincase's chords between 20 and 60 mm under the inner table's top (a
        // nearly round braincase bisects its chords at its centre, whatever the nod).
        let c = match centre_and_extent(
            scout,
            ScoutView::Lateral,
            [inner_top - 60.0, inner_top - 20.0],
            c,
            self.edge_water_mm,
            0.0,
        ) {
            Some((y, _)) => [c[0], y],
            None => c,
        };
        let _ = m_lat;
        Ok(Landmarks {
            target: Target::Head,
            points: vec![
                ("vertex".into(), [c[0], c[1], vertex_z]),
                ("intracranial_top".into(), [c[0], c[1], inner_top]),
                ("skull_base".into(), [c[0], floor.lowest_y, bottom]),
                (
                    "head_center".into(),
                    [c[0], c[1], 0.5 * (bottom + inner_top)],
                ),
            ],
            organ_z_mm: [bottom, inner_top],
            center_xy_mm: c,
            outline_x_mm: ox,
            outline_y_mm: oy,
        })
    }

    /// The cranial floor in the lateral topogram: in the columns of the middle of the head
    /// (where the skull base plate lies under the cavity), the steepest rise of the thickness
    /// going down; a line fitted to those edges (the floor is a plane seen edge-on, tilted
    /// with the head) is followed to the head's outline, less the skull, at each end: the lower
    /// end is the bottom of the intracranial space.
    fn floor(
        &self,
        scout: &Scout,
        lat: &ScoutImage,
        centre: [f64; 2],
        vertex_z: f64,
    ) -> Option<Floor> {
        let r_hi = lat.row_of_z(vertex_z - 70.0).round().max(0.0) as usize;
        let r_lo = lat.row_of_z(vertex_z - 200.0).round().max(1.0) as usize;
        if r_hi <= r_lo + 2 || r_hi + 1 >= lat.rows() {
            return None;
        }
        let d = depth_of(lat, centre);
        let e = row_edges(lat, r_hi, self.edge_water_mm)?;
        let span = e.last_col - e.first_col;
        let (c0, c1) = (
            (e.first_col + 0.3 * span).ceil() as usize,
            (e.first_col + 0.7 * span).floor() as usize,
        );
        let mut pts: Vec<(f64, f64)> = Vec::new();
        for col in c0..=c1 {
            let mut best = (0.0, 0usize);
            for r in (r_lo + 1..=r_hi).rev() {
                let g = water(lat, r - 1, col) - water(lat, r + 1, col);
                if g > best.0 {
                    best = (g, r);
                }
            }
            if best.0 > 20.0 {
                // The edge between rows: where the thickness is halfway up the rise.
                let r = best.1;
                let (a, b) = (water(lat, r + 1, col), water(lat, r - 1, col));
                let half = 0.5 * (a + b);
                let m = water(lat, r, col);
                let frac = if m > half {
                    (m - half) / (m - a).max(1e-9) * 0.5 + 0.5
                } else {
                    0.5 - (half - m) / (b - m).max(1e-9) * 0.5
                };
                let z = lat.z_of_row(r as f64 + frac - 0.5);
                pts.push((lat.across_at_depth(col as f64, d), z));
            }
        }
        if pts.len() < 5 {
            return None;
        }
        // Least squares z = a + b y, then once more without the worst tenth.
        let fit = |p: &[(f64, f64)]| {
            let n = p.len() as f64;
            let (sy, sz) = p.iter().fold((0.0, 0.0), |s, q| (s.0 + q.0, s.1 + q.1));
            let (my, mz) = (sy / n, sz / n);
            let (mut num, mut den) = (0.0, 0.0);
            for q in p {
                num += (q.0 - my) * (q.1 - mz);
                den += (q.0 - my) * (q.0 - my);
            }
            let b = if den > 0.0 { num / den } else { 0.0 };
            (mz - b * my, b)
        };
        let (a, b) = fit(&pts);
        let mut res: Vec<f64> = pts.iter().map(|q| (q.1 - a - b * q.0).abs()).collect();
        res.sort_by(f64::total_cmp);
        let cut = res[(0.9 * (res.len() - 1) as f64) as usize];
        let kept: Vec<(f64, f64)> = pts
            .iter()
            .copied()
            .filter(|q| (q.1 - a - b * q.0).abs() <= cut)
            .collect();
        let (a, b) = fit(&kept);
        // Follow the floor down to where the cavity (the outline less the skull) ends.
        let inset = 10.0;
        let mut lowest = None;
        for r in (0..=r_hi).rev() {
            let z = lat.z_of_row(r as f64);
            let Some((o, _)) = outline_at(scout, ScoutView::Lateral, z, centre, self.edge_water_mm)
            else {
                break;
            };
            let (ya, yp) = (o[0] + inset, o[1] - inset);
            if ya >= yp {
                break;
            }
            // The floor's lowest point across the cavity at this row.
            let (y, zf) = if b >= 0.0 {
                (ya, a + b * ya)
            } else {
                (yp, a + b * yp)
            };
            if zf <= z {
                lowest = Some((y, z));
            } else {
                break;
            }
        }
        let (y, z) = lowest?;
        Some(Floor {
            lowest_z: z,
            lowest_y: y,
        })
    }

    fn chest(&self, scout: &Scout) -> Result<Landmarks, Refusal> {
        let not_found = |detail: &str| Refusal::NotFound {
            organ: Target::Chest.organ().into(),
            detail: detail.into(),
        };
        let ap = main_pass(scout, ScoutView::Ap).ok_or_else(|| not_found("no AP topogram"))?;
        let (r0, r1) = self
            .body_rows(ap)
            .ok_or_else(|| not_found("no body in the AP topogram"))?;
        let z_body = [ap.z_mm[r0], ap.z_mm[r1]];
        let (c, _, _) = self
            .centre(scout, z_body, 0.0)
            .ok_or_else(|| not_found("no outline"))?;
        // The lungs' deficit per row, over every pass of the AP view.
        let mut area = vec![0.0; ap.rows()];
        for (r, &z) in ap.z_mm.iter().enumerate() {
            let Some((ox, _)) = outline_at(scout, ScoutView::Ap, z, c, self.edge_water_mm) else {
                continue;
            };
            let Some((oy, _)) = outline_at(scout, ScoutView::Lateral, z, c, self.edge_water_mm)
            else {
                continue;
            };
            let (cx, ax) = (0.5 * (ox[0] + ox[1]), 0.5 * (ox[1] - ox[0]));
            let (cy, ay) = (0.5 * (oy[0] + oy[1]), 0.5 * (oy[1] - oy[0]));
            let mut best: f64 = 0.0;
            for img in scout.of(ScoutView::Ap) {
                let Some(rr) = row_at(img, z) else { continue };
                let mut sum = 0.0;
                let d = depth_of(img, [cx, cy]);
                for col in 0..img.cols() {
                    // The ray's chord through the ellipse, as a water thickness.
                    let (o, dir) = img.ray(col as f64);
                    let chord = ellipse_chord(o, dir, [cx, cy], [ax, ay]);
                    if chord < 20.0 {
                        continue;
                    }
                    let w = water(img, rr, col);
                    if chord - w > 15.0 {
                        let pitch = (img.across_at_depth(col as f64 + 0.5, d)
                            - img.across_at_depth(col as f64 - 0.5, d))
                        .abs();
                        sum += (chord - w) * pitch;
                    }
                }
                best = best.max(sum);
            }
            area[r] = best;
        }
        let peak = area.iter().copied().fold(0.0, f64::max);
        // A head has no lungs: its deficit stays small.
        if peak < 2000.0 {
            return Err(Refusal::WrongAnatomy {
                target: Target::Chest,
                found: if (ap.z_mm[r1] - ap.z_mm[r0]) < 350.0 {
                    "a head".into()
                } else {
                    "a body without inflated lungs".into()
                },
                detail: format!(
                    "no inflated lung: the largest air deficit in a row is {:.0} mm^2 of water, a chest shows more than 2000",
                    peak
                ),
            });
        }
        let rp = area.iter().position(|v| *v == peak).unwrap_or(0);
        let end = |dir: isize| -> Option<f64> {
            let a = crossing(&area, rp, dir, 0.5 * peak)?;
            let b = crossing(&area, rp, dir, 0.2 * peak)?;
            // The line through (a, 0.5 peak) and (b, 0.2 peak) reaches 0 at:
            Some(b + (b - a) * 0.2 / 0.3)
        };
        let apex_row = end(1).ok_or_else(|| not_found("no lung apices"))?;
        let base_row = end(-1).ok_or_else(|| not_found("no lung bases"))?;
        let (apex, base) = (ap.z_of_row(apex_row), ap.z_of_row(base_row));
        if !(apex - base > 120.0 && apex - base < 450.0) {
            return Err(not_found(&format!(
                "the lungs found from z {base:.0} to {apex:.0} mm are not a chest's"
            )));
        }
        let mid = 0.5 * (apex + base);
        let (cm, _, _) = self
            .centre(scout, [mid - 10.0, mid + 10.0], 0.0)
            .ok_or_else(|| not_found("no outline at the lungs' mid-height"))?;
        let (_, ox, oy) = self
            .centre(scout, [base, apex], 0.0)
            .ok_or_else(|| not_found("no outline over the lungs"))?;
        Ok(Landmarks {
            target: Target::Chest,
            points: vec![
                ("lung_apices".into(), [cm[0], cm[1], apex]),
                ("lung_bases".into(), [cm[0], cm[1], base]),
                ("body_center".into(), [cm[0], cm[1], mid]),
            ],
            organ_z_mm: [base, apex],
            center_xy_mm: cm,
            outline_x_mm: ox,
            outline_y_mm: oy,
        })
    }
}

/// The cranial floor's lowest point.
struct Floor {
    lowest_z: f64,
    lowest_y: f64,
}

/// Length of the ray `o + t dir` inside the axis-aligned ellipse of `centre` and `semi`.
fn ellipse_chord(o: [f64; 2], dir: [f64; 2], centre: [f64; 2], semi: [f64; 2]) -> f64 {
    let p = [(o[0] - centre[0]) / semi[0], (o[1] - centre[1]) / semi[1]];
    let d = [dir[0] / semi[0], dir[1] / semi[1]];
    let a = d[0] * d[0] + d[1] * d[1];
    let b = 2.0 * (p[0] * d[0] + p[1] * d[1]);
    let c = p[0] * p[0] + p[1] * p[1] - 1.0;
    let disc = b * b - 4.0 * a * c;
    if disc <= 0.0 || a <= 0.0 {
        0.0
    } else {
        disc.sqrt() / a
    }
}

impl Localizer for ClassicalLocalizer {
    fn localize(&self, target: Target, scout: &Scout) -> Result<Landmarks, Refusal> {
        if let Some(r) = self.no_patient(scout) {
            return Err(r);
        }
        match target {
            Target::Head => self.head(scout),
            Target::Chest => self.chest(scout),
        }
    }
}
