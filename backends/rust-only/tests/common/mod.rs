//! An in-process stack for the integration tests: the mock provider (library form) and the
//! rust-only backend served by the core shell, both on port 0, plus a client that reads the
//! answer with the contract crate's parser.

#![allow(dead_code)] // each test binary uses part of this module

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use backend_rust_only::{Provider, ProviderConfig, RetryPolicy, RustOnlyBackend};
use conformance::message::MessageBuilder;
use contract::sse::SseDecoder;
use contract::ui_chunk::UiChunk;
use leanspec_core::{CoreState, RateLimit, SpecStore, Toolbox};
use mock_provider::{MockConfig, MockHandle};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Guards a test against a hang; a healthy exchange takes milliseconds.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(60);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Debug, Clone)]
pub struct Options {
    pub fault_injection: bool,
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            fault_injection: false,
            idle_timeout: Duration::from_secs(60),
            // The AI SDK's policy with short delays: a test proves the retries, not the waits.
            retry: RetryPolicy {
                initial_delay: Duration::from_millis(10),
                ..RetryPolicy::default()
            },
        }
    }
}

pub struct Stack {
    pub mock: MockHandle,
    /// `http://127.0.0.1:PORT` of the backend.
    pub url: String,
    pub toolbox: Toolbox,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl Stack {
    pub async fn start(options: Options) -> Self {
        let mock = mock_provider::spawn(MockConfig::default())
            .await
            .expect("the mock provider starts");
        let store = SpecStore::load(&repo_root().join("fixtures/specs")).expect("fixture corpus");
        let toolbox = Toolbox::new(Arc::new(store), options.fault_injection);
        let provider = Provider::new(ProviderConfig {
            base_url: mock.base_url(),
            model: "mock-gpt".into(),
            api_key: "test-key".into(),
            idle_timeout: options.idle_timeout,
            retry: options.retry,
        })
        .expect("valid provider settings");
        let backend = Arc::new(RustOnlyBackend::new(provider, toolbox.clone()));
        let state = CoreState::new(toolbox.clone(), RateLimit::Off);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(leanspec_core::serve(listener, backend, state, async move {
            let _ = stopped.await;
        }));
        Self {
            mock,
            url,
            toolbox,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Asks the server to shut down, as SIGTERM would, without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(EXCHANGE_TIMEOUT, server).await;
        }
    }

    /// Sends one user message and reads the whole answer.
    pub async fn chat(&self, text: &str) -> Answer {
        self.chat_body(&chat_body(text)).await
    }

    /// Sends one user message; the caller reads the response.
    pub async fn send(&self, text: &str) -> reqwest::Response {
        self.send_body(&chat_body(text)).await
    }

    /// Sends a whole `useChat` body and reads the whole answer.
    pub async fn chat_body(&self, body: &Value) -> Answer {
        let response = tokio::time::timeout(EXCHANGE_TIMEOUT, self.send_body(body))
            .await
            .expect("the backend answers in time");
        assert_eq!(response.status(), 200, "chat status");
        let raw = tokio::time::timeout(EXCHANGE_TIMEOUT, response.bytes())
            .await
            .expect("the stream ends in time")
            .expect("the body reads");
        Answer::parse(raw.to_vec())
    }

    pub async fn send_body(&self, body: &Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/api/chat", self.url))
            .json(body)
            .send()
            .await
            .expect("the request is sent")
    }
}

/// A second turn: the first user message, the assistant message built from `first` (what
/// `useChat` sends back, tool parts included), then a new user message.
pub fn second_turn_body(first_text: &str, first: &Answer, second_text: &str) -> Value {
    json!({
        "id": "chat-1",
        "messages": [
            {"id": "user-1", "role": "user", "parts": [{"type": "text", "text": first_text}]},
            {"id": "assistant-1", "role": "assistant", "parts": first.parts()},
            {"id": "user-2", "role": "user", "parts": [{"type": "text", "text": second_text}]},
        ],
        "trigger": "submit-message",
    })
}

pub fn chat_body(text: &str) -> Value {
    json!({
        "id": "chat-1",
        "messages": [{"id": "user-1", "role": "user", "parts": [{"type": "text", "text": text}]}],
        "trigger": "submit-message",
    })
}

/// A whole UI message stream, as the contract crate parses it.
#[derive(Debug)]
pub struct Answer {
    pub raw: Vec<u8>,
    pub chunks: Vec<UiChunk>,
    /// The stream ended with `[DONE]` (and nothing followed it).
    pub done: bool,
}

impl Answer {
    pub fn parse(raw: Vec<u8>) -> Self {
        let mut decoder = SseDecoder::new();
        let mut chunks = Vec::new();
        let mut done = false;
        for event in decoder.push(&raw) {
            assert!(!done, "a frame after [DONE]");
            if event.is_done() {
                done = true;
            } else {
                chunks.push(
                    UiChunk::from_json(&event.data)
                        .unwrap_or_else(|e| panic!("bad chunk {}: {e}", event.data)),
                );
            }
        }
        assert!(!decoder.has_partial_frame(), "the stream ends mid-frame");
        Self { raw, chunks, done }
    }

    pub fn types(&self) -> Vec<&str> {
        self.chunks.iter().map(UiChunk::type_name).collect()
    }

    pub fn count(&self, kind: &str) -> usize {
        self.types().iter().filter(|t| **t == kind).count()
    }

    pub fn text_deltas(&self) -> Vec<String> {
        self.chunks
            .iter()
            .filter_map(|c| match c {
                UiChunk::TextDelta { delta, .. } => Some(delta.clone()),
                _ => None,
            })
            .collect()
    }

    /// The final message's parts as the AI SDK client builds them (projected for comparison).
    pub fn parts(&self) -> Vec<Value> {
        let mut builder = MessageBuilder::default();
        for chunk in &self.chunks {
            builder.apply(chunk);
        }
        builder.into_parts()
    }

    pub fn tool_parts(&self) -> Vec<Value> {
        self.parts()
            .into_iter()
            .filter(|p| {
                p["type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("tool-") || t == "dynamic-tool")
            })
            .collect()
    }

    pub fn text(&self) -> String {
        conformance::message::text_of(&self.parts())
    }

    pub fn finish_reason(&self) -> Option<String> {
        self.chunks.iter().find_map(|c| match c {
            UiChunk::Finish { finish_reason, .. } => Some(
                serde_json::to_value(finish_reason)
                    .ok()?
                    .as_str()?
                    .to_owned(),
            ),
            _ => None,
        })
    }

    pub fn error_text(&self) -> Option<&str> {
        self.chunks.iter().find_map(|c| match c {
            UiChunk::Error { error_text } => Some(error_text.as_str()),
            _ => None,
        })
    }

    /// A failed answer: `start`, whatever came before the failure, exactly one `error` as
    /// the last chunk, then `[DONE]`; never a `finish`.
    pub fn assert_ends_in_error(&self, text: &str) {
        assert!(self.done, "no [DONE]: {:?}", self.types());
        assert_eq!(self.types().first(), Some(&"start"));
        assert_eq!(self.types().last(), Some(&"error"), "{:?}", self.types());
        assert_eq!(self.count("error"), 1);
        assert_eq!(self.count("finish"), 0);
        assert_eq!(self.error_text(), Some(text));
    }

    /// A complete answer: framing, balanced steps and text parts, the finish reason.
    pub fn assert_completes(&self, steps: usize, finish_reason: &str) {
        assert!(self.done, "no [DONE]: {:?}", self.types());
        let types = self.types();
        assert_eq!(types.first(), Some(&"start"), "{types:?}");
        assert_eq!(types.last(), Some(&"finish"), "{types:?}");
        assert_eq!(self.count("error"), 0, "{types:?}");
        assert_eq!(self.count("start-step"), steps, "{types:?}");
        assert_eq!(self.count("finish-step"), steps, "{types:?}");
        assert_eq!(
            self.count("text-start"),
            self.count("text-end"),
            "{types:?}"
        );
        assert_eq!(self.finish_reason().as_deref(), Some(finish_reason));
    }
}

/// A directive with delays short enough for tests.
pub fn directive(scenario: &str, extra: &str) -> String {
    format!("Please answer. [[scenario:{scenario} ttft_ms=0 gap_ms=1 {extra}]]")
}
