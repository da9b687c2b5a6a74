//! Deployments the harness did not start (`--target NAME=URL`) and load driven from many
//! machines (`load.distributed`): what can be measured depends on whether the client and the
//! mock provider read one clock (docs/distributed.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::LatencyStats;

/// What the bench measured of an external target (`backends.<NAME>.external_figures`).
///
/// Which clock each figure is read on: `ttft_us`, `e2e_us` and `gap_us` only on the client's
/// clock (valid on any machine); `chunk_transit_us` joins the client's clock with the mock's and
/// is present only when both run on one machine (`shared_clock`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExternalFigures {
    /// The deployment's base URL (where `POST /api/chat` goes).
    pub url: String,
    /// The mock provider the deployment was pointed at (its `/__mock/timeline`).
    pub mock_url: String,
    /// The mock answers on a loopback address, so its `CLOCK_MONOTONIC` is the client's.
    pub shared_clock: bool,
    /// The scenario played, with its scripted pacing.
    pub scenario: String,
    pub chunks: u32,
    pub scripted_ttft_ms: u64,
    pub scripted_gap_ms: u64,
    /// Conversations played one at a time, and how many did not complete.
    pub conversations: u64,
    pub errors: u64,
    pub lost_chunks: u64,
    pub reordered_chunks: u64,
    /// Client clock: first text − send (includes the scripted TTFT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_us: Option<LatencyStats>,
    /// Client clock: `[DONE]` − send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_us: Option<LatencyStats>,
    /// Client clock: gap between consecutive text chunks as received; read against
    /// `scripted_gap_ms` (the p50 minus the scripted gap is the added jitter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_us: Option<LatencyStats>,
    /// Shared clock only: client receipt of text chunk k − the mock's send of chunk k.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_transit_us: Option<LatencyStats>,
    /// Open-loop points at fixed rates: capacity as the highest rate held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<ExternalRate>,
    /// The highest rate of `rates` with no error and no lost chunk, and its gap p99 within the
    /// bench's stutter limit; absent when none held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_rps: Option<f64>,
}

/// One open-loop point against an external target (client clock; TTFT from the schedule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExternalRate {
    pub rate_rps: f64,
    pub conversations: u64,
    pub errors: u64,
    pub lost_chunks: u64,
    pub ttft_p50_us: Option<f64>,
    pub ttft_p99_us: Option<f64>,
    pub gap_p99_us: Option<f64>,
    /// No error, no lost chunk, gap p99 under the stutter limit.
    pub held: bool,
}

/// Load runs that are not the bench's own sweeps (`harness load`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadRuns {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<Distributed>,
}

/// A fixed-rate open-loop run driven by a Locust master and its workers; every figure merged
/// from the workers' raw samples (never an average of their percentiles).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Distributed {
    /// The engine and its pinned version (`locust 2.47.0`).
    pub engine: String,
    pub target: String,
    pub url: String,
    /// Workers asked for, and workers whose final report arrived.
    pub workers: u32,
    pub workers_reported: u32,
    /// Conversations per second offered, all workers together.
    pub rate_rps: f64,
    pub seconds: f64,
    /// The scenario every worker played, and its scripted gap.
    pub scenario: String,
    pub scripted_gap_ms: u64,
    /// Conversations the schedule held (rate × seconds), started, and completed.
    pub scheduled: u64,
    pub started: u64,
    pub completed: u64,
    pub errors: u64,
    pub lost_chunks: u64,
    pub reordered_chunks: u64,
    /// Worker clock: first text − scheduled start (coordinated omission corrected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_us: Option<LatencyStats>,
    /// Worker clock: gap between consecutive text chunks as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_us: Option<LatencyStats>,
    /// Workers that never sent their final report, and the share of the schedule no report
    /// accounts for.
    pub lost: LostShare,
    /// Some worker's figures are missing: the percentiles cover only what was reported.
    pub partial: bool,
    /// The harness's own client at the same rate against the same target, for comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness_client: Option<ClientFigures>,
    /// The two clients in alternating windows of one run, compared pair by pair; absent when
    /// they ran in one block each (workers on other machines share no clock to alternate by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interleaved: Option<Interleaved>,
}

/// Locust's workers and the harness's own client taking turns: window k of Locust, then window
/// k of the harness, `windows` times, so that a machine that gets busier or quieter during the
/// run moves both alike (docs/distributed.md#agreement-between-the-clients).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Interleaved {
    pub windows: u32,
    /// Length of one client's window (its arrivals); the other client plays between.
    pub window_s: f64,
    /// Locust's figure over the harness's, per pair of adjacent windows.
    pub ttft_p50: RelativeDifference,
    pub gap_p99: RelativeDifference,
    /// The size of the harness's own move from one window to the next: the median of |window
    /// k+1 / window k − 1| (always ≥ 0). What the figure does with no change of client, the
    /// floor under any agreement between two.
    pub ttft_p50_window_to_window: RelativeDifference,
    pub gap_p99_window_to_window: RelativeDifference,
    pub pairs: Vec<WindowPair>,
}

/// A relative difference (0.1 is +10%) over window pairs: the median and its 95% bootstrap
/// interval (absent for fewer than two pairs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RelativeDifference {
    pub median: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<[f64; 2]>,
    pub pairs: u32,
}

/// One Locust window and the harness window after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WindowPair {
    pub locust_ttft_p50_us: Option<f64>,
    pub harness_ttft_p50_us: Option<f64>,
    pub locust_gap_p99_us: Option<f64>,
    pub harness_gap_p99_us: Option<f64>,
}

impl Distributed {
    /// One line saying what the distributed run was and how much of it reported, as the
    /// terminal, summary.md and the report all print it.
    pub fn headline(&self) -> String {
        let partial = if self.partial {
            format!(
                " (partial: {:.1}% of the schedule unreported)",
                self.lost.share * 100.0
            )
        } else {
            String::new()
        };
        format!(
            "{} against {} at {}/s for {} s, {} of {} workers reported{partial}",
            self.engine,
            self.target,
            self.rate_rps,
            self.seconds,
            self.workers_reported,
            self.workers
        )
    }
}

/// What a run lost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LostShare {
    pub workers: u32,
    /// Fraction (0..1) of the scheduled conversations that no worker reported.
    pub share: f64,
}

/// The harness's own open-loop client at a rate, read the way the workers read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClientFigures {
    pub conversations: u64,
    pub errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_us: Option<LatencyStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_us: Option<LatencyStats>,
}
