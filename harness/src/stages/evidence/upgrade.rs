//! What the last major SDK upgrade cost each backend, from the repository's own history: the
//! commits that made it are listed in `config/upgrades.toml`, and each backend is charged the
//! lines they changed in its own folders (docs/report.md#maintainability).
//!
//! Read from git, not from a table someone typed: a reader can rerun `git show --numstat` on
//! the listed commits and recount.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use contract::results::{ChangedFile, UpgradeCost};
use serde::Deserialize;
use thiserror::Error;

/// The record of the last upgrade, relative to the repository root.
pub const UPGRADES_FILE: &str = "config/upgrades.toml";

#[derive(Debug, Error)]
pub enum UpgradeError {
    #[error("{UPGRADES_FILE}: {0}")]
    Read(std::io::Error),
    #[error("{UPGRADES_FILE} is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    #[error(
        "git could not show commit {commit} of {UPGRADES_FILE} ({why}); a shallow clone lacks \
         history: fetch it with `git fetch --unshallow`"
    )]
    Git { commit: String, why: String },
}

#[derive(Debug, Clone, Deserialize)]
pub struct Upgrades {
    pub upgrade: Upgrade,
}

/// One upgrade: what it was and the commits that made it.
#[derive(Debug, Clone, Deserialize)]
pub struct Upgrade {
    pub name: String,
    pub commits: Vec<String>,
}

/// One file a commit changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    pub added: u64,
    pub removed: u64,
}

/// Reads the record and every listed commit's changes, once for all backends.
pub fn load(root: &Path) -> Result<(Upgrade, Vec<Change>), UpgradeError> {
    let text = std::fs::read_to_string(root.join(UPGRADES_FILE)).map_err(UpgradeError::Read)?;
    let record: Upgrades = toml::from_str(&text)?;
    let mut changes = Vec::new();
    for commit in &record.upgrade.commits {
        changes.extend(numstat(root, commit)?);
    }
    Ok((record.upgrade, changes))
}

fn numstat(root: &Path, commit: &str) -> Result<Vec<Change>, UpgradeError> {
    let git_err = |why: String| UpgradeError::Git {
        commit: commit.to_owned(),
        why,
    };
    let out = Command::new("git")
        .args(["show", "--numstat", "--format=", commit])
        .current_dir(root)
        .output()
        .map_err(|e| git_err(e.to_string()))?;
    if !out.status.success() {
        return Err(git_err(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    Ok(parse_numstat(&String::from_utf8_lossy(&out.stdout)))
}

/// `added<TAB>removed<TAB>path` lines; a binary file (`-`) counts no lines.
fn parse_numstat(text: &str) -> Vec<Change> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let added = parts.next()?.parse().unwrap_or(0);
            let removed = parts.next()?.parse().unwrap_or(0);
            let path = PathBuf::from(parts.next()?);
            Some(Change {
                path,
                added,
                removed,
            })
        })
        .collect()
}

/// Files that are not code anyone wrote for the upgrade: lockfiles (npm rewrites them), built
/// bundles (`dist/`) and captured reference streams (`fixtures/`).
fn is_generated(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "package-lock.json")
        || path.iter().any(|c| c == "dist" || c == "fixtures")
}

/// The upgrade's cost to a backend whose own code lives in `folders` (relative to the root).
pub fn cost(upgrade: &Upgrade, changes: &[Change], folders: &BTreeSet<PathBuf>) -> UpgradeCost {
    let mut changed: Vec<ChangedFile> = Vec::new();
    for c in changes {
        let ours = folders.iter().any(|f| c.path.starts_with(f));
        if !ours || is_generated(&c.path) {
            continue;
        }
        let path = c.path.display().to_string();
        match changed.iter_mut().find(|f| f.path == path) {
            Some(f) => {
                f.added += c.added;
                f.removed += c.removed;
            }
            None => changed.push(ChangedFile {
                path,
                added: c.added,
                removed: c.removed,
            }),
        }
    }
    changed.sort_by(|a, b| a.path.cmp(&b.path));
    UpgradeCost {
        upgrade: upgrade.name.clone(),
        commits: upgrade.commits.clone(),
        files: u32::try_from(changed.len()).unwrap_or(u32::MAX),
        lines_added: changed.iter().map(|f| f.added).sum(),
        lines_removed: changed.iter().map(|f| f.removed).sum(),
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade() -> Upgrade {
        Upgrade {
            name: "v1 → v2".into(),
            commits: vec!["abc".into()],
        }
    }

    #[test]
    fn a_backend_is_charged_only_its_own_folders_and_never_generated_files() {
        let changes = parse_numstat(
            "2\t2\tbackends/sidecar/package.json\n\
             5\t3\tbackends/sidecar/src/chat.mjs\n\
             900\t800\tbackends/sidecar/package-lock.json\n\
             40\t40\tbackends/sidecar/dist/server.mjs\n\
             9\t9\tcontract/tests/fixtures/ai7/text.sse\n\
             1\t1\tweb/package.json\n\
             -\t-\tbackends/sidecar/logo.png\n",
        );
        let folders: BTreeSet<PathBuf> = ["backends/sidecar", "contract"]
            .into_iter()
            .map(PathBuf::from)
            .collect();
        let cost = cost(&upgrade(), &changes, &folders);
        let paths: Vec<&str> = cost.changed.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "backends/sidecar/logo.png",
                "backends/sidecar/package.json",
                "backends/sidecar/src/chat.mjs"
            ]
        );
        assert_eq!((cost.lines_added, cost.lines_removed), (7, 5));
    }

    #[test]
    fn a_file_two_commits_changed_is_one_file_with_both_counts() {
        let changes = parse_numstat("1\t0\tsrc/a.rs\n2\t3\tsrc/a.rs\n");
        let folders = BTreeSet::from([PathBuf::from("src")]);
        let cost = cost(&upgrade(), &changes, &folders);
        assert_eq!(cost.files, 1);
        assert_eq!((cost.lines_added, cost.lines_removed), (3, 3));
    }

    #[test]
    fn a_commit_git_does_not_have_says_how_to_get_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = numstat(dir.path(), "0123456789abcdef").unwrap_err();
        assert!(err.to_string().contains("0123456789abcdef"), "{err}");
    }
}
