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
        for target in shuffled(targets, &mut rng) {
            progress.advance();
            if saturated.contains(&target.name) {
                continue;
            }
            progress.step(format!("open loop, {rate}/s: {}", target.name));
            let f = load::open_point(target, mock, http, rounds, plan, rate).await?;
            figures.insert(target.name.clone(), f);
        }
        record(
            &mut outcome,
            LoadMode::Open,
            rate,
            &figures,
            figures.get(DIRECT),
        );
        for (name, points) in &outcome.points {
            let last = points.iter().rev().find(|p| p.mode == LoadMode::Open);
            if name != DIRECT && last.is_some_and(load::ends_sweep) {
                saturated.insert(name.clone());
            }
        }
    }
    Ok(outcome)
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
