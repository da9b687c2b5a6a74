//! The flags of each command, declared once: shared groups ([`Common`], [`Readiness`],
//! [`MeasureArgs`], [`Seed`]) are flattened into the commands that take them, and [`context`]
//! is the one place they become the stages' [`Context`]. A stage's own flags are applied over
//! the options [`Stage::options`] builds from that context, beside the flags they read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::external::{self, TargetSpec};
use crate::run_info::clock_seed;
use crate::stages::{Context, Stage};
use crate::stages::{bench, crash, soak};

/// The one place the shared flags become the [`Context`] every stage is given. A command
/// without a flag passes `None` (or `false`): the stage gets the library's default.
pub fn context(
    root: &Path,
    common: &Common,
    ready: Option<Readiness>,
    force: bool,
    seed: Option<Seed>,
) -> Context {
    let mut ctx = bare_context(root, ready, seed);
    ctx.profile = common.profile.clone();
    ctx.quick = common.quick;
    ctx.explicit = !common.backends.is_empty();
    ctx.force = force;
    ctx
}

/// [`context`] for a command without the [`Common`] flags (the gate and its study): the
/// library's defaults but for the ready timeout and the seed.
pub fn bare_context(root: &Path, ready: Option<Readiness>, seed: Option<Seed>) -> Context {
    let mut ctx = Context::new(root.to_owned());
    if let Some(r) = ready {
        ctx.ready_timeout = r.timeout();
    }
    if let Some(s) = seed {
        ctx.seed = s.value();
    }
    ctx
}

#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Backends to use, comma-separated (default: every discovered backend).
    #[arg(long, value_delimiter = ',')]
    pub backends: Vec<String>,
    /// Build: skip backends whose artifacts are present. Conformance: a shorter `long`. Browser:
    /// the quick cases dealt over the backends (`stages::browser::quick_cases`).
    #[arg(long)]
    pub quick: bool,
    /// Cargo profile of the binaries: manifests name `target/release/` paths, and `debug`
    /// maps them onto `target/debug/`.
    #[arg(long, default_value = "release", value_parser = ["release", "debug"])]
    pub profile: String,
    /// Add this stage to an existing run (`latest` or a run id) instead of starting one.
    #[arg(long)]
    pub run: Option<String>,
}

/// The JavaScript runtime as an axis (docs/design.md#runtimes).
#[derive(Debug, Clone, Args)]
pub struct RuntimeAxis {
    /// JavaScript runtimes to run the Node backends on, comma-separated
    /// (`node26,node24,node20,bun`, or the stack `node20-ai6`): each beyond the default stack's
    /// makes targets of its own (`unix@bun`), installed on demand; `--backends unix@bun` names
    /// one such target alone. Default: the default stack's alone.
    #[arg(long, value_delimiter = ',')]
    pub runtimes: Vec<String>,
}

/// The one flag every command that starts backends shares.
#[derive(Debug, Clone, Copy, Args)]
pub struct Readiness {
    /// How long a backend may take to print its ready line, in seconds.
    #[arg(long = "ready-timeout-s", default_value_t = Context::DEFAULT_READY_TIMEOUT_S)]
    pub ready_timeout_s: u64,
}

/// The seed of what a run draws at random.
#[derive(Debug, Clone, Copy, Args)]
pub struct Seed {
    /// Seed of the bench's round orders, open-loop arrivals and bootstrap (default: from the
    /// clock; results.json records it).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl Seed {
    /// The seed given, else one from the clock.
    pub fn value(self) -> u64 {
        self.seed.unwrap_or_else(clock_seed)
    }
}

impl Readiness {
    pub fn timeout(self) -> Duration {
        Duration::from_secs(self.ready_timeout_s)
    }
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub common: Common,
    /// Installs these runtimes and sizes each backend's deployment on them as well (`unix@bun`
    /// ships `unix`'s artifacts with Bun's binary); the build itself is the bases'.
    #[command(flatten)]
    pub axis: RuntimeAxis,
    /// Measure a clean build (own target folder, empty npm cache) and two incremental rebuilds
    /// of each backend whose sources have none cached: minutes per backend.
    #[arg(long)]
    pub clean_builds: bool,
}

/// The options of a stage that measures running backends.
#[derive(Debug, Args)]
pub struct MeasureArgs {
    #[command(flatten)]
    pub common: Common,
    /// Measure backends that did not pass conformance on this build.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub ready: Readiness,
}

/// `harness deploy`: `--backends` names the architectures of deploy/, `--quick` the
/// conformance suite's quick form and fewer hop rounds; `--profile` is not read (the images
/// hold release builds).
#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub common: Common,
    /// Only check every file under deploy/ with its validator; build and run nothing.
    #[arg(long)]
    pub validate_only: bool,
    #[command(flatten)]
    pub ready: Readiness,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub axis: RuntimeAxis,
}

#[derive(Debug, Args)]
pub struct CrashArgs {
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub axis: RuntimeAxis,
    /// Run the backends that take `--sidecars` with N sidecars (recorded as `crash_pool`);
    /// the others are not run.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub pool: Option<u32>,
    /// Faults to inject, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
    #[command(flatten)]
    pub external: ExternalTargets,
    /// How long slow and stalled readers are held, in seconds (default: 8, or 4 with --quick):
    /// longer shows whether memory levels off once every affected stream has begun.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub reader_hold_s: Option<u64>,
    /// With --target: a shell command that plays kill-runtime and hang-runtime on the target's
    /// processes (run as `sh -c CMD` with ARENA_FAULT, ARENA_TARGET, ARENA_TARGET_URL and
    /// ARENA_PHASE=inject; it must exit 0 within 30 s; docs/distributed.md#a-control-command).
    #[arg(long, value_name = "CMD")]
    pub control: Option<String>,
}

impl MeasureArgs {
    pub fn context(&self, root: &Path, seed: Option<Seed>) -> Context {
        context(root, &self.common, Some(self.ready), self.force, seed)
    }
}

impl CrashArgs {
    pub fn crash_options(&self, root: &Path) -> Result<crash::Options> {
        if self.control.is_some() {
            anyhow::bail!(
                "--control plays faults on a deployment the harness did not start: it needs \
                 --target NAME=URL and --mock-url URL (a backend the harness starts has its \
                 faults played by the harness itself)"
            );
        }
        let mut opts = crash::Crash::options(&self.measure.context(root, None));
        if let Some(s) = self.reader_hold_s {
            opts.settings.readers.watch = Duration::from_secs(s);
        }
        opts.faults = crash::parse_faults(&self.faults)?;
        opts.pool = self.pool;
        Ok(opts)
    }
}

#[derive(Debug, Args)]
pub struct SoakArgs {
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub axis: RuntimeAxis,
    /// How long the load is held on each backend, in minutes (default: 10, or 1 with --quick).
    #[arg(long)]
    pub minutes: Option<f64>,
    /// New conversations per second sent to each backend (default: 2).
    #[arg(long)]
    pub rate: Option<f64>,
    #[command(flatten)]
    pub external: ExternalTargets,
}

/// `--target NAME=URL ... --mock-url URL` of `bench`, `soak` and `crash`: deployments the harness
/// did not start, instead of the discovered backends (docs/distributed.md).
#[derive(Debug, Args)]
pub struct ExternalTargets {
    /// `NAME=URL`, repeatable: a deployment the harness did not start, measured after the
    /// conformance suite passes against it; needs --mock-url (docs/distributed.md).
    #[arg(long = "target", value_parser = external::parse_target)]
    pub targets: Vec<TargetSpec>,
    /// The mock provider the --target deployments were pointed at (`harness mock` prints it).
    #[arg(long, value_parser = external::parse_url)]
    pub mock_url: Option<String>,
}

impl SoakArgs {
    pub fn soak_options(&self, root: &Path) -> soak::Options {
        let mut opts = soak::SoakStage::options(&self.measure.context(root, None));
        opts.minutes = self.minutes.unwrap_or(opts.minutes);
        opts.rate_rps = self.rate.unwrap_or(opts.rate_rps);
        opts
    }
}

#[derive(Debug, Args)]
pub struct CostArgs {
    /// Backends to price, comma-separated (default: every discovered backend).
    #[arg(long, value_delimiter = ',')]
    pub backends: Vec<String>,
    /// The run to price (`latest` or a run id).
    #[arg(long, default_value = "latest")]
    pub run: String,
    /// The price table (default: config/prices.toml).
    #[arg(long)]
    pub prices: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConformanceArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub axis: RuntimeAxis,
    /// Scenarios to run, comma-separated (catalogue names, `bad-input`, `api`, `headers`).
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    #[command(flatten)]
    pub ready: Readiness,
}

#[derive(Debug, Args)]
pub struct BrowserArgs {
    #[command(flatten)]
    pub common: Common,
    /// Cases to play, comma-separated (`text`, `stop`, `bad-input/backend-down`, ...).
    #[arg(long, value_delimiter = ',')]
    pub cases: Vec<String>,
    #[command(flatten)]
    pub ready: Readiness,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub axis: RuntimeAxis,
    /// Latency rounds (default: 10, or 3 with --quick; docs/bench.md#the-quick-budget).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=1000))]
    pub rounds: Option<u64>,
    /// `NAME=MICROSECONDS`: run backend NAME holding each text chunk that long (its figures
    /// become a deliberate regression), beside a clean instance the change is read against.
    #[arg(long, value_delimiter = ',', value_parser = bench::parse_injection)]
    pub inject_delay_us: Vec<(String, u64)>,
    /// `NAME=MICROSECONDS`: run backend NAME burning that much CPU per text chunk, beside a
    /// clean instance; the CPU at load of both reads the burn back (docs/bench.md#cpu-at-load).
    #[arg(long, value_delimiter = ',', value_parser = bench::parse_injection)]
    pub inject_cpu_us: Vec<(String, u64)>,
    /// The CPUs the systems under test are pinned to, e.g. `1` or `2-3` (default: the last
    /// one); the load client runs on the others (docs/bench.md#confinement).
    #[arg(long, value_parser = bench::confine::parse_sut_cpus)]
    pub sut_cpus: Option<bench::confine::CpuList>,
    /// Skip the load sweeps (latency rounds and calibration only).
    #[arg(long)]
    pub no_load: bool,
    /// Run the method's proofs and record them (docs/bench.md#proofs): a CPU burn injected
    /// into a backend (default `rust-only=100`) beside its clean instance and an A/A twin, the
    /// relay's capacity searched even with --quick.
    #[arg(long, conflicts_with = "no_load")]
    pub proofs: bool,
    #[command(flatten)]
    pub seed: Seed,
    #[command(flatten)]
    pub external: ExternalTargets,
    /// Pool sizes, e.g. `1,2,4`: each backend that takes `--sidecars` is also measured with
    /// each size, and `bench.pool` reads them side by side (docs/pool.md).
    #[arg(long, value_delimiter = ',', value_parser = bench::pool::parse_size, conflicts_with = "targets")]
    pub pool: Vec<u32>,
}

impl BenchArgs {
    pub fn bench_options(&self, root: &Path) -> bench::Options {
        let mut opts = bench::Bench::options(&self.measure.context(root, Some(self.seed)));
        opts.rounds = self.rounds.map(|r| r as usize);
        opts.inject_delay_us = self.inject_delay_us.clone();
        opts.load = !self.no_load;
        opts.sut_cpus = self.sut_cpus.clone().map(|l| l.0);
        opts.inject_cpu_us = if self.proofs && self.inject_cpu_us.is_empty() {
            let backend = self
                .measure
                .common
                .backends
                .first()
                .map_or(bench::proofs::DEFAULT_BACKEND, String::as_str);
            vec![(backend.to_owned(), bench::proofs::DEFAULT_BURN_US)]
        } else {
            self.inject_cpu_us.clone()
        };
        opts.proofs = self.proofs;
        opts.pool = self.pool.clone();
        opts
    }
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The results the current run is held to (also what `--against auto` falls back to).
    #[arg(long, default_value = "reports/baseline.json")]
    pub baseline: PathBuf,
    /// The run judged.
    #[arg(long, default_value = "reports/latest/results.json")]
    pub current: PathBuf,
    /// Instead of two files: build this revision and the working tree's content, each in a
    /// fresh worktree of its own, and measure both in the same rounds. `auto`: the parent of
    /// the newest commit
    /// that changed what the backends run, or the two files when there is none
    /// (docs/gate.md#which-revision).
    #[arg(long, value_name = "REV")]
    pub against: Option<String>,
    /// Backends to judge with --against (default: those the change touched, plus a control).
    #[arg(long, value_delimiter = ',')]
    pub backends: Vec<String>,
    /// With --against, `NAME=MICROSECONDS`: the head side's NAME holds each text chunk that
    /// long (the base does not): a deliberate regression, to prove the gate on its real path.
    #[arg(long, value_delimiter = ',', value_parser = bench::parse_injection)]
    pub inject_delay_us: Vec<(String, u64)>,
    /// With --against, `NAME=MICROSECONDS`: the head side's NAME burns that much CPU per text
    /// chunk (the base does not): a deliberate CPU regression (docs/gate.md#cpu-at-load).
    #[arg(long, value_delimiter = ',', value_parser = bench::parse_injection)]
    pub inject_cpu_us: Vec<(String, u64)>,
    /// With --against: measure CPU per chunk at load and capacity per core in the rounds and
    /// judge them (`judge`), judge and print them without their verdict deciding the exit code
    /// (`report`), or leave them out (`off`) (docs/gate.md#cpu-at-load).
    #[arg(long, value_enum, default_value_t = crate::gate::cpu::CpuMode::Judge)]
    pub cpu: crate::gate::cpu::CpuMode,
    /// With --against: the whole gate (base build included) stops adding rounds when the next
    /// look would end after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub time_limit_s: u64,
    #[command(flatten)]
    pub seed: Seed,
    #[command(flatten)]
    pub ready: Readiness,
}

#[derive(Debug, Args)]
pub struct GateInstructionsArgs {
    /// Write the counts measured now as the baseline instead of judging them.
    #[arg(long)]
    pub update: bool,
}

#[derive(Debug, Args)]
pub struct GateStudyArgs {
    /// Backends to study (default: unix and rust-only, the pair).
    #[arg(long, value_delimiter = ',', default_value = "unix,rust-only")]
    pub backends: Vec<String>,
    /// A/A pairs, and tries of each delay.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub pairs: u64,
    /// Delays to inject per text chunk, in microseconds, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,500")]
    pub delays_us: Vec<u64>,
    /// Run the load sweeps too, so saturation is judged (each run takes several times longer).
    #[arg(long)]
    pub load: bool,
    /// Study `gate --against HEAD` (HEAD against itself, built in the gate's two trees by the
    /// manifests' steps; delays injected on the head side; every other pair crosses the
    /// trees) instead of two files.
    #[arg(long)]
    pub against: bool,
    /// With --against: each trial's time limit, in seconds.
    #[arg(long, default_value_t = 600)]
    pub trial_limit_s: u64,
    #[command(flatten)]
    pub seed: Seed,
    #[command(flatten)]
    pub ready: Readiness,
}

#[derive(Debug, Args)]
pub struct ProofsStudyArgs {
    /// Runs of `bench --proofs` to make, one after another (about 4.5 minutes each, quick).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=50))]
    pub runs: u64,
    /// Pool these runs instead (run ids under reports/, comma-separated), made by `harness bench
    /// --proofs` with the same backend and burn.
    #[arg(long, value_delimiter = ',', conflicts_with = "runs")]
    pub from: Vec<String>,
    /// The backend the burn goes into.
    #[arg(long, default_value = bench::proofs::DEFAULT_BACKEND)]
    pub backend: String,
    /// The burn, in microseconds of CPU per text chunk.
    #[arg(long, default_value_t = bench::proofs::DEFAULT_BURN_US)]
    pub inject_cpu_us: u64,
    /// Full runs instead of quick ones (each takes several times longer).
    #[arg(long)]
    pub full: bool,
    #[command(flatten)]
    pub seed: Seed,
    #[command(flatten)]
    pub ready: Readiness,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub axis: RuntimeAxis,
    /// Conformance scenarios to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    #[command(flatten)]
    pub seed: Seed,
    #[command(flatten)]
    pub ready: Readiness,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run to render: `latest` or a run id.
    #[arg(long, default_value = crate::run_dir::LATEST)]
    pub run: String,
    /// Also open the report in headless Chromium, check that every chart and table shows, and
    /// keep a screenshot (report.png) in the run folder.
    #[arg(long)]
    pub browser: bool,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    /// Address to listen on; port 0 lets the kernel pick (the ready line says which).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
}

#[derive(Debug, Args)]
pub struct LocustfileArgs {
    /// Where to write it (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// `NAME=URL`: the deployment to load (docs/distributed.md).
    #[arg(long, value_parser = external::parse_target)]
    pub target: TargetSpec,
    /// The mock provider the deployment was pointed at (needed unless --merge-reports).
    #[arg(long, value_parser = external::parse_url)]
    pub mock_url: Option<String>,
    /// Do not run: merge a reports file a master wrote elsewhere (`--arena-out`, e.g. copied
    /// out of the Kubernetes master) with this run's --workers, --rate and --seconds.
    #[arg(long)]
    pub merge_reports: Option<PathBuf>,
    /// Drive the load with Locust (the one distributed engine; pinned in
    /// harness/locust/requirements.txt, installed into .venv on first use).
    #[arg(long)]
    pub locust: bool,
    /// Locust workers: started here, or expected from other machines with --locust-master.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,
    /// Conversations per second, all workers together (open loop, evenly spaced).
    #[arg(long)]
    pub rate: f64,
    /// Length of the schedule.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// `HOST:PORT` to bind the master on; no local workers are started (they connect from
    /// other machines).
    #[arg(long)]
    pub locust_master: Option<String>,
    /// Kill local worker 0 this many seconds into the run: proves a lost worker is reported.
    #[arg(long, hide = true)]
    pub kill_worker_after_s: Option<f64>,
    /// Skip the harness's own client at the same rate after the Locust run.
    #[arg(long)]
    pub no_harness_client: bool,
    /// With local workers, the harness's client and Locust take turns in this many windows
    /// each (--seconds split among them); 1: the harness's client half before, half after.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub windows: u32,
    #[command(flatten)]
    pub common: Common,
}
