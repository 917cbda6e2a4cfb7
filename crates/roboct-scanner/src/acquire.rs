//! A scan, view by view: the tube exposes, the detector reads a frame, the frame becomes line
//! integrals (flat field, log, water beam-hardening correction), with the statistical weight
//! of every ray for penalised weighted least squares.
//!
//! The acquisition talks to the hardware only through [`XRayTube`] and [`XRayDetector`]; the
//! simulator's tube and detector implement them ([`SimulatedTube`], [`SimulatedDetector`]), a
//! real device implements the same two traits.

use std::time::Instant;

use ndarray::{Array2, Array3, ArrayView2, ArrayViewMut2, Axis};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal, Poisson};
use rand_pcg::Pcg64;
use rayon::prelude::*;
use roboct_core::{CancelToken, Progress};
use roboct_geometry::vec3::{cross, dot, norm, scale, sub};
use roboct_geometry::{DetectorShape, ScanGeometry, Source};

use crate::ScannerError;
use crate::dose::{DoseRecord, Irradiation, ctdi_w_per_100mas};
use crate::patient::PatientModel;
use crate::physics::Response;
use crate::protocol::{CurrentModulation, Protocol, ScannerSpec};
use crate::spectrum::Spectrum;

/// An X-ray tube and its generator, as the scan controller drives them.
pub trait XRayTube {
    /// The spectrum the tube makes at its set voltage and filtration.
    fn spectrum(&self) -> &Spectrum;
    /// Beam on for `mas`, then off; returns the mAs delivered.
    fn expose(&mut self, mas: f64) -> Result<f64, ScannerError>;
    /// Total mAs delivered since the tube was armed.
    fn delivered_mas(&self) -> f64;
}

/// A detector as the scan controller reads it: one frame per view.
pub trait XRayDetector {
    /// Rows and columns of a frame.
    fn frame_shape(&self) -> (usize, usize);
    /// Reads the frame of `view` exposed with `mas`: the integrated signal of every pixel
    /// (keV, dark-corrected).
    fn read_frame(
        &mut self,
        view: usize,
        mas: f64,
        out: ArrayViewMut2<'_, f32>,
    ) -> Result<(), ScannerError>;
    /// The flat field of `view` for `mas`: the signal with nothing in the beam (calibration).
    fn flat_field(&self, view: usize, mas: f64, out: ArrayViewMut2<'_, f32>);
}

/// The simulator's tube: a spectrum and a counter.
#[derive(Clone, Debug)]
pub struct SimulatedTube {
    spectrum: Spectrum,
    delivered: f64,
}

impl SimulatedTube {
    /// A tube making `spectrum`.
    pub fn new(spectrum: Spectrum) -> Self {
        Self {
            spectrum,
            delivered: 0.0,
        }
    }
}

impl XRayTube for SimulatedTube {
    fn spectrum(&self) -> &Spectrum {
        &self.spectrum
    }
    fn expose(&mut self, mas: f64) -> Result<f64, ScannerError> {
        if !(mas >= 0.0 && mas.is_finite()) {
            return Err(ScannerError::Protocol {
                field: "mas",
                message: format!("{mas} for one view; expected >= 0"),
            });
        }
        self.delivered += mas;
        Ok(mas)
    }
    fn delivered_mas(&self) -> f64 {
        self.delivered
    }
}

/// The simulator's detector: the patient's basis line integrals through every pixel (the
/// patient holds still during the scan, so they are computed once), the detector response,
/// and seeded noise.
pub struct SimulatedDetector {
    water_mm: Array3<f32>,
    bone_mm: Array3<f32>,
    /// Photons per mm^2 at 1 m per mAs that reach each pixel's area: inverse square and
    /// obliquity, per view.
    geometric: Array3<f32>,
    response: Response,
    seed: u64,
}

impl SimulatedDetector {
    /// A detector seeing `patient` through `geometry`.
    pub fn new(
        geometry: &ScanGeometry,
        patient: &dyn PatientModel,
        response: Response,
        seed: u64,
        progress: &dyn Progress,
    ) -> Result<Self, ScannerError> {
        let [water_mm, bone_mm] = patient.basis_projections(geometry, progress)?;
        Ok(Self {
            water_mm,
            bone_mm,
            geometric: pixel_exposure(geometry),
            response,
            seed,
        })
    }

    /// The basis line integrals (water mm, bone mm) of every ray, for tests and scouts.
    pub fn basis(&self) -> (&Array3<f32>, &Array3<f32>) {
        (&self.water_mm, &self.bone_mm)
    }
}

impl XRayDetector for SimulatedDetector {
    fn frame_shape(&self) -> (usize, usize) {
        let (_, r, c) = self.water_mm.dim();
        (r, c)
    }

    fn read_frame(
        &mut self,
        view: usize,
        mas: f64,
        mut out: ArrayViewMut2<'_, f32>,
    ) -> Result<(), ScannerError> {
        let w = self.water_mm.index_axis(Axis(0), view);
        let b = self.bone_mm.index_axis(Axis(0), view);
        let g = self.geometric.index_axis(Axis(0), view);
        let resp = &self.response;
        let sigma_e = resp.electronic_sigma_kev();
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(r, mut row)| {
                // One stream per (seed, view, row): the same seed gives the same scan whatever
                // the thread count.
                let mut rng = Pcg64::seed_from_u64(
                    self.seed
                        ^ (view as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        ^ (r as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
                );
                let electronic = Normal::new(0.0, sigma_e).expect("finite sigma");
                for c in 0..row.len() {
                    let exposure = mas * g[[r, c]] as f64;
                    let (ww, bb) = (w[[r, c]] as f64, b[[r, c]] as f64);
                    let mean = resp.mean_signal(exposure, ww, bb);
                    let quantum_var =
                        (resp.variance(exposure, ww, bb) - sigma_e * sigma_e).max(0.0);
                    // Compound Poisson as a scaled Poisson with the same mean and variance
                    // (Whiting 2006); Gaussian when the effective count is large.
                    let signal = if mean > 0.0 && quantum_var > 0.0 {
                        let k = quantum_var / mean;
                        let n = mean / k;
                        let counts = if n > 500.0 {
                            (n + n.sqrt() * Normal::new(0.0, 1.0).expect("unit").sample(&mut rng))
                                .max(0.0)
                        } else {
                            Poisson::new(n).map_or(0.0, |p| p.sample(&mut rng))
                        };
                        k * counts
                    } else {
                        0.0
                    };
                    row[c] = (signal + electronic.sample(&mut rng)) as f32;
                }
            });
        Ok(())
    }

    fn flat_field(&self, view: usize, mas: f64, mut out: ArrayViewMut2<'_, f32>) {
        let g = self.geometric.index_axis(Axis(0), view);
        for ((r, c), v) in out.indexed_iter_mut() {
            *v = self.response.open_signal(mas * g[[r, c]] as f64) as f32;
        }
    }
}

/// Per view and pixel: the pixel's area seen from the focal spot, as mm^2 at 1 m (inverse
/// square and obliquity), for a unit tube output.
fn pixel_exposure(geometry: &ScanGeometry) -> Array3<f32> {
    let det = geometry.detector();
    let (nv, rows, cols) = geometry.projection_shape();
    let area = det.pixel_mm[0] * det.pixel_mm[1];
    let mut out = Array3::<f32>::zeros((nv, rows, cols));
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(geometry.views().par_iter())
        .for_each(|(mut img, view)| {
            let Source::Point(s) = view.source else {
                img.fill((area / 1e6) as f32);
                return;
            };
            let flat_normal = cross(view.u_dir, view.v_dir);
            for r in 0..rows {
                for c in 0..cols {
                    let p = view.detector_point(det, det.u_mm(c as f64), det.v_mm(r as f64));
                    let ray = sub(p, s);
                    let d = norm(ray);
                    let normal = match det.shape {
                        DetectorShape::Flat => flat_normal,
                        DetectorShape::Cylindrical => {
                            // Radial from the cylinder's axis (through the source along v).
                            let radial = sub(ray, scale(view.v_dir, dot(ray, view.v_dir)));
                            scale(radial, 1.0 / norm(radial))
                        }
                    };
                    let cos = dot(ray, normal).abs() / d;
                    img[[r, c]] = (area * cos * (1000.0 / d).powi(2)) as f32;
                }
            }
        });
    out
}

/// A finished scan.
#[derive(Clone, Debug)]
pub struct SimulatedScan {
    /// The geometry (in the world frame, moved to the scan's centre).
    pub geometry: ScanGeometry,
    /// Line integrals of mu at the reference energy, water beam-hardening corrected,
    /// `[view][row][col]`.
    pub projections: Array3<f32>,
    /// The statistical weight of each line integral (1 / its variance), for PWLS.
    pub weights: Array3<f32>,
    /// mAs of each view.
    pub mas_per_view: Vec<f64>,
    /// The dose.
    pub dose: DoseRecord,
    /// mu of water at the reference energy the projections are scaled to, 1/mm (reconstructed
    /// values convert to HU against it and air = 0).
    pub mu_water_per_mm: f64,
    /// Seconds spent projecting the patient, and simulating the detector and preprocessing.
    pub times_s: (f64, f64),
}

/// Simulates a scan of `patient` with `protocol` on the scanner `spec`.
pub fn simulate_scan(
    spec: &ScannerSpec,
    protocol: &Protocol,
    patient: &dyn PatientModel,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<SimulatedScan, ScannerError> {
    let geometry = protocol.geometry(spec)?;
    let spectrum = Spectrum::tungsten(protocol.kvp, spec.filtration)?;
    let response = Response::new(&spectrum, &spec.detector);
    let t0 = Instant::now();
    let mut detector = SimulatedDetector::new(
        &geometry,
        patient,
        response.clone(),
        protocol.seed,
        progress,
    )?;
    let project_s = t0.elapsed().as_secs_f64();
    cancel.check().map_err(|_| ScannerError::Cancelled)?;
    let t1 = Instant::now();
    let mas_per_view = modulate(protocol, &detector, &response);
    let mut tube = SimulatedTube::new(spectrum.clone());
    let (projections, weights) = acquire(
        &mut tube,
        &mut detector,
        &response,
        &mas_per_view,
        progress,
        cancel,
    )?;
    let simulate_s = t1.elapsed().as_secs_f64();
    let per_100 = ctdi_w_per_100mas(
        &spectrum,
        spec.sid_mm,
        spec.fan_half_angle_rad(),
        protocol.ctdi_phantom,
        Irradiation::Rotation,
    );
    let width = protocol.opened_collimation_mm(spec);
    let dose = DoseRecord::new(
        "axial",
        &spectrum,
        tube.delivered_mas(),
        spec.rotation_time_s * protocol.arc_deg / 360.0,
        width,
        width,
        spec.sid_mm,
        per_100,
        protocol.ctdi_phantom,
    )?;
    Ok(SimulatedScan {
        geometry,
        projections,
        weights,
        mas_per_view,
        dose,
        mu_water_per_mm: roboct_phantom::material::mu_water_reference_per_mm(),
        times_s: (project_s, simulate_s),
    })
}

/// mAs per view: constant, or following the patient's attenuation along each view's central
/// detector row (from the noise-free basis line integrals the detector would see: the
/// scanner learns them from the scout on a real device).
fn modulate(protocol: &Protocol, detector: &SimulatedDetector, response: &Response) -> Vec<f64> {
    let n = protocol.views;
    let flat = vec![protocol.mas / n as f64; n];
    let CurrentModulation::Angular { strength } = protocol.modulation else {
        return flat;
    };
    let (w, b) = detector.basis();
    let (_, rows, cols) = w.dim();
    let r = rows / 2;
    let weights: Vec<f64> = (0..n)
        .map(|v| {
            // The most attenuating ray of the row sets the view's noise.
            let max_p = (0..cols)
                .map(|c| {
                    let s = response.mean_signal(1.0, w[[v, r, c]] as f64, b[[v, r, c]] as f64);
                    -(s / response.open_signal(1.0)).ln()
                })
                .fold(0.0f64, f64::max);
            (strength * max_p).exp()
        })
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter().map(|w| protocol.mas * w / total).collect()
}

/// One view's preprocessing: flat field, log and water beam-hardening correction of the raw
/// `frame` (keV) with its `flat` field, into corrected line integrals and their statistical
/// weights.
pub fn preprocess_view(
    frame: ArrayView2<'_, f32>,
    flat: ArrayView2<'_, f32>,
    response: &Response,
    mut projections: ArrayViewMut2<'_, f32>,
    mut weights: ArrayViewMut2<'_, f32>,
) {
    let sigma_e2 = response.electronic_sigma_kev().powi(2);
    let mean_kev = response.mean_detected_kev();
    let cols = frame.dim().1;
    projections
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(weights.axis_iter_mut(Axis(0)).into_par_iter())
        .enumerate()
        .for_each(|(r, (mut prow, mut wrow))| {
            for c in 0..cols {
                let s0 = flat[[r, c]] as f64;
                // Half a photon of the mean energy: the log of nothing is not a number.
                let s = (frame[[r, c]] as f64).max(0.5 * mean_kev);
                let p = -(s / s0).ln();
                let (corrected, slope) = response.water_correction(p);
                // Var(-ln S) ~ Var(S) / S^2 with Var(S) ~ E S + sigma_e^2 (energy-weighted
                // Poisson plus electronics), estimated from the measurement itself.
                let var_p = (mean_kev * s + sigma_e2) / (s * s) * slope * slope;
                prow[c] = corrected as f32;
                wrow[c] = (1.0 / var_p) as f32;
            }
        });
}

/// Runs the views: expose, read, flat field, log, correct; returns the corrected line
/// integrals and their weights.
pub fn acquire(
    tube: &mut dyn XRayTube,
    detector: &mut dyn XRayDetector,
    response: &Response,
    mas_per_view: &[f64],
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<(Array3<f32>, Array3<f32>), ScannerError> {
    let (rows, cols) = detector.frame_shape();
    let nv = mas_per_view.len();
    let mut projections = Array3::<f32>::zeros((nv, rows, cols));
    let mut weights = Array3::<f32>::zeros((nv, rows, cols));
    let mut frame = Array2::<f32>::zeros((rows, cols));
    let mut flat = Array2::<f32>::zeros((rows, cols));
    progress.start("scanning", nv as u64);
    for (v, &asked) in mas_per_view.iter().enumerate() {
        if cancel.is_cancelled() {
            progress.finish();
            return Err(ScannerError::Cancelled);
        }
        let mas = tube.expose(asked)?;
        detector.read_frame(v, mas, frame.view_mut())?;
        detector.flat_field(v, mas, flat.view_mut());
        preprocess_view(
            frame.view(),
            flat.view(),
            response,
            projections.index_axis_mut(Axis(0), v),
            weights.index_axis_mut(Axis(0), v),
        );
        progress.advance(1);
    }
    progress.finish();
    Ok((projections, weights))
}
