//! The whole unix/http server: the core shell, the tool-callback listener, the sidecar pool,
//! and their orderly start and stop, over a backend's [`Transport`].
//!
//! Start order matters: the tool listener first (a sidecar loads its tool definitions before it
//! says it is ready), then the sidecars, then the public listener. Stop order is the reverse.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, CommandFactory, FromArgMatches, Parser};
use leanspec_core::{BoundServer, ChatBackend, CoreState, ServerArgs};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::args::{SidecarArgs, SidecarMode};
use crate::backend::SidecarBackend;
use crate::pool::Pool;
use crate::sidecar::SidecarSettings;
use crate::tool_listener::ToolListener;
use crate::transport::{Endpoint, Transport};

/// The private directory's mode: only the owner may enter it, list it or create in it.
pub const RUNTIME_DIR_MODE: u32 = 0o700;
/// How long startup waits, beyond the ready timeout, for the first sidecar's first probe.
const FIRST_PROBE_MARGIN: Duration = Duration::from_secs(2);

/// A started server, minus its public listener.
#[derive(Debug)]
pub struct Host<T: Transport> {
    backend: Arc<SidecarBackend<T::Endpoint>>,
    state: CoreState,
    tools: ToolListener,
    runtime_dir: tempfile::TempDir,
    stop: CancellationToken,
}

impl<T: Transport> Host<T> {
    /// Starts the tool listener and the sidecars over `transport`; returns once one sidecar
    /// serves (managed mode) or at once (external mode, whose sidecar may be started later).
    /// `state` is the shell's (`CoreState::from_args(server)`): its toolbox serves the tool
    /// callbacks.
    pub async fn start(
        transport: T,
        server: &ServerArgs,
        state: CoreState,
        sidecar: &SidecarArgs,
    ) -> anyhow::Result<Self> {
        let name = T::NAME;
        let runtime_dir = private_dir(name)?;
        let stop = CancellationToken::new();
        let tools = transport.open_tool_listener(
            state.toolbox().clone(),
            runtime_dir.path(),
            sidecar.mode,
        )?;
        let pool = match sidecar.mode {
            SidecarMode::Managed => {
                let settings = SidecarSettings {
                    node: sidecar.resolve_node()?,
                    entry: sidecar.resolve_entry(),
                    runtime_dir: runtime_dir.path().to_path_buf(),
                    provider_url: server.provider_url.clone(),
                    model: server.model.clone(),
                    api_key: Some(server.api_key.expose().to_owned()).filter(|k| !k.is_empty()),
                    tools: tools.callback.clone(),
                    ready_timeout: sidecar.ready_timeout(),
                    idle_timeout: Duration::from_secs(server.idle_timeout_s),
                    max_retries: server.max_retries,
                };
                Pool::managed(
                    sidecar.sidecars,
                    settings,
                    Arc::new(transport),
                    stop.clone(),
                )
            }
            SidecarMode::External => {
                let endpoints = transport.external_endpoints()?;
                log_external_setup(&tools, &endpoints);
                Pool::external(endpoints, stop.clone())
            }
        };
        let silence_limit = crate::relay::silence_backstop(
            Duration::from_secs(server.idle_timeout_s),
            server.max_retries,
        );
        let backend = Arc::new(SidecarBackend::new(
            name,
            pool.clone(),
            silence_limit,
            sidecar.wire,
        ));
        let host = Self {
            backend,
            state,
            tools,
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

    pub fn backend(&self) -> &Arc<SidecarBackend<T::Endpoint>> {
        &self.backend
    }

    pub fn pool(&self) -> &Arc<Pool<T::Endpoint>> {
        self.backend.pool()
    }

    /// The 0700 directory holding the sockets.
    pub fn runtime_dir(&self) -> &Path {
        self.runtime_dir.path()
    }

    /// The tool listener as a sidecar's environment names it (where it is, its credential).
    pub fn tool_listener(&self) -> &ToolListener {
        &self.tools
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
        self.tools.stop().await;
        tracing::info!(backend = self.backend.name(), "stopped");
    }
}

/// A sidecar backend's command line: the common server flags, the sidecar flags, and the
/// flags of its transport.
#[derive(Debug, Clone, Parser)]
#[command(version)]
pub struct Cli<T: Args> {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub sidecar: SidecarArgs,
    #[command(flatten)]
    pub transport: T,
}

impl<T: Transport + Args + FromArgMatches> Cli<T> {
    /// This process's arguments, as the binary `name` (`about` is its `--help` summary); a
    /// usage error exits as clap's do.
    pub fn parse_as(name: &'static str, about: &'static str) -> Self {
        let matches = Self::command().name(name).about(about).get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// The binary's whole life: bind, start, print the ready line once `/health` answers,
    /// serve until SIGTERM or SIGINT, then stop the sidecars.
    pub async fn run(self) -> anyhow::Result<()> {
        let bound = BoundServer::bind(self.server).await?;
        let state = bound.state.clone();
        let host = Host::start(self.transport, &bound.args, state, &self.sidecar).await?;
        let served = bound.run(host.backend.clone()).await;
        host.stop().await;
        served
    }
}

fn private_dir(name: &str) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("leanspec-{name}-"))
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

fn log_external_setup<E: Endpoint>(tools: &ToolListener, endpoints: &[E]) {
    let sidecars: Vec<String> = endpoints.iter().map(ToString::to_string).collect();
    tracing::info!(
        "external sidecar mode: start each sidecar with {} (expecting {})",
        tools.callback.describe(),
        sidecars.join(", ")
    );
}
