//! How long each stage of `compare` may take on the two-core machine the project is measured
//! on, and the record of how long it did take. A stage past its budget is a warning, not a
//! failure: the machine is shared and noisy, and a slow stage still measured what it measured.
//! The budgets and their reasons: docs/architecture.md#budgets.

use std::time::Instant;

use contract::results::stages;
use contract::results::{Results, StageTime};

/// What a built `compare --quick` may take in all: five minutes, so that CI, which runs it after
/// the tests, stays within its 35 (docs/architecture.md#budgets).
pub const QUICK_TOTAL_S: f64 = 300.0;

/// One stage's budgets, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub stage: &'static str,
    /// In `compare --quick`, once built.
    pub quick_s: f64,
    /// In a full `compare`, once built.
    pub full_s: f64,
}

/// The budgets (docs/architecture.md#budgets). The quick ones add up to the five minutes a built
/// `compare --quick` is held to, each a few seconds over what its stage took or is expected to
/// take on an idle machine; the build stage has none, since a fresh clone compiles for many
/// minutes and an up-to-date one takes seconds.
pub const BUDGETS: &[Budget] = &[
    Budget {
        stage: stages::CONFORMANCE,
        quick_s: 29.0,
        full_s: 120.0,
    },
    Budget {
        stage: stages::BROWSER,
        quick_s: 27.0,
        full_s: 240.0,
    },
    Budget {
        stage: stages::BENCH,
        quick_s: 110.0,
        full_s: 900.0,
    },
    Budget {
        stage: stages::START,
        quick_s: 4.0,
        full_s: 60.0,
    },
    Budget {
        stage: stages::CRASH,
        quick_s: 34.0,
        full_s: 300.0,
    },
    Budget {
        stage: stages::SOAK,
        quick_s: 63.0,
        full_s: 660.0,
    },
    Budget {
        stage: stages::EVIDENCE,
        quick_s: 29.0,
        full_s: 120.0,
    },
    // Quick: the stage records why it left the containers out (docs/deploy.md#in-ci). Full:
    // 220 s for the four architectures with the base cached, at load 9, plus 100 s to build
    // the base when its inputs changed (docs/deploy.md#run).
    Budget {
        stage: stages::DEPLOY,
        quick_s: 1.0,
        full_s: 420.0,
    },
    Budget {
        stage: stages::COST,
        quick_s: 1.0,
        full_s: 5.0,
    },
    Budget {
        stage: stages::REPORT,
        quick_s: 1.0,
        full_s: 20.0,
    },
];

/// The budget of `stage` in a quick or a full run; `None` for a stage without one.
pub fn budget(stage: &str, quick: bool) -> Option<f64> {
    BUDGETS
        .iter()
        .find(|b| b.stage == stage)
        .map(|b| if quick { b.quick_s } else { b.full_s })
}

/// Times one stage; [`StageTimer::finish`] records it in the run's results and says on stderr
/// when it ran past its budget.
#[derive(Debug)]
pub struct StageTimer {
    stage: &'static str,
    quick: bool,
    started: Instant,
}

impl StageTimer {
    pub fn start(stage: &'static str, quick: bool) -> Self {
        Self {
            stage,
            quick,
            started: Instant::now(),
        }
    }

    /// Appends the stage's time to `results.stages` and returns it.
    pub fn finish(self, results: &mut Results) -> StageTime {
        let time = StageTime {
            stage: self.stage.to_owned(),
            seconds: self.started.elapsed().as_secs_f64(),
            budget_s: budget(self.stage, self.quick),
        };
        if let (true, Some(b)) = (time.over_budget(), time.budget_s) {
            eprintln!(
                "\ncompare: warning: the {} stage took {:.0} s, over its budget of {b:.0} s \
                 (docs/architecture.md#budgets)",
                time.stage, time.seconds
            );
        }
        results.stages.push(time.clone());
        time
    }
}

/// One line per timed stage: its time, its budget, and whether it ran over.
pub fn write_table(out: &mut impl std::io::Write, times: &[StageTime]) -> std::io::Result<()> {
    let width = times.iter().map(|t| t.stage.len()).max().unwrap_or(0);
    for t in times {
        let budget = t
            .budget_s
            .map_or_else(|| "no budget".to_owned(), |b| format!("budget {b:>4.0} s"));
        let over = if t.over_budget() { "  OVER" } else { "" };
        writeln!(
            out,
            "{:width$}  {:>6.1} s  {budget}{over}",
            t.stage, t.seconds
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_budgets_fit_the_five_minutes_of_a_built_quick_compare() {
        let total: f64 = BUDGETS.iter().map(|b| b.quick_s).sum();
        assert!(total <= QUICK_TOTAL_S, "quick budgets add up to {total} s");
        assert!(BUDGETS.iter().all(|b| b.quick_s < b.full_s));
    }

    #[test]
    fn a_stage_without_a_budget_has_none() {
        assert_eq!(budget(stages::BUILD, true), None);
        assert_eq!(budget(stages::BENCH, true), Some(110.0));
        assert_eq!(budget(stages::BENCH, false), Some(900.0));
    }
}
