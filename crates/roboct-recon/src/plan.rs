//! A reconstruction plan: one geometry and one grid, validated once, with every view's rays
//! expressed in voxel-index space so that the kernels only add and multiply.
//!
//! In index space the ray through detector pixel `(row r, col c)` of view `v` is
//! `column[c] + r row_step` (the pixel's position) minus the source's position (cone and fan
//! beams), or runs along `direction` (parallel beams). Per column the pixel position is affine
//! in the row for flat and cylindrical detectors alike (rows run along the cylinder's axis), so
//! a view is `cols + 2` points.

use roboct_geometry::vec3::{Vec3, scale};
use roboct_geometry::{ScanGeometry, Source, VolumeGrid};

use crate::ReconError;

/// How the Joseph pair runs on a plan (picked once, from the geometry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JosephPath {
    /// Every view's detector rows step along the volume's z axis only and no ray runs mostly
    /// along z (circular scans about z, flat or curved detectors, cone angles under 45
    /// degrees): a detector column meets each x (or y) plane of voxels along one z-line pair,
    /// so its rows are interpolated as one vectorisable line, as in FDK's back-projection.
    Lines,
    /// Any other geometry (2D scans, helical or tilted trajectories, per-view vectors): ray by
    /// ray.
    Rays,
}

/// One view's rays in voxel-index space.
#[derive(Clone, Debug)]
pub(crate) struct ViewRays {
    /// The focal spot (cone and fan beams), index space.
    pub source: Option<[f64; 3]>,
    /// The ray direction of a parallel beam, index space (any length).
    pub direction: [f64; 3],
    /// Index-space step from one detector row to the next.
    pub row_step: [f64; 3],
    /// Index-space position of pixel (row 0, col c).
    pub columns: Vec<[f64; 3]>,
}

impl ViewRays {
    /// Index-space position of pixel `(r, c)`.
    #[inline]
    pub fn pixel(&self, r: usize, c: usize) -> [f64; 3] {
        let p = self.columns[c];
        let rf = r as f64;
        [
            p[0] + rf * self.row_step[0],
            p[1] + rf * self.row_step[1],
            p[2] + rf * self.row_step[2],
        ]
    }

    /// Index-space direction of the ray through pixel `(r, c)` (any length).
    #[inline]
    pub fn ray_direction(&self, r: usize, c: usize) -> [f64; 3] {
        match self.source {
            Some(s) => {
                let p = self.pixel(r, c);
                [p[0] - s[0], p[1] - s[1], p[2] - s[2]]
            }
            None => self.direction,
        }
    }
}

/// A geometry and a grid, checked once, with the per-view data the projectors share.
///
/// Build it once per problem and hand it to [`crate::JosephProjector`] and the iterative
/// methods; it holds `views x (cols + 2)` index-space points (a few MB for a 360-view,
/// 512-column scan).
#[derive(Clone, Debug)]
pub struct ReconPlan {
    geometry: ScanGeometry,
    grid: VolumeGrid,
    planar: bool,
    views: Vec<ViewRays>,
    /// The linear part of `world_from_index`: `mm = world_linear * index`.
    world_linear: [[f64; 3]; 3],
    path: JosephPath,
}

impl ReconPlan {
    /// Plans projections of `grid` in `geometry`.
    ///
    /// Fails when a one-row (2D) detector is given a grid of more than one slice.
    pub fn new(geometry: &ScanGeometry, grid: &VolumeGrid) -> Result<Self, ReconError> {
        Self::with_path(geometry, grid, None)
    }

    /// As [`ReconPlan::new`], but always taking the ray-by-ray path (for testing the line path
    /// against it).
    pub fn new_ray_by_ray(geometry: &ScanGeometry, grid: &VolumeGrid) -> Result<Self, ReconError> {
        Self::with_path(geometry, grid, Some(JosephPath::Rays))
    }

    fn with_path(
        geometry: &ScanGeometry,
        grid: &VolumeGrid,
        force: Option<JosephPath>,
    ) -> Result<Self, ReconError> {
        crate::projector::check_planar(geometry, grid)?;
        let det = geometry.detector();
        let planar = det.rows == 1;
        let size = grid.size();
        let sp = grid.spacing_mm();
        let dir = grid.direction();
        let world_linear: [[f64; 3]; 3] =
            std::array::from_fn(|r| std::array::from_fn(|c| dir[r][c] * sp[c]));
        // A parallel ray through the volume: index-space direction of a 1 mm world step.
        let index_dir = |d: Vec3| -> [f64; 3] {
            let o = grid.index_from_world([0.0; 3]);
            let p = grid.index_from_world(d);
            [p[0] - o[0], p[1] - o[1], p[2] - o[2]]
        };
        let flat = |mut p: [f64; 3]| {
            // A 2D scan: rays run in the slice, whatever the height of the detector row.
            if planar {
                p[2] = 0.0;
            }
            p
        };
        let views: Vec<ViewRays> = geometry
            .views()
            .iter()
            .map(|v| {
                let columns: Vec<[f64; 3]> = (0..det.cols)
                    .map(|c| {
                        flat(grid.index_from_world(v.detector_point(
                            det,
                            det.u_mm(c as f64),
                            det.v_mm(0.0),
                        )))
                    })
                    .collect();
                let row_step = if planar {
                    [0.0; 3]
                } else {
                    index_dir(scale(v.v_dir, det.pixel_mm[1]))
                };
                let (source, direction) = match v.source {
                    Source::Point(s) => (Some(flat(grid.index_from_world(s))), [0.0; 3]),
                    Source::Parallel(d) => (None, flat(index_dir(d))),
                };
                ViewRays {
                    source,
                    direction,
                    row_step,
                    columns,
                }
            })
            .collect();
        let lines = !planar
            && size[2] >= 8
            && views.iter().all(|v| {
                let rs = v.row_step;
                let tiny = 1e-9 * (rs[0].abs() + rs[1].abs() + rs[2].abs());
                rs[0].abs() <= tiny
                    && rs[1].abs() <= tiny
                    && (0..det.cols).all(|c| {
                        [0, det.rows - 1].iter().all(|&r| {
                            let d = v.ray_direction(r, c);
                            let inplane = d[0].abs().max(d[1].abs());
                            inplane > 0.0 && d[2].abs() <= inplane
                        })
                    })
            });
        let path = force.unwrap_or(if lines {
            JosephPath::Lines
        } else {
            JosephPath::Rays
        });
        Ok(Self {
            geometry: geometry.clone(),
            grid: grid.clone(),
            planar,
            views,
            world_linear,
            path,
        })
    }

    /// The scan.
    pub fn geometry(&self) -> &ScanGeometry {
        &self.geometry
    }

    /// The reconstruction grid.
    pub fn grid(&self) -> &VolumeGrid {
        &self.grid
    }

    /// The projections' shape `(views, rows, cols)`.
    pub fn projection_shape(&self) -> (usize, usize, usize) {
        self.geometry.projection_shape()
    }

    /// The volume's shape `(z, y, x)`.
    pub fn volume_shape(&self) -> (usize, usize, usize) {
        self.grid.shape_zyx()
    }

    /// Number of views.
    pub fn n_views(&self) -> usize {
        self.geometry.n_views()
    }

    /// The path the Joseph pair takes on this plan.
    pub fn path(&self) -> JosephPath {
        self.path
    }

    /// Whether this is a 2D (one-row, one-slice) problem.
    pub fn is_planar(&self) -> bool {
        self.planar
    }

    pub(crate) fn view_rays(&self, v: usize) -> &ViewRays {
        &self.views[v]
    }

    /// Length in mm of one step along main axis `m` of a ray with index-space direction `d`.
    #[inline]
    pub(crate) fn step_mm(&self, d: [f64; 3], m: usize) -> f64 {
        let w = &self.world_linear;
        let x = w[0][0] * d[0] + w[0][1] * d[1] + w[0][2] * d[2];
        let y = w[1][0] * d[0] + w[1][1] * d[1] + w[1][2] * d[2];
        let z = w[2][0] * d[0] + w[2][1] * d[1] + w[2][2] * d[2];
        (x * x + y * y + z * z).sqrt() / d[m].abs()
    }
}

impl ReconPlan {
    /// The step lengths of a detector column's rays along main axis `m`, as
    /// `step_mm(r) = sqrt(a + r (b + r c)) * inv`: `[a, b, c, inv]`. The ray's world direction
    /// is affine in the row, so its squared length is a quadratic (one square root per row
    /// instead of a matrix product and a division).
    pub(crate) fn column_steps(&self, view: &ViewRays, c: usize, m: usize) -> [f64; 4] {
        let w = &self.world_linear;
        let lin = |d: [f64; 3]| -> [f64; 3] {
            std::array::from_fn(|i| w[i][0] * d[0] + w[i][1] * d[1] + w[i][2] * d[2])
        };
        let d0 = view.ray_direction(0, c);
        let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let wd = lin(d0);
        let wv = if view.source.is_some() {
            lin(view.row_step)
        } else {
            [0.0; 3]
        };
        [
            dot(wd, wd),
            2.0 * dot(wd, wv),
            dot(wv, wv),
            1.0 / d0[m].abs(),
        ]
    }
}

/// Joseph's main axis of an index-space direction: the axis it runs most along (ties go to x,
/// then y, as in the reference).
#[inline]
pub(crate) fn main_axis(d: [f64; 3]) -> usize {
    let ad = d.map(f64::abs);
    if ad[0] >= ad[1] && ad[0] >= ad[2] {
        0
    } else if ad[1] >= ad[2] {
        1
    } else {
        2
    }
}

/// The inclusive range of planes `0..n` along axis `m` that lie between `from` and `to` (both
/// index-space positions along `m`), or every plane for a parallel ray (`from = None`).
#[inline]
pub(crate) fn plane_range(from: Option<f64>, to: f64, n: usize) -> Option<(usize, usize)> {
    let Some(from) = from else {
        return (n > 0).then(|| (0, n - 1));
    };
    let (lo, hi) = if from <= to { (from, to) } else { (to, from) };
    let first = lo.ceil().max(0.0);
    let last = hi.floor().min(n as f64 - 1.0);
    (first <= last).then_some((first as usize, last as usize))
}
