//! Embedding on many machines: `crossthemes embed --shard I/N` embeds the
//! paragraphs whose key falls in share I of N into a cache file of its own,
//! `<cache>.shard-I-of-N.sqlite` beside the main cache; the next plain run
//! absorbs every such file into the main cache and then clusters on one
//! machine as usual.
//!
//! A paragraph's share follows from its key (the sha256 of its text) alone,
//! so the shares do not depend on file order, machine or run, and every
//! shard reads the whole corpus (ingest drops text repeated across files,
//! which needs all files) but embeds only its own paragraphs.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::cache::{Absorbed, CacheError, EmbeddingCache};

/// One share of the paragraphs: `index` of `count`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parsed = s.split_once('/').and_then(|(i, n)| {
            Some((i.trim().parse::<u64>().ok()?, n.trim().parse::<u64>().ok()?))
        });
        match parsed {
            Some((index, count)) if (1..=count).contains(&index) => Ok(Shard { index, count }),
            _ => Err(format!(
                "expected I/N with 1 ≤ I ≤ N (share I of N, counted from 1), got {s:?}"
            )),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the paragraph with this key (hex sha256) is in this share.
    pub fn owns(&self, key: &str) -> bool {
        let head = key.get(..16).and_then(|h| u64::from_str_radix(h, 16).ok());
        head.unwrap_or(0) % self.count == self.index - 1
    }

    /// The shard's cache file beside the main cache `cache`.
    pub fn cache_path(&self, cache: &Path) -> PathBuf {
        let mut name = file_stem(cache);
        name.push_str(&format!(".shard-{}-of-{}.sqlite", self.index, self.count));
        cache.with_file_name(name)
    }
}

fn file_stem(cache: &Path) -> String {
    cache
        .file_stem()
        .map_or_else(|| "cache".into(), |s| s.to_string_lossy().into_owned())
}

/// Moves the vectors of finished `crossthemes embed --shard` runs made
/// with the model `model` into the main cache at `path`; a shard file is
/// removed once its vectors are committed, and one made with other model
/// settings is kept, with a warning. A shard still being written (or whose
/// run failed) is left as it is and refused, after the finished ones are
/// taken in: the run stops before it embeds or clusters anything.
pub fn absorb_waiting(
    cache: &mut EmbeddingCache,
    path: &Path,
    model: &str,
) -> Result<(), CacheError> {
    let shard_error = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CacheError::Shard { path, error }
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut unfinished = None;
    for file in waiting(path).map_err(shard_error(folder))? {
        match cache.absorb(&file, model)? {
            Absorbed::Unfinished => {
                unfinished.get_or_insert(file);
            }
            Absorbed::Taken { added, others: 0 } => {
                tracing::info!("took {added} new vectors from {}", file.display());
                std::fs::remove_file(&file).map_err(shard_error(&file))?;
            }
            Absorbed::Taken { added, others } => tracing::warn!(
                "{}: {others} vectors were made with other model settings (model, precision or \
                 --max-paragraph-tokens) and are not used; took {added}; the file is kept",
                file.display()
            ),
        }
    }
    match unfinished {
        Some(path) => Err(CacheError::ShardUnfinished {
            shard: shard_of(&path),
            path,
        }),
        None => Ok(()),
    }
}

/// `I/N` from a shard cache's name (`….shard-I-of-N.sqlite`).
fn shard_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.rsplit_once(".shard-")
        .and_then(|(_, tail)| tail.strip_suffix(".sqlite"))
        .and_then(|tail| tail.split_once("-of-"))
        .map_or_else(|| "I/N".into(), |(i, n)| format!("{i}/{n}"))
}

/// Opens (or creates) the shard cache at `path`, and its folder with it:
/// a shard may run before the job has ever made its output folder.
pub fn open_cache(path: &Path) -> Result<EmbeddingCache, CacheError> {
    if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|error| CacheError::Shard {
            path: folder.to_path_buf(),
            error,
        })?;
    }
    EmbeddingCache::open(path)
}

/// The shard cache files waiting beside the main cache `cache`, by name.
fn waiting(cache: &Path) -> std::io::Result<Vec<PathBuf>> {
    let prefix = format!("{}.shard-", file_stem(cache));
    let folder = match cache.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut found = Vec::new();
    match std::fs::read_dir(&folder) {
        Ok(entries) => {
            for entry in entries {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if name.starts_with(&prefix) && name.ends_with(".sqlite") && name.contains("-of-") {
                    found.push(folder.join(name));
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_keys_without_overlap() {
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("two".parse::<Shard>().is_err());
        let shards: Vec<Shard> = (1..=3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        for n in 0..300u64 {
            let key = format!(
                "{:016x}{}",
                n.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                "ab".repeat(24)
            );
            assert_eq!(shards.iter().filter(|s| s.owns(&key)).count(), 1);
        }
        let path = shards[1].cache_path(Path::new("out/cache.sqlite"));
        assert_eq!(path, Path::new("out/cache.shard-2-of-3.sqlite"));
        assert_eq!(shard_of(&path), "2/3");
    }
}
