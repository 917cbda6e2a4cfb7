//! A navigation site: the site YAML, then a floor's map YAML (written as `floor-0.yaml`,
//! `floor-1.yaml` and `floor-2.yaml`), then the image (`map.pgm`, `map.png`), separated by the
//! separator line, loaded as `roboct nav --site` loads it (with the limits of 1 GiB).
#![no_main]

use libfuzzer_sys::fuzz_target;
use roboct_nav::map::{BYTES_PER_CELL, MapLimits};
use roboct_nav::site::Site;

fuzz_target!(|data: &[u8]| {
    let parts = roboct_fuzz::split(data, 3);
    let floor = parts.get(1).copied().unwrap_or(&[]);
    let image = parts.get(2).copied().unwrap_or(&[]);
    for n in 0..3 {
        roboct_fuzz::write(&format!("floor-{n}.yaml"), floor);
    }
    roboct_fuzz::write("map.pgm", image);
    roboct_fuzz::write("map.png", image);
    let site = roboct_fuzz::write("site.yaml", parts[0]);
    let limits = MapLimits {
        max_cells: (1 << 30) / BYTES_PER_CELL,
    };
    if let Ok(site) = Site::load(&site, limits) {
        let _ = site.check();
    }
});
