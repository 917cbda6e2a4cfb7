//! # Conventions: frames, angles, index orders and units
//!
//! Everything in roboct follows this page. It is the only place they are defined.
//!
//! ## Units
//!
//! * Lengths in **millimetres** (as DICOM), everywhere: geometry, voxel and pixel sizes.
//! * Angles are **stored in radians** and **shown in degrees** (geometry files and CLI take
//!   degrees: `start_deg`, `rotation_deg`).
//! * Projections are **line integrals of the linear attenuation coefficient mu**, unitless
//!   (mu in 1/mm times path length in mm); reconstructions are **mu in 1/mm**. Hounsfield
//!   units are computed from mu with `roboct_core::units::hu_from_mu`.
//!
//! ## The world frame
//!
//! A right-handed frame, in mm, fixed to the scanner: **z is the rotation axis** (the table
//! and patient axis), the isocentre is the origin. With the patient supine and head first,
//! this is the DICOM patient frame (LPS: +x to the patient's left, +y posterior, +z head).
//!
//! ```text
//!                      +y (posterior)
//!                       ^
//!                       |        detector (at angle 0: a flat panel along +x, beyond +y)
//!          u (columns)  | ===========================  <- pixel (row r, col c) at
//!          ------------>|                                  detector + u_mm(c) u + v_mm(r) v
//!                       |     . . ray . .
//!                       |   .          .
//!      -----------------O--------------------> +x (patient's left)
//!            isocentre /| \           z (rotation axis, rows along +v) points out of the page
//!                     / |  angle beta grows counter-clockwise seen from +z:
//!                    /  |  the source goes from -y towards +x
//!                       |
//!                       * source at angle 0: (0, -SID, 0)
//! ```
//!
//! For a circular scan at gantry angle `beta` (any scan kind):
//!
//! | what | where |
//! | --- | --- |
//! | source (fan, cone) | `SID (sin b, -cos b, 0)` |
//! | detector reference point, u = v = 0 | `(SDD - SID) (-sin b, cos b, 0)` |
//! | `u` (along growing column index) | `(cos b, sin b, 0)`: the direction the source moves |
//! | `v` (along growing row index) | `(0, 0, 1)` |
//! | parallel rays | along `(-sin b, cos b, 0)`, from the source side to the detector |
//!
//! The detector pixel `(row r, col c)` has detector coordinates `u_mm(c) = origin_u + c *
//! pixel_u` and `v_mm(r) = origin_v + r * pixel_v` (RTK's projection-image origin and spacing).
//! A centred detector has `origin_u = -(cols - 1) / 2 * pixel_u`; `offset_mm` in a geometry
//! file moves it. A curved (`arc`, cylindrical) detector is a cylinder of radius SDD about the
//! source with its axis along `v`; its `u` is the arc length, so its columns are equiangular.
//!
//! A **view** in general (any trajectory, `kind = "vec"`) is the source position (or the ray
//! direction), the detector reference point and the unit vectors `u`, `v`, as ASTRA's
//! `cone_vec`/`parallel3d_vec`: see [`crate::scan::View`].
//!
//! ## Index orders
//!
//! * **Volumes** are arrays `[z][y][x]` in C order (x fastest), shape `(nz, ny, nx)`. Voxel
//!   `(i, j, k)` (along x, y, z) is centred at `origin + direction * (i sx, j sy, k sz)`, the
//!   ITK/RTK convention, where `origin` is the centre of voxel (0, 0, 0), not its corner. Grids
//!   built by roboct have the identity direction: x grows with `i`, y with `j`, z with `k`.
//! * **Projections** are arrays `[view][row][col]`, shape `(views, rows, cols)`: rows along
//!   `v` (z for a circular scan), columns along `u`.
//! * PNG slices show row 0 (smallest y: anterior) at the top, the radiological convention.
//!
//! ## The same thing in RTK
//!
//! RTK's world frame has the rotation axis along **y**. Our frame is RTK's turned by
//! [`crate::RTK_TO_ROBOCT`], a proper rotation: RTK's `(x, y, z)` is our `(x, -z, y)`.
//!
//! * RTK's gantry angle is our `beta`, same sign: RTK's source at gantry 0 is at `+z_rtk`,
//!   which is our `-y`. RTK's in-plane angle is our `[detector] rotation_deg`.
//! * RTK's projection images are our projections unchanged (x = column, y = row, z = view),
//!   their origin and spacing are our detector `origin_mm` and `pixel_mm`.
//! * Our geometries are built by RTK's own construction (`ThreeDCircularProjectionGeometry`
//!   matrices, [`crate::RtkProjection::matrix`]) followed by that rotation; reading RTK's XML
//!   checks every matrix as RTK does, and `roboct geometry g.toml --rtk-xml g.xml` writes ours
//!   for RTK.
//! * A volume reconstructed from an RTK geometry file is in RTK's frame, on RTK's grid
//!   (`--dimension`, `--spacing`, `--origin` as `rtkfdk` takes them), so it compares voxel for
//!   voxel with `rtkfdk`'s output. The same volume in our frame: `ours[z][y][x] =
//!   rtk[-y][z][x]`, i.e. RTK's array `[k][j][i]` holds our voxel `x = i, z = j, y = -k`
//!   (tested in `crates/roboct/tests/ct_cli.rs`).
//!
//! ## The same thing in ASTRA
//!
//! (From ASTRA's `geom_2vec` and its 3D kernels; see `bench/compare/README.md`.)
//!
//! * ASTRA's `cone` and `parallel3d` geometries at angle `theta` have exactly our vectors for
//!   `beta = theta`: source `(sin, -cos, 0) DSO`, detector centre `(-sin, cos, 0) ODD`, u
//!   `(cos, sin, 0) pixel_u`, v `(0, 0, pixel_v)`. Their angles grow counter-clockwise too.
//!   ASTRA's parallel ray vector points the other way, which changes no line integral.
//! * ASTRA's 3D volumes are `(slices, rows, cols)` = `[z][y][x]` with y growing with the row
//!   and z with the slice: the same array as ours, no flip.
//! * ASTRA's 3D projection data are `(det_row, angle, det_col)`: swap the first two axes to get
//!   ours, `ours[view][row][col] = astra[row][view][col]`. ASTRA's detector centre `d` is the
//!   centre of its pixel grid, as our centred detector's reference point.
//! * ASTRA's **2D** volumes put row 0 at the *largest* y (unlike its 3D ones): our 2D slice
//!   `[0][j][i]` is ASTRA's 2D image `[ny - 1 - j][i]`. 2D sinograms are `(angles, detectors)`
//!   = our `[view][0][col]`.
