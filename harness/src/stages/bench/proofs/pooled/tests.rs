//! The proofs pooled over synthetic runs: a figure judged on its mean's interval, a verdict by
//! the sign test.

use super::*;
use crate::stages::bench::test_points;
use contract::results::{BenchRun, Capacity, CpuSelfCheck, Proof};

/// A run whose burn reads `burn` µs, whose relay proof recorded `relay`, and whose burnt
/// instance observed `observed` of a predicted 100 conv/s per core (`None`: generator-bound).
fn studied(burn: f64, relay: Option<bool>, observed: Option<f64>) -> StudiedRun {
    let mut results = test_points::results("release");
    results.backend_mut("rust-only").capacity = Some(Capacity {
        per_core_rps_observed: Some(observed.unwrap_or(300.0)),
        per_core_rps_observed_ci95: None,
        per_core_rps_predicted: Some(100.0),
        predicted_at_rps: None,
        predicted_ms_per_conversation: None,
        ratio: None,
        limit: None,
        generator_bound: observed.is_none(),
    });
    let proof = |name: &str, holds: Option<bool>| Proof {
        name: name.to_owned(),
        requirement: String::new(),
        measured: String::new(),
        holds,
    };
    results.bench = Some(BenchRun {
        cpu_self_check: vec![CpuSelfCheck {
            backend: "rust-only".to_owned(),
            injected_us: 100.0,
            measured_us: burn,
            measured_se_us: None,
            within_tolerance: (burn - 100.0).abs() <= 5.0,
            short_read_us: None,
            long_read_us: None,
            capacity_observed_ratio: None,
            capacity_predicted_ratio: None,
        }],
        proofs: vec![
            proof("relay-near-direct", relay),
            proof("cpu-burn-read", Some((burn - 100.0).abs() <= 5.0)),
        ],
        ..BenchRun::default()
    });
    StudiedRun {
        id: format!("run-{burn}"),
        results,
    }
}

fn pooled(runs: &[StudiedRun], name: &str) -> PooledProof {
    pool(runs, "rust-only", 100.0)
        .into_iter()
        .find(|p| p.name == name)
        .unwrap()
}

#[test]
fn a_burn_missed_in_one_run_holds_over_runs_whose_mean_is_within_tolerance() {
    let runs: Vec<StudiedRun> = [94.0, 99.0, 101.0, 98.0, 100.0]
        .into_iter()
        .map(|b| studied(b, Some(true), Some(100.0)))
        .collect();
    let p = pooled(&runs, "cpu-burn-read");
    assert_eq!(
        p.verdicts[0],
        Some(false),
        "the first run missed on its own"
    );
    // Mean 98.4, SE 1.17, t(4) 2.776: [95.2, 101.6] within [95, 105].
    assert_eq!(p.holds, Some(true), "{}", p.measured);
    assert_eq!(p.accepted, Some([95.0, 105.0]));
    assert_eq!(p.method, "mean");
}

#[test]
fn a_burn_read_high_in_every_run_fails_and_one_at_the_edge_is_undecided() {
    let high: Vec<StudiedRun> = [107.0, 108.0, 106.0, 107.0]
        .into_iter()
        .map(|b| studied(b, None, None))
        .collect();
    assert_eq!(pooled(&high, "cpu-burn-read").holds, Some(false));
    let edge: Vec<StudiedRun> = [104.0, 106.0, 105.0, 106.0]
        .into_iter()
        .map(|b| studied(b, None, None))
        .collect();
    assert_eq!(pooled(&edge, "cpu-burn-read").holds, None);
    // Two runs: too few to judge a mean.
    assert_eq!(pooled(&high[..2], "cpu-burn-read").holds, None);
}

#[test]
fn a_generator_bound_run_has_no_capacity_ratio_to_pool() {
    let runs = vec![
        studied(100.0, None, Some(95.0)),
        studied(100.0, None, None),
        studied(100.0, None, Some(105.0)),
        studied(100.0, None, Some(100.0)),
    ];
    let p = pooled(&runs, "cpu-burn-capacity");
    assert_eq!(p.values, vec![0.95, 1.05, 1.0]);
    assert_eq!(p.holds, Some(true), "{}", p.measured);
}

#[test]
fn the_sign_test_holds_a_verdict_only_past_chance() {
    let of = |relay: &[Option<bool>]| {
        let runs: Vec<StudiedRun> = relay.iter().map(|r| studied(100.0, *r, None)).collect();
        pooled(&runs, "relay-near-direct")
    };
    let all = of(&[Some(true); 5]);
    assert_eq!((all.holds, all.method.as_str()), (Some(true), "sign-test"));
    assert!((all.p_value.unwrap_or(1.0) - 1.0 / 32.0).abs() < 1e-12);
    // Five of seven: p = 0.23, as a coin could.
    let most = [Some(true), Some(false), Some(true), Some(true), Some(false)];
    let most: Vec<Option<bool>> = most.into_iter().chain([Some(true), Some(true)]).collect();
    assert_eq!(of(&most).holds, None);
    // An undecided run counts for neither side: four of four held and one undecided is 1/16,
    // not yet past chance; a fifth held is.
    let mut four = vec![Some(true); 4];
    four.push(None);
    assert_eq!(of(&four).holds, None);
    four.push(Some(true));
    assert_eq!(of(&four).holds, Some(true));
    assert_eq!(of(&[Some(false); 5]).holds, Some(false));
    assert_eq!(of(&[None; 3]).holds, None);
}

#[test]
fn no_runs_pool_to_no_proofs() {
    assert!(pool(&[], "rust-only", 100.0).is_empty());
}
