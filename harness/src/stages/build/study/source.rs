//! The sources a build study builds: a git snapshot of the working tree (tracked files, with
//! uncommitted changes, never untracked ones), named by a hash over the build inputs and the
//! toolchain versions, and extracted into a folder of its own. A second hash covers the
//! dependencies alone, so a study outlives edits of the workspace's own code (`docs/cost.md`).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// What a backend's build reads: the workspace manifest and lockfile, cargo and toolchain
/// settings, the contract crate and every backend folder (the sidecar package included). A
/// change anywhere else (docs, the harness, tests) does not invalidate a measured build.
const BUILD_INPUTS: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    ".cargo",
    "rust-toolchain.toml",
    "contract",
    "backends",
];
/// What a clean build downloads and compiles besides the workspace's own code: the lockfiles
/// (cargo's and the npm packages' a backend's steps install: the sidecar's, the runtimes'),
/// and the cargo settings. The own code is a few thousand lines against hundreds of crates, so
/// an edit of it leaves the clean build's cost where it was (`docs/cost.md#cache-and-reuse`).
const DEPENDENCY_INPUTS: &[&str] = &[
    "Cargo.lock",
    ".cargo",
    "rust-toolchain.toml",
    "backends/sidecar/package.json",
    "backends/sidecar/package-lock.json",
    "runtimes",
];
/// The tools whose version changes what a build costs.
const TOOL_VERSIONS: &[&str] = &["rustc", "cargo", "node", "npm"];

/// A snapshot of the sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The commit to extract: HEAD, or a stash commit holding the uncommitted changes.
    pub commit: String,
    /// HEAD's short sha, as the run records it.
    pub git_sha: String,
    pub source_hash: String,
    /// The hash over [`DEPENDENCY_INPUTS`] and the tool versions.
    pub dependency_hash: String,
}

/// Takes the snapshot without touching the working tree, the index or any ref.
pub fn snapshot(root: &Path) -> Result<Snapshot> {
    let git_sha = git(root, &["rev-parse", "--short", "HEAD"])?;
    // `stash create` writes a commit object for the uncommitted changes and prints its id, or
    // nothing for a clean tree; the identity is only needed to write that object.
    let stash = git(
        root,
        &[
            "-c",
            "user.name=harness",
            "-c",
            "user.email=harness@localhost",
            "stash",
            "create",
        ],
    )?;
    let commit = if stash.is_empty() {
        git(root, &["rev-parse", "HEAD"])?
    } else {
        stash
    };
    let mut tools = String::new();
    for tool in TOOL_VERSIONS {
        let version = crate::tools::version(None, tool).unwrap_or_else(|| "absent".into());
        tools.push_str(&format!("{tool} {version}\n"));
    }
    let source_hash = hash_text(root, &(object_ids(root, &commit, BUILD_INPUTS) + &tools))?;
    let dependency_hash = hash_text(
        root,
        &(object_ids(root, &commit, DEPENDENCY_INPUTS) + &tools),
    )?;
    Ok(Snapshot {
        commit,
        git_sha,
        source_hash,
        dependency_hash,
    })
}

/// One line per path: its git object id in `commit`, or `absent`.
fn object_ids(root: &Path, commit: &str, paths: &[&str]) -> String {
    let mut ids = String::new();
    for path in paths {
        let id = git(root, &["rev-parse", &format!("{commit}:{path}")]).unwrap_or_default();
        ids.push_str(&format!(
            "{path} {}\n",
            if id.is_empty() { "absent" } else { &id }
        ));
    }
    ids
}

/// Writes the snapshot's files into `dest` (which must exist).
pub fn extract(root: &Path, snapshot: &Snapshot, dest: &Path) -> Result<()> {
    let mut archive = Command::new("git")
        .args(["archive", "--format=tar", &snapshot.commit])
        .current_dir(root)
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run `git archive`")?;
    let stdout = archive
        .stdout
        .take()
        .context("`git archive` gave no output")?;
    let untar = Command::new("tar")
        .args(["-x", "-C"])
        .arg(dest)
        .stdin(stdout)
        .status()
        .context("cannot run `tar`")?;
    let archived = archive.wait()?;
    if !archived.success() || !untar.success() {
        bail!(
            "extracting {} failed (git archive {archived}, tar {untar})",
            snapshot.commit
        );
    }
    Ok(())
}

/// git's object id of `text`: a content hash without a hashing crate.
fn hash_text(root: &Path, text: &str) -> Result<String> {
    use std::io::Write;
    let mut child = Command::new("git")
        .args(["hash-object", "--stdin"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run `git hash-object`")?;
    child
        .stdin
        .take()
        .context("no stdin for `git hash-object`")?
        .write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || id.is_empty() {
        bail!("`git hash-object` failed ({})", out.status);
    }
    Ok(id)
}

fn git(root: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(root)
        .stderr(Stdio::null())
        .output()
        .context("cannot run git; the build study needs the sources in a git repository")?;
    if !out.status.success() {
        bail!("`git {}` failed ({})", args.join(" "), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
