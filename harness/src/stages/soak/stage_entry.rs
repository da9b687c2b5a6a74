//! The soak as one of the run's stages ([`crate::stages::Stage`]): every built backend soaked at
//! once (docs/soak.md), then the table on stdout; a backend whose memory grows or whose
//! conversations fail fails the stage.

use anyhow::Result;
use sut_kit::manifest::Backend;

use crate::run_dir::RunDir;
use crate::stages::{Context, Outcome, Stage, Takes};

use super::{Options, STAGE};

/// The soak stage.
#[derive(Debug)]
pub struct Soak;

impl Stage for Soak {
    const NAME: &'static str = STAGE;
    const TAKES: Takes = Takes::WithRuntimes;
    type Options = Options;

    fn options(ctx: &Context) -> Options {
        Options::new(ctx)
    }

    async fn run(opts: &Options, backends: &[Backend], run: &mut RunDir) -> Result<Outcome> {
        let measured = super::run(backends, run, opts).await?;
        super::write_table(&mut std::io::stdout().lock(), &measured)?;
        Ok(Outcome::failed(
            measured
                .iter()
                // A `--runtimes` target that fails is that runtime's finding, not a failure.
                .filter(|(name, s)| !s.passed && crate::runtime_axis::counts_as_failure(name))
                .map(|(name, _)| name.clone())
                .collect(),
        ))
    }
}
