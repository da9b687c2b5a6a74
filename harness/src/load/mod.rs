//! Load from many machines with Locust (docs/distributed.md): `harness locustfile` writes a
//! locustfile that plays the bench's `text` conversation as open-loop arrivals at a fixed rate
//! ([`locustfile`]); `harness load --locust` runs a master and N workers on it ([`run`]) and
//! folds what the workers reported into `load.distributed` ([`merge`]). Every figure is merged
//! from the workers' raw microsecond samples into one HdrHistogram: never an average of
//! percentiles, never Locust's own rounded statistics.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use contract::results::{Distributed, LostShare};
use serde::Deserialize;

use crate::external::client;
use crate::stats;

pub mod interleave;
pub mod run;

/// The engine and the version `harness/locust/requirements.txt` pins.
pub const ENGINE: &str = "locust";
pub const LOCUST_VERSION: &str = "2.47.0";
/// The pinned requirements, relative to the repository root.
pub const REQUIREMENTS: &str = "harness/locust/requirements.txt";

const TEMPLATE: &str = include_str!("locustfile.py");

/// The locustfile for the bench's `text` workload (docs/bench.md#workload).
pub fn locustfile() -> String {
    let d = client::text_directive("");
    let expected = sut_kit::mock::expected_chunks(&d).unwrap_or_default();
    // JSON literals: Python reads JSON strings and lists of strings as its own.
    TEMPLATE
        .replace(
            "@DIRECTIVE@",
            &serde_json::Value::from(d.render()).to_string(),
        )
        .replace("@EXPECTED@", &serde_json::Value::from(expected).to_string())
}

/// Records the run as `load.distributed` and saves results.json.
pub fn record(run: &mut crate::run_dir::RunDir, d: &Distributed) -> Result<()> {
    run.results
        .load
        .get_or_insert_with(contract::results::LoadRuns::default)
        .distributed = Some(d.clone());
    run.save()
}

/// One line of `--arena-out`: what one worker sent since its previous report.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Report {
    /// `samples` every second, `done` once after the schedule and its drain.
    pub kind: String,
    pub client_id: String,
    /// The worker's share of the schedule (conversations).
    pub scheduled: u64,
    #[serde(default)]
    pub ttft_us: Vec<u64>,
    #[serde(default)]
    pub gap_us: Vec<u64>,
    /// The window of each sample (a schedule split into windows, [`interleave`]).
    #[serde(default)]
    pub ttft_window: Vec<u32>,
    #[serde(default)]
    pub gap_window: Vec<u32>,
    /// Where the worker's schedule began on its `CLOCK_MONOTONIC` (µs).
    #[serde(default)]
    pub begin_us: u64,
    #[serde(default)]
    pub started: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub errors: u64,
    #[serde(default)]
    pub lost_chunks: u64,
    #[serde(default)]
    pub reordered_chunks: u64,
}

/// What the run was asked to do.
#[derive(Debug, Clone)]
pub struct RunShape {
    pub target: String,
    pub url: String,
    pub workers: u32,
    pub rate_rps: f64,
    pub seconds: f64,
    /// The schedule in this many windows of equal length (1: one block).
    pub windows: u32,
}

impl RunShape {
    /// Conversations the schedule holds: each worker plays `round(rate / workers × seconds /
    /// windows)` in each window (at least one), as the locustfile counts them.
    pub fn scheduled(&self) -> u64 {
        let windows = self.windows.max(1);
        let per_window = (self.rate_rps / f64::from(self.workers.max(1)) * self.seconds
            / f64::from(windows))
        .round()
        .max(1.0);
        per_window as u64 * u64::from(windows) * u64::from(self.workers)
    }
}

/// Parses the reports file (JSON lines; a torn last line from a master stopped mid-write is
/// skipped, any other bad line is an error).
pub fn parse_reports(text: &str) -> Result<Vec<Report>> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Report>(line) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == lines.len() => {}
            Err(e) => return Err(e).with_context(|| format!("report line {} is not JSON", i + 1)),
        }
    }
    Ok(out)
}

/// Merges every worker's samples into one set of figures. A worker that sent no `done` is
/// lost; what no report accounts for is the lost share, and the run is then partial.
pub fn merge(shape: &RunShape, reports: &[Report]) -> Distributed {
    let mut ttft = stats::histogram();
    let mut gap = stats::histogram();
    let (mut started, mut completed, mut errors, mut lost_chunks, mut reordered) = (0, 0, 0, 0, 0);
    let mut done: BTreeMap<&str, bool> = BTreeMap::new();
    for r in reports {
        for &us in &r.ttft_us {
            stats::record(&mut ttft, us * 1_000);
        }
        for &us in &r.gap_us {
            stats::record(&mut gap, us * 1_000);
        }
        started += r.started;
        completed += r.completed;
        errors += r.errors;
        lost_chunks += r.lost_chunks;
        reordered += r.reordered_chunks;
        *done.entry(&r.client_id).or_default() |= r.kind == "done";
    }
    let reported = done.values().filter(|d| **d).count() as u32;
    let scheduled = shape.scheduled();
    let accounted = completed + errors;
    let share = if scheduled == 0 {
        0.0
    } else {
        scheduled.saturating_sub(accounted) as f64 / scheduled as f64
    };
    let lost_workers = shape.workers.saturating_sub(reported);
    Distributed {
        engine: format!("{ENGINE} {LOCUST_VERSION}"),
        target: shape.target.clone(),
        url: shape.url.clone(),
        workers: shape.workers,
        workers_reported: reported,
        rate_rps: shape.rate_rps,
        seconds: shape.seconds,
        scenario: "text".into(),
        scripted_gap_ms: client::GAP_MS,
        scheduled,
        started,
        completed,
        errors,
        lost_chunks,
        reordered_chunks: reordered,
        ttft_us: stats::latency_stats(&ttft),
        gap_us: stats::latency_stats(&gap),
        lost: LostShare {
            workers: lost_workers,
            share,
        },
        partial: lost_workers > 0 || accounted < scheduled,
        harness_client: None,
        interleaved: None,
    }
}

/// The distributed run's table: the merged figures beside the harness's own client.
pub fn print_table(d: &contract::results::Distributed) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let p = |s: &Option<contract::results::LatencyStats>,
             q: fn(&contract::results::LatencyStats) -> f64| {
        s.as_ref()
            .map_or("-".to_owned(), |s| format!("{:.0}", q(s)))
    };
    writeln!(out, "load.distributed: {}", d.headline())?;
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
    if let Some(i) = &d.interleaved {
        writeln!(out, "{}", interleaved_line(i))?;
    }
    Ok(())
}

/// The pairwise comparison in one line, as the terminal and the report print it.
pub fn interleaved_line(i: &contract::results::Interleaved) -> String {
    let pct = |r: &contract::results::RelativeDifference| {
        let ci = r.ci95.map_or(String::new(), |[lo, hi]| {
            format!(" [{:+.1}%, {:+.1}%]", lo * 100.0, hi * 100.0)
        });
        format!("{:+.1}%{ci}", r.median * 100.0)
    };
    format!(
        "taking turns in {} windows of {} s each, locust over harness per pair (median [95% \
         interval]): TTFT p50 {}, gap p99 {}; the harness's own client moved by {} (TTFT p50) \
         and {} (gap p99) from one window to the next",
        i.windows,
        i.window_s,
        pct(&i.ttft_p50),
        pct(&i.gap_p99),
        pct(&i.ttft_p50_window_to_window),
        pct(&i.gap_p99_window_to_window)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> RunShape {
        RunShape {
            target: "rust-only".into(),
            url: "http://127.0.0.1:1".into(),
            workers: 2,
            rate_rps: 10.0,
            seconds: 4.0,
            windows: 1,
        }
    }

    fn report(kind: &str, id: &str, completed: u64, ttft: &[u64]) -> Report {
        Report {
            kind: kind.into(),
            client_id: id.into(),
            scheduled: 20,
            ttft_us: ttft.to_vec(),
            gap_us: vec![10_000; ttft.len()],
            started: completed,
            completed,
            ..Report::default()
        }
    }

    #[test]
    fn samples_from_every_worker_merge_into_one_histogram() {
        // Worker a is fast, b slow: the merged median sits between, and the p99 is b's, which
        // no average of the two workers' percentiles would give.
        let reports = vec![
            report("samples", "a", 10, &[1_000; 10]),
            report("done", "a", 10, &[1_000; 10]),
            report("samples", "b", 10, &[3_000; 10]),
            report("done", "b", 10, &[9_000; 10]),
        ];
        let d = merge(&shape(), &reports);
        assert_eq!((d.workers_reported, d.lost.workers), (2, 0));
        assert!(!d.partial);
        assert_eq!(d.lost.share, 0.0);
        let ttft = d.ttft_us.unwrap();
        assert_eq!(ttft.n, 40);
        assert!((ttft.p50_us - 1_000.0).abs() < 2.0, "{}", ttft.p50_us);
        assert!((ttft.p99_us - 9_000.0).abs() < 10.0, "{}", ttft.p99_us);
    }

    #[test]
    fn a_worker_that_never_finished_is_lost_and_the_run_partial() {
        let reports = vec![
            report("samples", "a", 10, &[1_000; 10]),
            report("done", "a", 10, &[1_000; 10]),
            report("samples", "b", 5, &[2_000; 5]),
        ];
        let d = merge(&shape(), &reports);
        assert_eq!(d.scheduled, 40);
        assert_eq!((d.workers_reported, d.lost.workers), (1, 1));
        assert!(d.partial);
        assert!((d.lost.share - 15.0 / 40.0).abs() < 1e-9);
        assert_eq!(
            d.ttft_us.unwrap().n,
            25,
            "what the lost worker did report is kept"
        );
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_other_bad_lines_are_errors() {
        let good = r#"{"kind":"done","client_id":"a","scheduled":3,"completed":3}"#;
        let torn = format!("{good}\n{{\"kind\":\"sam");
        assert_eq!(parse_reports(&torn).unwrap().len(), 1);
        assert!(parse_reports(&format!("nonsense\n{good}")).is_err());
    }

    #[test]
    fn the_locustfile_carries_the_bench_directive_and_its_expected_text() {
        let f = locustfile();
        assert!(!f.contains("@DIRECTIVE@") && !f.contains("@EXPECTED@"));
        let d = client::text_directive("").render();
        assert!(f.contains(&serde_json::to_string(&d).unwrap()));
        assert!(f.contains("arena_report"));
    }
}
