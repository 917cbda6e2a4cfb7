//! Voice in: offline speech recognition with pocketsphinx.
//!
//! [`SphinxRecognizer`] runs pocketsphinx decoders side by side on the same audio, all fed as
//! the audio arrives (streaming, so almost nothing is left to do when it ends):
//! 1. the **grammar** decoder, constrained to the JSGF grammar compiled from the command
//!    language ([`roboct_dialogue::language::jsgf`]): it says which sentence of the language fits best;
//! 2. the **spotter**, a keyword-spotting search that is always on, for two words: "stop"
//!    (a stop it hears overrides everything, and is reported while the audio is still coming
//!    in) and "confirm" (a second opinion on a confirmation). Its "stop" threshold is strict:
//!    measured over the evaluation's 1488 utterances, 1e-20 heard 57 of 96 stops but also 8
//!    stops nobody said, 1e-10 heard 37 and none falsely; the grammar decoder hears the
//!    stops said as commands, the spotter adds stops said inside other speech, and early;
//! 3. the **phone loop** (optional), any sequence of phones: the best any speech could
//!    score. The grammar path's acoustic score minus the loop's, per frame, is the rejection
//!    path for speech outside the language, which a grammar decoder otherwise forces onto
//!    the nearest command.
//!
//! Why this route (PEERS.md measured the alternatives): calling Debian's libpocketsphinx
//! through a few hand-declared functions ([`crate::ffi`], loaded when first used) and decoding against a JSGF grammar was
//! the most accurate (the `pocketsphinx` crate binds an older API and is unmaintained;
//! `pocketsphinx_continuous` as a subprocess and the PyPI wheel were less accurate), and in
//! process there is no start-up cost per utterance and the audio can be streamed.
//!
//! What was measured and left out (figures in the crate README): a garbage alternative of
//! common English words in the grammar (it absorbs noisy commands at 10 dB even at the
//! smallest prior sphinxbase can represent), pocketsphinx's own phone search (`allphone`,
//! 30 s for 2 s of audio here), batch cepstral mean normalization (worse than streaming),
//! and a spectral Wiener filter in front of the decoder (no better than pocketsphinx's own
//! noise removal).

use std::collections::BTreeSet;
use std::time::Instant;

use roboct_dialogue::audio::{Audio, Level};
use roboct_dialogue::command::Command;
use roboct_dialogue::language;
use roboct_dialogue::parse::{self, Understanding};
use roboct_dialogue::speech::{Outcome, Recognition, Recognizer, SpeechError};

use crate::sphinx::{Decoder, Hypothesis, Lexicon, ModelPaths};

/// Settings of the recognizer. The defaults were chosen by measurement with
/// `roboct bench voice` (see the crate README for the figures).
#[derive(Clone, Debug, PartialEq)]
pub struct RecognizerOptions {
    /// The model files.
    pub model: ModelPaths,
    /// The spotter's threshold for "stop" (pocketsphinx key-phrase threshold; smaller hears
    /// more).
    pub stop_threshold: f64,
    /// The spotter's threshold for "confirm" (larger is stricter).
    pub confirm_threshold: f64,
    /// A "confirm" from the grammar that the spotter did not hear is still taken when its
    /// fit against the phone loop is at least this good (per frame).
    pub confirm_min_fit_per_frame: f64,
    /// Whether to run the phone loop and reject poor fits.
    pub phone_loop: bool,
    /// Reject a sentence whose grammar path scores more than this below the phone loop, per
    /// frame (pocketsphinx score units).
    pub reject_below_per_frame: f64,
    /// pocketsphinx's language weight (`-lw`).
    pub language_weight: f64,
    /// Gaussians evaluated per mixture (`-topn`; the en-us model is phonetically tied).
    pub topn: u32,
    /// Further pocketsphinx options (`("-beam", "1e-60")`), for every decoder.
    pub decoder_options: Vec<(String, String)>,
}

impl Default for RecognizerOptions {
    fn default() -> Self {
        RecognizerOptions {
            model: ModelPaths::default_en_us(),
            stop_threshold: 1e-10,
            confirm_threshold: 1e-20,
            confirm_min_fit_per_frame: 0.0,
            phone_loop: true,
            reject_below_per_frame: -8.0,
            language_weight: 10.0,
            topn: 16,
            decoder_options: Vec::new(),
        }
    }
}

const GRAMMAR: &str = "commands";
const PHONES: &str = "phones";
const SPOT: &str = "spot";

/// The pocketsphinx recognizer (see the module docs).
pub struct SphinxRecognizer {
    options: RecognizerOptions,
    grammar: Decoder,
    spotter: Decoder,
    phones: Option<Decoder>,
    audio: Vec<i16>,
    spotted: BTreeSet<String>,
    last_push: Option<Instant>,
    warm: bool,
}

impl SphinxRecognizer {
    /// Loads the model and compiles the grammar (about a second on one core).
    pub fn new(options: RecognizerOptions) -> Result<Self, SpeechError> {
        // The library first: on a machine without the speech packages, its error names them.
        crate::ffi::api()?;
        options.model.check()?;
        let vocabulary = language::grammar_vocabulary();
        let lexicon = Lexicon::load(&options.model.dict, &vocabulary)?;
        let mut common: Vec<(String, String)> = vec![
            ("-lw".into(), options.language_weight.to_string()),
            ("-topn".into(), options.topn.to_string()),
        ];
        common.extend(options.decoder_options.iter().cloned());
        let common: Vec<(&str, String)> = common
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();

        let mut grammar = Decoder::new(&options.model.hmm, &common)?;
        grammar.add_words(&lexicon)?;
        grammar.set_jsgf(GRAMMAR, &language::jsgf())?;
        grammar.set_search(GRAMMAR)?;

        let mut spotter = Decoder::new(&options.model.hmm, &common)?;
        let keys = Lexicon {
            entries: lexicon
                .entries
                .iter()
                .filter(|(w, _)| w.as_str() == "stop" || w.as_str() == "confirm")
                .map(|(w, p)| (w.clone(), p.clone()))
                .collect(),
        };
        spotter.add_words(&keys)?;
        spotter.set_keyphrases(
            SPOT,
            &[
                ("stop", options.stop_threshold),
                ("confirm", options.confirm_threshold),
            ],
        )?;
        spotter.set_search(SPOT)?;

        let phones = if options.phone_loop {
            let mut d = Decoder::new(&options.model.hmm, &common)?;
            d.add_words(&phone_loop_lexicon())?;
            d.set_jsgf(PHONES, &phone_loop_jsgf())?;
            d.set_search(PHONES)?;
            Some(d)
        } else {
            None
        };
        Ok(SphinxRecognizer {
            options,
            grammar,
            spotter,
            phones,
            audio: Vec::new(),
            spotted: BTreeSet::new(),
            last_push: None,
            warm: false,
        })
    }

    /// The options in use.
    pub fn options(&self) -> &RecognizerOptions {
        &self.options
    }

    /// Recognizes a whole recording on its own (`roboct listen`). The decoders normalize the
    /// cepstral mean as they go, which a first utterance heard cold does poorly; so a
    /// recognizer that has heard nothing yet first listens to the recording once to adapt
    /// to its microphone and room, then recognizes it.
    pub fn recognize_recording(&mut self, audio: &Audio) -> Result<Recognition, SpeechError> {
        if !self.warm {
            self.recognize(audio)?;
        }
        self.recognize(audio)
    }

    fn note_spotted(&mut self) {
        for s in self.spotter.hypothesis().segments {
            // Key-phrase segments carry a trailing space.
            let w = s.word.trim();
            if w == "stop" || w == "confirm" {
                self.spotted.insert(w.to_string());
            }
        }
    }
}

impl Recognizer for SphinxRecognizer {
    fn start(&mut self) -> Result<(), SpeechError> {
        self.audio.clear();
        self.spotted.clear();
        self.last_push = None;
        self.grammar.start()?;
        self.spotter.start()?;
        if let Some(p) = self.phones.as_mut() {
            p.start()?;
        }
        Ok(())
    }

    fn push(&mut self, samples: &[i16]) -> Result<bool, SpeechError> {
        // The chunk's arrival: the latency of the result counts from here for the last one.
        self.last_push = Some(Instant::now());
        self.audio.extend_from_slice(samples);
        self.grammar.process(samples, false)?;
        self.spotter.process(samples, false)?;
        if let Some(p) = self.phones.as_mut() {
            p.process(samples, false)?;
        }
        self.note_spotted();
        Ok(self.spotted.contains("stop"))
    }

    fn finish(&mut self) -> Result<Recognition, SpeechError> {
        let t0 = self.last_push.unwrap_or_else(Instant::now);
        self.warm = true;
        let g = self.grammar.end()?;
        self.spotter.end()?;
        self.note_spotted();
        let fit_per_frame = match self.phones.as_mut() {
            Some(p) => {
                let loop_hyp = p.end()?;
                let frames = g.frames.max(1) as f64;
                (acoustic(&g) - acoustic(&loop_hyp)) as f64 / frames
            }
            None => 0.0,
        };
        let audio = Audio::from_samples(std::mem::take(&mut self.audio));
        let level = audio.level();
        let outcome = decide(&g.text, fit_per_frame, &self.spotted, &level, &self.options);
        Ok(Recognition {
            outcome,
            words: g.text,
            spotted: self.spotted.clone(),
            fit_per_frame,
            level,
            latency_s: t0.elapsed().as_secs_f64(),
        })
    }
}

/// The acoustic score of a path.
fn acoustic(h: &Hypothesis) -> i64 {
    h.segments.iter().map(|s| s.acoustic_score as i64).sum()
}

/// The 39 phones of the CMU dictionary (the en-us model's context-independent phones).
const PHONES_CMU: [&str; 39] = [
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
];

/// The most phones the phone loop spans (about 4 s of speech).
const LOOP_MAX_PHONES: usize = 60;

/// One word per phone ("ph_aa" pronounced AA), for the phone loop.
fn phone_loop_lexicon() -> Lexicon {
    Lexicon {
        entries: PHONES_CMU
            .iter()
            .map(|p| (format!("ph_{}", p.to_lowercase()), vec![p.to_string()]))
            .collect(),
    }
}

/// The phone loop as a grammar, so the fast FSG search runs it (pocketsphinx's `allphone`
/// search took 30 s for 2 s of audio here). Repetition is spelt out as nested optionals:
/// sphinxbase's `+` loops back to the wrong state.
fn phone_loop_jsgf() -> String {
    let words: Vec<String> = PHONES_CMU
        .iter()
        .map(|p| format!("ph_{}", p.to_lowercase()))
        .collect();
    format!(
        "#JSGF V1.0;\ngrammar phones;\npublic <loop> = <phone>{}{};\n<phone> = {};\n",
        " [<phone>".repeat(LOOP_MAX_PHONES - 1),
        "]".repeat(LOOP_MAX_PHONES - 1),
        words.join(" | ")
    )
}

/// Turns the decoders' findings into an outcome. Stop is asymmetric on purpose: a stop is
/// obeyed from a clipped recording or a poor fit, while any other command must be clean,
/// and a confirmation needs the spotter's agreement or a fit at least as good as any phone
/// sequence ([`RecognizerOptions::confirm_min_fit_per_frame`]).
fn decide(
    words: &str,
    fit_per_frame: f64,
    spotted: &BTreeSet<String>,
    level: &Level,
    options: &RecognizerOptions,
) -> Outcome {
    let nothing = |reason: String| Outcome::Nothing { reason };
    if level.is_silent() {
        return nothing(format!(
            "the recording is silent (loudest {:.0} dBFS); speak closer to the microphone",
            level.loudest_frame_dbfs
        ));
    }
    if spotted.contains("stop") || words.split_whitespace().any(|w| w == "stop") {
        return Outcome::Command {
            command: Command::Stop,
            confidence: 1.0,
        };
    }
    if level.is_clipped() {
        return nothing(format!(
            "the recording is clipped ({:.1}% of samples at full scale); lower the microphone gain",
            100.0 * level.clipped_fraction
        ));
    }
    if words.is_empty() {
        return nothing("no command was heard".into());
    }
    if options.phone_loop && fit_per_frame < options.reject_below_per_frame {
        return nothing("what was said is not a command I know".into());
    }
    match parse::parse(words) {
        Understanding::Understood(p) => {
            if p.command == Command::Confirm
                && !spotted.contains("confirm")
                && !(options.phone_loop && fit_per_frame >= options.confirm_min_fit_per_frame)
            {
                return nothing("I am not sure I heard confirm; please say confirm again".into());
            }
            // The acoustic fit scales the parser's confidence: 1 at a fit of 0 or better,
            // falling linearly to 0.5 at the rejection threshold.
            let fit = if options.phone_loop {
                (1.0 - 0.5 * (fit_per_frame / options.reject_below_per_frame)).clamp(0.5, 1.0)
            } else {
                1.0
            };
            Outcome::Command {
                command: p.command,
                confidence: (p.confidence * fit * 1000.0).round() / 1000.0,
            }
        }
        Understanding::NotUnderstood { reason, .. } => nothing(reason),
    }
}
