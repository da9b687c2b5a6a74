//! CPU at load: each target's process tree, alone on its confined CPUs, is driven at a fixed
//! open-loop rate (arrivals evenly spaced) until its cost per window is flat, then read over
//! steady windows with a nanosecond meter ([`crate::cpu_meter`]), each window's CPU divided by
//! the text chunks the client received in it; an idle window of the same length is subtracted.
//! Short and long conversations run at the same chunks/s: the slope between their costs is the
//! CPU per chunk, the intercept what a conversation costs beyond its chunks
//! (docs/bench.md#cpu-at-load).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use contract::clock::monotonic_ns;
use contract::results::{CpuAtLoad, CpuMethod};
use sut_kit::mock::MockProcess;
use tokio::task::JoinSet;

use super::clean_reference;
use super::load;
use super::rounds::RoundPlan;
use super::target::Target;
use crate::cpu_meter::CpuMeter;
use crate::progress::Progress;

/// The chunks of the short and the long conversation: the bench's own 20, and ten times as
/// many, so the slope spans 180 chunks (the "20 vs 200").
pub const SHORT_CHUNKS: u32 = 20;
pub const LONG_CHUNKS: u32 = 200;
/// Text chunks per second both lengths run at: 20 short conversations/s. Below what one core
/// of this machine carries for every backend measured (docs/bench.md#cpu-at-load), so the
/// figure is the cost at load, not the cost of a queue.
pub const CHUNKS_PER_S: f64 = 400.0;

/// How long each phase lasts.
#[derive(Debug, Clone)]
pub struct CpuLoadPlan {
    /// Driven before the first window: Node's JIT warm-up (the latency rounds before have
    /// already run each target's code paths), and for the long conversations a whole
    /// conversation's length (2.02 s) more to fill the pipeline.
    pub warmup: Duration,
    pub long_warmup: Duration,
    pub window: Duration,
    /// Windows per run of the short conversations, and of the long ones.
    pub windows: usize,
    pub long_windows: usize,
    /// A backend and its clean twin are driven in this many A B B A blocks ([`alternation`]).
    pub blocks: usize,
}

/// Windows of a quick run: 2 of 1 s (the quick budget); 5 when a burn is injected: the CPU a
/// chunk costs besides the burn moved 10-20% between windows on the shared machine, about 5 µs
/// of a slope from 3 windows per run, the self-check's whole tolerance at 100 µs
/// (docs/bench.md#the-burn-read).
const QUICK_WINDOWS: usize = 2;
const QUICK_INJECTED_WINDOWS: usize = 5;
/// Under `--proofs` (quick): three A B B A blocks of drives of 10 long and 3 short windows, six
/// pairs of drives whose differences state the burn's error. Eight blocks of 3 and 2 windows
/// (sixteen pairs) stated a smaller error but read the burn 4-6 µs high in all four runs
/// (docs/bench.md#the-burn-read).
const PROOF_LONG_WINDOWS: usize = 10;
const PROOF_SHORT_WINDOWS: usize = 3;
/// A B B A blocks of a backend and its clean twin under `--proofs`: six drives of each, so a
/// drift of the machine over the minutes they take cancels pair by pair
/// (docs/bench.md#the-burn-read).
const PROOF_BLOCKS: usize = 3;

impl CpuLoadPlan {
    /// `injected`: a CPU burn is read in this run (the self-check).
    pub fn new(quick: bool, injected: bool) -> Self {
        if quick {
            let windows = if injected {
                QUICK_INJECTED_WINDOWS
            } else {
                QUICK_WINDOWS
            };
            Self {
                // Past one conversation's length (0.21 s and 2.02 s), so the pipeline is full.
                warmup: Duration::from_millis(500),
                long_warmup: Duration::from_millis(2_200),
                window: Duration::from_secs(1),
                windows,
                long_windows: windows,
                blocks: 1,
            }
        } else {
            Self {
                warmup: Duration::from_secs(5),
                long_warmup: Duration::from_secs(7),
                window: Duration::from_secs(3),
                windows: 5,
                long_windows: 5,
                blocks: 1,
            }
        }
    }

    /// Under `--proofs`, which read the burn from paired drives: more blocks, and a quick run's
    /// windows of 1 s as many as [`PROOF_LONG_WINDOWS`] and [`PROOF_SHORT_WINDOWS`] say. The
    /// quick budget of a run without `--proofs` is not touched
    /// (docs/bench.md#the-quick-budget).
    pub fn for_proofs(self, quick: bool) -> Self {
        Self {
            windows: if quick {
                PROOF_SHORT_WINDOWS
            } else {
                self.windows
            },
            long_windows: if quick {
                PROOF_LONG_WINDOWS
            } else {
                self.long_windows
            },
            blocks: PROOF_BLOCKS,
            ..self
        }
    }
}

/// One length's windows: CPU (ns) in each, and the conversations' worth of text chunks the
/// client received in each (chunks received / chunks per conversation).
#[derive(Debug, Clone, Default)]
struct Windows {
    cpu_ns: Vec<u64>,
    served: Vec<f64>,
    /// The load client's sleeps ([`client_sleeps`]) in each window.
    client_sleeps: Vec<u64>,
    /// How many of the windows each drive gave, in order: a drive's windows move together
    /// ([`figures`] states the error from the drives' means).
    drive_windows: Vec<usize>,
    errors: u64,
}

impl Windows {
    /// Appends another drive's (or drives') windows.
    fn extend(&mut self, other: Self) {
        self.drive_windows.extend(other.drive_windows);
        self.cpu_ns.extend(other.cpu_ns);
        self.served.extend(other.served);
        self.client_sleeps.extend(other.client_sleeps);
        self.errors += other.errors;
    }
}

/// Conversations' worth of text chunks received between consecutive `marks`
/// (`CLOCK_MONOTONIC` ns): the work a window's CPU paid for. The schedule's share
/// (rate × window) is not: a client or a mock that fell behind served fewer chunks in the
/// window than it offered, and the CPU per conversation read low by as much, for a backend and
/// its clean twin alike (docs/bench.md#cpu-at-load).
fn served(received: &[u64], marks: &[u64], chunks: u32) -> Vec<f64> {
    marks
        .windows(2)
        .map(|w| {
            let n = received
                .iter()
                .filter(|&&at| (w[0]..w[1]).contains(&at))
                .count();
            n as f64 / f64::from(chunks)
        })
        .collect()
}

/// The longest a drive keeps sending past its planned end while the run before it drains:
/// a safety net only (a drain takes one conversation's length, 2.02 s at most).
const DRAIN_ALLOWANCE: Duration = Duration::from_secs(10);

/// A drive whose windows have been read, its last conversations still streaming.
struct Draining {
    sender: tokio::task::JoinHandle<(u64, Vec<u64>)>,
    cpu: Vec<u64>,
    sleeps: Vec<u64>,
    marks: Vec<u64>,
    chunks: u32,
}

impl Draining {
    /// Waits for the conversations in flight to end: the drive's windows.
    async fn finish(self) -> Result<Windows> {
        let (errors, received) = self.sender.await.context("the CPU load sender panicked")?;
        let windows = self.cpu.len().saturating_sub(1);
        Ok(Windows {
            drive_windows: vec![windows],
            cpu_ns: self
                .cpu
                .windows(2)
                .map(|w| w[1].saturating_sub(w[0]))
                .collect(),
            served: served(&received, &self.marks, self.chunks),
            client_sleeps: self
                .sleeps
                .windows(2)
                .map(|w| w[1].saturating_sub(w[0]))
                .collect(),
            errors,
        })
    }
}

/// Drives `target` with `chunks`-chunk conversations at [`CHUNKS_PER_S`]; reads `meter` at the
/// end of the warm-up and of every window. The run `before` it drains during its warm-up
/// (neither is measured then) and is waited for before the first window opens, so no window
/// shares the core with another target's conversations; returns `before`'s windows, and this
/// drive still draining.
#[allow(clippy::too_many_arguments)]
async fn drive(
    target: &Arc<Target>,
    http: &reqwest::Client,
    rounds: &RoundPlan,
    plan: &CpuLoadPlan,
    meter: &CpuMeter,
    chunks: u32,
    before: Option<Draining>,
) -> Result<(Option<Windows>, Draining)> {
    let rate = CHUNKS_PER_S / f64::from(chunks);
    let shape = RoundPlan {
        chunks,
        ..rounds.clone()
    };
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now() + Duration::from_millis(10);
    let (warmup, windows) = if chunks > SHORT_CHUNKS {
        (plan.long_warmup, plan.long_windows)
    } else {
        (plan.warmup, plan.windows)
    };
    let total = warmup + plan.window * windows as u32 + DRAIN_ALLOWANCE;
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sender = {
        let (target, http, shape) = (target.clone(), http.clone(), shape.clone());
        tokio::spawn(async move {
            let mut in_flight = JoinSet::new();
            // Starts a whole number of gaps apart put every conversation's chunk on one
            // instant; moved apart within the gap, each chunk arrives on its own, as chunks of
            // conversations started at random would (docs/bench.md#the-burn-read).
            let spread = Duration::from_millis(shape.gap_ms);
            let mut arrivals = super::pacer::arrivals(start.into_std(), interval, total, spread);
            loop {
                let i = tokio::select! {
                    biased;
                    _ = &mut stopped => break,
                    i = arrivals.recv() => match i {
                        Some(i) => i,
                        None => break,
                    },
                };
                let text = shape
                    .text(&format!("cpu{chunks}.{}.{i}", target.name))
                    .render();
                let (target, http) = (target.clone(), http.clone());
                in_flight.spawn(load::send(http, target, text, String::new()));
            }
            let (mut errors, mut received) = (0, Vec::new());
            while let Some(done) = in_flight.join_next().await {
                match done {
                    Ok(sent) => {
                        errors += u64::from(!sent.seen.completed());
                        received.extend(sent.seen.texts.iter().map(|(at, _)| *at));
                    }
                    Err(_) => errors += 1,
                }
            }
            (errors, received)
        })
    };
    let finished = match before {
        Some(d) => Some(d.finish().await?),
        None => None,
    };
    let (mut cpu, mut sleeps, mut marks) = (Vec::new(), Vec::new(), Vec::new());
    // The warm-up lasts until the run before has drained, if that took longer.
    let mut at = (start + warmup).max(tokio::time::Instant::now());
    for _ in 0..=windows {
        tokio::time::sleep_until(at).await;
        cpu.push(meter.read_ns().context("the CPU meter could not be read")?);
        sleeps.push(super::generator_cost::client_sleeps());
        marks.push(monotonic_ns());
        at += plan.window;
    }
    // The sender may have ended already (its allowance spent): nothing then to stop.
    let _ = stop.send(());
    Ok((
        finished,
        Draining {
            sender,
            cpu,
            sleeps,
            marks,
            chunks,
        },
    ))
}

/// CPU per conversation (ms) in each window, the idle rate (ns/s) subtracted, drive by drive.
fn per_conversation(w: &Windows, idle_ns_per_s: f64, window: Duration) -> Vec<Vec<f64>> {
    let idle = idle_ns_per_s * window.as_secs_f64();
    let mut at = 0;
    w.drive_windows
        .iter()
        .map(|&n| {
            let drive = (at..at + n)
                .filter(|&i| w.served[i] > 0.0)
                .map(|i| (w.cpu_ns[i] as f64 - idle) / w.served[i] / 1e6)
                .collect();
            at += n;
            drive
        })
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The standard error of a length's mean CPU per conversation. Windows of one drive move
/// together (the machine's state lasts seconds), so where there are drives enough the error
/// comes from the drives' means (batch means); with a single drive, from its windows, which
/// then reads low when they are correlated (docs/bench.md#the-burn-read).
fn mean_error(drives: &[Vec<f64>]) -> Option<f64> {
    let means: Vec<f64> = drives
        .iter()
        .filter(|d| !d.is_empty())
        .map(|d| mean(d))
        .collect();
    if means.len() >= MIN_DRIVES_FOR_ERROR {
        crate::stats::standard_error(&means)
    } else {
        crate::stats::standard_error(&drives.concat())
    }
}

/// Drives a length needs before its error is read from their means, and drive pairs before the
/// burn's error is read from their differences: two give one degree of freedom, too few to
/// trust; `--proofs` drives each instance six times a length (docs/bench.md#the-burn-read).
pub const MIN_DRIVES_FOR_ERROR: usize = 3;

/// What one target's short and long runs give, each length's windows drive by drive.
pub fn figures(
    short: &[Vec<f64>],
    long: &[Vec<f64>],
    idle_ms_per_s: f64,
    method: CpuMethod,
) -> Option<CpuAtLoad> {
    let (short_drives, long_drives) = (short, long);
    let (short, long) = (short_drives.concat(), long_drives.concat());
    let (s, l) = (mean(&short), mean(&long));
    if short.is_empty() || long.is_empty() || !s.is_finite() || !l.is_finite() {
        return None;
    }
    let span = f64::from(LONG_CHUNKS - SHORT_CHUNKS);
    let ms_per_chunk = (l - s) / span;
    let se = mean_error(long_drives)
        .zip(mean_error(short_drives))
        .map(|(l, s)| l.hypot(s) * 1_000.0 / span);
    let paired = short_drives.len() == long_drives.len()
        && short_drives.len() >= 2
        && short_drives
            .iter()
            .chain(long_drives)
            .all(|d| !d.is_empty());
    let drive_us_per_chunk = if paired {
        short_drives
            .iter()
            .zip(long_drives)
            .map(|(s, l)| (mean(l) - mean(s)) * 1_000.0 / span)
            .collect()
    } else {
        Vec::new()
    };
    Some(CpuAtLoad {
        us_per_chunk: ms_per_chunk * 1_000.0,
        us_per_chunk_se: se,
        ms_per_conversation: s,
        ms_per_conversation_fixed: s - ms_per_chunk * f64::from(SHORT_CHUNKS),
        rate_rps: CHUNKS_PER_S / f64::from(SHORT_CHUNKS),
        long_rate_rps: CHUNKS_PER_S / f64::from(LONG_CHUNKS),
        short_chunks: SHORT_CHUNKS,
        long_chunks: LONG_CHUNKS,
        method,
        idle_ms_per_s,
        window_ms_per_conversation: short,
        long_window_ms_per_conversation: long,
        drive_us_per_chunk,
        client_sleeps_per_chunk: None,
    })
}

/// The client's sleeps per text chunk received over every window of `lengths`.
fn sleeps_per_chunk(lengths: &[Windows], chunks: [u32; 2]) -> Option<f64> {
    let sleeps: u64 = lengths.iter().flat_map(|w| &w.client_sleeps).sum();
    let received: f64 = lengths
        .iter()
        .zip(chunks)
        .map(|(w, c)| w.served.iter().sum::<f64>() * f64::from(c))
        .sum();
    (received > 0.0).then(|| sleeps as f64 / received)
}

/// A target with its meter.
#[derive(Debug)]
pub struct Metered<'a> {
    pub target: &'a Arc<Target>,
    pub meter: &'a CpuMeter,
}

/// Measures every metered target in turn; the idle window is taken once, for all of them at
/// the same time (nothing runs then). Returns per target its figures, or why there are none.
pub async fn run(
    targets: &[Metered<'_>],
    mock: &MockProcess,
    http: &reqwest::Client,
    rounds: &RoundPlan,
    plan: &CpuLoadPlan,
    progress: &Progress,
) -> Result<Vec<(String, Result<CpuAtLoad, String>)>> {
    progress.step("CPU at load: idle window".to_owned());
    let before: Vec<Option<u64>> = targets.iter().map(|t| t.meter.read_ns()).collect();
    tokio::time::sleep(plan.window).await;
    let idle: Vec<Option<f64>> = targets
        .iter()
        .zip(before)
        .map(|(t, b)| {
            let d = t.meter.read_ns()?.checked_sub(b?)?;
            Some(d as f64 / plan.window.as_secs_f64())
        })
        .collect();
    let names: Vec<&str> = targets.iter().map(|t| t.target.name.as_str()).collect();
    let groups = twins(&names);
    // Each target's windows per length (0: short, 1: long). Every target's short
    // conversations first, then every target's long ones: each run then drains during the
    // next one's warm-up, which is as long as a long conversation (docs/bench.md#cpu-at-load).
    let mut measured: BTreeMap<(usize, usize), Windows> = BTreeMap::new();
    let mut pending: Option<((usize, usize), Draining)> = None;
    for (length, chunks) in [SHORT_CHUNKS, LONG_CHUNKS].into_iter().enumerate() {
        for group in &groups {
            let driven: Vec<&str> = group.iter().map(|&i| names[i]).collect();
            progress.step(format!(
                "CPU at load, {chunks}-chunk conversations: {}",
                driven.join(", then ")
            ));
            for slot in alternation(group.len(), plan.blocks) {
                let i = group[slot];
                let t = &targets[i];
                let (key, before) = pending.take().unzip();
                let (finished, draining) =
                    drive(t.target, http, rounds, plan, t.meter, chunks, before).await?;
                if let (Some(key), Some(w)) = (key, finished) {
                    measured.entry(key).or_default().extend(w);
                }
                pending = Some(((i, length), draining));
            }
            progress.advance();
        }
    }
    if let Some((key, draining)) = pending {
        measured
            .entry(key)
            .or_default()
            .extend(draining.finish().await?);
    }
    mock.clear_timeline().await?;
    let mut out = Vec::new();
    for group in &groups {
        for &i in group {
            let name = targets[i].target.name.clone();
            let lengths: Vec<Windows> = (0..2)
                .map(|length| measured.remove(&(i, length)).unwrap_or_default())
                .collect();
            let figure = match idle[i] {
                None => Err("the CPU meter could not be read".to_owned()),
                Some(idle_ns_per_s) => target_figures(
                    &lengths,
                    idle_ns_per_s,
                    plan.window,
                    targets[i].meter.method,
                ),
            };
            out.push((name, figure));
        }
    }
    Ok(out)
}

/// One target's figures from its short and long windows.
fn target_figures(
    lengths: &[Windows],
    idle_ns_per_s: f64,
    window: Duration,
    method: CpuMethod,
) -> Result<CpuAtLoad, String> {
    let errors: u64 = lengths.iter().map(|w| w.errors).sum();
    if errors > 0 {
        return Err(format!(
            "{errors} conversations failed at {CHUNKS_PER_S} chunks/s: no CPU figure"
        ));
    }
    let short = per_conversation(&lengths[0], idle_ns_per_s, window);
    let long = per_conversation(&lengths[1], idle_ns_per_s, window);
    figures(&short, &long, idle_ns_per_s / 1e6, method)
        .map(|f| CpuAtLoad {
            client_sleeps_per_chunk: sleeps_per_chunk(lengths, [SHORT_CHUNKS, LONG_CHUNKS]),
            ..f
        })
        .ok_or_else(|| "no window was measured".to_owned())
}

/// The order a group's members are driven in, one at a time: a lone target once; a backend
/// and its clean twin as A B B A, `blocks` times over, so a drift of the machine that is
/// linear over each block's four runs weighs on both alike. Driven at the same time on one core, each changed what the other's
/// chunks cost (the core busier, fewer wake-ups from idle): the burn read 7-10% low with their
/// chunks in step and 10% high half a gap apart (docs/bench.md#cpu-at-load).
fn alternation(members: usize, blocks: usize) -> Vec<usize> {
    match members {
        2 => [0, 1, 1, 0].repeat(blocks.max(1)),
        n => (0..n).collect(),
    }
}

/// The targets in the groups they are measured in, a backend and its clean twin (`NAME+clean`,
/// beside an injection) together, their runs interleaved ([`alternation`]): runs seconds
/// apart drifted by a third on a shared machine (docs/bench.md#cpu-at-load).
fn twins(names: &[&str]) -> Vec<Vec<usize>> {
    let twin_of = |i: usize| (0..names.len()).find(|&j| names[j] == clean_reference(names[i]));
    (0..names.len())
        // A clean twin goes with its backend.
        .filter(|&i| !(0..names.len()).any(|j| twin_of(j) == Some(i)))
        .map(|i| std::iter::once(i).chain(twin_of(i)).collect())
        .collect()
}

/// Steps [`run`] reports for the progress bar.
pub fn steps(targets: usize) -> u64 {
    2 * targets as u64
}

#[cfg(test)]
mod tests;
