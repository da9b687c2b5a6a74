//! `harness gate --against <rev>`: the method that holds on a noisy machine. The other revision
//! is checked out in a temporary worktree and built there (its cargo output in a folder kept
//! under the working tree's `target/`, seeded from the working tree's release build; its own
//! `node_modules`), then each judged backend of both revisions runs in the same interleaved
//! rounds against one mock, beside the direct path and a control (an unchanged backend, the
//! working tree's build on both sides). Each round pairs base and head, so whatever the machine
//! did in a round it did to both; rounds are added look by look under the sequential design of
//! [`super::sequential`] until the primary metric of every backend is judged, the design's last
//! look is taken, or the next look would not fit in the time limit
//! (docs/gate.md#against-a-revision). An injected delay (`--inject-delay-us`) applies to the
//! head side only, so the gate's own proof runs this path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use conformance::manifest::{self, Backend};
use conformance::mock::MockProcess;
use conformance::orchestrate::{self, StartSettings};
use conformance::process;

use super::base;
use super::decide::{Decision, Judgement};
use super::metrics;
use super::sequential;
use crate::bench::figures::{Hop, TargetFigures};
use crate::bench::rounds::{self, RoundPlan};
use crate::bench::target::{DIRECT, Target};
use crate::bench::{mock_pinning, plan};
use crate::progress::Progress;
use crate::stats;

/// Where the base revision's cargo output is kept between gate runs, under `target/`.
pub const BASE_TARGET_DIR: &str = "target/gate-base";

/// A base revision checked out and built, ready to be measured any number of times.
#[derive(Debug)]
pub struct PreparedBase {
    pub commit: String,
    worktree: Worktree,
    /// The base's manifests of the judged backends.
    backends: Vec<Backend>,
}

impl PreparedBase {
    /// Checks `commit` out and runs the build steps of `names` there; the logs go to `log_dir`.
    pub async fn build(
        root: &Path,
        commit: &str,
        names: &[String],
        log_dir: &Path,
    ) -> Result<Self> {
        let worktree = Worktree::add(root, commit)?;
        let backends = build_base(root, &worktree.path(), names, log_dir).await?;
        Ok(Self {
            commit: commit.to_owned(),
            worktree,
            backends,
        })
    }

    pub fn root(&self) -> PathBuf {
        self.worktree.path()
    }
}

/// What one measurement of base against head is made of.
#[derive(Debug, Clone)]
pub struct Measure {
    pub root: PathBuf,
    /// The working tree's manifests of the judged backends (their base twins are the
    /// [`PreparedBase`]'s).
    pub judged: Vec<Backend>,
    /// The unchanged backend measured as A/A beside them (the working tree's build twice).
    pub control: Option<Backend>,
    /// `NAME=N`: the head instance of NAME holds each text chunk N µs; the base does not.
    pub inject_delay_us: Vec<(String, u64)>,
    /// No look starts that would end after this.
    pub deadline: Instant,
    pub ready_timeout: Duration,
    pub seed: u64,
}

/// What a measurement found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub judgements: Vec<Judgement>,
    pub control: Option<String>,
    pub rounds: usize,
    pub looks: usize,
    /// Why the rounds stopped.
    pub stopped: Stop,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Every primary metric was judged.
    Judged,
    /// The design's last look was taken.
    LastLook,
    /// The next look would not have fitted in the time limit.
    Budget,
}

/// A worktree of another revision, removed when dropped (its cargo output stays in
/// [`BASE_TARGET_DIR`] for the next run).
#[derive(Debug)]
struct Worktree {
    repo: PathBuf,
    dir: tempfile::TempDir,
}

impl Worktree {
    fn add(repo: &Path, commit: &str) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("arena-gate-").tempdir()?;
        let tree = dir.path().join("tree");
        base::git(
            repo,
            &[
                "worktree",
                "add",
                "--detach",
                &tree.display().to_string(),
                commit,
            ],
        )?;
        Ok(Self {
            repo: repo.to_owned(),
            dir,
        })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("tree")
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        let tree = self.path().display().to_string();
        // The folder goes with the TempDir; this drops git's record of it.
        let _ = base::git(&self.repo, &["worktree", "remove", "--force", &tree]);
        let _ = base::git(&self.repo, &["worktree", "prune"]);
    }
}

/// Points the worktree's `target/` at [`BASE_TARGET_DIR`], seeding that from the working
/// tree's release build the first time: the dependencies' compiled code is the same for both
/// revisions unless Cargo.lock changed, so only the workspace's own crates are compiled again
/// (docs/gate.md#in-ci).
fn share_target(root: &Path, tree: &Path) -> Result<()> {
    let kept = root.join(BASE_TARGET_DIR);
    let seed_from = root.join("target/release");
    if !kept.join("release").exists() && seed_from.is_dir() {
        std::fs::create_dir_all(&kept)?;
        let status = std::process::Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(&seed_from)
            .arg(kept.join("release"))
            .status()
            .context("cannot run cp")?;
        if !status.success() {
            let _ = std::fs::remove_dir_all(kept.join("release"));
            eprintln!("gate: could not seed {BASE_TARGET_DIR}; the base builds from scratch");
        }
    }
    std::fs::create_dir_all(&kept)?;
    std::os::unix::fs::symlink(&kept, tree.join("target"))
        .with_context(|| format!("linking the base's target/ to {}", kept.display()))
}

/// Builds each named backend of the worktree with its own manifest's steps.
async fn build_base(
    root: &Path,
    tree: &Path,
    names: &[String],
    log_dir: &Path,
) -> Result<Vec<Backend>> {
    let all = manifest::discover(&tree.join("backends"))?;
    let base = manifest::select(all, names).context(
        "the base revision lacks a backend that is to be judged; pass --backends with the ones \
         both revisions have",
    )?;
    std::fs::create_dir_all(log_dir)?;
    share_target(root, tree)?;
    // Backends share steps (the sidecar's `npm ci` and bundle): each runs once.
    let mut done = std::collections::BTreeSet::new();
    for backend in &base {
        for (i, step) in backend.manifest.build.iter().enumerate() {
            if !done.insert(step.clone()) {
                continue;
            }
            eprintln!("gate: base {}: {step}", backend.name());
            let log = log_dir.join(format!("base-{}.step{}.log", backend.name(), i + 1));
            let status = process::run_shell(step, tree, &log).await?;
            if !status.success() {
                bail!(
                    "the base revision does not build: its {} failed at `{step}` (see {}); pick \
                     another base with --against REV, or fix the build\n{}",
                    backend.name(),
                    log.display(),
                    process::file_tail(&log, 2000)
                );
            }
        }
    }
    base_runtime(root, tree, log_dir).await?;
    Ok(base)
}

/// Gives the base tree the default JavaScript runtime its Node backends start on: its own pinned
/// one, installed from its lockfile, or, for a base from before the runtimes were pinned, the
/// working tree's (so both sides run one runtime and the gate compares the code).
async fn base_runtime(root: &Path, tree: &Path, log_dir: &Path) -> Result<()> {
    use contract::runtime::{self, DEFAULT_RUNTIME, RUNTIMES_DIR};
    if runtime::resolve(tree, DEFAULT_RUNTIME).is_ok() {
        return Ok(());
    }
    let package = runtime::spec(DEFAULT_RUNTIME)?.dir();
    if tree.join(&package).join("package-lock.json").is_file() {
        let step = format!("npm ci --prefix {package} --no-audit --no-fund --loglevel=error");
        eprintln!("gate: base: {step}");
        let log = log_dir.join("base-runtime.log");
        let status = process::run_shell(&step, tree, &log).await?;
        if !status.success() {
            bail!(
                "the base revision's runtime did not install: `{step}` failed (see {})\n{}",
                log.display(),
                process::file_tail(&log, 2000)
            );
        }
    } else if !tree.join(RUNTIMES_DIR).exists() {
        eprintln!(
            "gate: base: it predates the pinned runtimes; its Node backends run on the working \
             tree's {DEFAULT_RUNTIME}"
        );
        std::os::unix::fs::symlink(root.join(RUNTIMES_DIR), tree.join(RUNTIMES_DIR))
            .context("cannot lend the working tree's runtimes to the base")?;
    }
    runtime::resolve(tree, DEFAULT_RUNTIME)
        .map(|_| ())
        .context("the base revision has no runnable default runtime")
}

pub fn base_name(name: &str) -> String {
    format!("{name}@base")
}

/// Per round: (target's quantile − direct's) / direct's p50 chunk transit.
fn normalised(
    figures: &TargetFigures,
    direct: &TargetFigures,
    hop: Hop,
    q: f64,
) -> BTreeMap<u32, f64> {
    let quantile = |h: &hdrhistogram::Histogram<u64>| stats::quantile_us(h, q);
    let p50 = |h: &hdrhistogram::Histogram<u64>| stats::quantile_us(h, 0.5);
    let ours = figures.per_round(hop, quantile);
    let theirs = direct.per_round(hop, quantile);
    let scale = direct.per_round(Hop::ChunkTransit, p50);
    let mut values = BTreeMap::new();
    for (round, ((a, b), s)) in ours.iter().zip(&theirs).zip(&scale).enumerate() {
        if let (Some(a), Some(b), Some(s)) = (a, b, s)
            && *s > 0.0
        {
            values.insert(u32::try_from(round).unwrap_or(u32::MAX), (a - b) / s);
        }
    }
    values
}

fn judge_all(names: &[String], figures: &BTreeMap<String, TargetFigures>) -> Vec<Judgement> {
    let Some(direct) = figures.get(DIRECT) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in names {
        let (Some(head), Some(base)) = (figures.get(name), figures.get(&base_name(name))) else {
            continue;
        };
        for m in metrics::PAIRED {
            let b = normalised(base, direct, m.hop, m.quantile);
            let h = normalised(head, direct, m.hop, m.quantile);
            out.push(sequential::judge(name, m.metric, &b, &h));
        }
    }
    out
}

fn injection(opts: &Measure, name: &str) -> Vec<String> {
    match opts.inject_delay_us.iter().find(|(n, _)| n == name) {
        Some((_, us)) => vec![
            "--enable-fault-injection".to_owned(),
            "--inject-delay-us".to_owned(),
            us.to_string(),
        ],
        None => vec![],
    }
}

/// Measures base and head look by look until every primary metric is judged, the last look
/// is taken, or the next look would not fit in the time limit.
pub async fn measure(
    opts: &Measure,
    prepared: &PreparedBase,
    profile: &str,
    log_dir: &Path,
) -> Result<Outcome> {
    let started = Instant::now();
    for (name, _) in &opts.inject_delay_us {
        let known = opts
            .judged
            .iter()
            .chain(&opts.control)
            .any(|b| b.name() == name);
        if !known {
            bail!("--inject-delay-us names `{name}`, which is not among the backends measured");
        }
    }
    let mock = MockProcess::start_with(
        &opts.root,
        profile,
        log_dir,
        opts.ready_timeout,
        &mock_pinning(),
    )
    .await
    .context("the mock provider did not start (is it built in release?)")?;
    let head_launch = StartSettings {
        root: opts.root.clone(),
        profile: profile.to_owned(),
        provider_url: mock.openai_url(),
        api_key: orchestrate::api_key_canary(),
        ready_timeout: opts.ready_timeout,
        extra_args: vec![],
    };
    let base_launch = StartSettings {
        root: prepared.root(),
        ..head_launch.clone()
    };
    let mut targets = vec![Target::direct(&head_launch.provider_url)];
    let started_targets: Result<()> = async {
        for head in &opts.judged {
            let base = prepared
                .backends
                .iter()
                .find(|b| b.name() == head.name())
                .context("the base was built without a judged backend")?;
            let inject = injection(opts, head.name());
            targets.push(Target::backend(head, &head_launch, log_dir, head.name(), inject).await?);
            let name = base_name(base.name());
            targets.push(Target::backend(base, &base_launch, log_dir, &name, vec![]).await?);
        }
        if let Some(c) = &opts.control {
            let inject = injection(opts, c.name());
            targets.push(Target::backend(c, &head_launch, log_dir, c.name(), inject).await?);
            let name = base_name(c.name());
            targets.push(Target::backend(c, &head_launch, log_dir, &name, vec![]).await?);
        }
        Ok(())
    }
    .await;
    if let Err(e) = started_targets {
        for t in targets {
            t.stop().await;
        }
        mock.stop().await;
        return Err(e);
    }
    let names: Vec<String> = opts
        .judged
        .iter()
        .chain(&opts.control)
        .map(|b| b.name().to_owned())
        .collect();
    let quick = plan::Plan::new(true, None, false, opts.seed);
    let http = conformance::client::http_client()?;
    let progress = Progress::new(
        "gate",
        sequential::max_rounds() as u64 * targets.len() as u64,
    );
    let mut figures: BTreeMap<String, TargetFigures> = BTreeMap::new();
    let mut outcome = Outcome {
        judgements: Vec::new(),
        control: opts.control.as_ref().map(|c| c.name().to_owned()),
        rounds: 0,
        looks: 0,
        stopped: Stop::LastLook,
        seconds: 0.0,
    };
    let measured: Result<()> = async {
        let rounds_started = Instant::now();
        for look in 0..sequential::MAX_LOOKS {
            let add = sequential::rounds_at_look(look) - outcome.rounds;
            let plan = RoundPlan {
                warmup: if look == 0 { quick.rounds.warmup } else { 0 },
                ..quick.rounds.clone()
            };
            let batch = Batch {
                first_round: outcome.rounds,
                rounds: add,
                seed: opts.seed ^ look as u64,
            };
            interleaved(
                &targets,
                &mock,
                &http,
                &plan,
                &batch,
                &mut figures,
                &progress,
            )
            .await?;
            outcome.rounds += add;
            outcome.looks = look + 1;
            outcome.judgements = judge_all(&names, &figures);
            let undecided = undecided_primaries(&outcome.judgements);
            progress.note(format!(
                "gate: look {} at {} rounds, {undecided} primary metric(s) not yet judged, {:.0} s",
                look + 1,
                outcome.rounds,
                started.elapsed().as_secs_f64()
            ));
            if undecided == 0 {
                outcome.stopped = Stop::Judged;
                return Ok(());
            }
            let per_round = rounds_started.elapsed().as_secs_f64() / outcome.rounds as f64;
            let next = per_round * sequential::ROUNDS_PER_LOOK as f64;
            if look + 1 < sequential::MAX_LOOKS
                && Instant::now() + Duration::from_secs_f64(next) > opts.deadline
            {
                outcome.stopped = Stop::Budget;
                return Ok(());
            }
        }
        Ok(())
    }
    .await;
    progress.finish();
    for t in targets {
        t.stop().await;
    }
    mock.stop().await;
    measured?;
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

/// Rounds `first_round..first_round + rounds` of one look.
struct Batch {
    first_round: usize,
    rounds: usize,
    seed: u64,
}

/// Runs a look's rounds, interleaved finer than the bench's rounds: each round is
/// `per_round` passes, and each pass sends one `text` conversation to every target in a fresh
/// order. Base and head then alternate every fraction of a second, so a burst of load from
/// another process lands on both of a round's figures alike, where a round made of each
/// target's conversations back to back lets it land on one side (docs/gate.md#against-a-revision).
async fn interleaved(
    targets: &[Target],
    mock: &MockProcess,
    http: &reqwest::Client,
    plan: &RoundPlan,
    batch: &Batch,
    figures: &mut BTreeMap<String, TargetFigures>,
    progress: &Progress,
) -> Result<()> {
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    for target in targets {
        for i in 0..plan.warmup {
            let tag = format!("warm.{}.{i}", target.name);
            rounds::converse(http, target, mock, &plan.text(&tag)).await?;
        }
    }
    mock.clear_timeline().await?;
    let passes = stats::round_orders(&names, batch.rounds * plan.per_round, batch.seed);
    for (r, orders) in passes.chunks(plan.per_round).enumerate() {
        let round = batch.first_round + r;
        progress.step(format!("gate round {}", round + 1));
        for (pass, order) in orders.iter().enumerate() {
            for name in order {
                let Some(target) = targets.iter().find(|t| &t.name == name) else {
                    continue;
                };
                let tag = format!("r{round}.{name}.{pass}");
                let (seen, samples) =
                    rounds::converse(http, target, mock, &plan.text(&tag)).await?;
                figures
                    .entry(name.clone())
                    .or_default()
                    .add(round, &seen, &samples);
            }
        }
        progress.advance();
        mock.clear_timeline().await?;
    }
    Ok(())
}

/// Primary metrics (docs/gate.md#metrics) not yet judged.
pub fn undecided_primaries(judgements: &[Judgement]) -> usize {
    judgements
        .iter()
        .filter(|j| j.metric.is_primary() && matches!(j.decision, Decision::CouldNotJudge(_)))
        .count()
}
