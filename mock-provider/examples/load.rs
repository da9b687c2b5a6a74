//! Load benchmark: can the mock keep its schedule with thousands of concurrent streams on one
//! core? (It must never be the bottleneck of a measurement: >= 2,000 concurrent streams,
//! >= 50,000 chunks/s, chunk send times within 1 ms of schedule at p99.)
//!
//! The provider runs in-process on a current-thread runtime (one thread, its chunk timer
//! included) pinned to `--server-cpu`; the load generator is a raw-TCP client (like wrk: no JSON
//! parsing) pinned to `--client-cpu`. Streams start on an open-loop schedule spread over one gap, so
//! chunk deadlines are spread evenly, as independent users' would be. Lateness is read from the
//! provider's own timeline: send time minus scheduled time, for every frame.
//!
//! `chrt -f 10 target/release/examples/load --streams 2000 --gap-ms 40 --client polling`
//! (after `cargo build --release -p mock-provider --example load`; see the crate's README.md).

// A benchmark's output is its report, printed on stdout.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use contract::timeline::{ChunkKind, Outcome, RequestTimeline};
use hdrhistogram::Histogram;
use mock_provider::{MockConfig, TimelineStore};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
struct Args {
    /// Concurrent streams.
    #[arg(long, default_value_t = 2000)]
    streams: u32,
    /// Gap between chunks of one stream; streams × 1000 / gap is the chunk rate.
    #[arg(long, default_value_t = 40)]
    gap_ms: u64,
    /// Chunks per stream.
    #[arg(long, default_value_t = 250)]
    chunks: u32,
    #[arg(long, default_value_t = 200)]
    ttft_ms: u64,
    /// CPU the provider's thread is pinned to.
    #[arg(long, default_value_t = 0)]
    server_cpu: usize,
    /// CPU the load generator is pinned to.
    #[arg(long, default_value_t = 1)]
    client_cpu: usize,
    /// `sleeping`: a tokio client that parks between reads, so the kernel wakes it (an
    /// inter-processor interrupt, costly in a VM) for every chunk, on the provider's core.
    /// `polling`: a client that spins over non-blocking sockets on its own core and is never
    /// asleep, which leaves the provider's core only the provider's own work.
    #[arg(long, value_enum, default_value_t = ClientMode::Sleeping)]
    client: ClientMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ClientMode {
    Sleeping,
    Polling,
}

/// The budget the mock must meet at p99 (issue 2).
const LATENESS_BUDGET_US: u64 = 1_000;
/// Lateness is recorded in microseconds up to this bound (a minute: nothing is that late).
const HISTOGRAM_MAX_US: u64 = 60_000_000;

fn pin_to(cpu: usize) -> anyhow::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)
        .with_context(|| format!("cannot pin to CPU {cpu}"))
}

fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    if let Err(e) = setrlimit(Resource::Nofile, limit) {
        eprintln!("cannot raise the open-file limit: {e}");
    }
}

/// CPU seconds (user + system) a thread of this process has used, from /proc.
fn thread_cpu_seconds(tid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the state field.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every architecture Linux ships.
    Some(ticks as f64 / 100.0)
}

fn provider_threads() -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            let name = comm.trim();
            (name == "mock-provider").then(|| t.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

/// Starts the provider on its own pinned thread; returns its address and timeline.
fn start_provider(
    cpu: usize,
) -> anyhow::Result<(
    std::net::SocketAddr,
    TimelineStore,
    tokio::sync::oneshot::Sender<()>,
)> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("mock-provider".into())
        .spawn(move || {
            let run = || -> anyhow::Result<()> {
                pin_to(cpu)?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    let handle = mock_provider::spawn(MockConfig {
                        timeline_capacity: 1_000_000,
                        ..MockConfig::default()
                    })
                    .await?;
                    let _ = ready_tx.send(Ok((handle.addr(), handle.timeline_store().clone())));
                    let _ = stop_rx.await;
                    handle.shutdown().await?;
                    anyhow::Ok(())
                })
            };
            if let Err(e) = run() {
                let _ = ready_tx.send(Err(e));
            }
        })?;
    let (addr, store) = ready_rx.recv().context("the provider thread died")??;
    Ok((addr, store, stop_tx))
}

/// When stream `i` starts: open loop, spread over one gap so chunk deadlines are spread evenly.
fn start_offset(args: &Args, i: u32) -> Duration {
    Duration::from_nanos(args.gap_ms * 1_000_000 / u64::from(args.streams.max(1)) * u64::from(i))
}

fn sleeping_client(
    args: &Args,
    addr: std::net::SocketAddr,
    request: std::sync::Arc<Vec<u8>>,
) -> anyhow::Result<Vec<anyhow::Result<bool>>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(async {
        let start = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..args.streams {
            tokio::time::sleep_until(start + start_offset(args, i)).await;
            tasks.spawn(one_stream(addr, request.clone()));
        }
        let mut outcomes = Vec::new();
        while let Some(r) = tasks.join_next().await {
            outcomes.push(r.map_err(anyhow::Error::from).and_then(|r| r));
        }
        outcomes
    }))
}

/// One stream of the polling client: its socket and what it has seen.
struct Polled {
    socket: std::net::TcpStream,
    status_ok: Option<bool>,
    tail: Vec<u8>,
}

fn polling_client(
    args: &Args,
    addr: std::net::SocketAddr,
    request: &[u8],
) -> Vec<anyhow::Result<bool>> {
    use std::io::{ErrorKind, Read as _, Write as _};
    let start = Instant::now();
    let mut open: Vec<Polled> = Vec::new();
    let mut outcomes = Vec::new();
    let mut next = 0;
    let mut buf = vec![0u8; 16 * 1024];
    while next < args.streams || !open.is_empty() {
        while next < args.streams && start.elapsed() >= start_offset(args, next) {
            next += 1;
            let connected = std::net::TcpStream::connect(addr).and_then(|mut socket| {
                socket.set_nodelay(true)?;
                socket.write_all(request)?;
                socket.set_nonblocking(true)?;
                Ok(socket)
            });
            match connected {
                Ok(socket) => open.push(Polled {
                    socket,
                    status_ok: None,
                    tail: Vec::new(),
                }),
                Err(e) => outcomes.push(Err(e.into())),
            }
        }
        open.retain_mut(|s| {
            loop {
                match s.socket.read(&mut buf) {
                    Ok(0) => {
                        let done = s.tail.windows(12).any(|w| w == b"data: [DONE]");
                        outcomes.push(Ok(s.status_ok == Some(true) && done));
                        return false;
                    }
                    Ok(n) => {
                        s.status_ok
                            .get_or_insert_with(|| buf[..n].starts_with(b"HTTP/1.1 200"));
                        s.tail.extend_from_slice(&buf[..n]);
                        let keep = s.tail.len().saturating_sub(64);
                        s.tail.drain(..keep);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(e) => {
                        outcomes.push(Err(e.into()));
                        return false;
                    }
                }
            }
        });
    }
    outcomes
}

/// One stream, as a raw HTTP/1.1 exchange: returns whether it ended with `[DONE]`.
async fn one_stream(
    addr: std::net::SocketAddr,
    request: std::sync::Arc<Vec<u8>>,
) -> anyhow::Result<bool> {
    let mut socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    socket.write_all(&request).await?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut tail: Vec<u8> = Vec::new();
    let mut status_ok = None;
    loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if status_ok.is_none() {
            status_ok = Some(buf[..n].starts_with(b"HTTP/1.1 200"));
        }
        tail.extend_from_slice(&buf[..n]);
        let keep = tail.len().saturating_sub(64);
        tail.drain(..keep);
    }
    let done = tail.windows(12).any(|w| w == b"data: [DONE]");
    Ok(status_ok == Some(true) && done)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    raise_open_file_limit();
    let (addr, timeline, stop) = start_provider(args.server_cpu)?;
    let server_threads = provider_threads();
    let cpu_before: f64 = server_threads
        .iter()
        .filter_map(|&t| thread_cpu_seconds(t))
        .sum();

    pin_to(args.client_cpu)?;
    let directive = format!(
        "[[scenario:text ttft_ms={} gap_ms={} chunks={} tag=load]]",
        args.ttft_ms, args.gap_ms, args.chunks
    );
    let body = serde_json::json!({
        "model": "mock-gpt", "stream": true,
        "messages": [{"role": "user", "content": directive}],
    })
    .to_string();
    let request = std::sync::Arc::new(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    );
    let wall = Instant::now();
    let outcomes = match args.client {
        ClientMode::Sleeping => sleeping_client(&args, addr, request)?,
        ClientMode::Polling => polling_client(&args, addr, &request),
    };
    let wall = wall.elapsed();
    let cpu_after: f64 = server_threads
        .iter()
        .filter_map(|&t| thread_cpu_seconds(t))
        .sum();
    let completed = outcomes.iter().filter(|o| matches!(o, Ok(true))).count();
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err().map(|e| e.to_string()))
        .take(3)
        .collect();

    let requests: Vec<RequestTimeline> = timeline.snapshot(Some("load")).requests;
    let _ = stop.send(());
    report(
        &args,
        &requests,
        completed,
        &failed,
        wall,
        cpu_after - cpu_before,
    )
}

fn report(
    args: &Args,
    requests: &[RequestTimeline],
    completed: usize,
    failed: &[String],
    wall: Duration,
    server_cpu_s: f64,
) -> anyhow::Result<()> {
    let mut all = Histogram::<u64>::new_with_max(HISTOGRAM_MAX_US, 3)?;
    let mut text = Histogram::<u64>::new_with_max(HISTOGRAM_MAX_US, 3)?;
    let mut early = 0u64;
    let sends: Vec<u64> = requests
        .iter()
        .flat_map(|r| r.chunks.iter().map(|c| c.sent_ns))
        .collect();
    for chunk in requests.iter().flat_map(|r| r.chunks.iter()) {
        let late_ns = chunk.lateness_ns();
        if late_ns < 0 {
            early += 1;
        }
        let late_us = (late_ns.max(0) as u64 / 1_000).min(HISTOGRAM_MAX_US);
        all.record(late_us)?;
        if chunk.kind == ChunkKind::Text {
            text.record(late_us)?;
        }
    }
    let (first, last) = (
        sends.iter().min().copied().unwrap_or(0),
        sends.iter().max().copied().unwrap_or(0),
    );
    let span_s = (last.saturating_sub(first)) as f64 / 1e9;
    // Steady state: every stream is running, from the last stream's first chunk to the first
    // stream's last chunk.
    let steady_from = requests
        .iter()
        .filter_map(|r| r.chunks.first())
        .map(|c| c.sent_ns)
        .max()
        .unwrap_or(0);
    let steady_to = requests.iter().filter_map(|r| r.end_ns).min().unwrap_or(0);
    let steady = sends
        .iter()
        .filter(|&&t| t >= steady_from && t <= steady_to)
        .count();
    let steady_s = steady_to.saturating_sub(steady_from) as f64 / 1e9;
    let gone = requests
        .iter()
        .filter(|r| r.outcome != Outcome::Completed)
        .count();

    println!(
        "mock-provider load: {} streams, gap {} ms, {} chunks each, ttft {} ms",
        args.streams, args.gap_ms, args.chunks, args.ttft_ms
    );
    println!(
        "  provider pinned to CPU {}, {:?} load generator on CPU {}",
        args.server_cpu, args.client, args.client_cpu
    );
    println!(
        "  completed streams: {completed}/{} (provider saw {} not complete); errors: {failed:?}",
        args.streams, gone
    );
    println!(
        "  frames sent: {} over {span_s:.2} s = {:.0} frames/s overall",
        sends.len(),
        sends.len() as f64 / span_s.max(1e-9)
    );
    println!(
        "  steady state (all {} streams open): {steady} frames in {steady_s:.2} s = {:.0} frames/s",
        args.streams,
        steady as f64 / steady_s.max(1e-9)
    );
    println!(
        "  provider CPU: {server_cpu_s:.2} s over {:.2} s wall = {:.0}% of one core",
        wall.as_secs_f64(),
        100.0 * server_cpu_s / wall.as_secs_f64()
    );
    for (name, h) in [("all frames", &all), ("text chunks", &text)] {
        println!(
            "  lateness of {name} (us): p50 {} p90 {} p99 {} p99.9 {} max {} (n = {})",
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
            h.len()
        );
    }
    println!("  frames sent before their schedule: {early}");
    let p99 = all.value_at_quantile(0.99);
    println!(
        "  p99 within {LATENESS_BUDGET_US} us: {}",
        if p99 <= LATENESS_BUDGET_US {
            "yes"
        } else {
            "NO"
        }
    );
    if completed != args.streams as usize {
        bail!(
            "{} of {} streams did not complete",
            args.streams as usize - completed,
            args.streams
        );
    }
    Ok(())
}
