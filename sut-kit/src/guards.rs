//! The test stack's one set of hang guards: how long any wait of a test or a case may last
//! before it counts as a hang, and how often a waiting test looks again.
//!
//! A guard is far above what a working system takes, so it fails a stuck test instead of
//! blocking CI and never decides an outcome: how fast something happens is for the bench and
//! the crash study to measure, not for a test to assert.

use std::future::Future;
use std::time::{Duration, Instant};

/// Any one wait: an answer read to its end, a sidecar restarted, a process gone, the provider
/// seeing a hang-up. The slowest healthy one, a sidecar restart, takes well under a second (a
/// start is 90-140 ms to the ready line: backends/sidecar/README.md, "Bundle").
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// How often a test polls for a state it waits for (a restarted member, a process gone): short
/// enough to add nothing noticeable to a test, long enough not to busy a shared core.
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// `what` did not happen within [`HANG_GUARD`].
#[derive(Debug, thiserror::Error)]
#[error("{what} did not happen within {HANG_GUARD:?}")]
pub struct Hung {
    pub what: String,
}

/// Polls `condition` every [`POLL_INTERVAL`] until it holds; how long that took, or [`Hung`]
/// naming `what` after [`HANG_GUARD`]. Write the condition as `|| async move { ... }` over
/// references.
pub async fn wait_until<F, Fut>(what: &str, mut condition: F) -> Result<Duration, Hung>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if condition().await {
            return Ok(started.elapsed());
        }
        if started.elapsed() >= HANG_GUARD {
            return Err(Hung { what: what.into() });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// `future`'s output, or [`Hung`] naming `what` after [`HANG_GUARD`].
pub async fn within_guard<T>(what: &str, future: impl Future<Output = T>) -> Result<T, Hung> {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .map_err(|_| Hung { what: what.into() })
}
