//! The report stage: a run's results.json rendered for people (report.html), for CI logs and
//! pull requests (summary.md) and for the terminal at the end of `compare`.
//!
//! Everything is generated from results.json alone, so `harness report --run ID` re-renders
//! any run, and a run with stages missing renders with "not measured" and the reason where
//! their figures would be. The sections and the method: docs/report.md.
//!
//! Layout: [`verdict`] (the verdict in sentences) and [`tables`] (the matrix as tables) feed
//! [`html`], [`markdown`] and [`terminal`]; [`charts`] draws the SVG evidence with the
//! sentence under each chart; [`sections`] holds the evidence tables; [`format`] prints
//! numbers; [`browser`] opens a report in headless Chromium and checks it.

pub mod browser;
pub mod charts;
pub mod format;
pub mod html;
pub mod markdown;
pub mod sections;
mod stage_entry;
pub mod tables;
pub mod terminal;
pub mod verdict;

pub use stage_entry::{Options, ReportStage};

use std::path::{Path, PathBuf};

use anyhow::Result;
use contract::results::Results;

pub use terminal::write_summary;

pub const REPORT_FILE: &str = "report.html";
pub const SUMMARY_FILE: &str = "summary.md";

/// The files [`render_run`] wrote.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub report: PathBuf,
    pub summary: PathBuf,
}

/// The report page and the summary of `results`, as strings; `run` is the run folder, whose
/// histogram logs give the percentile spectrum every sample.
pub fn render(results: &Results, run: Option<&Path>) -> Result<(String, String)> {
    let figures = charts::figures::all(results, run)?;
    let captions: Vec<(String, String)> = figures
        .iter()
        .filter(|f| !f.svgs.is_empty())
        .map(|f| (f.title.to_owned(), f.caption.clone()))
        .collect();
    let shots = sections::screenshots(results)
        .into_iter()
        .map(|(backend, file)| html::Screenshot::load(backend, &file, run))
        .collect::<Vec<_>>();
    Ok((
        html::page(results, &figures, &shots),
        markdown::summary(results, &captions),
    ))
}

/// Writes report.html and summary.md of `results` into the run folder `run_path` (compute the
/// matrix first, with `matrix::compute_into`).
pub fn render_run(run_path: &Path, results: &Results) -> Result<Rendered> {
    let (page, summary) = render(results, Some(run_path))?;
    let rendered = Rendered {
        report: run_path.join(REPORT_FILE),
        summary: run_path.join(SUMMARY_FILE),
    };
    // Atomic, so a browser or a CI step never reads half a report.
    crate::atomic::write(&rendered.report, &page)?;
    crate::atomic::write(&rendered.summary, &summary)?;
    Ok(rendered)
}
