//! The whole unix/http server: the core shell, the tool-callback listener, the sidecar pool,
//! and their orderly start and stop.
//!
//! Start order matters: the tool listener first (a sidecar loads its tool definitions before it
//! says it is ready), then the sidecars, then the public listener. Stop order is the reverse.

use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use leanspec_core::{
    BoundServer, CoreState, InternalAuth, ServerArgs, internal_router, random_bearer_token,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::args::{SidecarArgs, SidecarMode};
use crate::backend::SidecarBackend;
use crate::launch::LaunchConfig;
use crate::pool::Pool;
use crate::tool_listener::{ToolEndpoint, ToolListener};
use crate::transport::{SidecarAddr, TransportKind};

/// The private directory's mode: only the owner may enter it, list it or create in it.
pub const RUNTIME_DIR_MODE: u32 = 0o700;
/// How long startup waits, beyond the ready timeout, for the first sidecar's first probe.
const FIRST_PROBE_MARGIN: Duration = Duration::from_secs(2);

/// A started server, minus its public listener.
#[derive(Debug)]
pub struct Host {
    kind: TransportKind,
    backend: Arc<SidecarBackend>,
    state: CoreState,
    tools: ToolListener,
    tools_token: Option<String>,
    runtime_dir: tempfile::TempDir,
    stop: CancellationToken,
}

impl Host {
    /// Starts the tool listener and the sidecars; returns once one sidecar serves (managed
    /// mode) or at once (external mode, whose sidecar may be started later).
    /// `state` is the shell's (`CoreState::from_args(server)`): its toolbox serves the tool
    /// callbacks.
    pub async fn start(
        kind: TransportKind,
        server: &ServerArgs,
        state: CoreState,
        sidecar: &SidecarArgs,
    ) -> anyhow::Result<Self> {
        let runtime_dir = private_dir(kind)?;
        let stop = CancellationToken::new();
        let (tools, tools_token) =
            start_tool_listener(kind, &state, sidecar, runtime_dir.path(), stop.clone()).await?;
        let pool = match sidecar.mode {
            SidecarMode::Managed => {
                let config = LaunchConfig {
                    kind,
                    node: sidecar.node.clone(),
                    entry: sidecar.resolve_entry(),
                    runtime_dir: runtime_dir.path().to_path_buf(),
                    provider_url: server.provider_url.clone(),
                    model: server.model.clone(),
                    api_key: Some(server.api_key.expose().to_owned()).filter(|k| !k.is_empty()),
                    tools: tools.callback(tools_token.as_deref()),
                    ready_timeout: sidecar.ready_timeout(),
                    idle_timeout: Duration::from_secs(server.idle_timeout_s),
                    max_retries: server.max_retries,
                };
                Pool::managed(sidecar.sidecars, config, stop.clone())
            }
            SidecarMode::External => {
                let addrs = external_addrs(kind, sidecar)?;
                log_external_setup(&tools.endpoint, &addrs);
                Pool::external(addrs, stop.clone())
            }
        };
        let silence_limit = crate::proxy::silence_backstop(
            Duration::from_secs(server.idle_timeout_s),
            server.max_retries,
        );
        let backend = Arc::new(SidecarBackend::new(kind, pool.clone(), silence_limit));
        let host = Self {
            kind,
            backend,
            state,
            tools,
            tools_token,
            runtime_dir,
            stop,
        };
        if sidecar.mode == SidecarMode::Managed
            && let Err(reason) = pool
                .wait_until_up(sidecar.ready_timeout() + FIRST_PROBE_MARGIN)
                .await
        {
            host.stop().await;
            bail!("{reason}");
        }
        Ok(host)
    }

    pub fn backend(&self) -> &Arc<SidecarBackend> {
        &self.backend
    }

    pub fn pool(&self) -> &Arc<Pool> {
        self.backend.pool()
    }

    /// The 0700 directory holding the sockets.
    pub fn runtime_dir(&self) -> &Path {
        self.runtime_dir.path()
    }

    pub fn tool_endpoint(&self) -> &ToolEndpoint {
        &self.tools.endpoint
    }

    /// The bearer token of the http tool listener (none in unix mode).
    pub fn tools_token(&self) -> Option<&str> {
        self.tools_token.as_deref()
    }

    /// Serves the public API on `listener` until `shutdown`, then stops everything.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let served =
            leanspec_core::serve(listener, self.backend.clone(), self.state.clone(), shutdown)
                .await;
        self.stop().await;
        served.context("the public listener failed")
    }

    /// Stops the sidecars (SIGTERM, then SIGKILL), then the tool listener.
    pub async fn stop(self) {
        self.backend.pool().shutdown().await;
        self.stop.cancel();
        self.tools.join().await;
        tracing::info!(backend = self.kind.backend_name(), "stopped");
    }
}

/// The bins' whole life: bind, start, print the ready line once `/health` answers, serve
/// until SIGTERM or SIGINT, then stop the sidecars.
pub async fn run(
    kind: TransportKind,
    server: ServerArgs,
    sidecar: SidecarArgs,
) -> anyhow::Result<()> {
    let bound = BoundServer::bind(server).await?;
    let host = Host::start(kind, &bound.args, bound.state.clone(), &sidecar).await?;
    let served = bound.run(host.backend.clone()).await;
    host.stop().await;
    served
}

fn private_dir(kind: TransportKind) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("leanspec-{}-", kind.backend_name()))
        .tempdir()
        .context("cannot create a private directory for the sidecar sockets")?;
    std::fs::set_permissions(
        dir.path(),
        std::fs::Permissions::from_mode(RUNTIME_DIR_MODE),
    )
    .with_context(|| {
        format!(
            "cannot make {} private (mode 0700); check TMPDIR points at a directory you own",
            dir.path().display()
        )
    })?;
    Ok(dir)
}

async fn start_tool_listener(
    kind: TransportKind,
    state: &CoreState,
    sidecar: &SidecarArgs,
    runtime_dir: &Path,
    stop: CancellationToken,
) -> anyhow::Result<(ToolListener, Option<String>)> {
    let toolbox = state.toolbox().clone();
    match kind {
        TransportKind::Unix => {
            let path = sidecar
                .tools_socket
                .clone()
                .unwrap_or_else(|| runtime_dir.join("tools.sock"));
            let router = internal_router(toolbox, InternalAuth::Transport);
            let listener = ToolListener::bind_unix(&path, router, stop)
                .with_context(|| format!("cannot create the tool socket {}", path.display()))?;
            Ok((listener, None))
        }
        TransportKind::Http => {
            // External sidecars need a token both terminals know; managed ones get a new one.
            let token = match sidecar.mode {
                SidecarMode::External => sidecar
                    .tools_token
                    .clone()
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(random_bearer_token),
                SidecarMode::Managed => random_bearer_token(),
            };
            let router = internal_router(toolbox, InternalAuth::Bearer(token.clone()));
            let listener = ToolListener::bind_loopback(0, router, stop)
                .await
                .context("cannot open the loopback tool listener")?;
            Ok((listener, Some(token)))
        }
    }
}

fn external_addrs(kind: TransportKind, sidecar: &SidecarArgs) -> anyhow::Result<Vec<SidecarAddr>> {
    match kind {
        TransportKind::Unix if !sidecar.urls.is_empty() => {
            bail!("--sidecar-url is for backend-http; backend-unix takes --sidecar-socket PATH")
        }
        TransportKind::Http if !sidecar.sockets.is_empty() => {
            bail!("--sidecar-socket is for backend-unix; backend-http takes --sidecar-url URL")
        }
        TransportKind::Unix => {
            if sidecar.sockets.is_empty() {
                bail!(
                    "--sidecar external needs --sidecar-socket PATH (the sidecar's LEANSPEC_CHAT_SOCKET)"
                );
            }
            Ok(sidecar
                .sockets
                .iter()
                .cloned()
                .map(SidecarAddr::Unix)
                .collect())
        }
        TransportKind::Http => {
            let Some(token) = sidecar.token.clone().filter(|t| !t.is_empty()) else {
                bail!(
                    "--sidecar external needs --sidecar-token T (or LEANSPEC_CHAT_TOKEN): the sidecar's token"
                );
            };
            if sidecar.urls.is_empty() {
                bail!("--sidecar external needs --sidecar-url http://127.0.0.1:PORT");
            }
            sidecar
                .urls
                .iter()
                .map(|url| {
                    let addr = parse_loopback_url(url)?;
                    Ok(SidecarAddr::Tcp {
                        addr,
                        token: token.clone(),
                    })
                })
                .collect()
        }
    }
}

/// `http://127.0.0.1:PORT` → its address; the token travels in clear text, so loopback only.
pub fn parse_loopback_url(url: &str) -> anyhow::Result<SocketAddr> {
    let addr: SocketAddr = url
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .and_then(|rest| rest.parse().ok())
        .with_context(|| format!("--sidecar-url {url:?}: expected http://127.0.0.1:PORT"))?;
    if !addr.ip().is_loopback() {
        bail!(
            "--sidecar-url {url:?}: the sidecar must listen on loopback (its token is sent in clear text)"
        );
    }
    Ok(addr)
}

fn log_external_setup(tools: &ToolEndpoint, addrs: &[SidecarAddr]) {
    let tools_env: String = match tools {
        ToolEndpoint::Socket(path) => format!("LEANSPEC_TOOLS_SOCKET={}", path.display()),
        ToolEndpoint::Tcp(addr) => {
            format!(
                "LEANSPEC_TOOLS_URL=http://{addr} LEANSPEC_TOOLS_TOKEN=<the token in LEANSPEC_TOOLS_TOKEN>"
            )
        }
    };
    let sidecars: Vec<String> = addrs.iter().map(ToString::to_string).collect();
    tracing::info!(
        "external sidecar mode: start each sidecar with {tools_env} (expecting {})",
        sidecars.join(", ")
    );
}
