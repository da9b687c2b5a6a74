//! The report's evidence tables and lists beyond the charts: the crash matrix, the load
//! points, the calibration, conformance, the star thresholds, and the run itself.

use contract::results::{CrashOutcome, LoadMode, Matrix, Outcome, Results};

use super::charts::evidence::{Targets, absent};
use super::format::{NOT_MEASURED, and_list, figure, interval, num, times};
use super::tables::{Cell, Table};

/// A section's content: paragraphs, tables, a list, and closing notes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    pub before: Vec<String>,
    pub tables: Vec<Table>,
    pub items: Vec<String>,
    pub after: Vec<String>,
}

fn header(first: &str, backends: &[String]) -> Vec<String> {
    std::iter::once(first.to_owned())
        .chain(backends.iter().cloned())
        .collect()
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("—".to_owned(), |v| figure(v, unit))
}

/// Faults down, backends across; green: only the request that met the fault was lost, amber:
/// more than that but the server lived, red: the server died.
pub fn crash(results: &Results) -> Body {
    let t = Targets::of(results);
    let mut faults: Vec<&String> = Vec::new();
    for b in &t.backends {
        for fault in results
            .backends
            .get(b)
            .map(|r| r.crash.keys())
            .into_iter()
            .flatten()
        {
            if !faults.contains(&fault) {
                faults.push(fault);
            }
        }
    }
    if faults.is_empty() {
        return Body {
            after: vec![absent(results, "crash")],
            ..Body::default()
        };
    }
    let rows = faults
        .iter()
        .map(|fault| {
            let mut row = vec![Cell::plain(fault.as_str())];
            row.extend(t.backends.iter().map(|b| {
                match results.backends.get(b).and_then(|r| r.crash.get(*fault)) {
                    Some(o) => crash_cell(o),
                    None => Cell {
                        text: NOT_MEASURED.into(),
                        class: Some("nm"),
                        ..Cell::default()
                    },
                }
            }));
            row
        })
        .collect();
    let items = t
        .backends
        .iter()
        .filter_map(|b| {
            let crash = &results.backends.get(b)?.crash;
            if crash.is_empty() {
                return None;
            }
            let survived = crash.values().filter(|o| o.survived == Some(true)).count();
            let beyond = crash
                .values()
                .filter(|o| o.blast_radius.as_deref().is_some_and(|r| r != "request" && r != "none"))
                .count();
            Some(format!(
                "{b} survived {survived} of {} faults; {beyond} reached beyond the request that met them.",
                crash.len()
            ))
        })
        .collect();
    Body {
        before: vec![
            "Each fault injected while conversations stream. Green: only the request \
                      that met the fault was affected; amber: more than that, but the server \
                      kept serving; red: the server died."
                .into(),
        ],
        tables: vec![Table {
            header: header("Fault", &t.backends),
            rows,
        }],
        items,
        after: Vec::new(),
    }
}

fn crash_cell(o: &CrashOutcome) -> Cell {
    let mut parts = Vec::new();
    match o.survived {
        Some(true) => parts.push("survived".to_owned()),
        Some(false) => parts.push("died".to_owned()),
        None => {}
    }
    if let Some(r) = &o.blast_radius {
        parts.push(format!("radius: {r}"));
    }
    let class = match (o.survived, o.blast_radius.as_deref()) {
        (Some(false), _) => Some("bad"),
        (_, Some("request" | "none")) => Some("ok"),
        (_, Some(_)) => Some("warn"),
        _ => None,
    };
    let statuses: Vec<String> = o.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
    Cell {
        text: if parts.is_empty() {
            "recorded".to_owned()
        } else {
            parts.join(", ")
        },
        detail: Some(
            [
                o.recovery_ms
                    .map(|ms| format!("recovered in {}", figure(ms, "ms"))),
                (!statuses.is_empty()).then(|| statuses.join(" ")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; "),
        )
        .filter(|d| !d.is_empty()),
        class,
        note: None,
    }
}

/// Every load point, as the bench recorded it.
pub fn load_points(results: &Results) -> Body {
    let t = Targets::of(results);
    let header = [
        "Backend",
        "Mode",
        "Target",
        "Achieved conv/s",
        "Chunks/s",
        "Overhead p50",
        "Overhead p99",
        "TTFT p99",
        "Errors",
        "Lost / reordered",
        "Mock late p99",
        "Client lag p99",
        "Generator",
    ];
    let rows: Vec<Vec<Cell>> = t
        .backends
        .iter()
        .flat_map(|b| {
            let points = results
                .backends
                .get(b)
                .map(|r| r.load.as_slice())
                .unwrap_or_default();
            points.iter().map(move |p| {
                let mode = match p.mode {
                    LoadMode::Open => "open",
                    LoadMode::Closed => "closed",
                };
                let target = match p.mode {
                    LoadMode::Open => format!("{} conv/s", num(p.target)),
                    LoadMode::Closed => format!("{} at once", num(p.target)),
                };
                let generator = if p.generator_behind {
                    "fell behind"
                } else {
                    "kept up"
                };
                [
                    b.clone(),
                    mode.into(),
                    target,
                    num(p.achieved),
                    num(p.chunks_per_s),
                    opt(p.chunk_overhead_p50_us, "µs"),
                    opt(p.chunk_overhead_p99_us, "µs"),
                    opt(p.ttft_p99_us, "µs"),
                    p.errors.to_string(),
                    format!("{} / {}", p.lost_chunks, p.reordered_chunks),
                    opt(p.mock_lateness_p99_us, "µs"),
                    opt(p.client_lag_p99_us, "µs"),
                    generator.into(),
                ]
                .into_iter()
                .map(Cell::plain)
                .collect()
            })
        })
        .collect();
    if rows.is_empty() {
        return Body {
            after: vec![absent(results, "bench")],
            ..Body::default()
        };
    }
    Body {
        before: vec![
            "Open loop: conversations start on a Poisson schedule and latency counts from \
                      the scheduled start (coordinated omission corrected); closed loop: a fixed \
                      number of conversations at once."
                .into(),
        ],
        tables: vec![Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows,
        }],
        ..Body::default()
    }
}

/// The transports' own round trips, each backend's IPC overhead against them, and the
/// measurement self-check.
pub fn calibration(results: &Results) -> Body {
    let t = Targets::of(results);
    let mut body = Body::default();
    if let Some(c) = &results.calibration {
        let rtt = |name: &str, v: Option<contract::results::P50P99>| {
            vec![
                Cell::plain(name),
                Cell::plain(opt(v.map(|r| r.p50), "µs")),
                Cell::plain(opt(v.map(|r| r.p99), "µs")),
            ]
        };
        let napi = c
            .napi_call_ns
            .map(|ns| figure(ns, "ns"))
            .unwrap_or_else(|| "—".into());
        body.tables.push(Table {
            header: vec!["Floor".into(), "p50".into(), "p99".into()],
            rows: vec![
                rtt("Unix socket round trip", c.uds_rtt_us),
                rtt("Loopback TCP round trip", c.tcp_rtt_us),
                vec![
                    Cell::plain("One napi call (JS → Rust)"),
                    Cell::plain(napi),
                    Cell::plain("—"),
                ],
            ],
        });
    }
    let rows: Vec<Vec<Cell>> = t
        .backends
        .iter()
        .filter_map(|b| {
            let s = results.backends.get(b)?.latency.chunk_transit.as_ref()?;
            let ipc = s.ipc_overhead_p50_us?;
            let ci = s
                .ipc_overhead_p50_ci95_us
                .map(|ci| format!(" ({})", interval(ci, "µs")))
                .unwrap_or_default();
            Some(vec![
                Cell::plain(b),
                Cell::plain(s.ipc_reference.clone().unwrap_or_else(|| "—".into())),
                Cell::plain(format!("{}{ci}", figure(ipc, "µs"))),
                Cell::plain(s.ipc_floor_multiple.map_or("—".to_owned(), times)),
            ])
        })
        .collect();
    if !rows.is_empty() {
        body.tables.push(Table {
            header: [
                "Backend",
                "In-process equivalent",
                "IPC overhead per chunk, p50 (95% CI)",
                "× its floor",
            ]
            .iter()
            .map(|h| (*h).to_owned())
            .collect(),
            rows,
        });
    }
    if let Some(bench) = &results.bench {
        body.items = bench
            .self_check
            .iter()
            .map(|c| {
                format!(
                    "Self-check: {} injected into {} read back as {} (95% CI {}), {} the stated tolerance.",
                    figure(c.injected_us, "µs"),
                    c.backend,
                    figure(c.measured_us, "µs"),
                    interval(c.ci95_us, "µs"),
                    if c.within_tolerance { "within" } else { "OUTSIDE" }
                )
            })
            .collect();
    }
    if body.tables.is_empty() {
        body.after.push(absent(results, "bench"));
    }
    body
}

pub fn conformance(results: &Results) -> Body {
    let t = Targets::of(results);
    let rows: Vec<Vec<Cell>> = t
        .backends
        .iter()
        .filter_map(|b| {
            let c = results.backends.get(b)?.conformance.as_ref()?;
            let class = if c.is_verified() { "ok" } else { "bad" };
            Some(vec![
                Cell::plain(b),
                Cell {
                    text: c.passed.to_string(),
                    class: Some(class),
                    ..Cell::default()
                },
                Cell::plain(c.failed.to_string()),
                Cell::plain(c.unsupported.to_string()),
            ])
        })
        .collect();
    if rows.is_empty() {
        return Body {
            after: vec![absent(results, "conformance")],
            ..Body::default()
        };
    }
    let items = t
        .backends
        .iter()
        .flat_map(|b| {
            let cases = results
                .backends
                .get(b)
                .and_then(|r| r.conformance.as_ref())
                .map(|c| c.cases.as_slice());
            cases
                .unwrap_or_default()
                .iter()
                .filter(|c| c.outcome != Outcome::Ok)
                .map(move |c| {
                    format!(
                        "{} {b} {}: {}",
                        c.outcome.as_str(),
                        c.scenario,
                        c.reason.as_deref().unwrap_or("")
                    )
                })
        })
        .collect();
    Body {
        before: vec!["Later stages measure only backends that passed every case.".into()],
        tables: vec![Table {
            header: ["Backend", "Passed", "Failed", "Unsupported"]
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
            rows,
        }],
        items,
        after: Vec::new(),
    }
}

/// Each starred row's figure, thresholds, weight and the reasons for them.
pub fn method(m: &Matrix) -> Body {
    let rows = m
        .rows
        .iter()
        .filter_map(|r| {
            let s = r.scoring.as_ref()?;
            let at: Vec<String> =
                s.at.iter()
                    .map(|v| {
                        if s.relative_to_best {
                            times(*v)
                        } else {
                            figure(*v, &r.unit)
                        }
                    })
                    .collect();
            let way = if s.lower_is_better {
                "at most"
            } else {
                "at least"
            };
            let of = if s.relative_to_best { " the best" } else { "" };
            Some(vec![
                Cell::plain(&r.criterion),
                Cell {
                    text: r.metric.clone().unwrap_or_default(),
                    detail: r.metric_why.clone(),
                    ..Cell::default()
                },
                Cell::plain(format!(
                    "2★ {way} {}{of}, 3★ {}, 4★ {}, 5★ {}",
                    at[0], at[1], at[2], at[3]
                )),
                Cell {
                    text: r.weight.map_or("—".into(), num),
                    detail: Some(s.why_weight.clone()),
                    ..Cell::default()
                },
                Cell::plain(&s.why_thresholds),
            ])
        })
        .collect();
    Body {
        before: vec![format!(
            "From {}. A row counts towards the totals when every backend in the race has its \
             figure; totals are the weighted sums of stars. The method: docs/report.md.",
            m.config
        )],
        tables: vec![Table {
            header: [
                "Criterion",
                "Figure (path in results.json)",
                "Thresholds",
                "Weight",
                "Why these thresholds",
            ]
            .iter()
            .map(|h| (*h).to_owned())
            .collect(),
            rows,
        }],
        ..Body::default()
    }
}

/// Machine, versions, noise, what was skipped and what was reused.
pub fn run(results: &Results) -> Body {
    let r = &results.run;
    let v = &r.versions;
    let m = &r.machine;
    let unknown = || "unknown".to_owned();
    let mut facts = vec![
        ("Run", r.id.clone()),
        ("Commit", r.git_sha.clone()),
        ("Started", r.started_at.clone()),
        ("Profile", r.profile.clone()),
        ("CPU", m.cpu.clone().unwrap_or_else(unknown)),
        ("Cores", m.cores.map_or_else(unknown, |c| c.to_string())),
        (
            "Memory",
            m.mem_gib
                .map_or_else(unknown, |g| format!("{} GiB", num(g))),
        ),
        ("Kernel", m.kernel.clone().unwrap_or_else(unknown)),
        ("rustc", v.rustc.clone().unwrap_or_else(unknown)),
        ("Node.js", v.node.clone().unwrap_or_else(unknown)),
        ("ai (npm)", v.ai.clone().unwrap_or_else(unknown)),
        ("napi (crate)", v.napi.clone().unwrap_or_else(unknown)),
        (
            "async-openai",
            v.async_openai.clone().unwrap_or_else(unknown),
        ),
    ];
    let mut items = Vec::new();
    match &results.bench {
        Some(b) => {
            let s = &b.settings;
            facts.push((
                "Bench workload",
                format!(
                    "{} rounds × {} conversations per target, scenario {} ({} chunks, {} ms to the first, {} ms apart){}; {} s",
                    s.rounds, s.requests_per_round, s.scenario, s.chunks, s.ttft_ms, s.gap_ms,
                    if s.quick { ", quick" } else { "" },
                    num(b.wall_s)
                ),
            ));
            let n = &b.noise;
            items.push(match n.mock_lateness_us {
                Some(l) => format!(
                    "The mock sent its chunks late by {} at p50 and {} at p99.",
                    figure(l.p50, "µs"),
                    figure(l.p99, "µs")
                ),
                None => "The mock's lateness was not recorded.".to_owned(),
            });
            if let (Some(a), Some(z)) = (n.load_avg_start, n.load_avg_end) {
                items.push(format!(
                    "Load average {} when the bench began, {} when it ended.",
                    num(a),
                    num(z)
                ));
            }
            if let Some(spread) = n.direct_round_spread {
                items.push(format!(
                    "The direct path's median moved by {} between its fastest and slowest round (1× on a quiet machine).",
                    times(spread)
                ));
            }
            let lag = results
                .backends
                .values()
                .flat_map(|b| &b.load)
                .filter_map(|p| p.client_lag_p99_us)
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
            if let Some(lag) = lag {
                items.push(format!("The load client started conversations up to {} late at p99 (worst load point).", figure(lag, "µs")));
            }
        }
        None => items
            .push("The bench stage did not run, so the machine's noise was not recorded.".into()),
    }
    for (b, entry) in &results.backends {
        for s in &entry.skipped {
            items.push(format!(
                "Skipped: {b} in the {} stage: {}.",
                s.stage, s.reason
            ));
        }
    }
    let reused = reused(results);
    if reused.is_empty() {
        items.push(
            "Every figure was measured in this run; none was reused from an earlier one.".into(),
        );
    } else {
        items.push(format!("Reused from earlier runs: {}.", and_list(&reused)));
    }
    Body {
        tables: vec![Table {
            header: vec!["".into(), "".into()],
            rows: facts
                .into_iter()
                .map(|(k, v)| vec![Cell::plain(k), Cell::plain(v)])
                .collect(),
        }],
        items,
        ..Body::default()
    }
}

/// Every figure results.json marks as reused from an earlier run: any `reused_from` field,
/// named by where it sits.
fn reused(results: &Results) -> Vec<String> {
    fn walk(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("reused_from", serde_json::Value::String(run)) => {
                            out.push(format!("{path} (run {run})"))
                        }
                        _ => walk(
                            v,
                            &if path.is_empty() {
                                k.clone()
                            } else {
                                format!("{path}.{k}")
                            },
                            out,
                        ),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(json) = serde_json::to_value(results) {
        walk(&json, "", &mut out);
    }
    out
}
