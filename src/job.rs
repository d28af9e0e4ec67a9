//! The job: runs the stages in order on one configuration, from the article
//! files to the report files.
//!
//! ingest → language → embed (through the cache) → cluster → describe →
//! theme ids → output. Refresh meets the job where the past matters: it
//! reads the history and embeds through the cache before clustering (label
//! candidates go through the same cache), gives the stable theme ids after
//! describing, hands the history to the output commit, and records first
//! sightings once the report files are in place.

use std::path::{Path, PathBuf};

use anyhow::Context;

use ndarray::Array2;

use crate::cluster::{self, ClusterError, ClusterOptions, Clustering, Debias, KChoice};
use crate::describe::{self, Labelling};
use crate::embed::{DeviceChoice, EmbedOptions, EmbedStats, Embedder};
use crate::ingest::{self, Corpus, Paragraph};
use crate::language::{self, Allowed, LanguageReport};
use crate::model::ModelStore;
use crate::output;
use crate::progress::Progress;
use crate::refresh::shard::{self, Shard};
use crate::refresh::{self, cache::EmbeddingCache, Identified, Previous};
use crate::run_record::{
    Counts, EmbeddingRecord, LabelRecord, ModelRecord, RefreshRecord, RunRecord, Stopwatch,
};

/// Everything one run of the job needs to know, settled from the flags.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// Article files or folders.
    pub inputs: Vec<PathBuf>,
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
    pub fn load(&self) -> anyhow::Result<Embedder> {
        let model = ModelStore::new(&self.models_dir).resolve(&self.spec)?;
        Ok(Embedder::load(model, self.device, self.options.clone())?)
    }
}

/// How labels are chosen, for run.json.
const LABEL_METHOD: &str = "candidates by class-based TF-IDF in the label language, embedded \
    with the model, scored by closeness to the theme's centroid against the nearest other \
    theme in the language-corrected space, picked by maximal marginal relevance; no label \
    word in two themes";

/// What it took to get a corpus's vectors, and the copy of them that
/// `--save-embeddings` writes (the clustering turns the vectors themselves
/// into its corrected ones, so without the flag they exist once).
struct Embedded {
    stats: EmbedStats,
    reused: usize,
    saved: Option<Array2<f32>>,
}

/// Runs the whole job once; the report files are all replaced, or none.
pub fn run(config: &JobConfig) -> anyhow::Result<()> {
    let mut clock = Stopwatch::start();
    let today = clock.today();
    output::prepare_dir(&config.output)?;
    let _lock = refresh::lock::acquire(&config.output)?;
    output::recover(&config.output)?;
    let mut cache = EmbeddingCache::open(&config.cache)?;
    absorb_shards(&mut cache, &config.cache)?;

    let mut corpus = read(config)?;
    clock.lap("ingest");
    let languages = language::identify(&mut corpus.paragraphs, &config.languages);
    let label_language =
        describe::label_language(&corpus.paragraphs, config.label_language.as_deref())?;
    clock.lap("language");
    let embedder = config.model.load()?;
    clock.lap("model_load");
    let previous = Previous::load(&config.output, &embedder.identity(), config.rebuild);
    let (vectors, embedded) = embed(
        config,
        &embedder,
        &mut cache,
        &previous,
        &mut corpus,
        &today,
    )?;
    clock.lap("embed");
    let options = previous.cluster_options(config.cluster_options(), corpus.paragraphs.len());
    let clustering = cluster(config, &options, vectors, &mut corpus)?;
    clock.lap("cluster");
    let themes = describe(&embedder, &mut cache, &corpus, &clustering, &label_language)?;
    clock.lap("describe");
    let identified = refresh::identify(
        &previous,
        &clustering,
        options.k,
        themes,
        &mut corpus.paragraphs,
        &today,
    );

    let changes = RefreshRecord {
        rebuild: config.rebuild,
        previous_themes: previous.theme_count(),
        new_paragraphs: corpus.paragraphs.iter().filter(|p| p.is_new).count(),
        themes_retired: identified.retired_now.clone(),
        next_theme_id: identified.next_theme_id(),
    };
    let stages = Stages {
        corpus: &corpus,
        label_language: &label_language,
        languages,
        embedder: &embedder,
        embedded: &embedded,
        clustering: &clustering,
    };
    let history = identified.history_files(&previous)?;
    let places = output::project(
        clustering.vectors.view(),
        &clustering.labels,
        clustering.k(),
    );
    let mut record = record(config, &clock, &stages, changes);
    clock.lap("report");
    record.timings_seconds = clock.laps();
    record.peak_memory_mb = clock.peaks();
    record.seconds = clock.elapsed();
    let report = output::Report {
        paragraphs: &corpus.paragraphs,
        themes: &identified.themes,
        run: &record,
        embeddings: embedded.saved.as_ref(),
        places: &places,
        kept_files: &history,
    };
    let written = output::write_report(&config.output, &report, &mut |record| {
        let mut record = record.clone();
        clock.lap("write");
        record.timings_seconds = clock.laps();
        record.peak_memory_mb = clock.peaks();
        record
    })?;
    log_written(config, &written, &identified, &record);
    refresh::remember_sightings(&mut cache, &corpus.paragraphs, &today)?;
    Ok(())
}

impl JobConfig {
    fn cluster_options(&self) -> ClusterOptions {
        ClusterOptions {
            k: self.k,
            seed: self.seed,
            debias: self.debias,
            ..Default::default()
        }
    }
}

/// Describes the themes, their labels' candidates embedded through the cache.
fn describe(
    embedder: &Embedder,
    cache: &mut EmbeddingCache,
    corpus: &Corpus,
    clustering: &Clustering,
    label_language: &str,
) -> anyhow::Result<Vec<describe::Theme>> {
    let cache = std::cell::RefCell::new(cache);
    let vectors = |terms: &[String]| refresh::embed_terms(embedder, &mut cache.borrow_mut(), terms);
    let labelling = Labelling {
        language: label_language,
        vectors: &vectors,
    };
    Ok(describe::describe(
        &corpus.paragraphs,
        clustering,
        &labelling,
    )?)
}

/// Moves the vectors of finished `crossthemes embed --shard` runs into the
/// main cache; each shard file is removed once its vectors are committed.
fn absorb_shards(cache: &mut EmbeddingCache, path: &Path) -> anyhow::Result<()> {
    let waiting = shard::waiting(path)
        .with_context(|| format!("looking for shard caches beside {}", path.display()))?;
    for file in waiting {
        let added = cache.absorb(&file)?;
        tracing::info!("took {added} new vectors from {}", file.display());
        std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
    }
    Ok(())
}

/// `crossthemes embed --shard I/N`: reads the whole corpus, embeds the
/// paragraphs of share I into the shard's own cache file, and writes
/// nothing else.
pub fn embed_shard(
    inputs: &[PathBuf],
    cache: &Path,
    shard: Shard,
    model: &ModelConfig,
    progress: Progress,
) -> anyhow::Result<()> {
    let corpus = ingest::read_corpus(inputs)?;
    let mine: Vec<&Paragraph> = corpus
        .paragraphs
        .iter()
        .filter(|p| shard.owns(&p.key))
        .collect();
    let path = shard.cache_path(cache);
    if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("creating {}", folder.display()))?;
    }
    let mut shard_cache = EmbeddingCache::open(&path)?;
    let embedder = model.load()?;
    let bar = progress.bar(mine.len(), "embedding");
    let (_, stats, reused) =
        refresh::embed_paragraphs(&embedder, &mut shard_cache, &mine, &|done| bar.step(done))?;
    tracing::info!(
        "shard {shard}: {} of {} paragraphs; {} embedded, {reused} already there; cache {}",
        mine.len(),
        corpus.paragraphs.len(),
        stats.texts,
        path.display()
    );
    Ok(())
}

fn read(config: &JobConfig) -> anyhow::Result<Corpus> {
    let corpus = ingest::read_corpus(&config.inputs)?;
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
    }
    Ok(corpus)
}

fn embed(
    config: &JobConfig,
    embedder: &Embedder,
    cache: &mut EmbeddingCache,
    previous: &Previous,
    corpus: &mut Corpus,
    today: &str,
) -> anyhow::Result<(Array2<f32>, Embedded)> {
    let bar = config.progress.bar(corpus.paragraphs.len(), "embedding");
    let (vectors, stats, reused) = refresh::embed_with_cache(
        embedder,
        cache,
        previous,
        &mut corpus.paragraphs,
        today,
        &|done| bar.step(done),
    )?;
    let saved = config.save_embeddings.then(|| vectors.clone());
    Ok((
        vectors,
        Embedded {
            stats,
            reused,
            saved,
        },
    ))
}

fn cluster(
    config: &JobConfig,
    options: &ClusterOptions,
    vectors: Array2<f32>,
    corpus: &mut Corpus,
) -> anyhow::Result<Clustering> {
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

/// What the stages produced, as the run record tells it.
struct Stages<'a> {
    corpus: &'a Corpus,
    label_language: &'a str,
    languages: LanguageReport,
    embedder: &'a Embedder,
    embedded: &'a Embedded,
    clustering: &'a Clustering,
}

/// The run record, but for the timings the clock adds at the end.
fn record(
    config: &JobConfig,
    clock: &Stopwatch,
    stages: &Stages,
    changes: RefreshRecord,
) -> RunRecord {
    let Stages {
        corpus,
        label_language,
        languages: language_report,
        embedder,
        embedded,
        clustering,
    } = stages;
    let mut languages = std::collections::BTreeMap::new();
    for p in &corpus.paragraphs {
        *languages.entry(p.language.clone()).or_insert(0usize) += 1;
    }
    let model = embedder.model();
    RunRecord {
        crossthemes_version: env!("CARGO_PKG_VERSION"),
        started_at: clock.started_at().to_rfc3339(),
        inputs: config.inputs.clone(),
        output: config.output.clone(),
        cache: config.cache.clone(),
        model: ModelRecord {
            name: model.name.clone(),
            directory: model.dir.clone(),
            identity: embedder.identity(),
            provenance: model.provenance.clone(),
        },
        device: embedder.device(),
        precision: embedder.precision(),
        embedding: EmbeddingRecord {
            batch_size: config.model.options.batch_size,
            embedded: embedded.stats.texts,
            reused_from_cache: embedded.reused,
            stats: embedded.stats.clone(),
        },
        k: clustering.k(),
        labels: LabelRecord {
            language: label_language.to_string(),
            method: LABEL_METHOD.into(),
        },
        k_selection: clustering.selection.clone(),
        debias: config.debias,
        seed: config.seed,
        refresh: changes,
        counts: Counts {
            files: corpus.files.len(),
            paragraphs: corpus.paragraphs.len(),
            skipped: corpus.skipped.clone(),
            languages,
            languages_reassigned: language_report.reassigned,
        },
        files: corpus.files.clone(),
        decoded_as: corpus.decoded_as.clone(),
        timings_seconds: Default::default(),
        peak_memory_mb: Default::default(),
        started: clock.started_at(),
        seconds: 0.0,
    }
}

fn log_written(
    config: &JobConfig,
    written: &[PathBuf],
    identified: &Identified,
    record: &RunRecord,
) {
    let cross = identified
        .themes
        .iter()
        .filter(|t| t.theme.languages.iter().filter(|(_, n)| *n >= 2).count() >= 2)
        .count();
    tracing::info!(
        "wrote {} files to {}: {} themes, {} of them with two or more languages; {} new paragraphs",
        written.len(),
        config.output.display(),
        identified.themes.len(),
        cross,
        record.refresh.new_paragraphs
    );
}
