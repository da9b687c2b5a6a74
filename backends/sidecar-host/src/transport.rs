//! How the Rust server reaches one sidecar: a Unix socket or a loopback TCP port with a bearer
//! token, behind one keep-alive HTTP/1 client.
//!
//! hyper-util's pooled client does the connection reuse; the only transport-specific piece is
//! the connector, which dials the socket path or the port whatever URI it is handed.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// Which transport an architecture uses between the Rust server and its sidecars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// A Unix socket in a directory only the owner can enter.
    Unix,
    /// Loopback TCP on a kernel-chosen port, every request carrying a per-launch bearer token.
    Http,
}

impl TransportKind {
    /// The backend name reported in the ready line and `/health`.
    pub fn backend_name(self) -> &'static str {
        match self {
            Self::Unix => "unix",
            Self::Http => "http",
        }
    }
}

/// Where one sidecar listens, and the credential it demands.
#[derive(Clone, PartialEq, Eq)]
pub enum SidecarAddr {
    Unix(PathBuf),
    Tcp { addr: SocketAddr, token: String },
}

impl fmt::Debug for SidecarAddr {
    // The token is a credential: it never reaches a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
            Self::Tcp { addr, .. } => write!(f, "http://{addr} (token redacted)"),
        }
    }
}

impl fmt::Display for SidecarAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl SidecarAddr {
    fn uri(&self, path: &str) -> String {
        match self {
            // The authority is never dialled (the connector uses the socket path); Node only
            // needs a syntactically valid Host header.
            Self::Unix(_) => format!("http://sidecar{path}"),
            Self::Tcp { addr, .. } => format!("http://{addr}{path}"),
        }
    }

    fn token(&self) -> Option<&str> {
        match self {
            Self::Unix(_) => None,
            Self::Tcp { token, .. } => Some(token),
        }
    }
}

/// Node's `http.Server` closes idle keep-alive connections after 5 s by default
/// (`keepAliveTimeout`). Dropping ours first avoids sending a request down a socket Node is
/// closing at that moment, whatever a sidecar configures.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// A keep-alive HTTP/1 client bound to one sidecar.
#[derive(Clone)]
pub struct SidecarClient {
    addr: Arc<SidecarAddr>,
    /// `Bearer <token>`, built once rather than on every request (tcp only).
    authorization: Option<HeaderValue>,
    client: Client<SidecarConnector, Full<Bytes>>,
}

impl fmt::Debug for SidecarClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SidecarClient")
            .field("addr", &self.addr)
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

impl SidecarClient {
    pub fn new(addr: SidecarAddr) -> Self {
        let authorization = addr.token().and_then(|token| {
            let value = HeaderValue::from_str(&format!("Bearer {token}"));
            if value.is_err() {
                tracing::error!(
                    "the sidecar token is not a valid header value; requests go without it and \
                     the sidecar will refuse them: use a token of visible ASCII characters"
                );
            }
            value.ok()
        });
        let addr = Arc::new(addr);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(SidecarConnector { addr: addr.clone() });
        Self {
            addr,
            authorization,
            client,
        }
    }

    pub fn addr(&self) -> &SidecarAddr {
        &self.addr
    }

    fn request(&self, method: &str, path: &str, body: Bytes) -> Request<Full<Bytes>> {
        let mut builder = Request::builder().method(method).uri(self.addr.uri(path));
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
    pub async fn post_chat(
        &self,
        body: Bytes,
    ) -> Result<hyper::Response<Incoming>, hyper_util::client::legacy::Error> {
        self.client
            .request(self.request("POST", "/api/chat", body))
            .await
    }

    /// `GET /health`, answered 200 within `timeout`.
    pub async fn probe(&self, timeout: Duration) -> Result<(), ProbeError> {
        let addr = self.addr.to_string();
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

/// Dials the sidecar's socket or port for every URI, so the pool keys on one fixed authority.
#[derive(Clone)]
struct SidecarConnector {
    addr: Arc<SidecarAddr>,
}

impl tower::Service<hyper::Uri> for SidecarConnector {
    type Response = TokioIo<SidecarStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let addr = self.addr.clone();
        Box::pin(async move {
            let stream = match &*addr {
                SidecarAddr::Unix(path) => SidecarStream::Unix(UnixStream::connect(path).await?),
                SidecarAddr::Tcp { addr, .. } => {
                    let tcp = TcpStream::connect(addr).await?;
                    // Each SSE frame is one small write that must leave now, not after 40 ms.
                    tcp.set_nodelay(true)?;
                    SidecarStream::Tcp(tcp)
                }
            };
            Ok(TokioIo::new(stream))
        })
    }
}

/// A connected socket of either kind.
#[derive(Debug)]
pub enum SidecarStream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Connection for SidecarStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for SidecarStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for SidecarStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Unix(s) => s.is_write_vectored(),
            Self::Tcp(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tcp_requests_carry_the_bearer_token_and_unix_requests_none() {
        let tcp = SidecarClient::new(SidecarAddr::Tcp {
            addr: "127.0.0.1:9".parse().expect("literal address"),
            token: "t0ken".into(),
        });
        let request = tcp.request("POST", "/api/chat", Bytes::from_static(b"{}"));
        assert_eq!(request.headers()[AUTHORIZATION], "Bearer t0ken");
        assert_eq!(request.uri(), "http://127.0.0.1:9/api/chat");

        let unix = SidecarClient::new(SidecarAddr::Unix("/nonexistent.sock".into()));
        let request = unix.request("GET", "/health", Bytes::new());
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert!(request.headers().get(CONTENT_TYPE).is_none());
    }
}
