//! Voice in, as the dialogue sees it: the [`Recognizer`] trait, what a recognition is
//! ([`Recognition`], [`Outcome`]) and why one could fail ([`SpeechError`]).
//!
//! The engine itself (pocketsphinx, loaded at run time) lives in the `roboct-speech` crate, so
//! that the dialogue logic and everything built on it need no speech library to build or run.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::audio::{Audio, Level};
use crate::command::Command;

/// Why the speech engine could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpeechError {
    /// A model file is missing.
    #[error(
        "the pocketsphinx model file {path} is missing; install pocketsphinx-en-us (./scripts/deps) or set ROBOCT_PS_MODEL_DIR"
    )]
    ModelMissing {
        /// The file.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Words of the grammar missing from the pronunciation dictionary.
    #[error("no pronunciation for {words:?} in the dictionary")]
    NoPronunciation {
        /// The words.
        words: Vec<String>,
    },
    /// A speech library could not be loaded (it is loaded when first used, not at build time).
    #[error(
        "cannot load {library} ({detail}); install the Debian package {package} (./scripts/deps installs it) or set {env_var} to the library's path"
    )]
    LibraryMissing {
        /// The library file asked for.
        library: String,
        /// The Debian package that provides it.
        package: &'static str,
        /// The environment variable that overrides its path.
        env_var: &'static str,
        /// The dynamic loader's reason.
        detail: String,
    },
    /// pocketsphinx refused something.
    #[error("pocketsphinx: {detail}")]
    Engine {
        /// What.
        detail: String,
    },
}

/// What the recognizer made of a recording.
#[derive(Clone, Debug)]
pub struct Recognition {
    /// The command, or why there is none.
    pub outcome: Outcome,
    /// The words the grammar decoder found (may hold a patient ID: never log it).
    pub words: String,
    /// The key phrases the spotter heard ("stop", "confirm").
    pub spotted: BTreeSet<String>,
    /// The grammar path's acoustic score minus the phone loop's, per frame (about 0 for a
    /// sentence of the language; see `roboct_speech::RecognizerOptions::reject_below_per_frame`); 0 when
    /// the phone loop is off.
    pub fit_per_frame: f64,
    /// The recording's level.
    pub level: Level,
    /// Seconds from the arrival of the last audio to this result.
    pub latency_s: f64,
}

impl Recognition {
    /// The result as `roboct listen --json` prints it: `{"command": "go", "slots": {...},
    /// "confidence": 0.93, ...}`, or `"command": null` with a `"reason"`. The slots may hold
    /// a patient ID (the operator asked for it); never log this object.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = match &self.outcome {
            Outcome::Command {
                command,
                confidence,
            } => serde_json::json!({
                "command": command.kind().name(),
                "slots": command.slots_json(),
                "confidence": confidence,
            }),
            Outcome::Nothing { reason } => serde_json::json!({
                "command": null,
                "slots": {},
                "confidence": null,
                "reason": reason,
            }),
        };
        v["words"] = serde_json::Value::String(self.words.clone());
        v["stop_heard"] = serde_json::Value::Bool(self.spotted.contains("stop"));
        v
    }

    /// One line for people: `go {"ward":3,"bed":12} (confidence 0.93)` or
    /// `nothing understood: <reason>`.
    pub fn summary(&self) -> String {
        match &self.outcome {
            Outcome::Command {
                command,
                confidence,
            } => format!(
                "{} {} (confidence {confidence:.2})",
                command.kind().name(),
                command.slots_json()
            ),
            Outcome::Nothing { reason } => format!("nothing understood: {reason}"),
        }
    }
}

/// A command or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A command of the language.
    Command {
        /// The command.
        command: Command,
        /// Confidence in (0, 1].
        confidence: f64,
    },
    /// Nothing in the language was said (or it could not be trusted).
    Nothing {
        /// Why, in a short sentence.
        reason: String,
    },
}

impl Outcome {
    /// The command, if any.
    pub fn command(&self) -> Option<&Command> {
        match self {
            Outcome::Command { command, .. } => Some(command),
            Outcome::Nothing { .. } => None,
        }
    }
}

/// A speech recognizer for the command language.
pub trait Recognizer {
    /// Starts listening to a new utterance.
    fn start(&mut self) -> Result<(), SpeechError>;
    /// Feeds audio as it arrives (16 kHz mono). Returns `true` as soon as a stop is heard,
    /// before the utterance ends.
    fn push(&mut self, samples: &[i16]) -> Result<bool, SpeechError>;
    /// Ends the utterance and says what was heard.
    fn finish(&mut self) -> Result<Recognition, SpeechError>;

    /// Recognizes a whole recording, fed in 100 ms chunks as a microphone would deliver it.
    fn recognize(&mut self, audio: &Audio) -> Result<Recognition, SpeechError> {
        self.start()?;
        for chunk in audio.samples().chunks(1600) {
            self.push(chunk)?;
        }
        self.finish()
    }
}

impl roboct_core::Recover for SpeechError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            SpeechError::ModelMissing { .. } | SpeechError::LibraryMissing { .. } => {
                roboct_core::Recovery::Abort
            }
            SpeechError::Io { .. } | SpeechError::Engine { .. } => roboct_core::Recovery::Retry,
            SpeechError::NoPronunciation { .. } => roboct_core::Recovery::WaitForOperator,
        }
    }
}
