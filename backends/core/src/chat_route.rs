//! `POST /api/chat`, `GET /health` and `GET /health/runtime`: the checks every request passes
//! before a backend sees it, and the SSE response around the backend's stream.
//!
//! Order of the checks: rate limit (429) first, so a flood costs nothing but the check; then
//! content type (415), size (413), JSON and conversation (400); then backend health (503).
//! Only then is the backend called.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use contract::error_text;
use contract::request_id::{self, RequestId};
use contract::runtime_memory::RuntimeReport;
use contract::ui_chunk::UiChunk;
use futures::Stream;
use serde_json::json;
use tokio_util::sync::{CancellationToken, DropGuard, WaitForCancellationFutureOwned};

use crate::backend::{ChatBackend, Health};
use crate::chat_request::{parse_chat_request, read_json_body};
use crate::error::ApiError;
use crate::inject;
use crate::rate_limit::RateLimiter;
use crate::stage_clock::{self, Stage};
use crate::tools::panic_message;
use crate::ui_stream::{SseBody, done_frame, encode_chunk};

pub(crate) struct Shell<B> {
    pub backend: Arc<B>,
    pub limiter: Option<Arc<RateLimiter>>,
    pub shutdown: CancellationToken,
    /// `--inject-delay-us`: how long each text chunk is held (fault injection only).
    pub inject_delay: Option<Duration>,
    /// `--inject-cpu-us`: CPU burnt per text chunk (fault injection only).
    pub inject_cpu: Option<Duration>,
}

pub(crate) async fn health<B: ChatBackend>(State(shell): State<Arc<Shell<B>>>) -> Response {
    match unavailable(&shell) {
        None => Json(json!({"status": "ok", "backend": shell.backend.name()})).into_response(),
        Some(error) => error.into_response(),
    }
}

/// `GET /health/runtime`: the backend's JavaScript runtimes' own memory figures, for the soak
/// and for a deployment watching its heap (docs/soak.md#the-samples). Answered even while the
/// backend is unavailable: a runtime that cannot answer is simply absent.
pub(crate) async fn runtime<B: ChatBackend>(State(shell): State<Arc<Shell<B>>>) -> Response {
    let runtimes = shell.backend.runtime_memory().await;
    Json(RuntimeReport {
        backend: shell.backend.name().to_owned(),
        runtimes,
    })
    .into_response()
}

/// Why the server cannot take a chat request now, if it cannot: it is shutting down (a
/// request on a keep-alive connection can race the shutdown), or the backend is down.
fn unavailable<B: ChatBackend>(shell: &Shell<B>) -> Option<ApiError> {
    if shell.shutdown.is_cancelled() {
        return Some(ApiError::Unavailable {
            message: "the server is shutting down".to_owned(),
            retry_after_s: 1,
        });
    }
    match shell.backend.health() {
        Health::Ok => None,
        Health::Unavailable {
            retry_after_s,
            reason,
        } => Some(ApiError::Unavailable {
            message: format!(
                "the {} backend is unavailable: {reason}",
                shell.backend.name()
            ),
            retry_after_s: retry_after_s.max(1),
        }),
    }
}

/// `POST /api/chat`: the answer, refusal or error, always with the request's id in its
/// `x-request-id` header (the client's, when usable, or a new one).
pub(crate) async fn chat<B: ChatBackend>(
    State(shell): State<Arc<Shell<B>>>,
    request: Request,
) -> Response {
    let request_id = request
        .headers()
        .get(request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(new_request_id);
    let mut response = match answer(&shell, request, request_id.clone()).await {
        Ok(response) => response,
        Err(error) => {
            if error.status().is_server_error() {
                tracing::warn!(%request_id, %error, "the chat request failed before its stream began");
            }
            error.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(request_id::HEADER), value);
    }
    response
}

/// A request id for a client that sent none (or one that was not usable).
fn new_request_id() -> RequestId {
    let made = uuid::Uuid::new_v4().simple().to_string();
    RequestId::parse(&made).unwrap_or_else(|| unreachable!("a uuid's hex digits are an id"))
}

async fn answer<B: ChatBackend>(
    shell: &Shell<B>,
    request: Request,
    request_id: RequestId,
) -> Result<Response, ApiError> {
    let client = client_ip(&request);
    if let Some(limiter) = &shell.limiter {
        limiter.check(client).map_err(|retry_after_s| {
            tracing::info!(%client, retry_after_s, "rate limited");
            ApiError::RateLimited { retry_after_s }
        })?;
    }
    let (parts, body) = request.into_parts();
    let bytes = read_json_body(&parts.headers, body).await?;
    let chat_request = parse_chat_request(&bytes)?;
    if let Some(error) = unavailable(shell) {
        return Err(error);
    }
    let cancel = shell.shutdown.child_token();
    // Dropping the guard cancels: when this future is dropped (client gone before the stream
    // began), when the backend fails, and when the body stream is dropped unfinished.
    let guard = cancel.clone().drop_guard();
    let body = shell
        .backend
        .chat(chat_request, request_id.clone(), cancel)
        .await?;
    let mut stream = ShellStream::new(body, shell.shutdown.clone(), guard, request_id);
    stream.inject_delay = shell.inject_delay;
    stream.inject_cpu = shell.inject_cpu;
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::OK;
    for (name, value) in contract::UI_STREAM_HEADERS {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    Ok(response)
}

/// The peer address; behind no proxy that is the client (forwarded headers are not trusted).
/// An IPv4 client reaching a dual-stack listener (`::ffff:a.b.c.d`) counts as `a.b.c.d`.
fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| {
            info.0.ip().to_canonical()
        })
}

/// The backend's frames as the response body: a panic inside the backend's stream or a
/// server shutdown ends it with an `error` chunk and `[DONE]` instead of a cut connection, and
/// dropping it unfinished (client gone) fires the backend's cancellation token. When it is
/// dropped it logs how the stream ended.
struct ShellStream {
    frames: SseBody,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    cancel_on_drop: Option<DropGuard>,
    tail: VecDeque<Bytes>,
    ending: Option<Ending>,
    frames_sent: u64,
    started: Instant,
    inject_delay: Option<Duration>,
    inject_cpu: Option<Duration>,
    /// Named in the log lines about this stream.
    request_id: RequestId,
}

/// How a chat stream ended, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Completed,
    BackendPanicked,
    ShutDown,
}

impl ShellStream {
    fn new(
        frames: SseBody,
        shutdown: CancellationToken,
        cancel_on_drop: DropGuard,
        request_id: RequestId,
    ) -> Self {
        Self {
            frames,
            shutdown: Box::pin(shutdown.cancelled_owned()),
            cancel_on_drop: Some(cancel_on_drop),
            tail: VecDeque::new(),
            ending: None,
            frames_sent: 0,
            started: Instant::now(),
            inject_delay: None,
            inject_cpu: None,
            request_id,
        }
    }

    fn end_with_error(&mut self, ending: Ending, text: &str) -> Option<Bytes> {
        self.ending = Some(ending);
        self.frames = SseBody::from_frames(futures::stream::empty());
        self.tail.push_back(encode_chunk(&UiChunk::error(text)));
        self.tail.push_back(done_frame());
        self.tail.pop_front()
    }

    fn next_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if let Some(frame) = self.tail.pop_front() {
            return Poll::Ready(Some(frame));
        }
        if self.ending.is_some() {
            return Poll::Ready(None);
        }
        let frames = &mut self.frames;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(frames).poll_next(cx))) {
            Ok(Poll::Ready(Some(frame))) => return Poll::Ready(Some(frame)),
            Ok(Poll::Ready(None)) => {
                self.ending = Some(Ending::Completed);
                // A stream that ended by itself needs no cancelling.
                if let Some(guard) = self.cancel_on_drop.take() {
                    guard.disarm();
                }
                return Poll::Ready(None);
            }
            Ok(Poll::Pending) => {}
            Err(panic) => {
                tracing::error!(
                    request_id = %self.request_id,
                    panic = %panic_message(panic.as_ref()),
                    "the chat stream panicked"
                );
                return Poll::Ready(
                    self.end_with_error(Ending::BackendPanicked, error_text::INTERNAL_ERROR),
                );
            }
        }
        if self.shutdown.as_mut().poll(cx).is_ready() {
            let frame = self.end_with_error(Ending::ShutDown, error_text::SHUTTING_DOWN);
            // The backend's stream is dropped above; firing the token stops its upstream work.
            drop(self.cancel_on_drop.take());
            return Poll::Ready(frame);
        }
        Poll::Pending
    }
}

impl Stream for ShellStream {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        stage_clock::mark(Stage::ShellPolled);
        let next = self.next_frame(cx);
        if let Poll::Ready(Some(frame)) = &next {
            stage_clock::mark(Stage::Handed);
            self.frames_sent += 1;
            if let Some(delay) = self.inject_delay {
                let held = u32::try_from(inject::text_chunks_in(frame)).unwrap_or(u32::MAX);
                if held > 0 {
                    inject::hold(delay * held);
                }
            }
            if let Some(cpu) = self.inject_cpu {
                let burnt = u32::try_from(inject::text_chunks_in(frame)).unwrap_or(u32::MAX);
                if burnt > 0 {
                    inject::burn_after_write(cpu * burnt);
                }
            }
        }
        next.map(|frame| frame.map(Ok))
    }
}

impl Drop for ShellStream {
    fn drop(&mut self) {
        stage_clock::flush();
        let ending = match self.ending {
            Some(Ending::Completed) => "completed",
            Some(Ending::BackendPanicked) => "backend panicked",
            Some(Ending::ShutDown) => "server shutting down",
            None => "client disconnected",
        };
        let elapsed_ms = self.started.elapsed().as_millis() as u64;
        tracing::info!(
            request_id = %self.request_id,
            ending,
            frames = self.frames_sent,
            elapsed_ms,
            "chat stream ended"
        );
    }
}
