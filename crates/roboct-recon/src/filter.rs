//! Ramp filtering of detector rows for FBP and FDK.
//!
//! The ramp is the band-limited spatial kernel of Kak & Slaney (1988, eq. 3.61: `h(0) =
//! 1/(4 tau^2)`, `h(n) = -1/(n pi tau)^2` for odd `n`, 0 for even `n`), zero-padded to at least
//! twice the row length and taken to the frequency domain, where the apodisation window and the
//! cut-off multiply it. Starting from the spatial kernel rather than `|f|` keeps the mean of a
//! filtered row right (no DC offset). For a cylindrical detector the spatial kernel is
//! multiplied by `(gamma / sin gamma)^2`, the equiangular fan-beam kernel of Kak & Slaney
//! eq. 3.95. Rows are filtered with real FFTs (`realfft`).

use std::str::FromStr;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// The apodisation window multiplying the ramp, as scikit-image, ASTRA and TIGRE name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The plain ramp (sharpest, noisiest).
    RamLak,
    /// Ramp times sinc: `sin(pi x / 2) / (pi x / 2)`.
    SheppLogan,
    /// Ramp times `cos(pi x / 2)`.
    Cosine,
    /// Ramp times `0.54 + 0.46 cos(pi x)`.
    Hamming,
    /// Ramp times `0.5 + 0.5 cos(pi x)`.
    Hann,
}

impl Window {
    /// Every window, with its command-line name.
    pub const ALL: [(Window, &'static str); 5] = [
        (Window::RamLak, "ram-lak"),
        (Window::SheppLogan, "shepp-logan"),
        (Window::Cosine, "cosine"),
        (Window::Hamming, "hamming"),
        (Window::Hann, "hann"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(w, _)| *w == self)
            .map(|(_, n)| *n)
            .unwrap_or("ram-lak")
    }

    /// The window's gain at `x` = frequency / cut-off frequency, in [0, 1].
    pub fn gain(self, x: f64) -> f64 {
        use std::f64::consts::PI;
        if x > 1.0 {
            return 0.0;
        }
        match self {
            Window::RamLak => 1.0,
            Window::SheppLogan => {
                if x == 0.0 {
                    1.0
                } else {
                    (PI * x / 2.0).sin() / (PI * x / 2.0)
                }
            }
            Window::Cosine => (PI * x / 2.0).cos(),
            Window::Hamming => 0.54 + 0.46 * (PI * x).cos(),
            Window::Hann => 0.5 + 0.5 * (PI * x).cos(),
        }
    }
}

/// An unknown filter name.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("unknown filter {0:?}; expected one of ram-lak, shepp-logan, cosine, hamming, hann")]
pub struct UnknownFilter(pub String);

impl FromStr for Window {
    type Err = UnknownFilter;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.to_ascii_lowercase().replace(['_', ' '], "-");
        let key = match key.as_str() {
            "ramlak" | "ramp" => "ram-lak",
            "shepplogan" => "shepp-logan",
            "hanning" => "hann",
            k => k,
        };
        Self::ALL
            .iter()
            .find(|(_, n)| *n == key)
            .map(|(w, _)| *w)
            .ok_or_else(|| UnknownFilter(s.to_string()))
    }
}

/// The reconstruction filter: a window and a cut-off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Filter {
    /// The apodisation window.
    pub window: Window,
    /// Cut-off as a fraction of the Nyquist frequency, in (0, 1]; frequencies above it are
    /// removed and the window stretches to reach zero gain (or its end value) there.
    pub cutoff: f64,
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            window: Window::RamLak,
            cutoff: 1.0,
        }
    }
}

/// A ramp filter ready to apply to rows of one length.
pub(crate) struct RampFilter {
    len: usize,
    fft_len: usize,
    /// Real frequency response, `fft_len / 2 + 1` bins, including the 1/fft_len of the
    /// unnormalised inverse FFT and the pixel pitch of the convolution integral.
    response: Vec<f32>,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
}

/// Per-thread buffers for [`RampFilter::apply`].
pub(crate) struct Scratch {
    time: Vec<f32>,
    freq: Vec<Complex<f32>>,
    work: Vec<Complex<f32>>,
}

impl RampFilter {
    /// A filter for rows of `len` samples `pitch_mm` apart. `arc_radius_mm` is the detector
    /// radius of a cylindrical detector (rows sampled in arc length), `None` for flat ones.
    pub fn new(len: usize, pitch_mm: f64, filter: Filter, arc_radius_mm: Option<f64>) -> Self {
        let fft_len = (2 * len).next_power_of_two().max(64);
        let mut planner64 = RealFftPlanner::<f64>::new();
        let r2c64 = planner64.plan_fft_forward(fft_len);
        let c2r64 = planner64.plan_fft_inverse(fft_len);

        // Band-limited ramp, circularly placed: index n for n >= 0, fft_len - n for n < 0.
        let tau = pitch_mm;
        let half = fft_len / 2;
        let h = |n: i64| -> f64 {
            if n == 0 {
                1.0 / (4.0 * tau * tau)
            } else if n % 2 != 0 {
                -1.0 / ((n as f64) * std::f64::consts::PI * tau).powi(2)
            } else {
                0.0
            }
        };
        let mut kernel: Vec<f64> = (0..fft_len)
            .map(|i| {
                if i <= half {
                    h(i as i64)
                } else {
                    h(i as i64 - fft_len as i64)
                }
            })
            .collect();
        let mut spectrum = r2c64.make_output_vec();
        r2c64
            .process(&mut kernel, &mut spectrum)
            .expect("sizes from the planner");
        // Window over the normalised frequency f = k / fft_len in [0, 0.5].
        let fc = 0.5 * filter.cutoff;
        for (k, s) in spectrum.iter_mut().enumerate() {
            let f = k as f64 / fft_len as f64;
            *s *= filter.window.gain(f / fc);
        }
        if let Some(radius) = arc_radius_mm {
            // Back to space, multiply by (gamma / sin gamma)^2, and forward again.
            let mut space = c2r64.make_output_vec();
            let mut spec = spectrum.clone();
            spec[0].im = 0.0;
            spec[half].im = 0.0;
            c2r64
                .process(&mut spec, &mut space)
                .expect("sizes from the planner");
            for (i, v) in space.iter_mut().enumerate() {
                let n = if i <= half {
                    i as f64
                } else {
                    i as f64 - fft_len as f64
                };
                let gamma = n * tau / radius;
                if gamma != 0.0 {
                    *v *= (gamma / gamma.sin()).powi(2);
                }
                *v /= fft_len as f64;
            }
            r2c64
                .process(&mut space, &mut spectrum)
                .expect("sizes from the planner");
        }
        let response = spectrum
            .iter()
            .map(|c| (c.re * tau / fft_len as f64) as f32)
            .collect();

        let mut planner = RealFftPlanner::<f32>::new();
        Self {
            len,
            fft_len,
            response,
            forward: planner.plan_fft_forward(fft_len),
            inverse: planner.plan_fft_inverse(fft_len),
        }
    }

    pub fn scratch(&self) -> Scratch {
        Scratch {
            time: vec![0.0; self.fft_len],
            freq: self.forward.make_output_vec(),
            work: vec![
                Complex::default();
                self.forward
                    .get_scratch_len()
                    .max(self.inverse.get_scratch_len())
            ],
        }
    }

    /// Filters one row in place (linear convolution: the row is zero-padded).
    pub fn apply(&self, row: &mut [f32], s: &mut Scratch) {
        debug_assert_eq!(row.len(), self.len);
        s.time[..self.len].copy_from_slice(row);
        s.time[self.len..].fill(0.0);
        self.forward
            .process_with_scratch(&mut s.time, &mut s.freq, &mut s.work)
            .expect("sizes from the planner");
        for (c, &g) in s.freq.iter_mut().zip(&self.response) {
            *c *= g;
        }
        // The inverse wants exactly real first and last bins.
        s.freq[0].im = 0.0;
        if let Some(last) = s.freq.last_mut() {
            last.im = 0.0;
        }
        self.inverse
            .process_with_scratch(&mut s.freq, &mut s.time, &mut s.work)
            .expect("sizes from the planner");
        row.copy_from_slice(&s.time[..self.len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (w, n) in Window::ALL {
            assert_eq!(n.parse::<Window>().unwrap(), w);
            assert_eq!(w.name(), n);
        }
        assert_eq!("Ram_Lak".parse::<Window>().unwrap(), Window::RamLak);
        assert!(
            "gauss"
                .parse::<Window>()
                .unwrap_err()
                .to_string()
                .contains("ram-lak")
        );
    }

    /// Filtering a row equals the direct convolution with the spatial ramp kernel (Ram-Lak,
    /// full band): h(0) = 1/(4 tau^2), h(odd n) = -1/(n pi tau)^2, times tau.
    #[test]
    fn ram_lak_equals_direct_convolution() {
        let n = 37;
        let tau = 0.7;
        let f = RampFilter::new(n, tau, Filter::default(), None);
        let mut s = f.scratch();
        let row: Vec<f32> = (0..n).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
        let mut out = row.clone();
        f.apply(&mut out, &mut s);
        let h = |d: i64| -> f64 {
            if d == 0 {
                1.0 / (4.0 * tau * tau)
            } else if d % 2 != 0 {
                -1.0 / ((d as f64) * std::f64::consts::PI * tau).powi(2)
            } else {
                0.0
            }
        };
        for (i, o) in out.iter().enumerate() {
            let direct: f64 = (0..n)
                .map(|j| row[j] as f64 * h(i as i64 - j as i64))
                .sum::<f64>()
                * tau;
            assert!(
                (*o as f64 - direct).abs() < 1e-4 * (1.0 + direct.abs()),
                "{i}: {o} vs {direct}"
            );
        }
    }

    /// Windows only lower the response, and the cut-off removes everything above it.
    #[test]
    fn windows_and_cutoff_shape_the_response() {
        let plain = RampFilter::new(64, 1.0, Filter::default(), None);
        for (w, _) in Window::ALL {
            let f = RampFilter::new(
                64,
                1.0,
                Filter {
                    window: w,
                    cutoff: 0.5,
                },
                None,
            );
            for (k, (a, b)) in f.response.iter().zip(&plain.response).enumerate() {
                let freq = k as f64 / f.fft_len as f64;
                if freq > 0.25 + 1e-9 {
                    assert_eq!(*a, 0.0, "{w:?} bin {k}");
                } else {
                    assert!(*a <= *b + 1e-9, "{w:?} bin {k}");
                }
            }
        }
    }

    /// The arc kernel tends to the flat one as the radius grows.
    #[test]
    fn arc_kernel_tends_to_flat() {
        let flat = RampFilter::new(50, 1.0, Filter::default(), None);
        let arc = RampFilter::new(50, 1.0, Filter::default(), Some(1e7));
        for (a, b) in arc.response.iter().zip(&flat.response) {
            assert!((a - b).abs() < 1e-6 * (1.0 + b.abs()));
        }
    }
}
