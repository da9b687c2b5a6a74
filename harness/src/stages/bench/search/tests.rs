//! The search's statistics on synthetic targets: a known capacity found within its interval,
//! flagged repeats retried, the generator's ceiling, and twins searched together.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn run(p99_us: f64) -> Run {
    Run {
        p99_us: Some(p99_us),
        achieved_share: 1.0,
        failed: false,
        generator_behind: false,
        client_behind: false,
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
        known_healthy: None,
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
            let out = block_on(search(&plan(start), seed, synthetic(capacity, 1e9, seed))).unwrap();
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
fn a_client_late_beside_direct_caps_the_search_though_the_rate_is_achieved() {
    // Past 100/s the client starts late beside `direct` while still receiving the offered
    // rate (a queue that grows over the window); beside the target its lag is not the
    // generator's verdict.
    let measure = |rate: f64| {
        let mut direct = run(50.0);
        direct.client_behind = rate > 100.0;
        let mut target = run(60.0);
        target.client_behind = true;
        std::future::ready(Ok(Repeat { target, direct }))
    };
    let out = block_on(search(&plan(400.0), 0, measure)).unwrap();
    assert_eq!(out.decisions[0].verdict, Verdict::GeneratorBehind);
    assert!(out.generator_bound());
    assert!(
        out.healthy
            .is_some_and(|h| (100.0 / 1.25..=100.0).contains(&h))
    );
}

#[test]
fn a_first_rate_past_the_ceiling_bisects_toward_the_rate_known_healthy() {
    // The generator's own search: `direct` kept up at 1,000/s in the searches before, its
    // first rate (1,500/s) is past its ceiling at 1,300/s. Halving would land under the
    // floor and end the search there; it bisects between the two instead.
    let measure = |rate: f64| {
        let mut direct = run(50.0);
        direct.generator_behind = rate > 1_300.0;
        std::future::ready(Ok(Repeat {
            target: direct.clone(),
            direct,
        }))
    };
    let from_above = SearchPlan {
        min_rps: 1_000.0,
        known_healthy: Some(1_000.0),
        ..plan(1_500.0)
    };
    let out = block_on(search(&from_above, 0, measure)).unwrap();
    assert_eq!(out.decisions[0].verdict, Verdict::GeneratorBehind);
    let healthy = out.healthy.expect("a rate under the ceiling was found");
    assert!(healthy > 1_000.0 && healthy <= 1_300.0, "{out:?}");
    assert!(out.decisions.iter().all(|d| d.rate >= 1_000.0));
    // Without the rate known healthy, the same search ends at its first rate.
    let alone = SearchPlan {
        known_healthy: None,
        ..from_above
    };
    assert_eq!(
        block_on(search(&alone, 0, measure))
            .unwrap()
            .decisions
            .len(),
        1
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

/// Identical twins on a machine whose capacity for them halves, from 200 to 100/s, after
/// `step` runs of either (another tenant's build starting on their core).
fn twins_on_a_changing_machine(
    step: usize,
) -> impl FnMut(usize, f64) -> std::future::Ready<Result<Repeat>> {
    let mut runs = 0;
    move |_twin: usize, rate: f64| {
        let capacity = if runs < step { 200.0 } else { 100.0 };
        runs += 1;
        let p99 = SATURATION_P99_LIMIT_US * (rate / capacity).powi(3);
        let mut target = run(50.0 + p99);
        target.achieved_share = if rate > capacity * 1.3 { 0.8 } else { 1.0 };
        std::future::ready(Ok(Repeat {
            target,
            direct: run(50.0),
        }))
    }
}

fn overlap(a: &Outcome, b: &Outcome) -> bool {
    let ([a0, a1], [b0, b1]) = (
        a.capacity().unwrap().1.unwrap(),
        b.capacity().unwrap().1.unwrap(),
    );
    a0 <= b1 && b0 <= a1
}

#[test]
fn twins_searched_together_agree_on_a_changing_machine_and_apart_do_not() {
    let plans = [plan(150.0), plan(150.0)];
    // How many runs one search takes on the unchanged machine.
    let mut runs = 0;
    let alone = block_on(search(&plans[0], 0, |r| {
        runs += 1;
        twins_on_a_changing_machine(usize::MAX)(0, r)
    }))
    .unwrap();
    assert!(alone.capacity().is_some());
    // The machine changes once the first twin's search is done: apart, the second twin
    // reads the other machine.
    let mut machine = twins_on_a_changing_machine(runs);
    let first = block_on(search(&plans[0], 0, |r| machine(0, r))).unwrap();
    let second = block_on(search(&plans[1], 0, |r| machine(1, r))).unwrap();
    assert!(
        !overlap(&first, &second),
        "apart, the twins read {:?} and {:?}",
        first.capacity(),
        second.capacity()
    );
    // Together, whenever between two turns the machine changes, both read the same one.
    for step in (0..=2 * runs).step_by(2) {
        let together = block_on(search_together(
            &plans,
            0,
            1,
            twins_on_a_changing_machine(step),
        ))
        .unwrap();
        assert!(
            overlap(&together[0], &together[1]),
            "change after {step} runs: {:?} and {:?}",
            together[0].capacity(),
            together[1].capacity()
        );
    }
}

#[test]
fn searches_together_take_turns_and_each_ends_as_it_would_alone() {
    let plans = [plan(40.0), plan(400.0)];
    let mut turns = Vec::new();
    let out = block_on(search_together(&plans, 3, 9, |i, rate| {
        turns.push(i);
        let capacity = [60.0, 300.0][i];
        let p99 = SATURATION_P99_LIMIT_US * (rate / capacity).powi(3);
        std::future::ready(Ok(Repeat {
            target: run(50.0 + p99),
            direct: run(50.0),
        }))
    }))
    .unwrap();
    for (i, capacity) in [60.0, 300.0].into_iter().enumerate() {
        let alone = block_on(search(&plans[i], 3, |rate| {
            let p99 = SATURATION_P99_LIMIT_US * (rate / capacity).powi(3);
            std::future::ready(Ok(Repeat {
                target: run(50.0 + p99),
                direct: run(50.0),
            }))
        }))
        .unwrap();
        assert_eq!(out[i].capacity(), alone.capacity(), "target {i}");
    }
    // While both run, neither takes two repeats before the other has taken one.
    let both = 2 * turns
        .iter()
        .filter(|&&i| i == 0)
        .count()
        .min(turns.iter().filter(|&&i| i == 1).count());
    for pair in turns[..both].chunks(2) {
        assert_ne!(pair[0], pair[1], "{turns:?}");
    }
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
