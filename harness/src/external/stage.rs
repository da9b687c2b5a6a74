//! `harness bench --target NAME=URL --mock-url URL`: for each target, the conformance suite
//! against its URL ([`verify`], which `soak` and `crash` with `--target` share), then, if it
//! passed, [`super::measure`]. Recorded as `backends.<NAME>` with `external: true`.

use anyhow::{Context, Result};
use conformance::cases;
use conformance::external::{self, ExternalEnv};
use contract::results::{Conformance, StageSkip, stages};
use sut_kit::mock::Mock;
use sut_kit::oracle::Oracle;

use super::measure::{self, Plan};
use super::{TargetSpec, check_reachable, shares_clock};
use crate::progress::Progress;
use crate::run_dir::RunDir;

#[derive(Debug, Clone)]
pub struct Options {
    /// The shared context: the root, and `quick` for the conformance suite's quick form (a
    /// shorter `long`).
    pub ctx: crate::stages::Context,
    /// How much to measure ([`Plan::new`]).
    pub plan: Plan,
    pub mock_url: String,
    pub targets: Vec<TargetSpec>,
}

/// Checks that the mock and every target answer before anything is recorded (bad input: the
/// caller exits 2).
pub async fn check_inputs(opts: &Options) -> Result<Mock> {
    check_reachable(
        "the mock provider",
        &opts.mock_url,
        "/__mock/timeline?tag=probe",
    )
    .await?;
    for t in &opts.targets {
        check_reachable("target", &t.url, "/health")
            .await
            .with_context(|| format!("--target {}", t.name))?;
    }
    Mock::remote(&opts.mock_url).await
}

/// Runs the suite, then measures each target that passed; returns how many were measured.
pub async fn run(run: &mut RunDir, mock: &Mock, opts: &Options) -> Result<usize> {
    let verified = verify(run, mock, opts, stages::BENCH).await?;
    let http = sut_kit::client::http_client()?;
    let shared_clock = shares_clock(&opts.mock_url);
    for target in &verified {
        let plan = opts.plan;
        let progress = Progress::new(&format!("bench {}", target.name), 0);
        let figures = measure::run(&http, &target.url, mock, shared_clock, plan, &progress).await;
        progress.finish();
        print_figures(&target.name, &figures);
        run.results.backend_mut(&target.name).external_figures = Some(figures);
        run.save()?;
    }
    Ok(verified.len())
}

/// The conformance suite against every target's URL, recorded as `backends.<NAME>` with
/// `external: true`; returns the targets that passed. One that failed is not measured: a
/// skip of `stage` says so.
pub async fn verify(
    run: &mut RunDir,
    mock: &Mock,
    opts: &Options,
    stage: &str,
) -> Result<Vec<TargetSpec>> {
    let oracle = Oracle::start(&opts.ctx.root, &run.logs(stages::CONFORMANCE))?;
    let all = cases::all_cases(&[]);
    let mut verified = Vec::new();
    for target in &opts.targets {
        eprintln!(
            "[{}] conformance against {} ({} cases)",
            target.name,
            target.url,
            all.len()
        );
        let env = ExternalEnv {
            name: target.name.clone(),
            base: target.url.clone(),
            oracle: &oracle,
            mock,
            quick: opts.ctx.quick,
            run_path: &run.path,
        };
        let verdict = Conformance::from_cases(external::run(&all, &env).await);
        eprintln!(
            "[{}] {} passed, {} failed, {} unsupported (not applicable from outside)",
            target.name, verdict.passed, verdict.failed, verdict.unsupported
        );
        let passed = verdict.is_verified();
        let entry = run.results.backend_mut(&target.name);
        entry.external = true;
        entry.conformance = Some(verdict);
        if passed {
            verified.push(target.clone());
        } else {
            entry.skipped.push(StageSkip {
                stage: stage.into(),
                reason: "failed conformance against its URL; not measured".into(),
            });
        }
        run.save()?;
    }
    Ok(verified)
}

fn print_figures(name: &str, f: &contract::results::ExternalFigures) {
    let p = |s: &Option<contract::results::LatencyStats>| {
        s.as_ref().map_or("-".to_owned(), |s| {
            format!("p50 {:.0} p99 {:.0} µs", s.p50_us, s.p99_us)
        })
    };
    eprintln!(
        "[{name}] client clock: ttft {}, e2e {}, gap {} (scripted {} ms); {}",
        p(&f.ttft_us),
        p(&f.e2e_us),
        p(&f.gap_us),
        f.scripted_gap_ms,
        if f.shared_clock {
            format!("shared clock: chunk transit {}", p(&f.chunk_transit_us))
        } else {
            "no shared clock with the mock: no per-hop transit".to_owned()
        }
    );
    let cap = f
        .capacity_rps
        .map_or("none of the rates tried".to_owned(), |r| format!("{r}/s"));
    eprintln!("[{name}] highest open-loop rate held: {cap}");
}
