//! Starting one Node.js sidecar: its environment, its death with ours, its logs and its ready
//! line.
//!
//! The sidecar must never outlive the server, even one that is SIGKILLed and so runs no
//! cleanup: the kernel delivers SIGKILL to the child when its parent dies (`PR_SET_PDEATHSIG`),
//! and the sidecar polls `LEANSPEC_PARENT_PID` as a second line of defence.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use contract::ready::ReadyLine;
use rustix::process::{Pid, Signal};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::transport::{SidecarAddr, TransportKind};

/// Where the sidecar sends tool callbacks, and how it proves who it is.
#[derive(Clone)]
pub enum ToolsCallback {
    /// The Unix socket of the internal listener (0600 in a 0700 directory).
    Socket(PathBuf),
    /// The loopback URL of the internal listener and the bearer token it demands.
    Url { url: String, token: String },
}

impl std::fmt::Debug for ToolsCallback {
    // The token is a credential: it never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Socket(path) => write!(f, "Socket({})", path.display()),
            Self::Url { url, .. } => write!(f, "Url({url}, token redacted)"),
        }
    }
}

/// Everything needed to start a sidecar; shared by every launch of every pool member.
#[derive(Clone)]
pub struct LaunchConfig {
    pub kind: TransportKind,
    pub node: PathBuf,
    pub entry: PathBuf,
    /// A directory only this user can enter, for sockets.
    pub runtime_dir: PathBuf,
    pub provider_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub tools: ToolsCallback,
    pub ready_timeout: Duration,
    /// `--idle-timeout-s`: the sidecar ends a stream whose provider is silent this long.
    pub idle_timeout: Duration,
    /// `--max-retries`: provider retries with the AI SDK's backoff.
    pub max_retries: u32,
}

impl std::fmt::Debug for LaunchConfig {
    // The API key and the tool token are credentials: they never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaunchConfig")
            .field("kind", &self.kind)
            .field("node", &self.node)
            .field("entry", &self.entry)
            .field("runtime_dir", &self.runtime_dir)
            .field("provider_url", &self.provider_url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "sidecar entry {0} not found: run `npm ci --prefix backends/sidecar && npm run build --prefix backends/sidecar`, or pass --sidecar-entry"
    )]
    EntryMissing(PathBuf),
    #[error("cannot start `{node}`: {source}; install Node.js 20+ or pass --node PATH")]
    Spawn { node: PathBuf, source: io::Error },
    #[error("the sidecar exited before it was ready ({0}); its stderr is in the log above")]
    ExitedBeforeReady(String),
    #[error("the sidecar printed no ready line within {0:?}; its stderr is in the log above")]
    ReadyTimeout(Duration),
    #[error("the sidecar's ready line has an unusable url {url:?}: {reason}")]
    BadReadyLine { url: String, reason: &'static str },
    #[error("cannot prepare the sidecar's socket path: {0}")]
    Io(#[from] io::Error),
}

/// A started sidecar that printed its ready line.
#[derive(Debug)]
pub struct Sidecar {
    child: Child,
    /// Held, never written: `Child::wait` would close it, and the sidecar exits on its end.
    _stdin: Option<ChildStdin>,
    pub pid: u32,
    pub addr: SidecarAddr,
}

/// Member `member`'s chat socket inside the private runtime directory.
pub fn chat_socket_path(runtime_dir: &Path, member: usize) -> PathBuf {
    runtime_dir.join(format!("chat-{member}.sock"))
}

/// Variables a user may have exported for the two-terminal mode; a managed sidecar must see
/// only the values we give it.
const INHERITED_VARS_TO_CLEAR: &[&str] = &[
    "LEANSPEC_CHAT_SOCKET",
    "LEANSPEC_CHAT_TRANSPORT",
    "LEANSPEC_CHAT_PORT",
    "LEANSPEC_CHAT_PORT_FILE",
    "LEANSPEC_CHAT_TOKEN",
    "LEANSPEC_TOOLS_SOCKET",
    "LEANSPEC_TOOLS_URL",
    "LEANSPEC_TOOLS_TOKEN",
    "LEANSPEC_NO_TOOLS",
    "LEANSPEC_MAX_RETRIES",
    "LEANSPEC_IDLE_TIMEOUT_MS",
    "LEANSPEC_TOOLS_WAIT_MS",
];

/// Starts member `member`'s sidecar and waits for its ready line.
pub async fn launch(config: &LaunchConfig, member: usize) -> Result<Sidecar, LaunchError> {
    if !config.entry.is_file() {
        return Err(LaunchError::EntryMissing(config.entry.clone()));
    }
    let mut command = Command::new(&config.node);
    command
        .arg(&config.entry)
        // A pipe we hold and never write: the kernel closes it when we die, however we die,
        // which the sidecar watches as a third way to learn that its parent is gone.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C in the terminal reaches the server, which then stops
        // the sidecar in order, instead of both dying at once and the server restarting it.
        .process_group(0)
        .kill_on_drop(true);
    for var in INHERITED_VARS_TO_CLEAR {
        command.env_remove(var);
    }
    let token = match config.kind {
        TransportKind::Unix => {
            let socket = chat_socket_path(&config.runtime_dir, member);
            remove_stale(&socket)?;
            command.env("LEANSPEC_CHAT_SOCKET", &socket);
            None
        }
        TransportKind::Http => {
            let token = leanspec_core::random_bearer_token();
            command
                .env("LEANSPEC_CHAT_TRANSPORT", "http")
                .env("LEANSPEC_CHAT_PORT", "0")
                .env("LEANSPEC_CHAT_TOKEN", &token);
            Some(token)
        }
    };
    match &config.tools {
        ToolsCallback::Socket(path) => command.env("LEANSPEC_TOOLS_SOCKET", path),
        ToolsCallback::Url { url, token } => command
            .env("LEANSPEC_TOOLS_URL", url)
            .env("LEANSPEC_TOOLS_TOKEN", token),
    };
    command
        .env("LEANSPEC_PROVIDER_URL", &config.provider_url)
        .env("LEANSPEC_MODEL", &config.model)
        .env(
            "LEANSPEC_IDLE_TIMEOUT_MS",
            config.idle_timeout.as_millis().max(1).to_string(),
        )
        .env("LEANSPEC_MAX_RETRIES", config.max_retries.to_string())
        .env("LEANSPEC_PARENT_PID", std::process::id().to_string())
        .env("LEANSPEC_STDIN_LIFELINE", "1");
    if let Some(key) = &config.api_key {
        command.env("OPENAI_API_KEY", key);
    }
    die_with_parent(&mut command);

    let mut child = command.spawn().map_err(|source| LaunchError::Spawn {
        node: config.node.clone(),
        source,
    })?;
    let pid = child.id().unwrap_or_default();
    let stdin = child.stdin.take();
    let secrets = Secrets::new(config, token.as_deref());
    if let Some(stderr) = child.stderr.take() {
        forward_lines(BufReader::new(stderr).lines(), member, pid, secrets.clone());
    }
    let Some(stdout) = child.stdout.take() else {
        return Err(LaunchError::ExitedBeforeReady("no stdout pipe".into()));
    };
    let mut stdout = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(
        config.ready_timeout,
        read_ready_line(&mut stdout, &mut child, member, pid, &secrets),
    )
    .await
    .map_err(|_| LaunchError::ReadyTimeout(config.ready_timeout))??;
    forward_lines(stdout, member, pid, secrets);
    let addr = addr_from_ready(&ready, config, member, token)?;
    Ok(Sidecar {
        child,
        _stdin: stdin,
        pid,
        addr,
    })
}

async fn read_ready_line(
    stdout: &mut Lines<BufReader<ChildStdout>>,
    child: &mut Child,
    member: usize,
    pid: u32,
    secrets: &Secrets,
) -> Result<ReadyLine, LaunchError> {
    loop {
        match stdout.next_line().await {
            Ok(Some(line)) => match ReadyLine::parse(&line) {
                Some(ready) => return Ok(ready),
                None => tracing::info!(target: "sidecar", member, pid, "{}", secrets.redact(&line)),
            },
            Ok(None) | Err(_) => {
                let status = child.wait().await.map_or_else(|e| e.to_string(), describe);
                return Err(LaunchError::ExitedBeforeReady(status));
            }
        }
    }
}

fn addr_from_ready(
    ready: &ReadyLine,
    config: &LaunchConfig,
    member: usize,
    token: Option<String>,
) -> Result<SidecarAddr, LaunchError> {
    let bad = |reason| LaunchError::BadReadyLine {
        url: ready.url.clone(),
        reason,
    };
    match (config.kind, token) {
        (TransportKind::Unix, _) => {
            let expected = chat_socket_path(&config.runtime_dir, member);
            let path = ready
                .url
                .strip_prefix("unix:")
                .ok_or_else(|| bad("expected unix:<path>"))?;
            if Path::new(path) != expected {
                return Err(bad("not the socket path it was given"));
            }
            Ok(SidecarAddr::Unix(expected))
        }
        (TransportKind::Http, token) => {
            let addr: SocketAddr = ready
                .url
                .strip_prefix("http://")
                .and_then(|a| a.trim_end_matches('/').parse().ok())
                .ok_or_else(|| bad("expected http://127.0.0.1:<port>"))?;
            if !addr.ip().is_loopback() {
                return Err(bad("the sidecar must listen on loopback only"));
            }
            Ok(SidecarAddr::Tcp {
                addr,
                token: token.unwrap_or_default(),
            })
        }
    }
}

/// Asks the kernel to SIGKILL the child when this process dies, whatever kills it.
///
/// The signal fires when the *thread* that forked the child exits, so sidecars are spawned
/// from the runtime's long-lived worker threads, never from `spawn_blocking`.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command) {
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // work is allowed. It makes two raw syscalls (prctl, getppid), allocates nothing (the
    // error is built from a raw errno) and touches no lock.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            // The parent may have died between fork and prctl; then no signal will ever come.
            if rustix::process::getppid() != Some(parent) {
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
}

fn remove_stale(socket: &Path) -> io::Result<()> {
    match std::fs::remove_file(socket) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Sidecar {
    /// Waits for the process to exit, however that happens.
    pub async fn wait(&mut self) -> String {
        self.child
            .wait()
            .await
            .map_or_else(|e| format!("wait failed: {e}"), describe)
    }

    /// SIGKILL, for a sidecar that stopped answering.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then SIGKILL if it is still there after `grace`.
    pub async fn terminate(&mut self, grace: Duration) {
        if let Some(pid) = self.child.id().and_then(|p| Pid::from_raw(p as i32)) {
            let _ = rustix::process::kill_process(pid, Signal::TERM);
            if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
                return;
            }
        }
        self.kill().await;
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

/// Values that must never be written to a log, even if the sidecar prints them.
#[derive(Clone)]
struct Secrets(Vec<String>);

impl Secrets {
    fn new(config: &LaunchConfig, chat_token: Option<&str>) -> Self {
        let tools_token = match &config.tools {
            ToolsCallback::Url { token, .. } => Some(token.as_str()),
            ToolsCallback::Socket(_) => None,
        };
        let values = [config.api_key.as_deref(), chat_token, tools_token];
        Self(
            values
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    fn redact(&self, line: &str) -> String {
        self.0.iter().fold(line.to_owned(), |line, secret| {
            line.replace(secret.as_str(), "[redacted]")
        })
    }
}

/// Copies a child's output lines into our log, prefixed with the member and pid.
fn forward_lines<R>(mut lines: Lines<BufReader<R>>, member: usize, pid: u32, secrets: Secrets)
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::info!(target: "sidecar", member, pid, "{}", secrets.redact(&line));
        }
    });
}
