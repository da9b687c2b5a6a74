//! The latency rounds: every round runs each target in a fresh random order, one conversation
//! at a time, so whatever the machine does to one round it does to every target of that round
//! (docs/bench.md#rounds). Overheads are then taken per round (see [`super::record`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use contract::scenario::{Directive, Scenario};
use hdrhistogram::Histogram;
use sut_kit::client;
use sut_kit::mock::{MockProcess, expected_chunks};

use super::figures::TargetFigures;
use super::observe::{self, Observation, Samples};
use super::target::Target;
use crate::procfs;
use crate::progress::Progress;
use crate::stats;

/// The workload of the rounds.
#[derive(Debug, Clone)]
pub struct RoundPlan {
    pub rounds: usize,
    /// `text` conversations per target per round (each target with tools adds one `tool-chain`
    /// every [`Self::tool_chain_every`] rounds).
    pub per_round: usize,
    /// A `tool-chain` conversation in round 0 and every this many rounds after: 1 in a full
    /// run, 2 in a quick one (rounds 1 and 3 of its three; the quick budget).
    pub tool_chain_every: usize,
    /// Conversations per target before the first round, not recorded: Node compiles its hot
    /// paths on first use.
    pub warmup: usize,
    pub chunks: u32,
    pub ttft_ms: u64,
    pub gap_ms: u64,
}

impl RoundPlan {
    /// A `text` conversation's directive, tagged.
    pub fn text(&self, tag: &str) -> Directive {
        let mut d = Directive::new(Scenario::Text);
        d.params.chunks = self.chunks;
        d.params.ttft_ms = self.ttft_ms;
        d.params.gap_ms = self.gap_ms;
        d.params.tag = Some(tag.to_owned());
        d
    }

    /// A `tool-chain` conversation's directive (three provider calls, two tool turnarounds).
    fn tool_chain(&self, tag: &str) -> Directive {
        let mut d = self.text(tag);
        d.scenario = Scenario::ToolChain;
        d
    }

    /// Conversations round `round` sends to `target`.
    fn conversations(&self, target: &Target, round: usize) -> usize {
        let tool_round = round.is_multiple_of(self.tool_chain_every.max(1));
        self.per_round + usize::from(target.has_tools() && tool_round)
    }
}

/// What the rounds measured.
#[derive(Debug)]
pub struct RoundsOutcome {
    pub figures: BTreeMap<String, TargetFigures>,
    /// How late the mock sent its frames, over every round.
    pub mock_lateness: Histogram<u64>,
    /// When each round began and how long it took, from the first round's start.
    pub round_spans: Vec<(Duration, Duration)>,
}

/// One conversation: send, read to the end, join with the provider's record.
pub async fn converse(
    http: &reqwest::Client,
    target: &Target,
    mock: &MockProcess,
    d: &Directive,
) -> Result<(Observation, Samples)> {
    let tag = d.params.tag.clone().unwrap_or_default();
    let seen = match client::exchange(target.request(http, &d.render())).await {
        Ok(answer) => Observation::read(&answer, target.kind),
        Err(e) => Observation {
            failure: Some(format!("{e:#}")),
            ..Observation::default()
        },
    };
    let requests = mock
        .settled_timeline(&tag)
        .await
        .context("the mock provider stopped answering")?;
    let expected = expected_chunks(d);
    let samples = observe::join(&seen, &requests, expected.as_deref());
    Ok((seen, samples))
}

/// Runs `orders.len()` rounds over `targets`.
pub async fn run(
    targets: &[Target],
    mock: &MockProcess,
    http: &reqwest::Client,
    plan: &RoundPlan,
    orders: &[Vec<String>],
    progress: &Progress,
) -> Result<RoundsOutcome> {
    let mut outcome = RoundsOutcome {
        figures: BTreeMap::new(),
        mock_lateness: stats::histogram(),
        round_spans: Vec::new(),
    };
    progress.step("warming up");
    // Every target warms up at the same time, each its conversations one after another:
    // nothing is recorded then, and what the warm-up is for (Node compiling its hot paths,
    // connections opened) does not need the core to itself. One after another it took
    // warm-ups × targets × 0.21 s (docs/bench.md#the-quick-budget).
    futures::future::try_join_all(targets.iter().map(|target| async move {
        for i in 0..plan.warmup {
            let tag = format!("warm.{}.{i}", target.name);
            converse(http, target, mock, &plan.text(&tag)).await?;
        }
        Ok::<(), anyhow::Error>(())
    }))
    .await?;
    mock.clear_timeline().await?;
    let first = Instant::now();
    for (round, order) in orders.iter().enumerate() {
        let round_start = Instant::now();
        for name in order {
            let Some(target) = targets.iter().find(|t| &t.name == name) else {
                continue;
            };
            progress.step(format!(
                "latency round {}/{}: {name}",
                round + 1,
                orders.len()
            ));
            let figures = outcome.figures.entry(name.clone()).or_default();
            let pids = target.pids();
            let cpu_before = procfs::cpu_ms(&pids);
            for i in 0..plan.conversations(target, round) {
                let tag = format!("r{round}.{name}.{i}");
                let d = if i < plan.per_round {
                    plan.text(&tag)
                } else {
                    plan.tool_chain(&tag)
                };
                let (seen, samples) = converse(http, target, mock, &d).await?;
                figures.add(round, &seen, &samples);
                for &late in &samples.mock_lateness {
                    stats::record(&mut outcome.mock_lateness, late);
                }
            }
            // A process that exited meanwhile takes its CPU time with it: never below zero.
            figures.cpu_ms += (procfs::cpu_ms(&pids) - cpu_before).max(0.0);
            progress.advance();
        }
        outcome
            .round_spans
            .push((round_start - first, round_start.elapsed()));
        mock.clear_timeline().await?;
    }
    Ok(outcome)
}
