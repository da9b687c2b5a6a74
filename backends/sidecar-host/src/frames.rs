//! The `frames` wire's server end (docs/frames.md): one long-lived connection per sidecar,
//! upgraded from HTTP over the transport's own endpoint (so the socket, the token and the
//! `Transport` seam are the `sse` wire's), carrying every chat stream of that sidecar as
//! [`contract::frames`] frames.
//!
//! One task reads and demultiplexes: each stream has a bounded channel of
//! [`STREAM_WINDOW`] chunks, and the sidecar may send only as many chunks as it was granted, so
//! the reader never waits for one slow client (the others go on) and a stalled client holds at
//! most one window in memory. A sidecar that overruns its grant has that one stream ended. One
//! task writes, gathering every frame queued meanwhile into one write. Dropping a stream before
//! its end (the client went away) sends `cancel`, which aborts its provider request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use contract::frames::{self, FrameDecoder, FrameError, Kind, STREAM_WINDOW};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::transport::Endpoint;

/// The protocol named in the upgrade request, as the sidecar's `FRAMES_UPGRADE`.
pub const UPGRADE_PROTOCOL: &str = "leanspec-frames";
/// The sidecar's path for the upgrade.
pub const UPGRADE_PATH: &str = "/frames";
/// A response head longer than this is not the sidecar's 101.
const HEAD_LIMIT: usize = 8 * 1024;
/// Bytes asked of the socket per read: many frames of a busy sidecar at once.
const READ_BUFFER: usize = 64 * 1024;
/// Chunks taken off a stream before its grant is renewed: half a window, so the sidecar has
/// credit left while the grant travels (docs/frames.md#flow-control).
const GRANT_EVERY: u32 = STREAM_WINDOW / 2;

/// Why a frames connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot reach the sidecar for frames: {0}")]
    Io(#[from] std::io::Error),
    #[error("the sidecar refused the frames upgrade: {0}")]
    Refused(String),
    #[error("the sidecar's answer to the frames upgrade is not an HTTP head")]
    BadHead,
}

/// Why a stream could not be opened; nothing of it reached the sidecar.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("the chat sidecar's connection is closed")]
    Closed,
}

/// What a stream's reader gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// One UI message chunk's JSON.
    Chunk(Vec<u8>),
    /// The stream is complete.
    End,
    /// Refused before any chunk: the JSON error body.
    Refused(Vec<u8>),
    /// The stream cannot go on (the connection closed, a bad frame): why.
    Broken(String),
}

struct Slot {
    /// `None` once the stream was given up (cancelled, overran, bad frame): its frames are
    /// dropped until the sidecar's `end` or `error` lets the id go.
    tx: Option<mpsc::Sender<Event>>,
}

struct Shared {
    streams: Mutex<HashMap<u32, Slot>>,
    writes: mpsc::UnboundedSender<Vec<u8>>,
    closed: CancellationToken,
    next_id: AtomicU32,
    /// Reads that brought bytes from the sidecar, whoever takes them: proof that its event loop
    /// runs, even when every client stopped reading (docs/crash.md#hang-detection).
    received: Arc<AtomicU64>,
}

impl Shared {
    fn streams(&self) -> MutexGuard<'_, HashMap<u32, Slot>> {
        // The map stays consistent at every await-free step; a panic elsewhere cannot leave it half-written.
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send(&self, kind: Kind, stream: u32, payload: &[u8]) {
        let mut frame = Vec::with_capacity(frames::HEADER_LEN + payload.len());
        if frames::encode(kind, stream, payload, &mut frame).is_ok() {
            // Fails only once the writer stopped, when the connection is gone anyway.
            let _ = self.writes.send(frame);
        }
    }

    /// Gives up stream `id` (its reader is told `why` if there is room) and cancels it.
    fn give_up(&self, id: u32, why: Option<String>) {
        if let Some(slot) = self.streams().get_mut(&id)
            && let Some(tx) = slot.tx.take()
        {
            if let Some(why) = why {
                let _ = tx.try_send(Event::Broken(why));
            }
            self.send(Kind::Cancel, id, &[]);
        }
    }
}

/// One sidecar's frames connection. Dropping the last handle closes it.
pub struct FramesConnection {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FramesConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramesConnection")
            .field("open", &self.is_open())
            .finish_non_exhaustive()
    }
}

impl Drop for FramesConnection {
    fn drop(&mut self) {
        self.shared.closed.cancel();
    }
}

impl FramesConnection {
    /// Dials `endpoint` and upgrades the connection to frames.
    /// `received` counts the reads that brought bytes from the sidecar.
    pub async fn connect<E: Endpoint>(
        endpoint: &E,
        received: Arc<AtomicU64>,
    ) -> Result<Self, ConnectError> {
        let io = endpoint.connect().await?;
        Self::upgrade_counting(io, &upgrade_request(endpoint), received).await
    }

    /// Sends the upgrade `request` on `io`, then serves frames on it.
    pub async fn upgrade(
        io: impl AsyncRead + AsyncWrite + Send + 'static,
        request: &str,
    ) -> Result<Self, ConnectError> {
        Self::upgrade_counting(io, request, Arc::default()).await
    }

    /// [`Self::upgrade`], counting into `received` the reads that brought bytes.
    pub async fn upgrade_counting(
        io: impl AsyncRead + AsyncWrite + Send + 'static,
        request: &str,
        received: Arc<AtomicU64>,
    ) -> Result<Self, ConnectError> {
        let mut io = Box::pin(io);
        io.write_all(request.as_bytes()).await?;
        let rest = read_head(&mut io).await?;
        let (reader, writer) = tokio::io::split(io);
        let (writes, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            streams: Mutex::new(HashMap::new()),
            writes,
            closed: CancellationToken::new(),
            next_id: AtomicU32::new(1),
            received,
        });
        let mut decoder = FrameDecoder::new();
        decoder.push(&rest);
        tokio::spawn(write_loop(writer, queue, shared.closed.clone()));
        tokio::spawn(read_loop(reader, decoder, shared.clone()));
        Ok(Self { shared })
    }

    /// Whether the connection still carries streams (a closed one is dialled again).
    pub fn is_open(&self) -> bool {
        !self.shared.closed.is_cancelled()
    }

    /// Opens a stream with the `useChat` request body `request`.
    pub fn open(&self, request: &[u8]) -> Result<FramesStream, OpenError> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let mut frame = Vec::with_capacity(frames::HEADER_LEN + request.len());
        frames::encode(Kind::Open, id, request, &mut frame)?;
        let (tx, rx) = mpsc::channel(STREAM_WINDOW as usize);
        self.shared.streams().insert(id, Slot { tx: Some(tx) });
        if self.shared.closed.is_cancelled() {
            // Closed before the frame could go (the reader may have emptied the table before
            // this stream went in): the sidecar never saw it.
            self.shared.streams().remove(&id);
            return Err(OpenError::Closed);
        }
        let _ = self.shared.writes.send(frame);
        Ok(FramesStream {
            id,
            rx,
            shared: self.shared.clone(),
            taken: 0,
            finished: false,
        })
    }
}

/// One stream's receiving end; dropped before its end, it cancels the stream.
pub struct FramesStream {
    id: u32,
    rx: mpsc::Receiver<Event>,
    shared: Arc<Shared>,
    /// Chunks taken since the last grant.
    taken: u32,
    finished: bool,
}

impl std::fmt::Debug for FramesStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FramesStream({})", self.id)
    }
}

impl FramesStream {
    /// The next event; after an end, a refusal or a break, `None`.
    pub async fn next(&mut self) -> Option<Event> {
        if self.finished {
            return None;
        }
        let event = self.rx.recv().await;
        self.took(event)
    }

    /// The next event if one is already here (to gather several into one write).
    pub fn next_ready(&mut self) -> Option<Event> {
        if self.finished {
            return None;
        }
        let event = self.rx.try_recv().ok()?;
        self.took(Some(event))
    }

    fn took(&mut self, event: Option<Event>) -> Option<Event> {
        match &event {
            Some(Event::Chunk(_)) => {
                self.taken += 1;
                if self.taken >= GRANT_EVERY {
                    self.shared
                        .send(Kind::Credit, self.id, &self.taken.to_be_bytes());
                    self.taken = 0;
                }
            }
            Some(_) => self.finished = true,
            None => {
                // Given up without a word (the window was overrun while full).
                self.finished = true;
                return Some(Event::Broken("the chat sidecar's stream broke off".into()));
            }
        }
        event
    }
}

impl Drop for FramesStream {
    fn drop(&mut self) {
        if !self.finished {
            self.shared.give_up(self.id, None);
        }
    }
}

pub fn upgrade_request<E: Endpoint>(endpoint: &E) -> String {
    let uri = endpoint.uri(UPGRADE_PATH);
    let host = uri
        .split_once("://")
        .map_or(uri.as_str(), |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or("sidecar");
    let authorization = endpoint
        .bearer_token()
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {UPGRADE_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\n\
         Upgrade: {UPGRADE_PROTOCOL}\r\n{authorization}\r\n"
    )
}

/// Reads the response head; returns the bytes after it (frames already sent).
async fn read_head(io: &mut (impl AsyncRead + Unpin)) -> Result<Vec<u8>, ConnectError> {
    let mut head = Vec::with_capacity(1024);
    loop {
        if io.read_buf(&mut head).await? == 0 {
            return Err(ConnectError::Refused(
                "the connection closed before an answer".into(),
            ));
        }
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let status = String::from_utf8_lossy(&head[..end]);
            let status_line = status.lines().next().unwrap_or_default().to_owned();
            if !status_line.starts_with("HTTP/1.1 101") {
                return Err(ConnectError::Refused(status_line));
            }
            return Ok(head.split_off(end + 4));
        }
        if head.len() > HEAD_LIMIT {
            return Err(ConnectError::BadHead);
        }
    }
}

async fn write_loop(
    mut writer: impl AsyncWrite + Unpin,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    closed: CancellationToken,
) {
    loop {
        let mut batch = tokio::select! {
            _ = closed.cancelled() => break,
            next = queue.recv() => match next { Some(frame) => frame, None => break },
        };
        while let Ok(more) = queue.try_recv() {
            batch.extend_from_slice(&more);
        }
        if let Err(e) = writer.write_all(&batch).await {
            tracing::warn!("frames: cannot write to the chat sidecar: {e}");
            break;
        }
    }
    closed.cancel();
    let _ = writer.shutdown().await;
}

async fn read_loop(
    mut reader: impl AsyncRead + Unpin,
    mut decoder: FrameDecoder,
    shared: Arc<Shared>,
) {
    drain(&mut decoder, &shared);
    let mut buf = Vec::with_capacity(READ_BUFFER);
    let why = loop {
        buf.clear();
        let read = tokio::select! {
            _ = shared.closed.cancelled() => break "the chat sidecar's connection was closed".to_owned(),
            read = reader.read_buf(&mut buf) => read,
        };
        match read {
            Ok(0) => break "the chat sidecar closed the connection".to_owned(),
            Ok(_) => {
                shared.received.fetch_add(1, Ordering::Relaxed);
                decoder.push(&buf);
                drain(&mut decoder, &shared);
            }
            Err(e) => break format!("the chat sidecar's connection broke ({e})"),
        }
    };
    if let Err(e) = decoder.finish() {
        tracing::warn!("frames: {e}");
    }
    shared.closed.cancel();
    let streams = std::mem::take(&mut *shared.streams());
    for slot in streams.into_values() {
        if let Some(tx) = slot.tx {
            let _ = tx.try_send(Event::Broken(why.clone()));
        }
    }
}

fn drain(decoder: &mut FrameDecoder, shared: &Shared) {
    while let Some(frame) = decoder.next_frame() {
        match frame {
            Ok(frame) => route(shared, frame),
            Err(e) => {
                tracing::warn!("frames: {e}");
                if let Some(id) = e.stream() {
                    shared.give_up(id, Some(format!("the chat sidecar sent a bad frame ({e})")));
                }
            }
        }
    }
}

fn route(shared: &Shared, frame: frames::Frame) {
    let id = frame.stream;
    let event = match frame.kind {
        Kind::Chunk => Event::Chunk(frame.payload),
        Kind::End => Event::End,
        Kind::Error => Event::Refused(frame.payload),
        Kind::Open | Kind::Cancel | Kind::Credit => {
            tracing::warn!(
                "frames: a {} frame is not for the server",
                frame.kind.name()
            );
            shared.give_up(
                id,
                Some(format!(
                    "the chat sidecar sent a {} frame",
                    frame.kind.name()
                )),
            );
            return;
        }
    };
    let last = !matches!(event, Event::Chunk(_));
    let mut streams = shared.streams();
    let Some(slot) = streams.get_mut(&id) else {
        let e = FrameError::UnknownStream {
            stream: id,
            kind: frame.kind,
        };
        tracing::warn!("frames: {e}");
        return;
    };
    let overran = match &slot.tx {
        Some(tx) => matches!(tx.try_send(event), Err(mpsc::error::TrySendError::Full(_))),
        None => false,
    };
    if last {
        streams.remove(&id);
    } else if overran {
        // At the bound: the sidecar sent past its grant. This stream ends; the others go on.
        drop(streams);
        tracing::warn!("frames: stream {id} overran its window of {STREAM_WINDOW} chunks");
        shared.give_up(id, None);
    }
}

#[cfg(test)]
mod tests;
