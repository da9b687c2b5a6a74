//! Start-up, shutdown and disconnects of the napi process.

mod support;

use std::time::{Duration, Instant};

use conformance::cases;
use conformance::target::Target;
use contract::scenario::Scenario;
use rustix::process::Signal;
use support::{chat, text};
use sut_kit::client::{self, Arriving};
use sut_kit::guards::HANG_GUARD;
use sut_kit::orchestrate::BackendInstance;

/// docs/design.md#shutdown: SIGTERM shuts a backend down cleanly within 2 s.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

/// Sends `signal` and waits for the process to exit; its exit code and its whole stderr.
async fn signal_and_wait(server: BackendInstance, signal: Signal) -> (Option<i32>, String) {
    server.process.signal(signal);
    exit_of(server).await
}

/// Waits for the process to exit; its exit code and its whole stderr.
async fn exit_of(mut server: BackendInstance) -> (Option<i32>, String) {
    let status = server.process.wait_exit(HANG_GUARD).await;
    (status.and_then(|s| s.code()), server.process.stderr())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_when_idle_exits_zero_on_its_own() {
    let target = Target::start("napi").await;
    let server = target.instance("idle-term", &[]).await;
    assert_eq!(server.ready().backend, "napi");
    assert_eq!(
        server.ready().runtime_pid,
        Some(server.ready().pid),
        "one process"
    );
    // Serve one chat first, so the provider connection pool and the tool path have been used.
    let directive = cases::directive(Scenario::ToolSingle, "idle-term", false);
    assert_eq!(chat(server.url(), &directive.render()).await.status, 200);

    let started = Instant::now();
    let (code, log) = signal_and_wait(server, Signal::TERM).await;
    assert_eq!(code, Some(0), "{log}");
    assert!(
        started.elapsed() < SHUTDOWN_DEADLINE,
        "took {:?}",
        started.elapsed()
    );
    assert!(!log.contains("leaked handle"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_works_like_sigterm() {
    let target = Target::start("napi").await;
    let server = target.instance("int", &[]).await;
    let (code, log) = signal_and_wait(server, Signal::INT).await;
    assert_eq!(code, Some(0), "{log}");
}

/// Posts a 500-chunk answer tagged `tag` (10 s at its pace) and reads it until text flows,
/// which means its provider request is under way; the answer still arriving.
async fn long_stream_under_way(server: &BackendInstance, tag: &str) -> Arriving {
    let http = client::http_client().expect("the test client");
    let body = cases::single_turn("chat-1", text(tag, 500, 20));
    let request = http.post(format!("{}/api/chat", server.url())).json(&body);
    let mut stream = client::open(request).await.expect("the server answers");
    // The client's timeout covers the body too, so a stalled stream fails here.
    assert!(stream.read_until("text-delta").await, "text flows");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_in_flight_and_cancels_their_provider_requests() {
    let target = Target::start("napi").await;
    let server = target.instance("term-in-flight", &[]).await;
    let tag = "term-in-flight";
    let stream = long_stream_under_way(&server, tag).await;
    let seen = stream.body().len();

    let started = Instant::now();
    server.process.signal(Signal::TERM);
    let answer = stream.finish().await;
    let (code, log) = exit_of(server).await;
    assert_eq!(code, Some(0), "{log}");
    assert!(
        started.elapsed() < SHUTDOWN_DEADLINE,
        "took {:?}",
        started.elapsed()
    );
    let tail = String::from_utf8_lossy(&answer.body[seen..]);
    assert!(
        tail.contains("\"type\":\"error\""),
        "the stream ends with an error chunk: {tail}"
    );
    assert!(tail.ends_with("data: [DONE]\n\n"), "{tail}");

    let timeline = target
        .mock
        .store()
        .expect("the test starts its mock in process");
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
    let target = Target::start("napi").await;
    let server = target.instance("disconnect", &[]).await;
    let tag = "disconnect";
    let stream = long_stream_under_way(&server, tag).await;
    drop(stream);

    let timeline = target
        .mock
        .store()
        .expect("the test starts its mock in process");
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
    let after = chat(server.url(), &text("after", 2, 1)).await.reading();
    assert_eq!(
        after.chunk_types().last().map(String::as_str),
        Some("finish")
    );
}

#[tokio::test]
async fn usage_errors_exit_2_and_help_exits_0() {
    let bad = support::node(&["backends/napi/main.js", "--no-such-flag"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--no-such-flag"));
    assert!(bad.stdout.is_empty(), "stdout is for the ready line only");

    let missing = support::node(&["backends/napi/main.js", "--listen", "127.0.0.1:0"]).await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--provider-url"));

    let help = support::node(&["backends/napi/main.js", "--help"]).await;
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--provider-url"));
}

#[tokio::test]
async fn a_missing_spec_corpus_is_a_clear_startup_error() {
    let out = support::node(&[
        "backends/napi/main.js",
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
