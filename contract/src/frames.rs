//! The `frames` sidecar wire (docs/frames.md): many chat streams multiplexed on one long-lived
//! connection between the Rust server and a Node.js sidecar, as compact binary frames.
//!
//! Why a wire of our own: on the `sse` wire the sidecar writes the client's protocol (SSE over
//! an HTTP response, one socket write per chunk) and the Rust server relays it, so a chunk pays
//! the AI SDK's whole HTTP path plus the relay. On this one the sidecar sends each UI message
//! chunk's JSON as it is, several frames per write, and the Rust server writes the SSE.
//!
//! A frame is a 9-byte header, then its payload:
//!
//! ```text
//! kind: u8 | stream: u32 big-endian | length: u32 big-endian | payload: length bytes
//! ```
//!
//! Every error of a frame names the stream it belongs to whenever its header was read, and the
//! decoder stays in step after it (it skips the payload of a frame it refuses), so a bad frame
//! ends that one stream, never the connection's others. The JavaScript side is
//! `backends/sidecar/src/frames.mjs`, with the constants of this module generated into
//! `contract/js/contract.mjs`; `fixtures/frames/` holds bytes both sides test against.

/// Header bytes before every payload: kind (1), stream id (4), payload length (4).
pub const HEADER_LEN: usize = 9;

/// The largest payload a frame may carry. A chunk carries at most one tool's output and a
/// request at most the 1 MiB body ([`crate::MAX_BODY_BYTES`]); a longer frame is a broken peer,
/// and the decoder skips it instead of holding it (the same bound as the `sse` wire's relay).
pub const MAX_PAYLOAD: usize = 8 * 1024 * 1024;

/// What a frame says about its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// Server → sidecar: a new stream; the payload is the `useChat` request body (JSON).
    Open = 1,
    /// Sidecar → server: one UI message chunk, its JSON exactly as the SSE `data:` line carries it.
    Chunk = 2,
    /// Sidecar → server: the stream is complete (the SSE `[DONE]`); no payload.
    End = 3,
    /// Server → sidecar: the client is gone; abort the stream's provider request. No payload.
    Cancel = 4,
    /// Sidecar → server: the request was refused before any chunk; the payload is the JSON
    /// error body (`contract::api_error::ErrorBody`), as the `sse` wire's HTTP refusal carries.
    Error = 5,
    /// Server → sidecar: the stream may send this many more chunks (u32 big-endian payload):
    /// per-stream flow control, so one slow client never holds the connection (docs/frames.md).
    Credit = 6,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Open,
        Kind::Chunk,
        Kind::End,
        Kind::Cancel,
        Kind::Error,
        Kind::Credit,
    ];

    pub fn from_byte(byte: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u8 == byte)
    }

    /// The name in logs and in the generated JavaScript (`FRAME_KIND.open`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Open => "open",
            Kind::Chunk => "chunk",
            Kind::End => "end",
            Kind::Cancel => "cancel",
            Kind::Error => "error",
            Kind::Credit => "credit",
        }
    }
}

/// How many chunks a stream may have in flight before its reader has taken them: the sidecar
/// starts with this credit and the server grants more as the client's response takes chunks,
/// so a stalled client holds at most this many chunks in the server (docs/frames.md#flow-control).
pub const STREAM_WINDOW: u32 = 64;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A [`Kind::Credit`] frame's grant; `None` when the payload is not one u32.
    pub fn credit(&self) -> Option<u32> {
        let bytes: [u8; 4] = self.payload.as_slice().try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }
}

/// Why a frame (and so its stream) could not be taken. Each names its stream when the header
/// was read; the connection's other streams go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The connection ended inside a frame.
    #[error("the connection ended inside a frame ({have} of {need} bytes{})", on_stream(*.stream))]
    Truncated {
        stream: Option<u32>,
        have: usize,
        need: usize,
    },
    /// A payload longer than [`MAX_PAYLOAD`]; its bytes are skipped, not held.
    #[error("a frame of {len} bytes on stream {stream} is over the {MAX_PAYLOAD}-byte limit")]
    Oversized { stream: u32, len: usize },
    /// A frame for a stream that is not open (never opened, or already ended).
    #[error("a {kind} frame for stream {stream}, which is not open", kind = kind.name())]
    UnknownStream { stream: u32, kind: Kind },
    /// A kind byte this wire does not have; its payload is skipped.
    #[error("a frame of unknown kind {kind} on stream {stream}")]
    BadKind { stream: u32, kind: u8 },
}

impl FrameError {
    /// The stream this error ends, when it is known.
    pub fn stream(&self) -> Option<u32> {
        match self {
            FrameError::Truncated { stream, .. } => *stream,
            FrameError::Oversized { stream, .. }
            | FrameError::UnknownStream { stream, .. }
            | FrameError::BadKind { stream, .. } => Some(*stream),
        }
    }
}

fn on_stream(stream: Option<u32>) -> String {
    stream.map_or_else(String::new, |s| format!(", stream {s}"))
}

/// Appends one frame to `out`. A payload over [`MAX_PAYLOAD`] is refused, not sent.
pub fn encode(
    kind: Kind,
    stream: u32,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(FrameError::Oversized {
            stream,
            len: payload.len(),
        });
    }
    out.reserve(HEADER_LEN + payload.len());
    out.push(kind as u8);
    out.extend_from_slice(&stream.to_be_bytes());
    // Fits: checked against MAX_PAYLOAD above.
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// A [`Kind::Credit`] frame granting `chunks` more.
pub fn encode_credit(stream: u32, chunks: u32, out: &mut Vec<u8>) {
    // A 4-byte payload is always under the limit.
    let _ = encode(Kind::Credit, stream, &chunks.to_be_bytes(), out);
}

/// The incremental decoder: bytes in as they arrive, whole frames out, whatever the reads'
/// boundaries.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Where the unread bytes of `buf` start; consumed bytes are dropped in bulk.
    start: usize,
    /// Payload bytes still to drop of a refused frame.
    skipping: usize,
}

/// A consumed prefix longer than this is moved out before more bytes are appended, so the
/// buffer holds at most one frame plus one read (not every read since the last compaction).
const COMPACT_AFTER: usize = 64 * 1024;

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the bytes of one read.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.skipping > 0 {
            let skip = self.skipping.min(bytes.len());
            self.skipping -= skip;
            bytes = &bytes[skip..];
        }
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > COMPACT_AFTER {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, an error that ends one stream, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        let unread = &self.buf[self.start..];
        let header: &[u8; HEADER_LEN] = unread.get(..HEADER_LEN)?.try_into().ok()?;
        let kind_byte = header[0];
        let stream = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let len = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
        let refusal = match Kind::from_byte(kind_byte) {
            _ if len > MAX_PAYLOAD => Some(FrameError::Oversized { stream, len }),
            None => Some(FrameError::BadKind {
                stream,
                kind: kind_byte,
            }),
            Some(_) => None,
        };
        if let Some(error) = refusal {
            // Drop the header and whatever of the payload is here; skip the rest as it comes.
            let here = (unread.len() - HEADER_LEN).min(len);
            self.start += HEADER_LEN + here;
            self.skipping = len - here;
            return Some(Err(error));
        }
        if unread.len() < HEADER_LEN + len {
            return None;
        }
        let payload = unread[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.start += HEADER_LEN + len;
        let kind = Kind::from_byte(kind_byte)?;
        Some(Ok(Frame {
            kind,
            stream,
            payload,
        }))
    }

    /// The connection ended: an error if it ended inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        let unread = &self.buf[self.start..];
        if self.skipping == 0 && unread.is_empty() {
            return Ok(());
        }
        if self.skipping > 0 {
            // Inside a refused frame: its error was already reported.
            return Ok(());
        }
        let stream = unread
            .get(1..5)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let need = unread.get(5..HEADER_LEN).map_or(HEADER_LEN, |b| {
            HEADER_LEN + u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        });
        Err(FrameError::Truncated {
            stream,
            have: unread.len(),
            need,
        })
    }
}

#[cfg(test)]
mod tests;
