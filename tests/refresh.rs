//! Scheduled runs: the second run embeds nothing, a new article is the only
//! thing embedded and theme ids stay, each run's theme sizes are kept,
//! named themes keep their ids as articles come and go, a killed run loses
//! nothing, two runs never write one folder at once, and a corrupt cache is
//! set aside.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{arg, command, read_csv as rows, render, repo_root, run_json, run_ok};

fn without(mut rows: Vec<HashMap<String, String>>, column: &str) -> Vec<HashMap<String, String>> {
    for row in &mut rows {
        row.remove(column);
    }
    rows
}

/// The seeds folder and its articles' names, sorted.
fn seed_articles() -> (std::path::PathBuf, Vec<std::ffi::OsString>) {
    let seeds = repo_root().join("seeds");
    let mut names: Vec<_> = std::fs::read_dir(&seeds)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    (seeds, names)
}

#[test]
fn refresh_embeds_only_what_is_new_and_keeps_theme_ids() {
    let input = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let (seeds, names) = seed_articles();
    let (late, early) = names.split_last().unwrap();
    for name in early {
        std::fs::copy(seeds.join(name), input.path().join(name)).unwrap();
    }
    let args = [
        "--input",
        arg(input.path()),
        "--output",
        arg(output.path()),
        "--quiet",
    ];
    let csv = |name: &str| output.path().join(name);

    run_ok(&args);
    let report = || std::fs::read_to_string(csv("report.html")).unwrap();
    assert!(report().contains("there is nothing to compare yet"));
    let first_paragraphs = rows(&csv("paragraphs.csv"));
    let first_themes = rows(&csv("themes.csv"));
    assert!(first_paragraphs.iter().all(|p| p["new"] == "true"));

    run_ok(&args);
    let run = run_json(output.path());
    assert_eq!(
        run["embedding"]["embedded"], 0,
        "the second run embeds nothing"
    );
    assert_eq!(
        run["embedding"]["reused_from_cache"].as_u64().unwrap() as usize,
        first_paragraphs.len()
    );
    let runs = rows(&csv("runs.csv"));
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["embedded"], "0");
    assert_eq!(runs[1]["new_paragraphs"], "0");
    let second_paragraphs = rows(&csv("paragraphs.csv"));
    assert!(second_paragraphs.iter().all(|p| p["new"] == "false"));
    assert_eq!(
        without(second_paragraphs, "new"),
        without(first_paragraphs.clone(), "new")
    );
    assert_eq!(
        without(rows(&csv("themes.csv")), "new_paragraphs"),
        without(first_themes.clone(), "new_paragraphs")
    );
    let second_bytes: Vec<Vec<u8>> = ["paragraphs.csv", "themes.csv"]
        .iter()
        .map(|n| std::fs::read(csv(n)).unwrap())
        .collect();
    run_ok(&args);
    let third_bytes: Vec<Vec<u8>> = ["paragraphs.csv", "themes.csv"]
        .iter()
        .map(|n| std::fs::read(csv(n)).unwrap())
        .collect();
    assert!(
        second_bytes == third_bytes,
        "unchanged input gives byte-identical files"
    );

    // A new article arrives: only its paragraphs are embedded.
    std::fs::copy(seeds.join(late), input.path().join(late)).unwrap();
    run_ok(&args);
    let paragraphs = rows(&csv("paragraphs.csv"));
    let added = paragraphs
        .iter()
        .filter(|p| p["file"] == late.to_string_lossy())
        .count();
    assert!(added > 0);
    let run = run_json(output.path());
    assert_eq!(
        run["embedding"]["embedded"].as_u64().unwrap() as usize,
        added
    );
    assert!(paragraphs
        .iter()
        .all(|p| (p["new"] == "true") == (p["file"] == late.to_string_lossy())));
    let since = report();
    assert!(
        since.contains(&format!("<b>{added}</b> new paragraphs")),
        "the report's Since the last run counts the new article's paragraphs"
    );
    assert!(since.contains("<b>Grew most:</b>") && since.contains("class=\"spark\""));
    assert!(
        since.contains("id=\"show-new\""),
        "the map can highlight them"
    );
    assert_eq!(since.matches("data-new=\"1\"").count(), added);
    let mut workbook = calamine::open_workbook_auto(csv("themes.xlsx")).unwrap();
    use calamine::Reader;
    let changes = workbook.worksheet_range("Changes").unwrap();
    let new_in_sheet: f64 = changes
        .rows()
        .filter(|row| row[0] == "new paragraphs")
        .map(|row| row[4].to_string().parse::<f64>().unwrap())
        .sum();
    assert_eq!(
        new_in_sheet as usize, added,
        "the Changes sheet counts them too"
    );

    let before: HashMap<&str, &str> = first_paragraphs
        .iter()
        .map(|p| (p["text"].as_str(), p["theme"].as_str()))
        .collect();
    let same = paragraphs
        .iter()
        .filter(|p| before.get(p["text"].as_str()) == Some(&p["theme"].as_str()))
        .count();
    assert!(
        same * 10 >= before.len() * 8,
        "{same} of {} paragraphs kept their theme id",
        before.len()
    );
    let old_ids: Vec<usize> = first_themes
        .iter()
        .map(|t| t["theme"].parse().unwrap())
        .collect();
    for theme in rows(&csv("themes.csv")) {
        let id: usize = theme["theme"].parse().unwrap();
        assert!(
            old_ids.contains(&id) || id > *old_ids.iter().max().unwrap(),
            "ids are never reused: {id}"
        );
    }

    // An article that leaves the input leaves the outputs.
    std::fs::remove_file(input.path().join(late)).unwrap();
    run_ok(&args);
    assert!(!rows(&csv("paragraphs.csv"))
        .iter()
        .any(|p| p["file"] == late.to_string_lossy()));
    assert_eq!(run_json(output.path())["embedding"]["embedded"], 0);

    // --rebuild starts over but still never reuses an id it retires.
    run_ok(&[&args[..], &["--rebuild"]].concat());
    assert_eq!(run_json(output.path())["refresh"]["rebuild"], true);

    // Each run's theme sizes, one block of rows per run, oldest first.
    let trends = rows(&csv("theme_trends.csv"));
    let mut times: Vec<&str> = trends.iter().map(|t| t["run_time"].as_str()).collect();
    times.dedup();
    assert_eq!(times.len(), 6, "six runs: {times:?}");
    let of_run = |time: &str| -> Vec<&HashMap<String, String>> {
        trends.iter().filter(|t| t["run_time"] == time).collect()
    };
    let arrived: usize = of_run(times[3])
        .iter()
        .map(|t| t["new_paragraphs"].parse::<usize>().unwrap())
        .sum();
    assert_eq!(
        arrived, added,
        "the new article's paragraphs are the new ones"
    );
    let last: Vec<(String, String)> = of_run(times[5])
        .iter()
        .map(|t| (t["theme"].clone(), t["size"].clone()))
        .collect();
    let now: Vec<(String, String)> = rows(&csv("themes.csv"))
        .iter()
        .map(|t| (t["theme"].clone(), t["size"].clone()))
        .collect();
    assert_eq!(last, now, "the last run's rows are this run's themes");
}

/// Three runs over the seeds with two named themes, one the seeds are about
/// and one they never mention: an article arrives, then another leaves.
#[test]
fn named_themes_keep_their_ids_as_articles_come_and_go() {
    let input = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let (seeds, names) = seed_articles();
    for name in &names[1..] {
        std::fs::copy(seeds.join(name), input.path().join(name)).unwrap();
    }
    let named = input.path().join("named.csv");
    std::fs::write(
        &named,
        "name,description\nMarketing strategy,\nQuantum chromodynamics,quarks and gluons\n",
    )
    .unwrap();
    // The themes file is not an article: it sits beside them as a user
    // would keep it, and a .csv is never read as input.
    let args = [
        "--input",
        arg(input.path()),
        "--output",
        arg(output.path()),
        "--themes",
        arg(&named),
        "--quiet",
    ];
    let themes = || rows(&output.path().join("themes.csv"));
    let id_of = |themes: &[HashMap<String, String>], name: &str| -> (String, usize) {
        let theme = themes.iter().find(|t| t["label"] == name).expect(name);
        assert_eq!(theme["named"], "true");
        (theme["theme"].clone(), theme["size"].parse().unwrap())
    };

    run_ok(&args);
    let first = themes();
    let (marketing, size) = id_of(&first, "Marketing strategy");
    assert!(size > 0, "the seeds are about marketing strategy");
    let (physics, size) = id_of(&first, "Quantum chromodynamics");
    assert_eq!(size, 0, "nothing in the seeds is about quarks");
    assert_eq!((marketing.as_str(), physics.as_str()), ("1", "2"));
    assert!(
        first.iter().filter(|t| t["named"] == "false").count() >= 2,
        "the rest of the corpus forms discovered themes"
    );
    let paragraphs = rows(&output.path().join("paragraphs.csv"));
    assert!(paragraphs.iter().all(|p| p["theme"] != physics));
    assert!(paragraphs
        .iter()
        .any(|p| p["theme"] == marketing && p["theme_label"] == "Marketing strategy"));

    // An article arrives, then another one leaves.
    std::fs::copy(seeds.join(&names[0]), input.path().join(&names[0])).unwrap();
    run_ok(&args);
    std::fs::remove_file(input.path().join(&names[1])).unwrap();
    run_ok(&args);
    let last = themes();
    assert_eq!(id_of(&last, "Marketing strategy").0, marketing);
    assert_eq!(id_of(&last, "Quantum chromodynamics"), (physics.clone(), 0));

    // Three runs of sizes, the empty named theme in each.
    let trends = rows(&output.path().join("theme_trends.csv"));
    let mut times: Vec<&str> = trends.iter().map(|t| t["run_time"].as_str()).collect();
    times.dedup();
    assert_eq!(times.len(), 3);
    let physics_rows: Vec<&str> = trends
        .iter()
        .filter(|t| t["theme"] == physics)
        .map(|t| t["size"].as_str())
        .collect();
    assert_eq!(physics_rows, ["0", "0", "0"]);
    let mut workbook = calamine::open_workbook_auto(output.path().join("themes.xlsx")).unwrap();
    use calamine::Reader;
    let changes = workbook.worksheet_range("Changes").unwrap();
    let kinds: Vec<String> = changes.rows().skip(1).map(|r| r[0].to_string()).collect();
    assert!(
        kinds.iter().any(|k| k == "shrank most"),
        "the article that left shows as themes that shrank: {kinds:?}"
    );
    let trends_sheet = workbook.worksheet_range("Trends").unwrap();
    assert_eq!(
        trends_sheet.width(),
        2 + 3,
        "id and label, then one column per run"
    );

    // The report after the refresh, as a browser shows it.
    let (dom, log) = render(&output.path().join("report.html"));
    assert!(dom.contains("data-ready=\"1\""), "the page's script ran");
    assert!(!log.contains("Uncaught"), "{log}");
    assert!(dom.contains("Since the last run") && dom.contains("class=\"spark\""));
    assert!(dom.contains("no paragraph is about it in this run"));
}

#[test]
fn a_killed_run_leaves_the_previous_outputs_and_a_usable_cache() {
    // A long run to kill: the seeds with the installguide articles.
    let Some(bench) = common::shared_path(
        "bench/installguide/articles",
        "a_killed_run_leaves_the_previous_outputs_and_a_usable_cache",
    ) else {
        return;
    };
    let output = tempfile::tempdir().unwrap();
    run_ok(&["--output", arg(output.path()), "--quiet"]);
    let names = [
        "paragraphs.csv",
        "themes.csv",
        "theme_examples.csv",
        "run.json",
        "runs.csv",
    ];
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(output.path().join(n)).unwrap())
        .collect();

    let mut child = command(&[
        "--input",
        "seeds",
        "--input",
        arg(&bench),
        "--output",
        arg(output.path()),
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let started = Instant::now();
    loop {
        let line = lines
            .next()
            .expect("the run logs before it embeds")
            .unwrap();
        if line.contains("new paragraphs") && line.contains("embedding") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120));
    }
    // Kill it as soon as it has committed a chunk of new embeddings, while
    // most of the benchmark is still to be embedded.
    let seeds = run_json(output.path())["counts"]["paragraphs"]
        .as_i64()
        .unwrap();
    let cached = || -> i64 {
        let cache = rusqlite::Connection::open(output.path().join("cache.sqlite")).unwrap();
        cache.busy_timeout(Duration::from_secs(5)).unwrap();
        cache
            .query_row("SELECT count(*) FROM embeddings", [], |r| r.get(0))
            .unwrap()
    };
    while cached() <= seeds {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the run commits embeddings as it goes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run is still embedding"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    for (name, bytes) in names.iter().zip(&before) {
        assert!(
            &std::fs::read(output.path().join(name)).unwrap() == bytes,
            "{name} is untouched"
        );
    }
    let kept = cached();
    assert!(
        kept > seeds && kept < seeds + 1000,
        "the killed run's finished chunks were kept ({kept} vectors)"
    );

    run_ok(&["--output", arg(output.path()), "--quiet"]);
    assert_eq!(
        run_json(output.path())["embedding"]["embedded"],
        0,
        "the cache is usable after the kill"
    );
}

#[test]
fn a_second_simultaneous_run_exits_with_code_3() {
    let output = tempfile::tempdir().unwrap();
    let mut first = command(&["--output", arg(output.path())])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first run logs what it read only once it holds the lock.
    let mut lines = BufReader::new(first.stderr.take().unwrap()).lines();
    let started = Instant::now();
    while !lines
        .next()
        .expect("the first run logs")
        .unwrap()
        .contains("read ")
    {
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    let second = command(&["--output", arg(output.path())]).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("another crossthemes run"), "{stderr}");
    for line in lines {
        line.unwrap();
    }
    assert!(first.wait().unwrap().success());
    assert!(output.path().join("themes.csv").is_file());
}

#[test]
fn a_corrupt_cache_is_set_aside_and_rebuilt() {
    let output = tempfile::tempdir().unwrap();
    std::fs::write(output.path().join("cache.sqlite"), vec![0x5a; 4096]).unwrap();
    let out = run_ok(&["--output", arg(output.path())]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("set it aside"), "{stderr}");
    let aside = common::file_names(output.path())
        .iter()
        .filter(|n| n.starts_with("cache.sqlite.broken-"))
        .count();
    assert_eq!(aside, 1);
    assert!(
        run_json(output.path())["embedding"]["embedded"]
            .as_u64()
            .unwrap()
            > 0
    );
}
