//! `harness gate --against <rev>`: the method that holds on a noisy machine. Both sides, the
//! other revision and the working tree's content, are checked out and built alike in fresh
//! worktrees ([`super::prepare`]); then each judged backend of both runs in the same interleaved
//! rounds against one mock, beside the direct path and a control (an unchanged backend, the
//! head tree's build on both sides). Each round pairs base and head, so whatever the machine did
//! in a round it did to both; rounds are added look by look under the sequential design of
//! [`super::sequential`] until the primary metric of every backend is judged, the design's last
//! look is taken, or the next look would not fit in the time limit; a regression must then be
//! found again by a second sequence of fresh rounds (docs/gate.md#confirmation). An injected
//! delay (`--inject-delay-us`) applies to the head side only, so the gate's own proof runs this
//! path.
//!
//! Every round starts its own instances of every backend, warms them, measures them and stops
//! them after it: a process keeps for its whole life whatever its start dealt it (the
//! JavaScript engine's compiled code, its heap, where its threads settled), and a pair of
//! instances kept for all the rounds would carry one such draw into every paired difference,
//! which the rounds cannot cancel (docs/gate.md#instances-per-round).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sut_kit::manifest::Backend;

pub use super::cpu::CpuMode;
use super::decide::{Decision, Judgement};
use super::metrics::{self, Metric, Statistic};
use super::prepare::PreparedTree;
use super::sequential;
use super::session::{Figures, Instance, RoundTimes, Session};
pub use super::waits::Stop;
use super::waits::Waits;
use crate::progress::Progress;

pub use super::prepare::BASE_TARGET_DIR;
pub use super::session::{MEASURED_PASSES, WARMUP_PASSES};

/// What one measurement of base against head is made of.
#[derive(Debug, Clone)]
pub struct Measure {
    /// The shared context: the root, the profile both sides run in, the ready timeout and the
    /// seed of the rounds' orders.
    pub ctx: crate::stages::Context,
    /// The judged backends (built in both trees).
    pub judged: Vec<String>,
    /// The unchanged backend measured as A/A beside them (the head tree's build twice).
    pub control: Option<String>,
    /// `NAME=N`: the head instance of NAME holds each text chunk N µs; the base does not.
    pub inject_delay_us: Vec<(String, u64)>,
    /// `NAME=N`: the head instance of NAME burns N µs of CPU per text chunk; the base does not.
    pub inject_cpu_us: Vec<(String, u64)>,
    /// Whether the rounds measure the CPU at load, and whether its verdict counts.
    pub cpu: CpuMode,
    /// No look starts that would end after this.
    pub deadline: Instant,
}

/// The two sides, each a tree prepared alike ([`super::prepare`]).
#[derive(Debug, Clone, Copy)]
pub struct Sides<'a> {
    pub base: &'a PreparedTree,
    /// Holds the judged backends and the control.
    pub head: &'a PreparedTree,
}

/// One sequential test: rounds added look by look until what it waits for is judged.
#[derive(Debug, Clone)]
pub struct Sequence {
    pub judgements: Vec<Judgement>,
    pub rounds: usize,
    pub looks: usize,
    /// Why the rounds stopped.
    pub stopped: Stop,
    /// Where the rounds' time went.
    pub times: RoundTimes,
    /// Per backend judged, how the primary metric's paired differences spread: between
    /// rounds, and between the two halves of one round ([`sequential::Spread`]).
    pub spreads: Vec<(String, Statistic, sequential::Spread)>,
    /// Per backend measured on both sides, its chunk overhead p50 as the sign test reads it:
    /// the median paired difference and its interval at the design's confidence, printed
    /// beside the signed-rank verdict (docs/gate.md#the-sequential-test).
    pub sign_test: SignTests,
    /// Per backend measured on both sides, its chunk overhead p50's paired differences in
    /// round order, printed so a sequence can be judged again by another test.
    pub differences: Vec<(String, Vec<f64>)>,
    /// The direct path's chunk transit p50, the median over the rounds, in µs: the unit the
    /// latency figures are in.
    pub direct_p50_us: Option<f64>,
}

/// Per backend, the sign test's median paired difference and its interval.
pub type SignTests = Vec<(String, Option<f64>, Option<[f64; 2]>)>;

/// What a measurement found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The verdicts: the first sequence's, where it found a regression the confirmation's
    /// finding ([`sequential::confirm`]).
    pub judgements: Vec<Judgement>,
    pub control: Option<String>,
    pub first: Sequence,
    /// The second sequence of fresh rounds that a regression of the first must be confirmed
    /// by (docs/gate.md#confirmation); `None` when the first found none.
    pub confirmation: Option<Sequence>,
    pub seconds: f64,
    /// Whether the CPU at load was measured and whether its verdicts count.
    pub cpu: CpuMode,
}

impl Outcome {
    /// Whether the control read as a regression in either sequence: the machine moved more
    /// than the design allows.
    pub fn control_moved(&self) -> bool {
        let Some(c) = &self.control else {
            return false;
        };
        std::iter::once(&self.first)
            .chain(&self.confirmation)
            .flat_map(|s| &s.judgements)
            .any(|j| {
                &j.backend == c && j.decision == Decision::Regression && self.cpu.counts(j.metric)
            })
    }
}

pub fn base_name(name: &str) -> String {
    format!("{name}@base")
}
fn judge_all(names: &[String], figures: &Figures, cpu: CpuMode) -> Vec<Judgement> {
    let mut out = Vec::new();
    for name in names {
        if !figures.has(name) || !figures.has(&base_name(name)) {
            continue;
        }
        for m in metrics::PAIRED {
            let b = figures.normalised(&base_name(name), m.hop, m.statistic);
            let h = figures.normalised(name, m.hop, m.statistic);
            out.push(sequential::judge(name, m.metric, &b, &h));
        }
        if cpu != CpuMode::Off {
            for metric in Metric::CPU {
                let b = figures.cpu(&base_name(name), metric);
                let h = figures.cpu(name, metric);
                out.push(sequential::judge(name, metric, &b, &h));
            }
        }
    }
    out
}

/// Per backend measured on both sides, the primary metric's sign-test reading and its paired
/// differences.
fn sign_tests_all(names: &[String], figures: &Figures) -> (SignTests, Vec<(String, Vec<f64>)>) {
    let m = &metrics::PAIRED[0];
    names
        .iter()
        .filter(|n| figures.has(n) && figures.has(&base_name(n)))
        .map(|name| {
            let b = figures.normalised(&base_name(name), m.hop, m.statistic);
            let h = figures.normalised(name, m.hop, m.statistic);
            let diffs = sequential::paired(m.metric, &b, &h);
            (
                (
                    name.clone(),
                    crate::stats::median(&diffs),
                    sequential::median_interval(&diffs, sequential::per_look_alpha()),
                ),
                (name.clone(), diffs),
            )
        })
        .unzip()
}

/// The per-round statistics of chunk transit whose spreads every sequence prints beside the
/// primary metric's, so that which one narrows the rounds most is measured in the same rounds
/// (docs/gate.md#the-per-round-statistic).
pub const SPREAD_CANDIDATES: [Statistic; 3] = [
    Statistic::Quantile(0.5),
    Statistic::TrimmedMean(0.1),
    Statistic::TrimmedMean(0.25),
];

/// Per backend measured on both sides and per candidate statistic of chunk transit, how its
/// paired differences spread.
fn spreads_all(
    names: &[String],
    figures: &Figures,
) -> Vec<(String, Statistic, sequential::Spread)> {
    let mut out = Vec::new();
    for name in names {
        for statistic in SPREAD_CANDIDATES {
            let diffs = |f: &dyn Fn(&str) -> std::collections::BTreeMap<u32, f64>| {
                let (b, h) = (f(&base_name(name)), f(name));
                b.iter()
                    .filter_map(|(r, b)| Some((*r, h.get(r)? - b)))
                    .collect::<std::collections::BTreeMap<u32, f64>>()
            };
            let hop = contract::results::Hop::ChunkTransit;
            let full = diffs(&|n| figures.normalised(n, hop, statistic));
            let halves = diffs(&|n| figures.normalised_halves(n, hop, statistic));
            let full: Vec<f64> = full.into_values().collect();
            let halves: Vec<f64> = halves
                .iter()
                .filter(|(k, _)| *k % 2 == 0)
                .filter_map(|(k, a)| Some(a - halves.get(&(k + 1))?))
                .collect();
            if let Some(sp) = sequential::spread(&full, &halves) {
                out.push((name.clone(), statistic, sp));
            }
        }
    }
    out
}

fn injection(opts: &Measure, name: &str) -> Vec<String> {
    let mut args = Vec::new();
    for (flag, injected) in [
        ("--inject-delay-us", &opts.inject_delay_us),
        ("--inject-cpu-us", &opts.inject_cpu_us),
    ] {
        if let Some((_, us)) = injected.iter().find(|(n, _)| n == name) {
            args.extend([flag.to_owned(), us.to_string()]);
        }
    }
    if !args.is_empty() {
        args.insert(0, "--enable-fault-injection".to_owned());
    }
    args
}

/// The instances each round starts: for each judged backend the head tree's (with its
/// injection) and the base tree's; for the control, the head tree's build twice. Each runs
/// from its own tree, started the same way (docs/gate.md#two-trees-alike).
fn instances(opts: &Measure, sides: Sides<'_>, session: &Session) -> Result<Vec<Instance>> {
    let from = |tree: &PreparedTree| session.launch_from(tree.root());
    let built = |tree: &PreparedTree, name: &str| -> Result<Backend> {
        tree.backend(name)
            .cloned()
            .with_context(|| format!("the {} tree was built without `{name}`", tree.side.name()))
    };
    let mut out = Vec::new();
    for name in &opts.judged {
        out.push(Instance {
            name: name.clone(),
            backend: built(sides.head, name)?,
            launch: from(sides.head),
            extra_args: injection(opts, name),
        });
        out.push(Instance {
            name: base_name(name),
            backend: built(sides.base, name)?,
            launch: from(sides.base),
            extra_args: vec![],
        });
    }
    if let Some(c) = &opts.control {
        let backend = built(sides.head, c)?;
        out.push(Instance {
            name: c.clone(),
            backend: backend.clone(),
            launch: from(sides.head),
            extra_args: injection(opts, c),
        });
        out.push(Instance {
            name: base_name(c),
            backend,
            launch: from(sides.head),
            extra_args: vec![],
        });
    }
    Ok(out)
}

/// Measures base and head: a first sequence of looks until every primary metric is judged,
/// the last look is taken, or the next look would not fit in the time limit (keeping room for
/// a confirmation's first look); then, if it judged any of a judged backend's metrics a
/// regression, a second sequence of fresh rounds that must judge it a regression too.
pub async fn measure(opts: &Measure, sides: Sides<'_>, log_dir: &Path) -> Result<Outcome> {
    let started = Instant::now();
    for (flag, injected) in [
        ("--inject-delay-us", &opts.inject_delay_us),
        ("--inject-cpu-us", &opts.inject_cpu_us),
    ] {
        for (name, _) in injected {
            if !opts.judged.iter().chain(&opts.control).any(|b| b == name) {
                bail!("{flag} names `{name}`, which is not among the backends measured");
            }
        }
    }
    let session = Session::open(&opts.ctx, log_dir).await?;
    let measured = match instances(opts, sides, &session) {
        Ok(instances) => sequences(opts, &session, &instances, started).await,
        Err(e) => Err(e),
    };
    session.close().await;
    let mut outcome = measured?;
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}

/// The first sequence, then the confirmation when the first found a judged backend regressed.
async fn sequences(
    opts: &Measure,
    session: &Session,
    instances: &[Instance],
    started: Instant,
) -> Result<Outcome> {
    let ctx = Rounds { session, instances };
    let names: Vec<String> = opts.judged.iter().chain(&opts.control).cloned().collect();
    let first = looks(opts, &ctx, &names, 0, &Waits::Primaries, started).await?;
    let to_confirm = Waits::confirming(&first.judgements, &opts.judged, first.rounds);
    let mut outcome = Outcome {
        judgements: first.judgements.clone(),
        control: opts.control.clone(),
        first,
        confirmation: None,
        seconds: 0.0,
        cpu: opts.cpu,
    };
    let Some(to_confirm) = to_confirm else {
        return Ok(outcome);
    };
    let per_round = started.elapsed().as_secs_f64() / outcome.first.rounds.max(1) as f64;
    let first_look = per_round * sequential::FIRST_LOOK_ROUNDS as f64;
    if Instant::now() + Duration::from_secs_f64(first_look) <= opts.deadline {
        let secondary = to_confirm.confirmed().iter().any(|(_, m)| !m.is_primary());
        eprintln!(
            "gate: the first sequence judged {} a regression; confirming on fresh rounds{}",
            to_confirm
                .confirmed()
                .iter()
                .map(|(b, m)| format!("{b} {}", m.name()))
                .collect::<Vec<_>>()
                .join(", "),
            if secondary {
                format!(
                    " (a secondary metric until every primary is judged and it has had {} \
                     rounds: docs/gate.md#a-secondary-metrics-confirmation)",
                    outcome.first.rounds
                )
            } else {
                String::new()
            }
        );
        let offset = outcome.first.rounds;
        let second = looks(opts, &ctx, &names, offset, &to_confirm, started).await?;
        outcome.judgements = sequential::confirm(&outcome.first.judgements, &second.judgements);
        outcome.confirmation = Some(second);
    } else {
        outcome.judgements = sequential::confirm(&outcome.first.judgements, &[]);
    }
    Ok(outcome)
}

/// One sequence: rounds (numbered from `offset`, for their seeds) until what `waits` waits for
/// is judged ([`Waits::after_look`]), the last look, or the budget. The first sequence keeps
/// room for a confirmation's first look before the deadline.
async fn looks(
    opts: &Measure,
    ctx: &Rounds<'_>,
    names: &[String],
    offset: usize,
    waits: &Waits,
    started: Instant,
) -> Result<Sequence> {
    let reserve = *waits == Waits::Primaries;
    let which = if offset == 0 {
        "gate"
    } else {
        "gate (confirming)"
    };
    let progress = Progress::new(
        which,
        sequential::max_rounds() as u64 * (ctx.instances.len() as u64 + 1),
    );
    let mut figures = Figures::default();
    let mut seq = Sequence {
        judgements: Vec::new(),
        rounds: 0,
        looks: 0,
        stopped: Stop::LastLook,
        times: RoundTimes::default(),
        spreads: Vec::new(),
        sign_test: Vec::new(),
        differences: Vec::new(),
        direct_p50_us: None,
    };
    // Every pair's CPU at load, each round until its metrics are judged: once they are, more
    // windows would only take time from the latency rounds (docs/gate.md#cpu-at-load).
    let pairs: Vec<(String, String)> = names.iter().map(|n| (n.clone(), base_name(n))).collect();
    let rounds_started = Instant::now();
    let mut until = sequential::FIRST_LOOK_ROUNDS;
    for look in 0..sequential::MAX_LOOKS {
        while seq.rounds < until {
            let cpu_open = opts.cpu != CpuMode::Off
                && (seq.looks == 0
                    || seq.judgements.iter().any(|j| {
                        j.metric.is_cpu() && matches!(j.decision, Decision::CouldNotJudge(_))
                    }));
            let times = ctx
                .session
                .round(
                    ctx.instances,
                    seq.rounds,
                    offset + seq.rounds,
                    cpu_open.then_some(pairs.as_slice()),
                    &mut figures,
                    &progress,
                )
                .await?;
            seq.times.add(times);
            seq.rounds += 1;
        }
        seq.looks = look + 1;
        seq.judgements = judge_all(names, &figures, opts.cpu);
        seq.spreads = spreads_all(names, &figures);
        (seq.sign_test, seq.differences) = sign_tests_all(names, &figures);
        seq.direct_p50_us = crate::stats::median(&figures.direct_p50_us());
        let after = waits.after_look(&seq.judgements, seq.rounds, look);
        let undecided = after.undecided;
        progress.note(format!(
            "{which}: look {} at {} rounds, {undecided} metric(s) waited for not yet judged, \
             {:.0} s",
            look + 1,
            seq.rounds,
            started.elapsed().as_secs_f64()
        ));
        if let Some(stop) = after.stop {
            seq.stopped = stop;
            break;
        }
        // The next look's rounds follow the pace measured so far, so that the time left holds
        // the looks left (docs/gate.md#the-sequential-test).
        let per_round = rounds_started.elapsed().as_secs_f64() / seq.rounds as f64;
        let reserved = if reserve {
            per_round * sequential::FIRST_LOOK_ROUNDS as f64
        } else {
            0.0
        };
        let left = opts
            .deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64()
            - reserved;
        match sequential::next_look_rounds(left, per_round, sequential::MAX_LOOKS - look - 1) {
            Some(n) => until = seq.rounds + n,
            None => {
                seq.stopped = Stop::Budget;
                break;
            }
        }
    }
    progress.finish();
    Ok(seq)
}

/// The session and the instances each of its rounds starts.
struct Rounds<'a> {
    session: &'a Session,
    instances: &'a [Instance],
}

/// Primary metrics (docs/gate.md#metrics) not yet judged.
pub fn undecided_primaries(judgements: &[Judgement]) -> usize {
    judgements
        .iter()
        .filter(|j| j.metric.is_primary() && matches!(j.decision, Decision::CouldNotJudge(_)))
        .count()
}
