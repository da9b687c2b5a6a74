//! `deploy.<backend>`: an architecture deployed as it would ship (`deploy/<backend>/`), run in
//! containers by `harness deploy` (docs/deploy.md#run): what its images weigh, whether the
//! conformance suite passes through the published port, what the container topology adds to
//! chunk transit, its cold start, what killing its sidecar does, and whether it left anything
//! behind. A machine that cannot run containers records `skipped` with the reason instead.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One architecture's deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeployResults {
    /// Why the deployment was not run (no container runtime, an image that did not build, ...);
    /// what was still done is in `validated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The files of `deploy/<backend>/` checked by their validators before anything ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated: Option<ValidatedFiles>,
    /// The compose file's topology, as run: its services (one process each), the port
    /// published, its named volumes and networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<Topology>,
    /// Each image the compose file runs and its size as podman reports it (the base's layers
    /// included: they are shared by every image).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageSize>,
    /// The conformance suite played through the published port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conformance: Option<DeployConformance>,
    /// What the container topology adds to chunk transit p50: the deployment against the same
    /// backend started on plain loopback, interleaved rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_hop_us: Option<ContainerHop>,
    /// From `podman-compose up` to the first completed chat through the published port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start_ms: Option<f64>,
    /// SIGKILL to the sidecar container's process; absent for a one-process architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_kill: Option<SidecarKill>,
    /// What `down` left: the project's containers, pods, networks and volumes still present
    /// afterwards (each `kind name`); empty when it left nothing. Absent when not brought down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_behind: Option<Vec<String>>,
    /// The systemd units started for real with a transient `systemd-run`, or why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<SystemdRun>,
    /// `/proc/loadavg`'s three figures while this architecture ran (the machine is shared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loadavg: Option<[f64; 3]>,
}

/// Files checked by their validator (docs/deploy.md#validation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValidatedFiles {
    pub files: u32,
    pub failed: u32,
}

/// A compose file's services, published ports, volumes and networks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Topology {
    pub services: Vec<String>,
    /// `published:target` as the compose file declares them.
    pub ports: Vec<String>,
    pub volumes: Vec<String>,
    /// Networks the compose file declares; `internal` ones have no way out.
    pub networks: Vec<String>,
}

/// An image and its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImageSize {
    pub name: String,
    pub bytes: u64,
}

/// The conformance suite's verdict through the published port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeployConformance {
    pub passed: u32,
    pub failed: u32,
    /// Cases that cannot be played from outside (they start or break the backend themselves).
    pub unsupported: u32,
}

/// Chunk transit p50 through the container topology minus the same on plain loopback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerHop {
    /// The median over rounds of (container p50 − loopback p50), microseconds.
    pub added_us: f64,
    /// Its 95% bootstrap interval; absent with fewer than two rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95_us: Option<[f64; 2]>,
    /// The medians over rounds of each side's p50.
    pub container_p50_us: f64,
    pub loopback_p50_us: f64,
    /// Rounds both sides measured, and conversations per side per round.
    pub rounds: u32,
    pub conversations_per_round: u32,
}

/// What killing the sidecar container's process did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SidecarKill {
    /// The status a new chat got right after the kill; absent when nothing answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// From the kill to the next completed chat; absent when none completed in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_ms: Option<f64>,
}

/// The systemd units run with `systemd-run`, or the reason they were not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SystemdRun {
    pub ran: bool,
    /// Why not (`ran: false`), or what was seen.
    pub note: String,
}
