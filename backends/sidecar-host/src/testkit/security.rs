//! Checks that only the server itself can reach its sidecars and its tool callbacks, and that
//! the API key stays out of the logs.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use contract::scenario::Scenario;
use serde_json::{Value, json};

use super::{Stack, StackOptions, fast};
use crate::member::Phase;
use crate::tool_listener::ToolEndpoint;
use crate::transport::{SidecarAddr, TransportKind};

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn sidecar_addr(stack: &Stack) -> SidecarAddr {
    match stack.pool().members()[0].phase() {
        Phase::Up { client } => client.addr().clone(),
        Phase::Down { .. } => panic!("the sidecar is down"),
    }
}

/// unix: both sockets are 0600 files of ours in a 0700 directory of ours.
pub async fn unix_sockets_are_private() {
    let stack = Stack::start(TransportKind::Unix, StackOptions::default()).await;
    let dir = stack.runtime_dir().to_path_buf();
    assert_eq!(mode_of(&dir), 0o700, "the socket directory");
    let SidecarAddr::Unix(chat) = sidecar_addr(&stack) else {
        panic!("unix transport without a socket")
    };
    let ToolEndpoint::Socket(tools) = stack.tool_endpoint().clone() else {
        panic!("unix transport without a tool socket")
    };
    let uid = rustix::process::getuid().as_raw();
    for socket in [&chat, &tools] {
        assert_eq!(socket.parent(), Some(dir.as_path()), "{}", socket.display());
        assert_eq!(mode_of(socket), 0o600, "{}", socket.display());
        assert_eq!(std::fs::metadata(socket).map(|m| m.uid()).ok(), Some(uid));
    }
    stack.stop().await;
    assert!(
        !dir.exists(),
        "the private directory is removed on shutdown"
    );
}

/// A local address that is not loopback, if the machine has one (no packet is sent: a UDP
/// `connect` only picks a route).
fn non_loopback_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// http: the sidecar listens on loopback only and refuses a missing or wrong token; the tool
/// listener likewise.
pub async fn http_listeners_demand_the_token() {
    let stack = Stack::start(TransportKind::Http, StackOptions::default()).await;
    let SidecarAddr::Tcp { addr, token } = sidecar_addr(&stack) else {
        panic!("http transport without a port")
    };
    assert!(addr.ip().is_loopback(), "sidecar on {addr}");
    let client = &stack.http;
    let sidecar = format!("http://{addr}");
    for path in ["/health", "/api/chat"] {
        assert_eq!(
            status(client.get(format!("{sidecar}{path}"))).await,
            401,
            "{path} without a token"
        );
        let wrong = client
            .get(format!("{sidecar}{path}"))
            .bearer_auth("not-the-token");
        assert_eq!(status(wrong).await, 401, "{path} with a wrong token");
    }
    let right = client.get(format!("{sidecar}/health")).bearer_auth(&token);
    assert_eq!(status(right).await, 200);

    let ToolEndpoint::Tcp(tools) = stack.tool_endpoint().clone() else {
        panic!("http transport without a tool port")
    };
    assert!(tools.ip().is_loopback(), "tool listener on {tools}");
    let tools_token = stack.tools_token().expect("a tool token").to_owned();
    assert_ne!(tools_token, token, "one credential per direction");
    let call = |t: Option<&str>| {
        let request = client
            .post(format!("http://{tools}/internal/tools/list_specs"))
            .json(&json!({}));
        match t {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    };
    assert_eq!(status(call(None)).await, 401, "tool call without a token");
    assert_eq!(
        status(call(Some("wrong"))).await,
        401,
        "tool call with a wrong token"
    );
    let answer: Value = call(Some(&tools_token))
        .send()
        .await
        .expect("tool call")
        .json()
        .await
        .expect("a tool outcome");
    assert_eq!(answer["status"], "ok", "{answer}");

    if let Some(ip) = non_loopback_ip() {
        for port in [addr.port(), tools.port()] {
            let outside = SocketAddr::new(ip, port);
            let refused = tokio::net::TcpStream::connect(outside).await.is_err();
            assert!(
                refused,
                "{outside} accepted a connection: not loopback-only"
            );
        }
    }
    stack.stop().await;
}

async fn status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.expect("an answer").status().as_u16()
}

/// The tool routes exist on the internal listener only, never on the public one.
pub async fn tools_are_not_public(kind: TransportKind) {
    let stack = Stack::start(kind, StackOptions::default()).await;
    let listed = stack.get("/internal/tools").await.status().as_u16();
    assert_eq!(listed, 404);
    let call = stack
        .http
        .post(format!("{}/internal/tools/list_specs", stack.url))
        .json(&json!({}))
        .send()
        .await
        .expect("an answer");
    assert!(
        call.status() == 404 || call.status() == 405,
        "{}",
        call.status()
    );
    stack.stop().await;
}

/// With logs captured in `log`, runs answers that log a lot (tools, a provider error) with a
/// canary key and checks the key appears nowhere.
pub async fn api_key_is_never_logged(kind: TransportKind, log: impl Fn() -> String) {
    let canary = format!("sk-canary-{}", leanspec_core::random_bearer_token());
    let stack = Stack::start(
        kind,
        StackOptions {
            api_key: canary.clone(),
            ..StackOptions::default()
        },
    )
    .await;
    for scenario in [Scenario::ToolSingle, Scenario::ToolError, Scenario::Http500] {
        let answer = stack.chat(&fast(scenario).render()).await;
        assert_eq!(answer.status, 200, "{scenario}: {}", answer.text());
    }
    stack.stop().await;
    let log = log();
    assert!(
        log.contains("sidecar ready") && log.contains("tool definitions"),
        "the capture holds the server's and the sidecar's lines:\n{log}"
    );
    assert!(!log.contains(&canary), "the API key leaked into the log");
    assert!(
        !log.contains("sk-canary"),
        "part of the API key leaked into the log"
    );
}
