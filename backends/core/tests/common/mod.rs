//! Shared by the integration tests: a fake chat backend the test drives by hand, and a server
//! on port 0 around it.

// Test support: a failed lock or bind is a broken test run, so unwrapping is the right answer.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use contract::request_id::RequestId;
use contract::ui_chunk::UiChunk;
use contract::ui_message::ChatRequest;
use leanspec_core::{
    ApiError, CancellationToken, ChatBackend, CoreState, Health, RateLimit, SpecStore, SseBody,
    Toolbox,
};
use tokio::sync::{mpsc, oneshot};

pub use sut_kit::guards::HANG_GUARD;

pub fn fixtures_dir() -> PathBuf {
    sut_kit::repo_root().join("fixtures/specs")
}

pub fn fixture_store() -> Arc<SpecStore> {
    Arc::new(SpecStore::load(&fixtures_dir()).expect("fixture corpus loads"))
}

/// What the fake does with the next chat request.
pub enum Script {
    /// Answers with these chunks, then `[DONE]`.
    Chunks(Vec<UiChunk>),
    /// Streams whatever the test sends through the channel; `[DONE]` when the sender drops.
    Channel(mpsc::UnboundedReceiver<UiChunk>),
    /// Streams the same text chunk without end, as fast as it is taken, counting the chunks
    /// taken.
    Endless(Arc<AtomicU64>),
    /// Streams one chunk, then panics inside the stream.
    PanicMidStream,
    /// Panics before returning a stream.
    PanicInChat,
    /// Fails before the stream begins.
    Fail(ApiError),
    /// Never answers (a provider that never sends its first byte).
    Hang,
}

pub struct FakeBackend {
    pub health: Mutex<Health>,
    script: Mutex<Option<Script>>,
    /// The request and cancellation token of each chat call, in order.
    pub calls: Mutex<Vec<(ChatRequest, CancellationToken)>>,
    /// The request id each chat call was given, in order.
    pub request_ids: Mutex<Vec<String>>,
}

impl FakeBackend {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            health: Mutex::new(Health::Ok),
            script: Mutex::new(None),
            calls: Mutex::new(Vec::new()),
            request_ids: Mutex::new(Vec::new()),
        })
    }

    pub fn script(&self, script: Script) {
        *self.script.lock().unwrap() = Some(script);
    }

    pub fn set_health(&self, health: Health) {
        *self.health.lock().unwrap() = health;
    }

    pub fn last_token(&self) -> CancellationToken {
        self.calls
            .lock()
            .unwrap()
            .last()
            .expect("a chat call")
            .1
            .clone()
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

impl ChatBackend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn chat(
        &self,
        request: ChatRequest,
        request_id: RequestId,
        cancel: CancellationToken,
    ) -> Result<SseBody, ApiError> {
        self.calls.lock().unwrap().push((request, cancel));
        self.request_ids
            .lock()
            .unwrap()
            .push(request_id.to_string());
        let script = self.script.lock().unwrap().take();
        match script.unwrap_or(Script::Chunks(default_chunks())) {
            Script::Chunks(chunks) => Ok(SseBody::from_chunk_list(chunks)),
            Script::Channel(mut rx) => {
                Ok(SseBody::from_chunks(futures::stream::poll_fn(move |cx| {
                    rx.poll_recv(cx)
                })))
            }
            Script::Endless(taken) => Ok(SseBody::from_chunks(futures::stream::repeat_with(
                move || {
                    taken.fetch_add(1, Ordering::Relaxed);
                    endless_chunk()
                },
            ))),
            Script::PanicMidStream => {
                let mut sent = false;
                Ok(SseBody::from_chunks(futures::stream::poll_fn(move |_| {
                    if sent {
                        panic!("fake backend: panic inside the stream");
                    }
                    sent = true;
                    std::task::Poll::Ready(Some(UiChunk::text_delta("t0", "before the panic")))
                })))
            }
            Script::PanicInChat => panic!("fake backend: panic in chat()"),
            Script::Fail(error) => Err(error),
            Script::Hang => std::future::pending().await,
        }
    }

    fn health(&self) -> Health {
        self.health.lock().unwrap().clone()
    }
}

/// The chunk [`Script::Endless`] repeats.
pub fn endless_chunk() -> UiChunk {
    UiChunk::text_delta("t0", "a word or two of a long answer")
}

pub fn default_chunks() -> Vec<UiChunk> {
    vec![
        UiChunk::text_delta("t0", "Hello"),
        UiChunk::text_delta("t0", ", world"),
    ]
}

/// A running server; dropping it does not stop it, [`Server::stop`] does.
pub struct Server {
    pub addr: SocketAddr,
    pub url: String,
    pub backend: Arc<FakeBackend>,
    pub state: CoreState,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(rate_limit: RateLimit, fault_injection: bool) -> Self {
        let toolbox = Toolbox::new(fixture_store(), fault_injection);
        Self::start_with(CoreState::new(toolbox, rate_limit)).await
    }

    /// No rate limit, no fault tools: what most tests want.
    pub async fn plain() -> Self {
        Self::start(RateLimit::Off, false).await
    }

    pub async fn start_with(state: CoreState) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let backend = FakeBackend::new();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(leanspec_core::serve(
            listener,
            backend.clone(),
            state.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            url: format!("http://{addr}"),
            backend,
            state,
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// `GET path` with a fresh client; the test fails if the request cannot be sent.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        client().get(self.url(path)).send().await.unwrap()
    }

    /// Triggers shutdown without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits for `serve` to return.
    pub async fn stop(mut self) {
        self.begin_stop();
        tokio::time::timeout(HANG_GUARD, self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// A valid chat body with one user message.
pub fn chat_body(text: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "chat-1",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
        "trigger": "submit-message"
    })
}

pub async fn post_chat(server: &Server, body: &serde_json::Value) -> reqwest::Response {
    client()
        .post(server.url("/api/chat"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Asserts the one JSON error body and returns its code and message.
pub async fn error_of(response: reqwest::Response, status: u16) -> (String, String) {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned();
    let message = body["error"]["message"]
        .as_str()
        .expect("error.message")
        .to_owned();
    assert!(!message.is_empty());
    (code, message)
}
