//! A folder of up to four DICOM files (the parts between separator lines), scanned and read
//! into a volume as `roboct import-dicom` and `roboct diagnose --dicom` do.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = roboct_fuzz::fresh_dir("series");
    for (i, part) in roboct_fuzz::split(data, 4).iter().enumerate() {
        std::fs::write(dir.join(format!("{i}.dcm")), part).expect("scratch file");
    }
    let Ok(scan) = roboct_dicom::reader::scan_folder(&dir) else {
        return;
    };
    for s in scan.series.clone() {
        let _ = scan.context(&s.series_instance_uid);
        let _ = scan.slice_references(&s.series_instance_uid);
        let _ = scan.read_series(Some(&s.series_instance_uid));
    }
});
