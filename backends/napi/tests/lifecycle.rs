//! Start-up, shutdown and disconnects of the napi process.

// Helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rustix::process::Signal;
use support::*;

/// docs/design.md#shutdown: SIGTERM shuts a backend down cleanly within 2 s.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_when_idle_exits_zero_on_its_own() {
    let mock = mock().await;
    let server = NapiProcess::start(&mock.base_url(), &[]).await;
    assert_eq!(server.ready.backend, "napi");
    assert_eq!(
        server.ready.runtime_pid,
        Some(server.ready.pid),
        "one process"
    );
    // Serve one chat first, so the provider connection pool and the tool path have been used.
    let body = chat_body(&fast_directive("tool-single", "idle-term", ""));
    assert_eq!(post_chat(server.url(), &body).await.status, 200);

    let started = Instant::now();
    server.signal(Signal::TERM);
    let (status, log) = server.wait().await;
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        started.elapsed() < SHUTDOWN_DEADLINE,
        "took {:?}",
        started.elapsed()
    );
    assert!(!log.contains("leaked handle"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_works_like_sigterm() {
    let mock = mock().await;
    let server = NapiProcess::start(&mock.base_url(), &[]).await;
    server.signal(Signal::INT);
    let (status, log) = server.wait().await;
    assert_eq!(status.code(), Some(0), "{log}");
}

/// Posts a 500-chunk answer tagged `tag` (10 s at its pace) and reads it until text flows,
/// which means its provider request is under way; the rest of the stream.
async fn long_stream_under_way(
    server: &NapiProcess,
    tag: &str,
) -> impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin + use<> {
    let body = chat_body(&fast_directive("text", tag, " gap_ms=20 chunks=500"));
    let response = client()
        .post(format!("{}/api/chat", server.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut frames = response.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("text-delta") {
        // `client()`'s timeout covers the body too, so a stalled stream fails here.
        seen.push_str(&String::from_utf8_lossy(
            &frames.next().await.unwrap().unwrap(),
        ));
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_in_flight_and_cancels_their_provider_requests() {
    let mock = mock().await;
    let server = NapiProcess::start(&mock.base_url(), &[]).await;
    let tag = "term-in-flight";
    let mut frames = long_stream_under_way(&server, tag).await;

    let started = Instant::now();
    server.signal(Signal::TERM);
    let mut rest = Vec::new();
    while let Some(Ok(bytes)) = frames.next().await {
        rest.extend_from_slice(&bytes);
    }
    let (status, log) = server.wait().await;
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        started.elapsed() < SHUTDOWN_DEADLINE,
        "took {:?}",
        started.elapsed()
    );
    let tail = String::from_utf8_lossy(&rest);
    assert!(
        tail.contains("\"type\":\"error\""),
        "the stream ends with an error chunk: {tail}"
    );
    assert!(tail.ends_with("data: [DONE]\n\n"), "{tail}");

    let timeline = mock.timeline_store();
    assert!(timeline.wait_settled(HANG_GUARD).await);
    let requests = timeline.snapshot(Some(tag)).requests;
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].client_gone_ns.is_some(),
        "the provider request was not cancelled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnect_aborts_the_provider_request() {
    let mock = mock().await;
    let server = NapiProcess::start(&mock.base_url(), &[]).await;
    let tag = "disconnect";
    let frames = long_stream_under_way(&server, tag).await;
    drop(frames);

    let timeline = mock.timeline_store();
    assert!(
        timeline.wait_settled(HANG_GUARD).await,
        "the provider request never ended"
    );
    let requests = timeline.snapshot(Some(tag)).requests;
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(request.client_gone_ns.is_some(), "{request:?}");
    assert!(
        request.chunks.len() < 500,
        "the provider streamed to the end: {}",
        request.chunks.len()
    );

    // The process is fine afterwards.
    let after = post_chat(
        server.url(),
        &chat_body(&fast_directive("text", "after", " chunks=2")),
    )
    .await;
    assert_eq!(parse_stream(&after.body).types().last(), Some(&"finish"));
}

async fn run_main(args: &[&str]) -> std::process::Output {
    require_built();
    tokio::process::Command::new("node")
        .arg("backends/napi/main.js")
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn usage_errors_exit_2_and_help_exits_0() {
    let bad = run_main(&["--no-such-flag"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--no-such-flag"));
    assert!(bad.stdout.is_empty(), "stdout is for the ready line only");

    let missing = run_main(&["--listen", "127.0.0.1:0"]).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--provider-url"));

    let help = run_main(&["--help"]).await;
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--provider-url"));
}

#[tokio::test]
async fn a_missing_spec_corpus_is_a_clear_startup_error() {
    let out = run_main(&[
        "--listen",
        "127.0.0.1:0",
        "--provider-url",
        "http://127.0.0.1:9/v1",
        "--specs-dir",
        "no/such/dir",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no/such/dir"), "{stderr}");
    assert!(out.stdout.is_empty());
}
