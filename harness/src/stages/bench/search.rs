//! Saturation by search: the arrival rate is bisected between the highest rate found healthy
//! and the lowest found failing, each decision taken from at least [`MIN_REPEATS`] interleaved
//! repeats of the target and `direct` at the same rate, on a bootstrap interval of the p99
//! chunk overhead (target − direct, paired by repeat). A repeat the generator fell behind on
//! (judged from its own mock lateness and client lag, and from `direct` keeping the offered
//! rate) is run again, not dropped; a rate at which the generator stays behind is the
//! generator's ceiling, and the backend's figure below it is a lower bound
//! (docs/bench.md#saturation-by-search).
//!
//! The logic is here, apart from the load it drives, so synthetic targets can test it.

use std::future::Future;

use anyhow::Result;

use super::load::SATURATION_P99_LIMIT_US;
use crate::stats;

/// Fewest repeats a decision rests on in a full run: the three
/// (docs/bench.md#saturation-by-search). A quick run decides from two when both lie on the same
/// side of the limit, and takes more while they straddle it ([`SearchPlan::min_repeats`]).
pub const MIN_REPEATS: usize = 3;
/// A quick run's fewest: two repeats on one side of the limit (their interval is the two
/// values), the quick budget's share of the search (docs/architecture.md#budgets).
pub const QUICK_MIN_REPEATS: usize = 2;
/// Repeats added, one at a time, while the interval straddles the limit; at this many the
/// median decides: two more runs cost ~3 s, and a rate whose interval still straddles the limit
/// is within the search's resolution of the capacity anyway.
pub const MAX_REPEATS: usize = 5;
/// A quick run's most: the median of three decides a rate whose two first repeats straddle the
/// limit (in the quick runs measured, such a rate took 5 repeats, a third of a search's time).
pub const QUICK_MAX_REPEATS: usize = 3;
/// A run keeps the offered rate when the chunks it received inside its steady window reach
/// this share of what was offered there (the "within 5%"); below it a queue grew.
pub const ACHIEVED_SHARE: f64 = 0.95;
/// Times a repeat the generator fell behind on is run again before the rate is taken as past
/// the generator's ceiling: a burst of other work on the machine clears within two more runs,
/// a generator at its ceiling stays behind (docs/bench.md#saturation-by-search).
pub const GENERATOR_RETRIES: u32 = 2;
/// A quick run's: one. Each retry is two more runs, and in the quick runs measured the retried
/// repeats came in bursts of the machine's other work, where the second retry was behind too
/// (docs/bench.md#the-quick-budget).
pub const QUICK_GENERATOR_RETRIES: u32 = 1;
/// When the target fails with no healthy rate known, the next rate tried is this many times
/// lower; when it is healthy with no failing rate known, this many times higher. Down fast
/// (a rate far above capacity takes long to drain), up in smaller steps.
const SHRINK: f64 = 2.0;
const EXPAND: f64 = 1.5;

/// How far the search goes.
#[derive(Debug, Clone)]
pub struct SearchPlan {
    /// The first rate tried (conversations/s).
    pub start_rps: f64,
    /// No rate below this or above that is tried.
    pub min_rps: f64,
    pub max_rps: f64,
    /// Stop once failing / healthy is at most this ratio: the interval's width.
    pub resolution: f64,
    /// Rates tried at most.
    pub max_probes: usize,
    /// Repeats a rate takes before it may be decided, and at most (where the median decides);
    /// the most is capped at [`MAX_REPEATS`].
    pub min_repeats: usize,
    pub max_repeats: usize,
    /// Times a repeat the generator fell behind on is run again ([`GENERATOR_RETRIES`]).
    pub generator_retries: u32,
}

/// One target's run at one rate, over its steady window.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// p99 chunk transit (µs) of the conversations started in the window.
    pub p99_us: Option<f64>,
    /// Chunks received inside the window / chunks offered there.
    pub achieved_share: f64,
    /// An error, a lost or a reordered chunk.
    pub failed: bool,
    /// The mock's send lateness went over the stage's limit.
    pub generator_behind: bool,
}

impl Run {
    /// The generator kept the rate: on schedule, and (for `direct`, which adds nothing) the
    /// offered rate achieved with no failure.
    pub fn generator_kept_up(&self, is_direct: bool) -> bool {
        !self.generator_behind
            && (!is_direct || (!self.failed && self.achieved_share >= ACHIEVED_SHARE))
    }
}

/// The target and `direct` at one rate, run back to back in a random order.
#[derive(Debug, Clone, PartialEq)]
pub struct Repeat {
    pub target: Run,
    pub direct: Run,
}

impl Repeat {
    /// The generator kept the rate in both runs.
    pub fn generator_kept_up(&self) -> bool {
        self.direct.generator_kept_up(true) && self.target.generator_kept_up(false)
    }

    /// p99 chunk overhead of this repeat: the target's minus `direct`'s.
    fn overhead_us(&self) -> Option<f64> {
        Some(self.target.p99_us? - self.direct.p99_us?)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within capacity: the interval of the p99 overhead lies under the limit (or the median,
    /// after [`MAX_REPEATS`]), no failure, the offered rate achieved.
    Healthy,
    /// Past capacity.
    Failing,
    /// The generator stayed behind after its retries: the rate says nothing of the target.
    GeneratorBehind,
}

/// A rate tried, and what was decided there.
#[derive(Debug, Clone)]
pub struct Decision {
    pub rate: f64,
    pub verdict: Verdict,
    /// Median over repeats of the p99 chunk overhead, and its bootstrap interval.
    pub overhead_p99_us: Option<f64>,
    pub ci95_us: Option<[f64; 2]>,
    pub repeats: Vec<Repeat>,
    /// Runs repeated because the generator fell behind.
    pub retries: u32,
}

/// Where the search ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub decisions: Vec<Decision>,
    /// The highest rate decided healthy, the lowest decided failing, the lowest at which the
    /// generator stayed behind.
    pub healthy: Option<f64>,
    pub failing: Option<f64>,
    pub generator_limit: Option<f64>,
}

impl Outcome {
    /// The capacity (conversations/s): between the highest healthy rate and the lowest failing
    /// one, at their geometric middle, with the two as its interval; when nothing failed, the
    /// highest healthy rate, a lower bound (generator-bound).
    pub fn capacity(&self) -> Option<(f64, Option<[f64; 2]>)> {
        let lo = self.healthy?;
        Some(match self.failing {
            Some(hi) if !self.generator_bound() => ((lo * hi).sqrt(), Some([lo, hi])),
            _ => (lo, None),
        })
    }

    /// Still healthy at the highest rate the generator (or the plan) allowed: nothing failed,
    /// or only above a rate where the generator already fell behind (that failure may be the
    /// generator's as much as the target's).
    pub fn generator_bound(&self) -> bool {
        self.healthy.is_some()
            && match (self.failing, self.generator_limit) {
                (None, _) => true,
                (Some(f), Some(g)) => g < f,
                (Some(_), None) => false,
            }
    }
}

/// Decides a rate from its repeats; `None` while the interval straddles the limit and more
/// repeats are allowed.
pub fn decide(repeats: &[Repeat], seed: u64, final_call: bool) -> Option<(Verdict, Estimate)> {
    let overheads: Vec<f64> = repeats.iter().filter_map(Repeat::overhead_us).collect();
    let estimate = Estimate {
        median: stats::median(&overheads),
        ci95: stats::bootstrap_median_ci(&overheads, seed),
    };
    if repeats.iter().any(|r| !r.generator_kept_up()) {
        return Some((Verdict::GeneratorBehind, estimate));
    }
    let achieved: Vec<f64> = repeats.iter().map(|r| r.target.achieved_share).collect();
    let kept_rate = stats::median(&achieved).is_some_and(|a| a >= ACHIEVED_SHARE);
    if repeats.iter().any(|r| r.target.failed) || !kept_rate {
        return Some((Verdict::Failing, estimate));
    }
    let verdict = |v: f64| {
        if v < SATURATION_P99_LIMIT_US {
            Verdict::Healthy
        } else {
            Verdict::Failing
        }
    };
    match (estimate.ci95, estimate.median) {
        (_, None) => Some((Verdict::Failing, estimate)),
        (Some([lo, hi]), Some(_)) if verdict(lo) == verdict(hi) => Some((verdict(hi), estimate)),
        (_, Some(median)) if final_call => Some((verdict(median), estimate)),
        _ => None,
    }
}

/// The median p99 overhead over repeats and its interval.
#[derive(Debug, Clone, Copy, Default)]
pub struct Estimate {
    pub median: Option<f64>,
    pub ci95: Option<[f64; 2]>,
}

/// Runs one rate: `min_repeats` repeats (each run again up to `generator_retries` times
/// while the generator fell behind on it), more while undecided.
async fn probe<F, Fut>(
    rate: f64,
    (min_repeats, max_repeats): (usize, usize),
    generator_retries: u32,
    seed: u64,
    measure: &mut F,
) -> Result<Decision>
where
    F: FnMut(f64) -> Fut,
    Fut: Future<Output = Result<Repeat>>,
{
    let mut repeats = Vec::new();
    let mut retries = 0;
    loop {
        let mut repeat = measure(rate).await?;
        let mut tries = 0;
        while !repeat.generator_kept_up() && tries < generator_retries {
            tries += 1;
            repeat = measure(rate).await?;
        }
        retries += tries;
        repeats.push(repeat);
        if repeats.len() < min_repeats && repeats.last().is_some_and(Repeat::generator_kept_up) {
            continue;
        }
        if let Some((verdict, e)) = decide(&repeats, seed, repeats.len() >= max_repeats) {
            return Ok(Decision {
                rate,
                verdict,
                overhead_p99_us: e.median,
                ci95_us: e.ci95,
                repeats,
                retries,
            });
        }
    }
}

/// Searches one target's capacity; `measure(rate)` runs one repeat at `rate`.
pub async fn search<F, Fut>(plan: &SearchPlan, seed: u64, mut measure: F) -> Result<Outcome>
where
    F: FnMut(f64) -> Fut,
    Fut: Future<Output = Result<Repeat>>,
{
    let mut out = Outcome::default();
    let mut rate = plan.start_rps.clamp(plan.min_rps, plan.max_rps);
    for i in 0..plan.max_probes {
        let max_repeats = plan.max_repeats.clamp(1, MAX_REPEATS);
        let repeats = (plan.min_repeats.clamp(1, max_repeats), max_repeats);
        let decision = probe(
            rate,
            repeats,
            plan.generator_retries,
            seed ^ i as u64,
            &mut measure,
        )
        .await?;
        let slot = match decision.verdict {
            Verdict::Healthy => &mut out.healthy,
            Verdict::Failing => &mut out.failing,
            Verdict::GeneratorBehind => &mut out.generator_limit,
        };
        *slot = Some(match (*slot, decision.verdict) {
            (Some(r), Verdict::Healthy) => r.max(rate),
            (Some(r), _) => r.min(rate),
            (None, _) => rate,
        });
        out.decisions.push(decision);
        let upper = match (out.failing, out.generator_limit) {
            (Some(f), Some(g)) => Some(f.min(g)),
            (f, g) => f.or(g),
        };
        let next = match (out.healthy, upper) {
            (None, Some(u)) => u / SHRINK,
            (Some(l), None) => (l * EXPAND).min(plan.max_rps),
            (Some(l), Some(u)) if u / l > plan.resolution => (l * u).sqrt(),
            _ => break,
        };
        if next < plan.min_rps || out.decisions.iter().any(|d| d.rate == next) {
            break;
        }
        rate = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn run(p99_us: f64) -> Run {
        Run {
            p99_us: Some(p99_us),
            achieved_share: 1.0,
            failed: false,
            generator_behind: false,
        }
    }

    /// Noise on every synthetic run's p99.
    const NOISE: f64 = 0.3;

    /// A target whose p99 overhead climbs past the limit at `capacity` conversations/s (as the
    /// cube of the rate), with ±[`NOISE`] on every run, behind a generator that keeps up to
    /// `ceiling`.
    fn synthetic(
        capacity: f64,
        ceiling: f64,
        seed: u64,
    ) -> impl FnMut(f64) -> std::future::Ready<Result<Repeat>> {
        let mut rng = StdRng::seed_from_u64(seed);
        move |rate: f64| {
            let noise = 1.0 + rng.random_range(-NOISE..NOISE);
            // 2 ms at half the capacity, 10 ms (the limit) at it, growing past it.
            let p99 = SATURATION_P99_LIMIT_US * (rate / capacity).powi(3) * noise;
            let mut direct = run(50.0);
            direct.generator_behind = rate > ceiling;
            let mut target = run(50.0 + p99);
            target.achieved_share = if rate > capacity * 1.3 { 0.8 } else { 1.0 };
            std::future::ready(Ok(Repeat { target, direct }))
        }
    }

    fn plan(start: f64) -> SearchPlan {
        SearchPlan {
            start_rps: start,
            min_rps: 2.0,
            max_rps: 2_000.0,
            resolution: 1.25,
            max_probes: 10,
            min_repeats: MIN_REPEATS,
            max_repeats: MAX_REPEATS,
            generator_retries: GENERATOR_RETRIES,
        }
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_known_capacity_is_found_within_its_interval() {
        for (capacity, start) in [(60.0, 20.0), (60.0, 400.0), (300.0, 50.0), (12.0, 100.0)] {
            for seed in 0..5 {
                let out =
                    block_on(search(&plan(start), seed, synthetic(capacity, 1e9, seed))).unwrap();
                let (observed, ci) = out.capacity().unwrap();
                let [lo, hi] = ci.unwrap();
                // The noise blurs the capacity into a band: every run fails above its top,
                // none below its bottom. The interval must meet that band.
                let band = [
                    capacity / (1.0 + NOISE).cbrt(),
                    capacity / (1.0 - NOISE).cbrt(),
                ];
                assert!(
                    lo <= band[1] && band[0] <= hi && hi / lo <= 1.25,
                    "capacity {capacity} from {start}: {observed} in [{lo}, {hi}]"
                );
                assert!(!out.generator_bound());
                assert!(out.decisions.iter().all(|d| d.repeats.len() >= MIN_REPEATS));
            }
        }
    }

    #[test]
    fn a_target_healthy_past_the_generator_ceiling_is_generator_bound() {
        let out = block_on(search(&plan(50.0), 1, synthetic(5_000.0, 180.0, 1))).unwrap();
        assert!(out.generator_bound());
        let (observed, ci) = out.capacity().unwrap();
        assert!(ci.is_none());
        assert!((180.0 / 1.25..=180.0).contains(&observed), "{observed}");
        assert!(out.generator_limit.is_some_and(|g| g > 180.0));
    }

    #[test]
    fn a_failure_above_where_the_generator_fell_behind_is_no_upper_bound() {
        let out = Outcome {
            healthy: Some(50.0),
            failing: Some(400.0),
            generator_limit: Some(100.0),
            ..Outcome::default()
        };
        assert!(out.generator_bound());
        assert_eq!(out.capacity(), Some((50.0, None)));
        let out = Outcome {
            generator_limit: Some(800.0),
            ..out
        };
        assert!(!out.generator_bound());
        assert_eq!(
            out.capacity(),
            Some(((50.0f64 * 400.0).sqrt(), Some([50.0, 400.0])))
        );
    }

    #[test]
    fn a_repeat_the_generator_fell_behind_on_is_run_again_not_dropped() {
        // Every other run the generator falls behind (a burst of other work); the target is
        // healthy at every rate below 100.
        let mut runs = 0;
        let measure = move |rate: f64| {
            runs += 1;
            let mut direct = run(50.0);
            direct.generator_behind = runs % 2 == 1;
            let target = run(if rate < 100.0 { 500.0 } else { 50_000.0 });
            std::future::ready(Ok(Repeat { target, direct }))
        };
        let out = block_on(search(&plan(40.0), 3, measure)).unwrap();
        let first = &out.decisions[0];
        assert_eq!(first.verdict, Verdict::Healthy);
        assert_eq!(
            first.repeats.len(),
            MIN_REPEATS,
            "each kept repeat counted once"
        );
        assert_eq!(
            first.retries, MIN_REPEATS as u32,
            "each flagged run retried"
        );
        assert!(out.generator_limit.is_none());
        let [lo, hi] = out.capacity().unwrap().1.unwrap();
        assert!(lo < 100.0 && 100.0 <= hi);
    }

    #[test]
    fn a_generator_that_stays_behind_caps_the_search() {
        let measure = |rate: f64| {
            let mut direct = run(50.0);
            direct.achieved_share = if rate > 100.0 { 0.7 } else { 1.0 };
            std::future::ready(Ok(Repeat {
                target: run(60.0),
                direct,
            }))
        };
        let out = block_on(search(&plan(400.0), 0, measure)).unwrap();
        assert_eq!(out.decisions[0].verdict, Verdict::GeneratorBehind);
        assert_eq!(out.decisions[0].retries, GENERATOR_RETRIES);
        assert!(out.generator_bound());
        assert!(
            out.healthy
                .is_some_and(|h| (100.0 / 1.25..=100.0).contains(&h))
        );
    }

    #[test]
    fn a_quick_decision_takes_two_repeats_on_one_side_and_more_across_the_limit() {
        let quick = SearchPlan {
            min_repeats: QUICK_MIN_REPEATS,
            max_repeats: QUICK_MAX_REPEATS,
            generator_retries: QUICK_GENERATOR_RETRIES,
            max_probes: 1,
            ..plan(40.0)
        };
        // Both repeats well under the limit: decided from two.
        let out = block_on(search(&quick, 0, |_| {
            std::future::ready(Ok(Repeat {
                target: run(1_000.0),
                direct: run(0.0),
            }))
        }))
        .unwrap();
        assert_eq!(out.decisions[0].verdict, Verdict::Healthy);
        assert_eq!(out.decisions[0].repeats.len(), QUICK_MIN_REPEATS);
        // One under, one over: a third, whose median decides.
        let mut p99s = [8_000.0, 12_000.0, 9_000.0, 11_000.0, 9_500.0].into_iter();
        let out = block_on(search(&quick, 0, move |_| {
            std::future::ready(Ok(Repeat {
                target: run(p99s.next().unwrap_or(9_500.0)),
                direct: run(0.0),
            }))
        }))
        .unwrap();
        assert_eq!(out.decisions[0].repeats.len(), QUICK_MAX_REPEATS);
        assert_eq!(out.decisions[0].verdict, Verdict::Healthy, "median 9 ms");
    }

    #[test]
    fn an_interval_straddling_the_limit_takes_more_repeats() {
        let p99s = [8_000.0, 12_000.0, 9_000.0, 11_000.0, 9_500.0];
        let repeats: Vec<Repeat> = p99s
            .iter()
            .map(|&p| Repeat {
                target: run(p),
                direct: run(0.0),
            })
            .collect();
        assert!(decide(&repeats[..3], 0, false).is_none());
        let (verdict, e) = decide(&repeats, 0, true).unwrap();
        assert_eq!(verdict, Verdict::Healthy, "median 9.5 ms: {e:?}");
        let mut failed = repeats[..3].to_vec();
        failed[1].target.failed = true;
        assert_eq!(decide(&failed, 0, false).unwrap().0, Verdict::Failing);
    }
}
