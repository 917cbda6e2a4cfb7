//! WAV audio, read and converted to the recognizer's format as `roboct dialogue --wav` does.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = roboct_fuzz::write("speech.wav", data);
    let _ = roboct_dialogue::audio::read_wav(&path);
});
