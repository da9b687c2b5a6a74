//! The evidence stage's debug checks on real backends in the debug build: the request id a
//! client sends reaches the sidecar's own failure lines, every seeded failure is checked, and the
//! figures are the count of the verdicts (docs/report.md#debug-experience).

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use contract::results::{DebugEvidence, Verdict};
use harness::stages::evidence::debug;
use sut_kit::manifest::{self, Backend};

fn backend(root: &Path, name: &str) -> Backend {
    manifest::discover(&root.join("backends"))
        .unwrap()
        .into_iter()
        .find(|b| b.name() == name)
        .unwrap()
}

fn failure<'a>(e: &'a DebugEvidence, name: &str) -> &'a contract::results::SeededFailure {
    e.failures.iter().find(|f| f.failure == name).unwrap()
}

fn recount(e: &DebugEvidence) -> DebugEvidence {
    let mut again = e.clone();
    debug::score(&mut again);
    again
}

#[tokio::test]
async fn the_request_id_reaches_the_sidecars_failure_line_and_every_failure_is_checked() {
    let root = sut_kit::repo_root();
    let chosen = [backend(&root, "unix"), backend(&root, "rust-only")];
    assert!(
        root.join("target/debug/mock-provider").is_file()
            && chosen
                .iter()
                .all(|b| b.missing_artifacts(&root, "debug").is_empty()),
        "scripts/setup builds the debug backends"
    );
    let logs = tempfile::tempdir().unwrap();
    let mock = harness::provider::start(&root, "debug", logs.path())
        .await
        .unwrap();
    let cfg = harness::provider::start_settings(&root, "debug", &mock, Duration::from_secs(60));
    for b in &chosen {
        let e = debug::measure(b, &cfg, &logs.path().join(b.name()))
            .await
            .unwrap();
        assert_eq!(e.failures.len(), 6, "{}: every seed is recorded", b.name());
        assert_eq!(
            recount(&e),
            e,
            "{}: the figures count the verdicts",
            b.name()
        );
        let provider_500 = failure(&e, "provider-500");
        assert!(
            provider_500.client_saw.contains("error chunk"),
            "{}: {}",
            b.name(),
            provider_500.client_saw
        );
        // A call refused before any tool runs is logged where it was refused, with the id.
        let refused = failure(&e, "bad-tool-argument");
        assert!(
            refused.checks.iter().all(|c| c.verdict == Verdict::Met),
            "{}: {refused:#?}",
            b.name()
        );
        // Nothing of a seeded failure is skipped: each check is met or failed.
        for f in e.failures.iter().filter(|f| f.failure != "runtime-dies") {
            assert!(
                f.checks.iter().all(|c| c.verdict != Verdict::NotApplicable),
                "{}: {f:?}",
                b.name()
            );
        }
        // The public hop replays everywhere.
        let public = e
            .checks
            .iter()
            .find(|c| c.check.starts_with("replay the public hop"))
            .unwrap();
        assert_eq!(public.verdict, Verdict::Met, "{}: {public:?}", b.name());
        // So does the provider hop, with the key from the calling process's environment.
        let provider = e
            .checks
            .iter()
            .find(|c| c.check.starts_with("replay the provider hop"))
            .unwrap();
        assert_eq!(provider.verdict, Verdict::Met, "{}: {provider:?}", b.name());
        if b.name() == "unix" {
            let malformed = failure(&e, "malformed-chunk");
            let sidecar_line = malformed
                .log_lines
                .iter()
                .find(|l| l.contains(": sidecar[") && l.contains(&malformed.request_id));
            assert!(sidecar_line.is_some(), "{:#?}", malformed.log_lines);
            // The hops between its processes are there to replay: the sidecar's and the tools'.
            let inner = e.checks.iter().filter(|c| {
                c.check.starts_with("replay the sidecar hop")
                    || c.check.starts_with("replay the tool hop")
            });
            assert_eq!(inner.count(), 2, "{:#?}", e.checks);
        }
    }
    mock.stop().await;
}
