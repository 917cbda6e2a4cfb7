//! Chinese text input: Mandarin sentences are rewritten into the language's English words,
//! then understood by the same parser, so both languages share one set of patterns.
//!
//! Chinese has no spaces, so the text is segmented by longest match against a small lexicon:
//! the `zh` words of every slot value in [`crate::language`] plus the command words below.
//! Chinese numerals become numbers (十二 -> 12, 二十一 -> 21, 一百零五 -> 105; a run of bare
//! digits such as 四七一一 is read digit by digit, as IDs are); and because Chinese puts the
//! number before the unit (三号病房, "number three ward"), a number followed by 病房, 床 or 房间
//! is reordered after it. Characters outside the lexicon become one unknown word per run,
//! which the parser tolerates at a small cost like any unknown English word.
//!
//! Replies stay in English (the voice is espeak-ng's English voice); see the crate README.

use std::sync::OnceLock;

use crate::language::SLOTS;
use crate::language::SlotValues;

/// Command words and fillers, Chinese to English (slot values come from the language data).
const LEXICON: &[(&str, &str)] = &[
    // Moving.
    ("去", "go to"),
    ("到", "go to"),
    ("前往", "go to"),
    ("开到", "go to"),
    ("开去", "go to"),
    ("走到", "go to"),
    ("病房", "ward"),
    ("病区", "ward"),
    ("床位", "bed"),
    ("床", "bed"),
    ("房间", "room"),
    ("室", "room"),
    ("返回", "return to"),
    ("回到", "return to"),
    ("回去", "return to"),
    ("回", "return to"),
    ("充电站", "dock"),
    ("充电桩", "dock"),
    ("停靠站", "dock"),
    ("基站", "dock"),
    ("充电", "dock"),
    // Scanning.
    ("扫描", "scan"),
    ("扫", "scan"),
    ("拍片", "scan"),
    ("检查", "scan"),
    ("用", "with"),
    ("使用", "with"),
    ("采用", "with"),
    ("以", "with"),
    ("病人", "patient"),
    ("患者", "patient"),
    ("编号", "number"),
    ("号码", "number"),
    ("腕带号", "patient number"),
    ("病历号", "patient number"),
    ("确认", "confirm"),
    ("取消", "cancel"),
    ("算了", "never mind"),
    // Stopping and pausing.
    ("紧急停止", "emergency stop"),
    ("急停", "stop"),
    ("停止", "stop"),
    ("停下", "stop"),
    ("停", "stop"),
    ("暂停", "pause"),
    ("等一下", "hold on"),
    ("等等", "hold on"),
    ("继续", "resume"),
    ("恢复", "resume"),
    // The rest.
    ("上传", "upload"),
    ("结果", "results"),
    ("重复", "repeat"),
    ("再说一遍", "say that again"),
    ("帮助", "help"),
    ("不要", "don't"),
    ("别", "don't"),
    ("不", "don't"),
    // Fillers (no meaning for a command).
    ("请", ""),
    ("麻烦", ""),
    ("帮我", ""),
    ("你", ""),
    ("一下", ""),
    ("吧", ""),
    ("的", ""),
    ("呢", ""),
    ("吗", ""),
    ("了", ""),
    ("号", ""),
    ("和", ""),
    ("然后", ""),
    ("现在", ""),
    ("给", ""),
    ("把", ""),
    ("进行", ""),
    ("做", ""),
    ("个", ""),
    ("啊", ""),
    ("嗯", ""),
    ("好的", ""),
    ("好", ""),
];

/// Whether `text` holds Chinese characters.
pub fn has_chinese(text: &str) -> bool {
    text.chars().any(is_han)
}

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

fn lexicon() -> &'static Vec<(Vec<char>, String)> {
    static L: OnceLock<Vec<(Vec<char>, String)>> = OnceLock::new();
    L.get_or_init(|| {
        let mut v: Vec<(Vec<char>, String)> = LEXICON
            .iter()
            .map(|(z, e)| (z.chars().collect(), e.to_string()))
            .collect();
        for s in SLOTS {
            if let SlotValues::Words(values) = s.values {
                for val in values {
                    for z in val.zh {
                        v.push((z.chars().collect(), val.spoken[0].to_string()));
                    }
                }
            }
        }
        v.sort_by_key(|(z, _)| std::cmp::Reverse(z.len()));
        v
    })
}

fn numeral(c: char) -> Option<u64> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn is_numeral_char(c: char) -> bool {
    numeral(c).is_some() || c == '十' || c == '百'
}

/// The numbers in a run of Chinese numerals: one positional number when it holds 十 or 百,
/// otherwise one number per digit (IDs are read digit by digit).
fn run_numbers(run: &[char]) -> Vec<u64> {
    if !run.iter().any(|&c| c == '十' || c == '百') {
        return run.iter().filter_map(|&c| numeral(c)).collect();
    }
    let (mut total, mut current) = (0u64, 0u64);
    for &c in run {
        match c {
            '十' => {
                total += if current == 0 { 1 } else { current } * 10;
                current = 0;
            }
            '百' => {
                total += current * 100;
                current = 0;
            }
            _ => current = numeral(c).unwrap_or(0),
        }
    }
    vec![total + current]
}

const UNITS: &[&str] = &["ward", "bed", "room"];

/// Rewrites a Chinese (or mixed) sentence into English words of the language.
pub fn to_english_words(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    let mut unknown_run = false;
    let mut last_was_number = false;
    while i < chars.len() {
        let c = chars[i];
        if !is_han(c) {
            // Latin letters, digits and punctuation pass through as their own words.
            let start = i;
            while i < chars.len() && !is_han(chars[i]) {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            let s = s.replace(['，', '。', '！', '？', '、', '；', '：'], " ");
            let trimmed = s.trim();
            if !trimmed.is_empty() {
                last_was_number = trimmed.chars().all(|c| c.is_ascii_digit());
                out.push(trimmed.to_string());
            }
            unknown_run = false;
            continue;
        }
        if let Some((len, en)) = lexicon()
            .iter()
            .find(|(z, _)| chars[i..].starts_with(z))
            .map(|(z, e)| (z.len(), e.as_str()))
        {
            i += len;
            unknown_run = false;
            if en.is_empty() {
                // A filler: a number before it still counts as "just before" the unit.
                continue;
            }
            if UNITS.contains(&en) && last_was_number {
                // 三号病房 -> ward 3: move the number after its unit.
                if let Some(num) = out.pop() {
                    out.push(en.to_string());
                    out.push(num);
                    last_was_number = false;
                    continue;
                }
            }
            out.push(en.to_string());
            last_was_number = false;
            continue;
        }
        if is_numeral_char(c) {
            let start = i;
            while i < chars.len() && is_numeral_char(chars[i]) {
                i += 1;
            }
            let nums = run_numbers(&chars[start..i]);
            let single = nums.len() == 1;
            for n in nums {
                out.push(n.to_string());
            }
            last_was_number = single;
            unknown_run = false;
            continue;
        }
        // An unknown character: one unknown word per run.
        if !unknown_run {
            out.push("zhunknown".to_string());
            unknown_run = true;
        }
        last_was_number = false;
        i += 1;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{BodyPart, Command, Destination, Protocol, Topic};
    use crate::language::COMMANDS;
    use crate::parse::{Understanding, parse};

    #[test]
    fn numerals() {
        assert_eq!(run_numbers(&['十', '二']), [12]);
        assert_eq!(run_numbers(&['二', '十', '一']), [21]);
        assert_eq!(run_numbers(&['十']), [10]);
        assert_eq!(run_numbers(&['一', '百', '零', '五']), [105]);
        assert_eq!(run_numbers(&['三', '百', '一', '十', '二']), [312]);
        assert_eq!(run_numbers(&['四', '七', '一', '一']), [4, 7, 1, 1]);
        assert_eq!(run_numbers(&['两']), [2]);
    }

    #[test]
    fn rewriting() {
        assert_eq!(to_english_words("去三号病房十二床"), "go to ward 3 bed 12");
        assert_eq!(to_english_words("请到5号病房"), "go to ward 5");
        assert_eq!(to_english_words("低剂量扫描头部"), "low dose scan head");
        assert_eq!(to_english_words("再说一遍"), "say that again");
        assert!(has_chinese("扫描") && !has_chinese("scan"));
    }

    #[test]
    fn chinese_sentences_are_understood() {
        let cmd = |t: &str| match parse(t) {
            Understanding::Understood(p) => p.command,
            other => panic!("{t:?}: {other:?}"),
        };
        assert_eq!(
            cmd("去三号病房十二床"),
            Command::Go(Destination::Ward {
                ward: 3,
                bed: Some(12)
            })
        );
        assert_eq!(cmd("去12号房间"), Command::Go(Destination::Room(12)));
        assert_eq!(cmd("返回充电站"), Command::Go(Destination::Dock));
        assert_eq!(
            cmd("请用低剂量扫描胸部"),
            Command::Scan {
                body_part: Some(BodyPart::Chest),
                protocol: Some(Protocol::LowDose)
            }
        );
        assert_eq!(
            cmd("扫描腹部，标准剂量"),
            Command::Scan {
                body_part: Some(BodyPart::Abdomen),
                protocol: Some(Protocol::Standard)
            }
        );
        assert_eq!(cmd("你在哪里？"), Command::Status(Topic::Location));
        assert_eq!(cmd("还要多久"), Command::Status(Topic::Time));
        assert_eq!(cmd("停！"), Command::Stop);
        assert_eq!(cmd("确认"), Command::Confirm);
        assert_eq!(cmd("算了"), Command::Cancel);
        match cmd("病人编号四七一一") {
            Command::Verify { patient_id } => assert_eq!(patient_id.expose(), "4711"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("不要扫描胸部"),
            Understanding::NotUnderstood { .. }
        ));
        assert!(matches!(
            parse("今天天气很好"),
            Understanding::NotUnderstood { .. }
        ));
        assert_ne!(parse("不确认").command(), Some(&Command::Confirm));
    }

    #[test]
    fn every_documented_chinese_example_is_understood_as_its_command() {
        for c in COMMANDS {
            for ex in c.zh_examples {
                match parse(ex) {
                    Understanding::Understood(p) => {
                        assert_eq!(p.command.kind(), c.kind, "{ex}")
                    }
                    other => panic!("{ex}: {other:?}"),
                }
            }
        }
    }
}
