//! Open-loop arrivals on time. tokio's timer wheel counts whole milliseconds: a
//! `sleep_until` wakes on the next tick at or after its deadline, up to a millisecond late,
//! which alone put the load client's start lag p99 near 1-2 ms against the 1 ms
//! (docs/bench.md#the-load-clients-own-lag). A thread of its own sleeps with the kernel's
//! high-resolution timer instead, its timer slack cut from the default 50 µs to 1 ns, and hands
//! each arrival's index to the runtime the moment it is due.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

/// The pacer thread's timer slack: the kernel may fire its sleeps this late to batch wake-ups.
const TIMER_SLACK_NS: NonZeroU64 = NonZeroU64::MIN;

/// Yields `i` at `start + i × interval`, moved later by a share of `spread`, for every `i`
/// whose unshifted offset is under `total`, then ends; stops early when the receiver is
/// dropped. The share is the fractional part of `i` times the golden ratio's inverse, so any
/// few consecutive arrivals fall evenly apart within `spread` (the shift stays under it, so the
/// arrivals keep their order while `spread` is at most `interval`). The CPU at load spreads its
/// starts over the provider's gap this way (docs/bench.md#the-burn-read), a steady run over
/// its interval (docs/bench.md#saturation-by-search).
pub fn arrivals(
    start: Instant,
    interval: Duration,
    total: Duration,
    spread: Duration,
) -> mpsc::UnboundedReceiver<u32> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("arena-pacer".to_owned())
        .spawn(move || {
            // Refused only by a kernel without the prctl: the sleeps are then 50 µs coarser.
            let _ = rustix::thread::set_current_timer_slack(Some(TIMER_SLACK_NS));
            for i in 0u32.. {
                let offset = interval * i;
                if offset >= total {
                    break;
                }
                let due = start + offset + shift(i, spread);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if tx.send(i).is_err() {
                    break;
                }
            }
        })
        .map_or_else(|_| fallback(start, interval, total, spread), |_| rx)
}

/// How much later than `i × interval` arrival `i` comes: `spread` times the fractional part of
/// `i` / φ, a sequence whose consecutive terms stay far apart (three terms split the unit
/// interval into at most three distinct gaps, the three-distance theorem).
pub fn shift(i: u32, spread: Duration) -> Duration {
    const INVERSE_GOLDEN_RATIO: f64 = 0.618_033_988_749_894_9;
    spread.mul_f64((f64::from(i) * INVERSE_GOLDEN_RATIO).fract())
}

/// Where no thread can be started: the same arrivals from the runtime's own timer.
fn fallback(
    start: Instant,
    interval: Duration,
    total: Duration,
    spread: Duration,
) -> mpsc::UnboundedReceiver<u32> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let start = tokio::time::Instant::from_std(start);
        for i in 0u32.. {
            let offset = interval * i;
            if offset >= total {
                break;
            }
            tokio::time::sleep_until(start + offset + shift(i, spread)).await;
            if tx.send(i).is_err() {
                break;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn yields_every_arrival_in_order_then_ends() {
        let mut rx = arrivals(
            Instant::now(),
            Duration::from_micros(100),
            Duration::from_micros(450),
            Duration::from_micros(50),
        );
        let mut seen = Vec::new();
        while let Some(i) = rx.recv().await {
            seen.push(i);
        }
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn no_arrival_comes_before_its_time() {
        let start = Instant::now();
        let interval = Duration::from_millis(2);
        let spread = Duration::from_millis(1);
        let mut rx = arrivals(start, interval, Duration::from_millis(10), spread);
        while let Some(i) = rx.recv().await {
            let due = interval * i + shift(i, spread);
            assert!(start.elapsed() >= due, "arrival {i} early");
        }
    }

    #[test]
    fn shifted_arrivals_fall_apart_within_the_spread_and_keep_their_order() {
        let spread = Duration::from_millis(10);
        let shifts: Vec<Duration> = (0..5).map(|i| shift(i, spread)).collect();
        assert!(shifts.iter().all(|s| *s < spread));
        // Any four consecutive starts (the CPU at load's conversations in flight) land at
        // least a tenth of the spread apart: no two of their chunks arrive together.
        for w in 0..20 {
            let mut four: Vec<Duration> = (w..w + 4).map(|i| shift(i, spread)).collect();
            four.sort();
            assert!(
                four.windows(2).all(|p| p[1] - p[0] >= spread / 10),
                "{four:?}"
            );
        }
        // Shifts under the interval keep the arrivals in order.
        let interval = Duration::from_millis(50);
        let due: Vec<Duration> = (0..20).map(|i| interval * i + shift(i, spread)).collect();
        assert!(due.windows(2).all(|p| p[0] < p[1]));
    }
}
