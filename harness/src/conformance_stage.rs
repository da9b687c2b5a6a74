//! `harness conformance`: the stage that proves every backend behaves as the AI SDK would
//! before anything is measured (TechEmpower's verify-before-benchmark, Autobahn's case x
//! implementation matrix). The cases, the checker and the oracle are the `conformance` crate's;
//! this stage starts one mock provider and one oracle for the run, plays the suite on each
//! backend and records the verdicts in the run folder.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use contract::results::{CaseResult, Conformance, Outcome};

use conformance::manifest::Backend;
use conformance::mock::Mock;
use conformance::orchestrate::StartSettings;
use conformance::{cases, oracle, suite};

use crate::run_dir::RunDir;
use crate::verify::{self, StageSummary};

pub const STAGE: &str = contract::results::stages::CONFORMANCE;

#[derive(Debug, Clone)]
pub struct Options {
    pub root: PathBuf,
    /// Scenario names (and `bad-input`, `api`, `headers`) to run; empty runs everything.
    pub scenarios: Vec<String>,
    pub quick: bool,
    pub ready_timeout: Duration,
    /// Backends named explicitly: one that is not built is a failure, not a skip.
    pub explicit: bool,
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
        verify::built_backends(backends, &opts.root, &profile, &mut run.results, STAGE);
    let mut summary = Summary::not_built(not_built, opts.explicit, |name, reason| {
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
    let oracle = oracle::Oracle::start(&opts.root, &run.logs(STAGE))?;
    let env = suite::SuiteEnv {
        start: StartSettings::new(&opts.root, &profile, mock.openai_url(), opts.ready_timeout),
        oracle: &oracle,
        mock: &mock,
        quick: opts.quick,
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
            verdict.artifacts = verify::artifacts_fingerprint(&opts.root, backend, &profile);
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
