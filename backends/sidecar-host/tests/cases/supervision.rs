//! The supervisor: a SIGKILLed or hung sidecar, a pool losing a member, a missing bundle, the
//! fault tools.

use std::time::Instant;

use contract::scenario::{Directive, Scenario};
use contract::ui_chunk::UiChunk;
use rustix::process::Signal;
use sut_kit::guards::{self, wait_until};

use sidecar_host::SidecarWire;
use sidecar_host::hang;

use crate::support::{self, Stack, StackOptions, UnderTest};

/// A 1000-chunk answer paced at 10 ms: long enough to kill the sidecar in the middle of it.
fn slow_long_stream() -> Directive {
    let mut directive = Directive::new(Scenario::Long);
    directive.params.ttft_ms = 5;
    directive.params.gap_ms = 10;
    directive
}

/// SIGKILL the sidecar mid-stream: 503 + Retry-After at once, the stream ends with `error` +
/// `[DONE]`, and a new sidecar serves shortly after.
pub async fn sigkilled_sidecar_answers_503_ends_the_stream_and_comes_back<T: UnderTest>(
    wire: SidecarWire,
) {
    let stack = Stack::<T>::start(StackOptions::on(wire)).await;
    let mut stream = stack.open_chat(&slow_long_stream()).await;
    assert_eq!(stream.status(), 200);
    assert!(stream.read_until("text-delta").await, "the stream began");
    let old_pid = stack.sidecar_pid();
    let killed = Instant::now();
    support::signal(old_pid, Signal::KILL);

    let (to_unhealthy, health) = stack.wait_for_health(503).await;
    let chat = stack.chat(Scenario::Text).await;
    let to_chat_refused = killed.elapsed();
    eprintln!(
        "{}: /health 503 after {to_unhealthy:?}, /api/chat answered {} after {to_chat_refused:?}",
        stack.name, chat.status
    );
    assert!(
        health.header("retry-after").is_some(),
        "/health 503 carries Retry-After"
    );
    assert_eq!(
        chat.status,
        503,
        "chat while the sidecar is down: {}",
        chat.body_text()
    );
    assert!(chat.header("retry-after").is_some());
    assert_eq!(
        chat.error_code(),
        Some(contract::api_error::ErrorCode::Unavailable)
    );

    let broken = guards::within_guard("the broken stream's end", stream.finish())
        .await
        .expect("the broken stream ends");
    let reading = broken.reading();
    assert!(reading.done, "the broken stream ends with [DONE]");
    assert!(
        matches!(reading.chunks.last(), Some(UiChunk::Error { .. })),
        "the broken stream's last chunk is an error: {:?}",
        reading.chunks.last()
    );
    assert_eq!(
        reading.conforms(),
        Ok(()),
        "the broken stream is well-formed"
    );

    // How fast is the crash study's to measure (`recovery_ms`); this checks only that it
    // happens, `wait_for_health` guarding against a hang.
    stack.wait_for_health(200).await;
    let recovery = killed.elapsed();
    let answer = stack.chat(Scenario::Text).await;
    eprintln!("{}: serving again {recovery:?} after SIGKILL", stack.name);
    assert_eq!(answer.status, 200, "{}", answer.body_text());
    assert_eq!(answer.reading().count("finish"), 1);
    assert_ne!(stack.sidecar_pid(), old_pid, "a new sidecar serves");
    stack.stop().await;
}

/// `--sidecars 2`: kill one member, and requests keep succeeding on the other.
pub async fn a_pool_keeps_serving_while_a_killed_member_restarts<T: UnderTest>(wire: SidecarWire) {
    let options = StackOptions {
        sidecars: 2,
        ..StackOptions::on(wire)
    };
    let stack = Stack::<T>::start(options).await;
    let pool = stack.pool();
    wait_until("the second member's start", || async move {
        pool.pids().len() == 2
    })
    .await
    .expect("both members start");
    let pids = pool.pids();
    support::signal(pids[0], Signal::KILL);
    for i in 0..10 {
        let answer = stack.chat(Scenario::Text).await;
        assert_eq!(
            answer.status,
            200,
            "request {i} after the kill: {}",
            answer.body_text()
        );
        let reading = answer.reading();
        assert!(reading.done && matches!(reading.chunks.last(), Some(UiChunk::Finish { .. })));
    }
    // The dead member is restarted while the other keeps serving.
    let killed = pids[0];
    wait_until("the killed member's restart", || async move {
        let now = pool.pids();
        now.len() == 2 && !now.contains(&killed)
    })
    .await
    .expect("the killed member comes back");
    assert!(pool.members()[0].restarts() >= 1);
    stack.stop().await;
}

/// A sidecar that stops answering (SIGSTOP: alive, silent, no CPU spent) is killed and replaced
/// after `MISSES_BEFORE_RESTART` missed probes.
pub async fn a_sidecar_that_stops_answering_is_killed_and_replaced<T: UnderTest>(
    wire: SidecarWire,
) {
    let stack = Stack::<T>::start(StackOptions::on(wire)).await;
    // A stream in flight when the sidecar stops: its provider request lives in the stopped
    // process and must end when that process is killed, not run on for nobody.
    let tag = stack.tag("hung-stream");
    let mut directive = slow_long_stream();
    directive.params.tag = Some(tag.clone());
    let mut stream = stack.open_chat(&directive).await;
    assert!(stream.read_until("text-delta").await, "the stream began");
    let hung = stack.sidecar_pid();
    support::signal(hung, Signal::STOP);
    let pool = stack.pool();
    let replaced = wait_until("the hung sidecar's replacement", || async move {
        pool.runtime_pid().is_some_and(|p| p != hung)
    })
    .await
    .expect("the hung sidecar is replaced");
    wait_until("the hung sidecar's end", || async move {
        !sut_kit::process::pid_alive(hung)
    })
    .await
    .expect("the hung sidecar is killed");
    let store = stack.mock.timeline_store();
    let tag = &tag;
    wait_until("the provider seeing the killed sidecar go", || async move {
        let timeline = store.snapshot(Some(tag));
        let request = timeline.requests.first().expect("the provider saw it");
        assert!(
            request.end_ns.is_none() || request.client_gone_ns.is_some(),
            "the provider finished the whole answer for a stopped sidecar"
        );
        request.client_gone_ns.is_some()
    })
    .await
    .expect("the stopped sidecar's provider request ends");
    drop(stream);
    stack.wait_for_health(200).await;
    let answer = stack.chat(Scenario::Text).await;
    eprintln!(
        "{}: hung sidecar replaced {replaced:?} after SIGSTOP",
        stack.name
    );
    assert_eq!(answer.status, 200, "{}", answer.body_text());
    stack.stop().await;
}

/// CPU the busy sidecar's JavaScript thread spends on SIGUSR2, in clock ticks (USER_HZ, 100 a
/// second on Linux): 2.5 s, above the 1.75 s in which a stopped sidecar is declared hung
/// (`tests/support/busy-sidecar.mjs` spends 3 s in all, its other threads included).
const BUSY_TICKS: u64 = 250;

/// A sidecar whose event loop computes without answering (CPU spent, no probe answered,
/// nothing streamed) for longer than a stopped one is given is busy, not hung: it is left to
/// finish and serves again, the same process.
pub async fn a_busy_sidecar_is_not_taken_for_a_hung_one<T: UnderTest>(wire: SidecarWire) {
    let options = StackOptions {
        entry: Some(support::busy_sidecar()),
        ..StackOptions::on(wire)
    };
    let stack = Stack::<T>::start(options).await;
    let busy = stack.sidecar_pid();
    let before = hang::js_thread_cpu_ticks(busy).expect("the sidecar's CPU time is readable");
    support::signal(busy, Signal::USR2);
    wait_until("the end of the sidecar's busy spell", || async move {
        // `None` once the process is gone: killed as hung, the spell never ends.
        hang::js_thread_cpu_ticks(busy).is_some_and(|ticks| ticks >= before + BUSY_TICKS)
    })
    .await
    .expect("the busy sidecar lives through its busy spell");
    stack.wait_for_health(200).await;
    let answer = stack.chat(Scenario::Text).await;
    assert_eq!(answer.status, 200, "{}", answer.body_text());
    assert_eq!(stack.sidecar_pid(), busy, "the busy sidecar still serves");
    assert_eq!(
        stack.pool().members()[0].restarts(),
        0,
        "a busy sidecar is not restarted"
    );
    stack.stop().await;
}

/// Without the sidecar bundle, startup fails at once and says what to build.
pub async fn a_missing_sidecar_bundle_fails_startup_at_once_with_the_fix<T: UnderTest>() {
    let mock = support::start_mock().await;
    let server = support::server_args(mock.base_url(), &StackOptions::default());
    let missing = sut_kit::repo_root().join("backends/sidecar/dist/no-such-bundle.mjs");
    let args = support::sidecar_args(missing, 1);
    let started = Instant::now();
    let failed = guards::within_guard(
        "the failed startup",
        support::start_host(T::default(), &server, &args),
    )
    .await
    .expect("startup ends");
    let error = failed.expect_err("no bundle, no server");
    let message = format!("{error:#}");
    assert!(
        message.contains("npm ci --prefix backends/sidecar"),
        "{message}"
    );
    assert!(
        started.elapsed() < args.ready_timeout(),
        "failed only after the ready timeout ({:?})",
        started.elapsed()
    );
    let _ = mock.shutdown().await;
}

/// The fault-injection tools: `__panic` is a tool error and the answer completes; `__crash`
/// kills the sidecar, whose stream then ends in `error` + `[DONE]`, and a new one serves.
pub async fn fault_tools_panic_is_a_tool_error_crash_restarts_the_sidecar<T: UnderTest>(
    wire: SidecarWire,
) {
    let options = StackOptions {
        fault_injection: true,
        ..StackOptions::on(wire)
    };
    let stack = Stack::<T>::start(options).await;
    let panic = stack.chat(Scenario::PanicTool).await;
    assert_eq!(panic.status, 200);
    let reading = panic.reading();
    assert!(reading.done);
    let tool_error = reading.chunks.iter().find_map(|c| match c {
        UiChunk::ToolOutputError { error_text, .. } => Some(error_text.clone()),
        _ => None,
    });
    assert!(
        tool_error
            .as_deref()
            .is_some_and(|t| t.contains("panicked")),
        "__panic becomes a tool error: {:?}",
        reading.chunk_types()
    );
    assert!(matches!(
        reading.chunks.last(),
        Some(UiChunk::Finish { .. })
    ));

    let before = stack.sidecar_pid();
    let crash = stack.chat(Scenario::CrashTool).await;
    assert_eq!(crash.status, 200);
    let reading = crash.reading();
    assert!(reading.done, "the crashed stream ends with [DONE]");
    assert!(
        matches!(reading.chunks.last(), Some(UiChunk::Error { .. })),
        "the crashed stream ends with an error chunk: {:?}",
        reading.chunk_types()
    );
    let pool = stack.pool();
    wait_until("a new sidecar after __crash", || async move {
        pool.runtime_pid().is_some_and(|pid| pid != before)
    })
    .await
    .expect("a new sidecar starts");
    stack.wait_for_health(200).await;
    let after = stack.chat(Scenario::Text).await;
    assert_eq!(after.status, 200, "{}", after.body_text());
    stack.stop().await;
}
