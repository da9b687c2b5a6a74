//! Every chart of the report, in reading order: the one module that names each chart, so the
//! chart modules share [`super::evidence`] without it importing them back.

use std::path::Path;

use anyhow::Result;
use contract::results::Results;

use super::evidence::{Figure, Targets};
use super::{cost, latency, soak, spectrum};

/// Every chart of the report, in reading order. `run` is the run folder, where the bench's
/// histogram logs are; without it the spectrum is drawn from results.json's percentiles.
pub fn all(results: &Results, run: Option<&Path>) -> Result<Vec<Figure>> {
    let t = Targets::of(results);
    Ok(vec![
        latency::overhead(results, &t)?,
        spectrum::spectrum(results, &t, run)?,
        latency::load(results, &t)?,
        cost::cpu(results, &t)?,
        cost::memory(results, &t)?,
        soak::memory(results, &t)?,
        cost::build(results, &t)?,
        latency::calibration(results, &t)?,
    ])
}
