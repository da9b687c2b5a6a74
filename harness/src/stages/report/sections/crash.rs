//! The crash matrix: faults down, backends across, coloured by how far each fault reached; and
//! the reader faults' figures, one row per backend and fault (docs/readers.md#reader-faults).

use contract::results::{Applicability, BlastScope, CrashOutcome, Fault, Results};

use super::super::charts::evidence::{Targets, absent};
use super::super::format::{NOT_MEASURED, figure};
use super::super::tables::{Cell, Table};
use super::{Body, header};

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
                .filter(|o| {
                    o.blast_radius
                        .as_ref()
                        .is_some_and(|r| matches!(r.scope, BlastScope::Runtime | BlastScope::Process))
                })
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
        tables: std::iter::once(Table {
            header: header("Fault", &t.backends),
            rows,
        })
        .chain(readers(results, &t.backends))
        .collect(),
        items,
        after: Vec::new(),
    }
}

fn crash_cell(o: &CrashOutcome) -> Cell {
    let unmeasured = match o.applicability {
        Applicability::Measured => None,
        Applicability::NotApplicable => Some("not applicable"),
        Applicability::NotMeasured => Some(NOT_MEASURED),
    };
    if let Some(text) = unmeasured {
        return Cell {
            text: text.into(),
            class: Some("nm"),
            detail: o.note.clone(),
            ..Cell::default()
        };
    }
    if o.reader_streams.is_some() {
        return reader_cell(o);
    }
    let mut parts = Vec::new();
    match o.survived {
        Some(true) => parts.push("survived".to_owned()),
        Some(false) => parts.push("died".to_owned()),
        None => {}
    }
    if let Some(r) = &o.blast_radius {
        parts.push(format!(
            "radius: {}, {} of {} others failed",
            scope_name(r.scope),
            r.bystanders_failed,
            r.bystanders
        ));
    }
    let class = match (o.survived, o.blast_radius.as_ref().map(|r| r.scope)) {
        (Some(false), _) | (_, Some(BlastScope::Process)) => Some("bad"),
        (_, Some(BlastScope::None | BlastScope::Request)) => Some("ok"),
        (_, Some(BlastScope::Runtime)) => Some("warn"),
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

/// A reader fault: memory per affected stream, whether the provider was held back, whether
/// memory was still growing (red: no bound), and what the healthy streams felt.
fn reader_cell(o: &CrashOutcome) -> Cell {
    let mut parts = Vec::new();
    if let Some(b) = o.peak_growth_bytes_per_stream {
        parts.push(format!("+{} per stream", figure(b / 1e3, "KB")));
    }
    match o.provider_throttled {
        Some(true) => parts.push("provider held back".to_owned()),
        Some(false) => parts.push("provider not held back".to_owned()),
        None => {}
    }
    if o.memory_still_growing == Some(true) {
        parts.push("still growing".to_owned());
    }
    if o.survived == Some(false) {
        parts.push("stopped serving".to_owned());
    }
    let class = match (o.survived, o.memory_still_growing, o.provider_throttled) {
        (Some(false), _, _) | (_, Some(true), _) => Some("bad"),
        (_, Some(false), Some(true)) => Some("ok"),
        _ => Some("warn"),
    };
    let change = o
        .healthy_overhead_change_us
        .map(|c| match o.healthy_overhead_change_ci95_us {
            Some([lo, hi]) => format!("healthy streams' transit {c:+.0} µs [{lo:+.0}, {hi:+.0}]"),
            None => format!("healthy streams' transit {c:+.0} µs"),
        });
    Cell {
        text: parts.join(", "),
        detail: Some(
            [change, o.note.clone()]
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

/// The reader faults' figures: a row per backend and reader fault it measured; `None` when no
/// backend measured one.
fn readers(results: &Results, backends: &[String]) -> Option<Table> {
    let faults = Fault::ALL.into_iter().filter(|f| f.is_reader_fault());
    let mut rows = Vec::new();
    for fault in faults {
        for b in backends {
            let Some(o) = results
                .backends
                .get(b)
                .and_then(|r| r.crash.get(fault.name()))
                .filter(|o| o.reader_streams.is_some())
            else {
                continue;
            };
            let change = o.healthy_overhead_change_us.map(|c| {
                let ms = |v: f64| v / 1e3;
                match o.healthy_overhead_change_ci95_us {
                    Some([lo, hi]) => {
                        format!("{:+.1} ms [{:+.1}, {:+.1}]", ms(c), ms(lo), ms(hi))
                    }
                    None => format!("{:+.1} ms", ms(c)),
                }
            });
            let yes_no = |v: Option<bool>| match v {
                Some(true) => "yes",
                Some(false) => "no",
                None => "—",
            };
            rows.push(vec![
                Cell::plain(fault.name()),
                Cell::plain(b.as_str()),
                Cell::plain(o.reader_streams.map_or("—".into(), |n| n.to_string())),
                Cell::plain(
                    o.peak_growth_bytes_per_stream
                        .map_or("—".into(), |v| figure(v / 1e3, "KB")),
                ),
                Cell::plain(
                    o.provider_sent_fraction
                        .map_or("—".into(), |v| figure(v * 100.0, "%")),
                ),
                Cell::plain(yes_no(o.provider_throttled)),
                Cell::plain(yes_no(o.memory_still_growing)),
                Cell::plain(change.unwrap_or_else(|| "—".into())),
                Cell::plain(yes_no(o.survived)),
            ]);
        }
    }
    (!rows.is_empty()).then(|| Table {
        header: [
            "Reader fault",
            "Backend",
            "Streams",
            "Peak growth per stream",
            "Provider sent",
            "Provider held back",
            "Still growing",
            "Healthy transit change [95%]",
            "Survived",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    })
}

fn scope_name(scope: BlastScope) -> &'static str {
    match scope {
        BlastScope::None => "none",
        BlastScope::Request => "request",
        BlastScope::Runtime => "runtime",
        BlastScope::Process => "process",
    }
}
