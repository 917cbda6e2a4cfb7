//! MetaImage `.mha` (and `.mhd`: the same bytes also lie beside it as `data.raw`, so a header
//! naming that file finds data), read as a volume and as a projection stack.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    roboct_fuzz::write("data.raw", data);
    let mha = roboct_fuzz::write("image.mha", data);
    let _ = roboct_io::read_volume(&mha);
    let _ = roboct_io::read_projections(&mha);
    let mhd = roboct_fuzz::write("image.mhd", data);
    let _ = roboct_io::read_array3(&mhd);
});
