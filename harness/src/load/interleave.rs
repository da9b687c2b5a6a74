//! Locust's workers and the harness's own client in alternating windows of one run
//! (docs/distributed.md#agreement-between-the-clients). On a shared two-core machine the same
//! client's inter-chunk gap p99 moves from one ten-second block to the next by more than the
//! 15% the two clients are asked to agree within, so a comparison of one block of each mostly
//! measures when each ran. Taking turns (Locust's window k, then the harness's window k) lets a
//! machine that gets busier or quieter move both alike, and comparing pair by pair gives the
//! agreement an interval, beside how far the same client moves from one window to the next.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use contract::clock::monotonic_ns;
use contract::results::{Interleaved, RelativeDifference, WindowPair};
use hdrhistogram::Histogram;

use super::{Report, parse_reports};
use crate::external::client::{self, ClientSamples};
use crate::stats;

/// Between a window of one client and the next of the other: a conversation scheduled at the
/// end of a window streams for about 220 ms more (20 chunks 10 ms apart after 20 ms), and the
/// workers' schedules start up to a few hundred milliseconds apart.
pub const GUARD: Duration = Duration::from_millis(500);
/// The bootstrap's seed: the interval is a pure function of the run's figures.
const SEED: u64 = 26;

/// Locust's pause after each of its windows: the harness's window and a guard either side.
pub fn pause_s(window_s: f64) -> f64 {
    window_s + 2.0 * GUARD.as_secs_f64()
}

/// One window's samples: TTFT and inter-chunk gap, nanoseconds.
#[derive(Debug)]
pub struct Window {
    pub ttft: Histogram<u64>,
    pub gap: Histogram<u64>,
}

impl Window {
    fn new() -> Self {
        Self {
            ttft: stats::histogram(),
            gap: stats::histogram(),
        }
    }
}

impl From<&ClientSamples> for Window {
    fn from(s: &ClientSamples) -> Self {
        Self {
            ttft: s.ttft.clone(),
            gap: s.gap.clone(),
        }
    }
}

/// Every worker's samples of each window merged (a sample without a window, from a locustfile
/// that did not split its schedule, counts in window 0).
pub fn locust_windows(reports: &[Report], windows: u32) -> Vec<Window> {
    let mut out: Vec<Window> = (0..windows.max(1)).map(|_| Window::new()).collect();
    let last = out.len() - 1;
    for r in reports {
        for (i, &us) in r.ttft_us.iter().enumerate() {
            let w = r.ttft_window.get(i).map_or(0, |&w| w as usize).min(last);
            stats::record(&mut out[w].ttft, us * 1_000);
        }
        for (i, &us) in r.gap_us.iter().enumerate() {
            let w = r.gap_window.get(i).map_or(0, |&w| w as usize).min(last);
            stats::record(&mut out[w].gap, us * 1_000);
        }
    }
    out
}

/// Where the workers' schedules begin on this machine's `CLOCK_MONOTONIC` (µs): the earliest a
/// report gives; `None` before any report carries it.
pub fn begin_us(reports: &[Report]) -> Option<u64> {
    reports.iter().map(|r| r.begin_us).filter(|&b| b > 0).min()
}

/// The harness's own windows, each in the pause after Locust's window of the same index: waits
/// for the first report to learn where the workers' schedule began (local workers only: the
/// same machine's clock), then plays `windows` windows of `window_s` at `rate`.
pub async fn own_windows(
    reports_file: &Path,
    url: &str,
    rate: f64,
    window_s: f64,
    windows: u32,
    connect_grace: Duration,
) -> Result<Vec<ClientSamples>> {
    let waited = tokio::time::Instant::now();
    let begin_ns = loop {
        let text = std::fs::read_to_string(reports_file)?;
        if let Some(b) = begin_us(&parse_reports(&text)?) {
            break b * 1_000;
        }
        if waited.elapsed() > connect_grace {
            bail!("no worker reported where its schedule began within {connect_grace:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let http = sut_kit::client::http_client()?;
    let stride_ns = ((window_s + pause_s(window_s)) * 1e9) as u64;
    let offset_ns = ((window_s + GUARD.as_secs_f64()) * 1e9) as u64;
    let mut out = Vec::with_capacity(windows as usize);
    for w in 0..u64::from(windows) {
        let at = begin_ns + w * stride_ns + offset_ns;
        tokio::time::sleep(Duration::from_nanos(at.saturating_sub(monotonic_ns()))).await;
        let tag = format!("own-w{w}");
        out.push(client::open_loop(&http, url, &tag, rate, window_s).await);
    }
    Ok(out)
}

/// Window k of Locust against window k of the harness, pair by pair.
pub fn compare(locust: &[Window], own: &[Window], window_s: f64) -> Interleaved {
    let q = |h: &Histogram<u64>, p: f64| (!h.is_empty()).then(|| stats::quantile_us(h, p));
    let pairs: Vec<WindowPair> = locust
        .iter()
        .zip(own)
        .map(|(l, h)| WindowPair {
            locust_ttft_p50_us: q(&l.ttft, 0.5),
            harness_ttft_p50_us: q(&h.ttft, 0.5),
            locust_gap_p99_us: q(&l.gap, 0.99),
            harness_gap_p99_us: q(&h.gap, 0.99),
        })
        .collect();
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b - 1.0),
        _ => None,
    };
    let ttft: Vec<f64> = pairs
        .iter()
        .filter_map(|p| ratio(p.locust_ttft_p50_us, p.harness_ttft_p50_us))
        .collect();
    let gap: Vec<f64> = pairs
        .iter()
        .filter_map(|p| ratio(p.locust_gap_p99_us, p.harness_gap_p99_us))
        .collect();
    let moves = |of: fn(&WindowPair) -> Option<f64>| -> Vec<f64> {
        pairs
            .windows(2)
            .filter_map(|w| ratio(of(&w[1]), of(&w[0])))
            .map(f64::abs)
            .collect()
    };
    let ttft_moves = moves(|p| p.harness_ttft_p50_us);
    let gap_moves = moves(|p| p.harness_gap_p99_us);
    Interleaved {
        windows: u32::try_from(pairs.len()).unwrap_or(u32::MAX),
        window_s,
        ttft_p50: relative(&ttft),
        gap_p99: relative(&gap),
        ttft_p50_window_to_window: relative(&ttft_moves),
        gap_p99_window_to_window: relative(&gap_moves),
        pairs,
    }
}

/// The median of per-pair relative differences and its bootstrap interval (the bench's
/// estimator of an overhead, docs/bench.md#overhead).
fn relative(values: &[f64]) -> RelativeDifference {
    RelativeDifference {
        median: stats::median(values).unwrap_or(f64::NAN),
        ci95: stats::bootstrap_median_ci(values, SEED),
        pairs: u32::try_from(values.len()).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ttft: &[(u64, u32)], gap: &[(u64, u32)], begin_us: u64) -> Report {
        Report {
            kind: "samples".into(),
            client_id: "a".into(),
            ttft_us: ttft.iter().map(|p| p.0).collect(),
            ttft_window: ttft.iter().map(|p| p.1).collect(),
            gap_us: gap.iter().map(|p| p.0).collect(),
            gap_window: gap.iter().map(|p| p.1).collect(),
            begin_us,
            ..Report::default()
        }
    }

    fn window(ttft_us: u64, gap_us: u64) -> Window {
        let mut w = Window::new();
        stats::record(&mut w.ttft, ttft_us * 1_000);
        stats::record(&mut w.gap, gap_us * 1_000);
        w
    }

    #[test]
    fn samples_go_to_their_window_and_the_earliest_begin_is_taken() {
        let reports = vec![
            report(&[(20_000, 0), (30_000, 1)], &[(10_000, 1)], 900),
            report(&[(25_000, 1)], &[], 800),
            report(&[], &[], 0),
        ];
        let w = locust_windows(&reports, 2);
        assert_eq!((w[0].ttft.len(), w[1].ttft.len()), (1, 2));
        assert_eq!((w[0].gap.len(), w[1].gap.len()), (0, 1));
        assert_eq!(begin_us(&reports), Some(800));
        assert_eq!(begin_us(&reports[2..]), None);
    }

    #[test]
    fn pairs_compare_locust_over_the_harness_and_the_harness_with_itself() {
        let locust = [window(22_000, 11_000), window(22_000, 12_000)];
        let own = [window(20_000, 10_000), window(20_000, 15_000)];
        let i = compare(&locust, &own, 5.0);
        assert_eq!(i.windows, 2);
        assert!((i.ttft_p50.median - 0.1).abs() < 0.01, "{i:?}");
        // Pair gaps: +10% and −20%; median of two is their mean.
        assert!((i.gap_p99.median + 0.05).abs() < 0.01, "{i:?}");
        assert!(
            (i.gap_p99_window_to_window.median - 0.5).abs() < 0.01,
            "{i:?}"
        );
        assert_eq!(i.gap_p99_window_to_window.pairs, 1);
        assert!(i.gap_p99_window_to_window.ci95.is_none());
        let [lo, hi] = i.gap_p99.ci95.unwrap();
        assert!(lo <= -0.19 && hi >= 0.09, "{lo} {hi}");
    }
}
