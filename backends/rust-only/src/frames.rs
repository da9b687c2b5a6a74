//! UI message stream frames: one `data: <json>\n\n` per chunk, built in a single buffer.
//!
//! The hot path is the text delta, one per provider chunk. [`text_delta`] serialises it from
//! borrowed strings, without building a `UiChunk`; every other chunk goes through
//! [`contract::ui_chunk::UiChunk`], and a test pins the fast path to the contract's
//! serialisation.
//!
//! A frame costs exactly one allocation: its own bytes. The JSON is written into a reused
//! per-thread scratch buffer and copied into an exactly-sized `Bytes`, because
//! `Bytes::from(Vec)` of a vector with spare capacity allocates a second, shared header.

use std::cell::RefCell;

use bytes::Bytes;
use contract::ui_chunk::UiChunk;
use serde::Serialize;

const PREFIX: &[u8] = b"data: ";
const SUFFIX: &[u8] = b"\n\n";
/// The scratch buffer starts this large; it grows to the largest frame a thread has built.
const SCRATCH_CAPACITY: usize = 1024;
/// A scratch buffer grown past this by one huge chunk (a large tool output) is released
/// instead of being kept for the thread's lifetime.
const SCRATCH_KEEP_LIMIT: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(SCRATCH_CAPACITY));
}

/// Builds one frame around the JSON of `value`.
fn frame<T: Serialize>(value: &T) -> Bytes {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            write_frame(&mut buf, value);
            let frame = Bytes::copy_from_slice(&buf);
            if buf.capacity() > SCRATCH_KEEP_LIMIT {
                *buf = Vec::with_capacity(SCRATCH_CAPACITY);
            }
            frame
        }
        // Only if serialising re-entered this function, which no chunk type does.
        Err(_) => {
            let mut buf = Vec::new();
            write_frame(&mut buf, value);
            Bytes::from(buf)
        }
    })
}

fn write_frame<T: Serialize>(buf: &mut Vec<u8>, value: &T) {
    buf.extend_from_slice(PREFIX);
    write_json(buf, value);
    buf.extend_from_slice(SUFFIX);
}

/// The frame of any chunk.
pub fn chunk(chunk: &UiChunk) -> Bytes {
    frame(chunk)
}

/// The frame of a `text-delta`, identical to `chunk(&UiChunk::text_delta(id, delta))`.
pub fn text_delta(id: &str, delta: &str) -> Bytes {
    #[derive(Serialize)]
    struct TextDelta<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        id: &'a str,
        delta: &'a str,
    }
    frame(&TextDelta {
        kind: "text-delta",
        id,
        delta,
    })
}

/// The frame that ends every UI message stream.
pub fn done() -> Bytes {
    Bytes::from_static(contract::sse::DONE_FRAME)
}

fn write_json<T: Serialize>(buf: &mut Vec<u8>, value: &T) {
    // Serialising into a Vec cannot fail for these types: every key is a string and no
    // value has a failing `Serialize` impl. An empty object keeps the frame valid regardless.
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.extend_from_slice(b"{}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::sse::SseDecoder;

    fn decode(frame: &Bytes) -> UiChunk {
        let events = SseDecoder::new().push(frame);
        assert_eq!(events.len(), 1, "one frame, one event");
        UiChunk::from_json(&events[0].data).expect("a valid chunk")
    }

    #[test]
    fn the_fast_text_delta_is_the_contract_serialisation() {
        for delta in [
            "",
            "plain",
            "quote \" back\\slash",
            "line\nbreak\r\t",
            "日本語 👋🏽 é\u{1}",
        ] {
            let fast = text_delta("0", delta);
            let reference = chunk(&UiChunk::text_delta("0", delta));
            assert_eq!(fast, reference, "{delta:?}");
            assert_eq!(decode(&fast), UiChunk::text_delta("0", delta));
        }
    }

    #[test]
    fn a_huge_frame_is_built_whole() {
        let delta = "x".repeat(3 * SCRATCH_KEEP_LIMIT);
        let frame = text_delta("0", &delta);
        assert_eq!(decode(&frame), UiChunk::text_delta("0", delta));
        assert_eq!(
            decode(&text_delta("0", "small")),
            UiChunk::text_delta("0", "small")
        );
    }

    #[test]
    fn frames_end_with_a_blank_line_and_done_is_the_sentinel() {
        let frame = chunk(&UiChunk::StartStep);
        assert_eq!(&frame[..], b"data: {\"type\":\"start-step\"}\n\n");
        assert_eq!(&done()[..], b"data: [DONE]\n\n");
    }
}
