//! The CPU at load's arithmetic on synthetic windows: the slope, its standard error, the idle
//! rate, the divisor, and the order the twins run in.

use super::*;
use crate::stats::standard_error;

#[test]
fn the_slope_separates_chunk_and_conversation_cost() {
    // 0.5 ms per conversation + 40 µs per chunk.
    let cost = |chunks: u32| 0.5 + 0.040 * f64::from(chunks);
    let f = figures(
        &[cost(SHORT_CHUNKS); 3],
        &[cost(LONG_CHUNKS); 3],
        0.0,
        CpuMethod::CgroupV1,
    )
    .unwrap();
    assert!((f.us_per_chunk - 40.0).abs() < 1e-9);
    assert!((f.ms_per_conversation_fixed - 0.5).abs() < 1e-9);
    assert!((f.ms_per_conversation - cost(SHORT_CHUNKS)).abs() < 1e-9);
}

/// `n` windows alternating `m - d`, `m + d`: a sample variance of n d² / (n − 1), so the
/// mean's standard error is d / √(n − 1).
fn spread(m: f64, d: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| if i % 2 == 0 { m - d } else { m + d })
        .collect()
}

#[test]
fn the_slope_carries_the_standard_error_of_its_windows() {
    assert_eq!(standard_error(&[2.0]), None, "one window has no spread");
    assert_eq!(standard_error(&[2.0, 2.0, 2.0]), Some(0.0));
    let se = standard_error(&spread(20.0, 1.8, 48)).unwrap();
    assert!((se - 1.8 / 47f64.sqrt()).abs() < 1e-12);
    // The slope's error: the two lengths' in quadrature, over the 180 chunks between them.
    let (short, long) = (spread(2.0, 0.1, 18), spread(20.0, 1.8, 48));
    let f = figures(&short, &long, 0.0, CpuMethod::CgroupV1).unwrap();
    let want = (0.1 / 17f64.sqrt()).hypot(1.8 / 47f64.sqrt()) * 1_000.0 / 180.0;
    assert!((f.us_per_chunk_se.unwrap() - want).abs() < 1e-9, "{f:?}");
    assert!((f.us_per_chunk - 100.0).abs() < 1e-9);
    // A length with a single window: no error stated.
    let f = figures(&short, &[20.0], 0.0, CpuMethod::CgroupV1).unwrap();
    assert_eq!(f.us_per_chunk_se, None);
}

#[test]
fn the_proofs_plan_reads_the_burn_to_about_two_microseconds() {
    let quick = CpuLoadPlan::new(true, true);
    let plan = quick.clone().for_proofs(true);
    // Each twin runs twice a block; the long windows' spread measured before the plan
    // (SD 1.85 ms per conversation) in both instances.
    let per_instance = |w: usize| spread(0.0, 1.85, w * 2 * plan.blocks);
    let se = standard_error(&per_instance(plan.long_windows)).unwrap();
    let short = standard_error(&spread(0.0, 0.3, plan.windows * 2 * plan.blocks)).unwrap();
    let read = se.hypot(short) * 2f64.sqrt() * 1_000.0 / 180.0;
    assert!(read <= 2.0, "the burn's read: SE {read:.2} µs");
    // The quick budget without --proofs is untouched.
    assert_eq!(quick.blocks, 1);
    assert_eq!(quick.long_windows, quick.windows);
    assert_eq!(CpuLoadPlan::new(true, false).windows, QUICK_WINDOWS);
}

#[test]
fn a_backend_and_its_clean_twin_are_measured_together_one_at_a_time() {
    let names = ["relay", "rust-only+clean", "unix", "rust-only"];
    assert_eq!(twins(&names), vec![vec![0], vec![2], vec![3, 1]]);
    // Each twin driven twice, symmetric in time; a lone target once.
    assert_eq!(alternation(2, 1), vec![0, 1, 1, 0]);
    assert_eq!(alternation(1, 1), vec![0]);
    // Under --proofs, whole blocks: A B B A A B B A, each twin as often as the other.
    assert_eq!(alternation(2, 2), vec![0, 1, 1, 0, 0, 1, 1, 0]);
    assert_eq!(alternation(1, 3), vec![0]);
}

#[test]
fn the_idle_rate_is_subtracted() {
    let w = Windows {
        cpu_ns: vec![30_000_000, 30_000_000, 5_000_000],
        served: vec![20.0, 10.0, 0.0],
        client_sleeps: vec![400, 200, 0],
        errors: 0,
    };
    // 10 ms/s idle over a 1 s window leaves 20 ms for what the window served; a window
    // that served nothing gives no figure.
    let per = per_conversation(&w, 10_000_000.0, Duration::from_secs(1));
    assert_eq!(per, vec![1.0, 2.0]);
    // 600 sleeps over 30 conversations' worth of 20 chunks.
    assert_eq!(sleeps_per_chunk(&[w], [20, 200]), Some(1.0));
    assert_eq!(sleeps_per_chunk(&[], [20, 200]), None);
}

#[test]
fn a_window_counts_the_chunks_received_in_it() {
    // Marks at 0, 10 and 20; chunks of 2-chunk conversations received at these times.
    let received = [0, 5, 9, 10, 12, 19, 20, 25];
    assert_eq!(served(&received, &[0, 10, 20], 2), vec![1.5, 1.5]);
}
