//! Latency under load: the closed-loop points (a fixed number of conversations in flight) and
//! what every load point shares with the open-loop runs of the saturation search
//! ([`super::steady`]): joining the client's receipts with the mock's timeline, latency from
//! each open-loop conversation's scheduled start (as wrk2 does, so a client that falls behind
//! cannot hide the wait it caused), and whether the generator kept up: the mock's send lateness
//! and the client's schedule lag (docs/bench.md#load).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use contract::clock::monotonic_ns;
use contract::results::{LoadMode, LoadPoint};
use hdrhistogram::Histogram;
use sut_kit::client;
use sut_kit::mock::{MockProcess, expected_chunks};
use tokio::task::JoinSet;

use super::observe::{self, Observation};
use super::rounds::RoundPlan;
use super::target::Target;
use crate::procfs;
use crate::stats;

/// A point whose p99 chunk overhead stays under this, with no error and no lost chunk, is within
/// a backend's capacity: 10 ms is half the provider's 20 ms default gap, past which a reader
/// sees the stream stutter (docs/bench.md#load).
pub const SATURATION_P99_LIMIT_US: f64 = 10_000.0;
/// The mock kept its schedule when its p99 send lateness stays under this: its timer fires up
/// to 0.1 ms late by design, and 2 ms is where the lateness, not the backend, would show in a
/// 10 ms limit (docs/bench.md#load).
pub const MOCK_LATENESS_LIMIT_US: f64 = 2_000.0;
/// The open-loop client kept its schedule when its p99 start lag stays under this, half the
/// stutter limit: below its core's saturation the lag stays under 1 ms, past it the late starts
/// queue up to tens of ms within one window (docs/bench.md#saturation-by-search).
pub const CLIENT_LAG_LIMIT_US: f64 = 5_000.0;
/// How often memory is sampled during the peak-memory point.
const MEMORY_SAMPLE: Duration = Duration::from_millis(50);

/// How a steady run is shaped ([`super::steady`] runs it); here beside the plan that holds it,
/// so the load plan does not import the runner.
#[derive(Debug, Clone)]
pub struct SteadyPlan {
    /// Before the window: longer than one conversation (0.21 s at the bench's pace), so the
    /// window sees as many conversations in flight as the rate keeps.
    pub ramp: Duration,
    /// The window is at least this long, long enough for [`Self::min_window_chunks`], and at
    /// most [`Self::max_window`].
    pub min_window: Duration,
    pub max_window: Duration,
    /// Chunks a window should offer: a p99 from fewer rests on a handful of samples.
    pub min_window_chunks: f64,
    /// How long conversations still in flight after the window are waited for; past it they
    /// are cancelled and count as failed (a queue that long is far past capacity).
    pub drain: Duration,
}

impl SteadyPlan {
    /// The window at `rate`: a whole number of arrival intervals, so it offers exactly
    /// `n × chunks` chunks.
    pub fn window(&self, rate: f64, chunks: u32) -> Duration {
        let wanted = (self.min_window_chunks / (rate * f64::from(chunks)))
            .clamp(self.min_window.as_secs_f64(), self.max_window.as_secs_f64());
        let arrivals = (wanted * rate).ceil().max(1.0);
        Duration::from_secs_f64(arrivals / rate)
    }
}

/// The sweeps.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub closed: Vec<usize>,
    /// How long each closed-loop point sends new conversations.
    pub duration: Duration,
    /// The open-loop runs of the saturation search, and how far it goes
    /// ([`super::steady`], [`super::search`]).
    pub steady: SteadyPlan,
    pub search: SearchBounds,
    /// Search the references' capacity too (`aisdk-node`, the relay): the full run does, for
    /// the proofs; a quick run reads the generator's ceiling from `direct` beside the backends.
    pub search_references: bool,
    /// The closed point at which peak memory is read.
    pub peak_memory_concurrency: usize,
    pub seed: u64,
}

/// The saturation search's bounds; the start rate is each target's own
/// ([`super::search::SearchPlan`]).
#[derive(Debug, Clone)]
pub struct SearchBounds {
    pub min_rps: f64,
    pub max_rps: f64,
    /// Where a target with no CPU figure starts.
    pub default_start_rps: f64,
    pub resolution: f64,
    pub max_probes: usize,
    /// Repeats before a rate may be decided, and at most
    /// ([`super::search::SearchPlan::min_repeats`]).
    pub min_repeats: usize,
    pub max_repeats: usize,
    pub generator_retries: u32,
    /// `direct` runs once per rate, its run the reference of every repeat there, instead of
    /// once per repeat (quick: docs/bench.md#saturation-by-search).
    pub direct_once_per_rate: bool,
}

/// One point's raw figures.
#[derive(Debug, Clone)]
pub struct PointFigures {
    pub transit: Histogram<u64>,
    pub ttft: Histogram<u64>,
    pub mock_lateness: Histogram<u64>,
    pub client_lag: Histogram<u64>,
    pub conversations: u64,
    pub errors: u64,
    pub chunks: u64,
    pub lost: u64,
    pub reordered: u64,
    pub elapsed: Duration,
    /// Peak RSS and PSS of the target's processes, when sampled.
    pub peak_memory: Option<procfs::MemoryUse>,
    /// The target's CPU over its steady windows, when metered.
    pub cpu: Option<CpuWindow>,
    /// The load generator's own CPU and the client's IPIs over the steady windows.
    pub generator: Option<super::generator_cost::Window>,
}

/// CPU a target's process tree used over a run's steady window (its idle CPU subtracted), and
/// the conversations' worth of text chunks the client received in it: what that CPU paid for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuWindow {
    pub ns: f64,
    pub served: f64,
}

impl CpuWindow {
    /// CPU per conversation (ms), when the window served any.
    pub fn ms_per_conversation(&self) -> Option<f64> {
        (self.served > 0.0).then(|| self.ns / self.served / 1e6)
    }
}

impl PointFigures {
    /// Nothing seen yet, over `elapsed`.
    pub fn empty(elapsed: Duration) -> Self {
        Self {
            transit: stats::histogram(),
            ttft: stats::histogram(),
            mock_lateness: stats::histogram(),
            client_lag: stats::histogram(),
            conversations: 0,
            errors: 0,
            chunks: 0,
            lost: 0,
            reordered: 0,
            elapsed,
            peak_memory: None,
            cpu: None,
            generator: None,
        }
    }
}

/// A conversation sent by the load client: when it was due, and what came back.
pub(super) struct Sent {
    pub(super) scheduled_ns: Option<u64>,
    pub(super) tag: String,
    pub(super) seen: Observation,
}

pub(super) async fn send(
    http: reqwest::Client,
    target: Arc<Target>,
    text: String,
    tag: String,
) -> Sent {
    let seen = match client::exchange(target.request(&http, &text)).await {
        Ok(answer) => Observation::read(&answer, target.kind),
        Err(e) => Observation {
            failure: Some(format!("{e:#}")),
            sent_ns: monotonic_ns(),
            ..Observation::default()
        },
    };
    Sent {
        scheduled_ns: None,
        tag,
        seen,
    }
}

/// `concurrency` conversations in flight for `duration`: each worker starts the next as soon as
/// its last one ended.
pub async fn closed_point(
    target: &Arc<Target>,
    mock: &MockProcess,
    http: &reqwest::Client,
    rounds: &RoundPlan,
    plan: &LoadPlan,
    concurrency: usize,
) -> Result<PointFigures> {
    let started = tokio::time::Instant::now();
    let deadline = started + plan.duration;
    let sampler = (concurrency == plan.peak_memory_concurrency)
        .then(|| tokio::spawn(sample_peak_memory(target.pids(), plan.duration)));
    let mut workers = JoinSet::new();
    for w in 0..concurrency {
        let (http, target, rounds) = (http.clone(), target.clone(), rounds.clone());
        let prefix = format!("c{concurrency}.{}.{w}", target.name);
        workers.spawn(async move {
            let mut sent = Vec::new();
            let mut i = 0;
            while tokio::time::Instant::now() < deadline {
                let tag = format!("{prefix}.{i}");
                let text = rounds.text(&tag).render();
                sent.push(send(http.clone(), target.clone(), text, tag).await);
                i += 1;
            }
            sent
        });
    }
    let mut all = Vec::new();
    while let Some(done) = workers.join_next().await {
        all.extend(done.context("a load worker panicked")?);
    }
    let elapsed = started.elapsed();
    let peak = match sampler {
        Some(task) => task.await.ok(),
        None => None,
    };
    let mut figures = tally(mock, rounds, all, elapsed).await?;
    figures.peak_memory = peak;
    Ok(figures)
}

/// Joins every conversation of a point with the provider's records, then forgets them.
pub(super) async fn tally(
    mock: &MockProcess,
    rounds: &RoundPlan,
    sent: Vec<Sent>,
    elapsed: Duration,
) -> Result<PointFigures> {
    let timeline = mock
        .whole_timeline()
        .await
        .context("the mock provider stopped answering")?;
    mock.clear_timeline().await?;
    let mut by_tag: HashMap<&str, Vec<_>> = HashMap::new();
    for r in &timeline.requests {
        if let Some(tag) = r.tag.as_deref() {
            by_tag.entry(tag).or_default().push(r.clone());
        }
    }
    let expected = expected_chunks(&rounds.text(""));
    let mut f = PointFigures::empty(elapsed);
    for s in &sent {
        let requests = by_tag.get(s.tag.as_str()).map_or(&[][..], Vec::as_slice);
        let samples = observe::join(&s.seen, requests, expected.as_deref());
        f.conversations += 1;
        f.errors += u64::from(!s.seen.completed());
        f.chunks += s.seen.texts.len() as u64;
        f.lost += samples.lost_chunks;
        f.reordered += samples.reordered_chunks;
        for &ns in &samples.chunk_transit {
            stats::record(&mut f.transit, ns);
        }
        for &ns in &samples.mock_lateness {
            stats::record(&mut f.mock_lateness, ns);
        }
        let first_text = s.seen.texts.first().map(|(at, _)| *at);
        match (s.scheduled_ns, first_text) {
            (Some(scheduled), Some(at)) => {
                stats::record(&mut f.ttft, stats::from_schedule(scheduled, at))
            }
            (None, Some(_)) => {
                if let Some(ns) = samples.ttft {
                    stats::record(&mut f.ttft, ns);
                }
            }
            _ => {}
        }
        if let Some(scheduled) = s.scheduled_ns {
            stats::record(&mut f.client_lag, s.seen.sent_ns.saturating_sub(scheduled));
        }
    }
    Ok(f)
}

/// The highest memory of `pids` seen while a point runs.
async fn sample_peak_memory(pids: Vec<u32>, duration: Duration) -> procfs::MemoryUse {
    let deadline = tokio::time::Instant::now() + duration;
    let mut peak = procfs::MemoryUse::default();
    while tokio::time::Instant::now() < deadline {
        let now = procfs::memory(&pids);
        peak.rss_bytes = peak.rss_bytes.max(now.rss_bytes);
        peak.pss_bytes = peak.pss_bytes.max(now.pss_bytes);
        tokio::time::sleep(MEMORY_SAMPLE).await;
    }
    peak
}

fn p(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| stats::quantile_us(h, q))
}

/// The results entry of a point; overheads against the direct path at the same point.
pub fn load_point(
    mode: LoadMode,
    target: f64,
    f: &PointFigures,
    direct: Option<&PointFigures>,
) -> LoadPoint {
    let secs = f.elapsed.as_secs_f64().max(f64::EPSILON);
    let overhead = |q: f64| Some(p(&f.transit, q)? - p(&direct?.transit, q)?);
    let lateness_p99 = p(&f.mock_lateness, 0.99);
    let lag_p99 = p(&f.client_lag, 0.99);
    let generator = f.generator.and_then(|g| g.per_chunk());
    LoadPoint {
        mode,
        target,
        achieved: (f.conversations - f.errors) as f64 / secs,
        chunks_per_s: f.chunks as f64 / secs,
        conversations: f.conversations,
        chunk_overhead_p50_us: overhead(0.5),
        chunk_overhead_p99_us: overhead(0.99),
        ttft_p99_us: p(&f.ttft, 0.99),
        errors: f.errors,
        lost_chunks: f.lost,
        reordered_chunks: f.reordered,
        mock_lateness_p99_us: lateness_p99,
        client_lag_p99_us: lag_p99,
        generator_behind: lateness_p99.is_some_and(|l| l > MOCK_LATENESS_LIMIT_US)
            || lag_p99.is_some_and(|l| l > CLIENT_LAG_LIMIT_US),
        retries: 0,
        cpu_ms_per_conversation: f.cpu.and_then(|c| c.ms_per_conversation()),
        generator_us_per_chunk: generator.map(|g| g.cpu_us),
        client_ipis_per_chunk: generator.map(|g| g.ipis),
        client_sleeps_per_chunk: generator.map(|g| g.sleeps),
    }
}

/// Whether a point is within capacity (counts toward saturation).
pub fn within_capacity(point: &LoadPoint) -> bool {
    point.errors == 0
        && point.lost_chunks == 0
        && point.reordered_chunks == 0
        && !point.generator_behind
        && point
            .chunk_overhead_p99_us
            .is_some_and(|o| o < SATURATION_P99_LIMIT_US)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(target: f64, p99: f64, errors: u64, behind: bool) -> LoadPoint {
        LoadPoint {
            conversations: 100,
            chunk_overhead_p50_us: Some(p99 / 2.0),
            chunk_overhead_p99_us: Some(p99),
            errors,
            generator_behind: behind,
            ..crate::stages::bench::test_points::open(target)
        }
    }

    #[test]
    fn a_point_counts_within_capacity_only_when_clean_and_under_the_limit() {
        assert!(within_capacity(&point(10.0, 900.0, 0, false)));
        assert!(
            !within_capacity(&point(50.0, 12_000.0, 0, false)),
            "p99 over"
        );
        assert!(!within_capacity(&point(50.0, 900.0, 3, false)), "errors");
        assert!(
            !within_capacity(&point(50.0, 900.0, 0, true)),
            "generator behind"
        );
    }
}
