//! The load over every target: closed-loop points, each running the targets in a fresh random
//! order (so no target always follows the heaviest one), then each target's saturation search
//! ([`search`]), whose every repeat runs the target and the direct path at the same rate in a
//! random order: the same offered load. In the closed loop the offered load depends on how fast
//! each target answers, so the direct path at the same concurrency is not the same load; there
//! the reference is the direct path with one conversation in flight, the unloaded floor
//! (docs/bench.md#load).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use contract::results::{AA_SUFFIX, LoadMode, LoadPoint, aa_twin};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sut_kit::mock::MockProcess;

use super::load::{self, LoadPlan, PointFigures};
use super::rounds::RoundPlan;
use super::search::{self, Repeat, SearchPlan, Verdict};
use super::steady::{self, Metering};
use super::target::{DIRECT, RELAY, Target, is_shared_reference};
use crate::procfs::MemoryUse;
use crate::progress::Progress;
use crate::stats;

/// What the sweeps measured, per target.
#[derive(Debug, Default)]
pub struct SweepOutcome {
    pub points: BTreeMap<String, Vec<LoadPoint>>,
    pub peak_memory: BTreeMap<String, MemoryUse>,
    /// Each searched target's saturation search.
    pub searches: BTreeMap<String, search::Outcome>,
    /// `direct` was searched upward on its own, past the plan's top rate
    /// ([`super::generator`]).
    pub generator_searched: bool,
}

/// Where each search starts and which targets' CPU its runs read.
pub struct Searches<'a> {
    /// Per target, the first rate (from its CPU at load).
    pub start_rps: BTreeMap<String, f64>,
    /// Per target, its meter: every steady run of its search reads it
    /// (docs/bench.md#capacity).
    pub metering: BTreeMap<String, Metering<'a>>,
}

/// Runs the closed-loop points and the saturation search over `targets`.
pub async fn run(
    targets: &[Arc<Target>],
    mock: &MockProcess,
    http: &reqwest::Client,
    rounds: &RoundPlan,
    plan: &LoadPlan,
    searches: &Searches<'_>,
    progress: &Progress,
) -> Result<SweepOutcome> {
    let start_rps = &searches.start_rps;
    let mut outcome = SweepOutcome::default();
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let mut unloaded_direct: Option<PointFigures> = None;
    for &concurrency in &plan.closed {
        let level = concurrency as f64;
        let mut figures = BTreeMap::new();
        for target in shuffled(targets, &mut rng) {
            if !plan.search_references && is_shared_reference(&target.name) {
                // A quick run's one closed point is for the backends' peak memory.
                progress.advance();
                continue;
            }
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
        // The unloaded floor is `direct` with one conversation in flight; a run without that
        // point records closed-loop points with no overhead (absent, not taken against a load).
        if concurrency == 1 && unloaded_direct.is_none() {
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
    let Some(direct) = targets.iter().find(|t| t.name == DIRECT) else {
        return Ok(outcome);
    };
    // A backend and its A/A twin are searched together, one repeat of each in turn: searched
    // one after the other they read the machine minutes apart (docs/bench.md#proofs).
    let searched = |t: &&Arc<Target>| {
        t.name != DIRECT
            && t.name != RELAY
            && !t.name.ends_with(AA_SUFFIX)
            && (plan.search_references || !is_shared_reference(&t.name))
    };
    let mut groups: Vec<Vec<&Arc<Target>>> = targets
        .iter()
        .filter(searched)
        .map(|t| {
            let twin = aa_twin(&t.name);
            std::iter::once(t)
                .chain(targets.iter().find(|u| u.name == twin))
                .collect()
        })
        .collect();
    groups.shuffle(&mut rng);
    for group in groups {
        search_group(
            &group,
            direct,
            mock,
            http,
            rounds,
            plan,
            (start_rps, &searches.metering),
            progress,
            &mut outcome,
        )
        .await?;
    }
    // The generator's own ceiling, above the plan's top rate where the searches stopped
    // (docs/bench.md#generator-ceiling); the relay then starts from it.
    if plan.search_references
        && let Some(from) = outcome
            .points
            .get(DIRECT)
            .and_then(|p| super::generator::start(p, plan.search.resolution))
    {
        let points =
            super::generator::search(direct, mock, http, rounds, plan, from, progress).await?;
        outcome
            .points
            .entry(DIRECT.to_owned())
            .or_default()
            .extend(points);
        outcome.generator_searched = true;
    }
    // The relay last, from just under the ceiling `direct` reached beside the others: its
    // proof asks whether it is the limit below the generator's ceiling, which a search from
    // the bottom cannot reach in a quick run's three rates (docs/bench.md#generator-ceiling).
    if let Some(relay) = targets
        .iter()
        .find(|t| t.name == RELAY && plan.search_references)
    {
        let mut starts = start_rps.clone();
        if let Some(ceiling) = direct_ceiling(&outcome) {
            starts.insert(RELAY.to_owned(), RELAY_START_SHARE * ceiling);
        }
        search_group(
            &[relay],
            direct,
            mock,
            http,
            rounds,
            plan,
            (&starts, &searches.metering),
            progress,
            &mut outcome,
        )
        .await?;
    }
    if let Some(points) = outcome.points.get_mut(DIRECT) {
        points.sort_by(|a, b| a.target.total_cmp(&b.target));
    }
    Ok(outcome)
}

/// Where the relay's search starts, as a share of `direct`'s ceiling so far: the relay proof's
/// 90% (docs/bench.md#proofs), so its first rate decides the proof.
const RELAY_START_SHARE: f64 = super::proofs::RELAY_SHARE;

/// The highest rate of the searches so far at which `direct` kept up.
fn direct_ceiling(outcome: &SweepOutcome) -> Option<f64> {
    super::capacity::highest_kept(outcome.points.get(DIRECT)?).map(|p| p.target)
}

/// The figures of a search's runs, per rate: the target's and direct's, repeats merged; those
/// of the repeats the generator kept up on, and apart those of the runs it fell behind on
/// (recorded only for a rate where it never kept up).
#[derive(Default)]
struct RateFigures {
    kept: Option<(PointFigures, PointFigures)>,
    behind: Option<(PointFigures, PointFigures)>,
}
type ByRate = BTreeMap<u64, RateFigures>;

/// Searches `group` (a target, or a backend and its A/A twin) together, and records each
/// search; every repeat runs a target and `direct` at the rate, in a random order (a quick run
/// runs `direct` once per rate, shared by the group).
#[allow(clippy::too_many_arguments)]
async fn search_group(
    group: &[&Arc<Target>],
    direct: &Arc<Target>,
    mock: &MockProcess,
    http: &reqwest::Client,
    rounds: &RoundPlan,
    plan: &LoadPlan,
    (start_rps, metering): (&BTreeMap<String, f64>, &BTreeMap<String, Metering<'_>>),
    progress: &Progress,
    outcome: &mut SweepOutcome,
) -> Result<()> {
    let names: Vec<&str> = group.iter().map(|t| t.name.as_str()).collect();
    progress.step(format!("saturation search: {}", names.join(" and ")));
    let bounds = &plan.search;
    let plans: Vec<SearchPlan> = group
        .iter()
        .map(|t| SearchPlan {
            start_rps: start_rps
                .get(&t.name)
                .copied()
                .unwrap_or(bounds.default_start_rps),
            min_rps: bounds.min_rps,
            // The relay starts from the generator's ceiling, which may lie above the plan's
            // top rate.
            max_rps: bounds
                .max_rps
                .max(start_rps.get(&t.name).copied().unwrap_or(0.0)),
            resolution: bounds.resolution,
            max_probes: bounds.max_probes,
            known_healthy: None,
            min_repeats: bounds.min_repeats,
            max_repeats: bounds.max_repeats,
            generator_retries: bounds.generator_retries,
        })
        .collect();
    let figures: Vec<std::sync::Mutex<ByRate>> = group
        .iter()
        .map(|_| std::sync::Mutex::new(ByRate::new()))
        .collect();
    // `direct`'s run at each rate where the generator kept up, when it is run once per rate;
    // its figures go into the load point of every target of the group at that rate.
    let direct_runs: std::sync::Mutex<BTreeMap<u64, (search::Run, PointFigures)>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut order_rng = StdRng::seed_from_u64(plan.seed ^ name_hash(names[0]));
    let order_seed = order_rng.random();
    let found = search::search_together(&plans, plan.seed, order_seed, |i, rate| {
        let target = group[i];
        let reused = if bounds.direct_once_per_rate {
            lock(&direct_runs).get(&rate.to_bits()).cloned()
        } else {
            None
        };
        let pair: Vec<&Arc<Target>> = match (&reused, order_rng.random::<bool>()) {
            (Some(_), _) => vec![target],
            (None, true) => vec![target, direct],
            (None, false) => vec![direct, target],
        };
        let (figures, direct_runs) = (&figures[i], &direct_runs);
        async move {
            let (mut ours, mut theirs) = (None, None);
            for t in pair {
                progress.step(format!(
                    "saturation search: {} at {rate:.1}/s ({})",
                    target.name, t.name
                ));
                let metered = metering.get(&t.name).copied();
                let measured =
                    steady::run_at(t, mock, http, rounds, &plan.steady, rate, metered).await?;
                *(if t.name == DIRECT {
                    &mut theirs
                } else {
                    &mut ours
                }) = Some(measured);
            }
            let ours = ours.context("the target's run is missing")?;
            let (direct_run, direct_figures, fresh) = match (theirs, reused) {
                (Some((f, run)), _) => (run, f, true),
                (None, Some((run, f))) => (run, f, false),
                (None, None) => anyhow::bail!("direct's run is missing"),
            };
            if bounds.direct_once_per_rate && fresh && direct_run.generator_kept_up(true) {
                lock(direct_runs)
                    .insert(rate.to_bits(), (direct_run.clone(), direct_figures.clone()));
            }
            let repeat = Repeat {
                target: ours.1,
                direct: direct_run,
            };
            let mut by_rate = lock(figures);
            let slot = by_rate.entry(rate.to_bits()).or_default();
            let pair = if repeat.generator_kept_up() {
                &mut slot.kept
            } else {
                &mut slot.behind
            };
            let (a, b) = pair.get_or_insert_with(|| {
                (
                    PointFigures::empty(std::time::Duration::ZERO),
                    PointFigures::empty(std::time::Duration::ZERO),
                )
            });
            steady::merge(a, &ours.0);
            // A shared run counts once in each target's point, not once per repeat.
            if fresh || b.conversations == 0 {
                steady::merge(b, &direct_figures);
            }
            Ok(repeat)
        }
    })
    .await?;
    for ((name, found), figures) in names.iter().zip(found).zip(figures) {
        let figures = figures.into_inner().unwrap_or_else(|e| e.into_inner());
        record_search(outcome, name, (found, figures), rounds.chunks);
        progress.advance();
    }
    Ok(())
}

/// Records a search: one load point per rate tried, for the target and for `direct`.
fn record_search(
    outcome: &mut SweepOutcome,
    name: &str,
    (found, figures): (search::Outcome, ByRate),
    chunks: u32,
) {
    for d in &found.decisions {
        let Some((ours, theirs)) = figures
            .get(&d.rate.to_bits())
            .and_then(|f| f.kept.as_ref().or(f.behind.as_ref()))
        else {
            continue;
        };
        let share = |pick: fn(&Repeat) -> f64| {
            stats::median(&d.repeats.iter().map(pick).collect::<Vec<_>>()).unwrap_or(0.0)
        };
        let behind = d.verdict == Verdict::GeneratorBehind;
        let mut point = load::load_point(LoadMode::Open, d.rate, ours, Some(theirs));
        point.achieved = d.rate * share(|r| r.target.achieved_share);
        point.chunks_per_s = point.achieved * f64::from(chunks);
        point.chunk_overhead_p99_us = d.overhead_p99_us;
        point.generator_behind = behind;
        point.retries = d.retries;
        outcome
            .points
            .entry(name.to_owned())
            .or_default()
            .push(point);
        let mut reference = load::load_point(LoadMode::Open, d.rate, theirs, None);
        reference.achieved = d.rate * share(|r| r.direct.achieved_share);
        reference.chunks_per_s = reference.achieved * f64::from(chunks);
        reference.generator_behind = behind;
        outcome
            .points
            .entry(DIRECT.to_owned())
            .or_default()
            .push(reference);
    }
    outcome.searches.insert(name.to_owned(), found);
}

/// The mutex's value; a panic elsewhere while it was held leaves nothing half-written here.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A stable number from a target's name (FNV-1a), to seed its run order apart from the others'.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The number of steps [`run`] reports, for the progress bar.
pub fn steps(plan: &LoadPlan, targets: usize) -> u64 {
    ((plan.closed.len() + 1) * targets) as u64
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
