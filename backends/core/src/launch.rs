//! What a backend's `main` needs around [`serve`]: logging to stderr, the signals, the ready
//! line. Kept apart from `serve` because the napi backend runs the server inside Node, which
//! owns the process, its signals and its stdout.
//!
//! A backend's main is then a few lines:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use leanspec_core::{BoundServer, ChatBackend, ServerArgs};
//! # async fn example<B: ChatBackend>(args: ServerArgs, make: impl FnOnce(&BoundServer) -> B) -> anyhow::Result<()> {
//! leanspec_core::init_tracing();
//! let server = BoundServer::bind(args).await?;
//! let backend = Arc::new(make(&server));
//! server.run(backend).await
//! # }
//! ```

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use contract::ready::ReadyLine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::args::ServerArgs;
use crate::backend::{ChatBackend, Health};
use crate::server::{CoreState, serve};

/// A runtime that needs longer than this to become healthy (a sidecar that never starts) is
/// a failed start, reported instead of waited on forever.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Between two `/health` probes while starting.
const HEALTH_POLL: Duration = Duration::from_millis(20);

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). Does nothing if a subscriber is
/// already installed.
pub fn init_tracing() {
    init_tracing_to(std::io::stderr, "info");
}

/// [`init_tracing`] with another destination and default filter; `RUST_LOG`, when set, still
/// wins.
pub fn init_tracing_to<W>(writer: W, default_filter: &str)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    init_tracing_with_filter(writer, filter);
}

/// Installs the log format with exactly `filter` (tests that must see given levels whatever
/// `RUST_LOG` says).
pub fn init_tracing_with_filter<W>(writer: W, filter: EnvFilter)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        // Where each line was written: an operator reading a failure finds the code without a
        // debugger (docs/report.md#debug-experience).
        .with_file(true)
        .with_line_number(true)
        .try_init();
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed when this is called,
/// not when the future is first polled, so a signal that arrives while the server is still
/// starting is not lost to the default action (which would kill the process uncleanly).
/// Must be called inside a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (term, interrupt) {
            (Ok(mut term), Ok(mut interrupt)) => tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = interrupt.recv() => tracing::info!("SIGINT received"),
            },
            (term, interrupt) => {
                let error = term.err().or(interrupt.err()).map(|e| e.to_string());
                tracing::error!(
                    ?error,
                    "cannot listen for signals; the server stops only when killed"
                );
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Prints the ready line on stdout, the one line a server ever writes there.
pub fn print_ready_line(ready: &ReadyLine) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", ready.to_line())?;
    stdout.flush()
}

/// Whether `GET /health` at `addr` answers 200 (a plain HTTP/1.1 request, no client needed).
pub async fn health_ok(addr: SocketAddr) -> bool {
    let probe = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            .await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        std::io::Result::Ok(head.starts_with(b"HTTP/1.1 200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Ok(true))
    )
}

/// A server whose corpus is loaded and whose public listener is bound, not yet serving: every
/// backend starts through here, so binding, its errors and its log line are the same in all.
#[derive(Debug)]
pub struct BoundServer {
    pub args: ServerArgs,
    pub listener: TcpListener,
    pub state: CoreState,
}

impl BoundServer {
    /// Loads the spec corpus and binds `--listen`.
    pub async fn bind(args: ServerArgs) -> anyhow::Result<Self> {
        let state = CoreState::from_args(&args).context("cannot load the spec corpus")?;
        Self::bind_loaded(args, state).await
    }

    /// Binds `--listen` for a corpus loaded already: the napi addon loads it first, because
    /// the JavaScript chat function needs the tool definitions before the server serves.
    pub async fn bind_loaded(args: ServerArgs, state: CoreState) -> anyhow::Result<Self> {
        if state.store().is_empty() {
            tracing::warn!(specs_dir = %args.specs_dir.display(), "the spec corpus is empty; is --specs-dir right?");
        }
        let listener = TcpListener::bind(args.listen).await.with_context(|| {
            format!(
                "cannot listen on {}; pick a free port or use port 0",
                args.listen
            )
        })?;
        tracing::info!(
            specs = state.store().len(),
            rate_limit = %args.rate_limit,
            fault_injection = args.enable_fault_injection,
            ?args,
            "loaded"
        );
        Ok(Self {
            args,
            listener,
            state,
        })
    }

    /// `http://<bound address>`.
    pub fn url(&self) -> anyhow::Result<String> {
        Ok(format!("http://{}", self.listener.local_addr()?))
    }

    /// Serves until SIGTERM/SIGINT; prints the ready line once `/health` answers 200.
    pub async fn run<B: ChatBackend>(self, backend: Arc<B>) -> anyhow::Result<()> {
        self.run_until(backend, shutdown_signal()).await
    }

    /// [`run`](Self::run) with another shutdown trigger.
    pub async fn run_until<B: ChatBackend>(
        self,
        backend: Arc<B>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.listener.local_addr()?;
        let url = format!("http://{addr}");
        let name = backend.name();
        let mut server = tokio::spawn(serve(self.listener, backend.clone(), self.state, shutdown));
        let started = tokio::time::Instant::now();
        loop {
            tokio::select! {
                result = &mut server => {
                    result.context("the server task failed")??;
                    tracing::info!("stopped before becoming ready");
                    return Ok(());
                }
                () = tokio::time::sleep(HEALTH_POLL) => {}
            }
            if health_ok(addr).await {
                break;
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                server.abort();
                let why = match backend.health() {
                    Health::Unavailable { reason, .. } => format!("the backend says: {reason}"),
                    Health::Ok => "the backend reports itself healthy, so the listener did not \
                                   answer; check --listen"
                        .to_owned(),
                };
                anyhow::bail!(
                    "/health of the {name} backend did not answer 200 within {STARTUP_TIMEOUT:?}; {why}"
                );
            }
        }
        // Read after the runtime is healthy: a supervisor may have restarted it meanwhile.
        print_ready_line(&ReadyLine::new(name, &url, backend.runtime_pid()))
            .context("cannot write the ready line")?;
        tracing::info!(%url, backend = name, "ready");
        server.await.context("the server task failed")??;
        tracing::info!("stopped");
        Ok(())
    }
}
