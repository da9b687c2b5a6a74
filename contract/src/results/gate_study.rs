//! `gate-study.json`: what `harness gate-study` found when it proved the gate on this machine
//! (docs/gate.md#proof). Not part of results.json: the study writes its own file beside the
//! runs it made; its schema is `#/$defs/GateStudy` in reports/schema.json.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One judgement of the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GateStudyTrial {
    /// 0 for an A/A pair, else the injected delay.
    pub injected_us: u64,
    pub baseline_run: String,
    pub current_run: String,
    pub backend: String,
    pub metric: String,
    pub change: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    /// `pass`, `regression` or `could not judge`.
    pub decision: String,
    /// With `--against`: the paired rounds the trial measured before it stopped (both
    /// sequences').
    pub rounds: Option<usize>,
    /// With `--against`: the first sequence's verdict, before the confirmation.
    pub first_decision: Option<String>,
    /// With `--against`: whether the trial ran the base's instances from the head's tree and
    /// the head's from the base's (every other pair: the crossed design).
    pub trees_swapped: Option<bool>,
    /// With `--against`: the 1-, 5- and 15-minute load averages when the trial started.
    pub load_average: Option<String>,
}

/// The study's counts, per backend, metric and injected delay (0: A/A).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GateStudyTally {
    pub trials: u32,
    pub regressions: u32,
    pub passes: u32,
    pub could_not_judge: u32,
    /// The largest change and the largest lower interval end seen (what a threshold must clear
    /// for A/A pairs to stay quiet).
    pub max_change: Option<f64>,
    pub max_ci_low: Option<f64>,
}

/// The whole of `gate-study.json`: `harness gate-study`'s proof of the gate on this machine
/// (docs/gate.md#proof), written into the last run's folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GateStudy {
    /// `files` (two quick runs) or `against` (`gate --against HEAD`).
    pub method: String,
    pub backends: Vec<String>,
    pub pairs: usize,
    pub delays_us: Vec<u64>,
    pub latency_threshold: f64,
    pub runs: Vec<String>,
    /// backend -> metric -> injected µs (0: A/A) -> counts.
    pub tallies: BTreeMap<String, BTreeMap<String, BTreeMap<u64, GateStudyTally>>>,
    pub trials: Vec<GateStudyTrial>,
}
