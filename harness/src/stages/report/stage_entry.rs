//! The report as the last of the run's stages ([`crate::stages::Stage`]): the decision matrix
//! computed into the run's results, report.html and summary.md written into the run folder,
//! the terminal summary printed.

use anyhow::{Result, bail};
use sut_kit::manifest::Backend;

use crate::run_dir::RunDir;
use crate::stages::{Context, Outcome, Stage, Takes};

/// The report stage.
#[derive(Debug)]
pub struct ReportStage;

/// The report stage's options.
#[derive(Debug, Clone)]
pub struct Options {
    pub ctx: Context,
    /// Also open the page in headless Chromium and keep report.png; a page the browser does not
    /// show whole is an error (`harness report --browser`).
    pub browser: bool,
}

impl Stage for ReportStage {
    const NAME: &'static str = contract::results::stages::REPORT;
    const TAKES: Takes = Takes::Nothing;
    type Options = Options;

    fn options(ctx: &Context) -> Options {
        Options {
            ctx: ctx.clone(),
            browser: false,
        }
    }

    async fn run(opts: &Options, _backends: &[Backend], run: &mut RunDir) -> Result<Outcome> {
        let root = opts.ctx.root.as_path();
        crate::matrix::compute_into(&mut run.results, root)?;
        run.save()?;
        let rendered = super::render_run(&run.path, &run.results)?;
        super::write_summary(&mut std::io::stdout().lock(), &run.results)?;
        eprintln!(
            "\nwrote {} and {}",
            rendered.report.display(),
            rendered.summary.display()
        );
        if opts.browser {
            let screenshot = run.path.join(super::browser::SCREENSHOT_FILE);
            let seen = super::browser::check(root, &rendered.report, &screenshot)?;
            let problems = seen.problems();
            if !problems.is_empty() {
                bail!(
                    "{} shows wrong in {}:\n  {}",
                    rendered.report.display(),
                    seen.browser,
                    problems.join("\n  ")
                );
            }
            eprintln!(
                "{} showed {} charts and {} tables with no console error; screenshot {}",
                seen.browser,
                seen.charts.len(),
                seen.tables.len(),
                screenshot.display()
            );
        }
        Ok(Outcome::Passed)
    }
}
