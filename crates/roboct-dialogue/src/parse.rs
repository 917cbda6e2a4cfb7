//! Understanding text: free text to a typed [`Command`] with a confidence, or "not understood"
//! with the closest suggestions.
//!
//! The parser is tolerant by construction rather than by a pile of special cases:
//! 1. the text is split into lowercase tokens; number words become numbers ("twenty one" ->
//!    21; "four seven one one" -> 4 7 1 1, for IDs); text-only synonyms become the canonical
//!    words of the language (see [`crate::language::SYNONYMS`] and each slot value's `typed`
//!    list); Chinese text is first turned into those words by [`crate::zh`];
//! 2. every pattern of the language is expanded into its concrete word sequences, and the
//!    tokens are aligned to each with a weighted edit distance: an extra filler ("please",
//!    "could you", "um") costs nothing, an extra unknown word 0.5, an extra command word 1; a
//!    missing function word ("to", "the") 0.1, a missing content word 1.5; a misspelt word
//!    (one edit, two for long words) 0.4;
//! 3. the cheapest alignment wins; its confidence is `1 / (1 + cost)`, and it is accepted at
//!    0.5 or more (cost at most 1) unless a different command is almost as cheap (then it is
//!    ambiguous).
//!
//! Three safety rules sit on top: a stop word anywhere makes the sentence a stop; a negation
//! ("don't scan") makes it not understood; "confirm" is taken only when spelt exactly and said
//! alone with nothing but fillers (and never together with "cancel"), so random text cannot
//! confirm an X-ray (property-tested below).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::command::{Command, SlotValuesFound};
use crate::language::{
    self, COMMANDS, CommandKind, EXACT_WORDS, FILLERS, Item, NEGATIONS, SLOTS, STOP_WORDS,
    SYNONYMS, SlotKind, SlotValues,
};

/// The longest text the parser reads, in tokens: a command is a short sentence.
pub const MAX_TOKENS: usize = 48;
/// The lowest confidence at which a sentence is taken as a command.
pub const MIN_CONFIDENCE: f64 = 0.5;

/// What a sentence was understood as.
#[derive(Clone, Debug, PartialEq)]
pub enum Understanding {
    /// A command of the language.
    Understood(Parsed),
    /// Nothing in the language.
    NotUnderstood {
        /// Why, in a short sentence fit to be spoken.
        reason: String,
        /// The closest sentences of the language, best first (at most three).
        suggestions: Vec<String>,
    },
}

impl Understanding {
    /// The command, if understood.
    pub fn command(&self) -> Option<&Command> {
        match self {
            Understanding::Understood(p) => Some(&p.command),
            Understanding::NotUnderstood { .. } => None,
        }
    }
}

/// A sentence understood as a command.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The command and its slots.
    pub command: Command,
    /// How sure the parser is, in (0, 1].
    pub confidence: f64,
    /// The pattern sentence it matched, in canonical words (for logs and tests; it may hold a
    /// patient ID, so never log it).
    pub matched: String,
}

/// A token after normalization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Word(String),
    /// A number, with the digits as written ("0471" keeps its zero for IDs).
    Num {
        value: u64,
        digits: String,
    },
}

/// Splits text into lowercase tokens: letters and digits, apostrophes inside words kept,
/// letters and digits separated ("ward3" -> "ward", "3").
pub(crate) fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_digit = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let is_word = c.is_alphanumeric() || (c == '\'' && !cur.is_empty());
        if !is_word {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let digit = c.is_ascii_digit();
        if !cur.is_empty() && digit != cur_digit && c != '\'' {
            out.push(std::mem::take(&mut cur));
        }
        cur_digit = digit;
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    for t in &mut out {
        while t.ends_with('\'') {
            t.pop();
        }
    }
    out.retain(|t| !t.is_empty());
    out
}

fn unit_value(w: &str) -> Option<u64> {
    crate::language::ONES
        .iter()
        .position(|&u| u == w)
        .map(|p| p as u64)
}

fn tens_value(w: &str) -> Option<u64> {
    crate::language::TENS[2..]
        .iter()
        .position(|&t| t == w)
        .map(|p| 20 + 10 * p as u64)
}

/// Whether `w` (lower case) is a number word the parser reads: zero to nineteen, the tens,
/// `hundred`, and `oh` (zero inside a run of numbers).
pub fn is_number_word(w: &str) -> bool {
    unit_value(w).is_some() || tens_value(w).is_some() || w == "hundred" || w == "oh"
}

/// Turns runs of number words and digits into numbers. "oh" is zero only inside such a run
/// with another number ("four oh one"); alone it is a filler.
pub(crate) fn numbers(tokens: &[String]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        if t.chars().all(|c| c.is_ascii_digit()) {
            // Digit strings longer than u64 are kept as digits (an ID), with a saturated value.
            let value = t.parse::<u64>().unwrap_or(u64::MAX);
            out.push(Tok::Num {
                value,
                digits: t.to_string(),
            });
            i += 1;
            continue;
        }
        if !is_number_word(t) || t == "hundred" {
            out.push(Tok::Word(t.to_string()));
            i += 1;
            continue;
        }
        // The run of number words starting here.
        let mut j = i;
        while j < tokens.len() && is_number_word(&tokens[j]) {
            j += 1;
        }
        let run = &tokens[i..j];
        let has_number = run.iter().any(|w| w != "oh");
        if !has_number {
            for w in run {
                out.push(Tok::Word(w.clone()));
            }
            i = j;
            continue;
        }
        let mut k = 0;
        while k < run.len() {
            let w = run[k].as_str();
            let mut value;
            if w == "oh" {
                value = 0;
                k += 1;
            } else if w == "hundred" {
                // "hundred" without a leading unit: "a hundred" -> 100.
                value = 100;
                k += 1;
            } else if let Some(t) = tens_value(w) {
                value = t;
                k += 1;
                if let Some(u) = run
                    .get(k)
                    .and_then(|x| unit_value(x))
                    .filter(|&u| (1..10).contains(&u))
                {
                    value += u;
                    k += 1;
                }
            } else {
                value = unit_value(w).unwrap_or(0);
                k += 1;
                if value > 0 && value < 10 && run.get(k).map(String::as_str) == Some("hundred") {
                    value *= 100;
                    k += 1;
                    if let Some(t) = run.get(k).and_then(|x| tens_value(x)) {
                        value += t;
                        k += 1;
                        if let Some(u) = run
                            .get(k)
                            .and_then(|x| unit_value(x))
                            .filter(|&u| (1..10).contains(&u))
                        {
                            value += u;
                            k += 1;
                        }
                    } else if let Some(u) =
                        run.get(k).and_then(|x| unit_value(x)).filter(|&u| u > 0)
                    {
                        value += u;
                        k += 1;
                    }
                }
            }
            out.push(Tok::Num {
                value,
                digits: value.to_string(),
            });
        }
        i = j;
    }
    out
}

/// Phrase replacements: text-only synonyms and slot-value synonyms to canonical words.
/// Canonical phrases map to themselves so that a longer canonical phrase ("sparse view") is
/// never broken by a shorter synonym ("sparse").
fn replacements() -> &'static Vec<(Vec<String>, Vec<String>)> {
    static R: OnceLock<Vec<(Vec<String>, Vec<String>)>> = OnceLock::new();
    R.get_or_init(|| {
        let split = |s: &str| tokenize(s);
        let mut v: Vec<(Vec<String>, Vec<String>)> =
            SYNONYMS.iter().map(|(a, b)| (split(a), split(b))).collect();
        v.push((split("what's"), split("what is")));
        v.push((split("where's"), split("where is")));
        v.push((split("i d"), split("id")));
        for s in SLOTS {
            if let SlotValues::Words(values) = s.values {
                for val in values {
                    let canon = split(val.spoken[0]);
                    for p in val.spoken.iter().chain(val.typed) {
                        v.push((split(p), canon.clone()));
                    }
                }
            }
        }
        // Longest first, so that the longest phrase at each position wins.
        v.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        v
    })
}

fn apply_synonyms(toks: Vec<Tok>) -> Vec<Tok> {
    let reps = replacements();
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    'outer: while i < toks.len() {
        for (from, to) in reps {
            if from.is_empty() || i + from.len() > toks.len() {
                continue;
            }
            let hit = from
                .iter()
                .zip(&toks[i..])
                .all(|(f, t)| matches!(t, Tok::Word(w) if w == f));
            if hit {
                out.extend(to.iter().map(|w| Tok::Word(w.clone())));
                i += from.len();
                continue 'outer;
            }
        }
        out.push(toks[i].clone());
        i += 1;
    }
    out
}

/// Normalizes text into tokens (English, or Chinese through [`crate::zh`]).
pub(crate) fn normalize(text: &str) -> Vec<Tok> {
    let english = if crate::zh::has_chinese(text) {
        crate::zh::to_english_words(text)
    } else {
        text.to_string()
    };
    apply_synonyms(numbers(&tokenize(&english)))
}

/// One item of a compiled pattern.
#[derive(Clone, Debug)]
enum CItem {
    /// A literal word; `capture` names the word-valued slot value it spells, if any.
    Word {
        word: String,
        capture: Option<(SlotKind, usize)>,
    },
    /// A number slot: one number token.
    Number(SlotKind),
    /// A digit-string slot: one or more number tokens.
    Digits(SlotKind),
}

/// A pattern expanded into one concrete sequence.
#[derive(Clone, Debug)]
struct Compiled {
    kind: CommandKind,
    items: Vec<CItem>,
}

fn compiled() -> &'static Vec<Compiled> {
    static C: OnceLock<Vec<Compiled>> = OnceLock::new();
    C.get_or_init(|| {
        let mut out = Vec::new();
        for c in COMMANDS {
            for p in c.spoken.iter().chain(c.typed) {
                // The language tests check that every pattern parses.
                let Ok(pattern) = language::parse_pattern(p) else {
                    continue;
                };
                for seq in language::expand(&pattern) {
                    for items in expand_word_slots(&seq) {
                        out.push(Compiled {
                            kind: c.kind,
                            items,
                        });
                    }
                }
            }
        }
        out
    })
}

/// Replaces word-valued slots by the canonical words of each of their values.
fn expand_word_slots(seq: &[Item]) -> Vec<Vec<CItem>> {
    let mut acc: Vec<Vec<CItem>> = vec![vec![]];
    for item in seq {
        let options: Vec<Vec<CItem>> = match item {
            Item::Word(w) => vec![vec![CItem::Word {
                word: w.clone(),
                capture: None,
            }]],
            Item::Slot(k) => match language::slot_spec(*k).values {
                SlotValues::Number { .. } => vec![vec![CItem::Number(*k)]],
                SlotValues::Digits { .. } => vec![vec![CItem::Digits(*k)]],
                SlotValues::Words(values) => values
                    .iter()
                    .enumerate()
                    .map(|(idx, v)| {
                        tokenize(v.spoken[0])
                            .into_iter()
                            .map(|w| CItem::Word {
                                word: w,
                                capture: Some((*k, idx)),
                            })
                            .collect()
                    })
                    .collect(),
            },
        };
        acc = acc
            .iter()
            .flat_map(|head| {
                options.iter().map(move |tail| {
                    let mut v = head.clone();
                    v.extend(tail.iter().cloned());
                    v
                })
            })
            .collect();
    }
    acc
}

/// Content words of the language (known words that are not fillers).
fn vocabulary() -> &'static HashSet<String> {
    static V: OnceLock<HashSet<String>> = OnceLock::new();
    V.get_or_init(|| {
        let fillers: HashSet<&str> = FILLERS.iter().copied().collect();
        let mut v = HashSet::new();
        for c in compiled() {
            for it in &c.items {
                if let CItem::Word { word, .. } = it
                    && !fillers.contains(word.as_str())
                {
                    v.insert(word.clone());
                }
            }
        }
        v
    })
}

const FUNCTION_WORDS: &[&str] = &["to", "the", "with", "in", "a", "of", "at"];

fn is_filler(t: &Tok) -> bool {
    matches!(t, Tok::Word(w) if FILLERS.contains(&w.as_str()))
}

fn insertion_cost(t: &Tok) -> f64 {
    match t {
        Tok::Num { .. } => 1.0,
        Tok::Word(w) if FILLERS.contains(&w.as_str()) => 0.0,
        Tok::Word(w) if vocabulary().contains(w) => 1.0,
        Tok::Word(_) => 0.5,
    }
}

fn deletion_cost(item: &CItem) -> f64 {
    match item {
        CItem::Word { word, .. } if FUNCTION_WORDS.contains(&word.as_str()) => 0.1,
        CItem::Word { .. } => 1.5,
        CItem::Number(_) | CItem::Digits(_) => 2.0,
    }
}

/// Optimal string alignment distance, for typos.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

fn word_match_cost(pattern: &str, input: &str) -> Option<f64> {
    if pattern == input {
        return Some(0.0);
    }
    if EXACT_WORDS.contains(&pattern) || EXACT_WORDS.contains(&input) {
        return None;
    }
    let len = pattern.chars().count();
    if len < 4 {
        return None;
    }
    let max = if len >= 8 { 2 } else { 1 };
    // The difference in length bounds the distance from below, so a word longer than the
    // pattern's by more than `max` is no typo of it: count no further, and build no table of
    // its length per pattern word (a 60000-letter "word" took minutes to parse).
    let input_len = input.chars().take(len + max + 1).count();
    if input_len < 3 || len.abs_diff(input_len) > max || !input.chars().all(char::is_alphabetic) {
        return None;
    }
    (edit_distance(pattern, input) <= max).then_some(0.4)
}

/// What one alignment found.
#[derive(Clone, Debug)]
struct Alignment {
    cost: f64,
    slots: SlotValuesFound,
    /// Number slots whose value is out of the slot's range: (slot, value).
    out_of_range: Vec<(SlotKind, u64)>,
    /// Digit slots whose length is out of range.
    bad_digits: Vec<(SlotKind, usize)>,
    /// Whether an input word was matched to a pattern word only by typo tolerance.
    typo: bool,
}

#[derive(Clone, Copy)]
enum Step {
    Start,
    Insert,
    Delete,
    Match,
    Span(usize),
}

fn align(c: &Compiled, toks: &[Tok]) -> Alignment {
    let n = c.items.len();
    let m = toks.len();
    let inf = f64::INFINITY;
    let mut dp = vec![vec![inf; m + 1]; n + 1];
    let mut back = vec![vec![Step::Start; m + 1]; n + 1];
    dp[0][0] = 0.0;
    for i in 0..=n {
        for j in 0..=m {
            let here = dp[i][j];
            if here == inf {
                continue;
            }
            if j < m {
                let cost = here + insertion_cost(&toks[j]);
                if cost < dp[i][j + 1] {
                    dp[i][j + 1] = cost;
                    back[i][j + 1] = Step::Insert;
                }
            }
            if i < n {
                let item = &c.items[i];
                let cost = here + deletion_cost(item);
                if cost < dp[i + 1][j] {
                    dp[i + 1][j] = cost;
                    back[i + 1][j] = Step::Delete;
                }
                match item {
                    CItem::Word { word, .. } => {
                        if let Some(Tok::Word(w)) = toks.get(j)
                            && let Some(mc) = word_match_cost(word, w)
                            && here + mc < dp[i + 1][j + 1]
                        {
                            dp[i + 1][j + 1] = here + mc;
                            back[i + 1][j + 1] = Step::Match;
                        }
                    }
                    CItem::Number(_) => {
                        if let Some(Tok::Num { .. }) = toks.get(j)
                            && here < dp[i + 1][j + 1]
                        {
                            dp[i + 1][j + 1] = here;
                            back[i + 1][j + 1] = Step::Match;
                        }
                    }
                    CItem::Digits(_) => {
                        let mut k = j;
                        while k < m && matches!(toks[k], Tok::Num { .. }) {
                            k += 1;
                            if here < dp[i + 1][k] {
                                dp[i + 1][k] = here;
                                back[i + 1][k] = Step::Span(k - j);
                            }
                        }
                    }
                }
            }
        }
    }
    // Walk back to collect the slot values.
    let mut a = Alignment {
        cost: dp[n][m],
        slots: SlotValuesFound::default(),
        out_of_range: Vec::new(),
        bad_digits: Vec::new(),
        typo: false,
    };
    let mut matched_captures: HashSet<(SlotKind, usize)> = HashSet::new();
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        match back[i][j] {
            Step::Start => break,
            Step::Insert => j -= 1,
            Step::Delete => i -= 1,
            Step::Match => {
                match &c.items[i - 1] {
                    CItem::Word { word, capture } => {
                        if let Some(cap) = capture {
                            matched_captures.insert(*cap);
                        }
                        if let Tok::Word(w) = &toks[j - 1]
                            && w != word
                        {
                            a.typo = true;
                        }
                    }
                    CItem::Number(k) => {
                        if let Tok::Num { value, .. } = &toks[j - 1] {
                            let (min, max) = match language::slot_spec(*k).values {
                                SlotValues::Number { min, max } => (min as u64, max as u64),
                                _ => (0, u64::MAX),
                            };
                            if (min..=max).contains(value) {
                                a.slots.set_number(*k, *value as u32);
                            } else {
                                a.out_of_range.push((*k, *value));
                            }
                        }
                    }
                    CItem::Digits(_) => {}
                }
                i -= 1;
                j -= 1;
            }
            Step::Span(len) => {
                if let CItem::Digits(k) = &c.items[i - 1] {
                    let digits: String = toks[j - len..j]
                        .iter()
                        .filter_map(|t| match t {
                            Tok::Num { digits, .. } => Some(digits.as_str()),
                            Tok::Word(_) => None,
                        })
                        .collect();
                    let (min_len, max_len) = match language::slot_spec(*k).values {
                        SlotValues::Digits { min_len, max_len } => (min_len, max_len),
                        _ => (0, usize::MAX),
                    };
                    if (min_len..=max_len).contains(&digits.len()) {
                        a.slots.patient_id = Some(digits);
                    } else {
                        a.bad_digits.push((*k, digits.len()));
                    }
                }
                i -= 1;
                j -= len;
            }
        }
    }
    for (k, idx) in matched_captures {
        a.slots.set_word(k, idx);
    }
    a
}

/// The canonical sentence of a compiled pattern with the slot values found (or examples).
fn sentence(c: &Compiled, slots: &SlotValuesFound) -> String {
    let mut words = Vec::new();
    for it in &c.items {
        match it {
            CItem::Word { word, .. } => words.push(word.clone()),
            CItem::Number(k) => {
                let v = match k {
                    SlotKind::Ward => slots.ward,
                    SlotKind::Bed => slots.bed,
                    SlotKind::Room => slots.room,
                    _ => None,
                };
                words.push(match v {
                    Some(v) => v.to_string(),
                    None => match language::slot_spec(*k).values {
                        SlotValues::Number { min, max } => ((min + max) / 2).to_string(),
                        _ => String::new(),
                    },
                });
            }
            CItem::Digits(_) => words.push(slots.patient_id.clone().unwrap_or("4711".into())),
        }
    }
    words.join(" ")
}

/// A candidate parse.
struct Candidate {
    index: usize,
    alignment: Alignment,
}

/// Understands a sentence (English, or Chinese; see the module docs).
pub fn parse(text: &str) -> Understanding {
    let not = |reason: &str, suggestions: Vec<String>| Understanding::NotUnderstood {
        reason: reason.to_string(),
        suggestions,
    };
    let toks = normalize(text);
    if toks.is_empty() {
        return not("nothing was said", vec![]);
    }
    if toks.len() > MAX_TOKENS {
        // A stop is obeyed however long the sentence.
        if toks
            .iter()
            .any(|t| matches!(t, Tok::Word(w) if STOP_WORDS.contains(&w.as_str())))
        {
            return stop_understood();
        }
        return not(
            &format!(
                "that is too long for a command ({} words; at most {MAX_TOKENS})",
                toks.len()
            ),
            vec![],
        );
    }
    if toks
        .iter()
        .any(|t| matches!(t, Tok::Word(w) if STOP_WORDS.contains(&w.as_str())))
    {
        return stop_understood();
    }
    if toks.iter().all(is_filler) {
        return not("I heard no command", suggestions_for(&toks, None));
    }

    // The cheapest alignment per command.
    let all = compiled();
    let mut best: HashMap<CommandKind, Candidate> = HashMap::new();
    for (index, c) in all.iter().enumerate() {
        let alignment = align(c, &toks);
        let better = best
            .get(&c.kind)
            .is_none_or(|b| alignment.cost < b.alignment.cost);
        if better {
            best.insert(c.kind, Candidate { index, alignment });
        }
    }
    let mut ranked: Vec<Candidate> = best.into_values().collect();
    ranked.sort_by(|a, b| {
        a.alignment
            .cost
            .total_cmp(&b.alignment.cost)
            .then(all[a.index].kind.cmp(&all[b.index].kind))
    });
    let top = &ranked[0];
    let kind = all[top.index].kind;
    let cost = top.alignment.cost;
    let confidence = 1.0 / (1.0 + cost);
    let suggestions = |ranked: &[Candidate]| -> Vec<String> {
        ranked
            .iter()
            .take(3)
            .map(|c| sentence(&all[c.index], &c.alignment.slots))
            .collect()
    };

    if confidence < MIN_CONFIDENCE {
        return not("I did not understand that", suggestions(&ranked));
    }
    let has = |words: &[&str]| {
        toks.iter()
            .any(|t| matches!(t, Tok::Word(w) if words.contains(&w.as_str())))
    };
    if has(NEGATIONS) && kind != CommandKind::Cancel {
        return not(
            "I do not act on a negated command; say what you want me to do",
            suggestions(&ranked),
        );
    }
    if kind == CommandKind::Confirm {
        // The X-ray confirmation: the exact word, alone, never with "cancel".
        if has(&["cancel"]) {
            return cancel_understood();
        }
        let only_fillers = toks.iter().all(|t| {
            is_filler(t) || matches!(t, Tok::Word(w) if EXACT_WORDS.contains(&w.as_str()))
        });
        if !has(EXACT_WORDS) || !only_fillers || top.alignment.typo {
            return not(
                "to confirm, say only the word confirm",
                vec!["confirm".into(), "cancel".into()],
            );
        }
    }
    if let Some(second) = ranked.get(1) {
        let second_kind = all[second.index].kind;
        if second_kind != kind && second.alignment.cost - cost < 0.25 {
            return not(
                &format!("that could mean {} or {}", kind.name(), second_kind.name()),
                suggestions(&ranked),
            );
        }
    }
    if let Some((k, v)) = top.alignment.out_of_range.first() {
        let spec = language::slot_spec(*k);
        if let SlotValues::Number { min, max } = spec.values {
            return not(
                &format!(
                    "there is no {} {v}: {}s go from {min} to {max}",
                    spec.name, spec.name
                ),
                suggestions(&ranked),
            );
        }
    }
    if let Some((k, len)) = top.alignment.bad_digits.first()
        && let SlotValues::Digits { min_len, max_len } = language::slot_spec(*k).values
    {
        return not(
            &format!("a patient ID has {min_len} to {max_len} digits, I heard {len}"),
            vec![],
        );
    }
    match Command::from_slots(kind, &top.alignment.slots) {
        Some(command) => Understanding::Understood(Parsed {
            command,
            confidence,
            matched: sentence(&all[top.index], &top.alignment.slots),
        }),
        None => not("a part of that command is missing", suggestions(&ranked)),
    }
}

fn stop_understood() -> Understanding {
    Understanding::Understood(Parsed {
        command: Command::Stop,
        confidence: 1.0,
        matched: "stop".into(),
    })
}

fn cancel_understood() -> Understanding {
    Understanding::Understood(Parsed {
        command: Command::Cancel,
        confidence: 1.0,
        matched: "cancel".into(),
    })
}

fn suggestions_for(_toks: &[Tok], _kind: Option<CommandKind>) -> Vec<String> {
    ["help", "status", "go to ward 3 bed 12"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{BodyPart, Destination, Protocol, Topic};
    use proptest::prelude::*;

    fn cmd(text: &str) -> Command {
        match parse(text) {
            Understanding::Understood(p) => p.command,
            other => panic!("{text:?} not understood: {other:?}"),
        }
    }

    fn not_understood(text: &str) -> (String, Vec<String>) {
        match parse(text) {
            Understanding::NotUnderstood {
                reason,
                suggestions,
            } => (reason, suggestions),
            other => panic!("{text:?} understood: {other:?}"),
        }
    }

    fn ward(w: u32, b: Option<u32>) -> Command {
        Command::Go(Destination::Ward { ward: w, bed: b })
    }

    #[test]
    fn tokens_and_numbers() {
        assert_eq!(
            tokenize("Go to Ward3, bed #12!"),
            ["go", "to", "ward", "3", "bed", "12"]
        );
        assert_eq!(tokenize("don't"), ["don't"]);
        let n = numbers(&tokenize(
            "twenty one four seven oh one three hundred twelve",
        ));
        let values: Vec<u64> = n
            .iter()
            .filter_map(|t| match t {
                Tok::Num { value, .. } => Some(*value),
                _ => None,
            })
            .collect();
        assert_eq!(values, [21, 4, 7, 0, 1, 312]);
        assert_eq!(numbers(&tokenize("oh")), [Tok::Word("oh".into())]);
        assert_eq!(
            numbers(&tokenize("0471")),
            [Tok::Num {
                value: 471,
                digits: "0471".into()
            }]
        );
    }

    #[test]
    fn the_issue_example_and_politeness() {
        assert_eq!(
            cmd("could you please go to ward three, bed twelve"),
            ward(3, Some(12))
        );
        assert_eq!(cmd("go to ward 3 bed 12"), ward(3, Some(12)));
        assert_eq!(cmd("Um, go to ward three please"), ward(3, None));
        assert_eq!(cmd("drive to room 42"), Command::Go(Destination::Room(42)));
        assert_eq!(cmd("head over to ward twenty"), ward(20, None));
        assert_eq!(cmd("ward 7 bed 30"), ward(7, Some(30)));
        assert_eq!(cmd("go to bed 4 in ward 2"), ward(2, Some(4)));
        assert_eq!(cmd("return to the dock"), Command::Go(Destination::Dock));
        assert_eq!(
            cmd("go back to the charging station"),
            Command::Go(Destination::Dock)
        );
    }

    #[test]
    fn scans_with_synonyms_and_any_order() {
        let scan = |b, p| Command::Scan {
            body_part: b,
            protocol: p,
        };
        use BodyPart::*;
        use Protocol::*;
        assert_eq!(cmd("scan the chest"), scan(Some(Chest), None));
        assert_eq!(
            cmd("scan the head low dose"),
            scan(Some(Head), Some(LowDose))
        );
        assert_eq!(
            cmd("please scan the abdomen with sparse view"),
            scan(Some(Abdomen), Some(SparseView))
        );
        assert_eq!(
            cmd("I need a low-dose CT of the brain"),
            scan(Some(Head), Some(LowDose))
        );
        assert_eq!(
            cmd("chest scan, standard dose"),
            scan(Some(Chest), Some(Standard))
        );
        assert_eq!(cmd("low dose chest scan"), scan(Some(Chest), Some(LowDose)));
        assert_eq!(cmd("x-ray the lungs"), scan(Some(Chest), None));
        assert_eq!(cmd("scan"), scan(None, None));
        assert_eq!(cmd("the belly"), scan(Some(Abdomen), None));
        assert_eq!(cmd("sparse"), scan(None, Some(SparseView)));
        assert_eq!(cmd("scna the chets"), scan(Some(Chest), None), "typos");
    }

    #[test]
    fn what_radiographers_and_nurses_say() {
        let scan = |b, p| Command::Scan {
            body_part: b,
            protocol: p,
        };
        use BodyPart::*;
        use Protocol::*;
        // "head" is a spoken body-part word; "brain" still works.
        assert_eq!(cmd("scan the head"), scan(Some(Head), None));
        assert_eq!(cmd("scan the brain"), scan(Some(Head), None));
        assert_eq!(cmd("head"), scan(Some(Head), None));
        assert_eq!(cmd("head ct"), scan(Some(Head), None));
        assert_eq!(cmd("ct head low dose"), scan(Some(Head), Some(LowDose)));
        assert_eq!(cmd("CT of the chest"), scan(Some(Chest), None));
        assert_eq!(
            cmd("abdomen scan standard dose"),
            scan(Some(Abdomen), Some(Standard))
        );
        // "head to" is still a way of saying "go to".
        assert_eq!(cmd("head to ward five"), ward(5, None));
        assert_eq!(cmd("cancel that"), Command::Cancel);
        assert_eq!(cmd("cancel the scan"), Command::Cancel);
        assert_eq!(cmd("say again"), Command::Repeat);
        assert_eq!(cmd("upload the images"), Command::Upload);
        assert_eq!(cmd("go back to the dock"), Command::Go(Destination::Dock));
        match cmd("hospital number four seven one one") {
            Command::Verify { patient_id } => assert_eq!(patient_id.expose(), "4711"),
            other => panic!("{other:?}"),
        }
        // "abort" is a stop in text (the safe reading) and is not a spoken word.
        assert_eq!(cmd("abort"), Command::Stop);
        assert!(!language::grammar_vocabulary().contains("abort"));
    }

    #[test]
    fn status_and_the_rest() {
        assert_eq!(cmd("where are you?"), Command::Status(Topic::Location));
        assert_eq!(
            cmd("what's the battery level"),
            Command::Status(Topic::Battery)
        );
        assert_eq!(cmd("how long will it take"), Command::Status(Topic::Time));
        assert_eq!(cmd("status"), Command::Status(Topic::General));
        assert_eq!(cmd("upload the results"), Command::Upload);
        assert_eq!(cmd("say that again"), Command::Repeat);
        assert_eq!(cmd("what can I say"), Command::Help);
        assert_eq!(cmd("pause"), Command::Pause);
        assert_eq!(cmd("hold on"), Command::Pause);
        assert_eq!(cmd("continue"), Command::Resume);
        assert_eq!(cmd("cancel"), Command::Cancel);
        assert_eq!(cmd("never mind"), Command::Cancel);
        assert_eq!(cmd("no"), Command::Cancel);
        match cmd("patient number four seven one one") {
            Command::Verify { patient_id } => assert_eq!(patient_id.expose(), "4711"),
            other => panic!("{other:?}"),
        }
        match cmd("patient ID 0471-22") {
            Command::Verify { patient_id } => assert_eq!(patient_id.expose(), "047122"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stop_wins_everywhere() {
        for t in [
            "stop",
            "STOP!",
            "stop stop stop",
            "please stop the scan now",
            "emergency",
            "halt",
            "don't stop",
            "scan the chest no wait stop",
            "confirm stop",
        ] {
            let u = parse(t);
            assert_eq!(u.command(), Some(&Command::Stop), "{t}");
            if let Understanding::Understood(p) = u {
                assert_eq!(p.confidence, 1.0);
            }
        }
        let long = format!("{} stop", "blah ".repeat(200));
        assert_eq!(parse(&long).command(), Some(&Command::Stop));
    }

    #[test]
    fn confirm_is_strict() {
        assert_eq!(cmd("confirm"), Command::Confirm);
        assert_eq!(cmd("Confirm."), Command::Confirm);
        assert_eq!(cmd("yes, I confirm"), Command::Confirm);
        assert_eq!(cmd("confirmed please"), Command::Confirm);
        for t in [
            "confrim",
            "conform",
            "yes",
            "ok go ahead",
            "start",
            "confirm banana",
            "don't confirm",
            "do not confirm",
        ] {
            assert_ne!(parse(t).command(), Some(&Command::Confirm), "{t}");
        }
        assert_eq!(cmd("confirm cancel"), Command::Cancel);
        let (reason, sugg) = not_understood("confirm banana");
        assert!(reason.contains("confirm"), "{reason}");
        assert!(sugg.contains(&"confirm".to_string()));
    }

    #[test]
    fn bad_text_is_not_understood_with_reasons() {
        let (r, _) = not_understood("");
        assert_eq!(r, "nothing was said");
        let (r, _) = not_understood("   ,,, !!! ");
        assert_eq!(r, "nothing was said");
        let (r, s) = not_understood("asdf qwer zxcv");
        assert!(r.contains("did not understand"), "{r}");
        assert_eq!(s.len(), 3);
        let (r, _) = not_understood("please um");
        assert!(r.contains("no command"), "{r}");
        let (r, _) = not_understood("go to ward 57");
        assert!(r.contains("no ward 57") && r.contains("1 to 20"), "{r}");
        let (r, _) = not_understood("don't scan the chest");
        assert!(r.contains("negated"), "{r}");
        let (r, _) = not_understood(&"blah ".repeat(100));
        assert!(r.contains("too long"), "{r}");
        let (r, _) = not_understood("patient number 12");
        assert!(r.contains("3 to 10 digits"), "{r}");
    }

    /// Issue 11 (found with the `dialogue_text` fuzz target): one very long word cost an edit
    /// distance table of its length for every pattern word, so 60000 letters took 2 minutes
    /// in the fuzzer's build, and these inputs some 20 s in the test build.
    #[test]
    fn one_very_long_word_is_refused_quickly() {
        let start = std::time::Instant::now();
        assert!(parse(&"a".repeat(400_000)).command().is_none());
        // The long word is no word of the language: the command around it stands.
        let scan = parse(&format!("scan the {}", "head".repeat(100_000)));
        assert!(matches!(scan.command(), Some(Command::Scan { .. })));
        // Milliseconds now.
        assert!(start.elapsed().as_secs_f64() < 5.0, "{:?}", start.elapsed());
    }

    #[test]
    fn suggestions_point_to_the_closest_command() {
        let (_, s) = not_understood("go to the cafeteria");
        assert!(s[0].starts_with("go to"), "{s:?}");
        // An unknown body part is not guessed: the scan comes back without one (the dialogue
        // then asks which of the three it is), at a lower confidence.
        match parse("scan the knee") {
            Understanding::Understood(p) => {
                assert_eq!(
                    p.command,
                    Command::Scan {
                        body_part: None,
                        protocol: None
                    }
                );
                assert!(p.confidence < 1.0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn confidence_drops_with_noise_words() {
        let c = |t: &str| match parse(t) {
            Understanding::Understood(p) => p.confidence,
            _ => 0.0,
        };
        assert_eq!(c("scan the chest"), 1.0);
        assert_eq!(c("could you please scan the chest"), 1.0);
        assert!(c("scan the chest zorblax") < 1.0);
        assert!(c("scan the chest zorblax") >= MIN_CONFIDENCE);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        #[test]
        fn random_text_never_panics_and_never_confirms_by_accident(s in "\\PC{0,200}") {
            let u = parse(&s);
            if u.command() == Some(&Command::Confirm) {
                // Only a sentence holding the exact word may confirm.
                let toks = tokenize(&s);
                prop_assert!(toks.iter().any(|t| t == "confirm" || t == "confirmed"), "{s:?}");
            }
        }

        #[test]
        fn random_words_of_the_language_never_confirm_without_the_word(
            words in proptest::collection::vec(proptest::sample::select(word_pool()), 0..12)
        ) {
            let s = words.join(" ");
            let u = parse(&s);
            if !words.iter().any(|w| w.starts_with("confirm")) {
                prop_assert_ne!(u.command(), Some(&Command::Confirm), "{}", s);
            }
            if let Understanding::Understood(p) = &u {
                prop_assert!(p.confidence >= MIN_CONFIDENCE && p.confidence <= 1.0);
            }
        }
    }

    fn word_pool() -> Vec<String> {
        let mut v: Vec<String> = vocabulary().iter().cloned().collect();
        v.extend(FILLERS.iter().map(|s| s.to_string()));
        v.extend(
            [
                "confirmm", "conf", "firm", "yes", "ok", "3", "twelve", "don't", "stop",
            ]
            .map(String::from),
        );
        v.sort();
        v
    }
}
