//! `harness soak`: minutes of steady open-loop load on each verified backend (a mix of text,
//! tool-chain and long streams) while its process tree's memory, open descriptors and sockets
//! are sampled every second; the growth slope after warm-up, with an interval, decides whether
//! the backend leaks. What teams running the AI SDK report is slow: memory that grows over
//! hours, which the seconds-long crash and bench stages cannot see. The backends are soaked at
//! the same time, each on its own instance: the stage measures memory over time, not latency,
//! so sharing the cores costs it nothing it reports and saves three quarters of its wall time.
//! At most [`AT_ONCE`] are soaked together, one runtime's targets at a time: the runtime axis
//! multiplies the targets, and sixteen side by side overloaded the two cores into timeouts
//! (docs/soak.md#side-by-side). Method: docs/soak.md.
//!
//! Layout: this file holds the stage (options, verify, the lanes of backends side by side,
//! recording and the table); [`load`] soaks one backend; [`fit`] the slope and the verdict.

pub mod fit;
pub(crate) mod load;
mod stage_entry;

pub use stage_entry::Soak as SoakStage;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use contract::results::{Soak, SoakRun};

use sut_kit::manifest::Backend;

use crate::procfs;
use crate::provider;
use crate::run_dir::RunDir;
use crate::stages;
use crate::verify;

pub const STAGE: &str = contract::results::stages::SOAK;
/// The lengths: ten minutes in a full run, one with `--quick`.
pub const MINUTES: f64 = 10.0;
pub const QUICK_MINUTES: f64 = 1.0;
/// New conversations per second per backend: a steady load well inside every backend's
/// saturation on the two-core machine (docs/bench.md), with four backends soaked at once.
pub const RATE_RPS: f64 = 2.0;
/// The longest soak the command accepts (a day), and the highest rate: beyond either, a typo
/// rather than a plan.
const MAX_MINUTES: f64 = 24.0 * 60.0;
const MAX_RATE_RPS: f64 = 100.0;
/// How many targets are soaked side by side: the four architectures [`RATE_RPS`] was chosen
/// for. More (the runtime axis's) wait for a later lane (docs/soak.md#side-by-side).
pub const AT_ONCE: usize = 4;
/// The share of the soak left out of the fit: start-up, lazy initialisation, connection pools
/// and a garbage-collected heap find their level in the first requests (docs/soak.md#the-fit).
pub const WARMUP_SHARE: f64 = 0.25;
/// The process tree is sampled this often (the interval).
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Options {
    /// `ctx.force`: measure backends that did not pass conformance in this run.
    pub ctx: stages::Context,
    /// How long the load is held on each backend.
    pub minutes: f64,
    /// New conversations per second per backend.
    pub rate_rps: f64,
}

impl Options {
    /// The lengths of a full or a quick run, unless given.
    pub fn new(ctx: &stages::Context) -> Self {
        Self {
            ctx: ctx.clone(),
            minutes: if ctx.quick { QUICK_MINUTES } else { MINUTES },
            rate_rps: RATE_RPS,
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        if !(self.minutes > 0.0 && self.minutes <= MAX_MINUTES) {
            bail!(
                "--minutes must be above 0 and at most {MAX_MINUTES} (got {})",
                self.minutes
            );
        }
        if !(self.rate_rps > 0.0 && self.rate_rps <= MAX_RATE_RPS) {
            bail!(
                "--rate must be above 0 and at most {MAX_RATE_RPS} conversations/s (got {})",
                self.rate_rps
            );
        }
        Ok(())
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.minutes * 60.0)
    }
}

/// Runs the stage on the verified `backends`, in [`lanes`] of side-by-side soaks, recording into
/// `run` when they are done; returns each measured backend's soak.
pub async fn run(
    backends: &[Backend],
    run: &mut RunDir,
    opts: &Options,
) -> Result<Vec<(String, Soak)>> {
    opts.check()?;
    let started = Instant::now();
    let load_avg_start = procfs::load_average();
    let chosen = verify::verified_in_run(run, backends, &opts.ctx.root, STAGE, opts.ctx.force);
    run.save()?;
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let profile = run.run().profile.clone();
    let logs = run.logs(STAGE);
    let mock = provider::start(&opts.ctx.root, &profile, &logs).await?;
    let cfg = provider::start_settings(&opts.ctx.root, &profile, &mock, opts.ctx.ready_timeout);
    let http = sut_kit::client::http_client()?;
    let lanes = lanes(&chosen);
    let mut outcomes = Vec::new();
    for (i, lane) in lanes.iter().enumerate() {
        if lanes.len() > 1 {
            let names: Vec<&str> = lane.iter().map(|b| b.name()).collect();
            eprintln!("soak: lane {}/{}: {}", i + 1, lanes.len(), names.join(", "));
        }
        let soaks = lane.iter().map(|backend| {
            let env = load::Env {
                backend,
                cfg: &cfg,
                http: http.clone(),
                log_dir: logs.join(backend.name()),
                tag: format!("soak.{}.{}", std::process::id(), backend.name()),
                duration: opts.duration(),
                rate_rps: opts.rate_rps,
            };
            async move { (backend.name().to_owned(), load::soak(&env).await) }
        });
        outcomes.extend(futures::future::join_all(soaks).await);
    }
    mock.stop().await;
    let mut measured = Vec::new();
    for (name, outcome) in outcomes {
        match outcome {
            Ok(soak) => {
                eprintln!("[{name}] soak: {}", soak.verdict);
                run.results.backend_mut(&name).soak = Some(soak.clone());
                measured.push((name, soak));
            }
            Err(e) => eprintln!("[{name}] soak not measured: {e:#}"),
        }
    }
    run.results.soak = Some(SoakRun {
        quick: opts.ctx.quick,
        minutes: opts.minutes,
        rate_rps: opts.rate_rps,
        mix: load::MIX
            .iter()
            .map(|(scenario, share)| (scenario.name().to_owned(), *share))
            .collect::<BTreeMap<_, _>>(),
        warmup_s: opts.duration().as_secs_f64() * WARMUP_SHARE,
        sample_interval_ms: SAMPLE_INTERVAL.as_millis() as u64,
        concurrent: true,
        load_avg_start,
        load_avg_end: procfs::load_average(),
        wall_s: started.elapsed().as_secs_f64(),
    });
    run.save()?;
    Ok(measured)
}

/// The targets in the groups soaked side by side: one runtime's targets together (the default
/// stack's first, in the order given), each group cut into lanes of at most [`AT_ONCE`].
fn lanes(chosen: &[Backend]) -> Vec<Vec<&Backend>> {
    let mut by_runtime: Vec<(&str, Vec<&Backend>)> = Vec::new();
    for backend in chosen {
        let runtime = backend.js_runtime.as_deref().unwrap_or_default();
        match by_runtime.iter_mut().find(|(r, _)| *r == runtime) {
            Some((_, group)) => group.push(backend),
            None => by_runtime.push((runtime, vec![backend])),
        }
    }
    by_runtime
        .into_iter()
        .flat_map(|(_, group)| {
            group
                .chunks(AT_ONCE)
                .map(<[&Backend]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The terminal table of the stage.
pub fn write_table(out: &mut impl std::io::Write, measured: &[(String, Soak)]) -> Result<()> {
    writeln!(
        out,
        "{:<10} {:>8} {:>6} {:>28} {:>28} {:>10}  verdict",
        "backend", "requests", "errors", "RSS MB/h [95%]", "JS heap used MB/h [95%]", "fds/h"
    )?;
    let slope = |b: Option<f64>, ci: Option<[f64; 2]>| match (b, ci) {
        (Some(b), Some([lo, hi])) => format!("{b:+.1} [{lo:+.1}, {hi:+.1}]"),
        _ => "-".to_owned(),
    };
    for (name, s) in measured {
        let rss = slope(s.rss_slope_mb_per_h, s.rss_slope_ci95_mb_per_h);
        let heap = slope(s.heap_used_slope_mb_per_h, s.heap_used_slope_ci95_mb_per_h);
        let fds = s
            .fd_slope_per_h
            .map_or_else(|| "-".to_owned(), |v| format!("{v:+.0}"));
        writeln!(
            out,
            "{name:<10} {:>8} {:>6} {rss:>28} {heap:>28} {fds:>10}  {}",
            s.requests,
            s.errors,
            if s.passed { "PASS" } else { "FAIL" }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lane_holds_one_runtimes_targets_and_never_more_than_at_once() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let bases = sut_kit::manifest::discover(&root.join("backends")).unwrap();
        let targets = sut_kit::manifest::with_runtimes(&bases, &["bun", "node20"]);
        let lanes = lanes(&targets);
        let runtimes: Vec<Vec<&str>> = lanes
            .iter()
            .map(|lane| lane.iter().map(|b| b.runtime_name()).collect())
            .collect();
        assert_eq!(
            lanes.iter().map(Vec::len).sum::<usize>(),
            targets.len(),
            "every target is soaked once"
        );
        for (lane, on) in lanes.iter().zip(&runtimes) {
            assert!(lane.len() <= AT_ONCE, "{} at once", lane.len());
            assert!(on.iter().all(|r| *r == on[0]), "one runtime a lane: {on:?}");
        }
        assert_eq!(
            lanes[0][0].name(),
            targets[0].name(),
            "the default stack's targets first"
        );
        assert!(runtimes.iter().any(|on| on[0] == "bun"));
    }
}
