//! Voice out: text to speech with espeak-ng.
//!
//! We run the `espeak-ng` program (Debian package `espeak-ng`) rather than linking
//! libespeak-ng: the program is the interface espeak-ng documents and keeps stable, a crash
//! in the synthesizer cannot take the scanner down with it, and its cost (about 20 ms to
//! start) is small next to the speech itself. The text goes in on stdin (never through a
//! shell) and the WAV comes back on stdout, converted to the recognizer's 16 kHz mono.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use roboct_dialogue::audio::{self, Audio};
use roboct_dialogue::tts::{Synthesizer, TtsError, Voice};

/// espeak-ng, run as a program.
#[derive(Clone, Debug)]
pub struct EspeakNg {
    program: PathBuf,
}

impl Default for EspeakNg {
    fn default() -> Self {
        Self {
            program: PathBuf::from("espeak-ng"),
        }
    }
}

impl EspeakNg {
    /// espeak-ng from `PATH`.
    pub fn new() -> Self {
        Self::default()
    }

    /// espeak-ng at a given path.
    pub fn at(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
        }
    }

    /// Checks that espeak-ng knows the voice and its variant: given an unknown one it
    /// speaks with its default voice and still succeeds, which would make a benchmark
    /// over voices silently measure one voice.
    pub fn check_voice(&self, voice: &Voice) -> Result<(), TtsError> {
        let (base, variant) = match voice.name.split_once('+') {
            Some((b, v)) => (b, Some(v)),
            None => (voice.name.as_str(), None),
        };
        let unknown = || TtsError::UnknownVoice {
            voice: voice.name.clone(),
        };
        if !self
            .voice_table(None)?
            .iter()
            .any(|k| k.eq_ignore_ascii_case(base))
        {
            return Err(unknown());
        }
        if let Some(v) = variant {
            let variants = self.voice_table(Some("variant"))?;
            let file = format!("!v/{v}");
            if !variants
                .iter()
                .any(|k| k.eq_ignore_ascii_case(v) || k.eq_ignore_ascii_case(&file))
            {
                return Err(unknown());
            }
        }
        Ok(())
    }

    /// The names a voice can be asked by (language, voice name, file) from
    /// `espeak-ng --voices[=which]`.
    fn voice_table(&self, which: Option<&str>) -> Result<Vec<String>, TtsError> {
        let program = self.program.display().to_string();
        let arg = match which {
            Some(w) => format!("--voices={w}"),
            None => "--voices".to_string(),
        };
        let out = Command::new(&self.program)
            .arg(arg)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| TtsError::Spawn {
                program: program.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(TtsError::Failed {
                program,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        // Columns: Pty Language Age/Gender VoiceName File Other-Languages.
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .flat_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                [cols.get(1), cols.get(3), cols.get(4)]
                    .into_iter()
                    .flatten()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// Whether the program runs here.
    pub fn is_available(&self) -> bool {
        Command::new(&self.program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

impl Synthesizer for EspeakNg {
    fn synthesize(&self, text: &str, voice: &Voice) -> Result<Audio, TtsError> {
        // One line of plain text: espeak-ng reads stdin up to the end, and a control
        // character or an SSML-looking tag should be spoken as text, not interpreted.
        let clean: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if clean.trim().is_empty() {
            return Err(TtsError::EmptyText);
        }
        let program = self.program.display().to_string();
        let mut child = Command::new(&self.program)
            .args([
                "-v",
                &voice.name,
                "-s",
                &voice.speed_wpm.to_string(),
                "--stdout",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| TtsError::Spawn {
                program: program.clone(),
                source,
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A write error means espeak-ng exited early; its status below says why.
            let _ = stdin.write_all(clean.trim().as_bytes());
        }
        let out = child.wait_with_output().map_err(|source| TtsError::Spawn {
            program: program.clone(),
            source,
        })?;
        if !out.status.success() || out.stdout.is_empty() {
            return Err(TtsError::Failed {
                program,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let bytes = audio::fix_streamed_wav_sizes(out.stdout);
        let (a, _) = audio::decode_wav(&bytes, "espeak-ng output")?;
        Ok(a)
    }
}
