//! How an error ends a run. Every error type of the library says which kind
//! of fault it is — a mistake the user can fix, a folder busy with another
//! run, or a failure — and, for a mistake in one setting, which setting. Its
//! message names what is wrong (a path, a value); the command line adds the
//! flag and picks the exit code, in one place.

/// What kind of fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A mistake in the input or the settings that the user can fix; with
    /// the setting it is in, where it is in one.
    Usage(Option<Setting>),
    /// The output folder or the cache is in use by another run: a
    /// scheduler can try again later.
    Busy,
    /// Anything else.
    Failure,
}

/// A setting of the job, as an error names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The article files or folders.
    Input,
    /// The output folder.
    Output,
    /// The embedding cache.
    Cache,
    /// The number of themes.
    K,
    /// The languages detection may choose from.
    Languages,
    /// The language of labels and keywords.
    LabelLanguage,
    /// Where the model runs.
    Device,
    /// What runs the model.
    Engine,
    /// The file of named themes.
    Themes,
}

/// An error that knows what kind of fault it is.
pub trait Classified {
    /// The kind of fault.
    fn fault(&self) -> Fault;
}

/// `text` safe to print on a terminal: control characters (escape
/// sequences) and bidirectional overrides, which a file name may hold, are
/// shown escaped.
pub fn shown(text: &str) -> String {
    let unsafe_char = |c: char| c.is_control() || is_bidi_control(c);
    if !text.chars().any(unsafe_char) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Whether `c` is an explicit bidi embedding, override or isolate: an
/// invisible character that reorders the text around it.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
