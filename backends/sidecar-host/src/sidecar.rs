//! Starting one Node.js sidecar, in three steps: its environment ([`sidecar_env`]), the
//! process ([`spawn`]: dies with ours, its own process group) and its ready line
//! ([`wait_ready`]), which says where it listens.
//!
//! The sidecar must never outlive the server, even one that is SIGKILLed and so runs no
//! cleanup: the kernel delivers SIGKILL to the child when its parent dies
//! (`contract::lifeline`), and the sidecar polls `LEANSPEC_PARENT_PID` as a second line of
//! defence.

use std::ffi::OsStr;
use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use contract::ready::ReadyLine;
use rustix::process::{Pid, Signal};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::sidecar_env::SidecarEnv;
use crate::transport::Transport;

/// What every start of every pool member shares.
#[derive(Debug, Clone)]
pub struct SidecarSettings {
    pub node: PathBuf,
    pub entry: PathBuf,
    /// A directory only this user can enter, for sockets.
    pub runtime_dir: PathBuf,
    pub provider_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// Where the sidecar calls tools back (the tool listener's environment).
    pub tools: SidecarEnv,
    pub ready_timeout: Duration,
    /// `--idle-timeout-s`: the sidecar ends a stream whose provider is silent this long.
    pub idle_timeout: Duration,
    /// `--max-retries`: provider retries with the AI SDK's backoff.
    pub max_retries: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "sidecar entry {0} not found: run `npm ci --prefix backends/sidecar && npm run build --prefix backends/sidecar`, or pass --sidecar-entry"
    )]
    EntryMissing(PathBuf),
    #[error(
        "cannot start `{node}`: {source}; run `scripts/setup` (it installs the pinned runtime) or pass --node PATH"
    )]
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
pub struct Sidecar<E> {
    child: Child,
    /// Held, never written: `Child::wait` would close it, and the sidecar exits on its end.
    _stdin: Option<ChildStdin>,
    pub pid: u32,
    pub endpoint: E,
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

impl<E> Sidecar<E> {
    /// Starts member `member`'s sidecar over `transport` and waits for its ready line.
    pub async fn start<T>(
        settings: &SidecarSettings,
        transport: &T,
        member: usize,
    ) -> Result<Self, StartError>
    where
        T: Transport<Endpoint = E>,
    {
        if !settings.entry.is_file() {
            return Err(StartError::EntryMissing(settings.entry.clone()));
        }
        let listen = transport.listen_env(&settings.runtime_dir, member)?;
        let env = sidecar_env(settings, &listen);
        let mut child = spawn(settings, &env)?;
        let pid = child.id().unwrap_or_default();
        let log = SidecarLog {
            member,
            pid,
            secrets: Secrets::new(&env),
        };
        let stdin = child.stdin.take();
        let ready = wait_ready(&mut child, settings.ready_timeout, &log).await?;
        let endpoint =
            transport
                .endpoint(&listen, &ready.url)
                .map_err(|reason| StartError::BadReadyLine {
                    url: ready.url.clone(),
                    reason,
                })?;
        Ok(Self {
            child,
            _stdin: stdin,
            pid,
            endpoint,
        })
    }

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

/// The sidecar's whole environment: where it listens (`listen`, from the transport), where it
/// calls tools back, its provider, its limits, and how it learns that its parent is gone.
pub fn sidecar_env(settings: &SidecarSettings, listen: &SidecarEnv) -> SidecarEnv {
    let mut env = SidecarEnv::default();
    env.extend(listen)
        .extend(&settings.tools)
        .set("LEANSPEC_PROVIDER_URL", &settings.provider_url)
        .set("LEANSPEC_MODEL", &settings.model)
        .set(
            "LEANSPEC_IDLE_TIMEOUT_MS",
            settings.idle_timeout.as_millis().max(1).to_string(),
        )
        .set("LEANSPEC_MAX_RETRIES", settings.max_retries.to_string())
        .set("LEANSPEC_PARENT_PID", std::process::id().to_string())
        .set("LEANSPEC_STDIN_LIFELINE", "1");
    if let Some(key) = &settings.api_key {
        env.set_token(contract::API_KEY_ENV, key);
    }
    env
}

/// Spawns `node <entry>` with `env` (and none of the inherited two-terminal variables), tied
/// to this process's life.
fn spawn(settings: &SidecarSettings, env: &SidecarEnv) -> Result<Child, StartError> {
    let mut command = Command::new(&settings.node);
    command
        .arg(&settings.entry)
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
    command.envs(env.vars());
    // Spawned from the runtime's worker threads, never `spawn_blocking`: see the lifeline.
    contract::lifeline::die_with_parent(command.as_std_mut());
    let spawn_error = |source| StartError::Spawn {
        node: settings.node.clone(),
        source,
    };
    let Some(socket) = env.inherited() else {
        return command.spawn().map_err(spawn_error);
    };
    // A child inherits every descriptor without close-on-exec, so the socket is inheritable
    // only for this one spawn, and no other sidecar is spawned meanwhile (it would inherit it
    // too). Nothing else in a backend's process spawns children.
    let _one_at_a_time = INHERITING.lock().unwrap_or_else(|p| p.into_inner());
    rustix::io::fcntl_setfd(socket, rustix::io::FdFlags::empty())
        .map_err(|e| spawn_error(e.into()))?;
    let spawned = command.spawn().map_err(spawn_error);
    if let Err(e) = rustix::io::fcntl_setfd(socket, rustix::io::FdFlags::CLOEXEC) {
        tracing::warn!("cannot make the sidecar's socket close-on-exec again: {e}");
    }
    spawned
}

/// Held while a socket is inheritable (see [`spawn`]).
static INHERITING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Reads the child's stdout up to its ready line (logging what comes before), within
/// `timeout`; from then on both its stdout and stderr go to our log.
async fn wait_ready(
    child: &mut Child,
    timeout: Duration,
    log: &SidecarLog,
) -> Result<ReadyLine, StartError> {
    if let Some(stderr) = child.stderr.take() {
        log.forward(BufReader::new(stderr).lines());
    }
    let Some(stdout) = child.stdout.take() else {
        return Err(StartError::ExitedBeforeReady("no stdout pipe".into()));
    };
    let mut stdout = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(timeout, read_ready_line(&mut stdout, child, log))
        .await
        .map_err(|_| StartError::ReadyTimeout(timeout))??;
    log.forward(stdout);
    Ok(ready)
}

async fn read_ready_line(
    stdout: &mut Lines<BufReader<ChildStdout>>,
    child: &mut Child,
    log: &SidecarLog,
) -> Result<ReadyLine, StartError> {
    loop {
        match stdout.next_line().await {
            Ok(Some(line)) => match ReadyLine::parse(&line) {
                Some(ready) => return Ok(ready),
                None => log.line(&line),
            },
            Ok(None) | Err(_) => {
                let status = child.wait().await.map_or_else(|e| e.to_string(), describe);
                return Err(StartError::ExitedBeforeReady(status));
            }
        }
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
#[derive(Debug, Clone)]
struct Secrets(Vec<String>);

impl Secrets {
    fn new(env: &SidecarEnv) -> Self {
        let values = env
            .tokens()
            .filter_map(OsStr::to_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Self(values.collect())
    }

    fn redact(&self, line: &str) -> String {
        self.0.iter().fold(line.to_owned(), |line, secret| {
            line.replace(secret.as_str(), "[redacted]")
        })
    }
}

/// One sidecar's output in our log, prefixed with its member and pid, its secrets redacted.
#[derive(Debug, Clone)]
struct SidecarLog {
    member: usize,
    pid: u32,
    secrets: Secrets,
}

impl SidecarLog {
    fn line(&self, line: &str) {
        let (member, pid) = (self.member, self.pid);
        tracing::info!(target: "sidecar", member, pid, "{}", self.secrets.redact(line));
    }

    /// Copies every line of `lines` into the log, on a task of its own.
    fn forward<R>(&self, mut lines: Lines<BufReader<R>>)
    where
        R: tokio::io::AsyncRead + Unpin + Send + 'static,
    {
        let log = self.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                log.line(&line);
            }
        });
    }
}
