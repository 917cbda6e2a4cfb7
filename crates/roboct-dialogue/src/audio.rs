//! Audio in and out: WAV files through `hound`, conversion to the recognizer's format (16 kHz,
//! mono, 16-bit), level analysis (silent, clipped), and noise at a chosen SNR for evaluation.
//!
//! Input rules (`read_wav`, `decode_wav`):
//! * a RIFF/WAVE file with integer PCM (8, 16, 24 or 32 bit) or 32-bit float samples;
//! * any channel count: channels are averaged into one;
//! * 16 kHz is used as is; any other rate from 8 kHz to 384 kHz is resampled to 16 kHz with a
//!   band-limited FFT resampler (`rubato`); below 8 kHz is refused, since telephone-band
//!   speech is the least a speech model can work with, and above 384 kHz (the highest rate
//!   audio equipment records) the header is damaged: the resampler's buffers grow with the
//!   rate, and a header claiming 4 GHz would ask for tens of gigabytes;
//! * at most [`MAX_DURATION_S`] seconds: a spoken command is short, and a long file is more
//!   likely the wrong file than a command (checked from the header, before reading samples);
//! * silence and clipping are not errors: [`Audio::level`] measures them and the recognizer
//!   answers "nothing understood" with the reason.

use std::fmt;
use std::io::{Cursor, Read, Seek};
use std::path::Path;

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// The recognizer's sample rate.
pub const SAMPLE_RATE_HZ: u32 = 16_000;
/// The lowest input rate accepted (and resampled up to 16 kHz).
pub const MIN_INPUT_RATE_HZ: u32 = 8_000;
/// The highest input rate accepted (and resampled down to 16 kHz): the highest rate audio
/// interfaces record.
pub const MAX_INPUT_RATE_HZ: u32 = 384_000;
/// The longest input accepted, in seconds.
pub const MAX_DURATION_S: f64 = 30.0;
/// A recording whose loudest 20 ms frame is quieter than this (dB relative to full scale)
/// holds no speech: room noise from a real microphone sits around -60 to -50 dBFS.
pub const SILENCE_DBFS: f64 = -45.0;
/// The fraction of samples at full scale above which a recording is too clipped to trust.
pub const CLIPPED_FRACTION_LIMIT: f64 = 0.01;

/// Why an input could not be used as audio. Each message names the input and says what was
/// expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// The file could not be read.
    #[error("cannot read {origin}: {source}")]
    Io {
        /// The file or stream.
        origin: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not a WAV file.
    #[error(
        "{origin} is not a WAV file ({detail}); expected a RIFF/WAVE file, ideally 16 kHz mono 16-bit PCM"
    )]
    NotWav {
        /// The file or stream.
        origin: String,
        /// What the WAV reader said.
        detail: String,
    },
    /// A WAV file with a sample format we do not read.
    #[error(
        "{origin}: unsupported sample format ({detail}); expected integer PCM of 8 to 32 bits or 32-bit float"
    )]
    Unsupported {
        /// The file or stream.
        origin: String,
        /// The format found.
        detail: String,
    },
    /// The sample rate is too low for speech.
    #[error(
        "{origin}: sample rate {rate_hz} Hz is below {MIN_INPUT_RATE_HZ} Hz, too low for speech; record at 16000 Hz"
    )]
    RateTooLow {
        /// The file or stream.
        origin: String,
        /// The rate found.
        rate_hz: u32,
    },
    /// The header's sample rate is higher than any audio equipment records: the header is
    /// damaged, or the file is not audio.
    #[error(
        "{origin}: header field sample rate is {rate_hz} Hz; expected at most {MAX_INPUT_RATE_HZ} Hz (the header is damaged or this is not a recording); record at 16000 Hz"
    )]
    RateTooHigh {
        /// The file or stream.
        origin: String,
        /// The rate found.
        rate_hz: u32,
    },
    /// The file holds no samples.
    #[error("{origin} holds no audio samples")]
    Empty {
        /// The file or stream.
        origin: String,
    },
    /// The recording is longer than a command can be.
    #[error(
        "{origin} is {duration_s:.1} s long; a spoken command is at most {MAX_DURATION_S} s: cut the recording to the command"
    )]
    TooLong {
        /// The file or stream.
        origin: String,
        /// Its duration.
        duration_s: f64,
    },
    /// The sample data ends early or is damaged.
    #[error("{origin}: the WAV data is truncated or damaged after {samples} samples ({detail})")]
    Corrupt {
        /// The file or stream.
        origin: String,
        /// Samples read before the damage.
        samples: usize,
        /// What the WAV reader said.
        detail: String,
    },
    /// Writing a WAV file failed.
    #[error("cannot write {origin}: {detail}")]
    Write {
        /// The file.
        origin: String,
        /// What failed.
        detail: String,
    },
}

/// Mono 16-bit audio at [`SAMPLE_RATE_HZ`], the recognizer's input format.
#[derive(Clone, Default, PartialEq)]
pub struct Audio {
    samples: Vec<i16>,
}

impl fmt::Debug for Audio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Audio({:.2} s)", self.duration_s())
    }
}

/// How an input file was turned into [`Audio`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Conversion {
    /// The input's sample rate.
    pub input_rate_hz: u32,
    /// The input's channel count.
    pub input_channels: u16,
}

impl Conversion {
    /// Whether the input was resampled.
    pub fn resampled(&self) -> bool {
        self.input_rate_hz != SAMPLE_RATE_HZ
    }
}

/// Loudness and clipping of a recording.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Level {
    /// The RMS level of the loudest 20 ms frame, in dB relative to full scale.
    pub loudest_frame_dbfs: f64,
    /// The peak sample level, in dBFS.
    pub peak_dbfs: f64,
    /// The fraction of samples at (or within 0.1% of) full scale.
    pub clipped_fraction: f64,
}

impl Level {
    /// Whether the recording holds nothing louder than room noise.
    pub fn is_silent(&self) -> bool {
        self.loudest_frame_dbfs < SILENCE_DBFS
    }

    /// Whether too many samples sit at full scale for the recognition to be trusted.
    pub fn is_clipped(&self) -> bool {
        self.clipped_fraction > CLIPPED_FRACTION_LIMIT
    }
}

fn dbfs(x: f64) -> f64 {
    20.0 * (x.max(1e-10) / 32768.0).log10()
}

impl Audio {
    /// Wraps 16 kHz mono samples.
    pub fn from_samples(samples: Vec<i16>) -> Self {
        Self { samples }
    }

    /// Silence of the given length.
    pub fn silence(duration_s: f64) -> Self {
        Self {
            samples: vec![0; (duration_s * SAMPLE_RATE_HZ as f64).round() as usize],
        }
    }

    /// The samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// The duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / SAMPLE_RATE_HZ as f64
    }

    /// Appends another recording.
    pub fn append(&mut self, other: &Audio) {
        self.samples.extend_from_slice(&other.samples);
    }

    /// Loudness and clipping.
    pub fn level(&self) -> Level {
        let frame = (SAMPLE_RATE_HZ / 50) as usize;
        let loudest = self
            .samples
            .chunks(frame)
            .map(|c| (c.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
            .fold(0.0f64, f64::max);
        let peak = self
            .samples
            .iter()
            .map(|&s| (s as i32).unsigned_abs())
            .max()
            .unwrap_or(0);
        let clipped = self
            .samples
            .iter()
            .filter(|&&s| (s as i32).unsigned_abs() >= 32_735)
            .count();
        Level {
            loudest_frame_dbfs: dbfs(loudest),
            peak_dbfs: dbfs(peak as f64),
            clipped_fraction: if self.samples.is_empty() {
                0.0
            } else {
                clipped as f64 / self.samples.len() as f64
            },
        }
    }

    /// The mean power of the active speech: 20 ms frames within 30 dB of the loudest frame
    /// (a simple stand-in for the active speech level of ITU-T P.56), in squared sample units.
    pub fn active_power(&self) -> f64 {
        let frame = (SAMPLE_RATE_HZ / 50) as usize;
        let powers: Vec<f64> = self
            .samples
            .chunks(frame)
            .map(|c| c.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / c.len() as f64)
            .collect();
        let max = powers.iter().cloned().fold(0.0f64, f64::max);
        let active: Vec<f64> = powers.into_iter().filter(|&p| p >= max * 1e-3).collect();
        if active.is_empty() {
            0.0
        } else {
            active.iter().sum::<f64>() / active.len() as f64
        }
    }

    /// This recording with white Gaussian noise added at `snr_db` below its active speech
    /// level ([`Audio::active_power`]), from a seeded generator so runs repeat exactly. If the
    /// sum would clip, the whole result is scaled down (which keeps the SNR).
    pub fn with_noise(&self, snr_db: f64, seed: u64) -> Audio {
        let signal = self.active_power();
        let noise_std = (signal / 10f64.powf(snr_db / 10.0)).sqrt();
        let mut rng = Pcg64::seed_from_u64(seed);
        let mixed: Vec<f64> = match Normal::new(0.0, noise_std.max(1e-12)) {
            Ok(normal) => self
                .samples
                .iter()
                .map(|&s| s as f64 + normal.sample(&mut rng))
                .collect(),
            Err(_) => self.samples.iter().map(|&s| s as f64).collect(),
        };
        let peak = mixed.iter().fold(0.0f64, |m, &x| m.max(x.abs()));
        let scale = if peak > 32_000.0 {
            32_000.0 / peak
        } else {
            1.0
        };
        Audio {
            samples: mixed.iter().map(|&x| (x * scale).round() as i16).collect(),
        }
    }

    /// This recording scaled by `gain`, saturating at full scale (used to make clipped input).
    pub fn with_gain(&self, gain: f64) -> Audio {
        Audio {
            samples: self
                .samples
                .iter()
                .map(|&s| (s as f64 * gain).round().clamp(-32768.0, 32767.0) as i16)
                .collect(),
        }
    }

    /// Writes a 16 kHz mono 16-bit WAV file.
    pub fn write_wav(&self, path: &Path) -> Result<(), AudioError> {
        let werr = |e: hound::Error| AudioError::Write {
            origin: path.display().to_string(),
            detail: e.to_string(),
        };
        let mut w = hound::WavWriter::create(path, wav_spec()).map_err(werr)?;
        for &s in &self.samples {
            w.write_sample(s).map_err(werr)?;
        }
        w.finalize().map_err(werr)
    }

    /// The bytes of a 16 kHz mono 16-bit WAV file.
    pub fn to_wav_bytes(&self) -> Vec<u8> {
        let mut cursor = Cursor::new(Vec::new());
        // Writing into memory cannot fail for lack of space; the sizes always fit in 32 bits
        // for anything shorter than 18 hours.
        if let Ok(mut w) = hound::WavWriter::new(&mut cursor, wav_spec()) {
            for &s in &self.samples {
                let _ = w.write_sample(s);
            }
            let _ = w.finalize();
        }
        cursor.into_inner()
    }
}

fn wav_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Reads a WAV file and converts it to the recognizer's format (see the module docs).
pub fn read_wav(path: &Path) -> Result<(Audio, Conversion), AudioError> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| AudioError::Io {
        origin: origin.clone(),
        source,
    })?;
    decode(std::io::BufReader::new(file), &origin)
}

/// Decodes WAV bytes (for example a synthesizer's output); `origin` names them in errors.
pub fn decode_wav(bytes: &[u8], origin: &str) -> Result<(Audio, Conversion), AudioError> {
    decode(Cursor::new(bytes), origin)
}

fn decode<R: Read + Seek>(reader: R, origin: &str) -> Result<(Audio, Conversion), AudioError> {
    let origin = origin.to_string();
    let reader = hound::WavReader::new(reader).map_err(|e| match e {
        // The file is open: a read error in the header means it is too short to be a WAV
        // file (an empty file, a truncated download).
        hound::Error::IoError(source) => AudioError::NotWav {
            origin: origin.clone(),
            detail: format!("the header is incomplete: {source}"),
        },
        hound::Error::Unsupported => AudioError::Unsupported {
            origin: origin.clone(),
            detail: "a WAV encoding other than PCM or IEEE float".into(),
        },
        other => AudioError::NotWav {
            origin: origin.clone(),
            detail: other.to_string(),
        },
    })?;
    let spec = reader.spec();
    if spec.sample_rate < MIN_INPUT_RATE_HZ {
        return Err(AudioError::RateTooLow {
            origin,
            rate_hz: spec.sample_rate,
        });
    }
    if spec.sample_rate > MAX_INPUT_RATE_HZ {
        return Err(AudioError::RateTooHigh {
            origin,
            rate_hz: spec.sample_rate,
        });
    }
    if spec.channels == 0 {
        return Err(AudioError::Unsupported {
            origin,
            detail: "zero channels".into(),
        });
    }
    let frames = reader.duration() as usize;
    if frames == 0 {
        return Err(AudioError::Empty { origin });
    }
    let duration_s = frames as f64 / spec.sample_rate as f64;
    if duration_s > MAX_DURATION_S {
        return Err(AudioError::TooLong { origin, duration_s });
    }
    let interleaved = read_samples(reader, spec, &origin)?;
    let channels = spec.channels as usize;
    let mono: Vec<f32> = interleaved
        .chunks_exact(channels)
        .map(|c| c.iter().sum::<f32>() / channels as f32)
        .collect();
    if mono.is_empty() {
        return Err(AudioError::Empty { origin });
    }
    let mono = if spec.sample_rate == SAMPLE_RATE_HZ {
        mono
    } else {
        resample(&mono, spec.sample_rate, SAMPLE_RATE_HZ).map_err(|detail| {
            AudioError::Unsupported {
                origin: origin.clone(),
                detail: format!("cannot resample {} Hz: {detail}", spec.sample_rate),
            }
        })?
    };
    let samples = mono
        .iter()
        .map(|&x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    Ok((
        Audio { samples },
        Conversion {
            input_rate_hz: spec.sample_rate,
            input_channels: spec.channels,
        },
    ))
}

/// All samples as floats in [-1, 1), interleaved.
fn read_samples<R: Read>(
    mut reader: hound::WavReader<R>,
    spec: hound::WavSpec,
    origin: &str,
) -> Result<Vec<f32>, AudioError> {
    let corrupt = |samples: usize, e: hound::Error| AudioError::Corrupt {
        origin: origin.to_string(),
        samples,
        detail: e.to_string(),
    };
    // The header's count is a claim: reserve at most 2^20 samples (4 MiB) up front and grow as
    // samples really arrive, so a damaged data chunk size cannot reserve gigabytes.
    let mut out = Vec::with_capacity((reader.len() as usize).min(1 << 20));
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            for s in reader.samples::<f32>() {
                let v = s.map_err(|e| corrupt(out.len(), e))?;
                // NaN or infinite samples would poison every later computation.
                out.push(if v.is_finite() {
                    v.clamp(-1.0, 1.0)
                } else {
                    0.0
                });
            }
        }
        (hound::SampleFormat::Int, bits @ 8..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            for s in reader.samples::<i32>() {
                let v = s.map_err(|e| corrupt(out.len(), e))?;
                out.push(v as f32 * scale);
            }
        }
        (format, bits) => {
            return Err(AudioError::Unsupported {
                origin: origin.to_string(),
                detail: format!("{bits}-bit {format:?}"),
            });
        }
    }
    Ok(out)
}

/// Band-limited resampling of a mono signal (rubato's synchronous FFT resampler).
fn resample(mono: &[f32], from_hz: u32, to_hz: u32) -> Result<Vec<f32>, String> {
    let mut r = Fft::<f32>::new(from_hz as usize, to_hz as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| e.to_string())?;
    let input = InterleavedSlice::new(mono, 1, mono.len()).map_err(|e| e.to_string())?;
    let out = r
        .process_all(&input, mono.len(), None)
        .map_err(|e| e.to_string())?;
    Ok(out.take_data())
}

/// Rewrites the RIFF and data chunk sizes of a WAV stream whose writer could not seek back
/// to fill them in (espeak-ng `--stdout` writes placeholders), so a strict reader accepts it.
/// Bytes that do not look like such a stream come back unchanged.
pub fn fix_streamed_wav_sizes(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return bytes;
    }
    let riff = (bytes.len() - 8) as u32;
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = [bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]];
        let size = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        if &id == b"data" {
            let actual = (bytes.len() - pos - 8) as u32;
            bytes[pos + 4..pos + 8].copy_from_slice(&actual.to_le_bytes());
            break;
        }
        pos += 8 + size + (size & 1);
    }
    bytes
}

impl roboct_core::Recover for AudioError {
    fn recovery(&self) -> roboct_core::Recovery {
        match self {
            AudioError::Io { .. } => roboct_core::Recovery::Retry,
            AudioError::NotWav { .. }
            | AudioError::Unsupported { .. }
            | AudioError::RateTooLow { .. }
            | AudioError::RateTooHigh { .. }
            | AudioError::Empty { .. }
            | AudioError::TooLong { .. }
            | AudioError::Corrupt { .. } => roboct_core::Recovery::WaitForOperator,
            AudioError::Write { .. } => roboct_core::Recovery::Retry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, seconds: f64, amp: f64) -> Vec<f32> {
        (0..(rate as f64 * seconds) as usize)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32
            })
            .collect()
    }

    fn wav_bytes(spec: hound::WavSpec, samples: &[f32]) -> Vec<u8> {
        let mut c = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut c, spec).unwrap();
        for &s in samples {
            match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => w.write_sample(s).unwrap(),
                (_, 16) => w.write_sample((s * 32767.0) as i16).unwrap(),
                (_, 8) => w.write_sample((s * 127.0) as i8).unwrap(),
                (_, 24) => w.write_sample((s * 8_388_607.0) as i32).unwrap(),
                _ => w.write_sample((s * 2_147_483_000.0) as i32).unwrap(),
            }
        }
        w.finalize().unwrap();
        c.into_inner()
    }

    fn spec(rate: u32, channels: u16, bits: u16, float: bool) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        }
    }

    /// The amplitude of `freq` in `x` (a single-bin DFT), to check resampling against truth.
    fn tone_amplitude(x: &[i16], freq: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &s) in x.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * freq * i as f64 / SAMPLE_RATE_HZ as f64;
            re += s as f64 * ph.cos();
            im += s as f64 * ph.sin();
        }
        2.0 * (re * re + im * im).sqrt() / x.len() as f64 / 32768.0
    }

    #[test]
    fn resampling_keeps_a_tone_and_removes_what_cannot_be_represented() {
        for rate in [8_000, 22_050, 44_100, 48_000] {
            let mut signal = sine(rate, 440.0, 1.0, 0.5);
            if rate > 20_000 {
                // 9 kHz is above the 8 kHz Nyquist limit of the output: it must be filtered out.
                for (s, t) in signal.iter_mut().zip(sine(rate, 9_000.0, 1.0, 0.3)) {
                    *s += t;
                }
            }
            let bytes = wav_bytes(spec(rate, 1, 16, false), &signal);
            let (audio, conv) = decode_wav(&bytes, "tone").unwrap();
            assert_eq!(conv.input_rate_hz, rate);
            assert!(conv.resampled());
            assert!((audio.duration_s() - 1.0).abs() < 0.01, "{rate}: {audio:?}");
            let mid = &audio.samples()[2000..14000];
            let a440 = tone_amplitude(mid, 440.0);
            assert!(
                (a440 - 0.5).abs() < 0.02,
                "{rate} Hz: 440 Hz amplitude {a440}"
            );
            // The alias of 9 kHz at 16 kHz would be 7 kHz.
            assert!(tone_amplitude(mid, 7_000.0) < 0.01, "{rate} Hz aliased");
        }
    }

    #[test]
    fn formats_and_channels_are_converted() {
        let tone = sine(16_000, 300.0, 0.5, 0.4);
        for (bits, float) in [
            (8, false),
            (16, false),
            (24, false),
            (32, false),
            (32, true),
        ] {
            let bytes = wav_bytes(spec(16_000, 1, bits, float), &tone);
            let (audio, conv) = decode_wav(&bytes, "t").unwrap();
            assert!(!conv.resampled());
            let a = tone_amplitude(audio.samples(), 300.0);
            assert!((a - 0.4).abs() < 0.02, "{bits} bits float={float}: {a}");
        }
        // Stereo with the tone on the left only: the mono mix holds half of it.
        let stereo: Vec<f32> = tone.iter().flat_map(|&s| [s, 0.0]).collect();
        let (audio, conv) =
            decode_wav(&wav_bytes(spec(16_000, 2, 16, false), &stereo), "t").unwrap();
        assert_eq!(conv.input_channels, 2);
        assert_eq!(audio.samples().len(), tone.len());
        assert!((tone_amplitude(audio.samples(), 300.0) - 0.2).abs() < 0.01);
    }

    #[test]
    fn bad_inputs_are_named_errors() {
        let e = decode_wav(b"hello, I am a text file", "notes.txt").unwrap_err();
        assert!(matches!(e, AudioError::NotWav { .. }), "{e}");
        assert!(e.to_string().contains("notes.txt") && e.to_string().contains("RIFF/WAVE"));

        let e = decode_wav(
            &wav_bytes(spec(4_000, 1, 16, false), &[0.1; 400]),
            "low.wav",
        )
        .unwrap_err();
        assert!(
            matches!(e, AudioError::RateTooLow { rate_hz: 4000, .. }),
            "{e}"
        );

        // Issue 11: a header claiming about 4.29 GHz made the resampler ask for tens of GB.
        for rate in [384_001u32, 4_294_000_000] {
            // hound's writer cannot write such a header: patch the rate and byte rate fields
            // of an 8-bit mono file (one byte per frame, so the byte rate is the rate).
            let mut fast = wav_bytes(spec(16_000, 1, 8, false), &[0.1; 400]);
            fast[24..28].copy_from_slice(&rate.to_le_bytes());
            fast[28..32].copy_from_slice(&rate.to_le_bytes());
            let e = decode_wav(&fast, "fast.wav").unwrap_err();
            assert!(
                matches!(e, AudioError::RateTooHigh { rate_hz, .. } if rate_hz == rate),
                "{e}"
            );
            let t = e.to_string();
            assert!(t.contains("fast.wav") && t.contains("sample rate"), "{t}");
        }
        assert!(
            decode_wav(
                &wav_bytes(spec(384_000, 1, 16, false), &[0.1; 400]),
                "ok.wav"
            )
            .is_ok()
        );

        let e = decode_wav(&wav_bytes(spec(16_000, 1, 16, false), &[]), "empty.wav").unwrap_err();
        assert!(matches!(e, AudioError::Empty { .. }), "{e}");

        let long = vec![0.0; 16_000 * 31];
        let e = decode_wav(&wav_bytes(spec(16_000, 1, 16, false), &long), "long.wav").unwrap_err();
        assert!(matches!(e, AudioError::TooLong { .. }), "{e}");
        assert!(e.to_string().contains("31.0 s"), "{e}");

        let mut cut = wav_bytes(spec(16_000, 1, 16, false), &sine(16_000, 300.0, 0.5, 0.4));
        cut.truncate(cut.len() / 2 + 1);
        let e = decode_wav(&cut, "cut.wav").unwrap_err();
        assert!(matches!(e, AudioError::Corrupt { .. }), "{e}");

        // A compressed WAV (format tag 2, MS ADPCM) is a WAV we do not read.
        let mut adpcm = wav_bytes(spec(16_000, 1, 16, false), &[0.1; 100]);
        adpcm[20] = 2;
        let e = decode_wav(&adpcm, "adpcm.wav").unwrap_err();
        assert!(matches!(e, AudioError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("adpcm.wav"), "{e}");

        let e = read_wav(Path::new("/nonexistent/cmd.wav")).unwrap_err();
        assert!(
            matches!(e, AudioError::Io { .. }) && e.to_string().contains("/nonexistent/cmd.wav")
        );
    }

    #[test]
    fn level_finds_silence_and_clipping() {
        let quiet = Audio::from_samples(vec![3; 16_000]);
        assert!(quiet.level().is_silent());
        let tone: Vec<i16> = sine(16_000, 300.0, 1.0, 0.3)
            .iter()
            .map(|&x| (x * 32768.0) as i16)
            .collect();
        let speechy = Audio::from_samples(tone);
        assert!(!speechy.level().is_silent() && !speechy.level().is_clipped());
        let loud = speechy.with_gain(20.0);
        assert!(loud.level().is_clipped(), "{:?}", loud.level());
    }

    #[test]
    fn noise_is_added_at_the_asked_snr_and_repeats() {
        let tone: Vec<i16> = sine(16_000, 300.0, 1.0, 0.3)
            .iter()
            .map(|&x| (x * 32768.0) as i16)
            .collect();
        let clean = Audio::from_samples(tone);
        for snr in [20.0, 10.0, 5.0] {
            let noisy = clean.with_noise(snr, 7);
            assert_eq!(noisy, clean.with_noise(snr, 7));
            let noise: f64 = noisy
                .samples()
                .iter()
                .zip(clean.samples())
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum::<f64>()
                / clean.samples().len() as f64;
            let measured = 10.0 * (clean.active_power() / noise).log10();
            assert!(
                (measured - snr).abs() < 0.3,
                "asked {snr} dB, got {measured}"
            );
        }
    }

    #[test]
    fn streamed_headers_are_repaired_and_round_trip() {
        let a = Audio::from_samples((0..1600).map(|i| (i * 7 % 2000) as i16).collect());
        let mut bytes = a.to_wav_bytes();
        // Fill the size fields with the placeholders a streaming writer leaves.
        bytes[4..8].copy_from_slice(&0x7fff_f024u32.to_le_bytes());
        bytes[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        let fixed = fix_streamed_wav_sizes(bytes);
        let (back, _) = decode_wav(&fixed, "stream").unwrap();
        assert_eq!(back, a);
    }
}
