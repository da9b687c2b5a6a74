//! How much the bench stage measures, full and `--quick` (docs/bench.md#workload). The pacing is
//! the same in both, so a quick run's figures compare with a full run's; quick only takes fewer
//! samples.

use std::time::Duration;

use super::load::{LoadPlan, SearchBounds, SteadyPlan};
use super::rounds::RoundPlan;

/// 20 chunks, 20 ms to the first, 10 ms apart: the provider's shape (20 chunks) at half its
/// default pace, so a conversation takes ~0.2 s and a round of six targets a few seconds, while
/// the receiver still sleeps between chunks as it does in production.
const CHUNKS: u32 = 20;
const TTFT_MS: u64 = 20;
const GAP_MS: u64 = 10;

/// Full run: 10 rounds of 8 conversations per target: 160 chunk samples a round, enough for a
/// stable round median; 10 round differences for the interval.
const ROUNDS: usize = 10;
const PER_ROUND: usize = 8;
const WARMUP: usize = 10;
/// Quick run: 3 rounds of 4 after 3 warm-up conversations, the most that fits the quick
/// budget (docs/bench.md#the-quick-budget): 3 round differences, whose bootstrap interval is
/// about their range, as 4 gave; 4 a round is also what the gate's looks use (docs/gate.md).
const QUICK_ROUNDS: usize = 3;
const QUICK_PER_ROUND: usize = 4;
const QUICK_WARMUP: usize = 3;
/// A `tool-chain` conversation every round (full), every other round (quick: rounds 1 and 3,
/// the tool turnaround's paired rounds; each one takes as long as three `text` ones).
const TOOL_CHAIN_EVERY: usize = 1;
const QUICK_TOOL_CHAIN_EVERY: usize = 2;

/// The closed-loop sweep (conversations in flight), and its quick subset: only the 100-stream
/// point where peak memory is read (capacity comes from the search, not from these points).
const CLOSED: [usize; 6] = [1, 10, 50, 100, 200, 500];
const QUICK_CLOSED: [usize; 1] = [100];
const POINT: Duration = Duration::from_secs(4);
/// Quick: 1 s, 100 conversations in flight for five conversations' length, enough for the
/// peak memory it is there for.
const QUICK_POINT: Duration = Duration::from_secs(1);
/// The saturation search's runs (docs/bench.md#saturation-by-search): a ramp past one
/// conversation's 0.21 s; windows holding 300 chunks (quick) or 2,000, so the p99 rests on 3 or
/// 20 samples above it (the repeats' interval carries what 3 leave uncertain); a drain past
/// which a queue is far beyond capacity (quick: 1 s, about five conversations' length: one
/// still open then has waited 0.79 s beyond its 0.21 s).
const STEADY: SteadyPlan = SteadyPlan {
    ramp: Duration::from_millis(500),
    min_window: Duration::from_secs(2),
    max_window: Duration::from_secs(4),
    min_window_chunks: 2_000.0,
    drain: Duration::from_secs(3),
};
const QUICK_STEADY: SteadyPlan = SteadyPlan {
    ramp: Duration::from_millis(250),
    min_window: Duration::from_millis(300),
    max_window: Duration::from_secs(1),
    min_window_chunks: 300.0,
    drain: Duration::from_secs(1),
};
/// The search's bounds: 2 to 1,000 conversations/s (40 to 20,000 chunks/s, twice the issue's
/// 10,000 chunks/s for the generator); 20/s for a target with no CPU figure to start from; it
/// stops when failing / healthy is within 10% (quick 25%), or after 8 rates (quick 3: the
/// quick budget; its interval can then be up to 1.5× wide). A rate is decided from 3 repeats
/// or more (quick: 2 when both lie on one side of the limit, docs/bench.md#saturation-by-search).
/// Quick also runs a repeat the generator fell behind on again once, not twice, and runs
/// `direct` once per rate, its run the reference of every repeat there (the quick budget,
/// docs/bench.md#the-quick-budget).
const SEARCH: SearchBounds = SearchBounds {
    min_rps: 2.0,
    max_rps: 1_000.0,
    default_start_rps: 20.0,
    resolution: 1.1,
    max_probes: 8,
    min_repeats: super::search::MIN_REPEATS,
    max_repeats: super::search::MAX_REPEATS,
    generator_retries: super::search::GENERATOR_RETRIES,
    direct_once_per_rate: false,
};
const QUICK_SEARCH: SearchBounds = SearchBounds {
    resolution: 1.25,
    max_probes: 3,
    min_repeats: super::search::QUICK_MIN_REPEATS,
    max_repeats: super::search::QUICK_MAX_REPEATS,
    generator_retries: super::search::QUICK_GENERATOR_RETRIES,
    direct_once_per_rate: true,
    ..SEARCH
};
/// Under `--proofs`, a quick search narrows to the full run's 10% in at most 5 rates: the burn
/// proof sets the observed capacity (its bracket's middle) against a prediction within 15%,
/// which a bracket 25-50% wide cannot resolve (docs/bench.md#proofs).
pub const PROOF_RESOLUTION: f64 = 1.1;
pub const PROOF_MAX_PROBES: usize = 5;
/// Where peak memory is read (the "100-stream point").
const PEAK_MEMORY_CONCURRENCY: usize = 100;

/// Round trips of each socket in the calibration.
const CALIBRATION_SAMPLES: usize = 2_000;
const QUICK_CALIBRATION_SAMPLES: usize = 500;

/// Everything the stage will do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rounds: RoundPlan,
    pub load: Option<LoadPlan>,
    pub calibration_samples: usize,
}

impl Plan {
    /// `rounds` overrides the number of latency rounds; `load` false skips the sweeps.
    pub fn new(quick: bool, rounds: Option<usize>, load: bool, seed: u64) -> Self {
        let pick = |q, full| if quick { q } else { full };
        Self {
            rounds: RoundPlan {
                rounds: rounds.unwrap_or(pick(QUICK_ROUNDS, ROUNDS)).max(1),
                per_round: pick(QUICK_PER_ROUND, PER_ROUND),
                tool_chain_every: pick(QUICK_TOOL_CHAIN_EVERY, TOOL_CHAIN_EVERY),
                warmup: pick(QUICK_WARMUP, WARMUP),
                chunks: CHUNKS,
                ttft_ms: TTFT_MS,
                gap_ms: GAP_MS,
            },
            load: load.then(|| LoadPlan {
                closed: if quick {
                    QUICK_CLOSED.to_vec()
                } else {
                    CLOSED.to_vec()
                },
                duration: if quick { QUICK_POINT } else { POINT },
                steady: if quick { QUICK_STEADY } else { STEADY },
                search: if quick { QUICK_SEARCH } else { SEARCH },
                search_references: !quick,
                peak_memory_concurrency: PEAK_MEMORY_CONCURRENCY,
                seed,
            }),
            calibration_samples: pick(QUICK_CALIBRATION_SAMPLES, CALIBRATION_SAMPLES),
        }
    }
}
