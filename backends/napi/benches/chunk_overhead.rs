//! Per-chunk overhead of the napi backend over the direct path, at concurrency 1 and 100.
//!
//! `cargo bench -p backend-napi --bench chunk_overhead` (needs a release addon:
//! `backends/napi/scripts/build-addon release`, and the sidecar bundle).
//!
//! Chunk transit, as DESIGN.md defines it: the client's receipt of `text-delta` k minus the mock
//! provider's send of text chunk k, both on `CLOCK_MONOTONIC`. Three paths, rounds alternated so
//! the machine's noise falls on all of them:
//! - direct: the same client reading the provider's own stream (its k-th content chunk);
//! - sidecar: the sidecar's bundled server alone over loopback HTTP (`LEANSPEC_NO_TOOLS=1`):
//!   the same AI SDK chat function behind Node's own HTTP server, i.e. the JS floor;
//! - napi: this backend.
//!
//! The overhead is napi minus direct at each percentile; napi minus sidecar is what the
//! Rust⇄JS bridge and the Rust HTTP server add over Node's. Closed loop: `concurrency` clients
//! each run requests back to back.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use contract::clock::monotonic_ns;
use contract::ready::ReadyLine;
use contract::sse::SseDecoder;
use contract::ui_chunk::UiChunk;
use futures::StreamExt;
use hdrhistogram::Histogram;
use mock_provider::{MockConfig, MockHandle};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Text chunks per answer and the gap between them (DESIGN.md's realistic 20 ms).
const CHUNKS: u32 = 40;
const GAP_MS: u64 = 20;
/// Rounds per path and concurrency; alternated direct / napi.
const ROUNDS: usize = 3;
/// Requests each client runs per round.
const REQUESTS_PER_CLIENT: usize = 2;
const CONCURRENCIES: [usize; 2] = [1, 100];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    Direct,
    Sidecar,
    Napi,
}

/// The bearer token the sidecar demands in http mode (loopback only, this run only).
const SIDECAR_TOKEN: &str = "chunk-overhead-bench";

const PATHS: [Path; 3] = [Path::Direct, Path::Sidecar, Path::Napi];

struct Target {
    provider_base: String,
    sidecar_url: String,
    napi_url: String,
}

/// Starts a Node process and returns it with the URL of its ready line.
async fn start_node(
    root: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    let mut child = Command::new("node")
        .args(args)
        .current_dir(root)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = ReadyLine::parse(&lines.next_line().await.unwrap().unwrap()).unwrap();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, ready.url)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let profile = Command::new("node")
        .args([
            "-p",
            "require('./backends/napi/backend_napi.node').buildProfile()",
        ])
        .current_dir(&root)
        .output()
        .await
        .unwrap();
    let profile = String::from_utf8_lossy(&profile.stdout).trim().to_owned();
    if profile != "release" && std::env::var_os("NAPI_BENCH_ALLOW_DEBUG").is_none() {
        eprintln!(
            "the installed addon is {profile:?}: run backends/napi/scripts/build-addon release"
        );
        std::process::exit(2);
    }

    let mock: MockHandle = mock_provider::spawn(MockConfig::default()).await.unwrap();
    let provider = mock.base_url();
    let napi_args = [
        "backends/napi/main.js",
        "--listen",
        "127.0.0.1:0",
        "--rate-limit",
        "off",
        "--provider-url",
        &provider,
    ];
    let (mut napi_process, napi_url) = start_node(&root, &napi_args, &[]).await;
    let sidecar_env = [
        ("LEANSPEC_CHAT_TRANSPORT", "http"),
        ("LEANSPEC_CHAT_PORT", "0"),
        ("LEANSPEC_PROVIDER_URL", provider.as_str()),
        ("LEANSPEC_NO_TOOLS", "1"),
        ("LEANSPEC_CHAT_TOKEN", SIDECAR_TOKEN),
    ];
    let (mut sidecar_process, sidecar_url) =
        start_node(&root, &["backends/sidecar/dist/server.mjs"], &sidecar_env).await;
    let target = Arc::new(Target {
        provider_base: provider.clone(),
        sidecar_url,
        napi_url,
    });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();

    println!("chunk transit, µs (client receipt of text chunk k − provider send of chunk k)");
    println!("concurrency path           n       p50      p90      p99");
    for concurrency in CONCURRENCIES {
        let mut histograms: Vec<Histogram<u64>> =
            PATHS.iter().map(|_| Histogram::new(3).unwrap()).collect();
        for round in 0..ROUNDS {
            for (index, path) in PATHS.iter().enumerate() {
                let tag_prefix = format!("c{concurrency}-r{round}-{path:?}");
                let samples =
                    run_round(&http, &mock, &target, *path, concurrency, &tag_prefix).await;
                for ns in samples {
                    histograms[index].record(ns).unwrap();
                }
            }
        }
        let [direct, sidecar, napi] = &histograms[..] else {
            unreachable!("one histogram per path")
        };
        for (name, h) in [("direct", direct), ("sidecar", sidecar), ("napi", napi)] {
            println!(
                "{concurrency:>11} {name:<8} {:>8} {:>8.1} {:>8.1} {:>8.1}",
                h.len(),
                us(h.value_at_quantile(0.5)),
                us(h.value_at_quantile(0.9)),
                us(h.value_at_quantile(0.99)),
            );
        }
        for (name, base) in [("napi−direct", direct), ("napi−sidecar", sidecar)] {
            println!(
                "{concurrency:>11} {name:<14} {:>8.1} {:>8.1} {:>8.1}",
                us(napi.value_at_quantile(0.5)) - us(base.value_at_quantile(0.5)),
                us(napi.value_at_quantile(0.9)) - us(base.value_at_quantile(0.9)),
                us(napi.value_at_quantile(0.99)) - us(base.value_at_quantile(0.99)),
            );
        }
    }
    let _ = napi_process.start_kill();
    let _ = sidecar_process.start_kill();
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// Runs `concurrency` clients × [`REQUESTS_PER_CLIENT`] requests; the transit of every text chunk.
async fn run_round(
    http: &reqwest::Client,
    mock: &MockHandle,
    target: &Arc<Target>,
    path: Path,
    concurrency: usize,
    tag_prefix: &str,
) -> Vec<u64> {
    let clients = (0..concurrency).map(|client| {
        let http = http.clone();
        let target = target.clone();
        let tag_prefix = tag_prefix.to_owned();
        async move {
            let mut receipts = Vec::with_capacity(REQUESTS_PER_CLIENT);
            for request in 0..REQUESTS_PER_CLIENT {
                let tag = format!("{tag_prefix}-{client}-{request}");
                let times = match path {
                    Path::Direct => direct_request(&http, &target.provider_base, &tag).await,
                    Path::Sidecar => {
                        ui_request(&http, &target.sidecar_url, Some(SIDECAR_TOKEN), &tag).await
                    }
                    Path::Napi => ui_request(&http, &target.napi_url, None, &tag).await,
                };
                receipts.push((tag, times));
            }
            receipts
        }
    });
    let receipts = futures::future::join_all(clients).await;
    assert!(
        mock.timeline_store()
            .wait_settled(Duration::from_secs(30))
            .await
    );

    let mut samples = Vec::new();
    for (tag, times) in receipts.iter().flatten() {
        let timeline = mock.timeline_store().snapshot(Some(tag));
        let request = timeline
            .requests
            .first()
            .expect("the provider saw the request");
        let sent: Vec<u64> = request.text_chunks().map(|c| c.sent_ns).collect();
        assert_eq!(
            sent.len(),
            times.len(),
            "{tag}: every text chunk must arrive once"
        );
        samples.extend(
            times
                .iter()
                .zip(&sent)
                .map(|(got, sent)| got.saturating_sub(*sent)),
        );
    }
    samples
}

fn directive(tag: &str) -> String {
    format!("[[scenario:text ttft_ms=0 gap_ms={GAP_MS} chunks={CHUNKS} tag={tag}]]")
}

/// The client's receipt time of each `text-delta` of a UI message stream (napi or sidecar).
async fn ui_request(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    tag: &str,
) -> Vec<u64> {
    let body = json!({
        "id": tag,
        "messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": directive(tag)}]}],
    });
    let mut request = http.post(format!("{url}/api/chat")).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    read_times(response, |data| {
        matches!(UiChunk::from_json(data), Ok(UiChunk::TextDelta { .. }))
    })
    .await
}

/// The client's receipt time of each content chunk straight from the provider.
async fn direct_request(http: &reqwest::Client, base: &str, tag: &str) -> Vec<u64> {
    let body = json!({
        "model": "mock-gpt",
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": directive(tag)}],
    });
    let response = http
        .post(format!("{base}/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    read_times(response, |data| {
        serde_json::from_str::<Value>(data).is_ok_and(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|text| !text.is_empty())
        })
    })
    .await
}

/// Reads an event stream, stamping each frame `counts` accepts with the time its bytes arrived.
async fn read_times(response: reqwest::Response, counts: impl Fn(&str) -> bool) -> Vec<u64> {
    assert!(response.status().is_success(), "{}", response.status());
    let mut decoder = SseDecoder::new();
    let mut times = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(bytes) = stream.next().await {
        let now = monotonic_ns();
        for event in decoder.push(&bytes.unwrap()) {
            if !event.is_done() && counts(&event.data) {
                times.push(now);
            }
        }
    }
    times
}
