//! What the sidecar architectures add to a request and to each chunk, over the direct path
//! (client → mock provider), and how much of that is the hop versus the AI SDK.
//!
//! Paths: `direct`; `unix-echo` / `http-echo` (the backend binary with the echo sidecar,
//! `backends/sidecar/bench/echo-sidecar.mjs`: the same hops, no AI SDK); `unix-full` /
//! `http-full` (the real sidecar). Each hop is timed where it happens, on the clock every
//! process shares (DESIGN.md, "Measuring"):
//! - request path = provider arrival (mock timeline) − client send;
//! - chunk transit = client receipt of text chunk k − provider send of chunk k.
//!
//! Closed loop at each concurrency level; paths take turns batch by batch so machine noise
//! spreads over all of them. Needs the release binaries and the sidecar bundle:
//!
//! ```text
//! cargo build --release -p backend-unix -p backend-http
//! npm ci --prefix backends/sidecar && npm run build --prefix backends/sidecar
//! cargo run --release -p sidecar-host --example overhead -- --concurrency 1,100
//! ```

mod client;
mod stats;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use contract::ready::ReadyLine;
use contract::scenario::{Directive, Scenario};
use mock_provider::TimelineStore;
use tokio::io::{AsyncBufReadExt, BufReader};

use client::{Observed, Path as Route};
use stats::Figures;

/// How long a backend may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the provider may take to record a request the client has finished reading.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Parser)]
struct Args {
    /// Concurrency levels (closed loop: this many requests in flight).
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    concurrency: Vec<usize>,
    /// Requests per path at each level.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Batches per path at each level; the paths take turns between batches.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Text chunks per answer.
    #[arg(long, default_value_t = 20)]
    chunks: u32,
    #[arg(long, default_value_t = 20)]
    ttft_ms: u64,
    #[arg(long, default_value_t = 5)]
    gap_ms: u64,
    /// Paths to measure (`direct` is the baseline and always runs).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "unix-echo,unix-full,http-echo,http-full"
    )]
    paths: Vec<String>,
    /// Sidecars per backend (`--sidecars`).
    #[arg(long, default_value_t = 1)]
    sidecars: usize,
    /// Cargo profile the backend binaries were built with.
    #[arg(long, default_value = "release")]
    profile: String,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The mock runs on its own thread and runtime, so client load cannot delay its sends.
fn start_mock() -> anyhow::Result<(String, TimelineStore)> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(runtime) = runtime else { return };
        runtime.block_on(async move {
            match mock_provider::spawn(mock_provider::MockConfig::default()).await {
                Ok(mock) => {
                    let _ = tx.send(Ok((mock.base_url(), mock.timeline_store().clone())));
                    std::future::pending::<()>().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(anyhow::anyhow!("mock provider: {e}")));
                }
            }
        });
    });
    rx.recv().context("the mock thread died")?
}

/// Starts `backend-<transport>` with the given sidecar script; the child dies with us.
async fn start_backend(
    root: &Path,
    args: &Args,
    transport: &str,
    entry: &Path,
    provider: &str,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let profile = &args.profile;
    let binary = root.join(format!("target/{profile}/backend-{transport}"));
    if !binary.is_file() {
        bail!(
            "{} missing: cargo build --{profile} -p backend-{transport}",
            binary.display()
        );
    }
    let mut child = tokio::process::Command::new(&binary)
        .current_dir(root)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "off",
            "--provider-url",
            provider,
        ])
        .arg("--sidecar-entry")
        .arg(entry)
        .args(["--sidecars", &args.sidecars.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(READY_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(ready) = ReadyLine::parse(&line) {
                return Some(ready);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .with_context(|| format!("backend-{transport} with {} did not start", entry.display()))?;
    Ok((child, ready.url))
}

/// One batch: `concurrency` workers share `total` requests, each taking the next when done.
async fn batch(
    client: &reqwest::Client,
    route: &Route,
    directive: &Directive,
    label: &str,
    concurrency: usize,
    total: usize,
) -> anyhow::Result<Vec<Observed>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, route, next) = (client.clone(), route.clone(), next.clone());
        let (directive, label) = (directive.clone(), label.to_owned());
        workers.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(seen);
                }
                let tag = format!("{label}-{i}");
                let mut d = directive.clone();
                d.params.tag = Some(tag.clone());
                seen.push(client::run(&client, &route, d.render(), tag).await?);
            }
        });
    }
    let mut all = Vec::with_capacity(total);
    while let Some(done) = workers.join_next().await {
        all.extend(done??);
    }
    Ok(all)
}

/// Matches what the client saw with what the provider recorded.
async fn record(timeline: &TimelineStore, seen: &[Observed], figures: &mut Figures) {
    timeline.wait_settled(SETTLE_TIMEOUT).await;
    let snapshot = timeline.snapshot(None);
    let by_tag: HashMap<&str, _> = snapshot
        .requests
        .iter()
        .filter_map(|r| Some((r.tag.as_deref()?, r)))
        .collect();
    for observed in seen {
        let Some(request) = by_tag.get(observed.tag.as_str()) else {
            figures.lost += 1;
            continue;
        };
        let sent: Vec<u64> = request.text_chunks().map(|c| c.sent_ns).collect();
        if sent.len() != observed.text_ns.len() {
            figures.lost += 1;
            continue;
        }
        let transits = observed
            .text_ns
            .iter()
            .zip(&sent)
            .map(|(got, sent)| got.saturating_sub(*sent));
        figures.record(
            request.arrival_ns.saturating_sub(observed.send_ns),
            transits,
        );
    }
    timeline.clear(None);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let root = repo_root();
    let (provider, timeline) = start_mock()?;
    let bundle = root.join("backends/sidecar/dist/server.mjs");
    let echo = root.join("backends/sidecar/bench/echo-sidecar.mjs");
    let mut routes = vec![(
        "direct".to_owned(),
        Route::Direct {
            base_url: provider.clone(),
        },
    )];
    let mut children = Vec::new();
    for path in &args.paths {
        let (transport, sidecar) = match path.split_once('-') {
            Some((t @ ("unix" | "http"), "echo")) => (t, &echo),
            Some((t @ ("unix" | "http"), "full")) => (t, &bundle),
            _ => bail!("unknown path {path:?}: use unix-echo, unix-full, http-echo, http-full"),
        };
        let (child, url) = start_backend(&root, &args, transport, sidecar, &provider).await?;
        children.push(child);
        routes.push((path.clone(), Route::Backend { url }));
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    let mut directive = Directive::new(Scenario::Text);
    directive.params.chunks = args.chunks;
    directive.params.ttft_ms = args.ttft_ms;
    directive.params.gap_ms = args.gap_ms;

    let mut results: BTreeMap<(usize, String), Figures> = BTreeMap::new();
    for &c in &args.concurrency {
        for (name, route) in &routes {
            batch(
                &client,
                route,
                &directive,
                &format!("warm-{name}-{c}"),
                c,
                c,
            )
            .await?;
        }
        timeline.clear(None);
        let per_batch = (args.requests / args.rounds.max(1)).max(c);
        for round in 0..args.rounds {
            for (name, route) in &routes {
                let label = format!("{name}-{c}-{round}");
                let seen = batch(&client, route, &directive, &label, c, per_batch).await?;
                let figures = results.entry((c, name.clone())).or_default();
                record(&timeline, &seen, figures).await;
            }
        }
        eprintln!("concurrency {c}: done");
    }
    let names: Vec<String> = routes.iter().map(|(n, _)| n.clone()).collect();
    let lost: u64 = results.values().map(|f| f.lost).sum();
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{} text chunks per answer, ttft {} ms, gap {} ms, {} sidecar(s) per backend; unmatched requests: {lost}",
            args.chunks, args.ttft_ms, args.gap_ms, args.sidecars
        );
        println!("{}", stats::report(&results, &names));
    }
    drop(children);
    Ok(())
}
