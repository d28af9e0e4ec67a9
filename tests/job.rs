//! The job as a user runs it: the real binary on the real seeds with the
//! real model, and each bad input giving its clear error with the previous
//! outputs untouched.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{arg, read_csv, run as crossthemes, run_json};

/// Runs the job quietly on the seeds with `flags`; returns its output folder.
fn run_on_seeds(flags: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = crossthemes(&[&["--output", arg(dir.path()), "--quiet"], flags].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "--quiet prints nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn the_native_engine_gives_the_seeds_the_themes_of_the_candle_reference() {
    let native = run_on_seeds(&["--engine", "auto"]);
    let candle = run_on_seeds(&["--engine", "candle"]);
    assert_same_report(native.path(), candle.path(), "native against candle");
}

/// The instruction-set levels this CPU has (`CROSSTHEMES_SIMD` caps the
/// level, so each runs here, matrix products included) give the seeds the
/// same report, and run.json names the level that ran.
#[test]
fn every_instruction_set_level_gives_the_seeds_the_same_themes() {
    let best = run_on_seeds(&[]);
    #[cfg(target_arch = "x86_64")]
    let has_avx2 =
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    let has_avx2 = false;
    for (level, shown) in [("avx2", "AVX2"), ("baseline", "baseline")] {
        if level == "avx2" && !has_avx2 {
            common::skip(
                "every_instruction_set_level_gives_the_seeds_the_same_themes",
                "this CPU lacks AVX2 with FMA; that level was not run",
            );
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = common::command(&["--output", arg(dir.path()), "--quiet"])
            .env("CROSSTHEMES_SIMD", level)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{level}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same_report(best.path(), dir.path(), level);
        let device = run_json(dir.path())["device"].as_str().unwrap().to_string();
        assert_eq!(device, format!("cpu, {shown}"), "{level}");
    }
}

/// Two runs' report CSVs agree: every theme, label and example the same,
/// and each figure within 1e-3 (vectors that agree to about 1e-6 in cosine
/// may round a last decimal the other way).
fn assert_same_report(a: &Path, b: &Path, what: &str) {
    for name in ["paragraphs.csv", "themes.csv", "theme_examples.csv"] {
        let a = read_csv(&a.join(name));
        let b = read_csv(&b.join(name));
        assert_eq!(a.len(), b.len(), "{what}: {name} rows");
        for (row, (a, b)) in a.iter().zip(&b).enumerate() {
            assert_eq!(a.len(), b.len(), "{what}: {name} row {row} columns");
            for (column, x) in a {
                let y = &b[column];
                match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => assert!(
                        (x - y).abs() <= 1e-3,
                        "{what}: {name} row {row} {column}: {x} against {y}"
                    ),
                    _ => assert_eq!(x, y, "{what}: {name} row {row} {column}"),
                }
            }
        }
    }
}

#[test]
fn bf16_gives_the_seeds_the_themes_of_f32() {
    let f32_run = run_on_seeds(&["--precision", "f32"]);
    let bf16_run = run_on_seeds(&["--precision", "bf16"]);
    let ran = run_json(bf16_run.path())["precision"].clone();
    if common::cpu_has_bf16() {
        assert_eq!(ran, "bf16", "the CPU has AVX512-BF16");
    } else {
        assert_eq!(ran, "f32", "without AVX512-BF16 the run falls back to f32");
        common::skip(
            "bf16_gives_the_seeds_the_themes_of_f32",
            "this CPU lacks AVX512-BF16; bf16 was not compared with f32",
        );
        return;
    }
    let columns = |dir: &Path, file: &str, keep: &[&str]| -> Vec<Vec<String>> {
        read_csv(&dir.join(file))
            .into_iter()
            .map(|row| keep.iter().map(|c| row[*c].clone()).collect())
            .collect()
    };
    let paragraph_themes = ["file", "paragraph", "language", "theme", "theme_label"];
    assert_eq!(
        columns(f32_run.path(), "paragraphs.csv", &paragraph_themes),
        columns(bf16_run.path(), "paragraphs.csv", &paragraph_themes),
        "a paragraph changed theme under bf16"
    );
    let theme_summary = ["theme", "label", "size", "languages"];
    assert_eq!(
        columns(f32_run.path(), "themes.csv", &theme_summary),
        columns(bf16_run.path(), "themes.csv", &theme_summary)
    );
}

#[test]
fn seeds_give_cross_language_themes_and_identical_reruns() {
    let first = run_on_seeds(&["--save-embeddings"]);
    let second = run_on_seeds(&["--save-embeddings"]);
    for name in ["paragraphs.csv", "themes.csv", "theme_examples.csv"] {
        let a = std::fs::read(first.path().join(name)).unwrap();
        let b = std::fs::read(second.path().join(name)).unwrap();
        assert!(a == b, "{name} differs between two runs on the same input");
    }

    // Most paragraphs sit in themes that span languages. (Counting themes
    // instead would hang on the one- and two-paragraph themes k-means
    // leaves at the edges, which come and go with the seed.)
    let themes = read_csv(&first.path().join("themes.csv"));
    let spans_languages = |t: &std::collections::HashMap<String, String>| {
        t["languages"]
            .split(' ')
            .filter(|lc| lc.split(':').nth(1).unwrap().parse::<usize>().unwrap() >= 2)
            .count()
            >= 2
    };
    let size = |t: &std::collections::HashMap<String, String>| t["size"].parse::<usize>().unwrap();
    // Themes are grouped into ⌊√(k / 2)⌉ topics (at least 2 from 4 themes),
    // each named after one of its themes and numbered from 1 by size.
    let topics: std::collections::BTreeSet<usize> =
        themes.iter().map(|t| t["topic"].parse().unwrap()).collect();
    let expected = ((themes.len() as f64 / 2.0).sqrt().round() as usize).max(2);
    assert_eq!(
        topics,
        (1..=expected).collect(),
        "topics of {} themes",
        themes.len()
    );
    for t in &themes {
        assert!(
            themes
                .iter()
                .any(|o| o["topic"] == t["topic"] && o["label"] == t["topic_label"]),
            "theme {}: topic label {:?} is no label of its topic",
            t["theme"],
            t["topic_label"]
        );
    }
    let per_topic =
        |n: &str| -> usize { themes.iter().filter(|t| t["topic"] == n).map(size).sum() };
    assert!(per_topic("1") >= per_topic("2"), "topic 1 is the largest");

    let crossing: usize = themes.iter().filter(|t| spans_languages(t)).map(size).sum();
    let all: usize = themes.iter().map(size).sum();
    assert!(
        crossing * 100 >= all * 85,
        "{crossing} of {all} paragraphs are in cross-language themes"
    );

    let paragraphs = read_csv(&first.path().join("paragraphs.csv"));
    let languages: std::collections::BTreeSet<&str> =
        paragraphs.iter().map(|p| p["language"].as_str()).collect();
    assert_eq!(
        languages.into_iter().collect::<Vec<_>>(),
        vec!["en", "he", "pl", "zh"]
    );
    for column in [
        "file",
        "paragraph",
        "language",
        "theme",
        "theme_label",
        "similarity",
        "text",
    ] {
        assert!(
            paragraphs[0].contains_key(column),
            "paragraphs.csv has {column}"
        );
    }
    assert!(!paragraphs
        .iter()
        .any(|p| p["text"].starts_with("passage: ")));

    let run = run_json(first.path());
    assert_eq!(
        run["counts"]["paragraphs"].as_u64().unwrap() as usize,
        paragraphs.len()
    );
    assert!(run["k_selection"]["candidates"].as_array().unwrap().len() >= 2);
    assert!(run["counts"]["skipped"]["navigation"].as_u64().unwrap() >= 3);
    // Every stage is timed, the writing of the report files included.
    let stages = [
        "ingest",
        "language",
        "model_load",
        "embed",
        "cluster",
        "describe",
        "report",
        "write",
    ];
    for stage in stages {
        assert!(
            run["timings_seconds"][stage].as_f64().is_some(),
            "{stage} in {}",
            run["timings_seconds"]
        );
        if cfg!(target_os = "linux") {
            assert!(run["peak_memory_mb"][stage].as_f64().unwrap() > 0.0);
        }
    }

    let npy = std::fs::read(first.path().join("embeddings.npy")).unwrap();
    let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    assert_eq!(npy.len(), 10 + header_len + paragraphs.len() * 384 * 4);
}

/// An output folder holding a previous run's files, to prove they survive.
fn previous_outputs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "paragraphs.csv",
        "themes.csv",
        "theme_examples.csv",
        "run.json",
    ] {
        std::fs::write(dir.path().join(name), format!("previous {name}")).unwrap();
    }
    dir
}

fn assert_untouched(dir: &Path) {
    for name in [
        "paragraphs.csv",
        "themes.csv",
        "theme_examples.csv",
        "run.json",
    ] {
        assert_eq!(
            std::fs::read_to_string(dir.join(name)).unwrap(),
            format!("previous {name}")
        );
    }
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".crossthemes-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

fn assert_usage_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(needle), "error names {needle:?}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

#[test]
fn missing_input_is_named() {
    let output = previous_outputs();
    let out = crossthemes(&["--input", "no/such/folder", "--output", arg(output.path())]);
    assert_usage_error(&out, "--input no/such/folder");
    assert_untouched(output.path());
}

#[test]
fn empty_input_folder_is_named() {
    let output = previous_outputs();
    let empty = tempfile::tempdir().unwrap();
    let out = crossthemes(&["--input", arg(empty.path()), "--output", arg(output.path())]);
    assert_usage_error(&out, "found no .txt, .md or .html files");
    assert_untouched(output.path());
}

#[test]
fn undecodable_file_is_named() {
    let output = previous_outputs();
    let input = tempfile::tempdir().unwrap();
    std::fs::write(
        input.path().join("broken.txt"),
        b"\x00\x01\x02\xff\xfe binary",
    )
    .unwrap();
    let out = crossthemes(&["--input", arg(input.path()), "--output", arg(output.path())]);
    assert_usage_error(&out, "broken.txt");
    assert_untouched(output.path());
}

#[test]
fn k_larger_than_the_paragraphs_is_refused() {
    let output = previous_outputs();
    let out = crossthemes(&["--k", "5000", "--output", arg(output.path())]);
    assert_usage_error(&out, "--k 5000");
    assert_untouched(output.path());
}

#[test]
fn unwritable_output_is_named() {
    let parent = tempfile::tempdir().unwrap();
    let not_a_folder = parent.path().join("file");
    std::fs::write(&not_a_folder, "I am a file").unwrap();
    let out = crossthemes(&["--output", arg(&not_a_folder)]);
    assert_usage_error(&out, "--output");
    assert_eq!(
        std::fs::read_to_string(&not_a_folder).unwrap(),
        "I am a file"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    assert_usage_error(&crossthemes(&["--k", "many"]), "--k");
    assert_usage_error(&crossthemes(&["--device", "tpu"]), "--device");
    assert_usage_error(&crossthemes(&["--languages", "en,xx"]), "--languages");
    assert_usage_error(
        &crossthemes(&["bench-stability", "--noise", "2"]),
        "--noise",
    );
    assert_usage_error(&crossthemes(&["bench-themes", "--seeds", "0"]), "--seeds");
    assert_usage_error(
        &crossthemes(&["bench-stability", "--seeds", "0"]),
        "--seeds",
    );
    assert_usage_error(
        &crossthemes(&[
            "bench-stability",
            "--seed",
            "18446744073709551615",
            "--seeds",
            "2",
        ]),
        "--seeds",
    );
    let help = crossthemes(&["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--input",
        "--output",
        "--model",
        "--device",
        "--k",
        "--seed",
        "--batch-size",
        "--threads",
        "--quiet",
        "--verbose",
    ] {
        assert!(text.contains(flag), "--help explains {flag}");
    }
}

/// `bench-embed` sets the run's arithmetic beside the roof twice: the best
/// of a few tries, and samples taken after every batch, with the run's share
/// of the latter.
#[test]
fn bench_embed_reads_the_run_against_the_peak_sampled_between_batches() {
    let seed = "seeds/000_83d050db8f9f875e.txt";
    let out = common::run_ok(&["bench-embed", "--input", seed, "--batch-size", "8"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |label: &str| {
        text.lines()
            .find(|l| l.starts_with(label))
            .map(str::to_owned)
    };
    let first_number = |line: &str, after: &str| -> f64 {
        let rest = &line[line.find(after).expect(after) + after.len()..];
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("a number after {after:?} in {line:?}"))
    };
    let arithmetic = first_number(
        &line("arithmetic").expect("an arithmetic line"),
        "arithmetic",
    );
    assert!(arithmetic > 0.0, "{text}");
    let cpu_peak = line("cpu peak").expect("a cpu peak line");
    if cpu_peak.contains("not measured") {
        assert!(line("peak in run").is_none(), "{text}");
        return;
    }
    let sampled = line("peak in run").expect("a peak sampled in the run");
    let peak = first_number(&sampled, "peak in run");
    let batches = first_number(&sampled, "after each of");
    let share = first_number(&sampled, "arithmetic is");
    let paragraphs = first_number(
        &line("paragraphs").expect("a paragraphs line"),
        "paragraphs",
    );
    assert!(peak > 0.0, "{text}");
    assert!(
        batches >= (paragraphs / 8.0).ceil(),
        "a sample after every batch of at most 8: {text}"
    );
    // Both figures are printed rounded to whole GFLOP/s.
    let expected = arithmetic / peak * 100.0;
    assert!(
        (share - expected).abs() <= 100.0 / peak + 1.0,
        "{share} % of {peak} for {arithmetic}: {text}"
    );
}

/// Under `--k auto` no theme is a sliver: clusters under the minimum size
/// are dissolved into their nearest themes, and run.json says how many.
#[test]
fn the_seeds_have_no_sliver_themes() {
    let dir = run_on_seeds(&[]);
    let run = run_json(dir.path());
    let min = run["k_selection"]["min_theme_size"].as_u64().unwrap();
    assert!(min >= 3, "{run}");
    let themes = read_csv(&dir.path().join("themes.csv"));
    assert_eq!(themes.len() as u64, run["k"].as_u64().unwrap());
    for t in &themes {
        assert!(t["size"].parse::<u64>().unwrap() >= min, "{t:?}");
    }
    let paragraphs = read_csv(&dir.path().join("paragraphs.csv"));
    assert_eq!(paragraphs.len(), 149, "every paragraph keeps a theme");
    // Asked for, slivers stay: the minimum is the user's to set.
    let all = run_on_seeds(&["--min-theme-size", "1"]);
    let run_all = run_json(all.path());
    assert_eq!(run_all["k_selection"]["dissolved"], 0);
    assert_eq!(
        run_all["k"].as_u64().unwrap(),
        run["k"].as_u64().unwrap() + run["k_selection"]["dissolved"].as_u64().unwrap()
    );
}

/// Each article's day comes from its front matter, else its file name,
/// else its modification time; a front matter block is no paragraph.
#[test]
fn articles_are_dated_from_front_matter_file_name_or_modification() {
    let seeds = common::repo_root().join("seeds");
    let text = |name: &str| std::fs::read_to_string(seeds.join(name)).unwrap();
    let input = tempfile::tempdir().unwrap();
    let write = |name: &str, body: String| std::fs::write(input.path().join(name), body).unwrap();
    write(
        "prices.md",
        format!(
            "---\ntitle: Operational focus\ndate: 2025-01-05T09:30:00Z\n---\n{}",
            text("000_83d050db8f9f875e.txt")
        ),
    );
    write("report-2026-11-30.txt", text("001_438020135c7f8504.txt"));
    let day = || chrono::Utc::now().format("%Y-%m-%d").to_string();
    let written = day();
    write("plain.txt", text("002_35ad66bf0388964e.txt"));
    let output = tempfile::tempdir().unwrap();
    let out = crossthemes(&[
        "--input",
        arg(input.path()),
        "--output",
        arg(output.path()),
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paragraphs = read_csv(&output.path().join("paragraphs.csv"));
    let day_of = |file: &str| -> Vec<String> {
        let mut days: Vec<String> = paragraphs
            .iter()
            .filter(|p| p["file"] == file)
            .map(|p| p["article_date"].clone())
            .collect();
        days.dedup();
        days
    };
    assert_eq!(day_of("prices.md"), ["2025-01-05"]);
    assert_eq!(day_of("report-2026-11-30.txt"), ["2026-11-30"]);
    let today = day();
    let plain = &day_of("plain.txt")[0];
    assert!(
        (written.as_str()..=today.as_str()).contains(&plain.as_str()),
        "written just now: {plain}"
    );
    assert!(
        !paragraphs.iter().any(|p| p["text"].contains("title:")),
        "the front matter is no paragraph"
    );
    let counts = &run_json(output.path())["article_dates"];
    assert_eq!(
        (
            &counts["front_matter"],
            &counts["file_name"],
            &counts["modified"]
        ),
        (&1.into(), &1.into(), &1.into())
    );
    let themes = read_csv(&output.path().join("themes.csv"));
    assert!(themes
        .iter()
        .all(|t| t["first_article"].as_str() >= "2025-01-05" && t["last_article"] <= today));
    assert!(themes.iter().any(|t| t["first_article"] == "2025-01-05"));
}
