//! Projections laid out for back-projection: one contiguous, zero-padded line per detector
//! column (or row), so that a line of voxels reads one or two detector lines front to back.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

/// Zeros before and after every detector line. A kernel clamps sample positions into the padding,
/// where they read exact zeros, so it needs no bounds tests; 32 also lets a 32-wide window start
/// anywhere a clamped position can be.
pub(crate) const PAD: usize = 32;

/// Which detector lines are stored contiguously.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Orientation {
    /// Lines are detector columns; samples run along the rows (v).
    Columns,
    /// Lines are detector rows; samples run along the columns (u).
    Rows,
}

/// Filtered projections as padded lines: `[view][line + 1][PAD + sample]`, with an all-zero
/// line before the first and after the last, so that interpolating between lines `l` and
/// `l + 1` works for `l` in `-1..=n_lines - 1`.
pub(crate) struct LineStore {
    pub orientation: Orientation,
    pub n_views: usize,
    pub n_lines: usize,
    pub n_samples: usize,
    pub line_stride: usize,
    pub view_stride: usize,
    data: Vec<f32>,
}

impl LineStore {
    pub fn new(orientation: Orientation, n_views: usize, rows: usize, cols: usize) -> Self {
        let (n_lines, n_samples) = match orientation {
            Orientation::Columns => (cols, rows),
            Orientation::Rows => (rows, cols),
        };
        let line_stride = n_samples + 2 * PAD;
        let view_stride = (n_lines + 2) * line_stride;
        // Slack at the end: a window loaded near the end of the last line may run past it.
        let data = vec![0.0; n_views * view_stride + 2 * PAD];
        Self {
            orientation,
            n_views,
            n_lines,
            n_samples,
            line_stride,
            view_stride,
            data,
        }
    }

    /// Copies one view `[row][col]` in.
    pub fn set_view(&mut self, view: usize, img: ArrayView2<'_, f32>) {
        let vs = self.view_stride;
        Self::fill_slot(
            self.orientation,
            self.line_stride,
            &mut self.data[view * vs..(view + 1) * vs],
            img,
        );
    }

    /// Mutable access to the views, one slice per view, for filling in parallel.
    pub fn views_mut(&mut self) -> impl IndexedParallelIterator<Item = &mut [f32]> {
        let vs = self.view_stride;
        let n = self.n_views;
        self.data[..n * vs].par_chunks_mut(vs)
    }

    /// Copies one view in, given its slot from [`LineStore::views_mut`].
    pub fn fill_slot(
        orientation: Orientation,
        line_stride: usize,
        slot: &mut [f32],
        img: ArrayView2<'_, f32>,
    ) {
        let ls = line_stride;
        match orientation {
            Orientation::Rows => {
                for (r, row) in img.axis_iter(Axis(0)).enumerate() {
                    for (c, v) in row.iter().enumerate() {
                        slot[(r + 1) * ls + PAD + c] = *v;
                    }
                }
            }
            Orientation::Columns => {
                let (rows, cols) = img.dim();
                const B: usize = 16;
                for r0 in (0..rows).step_by(B) {
                    for c0 in (0..cols).step_by(B) {
                        for r in r0..(r0 + B).min(rows) {
                            for c in c0..(c0 + B).min(cols) {
                                slot[(c + 1) * ls + PAD + r] = img[[r, c]];
                            }
                        }
                    }
                }
            }
        }
    }

    /// The padded line `line` (in `-1..=n_lines`) of `view`, with PAD zeros on both sides and
    /// enough slack after it for a 32-wide window.
    #[inline]
    pub fn line(&self, view: usize, line: isize) -> &[f32] {
        let start = view * self.view_stride + (line + 1) as usize * self.line_stride;
        &self.data[start..start + self.line_stride + 2 * PAD]
    }

    /// The start of the whole buffer, for kernels that compute their own offsets.
    pub fn data_ptr(&self) -> *const f32 {
        self.data.as_ptr()
    }

    /// Bilinear sample at fractional pixel (col, row), zero outside the detector.
    #[inline]
    pub fn sample(&self, view: usize, col: f32, row: f32) -> f32 {
        let (l, s) = match self.orientation {
            Orientation::Columns => (col, row),
            Orientation::Rows => (row, col),
        };
        if !(l > -1.0 && l < self.n_lines as f32 && s > -1.0 && s < self.n_samples as f32) {
            return 0.0;
        }
        let lf = l.floor();
        let sf = s.floor();
        let (fl, fs) = (l - lf, s - sf);
        let li = lf as isize;
        let si = sf as isize + PAD as isize;
        let a = self.line(view, li);
        let b = self.line(view, li + 1);
        let si = si as usize;
        let va = a[si] + fs * (a[si + 1] - a[si]);
        let vb = b[si] + fs * (b[si + 1] - b[si]);
        va + fl * (vb - va)
    }
}
