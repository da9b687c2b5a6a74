//! The crash stage as one of the run's stages ([`crate::stages::Stage`]): the fault x backend
//! matrix, then its table on stdout.

use anyhow::Result;
use sut_kit::manifest::Backend;

use crate::run_dir::RunDir;
use crate::stages::{Context, Outcome, Stage, Takes};

use super::{Options, STAGE};

/// The crash stage.
#[derive(Debug)]
pub struct Crash;

impl Stage for Crash {
    const NAME: &'static str = STAGE;
    const TAKES: Takes = Takes::WithRuntimes;
    type Options = Options;

    fn options(ctx: &Context) -> Options {
        Options::new(ctx)
    }

    async fn run(opts: &Options, backends: &[Backend], run: &mut RunDir) -> Result<Outcome> {
        let matrix = super::run(backends, run, opts).await?;
        super::table::write(&mut std::io::stdout().lock(), &matrix)?;
        Ok(Outcome::measured(matrix.len()))
    }
}
