//! The API key never reaches the logs: a whole session (start-up with the arguments logged,
//! chat requests, errors, internal calls with a bearer token, shutdown) is captured through the
//! same tracing setup the bins use, and searched for the key and the token.
//!
//! Its own test binary, because it installs the process-wide tracing subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use clap::Parser;
use common::*;
use leanspec_core::{
    ApiKey, BoundServer, InternalAuth, ServerArgs, internal_router, random_bearer_token,
};
use tracing_subscriber::fmt::MakeWriter;

const API_KEY: &str = "sk-test-7d1f0c2b9a8e4d6f-do-not-log";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
}

#[tokio::test]
async fn the_api_key_and_tokens_never_appear_in_the_log() {
    let log = Captured::default();
    // Debug level, the most there is to leak, whatever RUST_LOG says.
    let filter = tracing_subscriber::EnvFilter::new("debug");
    leanspec_core::launch::init_tracing_with_filter(log.clone(), filter);

    let specs_dir = fixtures_dir();
    let mut cli = Cli::parse_from([
        "backend",
        "--listen",
        "127.0.0.1:0",
        "--provider-url",
        "http://127.0.0.1:9/v1",
        "--rate-limit",
        "1/min",
        "--specs-dir",
        specs_dir.to_str().unwrap(),
    ]);
    cli.server.api_key = ApiKey::new(API_KEY);
    let server = BoundServer::bind(cli.server).await.unwrap();
    let url = server.url().unwrap();
    let backend = FakeBackend::new();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(backend, async move {
        let _ = stopped.await;
    }));

    // Wait for the server the way a client would.
    let client = client();
    let health = format!("{url}/health");
    tokio::time::timeout(HANG_GUARD, async {
        while client.get(&health).send().await.is_err() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    let chat = format!("{url}/api/chat");
    let with_key = |r: reqwest::RequestBuilder| r.bearer_auth(API_KEY).header("x-api-key", API_KEY);
    with_key(client.post(&chat).json(&chat_body(API_KEY)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    with_key(client.post(&chat).json(&chat_body("again")))
        .send()
        .await
        .unwrap(); // 429
    with_key(client.post(&chat).body("not json"))
        .send()
        .await
        .unwrap();
    with_key(client.get(format!("{url}/api/search?q={API_KEY}")))
        .send()
        .await
        .unwrap();

    let token = random_bearer_token();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let internal = format!("http://{}/internal/tools", listener.local_addr().unwrap());
    let app = internal_router(
        leanspec_core::Toolbox::new(fixture_store(), false),
        InternalAuth::Bearer(token.clone()),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    client
        .get(&internal)
        .bearer_auth(&token[1..])
        .send()
        .await
        .unwrap();
    client
        .get(&internal)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    stop.send(()).unwrap();
    tokio::time::timeout(HANG_GUARD, running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    // The log is not empty: it did record the session.
    for expected in [
        "loaded",
        "ApiKey(<redacted>)",
        "rate limited",
        "request",
        "internal request refused",
        "chat stream ended",
        "stopped",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        !text.contains(API_KEY),
        "the API key leaked into the log:\n{text}"
    );
    assert!(
        !text.contains(&token[1..]),
        "the bearer token leaked into the log:\n{text}"
    );
}
