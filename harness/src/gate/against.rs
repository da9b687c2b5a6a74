//! `harness gate --against <rev>`: the method that holds on a noisy machine. The other revision
//! is checked out in a temporary worktree and built there (its own `target/`, its own
//! `node_modules`), then each backend of both revisions runs in the same interleaved rounds
//! against one mock, beside the direct path. Each round pairs base and head, so whatever the
//! machine did in a round it did to both; rounds are added until every metric can be judged or
//! the time limit ends (docs/gate.md#against-a-revision). Saturation needs the load sweeps and is
//! judged from files only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use conformance::manifest::{self, Backend};
use conformance::mock::MockProcess;
use conformance::orchestrate::{self, StartSettings};
use conformance::process;

use super::decide::{self, Decision, Judgement};
use super::metrics::Metric;
use crate::bench::figures::{Hop, TargetFigures};
use crate::bench::rounds::{self, RoundPlan};
use crate::bench::target::{DIRECT, Target};
use crate::bench::{mock_pinning, plan};
use crate::progress::Progress;
use crate::run_dir::RunDir;
use crate::stats;

/// Rounds added at a time before the gate looks whether it can judge.
const BATCH_ROUNDS: usize = 4;

#[derive(Debug, Clone)]
pub struct AgainstOptions {
    pub root: PathBuf,
    /// The revision to compare the working tree with (a commit, a branch, `HEAD~1`).
    pub rev: String,
    pub backends: Vec<Backend>,
    pub time_limit: Duration,
    pub ready_timeout: Duration,
    pub seed: u64,
}

/// A worktree of another revision, removed (with its build) when dropped.
#[derive(Debug)]
struct Worktree {
    repo: PathBuf,
    dir: tempfile::TempDir,
}

impl Worktree {
    fn add(repo: &Path, rev: &str) -> Result<Self> {
        let commit = git(
            repo,
            &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
        )
        .with_context(|| format!("`{rev}` is not a revision of this repository"))?;
        let dir = tempfile::Builder::new().prefix("arena-gate-").tempdir()?;
        let tree = dir.path().join("tree");
        git(
            repo,
            &[
                "worktree",
                "add",
                "--detach",
                &tree.display().to_string(),
                commit.trim(),
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
        let _ = git(&self.repo, &["worktree", "remove", "--force", &tree]);
        let _ = git(&self.repo, &["worktree", "prune"]);
    }
}

fn git(repo: &Path, args: &[&str]) -> Result<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Builds each backend of the worktree with its own manifest's steps.
async fn build_base(tree: &Path, names: &[String], log_dir: &Path) -> Result<Vec<Backend>> {
    let all = manifest::discover(&tree.join("backends"))?;
    let base = manifest::select(all, names).context("the base revision lacks a backend")?;
    std::fs::create_dir_all(log_dir)?;
    for backend in &base {
        for (i, step) in backend.manifest.build.iter().enumerate() {
            eprintln!("gate: base {}: {step}", backend.name());
            let log = log_dir.join(format!("base-{}.step{}.log", backend.name(), i + 1));
            let status = process::run_shell(step, tree, &log).await?;
            if !status.success() {
                bail!(
                    "building the base revision's {} failed at `{step}`; see {}:\n{}",
                    backend.name(),
                    log.display(),
                    process::file_tail(&log, 2000)
                );
            }
        }
    }
    Ok(base)
}

fn base_name(name: &str) -> String {
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

fn judge_all(
    names: &[String],
    figures: &BTreeMap<String, TargetFigures>,
    seed: u64,
) -> Vec<Judgement> {
    let Some(direct) = figures.get(DIRECT) else {
        return Vec::new();
    };
    let metrics = [
        (Metric::ChunkOverheadP50, Hop::ChunkTransit, 0.5),
        (Metric::ChunkOverheadP99, Hop::ChunkTransit, 0.99),
        (Metric::TtftOverheadP50, Hop::Ttft, 0.5),
    ];
    let mut out = Vec::new();
    for name in names {
        let (Some(head), Some(base)) = (figures.get(name), figures.get(&base_name(name))) else {
            continue;
        };
        for (metric, hop, q) in metrics {
            let b = normalised(base, direct, hop, q);
            let h = normalised(head, direct, hop, q);
            out.push(decide::judge_paired(
                name,
                metric,
                &b,
                &h,
                seed ^ metric as u64,
            ));
        }
    }
    out
}

/// Builds the base, then measures base and head in rounds until every latency metric is
/// judged or the time limit ends.
pub async fn run(opts: &AgainstOptions, run: &mut RunDir) -> Result<Vec<Judgement>> {
    let started = Instant::now();
    let log_dir = run.logs("gate");
    let worktree = Worktree::add(&opts.root, &opts.rev)?;
    let names: Vec<String> = opts.backends.iter().map(|b| b.name().to_owned()).collect();
    let base = build_base(&worktree.path(), &names, &log_dir).await?;
    let profile = run.run().profile.clone();
    let mock = MockProcess::start_with(
        &opts.root,
        &profile,
        &log_dir,
        opts.ready_timeout,
        &mock_pinning(),
    )
    .await?;
    let head_launch = StartSettings {
        root: opts.root.clone(),
        profile: profile.clone(),
        provider_url: mock.openai_url(),
        api_key: orchestrate::api_key_canary(),
        ready_timeout: opts.ready_timeout,
        extra_args: vec![],
    };
    let base_launch = StartSettings {
        root: worktree.path(),
        ..head_launch.clone()
    };
    let mut targets = vec![Target::direct(&head_launch.provider_url)];
    for (head, base) in opts.backends.iter().zip(&base) {
        targets.push(Target::backend(head, &head_launch, &log_dir, head.name(), vec![]).await?);
        let name = base_name(base.name());
        targets.push(Target::backend(base, &base_launch, &log_dir, &name, vec![]).await?);
    }
    let target_names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let quick = plan::Plan::new(true, Some(BATCH_ROUNDS), false, opts.seed);
    let http = conformance::client::http_client()?;
    let mut figures: BTreeMap<String, TargetFigures> = BTreeMap::new();
    let mut judgements = Vec::new();
    let mut batch = 0u64;
    let progress = Progress::new("gate", 0);
    let outcome: Result<()> = async {
        loop {
            let orders = stats::round_orders(&target_names, BATCH_ROUNDS, opts.seed ^ batch);
            let plan = RoundPlan {
                warmup: if batch == 0 { quick.rounds.warmup } else { 0 },
                ..quick.rounds.clone()
            };
            let outcome = rounds::run(&targets, &mock, &http, &plan, &orders, &progress).await?;
            for (name, f) in outcome.figures {
                figures.entry(name).or_default().append(f);
            }
            batch += 1;
            judgements = judge_all(&names, &figures, opts.seed);
            let undecided = judgements
                .iter()
                .filter(|j| matches!(j.decision, Decision::CouldNotJudge(_)))
                .count();
            progress.note(format!(
                "gate: {} rounds, {undecided} metric(s) not yet judged, {:.0} s",
                batch as usize * BATCH_ROUNDS,
                started.elapsed().as_secs_f64()
            ));
            if undecided == 0 || started.elapsed() >= opts.time_limit {
                return Ok(());
            }
        }
    }
    .await;
    progress.finish();
    for t in targets {
        t.stop().await;
    }
    mock.stop().await;
    drop(worktree);
    outcome?;
    Ok(judgements)
}
