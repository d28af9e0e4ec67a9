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
/// `break_it`, runs again: the themes of the run before come back from the
/// backup with their ids and first days, the backup itself is kept as it
/// was, and no id seen before comes back as a new theme.
fn ids_survive(break_it: &dyn Fn(&Path)) {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet", "--k", "2"]);
    job_ok(input.path(), output.path(), &["--quiet", "--k", "3"]);
    let before = ids_ever(output.path());
    let backup_path = output.path().join("themes_history.previous.json");
    let backup = std::fs::read(&backup_path).unwrap();
    let backup_themes: BTreeSet<u64> = serde_json::from_slice::<serde_json::Value>(&backup)
        .unwrap()["themes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    break_it(&output.path().join("themes_history.json"));
    let out = job_ok(input.path(), output.path(), &["--k", "3"]);
    assert_mentions(&out, "themes_history.json");
    assert_mentions(&out, "restored");
    let now = theme_ids(output.path());
    let highest = *before.iter().max().unwrap();
    assert!(
        now.iter()
            .all(|id| backup_themes.contains(id) || *id > highest),
        "ids {now:?} after {before:?} (backup's themes {backup_themes:?})"
    );
    assert!(
        !now.is_disjoint(&backup_themes),
        "the backup's themes keep their ids: {now:?} {backup_themes:?}"
    );
    assert_eq!(
        std::fs::read(&backup_path).unwrap(),
        backup,
        "a run on a restored history leaves the good backup as it was"
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
fn binary_data_without_nul_bytes_is_left_out_by_name() {
    let input = small_input();
    // Bytes 1 to 127 only: valid UTF-8, but a quarter control characters.
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761) >> 13) % 127) as u8 + 1)
        .collect();
    std::fs::write(input.path().join("photo.txt"), noise).unwrap();
    let output = tempfile::tempdir().unwrap();
    let out = job_ok(input.path(), output.path(), &[]);
    assert_mentions(&out, "photo.txt: not read");
    assert_mentions(&out, "control characters");
    let run = run_json(output.path());
    assert_eq!(
        run["files_unread"]["not_text"],
        serde_json::json!(["photo.txt"])
    );
    assert_error(
        &job(input.path(), output.path(), &["--strict"]),
        2,
        "photo.txt",
    );
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
    // Another limit gives that paragraph another vector: the cached one is
    // not taken for it, while those of paragraphs read whole are.
    job_ok(
        input.path(),
        output.path(),
        &["--max-paragraph-tokens", "512"],
    );
    let run = run_json(output.path());
    assert_eq!(run["embedding"]["stats"]["cut_to_max_tokens"], 1, "{run}");
    assert_eq!(run["embedding"]["embedded"], 1, "{run}");
    assert_eq!(
        run["embedding"]["reused_from_cache"],
        paragraphs(output.path()).len() - 1,
        "{run}"
    );
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
    assert_error(
        &job(input.path(), output.path(), &["--strict"]),
        2,
        "bad.txt",
    );
    for (path, bytes) in names.iter().zip(&before) {
        assert!(&std::fs::read(path).unwrap() == bytes, "{}", path.display());
    }
}

/// The paragraphs.csv rows of an output folder.
fn paragraphs(output: &Path) -> Vec<std::collections::HashMap<String, String>> {
    read_csv(&output.join("paragraphs.csv"))
}

#[test]
fn files_that_cannot_be_read_are_left_out_and_the_batch_goes_on() {
    let input = small_input();
    let dir = input.path();
    std::fs::write(dir.join("binary.txt"), [7u8; 400]).unwrap();
    let prose = "Regional teams described how customers in each market compare prices before \
                 they decide, and why delivery times matter more than discounts.";
    std::fs::write(dir.join("one-nul.txt"), format!("{prose}\x00 {prose}")).unwrap();
    let chinese = "企业的业务目标已发生变化，如今每个人都有责任推动全组织范围的发展，客户的需求也在不断变化。";
    std::fs::write(
        dir.join("stray-byte.txt"),
        [chinese.as_bytes(), b"\xff", chinese.as_bytes()].concat(),
    )
    .unwrap();
    let utf32: Vec<u8> = [0xFF, 0xFE, 0, 0]
        .into_iter()
        .chain(
            "Zespół sprzedaży w Polsce porównał ceny dostawców i opisał, dlaczego czas dostawy \
             liczy się dla klientów bardziej niż rabaty."
                .chars()
                .flat_map(|c| (c as u32).to_le_bytes()),
        )
        .collect();
    std::fs::write(dir.join("utf32.txt"), utf32).unwrap();
    let output = tempfile::tempdir().unwrap();
    let out = job_ok(dir, output.path(), &[]);
    assert_mentions(&out, "binary.txt: not read");
    assert_mentions(&out, "stray-byte.txt: 1 bytes are not UTF-8");
    let run = run_json(output.path());
    assert_eq!(
        run["files_unread"]["not_text"],
        serde_json::json!(["binary.txt"])
    );
    let rows = paragraphs(output.path());
    let file_of = |needle: &str| {
        rows.iter()
            .find(|p| p["text"].contains(needle))
            .map(|p| p["file"].clone())
    };
    assert_eq!(file_of("delivery times").as_deref(), Some("one-nul.txt"));
    assert_eq!(file_of("企业的业务目标").as_deref(), Some("stray-byte.txt"));
    assert_eq!(file_of("Zespół sprzedaży").as_deref(), Some("utf32.txt"));

    let strict = tempfile::tempdir().unwrap();
    let out = job(dir, strict.path(), &["--strict"]);
    assert_error(&out, 2, "binary.txt");
    assert!(!strict.path().join("themes.csv").exists());
}

#[test]
fn a_file_over_the_size_limit_is_not_read_into_memory() {
    let input = small_input();
    let big = std::fs::File::create(input.path().join("sparse.txt")).unwrap();
    big.set_len(3_000_000_000).unwrap();
    let output = tempfile::tempdir().unwrap();
    let out = job_ok(input.path(), output.path(), &["--max-file-mb", "100"]);
    assert_mentions(&out, "sparse.txt: not read: larger than 100 MB");
    let run = run_json(output.path());
    assert_eq!(
        run["files_unread"]["too_large"],
        serde_json::json!(["sparse.txt"])
    );
    // Its memory: a whole read would have needed 3 GB for the file alone.
    let peak = run["peak_memory_mb"]["ingest"].as_f64().unwrap();
    assert!(peak < 1_000.0, "ingest peaked at {peak} MB");
}

#[test]
fn old_mac_line_endings_split_paragraphs() {
    let input = tempfile::tempdir().unwrap();
    let one = "The first paragraph explains how the regional teams compare prices every week.";
    let two = "The second paragraph explains why delivery times matter more than discounts.";
    std::fs::write(input.path().join("mac.txt"), format!("{one}\r\r{two}\r")).unwrap();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet", "--k", "1"]);
    let texts: Vec<String> = paragraphs(output.path())
        .into_iter()
        .map(|p| p["text"].clone())
        .collect();
    assert_eq!(texts, [one, two]);
}

#[test]
fn an_output_folder_inside_the_input_is_never_read_back() {
    let input = small_input();
    let output = input.path().join("out");
    let mut counts = Vec::new();
    for _ in 0..3 {
        let out = job_ok(input.path(), &output, &[]);
        counts.push(paragraphs(&output).len());
        assert_mentions(
            &out,
            "a crossthemes output folder inside the input; not read",
        );
    }
    assert!(counts.iter().all(|&n| n == counts[0]), "{counts:?}");
    // A report set beside the articles (the input folder is an output
    // folder too): its report.html is not an article.
    let out = job_ok(input.path(), input.path(), &["--quiet"]);
    assert!(out.status.success());
    let again = job_ok(input.path(), input.path(), &["--quiet"]);
    assert!(again.status.success());
    assert!(paragraphs(input.path())
        .iter()
        .all(|p| p["file"] != "report.html"));
}

#[test]
fn a_cache_path_naming_a_file_that_is_no_cache_is_refused_and_left_alone() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    let article = input.path().join("000_83d050db8f9f875e.txt");
    let before = std::fs::read(&article).unwrap();
    let out = job(input.path(), output.path(), &["--cache", arg(&article)]);
    assert_error(&out, 2, "--cache");
    assert_mentions(&out, "not a crossthemes cache");
    assert_eq!(std::fs::read(&article).unwrap(), before);

    let foreign = output.path().join("inventory.sqlite");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE items(name TEXT); INSERT INTO items VALUES ('keep');")
        .unwrap();
    let before = std::fs::read(&foreign).unwrap();
    let out = job(input.path(), output.path(), &["--cache", arg(&foreign)]);
    assert_error(&out, 2, "another program's SQLite database");
    assert_eq!(std::fs::read(&foreign).unwrap(), before);
    assert!(!file_names(output.path())
        .iter()
        .any(|n| n.contains("broken")));
}

#[test]
fn malformed_vectors_in_the_cache_are_embedded_again() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    let cache = rusqlite::Connection::open(output.path().join("cache.sqlite")).unwrap();
    // One NaN component in one vector, and a vector stored as text.
    let (key, blob): (String, Vec<u8>) = cache
        .query_row(
            "SELECT text_sha256, vector FROM embeddings WHERE text_sha256 IN \
             (SELECT text_sha256 FROM paragraphs_seen) LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut poisoned = blob.clone();
    poisoned[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    cache
        .execute(
            "UPDATE embeddings SET vector = ?1 WHERE text_sha256 = ?2",
            rusqlite::params![poisoned, key],
        )
        .unwrap();
    cache
        .execute(
            "UPDATE embeddings SET vector = 'not a vector' WHERE text_sha256 = \
             (SELECT text_sha256 FROM paragraphs_seen WHERE text_sha256 != ?1 LIMIT 1)",
            [&key],
        )
        .unwrap();
    drop(cache);
    for _ in 0..2 {
        let out = job_ok(input.path(), output.path(), &[]);
        let run = run_json(output.path());
        if run["embedding"]["embedded"] == 2 {
            assert_mentions(&out, "2 stored vectors are malformed");
        } else {
            // Once embedded again, the good vectors replace the bad ones.
            assert_eq!(run["embedding"]["embedded"], 0, "{run}");
        }
    }
}

#[test]
fn a_shard_that_is_not_finished_is_refused_and_left_alone() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    run_ok(&[
        "embed",
        "--shard",
        "1/2",
        "--input",
        arg(input.path()),
        "--output",
        arg(output.path()),
        "--quiet",
    ]);
    let shard = output.path().join("cache.shard-1-of-2.sqlite");
    rusqlite::Connection::open(&shard)
        .unwrap()
        .execute("UPDATE meta SET value = '0' WHERE key = 'finished'", [])
        .unwrap();
    // Unfinished: the run refuses (a scheduler may try again) and keeps it.
    let refused = run(&[
        "--input",
        arg(input.path()),
        "--output",
        arg(output.path()),
        "--quiet",
    ]);
    assert_eq!(refused.status.code(), Some(3));
    assert_mentions(&refused, "shard 1/2 has not finished");
    assert!(shard.exists(), "its work is kept");
    assert!(!output.path().join("themes.csv").exists());

    // Finished, but made with other model settings: kept, with a warning.
    rusqlite::Connection::open(&shard)
        .unwrap()
        .execute("UPDATE meta SET value = '1' WHERE key = 'finished'", [])
        .unwrap();
    let out = job_ok(
        input.path(),
        output.path(),
        &["--max-paragraph-tokens", "300"],
    );
    assert_mentions(&out, "made with other model settings");
    assert!(shard.exists());
}

#[test]
fn scripts_get_the_text_exactly_and_the_workbook_is_for_people() {
    let input = tempfile::tempdir().unwrap();
    let phone = "+48 22 555 01 00 is the number the Warsaw office gives customers who ask about delivery times.";
    let formula =
        "=SUM(A1:A9) is how the finance team totals the weekly figures before the review.";
    std::fs::write(
        input.path().join("-rf.txt"),
        format!("{phone}\n\n{formula}\n"),
    )
    .unwrap();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet", "--k", "1"]);
    let rows = paragraphs(output.path());
    assert!(rows.iter().all(|p| p["file"] == "-rf.txt"), "{rows:?}");
    let texts: Vec<&str> = rows.iter().map(|p| p["text"].as_str()).collect();
    assert_eq!(texts, [phone, formula]);
}

#[test]
fn a_token_limit_that_cuts_no_paragraph_reuses_every_vector_and_keeps_the_theme_ids() {
    let output = tempfile::tempdir().unwrap();
    let seeds = repo_root().join("seeds");
    job_ok(&seeds, output.path(), &["--quiet"]);
    let before = theme_ids(output.path());
    let out = job_ok(&seeds, output.path(), &["--max-paragraph-tokens", "1000"]);
    assert!(!stderr(&out).contains("model changed"), "{}", stderr(&out));
    assert_mentions(&out, "read whole under another --max-paragraph-tokens");
    assert_mentions(&out, "embedding 0 new paragraphs");
    assert_eq!(theme_ids(output.path()), before);
}

#[cfg(unix)]
#[test]
fn links_are_followed_loops_reported_and_a_pipe_is_no_input() {
    let input = small_input();
    let elsewhere = tempfile::tempdir().unwrap();
    let text = "A linked article about how the teams in each market compare their suppliers.";
    std::fs::write(elsewhere.path().join("linked.txt"), text).unwrap();
    std::os::unix::fs::symlink(
        elsewhere.path().join("linked.txt"),
        input.path().join("linked.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(input.path(), input.path().join("loop")).unwrap();
    let output = tempfile::tempdir().unwrap();
    let out = job_ok(input.path(), output.path(), &[]);
    assert_mentions(&out, "a link loop");
    assert!(paragraphs(output.path()).iter().any(|p| p["text"] == text));

    let fifo = input.path().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        assert_error(&job(&fifo, output.path(), &[]), 2, "not a file or a folder");
    }
}

#[test]
fn the_same_articles_given_three_times_keep_their_titles() {
    let seeds = repo_root().join("seeds");
    let once = tempfile::tempdir().unwrap();
    job_ok(&seeds, once.path(), &["--quiet"]);
    let thrice = tempfile::tempdir().unwrap();
    let seeds = arg(&seeds);
    run_ok(&[
        "--input",
        seeds,
        "--input",
        seeds,
        "--input",
        seeds,
        "--output",
        arg(thrice.path()),
        "--quiet",
    ]);
    let texts = |dir: &Path| -> BTreeSet<String> {
        paragraphs(dir)
            .into_iter()
            .map(|p| p["text"].clone())
            .collect()
    };
    assert_eq!(texts(thrice.path()), texts(once.path()));
    let skipped = &run_json(thrice.path())["counts"]["skipped"];
    assert!(
        skipped["duplicate"].as_u64().unwrap() >= 2 * 149,
        "{skipped}"
    );
}

#[cfg(unix)]
#[test]
fn a_stopping_signal_leaves_the_previous_report_and_no_staged_files() {
    use std::io::{BufRead, BufReader};
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    let before = std::fs::read(output.path().join("themes.csv")).unwrap();
    for seed in std::fs::read_dir(repo_root().join("seeds")).unwrap() {
        let seed = seed.unwrap().path();
        std::fs::copy(&seed, input.path().join(seed.file_name().unwrap())).unwrap();
    }
    for signal in ["TERM", "INT", "HUP"] {
        let mut child = command(&["--input", arg(input.path()), "--output", arg(output.path())])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("embedding") {
                break;
            }
        }
        let killed = std::process::Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        for line in lines {
            seen.push_str(&line.unwrap());
            seen.push('\n');
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{signal}: {seen}");
        assert!(seen.contains("stopped by a signal"), "{seen}");
        assert_previous_set_kept(output.path(), &before, signal);
    }
}

#[test]
fn first_sightings_lost_from_the_cache_are_written_back() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    let days = |output: &Path| -> BTreeSet<(String, String)> {
        let cache = rusqlite::Connection::open(output.join("cache.sqlite")).unwrap();
        let mut rows = cache
            .prepare("SELECT text_sha256, first_seen FROM paragraphs_seen")
            .unwrap();
        rows.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let before = days(output.path());
    assert!(!before.is_empty());
    // A run stopped between its report and the cache's record of it.
    rusqlite::Connection::open(output.path().join("cache.sqlite"))
        .unwrap()
        .execute("DELETE FROM paragraphs_seen", [])
        .unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    assert!(paragraphs(output.path())
        .iter()
        .all(|p| p["new"] == "false"));
    assert_eq!(days(output.path()), before);
}

#[test]
fn a_languages_list_that_leaves_out_the_corpus_languages_says_which() {
    let output = tempfile::tempdir().unwrap();
    let out = job_ok(
        &repo_root().join("seeds"),
        output.path(),
        &["--languages", "en,fr"],
    );
    let text = stderr(&out);
    let line = text
        .lines()
        .find(|l| l.contains("outside --languages"))
        .unwrap_or_else(|| panic!("a warning: {text}"));
    for lang in ["zh (", "he (", "pl ("] {
        assert!(line.contains(lang), "{line}");
    }
}

#[test]
fn small_mistakes_get_messages_that_say_what_to_do() {
    let output = tempfile::tempdir().unwrap();
    let out = run(&["--label-language", "xx", "--output", arg(output.path())]);
    assert_error(&out, 2, "not an ISO 639-1 code");
    let out = run(&["--languages", "en,", "--output", arg(output.path())]);
    assert_error(&out, 2, "no spaces");
    for args in [
        &["bench-scale", "--paragraphs", "0"][..],
        &["bench-report", "--paragraphs", "4000000000"][..],
    ] {
        let out = run(args);
        assert_error(&out, 2, "a whole number from 1 to");
    }
    let parent = tempfile::tempdir().unwrap();
    let link = parent.path().join("out");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(parent.path().join("gone"), &link).unwrap();
        let out = run(&["--output", arg(&link)]);
        assert_error(&out, 2, "which does not exist");
    }
    let hostile_name = parent.path().join("a\u{1b}[31mred\u{202e}txt.");
    let out = run(&["--input", arg(&hostile_name)]);
    assert_error(&out, 2, "\\u{1b}[31mred\\u{202e}");
    assert!(
        !stderr(&out).contains('\u{1b}'),
        "no raw escape on the terminal"
    );
}

#[test]
fn themes_whose_paragraphs_come_back_get_their_ids_back() {
    let input = tempfile::tempdir().unwrap();
    let aside = tempfile::tempdir().unwrap();
    for seed in std::fs::read_dir(repo_root().join("seeds")).unwrap() {
        let seed = seed.unwrap().path();
        std::fs::copy(&seed, input.path().join(seed.file_name().unwrap())).unwrap();
    }
    let output = tempfile::tempdir().unwrap();
    let themes = |output: &Path| -> Vec<(String, String, String)> {
        read_csv(&output.join("themes.csv"))
            .into_iter()
            .map(|t| (t["theme"].clone(), t["size"].clone(), t["label"].clone()))
            .collect()
    };
    job_ok(input.path(), output.path(), &["--quiet"]);
    let first = themes(output.path());
    // A third of the corpus is missing for one run, then comes back.
    for name in ["003_c2cfcedf84124928.txt", "004_b16636b05b5f2f31.txt"] {
        std::fs::rename(input.path().join(name), aside.path().join(name)).unwrap();
    }
    job_ok(input.path(), output.path(), &["--quiet"]);
    for name in ["003_c2cfcedf84124928.txt", "004_b16636b05b5f2f31.txt"] {
        std::fs::rename(aside.path().join(name), input.path().join(name)).unwrap();
    }
    job_ok(input.path(), output.path(), &["--quiet"]);
    assert_eq!(themes(output.path()), first);
    let returned = &run_json(output.path())["refresh"]["themes_returned"];
    assert!(!returned.as_array().unwrap().is_empty(), "{returned}");
}

#[test]
fn log_flags_go_before_a_subcommand_and_job_flags_never_with_one() {
    let page = tempfile::tempdir().unwrap();
    let page = page.path().join("report.html");
    run_ok(&[
        "-v",
        "bench-report",
        "--paragraphs",
        "10",
        "--themes",
        "2",
        "--output",
        arg(&page),
    ]);
    assert!(page.is_file());
    let out = run(&["--k", "5", "bench-embed"]);
    assert_error(&out, 2, "--k is a flag of the job");
}

#[cfg(unix)]
#[test]
fn a_path_longer_than_the_system_allows_is_reported_not_fatal() {
    let input = small_input();
    // 24 folders of 200 characters: past PATH_MAX (4,096) on Linux; made
    // one step at a time relative to the last, as only that works.
    use std::ffi::CString;
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd};
    let part = CString::new("d".repeat(200)).unwrap();
    let mut dir = std::fs::File::open(input.path()).unwrap();
    for _ in 0..24 {
        // SAFETY: plain system calls on a descriptor this test owns and a
        // NUL-terminated name.
        let fd = unsafe {
            assert_eq!(libc::mkdirat(dir.as_raw_fd(), part.as_ptr(), 0o755), 0);
            libc::openat(
                dir.as_raw_fd(),
                part.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY,
            )
        };
        assert!(fd >= 0);
        // SAFETY: `fd` was just opened and is owned by nothing else.
        dir = unsafe { std::fs::File::from_raw_fd(fd) };
    }
    let name = CString::new("deep.txt").unwrap();
    // SAFETY: as above.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY,
            0o644,
        )
    };
    assert!(fd >= 0);
    // SAFETY: as above.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(b"A paragraph too deep to be opened by its full path, long enough.")
        .unwrap();
    let output = tempfile::tempdir().unwrap();
    let out = job_ok(input.path(), output.path(), &[]);
    assert_mentions(&out, "not read");
    let unread = &run_json(output.path())["files_unread"]["unreadable"];
    assert_eq!(unread.as_array().map(Vec::len), Some(1), "{unread}");
}

/// After a run that failed or was stopped: `before` is still themes.csv,
/// and no staged file is left (`case` names the case in messages).
fn assert_previous_set_kept(output: &Path, before: &[u8], case: &str) {
    assert_eq!(std::fs::read(output.join("themes.csv")).unwrap(), before);
    let leftovers: Vec<String> = file_names(output)
        .into_iter()
        .filter(|n| n.starts_with(".crossthemes-"))
        .collect();
    assert!(leftovers.is_empty(), "{case}: {leftovers:?}");
}

/// A full disk, as the kernel's file-size limit gives it (writes past the
/// limit fail with EFBIG; the signal that would kill the process ignored).
#[cfg(unix)]
#[test]
fn a_full_disk_fails_the_run_with_an_error_and_keeps_the_last_report() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet", "--k", "2"]);
    let before = std::fs::read(output.path().join("themes.csv")).unwrap();
    // 8 KiB: the workbook's temporary files fail; 12 KiB: its staged file.
    for kib in ["8", "12"] {
        let out = std::process::Command::new("bash")
            .current_dir(repo_root())
            .env("HF_HUB_OFFLINE", "1")
            .args([
                "-c",
                &format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""),
                env!("CARGO_BIN_EXE_crossthemes"),
                "--input",
                arg(input.path()),
                "--output",
                arg(output.path()),
                "--k",
                "2",
            ])
            .output()
            .unwrap();
        let seen = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{kib} KiB: {seen}");
        assert!(
            seen.contains("error: ") && seen.contains("themes.xlsx"),
            "{seen}"
        );
        assert!(!seen.contains("panicked"), "{seen}");
        assert_previous_set_kept(output.path(), &before, kib);
    }
}

#[test]
fn a_corpus_of_one_paragraph_is_one_theme() {
    let input = tempfile::tempdir().unwrap();
    std::fs::write(
        input.path().join("a.txt"),
        "A single paragraph about supply chains and the way teams plan deliveries across markets.",
    )
    .unwrap();
    let output = tempfile::tempdir().unwrap();
    job_ok(input.path(), output.path(), &["--quiet"]);
    assert_eq!(theme_ids(output.path()).len(), 1);
}

#[test]
fn a_wrong_themes_file_is_named_with_its_line_and_nothing_is_written() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    let named = input.path().join("named.csv");
    let missing = input.path().join("missing.csv");
    let out = job(input.path(), output.path(), &["--themes", arg(&missing)]);
    assert_error(&out, 2, "--themes");
    assert_mentions(&out, "missing.csv");

    std::fs::write(&named, "topic,words\nPricing,prices\n").unwrap();
    let out = job(input.path(), output.path(), &["--themes", arg(&named)]);
    assert_error(&out, 2, "line 1");
    assert_mentions(&out, "`name` and `description`");

    std::fs::write(&named, "name,description\nPricing,prices\n,orphan phrase\n").unwrap();
    let out = job(input.path(), output.path(), &["--themes", arg(&named)]);
    assert_error(&out, 2, "line 3: a description without a name");
    assert!(
        common::file_names(output.path()).is_empty(),
        "nothing written"
    );

    // More named themes than --k can hold.
    std::fs::write(&named, "name,description\nPricing,\nRegulation,\nHiring,\n").unwrap();
    let out = job(
        input.path(),
        output.path(),
        &["--themes", arg(&named), "--k", "2"],
    );
    assert_error(&out, 2, "--k");
    assert_mentions(&out, "cannot hold the 3 named themes");
}

#[test]
fn int8_is_refused_for_the_job_and_its_shards() {
    let input = small_input();
    let output = tempfile::tempdir().unwrap();
    let out = job(input.path(), output.path(), &["--precision", "int8"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_mentions(
        &out,
        "--precision int8 runs in the bench-* subcommands only",
    );
    let out = run(&[
        "embed",
        "--shard",
        "1/2",
        "--input",
        arg(input.path()),
        "--precision",
        "int8",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        common::file_names(output.path()).is_empty(),
        "nothing written"
    );
}
