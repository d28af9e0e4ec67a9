//! Vectors through the cache: the one way the job gets the model's vectors,
//! for paragraphs and for label candidates alike. Whatever the cache holds
//! for this model is taken from it; only the rest is embedded, and it is
//! committed to the cache chunk by chunk, so a killed run keeps most of its
//! work. The cache also remembers the day each paragraph was first seen.

use ndarray::Array2;

use super::cache::{CacheError, EmbeddingCache, Stored};
use super::{EmbedError, EmbedStats, Embedder};
use crate::error::shown;
use crate::ingest::{text_key, Paragraph};

/// New texts are embedded and committed to the cache in chunks this size.
const CACHE_CHUNK: usize = 256;

/// A corpus's vectors and what it took to get them.
pub struct Vectors {
    /// One unit row per paragraph, in the order given.
    pub vectors: Array2<f32>,
    /// What the model did.
    pub stats: EmbedStats,
    /// How many came from the cache.
    pub reused: usize,
}

/// The model with the cache in front of it.
pub struct CachedEmbedder<'e> {
    embedder: &'e Embedder,
    cache: EmbeddingCache,
}

/// Texts to embed through the cache: their keys, their texts, and how a
/// message names each.
struct Keyed<'a> {
    /// What the items are, plural ("paragraphs").
    noun: &'a str,
    keys: Vec<&'a str>,
    texts: Vec<&'a str>,
    name: &'a dyn Fn(usize) -> String,
    /// Embedded as search queries rather than passages.
    as_queries: bool,
}

impl Keyed<'_> {
    /// Paragraphs are embedded once a run and said at the info level; label
    /// queries, many small calls, at the debug level (`-vv`).
    fn log(&self, message: &str) {
        if self.as_queries {
            tracing::debug!("{message}");
        } else {
            tracing::info!("{message}");
        }
    }
}

impl<'e> CachedEmbedder<'e> {
    /// Puts `cache` in front of `embedder`.
    pub fn new(embedder: &'e Embedder, cache: EmbeddingCache) -> Self {
        Self { embedder, cache }
    }

    /// The model behind the cache.
    pub fn embedder(&self) -> &'e Embedder {
        self.embedder
    }

    /// The vectors of `paragraphs`; `progress` hears how many are done.
    pub fn paragraphs(
        &mut self,
        paragraphs: &[&Paragraph],
        progress: &dyn Fn(usize),
    ) -> Result<Vectors, EmbedError> {
        let name = |i: usize| {
            let p = paragraphs[i];
            format!("{} paragraph {}", shown(&p.file), p.number)
        };
        let items = Keyed {
            noun: "paragraphs",
            keys: paragraphs.iter().map(|p| p.key.as_str()).collect(),
            texts: paragraphs.iter().map(|p| p.text.as_str()).collect(),
            name: &name,
            as_queries: false,
        };
        self.embed_keyed(&items, progress)
    }

    /// The vectors of labels and label candidates read as search queries,
    /// cached under keys of their own.
    pub fn queries(&mut self, queries: &[String]) -> Result<Array2<f32>, EmbedError> {
        let keys: Vec<String> = queries
            .iter()
            .map(|t| text_key(&format!("query\u{0}{t}")))
            .collect();
        let name = |i: usize| format!("label {:?}", queries[i]);
        let items = Keyed {
            noun: "label queries",
            keys: keys.iter().map(String::as_str).collect(),
            texts: queries.iter().map(String::as_str).collect(),
            name: &name,
            as_queries: true,
        };
        Ok(self.embed_keyed(&items, &|_| {})?.vectors)
    }

    /// The day each paragraph was first seen, where the cache knows it.
    pub fn first_seen(&self, paragraphs: &[Paragraph]) -> Result<Vec<Option<String>>, CacheError> {
        let keys: Vec<&str> = paragraphs.iter().map(|p| p.key.as_str()).collect();
        self.cache.first_seen(&keys)
    }

    /// Records the day each paragraph was first seen, where the cache does
    /// not know it yet: this run's new paragraphs, and those a run stopped
    /// between its report and this record left out. Called once the
    /// report files are in place, so that a run that fails leaves its new
    /// paragraphs new for the next one.
    pub fn remember_sightings(&mut self, paragraphs: &[Paragraph]) -> Result<(), CacheError> {
        let days: Vec<(&str, &str)> = paragraphs
            .iter()
            .map(|p| (p.key.as_str(), p.first_seen.as_str()))
            .collect();
        self.cache.mark_seen(&days)
    }

    /// Marks the cache (a shard's) finished: every vector it is to hold is
    /// in it.
    pub fn mark_finished(&mut self) -> Result<(), CacheError> {
        self.cache.mark_finished(true)
    }

    /// Embeds `items`, taking every vector the cache has for this model and
    /// embedding (and caching, chunk by chunk) only the rest.
    fn embed_keyed(
        &mut self,
        items: &Keyed,
        progress: &dyn Fn(usize),
    ) -> Result<Vectors, EmbedError> {
        let model = self.embedder.identity();
        let keys = &items.keys;
        let mut vectors = Array2::<f32>::zeros((keys.len(), self.embedder.dimension()));
        let mut cached = self.cache.lookup_into(&model, keys, vectors.view_mut())?;
        if cached.contains(&false) {
            let whole = self.cache.lookup_whole_into(
                &self.embedder.family(),
                self.embedder.max_tokens(),
                keys,
                vectors.view_mut(),
                &mut cached,
            )?;
            if whole > 0 {
                items.log(&format!(
                    "{whole} {} read whole under another --max-paragraph-tokens: their \
                     vectors are the same under this one, taken from the cache",
                    items.noun
                ));
            }
        }
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| !cached[i]).collect();
        let reused = keys.len() - missing.len();
        items.log(&format!(
            "embedding {} new {} ({reused} from the cache)",
            missing.len(),
            items.noun
        ));
        let mut stats = EmbedStats::default();
        for chunk in missing.chunks(CACHE_CHUNK) {
            let done_before = stats.texts;
            let chunk_progress = |done| progress(reused + done_before + done);
            let embedded = self.embed_chunk(items, chunk, &model, &chunk_progress)?;
            for (&i, row) in chunk.iter().zip(embedded.vectors.rows()) {
                vectors.row_mut(i).assign(&row);
            }
            stats += embedded.stats;
        }
        progress(keys.len());
        Ok(Vectors {
            vectors,
            stats,
            reused,
        })
    }

    /// Embeds the items at `chunk` and commits their vectors to the cache.
    fn embed_chunk(
        &mut self,
        items: &Keyed,
        chunk: &[usize],
        model: &str,
        progress: &dyn Fn(usize),
    ) -> Result<Vectors, EmbedError> {
        let texts: Vec<&str> = chunk.iter().map(|&i| items.texts[i]).collect();
        let name = |index: usize| (items.name)(chunk[index]);
        let embedded = if items.as_queries {
            self.embedder.embed_queries(&texts, progress)
        } else {
            self.embedder.embed(&texts, progress)
        };
        let (embedded, mut stats) = embedded.map_err(|error| match error {
            EmbedError::NonFinite { index } => EmbedError::InText {
                what: name(index),
                error: Box::new(error),
            },
            other => other,
        })?;
        let max_tokens = self.embedder.max_tokens();
        let whole_tokens: Vec<Option<usize>> = std::mem::take(&mut stats.text_tokens)
            .into_iter()
            .map(|n| (n <= max_tokens).then_some(n))
            .collect();
        for (index, _) in whole_tokens.iter().enumerate().filter(|(_, n)| n.is_none()) {
            tracing::warn!(
                "{}: longer than --max-paragraph-tokens {max_tokens}; only its start is embedded",
                name(index),
            );
        }
        let rows: Vec<Stored> = chunk
            .iter()
            .zip(embedded.rows())
            .zip(whole_tokens)
            .map(|((&i, row), whole_tokens)| Stored {
                key: items.keys[i],
                vector: row.to_slice().expect("rows are contiguous"),
                whole_tokens,
            })
            .collect();
        self.cache.store(model, &rows)?;
        Ok(Vectors {
            vectors: embedded,
            stats,
            reused: 0,
        })
    }
}
