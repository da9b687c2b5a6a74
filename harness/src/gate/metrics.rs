//! What the gate judges, read from one run's results.json: per backend, the chunk-transit
//! overhead at p50 and p99, the TTFT overhead, each round by round and normalised within its
//! own run, and the saturation rate (docs/gate.md#metrics).
//!
//! Normalising: a round's overhead (backend − direct path, same round) is divided by the direct
//! path's p50 chunk transit in that round. A machine that is slower or busier stretches both the
//! same way, so the quotient moves with the backend, not with the machine (the A/A runs in
//! docs/gate.md measured how much better this holds than raw microseconds).

use std::collections::BTreeMap;

use contract::results::{BackendResults, LatencyStats, Results, RoundStats};

use contract::results::Hop;

/// The reference every overhead is taken against.
pub use contract::results::stages::DIRECT;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    ChunkOverheadP50,
    ChunkOverheadP99,
    TtftOverheadP50,
    Saturation,
    /// CPU per text chunk at load (µs), head − base (`--against` only; docs/gate.md#cpu-at-load).
    CpuPerChunk,
    /// Conversations per second one core carries, from the same CPU (`--against` only).
    CapacityPerCore,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::ChunkOverheadP50,
        Metric::ChunkOverheadP99,
        Metric::TtftOverheadP50,
        Metric::Saturation,
    ];

    /// What `--against` judges from each round's CPU at load (docs/gate.md#cpu-at-load); the
    /// files' runs, measured apart, do not judge it.
    pub const CPU: [Metric; 2] = [Metric::CpuPerChunk, Metric::CapacityPerCore];

    pub fn name(self) -> &'static str {
        match self {
            Metric::ChunkOverheadP50 => "chunk overhead p50",
            Metric::ChunkOverheadP99 => "chunk overhead p99",
            Metric::TtftOverheadP50 => "TTFT overhead p50",
            Metric::Saturation => "saturation",
            Metric::CpuPerChunk => "CPU per chunk",
            Metric::CapacityPerCore => "capacity per core",
        }
    }

    /// Whether it is read from the rounds' CPU at load.
    pub fn is_cpu(self) -> bool {
        Metric::CPU.contains(&self)
    }

    /// A change of this metric as the reports print it: µs per chunk for the CPU, else a
    /// percentage (of the direct path's p50, or of the capacity).
    pub fn show_change(self, v: f64) -> String {
        match self {
            Metric::CpuPerChunk => format!("{v:+.1} µs"),
            _ => format!("{:+.1}%", v * 100.0),
        }
    }

    /// A change rounded to whole units (thresholds, the rule's message).
    pub fn show_rounded(self, v: f64) -> String {
        match self {
            Metric::CpuPerChunk => format!("{v:+.0} µs"),
            _ => format!("{:+.0}%", v * 100.0),
        }
    }

    /// A figure of one side as the reports print it.
    pub fn show_figure(self, v: f64) -> String {
        match self {
            Metric::CpuPerChunk | Metric::CapacityPerCore | Metric::Saturation => {
                format!("{v:.1}")
            }
            _ => format!("{v:.3}"),
        }
    }

    /// One round's paired change, head against base, pointing the way that is worse: the
    /// difference for a figure where higher is worse (latency overheads, CPU per chunk), the
    /// base's capacity over the head's minus 1 for a capacity (0.25: the head carries a fifth
    /// less). `None` when the head's capacity is not positive.
    pub fn paired_change(self, base: f64, head: f64) -> Option<f64> {
        if self.higher_is_worse() {
            Some(head - base)
        } else {
            (head > 0.0).then(|| base / head - 1.0)
        }
    }

    /// The metric a per-chunk regression moves first, and the one `--against` waits for
    /// (docs/gate.md#metrics); the others are judged by the same rule and reported.
    pub fn is_primary(self) -> bool {
        self == Metric::ChunkOverheadP50
    }

    /// Whether a higher value is worse (latency) or better (capacity).
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, Metric::Saturation | Metric::CapacityPerCore)
    }
}

/// What one round's chunks of one target are summed up by, before the direct path's is
/// subtracted (docs/gate.md#the-per-round-statistic).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    /// A quantile (0.5: the median).
    Quantile(f64),
    /// The mean of the samples left when this share is cut from each end.
    TrimmedMean(f64),
}

impl Statistic {
    /// How the spreads line names it (`p50`, `trimmed mean 25%`).
    pub fn label(self) -> String {
        match self {
            Statistic::Quantile(q) => format!("p{}", (q * 100.0).round()),
            Statistic::TrimmedMean(t) => format!("trimmed mean {}%", (t * 100.0).round()),
        }
    }
}

/// A metric `--against` measures round by round: the hop and the statistic of it whose
/// normalised overhead is compared (a new per-round metric is one more row here).
#[derive(Debug, Clone, Copy)]
pub struct PairedMetric {
    pub metric: Metric,
    pub hop: Hop,
    pub statistic: Statistic,
}

/// What `--against` judges, base against head in the same rounds.
pub const PAIRED: [PairedMetric; 3] = [
    PairedMetric {
        metric: Metric::ChunkOverheadP50,
        hop: Hop::ChunkTransit,
        statistic: Statistic::Quantile(0.5),
    },
    PairedMetric {
        metric: Metric::ChunkOverheadP99,
        hop: Hop::ChunkTransit,
        statistic: Statistic::Quantile(0.99),
    },
    PairedMetric {
        metric: Metric::TtftOverheadP50,
        hop: Hop::Ttft,
        statistic: Statistic::Quantile(0.5),
    },
];

/// One metric of one backend in one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Series {
    /// Normalised overhead per round, by round index.
    Rounds(BTreeMap<u32, f64>),
    /// One figure for the run (saturation has no rounds).
    Single(f64),
}

fn by_round(stats: Option<&LatencyStats>) -> BTreeMap<u32, RoundStats> {
    stats
        .map(|s| s.rounds.iter().map(|r| (r.round, *r)).collect())
        .unwrap_or_default()
}

/// The normalised per-round overheads of `hop` at `quantile` (p50 or p99).
fn overhead_rounds(
    backend: Option<&LatencyStats>,
    direct_hop: Option<&LatencyStats>,
    direct_transit: Option<&LatencyStats>,
    quantile: fn(&RoundStats) -> f64,
) -> Option<Series> {
    let ours = by_round(backend);
    let theirs = by_round(direct_hop);
    let scale = by_round(direct_transit);
    let values: BTreeMap<u32, f64> = ours
        .iter()
        .filter_map(|(round, r)| {
            let d = theirs.get(round)?;
            let s = scale.get(round)?.p50_us;
            (s > 0.0).then(|| (*round, (quantile(r) - quantile(d)) / s))
        })
        .collect();
    (!values.is_empty()).then_some(Series::Rounds(values))
}

/// `metric` of `backend` in `results`, `None` when the run did not measure it.
pub fn series(results: &Results, backend: &str, metric: Metric) -> Option<Series> {
    let b: &BackendResults = results.backends.get(backend)?;
    let direct = results.backends.get(DIRECT)?;
    let transit = direct.latency.chunk_transit.as_ref();
    let p50 = |r: &RoundStats| r.p50_us;
    let p99 = |r: &RoundStats| r.p99_us;
    match metric {
        Metric::ChunkOverheadP50 => {
            overhead_rounds(b.latency.chunk_transit.as_ref(), transit, transit, p50)
        }
        Metric::ChunkOverheadP99 => {
            overhead_rounds(b.latency.chunk_transit.as_ref(), transit, transit, p99)
        }
        Metric::TtftOverheadP50 => overhead_rounds(
            b.latency.ttft.as_ref(),
            direct.latency.ttft.as_ref(),
            transit,
            p50,
        ),
        Metric::Saturation => b.saturation_rps.map(Series::Single),
        // Runs measured apart drift by more than a CPU change worth judging
        // (docs/gate.md#cpu-at-load): only `--against` measures them, paired in its rounds.
        Metric::CpuPerChunk | Metric::CapacityPerCore => None,
    }
}

/// The backends a run measured (every entry with latency, but the references).
pub fn measured_backends(results: &Results) -> Vec<String> {
    results
        .backends
        .iter()
        .filter(|(name, b)| {
            !contract::results::is_reference(name) && b.latency.chunk_transit.is_some()
        })
        .map(|(name, _)| name.clone())
        .collect()
}
