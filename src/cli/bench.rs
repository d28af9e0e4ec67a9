//! The subcommands: embedding one shard, and the benchmarks that print the
//! project's figures. Each becomes a call into `job` or `bench`.

use std::path::PathBuf;

use clap::{CommandFactory, Subcommand};

use super::{Cli, InputArgs};
use crate::bench;
use crate::cluster::KChoice;
use crate::embed::shard::Shard;
use crate::embed::Precision;
use crate::folder::CACHE;
use crate::job::{self, ModelConfig};
use crate::progress::Progress;

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Measure embedding speed: paragraphs, tokens, seconds, tokens/s, peak
    /// memory, device, and the arithmetic rate beside the CPU's peak.
    #[command(name = "bench-embed")]
    Throughput {
        /// Article files or folders to embed (repeatable).
        #[arg(long, default_value = "seeds")]
        input: Vec<PathBuf>,
        /// Also write the exact model inputs, one JSON string per line (for
        /// benches/pytorch_reference.py).
        #[arg(long)]
        dump_inputs: Option<PathBuf>,
    },
    /// Score how cross-language the themes are on a gold set of translations
    /// (translation-pair agreement, NMI with the gold theme, NMI with language).
    #[command(name = "bench-themes")]
    CrossLanguage {
        /// gold.csv with columns file,text,chapter,lang,group.
        #[arg(long, default_value = "../shared/bench/installguide/gold.csv")]
        gold: PathBuf,
        /// Number of themes.
        #[arg(long, default_value_t = 13)]
        k: usize,
        /// Imbalanced variants: keep this fraction of the chapters per language (repeatable).
        #[arg(long = "keep", default_values_t = [2.0 / 3.0, 0.5, 1.0 / 3.0, 1.0 / 6.0])]
        keep: Vec<f64>,
        /// Random draws per imbalanced variant.
        #[arg(long, default_value_t = 3)]
        draws: u64,
        /// Seed for k-means and for the chapters dropped (the first of `--seeds`).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Run seeds SEED, SEED+1, … (this many) on the same vectors and print
        /// each figure's mean, with the agreement's standard error.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        seeds: u64,
        /// Also embed with this precision and print the agreement's
        /// difference from it, seed by seed (e.g. `--precision int8 --against f32`).
        #[arg(long, value_enum)]
        against: Option<Precision>,
    },
    /// How well theme labels name their themes, with the model as judge:
    /// labels embedded as queries, paragraphs as passages; the share of
    /// paragraphs whose own theme's label is the most similar, overall and
    /// per language, beside the top 3 c-TF-IDF words (BERTopic's default).
    #[command(name = "bench-labels")]
    Labels {
        /// Article files or folders (repeatable).
        #[arg(long, default_value = "seeds")]
        input: Vec<PathBuf>,
        /// Number of themes, or `auto`, as for the job.
        #[arg(long, default_value = "auto")]
        k: KChoice,
    },
    /// How well the report's map keeps translations together and themes
    /// apart: translations / random pairs and the silhouette of themes on a
    /// gold set, and the silhouette and seconds on synthetic corpora.
    #[command(name = "bench-map")]
    Map {
        /// gold.csv with columns file,text,chapter,lang,group.
        #[arg(long, default_value = "../shared/bench/installguide/gold.csv")]
        gold: PathBuf,
        /// Number of themes on the gold set.
        #[arg(long, default_value_t = 13)]
        k: usize,
        /// Sizes of the synthetic corpora (repeatable).
        #[arg(long = "paragraphs", default_values_t = [1_000, 20_000, 100_000], value_parser = synthetic_count)]
        paragraphs: Vec<usize>,
    },
    /// How much numeric noise in the vectors the themes tolerate: add noise
    /// of each size, cluster again, count the paragraphs that change theme.
    #[command(name = "bench-stability")]
    Stability {
        /// Article files or folders (repeatable).
        #[arg(long, default_value = "seeds")]
        input: Vec<PathBuf>,
        /// Noise sizes, as the mean 1 − cosine to the original vectors (repeatable).
        #[arg(long = "noise", default_values_t = [3e-6, 3e-5, 3e-4], value_parser = noise_size)]
        noise: Vec<f64>,
        /// Trials per noise size.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        trials: u32,
        /// Number of themes, or `auto`, as for the job.
        #[arg(long, default_value = "auto")]
        k: KChoice,
        /// Seed for k-means and for the noise (the first of `--seeds`).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Run seeds SEED, SEED+1, … (this many) on the same vectors and
        /// print the trials of all of them together.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        seeds: u64,
    },
    /// Build report.html for a synthetic corpus of any size: its size and
    /// build time (open the page in a browser to time its load).
    #[command(name = "bench-report")]
    Report {
        /// Paragraphs.
        #[arg(long, default_value_t = 100_000, value_parser = synthetic_count)]
        paragraphs: usize,
        /// Themes.
        #[arg(long, default_value_t = 30, value_parser = synthetic_count)]
        themes: usize,
        /// Where the page goes.
        #[arg(long, default_value = "target/bench-report.html")]
        output: PathBuf,
    },
    /// Embed one share of the paragraphs into a cache file of its own, for
    /// embedding on many machines (a Kubernetes Indexed Job, a Slurm job
    /// array); the next plain run takes the shard caches into its cache.
    #[command(name = "embed")]
    Embed {
        /// Which share: I/N, 1 ≤ I ≤ N (a 0-based index such as
        /// JOB_COMPLETION_INDEX needs +1).
        #[arg(long)]
        shard: Shard,
        #[command(flatten)]
        input: InputArgs,
        /// The job's output folder; the shard cache goes beside its cache.
        #[arg(long, default_value = "output")]
        output: PathBuf,
        /// The job's cache (default: cache.sqlite in the output folder); the
        /// shard writes CACHE-NAME.shard-I-of-N.sqlite beside it.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// The cluster stage (auto k, debiasing included) on synthetic
    /// paragraph-like vectors of each size: seconds and peak memory.
    #[command(name = "bench-scale")]
    Scale {
        /// Paragraphs (repeatable).
        #[arg(long = "paragraphs", default_values_t = [10_000, 100_000, 1_000_000], value_parser = synthetic_count)]
        paragraphs: Vec<usize>,
        /// Folder to save each size's vectors (.npy) and chosen k in, for
        /// benches/faiss_kmeans.py.
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Time a refresh that adds one article to a corpus of thousands of cached
    /// paragraphs, next to a full run over the same corpus.
    #[command(name = "bench-refresh")]
    Refresh {
        /// gold.csv whose paragraphs and sentences make the corpus.
        #[arg(long, default_value = "../shared/bench/installguide/gold.csv")]
        gold: PathBuf,
        /// The article that arrives.
        #[arg(long, default_value = "seeds/000_83d050db8f9f875e.txt")]
        article: PathBuf,
    },
}

/// Runs a subcommand.
pub(super) fn run(command: Command, model: &ModelConfig, progress: Progress) -> anyhow::Result<()> {
    match command {
        Command::Throughput { input, dump_inputs } => {
            bench::embed_speed(model, progress, &input, dump_inputs.as_deref())
        }
        Command::CrossLanguage {
            gold,
            k,
            keep,
            draws,
            seed,
            seeds,
            against,
        } => {
            let args = bench::ThemeBenchArgs {
                gold,
                k,
                keep,
                draws,
                seeds: seed_range(seed, seeds),
                against,
            };
            bench::themes(model, progress, &args)
        }
        Command::Refresh { gold, article } => bench::refresh(model, &gold, &article),
        Command::Embed {
            shard,
            input,
            output,
            cache,
        } => Ok(job::embed_shard(
            (input.paths(), &input.options()),
            &cache.unwrap_or_else(|| output.join(CACHE)),
            shard,
            model,
            progress,
        )?),
        Command::Map {
            gold,
            k,
            paragraphs,
        } => bench::map(model, progress, &gold, k, &paragraphs),
        Command::Labels { input, k } => bench::labels(model, progress, &input, k),
        Command::Scale { paragraphs, save } => bench::scale(&paragraphs, save.as_deref()),
        Command::Report {
            paragraphs,
            themes,
            output,
        } => bench::report(paragraphs, themes, &output),
        Command::Stability {
            input,
            noise,
            trials,
            k,
            seed,
            seeds,
        } => bench::stability(
            model,
            progress,
            &bench::StabilityArgs {
                inputs: input,
                noise,
                trials: trials as usize,
                k,
                seeds: seed_range(seed, seeds),
            },
        ),
    }
}

/// Seeds `seed`, `seed + 1`, … (`seeds` of them); a range that would pass
/// the largest seed is a usage error, like any other bad flag.
fn seed_range(seed: u64, seeds: u64) -> std::ops::Range<u64> {
    match seed.checked_add(seeds) {
        Some(end) => seed..end,
        None => Cli::command()
            .error(
                clap::error::ErrorKind::ValueValidation,
                format!(
                    "--seed {seed} --seeds {seeds}: their sum must not pass {}; lower --seed or --seeds",
                    u64::MAX
                ),
            )
            .exit(),
    }
}

fn noise_size(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n > 0.0 && n < 1.0 => Ok(n),
        _ => Err("a mean 1 − cosine between 0 and 1 is expected, e.g. 3e-6".into()),
    }
}

/// Most synthetic paragraphs a benchmark makes: ten million 384-dimension
/// vectors are 15 GB already.
const MOST_SYNTHETIC: usize = 10_000_000;

fn synthetic_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MOST_SYNTHETIC).contains(&n) => Ok(n),
        _ => Err(format!(
            "a whole number from 1 to {MOST_SYNTHETIC} is expected"
        )),
    }
}
