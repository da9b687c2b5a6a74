//! The chat page in Chromium against one backend, its debug build (docs/chat-page.md): the
//! browser stage end to end, on the cases `compare --quick` leaves out
//! (`browser::TEST_CASES`; CI plays the others on every backend in compare's browser
//! stage: docs/chat-page.md#in-ci-each-case-once). No case may fail, every case leaves its
//! screenshot, and the results.json the run wrote validates. The run folder is kept under
//! `target/tmp/browser-suite/`: its screenshots are this test's output, for a person to look at.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use harness::run_dir::RunDir;
use harness::stages::Context;
use harness::stages::browser::{self, Options};
use sut_kit::manifest;

/// PNG files start with these eight bytes.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// The backend the suite plays on: the quickest to start and restart, since the cases here
/// exercise the page and the shell every backend shares.
const BACKEND: &str = "rust-only";

fn assert_png(run: &RunDir, shot: &str, what: &str) {
    let bytes = std::fs::read(run.path.join(shot)).unwrap();
    assert!(
        bytes.starts_with(PNG_SIGNATURE),
        "{what}: {shot} is not a PNG"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_page_works_in_chromium() {
    let root = sut_kit::repo_root();
    let all = manifest::discover(&root.join("backends")).unwrap();
    let backends = manifest::select(all, &[BACKEND.to_owned()]).unwrap();
    let reports = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-suite");
    let mut run = RunDir::create(&reports, &root, "debug").unwrap();
    let opts = Options {
        ctx: Context {
            ready_timeout: Duration::from_secs(60),
            // scripts/setup builds every backend: one that is not is a failure, not a skip.
            explicit: true,
            ..Context::new(root)
        },
        cases: browser::TEST_CASES
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
    };
    let summary = browser::run(&backends, &mut run, &opts).await.unwrap();
    let mut table = Vec::new();
    summary.write(&mut table, &run.path).unwrap();
    let table = String::from_utf8(table).unwrap();
    eprintln!("{table}");
    assert_eq!(summary.verdicts.len(), 1, "{table}");
    assert!(!summary.any_failed(), "{table}");
    for (name, verdict) in &summary.verdicts {
        let mut played: Vec<&str> = verdict.cases.iter().map(|c| c.name.as_str()).collect();
        let mut asked = browser::TEST_CASES.to_vec();
        played.sort_unstable();
        asked.sort_unstable();
        assert_eq!(played, asked, "the cases asked for, each once");
        for case in &verdict.cases {
            let shot = case.screenshot.as_deref();
            let shot = shot.unwrap_or_else(|| panic!("{}: no screenshot", case.name));
            assert_png(&run, shot, &case.name);
        }
        let shot = verdict
            .screenshot
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no conversation screenshot"));
        assert_png(&run, shot, name);
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
}
