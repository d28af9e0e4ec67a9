//! The readable text of a file: HTML's and Markdown's markup taken off,
//! their structure kept as blank lines, and their headings marked for the
//! paragraph splitter.

use std::path::Path;

use super::paragraphs::HEADING_MARK;

/// Deepest element nesting parsed as HTML. No real page comes near it, and
/// the HTML parser's scope checks grow with the depth (quadratic time).
const MAX_HTML_DEPTH: usize = 512;
/// A block of HTML shorter than this (in characters) that is mostly link
/// text is navigation.
const LINK_BLOCK_CHARS: usize = 200;

/// Besides what is never text, the page's own chrome: menus, side bars,
/// footers, forms.
const SKIP: [&str; 15] = [
    "script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas", "nav",
    "aside", "footer", "form", "button", "menu",
];
const HEADINGS: [&str; 6] = ["h1", "h2", "h3", "h4", "h5", "h6"];
const BLOCK: [&str; 24] = [
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "nav",
    "aside",
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

/// The readable text of a file: markup removed for HTML and Markdown.
pub fn plain_text(path: &Path, text: &str) -> String {
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
    let document = scraper::Html::parse_document(html);
    let mut out = String::new();
    // Iterative: a document nested thousands of elements deep must not
    // exhaust the stack. Each open block remembers where its text starts
    // and how much of it is link text.
    let mut skipping = 0usize;
    let mut in_link = 0usize;
    let mut open_blocks: Vec<(usize, usize)> = Vec::new();
    for edge in document.tree.root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(e) if SKIP.contains(&e.name()) => skipping += 1,
                _ if skipping > 0 => {}
                Node::Text(text) => {
                    if in_link > 0 {
                        let chars = text.chars().filter(|c| !c.is_whitespace()).count();
                        for block in &mut open_blocks {
                            block.1 += chars;
                        }
                    }
                    out.push_str(&text.replace(['\n', '\r', '\t'], " "))
                }
                Node::Element(e) if e.name() == "a" => in_link += 1,
                Node::Element(e) if e.name() == "br" => out.push('\n'),
                Node::Element(e) if BLOCK.contains(&e.name()) || HEADINGS.contains(&e.name()) => {
                    out.push_str("\n\n");
                    open_blocks.push((out.len(), 0));
                    if HEADINGS.contains(&e.name()) {
                        out.push(HEADING_MARK);
                    }
                }
                _ => {}
            },
            Edge::Close(node) => match node.value() {
                Node::Element(e) if SKIP.contains(&e.name()) => skipping -= 1,
                _ if skipping > 0 => {}
                Node::Element(e) if e.name() == "a" => in_link = in_link.saturating_sub(1),
                Node::Element(e) if BLOCK.contains(&e.name()) || HEADINGS.contains(&e.name()) => {
                    if let Some((start, link_chars)) = open_blocks.pop() {
                        let chars = out[start..].chars().filter(|c| !c.is_whitespace()).count();
                        if chars > 0 && chars < LINK_BLOCK_CHARS && link_chars * 2 > chars {
                            // Mostly links: a menu, a tag cloud, "related posts".
                            out.truncate(start);
                        }
                    }
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
        if trimmed.starts_with('#') {
            out.push('\n');
            out.push(HEADING_MARK);
        }
        let line = trimmed.trim_start_matches('#').trim_start_matches('>');
        out.push_str(&link.replace_all(line, "$1"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

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
    fn html_keeps_text_and_drops_scripts_menus_and_link_lists() {
        let html = "<html><head><title>t</title><style>p{}</style></head><body>\
                    <nav><a href=/>Home</a> <a href=/n>News</a></nav>\
                    <script>var x = 'Never shown in any paragraph at all, ever, really';</script>\
                    <h2>A heading</h2>\
                    <p>First paragraph with <b>bold</b> text that is long enough to keep.</p>\
                    <ul><li><a href=/a>Related story one</a></li><li><a href=/b>Related story two</a></li></ul>\
                    <div>Second paragraph, with <a href=/c>one link</a>, also long enough to be kept.</div></body></html>";
        assert_eq!(
            lines(&html_text(html)),
            vec![
                format!("{HEADING_MARK}A heading"),
                "First paragraph with bold text that is long enough to keep.".into(),
                "Second paragraph, with one link, also long enough to be kept.".into(),
            ]
        );
    }

    #[test]
    fn markdown_markup_is_removed_and_headings_marked() {
        let md = "# Heading of the piece\n\nA paragraph with a [link](http://example.invalid) and **bold** words in it.\n\n```\ncode never shown\n```\n";
        assert_eq!(
            lines(&markdown_text(md)),
            vec![
                format!("{HEADING_MARK} Heading of the piece"),
                "A paragraph with a link and **bold** words in it.".into(),
            ]
        );
    }
}
