//! The `describe` stage: what each theme is about. Size, paragraphs per
//! language, cohesion, keywords by class-based TF-IDF over the words of every
//! language (Chinese segmented with jieba, Japanese by script runs, each
//! language's stop words dropped), a short label, and the paragraphs closest
//! to the centroid, per language.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use unicode_segmentation::UnicodeSegmentation;

use crate::cluster::Clustering;
use crate::ingest::Paragraph;

const KEYWORDS_PER_THEME: usize = 12;
const LABEL_KEYWORDS: usize = 3;
/// Closest paragraphs listed per theme and language.
pub const EXAMPLES_PER_LANGUAGE: usize = 3;

/// A paragraph that shows what its theme is about in one language.
#[derive(Debug, Clone)]
pub struct Example {
    /// The language it stands for.
    pub language: String,
    /// 1-based rank within its theme and language.
    pub rank: usize,
    /// Index of the paragraph in the corpus.
    pub paragraph: usize,
    /// Cosine to the theme's centroid.
    pub similarity: f32,
}

/// What one theme of a clustering is about.
#[derive(Debug, Clone)]
pub struct Theme {
    /// The clustering's 0-based label of this theme (largest first).
    pub cluster: usize,
    /// The first keywords, joined with " · ".
    pub label: String,
    /// Paragraphs in the theme.
    pub size: usize,
    /// (language, paragraphs), most paragraphs first.
    pub languages: Vec<(String, usize)>,
    /// Mean cosine of the members to the centroid.
    pub cohesion: f32,
    /// Words that set the theme apart, taking turns between its languages.
    pub keywords: Vec<String>,
    /// Index of the paragraph closest to the centroid.
    pub representative: usize,
    /// The closest paragraphs, per language.
    pub examples: Vec<Example>,
}

impl Theme {
    /// "en:24 he:9 zh:7".
    pub fn language_summary(&self) -> String {
        self.languages
            .iter()
            .map(|(l, n)| format!("{l}:{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A theme with the identity it keeps across runs (given by `refresh`).
#[derive(Debug, Clone)]
pub struct NamedTheme {
    /// Stable id, never reused for another theme.
    pub id: usize,
    /// Day the theme first appeared.
    pub first_seen: String,
    /// Its paragraphs that no earlier run saw.
    pub new_paragraphs: usize,
    /// "4 (old label)" where the theme took its paragraphs from another
    /// theme, or kept its id under a new label; empty otherwise.
    pub previous_theme: String,
    /// What the theme is about.
    pub theme: Theme,
}

/// Describes every theme of `clustering`, whose labels are aligned with
/// `paragraphs` (their languages filled in).
pub fn describe(paragraphs: &[Paragraph], clustering: &Clustering) -> Vec<Theme> {
    let languages: Vec<&str> = paragraphs.iter().map(|p| p.language.as_str()).collect();
    let keywords = keywords(paragraphs, &clustering.labels, clustering.k());
    (0..clustering.k())
        .zip(keywords)
        .map(|(theme, keywords)| {
            let members: Vec<usize> = (0..paragraphs.len())
                .filter(|&i| clustering.labels[i] == theme)
                .collect();
            let language_counts = language_counts(&members, &languages);
            let similarity = |i: usize| clustering.similarity(i);
            // Similarities equal to the 4 decimals the CSV shows count as a tie,
            // broken by input order, so float noise cannot reorder examples.
            let shown = |i: usize| (similarity(i) as f64 * 1e4).round() as i64;
            let mut ranked = members.clone();
            ranked.sort_by(|a, b| shown(*b).cmp(&shown(*a)).then(a.cmp(b)));
            let examples = language_counts
                .iter()
                .flat_map(|(language, _)| {
                    ranked
                        .iter()
                        .filter(|&&i| languages[i] == language)
                        .take(EXAMPLES_PER_LANGUAGE)
                        .enumerate()
                        .map(|(rank, &i)| Example {
                            language: language.clone(),
                            rank: rank + 1,
                            paragraph: i,
                            similarity: similarity(i),
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            let cohesion =
                members.iter().map(|&i| similarity(i)).sum::<f32>() / members.len().max(1) as f32;
            Theme {
                cluster: theme,
                label: label(&keywords, theme),
                size: members.len(),
                languages: language_counts,
                cohesion,
                keywords,
                representative: ranked[0],
                examples,
            }
        })
        .collect()
}

/// (language, paragraphs) of `members`, most paragraphs first.
fn language_counts(members: &[usize], languages: &[&str]) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for &i in members {
        *counts.entry(languages[i]).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts
        .into_iter()
        .map(|(l, n)| (l.to_string(), n))
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
}

fn label(keywords: &[String], theme: usize) -> String {
    if keywords.is_empty() {
        format!("theme {}", theme + 1)
    } else {
        keywords
            .iter()
            .take(LABEL_KEYWORDS)
            .cloned()
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// Term counts per theme and language, the input of class-based TF-IDF.
struct TermCounts<'a> {
    per_theme_language: Vec<BTreeMap<&'a str, HashMap<&'a str, usize>>>,
    paragraphs_per_language: Vec<HashMap<&'a str, usize>>,
    theme_totals: Vec<usize>,
    overall: HashMap<&'a str, usize>,
}

impl<'a> TermCounts<'a> {
    fn count(
        words: &'a [Vec<String>],
        paragraphs: &'a [Paragraph],
        labels: &[usize],
        k: usize,
    ) -> Self {
        let mut counts = TermCounts {
            per_theme_language: vec![BTreeMap::new(); k],
            paragraphs_per_language: vec![HashMap::new(); k],
            theme_totals: vec![0; k],
            overall: HashMap::new(),
        };
        for ((terms, p), &theme) in words.iter().zip(paragraphs).zip(labels) {
            let language = p.language.as_str();
            let theme_counts = counts.per_theme_language[theme]
                .entry(language)
                .or_default();
            for term in terms {
                *theme_counts.entry(term.as_str()).or_default() += 1;
                *counts.overall.entry(term.as_str()).or_default() += 1;
            }
            counts.theme_totals[theme] += terms.len();
            *counts.paragraphs_per_language[theme]
                .entry(language)
                .or_default() += 1;
        }
        counts
    }

    /// Each language of `theme` with its paragraph count and its terms, best
    /// first; languages with the most paragraphs first.
    fn ranked(&self, theme: usize) -> Vec<(usize, &'a str, Vec<&'a str>)> {
        let k = self.theme_totals.len();
        let average = self.theme_totals.iter().sum::<usize>() as f64 / k.max(1) as f64;
        let total = self.theme_totals[theme].max(1) as f64;
        let mut ranked: Vec<(usize, &str, Vec<&str>)> = self.per_theme_language[theme]
            .iter()
            .map(|(&language, counts)| {
                let mut scored: Vec<(f64, &str)> = counts
                    .iter()
                    .filter(|(_, &count)| count >= 2 || counts.len() < 20)
                    .map(|(&term, &count)| {
                        let idf = (1.0 + average / self.overall[term] as f64).ln();
                        (count as f64 / total * idf, term)
                    })
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
                let size = self.paragraphs_per_language[theme][language];
                (size, language, scored.into_iter().map(|(_, t)| t).collect())
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        ranked
    }
}

/// Class-based TF-IDF: a term's share of its theme's words, times
/// ln(1 + average words per theme / the term's count in all themes). Each
/// theme's keywords take turns between its languages, largest first, so its
/// languages stand side by side.
fn keywords(paragraphs: &[Paragraph], labels: &[usize], k: usize) -> Vec<Vec<String>> {
    use rayon::prelude::*;
    let words: Vec<Vec<String>> = paragraphs
        .par_iter()
        .map(|p| terms(&p.text, &p.language))
        .collect();
    let counts = TermCounts::count(&words, paragraphs, labels, k);
    (0..k)
        .map(|theme| take_turns(&counts.ranked(theme)))
        .collect()
}

/// Up to [`KEYWORDS_PER_THEME`] terms, one from each language in turn,
/// none twice.
fn take_turns(ranked_by_language: &[(usize, &str, Vec<&str>)]) -> Vec<String> {
    let mut chosen: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let mut cursors = vec![0usize; ranked_by_language.len()];
    while chosen.len() < KEYWORDS_PER_THEME {
        let mut progressed = false;
        for (slot, (_, _, ranked)) in ranked_by_language.iter().enumerate() {
            while cursors[slot] < ranked.len() && !seen.insert(ranked[cursors[slot]]) {
                cursors[slot] += 1;
            }
            if cursors[slot] < ranked.len() && chosen.len() < KEYWORDS_PER_THEME {
                chosen.push(ranked[cursors[slot]].to_string());
                cursors[slot] += 1;
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    chosen
}

/// Content words of `text` in `language`, lower-cased, stop words dropped.
pub fn terms(text: &str, language: &str) -> Vec<String> {
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
        .map(|w| w.to_lowercase())
        .filter(|w| {
            let chars = w.chars().count();
            let has_letter = w.chars().any(char::is_alphabetic);
            let cjk = w.chars().any(is_cjk);
            has_letter
                && (chars >= 3 || (cjk && chars >= 2))
                && !stop.contains(w)
                && !english.contains(w)
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

fn stop_words(language: &str) -> &'static HashSet<String> {
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
    fn keywords_alternate_between_languages() {
        let p = |text: &str, language: &str| {
            let mut paragraph = Paragraph::new("f".into(), 1, text.into());
            paragraph.language = language.into();
            paragraph
        };
        let paragraphs = vec![
            p("marketing budget marketing budget strategy", "en"),
            p("marketing budget marketing strategy", "en"),
            p("שיווק תקציב שיווק תקציב", "he"),
            p("holiday travel beach holiday travel", "en"),
        ];
        let kw = keywords(&paragraphs, &[0, 0, 0, 1], 2);
        assert_eq!(&kw[0][..2], &["marketing", "שיווק"], "{kw:?}");
        assert!(kw[1].contains(&"holiday".to_string()));
    }
}
