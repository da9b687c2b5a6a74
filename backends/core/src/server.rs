//! The public server: [`CoreState`], [`router`] and [`serve`].
//!
//! `serve` takes a bound listener and a shutdown future and owns nothing else of the process,
//! so the napi addon can run it inside Node and tests can run it on port 0. On shutdown it
//! stops accepting, ends every chat stream in flight with an `error` chunk and `[DONE]` (and
//! cancels the backends' upstream requests), and waits at most [`SHUTDOWN_GRACE`] for
//! connections to finish.

use axum::serve::ListenerExt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use contract::SHUTDOWN_GRACE;
use contract::runtime_memory::RUNTIME_PATH;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;

use crate::args::ServerArgs;
use crate::backend::ChatBackend;
use crate::chat_route::{self, Shell};
use crate::error::ApiError;
use crate::rate_limit::{RateLimit, RateLimiter};
use crate::spec_store::{SpecStore, SpecStoreError};
use crate::tools::{Toolbox, panic_message};
use crate::{page, rest};

/// The kernel's send buffer per client connection (Linux doubles it for its bookkeeping).
/// Autotuned, it took about 3 MB from a client that stopped reading, all of which the backend
/// produced (and a JS backend kept the step's text of) before the stall reached it
/// (docs/readers.md#a-bound-for-stalled-readers).
pub const CLIENT_SEND_BUFFER: usize = 64 * 1024;

/// What the shell holds besides the backend. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CoreState {
    toolbox: Toolbox,
    limiter: Option<Arc<RateLimiter>>,
    shutdown: CancellationToken,
    inject_delay: Option<Duration>,
    inject_cpu: Option<Duration>,
}

impl CoreState {
    pub fn new(toolbox: Toolbox, rate_limit: RateLimit) -> Self {
        Self {
            toolbox,
            limiter: RateLimiter::new(rate_limit).map(Arc::new),
            shutdown: CancellationToken::new(),
            inject_delay: None,
            inject_cpu: None,
        }
    }

    /// Loads `--specs-dir` and applies `--rate-limit` and `--enable-fault-injection`.
    pub fn from_args(args: &ServerArgs) -> Result<Self, SpecStoreError> {
        let store = Arc::new(SpecStore::load(&args.specs_dir)?);
        let toolbox = Toolbox::new(store, args.enable_fault_injection);
        let mut state = Self::new(toolbox, args.rate_limit);
        state.inject_delay = args
            .inject_delay_us
            .filter(|_| args.enable_fault_injection)
            .map(Duration::from_micros);
        state.inject_cpu = args
            .inject_cpu_us
            .filter(|_| args.enable_fault_injection)
            .map(Duration::from_micros);
        Ok(state)
    }

    pub fn toolbox(&self) -> &Toolbox {
        &self.toolbox
    }

    pub fn store(&self) -> &Arc<SpecStore> {
        self.toolbox.store()
    }

    pub fn rate_limiter(&self) -> Option<&Arc<RateLimiter>> {
        self.limiter.as_ref()
    }

    /// Fires when [`serve`] begins shutting down; chat cancellation tokens are its children.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }
}

/// Every public route: `/api/chat`, `/health`, the REST API, `/api/tools` and the chat page
/// ([`page`]), with JSON answers for unknown routes, wrong methods and panics.
pub fn router<B: ChatBackend>(backend: Arc<B>, state: CoreState) -> Router {
    let shell = Arc::new(Shell {
        backend,
        limiter: state.limiter.clone(),
        shutdown: state.shutdown.clone(),
        inject_delay: state.inject_delay,
        inject_cpu: state.inject_cpu,
    });
    let chat = Router::new()
        .route("/api/chat", post(chat_route::chat::<B>))
        .route("/health", get(chat_route::health::<B>))
        .route(RUNTIME_PATH, get(chat_route::runtime::<B>))
        .with_state(shell);
    let rest = Router::new()
        .route("/api/specs", get(rest::list_specs))
        .route("/api/specs/{id}", get(rest::get_spec))
        .route("/api/search", get(rest::search))
        .route("/api/tools", get(rest::tools))
        .with_state(state.toolbox.clone());
    chat.merge(rest)
        .merge(page::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(log_request))
}

/// Serves `router` on `listener` until `shutdown` resolves, then shuts down as the module docs
/// describe.
pub async fn serve<B: ChatBackend>(
    listener: TcpListener,
    backend: Arc<B>,
    state: CoreState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = state.shutdown.clone();
    let app = router(backend, state).into_make_service_with_connect_info::<SocketAddr>();
    serve_app(listener, app, token, shutdown).await
}

/// The shutdown sequence shared by the public and the internal listeners.
pub(crate) async fn serve_app(
    listener: TcpListener,
    app: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    token: CancellationToken,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Every SSE frame is a small write that must leave at once, not wait for the previous one's
    // ACK (measured: docs/design.md#frames-leave-at-once).
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "could not set TCP_NODELAY; frames may be delayed");
        }
        if let Err(error) = socket2::SockRef::from(&*tcp).set_send_buffer_size(CLIENT_SEND_BUFFER) {
            tracing::warn!(%error, "could not set SO_SNDBUF; a stalled client may hold more");
        }
    });
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(token.clone().cancelled_owned())
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = shutdown => {}
    }
    tracing::info!("shutting down: ending streams in flight");
    token.cancel();
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still open after the grace period; closing them");
            Ok(())
        }
    }
}

pub(crate) async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no route {} {}",
        request.method(),
        request.uri().path()
    ))
}

pub(crate) async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} is not allowed on {}",
        request.method(),
        request.uri().path()
    ))
}

/// A handler that panicked still answers: a JSON 500, never a dropped connection.
pub(crate) fn panic_response(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic_message(payload.as_ref());
    tracing::error!(panic = %message, "a request handler panicked");
    ApiError::Internal("internal error: a handler panicked; see the server log".to_owned())
        .into_response()
}

/// One line per request on stderr. Headers are never logged: they may carry credentials.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    // A tool callback carries the id of the chat that called it (docs/architecture.md#request-id).
    let called_for = request
        .headers()
        .get(contract::request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(contract::request_id::RequestId::parse);
    let response = next.run(request).await;
    let status = response.status();
    let elapsed_us = started.elapsed().as_micros() as u64;
    // The id the client was given (`/api/chat` answers carry one), else the one a tool callback
    // came with: a request's lines in every component's log are found by it.
    let request_id = response
        .headers()
        .get(contract::request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .or(called_for.as_ref().map(|id| id.as_str()))
        .unwrap_or("-");
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        tracing::warn!(%method, %path, status = status.as_u16(), elapsed_us, request_id, "request failed");
    } else {
        tracing::info!(%method, %path, status = status.as_u16(), elapsed_us, request_id, "request");
    }
    response
}
