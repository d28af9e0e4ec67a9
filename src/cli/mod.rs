//! The command line: flags become a [`JobConfig`] (or a subcommand's
//! settings), logging goes to stderr, and errors become exit codes and
//! messages that name the flag. The work itself is done by `job` and
//! `bench`.

mod bench;
mod values;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser};

use crate::cluster::{Debias, KChoice};
use crate::embed::{DeviceChoice, EmbedOptions, Engine, Precision, DEFAULT_MAX_TOKENS};
use crate::error::{shown, Classified, Fault, Setting};
use crate::folder::CACHE;
use crate::given;
use crate::ingest::{IngestOptions, DEFAULT_MAX_FILE_MB};
use crate::job::{self, JobConfig, JobError, ModelConfig};
use crate::language::{self, Allowed};
use crate::model::DEFAULT_MODEL;
use crate::progress::Progress;

/// Groups the paragraphs of articles in many languages into cross-language
/// themes and writes them as CSV for scripts, an Excel workbook and an HTML
/// report for people.
///
/// With no arguments, runs the whole job on seeds/ and writes to output/.
#[derive(Debug, Parser)]
#[command(name = "crossthemes", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<bench::Command>,
    #[command(flatten)]
    job: JobArgs,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Debug, Args)]
struct JobArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Folder for paragraphs.csv, themes.csv, theme_examples.csv and run.json.
    #[arg(long, default_value = "output")]
    output: PathBuf,
    /// Number of themes, or `auto` to choose it by silhouette.
    #[arg(long, default_value = "auto")]
    k: KChoice,
    /// Seed for k-means; the same input and seed give byte-identical CSVs.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Fewest paragraphs a theme holds; smaller clusters are dissolved into
    /// their nearest themes (default: a quarter of the mean theme size, at
    /// least 3, under `--k auto`; 1 under `--k N`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    min_theme_size: Option<u32>,
    /// Themes you name before the run: a CSV with the columns name and
    /// description (a phrase in any language; more rows with one name add
    /// phrases). Each is seeded from its phrases, keeps its name as label
    /// and its id across runs, and is listed even when empty.
    #[arg(long, value_name = "FILE")]
    themes: Option<PathBuf>,
    /// How the language signal is removed before clustering.
    #[arg(long, value_enum, default_value_t = Debias::Align)]
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
    #[arg(long, value_parser = language_code)]
    label_language: Option<String>,
}

/// Which article files are read, and how.
#[derive(Debug, Args)]
pub(super) struct InputArgs {
    /// Article files or folders, searched recursively for .txt, .md, .html and .htm (repeatable).
    #[arg(long, default_value = "seeds")]
    input: Vec<PathBuf>,
    /// Largest article file read, in MB; a larger one is left out with a
    /// warning (and counted in run.json).
    #[arg(long, default_value_t = DEFAULT_MAX_FILE_MB, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_file_mb: u64,
    /// Stop at the first file that cannot be read (exit code 2), instead of
    /// leaving it out with a warning.
    #[arg(long)]
    strict: bool,
}

impl InputArgs {
    /// The files or folders given.
    pub(super) fn paths(&self) -> &[PathBuf] {
        &self.input
    }

    pub(super) fn options(&self) -> IngestOptions {
        IngestOptions {
            max_file_bytes: self.max_file_mb * 1_000_000,
            strict: self.strict,
        }
    }
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
    /// Number format of the model's matrix products: bf16 runs bf16 products
    /// on CPUs with AVX512-BF16; int8 (AVX512-VNNI or AVX-VNNI) is for the
    /// bench-* subcommands only. Both fall back to f32 elsewhere, with a warning.
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
    let cli = parse();
    init_logging(&cli.log);
    if let Some(asked) = cli.model.threads {
        set_threads(asked);
    }
    let model = cli.model.config();
    let progress = Progress::new(cli.log.quiet);
    let result = match cli.command {
        None => cli
            .job
            .config(model, progress)
            .and_then(|config| job::run(&config))
            .map_err(anyhow::Error::from),
        Some(command) => bench::run(command, &model, progress),
    };
    match result {
        Ok(()) => 0,
        Err(error) => report_error(&error),
    }
}

/// The command line, where the job's own flags come without a subcommand
/// (the model and log flags go with either, before or after it).
fn parse() -> Cli {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let makes_themes = matches!(cli.command, None | Some(bench::Command::Embed { .. }));
    if makes_themes && cli.model.precision == Precision::Int8 {
        Cli::command()
            .error(
                clap::error::ErrorKind::InvalidValue,
                "--precision int8 runs in the bench-* subcommands only: its themes agree \
                 across languages measurably less than f32's (docs/benchmarks.md); use f32 or bf16",
            )
            .exit();
    }
    if cli.command.is_some() {
        let job_flags = JobArgs::augment_args(clap::Command::new("job"));
        let given = job_flags.get_arguments().find(|arg| {
            matches.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine)
        });
        if let Some(arg) = given {
            let flag = arg.get_long().unwrap_or(arg.get_id().as_str());
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--{flag} is a flag of the job, not of a subcommand; give a \
                         subcommand's own flags after its name"
                    ),
                )
                .exit();
        }
    }
    cli
}

/// Sizes the worker pools: `asked` threads, at most one per core.
fn set_threads(asked: u32) {
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

/// Prints `error` on one line, naming the flag where a setting is wrong;
/// returns the exit code: 2 for a mistake the user can fix, 3 when the
/// output folder or the cache is busy with another run (a scheduler can
/// retry), 1 for anything else.
fn report_error(error: &anyhow::Error) -> i32 {
    let fault = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<JobError>())
        .map_or(Fault::Failure, JobError::fault);
    let flag = match (fault, error.downcast_ref::<JobError>()) {
        (Fault::Usage(Some(setting)), Some(_)) => format!("{} ", flag(setting)),
        _ => String::new(),
    };
    // A closed or broken stderr must not turn an error into a panic.
    // File names reach the terminal escaped: no escape sequences, no bidi
    // overrides from a name an attacker chose.
    let _ = writeln!(
        std::io::stderr(),
        "error: {flag}{}",
        shown(&format!("{error:#}"))
    );
    match fault {
        Fault::Usage(_) => 2,
        Fault::Busy => 3,
        Fault::Failure => 1,
    }
}

/// The flag that sets `setting`.
fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Input => "--input",
        Setting::Output => "--output",
        Setting::Cache => "--cache",
        Setting::K => "--k",
        Setting::Languages => "--languages",
        Setting::LabelLanguage => "--label-language",
        Setting::Device => "--device",
        Setting::Engine => "--engine",
        Setting::Themes => "--themes",
    }
}

impl JobArgs {
    fn config(self, model: ModelConfig, progress: Progress) -> Result<JobConfig, JobError> {
        Ok(JobConfig {
            languages: Allowed::parse(&self.languages)?,
            label_language: self.label_language,
            cache: self.cache.unwrap_or_else(|| self.output.join(CACHE)),
            ingest: self.input.options(),
            inputs: self.input.input,
            output: self.output,
            k: self.k,
            seed: self.seed,
            debias: self.debias,
            min_theme_size: self.min_theme_size.map(|n| n as usize),
            named: match &self.themes {
                Some(path) => given::read(path)?,
                None => Vec::new(),
            },
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

fn language_code(text: &str) -> Result<String, String> {
    let code = text.trim().to_lowercase();
    if language::is_known_code(&code) {
        Ok(code)
    } else {
        Err("not an ISO 639-1 code this build knows (e.g. en, de, zh)".into())
    }
}
