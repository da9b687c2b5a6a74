//! The bench stage's figures taken at sustained load: what a conversation and a chunk cost in
//! CPU on the system under test's own cores, how many conversations one core carries, how the
//! system under test was confined, and how far the load generator itself reaches
//! (docs/bench.md#cpu-at-load, docs/bench.md#confinement).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a target's CPU time was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CpuMethod {
    /// `cpuacct.usage` of a cgroup v1 the harness created for the target (ns).
    CgroupV1,
    /// `cpu.stat` `usage_usec` of a cgroup v2 the harness created for the target (µs).
    CgroupV2,
    /// `/proc/<pid>/task/<tid>/schedstat` summed over the target's process tree (ns); used
    /// where no cgroup could be written.
    Schedstat,
}

/// CPU time of a target's whole process tree at a fixed open-loop rate, over steady windows
/// after a warm-up, minus an equal idle window; per conversation and per chunk separated by the
/// slope between short and long conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CpuAtLoad {
    /// CPU per text chunk: (cost of a long conversation − cost of a short one) / (chunk
    /// difference).
    pub us_per_chunk: f64,
    /// The standard error of `us_per_chunk`: √(SE²_long + SE²_short) / (chunk difference), each
    /// length's SE from the means of its drives where it was driven three times or more
    /// (batch means: a drive's windows move together), else from its windows
    /// (`window_ms_per_conversation`, `long_window_ms_per_conversation`). Absent with fewer
    /// than two windows of either length (docs/bench.md#the-burn-read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub us_per_chunk_se: Option<f64>,
    /// The slope of each drive, in µs per chunk: the k-th long drive's mean CPU per
    /// conversation against the k-th short drive's. Present where both lengths were driven
    /// the same number of times, twice or more (`bench --proofs`); a backend's and its clean
    /// twin's k-th drives ran side by side, so their differences pair
    /// (`CpuSelfCheck::measured_se_us`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drive_us_per_chunk: Vec<f64>,
    /// CPU per conversation of the bench's workload (the short one: `short_chunks` chunks),
    /// chunks included.
    pub ms_per_conversation: f64,
    /// What a conversation costs beyond its chunks (request, parse, set-up): the intercept.
    pub ms_per_conversation_fixed: f64,
    /// The rate the short conversations ran at (conversations/s).
    pub rate_rps: f64,
    /// The rate of the long conversations (the same chunks/s as the short ones).
    pub long_rate_rps: f64,
    pub short_chunks: u32,
    pub long_chunks: u32,
    pub method: CpuMethod,
    /// CPU per second with no traffic (health probes, timers), subtracted from each window.
    pub idle_ms_per_s: f64,
    /// CPU per short conversation in each steady window, in order: flat when the warm-up was
    /// long enough.
    pub window_ms_per_conversation: Vec<f64>,
    /// The same for the long conversations.
    pub long_window_ms_per_conversation: Vec<f64>,
    /// How often the load client's threads went to sleep per text chunk received in the
    /// windows (both lengths): a write of the target's that finds the client asleep wakes it,
    /// and on one machine's loopback that wake-up is the target's CPU
    /// (docs/bench.md#the-burn-read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_sleeps_per_chunk: Option<f64>,
}

/// Which limit a backend reached first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityLimit {
    /// It ran out of CPU: the observed capacity is near what its CPU per conversation allows.
    Cpu,
    /// The stream stuttered (p99 chunk overhead over the limit) well before its core was busy:
    /// a single-threaded event loop, or queueing, not the CPU.
    EventLoop,
    /// Still healthy at the highest rate the generator reached: the observed figure is a lower
    /// bound.
    Generator,
    /// The load client gave out before the target's core did: where the stream stuttered the
    /// client's start lag p99 passed 1 ms and twice `direct`'s at the same rate, with the
    /// target's core under half busy (a one-hop target's chunks wake the client's core from
    /// the other CPU; docs/bench.md#the-relay-on-one-core).
    Client,
}

/// Conversations per second one core of the system under test carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Capacity {
    /// The highest rate within capacity, divided by the system under test's cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_core_rps_observed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_core_rps_observed_ci95: Option<[f64; 2]>,
    /// 1 core-second / CPU per conversation at load: taken near the capacity where the
    /// search measured it (`predicted_at_rps`), else at the CPU at load's fixed rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_core_rps_predicted: Option<f64>,
    /// The rate (conversations/s, whole system under test) the prediction's CPU was taken at:
    /// the highest rate the search found healthy, where its steady windows were metered; else
    /// the CPU at load's fixed rate (docs/bench.md#capacity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_at_rps: Option<f64>,
    /// The CPU per conversation (ms) the prediction divides one core-second by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_ms_per_conversation: Option<f64>,
    /// Observed / predicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<CapacityLimit>,
    /// The backend was still within capacity at the highest rate tried: the observed figure is
    /// that rate, a lower bound ("≥ G (generator-bound)").
    pub generator_bound: bool,
}

/// Where the bench put the system under test, the mock and the load client, and at which
/// priorities (docs/bench.md#confinement).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Confinement {
    /// The CPUs every target's process tree was pinned to (`--sut-cpus`).
    pub sut_cpus: Vec<u32>,
    /// The CPUs the harness (the load client) ran on.
    pub client_cpus: Vec<u32>,
    /// The mock's CPU and real-time priority, when it could be pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_rt_priority: Option<u8>,
    /// Nice value of the load client and of the targets (the targets are reset from the
    /// client's, which they would otherwise inherit).
    pub client_nice: i32,
    pub sut_nice: i32,
    /// The nice value of the stage's session's autogroup while it ran, where the kernel groups
    /// tasks by session (`kernel.sched_autogroup_enabled`): there a process's own nice ranks it
    /// only against its own session's, and the group's against every other session's work
    /// on its CPU (docs/bench.md#confinement). Absent where there is no autogroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_nice: Option<i32>,
    /// `sched_setaffinity` on every thread; empty when pinning was refused (then why).
    pub pinning: String,
    /// How CPU time was read (`cgroup-v1`, `cgroup-v2`, `schedstat`), and why not a better
    /// method, when one was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_method: Option<CpuMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_method_note: Option<String>,
}

/// A known CPU burn injected into a backend (`--inject-cpu-us`), read back against a clean
/// instance of it in the same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CpuSelfCheck {
    pub backend: String,
    /// Busy work per text chunk.
    pub injected_us: f64,
    /// CPU per chunk at load, injected instance minus clean.
    pub measured_us: f64,
    /// The standard error of `measured_us`: from the differences of the two instances' paired
    /// drives (`CpuAtLoad::drive_us_per_chunk`, three pairs or more), else the root of the sum
    /// of their `us_per_chunk_se` squared. Absent where neither can be read
    /// (docs/bench.md#the-burn-read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_se_us: Option<f64>,
    /// Within max(2 µs, 5%) of the injection (docs/bench.md#cpu-at-load).
    pub within_tolerance: bool,
    /// The burn per chunk read from one length alone: injected minus clean CPU per
    /// conversation over its text chunks, for the short and the long conversations (a
    /// conversation's own cost is the same in both instances and cancels); where the slope's
    /// reading departs from them (docs/bench.md#the-burn-read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_read_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_read_us: Option<f64>,
    /// Observed capacity per core, injected / clean; and the ratio the clean instance's CPU per
    /// conversation predicts (clean / (clean + the burn of one conversation)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_observed_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_predicted_ratio: Option<f64>,
}

/// The load generator's ceiling in this run: the highest open-loop rate at which the direct
/// path (the client reading the mock itself) kept its schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GeneratorCeiling {
    pub ceiling_rps: f64,
    pub ceiling_chunks_per_s: f64,
    /// How it was found.
    pub method: String,
    /// The highest rate tried: a ceiling equal to it is where the sweep stopped, not where the
    /// generator did.
    pub highest_rate_tried: f64,
    /// The zero-work relay at the ceiling: within capacity, and its achieved chunks/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_within_capacity: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_chunks_per_s: Option<f64>,
    /// The ceiling for a target one process hop away: the zero-work relay's highest healthy
    /// rate (conversations/s) where the relay's limit was the load client's (`client`), not
    /// its own core. A backend that failed only at or past the relay's lowest failing rate is
    /// generator-bound (docs/bench.md#the-relay-on-one-core). Absent when the relay was not
    /// searched or its own core ran out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_hop_ceiling_rps: Option<f64>,
}

/// Chunk overhead over `direct` at concurrency 1 at one provider gap (the pacing sweep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PacingPoint {
    /// Milliseconds between the provider's chunks.
    pub gap_ms: u64,
    /// Per target (the relay and the references included, `direct` itself not).
    pub targets: std::collections::BTreeMap<String, PacingTarget>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PacingTarget {
    /// Median over rounds of (this target's round median − direct's), and its bootstrap 95%
    /// interval.
    pub chunk_overhead_p50_us: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_overhead_p50_ci95_us: Option<[f64; 2]>,
    pub rounds: u32,
}

/// One of the method's proofs (`harness bench --proofs`, docs/bench.md#proofs), as this run
/// read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Proof {
    /// `direct-ceiling`, `relay-near-direct`, `cpu-burn-read`, `cpu-burn-capacity`,
    /// `idle-zero`, `aa-overlap`.
    pub name: String,
    /// What must hold.
    pub requirement: String,
    /// What this run measured (or why it could not).
    pub measured: String,
    /// Held or not; absent when the run could not decide it (`measured` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds: Option<bool>,
}
