//! The shell as a process, through the `leanspec-echo` bin: exactly one ready line on stdout
//! once `/health` answers, logs on stderr without the API key, a clean exit on SIGTERM while
//! a client holds a connection, and a clear failure for bad flags or a missing corpus.

mod common;

use std::process::Stdio;

use common::*;
use contract::ready::ReadyLine;
use contract::sse::SseDecoder;
use contract::ui_chunk::UiChunk;
use rustix::process::{Pid, Signal, kill_process};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

const API_KEY: &str = "sk-process-test-4b1d9e-never-logged";

fn echo_server(extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leanspec-echo"));
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--provider-url",
            "http://127.0.0.1:9/v1",
        ])
        .args(extra)
        .env("OPENAI_API_KEY", API_KEY)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

fn terminate(child: &Child) {
    let pid = Pid::from_raw(child.id().expect("running") as i32).expect("a pid");
    kill_process(pid, Signal::TERM).expect("SIGTERM sent");
}

#[tokio::test]
async fn ready_line_then_serves_then_exits_cleanly_on_sigterm() {
    let specs = fixtures_dir();
    let mut child = echo_server(&["--specs-dir", specs.to_str().unwrap()])
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    tokio::time::timeout(HANG_GUARD, stdout.read_line(&mut first))
        .await
        .unwrap()
        .unwrap();
    let ready = ReadyLine::parse(&first).unwrap_or_else(|| panic!("not a ready line: {first:?}"));
    assert_eq!(ready.backend, "echo");
    assert_eq!(ready.pid, child.id().unwrap());
    assert_eq!(ready.runtime_pid, None);
    assert!(ready.url.starts_with("http://127.0.0.1:"), "{}", ready.url);

    // Ready means healthy: no retry loop needed.
    let client = client();
    let health = client
        .get(format!("{}/health", ready.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let response = client
        .post(format!("{}/api/chat", ready.url))
        .json(&chat_body("hello echo world"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    let events = SseDecoder::new().push(&body);
    let deltas: Vec<String> = events
        .iter()
        .filter(|e| !e.is_done())
        .filter_map(|e| match UiChunk::from_json(&e.data).unwrap() {
            UiChunk::TextDelta { delta, .. } => Some(delta),
            _ => None,
        })
        .collect();
    assert_eq!(deltas, ["hello ", "echo ", "world"]);
    assert!(events.last().unwrap().is_done());

    // An idle keep-alive connection must not hold the shutdown up.
    let idle = tokio::net::TcpStream::connect(ready.url.trim_start_matches("http://"))
        .await
        .unwrap();
    terminate(&child);
    let status = tokio::time::timeout(HANG_GUARD, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    drop(idle);

    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "", "stdout carries the ready line only");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("SIGTERM received") && stderr.contains("stopped"),
        "{stderr}"
    );
    assert!(!stderr.contains(API_KEY), "the API key leaked:\n{stderr}");
}

#[tokio::test]
async fn bad_flags_and_a_missing_corpus_fail_with_a_reason_and_no_ready_line() {
    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("no-such-dir");
    let specs = fixtures_dir();
    let cases: [(&[&str], &str); 2] = [
        (
            &[
                "--specs-dir",
                specs.to_str().unwrap(),
                "--rate-limit",
                "lots",
            ],
            "invalid rate limit",
        ),
        (
            &["--specs-dir", missing.to_str().unwrap()],
            "cannot read the specs directory",
        ),
    ];
    for (flags, expected) in cases {
        let output = tokio::time::timeout(HANG_GUARD, echo_server(flags).output())
            .await
            .unwrap()
            .unwrap();
        assert!(!output.status.success(), "{flags:?}");
        assert!(output.stdout.is_empty(), "{flags:?}: no ready line");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
    }
}
