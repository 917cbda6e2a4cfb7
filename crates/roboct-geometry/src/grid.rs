//! Volume grids: which point of the world each voxel samples.

use thiserror::Error;

/// Why a volume grid was refused.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum GridError {
    /// A size was zero.
    #[error("volume size {axis} is 0: every axis needs at least one voxel")]
    ZeroSize {
        /// `x`, `y` or `z`.
        axis: char,
    },
    /// A voxel size was zero, negative or not finite.
    #[error("voxel size {axis} is {value} mm: expected a finite size > 0")]
    BadSpacing {
        /// `x`, `y` or `z`.
        axis: char,
        /// The value given.
        value: f64,
    },
    /// An origin or centre coordinate was not finite.
    #[error("volume {field} {axis} is {value}: expected a finite coordinate in mm")]
    BadCoordinate {
        /// `origin` or `center`.
        field: &'static str,
        /// `x`, `y` or `z`.
        axis: char,
        /// The value given.
        value: f64,
    },
    /// The direction matrix was not a rotation.
    #[error("volume direction matrix is not orthonormal with determinant +1 or -1")]
    BadDirection,
    /// The grid has more voxels than [`crate::MAX_VALUES`].
    #[error(
        "volume of {nx} x {ny} x {nz} voxels is too large ({bytes} bytes as f32); expected at most 2^31 voxels (8 GiB as f32)"
    )]
    TooLarge {
        /// Voxels along x.
        nx: usize,
        /// Voxels along y.
        ny: usize,
        /// Voxels along z.
        nz: usize,
        /// Bytes it would need.
        bytes: u128,
    },
}

const AXES: [char; 3] = ['x', 'y', 'z'];

/// A regular grid of voxels in the world frame, as ITK and RTK define an image:
/// voxel index `(i, j, k)` (along x, y, z) has its centre at
/// `origin_mm + direction * (i * sx, j * sy, k * sz)`.
///
/// Arrays over the grid are `[z][y][x]` in C order (`k` slowest, `i` fastest), so a 3D array of
/// shape `(nz, ny, nx)`. The origin is the centre of the first voxel, not its corner.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VolumeGrid {
    size: [usize; 3],
    spacing_mm: [f64; 3],
    origin_mm: [f64; 3],
    /// Columns are the world directions of +i, +j, +k.
    direction: [[f64; 3]; 3],
}

/// The most voxels in one grid: [`crate::MAX_VALUES`] (2^31, 8 GiB as f32).
const MAX_VOXELS: u128 = crate::MAX_VALUES as u128;

impl VolumeGrid {
    /// A grid with identity direction, given by the centre of the first voxel.
    pub fn new(
        size: [usize; 3],
        spacing_mm: [f64; 3],
        origin_mm: [f64; 3],
    ) -> Result<Self, GridError> {
        Self::with_direction(size, spacing_mm, origin_mm, IDENTITY)
    }

    /// A grid with identity direction centred on `center_mm` (the centre of the whole grid,
    /// which is a voxel centre for odd sizes and a voxel corner for even sizes).
    pub fn centered(
        size: [usize; 3],
        spacing_mm: [f64; 3],
        center_mm: [f64; 3],
    ) -> Result<Self, GridError> {
        for a in 0..3 {
            if !center_mm[a].is_finite() {
                return Err(GridError::BadCoordinate {
                    field: "center",
                    axis: AXES[a],
                    value: center_mm[a],
                });
            }
        }
        let origin =
            std::array::from_fn(|a| center_mm[a] - 0.5 * (size[a] as f64 - 1.0) * spacing_mm[a]);
        Self::new(size, spacing_mm, origin)
    }

    /// A grid with a general direction matrix (columns: world direction of +i, +j, +k), as read
    /// from DICOM or MetaImage files.
    pub fn with_direction(
        size: [usize; 3],
        spacing_mm: [f64; 3],
        origin_mm: [f64; 3],
        direction: [[f64; 3]; 3],
    ) -> Result<Self, GridError> {
        for a in 0..3 {
            if size[a] == 0 {
                return Err(GridError::ZeroSize { axis: AXES[a] });
            }
            if !(spacing_mm[a].is_finite() && spacing_mm[a] > 0.0) {
                return Err(GridError::BadSpacing {
                    axis: AXES[a],
                    value: spacing_mm[a],
                });
            }
            if !origin_mm[a].is_finite() {
                return Err(GridError::BadCoordinate {
                    field: "origin",
                    axis: AXES[a],
                    value: origin_mm[a],
                });
            }
        }
        let voxels = size.iter().map(|&n| n as u128).product::<u128>();
        if voxels > MAX_VOXELS {
            return Err(GridError::TooLarge {
                nx: size[0],
                ny: size[1],
                nz: size[2],
                bytes: voxels * 4,
            });
        }
        if !is_rotation_or_reflection(&direction) {
            return Err(GridError::BadDirection);
        }
        Ok(Self {
            size,
            spacing_mm,
            origin_mm,
            direction,
        })
    }

    /// Voxels along (x, y, z).
    pub fn size(&self) -> [usize; 3] {
        self.size
    }

    /// The shape of an array over this grid: `(nz, ny, nx)`.
    pub fn shape_zyx(&self) -> (usize, usize, usize) {
        (self.size[2], self.size[1], self.size[0])
    }

    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.size.iter().product()
    }

    /// Always false: a valid grid has at least one voxel.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Voxel size along (x, y, z) in mm.
    pub fn spacing_mm(&self) -> [f64; 3] {
        self.spacing_mm
    }

    /// Centre of voxel (0, 0, 0) in world mm.
    pub fn origin_mm(&self) -> [f64; 3] {
        self.origin_mm
    }

    /// Direction matrix; column `a` is the world direction of index axis `a`.
    pub fn direction(&self) -> [[f64; 3]; 3] {
        self.direction
    }

    /// Whether the direction matrix is the identity (index axes along world axes).
    pub fn is_axis_aligned(&self) -> bool {
        self.direction == IDENTITY
    }

    /// World position (mm) of the centre of voxel `(i, j, k)`; indices may be fractional.
    pub fn world_from_index(&self, index: [f64; 3]) -> [f64; 3] {
        let d = &self.direction;
        let s = [
            index[0] * self.spacing_mm[0],
            index[1] * self.spacing_mm[1],
            index[2] * self.spacing_mm[2],
        ];
        std::array::from_fn(|r| {
            self.origin_mm[r] + d[r][0] * s[0] + d[r][1] * s[1] + d[r][2] * s[2]
        })
    }

    /// Continuous index of a world point (the inverse of [`VolumeGrid::world_from_index`]).
    pub fn index_from_world(&self, p_mm: [f64; 3]) -> [f64; 3] {
        let d = &self.direction;
        let q = [
            p_mm[0] - self.origin_mm[0],
            p_mm[1] - self.origin_mm[1],
            p_mm[2] - self.origin_mm[2],
        ];
        // The direction matrix is orthonormal, so its inverse is its transpose.
        std::array::from_fn(|c| {
            (d[0][c] * q[0] + d[1][c] * q[1] + d[2][c] * q[2]) / self.spacing_mm[c]
        })
    }

    /// Centre of the whole grid in world mm.
    pub fn center_mm(&self) -> [f64; 3] {
        self.world_from_index(std::array::from_fn(|a| 0.5 * (self.size[a] as f64 - 1.0)))
    }

    /// World z (mm) of the centre of slice `k`, for an axis-aligned grid.
    pub fn slice_z_mm(&self, k: usize) -> f64 {
        self.world_from_index([0.0, 0.0, k as f64])[2]
    }

    /// The sub-grid of slices `k0..k0 + nz` (same x/y, same spacing).
    pub fn slab(&self, k0: usize, nz: usize) -> Result<Self, GridError> {
        let origin = self.world_from_index([0.0, 0.0, k0 as f64]);
        Self::with_direction(
            [self.size[0], self.size[1], nz],
            self.spacing_mm,
            origin,
            self.direction,
        )
    }
}

const IDENTITY: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

fn is_rotation_or_reflection(d: &[[f64; 3]; 3]) -> bool {
    if d.iter().flatten().any(|v| !v.is_finite()) {
        return false;
    }
    for a in 0..3 {
        for b in 0..3 {
            let dot: f64 = (0..3).map(|r| d[r][a] * d[r][b]).sum();
            let want = if a == b { 1.0 } else { 0.0 };
            if (dot - want).abs() > 1e-6 {
                return false;
            }
        }
    }
    true
}

impl roboct_core::Recover for GridError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            GridError::ZeroSize { .. }
            | GridError::BadSpacing { .. }
            | GridError::BadCoordinate { .. }
            | GridError::BadDirection
            | GridError::TooLarge { .. } => roboct_core::Recovery::Abort,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn centred_even_grid_has_its_centre_between_voxels() {
        let g = VolumeGrid::centered([4, 4, 2], [1.0, 1.0, 2.0], [0.0, 0.0, 0.0]).unwrap();
        assert_eq!(g.origin_mm(), [-1.5, -1.5, -1.0]);
        assert_eq!(g.center_mm(), [0.0, 0.0, 0.0]);
        assert_eq!(g.shape_zyx(), (2, 4, 4));
    }

    #[test]
    fn bad_grids_name_the_axis() {
        let e = VolumeGrid::new([4, 0, 4], [1.0; 3], [0.0; 3]).unwrap_err();
        assert_eq!(e, GridError::ZeroSize { axis: 'y' });
        assert!(e.to_string().contains("size y"));
        let e = VolumeGrid::new([4, 4, 4], [1.0, 1.0, -2.0], [0.0; 3]).unwrap_err();
        assert!(matches!(e, GridError::BadSpacing { axis: 'z', .. }));
        let e = VolumeGrid::new([4, 4, 4], [1.0, f64::NAN, 1.0], [0.0; 3]).unwrap_err();
        assert!(matches!(e, GridError::BadSpacing { axis: 'y', .. }));
        let e = VolumeGrid::centered([4, 4, 4], [1.0; 3], [0.0, f64::INFINITY, 0.0]).unwrap_err();
        assert!(matches!(
            e,
            GridError::BadCoordinate {
                field: "center",
                axis: 'y',
                ..
            }
        ));
        let e = VolumeGrid::new([1 << 13, 1 << 13, 1 << 13], [1.0; 3], [0.0; 3]).unwrap_err();
        assert!(matches!(e, GridError::TooLarge { .. }));
        // The bound is 2^31 voxels exactly.
        assert!(VolumeGrid::new([1 << 11, 1 << 10, 1 << 10], [1.0; 3], [0.0; 3]).is_ok());
        let e = VolumeGrid::new([(1 << 11) + 1, 1 << 10, 1 << 10], [1.0; 3], [0.0; 3]);
        assert!(e.unwrap_err().to_string().contains("at most 2^31 voxels"));
        let skew = [[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert_eq!(
            VolumeGrid::with_direction([2; 3], [1.0; 3], [0.0; 3], skew).unwrap_err(),
            GridError::BadDirection
        );
    }

    #[test]
    fn slab_starts_at_its_first_slice() {
        let g = VolumeGrid::centered([8, 8, 10], [0.5, 0.5, 2.0], [1.0, 2.0, 3.0]).unwrap();
        let s = g.slab(4, 3).unwrap();
        assert_eq!(s.size(), [8, 8, 3]);
        assert_eq!(s.origin_mm()[2], g.slice_z_mm(4));
    }

    proptest! {
        #[test]
        fn index_and_world_are_inverse(
            theta in -3.2f64..3.2,
            flip in proptest::bool::ANY,
            p in proptest::array::uniform3(-500.0f64..500.0),
            s in proptest::array::uniform3(0.1f64..5.0),
        ) {
            let (c, sn) = (theta.cos(), theta.sin());
            let f = if flip { -1.0 } else { 1.0 };
            let dir = [[c, -sn, 0.0], [sn, c, 0.0], [0.0, 0.0, f]];
            let g = VolumeGrid::with_direction([7, 9, 11], s, [3.0, -2.0, 10.0], dir).unwrap();
            let back = g.world_from_index(g.index_from_world(p));
            for a in 0..3 {
                prop_assert!((back[a] - p[a]).abs() < 1e-9);
            }
        }
    }
}
