//! Theme labels an analyst can name, on the seeds with default flags: in
//! English, two or three terms, no stop words, no word in two labels, words
//! from the theme's own English paragraphs, each backed by two or more of
//! its paragraphs (any language's); keywords in every language free of stop
//! words.

mod common;

use std::collections::{HashMap, HashSet};

use common::{arg, read_csv, run, run_json, run_ok};

fn stop_words(language: &str) -> HashSet<String> {
    stop_words::get(language)
        .into_iter()
        .map(|w| w.to_lowercase())
        .collect()
}

/// "companies" and "company" as one word.
fn singular(word: &str) -> String {
    if let Some(stem) = word.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        word.strip_suffix('s').unwrap_or(word).to_string()
    }
}

#[test]
fn seed_labels_are_english_distinct_and_from_the_themes_own_words() {
    let output = tempfile::tempdir().unwrap();
    run_ok(&["--output", arg(output.path()), "--quiet"]);
    assert_eq!(run_json(output.path())["labels"]["language"], "en");
    let themes = read_csv(&output.path().join("themes.csv"));
    let paragraphs = read_csv(&output.path().join("paragraphs.csv"));
    let english_stop = stop_words("en");
    let mut label_words: HashMap<String, String> = HashMap::new();
    for theme in &themes {
        let label = &theme["label"];
        if *label == format!("theme {}", theme["theme"]) {
            continue; // no term of its own backed: README, themes.csv `label`
        }
        let terms: Vec<&str> = label.split(" · ").collect();
        let english_paragraphs: Vec<String> = paragraphs
            .iter()
            .filter(|p| p["theme"] == theme["theme"] && p["language"] == "en")
            .map(|p| p["text"].to_lowercase())
            .collect();
        // One term only where a few English paragraphs back no second
        // (README, themes.csv `label`).
        assert!(
            terms.len() >= 2 || english_paragraphs.len() < 5,
            "theme {}: {label:?} from {} English paragraphs",
            theme["theme"],
            english_paragraphs.len()
        );
        for word in terms.iter().flat_map(|t| t.split(' ')) {
            assert!(
                word.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '\''),
                "theme {}: {word:?} is not an English word",
                theme["theme"]
            );
            assert!(
                !english_stop.contains(word),
                "stop word {word:?} in {label:?}"
            );
            if let Some(other) = label_words.insert(word.to_string(), theme["theme"].clone()) {
                panic!("{word:?} labels themes {other} and {}", theme["theme"]);
            }
            if !english_paragraphs.is_empty() {
                // Plurals count as their word (README).
                let holds = |text: &str| {
                    text.split(|c: char| !c.is_alphanumeric())
                        .any(|w| singular(w) == singular(word))
                };
                assert!(
                    english_paragraphs.iter().any(|p| holds(p)),
                    "theme {}: {word:?} is in none of its English paragraphs",
                    theme["theme"]
                );
                let backing = paragraphs
                    .iter()
                    .filter(|p| p["theme"] == theme["theme"])
                    .filter(|p| holds(&p["text"].to_lowercase()))
                    .count();
                assert!(
                    backing >= 2,
                    "theme {}: {word:?} is in {backing} of its paragraphs",
                    theme["theme"]
                );
            }
        }
        for part in theme["keywords_by_language"]
            .split("; ")
            .filter(|p| !p.is_empty())
        {
            let (language, words) = part.split_once(": ").unwrap();
            let stop = stop_words(language);
            for word in words.split(", ") {
                assert!(!stop.contains(word), "{language} stop word {word:?}");
            }
        }
    }
}

#[test]
fn a_label_language_the_corpus_lacks_is_a_usage_error_naming_the_languages() {
    let output = tempfile::tempdir().unwrap();
    let out = run(&["--output", arg(output.path()), "--label-language", "de"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--label-language de") && stderr.contains("zh"),
        "{stderr}"
    );
}

#[test]
fn labels_follow_the_label_language() {
    let output = tempfile::tempdir().unwrap();
    run_ok(&[
        "--output",
        arg(output.path()),
        "--quiet",
        "--label-language",
        "pl",
    ]);
    for theme in read_csv(&output.path().join("themes.csv")) {
        assert!(
            !theme["label"]
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)
                    || ('\u{0590}'..='\u{05ff}').contains(&c)),
            "{}",
            theme["label"]
        );
    }
}

/// The share of paragraphs a method's labels fit, from bench-labels' table.
fn fit_of(table: &str, method: &str) -> f64 {
    table
        .lines()
        .find(|l| l.starts_with(&format!("| {method} |")))
        .and_then(|l| l.split('|').nth(2))
        .and_then(|cell| cell.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {method} row in:\n{table}"))
}

#[test]
fn seed_labels_fit_their_paragraphs_better_than_class_tfidf_words() {
    let out = run_ok(&["bench-labels", "--quiet"]);
    let table = String::from_utf8_lossy(&out.stdout);
    let ours = fit_of(&table, "crossthemes");
    let anchor = fit_of(&table, "c-TF-IDF top 3 (BERTopic)");
    assert!(ours >= anchor + 0.05, "{ours} vs {anchor}:\n{table}");
    assert!(
        table.contains("(the default minimum at this size): 0 of"),
        "{table}"
    );
}
