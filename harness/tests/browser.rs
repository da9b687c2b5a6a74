//! The chat page in Chromium against every backend, debug builds (docs/chat-page.md): the
//! browser stage end to end. No case may fail, every backend gets its screenshot, and the
//! results.json the run wrote validates. The run folder is kept under `target/tmp/browser-suite/`:
//! its screenshots are this test's output, for a person to look at.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use conformance::manifest;
use harness::browser_stage::{self, Options};
use harness::run_dir::RunDir;

/// PNG files start with these eight bytes.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_serves_a_chat_page_that_works_in_chromium() {
    let root = conformance::repo_root();
    let all = manifest::discover(&root.join("backends")).unwrap();
    let reports = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-suite");
    let mut run = RunDir::create(&reports, &root, "debug").unwrap();
    let opts = Options {
        root,
        cases: vec![],
        ready_timeout: Duration::from_secs(60),
        // Every backend is built by scripts/setup: one that is not is a failure, not a skip.
        explicit: true,
    };
    let summary = browser_stage::run(&all, &mut run, &opts).await.unwrap();
    let mut table = Vec::new();
    summary.write(&mut table, &run.path).unwrap();
    let table = String::from_utf8(table).unwrap();
    eprintln!("{table}");
    assert_eq!(summary.verdicts.len(), all.len(), "{table}");
    for (name, verdict) in &summary.verdicts {
        let shot = verdict
            .screenshot
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no screenshot"));
        let bytes = std::fs::read(run.path.join(shot)).unwrap();
        assert!(
            bytes.starts_with(PNG_SIGNATURE),
            "{name}: {shot} is not a PNG"
        );
        assert!(
            verdict
                .browser_version
                .as_deref()
                .is_some_and(|v| v.starts_with("Chromium"))
        );
    }
    let violations = harness::schema::file_violations(&run.path.join("results.json")).unwrap();
    assert!(
        violations.is_empty(),
        "results.json breaks the schema: {violations:?}"
    );
    assert!(!summary.any_failed(), "{table}");
}
