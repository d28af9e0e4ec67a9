//! Ingest against a labelled set (tests/fixtures/ingest): articles written
//! for the test, shaped like scraped pages, in five languages and three
//! formats. expected.json gives, per file, the opening words of each real
//! paragraph that must come out (`kept`) and the site chrome that must not
//! appear in any paragraph (`junk`). The footer line "© 2025 Marktblick
//! Media · Impressum · Datenschutz" stands in three files: only that
//! repetition marks it as chrome.

mod common;

use std::collections::HashMap;

use common::{arg, read_csv, repo_root, run_ok};

#[test]
fn real_paragraphs_are_kept_and_site_chrome_left_out() {
    let input = repo_root().join("tests/fixtures/ingest");
    let expected: HashMap<String, HashMap<String, Vec<String>>> =
        serde_json::from_slice(&std::fs::read(input.join("expected.json")).unwrap()).unwrap();
    let output = tempfile::tempdir().unwrap();
    run_ok(&[
        "--input",
        arg(&input),
        "--output",
        arg(output.path()),
        "--k",
        "2",
        "--quiet",
    ]);
    let paragraphs = read_csv(&output.path().join("paragraphs.csv"));
    let mut problems = Vec::new();
    for (file, labels) in &expected {
        let texts: Vec<&str> = paragraphs
            .iter()
            .filter(|p| &p["file"] == file)
            .map(|p| p["text"].as_str())
            .collect();
        for kept in &labels["kept"] {
            if !texts.iter().any(|t| t.contains(kept.as_str())) {
                problems.push(format!("{file}: lost {kept:?}"));
            }
        }
        for junk in &labels["junk"] {
            if let Some(t) = texts.iter().find(|t| t.contains(junk.as_str())) {
                problems.push(format!("{file}: kept junk {junk:?} in {t:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let run = common::run_json(output.path());
    assert!(run["counts"]["skipped"]["boilerplate"].as_u64().unwrap() >= 3);
}
