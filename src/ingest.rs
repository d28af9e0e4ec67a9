//! The `ingest` stage: finds article files, decodes them, and cuts them into
//! paragraphs, leaving out junk (too short, navigation, duplicates) with a
//! count per reason.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

const EXTENSIONS: [&str; 5] = ["txt", "md", "markdown", "html", "htm"];
/// Shortest paragraph kept, in Latin-letter equivalents (see [`weighted_length`]).
pub const MIN_PARAGRAPH_WEIGHT: usize = 40;
/// Deepest element nesting parsed as HTML. No real page comes near it, and
/// the HTML parser's scope checks grow with the depth (quadratic time).
const MAX_HTML_DEPTH: usize = 512;
/// Units shorter than this can be headings or navigation.
const SHORT_UNIT_WEIGHT: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("--input {0}: no such file or directory")]
    MissingInput(PathBuf),
    #[error("--input {path}: found no .txt, .md or .html files")]
    NoFiles { path: PathBuf },
    #[error("{path}: cannot read the file: {error}")]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {reason}; save it as UTF-8 and run again")]
    Undecodable { path: PathBuf, reason: String },
    #[error("the inputs hold no paragraph long enough to cluster ({skipped} left out as junk)")]
    NoParagraphs { skipped: usize },
}

/// One paragraph on its way through the job: ingest fills where it came
/// from, its text and its key; each later stage fills what it finds out
/// (language, first sighting, theme, similarity), and `output` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Paragraph {
    /// Path relative to the input folder it was found in (or the file name).
    pub file: String,
    /// 1-based number among the kept paragraphs of its file.
    pub number: usize,
    /// The paragraph as the analyst reads it.
    pub text: String,
    /// The paragraph's identity across runs: sha256 of its text, hex.
    pub key: String,
    /// ISO 639-1 code, or `und` (the `language` stage).
    pub language: String,
    /// Day it was first seen, and whether that is this run (`refresh`).
    pub first_seen: String,
    /// True when no earlier run saw this text.
    pub is_new: bool,
    /// Stable id of its theme (`refresh`, after `describe`).
    pub theme: usize,
    /// Cosine to its theme's centroid (`cluster`).
    pub similarity: f32,
}

impl Paragraph {
    pub(crate) fn new(file: String, number: usize, text: String) -> Self {
        Self {
            key: text_key(&text),
            file,
            number,
            text,
            language: String::new(),
            first_seen: String::new(),
            is_new: true,
            theme: 0,
            similarity: 0.0,
        }
    }
}

/// The key of a text: sha256 of its exact bytes, hex.
pub fn text_key(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a piece of text was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Shorter than [`MIN_PARAGRAPH_WEIGHT`].
    TooShort,
    /// Menus, breadcrumbs, cookie notices and the like.
    Navigation,
    /// The same text seen before in the inputs.
    Duplicate,
    /// A file with no text at all.
    EmptyFile,
}

/// What the inputs hold: the files read, their paragraphs, and what was
/// left out.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// Every file read, as shown in the reports.
    pub files: Vec<String>,
    /// The kept paragraphs, file by file, in reading order.
    pub paragraphs: Vec<Paragraph>,
    /// Pieces of text left out, per reason.
    pub skipped: BTreeMap<SkipReason, usize>,
    /// Files that needed a legacy encoding, with the encoding used.
    pub decoded_as: BTreeMap<String, String>,
}

struct SourceFile {
    display: String,
    path: PathBuf,
}

/// Reads every supported file under `inputs` (files or folders, recursive).
pub fn read_corpus(inputs: &[PathBuf]) -> Result<Corpus, IngestError> {
    let mut sources = Vec::new();
    for input in inputs {
        sources.extend(find_files(input)?);
    }
    name_apart(&mut sources);
    let texts: Vec<(String, String, Option<&'static str>)> = sources
        .par_iter()
        .map(|s| {
            let bytes = std::fs::read(&s.path).map_err(|e| IngestError::Unreadable {
                path: s.path.clone(),
                error: e,
            })?;
            let (text, legacy) = decode(&bytes).map_err(|reason| IngestError::Undecodable {
                path: s.path.clone(),
                reason,
            })?;
            Ok((s.display.clone(), plain_text(&s.path, &text), legacy))
        })
        .collect::<Result<_, IngestError>>()?;

    let mut corpus = Corpus::default();
    let mut seen = HashSet::new();
    for (file, text, legacy) in texts {
        if text.trim().is_empty() {
            tracing::warn!("{file}: empty, nothing to read");
            *corpus.skipped.entry(SkipReason::EmptyFile).or_default() += 1;
        }
        if let Some(encoding) = legacy {
            tracing::info!("{file}: decoded as {encoding}");
            corpus.decoded_as.insert(file.clone(), encoding.to_string());
        }
        let mut number = 0;
        for unit in split_paragraphs(&text, &mut corpus.skipped) {
            if !seen.insert(unit.clone()) {
                *corpus.skipped.entry(SkipReason::Duplicate).or_default() += 1;
                continue;
            }
            number += 1;
            corpus
                .paragraphs
                .push(Paragraph::new(file.clone(), number, unit));
        }
        corpus.files.push(file);
    }
    if corpus.paragraphs.is_empty() {
        return Err(IngestError::NoParagraphs {
            skipped: corpus.skipped.values().sum(),
        });
    }
    Ok(corpus)
}

/// Where two inputs hold files under the same relative path, those files
/// are shown with the path of their input before it, so that every row of
/// the reports says which file it came from.
fn name_apart(sources: &mut [SourceFile]) {
    let mut count: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for s in sources.iter() {
        *count.entry(s.display.clone()).or_default() += 1;
    }
    for s in sources.iter_mut() {
        if count[&s.display] > 1 {
            s.display = s.path.to_string_lossy().replace('\\', "/");
        }
    }
}

fn find_files(input: &Path) -> Result<Vec<SourceFile>, IngestError> {
    if input.is_file() {
        let display = input.file_name().map_or_else(
            || input.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        return Ok(vec![SourceFile {
            display,
            path: input.to_path_buf(),
        }]);
    }
    if !input.is_dir() {
        return Err(IngestError::MissingInput(input.to_path_buf()));
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(input).sort_by_file_name() {
        let entry = entry.map_err(|e| IngestError::Unreadable {
            path: e.path().unwrap_or(input).to_path_buf(),
            error: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("cannot walk the folder")),
        })?;
        let supported = entry
            .path()
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()));
        if entry.file_type().is_file() && supported {
            let relative = entry.path().strip_prefix(input).unwrap_or(entry.path());
            files.push(SourceFile {
                display: relative.to_string_lossy().replace('\\', "/"),
                path: entry.path().to_path_buf(),
            });
        }
    }
    if files.is_empty() {
        return Err(IngestError::NoFiles {
            path: input.to_path_buf(),
        });
    }
    Ok(files)
}

/// Decodes bytes to text: a BOM decides when present, then UTF-16 told by
/// its zero bytes, then strict UTF-8, then the most likely legacy encoding.
/// The decoded text is judged too: one with NUL bytes or many control
/// characters is binary, whatever encoding made it readable. Never returns
/// replacement garbage; stray control characters become spaces.
fn decode(bytes: &[u8]) -> Result<(String, Option<&'static str>), String> {
    let (text, legacy) = if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let text = encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom_len..])
            .ok_or_else(|| {
                format!(
                    "is not valid {} although it starts with that byte-order mark",
                    encoding.name()
                )
            })?;
        (text.into_owned(), None)
    } else if let Some(encoding) = utf16_without_bom(bytes) {
        let text = encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or_else(|| format!("looks like {} but is not valid", encoding.name()))?;
        (text.into_owned(), Some(encoding.name()))
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        (text.to_string(), None)
    } else {
        let mut detector = chardetng::EncodingDetector::new();
        detector.feed(bytes, true);
        let encoding = detector.guess(None, true);
        let text = encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or_else(|| format!("is neither UTF-8 nor valid {}", encoding.name()))?;
        (text.into_owned(), Some(encoding.name()))
    };
    Ok((text_not_binary(text)?, legacy))
}

/// Most characters a text may spend on control characters (other than
/// line breaks, tabs and form feeds) before it counts as binary.
const MAX_CONTROL_SHARE: f64 = 0.01;

fn is_stray_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c')
}

/// `text` with stray control characters as spaces, or why it is binary.
fn text_not_binary(text: String) -> Result<String, String> {
    if text.contains('\0') {
        return Err("looks like a binary file (it holds NUL bytes), not text".into());
    }
    let controls = text.chars().filter(|&c| is_stray_control(c)).count();
    if controls == 0 {
        return Ok(text);
    }
    let share = controls as f64 / text.chars().count() as f64;
    if share > MAX_CONTROL_SHARE {
        return Err(format!(
            "looks like a binary file ({:.0} % control characters), not text",
            share * 100.0
        ));
    }
    Ok(text.replace(is_stray_control, " "))
}

/// UTF-16 without a byte-order mark, told by its zero bytes: text in a
/// Latin script puts a zero in every other byte, on the side the byte order
/// says.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    let pairs = sample.len() / 2;
    if pairs < 2 {
        return None;
    }
    let zeros = |offset: usize| {
        sample
            .iter()
            .skip(offset)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd) = (zeros(0), zeros(1));
    let mostly = |n: usize| n * 10 >= pairs * 6;
    let rarely = |n: usize| n * 10 <= pairs;
    if mostly(odd) && rarely(even) {
        Some(encoding_rs::UTF_16LE)
    } else if mostly(even) && rarely(odd) {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// The readable text of a file: markup removed for HTML and Markdown.
fn plain_text(path: &Path, text: &str) -> String {
    let ext = path
        .extension()
        .and_then(|x| x.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" if html_depth(text) > MAX_HTML_DEPTH => {
            tracing::warn!(
                "{}: HTML nested more than {MAX_HTML_DEPTH} elements deep; its tags are stripped instead of parsed",
                path.display()
            );
            stripped_html_text(text)
        }
        "html" | "htm" => html_text(text),
        "md" | "markdown" => markdown_text(text),
        _ => text.to_string(),
    }
}

fn html_text(html: &str) -> String {
    use ego_tree::iter::Edge;
    use scraper::node::Node;
    const SKIP: [&str; 9] = [
        "script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas",
    ];
    const BLOCK: [&str; 30] = [
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "nav",
        "aside",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "pre",
        "table",
        "tr",
        "td",
        "th",
        "figcaption",
        "hr",
        "title",
    ];
    let document = scraper::Html::parse_document(html);
    let mut out = String::new();
    // Iterative: a document nested thousands of elements deep must not
    // exhaust the stack.
    let mut skipping = 0usize;
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(e) if SKIP.contains(&e.name()) => skipping += 1,
                _ if skipping > 0 => {}
                Node::Text(text) => out.push_str(&text.replace(['\n', '\r', '\t'], " ")),
                Node::Element(e) if e.name() == "br" => out.push('\n'),
                Node::Element(e) if BLOCK.contains(&e.name()) => out.push_str("\n\n"),
                _ => {}
            },
            Edge::Close(node) => match node.value() {
                Node::Element(e) if SKIP.contains(&e.name()) => skipping -= 1,
                Node::Element(e) if skipping == 0 && BLOCK.contains(&e.name()) => {
                    out.push_str("\n\n")
                }
                _ => {}
            },
        }
    }
    out
}

/// How deeply the elements of `html` nest, counted from its tags alone
/// (void elements and those whose end tag may be left out do not count).
fn html_depth(html: &str) -> usize {
    const NEUTRAL: [&str; 22] = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option",
    ];
    let (mut depth, mut deepest) = (0usize, 0usize);
    for tag in html.split('<').skip(1) {
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let self_closing = tag.split('>').next().is_some_and(|t| t.ends_with('/'));
        if name.is_empty() || self_closing || NEUTRAL.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    deepest
}

/// The text of HTML too deeply nested to parse: tags become breaks.
fn stripped_html_text(html: &str) -> String {
    let tag = regex::Regex::new(r"<[^>]*>").expect("valid regex");
    tag.replace_all(html, "\n").into_owned()
}

fn markdown_text(md: &str) -> String {
    let link = regex::Regex::new(r"!?\[([^\]]*)\]\([^)]*\)").expect("valid regex");
    let mut out = String::new();
    let mut in_code = false;
    for line in md.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_code = !in_code;
            out.push('\n');
            continue;
        }
        if in_code {
            continue;
        }
        let line = trimmed.trim_start_matches('#').trim_start_matches('>');
        let line = link.replace_all(line, "$1");
        out.push_str(&line.replace("**", "").replace("__", ""));
        out.push('\n');
    }
    out
}

/// Length in Latin-letter equivalents: a Han or kana character carries about
/// as much as three Latin letters, a Hangul syllable about two.
pub fn weighted_length(text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c as u32 {
            0x3040..=0x30FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xF900..=0xFAFF
            | 0x20000..=0x2FFFF => 3,
            0xAC00..=0xD7AF => 2,
            _ => 1,
        })
        .sum()
}

fn ends_like_a_sentence(text: &str) -> bool {
    text.trim_end()
        .chars()
        .last()
        .is_some_and(|c| ".!?。！？…\"”»'’)）".contains(c))
}

fn is_navigation(text: &str) -> bool {
    const MARKERS: [&str; 40] = [
        "previous",
        "next post",
        "next article",
        "read more",
        "source link",
        "leave a reply",
        "leave a comment",
        "write a comment",
        "new call to action",
        "share this",
        "subscribe",
        "sign up",
        "log in",
        "click here",
        "back to top",
        "cookie",
        " > ",
        "»",
        "«",
        "←",
        "→",
        "上一篇",
        "下一篇",
        "上一页",
        "下一页",
        "首页",
        "当前位置",
        "返回列表",
        "הקודם",
        "הבא",
        "לכתבה",
        "poprzedni",
        "następny",
        "czytaj więcej",
        "dodaj komentarz",
        "udostępnij",
        "zurück",
        "weiterlesen",
        "précédent",
        "suivant",
    ];
    let lower = text.to_lowercase();
    MARKERS.iter().any(|m| lower.contains(m))
}

/// Blank-line separated blocks, each a list of whitespace-normalized lines.
fn blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = vec![Vec::new()];
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        match (line.is_empty(), blocks.last_mut()) {
            (true, Some(last)) if !last.is_empty() => blocks.push(Vec::new()),
            (false, Some(last)) => last.push(line),
            _ => {}
        }
    }
    blocks.retain(|b| !b.is_empty());
    blocks
}

/// A block whose lines are hard-wrapped prose is one unit; otherwise each
/// line is a unit of its own.
fn block_units(lines: Vec<String>) -> Vec<String> {
    let wrapped = lines.len() > 1
        && lines[..lines.len() - 1]
            .iter()
            .all(|l| weighted_length(l) >= 50 && !ends_like_a_sentence(l));
    if wrapped {
        vec![lines.join(" ")]
    } else {
        lines
    }
}

/// Cuts a file's text into paragraphs. Blank lines separate blocks; inside a
/// block, or in a file without blank lines, each line is a unit. A short line
/// that does not end like a sentence is a heading and joins the unit below it.
fn split_paragraphs(text: &str, skipped: &mut BTreeMap<SkipReason, usize>) -> Vec<String> {
    let mut count = |reason| *skipped.entry(reason).or_default() += 1;
    let units = blocks(text).into_iter().flat_map(block_units);

    let mut paragraphs = Vec::new();
    let mut heading: Option<String> = None;
    for unit in units {
        let weight = weighted_length(&unit);
        if weight < SHORT_UNIT_WEIGHT && is_navigation(&unit) {
            count(SkipReason::Navigation);
            continue;
        }
        if weight < SHORT_UNIT_WEIGHT && !ends_like_a_sentence(&unit) {
            // A heading that another heading replaces carried no paragraph.
            if heading.replace(unit).is_some() {
                count(SkipReason::TooShort);
            }
            continue;
        }
        let paragraph = match heading.take() {
            Some(h) => format!("{h}\n{unit}"),
            None => unit,
        };
        if weighted_length(&paragraph) < MIN_PARAGRAPH_WEIGHT {
            count(SkipReason::TooShort);
            continue;
        }
        paragraphs.push(paragraph);
    }
    if heading.is_some() {
        count(SkipReason::TooShort);
    }
    paragraphs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_html_is_walked_without_recursion_and_too_deep_html_stripped() {
        let nested = format!(
            "{}<p>inside everything</p>{}",
            "<span>".repeat(5000),
            "</span>".repeat(5000)
        );
        assert!(html_text(&nested).contains("inside everything"));
        assert_eq!(html_depth("<div><p>a<p>b<br><img/></div><div></div>"), 1);
        assert_eq!(html_depth(&"<div>".repeat(600)), 600);
        let text = plain_text(Path::new("deep.html"), &"<div>x".repeat(600));
        assert!(text.contains('x') && !text.contains('<'));
    }

    #[test]
    fn binary_is_told_by_its_control_characters_and_utf16_by_its_zeros() {
        let controls: Vec<u8> = (0..400u32).map(|i| (i % 31) as u8 + 1).collect();
        let err = decode(&controls).unwrap_err();
        assert!(err.contains("control characters"), "{err}");
        let (text, _) = decode(b"a stray \x07 bell in text that is otherwise ordinary prose, long enough to count as text, which is what a paragraph is.").unwrap();
        assert!(!text.contains('\x07'));
        let le: Vec<u8> = "Plain words in UTF-16."
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(
            decode(&le).unwrap(),
            ("Plain words in UTF-16.".into(), Some("UTF-16LE"))
        );
        let be: Vec<u8> = "Plain words in UTF-16."
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(decode(&be).unwrap().1, Some("UTF-16BE"));
    }

    fn split(text: &str) -> (Vec<String>, BTreeMap<SkipReason, usize>) {
        let mut skipped = BTreeMap::new();
        (split_paragraphs(text, &mut skipped), skipped)
    }

    #[test]
    fn one_paragraph_per_line_with_headings_attached() {
        let text = "Why Small Business Owners Should Care\n\
                    For small business owners, recognizing the tension between operations and strategy is key.\n\
                    Another paragraph that is long enough to be kept as its own paragraph here.\n";
        let (paragraphs, _) = split(text);
        assert_eq!(paragraphs.len(), 2);
        assert!(paragraphs[0].starts_with("Why Small Business Owners Should Care\nFor small"));
    }

    #[test]
    fn blank_line_blocks_and_junk_are_counted() {
        let text = "Yes, you are not mistaken.\n\n\
                    Imagine that your company appears for a few minutes on a national TV show with millions of viewers.\n\n\
                    New call to action\n\nSource link\n\nLeave a Reply\n\nAdd Row\n";
        let (paragraphs, skipped) = split(text);
        assert_eq!(paragraphs.len(), 1, "{paragraphs:?}");
        assert_eq!(skipped[&SkipReason::Navigation], 3);
        assert_eq!(skipped[&SkipReason::TooShort], 2);
    }

    #[test]
    fn chinese_is_measured_by_what_it_says() {
        assert!(
            weighted_length("客户体验是新的战场，企业需要进行文化改革。") >= MIN_PARAGRAPH_WEIGHT
        );
        assert!(weighted_length("Customer experience is new.") < MIN_PARAGRAPH_WEIGHT);
        let (paragraphs, skipped) = split("业务中心\n您的当前位置是:首页 > 业务中心\n\u{3000}\u{3000}客户体验是新的战场，企业需要进行文化改革，反映这一新的客户关注点。\n");
        assert_eq!(
            paragraphs,
            vec!["业务中心\n客户体验是新的战场，企业需要进行文化改革，反映这一新的客户关注点。"]
        );
        assert_eq!(skipped[&SkipReason::Navigation], 1);
    }

    #[test]
    fn decodes_boms_and_legacy_encodings() {
        let utf8_bom = [&[0xEF, 0xBB, 0xBF][..], "Zażółć".as_bytes()].concat();
        assert_eq!(decode(&utf8_bom).unwrap().0, "Zażółć");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("שלום עולם".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decode(&utf16).unwrap().0, "שלום עולם");
        let (gbk, _, _) = encoding_rs::GBK
            .encode("企业的业务目标已发生变化，如今每个人都有责任推动全组织范围的发展。");
        let (text, legacy) = decode(&gbk).unwrap();
        assert_eq!(
            text,
            "企业的业务目标已发生变化，如今每个人都有责任推动全组织范围的发展。"
        );
        assert_eq!(legacy, Some("GBK"));
        let (cp1252, _, _) =
            encoding_rs::WINDOWS_1252.encode("Café déjà vu — naïve résumé, “quoted”.");
        assert_eq!(
            decode(&cp1252).unwrap().0,
            "Café déjà vu — naïve résumé, “quoted”."
        );
        assert!(decode(b"\x00\x01\x02binary\xff")
            .unwrap_err()
            .contains("binary"));
    }

    #[test]
    fn html_keeps_text_and_drops_scripts_and_markup() {
        let html = "<html><head><title>t</title><style>p{}</style></head><body>\
                    <script>var x = 'Never shown in any paragraph at all, ever, really';</script>\
                    <p>First paragraph with <b>bold</b> text that is long enough to keep.</p>\
                    <div>Second paragraph, inside a div, also long enough to be kept.</div></body></html>";
        let (paragraphs, _) = split(&html_text(html));
        assert_eq!(
            paragraphs,
            vec![
                "First paragraph with bold text that is long enough to keep.",
                "Second paragraph, inside a div, also long enough to be kept."
            ]
        );
    }

    #[test]
    fn hard_wrapped_blocks_are_one_paragraph() {
        let text = "This paragraph was wrapped by an editor at a fixed width, so its lines\n\
                    continue one another and must be read as a single paragraph of text.\n\n\
                    A second paragraph stands after the blank line and is long enough.\n";
        let (paragraphs, _) = split(text);
        assert_eq!(paragraphs.len(), 2, "{paragraphs:?}");
        assert!(paragraphs[0].ends_with("single paragraph of text."));
    }

    #[test]
    fn markdown_markup_is_removed() {
        let md = "# Heading of the piece\n\nA paragraph with a [link](http://example.invalid) and **bold** words in it.\n";
        let (paragraphs, _) = split(&markdown_text(md));
        assert_eq!(
            paragraphs,
            vec!["Heading of the piece\nA paragraph with a link and bold words in it."]
        );
    }
}
