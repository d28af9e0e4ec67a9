//! `bench-map`: how well the report's theme map keeps translations together
//! and themes apart, and what it costs. On a gold set of translations: the
//! mean map distance between translations of one paragraph over that of
//! random pairs (lower is better), the silhouette of the themes on the map,
//! and the seconds the layout takes; on synthetic corpora of each size, the
//! silhouette and the seconds.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use crate::cluster::{self, ClusterOptions, KChoice};
use crate::job::ModelConfig;
use crate::output;
use crate::progress::Progress;

/// Map points the silhouette is computed on at most (it is quadratic).
const SILHOUETTE_POINTS: usize = 2_000;

/// Prints the map's figures on `gold` (clustered with `k`) and on
/// synthetic corpora of `sizes` paragraphs.
pub fn map(
    model: &ModelConfig,
    progress: Progress,
    gold_path: &Path,
    k: usize,
    sizes: &[usize],
) -> anyhow::Result<()> {
    let gold = super::read_gold(gold_path)?;
    let texts: Vec<&str> = gold.iter().map(|g| g.text.as_str()).collect();
    let embedder = model.load()?;
    let (embeddings, _) = super::embed_all(progress, &embedder, &texts, &|| {})
        .context("embedding the gold paragraphs")?;
    let languages: Vec<&str> = gold.iter().map(|g| g.lang.as_str()).collect();
    let options = ClusterOptions {
        k: KChoice::Fixed(k),
        ..ClusterOptions::default()
    };
    let clustering = cluster::cluster(embeddings, &languages, &options)?;
    let started = Instant::now();
    let places = output::project(clustering.vectors.view(), &clustering.labels, k);
    let seconds = started.elapsed().as_secs_f64();
    let groups: Vec<&str> = gold.iter().map(|g| g.group.as_str()).collect();
    println!(
        "t-SNE fitted on up to {} paragraphs, the rest placed among their nearest fitted ones",
        output::MAP_FITTED
    );
    println!(
        "| corpus | paragraphs | translations / random pairs | silhouette of themes | seconds |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| {} (k = {k}) | {} | {:.3} | {:.3} | {seconds:.2} |",
        gold_path.display(),
        gold.len(),
        translation_ratio(&places, &groups),
        silhouette(&places, &clustering.labels)
    );
    for &size in sizes {
        let themes = 30.min(size);
        let (vectors, labels, _, _) = super::synthetic_corpus(size, themes);
        let started = Instant::now();
        let places = output::project(vectors.view(), &labels, themes);
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "| synthetic, {themes} themes | {size} | – | {:.3} | {seconds:.2} |",
            silhouette(&places, &labels)
        );
    }
    Ok(())
}

fn distance(a: (f32, f32), b: (f32, f32)) -> f64 {
    (((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)) as f64).sqrt()
}

/// Mean distance between members of one group over the mean distance of
/// all pairs.
fn translation_ratio(places: &[(f32, f32)], groups: &[&str]) -> f64 {
    let mut members: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, g) in groups.iter().enumerate() {
        members.entry(g).or_default().push(i);
    }
    let (mut within, mut pairs) = (0.0, 0usize);
    for rows in members.values() {
        for (a, &i) in rows.iter().enumerate() {
            for &j in &rows[a + 1..] {
                within += distance(places[i], places[j]);
                pairs += 1;
            }
        }
    }
    let n = places.len();
    let (mut all, mut all_pairs) = (0.0, 0usize);
    for i in 0..n {
        for j in i + 1..n {
            all += distance(places[i], places[j]);
            all_pairs += 1;
        }
    }
    (within / pairs.max(1) as f64) / (all / all_pairs.max(1) as f64).max(1e-12)
}

/// Mean silhouette of `labels` on the map, over points spread evenly
/// through the input.
fn silhouette(places: &[(f32, f32)], labels: &[usize]) -> f64 {
    let n = places.len();
    let points: Vec<usize> = (0..SILHOUETTE_POINTS.min(n))
        .map(|i| i * n / SILHOUETTE_POINTS.min(n))
        .collect();
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let scores: Vec<f64> = points
        .iter()
        .filter_map(|&i| {
            let mut sums = vec![(0.0, 0usize); k];
            for &j in points.iter().filter(|&&j| j != i) {
                let s = &mut sums[labels[j]];
                s.0 += distance(places[i], places[j]);
                s.1 += 1;
            }
            let (own_sum, own_n) = sums[labels[i]];
            if own_n == 0 {
                return None;
            }
            let a = own_sum / own_n as f64;
            let b = sums
                .iter()
                .enumerate()
                .filter(|&(l, s)| l != labels[i] && s.1 > 0)
                .map(|(_, s)| s.0 / s.1 as f64)
                .fold(f64::INFINITY, f64::min);
            b.is_finite().then(|| (b - a) / a.max(b).max(1e-12))
        })
        .collect();
    scores.iter().sum::<f64>() / scores.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_scores_reward_groups_together_and_themes_apart() {
        let places = [(0.0, 0.0), (1.0, 0.0), (100.0, 0.0), (101.0, 0.0)];
        assert!(translation_ratio(&places, &["a", "a", "b", "b"]) < 0.05);
        assert!(translation_ratio(&places, &["a", "b", "a", "b"]) > 1.0);
        assert!(silhouette(&places, &[0, 0, 1, 1]) > 0.95);
        assert!(silhouette(&places, &[0, 1, 0, 1]) < 0.0);
    }
}
