//! Checks of the supervisor: a SIGKILLed sidecar, a pool losing a member, no orphans.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use contract::ready::ReadyLine;
use contract::scenario::{Directive, Scenario};
use contract::ui_chunk::UiChunk;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{Answer, HANG_GUARD, Stack, StackOptions, chat_body, fast, is_alive, sigkill};
use crate::transport::TransportKind;

/// A 1000-chunk answer paced at 10 ms: long enough to kill the sidecar in the middle of it.
fn slow_long_stream() -> String {
    let mut directive = Directive::new(Scenario::Long);
    directive.params.ttft_ms = 5;
    directive.params.gap_ms = 10;
    directive.render()
}

/// Polls `path` until it answers `status`; the time that took.
async fn wait_for_status(stack: &Stack, path: &str, status: u16) -> (Duration, Answer) {
    let started = Instant::now();
    loop {
        let answer = Answer::read(stack.get(path).await).await;
        if answer.status == status {
            return (started.elapsed(), answer);
        }
        assert!(
            started.elapsed() < HANG_GUARD,
            "{path} never answered {status}"
        );
    }
}

/// SIGKILL the sidecar mid-stream: 503 + Retry-After at once, the stream ends with `error` +
/// `[DONE]`, and a new sidecar serves shortly after.
pub async fn sigkill_mid_stream_recovers(kind: TransportKind) {
    let stack = Stack::start(kind, StackOptions::default()).await;
    let mut response = stack.post_chat(&chat_body(&slow_long_stream())).await;
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("text-delta") {
        let chunk = tokio::time::timeout(HANG_GUARD, response.chunk())
            .await
            .expect("the stream makes progress")
            .expect("the stream reads")
            .expect("the stream is not over yet");
        received.extend_from_slice(&chunk);
    }
    let old_pid = stack.sidecar_pid();
    let killed = Instant::now();
    sigkill(old_pid);

    let (to_unhealthy, health) = wait_for_status(&stack, "/health", 503).await;
    let chat = stack.chat(&fast(Scenario::Text).render()).await;
    let to_chat_refused = killed.elapsed();
    eprintln!(
        "{kind:?}: /health 503 after {to_unhealthy:?}, /api/chat answered {} after {to_chat_refused:?}",
        chat.status
    );
    assert!(
        health.header("retry-after").is_some(),
        "/health 503 carries Retry-After"
    );
    assert_eq!(
        chat.status,
        503,
        "chat while the sidecar is down: {}",
        chat.text()
    );
    assert!(chat.header("retry-after").is_some());
    assert_eq!(chat.error_code().as_deref(), Some("unavailable"));

    let rest = tokio::time::timeout(HANG_GUARD, async {
        while let Ok(Some(chunk)) = response.chunk().await {
            received.extend_from_slice(&chunk);
        }
    })
    .await;
    assert!(rest.is_ok(), "the broken stream never ended");
    let (chunks, done) = super::parse_stream(&received);
    assert!(done, "the broken stream ends with [DONE]");
    assert!(
        matches!(chunks.last(), Some(UiChunk::Error { .. })),
        "the broken stream's last chunk is an error: {:?}",
        chunks.last()
    );

    // How fast is the harness's crash study to measure (`recovery_ms`); this checks only that
    // it happens, `wait_for_status` and `wait_healthy` guarding against a hang.
    stack.wait_healthy().await;
    let recovery = killed.elapsed();
    let answer = stack.chat(&fast(Scenario::Text).render()).await;
    eprintln!("{kind:?}: serving again {recovery:?} after SIGKILL");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.chunk_types().contains(&"finish".to_owned()));
    assert_ne!(stack.sidecar_pid(), old_pid, "a new sidecar serves");
    stack.stop().await;
}

/// `--sidecars 2`: kill one member, and requests keep succeeding on the other.
pub async fn pool_survives_a_member(kind: TransportKind) {
    let stack = Stack::start(
        kind,
        StackOptions {
            sidecars: 2,
            ..StackOptions::default()
        },
    )
    .await;
    // Both members up before the test starts.
    let started = Instant::now();
    while stack.pool().pids().len() < 2 {
        assert!(
            started.elapsed() < HANG_GUARD,
            "the second member never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pids = stack.pool().pids();
    sigkill(pids[0]);
    for i in 0..10 {
        let answer = stack.chat(&fast(Scenario::Text).render()).await;
        assert_eq!(
            answer.status,
            200,
            "request {i} after the kill: {}",
            answer.text()
        );
        let (chunks, done) = answer.chunks();
        assert!(done && matches!(chunks.last(), Some(UiChunk::Finish { .. })));
    }
    // The dead member is restarted while the other keeps serving.
    let started = Instant::now();
    loop {
        let now = stack.pool().pids();
        if now.len() == 2 && !now.contains(&pids[0]) {
            break;
        }
        assert!(
            started.elapsed() < HANG_GUARD,
            "the killed member never came back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stack.pool().members()[0].restarts() >= 1);
    stack.stop().await;
}

/// Starts the real binary against a fresh mock; its child handle and ready line.
async fn spawn_binary(
    kind: TransportKind,
    binary: &Path,
    provider_url: &str,
) -> (tokio::process::Child, ReadyLine) {
    let mut child = tokio::process::Command::new(binary)
        .current_dir(super::repo_root())
        .args(["--listen", "127.0.0.1:0", "--provider-url", provider_url])
        .arg("--sidecar-entry")
        .arg(super::sidecar_bundle())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the backend binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(HANG_GUARD, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(ready) = ReadyLine::parse(&line) {
                return ready;
            }
        }
        panic!("the backend exited without a ready line");
    })
    .await
    .expect("a ready line");
    assert_eq!(ready.backend, kind.backend_name());
    (child, ready)
}

async fn wait_gone(pid: u32, since: Instant, what: &str) {
    while is_alive(pid) {
        assert!(
            since.elapsed() < HANG_GUARD,
            "{what} ({pid}) is still running"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs the real binary, SIGKILLs it, and checks its sidecar does not survive it.
pub async fn no_orphan_after_sigkill(kind: TransportKind, binary: &Path) {
    let mock = mock_provider::spawn(mock_provider::MockConfig::default())
        .await
        .expect("mock starts");
    let (mut child, ready) = spawn_binary(kind, binary, &mock.base_url()).await;
    let sidecar = ready.runtime_pid.expect("the ready line names the sidecar");
    assert!(is_alive(sidecar));
    let killed = Instant::now();
    sigkill(child.id().expect("running"));
    let _ = child.wait().await;
    wait_gone(sidecar, killed, "the sidecar of a SIGKILLed server").await;
    eprintln!(
        "{kind:?}: sidecar gone {:?} after its parent's SIGKILL",
        killed.elapsed()
    );
    let _ = mock.shutdown().await;
}

/// SIGTERM: the server exits cleanly (status 0), its sidecar with it.
pub async fn sigterm_stops_server_and_sidecar(kind: TransportKind, binary: &Path) {
    let mock = mock_provider::spawn(mock_provider::MockConfig::default())
        .await
        .expect("mock starts");
    let (mut child, ready) = spawn_binary(kind, binary, &mock.base_url()).await;
    let sidecar = ready.runtime_pid.expect("the ready line names the sidecar");
    let pid = rustix::process::Pid::from_raw(child.id().expect("running") as i32).expect("pid");
    let asked = Instant::now();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let status = tokio::time::timeout(HANG_GUARD, child.wait())
        .await
        .expect("the server exits after SIGTERM")
        .expect("wait");
    let stopped = asked.elapsed();
    assert!(status.success(), "exit status {status}");
    wait_gone(sidecar, asked, "the sidecar after SIGTERM").await;
    eprintln!(
        "{kind:?}: SIGTERM to exit {stopped:?}, sidecar gone {:?}",
        asked.elapsed()
    );
    let _ = mock.shutdown().await;
}

/// Without the sidecar bundle, startup fails at once and says what to build.
pub async fn missing_bundle_fails_fast(kind: TransportKind) {
    let mock = mock_provider::spawn(mock_provider::MockConfig::default())
        .await
        .expect("mock starts");
    let server = super::server_args(mock.base_url(), &StackOptions::default());
    let state = leanspec_core::CoreState::from_args(&server).expect("corpus");
    let missing = super::repo_root().join("backends/sidecar/dist/no-such-bundle.mjs");
    let args = super::sidecar_args(missing, 1);
    let started = Instant::now();
    let failed = tokio::time::timeout(
        HANG_GUARD,
        crate::host::Host::start(kind, &server, state, &args),
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

/// A sidecar that stops answering (SIGSTOP: alive, silent) is killed and replaced after
/// `MISSES_BEFORE_RESTART` missed probes.
pub async fn hung_sidecar_is_replaced(kind: TransportKind) {
    let stack = Stack::start(kind, StackOptions::default()).await;
    let hung = stack.sidecar_pid();
    let pid = rustix::process::Pid::from_raw(hung as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).expect("SIGSTOP");
    let stopped = Instant::now();
    while stack.pool().runtime_pid().is_none_or(|p| p == hung) {
        assert!(
            stopped.elapsed() < HANG_GUARD,
            "the hung sidecar was never replaced"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_gone(hung, stopped, "the hung sidecar").await;
    stack.wait_healthy().await;
    let answer = stack.chat(&fast(Scenario::Text).render()).await;
    eprintln!(
        "{kind:?}: hung sidecar replaced {:?} after SIGSTOP",
        stopped.elapsed()
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    stack.stop().await;
}
