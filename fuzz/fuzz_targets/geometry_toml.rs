//! roboct's geometry TOML, read as `roboct recon --geometry g.toml` reads it, then the default
//! grid made from it when the file has no `[volume]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roboct_geometry::{GeometryFile, default_volume};

fuzz_target!(|data: &[u8]| {
    let path = roboct_fuzz::write("geometry.toml", data);
    if let Ok(g) = GeometryFile::read(&path, None)
        && g.volume.is_none()
    {
        let _ = default_volume(&g.scan, g.is_2d);
    }
});
