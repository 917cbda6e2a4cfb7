//! RTK's XML geometry, read with the detector sampling of a projection stack (the first bytes
//! choose it, so the fuzzer also varies the detector), as `roboct recon --geometry g.xml`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roboct_geometry::{GeometryFile, default_volume, read_rtk_xml};

fuzz_target!(|data: &[u8]| {
    // Two bytes of sampling (cols, rows), then the XML.
    let (cols, rows, xml) = match data {
        [c, r, rest @ ..] => (usize::from(*c) + 1, usize::from(*r) + 1, rest),
        _ => (16, 8, data),
    };
    let path = roboct_fuzz::write("geometry.xml", xml);
    let _ = read_rtk_xml(&path);
    let half = |n: usize| -(n as f64 - 1.0) / 2.0;
    let sampling = (cols, rows, [1.0, 1.0], [half(cols), half(rows)]);
    if let Ok(g) = GeometryFile::read(&path, Some(sampling)) {
        let _ = default_volume(&g.scan, g.is_2d);
    }
});
