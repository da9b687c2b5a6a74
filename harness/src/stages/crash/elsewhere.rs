//! The crash matrix of a deployment the harness did not start (`crash --target NAME=URL
//! --mock-url URL`): the faults a client and the mock can play from outside run on the one
//! deployment in turn, through the same watch and reader runs as a started backend's
//! ([`super::fault_run::watch`], [`super::readers`]); the runtime faults only through the
//! owner's `--control` command ([`super::control`]); the faults that depend on the flags the
//! deployment was started with are not applicable (docs/distributed.md#soak-and-crash-against-a-target).

use std::time::Instant;

use anyhow::Result;
use contract::results::{CrashOutcome, Fault};

use super::control::{self, Aim, Control};
use super::env::{Elsewhere, Env, On};
use super::fault_run::{self, Inject};
use super::target::{Target, Timelines};
use super::{Settings, analysis, readers, table};

/// Why a fault on the target's processes is not played without a control command.
pub const NEEDS_CONTROL: &str = "external target: the fault acts on the target's processes, \
     which the harness cannot reach; give --control CMD to play it (docs/distributed.md#a-control-command)";
/// Why a fault that depends on how the target was started is not played.
pub const NEEDS_FLAGS: &str = "external target: the fault depends on flags the target was \
     started with (--enable-fault-injection, --idle-timeout-s), which the harness did not set";
/// Why the provider's side of the dead streams is absent without a shared clock.
pub const PROVIDER_NOT_READ: &str = "what the provider sent after each client's last delta is \
     not counted: the mock does not share this machine's clock";

/// Whether `fault` needs the target's processes or its start flags: not played from outside
/// without more (a control command plays the first kind).
pub fn needs_processes(fault: Fault) -> bool {
    control::plays(fault) || needs_flags(fault)
}

/// The fault tools and `stall` act through flags of the target's start.
fn needs_flags(fault: Fault) -> bool {
    matches!(fault, Fault::CrashTool | Fault::PanicTool | Fault::Stall)
}

/// What the external crash run needs besides the target.
#[derive(Debug)]
pub struct Plan<'a> {
    pub settings: &'a Settings,
    /// The mock the target was pointed at.
    pub mock_url: &'a str,
    pub control: Option<&'a Control>,
    pub http: reqwest::Client,
}

/// Plays each of `faults` on the target `name` at `url`, one after another; what could not be
/// played says why.
pub async fn play(
    name: &str,
    url: &str,
    plan: &Plan<'_>,
    faults: &[Fault],
) -> Result<Vec<(Fault, CrashOutcome)>> {
    let shared_clock = crate::external::shares_clock(plan.mock_url);
    let env = Env {
        on: On::Elsewhere(Elsewhere {
            name,
            url,
            control: plan.control,
        }),
        timelines: Timelines::at(plan.mock_url, shared_clock)?,
        http: plan.http.clone(),
        settings: plan.settings,
        tag_base: format!("crash.{}.{name}", std::process::id()),
    };
    let mut measured = Vec::new();
    for &fault in faults {
        let started = Instant::now();
        let outcome = if fault.is_reader_fault() {
            readers::measure(&env, fault).await
        } else {
            fault_run::measure(&env, fault).await
        };
        eprintln!(
            "[{name}] {fault}: {} ({:.1} s)",
            table::summary(&outcome),
            started.elapsed().as_secs_f64()
        );
        measured.push((fault, outcome));
    }
    Ok(measured)
}

/// One fault that is not a reader fault, on the deployment elsewhere.
pub(super) async fn measure(env: &Env<'_>, e: &Elsewhere<'_>, fault: Fault) -> CrashOutcome {
    let inject = if control::plays(fault) {
        match e.control {
            Some(c) => Inject::Control(
                c,
                Aim {
                    name: e.name,
                    url: e.url,
                },
            ),
            None => return CrashOutcome::not_applicable(NEEDS_CONTROL),
        }
    } else if needs_flags(fault) {
        return CrashOutcome::not_applicable(NEEDS_FLAGS);
    } else {
        Inject::Request
    };
    let tag = format!("{}.{}", env.tag_base, fault.name().trim_start_matches('_'));
    let mut target = Target::elsewhere(e.url);
    let mut observed = match fault_run::watch(env, fault, &mut target, inject, &tag).await {
        Ok(o) => o,
        Err(why) => return CrashOutcome::not_measured(why),
    };
    fault_run::settle(env, &mut observed).await;
    if !env.timelines.shared_clock {
        // The provider's send times are on the mock's clock: the analysis would read them as
        // this machine's. Without them the fault's moment is the injection (the client's clock).
        for s in observed
            .bystanders
            .iter_mut()
            .chain(observed.faulted.as_mut())
        {
            s.requests.clear();
        }
    }
    let mut out = analysis::outcome(&observed);
    if !env.timelines.shared_clock {
        out.provider = None;
        out.provider_cancelled = None;
        let note = out
            .note
            .take()
            .into_iter()
            .chain([PROVIDER_NOT_READ.to_owned()]);
        out.note = Some(note.collect::<Vec<_>>().join("; "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runtime_faults_and_the_start_flags_faults_stay_out_of_reach() {
        let from_outside: Vec<Fault> = Fault::ALL
            .into_iter()
            .filter(|&f| !needs_processes(f))
            .collect();
        assert_eq!(
            from_outside,
            [
                Fault::Http500,
                Fault::MalformedChunk,
                Fault::Truncated,
                Fault::ClientDisconnect,
                Fault::SlowReader,
                Fault::StalledReader,
                Fault::LongStream,
            ]
        );
        assert!(control::plays(Fault::KillRuntime) && control::plays(Fault::HangRuntime));
        assert!(!control::plays(Fault::Stall) && needs_processes(Fault::Stall));
    }
}
