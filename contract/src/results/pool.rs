//! The sidecar pool as an axis of the bench (`harness bench --pool 1,2,4`): the backends that
//! run Node sidecars, each with 1, 2 and 4 of them confined to the system under test's CPUs,
//! read by the load stage's own method (docs/pool.md). The notes' open question 4 guessed "1
//! sidecar per 100 concurrent users"; `streams_held` is the measured figure beside it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a bench run with `--pool` measured (`bench.pool`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PoolStudy {
    /// The pool sizes asked for (`--sidecars N` each; 1 is the backend as it runs by default).
    pub sizes: Vec<u32>,
    /// The p99 chunk overhead (over `direct` at the same rate) the capacity was searched
    /// against: the bench's stutter limit, in µs.
    pub overhead_limit_us: f64,
    /// The scripted length of one conversation (TTFT + the gaps), in ms: by Little's law the
    /// streams in flight at a rate are the rate × this length.
    pub conversation_ms: f64,
    /// The notes' rule of thumb, concurrent users per sidecar, which `streams_held` answers.
    pub notes_streams_per_sidecar: u32,
    /// The CPUs every sidecar and server was confined to.
    pub sut_cpus: Vec<u32>,
    /// One row per backend and pool size, in that order.
    pub rows: Vec<PoolRow>,
}

/// One backend run with one pool size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PoolRow {
    /// The backend (`unix`, `http`).
    pub backend: String,
    pub sidecars: u32,
    /// The bench target whose figures these are (`unix` for one sidecar, `unix+pool2` for
    /// two): its whole entry is `backends.<target>`.
    pub target: String,
    /// The saturation search's capacity, conversations/s for the whole system under test, and
    /// the highest healthy and lowest failing rate it lies between; absent when no search
    /// result was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_rps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_rps_ci95: Option<[f64; 2]>,
    /// No failing rate was found: `capacity_rps` is a lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_bound: Option<bool>,
    /// Streams in flight at `capacity_rps` (× `conversation_ms`): how many concurrent streams
    /// the pool holds before its p99 chunk overhead passes the limit; and that per sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams_held: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams_held_per_sidecar: Option<f64>,
    /// Capacity relative to the same backend's one-sidecar row of this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_vs_one: Option<f64>,
    /// The closed-loop points: p99 chunk overhead with N streams in flight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed: Vec<PoolClosedPoint>,
    /// CPU per conversation at load (every sidecar and the server together), in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms_per_conversation: Option<f64>,
    /// Resident memory of the whole tree at its peak, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_mib: Option<f64>,
}

/// A closed-loop point of one pool row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PoolClosedPoint {
    /// Conversations in flight.
    pub in_flight: u32,
    /// Chunk transit p99 minus `direct`'s with one in flight (the bench's closed-loop floor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_overhead_p99_us: Option<f64>,
    pub errors: u64,
    pub lost_chunks: u64,
}
