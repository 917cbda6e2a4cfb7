//! The command language, defined once as data.
//!
//! Everything else is generated from [`COMMANDS`] and [`SLOTS`]: the text parser
//! ([`crate::parse`]) matches their patterns, the speech grammar ([`jsgf`]) is compiled from
//! their spoken patterns, the help text ([`help_text`]) and the reference page
//! ([`reference_markdown`], checked into `docs/commands.md` and kept equal by a test) list
//! them.
//!
//! # Patterns
//! A pattern is a sequence of words with three operators, a subset of JSGF so that it
//! compiles to a speech grammar directly:
//! * `[a b]` optional words;
//! * `(a b | c)` alternatives;
//! * `{slot}` a slot (see [`SLOTS`]): a number in a range, a digit string, or one of a few
//!   values.
//!
//! `spoken` patterns are in the speech grammar and the text parser; `typed` patterns only in
//! the text parser (keeping the speech grammar small keeps recognition accurate). Word
//! synonyms that only text needs ("drive" for "go", "x-ray" for "scan") are in [`SYNONYMS`].
//!
//! # Choosing the words
//! The spoken forms are what radiographers and nurses say at a bedside: "scan the head",
//! "CT head", "head CT", "CT of the chest", "cancel that", "say again", "hospital number
//! ...". They were chosen to sound different from each other, following what was measured
//! with pocketsphinx (see the crate README): nothing in the language sounds like "stop"
//! (there is no "start", "abort" is typed only), "confirm" is the only word starting an
//! X-ray, stands alone in its rule and is never fuzzily matched in text. "ct" is said as the
//! letters C T (the recognizer's own pronunciation; the dictionary reads it "court") and is
//! "scan" to the parser.

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// The commands of the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// Drive to a ward (and bed) or a room.
    Go,
    /// Return to the docking station.
    Dock,
    /// Prepare a scan of a body part with a protocol.
    Scan,
    /// Give the patient ID read from the wristband, for the identity check.
    Verify,
    /// Confirm the scan plan that was read back (arms the scan; never exposes).
    Confirm,
    /// Cancel the pending question or plan.
    Cancel,
    /// Emergency stop: halt motion and X-ray at once.
    Stop,
    /// Pause motion (not latched).
    Pause,
    /// Resume after a pause.
    Resume,
    /// Ask where the robot is, its battery, how long the task will take, or its status.
    Status,
    /// Upload the results to the PACS.
    Upload,
    /// Repeat the last answer.
    Repeat,
    /// List what can be said.
    Help,
}

impl CommandKind {
    /// The command's name in JSON and docs.
    pub fn name(self) -> &'static str {
        command_spec(self).name
    }
}

/// The slots commands can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    /// A ward number.
    Ward,
    /// A bed number.
    Bed,
    /// A room number.
    Room,
    /// The body part to scan.
    BodyPart,
    /// The scan protocol.
    Protocol,
    /// A patient ID (digits).
    PatientId,
    /// What a status question asks about.
    Topic,
}

/// What a slot accepts.
#[derive(Clone, Copy, Debug)]
pub enum SlotValues {
    /// A whole number in `min..=max`, said as words ("twenty one") or typed as digits.
    Number {
        /// The smallest value.
        min: u32,
        /// The largest value.
        max: u32,
    },
    /// A string of digits, said one by one ("four seven one one") or typed ("4711").
    Digits {
        /// The fewest digits.
        min_len: usize,
        /// The most digits.
        max_len: usize,
    },
    /// One of a few named values.
    Words(&'static [SlotValue]),
}

/// One named value of a slot.
#[derive(Clone, Copy, Debug)]
pub struct SlotValue {
    /// The value's name in JSON ("low_dose").
    pub name: &'static str,
    /// Spoken phrases for it; the first is canonical (the form the parser normalizes to).
    pub spoken: &'static [&'static str],
    /// Extra phrases accepted in text only (normalized to the canonical phrase).
    pub typed: &'static [&'static str],
    /// Chinese words for it (text only).
    pub zh: &'static [&'static str],
}

/// A slot of the language.
#[derive(Clone, Copy, Debug)]
pub struct SlotSpec {
    /// The slot.
    pub kind: SlotKind,
    /// Its name in patterns (`{ward}`) and JSON.
    pub name: &'static str,
    /// What it accepts.
    pub values: SlotValues,
    /// The question the dialogue asks when it is missing.
    pub question: &'static str,
}

/// A command of the language.
#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    /// The command.
    pub kind: CommandKind,
    /// Its name in JSON and docs.
    pub name: &'static str,
    /// One line for the help text.
    pub summary: &'static str,
    /// Patterns in the speech grammar (and the text parser). The first is the canonical
    /// form used in help, docs and the evaluation.
    pub spoken: &'static [&'static str],
    /// Patterns for text only.
    pub typed: &'static [&'static str],
    /// Chinese phrasings (text only), as examples the Chinese normalizer must handle; they
    /// are documented and tested, not matched directly (see [`crate::zh`]).
    pub zh_examples: &'static [&'static str],
}

/// The body parts.
pub const BODY_PARTS: &[SlotValue] = &[
    SlotValue {
        name: "head",
        spoken: &["head", "brain"],
        typed: &["skull", "cranium", "cranial", "cerebral"],
        zh: &["头部", "头颅", "头", "颅脑", "脑部"],
    },
    SlotValue {
        name: "chest",
        spoken: &["chest"],
        typed: &["thorax", "thoracic", "lungs", "lung", "pulmonary"],
        zh: &["胸部", "胸腔", "胸", "肺部", "肺"],
    },
    SlotValue {
        name: "abdomen",
        spoken: &["abdomen"],
        typed: &["abdominal", "belly", "tummy", "stomach", "abdo", "abd"],
        zh: &["腹部", "肚子", "腹"],
    },
];

/// The scan protocols.
pub const PROTOCOLS: &[SlotValue] = &[
    SlotValue {
        name: "low_dose",
        spoken: &["low dose"],
        typed: &["low-dose", "lowdose", "low radiation", "reduced dose", "ld"],
        zh: &["低剂量", "低辐射"],
    },
    SlotValue {
        name: "standard",
        spoken: &["standard dose"],
        typed: &[
            "standard",
            "normal",
            "normal dose",
            "routine",
            "regular",
            "default",
        ],
        zh: &["标准剂量", "标准", "常规"],
    },
    SlotValue {
        name: "sparse_view",
        spoken: &["sparse view"],
        typed: &[
            "sparse-view",
            "sparse",
            "sparse views",
            "few view",
            "few-view",
        ],
        zh: &["稀疏视角", "稀疏投影", "稀疏"],
    },
];

/// What status questions ask about.
pub const TOPICS: &[SlotValue] = &[
    SlotValue {
        name: "location",
        spoken: &["where are you"],
        typed: &["location", "your location", "position", "where are you now"],
        zh: &["你在哪里", "你在哪儿", "你在哪", "位置"],
    },
    SlotValue {
        name: "battery",
        spoken: &["battery"],
        typed: &[
            "battery level",
            "charge level",
            "how much battery",
            "battery status",
            "power level",
        ],
        zh: &["电量", "电池"],
    },
    SlotValue {
        name: "time",
        spoken: &["how long"],
        typed: &[
            "how long will it take",
            "how much longer",
            "time remaining",
            "remaining time",
            "eta",
        ],
        zh: &["还要多久", "多久", "剩余时间", "还需要多长时间"],
    },
    SlotValue {
        name: "general",
        spoken: &["status"],
        typed: &["status report", "report", "state"],
        zh: &["状态"],
    },
];

/// Every slot.
pub const SLOTS: &[SlotSpec] = &[
    SlotSpec {
        kind: SlotKind::Ward,
        name: "ward",
        values: SlotValues::Number { min: 1, max: 20 },
        question: "Which ward?",
    },
    SlotSpec {
        kind: SlotKind::Bed,
        name: "bed",
        values: SlotValues::Number { min: 1, max: 40 },
        question: "Which bed?",
    },
    SlotSpec {
        kind: SlotKind::Room,
        name: "room",
        values: SlotValues::Number { min: 1, max: 99 },
        question: "Which room?",
    },
    SlotSpec {
        kind: SlotKind::BodyPart,
        name: "body_part",
        values: SlotValues::Words(BODY_PARTS),
        question: "Which body part: head, chest or abdomen?",
    },
    SlotSpec {
        kind: SlotKind::Protocol,
        name: "protocol",
        values: SlotValues::Words(PROTOCOLS),
        question: "Which protocol: low dose, standard or sparse view?",
    },
    SlotSpec {
        kind: SlotKind::PatientId,
        name: "patient_id",
        values: SlotValues::Digits {
            min_len: 3,
            max_len: 10,
        },
        question: "Please read me the patient ID from the wristband, digit by digit.",
    },
    SlotSpec {
        kind: SlotKind::Topic,
        name: "topic",
        values: SlotValues::Words(TOPICS),
        question: "Ask where I am, my battery, or how long.",
    },
];

/// Every command, in the order help lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        kind: CommandKind::Stop,
        name: "stop",
        summary: "emergency stop: halts motion and X-ray at once, no confirmation",
        spoken: &["[emergency] stop [stop] [now]"],
        typed: &["stop everything", "stop the scan", "stop moving"],
        zh_examples: &["停止", "停", "紧急停止", "停下"],
    },
    CommandSpec {
        kind: CommandKind::Go,
        name: "go",
        summary: "drive to a ward and bed, or a room",
        spoken: &["go to ward {ward} [bed {bed}]", "go to room {room}"],
        typed: &[
            "ward {ward} [bed {bed}]",
            "room {room}",
            "go to bed {bed} [in] ward {ward}",
        ],
        zh_examples: &["去三号病房十二床", "到5号病房", "去12号房间"],
    },
    CommandSpec {
        kind: CommandKind::Dock,
        name: "dock",
        summary: "return to the docking station",
        spoken: &["return to [the] dock", "go back to [the] dock"],
        typed: &[
            "go to [the] dock",
            "dock",
            "go home",
            "return home",
            "go charge",
        ],
        zh_examples: &["返回充电站", "回充电站", "回去充电"],
    },
    CommandSpec {
        kind: CommandKind::Scan,
        name: "scan",
        summary: "prepare a scan of the head, chest or abdomen (low dose, standard or sparse view)",
        spoken: &[
            "scan [the] {body_part} [{protocol}]",
            "scan [the] {body_part} with {protocol}",
            "ct [of] [the] {body_part} [{protocol}]",
            "{body_part} ct [{protocol}]",
            "{body_part} scan [{protocol}]",
            "scan",
            "{body_part}",
            "{protocol}",
        ],
        typed: &[
            "scan [the] {body_part} [using] {protocol}",
            "{protocol} scan [of] [the] {body_part}",
            "{protocol} {body_part} scan",
            "{body_part} scan with {protocol}",
            "scan with {protocol}",
            "{protocol} scan",
            "use {protocol}",
        ],
        zh_examples: &["扫描胸部", "低剂量扫描头部", "扫描腹部，标准剂量", "胸部"],
    },
    CommandSpec {
        kind: CommandKind::Verify,
        name: "verify",
        summary: "give the patient ID from the wristband for the identity check",
        spoken: &["(patient | hospital) number {patient_id}"],
        typed: &[
            "patient [id] {patient_id}",
            "id {patient_id}",
            "mrn {patient_id}",
        ],
        zh_examples: &["病人编号四七一一", "患者号码4711"],
    },
    CommandSpec {
        kind: CommandKind::Confirm,
        name: "confirm",
        summary: "confirm the scan plan read back to you (arms the scan; the exposure switch starts the X-ray)",
        spoken: &["confirm"],
        typed: &["confirmed", "i confirm"],
        zh_examples: &["确认"],
    },
    CommandSpec {
        kind: CommandKind::Cancel,
        name: "cancel",
        summary: "cancel the pending question or scan plan",
        spoken: &["cancel [that]", "cancel the scan"],
        typed: &["never mind", "cancel scan", "forget it", "no"],
        zh_examples: &["取消", "算了"],
    },
    CommandSpec {
        kind: CommandKind::Pause,
        name: "pause",
        summary: "pause driving (say resume to continue)",
        spoken: &["pause"],
        typed: &["hold on", "wait", "hold", "hang on"],
        zh_examples: &["暂停", "等一下"],
    },
    CommandSpec {
        kind: CommandKind::Resume,
        name: "resume",
        summary: "resume after a pause",
        spoken: &["resume"],
        typed: &["continue", "carry on", "go on", "go ahead", "proceed"],
        zh_examples: &["继续", "恢复"],
    },
    CommandSpec {
        kind: CommandKind::Status,
        name: "status",
        summary: "ask where I am, my battery level, how long the task takes, or my status",
        spoken: &["{topic}"],
        typed: &[
            "what is [your] {topic}",
            "what is the {topic}",
            "tell me [your] {topic}",
            "{topic} please",
        ],
        zh_examples: &["你在哪里", "电量", "还要多久", "状态"],
    },
    CommandSpec {
        kind: CommandKind::Upload,
        name: "upload",
        summary: "upload the results to the PACS",
        spoken: &["upload [the] (results | images)"],
        typed: &[
            "send [the] results",
            "upload",
            "send [the] images [to] [the] pacs",
        ],
        zh_examples: &["上传结果", "上传"],
    },
    CommandSpec {
        kind: CommandKind::Repeat,
        name: "repeat",
        summary: "repeat my last answer",
        spoken: &["repeat", "say [that] again"],
        typed: &["pardon", "come again", "repeat that"],
        zh_examples: &["重复", "再说一遍"],
    },
    CommandSpec {
        kind: CommandKind::Help,
        name: "help",
        summary: "list what you can say",
        spoken: &["what can i say"],
        typed: &["help", "commands", "options", "what can you do"],
        zh_examples: &["帮助"],
    },
];

/// Words said around a command that carry no meaning for it: accepted (and ignored) by the
/// text parser anywhere, and as an optional prefix or suffix by the speech grammar
/// ([`SPOKEN_PREFIXES`], [`SPOKEN_SUFFIXES`]).
pub const FILLERS: &[&str] = &[
    "please", "could", "would", "can", "you", "kindly", "um", "uh", "er", "erm", "ah", "hmm",
    "okay", "ok", "so", "now", "just", "hey", "robot", "roboct", "scanner", "i", "we", "want",
    "need", "like", "to", "the", "a", "an", "of", "for", "me", "us", "let's", "lets", "yes",
    "yeah", "thanks", "thank", "right", "well", "then", "do", "perform", "take", "run", "start",
    "make", "get", "number", "and", "in", "at", "on", "is", "are", "my", "your", "it", "that",
    "this", "there", "oh", "with", "using",
];

/// Optional spoken politeness before a command, in the speech grammar.
pub const SPOKEN_PREFIXES: &[&str] = &["please"];
/// Optional spoken politeness after a command, in the speech grammar.
pub const SPOKEN_SUFFIXES: &[&str] = &["please"];

/// Text-only synonyms: the phrase on the left is replaced by the one on the right before
/// matching (longest phrase first). Values of slots have their own synonyms in their
/// `typed` lists.
pub const SYNONYMS: &[(&str, &str)] = &[
    ("head over to", "go to"),
    ("head to", "go to"),
    ("drive to", "go to"),
    ("move to", "go to"),
    ("navigate to", "go to"),
    ("proceed to", "go to"),
    ("come to", "go to"),
    ("take me to", "go to"),
    ("bring me to", "go to"),
    ("x-ray", "scan"),
    ("xray", "scan"),
    ("ct", "scan"),
    ("image", "scan"),
    ("imaging", "scan"),
    ("examine", "scan"),
    ("scanning", "scan"),
    ("halt", "stop"),
    ("freeze", "stop"),
    ("abort", "stop"),
    ("nevermind", "never mind"),
    ("dont", "don't"),
    ("do not", "don't"),
    ("ward no", "ward"),
    ("bed no", "bed"),
    ("room no", "room"),
    ("docking station", "dock"),
    ("charging station", "dock"),
    ("charger", "dock"),
    ("base station", "dock"),
    ("identification", "id"),
    ("i.d.", "id"),
];

/// Words that make a sentence a stop wherever they appear: stopping is always the safe
/// reading, so "do not stop" stops too.
pub const STOP_WORDS: &[&str] = &["stop", "emergency"];

/// Words that negate a command ("don't scan"): such a sentence is not understood, never
/// taken as the command it negates.
pub const NEGATIONS: &[&str] = &["don't", "not", "never", "cannot", "can't", "shouldn't"];

/// Words that must be spelled exactly (no typo tolerance): the X-ray confirmation.
pub const EXACT_WORDS: &[&str] = &["confirm", "confirmed"];

/// The spec of a command.
pub fn command_spec(kind: CommandKind) -> &'static CommandSpec {
    COMMANDS
        .iter()
        .find(|c| c.kind == kind)
        .expect("every CommandKind has a spec (checked by tests::every_kind_has_one_spec)")
}

/// The spec of a slot.
pub fn slot_spec(kind: SlotKind) -> &'static SlotSpec {
    SLOTS
        .iter()
        .find(|s| s.kind == kind)
        .expect("every SlotKind has a spec (checked by tests::every_kind_has_one_spec)")
}

/// The slot named `name` in a pattern.
pub fn slot_by_name(name: &str) -> Option<&'static SlotSpec> {
    SLOTS.iter().find(|s| s.name == name)
}

/// A parsed pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// A word.
    Word(String),
    /// A slot.
    Slot(SlotKind),
    /// Items in order.
    Seq(Vec<Pattern>),
    /// One of these.
    Alt(Vec<Pattern>),
    /// This or nothing.
    Opt(Box<Pattern>),
}

/// A pattern that does not parse (a bug in the language data, caught by the tests).
#[derive(Debug, thiserror::Error)]
#[error("bad pattern {pattern:?}: {detail}")]
pub struct PatternError {
    /// The pattern.
    pub pattern: String,
    /// What is wrong.
    pub detail: String,
}

impl roboct_core::Recover for PatternError {
    fn recovery(&self) -> roboct_core::Recovery {
        // The language data is built in: a bad pattern is a bug, not something to retry.
        roboct_core::Recovery::Abort
    }
}

/// Parses a pattern (see the module docs for the syntax).
pub fn parse_pattern(text: &str) -> Result<Pattern, PatternError> {
    let err = |detail: String| PatternError {
        pattern: text.to_string(),
        detail,
    };
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if "[]()|".contains(c) || c.is_whitespace() {
            if !word.is_empty() {
                tokens.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    let mut pos = 0;
    let p = parse_alt(&tokens, &mut pos).map_err(err)?;
    if pos != tokens.len() {
        return Err(err(format!("unexpected {:?}", tokens[pos])));
    }
    Ok(p)
}

fn parse_alt(t: &[String], pos: &mut usize) -> Result<Pattern, String> {
    let mut alts = vec![parse_seq(t, pos)?];
    while *pos < t.len() && t[*pos] == "|" {
        *pos += 1;
        alts.push(parse_seq(t, pos)?);
    }
    Ok(if alts.len() == 1 {
        alts.pop().unwrap_or(Pattern::Seq(vec![]))
    } else {
        Pattern::Alt(alts)
    })
}

fn parse_seq(t: &[String], pos: &mut usize) -> Result<Pattern, String> {
    let mut items = Vec::new();
    while *pos < t.len() {
        let tok = t[*pos].as_str();
        match tok {
            "|" | ")" | "]" => break,
            "(" | "[" => {
                *pos += 1;
                let inner = parse_alt(t, pos)?;
                let close = if tok == "(" { ")" } else { "]" };
                if t.get(*pos).map(String::as_str) != Some(close) {
                    return Err(format!("missing {close}"));
                }
                *pos += 1;
                items.push(if tok == "(" {
                    inner
                } else {
                    Pattern::Opt(Box::new(inner))
                });
            }
            _ => {
                *pos += 1;
                if let Some(name) = tok.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let slot = slot_by_name(name).ok_or(format!("unknown slot {{{name}}}"))?;
                    items.push(Pattern::Slot(slot.kind));
                } else if tok.chars().any(|c| "{}<>;=/*+".contains(c)) {
                    return Err(format!("bad word {tok:?}"));
                } else {
                    items.push(Pattern::Word(tok.to_string()));
                }
            }
        }
    }
    if items.is_empty() {
        return Err("empty sequence".into());
    }
    Ok(if items.len() == 1 {
        items.pop().unwrap_or(Pattern::Seq(vec![]))
    } else {
        Pattern::Seq(items)
    })
}

/// One concrete way to say a pattern: words and slots in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Item {
    /// A literal word.
    Word(String),
    /// A slot.
    Slot(SlotKind),
}

/// Every concrete sequence a pattern stands for.
pub fn expand(p: &Pattern) -> Vec<Vec<Item>> {
    match p {
        Pattern::Word(w) => vec![vec![Item::Word(w.clone())]],
        Pattern::Slot(s) => vec![vec![Item::Slot(*s)]],
        Pattern::Opt(inner) => {
            let mut v = vec![vec![]];
            v.extend(expand(inner));
            v
        }
        Pattern::Alt(alts) => alts.iter().flat_map(expand).collect(),
        Pattern::Seq(items) => {
            let mut acc: Vec<Vec<Item>> = vec![vec![]];
            for item in items {
                let tails = expand(item);
                acc = acc
                    .iter()
                    .flat_map(|head| {
                        tails.iter().map(move |tail| {
                            let mut v = head.clone();
                            v.extend(tail.iter().cloned());
                            v
                        })
                    })
                    .collect();
            }
            acc
        }
    }
}

/// Number words below twenty, by value: shared by the grammar and the text parser.
pub(crate) const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

/// Tens words by tens digit ("" for 0 and 1).
pub(crate) const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// A number in words, as said in the speech grammar ("twenty one"); 0 to 999.
pub fn number_words(n: u32) -> String {
    let n = n.min(999);
    let mut parts = Vec::new();
    if n >= 100 {
        parts.push(format!("{} hundred", ONES[(n / 100) as usize]));
    }
    let r = n % 100;
    if r > 0 || n == 0 {
        if r < 20 {
            parts.push(ONES[r as usize].to_string());
        } else if r.is_multiple_of(10) {
            parts.push(TENS[(r / 10) as usize].to_string());
        } else {
            parts.push(format!(
                "{} {}",
                TENS[(r / 10) as usize],
                ONES[(r % 10) as usize]
            ));
        }
    }
    parts.join(" ")
}

/// The words spoken for digits in a patient ID.
pub const DIGIT_WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// The speech grammar: the spoken patterns of every command as JSGF (sphinxbase's dialect:
/// one public rule; repetition is spelt out as nested optionals).
pub fn jsgf() -> String {
    let mut g = String::from("#JSGF V1.0;\n\ngrammar roboct;\n\n");
    let rule_name = |k: CommandKind| format!("cmd_{}", command_spec(k).name);
    // The X-ray confirmation takes no politeness around it: "confirm" alone, so that less
    // speech can be bent into it (measured: "can you hear me" became "confirm please").
    let cmds: Vec<String> = COMMANDS
        .iter()
        .filter(|c| c.kind != CommandKind::Confirm)
        .map(|c| format!("<{}>", rule_name(c.kind)))
        .collect();
    let _ = writeln!(
        g,
        "public <command> = [<prefix>] ( {} ) [<suffix>] | <{}>;\n",
        cmds.join(" | "),
        rule_name(CommandKind::Confirm)
    );
    let _ = writeln!(g, "<prefix> = {};", SPOKEN_PREFIXES.join(" | "));
    let _ = writeln!(g, "<suffix> = {};", SPOKEN_SUFFIXES.join(" | "));
    for c in COMMANDS {
        let alts: Vec<String> = c
            .spoken
            .iter()
            .map(|p| format!("( {} )", pattern_to_jsgf(p)))
            .collect();
        let _ = writeln!(g, "<{}> = {};", rule_name(c.kind), alts.join(" | "));
    }
    for s in SLOTS {
        let body = match s.values {
            SlotValues::Number { min, max } => (min..=max)
                .map(number_words)
                .collect::<Vec<_>>()
                .join(" | "),
            // Bounded repetition spelt out: sphinxbase's `+` loops back to the wrong state
            // (measured: "patient number ..." decoded as words after a loop).
            SlotValues::Digits { min_len, max_len } => {
                let mut body = vec!["<digit>"; min_len].join(" ");
                let optional = max_len.saturating_sub(min_len);
                body.push_str(&" [<digit>".repeat(optional));
                body.push_str(&"]".repeat(optional));
                body
            }
            SlotValues::Words(values) => values
                .iter()
                .flat_map(|v| {
                    v.spoken
                        .iter()
                        .map(|p| format!("( {} )", pattern_to_jsgf(p)))
                })
                .collect::<Vec<_>>()
                .join(" | "),
        };
        let _ = writeln!(g, "<{}> = {};", s.name, body);
    }
    let _ = writeln!(g, "<digit> = {};", DIGIT_WORDS.join(" | "));
    g
}

fn pattern_to_jsgf(p: &str) -> String {
    // Patterns are a JSGF subset except for `{slot}`, which is a rule reference there.
    p.split_whitespace()
        .map(|w| {
            let mut out = String::new();
            let mut rest = w;
            while let Some(start) = rest.find('{') {
                out.push_str(&rest[..start]);
                let end = rest[start..]
                    .find('}')
                    .map(|e| start + e)
                    .unwrap_or(rest.len() - 1);
                out.push('<');
                out.push_str(&rest[start + 1..end]);
                out.push('>');
                rest = &rest[(end + 1).min(rest.len())..];
            }
            out.push_str(rest);
            out
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every word the speech grammar can produce (for the pronunciation dictionary).
pub fn grammar_vocabulary() -> BTreeSet<String> {
    let text = jsgf();
    let body: String = text
        .lines()
        .filter(|l| l.contains('='))
        .map(|l| l.split_once('=').map(|(_, r)| r).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    body.split(|c: char| c.is_whitespace() || "()[]|;+".contains(c))
        .filter(|w| !w.is_empty() && !w.starts_with('<'))
        .map(str::to_string)
        .collect()
}

/// An example sentence for a pattern, with slots filled by typical values: what help and
/// the docs show, and what the evaluation speaks.
pub fn example_sentence(items: &[Item]) -> String {
    items
        .iter()
        .map(|i| match i {
            Item::Word(w) => w.clone(),
            Item::Slot(k) => example_value(*k),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn example_value(k: SlotKind) -> String {
    match slot_spec(k).values {
        SlotValues::Number { min, max } => number_words((min + max) / 2),
        SlotValues::Digits { .. } => "four seven one one".to_string(),
        SlotValues::Words(v) => v[0].spoken[0].to_string(),
    }
}

/// The help text: one line per command with its canonical phrase.
pub fn help_text() -> String {
    let mut s = String::from("You can say:\n");
    for c in COMMANDS {
        let first = parse_pattern(c.spoken[0])
            .map(|p| expand(&p))
            .ok()
            .and_then(|e| e.into_iter().max_by_key(Vec::len))
            .map(|items| example_sentence(&items))
            .unwrap_or_default();
        let _ = writeln!(s, "  \"{first}\": {}", c.summary);
    }
    s
}

/// A short spoken help: the command names.
pub fn spoken_help() -> String {
    let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    format!(
        "You can say: {}, and {}.",
        names[..names.len() - 1].join(", "),
        names[names.len() - 1]
    )
}

/// The reference page of the language in Markdown (`docs/commands.md`).
pub fn reference_markdown() -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# The roboct command language\n\n\
         Generated from `crates/roboct-dialogue/src/language.rs` by \
         `roboct_dialogue::language::reference_markdown()`; a test keeps this file equal to it.\n\n\
         Patterns: `[a]` optional, `(a | b)` one of, `{{slot}}` a slot. Spoken patterns are in \
         the speech grammar; typed ones are understood in text only. Fillers and politeness \
         (\"could you please\", \"um\") are accepted around any command.\n"
    );
    let _ = writeln!(s, "## Commands\n");
    let _ = writeln!(
        s,
        "| command | what it does | spoken | typed too | 中文 examples |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    for c in COMMANDS {
        // A `|` inside a table cell ends the cell, even in a code span: escaped.
        let q = |v: &[&str]| {
            v.iter()
                .map(|p| format!("`{}`", p.replace('|', "\\|")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} |",
            c.name,
            c.summary,
            q(c.spoken),
            q(c.typed),
            c.zh_examples.join("、")
        );
    }
    let _ = writeln!(s, "\n## Slots\n");
    let _ = writeln!(s, "| slot | values | typed synonyms | 中文 |");
    let _ = writeln!(s, "| --- | --- | --- | --- |");
    for sl in SLOTS {
        let (values, typed, zh) = match sl.values {
            SlotValues::Number { min, max } => (
                format!("{min} to {max}, in words or digits"),
                String::new(),
                "一、二、十二、二十一…".to_string(),
            ),
            SlotValues::Digits { min_len, max_len } => (
                format!("{min_len} to {max_len} digits, said one by one (\"oh\" for zero)"),
                String::new(),
                "四七一一".to_string(),
            ),
            SlotValues::Words(v) => (
                v.iter()
                    .map(|x| format!("`{}` ({})", x.name, x.spoken.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; "),
                v.iter()
                    .map(|x| x.typed.join(", "))
                    .collect::<Vec<_>>()
                    .join("; "),
                v.iter()
                    .map(|x| x.zh.join("、"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };
        let _ = writeln!(s, "| `{}` | {} | {} | {} |", sl.name, values, typed, zh);
    }
    let _ = writeln!(
        s,
        "\n## Safety words\n\n\
         * Stop words, obeyed wherever they appear and never confirmed: {}.\n\
         * A negation ({}) makes a sentence not understood rather than the command it negates.\n\
         * Spelled exactly, never guessed from a typo: {}.\n",
        STOP_WORDS.join(", "),
        NEGATIONS.join(", "),
        EXACT_WORDS.join(", ")
    );
    let _ = writeln!(s, "## Speech grammar (JSGF)\n\n```jsgf\n{}```", jsgf());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_spec() {
        use std::collections::HashSet;
        let kinds: HashSet<CommandKind> = COMMANDS.iter().map(|c| c.kind).collect();
        assert_eq!(kinds.len(), COMMANDS.len(), "a command listed twice");
        assert_eq!(kinds.len(), 13);
        let slots: HashSet<SlotKind> = SLOTS.iter().map(|s| s.kind).collect();
        assert_eq!(slots.len(), SLOTS.len());
        assert_eq!(slots.len(), 7);
        for c in COMMANDS {
            assert_eq!(command_spec(c.kind).name, c.name);
        }
    }

    #[test]
    fn every_pattern_parses() {
        for c in COMMANDS {
            for p in c.spoken.iter().chain(c.typed) {
                let parsed = parse_pattern(p).unwrap();
                assert!(!expand(&parsed).is_empty());
            }
        }
        for s in SLOTS {
            if let SlotValues::Words(v) = s.values {
                for x in v {
                    for p in x.spoken.iter().chain(x.typed) {
                        parse_pattern(p).unwrap();
                    }
                }
            }
        }
    }

    #[test]
    fn pattern_syntax() {
        let p = parse_pattern("go to ward {ward} [bed {bed}]").unwrap();
        let e = expand(&p);
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[1],
            vec![
                Item::Word("go".into()),
                Item::Word("to".into()),
                Item::Word("ward".into()),
                Item::Slot(SlotKind::Ward),
                Item::Word("bed".into()),
                Item::Slot(SlotKind::Bed),
            ]
        );
        assert_eq!(expand(&parse_pattern("(a | b c) [d]").unwrap()).len(), 4);
        assert!(parse_pattern("go (to").is_err());
        assert!(parse_pattern("{nope}").is_err());
        assert!(parse_pattern("a ]").is_err());
        assert!(parse_pattern("[]").is_err());
    }

    #[test]
    fn numbers_in_words() {
        assert_eq!(number_words(3), "three");
        assert_eq!(number_words(12), "twelve");
        assert_eq!(number_words(20), "twenty");
        assert_eq!(number_words(21), "twenty one");
        assert_eq!(number_words(99), "ninety nine");
        assert_eq!(number_words(305), "three hundred five");
        assert_eq!(number_words(0), "zero");
    }

    #[test]
    fn the_grammar_holds_every_command_and_no_start() {
        let g = jsgf();
        for c in COMMANDS {
            assert!(g.contains(&format!("<cmd_{}>", c.name)), "{}", c.name);
        }
        let vocab = grammar_vocabulary();
        assert!(vocab.contains("confirm") && vocab.contains("stop"));
        assert!(vocab.contains("twenty") && vocab.contains("abdomen"));
        // "start" sounds like "stop" (PEERS.md): it must never be a spoken word.
        assert!(!vocab.contains("start"));
        assert!(!vocab.iter().any(|w| w.contains('<') || w.contains('{')));
    }

    #[test]
    fn the_reference_page_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/commands.md");
        let generated = reference_markdown();
        if std::env::var_os("ROBOCT_BLESS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/commands.md is stale: run `ROBOCT_BLESS=1 cargo test -p roboct-dialogue the_reference_page` and commit it"
        );
    }

    #[test]
    fn help_lists_every_command() {
        let h = help_text();
        for c in COMMANDS {
            assert!(h.contains(c.summary), "{}", c.name);
        }
        assert!(h.contains("\"go to ward ten bed twenty\""), "{h}");
        assert!(spoken_help().ends_with("and help."));
    }
}
