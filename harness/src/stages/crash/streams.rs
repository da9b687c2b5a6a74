//! The chats a fault run keeps in flight: sent in tasks of their own, known to be mid-answer
//! from the mock's timeline (the client's answer is read whole, so the provider's side is what
//! shows progress while they run), dropped on purpose for `client-disconnect`, abandoned when
//! the watch ends, and collected as [`Ended`].

use std::time::{Duration, Instant};

use contract::results::StreamEnd;
use contract::scenario::Directive;
use tokio::task::JoinHandle;

use super::target::Timelines;

use super::analysis::Ended;
use crate::chat::{self, Sent};

/// How often the mock's timeline is read while waiting for streams.
const POLL: Duration = Duration::from_millis(50);

/// A chat the stage sent.
#[derive(Debug)]
pub struct Stream {
    pub tag: String,
    handle: JoinHandle<Sent>,
    /// The client dropped it on purpose.
    dropped: bool,
}

impl Stream {
    /// Sends `d` to `base` in a task of its own, read to its end or `limit`.
    pub fn spawn(client: &reqwest::Client, base: &str, d: &Directive, limit: Duration) -> Self {
        let (client, base, body) = (client.clone(), base.to_owned(), chat::body(d));
        Self {
            tag: d.params.tag.clone().unwrap_or_default(),
            handle: tokio::spawn(async move { chat::send(&client, &base, &body, limit).await }),
            dropped: false,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Drops the connection now, as a client that goes away does.
    pub fn drop_now(&mut self) {
        self.handle.abort();
        self.dropped = true;
    }

    /// Abandons it without a verdict (the fault run could not go on).
    pub fn abort(&self) {
        self.handle.abort();
    }

    /// How it ended; one still open is abandoned now and counts as hung.
    pub async fn collect(self) -> Ended {
        let (end, sent) = if self.dropped {
            (StreamEnd::Dropped, None)
        } else if !self.handle.is_finished() {
            self.handle.abort();
            (StreamEnd::Hung, None)
        } else {
            let sent = self.handle.await.ok();
            (sent.as_ref().map_or(StreamEnd::Hung, chat::end_of), sent)
        };
        Ended {
            tag: self.tag,
            end,
            sent,
            requests: Vec::new(),
        }
    }
}

/// Waits until the mock has sent at least `chunks` text chunks on every one of `streams` (each
/// is then surely mid-answer); says how many did not get there within `limit`.
pub async fn wait_for_text(
    mock: &Timelines,
    streams: &[&Stream],
    chunks: usize,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let mut waiting: Vec<&str> = streams.iter().map(|s| s.tag.as_str()).collect();
    while !waiting.is_empty() {
        // One read per stream still waiting, all at once, so a pass costs one round trip.
        let reads = waiting.iter().map(|tag| mock.timeline(tag));
        let sent: Vec<bool> = futures::future::join_all(reads)
            .await
            .into_iter()
            .map(|t| t.is_ok_and(|t| t.requests.iter().any(|r| r.text_chunks().count() >= chunks)))
            .collect();
        waiting = waiting
            .into_iter()
            .zip(sent)
            .filter_map(|(tag, sent)| (!sent).then_some(tag))
            .collect();
        if !waiting.is_empty() && Instant::now() >= deadline {
            return Err(format!(
                "{} of {} streams got fewer than {chunks} text chunks from the provider within \
                 {limit:?}",
                waiting.len(),
                streams.len()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

/// Gives the provider requests of streams that died until `deadline` to end, so a request the
/// backend did not cancel shows the frames it went on sending.
pub async fn wait_provider_settled<'a>(
    mock: &Timelines,
    ended: impl Iterator<Item = &'a Ended>,
    deadline: Instant,
) {
    for e in ended.filter(|e| e.end != StreamEnd::Completed) {
        loop {
            let open = mock
                .timeline(&e.tag)
                .await
                .is_ok_and(|t| t.requests.iter().any(|r| !r.is_settled()));
            if !open || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
