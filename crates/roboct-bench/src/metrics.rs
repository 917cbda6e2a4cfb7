//! Image-quality metrics against a known truth: RMSE over a mask, contrast-to-noise ratio of a
//! lesion against its surroundings, and SSIM.

use ndarray::{Array2, ArrayView2, ArrayView3};

/// Root-mean-square difference of `a` and `b` where `mask` holds; NaN when it holds nowhere.
pub fn rmse(a: ArrayView3<'_, f32>, b: ArrayView3<'_, f32>, mask: ArrayView3<'_, bool>) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for ((x, y), &m) in a.iter().zip(b.iter()).zip(mask.iter()) {
        if m {
            let d = *x as f64 - *y as f64;
            sum += d * d;
            n += 1;
        }
    }
    if n == 0 {
        f64::NAN
    } else {
        (sum / n as f64).sqrt()
    }
}

/// Mean and standard deviation of `a` where `mask` holds.
pub fn mean_std(a: ArrayView3<'_, f32>, mask: ArrayView3<'_, bool>) -> (f64, f64, usize) {
    let vals: Vec<f64> = a
        .iter()
        .zip(mask.iter())
        .filter(|(_, m)| **m)
        .map(|(v, _)| *v as f64)
        .collect();
    let n = vals.len();
    if n < 2 {
        return (f64::NAN, f64::NAN, n);
    }
    let mean = vals.iter().sum::<f64>() / n as f64;
    let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt(), n)
}

/// Contrast-to-noise ratio: `(mean(lesion) - mean(background)) / std(background)`.
pub fn cnr(
    a: ArrayView3<'_, f32>,
    lesion: ArrayView3<'_, bool>,
    background: ArrayView3<'_, bool>,
) -> f64 {
    let (ml, _, _) = mean_std(a, lesion);
    let (mb, sb, _) = mean_std(a, background);
    (ml - mb) / sb
}

/// Gaussian weights of SSIM's 11 x 11 window, sigma 1.5 (Wang et al., IEEE TIP 2004).
fn gaussian_window() -> Array2<f64> {
    let mut w = Array2::<f64>::zeros((11, 11));
    for ((i, j), v) in w.indexed_iter_mut() {
        let (x, y) = (i as f64 - 5.0, j as f64 - 5.0);
        *v = (-(x * x + y * y) / (2.0 * 1.5 * 1.5)).exp();
    }
    let s = w.sum();
    w / s
}

/// Mean SSIM of two images over the windows centred in `mask` (Wang et al. 2004: K1 = 0.01,
/// K2 = 0.03, Gaussian window, dynamic range `range`). Values are first clipped to `[lo, lo +
/// range]` (a display window, e.g. the brain window 0..80 HU).
pub fn ssim_2d(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mask: ArrayView2<'_, bool>,
    lo: f64,
    range: f64,
) -> (f64, usize) {
    let w = gaussian_window();
    let (c1, c2) = ((0.01 * range).powi(2), (0.03 * range).powi(2));
    let clip = |v: f32| (v as f64).clamp(lo, lo + range);
    let (ny, nx) = a.dim();
    let (mut sum, mut n) = (0.0, 0usize);
    for y in 5..ny.saturating_sub(5) {
        for x in 5..nx.saturating_sub(5) {
            if !mask[[y, x]] {
                continue;
            }
            let (mut ma, mut mb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for ((i, j), &g) in w.indexed_iter() {
                let (pa, pb) = (
                    clip(a[[y + i - 5, x + j - 5]]),
                    clip(b[[y + i - 5, x + j - 5]]),
                );
                ma += g * pa;
                mb += g * pb;
                saa += g * pa * pa;
                sbb += g * pb * pb;
                sab += g * pa * pb;
            }
            let (va, vb, cov) = (saa - ma * ma, sbb - mb * mb, sab - ma * mb);
            sum += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            n += 1;
        }
    }
    (if n == 0 { f64::NAN } else { sum / n as f64 }, n)
}

/// Mean SSIM over the slices of a volume, each slice's windows weighted by their count.
pub fn ssim_3d(
    a: ArrayView3<'_, f32>,
    b: ArrayView3<'_, f32>,
    mask: ArrayView3<'_, bool>,
    lo: f64,
    range: f64,
) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for k in 0..a.dim().0 {
        let (s, m) = ssim_2d(
            a.index_axis(ndarray::Axis(0), k),
            b.index_axis(ndarray::Axis(0), k),
            mask.index_axis(ndarray::Axis(0), k),
            lo,
            range,
        );
        if m > 0 {
            sum += s * m as f64;
            n += m;
        }
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn identical_images_have_ssim_one_and_noise_lowers_it() {
        let a = Array3::from_shape_fn((1, 40, 40), |(_, y, x)| ((x * 3 + y * 5) % 80) as f32);
        let m = Array3::from_elem((1, 40, 40), true);
        assert!((ssim_3d(a.view(), a.view(), m.view(), 0.0, 80.0) - 1.0).abs() < 1e-12);
        let noisy = a.mapv(|v| v + if (v as i32) % 2 == 0 { 6.0 } else { -6.0 });
        let s = ssim_3d(a.view(), noisy.view(), m.view(), 0.0, 80.0);
        assert!(s < 0.95 && s > 0.0, "{s}");
    }

    #[test]
    fn cnr_and_rmse_of_known_values() {
        // Lesion at 60, background alternating 25 +- 5 (std 5.0 with n-1 over many).
        let mut a = Array3::<f32>::zeros((1, 20, 20));
        let mut lesion = Array3::from_elem((1, 20, 20), false);
        let mut bg = Array3::from_elem((1, 20, 20), false);
        for ((_, y, x), v) in a.indexed_iter_mut() {
            if y < 5 {
                *v = 60.0;
                lesion[[0, y, x]] = true;
            } else {
                *v = if (x + y) % 2 == 0 { 30.0 } else { 20.0 };
                bg[[0, y, x]] = true;
            }
        }
        let c = cnr(a.view(), lesion.view(), bg.view());
        assert!((c - 35.0 / 5.0).abs() < 0.05, "{c}");
        let b = a.mapv(|v| v + 3.0);
        assert!((rmse(a.view(), b.view(), bg.view()) - 3.0).abs() < 1e-9);
        let none = Array3::from_elem((1, 20, 20), false);
        assert!(rmse(a.view(), b.view(), none.view()).is_nan());
    }
}
