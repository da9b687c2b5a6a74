//! `harness build`: steps run in order from the root, each timed and logged; a failing step
//! names the backend, the step and the tail of its log, and stops that backend only.

use harness::run_dir::RunDir;
use harness::stages::build::{self, BuildError, BuildOutcome};
use sut_kit::manifest;

fn write_manifest(root: &std::path::Path, name: &str, build: &[&str], artifact: &str) {
    let folder = root.join("backends").join(name);
    std::fs::create_dir_all(&folder).expect("backend folder");
    let toml = format!(
        "name = {name:?}\nsummary = \"test double\"\nbuild = {build:?}\nstart = [\"true\"]\nartifacts = [{artifact:?}]\nruntime = \"none\"\n"
    );
    std::fs::write(folder.join("backend.toml"), toml).expect("manifest");
}

#[tokio::test]
async fn steps_run_in_order_and_a_failure_names_backend_step_and_log_tail() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_manifest(
        root,
        "good",
        &["echo one > out-good", "echo two >> out-good"],
        "out-good",
    );
    write_manifest(
        root,
        "bad",
        &[
            "echo compiling; echo 'error[E0425]: cannot find value' >&2; exit 4",
            "touch never",
        ],
        "out-bad",
    );
    let backends = manifest::discover(&root.join("backends")).unwrap();
    let mut run = RunDir::create(&root.join("reports"), root, "release").unwrap();
    let outcomes = build::build_all(&backends, root, &mut run, false).await;

    assert_eq!(
        std::fs::read_to_string(root.join("out-good")).unwrap(),
        "one\ntwo\n"
    );
    assert!(
        !root.join("never").exists(),
        "a failed step stops its backend"
    );
    let (name, outcome) = &outcomes[0];
    assert_eq!(name, "bad");
    let BuildOutcome::Failed(err) = outcome else {
        panic!("bad must fail: {outcome:?}")
    };
    assert!(matches!(err, BuildError::StepFailed { index: 1, .. }));
    let message = err.to_string();
    assert!(
        message.contains("building bad failed at step 1"),
        "{message}"
    );
    assert!(
        message.contains("exit 4") && message.contains("error[E0425]"),
        "{message}"
    );
    assert!(matches!(outcomes[1].1, BuildOutcome::Built));

    let good = run.results.backends["good"].build.as_ref().unwrap();
    let commands: Vec<&str> = good.steps.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(commands, ["echo one > out-good", "echo two >> out-good"]);
    assert!(good.steps.iter().all(|s| s.ok));
    assert!(run.path.join(&good.steps[1].log).is_file());
    let bad = run.results.backends["bad"].build.as_ref().unwrap();
    assert_eq!(bad.steps.len(), 1);
    assert!(!bad.steps[0].ok);

    // --quick skips a backend whose artifacts are all present.
    let outcomes = build::build_all(&backends, root, &mut run, true).await;
    assert!(matches!(outcomes[1].1, BuildOutcome::UpToDate));
    assert!(matches!(outcomes[0].1, BuildOutcome::Failed(_)));
}
