//! One open-loop run at a fixed arrival rate, read over its steady window only: conversations
//! start one interval apart, each moved later within its interval so their chunks do not land
//! together (every window of a whole number of intervals still offers its share of chunks, give
//! or take one conversation); a ramp of one conversation's length and more fills the pipeline
//! before the window opens, and the drain after it is waited for but not counted. Latency comes
//! from the conversations started inside the window, throughput from the chunks received inside
//! it (docs/bench.md#saturation-by-search).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use contract::clock::monotonic_ns;
use sut_kit::mock::MockProcess;
use tokio::task::JoinSet;

use super::generator_cost;
use super::load::{
    self, CLIENT_LAG_LIMIT_US, CpuWindow, MOCK_LATENESS_LIMIT_US, PointFigures, Sent, SteadyPlan,
};
use super::rounds::RoundPlan;
use super::search::Run;
use super::target::Target;
use crate::cpu_meter::CpuMeter;
use crate::stats;

/// A target's CPU meter and its idle CPU (ns/s, subtracted from each window): a metered run
/// reads it at the steady window's bounds, so the search's every rate gives the CPU per
/// conversation at that rate (docs/bench.md#capacity).
#[derive(Debug, Clone, Copy)]
pub struct Metering<'a> {
    pub meter: &'a CpuMeter,
    pub idle_ns_per_s: f64,
}

/// Runs `target` at `rate` conversations/s; its figures over the window and the run's summary.
pub async fn run_at(
    target: &Arc<Target>,
    mock: &MockProcess,
    http: &reqwest::Client,
    rounds: &RoundPlan,
    plan: &SteadyPlan,
    rate: f64,
    metering: Option<Metering<'_>>,
) -> Result<(PointFigures, Run)> {
    let window = plan.window(rate, rounds.chunks);
    let total = plan.ramp + window;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = tokio::time::Instant::now();
    let started_ns = monotonic_ns();
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let (open_ns, close_ns) = (
        started_ns + nanos(plan.ramp),
        started_ns + nanos(plan.ramp + window),
    );
    let mut in_flight = JoinSet::new();
    let mut in_window = Vec::new();
    let sending = async {
        // Starts a whole number of intervals apart put the chunks of every conversation a
        // gap's worth of intervals apart on one instant, a shape of the schedule, not of any
        // users; each start moved later within its interval, the chunks arrive apart, as those
        // of conversations started at random would (docs/bench.md#saturation-by-search).
        let spread = interval;
        let mut arrivals = super::pacer::arrivals(started.into_std(), interval, total, spread);
        while let Some(i) = arrivals.recv().await {
            let offset = interval * i + super::pacer::shift(i, spread);
            let scheduled_ns = started_ns + nanos(offset);
            let tag = format!("s{rate:.1}.{}.{i}", target.name);
            if (open_ns..close_ns).contains(&scheduled_ns) {
                in_window.push(tag.clone());
            }
            let text = rounds.text(&tag).render();
            let (http, target) = (http.clone(), target.clone());
            in_flight.spawn(async move {
                let mut sent = load::send(http, target, text, tag).await;
                sent.scheduled_ns = Some(scheduled_ns);
                sent
            });
        }
    };
    // The meter is read at the window's bounds, beside the sending, on the client's side;
    // the chunks received between the two reads are what that CPU paid for. The generator's
    // own cost is read at the same bounds, for every target.
    let mock_pid = mock.pid();
    // The generator's mark reads /proc for a third of a millisecond; on a thread of its own,
    // so the starts due meanwhile are not held up behind it (this future shares the sending's
    // task).
    let mark = || tokio::task::spawn_blocking(move || generator_cost::mark(mock_pid));
    let metered = async {
        tokio::time::sleep_until(started + plan.ramp).await;
        let generator = mark();
        let (cpu, at) = (metering.and_then(|m| m.meter.read_ns()), monotonic_ns());
        let open = (cpu, generator.await.ok().flatten(), at);
        tokio::time::sleep_until(started + total).await;
        let generator = mark();
        let (cpu, at) = (metering.and_then(|m| m.meter.read_ns()), monotonic_ns());
        let close = (cpu, generator.await.ok().flatten(), at);
        (open, close)
    };
    let ((), ((cpu0, gen0, t0), (cpu1, gen1, t1))) = tokio::join!(sending, metered);
    let mut done: Vec<Sent> = Vec::new();
    let deadline = started + total + plan.drain;
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, in_flight.join_next()).await {
        done.push(joined.context("a load conversation panicked")?);
    }
    let unfinished = in_flight.len() as u64;
    in_flight.shutdown().await;
    let received: u64 = done
        .iter()
        .flat_map(|s| &s.seen.texts)
        .filter(|(at, _)| (open_ns..close_ns).contains(at))
        .count() as u64;
    let between = done
        .iter()
        .flat_map(|s| &s.seen.texts)
        .filter(|(at, _)| (t0..t1).contains(at))
        .count() as u64;
    let cpu = metering.zip(cpu0.zip(cpu1)).map(|(m, (cpu0, cpu1))| {
        let idle = m.idle_ns_per_s * t1.saturating_sub(t0) as f64 / 1e9;
        CpuWindow {
            ns: cpu1.saturating_sub(cpu0) as f64 - idle,
            served: between as f64 / f64::from(rounds.chunks),
        }
    });
    let generator = gen0
        .zip(gen1)
        .map(|(open, close)| generator_cost::Window::between(open, close, between));
    let counted: Vec<Sent> = done
        .into_iter()
        .filter(|s| in_window.contains(&s.tag))
        .collect();
    let missing = in_window.len() as u64 - counted.len() as u64;
    let mut f = load::tally(mock, rounds, counted, window).await?;
    f.cpu = cpu;
    f.generator = generator;
    // Started in the window and still streaming when the drain ran out: failed.
    f.conversations += missing;
    f.errors += missing;
    let offered = in_window.len() as f64 * f64::from(rounds.chunks);
    let p99 =
        |h: &hdrhistogram::Histogram<u64>| (!h.is_empty()).then(|| stats::quantile_us(h, 0.99));
    let run = Run {
        p99_us: p99(&f.transit),
        achieved_share: if offered > 0.0 {
            received as f64 / offered
        } else {
            0.0
        },
        failed: f.errors + f.lost + f.reordered > 0,
        generator_behind: p99(&f.mock_lateness).is_some_and(|l| l > MOCK_LATENESS_LIMIT_US),
        // A saturated client still achieves nearly the offered rate over one short window
        // while its queue of late starts grows: its lag, not the rate, shows it first
        // (docs/bench.md#saturation-by-search).
        client_behind: p99(&f.client_lag).is_some_and(|l| l > CLIENT_LAG_LIMIT_US),
    };
    if unfinished > 0 {
        // Cancelled conversations leave the target busy for a moment: let it settle before the
        // next run is timed.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok((f, run))
}

/// Adds `b`'s samples and counts into `a` (the repeats of one rate, for its load point).
pub fn merge(a: &mut PointFigures, b: &PointFigures) {
    for (x, y) in [
        (&mut a.transit, &b.transit),
        (&mut a.ttft, &b.ttft),
        (&mut a.mock_lateness, &b.mock_lateness),
        (&mut a.client_lag, &b.client_lag),
    ] {
        // Both grow as needed: adding cannot fail.
        let _ = x.add(y);
    }
    a.conversations += b.conversations;
    a.errors += b.errors;
    a.chunks += b.chunks;
    a.lost += b.lost;
    a.reordered += b.reordered;
    a.elapsed += b.elapsed;
    a.cpu = match (a.cpu, b.cpu) {
        (Some(x), Some(y)) => Some(CpuWindow {
            ns: x.ns + y.ns,
            served: x.served + y.served,
        }),
        (x, y) => x.or(y),
    };
    a.generator = match (a.generator, b.generator) {
        (Some(x), Some(y)) => Some(x.add(y)),
        (x, y) => x.or(y),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_pool_their_cpu_over_what_they_served() {
        // 30 ms over 10 conversations and 10 ms over 10: 2 ms each, not the mean of 3 and 1
        // weighted alike; a repeat that was not metered adds nothing.
        let mut a = PointFigures::empty(Duration::ZERO);
        a.cpu = Some(CpuWindow {
            ns: 30e6,
            served: 10.0,
        });
        let mut b = PointFigures::empty(Duration::ZERO);
        b.cpu = Some(CpuWindow {
            ns: 10e6,
            served: 10.0,
        });
        merge(&mut a, &b);
        merge(&mut a, &PointFigures::empty(Duration::ZERO));
        assert_eq!(a.cpu.and_then(|c| c.ms_per_conversation()), Some(2.0));
        let idle = CpuWindow {
            ns: 5e6,
            served: 0.0,
        };
        assert_eq!(idle.ms_per_conversation(), None, "nothing served");
    }

    #[test]
    fn a_window_is_a_whole_number_of_intervals_within_its_bounds() {
        let plan = SteadyPlan {
            ramp: Duration::from_millis(300),
            min_window: Duration::from_millis(600),
            max_window: Duration::from_secs(2),
            min_window_chunks: 400.0,
            drain: Duration::from_secs(2),
        };
        // 10/s × 20 chunks: 2 s for 400 chunks.
        assert_eq!(plan.window(10.0, 20), Duration::from_secs(2));
        // 1/s would want 20 s: capped.
        assert_eq!(plan.window(1.0, 20), Duration::from_secs(2));
        // 300/s: the floor, rounded up to whole intervals (180 of them).
        let w = plan.window(300.0, 20).as_secs_f64();
        assert!((w - 0.6).abs() < 1e-9, "{w}");
        // 7/s: 2 s holds 14 intervals exactly.
        let w = plan.window(7.0, 20).as_secs_f64() * 7.0;
        assert!((w - w.round()).abs() < 1e-9, "{w}");
    }
}
