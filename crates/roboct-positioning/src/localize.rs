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
//!   going down; the floor's lowest point across is the skull base's place across. The bottom
//!   of the intracranial space (brainstem, posterior fossa) lies under soft tissue the scout
//!   cannot separate: it is predicted from the inner table's top, the crown's centre (an
//!   ellipse fitted to the outline's width under the vertex in both views: the squared chord
//!   of a conic is quadratic in z, and its peak is the centre) and the nod (the face turning
//!   into or out of the lateral chord 50 mm under the crown's centre widens and shifts it),
//!   by a least-squares fit on the development seeds. The patient lies supine, face up. The head's centre across is the middle of
//!   its widest rows (the longest chord of an ellipse runs through its centre).
//! - **Chest.** Against an elliptic water body fitted to the outline in each row (width from
//!   the AP view, depth from the lateral), inflated lung is a deficit of more than half its
//!   chord; the lungs' cross-section per row is the summed deficit, and the apices and bases
//!   are found from where that profile falls to a half and a fifth of its peak (an
//!   ellipsoid's section grows about linearly from its tip; a diaphragm's tilted plane makes
//!   the base a ramp), by a least-squares fit on the development seeds. Rows at a cut end of
//!   the trunk are not searched. The body's centre is the outline's
//!   middle at the lungs' mid-height.
//!
//! Anatomy of another target is refused ([`Refusal::WrongAnatomy`]): a chest ordered on a
//! scout without lungs, a head ordered on a trunk. Tests: `localize::tests::*`,
//! `tests/positioning.rs`.

use roboct_geometry::vec3::{Vec3, det3, normal_equations3, solve3};

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
    for &z in &img.z_mm {
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
        // The skull base is the least certain landmark, and the lowest brain (brainstem,
        // posterior fossa) lies under soft tissue that a scout cannot see. It is predicted
        // from what is seen well: the inner table's top, the crown's centre (the outline's
        // widest row, from an ellipse fitted to the crown in both views: it carries the
        // head's height, which its width does not) and the nod (below). The coefficients are
        // a least-squares fit on the development seeds (`HEAD_BASE`).
        let crowns: Vec<f64> = [ScoutView::Ap, ScoutView::Lateral]
            .into_iter()
            .filter_map(|v| crown_fit(scout, v, vertex_z, c_top, self.edge_water_mm))
            .map(|(zc, _, _)| zc)
            .filter(|zc| (vertex_z - 140.0..vertex_z - 50.0).contains(zc))
            .collect();
        if crowns.is_empty() {
            return Err(not_found("no braincase outline under the vertex"));
        }
        let crown_z = crowns.iter().sum::<f64>() / crowns.len() as f64;
        // The nod: the face in front of the braincase turns into or out of the lateral
        // chord under the crown's centre, which widens and moves with it.
        let chord =
            |z: f64| outline_between_rows(scout, ScoutView::Lateral, z, c_top, self.edge_water_mm);
        let (Some(at_centre), Some(under)) = (chord(crown_z), chord(crown_z - NOD_DEPTH_MM)) else {
            return Err(not_found("no lateral outline under the crown"));
        };
        let widening = (under[1] - under[0]) - (at_centre[1] - at_centre[0]);
        let shift = 0.5 * (under[0] + under[1]) - 0.5 * (at_centre[0] + at_centre[1]);
        let [k0, k_crown, k_widening, k_shift] = HEAD_BASE;
        let bottom = inner_top
            + k0
            + k_crown * (crown_z - inner_top)
            + k_widening * widening
            + k_shift * shift;
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
        let (y, _) = lowest?;
        Some(Floor { lowest_y: y })
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
            // The passes stitched across: each place across counted once, from the first
            // pass that sees it (the main pass, then the panned ones beyond its field).
            let mut seen: Vec<[f64; 2]> = Vec::new();
            let mut sum = 0.0;
            for img in scout.of(ScoutView::Ap) {
                let Some(rr) = row_at(img, z) else { continue };
                let d = depth_of(img, [cx, cy]);
                let field = {
                    let (a, b) = (
                        img.across_at_depth(-0.5, d),
                        img.across_at_depth(img.cols() as f64 - 0.5, d),
                    );
                    [a.min(b), a.max(b)]
                };
                for col in 0..img.cols() {
                    let at = img.across_at_depth(col as f64, d);
                    if seen.iter().any(|f| at >= f[0] && at <= f[1]) {
                        continue;
                    }
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
                seen.push(field);
            }
            area[r] = sum;
        }
        // Where the trunk ends inside the scout, its cut end's rows (partial volume in a
        // row's thickness, shoulders) are thinner than the ellipse fitted to their outline:
        // a false deficit that is not lung. The lungs stay well inside the trunk.
        let (body_lo, body_hi) = (
            (r0 > 0).then(|| z_body[0] + TRUNK_END_MM),
            (r1 + 1 < ap.rows()).then(|| z_body[1] - TRUNK_END_MM),
        );
        for (a, &z) in area.iter_mut().zip(&ap.z_mm) {
            if body_lo.is_some_and(|lo| z < lo) || body_hi.is_some_and(|hi| z > hi) {
                *a = 0.0;
            }
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
        // Each end from where the profile falls to half and to a fifth of its peak: a
        // constant beyond the fifth, less a share of the flank between them (a tip's
        // profile is nearly linear; a base cut by the diaphragm's tilted plane falls in a
        // ramp).
        let end = |dir: isize, k: [f64; 2]| -> Option<f64> {
            let half = ap.z_of_row(crossing(&area, rp, dir, 0.5 * peak)?);
            let fifth = ap.z_of_row(crossing(&area, rp, dir, 0.2 * peak)?);
            Some(fifth + dir as f64 * k[0] + k[1] * (half - fifth))
        };
        let apex = end(1, LUNG_APEX).ok_or_else(|| not_found("no lung apices"))?;
        let base = end(-1, LUNG_BASE).ok_or_else(|| not_found("no lung bases"))?;
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

/// The skull base from the inner table's top `t`, the crown's centre `c`, and how much the
/// lateral chord `NOD_DEPTH_MM` under the crown's centre is wider (`w`) and shifted across
/// (`m`) than the chord at the centre: `t + k0 + k1 (c - t) + k2 w + k3 m`; least squares on
/// the development cohort (100 heads: 2.4 mm rms, 5.6 mm at worst; the crown alone left
/// 5.1 mm rms, the nod read from the floor's slope 4.0).
const HEAD_BASE: [f64; 4] = [-61.954, 1.2872, -0.8681, -0.9608];
/// How far under the crown's centre the nod is read, mm (where the face meets the braincase).
const NOD_DEPTH_MM: f64 = 50.0;
/// A lung apex: beyond where the profile falls to a fifth by `k0 - k1 |fifth - half|` mm;
/// least squares on the development cohort (3.6 mm rms).
const LUNG_APEX: [f64; 2] = [19.91, 0.3072];
/// A lung base, the same way (4.9 mm rms): the diaphragm's tilt makes the base a ramp.
const LUNG_BASE: [f64; 2] = [24.68, 0.509];

/// Rows this close to an end of the trunk inside the scout are not searched for lung, mm.
const TRUNK_END_MM: f64 = 20.0;

/// The outline of a view at any `z_mm`, interpolated between the main pass' rows around it
/// (each merged over the view's passes); `None` when either row has no body.
fn outline_between_rows(
    scout: &Scout,
    view: ScoutView,
    z_mm: f64,
    centre: [f64; 2],
    threshold_mm: f64,
) -> Option<[f64; 2]> {
    let img = main_pass(scout, view)?;
    let r = img.row_of_z(z_mm);
    if !(r >= 0.0 && r + 1.0 < img.rows() as f64) {
        return None;
    }
    let r0 = r.floor() as usize;
    let t = r - r0 as f64;
    let (a, _) = outline_at(scout, view, img.z_mm[r0], centre, threshold_mm)?;
    let (b, _) = outline_at(scout, view, img.z_mm[r0 + 1], centre, threshold_mm)?;
    Some([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])])
}

/// The braincase's crown in one view: the outline's width between the vertex and
/// `CROWN_DEPTH_MM` below it fitted by an ellipse (the squared chord of a conic is quadratic
/// in z): its centre z, its semi-axis along z and across, mm.
fn crown_fit(
    scout: &Scout,
    view: ScoutView,
    vertex_z: f64,
    centre: [f64; 2],
    threshold_mm: f64,
) -> Option<(f64, f64, f64)> {
    let img = main_pass(scout, view)?;
    let mut rows: Vec<(f64, f64)> = Vec::new();
    for &z in &img.z_mm {
        if z > vertex_z - CROWN_SKIP_MM || z < vertex_z - CROWN_DEPTH_MM {
            continue;
        }
        if let Some((o, false)) = outline_at(scout, view, z, centre, threshold_mm) {
            // Scaled to about 1, so that the normal equations are well conditioned.
            rows.push(((z - vertex_z) / CROWN_DEPTH_MM, (o[1] - o[0]).powi(2)));
        }
    }
    if rows.len() < 10 {
        return None;
    }
    let (zc, semi_z, semi_across) = ellipse_from_chords(&rows)?;
    Some((
        vertex_z + zc * CROWN_DEPTH_MM,
        semi_z * CROWN_DEPTH_MM,
        semi_across,
    ))
}

/// The ellipse whose chords across at heights `z` have the squared lengths `w2`, by least
/// squares on `w2 = A + B z + C z^2`: its centre's z, semi-axis along z, semi-axis across.
/// `None` when the chords do not narrow on both sides of a peak (C >= 0) or the fit is
/// singular. Heights should be of order 1 (scaled), for the normal equations' sake.
fn ellipse_from_chords(rows: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    // Least squares w^2 = A + B z + C z^2.
    let (m, v) = normal_equations3(rows.iter().map(|&(z, w2)| ([1.0, z, z * z], w2)));
    let scale = m.iter().flatten().fold(0.0f64, |a, v| a.max(v.abs()));
    if !(det3(m).abs() > 1e-12 * scale.powi(3)) {
        return None;
    }
    let [a, b, c] = solve3(m, v)?;
    if c >= 0.0 {
        return None;
    }
    let zc = -b / (2.0 * c);
    let w2max = a + b * zc + c * zc * zc;
    if w2max <= 0.0 {
        return None;
    }
    let semi_across = 0.5 * w2max.sqrt();
    let semi_z = (w2max / -c).sqrt();
    Some((zc, semi_z, semi_across))
}

/// The crown's fit starts this far under the vertex, mm.
const CROWN_SKIP_MM: f64 = 3.0;
/// The crown's fit ends this far under the vertex (above the face and the ears), mm.
const CROWN_DEPTH_MM: f64 = 75.0;

/// The cranial floor's lowest point.
struct Floor {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Squared horizontal chord of the ellipse of semi-axes `a` (across) and `c` (along z),
    /// centred at `z0` and turned by `phi` in its plane, at height `z`.
    fn chord2(a: f64, c: f64, z0: f64, phi: f64, z: f64) -> f64 {
        // The conic p x^2 + q x z + r z^2 = 1 of the turned ellipse.
        let (s, k) = phi.sin_cos();
        let p = k * k / (a * a) + s * s / (c * c);
        let q = 2.0 * s * k * (1.0 / (a * a) - 1.0 / (c * c));
        let r = s * s / (a * a) + k * k / (c * c);
        let z = z - z0;
        let disc = q * q * z * z - 4.0 * p * (r * z * z - 1.0);
        disc.max(0.0) / (p * p)
    }

    const SCALE: f64 = 75.0;

    #[test]
    fn an_ellipse_is_recovered_from_the_chords_on_one_side_of_its_centre() {
        // The crown of a head: only the rows above the centre are seen.
        let (a, c, z0) = (77.0, 96.0, -96.0);
        let rows: Vec<(f64, f64)> = (2..38)
            .map(|k| {
                let z = -2.0 * k as f64;
                (z / SCALE, chord2(a, c, z0, 0.0, z))
            })
            .collect();
        let (zc, sz, sa) = ellipse_from_chords(&rows).unwrap();
        let (zc, sz) = (zc * SCALE, sz * SCALE);
        assert!((zc - z0).abs() < 1e-6, "{zc}");
        assert!((sz - c).abs() < 1e-6, "{sz}");
        assert!((sa - a).abs() < 1e-6, "{sa}");
        // Turned by 15 degrees, its widest chord still runs through its centre.
        let rows: Vec<(f64, f64)> = rows
            .iter()
            .map(|&(z, _)| (z, chord2(a, c, z0, 15f64.to_radians(), z * SCALE)))
            .collect();
        let (zc, _, _) = ellipse_from_chords(&rows).unwrap();
        let zc = zc * SCALE;
        assert!((zc - z0).abs() < 1e-6, "turned: {zc}");
    }

    #[test]
    fn chords_that_do_not_narrow_give_no_ellipse() {
        let widening: Vec<(f64, f64)> = (0..20).map(|k| (k as f64, (k * k) as f64)).collect();
        assert!(ellipse_from_chords(&widening).is_none());
        let one_height = vec![(1.0, 4.0); 12];
        assert!(ellipse_from_chords(&one_height).is_none());
    }
}
