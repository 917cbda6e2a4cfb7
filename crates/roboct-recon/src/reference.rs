//! The scalar f64 reference of Joseph's projector and its transpose: the oracle the fast f32
//! operator ([`crate::JosephProjector`]) is tested against, written for clarity (closures,
//! one f64 volume per thread in the transpose), not speed.
//!
//! Joseph, "An improved algorithm for reprojecting rays through pixel images", IEEE TMI 1982:
//! along each ray, step from one plane of voxel centres to the next along the axis the ray runs
//! most along (in index space), interpolate the volume bilinearly in the other two axes, and
//! sum times the length of one step in mm. [`back_project_adjoint`] spreads each ray's value
//! over the same voxels with the same weights, so it is exactly `A^T` (`tests/projectors.rs`
//! checks `<A x, y> = <x, A^T y>` to 1e-4 for every geometry). Rays go through pixel centres.
//! In a 2D scan (one detector row, one slice) rays run in the slice and a step's length is
//! measured in it, whatever the height of the row.

use ndarray::{Array3, Axis};
use rayon::prelude::*;
use roboct_core::Progress;
use roboct_geometry::{ScanGeometry, Source, Volume, VolumeGrid};

use crate::ReconError;
use crate::projector::check_planar;

/// One ray in index space: points `p0 + t d` (t in mm), t from `t_min` to `t_max`.
struct Ray {
    p0: [f64; 3],
    d: [f64; 3],
    t_min: f64,
    t_max: f64,
}

/// Index-space rays of one view, row by row.
fn view_rays<'a>(
    geometry: &'a ScanGeometry,
    view: usize,
    grid: &VolumeGrid,
) -> impl Iterator<Item = ((usize, usize), Ray)> + 'a {
    let det = geometry.detector();
    let planar = det.rows == 1;
    let v = &geometry.views()[view];
    let g = grid.clone();
    // A parallel ray starts well before the volume: its diagonal away from the centre.
    let size = grid.size();
    let sp = grid.spacing_mm();
    let diag: f64 = (0..3)
        .map(|a| (size[a] as f64 * sp[a]).powi(2))
        .sum::<f64>()
        .sqrt();
    let centre = grid.center_mm();
    (0..det.rows)
        .flat_map(move |r| (0..det.cols).map(move |c| (r, c)))
        .map(move |(r, c)| {
            let (u, vv) = (det.u_mm(c as f64), det.v_mm(r as f64));
            let target = v.detector_point(det, u, vv);
            let (origin, dir, t_max) = match v.source {
                Source::Point(s) => {
                    let d = roboct_geometry::vec3::sub(target, s);
                    let len = roboct_geometry::vec3::norm(d);
                    (s, roboct_geometry::vec3::scale(d, 1.0 / len), len)
                }
                Source::Parallel(d) => {
                    // Start at the plane through the volume centre, pulled back by the diagonal.
                    let along =
                        roboct_geometry::vec3::dot(roboct_geometry::vec3::sub(target, centre), d);
                    let start = roboct_geometry::vec3::sub(
                        target,
                        roboct_geometry::vec3::scale(d, along + diag),
                    );
                    (start, d, f64::INFINITY)
                }
            };
            let mut t_max = t_max;
            let mut p0 = g.index_from_world(origin);
            let p1 = g.index_from_world(roboct_geometry::vec3::add(origin, dir));
            let mut d = [p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]];
            if planar {
                // A 2D scan: the ray runs in the slice, whatever the height of the detector row,
                // and `d` is rescaled to one mm of the ray's path in the slice.
                p0[2] = 0.0;
                d[2] = 0.0;
                let w = g.world_from_index(d);
                let o = g.world_from_index([0.0; 3]);
                let len = roboct_geometry::vec3::norm(roboct_geometry::vec3::sub(w, o));
                if len > 0.0 {
                    d = d.map(|x| x / len);
                    t_max *= len;
                }
            }
            (
                (r, c),
                Ray {
                    p0,
                    d,
                    t_min: 0.0,
                    t_max,
                },
            )
        })
}

/// Visits the (voxel, weight) pairs of Joseph's rule along a ray; `f(z, y, x, weight)`.
#[inline]
fn walk(ray: &Ray, size: [usize; 3], mut f: impl FnMut(usize, usize, usize, f64)) {
    let ad = ray.d.map(f64::abs);
    let m = if ad[0] >= ad[1] && ad[0] >= ad[2] {
        0
    } else if ad[1] >= ad[2] {
        1
    } else {
        2
    };
    if ad[m] == 0.0 {
        return;
    }
    let (a, b) = match m {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let step_mm = 1.0 / ad[m];
    for plane in 0..size[m] {
        let t = (plane as f64 - ray.p0[m]) / ray.d[m];
        if t < ray.t_min || t > ray.t_max {
            continue;
        }
        let pa = ray.p0[a] + t * ray.d[a];
        let pb = ray.p0[b] + t * ray.d[b];
        if !(pa > -1.0 && pa < size[a] as f64 && pb > -1.0 && pb < size[b] as f64) {
            continue;
        }
        let (fa, fb) = (pa.floor(), pb.floor());
        let (wa, wb) = (pa - fa, pb - fb);
        let (ia, ib) = (fa as isize, fb as isize);
        for (da, wa_) in [(0isize, 1.0 - wa), (1, wa)] {
            let ja = ia + da;
            if ja < 0 || ja >= size[a] as isize || wa_ == 0.0 {
                continue;
            }
            for (db, wb_) in [(0isize, 1.0 - wb), (1, wb)] {
                let jb = ib + db;
                if jb < 0 || jb >= size[b] as isize || wb_ == 0.0 {
                    continue;
                }
                let mut idx = [0usize; 3];
                idx[m] = plane;
                idx[a] = ja as usize;
                idx[b] = jb as usize;
                f(idx[2], idx[1], idx[0], wa_ * wb_ * step_mm);
            }
        }
    }
}

fn check_volume(volume: &Volume) -> Result<(), ReconError> {
    let want = volume.grid().shape_zyx();
    if volume.data().dim() != want {
        return Err(ReconError::VolumeShape {
            expected: want,
            found: volume.data().dim(),
        });
    }
    Ok(())
}

/// Projections `[view][row][col]` of `volume` by Joseph's method (line integrals in the
/// volume's unit times mm).
pub fn forward_project(
    geometry: &ScanGeometry,
    volume: &Volume,
    progress: &dyn Progress,
) -> Result<Array3<f32>, ReconError> {
    check_volume(volume)?;
    check_planar(geometry, volume.grid())?;
    let grid = volume.grid();
    let data = volume.data();
    let size = grid.size();
    let (nv, rows, cols) = geometry.projection_shape();
    let mut out = Array3::<f32>::zeros((nv, rows, cols));
    progress.start("projecting", nv as u64);
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(v, mut img)| {
            for ((r, c), ray) in view_rays(geometry, v, grid) {
                let mut sum = 0.0f64;
                walk(&ray, size, |z, y, x, w| sum += w * data[[z, y, x]] as f64);
                img[[r, c]] = sum as f32;
            }
            progress.advance(1);
        });
    progress.finish();
    Ok(out)
}

/// The exact transpose of [`forward_project`]: each ray's value spread over the voxels it was
/// summed from, with the same weights.
pub fn back_project_adjoint(
    geometry: &ScanGeometry,
    projections: &Array3<f32>,
    grid: &VolumeGrid,
    progress: &dyn Progress,
) -> Result<Volume, ReconError> {
    let want = geometry.projection_shape();
    if projections.dim() != want {
        return Err(ReconError::ProjectionShape {
            expected: want,
            found: projections.dim(),
        });
    }
    check_planar(geometry, grid)?;
    let size = grid.size();
    let shape = grid.shape_zyx();
    let nv = want.0;
    let threads = rayon::current_num_threads().max(1);
    let chunk = nv.div_ceil(threads).max(1);
    progress.start("back-projecting", nv as u64);
    // One accumulator per worker: rays of different views hit the same voxels.
    let partial: Vec<Array3<f64>> = (0..nv)
        .collect::<Vec<_>>()
        .par_chunks(chunk)
        .map(|views| {
            let mut acc = Array3::<f64>::zeros(shape);
            for &v in views {
                for ((r, c), ray) in view_rays(geometry, v, grid) {
                    let y = projections[[v, r, c]] as f64;
                    if y != 0.0 {
                        walk(&ray, size, |z, yy, x, w| acc[[z, yy, x]] += w * y);
                    }
                }
                progress.advance(1);
            }
            acc
        })
        .collect();
    progress.finish();
    let mut total = Array3::<f64>::zeros(shape);
    for p in partial {
        total += &p;
    }
    Ok(Volume::from_array(grid.clone(), total.mapv(|v| v as f32)).expect("grid shape"))
}
