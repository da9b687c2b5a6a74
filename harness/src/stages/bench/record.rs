//! From samples to results: each hop's percentiles, and its overheads as medians of per-round
//! differences with bootstrap intervals (docs/bench.md#overhead), against the direct path and
//! against the target's in-process equivalent, and as a multiple of the transport's floor.

use contract::results::{Calibration, LatencyStats};
use sut_kit::manifest::IpcHop;

use super::figures::{Hop, TargetFigures};
use super::target::DIRECT;
use crate::stats::{self, Estimate};

/// The floor of one hop in microseconds: a round trip over the socket, or one napi call.
pub fn floor_us(hop: IpcHop, calibration: &Calibration) -> Option<f64> {
    match hop {
        IpcHop::UnixSocket => calibration.uds_rtt_us.map(|r| r.p50),
        IpcHop::LoopbackTcp => calibration.tcp_rtt_us.map(|r| r.p50),
        IpcHop::NapiCall => calibration.napi_call_ns.map(|ns| ns / 1_000.0),
    }
}

/// A seed per (target, hop), so every interval is reproducible and no two share resamples.
fn seed(target: &str, hop: Hop) -> u64 {
    // FNV-1a: a stable hash; std's hasher may change between Rust releases.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in target.bytes().chain([hop as u8]) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn p50(h: &hdrhistogram::Histogram<u64>) -> f64 {
    stats::quantile_us(h, 0.5)
}

fn p99(h: &hdrhistogram::Histogram<u64>) -> f64 {
    stats::quantile_us(h, 0.99)
}

/// The per-round difference of `quantile` between two targets on `hop`.
fn difference(
    ours: &TargetFigures,
    theirs: &TargetFigures,
    hop: Hop,
    quantile: fn(&hdrhistogram::Histogram<u64>) -> f64,
    seed: u64,
) -> Option<Estimate> {
    stats::paired_difference(
        &ours.per_round(hop, quantile),
        &theirs.per_round(hop, quantile),
        seed,
    )
}

/// What the results say about one target's hop: percentiles, per-round figures, and the
/// overheads where a reference was measured in the same rounds.
pub struct HopContext<'a> {
    pub name: &'a str,
    pub figures: &'a TargetFigures,
    pub direct: Option<&'a TargetFigures>,
    /// The in-process equivalent, its name and figures.
    pub ipc_reference: Option<(&'a str, &'a TargetFigures)>,
    pub floor_us: Option<f64>,
}

/// The results entry of one hop, `None` when the target has no sample of it.
pub fn hop_stats(ctx: &HopContext<'_>, hop: Hop) -> Option<LatencyStats> {
    let mut stats = stats::latency_stats(ctx.figures.total.get(hop))?;
    stats.rounds = ctx
        .figures
        .rounds
        .iter()
        .enumerate()
        .filter_map(|(i, r)| stats::round_stats(i, r.get(hop)))
        .collect();
    if let Some(direct) = ctx.direct.filter(|_| ctx.name != DIRECT) {
        if let Some(e) = difference(ctx.figures, direct, hop, p50, seed(ctx.name, hop)) {
            stats.overhead_p50_us = Some(e.median);
            stats.overhead_p50_ci95_us = e.ci95;
        }
        if let Some(e) = difference(ctx.figures, direct, hop, p99, seed(ctx.name, hop) ^ 1) {
            stats.overhead_p99_us = Some(e.median);
            stats.overhead_p99_ci95_us = e.ci95;
        }
    }
    if let Some((reference, figures)) = ctx.ipc_reference
        && let Some(e) = difference(ctx.figures, figures, hop, p50, seed(ctx.name, hop) ^ 2)
    {
        stats.ipc_overhead_p50_us = Some(e.median);
        stats.ipc_overhead_p50_ci95_us = e.ci95;
        stats.ipc_reference = Some(reference.to_owned());
        // A multiple of the transport's floor describes a cost; a backend that measured faster
        // than its in-process equivalent (napi's Rust HTTP server against Node's) has none to
        // express, and "-2,800x" would read as a figure.
        stats.ipc_floor_multiple = ctx
            .floor_us
            .filter(|f| *f > 0.0 && e.median > 0.0)
            .map(|floor| e.median / floor);
    }
    Some(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::bench::observe::{Observation, Samples};

    fn figures(rounds: &[&[u64]]) -> TargetFigures {
        let mut f = TargetFigures::default();
        for (round, transits) in rounds.iter().enumerate() {
            let samples = Samples {
                chunk_transit: transits.to_vec(),
                ..Samples::default()
            };
            f.add(round, &Observation::default(), &samples);
        }
        f
    }

    #[test]
    fn overheads_are_medians_of_per_round_differences() {
        // Round 2 is slow for everyone: pairing by round cancels it.
        let direct = figures(&[&[100_000; 5], &[400_000; 5], &[100_000; 5]]);
        let unix = figures(&[&[150_000; 5], &[450_000; 5], &[160_000; 5]]);
        let ctx = HopContext {
            name: "unix",
            figures: &unix,
            direct: Some(&direct),
            ipc_reference: Some((DIRECT, &direct)),
            floor_us: Some(10.0),
        };
        let s = hop_stats(&ctx, Hop::ChunkTransit).unwrap();
        let overhead = s.overhead_p50_us.unwrap();
        assert!((overhead - 50.0).abs() < 0.5, "{overhead}");
        let [lo, hi] = s.overhead_p50_ci95_us.unwrap();
        assert!(lo <= overhead && overhead <= hi && hi < 61.0, "{lo} {hi}");
        assert!((s.ipc_floor_multiple.unwrap() - 5.0).abs() < 0.1);
        assert_eq!(s.rounds.len(), 3);
        assert_eq!(s.n, 15);
        assert!(hop_stats(&ctx, Hop::ToolTurnaround).is_none());
    }

    #[test]
    fn a_backend_faster_than_its_reference_has_no_floor_multiple() {
        let reference = figures(&[&[150_000; 5], &[150_000; 5]]);
        let napi = figures(&[&[120_000; 5], &[125_000; 5]]);
        let ctx = HopContext {
            name: "napi",
            figures: &napi,
            direct: Some(&reference),
            ipc_reference: Some(("aisdk-node", &reference)),
            floor_us: Some(0.05),
        };
        let s = hop_stats(&ctx, Hop::ChunkTransit).unwrap();
        assert!(s.ipc_overhead_p50_us.unwrap() < 0.0);
        assert_eq!(s.ipc_floor_multiple, None);
    }
}
