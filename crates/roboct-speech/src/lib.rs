//! The speech engines of roboct, behind the dialogue's [`Recognizer`] and [`Synthesizer`]
//! traits:
//!
//! * [`SphinxRecognizer`]: offline recognition of the command language with pocketsphinx
//!   (Debian's libpocketsphinx, **loaded when first used**, so nothing here is needed to build
//!   roboct; without it, [`SphinxRecognizer::new`] returns
//!   [`SpeechError::LibraryMissing`](roboct_dialogue::speech::SpeechError::LibraryMissing)
//!   naming the package to install);
//! * [`EspeakNg`]: text to speech with the espeak-ng program;
//! * [`eval`]: the voice evaluation behind `roboct bench voice`.
//!
//! [`Recognizer`]: roboct_dialogue::speech::Recognizer
//! [`Synthesizer`]: roboct_dialogue::tts::Synthesizer

#![warn(clippy::undocumented_unsafe_blocks)]

pub mod espeak;
pub mod eval;
pub mod ffi;
pub mod recognizer;
pub mod sphinx;

pub use espeak::EspeakNg;
pub use recognizer::{RecognizerOptions, SphinxRecognizer};
pub use sphinx::{Hypothesis, ModelPaths};
