//! The suites every backend passes, on the comparison stack with an AI SDK of its own: Node.js
//! 20 with ai@6 (docs/runtimes.md#stacks). The conformance suite passes whole (its rules accept
//! what ai@6 sent); the parity suite compares with ai@7's own `streamText` and with rust-only,
//! which follow ai@7, so it may differ only where the upgrade changed what the model or the
//! client is told (docs/ai7-upgrade.md): a tool error's text, a refused call's. Ignored by
//! default, since CI does not install that stack; run after
//! `npm ci --prefix runtimes/node20-ai6 && npm run build --prefix runtimes/node20-ai6` with
//! `cargo test -p conformance --test stacks -- --ignored --test-threads=1`.

use conformance::target::Target;
use sut_kit::oracle::Oracle;

/// The parity cases whose answers ai@7 changed: the model reads a tool error as
/// `{"error": text}` and a refused call as `Name: message`; ai@6 also repeated a refused input
/// as a `tool-output-error`.
const CHANGED_BY_THE_UPGRADE: &[&str] = &[
    "tool-error:",
    "tool-bad-args:",
    "panic-tool:",
    "second turn after tool calls:",
];

async fn passes_on_ai6(backend: &str) {
    let target = Target::start(backend).await;
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let oracle = Oracle::start(&sut_kit::repo_root(), scratch.path())
        .unwrap_or_else(|e| panic!("the AI SDK oracle: {e:#}"));
    let failed = target.conformance(&oracle).await;
    assert!(failed.is_empty(), "{backend}: {failed:#?}");
    let differ = target.parity(&oracle).await;
    let unexplained: Vec<&String> = differ
        .iter()
        .filter(|d| !CHANGED_BY_THE_UPGRADE.iter().any(|c| d.starts_with(c)))
        .collect();
    assert!(unexplained.is_empty(), "{backend}: {unexplained:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs runtimes/node20-ai6 installed and built"]
async fn unix_on_node20_ai6() {
    passes_on_ai6("unix@node20-ai6").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs runtimes/node20-ai6 installed and built"]
async fn http_on_node20_ai6() {
    passes_on_ai6("http@node20-ai6").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs runtimes/node20-ai6 installed and built"]
async fn napi_on_node20_ai6() {
    passes_on_ai6("napi@node20-ai6").await;
}
