//! The keep-alive HTTP/1 client the server reaches one sidecar with, over whatever
//! [`Endpoint`] its transport dials.
//!
//! hyper-util's pooled client does the connection reuse; the only transport-specific piece is
//! the connector, which dials the endpoint whatever URI it is handed.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use contract::request_id::{self, RequestId};
use contract::runtime_memory::{RuntimeMemory, SIDECAR_MEMORY_PATH};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::frames::{ConnectError, FramesConnection};
use crate::transport::Endpoint;

/// Node's `http.Server` closes idle keep-alive connections after 5 s by default
/// (`keepAliveTimeout`). Dropping ours first avoids sending a request down a socket Node is
/// closing at that moment, whatever a sidecar configures.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// A keep-alive HTTP/1 client bound to one sidecar.
#[derive(Clone)]
pub struct SidecarClient<E: Endpoint> {
    endpoint: Arc<E>,
    /// `Bearer <token>`, built once rather than on every request.
    authorization: Option<HeaderValue>,
    client: Client<SidecarConnector<E>, Full<Bytes>>,
    /// The `frames` wire's one connection to this sidecar, dialled on first use and again
    /// after it closed.
    frames: Arc<tokio::sync::Mutex<Option<Arc<FramesConnection>>>>,
    /// Reads that brought bytes on this sidecar's frames connections.
    frames_received: Arc<AtomicU64>,
}

impl<E: Endpoint> fmt::Debug for SidecarClient<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SidecarClient")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// Why a health probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing listens: the process is gone or not yet bound. The member cannot serve.
    #[error("cannot connect to the sidecar at {addr}: {source}")]
    Refused {
        addr: String,
        source: hyper_util::client::legacy::Error,
    },
    #[error("the sidecar at {addr} did not answer /health within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
    #[error("the sidecar at {addr} answered /health with {detail}")]
    Unhealthy { addr: String, detail: String },
}

impl<E: Endpoint> SidecarClient<E> {
    pub fn new(endpoint: E) -> Self {
        let authorization = endpoint.bearer_token().and_then(|token| {
            let value = HeaderValue::from_str(&format!("Bearer {token}"));
            if value.is_err() {
                tracing::error!(
                    "the sidecar token is not a valid header value; requests go without it and \
                     the sidecar will refuse them: use a token of visible ASCII characters"
                );
            }
            value.ok()
        });
        let endpoint = Arc::new(endpoint);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(SidecarConnector {
                endpoint: endpoint.clone(),
            });
        Self {
            endpoint,
            authorization,
            client,
            frames: Arc::default(),
            frames_received: Arc::default(),
        }
    }

    /// The sidecar's frames connection (docs/frames.md), dialled if there is none open.
    pub async fn frames(&self) -> Result<Arc<FramesConnection>, ConnectError> {
        let mut slot = self.frames.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| c.is_open()) {
            return Ok(connection.clone());
        }
        let connection = Arc::new(
            FramesConnection::connect(&*self.endpoint, self.frames_received.clone()).await?,
        );
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Reads that brought bytes from the sidecar on its frames connections, whether or not a
    /// client took them: the `frames` wire's proof of life for the hang watch.
    pub fn frames_received(&self) -> u64 {
        self.frames_received.load(Ordering::Relaxed)
    }

    pub fn endpoint(&self) -> &E {
        &self.endpoint
    }

    /// The request the client sends for `method path` with `body`.
    pub fn request(&self, method: &str, path: &str, body: Bytes) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(self.endpoint.uri(path));
        if let Some(value) = &self.authorization {
            builder = builder.header(AUTHORIZATION, value.clone());
        }
        if !body.is_empty() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        // Method, URI and headers are built from values checked above: this cannot fail.
        builder
            .body(Full::new(body))
            .unwrap_or_else(|_| Request::new(Full::new(Bytes::new())))
    }

    /// `POST /api/chat` with an already-serialised body; the response body is a live stream.
    /// `request_id` goes in the `x-request-id` header (docs/architecture.md#request-id).
    pub async fn post_chat(
        &self,
        body: Bytes,
        request_id: &RequestId,
    ) -> Result<hyper::Response<Incoming>, hyper_util::client::legacy::Error> {
        let mut request = self.request("POST", "/api/chat", body);
        if let Ok(value) = hyper::header::HeaderValue::from_str(request_id.as_str()) {
            request.headers_mut().insert(request_id::HEADER, value);
        }
        self.client.request(request).await
    }

    /// `GET /health`, answered 200 within `timeout`.
    pub async fn probe(&self, timeout: Duration) -> Result<(), ProbeError> {
        let addr = self.endpoint.to_string();
        let call = async {
            let response = self
                .client
                .request(self.request("GET", "/health", Bytes::new()))
                .await
                .map_err(|source| ProbeError::Refused {
                    addr: addr.clone(),
                    source,
                })?;
            let status = response.status();
            // Read the (tiny) body so the connection goes back to the pool.
            let body = response.into_body().collect().await.map(|b| b.to_bytes());
            match (status.is_success(), body) {
                (true, Ok(_)) => Ok(()),
                (_, Ok(body)) => Err(ProbeError::Unhealthy {
                    addr: addr.clone(),
                    detail: format!("{status}: {}", String::from_utf8_lossy(&body)),
                }),
                (_, Err(e)) => Err(ProbeError::Unhealthy {
                    addr: addr.clone(),
                    detail: format!("{status} and a broken body: {e}"),
                }),
            }
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(ProbeError::Timeout {
                addr: addr.clone(),
                timeout,
            }),
        }
    }
}

impl<E: Endpoint> SidecarClient<E> {
    /// The sidecar's `process.memoryUsage()` (`GET /health/memory`), or `None` when it did not
    /// answer one within `timeout`: a busy or restarting sidecar is a missing sample, not an
    /// error of the route that asked.
    pub async fn memory(&self, timeout: Duration) -> Option<RuntimeMemory> {
        let call = async {
            let request = self.request("GET", SIDECAR_MEMORY_PATH, Bytes::new());
            let response = self.client.request(request).await.ok()?;
            let ok = response.status().is_success();
            let body = response.into_body().collect().await.ok()?.to_bytes();
            ok.then(|| serde_json::from_slice(&body).ok()).flatten()
        };
        tokio::time::timeout(timeout, call).await.ok().flatten()
    }
}

/// Dials the sidecar's endpoint for every URI, so the pool keys on one fixed authority.
struct SidecarConnector<E> {
    endpoint: Arc<E>,
}

impl<E> Clone for SidecarConnector<E> {
    fn clone(&self) -> Self {
        Self {
            endpoint: self.endpoint.clone(),
        }
    }
}

impl<E: Endpoint> tower::Service<hyper::Uri> for SidecarConnector<E> {
    type Response = TokioIo<E::Stream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let endpoint = self.endpoint.clone();
        Box::pin(async move { Ok(TokioIo::new(endpoint.connect().await?)) })
    }
}
