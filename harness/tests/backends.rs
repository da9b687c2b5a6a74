//! The suite against every real backend that is built: no case may fail. A backend whose
//! build output is absent is skipped with the reason printed, never silently. The results.json
//! the run wrote must validate against reports/schema.json.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use contract::results::Outcome;
use harness::run_dir::RunDir;
use harness::stages::Context;
use harness::stages::conformance::{self as stage, Options};
use sut_kit::manifest;

#[tokio::test]
async fn every_built_backend_passes_the_suite_and_the_results_validate() {
    let root = sut_kit::repo_root();
    let all = manifest::discover(&root.join("backends")).unwrap();
    let reports = tempfile::tempdir().unwrap();
    let mut tested = Vec::new();
    // Every backend runs before the verdict, so one failure does not hide another's.
    let mut failures = Vec::new();
    for backend in &all {
        let Some(profile) = ["release", "debug"]
            .into_iter()
            .find(|p| backend.missing_artifacts(&root, p).is_empty())
        else {
            eprintln!(
                "SKIPPED {}: not built (missing {}); run `harness build --backends {}`",
                backend.name(),
                backend.missing_artifacts(&root, "debug").join(", "),
                backend.name()
            );
            continue;
        };
        let mut run = RunDir::create(reports.path(), &root, profile).unwrap();
        let opts = Options {
            ctx: Context {
                quick: true,
                ready_timeout: Duration::from_secs(60),
                explicit: true,
                ..Context::new(root.clone())
            },
            scenarios: vec![],
        };
        let summary = stage::run(std::slice::from_ref(backend), &mut run, &opts)
            .await
            .unwrap();
        let mut matrix = Vec::new();
        conformance::report::write_matrix(&mut matrix, &summary.verdicts).unwrap();
        let matrix = String::from_utf8(matrix).unwrap();
        eprintln!("{} ({profile}):\n{matrix}", backend.name());
        let verdict = &summary.verdicts[0].1;
        if verdict.failed > 0 {
            failures.push(format!(
                "{} ({profile}) failed conformance:\n{matrix}",
                backend.name()
            ));
        }
        assert!(
            verdict
                .cases
                .iter()
                .all(|c| c.outcome != Outcome::Unsupported || c.reason.is_some())
        );
        let violations = harness::schema::file_violations(&run.path.join("results.json")).unwrap();
        assert!(
            violations.is_empty(),
            "results.json breaks the schema: {violations:?}"
        );
        tested.push(backend.name().to_owned());
    }
    eprintln!("tested: {tested:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
