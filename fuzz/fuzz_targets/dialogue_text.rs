//! A typed or recognised sentence, understood by the command parser (English or Chinese).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = roboct_dialogue::parse::parse(text);
    }
});
