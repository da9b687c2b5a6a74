//! `harness build`: runs each manifest's build steps, in order, from the repository root.
//!
//! Each step's output goes to its own log under the run folder and its wall time into
//! results.json; a failing step stops that backend's build and names the backend, the step and
//! the tail of its log. Backends build one after another: they share two cores and the cargo
//! target folder, so running them side by side would only make every timing wrong.

pub mod size;
pub mod study;

use std::path::Path;

use contract::results::BuildStepResult;
use thiserror::Error;

use crate::run_dir::RunDir;
use crate::stages::{Context, Outcome, Stage, Takes};
use sut_kit::manifest::Backend;
use sut_kit::process;

#[derive(Debug, Error)]
pub enum BuildError {
    #[error(
        "building {backend} failed at step {index} `{step}` ({status}); log: {log}\n--- last lines ---\n{tail}"
    )]
    StepFailed {
        backend: String,
        index: usize,
        step: String,
        status: String,
        log: String,
        tail: String,
    },
    #[error("could not run step `{step}` of {backend}: {source}")]
    Spawn {
        backend: String,
        step: String,
        source: std::io::Error,
    },
}

/// What happened to one backend's build.
#[derive(Debug)]
pub enum BuildOutcome {
    Built,
    /// `--quick` and every artifact present: nothing ran.
    UpToDate,
    Failed(BuildError),
}

/// Builds `backends` one by one, printing progress to stderr and recording each step.
/// Returns every backend's outcome; a failed backend does not stop the others.
pub async fn build_all(
    backends: &[Backend],
    root: &Path,
    run: &mut RunDir,
    quick: bool,
) -> Vec<(String, BuildOutcome)> {
    let mut outcomes = Vec::new();
    for backend in backends {
        let profile = run.run().profile.clone();
        let outcome = if quick && backend.missing_artifacts(root, &profile).is_empty() {
            eprintln!("[{}] artifacts present; skipped (--quick)", backend.name());
            BuildOutcome::UpToDate
        } else {
            match build_one(backend, root, run).await {
                Ok(()) => BuildOutcome::Built,
                Err(e) => BuildOutcome::Failed(e),
            }
        };
        outcomes.push((backend.name().to_owned(), outcome));
    }
    outcomes
}

async fn build_one(backend: &Backend, root: &Path, run: &mut RunDir) -> Result<(), BuildError> {
    let name = backend.name().to_owned();
    let log_dir = run.logs("build");
    let steps = &backend.manifest.build;
    let total = steps.len();
    for (i, step) in steps.iter().enumerate() {
        let index = i + 1;
        eprintln!("[{name}] step {index}/{total}: {step}");
        let log = log_dir.join(format!("{name}.step{index}.log"));
        let spawn_err = |source| BuildError::Spawn {
            backend: name.clone(),
            step: step.clone(),
            source,
        };
        let ran = crate::step::run(step, root, &log)
            .await
            .map_err(spawn_err)?;
        let (status, wall_s) = (ran.status, ran.wall_s);
        let record = BuildStepResult {
            command: step.clone(),
            wall_s,
            ok: status.success(),
            log: run.relative(&log),
        };
        let entry = run.results.backend_mut(&name).build.get_or_insert_default();
        entry.steps.push(record);
        // A failure to persist must not hide the build's own outcome; it is reported below.
        if let Err(e) = run.save() {
            eprintln!("[{name}] warning: results.json not updated: {e:#}");
        }
        if !status.success() {
            eprintln!("[{name}] step {index}/{total} FAILED after {wall_s:.1}s");
            return Err(BuildError::StepFailed {
                backend: name,
                index,
                step: step.clone(),
                status: status.to_string(),
                log: log.display().to_string(),
                tail: process::file_tail(&log, crate::step::LOG_TAIL_BYTES),
            });
        }
        eprintln!("[{name}] step {index}/{total} ok in {wall_s:.1}s");
    }
    Ok(())
}

/// `harness build` as a stage: the build steps, then the size of what was built and the build
/// study (measured with `clean_builds`, else reused when cached for these sources).
#[derive(Debug)]
pub struct Build;

/// The build stage's options.
#[derive(Debug, Clone)]
pub struct Options {
    pub ctx: Context,
    /// Skip a backend whose artifacts are present (`harness build --quick`). `compare` runs
    /// every step even with --quick: an artifact's presence says nothing of the profile that
    /// made it (the napi addon has one path for debug and release, and the tests build it in
    /// debug), and cargo and npm make an up-to-date step cost seconds.
    pub skip_built: bool,
    /// Measure a clean build and two incremental ones where none is cached: minutes per
    /// backend, so only `harness build --clean-builds` does.
    pub clean_builds: bool,
}

impl Stage for Build {
    const NAME: &'static str = contract::results::stages::BUILD;
    const TAKES: Takes = Takes::Bases;
    const GATES: bool = true;
    type Options = Options;

    fn options(ctx: &Context) -> Options {
        Options {
            ctx: ctx.clone(),
            skip_built: false,
            clean_builds: false,
        }
    }

    async fn run(
        opts: &Options,
        backends: &[Backend],
        run: &mut RunDir,
    ) -> anyhow::Result<Outcome> {
        let root = opts.ctx.root.as_path();
        // Every measuring stage starts the mock provider of this profile: built here, or its
        // build is charged to whichever stage needs it first (docs/architecture.md#budgets).
        let profile = run.run().profile.clone();
        crate::provider::build(root, &profile, &run.logs("build")).await?;
        let mut failed = Vec::new();
        for (name, outcome) in build_all(backends, root, run, opts.skip_built).await {
            if let BuildOutcome::Failed(e) = outcome {
                eprintln!("\n[{name}] {e}");
                failed.push(name);
            }
        }
        let built: Vec<Backend> = backends
            .iter()
            .filter(|b| !failed.iter().any(|f| f == b.name()))
            .cloned()
            .collect();
        crate::stages::build::size::run(&built, root, run)?;
        let mut out = std::io::stdout().lock();
        crate::stages::build::size::write_table(&mut out, run, &built)?;
        let study = crate::stages::build::study::Options {
            ctx: opts.ctx.clone(),
            clean_builds: opts.clean_builds,
            reports: root.join("reports"),
        };
        let studies = crate::stages::build::study::run(&built, run, &study).await?;
        crate::stages::build::study::write_table(&mut out, run, &studies)?;
        Ok(Outcome::failed(failed))
    }
}
