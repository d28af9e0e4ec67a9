//! Cuts a file's text into paragraphs and leaves out what is not one.
//!
//! Boundaries follow the source: a blank line ends a paragraph; a heading
//! (a short line that does not end like a sentence, or one the format marks)
//! joins the text under it, and a run of headings stays with the section it
//! opens. List markers and emphasis are taken off the text shown.
//!
//! Junk is told by evidence rather than by word lists: a line repeated
//! across files of the input is site chrome, in any language; a breadcrumb
//! trail, a previous/next line and a byline (a date among labelled fields)
//! are told by their shape. A short list of phrases stays as a last signal,
//! only for whole short lines. Each piece left out is counted by reason and
//! listed with its file and line at `-v`.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::SkipReason;

/// Shortest paragraph kept, in Latin-letter equivalents (see [`weighted_length`]).
pub const MIN_PARAGRAPH_WEIGHT: usize = 40;
/// Units shorter than this that do not end like a sentence can be headings.
const HEADING_WEIGHT: usize = 100;
/// A heading this short, without a comma, joins its section across a blank
/// line; a longer one only the text directly under it.
const TITLE_WEIGHT: usize = 60;
/// Shape and phrase rules apply to lines shorter than this (in characters).
const SHORT_LINE_CHARS: usize = 100;
/// A line found in this many files of the input is site chrome.
const BOILERPLATE_FILES: usize = 3;
/// Starts a line the markup marks as a heading (HTML h1–h6, Markdown #).
pub const HEADING_MARK: char = '\u{1e}';

/// Length in Latin-letter equivalents: a Han or kana character carries about
/// as much as three Latin letters, a Hangul syllable about two.
pub fn weighted_length(text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c as u32 {
            0x3040..=0x30FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xF900..=0xFAFF
            | 0xFF66..=0xFF9F => 3,
            0xAC00..=0xD7AF => 2,
            _ => 1,
        })
        .sum()
}

fn ends_like_a_sentence(text: &str) -> bool {
    text.trim_end()
        .chars()
        .last()
        .is_some_and(|c| ".!?。！？…\"”»'’)）".contains(c))
}

fn ends_with_colon(text: &str) -> bool {
    text.trim_end().ends_with([':', '：'])
}

/// A line's identity for spotting repeats: lower case, digits as 0, runs of
/// anything but letters and digits as one space (dates and counters vary).
fn fingerprint(line: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in line.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(if c.is_numeric() { '0' } else { c });
        } else {
            gap = true;
        }
    }
    out
}

/// Lines repeated across the files of the input: the evidence of site
/// chrome (menus, bylines, "Leave a Reply"), whatever the language.
#[derive(Debug, Default)]
pub struct Boilerplate {
    lines: HashSet<String>,
}

impl Boilerplate {
    /// Finds the short lines that stand in [`BOILERPLATE_FILES`] or more of
    /// `files`' texts, where copies of one article (the same file given
    /// twice, a syndicated story) count once: repeating an article is no
    /// evidence that its title is site chrome.
    pub fn find(files: &[&str]) -> Self {
        let groups = copy_groups(files);
        let mut groups_with: HashMap<String, HashSet<usize>> = HashMap::new();
        for (text, group) in files.iter().zip(groups) {
            let distinct: HashSet<String> = text
                .lines()
                .map(|l| l.trim().trim_start_matches(HEADING_MARK))
                .filter(|l| !l.is_empty() && l.chars().count() < SHORT_LINE_CHARS)
                .map(fingerprint)
                .filter(|f| !f.is_empty())
                .collect();
            for line in distinct {
                groups_with.entry(line).or_default().insert(group);
            }
        }
        Self {
            lines: groups_with
                .into_iter()
                .filter(|(_, groups)| groups.len() >= BOILERPLATE_FILES)
                .map(|(line, _)| line)
                .collect(),
        }
    }

    fn contains(&self, line: &str) -> bool {
        line.chars().count() < SHORT_LINE_CHARS && self.lines.contains(&fingerprint(line))
    }
}

/// For each file, the first file it is a copy of (itself where none):
/// a copy shares at least half of its long lines with the earlier file, or,
/// without long lines, its whole text.
fn copy_groups(files: &[&str]) -> Vec<usize> {
    let mut owner: HashMap<String, usize> = HashMap::new();
    let mut groups = Vec::with_capacity(files.len());
    for (i, text) in files.iter().enumerate() {
        let mut long: HashSet<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.chars().count() >= SHORT_LINE_CHARS)
            .map(fingerprint)
            .collect();
        if long.is_empty() {
            long.insert(fingerprint(text));
        }
        let mut shared: HashMap<usize, usize> = HashMap::new();
        for line in &long {
            if let Some(&file) = owner.get(line) {
                *shared.entry(file).or_default() += 1;
            }
        }
        let copy_of = shared
            .into_iter()
            .filter(|&(_, n)| 2 * n >= long.len())
            .max_by_key(|&(file, n)| (n, std::cmp::Reverse(file)))
            .map(|(file, _)| groups[file]);
        groups.push(copy_of.unwrap_or(i));
        for line in long {
            owner.entry(line).or_insert(i);
        }
    }
    groups
}

/// Phrases that make a whole short line navigation: calls to act on the
/// page, never a punctuation mark or a common word.
const MARKERS: [&str; 24] = [
    "leave a reply",
    "leave a comment",
    "write a comment",
    "add a comment",
    "post a comment",
    "new call to action",
    "read more",
    "learn more about",
    "share this",
    "click here",
    "back to top",
    "source link",
    "skip to content",
    "all rights reserved",
    "上一篇",
    "下一篇",
    "返回列表",
    "当前位置",
    "השאר תגובה",
    "כתוב תגובה",
    "dodaj komentarz",
    "czytaj więcej",
    "weiterlesen",
    "lire la suite",
];

/// Whether a whole line is navigation: a breadcrumb trail, a byline, or a
/// short line with one of the [`MARKERS`].
fn is_navigation(line: &str) -> bool {
    if line.chars().count() >= SHORT_LINE_CHARS {
        return false;
    }
    let lower = line.to_lowercase();
    MARKERS.iter().any(|m| lower.contains(m)) || is_breadcrumb(line) || is_byline(line)
}

/// "Home > News > Business": three or more short steps between arrows, or
/// two after a label ("You are here: Home > News").
fn is_breadcrumb(line: &str) -> bool {
    let steps: Vec<&str> = line.split(['>', '»', '›', '→']).map(str::trim).collect();
    let short = steps
        .iter()
        .all(|s| !s.is_empty() && s.chars().count() <= 25);
    short && (steps.len() >= 3 || (steps.len() == 2 && ends_with_colon_label(steps[0])))
}

fn ends_with_colon_label(step: &str) -> bool {
    step.contains([':', '：'])
}

/// "Posted 2023-12-05 | Source: … Author: …": a date among labelled fields.
fn is_byline(line: &str) -> bool {
    let date = regex_date().is_match(line);
    let fields = line.matches([':', '：']).count() + line.matches('|').count();
    date && fields >= 2
}

fn regex_date() -> &'static regex::Regex {
    static DATE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    DATE.get_or_init(|| {
        regex::Regex::new(r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}").expect("valid regex")
    })
}

/// The text shown for a line: list markers and emphasis taken off.
fn clean(line: &str) -> String {
    let list_marker = regex_list_marker();
    let line = list_marker.replace(line, "");
    line.replace("**", "").replace("__", "")
}

fn regex_list_marker() -> &'static regex::Regex {
    static MARKER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    MARKER.get_or_init(|| {
        regex::Regex::new(r"^\s*(?:[-*+•·▪◦‣]|\d{1,3}[.)])\s+").expect("valid regex")
    })
}

/// One line (or hard-wrapped block) of the source, with where it starts.
struct Unit {
    line: usize,
    text: String,
    /// The markup marks it as a heading, or it is a short sentence: either
    /// way it goes with the text after it, across a blank line too.
    marked_heading: bool,
    /// A blank line separates it from the unit before.
    after_blank: bool,
}

/// Blank-line separated blocks of (line number, whitespace-normalized line).
fn blocks(text: &str) -> Vec<Vec<(usize, String)>> {
    let mut blocks = vec![Vec::new()];
    for (i, line) in text.lines().enumerate() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        match (line.is_empty(), blocks.last_mut()) {
            (true, Some(last)) if !last.is_empty() => blocks.push(Vec::new()),
            (false, Some(last)) => last.push((i + 1, line)),
            _ => {}
        }
    }
    blocks.retain(|b| !b.is_empty());
    blocks
}

/// A block whose lines are hard-wrapped prose is one unit; otherwise each
/// line is a unit of its own.
fn block_units(block: Vec<(usize, String)>) -> Vec<Unit> {
    let lines: Vec<&String> = block.iter().map(|(_, l)| l).collect();
    let wrapped = lines.len() > 1
        && lines[..lines.len() - 1].iter().all(|l| {
            weighted_length(l) >= 50 && !ends_like_a_sentence(l) && !l.starts_with(HEADING_MARK)
        });
    let unit = |(i, (line, text)): (usize, (usize, String))| Unit {
        line,
        marked_heading: text.starts_with(HEADING_MARK),
        text: text.trim_start_matches(HEADING_MARK).trim().to_string(),
        after_blank: i == 0,
    };
    if wrapped {
        let first = block[0].0;
        let text = block
            .into_iter()
            .map(|(_, l)| l)
            .collect::<Vec<_>>()
            .join(" ");
        vec![unit((0, (first, text)))]
    } else {
        block.into_iter().enumerate().map(unit).collect()
    }
}

/// Cuts a file's text into paragraphs (see the module's notes), counting
/// what is left out in `skipped` and listing it at debug level.
pub fn split_paragraphs(
    text: &str,
    file: &str,
    boilerplate: &Boilerplate,
    skipped: &mut BTreeMap<SkipReason, usize>,
) -> Vec<String> {
    let mut leave_out = |unit: &Unit, reason: SkipReason| {
        tracing::debug!("{file}:{}: left out ({reason:?}): {}", unit.line, unit.text);
        *skipped.entry(reason).or_default() += 1;
    };
    let mut paragraphs = Vec::new();
    let mut headings: Vec<Unit> = Vec::new();
    for unit in blocks(text).into_iter().flat_map(block_units) {
        if boilerplate.contains(&unit.text) {
            leave_out(&unit, SkipReason::Boilerplate);
            continue;
        }
        if is_navigation(&unit.text) {
            leave_out(&unit, SkipReason::Navigation);
            continue;
        }
        let unit = Unit {
            text: clean(&unit.text),
            ..unit
        };
        if unit.after_blank {
            if let Some(alone) = untitled_lines(&mut headings) {
                push_paragraph(alone, &mut paragraphs, &mut leave_out);
            }
        }
        let weight = weighted_length(&unit.text);
        let sentence = ends_like_a_sentence(&unit.text) || ends_with_colon(&unit.text);
        let heading_like = unit.marked_heading || (weight < HEADING_WEIGHT && !sentence);
        // A sentence too short to stand alone ("Yes, you're not mistaken.")
        // goes with the paragraph it introduces, as a heading does.
        if heading_like || weight < MIN_PARAGRAPH_WEIGHT {
            headings.push(Unit {
                marked_heading: unit.marked_heading || sentence,
                ..unit
            });
            continue;
        }
        let paragraph = Unit {
            text: headings
                .drain(..)
                .map(|h| h.text)
                .chain(std::iter::once(unit.text))
                .collect::<Vec<_>>()
                .join("\n"),
            ..unit
        };
        push_paragraph(paragraph, &mut paragraphs, &mut leave_out);
    }
    // Short sentences at the end close the last paragraph; headings with no
    // section under them are no paragraph.
    for unit in headings {
        match paragraphs.last_mut() {
            Some(last) if ends_like_a_sentence(&unit.text) => {
                last.push('\n');
                last.push_str(&unit.text);
            }
            _ => leave_out(&unit, SkipReason::TooShort),
        }
    }
    paragraphs
}

/// A heading joins its section across a blank line only when it is
/// title-like; pending lines ending in a longer line without a full stop
/// are taken out as a paragraph of their own.
fn untitled_lines(pending: &mut Vec<Unit>) -> Option<Unit> {
    let last = pending.last()?;
    let title_like = last.marked_heading
        || (weighted_length(&last.text) < TITLE_WEIGHT && !last.text.contains([',', '，', '、']));
    if title_like {
        return None;
    }
    let line = pending[0].line;
    let text = pending
        .drain(..)
        .map(|h| h.text)
        .collect::<Vec<_>>()
        .join("\n");
    Some(Unit {
        line,
        text,
        marked_heading: false,
        after_blank: true,
    })
}

fn push_paragraph(
    unit: Unit,
    paragraphs: &mut Vec<String>,
    leave_out: &mut impl FnMut(&Unit, SkipReason),
) {
    if weighted_length(&unit.text) < MIN_PARAGRAPH_WEIGHT {
        leave_out(&unit, SkipReason::TooShort);
    } else {
        paragraphs.push(unit.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> (Vec<String>, BTreeMap<SkipReason, usize>) {
        let mut skipped = BTreeMap::new();
        let paragraphs = split_paragraphs(text, "test.txt", &Boilerplate::default(), &mut skipped);
        (paragraphs, skipped)
    }

    #[test]
    fn one_paragraph_per_line_with_headings_attached() {
        let text = "Why Small Business Owners Should Care\n\
                    For small business owners, recognizing the tension between operations and strategy is key.\n\
                    Another paragraph that is long enough to be kept as its own paragraph here.\n";
        let (paragraphs, _) = split(text);
        assert_eq!(paragraphs.len(), 2);
        assert!(paragraphs[0].starts_with("Why Small Business Owners Should Care\nFor small"));
    }

    #[test]
    fn a_run_of_headings_stays_with_its_section_and_short_sentences_are_kept() {
        let text = "5 סיבות CMOS לעזוב או להתמודד עם אתחול\n1. התפקיד השתנה\n\
                    לפני עשור, רוב CMOS ראה את עצמם כמו שגריר המותג ואת שומר הסיפור.\n\n\
                    Yes, you are not mistaken.\n\n\
                    Imagine that your company appears for a few minutes on a national TV show.\n";
        let (paragraphs, skipped) = split(text);
        assert_eq!(
            paragraphs,
            vec![
                "5 סיבות CMOS לעזוב או להתמודד עם אתחול\nהתפקיד השתנה\nלפני עשור, רוב CMOS ראה את עצמם כמו שגריר המותג ואת שומר הסיפור.",
                "Yes, you are not mistaken.\nImagine that your company appears for a few minutes on a national TV show."
            ]
        );
        assert!(skipped.is_empty(), "{skipped:?}");
    }

    #[test]
    fn a_long_line_without_a_full_stop_does_not_swallow_the_next_paragraph() {
        let text = "Date of the last password change, expressed as the number of days since Jan 1, 1970\n\n\
                    The maximum number of days the password is valid, after which the user must change it.\n\n\
                    Initialize and activate swap (substitute the partition number for your swap partition):\n\n\
                    Because no network card was detected earlier, the installer will ask you to select a driver.\n";
        let (paragraphs, _) = split(text);
        assert_eq!(paragraphs.len(), 4, "{paragraphs:?}");
    }

    #[test]
    fn junk_is_told_by_its_shape_and_counted() {
        let text = "Yes, you are not mistaken.\n\n\
                    Imagine that your company appears for a few minutes on a national TV show with millions of viewers.\n\n\
                    New call to action\n\nSource link\n\nLeave a Reply\n\nAdd Row\n\n\
                    Home > Business > Marketing\n\n\
                    Posted 2023-12-05 | Source: Wire | Author: Staff\n";
        let (paragraphs, skipped) = split(text);
        assert_eq!(paragraphs.len(), 1, "{paragraphs:?}");
        assert_eq!(skipped[&SkipReason::Navigation], 5);
        assert_eq!(skipped[&SkipReason::TooShort], 1);
    }

    #[test]
    fn ordinary_words_and_quotation_marks_are_not_navigation() {
        for line in [
            "La section « Stocks » du rapport suivant montre plus de stocks.",
            "The previous quarter was weak; the next one looks better.",
            "Wir kommen zurück zu den Kosten der Umstellung im Mittelstand.",
        ] {
            assert!(!is_navigation(line), "{line}");
        }
    }

    #[test]
    fn lines_repeated_across_files_are_boilerplate() {
        let footer = "© 2025 Example Media · Imprint · Privacy";
        let files = [
            format!("First article text that is long.\n{footer}\n"),
            "Second article text.\n© 2024 Example Media · Imprint · Privacy\n".to_string(),
            format!("Third article.\n{footer}\n"),
        ];
        let texts: Vec<&str> = files.iter().map(String::as_str).collect();
        let boilerplate = Boilerplate::find(&texts);
        assert!(boilerplate.contains(footer));
        assert!(!boilerplate.contains("First article text that is long."));
    }

    #[test]
    fn copies_of_one_article_are_no_evidence_of_boilerplate() {
        let body = "A long paragraph of the article, which every copy of it carries word for \
                    word, whatever site or folder it was saved from, and so on at length.";
        let copy = |chrome: &str| format!("The article's title\n{body}\n{chrome}\n");
        let files = [copy("Site one"), copy("Site two"), copy("Site three")];
        let texts: Vec<&str> = files.iter().map(String::as_str).collect();
        assert!(!Boilerplate::find(&texts).contains("The article's title"));
        let footer = "© 2025 Example Media · Imprint · Privacy";
        let others = [
            format!(
                "{}\n{footer}\n",
                "First article, long enough to count as a body line. ".repeat(3)
            ),
            format!(
                "{}\n{footer}\n",
                "Second article, long enough to count as a body line. ".repeat(3)
            ),
            format!(
                "{}\n{footer}\n",
                "Third article, long enough to count as a body line. ".repeat(3)
            ),
        ];
        let texts: Vec<&str> = others.iter().map(String::as_str).collect();
        assert!(Boilerplate::find(&texts).contains(footer));
    }

    #[test]
    fn chinese_is_measured_by_what_it_says() {
        assert!(
            weighted_length("客户体验是新的战场，企业需要进行文化改革。") >= MIN_PARAGRAPH_WEIGHT
        );
        assert!(weighted_length("Customer experience is new.") < MIN_PARAGRAPH_WEIGHT);
        let (paragraphs, skipped) = split("业务中心\n您的当前位置是:首页 > 业务中心\n\u{3000}\u{3000}客户体验是新的战场，企业需要进行文化改革，反映这一新的客户关注点。\n上一篇:独家新闻 下一篇:cmo是啥意思\n");
        assert_eq!(
            paragraphs,
            vec!["业务中心\n客户体验是新的战场，企业需要进行文化改革，反映这一新的客户关注点。"]
        );
        assert_eq!(skipped[&SkipReason::Navigation], 2);
    }

    #[test]
    fn hard_wrapped_blocks_are_one_paragraph() {
        let text = "This paragraph was wrapped by an editor at a fixed width, so its lines\n\
                    continue one another and must be read as a single paragraph of text.\n\n\
                    A second paragraph stands after the blank line and is long enough.\n";
        let (paragraphs, _) = split(text);
        assert_eq!(paragraphs.len(), 2, "{paragraphs:?}");
        assert!(paragraphs[0].ends_with("single paragraph of text."));
    }
}
