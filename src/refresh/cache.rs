//! The embedding cache: an SQLite file (bundled SQLite) that maps a model's
//! identity and the exact text given to it to the vector it produced, and
//! remembers the day each paragraph was first seen.
//!
//! Writes go in transactions, so a run killed at any point leaves a cache the
//! next run opens and uses. A file that is not a crossthemes cache (corrupt,
//! or some other database) is set aside with a warning and rebuilt; vectors
//! that do not look like unit vectors of the right size are not trusted.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

const APPLICATION: &str = "crossthemes";
const SCHEMA_VERSION: &str = "1";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cache {path}: cannot set the unreadable file aside: {source}")]
    SetAside {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct EmbeddingCache {
    conn: Connection,
    path: PathBuf,
}

/// The key of a text: sha256 of its exact bytes, hex.
pub fn text_key(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl EmbeddingCache {
    /// Opens (or creates) the cache at `path`; an unusable file is renamed to
    /// `<name>.broken-<unix time>` with a warning and a new cache is started.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        match Self::open_checked(path) {
            Ok(cache) => Ok(cache),
            Err(reason) => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let aside = PathBuf::from(format!("{}.broken-{stamp}", path.display()));
                std::fs::rename(path, &aside).map_err(|source| CacheError::SetAside {
                    path: path.to_path_buf(),
                    source,
                })?;
                for suffix in ["-journal", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                tracing::warn!(
                    "cache {} is not usable ({reason}); set it aside as {} and starting a new one",
                    path.display(),
                    aside.display()
                );
                Self::open_checked(path).map_err(|_| CacheError::Sqlite {
                    path: path.to_path_buf(),
                    source: rusqlite::Error::InvalidPath(path.to_path_buf()),
                })
            }
        }
    }

    fn open_checked(path: &Path) -> Result<Self, String> {
        let existed = path.exists();
        let conn = Connection::open(path).map_err(|e| e.to_string())?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        if existed {
            let check: String = conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(|e| e.to_string())?;
            if check != "ok" {
                return Err(format!("integrity check: {check}"));
            }
            let application: Option<String> = conn
                .query_row(
                    "SELECT value FROM meta WHERE key = 'application'",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|_| "not a crossthemes cache".to_string())?;
            let schema: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| e.to_string())?;
            if application.as_deref() != Some(APPLICATION)
                || schema.as_deref() != Some(SCHEMA_VERSION)
            {
                return Err("not a crossthemes cache of this version".into());
            }
        } else {
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE embeddings(
                     model TEXT NOT NULL, text_sha256 TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL,
                     PRIMARY KEY (model, text_sha256)) WITHOUT ROWID;
                 CREATE TABLE paragraphs_seen(text_sha256 TEXT PRIMARY KEY, first_seen TEXT NOT NULL) WITHOUT ROWID;
                 COMMIT;",
            )
            .map_err(|e| e.to_string())?;
            conn.execute(
                "INSERT INTO meta VALUES ('application', ?1), ('schema', ?2)",
                params![APPLICATION, SCHEMA_VERSION],
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn sqlite(&self, source: rusqlite::Error) -> CacheError {
        CacheError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The cached vector of each model input, where there is a sound one.
    pub fn lookup(
        &self,
        model: &str,
        inputs: &[String],
        dim: usize,
    ) -> Result<Vec<Option<Vec<f32>>>, CacheError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT dim, vector FROM embeddings WHERE model = ?1 AND text_sha256 = ?2",
            )
            .map_err(|e| self.sqlite(e))?;
        inputs
            .iter()
            .map(|input| {
                let row: Option<(i64, Vec<u8>)> = statement
                    .query_row(params![model, text_key(input)], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()
                    .map_err(|e| self.sqlite(e))?;
                Ok(row.and_then(|(stored_dim, blob)| decode_vector(stored_dim, &blob, dim)))
            })
            .collect()
    }

    /// Stores vectors for model inputs, all in one transaction.
    pub fn store(&mut self, model: &str, items: &[(&str, &[f32])]) -> Result<(), CacheError> {
        let tx = self.conn.transaction().map_err(|e| CacheError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        {
            let mut insert = tx
                .prepare_cached("INSERT OR REPLACE INTO embeddings VALUES (?1, ?2, ?3, ?4)")
                .map_err(|e| CacheError::Sqlite {
                    path: self.path.clone(),
                    source: e,
                })?;
            for (input, vector) in items {
                let blob: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                insert
                    .execute(params![model, text_key(input), vector.len() as i64, blob])
                    .map_err(|e| CacheError::Sqlite {
                        path: self.path.clone(),
                        source: e,
                    })?;
            }
        }
        tx.commit().map_err(|e| self.sqlite(e))
    }

    /// The day each text was first seen, or None for a text never seen.
    pub fn first_seen(&self, texts: &[&str]) -> Result<Vec<Option<String>>, CacheError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT first_seen FROM paragraphs_seen WHERE text_sha256 = ?1")
            .map_err(|e| self.sqlite(e))?;
        texts
            .iter()
            .map(|t| {
                statement
                    .query_row(params![text_key(t)], |r| r.get(0))
                    .optional()
                    .map_err(|e| self.sqlite(e))
            })
            .collect()
    }

    /// Records `day` as the first sighting of texts not seen before.
    pub fn mark_seen(&mut self, texts: &[&str], day: &str) -> Result<(), CacheError> {
        let path = self.path.clone();
        let fail = |source| CacheError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(fail)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT OR IGNORE INTO paragraphs_seen VALUES (?1, ?2)")
                .map_err(fail)?;
            for t in texts {
                insert.execute(params![text_key(t), day]).map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }
}

/// A stored vector is used only when it has the model's size and unit length.
fn decode_vector(stored_dim: i64, blob: &[u8], dim: usize) -> Option<Vec<f32>> {
    if stored_dim != dim as i64 || blob.len() != dim * 4 {
        return None;
    }
    let vector: Vec<f32> = blob
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
        .collect();
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    ((norm - 1.0).abs() < 1e-3).then_some(vector)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(dim: usize, hot: usize) -> Vec<f32> {
        (0..dim).map(|i| if i == hot { 1.0 } else { 0.0 }).collect()
    }

    #[test]
    fn stores_and_finds_vectors_per_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let mut cache = EmbeddingCache::open(&path).unwrap();
        let v = unit(4, 2);
        cache.store("m1", &[("passage: a", &v)]).unwrap();
        drop(cache);
        let cache = EmbeddingCache::open(&path).unwrap();
        let found = cache
            .lookup("m1", &["passage: a".into(), "passage: b".into()], 4)
            .unwrap();
        assert_eq!(found, vec![Some(v), None]);
        assert_eq!(
            cache.lookup("m2", &["passage: a".into()], 4).unwrap(),
            vec![None]
        );
        assert_eq!(
            cache.lookup("m1", &["passage: a".into()], 8).unwrap(),
            vec![None],
            "wrong size is a miss"
        );
    }

    #[test]
    fn first_sightings_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = EmbeddingCache::open(&dir.path().join("c.sqlite")).unwrap();
        cache.mark_seen(&["a"], "2026-01-01").unwrap();
        cache.mark_seen(&["a", "b"], "2026-02-02").unwrap();
        assert_eq!(
            cache.first_seen(&["a", "b", "c"]).unwrap(),
            vec![Some("2026-01-01".into()), Some("2026-02-02".into()), None]
        );
    }

    #[test]
    fn corrupt_and_foreign_files_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        std::fs::write(
            &path,
            b"this is not a database, just some bytes that happen to be here",
        )
        .unwrap();
        let mut cache = EmbeddingCache::open(&path).unwrap();
        cache.store("m", &[("x", &unit(2, 0))]).unwrap();
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
        assert!(EmbeddingCache::open(&foreign)
            .unwrap()
            .lookup("m", &["x".into()], 2)
            .unwrap()[0]
            .is_none());
    }
}
