//! NumPy `.npy`, read as a projection stack and as a 3D array (`roboct recon --projections`,
//! `roboct diagnose`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = roboct_fuzz::write("array.npy", data);
    let _ = roboct_io::read_projections(&path);
    let _ = roboct_io::read_array3(&path);
});
