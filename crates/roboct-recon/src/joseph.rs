//! The plain voxel-driven back-projector (unmatched: what FBP and FDK use, not the transpose
//! of Joseph's forward projector).

use ndarray::{Array3, Axis};
use roboct_geometry::{ScanGeometry, Volume, VolumeGrid};

use crate::ReconError;
use crate::backproject::{Backprojector, Weighting, plan};
use crate::projector::{check_planar, projectors};
use crate::store::LineStore;

/// The voxel-driven back-projector: every voxel takes the bilinearly interpolated value where
/// it projects in each view, unweighted. It is *not* the transpose of
/// [`crate::forward_project`] (that is [`crate::back_project_adjoint`]); FBP and FDK use it
/// with their weights.
pub fn back_project_voxel_driven(
    geometry: &ScanGeometry,
    projections: &Array3<f32>,
    grid: &VolumeGrid,
) -> Result<Volume, ReconError> {
    let want = geometry.projection_shape();
    if projections.dim() != want {
        return Err(ReconError::ProjectionShape {
            expected: want,
            found: projections.dim(),
        });
    }
    check_planar(geometry, grid)?;
    let projs = projectors(geometry, grid);
    let slab = grid.size()[2];
    let (path, orientation) = plan(&projs, grid, slab, false);
    let (nv, rows, cols) = want;
    let mut store = LineStore::new(orientation, nv, rows, cols);
    for v in 0..nv {
        store.set_view(v, projections.index_axis(Axis(0), v));
    }
    let scale = vec![1.0f32; nv];
    let bp = Backprojector::new(&store, &projs, &scale, Weighting::One, grid, path);
    let data = bp.slab(0, slab);
    Ok(Volume::from_array(grid.clone(), data).expect("grid shape"))
}
