//! The reader faults: clients that read at a trickle (`slow-reader`), clients that stop reading
//! and keep the connection (`stalled-reader`), and one very long stream (`long-stream`), each
//! beside healthy streams. What they cost: memory per affected stream, whether the backend
//! pushed back on the provider (or buffered what it sent), and whether the healthy streams'
//! chunk transit moved against a clean twin run just before on the same instance. The method
//! is docs/readers.md#reader-faults.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use contract::results::{CrashOutcome, Fault};
use contract::scenario::Scenario;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::Notify;

use sut_kit::orchestrate::{self, InstanceOptions};

use super::env::{Env, On, serving_check};
use super::readers_mock::{provider_progress, transit};
use super::target::Target;
use crate::chat::{self, Sent};
use crate::{procfs, stats};

/// The affected clients' socket receive buffer. The kernel's default (autotuned to megabytes
/// on loopback) would swallow a whole stream, and a client that stops reading would then look
/// to the server like one that read everything. 4 KiB is a phone's window on a bad link.
pub const CLIENT_RCVBUF: u32 = 4 * 1024;
/// `slow-reader`'s pace: the trickle.
const SLOW_BYTES_PER_S: usize = 1024;
/// How much a slow reader takes at once.
const SLOW_READ: usize = 256;
/// Healthy streams beside the affected ones: `text`, 100 chunks 20 ms apart (2 s), enough
/// deltas for a per-stream median transit.
const HEALTHY: u32 = 5;
const HEALTHY_CHUNKS: u32 = 100;
const HEALTHY_GAP_MS: u64 = 20;
/// Memory is sampled this often while the fault plays.
const MEMORY_EVERY: Duration = Duration::from_millis(100);
/// Memory counts as still growing when the last quarter of the watch added more than this
/// share of the peak growth: a bounded buffer fills early and stays.
const STILL_GROWING_SHARE: f64 = 0.1;
/// Longest an affected stream's head may take to arrive.
const HEAD_LIMIT: Duration = Duration::from_secs(10);
/// The bootstrap's seed for the healthy change (any fixed value: reruns give the same interval).
const SEED: u64 = 24;

/// How the reader faults run; [`super::Settings`] carries one.
#[derive(Debug, Clone)]
pub struct ReaderSettings {
    /// Affected streams of `slow-reader` and `stalled-reader`.
    pub streams: u32,
    /// Text chunks of each affected stream, all due at once.
    pub chunks: u32,
    /// `long-stream`'s one stream.
    pub long_chunks: u32,
    /// How long the slow and stalled readers are held.
    pub watch: Duration,
}

/// The figures: 100 stalled streams, a stream of 10^5 chunks. Each affected stream is
/// as long as the long one: its 10^5 provider frames (about 20 MB) and UI frames (about 7 MB)
/// outgrow the socket buffers on both sides of the backend (the kernel's are autotuned up to
/// 4 MB for sending and 32 MB for receiving on this machine), so a provider that sent
/// everything was not held back by anything. At 5,000 chunks every backend looked unthrottled.
pub const READER_STREAMS: u32 = 100;
pub const QUICK_READER_STREAMS: u32 = 20;
pub const READER_CHUNKS: u32 = 100_000;
pub const LONG_CHUNKS: u32 = 100_000;
const READER_WATCH: Duration = Duration::from_secs(8);
const QUICK_READER_WATCH: Duration = Duration::from_secs(4);

impl ReaderSettings {
    pub fn full() -> Self {
        Self {
            streams: READER_STREAMS,
            chunks: READER_CHUNKS,
            long_chunks: LONG_CHUNKS,
            watch: READER_WATCH,
        }
    }

    pub fn quick() -> Self {
        Self {
            streams: QUICK_READER_STREAMS,
            watch: QUICK_READER_WATCH,
            ..Self::full()
        }
    }
}

/// How an affected client reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Slow,
    Stalled,
}

/// Why memory is absent for a target elsewhere.
pub const MEMORY_NOT_READ: &str = "memory not read: the target's processes are not this \
     machine's";
/// Why the healthy streams' transit change is absent without a clock shared with the mock.
pub const TRANSIT_NOT_READ: &str = "healthy transit not compared: the mock does not share this \
     machine's clock";

/// Measures one reader fault on a fresh instance, or on the deployment elsewhere; never fails.
pub(super) async fn measure(env: &Env<'_>, fault: Fault) -> CrashOutcome {
    let tag = format!("{}.{}", env.tag_base, fault.name());
    let out = match &env.on {
        On::Fresh(starts) => {
            let opts = InstanceOptions {
                extra_args: Vec::new(),
                instance: Some(fault.name().to_owned()),
            };
            let started =
                orchestrate::start_backend(starts.backend, starts.cfg, &opts, &starts.log_dir);
            let mut instance = match started.await {
                Ok(i) => i,
                Err(e) => {
                    return CrashOutcome::not_measured(format!("the backend did not start: {e}"));
                }
            };
            let out = play(env, fault, &Target::started(&mut instance), &tag).await;
            instance.stop().await;
            out
        }
        On::Elsewhere(e) => play(env, fault, &Target::elsewhere(e.url), &tag).await,
    };
    out.unwrap_or_else(CrashOutcome::not_measured)
}

async fn play(
    env: &Env<'_>,
    fault: Fault,
    target: &Target<'_>,
    tag: &str,
) -> Result<CrashOutcome, String> {
    let r = &env.settings.readers;
    let base = target.url().to_owned();
    // The process tree's RSS, when this machine started the target.
    let rss = || target.pids().map(|p| procfs::memory(&p).rss_bytes);
    // Warm: the first chat pays for lazy initialisation that is no growth.
    let warm = chat::directive(Scenario::Text, &format!("{tag}.warm"), 20, 0);
    chat::send(&env.http, &base, &chat::body(&warm), HEAD_LIMIT).await;
    let clean = healthy_transit(env, &base, &format!("{tag}.clean")).await;
    let baseline = rss();

    let started = Instant::now();
    let (affected, release, begun) = match fault {
        Fault::LongStream => (Vec::new(), Arc::new(Notify::new()), 1),
        _ => {
            let reading = if fault == Fault::SlowReader {
                Reading::Slow
            } else {
                Reading::Stalled
            };
            let release = Arc::new(Notify::new());
            let heads = Arc::new(AtomicU32::new(0));
            let tasks = (0..r.streams)
                .map(|i| {
                    let d = chat::directive(Scenario::Text, &format!("{tag}.a{i}"), r.chunks, 0);
                    tokio::spawn(affected_client(
                        base.clone(),
                        chat::body(&d),
                        reading,
                        heads.clone(),
                        release.clone(),
                    ))
                })
                .collect::<Vec<_>>();
            let deadline = Instant::now() + HEAD_LIMIT;
            while heads.load(Ordering::Relaxed) < r.streams && Instant::now() < deadline {
                tokio::time::sleep(MEMORY_EVERY).await;
            }
            (tasks, release, heads.load(Ordering::Relaxed))
        }
    };
    let long = (fault == Fault::LongStream).then(|| {
        let d = chat::directive(Scenario::Text, &format!("{tag}.a0"), r.long_chunks, 0);
        let (client, base, body) = (env.http.clone(), base.clone(), chat::body(&d));
        let limit = r.watch * 15;
        tokio::spawn(async move { chat::send(&client, &base, &body, limit).await })
    });
    let healthy = tokio::spawn(healthy_sends(
        env.http.clone(),
        base.clone(),
        format!("{tag}.h"),
    ));

    // Watch memory until the healthy streams are done, the hold has lasted, and the long
    // stream (if any) has ended.
    let mut samples: Vec<(Duration, u64)> = Vec::new();
    loop {
        samples.extend(rss().map(|b| (started.elapsed(), b)));
        let held = started.elapsed() >= r.watch;
        let long_done = long.as_ref().is_none_or(|h| h.is_finished());
        if (held && healthy.is_finished() && long_done) || started.elapsed() > r.watch * 16 {
            break;
        }
        tokio::time::sleep(MEMORY_EVERY).await;
    }
    let watched = started.elapsed();
    // The provider's progress while the readers still hold their connections.
    let affected_n = if fault == Fault::LongStream {
        1
    } else {
        r.streams
    };
    let chunks = if fault == Fault::LongStream {
        r.long_chunks
    } else {
        r.chunks
    };
    let (sent_fraction, throttled) =
        provider_progress(&env.timelines, tag, affected_n, chunks).await;
    release.notify_waiters();
    for t in affected {
        t.abort();
    }
    let hung_up = Instant::now();
    let cpu_at_hang_up = target.cpu_ms();
    let long_sent = match long {
        Some(h) => h.await.ok(),
        None => None,
    };
    let faulted_healthy = transit(&env.timelines, &healthy.await.map_err(|e| e.to_string())?).await;

    let mut out = CrashOutcome::measured();
    let growth = baseline.map(|b| {
        let peak = samples.iter().map(|s| s.1).max().unwrap_or(b);
        (b, peak.saturating_sub(b))
    });
    out.reader_streams = Some(affected_n);
    out.provider_sent_fraction = sent_fraction;
    out.provider_throttled = throttled;
    if let Some((b, g)) = growth {
        out.peak_growth_bytes_per_stream = Some(g as f64 / f64::from(affected_n.max(1)));
        out.memory_still_growing = Some(still_growing(&samples, b, watched));
    }
    let growth = growth.map(|(_, g)| g);
    if let Some((change, ci)) = change_of_medians(&faulted_healthy, &clean) {
        out.healthy_overhead_change_us = Some(change);
        out.healthy_overhead_change_ci95_us = ci;
    }
    out.watched_ms = Some(watched.as_secs_f64() * 1e3);
    let mut notes = Vec::new();
    if begun < affected_n {
        notes.push(format!(
            "{} of {affected_n} affected streams got no answer head within {HEAD_LIMIT:?}",
            affected_n - begun
        ));
    }
    if let Some(s) = &long_sent {
        let end = chat::end_of(s);
        out.faulted_stream = Some(end);
        notes.push(format!(
            "the {chunks}-chunk stream ended {} after {:.1} s",
            end.name(),
            s.returned_ns.saturating_sub(s.sent_ns) as f64 / 1e9
        ));
    }
    let (survived, after) = after_hang_up(env, target, hung_up, cpu_at_hang_up).await;
    out.survived = Some(survived);
    notes.extend(after);
    match growth {
        Some(g) if fault == Fault::LongStream => notes.push(format!(
            "memory grew {:.1} MB over the stream at its peak",
            g as f64 / 1e6
        )),
        Some(g) => notes.push(at_limit(&out, g)),
        None => {
            if fault != Fault::LongStream {
                notes.push(pushed_back(&out));
            }
            notes.push(MEMORY_NOT_READ.to_owned());
        }
    }
    if !env.timelines.shared_clock {
        notes.push(TRANSIT_NOT_READ.to_owned());
    }
    out.note = Some(notes.join("; "));
    Ok(out)
}

/// Retries of the after-check apart, once it failed.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// The after-check once the affected clients hung up: `survived` when the backend serves
/// (`/health` and a chat, each within the hang limit) within the stage's watch limit, as the
/// other faults' watch allows. When the first check failed, the note says what failed, when the
/// backend served again and how much CPU its runtime and its tree spent meanwhile, so a slow
/// teardown of many streams reads apart from a server that stopped serving
/// (docs/readers.md#after-the-hang-up).
async fn after_hang_up(
    env: &Env<'_>,
    target: &Target<'_>,
    hung_up: Instant,
    cpu_at_hang_up: Option<(f64, f64)>,
) -> (bool, Option<String>) {
    let checked = hung_up.elapsed();
    let Err(why) = serving_check(env, target.url()).await else {
        return (true, None);
    };
    let limit = env.settings.watch_limit;
    let again = loop {
        if hung_up.elapsed() > limit {
            break None;
        }
        tokio::time::sleep(RETRY_EVERY).await;
        if serving_check(env, target.url()).await.is_ok() {
            break Some(hung_up.elapsed());
        }
    };
    let when = match again {
        Some(t) => format!("served again {:.1} s after the hang-up", t.as_secs_f64()),
        None => format!("not serving {limit:?} after the hang-up"),
    };
    let when = match (cpu_at_hang_up, target.cpu_ms()) {
        (Some(before), Some((runtime, tree))) => format!(
            "{when}, meanwhile the runtime spent {:.1} s of CPU and the whole tree {:.1} s",
            (runtime - before.0) / 1e3,
            (tree - before.1) / 1e3
        ),
        _ => when,
    };
    let note = format!(
        "checked {:.1} s after the affected clients hung up: {why}; {when}",
        checked.as_secs_f64()
    );
    (again.is_some(), Some(note))
}

/// One affected client on a raw socket with a small receive buffer: sends the chat, reads until
/// the first delta (then counts itself begun), then reads at a trickle or not at all until
/// released (or aborted), and drops the connection.
async fn affected_client(
    base: String,
    body: serde_json::Value,
    reading: Reading,
    heads: Arc<AtomicU32>,
    release: Arc<Notify>,
) {
    let released = release.notified();
    tokio::pin!(released);
    let run = async {
        let addr = base.trim_start_matches("http://").trim_end_matches('/');
        let addr: std::net::SocketAddr = addr.parse().ok()?;
        let socket = TcpSocket::new_v4().ok()?;
        socket.set_recv_buffer_size(CLIENT_RCVBUF).ok()?;
        let mut stream = socket.connect(addr).await.ok()?;
        let payload = serde_json::to_vec(&body).ok()?;
        let head = format!(
            "POST /api/chat HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(&payload).await.ok()?;
        let mut seen = Vec::new();
        let mut buf = vec![0u8; SLOW_READ];
        while !contains(&seen, b"text-delta") {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        heads.fetch_add(1, Ordering::Relaxed);
        match reading {
            Reading::Stalled => std::future::pending::<()>().await,
            Reading::Slow => loop {
                let n = stream.read(&mut buf).await.ok()?;
                if n == 0 {
                    return None;
                }
                let pause = Duration::from_secs_f64(n as f64 / SLOW_BYTES_PER_S as f64);
                tokio::time::sleep(pause).await;
            },
        }
        Some(())
    };
    tokio::select! {
        _ = &mut released => {}
        _ = run => {}
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The clean twin: the healthy streams alone, each one's median chunk transit (µs).
async fn healthy_transit(env: &Env<'_>, base: &str, tag: &str) -> Vec<f64> {
    let sends = healthy_sends(env.http.clone(), base.to_owned(), tag.to_owned()).await;
    transit(&env.timelines, &sends).await
}

/// [`HEALTHY`] healthy streams at once, read to their ends.
async fn healthy_sends(http: reqwest::Client, base: String, tag: String) -> Vec<(String, Sent)> {
    let sends = (0..HEALTHY).map(|i| {
        let tag = format!("{tag}{i}");
        let d = chat::directive(Scenario::Text, &tag, HEALTHY_CHUNKS, HEALTHY_GAP_MS);
        let (http, base, body) = (http.clone(), base.clone(), chat::body(&d));
        async move { (tag, chat::send(&http, &base, &body, HEAD_LIMIT * 3).await) }
    });
    futures::future::join_all(sends).await
}

/// Whether the last quarter of the watch still added memory: growth at the end of the watch
/// minus growth at three quarters, against the peak growth.
fn still_growing(samples: &[(Duration, u64)], baseline: u64, watched: Duration) -> bool {
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(baseline);
    let growth = peak.saturating_sub(baseline) as f64;
    if growth <= 0.0 {
        return false;
    }
    let three_quarters = watched.mul_f64(0.75);
    let before = samples
        .iter()
        .filter(|s| s.0 <= three_quarters)
        .map(|s| s.1)
        .max()
        .unwrap_or(baseline);
    (peak.saturating_sub(before) as f64) > growth * STILL_GROWING_SHARE
}

/// The change of the healthy streams' median inter-delta time against the clean twin (µs),
/// and its percentile-bootstrap interval (both groups resampled).
fn change_of_medians(faulted: &[f64], clean: &[f64]) -> Option<(f64, Option<[f64; 2]>)> {
    let point = stats::median(faulted)? - stats::median(clean)?;
    if faulted.len() < 2 || clean.len() < 2 {
        return Some((point, None));
    }
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut diffs: Vec<f64> = (0..stats::BOOTSTRAP_RESAMPLES)
        .filter_map(|_| {
            let a: Vec<f64> = (0..faulted.len())
                .filter_map(|_| faulted.choose(&mut rng).copied())
                .collect();
            let b: Vec<f64> = (0..clean.len())
                .filter_map(|_| clean.choose(&mut rng).copied())
                .collect();
            Some(stats::median(&a)? - stats::median(&b)?)
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    let at = |q: f64| diffs[((q * diffs.len() as f64) as usize).min(diffs.len() - 1)];
    Some((point, Some([at(0.025), at(0.975)])))
}

/// What the backend did at its limit, from what was measured.
fn at_limit(out: &CrashOutcome, growth: u64) -> String {
    let mb = growth as f64 / 1e6;
    match (out.provider_throttled, out.memory_still_growing) {
        (Some(true), Some(false)) => format!(
            "bounded: the backend pushed back on the provider and its memory levelled off \
             (+{mb:.1} MB)"
        ),
        (Some(true), _) => format!(
            "the provider was held back (by backpressure or by a runtime too busy to read), but \
             memory still grew at the end (+{mb:.1} MB)"
        ),
        (Some(false), Some(true)) => format!(
            "unbounded: the provider was never held back ({}) and memory was still growing \
             (+{mb:.1} MB): the backend buffers what the client does not read",
            sent(out.provider_sent_fraction)
        ),
        (Some(false), _) => format!(
            "the provider was never held back ({}); the backend held what the client did not \
             read (+{mb:.1} MB at the peak)",
            sent(out.provider_sent_fraction)
        ),
        (None, _) => format!("+{mb:.1} MB at the peak"),
    }
}

/// What the provider's progress says when memory was not read (a target elsewhere).
fn pushed_back(out: &CrashOutcome) -> String {
    match out.provider_throttled {
        Some(true) => "the provider was held back: the target pushed back on it (by \
                       backpressure or by a runtime too busy to read)"
            .to_owned(),
        Some(false) => format!(
            "the provider was never held back ({}): the target took what the client did not read",
            sent(out.provider_sent_fraction)
        ),
        None => "the provider's progress was not read".to_owned(),
    }
}

/// The provider's progress in words: not being held back is not the same as having sent the
/// whole answer (a mock busy with many streams, or a reader's own pace, is slower).
fn sent(fraction: Option<f64>) -> String {
    match fraction {
        Some(f) if f >= 1.0 => "it sent every chunk".to_owned(),
        Some(f) => format!(
            "{:.0}% of the chunks sent by the end of the watch",
            f * 100.0
        ),
        None => "its progress was not read".to_owned(),
    }
}

#[cfg(test)]
#[path = "readers_tests.rs"]
mod tests;
