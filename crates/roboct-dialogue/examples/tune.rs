//! Tuning runs (not committed).
use roboct_dialogue::eval::*;
use roboct_dialogue::tts::*;
fn main() {
    let mut c = VoiceBenchConfig::default();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    if let Some(g) = env("STOPT") {
        c.recognizer.stop_threshold = g;
    }
    if let Some(g) = env("CONFT") {
        c.recognizer.confirm_threshold = g;
    }
    if let Some(g) = env("REJ") {
        c.recognizer.reject_below_per_frame = g;
    }
    if let Some(g) = env("LW") {
        c.recognizer.language_weight = g;
    }
    if let Some(g) = env("TOPN") {
        c.recognizer.topn = g as u32;
    }
    if let Some(g) = env("SUB") {
        c.subsample = g as usize;
    }
    if let Some(g) = env("PL") {
        c.recognizer.phone_loop = g > 0.0;
    }
    if let Ok(o) = std::env::var("OPTS") {
        let v: Vec<&str> = o.split_whitespace().collect();
        for p in v.chunks(2) {
            c.recognizer
                .decoder_options
                .push((p[0].to_string(), p[1].to_string()));
        }
    }
    if let Ok(s) = std::env::var("SNRS") {
        c.snrs_db = s
            .split(',')
            .map(|x| {
                if x == "clean" {
                    None
                } else {
                    Some(x.parse().unwrap())
                }
            })
            .collect();
    }
    if std::env::var("VOICES2").is_ok() {
        c.voices = vec![Voice::new("en-us", 175), Voice::new("en-us+f3", 140)];
    }
    let r = run_voice_bench(&c, &EspeakNg::new(), &roboct_core::NoProgress).unwrap();
    print!("{r}");
    for t in &r.trials {
        let tag = if t.got != t.expected { "ERR" } else { "ok " };
        println!(
            "{tag} {:>12} {:>6?} in={} fit={:7.1} spot={:?} {:40} -> {:40} {:?}",
            t.voice,
            t.snr_db,
            t.expected.is_some(),
            t.fit_per_frame,
            t.spotted,
            t.text,
            t.words,
            t.got.as_ref().map(|c| c.kind())
        );
    }
}
