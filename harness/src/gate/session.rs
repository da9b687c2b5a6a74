//! One bench session as `gate --against` uses it: the seam between the gate and the bench
//! stage's machinery, so the gate's sequential design does not reach into bench internals. A
//! session holds the mock provider, the direct path and the bench's round plan; each round it
//! starts the instances it is given afresh, all at once, warms them all at once, measures
//! interleaved passes one conversation at a time and stops them
//! (docs/gate.md#instances-per-round); what it measured comes back as per-round normalised
//! overheads, and where the round's time went.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sut_kit::manifest::Backend;
use sut_kit::mock::MockProcess;
use sut_kit::orchestrate::StartSettings;

use crate::progress::Progress;
use crate::stages::bench::figures::{Hop, TargetFigures};
use crate::stages::bench::rounds::{self, RoundPlan};
use crate::stages::bench::target::{DIRECT, Target};
use crate::stages::bench::{mock_pinning, plan};
use crate::stats;

/// Conversations each fresh instance answers before a round measures it: the quick bench's
/// warm-up per target (docs/gate.md#instances-per-round). All instances warm at once: nothing is
/// recorded then, and what the warm-up is for (the JIT compiling the hot paths, connections
/// opened) does not need a core to itself.
pub const WARMUP_PASSES: usize = 5;
/// Measured passes a round: each sends one `text` conversation to every target. Eight, twice the
/// quick bench's four, because a round's fixed cost (starting and warming its instances) is then
/// spread over twice the chunks; docs/gate.md#where-a-rounds-time-goes gives the measurement
/// behind it.
pub const MEASURED_PASSES: usize = 8;

/// Where a sequence's rounds spent their time (docs/gate.md#where-a-rounds-time-goes).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RoundTimes {
    pub start: Duration,
    pub warm: Duration,
    pub measured: Duration,
    pub stop: Duration,
}

impl RoundTimes {
    pub fn total(&self) -> Duration {
        self.start + self.warm + self.measured + self.stop
    }

    pub fn add(&mut self, other: RoundTimes) {
        self.start += other.start;
        self.warm += other.warm;
        self.measured += other.measured;
        self.stop += other.stop;
    }
}

/// One backend instance a round starts: which build, under which name, with which flags.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub backend: Backend,
    /// Where it starts from (its tree) and against which provider.
    pub launch: StartSettings,
    pub extra_args: Vec<String>,
}

/// What every round is measured with.
pub struct Session {
    mock: MockProcess,
    direct: Target,
    http: reqwest::Client,
    plan: RoundPlan,
    launch: StartSettings,
    log_dir: PathBuf,
    seed: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("provider", &self.launch.provider_url)
            .field("plan", &self.plan)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

/// Every target's chunk figures, by round; and the same split into each round's two halves
/// (its first and last measured passes), which say how much of the rounds' spread is the
/// sampling within a round (docs/gate.md#where-a-rounds-time-goes).
#[derive(Debug, Default)]
pub struct Figures {
    rounds: BTreeMap<String, TargetFigures>,
    /// Index `2 × round + half`.
    halves: BTreeMap<String, TargetFigures>,
}

impl Figures {
    /// Per round of `name`: (its quantile `q` of `hop` − the direct path's) / the direct path's
    /// p50 chunk transit in that round. Empty when either was not measured.
    pub fn normalised(&self, name: &str, hop: Hop, q: f64) -> BTreeMap<u32, f64> {
        normalised_in(&self.rounds, name, hop, q)
    }

    /// As [`Self::normalised`], per half round: key `2 × round + half`.
    pub fn normalised_halves(&self, name: &str, hop: Hop, q: f64) -> BTreeMap<u32, f64> {
        normalised_in(&self.halves, name, hop, q)
    }

    pub fn has(&self, name: &str) -> bool {
        self.rounds.contains_key(name)
    }
}

fn normalised_in(
    by_name: &BTreeMap<String, TargetFigures>,
    name: &str,
    hop: Hop,
    q: f64,
) -> BTreeMap<u32, f64> {
    let (Some(figures), Some(direct)) = (by_name.get(name), by_name.get(DIRECT)) else {
        return BTreeMap::new();
    };
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

impl Session {
    /// Starts the mock provider (the context's build of its root) and plans the quick bench's rounds.
    pub async fn open(ctx: &crate::stages::Context, log_dir: &Path) -> Result<Self> {
        let (root, profile, ready_timeout, seed) =
            (&ctx.root, ctx.profile.as_str(), ctx.ready_timeout, ctx.seed);
        let mock = MockProcess::start_with(root, profile, log_dir, ready_timeout, &mock_pinning())
            .await
            .context("the mock provider did not start (is it built in release?)")?;
        let launch = crate::provider::start_settings(root, profile, &mock, ready_timeout);
        let http = match sut_kit::client::http_client() {
            Ok(h) => h,
            Err(e) => {
                mock.stop().await;
                return Err(e);
            }
        };
        Ok(Self {
            direct: Target::direct(&launch.provider_url),
            mock,
            http,
            plan: plan::Plan::new(true, None, false, seed).rounds,
            launch,
            log_dir: log_dir.to_owned(),
            seed,
        })
    }

    /// How instances start: against this session's mock, from `tree`.
    pub fn launch_from(&self, tree: PathBuf) -> StartSettings {
        StartSettings {
            root: tree,
            ..self.launch.clone()
        }
    }

    pub async fn close(self) {
        self.mock.stop().await;
    }

    /// One round (`numbered` across sequences, for its seed; `round` within its sequence):
    /// every instance started afresh, all at once, then warmed with [`WARMUP_PASSES`]
    /// conversations each, all at once; then measured in [`MEASURED_PASSES`] passes, each
    /// sending one `text` conversation to every target (the direct path included) in a fresh
    /// order, one conversation at a time, so base and head alternate every fraction of a second
    /// and a burst of load from another process lands on both of a round's figures alike
    /// (docs/gate.md#against-a-revision); then stopped. Returns where its time went.
    pub async fn round(
        &self,
        instances: &[Instance],
        round: usize,
        numbered: usize,
        figures: &mut Figures,
        progress: &Progress,
    ) -> Result<RoundTimes> {
        progress.step(format!("gate round {}", numbered + 1));
        let seed = self.seed ^ (numbered as u64).rotate_left(32);
        let mut times = RoundTimes::default();
        let clock = Instant::now();
        // Started together: a start is mostly waiting for a process to read its code and bind,
        // and which instance started first no longer depends on an order at all.
        let starts = futures::future::join_all(instances.iter().map(|i| {
            Target::backend(
                &i.backend,
                &i.launch,
                &self.log_dir,
                &i.name,
                i.extra_args.clone(),
            )
        }))
        .await;
        times.start = clock.elapsed();
        let mut targets: Vec<Target> = Vec::new();
        let mut started: Result<()> = Ok(());
        for s in starts {
            match s {
                Ok(t) => targets.push(t),
                Err(e) if started.is_ok() => started = Err(e),
                Err(_) => {}
            }
        }
        let measured = match started {
            Ok(()) => {
                self.measure(round, numbered, seed, &targets, figures, &mut times)
                    .await
            }
            Err(e) => Err(e),
        };
        let clock = Instant::now();
        futures::future::join_all(targets.into_iter().map(Target::stop)).await;
        times.stop = clock.elapsed();
        progress.advance();
        measured.map(|()| times)
    }

    async fn measure(
        &self,
        round: usize,
        numbered: usize,
        seed: u64,
        targets: &[Target],
        figures: &mut Figures,
        times: &mut RoundTimes,
    ) -> Result<()> {
        let clock = Instant::now();
        futures::future::try_join_all(targets.iter().map(|target| async move {
            for pass in 0..WARMUP_PASSES {
                let tag = format!("warm.r{numbered}.{}.{pass}", target.name);
                rounds::converse(&self.http, target, &self.mock, &self.plan.text(&tag)).await?;
            }
            Ok::<(), anyhow::Error>(())
        }))
        .await?;
        self.mock.clear_timeline().await?;
        times.warm = clock.elapsed();
        let clock = Instant::now();
        let find = |name: &str| {
            std::iter::once(&self.direct)
                .chain(targets)
                .find(|t| t.name == name)
        };
        let mut all = vec![DIRECT.to_owned()];
        all.extend(targets.iter().map(|t| t.name.clone()));
        for (pass, order) in stats::round_orders(&all, MEASURED_PASSES, seed.rotate_left(16))
            .iter()
            .enumerate()
        {
            let half = 2 * round + usize::from(pass >= MEASURED_PASSES / 2);
            for name in order {
                let Some(target) = find(name) else { continue };
                let tag = format!("r{numbered}.{name}.{pass}");
                let (seen, samples) =
                    rounds::converse(&self.http, target, &self.mock, &self.plan.text(&tag)).await?;
                let add = |by_name: &mut BTreeMap<String, TargetFigures>, at: usize| {
                    by_name
                        .entry(name.clone())
                        .or_default()
                        .add(at, &seen, &samples)
                };
                add(&mut figures.rounds, round);
                add(&mut figures.halves, half);
            }
        }
        self.mock.clear_timeline().await?;
        times.measured = clock.elapsed();
        Ok(())
    }
}
