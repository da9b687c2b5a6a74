//! The bench stage's part of results.json: latency per hop, the transports' own floor, latency
//! under load, and what a backend costs in CPU and memory.
//!
//! How each figure is taken is in `docs/design.md#measuring`; the estimators (median of
//! per-round differences, bootstrap interval) in `docs/bench.md`. Every time is microseconds of
//! `CLOCK_MONOTONIC` unless its name says otherwise.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The hops the bench times, in the order results.json lists them: a name the bench, the
/// gate and the report share, so it lives with the results rather than in the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    RequestPath,
    ChunkTransit,
    ToolTurnaround,
    Ttft,
    E2e,
}

impl Hop {
    pub const ALL: [Hop; 5] = [
        Hop::RequestPath,
        Hop::ChunkTransit,
        Hop::ToolTurnaround,
        Hop::Ttft,
        Hop::E2e,
    ];

    /// The key in results.json (`latency.<name>`) and in the histogram logs.
    pub fn name(self) -> &'static str {
        match self {
            Hop::RequestPath => "request_path",
            Hop::ChunkTransit => "chunk_transit",
            Hop::ToolTurnaround => "tool_turnaround",
            Hop::Ttft => "ttft",
            Hop::E2e => "e2e",
        }
    }

    /// Its place in [`Hop::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What the bench stage measured in this run as a whole: how it measured (so two runs can be
/// compared only when they measured alike), how noisy the machine was, and the self-check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BenchRun {
    pub settings: BenchSettings,
    /// The order the targets ran in, round by round (each round shuffled afresh).
    #[serde(default)]
    pub round_orders: Vec<Vec<String>>,
    pub noise: Noise,
    /// The measurement self-check: a known delay injected into a backend, read back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub self_check: Vec<SelfCheck>,
    /// Where the system under test, the mock and the client ran, at which priorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confinement: Option<super::Confinement>,
    /// The CPU self-check: a known burn per chunk injected into a backend, read back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpu_self_check: Vec<super::CpuSelfCheck>,
    /// The method's proofs, when `--proofs` asked for them (docs/bench.md#proofs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proofs: Vec<super::Proof>,
    /// How far the load generator itself reaches in this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<super::GeneratorCeiling>,
    /// Chunk overhead at concurrency 1 per provider gap (the pacing sweep).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pacing: Vec<super::PacingPoint>,
    /// The sidecar pool study, when `--pool` asked for one (docs/pool.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<super::PoolStudy>,
    /// Wall time of the stage.
    pub wall_s: f64,
    /// Wall time of its load part (pacing, CPU at load, the sweeps), when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_wall_s: Option<f64>,
}

/// The workload the latency figures were taken on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BenchSettings {
    pub quick: bool,
    pub rounds: u32,
    /// Conversations per target per round.
    pub requests_per_round: u32,
    /// The scenario of the latency rounds (`text`) and its pacing.
    pub scenario: String,
    pub chunks: u32,
    pub ttft_ms: u64,
    pub gap_ms: u64,
    /// The targets measured: the references `direct` and `aisdk-node`, then the backends.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Seeds the round orders, the open-loop arrivals and the bootstrap: the same seed replays
    /// the same schedule.
    pub seed: u64,
    /// Backends run with `--inject-delay-us` (name -> µs held per text chunk): their figures are
    /// a deliberate regression, not the backend's own.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub injected_delay_us: std::collections::BTreeMap<String, u64>,
}

/// How far the machine kept its own schedule while it measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Noise {
    /// How late the mock provider sent its chunks against their schedule (latency rounds).
    pub mock_lateness_us: Option<P50P99>,
    /// 1-minute load average when the stage began and ended (`/proc/loadavg`).
    pub load_avg_start: Option<f64>,
    pub load_avg_end: Option<f64>,
    /// Spread of the reference (`direct`) p50 chunk transit across rounds: max / min of the
    /// round medians. Near 1 on a quiet machine.
    pub direct_round_spread: Option<f64>,
}

/// One backend's figure moved by a delay the harness injected itself
/// (`--inject-delay-us`): measured change against injected, with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SelfCheck {
    pub backend: String,
    pub injected_us: f64,
    /// p50 chunk transit with the delay minus without, median over rounds.
    pub measured_us: f64,
    pub ci95_us: [f64; 2],
    /// `measured_us` within the tolerance the bench stage states (docs/bench.md).
    pub within_tolerance: bool,
}

/// Round trips of the transports themselves, measured the way chunks travel (one small message
/// per wake-up, the receiver parked between messages): the floor under every overhead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Calibration {
    pub uds_rtt_us: Option<P50P99>,
    pub tcp_rtt_us: Option<P50P99>,
    /// One JS -> Rust call through napi (median), `bench/crossing.mjs`.
    pub napi_call_ns: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct P50P99 {
    pub p50: f64,
    pub p99: f64,
}

/// Latency of each hop; absent hops were not measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Latency {
    /// Provider arrival − client send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_path: Option<LatencyStats>,
    /// Client receipt of text-delta k − provider send of chunk k.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_transit: Option<LatencyStats>,
    /// Provider arrival of step n+1 − provider end of step n (`tool-chain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_turnaround: Option<LatencyStats>,
    /// Client receipt of the first text − client send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft: Option<LatencyStats>,
    /// Client receipt of the end of the stream − client send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e: Option<LatencyStats>,
    /// The AI SDK's own reading of the same rounds (ai@7's per-step timing, from the target's
    /// log): absent for a target that runs no AI SDK or ai@6, which has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk_step: Option<SdkStepTiming>,
}

/// ai@7's `performance` of each step of the latency rounds, read inside the target's
/// JavaScript: a second, independent reading beside the client's, which differs from it by
/// everything outside the SDK's step (docs/runtimes.md#two-readings-of-ttft-and-chunk-gaps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SdkStepTiming {
    /// Steps read (one per conversation of the `text` scenario).
    pub steps: u64,
    /// `timeToFirstOutputMs`: from the step's provider call to its first output chunk;
    /// percentiles over the steps.
    pub ttfo_p50_us: f64,
    pub ttfo_p90_us: f64,
    /// `timeBetweenOutputChunksMs.median` of each step, median over the steps; absent when no
    /// step had two output chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_median_p50_us: Option<f64>,
    /// `timeBetweenOutputChunksMs.p90` of each step, median over the steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_p90_p50_us: Option<f64>,
}

impl Latency {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// One hop of one target: percentiles over every sample of every round, and the overheads as
/// medians of per-round differences with bootstrap 95% intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LatencyStats {
    pub n: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// This target's p50 minus the direct path's, per round, median over rounds; absent for
    /// `direct` itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_p50_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_p50_ci95_us: Option<[f64; 2]>,
    /// The same for p99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_p99_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_p99_ci95_us: Option<[f64; 2]>,
    /// The overhead of the inter-process hop alone: this target's p50 minus its in-process
    /// equivalent's ([`LatencyStats::ipc_reference`]), per round, median over rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_overhead_p50_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_overhead_p50_ci95_us: Option<[f64; 2]>,
    /// `aisdk-node` for the Node architectures, `direct` for rust-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_reference: Option<String>,
    /// The IPC overhead as a multiple of the transport's own floor (the calibration round trip
    /// of its socket; one napi call for napi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc_floor_multiple: Option<f64>,
    /// Per round: this target's median and p99 in that round (the gate resamples these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<RoundStats>,
    /// The HdrHistogram interval log of every sample, relative to the run folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram_log: Option<String>,
}

impl LatencyStats {
    /// The percentiles of `n` samples, before any overhead, round or log is known: the
    /// overheads need the reference's rounds, which the caller has.
    pub fn from_percentiles(
        n: u64,
        p50_us: f64,
        p90_us: f64,
        p99_us: f64,
        p999_us: f64,
        max_us: f64,
    ) -> Self {
        Self {
            n,
            p50_us,
            p90_us,
            p99_us,
            p999_us,
            max_us,
            overhead_p50_us: None,
            overhead_p50_ci95_us: None,
            overhead_p99_us: None,
            overhead_p99_ci95_us: None,
            ipc_overhead_p50_us: None,
            ipc_overhead_p50_ci95_us: None,
            ipc_reference: None,
            ipc_floor_multiple: None,
            rounds: Vec::new(),
            histogram_log: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoundStats {
    /// Which round (from 0): a target's rounds and its reference's pair by this index.
    pub round: u32,
    pub n: u64,
    pub p50_us: f64,
    pub p99_us: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    /// Scheduled arrivals at a target rate (Poisson, wrk2-style: latency from the schedule).
    Open,
    /// A fixed number of concurrent conversations.
    Closed,
}

/// One point of a load sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadPoint {
    pub mode: LoadMode,
    /// Conversations per second (open) or concurrent conversations (closed).
    pub target: f64,
    /// Conversations per second completed.
    pub achieved: f64,
    /// Text chunks per second delivered.
    pub chunks_per_s: f64,
    pub conversations: u64,
    /// Chunk transit minus the direct path's at the same point.
    pub chunk_overhead_p50_us: Option<f64>,
    pub chunk_overhead_p99_us: Option<f64>,
    /// From the scheduled start in open loop (coordinated omission corrected).
    pub ttft_p99_us: Option<f64>,
    /// Conversations that did not complete (status, broken stream, error chunk).
    pub errors: u64,
    /// Text chunks the provider sent that the client never saw, and seen out of order.
    pub lost_chunks: u64,
    pub reordered_chunks: u64,
    /// How late the mock sent against its schedule, and how late the load client started a
    /// conversation against its own schedule (open loop), p99.
    pub mock_lateness_p99_us: Option<f64>,
    pub client_lag_p99_us: Option<f64>,
    /// The generator fell behind (mock or client late beyond the stage's limit): the point's
    /// latency is the machine's, not the backend's, and it is left out of saturation.
    pub generator_behind: bool,
    /// Times the point was run again because the generator fell behind (the figures are the
    /// last run's).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// CPU of the target's process tree per conversation served in the steady windows of this
    /// rate (open loop: the saturation search's runs, repeats pooled; its idle CPU subtracted),
    /// ms: the CPU at load taken at this rate (docs/bench.md#capacity). Absent where the
    /// target was not metered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms_per_conversation: Option<f64>,
    /// CPU the load generator (the harness's client threads and the mock) used per text chunk
    /// the client received in the steady windows of this rate (open loop, repeats pooled), µs:
    /// what the client's core pays for this target's chunks, against `direct`'s at the same
    /// rate (docs/bench.md#the-relay-on-one-core). Absent where not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_us_per_chunk: Option<f64>,
    /// Wake-up IPIs (rescheduling and function-call interrupts) the client's CPUs took per text
    /// chunk in the same windows, every process's on those CPUs counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ipis_per_chunk: Option<f64>,
    /// The client's voluntary context switches per text chunk in the same windows: under 1, it
    /// read several chunks a wake-up; near 1 or over, one each
    /// (docs/bench.md#the-relay-on-one-core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_sleeps_per_chunk: Option<f64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// CPU time of the backend's whole process tree (user + system, `/proc`), over the latency
/// rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CpuCost {
    pub ms_per_1000_chunks: f64,
    pub ms_per_conversation: f64,
}
