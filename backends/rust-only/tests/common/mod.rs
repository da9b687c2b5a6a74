//! An in-process stack for the integration tests: the mock provider (library form) and the
//! rust-only backend served by the core shell, both on port 0, with retries short enough for a
//! test; answers go through the test stack's one client and are read by its one reader
//! (`conformance`), with what these tests expect of a reading.

#![allow(dead_code)] // each test binary uses part of this module

use std::sync::Arc;
use std::time::Duration;

use backend_rust_only::{Provider, ProviderConfig, RetryPolicy, RustOnlyBackend};
use leanspec_core::{CoreState, RateLimit, SpecStore, Toolbox};
use mock_provider::{MockConfig, MockHandle};
use serde_json::{Value, json};
use sut_kit::checker::StreamReading;
use sut_kit::client::{self, Arriving};
use sut_kit::guards;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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

impl Options {
    /// The default options with a provider idle timeout of `timeout`.
    pub fn idle(timeout: Duration) -> Self {
        Self {
            idle_timeout: timeout,
            ..Self::default()
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
        let specs = sut_kit::repo_root().join("fixtures/specs");
        let store = SpecStore::load(&specs).expect("fixture corpus");
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
            let _ = guards::within_guard("the server's stop", server).await;
        }
    }

    /// Sends one user message and reads the whole answer.
    pub async fn chat(&self, text: &str) -> StreamReading {
        self.chat_body(&chat_body(text)).await
    }

    /// Sends one user message; the answer still arriving.
    pub async fn send(&self, text: &str) -> Arriving {
        let http = client::http_client().expect("the test client");
        let request = http
            .post(format!("{}/api/chat", self.url))
            .json(&chat_body(text));
        client::open(request).await.expect("the request is sent")
    }

    /// Sends a whole `useChat` body and reads the whole answer, which must be a stream.
    pub async fn chat_body(&self, body: &Value) -> StreamReading {
        let http = client::http_client().expect("the test client");
        let answer = client::post_chat(&http, &self.url, body)
            .await
            .expect("the backend answers in time");
        assert_eq!(answer.status, 200, "chat status: {}", answer.body_text());
        assert_eq!(answer.transport_error, None, "the stream ends in time");
        answer.reading()
    }
}

/// A second turn: the first user message, the assistant message built from `first` (what
/// `useChat` sends back, tool parts included), then a new user message.
pub fn second_turn_body(first_text: &str, first: &StreamReading, second_text: &str) -> Value {
    json!({
        "id": "chat-1",
        "messages": [
            {"id": "user-1", "role": "user", "parts": [{"type": "text", "text": first_text}]},
            {"id": "assistant-1", "role": "assistant", "parts": first.parts},
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

/// What these tests expect of a reading, besides the stream rules it must keep.
pub trait Expect {
    fn types(&self) -> Vec<String>;
    /// A failed answer: `start`, whatever came before the failure, exactly one `error` as
    /// the last chunk carrying `text`, then `[DONE]`; never a `finish`.
    fn assert_ends_in_error(&self, text: &str);
    /// A complete answer: `steps` steps, no error, finish reason `finish_reason`.
    fn assert_completes(&self, steps: usize, finish_reason: &str);
}

impl Expect for StreamReading {
    fn types(&self) -> Vec<String> {
        self.chunk_types()
    }

    fn assert_ends_in_error(&self, text: &str) {
        assert_eq!(self.conforms(), Ok(()), "{:?}", self.types());
        assert_eq!(self.types().last().map(String::as_str), Some("error"));
        assert_eq!(self.errors, [text]);
        assert_eq!(self.count("finish"), 0);
    }

    fn assert_completes(&self, steps: usize, finish_reason: &str) {
        let types = self.types();
        assert_eq!(self.conforms(), Ok(()), "{types:?}");
        assert_eq!(
            types.last().map(String::as_str),
            Some("finish"),
            "{types:?}"
        );
        assert_eq!(self.count("error"), 0, "{types:?}");
        assert_eq!(self.steps(), steps, "{types:?}");
        let reason = serde_json::to_value(self.finish_reason).unwrap_or_default();
        assert_eq!(reason, finish_reason);
    }
}

/// A directive with delays short enough for tests.
pub fn directive(scenario: &str, extra: &str) -> String {
    format!("Please answer. [[scenario:{scenario} ttft_ms=0 gap_ms=1 {extra}]]")
}
