//! The UI message stream encoder: [`UiChunk`]s to SSE frames, and [`SseBody`], the stream of
//! frames a [`crate::ChatBackend`] hands the shell.
//!
//! One chunk is one frame is one `Bytes`: the shell writes each as its own HTTP body chunk, so
//! a frame is on the wire as soon as it is produced. Encoding a chunk makes exactly one heap
//! allocation, the frame itself: the JSON is serialised into a per-thread scratch buffer that
//! is reused, then copied once into an exactly sized frame (a `Bytes` made from a `Vec` whose
//! capacity exceeds its length would cost a second allocation for its shared header).

use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use contract::sse::DONE_FRAME;
use contract::ui_chunk::UiChunk;
use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc;

const DATA_PREFIX: &[u8] = b"data: ";
const FRAME_END: &[u8] = b"\n\n";
/// A scratch buffer that grew beyond this (one huge tool output) is released rather than kept
/// for the thread's lifetime.
const SCRATCH_KEEP_BYTES: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `data: <json>\n\n` for one chunk. serde_json escapes every line break inside strings, so
/// the JSON is always a single `data:` line.
pub fn encode_chunk(chunk: &UiChunk) -> Bytes {
    encode_frame(chunk)
}

/// [`encode_chunk`] for any value that serialises as a UI chunk does, so a backend can frame a
/// hot-path chunk from borrowed strings without building a [`UiChunk`] (rust-only's
/// `text-delta`) and still share this one encoder.
pub fn encode_frame<T: Serialize + ?Sized>(value: &T) -> Bytes {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buffer) => {
            let frame = encode_into(&mut buffer, value);
            if buffer.capacity() > SCRATCH_KEEP_BYTES {
                *buffer = Vec::new();
            }
            frame
        }
        // Only reachable if serialising re-entered the encoder; fall back to a fresh buffer.
        Err(_) => encode_into(&mut Vec::new(), value),
    })
}

fn encode_into<T: Serialize + ?Sized>(buffer: &mut Vec<u8>, value: &T) -> Bytes {
    buffer.clear();
    buffer.extend_from_slice(DATA_PREFIX);
    if serde_json::to_writer(&mut *buffer, value).is_err() {
        // Chunks hold only strings and JSON values, which always serialise; should that ever
        // change, the client still gets a well-formed error chunk rather than a broken frame.
        buffer.truncate(DATA_PREFIX.len());
        buffer.extend_from_slice(br#"{"type":"error","errorText":"cannot encode a chunk"}"#);
    }
    buffer.extend_from_slice(FRAME_END);
    Bytes::copy_from_slice(buffer)
}

/// The `data: [DONE]\n\n` frame that ends every UI message stream.
pub fn done_frame() -> Bytes {
    Bytes::from_static(DONE_FRAME)
}

/// A UI message stream, already framed: each item is one complete SSE frame, and the stream
/// ends with [`done_frame`] (the constructors taking chunks add it).
pub struct SseBody {
    frames: Pin<Box<dyn Stream<Item = Bytes> + Send>>,
}

impl std::fmt::Debug for SseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseBody").finish_non_exhaustive()
    }
}

impl SseBody {
    /// Frames produced elsewhere (a proxied sidecar stream re-framed by the caller). The
    /// stream must yield whole frames and end with `[DONE]` itself.
    pub fn from_frames(frames: impl Stream<Item = Bytes> + Send + 'static) -> Self {
        Self {
            frames: Box::pin(frames),
        }
    }

    /// Encodes each chunk as it arrives and appends `[DONE]` when the chunks end.
    pub fn from_chunks(chunks: impl Stream<Item = UiChunk> + Send + 'static) -> Self {
        let frames = chunks
            .map(|chunk| encode_chunk(&chunk))
            .chain(futures::stream::once(async { done_frame() }));
        Self::from_frames(frames)
    }

    /// A complete stream of the given chunks (tests, fixed answers).
    pub fn from_chunk_list(chunks: Vec<UiChunk>) -> Self {
        Self::from_chunks(futures::stream::iter(chunks))
    }
}

impl Stream for SseBody {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.frames.as_mut().poll_next(cx)
    }
}

/// The producing half of [`channel`]: a backend's chat task sends chunks through it.
#[derive(Debug, Clone)]
pub struct ChunkSender {
    tx: mpsc::Sender<Bytes>,
}

/// The client went away (the body stream was dropped); stop producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client disconnected")]
pub struct ClientGone;

impl ChunkSender {
    /// Encodes and sends one chunk, waiting while the client is slower than the producer.
    pub async fn send(&self, chunk: &UiChunk) -> Result<(), ClientGone> {
        self.tx
            .send(encode_chunk(chunk))
            .await
            .map_err(|_| ClientGone)
    }

    /// Sends an already-encoded frame.
    pub async fn send_frame(&self, frame: Bytes) -> Result<(), ClientGone> {
        self.tx.send(frame).await.map_err(|_| ClientGone)
    }

    /// Whether the body has been dropped (the client disconnected).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Resolves when the body is dropped.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

/// A body fed by a task: frames sent through the [`ChunkSender`] go out in order, and
/// `[DONE]` follows once every sender is dropped. `capacity` frames may wait unsent; a small
/// number keeps memory bounded when the client reads slowly.
pub fn channel(capacity: usize) -> (ChunkSender, SseBody) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let frames = receiver_stream(rx).chain(futures::stream::once(async { done_frame() }));
    (ChunkSender { tx }, SseBody::from_frames(frames))
}

fn receiver_stream(mut rx: mpsc::Receiver<Bytes>) -> impl Stream<Item = Bytes> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::sse::SseDecoder;

    #[test]
    fn a_chunk_is_one_data_line_even_with_line_breaks_in_text() {
        let frame = encode_chunk(&UiChunk::text_delta("t0", "line\nnext\r\n"));
        let text = std::str::from_utf8(&frame).unwrap();
        assert!(
            text.starts_with("data: {") && text.ends_with("}\n\n"),
            "{text}"
        );
        assert_eq!(text.matches('\n').count(), 2);
        let events = SseDecoder::new().push(&frame);
        let decoded = UiChunk::from_json(&events[0].data).unwrap();
        assert_eq!(decoded, UiChunk::text_delta("t0", "line\nnext\r\n"));
    }

    #[tokio::test]
    async fn chunk_streams_end_with_done() {
        let body = SseBody::from_chunk_list(vec![UiChunk::text_delta("t", "hi")]);
        let frames: Vec<Bytes> = body.collect().await;
        assert_eq!(frames.len(), 2);
        assert_eq!(&frames[1][..], DONE_FRAME);
    }

    #[tokio::test]
    async fn channel_reports_a_dropped_body() {
        let (tx, body) = channel(4);
        tx.send(&UiChunk::text_delta("t", "a")).await.unwrap();
        drop(body);
        assert_eq!(
            tx.send(&UiChunk::text_delta("t", "b")).await,
            Err(ClientGone)
        );
        assert!(tx.is_closed());
    }
}
