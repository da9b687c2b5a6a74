//! How much the bench stage measures, full and `--quick` (docs/bench.md#workload). The pacing is
//! the same in both, so a quick run's figures compare with a full run's; quick only takes fewer
//! samples.

use std::time::Duration;

use super::load::LoadPlan;
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
/// Quick run: 6 rounds of 4 (the gate's budget; docs/gate.md).
const QUICK_ROUNDS: usize = 6;
const QUICK_PER_ROUND: usize = 4;
const QUICK_WARMUP: usize = 5;

/// The closed-loop sweep (conversations in flight) the issue asks for, and its quick subset,
/// which keeps the 100-stream point where peak memory is read.
const CLOSED: [usize; 6] = [1, 10, 50, 100, 200, 500];
const QUICK_CLOSED: [usize; 3] = [1, 10, 100];
/// Conversations per second of the open-loop sweep: doubling steps up past where one Node
/// process saturates (about 5,000 chunks/s, 250 conversations/s of 20 chunks).
const OPEN: [f64; 8] = [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 400.0, 800.0];
const QUICK_OPEN: [f64; 3] = [10.0, 50.0, 200.0];
const POINT: Duration = Duration::from_secs(4);
const QUICK_POINT: Duration = Duration::from_secs(2);
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
                open: if quick {
                    QUICK_OPEN.to_vec()
                } else {
                    OPEN.to_vec()
                },
                duration: if quick { QUICK_POINT } else { POINT },
                peak_memory_concurrency: PEAK_MEMORY_CONCURRENCY,
                seed,
            }),
            calibration_samples: pick(QUICK_CALIBRATION_SAMPLES, CALIBRATION_SAMPLES),
        }
    }
}
