//! A ROS map: the YAML, then (after the separator line) the image it names, written as both
//! `map.pgm` and `map.png` (the reader goes by content). Loaded with the limits of a machine with
//! 1 GiB available, as `roboct nav --map` loads it with this machine's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roboct_nav::map::{BYTES_PER_CELL, MapLimits, load_ros_map};

fuzz_target!(|data: &[u8]| {
    let parts = roboct_fuzz::split(data, 2);
    let image = parts.get(1).copied().unwrap_or(&[]);
    roboct_fuzz::write("map.pgm", image);
    roboct_fuzz::write("map.png", image);
    let yaml = roboct_fuzz::write("map.yaml", parts[0]);
    let limits = MapLimits {
        max_cells: (1 << 30) / BYTES_PER_CELL,
    };
    let _ = load_ros_map(&yaml, limits);
});
