//! Scan geometry as per-view vectors: where the source and the detector are for every view.
//!
//! This is ASTRA's `cone_vec`/`parallel3d_vec` idea with RTK's detector sampling: each view has
//! a source (a focal spot, or a ray direction for parallel beams), a detector reference point
//! and two unit vectors `u` (along increasing column index) and `v` (along increasing row
//! index); the detector says how many pixels there are, their pitch, and the detector
//! coordinate `(u, v)` (mm) of the centre of pixel (0, 0). Any trajectory can be written this
//! way; circular scans also keep their orbit ([`Orbit`]), which analytic reconstruction needs.

use crate::vec3::{Vec3, add, cross, dot, norm, plane_coords, scale, sub};
use crate::{MAX_PIXELS_PER_AXIS, MAX_VALUES, MAX_VIEWS};

/// Why a scan geometry was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum GeometryError {
    /// A field has a value outside what it may take.
    #[error("{field} is {value}: expected {expected}")]
    BadValue {
        /// The field, as named in the geometry file (`source_to_detector_mm`, `detector.cols`...).
        field: String,
        /// The value given, as text.
        value: String,
        /// What it may be.
        expected: String,
    },
    /// Source-to-detector distance shorter than source-to-isocentre: the detector would be
    /// between the source and the object.
    #[error(
        "source_to_detector_mm ({sdd_mm}) is less than source_to_isocenter_mm ({sid_mm}): the detector must be beyond the isocentre"
    )]
    DetectorBeforeIsocenter {
        /// Source to isocentre, mm.
        sid_mm: f64,
        /// Source to detector, mm.
        sdd_mm: f64,
    },
    /// There are no views.
    #[error("the scan has no views: give [angles] count > 0 or a non-empty list")]
    NoViews,
    /// A view's vectors are degenerate.
    #[error("view {view}: {message}")]
    BadView {
        /// The view index (0-based).
        view: usize,
        /// What is wrong.
        message: String,
    },
}

/// Refuses a scan of more than [`MAX_VIEWS`] views or more than [`MAX_VALUES`] samples
/// (views x rows x cols), the one bound every kind of geometry file meets, checked before the
/// views or the projections are allocated.
pub(crate) fn check_size(views: usize, rows: usize, cols: usize) -> Result<(), GeometryError> {
    if views > MAX_VIEWS {
        return Err(bad("views", views, format!("at most {MAX_VIEWS} views")));
    }
    let samples = (views as u128) * (rows as u128) * (cols as u128);
    if samples > u128::from(MAX_VALUES) {
        return Err(bad(
            "views x detector.rows x detector.cols",
            samples,
            "at most 2^31 samples (8 GiB as f32)",
        ));
    }
    Ok(())
}

pub(crate) fn bad(
    field: impl Into<String>,
    value: impl ToString,
    expected: impl Into<String>,
) -> GeometryError {
    GeometryError::BadValue {
        field: field.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// The shape of the detector surface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorShape {
    /// A flat panel: pixel `(u, v)` is at `detector + u * u_dir + v * v_dir`.
    Flat,
    /// A cylinder centred on the source with its axis along `v` (the third-generation CT
    /// "arc" detector): `u` is the arc length (mm) at radius |detector - source|, so columns
    /// are equiangular. Divergent beams only.
    Cylindrical,
}

impl DetectorShape {
    /// The fan angle from the central ray to a point `u_mm` across the detector, rad, for a
    /// detector `sdd_mm` from the source: the arc length over the radius on a cylinder,
    /// `atan(u / SDD)` on a flat panel.
    pub fn fan_angle_rad(self, u_mm: f64, sdd_mm: f64) -> f64 {
        match self {
            DetectorShape::Flat => (u_mm / sdd_mm).atan(),
            DetectorShape::Cylindrical => u_mm / sdd_mm,
        }
    }
}

/// The detector's pixel grid, the same for every view.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detector {
    /// Number of columns (along `u`).
    pub cols: usize,
    /// Number of rows (along `v`).
    pub rows: usize,
    /// Pixel pitch (u, v) in mm (for [`DetectorShape::Cylindrical`], `u` is arc length at the
    /// detector radius).
    pub pixel_mm: [f64; 2],
    /// Detector coordinate (u, v) in mm of the centre of pixel (0, 0), as RTK's projection
    /// image origin. A centred detector has `-(cols - 1) / 2 * pixel_u`.
    pub origin_mm: [f64; 2],
    /// Flat or cylindrical.
    pub shape: DetectorShape,
}

impl Detector {
    /// A detector of `cols` x `rows` pixels centred on the reference point, shifted by
    /// `offset_mm` (u, v).
    pub fn centered(
        cols: usize,
        rows: usize,
        pixel_mm: [f64; 2],
        offset_mm: [f64; 2],
        shape: DetectorShape,
    ) -> Self {
        let origin_mm = [
            -(cols as f64 - 1.0) / 2.0 * pixel_mm[0] + offset_mm[0],
            -(rows as f64 - 1.0) / 2.0 * pixel_mm[1] + offset_mm[1],
        ];
        Self {
            cols,
            rows,
            pixel_mm,
            origin_mm,
            shape,
        }
    }

    /// Detector coordinate u (mm) of column `c` (fractional allowed).
    pub fn u_mm(&self, c: f64) -> f64 {
        self.origin_mm[0] + c * self.pixel_mm[0]
    }

    /// Detector coordinate v (mm) of row `r` (fractional allowed).
    pub fn v_mm(&self, r: f64) -> f64 {
        self.origin_mm[1] + r * self.pixel_mm[1]
    }

    /// Fractional column of detector coordinate `u_mm`.
    pub fn col_of(&self, u_mm: f64) -> f64 {
        (u_mm - self.origin_mm[0]) / self.pixel_mm[0]
    }

    /// Fractional row of detector coordinate `v_mm`.
    pub fn row_of(&self, v_mm: f64) -> f64 {
        (v_mm - self.origin_mm[1]) / self.pixel_mm[1]
    }

    fn validate(&self) -> Result<(), GeometryError> {
        if self.cols == 0 {
            return Err(bad("detector.cols", self.cols, "at least 1"));
        }
        if self.rows == 0 {
            return Err(bad("detector.rows", self.rows, "at least 1"));
        }
        for (a, name) in ["u", "v"].iter().enumerate() {
            let p = self.pixel_mm[a];
            if !(p.is_finite() && p > 0.0) {
                return Err(bad(
                    format!("detector.pixel_mm[{a}] ({name})"),
                    p,
                    "a finite size > 0 mm",
                ));
            }
            if !self.origin_mm[a].is_finite() {
                return Err(bad(
                    format!("detector origin/offset {name}"),
                    self.origin_mm[a],
                    "a finite value in mm",
                ));
            }
        }
        for (field, n) in [("detector.cols", self.cols), ("detector.rows", self.rows)] {
            if n > MAX_PIXELS_PER_AXIS {
                return Err(bad(
                    field,
                    n,
                    format!("at most {MAX_PIXELS_PER_AXIS} pixels"),
                ));
            }
        }
        Ok(())
    }
}

/// Where the X-rays come from in one view.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// A focal spot (cone and fan beams), in world mm.
    Point(Vec3),
    /// Parallel rays travelling along this unit direction (parallel beams).
    Parallel(Vec3),
}

/// One view: the source and the detector's reference point and orientation, in world mm.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct View {
    /// The focal spot or the ray direction.
    pub source: Source,
    /// The point of detector coordinate (u, v) = (0, 0), in world mm.
    pub detector_mm: Vec3,
    /// Unit vector along increasing column index.
    pub u_dir: Vec3,
    /// Unit vector along increasing row index.
    pub v_dir: Vec3,
}

/// The circular orbit of a circular scan: what FBP and FDK need beyond the per-view vectors.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Orbit {
    /// Unit vector of the rotation axis; the gantry angle grows by the right-hand rule about it.
    pub axis: Vec3,
    /// The isocentre, world mm.
    pub isocenter_mm: Vec3,
    /// Gantry angle of each view (rad), by the right-hand rule about `axis`, in the order of
    /// the views (any order; reconstruction sorts them to find gaps and the arc covered).
    pub angles_rad: Vec<f64>,
}

/// A complete scan geometry: detector grid, one [`View`] per projection, and the orbit when the
/// scan is circular.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScanGeometry {
    detector: Detector,
    views: Vec<View>,
    orbit: Option<Orbit>,
}

impl ScanGeometry {
    /// A geometry from its parts, validated: every view's vectors are finite, `u` and `v` are
    /// unit vectors and not parallel, all views use the same kind of source, a cone source is
    /// not on the detector plane, cylindrical detectors have `u`, `v` and the central ray
    /// mutually perpendicular, and the orbit (if any) has one angle per view.
    pub fn new(
        detector: Detector,
        views: Vec<View>,
        orbit: Option<Orbit>,
    ) -> Result<Self, GeometryError> {
        detector.validate()?;
        if views.is_empty() {
            return Err(GeometryError::NoViews);
        }
        check_size(views.len(), detector.rows, detector.cols)?;
        let parallel = matches!(views[0].source, Source::Parallel(_));
        for (i, view) in views.iter().enumerate() {
            let fail = |message: &str| GeometryError::BadView {
                view: i,
                message: message.to_string(),
            };
            let finite = |v: &Vec3| v.iter().all(|x| x.is_finite());
            let s = match view.source {
                Source::Point(p) | Source::Parallel(p) => p,
            };
            if !(finite(&s)
                && finite(&view.detector_mm)
                && finite(&view.u_dir)
                && finite(&view.v_dir))
            {
                return Err(fail("a coordinate is NaN or infinite"));
            }
            if (norm(view.u_dir) - 1.0).abs() > 1e-6 || (norm(view.v_dir) - 1.0).abs() > 1e-6 {
                return Err(fail("detector u and v must be unit vectors"));
            }
            let n = cross(view.u_dir, view.v_dir);
            if norm(n) < 1e-6 {
                return Err(fail("detector u and v are parallel"));
            }
            match view.source {
                Source::Point(p) => {
                    if parallel {
                        return Err(fail("mixes a point source with parallel-beam views"));
                    }
                    let depth = dot(sub(view.detector_mm, p), n) / norm(n);
                    if depth.abs() < 1e-6 {
                        return Err(fail("the source lies on the detector plane"));
                    }
                    if detector.shape == DetectorShape::Cylindrical {
                        let c = sub(view.detector_mm, p);
                        let r = norm(c);
                        if dot(c, view.u_dir).abs() > 1e-6 * r
                            || dot(c, view.v_dir).abs() > 1e-6 * r
                            || dot(view.u_dir, view.v_dir).abs() > 1e-6
                        {
                            return Err(fail(
                                "a cylindrical detector needs u, v and the central ray mutually perpendicular",
                            ));
                        }
                    }
                }
                Source::Parallel(d) => {
                    if !parallel {
                        return Err(fail("mixes a parallel-beam view with point-source views"));
                    }
                    if (norm(d) - 1.0).abs() > 1e-6 {
                        return Err(fail("the parallel ray direction must be a unit vector"));
                    }
                    if dot(d, n).abs() < 1e-6 {
                        return Err(fail("the rays run parallel to the detector plane"));
                    }
                    if detector.shape == DetectorShape::Cylindrical {
                        return Err(fail("a cylindrical detector needs a point source"));
                    }
                }
            }
        }
        if let Some(orbit) = &orbit {
            if orbit.angles_rad.len() != views.len() {
                return Err(bad(
                    "orbit angles",
                    orbit.angles_rad.len(),
                    format!("one per view ({})", views.len()),
                ));
            }
            if (norm(orbit.axis) - 1.0).abs() > 1e-6 {
                return Err(bad(
                    "orbit axis",
                    format!("{:?}", orbit.axis),
                    "a unit vector",
                ));
            }
        }
        Ok(Self {
            detector,
            views,
            orbit,
        })
    }

    /// The detector grid.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The views, one per projection.
    pub fn views(&self) -> &[View] {
        &self.views
    }

    /// The circular orbit, for circular scans.
    pub fn orbit(&self) -> Option<&Orbit> {
        self.orbit.as_ref()
    }

    /// Number of views.
    pub fn n_views(&self) -> usize {
        self.views.len()
    }

    /// Whether every view has parallel rays.
    pub fn is_parallel(&self) -> bool {
        matches!(self.views[0].source, Source::Parallel(_))
    }

    /// The shape `(views, rows, cols)` of a projection stack for this geometry.
    pub fn projection_shape(&self) -> (usize, usize, usize) {
        (self.views.len(), self.detector.rows, self.detector.cols)
    }

    /// The same geometry with every view's vectors mapped by the rigid transform
    /// `p -> rotation * p + translation_mm` (for moving between world frames).
    pub fn transformed(&self, rotation: [[f64; 3]; 3], translation_mm: Vec3) -> Self {
        let rot = |v: Vec3| -> Vec3 { std::array::from_fn(|r| dot(rotation[r], v)) };
        let point = |p: Vec3| add(rot(p), translation_mm);
        let views = self
            .views
            .iter()
            .map(|v| View {
                source: match v.source {
                    Source::Point(p) => Source::Point(point(p)),
                    Source::Parallel(d) => Source::Parallel(rot(d)),
                },
                detector_mm: point(v.detector_mm),
                u_dir: rot(v.u_dir),
                v_dir: rot(v.v_dir),
            })
            .collect();
        let orbit = self.orbit.as_ref().map(|o| Orbit {
            axis: rot(o.axis),
            isocenter_mm: point(o.isocenter_mm),
            angles_rad: o.angles_rad.clone(),
        });
        Self {
            detector: self.detector.clone(),
            views,
            orbit,
        }
    }
}

impl View {
    /// World position (mm) of detector coordinate `(u_mm, v_mm)` on this view's detector.
    pub fn detector_point(&self, detector: &Detector, u_mm: f64, v_mm: f64) -> Vec3 {
        match (detector.shape, self.source) {
            (DetectorShape::Cylindrical, Source::Point(s)) => {
                let c = sub(self.detector_mm, s);
                let radius = norm(c);
                let gamma = u_mm / radius;
                let in_plane = add(
                    scale(c, gamma.cos()),
                    scale(self.u_dir, radius * gamma.sin()),
                );
                add(add(s, in_plane), scale(self.v_dir, v_mm))
            }
            _ => add(
                add(self.detector_mm, scale(self.u_dir, u_mm)),
                scale(self.v_dir, v_mm),
            ),
        }
    }

    /// The ray through detector coordinate `(u_mm, v_mm)`: its start point (the focal spot, or
    /// for parallel beams the detector point moved back along the ray) and its unit direction.
    /// For parallel beams the start is `back_mm` before the detector.
    pub fn ray(&self, detector: &Detector, u_mm: f64, v_mm: f64, back_mm: f64) -> (Vec3, Vec3) {
        let target = self.detector_point(detector, u_mm, v_mm);
        match self.source {
            Source::Point(s) => {
                let d = sub(target, s);
                (s, scale(d, 1.0 / norm(d)))
            }
            Source::Parallel(d) => (sub(target, scale(d, back_mm)), d),
        }
    }

    /// Projects a world point onto the detector: `(u_mm, v_mm, depth)` where `depth` is the
    /// point's distance from the source along the detector normal divided by the detector's
    /// (1 on the detector plane; 1 for parallel beams). For cylindrical detectors `depth` is the
    /// in-plane distance to the source over the detector radius. `None` when the point is at or
    /// behind the source.
    pub fn project(&self, detector: &Detector, p: Vec3) -> Option<(f64, f64, f64)> {
        let n = cross(self.u_dir, self.v_dir);
        match self.source {
            Source::Parallel(d) => {
                // Move p along the ray onto the detector plane, then read its coordinates.
                let t = dot(sub(self.detector_mm, p), n) / dot(d, n);
                let q = sub(add(p, scale(d, t)), self.detector_mm);
                let (u, v) = plane_coords(q, self.u_dir, self.v_dir);
                Some((u, v, 1.0))
            }
            Source::Point(s) => match detector.shape {
                DetectorShape::Flat => {
                    let sd = dot(sub(self.detector_mm, s), n);
                    let sp = dot(sub(p, s), n);
                    if sp * sd <= 0.0 {
                        return None;
                    }
                    let t = sd / sp;
                    let q = sub(add(s, scale(sub(p, s), t)), self.detector_mm);
                    let (u, v) = plane_coords(q, self.u_dir, self.v_dir);
                    Some((u, v, 1.0 / t))
                }
                DetectorShape::Cylindrical => {
                    let c = sub(self.detector_mm, s);
                    let radius = norm(c);
                    let chat = scale(c, 1.0 / radius);
                    let rel = sub(p, s);
                    let along = dot(rel, chat);
                    let side = dot(rel, self.u_dir);
                    let height = dot(rel, self.v_dir);
                    let l = (along * along + side * side).sqrt();
                    if along <= 0.0 || l == 0.0 {
                        return None;
                    }
                    // Validation keeps the central ray perpendicular to v, so v is measured
                    // from the source's own height.
                    Some((radius * side.atan2(along), height * radius / l, l / radius))
                }
            },
        }
    }
}

impl roboct_core::Recover for GeometryError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            GeometryError::BadValue { .. }
            | GeometryError::DetectorBeforeIsocenter { .. }
            | GeometryError::NoViews
            | GeometryError::BadView { .. } => roboct_core::Recovery::Abort,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cone_view(beta: f64, sid: f64, sdd: f64) -> View {
        let (s, c) = beta.sin_cos();
        View {
            source: Source::Point([sid * s, -sid * c, 0.0]),
            detector_mm: [-(sdd - sid) * s, (sdd - sid) * c, 0.0],
            u_dir: [c, s, 0.0],
            v_dir: [0.0, 0.0, 1.0],
        }
    }

    #[test]
    fn flat_projection_magnifies_by_sdd_over_sid_at_the_isocentre() {
        let det = Detector::centered(10, 10, [1.0, 1.0], [0.0, 0.0], DetectorShape::Flat);
        let v = cone_view(0.3, 600.0, 1000.0);
        let (s, c) = 0.3f64.sin_cos();
        // A point 1 mm along u and 2 mm along z from the isocentre.
        let (u, vv, depth) = v.project(&det, [c, s, 2.0]).unwrap();
        assert!((u - 1000.0 / 600.0).abs() < 1e-12);
        assert!((vv - 2.0 * 1000.0 / 600.0).abs() < 1e-12);
        assert!((depth - 0.6).abs() < 1e-12);
        // Points on the detector project onto themselves.
        let p = v.detector_point(&det, 3.5, -2.0);
        let (u, vv, depth) = v.project(&det, p).unwrap();
        assert!((u - 3.5).abs() < 1e-9 && (vv + 2.0).abs() < 1e-9 && (depth - 1.0).abs() < 1e-12);
        // Behind the source: nothing.
        assert!(v.project(&det, [2000.0 * s, -2000.0 * c, 0.0]).is_none());
    }

    #[test]
    fn fan_angles_agree_with_the_projection() {
        // A point on the central ray's perpendicular at the isocentre projects to the column
        // whose fan angle is the point's own angle from the source.
        let (sid, sdd) = (500.0, 950.0);
        for shape in [DetectorShape::Flat, DetectorShape::Cylindrical] {
            let det = Detector::centered(10, 4, [1.0, 1.0], [0.0, 0.0], shape);
            let v = cone_view(0.0, sid, sdd);
            for x in [-150.0f64, 40.0, 200.0] {
                let (u, _, _) = v.project(&det, [x, 0.0, 0.0]).unwrap();
                let want = (x / sid).atan();
                let got = shape.fan_angle_rad(u, sdd);
                assert!((got - want).abs() < 1e-12, "{shape:?} {x}: {got} {want}");
            }
        }
    }

    #[test]
    fn cylindrical_points_project_onto_themselves() {
        let det = Detector::centered(10, 4, [1.0, 1.0], [0.0, 0.0], DetectorShape::Cylindrical);
        let v = cone_view(1.1, 500.0, 950.0);
        for (u, vv) in [(0.0, 0.0), (120.0, -30.0), (-300.0, 55.0)] {
            let p = v.detector_point(&det, u, vv);
            let (pu, pv, depth) = v.project(&det, p).unwrap();
            assert!(
                (pu - u).abs() < 1e-9 && (pv - vv).abs() < 1e-9,
                "{u} {vv} -> {pu} {pv}"
            );
            assert!((depth - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn parallel_projection_drops_the_ray_component() {
        let det = Detector::centered(8, 1, [1.0, 1.0], [0.0, 0.0], DetectorShape::Flat);
        let v = View {
            source: Source::Parallel([0.0, 1.0, 0.0]),
            detector_mm: [0.0, 0.0, 0.0],
            u_dir: [1.0, 0.0, 0.0],
            v_dir: [0.0, 0.0, 1.0],
        };
        assert_eq!(v.project(&det, [3.0, -77.0, 1.5]), Some((3.0, 1.5, 1.0)));
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let det = Detector::centered(8, 8, [1.0, 1.0], [0.0, 0.0], DetectorShape::Flat);
        assert_eq!(
            ScanGeometry::new(det.clone(), vec![], None).unwrap_err(),
            GeometryError::NoViews
        );
        let mut v = cone_view(0.0, 600.0, 1000.0);
        v.u_dir = [0.0, 0.0, 1.0];
        let e = ScanGeometry::new(det.clone(), vec![v], None).unwrap_err();
        assert!(e.to_string().contains("parallel"), "{e}");
        let mut v = cone_view(0.0, 600.0, 1000.0);
        v.detector_mm[0] = f64::NAN;
        let e = ScanGeometry::new(det.clone(), vec![v], None).unwrap_err();
        assert!(
            e.to_string().contains("view 0") && e.to_string().contains("NaN"),
            "{e}"
        );
        let bad_det = Detector {
            pixel_mm: [0.0, 1.0],
            ..det.clone()
        };
        let e = ScanGeometry::new(bad_det, vec![cone_view(0.0, 600.0, 1000.0)], None).unwrap_err();
        assert!(e.to_string().contains("pixel_mm[0]"), "{e}");
        let bad_det = Detector { rows: 0, ..det };
        let e = ScanGeometry::new(bad_det, vec![cone_view(0.0, 600.0, 1000.0)], None).unwrap_err();
        assert!(e.to_string().contains("detector.rows"), "{e}");
    }
}
