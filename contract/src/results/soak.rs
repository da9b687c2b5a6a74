//! The soak stage's part of results.json: a steady open-loop load held for minutes while each
//! backend's process tree is sampled every second, and the growth slope of its memory fitted
//! after warm-up. The method (the load's mix, the warm-up, the fit and its interval, the
//! verdict) is `docs/soak.md`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The shortest warm-up after which the verdict judges slopes, in seconds. Measured: the JS
/// backends' resident set climbs from 80-100 MB to 180-190 MB over their first 90 s of
/// steady load (V8's heap growing to its working size; docs/soak.md#measured), so a one-minute
/// soak fits warm-up, not a trend, and would call every JS backend leaking. A soak whose
/// warm-up is shorter (under 8 minutes at the default share) records its slopes and judges
/// its errors only.
pub const MIN_JUDGED_WARMUP_S: f64 = 120.0;

/// How the soak stage ran (`soak` at the top of results.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SoakRun {
    pub quick: bool,
    /// How long the load was held, per backend.
    pub minutes: f64,
    /// New conversations per second sent to each backend (open loop: on schedule, whether or
    /// not earlier ones had answered).
    pub rate_rps: f64,
    /// The share of each scenario in the load, by scenario name (`text`, `tool-chain`, `long`).
    pub mix: BTreeMap<String, u32>,
    /// The first seconds left out of the fit (start-up, lazy initialisation, pools filling).
    pub warmup_s: f64,
    pub sample_interval_ms: u64,
    /// The backends were soaked at the same time, each on its own instance (the stage measures
    /// memory over time, not latency, so they may share the cores).
    pub concurrent: bool,
    pub load_avg_start: Option<f64>,
    pub load_avg_end: Option<f64>,
    pub wall_s: f64,
}

impl SoakRun {
    /// Whether the verdict judged growth, not errors alone: the warm-up was at least
    /// [`MIN_JUDGED_WARMUP_S`].
    pub fn growth_judged(&self) -> bool {
        self.warmup_s >= MIN_JUDGED_WARMUP_S
    }
}

/// One backend's soak (`backends.<name>.soak`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Soak {
    /// How long the load was held.
    pub minutes: f64,
    /// New conversations per second (open loop).
    pub rate_rps: f64,
    /// Conversations sent.
    pub requests: u64,
    /// Conversations that did not complete (any status but 200, a stream that ended in an
    /// `error` chunk, was cut or broke the stream rules, no answer within the time limit, or
    /// one not sent because too many were still open), by kind.
    pub errors: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_kinds: BTreeMap<String, u64>,
    /// Growth of the process tree's resident set after warm-up, in MB (10^6 bytes) per hour:
    /// the least-squares slope over the samples; absent with fewer than 3 samples after warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_slope_mb_per_h: Option<f64>,
    /// Its 95% interval (heteroskedasticity- and autocorrelation-consistent standard error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_slope_ci95_mb_per_h: Option<[f64; 2]>,
    /// The same for the proportional set size (shared pages split among the tree's processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss_slope_mb_per_h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss_slope_ci95_mb_per_h: Option<[f64; 2]>,
    /// The same for the JavaScript heap in use (`heapUsed` of every runtime of the backend,
    /// summed): memory that live objects, and garbage not yet collected, hold. Flat while the
    /// resident set climbs means the allocator, not the program, holds the growth; absent
    /// without a JavaScript runtime (docs/soak.md#the-samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_used_slope_mb_per_h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_used_slope_ci95_mb_per_h: Option<[f64; 2]>,
    /// Growth of open file descriptors per hour after warm-up (a leak of connections shows
    /// here before it shows in memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd_slope_per_h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd_slope_ci95_per_h: Option<[f64; 2]>,
    /// No error, and no slope significantly above zero (docs/soak.md#verdict).
    pub passed: bool,
    /// Why it passed or failed, in words from the figures.
    pub verdict: String,
    /// The process tree every sample interval, from the start of the load (empty when it was
    /// not sampled: `not_sampled` says why).
    pub samples: Vec<SoakSample>,
    /// Why memory, descriptors and the heap were not sampled, so that their slopes are absent
    /// rather than zero: an external target's processes are not this machine's to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_sampled: Option<String>,
    /// Latency over the soak on the client's clock (external targets: what can be measured from
    /// outside besides the errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<SoakDrift>,
}

/// How the latency of one backend moved over its soak, on the client's clock: the `text`
/// conversations only (the mix's other scenarios take other times to their first text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SoakDrift {
    /// The soak in equal windows of time, in order.
    pub windows: Vec<SoakWindow>,
    /// The least-squares slope of TTFT after warm-up, in ms per hour, and its 95% interval
    /// (the memory slopes' fit); absent with fewer than 3 conversations after warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_slope_ms_per_h: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_slope_ci95_ms_per_h: Option<[f64; 2]>,
}

/// The conversations sent within one window of the soak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SoakWindow {
    /// Seconds since the load began.
    pub start_s: f64,
    pub end_s: f64,
    /// Conversations of every scenario sent in the window, and those that did not complete.
    pub conversations: u64,
    pub errors: u64,
    /// TTFT (first text − send) and end to end (end of stream − send) of its completed `text`
    /// conversations; absent without any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p50_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p99_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_p50_us: Option<f64>,
}

/// One sample of a backend's process tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SoakSample {
    /// Seconds since the load began.
    pub t_s: f64,
    pub rss_bytes: u64,
    pub pss_bytes: u64,
    /// Open file descriptors of every process of the tree.
    pub fds: u32,
    /// Those of them that are sockets.
    pub sockets: u32,
    /// Conversations open at that moment.
    pub in_flight: u32,
    /// The backend's JavaScript runtimes' own figures (`process.memoryUsage()` from
    /// `GET /health/runtime`, summed over its runtimes), in bytes; absent without a runtime or
    /// when none answered within the sample's deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap: Option<HeapSample>,
}

/// The JavaScript heap at one sample, summed over a backend's runtimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HeapSample {
    /// Runtimes that answered.
    pub runtimes: u32,
    /// V8's heap as reserved, and the part of it in use (live objects and uncollected garbage).
    pub heap_total_bytes: u64,
    pub heap_used_bytes: u64,
    /// C++ memory bound to JavaScript objects, Buffers included.
    pub external_bytes: u64,
    /// `ArrayBuffer`s and Buffers (part of `external_bytes`).
    pub array_buffers_bytes: u64,
}
