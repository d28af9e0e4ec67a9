//! What analysts open: the workbook read back (sheets, frozen headers, no
//! formulas, typed cells, as many rows as the CSVs) and the HTML report
//! rendered in a real headless Chromium (every paragraph and theme present,
//! the page's script ran to its end, no error logged).

mod common;

use std::io::Read;

use calamine::{open_workbook_auto, Data, Reader};
use common::{arg, read_csv, render, run_ok};

fn seeds_output() -> tempfile::TempDir {
    let output = tempfile::tempdir().unwrap();
    run_ok(&["--output", arg(output.path()), "--quiet"]);
    output
}

#[test]
fn the_workbook_has_typed_sheets_frozen_headers_and_no_formulas() {
    let output = seeds_output();
    let path = output.path().join("themes.xlsx");
    let mut workbook = open_workbook_auto(&path).unwrap();
    assert_eq!(
        workbook.sheet_names(),
        [
            "Themes",
            "Paragraphs",
            "Examples",
            "Languages",
            "Sources",
            "Changes",
            "Trends",
            "Runs",
            "About"
        ]
    );
    let rows = |workbook: &mut calamine::Sheets<_>, name: &str| {
        workbook.worksheet_range(name).unwrap().height() - 1
    };
    let csv_rows = |name: &str| read_csv(&output.path().join(name)).len();
    assert_eq!(rows(&mut workbook, "Themes"), csv_rows("themes.csv"));
    assert_eq!(
        rows(&mut workbook, "Paragraphs"),
        csv_rows("paragraphs.csv")
    );
    assert_eq!(
        rows(&mut workbook, "Examples"),
        csv_rows("theme_examples.csv")
    );
    assert_eq!(rows(&mut workbook, "Runs"), csv_rows("runs.csv"));
    // A first run: one column of sizes, one row per theme.
    assert_eq!(rows(&mut workbook, "Trends"), csv_rows("themes.csv"));
    let changes = workbook.worksheet_range("Changes").unwrap();
    assert_eq!(
        changes.get((1, 0)).map(|c| c.to_string()).as_deref(),
        Some("first run: nothing to compare yet")
    );
    assert_eq!(csv_rows("theme_trends.csv"), csv_rows("themes.csv"));

    let paragraphs = workbook.worksheet_range("Paragraphs").unwrap();
    let header: Vec<String> = paragraphs
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    for row in paragraphs.rows().skip(1) {
        assert!(
            matches!(row[column("similarity")], Data::Float(_)),
            "{:?}",
            row[column("similarity")]
        );
        assert!(matches!(
            row[column("theme")],
            Data::Float(_) | Data::Int(_)
        ));
        assert!(matches!(row[column("new")], Data::Bool(_)));
        assert!(
            matches!(row[column("first_seen")], Data::DateTime(_)),
            "{:?}",
            row[column("first_seen")]
        );
        assert!(matches!(row[column("text")], Data::String(_)));
    }
    let texts: Vec<String> = paragraphs
        .rows()
        .skip(1)
        .map(|r| r[column("text")].to_string())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("CMO 协作领袖")),
        "Chinese intact"
    );
    assert!(texts.iter().any(|t| t.contains("שיווק")), "Hebrew intact");

    for name in workbook.sheet_names() {
        let formulas = workbook.worksheet_formula(&name).unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "{name} holds a formula"
        );
    }

    // Frozen header rows, filters and right-to-left cells, read from the file.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    for i in 1..=7 {
        let mut xml = String::new();
        zip.by_name(&format!("xl/worksheets/sheet{i}.xml"))
            .unwrap()
            .read_to_string(&mut xml)
            .unwrap();
        assert!(
            xml.contains("state=\"frozen\""),
            "sheet {i} has a frozen header"
        );
        assert!(xml.contains("<autoFilter"), "sheet {i} has a filter");
    }
    let mut styles = String::new();
    zip.by_name("xl/styles.xml")
        .unwrap()
        .read_to_string(&mut styles)
        .unwrap();
    assert!(styles.contains("readingOrder=\"2\""), "right-to-left cells");
    assert!(
        zip.by_name("xl/charts/chart1.xml").is_ok(),
        "the languages chart"
    );
}

#[test]
fn the_report_is_self_contained_and_renders_every_paragraph_and_theme() {
    let output = seeds_output();
    let page = output.path().join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for external in ["src=\"http", "href=\"http", "@import", "url(http", "<link "] {
        assert!(!html.contains(external), "no network: {external}");
    }
    let paragraphs = read_csv(&output.path().join("paragraphs.csv"));
    let themes = read_csv(&output.path().join("themes.csv"));

    let (dom, log) = render(&page);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script ran to its end"
    );
    assert!(
        !log.contains("Uncaught") && !log.contains("SyntaxError"),
        "{log}"
    );
    for (i, _) in paragraphs.iter().enumerate() {
        assert!(
            dom.contains(&format!("data-paragraph=\"{}\"", i + 1)),
            "paragraph {}",
            i + 1
        );
    }
    assert_eq!(dom.matches("data-paragraph=\"").count(), paragraphs.len());
    for theme in &themes {
        assert!(dom.contains(&format!(
            "<article class=\"theme\" data-theme=\"{}\"",
            theme["theme"]
        )));
    }
    assert!(dom.contains("dir=\"rtl\""), "Hebrew reads right to left");
    let again = seeds_output();
    assert!(
        std::fs::read(again.path().join("report.html")).unwrap() == html.as_bytes(),
        "the same input gives the same page, map included"
    );
}

/// A large corpus's map is drawn on a canvas, with the themes' labels in an
/// overlay above it: every theme has its number there, and the largest
/// twelve their names too.
#[test]
fn a_canvas_map_carries_its_labels_over_it_and_names_the_largest_themes() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    run_ok(&[
        "bench-report",
        "--paragraphs",
        "6000",
        "--themes",
        "20",
        "--output",
        arg(&page),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    // The synthetic corpus's last tenth is new, as after a refresh: the
    // canvas map can highlight it.
    assert!(html.contains("<input type=\"checkbox\" id=\"show-new\">"));
    let fresh = &html[html.find("fresh:[").expect("the new paragraphs' rows")..];
    assert_eq!(fresh[7..fresh.find(']').unwrap()].split(',').count(), 600);
    let frame = &html[html.find("<div class=\"map-frame\">").expect("a map frame")..];
    let frame = &frame[..frame.find("</div>").expect("the frame ends")];
    assert!(frame.contains("<canvas id=\"themes-canvas\""));
    let overlay = &frame[frame.find("class=\"overlay\"").expect("an overlay")..];
    assert!(overlay.contains("<g class=\"labels\">"));
    let texts: Vec<&str> = overlay
        .split("<text ")
        .skip(1)
        .map(|t| &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()])
        .collect();
    assert_eq!(texts.len(), 20);
    let named_on_map = texts.iter().filter(|t| t.contains(" · ")).count();
    assert_eq!(named_on_map, 12, "{texts:?}");
    assert!(texts
        .iter()
        .all(|t| t.split(" · ").next().unwrap().parse::<usize>().is_ok()));
}
