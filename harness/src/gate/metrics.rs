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
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::ChunkOverheadP50,
        Metric::ChunkOverheadP99,
        Metric::TtftOverheadP50,
        Metric::Saturation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::ChunkOverheadP50 => "chunk overhead p50",
            Metric::ChunkOverheadP99 => "chunk overhead p99",
            Metric::TtftOverheadP50 => "TTFT overhead p50",
            Metric::Saturation => "saturation",
        }
    }

    /// The metric a per-chunk regression moves first, and the one `--against` waits for
    /// (docs/gate.md#metrics); the others are judged by the same rule and reported.
    pub fn is_primary(self) -> bool {
        self == Metric::ChunkOverheadP50
    }

    /// Whether a higher value is worse (latency) or better (capacity).
    pub fn higher_is_worse(self) -> bool {
        self != Metric::Saturation
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
