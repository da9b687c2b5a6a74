//! `harness gate`: the latency regression gate (docs/gate.md). It judges, per backend, the
//! chunk-transit overhead at p50 and p99, the TTFT overhead and the saturation rate of a current
//! run against a baseline, each normalised within its own run ([`metrics`]), with the rule of
//! [`decide`]. Exit 0: every metric passed; 1: a regression (named); 2: could not judge, or the
//! input is unusable (a missing or malformed file, another schema version, a backend missing on
//! one side). `--against <rev>` ([`against`]) builds another revision and measures both in the
//! same rounds instead of comparing two files.

pub mod against;
pub mod base;
pub mod command;
pub mod cpu;
pub mod decide;
pub mod instructions;
pub mod metrics;
pub mod prepare;
pub mod sequential;
pub mod session;
pub mod signed_rank;
pub mod study;
pub mod summary;
pub mod waits;
pub mod worktree;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use contract::results::{Results, SCHEMA_VERSION};
use thiserror::Error;

use decide::{Decision, Judgement};
use metrics::Metric;

/// Why the gate cannot read its input: each names the file and what is wrong (exit 2).
#[derive(Debug, Error)]
pub enum GateError {
    #[error("{path}: cannot read it ({source}); pass an existing results.json")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a results.json of this harness: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error(
        "{path}: schema version {found}, this harness reads {SCHEMA_VERSION}; re-measure it with \
         this harness (`harness compare --quick`) or refresh the baseline (README.md)"
    )]
    SchemaVersion { path: PathBuf, found: u64 },
    #[error("{path}: the bench stage did not run in it (no `bench` section); nothing to judge")]
    NoBench { path: PathBuf },
}

/// Reads a results file, checking it is one this gate can judge.
pub fn load(path: &Path) -> Result<Results, GateError> {
    let text = std::fs::read_to_string(path).map_err(|source| GateError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| GateError::Malformed {
            path: path.to_owned(),
            message: format!("not JSON: {e}"),
        })?;
    let found = value["schema_version"]
        .as_u64()
        .ok_or_else(|| GateError::Malformed {
            path: path.to_owned(),
            message: "no `schema_version`".into(),
        })?;
    if found != u64::from(SCHEMA_VERSION) {
        return Err(GateError::SchemaVersion {
            path: path.to_owned(),
            found,
        });
    }
    let results: Results = serde_json::from_value(value).map_err(|e| GateError::Malformed {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if results.bench.is_none() {
        return Err(GateError::NoBench {
            path: path.to_owned(),
        });
    }
    Ok(results)
}

/// Judges every metric of every backend either run measured. A target measured in one run only
/// (a runtime variant `NAME@RUNTIME` or a wire variant `NAME+sse` that one run took and the
/// other did not, or a backend one of them left out) cannot be judged: each of its metrics is
/// "could not judge" with the run that lacks it and what to do, and every other backend is
/// still judged (docs/gate.md, exit codes).
pub fn judge_files(baseline: &Path, current: &Path) -> Result<Vec<Judgement>, GateError> {
    let a = load(baseline)?;
    let b = load(current)?;
    let mut backends = metrics::measured_backends(&a);
    for backend in metrics::measured_backends(&b) {
        if !backends.contains(&backend) {
            backends.push(backend);
        }
    }
    let in_a = metrics::measured_backends(&a);
    let in_b = metrics::measured_backends(&b);
    let mut judgements = Vec::new();
    for (i, backend) in backends.iter().enumerate() {
        let missing = match (in_a.contains(backend), in_b.contains(backend)) {
            (true, true) => None,
            (false, _) => Some((baseline, current)),
            (_, false) => Some((current, baseline)),
        };
        if let Some((lacking, measured)) = missing {
            let why = one_sided(backend, lacking, measured);
            judgements.extend(Metric::ALL.into_iter().map(|metric| Judgement {
                backend: backend.clone(),
                metric,
                baseline: None,
                current: None,
                change: None,
                ci95: None,
                decision: Decision::CouldNotJudge(why.clone()),
            }));
            continue;
        }
        for metric in Metric::ALL {
            let seed = (i as u64) << 8 | metric as u64;
            let judgement = match (
                metrics::series(&a, backend, metric),
                metrics::series(&b, backend, metric),
            ) {
                (Some(x), Some(y)) => decide::judge(backend, metric, &x, &y, seed),
                (x, y) => unmeasured(backend, metric, x.is_none(), y.is_none()),
            };
            judgements.push(judgement);
        }
    }
    Ok(judgements)
}

/// Why a target measured in one run only is not judged, and what to do.
fn one_sided(target: &str, lacking: &Path, measured: &Path) -> String {
    let what = match (target.split_once('@'), target.split_once('+')) {
        (Some((backend, runtime)), _) => format!("`{backend}` on the `{runtime}` runtime"),
        (_, Some((backend, variant))) => format!("`{backend}` with `+{variant}`"),
        _ => format!("`{target}`"),
    };
    format!(
        "{what} was measured in {} only, not in {}; measure the same targets in both (the \
         same --backends, runtimes and wires), or refresh the baseline (README.md)",
        measured.display(),
        lacking.display()
    )
}

fn unmeasured(backend: &str, metric: Metric, in_baseline: bool, in_current: bool) -> Judgement {
    let which = match (in_baseline, in_current) {
        (true, true) => "either run",
        (true, false) => "the baseline",
        _ => "the current run",
    };
    Judgement {
        backend: backend.to_owned(),
        metric,
        baseline: None,
        current: None,
        change: None,
        ci95: None,
        decision: Decision::CouldNotJudge(format!("not measured in {which}")),
    }
}

/// The exit code for a set of judgements: a regression wins over could-not-judge.
pub fn exit_code(judgements: &[Judgement]) -> ExitCode {
    if judgements
        .iter()
        .any(|j| j.decision == Decision::Regression)
    {
        ExitCode::from(1)
    } else if judgements
        .iter()
        .any(|j| matches!(j.decision, Decision::CouldNotJudge(_)))
    {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// What a metric's change is a percentage (or a number) of (docs/gate.md#the-rule).
pub fn change_unit(metric: Metric) -> &'static str {
    match metric {
        Metric::Saturation | Metric::CapacityPerCore => {
            "less capacity: the baseline's rate over the current one, minus 1"
        }
        Metric::CpuPerChunk => "more CPU per text chunk at load",
        _ => "more overhead per chunk, in % of the direct path's p50 chunk transit",
    }
}

/// The verdict table (latency changes in % of the direct path's p50, capacity as a ratio),
/// then one line per regression naming backend, metric, change and interval.
pub fn write_report(out: &mut impl Write, judgements: &[Judgement]) -> std::io::Result<()> {
    write_report_at(out, judgements, "95%")
}

/// [`write_report`] with the intervals' confidence named (`--against` uses its per-look one).
pub fn write_report_at(
    out: &mut impl Write,
    judgements: &[Judgement],
    confidence: &str,
) -> std::io::Result<()> {
    let pct = |m: Metric, v: Option<f64>| v.map_or("-".to_owned(), |v| m.show_change(v));
    let fig = |m: Metric, v: Option<f64>| v.map_or("-".to_owned(), |v| m.show_figure(v));
    let interval = |j: &Judgement| {
        j.ci95.map_or("-".to_owned(), |[lo, hi]| {
            format!(
                "[{}, {}]",
                j.metric.show_change(lo),
                j.metric.show_change(hi)
            )
        })
    };
    writeln!(
        out,
        "{:10} {:20} {:>10} {:>10} {:>9} {:>21}  verdict",
        "backend",
        "metric",
        "baseline",
        "current",
        "change",
        format!("{confidence} interval")
    )?;
    for j in judgements {
        let ci = interval(j);
        let verdict = match &j.decision {
            Decision::Pass => "pass".to_owned(),
            Decision::Regression => "REGRESSION".to_owned(),
            Decision::CouldNotJudge(why) => format!("could not judge: {why}"),
        };
        writeln!(
            out,
            "{:10} {:20} {:>10} {:>10} {:>9} {:>21}  {verdict}",
            j.backend,
            j.metric.name(),
            fig(j.metric, j.baseline),
            fig(j.metric, j.current),
            pct(j.metric, j.change),
            ci
        )?;
    }
    for j in judgements
        .iter()
        .filter(|j| j.decision == Decision::Regression)
    {
        writeln!(
            out,
            "REGRESSION {} {}: {} worse ({}), {confidence} interval {} (threshold {})",
            j.backend,
            j.metric.name(),
            pct(j.metric, j.change),
            change_unit(j.metric),
            interval(j),
            j.metric.show_rounded(decide::threshold(j.metric))
        )?;
    }
    Ok(())
}
