//! Per-client rate limit for `/api/chat`: a token bucket per client IP (`--rate-limit N/min`:
//! a burst of N, refilled at N per minute), or `off`.
//!
//! The bucket is kept as GCRA's single "theoretical arrival time" per client, which makes the
//! `Retry-After` exact: the time until the next token, rounded up to whole seconds. A client
//! whose bucket has refilled completely is indistinguishable from one never seen, so its entry
//! is dropped; that bounds the state by the clients active within one refill period.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use thiserror::Error;

/// Sweep for idle entries once the table has grown to this size, then whenever it doubles.
const FIRST_SWEEP_AT: usize = 1024;
/// Past this many clients all active at once, per-address limiting means little (a flood
/// from that many addresses); the table is cleared rather than allowed to grow without bound.
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// The value of `--rate-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    Off,
    PerMinute(NonZeroU32),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid rate limit {0:?}: use `off` or `N/min` with N >= 1, e.g. `10/min`")]
pub struct InvalidRateLimit(String);

impl FromStr for RateLimit {
    type Err = InvalidRateLimit;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        text.strip_suffix("/min")
            .and_then(|n| n.trim().parse::<NonZeroU32>().ok())
            .map(Self::PerMinute)
            .ok_or_else(|| InvalidRateLimit(s.to_owned()))
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::PerMinute(n) => write!(f, "{n}/min"),
        }
    }
}

/// The token buckets of every client.
#[derive(Debug)]
pub struct RateLimiter {
    /// Time to earn one token.
    interval: Duration,
    /// `burst * interval`: how far ahead of now a client's arrival time may run.
    burst_window: Duration,
    state: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    /// Per client, the instant at which its bucket is full again.
    full_at: HashMap<IpAddr, Instant>,
    next_sweep_at: usize,
}

impl RateLimiter {
    /// `None` for [`RateLimit::Off`].
    pub fn new(limit: RateLimit) -> Option<Self> {
        let RateLimit::PerMinute(per_minute) = limit else {
            return None;
        };
        let interval = Duration::from_secs(60) / per_minute.get();
        Some(Self {
            interval,
            burst_window: interval * per_minute.get(),
            state: Mutex::new(Table {
                full_at: HashMap::new(),
                next_sweep_at: FIRST_SWEEP_AT,
            }),
        })
    }

    /// Takes a token for `client` now; `Err(retry_after_s)` when none is left.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        self.check_at(client, Instant::now())
    }

    /// [`check`](Self::check) at a given instant (tests drive time by hand).
    pub fn check_at(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        let mut table = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let full_at = table.full_at.get(&client).copied().unwrap_or(now).max(now);
        let next = full_at + self.interval;
        let ahead = next - now;
        if ahead > self.burst_window {
            return Err(ceil_seconds(ahead - self.burst_window));
        }
        table.full_at.insert(client, next);
        if table.full_at.len() >= table.next_sweep_at {
            table.sweep(now);
        }
        Ok(())
    }

    /// Clients currently tracked (for tests of the bound).
    pub fn tracked_clients(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .full_at
            .len()
    }
}

impl Table {
    fn sweep(&mut self, now: Instant) {
        self.full_at.retain(|_, full_at| *full_at > now);
        if self.full_at.len() >= MAX_TRACKED_CLIENTS {
            tracing::warn!(
                clients = self.full_at.len(),
                "rate limiter table full of active clients; resetting it"
            );
            self.full_at.clear();
        }
        self.next_sweep_at = (self.full_at.len() * 2).max(FIRST_SWEEP_AT);
    }
}

/// Whole seconds, rounded up, never 0: `Retry-After: 0` would invite an immediate retry that
/// fails again.
fn ceil_seconds(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32) -> RateLimiter {
        RateLimiter::new(RateLimit::PerMinute(NonZeroU32::new(per_minute).unwrap())).unwrap()
    }

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn parses_the_flag() {
        assert_eq!("off".parse::<RateLimit>().unwrap(), RateLimit::Off);
        assert_eq!("10/min".parse::<RateLimit>().unwrap().to_string(), "10/min");
        for bad in ["0/min", "10", "ten/min", "10/s", ""] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
        assert!(RateLimiter::new(RateLimit::Off).is_none());
    }

    #[test]
    fn a_burst_of_n_then_exact_retry_after() {
        let limiter = limiter(10);
        let t0 = Instant::now();
        for _ in 0..10 {
            limiter.check_at(CLIENT, t0).unwrap();
        }
        // One token every 6 s; the first of the burst frees up 6 s after t0.
        assert_eq!(limiter.check_at(CLIENT, t0), Err(6));
        let later = t0 + Duration::from_millis(4500);
        assert_eq!(limiter.check_at(CLIENT, later), Err(2));
        limiter
            .check_at(CLIENT, t0 + Duration::from_secs(6))
            .unwrap();
        assert_eq!(
            limiter.check_at(CLIENT, t0 + Duration::from_secs(6)),
            Err(6)
        );
    }

    #[test]
    fn clients_are_limited_separately() {
        let limiter = limiter(1);
        let t0 = Instant::now();
        limiter.check_at(CLIENT, t0).unwrap();
        assert_eq!(limiter.check_at(CLIENT, t0), Err(60));
        limiter.check_at("10.0.0.2".parse().unwrap(), t0).unwrap();
    }

    #[test]
    fn idle_clients_are_evicted() {
        let limiter = limiter(60);
        let t0 = Instant::now();
        for i in 0..FIRST_SWEEP_AT as u32 - 1 {
            limiter.check_at(IpAddr::V4(i.into()), t0).unwrap();
        }
        assert_eq!(limiter.tracked_clients(), FIRST_SWEEP_AT - 1);
        // A second later every bucket is full again; the next insert triggers the sweep.
        limiter
            .check_at(CLIENT, t0 + Duration::from_secs(2))
            .unwrap();
        assert_eq!(limiter.tracked_clients(), 1);
    }
}
