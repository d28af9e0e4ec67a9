//! Benchmarks anyone can run, as subcommands of the binary: embedding speed
//! beside the CPU's peak, how cross-language the themes are on a gold set of
//! translations, how much numeric noise the themes tolerate, and what a
//! refresh costs next to a full run. Each prints its figures as a table.

mod labels;
mod map;
mod measure;
mod scale;

pub use labels::labels;
pub use map::map;
pub use scale::scale;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ndarray::Array2;

use crate::cluster::{ClusterOptions, KChoice};
use crate::embed::{EmbedOptions, EmbedStats, Embedder, Precision};
use crate::ingest::{self, Corpus};
use crate::job::ModelConfig;
use crate::language;
use crate::output;
use crate::progress::Progress;

pub use measure::{read_gold, theme_benchmark, GoldParagraph, Scores, ThemeBenchRow};

/// Embeds `texts` behind a progress bar; `after_batch` runs after each batch.
fn embed_all(
    progress: Progress,
    embedder: &Embedder,
    texts: &[&str],
    after_batch: &dyn Fn(),
) -> anyhow::Result<(Array2<f32>, EmbedStats)> {
    let bar = progress.bar(texts.len(), "embedding");
    Ok(embedder.embed(texts, &|done| {
        bar.step(done);
        after_batch();
    })?)
}

fn texts(corpus: &Corpus) -> Vec<&str> {
    corpus.paragraphs.iter().map(|p| p.text.as_str()).collect()
}

/// `bench-embed`: paragraphs, tokens, seconds, tokens/s, peak memory,
/// device, and the arithmetic rate beside the CPU's peak. With `dump`, also
/// writes the exact model inputs, one JSON string per line.
pub fn embed_speed(
    model: &ModelConfig,
    progress: Progress,
    inputs: &[PathBuf],
    dump: Option<&Path>,
) -> anyhow::Result<()> {
    let corpus = ingest::read_corpus(inputs, &Default::default())?;
    let texts = texts(&corpus);
    let embedder = model.load()?;
    if let Some(path) = dump {
        let lines: Vec<String> = texts
            .iter()
            .map(|t| serde_json::to_string(&embedder.model_input(t)))
            .collect::<Result<_, _>>()?;
        std::fs::write(path, lines.join("\n") + "\n")
            .with_context(|| format!("--dump-inputs {}", path.display()))?;
    }
    let threads = rayon::current_num_threads();
    let on_cpu = embedder.device().starts_with("cpu");
    let sampler = std::cell::RefCell::new(
        on_cpu
            .then(|| crate::embed::PeakSampler::new(embedder.precision()))
            .flatten(),
    );
    // Seconds spent on peak samples, left out of the run's own time.
    let sampling = std::cell::Cell::new(0.0);
    let started = Instant::now();
    let (_, stats) = embed_all(progress, &embedder, &texts, &|| {
        if let Some(sampler) = sampler.borrow_mut().as_mut() {
            sampling.set(sampling.get() + sampler.sample());
        }
    })?;
    let seconds = started.elapsed().as_secs_f64() - sampling.get();
    let peak = measure::peak_memory_bytes().map_or("unknown".to_string(), |b| {
        format!("{:.0} MiB", b as f64 / 1048576.0)
    });
    println!("model        {}", embedder.model().name);
    println!(
        "device       {} ({threads} threads, batch size {}, {})",
        embedder.device(),
        model.options.batch_size,
        embedder.precision()
    );
    println!("paragraphs   {}", stats.texts);
    println!(
        "tokens       {} ({} with padding)",
        stats.tokens, stats.padded_tokens
    );
    println!("seconds      {seconds:.2}");
    println!("tokens/s     {:.0}", stats.tokens as f64 / seconds);
    println!("paragraphs/s {:.1}", stats.texts as f64 / seconds);
    println!("peak memory  {peak}");
    println!(
        "arithmetic   {:.0} GFLOP/s (the encoder's matrix products, padding excluded)",
        stats.flops as f64 / seconds / 1e9
    );
    if on_cpu {
        match crate::embed::peak_gflops(embedder.precision()) {
            Some((gflops, instruction)) => println!(
                "cpu peak     {gflops:.0} GFLOP/s ({instruction} alone on {threads} threads, best of {} tries)",
                crate::embed::PEAK_TRIES
            ),
            None => println!("cpu peak     not measured (no vector multiply-add we use)"),
        }
        if let Some((gflops, samples)) = sampler.borrow().as_ref().and_then(|s| s.gflops()) {
            println!(
                "peak in run  {gflops:.0} GFLOP/s (the same, sampled after each of {samples} batches; arithmetic is {:.0} % of it)",
                stats.flops as f64 / seconds / 1e9 / gflops * 100.0
            );
        }
    }
    Ok(())
}

/// Settings of `bench-stability`.
pub struct StabilityArgs {
    /// Article files or folders.
    pub inputs: Vec<PathBuf>,
    /// Noise sizes, as the mean 1 − cosine to the original vectors.
    pub noise: Vec<f64>,
    /// Trials per noise size.
    pub trials: usize,
    /// Number of themes, or auto.
    pub k: KChoice,
    /// Seeds for k-means and for the noise, each run on the same vectors.
    pub seeds: std::ops::Range<u64>,
}

/// `bench-stability`: adds noise of each size to the vectors, clusters
/// again, and counts the paragraphs that change theme.
pub fn stability(
    model: &ModelConfig,
    progress: Progress,
    args: &StabilityArgs,
) -> anyhow::Result<()> {
    let mut corpus = ingest::read_corpus(&args.inputs, &Default::default())?;
    language::identify(&mut corpus.paragraphs, &Default::default());
    let languages: Vec<&str> = corpus
        .paragraphs
        .iter()
        .map(|p| p.language.as_str())
        .collect();
    let embedder = model.load()?;
    let (embeddings, _) = embed_all(progress, &embedder, &texts(&corpus), &|| {})?;
    let runs = {
        let _spinner = progress.spinner("clustering");
        args.seeds
            .clone()
            .map(|seed| {
                let options = ClusterOptions {
                    k: args.k,
                    seed,
                    ..ClusterOptions::default()
                };
                measure::theme_stability(
                    &embeddings,
                    &languages,
                    &options,
                    &args.noise,
                    args.trials,
                )
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut base_ks: Vec<usize> = runs.iter().map(|(base_k, _)| *base_k).collect();
    base_ks.sort_unstable();
    base_ks.dedup();
    let themes = base_ks
        .iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let seed_count = runs.len();
    let mut runs = runs.into_iter().map(|(_, rows)| rows);
    let mut rows = runs.next().unwrap_or_default();
    for run in runs {
        for (total, row) in rows.iter_mut().zip(run) {
            total.add(&row);
        }
    }
    let seed_words = seed_words(&args.seeds);
    println!(
        "{} paragraphs, {themes} themes, {} vectors, {} trials per noise size, {seed_words}",
        languages.len(),
        embedder.precision(),
        args.trials * seed_count
    );
    println!("| noise (mean 1 − cosine) | seen | trials that changed themes | k changed | most paragraphs moved |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {:.1e} | {:.1e} | {} / {} | {} | {} |",
            r.noise, r.seen, r.changed, r.trials, r.k_changed, r.most_moved
        );
    }
    Ok(())
}

/// "seed S", or "seeds A..=B" for a range of several.
fn seed_words(seeds: &std::ops::Range<u64>) -> String {
    if seeds.end - seeds.start > 1 {
        format!("seeds {}..={}", seeds.start, seeds.end - 1)
    } else {
        format!("seed {}", seeds.start)
    }
}

/// Settings of `bench-themes`.
pub struct ThemeBenchArgs {
    /// gold.csv.
    pub gold: PathBuf,
    /// Number of themes.
    pub k: usize,
    /// Imbalanced variants: the fraction of chapters kept per language.
    pub keep: Vec<f64>,
    /// Random draws per imbalanced variant.
    pub draws: u64,
    /// k-means seeds.
    pub seeds: std::ops::Range<u64>,
    /// Another precision to embed with and compare against, seed by seed.
    pub against: Option<Precision>,
}

/// `bench-themes`: translation-pair agreement, NMI with the gold themes and
/// with language, per debiasing and variant, as means over the seeds; with
/// `against`, also the agreement's difference from that precision's, seed
/// by seed (a paired difference and its standard error).
pub fn themes(
    model: &ModelConfig,
    progress: Progress,
    args: &ThemeBenchArgs,
) -> anyhow::Result<()> {
    let gold = measure::read_gold(&args.gold)?;
    let runs = theme_runs(model, progress, &gold, args)?;
    let several = runs.len() > 1;
    let seed_words = if several {
        format!("{} (means)", seed_words(&args.seeds))
    } else {
        seed_words(&args.seeds)
    };
    println!("{} paragraphs, k = {}, {seed_words}", gold.len(), args.k);
    println!(
        "| variant | debias | paragraphs | agreement | NMI(theme, gold) | NMI(theme, language) |"
    );
    println!("|---|---|---|---|---|---|");
    for (i, row) in runs[0].iter().enumerate() {
        let column = |f: &dyn Fn(&measure::Scores) -> f64| -> Vec<f64> {
            runs.iter().map(|run| f(&run[i].scores)).collect()
        };
        let agreement = column(&|s| s.agreement);
        let agreement = if several {
            format!(
                "{:.3} ± {:.3}",
                mean(&agreement),
                standard_error(&agreement)
            )
        } else {
            format!("{:.3}", mean(&agreement))
        };
        println!(
            "| {} | {:?} | {} | {agreement} | {:.3} | {:.3} |",
            row.variant,
            row.debias,
            row.paragraphs,
            mean(&column(&|s| s.nmi_gold)),
            mean(&column(&|s| s.nmi_language))
        );
    }
    if let Some(against) = args.against {
        let other = ModelConfig {
            options: EmbedOptions {
                precision: against,
                ..model.options.clone()
            },
            ..model.clone()
        };
        let baseline = theme_runs(&other, progress, &gold, args)?;
        print_paired(&runs, &baseline, (model.options.precision, against));
    }
    Ok(())
}

/// Each seed's theme benchmark on the gold set embedded with `model`.
fn theme_runs(
    model: &ModelConfig,
    progress: Progress,
    gold: &[measure::GoldParagraph],
    args: &ThemeBenchArgs,
) -> anyhow::Result<Vec<Vec<measure::ThemeBenchRow>>> {
    let texts: Vec<&str> = gold.iter().map(|g| g.text.as_str()).collect();
    let embedder = model.load()?;
    let (embeddings, _) =
        embed_all(progress, &embedder, &texts, &|| {}).context("embedding the gold paragraphs")?;
    args.seeds
        .clone()
        .map(|seed| {
            measure::theme_benchmark(gold, &embeddings, args.k, &args.keep, args.draws, seed)
        })
        .collect()
}

/// Agreement of `runs` less that of `baseline`, seed by seed, as a mean and
/// its standard error (the seeds pair the two: same draws, same starts).
fn print_paired(
    runs: &[Vec<measure::ThemeBenchRow>],
    baseline: &[Vec<measure::ThemeBenchRow>],
    (precision, against): (Precision, Precision),
) {
    println!();
    println!(
        "| variant | debias | agreement {precision} | agreement {against} | difference (paired) |"
    );
    println!("|---|---|---|---|---|");
    for (i, row) in runs[0].iter().enumerate() {
        let ours: Vec<f64> = runs.iter().map(|run| run[i].scores.agreement).collect();
        let theirs: Vec<f64> = baseline.iter().map(|run| run[i].scores.agreement).collect();
        let difference: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a - b).collect();
        println!(
            "| {} | {:?} | {:.3} | {:.3} | {:+.4} ± {:.4} |",
            row.variant,
            row.debias,
            mean(&ours),
            mean(&theirs),
            mean(&difference),
            standard_error(&difference)
        );
    }
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// The standard error of the mean (0 for fewer than two values).
fn standard_error(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    let variance = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    (variance / xs.len() as f64).sqrt()
}

/// Runs this very binary as a scheduler would and times it.
fn timed_run(
    model: &ModelConfig,
    input: &Path,
    output: &Path,
) -> anyhow::Result<(f64, serde_json::Value)> {
    let started = Instant::now();
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .arg("--model")
        .arg(&model.spec)
        .arg("--models-dir")
        .arg(&model.models_dir)
        .arg("--quiet")
        .status()?;
    anyhow::ensure!(status.success(), "the timed run failed ({status})");
    let seconds = started.elapsed().as_secs_f64();
    let run = serde_json::from_str(&std::fs::read_to_string(
        output.join(crate::folder::RUN_JSON),
    )?)?;
    Ok((seconds, run))
}

/// `bench-refresh`: a refresh that adds `article` to a corpus of thousands
/// of cached paragraphs (the gold set's sentences), next to a full run.
pub fn refresh(model: &ModelConfig, gold_path: &Path, article: &Path) -> anyhow::Result<()> {
    let gold = measure::read_gold(gold_path)?;
    anyhow::ensure!(
        article.is_file(),
        "--article {}: no such file",
        article.display()
    );
    let work = tempfile::tempdir()?;
    let corpus = work.path().join("corpus");
    std::fs::create_dir(&corpus)?;
    measure::write_sentence_corpus(&gold, &corpus)?;

    let full_out = work.path().join("full");
    let (full_seconds, full) = timed_run(model, &corpus, &full_out)?;
    let paragraphs = &full["counts"]["paragraphs"];
    println!(
        "full run     {paragraphs} paragraphs, {} embedded: {full_seconds:.1} s",
        full["embedding"]["embedded"]
    );

    let name = article
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("--article has no file name"))?;
    std::fs::copy(article, corpus.join(name))?;
    let (refresh_seconds, refreshed) = timed_run(model, &corpus, &full_out)?;
    println!(
        "refresh      {} paragraphs, {} embedded, {} from the cache: {refresh_seconds:.1} s",
        refreshed["counts"]["paragraphs"],
        refreshed["embedding"]["embedded"],
        refreshed["embedding"]["reused_from_cache"]
    );
    println!(
        "ratio        the refresh takes {:.1}% of the full run",
        100.0 * refresh_seconds / full_seconds
    );
    println!("refresh stages (s): {}", refreshed["timings_seconds"]);
    Ok(())
}

/// `bench-report`: builds report.html for `paragraphs` synthetic paragraphs
/// in `themes` themes and 8 languages (text of realistic length, vectors
/// clustered around theme centres) and prints its size and build time; the
/// page is left at `output` to time in a browser.
pub fn report(paragraphs: usize, themes: usize, output: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        themes >= 1 && paragraphs >= themes,
        "--themes must be 1 to --paragraphs"
    );
    let (vectors, labels, records, named) = synthetic_corpus(paragraphs, themes);
    let started = Instant::now();
    let places = output::project(vectors.view(), &labels, themes);
    let pages = output::Pages {
        paragraphs: &records,
        themes: &named,
        trends: &[],
    };
    let header = output::Header {
        files: paragraphs / 20 + 1,
        label_language: "en",
        model: "synthetic",
        day: "2026-01-01",
    };
    let mut html = Vec::new();
    output::write_report_html(&mut html, &pages, &header, &places)?;
    let seconds = started.elapsed().as_secs_f64();
    std::fs::write(output, &html).with_context(|| format!("--output {}", output.display()))?;
    println!("paragraphs   {paragraphs} ({themes} themes)");
    println!("report.html  {:.1} MB", html.len() as f64 / 1e6);
    println!("built in     {seconds:.2} s (projection and page)");
    println!("written to   {}", output.display());
    Ok(())
}

/// The synthetic corpus [`report`] draws: paragraphs of realistic length in
/// 8 languages, vectors clustered around theme centres, and the themes.
type Synthetic = (
    Array2<f32>,
    Vec<usize>,
    Vec<crate::ingest::Paragraph>,
    Vec<crate::describe::NamedTheme>,
);

pub(crate) fn synthetic_corpus(paragraphs: usize, themes: usize) -> Synthetic {
    use crate::describe::{Example, NamedTheme, Theme};
    use crate::ingest::Paragraph;
    use rand_xoshiro::rand_core::{RngCore, SeedableRng};

    let languages = ["en", "de", "fr", "he", "zh", "ja", "ko", "ru"];
    let mut rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(42);
    let mut uniform = move || (rng.next_u32() as f32 / u32::MAX as f32) - 0.5;
    let dim = 64;
    let centres: Vec<Vec<f32>> = (0..themes)
        .map(|_| (0..dim).map(|_| uniform()).collect())
        .collect();
    let mut vectors = Array2::<f32>::zeros((paragraphs, dim));
    let mut labels = Vec::with_capacity(paragraphs);
    let mut records = Vec::with_capacity(paragraphs);
    for i in 0..paragraphs {
        let theme = i % themes;
        for (d, c) in centres[theme].iter().enumerate() {
            vectors[[i, d]] = c + 0.3 * uniform();
        }
        // Unit rows, as the language-corrected vectors are.
        let mut row = vectors.row_mut(i);
        let norm = row.dot(&row).sqrt().max(1e-12);
        row /= norm;
        labels.push(theme);
        let mut p = Paragraph::new(
            format!("article-{:05}.txt", i / 20),
            i % 20 + 1,
            format!("Paragraph {i} of the benchmark corpus, about theme {theme}. ").repeat(5),
        );
        p.language = languages[i % languages.len()].to_string();
        p.theme = theme + 1;
        p.similarity = 0.8;
        // As after a refresh: the last articles' paragraphs are new.
        p.is_new = i >= paragraphs - paragraphs / 10;
        records.push(p);
    }
    let named: Vec<NamedTheme> = (0..themes)
        .map(|t| NamedTheme {
            id: t + 1,
            first_seen: "2026-01-01".into(),
            new_paragraphs: 0,
            previous_theme: String::new(),
            named: false,
            theme: Theme {
                cluster: t,
                label: format!("topic {t} · words · phrase"),
                topic: t % 5 + 1,
                topic_label: format!("topic {} · words · phrase", t % 5),
                size: paragraphs / themes,
                languages: languages
                    .iter()
                    .map(|l| (l.to_string(), paragraphs / themes / 8))
                    .collect(),
                cohesion: 0.6,
                keywords: vec!["alpha".into(), "beta".into()],
                keywords_by_language: vec![("en".into(), vec!["alpha".into()])],
                representative: Some(t),
                files: 3,
                single_source: false,
                articles: None,
                examples: (0..2)
                    .map(|rank| Example {
                        language: languages[(t + rank * themes) % 8].to_string(),
                        rank: rank + 1,
                        paragraph: t + rank * themes,
                        similarity: 0.8,
                    })
                    .filter(|e| e.paragraph < paragraphs)
                    .collect(),
            },
        })
        .collect();
    (vectors, labels, records, named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_error_is_that_of_the_mean() {
        assert_eq!(standard_error(&[0.5]), 0.0);
        // Sample variance of 1, 2, 3 is 1; over √3 values.
        assert!((standard_error(&[1.0, 2.0, 3.0]) - 1.0 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean(&[1.0, 2.0, 3.0]), 2.0);
    }
}
