//! What changed since the last run, for the report: the "Since the last
//! run" section (new paragraphs by language, new themes, the themes that
//! grew or shrank most, themes merged, split or gone and what they became)
//! and each card's size-over-runs line, both from the run sizes the history
//! keeps. Plain HTML and inline SVG: the page needs no script for them.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::html::escape;
use crate::describe::NamedTheme;
use crate::ingest::Paragraph;
use crate::themes::RunSizes;

/// Themes listed as grown or shrunk at most.
const MOVERS: usize = 5;
/// Runs a card's line shows at most, the latest.
const SPARK_RUNS: usize = 30;

/// The "Since the last run" section.
pub fn since_section(
    paragraphs: &[Paragraph],
    themes: &[NamedTheme],
    trends: &[RunSizes],
) -> String {
    let mut html = String::from("<section id=\"since\"><h2>Since the last run</h2>");
    let [.., before, now] = trends else {
        html.push_str("<p class=\"note\">This is the first run: there is nothing to compare yet. From the next run on, this part says what is new, which themes grew or shrank, and which merged, split or went.</p></section>\n");
        return html;
    };
    let mut new_by_language: BTreeMap<&str, usize> = BTreeMap::new();
    for p in paragraphs.iter().filter(|p| p.is_new) {
        *new_by_language.entry(p.language.as_str()).or_default() += 1;
    }
    let new_total: usize = new_by_language.values().sum();
    let mut by_size: Vec<(&str, usize)> = new_by_language.into_iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let _ = write!(
        html,
        "<p>Compared with the run of {}: <b>{new_total}</b> new paragraph{}{}.</p><ul class=\"since\">",
        escape(&before.time),
        if new_total == 1 { "" } else { "s" },
        if by_size.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                escape(
                    &by_size
                        .iter()
                        .map(|(l, n)| format!("{l} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            )
        }
    );
    let was: HashMap<usize, (usize, &str)> = before
        .themes
        .iter()
        .map(|t| (t.id, (t.size, t.label.as_str())))
        .collect();
    let new_themes: Vec<String> = now
        .themes
        .iter()
        .filter(|t| !was.contains_key(&t.id))
        .map(|t| theme_words(t.id, &t.label, &format!("{} paragraphs", t.size)))
        .collect();
    item(&mut html, "New themes", &new_themes);
    movers(&mut html, before, now);
    let (gone, regrouped) = gone_and_regrouped(themes, before, now);
    item(
        &mut html,
        "Merged or split (took most of their paragraphs from another theme)",
        &regrouped,
    );
    item(&mut html, "Gone", &gone);
    let renamed: Vec<String> = themes
        .iter()
        .filter(|t| t.previous_theme.starts_with(&format!("{} (", t.id)))
        .map(|t| theme_words(t.id, &t.theme.label, &format!("was {}", t.previous_theme)))
        .collect();
    item(&mut html, "New labels", &renamed);
    html.push_str("</ul></section>\n");
    html
}

/// `7 · label (detail)`, escaped.
fn theme_words(id: usize, label: &str, detail: &str) -> String {
    format!("{id} · <bdi>{}</bdi> ({})", escape(label), escape(detail))
}

fn item(html: &mut String, title: &str, entries: &[String]) {
    let listed = if entries.is_empty() {
        "none".to_string()
    } else {
        entries.join("; ")
    };
    let _ = write!(html, "<li><b>{title}:</b> {listed}</li>");
}

/// The themes of both runs that grew and shrank most, by paragraphs.
fn movers(html: &mut String, before: &RunSizes, now: &RunSizes) {
    let was: HashMap<usize, usize> = before.themes.iter().map(|t| (t.id, t.size)).collect();
    let mut changes: Vec<(i64, String)> = now
        .themes
        .iter()
        .filter_map(|t| {
            let old = *was.get(&t.id)?;
            let delta = t.size as i64 - old as i64;
            let detail = format!(
                "{}{delta}, {:+.0} %: {old} → {}",
                if delta > 0 { "+" } else { "" },
                100.0 * delta as f64 / old.max(1) as f64,
                t.size
            );
            (delta != 0).then(|| (delta, theme_words(t.id, &t.label, &detail)))
        })
        .collect();
    changes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let grew: Vec<String> = changes
        .iter()
        .filter(|c| c.0 > 0)
        .take(MOVERS)
        .map(|c| c.1.clone())
        .collect();
    let shrank: Vec<String> = changes
        .iter()
        .rev()
        .filter(|c| c.0 < 0)
        .take(MOVERS)
        .map(|c| c.1.clone())
        .collect();
    item(html, "Grew most", &grew);
    item(html, "Shrank most", &shrank);
}

/// Themes of the last run that are gone (with the theme that took most of
/// their paragraphs, where one did), and this run's themes that took most
/// of their paragraphs from another theme.
fn gone_and_regrouped(
    themes: &[NamedTheme],
    before: &RunSizes,
    now: &RunSizes,
) -> (Vec<String>, Vec<String>) {
    let present: Vec<usize> = now.themes.iter().map(|t| t.id).collect();
    let successor = |id: usize| {
        themes
            .iter()
            .find(|t| t.previous_theme.starts_with(&format!("{id} (")))
    };
    let gone = before
        .themes
        .iter()
        .filter(|t| !present.contains(&t.id))
        .map(|t| {
            let became = successor(t.id).map_or_else(
                || format!("was {} paragraphs", t.size),
                |s| {
                    format!(
                        "was {} paragraphs; most went to {} · {}",
                        t.size, s.id, s.theme.label
                    )
                },
            );
            theme_words(t.id, &t.label, &became)
        })
        .collect();
    let regrouped = themes
        .iter()
        .filter(|t| {
            !t.previous_theme.is_empty() && !t.previous_theme.starts_with(&format!("{} (", t.id))
        })
        .map(|t| theme_words(t.id, &t.theme.label, &format!("from {}", t.previous_theme)))
        .collect();
    (gone, regrouped)
}

/// Theme `id`'s size over the last runs as a small inline SVG line, with
/// the sizes in its title; empty before a second run.
pub fn sparkline(id: usize, trends: &[RunSizes]) -> String {
    let runs = &trends[trends.len().saturating_sub(SPARK_RUNS)..];
    if runs.len() < 2 {
        return String::new();
    }
    let sizes: Vec<Option<usize>> = runs
        .iter()
        .map(|run| run.themes.iter().find(|t| t.id == id).map(|t| t.size))
        .collect();
    let top = sizes.iter().flatten().copied().max().unwrap_or(1).max(1) as f32;
    let (width, height) = (120.0f32, 24.0f32);
    let step = width / (sizes.len() - 1) as f32;
    let points: Vec<String> = sizes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let y = height - 2.0 - (height - 4.0) * s.unwrap_or(0) as f32 / top;
            format!("{:.1},{:.1}", i as f32 * step, y)
        })
        .collect();
    let words: Vec<String> = sizes
        .iter()
        .map(|s| s.map_or_else(|| "–".to_string(), |n| n.to_string()))
        .collect();
    format!(
        "<svg class=\"spark\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\"><title>paragraphs over the last {} runs: {}</title><polyline fill=\"none\" stroke=\"#4a6fa5\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        sizes.len(),
        words.join(", "),
        points.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::themes::ThemeSize;

    fn run(time: &str, sizes: &[(usize, usize)]) -> RunSizes {
        RunSizes {
            time: time.into(),
            themes: sizes
                .iter()
                .map(|&(id, size)| ThemeSize {
                    id,
                    label: format!("label {id}"),
                    size,
                    new: 0,
                    languages: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_line_needs_two_runs_and_shows_every_size() {
        assert_eq!(sparkline(1, &[run("a", &[(1, 5)])]), "");
        let line = sparkline(
            1,
            &[
                run("a", &[(1, 5)]),
                run("b", &[(2, 3)]),
                run("c", &[(1, 9)]),
            ],
        );
        assert!(line.contains("over the last 3 runs: 5, –, 9"), "{line}");
        let points = line
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split(' ').count(), 3, "{line}");
    }

    #[test]
    fn movers_rank_by_paragraphs_gained_and_lost() {
        let mut html = String::new();
        movers(
            &mut html,
            &run("a", &[(1, 10), (2, 10), (3, 10)]),
            &run("b", &[(1, 15), (2, 4), (3, 10), (4, 7)]),
        );
        assert!(
            html.contains("<b>Grew most:</b> 1 · <bdi>label 1</bdi> (+5, +50 %: 10 → 15)"),
            "{html}"
        );
        assert!(
            html.contains("<b>Shrank most:</b> 2 · <bdi>label 2</bdi> (-6, -60 %: 10 → 4)"),
            "{html}"
        );
        assert!(
            !html.contains("label 3") && !html.contains("label 4"),
            "{html}"
        );
    }
}
