//! Shared helpers for the integration tests: the binary run as a user runs
//! it, its report files read back, the real default model loaded once per
//! test binary, and paths to the shared fixtures.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crossthemes::embed::{DeviceChoice, EmbedOptions, Embedder};
use crossthemes::model::{ModelStore, DEFAULT_MODEL};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn shared() -> PathBuf {
    repo_root().join("../shared")
}

/// Says on the test run's own stderr (past the harness's capture, so it is
/// seen even when the test passes) that `test` did not run its check, and
/// why.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// `relative` under ../shared, or `None` (with one line saying so) on a
/// checkout without ../shared beside it.
pub fn shared_path(relative: &str, test: &str) -> Option<PathBuf> {
    let path = shared().join(relative);
    if path.exists() {
        return Some(path);
    }
    skip(
        test,
        &format!(
            "needs {} (the shared fixtures and benchmark beside the repository)",
            path.display()
        ),
    );
    None
}

/// Whether this CPU has the bf16 path: AVX-512 with AVX512-BF16.
pub fn cpu_has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
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

/// The crossthemes binary with `args`, from the repository root, offline.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crossthemes"));
    command
        .current_dir(repo_root())
        .args(args)
        .env("HF_HUB_OFFLINE", "1");
    command
}

/// Runs the binary to the end.
pub fn run(args: &[&str]) -> Output {
    command(args).output().expect("the binary runs")
}

/// Runs the binary and insists that it succeeds.
pub fn run_ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A path as a command-line argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Rows of a report CSV as column → value maps; the file must start with
/// a UTF-8 BOM, as every report CSV does.
pub fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "{} starts with a UTF-8 BOM",
        path.display()
    );
    csv::Reader::from_reader(&bytes[3..])
        .deserialize()
        .map(|r| r.unwrap())
        .collect()
}

/// The run.json of an output folder.
pub fn run_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

/// The names of the entries of a folder.
pub fn file_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A headless browser on the PATH.
pub fn chromium() -> PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        })
        .expect("a headless browser: install Debian's chromium (apt-get install chromium)")
}

/// `page` rendered by headless Chromium: the DOM after its script ran,
/// and the browser's log.
pub fn render(page: &Path) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
