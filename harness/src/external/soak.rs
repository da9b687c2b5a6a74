//! `harness soak --target NAME=URL --mock-url URL`: the soak's load (its mix, its open-loop
//! schedule) against a deployment the harness did not start, after the suite passed against it
//! ([`super::stage::verify`]). The deployment's processes are not this machine's to read, so
//! memory, descriptors and the heap are absent, with the reason, never zero; what a client sees
//! is kept: the errors, and how TTFT and end to end moved over the soak
//! (docs/distributed.md#soak-and-crash-against-a-target).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use contract::results::{Soak, SoakDrift, SoakRun, SoakWindow, stages};
use contract::scenario::Scenario;
use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use sut_kit::mock::Mock;

use super::TargetSpec;
use super::stage::{Options, verify};
use crate::chat;
use crate::procfs;
use crate::run_dir::RunDir;
use crate::stages::soak::{WARMUP_SHARE, fit, load};
use crate::stats;

/// The soak in this many windows of equal time: a one-minute quick soak at 2/s still has about
/// eight `text` conversations in each, enough for a median.
pub const WINDOWS: usize = 10;
/// Why the memory figures are absent.
pub const NOT_SAMPLED: &str = "external target: its processes are not on this machine, so \
     memory, descriptors and the JavaScript heap cannot be sampled";

/// One conversation as the client saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Seconds from the start of the load to its send.
    pub t_s: f64,
    /// `None` when it completed, else what went wrong (the soak's error kinds).
    pub error: Option<String>,
    /// TTFT and end to end in ns, for a completed `text` conversation.
    pub text_ns: Option<(u64, u64)>,
}

/// Soaks every verified target, one after the other (latency is what is measured, so targets do
/// not share the client), and records `backends.<NAME>.soak` and `soak`; returns each soak.
pub async fn run(
    run: &mut RunDir,
    mock: &Mock,
    opts: &Options,
    minutes: f64,
    rate_rps: f64,
) -> Result<Vec<(String, Soak)>> {
    let started = Instant::now();
    let load_avg_start = procfs::load_average();
    let verified = verify(run, mock, opts, stages::SOAK).await?;
    let http = sut_kit::client::http_client()?;
    let duration = Duration::from_secs_f64(minutes * 60.0);
    let mut measured = Vec::new();
    for target in &verified {
        eprintln!("[{}] soak: {minutes} min at {rate_rps}/s", target.name);
        let seen = drive(&http, target, duration, rate_rps).await;
        let soak = summarize(&seen, duration, rate_rps);
        eprintln!("[{}] soak: {}", target.name, soak.verdict);
        run.results.backend_mut(&target.name).soak = Some(soak.clone());
        run.save()?;
        measured.push((target.name.clone(), soak));
    }
    run.results.soak = Some(SoakRun {
        quick: opts.ctx.quick,
        minutes,
        rate_rps,
        mix: load::MIX
            .iter()
            .map(|(scenario, share)| (scenario.name().to_owned(), *share))
            .collect::<BTreeMap<_, _>>(),
        warmup_s: duration.as_secs_f64() * WARMUP_SHARE,
        sample_interval_ms: crate::stages::soak::SAMPLE_INTERVAL.as_millis() as u64,
        concurrent: false,
        load_avg_start,
        load_avg_end: procfs::load_average(),
        wall_s: started.elapsed().as_secs_f64(),
    });
    run.save()?;
    Ok(measured)
}

/// The soak's schedule against `target` (open loop, at most [`load::MAX_IN_FLIGHT`] open, as the
/// soak stage sends it); every conversation as the client saw it, in the order they ended.
async fn drive(
    http: &reqwest::Client,
    target: &TargetSpec,
    duration: Duration,
    rate_rps: f64,
) -> Vec<Conversation> {
    let tag = format!("soak.{}.{}", std::process::id(), target.name);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate_rps));
    // Open loop: a late tick is sent at once, not skipped, so the rate holds on average.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut running = JoinSet::new();
    let mut seen = Vec::new();
    let mut sent = 0u64;
    let joined = |done: Result<Conversation, tokio::task::JoinError>, t_s: f64| {
        done.unwrap_or_else(|e| Conversation {
            t_s,
            error: Some(format!("client task failed: {e}")),
            text_ns: None,
        })
    };
    while started.elapsed() < duration {
        tokio::select! {
            _ = ticks.tick() => {
                let t_s = started.elapsed().as_secs_f64();
                if t_s >= duration.as_secs_f64() {
                    break;
                }
                sent += 1;
                if running.len() >= load::MAX_IN_FLIGHT {
                    seen.push(Conversation { t_s, error: Some("backlog".into()), text_ns: None });
                    continue;
                }
                let is_text = load::scenario_of(sent - 1) == Scenario::Text;
                let body = chat::body(&load::directive_of(sent - 1, &tag));
                let (http, base) = (http.clone(), target.url.clone());
                running.spawn(async move {
                    let s = chat::send(&http, &base, &body, load::CHAT_LIMIT).await;
                    conversation(t_s, is_text, &s)
                });
            }
            Some(done) = running.join_next(), if !running.is_empty() => {
                seen.push(joined(done, started.elapsed().as_secs_f64()));
            }
        }
    }
    while let Some(done) = running.join_next().await {
        seen.push(joined(done, started.elapsed().as_secs_f64()));
    }
    seen
}

fn conversation(t_s: f64, is_text: bool, s: &chat::Sent) -> Conversation {
    let error = load::error_kind(s);
    let text_ns = match (&s.answer, &error) {
        (Ok(answer), None) if is_text => chat::delta_times(answer)
            .first()
            .map(|first| (first.saturating_sub(s.sent_ns), s.returned_ns - s.sent_ns)),
        _ => None,
    };
    Conversation {
        t_s,
        error,
        text_ns,
    }
}

/// The soak's record from what the client saw: errors by kind, latency by window, and the
/// verdict on the errors alone (memory was not sampled, and drift is reported, not judged).
pub fn summarize(seen: &[Conversation], duration: Duration, rate_rps: f64) -> Soak {
    let total_s = duration.as_secs_f64();
    let mut error_kinds: BTreeMap<String, u64> = BTreeMap::new();
    for kind in seen.iter().filter_map(|c| c.error.as_ref()) {
        *error_kinds.entry(kind.clone()).or_default() += 1;
    }
    let errors: u64 = error_kinds.values().sum();
    let requests = seen.len() as u64;
    let width = total_s / WINDOWS as f64;
    let windows = (0..WINDOWS)
        .map(|w| {
            let (start_s, end_s) = (w as f64 * width, (w + 1) as f64 * width);
            let last = w + 1 == WINDOWS;
            let inside: Vec<&Conversation> = seen
                .iter()
                .filter(|c| c.t_s >= start_s && (c.t_s < end_s || last))
                .collect();
            window(start_s, end_s, &inside)
        })
        .collect();
    let warmup = total_s * WARMUP_SHARE;
    let ttft_points: Vec<(f64, f64)> = seen
        .iter()
        .filter(|c| c.t_s >= warmup)
        .filter_map(|c| Some((c.t_s, c.text_ns?.0 as f64 / 1e6)))
        .collect();
    let slope = fit::slope(&ttft_points);
    let passed = errors == 0 && requests > 0;
    let verdict = if requests == 0 {
        "no conversation was sent".to_owned()
    } else if errors == 0 {
        format!("no error in {requests} conversations; memory not sampled (external target)")
    } else {
        format!("{errors} of {requests} conversations failed; memory not sampled (external target)")
    };
    Soak {
        minutes: total_s / 60.0,
        rate_rps,
        requests,
        errors,
        error_kinds,
        rss_slope_mb_per_h: None,
        rss_slope_ci95_mb_per_h: None,
        pss_slope_mb_per_h: None,
        pss_slope_ci95_mb_per_h: None,
        heap_used_slope_mb_per_h: None,
        heap_used_slope_ci95_mb_per_h: None,
        fd_slope_per_h: None,
        fd_slope_ci95_per_h: None,
        passed,
        verdict,
        samples: Vec::new(),
        not_sampled: Some(NOT_SAMPLED.to_owned()),
        drift: Some(SoakDrift {
            windows,
            ttft_slope_ms_per_h: slope.map(|s| s.per_h),
            ttft_slope_ci95_ms_per_h: slope.map(|s| s.ci95),
        }),
    }
}

fn window(start_s: f64, end_s: f64, inside: &[&Conversation]) -> SoakWindow {
    let mut ttft = stats::histogram();
    let mut e2e = stats::histogram();
    for (t, e) in inside.iter().filter_map(|c| c.text_ns) {
        stats::record(&mut ttft, t);
        stats::record(&mut e2e, e);
    }
    let q = |h: &Histogram<u64>, q: f64| (!h.is_empty()).then(|| stats::quantile_us(h, q));
    SoakWindow {
        start_s,
        end_s,
        conversations: inside.len() as u64,
        errors: inside.iter().filter(|c| c.error.is_some()).count() as u64,
        ttft_p50_us: q(&ttft, 0.5),
        ttft_p99_us: q(&ttft, 0.99),
        e2e_p50_us: q(&e2e, 0.5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t_s: f64, ttft_ms: u64) -> Conversation {
        Conversation {
            t_s,
            error: None,
            text_ns: Some((ttft_ms * 1_000_000, 200_000_000)),
        }
    }

    #[test]
    fn windows_split_the_soak_and_errors_fail_it_without_inventing_memory() {
        let mut seen: Vec<Conversation> = (0..100).map(|i| text(i as f64, 20)).collect();
        seen.push(Conversation {
            t_s: 95.0,
            error: Some("no-answer".into()),
            text_ns: None,
        });
        let soak = summarize(&seen, Duration::from_secs(100), 1.0);
        let drift = soak.drift.as_ref().unwrap();
        assert_eq!(drift.windows.len(), WINDOWS);
        assert_eq!(drift.windows[0].conversations, 10);
        assert_eq!(
            (drift.windows[9].conversations, drift.windows[9].errors),
            (11, 1)
        );
        let p50 = drift.windows[0].ttft_p50_us.unwrap();
        assert!((p50 - 20_000.0).abs() < 50.0, "{p50}");
        assert!(!soak.passed);
        assert_eq!(soak.error_kinds["no-answer"], 1);
        assert!(soak.rss_slope_mb_per_h.is_none() && soak.samples.is_empty());
        assert!(soak.not_sampled.is_some());
        let json = serde_json::to_value(&soak).unwrap();
        assert!(json.get("rss_slope_mb_per_h").is_none(), "absent, not zero");
    }

    #[test]
    fn a_ttft_that_climbs_shows_as_a_positive_slope() {
        let seen: Vec<Conversation> = (0..100).map(|i| text(i as f64, 20 + i / 10)).collect();
        let soak = summarize(&seen, Duration::from_secs(100), 1.0);
        let drift = soak.drift.unwrap();
        assert!(soak.passed);
        assert!(drift.ttft_slope_ci95_ms_per_h.unwrap()[0] > 0.0);
        assert!(drift.windows[9].ttft_p50_us > drift.windows[0].ttft_p50_us);
    }
}
