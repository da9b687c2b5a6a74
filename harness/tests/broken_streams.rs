//! A backend that breaks the AI SDK client's rules is reported FAILED, with the right reason
//! and its raw answer saved. The "backend" is a shell process that prints a ready line pointing
//! at a small axum server inside the test, which answers every chat with a scripted stream.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use contract::results::Outcome;
use harness::run_dir::RunDir;
use harness::stages::Context;
use harness::stages::conformance::{self as stage, Options};

const NO_TEXT_START: &str = concat!(
    "data: {\"type\":\"start\"}\n\n",
    "data: {\"type\":\"start-step\"}\n\n",
    "data: {\"type\":\"text-delta\",\"id\":\"t1\",\"delta\":\"hello\"}\n\n",
    "data: {\"type\":\"text-end\",\"id\":\"t1\"}\n\n",
    "data: {\"type\":\"finish-step\"}\n\n",
    "data: {\"type\":\"finish\",\"finishReason\":\"stop\"}\n\n",
    "data: [DONE]\n\n",
);

const NO_TOOL_RESULT: &str = concat!(
    "data: {\"type\":\"start\"}\n\n",
    "data: {\"type\":\"start-step\"}\n\n",
    "data: {\"type\":\"tool-input-start\",\"toolCallId\":\"call_1\",\"toolName\":\"get_spec\"}\n\n",
    "data: {\"type\":\"tool-input-delta\",\"toolCallId\":\"call_1\",\"inputTextDelta\":\"{}\"}\n\n",
    "data: {\"type\":\"tool-input-available\",\"toolCallId\":\"call_1\",\"toolName\":\"get_spec\",\"input\":{}}\n\n",
    "data: {\"type\":\"finish-step\"}\n\n",
    "data: {\"type\":\"finish\",\"finishReason\":\"stop\"}\n\n",
    "data: [DONE]\n\n",
);

/// Serves `body` as a UI message stream with the right headers, for every chat request.
async fn fake_server(body: &'static str) -> String {
    let app = Router::new().route(
        "/api/chat",
        post(move || async move {
            (
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::CACHE_CONTROL, "no-cache"),
                    (
                        header::HeaderName::from_static("x-vercel-ai-ui-message-stream"),
                        "v1",
                    ),
                    (header::HeaderName::from_static("x-accel-buffering"), "no"),
                ],
                body,
            )
                .into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Runs the named scenarios against a fake backend serving `body`; returns the run folder and
/// the recorded cases.
async fn run_fake(
    dir: &Path,
    body: &'static str,
    scenario: &str,
) -> (RunDir, Vec<contract::results::CaseResult>) {
    let url = fake_server(body).await;
    let pid_file = dir.join("pids");
    let script = format!(
        "echo $$ >> {p}; echo '{{\"event\":\"ready\",\"backend\":\"fake\",\"url\":\"{url}\",\"pid\":'$$'}}'; exec sleep 600",
        p = pid_file.display()
    );
    let backend =
        sut_kit::doubles::shell_backend(dir, "fake", &script).expect("the test double's manifest");
    let root = sut_kit::repo_root();
    let mut run = RunDir::create(&dir.join("reports"), &root, "debug").unwrap();
    let opts = Options {
        ctx: Context {
            quick: true,
            ready_timeout: Duration::from_secs(10),
            explicit: true,
            ..Context::new(root)
        },
        scenarios: vec![scenario.to_owned()],
    };
    let summary = stage::run(&[backend], &mut run, &opts).await.unwrap();
    assert!(summary.any_failed());
    let pids = sut_kit::doubles::recorded_pids(&pid_file);
    assert!(!pids.is_empty());
    sut_kit::doubles::all_gone(&pids)
        .await
        .expect("a fake backend outlived the suite");
    let cases = run.results.backends["fake"]
        .conformance
        .clone()
        .unwrap()
        .cases;
    (run, cases)
}

fn case<'a>(
    cases: &'a [contract::results::CaseResult],
    name: &str,
) -> &'a contract::results::CaseResult {
    cases
        .iter()
        .find(|c| c.scenario == name)
        .unwrap_or_else(|| panic!("no case {name}: {cases:?}"))
}

#[tokio::test]
async fn a_text_delta_without_text_start_fails_with_that_reason_and_the_stream_saved() {
    let dir = tempfile::tempdir().unwrap();
    let (run, cases) = run_fake(dir.path(), NO_TEXT_START, "text").await;
    let text = case(&cases, "text");
    assert_eq!(text.outcome, Outcome::Failed);
    let reason = text.reason.as_deref().unwrap();
    assert!(
        reason.contains("text-delta for `t1` outside its text-start/text-end"),
        "{reason}"
    );
    let saved = run.path.join(text.raw_stream.as_deref().unwrap());
    let raw = std::fs::read_to_string(saved).unwrap();
    assert!(raw.contains("\"delta\":\"hello\""), "{raw}");
    assert_eq!(case(&cases, "multi-turn/text").outcome, Outcome::Failed);
    // The run's results.json says the same.
    let on_disk = std::fs::read_to_string(run.path.join("results.json")).unwrap();
    assert!(on_disk.contains("outside its text-start/text-end"));
}

#[tokio::test]
async fn a_tool_call_without_its_result_fails_with_that_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (_run, cases) = run_fake(dir.path(), NO_TOOL_RESULT, "tool-single").await;
    let single = case(&cases, "tool-single");
    assert_eq!(single.outcome, Outcome::Failed);
    let reason = single.reason.as_deref().unwrap();
    assert!(
        reason.contains("tool call `call_1` (get_spec) never got its result"),
        "{reason}"
    );
}
