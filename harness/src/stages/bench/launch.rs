//! Starting what the stage measures, and stopping it: which backends may be measured, the mock
//! pinned to its core, the references and the backends (with their clean and A/A twins), each
//! recorded as skipped where it cannot start (docs/bench.md#targets).

use anyhow::{Result, bail};
use contract::results::StageSkip;
use sut_kit::manifest::{Backend, Runtime};
use sut_kit::mock::{MockProcess, MockProcessOptions};
use sut_kit::orchestrate::StartSettings;

use super::options::Options;
use super::target::{AISDK_NODE, RELAY, Target};
use super::{STAGE, clean_reference, confine};
use crate::run_dir::RunDir;

/// The mock's real-time priority: above every normal task, below the kernel's own threads
/// (mock-provider/README.md measured what it buys on a shared machine).
const MOCK_PRIORITY: u8 = 10;

/// An explicitly named backend that cannot be measured, or nothing to measure at all, is the
/// harness failing its job, not a measurement.
pub(super) fn check_selection(
    backends: &[Backend],
    measured: &[Backend],
    opts: &Options,
) -> Result<()> {
    let skipped: Vec<&str> = backends
        .iter()
        .filter(|b| !measured.iter().any(|m| m.name() == b.name()))
        .map(Backend::name)
        .collect();
    if measured.is_empty() || (opts.ctx.explicit && !skipped.is_empty()) {
        bail!(
            "cannot measure {}: not verified by conformance on this build (see the skip reasons \
             above); run `harness conformance --backends {}` first, or pass --force",
            skipped.join(", "),
            skipped.join(",")
        );
    }
    if let Some((name, _)) = opts
        .inject_delay_us
        .iter()
        .find(|(n, _)| !measured.iter().any(|m| m.name() == n))
    {
        bail!("--inject-delay-us names `{name}`, which is not among the backends measured");
    }
    if let Some((name, _)) = opts
        .inject_cpu_us
        .iter()
        .find(|(n, _)| !measured.iter().any(|m| m.name() == n))
    {
        bail!("--inject-cpu-us names `{name}`, which is not among the backends measured");
    }
    Ok(())
}

/// Pin the mock to its own core at real-time priority where the machine allows it (root or
/// CAP_SYS_NICE, two cores or more); otherwise run it like any process, and say so.
pub fn mock_pinning() -> MockProcessOptions {
    // The machine's CPUs, not this process's: the stage pins itself to the client's CPUs first,
    // and the available parallelism follows that mask.
    let cores = confine::online_cpus().len();
    let allowed = std::process::Command::new("chrt")
        .args([
            "-f",
            &MOCK_PRIORITY.to_string(),
            "taskset",
            "-c",
            &confine::MOCK_CPU.to_string(),
            "true",
        ])
        .status()
        .is_ok_and(|s| s.success());
    MockProcessOptions {
        threads: Some(1),
        cpu: (allowed && cores >= 2).then_some(confine::MOCK_CPU),
        realtime_priority: (allowed && cores >= 2).then_some(MOCK_PRIORITY),
    }
}

/// `direct`, `aisdk-node` (when a Node backend is measured), each backend, and a clean instance
/// beside each backend run with an injected delay. A reference that cannot start is recorded as
/// skipped (the overheads against it stay absent); a backend that cannot start is an error.
pub(super) async fn start_targets(
    backends: &[Backend],
    launch: &StartSettings,
    log_dir: &std::path::Path,
    opts: &Options,
    run: &mut RunDir,
) -> Result<Vec<Target>> {
    let mut targets = vec![Target::direct(&launch.provider_url)];
    match Target::relay(launch, log_dir, opts.ctx.ready_timeout).await {
        Ok(t) => targets.push(t),
        Err(e) => {
            let reason = format!("{e:#}");
            eprintln!("bench: {RELAY} skipped: {reason}");
            run.results.backend_mut(RELAY).skipped.push(StageSkip {
                stage: STAGE.to_owned(),
                reason,
            });
        }
    }
    // The AI SDK alone on each runtime a measured Node backend runs on, the default's first.
    let mut runtimes: Vec<&str> = Vec::new();
    for b in backends
        .iter()
        .filter(|b| b.manifest.runtime == Runtime::Node)
    {
        if !runtimes.contains(&b.runtime_name()) {
            runtimes.push(b.runtime_name());
        }
    }
    runtimes.sort_by_key(|r| *r != contract::runtime::DEFAULT_RUNTIME);
    for runtime in runtimes {
        let name = contract::runtime::target_name(AISDK_NODE, runtime);
        match Target::aisdk_node(
            &opts.ctx.root,
            launch,
            log_dir,
            opts.ctx.ready_timeout,
            runtime,
        )
        .await
        {
            Ok(t) => targets.push(t),
            Err(e) => {
                let reason = format!("{e:#}");
                eprintln!("bench: {name} skipped: {reason}");
                run.results.backend_mut(&name).skipped.push(StageSkip {
                    stage: STAGE.to_owned(),
                    reason,
                });
            }
        }
    }
    for backend in backends {
        let name = backend.name();
        let delay = opts.inject_delay_us.iter().find(|(n, _)| n == name);
        let cpu = opts.inject_cpu_us.iter().find(|(n, _)| n == name);
        let mut extra = Vec::new();
        for (flag, injected) in [("--inject-delay-us", delay), ("--inject-cpu-us", cpu)] {
            if let Some((_, us)) = injected {
                extra.extend([flag.to_owned(), us.to_string()]);
            }
        }
        if !extra.is_empty() {
            extra.insert(0, "--enable-fault-injection".to_owned());
        }
        let injected = !extra.is_empty();
        // The A/A twin: the same backend with the same flags, under --proofs.
        let twin = (opts.proofs && cpu.is_some()).then(|| extra.clone());
        let started = Target::backend(backend, launch, log_dir, name, extra).await;
        let started = match started {
            // A runtime comparison's target that passed conformance but does not start now is
            // recorded, not the end of the stage for the default stack.
            Err(e) if backend.js_runtime.is_some() => {
                let reason = format!("{e:#}");
                eprintln!("bench: {name} skipped: {reason}");
                run.results.backend_mut(name).skipped.push(StageSkip {
                    stage: STAGE.to_owned(),
                    reason,
                });
                continue;
            }
            other => other?,
        };
        targets.push(started);
        if injected {
            let clean = clean_reference(name);
            targets.push(Target::backend(backend, launch, log_dir, &clean, vec![]).await?);
        }
        if let Some(extra) = twin {
            let aa = contract::results::aa_twin(name);
            targets.push(Target::backend(backend, launch, log_dir, &aa, extra).await?);
        }
        if !opts.pool.is_empty() {
            targets.extend(super::pool::targets(backend, launch, log_dir, opts).await?);
        }
    }
    eprintln!(
        "bench: measuring {}",
        targets
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(targets)
}

pub(super) async fn stop_all(targets: Vec<Target>, mock: MockProcess) {
    for t in targets {
        t.stop().await;
    }
    mock.stop().await;
}
