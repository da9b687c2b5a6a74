//! What new requests get while a fault plays out: from the moment of injection, every sample
//! interval one new chat (a one-chunk `text`) and one `GET /health`, each timed and sorted into
//! what a client saw ([`ProbeOutcome`]). Chats are sent on the interval whether or not the
//! previous one answered, so a hung backend shows up as hangs rather than as a slower sampler,
//! but never more than [`MAX_CHATS_IN_FLIGHT`] at once (a tick finding that many open sends
//! nothing); health is asked in turn, one at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use contract::clock::monotonic_ns;
use contract::results::StreamEnd;
use contract::scenario::Scenario;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use sut_kit::client;

use crate::chat;

/// New chats open at once, at most. Unbounded, a chat every 10 ms outruns a single JS thread on
/// a loaded machine (measured: a debug napi build at load 12 answered nothing within 2 s), and
/// with four open the probes' own AI SDK work still starved the streams they watch (load 17).
/// Two keep sampling while one request hangs; a backend that hangs every request is sampled
/// twice per hang limit.
pub const MAX_CHATS_IN_FLIGHT: usize = 2;

/// What one new chat got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    Completed,
    StreamError,
    StreamCut,
    StreamInvalid,
    /// 503, with or without `Retry-After`.
    Unavailable {
        retry_after: bool,
    },
    Status(u16),
    Refused,
    Reset,
    /// No complete answer within the hang limit.
    Hang,
}

impl ProbeOutcome {
    /// The key in `crash.<fault>.statuses`.
    pub fn key(self) -> String {
        match self {
            Self::Completed => "200".into(),
            Self::StreamError => "stream-error".into(),
            Self::StreamCut => "stream-cut".into(),
            Self::StreamInvalid => "stream-invalid".into(),
            Self::Unavailable { retry_after: true } => "503".into(),
            Self::Unavailable { retry_after: false } => "503-without-retry-after".into(),
            Self::Status(s) => s.to_string(),
            Self::Refused => "connection-refused".into(),
            Self::Reset => "connection-reset".into(),
            Self::Hang => "hang".into(),
        }
    }
}

/// One new chat: when it was sent and answered (`CLOCK_MONOTONIC`), and what it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub sent_ns: u64,
    pub answered_ns: u64,
    pub outcome: ProbeOutcome,
}

/// One `GET /health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSample {
    pub sent_ns: u64,
    pub answered_ns: u64,
    /// HTTP status; `None` when no answer came (refused, reset, hang).
    pub status: Option<u16>,
}

impl HealthSample {
    pub fn ok(&self) -> bool {
        self.status == Some(200)
    }
}

/// Everything sampled.
#[derive(Debug, Default)]
pub struct Samples {
    pub probes: Vec<Probe>,
    pub health: Vec<HealthSample>,
}

/// Where and how to sample.
#[derive(Debug, Clone)]
pub struct Target {
    pub client: reqwest::Client,
    pub base: String,
    /// Every probe chat carries this tag.
    pub tag: String,
    pub interval: Duration,
    pub hang_after: Duration,
}

/// The sampler while it runs.
#[derive(Debug)]
pub struct Sampler {
    stop: watch::Sender<bool>,
    chats: tokio::task::JoinHandle<Vec<Probe>>,
    health: tokio::task::JoinHandle<Vec<HealthSample>>,
    live: Arc<Live>,
}

/// The latest answers, for deciding while watching whether the backend serves again.
#[derive(Debug)]
struct Live {
    health_ok: AtomicBool,
    chat_ok: AtomicBool,
}

impl Sampler {
    pub fn start(target: Target) -> Self {
        let (stop, stopped) = watch::channel(false);
        // It served when the fault was injected.
        let live = Arc::new(Live {
            health_ok: AtomicBool::new(true),
            chat_ok: AtomicBool::new(true),
        });
        let chats = tokio::spawn(chat_loop(target.clone(), stopped.clone(), live.clone()));
        let health = tokio::spawn(health_loop(target, stopped, live.clone()));
        Self {
            stop,
            chats,
            health,
            live,
        }
    }

    /// The latest health answer was 200 and the latest chat to finish completed.
    pub fn serving(&self) -> bool {
        self.live.health_ok.load(Ordering::Relaxed) && self.live.chat_ok.load(Ordering::Relaxed)
    }

    /// Stops sending; waits for the chats in flight (each bounded by the hang limit).
    pub async fn finish(self) -> Samples {
        let _ = self.stop.send(true);
        let mut probes = self.chats.await.unwrap_or_default();
        probes.sort_by_key(|p| p.sent_ns);
        Samples {
            probes,
            health: self.health.await.unwrap_or_default(),
        }
    }
}

async fn chat_loop(
    target: Target,
    mut stopped: watch::Receiver<bool>,
    live: Arc<Live>,
) -> Vec<Probe> {
    let d = chat::directive(Scenario::Text, &target.tag, 1, 0);
    let body = Arc::new(chat::body(&d));
    let mut ticks = tokio::time::interval(target.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut running = JoinSet::new();
    let mut probes = Vec::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = ticks.tick(), if running.len() < MAX_CHATS_IN_FLIGHT => {
                let (target, body, live) = (target.clone(), body.clone(), live.clone());
                running.spawn(async move {
                    let probe = probe(&target, &body).await;
                    live.chat_ok.store(probe.outcome == ProbeOutcome::Completed, Ordering::Relaxed);
                    probe
                });
            }
            Some(Ok(p)) = running.join_next(), if !running.is_empty() => probes.push(p),
        }
    }
    while let Some(done) = running.join_next().await {
        probes.extend(done.ok());
    }
    probes
}

async fn probe(target: &Target, body: &serde_json::Value) -> Probe {
    let sent = chat::send(&target.client, &target.base, body, target.hang_after).await;
    let outcome = match &sent.answer {
        _ if sent.timed_out => ProbeOutcome::Hang,
        Err(e) if e.contains("refused") => ProbeOutcome::Refused,
        Err(_) => ProbeOutcome::Reset,
        Ok(a) if a.status == 503 => ProbeOutcome::Unavailable {
            retry_after: a.header("retry-after").is_some(),
        },
        Ok(a) if a.status != 200 => ProbeOutcome::Status(a.status),
        Ok(_) => match chat::end_of(&sent) {
            StreamEnd::Completed => ProbeOutcome::Completed,
            StreamEnd::ErrorChunk => ProbeOutcome::StreamError,
            StreamEnd::Invalid => ProbeOutcome::StreamInvalid,
            _ => ProbeOutcome::StreamCut,
        },
    };
    Probe {
        sent_ns: sent.sent_ns,
        answered_ns: sent.returned_ns,
        outcome,
    }
}

async fn health_loop(
    target: Target,
    mut stopped: watch::Receiver<bool>,
    live: Arc<Live>,
) -> Vec<HealthSample> {
    let url = format!("{}/health", target.base);
    let mut ticks = tokio::time::interval(target.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut samples = Vec::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = ticks.tick() => {}
        }
        let sent_ns = monotonic_ns();
        let request = target.client.get(&url).timeout(target.hang_after);
        let status = client::exchange(request).await.ok().map(|a| a.status);
        live.health_ok.store(status == Some(200), Ordering::Relaxed);
        samples.push(HealthSample {
            sent_ns,
            answered_ns: monotonic_ns(),
            status,
        });
    }
    samples
}
