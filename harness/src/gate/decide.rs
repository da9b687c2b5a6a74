//! The gate's decision rule (docs/gate.md#the-rule): the change of a metric from the baseline to
//! the current run (latency: the growth of the normalised overhead, in multiples of the direct
//! path's p50; capacity: the relative loss), with a bootstrap 95% interval over rounds; **regression** when
//! the whole interval lies above the threshold, **pass** when it lies below, otherwise **could
//! not judge**. "Change" always points the way that is worse: more overhead, less capacity.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

use super::metrics::{Metric, Series};
use crate::stats::{self, BOOTSTRAP_RESAMPLES, CONFIDENCE};

/// A latency metric regressed when its overhead grew by more than this many direct-path p50s.
/// Above the largest lower interval end of 60 A/A judgements (+0.13), with room for a baseline
/// measured on another day (docs/gate.md#measured).
pub const LATENCY_THRESHOLD: f64 = 0.25;
/// Saturation is one figure per run, read off a coarse ladder of rates (no interval): it
/// regressed when the backend carries less than half the baseline's rate, one ladder step
/// (docs/gate.md#thresholds).
pub const SATURATION_THRESHOLD: f64 = 1.0;
/// CPU per chunk at load regressed when the head's costs this many µs more per text chunk than
/// the base's: a quarter of the 100 µs per chunk, and above the largest lower interval
/// end of the A/A trials (docs/gate.md#cpu-at-load).
pub const CPU_THRESHOLD_US: f64 = 25.0;
/// Capacity per core regressed when the base's carries this much more than the head's (0.10: the
/// head's core carries under 91% of the base's): the share a deployment notices in its bill,
/// above the A/A trials' largest lower interval end (docs/gate.md#cpu-at-load).
pub const CAPACITY_THRESHOLD: f64 = 0.10;

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Pass,
    Regression,
    CouldNotJudge(String),
}

/// The gate's finding on one metric of one backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub backend: String,
    pub metric: Metric,
    /// The medians compared (normalised overheads, or conversations/s).
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// How much worse the current run is, as a fraction (0.3 = 30% worse; negative = better).
    pub change: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub decision: Decision,
}

/// The threshold a metric is held to.
pub fn threshold(metric: Metric) -> f64 {
    match metric {
        Metric::ChunkOverheadP50 | Metric::ChunkOverheadP99 | Metric::TtftOverheadP50 => {
            LATENCY_THRESHOLD
        }
        Metric::Saturation => SATURATION_THRESHOLD,
        Metric::CpuPerChunk => CPU_THRESHOLD_US,
        Metric::CapacityPerCore => CAPACITY_THRESHOLD,
    }
}

/// How much worse `current` is than `baseline`. A latency overhead is already a multiple of
/// its own run's direct-path p50, so its change is the difference (0.5 = half a direct p50 more
/// per chunk), whatever the backend's overhead was: a fixed added delay reads the same on a
/// backend with a large overhead as on one with none (docs/gate.md#the-rule). Capacity changes
/// as a ratio (1.0 = half the baseline's rate).
fn worse_by(metric: Metric, baseline: f64, current: f64) -> Option<f64> {
    metric.paired_change(baseline, current)
}

/// Applies `metric`'s rule to an interval (or a single figure, whose interval is itself).
pub fn rule(metric: Metric, lo: f64, hi: f64) -> Decision {
    let threshold = threshold(metric);
    if lo > threshold {
        Decision::Regression
    } else if hi < threshold {
        Decision::Pass
    } else {
        let show = |v: f64| metric.show_rounded(v);
        Decision::CouldNotJudge(format!(
            "the interval [{}, {}] straddles the {} threshold",
            show(lo),
            show(hi),
            show(threshold)
        ))
    }
}

/// Judges one metric from two runs measured apart (their rounds are resampled independently).
pub fn judge(
    backend: &str,
    metric: Metric,
    baseline: &Series,
    current: &Series,
    seed: u64,
) -> Judgement {
    let mut j = Judgement {
        backend: backend.to_owned(),
        metric,
        baseline: None,
        current: None,
        change: None,
        ci95: None,
        decision: Decision::CouldNotJudge(String::new()),
    };
    match (baseline, current) {
        (Series::Single(a), Series::Single(b)) => {
            j.baseline = Some(*a);
            j.current = Some(*b);
            j.change = worse_by(metric, *a, *b);
            j.decision = match j.change {
                Some(c) => rule(metric, c, c),
                None => Decision::CouldNotJudge("a figure is zero".into()),
            };
        }
        (Series::Rounds(a), Series::Rounds(b)) => {
            let a: Vec<f64> = a.values().copied().collect();
            let b: Vec<f64> = b.values().copied().collect();
            j.baseline = stats::median(&a);
            j.current = stats::median(&b);
            j.change = j
                .baseline
                .zip(j.current)
                .and_then(|(x, y)| worse_by(metric, x, y));
            j.ci95 = bootstrap_change(metric, &a, &b, None, seed);
            j.decision = decide(&j);
        }
        _ => {
            j.decision = Decision::CouldNotJudge("the runs measured it differently".into());
        }
    }
    j
}

/// Judges one metric from base and head measured in the same rounds: each resample keeps a
/// round's two figures together, which cancels what the round did to both.
pub fn judge_paired(
    backend: &str,
    metric: Metric,
    base: &BTreeMap<u32, f64>,
    head: &BTreeMap<u32, f64>,
    seed: u64,
) -> Judgement {
    let rounds: Vec<u32> = base
        .keys()
        .filter(|r| head.contains_key(r))
        .copied()
        .collect();
    let a: Vec<f64> = rounds.iter().map(|r| base[r]).collect();
    let b: Vec<f64> = rounds.iter().map(|r| head[r]).collect();
    let mut j = Judgement {
        backend: backend.to_owned(),
        metric,
        baseline: stats::median(&a),
        current: stats::median(&b),
        change: None,
        ci95: bootstrap_change(metric, &a, &b, Some(()), seed),
        decision: Decision::Pass,
    };
    j.change = j
        .baseline
        .zip(j.current)
        .and_then(|(x, y)| worse_by(metric, x, y));
    j.decision = decide(&j);
    j
}

fn decide(j: &Judgement) -> Decision {
    match (j.change, j.ci95) {
        (Some(_), Some([lo, hi])) => rule(j.metric, lo, hi),
        (None, _) => Decision::CouldNotJudge("the current figure is not positive".into()),
        (Some(_), None) => Decision::CouldNotJudge("fewer than two rounds to resample".into()),
    }
}

/// The percentile-bootstrap interval of the change: resample the rounds of each side (paired:
/// the same rounds for both), take the medians, the change between them; keep the middle 95%.
fn bootstrap_change(
    metric: Metric,
    a: &[f64],
    b: &[f64],
    paired: Option<()>,
    seed: u64,
) -> Option<[f64; 2]> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let indices_a: Vec<usize> = (0..a.len()).collect();
    let indices_b: Vec<usize> = (0..b.len()).collect();
    let mut changes = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let mut ra = vec![0.0; a.len()];
    let mut rb = vec![0.0; b.len()];
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for (i, slot) in ra.iter_mut().enumerate() {
            let k = *indices_a.choose(&mut rng)?;
            *slot = a[k];
            if paired.is_some() {
                rb[i] = b[k];
            }
        }
        if paired.is_none() {
            for slot in rb.iter_mut() {
                *slot = b[*indices_b.choose(&mut rng)?];
            }
        }
        if let Some(c) = worse_by(metric, stats::median(&ra)?, stats::median(&rb)?) {
            changes.push(c);
        }
    }
    if changes.len() < BOOTSTRAP_RESAMPLES / 2 {
        return None;
    }
    changes.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let at = |q: f64| changes[((q * changes.len() as f64) as usize).min(changes.len() - 1)];
    Some([at(tail), at(1.0 - tail)])
}
