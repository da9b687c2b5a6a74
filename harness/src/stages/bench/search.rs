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
pub const EXPAND: f64 = 1.5;

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
    /// A rate already found healthy before this search, under `start_rps`: where the first
    /// rate is past the limit, the search bisects toward it rather than halving (the
    /// generator's own search starts above where `direct` kept up). Not a decision of this
    /// search: the outcome does not count it.
    pub known_healthy: Option<f64>,
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
    /// The load client's start lag went over its limit: it started conversations late because
    /// it could not keep up with its own schedule.
    pub client_behind: bool,
}

impl Run {
    /// The generator kept the rate: the mock on schedule, and (for `direct`, which adds
    /// nothing) the client on schedule and the offered rate achieved with no failure. A
    /// target's own run does not judge the client: beside a target one hop away the client's
    /// lag is read against `direct`'s at the same rate instead (`capacity::client_gave_out`).
    pub fn generator_kept_up(&self, is_direct: bool) -> bool {
        !self.generator_behind
            && (!is_direct
                || (!self.client_behind && !self.failed && self.achieved_share >= ACHIEVED_SHARE))
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

/// One search as a state machine: [`Searcher::next_rate`] says where the next repeat runs,
/// [`Searcher::record`] takes it. Apart from the load it drives, so several searches can take
/// turns ([`search_together`]) and synthetic targets can test it.
#[derive(Debug, Clone)]
pub struct Searcher {
    plan: SearchPlan,
    seed: u64,
    out: Outcome,
    /// The rate being probed, `None` once the search has ended.
    rate: Option<f64>,
    /// The kept repeats at `rate`, the runs repeated there because the generator fell behind,
    /// and those of the current repeat.
    repeats: Vec<Repeat>,
    retries: u32,
    tries: u32,
}

impl Searcher {
    pub fn new(plan: &SearchPlan, seed: u64) -> Self {
        Self {
            rate: Some(plan.start_rps.clamp(plan.min_rps, plan.max_rps)),
            plan: plan.clone(),
            seed,
            out: Outcome::default(),
            repeats: Vec::new(),
            retries: 0,
            tries: 0,
        }
    }

    /// Where the next repeat runs; `None` once the search has ended.
    pub fn next_rate(&self) -> Option<f64> {
        self.rate
    }

    /// Takes the repeat run at [`Self::next_rate`]: `min_repeats` repeats a rate (each run
    /// again up to `generator_retries` times while the generator fell behind on it), more while
    /// undecided; then the next rate.
    pub fn record(&mut self, repeat: Repeat) {
        let Some(rate) = self.rate else { return };
        if !repeat.generator_kept_up() && self.tries < self.plan.generator_retries {
            self.tries += 1;
            return;
        }
        self.retries += std::mem::take(&mut self.tries);
        self.repeats.push(repeat);
        let max_repeats = self.plan.max_repeats.clamp(1, MAX_REPEATS);
        let min_repeats = self.plan.min_repeats.clamp(1, max_repeats);
        if self.repeats.len() < min_repeats
            && self.repeats.last().is_some_and(Repeat::generator_kept_up)
        {
            return;
        }
        let probe_seed = self.seed ^ self.out.decisions.len() as u64;
        let final_call = self.repeats.len() >= max_repeats;
        let Some((verdict, e)) = decide(&self.repeats, probe_seed, final_call) else {
            return;
        };
        self.out.decisions.push(Decision {
            rate,
            verdict,
            overhead_p99_us: e.median,
            ci95_us: e.ci95,
            repeats: std::mem::take(&mut self.repeats),
            retries: std::mem::take(&mut self.retries),
        });
        self.rate = self.after(rate, verdict);
    }

    /// Books the decision at `rate` and picks the next rate, if any.
    fn after(&mut self, rate: f64, verdict: Verdict) -> Option<f64> {
        let out = &mut self.out;
        let slot = match verdict {
            Verdict::Healthy => &mut out.healthy,
            Verdict::Failing => &mut out.failing,
            Verdict::GeneratorBehind => &mut out.generator_limit,
        };
        *slot = Some(match (*slot, verdict) {
            (Some(r), Verdict::Healthy) => r.max(rate),
            (Some(r), _) => r.min(rate),
            (None, _) => rate,
        });
        if out.decisions.len() >= self.plan.max_probes {
            return None;
        }
        let upper = match (out.failing, out.generator_limit) {
            (Some(f), Some(g)) => Some(f.min(g)),
            (f, g) => f.or(g),
        };
        let next = match (out.healthy.or(self.plan.known_healthy), upper) {
            (None, Some(u)) => u / SHRINK,
            (Some(l), None) => (l * EXPAND).min(self.plan.max_rps),
            (Some(l), Some(u)) if u / l > self.plan.resolution => (l * u).sqrt(),
            _ => return None,
        };
        (next >= self.plan.min_rps && !out.decisions.iter().any(|d| d.rate == next)).then_some(next)
    }

    pub fn finish(self) -> Outcome {
        self.out
    }
}

/// Searches one target's capacity; `measure(rate)` runs one repeat at `rate`.
pub async fn search<F, Fut>(plan: &SearchPlan, seed: u64, mut measure: F) -> Result<Outcome>
where
    F: FnMut(f64) -> Fut,
    Fut: Future<Output = Result<Repeat>>,
{
    let mut searcher = Searcher::new(plan, seed);
    while let Some(rate) = searcher.next_rate() {
        let repeat = measure(rate).await?;
        searcher.record(repeat);
    }
    Ok(searcher.finish())
}

/// Searches several targets' capacities in the same stretch of time: in every turn each
/// search still running takes one repeat, the searches in a fresh order (`order_seed`), so a
/// machine that drifts over the minutes a search takes weighs on all of them alike. The A/A
/// twins are searched so: one after the other, the second read a different machine
/// (docs/bench.md#proofs). `measure(i, rate)` runs one repeat of target `i` at `rate`.
pub async fn search_together<F, Fut>(
    plans: &[SearchPlan],
    seed: u64,
    order_seed: u64,
    mut measure: F,
) -> Result<Vec<Outcome>>
where
    F: FnMut(usize, f64) -> Fut,
    Fut: Future<Output = Result<Repeat>>,
{
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut rng = rand::rngs::StdRng::seed_from_u64(order_seed);
    let mut searchers: Vec<Searcher> = plans.iter().map(|p| Searcher::new(p, seed)).collect();
    loop {
        let mut turn: Vec<usize> = (0..searchers.len())
            .filter(|&i| searchers[i].next_rate().is_some())
            .collect();
        if turn.is_empty() {
            break;
        }
        turn.shuffle(&mut rng);
        for i in turn {
            if let Some(rate) = searchers[i].next_rate() {
                let repeat = measure(i, rate).await?;
                searchers[i].record(repeat);
            }
        }
    }
    Ok(searchers.into_iter().map(Searcher::finish).collect())
}

#[cfg(test)]
mod tests;
