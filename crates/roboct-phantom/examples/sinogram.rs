//! The exact sinogram of the 2D Shepp-Logan phantom over 180 degrees, summarised per view (its
//! largest line integral and the central bin's).
//!
//! Run with: `cargo run --release -p roboct-phantom --example sinogram`

use roboct_geometry::{Beam, CircularScan, Detector, DetectorShape, even_angles};
use roboct_phantom::Phantom;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scan = CircularScan {
        beam: Beam::Parallel,
        sid_mm: 0.0,
        sdd_mm: 0.0,
        detector: Detector::centered(128, 1, [2.0, 2.0], [0.0, 0.0], DetectorShape::Flat),
        angles_rad: even_angles(0.0, std::f64::consts::PI, 8),
        detector_rotation_rad: 0.0,
    }
    .build()?;
    let phantom = Phantom::shepp_logan_2d(100.0, true, 0.02);
    let sinogram = phantom.project_quiet(&scan, 2);
    for (v, view) in sinogram.outer_iter().enumerate() {
        let row = view.row(0);
        let peak = row.iter().cloned().fold(0.0f32, f32::max);
        println!(
            "view {v}: largest line integral {peak:.3} (mu x mm), centre bin {:.3}",
            row[64]
        );
    }
    Ok(())
}
