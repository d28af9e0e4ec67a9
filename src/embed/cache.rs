//! The embedding cache: an SQLite file (bundled SQLite) that maps a model's
//! identity and a paragraph's key (the sha256 of its text) to the vector the
//! model produced, and remembers the day each paragraph was first seen.
//!
//! The model identity covers the prompt the model puts before a text, since
//! the prompt comes from the model directory whose hashes make the identity.
//!
//! Writes go in transactions, so a run killed at any point leaves a cache the
//! next run opens and uses. A file that is not a crossthemes cache (corrupt,
//! or some other database) is set aside with a warning and rebuilt; vectors
//! that do not look like unit vectors of the right size are not trusted.

use std::path::{Path, PathBuf};

use ndarray::{ArrayViewMut1, ArrayViewMut2};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Classified, Fault, Setting};

const APPLICATION: &str = "crossthemes";
const SCHEMA_VERSION: &str = "3";
/// Schema 2 lacked the token count of each vector's text: its vectors are
/// kept, for the settings that made them only.
const SCHEMA_WITHOUT_TOKENS: &str = "2";
/// Schema 1 keyed vectors by the hash of prompt + text; its first sightings
/// are kept, its vectors dropped (they are embedded again once).
const SCHEMA_KEYED_BY_MODEL_INPUT: &str = "1";

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// SQLite failed on the cache file.
    #[error("cache {path}: {error}")]
    Sqlite {
        /// The cache file.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// Another process kept the cache busy for longer than the wait.
    #[error(
        "cache {path} is busy (another process is writing it); try again when it has finished"
    )]
    Busy {
        /// The cache file.
        path: PathBuf,
    },
    /// `--cache` names a folder.
    #[error("{path} is a folder; give the path of a file (it is created if missing)")]
    NotAFile {
        /// The folder.
        path: PathBuf,
    },
    /// An existing file that is not a crossthemes cache (an article,
    /// another program's database): never renamed, never written.
    #[error("{path} is not a crossthemes cache ({why}); give the path of a new file or of a cache, or move that file")]
    NotACache {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        why: String,
    },
    /// The cache cannot be written (read-only file or folder).
    #[error("{path} cannot be written ({error}); make it writable or give another path")]
    ReadOnly {
        /// The cache file.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// A file named like a shard cache is not one.
    #[error("{path} is named like a shard cache but is not a crossthemes cache; move it out of the cache's folder")]
    NotAShardCache {
        /// The file.
        path: PathBuf,
    },
    /// A shard cache beside the cache is still being written, or its run
    /// failed: clustering now would embed its paragraphs a second time
    /// here, or race the shard for them.
    #[error(
        "{path}: shard {shard} has not finished (still being written, or its run failed); \
         nothing was clustered. Wait for it, run it again (`crossthemes embed --shard {shard}`, \
         which keeps what it finished), or delete the file to embed its paragraphs in this run"
    )]
    ShardUnfinished {
        /// The shard cache.
        path: PathBuf,
        /// Which share it holds, `I/N`.
        shard: String,
    },
    /// A shard cache beside the cache could not be listed or removed.
    #[error("{path}: {error} (a shard cache or its folder)")]
    Shard {
        /// The shard cache, or the folder searched.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// An unusable cache file could not be renamed out of the way.
    #[error("cache {path}: cannot set the unreadable file aside: {error}")]
    SetAside {
        /// The cache file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
}

impl Classified for CacheError {
    fn fault(&self) -> Fault {
        match self {
            CacheError::Busy { .. } | CacheError::ShardUnfinished { .. } => Fault::Busy,
            CacheError::NotAFile { .. }
            | CacheError::NotACache { .. }
            | CacheError::ReadOnly { .. } => Fault::Usage(Some(Setting::Cache)),
            CacheError::NotAShardCache { .. } => Fault::Usage(None),
            CacheError::Sqlite { .. } | CacheError::Shard { .. } | CacheError::SetAside { .. } => {
                Fault::Failure
            }
        }
    }
}

/// What a merge found in a shard cache.
#[derive(Debug, PartialEq, Eq)]
pub enum Absorbed {
    /// A finished shard: `added` vectors of this model were new here, and
    /// `others` were made with other model settings (and not taken).
    Taken {
        /// Vectors of this model that the cache lacked.
        added: usize,
        /// Vectors of other model settings.
        others: usize,
    },
    /// A shard still being written, or one whose run failed.
    Unfinished,
}

/// An open embedding cache.
pub struct EmbeddingCache {
    conn: Connection,
    path: PathBuf,
    /// The models the cache held vectors of when first asked: what other
    /// token limits made is read once a run, not on every lookup.
    models: std::cell::OnceCell<Vec<String>>,
}

/// Why an existing file cannot serve as the cache.
enum Unusable {
    /// A corrupt cache, or one of another version: set aside and start anew.
    Foreign(String),
    /// Some other program's database: refused and left as it is.
    NotOurs(String),
    /// A sound cache that cannot be used now (busy, unreadable): an error,
    /// and the file is left as it is.
    Failed(rusqlite::Error),
}

fn failed(error: rusqlite::Error) -> Unusable {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match error.sqlite_error_code() {
        Some(DatabaseCorrupt | NotADatabase) => Unusable::Foreign(error.to_string()),
        _ => Unusable::Failed(error),
    }
}

impl EmbeddingCache {
    /// Opens (or creates) the cache at `path`. A file proven corrupt or
    /// foreign is renamed to `<name>.broken-<unix time>` with a warning and
    /// a new cache is started; a cache that is busy past the wait, or
    /// cannot be read, is an error and stays as it is.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        if path.is_dir() {
            return Err(CacheError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        if let Some(why) = plainly_not_a_cache(path) {
            return Err(CacheError::NotACache {
                path: path.to_path_buf(),
                why,
            });
        }
        let reason = match Self::open_checked(path) {
            Ok(cache) => return cache.writable(),
            Err(Unusable::Failed(error)) => return Err(Self::failure(path, error)),
            Err(Unusable::NotOurs(why)) => {
                return Err(CacheError::NotACache {
                    path: path.to_path_buf(),
                    why,
                })
            }
            Err(Unusable::Foreign(reason)) => reason,
        };
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let aside = PathBuf::from(format!("{}.broken-{stamp}", path.display()));
        std::fs::rename(path, &aside).map_err(|error| CacheError::SetAside {
            path: path.to_path_buf(),
            error,
        })?;
        for suffix in ["-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        tracing::warn!(
            "cache {} is not usable ({reason}); set it aside as {} and starting a new one",
            path.display(),
            aside.display()
        );
        let cache = Self::open_checked(path).map_err(|unusable| match unusable {
            Unusable::Failed(error) => Self::failure(path, error),
            Unusable::Foreign(reason) | Unusable::NotOurs(reason) => CacheError::Sqlite {
                path: path.to_path_buf(),
                error: rusqlite::Error::InvalidParameterName(reason),
            },
        })?;
        cache.writable()
    }

    /// The cache, once proven writable: a read-only one is refused before
    /// any paragraph is embedded, not after.
    fn writable(self) -> Result<Self, CacheError> {
        match self.conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;") {
            Ok(()) => Ok(self),
            Err(error) if error.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly) => {
                Err(CacheError::ReadOnly {
                    path: self.path.clone(),
                    error,
                })
            }
            Err(error) => Err(Self::failure(&self.path, error)),
        }
    }

    fn failure(path: &Path, error: rusqlite::Error) -> CacheError {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
        match error.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => CacheError::Busy {
                path: path.to_path_buf(),
            },
            _ => CacheError::Sqlite {
                path: path.to_path_buf(),
                error,
            },
        }
    }

    fn open_checked(path: &Path) -> Result<Self, Unusable> {
        let existed = std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        let conn = Connection::open(path).map_err(failed)?;
        // Another process writing the cache holds it for moments at a time.
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(failed)?;
        if existed {
            Self::check(&conn)?;
        } else {
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE embeddings(
                     model TEXT NOT NULL, text_sha256 TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL,
                     whole_tokens INTEGER,
                     PRIMARY KEY (model, text_sha256)) WITHOUT ROWID;
                 CREATE TABLE paragraphs_seen(text_sha256 TEXT PRIMARY KEY, first_seen TEXT NOT NULL) WITHOUT ROWID;
                 COMMIT;",
            )
            .map_err(failed)?;
            conn.execute(
                "INSERT INTO meta VALUES ('application', ?1), ('schema', ?2)",
                params![APPLICATION, SCHEMA_VERSION],
            )
            .map_err(failed)?;
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            models: std::cell::OnceCell::new(),
        })
    }

    /// Proves an existing file is a sound crossthemes cache of this
    /// version, bringing one of schema 1 up to date.
    fn check(conn: &Connection) -> Result<(), Unusable> {
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(failed)?;
        if check != "ok" {
            return Err(Unusable::Foreign(format!("integrity check: {check}")));
        }
        let has_meta: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get(0),
            )
            .map_err(failed)?;
        if has_meta == 0 {
            return Err(Unusable::NotOurs(
                "another program's SQLite database".into(),
            ));
        }
        let value = |key: &str| -> Result<Option<String>, Unusable> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(failed)
        };
        if value("application")?.as_deref() != Some(APPLICATION) {
            return Err(Unusable::NotOurs(
                "another program's SQLite database".into(),
            ));
        }
        match value("schema")?.as_deref() {
            Some(SCHEMA_VERSION) => Ok(()),
            Some(SCHEMA_WITHOUT_TOKENS) => conn
                .execute_batch(
                    "BEGIN;
                     ALTER TABLE embeddings ADD COLUMN whole_tokens INTEGER;
                     UPDATE meta SET value = '3' WHERE key = 'schema';
                     COMMIT;",
                )
                .map_err(failed),
            Some(SCHEMA_KEYED_BY_MODEL_INPUT) => conn
                .execute_batch(
                    "BEGIN;
                     DELETE FROM embeddings;
                     ALTER TABLE embeddings ADD COLUMN whole_tokens INTEGER;
                     UPDATE meta SET value = '3' WHERE key = 'schema';
                     COMMIT;",
                )
                .map_err(failed),
            _ => Err(Unusable::Foreign(
                "not a crossthemes cache of this version".into(),
            )),
        }
    }

    fn sqlite(&self, error: rusqlite::Error) -> CacheError {
        CacheError::Sqlite {
            path: self.path.clone(),
            error,
        }
    }

    /// Marks this (shard) cache finished or not: a merge takes only
    /// finished shards, so one still being written is left alone.
    pub fn mark_finished(&mut self, finished: bool) -> Result<(), CacheError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta VALUES ('finished', ?1)",
                params![if finished { "1" } else { "0" }],
            )
            .map(|_| ())
            .map_err(|e| self.sqlite(e))
    }

    /// Copies the vectors of `model` in the shard cache at `shard` that this
    /// cache lacks into it, in one transaction, if the shard is finished.
    /// The shard file itself is left as it is.
    pub fn absorb(&mut self, shard: &Path, model: &str) -> Result<Absorbed, CacheError> {
        let failed = |error| CacheError::Sqlite {
            path: shard.to_path_buf(),
            error,
        };
        let shard_text = shard.to_string_lossy().into_owned();
        self.conn
            .execute("ATTACH DATABASE ?1 AS shard", params![shard_text])
            .map_err(failed)?;
        let copied = self.absorb_attached(model);
        let detached = self.conn.execute("DETACH DATABASE shard", []);
        let copied = copied.map_err(|e| match e {
            // A file that is no SQLite database at all.
            rusqlite::Error::SqliteFailure(..) => CacheError::NotAShardCache {
                path: shard.to_path_buf(),
            },
            other => failed(other),
        })?;
        detached.map_err(failed)?;
        copied.ok_or_else(|| CacheError::NotAShardCache {
            path: shard.to_path_buf(),
        })
    }

    /// [`absorb`](Self::absorb) on the shard attached as `shard`; `None`
    /// where it is not a crossthemes cache.
    fn absorb_attached(&mut self, model: &str) -> rusqlite::Result<Option<Absorbed>> {
        let meta = |key: &str| -> rusqlite::Result<Option<String>> {
            self.conn
                .query_row("SELECT value FROM shard.meta WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()
        };
        if meta("application")?.as_deref() != Some(APPLICATION) {
            return Ok(None);
        }
        if meta("finished")?.as_deref() != Some("1") {
            return Ok(Some(Absorbed::Unfinished));
        }
        let count = |condition: &str| -> rusqlite::Result<usize> {
            self.conn.query_row(
                &format!("SELECT count(*) FROM shard.embeddings WHERE {condition}"),
                [model],
                |r| r.get(0),
            )
        };
        let whole_tokens = match meta("schema")?.as_deref() {
            Some(SCHEMA_VERSION) => "whole_tokens",
            Some(SCHEMA_WITHOUT_TOKENS) => "NULL",
            // Vectors keyed another way: none of them can be taken.
            _ => {
                let others = count("1")?;
                return Ok(Some(Absorbed::Taken { added: 0, others }));
            }
        };
        let others = count("model != ?1")?;
        let added = self.conn.execute(
            &format!(
                "INSERT OR IGNORE INTO main.embeddings \
                 SELECT model, text_sha256, dim, vector, {whole_tokens} \
                 FROM shard.embeddings WHERE model = ?1"
            ),
            [model],
        )?;
        Ok(Some(Absorbed::Taken { added, others }))
    }

    /// Writes the cached vector of each key, where there is a sound one of
    /// the rows' length, into that key's row of `rows`, straight from the
    /// database: no second copy of a large corpus's vectors is made. Returns
    /// which keys were found; the other rows are left as they were.
    pub fn lookup_into(
        &self,
        model: &str,
        keys: &[&str],
        mut rows: ArrayViewMut2<f32>,
    ) -> Result<Vec<bool>, CacheError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT dim, vector FROM embeddings WHERE model = ?1 AND text_sha256 = ?2",
            )
            .map_err(|e| self.sqlite(e))?;
        let mut untrusted = 0;
        let found = keys
            .iter()
            .zip(rows.rows_mut())
            .map(|(key, row)| {
                let stored = statement
                    .query_row(params![model, key], |r| {
                        Ok(decode_vector((r.get_ref(0)?, r.get_ref(1)?), row))
                    })
                    .optional()
                    .map_err(|e| self.sqlite(e))?;
                untrusted += usize::from(stored == Some(false));
                Ok(stored == Some(true))
            })
            .collect::<Result<Vec<bool>, CacheError>>()?;
        if untrusted > 0 {
            tracing::warn!(
                "cache {}: {untrusted} stored vectors are malformed (not finite, not unit \
                 length, or of another size); they are embedded again",
                self.path.display()
            );
        }
        Ok(found)
    }

    /// For each key not yet `found`, a vector that another token limit of
    /// the same `family` made of a text it read whole, if that text is no
    /// longer than `max_tokens`: the model read it whole here too, so the
    /// vector is the same. Marks what it writes into `rows` in `found` and
    /// returns how many.
    pub fn lookup_whole_into(
        &self,
        family: &str,
        max_tokens: usize,
        keys: &[&str],
        mut rows: ArrayViewMut2<f32>,
        found: &mut [bool],
    ) -> Result<usize, CacheError> {
        // A scan of the keys, done once and only when some vectors are
        // missing, which costs far less than embedding them. Models stored
        // later in the run are this run's own, found by the exact lookup.
        if self.models.get().is_none() {
            let models: Vec<String> = self
                .conn
                .prepare("SELECT DISTINCT model FROM embeddings")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(|e| self.sqlite(e))?;
            let _ = self.models.set(models);
        }
        let siblings: Vec<&String> = self
            .models
            .get()
            .expect("set just above")
            .iter()
            .filter(|model| same_family(family, model))
            .collect();
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT dim, vector FROM embeddings \
                 WHERE model = ?1 AND text_sha256 = ?2 AND whole_tokens <= ?3",
            )
            .map_err(|e| self.sqlite(e))?;
        let mut taken = 0;
        for ((key, row), found) in keys.iter().zip(rows.rows_mut()).zip(found.iter_mut()) {
            let mut row = row;
            for model in &siblings {
                if *found {
                    break;
                }
                *found = statement
                    .query_row(params![model, key, max_tokens as i64], |r| {
                        Ok(decode_vector(
                            (r.get_ref(0)?, r.get_ref(1)?),
                            row.view_mut(),
                        ))
                    })
                    .optional()
                    .map_err(|e| self.sqlite(e))?
                    == Some(true);
                taken += usize::from(*found);
            }
        }
        Ok(taken)
    }

    /// Stores vectors under paragraph keys, all in one transaction, each
    /// with the token count of its text where the model read it whole
    /// (`None` for a text cut short).
    pub fn store(&mut self, model: &str, items: &[Stored]) -> Result<(), CacheError> {
        let tx = self.conn.transaction().map_err(|e| CacheError::Sqlite {
            path: self.path.clone(),
            error: e,
        })?;
        {
            let mut insert = tx
                .prepare_cached("INSERT OR REPLACE INTO embeddings VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(|e| CacheError::Sqlite {
                    path: self.path.clone(),
                    error: e,
                })?;
            for item in items {
                let blob: Vec<u8> = item.vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                let whole_tokens = item.whole_tokens.map(|n| n as i64);
                insert
                    .execute(params![
                        model,
                        item.key,
                        item.vector.len() as i64,
                        blob,
                        whole_tokens
                    ])
                    .map_err(|e| CacheError::Sqlite {
                        path: self.path.clone(),
                        error: e,
                    })?;
            }
        }
        tx.commit().map_err(|e| self.sqlite(e))
    }

    /// The day each paragraph key was first seen, or None for one never seen.
    pub fn first_seen(&self, keys: &[&str]) -> Result<Vec<Option<String>>, CacheError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT first_seen FROM paragraphs_seen WHERE text_sha256 = ?1")
            .map_err(|e| self.sqlite(e))?;
        keys.iter()
            .map(|key| {
                statement
                    .query_row(params![key], |r| r.get(0))
                    .optional()
                    .map_err(|e| self.sqlite(e))
            })
            .collect()
    }

    /// Records each (key, day) as that paragraph's first sighting, where
    /// the key has none yet.
    pub fn mark_seen(&mut self, days: &[(&str, &str)]) -> Result<(), CacheError> {
        let path = self.path.clone();
        let fail = |error| CacheError::Sqlite {
            path: path.clone(),
            error,
        };
        let tx = self.conn.transaction().map_err(fail)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT OR IGNORE INTO paragraphs_seen VALUES (?1, ?2)")
                .map_err(fail)?;
            for (key, day) in days {
                insert.execute(params![key, day]).map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }
}

/// Why an existing file plainly is no cache: it is not an SQLite database
/// and its name does not say it is meant to be one (`.sqlite`, `.sqlite3`,
/// `.db`: a damaged cache of that name is set aside instead).
fn plainly_not_a_cache(path: &Path) -> Option<String> {
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path).ok()?;
    let read = std::io::Read::read(&mut file, &mut head).ok()?;
    let named_as_cache = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["sqlite", "sqlite3", "db"].contains(&e.to_ascii_lowercase().as_str()));
    (read > 0 && &head[..read] != SQLITE_HEADER && !named_as_cache)
        .then(|| "it is not an SQLite database".to_string())
}

/// One vector to store: its key, the vector, and the token count of its
/// text where the model read the text whole.
pub struct Stored<'a> {
    /// The text's key.
    pub key: &'a str,
    /// The unit vector.
    pub vector: &'a [f32],
    /// Tokens of the text, prompt included; `None` where it was cut.
    pub whole_tokens: Option<usize>,
}

/// Whether `model` is `family` under some token limit: the family itself
/// (the default limit) or the family with a `+max<N>tokens` suffix.
fn same_family(family: &str, model: &str) -> bool {
    match model.strip_prefix(family) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix("+max")
            .and_then(|r| r.strip_suffix("tokens"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

/// Writes a stored vector into `row` when it is a blob of the row's length
/// of finite numbers with unit norm; anything else (NaN, text, another
/// size) is not trusted, and `row` is left as it was.
fn decode_vector(stored: (ValueRef, ValueRef), mut row: ArrayViewMut1<f32>) -> bool {
    let dim = row.len();
    let (Ok(stored_dim), Ok(blob)) = (stored.0.as_i64(), stored.1.as_blob()) else {
        return false;
    };
    if stored_dim != dim as i64 || blob.len() != dim * 4 {
        return false;
    }
    let value = |b: &[u8]| f32::from_le_bytes(b.try_into().expect("4 bytes"));
    let norm = blob
        .chunks_exact(4)
        .map(|b| value(b) * value(b))
        .sum::<f32>()
        .sqrt();
    // Written so that a NaN anywhere fails it.
    let unit = (norm - 1.0).abs() < 1e-3;
    if !unit {
        return false;
    }
    for (x, b) in row.iter_mut().zip(blob.chunks_exact(4)) {
        *x = value(b);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each key's cached vector of length `dim`, where there is one.
    fn lookup(
        cache: &EmbeddingCache,
        model: &str,
        keys: &[&str],
        dim: usize,
    ) -> Vec<Option<Vec<f32>>> {
        let mut rows = ndarray::Array2::zeros((keys.len(), dim));
        let found = cache.lookup_into(model, keys, rows.view_mut()).unwrap();
        found
            .into_iter()
            .zip(rows.rows())
            .map(|(found, row)| found.then(|| row.to_vec()))
            .collect()
    }

    fn unit(dim: usize, hot: usize) -> Vec<f32> {
        (0..dim).map(|i| if i == hot { 1.0 } else { 0.0 }).collect()
    }

    fn stored<'a>(key: &'a str, vector: &'a [f32], whole_tokens: Option<usize>) -> Stored<'a> {
        Stored {
            key,
            vector,
            whole_tokens,
        }
    }

    #[test]
    fn a_text_read_whole_is_found_under_another_token_limit_that_reads_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = EmbeddingCache::open(&dir.path().join("c.sqlite")).unwrap();
        let (short, long) = (unit(2, 0), unit(2, 1));
        cache
            .store(
                "w+max300tokens",
                &[
                    stored("short", &short, Some(40)),
                    stored("long", &long, None),
                ],
            )
            .unwrap();
        cache
            .store("w+bf16", &[stored("other", &short, Some(5))])
            .unwrap();
        let keys = ["short", "long", "other"];
        let whole = |family: &str, max_tokens: usize| {
            let mut rows = ndarray::Array2::zeros((3, 2));
            let mut found = vec![false; 3];
            let taken = cache
                .lookup_whole_into(family, max_tokens, &keys, rows.view_mut(), &mut found)
                .unwrap();
            assert_eq!(taken, found.iter().filter(|&&f| f).count());
            found
        };
        assert_eq!(
            whole("w", 512),
            [true, false, false],
            "cut text, other family"
        );
        assert_eq!(whole("w", 40), [true, false, false]);
        assert_eq!(whole("w", 39), [false, false, false], "it would be cut now");
        assert_eq!(whole("w+bf16", 512), [false, false, true]);
        assert_eq!(whole("v", 512), [false, false, false]);
        assert!(same_family("w", "w+max7tokens"));
        assert!(!same_family("w", "w+bf16+max7tokens"));
        assert!(!same_family("w", "w+maxtokens"));
    }

    /// A cache as schemas 1 and 2 laid it out, with one vector of model
    /// "w" under key "k", first seen on 2026-01-01.
    fn write_cache_without_tokens(path: &Path, schema: &str) {
        Connection::open(path)
            .unwrap()
            .execute_batch(&format!(
                "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('application', 'crossthemes'), ('schema', '{schema}');
                 CREATE TABLE embeddings(
                     model TEXT NOT NULL, text_sha256 TEXT NOT NULL, dim INTEGER NOT NULL,
                     vector BLOB NOT NULL, PRIMARY KEY (model, text_sha256)) WITHOUT ROWID;
                 CREATE TABLE paragraphs_seen(
                     text_sha256 TEXT PRIMARY KEY, first_seen TEXT NOT NULL) WITHOUT ROWID;
                 INSERT INTO embeddings VALUES ('w', 'k', 2, x'0000803f00000000');
                 INSERT INTO paragraphs_seen VALUES ('k', '2026-01-01');"
            ))
            .unwrap();
    }

    #[test]
    fn a_cache_of_schema_2_keeps_its_vectors_for_their_own_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        write_cache_without_tokens(&path, "2");
        let cache = EmbeddingCache::open(&path).unwrap();
        assert_eq!(lookup(&cache, "w", &["k"], 2), vec![Some(unit(2, 0))]);
        let mut rows = ndarray::Array2::zeros((1, 2));
        let mut found = vec![false];
        let taken = cache
            .lookup_whole_into("w", 100, &["k"], rows.view_mut(), &mut found)
            .unwrap();
        assert_eq!(taken, 0, "its token count is unknown");
    }

    #[test]
    fn stores_and_finds_vectors_per_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let mut cache = EmbeddingCache::open(&path).unwrap();
        let v = unit(4, 2);
        cache.store("m1", &[stored("key-a", &v, Some(3))]).unwrap();
        drop(cache);
        let cache = EmbeddingCache::open(&path).unwrap();
        let found = lookup(&cache, "m1", &["key-a", "key-b"], 4);
        assert_eq!(found, vec![Some(v), None]);
        assert_eq!(lookup(&cache, "m2", &["key-a"], 4), vec![None]);
        assert_eq!(
            lookup(&cache, "m1", &["key-a"], 8),
            vec![None],
            "wrong size is a miss"
        );
    }

    #[test]
    fn first_sightings_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = EmbeddingCache::open(&dir.path().join("c.sqlite")).unwrap();
        cache.mark_seen(&[("a", "2026-01-01")]).unwrap();
        cache
            .mark_seen(&[("a", "2026-02-02"), ("b", "2026-02-02")])
            .unwrap();
        assert_eq!(
            cache.first_seen(&["a", "b", "c"]).unwrap(),
            vec![Some("2026-01-01".into()), Some("2026-02-02".into()), None]
        );
    }

    #[test]
    fn a_cache_of_schema_1_keeps_its_sightings_and_drops_its_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        write_cache_without_tokens(&path, "1");
        let cache = EmbeddingCache::open(&path).unwrap();
        assert_eq!(lookup(&cache, "w", &["k"], 2), vec![None]);
        assert_eq!(
            cache.first_seen(&["k"]).unwrap(),
            vec![Some("2026-01-01".into())]
        );
    }

    #[test]
    fn a_corrupt_cache_is_set_aside_and_anything_else_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        std::fs::write(
            &path,
            b"this is not a database, just some bytes that happen to be here",
        )
        .unwrap();
        let mut cache = EmbeddingCache::open(&path).unwrap();
        cache.store("m", &[stored("x", &unit(2, 0), None)]).unwrap();
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("broken-"))
            .collect();
        assert_eq!(aside.len(), 1, "the corrupt file is kept for inspection");

        let foreign = dir.path().join("foreign.sqlite");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        let before = std::fs::read(&foreign).unwrap();
        let err = EmbeddingCache::open(&foreign).err().expect("refused");
        assert!(matches!(err, CacheError::NotACache { .. }), "{err}");
        assert_eq!(std::fs::read(&foreign).unwrap(), before);

        let article = dir.path().join("article.txt");
        std::fs::write(&article, "An article, not a cache.").unwrap();
        let err = EmbeddingCache::open(&article).err().expect("refused");
        assert!(err.to_string().contains("not an SQLite database"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&article).unwrap(),
            "An article, not a cache."
        );
    }
}
