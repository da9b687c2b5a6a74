//! CPU at load in `gate --against`'s rounds (docs/gate.md#cpu-at-load). After a round's latency
//! passes, each pair of instances (a backend's head and base, the control's two) is driven
//! **together**, both at the bench's CPU at load rate ([`cpu_load::CHUNKS_PER_S`] in
//! [`cpu_load::SHORT_CHUNKS`]-chunk conversations, evenly spaced, an open loop), the second
//! side's arrivals half an interval after the first's, which side goes first drawn per round.
//! Each instance's process tree is in a cgroup of its own ([`CpuMeter`]), read at the start and
//! the end of one window; its CPU over the window divided by the text chunks the client
//! received in it is the round's CPU per chunk for that side. The two sides of a pair share
//! the window, so what the machine did then it did to both: the paired difference cancels it,
//! as the latency rounds' does.

use std::time::Duration;

use contract::clock::monotonic_ns;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use sut_kit::client;
use tokio::time::Instant;

use crate::cpu_meter::{self, CpuMeter};
use crate::procfs;
use crate::stages::bench::cpu_load::{self, CHUNKS_PER_S, SHORT_CHUNKS};
use crate::stages::bench::observe::Observation;
use crate::stages::bench::rounds::RoundPlan;
use crate::stages::bench::target::Target;

/// Driven before the window opens: the bench's quick warm-up for its CPU at load (past one
/// conversation's length, so the window sees as many conversations in flight as the rate
/// keeps; the round's latency passes have already run the instances' code paths).
pub fn warmup() -> Duration {
    cpu_load::CpuLoadPlan::new(true, false).warmup
}

/// The window each round reads: one of the bench's quick windows (1 s, 20 conversations, 400
/// text chunks a side). Its noise is the rounds' concern, as the sign test counts it; a longer
/// window would take its time from the latency rounds in the same time limit
/// (docs/gate.md#cpu-at-load).
pub fn window() -> Duration {
    cpu_load::CpuLoadPlan::new(true, false).window
}

/// Whether `--against` measures the CPU at load, and whether its verdict counts
/// (docs/gate.md#cpu-at-load).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CpuMode {
    /// Measured and judged; a confirmed regression is a regression (exit 1) like a latency one.
    #[default]
    Judge,
    /// Measured, judged and printed; the exit code is the latency's alone (what CI runs:
    /// docs/gate.md#in-ci).
    Report,
    /// Not measured: the rounds are the latency's alone.
    Off,
}

impl CpuMode {
    /// Whether a verdict on `metric` decides the exit code.
    pub fn counts(self, metric: super::metrics::Metric) -> bool {
        !metric.is_cpu() || self == CpuMode::Judge
    }
}

/// The start of the names of the cgroups the gate's meters create: `<prefix><pid>-...`, so that
/// [`cpu_meter::sweep_stale`] finds those a killed gate left.
pub const CGROUP_PREFIX: &str = "arena-gate-";

/// One side's CPU at load in one round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuRound {
    /// CPU (ms) per conversation's worth of text chunks received in the window.
    pub ms_per_conversation: f64,
    /// Text chunks a conversation has.
    pub chunks: u32,
}

impl CpuRound {
    /// CPU per text chunk, µs: the conversation's CPU spread over its chunks (what the
    /// conversation costs beyond its chunks included: the gate compares sides, and a change
    /// there costs as much per chunk at this length).
    pub fn us_per_chunk(&self) -> f64 {
        self.ms_per_conversation * 1_000.0 / f64::from(self.chunks.max(1))
    }

    /// Conversations per second one core carries at this CPU: one core-second over the CPU per
    /// conversation, as the bench's `capacity.per_core_rps_predicted` (docs/bench.md#capacity).
    pub fn per_core_rps(&self) -> f64 {
        if self.ms_per_conversation > 0.0 {
            1_000.0 / self.ms_per_conversation
        } else {
            0.0
        }
    }
}

/// A meter for each of `targets` (the direct path has no process of its own), in cgroups
/// named for this process and the round.
pub fn meters(targets: &[Target], numbered: usize) -> Vec<(String, CpuMeter)> {
    targets
        .iter()
        .filter_map(|t| {
            let (pgid, extra) = t.tree_source()?;
            let group = format!(
                "{CGROUP_PREFIX}{}-r{numbered}-{}",
                std::process::id(),
                t.name.replace(['@', '+'], "-")
            );
            let meter = CpuMeter::open(
                std::path::Path::new(cpu_meter::CGROUP_ROOT),
                &group,
                move || procfs::tree(pgid, extra),
            );
            Some((t.name.clone(), meter))
        })
        .collect()
}

/// Removes the empty cgroups of gates that are gone; says how many.
pub fn sweep() {
    let swept = cpu_meter::sweep_stale(std::path::Path::new(cpu_meter::CGROUP_ROOT), CGROUP_PREFIX);
    if swept > 0 {
        eprintln!("gate: removed {swept} empty cgroups left by earlier gates");
    }
}

/// Conversations' worth of text chunks received in `[from, to)` (`CLOCK_MONOTONIC` ns).
pub fn served(received: &[u64], from: u64, to: u64, chunks: u32) -> f64 {
    let n = received
        .iter()
        .filter(|&&at| (from..to).contains(&at))
        .count();
    n as f64 / f64::from(chunks.max(1))
}

/// What one side's drive saw: the failed conversations, and when each text chunk arrived.
#[derive(Debug, Default)]
struct Driven {
    errors: u64,
    received: Vec<u64>,
}

/// Sends `target` a conversation every `interval` from `start` until `until` after it, each
/// conversation in flight at once with the others (an open loop), then waits for the last.
async fn drive(
    http: &reqwest::Client,
    target: &Target,
    plan: &RoundPlan,
    start: Instant,
    interval: Duration,
    until: Duration,
    tag: &str,
) -> Driven {
    let mut in_flight = FuturesUnordered::new();
    let mut driven = Driven::default();
    let mut next = 0u32;
    loop {
        let offset = interval * next;
        let sending = offset < until;
        tokio::select! {
            () = tokio::time::sleep_until(start + offset), if sending => {
                let text = plan.text(&format!("{tag}.{next}")).render();
                in_flight.push(async move {
                    client::exchange(target.request(http, &text))
                        .await
                        .map(|answer| Observation::read(&answer, target.kind))
                });
                next += 1;
            }
            Some(done) = in_flight.next(), if !in_flight.is_empty() => match done {
                Ok(seen) if seen.completed() => {
                    driven.received.extend(seen.texts.iter().map(|(at, _)| *at));
                }
                _ => driven.errors += 1,
            },
            else => break,
        }
    }
    driven
}

/// Drives a pair together and reads each side's CPU over the window: `pair[first]`'s arrivals
/// start now, the other's half an interval later (each side's chunks then fall between the
/// other's, whichever side it is). Per side, its round's figure or why it has none.
pub async fn drive_pair(
    http: &reqwest::Client,
    rounds: &RoundPlan,
    pair: [(&Target, &CpuMeter); 2],
    first: usize,
    tag: &str,
) -> [Result<CpuRound, String>; 2] {
    let plan = RoundPlan {
        chunks: SHORT_CHUNKS,
        ..rounds.clone()
    };
    let interval = Duration::from_secs_f64(f64::from(SHORT_CHUNKS) / CHUNKS_PER_S);
    let (warmup, window) = (warmup(), window());
    let start = Instant::now() + Duration::from_millis(10);
    let starts = [0, 1].map(|side| {
        if side == first % 2 {
            start
        } else {
            start + interval / 2
        }
    });
    let tags = pair.map(|(t, _)| format!("{tag}.{}", t.name));
    let sides = futures::future::join(
        drive(
            http,
            pair[0].0,
            &plan,
            starts[0],
            interval,
            warmup + window,
            &tags[0],
        ),
        drive(
            http,
            pair[1].0,
            &plan,
            starts[1],
            interval,
            warmup + window,
            &tags[1],
        ),
    );
    let reads = async {
        let read = || {
            let at = monotonic_ns();
            (at, pair.map(|(_, m)| m.read_ns()))
        };
        tokio::time::sleep_until(start + warmup).await;
        let open = read();
        tokio::time::sleep_until(start + warmup + window).await;
        (open, read())
    };
    let ((a, b), ((from, before), (to, after))) = futures::future::join(sides, reads).await;
    let driven = [a, b];
    [0, 1].map(|side| {
        let d = &driven[side];
        if d.errors > 0 {
            return Err(format!(
                "{} conversations failed at {CHUNKS_PER_S} chunks/s",
                d.errors
            ));
        }
        let (Some(b), Some(a)) = (before[side], after[side]) else {
            return Err("the CPU meter could not be read".to_owned());
        };
        let conversations = served(&d.received, from, to, SHORT_CHUNKS);
        if conversations <= 0.0 {
            return Err("no text chunk arrived in the window".to_owned());
        }
        Ok(CpuRound {
            ms_per_conversation: a.saturating_sub(b) as f64 / conversations / 1e6,
            chunks: SHORT_CHUNKS,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_the_chunks_received_in_it() {
        // 2-chunk conversations: 3 chunks in [10, 20).
        assert_eq!(served(&[5, 10, 12, 19, 20], 10, 20, 2), 1.5);
    }

    #[test]
    fn cpu_per_conversation_gives_cpu_per_chunk_and_capacity_per_core() {
        let r = CpuRound {
            ms_per_conversation: 2.0,
            chunks: 20,
        };
        assert_eq!(r.us_per_chunk(), 100.0);
        assert_eq!(r.per_core_rps(), 500.0);
        // A 100 µs burn on each of 20 chunks doubles the CPU: half the capacity.
        let burnt = CpuRound {
            ms_per_conversation: 4.0,
            ..r
        };
        assert_eq!(burnt.us_per_chunk() - r.us_per_chunk(), 100.0);
        assert_eq!(burnt.per_core_rps(), 250.0);
    }
}
