//! `harness crash --target NAME=URL --mock-url URL`: the crash matrix of a deployment the
//! harness did not start, after the suite passed against it ([`super::stage::verify`]). The
//! runtime faults act on the target's processes and the tool faults and `stall` on how it was
//! started (`--enable-fault-injection`, `--idle-timeout-s`): those are `not_applicable` with
//! that reason. The provider's faults, the client's disconnect and the reader faults could be
//! played from outside (through the mock's answer or the client), but their measurement reads
//! the instance's processes and the harness's own mock process: they are `not_measured` until
//! that is separated (docs/distributed.md#soak-and-crash-against-a-target).

use anyhow::Result;
use contract::results::{CrashOutcome, Fault, stages};

use sut_kit::mock::Mock;

use super::stage::{Options, verify};
use crate::run_dir::RunDir;

/// Why a fault on the target's processes or start flags is not played.
pub const NEEDS_PROCESSES: &str = "external target: the fault needs the target's processes or \
     its start flags, which the harness did not set";
/// Why a fault that a client and the mock could play is not played yet.
pub const NOT_BUILT: &str = "external target: the fault could be played from outside, but its \
     measurement reads the instance's processes and the harness's own mock; not yet built for a \
     target elsewhere";

/// Whether `fault` needs the target's processes (its runtime) or its start flags (the fault
/// tools, the idle timeout `stall` waits for).
pub fn needs_processes(fault: Fault) -> bool {
    matches!(
        fault,
        Fault::KillRuntime
            | Fault::HangRuntime
            | Fault::CrashTool
            | Fault::PanicTool
            | Fault::Stall
    )
}

/// What each fault is for an external target.
pub fn outcome(fault: Fault) -> CrashOutcome {
    if needs_processes(fault) {
        CrashOutcome::not_applicable(NEEDS_PROCESSES)
    } else {
        CrashOutcome::not_measured(NOT_BUILT)
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
    fn only_faults_on_the_targets_processes_are_not_applicable() {
        for fault in Fault::ALL {
            let o = outcome(fault);
            let expected = if needs_processes(fault) {
                Applicability::NotApplicable
            } else {
                Applicability::NotMeasured
            };
            assert_eq!(o.applicability, expected, "{fault}");
            assert!(o.note.is_some());
        }
        assert!(!needs_processes(Fault::SlowReader) && !needs_processes(Fault::Http500));
        assert!(needs_processes(Fault::KillRuntime));
    }
}
