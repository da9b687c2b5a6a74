//! What a sequence of `gate --against` waits for, look by look: the first sequence, the primary
//! metric of every backend it measures (docs/gate.md#the-sequential-test); a confirmation, what
//! the first judged a regression on a judged backend (docs/gate.md#confirmation), a secondary
//! metric among them only until every primary metric has its final verdict and it has had as
//! many rounds as the first sequence took to flag it
//! (docs/gate.md#a-secondary-metrics-confirmation). The decision after each look is here, apart
//! from the clock and the rounds, so that it is the same on synthetic sequences as on measured
//! ones.

use super::decide::{Decision, Judgement};
use super::metrics::Metric;
use super::sequential;

/// Why a sequence stopped adding rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Every metric waited for was judged.
    Judged,
    /// Every primary metric was judged and the secondary ones still open had their rounds
    /// (docs/gate.md#a-secondary-metrics-confirmation).
    SecondaryRounds,
    /// The design's last look was taken.
    LastLook,
    /// The next look would not have fitted in the time limit.
    Budget,
}

/// What a sequence waits for before it stops adding rounds.
#[derive(Debug, Clone, PartialEq)]
pub enum Waits {
    /// The first sequence: the primary metric of every backend measured.
    Primaries,
    /// A confirmation: each metric the first sequence judged a regression on a judged backend.
    /// A secondary one is waited for only while a primary one is not judged, or until the
    /// confirmation has measured `secondary_rounds` rounds (the first sequence's).
    Confirming {
        metrics: Vec<(String, Metric)>,
        secondary_rounds: usize,
    },
}

/// Where a sequence stands after a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// The metrics still waited for and not judged.
    pub undecided: usize,
    /// Why the sequence stops here; `None`: it goes on, if the time allows.
    pub stop: Option<Stop>,
}

impl Waits {
    /// The confirmation of what `first` (the first sequence's verdicts, after `first_rounds`
    /// rounds) judged a regression on one of the `judged` backends (the control's regressions
    /// are not confirmed: they say the machine moved). `None` when it judged none.
    pub fn confirming(first: &[Judgement], judged: &[String], first_rounds: usize) -> Option<Self> {
        let metrics: Vec<(String, Metric)> = first
            .iter()
            .filter(|j| j.decision == Decision::Regression && judged.contains(&j.backend))
            .map(|j| (j.backend.clone(), j.metric))
            .collect();
        (!metrics.is_empty()).then_some(Waits::Confirming {
            metrics,
            secondary_rounds: first_rounds,
        })
    }

    /// The metrics a confirmation confirms (none for the first sequence).
    pub fn confirmed(&self) -> &[(String, Metric)] {
        match self {
            Waits::Primaries => &[],
            Waits::Confirming { metrics, .. } => metrics,
        }
    }

    fn waits_for(&self, j: &Judgement) -> bool {
        match self {
            Waits::Primaries => j.metric.is_primary(),
            Waits::Confirming { metrics, .. } => metrics
                .iter()
                .any(|(b, m)| &j.backend == b && j.metric == *m),
        }
    }

    /// After look `look` (0-based) at `rounds` rounds judged `judgements`: how many metrics it
    /// still waits for, and whether it stops. A primary metric is always waited for until it is
    /// judged; a secondary one in a confirmation is released once every primary metric it
    /// confirms is judged at this look (the others' verdicts are the first sequence's, final
    /// since it stopped) and `rounds` reaches the first sequence's.
    pub fn after_look(&self, judgements: &[Judgement], rounds: usize, look: usize) -> Look {
        let open = |primary: bool| {
            judgements
                .iter()
                .filter(|j| self.waits_for(j) && j.metric.is_primary() == primary)
                .filter(|j| matches!(j.decision, Decision::CouldNotJudge(_)))
                .count()
        };
        let (primaries, secondaries) = (open(true), open(false));
        let released = match self {
            Waits::Primaries => false,
            Waits::Confirming {
                secondary_rounds, ..
            } => primaries == 0 && secondaries > 0 && rounds >= *secondary_rounds,
        };
        let undecided = primaries + if released { 0 } else { secondaries };
        let stop = if undecided == 0 {
            Some(if released {
                Stop::SecondaryRounds
            } else {
                Stop::Judged
            })
        } else if look + 1 >= sequential::MAX_LOOKS {
            Some(Stop::LastLook)
        } else {
            None
        };
        Look { undecided, stop }
    }
}

#[cfg(test)]
#[path = "waits_tests.rs"]
mod tests;
