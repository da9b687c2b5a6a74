//! `harness gate --against <rev>`: the method that holds on a noisy machine. The other revision
//! is built in a worktree of its own ([`super::prepare`]); then each judged backend of both
//! revisions runs in the same interleaved rounds against one mock, beside the direct path and a
//! control (an unchanged backend, the working tree's build on both sides). Each round pairs base
//! and head, so whatever the machine did in a round it did to both; rounds are added look by
//! look under the sequential design of [`super::sequential`] until the primary metric of every
//! backend is judged, the design's last look is taken, or the next look would not fit in the
//! time limit (docs/gate.md#against-a-revision). An injected delay (`--inject-delay-us`)
//! applies to the head side only, so the gate's own proof runs this path.
//!
//! Every round starts its own instances of every backend, in a fresh order, warms them and
//! stops them after it: a process keeps for its whole life whatever its start dealt it (the
//! JavaScript engine's compiled code, its heap, where its threads settled), and a pair of
//! instances kept for all the rounds would carry one such draw into every paired difference,
//! which the rounds cannot cancel (docs/gate.md#instances-per-round).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use conformance::manifest::Backend;
use conformance::mock::MockProcess;
use conformance::orchestrate::{self, StartSettings};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::decide::{Decision, Judgement};
use super::metrics;
use super::prepare::PreparedBase;
use super::sequential;
use crate::bench::figures::{Hop, TargetFigures};
use crate::bench::rounds::{self, RoundPlan};
use crate::bench::target::{DIRECT, Target};
use crate::bench::{mock_pinning, plan};
use crate::progress::Progress;
use crate::stats;

pub use super::prepare::BASE_TARGET_DIR;

/// Conversations each fresh instance answers, in interleaved passes, before a round measures
/// it: the quick bench's warm-up per target (docs/gate.md#instances-per-round).
pub const WARMUP_PASSES: usize = 5;

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

/// One backend instance a round starts: which build, under which name, with which flags.
#[derive(Debug, Clone)]
struct Instance {
    name: String,
    backend: Backend,
    launch: StartSettings,
    extra_args: Vec<String>,
}

/// What every round is measured with.
struct Rounds<'a> {
    instances: Vec<Instance>,
    direct: Target,
    mock: &'a MockProcess,
    http: reqwest::Client,
    plan: RoundPlan,
    log_dir: &'a Path,
    seed: u64,
}

/// The instances each round starts: for each judged backend the head's (with its injection)
/// and the base's; for the control, the working tree's build twice.
fn instances(
    opts: &Measure,
    prepared: &PreparedBase,
    head_launch: &StartSettings,
) -> Result<Vec<Instance>> {
    let base_launch = StartSettings {
        root: prepared.root(),
        ..head_launch.clone()
    };
    let mut out = Vec::new();
    for head in &opts.judged {
        let base = prepared
            .backends
            .iter()
            .find(|b| b.name() == head.name())
            .context("the base was built without a judged backend")?;
        out.push(Instance {
            name: head.name().to_owned(),
            backend: head.clone(),
            launch: head_launch.clone(),
            extra_args: injection(opts, head.name()),
        });
        out.push(Instance {
            name: base_name(base.name()),
            backend: base.clone(),
            launch: base_launch.clone(),
            extra_args: vec![],
        });
    }
    if let Some(c) = &opts.control {
        out.push(Instance {
            name: c.name().to_owned(),
            backend: c.clone(),
            launch: head_launch.clone(),
            extra_args: injection(opts, c.name()),
        });
        out.push(Instance {
            name: base_name(c.name()),
            backend: c.clone(),
            launch: head_launch.clone(),
            extra_args: vec![],
        });
    }
    Ok(out)
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
    let measured = match instances(opts, prepared, &head_launch) {
        Ok(instances) => {
            let quick = plan::Plan::new(true, None, false, opts.seed);
            let ctx = Rounds {
                instances,
                direct: Target::direct(&head_launch.provider_url),
                mock: &mock,
                http: conformance::client::http_client()?,
                plan: quick.rounds.clone(),
                log_dir,
                seed: opts.seed,
            };
            looks(opts, &ctx, started).await
        }
        Err(e) => Err(e),
    };
    mock.stop().await;
    let mut outcome = measured?;
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

/// The looks: rounds until every primary metric is judged, the last look, or the budget.
async fn looks(opts: &Measure, ctx: &Rounds<'_>, started: Instant) -> Result<Outcome> {
    let names: Vec<String> = opts
        .judged
        .iter()
        .chain(&opts.control)
        .map(|b| b.name().to_owned())
        .collect();
    let progress = Progress::new(
        "gate",
        sequential::max_rounds() as u64 * (ctx.instances.len() as u64 + 1),
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
    let rounds_started = Instant::now();
    for look in 0..sequential::MAX_LOOKS {
        while outcome.rounds < sequential::rounds_at_look(look) {
            round(ctx, outcome.rounds, &mut figures, &progress).await?;
            outcome.rounds += 1;
        }
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
            break;
        }
        let per_round = rounds_started.elapsed().as_secs_f64() / outcome.rounds as f64;
        let next = per_round * sequential::ROUNDS_PER_LOOK as f64;
        if look + 1 < sequential::MAX_LOOKS
            && Instant::now() + Duration::from_secs_f64(next) > opts.deadline
        {
            outcome.stopped = Stop::Budget;
            break;
        }
    }
    progress.finish();
    Ok(outcome)
}

/// One round: every instance started afresh in a shuffled order, warmed with
/// [`WARMUP_PASSES`] interleaved passes, then measured in `per_round` passes, each sending one
/// `text` conversation to every target (the direct path included) in a fresh order, so base
/// and head alternate every fraction of a second and a burst of load from another process
/// lands on both of a round's figures alike (docs/gate.md#against-a-revision); then stopped.
async fn round(
    ctx: &Rounds<'_>,
    round: usize,
    figures: &mut BTreeMap<String, TargetFigures>,
    progress: &Progress,
) -> Result<()> {
    progress.step(format!("gate round {}", round + 1));
    let seed = ctx.seed ^ (round as u64).rotate_left(32);
    let mut order: Vec<&Instance> = ctx.instances.iter().collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut targets: Vec<Target> = Vec::new();
    let mut started: Result<()> = Ok(());
    for i in order {
        match Target::backend(
            &i.backend,
            &i.launch,
            ctx.log_dir,
            &i.name,
            i.extra_args.clone(),
        )
        .await
        {
            Ok(t) => targets.push(t),
            Err(e) => {
                started = Err(e);
                break;
            }
        }
    }
    let measured = match started {
        Ok(()) => measure_round(ctx, round, seed, &targets, figures).await,
        Err(e) => Err(e),
    };
    for t in targets {
        t.stop().await;
    }
    progress.advance();
    measured
}

async fn measure_round(
    ctx: &Rounds<'_>,
    round: usize,
    seed: u64,
    targets: &[Target],
    figures: &mut BTreeMap<String, TargetFigures>,
) -> Result<()> {
    let backends: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let find = |name: &str| {
        std::iter::once(&ctx.direct)
            .chain(targets)
            .find(|t| t.name == name)
    };
    for (pass, order) in stats::round_orders(&backends, WARMUP_PASSES, seed)
        .iter()
        .enumerate()
    {
        for name in order {
            let Some(target) = find(name) else { continue };
            let tag = format!("warm.r{round}.{name}.{pass}");
            rounds::converse(&ctx.http, target, ctx.mock, &ctx.plan.text(&tag)).await?;
        }
    }
    ctx.mock.clear_timeline().await?;
    let mut all = vec![DIRECT.to_owned()];
    all.extend(backends);
    for (pass, order) in stats::round_orders(&all, ctx.plan.per_round, seed.rotate_left(16))
        .iter()
        .enumerate()
    {
        for name in order {
            let Some(target) = find(name) else { continue };
            let tag = format!("r{round}.{name}.{pass}");
            let (seen, samples) =
                rounds::converse(&ctx.http, target, ctx.mock, &ctx.plan.text(&tag)).await?;
            figures
                .entry(name.clone())
                .or_default()
                .add(round, &seen, &samples);
        }
    }
    ctx.mock.clear_timeline().await?;
    Ok(())
}

/// Primary metrics (docs/gate.md#metrics) not yet judged.
pub fn undecided_primaries(judgements: &[Judgement]) -> usize {
    judgements
        .iter()
        .filter(|j| j.metric.is_primary() && matches!(j.decision, Decision::CouldNotJudge(_)))
        .count()
}
