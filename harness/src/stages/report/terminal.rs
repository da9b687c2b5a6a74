//! The summary compare prints at its end: the verdict and the measured tables beside the
//! notes', sized for a terminal.

use std::io::{self, Write};

use contract::results::Results;

use super::tables::{self, Table};
use super::verdict::verdict;

/// Writes the terminal summary of `results` (its matrix must be computed).
pub fn write_summary(out: &mut impl Write, results: &Results) -> io::Result<()> {
    let Some(m) = &results.matrix else {
        return writeln!(
            out,
            "no decision matrix in this run: run `harness report` to compute it"
        );
    };
    let v = verdict(m);
    writeln!(out, "\n{}\n{}", v.headline, v.paper)?;
    writeln!(out, "\nDecision matrix (stars 1-5: the notes' → measured)")?;
    write_table(out, &tables::decision(m))?;
    writeln!(
        out,
        "\nPerformance benchmarks (the notes' guess → measured (measured ÷ guess))"
    )?;
    write_table(out, &tables::benchmarks(m))?;
    if !v.off_guesses.is_empty() {
        writeln!(out, "\nGuesses off by more than 2×:")?;
        for line in &v.off_guesses {
            writeln!(out, "  {line}")?;
        }
    }
    writeln!(out, "\n{}", v.counted)?;
    for line in &v.not_competing {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{}", v.sensitivity.summary)?;
    for (heading, lines) in v.sensitivity.groups() {
        writeln!(out, "{heading}")?;
        for line in lines {
            writeln!(out, "  {line}")?;
        }
    }
    if let Some(unmoved) = &v.sensitivity.unmoved {
        writeln!(out, "{unmoved}")?;
    }
    Ok(())
}

/// A table in aligned columns of plain text.
pub fn write_table(out: &mut impl Write, table: &Table) -> io::Result<()> {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = table.header.iter().map(|h| width(h)).collect();
    for row in &table.rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(&cell.text));
        }
    }
    let line = |out: &mut dyn Write, cells: Vec<&str>| -> io::Result<()> {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(width(c)))))
            .collect();
        writeln!(out, "{}", padded.join("  ").trim_end())
    };
    line(out, table.header.iter().map(String::as_str).collect())?;
    for row in &table.rows {
        line(out, row.iter().map(|c| c.text.as_str()).collect())?;
    }
    Ok(())
}
