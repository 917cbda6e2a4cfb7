//! Patients made of materials: ordered solids, later ones painted over earlier ones, as the
//! FORBILD phantoms define their objects (an object's material replaces what lies under it).
//!
//! Everything is computed from the same exact definition: projections by sweeping each ray
//! through the solids' exact intervals and giving every stretch the material of the last solid
//! that holds it ([`Patient::project_basis`], [`Patient::project_mono`]); truth volumes by the
//! same sweep along every row of a grid, so each voxel gets the exact fraction of its row
//! segment that each material covers, supersampled across the row ([`Patient::rasterize`]).
//! No discrete projector is involved: reconstructions compared with the truth commit no
//! inverse crime.

use ndarray::{Array3, Axis};
use rayon::prelude::*;
use roboct_core::Progress;
use roboct_geometry::vec3::{Vec3, add, dot, norm, scale, sub};
use roboct_geometry::{DetectorShape, ScanGeometry, Source, View, Volume, VolumeGrid};

use crate::PhantomError;
use crate::material::{
    HU_REFERENCE_KEV, Material, mu_air_reference_per_mm, mu_water_reference_per_mm,
};
use crate::solid::{PreparedSolid, Solid};

/// The most solids a patient may have (the sweep keeps the active set in a bitset).
pub const MAX_BODIES: usize = 256;

/// What a body is, for the truth and for positioning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Organ {
    /// The outline of the head (skin).
    Head,
    /// The skull.
    Skull,
    /// The intracranial space (brain, CSF, vessels), bounded by the inner table of the skull.
    Brain,
    /// A ventricle (CSF).
    Ventricle,
    /// An eye.
    Eye,
    /// The outline of the trunk.
    Body,
    /// A lung.
    Lung,
    /// The heart.
    Heart,
    /// A vertebra or the spine.
    Spine,
    /// Anything else.
    Other,
}

/// One solid of a patient and what it is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// A name for people (`left lateral ventricle`).
    pub name: String,
    /// The shape.
    pub solid: Solid,
    /// Index into [`Patient::materials`].
    pub material: usize,
    /// What it is.
    pub organ: Organ,
    /// The finding it belongs to (index into the patient's findings), if any.
    pub finding: Option<usize>,
}

/// A patient: materials and bodies in painting order. Projections treat the background as
/// vacuum (the air around a patient attenuates about 2e-4 over a metre, and the flat field,
/// taken through the same air, removes it); truth volumes show it as air (-1000 HU).
#[derive(Clone, Debug, PartialEq)]
pub struct Patient {
    materials: Vec<Material>,
    /// `[water mm, bone mm]` per mm of each material ([`Material::basis`]).
    basis: Vec<[f64; 2]>,
    bodies: Vec<Body>,
}

impl Patient {
    /// A patient from its materials and bodies (painted in order, later over earlier). Every
    /// material must be representable as water plus bone, every body must name a material.
    pub fn new(materials: Vec<Material>, bodies: Vec<Body>) -> Result<Self, PhantomError> {
        let invalid = |message: String| PhantomError::Invalid {
            path: "<patient>".into(),
            message,
        };
        if bodies.len() > MAX_BODIES {
            return Err(invalid(format!(
                "{} bodies; at most {MAX_BODIES}",
                bodies.len()
            )));
        }
        if let Some(b) = bodies.iter().find(|b| b.material >= materials.len()) {
            return Err(invalid(format!(
                "body {:?} names material {} of {}",
                b.name,
                b.material,
                materials.len()
            )));
        }
        let basis = materials
            .iter()
            .map(Material::basis)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            materials,
            basis,
            bodies,
        })
    }

    /// The materials.
    pub fn materials(&self) -> &[Material] {
        &self.materials
    }

    /// The bodies, in painting order.
    pub fn bodies(&self) -> &[Body] {
        &self.bodies
    }

    /// The whole patient moved rigidly: `p -> rotation p + translation` (a patient lying
    /// turned or off-centre).
    pub fn transformed(&self, rotation: [[f64; 3]; 3], translation_mm: Vec3) -> Self {
        let mut out = self.clone();
        for b in &mut out.bodies {
            b.solid = b.solid.transformed(rotation, translation_mm);
        }
        out
    }

    /// The body that holds a point (the last painted), if any.
    pub fn body_at(&self, p: Vec3) -> Option<usize> {
        (0..self.bodies.len())
            .rev()
            .find(|&i| self.bodies[i].solid.contains(p))
    }

    /// Calls `f(t0, t1, body)` for each stretch of the line `origin + t dir` in increasing
    /// `t`, with the body whose material fills it; `candidates` are the bodies that may meet
    /// the line (any superset of those that do).
    pub fn sweep(
        &self,
        origin: Vec3,
        dir: Vec3,
        candidates: impl Iterator<Item = usize>,
        events: &mut Vec<(f64, u16, bool)>,
        f: impl FnMut(f64, f64, usize),
    ) {
        events.clear();
        for b in candidates {
            for &(t0, t1) in self.bodies[b].solid.intervals(origin, dir).as_slice() {
                events.push((t0, b as u16, true));
                events.push((t1, b as u16, false));
            }
        }
        paint(events, f);
    }
}

/// The painter's sweep over interval events already collected: `f(t0, t1, body)` for each
/// stretch, with the last-painted body that covers it.
fn paint(events: &mut [(f64, u16, bool)], mut f: impl FnMut(f64, f64, usize)) {
    {
        if events.is_empty() {
            return;
        }
        events.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut active = [0u64; MAX_BODIES / 64];
        let top = |active: &[u64; MAX_BODIES / 64]| -> Option<usize> {
            (0..active.len())
                .rev()
                .find(|&w| active[w] != 0)
                .map(|w| w * 64 + 63 - active[w].leading_zeros() as usize)
        };
        let mut t_prev = events[0].0;
        for &(t, b, start) in events.iter() {
            if t > t_prev
                && let Some(top) = top(&active)
            {
                f(t_prev, t, top);
            }
            let (w, bit) = (b as usize / 64, b as usize % 64);
            // Intervals of one body never overlap, so a start sets and an end clears.
            if start {
                active[w] |= 1 << bit;
            } else {
                active[w] &= !(1 << bit);
            }
            t_prev = t;
        }
    }
}

impl Patient {
    /// Line integrals in basis-material millimetres, `[water, bone]`, each `[view][row][col]`:
    /// `mu(E)` along a ray integrates to `water mu_water(E) + bone mu_bone(E)`. Each pixel is
    /// the mean of `supersample`^2 rays over its area.
    pub fn project_basis(
        &self,
        geometry: &ScanGeometry,
        supersample: usize,
        progress: &dyn Progress,
    ) -> [Array3<f32>; 2] {
        let per_body: Vec<[f64; 2]> = self.bodies.iter().map(|b| self.basis[b.material]).collect();
        let mut out = self.project_with(geometry, supersample, progress, |b| per_body[b]);
        let bone = out.pop().expect("two outputs");
        let water = out.pop().expect("two outputs");
        [water, bone]
    }

    /// Monochromatic line integrals of mu (1/mm times mm) at `energy_kev`, `[view][row][col]`.
    pub fn project_mono(
        &self,
        geometry: &ScanGeometry,
        energy_kev: f64,
        supersample: usize,
        progress: &dyn Progress,
    ) -> Array3<f32> {
        let mu: Vec<f64> = self
            .bodies
            .iter()
            .map(|b| self.materials[b.material].mu_per_mm(energy_kev))
            .collect();
        let mut out = self.project_with(geometry, supersample, progress, |b| [mu[b], 0.0]);
        out.swap_remove(0)
    }

    /// Projects with `value(body)` the per-mm contribution of a body's material (two channels).
    fn project_with(
        &self,
        geometry: &ScanGeometry,
        supersample: usize,
        progress: &dyn Progress,
        value: impl Fn(usize) -> [f64; 2] + Sync,
    ) -> Vec<Array3<f32>> {
        let (nv, rows, cols) = geometry.projection_shape();
        let det = geometry.detector();
        let n = supersample.max(1);
        let offsets: Vec<f64> = (0..n).map(|k| (k as f64 + 0.5) / n as f64 - 0.5).collect();
        let inv = 1.0 / (n * n) as f64;
        let back_mm = self.reach_mm() + 1.0;
        let mut a = Array3::<f32>::zeros((nv, rows, cols));
        let mut b = Array3::<f32>::zeros((nv, rows, cols));
        progress.start("projecting the patient", nv as u64);
        a.axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(b.axis_iter_mut(Axis(0)).into_par_iter())
            .zip(geometry.views().par_iter())
            .for_each(|((mut img_a, mut img_b), view)| {
                let boxes: Vec<PixelBox> = self
                    .bodies
                    .iter()
                    .map(|body| PixelBox::of(view, geometry, &body.solid))
                    .collect();
                // From a focal spot every ray starts at the same point: prepare the solids.
                let prepared: Option<Vec<PreparedSolid>> = match view.source {
                    Source::Point(s) => Some(
                        self.bodies
                            .iter()
                            .map(|b| PreparedSolid::new(&b.solid, s))
                            .collect(),
                    ),
                    Source::Parallel(_) => None,
                };
                let values: Vec<[f64; 2]> = (0..self.bodies.len()).map(&value).collect();
                let mut events = Vec::new();
                let mut row_bodies = Vec::new();
                let mut cands = Vec::new();
                for r in 0..rows {
                    row_bodies.clear();
                    row_bodies
                        .extend((0..self.bodies.len()).filter(|&i| boxes[i].has_row(r as f64)));
                    for c in 0..cols {
                        cands.clear();
                        cands.extend(
                            row_bodies
                                .iter()
                                .copied()
                                .filter(|&i| boxes[i].has_col(c as f64)),
                        );
                        if cands.is_empty() {
                            continue;
                        }
                        let mut sum = [0.0f64; 2];
                        for &dr in &offsets {
                            for &dc in &offsets {
                                let (o, d) = view.ray(
                                    det,
                                    det.u_mm(c as f64 + dc),
                                    det.v_mm(r as f64 + dr),
                                    back_mm,
                                );
                                let add = |t0: f64, t1: f64, body: usize| {
                                    let v = values[body];
                                    sum[0] += (t1 - t0) * v[0];
                                    sum[1] += (t1 - t0) * v[1];
                                };
                                match &prepared {
                                    Some(p) => {
                                        events.clear();
                                        for &b in &cands {
                                            for &(t0, t1) in p[b].intervals(d).as_slice() {
                                                events.push((t0, b as u16, true));
                                                events.push((t1, b as u16, false));
                                            }
                                        }
                                        paint(&mut events, add);
                                    }
                                    None => {
                                        self.sweep(o, d, cands.iter().copied(), &mut events, add)
                                    }
                                }
                            }
                        }
                        img_a[[r, c]] = (sum[0] * inv) as f32;
                        img_b[[r, c]] = (sum[1] * inv) as f32;
                    }
                }
                progress.advance(1);
            });
        progress.finish();
        vec![a, b]
    }

    /// A distance from the origin beyond which the patient holds nothing.
    fn reach_mm(&self) -> f64 {
        self.bodies
            .iter()
            .map(|b| {
                let (c, r) = b.solid.bounding_sphere();
                norm(c) + r
            })
            .fold(0.0, f64::max)
    }

    /// The patient sampled on `grid`: each voxel's mean attenuation at [`HU_REFERENCE_KEV`] in
    /// HU, exact along the grid's x rows and the mean of `supersample`^2 rows across them.
    pub fn rasterize(&self, grid: &VolumeGrid, supersample: usize) -> Raster {
        let (nz, ny, nx) = grid.shape_zyx();
        let n = supersample.max(1);
        let offsets: Vec<f64> = (0..n).map(|k| (k as f64 + 0.5) / n as f64 - 0.5).collect();
        let inv = 1.0 / (n * n) as f64;
        let sx = grid.spacing_mm()[0];
        let x_dir = {
            let d = grid.direction();
            [d[0][0], d[1][0], d[2][0]]
        };
        let mu: Vec<f64> = self
            .bodies
            .iter()
            .map(|b| self.materials[b.material].mu_per_mm(HU_REFERENCE_KEV))
            .collect();
        let findings = self
            .bodies
            .iter()
            .filter_map(|b| b.finding)
            .max()
            .map_or(0, |m| m + 1);
        let (mu_w, mu_a) = (mu_water_reference_per_mm(), mu_air_reference_per_mm());
        let spheres: Vec<(Vec3, f64)> = self
            .bodies
            .iter()
            .map(|b| b.solid.bounding_sphere())
            .collect();
        type Slice = (Array3<f32>, Vec<Array3<f32>>, ndarray::Array2<u16>);
        let slices: Vec<Slice> = (0..nz)
            .into_par_iter()
            .map(|k| {
                let mut hu = Array3::<f32>::zeros((1, ny, nx));
                let mut fractions = vec![Array3::<f32>::zeros((1, ny, nx)); findings];
                let mut labels = ndarray::Array2::<u16>::from_elem((ny, nx), u16::MAX);
                let mut events = Vec::new();
                let mut mu_row = vec![0.0f64; nx];
                let mut cover_row = vec![0.0f64; nx];
                let mut finding_rows = vec![vec![0.0f64; nx]; findings];
                for j in 0..ny {
                    mu_row.iter_mut().for_each(|v| *v = 0.0);
                    cover_row.iter_mut().for_each(|v| *v = 0.0);
                    finding_rows
                        .iter_mut()
                        .for_each(|r| r.iter_mut().for_each(|v| *v = 0.0));
                    for &dz in &offsets {
                        for &dy in &offsets {
                            // The row line through x index -0.5 (the first voxel's edge).
                            let origin =
                                grid.world_from_index([-0.5, j as f64 + dy, k as f64 + dz]);
                            let cands = (0..self.bodies.len()).filter(|&b| {
                                let (c, r) = spheres[b];
                                let v = sub(c, origin);
                                let along = dot(v, x_dir);
                                dot(v, v) - along * along <= r * r
                            });
                            self.sweep(origin, x_dir, cands, &mut events, |t0, t1, body| {
                                // Stretches in index units along x, clipped to the row.
                                let (a, b) = ((t0 / sx).max(0.0), (t1 / sx).min(nx as f64));
                                if a >= b {
                                    return;
                                }
                                let (i0, i1) = (a.floor() as usize, (b.ceil() as usize).min(nx));
                                for i in i0..i1 {
                                    let cover = (b.min(i as f64 + 1.0) - a.max(i as f64)).max(0.0);
                                    mu_row[i] += cover * mu[body];
                                    cover_row[i] += cover;
                                    if let Some(f) = self.bodies[body].finding {
                                        finding_rows[f][i] += cover;
                                    }
                                }
                            });
                        }
                    }
                    // The label: the body at each voxel centre.
                    let origin = grid.world_from_index([-0.5, j as f64, k as f64]);
                    let cands = (0..self.bodies.len()).filter(|&b| {
                        let (c, r) = spheres[b];
                        let v = sub(c, origin);
                        let along = dot(v, x_dir);
                        dot(v, v) - along * along <= r * r
                    });
                    self.sweep(origin, x_dir, cands, &mut events, |t0, t1, body| {
                        let (a, b) = (t0 / sx, t1 / sx);
                        let first = (a - 0.5).ceil().max(0.0) as usize;
                        let mut i = first;
                        while i < nx && (i as f64 + 0.5) < b {
                            labels[[j, i]] = body as u16;
                            i += 1;
                        }
                    });
                    for i in 0..nx {
                        // What no body covers is air (the truth's background).
                        let m = (mu_row[i] + (1.0 / inv - cover_row[i]).max(0.0) * mu_a) * inv;
                        hu[[0, j, i]] = (1000.0 * (m - mu_w) / (mu_w - mu_a)) as f32;
                        for f in 0..findings {
                            fractions[f][[0, j, i]] = (finding_rows[f][i] * inv) as f32;
                        }
                    }
                }
                (hu, fractions, labels)
            })
            .collect();
        let mut hu = Array3::<f32>::zeros((nz, ny, nx));
        let mut fractions = vec![Array3::<f32>::zeros((nz, ny, nx)); findings];
        let mut labels = Array3::<u16>::from_elem((nz, ny, nx), u16::MAX);
        for (k, (h, f, l)) in slices.into_iter().enumerate() {
            hu.index_axis_mut(Axis(0), k)
                .assign(&h.index_axis(Axis(0), 0));
            for (dst, src) in fractions.iter_mut().zip(f) {
                dst.index_axis_mut(Axis(0), k)
                    .assign(&src.index_axis(Axis(0), 0));
            }
            labels.index_axis_mut(Axis(0), k).assign(&l);
        }
        Raster {
            hu: Volume::from_array(grid.clone(), hu).expect("grid shape"),
            finding_fractions: fractions,
            labels,
        }
    }
}

impl Patient {
    /// Volume, centroid and extent of the region the selected bodies fill where they are on
    /// top (what a scan would see of them), measured on a grid of `voxel_mm` over their
    /// bounding box, exactly along its rows and with 2 x 2 rows per voxel across them.
    /// `None` when nothing selected is visible.
    pub fn measure(&self, select: impl Fn(&Body) -> bool + Sync, voxel_mm: f64) -> Option<Measure> {
        let chosen: Vec<usize> = (0..self.bodies.len())
            .filter(|&i| select(&self.bodies[i]))
            .collect();
        if chosen.is_empty() || !(voxel_mm > 0.0) {
            return None;
        }
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for &i in &chosen {
            let (a, b) = self.bodies[i].solid.bounding_box();
            for k in 0..3 {
                lo[k] = lo[k].min(a[k]);
                hi[k] = hi[k].max(b[k]);
            }
        }
        let n: [usize; 3] =
            std::array::from_fn(|k| ((hi[k] - lo[k]) / voxel_mm).ceil() as usize + 1);
        let spheres: Vec<(Vec3, f64)> = self
            .bodies
            .iter()
            .map(|b| b.solid.bounding_sphere())
            .collect();
        let is_chosen: Vec<bool> = (0..self.bodies.len())
            .map(|i| chosen.contains(&i))
            .collect();
        let sub = [0.25, 0.75];
        // Per z plane: (volume mm^3, first moments, z range hit, x/y ranges hit).
        // Per plane: volume, first moments, and the x, y, z ranges met.
        type Plane = (f64, Vec3, [f64; 2], [f64; 2], [f64; 2]);
        let planes: Vec<Plane> = (0..n[2])
            .into_par_iter()
            .map(|k| {
                let mut events = Vec::new();
                let mut vol = 0.0;
                let mut m = [0.0; 3];
                let (mut zr, mut xr, mut yr) = (
                    [f64::INFINITY, f64::NEG_INFINITY],
                    [f64::INFINITY, f64::NEG_INFINITY],
                    [f64::INFINITY, f64::NEG_INFINITY],
                );
                for j in 0..n[1] {
                    for dz in sub {
                        for dy in sub {
                            let z = lo[2] + (k as f64 + dz) * voxel_mm;
                            let y = lo[1] + (j as f64 + dy) * voxel_mm;
                            let origin = [lo[0] - voxel_mm, y, z];
                            let cands = (0..self.bodies.len()).filter(|&b| {
                                let (c, r) = spheres[b];
                                let (dy, dz) = (c[1] - y, c[2] - z);
                                dy * dy + dz * dz <= r * r
                            });
                            self.sweep(
                                origin,
                                [1.0, 0.0, 0.0],
                                cands,
                                &mut events,
                                |t0, t1, body| {
                                    if is_chosen[body] {
                                        let w = (t1 - t0) * voxel_mm * voxel_mm * 0.25;
                                        let (x0, x1) = (origin[0] + t0, origin[0] + t1);
                                        vol += w;
                                        m[0] += w * 0.5 * (x0 + x1);
                                        m[1] += w * y;
                                        m[2] += w * z;
                                        zr = [zr[0].min(z), zr[1].max(z)];
                                        yr = [yr[0].min(y), yr[1].max(y)];
                                        xr = [xr[0].min(x0), xr[1].max(x1)];
                                    }
                                },
                            );
                        }
                    }
                }
                (vol, m, xr, yr, zr)
            })
            .collect();
        let mut vol = 0.0;
        let mut m = [0.0; 3];
        let mut min = [f64::INFINITY; 3];
        let mut max = [f64::NEG_INFINITY; 3];
        for (v, mm, xr, yr, zr) in planes {
            vol += v;
            for k in 0..3 {
                m[k] += mm[k];
            }
            for (k, r) in [xr, yr, zr].into_iter().enumerate() {
                min[k] = min[k].min(r[0]);
                max[k] = max[k].max(r[1]);
            }
        }
        (vol > 0.0).then(|| Measure {
            volume_ml: vol / 1000.0,
            centroid_mm: m.map(|v| v / vol),
            min_mm: min,
            max_mm: max,
        })
    }
}

/// What [`Patient::measure`] found.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measure {
    /// Volume, mL.
    pub volume_ml: f64,
    /// Centroid, world mm.
    pub centroid_mm: Vec3,
    /// Lowest corner of the region's extent, world mm (to within the measuring voxel).
    pub min_mm: Vec3,
    /// Highest corner, world mm.
    pub max_mm: Vec3,
}

/// A patient sampled on a grid.
#[derive(Clone, Debug)]
pub struct Raster {
    /// Mean attenuation per voxel in HU at [`HU_REFERENCE_KEV`].
    pub hu: Volume,
    /// Per finding, the fraction of each voxel it fills (0..1).
    pub finding_fractions: Vec<Array3<f32>>,
    /// The body at each voxel centre (`u16::MAX`: none).
    pub labels: Array3<u16>,
}

/// The detector rows and columns a solid can cast a shadow on in one view (conservative).
#[derive(Clone, Copy, Debug)]
struct PixelBox {
    rows: (f64, f64),
    cols: (f64, f64),
}

impl PixelBox {
    const EVERYWHERE: PixelBox = PixelBox {
        rows: (f64::NEG_INFINITY, f64::INFINITY),
        cols: (f64::NEG_INFINITY, f64::INFINITY),
    };

    /// Projects the solid's bounding box's corners. The maps from a point to (column, row) of
    /// a flat detector and to the column of a cylindrical one are linear-fractional, whose
    /// extremes over a box lie at its corners; a cylindrical detector's row (height over
    /// in-plane distance) is bounded with the box's range of in-plane distances. One pixel of
    /// margin covers the supersampled rays.
    fn of(view: &View, geometry: &ScanGeometry, solid: &Solid) -> PixelBox {
        let det = geometry.detector();
        let (lo, hi) = solid.bounding_box();
        let mut cols = (f64::INFINITY, f64::NEG_INFINITY);
        let mut rows = (f64::INFINITY, f64::NEG_INFINITY);
        let corners = (0..8).map(|c| {
            std::array::from_fn::<f64, 3, _>(|a| if c >> a & 1 == 1 { hi[a] } else { lo[a] })
        });
        match (view.source, det.shape) {
            (Source::Point(s), DetectorShape::Cylindrical) => {
                let c = sub(view.detector_mm, s);
                let radius = norm(c);
                let chat = scale(c, 1.0 / radius);
                let centre = scale(add(lo, hi), 0.5);
                let half_diag = 0.5 * norm(sub(hi, lo));
                let rel = sub(centre, s);
                let (along, side) = (dot(rel, chat), dot(rel, view.u_dir));
                let l_mid = (along * along + side * side).sqrt();
                let (l_lo, l_hi) = (l_mid - half_diag, l_mid + half_diag);
                if l_lo <= 1e-6 {
                    return Self::EVERYWHERE;
                }
                for p in corners {
                    let rel = sub(p, s);
                    let (a, b, h) = (dot(rel, chat), dot(rel, view.u_dir), dot(rel, view.v_dir));
                    if a <= 0.0 {
                        return Self::EVERYWHERE;
                    }
                    let u = radius * b.atan2(a);
                    cols.0 = cols.0.min(u);
                    cols.1 = cols.1.max(u);
                    for l in [l_lo, l_hi] {
                        let v = h * radius / l;
                        rows.0 = rows.0.min(v);
                        rows.1 = rows.1.max(v);
                    }
                }
            }
            _ => {
                for p in corners {
                    let Some((u, v, _)) = view.project(det, p) else {
                        return Self::EVERYWHERE;
                    };
                    cols.0 = cols.0.min(u);
                    cols.1 = cols.1.max(u);
                    rows.0 = rows.0.min(v);
                    rows.1 = rows.1.max(v);
                }
            }
        }
        PixelBox {
            cols: (det.col_of(cols.0) - 1.0, det.col_of(cols.1) + 1.0),
            rows: (det.row_of(rows.0) - 1.0, det.row_of(rows.1) + 1.0),
        }
        .ordered()
    }

    /// Detector axes may point either way: keep (low, high).
    fn ordered(self) -> Self {
        let o = |(a, b): (f64, f64)| if a <= b { (a, b) } else { (b, a) };
        Self {
            rows: o(self.rows),
            cols: o(self.cols),
        }
    }

    fn has_row(&self, r: f64) -> bool {
        r >= self.rows.0 && r <= self.rows.1
    }

    fn has_col(&self, c: f64) -> bool {
        c >= self.cols.0 && c <= self.cols.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::material::Tissue;
    use crate::solid::{HalfSpace, Quadric, rot_x_deg};
    use roboct_core::NoProgress;
    use roboct_geometry::{Beam, CircularScan, Detector, even_angles};

    fn two_balls() -> Patient {
        let water = Tissue::Water.material();
        let bone = Tissue::CorticalBone.material();
        Patient::new(
            vec![water, bone],
            vec![
                Body {
                    name: "water ball".into(),
                    solid: Solid::ellipsoid(Quadric::new([0.0; 3], [40.0; 3])),
                    material: 0,
                    organ: Organ::Other,
                    finding: None,
                },
                Body {
                    name: "bone ball inside".into(),
                    solid: Solid::ellipsoid(Quadric::new([10.0, 0.0, 0.0], [10.0; 3])),
                    material: 1,
                    organ: Organ::Other,
                    finding: Some(0),
                },
            ],
        )
        .unwrap()
    }

    #[test]
    fn painter_sweep_replaces_the_material_underneath() {
        let p = two_balls();
        let mut events = Vec::new();
        let mut by_body = [0.0f64; 2];
        p.sweep(
            [-100.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            0..2,
            &mut events,
            |a, b, body| by_body[body] += b - a,
        );
        // 80 mm of ball, of which the 20 mm of the inner ball are bone.
        assert!((by_body[0] - 60.0).abs() < 1e-9 && (by_body[1] - 20.0).abs() < 1e-9);
    }

    fn cone(shape: DetectorShape) -> ScanGeometry {
        CircularScan {
            beam: Beam::Divergent,
            sid_mm: 300.0,
            sdd_mm: 500.0,
            detector: Detector::centered(48, 40, [3.0, 3.0], [4.0, -3.0], shape),
            angles_rad: even_angles(0.0, 2.0 * std::f64::consts::PI, 7),
            detector_rotation_rad: 0.0,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn culled_projection_equals_the_brute_force_sweep() {
        // Off-centre, turned and clipped solids, flat and curved panels: the per-view pixel
        // boxes never drop a body that a ray meets.
        let mats = vec![Tissue::Water.material(), Tissue::CorticalBone.material()];
        let bodies = (0..6)
            .map(|i| {
                let f = i as f64;
                Body {
                    name: format!("b{i}"),
                    solid: Solid::ellipsoid(
                        Quadric::new(
                            [20.0 * f - 50.0, 8.0 * f - 20.0, 15.0 - 6.0 * f],
                            [30.0, 12.0, 18.0],
                        )
                        .rotated(rot_x_deg(25.0 * f)),
                    )
                    .clip(HalfSpace::below(
                        [0.0, 0.0, 5.0 * f - 10.0],
                        [0.3, 0.1, 1.0],
                    )),
                    material: i % 2,
                    organ: Organ::Other,
                    finding: None,
                }
            })
            .collect();
        let p = Patient::new(mats, bodies).unwrap();
        for shape in [DetectorShape::Flat, DetectorShape::Cylindrical] {
            let g = cone(shape);
            let [w, b] = p.project_basis(&g, 1, &NoProgress);
            let det = g.detector();
            let mut events = Vec::new();
            for (v, view) in g.views().iter().enumerate() {
                for r in 0..det.rows {
                    for c in 0..det.cols {
                        let (o, d) = view.ray(det, det.u_mm(c as f64), det.v_mm(r as f64), 500.0);
                        let mut sum = [0.0f64; 2];
                        p.sweep(o, d, 0..6, &mut events, |t0, t1, body| {
                            let k = p.basis[p.bodies[body].material];
                            sum[0] += (t1 - t0) * k[0];
                            sum[1] += (t1 - t0) * k[1];
                        });
                        assert!(
                            (w[[v, r, c]] as f64 - sum[0]).abs() < 1e-3,
                            "{shape:?} {v} {r} {c}"
                        );
                        assert!((b[[v, r, c]] as f64 - sum[1]).abs() < 1e-3);
                    }
                }
            }
        }
    }

    #[test]
    fn monochromatic_projection_of_a_ball_is_its_chord_times_mu() {
        let p = two_balls();
        let g = cone(DetectorShape::Flat);
        let mono = p.project_mono(&g, 60.0, 1, &NoProgress);
        let [w, b] = p.project_basis(&g, 1, &NoProgress);
        let (mw, mb) = (
            Tissue::Water.material().mu_per_mm(60.0),
            Tissue::CorticalBone.material().mu_per_mm(60.0),
        );
        for ((m, w), b) in mono.iter().zip(w.iter()).zip(b.iter()) {
            let basis = *w as f64 * mw + *b as f64 * mb;
            assert!(
                (basis - *m as f64).abs() < 1e-4 * (1.0 + *m as f64),
                "{basis} vs {m}"
            );
        }
        assert!(mono.iter().any(|&v| v > 1.0));
    }

    #[test]
    fn rasterized_truth_has_the_exact_volume_and_hu() {
        let p = two_balls();
        let grid = VolumeGrid::centered([48, 48, 48], [2.0; 3], [0.0; 3]).unwrap();
        let r = p.rasterize(&grid, 3);
        // The inner ball: 4/3 pi 10^3 mm^3.
        let v_mm3: f64 = r.finding_fractions[0].iter().map(|&f| f as f64 * 8.0).sum();
        let exact = 4.0 / 3.0 * std::f64::consts::PI * 1000.0;
        assert!((v_mm3 / exact - 1.0).abs() < 0.01, "{v_mm3} vs {exact}");
        let m = p.measure(|b| b.finding == Some(0), 0.5).unwrap();
        assert!((m.volume_ml * 1000.0 / exact - 1.0).abs() < 0.005, "{m:?}");
        assert!((m.centroid_mm[0] - 10.0).abs() < 0.05 && m.centroid_mm[1].abs() < 0.05);
        assert!(
            (m.min_mm[0] - 0.0).abs() < 0.3 && (m.max_mm[2] - 10.0).abs() < 0.3,
            "{m:?}"
        );
        // The water seen is the ball minus the bone painted over it.
        let w = p.measure(|b| b.material == 0, 1.0).unwrap();
        let water = 4.0 / 3.0 * std::f64::consts::PI * (64000.0 - 1000.0);
        assert!((w.volume_ml * 1000.0 / water - 1.0).abs() < 0.01, "{w:?}");
        // Water reads 0 HU, bone its 70 keV CT number, outside -1000.
        let bone_hu = Tissue::CorticalBone.material().hu();
        let at = |x: f64, y: f64, z: f64| {
            let i = grid.index_from_world([x, y, z]).map(|v| v.round() as usize);
            r.hu.data()[[i[2], i[1], i[0]]]
        };
        assert!(at(-21.0, 1.0, 1.0).abs() < 1e-3);
        assert!((at(11.0, 1.0, 1.0) as f64 - bone_hu).abs() < 1e-2);
        assert!((at(-61.0, 1.0, 1.0) + 1000.0).abs() < 1e-3);
        let label = |x: f64| {
            let i = grid
                .index_from_world([x, 1.0, 1.0])
                .map(|v| v.round() as usize);
            r.labels[[i[2], i[1], i[0]]]
        };
        assert_eq!((label(-21.0), label(11.0), label(-61.0)), (0, 1, u16::MAX));
    }
}
