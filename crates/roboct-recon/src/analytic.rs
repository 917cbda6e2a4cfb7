//! Analytic reconstruction: FBP (parallel and fan beams) and FDK (cone beams).
//!
//! One pipeline serves both, since FBP is FDK with one detector row: weight every view
//! (`weights`), ramp-filter its rows (`filter`), then back-project with `1/w^2` (`backproject`)
//! slab by slab. Slabs are handed to the caller as soon as they are final, so a caller can write
//! them, show them or send them to a PACS while later slabs are computed; the memory held while
//! back-projecting is the filtered projections plus one slab.
//!
//! References: Feldkamp, Davis & Kress, "Practical cone-beam algorithm", JOSA A 1984; Kak &
//! Slaney, "Principles of Computerized Tomographic Imaging", 1988, ch. 3; Parker, "Optimal short
//! scan convolution reconstruction for fan beam CT", Med. Phys. 1982; Wang, "X-ray micro-CT with
//! a displaced detector array", Med. Phys. 2002. Tests: `tests/analytic.rs` (every geometry and
//! filter against exact projections of analytic phantoms), `src/backproject.rs` and
//! `src/kernels.rs` (fast paths against the reference).

use std::time::Instant;

use ndarray::{Array3, ArrayViewMut2};
use rayon::prelude::*;
use roboct_core::{CancelToken, Progress};
use roboct_geometry::{DetectorShape, ScanGeometry, Source, VolumeGrid, VolumeSlab};

use crate::ReconError;
use crate::backproject::{Backprojector, Path, Weighting, plan};
use crate::filter::{Filter, RampFilter};
use crate::projector::projectors;
use crate::store::LineStore;
use crate::weights::{Preweights, Redundancy};

/// Options of [`fdk`].
#[derive(Clone, Debug, PartialEq)]
pub struct AnalyticOptions {
    /// Ramp filter window and cut-off.
    pub filter: Filter,
    /// Slices per slab (the unit of streaming and of progress).
    pub slab_thickness: usize,
    /// Always use the voxel-by-voxel back-projector (for testing the fast path against it).
    pub force_generic: bool,
}

impl Default for AnalyticOptions {
    fn default() -> Self {
        Self {
            filter: Filter::default(),
            // Long enough that the tile kernel's per-line set-up is amortised (on P3, 64 runs
            // about 20% faster per CPU-second than 32, and 128 another 10%), short enough that
            // a 256-slice volume streams out in four slabs.
            slab_thickness: 64,
            force_generic: false,
        }
    }
}

/// What a reconstruction did.
#[derive(Clone, Debug, PartialEq)]
pub struct ReconReport {
    /// The back-projection path taken.
    pub path: Path,
    /// The redundancy weighting the geometry called for.
    pub redundancy: Redundancy,
    /// Things the user should know (incomplete data...).
    pub warnings: Vec<String>,
    /// Slabs emitted.
    pub slabs: usize,
    /// Seconds spent weighting and filtering.
    pub filter_s: f64,
    /// Seconds spent back-projecting (including the callback).
    pub backproject_s: f64,
    /// Voxels times views.
    pub voxel_updates: u64,
}

/// Views weighted and filtered per step before the input's memory is given back.
const CHUNK_VIEWS: usize = 16;

/// FBP/FDK of `projections` (`[view][row][col]`, line integrals of mu in 1/mm) on `grid`,
/// giving mu (1/mm) in z-slabs to `on_slab`, in order.
///
/// The projections are consumed: their memory is released view by view as they are filtered,
/// so that the peak is about one copy of the projections.
pub fn fdk<E>(
    geometry: &ScanGeometry,
    projections: Array3<f32>,
    grid: &VolumeGrid,
    options: &AnalyticOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
    mut on_slab: impl FnMut(VolumeSlab) -> Result<(), E>,
) -> Result<ReconReport, ReconError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let want = geometry.projection_shape();
    if projections.dim() != want {
        return Err(ReconError::ProjectionShape {
            expected: want,
            found: projections.dim(),
        });
    }
    if !(options.filter.cutoff > 0.0 && options.filter.cutoff <= 1.0) {
        return Err(ReconError::BadOption {
            name: "cutoff",
            message: format!(
                "{}; expected a fraction of Nyquist in (0, 1]",
                options.filter.cutoff
            ),
        });
    }
    if options.slab_thickness == 0 {
        return Err(ReconError::BadOption {
            name: "slab thickness",
            message: "0; expected at least 1 slice".into(),
        });
    }
    crate::projector::check_planar(geometry, grid)?;
    let det = geometry.detector();
    let pre = Preweights::new(geometry)?;
    let projs = projectors(geometry, grid);
    let (path, orientation) = plan(&projs, grid, options.slab_thickness, options.force_generic);
    let weighting = match geometry.views()[0].source {
        Source::Point(_) => Weighting::InverseSquareDepth,
        Source::Parallel(_) => Weighting::One,
    };
    let arc_radius = match (det.shape, geometry.views()[0].source) {
        (DetectorShape::Cylindrical, Source::Point(s)) => Some(roboct_geometry::vec3::norm(
            roboct_geometry::vec3::sub(geometry.views()[0].detector_mm, s),
        )),
        _ => None,
    };
    let ramp = RampFilter::new(det.cols, det.pixel_mm[0], options.filter, arc_radius);

    // Weight, filter and lay out the views, releasing the input as we go (last views first, so
    // that shrinking the buffer frees its tail).
    let start = Instant::now();
    let (nv, rows, cols) = want;
    let per_view = rows * cols;
    let mut raw = if projections.is_standard_layout() {
        let (v, offset) = projections.into_raw_vec_and_offset();
        debug_assert_eq!(offset.unwrap_or(0), 0);
        v
    } else {
        projections
            .as_standard_layout()
            .into_owned()
            .into_raw_vec_and_offset()
            .0
    };
    let mut store = LineStore::new(orientation, nv, rows, cols);
    let line_stride = store.line_stride;
    progress.start("filtering", nv as u64);
    {
        let mut slots: Vec<&mut [f32]> = store.views_mut().collect();
        let mut end = nv;
        while end > 0 {
            cancel.check().map_err(|_| ReconError::Cancelled)?;
            let begin = end.saturating_sub(CHUNK_VIEWS);
            let chunk = &mut raw[begin * per_view..end * per_view];
            chunk
                .par_chunks_mut(per_view)
                .zip(slots[begin..end].par_iter_mut())
                .enumerate()
                .for_each_init(
                    || ramp.scratch(),
                    |scratch, (i, (view_data, slot))| {
                        let v = begin + i;
                        let mut img =
                            ArrayViewMut2::from_shape((rows, cols), view_data).expect("view size");
                        pre.apply(v, &mut img, det);
                        for row in view_data.chunks_exact_mut(cols) {
                            ramp.apply(row, scratch);
                        }
                        let img = ndarray::ArrayView2::from_shape((rows, cols), &*view_data)
                            .expect("view size");
                        LineStore::fill_slot(orientation, line_stride, slot, img);
                        progress.advance(1);
                    },
                );
            raw.truncate(begin * per_view);
            raw.shrink_to_fit();
            end = begin;
        }
    }
    drop(raw);
    progress.finish();
    let filter_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let scale = vec![1.0f32; nv];
    let bp = Backprojector::new(&store, &projs, &scale, weighting, grid, path);
    let nz = grid.size()[2];
    let t = options.slab_thickness;
    let n_slabs = nz.div_ceil(t);
    progress.start("back-projecting", n_slabs as u64);
    for s in 0..n_slabs {
        cancel.check().map_err(|_| ReconError::Cancelled)?;
        let z0 = s * t;
        let n = t.min(nz - z0);
        let data = bp.slab(z0, n);
        on_slab(VolumeSlab {
            z_start: z0,
            data,
            volume_grid: grid.clone(),
        })
        .map_err(|e| ReconError::Sink(e.into()))?;
        progress.advance(1);
    }
    progress.finish();
    Ok(ReconReport {
        path,
        redundancy: pre.redundancy.clone(),
        warnings: pre.warnings.clone(),
        slabs: n_slabs,
        filter_s,
        backproject_s: start.elapsed().as_secs_f64(),
        voxel_updates: grid.len() as u64 * nv as u64,
    })
}

/// [`fdk`] into a whole volume.
pub fn fdk_volume(
    geometry: &ScanGeometry,
    projections: Array3<f32>,
    grid: &VolumeGrid,
    options: &AnalyticOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<(roboct_geometry::Volume, ReconReport), ReconError> {
    let mut volume = roboct_geometry::Volume::zeros(grid.clone());
    let report = fdk(
        geometry,
        projections,
        grid,
        options,
        progress,
        cancel,
        |slab| volume.insert_slab(&slab),
    )?;
    Ok((volume, report))
}
