//! `report.html`: one self-contained page (no external script, style or
//! font) that opens from a file share or an e-mail attachment: a header on
//! the corpus, what changed since the last run (`changes`), a theme map, a
//! theme × language chart and one card per theme.
//!
//! The map places every paragraph where `map` (a deterministic t-SNE of
//! the language-corrected vectors) puts it, with the theme labels laid so
//! that none overlaps another. Up to
//! [`SVG_LIMIT`] paragraphs each mark is an SVG element carrying
//! `data-paragraph` (its row in paragraphs.csv); above that the map is drawn
//! on a canvas from compact data, and the page says so.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io;

use super::changes::{since_section, sparkline};
use super::html::{escape, script_string};
use super::map::{place_labels, HEIGHT, WIDTH};
use super::Report;
use crate::describe::NamedTheme;
use crate::ingest::Paragraph;
use crate::themes::RunSizes;

/// What the page shows: the paragraphs and the themes.
pub struct Pages<'a> {
    /// Every paragraph, in reading order.
    pub paragraphs: &'a [Paragraph],
    /// The themes in order of their ids.
    pub themes: &'a [NamedTheme],
    /// Each kept run's theme sizes, oldest first, this run last (empty:
    /// no history, as in a benchmark).
    pub trends: &'a [RunSizes],
}

/// Most paragraphs drawn as SVG elements.
pub const SVG_LIMIT: usize = 5_000;
/// Text shown for a paragraph on the map, in characters.
const MAP_TEXT_CHARS: usize = 160;
/// Closest paragraphs shown per language on a theme's card.
const CARD_EXAMPLES: usize = 2;
/// Themes named on the map, the largest first; the rest show their number.
const MAP_NAMED_THEMES: usize = 12;
const PALETTE: [&str; 12] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1f77b4", "#d62728",
];

fn short(text: &str, chars: usize) -> String {
    let mut s: String = text.chars().take(chars).collect();
    if text.chars().count() > chars {
        s.push('…');
    }
    s
}

fn direction(language: &str) -> &'static str {
    if matches!(language, "he" | "ar" | "fa" | "ur" | "yi") {
        "rtl"
    } else {
        "ltr"
    }
}

/// What the page's header says about the run.
pub struct Header<'a> {
    /// Files read.
    pub files: usize,
    /// The labels' language.
    pub label_language: &'a str,
    /// The model's name.
    pub model: &'a str,
    /// The day of the run.
    pub day: &'a str,
}

impl<'a> Header<'a> {
    /// The header of a job's report.
    pub fn of(report: &'a Report) -> Self {
        let run = report.run;
        Header {
            files: run.counts.files,
            label_language: &run.labels.language,
            model: &run.model.name,
            day: run.started_at.get(..10).unwrap_or(&run.started_at),
        }
    }
}

/// Where the page is written as it is made, so a report of any size never
/// stands whole in memory: text goes straight to `out`, and the first
/// error is kept for the end (formatting cannot carry an I/O error).
struct Page<'w> {
    out: &'w mut dyn io::Write,
    error: Option<io::Error>,
}

impl Page<'_> {
    fn push_str(&mut self, text: &str) {
        let _ = self.write_str(text);
    }
}

impl std::fmt::Write for Page<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(text.as_bytes()) {
                self.error = Some(e);
            }
        }
        if self.error.is_some() {
            return Err(std::fmt::Error);
        }
        Ok(())
    }
}

/// Writes the page to `out`. `places` holds each paragraph's map position.
pub fn write_report_html(
    out: &mut dyn io::Write,
    r: &Pages,
    header: &Header,
    places: &[(f32, f32)],
) -> io::Result<()> {
    let mut page = Page { out, error: None };
    let page = &mut page;
    let mut languages: BTreeMap<&str, usize> = BTreeMap::new();
    for p in r.paragraphs {
        *languages.entry(p.language.as_str()).or_default() += 1;
    }
    let language_index: HashMap<&str, usize> =
        languages.keys().enumerate().map(|(i, l)| (*l, i)).collect();
    let colour: HashMap<usize, &str> = r
        .themes
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id, PALETTE[i % PALETTE.len()]))
        .collect();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>crossthemes · {} themes</title><style>{STYLE}</style></head><body>\n",
        r.themes.len()
    );
    let _ = writeln!(
        page,
        "<header><h1>Cross-language themes</h1><p>{} paragraphs from {} files in {} languages \
         ({}) · {} themes · labels in {} · model {} · run of {}</p></header>",
        r.paragraphs.len(),
        header.files,
        languages.len(),
        escape(
            &languages
                .iter()
                .map(|(l, n)| format!("{l} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        r.themes.len(),
        escape(header.label_language),
        escape(header.model),
        escape(header.day),
    );
    if !r.trends.is_empty() {
        page.push_str(&since_section(r.paragraphs, r.themes, r.trends));
    }
    map_section(page, r, places, &language_index, &colour);
    chart_section(page, r, &languages, &colour);
    cards_section(page, r, &colour);
    page.push_str("<script>");
    page.push_str(SCRIPT);
    page.push_str("</script></body></html>\n");
    match page.error.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A language's mark: circle, square, diamond, triangle, then outlined circles.
fn mark(language: usize, x: f32, y: f32, fill: &str, attributes: &str) -> String {
    match language % 5 {
        0 => format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{fill}\"{attributes}>"),
        1 => format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"7\" height=\"7\" fill=\"{fill}\"{attributes}>",
            x - 3.5,
            y - 3.5
        ),
        2 => format!(
            "<polygon points=\"{x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1}\" fill=\"{fill}\"{attributes}>",
            y - 5.0,
            x + 5.0,
            y + 5.0,
            x - 5.0
        ),
        3 => format!(
            "<polygon points=\"{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"{fill}\"{attributes}>",
            y - 5.0,
            x + 4.5,
            y + 3.5,
            x - 4.5,
            y + 3.5
        ),
        _ => format!(
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"white\" stroke=\"{fill}\" stroke-width=\"2\"{attributes}>"
        ),
    }
}

fn mark_end(language: usize) -> &'static str {
    match language % 5 {
        0 | 4 => "</circle>",
        1 => "</rect>",
        _ => "</polygon>",
    }
}

fn map_section(
    page: &mut Page,
    r: &Pages,
    places: &[(f32, f32)],
    language_index: &HashMap<&str, usize>,
    colour: &HashMap<usize, &str>,
) {
    page.push_str("<section id=\"map\"><h2>Theme map</h2><p class=\"note\">Each mark is a paragraph, placed by what it says once its language is set aside; colour is its theme, shape its language. Hover or click a mark to read it.");
    if r.themes.len() > MAP_NAMED_THEMES {
        let _ = write!(
            page,
            " The {MAP_NAMED_THEMES} largest themes are named on the map; the others show their number."
        );
    }
    let svg = r.paragraphs.len() <= SVG_LIMIT;
    if !svg {
        let _ = write!(
            page,
            " With {} paragraphs (more than {SVG_LIMIT}), the map is drawn on a canvas.",
            r.paragraphs.len()
        );
    }
    page.push_str("</p><div class=\"legend\">");
    let mut ordered: Vec<(&&str, &usize)> = language_index.iter().collect();
    ordered.sort_by_key(|(_, i)| **i);
    for (language, &i) in ordered {
        let _ = write!(
            page,
            "<span><svg width=\"14\" height=\"14\" viewBox=\"0 0 14 14\">{}{}</svg> {}</span>",
            mark(i, 7.0, 7.0, "#555", ""),
            mark_end(i),
            escape(language)
        );
    }
    page.push_str("</div>");
    let new = r.paragraphs.iter().filter(|p| p.is_new).count();
    if new > 0 && new < r.paragraphs.len() {
        // A checkbox before the map: CSS alone dims the other marks of an
        // SVG map, the script redraws a canvas one.
        let _ = write!(
            page,
            "<input type=\"checkbox\" id=\"show-new\"><label for=\"show-new\"> Highlight the {new} paragraphs new in this run</label>"
        );
    }
    if svg {
        svg_map(page, r, places, language_index, colour);
    } else {
        canvas_map(page, r, places, language_index, colour);
    }
    page.push_str("<div id=\"reading\" class=\"reading\">Click a mark to read its paragraph here.</div></section>\n");
}

/// The map as SVG: a mark per paragraph, the theme labels over them.
fn svg_map(
    page: &mut Page,
    r: &Pages,
    places: &[(f32, f32)],
    language_index: &HashMap<&str, usize>,
    colour: &HashMap<usize, &str>,
) {
    let _ = write!(
        page,
        "<svg id=\"themes-map\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"theme map\"><g class=\"dots\">"
    );
    for (i, (p, &(x, y))) in r.paragraphs.iter().zip(places).enumerate() {
        let language = language_index[p.language.as_str()];
        let attributes = format!(
            " data-paragraph=\"{}\" data-theme=\"{}\" data-lang=\"{}\" data-file=\"{}\"{}",
            i + 1,
            p.theme,
            escape(&p.language),
            escape(&p.file),
            if p.is_new { " data-new=\"1\"" } else { "" }
        );
        page.push_str(&mark(
            language,
            x,
            y,
            colour.get(&p.theme).copied().unwrap_or("#999"),
            &attributes,
        ));
        let _ = write!(
            page,
            "<title>{}</title>{}",
            escape(&short(&p.text, MAP_TEXT_CHARS)),
            mark_end(language)
        );
    }
    page.push_str("</g><g class=\"labels\">");
    theme_labels(page, r, places);
    page.push_str("</g></svg>");
}

/// Each theme's label at the centre of its marks, or the nearest free
/// place around it, largest theme first; none overlaps another (see
/// [`place_labels`]).
fn theme_labels(page: &mut Page, r: &Pages, places: &[(f32, f32)]) {
    let mut sums: HashMap<usize, (f32, f32, f32)> = HashMap::new();
    for (p, &(x, y)) in r.paragraphs.iter().zip(places) {
        let s = sums.entry(p.theme).or_default();
        *s = (s.0 + x, s.1 + y, s.2 + 1.0);
    }
    let mut by_size: Vec<_> = r.themes.iter().collect();
    by_size.sort_by_key(|t| std::cmp::Reverse(t.theme.size));
    let wanted: Vec<(String, String, (f32, f32))> = by_size
        .into_iter()
        .enumerate()
        .filter_map(|(rank, t)| {
            let &(x, y, n) = sums.get(&t.id)?;
            // Dozens of full labels would cover the map; past the largest
            // themes, the number alone points into the chart below.
            let full = if rank < MAP_NAMED_THEMES {
                format!("{} · {}", t.id, t.theme.label)
            } else {
                t.id.to_string()
            };
            Some((full, t.id.to_string(), (x / n, y / n)))
        })
        .collect();
    for (text, spot) in place_labels(&wanted).into_iter().flatten() {
        let _ = write!(
            page,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" dominant-baseline=\"middle\">{}</text>",
            spot.x,
            spot.y,
            escape(&text)
        );
    }
}

/// The canvas map's files by index and each paragraph's file index.
fn file_arrays(page: &mut Page, r: &Pages) {
    let mut files: Vec<&str> = Vec::new();
    let mut file_index: HashMap<&str, usize> = HashMap::new();
    for p in r.paragraphs {
        file_index.entry(p.file.as_str()).or_insert_with(|| {
            files.push(p.file.as_str());
            files.len() - 1
        });
    }
    page.push_str("],files:[");
    array_items(page, files.iter().map(|f| script_string(f)));
    page.push_str("],file:[");
    array_items(
        page,
        r.paragraphs
            .iter()
            .map(|p| file_index[p.file.as_str()].to_string()),
    );
}

/// Above [`SVG_LIMIT`] paragraphs: compact arrays that the page's script
/// draws on a canvas.
fn canvas_map(
    page: &mut Page,
    r: &Pages,
    places: &[(f32, f32)],
    language_index: &HashMap<&str, usize>,
    colour: &HashMap<usize, &str>,
) {
    // The labels lie over the canvas in an SVG of the same coordinates; the
    // frame gives both the same box. The arrays are written an item at a
    // time: at a million paragraphs they are most of the page.
    let _ = write!(
        page,
        "<div class=\"map-frame\"><canvas id=\"themes-canvas\" width=\"{WIDTH}\" height=\"{HEIGHT}\"></canvas>\
         <script>const MAP={{x:["
    );
    array_items(page, places.iter().map(|(x, _)| format!("{x:.0}")));
    page.push_str("],y:[");
    array_items(page, places.iter().map(|(_, y)| format!("{y:.0}")));
    page.push_str("],theme:[");
    array_items(page, r.paragraphs.iter().map(|p| p.theme.to_string()));
    page.push_str("],lang:[");
    array_items(
        page,
        r.paragraphs
            .iter()
            .map(|p| language_index[p.language.as_str()].to_string()),
    );
    page.push_str("],text:[");
    array_items(
        page,
        r.paragraphs
            .iter()
            .map(|p| script_string(&short(&p.text, MAP_TEXT_CHARS / 2))),
    );
    // Languages and files by index, so that the reading panel names both.
    let mut languages: Vec<(&str, usize)> = language_index.iter().map(|(l, &i)| (*l, i)).collect();
    languages.sort_by_key(|&(_, i)| i);
    page.push_str("],langs:[");
    array_items(page, languages.iter().map(|(l, _)| script_string(l)));
    file_arrays(page, r);
    page.push_str("],fresh:[");
    array_items(
        page,
        (0..r.paragraphs.len())
            .filter(|&i| r.paragraphs[i].is_new)
            .map(|i| i.to_string()),
    );
    page.push_str("],colour:{");
    array_items(
        page,
        r.themes.iter().map(|t| {
            format!(
                "\"{}\":\"{}\"",
                t.id,
                colour.get(&t.id).copied().unwrap_or("#999")
            )
        }),
    );
    page.push_str("}};</script>");
    let _ = write!(
        page,
        "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" class=\"overlay\"><g class=\"labels\">"
    );
    theme_labels(page, r, places);
    page.push_str("</g></svg></div>");
}

/// Items separated by commas.
fn array_items(page: &mut Page, items: impl Iterator<Item = String>) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            page.push_str(",");
        }
        page.push_str(&item);
    }
}

/// Paragraphs per theme and language, as stacked bars.
fn chart_section(
    page: &mut Page,
    r: &Pages,
    languages: &BTreeMap<&str, usize>,
    colour: &HashMap<usize, &str>,
) {
    let largest = r
        .themes
        .iter()
        .map(|t| t.theme.size)
        .max()
        .unwrap_or(1)
        .max(1);
    page.push_str("<section id=\"languages\"><h2>Themes × languages</h2><table class=\"chart\">");
    let shade = |i: usize| format!("hsl({}, 45%, {}%)", (i * 67) % 360, 45 + (i % 3) * 10);
    let index: HashMap<&str, usize> = languages.keys().enumerate().map(|(i, l)| (*l, i)).collect();
    for t in r.themes {
        let _ = write!(
            page,
            "<tr><th><span class=\"swatch\" style=\"background:{}\"></span>{} · {}</th><td><div class=\"bar\">",
            colour.get(&t.id).copied().unwrap_or("#999"),
            t.id,
            escape(&t.theme.label)
        );
        for (language, n) in &t.theme.languages {
            let _ = write!(
                page,
                "<span style=\"width:{:.2}%;background:{}\" title=\"{}: {n}\">{}</span>",
                100.0 * *n as f64 / largest as f64,
                shade(index.get(language.as_str()).copied().unwrap_or(0)),
                escape(language),
                if *n * 25 >= largest {
                    escape(language)
                } else {
                    String::new()
                }
            );
        }
        let _ = write!(
            page,
            "</div></td><td class=\"n\">{}</td></tr>",
            t.theme.size
        );
    }
    page.push_str("</table></section>\n");
}

/// A card's line of facts and its keywords; for a theme no paragraph is
/// in, its size over the runs and first day alone.
fn card_facts(page: &mut Page, named: &NamedTheme, trends: &[RunSizes]) {
    let t = &named.theme;
    if t.size == 0 {
        let _ = write!(
            page,
            "<p class=\"facts\">no paragraphs {}· first seen {}</p>",
            sparkline(named.id, trends),
            escape(&named.first_seen)
        );
        return;
    }
    let _ = write!(
        page,
        "<p class=\"facts\">topic {}: <bdi>{}</bdi> · {} paragraphs {}· {} · {} file{}{} · cohesion {:.2} · first seen {}</p>\
         <p class=\"keywords\"><bdi>{}</bdi></p>",
        t.topic,
        escape(&t.topic_label),
        t.size,
        sparkline(named.id, trends),
        escape(&t.language_summary()),
        t.files,
        if t.files == 1 { "" } else { "s" },
        if t.single_source { " (single source)" } else { "" },
        t.cohesion,
        escape(&named.first_seen),
        escape(&t.keywords.join(", "))
    );
}

/// One card per theme.
fn cards_section(page: &mut Page, r: &Pages, colour: &HashMap<usize, &str>) {
    page.push_str("<section id=\"themes\"><h2>Themes</h2>");
    for named in r.themes {
        let t = &named.theme;
        let _ = write!(
            page,
            "<article class=\"theme\" data-theme=\"{}\" style=\"border-color:{}\"><h3>{} · <bdi>{}</bdi></h3>",
            named.id,
            colour.get(&named.id).copied().unwrap_or("#999"),
            named.id,
            escape(&t.label),
        );
        card_facts(page, named, r.trends);
        if let Some((oldest, newest)) = &t.articles {
            let _ = write!(
                page,
                "<p class=\"note\">Articles dated {}{}</p>",
                escape(oldest),
                if oldest == newest {
                    String::new()
                } else {
                    format!(" to {}", escape(newest))
                }
            );
        }
        if named.named {
            page.push_str(match t.size {
                0 => "<p class=\"note\">A theme you named (--themes): no paragraph is about it in this run.</p>",
                _ => "<p class=\"note\">A theme you named (--themes).</p>",
            });
        }
        for (language, words) in t.keywords_by_language.iter().filter(|(_, w)| !w.is_empty()) {
            let _ = write!(
                page,
                "<p class=\"by-language\" lang=\"{0}\" dir=\"{1}\"><b>{0}</b> {2}</p>",
                escape(language),
                direction(language),
                escape(&words.join(", "))
            );
        }
        page.push_str("<ul>");
        let mut shown: HashMap<&str, usize> = HashMap::new();
        for e in &t.examples {
            let count = shown.entry(e.language.as_str()).or_default();
            if *count >= CARD_EXAMPLES {
                continue;
            }
            *count += 1;
            let p = &r.paragraphs[e.paragraph];
            let _ = write!(
                page,
                "<li lang=\"{}\" dir=\"{}\">{}<span class=\"source\" dir=\"ltr\"> — <bdi>{}</bdi> ¶{}, similarity {:.2}</span></li>",
                escape(&e.language),
                direction(&e.language),
                escape(&short(&p.text, 400)),
                escape(&p.file),
                p.number,
                e.similarity
            );
        }
        page.push_str("</ul></article>");
    }
    page.push_str("</section>\n");
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI','Noto Sans','Noto Sans CJK SC','Noto Sans Hebrew',sans-serif;margin:0 auto;max-width:1080px;padding:0 16px;color:#222}\
header{border-bottom:2px solid #dde4ee;margin-bottom:8px}h1{margin:12px 0 4px;font-size:22px}h2{font-size:17px;margin:18px 0 6px}\
.note{color:#555;margin:2px 0}ul.since{margin:4px 0;padding-left:18px}ul.since li{margin:2px 0}.spark{vertical-align:middle;margin:0 4px}.legend span{margin-right:14px;white-space:nowrap}.legend svg{vertical-align:middle}\
#themes-map,#themes-canvas{width:100%;height:auto;border:1px solid #dde4ee;background:#fbfcfe;box-sizing:border-box}\
#themes-canvas{display:block}.map-frame{position:relative}\
.overlay{position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none}\
.labels text{font-size:13px;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:4px;fill:#222}\
.dots>*{cursor:pointer;opacity:.8}.dots>*:hover{opacity:1;stroke:#000}\
#show-new:checked~#themes-map .dots>:not([data-new]){opacity:.12}#show-new:checked~#themes-map .dots>[data-new]{opacity:1;stroke:#000}\
.reading{min-height:3em;padding:6px 8px;background:#f4f6fa;border-radius:4px;margin-top:6px}\
table.chart{width:100%;border-collapse:collapse}.chart th{text-align:left;font-weight:normal;width:38%;padding:2px 6px}\
.chart td{padding:2px 0}.chart .n{width:4em;text-align:right;color:#555}\
.bar{display:flex;height:18px}.bar span{display:block;height:100%;color:#fff;font-size:11px;text-align:center;overflow:hidden}\
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}\
.theme{border-left:6px solid;padding:4px 12px;margin:12px 0;background:#fafbfd}.theme h3{margin:4px 0}\
.facts{color:#555;margin:2px 0}.keywords{font-weight:600;margin:2px 0}.by-language{margin:2px 0;color:#333}\
.theme li{margin:4px 0}.source{color:#777;font-size:12px}";

const SCRIPT: &str = r#"
(function () {
  var reading = document.getElementById('reading');
  function show(text, lang, file) {
    reading.textContent = '';
    var p = document.createElement('p');
    p.textContent = text;
    p.lang = lang;
    p.dir = ['he', 'ar', 'fa', 'ur', 'yi'].indexOf(lang) >= 0 ? 'rtl' : 'ltr';
    var s = document.createElement('small');
    s.textContent = lang + ' · ' + file;
    reading.appendChild(p);
    reading.appendChild(s);
  }
  var map = document.getElementById('themes-map');
  if (map) {
    map.addEventListener('click', function (e) {
      var el = e.target.closest('[data-paragraph]');
      if (el) {
        var t = el.querySelector('title');
        show(t ? t.textContent : '', el.dataset.lang, el.dataset.file + ' (row ' + el.dataset.paragraph + ')');
      }
    });
  }
  var canvas = document.getElementById('themes-canvas');
  if (canvas && typeof MAP !== 'undefined') {
    var ctx = canvas.getContext('2d');
    var fresh = new Uint8Array(MAP.x.length);
    MAP.fresh.forEach(function (i) { fresh[i] = 1; });
    var highlight = document.getElementById('show-new');
    function draw() {
      var only = highlight && highlight.checked;
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      for (var i = 0; i < MAP.x.length; i++) {
        ctx.globalAlpha = only && !fresh[i] ? 0.12 : 1;
        ctx.fillStyle = MAP.colour[MAP.theme[i]] || '#999';
        ctx.fillRect(MAP.x[i] - 1.5, MAP.y[i] - 1.5, 3, 3);
      }
      ctx.globalAlpha = 1;
    }
    draw();
    if (highlight) { highlight.addEventListener('change', draw); }
    canvas.addEventListener('click', function (e) {
      var box = canvas.getBoundingClientRect();
      var x = (e.clientX - box.left) * canvas.width / box.width;
      var y = (e.clientY - box.top) * canvas.height / box.height;
      var best = -1, bestD = 1e9;
      for (var i = 0; i < MAP.x.length; i++) {
        var d = (MAP.x[i] - x) * (MAP.x[i] - x) + (MAP.y[i] - y) * (MAP.y[i] - y);
        if (d < bestD) { bestD = d; best = i; }
      }
      if (best >= 0) {
        show(MAP.text[best], MAP.langs[MAP.lang[best]], MAP.files[MAP.file[best]] + ' (row ' + (best + 1) + ')');
      }
    });
  }
  document.body.dataset.ready = '1';
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe::Theme;

    /// A page over `n` paragraphs of one theme, the first with `text` in
    /// the file `file`.
    fn page(n: usize, text: &str, file: &str) -> String {
        let paragraphs: Vec<Paragraph> = (0..n)
            .map(|i| {
                let (file, text) = if i == 0 {
                    (file.to_string(), text.to_string())
                } else {
                    (
                        format!("f{i}.txt"),
                        format!("Paragraph {i} says something."),
                    )
                };
                let mut p = Paragraph::new(file, 1, text);
                p.language = if i % 2 == 0 { "he" } else { "en" }.into();
                p.theme = 1;
                p
            })
            .collect();
        let theme = Theme {
            cluster: 0,
            label: "label".into(),
            topic: 1,
            topic_label: "label".into(),
            size: n,
            languages: vec![("he".into(), n / 2), ("en".into(), n / 2)],
            cohesion: 0.5,
            keywords: vec!["word".into()],
            keywords_by_language: Vec::new(),
            representative: Some(0),
            files: n,
            single_source: false,
            articles: None,
            examples: vec![crate::describe::Example {
                language: "he".into(),
                rank: 1,
                paragraph: 0,
                similarity: 0.9,
            }],
        };
        let themes = [NamedTheme {
            id: 1,
            first_seen: "2026-01-01".into(),
            new_paragraphs: 0,
            previous_theme: String::new(),
            named: false,
            theme,
        }];
        let places: Vec<(f32, f32)> = (0..n).map(|i| (i as f32 % 900.0, 100.0)).collect();
        let header = Header {
            files: n,
            label_language: "en",
            model: "m",
            day: "2026-01-01",
        };
        let pages = Pages {
            paragraphs: &paragraphs,
            themes: &themes,
            trends: &[],
        };
        let mut html = Vec::new();
        write_report_html(&mut html, &pages, &header, &places).unwrap();
        String::from_utf8(html).unwrap()
    }

    #[test]
    fn text_in_the_canvas_data_cannot_end_its_script() {
        let hostile = "</script><script>alert(1)</script><!-- a\u{2028}b";
        let html = page(SVG_LIMIT + 1, hostile, "report\u{202E}txt.exe");
        assert!(html.contains("themes-canvas"), "canvas mode");
        // The data block and the page's own script: two ends, no more.
        assert_eq!(html.matches("</script>").count(), 2);
        let data = &html[html.find("const MAP=").unwrap()..];
        let data = &data[..data.find("</script>").unwrap()];
        assert!(!data.contains("<!--") && !data.contains('<'));
        assert!(
            !data.contains('\u{2028}'),
            "a line separator ends a JS line"
        );
        assert!(data.contains("\\u003c/script\\u003e"));
        assert!(html.contains("langs:[\"he\",\"en\"]") || html.contains("langs:[\"en\",\"he\"]"));
        assert!(html.contains("files:[\"report"), "the panel names files");
        assert!(
            !html.contains('\u{202E}'),
            "no bidi override reaches the page"
        );
    }

    #[test]
    fn file_names_in_cards_are_isolated_and_overrides_dropped() {
        let html = page(3, "שלום עולם, טקסט בעברית.", "evil\u{202E}fdp.exe");
        assert!(html.contains("<bdi>evilfdp.exe</bdi>"), "{html}");
        assert!(html.contains("class=\"source\" dir=\"ltr\""));
    }
}
