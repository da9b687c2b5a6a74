//! `--sidecars N`: N supervised sidecars behind least-connections routing.
//!
//! A request goes to the live member with the fewest streams in flight (ties rotate), the way
//! nginx's `least_conn` does; a member that is down is skipped while its supervisor restarts
//! it. The pool is unavailable only when no member is up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::client::SidecarClient;
use crate::member::{self, Member, Phase};
use crate::sidecar::SidecarSettings;
use crate::transport::{Endpoint, Transport};

#[derive(Debug)]
pub struct Pool<E: Endpoint> {
    members: Vec<Arc<Member<E>>>,
    rotation: AtomicUsize,
    supervisors: tokio::sync::Mutex<JoinSet<()>>,
    shutdown: CancellationToken,
}

/// A routed request's claim on a member; dropping it ends the request's count.
#[derive(Debug)]
pub struct Lease<E: Endpoint> {
    member: Arc<Member<E>>,
    pub client: Arc<SidecarClient<E>>,
}

impl<E: Endpoint> Lease<E> {
    pub fn member(&self) -> &Member<E> {
        &self.member
    }
}

impl<E: Endpoint> Drop for Lease<E> {
    fn drop(&mut self) {
        self.member.release();
    }
}

/// Whether the pool can serve, and if not, when to ask again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolHealth {
    Up,
    Down { retry_after: Duration },
}

impl<E: Endpoint> Pool<E> {
    /// Starts `size` supervised sidecars over `transport`. Call from within the runtime, on a
    /// worker thread (see `contract::lifeline`).
    pub fn managed<T: Transport<Endpoint = E>>(
        size: usize,
        settings: SidecarSettings,
        transport: Arc<T>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let settings = Arc::new(settings);
        let pool = Self::empty(size.max(1), shutdown);
        let mut set = JoinSet::new();
        for m in &pool.members {
            set.spawn(member::supervise_managed(
                m.clone(),
                settings.clone(),
                transport.clone(),
                pool.shutdown.clone(),
            ));
        }
        pool.install(set)
    }

    /// Connects to sidecars started by someone else (`--sidecar external`).
    pub fn external(addrs: Vec<E>, shutdown: CancellationToken) -> Arc<Self> {
        let pool = Self::empty(addrs.len().max(1), shutdown);
        let mut set = JoinSet::new();
        for (m, addr) in pool.members.iter().zip(addrs) {
            set.spawn(member::supervise_external(
                m.clone(),
                Arc::new(SidecarClient::new(addr)),
                pool.shutdown.clone(),
            ));
        }
        pool.install(set)
    }

    fn empty(size: usize, shutdown: CancellationToken) -> Self {
        Self {
            members: (0..size).map(|i| Arc::new(Member::new(i))).collect(),
            rotation: AtomicUsize::new(0),
            supervisors: tokio::sync::Mutex::new(JoinSet::new()),
            shutdown: shutdown.child_token(),
        }
    }

    fn install(mut self, set: JoinSet<()>) -> Arc<Self> {
        *self.supervisors.get_mut() = set;
        Arc::new(self)
    }

    pub fn members(&self) -> &[Arc<Member<E>>] {
        &self.members
    }

    /// The live member with the fewest requests in flight.
    pub fn pick(&self) -> Option<Lease<E>> {
        let n = self.members.len();
        let start = self.rotation.fetch_add(1, Ordering::Relaxed) % n;
        let (member, client) = (0..n)
            .map(|i| &self.members[(start + i) % n])
            .filter_map(|m| match m.phase() {
                Phase::Up { client } => Some((m, client)),
                Phase::Down { .. } => None,
            })
            .min_by_key(|(m, _)| m.in_flight())?;
        member.acquire();
        Some(Lease {
            member: member.clone(),
            client,
        })
    }

    pub fn health(&self) -> PoolHealth {
        let now = Instant::now();
        let mut soonest: Option<Instant> = None;
        for m in &self.members {
            match m.phase() {
                Phase::Up { .. } => return PoolHealth::Up,
                Phase::Down { back_at } => {
                    soonest = Some(soonest.map_or(back_at, |s| s.min(back_at)));
                }
            }
        }
        PoolHealth::Down {
            retry_after: soonest.map_or(Duration::ZERO, |s| s.saturating_duration_since(now)),
        }
    }

    /// The pid of a live managed sidecar (the first one), for the ready line.
    pub fn runtime_pid(&self) -> Option<u32> {
        self.members.iter().find_map(|m| m.pid())
    }

    /// Every running managed sidecar's pid.
    pub fn pids(&self) -> Vec<u32> {
        self.members.iter().filter_map(|m| m.pid()).collect()
    }

    /// Waits until a member is up; fails at once when no member can ever start (no Node, no
    /// bundle), else after `timeout`.
    pub async fn wait_until_up(&self, timeout: Duration) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.health() == PoolHealth::Up {
                return Ok(());
            }
            let hopeless: Vec<String> = self.members.iter().filter_map(|m| m.hopeless()).collect();
            if hopeless.len() == self.members.len()
                && let Some(reason) = hopeless.into_iter().next()
            {
                return Err(reason);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "no sidecar became ready within {timeout:?}; the reason is in the log above"
                ));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// Stops every sidecar (SIGTERM, then SIGKILL after a grace period) and waits for them.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        let mut set = self.supervisors.lock().await;
        while set.join_next().await.is_some() {}
    }
}

/// Startup polls the pool this often; it only runs until the first member is up.
const READY_POLL: Duration = Duration::from_millis(10);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::NowhereEndpoint;

    fn pool_of(up: &[bool]) -> Pool<NowhereEndpoint> {
        let pool = Pool::empty(up.len(), CancellationToken::new());
        for (member, &up) in pool.members.iter().zip(up) {
            if up {
                let client = Arc::new(SidecarClient::new(NowhereEndpoint));
                member.set_phase(Phase::Up { client });
            }
        }
        pool
    }

    #[tokio::test]
    async fn routes_to_the_live_member_with_fewest_streams() {
        let pool = pool_of(&[true, true, true]);
        let first = pool.pick().expect("a member");
        let second = pool.pick().expect("a member");
        let third = pool.pick().expect("a member");
        let mut used = [
            first.member().index,
            second.member().index,
            third.member().index,
        ];
        used.sort_unstable();
        assert_eq!(
            used,
            [0, 1, 2],
            "each idle member takes one before any takes two"
        );
        drop(second);
        let next = pool.pick().expect("a member");
        assert_eq!(
            next.member().in_flight(),
            1,
            "the freed member is the least loaded"
        );
        assert_eq!(pool.members.iter().map(|m| m.in_flight()).sum::<usize>(), 3);
    }

    #[tokio::test]
    async fn skips_dead_members_and_is_down_only_when_all_are() {
        let pool = pool_of(&[false, true]);
        assert_eq!(pool.health(), PoolHealth::Up);
        for _ in 0..4 {
            assert_eq!(pool.pick().expect("the live member").member().index, 1);
        }
        let dead = pool_of(&[false, false]);
        assert!(dead.pick().is_none());
        assert!(matches!(dead.health(), PoolHealth::Down { .. }));
    }
}
