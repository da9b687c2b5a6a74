//! Shared by the napi integration tests: start `node backends/napi/main.js` as a child against
//! an in-process mock provider, talk to it, and read its streams with the contract's parser and
//! the AI SDK's own client code (`harness/node/read-ui-stream.mjs`).
//!
//! The addon must be built first (`backends/napi/scripts/build-addon debug`, which
//! `scripts/setup` runs); a test that finds it missing fails saying so, rather than building it
//! under cargo's lock.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use contract::ready::ReadyLine;
use contract::sse::SseDecoder;
use contract::ui_chunk::UiChunk;
use mock_provider::{MockConfig, MockHandle};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Generous bound on anything a test waits for, so a hang fails instead of blocking CI.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Fails with what to run when the addon or the chat bundle is missing.
pub fn require_built() {
    let root = repo_root();
    let addon = root.join("backends/napi/backend_napi.node");
    assert!(
        addon.exists(),
        "{} is missing: run `backends/napi/scripts/build-addon debug` (or `scripts/setup`) first",
        addon.display()
    );
    let bundle = root.join("backends/sidecar/dist/chat.mjs");
    assert!(
        bundle.exists(),
        "{} is missing: run `npm ci --prefix backends/sidecar && npm run build --prefix backends/sidecar`",
        bundle.display()
    );
}

pub async fn mock() -> MockHandle {
    mock_provider::spawn(MockConfig::default()).await.unwrap()
}

/// A running backend process (napi, or rust-only for comparisons).
#[derive(Debug)]
pub struct NapiProcess {
    pub child: Child,
    pub ready: ReadyLine,
    pub stderr: tokio::task::JoinHandle<String>,
}

/// `target/<profile>/backend-rust-only`, which `scripts/setup` builds (`cargo build --workspace
/// --bins`); fails saying what to run when it is missing.
pub fn rust_only_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let binary = target.join("debug/backend-rust-only");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p backend-rust-only` (or `scripts/setup`) first",
        binary.display()
    );
    binary
}

impl NapiProcess {
    /// Starts the rust-only backend the same way, for parity comparisons.
    pub async fn start_rust_only(provider_base_url: &str, extra: &[&str]) -> Self {
        let mut command = Command::new(rust_only_binary());
        command.args([
            "--listen",
            "127.0.0.1:0",
            "--provider-url",
            provider_base_url,
        ]);
        command.args(["--rate-limit", "off"]).args(extra);
        Self::spawn(command).await
    }

    /// Starts `node backends/napi/main.js --listen 127.0.0.1:0 --provider-url URL <extra>`
    /// (with `--rate-limit off` unless `extra` sets one) and waits for its ready line.
    pub async fn start(provider_base_url: &str, extra: &[&str]) -> Self {
        require_built();
        let mut args = vec![
            "backends/napi/main.js",
            "--listen",
            "127.0.0.1:0",
            "--provider-url",
            provider_base_url,
        ];
        if !extra.contains(&"--rate-limit") {
            args.extend_from_slice(&["--rate-limit", "off"]);
        }
        args.extend_from_slice(extra);
        let mut command = Command::new("node");
        command.args(&args);
        Self::spawn(command).await
    }

    async fn spawn(mut command: Command) -> Self {
        let mut child = command
            .current_dir(repo_root())
            .env("OPENAI_API_KEY", "test-key")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node must be on PATH");
        let stderr_pipe = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr_pipe).lines();
            let mut all = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(HANG_GUARD, lines.next_line())
            .await
            .expect("no ready line in time")
            .unwrap();
        let Some(line) = first else {
            let status = child.wait().await.unwrap();
            let log = stderr.await.unwrap();
            panic!("the server exited ({status}) before its ready line; stderr:\n{log}");
        };
        let ready = ReadyLine::parse(&line).unwrap_or_else(|| panic!("not a ready line: {line}"));
        // Keep draining stdout so a stray write can never block the child.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            ready,
            stderr,
        }
    }

    pub fn url(&self) -> &str {
        &self.ready.url
    }

    pub fn pid(&self) -> u32 {
        self.ready.pid
    }

    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    /// Waits for the process to exit; its status and its whole stderr.
    pub async fn wait(mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(HANG_GUARD, self.child.wait())
            .await
            .expect("the process did not exit")
            .unwrap();
        let log = self.stderr.await.unwrap();
        (status, log)
    }
}

/// A useChat request body with one user message.
pub fn chat_body(text: &str) -> Value {
    json!({
        "id": "chat-1",
        "messages": [{"id": "user-1", "role": "user", "parts": [{"type": "text", "text": text}]}],
        "trigger": "submit-message",
    })
}

/// A directive that plays `scenario` fast (no realistic delays) under `tag`.
pub fn fast_directive(scenario: &str, tag: &str, extra: &str) -> String {
    format!("[[scenario:{scenario} ttft_ms=0 gap_ms=1 tag={tag}{extra}]]")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HANG_GUARD)
        .build()
        .unwrap()
}

/// The answer to one `POST /api/chat`: status, content type and the whole body.
#[derive(Debug)]
pub struct ChatAnswer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

pub async fn post_chat(url: &str, body: &Value) -> ChatAnswer {
    let response = client()
        .post(format!("{url}/api/chat"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    ChatAnswer {
        status,
        headers,
        body,
    }
}

/// A stream as the contract's parser reads it: every chunk, and whether `[DONE]` ended it.
#[derive(Debug)]
pub struct ParsedStream {
    pub chunks: Vec<UiChunk>,
    pub done: bool,
    /// Frames after `[DONE]`, or bytes of an unfinished frame: both are protocol errors.
    pub trailing_garbage: bool,
}

impl ParsedStream {
    pub fn types(&self) -> Vec<&str> {
        self.chunks.iter().map(UiChunk::type_name).collect()
    }

    pub fn text(&self) -> String {
        self.chunks
            .iter()
            .filter_map(|c| match c {
                UiChunk::TextDelta { delta, .. } => Some(delta.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn error_text(&self) -> Option<&str> {
        self.chunks.iter().find_map(|c| match c {
            UiChunk::Error { error_text } => Some(error_text.as_str()),
            _ => None,
        })
    }
}

/// Parses a UI message stream with `contract::sse` and `UiChunk::from_json`; panics on a frame
/// that is not a valid chunk.
pub fn parse_stream(body: &str) -> ParsedStream {
    let mut decoder = SseDecoder::new();
    let mut chunks = Vec::new();
    let mut done = false;
    let mut trailing_garbage = false;
    for event in decoder.push(body.as_bytes()) {
        if done {
            trailing_garbage = true;
        }
        if event.is_done() {
            done = true;
            continue;
        }
        let chunk = UiChunk::from_json(&event.data)
            .unwrap_or_else(|e| panic!("invalid chunk {}: {e}", event.data));
        chunks.push(chunk);
    }
    ParsedStream {
        chunks,
        done,
        trailing_garbage: trailing_garbage || decoder.has_partial_frame(),
    }
}

/// Reads each `(id, body)` with the AI SDK's own client code; one answer object per stream:
/// `{"id","ok","message","errors","chunkTypes","done"}`.
pub async fn oracle(streams: &[(String, String)]) -> Vec<Value> {
    let root = repo_root();
    let script = root.join("harness/node/read-ui-stream.mjs");
    assert!(
        root.join("harness/node/node_modules/ai").exists(),
        "harness/node has no node_modules: run `npm ci --prefix harness/node` (or `scripts/setup`)"
    );
    let mut child = Command::new("node")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = String::new();
    for (id, sse) in streams {
        input.push_str(&json!({"id": id, "sse": sse}).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(HANG_GUARD, child.wait_with_output())
        .await
        .expect("the oracle hung")
        .unwrap();
    assert!(
        output.status.success(),
        "the oracle failed: {}",
        output.status
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The AI SDK's own answer (`streamText` + `toUIMessageStream`) to the same request, with tools
/// executed through `tools_rest`'s REST routes: `{message, chunks, sse, errors}`.
pub async fn reference(provider_base_url: &str, tools_rest: &str, body: &Value) -> Value {
    let root = repo_root();
    let mut child = Command::new("node")
        .arg(root.join("harness/node/reference-chat.mjs"))
        .args(["--base-url", provider_base_url, "--body-stdin"])
        .args(["--tools-rest", tools_rest])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(body.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(HANG_GUARD, child.wait_with_output())
        .await
        .expect("the reference run hung")
        .unwrap();
    assert!(
        output.status.success(),
        "reference-chat.mjs failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A final message with what legitimately differs between two runs removed: the message id
/// and text-part ids are random per run.
pub fn normalized_message(message: &Value) -> Value {
    let mut message = message.clone();
    if let Some(object) = message.as_object_mut() {
        object.remove("id");
    }
    message
}
