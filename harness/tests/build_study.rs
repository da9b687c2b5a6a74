//! The build study on a toy workspace: a touched file really rebuilds its crate (cargo's output
//! says so), and a measured clean build is reused for the same sources, or for the same
//! dependencies marked as such, and never when the dependencies changed.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use contract::results::{BuildPhase, BuildResult};
use harness::run_dir::RunDir;
use harness::stages::build::study::{self, Options, Study};
use sut_kit::manifest;

fn write(root: &Path, path: &str, text: &str) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

fn run_ok(root: &Path, program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success(), "{program} {args:?}: {status}");
}

fn commit_all(root: &Path) {
    run_ok(root, "git", &["add", "-A"]);
    let identity = ["-c", "user.name=t", "-c", "user.email=t@localhost"];
    run_ok(
        root,
        "git",
        &[&identity[..], &["commit", "-qm", "toy"]].concat(),
    );
}

/// A workspace with `backends/core` (crate `toy-core`) and a backend crate `toy` that uses it;
/// the backend's build appends a line to `counter` each time it runs.
fn toy_repo(root: &Path, counter: &Path) {
    write(
        root,
        "Cargo.toml",
        "[workspace]\nresolver = \"3\"\nmembers = [\"backends/core\", \"backends/toy\"]\n",
    );
    write(
        root,
        "backends/core/Cargo.toml",
        "[package]\nname = \"toy-core\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    );
    write(
        root,
        "backends/core/src/lib.rs",
        "pub fn core() -> u32 { 1 }\n",
    );
    write(
        root,
        "backends/toy/Cargo.toml",
        "[package]\nname = \"toy\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\ntoy-core = { path = \"../core\" }\n",
    );
    write(
        root,
        "backends/toy/src/lib.rs",
        "pub fn toy() -> u32 { toy_core::core() }\n",
    );
    let toml = format!(
        "name = \"toy\"\nsummary = \"toy\"\nbuild = [\"cargo build -p toy\", \"echo built >> {}\"]\nstart = [\"true\"]\nruntime = \"none\"\n",
        counter.display()
    );
    write(root, "backends/toy/backend.toml", &toml);
    write(root, "README.md", "toy\n");
    write(root, ".cargo/config.toml", "[term]\ncolor = \"auto\"\n");
    run_ok(root, "git", &["init", "-q"]);
    run_ok(root, "cargo", &["generate-lockfile", "--offline"]);
    commit_all(root);
}

fn builds(counter: &Path) -> usize {
    std::fs::read_to_string(counter)
        .unwrap_or_default()
        .lines()
        .count()
}

async fn study(root: &Path, clean_builds: bool) -> (Study, Option<BuildResult>) {
    let backends = manifest::discover(&root.join("backends")).unwrap();
    let mut run = RunDir::create(&root.join("reports"), root, "debug").unwrap();
    let opts = Options {
        ctx: harness::stages::Context::new(root.to_owned()),
        clean_builds,
        reports: root.join("reports"),
    };
    let mut studies = study::run(&backends, &mut run, &opts).await.unwrap();
    let build = run.results.backends["toy"].build.clone();
    (studies.remove(0).1, build)
}

#[tokio::test]
async fn touched_files_rebuild_and_a_clean_build_is_reused_only_for_the_same_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let counter = dir.path().join("builds");
    toy_repo(&root, &counter);

    let (first, build) = study(&root, true).await;
    assert_eq!(first, Study::Measured);
    let build = build.unwrap();
    let clean = build.clean_build.as_ref().unwrap();
    assert!(!clean.reused);
    assert_eq!(clean.steps[0].command, "cargo fetch --locked");
    assert_eq!(clean.steps[0].phase, BuildPhase::Download);
    assert!(build.clean_s.is_some() && build.compile_s.is_some() && build.download_s.is_some());
    assert_eq!(build.install_s, None, "no npm ci step: no install figure");
    let own = &clean.rebuilds[0];
    assert_eq!(
        (own.touched.as_str(), own.crate_name.as_str()),
        ("backends/toy/src/lib.rs", "toy")
    );
    assert!(
        own.rebuilt,
        "cargo's output proves the rebuild: {:?}",
        own.compiled
    );
    assert_eq!(own.compiled, ["toy"], "only the touched crate");
    let core = &clean.rebuilds[1];
    assert_eq!(core.crate_name, "toy-core");
    assert!(
        core.rebuilt && core.compiled.contains(&"toy".to_owned()),
        "{:?}",
        core.compiled
    );
    assert_eq!(build.incremental_s, Some(own.wall_s));
    assert_eq!(build.incremental_core_s, Some(core.wall_s));
    assert_eq!(builds(&counter), 3, "one clean build and two rebuilds");
    let tools: Vec<&str> = build.toolchains.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tools, ["rustc", "cargo", "cc"]);

    // Same sources (a change outside the build inputs does not count): reused, nothing built.
    write(&root, "README.md", "toy, edited\n");
    let (again, build) = study(&root, true).await;
    assert!(matches!(again, Study::Reused { .. }), "{again:?}");
    let build = build.unwrap();
    assert!(build.clean_build.as_ref().unwrap().reused);
    assert_eq!(
        build.clean_s,
        Some(clean.steps.iter().map(|s| s.wall_s).sum())
    );
    assert_eq!(builds(&counter), 3);

    // Changed own sources, even uncommitted, with the same dependencies: the study is reused
    // and marked so, nothing built.
    write(
        &root,
        "backends/toy/src/lib.rs",
        "pub fn toy() -> u32 { toy_core::core() + 1 }\n",
    );
    let (changed, build) = study(&root, false).await;
    assert!(
        matches!(
            changed,
            Study::Reused {
                sources_changed_since: true,
                ..
            }
        ),
        "{changed:?}"
    );
    let clean = build.unwrap().clean_build.unwrap();
    assert!(clean.reused && clean.sources_changed_since);
    assert_eq!(builds(&counter), 3);

    // Changed dependencies (here the cargo settings): nothing to reuse, and without --clean-builds nothing is measured
    // or recorded.
    write(&root, ".cargo/config.toml", "[term]\ncolor = \"never\"\n");
    let (changed, build) = study(&root, false).await;
    assert_eq!(changed, Study::NotMeasured);
    let build = build.unwrap();
    assert!(build.clean_s.is_none() && build.clean_build.is_none());
    assert_eq!(builds(&counter), 3);
}
