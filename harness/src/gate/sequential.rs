//! The sequential test of `gate --against` (docs/gate.md#the-sequential-test). Base and head are
//! measured in the same rounds, so each round gives one paired difference (head − base) per
//! metric. The change is the Hodges-Lehmann estimate of their centre; its interval is the exact
//! Wilcoxon signed-rank interval ([`super::signed_rank`]), which assumes the rounds independent
//! and the differences symmetric about their centre (under A/A by exchangeability, the side that
//! starts first and every pass's order drawn per round). The sign-test interval for their
//! median, which assumes no symmetry, is kept as a printed diagnostic ([`median_interval`]).
//! Rounds are added in looks; at most [`MAX_LOOKS`] looks are taken
//! and each look's interval has confidence `1 − ALPHA / MAX_LOOKS` (Bonferroni over looks), so
//! over the whole sequence a metric whose true change sits at the threshold is called a
//! regression with probability at most `ALPHA / 2`, and one truly above it is passed with
//! probability at most `ALPHA / 2`, however early the test stops. Looking more often never buys
//! a false alarm: the number of looks is fixed before the first round.

use std::collections::BTreeMap;

use super::decide::{self, Decision, Judgement};
use super::metrics::Metric;
use super::signed_rank;
use crate::stats;

/// Both error rates of one metric over all looks together (false alarm: `ALPHA / 2`; wrong
/// pass: `ALPHA / 2`), the conventional 5% (docs/gate.md#the-sequential-test).
pub const ALPHA: f64 = 0.05;
/// Looks at most. Eight keeps the per-look confidence at 99.4% (an interval about a quarter
/// wider than a single 95% one) while letting the gate stop as soon as a clear answer is in.
pub const MAX_LOOKS: usize = 8;
/// Rounds before the first look: the fewest for which a 99.4% interval exists is 9
/// (`2 × 0.5⁹ ≤ 0.00625`, for the signed-rank interval as for the sign test's); 10 leaves it
/// inside the extremes (the third Walsh average from each end).
pub const FIRST_LOOK_ROUNDS: usize = 10;
/// Rounds added between looks at most: six (about a minute of rounds on the two-core machine), so
/// that the design's last look (52 rounds) is past what 570 s holds on a quiet machine and the
/// time limit, not the cap, ends a sequence; fewer when the time left holds fewer
/// ([`next_look_rounds`]); the looks stay [`MAX_LOOKS`], so the error rates do not move
/// (docs/gate.md#the-sequential-test).
pub const ROUNDS_PER_LOOK: usize = 6;

/// Rounds the next look adds when `left_s` seconds remain (the confirmation's reserve already
/// taken off) at `per_round_s` a round and `looks_left` looks are left: the rounds that fit,
/// spread over those looks, at least one and at most [`ROUNDS_PER_LOOK`]. `None` when not even
/// one round fits. The error rates do not depend on it: they are a union over at most
/// [`MAX_LOOKS`] looks, each interval valid for whatever rounds it has, and the rounds a look
/// adds follow the clock, not the differences measured (docs/gate.md#the-sequential-test).
pub fn next_look_rounds(left_s: f64, per_round_s: f64, looks_left: usize) -> Option<usize> {
    // NaN paces and times fail both comparisons, and so fit nothing.
    let fits_one = per_round_s > 0.0 && left_s >= per_round_s;
    if looks_left == 0 || !fits_one {
        return None;
    }
    let fits = (left_s / per_round_s).floor() as usize;
    Some(
        fits.div_ceil(looks_left)
            .clamp(1, ROUNDS_PER_LOOK)
            .min(fits),
    )
}

/// The rounds the design measures at most.
pub const fn max_rounds() -> usize {
    FIRST_LOOK_ROUNDS + (MAX_LOOKS - 1) * ROUNDS_PER_LOOK
}

/// Rounds measured when look `look` (0-based) is taken when time is plenty (every look adds
/// [`ROUNDS_PER_LOOK`]).
pub const fn rounds_at_look(look: usize) -> usize {
    FIRST_LOOK_ROUNDS + look * ROUNDS_PER_LOOK
}

/// The error rate each look's two-sided interval is allowed.
pub fn per_look_alpha() -> f64 {
    ALPHA / MAX_LOOKS as f64
}

/// Each look's confidence, as the reports print it (`99.4%`).
pub fn confidence_label() -> String {
    format!("{:.1}%", (1.0 - per_look_alpha()) * 100.0)
}

/// How a backend's paired differences spread, in direct-path p50s (robust: 1.4826 × the median
/// absolute deviation, the standard deviation's estimate that one wild round does not move).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Of the rounds' paired differences.
    pub between_rounds: f64,
    /// Of one round's estimate as its sampling alone would spread it: half the spread of the
    /// difference between its two halves' paired differences (each half has half the chunks,
    /// so twice the variance, and a difference of two has twice again).
    pub within_round: f64,
}

impl Spread {
    /// The share of the round-to-round variance that sampling within a round explains (at most
    /// 1). Near 1: more chunks a round narrow the interval; near 0: only more rounds do
    /// (docs/gate.md#where-a-rounds-time-goes).
    pub fn within_share(&self) -> f64 {
        if self.between_rounds <= 0.0 {
            return 1.0;
        }
        (self.within_round / self.between_rounds).powi(2).min(1.0)
    }
}

fn robust_sd(values: &[f64]) -> Option<f64> {
    let m = stats::median(values)?;
    let deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    Some(1.4826 * stats::median(&deviations)?)
}

/// The spreads from the rounds' paired differences and, per round, the difference between its
/// two halves' paired differences. `None` with fewer than three of either.
pub fn spread(rounds: &[f64], half_differences: &[f64]) -> Option<Spread> {
    if rounds.len() < 3 || half_differences.len() < 3 {
        return None;
    }
    Some(Spread {
        between_rounds: robust_sd(rounds)?,
        within_round: robust_sd(half_differences)? / 2.0,
    })
}

/// P(X ≤ k) for X ~ Binomial(n, 1/2).
fn binomial_half_cdf(n: usize, k: usize) -> f64 {
    let mut term = 0.5f64.powi(n as i32); // C(n, 0) / 2^n
    let mut sum = term;
    for i in 1..=k.min(n) {
        term *= (n + 1 - i) as f64 / i as f64;
        sum += term;
    }
    sum
}

/// The order statistic `k` (1-based) such that `[x(k), x(n+1−k)]` covers the median with
/// confidence at least `1 − alpha`: the largest `k` with `P(X ≤ k − 1) ≤ alpha / 2`.
/// `None` when even the full range is not enough (too few values).
pub fn sign_test_rank(n: usize, alpha: f64) -> Option<usize> {
    let mut best = None;
    for k in 1..=n.div_ceil(2) {
        if binomial_half_cdf(n, k - 1) <= alpha / 2.0 {
            best = Some(k);
        } else {
            break;
        }
    }
    best
}

/// The sign-test interval for the median of `values` at confidence `1 − alpha`.
pub fn median_interval(values: &[f64], alpha: f64) -> Option<[f64; 2]> {
    if values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let k = sign_test_rank(values.len(), alpha)?;
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some([sorted[k - 1], sorted[values.len() - k]])
}

/// The paired differences head − base of the rounds both sides measured.
pub fn paired(metric: Metric, base: &BTreeMap<u32, f64>, head: &BTreeMap<u32, f64>) -> Vec<f64> {
    base.iter()
        .filter_map(|(r, b)| metric.paired_change(*b, *head.get(r)?))
        .collect()
}

/// Judges one metric from base and head measured in the same rounds, at the per-look
/// confidence of the design, by the signed-rank interval of the paired differences
/// ([`signed_rank`]; docs/gate.md#the-sequential-test). `change` is their Hodges-Lehmann
/// estimate head − base (in direct p50s for latency), `baseline`/`current` the two sides'
/// medians.
pub fn judge(
    backend: &str,
    metric: Metric,
    base: &BTreeMap<u32, f64>,
    head: &BTreeMap<u32, f64>,
) -> Judgement {
    let diffs = paired(metric, base, head);
    let a: Vec<f64> = base.values().copied().collect();
    let b: Vec<f64> = head.values().copied().collect();
    let change = signed_rank::estimate(&diffs);
    let ci95 = signed_rank::interval(&diffs, per_look_alpha());
    let decision = match (change, ci95) {
        (_, Some([lo, hi])) => decide::rule(metric, lo, hi),
        _ => Decision::CouldNotJudge(format!(
            "{} paired rounds, too few for an interval at this design's confidence",
            diffs.len()
        )),
    };
    Judgement {
        backend: backend.to_owned(),
        metric,
        baseline: stats::median(&a),
        current: stats::median(&b),
        change,
        ci95,
        decision,
    }
}

/// About how many paired rounds the interval would need to clear the threshold, from the
/// width it has now (an interval narrows as one over the square root of the rounds). The
/// width that counts is the side facing the threshold (from the estimate down to the lower end
/// when the estimate is above it, up to the upper end when below): a sign-test interval is
/// often lopsided, and its far side does not keep it from clearing. `None` when the estimate
/// sits on the threshold (no number of rounds would do).
pub fn rounds_needed(j: &Judgement, rounds: usize) -> Option<usize> {
    let [lo, hi] = j.ci95?;
    let change = j.change?;
    let threshold = decide::threshold(j.metric);
    let gap = (change - threshold).abs();
    if gap <= f64::EPSILON || rounds == 0 {
        return None;
    }
    let half_width = if change > threshold {
        change - lo
    } else {
        hi - change
    };
    let factor = (half_width / gap).powi(2);
    Some(((rounds as f64) * factor).ceil().max(rounds as f64 + 1.0) as usize)
}

/// The verdicts once a second sequence has measured what the first found regressed: a
/// regression stands only when the second, on rounds of its own, judges it a regression too;
/// otherwise it is not confirmed and the gate cannot conclude (docs/gate.md#confirmation).
/// Everything the first did not find regressed keeps the first's verdict.
pub fn confirm(first: &[Judgement], second: &[Judgement]) -> Vec<Judgement> {
    first
        .iter()
        .map(|j| {
            if j.decision != Decision::Regression {
                return j.clone();
            }
            let again = second
                .iter()
                .find(|k| k.backend == j.backend && k.metric == j.metric);
            match again {
                Some(k) if k.decision == Decision::Regression => k.clone(),
                Some(k) => Judgement {
                    decision: Decision::CouldNotJudge(format!(
                        "not confirmed: the first sequence judged it a regression ({}), the \
                         second {}",
                        interval_text(j),
                        match &k.decision {
                            Decision::Pass => format!("a pass ({})", interval_text(k)),
                            _ => format!("could not judge it ({})", interval_text(k)),
                        }
                    )),
                    ..k.clone()
                },
                None => Judgement {
                    decision: Decision::CouldNotJudge(format!(
                        "not confirmed: the first sequence judged it a regression ({}) and no \
                         time was left for the second",
                        interval_text(j)
                    )),
                    ..j.clone()
                },
            }
        })
        .collect()
}

fn interval_text(j: &Judgement) -> String {
    let pct = |v: f64| format!("{:+.1}%", v * 100.0);
    match (j.change, j.ci95) {
        (Some(c), Some([lo, hi])) => format!("{} [{}, {}]", pct(c), pct(lo), pct(hi)),
        (Some(c), None) => pct(c),
        _ => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_that_agree_leave_the_spread_to_the_rounds_and_halves_that_differ_take_it() {
        let rounds = [-1.0, 0.0, 1.0, 2.0, -2.0];
        let agree = spread(&rounds, &[0.0, 0.0, 0.1, -0.1, 0.0]).unwrap();
        assert!(agree.within_share() < 0.05, "{agree:?}");
        let differ = spread(&rounds, &[-4.0, 0.0, 4.0, 2.0, -2.0]).unwrap();
        assert_eq!(differ.within_share(), 1.0, "{differ:?}");
        assert!(spread(&rounds[..2], &[0.0, 1.0, 2.0]).is_none());
    }

    #[test]
    fn binomial_cdf_matches_hand_computed_values() {
        assert!((binomial_half_cdf(12, 1) - 13.0 / 4096.0).abs() < 1e-12);
        assert!((binomial_half_cdf(12, 2) - 79.0 / 4096.0).abs() < 1e-12);
        assert!((binomial_half_cdf(4, 4) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_first_look_has_an_interval_and_fewer_rounds_do_not() {
        let a = per_look_alpha();
        assert_eq!(sign_test_rank(8, a), None, "2 x 0.5^8 > 0.00625");
        assert_eq!(sign_test_rank(9, a), Some(1));
        assert!(sign_test_rank(FIRST_LOOK_ROUNDS, a).is_some());
        // 12 rounds at 99%: P(X <= 1) = 0.0032 <= 0.005 < P(X <= 2) = 0.019.
        assert_eq!(sign_test_rank(12, 0.01), Some(2));
    }

    #[test]
    fn the_interval_covers_the_median_and_narrows_with_rounds() {
        let values: Vec<f64> = (0..38).map(|i| f64::from(i % 19)).collect();
        let [lo, hi] = median_interval(&values, per_look_alpha()).unwrap();
        assert!(lo <= 9.0 && 9.0 <= hi);
        let [lo10, hi10] = median_interval(&values[..10], per_look_alpha()).unwrap();
        assert!(hi10 - lo10 >= hi - lo);
    }

    #[test]
    fn the_next_look_spreads_the_time_left_over_the_looks_left() {
        // The last CI run: 14 rounds' time left after the first look, 10 of them the
        // confirmation's reserve, 7 looks left: four more looks of one round, not none.
        assert_eq!(next_look_rounds(4.2 * 17.5, 17.5, 7), Some(1));
        // Plenty of time: the design's six, so the last look stays at 52 rounds.
        assert_eq!(next_look_rounds(600.0, 10.0, 7), Some(ROUNDS_PER_LOOK));
        // In between, the rounds that fit spread evenly.
        assert_eq!(next_look_rounds(200.0, 10.0, 7), Some(3));
        // Not one round fits, or no look is left.
        assert_eq!(next_look_rounds(9.0, 10.0, 7), None);
        assert_eq!(next_look_rounds(-5.0, 10.0, 7), None);
        assert_eq!(next_look_rounds(600.0, 10.0, 0), None);
    }

    #[test]
    fn the_looks_are_the_designs() {
        assert_eq!(rounds_at_look(0), FIRST_LOOK_ROUNDS);
        assert_eq!(rounds_at_look(MAX_LOOKS - 1), max_rounds());
    }

    fn rounds(values: &[f64]) -> BTreeMap<u32, f64> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u32, *v))
            .collect()
    }

    #[test]
    fn a_paired_shift_well_above_the_threshold_is_a_regression() {
        // Large round-to-round swings that hit both sides alike, and a +0.5 shift on head.
        let base: Vec<f64> = (0..12).map(|i| 1.0 + f64::from(i % 5)).collect();
        let head: Vec<f64> = base
            .iter()
            .enumerate()
            .map(|(i, b)| b + 0.5 + 0.01 * i as f64)
            .collect();
        let j = judge(
            "unix",
            Metric::ChunkOverheadP50,
            &rounds(&base),
            &rounds(&head),
        );
        assert_eq!(j.decision, Decision::Regression);
        let same = judge(
            "unix",
            Metric::ChunkOverheadP50,
            &rounds(&base),
            &rounds(&base),
        );
        assert_eq!(same.decision, Decision::Pass);
        assert_eq!(same.change, Some(0.0));
    }

    #[test]
    fn too_few_rounds_cannot_be_judged_and_an_unsure_one_says_how_many_it_needs() {
        let base = rounds(&[1.0; 5]);
        let j = judge("unix", Metric::ChunkOverheadP50, &base, &base);
        assert!(matches!(j.decision, Decision::CouldNotJudge(_)));
        let diffs: Vec<f64> = (0..10).map(|i| 0.1 + 0.05 * f64::from(i)).collect();
        let head: Vec<f64> = diffs.iter().map(|d| 1.0 + d).collect();
        let j = judge(
            "unix",
            Metric::ChunkOverheadP50,
            &rounds(&[1.0; 10]),
            &rounds(&head),
        );
        assert!(matches!(j.decision, Decision::CouldNotJudge(_)), "{j:?}");
        assert!(rounds_needed(&j, 10).unwrap() > 10);
    }

    #[test]
    fn the_rounds_needed_follow_the_side_of_the_interval_facing_the_threshold() {
        // A study trial's lopsided interval: +43% [+23.5%, +284%] against the 25% threshold.
        // Its lower side (19.8 points) is about the gap (18.3): a few more rounds, not the
        // ~900 the full width would say.
        let j = Judgement {
            change: Some(0.433),
            ci95: Some([0.235, 2.844]),
            decision: Decision::CouldNotJudge("wide".into()),
            ..verdict("rust-only", Decision::Pass)
        };
        let n = rounds_needed(&j, 18).unwrap();
        assert!((19..=25).contains(&n), "{n}");
        // Below the threshold the upper side counts.
        let j = Judgement {
            change: Some(0.0),
            ci95: Some([-3.0, 0.5]),
            ..j
        };
        assert_eq!(rounds_needed(&j, 10), Some(40));
    }

    #[test]
    fn symmetric_noise_at_the_threshold_is_seldom_a_regression_and_at_zero_rarer_still() {
        use rand::{Rng, SeedableRng};
        // The design's looks on differences symmetric about a centre: at the threshold itself
        // (the worst case the error rate is stated for) a sequence may err at most ALPHA / 2
        // over all its looks; heavy tails (a Laplace law) included.
        let mut rng = rand::rngs::StdRng::seed_from_u64(2222);
        let mut draw = |centre: f64| {
            let u: f64 = rng.random_range(-0.5..0.5);
            centre - 0.8 * u.signum() * (1.0 - 2.0 * u.abs()).ln()
        };
        let mut sequence = |centre: f64| {
            let base = rounds(&[0.0; 52]);
            let mut head = Vec::new();
            for look in 0..MAX_LOOKS {
                while head.len() < rounds_at_look(look) {
                    head.push(draw(centre));
                }
                let j = judge("unix", Metric::ChunkOverheadP50, &base, &rounds(&head));
                if !matches!(j.decision, Decision::CouldNotJudge(_)) {
                    return j.decision;
                }
            }
            Decision::CouldNotJudge("last look".into())
        };
        let trials = 1_000;
        let at_threshold = (0..trials)
            .filter(|_| sequence(decide::LATENCY_THRESHOLD) == Decision::Regression)
            .count();
        // ALPHA / 2 = 25 in 1,000; Bonferroni over looks keeps it well under.
        assert!(at_threshold <= 25, "{at_threshold} of {trials}");
        let at_zero = (0..trials)
            .filter(|_| sequence(0.0) == Decision::Regression)
            .count();
        assert!(
            at_zero <= 5 && at_zero <= at_threshold,
            "{at_zero} of {trials}"
        );
        // And the same noise shifted well above the threshold is caught.
        let caught = (0..100)
            .filter(|_| sequence(1.5) == Decision::Regression)
            .count();
        assert!(caught >= 95, "{caught} of 100");
    }

    fn verdict(backend: &str, decision: Decision) -> Judgement {
        Judgement {
            backend: backend.into(),
            metric: Metric::ChunkOverheadP50,
            baseline: Some(1.0),
            current: Some(2.0),
            change: Some(1.0),
            ci95: Some([0.5, 1.5]),
            decision,
        }
    }

    #[test]
    fn a_regression_stands_only_when_the_second_sequence_finds_it_too() {
        let first = vec![
            verdict("unix", Decision::Regression),
            verdict("rust-only", Decision::Pass),
        ];
        let confirmed = confirm(&first, &[verdict("unix", Decision::Regression)]);
        assert_eq!(confirmed[0].decision, Decision::Regression);
        assert_eq!(confirmed[1].decision, Decision::Pass);
        for second in [
            vec![verdict("unix", Decision::Pass)],
            vec![verdict("unix", Decision::CouldNotJudge("wide".into()))],
            vec![],
        ] {
            let j = &confirm(&first, &second)[0];
            assert!(
                matches!(&j.decision, Decision::CouldNotJudge(why) if why.starts_with("not confirmed")),
                "{j:?}"
            );
        }
    }
}
