//! The words of a paragraph, as keywords and labels count them: segmented
//! per language (jieba for Chinese, script runs for Japanese, Unicode words
//! elsewhere), lower-cased, numbers and markup dropped, each language's stop
//! words dropped, then cleaned with the corpus's own evidence: a Hebrew or
//! Arabic word loses a clitic prefix where the rest is a word of the corpus,
//! and a word in a large share of one language's paragraphs says nothing.
//! Two adjacent content words also make a phrase.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use indexmap::IndexSet;
use rayon::prelude::*;
use unicode_segmentation::UnicodeSegmentation;

use crate::ingest::Paragraph;

/// A word in more than this share of one language's paragraphs says
/// nothing about any theme.
const COMMON_SHARE: f64 = 0.25;
/// Languages with fewer paragraphs than this have no corpus stop words.
const COMMON_MIN_PARAGRAPHS: usize = 20;

/// One-letter prefixes that attach to the next word: Hebrew's and, the,
/// in, to, that, from, as; Arabic's and, the (two letters), by, to, as.
fn clitics(language: &str) -> &'static [&'static str] {
    match language {
        "he" => &["ו", "ה", "ב", "ל", "ש", "מ", "כ"],
        "ar" => &["وال", "بال", "لل", "ال", "و", "ب", "ل", "ك"],
        _ => &[],
    }
}

/// Paragraphs processed together: the words of one such slice exist as
/// strings at a time; all others are kept as ids of distinct terms, so the
/// terms of a large corpus take a few bytes per word.
const SLICE: usize = 8192;

/// Each distinct term once, with a dense id (its place in the set).
#[derive(Default)]
struct Interner(IndexSet<Box<str>>);

impl Interner {
    fn id(&mut self, term: String) -> u32 {
        let (index, _) = self.0.insert_full(term.into_boxed_str());
        u32::try_from(index).expect("fewer than 2³² distinct terms")
    }

    fn get(&self, term: &str) -> Option<u32> {
        self.0.get_index_of(term).map(|i| i as u32)
    }

    fn name(&self, id: u32) -> &str {
        &self.0[id as usize]
    }
}

/// Every paragraph's terms: its content words and two-word phrases, cleaned
/// with the evidence of the whole corpus (see the module notes).
pub struct CorpusTerms {
    names: Interner,
    of_paragraph: Vec<Vec<u32>>,
    /// How many of each paragraph's terms are words (they come first).
    words: Vec<usize>,
}

impl CorpusTerms {
    /// The terms of the paragraph at `index`, words first, then phrases.
    pub fn of(&self, index: usize) -> impl Iterator<Item = &str> {
        self.of_paragraph[index]
            .iter()
            .map(|&id| self.names.name(id))
    }

    /// The words of the paragraph at `index`, phrases left out.
    pub fn words_of(&self, index: usize) -> impl Iterator<Item = &str> {
        self.of_paragraph[index][..self.words[index]]
            .iter()
            .map(|&id| self.names.name(id))
    }
}

/// Pieces of at most this many words are short: bylines, captions,
/// signatures, author lines.
const SHORT_PIECE_WORDS: usize = 15;

/// The terms of `language` that read as names and say nothing about a
/// theme: every word of the term has case and is never written in lower
/// case in that language's text, and either no paragraph longer than a
/// caption holds the term (an author in a byline, a name in an image
/// caption or a signature) or it holds a person-like name (Capitalized,
/// not an acronym such as "BIOS" or "PPPoE") and only one file has it
/// (someone one article quotes, an author in the credits). A product named in the text of several articles
/// stays a candidate.
pub fn names<'t>(
    terms: &'t CorpusTerms,
    paragraphs: &[Paragraph],
    language: &str,
) -> HashSet<&'t str> {
    let mut written_lower: HashSet<String> = HashSet::new();
    let mut written_as_acronym: HashSet<String> = HashSet::new();
    let mut in_long: HashSet<&str> = HashSet::new();
    let mut in_short: HashSet<&str> = HashSet::new();
    let mut files: HashMap<&str, (&str, bool)> = HashMap::new();
    for (i, p) in paragraphs.iter().enumerate() {
        if p.language != language {
            continue;
        }
        let words: Vec<&str> = p.text.unicode_words().collect();
        for word in &words {
            let mut letters = word.chars();
            if letters.next().is_some_and(char::is_lowercase) {
                written_lower.insert(word.to_lowercase());
            } else if letters.any(char::is_uppercase) {
                written_as_acronym.insert(word.to_lowercase());
            }
        }
        let seen = if words.len() > SHORT_PIECE_WORDS {
            &mut in_long
        } else {
            &mut in_short
        };
        for term in terms.of(i) {
            seen.insert(term);
            let (first, several) = files.entry(term).or_insert((p.file.as_str(), false));
            *several |= *first != p.file;
        }
    }
    let name_like = |term: &str| {
        term.split_whitespace()
            .all(|w| w.chars().any(char::is_lowercase) && !written_lower.contains(w))
    };
    let person_like = |term: &str| {
        term.split_whitespace()
            .any(|w| !written_as_acronym.contains(w))
    };
    files
        .into_iter()
        .filter(|&(term, (_, several))| {
            name_like(term) && (!in_long.contains(term) || (!several && person_like(term)))
        })
        .map(|(term, _)| term)
        .collect()
}
/// A word's root for telling labels apart: lower case, a plural -s, -es or
/// -ies taken off ("partitions" and "partition" are one word to a reader).
pub fn root(word: &str) -> String {
    let word = word.to_lowercase();
    let chars = word.chars().count();
    if chars > 4 && word.ends_with("ies") {
        format!("{}y", &word[..word.len() - 3])
    } else if chars > 4 && word.ends_with("es") && !word.ends_with("ses") {
        word[..word.len() - 2].to_string()
    } else if chars > 3 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_string()
    } else {
        word
    }
}

/// The roots of a term's words.
pub fn roots(term: &str) -> Vec<String> {
    term.split_whitespace().map(root).collect()
}

/// A term as backing counts it: its words' roots, so that "customer" in
/// one paragraph and "customers" in another back each other.
pub fn root_key(term: &str) -> String {
    roots(term).join(" ")
}

/// The terms of every paragraph (see [`CorpusTerms`]).
pub fn corpus_terms(paragraphs: &[Paragraph]) -> CorpusTerms {
    let mut interner = Interner::default();
    let mut words: Vec<Vec<Option<u32>>> = Vec::with_capacity(paragraphs.len());
    for slice in paragraphs.chunks(SLICE) {
        let found: Vec<Vec<Option<String>>> = slice
            .par_iter()
            .map(|p| content_words(&p.text, &p.language))
            .collect();
        words.extend(
            found
                .into_iter()
                .map(|ws| ws.into_iter().map(|w| w.map(|w| interner.id(w))).collect()),
        );
    }
    strip_clitics(paragraphs, &mut words, &mut interner);
    let common = common_words(paragraphs, &words);
    let (of_paragraph, words) = paragraphs
        .iter()
        .zip(words)
        .map(|(p, ws)| {
            let common = common.get(p.language.as_str());
            let kept: Vec<Option<u32>> = ws
                .into_iter()
                .map(|w| w.filter(|w| common.is_none_or(|c| !c.contains(w))))
                .collect();
            let word_count = kept.iter().flatten().count();
            (with_phrases(&kept, &p.language, &mut interner), word_count)
        })
        .unzip();
    CorpusTerms {
        names: interner,
        of_paragraph,
        words,
    }
}

/// Takes clitic prefixes off the words of the languages that have them,
/// once per distinct word and language.
fn strip_clitics(
    paragraphs: &[Paragraph],
    words: &mut [Vec<Option<u32>>],
    interner: &mut Interner,
) {
    let mut vocabulary: HashMap<&str, HashSet<u32>> = HashMap::new();
    for (p, ws) in paragraphs.iter().zip(words.iter()) {
        if !clitics(&p.language).is_empty() {
            vocabulary
                .entry(p.language.as_str())
                .or_default()
                .extend(ws.iter().flatten());
        }
    }
    let mut stripped: HashMap<(&str, u32), Option<u32>> = HashMap::new();
    for (p, ws) in paragraphs.iter().zip(words.iter_mut()) {
        let language = p.language.as_str();
        let Some(known) = vocabulary.get(language) else {
            continue;
        };
        for w in ws.iter_mut() {
            *w = w.and_then(|id| {
                *stripped.entry((language, id)).or_insert_with(|| {
                    let word = interner.name(id).to_string();
                    let is_known =
                        |rest: &str| interner.get(rest).is_some_and(|r| known.contains(&r));
                    without_clitic(&word, language, &is_known).map(|rest| interner.id(rest))
                })
            });
        }
    }
}

/// `word` without a clitic prefix where the rest is a word of the corpus
/// (and not a stop word); `None` where what is left is a stop word.
fn without_clitic(word: &str, language: &str, known: &dyn Fn(&str) -> bool) -> Option<String> {
    for prefix in clitics(language) {
        if let Some(rest) = word.strip_prefix(prefix) {
            if rest.chars().count() >= 2 && (known(rest) || stop_words(language).contains(rest)) {
                return (!stop_words(language).contains(rest)).then(|| rest.to_string());
            }
        }
    }
    Some(word.to_string())
}

/// Per language with enough paragraphs, the words in more than
/// [`COMMON_SHARE`] of them.
fn common_words<'a>(
    paragraphs: &'a [Paragraph],
    words: &[Vec<Option<u32>>],
) -> HashMap<&'a str, HashSet<u32>> {
    let mut paragraphs_of: HashMap<&str, usize> = HashMap::new();
    let mut containing: HashMap<(&str, u32), usize> = HashMap::new();
    for (p, ws) in paragraphs.iter().zip(words) {
        let language = p.language.as_str();
        *paragraphs_of.entry(language).or_default() += 1;
        let distinct: HashSet<u32> = ws.iter().flatten().copied().collect();
        for w in distinct {
            *containing.entry((language, w)).or_default() += 1;
        }
    }
    let mut common: HashMap<&str, HashSet<u32>> = HashMap::new();
    for ((language, word), n) in containing {
        let total = paragraphs_of[language];
        if total >= COMMON_MIN_PARAGRAPHS && n as f64 > COMMON_SHARE * total as f64 {
            common.entry(language).or_default().insert(word);
        }
    }
    common
}

/// The kept words, and a phrase for each two kept words that stood side by
/// side (a dropped word between them breaks the phrase).
fn with_phrases(words: &[Option<u32>], language: &str, interner: &mut Interner) -> Vec<u32> {
    let joiner = if matches!(language, "zh" | "ja") {
        ""
    } else {
        " "
    };
    let mut terms: Vec<u32> = words.iter().flatten().copied().collect();
    for pair in words.windows(2) {
        if let [Some(a), Some(b)] = *pair {
            if a != b {
                let phrase = format!("{}{joiner}{}", interner.name(a), interner.name(b));
                terms.push(interner.id(phrase));
            }
        }
    }
    terms
}

/// Content words of `text` in `language`, lower-cased, stop words dropped.
#[cfg(test)]
fn terms(text: &str, language: &str) -> Vec<String> {
    content_words(text, language)
        .into_iter()
        .flatten()
        .collect()
}

/// Every word of `text`, lower-cased, as `None` where it is no content word
/// (a stop word, a number, too short), so that phrases do not jump gaps.
fn content_words(text: &str, language: &str) -> Vec<Option<String>> {
    let raw: Vec<String> = match language {
        "zh" => jieba()
            .cut(text, true)
            .into_iter()
            .map(str::to_string)
            .collect(),
        "ja" => script_runs(text),
        _ => text.unicode_words().map(str::to_string).collect(),
    };
    let stop = stop_words(language);
    let english = stop_words("en");
    raw.into_iter()
        // A typographic apostrophe is the apostrophe of the stop lists.
        .map(|w| {
            let w = w.to_lowercase().replace('\u{2019}', "'");
            // English possessives: "company's" is the word "company".
            match w.strip_suffix("'s") {
                Some(stem) if language == "en" => stem.to_string(),
                _ => w,
            }
        })
        .filter(|w| {
            !w.trim().is_empty()
                && !w
                    .chars()
                    .all(|c| c.is_whitespace() || c.is_ascii_punctuation())
        })
        .map(|w| {
            let chars = w.chars().count();
            let has_letter = w.chars().any(char::is_alphabetic);
            let cjk = w.chars().any(is_cjk);
            let content = has_letter
                && (chars >= 3 || (cjk && chars >= 2))
                && !stop.contains(&w)
                && !english.contains(&w);
            content.then_some(w)
        })
        .collect()
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xAC00..=0xD7AF)
}

/// Japanese without a dictionary: runs of kanji, of katakana and of Latin
/// letters are words; hiragana (mostly particles and endings) is dropped.
fn script_runs(text: &str) -> Vec<String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Script {
        Kanji,
        Katakana,
        Latin,
        Other,
    }
    let script = |c: char| match c as u32 {
        0x4E00..=0x9FFF | 0x3400..=0x4DBF => Script::Kanji,
        0x30A0..=0x30FF => Script::Katakana,
        _ if c.is_alphanumeric() && (c as u32) < 0x3000 => Script::Latin,
        _ => Script::Other,
    };
    let mut words = Vec::new();
    let mut current = String::new();
    let mut current_script = Script::Other;
    for c in text.chars() {
        let s = script(c);
        if s != current_script && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        if s != Script::Other {
            current.push(c);
        }
        current_script = s;
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn jieba() -> &'static jieba_rs::Jieba {
    static JIEBA: OnceLock<jieba_rs::Jieba> = OnceLock::new();
    JIEBA.get_or_init(jieba_rs::Jieba::new)
}

/// Languages the stop-words crate has lists for (it panics on others).
const STOP_WORD_LANGUAGES: [&str; 58] = [
    "af", "ar", "bg", "bn", "br", "ca", "cs", "da", "de", "el", "en", "eo", "es", "et", "eu", "fa",
    "fi", "fr", "ga", "gl", "gu", "ha", "he", "hi", "hr", "hu", "hy", "id", "it", "ja", "ko", "ku",
    "la", "lt", "lv", "mr", "ms", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sl", "so", "st", "sv",
    "sw", "th", "tl", "tr", "uk", "ur", "vi", "yo", "zh", "zu",
];

/// Frequent function words missing from the stop-words crate's lists.
fn extra_stop_words(language: &str) -> &'static [&'static str] {
    match language {
        "he" => &[
            "כדי",
            "יותר",
            "גם",
            "רק",
            "כל",
            "אשר",
            "היא",
            "הוא",
            "זה",
            "זו",
            "של",
            "את",
            "על",
            "עם",
            "הם",
            "הן",
            "אבל",
            "אם",
            "כמו",
            "מאוד",
            "להיות",
            "יכול",
            "יכולים",
            "שלהם",
            "שלנו",
            "שלך",
            "אחד",
            "אחת",
            "בין",
            "לא",
            "כבר",
            "ידי",
            "צריך",
            "צריכים",
            "עוד",
            "היום",
        ],
        "pl" => &[
            "się",
            "oraz",
            "jest",
            "które",
            "która",
            "który",
            "może",
            "także",
            "również",
        ],
        "en" => &[
            "also", "can", "may", "will", "one", "many", "much", "more", "most", "must", "like",
        ],
        _ => &[],
    }
}

pub fn stop_words(language: &str) -> &'static HashSet<String> {
    static LISTS: OnceLock<std::sync::Mutex<HashMap<String, &'static HashSet<String>>>> =
        OnceLock::new();
    let lists = LISTS.get_or_init(Default::default);
    let mut lists = lists.lock().expect("stop-word cache is never poisoned");
    lists.entry(language.to_string()).or_insert_with(|| {
        let mut words: HashSet<String> = if STOP_WORD_LANGUAGES.contains(&language) {
            stop_words::get(language)
                .into_iter()
                .map(|w| w.to_lowercase())
                .collect()
        } else {
            HashSet::new()
        };
        words.extend(extra_stop_words(language).iter().map(|w| w.to_string()));
        Box::leak(Box::new(words))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_share_their_word_root() {
        assert_eq!(root("partitions"), root("partition"));
        assert_eq!(root("boxes"), "box");
        assert_eq!(root("process"), "process");
        assert_eq!(root("companies"), "company");
        assert_eq!(root_key("Feedback Tools"), "feedback tool");
    }

    #[test]
    fn a_typographic_apostrophe_is_no_way_past_the_stop_words() {
        assert_eq!(
            terms(
                "Leaders don\u{2019}t fail the company\u{2019}s customers",
                "en"
            ),
            ["leaders", "fail", "company", "customers"]
        );
    }

    #[test]
    fn chinese_is_segmented_and_stop_words_dropped() {
        let t = terms(
            "企业的业务目标已发生变化，如今每个人都有责任推动全组织范围的发展",
            "zh",
        );
        assert!(
            t.contains(&"企业".to_string()) && t.contains(&"业务".to_string()),
            "{t:?}"
        );
        assert!(!t.iter().any(|w| w == "的"), "{t:?}");
        let en = terms(
            "The marketing officers and the operations of the company",
            "en",
        );
        assert_eq!(en, vec!["marketing", "officers", "operations", "company"]);
    }

    #[test]
    fn japanese_words_are_script_runs() {
        assert_eq!(
            script_runs("インストールの前に、ハードウェアの要件を確認"),
            vec!["インストール", "前", "ハードウェア", "要件", "確認"]
        );
    }

    #[test]
    fn hebrew_prefixes_come_off_where_the_corpus_knows_the_word_and_phrases_do_not_jump() {
        let p = |text: &str| {
            let mut paragraph = Paragraph::new("f".into(), 1, text.into());
            paragraph.language = "he".into();
            paragraph
        };
        let paragraphs = vec![
            p("התקציב של השיווק גדל"),
            p("תקציב שיווק חדש לטווח ארוך שהם בנו"),
        ];
        let terms = corpus_terms(&paragraphs);
        let first: Vec<&str> = terms.of(0).collect();
        assert!(first.contains(&"תקציב"), "{first:?}");
        assert!(first.contains(&"שיווק"), "{first:?}");
        let second: Vec<&str> = terms.of(1).collect();
        assert!(
            !second.iter().any(|&t| t == "שהם" || t == "הם"),
            "{second:?}"
        );
        let english = corpus_terms(&[{
            let mut q = Paragraph::new("f".into(), 1, "network driver for the boot loader".into());
            q.language = "en".into();
            q
        }]);
        let english: Vec<&str> = english.of(0).collect();
        assert!(english.contains(&"network driver"));
        assert!(!english.contains(&"driver boot"), "the stop word breaks it");
    }
}
