//! What each kind of fault does to the one napi process (README.md, "Faults"):
//! an ordinary JS exception costs one request; `__crash` kills the process with every request
//! in it; `__panic` in a tool is a tool error; a Rust panic's fate depends on the boundary.

// Helpers outside #[test] functions unwrap too: a failure is the test failing.
#![allow(clippy::unwrap_used)]

mod support;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use contract::ui_chunk::UiChunk;
use futures::StreamExt;
use futures::future::join_all;
use support::*;

/// The marker `lib/chat-handler.js` honours under `--enable-fault-injection`.
const JS_THROW_MARKER: &str = "[[napi-fault:js-throw]]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_exception_fails_its_request_only() {
    let mock = mock().await;
    let server = NapiProcess::start(&mock.base_url(), &["--enable-fault-injection"]).await;
    let url = server.url().to_owned();

    // Concurrent healthy requests long enough to be in flight when the faulty one throws.
    let healthy = (0..3).map(|i| {
        let url = url.clone();
        async move {
            let text = fast_directive("text", &format!("healthy-{i}"), " gap_ms=20 chunks=15");
            post_chat(&url, &chat_body(&text)).await
        }
    });
    let faulty = {
        let url = url.clone();
        async move {
            let text = format!(
                "{} {JS_THROW_MARKER}",
                fast_directive("text", "faulty", " gap_ms=20")
            );
            post_chat(&url, &chat_body(&text)).await
        }
    };
    let (healthy, faulty) = tokio::join!(join_all(healthy), faulty);

    let faulty_stream = parse_stream(&faulty.body);
    assert_eq!(faulty.status, 200);
    assert!(faulty_stream.done, "{}", faulty.body);
    assert_eq!(
        faulty_stream.types().last(),
        Some(&"error"),
        "{}",
        faulty.body
    );
    assert!(
        faulty_stream
            .error_text()
            .unwrap()
            .contains("injected JS exception"),
        "{}",
        faulty.body
    );
    for answer in healthy {
        let stream = parse_stream(&answer.body);
        assert_eq!(stream.types().last(), Some(&"finish"), "{}", answer.body);
        assert!(stream.done);
        assert!(!stream.text().is_empty());
    }

    // The process is alive and still serves.
    let after = post_chat(
        &url,
        &chat_body(&fast_directive("text", "after", " chunks=3")),
    )
    .await;
    assert_eq!(parse_stream(&after.body).types().last(), Some(&"finish"));
    let (status, _) = {
        server.signal(rustix::process::Signal::TERM);
        server.wait().await
    };
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crash_tool_kills_the_whole_process() {
    let mock = mock().await;
    let server = NapiProcess::start(&mock.base_url(), &["--enable-fault-injection"]).await;
    let url = server.url().to_owned();

    // A bystander request in flight when the runtime dies dies with it: that is the blast radius.
    // It is read until text flows, so it is certainly in flight (not yet to be sent) at the crash;
    // its 400 chunks at 50 ms last far longer than the crash takes.
    let text = fast_directive("text", "bystander", " gap_ms=50 chunks=400");
    let response = client()
        .post(format!("{url}/api/chat"))
        .json(&chat_body(&text))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut bystander = response.bytes_stream();
    let mut bystander_body = String::new();
    while !bystander_body.contains("text-delta") {
        let bytes = bystander.next().await.unwrap().unwrap();
        bystander_body.push_str(&String::from_utf8_lossy(&bytes));
    }
    let crash = client()
        .post(format!("{url}/api/chat"))
        .json(&chat_body(&fast_directive("crash-tool", "crash", "")))
        .send()
        .await;
    let crash_body = match crash {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    assert!(
        !crash_body.contains("data: [DONE]"),
        "the crashed stream cannot end normally"
    );

    let (status, log) = server.wait().await;
    assert_eq!(
        status.code(),
        Some(1),
        "an uncaught exception exits 1; stderr:\n{log}"
    );
    assert!(log.contains("runtime crash requested by tool"), "{log}");

    // The stream ends in a read error (connection reset) or a plain end, never in `[DONE]`.
    while let Some(Ok(bytes)) = bystander.next().await {
        bystander_body.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(
        !bystander_body.contains("data: [DONE]"),
        "the bystander died with the process"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_tool_is_a_tool_error_and_the_process_lives() {
    let mock = mock().await;
    let server = NapiProcess::start(&mock.base_url(), &["--enable-fault-injection"]).await;
    let answer = post_chat(
        server.url(),
        &chat_body(&fast_directive("panic-tool", "panic", "")),
    )
    .await;
    let stream = parse_stream(&answer.body);
    let tool_error = stream.chunks.iter().find_map(|c| match c {
        UiChunk::ToolOutputError { error_text, .. } => Some(error_text.clone()),
        _ => None,
    });
    assert!(
        tool_error
            .as_deref()
            .is_some_and(|t| t.contains("tool panicked")),
        "{}",
        answer.body
    );
    assert!(stream.done);
    let health = client()
        .get(format!("{}/health", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// Runs a Node script that loads the addon directly; its exit status and output.
async fn run_node(script: &str) -> (std::process::ExitStatus, String) {
    require_built();
    let output = tokio::process::Command::new("node")
        .args(["-e", script])
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
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
