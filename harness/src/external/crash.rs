//! `harness crash --target NAME=URL --mock-url URL`: the crash matrix of a deployment the
//! harness did not start, after the suite passed against it ([`super::stage::verify`]). Every
//! fault but the reader faults acts on the target's processes (kills or hangs its runtime,
//! panics in a tool it was built with, answers from a provider it started), which are not this
//! machine's: those are `not_applicable` with that reason. The reader faults could be played
//! from outside but their measurement reads the instance's memory and the harness's own mock
//! process; they are `not_measured` until that is separated
//! (docs/distributed.md#soak-and-crash-against-a-target).

use anyhow::Result;
use contract::results::{CrashOutcome, Fault, stages};

use conformance::mock::Mock;

use super::stage::{Options, verify};
use crate::run_dir::RunDir;

/// Why a fault on the target's processes is not played.
pub const NEEDS_PROCESSES: &str =
    "external target: the fault acts on the target's processes, which the harness did not start";
/// Why a reader fault is not played yet.
pub const READERS_NOT_BUILT: &str = "external target: the reader faults' measurement reads the \
     instance's memory and the harness's own mock; not yet built for a target elsewhere";

/// What each fault is for an external target.
pub fn outcome(fault: Fault) -> CrashOutcome {
    if fault.is_reader_fault() {
        CrashOutcome::not_measured(READERS_NOT_BUILT)
    } else {
        CrashOutcome::not_applicable(NEEDS_PROCESSES)
    }
}

/// Verifies every target and records each of `faults` (all when empty) in
/// `backends.<NAME>.crash`; returns how many targets passed the suite.
pub async fn run(run: &mut RunDir, mock: &Mock, opts: &Options, faults: &[Fault]) -> Result<usize> {
    let verified = verify(run, mock, opts, stages::CRASH).await?;
    let faults = if faults.is_empty() {
        Fault::ALL.as_slice()
    } else {
        faults
    };
    for target in &verified {
        let entry = run.results.backend_mut(&target.name);
        for &fault in faults {
            let o = outcome(fault);
            eprintln!(
                "[{}] {fault}: {}",
                target.name,
                o.note.as_deref().unwrap_or("")
            );
            entry.crash.insert(fault.name().to_owned(), o);
        }
        run.save()?;
    }
    Ok(verified.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::Applicability;

    #[test]
    fn only_the_reader_faults_could_run_from_outside() {
        for fault in Fault::ALL {
            let o = outcome(fault);
            let expected = if fault.is_reader_fault() {
                Applicability::NotMeasured
            } else {
                Applicability::NotApplicable
            };
            assert_eq!(o.applicability, expected, "{fault}");
            assert!(o.note.is_some());
        }
    }
}
