//! The two trees `harness gate --against` measures, prepared alike: each side (the base
//! revision, and the working tree's content as a commit of its own) is checked out in a fresh
//! worktree of the same shape under the system's temporary folder and built there with its own
//! manifests' steps, with its own `node_modules` and pinned runtime. The only difference left
//! between the sides is the revision (docs/gate.md#two-trees-alike).
//!
//! What makes the two builds cheap (docs/gate.md#what-the-builds-cost): every file of a tree
//! whose content is the working tree's gets the working tree's modification time, so cargo sees
//! the working tree's release output as up to date for every crate the revision did not change.
//! The head (the working tree's own content) then builds into the working tree's `target/`,
//! which `compare` has just built: nothing compiles. The base builds into a fresh copy of that
//! output: only the crates whose sources differ, and what depends on them, compile.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sut_kit::manifest::{self, Backend};

use super::base;
use super::worktree::Worktree;

/// Where a tree whose content is not the working tree's (the base) builds, under `target/`: a
/// copy of the working tree's release output made afresh by every gate, so that no output of
/// an earlier base can pass for this one's (docs/gate.md#what-the-builds-cost).
pub const BASE_TARGET_DIR: &str = "target/gate-base";

/// Which side of the comparison a tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Base,
    Head,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Base => "base",
            Side::Head => "head",
        }
    }
}

/// A revision checked out and built, ready to be measured any number of times.
#[derive(Debug)]
pub struct PreparedTree {
    pub commit: String,
    pub side: Side,
    worktree: Worktree,
    /// The tree's manifests of the backends built in it.
    pub backends: Vec<Backend>,
}

impl PreparedTree {
    /// Checks `commit` out and runs the build steps of `names` there; the logs go to `log_dir`.
    /// `content` is the working tree's content as a commit ([`snapshot`]): the files `commit`
    /// has alike take the working tree's modification times, and a tree of exactly that
    /// content builds into the working tree's own `target/`.
    pub async fn build(
        root: &Path,
        commit: &str,
        content: &str,
        side: Side,
        names: &[String],
        log_dir: &Path,
    ) -> Result<Self> {
        let worktree = Worktree::add(root, commit)?;
        let differing = differing_files(root, commit, content)?;
        carry_mtimes(root, &worktree.path(), &differing)?;
        let own_target = if commit == content {
            Target::WorkingTrees
        } else {
            Target::FreshCopy
        };
        let backends = build_tree(root, &worktree.path(), side, own_target, names, log_dir).await?;
        Ok(Self {
            commit: commit.to_owned(),
            side,
            worktree,
            backends,
        })
    }

    pub fn root(&self) -> PathBuf {
        self.worktree.path()
    }

    /// The tree's manifest of `name`.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.name() == name)
    }
}

/// The working tree's content (tracked files as they are now, and new files git does not
/// ignore) as a commit whose parent is HEAD, or HEAD itself when nothing differs: what the head
/// side checks out, so that it runs from a tree prepared exactly as the base's. The working
/// tree's index is left alone (a temporary one is used); the commit is on no branch.
pub fn snapshot(root: &Path) -> Result<String> {
    let index_dir = tempfile::Builder::new()
        .prefix("arena-gate-index-")
        .tempdir()?;
    let index = index_dir.path().join("index");
    let git = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .env("GIT_INDEX_FILE", &index)
            .env("GIT_AUTHOR_NAME", "harness gate")
            .env("GIT_AUTHOR_EMAIL", "gate@localhost")
            .env("GIT_COMMITTER_NAME", "harness gate")
            .env("GIT_COMMITTER_EMAIL", "gate@localhost")
            .output()
            .context("cannot run git")?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "--verify", "HEAD^{commit}"])?;
    git(&["read-tree", "HEAD"])?;
    git(&["add", "-A", "."])?;
    let tree = git(&["write-tree"])?;
    if tree == git(&["rev-parse", "HEAD^{tree}"])? {
        return Ok(head);
    }
    git(&[
        "commit-tree",
        &tree,
        "-p",
        &head,
        "-m",
        "the working tree, as gate --against measures it",
    ])
}

/// Where a tree's cargo output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The working tree's `target/`: the tree holds exactly the working tree's content, so the
    /// release output there is this tree's build.
    WorkingTrees,
    /// [`BASE_TARGET_DIR`], copied afresh from the working tree's release output.
    FreshCopy,
}

/// The files whose content differs between two commits (added, removed and renamed included).
pub fn differing_files(root: &Path, a: &str, b: &str) -> Result<BTreeSet<String>> {
    if a == b {
        return Ok(BTreeSet::new());
    }
    let out = base::git(root, &["diff", "--name-only", "--no-renames", "-z", a, b])?;
    Ok(out
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Gives every file of `tree` that is not in `differing` the modification time of the working
/// tree's file at the same path, when that is a regular file of the same size. A fresh
/// checkout's files are all newer than any build, so cargo would compile every workspace crate
/// again; with the working tree's times, a crate none of whose files differ is up to date
/// against the working tree's release output, while a differing file, written by the checkout,
/// is newer than any output and compiles again (docs/gate.md#what-the-builds-cost).
pub fn carry_mtimes(root: &Path, tree: &Path, differing: &BTreeSet<String>) -> Result<usize> {
    let listed = base::git(tree, &["ls-files", "-z"])?;
    let mut carried = 0;
    for file in listed.split('\0').filter(|f| !f.is_empty()) {
        if differing.contains(file) {
            continue;
        }
        let (ours, theirs) = (tree.join(file), root.join(file));
        let (Ok(a), Ok(b)) = (
            std::fs::symlink_metadata(&ours),
            std::fs::symlink_metadata(&theirs),
        ) else {
            continue;
        };
        if !a.is_file() || !b.is_file() || a.len() != b.len() {
            continue;
        }
        std::fs::File::options()
            .write(true)
            .open(&ours)
            .and_then(|f| f.set_modified(b.modified()?))
            .with_context(|| format!("setting the modification time of {}", ours.display()))?;
        carried += 1;
    }
    Ok(carried)
}

/// Points the worktree's `target/` at where its cargo output goes: the working tree's own, or
/// a fresh copy of the working tree's release output (`cp -a` keeps the modification times
/// cargo's freshness check compares).
fn share_target(root: &Path, tree: &Path, side: Side, target: Target) -> Result<()> {
    let linked = match target {
        Target::WorkingTrees => {
            std::fs::create_dir_all(root.join("target"))?;
            root.join("target")
        }
        Target::FreshCopy => {
            let kept = root.join(BASE_TARGET_DIR);
            if kept.exists() {
                std::fs::remove_dir_all(&kept)
                    .with_context(|| format!("removing the last gate's {BASE_TARGET_DIR}"))?;
            }
            std::fs::create_dir_all(&kept)?;
            let seed_from = root.join("target/release");
            if seed_from.is_dir() {
                let status = std::process::Command::new("cp")
                    .args(["-a", "--reflink=auto"])
                    .arg(&seed_from)
                    .arg(kept.join("release"))
                    .status()
                    .context("cannot run cp")?;
                if !status.success() {
                    let _ = std::fs::remove_dir_all(kept.join("release"));
                    eprintln!(
                        "gate: could not seed {BASE_TARGET_DIR}; the {} builds from scratch",
                        side.name()
                    );
                }
            }
            kept
        }
    };
    std::os::unix::fs::symlink(&linked, tree.join("target")).with_context(|| {
        format!(
            "linking the {}'s target/ to {}",
            side.name(),
            linked.display()
        )
    })
}

/// Builds each named backend of the worktree with its own manifest's steps.
async fn build_tree(
    root: &Path,
    tree: &Path,
    side: Side,
    target: Target,
    names: &[String],
    log_dir: &Path,
) -> Result<Vec<Backend>> {
    let all = manifest::discover(&tree.join("backends"))?;
    let built = manifest::select(all, names).with_context(|| match side {
        Side::Base => "the base revision lacks a backend that is to be judged; pass --backends \
                       with the ones both revisions have"
            .to_owned(),
        Side::Head => "the working tree lacks a backend that is to be measured".to_owned(),
    })?;
    share_target(root, tree, side, target)?;
    build_steps(tree, &built, side.name(), log_dir)
        .await
        .map_err(|e| match side {
            Side::Base => anyhow::anyhow!(
                "the base revision does not build: {e:#}; pick another base with --against REV, \
                 or fix the build"
            ),
            Side::Head => anyhow::anyhow!("the working tree does not build: {e:#}; fix the build"),
        })?;
    if built
        .iter()
        .any(|b| b.manifest.runtime == manifest::Runtime::Node)
    {
        tree_runtime(root, tree, side, log_dir).await?;
    }
    Ok(built)
}

/// Runs the build steps of `backends` in `tree`, each step once (backends share the sidecar's
/// `npm ci` and bundle), one command per step exactly as written in the manifests, the same
/// for both sides (docs/gate.md#one-build-recipe): a binary built by one `cargo build -p A -p B`
/// links the dependencies' features as unified for both packages, and differs from the one
/// `cargo build -p A` makes.
pub async fn build_steps(
    tree: &Path,
    backends: &[Backend],
    side: &str,
    log_dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(log_dir)?;
    let mut done = std::collections::BTreeSet::new();
    for backend in backends {
        for (i, step) in backend.manifest.build.iter().enumerate() {
            if !done.insert(step.clone()) {
                continue;
            }
            eprintln!("gate: {side} {}: {step}", backend.name());
            let log = log_dir.join(format!("{side}-{}.step{}.log", backend.name(), i + 1));
            crate::step::run_ok(step, tree, &log)
                .await
                .with_context(|| format!("the {side} build of {}", backend.name()))?;
        }
    }
    Ok(())
}

/// Gives a tree the default JavaScript runtime its Node backends start on: its own pinned one,
/// installed from its lockfile, or, for a base from before the runtimes were pinned, the
/// working tree's (so both sides run one runtime and the gate compares the code).
async fn tree_runtime(root: &Path, tree: &Path, side: Side, log_dir: &Path) -> Result<()> {
    use contract::runtime::{self, DEFAULT_RUNTIME, RUNTIMES_DIR};
    if runtime::resolve(tree, DEFAULT_RUNTIME).is_ok() {
        return Ok(());
    }
    let package = runtime::spec(DEFAULT_RUNTIME)?.dir();
    if tree.join(&package).join("package-lock.json").is_file() {
        let step = format!("npm ci --prefix {package} --no-audit --no-fund --loglevel=error");
        eprintln!("gate: {}: {step}", side.name());
        let log = log_dir.join(format!("{}-runtime.log", side.name()));
        crate::step::run_ok(&step, tree, &log)
            .await
            .with_context(|| format!("the {} tree's runtime did not install", side.name()))?;
    } else if !tree.join(RUNTIMES_DIR).exists() {
        eprintln!(
            "gate: base: it predates the pinned runtimes; its Node backends run on the working \
             tree's {DEFAULT_RUNTIME}"
        );
        std::os::unix::fs::symlink(root.join(RUNTIMES_DIR), tree.join(RUNTIMES_DIR))
            .context("cannot lend the working tree's runtimes to the base")?;
    }
    runtime::resolve(tree, DEFAULT_RUNTIME)
        .map(|_| ())
        .with_context(|| format!("the {} tree has no runnable default runtime", side.name()))
}
