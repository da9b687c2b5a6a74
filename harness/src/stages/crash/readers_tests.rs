//! The rules of [`super`] that need no backend: bounded or growing memory, the healthy
//! streams' change, a held-back provider, the words for the limit.

use super::*;
use crate::stages::crash::readers_mock::held_back;

fn at(ms: &[(u64, u64)]) -> Vec<(Duration, u64)> {
    ms.iter()
        .map(|&(t, b)| (Duration::from_millis(t), b))
        .collect()
}

#[test]
fn memory_that_levelled_off_is_bounded_and_memory_that_climbs_is_not() {
    let watched = Duration::from_millis(4_000);
    let flat = at(&[
        (0, 100),
        (1_000, 180),
        (2_000, 200),
        (3_500, 200),
        (4_000, 201),
    ]);
    assert!(!still_growing(&flat, 100, watched));
    let climbing = at(&[
        (0, 100),
        (1_000, 150),
        (2_000, 200),
        (3_000, 250),
        (4_000, 300),
    ]);
    assert!(still_growing(&climbing, 100, watched));
    assert!(!still_growing(&at(&[(0, 90)]), 100, watched), "no growth");
}

#[test]
fn the_healthy_change_is_a_difference_of_medians_with_an_interval_around_it() {
    let clean = [100.0, 110.0, 105.0, 95.0, 102.0];
    let slower: Vec<f64> = clean.iter().map(|v| v + 50.0).collect();
    let (change, ci) = change_of_medians(&slower, &clean).unwrap();
    assert!((change - 50.0).abs() < 1e-9);
    let [lo, hi] = ci.unwrap();
    assert!(lo <= change && change <= hi && lo > 0.0, "[{lo}, {hi}]");
    assert_eq!(change_of_medians(&[1.0], &[2.0]), Some((-1.0, None)));
    assert_eq!(change_of_medians(&[], &clean), None);
}

#[test]
fn a_provider_is_held_back_when_an_open_answer_went_silent() {
    let s = 1_000_000_000;
    assert!(
        held_back(&[s, 2 * s], 10, 4 * s),
        "silent for 2 s, 8 frames due"
    );
    assert!(!held_back(&[s, 2 * s], 10, 2 * s + s / 2), "still sending");
    assert!(
        !held_back(&[s, 2 * s], 2, 9 * s),
        "complete: nothing was held"
    );
}

#[test]
fn the_limit_is_named_from_the_figures() {
    let mut o = CrashOutcome::measured();
    o.provider_throttled = Some(true);
    o.memory_still_growing = Some(false);
    assert!(at_limit(&o, 5_000_000).starts_with("bounded"));
    o.provider_throttled = Some(false);
    o.memory_still_growing = Some(true);
    assert!(at_limit(&o, 5_000_000).starts_with("unbounded"));
}

#[test]
fn a_provider_not_held_back_is_not_said_to_have_sent_everything() {
    let mut o = CrashOutcome::measured();
    o.provider_throttled = Some(false);
    o.memory_still_growing = Some(false);
    o.provider_sent_fraction = Some(0.19);
    let note = at_limit(&o, 58_700_000);
    assert!(note.contains("19% of the chunks sent"), "{note}");
    assert!(!note.contains("every chunk"), "{note}");
    o.provider_sent_fraction = Some(1.0);
    assert!(at_limit(&o, 1).contains("it sent every chunk"));
}
