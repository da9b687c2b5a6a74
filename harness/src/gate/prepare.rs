//! The base revision of `harness gate --against`, checked out in a temporary worktree and built
//! there with its own manifests' steps: its cargo output in a folder kept under the working
//! tree's `target/` (seeded from the working tree's release build), its own `node_modules` and
//! pinned runtime (docs/gate.md#against-a-revision).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use conformance::manifest::{self, Backend};
use conformance::process;

use super::base;

/// Where the base revision's cargo output is kept between gate runs, under `target/`.
pub const BASE_TARGET_DIR: &str = "target/gate-base";

/// A base revision checked out and built, ready to be measured any number of times.
#[derive(Debug)]
pub struct PreparedBase {
    pub commit: String,
    worktree: Worktree,
    /// The base's manifests of the judged backends.
    pub backends: Vec<Backend>,
}

impl PreparedBase {
    /// Checks `commit` out and runs the build steps of `names` there; the logs go to `log_dir`.
    pub async fn build(
        root: &Path,
        commit: &str,
        names: &[String],
        log_dir: &Path,
    ) -> Result<Self> {
        let worktree = Worktree::add(root, commit)?;
        let backends = build_base(root, &worktree.path(), names, log_dir).await?;
        Ok(Self {
            commit: commit.to_owned(),
            worktree,
            backends,
        })
    }

    pub fn root(&self) -> PathBuf {
        self.worktree.path()
    }
}

/// A worktree of another revision, removed when dropped (its cargo output stays in
/// [`BASE_TARGET_DIR`] for the next run).
#[derive(Debug)]
struct Worktree {
    repo: PathBuf,
    dir: tempfile::TempDir,
}

impl Worktree {
    fn add(repo: &Path, commit: &str) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("arena-gate-").tempdir()?;
        let tree = dir.path().join("tree");
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

    fn path(&self) -> PathBuf {
        self.dir.path().join("tree")
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

/// Points the worktree's `target/` at [`BASE_TARGET_DIR`], seeding that from the working
/// tree's release build the first time: the dependencies' compiled code is the same for both
/// revisions unless Cargo.lock changed, so only the workspace's own crates are compiled again
/// (docs/gate.md#in-ci).
fn share_target(root: &Path, tree: &Path) -> Result<()> {
    let kept = root.join(BASE_TARGET_DIR);
    let seed_from = root.join("target/release");
    if !kept.join("release").exists() && seed_from.is_dir() {
        std::fs::create_dir_all(&kept)?;
        let status = std::process::Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(&seed_from)
            .arg(kept.join("release"))
            .status()
            .context("cannot run cp")?;
        if !status.success() {
            let _ = std::fs::remove_dir_all(kept.join("release"));
            eprintln!("gate: could not seed {BASE_TARGET_DIR}; the base builds from scratch");
        }
    }
    std::fs::create_dir_all(&kept)?;
    std::os::unix::fs::symlink(&kept, tree.join("target"))
        .with_context(|| format!("linking the base's target/ to {}", kept.display()))
}

/// Builds each named backend of the worktree with its own manifest's steps.
async fn build_base(
    root: &Path,
    tree: &Path,
    names: &[String],
    log_dir: &Path,
) -> Result<Vec<Backend>> {
    let all = manifest::discover(&tree.join("backends"))?;
    let base = manifest::select(all, names).context(
        "the base revision lacks a backend that is to be judged; pass --backends with the ones \
         both revisions have",
    )?;
    share_target(root, tree)?;
    build_steps(tree, &base, "base", log_dir)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "the base revision does not build: {e:#}; pick another base with --against REV, or \
             fix the build"
            )
        })?;
    base_runtime(root, tree, log_dir).await?;
    Ok(base)
}

/// Runs the build steps of `backends` in `tree`, each step once (backends share the sidecar's
/// `npm ci` and bundle), one command per step exactly as written in the manifests. The head is
/// built this way too, right before it is measured (docs/gate.md#one-build-recipe): a binary
/// built by one `cargo build -p A -p B` links the dependencies' features as unified for both
/// packages, and differs from the one `cargo build -p A` makes for the base.
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
            let status = process::run_shell(step, tree, &log).await?;
            if !status.success() {
                bail!(
                    "{} failed at `{step}` (see {})\n{}",
                    backend.name(),
                    log.display(),
                    process::file_tail(&log, 2000)
                );
            }
        }
    }
    Ok(())
}

/// Gives the base tree the default JavaScript runtime its Node backends start on: its own pinned
/// one, installed from its lockfile, or, for a base from before the runtimes were pinned, the
/// working tree's (so both sides run one runtime and the gate compares the code).
async fn base_runtime(root: &Path, tree: &Path, log_dir: &Path) -> Result<()> {
    use contract::runtime::{self, DEFAULT_RUNTIME, RUNTIMES_DIR};
    if runtime::resolve(tree, DEFAULT_RUNTIME).is_ok() {
        return Ok(());
    }
    let package = runtime::spec(DEFAULT_RUNTIME)?.dir();
    if tree.join(&package).join("package-lock.json").is_file() {
        let step = format!("npm ci --prefix {package} --no-audit --no-fund --loglevel=error");
        eprintln!("gate: base: {step}");
        let log = log_dir.join("base-runtime.log");
        let status = process::run_shell(&step, tree, &log).await?;
        if !status.success() {
            bail!(
                "the base revision's runtime did not install: `{step}` failed (see {})\n{}",
                log.display(),
                process::file_tail(&log, 2000)
            );
        }
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
        .context("the base revision has no runnable default runtime")
}
