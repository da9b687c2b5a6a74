//! The proofs over several runs (docs/proofs-study.md). Two proofs carry a figure
//! whose tolerance sits at this machine's run-to-run noise (the burn read within ± 5 µs, the
//! burnt capacity within 15% of its prediction): their figures are averaged over the runs and
//! judged on the mean's interval. The others are a verdict per run (a search's bracket, an
//! interval's overlap): judged by a sign test, which holds a proof when it held in more runs
//! than a coin would give.

use contract::results::{PooledProof, Results};

use super::{CAPACITY_TOLERANCE, evaluate};
use crate::stages::bench::capacity::{CPU_CHECK_ABS_US, CPU_CHECK_REL};
use crate::stats;

/// A sign test's level: a proof holds over the runs when the chance of it holding in that many
/// runs by a coin's toss is under this (five runs of five: 1/32).
pub const SIGN_TEST_ALPHA: f64 = 0.05;
/// Runs a mean is judged from: with two, Student's t is 12.7 and the interval says nothing.
pub const MIN_RUNS_FOR_MEAN: usize = 3;

const BURN_READ: &str = "cpu-burn-read";
const BURN_CAPACITY: &str = "cpu-burn-capacity";

/// One run's results, by the name of its folder.
#[derive(Debug)]
pub struct StudiedRun {
    pub id: String,
    pub results: Results,
}

/// Every proof of [`evaluate`] over `runs`, in its order. A run that did not record a proof
/// counts as undecided for it.
pub fn pool(runs: &[StudiedRun], backend: &str, injected_us: f64) -> Vec<PooledProof> {
    let names: Vec<(String, String)> = match runs.first() {
        Some(r) => evaluate(&r.results, backend)
            .into_iter()
            .map(|p| (p.name, p.requirement))
            .collect(),
        None => return Vec::new(),
    };
    names
        .into_iter()
        .map(|(name, requirement)| {
            let verdicts: Vec<Option<bool>> =
                runs.iter().map(|r| recorded(&r.results, &name)).collect();
            let figure = match name.as_str() {
                BURN_READ => Some(burn_read(runs, backend, injected_us)),
                BURN_CAPACITY => Some(burn_capacity(runs, backend)),
                _ => None,
            };
            match figure {
                Some(f) => by_mean(name, requirement, verdicts, f),
                None => by_sign_test(name, requirement, verdicts),
            }
        })
        .collect()
}

/// The verdict the run's results carry for `name` (a study reads them again first,
/// `study::studied_run`).
fn recorded(results: &Results, name: &str) -> Option<bool> {
    results
        .bench
        .as_ref()
        .and_then(|b| b.proofs.iter().find(|p| p.name == name))
        .and_then(|p| p.holds)
}

/// A proof's figure in each run that has it, the range it must lie in, and its unit.
struct Figure {
    values: Vec<f64>,
    accepted: [f64; 2],
    what: &'static str,
    unit: &'static str,
}

fn burn_read(runs: &[StudiedRun], backend: &str, injected_us: f64) -> Figure {
    let tolerance = CPU_CHECK_ABS_US.max(CPU_CHECK_REL * injected_us);
    Figure {
        values: runs
            .iter()
            .filter_map(|r| {
                let bench = r.results.bench.as_ref()?;
                let check = bench.cpu_self_check.iter().find(|c| c.backend == backend)?;
                Some(check.measured_us)
            })
            .collect(),
        accepted: [injected_us - tolerance, injected_us + tolerance],
        what: "the burn read",
        unit: " µs/chunk",
    }
}

/// Observed over predicted capacity per core of the burnt instance, in the runs where it was
/// not generator-bound.
fn burn_capacity(runs: &[StudiedRun], backend: &str) -> Figure {
    Figure {
        values: runs
            .iter()
            .filter_map(|r| {
                let c = r.results.backends.get(backend)?.capacity.as_ref()?;
                let (o, p) = c.per_core_rps_observed.zip(c.per_core_rps_predicted)?;
                (!c.generator_bound && p > 0.0).then_some(o / p)
            })
            .collect(),
        accepted: [1.0 - CAPACITY_TOLERANCE, 1.0 + CAPACITY_TOLERANCE],
        what: "observed / predicted capacity",
        unit: "",
    }
}

fn by_mean(
    name: String,
    requirement: String,
    verdicts: Vec<Option<bool>>,
    f: Figure,
) -> PooledProof {
    let interval = (f.values.len() >= MIN_RUNS_FOR_MEAN)
        .then(|| stats::mean_t_interval(&f.values))
        .flatten();
    let [lo, hi] = f.accepted;
    let (measured, mean, ci95, holds) = match interval {
        Some((mean, [a, b])) => {
            let holds = if lo <= a && b <= hi {
                Some(true)
            } else if b < lo || a > hi {
                Some(false)
            } else {
                None
            };
            (
                format!(
                    "{} over {} runs: mean {mean:.2}{u} [{a:.2}, {b:.2}], required within \
                     [{lo:.2}, {hi:.2}]; each run {}",
                    f.what,
                    f.values.len(),
                    list(&f.values),
                    u = f.unit
                ),
                Some(mean),
                Some([a, b]),
                holds,
            )
        }
        None => (
            format!(
                "{} in {} run(s), fewer than {MIN_RUNS_FOR_MEAN}: {}",
                f.what,
                f.values.len(),
                list(&f.values)
            ),
            None,
            None,
            None,
        ),
    };
    PooledProof {
        name,
        requirement,
        verdicts,
        method: "mean".to_owned(),
        values: f.values,
        mean,
        ci95,
        accepted: Some(f.accepted),
        p_value: None,
        measured,
        holds,
    }
}

fn by_sign_test(name: String, requirement: String, verdicts: Vec<Option<bool>>) -> PooledProof {
    let held = verdicts.iter().filter(|v| **v == Some(true)).count();
    let failed = verdicts.iter().filter(|v| **v == Some(false)).count();
    let decided = held + failed;
    let (p_hold, p_fail) = (
        stats::sign_test_p(held, decided),
        stats::sign_test_p(failed, decided),
    );
    let holds = if decided > 0 && p_hold < SIGN_TEST_ALPHA {
        Some(true)
    } else if decided > 0 && p_fail < SIGN_TEST_ALPHA {
        Some(false)
    } else {
        None
    };
    let p_value = (decided > 0).then(|| p_hold.min(p_fail));
    let measured = format!(
        "held in {held}, failed in {failed}, undecided in {} of {} runs; sign test p = {}",
        verdicts.len() - decided,
        verdicts.len(),
        p_value.map_or("-".to_owned(), |p| format!("{p:.3}"))
    );
    PooledProof {
        name,
        requirement,
        verdicts,
        method: "sign-test".to_owned(),
        values: Vec::new(),
        mean: None,
        ci95: None,
        accepted: None,
        p_value,
        measured,
        holds,
    }
}

fn list(values: &[f64]) -> String {
    let each: Vec<String> = values.iter().map(|v| format!("{v:.2}")).collect();
    each.join(", ")
}

#[cfg(test)]
mod tests;
