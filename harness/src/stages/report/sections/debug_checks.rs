//! Every debug check of the evidence stage per backend: one row per check (a seeded failure's
//! two, then the backend's own), the verdict in each backend's column with what was seen under
//! it (docs/report.md#debug-experience).

use contract::results::{DebugCheck, Results, Verdict};

use super::super::tables::{Cell, Table};
use super::header;

/// How much of a check's detail a cell shows; results.json keeps all of it.
const DETAIL_SHOWN: usize = 160;

/// The table, or `None` when no backend has debug evidence.
pub fn table(backends: &[String], results: &Results) -> Option<Table> {
    let per_backend: Vec<Vec<(String, &DebugCheck)>> = backends
        .iter()
        .map(|b| {
            let Some(d) = results
                .backends
                .get(b)
                .and_then(|r| r.evidence.debug.as_ref())
            else {
                return Vec::new();
            };
            let failures = d.failures.iter().flat_map(|f| {
                f.checks
                    .iter()
                    .map(move |c| (format!("{}: {}", f.failure, c.check), c))
            });
            failures
                .chain(d.checks.iter().map(|c| (c.check.clone(), c)))
                .collect()
        })
        .collect();
    if per_backend.iter().all(Vec::is_empty) {
        return None;
    }
    let mut labels: Vec<String> = Vec::new();
    for (label, _) in per_backend.iter().flatten() {
        if !labels.contains(label) {
            labels.push(label.clone());
        }
    }
    let rows = labels
        .iter()
        .map(|label| {
            let mut row = vec![Cell::plain(label.clone())];
            row.extend(per_backend.iter().map(|checks| {
                let found: Vec<&DebugCheck> = checks
                    .iter()
                    .filter(|(l, _)| l == label)
                    .map(|(_, c)| *c)
                    .collect();
                cell(&found)
            }));
            row
        })
        .collect();
    Some(Table {
        header: header("Debug check", backends),
        rows,
    })
}

/// One backend's checks under one label (a label can repeat: one replay per hop found).
fn cell(checks: &[&DebugCheck]) -> Cell {
    if checks.is_empty() {
        return Cell::plain("—");
    }
    let word = |v: Verdict| match v {
        Verdict::Met => "met",
        Verdict::Failed => "FAILED",
        Verdict::NotApplicable => "n/a",
    };
    let text: Vec<&str> = checks.iter().map(|c| word(c.verdict)).collect();
    let detail: Vec<String> = checks.iter().map(|c| shown(&c.detail)).collect();
    let failed = checks.iter().any(|c| c.verdict == Verdict::Failed);
    Cell {
        text: text.join(", "),
        detail: Some(detail.join("; ")),
        class: failed.then_some("nm"),
        ..Cell::default()
    }
}

/// The detail as a cell shows it: addresses without their scheme (the page links nowhere, and a
/// `file://` or `http://` in a stack or a replay is read, not followed), cut to [`DETAIL_SHOWN`].
fn shown(detail: &str) -> String {
    let detail = detail.replace("file://", "").replace("http://", "");
    if detail.len() <= DETAIL_SHOWN {
        return detail;
    }
    let mut end = DETAIL_SHOWN;
    while !detail.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &detail[..end])
}
