//! Round trips of the contract's wire types against fixtures captured from the real `ai@6`
//! package (`sut-kit/node/capture-ui-streams.mjs` writes `tests/fixtures/ai7/`).
//!
//! Every chunk of every captured UI message stream must parse into [`UiChunk`] and serialise
//! back to the same JSON, and every captured `useChat` request body must do the same through
//! [`ChatRequest`]. A field the contract forgets would be dropped silently by a backend that
//! relays it, so equality is checked on the whole JSON value, not on the fields we know.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use contract::sse::SseDecoder;
use contract::ui_chunk::UiChunk;
use contract::ui_message::{ChatRequest, UiPart};
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ai7")
}

/// The fixture files with the given extension, sorted; at least one must exist.
fn fixtures(extension: &str) -> Vec<PathBuf> {
    let dir = fixture_dir();
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `node sut-kit/node/capture-ui-streams.mjs`",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no .{extension} fixtures in {}",
        dir.display()
    );
    files
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The data payloads of a captured stream, checking the framing on the way: whole frames only,
/// and `[DONE]` exactly once, as the last frame.
fn stream_payloads(path: &Path) -> Vec<String> {
    let bytes = fs::read(path).expect("readable fixture");
    let mut decoder = SseDecoder::new();
    let events = decoder.push(&bytes);
    assert!(
        !decoder.has_partial_frame(),
        "{}: ends inside a frame",
        name(path)
    );
    let (last, chunks) = events.split_last().expect("a non-empty stream");
    assert!(last.is_done(), "{}: last frame is not [DONE]", name(path));
    assert!(
        chunks.iter().all(|e| !e.is_done()),
        "{}: [DONE] before the end",
        name(path)
    );
    chunks.iter().map(|e| e.data.clone()).collect()
}

#[test]
fn every_captured_chunk_round_trips() {
    for path in fixtures("sse") {
        for (index, payload) in stream_payloads(&path).iter().enumerate() {
            let original: Value = serde_json::from_str(payload).expect("chunk is JSON");
            let chunk = UiChunk::from_json(payload)
                .unwrap_or_else(|e| panic!("{} chunk {index}: {e}\n{payload}", name(&path)));
            let back = serde_json::to_value(&chunk).expect("chunk serialises");
            assert_eq!(
                back,
                original,
                "{} chunk {index} changed in a round trip",
                name(&path)
            );
            assert_eq!(
                chunk.type_name(),
                original["type"].as_str().unwrap_or_default(),
                "{} chunk {index}: type_name",
                name(&path)
            );
        }
    }
}

/// Every chunk type ai@6 defines (`ui-message-chunks.ts`); `data-*` stands for the custom ones.
const ALL_CHUNK_TYPES: &[&str] = &[
    "start",
    "start-step",
    "text-start",
    "text-delta",
    "text-end",
    "reasoning-start",
    "reasoning-delta",
    "reasoning-end",
    "error",
    "tool-input-start",
    "tool-input-delta",
    "tool-input-available",
    "tool-input-error",
    "tool-approval-request",
    "tool-output-available",
    "tool-output-error",
    "tool-output-denied",
    "source-url",
    "source-document",
    "file",
    "finish-step",
    "finish",
    "abort",
    "message-metadata",
    "data-*",
];

#[test]
fn captures_cover_every_chunk_type() {
    let mut seen = BTreeSet::new();
    for path in fixtures("sse") {
        for payload in stream_payloads(&path) {
            let chunk = UiChunk::from_json(&payload).expect("chunk parses");
            let kind = chunk.type_name();
            seen.insert(
                if kind.starts_with("data-") {
                    "data-*"
                } else {
                    kind
                }
                .to_owned(),
            );
        }
    }
    let missing: Vec<_> = ALL_CHUNK_TYPES
        .iter()
        .filter(|t| !seen.contains(**t))
        .collect();
    assert!(missing.is_empty(), "no captured stream has {missing:?}");
}

#[test]
fn every_captured_request_round_trips() {
    for path in fixtures("json") {
        let text = fs::read_to_string(&path).expect("readable fixture");
        let original: Value = serde_json::from_str(&text).expect("request is JSON");
        let request: ChatRequest =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", name(&path)));
        let back = serde_json::to_value(&request).expect("request serialises");
        if back != original {
            // Name the first message that differs rather than dumping two whole conversations.
            for (index, (b, o)) in back["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .zip(original["messages"].as_array().into_iter().flatten())
                .enumerate()
            {
                assert_eq!(
                    b,
                    o,
                    "{} message {index} changed in a round trip",
                    name(&path)
                );
            }
            assert_eq!(back, original, "{} changed in a round trip", name(&path));
        }
    }
}

/// `(part kind, tool state)` pairs the captured conversation must show.
const EXPECTED_PARTS: &[&str] = &[
    "text",
    "reasoning",
    "step-start",
    "file",
    "source-url",
    "source-document",
    "data-progress",
    "tool:input-streaming",
    "tool:input-available",
    "tool:approval-requested",
    "tool:approval-responded",
    "tool:output-available",
    "tool:output-error",
    "tool:output-denied",
    "dynamic-tool:output-available",
];

#[test]
fn requests_cover_every_part_kind_and_tool_state() {
    let mut seen = BTreeSet::new();
    for path in fixtures("json") {
        let text = fs::read_to_string(&path).expect("readable fixture");
        let request: ChatRequest = serde_json::from_str(&text).expect("request parses");
        for part in request.messages.iter().flat_map(|m| &m.parts) {
            let label = match part {
                UiPart::Text { .. } => "text".to_owned(),
                UiPart::Reasoning { .. } => "reasoning".to_owned(),
                UiPart::StepStart => "step-start".to_owned(),
                UiPart::Tool(tool) => {
                    let state = serde_json::to_value(tool.state).expect("state serialises");
                    let kind = if tool.dynamic { "dynamic-tool" } else { "tool" };
                    format!("{kind}:{}", state.as_str().unwrap_or_default())
                }
                UiPart::Other(raw) => raw["type"].as_str().unwrap_or_default().to_owned(),
            };
            seen.insert(label);
        }
    }
    let missing: Vec<_> = EXPECTED_PARTS
        .iter()
        .filter(|p| !seen.contains(**p))
        .collect();
    assert!(missing.is_empty(), "no captured request has {missing:?}");
}
