//! The provider's HTTP/1.1 connections, each driven by the task that reads its answer.
//!
//! reqwest runs hyper's client connection as a task of its own: every provider read is decoded
//! there and handed through hyper's body channel to the response's task, which the scheduler
//! then runs and polls down to the body (docs/rust-hop.md#what-remains-and-why).
//! [`SameTaskService`] is a drop-in for async-openai's `ReqwestService` (its middleware seam:
//! `HttpRequestFactory` in, `reqwest::Response` out) that keeps hyper's connection inside the
//! response body and polls it from the body's own poll, so a provider read and the chunk it
//! carries are handled in one task's turn.
//!
//! Polling the connection from inside the body makes hyper's channel wake the very task that is
//! running (it stores our waker on both ends). On tokio's multi-thread scheduler such a self-wake
//! is a yield that also wakes a parked worker, so [`Driver`] gives hyper a waker that, when it
//! fires on the driving thread during the drive, only notes it and polls again instead
//! (docs/rust-hop.md#the-provider-read-in-the-responses-task).
//!
//! Connections are kept alive in a small pool of our own: one returns when its answer has been
//! read to the end; one dropped mid-answer (the client left) closes, which is how the provider
//! learns of the cancel, as with reqwest.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::task::AtomicWaker;
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Idle connections kept per provider: enough for the bench's concurrency to reuse rather than
/// reconnect, few enough that a burst does not hold sockets open for long (docs/rust-hop.md#the-provider-read-in-the-responses-task).
const MAX_IDLE: usize = 64;

/// An idle connection older than this is closed rather than reused: reqwest's default
/// `pool_idle_timeout`, so the provider sees the same keep-alive behaviour as before.
const IDLE_EXPIRY: Duration = Duration::from_secs(90);

/// Rounds of "poll the connection, poll the reader" one drive may take when hyper's own wakes
/// say there is more to do; beyond it the task yields as it would have without the driver.
const MAX_ROUNDS: usize = 8;

type Connection = http1::Connection<TokioIo<TcpStream>, reqwest::Body>;
type Sender = http1::SendRequest<reqwest::Body>;
type Request = hyper::http::Request<reqwest::Body>;

/// Why no response came back from the provider's connection.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The provider could not be reached (the AI SDK retries this).
    #[error("cannot connect to the provider at {authority}: {source}")]
    Connect {
        authority: String,
        source: std::io::Error,
    },
    /// The request itself cannot go out this way.
    #[error("cannot send the provider request: {0}")]
    Request(String),
    /// The connection broke before the provider's headers arrived.
    #[error("the provider connection failed before it answered: {0}")]
    Http(#[from] hyper::Error),
}

/// async-openai's middleware transport, reading each answer in the task that consumes it
/// (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct SameTaskService {
    pool: Arc<Pool>,
}

impl tower::Service<HttpRequestFactory> for SameTaskService {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = BoxFuture<'static, Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let pool = self.pool.clone();
        Box::pin(async move {
            let request = factory.build().await?;
            execute(pool, request)
                .await
                .map_err(|e| OpenAIError::Boxed(Box::new(e)))
        })
    }
}

async fn execute(
    pool: Arc<Pool>,
    request: reqwest::Request,
) -> Result<reqwest::Response, TransportError> {
    let url = request.url();
    if url.scheme() != "http" {
        return Err(TransportError::Request(format!(
            "`{url}`: only http:// providers are supported (the backend is built without TLS)"
        )));
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let mut request: Request = request
        .try_into()
        .map_err(|e: reqwest::Error| TransportError::Request(e.to_string()))?;
    // hyper's connection writes the URI as given and adds no Host: what hyper-util's client
    // (under reqwest) would send is origin-form and a Host header.
    let origin_form = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| TransportError::Request(e.to_string()))?;
    *request.uri_mut() = origin_form;
    let headers = request.headers_mut();
    let host_value = hyper::http::HeaderValue::from_str(&authority)
        .map_err(|e| TransportError::Request(e.to_string()))?;
    headers
        .entry(hyper::http::header::HOST)
        .or_insert(host_value);
    headers
        .entry(hyper::http::header::ACCEPT)
        .or_insert(hyper::http::HeaderValue::from_static("*/*"));

    // A kept-alive connection the provider closed meanwhile hands the request back unsent;
    // it then goes on the next one, as hyper-util's pool does.
    while let Some((sender, connection)) = pool.checkout() {
        match send(&pool, sender, connection, request).await {
            Ok(response) => return Ok(response),
            Err(Unsent(Some(back), _)) => request = back,
            Err(Unsent(None, error)) => return Err(error),
        }
    }
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|source| TransportError::Connect {
            authority: authority.clone(),
            source,
        })?;
    // Chunks are small and latency-bound: no Nagle delay on the request.
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    send(&pool, sender, connection, request)
        .await
        .map_err(|Unsent(_, error)| error)
}

/// A failed send, with the request when it never left.
struct Unsent(Option<Request>, TransportError);

/// Sends on one connection, driving it in this task until the headers arrive; the connection
/// then travels inside the response body.
async fn send(
    pool: &Arc<Pool>,
    mut sender: Sender,
    connection: Connection,
    request: Request,
) -> Result<reqwest::Response, Unsent> {
    let mut connection = Some(connection);
    let mut driver = Driver::default();
    let mut answer = std::pin::pin!(sender.try_send_request(request));
    let answer =
        std::future::poll_fn(|cx| driver.drive(cx, &mut connection, |cx| answer.as_mut().poll(cx)))
            .await;
    match answer {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = SameTaskBody {
                body,
                connection,
                sender: Some(sender),
                pool: pool.clone(),
                driver,
            };
            let body = reqwest::Body::wrap(SyncBody(Mutex::new(body)));
            Ok(hyper::http::Response::from_parts(parts, body).into())
        }
        Err(mut error) => {
            let back = error.take_message();
            Err(Unsent(back, error.into_error().into()))
        }
    }
}

/// The kept-alive connections, each with the half that sends on it.
#[derive(Debug, Default)]
struct Pool {
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    sender: Sender,
    connection: Connection,
    since: Instant,
}

impl std::fmt::Debug for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idle").field("since", &self.since).finish()
    }
}

impl Pool {
    /// The most recently used connection still open; expired or closed ones are dropped.
    fn checkout(&self) -> Option<(Sender, Connection)> {
        loop {
            let mut idle = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()?;
            if idle.since.elapsed() > IDLE_EXPIRY {
                continue;
            }
            // Nobody drove it while idle: one poll reads a close the provider sent meanwhile.
            let mut cx = Context::from_waker(Waker::noop());
            if Pin::new(&mut idle.connection).poll(&mut cx).is_ready() || !idle.sender.is_ready() {
                continue;
            }
            return Some((idle.sender, idle.connection));
        }
    }

    fn checkin(&self, sender: Sender, mut connection: Connection) {
        // The connection settles into keep-alive (hyper asks for the next request) on the
        // poll after the answer's last byte.
        let mut cx = Context::from_waker(Waker::noop());
        if Pin::new(&mut connection).poll(&mut cx).is_ready() || !sender.is_ready() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                sender,
                connection,
                since: Instant::now(),
            });
        }
    }
}

/// The response body: hyper's body, whose connection is polled whenever the body is empty.
struct SameTaskBody {
    body: Incoming,
    /// `None` once it has finished (closed, or failed: the body then reports why).
    connection: Option<Connection>,
    sender: Option<Sender>,
    pool: Arc<Pool>,
    driver: Driver,
}

impl SameTaskBody {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<hyper::Result<Frame<Bytes>>>> {
        let Self {
            body,
            connection,
            driver,
            ..
        } = self;
        let frame = driver.drive(cx, connection, |cx| {
            hyper::body::Body::poll_frame(Pin::new(&mut *body), cx)
        });
        if let Poll::Ready(None) = frame
            && let (Some(sender), Some(connection)) = (self.sender.take(), self.connection.take())
        {
            self.pool.checkin(sender, connection);
        }
        frame
    }
}

/// `reqwest::Body::wrap` wants a `Sync` body and hyper's connection is not; the body is only
/// ever polled through `&mut`, so the lock is never taken (`Mutex::get_mut`).
struct SyncBody(Mutex<SameTaskBody>);

impl hyper::body::Body for SyncBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let body = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .body
            .is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .body
            .size_hint()
    }
}

thread_local! {
    /// The [`Relay`] whose drive is running on this thread (its address), if any.
    static DRIVING: Cell<usize> = const { Cell::new(0) };
}

/// The waker hyper gets: forwards to the task's waker, except a wake from inside the drive on
/// the driving thread, which is hyper's channel waking the running task (see the module docs).
#[derive(Debug, Default)]
struct Relay {
    task: AtomicWaker,
    woke_itself: AtomicBool,
}

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if DRIVING.get() == Arc::as_ptr(self) as usize {
            self.woke_itself.store(true, Ordering::Relaxed);
        } else {
            self.task.wake();
        }
    }
}

/// Polls a connection and what waits on it (the response, then its body) in one task.
#[derive(Debug)]
struct Driver {
    relay: Arc<Relay>,
    /// The relay as a waker, made once so hyper's `will_wake` checks keep its stored copies.
    waker: Waker,
}

impl Default for Driver {
    fn default() -> Self {
        let relay = Arc::new(Relay::default());
        let waker = Waker::from(relay.clone());
        Self { relay, waker }
    }
}

impl Driver {
    fn drive<T>(
        &mut self,
        cx: &mut Context<'_>,
        connection: &mut Option<Connection>,
        mut reader: impl FnMut(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        self.relay.task.register(cx.waker());
        let _driving = DrivingGuard::enter(&self.relay);
        let mut inner = Context::from_waker(&self.waker);
        for _ in 0..MAX_ROUNDS {
            self.relay.woke_itself.store(false, Ordering::Relaxed);
            if let Poll::Ready(value) = reader(&mut inner) {
                return Poll::Ready(value);
            }
            if let Some(conn) = connection
                && Pin::new(conn).poll(&mut inner).is_ready()
            {
                // Closed or failed: hyper has told the response or the body why.
                *connection = None;
            }
            if let Poll::Ready(value) = reader(&mut inner) {
                return Poll::Ready(value);
            }
            if !self.relay.woke_itself.load(Ordering::Relaxed) {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Marks this thread as driving one relay until dropped (restoring any outer mark).
struct DrivingGuard(usize);

impl DrivingGuard {
    fn enter(relay: &Arc<Relay>) -> Self {
        Self(DRIVING.replace(Arc::as_ptr(relay) as usize))
    }
}

impl Drop for DrivingGuard {
    fn drop(&mut self) {
        DRIVING.set(self.0);
    }
}
