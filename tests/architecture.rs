//! The house rules ARCHITECTURE.md states, checked on the source: imports
//! between rooms only point down the pipeline, files of one room do not
//! import each other in a loop, no function grows past 80 lines, and the
//! command line stays a thin layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The rooms of src/, lowest first: a room may use only rooms before it.
const ROOMS: [&str; 17] = [
    "error",
    "simd",
    "progress",
    "folder",
    "model",
    "given",
    "ingest",
    "language",
    "embed",
    "cluster",
    "describe",
    "themes",
    "run_record",
    "output",
    "job",
    "bench",
    "cli",
];

const LONGEST_FUNCTION: usize = 80;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.strip_prefix(src()).unwrap().to_path_buf(), text)
        })
        .collect()
}

/// The room a file of src/ belongs to: its folder, or its own name.
fn room(file: &Path) -> String {
    let first = file.components().next().unwrap().as_os_str();
    Path::new(first)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The names that follow `prefix::` in `text`, `prefix::{a, b::c}` included.
fn paths_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices(&format!("{prefix}::")) {
        let rest = &text[at + prefix.len() + 2..];
        let items: Vec<&str> = match rest.strip_prefix('{') {
            Some(inner) => inner[..inner.find('}').unwrap_or(inner.len())]
                .split(',')
                .collect(),
            None => vec![rest],
        };
        for item in items {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn rooms_import_only_rooms_below_them() {
    let rank = |name: &str| ROOMS.iter().position(|r| *r == name);
    let mut upward = Vec::new();
    for (file, text) in sources() {
        let own = room(&file);
        if own == "lib" || own == "main" {
            continue;
        }
        let own_rank = rank(&own).unwrap_or_else(|| panic!("{own} is not in ROOMS"));
        for used in paths_after(&text, "crate") {
            match rank(&used) {
                Some(r) if r > own_rank => upward.push(format!("{} uses {used}", file.display())),
                _ => {}
            }
        }
    }
    assert!(upward.is_empty(), "imports up the pipeline: {upward:#?}");
}

#[test]
fn files_of_a_room_import_each_other_without_a_loop() {
    let files = sources();
    // Sibling file → the siblings it names through `super::`.
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (file, text) in &files {
        if file.file_name().unwrap() == "mod.rs" {
            continue;
        }
        let folder = file.parent().unwrap();
        for name in paths_after(text, "super") {
            for sibling in [
                folder.join(format!("{name}.rs")),
                folder.join(&name).join("mod.rs"),
            ] {
                if &sibling != file && files.iter().any(|(f, _)| *f == sibling) {
                    edges.entry(file.clone()).or_default().insert(sibling);
                }
            }
        }
    }
    fn reaches(
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        from: &PathBuf,
        to: &PathBuf,
        seen: &mut BTreeSet<PathBuf>,
    ) -> bool {
        edges
            .get(from)
            .into_iter()
            .flatten()
            .any(|next| next == to || (seen.insert(next.clone()) && reaches(edges, next, to, seen)))
    }
    let loops: Vec<String> = edges
        .keys()
        .filter(|f| reaches(&edges, f, f, &mut BTreeSet::new()))
        .map(|f| f.display().to_string())
        .collect();
    assert!(loops.is_empty(), "files in an import loop: {loops:?}");
}

#[test]
fn no_function_is_longer_than_80_lines() {
    let mut long = Vec::new();
    for (file, text) in sources() {
        let lines: Vec<&str> = text.lines().collect();
        for (start, line) in lines.iter().enumerate() {
            let code = line.trim_start();
            let indent = &line[..line.len() - code.len()];
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
                "unsafe fn ",
            ]
            .iter()
            .any(|p| code.starts_with(p))
                && !code.ends_with(';');
            if !is_fn {
                continue;
            }
            let end = lines[start + 1..]
                .iter()
                .position(|l| l.starts_with(&format!("{indent}}}")) && l.trim().len() <= 2);
            if let Some(length) = end.map(|e| e + 2).filter(|&n| n > LONGEST_FUNCTION) {
                long.push(format!("{}:{} ({length} lines)", file.display(), start + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {LONGEST_FUNCTION} lines: {long:?}"
    );
}

#[test]
fn the_command_line_stays_thin() {
    let lines = std::fs::read_to_string(src().join("cli/mod.rs"))
        .unwrap()
        .lines()
        .count();
    assert!(lines < 400, "cli/mod.rs has {lines} lines");
    let main = std::fs::read_to_string(src().join("main.rs")).unwrap();
    assert!(main.lines().count() <= 5, "main.rs only calls cli::main");
}

/// The README stays a front door (the measurements live in
/// docs/benchmarks.md, the map of the code in ARCHITECTURE.md), and it
/// names every flag the binary takes.
#[test]
fn the_readme_is_short_and_names_every_flag() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 350, "README.md has {lines} lines");
    for doc in ["docs/benchmarks.md", "ARCHITECTURE.md"] {
        assert!(root.join(doc).is_file(), "{doc}");
    }
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_crossthemes"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let flags: BTreeSet<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches([',', '.', ']']))
        .filter(|w| !["--help", "--version"].contains(w))
        .collect();
    assert!(flags.len() > 10, "{flags:?}");
    let missing: Vec<&&str> = flags
        .iter()
        .filter(|f| !readme.contains(&format!("`{f}")))
        .collect();
    assert!(
        missing.is_empty(),
        "flags the README does not name: {missing:?}"
    );
}
