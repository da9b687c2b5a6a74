//! The decision matrix: every row of the original notes' benchmark table and decision matrix,
//! the paper's value beside the measured one, stars computed from `config/matrix.toml`, the
//! totals, the winner and how firm it is. The method is in docs/report.md.
//!
//! Layout: [`config`] reads and checks the config; [`units`] converts units and reads the
//! notes' figures; [`metric`] reads a row's figure out of results.json; [`score`] turns
//! figures into stars, totals and leaders; [`sensitivity`] moves one weight or one figure at a
//! time and rescores. [`compute`] puts them together into `contract::results::Matrix`.

pub mod config;
pub mod metric;
pub mod score;
pub mod sensitivity;
pub mod units;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use contract::results::{Matrix, MatrixRow, NotMeasured, PaperVerdict, Results, Scoring};

pub use config::{CONFIG_PATH, MatrixConfig};

use contract::results::stages;
use score::{Figures, Scored};
use units::PaperFigure;

/// A measured figure more than this many times above or below the notes' guess is listed as
/// a guess that was off (the "off by more than 2×").
pub const OFF_FACTOR: f64 = 2.0;

/// Computes the matrix from `results` with the repository's config and stores it in
/// `results.matrix`.
pub fn compute_into(results: &mut Results, root: &Path) -> Result<()> {
    let config = MatrixConfig::load(&root.join(CONFIG_PATH), CONFIG_PATH)?;
    results.matrix = Some(compute(results, &config)?);
    Ok(())
}

/// The matrix of `results` under `config`.
pub fn compute(results: &Results, config: &MatrixConfig) -> Result<Matrix> {
    let json = serde_json::to_value(results).context("results cannot be read as JSON")?;
    let mut figures = Figures::new();
    let mut missing: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for row in &config.rows {
        let Some(metric) = &row.metric else { continue };
        for backend in &config.backends {
            match metric.read(&json, backend, &row.unit) {
                Ok(f) => {
                    figures
                        .entry(row.id.clone())
                        .or_default()
                        .insert(backend.clone(), f);
                }
                Err(why) => {
                    let why = why_missing(results, backend, &metric.path, why);
                    missing
                        .entry(row.id.clone())
                        .or_default()
                        .insert(backend.clone(), why);
                }
            }
        }
    }
    let (competing, not_competing) = competitors(results, &config.backends);
    let weights: BTreeMap<String, f64> = config
        .rows
        .iter()
        .filter_map(|r| Some((r.id.clone(), r.stars.as_ref()?.weight)))
        .collect();
    let scored = score::score(config, &figures, &competing, &weights);
    let sensitivity = sensitivity::analyse(config, &figures, &competing, &weights, &scored);
    let rows = config
        .rows
        .iter()
        .map(|row| {
            let cells = figures.remove(&row.id).unwrap_or_default();
            let missing = missing.remove(&row.id).unwrap_or_default();
            build_row(config, row, cells, missing, &scored)
        })
        .collect();
    Ok(Matrix {
        config: CONFIG_PATH.to_owned(),
        backends: config.backends.clone(),
        rows,
        winner: single(&scored.leaders),
        leaders: scored.leaders.clone(),
        totals: scored.totals.clone(),
        max_total: scored.max_total,
        not_competing,
        paper: paper_verdict(config, &scored.counted),
        sensitivity,
    })
}

fn single(leaders: &[String]) -> Option<String> {
    match leaders {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Which backends race for the totals: those in the run that passed conformance. When no
/// backend of the run has conformance results (a run without that stage), all of them do.
fn competitors(results: &Results, backends: &[String]) -> (Vec<String>, BTreeMap<String, String>) {
    let any_conformance = backends.iter().any(|b| {
        results
            .backends
            .get(b)
            .is_some_and(|r| r.conformance.is_some())
    });
    let mut competing = Vec::new();
    let mut left_out = BTreeMap::new();
    for b in backends {
        let why = match results.backends.get(b) {
            None => Some("not in this run".to_owned()),
            Some(r) => match &r.conformance {
                Some(c) if c.is_verified() => None,
                Some(c) if c.failed > 0 => Some(format!("failed {} conformance case(s)", c.failed)),
                Some(_) => Some("its conformance run has no cases".to_owned()),
                None if any_conformance => Some(
                    r.skipped
                        .iter()
                        .find(|s| s.stage == stages::CONFORMANCE)
                        .map_or("not verified by conformance in this run".to_owned(), |s| {
                            format!("conformance skipped it: {}", s.reason)
                        }),
                ),
                None => None,
            },
        };
        match why {
            None => competing.push(b.clone()),
            Some(why) => {
                left_out.insert(b.clone(), why);
            }
        }
    }
    (competing, left_out)
}

/// Why a backend lacks a figure: the skip its stage recorded, if any, else what the path did
/// not reach.
fn why_missing(results: &Results, backend: &str, path: &str, detail: String) -> String {
    let Some(entry) = results.backends.get(backend) else {
        return "not in this run".to_owned();
    };
    let stage = stage_of(path);
    match entry.skipped.iter().find(|s| s.stage == stage) {
        Some(skip) => format!("the {stage} stage skipped it: {}", skip.reason),
        None => detail,
    }
}

/// The stage that writes a backend's figure, from the path's first field under the backend.
fn stage_of(path: &str) -> &'static str {
    let field = path.split('.').nth(2).unwrap_or_default();
    match field {
        "crash" => "crash",
        "build" | "size" | "cold_start_ms" => "build",
        "conformance" => stages::CONFORMANCE,
        _ => stages::BENCH,
    }
}

fn build_row(
    config: &MatrixConfig,
    row: &config::RowConfig,
    cells: BTreeMap<String, metric::Figure>,
    missing: BTreeMap<String, String>,
    scored: &Scored,
) -> MatrixRow {
    let mut ratio = BTreeMap::new();
    let mut off = Vec::new();
    for (backend, figure) in &cells {
        let Some(paper) = row
            .paper
            .get(backend)
            .and_then(|t| PaperFigure::parse(t, &row.unit))
        else {
            continue;
        };
        if let Some(r) = paper.ratio(figure.value) {
            ratio.insert(backend.clone(), r);
        }
        if paper.off_by_more_than(figure.value, figure.ci, OFF_FACTOR) {
            off.push(backend.clone());
        }
    }
    let paper_stars = config
        .backends
        .iter()
        .filter_map(|b| {
            let column = config.paper_column(b)?;
            Some((b.clone(), *row.paper_stars.get(column)?))
        })
        .collect();
    MatrixRow {
        id: row.id.clone(),
        table: row.table,
        criterion: row.criterion.clone(),
        unit: row.unit.clone(),
        metric: row.metric.as_ref().map(|m| m.path.clone()),
        metric_why: row.metric.as_ref().map(|m| m.why.clone()),
        scoring: row.stars.as_ref().map(|s| Scoring {
            lower_is_better: s.direction == config::Direction::Lower,
            relative_to_best: s.relative == config::Relative::ToBest,
            at: s.at,
            why_thresholds: s.why_thresholds.clone(),
            why_weight: s.why_weight.clone(),
        }),
        paper: row.paper.clone(),
        paper_stars,
        measured: cells.iter().map(|(b, f)| (b.clone(), f.value)).collect(),
        ci95: cells
            .iter()
            .filter_map(|(b, f)| Some((b.clone(), f.ci?)))
            .collect(),
        ratio,
        off_by_more_than_2x: off,
        stars: scored.stars.get(&row.id).cloned().unwrap_or_default(),
        weight: row.stars.as_ref().map(|s| s.weight),
        counted: scored.counted.contains(&row.id),
        not_counted: scored.not_counted.get(&row.id).cloned(),
        not_measured: row.not_measured.as_ref().map(|n| NotMeasured {
            why: n.why.clone(),
            evidence: n.evidence.clone(),
        }),
        missing,
    }
}

/// The notes' totals from their own stars: over their whole matrix, and over only the rows
/// the measured totals count.
fn paper_verdict(config: &MatrixConfig, counted: &[String]) -> PaperVerdict {
    let sum = |only_counted: bool| -> (BTreeMap<String, f64>, f64) {
        let mut totals: BTreeMap<String, f64> = BTreeMap::new();
        let mut max = 0.0;
        for row in config.rows.iter().filter(|r| !r.paper_stars.is_empty()) {
            if only_counted && !counted.contains(&row.id) {
                continue;
            }
            let weight = if only_counted {
                row.stars.as_ref().map_or(1.0, |s| s.weight)
            } else {
                1.0
            };
            for (column, stars) in &row.paper_stars {
                *totals.entry(column.clone()).or_default() += weight * f64::from(*stars);
            }
            max += weight * f64::from(config::MAX_STARS);
        }
        (totals, max)
    };
    let (totals, max_total) = sum(false);
    let (totals_on_counted, _) = sum(true);
    PaperVerdict {
        columns: config.paper.columns.clone(),
        mapping: config.paper.mapping.clone(),
        printed_totals: config.paper.printed_totals.clone(),
        winner: single(&score::leaders(&totals)),
        totals,
        max_total,
        winner_on_counted: single(&score::leaders(&totals_on_counted)),
        totals_on_counted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::{
        BackendResults, CaseResult, Conformance, Machine, Outcome, RunInfo, StageSkip, Versions,
    };

    fn results() -> Results {
        Results::new(RunInfo {
            id: "t".into(),
            git_sha: "abc".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            profile: "release".into(),
            machine: Machine::default(),
            versions: Versions::default(),
            runtimes: Default::default(),
        })
    }

    fn verified() -> Conformance {
        Conformance::from_cases(vec![CaseResult {
            scenario: "text".into(),
            outcome: Outcome::Ok,
            reason: None,
            raw_stream: None,
        }])
    }

    fn repo_config() -> MatrixConfig {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        MatrixConfig::load(&root.join(CONFIG_PATH), CONFIG_PATH).unwrap()
    }

    #[test]
    fn the_notes_totals_are_recomputed_from_their_stars() {
        let m = compute(&results(), &repo_config()).unwrap();
        let totals: Vec<(&str, f64)> = m
            .paper
            .totals
            .iter()
            .map(|(c, t)| (c.as_str(), *t))
            .collect();
        // The notes printed 35 / 21 / 31 under their matrix; their own stars sum to this.
        assert_eq!(
            totals,
            [("HTTP IPC", 36.0), ("Rust-only", 32.0), ("napi-rs", 21.0)]
        );
        assert_eq!(m.paper.printed_totals["HTTP IPC"], 35.0);
        assert_eq!(m.paper.max_total, 40.0);
        assert_eq!(m.paper.winner.as_deref(), Some("HTTP IPC"));
        let config = repo_config();
        assert_eq!(
            m.paper.winner.as_deref(),
            Some(config.paper.winner.as_str())
        );
        let benchmarks = m
            .rows
            .iter()
            .filter(|r| r.table == contract::results::RowTable::Benchmarks)
            .count();
        let decision = m
            .rows
            .iter()
            .filter(|r| r.table == contract::results::RowTable::Decision)
            .count();
        assert_eq!(
            (benchmarks, decision),
            (10, 8),
            "every row of both tables of the notes"
        );
    }

    #[test]
    fn an_empty_run_has_no_winner_and_every_figure_missing_with_a_reason() {
        let m = compute(&results(), &repo_config()).unwrap();
        assert_eq!(m.winner, None);
        assert!(m.totals.is_empty(), "absent, not zero");
        assert_eq!(m.not_competing["unix"], "not in this run");
        let latency = m.rows.iter().find(|r| r.id == "latency").unwrap();
        assert!(latency.measured.is_empty() && !latency.counted);
        assert_eq!(latency.missing["napi"], "not in this run");
        assert_eq!(
            latency.paper_stars["unix"], 4,
            "HTTP IPC's stars stand for unix"
        );
    }

    #[test]
    fn measured_rows_get_ratios_stars_and_the_off_guesses() {
        let mut r = results();
        for (name, ipc, ttft_overhead) in [
            ("unix", 80.0, 900.0),
            ("http", 1500.0, 1800.0),
            ("napi", 30.0, 150.0),
            ("rust-only", 5.0, 60.0),
        ] {
            let b = r.backend_mut(name);
            b.conformance = Some(verified());
            b.latency.chunk_transit = Some(stats(Some(ipc), None));
            b.latency.ttft = Some(stats(None, Some(ttft_overhead)));
        }
        r.backend_mut("direct").latency.ttft = Some(stats(None, None));
        let m = compute(&r, &repo_config()).unwrap();
        let ipc = m.rows.iter().find(|r| r.id == "ipc-overhead").unwrap();
        assert_eq!(ipc.ratio["unix"], 80.0 / 700.0);
        assert_eq!(ipc.ratio["http"], 1.0, "inside the notes' 1-2 ms");
        assert!(
            !ipc.ratio.contains_key("rust-only"),
            "no ratio to a guess of zero"
        );
        assert_eq!(ipc.off_by_more_than_2x, ["napi", "rust-only", "unix"]);
        let latency = m.rows.iter().find(|r| r.id == "latency").unwrap();
        assert!(latency.counted);
        let stars: Vec<u8> = ["unix", "http", "napi", "rust-only"]
            .iter()
            .map(|b| latency.stars[*b])
            .collect();
        assert_eq!(stars, [4, 4, 4, 5]);
        assert_eq!(m.winner.as_deref(), Some("rust-only"));
        assert_eq!(m.max_total, 5.0);
        // Only latency counts, where the notes gave HTTP IPC 4 and the others 5.
        assert_eq!(m.paper.totals_on_counted["HTTP IPC"], 4.0);
        assert_eq!(m.paper.winner_on_counted, None);
        let percent = m.rows.iter().find(|r| r.id == "overhead-percent").unwrap();
        assert_eq!(percent.measured["napi"], 150.0 / 200_000.0 * 100.0);
    }

    #[test]
    fn a_failed_or_skipped_backend_does_not_compete() {
        let mut r = results();
        r.backend_mut("unix").conformance = Some(verified());
        let mut failed = verified();
        failed.failed = 1;
        r.backend_mut("http").conformance = Some(failed);
        r.backend_mut("napi").skipped.push(StageSkip {
            stage: "conformance".into(),
            reason: "its build failed".into(),
        });
        r.backends
            .insert("rust-only".into(), BackendResults::default());
        let m = compute(&r, &repo_config()).unwrap();
        assert_eq!(m.not_competing["http"], "failed 1 conformance case(s)");
        assert_eq!(
            m.not_competing["napi"],
            "conformance skipped it: its build failed"
        );
        assert_eq!(
            m.not_competing["rust-only"],
            "not verified by conformance in this run"
        );
        assert!(!m.not_competing.contains_key("unix"));
    }

    fn stats(ipc: Option<f64>, overhead: Option<f64>) -> contract::results::LatencyStats {
        contract::results::LatencyStats {
            overhead_p50_us: overhead,
            ipc_overhead_p50_us: ipc,
            ..contract::results::LatencyStats::from_percentiles(
                100, 200_000.0, 200_100.0, 200_200.0, 200_300.0, 200_400.0,
            )
        }
    }
}
