//! The commands. Exit codes: 0 all good, 1 something failed (a build step, a conformance
//! case), 2 the harness itself could not do its job (bad flags, missing tools).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod args;
mod distributed;
mod external_cmd;
pub use args::*;

use crate::gate;
use crate::prereq;
use crate::run_dir::RunDir;
use crate::runtime_axis;
use crate::schema;
use crate::stages;
use crate::stages::bench;
use crate::stages::browser::BrowserStage;
use crate::stages::build::Build;
use crate::stages::compare;
use crate::stages::conformance::ConformanceStage;
use crate::stages::cost::CostStage;
use crate::stages::deploy::stage::DeployStage;
use crate::stages::evidence::EvidenceStage;
use crate::stages::report::ReportStage;
use crate::stages::start::Start;
use crate::stages::{Outcome, Stage};
use sut_kit::manifest::{self, Backend};

#[derive(Debug, Parser)]
#[command(
    name = "harness",
    about = "Build, verify and measure the arena's chat backends"
)]
pub struct Cli {
    /// The repository root (default: the nearest folder above the current one that holds
    /// `backends/` and a workspace Cargo.toml).
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the backends discovered from backends/*/backend.toml and whether they are built.
    Backends(Common),
    /// Run each backend's build steps, with logs and wall times in the run folder; record the
    /// size of what they built, the toolchains they need, and the build study (clean and
    /// incremental builds) measured now with --clean-builds or reused from an earlier run of
    /// the same sources (docs/cost.md).
    Build(BuildArgs),
    /// Run the conformance suite against each backend; exit 1 if any case failed.
    Conformance(ConformanceArgs),
    /// Measure latency per hop, load and resource cost of every verified backend against the
    /// direct path and the AI SDK alone (docs/bench.md).
    Bench(BenchArgs),
    /// Judge latency against a baseline: exit 0 pass, 1 regression, 2 could not judge or bad
    /// input (docs/gate.md).
    Gate(GateArgs),
    /// The gate's deterministic companion: instructions per chunk of the backends' own per-chunk
    /// Rust code under valgrind's callgrind, against reports/instructions.json; exit 0 pass,
    /// 1 regression, 2 could not judge (docs/gate.md#instruction-counts).
    GateInstructions(GateInstructionsArgs),
    /// Prove the gate on this machine: A/A pairs of quick bench runs (false alarms) and runs
    /// with injected per-chunk delays (how often each is caught); docs/gate.md#proof.
    GateStudy(GateStudyArgs),
    /// The bench's proofs over several runs: `bench --quick --force --proofs` k times (or runs
    /// already made), each proof pooled; exit 1 if one fails (docs/proofs-study.md).
    ProofsStudy(ProofsStudyArgs),
    /// Drive the chat page in Chromium against each backend; exit 1 if any case failed.
    Browser(BrowserArgs),
    /// Build, verify and measure in one run: build, conformance, bench, start, crash, soak,
    /// evidence, cost and report (each stage's failure is recorded and the next stages still run where they can).
    Compare(CompareArgs),
    /// Cold start (spawn -> ready line, spawn -> first completed chat, median of 10 starts),
    /// processes per deployment, and the provider tokens of one conversation (docs/cost.md).
    Start(StartArgs),
    /// Inject each fault into each verified backend with streams in flight; record survival,
    /// blast radius, new requests' statuses, detection, recovery and provider waste
    /// (docs/crash.md).
    Crash(CrashArgs),
    /// Hold a steady open-loop load (text, tool chains, long streams) on every verified backend
    /// at once for minutes, sampling memory, descriptors and sockets every second; fail a
    /// backend whose memory grows or whose conversations fail (docs/soak.md).
    Soak(SoakArgs),
    /// Measured proxies for the notes' rows that are not timings: own code and dependencies,
    /// what each backend needs per platform, instances side by side and a fixed port twice,
    /// another local user's probes (docs/report.md#evidence).
    Evidence(MeasureArgs),
    /// Turn a run's measured figures into cost per 1,000 conversations with
    /// config/prices.toml (docs/cost.md).
    Cost(CostArgs),
    /// Compute a run's decision matrix and render report.html and summary.md from its
    /// results.json; print the summary.
    Report(ReportArgs),
    /// Write reports/schema.json from the results types.
    Schema,
    /// The mock provider on its own, for a deployment the harness did not start: prints a
    /// ready line with its `url` and serves until SIGINT/SIGTERM (docs/distributed.md).
    Mock(MockArgs),
    /// Write the locustfile that plays the bench's scenario against /api/chat
    /// (docs/distributed.md).
    Locustfile(LocustfileArgs),
    /// Fixed-rate open-loop load on a deployment from a Locust master and its workers, merged
    /// into results.json's load.distributed (docs/distributed.md).
    Load(LoadArgs),
    /// Build each architecture of deploy/ into images, run its compose file in containers and
    /// play the conformance suite and the measurements through its port (docs/deploy.md#run);
    /// with --validate-only, check every file under deploy/ with its validator instead.
    Deploy(DeployArgs),
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let root = match cli.root {
        Some(r) => r,
        None => find_root()?,
    };
    let root = root
        .canonicalize()
        .with_context(|| format!("no such folder {}", root.display()))?;
    match cli.command {
        Command::Schema => {
            schema::write(&root)?;
            eprintln!("wrote {}", schema::SCHEMA_PATH);
            Ok(ExitCode::SUCCESS)
        }
        Command::Backends(c) => list(&root, &c),
        Command::Mock(args) => {
            crate::provider::serve_standalone(args.listen).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Locustfile(args) => {
            let text = crate::load::locustfile();
            match &args.out {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Load(args) => distributed::load(&root, args).await,
        Command::Deploy(args) if args.validate_only => crate::stages::deploy::validate_all(&root),
        Command::Deploy(args) => {
            let c = &args.common;
            let backends = select(&root, c)?;
            let mut opts = DeployStage::options(&context(&root, c, Some(args.ready), false, None));
            // Asked for by name: the container run happens in a quick run too.
            opts.in_quick_runs = true;
            let mut run = open_run(&root, c)?;
            eprintln!("run {}", run.path.display());
            stage_command::<DeployStage>(&opts, &backends, &mut run).await
        }
        Command::Report(args) => {
            let mut run = RunDir::open(&root.join("reports"), &args.run)?;
            let mut opts = ReportStage::options(&bare_context(&root, None, None));
            opts.browser = args.browser;
            stage_command::<ReportStage>(&opts, &[], &mut run).await
        }
        Command::Build(args) => {
            let c = &args.common;
            let backends = select(&root, c)?;
            let mut run = open_run(&root, c)?;
            eprintln!("run {}", run.path.display());
            // Installs and records the runtimes, which the size of each target on them reads.
            on_axis(&root, backends.clone(), c, &args.axis, &mut run)?;
            let mut opts = Build::options(&context(&root, c, None, false, None));
            opts.skip_built = c.quick;
            opts.clean_builds = args.clean_builds;
            stage_command::<Build>(&opts, &backends, &mut run).await
        }
        Command::Start(StartArgs {
            measure: args,
            axis,
        }) => {
            let c = &args.common;
            let backends = select(&root, c)?;
            let mut run = open_run(&root, c)?;
            eprintln!("run {}", run.path.display());
            let backends = on_axis(&root, backends, c, &axis, &mut run)?;
            let opts = Start::options(&args.context(&root, None));
            stage_command::<Start>(&opts, &backends, &mut run).await
        }
        Command::Evidence(args) => {
            let c = &args.common;
            let backends = select(&root, c)?;
            let mut run = open_run(&root, c)?;
            eprintln!("run {}", run.path.display());
            let opts = EvidenceStage::options(&args.context(&root, None));
            stage_command::<EvidenceStage>(&opts, &backends, &mut run).await
        }
        Command::Crash(args) if !args.external.targets.is_empty() => {
            external_cmd::crash(&root, args).await
        }
        Command::Soak(args) if !args.external.targets.is_empty() => {
            external_cmd::soak(&root, args).await
        }
        Command::Crash(args) => {
            let opts = args.crash_options(&root)?;
            let backends = select(&root, &args.measure.common)?;
            let mut run = open_run(&root, &args.measure.common)?;
            eprintln!("run {}", run.path.display());
            let backends = on_axis(&root, backends, &args.measure.common, &args.axis, &mut run)?;
            stage_command::<crate::stages::crash::Crash>(&opts, &backends, &mut run).await
        }
        Command::Soak(args) => {
            let backends = select(&root, &args.measure.common)?;
            let opts = args.soak_options(&root);
            let mut run = open_run(&root, &args.measure.common)?;
            eprintln!("run {}", run.path.display());
            let backends = on_axis(&root, backends, &args.measure.common, &args.axis, &mut run)?;
            stage_command::<crate::stages::soak::SoakStage>(&opts, &backends, &mut run).await
        }
        Command::Cost(args) => {
            let all = manifest::discover(&root.join("backends"))?;
            let backends = manifest::select(all, &args.backends)?;
            let mut run = RunDir::open(&root.join("reports"), &args.run)?;
            let mut opts = CostStage::options(&bare_context(&root, None, None));
            opts.prices = args.prices.clone();
            stage_command::<CostStage>(&opts, &backends, &mut run).await
        }
        Command::Conformance(args) => {
            let backends = select_with_variants(&root, &args.common)?;
            stages::conformance::check_filter(&args.scenarios)?;
            prereq::prepare(&root)?;
            let mut run = open_run(&root, &args.common)?;
            eprintln!("run {}", run.path.display());
            let backends = on_axis(&root, backends, &args.common, &args.axis, &mut run)?;
            let ctx = context(&root, &args.common, Some(args.ready), false, None);
            let mut opts = ConformanceStage::options(&ctx);
            opts.scenarios = args.scenarios.clone();
            stage_command::<ConformanceStage>(&opts, &backends, &mut run).await
        }
        Command::Bench(args) if !args.external.targets.is_empty() => {
            distributed::external_bench(&root, args).await
        }
        Command::Bench(mut args) => {
            let c = &mut args.measure.common;
            if args.proofs && c.backends.is_empty() {
                c.backends = vec![bench::proofs::DEFAULT_BACKEND.to_owned()];
            }
            let backends = select_with_variants(&root, c)?;
            prereq::prepare(&root)?;
            let mut run = open_run(&root, c)?;
            eprintln!("run {}", run.path.display());
            let backends = on_axis(&root, backends, c, &args.axis, &mut run)?;
            let opts = args.bench_options(&root);
            stage_command::<bench::Bench>(&opts, &backends, &mut run).await
        }
        Command::Gate(args) => {
            let request = gate::command::Request {
                baseline: args.baseline,
                current: args.current,
                against: args.against,
                backends: args.backends,
                inject_delay_us: args.inject_delay_us,
                inject_cpu_us: args.inject_cpu_us,
                cpu: args.cpu,
                time_limit: Duration::from_secs(args.time_limit_s),
                ctx: bare_context(&root, Some(args.ready), Some(args.seed)),
            };
            gate::command::run(&request).await
        }
        Command::GateInstructions(args) => gate::instructions::run(&root, args.update).await,
        Command::GateStudy(args) => {
            let all = manifest::discover(&root.join("backends"))?;
            let backends = manifest::select(all, &args.backends)?;
            prereq::prepare(&root)?;
            // Quick bench runs on the named backends: one that cannot be measured is an error.
            let mut ctx = bare_context(&root, Some(args.ready), Some(args.seed));
            ctx.quick = true;
            ctx.explicit = true;
            let mut bench = bench::Options::new(&ctx);
            bench.load = args.load;
            let opts = gate::study::Options {
                pairs: args.pairs as usize,
                delays_us: args.delays_us.clone(),
                bench,
                against: args.against,
                trial_limit: Duration::from_secs(args.trial_limit_s),
            };
            let study = gate::study::run(&backends, &opts).await?;
            gate::study::write_table(&mut std::io::stdout().lock(), &study)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ProofsStudy(args) => {
            let all = manifest::discover(&root.join("backends"))?;
            let backends = manifest::select(all, std::slice::from_ref(&args.backend))?;
            if args.from.is_empty() {
                prereq::prepare(&root)?;
            }
            let mut ctx = bare_context(&root, Some(args.ready), Some(args.seed));
            ctx.quick = !args.full;
            ctx.explicit = true;
            // The burnt instance, its twins and the relay are measured whether or not this
            // build ran conformance, as `bench --force --proofs` does.
            ctx.force = true;
            let mut bench = bench::Options::new(&ctx);
            bench.proofs = true;
            bench.inject_cpu_us = vec![(args.backend.clone(), args.inject_cpu_us)];
            let opts = bench::proofs::study::Options {
                runs: args.runs as usize,
                from: args.from.clone(),
                bench,
            };
            let study = bench::proofs::study::run(&backends, &opts).await?;
            bench::proofs::study::write_table(&mut std::io::stdout().lock(), &study)?;
            Ok(exit(study.proofs.iter().any(|p| p.holds == Some(false))))
        }
        Command::Browser(args) => {
            let backends = select(&root, &args.common)?;
            prereq::check_tools()?;
            let mut run = open_run(&root, &args.common)?;
            eprintln!("run {}", run.path.display());
            // --quick plays the cases compare --quick plays; --cases names others.
            let ctx = context(&root, &args.common, Some(args.ready), false, None);
            let mut opts = BrowserStage::options(&ctx);
            if !args.cases.is_empty() {
                opts.cases = args.cases.clone();
            }
            stage_command::<BrowserStage>(&opts, &backends, &mut run).await
        }
        Command::Compare(args) => {
            let backends = select_with_variants(&root, &args.common)?;
            stages::conformance::check_filter(&args.scenarios)?;
            // Before minutes of building: a missing tool or a failed install costs seconds.
            prereq::prepare(&root)?;
            let mut run = open_run(&root, &args.common)?;
            eprintln!("run {}", run.path.display());
            let backends = on_axis(&root, backends, &args.common, &args.axis, &mut run)?;
            let mut ctx = context(
                &root,
                &args.common,
                Some(args.ready),
                false,
                Some(args.seed),
            );
            // A backend a stage cannot measure is the earlier stage's failure, not the harness's.
            ctx.explicit = false;
            let flags = compare::CompareFlags {
                scenarios: args.scenarios.clone(),
            };
            let list = compare::list(&ctx, &flags);
            Ok(compare::run(&list, &backends, &mut run, ctx.quick).await)
        }
    }
}

/// A stage's own command: the stage on `backends`, exit 1 unless it passed.
async fn stage_command<S: Stage>(
    opts: &S::Options,
    backends: &[Backend],
    run: &mut RunDir,
) -> Result<ExitCode> {
    Ok(exit(S::run(opts, backends, run).await? != Outcome::Passed))
}

fn exit(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The backends named (a variant such as `unix+sse` only when named), else every base backend.
/// A target on another runtime (`unix@bun`) selects its base here; [`on_axis`] adds it.
fn select(root: &Path, c: &Common) -> Result<Vec<Backend>> {
    let all = manifest::with_variants(&manifest::discover(&root.join("backends"))?);
    let named = !c.backends.is_empty();
    let chosen = manifest::select(all, &runtime_axis::base_names(&c.backends))?;
    Ok(chosen
        .into_iter()
        .filter(|b| named || !b.is_variant())
        .collect())
}

/// As [`select`], plus every variant in a run that is not `--quick`: the stages that measure
/// variants (conformance, bench) take them in a full run (docs/frames.md#in-the-harness).
fn select_with_variants(root: &Path, c: &Common) -> Result<Vec<Backend>> {
    let all = manifest::with_variants(&manifest::discover(&root.join("backends"))?);
    let keep_variants = !c.backends.is_empty() || !c.quick;
    let chosen = manifest::select(all, &runtime_axis::base_names(&c.backends))?;
    Ok(chosen
        .into_iter()
        .filter(|b| keep_variants || !b.is_variant())
        .collect())
}

/// `backends` with their targets on the runtimes of `--runtimes` and of the targets named in
/// `--backends` (`unix@bun`), keeping, when backends were named, only those named.
fn on_axis(
    root: &Path,
    backends: Vec<Backend>,
    c: &Common,
    axis: &RuntimeAxis,
    run: &mut RunDir,
) -> Result<Vec<Backend>> {
    let runtimes = runtime_axis::with_named_runtimes(&axis.runtimes, &c.backends);
    let targets = runtime_axis::targets(root, backends, &runtimes, run)?;
    Ok(runtime_axis::keep_named(
        targets,
        &c.backends,
        &axis.runtimes,
    ))
}

fn open_run(root: &Path, c: &Common) -> Result<RunDir> {
    let reports = root.join("reports");
    match &c.run {
        Some(id) => RunDir::open(&reports, id),
        None => RunDir::create(&reports, root, &c.profile),
    }
}

fn list(root: &Path, c: &Common) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for b in select(root, c)? {
        let missing = b.missing_artifacts(root, &c.profile);
        let state = if missing.is_empty() {
            "built".to_owned()
        } else {
            format!("not built (missing {})", missing.join(", "))
        };
        writeln!(
            out,
            "{:10} runtime={:5} {state}\n           {}",
            b.name(),
            format!("{:?}", b.manifest.runtime).to_lowercase(),
            b.manifest.summary
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The nearest ancestor of the current folder that looks like the repository root.
fn find_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    cwd.ancestors()
        .find(|d| {
            d.join("backends").is_dir()
                && std::fs::read_to_string(d.join("Cargo.toml"))
                    .is_ok_and(|t| t.contains("[workspace]"))
        })
        .map(Path::to_path_buf)
        .context("not inside the arena repository; pass --root")
}
