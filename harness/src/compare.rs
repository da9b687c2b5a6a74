//! `harness compare`: every stage in one run (build -> conformance -> bench), each recorded in
//! the run folder as it finishes. A stage that fails does not hide the others' results: later
//! stages run on whatever they can still measure, and the exit code says what happened
//! (0 all good, 1 a backend failed something, 2 the harness could not do its job).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use conformance::manifest::Backend;
use contract::results::StageSkip;

use crate::cli::{CompareArgs, ConformanceArgs, clock_seed};
use crate::run_dir::RunDir;
use crate::{bench, conformance_stage, stages};

/// How the run went, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    AllGood,
    BackendFailed,
    HarnessFailed,
}

impl Verdict {
    fn code(self) -> ExitCode {
        match self {
            Verdict::AllGood => ExitCode::SUCCESS,
            Verdict::BackendFailed => ExitCode::from(1),
            Verdict::HarnessFailed => ExitCode::from(2),
        }
    }
}

/// Runs the whole pipeline on `backends` into `run`.
pub async fn run(
    root: &Path,
    backends: &[Backend],
    run: &mut RunDir,
    args: &CompareArgs,
) -> ExitCode {
    let mut verdict = Verdict::AllGood;
    let mut note = |v: Verdict, stage: &str, why: Option<&anyhow::Error>| {
        if let Some(e) = why {
            eprintln!("\ncompare: the {stage} stage could not finish: {e:#}");
        }
        verdict = verdict.max(v);
    };

    // A clean build study takes minutes per backend: compare reuses one cached for these
    // sources and measures none (`harness build --clean-builds` does).
    let build_failed = match stages::build(root, backends, run, args.common.quick, false).await {
        Ok(failed) => failed,
        Err(e) => {
            note(Verdict::HarnessFailed, "build", Some(&e));
            Vec::new()
        }
    };
    if !build_failed.is_empty() {
        note(Verdict::BackendFailed, "build", None);
    }
    let mut built = Vec::new();
    for b in backends {
        if build_failed.contains(&b.name().to_owned()) {
            run.results.backend_mut(b.name()).skipped.push(StageSkip {
                stage: conformance_stage::STAGE.into(),
                reason: "its build failed; see logs/build".into(),
            });
        } else {
            built.push(b.clone());
        }
    }
    if let Err(e) = run.save() {
        note(Verdict::HarnessFailed, "build", Some(&e));
    }

    let conformance_args = ConformanceArgs {
        common: args.common.clone(),
        scenarios: args.scenarios.clone(),
        ready_timeout_s: args.ready_timeout_s,
    };
    match stages::conformance(root, &built, run, &conformance_args).await {
        Ok(false) => {}
        Ok(true) => note(Verdict::BackendFailed, "conformance", None),
        Err(e) => note(Verdict::HarnessFailed, "conformance", Some(&e)),
    }

    let bench_opts = bench::Options {
        root: root.to_owned(),
        quick: args.common.quick,
        rounds: None,
        inject_delay_us: vec![],
        force: false,
        // A backend that failed conformance is recorded as skipped by the bench; in compare
        // that is the conformance stage's failure, not a harness failure.
        explicit: false,
        load: true,
        ready_timeout: Duration::from_secs(args.ready_timeout_s),
        seed: args.seed.unwrap_or_else(clock_seed),
    };
    if let Err(e) = stages::bench(&built, run, &bench_opts).await {
        note(Verdict::HarnessFailed, "bench", Some(&e));
    }

    eprintln!(
        "\ncompare: {} (run {})",
        match verdict {
            Verdict::AllGood => "every stage passed",
            Verdict::BackendFailed => "a backend failed a stage (see above)",
            Verdict::HarnessFailed => "a stage could not do its job (see above)",
        },
        run.path.display()
    );
    verdict.code()
}
