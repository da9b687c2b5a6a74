//! `harness conformance`: the stage that proves every backend behaves as the AI SDK would
//! before anything is measured (TechEmpower's verify-before-benchmark, Autobahn's case x
//! implementation matrix). The cases are the `conformance` crate's, the checker and the oracle
//! `sut_kit`'s; this stage starts one mock provider and one oracle for the run, plays the suite
//! on each backend and records the verdicts in the run folder.

use std::io::Write;

use anyhow::Result;
use contract::results::{CaseResult, Conformance, Outcome};

use conformance::{cases, suite};
use sut_kit::manifest::Backend;
use sut_kit::mock::Mock;
use sut_kit::oracle;
use sut_kit::orchestrate::StartSettings;

use crate::run_dir::{self, RunDir};
use crate::stages::{Context, Stage, Takes};
use crate::verify::{self, StageSummary};

pub const STAGE: &str = contract::results::stages::CONFORMANCE;

#[derive(Debug, Clone)]
pub struct Options {
    /// `ctx.quick`: a shorter `long`; `ctx.explicit`: a named backend that is not built is a
    /// failure, not a skip.
    pub ctx: Context,
    /// Scenario names (and `bad-input`, `api`, `headers`) to run; empty runs everything.
    pub scenarios: Vec<String>,
}

/// The verdicts of one run of the suite.
pub type Summary = StageSummary<Conformance>;

impl Summary {
    /// Whether a target of the default stack failed a case (a `--runtimes` target's failure is
    /// recorded, not counted: [`crate::runtime_axis::counts_as_failure`]).
    pub fn any_failed(&self) -> bool {
        self.verdicts
            .iter()
            .any(|(name, c)| c.failed > 0 && crate::runtime_axis::counts_as_failure(name))
    }
}

/// Fails on a scenario filter naming no case, before anything starts.
pub fn check_filter(scenarios: &[String]) -> Result<()> {
    Ok(cases::check_filter(scenarios)?)
}

/// Runs the suite on `backends`, recording into `run` as it goes.
pub async fn run(backends: &[Backend], run: &mut RunDir, opts: &Options) -> Result<Summary> {
    check_filter(&opts.scenarios)?;
    let cases = cases::all_cases(&opts.scenarios);
    let profile = run.run().profile.clone();
    let (ready, not_built) =
        verify::built_backends(backends, &opts.ctx.root, &profile, &mut run.results, STAGE);
    let mut summary = Summary::not_built(not_built, opts.ctx.explicit, |name, reason| {
        let failed = Conformance::from_cases(vec![CaseResult {
            scenario: "build-output".into(),
            outcome: Outcome::Failed,
            reason: Some(reason.to_owned()),
            raw_stream: None,
        }]);
        run.results.backend_mut(name).conformance = Some(failed.clone());
        failed
    });
    run.save()?;
    if ready.is_empty() {
        return Ok(summary);
    }

    let mock = Mock::start().await?;
    let oracle = oracle::Oracle::start(&opts.ctx.root, &run.logs(STAGE))?;
    let env = suite::SuiteEnv {
        start: StartSettings::new(
            &opts.ctx.root,
            &profile,
            mock.openai_url(),
            opts.ctx.ready_timeout,
        ),
        oracle: &oracle,
        mock: &mock,
        quick: opts.ctx.quick,
        run_path: run.path.clone(),
    };
    for backend in ready {
        eprintln!(
            "[{}] conformance: {} cases",
            backend.name(),
            cases.len() + suite::INSTANCE_CHECKS.len()
        );
        let started = std::time::Instant::now();
        let results = suite::run_backend(backend, &cases, &env).await;
        let mut verdict = Conformance::from_cases(results);
        // Only a run of the whole suite vouches for the artifacts in later runs.
        if opts.scenarios.is_empty() {
            verdict.artifacts = verify::artifacts_fingerprint(&opts.ctx.root, backend, &profile);
        }
        eprintln!(
            "[{}] {} passed, {} failed, {} unsupported in {:.1}s",
            backend.name(),
            verdict.passed,
            verdict.failed,
            verdict.unsupported,
            started.elapsed().as_secs_f64()
        );
        run.results.backend_mut(backend.name()).conformance = Some(verdict.clone());
        run.save()?;
        summary.verdicts.push((backend.name().to_owned(), verdict));
    }
    drop(oracle);
    mock.stop().await;
    Ok(summary)
}

/// The conformance stage: the suite, then its case x backend matrix on stdout.
#[derive(Debug)]
pub struct ConformanceStage;

impl Stage for ConformanceStage {
    const NAME: &'static str = STAGE;
    const TAKES: Takes = Takes::WithVariants;
    type Options = Options;

    fn options(ctx: &Context) -> Options {
        Options {
            ctx: ctx.clone(),
            scenarios: Vec::new(),
        }
    }

    async fn run(
        opts: &Options,
        backends: &[Backend],
        run: &mut RunDir,
    ) -> Result<crate::stages::Outcome> {
        let summary = self::run(backends, run, opts).await?;
        let mut out = std::io::stdout().lock();
        conformance::report::write_matrix(&mut out, &summary.verdicts)?;
        for (name, why) in &summary.skipped {
            writeln!(out, "SKIPPED {name}: {why}")?;
        }
        writeln!(
            out,
            "results: {}",
            run.path.join(run_dir::RESULTS_FILE).display()
        )?;
        summary.outcome(summary.any_failed())
    }
}
