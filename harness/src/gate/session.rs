//! One bench session as `gate --against` uses it: the seam between the gate and the bench
//! stage's machinery, so the gate's sequential design does not reach into bench internals. A
//! session holds the mock provider, the direct path and the bench's round plan; each round it
//! starts the instances it is given afresh in a shuffled order, warms them, measures
//! interleaved passes and stops them (docs/gate.md#instances-per-round); what it measured
//! comes back as per-round normalised overheads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use sut_kit::manifest::Backend;
use sut_kit::mock::MockProcess;
use sut_kit::orchestrate::StartSettings;

use crate::progress::Progress;
use crate::stages::bench::figures::{Hop, TargetFigures};
use crate::stages::bench::rounds::{self, RoundPlan};
use crate::stages::bench::target::{DIRECT, Target};
use crate::stages::bench::{mock_pinning, plan};
use crate::stats;

/// Conversations each fresh instance answers, in interleaved passes, before a round measures
/// it: the quick bench's warm-up per target (docs/gate.md#instances-per-round).
pub const WARMUP_PASSES: usize = 5;

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

/// Every target's chunk figures, by round.
#[derive(Debug, Default)]
pub struct Figures(BTreeMap<String, TargetFigures>);

impl Figures {
    /// Per round of `name`: (its quantile `q` of `hop` − the direct path's) / the direct path's
    /// p50 chunk transit in that round. Empty when either was not measured.
    pub fn normalised(&self, name: &str, hop: Hop, q: f64) -> BTreeMap<u32, f64> {
        let (Some(figures), Some(direct)) = (self.0.get(name), self.0.get(DIRECT)) else {
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

    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
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
    /// every instance started afresh in a shuffled order, warmed with [`WARMUP_PASSES`]
    /// interleaved passes, then measured in the plan's passes, each sending one `text`
    /// conversation to every target (the direct path included) in a fresh order, so base and
    /// head alternate every fraction of a second and a burst of load from another process
    /// lands on both of a round's figures alike (docs/gate.md#against-a-revision); then
    /// stopped.
    pub async fn round(
        &self,
        instances: &[Instance],
        round: usize,
        numbered: usize,
        figures: &mut Figures,
        progress: &Progress,
    ) -> Result<()> {
        progress.step(format!("gate round {}", numbered + 1));
        let seed = self.seed ^ (numbered as u64).rotate_left(32);
        let mut order: Vec<&Instance> = instances.iter().collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let mut targets: Vec<Target> = Vec::new();
        let mut started: Result<()> = Ok(());
        for i in order {
            let t = Target::backend(
                &i.backend,
                &i.launch,
                &self.log_dir,
                &i.name,
                i.extra_args.clone(),
            );
            match t.await {
                Ok(t) => targets.push(t),
                Err(e) => {
                    started = Err(e);
                    break;
                }
            }
        }
        let measured = match started {
            Ok(()) => self.measure(round, numbered, seed, &targets, figures).await,
            Err(e) => Err(e),
        };
        for t in targets {
            t.stop().await;
        }
        progress.advance();
        measured
    }

    async fn measure(
        &self,
        round: usize,
        numbered: usize,
        seed: u64,
        targets: &[Target],
        figures: &mut Figures,
    ) -> Result<()> {
        let backends: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        let find = |name: &str| {
            std::iter::once(&self.direct)
                .chain(targets)
                .find(|t| t.name == name)
        };
        for (pass, order) in stats::round_orders(&backends, WARMUP_PASSES, seed)
            .iter()
            .enumerate()
        {
            for name in order {
                let Some(target) = find(name) else { continue };
                let tag = format!("warm.r{numbered}.{name}.{pass}");
                rounds::converse(&self.http, target, &self.mock, &self.plan.text(&tag)).await?;
            }
        }
        self.mock.clear_timeline().await?;
        let mut all = vec![DIRECT.to_owned()];
        all.extend(backends);
        for (pass, order) in stats::round_orders(&all, self.plan.per_round, seed.rotate_left(16))
            .iter()
            .enumerate()
        {
            for name in order {
                let Some(target) = find(name) else { continue };
                let tag = format!("r{numbered}.{name}.{pass}");
                let (seen, samples) =
                    rounds::converse(&self.http, target, &self.mock, &self.plan.text(&tag)).await?;
                figures
                    .0
                    .entry(name.clone())
                    .or_default()
                    .add(round, &seen, &samples);
            }
        }
        self.mock.clear_timeline().await?;
        Ok(())
    }
}
