//! What a backend costs to build, ship, start and run: build times, size, cold start, memory,
//! the tokens of one conversation and the money all of it comes to. How each is measured is in
//! `docs/cost.md`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Build cost. `steps` holds each manifest step's wall time as `harness build` ran it in the
/// working tree; the other figures come from the build study (`harness build --clean-builds`):
/// a clean build in a copy of the sources with its own target folder and an empty npm cache,
/// then two incremental rebuilds. The study's figures may be reused from an earlier run of the
/// same sources (`clean_build.reused`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildResult {
    /// The whole clean build: download + install + compile.
    pub clean_s: Option<f64>,
    /// Rebuild after touching one source file of the backend's own crate.
    pub incremental_s: Option<f64>,
    /// `npm ci` steps, with an empty npm cache (download and install).
    pub install_s: Option<f64>,
    /// `cargo fetch`: crates missing from the local cargo registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_s: Option<f64>,
    /// Every other step of the clean build (cargo, bundling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_s: Option<f64>,
    /// Rebuild after touching one source file of `backends/core`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_core_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean_build: Option<CleanBuild>,
    /// The tools building and running the backend needs, with their versions on this machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub toolchains: Vec<Toolchain>,
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

/// Where the build study's figures come from, and its steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CleanBuild {
    /// The sources built: a git object id over the build inputs and the toolchain versions
    /// (`docs/cost.md`). A cached study is reused only for the same hash.
    pub source_hash: String,
    /// A git object id over what a clean build downloads and compiles besides the workspace's
    /// own code: the lockfiles, the cargo settings and the toolchain versions. A study is reused
    /// for the same dependencies when none was measured for the same sources
    /// (`sources_changed_since`). Absent in studies measured before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_hash: Option<String>,
    pub git_sha: String,
    /// RFC 3339, UTC.
    pub measured_at: String,
    /// The run that measured it.
    pub measured_in_run: String,
    /// Taken from the build cache instead of measured in this run.
    pub reused: bool,
    /// Reused for the same dependencies although the workspace's own sources (the contract and
    /// backend crates, the sidecar's code) changed after it was measured (`docs/cost.md`).
    #[serde(default)]
    pub sources_changed_since: bool,
    /// 1-minute load average before and after: other work on the machine slows a build.
    pub load_avg_start: Option<f64>,
    pub load_avg_end: Option<f64>,
    pub steps: Vec<StudyStep>,
    pub rebuilds: Vec<Rebuild>,
}

/// One step of the clean build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StudyStep {
    pub command: String,
    pub phase: BuildPhase,
    pub wall_s: f64,
    pub ok: bool,
    /// Relative to the folder of the run that measured it.
    pub log: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuildPhase {
    Download,
    Install,
    Compile,
}

/// An incremental rebuild after touching one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rebuild {
    /// The file touched, relative to the repository root.
    pub touched: String,
    /// Its crate, which must be among `compiled`.
    pub crate_name: String,
    pub wall_s: f64,
    /// Crates the rebuild's output says it compiled (`Compiling <name> ...`).
    pub compiled: Vec<String>,
    /// `compiled` names the touched crate: the figure is a real rebuild.
    pub rebuilt: bool,
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Toolchain {
    /// `rustc`, `cargo`, `cc`, `node`, `npm`.
    pub name: String,
    /// The first line of `<name> --version`; absent when it is not installed.
    pub version: Option<String>,
    /// `build`, `run`, or both.
    pub needed_for: Vec<String>,
}

/// What a deployment ships: the manifest's artifacts as built and stripped, the runtime they
/// need, and how many files and processes that makes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Size {
    /// Every artifact as built.
    pub artifact_bytes: Option<u64>,
    /// The Node.js binary the backend runs on; 0 for a backend with no runtime.
    pub runtime_bytes: Option<u64>,
    /// The artifacts with their ELF files stripped (a stripped copy; the built file is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_stripped_bytes: Option<u64>,
    /// Stripped artifacts + runtime + the shared libraries they need beyond the C library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_bytes: Option<u64>,
    /// Files of that deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_files: Option<u64>,
    /// Processes a running deployment has (the server and its runtimes), counted after start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<ArtifactSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeSize>,
    /// Shared libraries the artifacts and the runtime load beyond the C library (glibc, libm,
    /// the loader), which the deployment's image must provide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_libraries: Vec<FileSize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ArtifactSize {
    /// As the manifest names it.
    pub path: String,
    pub files: u64,
    pub bytes: u64,
    /// Absent when it holds no ELF file, or `strip` is not installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripped_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeSize {
    pub name: String,
    pub version: Option<String>,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileSize {
    pub name: String,
    pub bytes: u64,
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

/// Spawn -> ready line and spawn -> first completed chat over several fresh starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ColdStart {
    pub starts: u32,
    pub ready_ms: SampleStats,
    pub first_chat_ms: SampleStats,
}

/// A handful of samples: their median and range, and the samples themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SampleStats {
    pub p50: f64,
    pub min: f64,
    pub max: f64,
    pub samples: Vec<f64>,
}

impl SampleStats {
    /// `None` for no samples (nothing measured is absent, not zero).
    pub fn of(samples: Vec<f64>) -> Option<Self> {
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let p50 = match n {
            0 => return None,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]),
        };
        Some(Self {
            p50,
            min: sorted[0],
            max: sorted[n - 1],
            samples,
        })
    }
}

/// The provider tokens of one reference conversation, as the mock counted them (its usage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationTokens {
    /// The conversation's scenario and length (the one the cold start's first chat plays).
    pub scenario: String,
    pub chunks: u32,
    pub provider_requests: u32,
    pub input: u64,
    pub output: u64,
}

/// Money per 1,000 conversations, from `config/prices.toml` and the measured figures. A part
/// whose inputs were not measured is absent, and so is the total then.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Cost {
    /// The price table used, relative to the repository root.
    pub prices: String,
    pub currency: String,
    pub per_1000_conversations: CostParts,
    /// Provider tokens wasted per disconnected client (the crash stage's `client-disconnect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasted_tokens_per_disconnect: Option<u64>,
    /// The share of conversations assumed to be abandoned mid-stream (from the price table).
    pub disconnect_share: f64,
    /// The memory figure used and the rate it is spread over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_basis: Option<String>,
    /// Inputs that were missing, so their part is absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CostParts {
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    /// Output tokens generated for clients that had gone, at `disconnect_share`.
    pub wasted_tokens: Option<f64>,
    pub total: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_stats_take_the_median_and_keep_the_samples() {
        let s = SampleStats::of(vec![30.0, 10.0, 20.0]).unwrap();
        assert_eq!((s.p50, s.min, s.max), (20.0, 10.0, 30.0));
        assert_eq!(s.samples, [30.0, 10.0, 20.0]);
        assert_eq!(SampleStats::of(vec![1.0, 3.0]).unwrap().p50, 2.0);
        assert!(SampleStats::of(vec![]).is_none());
    }
}
