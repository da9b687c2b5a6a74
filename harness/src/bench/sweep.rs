//! The load sweeps over every target: each point runs the targets in a fresh random order (so no
//! target always follows the heaviest one), the direct path included. In the open loop a point's
//! overhead is taken against the direct path at the same rate: the same offered load. In the
//! closed loop the offered load depends on how fast each target answers, so the direct path at
//! the same concurrency is not the same load; there the reference is the direct path with one
//! conversation in flight, the unloaded floor (docs/bench.md#load). In the open-loop sweep a
//! target stops climbing after its first point beyond capacity.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Result;
use conformance::mock::MockProcess;
use contract::results::{LoadMode, LoadPoint};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::load::{self, LoadPlan, PointFigures};
use super::rounds::RoundPlan;
use super::target::{DIRECT, Target};
use crate::procfs::MemoryUse;
use crate::progress::Progress;

/// How many times a point flagged `generator_behind` is run again before it is recorded as
/// flagged: once, since a flag caused by a passing burn of other work on the machine clears on
/// a second run, and a generator truly at its ceiling stays behind (docs/bench.md#load).
const GENERATOR_RETRIES: u32 = 1;

/// What the sweeps measured, per target.
#[derive(Debug, Default)]
pub struct SweepOutcome {
    pub points: BTreeMap<String, Vec<LoadPoint>>,
    pub peak_memory: BTreeMap<String, MemoryUse>,
}

/// Runs both sweeps over `targets`.
pub async fn run(
    targets: &[Arc<Target>],
    mock: &MockProcess,
    http: &reqwest::Client,
    rounds: &RoundPlan,
    plan: &LoadPlan,
    progress: &Progress,
) -> Result<SweepOutcome> {
    let mut outcome = SweepOutcome::default();
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut unloaded_direct: Option<PointFigures> = None;
    for &concurrency in &plan.closed {
        let level = concurrency as f64;
        let mut figures = BTreeMap::new();
        for target in shuffled(targets, &mut rng) {
            progress.step(format!(
                "closed loop, {concurrency} in flight: {}",
                target.name
            ));
            let f = load::closed_point(target, mock, http, rounds, plan, concurrency).await?;
            if let Some(peak) = f.peak_memory {
                outcome.peak_memory.insert(target.name.clone(), peak);
            }
            figures.insert(target.name.clone(), f);
            progress.advance();
        }
        if unloaded_direct.is_none() {
            unloaded_direct = figures.remove(DIRECT);
        }
        record(
            &mut outcome,
            LoadMode::Closed,
            level,
            &figures,
            unloaded_direct.as_ref(),
        );
    }
    let mut saturated = BTreeSet::new();
    for &rate in &plan.open {
        let mut figures = BTreeMap::new();
        let mut retries = BTreeMap::new();
        for target in shuffled(targets, &mut rng) {
            progress.advance();
            if saturated.contains(&target.name) {
                continue;
            }
            progress.step(format!("open loop, {rate}/s: {}", target.name));
            let (f, tries) = with_retries(rate, || async {
                load::open_point(target, mock, http, rounds, plan, rate).await
            })
            .await?;
            retries.insert(target.name.clone(), tries);
            figures.insert(target.name.clone(), f);
        }
        record(
            &mut outcome,
            LoadMode::Open,
            rate,
            &figures,
            figures.get(DIRECT),
        );
        for (name, points) in &mut outcome.points {
            if let (Some(point), Some(&tries)) = (points.last_mut(), retries.get(name))
                && point.mode == LoadMode::Open
                && point.target == rate
            {
                point.retries = tries;
            }
        }
        for (name, points) in &outcome.points {
            let last = points.iter().rev().find(|p| p.mode == LoadMode::Open);
            if name != DIRECT && last.is_some_and(load::ends_sweep) {
                saturated.insert(name.clone());
            }
        }
    }
    Ok(outcome)
}

/// Runs a point, and again while the generator fell behind on it, up to
/// [`GENERATOR_RETRIES`] times: a point the generator fell behind on says nothing of the
/// backend, so it is retried rather than left as a hole where the backend may have been fine.
/// Returns the last run's figures and how many retries it took.
async fn with_retries<F, Fut>(rate: f64, mut point: F) -> Result<(PointFigures, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<PointFigures>>,
{
    let mut f = point().await?;
    let mut tries = 0;
    while tries < GENERATOR_RETRIES
        && load::load_point(LoadMode::Open, rate, &f, None).generator_behind
    {
        tries += 1;
        f = point().await?;
    }
    Ok((f, tries))
}

/// The number of steps [`run`] reports, for the progress bar.
pub fn steps(plan: &LoadPlan, targets: usize) -> u64 {
    ((plan.closed.len() + plan.open.len()) * targets) as u64
}

fn shuffled<'a>(targets: &'a [Arc<Target>], rng: &mut StdRng) -> Vec<&'a Arc<Target>> {
    let mut order: Vec<&Arc<Target>> = targets.iter().collect();
    order.shuffle(rng);
    order
}

/// Records a point of every target; `reference` is the direct figure overheads are taken
/// against (recorded as the direct path's own point when it is not among `figures`).
fn record(
    outcome: &mut SweepOutcome,
    mode: LoadMode,
    level: f64,
    figures: &BTreeMap<String, PointFigures>,
    reference: Option<&PointFigures>,
) {
    if !figures.contains_key(DIRECT)
        && let Some(direct) = reference
    {
        let point = load::load_point(mode, level, direct, None);
        outcome
            .points
            .entry(DIRECT.to_owned())
            .or_default()
            .push(point);
    }
    for (name, f) in figures {
        let point = load::load_point(mode, level, f, reference.filter(|_| name != DIRECT));
        outcome.points.entry(name.clone()).or_default().push(point);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::stats;

    /// A point whose mock was `late_us` late on every chunk.
    fn figures(late_us: u64) -> PointFigures {
        let mut lateness = stats::histogram();
        stats::record(&mut lateness, late_us * 1_000);
        PointFigures {
            transit: stats::histogram(),
            ttft: stats::histogram(),
            mock_lateness: lateness,
            client_lag: stats::histogram(),
            conversations: 1,
            errors: 0,
            chunks: 20,
            lost: 0,
            reordered: 0,
            elapsed: Duration::from_secs(1),
            peak_memory: None,
        }
    }

    #[tokio::test]
    async fn a_point_the_generator_fell_behind_on_is_run_again() {
        let mut runs = vec![figures(100), figures(9_000)];
        let (f, tries) = with_retries(10.0, || {
            let next = runs.pop().unwrap();
            async move { Ok(next) }
        })
        .await
        .unwrap();
        assert_eq!(tries, 1);
        assert!(!load::load_point(LoadMode::Open, 10.0, &f, None).generator_behind);
    }

    #[tokio::test]
    async fn a_generator_still_behind_is_recorded_as_behind_after_the_retries() {
        let (f, tries) = with_retries(10.0, || async { Ok(figures(9_000)) })
            .await
            .unwrap();
        assert_eq!(tries, GENERATOR_RETRIES);
        assert!(load::load_point(LoadMode::Open, 10.0, &f, None).generator_behind);
    }
}
