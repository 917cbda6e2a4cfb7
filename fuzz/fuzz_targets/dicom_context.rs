//! The series context JSON that `roboct import-dicom` writes beside a volume and
//! `roboct export-dicom` reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = roboct_fuzz::write("volume.dicom.json", data);
    let _ = roboct_dicom::reader::SeriesContext::read(&path);
});
