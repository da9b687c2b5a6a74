//! What the bench measures of an external target: conversations one at a time (TTFT,
//! end-to-end and inter-chunk gaps on the client's clock; chunk transit only when the mock
//! shares that clock), then open-loop points at fixed rates, the highest one held being its
//! capacity as this client sees it (docs/distributed.md#what-a-shared-clock-changes).

use contract::results::{ExternalFigures, ExternalRate};
use hdrhistogram::Histogram;
use sut_kit::mock::{Mock, expected_chunks};

use super::client::{self, ClientSamples, GAP_MS};
use crate::progress::Progress;
use crate::stages::bench::observe;
use crate::stats;

/// Conversations one at a time: as many as the bench's rounds take per target (6 × 4 quick,
/// 10 × 8 full; docs/bench.md#workload), after the same warm-up.
const SEQUENTIAL: usize = 80;
const QUICK_SEQUENTIAL: usize = 24;
const WARMUP: usize = 5;
/// The open-loop rates tried, doubling, and how long each runs; the bench's quick grid and
/// point length (docs/bench.md#load), so a capacity read here compares with the bench's.
const RATES: [f64; 5] = [10.0, 20.0, 50.0, 100.0, 200.0];
const QUICK_RATES: [f64; 3] = [10.0, 50.0, 200.0];
const POINT_S: f64 = 4.0;
const QUICK_POINT_S: f64 = 2.0;
/// A point is held while its gap p99 stays under the scripted gap plus the bench's stutter
/// limit (10 ms: half the provider's default gap; docs/bench.md#load).
const STUTTER_LIMIT_US: f64 = 10_000.0;

/// Numbers the targets measured by this process, for their conversations' tags.
static NEXT_TARGET: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub sequential: usize,
    pub rates: &'static [f64],
    pub point_s: f64,
    pub warmup: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                sequential: QUICK_SEQUENTIAL,
                rates: &QUICK_RATES,
                point_s: QUICK_POINT_S,
                warmup: WARMUP,
            }
        } else {
            Self {
                sequential: SEQUENTIAL,
                rates: &RATES,
                point_s: POINT_S,
                warmup: WARMUP,
            }
        }
    }
}

/// Measures the target at `url`, against `mock` (whose URL the figures name).
pub async fn run(
    http: &reqwest::Client,
    url: &str,
    mock: &Mock,
    shared_clock: bool,
    plan: Plan,
    progress: &Progress,
) -> ExternalFigures {
    progress.step("warming up");
    for i in 0..plan.warmup {
        client::converse(http, url, &client::text_directive(&format!("warm.{i}"))).await;
    }
    // One tag per target: the mock keeps every request of the run, and a tag reused for a second
    // target would join its chunks with the first target's sends.
    let target = NEXT_TARGET.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let run_tag = format!("ext.{}.t{target}", std::process::id());
    let (samples, transit) = sequential(
        http,
        url,
        mock,
        shared_clock,
        plan.sequential,
        &format!("{run_tag}.s"),
        progress,
    )
    .await;
    let mut rates = Vec::new();
    for &rate in plan.rates {
        progress.step(format!("open loop at {rate}/s"));
        let at =
            client::open_loop(http, url, &format!("{run_tag}.r{rate}"), rate, plan.point_s).await;
        let point = rate_point(rate, &at);
        let held = point.held;
        rates.push(point);
        if !held {
            break;
        }
    }
    let capacity_rps = rates
        .iter()
        .filter(|p| p.held)
        .map(|p| p.rate_rps)
        .reduce(f64::max);
    ExternalFigures {
        url: url.to_owned(),
        mock_url: mock.url(),
        shared_clock,
        scenario: "text".into(),
        chunks: client::CHUNKS,
        scripted_ttft_ms: client::TTFT_MS,
        scripted_gap_ms: GAP_MS,
        conversations: samples.conversations,
        errors: samples.errors,
        lost_chunks: samples.lost_chunks,
        reordered_chunks: samples.reordered_chunks,
        ttft_us: stats::latency_stats(&samples.ttft),
        e2e_us: stats::latency_stats(&samples.e2e),
        gap_us: stats::latency_stats(&samples.gap),
        chunk_transit_us: shared_clock
            .then(|| stats::latency_stats(&transit))
            .flatten(),
        rates,
        capacity_rps,
    }
}

/// `count` conversations one at a time, tagged `{tag}{i}`: the client's samples and, when the
/// mock shares the client's clock, each chunk's transit (mock's send to the client's read).
pub async fn sequential(
    http: &reqwest::Client,
    url: &str,
    mock: &Mock,
    shared_clock: bool,
    count: usize,
    tag: &str,
    progress: &Progress,
) -> (ClientSamples, Histogram<u64>) {
    let mut samples = ClientSamples::default();
    let mut transit = stats::histogram();
    for i in 0..count {
        progress.step(format!("conversation {}/{count}", i + 1));
        let d = client::text_directive(&format!("{tag}{i}"));
        let seen = client::converse(http, url, &d).await;
        samples.add(&seen, seen.sent_ns, &d);
        if shared_clock && seen.completed() {
            let requests = mock
                .timeline(d.params.tag.as_deref().unwrap_or_default())
                .await;
            let joined = observe::join(&seen, &requests, expected_chunks(&d).as_deref());
            for ns in joined.chunk_transit {
                stats::record(&mut transit, ns);
            }
        }
    }
    (samples, transit)
}

fn quantile(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| stats::quantile_us(h, q))
}

/// One open-loop point, and whether the target held it.
pub fn rate_point(rate: f64, s: &ClientSamples) -> ExternalRate {
    let gap_p99_us = quantile(&s.gap, 0.99);
    let limit = GAP_MS as f64 * 1_000.0 + STUTTER_LIMIT_US;
    ExternalRate {
        rate_rps: rate,
        conversations: s.conversations,
        errors: s.errors,
        lost_chunks: s.lost_chunks,
        ttft_p50_us: quantile(&s.ttft, 0.5),
        ttft_p99_us: quantile(&s.ttft, 0.99),
        gap_p99_us,
        held: s.errors == 0
            && s.lost_chunks == 0
            && s.conversations > 0
            && gap_p99_us.is_some_and(|g| g < limit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_held_only_without_errors_and_under_the_stutter_limit() {
        let mut s = ClientSamples {
            conversations: 10,
            ..ClientSamples::default()
        };
        stats::record(&mut s.gap, 10_500_000);
        stats::record(&mut s.ttft, 21_000_000);
        assert!(rate_point(10.0, &s).held);
        stats::record(&mut s.gap, 25_000_000);
        assert!(!rate_point(10.0, &s).held, "gap p99 past 20 ms");
        let errors = ClientSamples {
            conversations: 10,
            errors: 1,
            ..ClientSamples::default()
        };
        assert!(!rate_point(10.0, &errors).held);
    }
}
