//! Each stage as the commands run it: the stage's own module does the work, these wrappers
//! print its terminal summary and say how it went. `harness <stage>` calls one; `harness
//! compare` calls them in order.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use conformance::manifest::Backend;

use crate::bench;
use crate::browser_stage;
use crate::build::{self, BuildOutcome};
use crate::conformance_stage as stage;
use crate::run_dir::{self, RunDir};
use crate::{build_study, cost, crash, evidence, matrix, report, size, soak, start};

/// Builds `backends`, then records the size of what was built and the build study (measured
/// with `clean_builds`, else reused when cached for these sources); returns the names of those
/// whose build failed (each reported on stderr).
pub async fn build(
    root: &Path,
    backends: &[Backend],
    run: &mut RunDir,
    quick: bool,
    clean_builds: bool,
) -> Result<Vec<String>> {
    let mut failed = Vec::new();
    for (name, outcome) in build::build_all(backends, root, run, quick).await {
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
    size::run(&built, root, run)?;
    let mut out = std::io::stdout().lock();
    size::write_table(&mut out, run, &built)?;
    let opts = build_study::Options {
        root: root.to_owned(),
        clean_builds,
        reports: root.join("reports"),
    };
    let studies = build_study::run(&built, run, &opts).await?;
    build_study::write_table(&mut out, run, &studies)?;
    Ok(failed)
}

/// Runs the suite, prints the matrix; returns whether any case failed.
pub async fn conformance(
    backends: &[Backend],
    run: &mut RunDir,
    opts: &stage::Options,
) -> Result<bool> {
    let summary = stage::run(backends, run, opts).await?;
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
    backends: &[Backend],
    run: &mut RunDir,
    opts: &browser_stage::Options,
) -> Result<bool> {
    let summary = browser_stage::run(backends, run, opts).await?;
    summary.write(&mut std::io::stdout().lock(), &run.path)?;
    if summary.verdicts.is_empty() {
        bail!("no backend could be tested; build them first with `harness build`");
    }
    Ok(summary.any_failed())
}

/// Runs the start stage, prints its table; returns how many backends it measured.
pub async fn start(backends: &[Backend], run: &mut RunDir, opts: &start::Options) -> Result<usize> {
    let measured = start::run(backends, run, opts).await?;
    start::write_table(&mut std::io::stdout().lock(), &measured)?;
    Ok(measured.len())
}

/// Runs the crash stage, prints the matrix; returns how many backends it measured.
pub async fn crash(backends: &[Backend], run: &mut RunDir, opts: &crash::Options) -> Result<usize> {
    let matrix = crash::run(backends, run, opts).await?;
    crash::table::write(&mut std::io::stdout().lock(), &matrix)?;
    Ok(matrix.len())
}

/// Runs the soak stage, prints its table; returns whether any measured backend failed it.
pub async fn soak(backends: &[Backend], run: &mut RunDir, opts: &soak::Options) -> Result<bool> {
    let measured = soak::run(backends, run, opts).await?;
    soak::write_table(&mut std::io::stdout().lock(), &measured)?;
    Ok(measured.iter().any(|(_, s)| !s.passed))
}

/// Gathers the evidence stage's proxies, prints its table.
pub async fn evidence(
    backends: &[Backend],
    run: &mut RunDir,
    opts: &evidence::Options,
) -> Result<()> {
    evidence::run(backends, run, opts).await?;
    evidence::write_table(&mut std::io::stdout().lock(), &run.results)
}

/// Prices what `run` measured with the table at `prices`, prints it.
pub fn cost(root: &Path, backends: &[Backend], run: &mut RunDir, prices: &Path) -> Result<()> {
    let shown = prices
        .strip_prefix(root)
        .unwrap_or(prices)
        .display()
        .to_string();
    let priced = cost::run(backends, run, prices, &shown)?;
    cost::write_table(&mut std::io::stdout().lock(), &priced)?;
    Ok(())
}

/// The report stage: computes the run's decision matrix into its results, writes report.html
/// and summary.md into the run folder and prints the terminal summary. With `browser`, also
/// opens the page in headless Chromium and keeps report.png; a page the browser does not show
/// whole is an error.
pub fn report(root: &Path, run: &mut RunDir, browser: bool) -> Result<()> {
    matrix::compute_into(&mut run.results, root)?;
    run.save()?;
    let rendered = report::render_run(&run.path, &run.results)?;
    report::write_summary(&mut std::io::stdout().lock(), &run.results)?;
    eprintln!(
        "\nwrote {} and {}",
        rendered.report.display(),
        rendered.summary.display()
    );
    if browser {
        let screenshot = run.path.join(report::browser::SCREENSHOT_FILE);
        let seen = report::browser::check(root, &rendered.report, &screenshot)?;
        let problems = seen.problems();
        if !problems.is_empty() {
            bail!(
                "{} shows wrong in {}:\n  {}",
                rendered.report.display(),
                seen.browser,
                problems.join("\n  ")
            );
        }
        eprintln!(
            "{} showed {} charts and {} tables with no console error; screenshot {}",
            seen.browser,
            seen.charts.len(),
            seen.tables.len(),
            screenshot.display()
        );
    }
    Ok(())
}

/// `harness deploy --validate-only`: every file under deploy/ with its validator's verdict.
pub fn deploy_validate(root: &Path) -> Result<std::process::ExitCode> {
    let validators = crate::deploy::validate::Validators::new(root);
    let outcomes = validators.check_all(&root.join("deploy"))?;
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for (file, outcome) in &outcomes {
        let rel = file.strip_prefix(root).unwrap_or(file).display();
        match outcome {
            Ok(kind) => writeln!(out, "ok      {rel} ({kind:?})")?,
            Err(e) => {
                failed += 1;
                writeln!(out, "FAILED  {e}")?;
            }
        }
    }
    writeln!(out, "{} files, {failed} failed", outcomes.len())?;
    Ok(if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

/// The distributed run's table: the merged figures beside the harness's own client.
pub fn print_distributed(d: &contract::results::Distributed) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let p = |s: &Option<contract::results::LatencyStats>,
             q: fn(&contract::results::LatencyStats) -> f64| {
        s.as_ref()
            .map_or("-".to_owned(), |s| format!("{:.0}", q(s)))
    };
    writeln!(out, "load.distributed: {}", crate::load::headline(d))?;
    writeln!(
        out,
        "{:16} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "client", "conv", "errors", "ttft p50", "ttft p99", "gap p50", "gap p99"
    )?;
    writeln!(
        out,
        "{:16} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "locust (merged)",
        d.completed,
        d.errors,
        p(&d.ttft_us, |s| s.p50_us),
        p(&d.ttft_us, |s| s.p99_us),
        p(&d.gap_us, |s| s.p50_us),
        p(&d.gap_us, |s| s.p99_us)
    )?;
    if let Some(h) = &d.harness_client {
        writeln!(
            out,
            "{:16} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10}",
            "harness",
            h.conversations - h.errors,
            h.errors,
            p(&h.ttft_us, |s| s.p50_us),
            p(&h.ttft_us, |s| s.p99_us),
            p(&h.gap_us, |s| s.p50_us),
            p(&h.gap_us, |s| s.p99_us)
        )?;
        let ratio = |a: &Option<contract::results::LatencyStats>,
                     b: &Option<contract::results::LatencyStats>,
                     q: fn(&contract::results::LatencyStats) -> f64| {
            match (a, b) {
                (Some(a), Some(b)) if q(b) > 0.0 => format!("{:+.1}%", (q(a) / q(b) - 1.0) * 100.0),
                _ => "-".to_owned(),
            }
        };
        writeln!(
            out,
            "{:16} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10}",
            "locust vs harness",
            "",
            "",
            ratio(&d.ttft_us, &h.ttft_us, |s| s.p50_us),
            ratio(&d.ttft_us, &h.ttft_us, |s| s.p99_us),
            ratio(&d.gap_us, &h.gap_us, |s| s.p50_us),
            ratio(&d.gap_us, &h.gap_us, |s| s.p99_us)
        )?;
    }
    Ok(())
}
