//! `reports/build-cache.json`: build studies already measured, by backend and source hash, so
//! a later run reuses them instead of spending minutes on a clean build: one of the same
//! sources first, else the newest of the same dependencies (`docs/cost.md#cache-and-reuse`).
//! Committed, so a fresh clone has the study of the sources it was committed with.

use std::path::{Path, PathBuf};

use anyhow::Result;
use contract::results::{BuildResult, CleanBuild};
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

    /// The study of `backend` measured for exactly these sources, else the newest one measured
    /// for the same dependencies, marked `sources_changed_since`; `None` when neither exists.
    pub fn find(
        &self,
        backend: &str,
        source_hash: &str,
        dependency_hash: &str,
    ) -> Option<BuildResult> {
        let entries: Vec<BuildResult> = self
            .load()
            .entries
            .into_iter()
            .filter(|e| e.backend == backend)
            .map(|e| e.figures)
            .collect();
        let measured_for = |f: &BuildResult, matches: &dyn Fn(&CleanBuild) -> bool| {
            f.clean_build.as_ref().is_some_and(matches)
        };
        if let Some(same) = entries
            .iter()
            .find(|f| measured_for(f, &|c| c.source_hash == source_hash))
        {
            return Some(same.clone());
        }
        let mut same_deps = entries.into_iter().find(|f| {
            measured_for(f, &|c| {
                c.dependency_hash.as_deref() == Some(dependency_hash)
            })
        })?;
        if let Some(c) = same_deps.clean_build.as_mut() {
            c.sources_changed_since = true;
        }
        Some(same_deps)
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
