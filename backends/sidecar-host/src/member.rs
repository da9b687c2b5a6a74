//! One pool member: a sidecar slot, its state as routing sees it, and the task that keeps it
//! alive.
//!
//! The supervisor learns of a crash from the kernel (the child's exit, within a millisecond)
//! and of a hang from missed health probes. Either way the member stops taking requests at
//! once, and comes back after an exponential backoff that resets once it has stayed healthy.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::client::{ProbeError, SidecarClient};
use crate::hang::{self, BUSY_LIMIT, HangWatch, Observation, Verdict};
use crate::sidecar::{Sidecar, SidecarSettings, StartError};
use crate::transport::{Endpoint, Transport};

pub use crate::hang::{HANG_DETECTION_BOUND, MISSES_BEFORE_RESTART, PROBE_INTERVAL, PROBE_TIMEOUT};
/// First restart delay: short, because a single crash should cost well under a second.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// Ceiling of the restart delay for a sidecar that crashes in a loop.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A sidecar that stayed up this long is healthy again: its next crash restarts it fast.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);
/// A start's allowance in `Retry-After`, added to the backoff: a bundled sidecar takes 90-140 ms
/// to its ready line (p50, busy 2-core machine: backends/sidecar/README.md), and a slow start
/// must not make a client retry too early. (`Retry-After` is whole seconds, so this mostly
/// decides whether a restart is announced as 1 s or 2 s.)
const EXPECTED_START: Duration = Duration::from_millis(500);
/// SIGTERM to SIGKILL when the server shuts down (docs/design.md#shutdown: everything gone within 2 s).
const STOP_GRACE: Duration = Duration::from_millis(1_000);

/// The member as routing sees it.
#[derive(Debug)]
pub enum Phase<E: Endpoint> {
    /// Serving through this client.
    Up { client: Arc<SidecarClient<E>> },
    /// Not serving; expected back around `back_at`.
    Down { back_at: Instant },
}

impl<E: Endpoint> Clone for Phase<E> {
    fn clone(&self) -> Self {
        match self {
            Self::Up { client } => Self::Up {
                client: client.clone(),
            },
            Self::Down { back_at } => Self::Down { back_at: *back_at },
        }
    }
}

#[derive(Debug)]
pub struct Member<E: Endpoint> {
    pub index: usize,
    phase: Mutex<Phase<E>>,
    in_flight: AtomicUsize,
    restarts: AtomicUsize,
    /// The managed sidecar's pid, 0 while there is none.
    pid: AtomicU32,
    /// Why the last start failed, when retrying cannot help (no Node, no bundle).
    hopeless: Mutex<Option<String>>,
    /// Wakes the supervisor for a probe now (a proxy connect failure).
    probe_now: Notify,
    /// Body frames received from this member's streams: proof of life that load cannot delay.
    activity: AtomicU64,
}

impl<E: Endpoint> Member<E> {
    pub fn new(index: usize) -> Self {
        Self {
            index,
            phase: Mutex::new(Phase::Down {
                back_at: Instant::now() + EXPECTED_START,
            }),
            in_flight: AtomicUsize::new(0),
            restarts: AtomicUsize::new(0),
            pid: AtomicU32::new(0),
            hopeless: Mutex::new(None),
            probe_now: Notify::new(),
            activity: AtomicU64::new(0),
        }
    }

    pub fn phase(&self) -> Phase<E> {
        self.phase
            .lock()
            .map_or_else(|p| p.into_inner().clone(), |p| p.clone())
    }

    pub(crate) fn set_phase(&self, phase: Phase<E>) {
        match self.phase.lock() {
            Ok(mut p) => *p = phase,
            Err(poisoned) => *poisoned.into_inner() = phase,
        }
    }

    fn set_down_for(&self, delay: Duration) {
        self.set_phase(Phase::Down {
            back_at: Instant::now() + delay,
        });
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(crate) fn acquire(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// The running sidecar's pid (managed mode only).
    pub fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::Relaxed)).filter(|&p| p != 0)
    }

    /// Why starting this member cannot succeed without the operator (missing Node or bundle).
    pub fn hopeless(&self) -> Option<String> {
        self.hopeless.lock().map_or(None, |h| h.clone())
    }

    /// How many times the sidecar was restarted after a crash or hang.
    pub fn restarts(&self) -> usize {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Something arrived from this member's sidecar on a relayed stream: it is not hung.
    pub fn saw_activity(&self) {
        self.activity.fetch_add(1, Ordering::Relaxed);
    }

    fn activity(&self) -> u64 {
        self.activity.load(Ordering::Relaxed)
    }

    /// A request could not connect: stop routing here and let the supervisor look now.
    pub fn report_connect_failure(&self) {
        if matches!(self.phase(), Phase::Up { .. }) {
            self.set_down_for(PROBE_INTERVAL);
        }
        self.probe_now.notify_one();
    }
}

/// Exponential restart delay.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self {
            next: BACKOFF_INITIAL,
        }
    }

    fn take(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        delay
    }

    fn reset(&mut self) {
        self.next = BACKOFF_INITIAL;
    }
}

enum Ended {
    Shutdown,
    Exited(String),
    Hung(ProbeError),
}

/// Keeps member `member`'s sidecar running until `shutdown`, then stops it.
pub async fn supervise_managed<T: Transport>(
    member: Arc<Member<T::Endpoint>>,
    settings: Arc<SidecarSettings>,
    transport: Arc<T>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::new();
    let index = member.index;
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let launched = tokio::select! {
            _ = shutdown.cancelled() => return,
            launched = Sidecar::start(&settings, &*transport, index) => launched,
        };
        let mut sidecar = match launched {
            Ok(sidecar) => sidecar,
            Err(e) => {
                if matches!(e, StartError::EntryMissing(_) | StartError::Spawn { .. })
                    && let Ok(mut hopeless) = member.hopeless.lock()
                {
                    *hopeless = Some(e.to_string());
                }
                let delay = backoff.take();
                tracing::error!(
                    member = index,
                    "sidecar failed to start: {e}; retrying in {delay:?}"
                );
                member.set_down_for(delay + EXPECTED_START);
                if sleep_or_shutdown(delay, &shutdown).await {
                    return;
                }
                continue;
            }
        };
        if let Ok(mut hopeless) = member.hopeless.lock() {
            *hopeless = None;
        }
        let client = Arc::new(SidecarClient::new(sidecar.endpoint.clone()));
        tracing::info!(member = index, pid = sidecar.pid, addr = %sidecar.endpoint, "sidecar ready");
        member.pid.store(sidecar.pid, Ordering::Relaxed);
        member.set_phase(Phase::Up {
            client: client.clone(),
        });
        let up_since = Instant::now();
        let pid = sidecar.pid;
        let ended = tokio::select! {
            _ = shutdown.cancelled() => Ended::Shutdown,
            status = sidecar.wait() => Ended::Exited(status),
            miss = watch_health(&member, &client, pid) => Ended::Hung(miss),
        };
        if up_since.elapsed() >= BACKOFF_RESET_AFTER {
            backoff.reset();
        }
        let delay = backoff.take();
        // Unroutable first, before any await: requests must get 503, not a dead socket.
        member.set_down_for(delay + EXPECTED_START);
        member.pid.store(0, Ordering::Relaxed);
        match ended {
            Ended::Shutdown => {
                sidecar.terminate(STOP_GRACE).await;
                return;
            }
            Ended::Exited(status) => {
                tracing::warn!(
                    member = index,
                    pid = sidecar.pid,
                    "sidecar exited ({status}); restarting in {delay:?}"
                );
            }
            Ended::Hung(miss) => {
                tracing::warn!(
                    member = index,
                    pid = sidecar.pid,
                    "sidecar stopped answering ({miss}); killing it, restarting in {delay:?}"
                );
                sidecar.kill().await;
            }
        }
        member.restarts.fetch_add(1, Ordering::Relaxed);
        if sleep_or_shutdown(delay, &shutdown).await {
            return;
        }
    }
}

/// Probes a separately started sidecar; it cannot be restarted from here, only waited for.
pub async fn supervise_external<E: Endpoint>(
    member: Arc<Member<E>>,
    client: Arc<SidecarClient<E>>,
    shutdown: CancellationToken,
) {
    let mut misses = 0;
    let mut was_up = false;
    loop {
        match client.probe(PROBE_TIMEOUT).await {
            Ok(()) => {
                misses = 0;
                if !was_up {
                    tracing::info!(addr = %client.endpoint(), "external sidecar is up");
                }
                was_up = true;
                member.set_phase(Phase::Up {
                    client: client.clone(),
                });
            }
            Err(e) => {
                misses += 1;
                if matches!(e, ProbeError::Refused { .. }) || misses >= MISSES_BEFORE_RESTART {
                    if was_up {
                        tracing::warn!("external sidecar is down: {e}; start it again");
                    }
                    was_up = false;
                    member.set_down_for(PROBE_INTERVAL);
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PROBE_INTERVAL) => {}
            _ = member.probe_now.notified() => {}
        }
    }
}

/// Probes until the sidecar is hung by [`HangWatch`]'s rule; returns the last miss. A probe
/// unanswered within [`PROBE_TIMEOUT`] is a miss, and its answer is waited for again rather
/// than abandoned: a new probe would dial a new connection, which a busy Node event loop
/// accepts only after every connection queued before it. A refused connection or an unhealthy
/// answer is a miss too, probed again only after the interval (the process's exit, seen by
/// the kernel, is what ends a dead sidecar's watch).
async fn watch_health<E: Endpoint>(
    member: &Member<E>,
    client: &Arc<SidecarClient<E>>,
    pid: u32,
) -> ProbeError {
    let mut watch = HangWatch::default();
    // On the `frames` wire a sidecar's chunks arrive whether or not their clients read them;
    // on `sse` only as they do.
    let activity = || member.activity().wrapping_add(client.frames_received());
    let cpu = || hang::js_thread_cpu_ticks(pid);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(PROBE_INTERVAL) => {}
            _ = member.probe_now.notified() => {}
        }
        let asked = Instant::now();
        // Its own deadline is never reached first: the busy limit declares the sidecar hung.
        let probe = client.probe(BUSY_LIMIT + PROBE_TIMEOUT);
        tokio::pin!(probe);
        loop {
            let (bytes_before, cpu_before) = (activity(), cpu());
            let waited = tokio::time::timeout(PROBE_TIMEOUT, &mut probe).await;
            let seen = Observation {
                answered: matches!(waited, Ok(Ok(()))),
                streamed: activity() != bytes_before,
                progressed: matches!((cpu_before, cpu()), (Some(a), Some(b)) if b > a),
            };
            let verdict = watch.observe(seen);
            match waited {
                Ok(Ok(())) => {
                    if !matches!(member.phase(), Phase::Up { .. }) {
                        member.set_phase(Phase::Up {
                            client: client.clone(),
                        });
                    }
                    break;
                }
                Ok(Err(e)) => {
                    if matches!(e, ProbeError::Refused { .. }) {
                        member.set_down_for(PROBE_INTERVAL);
                    }
                    if verdict == Verdict::Hung {
                        return e;
                    }
                    break;
                }
                Err(_) if verdict == Verdict::Hung => {
                    return ProbeError::Timeout {
                        addr: client.endpoint().to_string(),
                        timeout: asked.elapsed(),
                    };
                }
                Err(_) => {}
            }
        }
    }
}

/// Sleeps; `true` when the shutdown came first.
async fn sleep_or_shutdown(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(delay) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling_and_resets() {
        let mut backoff = Backoff::new();
        let delays: Vec<Duration> = (0..8).map(|_| backoff.take()).collect();
        assert_eq!(delays[0], BACKOFF_INITIAL);
        assert_eq!(delays[1], BACKOFF_INITIAL * 2);
        assert!(delays.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*delays.last().unwrap_or(&Duration::ZERO), BACKOFF_MAX);
        backoff.reset();
        assert_eq!(backoff.take(), BACKOFF_INITIAL);
    }

    #[test]
    fn a_connect_failure_takes_a_member_out_until_its_supervisor_looks() {
        let member = Member::new(0);
        let client = Arc::new(SidecarClient::new(crate::testing::NowhereEndpoint));
        member.set_phase(Phase::Up { client });
        member.report_connect_failure();
        assert!(matches!(member.phase(), Phase::Down { .. }));
    }
}
