//! The `http` architecture: the Rust server (the core shell) supervises a Node.js sidecar
//! running the AI SDK and reaches it over loopback TCP on a kernel-chosen port, with a
//! per-launch bearer token; the sidecar calls tools back over the same kind of transport, with
//! a token of its own (one credential per direction).
//!
//! Everything but the transport lives in `sidecar-host`, shared with the other sidecar
//! architecture; this crate is that transport ([`HttpTransport`], with the flags only it
//! has); the command line is `sidecar_host::Cli` over it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use leanspec_core::{InternalAuth, Toolbox, internal_router, random_bearer_token};
use sidecar_host::tool_listener::ToolListener;
use sidecar_host::{Endpoint, SidecarEnv, SidecarMode, Transport};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Tells a sidecar the token every request to it must carry.
pub const CHAT_TOKEN_VAR: &str = "LEANSPEC_CHAT_TOKEN";
/// Tells a sidecar where to call tools back.
pub const TOOLS_URL_VAR: &str = "LEANSPEC_TOOLS_URL";
/// Tells a sidecar the token its tool calls must carry.
pub const TOOLS_TOKEN_VAR: &str = "LEANSPEC_TOOLS_TOKEN";

/// Tells a managed sidecar the number of the listening socket it inherits (and serves on).
pub const CHAT_LISTENER_FD_VAR: &str = "LEANSPEC_CHAT_FD";
/// Each end's socket buffer on a connection between the server and a sidecar (Linux doubles
/// it): the sidecar's send buffer and the server's receive buffer. The kernel autotunes both
/// to megabytes on loopback otherwise, which a stalled client's sidecar fills with about
/// 50,000 chunks it worked through for nobody before the stall reached it; Node cannot set a
/// TCP send buffer, so the server makes the sidecar's listening socket, whose connections
/// inherit it (docs/readers.md#the-sidecars-own-socket). The same size as the client's
/// (`leanspec_core::server::CLIENT_SEND_BUFFER`).
pub const SIDECAR_SOCKET_BUFFER: u32 = 64 * 1024;
/// Connections a sidecar's listener queues before Node accepts them (Node's own default).
const SIDECAR_BACKLOG: u32 = 511;

/// A loopback listener on a kernel-chosen port whose accepted connections send through a
/// [`SIDECAR_SOCKET_BUFFER`] (tcp(7): set before `listen`, the accepted sockets inherit it).
fn capped_listener() -> io::Result<std::os::fd::OwnedFd> {
    let socket = TcpSocket::new_v4()?;
    socket.set_send_buffer_size(SIDECAR_SOCKET_BUFFER)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    let listener = socket.listen(SIDECAR_BACKLOG)?.into_std()?;
    Ok(listener.into())
}

/// Loopback TCP both ways, each direction demanding its own per-launch bearer token.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HttpTransport {
    /// External mode: the sidecar's URL, `http://127.0.0.1:PORT` (repeat for a pool).
    #[arg(long = "sidecar-url", value_name = "URL")]
    pub urls: Vec<String>,

    /// External mode: the bearer token the sidecar was started with.
    #[arg(long = "sidecar-token", env = CHAT_TOKEN_VAR, hide_env_values = true)]
    pub token: Option<String>,

    /// External mode: the tool-callback token both terminals share (default: a random one,
    /// which an external sidecar cannot know).
    #[arg(long = "tools-token", env = TOOLS_TOKEN_VAR, hide_env_values = true)]
    pub tools_token: Option<String>,

    /// External mode: the loopback port of the tool listener (default 0, the kernel picks),
    /// so a sidecar started by someone else (a container sharing this network namespace, a
    /// second unit) can be told `LEANSPEC_TOOLS_URL` before this server starts.
    #[arg(long = "tools-port", value_name = "PORT", default_value_t = 0)]
    pub tools_port: u16,

    /// External mode: the sidecar is on a network this server shares with it alone (a Compose
    /// network with `internal: true`) instead of on loopback: `--sidecar-url` may name any host
    /// (resolved once at start), and the tool listener binds every address at `--tools-port`. Both tokens cross
    /// that network in clear text, so nothing else may be on it (docs/deploy.md#http).
    #[arg(long = "sidecar-network")]
    pub sidecar_network: bool,
}

impl Transport for HttpTransport {
    type Endpoint = HttpEndpoint;
    const NAME: &'static str = "http";

    fn open_tool_listener(
        &self,
        tools: Toolbox,
        _runtime_dir: &Path,
        mode: SidecarMode,
    ) -> anyhow::Result<ToolListener> {
        // External sidecars need a token both terminals know; managed ones get a new one.
        let token = match mode {
            SidecarMode::External => self.tools_token.clone().filter(|t| !t.is_empty()),
            SidecarMode::Managed => None,
        }
        .unwrap_or_else(random_bearer_token);
        let port = match mode {
            SidecarMode::External => self.tools_port,
            SidecarMode::Managed => 0,
        };
        let on_network = mode == SidecarMode::External && self.sidecar_network;
        let host = if on_network {
            Ipv4Addr::UNSPECIFIED
        } else {
            Ipv4Addr::LOCALHOST
        };
        let listener =
            bind(host, port).with_context(|| format!("cannot open the tool listener on {host}"))?;
        let addr = listener.local_addr()?;
        // A tool result must leave at once, not wait for the ACK of the previous write.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!("cannot set TCP_NODELAY on a tool connection: {e}");
            }
        });
        let router = internal_router(tools, InternalAuth::Bearer(token.clone()));
        let mut callback = SidecarEnv::default();
        callback
            .set(TOOLS_URL_VAR, format!("http://{addr}"))
            .set_token(TOOLS_TOKEN_VAR, token);
        Ok(ToolListener::serve(listener, router, callback))
    }

    fn listen_env(&self, _runtime_dir: &Path, _member: usize) -> io::Result<SidecarEnv> {
        let mut env = SidecarEnv::default();
        env.set("LEANSPEC_CHAT_TRANSPORT", "http")
            .set("LEANSPEC_CHAT_PORT", "0")
            .set_inherited(CHAT_LISTENER_FD_VAR, capped_listener()?)
            .set_token(CHAT_TOKEN_VAR, random_bearer_token());
        Ok(env)
    }

    fn endpoint(&self, listen: &SidecarEnv, url: &str) -> Result<HttpEndpoint, &'static str> {
        let addr: SocketAddr = url
            .strip_prefix("http://")
            .and_then(|a| a.trim_end_matches('/').parse().ok())
            .ok_or("expected http://127.0.0.1:<port>")?;
        if !addr.ip().is_loopback() {
            return Err("the sidecar must listen on loopback only");
        }
        let token = listen.get(CHAT_TOKEN_VAR).and_then(|t| t.to_str());
        let token = token.ok_or("no token was given")?.to_owned();
        Ok(HttpEndpoint { addr, token })
    }

    fn external_endpoints(&self) -> anyhow::Result<Vec<HttpEndpoint>> {
        let Some(token) = self.token.clone().filter(|t| !t.is_empty()) else {
            bail!(
                "--sidecar external needs --sidecar-token T (or {CHAT_TOKEN_VAR}): the sidecar's token"
            );
        };
        if self.urls.is_empty() {
            bail!("--sidecar external needs --sidecar-url http://127.0.0.1:PORT");
        }
        self.urls
            .iter()
            .map(|url| {
                let addr = if self.sidecar_network {
                    parse_url(url)?
                } else {
                    parse_loopback_url(url)?
                };
                Ok(HttpEndpoint {
                    addr,
                    token: token.clone(),
                })
            })
            .collect()
    }
}

/// A sidecar's loopback port and the token it demands.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpEndpoint {
    pub addr: SocketAddr,
    pub token: String,
}

impl std::fmt::Display for HttpEndpoint {
    // The token is a credential: it never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{} (token redacted)", self.addr)
    }
}

impl std::fmt::Debug for HttpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Endpoint for HttpEndpoint {
    type Stream = TcpStream;

    async fn connect(&self) -> io::Result<TcpStream> {
        let socket = TcpSocket::new_v4()?;
        // Set before the connection exists, as the window is agreed on at the handshake.
        socket.set_recv_buffer_size(SIDECAR_SOCKET_BUFFER)?;
        let tcp = socket.connect(self.addr).await?;
        // Each SSE frame is one small write that must leave now, not after 40 ms.
        tcp.set_nodelay(true)?;
        Ok(tcp)
    }

    fn uri(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn bearer_token(&self) -> Option<&str> {
        Some(&self.token)
    }
}

/// A listener on `host` at `port` (0: the kernel picks).
fn bind(host: Ipv4Addr, port: u16) -> io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind((host, port))?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

/// `http://HOST:PORT` → its address, a name resolved once at start (`--sidecar-network`: the
/// Compose service's name on the network the two share; its container starts first, so the
/// name is there to resolve, and keeps its address when its restart policy restarts it).
pub fn parse_url(url: &str) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs as _;
    let authority = url
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
        .with_context(|| format!("--sidecar-url {url:?}: expected http://HOST:PORT"))?;
    authority
        .to_socket_addrs()
        .with_context(|| format!("--sidecar-url {url:?}: cannot resolve {authority}"))?
        .find(SocketAddr::is_ipv4)
        .with_context(|| format!("--sidecar-url {url:?}: {authority} has no IPv4 address"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::AUTHORIZATION;
    use sidecar_host::SidecarClient;

    #[tokio::test]
    async fn requests_carry_the_bearer_token() {
        let client = SidecarClient::new(HttpEndpoint {
            addr: "127.0.0.1:9".parse().expect("literal address"),
            token: "t0ken".into(),
        });
        let request = client.request("POST", "/api/chat", bytes::Bytes::from_static(b"{}"));
        assert_eq!(request.headers()[AUTHORIZATION], "Bearer t0ken");
        assert_eq!(request.uri(), "http://127.0.0.1:9/api/chat");
    }

    #[test]
    fn the_endpoint_is_loopback_with_the_token_the_sidecar_was_given() {
        let transport = HttpTransport::default();
        let mut env = SidecarEnv::default();
        env.set_token(CHAT_TOKEN_VAR, "t0ken");
        let endpoint = transport.endpoint(&env, "http://127.0.0.1:4000/");
        assert_eq!(endpoint.map(|e| e.token), Ok("t0ken".to_owned()));
        assert!(transport.endpoint(&env, "http://10.1.2.3:4000").is_err());
        assert!(transport.endpoint(&env, "unix:/run/x.sock").is_err());
        assert!(!format!("{env:?}").contains("t0ken"), "{env:?}");
    }

    #[test]
    fn a_sidecar_off_loopback_needs_the_network_flag() {
        let mut transport = HttpTransport {
            urls: vec!["http://10.89.0.3:3031".into()],
            token: Some("t0ken".into()),
            ..HttpTransport::default()
        };
        let refused = transport
            .external_endpoints()
            .expect_err("loopback only by default");
        assert!(refused.to_string().contains("loopback"), "{refused}");
        transport.sidecar_network = true;
        let endpoints = transport
            .external_endpoints()
            .expect("allowed on a network");
        assert_eq!(endpoints[0].addr, "10.89.0.3:3031".parse().unwrap());
        transport.urls = vec!["http://localhost:3031".into()];
        let named = transport.external_endpoints().expect("a name is resolved");
        assert_eq!(named[0].addr, "127.0.0.1:3031".parse().unwrap());
        transport.urls = vec!["http://10.89.0.3:3031/api".into()];
        assert!(
            transport.external_endpoints().is_err(),
            "a base URL, no path"
        );
    }

    #[tokio::test]
    async fn an_external_tool_listener_binds_the_port_it_was_given_on_loopback_only() {
        let free = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|probe| probe.local_addr())
            .expect("a free port")
            .port();
        let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/specs");
        let store = leanspec_core::SpecStore::load(&specs).expect("the fixture corpus loads");
        let tools = Toolbox::new(std::sync::Arc::new(store), false);
        let transport = HttpTransport {
            tools_port: free,
            tools_token: Some("shared".into()),
            ..HttpTransport::default()
        };
        let dir = std::env::temp_dir();
        let external = transport
            .open_tool_listener(tools.clone(), &dir, SidecarMode::External)
            .expect("the tool listener opens");
        let url = external
            .callback
            .get(TOOLS_URL_VAR)
            .and_then(|u| u.to_str());
        assert_eq!(url, Some(format!("http://127.0.0.1:{free}").as_str()));
        // A managed sidecar is told its URL, so the flag does not apply to it.
        let managed = transport
            .open_tool_listener(tools, &dir, SidecarMode::Managed)
            .expect("the tool listener opens");
        let url = managed.callback.get(TOOLS_URL_VAR).and_then(|u| u.to_str());
        assert_ne!(url, Some(format!("http://127.0.0.1:{free}").as_str()));
        external.stop().await;
        managed.stop().await;
    }
}
