//! The candle backend: loads a BERT or XLM-RoBERTa encoder from a model
//! directory and returns one pooled vector per token sequence.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{bert, xlm_roberta};

use super::{bad_model_dir, Backend, EmbedError, Pooling, Precision};
use crate::model;

enum Encoder {
    Bert(bert::BertModel),
    XlmRoberta(xlm_roberta::XLMRobertaModel),
}

pub struct CandleEncoder {
    encoder: Encoder,
    device: Device,
    pooling: Pooling,
    dimension: usize,
    pad_id: u32,
    max_positions: usize,
}

#[derive(serde::Deserialize)]
struct ArchitectureProbe {
    model_type: Option<String>,
    hidden_size: usize,
    max_position_embeddings: usize,
    #[serde(default)]
    pad_token_id: u32,
}

impl CandleEncoder {
    pub fn load(
        dir: &Path,
        device: Device,
        pooling: Pooling,
        precision: Precision,
    ) -> Result<Self, EmbedError> {
        let bad = |reason: String| bad_model_dir(dir, reason);
        let (probe, config_text): (ArchitectureProbe, _) = model::read_config(dir)?;
        let weights = dir.join("model.safetensors");
        // SAFETY: the file is memory-mapped read-only; a model directory is not
        // rewritten while a run uses it (conversions are renamed into place).
        let dtype = match precision {
            Precision::F32 | Precision::Int8 => DType::F32,
            Precision::Bf16 => DType::BF16,
        };
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], dtype, &device) }
            .map_err(|e| bad(format!("model.safetensors: {e}")))?;
        let (encoder, max_positions) = match probe.model_type.as_deref() {
            Some("xlm-roberta") => {
                let config: xlm_roberta::Config = model::parse_config(dir, &config_text)?;
                let model = xlm_roberta::XLMRobertaModel::new(&config, vb)
                    .map_err(|e| bad(format!("weights do not fit config.json: {e}")))?;
                // XLM-R positions start after the padding index.
                let usable = probe
                    .max_position_embeddings
                    .saturating_sub(probe.pad_token_id as usize + 1);
                (Encoder::XlmRoberta(model), usable)
            }
            Some("bert") | None => {
                let config: bert::Config = model::parse_config(dir, &config_text)?;
                let model = bert::BertModel::load(vb, &config)
                    .map_err(|e| bad(format!("weights do not fit config.json: {e}")))?;
                (Encoder::Bert(model), probe.max_position_embeddings)
            }
            Some(other) => {
                return Err(bad(format!(
                    "model_type {other:?} is not supported (bert or xlm-roberta)"
                )))
            }
        };
        Ok(Self {
            encoder,
            device,
            pooling,
            dimension: probe.hidden_size,
            pad_id: probe.pad_token_id,
            max_positions,
        })
    }
}

impl Backend for CandleEncoder {
    fn pooled(&self, sequences: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let longest = sequences.iter().map(|s| s.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(sequences.len() * longest);
        let mut mask = Vec::with_capacity(sequences.len() * longest);
        for seq in sequences {
            ids.extend_from_slice(seq);
            ids.extend(std::iter::repeat_n(self.pad_id, longest - seq.len()));
            mask.extend(std::iter::repeat_n(1u32, seq.len()));
            mask.extend(std::iter::repeat_n(0u32, longest - seq.len()));
        }
        let shape = (sequences.len(), longest);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let token_types = ids.zeros_like()?;
        let hidden = match &self.encoder {
            Encoder::Bert(model) => model.forward(&ids, &token_types, Some(&mask))?,
            Encoder::XlmRoberta(model) => {
                model.forward(&ids, &mask, &token_types, None, None, None)?
            }
        };
        let hidden = hidden.to_dtype(DType::F32)?;
        let pooled = match self.pooling {
            Pooling::Mean => {
                let weights = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let summed = hidden.broadcast_mul(&weights)?.sum(1)?;
                summed.broadcast_div(&weights.sum(1)?)?
            }
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
        };
        Ok(pooled.to_vec2()?)
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn max_positions(&self) -> usize {
        self.max_positions
    }

    fn device(&self) -> String {
        match &self.device {
            Device::Cpu => "cpu".into(),
            Device::Cuda(_) => "cuda".into(),
            Device::Metal(_) => "metal".into(),
        }
    }

    fn is_padded(&self) -> bool {
        true
    }
}
