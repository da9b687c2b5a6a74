//! The AI SDK as the judge, in Node (`harness/node`):
//! - every scenario's raw stream, read by `read-ui-stream.mjs` (the SDK's own
//!   `readUIMessageStream`), gives the same final message as the contract crate's reading;
//! - for every scenario that completes, that message equals what the real `streamText`
//!   (`reference-chat.mjs`, tools run through this backend's REST API) builds from the same
//!   mock stream.
//!
//! Needs Node and `harness/node/node_modules`; `npm ci` is run when the modules are missing.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Answer, Options, Stack, directive, repo_root};
use conformance::message::{first_difference, project};
use contract::scenario::CATALOGUE;
use serde_json::{Value, json};

fn node_dir() -> std::path::PathBuf {
    repo_root().join("harness/node")
}

/// Makes sure the pinned AI SDK is installed, installing it with `npm ci` if not.
fn ensure_node_modules() {
    let dir = node_dir();
    if dir.join("node_modules/ai/package.json").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--prefix"])
        .arg(&dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run npm ({e}); run `npm ci --prefix harness/node`"));
    assert!(
        status.success(),
        "`npm ci --prefix harness/node` failed; run it by hand to see why"
    );
}

/// The parts of a UIMessage as JSON, projected like the Rust reading.
fn message_parts(message: &Value) -> Vec<Value> {
    let parts = message["parts"]
        .as_array()
        .unwrap_or_else(|| panic!("no parts in {message}"));
    project(parts)
}

/// Reads every stream with the AI SDK in one Node process.
fn oracle_read(streams: &[(String, &Answer)]) -> Vec<Value> {
    let mut child = Command::new("node")
        .arg(node_dir().join("read-ui-stream.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (install Node.js 20)");
    let mut input = String::new();
    for (id, answer) in streams {
        let sse = String::from_utf8(answer.raw.clone()).expect("an SSE body is UTF-8");
        input.push_str(&json!({"id": id, "sse": sse}).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    // Written from a thread: Node answers while it reads, and a full pipe must not block us.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("the oracle finishes");
    writer
        .join()
        .expect("the writer thread")
        .expect("stdin written");
    assert!(output.status.success(), "read-ui-stream.mjs failed");
    String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON answer line"))
        .collect()
}

#[tokio::test]
async fn the_ai_sdk_reads_every_scenario_as_the_contract_parser_does() {
    ensure_node_modules();
    let stack = Stack::start(Options {
        fault_injection: true,
        idle_timeout: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let mut answers = Vec::new();
    for info in CATALOGUE {
        let extra = match info.name {
            "http-429" => "retry_after_s=0",
            "malformed-chunk" | "truncated" => "fail_at=5",
            "stall" => "fail_at=5 stall_ms=3000",
            _ => "",
        };
        let answer = stack.chat(&directive(info.name, extra)).await;
        answers.push((info.name.to_owned(), answer));
    }
    let streams: Vec<(String, &Answer)> = answers.iter().map(|(n, a)| (n.clone(), a)).collect();
    let readings = oracle_read(&streams);
    assert_eq!(readings.len(), answers.len());
    for ((name, answer), reading) in answers.iter().zip(&readings) {
        assert_eq!(reading["id"], json!(name));
        assert_eq!(
            reading["done"],
            json!(true),
            "{name}: [DONE] seen by the SDK"
        );
        let errors = reading["errors"].as_array().expect("errors");
        match answer.error_text() {
            None => assert!(reading["ok"] == json!(true), "{name}: {errors:?}"),
            // The only complaint the SDK may have is the stream's own error chunk.
            Some(text) => assert_eq!(errors, &[json!(text)], "{name}"),
        }
        let rust = answer.parts();
        let node = match reading["message"] {
            Value::Null => Vec::new(),
            ref message => message_parts(message),
        };
        if let Some(difference) = first_difference(&rust, &node) {
            panic!("{name}: {difference}");
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn completed_answers_equal_the_ai_sdk_stream_text_reference() {
    ensure_node_modules();
    let stack = Stack::start(Options::default()).await;
    for info in CATALOGUE.iter().filter(|i| !i.scenario.is_fault()) {
        let text = directive(info.name, "");
        let answer = stack.chat(&text).await;
        let output = tokio::task::spawn_blocking({
            let (base_url, tools_url) = (stack.mock.base_url(), stack.url.clone());
            move || {
                Command::new("node")
                    .arg(node_dir().join("reference-chat.mjs"))
                    .args(["--base-url", &base_url, "--tools-rest", &tools_url])
                    .args(["--text", &text])
                    .stderr(Stdio::inherit())
                    .output()
                    .expect("node runs")
            }
        })
        .await
        .expect("the reference run");
        assert!(
            output.status.success(),
            "{}: reference-chat.mjs failed",
            info.name
        );
        let reference: Value = serde_json::from_slice(&output.stdout).expect("reference JSON");
        assert_eq!(reference["errors"], json!([]), "{}", info.name);
        let expected = message_parts(&reference["message"]);
        if let Some(difference) = first_difference(&answer.parts(), &expected) {
            panic!("{}: rust-only vs streamText: {difference}", info.name);
        }
        // Same chunk sequence too, apart from ids (text ids after the first are random).
        let reference_types: Vec<&str> = reference["chunks"]
            .as_array()
            .expect("chunks")
            .iter()
            .map(|c| c["type"].as_str().expect("a type"))
            .collect();
        assert_eq!(answer.types(), reference_types, "{}", info.name);
    }
    stack.stop().await;
}

/// The history conversion matches `convertToModelMessages` + `@ai-sdk/openai`: a second turn
/// after a tool answer reads the same through both.
#[tokio::test]
async fn a_second_turn_after_tool_calls_equals_the_reference() {
    ensure_node_modules();
    let stack = Stack::start(Options::default()).await;
    let first_text = directive("tool-chain", "");
    let first = stack.chat(&first_text).await;
    let body = common::second_turn_body(&first_text, &first, &directive("tool-error", ""));
    let answer = stack.chat_body(&body).await;
    answer.assert_completes(2, "stop");
    let output = tokio::task::spawn_blocking({
        let (base_url, tools_url) = (stack.mock.base_url(), stack.url.clone());
        let body = body.to_string();
        move || {
            let mut child = Command::new("node")
                .arg(node_dir().join("reference-chat.mjs"))
                .args([
                    "--base-url",
                    &base_url,
                    "--tools-rest",
                    &tools_url,
                    "--body-stdin",
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("node runs");
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(body.as_bytes()).expect("body written");
            drop(stdin);
            child.wait_with_output().expect("the reference run")
        }
    })
    .await
    .expect("the reference run");
    assert!(output.status.success(), "reference-chat.mjs failed");
    let reference: Value = serde_json::from_slice(&output.stdout).expect("reference JSON");
    let expected = message_parts(&reference["message"]);
    if let Some(difference) = first_difference(&answer.parts(), &expected) {
        panic!("second turn: rust-only vs streamText: {difference}");
    }
    stack.stop().await;
}
