//! The Rust checker against streams the real `ai@6` produced (`contract/tests/fixtures/ai7`):
//! the SDK's own output breaks none of the client's rules the arena relies on, and the Rust
//! reading builds the same final message as the AI SDK's `readUIMessageStream`.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use sut_kit::checker::read_stream;
use sut_kit::message::{first_difference, project};
use sut_kit::oracle::Oracle;

/// Rules of the arena that some captured streams break on purpose, since they show SDK features
/// the arena's backends never use: custom `createUIMessageStream` writers that put data parts
/// before `start` (`streamText` always opens with `start`), and client-side tools or tool
/// approvals that leave a call without a result (every arena tool runs on the server).
const EXPECTED_VIOLATIONS: &[(&str, &str)] = &[
    ("data-parts.sse", "the stream must open with `start`"),
    (
        "response-04-approval-denied-history.sse",
        "the stream must open with `start`",
    ),
    (
        "response-05-regenerate.sse",
        "the stream must open with `start`",
    ),
    (
        "response-02-tool-results-sources-file.sse",
        "never got its result",
    ),
    ("response-07-aborted-tool-input.sse", "never got its result"),
    ("response-09-edit-first-message.sse", "never got its result"),
    ("tool-approval.sse", "never got its result"),
];
/// Streams that continue an earlier message (after a tool approval): the SDK reads them only
/// together with that message, which a one-stream reading does not have.
const CONTINUATIONS: &[&str] = &["response-03-approval-responded-client-tool-output.sse"];

#[tokio::test]
async fn real_sdk_streams_pass_and_both_readings_agree() {
    let root = sut_kit::repo_root();
    let fixtures = root.join("contract/tests/fixtures/ai7");
    let logs = tempfile::tempdir().unwrap();
    let oracle = Oracle::start(&root, logs.path()).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sse"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "fixtures missing under {}",
        fixtures.display()
    );
    let mut problems = Vec::new();
    // Each expected violation must be met, or a rule stopped firing on a real stream.
    let mut expected_unmet: Vec<&(&str, &str)> = EXPECTED_VIOLATIONS.iter().collect();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if CONTINUATIONS.contains(&name.as_str()) {
            continue;
        }
        let raw = std::fs::read(file).unwrap();
        let reading = read_stream(&raw);
        let node = oracle.read(&raw).await.unwrap();
        for v in &reading.violations {
            let expected = |(f, text): &&(&str, &str)| *f == name && v.contains(text);
            if !EXPECTED_VIOLATIONS.iter().any(|e| expected(&e)) {
                problems.push(format!("{name}: violation: {v}"));
            }
            expected_unmet.retain(|e| !expected(e));
        }
        if node.chunk_types != reading.chunk_types() {
            problems.push(format!(
                "{name}: chunk types {:?} vs {:?}",
                reading.chunk_types(),
                node.chunk_types
            ));
        }
        if let Some(diff) = first_difference(&reading.parts, &project(&node.parts())) {
            problems.push(format!("{name}: {diff}"));
        }
    }
    for (name, text) in expected_unmet {
        problems.push(format!(
            "{name}: the expected violation {text:?} was not reported"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
