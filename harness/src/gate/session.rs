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

use super::cpu::{self, CpuRound};
use super::metrics::{Metric, Statistic};
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
    /// The CPU at load's windows (docs/gate.md#cpu-at-load).
    pub cpu: Duration,
    pub stop: Duration,
}

impl RoundTimes {
    pub fn total(&self) -> Duration {
        self.start + self.warm + self.measured + self.cpu + self.stop
    }

    pub fn add(&mut self, other: RoundTimes) {
        self.start += other.start;
        self.warm += other.warm;
        self.measured += other.measured;
        self.cpu += other.cpu;
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
    /// Per target, its CPU at load by round (docs/gate.md#cpu-at-load).
    cpu: BTreeMap<String, BTreeMap<u32, CpuRound>>,
}

impl Figures {
    /// Per round of `name`: (its `statistic` of `hop` − the direct path's) / the direct path's
    /// p50 chunk transit in that round. Empty when either was not measured.
    pub fn normalised(&self, name: &str, hop: Hop, statistic: Statistic) -> BTreeMap<u32, f64> {
        normalised_in(&self.rounds, name, hop, statistic)
    }

    /// As [`Self::normalised`], per half round: key `2 × round + half`.
    pub fn normalised_halves(
        &self,
        name: &str,
        hop: Hop,
        statistic: Statistic,
    ) -> BTreeMap<u32, f64> {
        normalised_in(&self.halves, name, hop, statistic)
    }

    /// The direct path's p50 chunk transit of each round, µs.
    pub fn direct_p50_us(&self) -> Vec<f64> {
        self.rounds
            .get(DIRECT)
            .map(|d| {
                d.per_round(Hop::ChunkTransit, |h| stats::quantile_us(h, 0.5))
                    .into_iter()
                    .flatten()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn has(&self, name: &str) -> bool {
        self.rounds.contains_key(name)
    }

    /// Per round of `name`: its CPU per chunk at load (µs) or its capacity per core
    /// (conversations/s), as `metric` asks. Empty when its CPU was not measured.
    pub fn cpu(&self, name: &str, metric: Metric) -> BTreeMap<u32, f64> {
        let Some(rounds) = self.cpu.get(name) else {
            return BTreeMap::new();
        };
        rounds
            .iter()
            .map(|(r, c)| {
                let v = match metric {
                    Metric::CapacityPerCore => c.per_core_rps(),
                    _ => c.us_per_chunk(),
                };
                (*r, v)
            })
            .collect()
    }
}

/// What a round's CPU at load drives: each pair (head, base) together, the pairs one after
/// another (docs/gate.md#cpu-at-load).
pub type CpuPairs = [(String, String)];

/// The order a round spawns (and warms) its instances in: a fresh shuffle per round from its
/// seed. A fixed order (the head's instances before the base's, as they are listed) gave one
/// side the first fork, the first warm-up request and the first pick of a core in every round,
/// an asymmetry the paired rounds could not cancel; drawn per round it is noise the sign test
/// counts (docs/gate.md#the-lean-that-was-not-the-trees).
pub fn start_order<T>(instances: &[T], seed: u64) -> Vec<&T> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut order: Vec<&T> = instances.iter().collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed.rotate_left(8)));
    order
}

/// `statistic` of one histogram of nanoseconds, in µs.
pub fn summarise(h: &hdrhistogram::Histogram<u64>, statistic: Statistic) -> f64 {
    match statistic {
        Statistic::Quantile(q) => stats::quantile_us(h, q),
        Statistic::TrimmedMean(t) => trimmed_mean_us(h, t),
    }
}

/// The mean of the samples of `h` ranked after the lowest `trim` share and before the highest
/// `trim` share (each sample counted once; a bucket straddling a cut counts in part).
pub fn trimmed_mean_us(h: &hdrhistogram::Histogram<u64>, trim: f64) -> f64 {
    let n = h.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let (lo, hi) = (n * trim, n * (1.0 - trim));
    let (mut below, mut sum, mut kept) = (0.0, 0.0, 0.0);
    for v in h.iter_recorded() {
        let count = v.count_at_value() as f64;
        let inside = (below + count).min(hi) - below.max(lo);
        if inside > 0.0 {
            sum += inside * h.median_equivalent(v.value_iterated_to()) as f64;
            kept += inside;
        }
        below += count;
    }
    if kept > 0.0 {
        sum / kept / 1_000.0
    } else {
        stats::quantile_us(h, 0.5)
    }
}

fn normalised_in(
    by_name: &BTreeMap<String, TargetFigures>,
    name: &str,
    hop: Hop,
    statistic: Statistic,
) -> BTreeMap<u32, f64> {
    let (Some(figures), Some(direct)) = (by_name.get(name), by_name.get(DIRECT)) else {
        return BTreeMap::new();
    };
    let of = |h: &hdrhistogram::Histogram<u64>| summarise(h, statistic);
    let p50 = |h: &hdrhistogram::Histogram<u64>| stats::quantile_us(h, 0.5);
    let ours = figures.per_round(hop, of);
    let theirs = direct.per_round(hop, of);
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
        cpu::sweep();
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
        cpu_pairs: Option<&CpuPairs>,
        figures: &mut Figures,
        progress: &Progress,
    ) -> Result<RoundTimes> {
        progress.step(format!("gate round {}", numbered + 1));
        let seed = self.seed ^ (numbered as u64).rotate_left(32);
        let mut times = RoundTimes::default();
        let clock = Instant::now();
        // Started together: a start is mostly waiting for a process to read its code and bind.
        // Still, one of them is spawned first and warmed first; the order is drawn afresh each
        // round, so that no side always goes first (docs/gate.md#the-lean-that-was-not-the-trees).
        let starts = futures::future::join_all(start_order(instances, seed).into_iter().map(|i| {
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
        // Made after the latency passes, kept until the instances are gone: a cgroup can be
        // removed only once it is empty.
        let mut meters = Vec::new();
        if let (Ok(()), Some(pairs)) = (&measured, cpu_pairs) {
            let clock = Instant::now();
            meters = cpu::meters(&targets, numbered);
            self.cpu_at_load(round, numbered, seed, pairs, &targets, &meters, figures)
                .await;
            times.cpu = clock.elapsed();
        }
        let clock = Instant::now();
        futures::future::join_all(targets.into_iter().map(Target::stop)).await;
        times.stop = clock.elapsed();
        drop(meters);
        progress.advance();
        measured.map(|()| times)
    }

    /// Each pair driven together for one window ([`cpu::drive_pair`]), the pairs in an order
    /// drawn per round, as is which side of a pair goes first.
    #[allow(clippy::too_many_arguments)]
    async fn cpu_at_load(
        &self,
        round: usize,
        numbered: usize,
        seed: u64,
        pairs: &CpuPairs,
        targets: &[Target],
        meters: &[(String, crate::cpu_meter::CpuMeter)],
        figures: &mut Figures,
    ) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed.rotate_left(24));
        let find = |name: &str| {
            let target = targets.iter().find(|t| t.name == name)?;
            let meter = meters.iter().find(|(n, _)| n == name).map(|(_, m)| m)?;
            Some((target, meter))
        };
        for (head, base) in start_order(pairs, seed.rotate_left(40)) {
            let (Some(h), Some(b)) = (find(head), find(base)) else {
                continue;
            };
            let first = usize::from(rng.random_bool(0.5));
            let tag = format!("cpu.r{numbered}");
            let read = cpu::drive_pair(&self.http, &self.plan, [h, b], first, &tag).await;
            for (name, figure) in [head, base].into_iter().zip(read) {
                match figure {
                    Ok(f) => {
                        figures
                            .cpu
                            .entry(name.clone())
                            .or_default()
                            .insert(u32::try_from(round).unwrap_or(u32::MAX), f);
                    }
                    Err(why) => eprintln!(
                        "gate: round {}: no CPU at load for {name}: {why}",
                        numbered + 1
                    ),
                }
            }
        }
        // The load's conversations are not the latency passes': the mock forgets them.
        if let Err(e) = self.mock.clear_timeline().await {
            eprintln!(
                "gate: the mock's timeline could not be cleared after the CPU at load: {e:#}"
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values_us: &[u64]) -> hdrhistogram::Histogram<u64> {
        let mut h = stats::histogram();
        for v in values_us {
            stats::record(&mut h, v * 1_000);
        }
        h
    }

    #[test]
    fn no_side_starts_first_in_every_round() {
        let sides = ["unix", "unix@base", "rust-only", "rust-only@base"];
        let firsts: std::collections::BTreeSet<&str> = (0..40u64)
            .map(|seed| *start_order(&sides, seed)[0])
            .collect();
        assert_eq!(firsts.len(), sides.len(), "{firsts:?}");
        let mut one = start_order(&sides, 7);
        one.sort();
        let mut all: Vec<&&str> = sides.iter().collect();
        all.sort();
        assert_eq!(one, all, "a round starts every instance once");
    }

    #[test]
    fn a_trimmed_mean_cuts_the_wild_ends_and_keeps_the_middle_s_values() {
        let h = of(&[100, 110, 120, 130, 140, 150, 160, 170, 180, 100_000]);
        let plain = trimmed_mean_us(&h, 0.0);
        assert!(plain > 10_000.0, "{plain}");
        // 10% from each end leaves 110..=180, whose mean is 145.
        let trimmed = trimmed_mean_us(&h, 0.1);
        assert!((trimmed - 145.0).abs() < 0.5, "{trimmed}");
        // A shift of every sample moves it by the shift.
        let shifted = of(&[200, 210, 220, 230, 240, 250, 260, 270, 280, 100_100]);
        assert!((trimmed_mean_us(&shifted, 0.1) - 245.0).abs() < 0.5);
        assert_eq!(
            summarise(&h, Statistic::Quantile(0.5)),
            stats::quantile_us(&h, 0.5)
        );
    }
}
