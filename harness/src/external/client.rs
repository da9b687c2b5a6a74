//! The harness's own client against a target it did not start: conversations one at a time,
//! and open-loop arrivals at a fixed rate (evenly spaced, TTFT from each scheduled start, as
//! the bench's sweeps and the Locust workers take it). Everything here reads the client's own
//! clock; joining with the mock's clock is [`super::measure`]'s business.

use std::time::Duration;

use contract::clock::monotonic_ns;
use contract::scenario::{Directive, Scenario};
use hdrhistogram::Histogram;
use sut_kit::client;
use sut_kit::mock::expected_chunks;

use crate::stages::bench::observe::{Observation, StreamKind};
use crate::stats;

/// The bench's latency workload (docs/bench.md#workload): 20 chunks, 20 ms to the first, 10 ms
/// apart, so an external target's figures read beside the bench's own.
pub const CHUNKS: u32 = 20;
pub const TTFT_MS: u64 = 20;
pub const GAP_MS: u64 = 10;

/// The bench's `text` conversation, tagged.
pub fn text_directive(tag: &str) -> Directive {
    let mut d = Directive::new(Scenario::Text);
    d.params.chunks = CHUNKS;
    d.params.ttft_ms = TTFT_MS;
    d.params.gap_ms = GAP_MS;
    if !tag.is_empty() {
        d.params.tag = Some(tag.to_owned());
    }
    d
}

/// `POST {base}/api/chat` opening a conversation whose user message is `text`.
pub fn chat_request(http: &reqwest::Client, base: &str, text: &str) -> reqwest::RequestBuilder {
    http.post(format!("{base}/api/chat"))
        .json(&serde_json::json!({
            "id": "external",
            "trigger": "submit-message",
            "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}],
        }))
}

/// What a set of conversations gave, on the client's clock (nanoseconds).
#[derive(Debug)]
pub struct ClientSamples {
    pub conversations: u64,
    pub errors: u64,
    pub lost_chunks: u64,
    pub reordered_chunks: u64,
    /// First text − send (one at a time) or − scheduled start (open loop).
    pub ttft: Histogram<u64>,
    pub e2e: Histogram<u64>,
    /// Gap between consecutive text chunks as received.
    pub gap: Histogram<u64>,
}

impl Default for ClientSamples {
    fn default() -> Self {
        Self {
            conversations: 0,
            errors: 0,
            lost_chunks: 0,
            reordered_chunks: 0,
            ttft: stats::histogram(),
            e2e: stats::histogram(),
            gap: stats::histogram(),
        }
    }
}

impl ClientSamples {
    /// Adds another set's conversations and samples (histograms merge; nothing is averaged).
    pub fn merge(&mut self, other: Self) {
        self.conversations += other.conversations;
        self.errors += other.errors;
        self.lost_chunks += other.lost_chunks;
        self.reordered_chunks += other.reordered_chunks;
        // Both were made by `stats::histogram` (auto-resizing): adding cannot fail.
        let _ = self.ttft.add(&other.ttft);
        let _ = self.e2e.add(&other.e2e);
        let _ = self.gap.add(&other.gap);
    }

    /// Adds one conversation, timed from `start_ns` (its send, or its scheduled start).
    pub fn add(&mut self, seen: &Observation, start_ns: u64, d: &Directive) {
        self.conversations += 1;
        if !seen.completed() {
            self.errors += 1;
            return;
        }
        if let Some((first, _)) = seen.texts.first() {
            stats::record(&mut self.ttft, first.saturating_sub(start_ns));
        }
        if let Some(done) = seen.done_ns {
            stats::record(&mut self.e2e, done.saturating_sub(start_ns));
        }
        for pair in seen.texts.windows(2) {
            stats::record(&mut self.gap, pair[1].0.saturating_sub(pair[0].0));
        }
        if let Some(expected) = expected_chunks(d) {
            self.lost_chunks += expected.len().saturating_sub(seen.texts.len()) as u64;
            self.reordered_chunks += seen
                .texts
                .iter()
                .enumerate()
                .filter(|(k, (_, t))| expected.get(*k) != Some(t) && expected.contains(t))
                .count() as u64;
        }
    }
}

/// One conversation against `base`: the client's observation of it.
pub async fn converse(http: &reqwest::Client, base: &str, d: &Directive) -> Observation {
    match client::exchange(chat_request(http, base, &d.render())).await {
        Ok(answer) => Observation::read(&answer, StreamKind::UiMessages),
        Err(e) => Observation {
            failure: Some(format!("{e:#}")),
            ..Observation::default()
        },
    }
}

/// `rate` conversations per second for `seconds`, evenly spaced, each timed from its scheduled
/// start (a client that fell behind cannot hide the wait it caused).
pub async fn open_loop(
    http: &reqwest::Client,
    base: &str,
    tag: &str,
    rate: f64,
    seconds: f64,
) -> ClientSamples {
    let count = (rate * seconds).round().max(1.0) as u64;
    let interval_ns = (1e9 / rate) as u64;
    let start_ns = monotonic_ns();
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..count {
        let offset = Duration::from_nanos(k * interval_ns);
        tokio::time::sleep_until(start + offset).await;
        let scheduled_ns = start_ns + k * interval_ns;
        let (http, base) = (http.clone(), base.to_owned());
        let d = text_directive(&format!("{tag}.{k}"));
        tasks.spawn(async move {
            let seen = converse(&http, &base, &d).await;
            (seen, scheduled_ns, d)
        });
    }
    let mut samples = ClientSamples::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((seen, scheduled_ns, d)) => samples.add(&seen, scheduled_ns, &d),
            Err(_) => {
                samples.conversations += 1;
                samples.errors += 1;
            }
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(texts: &[(u64, &str)], done: Option<u64>) -> Observation {
        Observation {
            sent_ns: 1_000,
            texts: texts.iter().map(|(t, s)| (*t, (*s).to_owned())).collect(),
            done_ns: done,
            failure: None,
        }
    }

    #[test]
    fn gaps_lost_and_reordered_chunks_are_counted_from_what_arrived() {
        let mut d = text_directive("t");
        d.params.chunks = 3;
        let words = expected_chunks(&d).unwrap();
        let mut s = ClientSamples::default();
        // Second and third arrive swapped, and nothing is lost.
        s.add(
            &seen(
                &[(3_000, &words[0]), (5_000, &words[2]), (9_000, &words[1])],
                Some(10_000),
            ),
            1_000,
            &d,
        );
        assert_eq!((s.conversations, s.errors, s.lost_chunks), (1, 0, 0));
        assert_eq!(s.reordered_chunks, 2);
        assert_eq!(s.ttft.value_at_quantile(0.5), 2_000);
        assert_eq!(s.gap.len(), 2);
        assert_eq!(s.gap.max(), s.gap.highest_equivalent(4_000));
        // One chunk missing: lost, not reordered.
        s.add(&seen(&[(3_000, &words[0])], Some(4_000)), 1_000, &d);
        assert_eq!(s.lost_chunks, 2);
        let mut failed = seen(&[], None);
        failed.failure = Some("HTTP 500".into());
        s.add(&failed, 0, &d);
        assert_eq!((s.conversations, s.errors), (3, 1));
    }
}
