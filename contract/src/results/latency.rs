//! The bench stage's part of results.json: latency per hop and under load.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
