//! The `describe` stage: what each theme is about. Size, paragraphs per
//! language and per file, cohesion, the paragraphs closest to the centroid
//! per language, keywords per language by class-based TF-IDF (`terms` says
//! what a word is), and a label and keywords in one language chosen with
//! the model (`labels`).

mod labels;
mod terms;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::cluster::Clustering;
use crate::embed::{CachedEmbedder, EmbedError};
use crate::error::{Classified, Fault, Setting};
use crate::ingest::Paragraph;

const KEYWORDS_PER_THEME: usize = 12;
/// Keywords shown per language in `keywords_by_language`.
const KEYWORDS_PER_LANGUAGE: usize = 5;
/// A theme with at least this share of its paragraphs from one file is
/// single-source.
const SINGLE_SOURCE_SHARE: f64 = 0.9;
/// A file with at least this share of a theme's label-language paragraphs
/// is its main source: one file's words can name the theme.
const MAIN_SOURCE_SHARE: f64 = 0.5;
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
    /// One to three terms in the label language (two or three where the
    /// theme's paragraphs back them), joined with " · ",
    /// sharing no word with another theme's label.
    pub label: String,
    /// The broader topic the theme belongs to, 1-based (numbered per run,
    /// largest first).
    pub topic: usize,
    /// The topic's name: the label of its most central theme.
    pub topic_label: String,
    /// Paragraphs in the theme.
    pub size: usize,
    /// (language, paragraphs), most paragraphs first.
    pub languages: Vec<(String, usize)>,
    /// Mean cosine of the members to the centroid.
    pub cohesion: f32,
    /// Words and phrases that set the theme apart, in the label language.
    pub keywords: Vec<String>,
    /// Per language of the theme (largest first), its telling terms.
    pub keywords_by_language: Vec<(String, Vec<String>)>,
    /// Index of the paragraph closest to the centroid, in the label
    /// language where the theme has one (none: a named theme no paragraph
    /// is in).
    pub representative: Option<usize>,
    /// Files the theme's paragraphs come from.
    pub files: usize,
    /// Whether 90 % or more of them come from one file.
    pub single_source: bool,
    /// The days of its oldest and newest articles (none: no paragraph's
    /// article is dated).
    pub articles: Option<(String, String)>,
    /// The closest paragraphs, per language.
    pub examples: Vec<Example>,
}

impl Theme {
    /// "zh: 协作, 客户; he: …", largest language first.
    pub fn keywords_by_language_summary(&self) -> String {
        self.keywords_by_language
            .iter()
            .filter(|(_, words)| !words.is_empty())
            .map(|(l, words)| format!("{l}: {}", words.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The text of its most representative paragraph (`paragraphs`: the
    /// corpus's); empty for a theme no paragraph is in.
    pub fn representative_text<'p>(&self, paragraphs: &'p [Paragraph]) -> &'p str {
        self.representative
            .map_or("", |i| paragraphs[i].text.as_str())
    }

    /// "en:24 he:9 zh:7".
    pub fn language_summary(&self) -> String {
        language_summary(&self.languages)
    }
}

/// The label of a theme no term names: `theme N`, N its number (1 = the
/// largest) until `themes` gives it its id.
pub fn unlabelled(number: usize) -> String {
    format!("theme {number}")
}

/// Paragraphs per language as `zh:30 en:16 he:13`.
pub fn language_summary(languages: &[(String, usize)]) -> String {
    languages
        .iter()
        .map(|(l, n)| format!("{l}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
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
    /// Whether the analyst named it (`--themes`): its label is the name.
    pub named: bool,
    /// What the theme is about.
    pub theme: Theme,
}

/// A label language the corpus has no paragraph in.
#[derive(Debug, thiserror::Error)]
#[error("{asked}: no paragraph is in that language; the corpus has {available}")]
pub struct NoSuchLanguage {
    /// The language asked for.
    pub asked: String,
    /// The corpus's languages with their paragraphs, most first.
    pub available: String,
}

impl Classified for NoSuchLanguage {
    fn fault(&self) -> Fault {
        Fault::Usage(Some(Setting::LabelLanguage))
    }
}

/// The language labels are written in: the one asked for, else English
/// where the corpus has English paragraphs, else its most common language.
pub fn label_language(
    paragraphs: &[Paragraph],
    asked: Option<&str>,
) -> Result<String, NoSuchLanguage> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in paragraphs {
        *counts.entry(p.language.as_str()).or_default() += 1;
    }
    let mut by_size: Vec<(&str, usize)> = counts.into_iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    match asked {
        Some(code) if by_size.iter().any(|(l, _)| *l == code) => Ok(code.to_string()),
        Some(code) => Err(NoSuchLanguage {
            asked: code.to_string(),
            available: by_size
                .iter()
                .map(|(l, n)| format!("{l} ({n})"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
        None if by_size.iter().any(|(l, _)| *l == "en") => Ok("en".into()),
        None => Ok(by_size.first().map_or("en", |(l, _)| l).to_string()),
    }
}

/// How themes are named: in which language, with which model.
pub struct Labelling<'a, 'e> {
    /// ISO 639-1 code of the labels and keywords.
    pub language: &'a str,
    /// The paragraphs' model, through the cache: label candidates are
    /// embedded as paragraphs are.
    pub embedder: &'a mut CachedEmbedder<'e>,
    /// The named themes' names (`--themes`): the first themes' labels.
    pub names: &'a [&'a str],
}

/// Describes every theme of `clustering`, whose labels are aligned with
/// `paragraphs` (their languages filled in).
pub fn describe(
    paragraphs: &[Paragraph],
    clustering: &Clustering,
    labelling: Labelling,
) -> Result<Vec<Theme>, EmbedError> {
    let terms = terms::corpus_terms(paragraphs);
    let counts = TermCounts::count(
        &terms,
        paragraphs,
        &clustering.labels,
        clustering.k(),
        labelling.language,
    );
    let candidates = counts.candidates(labelling.language);
    let languages: Vec<&str> = paragraphs.iter().map(|p| p.language.as_str()).collect();
    let files: Vec<&str> = paragraphs.iter().map(|p| p.file.as_str()).collect();
    let chosen = labels::choose(
        &candidates,
        clustering,
        (&languages, &files),
        KEYWORDS_PER_THEME,
        labelling.embedder,
    )?;
    let mut members = vec![Vec::new(); clustering.k()];
    for (i, &theme) in clustering.labels.iter().enumerate() {
        members[theme].push(i);
    }
    let mut themes: Vec<Theme> = members
        .iter()
        .enumerate()
        .map(|(theme, members)| {
            let mut described = theme_of(
                paragraphs,
                &languages,
                clustering,
                theme,
                members,
                labelling.language,
            );
            described.keywords_by_language = counts.by_language(theme);
            if let Some(c) = chosen.get(theme).filter(|c| !c.label.is_empty()) {
                described.label = c.label.clone();
                described.keywords = c.keywords.clone();
            }
            if let Some(name) = labelling.names.get(theme) {
                described.label = name.to_string();
                if members.is_empty() {
                    described.keywords.clear();
                }
            }
            described
        })
        .collect();
    // A topic is named after its most central theme, or its largest
    // labelled one where that one has no label of its own.
    let labelled: Vec<bool> = (0..themes.len())
        .map(|t| {
            themes[t].size > 0
                && (t < labelling.names.len() || chosen.get(t).is_some_and(|c| !c.label.is_empty()))
        })
        .collect();
    let names: Vec<String> = (0..themes.len())
        .map(|theme| {
            let topic = themes[theme].topic - 1;
            let central = clustering.topics.central_theme[topic];
            let named = (0..themes.len())
                .find(|&t| themes[t].topic - 1 == topic && labelled.get(t) == Some(&true));
            let namesake = if labelled.get(central) == Some(&true) {
                central
            } else {
                named.unwrap_or(central)
            };
            themes[namesake].label.clone()
        })
        .collect();
    for (theme, name) in themes.iter_mut().zip(names) {
        theme.topic_label = name;
    }
    Ok(themes)
}

/// The `count` words of `language` that the most of its paragraphs have:
/// what the corpus is about in general, the background a named theme's
/// phrases must stand out from (see `cluster`).
pub fn common_words(paragraphs: &[Paragraph], language: &str, count: usize) -> Vec<String> {
    let terms = terms::corpus_terms(paragraphs);
    let mut frequency: HashMap<&str, usize> = HashMap::new();
    for (i, p) in paragraphs.iter().enumerate() {
        if p.language == language {
            let words: HashSet<&str> = terms.words_of(i).collect();
            for word in words {
                *frequency.entry(word).or_default() += 1;
            }
        }
    }
    let mut ranked: Vec<(&str, usize)> = frequency.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked
        .into_iter()
        .take(count)
        .map(|(word, _)| word.to_string())
        .collect()
}

/// BERTopic's default representation, the anchor labels are measured
/// against: each theme's top `words` words by class-based TF-IDF over all
/// its paragraphs, every language together (`labels`: each paragraph's
/// theme, of `k`).
pub fn class_tfidf_labels(
    paragraphs: &[Paragraph],
    labels: &[usize],
    k: usize,
    words: usize,
) -> Vec<String> {
    let terms = terms::corpus_terms(paragraphs);
    let mut per_theme: Vec<HashMap<&str, usize>> = vec![HashMap::new(); k];
    let mut overall: HashMap<&str, usize> = HashMap::new();
    let mut totals = vec![0usize; k];
    for (i, &theme) in labels.iter().enumerate() {
        for word in terms.words_of(i) {
            *per_theme[theme].entry(word).or_default() += 1;
            *overall.entry(word).or_default() += 1;
            totals[theme] += 1;
        }
    }
    let average = totals.iter().sum::<usize>() as f64 / k.max(1) as f64;
    per_theme
        .iter()
        .zip(&totals)
        .map(|(counts, &total)| {
            let mut scored: Vec<(f64, &str)> = counts
                .iter()
                .map(|(&word, &count)| {
                    let idf = (1.0 + average / overall[word] as f64).ln();
                    (count as f64 / total.max(1) as f64 * idf, word)
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
            let top: Vec<&str> = scored.into_iter().take(words).map(|(_, w)| w).collect();
            top.join(" · ")
        })
        .collect()
}

/// A theme's facts but for its words: sizes, examples, sources
/// (`languages`: every paragraph's, by index).
fn theme_of(
    paragraphs: &[Paragraph],
    languages: &[&str],
    clustering: &Clustering,
    theme: usize,
    members: &[usize],
    label_language: &str,
) -> Theme {
    let language_counts = language_counts(members, languages);
    let similarity = |i: usize| clustering.similarity(i);
    // Similarities equal to the 4 decimals the CSV shows count as a tie,
    // broken by input order, so float noise cannot reorder examples.
    let shown = |i: usize| (similarity(i) as f64 * 1e4).round() as i64;
    let mut ranked = members.to_vec();
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
    let mut per_file: HashMap<&str, usize> = HashMap::new();
    for &i in members {
        *per_file.entry(paragraphs[i].file.as_str()).or_default() += 1;
    }
    let largest_file = per_file.values().copied().max().unwrap_or(0);
    Theme {
        cluster: theme,
        label: unlabelled(theme + 1),
        topic: clustering.topics.of_theme[theme] + 1,
        topic_label: String::new(),
        size: members.len(),
        languages: language_counts,
        // An empty sum of floats is -0.0, which prints as a sign.
        cohesion: members
            .iter()
            .map(|&i| similarity(i))
            .fold(0.0, |a, s| a + s)
            / members.len().max(1) as f32,
        keywords: Vec::new(),
        keywords_by_language: Vec::new(),
        representative: ranked
            .iter()
            .copied()
            .find(|&i| languages[i] == label_language)
            .or(ranked.first().copied()),
        files: per_file.len(),
        single_source: !members.is_empty()
            && largest_file as f64 >= SINGLE_SOURCE_SHARE * members.len() as f64,
        articles: article_days(members.iter().map(|&i| paragraphs[i].article_date.as_str())),
        examples,
    }
}

/// The oldest and newest of `days` (`YYYY-MM-DD`; empty: undated).
fn article_days<'d>(days: impl Iterator<Item = &'d str>) -> Option<(String, String)> {
    let mut dated = days.filter(|d| !d.is_empty());
    let first = dated.next()?;
    let (oldest, newest) = dated.fold((first, first), |(lo, hi), d| (lo.min(d), hi.max(d)));
    Some((oldest.to_string(), newest.to_string()))
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

/// Term counts per theme and language, the input of class-based TF-IDF,
/// and what backs each label-language term of a theme.
struct TermCounts<'a> {
    per_theme_language: Vec<BTreeMap<&'a str, HashMap<&'a str, usize>>>,
    paragraphs_per_language: Vec<HashMap<&'a str, usize>>,
    theme_totals: Vec<usize>,
    overall: HashMap<&'a str, usize>,
    /// Per theme, where its label-language terms occur.
    spread: Vec<HashMap<String, Spread<'a>>>,
    /// Per theme, its label-language paragraphs per file.
    label_files: Vec<HashMap<&'a str, usize>>,
    /// Label-language terms that read as names saying nothing about a
    /// theme: bylines, captions, signatures, people one article quotes.
    names: HashSet<&'a str>,
}

/// How many paragraphs a term occurs in, and in one file or more.
#[derive(Default, Clone, Copy)]
struct Spread<'a> {
    paragraphs: usize,
    first_file: Option<&'a str>,
    several_files: bool,
}

impl<'a> Spread<'a> {
    fn add(&mut self, file: &'a str) {
        self.paragraphs += 1;
        match self.first_file {
            None => self.first_file = Some(file),
            Some(first) => self.several_files |= first != file,
        }
    }

    /// Backed by more than one place: several paragraphs, and several
    /// files unless its one file is the theme's main source (holds
    /// [`MAIN_SOURCE_SHARE`] of the theme's label-language paragraphs,
    /// `files`): a word of the article most of the theme comes from names
    /// it, a word of an article that adds a paragraph or two does not.
    fn backs_a_label(&self, files: &HashMap<&str, usize>) -> bool {
        let total: usize = files.values().sum();
        let main_source = self.first_file.is_some_and(|file| {
            files.get(file).copied().unwrap_or(0) as f64 >= MAIN_SOURCE_SHARE * total as f64
        });
        self.paragraphs >= 2 && (self.several_files || main_source)
    }
}

impl<'a> TermCounts<'a> {
    fn count(
        terms: &'a terms::CorpusTerms,
        paragraphs: &'a [Paragraph],
        labels: &[usize],
        k: usize,
        label_language: &str,
    ) -> Self {
        let mut counts = TermCounts {
            per_theme_language: vec![BTreeMap::new(); k],
            paragraphs_per_language: vec![HashMap::new(); k],
            theme_totals: vec![0; k],
            overall: HashMap::new(),
            spread: vec![HashMap::new(); k],
            label_files: vec![HashMap::new(); k],
            names: terms::names(terms, paragraphs, label_language),
        };
        for (i, (p, &theme)) in paragraphs.iter().zip(labels).enumerate() {
            let language = p.language.as_str();
            if language == label_language {
                *counts.label_files[theme].entry(&p.file).or_default() += 1;
            }
            // A label-language word written in another language's paragraph
            // ("PPPoE" in a Japanese one) backs it there too.
            let distinct: HashSet<String> = terms.of(i).map(terms::root_key).collect();
            for key in distinct {
                counts.spread[theme].entry(key).or_default().add(&p.file);
            }
            let theme_counts = counts.per_theme_language[theme]
                .entry(language)
                .or_default();
            let mut term_count = 0;
            for term in terms.of(i) {
                *theme_counts.entry(term).or_default() += 1;
                *counts.overall.entry(term).or_default() += 1;
                term_count += 1;
            }
            counts.theme_totals[theme] += term_count;
            *counts.paragraphs_per_language[theme]
                .entry(language)
                .or_default() += 1;
        }
        counts
    }

    /// Per language of `theme` (largest first), its best terms.
    fn by_language(&self, theme: usize) -> Vec<(String, Vec<String>)> {
        self.ranked(theme, false)
            .into_iter()
            .map(|(_, language, terms)| {
                let words = terms
                    .into_iter()
                    .take(KEYWORDS_PER_LANGUAGE)
                    .map(str::to_string)
                    .collect();
                (language.to_string(), words)
            })
            .collect()
    }

    /// The candidates for labels in `language`: each theme's own best terms
    /// in it, and the language's most frequent terms in the whole corpus.
    fn candidates(&self, language: &str) -> labels::Candidates {
        let backed = |theme: usize, term: &str| {
            !self.names.contains(term)
                && self.spread[theme]
                    .get(&terms::root_key(term))
                    .is_some_and(|s| s.backs_a_label(&self.label_files[theme]))
        };
        let (own, unbacked): (Vec<Vec<String>>, Vec<bool>) = (0..self.theme_totals.len())
            .map(|theme| self.own_candidates(theme, language, &backed))
            .unzip();
        let mut totals: HashMap<&str, usize> = HashMap::new();
        for per_language in &self.per_theme_language {
            for (term, n) in per_language.get(language).into_iter().flatten() {
                *totals.entry(term).or_default() += n;
            }
        }
        let mut corpus: Vec<(&str, usize)> = totals
            .into_iter()
            .filter(|&(t, n)| n >= 2 && !self.names.contains(t))
            .collect();
        corpus.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let own_more = (0..self.theme_totals.len())
            .map(|theme| {
                let mut terms: Vec<(&str, usize)> = self.per_theme_language[theme]
                    .get(language)
                    .into_iter()
                    .flatten()
                    .map(|(t, n)| (*t, *n))
                    .collect();
                terms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                let taken: &Vec<String> = &own[theme];
                terms
                    .into_iter()
                    .filter(|&(t, _)| backed(theme, t))
                    .map(|(t, _)| t.to_string())
                    .filter(|t| !taken.contains(t))
                    .take(labels::MORE_CANDIDATES)
                    .collect()
            })
            .collect();
        labels::Candidates {
            own,
            unbacked,
            own_more,
            corpus: corpus.into_iter().map(|(t, _)| t.to_string()).collect(),
            speaks_label_language: self
                .paragraphs_per_language
                .iter()
                .map(|counts| counts.contains_key(language))
                .collect(),
        }
    }

    /// `theme`'s best terms in `language` that are `backed`; where none is
    /// (no term in paragraphs of several files), those in several of its
    /// paragraphs of one file, which still name it from its own text; where
    /// none is either, those of one paragraph, which the model then has to
    /// back (whether the theme's terms need that, beside them).
    fn own_candidates(
        &self,
        theme: usize,
        language: &str,
        backed: &dyn Fn(usize, &str) -> bool,
    ) -> (Vec<String>, bool) {
        let terms = |keep_rare: bool| {
            self.ranked(theme, keep_rare)
                .into_iter()
                .find(|(_, l, _)| *l == language)
                .map(|(_, _, terms)| terms)
                .unwrap_or_default()
        };
        let pick = |terms: &[&str], accept: &dyn Fn(&str) -> bool| -> Vec<String> {
            terms
                .iter()
                .filter(|t| accept(t))
                .take(labels::OWN_CANDIDATES)
                .map(|t| t.to_string())
                .collect()
        };
        let frequent = terms(false);
        let strict = pick(&frequent, &|t| backed(theme, t));
        if !strict.is_empty() {
            return (strict, false);
        }
        let in_several = |t: &str| {
            self.spread[theme]
                .get(&terms::root_key(t))
                .is_some_and(|s| s.paragraphs >= 2)
        };
        let one_file = pick(&frequent, &|t| !self.names.contains(t) && in_several(t));
        if !one_file.is_empty() {
            return (one_file, false);
        }
        (pick(&terms(true), &|t| !self.names.contains(t)), true)
    }

    /// Each language of `theme` with its paragraph count and its terms, best
    /// first; languages with the most paragraphs first. Terms of one
    /// occurrence count only in a language of few terms, or `keep_rare`.
    fn ranked(&self, theme: usize, keep_rare: bool) -> Vec<(usize, &'a str, Vec<&'a str>)> {
        let k = self.theme_totals.len();
        let average = self.theme_totals.iter().sum::<usize>() as f64 / k.max(1) as f64;
        let total = self.theme_totals[theme].max(1) as f64;
        let mut ranked: Vec<(usize, &str, Vec<&str>)> = self.per_theme_language[theme]
            .iter()
            .map(|(&language, counts)| {
                let mut scored: Vec<(f64, &str)> = counts
                    .iter()
                    .filter(|(_, &count)| keep_rare || count >= 2 || counts.len() < 20)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_listed_per_language_largest_first() {
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
            p("holiday travel plans", "en"),
            p("Photo: Alicia Butler at the holiday market", "en"),
            p("Alicia Butler, travel writer", "en"),
        ];
        let terms = terms::corpus_terms(&paragraphs);
        let counts = TermCounts::count(&terms, &paragraphs, &[0, 0, 0, 1, 1, 1, 1], 2, "en");
        let by_language = counts.by_language(0);
        assert_eq!(by_language[0].0, "en");
        assert_eq!(by_language[0].1[0], "marketing");
        assert_eq!(by_language[1].0, "he");
        let candidates = counts.candidates("en");
        let own = &candidates.own[1];
        assert!(own.contains(&"holiday".to_string()), "{own:?}");
        assert!(
            !own.contains(&"beach".to_string()),
            "in one paragraph: {own:?}"
        );
        assert!(
            !own.iter().any(|t| t.contains("alicia")),
            "a caption name: {own:?}"
        );
        assert!(candidates.corpus.contains(&"marketing budget".to_string()));
    }

    #[test]
    fn a_label_term_is_backed_by_the_theme_in_more_than_one_place() {
        let p = |file: &str, text: &str, language: &str| {
            let mut paragraph = Paragraph::new(file.into(), 1, text.into());
            paragraph.language = language.into();
            paragraph
        };
        let long =
            "which every reader of this long paragraph about the setup follows closely today";
        let paragraphs = vec![
            p(
                "main.txt",
                &format!("Dr. Jeffrey Liker says the firmware matters, {long}"),
                "en",
            ),
            p(
                "main.txt",
                &format!("Liker adds that the BIOS and the firmware matter, {long}"),
                "en",
            ),
            p(
                "main.txt",
                &format!("Set the BIOS before the customer arrives, {long}"),
                "en",
            ),
            p(
                "side.txt",
                &format!("Customers ask and customers wait for the modem, {long}"),
                "en",
            ),
            p(
                "side.txt",
                &format!("The modem answers slowly, {long}"),
                "en",
            ),
            p(
                "other-en.txt",
                &format!("PPPoE links the router, {long}"),
                "en",
            ),
            p("other-ja.txt", "PPPoE の設定を確認してください", "ja"),
        ];
        let terms = terms::corpus_terms(&paragraphs);
        let counts = TermCounts::count(&terms, &paragraphs, &[0, 0, 0, 0, 0, 1, 1], 2, "en");
        let candidates = counts.candidates("en");
        let (main, other) = (&candidates.own[0], &candidates.own[1]);
        let has = |own: &[String], term: &str| own.iter().any(|t| t == term);
        assert!(
            has(main, "firmware"),
            "two paragraphs of the main source: {main:?}"
        );
        assert!(has(main, "bios"), "an acronym is no person: {main:?}");
        assert!(!has(main, "liker"), "a person one article quotes: {main:?}");
        assert!(
            has(main, "customer") || has(main, "customers"),
            "customer and customers back each other: {main:?}"
        );
        assert!(
            !has(main, "modem"),
            "two paragraphs of a file with 2 of the theme's 5: {main:?}"
        );
        assert!(
            has(other, "pppoe"),
            "written in a Japanese paragraph too: {other:?}"
        );
    }
}
