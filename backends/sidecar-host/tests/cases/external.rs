//! `--sidecar external`: the two-terminal development mode, with the sidecar started by hand.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use contract::scenario::Scenario;
use contract::ui_chunk::UiChunk;
use sidecar_host::SidecarMode;
use sut_kit::guards::wait_until;

use crate::support::{self, Stack, StackOptions, UnderTest};

/// The server waits (503) for a sidecar started separately, serves through it once it is up,
/// and answers 503 again when it goes away (it cannot restart what it did not start).
pub async fn an_external_sidecar_started_by_hand_serves<T: UnderTest>() {
    let mock = support::start_mock().await;
    let dir = tempfile::Builder::new()
        .prefix("leanspec-external-")
        .tempdir()
        .expect("temp dir");
    let private = std::fs::Permissions::from_mode(sidecar_host::host::RUNTIME_DIR_MODE);
    std::fs::set_permissions(dir.path(), private).expect("chmod");
    let (transport, listen) = T::external(dir.path());
    let mut args = support::sidecar_args(support::sidecar_bundle(), 1);
    args.mode = SidecarMode::External;
    let server = support::server_args(mock.base_url(), &StackOptions::default());
    let host = support::start_host(transport, &server, &args)
        .await
        .expect("starts without a sidecar");
    let provider_url = mock.base_url();
    let stack = Stack::serve(host, mock).await;
    assert_eq!(stack.get("/health").await.status, 503, "no sidecar yet");

    // The second terminal: the environment the server's log asks for.
    let mut sidecar = tokio::process::Command::new(
        contract::runtime::default_node().expect("the pinned Node.js is installed (scripts/setup)"),
    );
    sidecar
        .arg(support::sidecar_bundle())
        .env("LEANSPEC_PROVIDER_URL", provider_url)
        .env("OPENAI_API_KEY", "sk-test-key")
        .envs(listen.vars())
        .envs(stack.tools().vars())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut sidecar = sidecar.spawn().expect("node starts");
    stack.wait_for_health(200).await;
    let answer = stack.chat(Scenario::ToolSingle).await;
    assert_eq!(answer.status, 200, "{}", answer.body_text());
    let reading = answer.reading();
    assert!(
        reading.done && matches!(reading.chunks.last(), Some(UiChunk::Finish { .. })),
        "{:?}",
        reading.chunk_types()
    );
    assert!(
        reading
            .chunks
            .iter()
            .any(|c| matches!(c, UiChunk::ToolOutputAvailable { .. })),
        "the tool call went back to the server: {:?}",
        reading.chunk_types()
    );

    let _ = sidecar.kill().await;
    let serving = &stack;
    wait_until("a vanished external sidecar looking down", || async move {
        serving.get("/health").await.status == 503
    })
    .await
    .expect("the server sees the sidecar gone");
    stack.stop().await;
}
