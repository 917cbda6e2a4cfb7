//! Converts a volume between NIfTI, MetaImage and NumPy, keeping its grid, and prints it.
//!
//! Run with: `cargo run -p roboct-io --example convert -- in.mha out.nii.gz`

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [input, output] = args.as_slice() else {
        return Err("usage: convert IN OUT (extensions .nii, .nii.gz, .mha, .mhd, .npy)".into());
    };
    let volume = roboct_io::read_volume(input)?;
    let g = volume.grid();
    println!(
        "size {:?} voxel {:?} mm origin {:?} mm",
        g.size(),
        g.spacing_mm(),
        g.origin_mm()
    );
    roboct_io::write_volume(output, &volume)?;
    Ok(())
}
