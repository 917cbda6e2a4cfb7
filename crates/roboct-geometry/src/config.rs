//! Geometry files: our TOML (`--geometry g.toml`).
//!
//! ```toml
//! kind = "cone"                    # parallel2d | parallel3d | fan | cone | vec
//! source_to_isocenter_mm = 600.0   # fan and cone
//! source_to_detector_mm = 1000.0   # fan and cone
//!
//! [detector]
//! cols = 512
//! rows = 384                       # 1 (or absent) for parallel2d and fan
//! pixel_mm = [0.8, 0.8]            # (u, v); a single number for both
//! offset_mm = [0.0, 0.0]           # shift of the detector centre along (u, v)
//! shape = "flat"                   # or "arc": curved, equiangular (fan and cone)
//! rotation_deg = 0.0               # in-plane rotation of the detector about its normal
//!
//! [angles]                         # count views from start (inclusive) to stop (exclusive)
//! start_deg = 0.0
//! stop_deg = 360.0
//! count = 360
//! # or: list_deg = [0.0, 1.0, ...]
//!
//! [volume]                         # optional: the reconstruction grid
//! size = [256, 256, 256]           # voxels (x, y, z); (x, y) for 2D kinds
//! voxel_mm = [1.0, 1.0, 1.0]       # or a single number
//! center_mm = [0.0, 0.0, 0.0]      # or origin_mm: the centre of voxel (0, 0, 0)
//! # direction = [[-1, 0, 0], [0, -1, 0], [0, 0, 1]]   # optional, rows: world from index axes
//! ```
//!
//! A circular scan whose rotation axis does not pass through the origin (a gantry moved along
//! the bed, or off-centre) says where its isocentre is: `isocenter_mm = [x, y, z]` at the top
//! level moves the whole scan there.
//!
//! `kind = "vec"` gives every view explicitly, as ASTRA's `cone_vec` and `parallel3d_vec`:
//!
//! ```toml
//! kind = "vec"
//! [detector]
//! cols = 64
//! rows = 48
//! [[views]]
//! source_mm = [0.0, -600.0, 0.0]  # or ray_mm = [...] for a parallel beam (ray direction)
//! detector_mm = [0.0, 400.0, 0.0] # centre of the detector
//! u_mm = [1.0, 0.0, 0.0]          # from one column to the next (its length is the pitch)
//! v_mm = [0.0, 0.0, 1.0]          # from one row to the next
//! ```
//!
//! Unknown keys are refused, so a misspelt field is an error, not a silent default.
//!
//! Sizes are bounded for every kind alike, before anything is allocated: at most 65536
//! ([`crate::MAX_PIXELS_PER_AXIS`]) detector pixels per axis, 2^22 views, and 2^31
//! ([`crate::MAX_VALUES`]) samples in the projection stack (views x rows x cols) and voxels in
//! the `[volume]` grid, 8 GiB each as f32. RTK XML geometries meet the same bound.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::circular::{Beam, CircularScan, even_angles};
use crate::grid::{GridError, VolumeGrid};
use crate::scan::{
    Detector, DetectorShape, GeometryError, ScanGeometry, Source, View, bad, check_size,
};
use crate::vec3::{Vec3, cross, dot, norm, scale};
use crate::{MAX_PIXELS_PER_AXIS, MAX_VIEWS};

/// Why a geometry file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not valid TOML, or a key is missing, unknown or of the wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the key and the line).
        message: String,
    },
    /// The values do not make a valid geometry.
    #[error("{path}: {source}")]
    Geometry {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: GeometryError,
    },
    /// The `[volume]` section does not make a valid grid.
    #[error("{path}: [volume]: {source}")]
    Volume {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: GridError,
    },
}

/// A geometry file's content: the scan and, if the file has a `[volume]` section, the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct GeometryConfig {
    /// The scan.
    pub scan: ScanGeometry,
    /// The reconstruction grid from `[volume]`.
    pub volume: Option<VolumeGrid>,
    /// The kind of scan as written in the file.
    pub kind: Kind,
    /// The circular scan's parameters, for every kind but `vec` (to export it to RTK exactly).
    pub circular: Option<CircularScan>,
    /// Where the circular scan's isocentre is (`isocenter_mm`; the origin by default).
    pub isocenter_mm: Vec3,
}

/// The `kind` of a geometry file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// 2D parallel beam (one detector row, one slice).
    Parallel2d,
    /// 3D parallel beam.
    Parallel3d,
    /// 2D fan beam (one detector row, one slice).
    Fan,
    /// Circular cone beam.
    Cone,
    /// Explicit per-view vectors.
    Vec,
}

impl Kind {
    /// Whether scans of this kind are 2D (one detector row, one slice).
    pub fn is_2d(self) -> bool {
        matches!(self, Kind::Parallel2d | Kind::Fan)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(f64),
    Many(Vec<f64>),
}

impl OneOrMany {
    fn get<const N: usize>(&self, field: &str) -> Result<[f64; N], GeometryError> {
        match self {
            OneOrMany::One(v) => Ok([*v; N]),
            OneOrMany::Many(v) if v.len() == N => Ok(std::array::from_fn(|i| v[i])),
            OneOrMany::Many(v) => Err(bad(
                field,
                format!("{v:?}"),
                format!("{N} numbers or one number"),
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    kind: Kind,
    isocenter_mm: Option<Vec3>,
    source_to_isocenter_mm: Option<f64>,
    source_to_detector_mm: Option<f64>,
    detector: DetectorSection,
    angles: Option<AnglesSection>,
    volume: Option<VolumeSection>,
    #[serde(default)]
    views: Vec<ViewSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorSection {
    cols: usize,
    rows: Option<usize>,
    pixel_mm: Option<OneOrMany>,
    offset_mm: Option<OneOrMany>,
    shape: Option<ShapeName>,
    rotation_deg: Option<f64>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum ShapeName {
    Flat,
    Arc,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnglesSection {
    start_deg: Option<f64>,
    stop_deg: Option<f64>,
    count: Option<usize>,
    list_deg: Option<Vec<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeSection {
    size: Vec<usize>,
    voxel_mm: Option<OneOrMany>,
    center_mm: Option<OneOrMany>,
    origin_mm: Option<Vec3>,
    direction: Option<[[f64; 3]; 3]>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ViewSection {
    source_mm: Option<Vec3>,
    ray_mm: Option<Vec3>,
    detector_mm: Vec3,
    u_mm: Vec3,
    v_mm: Vec3,
}

/// Reads a geometry file.
pub fn read_geometry_toml(path: &Path) -> Result<GeometryConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_geometry_toml(&text, path)
}

/// Parses geometry TOML text; `path` only names the source in errors.
pub fn parse_geometry_toml(text: &str, path: &Path) -> Result<GeometryConfig, ConfigError> {
    let file: File = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let geometry_err = |source| ConfigError::Geometry {
        path: path.to_path_buf(),
        source,
    };
    let (mut scan, circular) = build_scan(&file).map_err(geometry_err)?;
    let isocenter_mm = file.isocenter_mm.unwrap_or([0.0; 3]);
    if !isocenter_mm.iter().all(|v| v.is_finite()) {
        return Err(geometry_err(bad(
            "isocenter_mm",
            format!("{isocenter_mm:?}"),
            "finite coordinates in mm",
        )));
    }
    if file.kind == Kind::Vec && file.isocenter_mm.is_some() {
        return Err(geometry_err(bad(
            "isocenter_mm",
            "given",
            "nothing for kind = \"vec\" (its views say where they are)",
        )));
    }
    if isocenter_mm != [0.0; 3] {
        scan = scan.transformed(
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            isocenter_mm,
        );
    }
    let volume = match &file.volume {
        Some(v) => Some(build_volume(v, file.kind).map_err(|e| match e {
            VolumeProblem::Grid(source) => ConfigError::Volume {
                path: path.to_path_buf(),
                source,
            },
            VolumeProblem::Field(source) => geometry_err(source),
        })?),
        None => None,
    };
    Ok(GeometryConfig {
        scan,
        volume,
        kind: file.kind,
        circular,
        isocenter_mm,
    })
}

enum VolumeProblem {
    Grid(GridError),
    Field(GeometryError),
}

fn build_volume(v: &VolumeSection, kind: Kind) -> Result<VolumeGrid, VolumeProblem> {
    let size = match (v.size.len(), kind.is_2d()) {
        (3, _) => [v.size[0], v.size[1], v.size[2]],
        (2, true) => [v.size[0], v.size[1], 1],
        _ => {
            let want = if kind.is_2d() {
                "[x, y] or [x, y, 1]"
            } else {
                "[x, y, z]"
            };
            return Err(VolumeProblem::Field(bad(
                "volume.size",
                format!("{:?}", v.size),
                want,
            )));
        }
    };
    if kind.is_2d() && size[2] != 1 {
        return Err(VolumeProblem::Field(bad(
            "volume.size[2]",
            size[2],
            "1 for a 2D scan",
        )));
    }
    let voxel = match &v.voxel_mm {
        Some(x) => x.get::<3>("volume.voxel_mm").or_else(|e| match x {
            OneOrMany::Many(m) if m.len() == 2 && kind.is_2d() => Ok([m[0], m[1], m[0]]),
            _ => Err(e),
        }),
        None => Ok([1.0; 3]),
    }
    .map_err(VolumeProblem::Field)?;
    if v.center_mm.is_some() && v.origin_mm.is_some() {
        return Err(VolumeProblem::Field(bad(
            "volume.origin_mm",
            "given with volume.center_mm",
            "one of center_mm (the grid's centre) or origin_mm (voxel (0, 0, 0)'s centre)",
        )));
    }
    let direction = v
        .direction
        .unwrap_or([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    if let Some(origin) = v.origin_mm {
        return VolumeGrid::with_direction(size, voxel, origin, direction)
            .map_err(VolumeProblem::Grid);
    }
    let center = match &v.center_mm {
        Some(x) => x.get::<3>("volume.center_mm").or_else(|e| match x {
            OneOrMany::Many(m) if m.len() == 2 && kind.is_2d() => Ok([m[0], m[1], 0.0]),
            _ => Err(e),
        }),
        None => Ok([0.0; 3]),
    }
    .map_err(VolumeProblem::Field)?;
    // The centre is the same point whatever the direction: find the origin that puts it there.
    let probe = VolumeGrid::with_direction(size, voxel, [0.0; 3], direction)
        .map_err(VolumeProblem::Grid)?;
    let c0 = probe.center_mm();
    VolumeGrid::with_direction(
        size,
        voxel,
        [center[0] - c0[0], center[1] - c0[1], center[2] - c0[2]],
        direction,
    )
    .map_err(VolumeProblem::Grid)
}

fn build_scan(f: &File) -> Result<(ScanGeometry, Option<CircularScan>), GeometryError> {
    let rows = f.detector.rows.unwrap_or(1);
    if f.kind.is_2d() && rows != 1 {
        return Err(bad(
            "detector.rows",
            rows,
            "1 for a 2D scan (parallel2d, fan)",
        ));
    }
    let pixel = match &f.detector.pixel_mm {
        Some(p) => p.get::<2>("detector.pixel_mm")?,
        None if f.kind == Kind::Vec => [0.0; 2],
        None => {
            return Err(bad(
                "detector.pixel_mm",
                "missing",
                "the pixel pitch (u, v) in mm",
            ));
        }
    };
    let offset = match &f.detector.offset_mm {
        Some(o) => o.get::<2>("detector.offset_mm")?,
        None => [0.0; 2],
    };
    let shape = match f.detector.shape {
        None | Some(ShapeName::Flat) => DetectorShape::Flat,
        Some(ShapeName::Arc) => DetectorShape::Cylindrical,
    };
    if f.kind == Kind::Vec {
        return Ok((build_vec_scan(f, rows, shape)?, None));
    }
    if !f.views.is_empty() {
        return Err(bad("[[views]]", "present", "only with kind = \"vec\""));
    }
    for (field, n) in [
        ("detector.cols", f.detector.cols),
        ("detector.rows", f.detector.rows.unwrap_or(1)),
    ] {
        if n > MAX_PIXELS_PER_AXIS {
            return Err(bad(
                field,
                n,
                format!("at most {MAX_PIXELS_PER_AXIS} pixels"),
            ));
        }
    }
    let angles = match &f.angles {
        None => {
            return Err(bad(
                "[angles]",
                "missing",
                "start_deg/stop_deg/count or list_deg",
            ));
        }
        Some(a) => match (&a.list_deg, a.count) {
            (Some(_), Some(_)) => {
                return Err(bad("[angles]", "both count and list_deg", "one of them"));
            }
            (Some(list), None) => {
                if a.start_deg.is_some() || a.stop_deg.is_some() {
                    return Err(bad(
                        "[angles]",
                        "start_deg/stop_deg with list_deg",
                        "list_deg alone",
                    ));
                }
                list.iter().map(|d| d.to_radians()).collect()
            }
            (None, Some(count)) => {
                if count > MAX_VIEWS {
                    return Err(bad(
                        "angles.count",
                        count,
                        format!("at most {MAX_VIEWS} views"),
                    ));
                }
                let start = a.start_deg.unwrap_or(0.0);
                let stop = a.stop_deg.ok_or_else(|| {
                    bad(
                        "angles.stop_deg",
                        "missing",
                        "the end of the arc in degrees",
                    )
                })?;
                if !(start.is_finite() && stop.is_finite()) || stop == start {
                    return Err(bad(
                        "angles.stop_deg",
                        stop,
                        format!("a finite angle different from start_deg ({start})"),
                    ));
                }
                even_angles(start.to_radians(), stop.to_radians(), count)
            }
            (None, None) => {
                return Err(bad(
                    "angles.count",
                    "missing",
                    "the number of views (or list_deg)",
                ));
            }
        },
    };
    let (beam, sid, sdd) = match f.kind {
        Kind::Parallel2d | Kind::Parallel3d => {
            if shape == DetectorShape::Cylindrical {
                return Err(bad("detector.shape", "arc", "flat for parallel beams"));
            }
            (Beam::Parallel, f.source_to_isocenter_mm.unwrap_or(0.0), 0.0)
        }
        Kind::Fan | Kind::Cone => {
            let sid = f
                .source_to_isocenter_mm
                .ok_or_else(|| bad("source_to_isocenter_mm", "missing", "a distance in mm"))?;
            let sdd = f
                .source_to_detector_mm
                .ok_or_else(|| bad("source_to_detector_mm", "missing", "a distance in mm"))?;
            (Beam::Divergent, sid, sdd)
        }
        Kind::Vec => unreachable!("handled above"),
    };
    // Before the views are made: the same bound as every geometry (`ScanGeometry::new`).
    check_size(angles.len(), rows, f.detector.cols)?;
    let detector = Detector::centered(f.detector.cols, rows, pixel, offset, shape);
    let circular = CircularScan {
        beam,
        sid_mm: sid,
        sdd_mm: sdd,
        detector,
        angles_rad: angles,
        detector_rotation_rad: f.detector.rotation_deg.unwrap_or(0.0).to_radians(),
    };
    Ok((circular.build()?, Some(circular)))
}

fn build_vec_scan(
    f: &File,
    rows: usize,
    shape: DetectorShape,
) -> Result<ScanGeometry, GeometryError> {
    if shape != DetectorShape::Flat {
        return Err(bad("detector.shape", "arc", "flat for kind = \"vec\""));
    }
    if f.angles.is_some() {
        return Err(bad(
            "[angles]",
            "present",
            "absent for kind = \"vec\" (each [[views]] entry is a view)",
        ));
    }
    if f.detector.offset_mm.is_some() || f.detector.rotation_deg.is_some() {
        return Err(bad(
            "detector.offset_mm/rotation_deg",
            "present",
            "absent for kind = \"vec\" (give each view's vectors)",
        ));
    }
    if f.views.is_empty() {
        return Err(GeometryError::NoViews);
    }
    let first = &f.views[0];
    let pixel = [norm(first.u_mm), norm(first.v_mm)];
    if let Some(p) = &f.detector.pixel_mm {
        let given = p.get::<2>("detector.pixel_mm")?;
        if (given[0] - pixel[0]).abs() > 1e-6 * pixel[0]
            || (given[1] - pixel[1]).abs() > 1e-6 * pixel[1]
        {
            return Err(bad(
                "detector.pixel_mm",
                format!("{given:?}"),
                format!("the lengths of u_mm and v_mm ({pixel:?}) or absent"),
            ));
        }
    }
    let mut views = Vec::with_capacity(f.views.len());
    for (i, v) in f.views.iter().enumerate() {
        let (lu, lv) = (norm(v.u_mm), norm(v.v_mm));
        if !(lu > 0.0 && lv > 0.0) {
            return Err(GeometryError::BadView {
                view: i,
                message: "u_mm and v_mm must be non-zero".into(),
            });
        }
        if (lu - pixel[0]).abs() > 1e-6 * pixel[0] || (lv - pixel[1]).abs() > 1e-6 * pixel[1] {
            return Err(GeometryError::BadView {
                view: i,
                message: format!(
                    "pixel pitch ({lu}, {lv}) differs from view 0's ({}, {}); all views must share one detector",
                    pixel[0], pixel[1]
                ),
            });
        }
        let source = match (v.source_mm, v.ray_mm) {
            (Some(s), None) => Source::Point(s),
            (None, Some(r)) => {
                let n = norm(r);
                if !(n > 0.0) {
                    return Err(GeometryError::BadView {
                        view: i,
                        message: "ray_mm must be non-zero".into(),
                    });
                }
                Source::Parallel(scale(r, 1.0 / n))
            }
            _ => {
                return Err(GeometryError::BadView {
                    view: i,
                    message: "give exactly one of source_mm (cone) or ray_mm (parallel)".into(),
                });
            }
        };
        views.push(View {
            source,
            detector_mm: v.detector_mm,
            u_dir: scale(v.u_mm, 1.0 / lu),
            v_dir: scale(v.v_mm, 1.0 / lv),
        });
    }
    let detector = Detector::centered(f.detector.cols, rows, pixel, [0.0; 2], DetectorShape::Flat);
    let orbit = detect_orbit(&views);
    ScanGeometry::new(detector, views, orbit)
}

/// Recognises a circular orbit in explicit per-view vectors: every point source at the same
/// distance from a common axis, in a plane perpendicular to it. Returns `None` for anything
/// else (helical, random, parallel beams with no orbit to speak of get angles from their ray).
pub fn detect_orbit(views: &[View]) -> Option<crate::scan::Orbit> {
    // Axis: perpendicular to the detector u of the views, from the v direction of the first.
    let axis = views[0].v_dir;
    let point = |v: &View| match v.source {
        Source::Point(p) => p,
        Source::Parallel(d) => scale(d, -1.0),
    };
    // In-plane frame with e1 x e2 = axis, so that angle 0 is on -e2 and angles grow by the
    // right-hand rule, as in our native frame (e1 = x, e2 = y for axis z).
    let helper = if axis[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let e1 = {
        let c = crate::vec3::sub(helper, scale(axis, dot(helper, axis)));
        scale(c, 1.0 / norm(c))
    };
    let e2 = cross(axis, e1);
    let mut angles = Vec::with_capacity(views.len());
    let heights: Vec<f64> = views.iter().map(|v| dot(point(v), axis)).collect();
    let radii: Vec<f64> = views
        .iter()
        .map(|v| {
            let p = point(v);
            (dot(p, e1).powi(2) + dot(p, e2).powi(2)).sqrt()
        })
        .collect();
    let r0 = radii[0];
    if !(r0 > 0.0) {
        return None;
    }
    for (i, v) in views.iter().enumerate() {
        if (radii[i] - r0).abs() > 1e-6 * r0 || (heights[i] - heights[0]).abs() > 1e-6 * r0 {
            return None;
        }
        if dot(v.v_dir, axis) < 1.0 - 1e-9 {
            return None;
        }
        let p = point(v);
        // Angle of the source about the axis, with angle 0 on -e2 as in our native frame.
        angles.push(dot(p, e1).atan2(-dot(p, e2)));
    }
    Some(crate::scan::Orbit {
        axis,
        isocenter_mm: scale(axis, heights[0]),
        angles_rad: angles,
    })
}

/// The default reconstruction grid of a scan with no `[volume]`: the largest cylinder every
/// view sees (the field of view), sampled at the detector pitch scaled to the isocentre.
pub fn default_volume(scan: &ScanGeometry, is_2d: bool) -> Result<VolumeGrid, GridError> {
    let d = scan.detector();
    let (mag, half_width_mm) = match (scan.views()[0].source, scan.orbit()) {
        (Source::Point(s), Some(orbit)) => {
            let v = &scan.views()[0];
            let sid = norm(crate::vec3::sub(s, orbit.isocenter_mm));
            let sdd = dot(crate::vec3::sub(v.detector_mm, s), cross(v.u_dir, v.v_dir)).abs();
            let mag = sdd / sid;
            let half =
                d.u_mm(0.0).abs().min(d.u_mm(d.cols as f64 - 1.0).abs()) + 0.5 * d.pixel_mm[0];
            let half_angle = d.shape.fan_angle_rad(half, sdd);
            (mag, sid * half_angle.sin())
        }
        _ => (
            1.0,
            d.u_mm(0.0).abs().max(d.u_mm(d.cols as f64 - 1.0).abs()) + 0.5 * d.pixel_mm[0],
        ),
    };
    let voxel = d.pixel_mm[0] / mag;
    let n_xy = ((2.0 * half_width_mm / voxel).floor() as usize).max(1);
    let (nz, voxel_z) = if is_2d {
        (1, voxel)
    } else {
        (d.rows, d.pixel_mm[1] / mag)
    };
    let center = scan.orbit().map(|o| o.isocenter_mm).unwrap_or([0.0; 3]);
    VolumeGrid::centered([n_xy, n_xy, nz], [voxel, voxel, voxel_z], center)
}

/// The TOML text of a circular scan (and optionally its grid), readable by
/// [`read_geometry_toml`]: the angles are listed exactly, the detector offset is derived from
/// its origin.
pub fn circular_scan_toml(scan: &CircularScan, volume: Option<&VolumeGrid>) -> String {
    scan_toml(scan, [0.0; 3], volume)
}

/// [`circular_scan_toml`] for a scan moved so that its isocentre is at `isocenter_mm`; a grid
/// that is not axis-aligned is written with its origin and direction.
pub fn scan_toml(scan: &CircularScan, isocenter_mm: Vec3, volume: Option<&VolumeGrid>) -> String {
    use std::fmt::Write as _;
    let d = &scan.detector;
    let two_d = d.rows == 1 && volume.is_none_or(|v| v.size()[2] == 1);
    let kind = match (scan.beam, two_d) {
        (Beam::Parallel, true) => "parallel2d",
        (Beam::Parallel, false) => "parallel3d",
        (Beam::Divergent, true) => "fan",
        (Beam::Divergent, false) => "cone",
    };
    let centred = Detector::centered(d.cols, d.rows, d.pixel_mm, [0.0; 2], d.shape);
    let offset = [
        d.origin_mm[0] - centred.origin_mm[0],
        d.origin_mm[1] - centred.origin_mm[1],
    ];
    let mut t = format!("kind = \"{kind}\"\n");
    if isocenter_mm != [0.0; 3] {
        let _ = writeln!(t, "isocenter_mm = {isocenter_mm:?}");
    }
    if scan.beam == Beam::Divergent {
        let _ = writeln!(
            t,
            "source_to_isocenter_mm = {:?}\nsource_to_detector_mm = {:?}",
            scan.sid_mm, scan.sdd_mm
        );
    }
    let shape = if d.shape == DetectorShape::Cylindrical {
        "arc"
    } else {
        "flat"
    };
    let _ = writeln!(
        t,
        "\n[detector]\ncols = {}\nrows = {}\npixel_mm = {:?}\noffset_mm = {:?}\nshape = \"{shape}\"",
        d.cols, d.rows, d.pixel_mm, offset
    );
    if scan.detector_rotation_rad != 0.0 {
        let _ = writeln!(
            t,
            "rotation_deg = {:?}",
            scan.detector_rotation_rad.to_degrees()
        );
    }
    let list: Vec<String> = scan
        .angles_rad
        .iter()
        .map(|a| format!("{:?}", a.to_degrees()))
        .collect();
    let _ = writeln!(t, "\n[angles]\nlist_deg = [{}]", list.join(", "));
    if let Some(v) = volume {
        let size = if two_d {
            format!("[{}, {}]", v.size()[0], v.size()[1])
        } else {
            format!("{:?}", v.size())
        };
        if v.is_axis_aligned() {
            let _ = writeln!(
                t,
                "\n[volume]\nsize = {size}\nvoxel_mm = {:?}\ncenter_mm = {:?}",
                v.spacing_mm(),
                v.center_mm()
            );
        } else {
            let _ = writeln!(
                t,
                "\n[volume]\nsize = {size}\nvoxel_mm = {:?}\norigin_mm = {:?}\ndirection = {:?}",
                v.spacing_mm(),
                v.origin_mm(),
                v.direction()
            );
        }
    }
    t
}

impl roboct_core::Recover for ConfigError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            ConfigError::Read { .. }
            | ConfigError::Syntax { .. }
            | ConfigError::Geometry { .. }
            | ConfigError::Volume { .. } => roboct_core::Recovery::Abort,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isocentre_and_oriented_grids_round_trip_through_the_file() {
        let scan = CircularScan {
            beam: Beam::Divergent,
            sid_mm: 500.0,
            sdd_mm: 900.0,
            detector: Detector::centered(32, 16, [2.0, 2.0], [0.0; 2], DetectorShape::Cylindrical),
            angles_rad: even_angles(0.0, 2.0 * std::f64::consts::PI, 12),
            detector_rotation_rad: 0.0,
        };
        let flipped = [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]];
        let grid =
            VolumeGrid::with_direction([20, 18, 10], [1.5, 1.5, 2.0], [14.0, 12.0, 30.0], flipped)
                .unwrap();
        let text = scan_toml(&scan, [3.0, -4.0, 37.5], Some(&grid));
        let c = parse_geometry_toml(&text, Path::new("g.toml")).unwrap();
        assert_eq!(c.isocenter_mm, [3.0, -4.0, 37.5]);
        let orbit = c.scan.orbit().unwrap();
        for (a, b) in orbit.isocenter_mm.iter().zip([3.0, -4.0, 37.5]) {
            assert!((a - b).abs() < 1e-9, "{:?}", orbit.isocenter_mm);
        }
        let g = c.volume.unwrap();
        assert_eq!(g.direction(), flipped);
        for (a, b) in g.origin_mm().iter().zip(grid.origin_mm()) {
            assert!((a - b).abs() < 1e-9);
        }
        // A centred grid with a direction keeps its centre.
        let t = "kind = \"cone\"\nsource_to_isocenter_mm = 500\nsource_to_detector_mm = 900\n[detector]\ncols = 8\nrows = 4\npixel_mm = 1\n[angles]\nstart_deg = 0\nstop_deg = 360\ncount = 4\n[volume]\nsize = [4, 4, 2]\ncenter_mm = [10, 0, 0]\ndirection = [[-1, 0, 0], [0, -1, 0], [0, 0, 1]]\n";
        let g = parse_geometry_toml(t, Path::new("g.toml"))
            .unwrap()
            .volume
            .unwrap();
        assert!((g.center_mm()[0] - 10.0).abs() < 1e-9 && g.origin_mm()[0] > 10.0);
        // Both centre and origin, a direction that is not a rotation, isocentre on vec: named.
        let both = t.replace("direction", "origin_mm = [0, 0, 0]\ndirection");
        let e = parse_geometry_toml(&both, Path::new("g.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("origin_mm"), "{e}");
        let skew = t.replace("[0, -1, 0], [0, 0, 1]", "[0, -1, 0], [0, 1, 1]");
        assert!(parse_geometry_toml(&skew, Path::new("g.toml")).is_err());
        let iso = t.replace(
            "kind = \"cone\"",
            "kind = \"cone\"\nisocenter_mm = [0, 0, nan]",
        );
        assert!(
            parse_geometry_toml(&iso, Path::new("g.toml"))
                .unwrap_err()
                .to_string()
                .contains("isocenter_mm")
        );
    }

    fn parse(text: &str) -> Result<GeometryConfig, ConfigError> {
        parse_geometry_toml(text, Path::new("g.toml"))
    }

    const CONE: &str = r#"
kind = "cone"
source_to_isocenter_mm = 600
source_to_detector_mm = 1000
[detector]
cols = 64
rows = 48
pixel_mm = [1.5, 1.25]
offset_mm = [3.0, -1.0]
[angles]
start_deg = 0
stop_deg = 360
count = 90
[volume]
size = [32, 32, 24]
voxel_mm = 2
center_mm = [0, 0, 5]
"#;

    #[test]
    fn cone_file_builds_the_expected_scan() {
        let g = parse(CONE).unwrap();
        assert_eq!(g.kind, Kind::Cone);
        assert_eq!(g.scan.projection_shape(), (90, 48, 64));
        let d = g.scan.detector();
        assert!((d.origin_mm[0] - (-31.5 * 1.5 + 3.0)).abs() < 1e-12);
        assert!((d.origin_mm[1] - (-23.5 * 1.25 - 1.0)).abs() < 1e-12);
        let o = g.scan.orbit().unwrap();
        assert!((o.angles_rad[1] - 4f64.to_radians()).abs() < 1e-12);
        let vol = g.volume.unwrap();
        assert_eq!(vol.size(), [32, 32, 24]);
        assert_eq!(vol.center_mm(), [0.0, 0.0, 5.0]);
    }

    #[test]
    fn two_d_kinds_take_two_d_sizes() {
        let g = parse(
            r#"kind = "parallel2d"
[detector]
cols = 100
pixel_mm = 0.5
[angles]
stop_deg = 180
count = 10
[volume]
size = [64, 64]
voxel_mm = [0.5, 0.5]
"#,
        )
        .unwrap();
        assert!(g.scan.is_parallel());
        assert_eq!(g.volume.unwrap().size(), [64, 64, 1]);
    }

    #[test]
    fn bad_files_name_the_field() {
        let cases: Vec<(String, &str)> = vec![
            (CONE.replace("source_to_detector_mm = 1000", "source_to_detector_mm = 500"), "source_to_detector_mm (500)"),
            (CONE.replace("source_to_detector_mm = 1000", "source_to_detector_mm = nan"), "source_to_detector_mm"),
            (CONE.replace("cols = 64", "cols = 0"), "detector.cols"),
            (CONE.replace("pixel_mm = [1.5, 1.25]", "pixel_mm = [1.5, -1]"), "pixel_mm[1]"),
            (CONE.replace("pixel_mm = [1.5, 1.25]", "pixel_mm = [1.5, 1, 2]"), "detector.pixel_mm"),
            (CONE.replace("count = 90", "count = 4294967297"), "angles.count"),
            (CONE.replace("cols = 64", "cols = 100000"), "detector.cols"),
            (CONE.replace("count = 90", "count = 4000000").replace("cols = 64", "cols = 60000").replace("rows = 48", "rows = 60000"), "views x detector.rows x detector.cols"),
            (CONE.replace("count = 90", "count = 0"), "no views"),
            (CONE.replace("stop_deg = 360", "stop_deg = 0"), "angles.stop_deg"),
            (CONE.replace("size = [32, 32, 24]", "size = [32, 0, 24]"), "size y"),
            (CONE.replace("size = [32, 32, 24]", "size = [32, 32]"), "volume.size"),
            (CONE.replace("voxel_mm = 2", "voxel_mm = 0"), "voxel size x"),
            (CONE.replace("kind = \"cone\"", "kind = \"helix\""), "kind"),
            (CONE.replace("rows = 48", "rows = 48\nrowz = 3"), "rowz"),
            (CONE.replace("source_to_isocenter_mm = 600\n", ""), "source_to_isocenter_mm"),
            (CONE.replace("[angles]", "[anglez]"), "anglez"),
            ("kind = \"fan\"\nsource_to_isocenter_mm = 1\nsource_to_detector_mm = 2\n[detector]\ncols = 4\nrows = 3\npixel_mm = 1\n[angles]\nstop_deg = 1\ncount = 1".into(), "detector.rows"),
            ("this is = = not toml".into(), "g.toml"),
        ];
        for (text, want) in cases {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(want), "want {want:?} in: {e}");
            assert!(e.starts_with("g.toml"), "{e}");
        }
    }

    /// Issue 11: `kind = "vec"` skipped the per-axis and total caps, and circular scans allowed
    /// 2^36 samples (256 GiB as f32). Every kind now meets one bound: at most 2^16 pixels per
    /// detector axis and 2^31 samples (8 GiB) in the projection stack.
    #[test]
    fn one_size_bound_for_every_geometry_kind() {
        let cone = |count: usize, cols: usize, rows: usize| {
            CONE.replace("count = 90", &format!("count = {count}"))
                .replace("cols = 64", &format!("cols = {cols}"))
                .replace("rows = 48", &format!("rows = {rows}"))
        };
        let samples = "views x detector.rows x detector.cols";
        // 2^11 views of 2^10 x 2^10 is the bound itself; one view more is refused.
        assert!(parse(&cone(2048, 1024, 1024)).is_ok());
        let e = parse(&cone(2049, 1024, 1024)).unwrap_err().to_string();
        assert!(
            e.contains(samples) && e.contains("at most 2^31 samples"),
            "{e}"
        );
        // 2^36 samples passed the old cap.
        let e = parse(&cone(1 << 16, 1024, 1024)).unwrap_err().to_string();
        assert!(e.contains(samples), "{e}");

        let vec = |cols: usize, rows: usize| {
            format!(
                "kind = \"vec\"\n[detector]\ncols = {cols}\nrows = {rows}\n[[views]]\nsource_mm = [0, -600, 0]\ndetector_mm = [0, 400, 0]\nu_mm = [1, 0, 0]\nv_mm = [0, 0, 1]\n"
            )
        };
        assert!(parse(&vec(64, 48)).is_ok());
        // Wider than any detector: accepted before, as cols x rows stayed under 2^32.
        let e = parse(&vec(100_000, 1)).unwrap_err().to_string();
        assert!(
            e.contains("detector.cols is 100000") && e.contains("at most 65536"),
            "{e}"
        );
        // 2^32 samples in one view: accepted before.
        let e = parse(&vec(65536, 65536)).unwrap_err().to_string();
        assert!(e.contains(samples), "{e}");
        assert!(e.starts_with("g.toml"), "{e}");
    }

    #[test]
    fn vec_views_match_the_circular_builder() {
        // Write the circular cone's views as explicit vectors and read them back.
        let g = parse(CONE).unwrap();
        let d = g.scan.detector();
        let mut text = String::from("kind = \"vec\"\n[detector]\ncols = 64\nrows = 48\n");
        for v in g.scan.views() {
            let Source::Point(s) = v.source else {
                unreachable!()
            };
            // The detector centre, where the offset puts it.
            let centre = v.detector_point(d, d.u_mm(31.5), d.v_mm(23.5));
            text += &format!(
                "[[views]]\nsource_mm = {s:?}\ndetector_mm = {centre:?}\nu_mm = {:?}\nv_mm = {:?}\n",
                scale(v.u_dir, 1.5),
                scale(v.v_dir, 1.25)
            );
        }
        let back = parse(&text).unwrap();
        assert_eq!(back.kind, Kind::Vec);
        let orbit = back.scan.orbit().expect("a circle is recognised");
        for (a, b) in orbit
            .angles_rad
            .iter()
            .zip(&g.scan.orbit().unwrap().angles_rad)
        {
            let diff = (a - b).rem_euclid(std::f64::consts::TAU);
            assert!(
                !(1e-9..=std::f64::consts::TAU - 1e-9).contains(&diff),
                "{a} vs {b}"
            );
        }
        // Same projections of a test point in every view.
        for (va, vb) in back.scan.views().iter().zip(g.scan.views()) {
            let p = [12.0, -7.0, 20.0];
            let (ua, wa, _) = va.project(back.scan.detector(), p).unwrap();
            let (ub, wb, _) = vb.project(d, p).unwrap();
            let (ca, ra) = (
                back.scan.detector().col_of(ua),
                back.scan.detector().row_of(wa),
            );
            let (cb, rb) = (d.col_of(ub), d.row_of(wb));
            assert!((ca - cb).abs() < 1e-9 && (ra - rb).abs() < 1e-9);
        }
    }

    #[test]
    fn circular_scans_round_trip_through_toml() {
        for text in [
            CONE.to_string(),
            CONE.replace("[detector]", "[detector]\nshape = \"arc\""),
        ] {
            let g = parse(&text).unwrap();
            let c = g.circular.clone().unwrap();
            let back = parse(&circular_scan_toml(&c, g.volume.as_ref())).unwrap();
            assert_eq!(back.kind, g.kind);
            assert_eq!(back.volume, g.volume);
            for (a, b) in back.scan.views().iter().zip(g.scan.views()) {
                let close = |x: Vec3, y: Vec3| (0..3).all(|i| (x[i] - y[i]).abs() < 1e-9);
                assert!(close(a.detector_mm, b.detector_mm) && close(a.u_dir, b.u_dir));
            }
            let (da, db) = (back.scan.detector(), g.scan.detector());
            assert!(
                (da.origin_mm[0] - db.origin_mm[0]).abs() < 1e-12
                    && (da.origin_mm[1] - db.origin_mm[1]).abs() < 1e-12
            );
            assert_eq!(da.shape, db.shape);
        }
    }

    #[test]
    fn default_volume_covers_the_field_of_view() {
        let g = parse(CONE).unwrap();
        let v = default_volume(&g.scan, false).unwrap();
        // Voxel = pixel / magnification.
        assert!((v.spacing_mm()[0] - 1.5 * 0.6).abs() < 1e-12);
        assert_eq!(v.size()[2], 48);
        // Every voxel centre of the central slice inside the FOV projects onto the detector.
        let s = v.size();
        let corner_in = v.world_from_index([s[0] as f64 / 2.0, 0.0, s[2] as f64 / 2.0]);
        for view in g.scan.views() {
            let (u, _, _) = view.project(g.scan.detector(), corner_in).unwrap();
            let c = g.scan.detector().col_of(u);
            assert!((-0.5..63.5).contains(&c), "{c}");
        }
    }

    fn finite(v: &[f64; 3]) -> bool {
        v.iter().all(|x| x.is_finite())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any one value of a valid file replaced by anything: the file is refused with the
        /// name of a field, or it gives a scan whose every vector is finite, with at least one
        /// view and a non-empty grid. Never a panic.
        #[test]
        fn any_altered_value_is_refused_or_gives_a_sane_scan(
            line in 0usize..17,
            value in proptest::sample::select(vec![
                "0", "-1", "1e-300", "1e300", "nan", "inf", "-inf", "\"x\"", "[]", "[1]",
                "[1, 2, 3, 4]", "[nan, 1]", "[0, 0]", "[-2, 2]", "18446744073709551616",
                "4294967297", "3.5", "\"arc\"", "\"vec\"", "true", "[1e9, 1e9, 1e9]",
            ]),
        ) {
            let lines: Vec<&str> = CONE.trim().lines().collect();
            let mut out = String::new();
            for (i, l) in lines.iter().enumerate() {
                match l.split_once('=') {
                    Some((key, _)) if i == line % lines.len() => {
                        out.push_str(&format!("{key}= {value}\n"))
                    }
                    _ => out.push_str(&format!("{l}\n")),
                }
            }
            match parse(&out) {
                Ok(g) => {
                    proptest::prop_assert!(g.scan.n_views() > 0);
                    for v in g.scan.views() {
                        let s = match v.source {
                            Source::Point(p) | Source::Parallel(p) => p,
                        };
                        proptest::prop_assert!(
                            finite(&s) && finite(&v.detector_mm) && finite(&v.u_dir)
                                && finite(&v.v_dir),
                            "{out}"
                        );
                    }
                    if let Some(grid) = g.volume {
                        proptest::prop_assert!(grid.size().iter().all(|&n| n > 0));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    proptest::prop_assert!(msg.contains("g.toml"), "{msg}");
                }
            }
        }
    }
}
