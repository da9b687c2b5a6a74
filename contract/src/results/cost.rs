//! What a backend costs to build, ship and run: build times, size, memory.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Build cost. The `*_s` summaries are filled by the build study; `steps` holds each manifest
/// step's wall time as `harness build` ran it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildResult {
    pub clean_s: Option<f64>,
    pub incremental_s: Option<f64>,
    pub install_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<BuildStepResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildStepResult {
    pub command: String,
    pub wall_s: f64,
    pub ok: bool,
    /// The step's captured output, relative to the run folder.
    pub log: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Size {
    pub artifact_bytes: Option<u64>,
    pub runtime_bytes: Option<u64>,
}

/// Memory of the backend's whole process tree (`/proc/<pid>/smaps_rollup`): idle after start,
/// and the peak seen while 100 conversations stream at once (the bench stage).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Memory {
    pub rss_idle_bytes: Option<u64>,
    pub rss_peak_bytes: Option<u64>,
    /// Proportional set size: shared pages divided among the processes sharing them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss_idle_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss_peak_bytes: Option<u64>,
}
