//! UI message stream frames: one `data: <json>\n\n` per chunk, built in a single buffer.
//!
//! The hot path is the text delta, one per provider chunk. [`text_delta`] serialises it from
//! borrowed strings straight into the frame's buffer, sized up front, so a delta costs exactly
//! one allocation: the frame the response body sends. Every other chunk goes through
//! [`contract::ui_chunk::UiChunk`]; a test pins the fast path to the contract's serialisation.

use bytes::Bytes;
use contract::ui_chunk::UiChunk;
use serde::Serialize;

const PREFIX: &[u8] = b"data: ";
const SUFFIX: &[u8] = b"\n\n";
/// `{"type":"text-delta","id":"","delta":""}`: the fixed part of a text-delta's JSON.
const TEXT_DELTA_OVERHEAD: usize = 40;
/// Room for escapes (quotes, backslashes, control characters) before the buffer has to grow.
const ESCAPE_SLACK: usize = 16;
/// A typical non-delta chunk fits without growing.
const CHUNK_CAPACITY: usize = 128;

/// The frame of any chunk.
pub fn chunk(chunk: &UiChunk) -> Bytes {
    let mut buf = Vec::with_capacity(CHUNK_CAPACITY);
    buf.extend_from_slice(PREFIX);
    write_json(&mut buf, chunk);
    buf.extend_from_slice(SUFFIX);
    Bytes::from(buf)
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
    let capacity =
        PREFIX.len() + TEXT_DELTA_OVERHEAD + id.len() + delta.len() + ESCAPE_SLACK + SUFFIX.len();
    let mut buf = Vec::with_capacity(capacity);
    buf.extend_from_slice(PREFIX);
    write_json(
        &mut buf,
        &TextDelta {
            kind: "text-delta",
            id,
            delta,
        },
    );
    buf.extend_from_slice(SUFFIX);
    Bytes::from(buf)
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
    fn a_plain_delta_never_grows_its_buffer() {
        let delta = "a typical token";
        let frame = text_delta("aBcDeFgHiJkLmNoP", delta);
        let expected = PREFIX.len() + TEXT_DELTA_OVERHEAD + 16 + delta.len() + SUFFIX.len();
        assert_eq!(frame.len(), expected);
    }

    #[test]
    fn frames_end_with_a_blank_line_and_done_is_the_sentinel() {
        let frame = chunk(&UiChunk::StartStep);
        assert_eq!(&frame[..], b"data: {\"type\":\"start-step\"}\n\n");
        assert_eq!(&done()[..], b"data: [DONE]\n\n");
    }
}
