//! The rule of docs/gate.md#a-secondary-metrics-confirmation on synthetic sequences: rounds of
//! made-up paired differences, judged look by look by the gate's own test
//! ([`sequential::judge`]) and stopped by [`Waits::after_look`], as `against::looks` does when
//! time is plenty.

use std::collections::BTreeMap;

use super::*;
use crate::gate::sequential::{ROUNDS_PER_LOOK, confirm, judge, rounds_at_look};

const UNIX: &str = "unix";
const P50: Metric = Metric::ChunkOverheadP50;
const P99: Metric = Metric::ChunkOverheadP99;

/// One metric's made-up rounds: round `i`'s head − base difference is `diff(i)`, the base 0.
struct Synthetic {
    metric: Metric,
    diff: fn(usize) -> f64,
}

/// What a synthetic sequence ended with.
struct Ended {
    judgements: Vec<Judgement>,
    rounds: usize,
    stop: Stop,
}

/// A sequence of looks at the design's rounds (`rounds_at_look`), each judging every metric on
/// the rounds so far, until `waits` stops it.
fn sequence(waits: &Waits, metrics: &[Synthetic]) -> Ended {
    let mut look = 0;
    loop {
        let rounds = rounds_at_look(look);
        let judgements: Vec<Judgement> = metrics
            .iter()
            .map(|s| {
                let base: BTreeMap<u32, f64> = (0..rounds as u32).map(|r| (r, 0.0)).collect();
                let head = (0..rounds).map(|r| (r as u32, (s.diff)(r))).collect();
                judge(UNIX, s.metric, &base, &head)
            })
            .collect();
        if let Some(stop) = waits.after_look(&judgements, rounds, look).stop {
            return Ended {
                judgements,
                rounds,
                stop,
            };
        }
        look += 1;
    }
}

fn decision(ended: &[Judgement], metric: Metric) -> &Decision {
    &ended.iter().find(|j| j.metric == metric).unwrap().decision
}

fn not_confirmed(d: &Decision) -> bool {
    matches!(d, Decision::CouldNotJudge(why) if why.starts_with("not confirmed"))
}

/// Noise about zero, a spread of ±`width`, every value once in each 19 rounds (a fixed
/// shuffle, so that no look sees one side of it only).
fn around(centre: f64, width: f64, i: usize) -> f64 {
    centre + width * ((i * 7 % 19) as f64 / 9.0 - 1.0)
}

/// A primary metric that no change moved, judged a pass only after a few looks.
fn slow_pass(i: usize) -> f64 {
    around(0.0, 0.5, i)
}
/// A difference well above the threshold: judged a regression at the first look.
fn clear_regression(i: usize) -> f64 {
    around(1.5, 0.1, i)
}
/// Wild rounds about the threshold: never judged.
fn never_judged(i: usize) -> f64 {
    around(0.25, 6.0, i)
}

/// The A/A trial of study 7's footnote 10, made up: the primary passes after a few looks while
/// the first sequence flags the p99; then the p99's confirmation cannot judge it.
fn first_flags_the_p99() -> Ended {
    let first = sequence(
        &Waits::Primaries,
        &[
            Synthetic {
                metric: P50,
                diff: slow_pass,
            },
            Synthetic {
                metric: P99,
                diff: clear_regression,
            },
        ],
    );
    assert_eq!(first.stop, Stop::Judged);
    assert_eq!(decision(&first.judgements, P50), &Decision::Pass);
    assert_eq!(decision(&first.judgements, P99), &Decision::Regression);
    assert!(first.rounds > rounds_at_look(0), "{} rounds", first.rounds);
    first
}

#[test]
fn a_flagged_secondary_the_confirmation_cannot_judge_stops_at_the_first_sequences_rounds() {
    let first = first_flags_the_p99();
    let waits = Waits::confirming(&first.judgements, &[UNIX.into()], first.rounds).unwrap();
    assert_eq!(waits.confirmed(), &[(UNIX.to_owned(), P99)]);
    let p99 = [Synthetic {
        metric: P99,
        diff: never_judged,
    }];
    let second = sequence(&waits, &p99);
    assert_eq!(second.stop, Stop::SecondaryRounds);
    // The first look at or past the first sequence's rounds, not the design's last.
    assert!(second.rounds >= first.rounds, "{}", second.rounds);
    assert!(second.rounds < first.rounds + ROUNDS_PER_LOOK);
    assert!(second.rounds < sequential::max_rounds());
    // Reported as any regression the second sequence did not find: not confirmed, with both
    // sequences' figures; the primary keeps the first sequence's pass.
    let verdicts = confirm(&first.judgements, &second.judgements);
    assert_eq!(decision(&verdicts, P50), &Decision::Pass);
    let p99_verdict = decision(&verdicts, P99);
    assert!(not_confirmed(p99_verdict), "{p99_verdict:?}");
    // Without the rule the same confirmation runs to the design's last look.
    let Waits::Confirming { metrics, .. } = waits else {
        unreachable!()
    };
    let unbounded = Waits::Confirming {
        metrics,
        secondary_rounds: usize::MAX,
    };
    let ran_on = sequence(&unbounded, &p99);
    assert_eq!(ran_on.stop, Stop::LastLook);
    assert_eq!(ran_on.rounds, sequential::max_rounds());
}

#[test]
fn a_secondary_confirmed_within_its_rounds_is_a_regression() {
    let first = first_flags_the_p99();
    let waits = Waits::confirming(&first.judgements, &[UNIX.into()], first.rounds).unwrap();
    let second = sequence(
        &waits,
        &[Synthetic {
            metric: P99,
            diff: clear_regression,
        }],
    );
    assert_eq!(second.stop, Stop::Judged);
    assert!(second.rounds < first.rounds);
    let verdicts = confirm(&first.judgements, &second.judgements);
    assert_eq!(decision(&verdicts, P99), &Decision::Regression);
}

#[test]
fn a_primary_confirmation_is_never_cut_by_the_secondarys_rounds() {
    // The first sequence flags both at its first look: the p99's rounds (10) are reached at
    // the confirmation's first look, while the primary is not judged.
    let first = sequence(
        &Waits::Primaries,
        &[
            Synthetic {
                metric: P50,
                diff: clear_regression,
            },
            Synthetic {
                metric: P99,
                diff: clear_regression,
            },
        ],
    );
    assert_eq!(first.rounds, rounds_at_look(0));
    let waits = Waits::confirming(&first.judgements, &[UNIX.into()], first.rounds).unwrap();
    // A primary never judged holds the confirmation to the design's last look.
    let second = sequence(
        &waits,
        &[
            Synthetic {
                metric: P50,
                diff: never_judged,
            },
            Synthetic {
                metric: P99,
                diff: never_judged,
            },
        ],
    );
    assert_eq!(second.stop, Stop::LastLook);
    assert_eq!(second.rounds, sequential::max_rounds());
    // A primary judged after a few looks: the confirmation stops at that look, not before,
    // and its verdict is the one that look reached.
    let slow_regression = |i| around(1.0, 1.0, i);
    let second = sequence(
        &waits,
        &[
            Synthetic {
                metric: P50,
                diff: slow_regression,
            },
            Synthetic {
                metric: P99,
                diff: never_judged,
            },
        ],
    );
    assert_eq!(second.stop, Stop::SecondaryRounds);
    assert!(second.rounds > rounds_at_look(0), "{}", second.rounds);
    let verdicts = confirm(&first.judgements, &second.judgements);
    assert_eq!(decision(&verdicts, P50), &Decision::Regression);
    assert!(not_confirmed(decision(&verdicts, P99)));
}

#[test]
fn a_secondary_is_released_only_when_every_primary_it_waits_beside_is_judged() {
    let j = |metric, decision| Judgement {
        backend: UNIX.into(),
        metric,
        baseline: None,
        current: None,
        change: None,
        ci95: None,
        decision,
    };
    let open = || Decision::CouldNotJudge("wide".into());
    let waits = Waits::Confirming {
        metrics: vec![(UNIX.into(), P50), (UNIX.into(), P99)],
        secondary_rounds: 16,
    };
    let at = |p50, p99, rounds, look| waits.after_look(&[j(P50, p50), j(P99, p99)], rounds, look);
    // The primary open: both waited for, whatever the rounds.
    let look = at(open(), open(), 40, 5);
    assert_eq!((look.undecided, look.stop), (2, None));
    // The primary judged, the secondary short of its rounds: it is still waited for.
    let look = at(Decision::Regression, open(), 10, 0);
    assert_eq!((look.undecided, look.stop), (1, None));
    // At its rounds: released.
    let look = at(Decision::Pass, open(), 16, 1);
    assert_eq!(
        (look.undecided, look.stop),
        (0, Some(Stop::SecondaryRounds))
    );
    // Both judged: an ordinary stop.
    let look = at(Decision::Regression, Decision::Regression, 10, 0);
    assert_eq!(look.stop, Some(Stop::Judged));
    // The first sequence never waits for a secondary metric, and stops at its last look.
    let first = Waits::Primaries.after_look(&[j(P50, Decision::Pass), j(P99, open())], 10, 0);
    assert_eq!(first.stop, Some(Stop::Judged));
    let last = Waits::Primaries.after_look(&[j(P50, open())], 52, sequential::MAX_LOOKS - 1);
    assert_eq!(last.stop, Some(Stop::LastLook));
}
