//! What the mock provider's record says during a reader fault: how far the affected answers
//! got and whether they were held back, and the healthy streams' chunk transit. Read over
//! HTTP ([`Timelines`]), so the same code serves the stage's own mock and the mock a target
//! elsewhere was pointed at; the figures that subtract the mock's clock from this machine's
//! are read only when the two share it (docs/distributed.md#soak-and-crash-against-a-target).

use std::time::Duration;

use contract::results::StreamEnd;

use super::target::Timelines;
use crate::chat::{self, Sent};
use crate::stats;

/// An affected provider request was held back when, at the end of the hold, it had not sent
/// all its text and had sent nothing for this long: its frames are all due at once, and the
/// mock sends a due frame within milliseconds whenever its socket takes one, so a second of
/// silence on an open connection means the socket did not. (A share sent below 100% alone
/// does not tell: a mock busy with 100 streams is slower than the backend, seen with
/// async-openai's unbounded reader, which took everything the mock managed to send.)
pub(super) const HELD_FOR: Duration = Duration::from_secs(1);
/// Each completed stream's median chunk transit (µs): the client's receipt of its k-th delta
/// minus the mock's send of its k-th text chunk (one clock, `CLOCK_MONOTONIC`); none when the
/// mock does not share the clock.
pub(super) async fn transit(mock: &Timelines, sends: &[(String, Sent)]) -> Vec<f64> {
    let mut medians = Vec::new();
    if !mock.shared_clock {
        return medians;
    }
    for (tag, sent) in sends {
        if chat::end_of(sent) != StreamEnd::Completed {
            continue;
        }
        let Ok(answer) = sent.answer.as_ref() else {
            continue;
        };
        let Ok(t) = mock.timeline(tag).await else {
            continue;
        };
        let provider: Vec<u64> = t
            .requests
            .iter()
            .flat_map(|r| r.text_chunks().map(|c| c.sent_ns))
            .collect();
        let hops: Vec<f64> = chat::delta_times(answer)
            .iter()
            .zip(&provider)
            .map(|(got, sent)| got.saturating_sub(*sent) as f64 / 1e3)
            .collect();
        medians.extend(stats::median(&hops));
    }
    medians
}

/// Affected streams whose provider progress is read: each timeline holds up to 10^5 chunk
/// records, so reading all 100 would cost the mock more than the fault did.
const PROGRESS_SAMPLE: u32 = 10;

/// Median of the provider's sent share of each affected request's text at this moment, and
/// whether most of them were held back ([`HELD_FOR`]), over the first [`PROGRESS_SAMPLE`]
/// affected streams.
pub(super) async fn provider_progress(
    mock: &Timelines,
    tag: &str,
    n: u32,
    chunks: u32,
) -> (Option<f64>, Option<bool>) {
    if !mock.shared_clock {
        return provider_progress_counted(mock, tag, n, chunks).await;
    }
    let mut shares = Vec::new();
    let mut held = 0;
    for i in 0..n.min(PROGRESS_SAMPLE) {
        let now = contract::clock::monotonic_ns();
        let Ok(t) = mock.timeline(&format!("{tag}.a{i}")).await else {
            return (None, None);
        };
        let sends: Vec<u64> = t
            .requests
            .iter()
            .flat_map(|r| r.text_chunks().map(|c| c.sent_ns))
            .collect();
        if held_back(&sends, chunks, now) {
            held += 1;
        }
        shares.push(sends.len() as f64 / f64::from(chunks.max(1)));
    }
    let throttled = (!shares.is_empty()).then(|| held * 2 > shares.len());
    (stats::median(&shares), throttled)
}

/// [`provider_progress`] for a mock on another clock: its send times do not subtract from
/// this machine's, so each sampled answer's frames are counted twice, [`HELD_FOR`] apart, and
/// an incomplete answer that sent nothing between the counts was held back.
async fn provider_progress_counted(
    mock: &Timelines,
    tag: &str,
    n: u32,
    chunks: u32,
) -> (Option<f64>, Option<bool>) {
    let count = || async {
        let tags: Vec<String> = (0..n.min(PROGRESS_SAMPLE))
            .map(|i| format!("{tag}.a{i}"))
            .collect();
        let reads = tags.iter().map(|t| mock.timeline(t));
        let mut counts = Vec::new();
        for t in futures::future::join_all(reads).await {
            let t = t.ok()?;
            counts.push(
                t.requests
                    .iter()
                    .map(|r| r.text_chunks().count())
                    .sum::<usize>(),
            );
        }
        Some(counts)
    };
    let (Some(first), _) = (count().await, tokio::time::sleep(HELD_FOR).await) else {
        return (None, None);
    };
    let Some(second) = count().await else {
        return (None, None);
    };
    let whole = chunks.max(1) as usize;
    let held = first
        .iter()
        .zip(&second)
        .filter(|&(a, b)| b < &whole && a == b)
        .count();
    let shares: Vec<f64> = second.iter().map(|&c| c as f64 / whole as f64).collect();
    let throttled = (!shares.is_empty()).then(|| held * 2 > shares.len());
    (stats::median(&shares), throttled)
}

/// An incomplete answer whose last frame went out [`HELD_FOR`] or more before `now`.
pub(super) fn held_back(sends: &[u64], chunks: u32, now: u64) -> bool {
    let complete = sends.len() >= chunks as usize;
    let last = sends.iter().copied().max().unwrap_or(0);
    !complete && now.saturating_sub(last) >= HELD_FOR.as_nanos() as u64
}
