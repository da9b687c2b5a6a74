//! The one statistics module of the harness: percentiles from HdrHistogram, medians, the
//! bootstrap interval, latency from a schedule (coordinated omission), and the shuffled order of
//! interleaved rounds. The method and the reasons for each constant are in docs/bench.md.

use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};

use contract::results::{LatencyStats, RoundStats};

/// Three significant figures: 1 µs resolution up to 1 ms and 0.1% above, finer than anything
/// the shared clock and a two-core machine can resolve (docs/bench.md#overhead).
pub const SIGNIFICANT_FIGURES: u8 = 3;
/// Resamples of the bootstrap: the interval's ends move by well under 1% between seeds at this
/// count, and 10 rounds resample in milliseconds (docs/bench.md#overhead).
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;
/// The interval's coverage: 95%.
pub const CONFIDENCE: f64 = 0.95;
/// The two-sided 95% normal quantile, for intervals that are normal by construction or
/// asymptotically (a soak's Newey-West slope, docs/soak.md#the-fit; a mean of windows,
/// docs/bench.md#the-burn-read).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Student's t two-sided 95% quantiles for 1 to 30 degrees of freedom: a mean over a handful of
/// runs (`bench`'s proofs over runs, docs/proofs-study.md) is far from normal.
const T_95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The two-sided 95% quantile of Student's t with `df` degrees of freedom (past 30, within 2%
/// of the normal's, which it returns). None for 0.
pub fn t_95(df: usize) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T_95[df - 1]),
        _ => Some(Z_95),
    }
}

/// The mean of `values` and its 95% interval from Student's t; None with fewer than two.
pub fn mean_t_interval(values: &[f64]) -> Option<(f64, [f64; 2])> {
    let se = standard_error(values)?;
    let t = t_95(values.len() - 1)?;
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some((mean, [mean - t * se, mean + t * se]))
}

/// The one-sided p-value of a sign test: the chance of `k` or more of `n` fair coin tosses
/// landing one way.
pub fn sign_test_p(k: usize, n: usize) -> f64 {
    let mut tail = 0.0;
    let mut choose = 1.0;
    for i in 0..=n {
        if i >= k {
            tail += choose;
        }
        choose = choose * (n - i) as f64 / (i + 1) as f64;
    }
    tail / 2f64.powi(i32::try_from(n).unwrap_or(i32::MAX))
}

/// The standard error of `values`' mean: the sample standard deviation over √n. None with fewer
/// than two values.
pub fn standard_error(values: &[f64]) -> Option<f64> {
    let n = values.len();
    (n >= 2).then(|| {
        let mean = values.iter().sum::<f64>() / n as f64;
        let variance = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (variance / n as f64).sqrt()
    })
}

/// A histogram of nanoseconds that grows as needed (a stall of minutes still records).
pub fn histogram() -> Histogram<u64> {
    let mut h = Histogram::new(SIGNIFICANT_FIGURES).unwrap_or_else(|e| {
        unreachable!("3 significant figures is a valid precision: {e}");
    });
    h.auto(true);
    h
}

/// Records a duration in nanoseconds; zero (two readings within the clock's resolution) is
/// recorded as 1 ns, since HdrHistogram's lowest bucket starts at 1.
pub fn record(h: &mut Histogram<u64>, ns: u64) {
    // With auto-resize on, recording cannot fail.
    let _ = h.record(ns.max(1));
}

/// Microseconds at quantile `q` of a histogram of nanoseconds.
pub fn quantile_us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1_000.0
}

/// The percentiles of one hop; the overheads are filled by the caller, who knows the rounds.
pub fn latency_stats(h: &Histogram<u64>) -> Option<LatencyStats> {
    if h.is_empty() {
        return None;
    }
    Some(LatencyStats::from_percentiles(
        h.len(),
        quantile_us(h, 0.5),
        quantile_us(h, 0.9),
        quantile_us(h, 0.99),
        quantile_us(h, 0.999),
        h.max() as f64 / 1_000.0,
    ))
}

/// Round `round`'s median and p99.
pub fn round_stats(round: usize, h: &Histogram<u64>) -> Option<RoundStats> {
    (!h.is_empty()).then(|| RoundStats {
        round: u32::try_from(round).unwrap_or(u32::MAX),
        n: h.len(),
        p50_us: quantile_us(h, 0.5),
        p99_us: quantile_us(h, 0.99),
    })
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty
/// or when any value is not a number.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// The value at quantile `q` of sorted values (nearest rank), for the bootstrap's interval.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A percentile-bootstrap [`CONFIDENCE`] interval for the median of `values`: resample with
/// replacement [`BOOTSTRAP_RESAMPLES`] times, take each resample's median, keep the middle 95%.
/// Deterministic for a given `seed`. `None` for fewer than two values.
pub fn bootstrap_median_ci(values: &[f64], seed: u64) -> Option<[f64; 2]> {
    bootstrap_median_ci_with(values, seed, BOOTSTRAP_RESAMPLES)
}

/// [`bootstrap_median_ci`] with a chosen number of resamples.
pub fn bootstrap_median_ci_with(values: &[f64], seed: u64, resamples: usize) -> Option<[f64; 2]> {
    if values.len() < 2 || resamples == 0 || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut resample = vec![0.0; values.len()];
    let mut medians = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for slot in resample.iter_mut() {
            *slot = *values.choose(&mut rng)?;
        }
        medians.push(median_in_place(&mut resample));
    }
    medians.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    Some([
        nearest_rank(&medians, tail),
        nearest_rank(&medians, 1.0 - tail),
    ])
}

/// The median of a non-empty slice of numbers, reordering it (no allocation: the bootstrap
/// takes ten thousand of these per interval).
fn median_in_place(values: &mut [f64]) -> f64 {
    let even = values.len().is_multiple_of(2);
    let mid = values.len() / 2;
    let (lower, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    if even {
        let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (below + *upper) / 2.0
    } else {
        *upper
    }
}

/// Per-round differences `a[i] - b[i]` of the rounds both measured, their median and its
/// bootstrap interval: the estimator of every overhead (docs/bench.md#overhead). Pairing by
/// round cancels what a round's noise did to both.
pub fn paired_difference(a: &[Option<f64>], b: &[Option<f64>], seed: u64) -> Option<Estimate> {
    let diffs: Vec<f64> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| Some((*x)? - (*y)?))
        .collect();
    Some(Estimate {
        median: median(&diffs)?,
        ci95: bootstrap_median_ci(&diffs, seed),
        rounds: diffs.len(),
    })
}

/// A median over rounds and its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub median: f64,
    pub ci95: Option<[f64; 2]>,
    pub rounds: usize,
}

/// Latency of an open-loop request measured from when it was *scheduled* to start, not from
/// when the client got round to sending it: a client that fell behind (a stall) would otherwise
/// hide the wait its own lateness caused (coordinated omission; wrk2's method).
pub fn from_schedule(scheduled_ns: u64, done_ns: u64) -> u64 {
    done_ns.saturating_sub(scheduled_ns)
}

/// The order the targets run in, round by round: each round a fresh shuffle, reproducible from
/// `seed` (recorded in results so a run can be replayed).
pub fn round_orders(targets: &[String], rounds: usize, seed: u64) -> Vec<Vec<String>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..rounds)
        .map(|_| {
            let mut order = targets.to_vec();
            order.shuffle(&mut rng);
            order
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_empty_inputs() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn the_in_place_median_agrees_with_the_sorting_one() {
        for v in [
            vec![5.0, 1.0, 4.0],
            vec![9.0, 2.0, 7.0, 1.0],
            vec![3.0, 3.0],
        ] {
            assert_eq!(
                median_in_place(&mut v.clone()),
                median(&v).unwrap(),
                "{v:?}"
            );
        }
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=40).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 0.025), 1.0);
        assert_eq!(nearest_rank(&v, 0.975), 39.0);
        assert_eq!(nearest_rank(&v, 1.0), 40.0);
        assert_eq!(nearest_rank(&v, 0.0), 1.0);
    }

    #[test]
    fn a_sign_test_counts_the_tail_of_fair_tosses() {
        // Five of five one way: 1/32; four or more of five: 6/32; none or more: certain.
        assert!((sign_test_p(5, 5) - 1.0 / 32.0).abs() < 1e-12);
        assert!((sign_test_p(4, 5) - 6.0 / 32.0).abs() < 1e-12);
        assert!((sign_test_p(0, 7) - 1.0).abs() < 1e-12);
        assert!((sign_test_p(5, 7) - 29.0 / 128.0).abs() < 1e-12);
    }

    #[test]
    fn a_t_interval_is_the_mean_give_or_take_t_standard_errors() {
        let (mean, [lo, hi]) = mean_t_interval(&[98.0, 100.0, 102.0]).unwrap_or_default();
        assert!((mean - 100.0).abs() < 1e-12);
        // SE 2/√3 × 4.303.
        assert!((hi - mean - 4.303 * 2.0 / 3f64.sqrt()).abs() < 1e-9, "{hi}");
        assert!((mean - lo - (hi - mean)).abs() < 1e-9);
        assert_eq!(mean_t_interval(&[1.0]), None);
        assert_eq!(t_95(0), None);
        assert_eq!(t_95(100), Some(Z_95));
    }
}
