//! The voice evaluation behind `roboct bench voice`: every command of the language spoken by
//! espeak-ng in several voices and speeds, with white noise at several SNRs, recognized, and
//! scored per voice.
//!
//! * **Voices.** Two sets, reported apart ([`VoiceSet`]): the *development* voices (en-us and
//!   its female variant), which may be listened to while the language and the recognizer are
//!   changed, and *held-out* accents (Scottish English, Received Pronunciation, Caribbean
//!   English), which are only measured, before and after a change, never tuned on: their
//!   figures say how the recognizer does for speakers it was not fitted to. Every voice also
//!   has its own rows, so that an accent that fails is visible rather than averaged away.
//! * **Sentences.** For every spoken pattern of every command, its shortest and longest
//!   forms, with slot values cycling through the spoken phrases of each slot (so every way of
//!   saying a body part, protocol and topic is said, and numbers vary); plus sentences outside the language that
//!   staff say near a scanner ([`OUT_OF_LANGUAGE`]), which must be rejected.
//! * **Audio.** espeak-ng output at 16 kHz, 0.3 s of silence before and after (a microphone
//!   hears room noise around speech), white Gaussian noise at the asked SNR against the
//!   active speech level ([`Audio::with_noise`]), seeded per utterance.
//! * **Streaming.** Audio goes to the recognizer in 100 ms chunks as a microphone would
//!   deliver it; the latency is the time from handing over the last chunk to the result.
//!   The decoders keep up with real time (the real-time factor is printed), so this equals
//!   the latency of a live stream.
//! * **Scores.** Command accuracy (command and every slot right) over sentences of the
//!   language; stop recall; false stops; false X-ray confirmations (anything that is not
//!   "confirm" recognized as confirm); rejection of out-of-language sentences.

use std::fmt;
use std::time::Instant;

use roboct_core::Progress;

use roboct_dialogue::audio::Audio;
use roboct_dialogue::command::Command;
use roboct_dialogue::language::{self, COMMANDS, CommandKind, Item, SlotValues};
use roboct_dialogue::parse;
use roboct_dialogue::speech::{Recognition, Recognizer, SpeechError};
use roboct_dialogue::tts::{Synthesizer, TtsError, Voice};

use crate::{RecognizerOptions, SphinxRecognizer};

/// Sentences outside the language that are said around a scanner, and must not become
/// commands. "start", "continue" and "hold on" are typed synonyms but deliberately not in the
/// speech grammar ("start" sounds like "stop", "continue" like "confirm").
pub const OUT_OF_LANGUAGE: &[&str] = &[
    "thank you very much",
    "good morning",
    "how are you feeling today",
    "the patient is ready",
    "hand me the gloves please",
    "can you hear me",
    "what time is it",
    "let me check the chart",
    "is it done yet",
    "okay",
    "yes",
    "start",
    "continue",
    "hold on",
    "take a deep breath",
];

/// Which set a voice of the evaluation belongs to (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VoiceSet {
    /// Voices that may be listened to while the language and recognizer are changed.
    Development,
    /// Accents that are only measured, never tuned on.
    HeldOut,
}

impl VoiceSet {
    /// The set's name in the table and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            VoiceSet::Development => "development",
            VoiceSet::HeldOut => "held-out",
        }
    }
}

/// The development voices: espeak-ng's American English, male and female.
pub const DEVELOPMENT_VOICES: &[&str] = &["en-us", "en-us+f3"];

/// The held-out voices: espeak-ng's Scottish English, Received Pronunciation and Caribbean
/// English, accents that staff of a hospital speak and the en-us model was not trained on.
pub const HELD_OUT_VOICES: &[&str] = &["en-gb-scotland", "en-gb-x-rp", "en-029"];

/// Every voice at every speed.
pub fn voices<S: AsRef<str>>(names: &[S], speeds_wpm: &[u32]) -> Vec<Voice> {
    names
        .iter()
        .flat_map(|n| speeds_wpm.iter().map(move |&s| Voice::new(n.as_ref(), s)))
        .collect()
}

/// What to evaluate.
#[derive(Clone, Debug)]
pub struct VoiceBenchConfig {
    /// The development voices and speeds (see [`VoiceSet`]).
    pub voices: Vec<Voice>,
    /// The held-out voices and speeds: measured, never tuned on.
    pub held_out_voices: Vec<Voice>,
    /// Noise conditions: `None` is clean, `Some(db)` white noise at that SNR.
    pub snrs_db: Vec<Option<f64>>,
    /// Recognizer settings.
    pub recognizer: RecognizerOptions,
    /// Samples per chunk fed to the recognizer (1600 = 100 ms).
    pub chunk_samples: usize,
    /// Keep only every n-th sentence (1 = all), for quick runs.
    pub subsample: usize,
}

impl Default for VoiceBenchConfig {
    fn default() -> Self {
        VoiceBenchConfig {
            voices: voices(DEVELOPMENT_VOICES, &[175, 140]),
            held_out_voices: voices(HELD_OUT_VOICES, &[175, 140]),
            snrs_db: vec![Some(20.0), Some(10.0)],
            recognizer: RecognizerOptions::default(),
            chunk_samples: 1600,
            subsample: 1,
        }
    }
}

/// A sentence to speak and what it should be understood as (`None`: nothing).
#[derive(Clone, Debug)]
pub struct Sample {
    /// The words.
    pub text: String,
    /// The expected command.
    pub expected: Option<Command>,
}

/// The sentences of the evaluation (see the module docs).
pub fn sentences() -> Vec<Sample> {
    let mut counter = 0usize;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in COMMANDS {
        for p in c.spoken {
            let Ok(pattern) = language::parse_pattern(p) else {
                continue;
            };
            let expansions = language::expand(&pattern);
            let shortest = expansions.iter().min_by_key(|e| e.len());
            let longest = expansions.iter().max_by_key(|e| e.len());
            // Every way of saying stop is tried: its recall must be 100%.
            let chosen: Vec<&Vec<Item>> = if c.kind == CommandKind::Stop {
                expansions.iter().collect()
            } else {
                [shortest, longest].into_iter().flatten().collect()
            };
            for items in chosen {
                // Each slot value list is walked so every value is said at least once.
                let words_per_slot = slot_value_count(items);
                for k in 0..words_per_slot.max(1) {
                    let text = fill(items, counter + k);
                    if seen.insert(text.clone()) {
                        let expected = parse::parse(&text).command().cloned();
                        out.push(Sample { text, expected });
                    }
                }
                counter += 1;
            }
        }
    }
    for s in OUT_OF_LANGUAGE {
        out.push(Sample {
            text: s.to_string(),
            expected: None,
        });
    }
    out
}

fn slot_value_count(items: &[Item]) -> usize {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Slot(k) => match language::slot_spec(*k).values {
                SlotValues::Words(v) => Some(v.iter().map(|x| x.spoken.len()).sum()),
                _ => None,
            },
            Item::Word(_) => None,
        })
        .max()
        .unwrap_or(1)
}

/// Deterministic slot values: word slots cycle through the spoken phrases of their values
/// ("head", "brain", "chest", ...), numbers and digits vary with `seed`.
fn fill(items: &[Item], seed: usize) -> String {
    items
        .iter()
        .enumerate()
        .map(|(pos, i)| match i {
            Item::Word(w) => w.clone(),
            Item::Slot(k) => match language::slot_spec(*k).values {
                SlotValues::Number { min, max } => {
                    let span = (max - min + 1) as usize;
                    language::number_words(min + ((seed * 7 + pos * 3) % span) as u32)
                }
                SlotValues::Digits { .. } => {
                    let ids = [
                        "four seven one one",
                        "two zero four eight",
                        "nine three five",
                    ];
                    ids[seed % ids.len()].to_string()
                }
                SlotValues::Words(v) => {
                    let phrases: Vec<&str> =
                        v.iter().flat_map(|x| x.spoken.iter().copied()).collect();
                    phrases[seed % phrases.len()].to_string()
                }
            },
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why the evaluation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// Speech synthesis failed.
    #[error(transparent)]
    Tts(#[from] TtsError),
    /// Recognition failed.
    #[error(transparent)]
    Speech(#[from] SpeechError),
}

impl roboct_core::Recover for BenchError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            BenchError::Tts(e) => roboct_core::Recover::recovery(e),
            BenchError::Speech(e) => roboct_core::Recover::recovery(e),
        }
    }
}

/// One recognized utterance.
#[derive(Clone, Debug)]
pub struct Trial {
    /// The sentence.
    pub text: String,
    /// The voice and speed.
    pub voice: Voice,
    /// The set the voice belongs to.
    pub set: VoiceSet,
    /// The noise condition.
    pub snr_db: Option<f64>,
    /// What was expected.
    pub expected: Option<Command>,
    /// What came out.
    pub got: Option<Command>,
    /// The words the grammar decoder found.
    pub words: String,
    /// The grammar path's fit against the phone loop, per frame.
    pub fit_per_frame: f64,
    /// What the spotter heard.
    pub spotted: Vec<String>,
    /// The audio duration in seconds.
    pub duration_s: f64,
    /// End of audio to result, in seconds.
    pub latency_s: f64,
    /// Decoding CPU time (wall clock of all pushes and the finish) over audio duration.
    pub real_time_factor: f64,
}

impl Trial {
    /// The voice as `name@speed` ("en-us+f3@140").
    pub fn voice_label(&self) -> String {
        format!("{}@{}", self.voice.name, self.voice.speed_wpm)
    }
}

/// Figures for a group of utterances (one noise condition, one voice, one set...).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConditionFigures {
    /// Utterances of the language.
    pub in_language: usize,
    /// Of those, recognized with the right command and slots.
    pub correct: usize,
    /// Of those, recognized with the right command (slots aside).
    pub correct_kind: usize,
    /// Stop utterances.
    pub stops: usize,
    /// Of those, recognized as stop.
    pub stops_heard: usize,
    /// Utterances that are not a stop but were taken as one.
    pub false_stops: usize,
    /// Utterances that are not "confirm" but were taken as a confirmation.
    pub false_confirmations: usize,
    /// Sentences outside the language.
    pub out_of_language: usize,
    /// Of those, rejected (no command).
    pub rejected: usize,
}

impl ConditionFigures {
    /// Command accuracy in percent.
    pub fn accuracy_pct(&self) -> f64 {
        pct(self.correct, self.in_language)
    }

    /// The figures as JSON (counts, and percentages rounded to 0.1).
    pub fn to_json(&self) -> serde_json::Value {
        let round = |x: f64| (x * 10.0).round() / 10.0;
        serde_json::json!({
            "in_language": self.in_language,
            "correct": self.correct,
            "accuracy_pct": round(self.accuracy_pct()),
            "correct_command": self.correct_kind,
            "command_only_pct": round(pct(self.correct_kind, self.in_language)),
            "stops": self.stops,
            "stops_heard": self.stops_heard,
            "false_stops": self.false_stops,
            "false_confirmations": self.false_confirmations,
            "out_of_language": self.out_of_language,
            "rejected": self.rejected,
            "rejected_pct": round(pct(self.rejected, self.out_of_language)),
        })
    }
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// The evaluation's result.
#[derive(Clone, Debug)]
pub struct VoiceReport {
    /// Every utterance.
    pub trials: Vec<Trial>,
    /// The development voices.
    pub voices: Vec<Voice>,
    /// The held-out voices.
    pub held_out_voices: Vec<Voice>,
    /// The noise conditions.
    pub snrs_db: Vec<Option<f64>>,
}

impl VoiceReport {
    /// The figures of the utterances `which` selects.
    pub fn figures(&self, which: impl Fn(&Trial) -> bool) -> ConditionFigures {
        let mut f = ConditionFigures::default();
        for t in self.trials.iter().filter(|t| which(t)) {
            score(&mut f, t);
        }
        f
    }

    /// The figures over every utterance.
    pub fn total(&self) -> ConditionFigures {
        self.figures(|_| true)
    }

    /// The voice names of a set (speeds aside), in the order they were given.
    pub fn voice_names(&self, set: VoiceSet) -> Vec<String> {
        let voices = match set {
            VoiceSet::Development => &self.voices,
            VoiceSet::HeldOut => &self.held_out_voices,
        };
        let mut names: Vec<String> = Vec::new();
        for v in voices {
            if !names.contains(&v.name) {
                names.push(v.name.clone());
            }
        }
        names
    }

    /// The sets that have voices.
    fn sets(&self) -> Vec<VoiceSet> {
        [VoiceSet::Development, VoiceSet::HeldOut]
            .into_iter()
            .filter(|s| !self.voice_names(*s).is_empty())
            .collect()
    }

    /// Latencies (seconds) of utterances whose audio lasts between `min_s` and `max_s`.
    pub fn latencies(&self, min_s: f64, max_s: f64) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .trials
            .iter()
            .filter(|t| t.duration_s >= min_s && t.duration_s <= max_s)
            .map(|t| t.latency_s)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// Decoding time over audio time of every utterance, sorted.
    fn real_time_factors(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.trials.iter().map(|t| t.real_time_factor).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The errors: trials whose result differs from the expectation.
    pub fn errors(&self) -> impl Iterator<Item = &Trial> {
        self.trials.iter().filter(|t| t.got != t.expected)
    }

    /// The report as JSON (`roboct bench voice --json`): figures per set, per voice (speeds
    /// pooled) and per voice and speed, each over all noise conditions and per condition;
    /// latencies; and every miss. The evaluation's patient IDs are made up.
    pub fn to_json(&self) -> serde_json::Value {
        let by_condition = |which: &dyn Fn(&Trial) -> bool| -> serde_json::Value {
            let conditions: Vec<serde_json::Value> = self
                .snrs_db
                .iter()
                .map(|&snr| {
                    let mut v = self.figures(|t| which(t) && t.snr_db == snr).to_json();
                    v["snr_db"] = serde_json::json!(snr);
                    v["noise"] = serde_json::json!(noise_name(snr));
                    v
                })
                .collect();
            serde_json::json!({
                "all": self.figures(which).to_json(),
                "conditions": conditions,
            })
        };
        let mut sets = serde_json::Map::new();
        for set in self.sets() {
            let mut v = by_condition(&|t: &Trial| t.set == set);
            v["voices"] = serde_json::json!(self.voice_names(set));
            sets.insert(set.name().to_string(), v);
        }
        let mut per_voice = Vec::new();
        for set in self.sets() {
            for name in self.voice_names(set) {
                let mut v = by_condition(&|t: &Trial| t.voice.name == name);
                v["voice"] = serde_json::json!(name);
                v["set"] = serde_json::json!(set.name());
                let speeds: Vec<serde_json::Value> = self
                    .voices
                    .iter()
                    .chain(&self.held_out_voices)
                    .filter(|x| x.name == name)
                    .map(|x| {
                        let mut s = by_condition(&|t: &Trial| t.voice == *x);
                        s["speed_wpm"] = serde_json::json!(x.speed_wpm);
                        s
                    })
                    .collect();
                v["speeds"] = serde_json::json!(speeds);
                per_voice.push(v);
            }
        }
        let ms = |x: f64| (x * 1e4).round() / 10.0;
        let all = self.latencies(0.0, f64::INFINITY);
        let three = self.latencies(2.5, 3.5);
        let rtf = self.real_time_factors();
        let misses: Vec<serde_json::Value> = self
            .errors()
            .map(|t| {
                let command = |c: &Option<Command>| match c {
                    Some(c) => {
                        serde_json::json!({"command": c.kind().name(), "slots": c.slots_json()})
                    }
                    None => serde_json::Value::Null,
                };
                serde_json::json!({
                    "said": t.text,
                    "voice": t.voice.name,
                    "speed_wpm": t.voice.speed_wpm,
                    "set": t.set.name(),
                    "snr_db": t.snr_db,
                    "expected": command(&t.expected),
                    "got": command(&t.got),
                    "words": t.words,
                    "fit_per_frame": (t.fit_per_frame * 100.0).round() / 100.0,
                })
            })
            .collect();
        serde_json::json!({
            "utterances": self.trials.len(),
            "sentences": self.sentence_count(),
            "snr_db": self.snrs_db,
            "all": self.total().to_json(),
            "sets": sets,
            "voices": per_voice,
            "latency_ms": {
                "all": {"median": ms(percentile(&all, 0.5)), "p95": ms(percentile(&all, 0.95)), "max": ms(percentile(&all, 1.0))},
                "utterances_2_5_to_3_5_s": {"count": three.len(), "median": ms(percentile(&three, 0.5)), "p95": ms(percentile(&three, 0.95)), "max": ms(percentile(&three, 1.0))},
            },
            "real_time_factor": {"median": percentile(&rtf, 0.5), "max": percentile(&rtf, 1.0)},
            "misses": misses,
        })
    }

    fn sentence_count(&self) -> usize {
        let runs = (self.voices.len() + self.held_out_voices.len()) * self.snrs_db.len();
        self.trials.len() / runs.max(1)
    }
}

fn noise_name(snr_db: Option<f64>) -> String {
    match snr_db {
        None => "clean".to_string(),
        Some(db) => format!("{db} dB SNR"),
    }
}

fn score(f: &mut ConditionFigures, t: &Trial) {
    let got_kind = t.got.as_ref().map(Command::kind);
    match &t.expected {
        Some(e) => {
            f.in_language += 1;
            if t.got.as_ref() == Some(e) {
                f.correct += 1;
            }
            if got_kind == Some(e.kind()) {
                f.correct_kind += 1;
            }
            if e.kind() == CommandKind::Stop {
                f.stops += 1;
                if got_kind == Some(CommandKind::Stop) {
                    f.stops_heard += 1;
                }
            }
        }
        None => {
            f.out_of_language += 1;
            if t.got.is_none() {
                f.rejected += 1;
            }
        }
    }
    let expected_kind = t.expected.as_ref().map(Command::kind);
    if got_kind == Some(CommandKind::Stop) && expected_kind != Some(CommandKind::Stop) {
        f.false_stops += 1;
    }
    if got_kind == Some(CommandKind::Confirm) && expected_kind != Some(CommandKind::Confirm) {
        f.false_confirmations += 1;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One row of the table: a label, a noise condition, the figures.
fn row(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    snr: Option<f64>,
    c: &ConditionFigures,
) -> fmt::Result {
    writeln!(
        f,
        "{:<18} {:<10} {:>8.1}% {:>11.1}% {:>10.1}% {:>11} {:>13} {:>19.1}%",
        label,
        noise_name(snr),
        c.accuracy_pct(),
        pct(c.correct_kind, c.in_language),
        pct(c.stops_heard, c.stops),
        c.false_stops,
        c.false_confirmations,
        pct(c.rejected, c.out_of_language)
    )
}

impl fmt::Display for VoiceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |voices: &[Voice]| -> String {
            voices
                .iter()
                .map(|v| format!("{}@{}", v.name, v.speed_wpm))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "voice bench: {} utterances ({} sentences x {} voices x {} noise conditions)",
            self.trials.len(),
            self.sentence_count(),
            self.voices.len() + self.held_out_voices.len(),
            self.snrs_db.len()
        )?;
        writeln!(f, "development voices (voice@wpm): {}", list(&self.voices))?;
        if !self.held_out_voices.is_empty() {
            writeln!(
                f,
                "held-out voices, measured and never tuned on: {}",
                list(&self.held_out_voices)
            )?;
        }
        writeln!(
            f,
            "{:<18} {:<10} {:>9} {:>12} {:>11} {:>11} {:>13} {:>20}",
            "set / voice",
            "noise",
            "accuracy",
            "command only",
            "stop recall",
            "false stops",
            "false confirm",
            "out-of-lang rejected"
        )?;
        for set in self.sets() {
            for &snr in &self.snrs_db {
                row(
                    f,
                    set.name(),
                    snr,
                    &self.figures(|t| t.set == set && t.snr_db == snr),
                )?;
            }
            for name in self.voice_names(set) {
                for &snr in &self.snrs_db {
                    let c = self.figures(|t| t.voice.name == name && t.snr_db == snr);
                    row(f, &format!("  {name}"), snr, &c)?;
                }
            }
        }
        for set in self.sets() {
            let t = self.figures(|t| t.set == set);
            writeln!(
                f,
                "{}: accuracy {:.1}% of {}, stop recall {}/{}, false stops {}, false X-ray confirmations {}, out-of-language rejected {}/{}",
                set.name(),
                t.accuracy_pct(),
                t.in_language,
                t.stops_heard,
                t.stops,
                t.false_stops,
                t.false_confirmations,
                t.rejected,
                t.out_of_language
            )?;
        }
        let all = self.latencies(0.0, f64::INFINITY);
        let three = self.latencies(2.5, 3.5);
        let rtf = self.real_time_factors();
        writeln!(
            f,
            "latency, end of audio to result: all utterances median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
            1e3 * percentile(&all, 0.5),
            1e3 * percentile(&all, 0.95),
            1e3 * percentile(&all, 1.0)
        )?;
        writeln!(
            f,
            "latency for 2.5-3.5 s utterances ({}): median {:.0} ms, p95 {:.0} ms, max {:.0} ms",
            three.len(),
            1e3 * percentile(&three, 0.5),
            1e3 * percentile(&three, 0.95),
            1e3 * percentile(&three, 1.0)
        )?;
        writeln!(
            f,
            "real-time factor (decoding time / audio time): median {:.2}, max {:.2}",
            percentile(&rtf, 0.5),
            percentile(&rtf, 1.0)
        )
    }
}

/// Synthesizes, adds noise, recognizes and scores (see the module docs).
pub fn run_voice_bench(
    config: &VoiceBenchConfig,
    tts: &dyn Synthesizer,
    progress: &dyn Progress,
) -> Result<VoiceReport, BenchError> {
    let samples: Vec<Sample> = sentences()
        .into_iter()
        .step_by(config.subsample.max(1))
        .collect();
    let voices: Vec<(&Voice, VoiceSet)> = config
        .voices
        .iter()
        .map(|v| (v, VoiceSet::Development))
        .chain(
            config
                .held_out_voices
                .iter()
                .map(|v| (v, VoiceSet::HeldOut)),
        )
        .collect();
    let mut recognizer = SphinxRecognizer::new(config.recognizer.clone())?;
    let total = (samples.len() * voices.len() * config.snrs_db.len()) as u64;
    progress.start("voice bench", total);
    let pad = Audio::silence(0.3);
    // Synthesize once per voice and sentence.
    let mut clean = Vec::with_capacity(voices.len());
    for (voice, _) in &voices {
        let mut per_voice = Vec::with_capacity(samples.len());
        for sample in &samples {
            let mut a = pad.clone();
            a.append(&tts.synthesize(&sample.text, voice)?);
            a.append(&pad);
            per_voice.push(a);
        }
        clean.push(per_voice);
    }
    // One noise condition after the other, as a microphone in one room would hear them: the
    // decoder's cepstral mean adapts to the room, as it does in use. The development voices
    // run first, through every condition, exactly as they did before held-out voices were
    // added, so that their figures stay comparable.
    let mut trials = Vec::with_capacity(total as usize);
    let order = [VoiceSet::Development, VoiceSet::HeldOut]
        .into_iter()
        .flat_map(|set| config.snrs_db.iter().map(move |&snr| (set, snr)));
    for (pass, snr) in order {
        for (vi, (voice, set)) in voices.iter().enumerate() {
            if *set != pass {
                continue;
            }
            for (si, sample) in samples.iter().enumerate() {
                let audio = match snr {
                    None => clean[vi][si].clone(),
                    Some(db) => clean[vi][si].with_noise(db, (vi * 10_000 + si) as u64),
                };
                let (rec, busy_s) =
                    recognize_streaming(&mut recognizer, &audio, config.chunk_samples)?;
                trials.push(Trial {
                    text: sample.text.clone(),
                    voice: (*voice).clone(),
                    set: *set,
                    snr_db: snr,
                    expected: sample.expected.clone(),
                    got: rec.outcome.command().cloned(),
                    words: rec.words,
                    fit_per_frame: rec.fit_per_frame,
                    spotted: rec.spotted.into_iter().collect(),
                    duration_s: audio.duration_s(),
                    latency_s: rec.latency_s,
                    real_time_factor: busy_s / audio.duration_s().max(1e-9),
                });
                progress.advance(1);
            }
        }
    }
    progress.finish();
    Ok(VoiceReport {
        trials,
        voices: config.voices.clone(),
        held_out_voices: config.held_out_voices.clone(),
        snrs_db: config.snrs_db.clone(),
    })
}

/// Feeds `audio` in chunks; returns the recognition and the total time spent decoding.
fn recognize_streaming(
    r: &mut SphinxRecognizer,
    audio: &Audio,
    chunk: usize,
) -> Result<(Recognition, f64), SpeechError> {
    let t0 = Instant::now();
    r.start()?;
    for c in audio.samples().chunks(chunk.max(1)) {
        r.push(c)?;
    }
    let rec = r.finish()?;
    Ok((rec, t0.elapsed().as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_in_the_evaluation_and_every_sentence_parses() {
        let s = sentences();
        for c in COMMANDS {
            assert!(
                s.iter()
                    .any(|x| x.expected.as_ref().map(Command::kind) == Some(c.kind)),
                "{} missing",
                c.name
            );
        }
        for x in &s {
            if !OUT_OF_LANGUAGE.contains(&x.text.as_str()) {
                assert!(x.expected.is_some(), "{:?} does not parse", x.text);
            }
        }
        // Every body part and protocol is said.
        for v in [
            "head",
            "brain",
            "chest",
            "abdomen",
            "low dose",
            "standard",
            "sparse view",
        ] {
            assert!(s.iter().any(|x| x.text.contains(v)), "{v}");
        }
    }
}
