//! How each architecture's figures move with the JavaScript runtime, in a run with
//! `--runtimes` (docs/design.md#runtimes): one table per architecture, a row per runtime, and
//! the order of the architectures on each runtime. The decision matrix stays on the default
//! stack; this section is the note on what the other runtimes would change.

use contract::results::{Applicability, BackendResults, CrashOutcome, Results, stages};
use contract::runtime::{self, RUNTIMES};

use super::{Body, opt};
use crate::stages::report::format::{NOT_MEASURED, figure, interval};
use crate::stages::report::tables::{Cell, Table};

/// `None` when the run measured no target beyond the default stack's runtime.
pub fn runtimes(results: &Results) -> Option<Body> {
    let others: Vec<&str> = RUNTIMES
        .iter()
        .map(|r| r.name)
        .filter(|n| *n != runtime::DEFAULT_RUNTIME && results.run.runtimes.contains_key(*n))
        .collect();
    if others.is_empty() {
        return None;
    }
    let axis: Vec<&str> = std::iter::once(runtime::DEFAULT_RUNTIME)
        .chain(others.iter().copied())
        .collect();
    let mut bases: Vec<&str> = results
        .backends
        .keys()
        .filter_map(|name| match runtime::split_target(name) {
            (base, Some(_)) => Some(base),
            _ => None,
        })
        .collect();
    bases.sort_unstable();
    bases.dedup();
    let mut body = Body::default();
    let load = results.bench.as_ref().map(|b| &b.noise);
    body.before.push(format!(
        "Each architecture that runs JavaScript on each runtime of the run, measured in the same \
         interleaved rounds as the default stack ({}); the decision matrix above is computed on \
         the default stack alone. Chunk overhead is the target's chunk transit minus the direct \
         path's, median of per-round differences with its 95% interval. Load average (1 min) \
         during the bench: {} at its start, {} at its end.",
        runtime::DEFAULT_RUNTIME,
        opt(load.and_then(|n| n.load_avg_start), ""),
        opt(load.and_then(|n| n.load_avg_end), ""),
    ));
    for (name, info) in &results.run.runtimes {
        if let Some(error) = &info.error {
            body.items.push(format!("{name} was not measured: {error}"));
        }
    }
    // The crash and soak columns appear once either stage measured a target of the axis: a run
    // of the bench and start stages alone keeps the table it had.
    let on_axis = |pick: fn(&BackendResults) -> bool| {
        results
            .backends
            .iter()
            .any(|(name, b)| runtime::split_target(name).1.is_some() && pick(b))
    };
    let with_crash = on_axis(|b| !b.crash.is_empty());
    let with_soak = on_axis(|b| b.soak.is_some());
    for base in &bases {
        let rows = axis
            .iter()
            .map(|rt| {
                let name = runtime::target_name(base, rt);
                let b = results.backends.get(&name);
                let mut cells = row(results, &name, rt, b);
                if with_crash {
                    cells.push(b.map_or_else(|| Cell::plain("—"), crash_cell));
                }
                if with_soak {
                    cells.push(b.map_or_else(|| Cell::plain("—"), soak_cell));
                }
                cells
            })
            .collect();
        let mut header: Vec<String> = [
            base,
            "Runtime",
            "Conformance",
            "TTFT p50",
            "Chunk overhead p50",
            "CPU per chunk at load",
            "Memory idle (RSS)",
            "Cold start (ready)",
            "Deployable size",
        ]
        .map(str::to_owned)
        .to_vec();
        if with_crash {
            header.push("Crash: faults survived".to_owned());
        }
        if with_soak {
            header.push("Soak: RSS growth".to_owned());
        }
        body.tables.push(Table { header, rows });
    }
    for rt in &axis {
        body.items.push(ranking(results, rt));
    }
    Some(body)
}

fn row(results: &Results, name: &str, rt: &str, b: Option<&BackendResults>) -> Vec<Cell> {
    let version = results
        .run
        .runtimes
        .get(rt)
        .and_then(|r| r.version.clone())
        .unwrap_or_default();
    let mut cells = vec![
        Cell::plain(name),
        Cell::plain(format!("{rt} {version}").trim().to_owned()),
    ];
    let Some(b) = b else {
        cells.push(Cell::plain("not run"));
        cells.extend((0..6).map(|_| Cell::plain("—")));
        return cells;
    };
    let verdict = match (&b.conformance, b.skipped.first()) {
        (Some(c), _) if c.is_verified() => Cell::plain(format!("passed {}", c.passed)),
        (Some(c), _) => {
            let first = c
                .cases
                .iter()
                .find(|c| c.outcome == contract::results::Outcome::Failed);
            Cell {
                text: format!("failed {} of {}", c.failed, c.passed + c.failed),
                detail: first
                    .map(|f| format!("{}: {}", f.scenario, f.reason.as_deref().unwrap_or(""))),
                class: Some("bad"),
                note: None,
            }
        }
        (None, Some(skip)) => Cell {
            text: format!("skipped ({})", skip.stage),
            detail: Some(skip.reason.clone()),
            class: Some("bad"),
            note: None,
        },
        // The references (`aisdk-node@bun`) are not played the suite.
        (None, None) => Cell::plain("—"),
    };
    cells.push(verdict);
    cells.push(Cell::plain(opt(
        b.latency.ttft.as_ref().map(|s| s.p50_us),
        "µs",
    )));
    let overhead = b.latency.chunk_transit.as_ref().and_then(|s| {
        Some(Cell {
            text: figure(s.overhead_p50_us?, "µs"),
            detail: s.overhead_p50_ci95_us.map(|ci| interval(ci, "µs")),
            ..Cell::default()
        })
    });
    cells.push(overhead.unwrap_or_else(|| Cell::plain("—")));
    cells.push(Cell::plain(opt(
        b.cpu_at_load.as_ref().map(|c| c.us_per_chunk),
        "µs",
    )));
    let megabytes = |bytes: Option<u64>| opt(bytes.map(|v| v as f64 / 1e6), "MB");
    cells.push(Cell::plain(megabytes(
        b.memory.as_ref().and_then(|m| m.rss_idle_bytes),
    )));
    cells.push(Cell::plain(opt(b.cold_start_ms, "ms")));
    cells.push(Cell::plain(megabytes(
        b.size.as_ref().and_then(|s| s.deploy_bytes),
    )));
    cells
}

/// How many of the faults measured on the target its server survived; the detail names those
/// it did not (the crash matrix above shows the default stack's in full).
fn crash_cell(b: &BackendResults) -> Cell {
    let measured: Vec<(&String, &CrashOutcome)> = b
        .crash
        .iter()
        .filter(|(_, o)| o.applicability == Applicability::Measured)
        .collect();
    if measured.is_empty() {
        return Cell::plain("—");
    }
    let died: Vec<&str> = measured
        .iter()
        .filter(|(_, o)| o.survived == Some(false))
        .map(|(fault, _)| fault.as_str())
        .collect();
    let survived = measured
        .iter()
        .filter(|(_, o)| o.survived == Some(true))
        .count();
    Cell {
        text: format!("{survived} of {}", measured.len()),
        detail: (!died.is_empty()).then(|| format!("died: {}", died.join(", "))),
        class: (!died.is_empty()).then_some("bad"),
        note: None,
    }
}

/// The soak's resident-set slope with its interval, and its verdict when it failed.
fn soak_cell(b: &BackendResults) -> Cell {
    let Some(s) = &b.soak else {
        return Cell::plain("—");
    };
    let slope = s
        .rss_slope_mb_per_h
        .map_or_else(|| NOT_MEASURED.to_owned(), |v| figure(v, "MB/h"));
    let ci = s.rss_slope_ci95_mb_per_h.map(|ci| interval(ci, "MB/h"));
    Cell {
        text: if s.passed {
            slope
        } else {
            format!("failed: {slope}")
        },
        detail: Some(match ci {
            Some(ci) => format!("{ci}; {}", s.verdict),
            None => s.verdict.clone(),
        }),
        class: (!s.passed).then_some("bad"),
        note: None,
    }
}

/// The architectures measured on `rt`, lowest chunk overhead p50 first.
fn ranking(results: &Results, rt: &str) -> String {
    let mut measured: Vec<(&str, f64)> = results
        .backends
        .iter()
        .filter(|(name, _)| !stages::is_reference(name))
        .filter_map(|(name, b)| match runtime::split_target(name) {
            (base, r) if r.unwrap_or(runtime::DEFAULT_RUNTIME) == rt && !base.contains('+') => {
                Some((base, b.latency.chunk_transit.as_ref()?.overhead_p50_us?))
            }
            _ => None,
        })
        .collect();
    measured.sort_by(|a, b| a.1.total_cmp(&b.1));
    if measured.is_empty() {
        return format!("On {rt}: no architecture measured.");
    }
    let order: Vec<String> = measured
        .iter()
        .map(|(b, v)| format!("{b} ({})", figure(*v, "µs")))
        .collect();
    format!("On {rt}, by chunk overhead p50: {}.", order.join(" < "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::{Latency, LatencyStats, RuntimeInfo};

    fn stats(p50: f64, overhead: f64) -> LatencyStats {
        LatencyStats {
            overhead_p50_us: Some(overhead),
            overhead_p50_ci95_us: Some([overhead - 1.0, overhead + 1.0]),
            ..LatencyStats::from_percentiles(10, p50, p50, p50, p50, p50)
        }
    }

    fn results() -> Results {
        let mut r: Results = serde_json::from_value(serde_json::json!({
            "schema_version": contract::results::SCHEMA_VERSION,
            "run": {"id": "x", "git_sha": "x", "started_at": "x", "profile": "release",
                    "machine": {}, "versions": {}},
            "backends": {}
        }))
        .unwrap();
        for (name, overhead) in [("unix", 200.0), ("napi", 100.0), ("unix@bun", 50.0)] {
            r.backend_mut(name).latency = Latency {
                chunk_transit: Some(stats(1000.0, overhead)),
                ..Latency::default()
            };
        }
        r.backend_mut("napi@bun")
            .skipped
            .push(contract::results::StageSkip {
                stage: "conformance".into(),
                reason: "no Node-API here".into(),
            });
        r
    }

    /// The fixture with Bun installed as a second runtime.
    fn with_bun(mut r: Results) -> Results {
        r.run.runtimes.insert(
            "bun".into(),
            RuntimeInfo {
                version: Some("1.4.5".into()),
                source: "@oven/bun-linux-x64@1.4.5".into(),
                default: false,
                error: None,
                sdk: Default::default(),
            },
        );
        r
    }

    #[test]
    fn absent_without_a_second_runtime() {
        assert!(runtimes(&results()).is_none());
    }

    #[test]
    fn a_table_per_architecture_and_the_order_on_each_runtime() {
        let r = with_bun(results());
        let body = runtimes(&r).unwrap();
        let heads: Vec<&str> = body.tables.iter().map(|t| t.header[0].as_str()).collect();
        assert_eq!(heads, ["napi", "unix"]);
        let napi_bun = &body.tables[0].rows[1];
        assert_eq!(napi_bun[0].text, "napi@bun");
        assert_eq!(napi_bun[2].detail.as_deref(), Some("no Node-API here"));
        assert_eq!(body.tables[1].rows[1][4].text, "50 µs");
        assert!(body.items.contains(
            &"On node26, by chunk overhead p50: napi (100 µs) < unix (200 µs).".to_owned()
        ));
        assert!(
            body.items
                .contains(&"On bun, by chunk overhead p50: unix (50 µs).".to_owned())
        );
    }

    #[test]
    fn the_deployable_size_of_each_target() {
        let mut r = with_bun(results());
        r.backend_mut("unix@bun").size = Some(contract::results::Size {
            deploy_bytes: Some(112_300_000),
            ..Default::default()
        });
        let body = runtimes(&r).unwrap();
        let unix = &body.tables[1];
        assert_eq!(unix.header[8], "Deployable size");
        assert_eq!(unix.rows[1][8].text, "112 MB");
        assert_eq!(unix.rows[0][8].text, "—", "not sized in this run");
    }

    #[test]
    fn crash_and_soak_columns_only_once_measured_on_the_axis() {
        let mut r = with_bun(results());
        assert_eq!(runtimes(&r).unwrap().tables[0].header.len(), 9);
        let outcome = |survived| -> CrashOutcome {
            serde_json::from_value(serde_json::json!({
                "applicability": "measured", "survived": survived
            }))
            .unwrap()
        };
        let unix_bun = r.backend_mut("unix@bun");
        unix_bun.crash.insert("kill-runtime".into(), outcome(false));
        unix_bun.crash.insert("drop-chat".into(), outcome(true));
        let body = runtimes(&r).unwrap();
        let unix = &body.tables[1];
        assert_eq!(unix.header.len(), 10);
        assert_eq!(unix.rows[1][9].text, "1 of 2");
        assert_eq!(
            unix.rows[1][9].detail.as_deref(),
            Some("died: kill-runtime")
        );
        assert_eq!(
            unix.rows[0][9].text, "—",
            "the default stack's row, not crashed here"
        );
    }
}
