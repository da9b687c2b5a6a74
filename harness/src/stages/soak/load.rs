//! One backend's soak: a fresh instance, conversations sent on a fixed schedule (open loop: a
//! slow answer does not slow the schedule), the process tree and the JavaScript heap sampled
//! every second, and the slopes fitted after warm-up.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use contract::results::{HeapSample, Soak, SoakSample, StreamEnd};
use contract::runtime_memory::{RUNTIME_PATH, RuntimeMemory, RuntimeReport};
use contract::scenario::{DEFAULT_CHUNKS, Scenario};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use sut_kit::manifest::Backend;
use sut_kit::orchestrate::{self, InstanceOptions, StartSettings};

use super::fit::{self, Slope};
use super::{SAMPLE_INTERVAL, WARMUP_SHARE};
use crate::chat;
use crate::procfs;

/// The load's mix, in shares of every ten conversations: mostly short answers, some tool
/// chains (three provider requests and two tool calls each), one long stream (1,000 chunks).
pub const MIX: [(Scenario, u32); 3] = [
    (Scenario::Text, 7),
    (Scenario::ToolChain, 2),
    (Scenario::Long, 1),
];
/// The provider's pace: 10 ms between chunks of the short answers (a fast model), 1 ms for the
/// long stream so that it lasts about a second rather than ten.
const GAP_MS: u64 = 10;
const LONG_GAP_MS: u64 = 1;
const LONG_CHUNKS: u32 = 1_000;
/// A conversation with no complete answer this long after it was sent is an error.
pub(crate) const CHAT_LIMIT: Duration = Duration::from_secs(30);
/// Conversations open at once, at most: a tick finding this many still open sends nothing and
/// counts an error (`backlog`), so a backend that falls behind shows up as errors rather than
/// as the client's own memory growing.
pub(crate) const MAX_IN_FLIGHT: usize = 64;

/// What one backend's soak needs.
#[derive(Debug)]
pub struct Env<'a> {
    pub backend: &'a Backend,
    pub cfg: &'a StartSettings,
    pub http: reqwest::Client,
    pub log_dir: PathBuf,
    /// Every conversation carries this tag (the mock keeps a bounded timeline).
    pub tag: String,
    pub duration: Duration,
    pub rate_rps: f64,
}

/// The scenario of the `i`-th conversation: the mix, in a fixed order.
pub(crate) fn scenario_of(i: u64) -> Scenario {
    let cycle: u32 = MIX.iter().map(|m| m.1).sum();
    let mut k = (i % u64::from(cycle)) as u32;
    for (scenario, share) in MIX {
        if k < share {
            return scenario;
        }
        k -= share;
    }
    Scenario::Text
}

/// The `i`-th conversation of the mix, at the provider's pace for its scenario.
pub(crate) fn directive_of(i: u64, tag: &str) -> contract::scenario::Directive {
    let scenario = scenario_of(i);
    let (chunks, gap) = match scenario {
        Scenario::Long => (LONG_CHUNKS, LONG_GAP_MS),
        _ => (DEFAULT_CHUNKS, GAP_MS),
    };
    chat::directive(scenario, tag, chunks, gap)
}

/// Soaks one backend on a fresh instance.
pub async fn soak(env: &Env<'_>) -> Result<Soak> {
    let opts = InstanceOptions {
        extra_args: Vec::new(),
        instance: Some("soak".to_owned()),
    };
    let instance = orchestrate::start_backend(env.backend, env.cfg, &opts, &env.log_dir)
        .await
        .context("the backend did not start")?;
    let pgid = instance.process.pgid();
    let runtime = instance.ready().runtime_pid;
    let base = instance.url().to_owned();
    let in_flight = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let heap = HeapProbe {
        http: env.http.clone(),
        url: format!("{base}{RUNTIME_PATH}"),
    };
    let sampler = tokio::spawn(sample(pgid, runtime, heap, in_flight.clone(), env.duration));
    let (requests, error_kinds) = drive(env, &base, in_flight, started).await;
    let samples = sampler.await.unwrap_or_default();
    instance.stop().await;
    Ok(summarize(env, requests, error_kinds, samples))
}

/// Sends the conversations on schedule until the soak's end, then waits for the open ones;
/// returns how many were sent and the errors by kind.
async fn drive(
    env: &Env<'_>,
    base: &str,
    in_flight: Arc<AtomicU32>,
    started: Instant,
) -> (u64, BTreeMap<String, u64>) {
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / env.rate_rps));
    // Open loop: a late tick is sent at once, not skipped, so the rate holds on average.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut running = JoinSet::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut sent = 0u64;
    let mut tally = |end: Option<String>| {
        if let Some(kind) = end {
            *errors.entry(kind).or_default() += 1;
        }
    };
    while started.elapsed() < env.duration {
        tokio::select! {
            _ = ticks.tick() => {
                if started.elapsed() >= env.duration {
                    break;
                }
                sent += 1;
                if running.len() >= MAX_IN_FLIGHT {
                    tally(Some("backlog".to_owned()));
                    continue;
                }
                let d = directive_of(sent - 1, &env.tag);
                let (http, base, body) = (env.http.clone(), base.to_owned(), chat::body(&d));
                let open = in_flight.clone();
                open.fetch_add(1, Ordering::Relaxed);
                running.spawn(async move {
                    let s = chat::send(&http, &base, &body, CHAT_LIMIT).await;
                    open.fetch_sub(1, Ordering::Relaxed);
                    error_kind(&s)
                });
            }
            Some(done) = running.join_next(), if !running.is_empty() => {
                tally(done.unwrap_or_else(|e| Some(format!("client task failed: {e}"))));
            }
        }
    }
    while let Some(done) = running.join_next().await {
        tally(done.unwrap_or_else(|e| Some(format!("client task failed: {e}"))));
    }
    (sent, errors)
}

/// `None` for a completed conversation, else what went wrong.
pub(crate) fn error_kind(sent: &chat::Sent) -> Option<String> {
    match &sent.answer {
        Ok(a) if a.status != 200 => return Some(format!("status-{}", a.status)),
        Err(_) if !sent.timed_out => return Some("no-answer".to_owned()),
        _ => {}
    }
    match chat::end_of(sent) {
        StreamEnd::Completed => None,
        end => Some(end.name().to_owned()),
    }
}

/// Where a backend's JavaScript runtimes report their heap (`GET /health/runtime`).
struct HeapProbe {
    http: reqwest::Client,
    url: String,
}

/// A heap answer later than this is a missing sample: the sampler keeps its second.
const HEAP_TIMEOUT: Duration = Duration::from_millis(800);

impl HeapProbe {
    /// The heap summed over the runtimes that answered; `None` without any (rust-only, or a
    /// busy runtime).
    async fn read(&self) -> Option<HeapSample> {
        let answer = self.http.get(&self.url).timeout(HEAP_TIMEOUT).send().await;
        let report: RuntimeReport = answer.ok()?.error_for_status().ok()?.json().await.ok()?;
        heap_of(&report.runtimes)
    }
}

/// The runtimes' figures summed; `None` for none.
fn heap_of(runtimes: &[RuntimeMemory]) -> Option<HeapSample> {
    if runtimes.is_empty() {
        return None;
    }
    let sum = |f: fn(&RuntimeMemory) -> u64| runtimes.iter().map(f).sum();
    Some(HeapSample {
        runtimes: runtimes.len() as u32,
        heap_total_bytes: sum(|r| r.heap_total),
        heap_used_bytes: sum(|r| r.heap_used),
        external_bytes: sum(|r| r.external),
        array_buffers_bytes: sum(|r| r.array_buffers),
    })
}

/// The process tree every [`SAMPLE_INTERVAL`] for `duration`, from now.
async fn sample(
    pgid: i32,
    runtime: Option<u32>,
    heap: HeapProbe,
    in_flight: Arc<AtomicU32>,
    duration: Duration,
) -> Vec<SoakSample> {
    let started = Instant::now();
    let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut samples = Vec::new();
    while started.elapsed() <= duration {
        ticks.tick().await;
        let t_s = started.elapsed().as_secs_f64();
        // /proc is read off the runtime's threads: four backends' trees every second.
        let read = tokio::task::spawn_blocking(move || {
            let pids = procfs::tree(pgid, runtime);
            (procfs::memory(&pids), procfs::descriptors(&pids))
        });
        let (read, heap) = tokio::join!(read, heap.read());
        let Ok((memory, fds)) = read else {
            continue;
        };
        samples.push(SoakSample {
            t_s,
            rss_bytes: memory.rss_bytes,
            pss_bytes: memory.pss_bytes,
            fds: fds.fds,
            sockets: fds.sockets,
            in_flight: in_flight.load(Ordering::Relaxed),
            heap,
        });
    }
    samples
}

/// The soak's record: slopes over the samples after warm-up, and the verdict.
fn summarize(
    env: &Env<'_>,
    requests: u64,
    error_kinds: BTreeMap<String, u64>,
    samples: Vec<SoakSample>,
) -> Soak {
    let warmup = env.duration.as_secs_f64() * WARMUP_SHARE;
    let after = || samples.iter().filter(|s| s.t_s >= warmup);
    let mb = |b: u64| b as f64 / 1e6;
    let rss_points: Vec<(f64, f64)> = after().map(|s| (s.t_s, mb(s.rss_bytes))).collect();
    let rss = fit::slope(&rss_points);
    let rss_parts = fit::part_slopes(&rss_points).unwrap_or_default();
    let pss = fit::slope(
        &after()
            .map(|s| (s.t_s, mb(s.pss_bytes)))
            .collect::<Vec<_>>(),
    );
    let fds = fit::slope(
        &after()
            .map(|s| (s.t_s, f64::from(s.fds)))
            .collect::<Vec<_>>(),
    );
    let heap_used = fit::slope(
        &after()
            .filter_map(|s| Some((s.t_s, mb(s.heap?.heap_used_bytes))))
            .collect::<Vec<_>>(),
    );
    let errors = error_kinds.values().sum();
    let (passed, verdict) = fit::verdict(&fit::Seen {
        requests,
        errors,
        rss: rss.as_ref(),
        rss_parts: &rss_parts,
        fds: fds.as_ref(),
        warmup_s: warmup,
    });
    let split = |s: Option<Slope>| (s.map(|s| s.per_h), s.map(|s| s.ci95));
    let (rss_slope, rss_ci) = split(rss);
    let (pss_slope, pss_ci) = split(pss);
    let (fd_slope, fd_ci) = split(fds);
    let (heap_slope, heap_ci) = split(heap_used);
    Soak {
        minutes: env.duration.as_secs_f64() / 60.0,
        rate_rps: env.rate_rps,
        requests,
        errors,
        error_kinds,
        rss_slope_mb_per_h: rss_slope,
        rss_slope_ci95_mb_per_h: rss_ci,
        pss_slope_mb_per_h: pss_slope,
        pss_slope_ci95_mb_per_h: pss_ci,
        heap_used_slope_mb_per_h: heap_slope,
        heap_used_slope_ci95_mb_per_h: heap_ci,
        fd_slope_per_h: fd_slope,
        fd_slope_ci95_per_h: fd_ci,
        passed,
        verdict,
        samples,
        not_sampled: None,
        drift: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_repeats_every_ten_conversations_in_its_shares() {
        let first: Vec<Scenario> = (0..10).map(scenario_of).collect();
        let count = |s| first.iter().filter(|x| **x == s).count() as u32;
        for (scenario, share) in MIX {
            assert_eq!(count(scenario), share, "{scenario:?}");
        }
        assert_eq!(scenario_of(3), scenario_of(13));
    }
}
