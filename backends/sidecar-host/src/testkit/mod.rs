//! Test support for the unix and http backends (feature `testkit`): the mock provider, a
//! backend and a client in one process, the sidecar a real `node` child.
//!
//! Everything binds port 0 and is torn down by [`Stack::stop`]; nothing sleeps and then hopes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use contract::scenario::{Directive, Scenario};
use contract::sse::SseDecoder;
use contract::ui_chunk::UiChunk;
use leanspec_core::{ApiKey, CoreState, RateLimit, ServerArgs};
use mock_provider::{MockConfig, MockHandle};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::args::SidecarArgs;
use crate::host::Host;
use crate::pool::Pool;
use crate::tool_listener::ToolEndpoint;
use crate::transport::TransportKind;

pub mod conformance;
pub mod errors;
pub mod external;
pub mod security;
pub mod streaming;
pub mod supervision;

/// Guards every wait on a stream or a restart: far above anything a working system takes, so it
/// only ever fires on a hang.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// The repository root (this crate is `backends/sidecar-host`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bundled sidecar; panics with the commands to run when it has not been built.
pub fn sidecar_bundle() -> PathBuf {
    let entry = repo_root().join(crate::args::DEFAULT_ENTRY);
    assert!(
        entry.is_file(),
        "{} is missing: these tests start the real Node sidecar; run \
         `npm ci --prefix backends/sidecar && npm run build --prefix backends/sidecar` first",
        entry.display()
    );
    entry
}

/// How a test wants its stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub sidecars: usize,
    pub fault_injection: bool,
    pub idle_timeout_s: u64,
    pub api_key: String,
    pub rate_limit: RateLimit,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            sidecars: 1,
            fault_injection: false,
            idle_timeout_s: 60,
            api_key: "sk-test-key".into(),
            rate_limit: RateLimit::Off,
        }
    }
}

/// A mock provider and a backend serving on port 0.
#[derive(Debug)]
pub struct Stack {
    pub kind: TransportKind,
    /// `http://127.0.0.1:PORT` of the backend's public listener.
    pub url: String,
    /// The stack's own mock provider (none when started on another provider).
    pub mock: Option<MockHandle>,
    pub http: reqwest::Client,
    pool: Arc<Pool>,
    runtime_dir: PathBuf,
    tool_endpoint: ToolEndpoint,
    tools_token: Option<String>,
    shutdown: CancellationToken,
    served: JoinHandle<anyhow::Result<()>>,
}

impl Stack {
    /// A stack with its own mock provider.
    pub async fn start(kind: TransportKind, options: StackOptions) -> Self {
        let mock = mock_provider::spawn(MockConfig::default())
            .await
            .expect("the mock provider starts");
        let provider_url = mock.base_url();
        Self::start_inner(kind, options, provider_url, Some(mock)).await
    }

    /// A stack on a provider someone else runs (`provider_url` ends in `/v1`).
    pub async fn start_on(
        kind: TransportKind,
        options: StackOptions,
        provider_url: String,
    ) -> Self {
        Self::start_inner(kind, options, provider_url, None).await
    }

    async fn start_inner(
        kind: TransportKind,
        options: StackOptions,
        provider_url: String,
        mock: Option<MockHandle>,
    ) -> Self {
        let entry = sidecar_bundle();
        let server = server_args(provider_url, &options);
        let sidecar = sidecar_args(entry, options.sidecars);
        let state = CoreState::from_args(&server).expect("the fixture corpus loads");
        let host = Host::start(kind, &server, state, &sidecar)
            .await
            .expect("the backend starts with its sidecars");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let pool = host.pool().clone();
        let runtime_dir = host.runtime_dir().to_path_buf();
        let tool_endpoint = host.tool_endpoint().clone();
        let tools_token = host.tools_token().map(str::to_owned);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let served = tokio::spawn(host.serve(listener, stop.cancelled_owned()));
        Self {
            kind,
            url,
            mock,
            http: reqwest::Client::new(),
            pool,
            runtime_dir,
            tool_endpoint,
            tools_token,
            shutdown,
            served,
        }
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    pub fn runtime_dir(&self) -> &std::path::Path {
        &self.runtime_dir
    }

    pub fn tool_endpoint(&self) -> &ToolEndpoint {
        &self.tool_endpoint
    }

    pub fn tools_token(&self) -> Option<&str> {
        self.tools_token.as_deref()
    }

    /// The pid of the (first) running sidecar.
    pub fn sidecar_pid(&self) -> u32 {
        self.pool.runtime_pid().expect("a sidecar is running")
    }

    /// Posts a chat whose one user message is `text`, and reads the whole answer.
    pub async fn chat(&self, text: &str) -> Answer {
        let response = self.post_chat(&chat_body(text)).await;
        Answer::read(response).await
    }

    pub async fn post_chat(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/api/chat", self.url))
            .json(body)
            .send()
            .await
            .expect("the backend answers")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("the backend answers")
    }

    /// Waits until `/health` answers 200 again; the time it took.
    pub async fn wait_healthy(&self) -> Duration {
        let started = tokio::time::Instant::now();
        loop {
            if self.get("/health").await.status() == 200 {
                return started.elapsed();
            }
            assert!(started.elapsed() < HANG_GUARD, "/health never came back");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the backend (sidecars included) and the mock provider.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let served = tokio::time::timeout(HANG_GUARD, self.served).await;
        assert!(served.is_ok(), "the backend did not stop");
        if let Some(mock) = self.mock {
            let _ = mock.shutdown().await;
        }
    }
}

/// The common flags a test stack runs with.
pub fn server_args(provider_url: String, options: &StackOptions) -> ServerArgs {
    ServerArgs {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        provider_url,
        model: contract::DEFAULT_MODEL.into(),
        specs_dir: repo_root().join("fixtures/specs"),
        rate_limit: options.rate_limit,
        enable_fault_injection: options.fault_injection,
        inject_delay_us: None,
        idle_timeout_s: options.idle_timeout_s,
        max_retries: contract::DEFAULT_MAX_RETRIES,
        api_key: ApiKey::new(options.api_key.clone()),
    }
}

/// The sidecar flags a test stack runs with: the binaries' defaults (parsed, not copied, so
/// the tests run what ships), with this bundle and pool size.
pub fn sidecar_args(entry: PathBuf, sidecars: usize) -> SidecarArgs {
    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        sidecar: SidecarArgs,
    }
    let mut args = <Flags as clap::Parser>::try_parse_from(["test"])
        .expect("the sidecar flags all have defaults")
        .sidecar;
    args.entry = Some(entry);
    args.sidecars = sidecars;
    // No credential of the developer's shell (`LEANSPEC_*_TOKEN`) leaks into a test.
    args.token = None;
    args.tools_token = None;
    args
}

/// The body `useChat` sends for a one-message conversation.
pub fn chat_body(text: &str) -> Value {
    json!({
        "id": "chat-1",
        "trigger": "submit-message",
        "messages": [{"id": "user-1", "role": "user", "parts": [{"type": "text", "text": text}]}],
    })
}

/// A directive with test-speed delays: the flow is what tests check, not the pacing.
pub fn fast(scenario: Scenario) -> Directive {
    let mut directive = Directive::new(scenario);
    directive.params.ttft_ms = 5;
    directive.params.gap_ms = 1;
    if scenario == Scenario::Stall {
        directive.params.stall_ms = 3_000;
    }
    directive
}

/// A whole answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // A body that breaks is a failure of its own, not an empty answer for later asserts to
        // puzzle over.
        let body = tokio::time::timeout(HANG_GUARD, response.bytes())
            .await
            .expect("the answer ends")
            .unwrap_or_else(|e| panic!("the {status} answer's body broke: {e}"))
            .to_vec();
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The UI chunks of an event-stream answer, and whether it ended with `[DONE]`.
    pub fn chunks(&self) -> (Vec<UiChunk>, bool) {
        parse_stream(&self.body)
    }

    pub fn chunk_types(&self) -> Vec<String> {
        self.chunks()
            .0
            .iter()
            .map(|c| c.type_name().to_owned())
            .collect()
    }

    /// The `code` of a JSON error body.
    pub fn error_code(&self) -> Option<String> {
        let body: Value = serde_json::from_slice(&self.body).ok()?;
        body["error"]["code"].as_str().map(str::to_owned)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Frames to chunks with the contract's decoder; a frame that is not a chunk panics the test.
pub fn parse_stream(body: &[u8]) -> (Vec<UiChunk>, bool) {
    let mut decoder = SseDecoder::new();
    let mut chunks = Vec::new();
    let mut done = false;
    for event in decoder.push(body) {
        assert!(!done, "a frame after [DONE]: {}", event.data);
        if event.is_done() {
            done = true;
        } else {
            chunks.push(
                UiChunk::from_json(&event.data)
                    .unwrap_or_else(|e| panic!("not a UI chunk ({e}): {}", event.data)),
            );
        }
    }
    assert!(!decoder.has_partial_frame(), "the stream ends mid-frame");
    (chunks, done)
}

/// Installs a log subscriber writing into memory (once per test binary); the returned function
/// reads everything logged so far. Give the test that uses it a binary of its own.
pub fn capture_logs() -> impl Fn() -> String {
    use std::sync::Mutex;
    static BUFFER: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    let buffer = BUFFER.get_or_init(Default::default).clone();
    let sink = buffer.clone();
    leanspec_core::launch::init_tracing_to(move || LogSink(sink.clone()), "info");
    move || String::from_utf8_lossy(&buffer.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

struct LogSink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends SIGKILL to `pid`.
pub fn sigkill(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a real pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill");
}

/// Whether a process with this pid still runs; a zombie (dead, not yet reaped: in a container
/// pid 1 may never reap it) counts as gone.
pub fn is_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state ...`: comm may hold spaces and parentheses, so read after the last ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}
