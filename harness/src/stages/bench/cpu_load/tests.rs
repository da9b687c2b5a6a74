//! The CPU at load's arithmetic on synthetic windows: the slope, its standard error, the idle
//! rate, the divisor, and the order the twins run in.

use super::*;
use crate::stats::standard_error;

#[test]
fn the_slope_separates_chunk_and_conversation_cost() {
    // 0.5 ms per conversation + 40 µs per chunk.
    let cost = |chunks: u32| 0.5 + 0.040 * f64::from(chunks);
    let f = figures(
        &[vec![cost(SHORT_CHUNKS); 3]],
        &[vec![cost(LONG_CHUNKS); 3]],
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
    // One drive a length: the slope's error is the two lengths' windows' in quadrature, over
    // the 180 chunks between them.
    let (short, long) = (vec![spread(2.0, 0.1, 18)], vec![spread(20.0, 1.8, 48)]);
    let f = figures(&short, &long, 0.0, CpuMethod::CgroupV1).unwrap();
    let want = (0.1 / 17f64.sqrt()).hypot(1.8 / 47f64.sqrt()) * 1_000.0 / 180.0;
    assert!((f.us_per_chunk_se.unwrap() - want).abs() < 1e-9, "{f:?}");
    assert!((f.us_per_chunk - 100.0).abs() < 1e-9);
    // A length with a single window: no error stated.
    let f = figures(&short, &[vec![20.0]], 0.0, CpuMethod::CgroupV1).unwrap();
    assert_eq!(f.us_per_chunk_se, None);
}

#[test]
fn drives_whose_windows_move_together_state_the_error_of_their_means() {
    // Six drives a length, each flat within and apart from the next (the machine's state
    // lasting a drive): the windows alone would claim almost no error.
    let drives = |m: f64, d: f64| -> Vec<Vec<f64>> {
        spread(m, d, 6).into_iter().map(|x| vec![x; 10]).collect()
    };
    let (short, long) = (drives(2.0, 0.0), drives(20.0, 1.8));
    let f = figures(&short, &long, 0.0, CpuMethod::CgroupV1).unwrap();
    let from_means = 1.8 / 5f64.sqrt() * 1_000.0 / 180.0;
    assert!(
        (f.us_per_chunk_se.unwrap() - from_means).abs() < 1e-9,
        "{f:?}"
    );
    let from_windows = standard_error(&long.concat()).unwrap() * 1_000.0 / 180.0;
    assert!(from_windows < from_means / 2.0);
    // Two drives are too few to read an error from: their windows state it.
    let two = &long[..2];
    let f = figures(&short, two, 0.0, CpuMethod::CgroupV1).unwrap();
    let want = standard_error(&two.concat()).unwrap() * 1_000.0 / 180.0;
    assert!((f.us_per_chunk_se.unwrap() - want).abs() < 1e-9);
    // The figures themselves keep every window, in order, and each drive's slope: the
    // k-th long drive against the k-th short one.
    assert_eq!(f.long_window_ms_per_conversation.len(), 20);
    assert_eq!(
        f.drive_us_per_chunk,
        Vec::<f64>::new(),
        "6 short drives, 2 long"
    );
    let f = figures(&short, &long, 0.0, CpuMethod::CgroupV1).unwrap();
    let first = (long[0][0] - short[0][0]) * 1_000.0 / 180.0;
    assert_eq!(f.drive_us_per_chunk.len(), 6);
    assert!((f.drive_us_per_chunk[0] - first).abs() < 1e-9);
}

#[test]
fn the_proofs_plan_pairs_enough_drives_of_each_twin() {
    let quick = CpuLoadPlan::new(true, true);
    let plan = quick.clone().for_proofs(true);
    let order = alternation(2, plan.blocks);
    let drives = |twin: usize| order.iter().filter(|&&s| s == twin).count();
    assert_eq!(drives(0), drives(1));
    assert!(drives(0) >= MIN_DRIVES_FOR_ERROR);
    // Each pair's two drives run next to each other: A B, B A, A B, ...
    assert!(order.chunks(2).all(|pair| pair[0] != pair[1]));
    assert!(
        plan.long_windows >= 2 && plan.windows >= 2,
        "a drive's own error needs two"
    );
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
        drive_windows: vec![2, 1],
        errors: 0,
    };
    // 10 ms/s idle over a 1 s window leaves 20 ms for what the window served; a window
    // that served nothing gives no figure. The windows stay with their drives.
    let per = per_conversation(&w, 10_000_000.0, Duration::from_secs(1));
    assert_eq!(per, vec![vec![1.0, 2.0], vec![]]);
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
