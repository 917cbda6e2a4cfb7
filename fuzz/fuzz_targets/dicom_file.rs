//! One DICOM Part 10 file, checked as `roboct upload` checks each file before queueing it, then
//! converted as the sender converts a file to the syntax a PACS accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roboct_dicom::part10::{
    DEFLATED_EXPLICIT_VR_LE, EXPLICIT_VR_LE, decode_part10, encode_dataset, read_part10_info,
};

fuzz_target!(|data: &[u8]| {
    let _ = read_part10_info(data);
    let path = roboct_fuzz::write("file.dcm", data);
    if roboct_dicom::reader::read_part10_file(&path).is_ok()
        && let Ok((_, obj)) = decode_part10(data)
    {
        for ts in [EXPLICIT_VR_LE, DEFLATED_EXPLICIT_VR_LE] {
            let _ = encode_dataset(&obj, ts);
        }
    }
});
