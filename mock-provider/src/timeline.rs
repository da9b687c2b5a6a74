//! Where the timeline is kept while the provider runs.
//!
//! Each request gets its own record behind its own lock, so a stream writing its chunk times
//! never contends with another stream; the store's lock is only taken to add a request, to
//! read and to clear. The store keeps at most `capacity` requests (oldest dropped first) and can
//! be cleared, so a long benchmark does not grow memory without bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use contract::clock::monotonic_ns;
use contract::timeline::{ChunkKind, ChunkSend, Outcome, RequestTimeline, Timeline, TokenUsage};
use tokio::sync::Notify;

/// The provider's timeline; cheap to clone, every clone sees the same requests.
#[derive(Debug, Clone)]
pub struct TimelineStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    requests: Mutex<VecDeque<Arc<Mutex<RequestTimeline>>>>,
    next_id: AtomicU64,
    capacity: usize,
    /// Signalled whenever a request settles.
    settled: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Records are plain data: a panic elsewhere cannot leave one half-written in a way that
    // matters more than losing the whole timeline would.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TimelineStore {
    pub fn new(capacity: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                requests: Mutex::new(VecDeque::new()),
                next_id: AtomicU64::new(1),
                capacity: capacity.max(1),
                settled: Notify::new(),
            }),
        }
    }

    /// Starts the record of a request that arrived at `arrival_ns`.
    pub fn begin(&self, arrival_ns: u64) -> Recorder {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let record = Arc::new(Mutex::new(RequestTimeline {
            id,
            scenario: None,
            tag: None,
            step: 0,
            stream: false,
            status: 0,
            arrival_ns,
            chunks: Vec::new(),
            end_ns: None,
            client_gone_ns: None,
            outcome: Outcome::InProgress,
            usage: None,
            error: None,
        }));
        let mut requests = lock(&self.shared.requests);
        while requests.len() >= self.shared.capacity {
            requests.pop_front();
        }
        requests.push_back(Arc::clone(&record));
        Recorder {
            id,
            record,
            store: self.clone(),
        }
    }

    /// A copy of every request kept, or of those tagged `tag`.
    pub fn snapshot(&self, tag: Option<&str>) -> Timeline {
        let records: Vec<_> = lock(&self.shared.requests).iter().cloned().collect();
        // Filtered before copying: a record holds every chunk's times, and `?tag=` usually
        // picks a few requests out of many.
        let requests = records
            .iter()
            .filter_map(|r| {
                let record = lock(r);
                tag.is_none_or(|t| record.tag.as_deref() == Some(t))
                    .then(|| record.clone())
            })
            .collect();
        Timeline { requests }
    }

    /// Forgets every request, or those tagged `tag`; returns how many were forgotten. Requests
    /// still in progress are forgotten too (their streams go on, unrecorded).
    pub fn clear(&self, tag: Option<&str>) -> usize {
        let mut requests = lock(&self.shared.requests);
        let before = requests.len();
        match tag {
            None => requests.clear(),
            Some(t) => requests.retain(|r| lock(r).tag.as_deref() != Some(t)),
        }
        before - requests.len()
    }

    /// Waits until no kept request is in progress, or `timeout` passes; returns whether it
    /// settled. Lets a test read the record of a stream the client just dropped.
    pub async fn wait_settled(&self, timeout: Duration) -> bool {
        let all_settled = || {
            let records: Vec<_> = lock(&self.shared.requests).iter().cloned().collect();
            records.iter().all(|r| lock(r).is_settled())
        };
        tokio::time::timeout(timeout, async {
            loop {
                let notified = self.shared.settled.notified();
                if all_settled() {
                    return;
                }
                notified.await;
            }
        })
        .await
        .is_ok()
    }
}

/// The writing end of one request's record.
#[derive(Debug)]
pub struct Recorder {
    id: u64,
    record: Arc<Mutex<RequestTimeline>>,
    store: TimelineStore,
}

impl Recorder {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Changes the record under its lock.
    pub fn update(&self, f: impl FnOnce(&mut RequestTimeline)) {
        f(&mut lock(&self.record));
    }

    pub fn chunk(&self, kind: ChunkKind, scheduled_ns: u64, sent_ns: u64) {
        lock(&self.record).chunks.push(ChunkSend {
            kind,
            scheduled_ns,
            sent_ns,
        });
    }

    pub fn set_usage(&self, usage: TokenUsage) {
        lock(&self.record).usage = Some(usage);
    }

    /// Ends the record with `outcome` at `end_ns`, unless it has ended already.
    pub fn finish(&self, outcome: Outcome, end_ns: u64) {
        {
            let mut record = lock(&self.record);
            if record.is_settled() {
                return;
            }
            record.outcome = outcome;
            record.end_ns = Some(end_ns);
            if outcome == Outcome::ClientGone {
                record.client_gone_ns = Some(end_ns);
            }
        }
        self.store.shared.settled.notify_waiters();
    }

    /// Rejects the request with an HTTP error `status` and the reason given to the client.
    pub fn reject(&self, status: u16, reason: &str) {
        self.update(|r| {
            r.status = status;
            r.error = Some(reason.to_owned());
        });
        self.finish(Outcome::Rejected, monotonic_ns());
    }
}

impl Drop for Recorder {
    /// A record dropped before it ended belongs to a request whose future was dropped: the
    /// client went away (or the server shut down) while the answer was still being prepared.
    fn drop(&mut self) {
        self.finish(Outcome::ClientGone, monotonic_ns());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_capacity_requests_and_filters_by_tag() {
        let store = TimelineStore::new(2);
        for tag in ["a", "b", "a"] {
            let r = store.begin(monotonic_ns());
            r.update(|t| t.tag = Some(tag.into()));
            r.finish(Outcome::Completed, monotonic_ns());
        }
        let all = store.snapshot(None);
        assert_eq!(all.requests.len(), 2);
        assert_eq!(all.requests[0].id, 2, "the oldest request went first");
        assert_eq!(store.snapshot(Some("a")).requests.len(), 1);
        assert_eq!(store.clear(Some("b")), 1);
        assert_eq!(store.clear(None), 1);
        assert!(store.snapshot(None).requests.is_empty());
    }

    #[test]
    fn a_dropped_recorder_means_the_client_went_away() {
        let store = TimelineStore::new(10);
        drop(store.begin(monotonic_ns()));
        let done = store.begin(monotonic_ns());
        done.finish(Outcome::Completed, monotonic_ns());
        drop(done);
        let t = store.snapshot(None);
        assert_eq!(t.requests[0].outcome, Outcome::ClientGone);
        assert!(t.requests[0].client_gone_ns.is_some());
        assert_eq!(t.requests[1].outcome, Outcome::Completed);
        assert_eq!(t.requests[1].client_gone_ns, None);
    }
}
