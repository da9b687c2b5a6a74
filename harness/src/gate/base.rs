//! What the backends run, as files of the repository, and the base revision the gate compares
//! with (docs/gate.md#which-revision). A backend's inputs are its manifest's folder, the folder
//! of every crate its build steps name (`-p NAME`) or its folder holds, with every workspace
//! crate those depend on (normal and build dependencies, read from `cargo metadata`), every
//! folder an npm build step names (`--prefix DIR`: its lockfile included), and
//! [`SHARED_INPUTS`], less what no build ships ([`NOT_SHIPPED`]: tests and prose). The rule
//! `auto` picks the first parent of the newest commit in HEAD's history
//! that changed any backend's inputs, merges that only carried another line's changes left out,
//! and a merge of two lines that both changed them judged from where they parted: the gate then
//! judges that change (and anything after it), on the backends it touched.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sut_kit::manifest::Backend;
use thiserror::Error;

/// `--against auto`: choose the base by the rule above.
pub const AUTO: &str = "auto";
/// Files every backend builds from besides its own folders: the lockfile and the workspace
/// manifest (dependency versions, build profiles), the toolchain pin where there is one.
pub const SHARED_INPUTS: &[&str] = &["Cargo.lock", "Cargo.toml", "rust-toolchain.toml"];
/// Files inside a backend's inputs that no build ships, as git pathspec globs: a crate's
/// `tests/` and `benches/`, the sidecar's `test/`, the READMEs. A commit that changed only these
/// runs the same code, so judging it would spend the gate's rounds on an A/A
/// (docs/gate.md#which-revision).
pub const NOT_SHIPPED: &[&str] = &["**/tests/**", "**/test/**", "**/benches/**", "**/*.md"];

/// The backend preferred as the control (unchanged code, measured as A/A beside the judged
/// ones): the one without a JavaScript runtime, whose figures are the least noisy
/// (docs/gate.md#measured).
pub const PREFERRED_CONTROL: &str = "rust-only";

#[derive(Debug, Error)]
pub enum BaseError {
    #[error("cannot run {what}: {message}")]
    Tool { what: String, message: String },
    #[error(
        "`{rev}` is not a revision of this repository ({message}); pass a commit, a branch, a tag, or `auto`"
    )]
    BadRevision { rev: String, message: String },
}

/// The repository paths (files or folders, relative to the root) each backend builds from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    pub by_backend: BTreeMap<String, BTreeSet<String>>,
}

impl Inputs {
    /// Every backend's inputs together: the pathspec the `auto` rule searches history with.
    pub fn all(&self) -> BTreeSet<String> {
        self.by_backend.values().flatten().cloned().collect()
    }

    /// The backends whose inputs contain one of `changed` (repository-relative file paths).
    pub fn touched(&self, changed: &[String]) -> Vec<String> {
        let shipped: Vec<&String> = changed.iter().filter(|f| ships(f)).collect();
        self.by_backend
            .iter()
            .filter(|(_, paths)| shipped.iter().any(|f| paths.iter().any(|p| covers(p, f))))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// Whether input `path` (a file or a folder) covers file `file`.
fn covers(path: &str, file: &str) -> bool {
    file == path
        || file
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether a build can ship `file`: not under a folder [`NOT_SHIPPED`] names, not prose.
fn ships(file: &str) -> bool {
    let folders = file.rsplit_once('/').map_or("", |(dir, _)| dir);
    !file.ends_with(".md")
        && !folders
            .split('/')
            .any(|part| matches!(part, "tests" | "test" | "benches"))
}

/// The pathspec that selects the shipped files of `paths`.
fn shipped_pathspec(paths: &BTreeSet<String>) -> Vec<String> {
    paths
        .iter()
        .cloned()
        .chain(
            NOT_SHIPPED
                .iter()
                .map(|glob| format!(":(exclude,glob){glob}")),
        )
        .collect()
}

/// A workspace crate, as `cargo metadata --no-deps` lists it.
#[derive(Debug, Clone)]
pub struct Crate {
    pub name: String,
    /// Its folder, relative to the repository root.
    pub dir: String,
    /// Workspace crates it depends on (normal and build dependencies; tests' do not ship).
    pub path_deps: Vec<String>,
}

/// Reads the workspace's crates from `cargo metadata` (no network: `--no-deps`).
pub fn workspace_crates(root: &Path) -> Result<Vec<Crate>, BaseError> {
    let out = std::process::Command::new("cargo")
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .map_err(|e| BaseError::Tool {
            what: "cargo metadata".into(),
            message: e.to_string(),
        })?;
    let tool = |message: String| BaseError::Tool {
        what: "cargo metadata".into(),
        message,
    };
    if !out.status.success() {
        return Err(tool(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| tool(e.to_string()))?;
    let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    let relative = |p: &str| -> Option<String> {
        let dir = PathBuf::from(p);
        let dir = dir.canonicalize().unwrap_or(dir);
        let rel = dir.strip_prefix(&root).ok()?.to_string_lossy().into_owned();
        Some(if rel.is_empty() { ".".into() } else { rel })
    };
    let mut crates = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let (Some(name), Some(manifest)) = (p["name"].as_str(), p["manifest_path"].as_str()) else {
            continue;
        };
        let Some(dir) = Path::new(manifest)
            .parent()
            .and_then(|d| relative(&d.to_string_lossy()))
        else {
            continue;
        };
        let path_deps = p["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["path"].is_string() && d["kind"].as_str() != Some("dev"))
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect();
        crates.push(Crate {
            name: name.to_owned(),
            dir,
            path_deps,
        });
    }
    Ok(crates)
}

/// Each backend's inputs, from its manifest and the workspace's crates.
pub fn inputs(root: &Path, backends: &[Backend], crates: &[Crate]) -> Inputs {
    let by_name: BTreeMap<&str, &Crate> = crates.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut out = Inputs::default();
    for backend in backends {
        let mut paths: BTreeSet<String> = SHARED_INPUTS.iter().map(|s| (*s).to_owned()).collect();
        let folder = backend
            .path
            .parent()
            .and_then(|d| d.strip_prefix(root).ok())
            .map(|d| d.to_string_lossy().into_owned());
        let mut pending: Vec<String> = Vec::new();
        if let Some(folder) = &folder {
            paths.insert(folder.clone());
            pending.extend(
                crates
                    .iter()
                    .filter(|c| &c.dir == folder)
                    .map(|c| c.name.clone()),
            );
        }
        for step in &backend.manifest.build {
            let words: Vec<&str> = step.split_whitespace().collect();
            for pair in words.windows(2) {
                match pair[0] {
                    "-p" | "--package" => pending.push(pair[1].to_owned()),
                    "--prefix" => {
                        paths.insert(pair[1].trim_end_matches('/').to_owned());
                    }
                    _ => {}
                }
            }
        }
        let mut seen = BTreeSet::new();
        while let Some(name) = pending.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(c) = by_name.get(name.as_str()) {
                paths.insert(c.dir.clone());
                pending.extend(c.path_deps.iter().cloned());
            }
        }
        out.by_backend.insert(backend.name().to_owned(), paths);
    }
    out
}

pub fn git(repo: &Path, args: &[&str]) -> Result<String, BaseError> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .map_err(|e| BaseError::Tool {
            what: "git".into(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(BaseError::Tool {
            what: format!("git {}", args.join(" ")),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The commit `rev` names, or a message saying what to pass instead.
pub fn resolve(repo: &Path, rev: &str) -> Result<String, BaseError> {
    git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|e| BaseError::BadRevision {
        rev: rev.to_owned(),
        message: match e {
            BaseError::Tool { message, .. } if !message.is_empty() => message,
            _ => "no such commit".into(),
        },
    })
}

/// What the `auto` rule found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoBase {
    /// Judge against this commit; `change` is the newest commit that changed the inputs.
    Commit { base: String, change: String },
    /// `change`, the newest commit that changed the inputs, is a merge whose inputs differ from
    /// every parent's (both lines changed them, or it resolved a conflict in them): judge
    /// against `base`, where its lines parted.
    Merge { base: String, change: String },
    /// No earlier state of the inputs in this clone's history: judge against the baseline file.
    None(String),
}

/// The `auto` rule: the first parent of the newest commit in HEAD's history whose diff against
/// its own first parent touches `paths`. git's default history simplification walks it: a merge
/// whose inputs equal one parent's (`git merge main` into a branch that is then fast-forwarded,
/// as changes land here) only carried that parent's changes, so the walk follows that parent to
/// the commit that made them, instead of taking the merge for a change of every backend. A merge
/// the walk keeps differs in the inputs from every parent: both lines changed them (or it
/// resolved a conflict in them), and its base is where the lines parted (their merge base),
/// so that neither line's change is in both trees (docs/gate.md#which-revision).
pub fn auto_base(repo: &Path, paths: &BTreeSet<String>) -> Result<AutoBase, BaseError> {
    let mut log_args = vec!["log", "--format=%H", "HEAD", "--"];
    let pathspec = shipped_pathspec(paths);
    log_args.extend(pathspec.iter().map(String::as_str));
    let candidates = git(repo, &log_args)?;
    for commit in candidates.lines() {
        let parents: Vec<String> = git(repo, &["rev-list", "--parents", "-n", "1", commit])?
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect();
        if parents.len() > 1 {
            let mut args = vec!["merge-base", "--octopus"];
            args.extend(parents.iter().map(String::as_str));
            return Ok(match git(repo, &args) {
                Ok(base) if !base.is_empty() => AutoBase::Merge {
                    base,
                    change: commit.to_owned(),
                },
                _ => AutoBase::None(format!(
                    "the newest change to what the backends run ({}) merges lines whose common \
                     ancestor is not in this clone",
                    short(commit)
                )),
            });
        }
        let parent = format!("{commit}^1");
        let Ok(parent) = resolve(repo, &parent) else {
            return Ok(AutoBase::None(format!(
                "the newest change to what the backends run ({}) has no parent in this clone",
                short(commit)
            )));
        };
        let mut diff = vec!["diff", "--name-only", &parent, commit, "--"];
        diff.extend(pathspec.iter().map(String::as_str));
        if !git(repo, &diff)?.is_empty() {
            return Ok(AutoBase::Commit {
                base: parent,
                change: commit.to_owned(),
            });
        }
    }
    Ok(AutoBase::None(
        "no commit in this clone's history changed what the backends run".into(),
    ))
}

/// Files changed between `base` and the working tree (tracked files, committed or not).
pub fn changed_files(repo: &Path, base: &str) -> Result<Vec<String>, BaseError> {
    Ok(git(repo, &["diff", "--name-only", base])?
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The control: a backend whose inputs the change did not touch, measured beside the judged
/// ones (its own build on both sides, so any change it shows is the machine's). The preferred
/// one when it is untouched, else the first untouched in name order; none when every backend
/// was touched.
pub fn control(all: &[String], judged: &[String]) -> Option<String> {
    let untouched: Vec<&String> = all.iter().filter(|n| !judged.contains(n)).collect();
    untouched
        .iter()
        .find(|n| n.as_str() == PREFERRED_CONTROL)
        .or_else(|| untouched.first())
        .map(|n| (*n).clone())
}

/// What `gate --against REV` will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `auto` found no earlier state of the inputs: judge the baseline file, as without
    /// `--against`, and say why.
    Files(String),
    /// Nothing the backends run differs between the base and the working tree.
    Unchanged { commit: String },
    /// Build `commit` and judge `judged` against it, beside `control`.
    Against {
        commit: String,
        /// How the commit was chosen, for the log.
        why: String,
        judged: Vec<String>,
        control: Option<String>,
    },
}

/// Applies the rule: the base (`auto` or a revision), then the backends to judge: those named
/// with `--backends` (no control: the caller chose), else those whose inputs the change
/// touched, with a control.
pub fn choose(
    root: &Path,
    rev: &str,
    backends: &[Backend],
    explicit: &[String],
) -> Result<Choice, BaseError> {
    let crates = workspace_crates(root)?;
    let inputs = inputs(root, backends, &crates);
    let (commit, why) = if rev == AUTO {
        match auto_base(root, &inputs.all())? {
            AutoBase::Commit { base, change } => {
                let why = format!(
                    "auto: {} is the newest commit that changed what the backends run; its \
                     parent {} is the base",
                    short(&change),
                    short(&base)
                );
                (base, why)
            }
            AutoBase::Merge { base, change } => {
                let why = format!(
                    "auto: {} is the newest commit that changed what the backends run, a merge of \
                     two lines that both changed it; where they parted, {}, is the base",
                    short(&change),
                    short(&base)
                );
                (base, why)
            }
            AutoBase::None(why) => return Ok(Choice::Files(why)),
        }
    } else {
        let commit = resolve(root, rev)?;
        let why = format!("{rev} is {}", short(&commit));
        (commit, why)
    };
    if !explicit.is_empty() {
        return Ok(Choice::Against {
            commit,
            why,
            judged: explicit.to_vec(),
            control: None,
        });
    }
    let judged = inputs.touched(&changed_files(root, &commit)?);
    if judged.is_empty() {
        return Ok(Choice::Unchanged { commit });
    }
    let all: Vec<String> = backends.iter().map(|b| b.name().to_owned()).collect();
    let control = control(&all, &judged);
    Ok(Choice::Against {
        commit,
        why,
        judged,
        control,
    })
}

pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_covers_its_files_and_not_its_namesakes() {
        assert!(covers("backends/core", "backends/core/src/lib.rs"));
        assert!(covers("Cargo.lock", "Cargo.lock"));
        assert!(!covers("backends/core", "backends/core2/src/lib.rs"));
        assert!(!covers("Cargo.toml", "harness/Cargo.toml"));
    }

    #[test]
    fn touched_backends_are_those_whose_inputs_changed() {
        let mut inputs = Inputs::default();
        inputs.by_backend.insert(
            "unix".into(),
            ["backends/unix", "backends/sidecar", "contract"]
                .map(String::from)
                .into(),
        );
        inputs.by_backend.insert(
            "rust-only".into(),
            ["backends/rust-only", "contract"].map(String::from).into(),
        );
        let touched = |files: &[&str]| {
            inputs.touched(&files.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>())
        };
        assert_eq!(touched(&["backends/sidecar/src/a.ts"]), vec!["unix"]);
        assert_eq!(touched(&["contract/src/sse.rs"]), vec!["rust-only", "unix"]);
        assert!(touched(&["docs/gate.md", "harness/src/gate/mod.rs"]).is_empty());
        assert!(
            touched(&[
                "backends/sidecar/test/chat.test.mjs",
                "contract/tests/schema.rs",
                "backends/sidecar/README.md",
            ])
            .is_empty(),
            "tests and prose ship in no build"
        );
        assert_eq!(touched(&["backends/unix/src/tests.rs"]), vec!["unix"]);
    }

    #[test]
    fn the_control_is_untouched_and_preferably_rust_only() {
        let all: Vec<String> = ["http", "napi", "rust-only", "unix"]
            .map(String::from)
            .into();
        assert_eq!(control(&all, &["unix".into()]), Some("rust-only".into()));
        assert_eq!(
            control(&all, &["rust-only".into(), "unix".into()]),
            Some("http".into())
        );
        assert_eq!(control(&all, &all), None);
    }
}
