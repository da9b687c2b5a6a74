//! Run folders: `reports/<run-id>/` holds one run's `results.json`, process logs and saved
//! streams, and `reports/latest` points at the newest run.
//!
//! `latest` is a relative symlink (`latest -> <run-id>`), swapped atomically (a new link
//! renamed over the old one): it needs no copying, always shows the run's current
//! `results.json` while later stages still write to it, and works on any fresh clone on Linux
//! or macOS, the platforms the arena runs on.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use contract::results::{Results, RunInfo};

use crate::run_info;

pub const RESULTS_FILE: &str = "results.json";
pub const LATEST: &str = "latest";

/// One run's folder and its results, kept in memory and written after every change.
#[derive(Debug)]
pub struct RunDir {
    pub path: PathBuf,
    pub results: Results,
}

impl RunDir {
    /// Creates `reports/<run-id>/` for a new run and points `latest` at it.
    pub fn create(reports: &Path, repo_root: &Path, profile: &str) -> Result<Self> {
        let mut run = run_info::collect(repo_root, profile);
        // Two runs started within the same second get distinct folders.
        let base = run.id.clone();
        let mut n = 1;
        while reports.join(&run.id).exists() {
            n += 1;
            run.id = format!("{base}-{n}");
        }
        let path = reports.join(&run.id);
        std::fs::create_dir_all(path.join("logs"))
            .with_context(|| format!("cannot create the run folder {}", path.display()))?;
        let dir = Self {
            path,
            results: Results::new(run),
        };
        dir.save()?;
        refresh_latest(reports, &dir.results.run.id)?;
        Ok(dir)
    }

    /// Reopens a run to add stages to it: `latest` or a run id.
    pub fn open(reports: &Path, id: &str) -> Result<Self> {
        let path = reports.join(id);
        let file = path.join(RESULTS_FILE);
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}; is `{id}` a run id?", file.display()))?;
        let results: Results = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a results file of this harness", file.display()))?;
        let path = path.canonicalize().unwrap_or(path);
        Ok(Self { path, results })
    }

    pub fn run(&self) -> &RunInfo {
        &self.results.run
    }

    /// Where a stage keeps its process logs.
    pub fn logs(&self, stage: &str) -> PathBuf {
        self.path.join("logs").join(stage)
    }

    /// A path inside the run folder, as results.json records it.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.path)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Writes results.json atomically (temp file + rename), so a reader never sees half a file.
    pub fn save(&self) -> Result<()> {
        crate::atomic::write_json(&self.path.join(RESULTS_FILE), &self.results)
    }
}

fn refresh_latest(reports: &Path, id: &str) -> Result<()> {
    let link = reports.join(LATEST);
    let tmp = reports.join(format!(".{LATEST}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(id, &tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    if link.is_dir() && !link.is_symlink() {
        // A copied `latest` folder from elsewhere: replace it with the link.
        std::fs::remove_dir_all(&link).ok();
    }
    std::fs::rename(&tmp, &link).with_context(|| format!("cannot update {}", link.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_run_and_points_latest_at_it() {
        let dir = tempfile::tempdir().unwrap();
        let reports = dir.path().join("reports");
        let run = RunDir::create(&reports, dir.path(), "debug").unwrap();
        assert!(run.path.join(RESULTS_FILE).is_file());
        let latest = std::fs::read_link(reports.join(LATEST)).unwrap();
        assert_eq!(latest, PathBuf::from(&run.results.run.id));
        let reopened = RunDir::open(&reports, LATEST).unwrap();
        assert_eq!(reopened.results, run.results);
        assert_eq!(run.relative(&run.path.join("logs/x")), "logs/x");
        assert!(RunDir::open(&reports, "no-such-run").is_err());
    }
}
