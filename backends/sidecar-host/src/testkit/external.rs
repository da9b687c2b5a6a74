//! `--sidecar external`: the two-terminal development mode, with the sidecar started by hand.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use contract::scenario::Scenario;
use contract::ui_chunk::UiChunk;
use leanspec_core::{CoreState, random_bearer_token};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Answer, HANG_GUARD, StackOptions, chat_body, fast, server_args, sidecar_args};
use crate::args::SidecarMode;
use crate::host::Host;
use crate::tool_listener::ToolEndpoint;
use crate::transport::TransportKind;

async fn health(client: &reqwest::Client, url: &str) -> u16 {
    let response = client.get(format!("{url}/health")).send().await;
    response.expect("the backend answers").status().as_u16()
}

/// The server waits (503) for a sidecar started separately, serves through it once it is up,
/// and answers 503 again when it goes away (it cannot restart what it did not start).
pub async fn external_sidecar_serves(kind: TransportKind) {
    let mock = mock_provider::spawn(mock_provider::MockConfig::default())
        .await
        .expect("mock starts");
    let dir = tempfile::Builder::new()
        .prefix("leanspec-external-")
        .tempdir()
        .expect("temp dir");
    let private = std::fs::Permissions::from_mode(crate::host::RUNTIME_DIR_MODE);
    std::fs::set_permissions(dir.path(), private).expect("chmod");
    let chat_token = random_bearer_token();
    let tools_token = random_bearer_token();
    let mut args = sidecar_args(super::sidecar_bundle(), 1);
    args.mode = SidecarMode::External;
    let chat_socket = dir.path().join("chat.sock");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("address").port()
    };
    match kind {
        TransportKind::Unix => {
            args.sockets = vec![chat_socket.clone()];
            args.tools_socket = Some(dir.path().join("tools.sock"));
        }
        TransportKind::Http => {
            args.urls = vec![format!("http://127.0.0.1:{port}")];
            args.token = Some(chat_token.clone());
            args.tools_token = Some(tools_token.clone());
        }
    }
    let server = server_args(mock.base_url(), &StackOptions::default());
    let state = CoreState::from_args(&server).expect("corpus");
    let host = Host::start(kind, &server, state, &args)
        .await
        .expect("starts without a sidecar");
    let tools = host.tool_endpoint().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let stop = CancellationToken::new();
    let served = tokio::spawn(host.serve(listener, stop.clone().cancelled_owned()));
    let client = reqwest::Client::new();
    assert_eq!(health(&client, &url).await, 503, "no sidecar yet");

    // The second terminal.
    let mut sidecar = tokio::process::Command::new("node");
    sidecar
        .arg(super::sidecar_bundle())
        .env("LEANSPEC_PROVIDER_URL", mock.base_url())
        .env("OPENAI_API_KEY", "sk-test-key")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    match (&tools, kind) {
        (ToolEndpoint::Socket(path), TransportKind::Unix) => {
            sidecar
                .env("LEANSPEC_CHAT_SOCKET", &chat_socket)
                .env("LEANSPEC_TOOLS_SOCKET", path);
        }
        (ToolEndpoint::Tcp(addr), TransportKind::Http) => {
            sidecar
                .env("LEANSPEC_CHAT_TRANSPORT", "http")
                .env("LEANSPEC_CHAT_PORT", port.to_string())
                .env("LEANSPEC_CHAT_TOKEN", &chat_token)
                .env("LEANSPEC_TOOLS_URL", format!("http://{addr}"))
                .env("LEANSPEC_TOOLS_TOKEN", &tools_token);
        }
        (tools, kind) => panic!("{kind:?} with a tool endpoint {tools:?}"),
    }
    let mut sidecar = sidecar.spawn().expect("node starts");
    let started = std::time::Instant::now();
    while health(&client, &url).await != 200 {
        assert!(
            started.elapsed() < HANG_GUARD,
            "the external sidecar was never seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let response = client
        .post(format!("{url}/api/chat"))
        .json(&chat_body(&fast(Scenario::ToolSingle).render()))
        .send()
        .await
        .expect("chat");
    let answer = Answer::read(response).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let (chunks, done) = answer.chunks();
    assert!(
        done && matches!(chunks.last(), Some(UiChunk::Finish { .. })),
        "{:?}",
        answer.chunk_types()
    );
    assert!(
        chunks
            .iter()
            .any(|c| matches!(c, UiChunk::ToolOutputAvailable { .. })),
        "the tool call went back to the server: {:?}",
        answer.chunk_types()
    );

    let _ = sidecar.kill().await;
    let started = std::time::Instant::now();
    while health(&client, &url).await != 503 {
        assert!(
            started.elapsed() < HANG_GUARD,
            "a vanished external sidecar still looks up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.cancel();
    let _ = tokio::time::timeout(HANG_GUARD, served).await;
    let _ = mock.shutdown().await;
}
