//! `harness conformance`: proves every backend behaves as the AI SDK would before anything is
//! measured (TechEmpower's verify-before-benchmark, Autobahn's case x implementation matrix).
//!
//! - [`cases`]: the suite as data; [`play`]: one case against a running backend;
//!   [`api_cases`]: health, the tool list, the rate limit;
//! - [`checker`]: the stream rules as a state machine; [`message`]: the final message as the
//!   AI SDK client builds it; [`oracle`]: the AI SDK's own reading, in Node;
//! - [`expect`]: what each scenario promises; [`suite`]: one backend end to end;
//! - [`report`]: the terminal matrix.

pub mod api_cases;
pub mod cases;
pub mod checker;
pub mod client;
pub mod expect;
pub mod message;
pub mod oracle;
pub mod play;
pub mod report;
pub mod suite;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use contract::results::{CaseResult, Conformance, Outcome, StageSkip};

use crate::manifest::Backend;
use crate::mock::Mock;
use crate::orchestrate::{self, LaunchConfig};
use crate::run_dir::RunDir;

pub const STAGE: &str = "conformance";

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
#[derive(Debug, Default)]
pub struct Summary {
    pub verdicts: Vec<(String, Conformance)>,
    /// Backends not run, and why.
    pub skipped: Vec<(String, String)>,
}

impl Summary {
    pub fn any_failed(&self) -> bool {
        self.verdicts.iter().any(|(_, c)| c.failed > 0)
    }
}

/// Fails on a scenario filter naming no case, before anything starts.
pub fn check_filter(scenarios: &[String]) -> Result<()> {
    let names = cases::filter_names();
    if let Some(unknown) = scenarios.iter().find(|s| !names.contains(&s.as_str())) {
        bail!(
            "unknown scenario `{unknown}`; choose from: {}",
            names.join(", ")
        );
    }
    Ok(())
}

/// Runs the suite on `backends`, recording into `run` as it goes.
pub async fn run(backends: &[Backend], run: &mut RunDir, opts: &Options) -> Result<Summary> {
    check_filter(&opts.scenarios)?;
    let cases = cases::all_cases(&opts.scenarios);
    let profile = run.run().profile.clone();
    let mut summary = Summary::default();
    let mut ready = Vec::new();
    for backend in backends {
        let missing = backend.missing_artifacts(&opts.root, &profile);
        if missing.is_empty() {
            ready.push(backend);
            continue;
        }
        let reason = format!(
            "not built ({profile}): missing {}; run `harness build --backends {}`",
            missing.join(", "),
            backend.name()
        );
        eprintln!("[{}] skipped: {reason}", backend.name());
        if opts.explicit {
            let failed = Conformance::from_cases(vec![CaseResult {
                scenario: "build-output".into(),
                outcome: Outcome::Failed,
                reason: Some(reason.clone()),
                raw_stream: None,
            }]);
            run.results.backend_mut(backend.name()).conformance = Some(failed.clone());
            summary.verdicts.push((backend.name().to_owned(), failed));
        }
        run.results
            .backend_mut(backend.name())
            .skipped
            .push(StageSkip {
                stage: STAGE.into(),
                reason: reason.clone(),
            });
        summary.skipped.push((backend.name().to_owned(), reason));
    }
    run.save()?;
    if ready.is_empty() {
        return Ok(summary);
    }

    let mock = Mock::start().await?;
    let oracle = oracle::Oracle::start(&opts.root, &run.logs(STAGE))?;
    let env = suite::SuiteEnv {
        launch: LaunchConfig {
            root: opts.root.clone(),
            profile,
            provider_url: mock.openai_url(),
            api_key: orchestrate::api_key_canary(),
            ready_timeout: opts.ready_timeout,
            extra_args: vec![],
        },
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
        let verdict = Conformance::from_cases(results);
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
