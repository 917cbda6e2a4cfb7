//! The PACS configuration (`--pacs FILE`, TOML), loaded and checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = roboct_fuzz::write("pacs.toml", data);
    let _ = roboct_dicom::config::DicomConfig::load(&path);
});
