//! The generator's own ceiling: `direct` (the client reading the mock, nothing between) searched
//! upward from the highest rate it kept up at beside the backends' searches, until it falls
//! behind: the backends' searches stop at the plan's top rate (1,000/s, 20,000 chunks/s), which
//! said where they stopped, not where the generator does (docs/bench.md#generator-ceiling).
//! Run where the references are searched (full runs and `--proofs`), before the relay, whose
//! search then starts from this ceiling.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use contract::results::{LoadMode, LoadPoint};
use sut_kit::mock::MockProcess;

use super::load::{self, LoadPlan};
use super::rounds::RoundPlan;
use super::search::{self, Repeat, SearchPlan, Verdict};
use super::steady;
use super::target::Target;
use crate::progress::Progress;

/// The highest rate the generator's search tries: 5,000 conversations/s, 100,000 chunks/s, ten
/// times the 10,000 chunks/s; one core for the client and the mock cannot reach it,
/// so the search ends where the generator falls behind (docs/bench.md#generator-ceiling).
pub const GENERATOR_MAX_RPS: f64 = 5_000.0;

/// Where the generator's search starts, given `direct`'s open points so far: the highest rate
/// it kept up at, and one step ([`search::EXPAND`]) above it, or halfway (geometrically) to the
/// lowest rate above it where it fell behind; `None` when that gap is already within the
/// plan's resolution, or `direct` kept up nowhere.
pub fn start(points: &[LoadPoint], resolution: f64) -> Option<(f64, f64)> {
    let kept = super::capacity::highest_kept(points)?.target;
    let behind = points
        .iter()
        .filter(|p| p.mode == LoadMode::Open)
        .filter(|p| p.generator_behind && p.target > kept)
        .map(|p| p.target)
        .min_by(f64::total_cmp);
    let from = match behind {
        Some(b) if b / kept <= resolution => return None,
        Some(b) => (kept * b).sqrt(),
        None => (kept * search::EXPAND).min(GENERATOR_MAX_RPS),
    };
    Some((kept, from))
}

/// The generator's own search: from `from` up to [`GENERATOR_MAX_RPS`], down to `kept`, and no
/// repeat run again when `direct` fell behind on it. A target's search retries such a repeat
/// because there the generator is not what is judged and a burst of other work clears; here
/// it is what is judged, and near its ceiling it falls behind now and then: retried until it
/// keeps up once, the search found the rate where it keeps up sometimes (1,500/s on a second
/// try after a start lag p99 of 28.7 ms on the first), not where it keeps its schedule
/// (docs/bench.md#generator-ceiling).
pub fn ceiling_plan(bounds: &load::SearchBounds, (kept, from): (f64, f64)) -> SearchPlan {
    SearchPlan {
        known_healthy: Some(kept),
        start_rps: from,
        min_rps: kept,
        max_rps: GENERATOR_MAX_RPS,
        resolution: bounds.resolution,
        max_probes: bounds.max_probes,
        min_repeats: bounds.min_repeats,
        max_repeats: bounds.max_repeats,
        generator_retries: 0,
    }
}

/// Searches `direct` upward from [`start`]'s `(kept, from)`, bisecting down toward `kept`
/// when `from` is already past the ceiling; returns its load points (one per rate: healthy
/// where it kept up, `generator_behind` where it stayed behind after its retries).
pub async fn search(
    direct: &Arc<Target>,
    mock: &MockProcess,
    http: &reqwest::Client,
    rounds: &RoundPlan,
    plan: &LoadPlan,
    (kept, from): (f64, f64),
    progress: &Progress,
) -> Result<Vec<LoadPoint>> {
    let search_plan = ceiling_plan(&plan.search, (kept, from));
    let by_rate: Mutex<BTreeMap<u64, load::PointFigures>> = Mutex::default();
    let found = search::search(&search_plan, plan.seed, |rate| {
        progress.step(format!("generator's ceiling: direct at {rate:.0}/s"));
        let by_rate = &by_rate;
        async move {
            let (f, run) =
                steady::run_at(direct, mock, http, rounds, &plan.steady, rate, None).await?;
            let mut by_rate = by_rate.lock().unwrap_or_else(|e| e.into_inner());
            let slot = by_rate
                .entry(rate.to_bits())
                .or_insert_with(|| load::PointFigures::empty(std::time::Duration::ZERO));
            steady::merge(slot, &f);
            // `direct` against itself: no overhead; the repeat is healthy exactly when the
            // generator kept up.
            Ok(Repeat {
                target: run.clone(),
                direct: run,
            })
        }
    })
    .await?;
    let by_rate = by_rate.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(found
        .decisions
        .iter()
        .filter_map(|d| {
            let f = by_rate.get(&d.rate.to_bits())?;
            let mut point = load::load_point(LoadMode::Open, d.rate, f, None);
            let share = crate::stats::median(
                &d.repeats
                    .iter()
                    .map(|r| r.direct.achieved_share)
                    .collect::<Vec<_>>(),
            )
            .unwrap_or(0.0);
            point.achieved = d.rate * share;
            point.chunks_per_s = point.achieved * f64::from(rounds.chunks);
            point.generator_behind = d.verdict == Verdict::GeneratorBehind;
            point.retries = d.retries;
            Some(point)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::stages::bench::test_points::open;

    fn point(target: f64, behind: bool) -> LoadPoint {
        LoadPoint {
            generator_behind: behind,
            ..open(target)
        }
    }

    #[test]
    fn a_generator_that_keeps_up_only_now_and_then_is_past_its_ceiling() {
        // `direct` keeps up every time to 1,300/s and every other try above it.
        let tries = std::cell::Cell::new(0u32);
        let measure = |rate: f64| {
            tries.set(tries.get() + 1);
            let run = search::Run {
                p99_us: Some(50.0),
                achieved_share: 1.0,
                failed: false,
                generator_behind: rate > 1_300.0 && tries.get() % 2 == 1,
                client_behind: false,
            };
            std::future::ready(Ok(Repeat {
                target: run.clone(),
                direct: run,
            }))
        };
        let bounds = crate::stages::bench::plan::Plan::new(true, None, true, 0)
            .load
            .map(|l| l.search)
            .unwrap();
        let block_on = |plan: &SearchPlan| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(search::search(plan, 0, measure))
                .unwrap()
        };
        let ours = block_on(&ceiling_plan(&bounds, (1_000.0, 1_500.0)));
        let healthy = ours.healthy.expect("a rate under the ceiling was found");
        assert!(healthy <= 1_300.0, "{ours:?}");
        // With a target's retries the same generator passes at 1,500/s.
        let retried = SearchPlan {
            generator_retries: search::GENERATOR_RETRIES,
            ..ceiling_plan(&bounds, (1_000.0, 1_500.0))
        };
        assert!(block_on(&retried).healthy.is_some_and(|h| h >= 1_500.0));
    }

    #[test]
    fn the_search_starts_above_where_direct_kept_up() {
        // Kept up to the plan's top rate: one step above it.
        let top = [point(400.0, false), point(1_000.0, false)];
        assert_eq!(start(&top, 1.25), Some((1_000.0, 1_500.0)));
        // Behind at 2,250/s already: halfway there.
        let bracketed = [point(1_000.0, false), point(2_250.0, true)];
        assert_eq!(start(&bracketed, 1.25), Some((1_000.0, 1_500.0)));
        // Already within the resolution: nothing to search.
        let close = [point(1_000.0, false), point(1_200.0, true)];
        assert_eq!(start(&close, 1.25), None);
        // Never kept up: no ceiling to start from.
        assert_eq!(start(&[point(20.0, true)], 1.25), None);
    }
}
