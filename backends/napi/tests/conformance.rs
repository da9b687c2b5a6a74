//! Every scenario of the catalogue through `node backends/napi/main.js`, read by the contract's
//! parser and by the AI SDK's own client code, compared with the AI SDK's own answer
//! (`harness/node/reference-chat.mjs`: `streamText` against the same mock provider, tools
//! through this backend's REST routes, which the contract makes identical to the tools): the
//! final message must be the same), and with the rust-only backend's answer read the same way
//! (same final message, same error texts).

// Helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use contract::scenario::{CATALOGUE, Expected, Scenario};
use serde_json::Value;
use support::*;

/// The idle timeout the conformance server runs with, so `stall` ends in seconds.
const IDLE_TIMEOUT_S: &str = "1";
/// Longer than [`IDLE_TIMEOUT_S`]: the stall must trip the timeout.
const STALL_MS: u64 = 3_000;

struct Case {
    scenario: Scenario,
    answer: ChatAnswer,
    /// The AI SDK's own stream for the same request (none for `stall`: see `check_case`).
    reference_sse: Option<String>,
    /// The rust-only backend's answer to the same request.
    rust_only: ChatAnswer,
}

fn directive_for(scenario: Scenario) -> String {
    let tag = format!("conformance-{}", scenario.name());
    let extra = match scenario {
        Scenario::Stall => format!(" stall_ms={STALL_MS}"),
        _ => String::new(),
    };
    fast_directive(scenario.name(), &tag, &extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_matches_the_ai_sdk_reading_and_reference() {
    let mock = mock().await;
    // Fault injection on, so `panic-tool` (a fault both backends survive) is compared too;
    // `crash-tool` kills the napi process by design and is studied in tests/faults.rs.
    let flags = [
        "--idle-timeout-s",
        IDLE_TIMEOUT_S,
        "--enable-fault-injection",
    ];
    let server = NapiProcess::start(&mock.base_url(), &flags).await;
    let rust_only = NapiProcess::start_rust_only(&mock.base_url(), &flags).await;

    let scenarios: Vec<Scenario> = CATALOGUE
        .iter()
        .filter(|info| info.scenario != Scenario::CrashTool)
        .map(|info| info.scenario)
        .collect();
    let mut cases = Vec::new();
    for scenario in &scenarios {
        let body = chat_body(&format!(
            "Tell me about specs. {}",
            directive_for(*scenario)
        ));
        let answer = post_chat(server.url(), &body).await;
        let rust_only_answer = post_chat(rust_only.url(), &body).await;
        // The reference has neither the idle timeout (`stall`) nor a REST route for `__panic`.
        let reference_sse = if matches!(*scenario, Scenario::Stall | Scenario::PanicTool) {
            None
        } else {
            let run = reference(&mock.base_url(), server.url(), &body).await;
            Some(run["sse"].as_str().unwrap_or_default().to_owned())
        };
        cases.push(Case {
            scenario: *scenario,
            answer,
            reference_sse,
            rust_only: rust_only_answer,
        });
    }

    // Both streams of each case go through the same reader, the AI SDK's useChat code.
    let mut streams: Vec<(String, String)> = Vec::new();
    for case in &cases {
        streams.push((case.scenario.name().to_owned(), case.answer.body.clone()));
        streams.push((
            format!("{}/rust-only", case.scenario.name()),
            case.rust_only.body.clone(),
        ));
        if let Some(sse) = &case.reference_sse {
            streams.push((format!("{}/reference", case.scenario.name()), sse.clone()));
        }
    }
    let readings = oracle(&streams).await;
    let reading_of = |id: &str| readings.iter().find(|r| r["id"] == id).cloned();

    let mut failures = Vec::new();
    for case in &cases {
        let name = case.scenario.name();
        let ours = reading_of(name).unwrap_or_default();
        let reference = reading_of(&format!("{name}/reference"));
        if let Err(why) = check_case(case, &ours, reference.as_ref()) {
            failures.push(format!("{name}: {why}"));
        }
        let rust_only = reading_of(&format!("{name}/rust-only")).unwrap_or_default();
        if let Err(why) = same_as_rust_only(&ours, &rust_only) {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "scenarios failed:\n{}",
        failures.join("\n")
    );
}

fn check_case(case: &Case, reading: &Value, reference: Option<&Value>) -> Result<(), String> {
    let answer = &case.answer;
    if answer.status != 200 {
        return Err(format!("status {} body {}", answer.status, answer.body));
    }
    for (name, value) in contract::UI_STREAM_HEADERS {
        if *name == "connection" {
            continue; // hop-by-hop; HTTP/1.1 keep-alive is the default anyway
        }
        let got = answer.headers.get(*name).and_then(|v| v.to_str().ok());
        if got != Some(*value) {
            return Err(format!("header {name}: {got:?}, expected {value}"));
        }
    }
    let parsed = parse_stream(&answer.body);
    if !parsed.done || parsed.trailing_garbage {
        return Err(format!(
            "stream not ended by exactly one [DONE]: {:?}",
            parsed.types()
        ));
    }
    if reading["done"] != true {
        return Err(format!("the AI SDK reader saw no [DONE]: {reading}"));
    }
    let oracle_types: Vec<&str> = reading["chunkTypes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if oracle_types != parsed.types() {
        return Err(format!(
            "the contract parser and the AI SDK disagree on the chunks: {:?} vs {oracle_types:?}",
            parsed.types()
        ));
    }

    let completes = case.scenario.info().expected == Expected::Completes
        || case.scenario == Scenario::PanicTool;
    if completes {
        if reading["ok"] != true {
            return Err(format!("the AI SDK reported errors: {}", reading["errors"]));
        }
        let types = parsed.types();
        if types.first() != Some(&"start") || types.last() != Some(&"finish") {
            return Err(format!("a complete answer runs start..finish: {types:?}"));
        }
    } else {
        // docs/design.md#upstream-failures-and-disconnects: an upstream failure mid-stream ends the stream with an error chunk.
        if parsed.types().last() != Some(&"error") {
            return Err(format!(
                "a failing upstream ends in an error chunk: {:?}",
                parsed.types()
            ));
        }
        if reading["ok"] != false {
            return Err("the AI SDK reader saw no error".into());
        }
    }
    let our_errors: Vec<&str> = parsed
        .chunks
        .iter()
        .filter_map(|c| match c {
            contract::ui_chunk::UiChunk::Error { error_text } => Some(error_text.as_str()),
            _ => None,
        })
        .collect();
    if reading["errors"] != serde_json::json!(our_errors) {
        return Err(format!(
            "the readers disagree on the errors: {our_errors:?} vs {}",
            reading["errors"]
        ));
    }
    if case.scenario == Scenario::Long {
        let deltas = parsed
            .types()
            .iter()
            .filter(|t| **t == "text-delta")
            .count();
        if deltas != 1000 {
            return Err(format!(
                "long: {deltas} text-deltas, expected 1000 (one per provider chunk)"
            ));
        }
    }

    // The stall scenario depends on the server's idle timeout, which the reference run lacks.
    if case.scenario == Scenario::PanicTool {
        let tool_error = parsed.chunks.iter().find_map(|c| match c {
            contract::ui_chunk::UiChunk::ToolOutputError { error_text, .. } => Some(error_text),
            _ => None,
        });
        return match tool_error {
            Some(text) if text.contains("tool panicked") => Ok(()),
            other => Err(format!(
                "panic-tool: expected a `tool panicked` tool error, got {other:?}"
            )),
        };
    }
    if case.scenario == Scenario::Stall {
        let error = parsed.error_text().unwrap_or_default();
        return if error.contains("sent nothing") || error.contains("idle") {
            Ok(())
        } else {
            Err(format!(
                "stall: expected the idle-timeout error, got {error:?}"
            ))
        };
    }
    let Some(reference) = reference else {
        return Err("no reference reading".into());
    };
    if !completes {
        // The bare SDK reads on past some upstream faults (a malformed chunk) or names them
        // vaguely; the sidecar's chat function (shared by every JS backend) stops there, as
        // docs/design.md#an-upstream-failure-ends-the-answer demands. What was shown before the fault must still be what the SDK shows.
        let ours = message_text(&reading["message"]);
        let theirs = message_text(&reference["message"]);
        return if theirs.starts_with(&ours) {
            Ok(())
        } else {
            Err(format!(
                "text before the fault is not the SDK's: {ours:?} vs {theirs:?}"
            ))
        };
    }
    let ours = normalized_message(&reading["message"]);
    let theirs = normalized_message(&reference["message"]);
    if ours != theirs {
        return Err(format!(
            "final message differs from the AI SDK's own:\n napi: {ours}\n  sdk: {theirs}"
        ));
    }
    // Error *texts* are not compared with the reference: they follow the sidecar's error-text
    // rule (backends/sidecar/src/errors.mjs), shared by every JS-based backend, which names
    // failures more precisely than the bare SDK (e.g. a truncated provider stream). Their
    // parity across backends is the harness's conformance stage.
    Ok(())
}

/// The same final message and the same errors as the rust-only backend, both read by the AI
/// SDK's client code.
fn same_as_rust_only(ours: &Value, rust_only: &Value) -> Result<(), String> {
    let (a, b) = (
        normalized_message(&ours["message"]),
        normalized_message(&rust_only["message"]),
    );
    if a != b {
        return Err(format!(
            "final message differs from rust-only's:\n      napi: {a}\n rust-only: {b}"
        ));
    }
    if ours["errors"] != rust_only["errors"] {
        return Err(format!(
            "errors differ from rust-only's: {} vs {}",
            ours["errors"], rust_only["errors"]
        ));
    }
    Ok(())
}

/// The concatenated text parts of a UIMessage (empty for `null`).
fn message_text(message: &Value) -> String {
    message["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p["type"] == "text")
                .filter_map(|p| p["text"].as_str())
                .collect()
        })
        .unwrap_or_default()
}
