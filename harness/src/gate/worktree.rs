//! The worktrees `gate --against` checks each side out into, and the sweep of those a killed
//! gate left behind.
//!
//! A worktree is removed when its owner is dropped, but an interrupted or killed gate runs no
//! destructors: its checkout stays under the temporary folder and in git's list, and the next
//! run would add two more. Each worktree's folder therefore records the process that made it,
//! and every gate run first removes the worktrees whose maker is gone (docs/gate.md#two-trees-alike).

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::base;

/// The prefix of each worktree's temporary folder: `<temporary folder>/arena-gate-XXXXXX/tree`.
const PREFIX: &str = "arena-gate-";
/// The checkout inside that folder.
const TREE: &str = "tree";
/// The file beside the checkout naming the process that made it.
const OWNER_FILE: &str = "owner.pid";

/// A worktree of one side, removed when dropped (its cargo output stays in the side's target
/// folder for the next run). Both sides' worktrees have the same shape,
/// `<temporary folder>/arena-gate-XXXXXX/tree`.
#[derive(Debug)]
pub struct Worktree {
    repo: PathBuf,
    dir: tempfile::TempDir,
}

impl Worktree {
    /// Checks `commit` out (detached) in a fresh folder, after sweeping the worktrees of gates
    /// that died.
    pub fn add(repo: &Path, commit: &str) -> Result<Self> {
        sweep_stale(repo);
        let dir = tempfile::Builder::new().prefix(PREFIX).tempdir()?;
        std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())?;
        let tree = dir.path().join(TREE);
        base::git(
            repo,
            &[
                "worktree",
                "add",
                "--detach",
                &tree.display().to_string(),
                commit,
            ],
        )?;
        Ok(Self {
            repo: repo.to_owned(),
            dir,
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join(TREE)
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        let tree = self.path().display().to_string();
        // The folder goes with the TempDir; this drops git's record of it.
        let _ = base::git(&self.repo, &["worktree", "remove", "--force", &tree]);
        let _ = base::git(&self.repo, &["worktree", "prune"]);
    }
}

/// Removes every gate worktree of `repo` whose maker is no longer running (its checkout, its
/// folder and git's record), and says so on stderr. Best effort: a worktree that cannot be
/// removed is left for the next run.
pub fn sweep_stale(repo: &Path) {
    let Ok(list) = base::git(repo, &["worktree", "list", "--porcelain"]) else {
        return;
    };
    for tree in stale(&list, crate::procfs::alive) {
        let shown = tree.display().to_string();
        let _ = base::git(repo, &["worktree", "remove", "--force", &shown]);
        if let Some(folder) = tree.parent() {
            let _ = std::fs::remove_dir_all(folder);
        }
        eprintln!("gate: removed {shown}, left by a gate that did not finish");
    }
    let _ = base::git(repo, &["worktree", "prune"]);
}

/// The gate worktrees in `git worktree list --porcelain` output whose maker `alive` says is
/// gone. A folder without an owner file is left alone: it is not known to be ours.
fn stale(porcelain: &str, alive: impl Fn(u32) -> bool) -> Vec<PathBuf> {
    porcelain
        .lines()
        .filter_map(|line| line.strip_prefix("worktree "))
        .map(PathBuf::from)
        .filter(|tree| is_gate_tree(tree))
        .filter(|tree| {
            let owner = tree.parent().map(|f| f.join(OWNER_FILE));
            let pid = owner
                .and_then(|f| std::fs::read_to_string(f).ok())
                .and_then(|text| text.trim().parse::<u32>().ok());
            pid.is_some_and(|pid| !alive(pid))
        })
        .collect()
}

fn is_gate_tree(tree: &Path) -> bool {
    tree.file_name().is_some_and(|n| n == TREE)
        && tree
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate_folder(parent: &Path, suffix: &str, owner: Option<&str>) -> PathBuf {
        let folder = parent.join(format!("{PREFIX}{suffix}"));
        std::fs::create_dir_all(folder.join(TREE)).unwrap();
        if let Some(pid) = owner {
            std::fs::write(folder.join(OWNER_FILE), pid).unwrap();
        }
        folder.join(TREE)
    }

    #[test]
    fn only_gate_worktrees_whose_maker_is_gone_are_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let dead = gate_folder(tmp.path(), "dead", Some("111"));
        let live = gate_folder(tmp.path(), "live", Some("222"));
        let unowned = gate_folder(tmp.path(), "unowned", None);
        let other = tmp.path().join("someone-else").join(TREE);
        let porcelain = [&dead, &live, &unowned, &other]
            .iter()
            .map(|t| format!("worktree {}\nHEAD abc\ndetached\n", t.display()))
            .collect::<Vec<_>>()
            .join("\n");
        let found = stale(&porcelain, |pid| pid == 222);
        assert_eq!(found, [dead]);
    }

    #[test]
    fn a_worktree_left_by_a_dead_gate_is_removed_and_a_live_ones_is_kept() {
        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| base::git(repo.path(), args).unwrap();
        git(&["init", "-q"]);
        git(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "root",
        ]);
        let kept = Worktree::add(repo.path(), "HEAD").unwrap();
        let left = Worktree::add(repo.path(), "HEAD").unwrap();
        let left_path = left.path();
        // A gate killed before its destructors ran: its folder stays, its maker is gone.
        let left_dir = left.dir.path().to_owned();
        std::mem::forget(left);
        std::fs::write(left_dir.join(OWNER_FILE), u32::MAX.to_string()).unwrap();

        sweep_stale(repo.path());
        let list = git(&["worktree", "list", "--porcelain"]);
        assert!(!left_dir.exists(), "the dead gate's folder is gone");
        assert!(!list.contains(&left_path.display().to_string()), "{list}");
        assert!(kept.path().is_dir(), "the live gate's checkout stays");
        assert!(list.contains(&kept.path().display().to_string()), "{list}");
    }
}
