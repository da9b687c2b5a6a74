//! `harness bench`: the one way the arena measures latency, load and resource cost
//! (docs/bench.md). Every backend that passed conformance on this build, and the two references
//! (`direct`, `aisdk-node`), run against one mock provider process (pinned to a core at real-time
//! priority where the machine allows), read by the test stack's one client:
//!
//! 1. calibration: the Unix-socket and TCP round trips and one napi call ([`calibration`]);
//! 2. interleaved latency rounds, every target in a fresh order each round ([`rounds`]);
//!    samples per hop from the client's receipts joined with the mock's timeline
//!    ([`observe`]), overheads as medians of per-round differences ([`record`]);
//! 3. the self-check, when `--inject-delay-us` asks for one;
//! 4. the pacing sweep ([`pacing`]), CPU at load ([`cpu_load`]), closed-loop load points and
//!    the saturation search ([`load`], [`sweep`], [`search`], [`steady`]), peak memory.
//!
//! The plan (how much of each) is [`plan`]; what goes into results.json is assembled in
//! [`results`]; the terminal table is [`table`].

pub mod calibration;
pub mod capacity;
pub mod confine;
pub mod cpu_load;
pub mod figures;
mod hlog;
pub mod load;
pub mod observe;
mod options;
mod pacer;
pub mod pacing;
pub mod plan;
pub mod proofs;
mod record;
mod results;
pub mod rounds;
pub mod sdk_timing;
pub mod search;
mod stage_entry;
pub use options::{Options, parse_injection};
pub use stage_entry::Bench;
pub mod steady;
mod sweep;
mod table;
pub mod target;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use conformance::manifest::{Backend, Runtime};
use conformance::mock::{MockProcess, MockProcessOptions};
use conformance::orchestrate::{self, StartSettings};
use contract::results::{BenchRun, BenchSettings, Confinement, StageSkip};

use crate::procfs;
use crate::progress::Progress;
use crate::provider;
use crate::run_dir::RunDir;
use crate::verify;
use target::{AISDK_NODE, DIRECT, RELAY, Target};

/// The hops and the reader of the histogram logs, for the report's percentile spectrum.
pub use figures::Hop;

pub const STAGE: &str = contract::results::stages::BENCH;
/// The mock's real-time priority: above every normal task, below the kernel's own threads
/// (mock-provider/README.md measured what it buys on a shared machine).
const MOCK_PRIORITY: u8 = 10;
/// The core the mock is pinned to; the client and the backends share the others.
const MOCK_CPU: usize = 0;
/// The nice value the stage runs at, its children (the targets) included: on a shared machine
/// the measured processes then win the CPU from other tenants' normal-priority work, all of them
/// alike (docs/bench.md#the-machine).
const BENCH_NICE: i32 = -10;

pub use contract::results::stages::{clean_reference, is_reference};

/// Runs the stage on `backends` and records it in `run`. An error means the stage could not do
/// its job (exit 2); what it measured is saved before it returns.
pub async fn run(backends: &[Backend], run: &mut RunDir, opts: &Options) -> Result<()> {
    let started = Instant::now();
    let profile = run.run().profile.clone();
    let measured = verify::verified_in_run(run, backends, &opts.ctx.root, STAGE, opts.ctx.force);
    run.save()?;
    check_selection(backends, &measured, opts)?;
    let mut plan = plan::Plan::new(opts.ctx.quick, opts.rounds, opts.load, opts.ctx.seed);
    if let Some(load) = plan.load.as_mut() {
        // The relay's proof needs its capacity, which a quick run does not search otherwise.
        load.search_references |= opts.proofs;
    }
    let log_dir = run.logs(STAGE);
    provider::ensure_built(&opts.ctx.root, &profile, &log_dir).await?;
    let niced = procfs::renice_self(BENCH_NICE);
    if niced.is_err() {
        eprintln!("bench: runs at normal priority (raising it needs root or CAP_SYS_NICE)");
    }
    let sut = opts
        .sut_cpus
        .clone()
        .unwrap_or_else(confine::default_sut_cpus);
    let client = confine::client_cpus(&sut);
    let me = [std::process::id()];
    let client_nice = rustix::process::getpriority_process(None).unwrap_or(0);
    let confined = Confinement {
        sut_cpus: sut.iter().map(|&c| c as u32).collect(),
        client_cpus: client.iter().map(|&c| c as u32).collect(),
        client_nice,
        sut_nice: confine::sut_nice(&sut, &client, client_nice),
        pinning: match confine::pin(&me, &client) {
            Ok(()) => "sched_setaffinity on every thread".to_owned(),
            Err(e) => format!("refused ({e}): every process runs on every CPU"),
        },
        ..Confinement::default()
    };
    let result = measure(&measured, run, opts, &plan, &log_dir, confined).await;
    let _ = confine::pin(&me, &confine::online_cpus());
    if let Ok(before) = niced {
        let _ = procfs::renice_self(before);
    }
    result?;
    if let Some(bench) = run.results.bench.as_mut() {
        bench.wall_s = started.elapsed().as_secs_f64();
    }
    run.save()?;
    let names = run
        .results
        .bench
        .as_ref()
        .map(|b| b.settings.targets.clone())
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    table::write(&mut out, &run.results, &names)?;
    if let Some(bench) = run.results.bench.as_ref().filter(|b| !b.proofs.is_empty()) {
        proofs::write(&mut out, &bench.proofs)?;
    }
    Ok(())
}

/// Everything between verifying and printing: the mock, the calibration, the targets, the
/// rounds and sweeps, and the results they give.
async fn measure(
    measured: &[Backend],
    run: &mut RunDir,
    opts: &Options,
    plan: &plan::Plan,
    log_dir: &std::path::Path,
    mut confinement: Confinement,
) -> Result<()> {
    let profile = run.run().profile.clone();
    let load_avg_start = procfs::load_average();
    let pinning = mock_pinning();
    confinement.mock_cpu = pinning.cpu.map(|c| c as u32);
    confinement.mock_rt_priority = pinning.realtime_priority;
    let mock = MockProcess::start_with(
        &opts.ctx.root,
        &profile,
        log_dir,
        opts.ctx.ready_timeout,
        &pinning,
    )
    .await
    .context("the mock provider did not start")?;
    eprintln!(
        "bench: mock provider {} (pid {})",
        if pinning.cpu.is_some() {
            "pinned to CPU 0 at real-time priority"
        } else {
            "unpinned (chrt/taskset not permitted here)"
        },
        mock.pid()
    );

    let root = opts.ctx.root.clone();
    let samples = plan.calibration_samples;
    let (calibration, problems) =
        tokio::task::spawn_blocking(move || calibration::measure(&root, samples))
            .await
            .context("the calibration panicked")?;
    for p in &problems {
        eprintln!("bench: calibration: {p}");
    }
    run.results.calibration = Some(calibration.clone());
    run.save()?;

    let launch = StartSettings {
        root: opts.ctx.root.clone(),
        profile: profile.clone(),
        provider_url: mock.openai_url(),
        api_key: orchestrate::api_key_canary(),
        ready_timeout: opts.ctx.ready_timeout,
        extra_args: vec![],
        // The AI SDK's own step timing, logged after each step and read after the rounds
        // (sdk_timing::read); off everywhere else.
        env: vec![(
            contract::sdk_timing::SDK_TIMING_ENV.to_owned(),
            "1".to_owned(),
        )],
    };
    let targets = start_targets(measured, &launch, log_dir, opts, run).await?;
    let meters = confine::targets(&targets, &mut confinement);
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let idle_memory: Vec<(String, procfs::MemoryUse)> = targets
        .iter()
        .map(|t| (t.name.clone(), procfs::memory(&t.pids())))
        .collect();

    let orders = crate::stats::round_orders(&names, plan.rounds.rounds, opts.ctx.seed);
    let http = conformance::client::http_client()?;
    let steps = (orders.len() * names.len()) as u64
        + plan.load.as_ref().map_or(0, |l| {
            sweep::steps(l, names.len())
                + cpu_load::steps(meters.len())
                + pacing::PacingPlan::new(opts.ctx.quick).steps(names.len())
        });
    let progress = Progress::new(STAGE, steps);
    let rounds = rounds::run(&targets, &mock, &http, &plan.rounds, &orders, &progress).await;
    let rounds = match rounds {
        Ok(r) => r,
        Err(e) => {
            progress.finish();
            stop_all(targets, mock).await;
            return Err(e);
        }
    };
    tokio::time::sleep(sdk_timing::SETTLE).await;
    let sdk_step = sdk_timing::read(log_dir, &names);
    let targets: Vec<Arc<Target>> = targets.into_iter().map(Arc::new).collect();
    let metered: Vec<cpu_load::Metered<'_>> = meters
        .iter()
        // A quick run leaves out the references' CPU at load: it does not search their
        // capacity either (docs/bench.md#cpu-at-load).
        .filter(|(name, _)| {
            !(opts.ctx.quick && name != DIRECT && target::is_shared_reference(name))
        })
        .filter(|(name, _)| !name.ends_with(contract::results::AA_SUFFIX))
        .filter_map(|(name, meter)| {
            let target = targets.iter().find(|t| &t.name == name)?;
            Some(cpu_load::Metered { target, meter })
        })
        .collect();
    let load_started = Instant::now();
    let pacing = match &plan.load {
        Some(_) => {
            let pacing_plan = pacing::PacingPlan::new(opts.ctx.quick);
            pacing::run(
                &targets,
                &mock,
                &http,
                &plan.rounds,
                &pacing_plan,
                opts.ctx.seed,
                &progress,
            )
            .await
        }
        None => Ok(Vec::new()),
    };
    let cpu_at_load = match (&plan.load, &pacing) {
        (Some(_), Ok(_)) => {
            let cpu_plan = cpu_load::CpuLoadPlan::new(opts.ctx.quick);
            cpu_load::run(&metered, &mock, &http, &plan.rounds, &cpu_plan, &progress).await
        }
        _ => Ok(Vec::new()),
    };
    drop(metered);
    let sweeps = match (&plan.load, &pacing, &cpu_at_load) {
        (Some(load_plan), Ok(_), Ok(cpu)) => {
            let sut_cores = confinement.sut_cpus.len();
            let mut start_rps: std::collections::BTreeMap<String, f64> = cpu
                .iter()
                .filter_map(|(name, f)| {
                    Some((
                        name.clone(),
                        capacity::start_rps(f.as_ref().ok()?, sut_cores)?,
                    ))
                })
                .collect();
            // An A/A twin is not metered (it would double the CPU at load's time): its search
            // starts where its first instance's does.
            for (name, _) in &opts.inject_cpu_us {
                if let Some(&rps) = start_rps.get(name) {
                    start_rps.insert(contract::results::aa_twin(name), rps);
                }
            }
            sweep::run(
                &targets,
                &mock,
                &http,
                &plan.rounds,
                load_plan,
                &start_rps,
                &progress,
            )
            .await
        }
        _ => Ok(sweep::SweepOutcome::default()),
    };
    progress.finish();
    let load_wall_s = plan
        .load
        .is_some()
        .then(|| load_started.elapsed().as_secs_f64());
    let targets: Vec<Target> = targets.into_iter().filter_map(Arc::into_inner).collect();
    let references = targets
        .iter()
        .map(|t| (t.name.clone(), (t.ipc_reference.clone(), t.ipc_hop)))
        .collect();
    stop_all(targets, mock).await;
    drop(meters);
    let sweeps = sweeps?;
    let cpu_at_load = cpu_at_load?;
    let pacing = pacing?;

    let bench = BenchRun {
        settings: BenchSettings {
            quick: opts.ctx.quick,
            rounds: plan.rounds.rounds as u32,
            requests_per_round: plan.rounds.per_round as u32,
            scenario: "text".to_owned(),
            chunks: plan.rounds.chunks,
            ttft_ms: plan.rounds.ttft_ms,
            gap_ms: plan.rounds.gap_ms,
            targets: names.clone(),
            seed: opts.ctx.seed,
            injected_delay_us: opts.inject_delay_us.iter().cloned().collect(),
        },
        round_orders: orders,
        confinement: Some(confinement),
        load_wall_s,
        pacing,
        ..BenchRun::default()
    };
    let record = results::Recorded {
        rounds: &rounds,
        references: &references,
        sweeps: &sweeps,
        idle_memory: &idle_memory,
        calibration: &calibration,
        injected: &opts.inject_delay_us,
        injected_cpu: &opts.inject_cpu_us,
        cpu_at_load: &cpu_at_load,
        load_avg_start,
        seed: opts.ctx.seed,
    };
    results::write(run, bench, &record)?;
    if !opts.pool.is_empty() {
        let study = crate::pool::bench_study(&run.results, opts, measured, plan);
        if let Some(bench) = run.results.bench.as_mut() {
            bench.pool = Some(study);
        }
    }
    for (name, timing) in sdk_step {
        run.results.backend_mut(&name).latency.sdk_step = Some(timing);
    }
    if opts.proofs {
        let read: Vec<_> = opts
            .inject_cpu_us
            .iter()
            .flat_map(|(name, _)| proofs::evaluate(&run.results, name))
            .collect();
        if let Some(bench) = run.results.bench.as_mut() {
            bench.proofs = read;
        }
    }
    run.save()
}

/// An explicitly named backend that cannot be measured, or nothing to measure at all, is the
/// harness failing its job, not a measurement.
fn check_selection(backends: &[Backend], measured: &[Backend], opts: &Options) -> Result<()> {
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
            &MOCK_CPU.to_string(),
            "true",
        ])
        .status()
        .is_ok_and(|s| s.success());
    MockProcessOptions {
        threads: Some(1),
        cpu: (allowed && cores >= 2).then_some(MOCK_CPU),
        realtime_priority: (allowed && cores >= 2).then_some(MOCK_PRIORITY),
    }
}

/// `direct`, `aisdk-node` (when a Node backend is measured), each backend, and a clean instance
/// beside each backend run with an injected delay. A reference that cannot start is recorded as
/// skipped (the overheads against it stay absent); a backend that cannot start is an error.
async fn start_targets(
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
            targets.extend(crate::pool::targets(backend, launch, log_dir, opts).await?);
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

async fn stop_all(targets: Vec<Target>, mock: MockProcess) {
    for t in targets {
        t.stop().await;
    }
    mock.stop().await;
}
