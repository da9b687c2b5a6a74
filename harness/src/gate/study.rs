//! `harness gate-study`: the gate proven on itself (docs/gate.md#proof). A chain of quick bench
//! runs of one build, `R0, C0.., R1, C1.., …, Rn`, where each `C` runs the selected backends with
//! an injected per-chunk delay. Every `(R(i), R(i+1))` is an A/A pair: the gate judges the second
//! against the first, and any regression is a false alarm. Every `C` is judged against the `R`
//! before it: the delay is caught when that backend's chunk overhead p50 is a regression. The
//! chain shares each `R` between two comparisons, so n pairs cost `n + 1 + n × delays` runs
//! instead of `2n × (1 + delays)`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sut_kit::manifest::Backend;

use super::against::{self, Measure, Sides};
use super::decide::{Decision, Judgement};
use super::metrics::Metric;
use crate::run_dir::RunDir;
use crate::stages::bench;
pub use contract::results::{GateStudy as Study, GateStudyTally as Tally, GateStudyTrial as Trial};

/// Where the study writes its findings, beside the runs it made.
pub const STUDY_FILE: &str = "gate-study.json";

#[derive(Debug, Clone)]
pub struct Options {
    pub pairs: usize,
    pub delays_us: Vec<u64>,
    /// How each run is measured; its context is the study's (root, profile, seed), and each
    /// run's seed and injections are derived from it.
    pub bench: bench::Options,
    /// Study `gate --against HEAD` instead of two files: each trial measures the working
    /// tree's build against HEAD's in the same rounds, the delay injected on the head side.
    pub against: bool,
    /// With `against`: each trial's time limit.
    pub trial_limit: std::time::Duration,
}

/// Runs the chain, judges it, writes `gate-study.json` into the last run's folder and returns
/// the study.
pub async fn run(backends: &[Backend], opts: &Options) -> Result<Study> {
    let names: Vec<String> = backends.iter().map(|b| b.name().to_owned()).collect();
    let reports = opts.bench.ctx.root.join("reports");
    if opts.against {
        return run_against(backends, opts).await;
    }
    let mut study = Study {
        method: "files".into(),
        backends: names.clone(),
        pairs: opts.pairs,
        delays_us: opts.delays_us.clone(),
        latency_threshold: super::decide::LATENCY_THRESHOLD,
        runs: Vec::new(),
        tallies: BTreeMap::new(),
        trials: Vec::new(),
    };
    let total = opts.pairs + 1 + opts.pairs * opts.delays_us.len();
    let mut runs = 0;
    let mut bench_once = async |inject: u64, study: &mut Study| -> Result<PathBuf> {
        runs += 1;
        eprintln!(
            "\ngate-study: run {runs} of {total} ({})",
            if inject == 0 {
                "clean".to_owned()
            } else {
                format!("{inject} µs injected per chunk")
            }
        );
        let mut o = opts.bench.clone();
        o.ctx.seed = opts.bench.ctx.seed.wrapping_add(runs as u64);
        o.inject_delay_us = if inject == 0 {
            Vec::new()
        } else {
            names.iter().map(|n| (n.clone(), inject)).collect()
        };
        let mut run = RunDir::create(&reports, &opts.bench.ctx.root, &opts.bench.ctx.profile)?;
        bench::run(backends, &mut run, &o)
            .await
            .with_context(|| format!("the bench run in {}", run.path.display()))?;
        study.runs.push(run_id(&run.path));
        Ok(run.path)
    };
    let mut previous = bench_once(0, &mut study).await?;
    for _ in 0..opts.pairs {
        for &d in &opts.delays_us {
            let injected = bench_once(d, &mut study).await?;
            judge_into(&mut study, d, &previous, &injected)?;
        }
        let next = bench_once(0, &mut study).await?;
        judge_into(&mut study, 0, &previous, &next)?;
        previous = next;
    }
    let path = previous.join(STUDY_FILE);
    crate::atomic::write_json(&path, &study)?;
    eprintln!("\ngate-study: wrote {}", path.display());
    Ok(study)
}

fn run_id(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// Judges `current` against `baseline` and tallies every judgement of the study's backends.
fn judge_into(study: &mut Study, injected_us: u64, baseline: &Path, current: &Path) -> Result<()> {
    let judgements = super::judge_files(
        &baseline.join(crate::run_dir::RESULTS_FILE),
        &current.join(crate::run_dir::RESULTS_FILE),
    )?;
    let studied = study.backends.clone();
    for j in judgements.iter().filter(|j| studied.contains(&j.backend)) {
        tally(study, injected_us, j);
        study.trials.push(Trial {
            injected_us,
            baseline_run: run_id(baseline),
            current_run: run_id(current),
            backend: j.backend.clone(),
            metric: j.metric.name().to_owned(),
            change: j.change,
            ci95: j.ci95,
            decision: decision_name(&j.decision).to_owned(),
            rounds: None,
            first_decision: None,
            trees_swapped: None,
            load_average: None,
        });
    }
    Ok(())
}

/// The study of `gate --against HEAD`: HEAD built once in each of the gate's two trees, then
/// per pair an A/A trial and one trial per delay injected into the head side's instances, each
/// measured as the gate measures (same rounds, sequential looks, confirmation); every other
/// pair crosses the trees.
async fn run_against(backends: &[Backend], opts: &Options) -> Result<Study> {
    let names: Vec<String> = backends.iter().map(|b| b.name().to_owned()).collect();
    let reports = opts.bench.ctx.root.join("reports");
    let run = RunDir::create(&reports, &opts.bench.ctx.root, &opts.bench.ctx.profile)?;
    let log_dir = run.logs("gate-study");
    let head = super::base::resolve(&opts.bench.ctx.root, "HEAD")?;
    // Both sides are HEAD, each in a fresh worktree built alike, as the gate prepares them
    // (docs/gate.md#two-trees-alike): an A/A trial by construction, whatever the working tree
    // holds.
    let content = super::prepare::snapshot(&opts.bench.ctx.root)?;
    let trees = super::command::Trees {
        content: &content,
        head: &head,
        base: &head,
    };
    let (head_tree, base_tree) =
        super::command::prepare_sides(&opts.bench.ctx.root, trees, &names, &names, &log_dir)
            .await?;
    let mut study = Study {
        method: "against".into(),
        backends: names.clone(),
        pairs: opts.pairs,
        delays_us: opts.delays_us.clone(),
        latency_threshold: super::decide::LATENCY_THRESHOLD,
        runs: vec![run_id(&run.path)],
        tallies: BTreeMap::new(),
        trials: Vec::new(),
    };
    let mut trial = 0u64;
    for pair in 0..opts.pairs {
        for inject in std::iter::once(0).chain(opts.delays_us.iter().copied()) {
            trial += 1;
            // Every other pair crosses the trees: both hold the same content, so a tree that
            // ran faster for where it is would show as opposite signs in the two halves.
            let swapped = pair % 2 == 1;
            let load = load_average();
            eprintln!(
                "\ngate-study: pair {} of {}, {}{} (load average {load})",
                pair + 1,
                opts.pairs,
                if inject == 0 {
                    "A/A".to_owned()
                } else {
                    format!("{inject} µs injected per chunk on the head side")
                },
                if swapped { ", trees crossed" } else { "" }
            );
            let mut ctx = opts.bench.ctx.clone();
            ctx.seed = ctx.seed.wrapping_add(trial);
            let m = Measure {
                ctx,
                judged: names.clone(),
                control: None,
                inject_delay_us: if inject == 0 {
                    Vec::new()
                } else {
                    names.iter().map(|n| (n.clone(), inject)).collect()
                },
                inject_cpu_us: Vec::new(),
                // The study measures the latency design alone, as its trials always have.
                cpu: super::cpu::CpuMode::Off,
                deadline: std::time::Instant::now() + opts.trial_limit,
            };
            let sides = if swapped {
                Sides {
                    base: &head_tree,
                    head: &base_tree,
                }
            } else {
                Sides {
                    base: &base_tree,
                    head: &head_tree,
                }
            };
            let outcome = against::measure(&m, sides, &log_dir).await?;
            for j in &outcome.judgements {
                tally(&mut study, inject, j);
                study.trials.push(Trial {
                    injected_us: inject,
                    baseline_run: format!("HEAD {}", super::base::short(&head)),
                    current_run: format!("working tree, trial {trial}"),
                    backend: j.backend.clone(),
                    metric: j.metric.name().to_owned(),
                    change: j.change,
                    ci95: j.ci95,
                    decision: decision_name(&j.decision).to_owned(),
                    rounds: Some(
                        outcome.first.rounds
                            + outcome.confirmation.as_ref().map_or(0, |s| s.rounds),
                    ),
                    first_decision: outcome
                        .first
                        .judgements
                        .iter()
                        .find(|f| f.backend == j.backend && f.metric == j.metric)
                        .map(|f| decision_name(&f.decision).to_owned()),
                    trees_swapped: Some(swapped),
                    load_average: Some(load.clone()),
                });
            }
            // Written after every trial, so that a study stopped early keeps what it measured.
            crate::atomic::write_json(&run.path.join(STUDY_FILE), &study)?;
            let mut err = std::io::stderr().lock();
            super::write_report_at(
                &mut err,
                &outcome.judgements,
                &super::sequential::confidence_label(),
            )?;
            super::command::write_summary(&mut err, &outcome)?;
        }
    }
    drop((head_tree, base_tree));
    let path = run.path.join(STUDY_FILE);
    crate::atomic::write_json(&path, &study)?;
    eprintln!("\ngate-study: wrote {}", path.display());
    Ok(study)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn decision_name(d: &Decision) -> &'static str {
    match d {
        Decision::Pass => "pass",
        Decision::Regression => "regression",
        Decision::CouldNotJudge(_) => "could not judge",
    }
}

fn tally(study: &mut Study, injected_us: u64, j: &Judgement) {
    let t = study
        .tallies
        .entry(j.backend.clone())
        .or_default()
        .entry(j.metric.name().to_owned())
        .or_default()
        .entry(injected_us)
        .or_default();
    t.trials += 1;
    match j.decision {
        Decision::Pass => t.passes += 1,
        Decision::Regression => t.regressions += 1,
        Decision::CouldNotJudge(_) => t.could_not_judge += 1,
    }
    let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    t.max_change = max(t.max_change, j.change);
    t.max_ci_low = max(t.max_ci_low, j.ci95.map(|[lo, _]| lo));
}

/// The study as a table: per backend and metric, A/A false alarms, then per delay how often it
/// was caught.
pub fn write_table(out: &mut impl std::io::Write, study: &Study) -> std::io::Result<()> {
    writeln!(
        out,
        "{:10} {:20} {:>9} {:>7} {:>7} {:>7} {:>11} {:>11}",
        "backend", "metric", "injected", "trials", "regress", "unsure", "max change", "max CI low"
    )?;
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:+.1}%", v * 100.0));
    for (backend, metrics) in &study.tallies {
        for metric in Metric::ALL {
            let Some(by_delay) = metrics.get(metric.name()) else {
                continue;
            };
            for (us, t) in by_delay {
                writeln!(
                    out,
                    "{:10} {:20} {:>9} {:>7} {:>7} {:>7} {:>11} {:>11}",
                    backend,
                    metric.name(),
                    if *us == 0 {
                        "A/A".to_owned()
                    } else {
                        format!("{us} µs")
                    },
                    t.trials,
                    t.regressions,
                    t.could_not_judge,
                    pct(t.max_change),
                    pct(t.max_ci_low)
                )?;
            }
        }
    }
    Ok(())
}
