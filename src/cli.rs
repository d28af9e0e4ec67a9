//! The command line: flags become a [`JobConfig`] (or a benchmark's
//! settings), logging goes to stderr, and errors become exit codes. The work
//! itself is done by `job` and `bench`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::bench;
use crate::cluster::{ClusterError, Debias, KChoice};
use crate::describe::NoSuchLanguage;
use crate::embed::{DeviceChoice, EmbedError, EmbedOptions, Engine, Precision, DEFAULT_MAX_TOKENS};
use crate::ingest::IngestError;
use crate::job::{self, JobConfig, ModelConfig};
use crate::language::{Allowed, UnknownLanguage};
use crate::model::{ModelError, DEFAULT_MODEL};
use crate::output::OutputError;
use crate::progress::Progress;
use crate::refresh::cache::CacheError;
use crate::refresh::lock::LockError;
use crate::refresh::shard::Shard;
use crate::refresh::RefreshError;

/// The embedding cache's file name in the output folder.
const CACHE_FILE: &str = "cache.sqlite";

/// Groups the paragraphs of articles in many languages into cross-language
/// themes and writes them as CSV for scripts, an Excel workbook and an HTML
/// report for people.
///
/// With no arguments, runs the whole job on seeds/ and writes to output/.
#[derive(Debug, Parser)]
#[command(name = "crossthemes", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    job: JobArgs,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
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
        #[arg(long = "keep", default_values_t = [0.5, 1.0 / 3.0])]
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
        #[arg(long, default_value_t = 100_000)]
        paragraphs: usize,
        /// Themes.
        #[arg(long, default_value_t = 30)]
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
        /// Article files or folders, as for the job (repeatable).
        #[arg(long, default_value = "seeds")]
        input: Vec<PathBuf>,
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
        #[arg(long = "paragraphs", default_values_t = [10_000, 100_000, 1_000_000])]
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

#[derive(Debug, Args)]
struct JobArgs {
    /// Article files or folders, searched recursively for .txt, .md, .html and .htm (repeatable).
    #[arg(long, default_value = "seeds")]
    input: Vec<PathBuf>,
    /// Folder for paragraphs.csv, themes.csv, theme_examples.csv and run.json.
    #[arg(long, default_value = "output")]
    output: PathBuf,
    /// Number of themes, or `auto` to choose it by silhouette.
    #[arg(long, default_value = "auto")]
    k: KChoice,
    /// Seed for k-means; the same input and seed give byte-identical CSVs.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// How the language signal is removed before clustering.
    #[arg(long, value_enum, default_value_t = Debias::Joint)]
    debias: Debias,
    /// Also write embeddings.npy (float32, one row per line of paragraphs.csv).
    #[arg(long)]
    save_embeddings: bool,
    /// The embedding cache (SQLite); default: cache.sqlite in the output folder.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Ignore the previous runs' themes and choose them afresh (ids are still never reused).
    #[arg(long)]
    rebuild: bool,
    /// The languages the corpus is in, as ISO 639-1 codes (`en,de,zh`):
    /// detection chooses among them alone (default: any language).
    #[arg(long, value_delimiter = ',')]
    languages: Vec<String>,
    /// The language of labels and keywords, as an ISO 639-1 code (default:
    /// English where the corpus has English paragraphs, else its most
    /// common language).
    #[arg(long)]
    label_language: Option<String>,
}

#[derive(Debug, Args)]
struct ModelArgs {
    /// Hugging Face repo id or local model directory.
    #[arg(long, global = true, default_value = DEFAULT_MODEL)]
    model: String,
    /// Where downloaded and converted models are kept.
    #[arg(long, global = true, default_value = "models")]
    models_dir: PathBuf,
    /// Where the model runs; a GPU needs a build with --features cuda or metal.
    #[arg(long, global = true, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
    /// Number format of the model's matrix products: bf16 is about twice as
    /// fast on CPUs with AVX512-BF16 (falls back to f32 elsewhere).
    #[arg(long, global = true, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    /// What runs the model: auto is the native backend on the CPU and candle
    /// on a GPU; candle on the CPU is the slower reference implementation.
    #[arg(long, global = true, value_enum, default_value_t = Engine::Auto)]
    engine: Engine,
    /// Most paragraphs per forward pass.
    #[arg(long, global = true, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,
    /// Tokens of one paragraph the model reads at most; a longer paragraph
    /// is embedded from its start, with a warning naming it.
    #[arg(long, global = true, default_value_t = DEFAULT_MAX_TOKENS as u32, value_parser = clap::value_parser!(u32).range(1..))]
    max_paragraph_tokens: u32,
    /// Worker threads (default: all cores; more than the cores is slower,
    /// so a larger number is lowered to them).
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
}

#[derive(Debug, Args)]
struct LogArgs {
    /// Print nothing but errors.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More detail in the log (-v, -vv).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging(&cli.log);
    if let Some(asked) = cli.model.threads {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        let threads = asked.min(cores);
        if threads < asked {
            tracing::warn!("--threads {asked}: this machine has {cores} cores; using {cores}");
        }
        // candle's matrix kernels size their pools from this variable too.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads as usize)
            .build_global()
        {
            tracing::warn!("--threads: {e}");
        }
    }
    let model = cli.model.config();
    let progress = Progress::new(cli.log.quiet);
    let result = match cli.command {
        None => cli
            .job
            .config(model, progress)
            .map_err(anyhow::Error::from)
            .and_then(|config| job::run(&config)),
        Some(Command::Throughput { input, dump_inputs }) => {
            bench::embed_speed(&model, progress, &input, dump_inputs.as_deref())
        }
        Some(Command::CrossLanguage {
            gold,
            k,
            keep,
            draws,
            seed,
            seeds,
        }) => bench::themes(
            &model,
            progress,
            &gold,
            k,
            &keep,
            draws,
            seed_range(seed, seeds),
        ),
        Some(Command::Refresh { gold, article }) => bench::refresh(&model, &gold, &article),
        Some(Command::Embed {
            shard,
            input,
            output,
            cache,
        }) => job::embed_shard(
            &input,
            &cache.unwrap_or_else(|| output.join(CACHE_FILE)),
            shard,
            &model,
            progress,
        ),
        Some(Command::Scale { paragraphs, save }) => bench::scale(&paragraphs, save.as_deref()),
        Some(Command::Report {
            paragraphs,
            themes,
            output,
        }) => bench::report(paragraphs, themes, &output),
        Some(Command::Stability {
            input,
            noise,
            trials,
            k,
            seed,
            seeds,
        }) => bench::stability(
            &model,
            progress,
            &bench::StabilityArgs {
                inputs: input,
                noise,
                trials: trials as usize,
                k,
                seeds: seed_range(seed, seeds),
            },
        ),
    };
    match result {
        Ok(()) => 0,
        Err(error) => {
            // A closed or broken stderr must not turn an error into a panic.
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            exit_code(&error)
        }
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

impl JobArgs {
    fn config(self, model: ModelConfig, progress: Progress) -> Result<JobConfig, UnknownLanguage> {
        Ok(JobConfig {
            languages: Allowed::parse(&self.languages)?,
            label_language: self.label_language,
            cache: self.cache.unwrap_or_else(|| self.output.join(CACHE_FILE)),
            inputs: self.input,
            output: self.output,
            k: self.k,
            seed: self.seed,
            debias: self.debias,
            save_embeddings: self.save_embeddings,
            rebuild: self.rebuild,
            model,
            progress,
        })
    }
}

impl ModelArgs {
    fn config(&self) -> ModelConfig {
        ModelConfig {
            spec: self.model.clone(),
            models_dir: self.models_dir.clone(),
            device: self.device,
            options: EmbedOptions {
                batch_size: self.batch_size as usize,
                max_tokens: self.max_paragraph_tokens as usize,
                precision: self.precision,
                engine: self.engine,
                ..EmbedOptions::default()
            },
        }
    }
}

/// 3 when the output folder or the cache is busy with another run (a
/// scheduler can retry), 2 for a usage or input mistake the user can fix,
/// 1 for anything else.
fn exit_code(error: &anyhow::Error) -> i32 {
    let cache = |e: &CacheError| match e {
        CacheError::Busy { .. } => Some(3),
        CacheError::NotAFile { .. } | CacheError::NotAShardCache { .. } => Some(2),
        _ => None,
    };
    let code = if let Some(e) = error.downcast_ref::<LockError>() {
        match e {
            LockError::Busy { .. } => Some(3),
            LockError::NotAFile { .. } => Some(2),
            LockError::Io { .. } => None,
        }
    } else if let Some(e) = error.downcast_ref::<CacheError>() {
        cache(e)
    } else if let Some(RefreshError::Cache(e)) = error.downcast_ref::<RefreshError>() {
        cache(e)
    } else if error.downcast_ref::<IngestError>().is_some()
        || error.downcast_ref::<UnknownLanguage>().is_some()
        || error.downcast_ref::<NoSuchLanguage>().is_some()
    {
        Some(2)
    } else {
        let usage = matches!(
            error.downcast_ref::<OutputError>(),
            Some(OutputError::Unwritable { .. })
        ) || matches!(
            error.downcast_ref::<ClusterError>(),
            Some(ClusterError::KTooLarge { .. })
        ) || matches!(
            error.downcast_ref::<EmbedError>(),
            Some(EmbedError::Model(ModelError::BadDir { .. }) | EmbedError::Device(_))
        ) || matches!(
            error.downcast_ref::<ModelError>(),
            Some(ModelError::BadDir { .. })
        );
        usage.then_some(2)
    };
    code.unwrap_or(1)
}

fn init_logging(log: &LogArgs) {
    let level = match (log.quiet, log.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("CROSSTHEMES_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("warn,crossthemes={level}"))
        });
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        // Its own report of a failed write would panic on a broken stderr.
        .log_internal_errors(false)
        .init();
}

fn noise_size(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n > 0.0 && n < 1.0 => Ok(n),
        _ => Err("a mean 1 − cosine between 0 and 1 is expected, e.g. 3e-6".into()),
    }
}
