//! The HTTP server: its own accept loop over hyper, so every connection gets `TCP_NODELAY`
//! (Nagle's algorithm would hold small SSE frames back behind delayed ACKs, tens of ms) and
//! shutdown is bounded (in-flight answers get a grace period, then their connections are cut).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use contract::timeline::Timeline;

use crate::config::MockConfig;
use crate::error::{ApiError, MockError};
use crate::handlers::{self, AppState};
use crate::timeline::TimelineStore;
use crate::timer::Timer;

/// After a failed `accept` (out of file descriptors, usually), wait this long before the next:
/// retrying at once would spin while nothing can change.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

fn router(state: Arc<AppState>) -> Router {
    let catch_panic = tower_http::catch_panic::CatchPanicLayer::custom(|_| {
        axum::response::IntoResponse::into_response(ApiError::internal(
            "the mock provider panicked while answering; this is a bug in mock-provider",
        ))
    });
    Router::new()
        .route("/v1/chat/completions", post(handlers::chat_completions))
        .route("/v1/models", get(handlers::models))
        .route(
            "/__mock/timeline",
            get(handlers::timeline).delete(handlers::clear_timeline),
        )
        .route("/health", get(handlers::health))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(catch_panic)
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, then lets in-flight answers run for
/// `config.shutdown_grace` before cutting them. Must run inside a tokio runtime.
pub async fn serve(
    listener: TcpListener,
    config: MockConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MockError> {
    let timeline = TimelineStore::new(config.timeline_capacity);
    run(listener, config, timeline, shutdown).await
}

async fn run(
    listener: TcpListener,
    config: MockConfig,
    timeline: TimelineStore,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MockError> {
    let (timer, _driver) = Timer::start().map_err(MockError::Timer)?;
    let grace = config.shutdown_grace;
    let app = router(Arc::new(AppState::new(config, timeline, timer)));
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::warn!(%peer, error = %e, "cannot set TCP_NODELAY; frames may be delayed");
                    }
                    let service = TowerToHyperService::new(app.clone());
                    let connection = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned();
                    let connection = graceful.watch(connection);
                    connections.spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!(
            open = connections.len(),
            "answers still running after the shutdown grace period; cutting them"
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// Connections the kernel queues before `accept`. Tokio's default (1024) overflows when
/// thousands of streams open at once (the benchmark's 2,000), and an overflowed SYN is retried
/// only after a second; the kernel caps this at `net.core.somaxconn`.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds a listener with [`LISTEN_BACKLOG`]. Must run inside a tokio runtime.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Binds `config.listen` and serves in a task of the current runtime.
pub async fn spawn(config: MockConfig) -> Result<MockHandle, MockError> {
    let listener = bind(config.listen).map_err(|source| MockError::Bind {
        addr: config.listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(MockError::LocalAddr)?;
    let timeline = TimelineStore::new(config.timeline_capacity);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(listener, config, timeline.clone(), async move {
        // A dropped sender (handle dropped) stops the server too.
        let _ = stopped.await;
    }));
    Ok(MockHandle {
        addr,
        timeline,
        stop: Some(stop),
        task: Some(task),
    })
}

/// A provider running in-process. Dropping the handle stops it (without waiting).
#[derive(Debug)]
pub struct MockHandle {
    addr: SocketAddr,
    timeline: TimelineStore,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), MockError>>>,
}

impl MockHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`, the OpenAI base URL clients use.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// A copy of the whole timeline.
    pub fn timeline(&self) -> Timeline {
        self.timeline.snapshot(None)
    }

    /// The live timeline: filter by tag, clear, wait for in-flight requests to settle.
    pub fn timeline_store(&self) -> &TimelineStore {
        &self.timeline
    }

    /// Stops accepting, lets in-flight answers finish within the grace period, and waits.
    pub async fn shutdown(mut self) -> Result<(), MockError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
