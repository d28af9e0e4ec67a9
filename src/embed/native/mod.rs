//! The native CPU backend: a BERT / XLM-RoBERTa encoder forward pass written
//! out over plain `f32` buffers.
//!
//! Why it exists: on CPU, candle's general tensor ops spent more time around
//! the matrix products (copies, scalar erf and exp, padding) than in them.
//! Here every dense layer is one matrix product over all tokens of a batch
//! stacked together, so no padding is computed at all; only attention looks
//! at sequences one by one. GELU, softmax and layer norm are vectorized
//! kernels, and the word-embedding table is read straight from the
//! memory-mapped weights file instead of being copied into memory.

mod int8;
mod kernels;
mod matmul;
mod peak;

use std::path::Path;

use rayon::prelude::*;
use safetensors::{Dtype, SafeTensors};

use super::{bad_model_dir, Backend, EmbedError, Pooling, Precision};
use crate::model;
use matmul::{attention_head, Epilogue, HeadView, Linear};

pub use int8::available as int8_available;
pub use matmul::bf16_available;
pub use peak::{peak_gflops, PeakSampler, PEAK_TRIES};

#[derive(serde::Deserialize)]
struct Config {
    model_type: Option<String>,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f32,
    #[serde(default = "default_activation")]
    hidden_act: String,
    #[serde(default)]
    pad_token_id: u32,
    #[serde(default = "default_position_type")]
    position_embedding_type: String,
}

fn default_eps() -> f32 {
    1e-12
}

fn default_activation() -> String {
    "gelu".into()
}

fn default_position_type() -> String {
    "absolute".into()
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    /// Query, key and value projections as one layer of 3 × hidden outputs.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

/// The word-embedding rows, read from the mapped file on demand: the table
/// is most of the model's size and a run touches only the rows it needs.
struct WordTable {
    map: memmap2::Mmap,
    offset: usize,
    rows: usize,
    dtype: Dtype,
}

pub struct NativeEncoder {
    hidden: usize,
    heads: usize,
    eps: f32,
    words: WordTable,
    positions: Vec<f32>,
    /// The first position id (XLM-RoBERTa counts from after its padding id).
    position_offset: usize,
    max_positions: usize,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    pooling: Pooling,
    precision: Precision,
}

/// Why the native backend cannot take a model (the caller falls back to candle).
#[derive(Debug)]
pub struct Unsupported(pub String);

impl NativeEncoder {
    /// Loads the model in `dir`. `Ok(Err(_))` means the model is valid but
    /// outside what this backend implements.
    pub fn load(
        dir: &Path,
        pooling: Pooling,
        precision: Precision,
    ) -> Result<Result<Self, Unsupported>, EmbedError> {
        let (config, _): (Config, _) = model::read_config(dir)?;
        let position_offset = match check_config(&config, dir)? {
            Ok(offset) => offset,
            Err(unsupported) => return Ok(Err(unsupported)),
        };
        let path = dir.join("model.safetensors");
        let file = std::fs::File::open(&path)
            .map_err(|e| EmbedError::from(model::ModelError::io(&path, e)))?;
        // SAFETY: mapped read-only; a model directory is not rewritten while a
        // run uses it (conversions are renamed into place).
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| EmbedError::from(model::ModelError::io(&path, e)))?;
        let precision = match precision {
            Precision::Bf16 if bf16_available() => Precision::Bf16,
            Precision::Int8 if int8_available() => Precision::Int8,
            _ => Precision::F32,
        };
        let h = config.hidden_size;
        let (words, positions, token_type, embedding_norm, layers) = {
            let checkpoint = Checkpoint::open(dir, &map, h, precision)?;
            let token_type_rows = checkpoint.rows("embeddings.token_type_embeddings.weight")?;
            (
                checkpoint.word_table()?,
                checkpoint.load(
                    "embeddings.position_embeddings.weight",
                    &[config.max_position_embeddings, h],
                )?,
                checkpoint.load(
                    "embeddings.token_type_embeddings.weight",
                    &[token_type_rows, h],
                )?[..h]
                    .to_vec(),
                checkpoint.norm("embeddings.LayerNorm")?,
                (0..config.num_hidden_layers)
                    .map(|n| checkpoint.layer(n, config.intermediate_size))
                    .collect::<Result<Vec<_>, EmbedError>>()?,
            )
        };
        let (offset, rows, dtype) = words;
        Ok(Ok(Self {
            hidden: h,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps,
            words: WordTable {
                map,
                offset,
                rows,
                dtype,
            },
            positions,
            position_offset,
            max_positions: config
                .max_position_embeddings
                .saturating_sub(position_offset),
            token_type,
            embedding_norm,
            layers,
            pooling,
            precision,
        }))
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The first layer's input: word + position + token-type embeddings,
    /// layer-normalized, one row per token of every sequence.
    fn embed_tokens(&self, sequences: &[&[u32]], x: &mut [f32]) -> Result<(), EmbedError> {
        let h = self.hidden;
        let tokens: Vec<(u32, usize)> = sequences
            .iter()
            .flat_map(|s| s.iter().enumerate().map(|(p, &id)| (id, p)))
            .collect();
        if let Some(&(id, _)) = tokens
            .iter()
            .find(|(id, _)| *id as usize >= self.words.rows)
        {
            return Err(EmbedError::Tokenizer(format!(
                "token id {id} is outside the model's vocabulary of {}",
                self.words.rows
            )));
        }
        x.par_chunks_mut(h)
            .zip(&tokens)
            .for_each(|(row, &(id, position))| {
                self.words.read(id as usize, row);
                let position = &self.positions[(position + self.position_offset) * h..][..h];
                for ((v, p), t) in row.iter_mut().zip(position).zip(&self.token_type) {
                    *v += p + t;
                }
            });
        let norm = &self.embedding_norm;
        x.par_chunks_mut(h * 64)
            .for_each(|rows| kernels::layer_norm(rows, h, &norm.gamma, &norm.beta, self.eps));
        Ok(())
    }

    /// Multi-head self-attention of every sequence; `qkv` holds the stacked
    /// projections, `context` receives the heads side by side.
    fn attention(&self, qkv: &[f32], lengths: &[usize], context: &mut [f32]) {
        let h = self.hidden;
        let head_dim = h / self.heads;
        let mut pieces = Vec::with_capacity(lengths.len());
        let (mut qkv_rest, mut context_rest) = (qkv, context);
        for &len in lengths {
            let (q, q_rest) = qkv_rest.split_at(len * 3 * h);
            let (c, c_rest) = std::mem::take(&mut context_rest).split_at_mut(len * h);
            pieces.push((q, c, len));
            (qkv_rest, context_rest) = (q_rest, c_rest);
        }
        pieces.into_par_iter().for_each(|(qkv, context, len)| {
            let heads: Vec<Vec<f32>> = (0..self.heads)
                .into_par_iter()
                .map_init(Vec::new, |scores, head| {
                    let view = HeadView {
                        qkv,
                        stride: 3 * h,
                        len,
                        head_dim,
                        q: head * head_dim,
                        k: h + head * head_dim,
                        v: 2 * h + head * head_dim,
                    };
                    let mut out = vec![0f32; len * head_dim];
                    attention_head(&view, scores, &mut out);
                    out
                })
                .collect();
            for (head, values) in heads.iter().enumerate() {
                for (row, src) in context
                    .chunks_exact_mut(h)
                    .zip(values.chunks_exact(head_dim))
                {
                    row[head * head_dim..][..head_dim].copy_from_slice(src);
                }
            }
        });
    }

    /// The epilogue of a dense layer whose output is added to `residual`
    /// and layer-normalized.
    fn residual_norm<'a>(&'a self, residual: &'a [f32], norm: &'a Norm) -> Epilogue<'a> {
        Epilogue::ResidualNorm {
            residual,
            gamma: &norm.gamma,
            beta: &norm.beta,
            eps: self.eps,
        }
    }
}

impl WordTable {
    fn read(&self, id: usize, row: &mut [f32]) {
        let width = dtype_size(self.dtype);
        let start = self.offset + id * row.len() * width;
        let bytes = &self.map[start..start + row.len() * width];
        for (v, b) in row.iter_mut().zip(bytes.chunks_exact(width)) {
            *v = scalar(self.dtype, b);
        }
    }
}

fn dtype_size(dtype: Dtype) -> usize {
    match dtype {
        Dtype::F32 => 4,
        _ => 2,
    }
}

fn scalar(dtype: Dtype, b: &[u8]) -> f32 {
    match dtype {
        Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        Dtype::F16 => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
        _ => half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
    }
}

/// The tensor's values as f32, or `None` for types that are not floats.
fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 | Dtype::F16 | Dtype::BF16 => Some(
            data.chunks_exact(dtype_size(dtype))
                .map(|b| scalar(dtype, b))
                .collect(),
        ),
        _ => None,
    }
}

impl Backend for NativeEncoder {
    fn pooled(&self, sequences: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let h = self.hidden;
        let lengths: Vec<usize> = sequences.iter().map(|s| s.len()).collect();
        let tokens: usize = lengths.iter().sum();
        let widest = self.layers.iter().map(|l| l.intermediate.outputs()).max();
        let mut x = vec![0f32; tokens * h];
        let mut context = vec![0f32; tokens * h];
        let mut scratch = vec![0f32; tokens * h];
        let mut qkv = vec![0f32; tokens * 3 * h];
        let mut intermediate = vec![0f32; tokens * widest.unwrap_or(0)];
        self.embed_tokens(sequences, &mut x)?;
        for layer in &self.layers {
            layer.qkv.forward(&x, &mut qkv, Epilogue::None);
            self.attention(&qkv, &lengths, &mut context);
            let norm = self.residual_norm(&x, &layer.attention_norm);
            layer.attention_out.forward(&context, &mut scratch, norm);
            std::mem::swap(&mut x, &mut scratch);
            let inter = &mut intermediate[..tokens * layer.intermediate.outputs()];
            layer.intermediate.forward(&x, inter, Epilogue::Gelu);
            let norm = self.residual_norm(&x, &layer.output_norm);
            layer.output.forward(inter, &mut scratch, norm);
            std::mem::swap(&mut x, &mut scratch);
        }
        let mut pooled = Vec::with_capacity(sequences.len());
        let mut rows = x.chunks_exact(h);
        for &len in &lengths {
            let sequence: Vec<&[f32]> = rows.by_ref().take(len).collect();
            pooled.push(match self.pooling {
                Pooling::Cls => sequence[0].to_vec(),
                Pooling::Mean => {
                    let mut sum = vec![0f32; h];
                    for row in &sequence {
                        for (s, v) in sum.iter_mut().zip(*row) {
                            *s += v;
                        }
                    }
                    sum.iter().map(|s| s / len as f32).collect()
                }
            });
        }
        Ok(pooled)
    }

    fn dimension(&self) -> usize {
        self.hidden
    }

    fn max_positions(&self) -> usize {
        self.max_positions
    }

    fn device(&self) -> String {
        format!("cpu, {}", crate::simd::level())
    }

    fn is_padded(&self) -> bool {
        false
    }
}

/// Checks that the native encoder can run the model `config` describes;
/// returns the first position id (XLM-RoBERTa counts from after its padding id).
fn check_config(config: &Config, dir: &Path) -> Result<Result<usize, Unsupported>, EmbedError> {
    let position_offset = match config.model_type.as_deref() {
        Some("bert") | None => 0,
        Some("xlm-roberta") => config.pad_token_id as usize + 1,
        Some(other) => return Ok(Err(Unsupported(format!("model_type {other:?}")))),
    };
    if config.hidden_act != "gelu" {
        return Ok(Err(Unsupported(format!(
            "hidden_act {:?}",
            config.hidden_act
        ))));
    }
    if config.position_embedding_type != "absolute" {
        return Ok(Err(Unsupported(format!(
            "position_embedding_type {:?}",
            config.position_embedding_type
        ))));
    }
    if config.num_attention_heads == 0
        || !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
    {
        return Err(bad_model_dir(
            dir,
            "config.json: hidden_size is not a multiple of num_attention_heads".into(),
        ));
    }
    Ok(Ok(position_offset))
}

/// The tensors of a mapped `model.safetensors`, read by their BERT names
/// whatever prefix the checkpoint puts before them.
struct Checkpoint<'a> {
    dir: &'a Path,
    map: &'a [u8],
    tensors: SafeTensors<'a>,
    prefix: &'static str,
    hidden: usize,
    precision: Precision,
}

impl<'a> Checkpoint<'a> {
    fn open(
        dir: &'a Path,
        map: &'a [u8],
        hidden: usize,
        precision: Precision,
    ) -> Result<Self, EmbedError> {
        let tensors = SafeTensors::deserialize(map)
            .map_err(|e| bad_model_dir(dir, format!("model.safetensors: {e}")))?;
        let prefix = ["", "bert.", "roberta.", "model."]
            .into_iter()
            .find(|p| {
                tensors
                    .tensor(&format!("{p}embeddings.word_embeddings.weight"))
                    .is_ok()
            })
            .ok_or_else(|| {
                bad_model_dir(
                    dir,
                    "model.safetensors has no embeddings.word_embeddings.weight".into(),
                )
            })?;
        Ok(Self {
            dir,
            map,
            tensors,
            prefix,
            hidden,
            precision,
        })
    }

    fn view(&self, name: &str) -> Result<safetensors::tensor::TensorView<'a>, EmbedError> {
        let full = format!("{}{name}", self.prefix);
        self.tensors
            .tensor(&full)
            .map_err(|_| bad_model_dir(self.dir, format!("model.safetensors has no tensor {full}")))
    }

    /// The first dimension of a tensor (at least 1).
    fn rows(&self, name: &str) -> Result<usize, EmbedError> {
        Ok(self
            .view(name)?
            .shape()
            .first()
            .copied()
            .unwrap_or(0)
            .max(1))
    }

    /// A tensor as f32 values, checked against the shape the config implies.
    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, EmbedError> {
        let view = self.view(name)?;
        let full = format!("{}{name}", self.prefix);
        if view.shape() != shape {
            return Err(bad_model_dir(
                self.dir,
                format!(
                    "tensor {full} has shape {:?}, config.json implies {shape:?}",
                    view.shape()
                ),
            ));
        }
        to_f32(view.dtype(), view.data()).ok_or_else(|| {
            bad_model_dir(
                self.dir,
                format!(
                    "tensor {full} has type {:?} (f32, f16 or bf16 expected)",
                    view.dtype()
                ),
            )
        })
    }

    fn norm(&self, name: &str) -> Result<Norm, EmbedError> {
        Ok(Norm {
            gamma: self.load(&format!("{name}.weight"), &[self.hidden])?,
            beta: self.load(&format!("{name}.bias"), &[self.hidden])?,
        })
    }

    fn linear(&self, name: &str, outputs: usize, inputs: usize) -> Result<Linear, EmbedError> {
        let weight = self.load(&format!("{name}.weight"), &[outputs, inputs])?;
        let bias = self.load(&format!("{name}.bias"), &[outputs])?;
        Ok(Linear::new(&weight, bias, outputs, inputs, self.precision))
    }

    /// Encoder layer `n`, its query, key and value fused into one product.
    fn layer(&self, n: usize, intermediate: usize) -> Result<Layer, EmbedError> {
        let h = self.hidden;
        let at = |part: &str| format!("encoder.layer.{n}.{part}");
        let mut qkv_weight = Vec::with_capacity(3 * h * h);
        let mut qkv_bias = Vec::with_capacity(3 * h);
        for part in ["query", "key", "value"] {
            qkv_weight.extend(self.load(&at(&format!("attention.self.{part}.weight")), &[h, h])?);
            qkv_bias.extend(self.load(&at(&format!("attention.self.{part}.bias")), &[h])?);
        }
        Ok(Layer {
            qkv: Linear::new(&qkv_weight, qkv_bias, 3 * h, h, self.precision),
            attention_out: self.linear(&at("attention.output.dense"), h, h)?,
            attention_norm: self.norm(&at("attention.output.LayerNorm"))?,
            intermediate: self.linear(&at("intermediate.dense"), intermediate, h)?,
            output: self.linear(&at("output.dense"), h, intermediate)?,
            output_norm: self.norm(&at("output.LayerNorm"))?,
        })
    }

    /// Where the word-embedding table sits in the mapped file: byte offset,
    /// rows and number type, so that it is read in place rather than copied.
    fn word_table(&self) -> Result<(usize, usize, Dtype), EmbedError> {
        let name = "embeddings.word_embeddings.weight";
        let view = self.view(name)?;
        let rows = view.shape()[0];
        if view.shape() != [rows, self.hidden] || to_f32(view.dtype(), &[]).is_none() {
            return Err(bad_model_dir(
                self.dir,
                format!(
                    "tensor {}{name} is not a [vocab, {}] float table",
                    self.prefix, self.hidden
                ),
            ));
        }
        let offset = view.data().as_ptr() as usize - self.map.as_ptr() as usize;
        Ok((offset, rows, view.dtype()))
    }
}
