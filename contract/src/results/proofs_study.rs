//! `proofs-study.json`: the bench's proofs judged over several runs (`harness proofs-study`,
//! docs/proofs-study.md). A proof whose tolerance sits at the machine's run-to-run
//! noise can miss in one run and hold over several; the study says which. Not part of
//! results.json: it is written into the last run's folder; its schema is
//! `#/$defs/ProofsStudy` in reports/schema.json.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One proof over the study's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PooledProof {
    /// As in results.json's `bench.proofs`.
    pub name: String,
    pub requirement: String,
    /// Each run's verdict, in the order of `ProofsStudy::runs`: null where that run could not
    /// decide it, or did not record it.
    pub verdicts: Vec<Option<bool>>,
    /// `mean`: the proof's figure averaged over the runs, judged on its 95% interval;
    /// `sign-test`: the runs' verdicts, judged by whether they hold in more runs than chance
    /// would give.
    pub method: String,
    /// With `mean`: each run's figure (in `ProofsStudy::runs` order, runs without one left out)
    /// and their mean's 95% interval (Student's t over the runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<[f64; 2]>,
    /// With `mean`: the range the proof requires of the figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<[f64; 2]>,
    /// With `sign-test`: the one-sided p-value of the verdict it reached, or of the nearer one
    /// when it reached none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// What the runs measured, pooled, in words.
    pub measured: String,
    /// Held over the runs, or not; absent when the runs do not decide it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds: Option<bool>,
}

/// The whole of `proofs-study.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProofsStudy {
    /// The backend the burn went into, and the burn (µs of CPU per text chunk).
    pub backend: String,
    pub injected_us: f64,
    /// The runs pooled, oldest first (folder names under reports/).
    pub runs: Vec<String>,
    /// Each run's 1-minute load average when its bench began and ended, in `runs` order.
    pub load_average: Vec<Option<[f64; 2]>>,
    pub proofs: Vec<PooledProof>,
}
