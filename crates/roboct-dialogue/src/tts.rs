//! Voice out, as the dialogue sees it: the [`Synthesizer`] trait, a [`Voice`], and why speech
//! could not be made ([`TtsError`]). The espeak-ng engine is in the `roboct-speech` crate.

use crate::audio::{Audio, AudioError};

/// Why speech could not be synthesized.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TtsError {
    /// The program could not be run.
    #[error("cannot run {program}: {source}; install espeak-ng (./scripts/deps)")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The program failed.
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit status.
        status: String,
        /// What it printed.
        stderr: String,
    },
    /// Its output was not usable audio.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// Nothing to say.
    #[error("there is no text to speak")]
    EmptyText,
    /// espeak-ng has no such voice (it would silently fall back to its default).
    #[error(
        "espeak-ng has no voice {voice:?}; use a language such as en-us or en-gb, optionally with a variant such as +f3 (`espeak-ng --voices` lists them)"
    )]
    UnknownVoice {
        /// The voice asked for.
        voice: String,
    },
}

/// A voice: an espeak-ng voice name (with an optional `+variant`) and a speed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Voice {
    /// The espeak-ng voice, e.g. `en-us` or `en-us+f3`.
    pub name: String,
    /// Words per minute (espeak-ng's default is 175).
    pub speed_wpm: u32,
}

impl Voice {
    /// A voice.
    pub fn new(name: &str, speed_wpm: u32) -> Self {
        Self {
            name: name.to_string(),
            speed_wpm,
        }
    }
}

impl Default for Voice {
    fn default() -> Self {
        Voice::new("en-us", 160)
    }
}

/// Something that turns text into speech.
pub trait Synthesizer {
    /// Speaks `text` with `voice` into 16 kHz mono audio.
    fn synthesize(&self, text: &str, voice: &Voice) -> Result<Audio, TtsError>;
}

impl roboct_core::Recover for TtsError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            TtsError::Spawn { .. } => roboct_core::Recovery::Abort,
            TtsError::Failed { .. } => roboct_core::Recovery::Retry,
            TtsError::Audio(e) => roboct_core::Recover::recovery(e),
            TtsError::EmptyText | TtsError::UnknownVoice { .. } => {
                roboct_core::Recovery::WaitForOperator
            }
        }
    }
}
