//! Per-chunk overhead of the rust-only backend over the direct path, measured as DESIGN.md
//! ("Measuring") asks: chunk transit = client receipt of text chunk k − the provider's send of
//! chunk k (the mock's timeline, same `CLOCK_MONOTONIC`), on the direct path (client → mock)
//! and through the backend, requests interleaved; plus the loopback TCP round trip measured in
//! the same run, the floor the overhead is compared with. A third path, the mock read by
//! async-openai's own streaming client, shows what that client costs per chunk over reading
//! the SSE body directly (it forwards every event through a spawned task and a channel).
//!
//! ```text
//! cargo build --release -p mock-provider -p backend-rust-only
//! cargo run --release -p backend-rust-only --example chunk_overhead -- --requests 40
//! ```
//!
//! The mock and the backend run as their release binaries, each its own process, as the
//! harness runs them; this process is only the client.

// The report is this tool's output.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use contract::clock::monotonic_ns;
use contract::ready::ReadyLine;
use contract::sse::SseDecoder;
use contract::timeline::Timeline;
use contract::ui_chunk::UiChunk;
use futures::StreamExt;
use rand::Rng;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// Requests per path (direct and rust-only alternate).
    #[arg(long, default_value_t = 30)]
    requests: usize,
    /// Text chunks per answer.
    #[arg(long, default_value_t = 200)]
    chunks: u32,
    /// Gap between two chunks, in ms (DESIGN.md's realistic value is 20).
    #[arg(long, default_value_t = 5)]
    gap_ms: u64,
    /// Loopback round trips timed for the floor.
    #[arg(long, default_value_t = 20_000)]
    round_trips: usize,
}

/// Resamples of the bootstrap that gives the overhead's confidence interval.
const BOOTSTRAP_RESAMPLES: usize = 2_000;
/// The first chunk carries the stream's setup (headers, first poll); it is not a steady-state
/// chunk and is left out.
const SKIPPED_LEADING_CHUNKS: usize = 1;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(binary: &Path, args: &[&str]) -> Result<(Process, String)> {
    let mut child = Command::new(binary)
        .args(args)
        .env("OPENAI_API_KEY", "bench-key")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}; build it first", binary.display()))?;
    let stdout = child.stdout.take().context("stdout")?;
    let process = Process(child);
    for line in BufReader::new(stdout).lines() {
        if let Some(ready) = ReadyLine::parse(&line?) {
            return Ok((process, ready.url));
        }
    }
    bail!("{} exited before its ready line", binary.display())
}

fn release_binary(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/release")
        .join(name)
}

/// Receipt times of the text chunks of one answer, by chunk index.
async fn receive(response: reqwest::Response, direct: bool) -> Result<Vec<u64>> {
    let mut decoder = SseDecoder::new();
    let mut received = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(bytes) = body.next().await {
        let now = monotonic_ns();
        for event in decoder.push(&bytes?) {
            if event.is_done() {
                continue;
            }
            let is_text = if direct {
                let chunk: Value = serde_json::from_str(&event.data)?;
                chunk
                    .pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                    .is_some_and(|c| !c.is_empty())
            } else {
                matches!(UiChunk::from_json(&event.data)?, UiChunk::TextDelta { .. })
            };
            if is_text {
                received.push(now);
            }
        }
    }
    Ok(received)
}

/// Receipt times of the text chunks read through async-openai's streaming client.
async fn receive_with_async_openai(provider_url: &str, text: &str) -> Result<Vec<u64>> {
    use async_openai::types::chat::{
        ChatCompletionRequestMessage, ChatCompletionRequestUserMessage,
        ChatCompletionRequestUserMessageContent, CreateChatCompletionRequest,
    };
    let client = async_openai::Client::with_config(
        async_openai::config::OpenAIConfig::new()
            .with_api_base(provider_url)
            .with_api_key("bench-key"),
    )
    .with_http_client(reqwest::Client::builder().no_proxy().build()?);
    let request = CreateChatCompletionRequest {
        model: "mock-gpt".into(),
        messages: vec![ChatCompletionRequestMessage::User(
            ChatCompletionRequestUserMessage {
                content: ChatCompletionRequestUserMessageContent::Text(text.to_owned()),
                name: None,
            },
        )],
        ..Default::default()
    };
    let mut stream = client.chat().create_stream(request).await?;
    let mut received = Vec::new();
    while let Some(chunk) = stream.next().await {
        let now = monotonic_ns();
        let chunk = chunk?;
        let has_text = chunk
            .choices
            .first()
            .and_then(|c| c.delta.content.as_deref())
            .is_some_and(|c| !c.is_empty());
        if has_text {
            received.push(now);
        }
    }
    Ok(received)
}

async fn sent_times(client: &reqwest::Client, mock: &str, tag: &str) -> Result<Vec<u64>> {
    let timeline: Timeline = client
        .get(format!("{mock}/__mock/timeline?tag={tag}"))
        .send()
        .await?
        .json()
        .await?;
    let request = timeline.requests.first().context("no timeline entry")?;
    Ok(request.text_chunks().map(|c| c.sent_ns).collect())
}

/// Transit times (µs) of one answer's steady-state chunks.
fn transits(received: &[u64], sent: &[u64]) -> Result<Vec<f64>> {
    if received.len() != sent.len() {
        bail!("{} chunks received, {} sent", received.len(), sent.len());
    }
    Ok(received
        .iter()
        .zip(sent)
        .skip(SKIPPED_LEADING_CHUNKS)
        .map(|(r, s)| r.saturating_sub(*s) as f64 / 1_000.0)
        .collect())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

fn median(values: &[f64]) -> f64 {
    percentile(&sorted(values.to_vec()), 50.0)
}

/// Round trips of 64-byte messages over loopback TCP, in µs, sorted.
fn loopback_round_trips(count: usize) -> Result<Vec<f64>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut buf = [0u8; 64];
        while stream.read_exact(&mut buf).is_ok() {
            stream.write_all(&buf)?;
        }
        Ok(())
    });
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut buf = [7u8; 64];
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = monotonic_ns();
        stream.write_all(&buf)?;
        stream.read_exact(&mut buf)?;
        samples.push((monotonic_ns() - start) as f64 / 1_000.0);
    }
    drop(stream);
    let _ = echo.join();
    Ok(sorted(samples))
}

/// The same round trips between two tokio runtimes (the echo on its own thread), in µs,
/// sorted: what a hop between two async Rust programs costs at least, wake-ups included.
async fn tokio_round_trips(count: usize) -> Result<Vec<f64>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let (mut stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let mut buf = [0u8; 64];
            while stream.read_exact(&mut buf).await.is_ok() {
                stream.write_all(&buf).await?;
            }
            Ok(())
        })
    });
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut buf = [7u8; 64];
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let start = monotonic_ns();
        stream.write_all(&buf).await?;
        stream.read_exact(&mut buf).await?;
        samples.push((monotonic_ns() - start) as f64 / 1_000.0);
    }
    drop(stream);
    let _ = echo.join();
    Ok(sorted(samples))
}

fn summary(name: &str, samples: &[f64]) {
    println!(
        "{name:<10} n={:<6} p50={:>8.1} p90={:>8.1} p99={:>8.1} max={:>9.1} µs",
        samples.len(),
        percentile(samples, 50.0),
        percentile(samples, 90.0),
        percentile(samples, 99.0),
        percentile(samples, 100.0)
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (_mock, mock_url) = start(
        &release_binary("mock-provider"),
        &["--listen", "127.0.0.1:0"],
    )?;
    let provider_url = format!("{mock_url}/v1");
    let (_backend, backend_url) = start(
        &release_binary("backend-rust-only"),
        &[
            "--listen",
            "127.0.0.1:0",
            "--provider-url",
            &provider_url,
            "--rate-limit",
            "off",
            "--specs-dir",
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../fixtures/specs")
                .display()
                .to_string(),
        ],
    )?;
    let client = reqwest::Client::builder().no_proxy().build()?;
    let run = std::process::id();
    let mut direct_all = Vec::new();
    let mut backend_all = Vec::new();
    let mut paired_differences = Vec::new();
    let mut openai_all = Vec::new();
    let mut openai_differences = Vec::new();
    for i in 0..args.requests {
        let text = |path: &str| {
            format!(
                "[[scenario:text ttft_ms=0 gap_ms={} chunks={} tag=ovh-{run}-{path}-{i}]]",
                args.gap_ms, args.chunks
            )
        };
        let direct_text = text("direct");
        let response = client
            .post(format!("{provider_url}/chat/completions"))
            .json(&json!({"model": "mock-gpt", "stream": true,
                          "messages": [{"role": "user", "content": direct_text}]}))
            .send()
            .await?;
        let received = receive(response, true).await?;
        let sent = sent_times(&client, &mock_url, &format!("ovh-{run}-direct-{i}")).await?;
        let direct = transits(&received, &sent)?;

        let backend_text = text("backend");
        let response = client
            .post(format!("{backend_url}/api/chat"))
            .json(
                &json!({"id": format!("bench-{i}"), "trigger": "submit-message",
                          "messages": [{"id": "u", "role": "user",
                                        "parts": [{"type": "text", "text": backend_text}]}]}),
            )
            .send()
            .await?;
        let received = receive(response, false).await?;
        let sent = sent_times(&client, &mock_url, &format!("ovh-{run}-backend-{i}")).await?;
        let backend = transits(&received, &sent)?;

        let openai_tag = format!("ovh-{run}-openai-{i}");
        let received = receive_with_async_openai(&provider_url, &text("openai")).await?;
        let sent = sent_times(&client, &mock_url, &openai_tag).await?;
        let via_openai = transits(&received, &sent)?;

        paired_differences.push(median(&backend) - median(&direct));
        openai_differences.push(median(&via_openai) - median(&direct));
        direct_all.extend(direct);
        backend_all.extend(backend);
        openai_all.extend(via_openai);
    }
    let direct_all = sorted(direct_all);
    let backend_all = sorted(backend_all);
    let openai_all = sorted(openai_all);
    let rtt = loopback_round_trips(args.round_trips)?;
    let async_rtt = tokio_round_trips(args.round_trips).await?;

    let overhead = median(&paired_differences);
    let mut rng = rand::rng();
    let mut resampled: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let sample: Vec<f64> = (0..paired_differences.len())
                .map(|_| paired_differences[rng.random_range(0..paired_differences.len())])
                .collect();
            median(&sample)
        })
        .collect();
    resampled = sorted(resampled);

    println!(
        "chunk transit ({} requests per path, {} chunks, gap {} ms, interleaved):",
        args.requests, args.chunks, args.gap_ms
    );
    summary("direct", &direct_all);
    summary("rust-only", &backend_all);
    summary("openai-cli", &openai_all);
    summary("tcp rtt", &rtt);
    summary("tokio rtt", &async_rtt);
    println!(
        "overhead p50: {overhead:.1} µs (95% CI {:.1} .. {:.1}), {:.2}× the loopback TCP round trip p50",
        percentile(&resampled, 2.5),
        percentile(&resampled, 97.5),
        overhead / percentile(&rtt, 50.0)
    );
    println!(
        "overhead p50 / tokio round trip p50: {:.2}×",
        overhead / percentile(&async_rtt, 50.0)
    );
    println!(
        "overhead p99: {:.1} µs",
        percentile(&backend_all, 99.0) - percentile(&direct_all, 99.0)
    );
    println!(
        "async-openai's streaming client over a plain SSE read, p50: {:.1} µs",
        median(&openai_differences)
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
