//! The mission's site file (`roboct demo --site FILE`, TOML), with a map and a PACS file beside
//! it so that the paths it names can resolve.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roboct_mission::site::SiteConfig;

fuzz_target!(|data: &[u8]| {
    roboct_fuzz::write("site-map.yaml", b"image: map.pgm\n");
    roboct_fuzz::write("pacs.toml", b"");
    let path = roboct_fuzz::write("site.toml", data);
    let _ = SiteConfig::load(&path);
});
