//! Reads a geometry file (our TOML, or RTK's XML with a detector given on the command line) and
//! prints where the source and the detector are in the first views.
//!
//! Run with: `cargo run -p roboct-geometry --example describe -- geometry.toml`

use std::path::PathBuf;

use roboct_geometry::{GeometryFile, Source};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: describe GEOMETRY.toml")?
        .into();
    // RTK files need the detector of their projection images; use 512 x 384 pixels of 1 mm here.
    let g = GeometryFile::read(&path, Some((512, 384, [1.0, 1.0], [-255.5, -191.5])))?;
    let d = g.scan.detector();
    println!(
        "{} views, detector {} x {} of {:?} mm, {:?}",
        g.scan.n_views(),
        d.cols,
        d.rows,
        d.pixel_mm,
        d.shape
    );
    for (i, v) in g.scan.views().iter().take(3).enumerate() {
        let source = match v.source {
            Source::Point(p) => format!("source at {p:.1?} mm"),
            Source::Parallel(r) => format!("rays along {r:.3?}"),
        };
        println!(
            "view {i}: {source}, detector at {:.1?} mm, u {:.3?}, v {:.3?}",
            v.detector_mm, v.u_dir, v.v_dir
        );
    }
    Ok(())
}
