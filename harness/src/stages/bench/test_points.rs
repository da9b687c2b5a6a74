//! What the bench's unit tests build their runs from: one open-loop load point at a rate, and
//! an empty run. A test sets only the figures it is about, with struct update syntax
//! (`LoadPoint { errors: 3, ..open(50.0) }`), so a field added to `LoadPoint` is added here once.

use contract::results::{LoadMode, LoadPoint, Machine, Results, RunInfo, Versions};

/// An open-loop point at `rate` conversations/s of 20-chunk conversations: the offered rate
/// achieved, ten conversations, no error, the generator on time, nothing else measured.
pub fn open(rate: f64) -> LoadPoint {
    LoadPoint {
        mode: LoadMode::Open,
        target: rate,
        achieved: rate,
        chunks_per_s: rate * 20.0,
        conversations: 10,
        chunk_overhead_p50_us: None,
        chunk_overhead_p99_us: None,
        ttft_p99_us: None,
        errors: 0,
        lost_chunks: 0,
        reordered_chunks: 0,
        mock_lateness_p99_us: None,
        client_lag_p99_us: None,
        generator_behind: false,
        retries: 0,
        cpu_ms_per_conversation: None,
        generator_us_per_chunk: None,
        client_ipis_per_chunk: None,
        client_sleeps_per_chunk: None,
    }
}

/// A run with nothing in it yet.
pub fn results(profile: &str) -> Results {
    Results::new(RunInfo {
        id: "t".into(),
        git_sha: "abc".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        profile: profile.into(),
        machine: Machine::default(),
        versions: Versions::default(),
        runtimes: Default::default(),
    })
}
