//! The crash stage's part of results.json: what each injected fault did to each backend, with
//! streams in flight. The method (what "in flight", "survived" and "recovered" mean, and how each
//! time is taken) is `docs/crash.md`.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A fault the crash stage injects. Its name is the key in `backends.<name>.crash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// SIGKILL of the ready line's `runtime_pid` (the sidecar; napi's one process).
    KillRuntime,
    /// SIGSTOP of the runtime: a hang rather than a crash.
    HangRuntime,
    /// The `__crash` tool (scenario `crash-tool`): the JS runtime dies as on an uncaught exception.
    CrashTool,
    /// The `__panic` tool (scenario `panic-tool`): a Rust panic inside the tool.
    PanicTool,
    /// Provider faults, as the mock's scenarios of the same names play them.
    Http500,
    MalformedChunk,
    Truncated,
    Stall,
    /// The client drops one response in flight.
    ClientDisconnect,
    /// Clients that read at a trickle (1 KiB/s) while long streams are produced.
    SlowReader,
    /// Clients that stop reading and keep the connection open.
    StalledReader,
    /// One stream of 10^5 chunks, read at full speed.
    LongStream,
}

impl Fault {
    /// Every fault, in the order reports list them.
    pub const ALL: [Fault; 12] = [
        Self::KillRuntime,
        Self::HangRuntime,
        Self::CrashTool,
        Self::PanicTool,
        Self::Http500,
        Self::MalformedChunk,
        Self::Truncated,
        Self::Stall,
        Self::ClientDisconnect,
        Self::SlowReader,
        Self::StalledReader,
        Self::LongStream,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::KillRuntime => "kill-runtime",
            Self::HangRuntime => "hang-runtime",
            Self::CrashTool => "__crash",
            Self::PanicTool => "__panic",
            Self::Http500 => "http-500",
            Self::MalformedChunk => "malformed-chunk",
            Self::Truncated => "truncated",
            Self::Stall => "stall",
            Self::ClientDisconnect => "client-disconnect",
            Self::SlowReader => "slow-reader",
            Self::StalledReader => "stalled-reader",
            Self::LongStream => "long-stream",
        }
    }

    /// The fault named `name`, as [`Fault::name`] spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Faults played by clients that read slowly, not at all, or a very long stream: measured
    /// by memory and backpressure rather than by survival (docs/readers.md#reader-faults).
    pub fn is_reader_fault(self) -> bool {
        matches!(
            self,
            Self::SlowReader | Self::StalledReader | Self::LongStream
        )
    }

    /// Faults that act on a JavaScript runtime: they cannot apply to a backend without one.
    pub fn needs_js_runtime(self) -> bool {
        matches!(
            self,
            Self::KillRuntime | Self::HangRuntime | Self::CrashTool
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How one crash stage ran (the same for every backend it measured).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CrashRun {
    pub quick: bool,
    /// Streams in flight when each fault was injected (the faulted one included).
    pub streams: u32,
    /// `--sidecars N` given to the backends that take it (`--pool N`); absent for one sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecars: Option<u32>,
    /// The streams in flight: `text` with this many chunks, this far apart.
    pub stream_chunks: u32,
    pub stream_gap_ms: u64,
    /// How often a new chat and a `/health` request were sent after the fault.
    pub sample_interval_ms: u64,
    /// New chats open at once, at most: a tick finding that many sends none.
    pub max_probes_in_flight: u32,
    /// A new request with no answer for this long counts as `hang`.
    pub hang_after_ms: u64,
    /// The longest the stage watched one fault before it stopped the backend.
    pub watch_limit_ms: u64,
    /// `--idle-timeout-s` of the instances that play `stall`.
    pub stall_idle_timeout_s: u64,
    /// The reader faults: affected streams of `slow-reader` and `stalled-reader`, text chunks
    /// of each (all due at once), chunks of `long-stream`'s one stream, how long the affected
    /// readers were held, and their socket receive buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_streams: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_chunks: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_stream_chunks: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_watch_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_rcvbuf_bytes: Option<u32>,
    /// 1-minute load average when the stage began and ended (`/proc/loadavg`).
    pub load_avg_start: Option<f64>,
    pub load_avg_end: Option<f64>,
    pub wall_s: f64,
}

/// What one injected fault did to a backend. Every figure is absent where the fault does not
/// apply or the stage could not measure it; `note` says which and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CrashOutcome {
    pub applicability: Applicability,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The server process was alive and serving (`/health` 200 and a chat completed) when the
    /// stage stopped watching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survived: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blast_radius: Option<BlastRadius>,
    /// How the stream that carried the fault ended (absent for faults aimed at the runtime
    /// rather than at one stream: kill-runtime, hang-runtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faulted_stream: Option<StreamEnd>,
    /// Fault -> the first 503 a new request got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_ms: Option<f64>,
    /// Fault -> `/health` answered 200 again (0 when it never stopped answering 200). With
    /// `recovery_kind = replacement_cold_start`, a fresh process's spawn -> ready line instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_ms: Option<f64>,
    /// Fault -> the first chat sent after it that completed. With `replacement_cold_start`, a
    /// fresh process's spawn -> its first completed chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_chat_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_kind: Option<RecoveryKind>,
    /// What the new requests sent after the fault got, until the stage stopped watching:
    /// `200` (completed), `stream-error`, `stream-cut`, `503`, `503-without-retry-after`,
    /// another status, `connection-refused`, `connection-reset`, `hang`.
    #[serde(default)]
    pub statuses: BTreeMap<String, u64>,
    /// Whether every provider request whose stream died was cancelled by the backend (the
    /// mock saw its client go). Absent when no stream died with its provider request running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_cancelled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderWaste>,
    /// Processes of the backend still alive 1 s after its server exited on SIGTERM, which the
    /// stage then killed (a runtime the fault left behind); absent when the server itself
    /// would not exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leftover_processes: Option<u32>,
    /// Fault -> the stage stopped watching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watched_ms: Option<f64>,
    /// Reader faults: the streams that read slowly, stopped reading, or ran long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_streams: Option<u32>,
    /// Reader faults: the peak of the backend's process tree RSS above its level before the
    /// affected streams began, divided by their number (bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_growth_bytes_per_stream: Option<f64>,
    /// Reader faults: the backend held the provider back (backpressure reached it) rather
    /// than taking everything it sent: at the end of the hold most sampled affected provider
    /// requests were incomplete and had sent nothing for a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_throttled: Option<bool>,
    /// Reader faults: that median share of its text the provider had sent (0-1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_sent_fraction: Option<f64>,
    /// Reader faults: memory still grew in the last quarter of the watch (more than 10% of
    /// the peak growth): no bound was reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_still_growing: Option<bool>,
    /// Reader faults: the healthy streams' median chunk transit beside the affected ones
    /// minus the same in a clean twin run just before (µs), with its 95% interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_overhead_change_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_overhead_change_ci95_us: Option<[f64; 2]>,
}

impl CrashOutcome {
    /// A measured outcome with no figure filled in yet.
    pub fn measured() -> Self {
        Self::empty(Applicability::Measured, None)
    }

    /// A fault that cannot apply to this backend, and why.
    pub fn not_applicable(why: impl Into<String>) -> Self {
        Self::empty(Applicability::NotApplicable, Some(why.into()))
    }

    /// A fault the stage could not measure, and why.
    pub fn not_measured(why: impl Into<String>) -> Self {
        Self::empty(Applicability::NotMeasured, Some(why.into()))
    }

    fn empty(applicability: Applicability, note: Option<String>) -> Self {
        Self {
            applicability,
            note,
            survived: None,
            blast_radius: None,
            faulted_stream: None,
            detect_ms: None,
            recovery_ms: None,
            recovery_chat_ms: None,
            recovery_kind: None,
            statuses: BTreeMap::new(),
            provider_cancelled: None,
            provider: None,
            leftover_processes: None,
            watched_ms: None,
            reader_streams: None,
            peak_growth_bytes_per_stream: None,
            provider_throttled: None,
            provider_sent_fraction: None,
            memory_still_growing: None,
            healthy_overhead_change_us: None,
            healthy_overhead_change_ci95_us: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Applicability {
    Measured,
    /// The fault has nothing to act on in this architecture (no JS runtime in rust-only).
    NotApplicable,
    /// The fault applies but the stage could not measure it (the backend did not start, its
    /// streams never got going); `note` says why.
    NotMeasured,
}

/// How far a fault reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BlastRadius {
    pub scope: BlastScope,
    /// The other streams in flight when the fault hit (every stream, for runtime faults).
    pub bystanders: u32,
    /// Of those, how many did not complete.
    pub bystanders_failed: u32,
    /// How each of them ended ([`StreamEnd`] names) -> how many.
    #[serde(default)]
    pub bystander_ends: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlastScope {
    /// Every stream completed, the faulted one included.
    None,
    /// Only the faulted stream failed.
    Request,
    /// Other streams failed too, but the server kept serving.
    Runtime,
    /// The server stopped serving: it died or hung.
    Process,
}

/// How one stream ended, as the client saw it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StreamEnd {
    /// `finish`, then `[DONE]`, and no broken rule.
    Completed,
    /// A clean failure: an `error` chunk, then `[DONE]`.
    ErrorChunk,
    /// Cut off: the connection ended without `[DONE]`.
    Cut,
    /// `[DONE]` came, but the stream broke the UI stream's rules without an `error` chunk.
    Invalid,
    /// Still open, with nothing arriving, when the stage stopped watching.
    Hung,
    /// The client dropped it on purpose (`client-disconnect`).
    Dropped,
    /// No stream at all: a non-200 answer, or the request failed.
    NotStarted,
}

impl StreamEnd {
    pub fn name(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::ErrorChunk => "error_chunk",
            Self::Cut => "cut",
            Self::Invalid => "invalid",
            Self::Hung => "hung",
            Self::Dropped => "dropped",
            Self::NotStarted => "not_started",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryKind {
    /// `/health` never stopped answering 200: nothing to recover from.
    Unaffected,
    /// The backend came back by itself (its supervisor replaced the runtime).
    SelfHealed,
    /// The process died and nothing in the architecture restarts it (napi, by design). The
    /// recovery figures are a fresh process's cold start, measured right after: the least an
    /// outside supervisor would need once it noticed the exit.
    ReplacementColdStart,
    /// Still not serving when the stage stopped watching.
    NotRecovered,
}

/// What the provider did for streams that died: whether their requests were cancelled, and
/// the tokens it went on generating for nobody.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProviderWaste {
    /// Streams that did not complete while their provider request was still running.
    pub dead_streams: u32,
    /// Of those, the provider requests the backend cancelled (the mock saw its client go).
    pub cancelled: u32,
    /// The slowest cancellation: the client's stream ended -> the provider saw the hang-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_ms_max: Option<f64>,
    /// Text frames the provider sent after the client had received its last delta of that
    /// stream (tool-call fragments are consumed by the runtime, not wasted).
    pub wasted_chunks: u64,
    /// The completion tokens of those frames, in the mock provider's accounting of one token
    /// per delta frame (so equal to `wasted_chunks` here; a real provider's differ).
    pub wasted_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_round_trip() {
        for fault in Fault::ALL {
            assert_eq!(Fault::from_name(fault.name()), Some(fault));
        }
        assert_eq!(Fault::from_name("kill"), None);
        assert!(Fault::CrashTool.needs_js_runtime() && !Fault::PanicTool.needs_js_runtime());
    }

    #[test]
    fn a_fault_that_cannot_apply_records_no_figure() {
        let json = serde_json::to_value(CrashOutcome::not_applicable("no JS runtime")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"applicability": "not_applicable", "note": "no JS runtime", "statuses": {}})
        );
    }
}
