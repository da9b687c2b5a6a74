//! Only the server itself can reach its sidecars and its tool callbacks (each transport its own
//! way), and the API key stays out of the logs.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use backend_http::HttpTransport;
use backend_unix::UnixTransport;
use contract::scenario::Scenario;
use serde_json::{Value, json};
use sidecar_host::member::Phase;
use sidecar_host::{Endpoint, SidecarWire, Transport};

use crate::support::{self, Stack, StackOptions, UnderTest};

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn sidecar_endpoint<T: Transport>(stack: &Stack<T>) -> T::Endpoint {
    match stack.pool().members()[0].phase() {
        Phase::Up { client } => client.endpoint().clone(),
        Phase::Down { .. } => panic!("the sidecar is down"),
    }
}

/// unix: both sockets are 0600 files of ours in a 0700 directory of ours, removed with it.
pub async fn unix_sockets_are_0600_in_a_0700_directory() {
    let stack = Stack::<UnixTransport>::start(StackOptions::default()).await;
    let dir = stack.runtime_dir().to_path_buf();
    assert_eq!(mode_of(&dir), 0o700, "the socket directory");
    let chat = sidecar_endpoint(&stack).0;
    let tools = support::tools_socket(stack.tools());
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

async fn status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.expect("an answer").status().as_u16()
}

/// http: the sidecar listens on loopback only and refuses a missing or wrong token; the tool
/// listener likewise, with a token of its own.
pub async fn http_sidecar_and_tool_listener_demand_the_token_on_loopback() {
    let stack = Stack::<HttpTransport>::start(StackOptions::default()).await;
    let endpoint = sidecar_endpoint(&stack);
    let (addr, token) = (
        endpoint.addr,
        endpoint.bearer_token().unwrap_or("").to_owned(),
    );
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

    let (tools_url, tools_token) = support::tools_url_and_token(stack.tools());
    let tools: SocketAddr = backend_http::parse_loopback_url(&tools_url).expect("a loopback URL");
    assert_ne!(tools_token, token, "one credential per direction");
    let call = |t: Option<&str>| {
        let request = client
            .post(format!("{tools_url}/internal/tools/list_specs"))
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

/// The tool routes exist on the internal listener only, never on the public one.
pub async fn tool_routes_are_not_on_the_public_listener<T: UnderTest>() {
    let stack = Stack::<T>::start(StackOptions::default()).await;
    assert_eq!(stack.get("/internal/tools").await.status, 404);
    let call = stack
        .http
        .post(format!("{}/internal/tools/list_specs", stack.url))
        .json(&json!({}));
    let status = status(call).await;
    assert!(status == 404 || status == 405, "{status}");
    stack.stop().await;
}

/// With every log of this test binary captured, runs answers that log a lot (tools, a provider
/// error) with a canary key, and checks the key appears nowhere, the server's lines and the
/// sidecar's.
pub async fn a_canary_api_key_appears_in_no_log<T: UnderTest>(wire: SidecarWire) {
    let log = support::capture_logs();
    let canary = format!("sk-canary-{}", leanspec_core::random_bearer_token());
    let options = StackOptions {
        api_key: canary.clone(),
        ..StackOptions::on(wire)
    };
    let stack = Stack::<T>::start(options).await;
    for scenario in [Scenario::ToolSingle, Scenario::ToolError, Scenario::Http500] {
        let answer = stack.chat(scenario).await;
        assert_eq!(answer.status, 200, "{scenario}: {}", answer.body_text());
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
