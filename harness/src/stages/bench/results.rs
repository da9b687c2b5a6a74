//! What the bench stage writes into results.json: per target, each hop's figures, the load
//! points and saturation, CPU and memory; for the run, how it measured, how noisy the machine
//! was, and the self-check.

use std::collections::BTreeMap;

use contract::results::{
    BackendResults, BenchRun, Calibration, CpuAtLoad, CpuCost, Latency, Memory, Noise, P50P99,
    SelfCheck,
};
use hdrhistogram::Histogram;
use sut_kit::manifest::IpcHop;

use super::figures::{Hop, TargetFigures};
use super::record::{self, HopContext};
use super::rounds::RoundsOutcome;
use super::sweep::SweepOutcome;
use super::target::{DIRECT, RELAY};
use super::{capacity, clean_reference, hlog, search};
use crate::procfs::{self, MemoryUse};
use crate::run_dir::RunDir;
use crate::stats;

/// The self-check passes when the measured change is within this of the injected delay: the
/// accuracy the project asks of its own measurement on this machine (docs/bench.md#self-check).
pub const SELF_CHECK_TOLERANCE_US: f64 = 15.0;

/// Everything the stage measured, to be written.
pub struct Recorded<'a> {
    pub rounds: &'a RoundsOutcome,
    /// Per target: the target its inter-process overhead is taken against, and the hop it adds.
    pub references: &'a BTreeMap<String, (Option<String>, Option<IpcHop>)>,
    pub sweeps: &'a SweepOutcome,
    pub idle_memory: &'a [(String, MemoryUse)],
    pub calibration: &'a Calibration,
    pub injected: &'a [(String, u64)],
    /// `--inject-cpu-us`: backends burning N µs per chunk, beside a clean instance.
    pub injected_cpu: &'a [(String, u64)],
    /// Per target: its CPU at load, or why there is none.
    pub cpu_at_load: &'a [(String, Result<CpuAtLoad, String>)],
    pub load_avg_start: Option<f64>,
    pub seed: u64,
}

fn p50_p99(h: &Histogram<u64>) -> Option<P50P99> {
    (!h.is_empty()).then(|| P50P99 {
        p50: stats::quantile_us(h, 0.5),
        p99: stats::quantile_us(h, 0.99),
    })
}

/// Writes the stage's results into `run` (the caller saves).
pub fn write(run: &mut RunDir, mut bench: BenchRun, r: &Recorded<'_>) -> anyhow::Result<()> {
    // A run holds one bench: what an earlier bench of this run wrote goes, measured here or not.
    for entry in run.results.backends.values_mut() {
        entry.latency = Latency::default();
        entry.load.clear();
        entry.saturation_rps = None;
        entry.saturation_chunks_per_s = None;
        entry.cpu = None;
        entry.cpu_at_load = None;
        entry.capacity = None;
        entry.memory = None;
    }
    let sut_cores = bench
        .confinement
        .as_ref()
        .map_or(1, |c| c.sut_cpus.len().max(1));
    let cpu_of = |name: &str| {
        r.cpu_at_load
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, f)| f.as_ref().ok())
    };
    let points_of = |name: &str| r.sweeps.points.get(name).map_or(&[][..], Vec::as_slice);
    // A target's search and capacity; `one_hop`: the rate where the zero-work relay failed with
    // the load client, not its own core, giving out, past which a backend's failure is not
    // counted (docs/bench.md#the-relay-on-one-core).
    let capacity_with = |name: &str, one_hop: Option<f64>| {
        let found = r.sweeps.searches.get(name).map(|f| match one_hop {
            Some(relay_failing) => capacity::within_one_hop_ceiling(f, relay_failing),
            None => f.clone(),
        });
        let found = found.as_ref();
        let near = found.and_then(|f| capacity::cpu_near_capacity(f, points_of(name)));
        let client =
            found.is_some_and(|f| capacity::client_gave_out(f, points_of(name), points_of(DIRECT)));
        (
            capacity::capacity(found, cpu_of(name), near, sut_cores, client),
            found.and_then(search::Outcome::capacity),
        )
    };
    let relay = capacity_with(RELAY, None).0;
    let one_hop = capacity::one_hop_ceiling(relay.as_ref(), r.sweeps.searches.get(RELAY));
    let one_hop_for = |name: &str| {
        one_hop
            .filter(|_| name != RELAY && name != DIRECT)
            .map(|(_, failing)| failing)
    };
    let capacity_of = |name: &str| capacity_with(name, one_hop_for(name)).0;
    let chunks = bench.settings.chunks;
    // What the CPU at load and the saturation search gave a target.
    let at_load = |entry: &mut BackendResults, name: &str| {
        if name != DIRECT {
            entry.cpu_at_load = cpu_of(name).cloned();
            entry.capacity = capacity_of(name);
        }
        if let Some(points) = r.sweeps.points.get(name) {
            entry.load = points.clone();
        }
        if let (_, Some((rps, _))) = capacity_with(name, one_hop_for(name)) {
            entry.saturation_rps = Some(rps);
            entry.saturation_chunks_per_s = Some(rps * f64::from(chunks));
        }
    };
    for (name, figure) in r.cpu_at_load {
        if let Err(why) = figure {
            eprintln!("bench: {name}: no CPU at load: {why}");
        }
    }
    let figures = &r.rounds.figures;
    let direct = figures.get(DIRECT);
    let hlog_dir = run.path.join("bench");
    std::fs::create_dir_all(&hlog_dir)?;
    for (name, f) in figures {
        // A clean instance exists only to check the injection against: no latency of its
        // own. Beside a CPU burn its CPU at load, capacity and search are what the burn is
        // read against, so they are kept (docs/bench.md#proofs).
        if r.injected_cpu
            .iter()
            .any(|(n, _)| clean_reference(n) == *name)
        {
            at_load(run.results.backend_mut(name), name);
            continue;
        }
        if r.injected.iter().any(|(n, _)| clean_reference(n) == *name) {
            continue;
        }
        let log_path = hlog_dir.join(format!("{name}.hlog"));
        hlog::write(&log_path, name, f, &r.rounds.round_spans)?;
        let log = run.relative(&log_path);
        let reference = r.references.get(name);
        let ctx = HopContext {
            name,
            figures: f,
            direct,
            ipc_reference: reference
                .and_then(|(n, _)| n.as_deref())
                .and_then(|n| Some((n, figures.get(n)?))),
            floor_us: reference
                .and_then(|(_, hop)| *hop)
                .and_then(|hop| record::floor_us(hop, r.calibration)),
        };
        let latency = latency(&ctx, &log);
        let entry = run.results.backend_mut(name);
        entry.latency = latency;
        if f.chunks > 0 && f.conversations > 0 && name != DIRECT {
            entry.cpu = Some(CpuCost {
                ms_per_1000_chunks: f.cpu_ms * 1_000.0 / f.chunks as f64,
                ms_per_conversation: f.cpu_ms / f.conversations as f64,
            });
        }
        at_load(entry, name);
        let idle = r
            .idle_memory
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| *m);
        let peak = r.sweeps.peak_memory.get(name).copied();
        if name != DIRECT && (idle.is_some() || peak.is_some()) {
            entry.memory = Some(Memory {
                rss_idle_bytes: idle.map(|m| m.rss_bytes),
                rss_peak_bytes: peak.map(|m| m.rss_bytes),
                pss_idle_bytes: idle.map(|m| m.pss_bytes),
                pss_peak_bytes: peak.map(|m| m.pss_bytes),
            });
        }
    }
    bench.self_check = self_check(figures, r.injected, r.seed);
    bench.generator = r.sweeps.points.get(DIRECT).and_then(|d| {
        capacity::generator_ceiling(
            d,
            r.sweeps.searches.get(RELAY),
            one_hop,
            chunks,
            r.sweeps.generator_searched,
        )
    });
    bench.cpu_self_check = r
        .injected_cpu
        .iter()
        .filter_map(|(name, us)| {
            let clean = clean_reference(name);
            let ours = (cpu_of(name)?, capacity_of(name));
            let theirs = (cpu_of(&clean)?, capacity_of(&clean));
            Some(capacity::cpu_self_check(
                name,
                *us,
                (ours.0, ours.1.as_ref()),
                (theirs.0, theirs.1.as_ref()),
            ))
        })
        .collect();
    bench.noise = Noise {
        mock_lateness_us: p50_p99(&r.rounds.mock_lateness),
        load_avg_start: r.load_avg_start,
        load_avg_end: procfs::load_average(),
        direct_round_spread: direct.and_then(round_spread),
    };
    run.results.bench = Some(bench);
    Ok(())
}

fn latency(ctx: &HopContext<'_>, log: &str) -> Latency {
    let hop = |h: Hop| {
        let mut s = record::hop_stats(ctx, h)?;
        s.histogram_log = Some(log.to_owned());
        Some(s)
    };
    Latency {
        request_path: hop(Hop::RequestPath),
        chunk_transit: hop(Hop::ChunkTransit),
        tool_turnaround: hop(Hop::ToolTurnaround),
        ttft: hop(Hop::Ttft),
        e2e: hop(Hop::E2e),
        sdk_step: None,
    }
}

/// Max over min of the direct path's round medians of chunk transit: how much the machine
/// moved the floor from round to round.
fn round_spread(direct: &TargetFigures) -> Option<f64> {
    let medians: Vec<f64> = direct
        .per_round(Hop::ChunkTransit, |h| stats::quantile_us(h, 0.5))
        .into_iter()
        .flatten()
        .collect();
    let min = medians.iter().copied().fold(f64::INFINITY, f64::min);
    let max = medians.iter().copied().fold(0.0, f64::max);
    (min > 0.0 && min.is_finite()).then(|| max / min)
}

/// Each injected backend's p50 chunk transit minus its clean instance's, per round.
fn self_check(
    figures: &BTreeMap<String, TargetFigures>,
    injected: &[(String, u64)],
    seed: u64,
) -> Vec<SelfCheck> {
    let p50 = |h: &Histogram<u64>| stats::quantile_us(h, 0.5);
    injected
        .iter()
        .filter_map(|(name, us)| {
            let ours = figures.get(name)?;
            let clean = figures.get(&clean_reference(name))?;
            let e = stats::paired_difference(
                &ours.per_round(Hop::ChunkTransit, p50),
                &clean.per_round(Hop::ChunkTransit, p50),
                seed,
            )?;
            let injected_us = *us as f64;
            Some(SelfCheck {
                backend: name.clone(),
                injected_us,
                measured_us: e.median,
                ci95_us: e.ci95.unwrap_or([e.median, e.median]),
                within_tolerance: (e.median - injected_us).abs() <= SELF_CHECK_TOLERANCE_US,
            })
        })
        .collect()
}
