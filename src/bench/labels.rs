//! `bench-labels`: how well theme labels name their themes, with the model
//! as judge. Every label is embedded as a search query (e5's "query: "),
//! every paragraph as a passage; a paragraph is fitted when its own theme's
//! label is the most similar of all labels. The job's labels are scored
//! beside BERTopic's default representation (the top 3 words of each theme
//! by class-based TF-IDF, every language together) on the same themes,
//! overall and per language.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ndarray::Array2;

use crate::cluster::{self, default_min_theme_size, ClusterOptions, KChoice};
use crate::describe::{self, Labelling};
use crate::embed::cache::EmbeddingCache;
use crate::embed::CachedEmbedder;
use crate::ingest::{self, Paragraph};
use crate::job::ModelConfig;
use crate::language;
use crate::progress::Progress;

/// Words in the anchor's labels, as BERTopic shows a topic.
const ANCHOR_WORDS: usize = 3;

/// Prints label fit of the job's labels and of the anchor on `inputs`
/// clustered with `k`.
pub fn labels(
    model: &ModelConfig,
    progress: Progress,
    inputs: &[PathBuf],
    k: KChoice,
) -> anyhow::Result<()> {
    let mut corpus = ingest::read_corpus(inputs, &Default::default())?;
    language::identify(&mut corpus.paragraphs, &Default::default());
    let paragraphs = &corpus.paragraphs;
    let embedder = model.load()?;
    let scratch = tempfile::tempdir()?;
    let cache = EmbeddingCache::open(&scratch.path().join("cache.sqlite"))?;
    let mut cached = CachedEmbedder::new(&embedder, cache);
    let passages = {
        let bar = progress.bar(paragraphs.len(), "embedding");
        let all: Vec<&Paragraph> = paragraphs.iter().collect();
        cached.paragraphs(&all, &|done| bar.step(done))?.vectors
    };
    let languages: Vec<&str> = paragraphs.iter().map(|p| p.language.as_str()).collect();
    let options = ClusterOptions {
        k,
        ..ClusterOptions::default()
    };
    let clustering = cluster::cluster(passages.clone(), &languages, &options)?;
    let label_language = describe::label_language(paragraphs, None)?;
    let themes = describe::describe(
        paragraphs,
        &clustering,
        Labelling {
            language: &label_language,
            embedder: &mut cached,
            names: &[],
        },
    )?;
    let ours: Vec<String> = themes.iter().map(|t| t.label.clone()).collect();
    let anchor =
        describe::class_tfidf_labels(paragraphs, &clustering.labels, clustering.k(), ANCHOR_WORDS);
    let mut fit = |labels: &[String]| -> anyhow::Result<Vec<bool>> {
        let queries = cached.queries(labels)?;
        Ok(fitted(&passages, &queries, &clustering.labels))
    };
    let (ours_fit, anchor_fit) = (fit(&ours)?, fit(&anchor)?);

    let sizes: Vec<usize> = themes.iter().map(|t| t.size).collect();
    let minimum = default_min_theme_size(paragraphs.len());
    println!(
        "{} paragraphs, {} themes ({}), labels in {label_language}; themes under {minimum} \
         paragraphs (the default minimum at this size): {} of {}",
        paragraphs.len(),
        clustering.k(),
        clustering.selection.method,
        sizes.iter().filter(|&&s| s < minimum).count(),
        sizes.len()
    );
    print_fit_table(
        &languages,
        &label_language,
        &[
            ("crossthemes", &ours_fit),
            ("c-TF-IDF top 3 (BERTopic)", &anchor_fit),
        ],
    );
    println!();
    print_theme_table(
        &themes,
        &anchor,
        &clustering.labels,
        [&ours_fit, &anchor_fit],
    );
    Ok(())
}

/// One row per theme: its size, languages, both labels and how many of its
/// paragraphs each fits (`labels`: each paragraph's theme; `fits`: ours,
/// the anchor's).
fn print_theme_table(
    themes: &[describe::Theme],
    anchor: &[String],
    labels: &[usize],
    fits: [&[bool]; 2],
) {
    println!("| theme | size | languages | crossthemes | fit | c-TF-IDF top 3 | fit |");
    println!("|---|---|---|---|---|---|---|");
    let theme_fit = |fit: &[bool], theme: usize| {
        let (hits, total) = labels
            .iter()
            .zip(fit)
            .filter(|(&t, _)| t == theme)
            .fold((0, 0), |(h, n), (_, &f)| (h + usize::from(f), n + 1));
        format!("{hits}/{total}")
    };
    for (theme, anchor) in themes.iter().zip(anchor) {
        println!(
            "| {} | {} | {} | {} | {} | {anchor} | {} |",
            theme.cluster + 1,
            theme.size,
            theme.language_summary(),
            theme.label,
            theme_fit(fits[0], theme.cluster),
            theme_fit(fits[1], theme.cluster),
        );
    }
}

/// For each paragraph, whether its own theme's label is the most similar
/// of all labels (`queries`: one row per theme).
fn fitted(passages: &Array2<f32>, queries: &Array2<f32>, labels: &[usize]) -> Vec<bool> {
    let scores = passages.dot(&queries.t());
    scores
        .rows()
        .into_iter()
        .zip(labels)
        .map(|(row, &own)| {
            row.iter()
                .enumerate()
                .all(|(theme, &s)| theme == own || s < row[own])
        })
        .collect()
}

/// One row per method: the share of paragraphs fitted, overall, per
/// language (largest first) and outside the label language.
fn print_fit_table(languages: &[&str], label_language: &str, methods: &[(&str, &Vec<bool>)]) {
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for l in languages {
        *sizes.entry(l).or_default() += 1;
    }
    let mut order: Vec<(&str, usize)> = sizes.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let header: Vec<String> = order.iter().map(|(l, n)| format!("{l} ({n})")).collect();
    println!(
        "| labels | all | {} | not {label_language} |",
        header.join(" | ")
    );
    println!("|---|---|{}---|", "---|".repeat(order.len()));
    for (name, fit) in methods {
        let share = |keep: &dyn Fn(&str) -> bool| {
            let (hits, total) = languages
                .iter()
                .zip(fit.iter())
                .filter(|(l, _)| keep(l))
                .fold((0, 0), |(h, t), (_, &f)| (h + usize::from(f), t + 1));
            if total == 0 {
                "–".to_string()
            } else {
                format!("{:.3}", hits as f64 / total as f64)
            }
        };
        let per_language: Vec<String> = order
            .iter()
            .map(|(language, _)| share(&|l| l == *language))
            .collect();
        println!(
            "| {name} | {} | {} | {} |",
            share(&|_| true),
            per_language.join(" | "),
            share(&|l| l != label_language)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_paragraph_is_fitted_where_its_own_label_is_nearest() {
        let passages = array![[1.0f32, 0.0], [0.0, 1.0], [0.6, 0.8]];
        let queries = array![[1.0f32, 0.0], [0.0, 1.0]];
        assert_eq!(
            fitted(&passages, &queries, &[0, 1, 0]),
            vec![true, true, false]
        );
    }
}
