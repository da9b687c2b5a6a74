//! `summary.md`: the verdict and the matrix tables in markdown, for a CI log or a pull request
//! comment, with the sentences under the report's charts.

use std::fmt::Write;

use contract::results::{LatencyStats, Results};

use super::charts::evidence::skips;
use super::format::and_list;
use super::tables::{self, Table};
use super::verdict::verdict;

/// The summary of `results`; `captions` are the sentences under the report's charts.
pub fn summary(results: &Results, captions: &[(String, String)]) -> String {
    let run = &results.run;
    let mut md = format!(
        "# Chat-architecture arena: run {}\n\nCommit `{}`, started {}, {} build. The full report \
         with its charts is `report.html` beside this file.\n\n",
        run.id, run.git_sha, run.started_at, run.profile
    );
    md.push_str(&beyond_one_machine(results));
    let Some(m) = &results.matrix else {
        md.push_str("No decision matrix in this run: run `harness report` to compute it.\n");
        return md;
    };
    let v = verdict(m);
    let _ = write!(
        md,
        "## Verdict\n\n**{}**\n\n{}\n\n{}\n",
        v.headline, v.paper, v.counted
    );
    for line in &v.not_competing {
        let _ = writeln!(md, "\n{line}");
    }
    md.push_str("\n### How firm\n\n");
    let _ = writeln!(md, "{}", v.sensitivity.summary);
    for (heading, lines) in v.sensitivity.groups() {
        let _ = writeln!(md, "\n{heading}\n");
        for line in lines {
            let _ = writeln!(md, "- {line}");
        }
    }
    if let Some(unmoved) = &v.sensitivity.unmoved {
        let _ = writeln!(md, "\n{unmoved}");
    }
    if !v.off_guesses.is_empty() {
        md.push_str("\n### Guesses off by more than 2×\n\n");
        for line in &v.off_guesses {
            let _ = writeln!(md, "- {line}");
        }
    }
    md.push_str(
        "\n## Decision matrix\n\nStars 1-5, the notes' → measured; the figure the stars \
                 come from in parentheses.\n\n",
    );
    md.push_str(&table(&tables::decision(m)));
    md.push_str(
        "\n## Performance benchmarks\n\nThe notes' guess → measured (measured ÷ guess).\n\n",
    );
    md.push_str(&table(&tables::benchmarks(m)));
    if !v.unmeasurable.is_empty() {
        md.push_str("\nRows this machine cannot measure:\n\n");
        for line in &v.unmeasurable {
            let _ = writeln!(md, "- {line}");
        }
    }
    if let Some(body) = super::sections::runtimes(results) {
        md.push_str("\n## By JavaScript runtime\n\n");
        md.push_str(&body_md(&body));
    }
    if let Some(body) = super::sections::deploying(results) {
        md.push_str("\n## Deploying it\n\n");
        md.push_str(&body_md(&body));
    }
    if !captions.is_empty() {
        md.push_str("\n## What the evidence shows\n\n");
        for (title, sentence) in captions {
            let _ = writeln!(md, "- **{title}.** {sentence}");
        }
    }
    let skipped: Vec<String> = skips(results, None)
        .map(|(b, s)| format!("{b} ({}: {})", s.stage, s.reason))
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(md, "\nSkipped: {}.", and_list(&skipped));
    }
    md
}

/// A section's paragraphs, tables, list and closing notes in markdown.
fn body_md(body: &super::sections::Body) -> String {
    let mut md = String::new();
    for line in &body.before {
        let _ = writeln!(md, "{line}\n");
    }
    for t in &body.tables {
        md.push_str(&table(t));
        md.push('\n');
    }
    for line in &body.items {
        let _ = writeln!(md, "- {line}");
    }
    for line in &body.after {
        let _ = writeln!(md, "\n{line}");
    }
    md
}

/// External targets and the distributed run (docs/distributed.md), each figure with the clock
/// it was read on; empty when the run has neither.
fn beyond_one_machine(results: &Results) -> String {
    let us = |s: &Option<LatencyStats>, q: fn(&LatencyStats) -> f64| {
        s.as_ref()
            .map_or("—".to_owned(), |s| format!("{:.0} µs", q(s)))
    };
    let mut md = String::new();
    for (name, b) in results.backends.iter().filter(|(_, b)| b.external) {
        let Some(f) = &b.external_figures else {
            continue;
        };
        let _ = writeln!(
            md,
            "## External target `{name}`\n\n{} (mock {}, {}). Client clock: TTFT p50 {}, \
             end to end p50 {}, inter-chunk gap p50 {} / p99 {} against {} ms scripted; chunk \
             transit p50 {}; highest open-loop rate held: {}.\n",
            f.url,
            f.mock_url,
            if f.shared_clock {
                "shared clock"
            } else {
                "no shared clock: no per-hop figure"
            },
            us(&f.ttft_us, |s| s.p50_us),
            us(&f.e2e_us, |s| s.p50_us),
            us(&f.gap_us, |s| s.p50_us),
            us(&f.gap_us, |s| s.p99_us),
            f.scripted_gap_ms,
            us(&f.chunk_transit_us, |s| s.p50_us),
            f.capacity_rps
                .map_or("none tried".to_owned(), |r| format!("{r}/s")),
        );
    }
    for (name, b) in results.backends.iter().filter(|(_, b)| b.external) {
        let Some(drift) = b.soak.as_ref().and_then(|s| s.drift.as_ref()) else {
            continue;
        };
        let ms = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{:.1} ms", v / 1e3));
        let _ = writeln!(
            md,
            "## External soak `{name}`\n\nLatency on the client's clock, window by window \
             (memory is not this machine's to read).\n\n\
             | window | conversations | errors | TTFT p50 | TTFT p99 | end to end p50 |\n\
             |---|---|---|---|---|---|"
        );
        for w in &drift.windows {
            let _ = writeln!(
                md,
                "| {:.0}–{:.0} s | {} | {} | {} | {} | {} |",
                w.start_s,
                w.end_s,
                w.conversations,
                w.errors,
                ms(w.ttft_p50_us),
                ms(w.ttft_p99_us),
                ms(w.e2e_p50_us)
            );
        }
        let _ = writeln!(md, "\n{}.\n", super::sections::slope_line(name, drift));
    }
    if let Some(t) = super::sections::external_crash(results) {
        let _ = writeln!(
            md,
            "## Crash from outside

Times from the injection, on the client's clock; memory \
             and leftover processes are not this machine's to read.

{}",
            table(&t)
        );
    }
    let Some(d) = results.load.as_ref().and_then(|l| l.distributed.as_ref()) else {
        return md;
    };
    let _ = writeln!(
        md,
        "## Distributed load\n\n{}.\n\n\
         | client | completed | errors | TTFT p50 | TTFT p99 | gap p50 | gap p99 |\n|---|---|---|---|---|---|---|\n\
         | workers, merged | {} | {} | {} | {} | {} | {} |",
        d.headline(),
        d.completed,
        d.errors,
        us(&d.ttft_us, |s| s.p50_us),
        us(&d.ttft_us, |s| s.p99_us),
        us(&d.gap_us, |s| s.p50_us),
        us(&d.gap_us, |s| s.p99_us),
    );
    if let Some(h) = &d.harness_client {
        let _ = writeln!(
            md,
            "| the harness's own | {} | {} | {} | {} | {} | {} |",
            h.conversations - h.errors,
            h.errors,
            us(&h.ttft_us, |s| s.p50_us),
            us(&h.ttft_us, |s| s.p99_us),
            us(&h.gap_us, |s| s.p50_us),
            us(&h.gap_us, |s| s.p99_us),
        );
    }
    if let Some(i) = &d.interleaved {
        let _ = writeln!(
            md,
            "\nThe two clients took turns: {}.",
            crate::load::interleaved_line(i)
        );
    }
    md.push('\n');
    md
}

fn table(t: &Table) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut md = format!(
        "| {} |\n",
        t.header
            .iter()
            .map(|h| esc(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    md.push_str(&format!("|{}\n", "---|".repeat(t.header.len())));
    for row in &t.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match &c.detail {
                Some(d) => esc(&format!("{} ({d})", c.text)),
                None => esc(&c.text),
            })
            .collect();
        md.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    md
}
