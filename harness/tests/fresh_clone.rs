//! A fresh clone has no `node_modules`: the harness installs its own npm packages from the
//! committed lockfile before it needs them, and the AI SDK oracle then reads a stream.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use harness::prereq;
use sut_kit::oracle::Oracle;

/// The tracked files of the packages the harness installs (`sut-kit/node`, and the pinned
/// Node runtime it runs them on), copied without `node_modules`: what `git clone` gives.
fn clone_harness_packages(root: &std::path::Path) {
    let repo = sut_kit::repo_root();
    for package in ["sut-kit/node", "runtimes/node26"] {
        let listed = std::process::Command::new("git")
            .args(["ls-files", package])
            .current_dir(&repo)
            .output()
            .expect("git runs");
        assert!(listed.status.success(), "git ls-files failed");
        let files = String::from_utf8(listed.stdout).expect("utf-8 paths");
        assert!(files.contains(&format!("{package}/package-lock.json")));
        for file in files.lines() {
            let to = root.join(file);
            std::fs::create_dir_all(to.parent().expect("a parent folder")).expect("mkdir");
            std::fs::copy(repo.join(file), &to).expect("copy a tracked file");
        }
    }
}

#[tokio::test]
async fn a_fresh_clone_gets_its_packages_installed_and_the_oracle_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    clone_harness_packages(root);
    let package = root.join("sut-kit/node");
    assert!(
        !prereq::is_installed(&package),
        "a fresh clone has no node_modules"
    );

    prereq::prepare(root).expect("tools present and the packages install");
    assert!(prereq::is_installed(&package));
    assert!(
        !prereq::ensure_installed(root, "sut-kit/node").expect("already installed"),
        "an installed package is not installed again"
    );

    let logs = root.join("logs");
    let oracle = Oracle::start(root, &logs).expect("the oracle starts once installed");
    let sse = b"data: {\"type\":\"start\"}\n\ndata: {\"type\":\"start-step\"}\n\ndata: {\"type\":\"text-start\",\"id\":\"t\"}\n\ndata: {\"type\":\"text-delta\",\"id\":\"t\",\"delta\":\"hi\"}\n\ndata: {\"type\":\"text-end\",\"id\":\"t\"}\n\ndata: {\"type\":\"finish-step\"}\n\ndata: {\"type\":\"finish\"}\n\ndata: [DONE]\n\n";
    let reading = oracle.read(sse).await.expect("the oracle answers");
    assert!(reading.ok && reading.done, "{reading:?}");
    assert_eq!(reading.parts()[1]["text"], "hi", "{reading:?}");
}

#[test]
fn a_lockfile_changed_since_the_install_counts_as_not_installed() {
    let repo = sut_kit::repo_root();
    let dir = tempfile::tempdir().expect("temp dir");
    let package = dir.path();
    let lock = std::fs::read_to_string(repo.join("sut-kit/node/package-lock.json")).unwrap();
    std::fs::write(package.join("package-lock.json"), &lock).unwrap();
    std::fs::create_dir_all(package.join("node_modules")).unwrap();
    // What `npm ci` leaves: the lockfile's packages without the root entry.
    let mut hidden: serde_json::Value = serde_json::from_str(&lock).unwrap();
    hidden["packages"].as_object_mut().unwrap().remove("");
    let write_hidden = |v: &serde_json::Value| {
        std::fs::write(
            package.join("node_modules/.package-lock.json"),
            serde_json::to_string(v).unwrap(),
        )
        .unwrap();
    };
    write_hidden(&hidden);
    assert!(prereq::is_installed(package));
    hidden["packages"]["node_modules/ai"]["version"] = "0.0.1".into();
    write_hidden(&hidden);
    assert!(
        !prereq::is_installed(package),
        "a different version installed"
    );
}
