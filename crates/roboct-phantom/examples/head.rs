//! A simulated head with a subdural haematoma, sampled in HU: axial, coronal and sagittal PNGs
//! in the brain window and the truth, in `target/head-example/`.
//!
//! Run with: `cargo run --release -p roboct-phantom --example head [SEED]`

use roboct_geometry::VolumeGrid;
use roboct_io::Window;
use roboct_phantom::head::{FindingKind, FindingSpec, HeadOptions, Side, head};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = std::env::args().nth(1).map_or(Ok(7), |s| s.parse())?;
    let h = head(&HeadOptions {
        seed,
        findings: vec![
            FindingSpec {
                kind: FindingKind::Subdural,
                volume_ml: 30.0,
                side: Side::Left,
                hu: 65.0,
            },
            FindingSpec {
                kind: FindingKind::Intraparenchymal,
                volume_ml: 8.0,
                side: Side::Right,
                hu: 70.0,
            },
        ],
        ..HeadOptions::default()
    })?;
    let grid = VolumeGrid::centered([200, 240, 280], [1.0; 3], [0.0, 0.0, -20.0])?;
    let raster = h.patient.rasterize(&grid, 2);
    let out = std::path::Path::new("target/head-example");
    std::fs::create_dir_all(out)?;
    let brain = Window {
        center: 40.0,
        width: 80.0,
    };
    let bone = Window {
        center: 400.0,
        width: 2000.0,
    };
    let data = raster.hu.data();
    for z_mm in [-30.0, 10.0, 30.0, 60.0] {
        let k = grid.index_from_world([0.0, 0.0, z_mm])[2].round() as usize;
        let name = format!("axial_z{z_mm}");
        roboct_io::write_png_slice(
            &out.join(format!("{name}.png")),
            data.index_axis(ndarray::Axis(0), k),
            brain,
        )?;
    }
    let cor = data
        .index_axis(ndarray::Axis(1), 120)
        .slice(ndarray::s![..;-1, ..])
        .to_owned();
    roboct_io::write_png_slice(&out.join("coronal.png"), cor.view(), brain)?;
    let sag = data
        .index_axis(ndarray::Axis(2), 100)
        .slice(ndarray::s![..;-1, ..])
        .to_owned();
    roboct_io::write_png_slice(&out.join("sagittal_bone.png"), sag.view(), bone)?;
    roboct_io::write_volume(&out.join("head.nii.gz"), &raster.hu)?;
    println!("{}", serde_json::to_string_pretty(&h.truth)?);
    Ok(())
}
