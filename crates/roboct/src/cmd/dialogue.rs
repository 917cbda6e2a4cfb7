//! `roboct listen`, `roboct say` and `roboct bench voice`: wiring for `roboct-dialogue` and `roboct-speech`.

use std::io::{BufRead, Write as _};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use roboct_core::units::Seconds;
use roboct_dialogue::audio::{self, Audio};
use roboct_dialogue::command::Destination;
use roboct_dialogue::dialogue::{Dialogue, DialogueConfig, Heard};
use roboct_dialogue::order::{ScanOrder, TestOrder};
use roboct_dialogue::sim::SimMachine;
use roboct_dialogue::tts::{Synthesizer, Voice};
use roboct_mission::technique::ScannerDoses;
use roboct_scanner::ScannerSpec;
use roboct_speech::eval::{self, VoiceBenchConfig};
use roboct_speech::{EspeakNg, RecognizerOptions, SphinxRecognizer};
use serde_json::json;

use super::Context;
use super::dicom::PhiMask;
use crate::progress::Bar;

/// `roboct listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// A WAV recording of one command: 16 kHz mono is used as is; other rates from 8 kHz up
    /// are resampled, other sample formats converted, channels mixed; at most 30 s.
    wav: PathBuf,
    /// Print JSON: `{"command": ..., "slots": {...}, "confidence": ...}`, or
    /// `"command": null` with a `"reason"` when nothing in the language was said.
    #[arg(long)]
    json: bool,
    /// Show a recognised patient ID in clear (default: the `patient_id` slot as `***#` and a
    /// hint, and the spoken digits of an ID as `***` in `words`).
    #[arg(long)]
    show_phi: bool,
}

/// Where the simulated robot of `roboct say` starts.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Start {
    /// At the test order's patient (ward 3, bed 12).
    Bedside,
    /// At the docking station.
    Dock,
}

/// `roboct say`.
#[derive(Debug, Args)]
pub struct SayArgs {
    /// What you say, one dialogue turn per argument; `-` reads one turn per line from
    /// standard input (an interactive session).
    #[arg(required = true)]
    text: Vec<String>,
    /// Write the spoken replies, every turn in order, to this WAV file (16 kHz mono).
    #[arg(long)]
    wav: Option<PathBuf>,
    /// espeak-ng voice of the replies.
    #[arg(long, default_value = "en-us")]
    voice: String,
    /// Speaking speed of the replies in words per minute.
    #[arg(long, default_value_t = 160)]
    speed: u32,
    /// Where the simulated robot starts.
    #[arg(long, value_enum, default_value_t = Start::Bedside)]
    start: Start,
    /// Start without a scan order (the test order is a chest scan for patient ID 4711 at
    /// ward 3, bed 12).
    #[arg(long)]
    no_order: bool,
    /// Print one JSON object per turn instead of text.
    #[arg(long)]
    json: bool,
}

/// `roboct bench voice`.
#[derive(Debug, Args)]
pub struct BenchVoiceArgs {
    /// Development voices (espeak-ng), each spoken at each speed: the voices one may listen
    /// to while changing the language or the recognizer.
    #[arg(long, value_delimiter = ',', default_value = "en-us,en-us+f3")]
    voices: Vec<String>,
    /// Held-out voices, each spoken at each speed and reported apart: accents that are only
    /// measured, never tuned on (`none` for none).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "en-gb-scotland,en-gb-x-rp,en-029"
    )]
    held_out: Vec<String>,
    /// Speeds in words per minute.
    #[arg(long, value_delimiter = ',', default_value = "175,140")]
    speeds: Vec<u32>,
    /// Noise conditions: `clean` or an SNR in dB (white noise against the speech level).
    #[arg(long, value_delimiter = ',', default_value = "20,10")]
    snr: Vec<String>,
    /// Keep every n-th sentence only (a quicker, less precise run).
    #[arg(long, default_value_t = 1)]
    subsample: usize,
    /// List every utterance recognized differently from what was said.
    #[arg(long)]
    errors: bool,
    /// Also write the figures as JSON to this file: per set, per voice and per voice and
    /// speed, per noise condition, with every miss.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn listen(args: ListenArgs, _ctx: &Context) -> Result<()> {
    let (audio, conversion) = audio::read_wav(&args.wav)?;
    let mut recognizer = SphinxRecognizer::new(RecognizerOptions::default())
        .context("cannot start the speech recognizer")?;
    let rec = recognizer
        .recognize_recording(&audio)
        .context("speech recognition failed")?;
    let mut v = rec.to_json();
    if !args.show_phi {
        mask_recognition(&mut v, &PhiMask::new(false));
    }
    if args.json {
        v["input"] = json!({
            "file": args.wav.display().to_string(),
            "rate_hz": conversion.input_rate_hz,
            "channels": conversion.input_channels,
            "resampled": conversion.resampled(),
            "duration_s": (audio.duration_s() * 1000.0).round() / 1000.0,
        });
        println!("{}", serde_json::to_string(&v)?);
    } else if args.show_phi {
        println!("{}", rec.summary());
    } else {
        // `Recognition::summary`'s line, from the masked slots.
        match v["command"].as_str() {
            Some(c) => println!(
                "{c} {} (confidence {:.2})",
                v["slots"],
                v["confidence"].as_f64().unwrap_or(0.0)
            ),
            None => println!(
                "nothing understood: {}",
                v["reason"].as_str().unwrap_or_default()
            ),
        }
    }
    Ok(())
}

/// Number words as the recognizer writes them (the parser's own), and digits as typed.
fn is_number_word(w: &str) -> bool {
    (!w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
        || roboct_dialogue::parse::is_number_word(w)
}

/// The recognised words with every number that may be a patient ID replaced by `***`: a run
/// of number words after `patient`, `hospital`, `number`, `id` or `mrn`, or any run of three
/// or more (IDs are read digit by digit; a ward or bed is one or two words).
fn mask_spoken_ids(words: &str) -> String {
    const ID_WORDS: [&str; 5] = ["patient", "hospital", "number", "id", "mrn"];
    let tokens: Vec<String> = words.split_whitespace().map(str::to_lowercase).collect();
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if !is_number_word(&tokens[i]) {
            out.push(&tokens[i]);
            i += 1;
            continue;
        }
        let end = (i..tokens.len())
            .find(|&j| !is_number_word(&tokens[j]))
            .unwrap_or(tokens.len());
        let after_id_word = i > 0 && ID_WORDS.contains(&tokens[i - 1].as_str());
        if after_id_word || end - i >= 3 {
            out.push("***");
        } else {
            out.extend(tokens[i..end].iter().map(String::as_str));
        }
        i = end;
    }
    out.join(" ")
}

/// Masks the patient ID in a recognition's JSON (`Recognition::to_json`).
fn mask_recognition(v: &mut serde_json::Value, mask: &PhiMask) {
    if let Some(id) = v["slots"]["patient_id"].as_str() {
        v["slots"]["patient_id"] = json!(mask.id(id));
    }
    if let Some(words) = v["words"].as_str() {
        v["words"] = json!(mask_spoken_ids(words));
    }
}

pub fn say(args: SayArgs, _ctx: &Context) -> Result<()> {
    let order = (!args.no_order).then(TestOrder::example);
    let place = match args.start {
        Start::Bedside => TestOrder::example().location(),
        Start::Dock => Destination::Dock,
    };
    let mut machine = SimMachine::parked_at(place);
    let doses = ScannerDoses::new(ScannerSpec::mobile_head());
    let mut dialogue = Dialogue::new(order, DialogueConfig::default(), Box::new(doses));
    let tts = EspeakNg::new();
    let voice = Voice::new(&args.voice, args.speed);
    if args.wav.is_some() {
        tts.check_voice(&voice).context("--voice")?;
    }
    let mut spoken = Audio::default();
    let t0 = Instant::now();

    let interactive = args.text.iter().any(|t| t == "-");
    let turns: Box<dyn Iterator<Item = Result<String>>> = if interactive {
        if args.text.len() != 1 {
            bail!("`-` (read turns from standard input) cannot be mixed with texts");
        }
        Box::new(
            std::io::stdin()
                .lock()
                .lines()
                .map(|l| l.context("cannot read standard input")),
        )
    } else {
        Box::new(args.text.clone().into_iter().map(Ok))
    };
    for line in turns {
        let text = line?;
        let now = Seconds(t0.elapsed().as_secs_f64());
        // Waits that ran out while nobody spoke come first.
        if let Some(t) = dialogue.tick(&machine.world, now) {
            machine.apply(&t.actions);
            print_turn(None, &t, dialogue.state(), args.json)?;
            spoken_append(
                &mut spoken,
                &tts,
                &voice,
                &t.reply.speak(),
                args.wav.is_some(),
            )?;
        }
        let turn = dialogue.handle_text(&text, &machine.world, now);
        machine.apply(&turn.actions);
        print_turn(Some(&text), &turn, dialogue.state(), args.json)?;
        spoken_append(
            &mut spoken,
            &tts,
            &voice,
            &turn.reply.speak(),
            args.wav.is_some(),
        )?;
    }
    if let Some(path) = &args.wav {
        if spoken.samples().is_empty() {
            bail!(
                "nothing was said, so there is no reply to write to {}",
                path.display()
            );
        }
        spoken
            .write_wav(path)
            .with_context(|| format!("cannot write the reply to {}", path.display()))?;
        if !args.json {
            println!(
                "(reply audio: {}, {:.1} s)",
                path.display(),
                spoken.duration_s()
            );
        }
    }
    Ok(())
}

fn spoken_append(
    spoken: &mut Audio,
    tts: &EspeakNg,
    voice: &Voice,
    text: &str,
    wanted: bool,
) -> Result<()> {
    if !wanted || text.trim().is_empty() {
        return Ok(());
    }
    let a = tts
        .synthesize(text, voice)
        .context("cannot speak the reply with espeak-ng")?;
    if !spoken.samples().is_empty() {
        spoken.append(&Audio::silence(0.4));
    }
    spoken.append(&a);
    Ok(())
}

fn print_turn(
    said: Option<&str>,
    turn: &roboct_dialogue::dialogue::Turn,
    state: &str,
    as_json: bool,
) -> Result<()> {
    let actions: Vec<String> = turn.actions.iter().map(|a| format!("{a:?}")).collect();
    if as_json {
        let heard = match &turn.heard {
            Heard::Command(c) => json!({"command": c.kind().name(), "slots": c.slots_json()}),
            Heard::Nothing {
                reason,
                suggestions,
            } => json!({"command": null, "reason": reason, "suggestions": suggestions}),
        };
        let v = json!({
            "said": said,
            "heard": heard,
            "reply": turn.reply.speak(),
            "actions": actions,
            "state": state,
        });
        println!("{}", serde_json::to_string(&v)?);
    } else {
        if let Some(s) = said {
            println!("you:    {s}");
        }
        println!("roboct: {}", turn.reply.speak());
        if !actions.is_empty() {
            println!("        [{}]", actions.join(", "));
        }
    }
    Ok(())
}

pub fn bench_voice(args: BenchVoiceArgs, ctx: &Context) -> Result<()> {
    let names = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && v != "none")
            .collect()
    };
    let voices = eval::voices(&names(&args.voices), &args.speeds);
    let held_out = eval::voices(&names(&args.held_out), &args.speeds);
    let mut snrs = Vec::new();
    for s in &args.snr {
        if s == "clean" {
            snrs.push(None);
        } else {
            let db: f64 = s
                .parse()
                .with_context(|| format!("--snr: {s:?} is neither `clean` nor a number of dB"))?;
            snrs.push(Some(db));
        }
    }
    if voices.is_empty() || snrs.is_empty() {
        bail!("--voices, --speeds and --snr each need at least one value");
    }
    let tts = EspeakNg::new();
    if !tts.is_available() {
        bail!("espeak-ng is not installed (./scripts/deps installs it)");
    }
    for v in &voices {
        tts.check_voice(v).context("--voices")?;
    }
    for v in &held_out {
        tts.check_voice(v).context("--held-out")?;
    }
    // An unwritable --json path fails now, not after minutes of work.
    let json_file = match &args.json {
        Some(path) => Some(
            std::fs::File::create(path)
                .with_context(|| format!("--json: cannot write {}", path.display()))?,
        ),
        None => None,
    };
    let config = VoiceBenchConfig {
        voices,
        held_out_voices: held_out,
        snrs_db: snrs,
        subsample: args.subsample.max(1),
        ..VoiceBenchConfig::default()
    };
    let bar = Bar::new(ctx.quiet);
    let report = eval::run_voice_bench(&config, &tts, &bar)?;
    print!("{report}");
    println!(
        "recognizer: pocketsphinx 5prealpha with the en-us model; on a shared machine, run it several times"
    );
    if args.errors {
        for t in report.errors() {
            let snr = t
                .snr_db
                .map(|d| format!("{d} dB"))
                .unwrap_or("clean".into());
            let got = t.got.as_ref().map(|c| c.kind().name()).unwrap_or("nothing");
            println!(
                "  {:<18} {:<8} said {:?}, heard {:?} (fit {:.2}) -> {got}",
                t.voice_label(),
                snr,
                t.text,
                t.words,
                t.fit_per_frame
            );
        }
    }
    if let (Some(mut file), Some(path)) = (json_file, &args.json) {
        serde_json::to_writer_pretty(&mut file, &report.to_json())
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(file))
            .with_context(|| format!("cannot write the figures to {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoken_ids_are_masked_and_wards_kept() {
        assert_eq!(
            mask_spoken_ids("patient number four seven one one"),
            "patient number ***"
        );
        assert_eq!(mask_spoken_ids("id 4711"), "id ***");
        assert_eq!(mask_spoken_ids("four seven one one"), "***");
        assert_eq!(
            mask_spoken_ids("go to ward three bed twelve"),
            "go to ward three bed twelve"
        );
        let mut v = json!({"command": "verify", "slots": {"patient_id": "4711"},
                           "words": "hospital number four seven one one"});
        mask_recognition(&mut v, &PhiMask::new(false));
        let text = v.to_string();
        assert!(!text.contains("4711") && !text.contains("seven"), "{text}");
        assert!(
            v["slots"]["patient_id"]
                .as_str()
                .unwrap()
                .starts_with("***#")
        );
    }
}
