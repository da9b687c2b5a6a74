//! What each kind of fault does to the one napi process (README.md, "Faults"):
//! an ordinary JS exception costs one request; `__crash` kills the process with every request
//! in it; `__panic` in a tool is a tool error; a Rust panic's fate depends on the boundary.

mod support;

use std::os::unix::process::ExitStatusExt;

use conformance::cases;
use conformance::target::Target;
use contract::scenario::Scenario;
use contract::ui_chunk::UiChunk;
use futures::future::join_all;
use rustix::process::Signal;
use support::{chat, text};
use sut_kit::client;
use sut_kit::guards::HANG_GUARD;

/// The marker `lib/chat-handler.js` honours under `--enable-fault-injection`.
const JS_THROW_MARKER: &str = "[[napi-fault:js-throw]]";
const FAULT_INJECTION: &str = "--enable-fault-injection";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_exception_fails_its_request_only() {
    let target = Target::start("napi").await;
    let mut server = target.instance("js-throw", &[FAULT_INJECTION]).await;
    let url = server.url().to_owned();

    // Concurrent healthy requests long enough to be in flight when the faulty one throws.
    let healthy = (0..3).map(|i| {
        let url = url.clone();
        async move { chat(&url, &text(&format!("healthy-{i}"), 15, 20)).await }
    });
    let faulty_text = format!("{} {JS_THROW_MARKER}", text("faulty", 20, 20));
    let faulty = chat(&url, &faulty_text);
    let (healthy, faulty) = tokio::join!(join_all(healthy), faulty);

    let faulty_stream = faulty.reading();
    assert_eq!(faulty.status, 200);
    assert!(faulty_stream.done, "{}", faulty.body_text());
    assert_eq!(faulty_stream.conforms(), Ok(()), "{}", faulty.body_text());
    assert_eq!(
        faulty_stream.chunk_types().last().map(String::as_str),
        Some("error"),
        "{}",
        faulty.body_text()
    );
    let error = faulty_stream.errors.first().map(String::as_str);
    assert!(
        error.is_some_and(|e| e.contains("injected JS exception")),
        "{}",
        faulty.body_text()
    );
    for answer in healthy {
        let stream = answer.reading();
        assert_eq!(stream.conforms(), Ok(()), "{}", answer.body_text());
        let last = stream.chunk_types().last().cloned();
        assert_eq!(last.as_deref(), Some("finish"), "{}", answer.body_text());
        assert!(stream.done);
        assert!(!stream.text().is_empty());
    }

    // The process is alive and still serves.
    let after = chat(&url, &text("after", 3, 1)).await.reading();
    assert_eq!(
        after.chunk_types().last().map(String::as_str),
        Some("finish")
    );
    server.process.signal(Signal::TERM);
    let status = server.process.wait_exit(HANG_GUARD).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crash_tool_kills_the_whole_process() {
    let target = Target::start("napi").await;
    let mut server = target.instance("crash", &[FAULT_INJECTION]).await;
    let url = server.url().to_owned();
    let http = client::http_client().expect("the test client");

    // A bystander request in flight when the runtime dies dies with it: that is the blast radius.
    // It is read until text flows, so it is certainly in flight (not yet to be sent) at the crash;
    // its 400 chunks at 50 ms last far longer than the crash takes.
    let body = cases::single_turn("bystander", text("bystander", 400, 50));
    let request = http.post(format!("{url}/api/chat")).json(&body);
    let mut bystander = client::open(request)
        .await
        .expect("the bystander is answered");
    assert_eq!(bystander.status(), 200);
    assert!(
        bystander.read_until("text-delta").await,
        "the bystander streams"
    );
    let crash_directive = cases::directive(Scenario::CrashTool, "crash", false);
    let crash_body = cases::single_turn("crash", crash_directive.render());
    let crash = client::post_chat(&http, &url, &crash_body).await;
    let crash_body = crash.map(|a| a.body_text()).unwrap_or_default();
    assert!(
        !crash_body.contains("data: [DONE]"),
        "the crashed stream cannot end normally"
    );

    let status = server.process.wait_exit(HANG_GUARD).await;
    let log = server.process.stderr();
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "an uncaught exception exits 1; stderr:\n{log}"
    );
    assert!(log.contains("runtime crash requested by tool"), "{log}");

    // The stream ends in a read error (connection reset) or a plain end, never in `[DONE]`.
    let bystander = bystander.finish().await;
    assert!(
        !bystander.body_text().contains("data: [DONE]"),
        "the bystander died with the process"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_tool_is_a_tool_error_and_the_process_lives() {
    let target = Target::start("napi").await;
    let server = target.instance("panic", &[FAULT_INJECTION]).await;
    let directive = cases::directive(Scenario::PanicTool, "panic", false);
    let answer = chat(server.url(), &directive.render()).await;
    let stream = answer.reading();
    let tool_error = stream.chunks.iter().find_map(|c| match c {
        UiChunk::ToolOutputError { error_text, .. } => Some(error_text.clone()),
        _ => None,
    });
    assert!(
        tool_error
            .as_deref()
            .is_some_and(|t| t.contains("tool panicked")),
        "{}",
        answer.body_text()
    );
    assert!(stream.done);
    let http = client::http_client().expect("the test client");
    let health = client::exchange(http.get(format!("{}/health", server.url()))).await;
    assert_eq!(health.map(|h| h.status).ok(), Some(200));
}

/// Runs a Node script that loads the addon directly; its exit status and output.
async fn run_node(script: &str) -> (std::process::ExitStatus, String) {
    let output = support::node(&["-e", script]).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

const CREATE: &str = "const a = require('./backends/napi/backend_napi.node');\
    const b = a.Backend.create(['x', '--provider-url', 'http://127.0.0.1:9/v1', '--enable-fault-injection']);";

#[tokio::test]
async fn rust_panics_depend_on_the_boundary_they_cross() {
    // catch_unwind: a JS exception; async export: a rejected promise. The process lives.
    let script = format!(
        "{CREATE}
        try {{ a.faultPanicSyncCaught(); console.log('no throw'); }}
        catch (e) {{ console.log('caught:', e.message); }}
        a.faultPanicAsync().then(() => console.log('resolved'), (e) => console.log('rejected:', e.message));"
    );
    let (status, out) = run_node(&script).await;
    assert!(status.success(), "{out}");
    assert!(out.contains("caught:"), "{out}");
    assert!(out.contains("rejected:"), "{out}");

    // A plain sync export: the panic cannot unwind into C, so Rust aborts the process.
    let (status, out) = run_node(&format!(
        "{CREATE} a.faultPanicSync(); console.log('survived');"
    ))
    .await;
    assert_eq!(
        status.signal(),
        Some(6),
        "SIGABRT expected: {status:?}\n{out}"
    );
    assert!(!out.contains("survived"));
}

#[tokio::test]
async fn the_panic_exports_refuse_without_fault_injection() {
    let script = "const a = require('./backends/napi/backend_napi.node');\
        a.Backend.create(['x', '--provider-url', 'http://127.0.0.1:9/v1']);\
        try { a.faultPanicSync(); } catch (e) { console.log('refused:', e.message); }";
    let (status, out) = run_node(script).await;
    assert!(status.success(), "{out}");
    assert!(out.contains("refused: fault injection is off"), "{out}");
}
