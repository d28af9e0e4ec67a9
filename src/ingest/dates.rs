//! The day an article was written, from the best evidence its file gives:
//! a date in its front matter (a Markdown or text file's YAML `---` or
//! TOML `+++` block: `date`, `published`, `pubDate`, `created`; an HTML
//! page's `article:published_time`, `date`, `dc.date` or `pubdate` meta),
//! else a date in its file name (`2026-11-30`, `2026_11_30`, `20261130`),
//! else the day the file was last modified. A text front matter block is
//! taken off the text: it is not a paragraph.

use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;
use regex::Regex;
use serde::Serialize;

/// Where an article's date comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateSource {
    /// The article's own front matter or meta tags.
    FrontMatter,
    /// A date in the file name.
    FileName,
    /// The file's modification time.
    Modified,
}

/// Front matter keys that hold the day an article was written.
const DATE_KEYS: [&str; 6] = [
    "date",
    "published",
    "pubdate",
    "published_at",
    "created",
    "article:published_time",
];
/// HTML meta names that do.
const META_NAMES: [&str; 5] = [
    "article:published_time",
    "date",
    "dc.date",
    "dc.date.issued",
    "pubdate",
];
/// Lines a text front matter block may take at most.
const FRONT_MATTER_LINES: usize = 100;

/// The article's day and where it came from, and its text without a front
/// matter block (`html`: whether the text is an HTML page).
pub fn date_article<'t>(
    path: &Path,
    display: &str,
    text: &'t str,
    html: bool,
) -> (Option<(String, DateSource)>, &'t str) {
    let (declared, body) = match html {
        true => (meta_date(text), text),
        false => front_matter(text),
    };
    let file_name = display.rsplit('/').next().unwrap_or(display);
    let dated = declared
        .map(|day| (day, DateSource::FrontMatter))
        .or_else(|| named_day(file_name).map(|day| (day, DateSource::FileName)))
        .or_else(|| modified_day(path).map(|day| (day, DateSource::Modified)));
    (dated, body)
}

/// A YAML or TOML front matter block at the start of `text`: the day it
/// declares, and the text after it.
fn front_matter(text: &str) -> (Option<String>, &str) {
    let trimmed = text.trim_start_matches('\u{feff}');
    let fence = match trimmed.lines().next().map(str::trim_end) {
        Some(f @ ("---" | "+++")) => f,
        _ => return (None, text),
    };
    let mut offset = trimmed.find('\n').map_or(trimmed.len(), |n| n + 1);
    let mut day = None;
    for line in trimmed[offset..]
        .split_inclusive('\n')
        .take(FRONT_MATTER_LINES)
    {
        offset += line.len();
        let content = line.trim();
        if content == fence || (fence == "---" && content == "...") {
            return (day, &trimmed[offset..]);
        }
        let Some((key, value)) = content.split_once([':', '=']) else {
            continue;
        };
        let key = key.trim().trim_matches('"').to_ascii_lowercase();
        if day.is_none() && DATE_KEYS.contains(&key.as_str()) {
            day = first_day(value);
        }
    }
    (None, text)
}

/// The day an HTML page's meta tags declare.
fn meta_date(html: &str) -> Option<String> {
    static META: OnceLock<Regex> = OnceLock::new();
    static ATTRIBUTE: OnceLock<Regex> = OnceLock::new();
    let meta = META.get_or_init(|| Regex::new(r"(?is)<meta\b[^>]*>").expect("valid"));
    let attribute = ATTRIBUTE.get_or_init(|| {
        Regex::new(r#"(?is)\b(name|property|itemprop|content)\s*=\s*["']([^"']*)["']"#)
            .expect("valid")
    });
    meta.find_iter(html).find_map(|tag| {
        let (mut named, mut content) = (false, None);
        for found in attribute.captures_iter(tag.as_str()) {
            match found[1].to_ascii_lowercase().as_str() {
                "content" => content = Some(found[2].to_string()),
                _ => named |= META_NAMES.contains(&found[2].to_ascii_lowercase().as_str()),
            }
        }
        content.filter(|_| named).and_then(|c| first_day(&c))
    })
}

/// The first calendar day written in `text` as YYYY-MM-DD (or with `/`).
fn first_day(text: &str) -> Option<String> {
    static DAY: OnceLock<Regex> = OnceLock::new();
    let day = DAY.get_or_init(|| Regex::new(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})").expect("valid"));
    day.captures_iter(text)
        .find_map(|c| valid_day(&c[1], &c[2], &c[3]))
}

/// A day in a file name: 2026-11-30, 2026_11_30, 2026.11.30 or 20261130,
/// not inside a longer number.
fn named_day(file_name: &str) -> Option<String> {
    static NAMED: OnceLock<Regex> = OnceLock::new();
    let named = NAMED.get_or_init(|| {
        Regex::new(r"(?:^|\D)((?:19|20)\d{2})[-_.]?(\d{2})[-_.]?(\d{2})(?:\D|$)").expect("valid")
    });
    named
        .captures_iter(file_name)
        .find_map(|c| valid_day(&c[1], &c[2], &c[3]))
}

fn valid_day(year: &str, month: &str, day: &str) -> Option<String> {
    let date = NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)?;
    Some(date.format("%Y-%m-%d").to_string())
}

/// The UTC day `path` was last modified.
fn modified_day(path: &Path) -> Option<String> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let time: chrono::DateTime<chrono::Utc> = modified.into();
    Some(time.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_gives_the_day_and_leaves_the_text() {
        let text = "---\ntitle: Prices rise\ndate: 2026-11-30T08:00:00Z\n---\nFirst paragraph.\n";
        assert_eq!(
            front_matter(text),
            (Some("2026-11-30".into()), "First paragraph.\n")
        );
        let toml = "+++\ntitle = \"x\"\ndate = 2025-01-05\n+++\nBody";
        assert_eq!(front_matter(toml), (Some("2025-01-05".into()), "Body"));
        // No closing fence: no front matter, the text stays whole.
        let open = "---\ndate: 2026-11-30\nno end";
        assert_eq!(front_matter(open), (None, open));
        assert_eq!(front_matter("Plain text."), (None, "Plain text."));
    }

    #[test]
    fn html_meta_tags_give_the_day() {
        let page = r#"<html><head><meta charset="utf-8"><meta content="2026-10-01T10:00:00+02:00" property="article:published_time"></head></html>"#;
        assert_eq!(meta_date(page), Some("2026-10-01".into()));
        assert_eq!(
            meta_date(r#"<meta name="DC.date" content="2024/2/29">"#),
            Some("2024-02-29".into())
        );
        assert_eq!(
            meta_date(r#"<meta name="author" content="2026-10-01">"#),
            None
        );
    }

    #[test]
    fn file_names_give_real_days_only() {
        assert_eq!(named_day("2026-11-30-prices.md"), Some("2026-11-30".into()));
        assert_eq!(named_day("report_20250105.txt"), Some("2025-01-05".into()));
        assert_eq!(named_day("000_83d050db8f9f875e.txt"), None);
        assert_eq!(named_day("2026-13-01.txt"), None, "no 13th month");
        assert_eq!(
            named_day("id-120261130.txt"),
            None,
            "inside a longer number"
        );
    }
}
