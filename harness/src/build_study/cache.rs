//! `reports/build-cache.json`: build studies already measured, by backend and source hash, so
//! a later run of the same sources reuses them instead of spending minutes on a clean build.
//! Ignored by git like every generated file under `reports/`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use contract::results::BuildResult;
use serde::{Deserialize, Serialize};

pub const CACHE_FILE: &str = "build-cache.json";
/// Entries kept, newest first: a few source versions of every backend.
const MAX_ENTRIES: usize = 40;

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    backend: String,
    /// The study's figures; `clean_build` holds the source hash and where it was measured.
    figures: BuildResult,
}

/// The cache file under a reports folder.
#[derive(Debug, Clone)]
pub struct BuildCache {
    path: PathBuf,
}

impl BuildCache {
    pub fn new(reports: &Path) -> Self {
        Self {
            path: reports.join(CACHE_FILE),
        }
    }

    /// The study of `backend` measured for exactly `source_hash`, if any.
    pub fn find(&self, backend: &str, source_hash: &str) -> Option<BuildResult> {
        self.load()
            .entries
            .into_iter()
            .find(|e| {
                e.backend == backend
                    && e.figures
                        .clean_build
                        .as_ref()
                        .is_some_and(|c| c.source_hash == source_hash)
            })
            .map(|e| e.figures)
    }

    /// Keeps `figures` (which must carry `clean_build`) for `backend`, replacing an entry of the
    /// same source hash.
    pub fn store(&self, backend: &str, figures: &BuildResult) -> Result<()> {
        let hash = figures.clean_build.as_ref().map(|c| c.source_hash.clone());
        let mut file = self.load();
        file.entries.retain(|e| {
            e.backend != backend
                || e.figures.clean_build.as_ref().map(|c| &c.source_hash) != hash.as_ref()
        });
        file.entries.insert(
            0,
            Entry {
                backend: backend.to_owned(),
                figures: figures.clone(),
            },
        );
        file.entries.truncate(MAX_ENTRIES);
        crate::atomic::write_json(&self.path, &file)
    }

    /// A missing or unreadable cache is an empty one: the worst case is a build measured again.
    fn load(&self) -> CacheFile {
        std::fs::read(&self.path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }
}
