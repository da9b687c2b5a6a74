//! The pacing sweep: chunk overhead over `direct` at concurrency 1 for several provider gaps,
//! because what a chunk costs a reader depends on how long the backend slept before it
//! (docs/bench.md#pacing). Interleaved like the latency rounds: every round runs each target
//! in a fresh order, each at every gap; the overhead is the median over rounds of the target's
//! round median minus `direct`'s, with a bootstrap interval.

use std::collections::BTreeMap;

use anyhow::Result;
use contract::results::{PacingPoint, PacingTarget};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use sut_kit::mock::MockProcess;

use super::rounds::{self, RoundPlan};
use super::target::{DIRECT, Target};
use crate::progress::Progress;
use crate::stats;

/// Provider gaps (ms) of the sweep: from a fast model (1 ms) to a slow one (50 ms); real models
/// stream roughly 10-100 chunks/s. Quick keeps two either side of the bench's 10 ms.
const GAPS_MS: [u64; 5] = [1, 5, 10, 20, 50];
const QUICK_GAPS_MS: [u64; 2] = [5, 20];
/// Rounds, and conversations per target, gap and round: 40 chunk samples a round median
/// (quick: 20, the quick budget; the interval over rounds carries the difference).
const ROUNDS: usize = 6;
const QUICK_ROUNDS: usize = 3;
const PER_ROUND: usize = 2;
const QUICK_PER_ROUND: usize = 1;

/// The gaps and rounds of a run.
#[derive(Debug, Clone)]
pub struct PacingPlan {
    pub gaps_ms: Vec<u64>,
    pub rounds: usize,
    /// Conversations per target, gap and round.
    pub per_round: usize,
}

impl PacingPlan {
    pub fn new(quick: bool) -> Self {
        Self {
            gaps_ms: if quick {
                QUICK_GAPS_MS.to_vec()
            } else {
                GAPS_MS.to_vec()
            },
            rounds: if quick { QUICK_ROUNDS } else { ROUNDS },
            per_round: if quick { QUICK_PER_ROUND } else { PER_ROUND },
        }
    }

    pub fn steps(&self, targets: usize) -> u64 {
        (self.rounds * targets) as u64
    }
}

/// Runs the sweep over `targets`; one entry per gap.
pub async fn run(
    targets: &[std::sync::Arc<Target>],
    mock: &MockProcess,
    http: &reqwest::Client,
    rounds_plan: &RoundPlan,
    plan: &PacingPlan,
    seed: u64,
    progress: &Progress,
) -> Result<Vec<PacingPoint>> {
    // Per gap, per target: each round's median chunk transit (µs).
    let mut medians: BTreeMap<u64, BTreeMap<String, Vec<Option<f64>>>> = BTreeMap::new();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7061_6365);
    for round in 0..plan.rounds {
        let mut order: Vec<&std::sync::Arc<Target>> = targets.iter().collect();
        order.shuffle(&mut rng);
        for target in order {
            progress.step(format!(
                "pacing round {}/{}: {}",
                round + 1,
                plan.rounds,
                target.name
            ));
            let mut gaps = plan.gaps_ms.clone();
            gaps.shuffle(&mut rng);
            for gap in gaps {
                let shape = RoundPlan {
                    gap_ms: gap,
                    ..rounds_plan.clone()
                };
                let mut h = stats::histogram();
                for i in 0..plan.per_round {
                    let tag = format!("p{gap}.{round}.{}.{i}", target.name);
                    let (_, samples) =
                        rounds::converse(http, target, mock, &shape.text(&tag)).await?;
                    for &ns in &samples.chunk_transit {
                        stats::record(&mut h, ns);
                    }
                }
                medians
                    .entry(gap)
                    .or_default()
                    .entry(target.name.clone())
                    .or_default()
                    .push((!h.is_empty()).then(|| stats::quantile_us(&h, 0.5)));
            }
            progress.advance();
        }
        mock.clear_timeline().await?;
    }
    Ok(medians
        .into_iter()
        .map(|(gap_ms, by_target)| PacingPoint {
            gap_ms,
            targets: overheads(&by_target, seed ^ gap_ms),
        })
        .collect())
}

/// Each target's overhead over `direct`, from per-round medians.
fn overheads(
    by_target: &BTreeMap<String, Vec<Option<f64>>>,
    seed: u64,
) -> BTreeMap<String, PacingTarget> {
    let direct = by_target.get(DIRECT);
    by_target
        .iter()
        .filter(|(name, _)| name.as_str() != DIRECT)
        .filter_map(|(name, ours)| {
            let e = stats::paired_difference(ours, direct?, seed)?;
            Some((
                name.clone(),
                PacingTarget {
                    chunk_overhead_p50_us: e.median,
                    chunk_overhead_p50_ci95_us: e.ci95,
                    rounds: e.rounds as u32,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overheads_are_paired_by_round_against_direct() {
        let mut by_target = BTreeMap::new();
        by_target.insert(
            DIRECT.to_owned(),
            vec![Some(100.0), Some(300.0), Some(200.0)],
        );
        by_target.insert("x".to_owned(), vec![Some(150.0), Some(350.0), Some(250.0)]);
        let o = overheads(&by_target, 1);
        assert!(!o.contains_key(DIRECT));
        assert_eq!(o["x"].chunk_overhead_p50_us, 50.0);
        assert_eq!(o["x"].rounds, 3);
    }
}
