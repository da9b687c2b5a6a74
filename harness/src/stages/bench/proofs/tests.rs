//! The proofs read from synthetic runs: each holds on a run that meets the issue and fails on
//! its own figure.

use super::*;
use crate::stages::bench::test_points;
use contract::results::{BenchRun, Capacity, CpuSelfCheck, GeneratorCeiling, LoadPoint};

fn capacity(observed: f64, ci: Option<[f64; 2]>, bound: bool, predicted: f64) -> Capacity {
    Capacity {
        per_core_rps_observed: Some(observed),
        per_core_rps_observed_ci95: ci,
        per_core_rps_predicted: Some(predicted),
        predicted_at_rps: None,
        predicted_ms_per_conversation: None,
        ratio: Some(observed / predicted),
        limit: None,
        generator_bound: bound,
    }
}

fn point(target: f64, chunks_per_s: f64, lag_us: f64) -> LoadPoint {
    LoadPoint {
        chunks_per_s,
        conversations: 100,
        mock_lateness_p99_us: Some(200.0),
        client_lag_p99_us: Some(lag_us),
        ..test_points::open(target)
    }
}

/// A run where every proof holds: rust-only burnt, its clean and A/A instances, the relay.
fn run() -> Results {
    let mut r = test_points::results("release");
    r.backend_mut(DIRECT).load = vec![point(250.0, 5_000.0, 300.0), point(600.0, 12_000.0, 800.0)];
    let relay = r.backend_mut(RELAY);
    relay.saturation_chunks_per_s = Some(12_000.0);
    relay.capacity = Some(capacity(600.0, None, true, 900.0));
    r.backend_mut("rust-only").capacity = Some(capacity(230.0, Some([200.0, 260.0]), false, 250.0));
    r.backend_mut("rust-only+aa").capacity =
        Some(capacity(250.0, Some([220.0, 280.0]), false, 250.0));
    r.backend_mut("rust-only+clean").capacity = Some(capacity(600.0, None, true, 500.0));
    r.bench = Some(BenchRun {
        generator: Some(GeneratorCeiling {
            ceiling_rps: 600.0,
            ceiling_chunks_per_s: 12_000.0,
            method: String::new(),
            highest_rate_tried: 600.0,
            relay_within_capacity: Some(true),
            relay_chunks_per_s: Some(12_000.0),
            one_hop_ceiling_rps: None,
        }),
        cpu_self_check: vec![CpuSelfCheck {
            backend: "rust-only".to_owned(),
            injected_us: 100.0,
            measured_us: 98.0,
            measured_se_us: Some(1.5),
            within_tolerance: true,
            short_read_us: None,
            long_read_us: None,
            capacity_observed_ratio: None,
            capacity_predicted_ratio: Some(0.5),
        }],
        ..BenchRun::default()
    });
    r
}

fn holds(proofs: &[Proof], name: &str) -> Option<bool> {
    proofs.iter().find(|p| p.name == name).unwrap().holds
}

#[test]
fn a_run_that_meets_the_issue_passes_its_proofs() {
    let proofs = evaluate(&run(), "rust-only");
    for name in [
        "direct-ceiling",
        "relay-near-direct",
        "cpu-burn-read",
        "cpu-burn-capacity",
        "aa-overlap",
    ] {
        assert_eq!(holds(&proofs, name), Some(true), "{name}: {proofs:?}");
    }
    assert_eq!(
        holds(&proofs, "idle-zero"),
        None,
        "no CPU at load in this run"
    );
    // The burn's read states its precision: its standard error and the 95% interval.
    let read = proofs.iter().find(|p| p.name == "cpu-burn-read").unwrap();
    assert!(
        read.measured
            .contains("+98.0 (SE 1.5, 95% [+95.1, +100.9])"),
        "{}",
        read.measured
    );
}

#[test]
fn each_proof_fails_on_its_own_figure() {
    let mut r = run();
    r.backend_mut(DIRECT).load[1].client_lag_p99_us = Some(2_500.0);
    r.backend_mut(RELAY).capacity = Some(capacity(450.0, Some([400.0, 500.0]), false, 900.0));
    r.backend_mut("rust-only").capacity = Some(capacity(150.0, Some([140.0, 160.0]), false, 250.0));
    let proofs = evaluate(&r, "rust-only");
    assert_eq!(holds(&proofs, "direct-ceiling"), Some(false));
    assert_eq!(
        holds(&proofs, "relay-near-direct"),
        Some(false),
        "failing at 500/s, under 90% of 600"
    );
    assert_eq!(
        holds(&proofs, "cpu-burn-capacity"),
        Some(false),
        "0.6 of its prediction"
    );
    assert_eq!(
        holds(&proofs, "aa-overlap"),
        Some(false),
        "[140, 160] and [220, 280]"
    );
}

#[test]
fn direct_on_time_at_ten_thousand_chunks_holds_though_its_top_rate_was_late() {
    let mut r = run();
    r.backend_mut(DIRECT)
        .load
        .push(point(1_000.0, 20_000.0, 2_100.0));
    assert_eq!(
        holds(&evaluate(&r, "rust-only"), "direct-ceiling"),
        Some(true)
    );
    r.backend_mut(DIRECT).load[1].mock_lateness_p99_us = Some(1_200.0);
    assert_eq!(
        holds(&evaluate(&r, "rust-only"), "direct-ceiling"),
        Some(false),
        "the mock late at 12,000 chunks/s, the client at 20,000"
    );
}

#[test]
fn a_relay_bracket_across_ninety_percent_of_direct_is_undecided() {
    let mut r = run();
    r.backend_mut(RELAY).capacity = Some(capacity(590.0, Some([500.0, 700.0]), false, 900.0));
    assert_eq!(holds(&evaluate(&r, "rust-only"), "relay-near-direct"), None);
    r.backend_mut(RELAY).capacity = Some(capacity(600.0, Some([560.0, 650.0]), false, 900.0));
    assert_eq!(
        holds(&evaluate(&r, "rust-only"), "relay-near-direct"),
        Some(true),
        "healthy at 560/s, 93% of 600"
    );
}

#[test]
fn the_relay_is_held_to_ninety_percent_of_the_rate_direct_was_offered() {
    // `direct` offered 600/s at its ceiling and achieved 605/s over the window; the relay's
    // search ran at 540/s, 90% of the offered rate, and stayed healthy there.
    let mut r = run();
    if let Some(g) = r.bench.as_mut().and_then(|b| b.generator.as_mut()) {
        g.ceiling_rps = 605.0;
    }
    r.backend_mut(RELAY).capacity = Some(capacity(540.0, None, true, 900.0));
    let proofs = evaluate(&r, "rust-only");
    assert_eq!(holds(&proofs, "relay-near-direct"), Some(true));
    let relay = proofs
        .iter()
        .find(|p| p.name == "relay-near-direct")
        .unwrap();
    assert!(
        relay.measured.contains("600 conv/s offered (605 achieved"),
        "{}",
        relay.measured
    );
}

#[test]
fn a_relay_failing_at_exactly_ninety_percent_fails() {
    // Its search starts at 90% of direct's 600/s and fails there: its capacity lies below.
    let mut r = run();
    r.backend_mut(RELAY).capacity = Some(capacity(510.0, Some([480.0, 540.0]), false, 900.0));
    assert_eq!(
        holds(&evaluate(&r, "rust-only"), "relay-near-direct"),
        Some(false)
    );
}

#[test]
fn a_failing_relay_says_how_full_its_core_was() {
    let mut r = run();
    let mut c = capacity(450.0, Some([400.0, 500.0]), false, 500.0);
    c.predicted_at_rps = Some(400.0);
    c.predicted_ms_per_conversation = Some(2.0);
    r.backend_mut(RELAY).capacity = Some(c);
    let proofs = evaluate(&r, "rust-only");
    let relay = proofs
        .iter()
        .find(|p| p.name == "relay-near-direct")
        .unwrap();
    assert_eq!(relay.holds, Some(false));
    assert!(
        relay.measured.contains(
            "2.000 ms per conversation at 400/s, 80% of its 1 core(s): its CPU allows 500 conv/s"
        ),
        "{}",
        relay.measured
    );
}

#[test]
fn a_failing_relay_says_what_the_generator_paid_beside_it_and_beside_direct() {
    let mut r = run();
    r.backend_mut(RELAY).capacity = Some(capacity(450.0, Some([400.0, 500.0]), false, 500.0));
    let at = |us: f64, ipis: f64, sleeps: f64| LoadPoint {
        generator_us_per_chunk: Some(us),
        client_ipis_per_chunk: Some(ipis),
        client_sleeps_per_chunk: Some(sleeps),
        ..point(500.0, 9_000.0, 300.0)
    };
    r.backend_mut(RELAY).load = vec![at(60.0, 0.05, 0.9)];
    r.backend_mut(DIRECT).load.push(at(50.0, 0.0, 0.3));
    let proofs = evaluate(&r, "rust-only");
    let relay = proofs
        .iter()
        .find(|p| p.name == "relay-near-direct")
        .unwrap();
    assert!(
        relay.measured.contains(
            "the generator's cost per chunk there 60.0 µs, 0.05 IPIs, 0.90 client sleeps beside \
             the relay, 50.0 µs, 0.00 IPIs, 0.30 client sleeps beside direct"
        ),
        "{}",
        relay.measured
    );
}

#[test]
fn a_generator_bound_burnt_instance_leaves_its_capacity_undecided() {
    let mut r = run();
    r.backend_mut("rust-only").capacity = Some(capacity(600.0, None, true, 250.0));
    let proofs = evaluate(&r, "rust-only");
    assert_eq!(holds(&proofs, "cpu-burn-capacity"), None);
    assert_eq!(holds(&proofs, "aa-overlap"), None);
}
