//! A safe owner of one pocketsphinx decoder.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{CStr, CString, c_char};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Once;

use roboct_dialogue::speech::SpeechError;

use crate::ffi;

/// Where the acoustic model, the pronunciation dictionary and the phone language model are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelPaths {
    /// The acoustic model folder (`-hmm`).
    pub hmm: PathBuf,
    /// The CMU pronunciation dictionary.
    pub dict: PathBuf,
    /// The phone language model (for the phone loop that scores out-of-grammar speech).
    pub phone_lm: PathBuf,
}

impl ModelPaths {
    /// Debian's `pocketsphinx-en-us` package, or the folder in `ROBOCT_PS_MODEL_DIR` (laid
    /// out the same way: `en-us/`, `cmudict-en-us.dict`, `en-us-phone.lm.bin`).
    pub fn default_en_us() -> ModelPaths {
        let dir = std::env::var_os("ROBOCT_PS_MODEL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/share/pocketsphinx/model/en-us"));
        ModelPaths {
            hmm: dir.join("en-us"),
            dict: dir.join("cmudict-en-us.dict"),
            phone_lm: dir.join("en-us-phone.lm.bin"),
        }
    }

    /// Checks that every file is there.
    pub fn check(&self) -> Result<(), SpeechError> {
        for p in [&self.hmm.join("mdef"), &self.dict, &self.phone_lm] {
            if !p.exists() {
                return Err(SpeechError::ModelMissing { path: p.clone() });
            }
        }
        Ok(())
    }
}

/// Pronunciations for the words the grammar uses, read from the CMU dictionary.
#[derive(Clone, Debug, Default)]
pub struct Lexicon {
    /// Word -> its pronunciations (phone strings), in dictionary order.
    pub entries: HashMap<String, Vec<String>>,
}

/// Pronunciations that belong to a different word spelt the same, and would only add
/// confusion (résumé for "resume").
const EXCLUDED_PRONUNCIATIONS: &[(&str, &str)] = &[("resume", "R EH Z AH M EY")];

/// Words of the language that the CMU dictionary lacks or reads as another word: these
/// pronunciations replace the dictionary's. "ct" is said as its letters ("CT head"); the
/// dictionary has it as the abbreviation of "court" (K AO R T).
pub const OWN_PRONUNCIATIONS: &[(&str, &[&str])] = &[("ct", &["S IY T IY"])];

/// Accent variants, added to the dictionary's pronunciations.
///
/// "cancel" with an open TRAP vowel: in Scottish (and Northern English, Irish, Caribbean)
/// English the vowel of "cat" is an open front \[a\], not the American \[æ\] the en-us model
/// was trained on, and the model scores \[a\] nearer its AA than its AE. A Scottish "cancel"
/// (espeak-ng en-gb-scotland, a user's report) was decoded as "cancel", but its path fitted
/// the audio worse than the phone loop, which heard K AA ..., by more than the rejection
/// threshold (8 per frame in `roboct listen`; 7.6 with 0.3 s of silence around it), so it
/// was rejected as speech outside the language; with K AA N S AH L the path fits 4.4 per
/// frame better than the loop.
///
/// Why only "cancel", not every word with AE: tried on the development voices, the AA form
/// of "abdomen" (AA B D AH M AH N) took "ct of the chest" for "ct abdomen" ("of the" is
/// near "abd-"), and the AA forms of "scan", "status", "standard" and "can" come nearer to
/// "stop" (S T AA P; "stop" was heard as "status"). A variant must never be nearer in phone
/// edits to "stop" or "confirm" than the word's dictionary pronunciations (a test checks it).
pub const ACCENT_VARIANTS: &[(&str, &str)] = &[("cancel", "K AA N S AH L")];

impl Lexicon {
    /// Reads the pronunciations of `words` from a CMU-format dictionary.
    pub fn load(dict: &Path, words: &BTreeSet<String>) -> Result<Lexicon, SpeechError> {
        let text = std::fs::read_to_string(dict).map_err(|source| SpeechError::Io {
            path: dict.to_path_buf(),
            source,
        })?;
        let mut entries: HashMap<String, Vec<String>> = HashMap::new();
        for line in text.lines() {
            let Some((head, phones)) = line.split_once(' ') else {
                continue;
            };
            let word = head.split('(').next().unwrap_or(head);
            if !words.contains(word) || OWN_PRONUNCIATIONS.iter().any(|(w, _)| *w == word) {
                continue;
            }
            let phones = phones.split('#').next().unwrap_or("").trim();
            if EXCLUDED_PRONUNCIATIONS.contains(&(word, phones)) {
                continue;
            }
            entries
                .entry(word.to_string())
                .or_default()
                .push(phones.to_string());
        }
        for (word, prons) in OWN_PRONUNCIATIONS {
            if words.contains(*word) {
                entries.insert(
                    word.to_string(),
                    prons.iter().map(|p| p.to_string()).collect(),
                );
            }
        }
        for (word, phones) in ACCENT_VARIANTS {
            if let Some(prons) = entries.get_mut(*word)
                && !prons.iter().any(|p| p == phones)
            {
                prons.push(phones.to_string());
            }
        }
        let missing: Vec<String> = words
            .iter()
            .filter(|w| !entries.contains_key(*w))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(SpeechError::NoPronunciation { words: missing });
        }
        Ok(Lexicon { entries })
    }
}

/// Levenshtein distance between two phone sequences.
pub fn phone_edits(a: &[&str], b: &[&str]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, pa) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, pb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(pa != pb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A recognized word with its frames (10 ms each).
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// The word (`<s>`, `</s>`, `<sil>` and fillers included).
    pub word: String,
    /// First frame.
    pub start_frame: i32,
    /// Last frame.
    pub end_frame: i32,
    /// The segment's acoustic score (log base 1.0001, more negative is worse).
    pub acoustic_score: i32,
}

/// The result of one utterance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hypothesis {
    /// The words, space-separated ("" when nothing was found).
    pub text: String,
    /// The path score (log base 1.0001).
    pub score: i32,
    /// The word segments.
    pub segments: Vec<Segment>,
    /// Frames decoded.
    pub frames: i32,
}

fn silence_library_logging(api: &ffi::Api) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: err_set_logfp(NULL) only sets a global pointer in sphinxbase; called once,
        // before any decoder exists, so no other thread is logging through it.
        unsafe { (api.err_set_logfp)(std::ptr::null_mut()) };
    });
}

/// One pocketsphinx decoder with its configuration.
///
/// Not `Sync`: a decoder keeps per-utterance state. It is `Send`, so each worker thread of
/// the evaluation owns its own.
pub struct Decoder {
    api: &'static ffi::Api,
    ps: NonNull<ffi::PsDecoder>,
    config: NonNull<ffi::CmdLn>,
    // The configuration's hash table keys point into these strings (see ffi.rs): they are
    // dropped after the configuration is freed.
    _args: Vec<CString>,
}

// SAFETY: the decoder has no thread affinity (no thread-local state in pocketsphinx or
// sphinxbase once logging is silenced); `Decoder` owns it exclusively and is not `Sync`.
unsafe impl Send for Decoder {}

fn cstring(s: &str) -> Result<CString, SpeechError> {
    CString::new(s).map_err(|_| SpeechError::Engine {
        detail: format!("a NUL byte in {s:?}"),
    })
}

impl Decoder {
    /// A decoder on the acoustic model `hmm` with extra `-name value` options and no words.
    pub fn new(hmm: &Path, options: &[(&str, String)]) -> Result<Decoder, SpeechError> {
        let api = ffi::api()?;
        silence_library_logging(api);
        let mut args = vec![cstring("-hmm")?, cstring(&hmm.to_string_lossy())?];
        for (k, v) in options {
            args.push(cstring(k)?);
            args.push(cstring(v)?);
        }
        let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr() as *mut c_char).collect();
        // SAFETY: argv holds args.len() valid NUL-terminated strings that outlive the config
        // (kept in `_args`); sphinxbase reads them and does not write through the pointers.
        let config = unsafe {
            (api.cmd_ln_parse_r)(
                std::ptr::null_mut(),
                (api.ps_args)(),
                argv.len() as i32,
                argv.as_mut_ptr(),
                1,
            )
        };
        let config = NonNull::new(config).ok_or_else(|| SpeechError::Engine {
            detail: format!("pocketsphinx rejected its configuration {options:?}"),
        })?;
        // SAFETY: config is a valid configuration; ps_init retains it.
        let ps = unsafe { (api.ps_init)(config.as_ptr()) };
        let Some(ps) = NonNull::new(ps) else {
            // SAFETY: config is valid and not used after this.
            unsafe { (api.cmd_ln_free_r)(config.as_ptr()) };
            return Err(SpeechError::Engine {
                detail: format!("pocketsphinx could not load the model in {}", hmm.display()),
            });
        };
        Ok(Decoder {
            api,
            ps,
            config,
            _args: args,
        })
    }

    /// Adds words with their pronunciations.
    pub fn add_words(&mut self, lexicon: &Lexicon) -> Result<(), SpeechError> {
        let mut words: Vec<(&String, &Vec<String>)> = lexicon.entries.iter().collect();
        words.sort();
        for (word, prons) in words {
            for (i, phones) in prons.iter().enumerate() {
                let name = if i == 0 {
                    word.clone()
                } else {
                    format!("{word}({})", i + 1)
                };
                let (w, p) = (cstring(&name)?, cstring(phones)?);
                // SAFETY: valid decoder and NUL-terminated strings; pocketsphinx copies them.
                let rc =
                    unsafe { (self.api.ps_add_word)(self.ps.as_ptr(), w.as_ptr(), p.as_ptr(), 0) };
                if rc < 0 {
                    return Err(SpeechError::Engine {
                        detail: format!("cannot add the word {name:?} /{phones}/"),
                    });
                }
            }
        }
        Ok(())
    }

    /// Adds a JSGF grammar search called `name`.
    pub fn set_jsgf(&mut self, name: &str, jsgf: &str) -> Result<(), SpeechError> {
        let (n, g) = (cstring(name)?, cstring(jsgf)?);
        // SAFETY: valid decoder and strings; the grammar is parsed and copied.
        let rc = unsafe { (self.api.ps_set_jsgf_string)(self.ps.as_ptr(), n.as_ptr(), g.as_ptr()) };
        self.check(rc, "the JSGF grammar was rejected")
    }

    /// Adds a keyword-spotting search called `name` for several key phrases, each with its
    /// own detection threshold.
    pub fn set_keyphrases(
        &mut self,
        name: &str,
        phrases: &[(&str, f64)],
    ) -> Result<(), SpeechError> {
        // pocketsphinx reads key phrases with thresholds only from a file; it is read during
        // the call and removed right after.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "roboct-kws-{}-{}.txt",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let text: String = phrases
            .iter()
            .map(|(p, t)| format!("{p} /{t:e}/\n"))
            .collect();
        std::fs::write(&path, text).map_err(|source| SpeechError::Io {
            path: path.clone(),
            source,
        })?;
        let (n, f) = (cstring(name)?, cstring(&path.to_string_lossy())?);
        // SAFETY: valid decoder and strings; the file is read during the call.
        let rc = unsafe { (self.api.ps_set_kws)(self.ps.as_ptr(), n.as_ptr(), f.as_ptr()) };
        let _ = std::fs::remove_file(&path);
        self.check(rc, "the key phrases were rejected")
    }

    /// Makes the search called `name` the active one.
    pub fn set_search(&mut self, name: &str) -> Result<(), SpeechError> {
        let n = cstring(name)?;
        // SAFETY: valid decoder and string.
        let rc = unsafe { (self.api.ps_set_search)(self.ps.as_ptr(), n.as_ptr()) };
        self.check(rc, "no such search")
    }

    fn check(&self, rc: i32, what: &str) -> Result<(), SpeechError> {
        if rc < 0 {
            Err(SpeechError::Engine {
                detail: what.to_string(),
            })
        } else {
            Ok(())
        }
    }

    /// Starts an utterance.
    pub fn start(&mut self) -> Result<(), SpeechError> {
        // SAFETY: valid decoder.
        let rc = unsafe { (self.api.ps_start_utt)(self.ps.as_ptr()) };
        self.check(rc, "cannot start an utterance")
    }

    /// Feeds samples (16 kHz mono) to the current utterance.
    pub fn process(&mut self, samples: &[i16], full_utterance: bool) -> Result<(), SpeechError> {
        if samples.is_empty() {
            return Ok(());
        }
        // SAFETY: valid decoder; the pointer and length describe `samples`, which
        // pocketsphinx only reads during the call.
        let rc = unsafe {
            (self.api.ps_process_raw)(
                self.ps.as_ptr(),
                samples.as_ptr(),
                samples.len(),
                0,
                i32::from(full_utterance),
            )
        };
        self.check(rc, "decoding failed")
    }

    /// Ends the utterance and returns what was recognized.
    pub fn end(&mut self) -> Result<Hypothesis, SpeechError> {
        // SAFETY: valid decoder.
        let rc = unsafe { (self.api.ps_end_utt)(self.ps.as_ptr()) };
        self.check(rc, "cannot end the utterance")?;
        Ok(self.hypothesis())
    }

    /// The current best hypothesis (partial during an utterance, final after `end`).
    pub fn hypothesis(&mut self) -> Hypothesis {
        let mut score = 0i32;
        // SAFETY: valid decoder; the returned string is owned by the decoder and copied
        // before any other call.
        let text = unsafe {
            let p = (self.api.ps_get_hyp)(self.ps.as_ptr(), &mut score);
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        let mut segments = Vec::new();
        // SAFETY: the iterator is valid until ps_seg_next returns NULL (which frees it) or
        // until we free it; words are copied before advancing.
        unsafe {
            let mut seg = (self.api.ps_seg_iter)(self.ps.as_ptr());
            while !seg.is_null() {
                let w = (self.api.ps_seg_word)(seg);
                let word = if w.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(w).to_string_lossy().into_owned()
                };
                let (mut sf, mut ef) = (0, 0);
                (self.api.ps_seg_frames)(seg, &mut sf, &mut ef);
                let (mut ascr, mut lscr, mut lback) = (0, 0, 0);
                (self.api.ps_seg_prob)(seg, &mut ascr, &mut lscr, &mut lback);
                segments.push(Segment {
                    word,
                    start_frame: sf,
                    end_frame: ef,
                    acoustic_score: ascr,
                });
                seg = (self.api.ps_seg_next)(seg);
            }
        }
        // SAFETY: valid decoder.
        let frames = unsafe { (self.api.ps_get_n_frames)(self.ps.as_ptr()) };
        Hypothesis {
            text: text.trim().to_string(),
            score,
            segments,
            frames,
        }
    }

    /// Decodes a whole utterance.
    pub fn decode(&mut self, samples: &[i16]) -> Result<Hypothesis, SpeechError> {
        self.start()?;
        self.process(samples, true)?;
        self.end()
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: both pointers are valid and owned by self; the decoder is freed before the
        // configuration it retained, and neither is used afterwards.
        unsafe {
            (self.api.ps_free)(self.ps.as_ptr());
            (self.api.cmd_ln_free_r)(self.config.as_ptr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_edits_count_substitutions_insertions_and_deletions() {
        let p = |s: &'static str| s.split_whitespace().collect::<Vec<_>>();
        assert_eq!(phone_edits(&p("S T AA P"), &p("S T AA P")), 0);
        assert_eq!(phone_edits(&p("S K AE N"), &p("S T AA P")), 3);
        assert_eq!(phone_edits(&p("S K AA N"), &p("S T AA P")), 2);
        assert_eq!(phone_edits(&p("D AA K"), &p("S T AA P")), 3);
        assert_eq!(phone_edits(&[], &p("K AH N")), 3);
    }
}
