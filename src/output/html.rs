//! Text made safe for the HTML report: in its content and attributes, and
//! in the strings of its script.

use crate::error::is_bidi_control;

/// Escapes text for HTML content and attribute values. Explicit bidi
/// embeddings, overrides and isolates are dropped: a string from the input
/// (a file name, a paragraph) must not reorder the page around it.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// A JavaScript string literal that is inert inside a `<script>` element:
/// no `</script>`, no `<!--`, no line separators (and, as in [`escape`], no
/// bidi overrides).
pub fn script_string(text: &str) -> String {
    let json = serde_json::to_string(text).unwrap_or_default();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}
