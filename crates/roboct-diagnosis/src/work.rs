//! The reading grid: the input volume turned so that its index axes run along the patient's
//! left, posterior and superior directions (the closest axes of its own direction matrix, as
//! nibabel's `as_closest_canonical` does), then averaged in blocks down to about 1 mm in-plane
//! and at least 1 mm between slices. Every finding is measured on this grid and mapped back
//! to world coordinates through it, so an oblique or flipped input is read the same way.

use ndarray::{Array3, Axis};
use roboct_geometry::{Volume, VolumeGrid};

use crate::morph::Dims;

/// In-plane voxel size the reader aims for, mm (block averaging never makes voxels
/// smaller than the input's).
pub const TARGET_INPLANE_MM: f64 = 1.0;
/// Slice spacing the reader aims for, mm.
pub const TARGET_SLICE_MM: f64 = 1.0;

/// The volume on the reading grid.
#[derive(Clone, Debug)]
pub struct Work {
    /// HU, `[z][y][x]` with x towards the patient's left, y posterior, z superior.
    pub hu: Vec<f32>,
    /// Shape and voxel size.
    pub dims: Dims,
    /// The reading grid in the input's world frame.
    pub grid: VolumeGrid,
}

/// Which input index axis becomes each canonical axis (x: left, y: posterior, z: superior),
/// and whether it runs backwards.
fn closest_axes(direction: [[f64; 3]; 3]) -> ([usize; 3], [bool; 3]) {
    // direction[w][a]: world component w of index axis a. Assign each world axis the index
    // axis most aligned with it, strongest alignment first, so the map is a permutation.
    let mut pairs: Vec<(f64, usize, usize)> = (0..3)
        .flat_map(|w| (0..3).map(move |a| (direction[w][a].abs(), w, a)))
        .collect();
    pairs.sort_by(|p, q| q.0.total_cmp(&p.0));
    let mut axis = [usize::MAX; 3];
    let mut used = [false; 3];
    for (_, w, a) in pairs {
        if axis[w] == usize::MAX && !used[a] {
            axis[w] = a;
            used[a] = true;
        }
    }
    let flip = std::array::from_fn(|w| direction[w][axis[w]] < 0.0);
    (axis, flip)
}

/// Turns `volume` to the canonical orientation and averages it in blocks to the reading grid.
pub fn reading_grid(volume: &Volume) -> Work {
    let grid = volume.grid();
    let dir = grid.direction();
    let (axis, flip) = closest_axes(dir);
    // Array axes are [z, y, x] = index axes [2, 1, 0].
    let arr_axis = |index_axis: usize| 2 - index_axis;
    let mut view = volume.data().view();
    for (w, &a) in axis.iter().enumerate() {
        if flip[w] {
            view.invert_axis(Axis(arr_axis(a)));
        }
    }
    // New array axes [z, y, x] come from canonical axes [2, 1, 0].
    let view = view.permuted_axes([arr_axis(axis[2]), arr_axis(axis[1]), arr_axis(axis[0])]);
    let spacing_in = grid.spacing_mm();
    let spacing: [f64; 3] = std::array::from_fn(|w| spacing_in[axis[w]]);
    let size_in = grid.size();
    // The world position of canonical index (0,0,0), and the canonical directions.
    let mut corner = [0.0f64; 3];
    for (w, &a) in axis.iter().enumerate() {
        if flip[w] {
            corner[a] = (size_in[a] - 1) as f64;
        }
    }
    let origin = grid.world_from_index(corner);
    let direction: [[f64; 3]; 3] = std::array::from_fn(|r| {
        std::array::from_fn(|c| {
            let s = if flip[c] { -1.0 } else { 1.0 };
            s * dir[r][axis[c]]
        })
    });
    // Block factors.
    let factor = |s: f64, target: f64| ((target / s) + 0.25).floor().max(1.0) as usize;
    let f = [
        factor(spacing[0], TARGET_INPLANE_MM),
        factor(spacing[1], TARGET_INPLANE_MM),
        factor(spacing[2], TARGET_SLICE_MM),
    ];
    let (nz0, ny0, nx0) = view.dim();
    let (nz, ny, nx) = (nz0 / f[2], ny0 / f[1], nx0 / f[0]);
    let (nz, ny, nx) = (nz.max(1).min(nz0), ny.max(1).min(ny0), nx.max(1).min(nx0));
    let mut out = Array3::<f32>::zeros((nz, ny, nx));
    let inv = 1.0 / (f[0] * f[1] * f[2]) as f32;
    ndarray::Zip::indexed(&mut out).par_for_each(|(z, y, x), o| {
        let mut s = 0.0f32;
        for dz in 0..f[2] {
            for dy in 0..f[1] {
                for dx in 0..f[0] {
                    let (zz, yy, xx) = (
                        (z * f[2] + dz).min(nz0 - 1),
                        (y * f[1] + dy).min(ny0 - 1),
                        (x * f[0] + dx).min(nx0 - 1),
                    );
                    s += view[[zz, yy, xx]];
                }
            }
        }
        *o = s * inv;
    });
    let new_spacing: [f64; 3] = std::array::from_fn(|w| spacing[w] * f[w] as f64);
    // Block centres: canonical index (f - 1) / 2 of the input.
    let shift: [f64; 3] = std::array::from_fn(|w| 0.5 * (f[w] as f64 - 1.0) * spacing[w]);
    let origin = std::array::from_fn(|r| {
        origin[r] + (0..3).map(|c| direction[r][c] * shift[c]).sum::<f64>()
    });
    let grid = VolumeGrid::with_direction([nx, ny, nz], new_spacing, origin, direction)
        .expect("a valid input grid stays valid when turned and coarsened");
    let dims = Dims {
        nz,
        ny,
        nx,
        spacing_mm: new_spacing,
    };
    Work {
        hu: out.into_raw_vec_and_offset().0,
        dims,
        grid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flipped_and_permuted_inputs_land_on_the_same_points() {
        // A volume whose index axes are (y, -x, z) of the patient, 0.5 mm in-plane.
        let dir = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
        let grid =
            VolumeGrid::with_direction([8, 6, 4], [0.5, 0.5, 1.0], [10.0, -3.0, 7.0], dir).unwrap();
        let data = Array3::from_shape_fn((4, 6, 8), |(z, y, x)| (z * 100 + y * 10 + x) as f32);
        let v = Volume::from_array(grid.clone(), data.clone()).unwrap();
        let w = reading_grid(&v);
        assert_eq!(w.dims.spacing_mm, [1.0, 1.0, 1.0]);
        assert_eq!((w.dims.nz, w.dims.ny, w.dims.nx), (4, 4, 3));
        let d = w.grid.direction();
        assert!(d[0][0] > 0.99 && d[1][1] > 0.99 && d[2][2] > 0.99, "{d:?}");
        // Each reading voxel is the mean of the input voxels whose centres lie within it.
        for z in 0..4 {
            for y in 0..4 {
                for x in 0..3 {
                    let p = w.grid.world_from_index([x as f64, y as f64, z as f64]);
                    let mut s = 0.0;
                    let mut n = 0.0;
                    for (idx, val) in data.indexed_iter() {
                        let q = grid.world_from_index([idx.2 as f64, idx.1 as f64, idx.0 as f64]);
                        if (q[0] - p[0]).abs() < 0.5
                            && (q[1] - p[1]).abs() < 0.5
                            && (q[2] - p[2]).abs() < 0.01
                        {
                            s += *val as f64;
                            n += 1.0;
                        }
                    }
                    assert_eq!(n, 4.0);
                    let got = w.hu[w.dims.at(z, y, x)] as f64;
                    assert!(
                        (got - s / n).abs() < 1e-3,
                        "{z} {y} {x}: {got} vs {}",
                        s / n
                    );
                }
            }
        }
    }
}
