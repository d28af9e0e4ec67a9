//! The command line: flags, logging, progress, and the job that runs the
//! stages in order (ingest → language → embed → cluster → describe → output).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::bench;
use crate::cluster::{self, ClusterError, ClusterOptions, Debias, KChoice};
use crate::describe;
use crate::embed::{
    DeviceChoice, EmbedError, EmbedOptions, Embedder, Engine, ModelStore, Precision, DEFAULT_MODEL,
};
use crate::ingest::{self, IngestError};
use crate::language;
use crate::output::{self, OutputError};
use crate::refresh::{self, cache::EmbeddingCache, lock::LockError, History};

/// The embedding cache's file name in the output folder.
const CACHE_FILE: &str = "cache.sqlite";

/// Groups the paragraphs of articles in many languages into cross-language
/// themes and writes them as spreadsheet-ready CSV.
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
        /// Seed for k-means and for the chapters dropped.
        #[arg(long, default_value_t = 42)]
        seed: u64,
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
        /// Seed for k-means and for the noise.
        #[arg(long, default_value_t = 42)]
        seed: u64,
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
    /// Worker threads (default: all cores).
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
    if let Some(threads) = cli.model.threads {
        // candle's matrix kernels size their pools from this variable too.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(threads as usize)
            .build_global()
        {
            tracing::warn!("--threads: {e}");
        }
    }
    let result = match &cli.command {
        None => run_job(&cli),
        Some(Command::Throughput { input, dump_inputs }) => {
            bench_embed(&cli, input, dump_inputs.as_deref())
        }
        Some(Command::CrossLanguage {
            gold,
            k,
            keep,
            draws,
            seed,
        }) => bench_themes(&cli, gold, *k, keep, *draws, *seed),
        Some(Command::Refresh { gold, article }) => bench_refresh(&cli, gold, article),
        Some(Command::Stability {
            input,
            noise,
            trials,
            k,
            seed,
        }) => bench_stability(&cli, input, noise, *trials as usize, *k, *seed),
    };
    match result {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error:#}");
            exit_code(&error)
        }
    }
}

/// 3 when another run holds the output folder (a scheduler can retry), 2 for
/// a usage or input mistake the user can fix, 1 for anything else.
fn exit_code(error: &anyhow::Error) -> i32 {
    if matches!(
        error.downcast_ref::<LockError>(),
        Some(LockError::Busy { .. })
    ) {
        return 3;
    }
    let user_mistake = error.downcast_ref::<IngestError>().is_some()
        || matches!(
            error.downcast_ref::<OutputError>(),
            Some(OutputError::Unwritable { .. })
        )
        || matches!(
            error.downcast_ref::<ClusterError>(),
            Some(ClusterError::KTooLarge { .. })
        )
        || matches!(
            error.downcast_ref::<EmbedError>(),
            Some(EmbedError::BadModelDir { .. } | EmbedError::Device(_))
        );
    if user_mistake {
        2
    } else {
        1
    }
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
        .init();
}

fn show_progress(cli: &Cli) -> bool {
    !cli.log.quiet && std::io::stderr().is_terminal()
}

/// A bar that stays hidden until its first step, so that the log lines
/// printed before the work starts do not tear it; see [`step`].
fn progress_bar(length: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(length as u64), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn step(cli: &Cli, bar: &ProgressBar, done: usize) {
    if bar.is_hidden() && show_progress(cli) {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    bar.set_position(done as u64);
}

/// A spinner for work whose length is not known in advance.
fn spinner(cli: &Cli, what: &str) -> ProgressBar {
    if !show_progress(cli) {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner().with_message(what.to_string());
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

fn load_embedder(cli: &Cli) -> anyhow::Result<Embedder> {
    let model = ModelStore::new(&cli.model.models_dir).resolve(&cli.model.model)?;
    let options = EmbedOptions {
        batch_size: cli.model.batch_size as usize,
        precision: cli.model.precision,
        engine: cli.model.engine,
        ..EmbedOptions::default()
    };
    Ok(Embedder::load(model, cli.model.device, options)?)
}

fn embed_with_progress(
    cli: &Cli,
    embedder: &Embedder,
    texts: &[&str],
) -> anyhow::Result<(ndarray::Array2<f32>, crate::embed::EmbedStats)> {
    let bar = progress_bar(texts.len(), "embedding");
    let result = embedder.embed(texts, &|done| step(cli, &bar, done));
    bar.finish_and_clear();
    Ok(result?)
}

fn run_job(cli: &Cli) -> anyhow::Result<()> {
    let job = &cli.job;
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let today = started.format("%Y-%m-%d").to_string();
    let mut timings = serde_json::Map::new();
    let mut lap = {
        let mut last = Instant::now();
        move |stage: &str, timings: &mut serde_json::Map<String, serde_json::Value>| {
            let seconds = last.elapsed().as_secs_f64();
            timings.insert(
                stage.to_string(),
                json!((seconds * 1000.0).round() / 1000.0),
            );
            last = Instant::now();
        }
    };

    output::prepare_dir(&job.output)?;
    let _lock = refresh::lock::acquire(&job.output)?;
    let cache_path = job
        .cache
        .clone()
        .unwrap_or_else(|| job.output.join(CACHE_FILE));
    let mut cache = EmbeddingCache::open(&cache_path)?;
    let stored_history = History::load(&job.output);

    let corpus = ingest::read_corpus(&job.input)?;
    let skipped: usize = corpus.skipped.values().sum();
    tracing::info!(
        "read {} files: {} paragraphs, {} pieces left out as junk",
        corpus.files.len(),
        corpus.paragraphs.len(),
        skipped
    );
    if let KChoice::Fixed(k) = job.k {
        if k > corpus.paragraphs.len() {
            return Err(ClusterError::KTooLarge {
                k,
                paragraphs: corpus.paragraphs.len(),
            }
            .into());
        }
    }
    lap("ingest", &mut timings);

    let texts: Vec<&str> = corpus.paragraphs.iter().map(|p| p.text.as_str()).collect();
    let languages = language::detect_all(&texts);
    lap("language", &mut timings);

    let embedder = load_embedder(cli)?;
    let model_identity = embedder.identity();
    lap("model_load", &mut timings);
    let bar = progress_bar(texts.len(), "embedding");
    let (embeddings, stats, reused) =
        refresh::embed_with_cache(&embedder, &mut cache, &texts, &|done| step(cli, &bar, done))?;
    bar.finish_and_clear();
    lap("embed", &mut timings);

    // History counts only when it was made with the same model; --rebuild
    // and a model change start the themes over but never reuse an id.
    let history = match &stored_history {
        Some(_) if job.rebuild => {
            tracing::info!("--rebuild: themes start over");
            None
        }
        Some(h) if h.model != model_identity => {
            tracing::warn!("the model changed since the last run; themes start over");
            None
        }
        other => other.as_ref(),
    };
    let mut options = ClusterOptions {
        k: job.k,
        seed: job.seed,
        debias: job.debias,
        ..Default::default()
    };
    let mut kept_k = false;
    if let Some(h) = history {
        options.init = h.warm_start();
        if job.k == KChoice::Auto && h.themes.len() <= corpus.paragraphs.len() {
            options.k = KChoice::Fixed(h.themes.len());
            kept_k = true;
        }
    }
    let spinner = spinner(cli, "clustering");
    let mut clustering = cluster::cluster(embeddings.view(), &languages, &options)?;
    spinner.finish_and_clear();
    if kept_k {
        clustering.selection.method = "kept from the previous run (--rebuild chooses again)".into();
    }
    tracing::info!(
        "{} themes ({})",
        clustering.k(),
        clustering.selection.method
    );
    lap("cluster", &mut timings);

    let mut themes = describe::describe(&corpus.paragraphs, &languages, &clustering);
    lap("describe", &mut timings);

    let seen = cache.first_seen(&texts)?;
    let is_new: Vec<bool> = seen.iter().map(Option::is_none).collect();
    let first_seen: Vec<String> = seen
        .into_iter()
        .map(|d| d.unwrap_or_else(|| today.clone()))
        .collect();
    let previous = refresh::Previous {
        history,
        next_id: stored_history.as_ref().map_or(1, |h| h.next_theme_id),
        model: &model_identity,
    };
    let assignment = refresh::assign_ids(&previous, &clustering, &themes, &texts, &is_new, &today);
    for (theme, &id) in themes.iter_mut().zip(&assignment.ids) {
        theme.id = id;
    }
    let new_paragraphs = is_new.iter().filter(|&&n| n).count();

    let mut language_counts = std::collections::BTreeMap::new();
    for l in &languages {
        *language_counts.entry(l.as_str()).or_insert(0usize) += 1;
    }
    let model = embedder.model();
    let mut run = json!({
        "crossthemes_version": env!("CARGO_PKG_VERSION"),
        "started_at": started.to_rfc3339(),
        "inputs": job.input,
        "output": job.output,
        "cache": cache_path,
        "model": {
            "name": model.name,
            "directory": model.dir,
            "identity": model_identity,
            "provenance": model.provenance,
        },
        "device": embedder.device(),
        "precision": embedder.precision(),
        "embedding": {"batch_size": cli.model.batch_size, "embedded": stats.texts, "reused_from_cache": reused, "stats": stats},
        "k": clustering.k(),
        "k_selection": clustering.selection,
        "debias": job.debias,
        "seed": job.seed,
        "refresh": {
            "rebuild": job.rebuild,
            "previous_themes": history.map_or(0, |h| h.themes.len()),
            "new_paragraphs": new_paragraphs,
            "themes_retired": assignment.retired_now,
        },
        "counts": {
            "files": corpus.files.len(),
            "paragraphs": corpus.paragraphs.len(),
            "skipped": corpus.skipped,
            "languages": language_counts,
        },
        "files": corpus.files,
        "decoded_as": corpus.decoded_as,
    });
    lap("report", &mut timings);
    run["timings_seconds"] = serde_json::Value::Object(timings);
    let mut runs = output::read_runs(&job.output);
    runs.push(vec![
        started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        corpus.files.len().to_string(),
        corpus.paragraphs.len().to_string(),
        new_paragraphs.to_string(),
        stats.texts.to_string(),
        reused.to_string(),
        clustering.k().to_string(),
        format!("{:.1}", clock.elapsed().as_secs_f64()),
    ]);
    let report = output::Report {
        paragraphs: &corpus.paragraphs,
        languages: &languages,
        clustering: &clustering,
        themes: &themes,
        run: &run,
        embeddings: job.save_embeddings.then_some(&embeddings),
        first_seen: &first_seen,
        is_new: &is_new,
        changes: &assignment.changes,
        runs: &runs,
        history: &assignment.history,
    };
    let written = output::write_report(&job.output, &report)?;
    let newly_seen: Vec<&str> = texts
        .iter()
        .zip(&is_new)
        .filter(|(_, &n)| n)
        .map(|(t, _)| *t)
        .collect();
    cache.mark_seen(&newly_seen, &today)?;
    let cross = themes
        .iter()
        .filter(|t| t.languages.iter().filter(|(_, n)| *n >= 2).count() >= 2)
        .count();
    tracing::info!(
        "wrote {} files to {}: {} themes, {} of them with two or more languages; {} new paragraphs",
        written.len(),
        job.output.display(),
        themes.len(),
        cross,
        new_paragraphs
    );
    Ok(())
}

fn bench_embed(cli: &Cli, inputs: &[PathBuf], dump: Option<&Path>) -> anyhow::Result<()> {
    let corpus = ingest::read_corpus(inputs)?;
    let texts: Vec<&str> = corpus.paragraphs.iter().map(|p| p.text.as_str()).collect();
    let embedder = load_embedder(cli)?;
    if let Some(path) = dump {
        let lines: Vec<String> = texts
            .iter()
            .map(|t| serde_json::to_string(&embedder.model_input(t)))
            .collect::<Result<_, _>>()?;
        std::fs::write(path, lines.join("\n") + "\n")
            .with_context(|| format!("--dump-inputs {}", path.display()))?;
    }
    let threads = rayon::current_num_threads();
    let started = Instant::now();
    let (_, stats) = embed_with_progress(cli, &embedder, &texts)?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = bench::peak_memory_bytes().map_or("unknown".to_string(), |b| {
        format!("{:.0} MiB", b as f64 / 1048576.0)
    });
    println!("model        {}", embedder.model().name);
    println!(
        "device       {} ({threads} threads, batch size {}, {})",
        embedder.device(),
        cli.model.batch_size,
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
    if embedder.device() == "cpu" {
        match crate::embed::peak_gflops(embedder.precision()) {
            Some((gflops, instruction)) => println!(
                "cpu peak     {gflops:.0} GFLOP/s ({instruction} alone on {threads} threads)"
            ),
            None => println!("cpu peak     not measured (no vector multiply-add we use)"),
        }
    }
    Ok(())
}

fn noise_size(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n > 0.0 && n < 1.0 => Ok(n),
        _ => Err("a mean 1 − cosine between 0 and 1 is expected, e.g. 3e-6".into()),
    }
}

fn bench_stability(
    cli: &Cli,
    inputs: &[PathBuf],
    noise: &[f64],
    trials: usize,
    k: KChoice,
    seed: u64,
) -> anyhow::Result<()> {
    let corpus = ingest::read_corpus(inputs)?;
    let texts: Vec<&str> = corpus.paragraphs.iter().map(|p| p.text.as_str()).collect();
    let languages = language::detect_all(&texts);
    let embedder = load_embedder(cli)?;
    let (embeddings, _) = embed_with_progress(cli, &embedder, &texts)?;
    let options = ClusterOptions {
        k,
        seed,
        ..ClusterOptions::default()
    };
    let spinner = spinner(cli, "clustering");
    let (base_k, rows) = bench::theme_stability(&embeddings, &languages, &options, noise, trials)?;
    spinner.finish_and_clear();
    println!(
        "{} paragraphs, {base_k} themes, {} vectors, {trials} trials per noise size",
        texts.len(),
        embedder.precision()
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

fn bench_themes(
    cli: &Cli,
    gold_path: &Path,
    k: usize,
    keep: &[f64],
    draws: u64,
    seed: u64,
) -> anyhow::Result<()> {
    let gold = bench::read_gold(gold_path)?;
    let texts: Vec<&str> = gold.iter().map(|g| g.text.as_str()).collect();
    let embedder = load_embedder(cli)?;
    let (embeddings, _) =
        embed_with_progress(cli, &embedder, &texts).context("embedding the gold paragraphs")?;
    let rows = bench::theme_benchmark(&gold, &embeddings, k, keep, draws, seed)?;
    println!("{} paragraphs, k = {k}, seed {seed}", gold.len());
    println!(
        "| variant | debias | paragraphs | agreement | NMI(theme, gold) | NMI(theme, language) |"
    );
    println!("|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {:?} | {} | {:.3} | {:.3} | {:.3} |",
            row.variant,
            row.debias,
            row.paragraphs,
            row.scores.agreement,
            row.scores.nmi_gold,
            row.scores.nmi_language
        );
    }
    Ok(())
}

/// Runs this very binary as a scheduler would and times it.
fn timed_run(cli: &Cli, input: &Path, output: &Path) -> anyhow::Result<(f64, serde_json::Value)> {
    let started = Instant::now();
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .arg("--model")
        .arg(&cli.model.model)
        .arg("--models-dir")
        .arg(&cli.model.models_dir)
        .arg("--quiet")
        .status()?;
    anyhow::ensure!(status.success(), "the timed run failed ({status})");
    let seconds = started.elapsed().as_secs_f64();
    let run = serde_json::from_str(&std::fs::read_to_string(output.join(output::RUN_JSON))?)?;
    Ok((seconds, run))
}

fn bench_refresh(cli: &Cli, gold_path: &Path, article: &Path) -> anyhow::Result<()> {
    let gold = bench::read_gold(gold_path)?;
    anyhow::ensure!(
        article.is_file(),
        "--article {}: no such file",
        article.display()
    );
    let work = tempfile::tempdir()?;
    let corpus = work.path().join("corpus");
    std::fs::create_dir(&corpus)?;
    bench::write_sentence_corpus(&gold, &corpus)?;

    let full_out = work.path().join("full");
    let (full_seconds, full) = timed_run(cli, &corpus, &full_out)?;
    let paragraphs = &full["counts"]["paragraphs"];
    println!(
        "full run     {paragraphs} paragraphs, {} embedded: {full_seconds:.1} s",
        full["embedding"]["embedded"]
    );

    let name = article
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("--article has no file name"))?;
    std::fs::copy(article, corpus.join(name))?;
    let (refresh_seconds, refreshed) = timed_run(cli, &corpus, &full_out)?;
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
