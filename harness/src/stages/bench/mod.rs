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
//! The plan (how much of each) is [`plan`]; starting and stopping the targets is [`launch`];
//! what goes into results.json is assembled in [`results`]; the terminal table is [`table`].

pub mod calibration;
pub mod capacity;
pub mod confine;
pub mod cpu_load;
pub mod figures;
pub mod generator;
mod generator_cost;
mod hlog;
mod launch;
pub mod load;
pub mod observe;
mod options;
mod pacer;
pub mod pacing;
pub mod plan;
pub mod pool;
pub mod proofs;
mod record;
mod results;
pub mod rounds;
pub mod sdk_timing;
pub mod search;
mod stage_entry;
pub use launch::mock_pinning;
pub use options::{Options, parse_injection};
pub use stage_entry::Bench;
pub mod steady;
mod sweep;
mod table;
pub mod target;
#[cfg(test)]
mod test_points;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use contract::results::{BenchRun, BenchSettings, Confinement};
use sut_kit::manifest::Backend;
use sut_kit::mock::MockProcess;
use sut_kit::orchestrate::{self, StartSettings};

use crate::procfs;
use crate::progress::Progress;
use crate::provider;
use crate::run_dir::RunDir;
use crate::verify;
use target::{DIRECT, Target};

/// The hops and the reader of the histogram logs, for the report's percentile spectrum.
pub use figures::Hop;

pub const STAGE: &str = contract::results::stages::BENCH;
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
    launch::check_selection(backends, &measured, opts)?;
    let mut plan = plan::Plan::new(opts.ctx.quick, opts.rounds, opts.load, opts.ctx.seed);
    if let Some(load) = plan.load.as_mut() {
        // The relay's proof needs its capacity, which a quick run does not search otherwise.
        load.search_references |= opts.proofs;
        if opts.proofs {
            load.search.resolution = load.search.resolution.min(plan::PROOF_RESOLUTION);
            load.search.max_probes = load.search.max_probes.max(plan::PROOF_MAX_PROBES);
        }
    }
    let log_dir = run.logs(STAGE);
    provider::ensure_built(&opts.ctx.root, &profile, &log_dir).await?;
    let niced = procfs::renice_self(BENCH_NICE);
    if niced.is_err() {
        eprintln!("bench: runs at normal priority (raising it needs root or CAP_SYS_NICE)");
    }
    // Where the kernel groups tasks by session, the nice above ranks the client and the
    // targets only against this session's other processes; against other sessions' work on
    // their cores they weigh as the session's group does (docs/bench.md#confinement).
    let session = procfs::renice_session(BENCH_NICE);
    if let Err(e) = &session {
        eprintln!("bench: the session's autogroup stays at its nice value ({e})");
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
        session_nice: session.as_ref().ok().and_then(|s| s.map(|_| BENCH_NICE)),
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
    if let Ok(Some(before)) = session {
        let _ = procfs::renice_session(before);
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
    let mut phases = Phases::start();
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
    let targets = launch::start_targets(measured, &launch, log_dir, opts, run).await?;
    phases.end("the mock, the calibration and the targets' start");
    let meters = confine::targets(&targets, &mut confinement);
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let idle_memory: Vec<(String, procfs::MemoryUse)> = targets
        .iter()
        .map(|t| (t.name.clone(), procfs::memory(&t.pids())))
        .collect();

    let orders = crate::stats::round_orders(&names, plan.rounds.rounds, opts.ctx.seed);
    let http = sut_kit::client::http_client()?;
    let paced = names
        .iter()
        .filter(|n| !quick_leaves_out(opts.ctx.quick, n))
        .count();
    let steps = (orders.len() * names.len()) as u64
        + plan.load.as_ref().map_or(0, |l| {
            sweep::steps(l, names.len())
                + cpu_load::steps(meters.len())
                + pacing::PacingPlan::new(opts.ctx.quick).steps(paced)
        });
    let progress = Progress::new(STAGE, steps);
    let rounds = rounds::run(&targets, &mock, &http, &plan.rounds, &orders, &progress).await;
    let rounds = match rounds {
        Ok(r) => r,
        Err(e) => {
            progress.finish();
            launch::stop_all(targets, mock).await;
            return Err(e);
        }
    };
    phases.end("warm-up and latency rounds");
    tokio::time::sleep(sdk_timing::SETTLE).await;
    let sdk_step = sdk_timing::read(log_dir, &names);
    let targets: Vec<Arc<Target>> = targets.into_iter().map(Arc::new).collect();
    let metered: Vec<cpu_load::Metered<'_>> = meters
        .iter()
        // A quick run leaves out the references' CPU at load: it does not search their
        // capacity either (docs/bench.md#cpu-at-load).
        .filter(|(name, _)| !quick_leaves_out(opts.ctx.quick, name))
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
            let paced: Vec<Arc<Target>> = targets
                .iter()
                .filter(|t| !quick_leaves_out(opts.ctx.quick, &t.name))
                .cloned()
                .collect();
            pacing::run(
                &paced,
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
    phases.end("pacing sweep");
    let cpu_at_load = match (&plan.load, &pacing) {
        (Some(_), Ok(_)) => {
            let mut cpu_plan =
                cpu_load::CpuLoadPlan::new(opts.ctx.quick, !opts.inject_cpu_us.is_empty());
            if opts.proofs {
                cpu_plan = cpu_plan.for_proofs(opts.ctx.quick);
            }
            cpu_load::run(&metered, &mock, &http, &plan.rounds, &cpu_plan, &progress).await
        }
        _ => Ok(Vec::new()),
    };
    drop(metered);
    phases.end("CPU at load");
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
            let metering = meters
                .iter()
                .map(|(name, meter)| {
                    // A target's idle CPU from its CPU at load; an A/A twin's is its first
                    // instance's, and a target left out of it (the relay, quick) has none.
                    let first = name.strip_suffix(contract::results::AA_SUFFIX);
                    let idle = [Some(name.as_str()), first]
                        .into_iter()
                        .flatten()
                        .find_map(|n| {
                            let (_, f) = cpu.iter().find(|(m, _)| m == n)?;
                            f.as_ref().ok().map(|f| f.idle_ms_per_s * 1e6)
                        });
                    let metering = steady::Metering {
                        meter,
                        idle_ns_per_s: idle.unwrap_or(0.0),
                    };
                    (name.clone(), metering)
                })
                .collect();
            let searches = sweep::Searches {
                start_rps,
                metering,
            };
            sweep::run(
                &targets,
                &mock,
                &http,
                &plan.rounds,
                load_plan,
                &searches,
                &progress,
            )
            .await
        }
        _ => Ok(sweep::SweepOutcome::default()),
    };
    progress.finish();
    phases.end("closed-loop points and saturation searches");
    let load_wall_s = plan
        .load
        .is_some()
        .then(|| load_started.elapsed().as_secs_f64());
    let targets: Vec<Target> = targets.into_iter().filter_map(Arc::into_inner).collect();
    let references = targets
        .iter()
        .map(|t| (t.name.clone(), (t.ipc_reference.clone(), t.ipc_hop)))
        .collect();
    launch::stop_all(targets, mock).await;
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
        let study = pool::bench_study(&run.results, opts, measured, plan);
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

/// Whether a quick run leaves `name` out of the pacing sweep and the CPU at load: the
/// references but `direct` (every overhead is taken against it), whose capacity a quick run
/// does not search either (docs/bench.md#the-quick-budget).
fn quick_leaves_out(quick: bool, name: &str) -> bool {
    quick && name != DIRECT && target::is_shared_reference(name)
}

/// Wall time of the stage's parts, said on stderr as each ends: what the quick budget is spent
/// on (docs/architecture.md#budgets).
struct Phases(Instant);

impl Phases {
    fn start() -> Self {
        Self(Instant::now())
    }

    fn end(&mut self, what: &str) {
        eprintln!("bench: {what} took {:.1} s", self.0.elapsed().as_secs_f64());
        self.0 = Instant::now();
    }
}
