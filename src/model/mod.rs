//! The model store: finds or fetches a model directory for `--model` (a local
//! directory, a copy under `models/`, the Hugging Face hub, or the packaged
//! fallback for the default model), records where its weights came from, and
//! reads the directory's JSON files. It knows nothing of running a model:
//! that is `embed`'s job.

pub(crate) mod charsmap;
pub mod packaged;
mod store;

use std::path::{Path, PathBuf};

use crate::error::{Classified, Fault};
pub use store::{ModelStore, ResolvedModel, DEFAULT_MODEL};

/// Where a model directory's weights came from, beside them.
const PROVENANCE_FILE: &str = "provenance.json";

/// Why no usable model directory could be had.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Every way of finding the model failed.
    #[error(
        "model {spec:?} could not be found or fetched. Tried:\n  - {attempts}\n\
         To place it by hand, put config.json, tokenizer.json and model.safetensors \
         into {store} (or any directory, and pass it with --model DIR)"
    )]
    NotFound {
        /// What the user asked for.
        spec: String,
        /// One line per way tried.
        attempts: String,
        /// Where a copy placed by hand would be found.
        store: PathBuf,
    },
    /// The directory exists but cannot be used as it is.
    #[error("model directory {dir} is not usable: {reason}")]
    BadDir {
        /// The model directory.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The packaged fallback could not be fetched.
    #[error("packaged model fallback failed: {0}")]
    Fallback(String),
    /// The packaged model file does not parse.
    #[error("the packaged model file is corrupt: {0}")]
    CorruptPackage(String),
    /// Converted weights could not be written as safetensors.
    #[error("writing the converted weights")]
    Weights(#[from] candle_core::Error),
    /// A file of the store could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
}

impl ModelError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        ModelError::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    /// A model directory that cannot be used, and why.
    pub fn bad_dir(dir: &Path, reason: String) -> Self {
        ModelError::BadDir {
            dir: dir.to_path_buf(),
            reason,
        }
    }
}

impl Classified for ModelError {
    fn fault(&self) -> Fault {
        match self {
            ModelError::BadDir { .. } => Fault::Usage(None),
            ModelError::NotFound { .. }
            | ModelError::Fallback(_)
            | ModelError::CorruptPackage(_)
            | ModelError::Weights(_)
            | ModelError::Io { .. } => Fault::Failure,
        }
    }
}

/// Reads a model directory's `config.json` as `T`. The text comes back too,
/// for a backend that parses it again into its library's own config types.
pub fn read_config<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<(T, String), ModelError> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| ModelError::io(&path, e))?;
    let config = parse_config(dir, &text)?;
    Ok((config, text))
}

/// Parses the text of a model directory's `config.json` as `T`.
pub fn parse_config<T: serde::de::DeserializeOwned>(
    dir: &Path,
    text: &str,
) -> Result<T, ModelError> {
    serde_json::from_str(text).map_err(|e| ModelError::bad_dir(dir, format!("config.json: {e}")))
}

/// A JSON file of a model directory, or `None` where the file is absent.
pub fn read_json_if_present(
    dir: &Path,
    name: &str,
) -> Result<Option<serde_json::Value>, ModelError> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ModelError::bad_dir(dir, format!("{name} is not valid JSON: {e}"))),
        Err(_) => Ok(None),
    }
}
