//! What a scheduled job must survive, each case of the bad-input campaign
//! run against the real binary: the right result, or a clear one-line error
//! naming the file or flag, with the previous outputs intact and theme ids
//! never handed out twice.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{arg, command, file_names, read_csv, repo_root, run, run_json, run_ok};

/// A folder holding the smallest seed article (10 paragraphs, English).
fn small_input() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let name = "000_83d050db8f9f875e.txt";
    std::fs::copy(repo_root().join("seeds").join(name), dir.path().join(name)).unwrap();
    dir
}

fn job(input: &Path, output: &Path, extra: &[&str]) -> Output {
    run(&[&["--input", arg(input), "--output", arg(output)], extra].concat())
}

fn job_ok(input: &Path, output: &Path, extra: &[&str]) -> Output {
    run_ok(&[&["--input", arg(input), "--output", arg(output)], extra].concat())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A one-line error with this exit code that names `needle`, no panic.
fn assert_error(out: &Output, code: i32, needle: &str) {
    let text = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{text}");
    let error_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line: {text}");
    assert!(error_lines[0].contains(needle), "names {needle:?}: {text}");
    assert!(!text.contains("panicked"), "{text}");
}

fn assert_mentions(out: &Output, needle: &str) {
    assert!(stderr(out).contains(needle), "{}", stderr(out));
}

fn theme_ids(output: &Path) -> BTreeSet<u64> {
    read_csv(&output.join("themes.csv"))
        .iter()
        .map(|t| t["theme"].parse().unwrap())
        .collect()
}

fn history(output: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(output.join("themes_history.json")).unwrap()).unwrap()
}

/// Every id the history says was ever handed out.
fn ids_ever(output: &Path) -> BTreeSet<u64> {
    let h = history(output);
    h["themes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(h["retired"].as_array().unwrap())
        .map(|t| t["id"].as_u64().unwrap())
        .collect()
}

#[cfg(unix)]
#[test]
fn a_linked_lock_file_is_refused_and_its_target_left_alone() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    let target = output.path().join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let lock = output.path().join(".crossthemes.lock");
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let out = job(input.path(), output.path(), &[]);
    assert_error(&out, 2, ".crossthemes.lock");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert!(
        !stderr(&out).contains("keep me"),
        "the target is never read"
    );

    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &lock).unwrap();
    assert_error(
        &job(input.path(), output.path(), &[]),
        2,
        ".crossthemes.lock",
    );
}

#[test]
fn deeply_nested_html_is_read_without_crashing() {
    let input = tempfile::tempdir().unwrap();
    let text =
        "Deeply nested markup still holds a paragraph that an analyst wants to read in full.";
    let spans = format!(
        "<html><body>{}<p>{text}</p>{}</body></html>",
        "<span>".repeat(20_000),
        "</span>".repeat(20_000)
    );
    std::fs::write(input.path().join("spans.html"), spans).unwrap();
    let divs = format!(
        "<html><body>{}<p>{text} Divs this time.</p></body></html>",
        "<div>".repeat(150_000)
    );
    std::fs::write(input.path().join("divs.html"), divs).unwrap();
    let output = tempfile::tempdir().unwrap();
    let out = job_ok(input.path(), output.path(), &[]);
    assert!(stderr(&out).contains("divs.html"), "the file is named");
    let paragraphs = read_csv(&output.path().join("paragraphs.csv"));
    assert!(paragraphs
        .iter()
        .any(|p| p["text"].contains("Divs this time")));
    assert!(paragraphs
        .iter()
        .any(|p| p["file"] == "spans.html" && p["text"].contains("an analyst wants")));
}

#[test]
fn a_broken_stderr_is_not_a_panic() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = command(&["--input", arg(input.path()), "--output", arg(output.path())])
        .stderr(Stdio::from(writer))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(output.path().join("themes.csv").is_file());

    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = command(&["--input", "no/such/input"])
        .stderr(Stdio::from(writer))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2), "a usage error stays a usage error");
}

#[test]
fn a_cache_path_that_is_a_folder_is_refused_and_left_alone() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("mine.txt"), "the user's").unwrap();
    let out = job(
        input.path(),
        output.path(),
        &["--cache", arg(folder.path())],
    );
    assert_error(&out, 2, "--cache");
    assert!(folder.path().join("mine.txt").is_file(), "not renamed");
}

#[test]
fn a_cache_busy_for_a_moment_is_waited_for_not_set_aside() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    let cache = output.path().join("cache.sqlite");
    let holder = rusqlite::Connection::open(&cache).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let child = command(&["--input", arg(input.path()), "--output", arg(output.path())])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(run_json(output.path())["embedding"]["embedded"], 0);
    let aside = file_names(output.path())
        .iter()
        .filter(|n| n.contains("broken"))
        .count();
    assert_eq!(aside, 0, "a healthy cache is never set aside");
}

#[test]
fn first_seen_days_survive_a_lost_cache() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    // A day long past, as the history of an old output folder would hold.
    let path = output.path().join("themes_history.json");
    let mut h = history(output.path());
    for day in h["paragraph_first_seen"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        *day = "2020-01-01".into();
    }
    std::fs::write(&path, serde_json::to_vec(&h).unwrap()).unwrap();
    std::fs::remove_file(output.path().join("cache.sqlite")).unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    for p in read_csv(&output.path().join("paragraphs.csv")) {
        assert_eq!(p["first_seen"], "2020-01-01");
        assert_eq!(p["new"], "false");
    }
}

/// Runs twice to have a history and its backup, breaks the history with
/// `break_it`, runs again: no id seen before comes back as a new theme.
fn ids_survive(break_it: &dyn Fn(&Path)) {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet", "--k", "2"]);
    job_ok(input.path(), output.path(), &["--quiet", "--k", "3"]);
    let before = ids_ever(output.path());
    break_it(&output.path().join("themes_history.json"));
    let out = job_ok(input.path(), output.path(), &["--k", "3"]);
    assert_mentions(&out, "themes_history.json");
    let now = theme_ids(output.path());
    assert!(
        now.iter().all(|id| id > before.iter().max().unwrap()),
        "new ids {now:?} after {before:?}"
    );
    let kept = file_names(output.path())
        .iter()
        .filter(|n| n.starts_with("themes_history.json.broken-"))
        .count();
    assert_eq!(kept, 1, "the broken history is kept for inspection");
    // And the run after that builds on the rewritten history.
    job_ok(input.path(), output.path(), &["--quiet", "--k", "3"]);
    assert_eq!(theme_ids(output.path()), now);
}

#[test]
fn a_truncated_history_never_gives_an_id_twice() {
    ids_survive(&|path| {
        let text = std::fs::read(path).unwrap();
        std::fs::write(path, &text[..text.len() / 3]).unwrap();
    });
}

#[test]
fn an_empty_object_as_history_never_gives_an_id_twice() {
    ids_survive(&|path| std::fs::write(path, "{}").unwrap());
}

#[test]
fn a_history_near_the_largest_id_never_wraps() {
    ids_survive(&|path| {
        let mut h: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        h["next_theme_id"] = serde_json::json!(u64::MAX - 1);
        std::fs::write(path, serde_json::to_vec(&h).unwrap()).unwrap();
    });
}

#[test]
fn a_history_without_themes_is_a_fresh_start_that_keeps_its_ids() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    let before = ids_ever(output.path());
    let path = output.path().join("themes_history.json");
    let mut h = history(output.path());
    h["themes"] = serde_json::json!([]);
    h["retired"] = serde_json::json!(before
        .iter()
        .map(|id| serde_json::json!({"id": id, "label": "x", "first_seen": "2026-01-01", "retired_on": "2026-01-02"}))
        .collect::<Vec<_>>());
    std::fs::write(&path, serde_json::to_vec(&h).unwrap()).unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    job_ok(input.path(), output.path(), &["--quiet"]);
    assert!(theme_ids(output.path()).is_disjoint(&before));
}

#[test]
fn rebuild_retires_the_old_ids_and_never_reuses_them() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    let before = theme_ids(output.path());
    job_ok(input.path(), output.path(), &["--quiet", "--rebuild"]);
    let after = theme_ids(output.path());
    assert!(after.is_disjoint(&before), "{after:?} vs {before:?}");
    let retired: BTreeSet<u64> = history(output.path())["retired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    assert!(
        before.is_subset(&retired),
        "{before:?} retired: {retired:?}"
    );
}

#[test]
fn leftovers_of_a_killed_run_are_cleared_and_the_report_set_stays_whole() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(
        input.path(),
        output.path(),
        &["--quiet", "--save-embeddings"],
    );
    for name in [".crossthemes-a1b2c3", ".crossthemes-staged-themes.csv"] {
        std::fs::write(output.path().join(name), "half written").unwrap();
    }
    job_ok(input.path(), output.path(), &["--quiet"]);
    let left: Vec<String> = file_names(output.path())
        .into_iter()
        .filter(|n| n.starts_with(".crossthemes-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        !output.path().join("embeddings.npy").exists(),
        "vectors of an earlier run do not stay beside new paragraphs"
    );
}

#[test]
fn auto_k_is_chosen_again_when_the_corpus_grows_a_lot() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    let small_k = run_json(output.path())["k"].as_u64().unwrap();
    job_ok(&repo_root().join("seeds"), output.path(), &["--quiet"]);
    let run = run_json(output.path());
    let method = run["k_selection"]["method"].as_str().unwrap();
    assert!(
        method.contains("silhouette"),
        "{method} (was k = {small_k})"
    );
    // A corpus that barely changed keeps its k.
    job_ok(&repo_root().join("seeds"), output.path(), &["--quiet"]);
    let method = run_json(output.path())["k_selection"]["method"].clone();
    assert!(method.as_str().unwrap().contains("kept"), "{method}");
}

#[test]
fn binary_data_without_nul_bytes_is_refused_by_name() {
    let input = small_input();
    // Bytes 1 to 127 only: valid UTF-8, but a quarter control characters.
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761) >> 13) % 127) as u8 + 1)
        .collect();
    std::fs::write(input.path().join("photo.txt"), noise).unwrap();
    let output = tempfile::tempdir().unwrap();
    let out = job(input.path(), output.path(), &[]);
    assert_error(&out, 2, "photo.txt");
    assert_mentions(&out, "control characters");
}

#[test]
fn utf16_without_a_byte_order_mark_is_read() {
    let input = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo_root().join("seeds/000_83d050db8f9f875e.txt")).unwrap();
    let utf16: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    std::fs::write(input.path().join("wide.txt"), utf16).unwrap();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    let paragraphs = read_csv(&output.path().join("paragraphs.csv"));
    assert!(paragraphs.len() >= 5);
    assert!(paragraphs.iter().all(|p| !p["text"].contains('\u{fffd}')));
    assert_eq!(
        run_json(output.path())["decoded_as"]["wide.txt"],
        "UTF-16LE"
    );
}

#[test]
fn as_many_themes_as_paragraphs_gives_that_many() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    let n = read_csv(&output.path().join("paragraphs.csv")).len();
    let fresh = tempfile::tempdir().unwrap();
    job_ok(
        input.path(),
        fresh.path(),
        &["--quiet", "--k", &n.to_string()],
    );
    assert_eq!(theme_ids(fresh.path()).len(), n);
}

#[test]
fn a_paragraph_of_megabytes_is_cut_with_a_warning_naming_it() {
    let input = small_input();
    let words = "growth strategy budget customers ".repeat(150_000);
    std::fs::write(input.path().join("huge.txt"), format!("{words}\n")).unwrap();
    let output = tempfile::tempdir().unwrap();
    let out = job_ok(
        input.path(),
        output.path(),
        &["--max-paragraph-tokens", "1024"],
    );
    let text = stderr(&out);
    assert!(
        text.contains("huge.txt paragraph 1") && text.contains("--max-paragraph-tokens"),
        "{text}"
    );
    assert_eq!(
        run_json(output.path())["embedding"]["stats"]["cut_to_max_tokens"],
        1
    );
    // Another limit gives that paragraph another vector: the cached ones
    // are not taken for it.
    job_ok(
        input.path(),
        output.path(),
        &["--max-paragraph-tokens", "512"],
    );
    let run = run_json(output.path());
    assert_eq!(run["embedding"]["stats"]["cut_to_max_tokens"], 1, "{run}");
    assert_eq!(run["embedding"]["reused_from_cache"], 0, "{run}");
}

#[test]
fn more_threads_than_cores_are_lowered_with_a_warning() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    let out = job_ok(input.path(), output.path(), &["--threads", "1000"]);
    assert_mentions(&out, "--threads 1000");
}

#[test]
fn os_errors_are_said_once_and_empty_files_named() {
    let input = small_input();
    std::fs::create_dir(input.path().join("folder.txt")).unwrap();
    std::fs::write(input.path().join("empty.md"), "").unwrap();
    let output = tempfile::tempdir().unwrap();
    let out = job_ok(input.path(), output.path(), &[]);
    assert_mentions(&out, "empty.md");

    let not_a_folder = output.path().join("themes.csv").join("below");
    let out = job(input.path(), &not_a_folder, &[]);
    assert_error(&out, 2, "--output");
    let text = stderr(&out);
    assert_eq!(text.matches("os error").count(), 1, "{text}");
}

#[test]
fn same_file_names_in_two_inputs_are_told_apart() {
    let a = small_input();
    let b = tempfile::tempdir().unwrap();
    let name = "000_83d050db8f9f875e.txt";
    let other =
        std::fs::read_to_string(repo_root().join("seeds/004_b16636b05b5f2f31.txt")).unwrap();
    std::fs::write(b.path().join(name), other).unwrap();
    let output = tempfile::tempdir().unwrap();
    let out = run_ok(&[
        "--input",
        arg(a.path()),
        "--input",
        arg(b.path()),
        "--output",
        arg(output.path()),
        "--quiet",
    ]);
    assert!(out.status.success());
    let files: BTreeSet<String> = read_csv(&output.path().join("paragraphs.csv"))
        .into_iter()
        .map(|p| p["file"].clone())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
}

#[test]
fn broken_model_weights_are_named_not_a_clustering_failure() {
    let model = repo_root().join("models/multilingual-e5-small-q4");
    let broken = tempfile::tempdir().unwrap();
    for name in [
        "config.json",
        "tokenizer.json",
        "config_sentence_transformers.json",
    ] {
        std::fs::copy(model.join(name), broken.path().join(name)).unwrap();
    }
    std::fs::create_dir(broken.path().join("1_Pooling")).unwrap();
    std::fs::copy(
        model.join("1_Pooling/config.json"),
        broken.path().join("1_Pooling/config.json"),
    )
    .unwrap();
    let mut weights = std::fs::read(model.join("model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&weights[8..8 + header_len]).unwrap();
    let range = &header["embeddings.LayerNorm.weight"]["data_offsets"];
    let (start, end) = (
        8 + header_len + range[0].as_u64().unwrap() as usize,
        8 + header_len + range[1].as_u64().unwrap() as usize,
    );
    for chunk in weights[start..end].chunks_exact_mut(4) {
        chunk.copy_from_slice(&f32::NAN.to_le_bytes());
    }
    std::fs::write(broken.path().join("model.safetensors"), weights).unwrap();

    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    let out = job(
        input.path(),
        output.path(),
        &["--model", arg(broken.path())],
    );
    assert_error(&out, 1, "000_83d050db8f9f875e.txt paragraph");
    assert_mentions(&out, "weights are broken");
}

/// The output folder of a run that ends in an error keeps its files.
#[test]
fn a_failed_run_leaves_the_previous_report_whole() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    let names: Vec<PathBuf> = ["paragraphs.csv", "themes.csv", "run.json", "runs.csv"]
        .iter()
        .map(|n| output.path().join(n))
        .collect();
    let before: Vec<Vec<u8>> = names.iter().map(|p| std::fs::read(p).unwrap()).collect();
    std::fs::write(input.path().join("bad.txt"), b"\x00\x01binary").unwrap();
    assert_error(&job(input.path(), output.path(), &[]), 2, "bad.txt");
    for (path, bytes) in names.iter().zip(&before) {
        assert!(&std::fs::read(path).unwrap() == bytes, "{}", path.display());
    }
}
