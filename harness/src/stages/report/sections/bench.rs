//! The bench's evidence tables: every load point, and the calibration (the transports' floors,
//! each backend's IPC overhead against them, the self-check).

use contract::results::{LoadMode, Proof, Results};

use super::super::charts::evidence::{Targets, absent};
use super::super::format::{figure, interval, num, times};
use super::super::tables::{Cell, Table};
use super::{Body, opt};
use contract::results::stages;

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
            after: vec![absent(results, stages::BENCH)],
            ..Body::default()
        };
    }
    Body {
        before: vec![
            "Open loop: the rates the saturation search tried, conversations evenly spaced, \
                      each figure the median of at least 3 repeats over their steady windows; \
                      latency counts from the scheduled start (coordinated omission corrected); \
                      closed loop: a fixed number of conversations at once."
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
        if let Some(table) = proofs(&bench.proofs) {
            body.tables.push(table);
        }
    }
    if body.tables.is_empty() {
        body.after.push(absent(results, stages::BENCH));
    }
    body
}

/// The load method's proofs as this run read them (`harness bench --proofs`,
/// docs/bench.md#proofs): what must hold, what was measured, and the verdict; a proof the run
/// could not decide says so rather than passing.
fn proofs(proofs: &[Proof]) -> Option<Table> {
    if proofs.is_empty() {
        return None;
    }
    let rows = proofs
        .iter()
        .map(|p| {
            let (verdict, class) = match p.holds {
                Some(true) => ("holds", Some("ok")),
                Some(false) => ("fails", Some("bad")),
                None => ("undecided", None),
            };
            let verdict = Cell {
                class,
                ..Cell::plain(verdict)
            };
            vec![
                Cell::plain(&p.requirement),
                Cell::plain(&p.measured),
                verdict,
            ]
        })
        .collect();
    Some(Table {
        header: [
            "Proof of the load method",
            "Measured in this run",
            "Verdict",
        ]
        .iter()
        .map(|h| (*h).to_owned())
        .collect(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(name: &str, holds: Option<bool>) -> Proof {
        Proof {
            name: name.into(),
            requirement: format!("{name} must hold"),
            measured: "read".into(),
            holds,
        }
    }

    #[test]
    fn an_undecided_proof_is_shown_as_undecided_never_as_holding() {
        let table = proofs(&[
            proof("idle-zero", Some(true)),
            proof("relay-near-direct", Some(false)),
            proof("aa-overlap", None),
        ])
        .unwrap();
        let verdicts: Vec<(&str, Option<&str>)> = table
            .rows
            .iter()
            .map(|r| (r[2].text.as_str(), r[2].class))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("holds", Some("ok")),
                ("fails", Some("bad")),
                ("undecided", None)
            ]
        );
        assert!(proofs(&[]).is_none());
    }
}
