//! The shape of `results.json`, the one file every harness stage writes into.
//!
//! Each stage fills its own part (`conformance`, `latency`, `load`, `build`, `crash`, ...); a
//! part a stage has not measured stays absent (`None` or empty), never zero, because a zero would
//! read as a measurement. `reports/schema.json` is generated from these types (schemars) and
//! tests validate produced files against it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bumped whenever a field changes meaning or a required field is added.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Results {
    pub schema_version: u32,
    pub run: RunInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// Per backend (`unix`, `http`, `napi`, `rust-only`, and `direct` for the latency baseline).
    #[serde(default)]
    pub backends: BTreeMap<String, BackendResults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Matrix>,
}

impl Results {
    pub fn new(run: RunInfo) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            run,
            calibration: None,
            backends: BTreeMap::new(),
            matrix: None,
        }
    }

    /// The entry of one backend, created empty on first use.
    pub fn backend_mut(&mut self, name: &str) -> &mut BackendResults {
        self.backends.entry(name.to_owned()).or_default()
    }
}

/// Where and how the run happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunInfo {
    /// `<UTC timestamp>-<short git sha>`, also the run folder's name.
    pub id: String,
    pub git_sha: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Cargo profile of the binaries under test (`release` or `debug`).
    pub profile: String,
    pub machine: Machine,
    pub versions: Versions,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Machine {
    pub cpu: Option<String>,
    pub cores: Option<u32>,
    pub mem_gib: Option<f64>,
    pub kernel: Option<String>,
}

/// Versions of what was measured; `None` where it could not be determined.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Versions {
    pub rustc: Option<String>,
    pub node: Option<String>,
    /// The `ai` npm package.
    pub ai: Option<String>,
    /// The `napi` crate.
    pub napi: Option<String>,
    pub async_openai: Option<String>,
}

/// Round trips of the transports themselves: the floor the backends' overheads sit on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Calibration {
    pub uds_rtt_us: Option<P50P99>,
    pub tcp_rtt_us: Option<P50P99>,
    pub napi_call_ns: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct P50P99 {
    pub p50: f64,
    pub p99: f64,
}

/// Everything measured about one backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BackendResults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conformance: Option<Conformance>,
    #[serde(default, skip_serializing_if = "Latency::is_empty")]
    pub latency: Latency,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<LoadPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturation_rps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start_ms: Option<f64>,
    /// Keyed by fault: kill-runtime, __crash, __panic, http-500, malformed-chunk, truncated,
    /// stall, client-disconnect.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub crash: BTreeMap<String, CrashOutcome>,
    /// Stages that did not run on this backend, and why (verify before benchmark).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<StageSkip>,
}

/// The conformance suite's verdict on one backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Conformance {
    pub passed: u32,
    pub failed: u32,
    pub unsupported: u32,
    pub cases: Vec<CaseResult>,
}

impl Conformance {
    /// Builds the counts from the cases, so they can never disagree.
    pub fn from_cases(cases: Vec<CaseResult>) -> Self {
        let count = |o: Outcome| cases.iter().filter(|c| c.outcome == o).count() as u32;
        Self {
            passed: count(Outcome::Ok),
            failed: count(Outcome::Failed),
            unsupported: count(Outcome::Unsupported),
            cases,
        }
    }

    /// Verified means: every case ran and none failed.
    pub fn is_verified(&self) -> bool {
        self.failed == 0 && !self.cases.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaseResult {
    /// The case's name: a catalogue scenario (`tool-single`), or a derived case
    /// (`multi-turn/tool-single`, `bad-input/413-too-large`, `headers`).
    pub scenario: String,
    pub outcome: Outcome,
    /// Why it failed or is unsupported; absent for OK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the raw answer was saved, relative to the run folder (failures only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_stream: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    Ok,
    Failed,
    Unsupported,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Failed => "FAILED",
            Self::Unsupported => "UNSUPPORTED",
        }
    }
}

/// Latency of each hop (DESIGN.md "Measuring"); absent hops were not measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Latency {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_path: Option<LatencyStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_transit: Option<LatencyStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_turnaround: Option<LatencyStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<LatencyStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e: Option<LatencyStats>,
}

impl Latency {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LatencyStats {
    pub n: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// This backend's p50 minus the direct path's; absent for `direct` itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_p50_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_p50_ci95_us: Option<[f64; 2]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    /// Scheduled arrivals at a target rate (wrk2-style).
    Open,
    /// A fixed number of concurrent clients.
    Closed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadPoint {
    pub mode: LoadMode,
    /// Requests per second (open) or concurrent clients (closed).
    pub target: f64,
    /// Requests per second actually completed.
    pub achieved: f64,
    pub chunk_overhead_p50_us: Option<f64>,
    pub chunk_overhead_p99_us: Option<f64>,
    pub errors: u64,
}

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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Memory {
    pub rss_idle_bytes: Option<u64>,
    pub rss_peak_bytes: Option<u64>,
}

/// What one injected fault did to a backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CrashOutcome {
    /// Whether the server process kept serving.
    pub survived: Option<bool>,
    /// What the fault took down, in words (`request`, `runtime`, `process`).
    pub blast_radius: Option<String>,
    pub recovery_ms: Option<f64>,
    /// HTTP status (or `stream-error`, `connection-reset`) -> how many requests saw it.
    #[serde(default)]
    pub statuses: BTreeMap<String, u64>,
}

/// A stage that did not run on a backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageSkip {
    pub stage: String,
    pub reason: String,
}

/// The decision matrix: the paper's guesses next to the measured figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Matrix {
    pub rows: Vec<MatrixRow>,
    #[serde(default)]
    pub totals: BTreeMap<String, f64>,
    pub winner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MatrixRow {
    pub criterion: String,
    pub unit: String,
    /// Per backend: the figure the original notes guessed, as they wrote it.
    #[serde(default)]
    pub paper: BTreeMap<String, String>,
    /// Per backend: the measured figure in `unit`; absent where not measured.
    #[serde(default)]
    pub measured: BTreeMap<String, f64>,
    #[serde(default)]
    pub stars: BTreeMap<String, u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_cases_and_outcomes_use_report_names() {
        let case = |o| CaseResult {
            scenario: "text".into(),
            outcome: o,
            reason: None,
            raw_stream: None,
        };
        let c = Conformance::from_cases(vec![
            case(Outcome::Ok),
            case(Outcome::Failed),
            case(Outcome::Unsupported),
            case(Outcome::Ok),
        ]);
        assert_eq!((c.passed, c.failed, c.unsupported), (2, 1, 1));
        assert!(!c.is_verified());
        assert_eq!(
            serde_json::to_string(&Outcome::Unsupported).unwrap(),
            "\"UNSUPPORTED\""
        );
        assert!(!Conformance::default().is_verified());
    }

    #[test]
    fn unmeasured_parts_are_absent_not_zero() {
        let json = serde_json::to_value(BackendResults::default()).unwrap();
        assert_eq!(json, serde_json::json!({}));
    }
}
