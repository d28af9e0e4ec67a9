//! The job: runs the stages in order on one configuration, from the article
//! files to the report files.
//!
//! output folder opened → ingest → language → embed (through the cache) →
//! cluster → describe → theme ids → output (one set, committed in the
//! folder) → first sightings remembered in the cache. Each stage's room
//! owns its work; this module only hands results from one to the next.

mod error;
mod record;
mod write;

use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::cluster::{
    self, ClusterError, ClusterOptions, Clustering, Debias, KChoice, NamedQueries,
};
use crate::describe::{self, Labelling};
use crate::embed::cache::EmbeddingCache;
use crate::embed::shard::{self, Shard};
use crate::embed::{CachedEmbedder, DeviceChoice, EmbedOptions, EmbedStats, Embedder};
use crate::folder::OutputFolder;
use crate::given::GivenTheme;
use crate::ingest::{self, Corpus, IngestOptions, Paragraph};
use crate::language::{self, Allowed};
use crate::model::ModelStore;
use crate::progress::Progress;
use crate::run_record::Stopwatch;
use crate::themes::{self, Identified, ModelIds, Previous};
pub use error::JobError;

/// Common words of the corpus that named themes' decoys are drawn from.
const COMMON_WORDS: usize = 200;

/// Everything one run of the job needs to know, settled from the flags.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// Article files or folders.
    pub inputs: Vec<PathBuf>,
    /// How they are read.
    pub ingest: IngestOptions,
    /// Folder of the report files.
    pub output: PathBuf,
    /// The embedding cache.
    pub cache: PathBuf,
    /// How many themes.
    pub k: KChoice,
    /// k-means seed.
    pub seed: u64,
    /// How the language signal is removed.
    pub debias: Debias,
    /// Fewest paragraphs of a theme (default: by the corpus, under auto k).
    pub min_theme_size: Option<usize>,
    /// Themes named before the run (`--themes`).
    pub named: Vec<GivenTheme>,
    /// Also write embeddings.npy.
    pub save_embeddings: bool,
    /// Ignore the previous runs' themes.
    pub rebuild: bool,
    /// The languages detection may choose from.
    pub languages: Allowed,
    /// The language of labels and keywords (default: English where the
    /// corpus has it, else its most common language).
    pub label_language: Option<String>,
    /// Which model, and how it runs.
    pub model: ModelConfig,
    /// Whether progress bars are drawn.
    pub progress: Progress,
}

/// Which model to load and how to run it.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Hugging Face repo id or local model directory.
    pub spec: String,
    /// The model store.
    pub models_dir: PathBuf,
    /// Where the model runs.
    pub device: DeviceChoice,
    /// Batch size, precision and engine.
    pub options: EmbedOptions,
}

impl ModelConfig {
    /// Finds the model (fetching it if need be) and loads it.
    pub fn load(&self) -> Result<Embedder, JobError> {
        let model = ModelStore::new(&self.models_dir).resolve(&self.spec)?;
        Ok(Embedder::load(model, self.device, self.options.clone())?)
    }
}

/// What it took to get a corpus's vectors, and the copy of them that
/// `--save-embeddings` writes (the clustering turns the vectors themselves
/// into its corrected ones, so without the flag they exist once).
struct Embedded {
    stats: EmbedStats,
    reused: usize,
    saved: Option<Array2<f32>>,
}

/// Runs the whole job once; the report files are all replaced, or none.
pub fn run(config: &JobConfig) -> Result<(), JobError> {
    let mut clock = Stopwatch::start();
    let today = clock.today();
    let folder = OutputFolder::open(&config.output)?;
    let mut cache = EmbeddingCache::open(&config.cache)?;

    let mut corpus = read(config)?;
    clock.lap("ingest");
    let languages = language::identify(&mut corpus.paragraphs, &config.languages);
    let label_language =
        describe::label_language(&corpus.paragraphs, config.label_language.as_deref())?;
    clock.lap("language");
    let embedder = config.model.load()?;
    clock.lap("model_load");
    shard::absorb_waiting(&mut cache, &config.cache, &embedder.identity())?;
    let (weights, vectors) = (embedder.weights_identity(), embedder.identity());
    let model = ModelIds {
        weights: &weights,
        vectors: &vectors,
    };
    let previous = Previous::load(&folder, model, config.rebuild);
    let mut cached = CachedEmbedder::new(&embedder, cache);
    let (vectors, embedded) = embed(config, &mut cached, &previous, &mut corpus, &today)?;
    clock.lap("embed");
    let mut options = previous.cluster_options(config.cluster_options(), corpus.paragraphs.len());
    options.named = named_queries(
        &config.named,
        (&corpus.paragraphs, &label_language),
        config.seed,
        &mut cached,
    )?;
    let clustering = cluster(config, &options, vectors, &mut corpus)?;
    clock.lap("cluster");
    let names: Vec<&str> = config.named.iter().map(|t| t.name.as_str()).collect();
    let labelling = Labelling {
        language: &label_language,
        embedder: &mut cached,
        names: &names,
    };
    let themes = describe::describe(&corpus.paragraphs, &clustering, labelling)?;
    clock.lap("describe");
    let identified = themes::identify(
        &previous,
        &clustering,
        options.k,
        themes,
        &mut corpus.paragraphs,
        (
            &today,
            &clock
                .started_at()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
        ),
    );
    let stages = record::Stages {
        corpus: &corpus,
        label_language: &label_language,
        languages,
        embedder: &embedder,
        embedded: &embedded,
        clustering: &clustering,
    };
    let written = write::report_files(
        &folder,
        config,
        &mut clock,
        &stages,
        (&previous, &identified),
    )?;
    log_written(config, &written, &identified, &corpus);
    cached.remember_sightings(&corpus.paragraphs)?;
    Ok(())
}

impl JobConfig {
    fn cluster_options(&self) -> ClusterOptions {
        ClusterOptions {
            k: self.k,
            seed: self.seed,
            debias: self.debias,
            min_theme_size: self.min_theme_size,
            ..Default::default()
        }
    }
}

/// `crossthemes embed --shard I/N`: reads the whole corpus, embeds the
/// paragraphs of share I into the shard's own cache file, and writes
/// nothing else.
pub fn embed_shard(
    (inputs, ingest): (&[PathBuf], &IngestOptions),
    cache: &Path,
    shard: Shard,
    model: &ModelConfig,
    progress: Progress,
) -> Result<(), JobError> {
    let corpus = ingest::read_corpus(inputs, ingest)?;
    let mine: Vec<&Paragraph> = corpus
        .paragraphs
        .iter()
        .filter(|p| shard.owns(&p.key))
        .collect();
    let path = shard.cache_path(cache);
    let mut shard_cache = shard::open_cache(&path)?;
    shard_cache.mark_finished(false)?;
    let embedder = model.load()?;
    let mut cached = CachedEmbedder::new(&embedder, shard_cache);
    let bar = progress.bar(mine.len(), "embedding");
    let done = cached.paragraphs(&mine, &|done| bar.step(done))?;
    cached.mark_finished()?;
    tracing::info!(
        "shard {shard}: {} of {} paragraphs; {} embedded, {} already there; cache {}",
        mine.len(),
        corpus.paragraphs.len(),
        done.stats.texts,
        done.reused,
        path.display()
    );
    Ok(())
}

fn read(config: &JobConfig) -> Result<Corpus, JobError> {
    let corpus = ingest::read_corpus(&config.inputs, &config.ingest)?;
    tracing::info!(
        "read {} files: {} paragraphs, {} pieces left out as junk",
        corpus.files.len(),
        corpus.paragraphs.len(),
        corpus.skipped.values().sum::<usize>()
    );
    if let KChoice::Fixed(k) = config.k {
        // Refused before the model loads and embeds for minutes.
        if k > corpus.paragraphs.len() {
            return Err(ClusterError::KTooLarge {
                k,
                paragraphs: corpus.paragraphs.len(),
            }
            .into());
        }
        if k < config.named.len() {
            let named = config.named.len();
            return Err(ClusterError::FewerThanNamed { k, named }.into());
        }
    }
    Ok(corpus)
}

/// The corpus's vectors through the cache, with the day each paragraph was
/// first seen filled in.
fn embed(
    config: &JobConfig,
    cached: &mut CachedEmbedder,
    previous: &Previous,
    corpus: &mut Corpus,
    today: &str,
) -> Result<(Array2<f32>, Embedded), JobError> {
    let bar = config.progress.bar(corpus.paragraphs.len(), "embedding");
    let all: Vec<&Paragraph> = corpus.paragraphs.iter().collect();
    let done = cached.paragraphs(&all, &|done| bar.step(done))?;
    let seen = cached.first_seen(&corpus.paragraphs)?;
    previous.date_sightings(&mut corpus.paragraphs, seen, today);
    let saved = config.save_embeddings.then(|| done.vectors.clone());
    Ok((
        done.vectors,
        Embedded {
            stats: done.stats,
            reused: done.reused,
            saved,
        },
    ))
}

/// The named themes as queries: each phrase of each theme, and decoys of
/// each phrase made of the corpus's common words in the label language.
fn named_queries(
    named: &[GivenTheme],
    (paragraphs, label_language): (&[Paragraph], &str),
    seed: u64,
    cached: &mut CachedEmbedder,
) -> Result<NamedQueries, JobError> {
    if named.is_empty() {
        return Ok(NamedQueries::default());
    }
    let phrases: Vec<String> = named.iter().flat_map(|t| t.phrases.clone()).collect();
    let theme_of = named
        .iter()
        .enumerate()
        .flat_map(|(j, t)| std::iter::repeat_n(j, t.phrases.len()))
        .collect();
    let common = describe::common_words(paragraphs, label_language, COMMON_WORDS);
    let decoys: Vec<String> = phrases
        .iter()
        .enumerate()
        .flat_map(|(p, phrase)| cluster::decoys(phrase, &common, cluster::DECOYS, seed ^ p as u64))
        .collect();
    // The model's vectors come L2-normalized, as the cluster stage takes them.
    Ok(NamedQueries {
        themes: named.len(),
        phrases: cached.queries(&phrases)?,
        theme_of,
        decoys: cached.queries(&decoys)?,
    })
}

fn cluster(
    config: &JobConfig,
    options: &ClusterOptions,
    vectors: Array2<f32>,
    corpus: &mut Corpus,
) -> Result<Clustering, JobError> {
    let languages: Vec<&str> = corpus
        .paragraphs
        .iter()
        .map(|p| p.language.as_str())
        .collect();
    let clustering = {
        let _spinner = config.progress.spinner("clustering");
        cluster::cluster(vectors, &languages, options)?
    };
    clustering.record_similarities(&mut corpus.paragraphs);
    tracing::info!(
        "{} themes ({})",
        clustering.k(),
        clustering.selection.method
    );
    Ok(clustering)
}

fn log_written(config: &JobConfig, written: &[PathBuf], identified: &Identified, corpus: &Corpus) {
    let cross = identified
        .themes
        .iter()
        .filter(|t| t.theme.languages.iter().filter(|(_, n)| *n >= 2).count() >= 2)
        .count();
    let new = corpus.paragraphs.iter().filter(|p| p.is_new).count();
    tracing::info!(
        "wrote {} files to {}: {} themes, {} of them with two or more languages; {} new paragraphs",
        written.len(),
        config.output.display(),
        identified.themes.len(),
        cross,
        new
    );
}
