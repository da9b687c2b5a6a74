//! `gate --against`'s choices (docs/gate.md#which-revision): what each backend of this
//! repository builds from, the `auto` rule on a small history of its own, and a revision git
//! cannot resolve exiting 2 with what to do.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use harness::gate::base::{self, AutoBase};
use sut_kit::manifest;

#[test]
fn each_backends_inputs_are_what_its_build_steps_compile() {
    let root = sut_kit::repo_root();
    let backends = manifest::discover(&root.join("backends")).unwrap();
    let crates = base::workspace_crates(&root).unwrap();
    let inputs = base::inputs(&root, &backends, &crates);
    let unix = &inputs.by_backend["unix"];
    for p in [
        "backends/unix",
        "backends/sidecar-host",
        "backends/core",
        "contract",
        "backends/sidecar",
        "Cargo.lock",
    ] {
        assert!(unix.contains(p), "unix lacks {p}: {unix:?}");
    }
    let rust_only = &inputs.by_backend["rust-only"];
    assert!(rust_only.contains("backends/core") && rust_only.contains("contract"));
    for p in ["backends/sidecar", "backends/sidecar-host", "backends/unix"] {
        assert!(!rust_only.contains(p), "rust-only should not build {p}");
    }
    for (name, paths) in &inputs.by_backend {
        for p in ["harness", "mock-provider", "conformance", "sut-kit", "docs"] {
            assert!(!paths.contains(p), "{name} should not build {p}");
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn commit(dir: &Path, file: &str, text: &str) -> String {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", file]);
    git(dir, &["rev-parse", "HEAD"])
}

#[test]
fn auto_picks_the_parent_of_the_newest_change_to_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q"]);
    let paths = ["backends/x".to_owned()].into();
    commit(d, "backends/x/a.rs", "1");
    assert!(
        matches!(base::auto_base(d, &paths).unwrap(), AutoBase::None(_)),
        "the only change is the first commit: no earlier state, so the baseline file"
    );
    commit(d, "docs/a.md", "1");
    let before = commit(d, "docs/a.md", "2");
    let change = commit(d, "backends/x/a.rs", "2");
    commit(d, "docs/a.md", "3");
    assert_eq!(
        base::auto_base(d, &paths).unwrap(),
        AutoBase::Commit {
            base: before.clone(),
            change
        }
    );
    let changed = base::changed_files(d, &before).unwrap();
    assert!(changed.contains(&"backends/x/a.rs".to_owned()));
    let none = ["backends/y".to_owned()].into();
    assert!(matches!(
        base::auto_base(d, &none).unwrap(),
        AutoBase::None(_)
    ));
}

#[test]
fn a_merge_that_only_brought_in_another_lines_change_is_not_the_change() {
    // As changes land here: a branch merges main (which moved meanwhile) and main is then
    // fast-forwarded to the merge, so the merge's first parent is the branch's own commit.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    let paths = ["backends/x".to_owned()].into();
    commit(d, "backends/x/a.rs", "1");
    git(d, &["checkout", "-q", "-b", "topic"]);
    commit(d, "docs/a.md", "topic");
    git(d, &["checkout", "-q", "main"]);
    let before = commit(d, "docs/b.md", "main");
    let change = commit(d, "backends/x/a.rs", "2");
    git(d, &["checkout", "-q", "topic"]);
    git(d, &["merge", "-q", "--no-edit", "main"]);
    commit(d, "docs/a.md", "after");
    assert_eq!(
        base::auto_base(d, &paths).unwrap(),
        AutoBase::Commit {
            base: before,
            change
        },
        "the merge's diff against its first parent holds the backend change, but it made none"
    );
}

#[test]
fn a_merge_of_two_lines_that_both_changed_the_inputs_is_judged_from_where_they_parted() {
    // The branch changed x, main changed y meanwhile; the branch merges main and main is
    // fast-forwarded to the merge. Against the merge's first parent (the branch) only main's
    // change would be judged, the branch's own in both trees.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    let paths = ["backends/x".to_owned(), "backends/y".to_owned()].into();
    commit(d, "backends/x/a.rs", "1");
    let parted = commit(d, "backends/y/b.rs", "1");
    git(d, &["checkout", "-q", "-b", "topic"]);
    commit(d, "backends/x/a.rs", "topic");
    git(d, &["checkout", "-q", "main"]);
    commit(d, "backends/y/b.rs", "main");
    git(d, &["checkout", "-q", "topic"]);
    git(d, &["merge", "-q", "--no-edit", "main"]);
    let merge = git(d, &["rev-parse", "HEAD"]);
    commit(d, "docs/a.md", "after");
    assert_eq!(
        base::auto_base(d, &paths).unwrap(),
        AutoBase::Merge {
            base: parted.clone(),
            change: merge
        }
    );
    let changed = base::changed_files(d, &parted).unwrap();
    for f in ["backends/x/a.rs", "backends/y/b.rs"] {
        assert!(changed.contains(&f.to_owned()), "{changed:?}");
    }
    // A merge that resolved a conflict in the inputs is judged from there too: the resolution
    // and both lines' changes.
    git(d, &["checkout", "-q", "-b", "other", &parted]);
    commit(d, "backends/x/a.rs", "other");
    git(d, &["checkout", "-q", "topic"]);
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(["merge", "-q", "--no-edit", "other"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the merge should conflict: {out:?}");
    std::fs::write(d.join("backends/x/a.rs"), "resolved").unwrap();
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "resolved"]);
    let resolved = git(d, &["rev-parse", "HEAD"]);
    assert_eq!(
        base::auto_base(d, &paths).unwrap(),
        AutoBase::Merge {
            base: parted,
            change: resolved
        }
    );
}

#[test]
fn a_revision_git_cannot_resolve_exits_2_saying_what_to_pass() {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "--root",
            &sut_kit::repo_root().display().to_string(),
            "gate",
            "--against",
            "no-such-revision-anywhere",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not a revision") && err.contains("auto"),
        "{err}"
    );
}

/// A repository of one backend `x` whose build step is `step_before` at the first commit and
/// `step_after` at the second; returns the first commit.
fn one_backend_repo(d: &Path, step_before: &str, step_after: &str) -> String {
    git(d, &["init", "-q"]);
    std::fs::write(d.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    let manifest = |step: &str| {
        format!(
            "name = \"x\"\nsummary = \"a backend of the test\"\nbuild = [\"{step}\"]\n\
             start = [\"true\"]\nartifacts = []\nruntime = \"none\"\n"
        )
    };
    let first = commit(d, "backends/x/backend.toml", &manifest(step_before));
    commit(d, "backends/x/backend.toml", &manifest(step_after));
    first
}

fn gate_against(root: &Path, rev: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["--root", &root.display().to_string()])
        .args(["gate", "--against", rev, "--backends", "x"])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_base_that_does_not_build_exits_2_saying_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let first = one_backend_repo(dir.path(), "exit 3", "true");
    let (code, err) = gate_against(dir.path(), &first);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("the base revision does not build") && err.contains("--against"),
        "{err}"
    );
}

#[test]
fn a_working_tree_that_does_not_build_exits_2_and_is_never_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let first = one_backend_repo(dir.path(), "true", "exit 3");
    let (code, err) = gate_against(dir.path(), &first);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the working tree does not build"), "{err}");
    // Both trees are gone, and git keeps no record of them.
    let worktrees = git(dir.path(), &["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 1, "{worktrees}");
}

#[test]
fn a_tree_takes_the_working_trees_times_only_for_the_files_it_has_alike() {
    use harness::gate::prepare;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q"]);
    commit(d, "same.rs", "fn a() {}");
    let base = commit(d, "changed.rs", "fn b() {}");
    let head = commit(d, "changed.rs", "fn b() { 1; }");
    let long_ago =
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    for f in ["same.rs", "changed.rs"] {
        let file = std::fs::File::options()
            .write(true)
            .open(d.join(f))
            .unwrap();
        file.set_modified(long_ago).unwrap();
    }
    let differing = prepare::differing_files(d, &base, &head).unwrap();
    assert_eq!(differing.into_iter().collect::<Vec<_>>(), ["changed.rs"]);
    assert!(
        prepare::differing_files(d, &head, &head)
            .unwrap()
            .is_empty()
    );

    let tree = d.join("base-tree");
    git(
        d,
        &[
            "worktree",
            "add",
            "-q",
            "--detach",
            &tree.display().to_string(),
            &base,
        ],
    );
    let differing = prepare::differing_files(d, &base, &head).unwrap();
    assert_eq!(prepare::carry_mtimes(d, &tree, &differing).unwrap(), 1);
    let mtime = |f: &str| std::fs::metadata(tree.join(f)).unwrap().modified().unwrap();
    assert_eq!(mtime("same.rs"), long_ago, "alike: the working tree's time");
    assert!(
        mtime("changed.rs") > long_ago,
        "differing: newer than any build"
    );
}
