//! Development runs of the diagnosis bench's low-dose imaging, on the development cohort only:
//! scans one patient at 25% dose and writes FDK and an iterative reconstruction (HU, NIfTI)
//! with the time of each, so the reader can be run on them again and again
//! (`roboct diagnose DIR/low-fista-tv.nii.gz --png DIR/png`).
//!
//! Run with: `cargo run --release -p roboct-bench --example diagnosis_lowdose_dev -- OUT INDEX
//! METHOD ITERATIONS [TV_WEIGHT_OR_BETA]` (METHOD `fista-tv` or `pwls`; INDEX is the patient's
//! place in the development cohort).

use std::time::Instant;

use roboct_bench::diagnosis::{DEVELOPMENT_SEED_BASE, Imaging, cohort, image};
use roboct_recon::{IterativeMethod, IterativeOptions};

const USAGE: &str =
    "usage: diagnosis_lowdose_dev OUT INDEX fista-tv|pwls ITERATIONS [TV_WEIGHT_OR_BETA]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(String::as_str).ok_or(USAGE);
    let out = std::path::PathBuf::from(arg(1)?);
    let index: usize = arg(2)?
        .parse()
        .map_err(|_| "INDEX: expected a whole number")?;
    let method = arg(3)?;
    let iterations: usize = arg(4)?
        .parse()
        .map_err(|_| "ITERATIONS: expected a whole number")?;
    let weight: Option<f32> = match args.get(5) {
        Some(a) => Some(
            a.parse()
                .map_err(|_| "TV_WEIGHT_OR_BETA: expected a number")?,
        ),
        None => None,
    };
    let options = match method {
        "fista-tv" => IterativeOptions::new(IterativeMethod::FistaTv)
            .iterations(iterations)
            .tv_weight(weight.unwrap_or(1e-5)),
        "pwls" => IterativeOptions::new(IterativeMethod::Pwls)
            .iterations(iterations)
            .pwls_beta(weight.unwrap_or(0.02)),
        other => return Err(format!("METHOD {other:?}: expected fista-tv or pwls").into()),
    };
    let imaging = Imaging {
        low_dose_method: options,
        ..Imaging::default()
    };
    let case = &cohort(DEVELOPMENT_SEED_BASE, index + 1)[index];
    let dir = out.join(format!("p{index:03}"));
    std::fs::create_dir_all(&dir)?;
    let t = Instant::now();
    let im = image(case, &imaging, true)?;
    println!(
        "seed {} imaged in {:.1} s: simulation {:.1} s, FDK {:.1} s, {method} {iterations} {:.1} s",
        case.options.seed,
        t.elapsed().as_secs_f64(),
        im.times_s[0],
        im.times_s[1],
        im.times_s[2]
    );
    let h = roboct_phantom::head::head(&case.options)?;
    let raster = h.patient.rasterize(&im.grid, 2);
    roboct_io::write_volume(&dir.join("truth.nii.gz"), &raster.hu)?;
    let name = format!("low-{method}-{iterations}.nii.gz");
    let low = im.low.as_ref().ok_or("no low-dose volume")?;
    roboct_io::write_volume(&dir.join("std.nii.gz"), &im.standard)?;
    roboct_io::write_volume(&dir.join(&name), low)?;
    for (label, v) in [("standard FDK", &im.standard), (name.as_str(), low)] {
        let dx = roboct_diagnosis::diagnose(v);
        println!(
            "{label}: noise {:?} HU, grey {:?} HU",
            dx.calibration.noise_hu, dx.calibration.grey_matter_hu
        );
        for f in &dx.findings {
            println!(
                "  {} {:.2} mL {} {:.0} HU, thickness {:.1} mm, centroid {:?}",
                f.kind.name(),
                f.volume_ml,
                f.region,
                f.mean_hu,
                f.max_thickness_mm,
                f.centroid_mm.map(|c| c.round())
            );
        }
    }
    for f in &im.truth.findings {
        println!(
            "truth {} {:.2} mL {:.0} HU centroid {:?}",
            f.kind.name(),
            f.volume_ml,
            f.hu,
            f.centroid_mm.map(|c| c.round())
        );
    }
    Ok(())
}
