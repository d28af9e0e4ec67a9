//! The `embed` stage: turns paragraphs into L2-normalized sentence vectors.
//!
//! [`Embedder`] owns everything model-independent (prompt, tokenization,
//! windows for long texts, length-sorted batches, pooling weights, L2
//! normalization); a [`Backend`] only runs the network on token ids, so other
//! engines can sit behind the same trait.

mod bert;
pub mod cache;
mod cached;
mod native;
pub mod shard;

use std::path::Path;

use ndarray::Array2;
use rayon::prelude::*;
use tokenizers::Tokenizer;

use crate::error::{Classified, Fault, Setting};
use crate::model::{self, ModelError, ResolvedModel};
use cache::CacheError;
pub use cached::{CachedEmbedder, Vectors};
pub use native::{int8_available, peak_gflops, PeakSampler, PEAK_TRIES};

/// Why texts could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model directory could not be found or used.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The asked device is not available; the message starts with it.
    #[error("{0}")]
    Device(String),
    /// The native engine asked for on a GPU.
    #[error("native runs on the CPU only; use auto or candle with a GPU")]
    NativeOnGpu,
    /// The embedding cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// One text failed; says which.
    #[error("{what}: {error}")]
    InText {
        /// Which text ("file.txt paragraph 3").
        what: String,
        /// What went wrong.
        error: Box<EmbedError>,
    },
    /// A text with nothing in it.
    #[error("text {index} is empty after trimming; there is nothing to embed")]
    EmptyText {
        /// Its position among the texts given.
        index: usize,
    },
    /// The network gave NaN or infinite numbers: broken weights.
    #[error(
        "the model gave an invalid vector (NaN or infinity) for text {index}: its weights are \
         broken; delete the model directory (see --models-dir) so that it is fetched again"
    )]
    NonFinite {
        /// Its position among the texts given.
        index: usize,
    },
    /// The tokenizer refused a text.
    #[error("tokenizer failed: {0}")]
    Tokenizer(String),
    /// The model's computation failed.
    #[error("model computation failed")]
    Candle(#[from] candle_core::Error),
}

impl Classified for EmbedError {
    fn fault(&self) -> Fault {
        match self {
            EmbedError::Model(e) => e.fault(),
            EmbedError::Device(_) => Fault::Usage(Some(Setting::Device)),
            EmbedError::NativeOnGpu => Fault::Usage(Some(Setting::Engine)),
            EmbedError::Cache(e) => e.fault(),
            EmbedError::InText { error, .. } => error.fault(),
            EmbedError::EmptyText { .. }
            | EmbedError::NonFinite { .. }
            | EmbedError::Tokenizer(_)
            | EmbedError::Candle(_) => Fault::Failure,
        }
    }
}

/// A model directory that loads but cannot be run as it is.
fn bad_model_dir(dir: &Path, reason: String) -> EmbedError {
    ModelError::bad_dir(dir, reason).into()
}

/// Where the network runs. `Auto` picks a GPU the build supports and the
/// machine has, else the CPU; naming a device never falls back silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A GPU where there is one, else the CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// An NVIDIA GPU (a build with `--features cuda`).
    Cuda,
    /// An Apple GPU (a build with `--features metal`).
    Metal,
}

/// The candle device for `choice`; an error where the build or the machine
/// lacks it.
pub fn select_device(choice: DeviceChoice) -> Result<candle_core::Device, EmbedError> {
    use candle_core::{utils, Device};
    let cuda = || {
        if !utils::cuda_is_available() {
            return Err(EmbedError::Device(
                "cuda: this build has no CUDA support; rebuild with `cargo build --release --features cuda`".into(),
            ));
        }
        Device::new_cuda(0)
            .map_err(|e| EmbedError::Device(format!("cuda: no usable NVIDIA GPU: {e}")))
    };
    let metal = || {
        if !utils::metal_is_available() {
            return Err(EmbedError::Device(
                "metal: this build has no Metal support; rebuild with `cargo build --release --features metal`"
                    .into(),
            ));
        }
        Device::new_metal(0)
            .map_err(|e| EmbedError::Device(format!("metal: no usable Metal GPU: {e}")))
    };
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda => cuda(),
        DeviceChoice::Metal => metal(),
        DeviceChoice::Auto => Ok(cuda().or_else(|_| metal()).unwrap_or(Device::Cpu)),
    }
}

/// The number format of the network's dense layers. `Bf16` halves the work of
/// every matrix product on CPUs with AVX512-BF16 (and on GPUs); elsewhere it
/// falls back to `F32` with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats throughout.
    F32,
    /// bfloat16 matrix products, accumulated in f32.
    Bf16,
    /// int8 dense layers (weights per output channel, activations per
    /// token), accumulated in i32, on CPUs with AVX512-VNNI.
    Int8,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        })
    }
}

/// Which implementation runs the network. `Auto` is the native backend on
/// the CPU and candle on a GPU; `Candle` on the CPU is the reference the
/// native backend is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Native on the CPU, candle on a GPU.
    Auto,
    /// The native CPU encoder.
    Native,
    /// candle-transformers' BERT.
    Candle,
}

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean of the token vectors.
    Mean,
    /// The first token's vector.
    Cls,
}

/// Runs the network: one pooled (not yet normalized) vector per sequence.
/// Sequences arrive with their special tokens and unpadded.
pub trait Backend: Send + Sync {
    /// One pooled vector per sequence, in order.
    fn pooled(&self, sequences: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Length of the vectors.
    fn dimension(&self) -> usize;
    /// The longest sequence, special tokens included, the model accepts.
    fn max_positions(&self) -> usize;
    /// Where the network runs, in words ("cpu", "cuda:0").
    fn device(&self) -> String;
    /// Whether a batch is padded to its longest sequence, so that it costs
    /// that length times its size rather than its real tokens.
    fn is_padded(&self) -> bool;
}

/// How the embedder batches and runs the model.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// Most sequences in one forward pass.
    pub batch_size: usize,
    /// Most tokens (padding included, where the backend pads) in one
    /// forward pass.
    pub token_budget: usize,
    /// Number format of the matrix products.
    pub precision: Precision,
    /// Which implementation runs the network.
    pub engine: Engine,
    /// Tokens of a text the model sees at most; a longer text is embedded
    /// from its start.
    pub max_tokens: usize,
}

/// The most tokens of one paragraph that are embedded by default (about
/// 1,500 words; the model reads them in windows of 512).
pub const DEFAULT_MAX_TOKENS: usize = 2048;

/// More characters than any token of the tokenizer spans.
const MAX_CHARS_PER_TOKEN: usize = 32;

impl Default for EmbedOptions {
    fn default() -> Self {
        Self {
            batch_size: 32,
            token_budget: 8192,
            precision: Precision::F32,
            engine: Engine::Auto,
            max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

/// Figures of one `embed` call, for logs and benchmarks.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EmbedStats {
    /// Texts embedded.
    pub texts: usize,
    /// Model-sized pieces of them (a long text has several).
    pub windows: usize,
    /// Tokens fed to the model, special tokens included, padding excluded.
    pub tokens: usize,
    /// Tokens the backend computed, padding included where it pads.
    pub padded_tokens: usize,
    /// Floating-point operations of the encoder's matrix products over the
    /// real tokens (padding excluded): 2 per multiply-add.
    pub flops: u64,
    /// Texts longer than the `max_tokens` option, embedded from their start.
    pub cut_to_max_tokens: usize,
    /// Tokens of each text of the `embed` call, prompt included, as far as
    /// it was read: over `max_tokens` for a text that was cut.
    #[serde(skip)]
    pub text_tokens: Vec<usize>,
}

impl std::ops::AddAssign for EmbedStats {
    fn add_assign(&mut self, other: EmbedStats) {
        self.texts += other.texts;
        self.windows += other.windows;
        self.tokens += other.tokens;
        self.padded_tokens += other.padded_tokens;
        self.flops += other.flops;
        self.cut_to_max_tokens += other.cut_to_max_tokens;
        self.text_tokens.extend(other.text_tokens);
    }
}

/// Turns texts into L2-normalized vectors with one model: the prompt,
/// tokenization, windows and batches here, the network in a [`Backend`].
pub struct Embedder {
    tokenizer: Tokenizer,
    backend: Box<dyn Backend>,
    prompt: String,
    /// What the model's card puts before a search query ("query: " for e5).
    query_prompt: String,
    /// The special tokens the model's template puts before and after a text.
    open: Vec<u32>,
    close: Vec<u32>,
    options: EmbedOptions,
    /// The precision the backend actually runs (the asked one may be unavailable).
    precision: Precision,
    model: ResolvedModel,
    shape: EncoderShape,
}

/// The sizes that set an encoder's arithmetic, for benchmark figures.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
struct EncoderShape {
    hidden_size: u64,
    num_hidden_layers: u64,
    intermediate_size: u64,
}

impl EncoderShape {
    /// Operations of one sequence of `len` tokens: the query/key/value,
    /// attention-output and two feed-forward products per token, and the
    /// two `len × len` attention products.
    fn flops(&self, len: usize) -> u64 {
        let (h, i, len) = (self.hidden_size, self.intermediate_size, len as u64);
        let dense = len * (4 * h * h + 2 * h * i);
        let attention = 2 * len * len * h;
        2 * self.num_hidden_layers * (dense + attention)
    }
}

/// One model-sized piece of a text.
struct Window {
    text: usize,
    ids: Vec<u32>,
    /// Content tokens, the window's weight when a text has several.
    weight: f32,
}

impl Embedder {
    /// Loads the tokenizer and the network of `model` onto `device`.
    pub fn load(
        model: ResolvedModel,
        device: DeviceChoice,
        options: EmbedOptions,
    ) -> Result<Self, EmbedError> {
        let dir = &model.dir;
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| bad_model_dir(dir, format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        let (Prompts { passage, query }, pooling) = sentence_transformers_settings(&model)?;
        let (shape, _) = model::read_config(dir)?;
        let (backend, precision) = load_backend(dir, device, pooling, &options)?;
        let (open, close) = template_specials(&tokenizer)?;
        tracing::info!(
            "model: {} ({} dims, {} pooling, prompt {:?}, device {}, {precision})",
            model.name,
            backend.dimension(),
            if pooling == Pooling::Mean {
                "mean"
            } else {
                "cls"
            },
            passage,
            backend.device()
        );
        Ok(Self {
            tokenizer,
            backend,
            prompt: passage,
            query_prompt: query,
            open,
            close,
            options,
            precision,
            model,
            shape,
        })
    }

    /// The precision the backend runs (the asked one may be unavailable).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// What produced the vectors: the [`family`](Self::family) and
    /// `--max-paragraph-tokens` when it is not the default.
    pub fn identity(&self) -> String {
        let mut identity = self.family();
        // A long paragraph's vector depends on how much of it is read, so
        // vectors cached under another limit must not be taken for these
        // (except those of texts that no limit cut).
        if self.options.max_tokens != DEFAULT_MAX_TOKENS {
            identity.push_str(&format!("+max{}tokens", self.options.max_tokens));
        }
        identity
    }

    /// The weights' identity and the precision when it is not f32 (bf16
    /// vectors differ slightly, so they are cached and compared apart from
    /// f32 ones): the vectors of a text read whole are the same across a
    /// family, whatever the token limit.
    pub fn family(&self) -> String {
        let mut family = self.model.identity();
        if self.precision != Precision::F32 {
            family.push_str(&format!("+{}", self.precision));
        }
        family
    }

    /// The identity of the weights alone, whatever the settings.
    pub fn weights_identity(&self) -> String {
        self.model.identity()
    }

    /// Tokens of a text the model sees at most.
    pub fn max_tokens(&self) -> usize {
        self.options.max_tokens
    }

    /// The model directory in use.
    pub fn model(&self) -> &ResolvedModel {
        &self.model
    }

    /// Length of the vectors.
    pub fn dimension(&self) -> usize {
        self.backend.dimension()
    }

    /// Where the network runs, in words.
    pub fn device(&self) -> String {
        self.backend.device()
    }

    /// The exact string given to the model for `text`.
    pub fn model_input(&self, text: &str) -> String {
        format!("{}{}", self.prompt, text)
    }

    /// Token ids of `text` as the model sees it (prompt and specials included,
    /// before any windowing).
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        let encoding = self
            .tokenizer
            .encode(self.model_input(text), true)
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Embeds `texts` as passages, one L2-normalized row each, in order.
    /// `progress` is called with the number of texts finished so far.
    pub fn embed(
        &self,
        texts: &[&str],
        progress: &dyn Fn(usize),
    ) -> Result<(Array2<f32>, EmbedStats), EmbedError> {
        self.embed_with(&self.prompt, texts, progress)
    }

    /// Embeds `texts` as search queries (e5's "query: " prefix): how a
    /// label is read when it is asked which paragraphs it describes.
    pub fn embed_queries(
        &self,
        texts: &[&str],
        progress: &dyn Fn(usize),
    ) -> Result<(Array2<f32>, EmbedStats), EmbedError> {
        self.embed_with(&self.query_prompt, texts, progress)
    }

    fn embed_with(
        &self,
        prompt: &str,
        texts: &[&str],
        progress: &dyn Fn(usize),
    ) -> Result<(Array2<f32>, EmbedStats), EmbedError> {
        if let Some(index) = texts.iter().position(|t| t.trim().is_empty()) {
            return Err(EmbedError::EmptyText { index });
        }
        let mut text_tokens = Vec::with_capacity(texts.len());
        let windows = self.windows(prompt, texts, &mut text_tokens)?;
        let dim = self.dimension();
        let mut sums = Array2::<f32>::zeros((texts.len(), dim));
        let mut weights = vec![0f32; texts.len()];
        let mut stats = EmbedStats {
            texts: texts.len(),
            windows: windows.len(),
            cut_to_max_tokens: text_tokens
                .iter()
                .filter(|&&n| n > self.options.max_tokens)
                .count(),
            text_tokens,
            ..Default::default()
        };

        // Longest first, so the batches that need the most memory come early
        // and each batch holds sequences of nearly the same length.
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(windows[i].ids.len()));
        let mut remaining_windows: Vec<usize> = vec![0; texts.len()];
        for w in &windows {
            remaining_windows[w.text] += 1;
        }
        let mut finished = 0;
        for batch in self.batches(&order, &windows) {
            let sequences: Vec<&[u32]> = batch.iter().map(|&i| windows[i].ids.as_slice()).collect();
            let longest = sequences[0].len();
            stats.tokens += sequences.iter().map(|s| s.len()).sum::<usize>();
            stats.padded_tokens += if self.backend.is_padded() {
                longest * sequences.len()
            } else {
                sequences.iter().map(|s| s.len()).sum::<usize>()
            };
            stats.flops += sequences
                .iter()
                .map(|s| self.shape.flops(s.len()))
                .sum::<u64>();
            let pooled = self.backend.pooled(&sequences)?;
            for (&i, vector) in batch.iter().zip(pooled) {
                let w = &windows[i];
                sums.row_mut(w.text)
                    .scaled_add(w.weight, &ndarray::ArrayView1::from(&vector));
                weights[w.text] += w.weight;
                remaining_windows[w.text] -= 1;
                if remaining_windows[w.text] == 0 {
                    finished += 1;
                }
            }
            progress(finished);
        }
        for (index, (mut row, weight)) in sums.rows_mut().into_iter().zip(weights).enumerate() {
            row /= weight;
            let norm = row.dot(&row).sqrt().max(1e-12);
            row /= norm;
            if !row.iter().all(|x| x.is_finite()) {
                return Err(EmbedError::NonFinite { index });
            }
        }
        Ok((sums, stats))
    }

    /// Tokenizes in parallel and cuts texts longer than the model into
    /// consecutive windows, each wrapped in the model's special tokens.
    /// Texts longer than the `max_tokens` option are cut there; each text's
    /// token count goes to `text_tokens`.
    fn windows(
        &self,
        prompt: &str,
        texts: &[&str],
        text_tokens: &mut Vec<usize>,
    ) -> Result<Vec<Window>, EmbedError> {
        let room = self
            .backend
            .max_positions()
            .saturating_sub(self.open.len() + self.close.len())
            .max(1);
        let max_tokens = self.options.max_tokens.max(1);
        let content: Vec<Vec<u32>> = texts
            .par_iter()
            .map(|t| {
                // No token is longer than this many characters, so the cut
                // keeps every token that counts and spares the tokenizer a
                // text of megabytes.
                let prefix = match t.char_indices().nth(max_tokens * MAX_CHARS_PER_TOKEN) {
                    Some((end, _)) => &t[..end],
                    None => t,
                };
                self.tokenizer
                    .encode(format!("{prompt}{prefix}"), false)
                    .map(|e| e.get_ids().to_vec())
                    .map_err(|e| EmbedError::Tokenizer(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let mut windows = Vec::new();
        for (text, ids) in content.iter().enumerate() {
            text_tokens.push(ids.len());
            for chunk in ids[..ids.len().min(max_tokens)].chunks(room) {
                let mut seq = Vec::with_capacity(chunk.len() + self.open.len() + self.close.len());
                seq.extend_from_slice(&self.open);
                seq.extend_from_slice(chunk);
                seq.extend_from_slice(&self.close);
                windows.push(Window {
                    text,
                    ids: seq,
                    weight: chunk.len() as f32,
                });
            }
        }
        Ok(windows)
    }

    /// Groups length-sorted windows under the batch size and token budget;
    /// where the backend pads, a window much shorter than the batch's first
    /// starts a new batch.
    fn batches(&self, order: &[usize], windows: &[Window]) -> Vec<Vec<usize>> {
        let padded = self.backend.is_padded();
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        let mut current_tokens = 0;
        for &i in order {
            let length = windows[i].ids.len();
            let longest = current.first().map_or(length, |&f| windows[f].ids.len());
            let would_hold = if padded {
                (current.len() + 1) * longest
            } else {
                current_tokens + length
            };
            let mostly_padding = padded && length * 4 < longest * 3;
            if !current.is_empty()
                && (current.len() >= self.options.batch_size
                    || would_hold > self.options.token_budget
                    || mostly_padding)
            {
                batches.push(std::mem::take(&mut current));
                current_tokens = 0;
            }
            current.push(i);
            current_tokens += length;
        }
        if !current.is_empty() {
            batches.push(current);
        }
        batches
    }
}

/// The CPU runs the native backend, GPUs (and models the native backend does
/// not implement) run candle.
fn load_backend(
    dir: &Path,
    device: DeviceChoice,
    pooling: Pooling,
    options: &EmbedOptions,
) -> Result<(Box<dyn Backend>, Precision), EmbedError> {
    let device = select_device(device)?;
    let precision = options.precision;
    if !device.is_cpu() && options.engine == Engine::Native {
        return Err(EmbedError::NativeOnGpu);
    }
    if device.is_cpu() && precision == Precision::Bf16 && !native::bf16_available() {
        tracing::warn!(
            "--precision bf16: this CPU lacks AVX512-BF16 instructions; running f32 instead"
        );
    }
    if precision == Precision::Int8 && !(device.is_cpu() && native::int8_available()) {
        tracing::warn!(
            "--precision int8: runs on CPUs with AVX512-VNNI in the native engine only; running f32 instead"
        );
    }
    if device.is_cpu() && options.engine != Engine::Candle {
        match native::NativeEncoder::load(dir, pooling, precision)? {
            Ok(encoder) => {
                let precision = encoder.precision();
                return Ok((Box::new(encoder), precision));
            }
            Err(native::Unsupported(what)) if options.engine == Engine::Auto => {
                tracing::info!("the native CPU backend does not implement {what}; using candle");
            }
            Err(native::Unsupported(what)) => {
                return Err(bad_model_dir(
                    dir,
                    format!("--engine native does not implement {what}; use --engine auto"),
                ))
            }
        }
    }
    // candle's CPU matmuls have no bf16 speed-up: bf16 runs only on GPUs,
    // int8 only in the native engine.
    let precision = match precision {
        Precision::Bf16 if !device.is_cpu() => Precision::Bf16,
        _ => Precision::F32,
    };
    let encoder = bert::CandleEncoder::load(dir, device, pooling, precision)?;
    Ok((Box::new(encoder), precision))
}

/// What a model's card puts before a passage and before a query.
struct Prompts {
    passage: String,
    query: String,
}

/// The prompts and pooling a sentence-transformers model declares; e5
/// models without that metadata get their documented "passage: " and
/// "query: " prefixes.
fn sentence_transformers_settings(model: &ResolvedModel) -> Result<(Prompts, Pooling), EmbedError> {
    let read = |name: &str| model::read_json_if_present(&model.dir, name);
    let e5 = model.name.to_lowercase().contains("e5");
    let prompts = match read("config_sentence_transformers.json")? {
        Some(config) => {
            let declared = |name: &str| config["prompts"][name].as_str().map(str::to_string);
            let default = config["default_prompt_name"]
                .as_str()
                .and_then(|name| config["prompts"][name].as_str());
            let passage = declared("passage")
                .or_else(|| default.map(str::to_string))
                .unwrap_or_default();
            Prompts {
                query: declared("query").unwrap_or_else(|| passage.clone()),
                passage,
            }
        }
        None if e5 => Prompts {
            passage: "passage: ".into(),
            query: "query: ".into(),
        },
        None => Prompts {
            passage: String::new(),
            query: String::new(),
        },
    };
    let pooling = match read("1_Pooling/config.json")? {
        Some(config) if config["pooling_mode_cls_token"].as_bool() == Some(true) => Pooling::Cls,
        _ => Pooling::Mean,
    };
    Ok((prompts, pooling))
}

/// The ids the tokenizer's template adds around a single text.
fn template_specials(tokenizer: &Tokenizer) -> Result<(Vec<u32>, Vec<u32>), EmbedError> {
    let probe = "a";
    let tok = |specials: bool| {
        tokenizer
            .encode(probe, specials)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| EmbedError::Tokenizer(e.to_string()))
    };
    let (with, without) = (tok(true)?, tok(false)?);
    let start = with
        .windows(without.len().max(1))
        .position(|w| w == without.as_slice())
        .ok_or_else(|| EmbedError::Tokenizer("cannot find the text inside its template".into()))?;
    Ok((
        with[..start].to_vec(),
        with[start + without.len()..].to_vec(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_count_every_weight_matrix_once_per_token_and_attention_per_pair() {
        let e5_small = EncoderShape {
            hidden_size: 384,
            num_hidden_layers: 12,
            intermediate_size: 1536,
        };
        // query, key, value, attention output; feed-forward in and out.
        let weights_per_layer = 4 * 384 * 384 + 2 * 384 * 1536;
        assert_eq!(e5_small.flops(1), 2 * 12 * (weights_per_layer + 2 * 384));
        // Q·Kᵀ and softmax·V: one multiply-add per token pair and dimension each.
        let attention = |len: u64| 2 * 12 * 2 * len * len * 384;
        assert_eq!(
            e5_small.flops(100),
            2 * 12 * weights_per_layer * 100 + attention(100)
        );
    }

    #[test]
    fn naming_a_gpu_the_build_lacks_is_an_error() {
        if !candle_core::utils::cuda_is_available() {
            let err = select_device(DeviceChoice::Cuda).unwrap_err().to_string();
            assert!(err.contains("--features cuda"), "{err}");
        }
        if !candle_core::utils::metal_is_available() {
            let err = select_device(DeviceChoice::Metal).unwrap_err().to_string();
            assert!(err.contains("--features metal"), "{err}");
        }
        assert!(select_device(DeviceChoice::Auto).is_ok());
    }
}
