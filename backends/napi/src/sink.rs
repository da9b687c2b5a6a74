//! The per-request chunk sink: how UI message chunks produced in JS reach the HTTP response.
//!
//! Each `/api/chat` request gets one [`ChunkSink`], a `#[napi]` class instance handed to the JS
//! chat callback. JS calls `sink.write(chunkJson)` once per UI chunk and `sink.end()` or
//! `sink.fail(message)` in `finally`. Every write goes into a bounded tokio channel whose
//! receiver is the response body, so each chunk becomes its own SSE frame as soon as the body is
//! polled: nothing is buffered beyond the channel and no promise spans the whole response.
//!
//! Start: before its first chunk JS calls `sink.accept()`, or `sink.reject(message)` when the
//! request is unusable (the AI SDK cannot convert its messages): the shell then answers 400
//! instead of a stream. A write or an ending also counts as accepting.
//!
//! Backpressure: `write` never blocks the JS thread (that would stall every other request in
//! the process). When the channel is full it returns `false` and queues nothing; JS then awaits
//! `sink.ready()` (resolves once there is room, or `false` when the client is gone) and writes
//! the same chunk again. So a slow client slows the JS reader of the provider stream, one
//! request at a time, and memory per request stays bounded by [`CHUNK_QUEUE_CAPACITY`].
//!
//! Abort: `sink.closed()` resolves `true` as soon as the client disconnects (the body is dropped
//! or the shell's cancellation token fires) or the server shuts down, and `false` when the
//! stream ended normally; JS ties its `AbortController` to it, which aborts the provider fetch.

use std::sync::{Arc, Mutex, MutexGuard};

use napi_derive::napi;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Chunks a request may have in flight between JS and the socket. A tool step emits a burst of
/// a few chunks at once and text arrives one delta per provider chunk, so 64 absorbs every burst
/// the scenarios produce while capping a stuck client's memory at 64 chunks.
pub const CHUNK_QUEUE_CAPACITY: usize = 64;

/// How the JS side ended a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// `sink.end()`: the chat function's stream completed (it may contain its own `error` chunk).
    Finished,
    /// `sink.fail(message)`, or the chat callback threw or rejected: the request's `error` chunk.
    Failed(String),
}

/// Whether JS took the request; sent once, by whichever comes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Accepted,
    /// The request is unusable: the message of the 400.
    Rejected(String),
}

/// State shared by the JS-facing sink and the Rust side that owns the request.
#[derive(Debug)]
pub struct SinkShared {
    sender: Mutex<Option<mpsc::Sender<String>>>,
    start: Mutex<Option<oneshot::Sender<Start>>>,
    ending: Mutex<Option<Ending>>,
    /// Fires when the request is over from the server's side: client gone or shutdown.
    cancel: CancellationToken,
    /// Fires once the stream has an [`Ending`], so `closed()` can resolve `false`.
    ended: CancellationToken,
}

/// Locks a mutex whose data stays valid even if a holder panicked (plain `Option`s).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SinkShared {
    /// A sink for one request and the receiving end the response body reads.
    pub fn channel(
        cancel: CancellationToken,
        start: oneshot::Sender<Start>,
    ) -> (Arc<Self>, mpsc::Receiver<String>) {
        let (sender, receiver) = mpsc::channel(CHUNK_QUEUE_CAPACITY);
        let shared = Arc::new(Self {
            sender: Mutex::new(Some(sender)),
            start: Mutex::new(Some(start)),
            ending: Mutex::new(None),
            cancel,
            ended: CancellationToken::new(),
        });
        (shared, receiver)
    }

    /// Records how the stream ended (the first ending wins) and closes the channel, so the body
    /// drains what is queued and then reads the ending.
    pub fn finish(&self, ending: Ending) {
        self.signal_start(Start::Accepted);
        {
            let mut slot = lock(&self.ending);
            if slot.is_none() {
                *slot = Some(ending);
            }
        }
        lock(&self.sender).take();
        self.ended.cancel();
    }

    /// Tells the waiting request handler whether JS took the request; only the first call counts.
    pub fn signal_start(&self, start: Start) {
        if let Some(sender) = lock(&self.start).take() {
            // The handler is gone only if the client left first; nothing to tell then.
            let _ = sender.send(start);
        }
    }

    /// Resolves once the stream has an ending.
    pub async fn ended(&self) {
        self.ended.cancelled().await;
    }

    /// The ending, once the channel is closed and drained; `None` if JS never ended the stream.
    pub fn ending(&self) -> Option<Ending> {
        lock(&self.ending).clone()
    }

    fn sender(&self) -> Option<mpsc::Sender<String>> {
        lock(&self.sender).clone()
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
            || lock(&self.sender)
                .as_ref()
                .is_some_and(mpsc::Sender::is_closed)
    }
}

/// The sink JS writes one request's UI chunks into.
#[napi]
#[derive(Debug)]
pub struct ChunkSink {
    shared: Arc<SinkShared>,
}

impl ChunkSink {
    pub fn new(shared: Arc<SinkShared>) -> Self {
        Self { shared }
    }
}

#[napi]
impl ChunkSink {
    /// Queues one UI chunk (its JSON text). `true`: queued. `false`: nothing was queued, because
    /// the queue is full (await `ready()` and write the same chunk again) or the stream is over
    /// (client gone, server shutting down, or already ended: `isClosed` tells).
    #[napi]
    pub fn write(&self, chunk_json: String) -> bool {
        self.shared.signal_start(Start::Accepted);
        if self.shared.cancel.is_cancelled() {
            return false;
        }
        let guard = lock(&self.shared.sender);
        match guard.as_ref() {
            Some(sender) => sender.try_send(chunk_json).is_ok(),
            None => false,
        }
    }

    /// Takes the request: the response starts (200, event stream).
    #[napi]
    pub fn accept(&self) {
        self.shared.signal_start(Start::Accepted);
    }

    /// Refuses the request before any chunk: the client gets 400 with `message`.
    #[napi]
    pub fn reject(&self, message: String) {
        self.shared.signal_start(Start::Rejected(message.clone()));
        self.shared.finish(Ending::Failed(message));
    }

    /// Resolves `true` once the queue has room for a write, `false` if the stream is over.
    #[napi]
    pub async fn ready(&self) -> bool {
        let Some(sender) = self.shared.sender() else {
            return false;
        };
        tokio::select! {
            permit = sender.reserve() => permit.is_ok(),
            () = self.shared.cancel.cancelled() => false,
            () = self.shared.ended.cancelled() => false,
        }
    }

    /// Whether writing is pointless: the client went away, the server is shutting down, or the
    /// stream has already ended.
    #[napi(getter)]
    pub fn is_closed(&self) -> bool {
        self.shared.is_cancelled() || self.shared.ending().is_some()
    }

    /// Chunks written and not yet taken by the response body (0 once the stream is over).
    #[napi(getter)]
    pub fn queued(&self) -> u32 {
        lock(&self.shared.sender).as_ref().map_or(0, |sender| {
            u32::try_from(sender.max_capacity() - sender.capacity()).unwrap_or(u32::MAX)
        })
    }

    /// Ends the stream normally: the response gets `data: [DONE]` after the queued chunks.
    #[napi]
    pub fn end(&self) {
        self.shared.finish(Ending::Finished);
    }

    /// Ends the stream with an `error` chunk carrying `message`, then `data: [DONE]`.
    #[napi]
    pub fn fail(&self, message: String) {
        self.shared.finish(Ending::Failed(message));
    }

    /// Resolves `true` when the request was aborted from the server's side (client disconnect,
    /// shutdown), `false` when the stream ended first. JS aborts its provider request on `true`.
    #[napi]
    pub async fn closed(&self) -> bool {
        let Some(sender) = self.shared.sender() else {
            return self.shared.cancel.is_cancelled();
        };
        tokio::select! {
            biased;
            () = self.shared.ended.cancelled() => false,
            () = self.shared.cancel.cancelled() => true,
            () = sender.closed() => true,
        }
    }
}

impl Drop for ChunkSink {
    /// The JS object was collected: if JS never ended the stream, the body must not wait forever.
    fn drop(&mut self) {
        if self.shared.ending().is_none() {
            self.shared.finish(Ending::Failed(
                "the chat function dropped its stream without ending it".into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_sink() -> (
        ChunkSink,
        mpsc::Receiver<String>,
        oneshot::Receiver<Start>,
        CancellationToken,
    ) {
        let cancel = CancellationToken::new();
        let (start_tx, start_rx) = oneshot::channel();
        let (shared, receiver) = SinkShared::channel(cancel.clone(), start_tx);
        (ChunkSink::new(shared), receiver, start_rx, cancel)
    }

    #[tokio::test]
    async fn a_full_queue_refuses_writes_until_the_body_reads() {
        let (sink, mut receiver, mut start, _cancel) = new_sink();
        for i in 0..CHUNK_QUEUE_CAPACITY {
            assert!(sink.write(format!("{i}")), "write {i} fits");
        }
        assert_eq!(
            start.try_recv(),
            Ok(Start::Accepted),
            "a write accepts the request"
        );
        assert_eq!(sink.queued() as usize, CHUNK_QUEUE_CAPACITY);
        assert!(
            !sink.write("overflow".into()),
            "nothing is queued past the capacity"
        );
        assert_eq!(receiver.recv().await.as_deref(), Some("0"));
        assert!(sink.ready().await, "room again");
        assert!(sink.write("next".into()));
    }

    #[tokio::test]
    async fn the_body_drains_queued_chunks_then_reads_the_first_ending() {
        let (sink, mut receiver, _start, _cancel) = new_sink();
        assert!(sink.write("a".into()));
        sink.fail("boom".into());
        sink.end();
        assert!(!sink.write("late".into()), "no write after the ending");
        assert!(sink.is_closed());
        assert_eq!(receiver.recv().await.as_deref(), Some("a"));
        assert_eq!(receiver.recv().await, None);
        assert_eq!(sink.shared.ending(), Some(Ending::Failed("boom".into())));
        assert!(!sink.closed().await, "an ended stream was not aborted");
    }

    #[tokio::test]
    async fn a_dropped_body_or_a_cancel_is_an_abort() {
        let (sink, receiver, _start, _cancel) = new_sink();
        drop(receiver);
        assert!(sink.closed().await);
        assert!(sink.is_closed());
        assert!(!sink.ready().await);

        let (sink, _receiver, _start, cancel) = new_sink();
        cancel.cancel();
        assert!(sink.closed().await);
        assert!(!sink.write("x".into()), "no write after the client left");
        assert!(sink.is_closed());
    }

    #[tokio::test]
    async fn reject_answers_the_handler_and_ends_the_stream() {
        let (sink, mut receiver, start, _cancel) = new_sink();
        sink.reject("messages are unusable".into());
        assert_eq!(
            start.await,
            Ok(Start::Rejected("messages are unusable".into()))
        );
        assert_eq!(receiver.recv().await, None);
    }

    #[tokio::test]
    async fn a_sink_collected_without_an_ending_still_ends_the_stream() {
        let (sink, mut receiver, _start, _cancel) = new_sink();
        let shared = sink.shared.clone();
        drop(sink);
        assert_eq!(receiver.recv().await, None);
        assert!(matches!(shared.ending(), Some(Ending::Failed(_))));
    }
}
