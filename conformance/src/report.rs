//! The terminal matrix: cases down, backends across (Autobahn's report, in text), then the
//! reason of every case that was not OK.

use std::io::Write;

use contract::results::{Conformance, Outcome};

/// Writes the matrix of `results` (backend name, its verdict) to `out`.
pub fn write_matrix(
    out: &mut impl Write,
    results: &[(String, Conformance)],
) -> std::io::Result<()> {
    let mut rows: Vec<&str> = Vec::new();
    for (_, c) in results {
        for case in &c.cases {
            if !rows.contains(&case.scenario.as_str()) {
                rows.push(&case.scenario);
            }
        }
    }
    const TOTALS: &str = "passed/failed/unsupported";
    let first = rows
        .iter()
        .map(|r| r.len())
        .max()
        .unwrap_or(0)
        .max(TOTALS.len());
    // A column fits its backend's name and the longest outcome.
    let outcome_width = Outcome::Unsupported.as_str().len();
    let widths: Vec<usize> = results
        .iter()
        .map(|(n, _)| n.len().max(outcome_width))
        .collect();
    write!(out, "{:first$}", "case")?;
    for ((name, _), w) in results.iter().zip(&widths) {
        write!(out, "  {name:w$}")?;
    }
    writeln!(out)?;
    for row in &rows {
        write!(out, "{row:first$}")?;
        for ((_, c), w) in results.iter().zip(&widths) {
            let cell = c
                .cases
                .iter()
                .find(|x| x.scenario == *row)
                .map_or("-", |x| x.outcome.as_str());
            write!(out, "  {cell:w$}")?;
        }
        writeln!(out)?;
    }
    write!(out, "{TOTALS:first$}")?;
    for ((_, c), w) in results.iter().zip(&widths) {
        let totals = format!("{}/{}/{}", c.passed, c.failed, c.unsupported);
        write!(out, "  {totals:w$}")?;
    }
    writeln!(out)?;
    let mut notes = Vec::new();
    for (name, c) in results {
        for case in c.cases.iter().filter(|x| x.outcome != Outcome::Ok) {
            let saved = case
                .raw_stream
                .as_deref()
                .map(|p| format!(" [saved: {p}]"))
                .unwrap_or_default();
            notes.push(format!(
                "{} {name} {}: {}{saved}",
                case.outcome.as_str(),
                case.scenario,
                case.reason.as_deref().unwrap_or("")
            ));
        }
    }
    if !notes.is_empty() {
        writeln!(out)?;
        for note in notes {
            writeln!(out, "{note}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::CaseResult;

    #[test]
    fn lists_every_case_and_explains_the_rest() {
        let case = |s: &str, o, r: Option<&str>| CaseResult {
            scenario: s.into(),
            outcome: o,
            reason: r.map(str::to_owned),
            raw_stream: None,
        };
        let a = Conformance::from_cases(vec![
            case("text", Outcome::Ok, None),
            case("crash-tool", Outcome::Unsupported, Some("process died")),
        ]);
        let b = Conformance::from_cases(vec![case("text", Outcome::Failed, Some("no [DONE]"))]);
        let mut out = Vec::new();
        write_matrix(&mut out, &[("unix".into(), a), ("napi".into(), b)]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = |name: &str| -> Vec<String> {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap();
            line.split_whitespace().map(str::to_owned).collect()
        };
        assert_eq!(row("text "), ["text", "OK", "FAILED"], "{text}");
        assert_eq!(
            row("crash-tool"),
            ["crash-tool", "UNSUPPORTED", "-"],
            "{text}"
        );
        assert_eq!(
            row("passed/"),
            ["passed/failed/unsupported", "1/0/1", "0/1/0"]
        );
        assert!(text.contains("FAILED napi text: no [DONE]"), "{text}");
        assert!(
            text.contains("UNSUPPORTED unix crash-tool: process died"),
            "{text}"
        );
    }
}
