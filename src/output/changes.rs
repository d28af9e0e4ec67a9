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

/// What kind of change a [`Change`] is, in the order the report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// New paragraphs in one language.
    NewParagraphs,
    /// A theme the last run did not have.
    NewTheme,
    /// One of the themes that grew most.
    Grew,
    /// One of the themes that shrank most.
    Shrank,
    /// A theme that took most of its paragraphs from another theme.
    Regrouped,
    /// A theme of the last run that is gone.
    Gone,
    /// A theme that kept its id under a new label.
    Relabelled,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 7] = [
        Kind::NewParagraphs,
        Kind::NewTheme,
        Kind::Grew,
        Kind::Shrank,
        Kind::Regrouped,
        Kind::Gone,
        Kind::Relabelled,
    ];

    /// How the report and the workbook name it.
    pub fn title(self) -> &'static str {
        match self {
            Kind::NewParagraphs => "new paragraphs",
            Kind::NewTheme => "new theme",
            Kind::Grew => "grew most",
            Kind::Shrank => "shrank most",
            Kind::Regrouped => "merged or split (took most of its paragraphs from another theme)",
            Kind::Gone => "gone",
            Kind::Relabelled => "new label",
        }
    }
}

/// One fact of what changed since the last run.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// What kind of change.
    pub kind: Kind,
    /// The theme's id (none for a language's new paragraphs).
    pub theme: Option<usize>,
    /// The theme's label, or the language.
    pub name: String,
    /// Its paragraphs in the last run.
    pub before: Option<usize>,
    /// Its paragraphs now.
    pub now: Option<usize>,
    /// Where it came from or what became of it.
    pub detail: String,
}

/// What changed since the last run, with that run's start time; `None` on
/// a first run. Paragraph counts come from the history's run sizes.
pub fn since_last_run<'t>(
    paragraphs: &[Paragraph],
    themes: &[NamedTheme],
    trends: &'t [RunSizes],
) -> Option<(&'t str, Vec<Change>)> {
    let [.., before, now] = trends else {
        return None;
    };
    let mut new_by_language: BTreeMap<&str, usize> = BTreeMap::new();
    for p in paragraphs.iter().filter(|p| p.is_new) {
        *new_by_language.entry(p.language.as_str()).or_default() += 1;
    }
    let mut by_size: Vec<(&str, usize)> = new_by_language.into_iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut changes: Vec<Change> = by_size
        .into_iter()
        .map(|(language, n)| Change {
            kind: Kind::NewParagraphs,
            theme: None,
            name: language.to_string(),
            before: None,
            now: Some(n),
            detail: String::new(),
        })
        .collect();
    let was: HashMap<usize, usize> = before.themes.iter().map(|t| (t.id, t.size)).collect();
    changes.extend(
        now.themes
            .iter()
            .filter(|t| !was.contains_key(&t.id))
            .map(|t| Change {
                kind: Kind::NewTheme,
                theme: Some(t.id),
                name: t.label.clone(),
                before: None,
                now: Some(t.size),
                detail: String::new(),
            }),
    );
    changes.extend(movers(before, now));
    changes.extend(regrouped(themes, before, now));
    Some((before.time.as_str(), changes))
}

/// The themes of both runs that grew and shrank most, by paragraphs.
fn movers(before: &RunSizes, now: &RunSizes) -> Vec<Change> {
    let was: HashMap<usize, usize> = before.themes.iter().map(|t| (t.id, t.size)).collect();
    let mut moved: Vec<(i64, Change)> = now
        .themes
        .iter()
        .filter_map(|t| {
            let old = *was.get(&t.id)?;
            let delta = t.size as i64 - old as i64;
            let change = Change {
                kind: if delta > 0 { Kind::Grew } else { Kind::Shrank },
                theme: Some(t.id),
                name: t.label.clone(),
                before: Some(old),
                now: Some(t.size),
                detail: format!(
                    "{}{delta}, {:+.0} %",
                    if delta > 0 { "+" } else { "" },
                    100.0 * delta as f64 / old.max(1) as f64
                ),
            };
            (delta != 0).then_some((delta, change))
        })
        .collect();
    moved.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.theme.cmp(&b.1.theme)));
    let grew = moved.iter().filter(|m| m.0 > 0).take(MOVERS);
    let shrank = moved.iter().rev().filter(|m| m.0 < 0).take(MOVERS);
    grew.chain(shrank).map(|m| m.1.clone()).collect()
}

/// This run's themes that took most of their paragraphs from another
/// theme, the last run's themes that are gone (with the theme that took
/// most of their paragraphs, where one did), and relabelled themes.
fn regrouped(themes: &[NamedTheme], before: &RunSizes, now: &RunSizes) -> Vec<Change> {
    let own = |t: &NamedTheme| t.previous_theme.starts_with(&format!("{} (", t.id));
    let size_before: HashMap<usize, usize> = before.themes.iter().map(|t| (t.id, t.size)).collect();
    let change = |kind, t: &NamedTheme, detail: String| Change {
        kind,
        theme: Some(t.id),
        name: t.theme.label.clone(),
        before: size_before.get(&t.id).copied(),
        now: Some(t.theme.size),
        detail,
    };
    let mut out: Vec<Change> = themes
        .iter()
        .filter(|t| !t.previous_theme.is_empty() && !own(t))
        .map(|t| change(Kind::Regrouped, t, format!("from {}", t.previous_theme)))
        .collect();
    let present: Vec<usize> = now.themes.iter().map(|t| t.id).collect();
    out.extend(
        before
            .themes
            .iter()
            .filter(|t| !present.contains(&t.id))
            .map(|t| {
                let successor = themes
                    .iter()
                    .find(|s| s.previous_theme.starts_with(&format!("{} (", t.id)));
                Change {
                    kind: Kind::Gone,
                    theme: Some(t.id),
                    name: t.label.clone(),
                    before: Some(t.size),
                    now: None,
                    detail: successor.map_or_else(String::new, |s| {
                        format!(
                            "most of its paragraphs went to {} ({})",
                            s.id, s.theme.label
                        )
                    }),
                }
            }),
    );
    out.extend(
        themes
            .iter()
            .filter(|t| own(t))
            .map(|t| change(Kind::Relabelled, t, format!("was {}", t.previous_theme))),
    );
    out
}

/// The "Since the last run" section.
pub fn since_section(
    paragraphs: &[Paragraph],
    themes: &[NamedTheme],
    trends: &[RunSizes],
) -> String {
    let mut html = String::from("<section id=\"since\"><h2>Since the last run</h2>");
    let Some((time, changes)) = since_last_run(paragraphs, themes, trends) else {
        html.push_str("<p class=\"note\">This is the first run: there is nothing to compare yet. From the next run on, this part says what is new, which themes grew or shrank, and which merged, split or went.</p></section>\n");
        return html;
    };
    let of = |kind: Kind| changes.iter().filter(move |c| c.kind == kind);
    let new_total: usize = of(Kind::NewParagraphs).filter_map(|c| c.now).sum();
    let languages: Vec<String> = of(Kind::NewParagraphs)
        .map(|c| format!("{} {}", c.name, c.now.unwrap_or(0)))
        .collect();
    let _ = write!(
        html,
        "<p>Compared with the run of {}: <b>{new_total}</b> new paragraph{}{}.</p><ul class=\"since\">",
        escape(time),
        if new_total == 1 { "" } else { "s" },
        if languages.is_empty() { String::new() } else { format!(" ({})", escape(&languages.join(", "))) }
    );
    for kind in &Kind::ALL[1..] {
        let entries: Vec<String> = of(*kind).map(entry).collect();
        let listed = if entries.is_empty() {
            "none".to_string()
        } else {
            entries.join("; ")
        };
        let title = kind.title();
        let _ = write!(
            html,
            "<li><b>{}{}:</b> {listed}</li>",
            title[..1].to_uppercase(),
            &title[1..]
        );
    }
    html.push_str("</ul></section>\n");
    html
}

/// `7 · label (detail)` for the report, escaped.
fn entry(c: &Change) -> String {
    let sizes = match (c.before, c.now) {
        (Some(b), Some(n)) => format!("{b} → {n}"),
        (None, Some(n)) => format!("{n} paragraphs"),
        (Some(b), None) => format!("was {b} paragraphs"),
        (None, None) => String::new(),
    };
    let detail = [c.detail.as_str(), sizes.as_str()]
        .into_iter()
        .filter(|d| !d.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    format!(
        "{} · <bdi>{}</bdi> ({})",
        c.theme.map_or_else(String::new, |id| id.to_string()),
        escape(&c.name),
        escape(&detail)
    )
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
                    articles: None,
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
        let moved = movers(
            &run("a", &[(1, 10), (2, 10), (3, 10)]),
            &run("b", &[(1, 15), (2, 4), (3, 10), (4, 7)]),
        );
        let words: Vec<(Kind, Option<usize>, String)> =
            moved.iter().map(|c| (c.kind, c.theme, entry(c))).collect();
        assert_eq!(
            words,
            [
                (
                    Kind::Grew,
                    Some(1),
                    "1 · <bdi>label 1</bdi> (+5, +50 %: 10 → 15)".to_string()
                ),
                (
                    Kind::Shrank,
                    Some(2),
                    "2 · <bdi>label 2</bdi> (-6, -60 %: 10 → 4)".to_string()
                ),
            ]
        );
    }
}
