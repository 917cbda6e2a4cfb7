//! The voice evaluation behind `roboct bench voice`: every command of the language spoken by
//! espeak-ng in several voices and speeds, with white noise at several SNRs, recognized, and
//! scored.
//!
//! * **Sentences.** For every spoken pattern of every command, its shortest and longest
//!   forms, with slot values cycling through the values of each slot (so every body part,
//!   protocol and topic is said, and numbers vary); plus sentences outside the language that
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

/// What to evaluate.
#[derive(Clone, Debug)]
pub struct VoiceBenchConfig {
    /// espeak-ng voices and speeds.
    pub voices: Vec<Voice>,
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
            voices: vec![
                Voice::new("en-us", 175),
                Voice::new("en-us", 140),
                Voice::new("en-us+f3", 175),
                Voice::new("en-us+f3", 140),
            ],
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
                SlotValues::Words(v) => Some(v.len()),
                _ => None,
            },
            Item::Word(_) => None,
        })
        .max()
        .unwrap_or(1)
}

/// Deterministic slot values: word slots cycle through their values, numbers and digits
/// vary with `seed`.
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
                SlotValues::Words(v) => v[seed % v.len()].spoken[0].to_string(),
            },
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why the evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Speech synthesis failed.
    #[error(transparent)]
    Tts(#[from] TtsError),
    /// Recognition failed.
    #[error(transparent)]
    Speech(#[from] SpeechError),
}

/// One recognized utterance.
#[derive(Clone, Debug)]
pub struct Trial {
    /// The sentence.
    pub text: String,
    /// The voice.
    pub voice: String,
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

/// Figures for one noise condition.
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
    /// The voices used.
    pub voices: Vec<Voice>,
    /// The noise conditions.
    pub snrs_db: Vec<Option<f64>>,
}

impl VoiceReport {
    /// The figures of one condition.
    pub fn figures(&self, snr_db: Option<f64>) -> ConditionFigures {
        let mut f = ConditionFigures::default();
        for t in self.trials.iter().filter(|t| t.snr_db == snr_db) {
            score(&mut f, t);
        }
        f
    }

    /// The figures over all conditions.
    pub fn total(&self) -> ConditionFigures {
        let mut f = ConditionFigures::default();
        for t in &self.trials {
            score(&mut f, t);
        }
        f
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

    /// The errors: trials whose result differs from the expectation.
    pub fn errors(&self) -> impl Iterator<Item = &Trial> {
        self.trials.iter().filter(|t| t.got != t.expected)
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

impl fmt::Display for VoiceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let voices: Vec<String> = self
            .voices
            .iter()
            .map(|v| format!("{} at {} wpm", v.name, v.speed_wpm))
            .collect();
        writeln!(
            f,
            "voice bench: {} utterances ({} sentences x {} voices x {} noise conditions)",
            self.trials.len(),
            self.trials.len() / (self.voices.len() * self.snrs_db.len()).max(1),
            self.voices.len(),
            self.snrs_db.len()
        )?;
        writeln!(f, "voices: {}", voices.join(", "))?;
        writeln!(
            f,
            "{:<10} {:>10} {:>12} {:>11} {:>11} {:>13} {:>14}",
            "noise",
            "accuracy",
            "command only",
            "stop recall",
            "false stops",
            "false confirm",
            "out-of-lang rejected"
        )?;
        for &snr in &self.snrs_db {
            let c = self.figures(snr);
            let name = match snr {
                None => "clean".to_string(),
                Some(db) => format!("{db} dB SNR"),
            };
            writeln!(
                f,
                "{:<10} {:>9.1}% {:>11.1}% {:>10.1}% {:>11} {:>13} {:>13.1}%",
                name,
                c.accuracy_pct(),
                pct(c.correct_kind, c.in_language),
                pct(c.stops_heard, c.stops),
                c.false_stops,
                c.false_confirmations,
                pct(c.rejected, c.out_of_language)
            )?;
        }
        let t = self.total();
        writeln!(
            f,
            "all: accuracy {:.1}% of {}, stop recall {}/{}, false X-ray confirmations {}, out-of-language rejected {}/{}",
            t.accuracy_pct(),
            t.in_language,
            t.stops_heard,
            t.stops,
            t.false_confirmations,
            t.rejected,
            t.out_of_language
        )?;
        let all = self.latencies(0.0, f64::INFINITY);
        let three = self.latencies(2.5, 3.5);
        let rtf: Vec<f64> = {
            let mut v: Vec<f64> = self.trials.iter().map(|t| t.real_time_factor).collect();
            v.sort_by(f64::total_cmp);
            v
        };
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
    let mut recognizer = SphinxRecognizer::new(config.recognizer.clone())?;
    let total = (samples.len() * config.voices.len() * config.snrs_db.len()) as u64;
    progress.start("voice bench", total);
    let pad = Audio::silence(0.3);
    // Synthesize once per voice and sentence.
    let mut clean = Vec::with_capacity(config.voices.len());
    for voice in &config.voices {
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
    // decoder's cepstral mean adapts to the room, as it does in use.
    let mut trials = Vec::with_capacity(total as usize);
    for &snr in &config.snrs_db {
        for (vi, voice) in config.voices.iter().enumerate() {
            for (si, sample) in samples.iter().enumerate() {
                let audio = match snr {
                    None => clean[vi][si].clone(),
                    Some(db) => clean[vi][si].with_noise(db, (vi * 10_000 + si) as u64),
                };
                let (rec, busy_s) =
                    recognize_streaming(&mut recognizer, &audio, config.chunk_samples)?;
                trials.push(Trial {
                    text: sample.text.clone(),
                    voice: format!("{}@{}", voice.name, voice.speed_wpm),
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
