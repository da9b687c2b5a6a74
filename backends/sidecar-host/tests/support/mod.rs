//! What the cases share: a mock provider and a sidecar backend serving on port 0 in this
//! process (over either transport), the sidecar a real `node` child; and what a transport must
//! say about itself for the cases that start a sidecar by hand.
//!
//! Requests go through the test stack's one client (`sut_kit::client`), and every wait is
//! bounded by its hang guard. Everything is torn down by [`Stack::stop`].

#![allow(dead_code)] // each case module uses part of this one

use std::path::{Path, PathBuf};
use std::sync::Arc;

use backend_http::{HttpTransport, TOOLS_TOKEN_VAR, TOOLS_URL_VAR};
use backend_unix::{TOOLS_SOCKET_VAR, UnixTransport};
use conformance::cases;
use contract::scenario::{Directive, Scenario};
use leanspec_core::{ApiKey, CoreState, RateLimit, ServerArgs, random_bearer_token};
use mock_provider::{MockConfig, MockHandle};
use serde_json::Value;
use sidecar_host::{Host, Pool, SidecarArgs, SidecarEnv, SidecarWire, Transport};
use sut_kit::client::{self, Answer, Arriving};
use sut_kit::guards;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a case needs to know of a transport beyond the trait.
pub trait UnderTest: Transport + Default {
    /// This transport set up for `--sidecar external`, its one sidecar to be started by hand
    /// in the private `dir`; and the environment that sidecar must listen with.
    fn external(dir: &Path) -> (Self, SidecarEnv);
}

impl UnderTest for UnixTransport {
    fn external(dir: &Path) -> (Self, SidecarEnv) {
        let socket = dir.join("chat.sock");
        let mut listen = SidecarEnv::default();
        listen.set(backend_unix::CHAT_SOCKET_VAR, &socket);
        let transport = UnixTransport {
            sockets: vec![socket],
            tools_socket: Some(dir.join("tools.sock")),
        };
        (transport, listen)
    }
}

impl UnderTest for HttpTransport {
    fn external(_dir: &Path) -> (Self, SidecarEnv) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|probe| probe.local_addr())
            .expect("a free port")
            .port();
        let token = random_bearer_token();
        let mut listen = SidecarEnv::default();
        listen
            .set("LEANSPEC_CHAT_TRANSPORT", "http")
            .set("LEANSPEC_CHAT_PORT", port.to_string())
            .set_token(backend_http::CHAT_TOKEN_VAR, &token);
        let transport = HttpTransport {
            urls: vec![format!("http://127.0.0.1:{port}")],
            token: Some(token),
            tools_token: Some(random_bearer_token()),
            tools_port: 0,
            ..HttpTransport::default()
        };
        (transport, listen)
    }
}

/// The bundled sidecar; panics with the commands to run when it has not been built.
pub fn sidecar_bundle() -> PathBuf {
    let entry = sut_kit::repo_root().join(sidecar_host::args::DEFAULT_ENTRY);
    assert!(
        entry.is_file(),
        "{} is missing: these tests start the real Node sidecar; run \
         `npm ci --prefix backends/sidecar && npm run build --prefix backends/sidecar` first",
        entry.display()
    );
    entry
}

/// The bundled sidecar, made busy (its JavaScript thread computing, nothing answered) for a
/// few seconds of CPU by SIGUSR2: `tests/support/busy-sidecar.mjs`.
pub fn busy_sidecar() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/busy-sidecar.mjs")
}

/// How a case wants its stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub sidecars: usize,
    /// The wire streams take to the sidecars (docs/frames.md).
    pub wire: SidecarWire,
    pub fault_injection: bool,
    pub api_key: String,
    /// The sidecar's entry point; the bundle when `None`.
    pub entry: Option<PathBuf>,
}

impl StackOptions {
    /// The defaults, on `wire`.
    pub fn on(wire: SidecarWire) -> Self {
        Self {
            wire,
            ..Self::default()
        }
    }
}

/// The binaries' defaults: the wire is the one `--sidecar-wire` takes when not given.
impl Default for StackOptions {
    fn default() -> Self {
        Self {
            sidecars: 1,
            wire: shipped_sidecar_args().wire,
            fault_injection: false,
            api_key: "sk-test-key".into(),
            entry: None,
        }
    }
}

/// A mock provider and a backend serving on port 0.
#[derive(Debug)]
pub struct Stack<T: Transport> {
    pub name: &'static str,
    /// `http://127.0.0.1:PORT` of the backend's public listener.
    pub url: String,
    pub mock: MockHandle,
    pub http: reqwest::Client,
    pool: Arc<Pool<T::Endpoint>>,
    runtime_dir: PathBuf,
    tools: SidecarEnv,
    shutdown: CancellationToken,
    served: JoinHandle<anyhow::Result<()>>,
}

impl<T: UnderTest> Stack<T> {
    /// A managed stack over the default transport.
    pub async fn start(options: StackOptions) -> Self {
        let mock = start_mock().await;
        let server = server_args(mock.base_url(), &options);
        let bundle = sidecar_bundle();
        let entry = options.entry.clone().unwrap_or(bundle);
        let mut sidecar = sidecar_args(entry, options.sidecars);
        sidecar.wire = options.wire;
        let host = start_host(T::default(), &server, &sidecar)
            .await
            .expect("the backend starts with its sidecars");
        Self::serve(host, mock).await
    }

    /// Serves a started `host` on a fresh port.
    pub async fn serve(host: Host<T>, mock: MockHandle) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let pool = host.pool().clone();
        let runtime_dir = host.runtime_dir().to_path_buf();
        let tools = host.tool_listener().callback.clone();
        let name = leanspec_core::ChatBackend::name(&**host.backend());
        let shutdown = CancellationToken::new();
        let served = tokio::spawn(host.serve(listener, shutdown.clone().cancelled_owned()));
        Self {
            name,
            url,
            mock,
            http: client::http_client().expect("the test client"),
            pool,
            runtime_dir,
            tools,
            shutdown,
            served,
        }
    }
}

impl<T: Transport> Stack<T> {
    pub fn pool(&self) -> &Arc<Pool<T::Endpoint>> {
        &self.pool
    }

    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// The tool listener's environment, as a sidecar is given it.
    pub fn tools(&self) -> &SidecarEnv {
        &self.tools
    }

    /// The pid of the (first) running sidecar.
    pub fn sidecar_pid(&self) -> u32 {
        self.pool.runtime_pid().expect("a sidecar is running")
    }

    /// A tag unique to this backend and `what`, for the mock's timeline.
    pub fn tag(&self, what: &str) -> String {
        format!("{}-{what}", self.name)
    }

    /// Posts a chat playing `scenario` fast, and reads the whole answer.
    pub async fn chat(&self, scenario: Scenario) -> Answer {
        let directive = cases::directive(scenario, &self.tag(scenario.name()), false);
        self.chat_text(&directive.render()).await
    }

    /// Posts a chat whose one user message is `text`, and reads the whole answer.
    pub async fn chat_text(&self, text: &str) -> Answer {
        let body = cases::single_turn("chat-1", text.to_owned());
        client::post_chat(&self.http, &self.url, &body)
            .await
            .expect("the backend answers")
    }

    /// Posts a chat whose user message carries `directive`; its answer still arriving.
    pub async fn open_chat(&self, directive: &Directive) -> Arriving {
        let body: Value = cases::single_turn("chat-1", directive.render());
        let request = self.http.post(format!("{}/api/chat", self.url)).json(&body);
        client::open(request).await.expect("the backend answers")
    }

    pub async fn get(&self, path: &str) -> Answer {
        client::exchange(self.http.get(format!("{}{path}", self.url)))
            .await
            .expect("the backend answers")
    }

    /// Waits until `/health` answers `status`; the time it took, and that answer.
    pub async fn wait_for_health(&self, status: u16) -> (std::time::Duration, Answer) {
        let started = std::time::Instant::now();
        loop {
            let answer = self.get("/health").await;
            if answer.status == status {
                return (started.elapsed(), answer);
            }
            assert!(
                started.elapsed() < guards::HANG_GUARD,
                "/health never answered {status}"
            );
            tokio::time::sleep(guards::POLL_INTERVAL).await;
        }
    }

    /// Stops the backend (sidecars included) and the mock provider.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let stopped = guards::within_guard("the backend's stop", self.served).await;
        let _served = stopped.expect("the backend stops");
        let _ = self.mock.shutdown().await;
    }
}

pub async fn start_mock() -> MockHandle {
    mock_provider::spawn(MockConfig::default())
        .await
        .expect("the mock provider starts")
}

/// Starts a host over `transport` with the shell's state.
pub async fn start_host<T: Transport>(
    transport: T,
    server: &ServerArgs,
    sidecar: &SidecarArgs,
) -> anyhow::Result<Host<T>> {
    let state = CoreState::from_args(server).expect("the fixture corpus loads");
    Host::start(transport, server, state, sidecar).await
}

/// The common flags a test stack runs with.
pub fn server_args(provider_url: String, options: &StackOptions) -> ServerArgs {
    ServerArgs {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        provider_url,
        model: contract::DEFAULT_MODEL.into(),
        specs_dir: sut_kit::repo_root().join("fixtures/specs"),
        rate_limit: RateLimit::Off,
        enable_fault_injection: options.fault_injection,
        inject_delay_us: None,
        inject_cpu_us: None,
        idle_timeout_s: 60,
        max_retries: contract::DEFAULT_MAX_RETRIES,
        api_key: ApiKey::new(options.api_key.clone()),
    }
}

/// The sidecar flags a test stack runs with: the binaries' defaults (parsed, not copied, so
/// the tests run what ships), with this bundle and pool size.
pub fn sidecar_args(entry: PathBuf, sidecars: usize) -> SidecarArgs {
    let mut args = shipped_sidecar_args();
    args.entry = Some(entry);
    args.sidecars = sidecars;
    args
}

/// The sidecar flags as the binaries parse them when none is given.
pub fn shipped_sidecar_args() -> SidecarArgs {
    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        sidecar: SidecarArgs,
    }
    <Flags as clap::Parser>::try_parse_from(["test"])
        .expect("the sidecar flags all have defaults")
        .sidecar
}

/// The unix tool socket a stack's sidecars are told of.
pub fn tools_socket(tools: &SidecarEnv) -> PathBuf {
    PathBuf::from(tools.get(TOOLS_SOCKET_VAR).expect("a unix tool socket"))
}

/// The http tool listener's URL and token a stack's sidecars are told of.
pub fn tools_url_and_token(tools: &SidecarEnv) -> (String, String) {
    let get = |name| {
        tools
            .get(name)
            .and_then(|v| v.to_str())
            .unwrap_or_else(|| panic!("{name} is set"))
            .to_owned()
    };
    (get(TOOLS_URL_VAR), get(TOOLS_TOKEN_VAR))
}

/// Installs a log subscriber writing into memory (once per test binary); the returned function
/// reads everything logged so far, by every test of the binary.
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

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a real pid");
    rustix::process::kill_process(pid, signal).expect("the signal is sent");
}
