//! `harness crash --target NAME=URL --mock-url URL [--control CMD]`: the crash matrix of a
//! deployment the harness did not start, after the suite passed against it
//! ([`super::stage::verify`]). The faults a client and the mock can play from outside (the
//! provider's faults, the client's hang-up, the reader faults) are measured on the one
//! deployment in turn ([`crate::stages::crash::elsewhere`]); the runtime faults only through a
//! control command; the fault tools and `stall`, which depend on the deployment's start flags,
//! are `not_applicable` (docs/distributed.md#soak-and-crash-against-a-target).

use std::time::Instant;

use anyhow::Result;
use contract::results::{CrashRun, Fault, stages};

use sut_kit::mock::Mock;

use super::stage::{Options, verify};
use crate::procfs;
use crate::run_dir::RunDir;
use crate::stages::crash::control::Control;
use crate::stages::crash::{Settings, elsewhere};

pub use crate::stages::crash::elsewhere::needs_processes;

/// Every fault, those a control command plays last: all play on the one deployment, and a
/// runtime left stopped by `hang-runtime` (nothing resumes it unless its supervisor does) would
/// otherwise be what every later fault meets.
pub fn default_order() -> Vec<Fault> {
    let mut all = Fault::ALL.to_vec();
    all.sort_by_key(|&f| crate::stages::crash::control::plays(f));
    all
}

/// Verifies every target and records each of `faults` (all, in [`default_order`], when empty) in
/// `backends.<NAME>.crash`, and the run's settings in `crash`; returns how many targets
/// passed the suite.
pub async fn run(
    run: &mut RunDir,
    mock: &Mock,
    opts: &Options,
    faults: &[Fault],
    settings: &Settings,
    control: Option<&Control>,
) -> Result<usize> {
    let started = Instant::now();
    let load_avg_start = procfs::load_average();
    let verified = verify(run, mock, opts, stages::CRASH).await?;
    let faults = if faults.is_empty() {
        default_order()
    } else {
        faults.to_vec()
    };
    let plan = elsewhere::Plan {
        settings,
        mock_url: &opts.mock_url,
        control,
        http: sut_kit::client::http_client()?,
    };
    for target in &verified {
        let measured = elsewhere::play(&target.name, &target.url, &plan, &faults).await?;
        let entry = run.results.backend_mut(&target.name);
        for (fault, outcome) in measured {
            entry.crash.insert(fault.name().to_owned(), outcome);
        }
        run.save()?;
    }
    if !verified.is_empty() {
        run.results.crash = Some(CrashRun {
            load_avg_end: procfs::load_average(),
            wall_s: started.elapsed().as_secs_f64(),
            ..crate::stages::crash::run_record(settings, opts.ctx.quick, None, load_avg_start)
        });
        run.save()?;
    }
    Ok(verified.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_every_fault_plays_and_the_runtimes_come_last() {
        let order = default_order();
        assert_eq!(order.len(), Fault::ALL.len());
        assert_eq!(
            &order[order.len() - 2..],
            [Fault::KillRuntime, Fault::HangRuntime]
        );
    }
}
