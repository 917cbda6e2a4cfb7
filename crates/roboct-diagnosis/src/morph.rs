//! Volume operations the reader is built from, on flat `[z][y][x]` buffers in C order: exact
//! Euclidean distance transforms with anisotropic voxels (Felzenszwalb & Huttenlocher, Theory
//! of Computing 2012), connected components, flood fill from the in-plane border, and a
//! separable binomial smoothing. Every one is linear in the number of voxels, so a 512 x 512 x
//! 300 volume (read on a grid of about 1 mm) stays within the reader's time budget.
//!
//! Tests: `edt_matches_brute_force`, `components_and_sizes`, `flood_stops_at_walls`,
//! `smoothing_keeps_constants` below.

use rayon::prelude::*;

/// The shape of a volume `[z][y][x]` and its voxel size (x, y, z) in mm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dims {
    /// Slices.
    pub nz: usize,
    /// Rows.
    pub ny: usize,
    /// Columns.
    pub nx: usize,
    /// Voxel size (x, y, z), mm.
    pub spacing_mm: [f64; 3],
}

impl Dims {
    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.nz * self.ny * self.nx
    }

    /// Whether there are no voxels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flat index of `(z, y, x)`.
    #[inline]
    pub fn at(&self, z: usize, y: usize, x: usize) -> usize {
        (z * self.ny + y) * self.nx + x
    }

    /// `(z, y, x)` of a flat index.
    #[inline]
    pub fn zyx(&self, i: usize) -> (usize, usize, usize) {
        let x = i % self.nx;
        let y = (i / self.nx) % self.ny;
        (i / (self.nx * self.ny), y, x)
    }

    /// Volume of one voxel, mL.
    pub fn voxel_ml(&self) -> f64 {
        self.spacing_mm.iter().product::<f64>() / 1000.0
    }

    /// The six face neighbours of flat index `i`.
    #[inline]
    pub fn neighbours6(&self, i: usize, out: &mut [usize; 6]) -> usize {
        let (z, y, x) = self.zyx(i);
        let mut n = 0;
        let plane = self.nx * self.ny;
        if x > 0 {
            out[n] = i - 1;
            n += 1;
        }
        if x + 1 < self.nx {
            out[n] = i + 1;
            n += 1;
        }
        if y > 0 {
            out[n] = i - self.nx;
            n += 1;
        }
        if y + 1 < self.ny {
            out[n] = i + self.nx;
            n += 1;
        }
        if z > 0 {
            out[n] = i - plane;
            n += 1;
        }
        if z + 1 < self.nz {
            out[n] = i + plane;
            n += 1;
        }
        n
    }
}

/// One-dimensional squared distance transform of `f` (sampled `step` mm apart) into `d`
/// (Felzenszwalb & Huttenlocher's lower envelope of parabolas).
fn dt1d(f: &[f32], step: f32, d: &mut [f32], v: &mut [usize], zb: &mut [f32]) {
    let n = f.len();
    let s2 = step * step;
    let mut k = 0usize;
    // Skip leading infinities: the envelope starts at the first finite sample.
    let Some(first) = f.iter().position(|x| x.is_finite()) else {
        d.iter_mut().for_each(|x| *x = f32::INFINITY);
        return;
    };
    v[0] = first;
    zb[0] = f32::NEG_INFINITY;
    zb[1] = f32::INFINITY;
    for q in first + 1..n {
        if !f[q].is_finite() {
            continue;
        }
        loop {
            let p = v[k];
            let s = ((f[q] + s2 * (q * q) as f32) - (f[p] + s2 * (p * p) as f32))
                / (2.0 * s2 * (q as f32 - p as f32));
            if s <= zb[k] && k > 0 {
                k -= 1;
                continue;
            }
            if s <= zb[k] {
                // k == 0: the new parabola replaces the first one.
                v[0] = q;
                zb[0] = f32::NEG_INFINITY;
                zb[1] = f32::INFINITY;
                break;
            }
            k += 1;
            v[k] = q;
            zb[k] = s;
            zb[k + 1] = f32::INFINITY;
            break;
        }
    }
    k = 0;
    for (q, out) in d.iter_mut().enumerate() {
        while zb[k + 1] < q as f32 {
            k += 1;
        }
        let p = v[k];
        let dq = q as f32 - p as f32;
        *out = s2 * dq * dq + f[p];
    }
}

/// Exact Euclidean distance (mm) from every voxel to the nearest voxel where `set` holds;
/// infinite everywhere when it holds nowhere.
pub fn distance_mm(set: &[bool], dims: Dims) -> Vec<f32> {
    let Dims {
        nz,
        ny,
        nx,
        spacing_mm,
    } = dims;
    let mut g: Vec<f32> = set
        .iter()
        .map(|&b| if b { 0.0 } else { f32::INFINITY })
        .collect();
    // x lines.
    g.par_chunks_mut(nx).for_each_init(
        || (vec![0.0f32; nx], vec![0usize; nx], vec![0.0f32; nx + 1]),
        |(d, v, z), line| {
            dt1d(line, spacing_mm[0] as f32, d, v, z);
            line.copy_from_slice(d);
        },
    );
    // y lines, one slice per task.
    g.par_chunks_mut(nx * ny).for_each_init(
        || {
            (
                vec![0.0f32; ny],
                vec![0.0f32; ny],
                vec![0usize; ny],
                vec![0.0f32; ny + 1],
            )
        },
        |(f, d, v, z), slice| {
            for x in 0..nx {
                for y in 0..ny {
                    f[y] = slice[y * nx + x];
                }
                dt1d(f, spacing_mm[1] as f32, d, v, z);
                for y in 0..ny {
                    slice[y * nx + x] = d[y];
                }
            }
        },
    );
    // z lines: gather columns, one row y per task.
    if nz > 1 {
        let plane = nx * ny;
        let columns: Vec<(usize, Vec<f32>)> = (0..ny)
            .into_par_iter()
            .map(|y| {
                let mut f = vec![0.0f32; nz];
                let mut d = vec![0.0f32; nz];
                let mut v = vec![0usize; nz];
                let mut zb = vec![0.0f32; nz + 1];
                let mut out = vec![0.0f32; nz * nx];
                for x in 0..nx {
                    for z in 0..nz {
                        f[z] = g[z * plane + y * nx + x];
                    }
                    dt1d(&f, spacing_mm[2] as f32, &mut d, &mut v, &mut zb);
                    for z in 0..nz {
                        out[z * nx + x] = d[z];
                    }
                }
                (y, out)
            })
            .collect();
        for (y, out) in columns {
            for z in 0..nz {
                g[z * plane + y * nx..z * plane + y * nx + nx]
                    .copy_from_slice(&out[z * nx..z * nx + nx]);
            }
        }
    }
    g.par_iter_mut().for_each(|v| *v = v.sqrt());
    g
}

/// Connected components of `mask` (6-connected): a label per voxel (0: background, 1..)
/// and the size of each label (index 0 unused).
pub fn components(mask: &[bool], dims: Dims) -> (Vec<u32>, Vec<usize>) {
    let mut labels = vec![0u32; mask.len()];
    let mut sizes = vec![0usize];
    let mut stack = Vec::new();
    let mut nb = [0usize; 6];
    for start in 0..mask.len() {
        if !mask[start] || labels[start] != 0 {
            continue;
        }
        let label = sizes.len() as u32;
        let mut size = 0usize;
        labels[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            size += 1;
            let n = dims.neighbours6(i, &mut nb);
            for &j in &nb[..n] {
                if mask[j] && labels[j] == 0 {
                    labels[j] = label;
                    stack.push(j);
                }
            }
        }
        sizes.push(size);
    }
    (labels, sizes)
}

/// The voxels of `passable` reached, slice by slice (4-connected within each slice), from the
/// passable voxels on the slice's border. Slice by slice, because the cranial cavity is open
/// in 3D (the foramen magnum leads down the spinal canal, and a scan range may cut the head)
/// but closed by the skull's ring in every axial slice above the skull base.
pub fn reached_from_border(passable: &[bool], dims: Dims) -> Vec<bool> {
    let (ny, nx) = (dims.ny, dims.nx);
    let plane = nx * ny;
    let mut seen = vec![false; passable.len()];
    seen.par_chunks_mut(plane)
        .zip(passable.par_chunks(plane))
        .for_each_init(Vec::new, |stack, (seen, pass)| {
            for y in 0..ny {
                for x in 0..nx {
                    let edge = x == 0 || y == 0 || x + 1 == nx || y + 1 == ny;
                    let i = y * nx + x;
                    if edge && pass[i] && !seen[i] {
                        seen[i] = true;
                        stack.push(i);
                    }
                }
            }
            while let Some(i) = stack.pop() {
                let (y, x) = (i / nx, i % nx);
                let mut visit = |j: usize| {
                    if pass[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                };
                if x > 0 {
                    visit(i - 1);
                }
                if x + 1 < nx {
                    visit(i + 1);
                }
                if y > 0 {
                    visit(i - nx);
                }
                if y + 1 < ny {
                    visit(i + nx);
                }
            }
        });
    seen
}

/// The voxels of `within` reached (6-connected) from `seeds` (which must lie in `within`).
pub fn grow(seeds: &[bool], within: &[bool], dims: Dims) -> Vec<bool> {
    let mut out: Vec<bool> = seeds.iter().zip(within).map(|(&s, &w)| s && w).collect();
    let mut stack: Vec<usize> = (0..out.len()).filter(|&i| out[i]).collect();
    let mut nb = [0usize; 6];
    while let Some(i) = stack.pop() {
        let n = dims.neighbours6(i, &mut nb);
        for &j in &nb[..n] {
            if within[j] && !out[j] {
                out[j] = true;
                stack.push(j);
            }
        }
    }
    out
}

/// Separable binomial smoothing [1 2 1]/4 along x and y, and along z when `along_z`
/// (thick slices are not smoothed across), applied `passes` times. Edges repeat the border
/// value.
pub fn smooth(values: &[f32], dims: Dims, passes: usize, along_z: bool) -> Vec<f32> {
    let Dims { nz, ny, nx, .. } = dims;
    let mut a = values.to_vec();
    let plane = nx * ny;
    for _ in 0..passes {
        a.par_chunks_mut(plane).for_each_init(
            || vec![0.0f32; plane],
            |tmp, s| {
                for y in 0..ny {
                    let r = &s[y * nx..y * nx + nx];
                    for x in 0..nx {
                        let l = r[x.saturating_sub(1)];
                        let rr = r[(x + 1).min(nx - 1)];
                        tmp[y * nx + x] = 0.25 * (l + rr) + 0.5 * r[x];
                    }
                }
                for y in 0..ny {
                    let (u, d) = (y.saturating_sub(1), (y + 1).min(ny - 1));
                    for x in 0..nx {
                        s[y * nx + x] =
                            0.25 * (tmp[u * nx + x] + tmp[d * nx + x]) + 0.5 * tmp[y * nx + x];
                    }
                }
            },
        );
        if along_z && nz > 1 {
            let src = a.clone();
            a.par_chunks_mut(plane).enumerate().for_each(|(z, s)| {
                let (u, d) = (z.saturating_sub(1), (z + 1).min(nz - 1));
                let (pu, pc, pd) = (
                    &src[u * plane..][..plane],
                    &src[z * plane..][..plane],
                    &src[d * plane..][..plane],
                );
                for i in 0..plane {
                    s[i] = 0.25 * (pu[i] + pd[i]) + 0.5 * pc[i];
                }
            });
        }
    }
    a
}

/// [`smooth`] of the voxels where `exclude` does not hold, normalized by the weight they
/// carry (normalized convolution, Knutsson & Westin 1993): excluded voxels give nothing to
/// their neighbours and keep their own value. Used with the skull excluded, so that 1200 HU
/// bone does not spread into the first millimetres of the brain (at 2 mm voxels, two passes
/// reach 4 mm into it, adding some 75 HU).
pub fn smooth_excluding(
    values: &[f32],
    exclude: &[bool],
    dims: Dims,
    passes: usize,
    along_z: bool,
) -> Vec<f32> {
    let masked: Vec<f32> = values
        .iter()
        .zip(exclude)
        .map(|(&v, &e)| if e { 0.0 } else { v })
        .collect();
    let weight: Vec<f32> = exclude.iter().map(|&e| if e { 0.0 } else { 1.0 }).collect();
    let num = smooth(&masked, dims, passes, along_z);
    let den = smooth(&weight, dims, passes, along_z);
    num.iter()
        .zip(&den)
        .zip(values.iter().zip(exclude))
        .map(|((&n, &w), (&v, &e))| if e || w < 1e-3 { v } else { n / w })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(nz: usize, ny: usize, nx: usize, s: [f64; 3]) -> Dims {
        Dims {
            nz,
            ny,
            nx,
            spacing_mm: s,
        }
    }

    #[test]
    fn edt_matches_brute_force() {
        let d = dims(7, 9, 11, [0.7, 1.0, 2.5]);
        let mut set = vec![false; d.len()];
        for &(z, y, x) in &[(1, 2, 3), (5, 7, 9), (3, 0, 10), (6, 8, 0)] {
            set[d.at(z, y, x)] = true;
        }
        let got = distance_mm(&set, d);
        for (i, &got_i) in got.iter().enumerate() {
            let (z, y, x) = d.zyx(i);
            let best = (0..d.len())
                .filter(|&j| set[j])
                .map(|j| {
                    let (zz, yy, xx) = d.zyx(j);
                    let dx = (x as f64 - xx as f64) * 0.7;
                    let dy = (y as f64 - yy as f64) * 1.0;
                    let dz = (z as f64 - zz as f64) * 2.5;
                    (dx * dx + dy * dy + dz * dz).sqrt()
                })
                .fold(f64::INFINITY, f64::min);
            assert!(
                (got_i as f64 - best).abs() < 1e-3,
                "{i}: {} vs {best}",
                got[i]
            );
        }
        assert!(
            distance_mm(&vec![false; d.len()], d)
                .iter()
                .all(|v| v.is_infinite())
        );
    }

    #[test]
    fn components_and_sizes() {
        let d = dims(1, 4, 5, [1.0; 3]);
        #[rustfmt::skip]
        let m = [
            true, true, false, false, true,
            false, true, false, false, true,
            false, false, false, true, false,
            true, false, false, true, true,
        ];
        let (labels, sizes) = components(&m, d);
        let mut s = sizes[1..].to_vec();
        s.sort();
        assert_eq!(s, vec![1, 2, 3, 3]);
        assert_eq!(labels[0], labels[6]);
        assert_ne!(labels[4], labels[13], "diagonal voxels are not 6-connected");
    }

    #[test]
    fn flood_stops_at_walls() {
        // A ring wall in one slice: its inside is not reached from the border.
        let d = dims(2, 7, 7, [1.0; 3]);
        let mut pass = vec![true; d.len()];
        for z in 0..2 {
            for k in 1..6 {
                for (y, x) in [(1, k), (5, k), (k, 1), (k, 5)] {
                    pass[d.at(z, y, x)] = false;
                }
            }
        }
        let r = reached_from_border(&pass, d);
        assert!(r[d.at(0, 0, 0)]);
        assert!(!r[d.at(0, 3, 3)] && !r[d.at(1, 3, 3)]);
        let g = grow(
            &{
                let mut s = vec![false; d.len()];
                s[d.at(0, 3, 3)] = true;
                s
            },
            &pass,
            d,
        );
        assert_eq!(
            g.iter().filter(|&&v| v).count(),
            18,
            "both slices of the 3 x 3 inside"
        );
    }

    #[test]
    fn smoothing_keeps_constants() {
        let d = dims(3, 4, 5, [1.0; 3]);
        let s = smooth(&vec![7.0; d.len()], d, 2, true);
        assert!(s.iter().all(|v| (v - 7.0).abs() < 1e-5));
        let mut spike = vec![0.0f32; d.len()];
        spike[d.at(1, 2, 2)] = 64.0;
        let s = smooth(&spike, d, 1, true);
        assert!(
            (s[d.at(1, 2, 2)] - 8.0).abs() < 1e-5,
            "{}",
            s[d.at(1, 2, 2)]
        );
        assert!(
            (s.iter().sum::<f32>() - 64.0).abs() < 1e-3,
            "mass kept away from edges"
        );
    }

    #[test]
    fn excluded_voxels_give_nothing_to_their_neighbours() {
        let d = dims(1, 1, 9, [2.0; 3]);
        // Bone at 1200 HU on the left, brain at 40 HU on the right.
        let v: Vec<f32> = (0..9).map(|x| if x < 3 { 1200.0 } else { 40.0 }).collect();
        let bone: Vec<bool> = (0..9).map(|x| x < 3).collect();
        let plain = smooth(&v, d, 2, false);
        assert!(
            plain[4] > 100.0,
            "plain smoothing spreads bone: {}",
            plain[4]
        );
        let s = smooth_excluding(&v, &bone, d, 2, false);
        for (x, v) in s.iter().enumerate() {
            if x < 3 {
                assert_eq!(*v, 1200.0);
            } else {
                assert!((v - 40.0).abs() < 1e-3, "{x}: {v}");
            }
        }
    }
}
