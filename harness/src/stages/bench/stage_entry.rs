//! The bench as one of the run's stages ([`crate::stages::Stage`]): the stage prints its own
//! table as it measures, so the entry only runs it.

use anyhow::Result;
use sut_kit::manifest::Backend;

use crate::run_dir::RunDir;
use crate::stages::{Context, Outcome, Stage, Takes};

use super::{Options, STAGE};

/// The bench stage.
#[derive(Debug)]
pub struct Bench;

impl Stage for Bench {
    const NAME: &'static str = STAGE;
    const TAKES: Takes = Takes::WithVariants;
    type Options = Options;

    fn options(ctx: &Context) -> Options {
        Options::new(ctx)
    }

    async fn run(opts: &Options, backends: &[Backend], run: &mut RunDir) -> Result<Outcome> {
        super::run(backends, run, opts).await?;
        Ok(Outcome::Passed)
    }
}
