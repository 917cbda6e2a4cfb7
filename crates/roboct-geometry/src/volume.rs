//! Volumes (a grid and its voxel values) and slabs of them.

use ndarray::{Array3, ArrayView3, Axis, Slice};

use crate::grid::{GridError, VolumeGrid};

/// A scalar volume: values on a [`VolumeGrid`], stored `[z][y][x]`.
///
/// Reconstructions hold linear attenuation in 1/mm; clinical volumes hold HU. The type does
/// not know which: the function that made it says so in its name and docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume {
    grid: VolumeGrid,
    data: Array3<f32>,
}

/// The array shape did not match the grid.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("volume data has shape (z, y, x) = {got:?} but its grid needs {want:?}")]
pub struct ShapeMismatch {
    /// The array's shape.
    pub got: (usize, usize, usize),
    /// The grid's shape.
    pub want: (usize, usize, usize),
}

impl Volume {
    /// A volume of zeros on `grid`.
    pub fn zeros(grid: VolumeGrid) -> Self {
        let data = Array3::zeros(grid.shape_zyx());
        Self { grid, data }
    }

    /// A volume from data shaped `(nz, ny, nx)` like `grid.shape_zyx()`.
    pub fn from_array(grid: VolumeGrid, data: Array3<f32>) -> Result<Self, ShapeMismatch> {
        let got = data.dim();
        if got != grid.shape_zyx() {
            return Err(ShapeMismatch {
                got,
                want: grid.shape_zyx(),
            });
        }
        Ok(Self { grid, data })
    }

    /// The grid.
    pub fn grid(&self) -> &VolumeGrid {
        &self.grid
    }

    /// Values `[z][y][x]`.
    pub fn data(&self) -> &Array3<f32> {
        &self.data
    }

    /// Mutable values `[z][y][x]`.
    pub fn data_mut(&mut self) -> &mut Array3<f32> {
        &mut self.data
    }

    /// Splits into grid and data.
    pub fn into_parts(self) -> (VolumeGrid, Array3<f32>) {
        (self.grid, self.data)
    }

    /// Copies a finished slab into place.
    pub fn insert_slab(&mut self, slab: &VolumeSlab) -> Result<(), ShapeMismatch> {
        let (nz, ny, nx) = slab.data.dim();
        let (gz, gy, gx) = self.grid.shape_zyx();
        if ny != gy || nx != gx || slab.z_start + nz > gz {
            return Err(ShapeMismatch {
                got: (slab.z_start + nz, ny, nx),
                want: (gz, gy, gx),
            });
        }
        self.data
            // Not `s![..]`: its expansion allows `unsafe_code`, which this crate forbids.
            .slice_axis_mut(Axis(0), Slice::from(slab.z_start..slab.z_start + nz))
            .assign(&slab.data);
        Ok(())
    }
}

/// Consecutive z-slices of a volume, emitted by reconstruction as soon as they are final so
/// that they can be written, shown or sent to a PACS while later slices are still being
/// computed.
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeSlab {
    /// Index of the slab's first slice in the whole volume.
    pub z_start: usize,
    /// Values `[z][y][x]` of slices `z_start..z_start + nz`.
    pub data: Array3<f32>,
    /// The grid of the whole volume the slab belongs to.
    pub volume_grid: VolumeGrid,
}

impl VolumeSlab {
    /// The grid of this slab alone (its first slice at `z_start`).
    pub fn grid(&self) -> Result<VolumeGrid, GridError> {
        self.volume_grid.slab(self.z_start, self.data.dim().0)
    }

    /// Slice `k` of the slab (0-based within the slab), `[y][x]`.
    pub fn slice(&self, k: usize) -> ndarray::ArrayView2<'_, f32> {
        self.data.index_axis(ndarray::Axis(0), k)
    }

    /// All values `[z][y][x]`.
    pub fn view(&self) -> ArrayView3<'_, f32> {
        self.data.view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slabs_fill_a_volume() {
        let grid = VolumeGrid::centered([3, 2, 5], [1.0; 3], [0.0; 3]).unwrap();
        let mut v = Volume::zeros(grid.clone());
        for z0 in [0usize, 2, 4] {
            let nz = (5 - z0).min(2);
            let data = Array3::from_elem((nz, 2, 3), z0 as f32 + 1.0);
            v.insert_slab(&VolumeSlab {
                z_start: z0,
                data,
                volume_grid: grid.clone(),
            })
            .unwrap();
        }
        assert_eq!(v.data()[[0, 0, 0]], 1.0);
        assert_eq!(v.data()[[3, 1, 2]], 3.0);
        assert_eq!(v.data()[[4, 1, 2]], 5.0);
        let bad = VolumeSlab {
            z_start: 4,
            data: Array3::zeros((2, 2, 3)),
            volume_grid: grid,
        };
        assert!(v.insert_slab(&bad).is_err());
    }

    #[test]
    fn from_array_checks_the_shape() {
        let grid = VolumeGrid::centered([3, 2, 5], [1.0; 3], [0.0; 3]).unwrap();
        let e = Volume::from_array(grid, Array3::zeros((5, 3, 2))).unwrap_err();
        assert_eq!(e.want, (5, 2, 3));
    }
}
