//! Shared helpers for the integration tests: the real default model, loaded
//! once per test binary, and paths to the shared fixtures.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use crossthemes::embed::{DeviceChoice, EmbedOptions, Embedder, ModelStore, DEFAULT_MODEL};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn shared() -> PathBuf {
    repo_root().join("../shared")
}

/// The default model, resolved exactly as the job does (fetched on first use).
pub fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| load_embedder(EmbedOptions::default()))
}

/// The default model with other options (engine, precision).
pub fn load_embedder(options: EmbedOptions) -> Embedder {
    let model = ModelStore::new(repo_root().join("models"))
        .resolve(DEFAULT_MODEL)
        .expect("the default model resolves (CI fetches it through the packaged fallback)");
    Embedder::load(model, DeviceChoice::Cpu, options).expect("the default model loads")
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}
