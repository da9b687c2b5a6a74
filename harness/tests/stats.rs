//! The statistics module on inputs whose answers are known: percentiles, the bootstrap
//! interval's coverage, latency from the schedule on a stalled run, the interleaving order.

use harness::stats;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[test]
fn percentiles_of_a_known_distribution() {
    let mut h = stats::histogram();
    // 1..=10,000 µs, one sample each.
    for us in 1..=10_000u64 {
        stats::record(&mut h, us * 1_000);
    }
    let s = stats::latency_stats(&h).unwrap();
    assert_eq!(s.n, 10_000);
    // Three significant figures: within 0.1% of the exact rank.
    let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 1.0;
    assert!(close(s.p50_us, 5_000.0), "{}", s.p50_us);
    assert!(close(s.p90_us, 9_000.0), "{}", s.p90_us);
    assert!(close(s.p99_us, 9_900.0), "{}", s.p99_us);
    assert!(close(s.p999_us, 9_990.0), "{}", s.p999_us);
    assert!(close(s.max_us, 10_000.0), "{}", s.max_us);
    assert!(stats::latency_stats(&stats::histogram()).is_none());
}

/// One normal draw (Box-Muller), for the coverage test.
fn normal(rng: &mut StdRng, mean: f64, sd: f64) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    mean + sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[test]
fn the_bootstrap_interval_covers_the_true_median_about_95_percent_of_the_time() {
    // 300 experiments of 10 rounds each (the full run's round count), from a distribution
    // whose median is 50. A percentile bootstrap of a median from 10 values is known to run a
    // little narrow; the interval must still cover the truth in most experiments, and must
    // not be so wide it always does. 2,000 resamples per interval keep the test fast; the
    // coverage does not depend on the resample count once it is in the thousands.
    const EXPERIMENTS: usize = 300;
    const RESAMPLES: usize = 2_000;
    let mut rng = StdRng::seed_from_u64(7);
    let mut covered = 0;
    for e in 0..EXPERIMENTS {
        let rounds: Vec<f64> = (0..10).map(|_| normal(&mut rng, 50.0, 8.0)).collect();
        let [lo, hi] = stats::bootstrap_median_ci_with(&rounds, e as u64, RESAMPLES).unwrap();
        assert!(lo <= stats::median(&rounds).unwrap() && stats::median(&rounds).unwrap() <= hi);
        if lo <= 50.0 && 50.0 <= hi {
            covered += 1;
        }
    }
    let coverage = covered as f64 / EXPERIMENTS as f64;
    assert!((0.88..=0.995).contains(&coverage), "coverage {coverage}");
    assert!(stats::bootstrap_median_ci(&[1.0], 1).is_none());
    assert_eq!(
        stats::bootstrap_median_ci(&[1.0, 2.0, 3.0], 5),
        stats::bootstrap_median_ci(&[1.0, 2.0, 3.0], 5),
        "the same seed gives the same interval"
    );
}

#[test]
fn paired_differences_cancel_what_a_round_did_to_both() {
    let a = [Some(110.0), Some(510.0), Some(112.0), None];
    let b = [Some(100.0), Some(500.0), Some(100.0), Some(90.0)];
    let e = stats::paired_difference(&a, &b, 3).unwrap();
    assert_eq!(e.rounds, 3, "a round one side missed is left out");
    assert_eq!(e.median, 10.0);
    let [lo, hi] = e.ci95.unwrap();
    assert!(lo >= 10.0 && hi <= 12.0, "{lo} {hi}");
}

#[test]
fn latency_from_the_schedule_sees_a_stall_the_send_times_hide() {
    // An open-loop client scheduled a request every 10 ms for 10 s; the server answers in 1 ms,
    // except that it stalls for 1 s at t = 5 s. A client that was stuck behind the stall sends
    // late, and timed from its send every request looks fast but the first.
    let mut from_send = stats::histogram();
    let mut from_schedule = stats::histogram();
    let stall_start = 5_000_000_000u64;
    let stall_end = stall_start + 1_000_000_000;
    for i in 0..1_000u64 {
        let scheduled = i * 10_000_000;
        let sent = if (stall_start..stall_end).contains(&scheduled) {
            stall_end
        } else {
            scheduled
        };
        let done = if sent == stall_end && scheduled == stall_start {
            stall_end + 1_000_000
        } else {
            sent + 1_000_000
        };
        stats::record(&mut from_send, done - sent);
        stats::record(&mut from_schedule, stats::from_schedule(scheduled, done));
    }
    let p99_send = stats::quantile_us(&from_send, 0.99);
    let p99_schedule = stats::quantile_us(&from_schedule, 0.99);
    assert!(
        p99_send < 1_100.0,
        "timed from the send the stall vanishes: {p99_send}"
    );
    // 100 requests (10%) waited for the stall: the p99 is most of a second.
    assert!(
        p99_schedule > 900_000.0,
        "timed from the schedule: {p99_schedule}"
    );
    assert!(stats::quantile_us(&from_schedule, 0.89) < 1_100.0);
}

#[test]
fn each_round_is_a_fresh_permutation_and_the_seed_replays_it() {
    let targets: Vec<String> = ["direct", "aisdk-node", "unix", "http", "napi", "rust-only"]
        .map(String::from)
        .to_vec();
    let orders = stats::round_orders(&targets, 20, 42);
    assert_eq!(orders.len(), 20);
    for order in &orders {
        let mut sorted = order.clone();
        sorted.sort();
        let mut want = targets.clone();
        want.sort();
        assert_eq!(sorted, want, "every round runs every target once");
    }
    let distinct: std::collections::BTreeSet<&Vec<String>> = orders.iter().collect();
    assert!(distinct.len() > 10, "orders vary from round to round");
    let first_positions: std::collections::BTreeSet<&String> =
        orders.iter().map(|o| &o[0]).collect();
    assert!(first_positions.len() >= 4, "no target is always first");
    assert_eq!(orders, stats::round_orders(&targets, 20, 42));
    assert_ne!(orders, stats::round_orders(&targets, 20, 43));
}
