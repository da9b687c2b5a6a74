//! Each stage as the commands run it: the stage's own module does the work, these wrappers
//! print its terminal summary and say how it went. `harness <stage>` calls one; `harness
//! compare` calls them in order.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use conformance::manifest::Backend;

use crate::bench;
use crate::browser_stage;
use crate::build::{self, BuildOutcome};
use crate::cli::{BrowserArgs, ConformanceArgs};
use crate::conformance_stage as stage;
use crate::run_dir::{self, RunDir};

/// Builds `backends`; returns the names of those whose build failed (each reported on stderr).
pub async fn build(
    root: &Path,
    backends: &[Backend],
    run: &mut RunDir,
    quick: bool,
) -> Vec<String> {
    let mut failed = Vec::new();
    for (name, outcome) in build::build_all(backends, root, run, quick).await {
        if let BuildOutcome::Failed(e) = outcome {
            eprintln!("\n[{name}] {e}");
            failed.push(name);
        }
    }
    failed
}

/// Runs the suite, prints the matrix; returns whether any case failed.
pub async fn conformance(
    root: &Path,
    backends: &[Backend],
    run: &mut RunDir,
    args: &ConformanceArgs,
) -> Result<bool> {
    let c = &args.common;
    let opts = stage::Options {
        root: root.to_owned(),
        scenarios: args.scenarios.clone(),
        quick: c.quick,
        ready_timeout: Duration::from_secs(args.ready_timeout_s),
        explicit: !c.backends.is_empty(),
    };
    let summary = stage::run(backends, run, &opts).await?;
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
    if summary.verdicts.is_empty() {
        bail!("no backend could be tested; build them first with `harness build`");
    }
    Ok(summary.any_failed())
}

/// Runs the bench stage on `backends` into `run` (it prints its own table).
pub async fn bench(backends: &[Backend], run: &mut RunDir, opts: &bench::Options) -> Result<()> {
    bench::run(backends, run, opts).await
}

/// Runs the browser suite, prints one line per backend; returns whether any case failed.
pub async fn browser(
    root: &Path,
    backends: &[Backend],
    run: &mut RunDir,
    args: &BrowserArgs,
) -> Result<bool> {
    let opts = browser_stage::Options {
        root: root.to_owned(),
        cases: args.cases.clone(),
        ready_timeout: Duration::from_secs(args.ready_timeout_s),
        explicit: !args.common.backends.is_empty(),
    };
    let summary = browser_stage::run(backends, run, &opts).await?;
    summary.write(&mut std::io::stdout().lock(), &run.path)?;
    if summary.verdicts.is_empty() {
        bail!("no backend could be tested; build them first with `harness build`");
    }
    Ok(summary.any_failed())
}
