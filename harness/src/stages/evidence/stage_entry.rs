//! The evidence as one of the run's stages ([`crate::stages::Stage`]): the proxies, then their
//! table on stdout.

use anyhow::Result;
use sut_kit::manifest::Backend;

use crate::run_dir::RunDir;
use crate::stages::{Context, Outcome, Stage, Takes};

use super::{INSTANCES, Options, STAGE};

/// The evidence stage.
#[derive(Debug)]
pub struct EvidenceStage;

impl Stage for EvidenceStage {
    const NAME: &'static str = STAGE;
    const TAKES: Takes = Takes::Built;
    type Options = Options;

    fn options(ctx: &Context) -> Options {
        Options {
            ctx: ctx.clone(),
            instances: INSTANCES,
        }
    }

    async fn run(opts: &Options, backends: &[Backend], run: &mut RunDir) -> Result<Outcome> {
        super::run(backends, run, opts).await?;
        super::write_table(&mut std::io::stdout().lock(), &run.results)?;
        Ok(Outcome::Passed)
    }
}
