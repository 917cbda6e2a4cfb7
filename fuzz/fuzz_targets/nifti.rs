//! NIfTI-1 `.nii` and `.nii.gz` (compression is decided by content), read as a volume.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = roboct_fuzz::write("volume.nii", data);
    let _ = roboct_io::read_volume(&path);
    let gz = roboct_fuzz::write("volume.nii.gz", data);
    let _ = roboct_io::read_array3(&gz);
});
