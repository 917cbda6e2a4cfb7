//! The exact Euclidean distance transform of the inflation layer.

use rayon::prelude::*;

/// Exact Euclidean distance (metres, between cell centres) from every cell to the nearest
/// cell whose `kind` is not free; `f32::MAX`-like large values where there is none.
///
/// Felzenszwalb and Huttenlocher, "Distance Transforms of Sampled Functions", Theory of
/// Computing 8 (2012): the 2-D squared distance is two passes of the 1-D lower envelope of
/// parabolas, first along columns, then along rows. Both passes run rows/columns in parallel.
/// Tested against brute force in `costmap::tests::distance_transform_matches_brute_force`.
pub fn distance_transform(kind: &[u8], width: usize, height: usize, resolution_m: f64) -> Vec<f32> {
    const INF: f32 = 1e20;
    // Column pass into a column-major buffer (each column contiguous).
    let mut cols = vec![0f32; width * height];
    cols.par_chunks_mut(height).enumerate().for_each_init(
        || (vec![0f32; height], Vec::new(), Vec::new()),
        |(f, v, z), (cx, out)| {
            for cy in 0..height {
                f[cy] = if kind[cy * width + cx] != 0 { 0.0 } else { INF };
            }
            edt_1d(f, out, v, z);
        },
    );
    let mut out = vec![0f32; width * height];
    out.par_chunks_mut(width).enumerate().for_each_init(
        || (vec![0f32; width], Vec::new(), Vec::new()),
        |(f, v, z), (cy, row)| {
            for cx in 0..width {
                f[cx] = cols[cx * height + cy];
            }
            edt_1d(f, row, v, z);
            for d in row.iter_mut() {
                *d = d.sqrt() * resolution_m as f32;
            }
        },
    );
    out
}

/// One pass of the 1-D squared distance transform: `d[q] = min_p (q - p)^2 + f[p]`, with
/// infinite offsets (`>= 1e19`) for cells that hold no obstacle. The envelope is computed in
/// `f64`: squared distances on a 4000-cell row exceed `f32`'s exact integers.
fn edt_1d(f: &[f32], d: &mut [f32], v: &mut Vec<usize>, z: &mut Vec<f64>) {
    let n = f.len();
    v.clear();
    z.clear();
    v.resize(n, 0);
    z.resize(n + 1, 0.0);
    // A parabola with an infinite offset never wins: start at the first finite one.
    let Some(first) = f.iter().position(|&x| x < 1e19) else {
        d.fill(1e20);
        return;
    };
    let mut k = 0usize;
    v[0] = first;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    for q in first + 1..n {
        if f[q] >= 1e19 {
            continue;
        }
        let qf = q as f64;
        let fq = f64::from(f[q]);
        loop {
            let p = v[k];
            let pf = p as f64;
            let s = ((fq + qf * qf) - (f64::from(f[p]) + pf * pf)) / (2.0 * qf - 2.0 * pf);
            if s <= z[k] {
                // z[0] is -inf, so this only pops while k > 0.
                k -= 1;
                continue;
            }
            k += 1;
            v[k] = q;
            z[k] = s;
            z[k + 1] = f64::INFINITY;
            break;
        }
    }
    let mut k = 0usize;
    for (q, out) in d.iter_mut().enumerate() {
        let qf = q as f64;
        while z[k + 1] < qf {
            k += 1;
        }
        let p = v[k] as f64;
        *out = ((qf - p) * (qf - p) + f64::from(f[v[k]])) as f32;
    }
}
